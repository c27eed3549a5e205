/* domprof top: the live view of every domain, layer and hot function.
 * Opens the events as record does (src/recording.c), steps the same
 * recorder, and every interval takes what the profile gained into top's
 * model (lib/top) and shows it: full screen (src/top-screen.c) at a
 * terminal, plain snapshots in batch mode. With -o the run is also
 * written as a session, exactly as record writes one. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include "../lib/collect/recorder.h"
#include "../lib/top/top.h"
#include "child.h"
#include "domprof.h"
#include "options.h"
#include "recording.h"
#include "top-screen.h"

/* -I bounds: under 100 ms the refresh costs more than it shows; over an
 * hour it is not a live view. */
#define TOP_DEFAULT_INTERVAL_MS 1000
#define TOP_MIN_INTERVAL_MS 100
#define TOP_MAX_INTERVAL_MS 3600000
/* Text snapshots in batch mode show this many rows unless -n says. */
#define TOP_BATCH_TEXT_ROWS 20
/* How long one step waits for the rings: the screen's keys are read
 * between steps, so this is the keys' latency. */
#define TOP_STEP_MS 50
/* The screen's first refresh comes this soon (or at the interval, when
 * shorter), so the view is not blank for a whole interval; batch
 * snapshots keep whole intervals. */
#define TOP_FIRST_SCREEN_MS 300
/* The agents' messages held while the screen is up (stderr would draw
 * over it), printed when it closes; past this many, only counted. */
#define TOP_HELD_MESSAGES_MAX 100

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

struct top_options {
	bool system_wide;
	pid_t pid;
	const char *events;
	uint64_t freq;
	double duration;
	uint64_t interval_ms;
	const char *sort;
	const char *output;
	struct vm_names vms;
	struct agent_options agents;
	const char *key;
	bool batch;
	int format;
	size_t limit;
	bool limit_set;
};

enum { OPT_AGENT = OPT_COMMAND_BASE, OPT_KEY, OPT_AGENT_OPTIONAL, OPT_BATCH };

static int parse_interval(const char *arg, uint64_t *ret)
{
	uint64_t v;
	if (parse_u64(arg, 10, &v) < 0 || v < TOP_MIN_INTERVAL_MS || v > TOP_MAX_INTERVAL_MS)
		return log_error("-I: '%s' is not a refresh interval in milliseconds (%d to %d)", arg, TOP_MIN_INTERVAL_MS,
				 TOP_MAX_INTERVAL_MS);
	*ret = v;
	return 0;
}

static int parse_option(int c, const char *arg, struct top_options *o)
{
	switch (c) {
	case 'a': o->system_wide = true; return 0;
	case 'p': return option_parse_pid(arg, &o->pid);
	case 'e': o->events = arg; return 0;
	case 'F': return option_parse_freq(arg, &o->freq);
	case 'd': return option_parse_duration(arg, &o->duration);
	case 'I': return parse_interval(arg, &o->interval_ms);
	case 's': o->sort = arg; return 0;
	case 'o': o->output = arg; return 0;
	case 'b': o->batch = true; return 0;
	case 'f': return option_parse_format(arg, option_table_formats, &o->format);
	case 'n': o->limit_set = true; return option_parse_limit(arg, &o->limit);
	case 'q': quiet = true; return 0;
	case OPT_VM: return option_parse_vm(arg, &o->vms);
	case OPT_AGENT:
		o->agents.agents = xrealloc(o->agents.agents, (o->agents.n + 1) * sizeof(char *));
		o->agents.agents[o->agents.n++] = (char *)arg;
		return 0;
	case OPT_KEY: o->key = arg; return 0;
	case OPT_AGENT_OPTIONAL: o->agents.optional = true; return 0;
	}
	usage("top", stderr);
	return -EINVAL;
}

static int parse_options(int argc, char **argv, struct top_options *o, struct top_query *q)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "event", required_argument, NULL, 'e' },
		{ "freq", required_argument, NULL, 'F' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'I' },
		{ "sort", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "batch", no_argument, NULL, 'b' },
		OPTION_FORMAT,
		OPTION_LIMIT,
		{ "quiet", no_argument, NULL, 'q' },
		OPTION_VM,
		{ "agent", required_argument, NULL, OPT_AGENT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "agent-optional", no_argument, NULL, OPT_AGENT_OPTIONAL },
		{ 0 },
	};
	_cleanup_free_ char *err = NULL;
	struct report_query rq = { 0 };
	int c, r;

	o->interval_ms = TOP_DEFAULT_INTERVAL_MS;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:e:F:d:I:s:o:bf:n:q", longopts, NULL)) != -1)
		if ((r = parse_option(c, optarg, o)) < 0)
			return r;
	if (optind < argc)
		return log_error("top takes no command ('%s'); give -p PID for one process, or nothing for the whole host",
				 argv[optind]);
	if (o->agents.n && !o->key)
		return log_error("--agent needs --key FILE, the key the agents were started with");
	if (o->key && !o->agents.n)
		return log_error("--key is only used with --agent NAME=ADDR");
	if (o->pid && o->system_wide)
		return log_error("give either -a or -p PID, not both");
	if (!o->pid)
		o->system_wide = true;
	if (o->format != FORMAT_TEXT && !o->batch && isatty(STDOUT_FILENO))
		return log_error("--format %s is for batch mode; add --batch", option_table_formats[o->format]);
	if (!isatty(STDOUT_FILENO))
		o->batch = true;
	if (!o->limit_set)
		o->limit = o->format == FORMAT_TEXT ? TOP_BATCH_TEXT_ROWS : 0;
	if (o->sort) {
		if ((r = report_query__parse_keys(&rq, o->sort, &err)) < 0)
			return log_error("--sort: %s", err);
		memcpy(q->keys, rq.keys, sizeof(q->keys));
		q->n_keys = rq.n_keys;
	}
	if (!o->batch && (!isatty(STDIN_FILENO) || !getenv("TERM")))
		return log_error("the full-screen view needs a terminal on standard input and TERM set; use --batch");
	return 0;
}

/* ---- the run ---- */

struct top_run {
	struct top_options *o;
	struct recorder rec;
	struct coordinator coord, *agents;
	struct top_model model;
	struct top_query query;
	struct top_screen screen;
	char hostname[256];
	char **event_names;
	enum event_unit *units;
	char *agents_text;
	uint64_t last_refresh_ns, last_samples, last_lost;
	bool csv_header_done;
	coordinator_log_fn agents_log; /* the agents' log, replaced while the screen is up */
	void *agents_log_ctx;
	struct held_message {
		bool is_error;
		char *text;
	} *held;
	size_t n_held, n_dropped;
};

static void hold_message(void *ctx, bool is_error, const char *msg)
{
	struct top_run *t = ctx;
	if (t->n_held >= TOP_HELD_MESSAGES_MAX) {
		t->n_dropped++;
		return;
	}
	t->held = xrealloc(t->held, (t->n_held + 1) * sizeof(*t->held));
	t->held[t->n_held++] = (struct held_message){ is_error, xstrdup(msg) };
}

/* Close the screen, give the agents their log back and print what they
 * said meanwhile. */
static void screen_end(struct top_run *t)
{
	top_screen__end(&t->screen);
	if (t->agents && t->agents->log == hold_message) {
		t->agents->log = t->agents_log;
		t->agents->log_ctx = t->agents_log_ctx;
	}
	for (size_t i = 0; i < t->n_held; i++) {
		if (t->agents_log)
			t->agents_log(t->agents_log_ctx, t->held[i].is_error, t->held[i].text);
		free(t->held[i].text);
	}
	if (t->n_dropped)
		log_warning("%zu more messages of the agents were not kept", t->n_dropped);
	free(t->held);
	t->held = NULL;
	t->n_held = t->n_dropped = 0;
}

static int open_recorder(struct top_run *t, const struct event_spec *events, size_t n_events, const pid_t *tids,
			 size_t n_tids)
{
	struct recorder_config cfg = {
		.events = events,
		.n_events = n_events,
		.system_wide = t->o->system_wide,
		.tids = tids,
		.n_tids = n_tids,
		.inherit = !t->o->system_wide,
	};
	_cleanup_free_ char *err = NULL;
	int r;
	if ((r = recorder__open(&t->rec, &cfg, &err)) < 0)
		return log_error_errno(r, "%s", err);
	/* The model holds profile indexes from one refresh to the next: a
	 * flush (-o) must not free and reuse them. */
	t->rec.keep_flushed = true;
	for (size_t i = 0; i < t->o->vms.n; i++)
		machine__force_vm(&t->rec.collector.machine, t->o->vms.vms[i].name, t->o->vms.vms[i].pid);
	t->event_names = xcalloc(n_events, sizeof(char *));
	t->units = xcalloc(n_events, sizeof(*t->units));
	for (size_t i = 0; i < n_events; i++) {
		t->event_names[i] = t->rec.events[i].name;
		t->units[i] = t->rec.events[i].unit;
	}
	top_model__init(&t->model, n_events);
	return 0;
}

static int create_session(struct top_run *t, int argc, char **argv)
{
	_cleanup_free_ char *args = argv_join(argc, argv);
	_cleanup_free_ char *cmdline = xasprintf("domprof %s", args);
	_cleanup_free_ char *err = NULL;
	struct session_run run = {
		.command_line = cmdline,
		.target = t->o->pid ? "pid" : "system-wide",
		.target_pid = t->o->pid,
	};
	int r = recorder__create_session(&t->rec, t->o->output, &run, &err);
	return r < 0 ? log_error_errno(r, "%s", err) : 0;
}

/* "web running, db failed (why)": the agents' states, or NULL. */
static void agents_describe(struct top_run *t)
{
	struct strbuf sb;
	free(t->agents_text);
	t->agents_text = NULL;
	if (!t->agents)
		return;
	strbuf_init(&sb);
	for (size_t i = 0; i < t->agents->n; i++) {
		const struct agent_link *l = &t->agents->links[i];
		strbuf_addf(&sb, "%s%s %s", i ? ", " : "", l->name, recording_agent_state(l->state));
		if (l->state == AGENT_FAILED && l->error)
			strbuf_addf(&sb, " (%s)", l->error);
	}
	t->agents_text = strbuf_detach(&sb);
}

static struct top_status status_now(struct top_run *t, uint64_t now, uint64_t interval_ns)
{
	uint64_t samples = recorder__samples(&t->rec), lost = recorder__lost(&t->rec);
	struct top_status st = {
		.hostname = t->hostname,
		.event_names = (const char *const *)t->event_names,
		.units = t->units,
		.elapsed_s = (double)(now - t->rec.start_ns) / 1e9,
		.interval_s = (double)interval_ns / 1e9,
		.samples = samples - t->last_samples,
		.lost = lost - t->last_lost,
		.agents = t->agents_text,
		.paused = t->screen.paused,
	};
	t->last_samples = samples;
	t->last_lost = lost;
	return st;
}

static void print_batch(struct top_run *t, const struct top_status *st)
{
	struct top_view v;
	struct strbuf sb;
	struct top_query q = t->query;
	strbuf_init(&sb);
	if (t->o->format != FORMAT_TEXT)
		q.order = TOP_ORDER_INTERVAL; /* the rows of the interval */
	top_view__build(&v, &t->model, &t->rec.profile, &q);
	if (t->o->format == FORMAT_CSV) {
		top_render__csv(&v, st, !t->csv_header_done, t->o->limit, &sb);
		t->csv_header_done = true;
	} else if (t->o->format == FORMAT_JSON) {
		top_render__json(&t->model, &t->rec.profile, &v, st, t->o->limit, &sb);
	} else {
		char **lines = NULL;
		top_render__lines(&t->model, &t->rec.profile, &v, st, TOP_SPAN_INTERVAL, 0, 0,
				  t->o->limit ? t->o->limit : SIZE_MAX, &lines);
		for (char **l = lines; *l; l++)
			strbuf_addf(&sb, "%s\n", *l);
		strbuf_addc(&sb, '\n');
		strv_free(lines);
	}
	fputs(sb.buf, stdout);
	fflush(stdout);
	strbuf_release(&sb);
	top_view__release(&v);
}

/* One refresh: the interval into the model, then shown. */
static void refresh(struct top_run *t, uint64_t now)
{
	uint64_t interval_ns = now - t->last_refresh_ns;
	struct top_status st;
	t->last_refresh_ns = now;
	top_model__update(&t->model, &t->rec.profile, interval_ns);
	agents_describe(t);
	st = status_now(t, now, interval_ns);
	if (t->o->batch)
		print_batch(t, &st);
	else
		top_screen__refresh(&t->screen, &t->model, &t->rec.profile, &t->query, &st);
}

/* Sample until q, the duration or a signal; 0, or the negative errno of
 * a session write that failed (the screen is closed first). */
static int top_loop(struct top_run *t)
{
	uint64_t interval_ns = t->o->interval_ms * 1000000ull;
	uint64_t deadline = t->o->duration > 0 ? t->rec.start_ns + (uint64_t)(t->o->duration * 1e9) : 0;
	int r;
	uint64_t due = interval_ns;
	t->last_refresh_ns = t->rec.start_ns;
	if (!t->o->batch)
		due = MIN(interval_ns, TOP_FIRST_SCREEN_MS * 1000000ull);
	while (!stop_signal) {
		uint64_t now;
		recorder__step(&t->rec, TOP_STEP_MS);
		if (t->agents)
			coordinator__poll(t->agents, &t->rec.profile);
		if ((r = recorder__flush_if_due(&t->rec)) < 0) {
			screen_end(t);
			return log_error_errno(r, "cannot write the session %s: %s; stopping. It keeps everything up to "
					       "the last flush.", t->o->output, session__error(recorder__session(&t->rec)));
		}
		now = clock_monotonic_ns();
		if (now - t->last_refresh_ns >= due) {
			refresh(t, now);
			due = interval_ns;
		}
		if (deadline && now >= deadline)
			break;
		if (t->rec.tasks_gone && !t->o->system_wide)
			break;
		if (!t->o->batch && top_screen__keys(&t->screen, &t->model, &t->rec.profile, &t->query) == TOP_SCREEN_QUIT)
			break;
	}
	return 0;
}

static int top_start(struct top_run *t, int argc, char **argv)
{
	int r;
	if (t->o->output && (r = create_session(t, argc, argv)) < 0)
		return r;
	r = t->agents ? coordinator__start_recorder(t->agents, &t->rec, &stop_signal) : recorder__start(&t->rec);
	if (r < 0)
		return log_error_errno(r, "cannot start sampling: %m");
	for (size_t i = 0; i < t->rec.collector.machine.n_warnings; i++)
		log_warning("%s", t->rec.collector.machine.warnings[i]);
	if (gethostname(t->hostname, sizeof(t->hostname)) < 0)
		snprintf(t->hostname, sizeof(t->hostname), "?");
	t->hostname[sizeof(t->hostname) - 1] = '\0';
	if (!t->o->batch && (r = top_screen__start(&t->screen)) < 0)
		return log_error_errno(r, "cannot take over the terminal (TERM=%s); use --batch", getenv("TERM"));
	if (!t->o->batch && t->agents) {
		t->agents_log = t->agents->log;
		t->agents_log_ctx = t->agents->log_ctx;
		t->agents->log = hold_message;
		t->agents->log_ctx = t;
	}
	return 0;
}

static int top_finish(struct top_run *t, bool write_failed)
{
	int r = 0;
	screen_end(t);
	recorder__stop(&t->rec);
	if (t->agents) {
		coordinator__stop(t->agents, &t->rec.profile, COORDINATOR_STOP_TIMEOUT_MS, t->rec.stop_ns);
		if (t->o->output) {
			coordinator__write_session(t->agents, recorder__session(&t->rec));
			recording_agents_report(t->agents);
		}
	}
	if (t->o->output && !write_failed) {
		if ((r = recorder__finish_session(&t->rec)) == -EBUSY)
			r = session_kept_open_warning(t->o->output);
		else if (r < 0)
			r = log_error_errno(r, "cannot write the session %s: %m. It keeps everything up to the last flush.",
					    t->o->output);
		else
			log_info("session: %s (%.2f s)", t->o->output, (double)(t->rec.stop_ns - t->rec.start_ns) / 1e9);
	}
	if (stop_signal && stop_signal != SIGINT)
		log_info("stopped by signal %d", (int)stop_signal);
	return r;
}

static void top_run__release(struct top_run *t)
{
	screen_end(t);
	if (t->agents)
		coordinator__release(t->agents);
	top_model__release(&t->model);
	recorder__release(&t->rec);
	free(t->event_names);
	free(t->units);
	free(t->agents_text);
	vm_names__release(&t->o->vms);
	free(t->o->agents.agents);
}

int cmd_top(int argc, char **argv)
{
	struct top_options o = { 0 };
	struct top_run t = { .o = &o };
	struct event_defaults defaults = { 0 };
	struct event_spec *events = NULL;
	size_t n_events = 0, n_tids = 0;
	unsigned char key[PROTO_KEY_BYTES] = { 0 };
	pid_t *tids = NULL;
	int r;

	top_query__init(&t.query);
	if ((r = parse_options(argc, argv, &o, &t.query)) < 0)
		goto out;
	if (o.key && (r = key_load(o.key, key)) < 0)
		goto out;
	defaults.freq = o.freq ? o.freq : 1000;
	if ((r = recording_parse_events(&o.events, o.system_wide, &defaults, &events, &n_events)) < 0)
		goto out;
	if (o.pid && (r = proc_threads(o.pid, &tids, &n_tids)) < 0) {
		r = log_error_errno(r, "-p %d: no such process", o.pid);
		goto out;
	}
	recording_catch_signals(on_signal);
	if ((r = open_recorder(&t, events, n_events, tids, n_tids)) < 0)
		goto out;
	if (o.agents.n) {
		t.agents = &t.coord;
		if ((r = recording_agents_prepare(t.agents, &o.agents, key, events, n_events, &defaults, NULL, &o.vms,
						  &t.rec)) < 0)
			goto out;
	}
	if ((r = top_start(&t, argc, argv)) < 0)
		goto out;
	r = top_loop(&t);
	{
		int f = top_finish(&t, r < 0);
		r = r < 0 ? r : f;
	}
out:
	top_run__release(&t);
	sodium_memzero(key, sizeof(key));
	event_list__free(events, n_events);
	free(tids);
	return r;
}

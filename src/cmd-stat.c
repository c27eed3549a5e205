/* domprof stat: count events per domain and layer, the quick first look.
 * Parses the options, picks the default events, opens the counters
 * (lib/stat), starts the command if one is given, and prints the table
 * every interval (-I) and at the end: when the duration passes, the
 * command exits, the process (-p) goes away, or a signal arrives. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/events/events.h"
#include "../lib/stat/stat.h"
#include "child.h"
#include "domprof.h"
#include "options.h"

#define RESCAN_INTERVAL_NS 1000000000ULL
#define POLL_MS 100

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }
/* Only there so that a child's exit interrupts the wait at once. */
static void on_child(int sig) { (void)sig; }

struct stat_options {
	bool system_wide;
	pid_t pid;
	const char *events;
	double duration;
	uint64_t interval_ms;
	int format; /* enum table_format */
	const char *output;
	char **command;
	struct vm_names vms;
};

static int parse_options(int argc, char **argv, struct stat_options *o)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "event", required_argument, NULL, 'e' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval-print", required_argument, NULL, 'I' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		OPTION_FORMAT,
		OPTION_VM,
		{ 0 },
	};
	int c, r = 0;
	uint64_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:e:d:I:o:qf:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->system_wide = true; break;
		case 'p': r = option_parse_pid(optarg, &o->pid); break;
		case 'e': o->events = optarg; break;
		case 'd': r = option_parse_duration(optarg, &o->duration); break;
		case 'I':
			if (parse_u64(optarg, 10, &v) < 0 || v < 10 || v > 3600000)
				r = log_error("-I: '%s' is not an interval in milliseconds (10 to 3600000)", optarg);
			o->interval_ms = v;
			break;
		case 'o': o->output = optarg; break;
		case 'q': quiet = true; break;
		case 'f': r = option_parse_format(optarg, option_table_formats, &o->format); break;
		case OPT_VM: r = option_parse_vm(optarg, &o->vms); break;
		default:
			usage("stat", stderr);
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		o->command = argv + optind;
	if (o->pid && o->command)
		return log_error("give either -p PID or a command, not both");
	if (o->pid && o->system_wide)
		return log_error("give either -a or -p PID, not both");
	if (!o->pid && !o->command)
		o->system_wide = true;
	return 0;
}

static void raise_fd_limit(void)
{
	/* One fd per CPU, event and slice, plus per VM thread: more than the
	 * default 1024 on big hosts. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_error(const struct stat_options *o, const struct event_spec *events, int r,
		      const struct stat_open_error *where)
{
	_cleanup_free_ char *why = NULL;
	if (where->event < 0) {
		if (r == -ESRCH)
			return log_error_errno(r, "-p %d: no such process", (int)where->tid);
		return log_error_errno(r, "cannot count process %d: %m", (int)where->tid);
	}
	why = event_spec__explain_error(&events[where->event], r);
	if (where->cpu >= 0)
		return log_error_errno(r, "%s (on CPU %d)", why, where->cpu);
	if (o->system_wide || where->tid != o->pid)
		return log_error_errno(r, "%s (on thread %d)", why, (int)where->tid);
	return log_error_errno(r, "%s", why);
}

static void print_result(const struct stat_options *o, const struct stat_result *r, bool *header_done, FILE *out)
{
	switch (o->format) {
	case FORMAT_TEXT:
		if (*header_done)
			fputc('\n', out);
		stat_result__print_text(r, out);
		break;
	case FORMAT_CSV:
		stat_result__print_csv(r, !*header_done, o->interval_ms > 0, out);
		break;
	case FORMAT_JSON:
		stat_result__print_json(r, o->interval_ms > 0, out);
		break;
	}
	*header_done = true;
	fflush(out);
}

static void print_warnings(struct stat_counters *s)
{
	const char *w;
	while ((w = stat_counters__next_warning(s)))
		log_warning("%s", w);
}

/* Where the counts go: stdout, or -o FILE. The file is written atomically
 * (it appears, complete, when stat ends), except with -I: then it is a log
 * to watch grow, written as the intervals come. */
struct stat_output {
	FILE *f;
	struct atomic_file file;
};

static int output_open(const struct stat_options *o, struct stat_output *out)
{
	int r;
	out->f = stdout;
	if (!o->output)
		return 0;
	if (o->interval_ms) {
		out->f = fopen(o->output, "we");
		if (!out->f) {
			out->f = stdout;
			return log_error_errno(-errno, "cannot write %s: %m", o->output);
		}
		return 0;
	}
	r = atomic_file__open(&out->file, o->output, 0666);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", o->output);
	out->f = out->file.f;
	return 0;
}

/* Finish the output: keep it when ok, else drop a file never completed. */
static int output_close(const struct stat_options *o, struct stat_output *out, bool ok)
{
	int r = 0;
	if (!out->f || out->f == stdout)
		return 0; /* never opened, or standard output */
	if (out->file.f) {
		if (!ok) {
			atomic_file__abort(&out->file);
			return 0;
		}
		r = atomic_file__commit(&out->file, true);
	} else if (fclose(out->f) != 0) {
		r = -errno;
	}
	out->f = stdout;
	return r < 0 && ok ? log_error_errno(r, "cannot write %s: %m", o->output) : 0;
}

/* The events, parsed and checked: counting events, each one opens here. */
static int parse_events(struct stat_options *o, struct event_spec **ret, size_t *ret_n)
{
	_cleanup_free_ char *err = NULL;
	int r;
	if (!o->events) {
		o->events = stat__default_events(o->system_wide);
		if (streq(o->events, STAT_DEFAULT_EVENTS_NO_PMU))
			log_info("cycles/instructions are not available here (no hardware PMU); counting cpu-clock, "
				 "context-switches and page-faults");
	}
	if ((r = event_list__parse(o->events, NULL, ret, ret_n, &err)) < 0)
		return log_error_errno(r, "%s", err);
	for (size_t i = 0; i < *ret_n; i++) {
		struct event_spec *e = &(*ret)[i];
		if (e->period_set)
			return log_error("event '%s': period and freq are for sampling; stat counts every event, drop "
					 "the /.../ terms",
					 e->name);
		r = event_spec__probe(e, o->system_wide);
		if (r < 0) {
			_cleanup_free_ char *why = event_spec__explain_error(e, r);
			return log_error_errno(r, "%s", why);
		}
	}
	return 0;
}

/* Count until the duration passes, the command exits, the process (-p)
 * goes away or a signal arrives; print each interval (-I) on the way. */
static void count(const struct stat_options *o, struct stat_counters *counters, struct child *child, FILE *out,
		  bool *header_done)
{
	uint64_t start_ns = clock_monotonic_ns(), deadline = 0, next_interval = 0, next_rescan;

	if (o->duration > 0)
		deadline = start_ns + (uint64_t)(o->duration * 1e9);
	if (o->interval_ms)
		next_interval = start_ns + o->interval_ms * 1000000ULL;
	next_rescan = start_ns + RESCAN_INTERVAL_NS;
	while (!stop_signal) {
		uint64_t now = clock_monotonic_ns(), wake = now + POLL_MS * 1000000ULL;
		struct rusage ru;

		if (child_poll(child, &ru)) {
			stat_counters__command_exited(counters, &ru);
			break;
		}
		if (o->pid && stat_counters__target_gone(counters)) {
			log_info("process %d exited", (int)o->pid);
			break;
		}
		if (deadline && now >= deadline)
			break;
		if (next_interval && now >= next_interval) {
			struct stat_result iv;
			stat_counters__read(counters, &iv, NULL);
			print_result(o, &iv, header_done, out);
			stat_result__release(&iv);
			next_interval += o->interval_ms * 1000000ULL;
			if (next_interval <= now) /* we fell behind: skip, do not burst */
				next_interval = now + o->interval_ms * 1000000ULL;
		}
		if (now >= next_rescan) {
			if (stat_counters__rescan(counters) < 0)
				log_warning("cannot look for new VM threads; new threads count as the host's");
			print_warnings(counters);
			next_rescan = now + RESCAN_INTERVAL_NS;
		}
		if (deadline)
			wake = MIN(wake, deadline);
		if (next_interval)
			wake = MIN(wake, next_interval);
		now = clock_monotonic_ns();
		if (wake > now)
			poll(NULL, 0, (int)((wake - now + 999999) / 1000000));
	}
}

/* The last interval (with -I) and the whole run. */
static int print_final(const struct stat_options *o, struct stat_counters *counters, FILE *out, bool *header_done)
{
	struct stat_result total;
	if (o->interval_ms) {
		struct stat_result iv;
		stat_counters__read(counters, &iv, &total);
		/* The last, partial interval, unless it is empty. */
		if (iv.end_s - iv.start_s >= 0.001)
			print_result(o, &iv, header_done, out);
		stat_result__release(&iv);
	} else {
		stat_counters__read(counters, NULL, &total);
	}
	if (stop_signal && !quiet)
		fprintf(stderr, "domprof: stopped by signal %d\n", (int)stop_signal);
	if (o->interval_ms && o->format == FORMAT_TEXT) {
		fprintf(out, "\n# whole run\n");
		*header_done = false;
	}
	print_result(o, &total, header_done, out);
	stat_result__release(&total);
	if (ferror(out))
		return log_error_errno(-EIO, "cannot write %s: %m", o->output ? o->output : "the output");
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	struct stat_options o = { 0 };
	struct event_spec *events = NULL;
	size_t n_events = 0;
	struct stat_counters *counters = NULL;
	struct stat_config cfg = { 0 };
	struct stat_open_error where;
	struct stat_output out = { 0 };
	struct child child = CHILD_INIT;
	struct sigaction sa = { .sa_handler = on_signal }, sc = { .sa_handler = on_child };
	bool header_done = false;
	int r;

	if ((r = parse_options(argc, argv, &o)) < 0 || (r = parse_events(&o, &events, &n_events)) < 0)
		goto out;
	if (o.pid && kill(o.pid, 0) < 0 && errno == ESRCH) {
		r = log_error_errno(-ESRCH, "-p %d: no such process", (int)o.pid);
		goto out;
	}
	if (o.command && (r = command_find(o.command[0])) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o.command[0]);
		r = 127; /* as a shell does */
		goto out;
	}
	if ((r = output_open(&o, &out)) < 0)
		goto out;
	raise_fd_limit();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sc, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.command && (r = child_prepare(o.command, &child)) < 0) {
		r = log_error_errno(r, "cannot start %s: %m", o.command[0]);
		goto out;
	}
	cfg.events = events;
	cfg.n_events = n_events;
	cfg.system_wide = o.system_wide;
	cfg.pid = o.pid;
	cfg.command = child.pid;
	cfg.forced = o.vms.vms;
	cfg.n_forced = o.vms.n;
	if ((r = stat_counters__open(&cfg, &counters, &where)) < 0) {
		r = open_error(&o, events, r, &where);
		goto out;
	}
	print_warnings(counters);
	if ((r = stat_counters__enable(counters)) < 0) {
		r = log_error_errno(r, "cannot start the counters: %m");
		goto out;
	}
	if (o.command && (r = child_start(&child)) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o.command[0]);
		r = 127;
		goto out;
	}
	count(&o, counters, &child, out.f, &header_done);
	r = print_final(&o, counters, out.f, &header_done);

out:
	stat_counters__free(counters);
	child_stop(&child);
	if (output_close(&o, &out, r == 0) < 0)
		r = -EIO;
	event_list__free(events, n_events);
	vm_names__release(&o.vms);
	if (r == 0)
		child_note_exit(&child);
	return r;
}

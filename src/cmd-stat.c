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

#define RESCAN_INTERVAL_NS 1000000000ULL
#define POLL_MS 100

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }
/* Only there so that a child's exit interrupts the wait at once. */
static void on_child(int sig) { (void)sig; }

enum stat_format { STAT_TEXT, STAT_CSV, STAT_JSON };

struct stat_options {
	bool system_wide;
	pid_t pid;
	const char *events;
	double duration;
	uint64_t interval_ms;
	enum stat_format format;
	const char *output;
	char **command;
	struct vm_force *vms;
	size_t n_vms;
};

enum { OPT_VM = 1000, OPT_FORMAT };

static int parse_vm(struct stat_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;
	if (!eq || eq == arg || !eq[1])
		return error("--vm expects NAME=PID, got '%s'", arg);
	if (parse_u64(eq + 1, 10, &v) < 0 || v == 0 || v > INT32_MAX)
		return error("--vm %s: '%s' is not a process id", arg, eq + 1);
	o->vms = xrealloc(o->vms, (o->n_vms + 1) * sizeof(*o->vms));
	o->vms[o->n_vms++] = (struct vm_force){ xstrndup(arg, eq - arg), (pid_t)v };
	return 0;
}

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
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "vm", required_argument, NULL, OPT_VM },
		{ 0 },
	};
	int c;
	uint64_t v;
	double d;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:e:d:I:o:qf:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->system_wide = true;
			break;
		case 'p':
			if (parse_u64(optarg, 10, &v) < 0 || v == 0 || v > INT32_MAX)
				return error("-p: '%s' is not a process id", optarg);
			o->pid = (pid_t)v;
			break;
		case 'e':
			o->events = optarg;
			break;
		case 'd':
			if (parse_double(optarg, &d) < 0 || !(d > 0) || d > 1e7)
				return error("-d: '%s' is not a positive number of seconds", optarg);
			o->duration = d;
			break;
		case 'I':
			if (parse_u64(optarg, 10, &v) < 0 || v < 10 || v > 3600000)
				return error("-I: '%s' is not an interval in milliseconds (10 to 3600000)", optarg);
			o->interval_ms = v;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'f':
		case OPT_FORMAT:
			if (streq(optarg, "text"))
				o->format = STAT_TEXT;
			else if (streq(optarg, "csv"))
				o->format = STAT_CSV;
			else if (streq(optarg, "json"))
				o->format = STAT_JSON;
			else
				return error("--format: '%s' is not a format; use text, csv or json", optarg);
			break;
		case OPT_VM:
			if (parse_vm(o, optarg))
				return 1;
			break;
		default:
			usage("stat", stderr);
			return 1;
		}
	}
	if (optind < argc)
		o->command = argv + optind;
	if (o->pid && o->command)
		return error("give either -p PID or a command, not both");
	if (o->pid && o->system_wide)
		return error("give either -a or -p PID, not both");
	if (!o->pid && !o->command)
		o->system_wide = true;
	return 0;
}

/* cycles and instructions where the PMU has them; else the software
 * events that tell most about a host without one. */
static const char *default_events(bool system_wide)
{
	static const char *const pmu[] = { "cycles", "instructions" };
	bool ok = true;
	for (size_t i = 0; i < ARRAY_SIZE(pmu) && ok; i++) {
		struct event_spec e;
		ok = event_spec__parse(pmu[i], NULL, &e, NULL) == 0;
		if (ok) {
			ok = event_spec__probe(&e, system_wide) == 0;
			event_spec__release(&e);
		}
	}
	if (ok)
		return "cycles,instructions,cpu-clock";
	info("cycles/instructions are not available here (no hardware PMU); counting cpu-clock, context-switches "
	     "and page-faults");
	return "cpu-clock,context-switches,page-faults";
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
			return error("-p %d: no such process", (int)where->tid);
		return error("cannot count process %d: %s", (int)where->tid, strerror(-r));
	}
	why = event_spec__explain_error(&events[where->event], r);
	if (where->cpu >= 0)
		return error("%s (on CPU %d)", why, where->cpu);
	if (o->system_wide || where->tid != o->pid)
		return error("%s (on thread %d)", why, (int)where->tid);
	return error("%s", why);
}

static void print_result(const struct stat_options *o, const struct stat_result *r, bool *header_done, FILE *out)
{
	switch (o->format) {
	case STAT_TEXT:
		if (*header_done)
			fputc('\n', out);
		stat_result__print_text(r, out);
		break;
	case STAT_CSV:
		stat_result__print_csv(r, !*header_done, o->interval_ms > 0, out);
		break;
	case STAT_JSON:
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
		warning("%s", w);
}

int cmd_stat(int argc, char **argv)
{
	struct stat_options o = { 0 };
	struct event_spec *events = NULL;
	size_t n_events = 0;
	struct stat_counters *counters = NULL;
	struct stat_config cfg = { 0 };
	struct stat_open_error where;
	struct stat_result total;
	struct child child = CHILD_INIT;
	struct sigaction sa = { .sa_handler = on_signal }, sc = { .sa_handler = on_child };
	FILE *out = stdout;
	char *err = NULL;
	uint64_t start_ns, deadline = 0, next_interval = 0, next_rescan;
	int ret, status = 0, exit_code = 0;
	bool child_done = false, header_done = false;

	if (parse_options(argc, argv, &o)) {
		exit_code = 1;
		goto out;
	}
	if (!o.events)
		o.events = default_events(o.system_wide);
	if (event_list__parse(o.events, NULL, &events, &n_events, &err) < 0) {
		exit_code = error("%s", err);
		free(err);
		goto out;
	}
	for (size_t i = 0; i < n_events; i++) {
		if (events[i].period_set) {
			exit_code = error("event '%s': period and freq are for sampling; stat counts every event, drop "
					  "the /.../ terms",
					  events[i].name);
			goto out;
		}
		ret = event_spec__probe(&events[i], o.system_wide);
		if (ret < 0) {
			_cleanup_free_ char *why = event_spec__explain_error(&events[i], ret);
			exit_code = error("%s", why);
			goto out;
		}
	}
	if (o.pid && kill(o.pid, 0) < 0 && errno == ESRCH) {
		exit_code = error("-p %d: no such process", (int)o.pid);
		goto out;
	}
	if (o.output) {
		out = fopen(o.output, "we");
		if (!out) {
			exit_code = error("cannot write %s: %s", o.output, strerror(errno));
			out = stdout;
			goto out;
		}
	}
	raise_fd_limit();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sc, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.command && (ret = command_find(o.command[0])) < 0) {
		event_list__free(events, n_events);
		error("cannot run '%s': %s", o.command[0], strerror(-ret));
		return 127; /* as a shell does */
	}
	if (o.command) {
		ret = child_prepare(o.command, &child);
		if (ret < 0) {
			exit_code = error("cannot start %s: %s", o.command[0], strerror(-ret));
			goto out;
		}
	}
	cfg.events = events;
	cfg.n_events = n_events;
	cfg.system_wide = o.system_wide;
	cfg.pid = o.pid;
	cfg.command = child.pid;
	cfg.forced = o.vms;
	cfg.n_forced = o.n_vms;
	ret = stat_counters__open(&cfg, &counters, &where);
	if (ret < 0) {
		exit_code = open_error(&o, events, ret, &where);
		goto out;
	}
	print_warnings(counters);
	ret = stat_counters__enable(counters);
	if (ret < 0) {
		exit_code = error("cannot start the counters: %s", strerror(-ret));
		goto out;
	}
	if (o.command) {
		ret = child_start(&child);
		if (ret < 0) {
			error("cannot run '%s': %s", o.command[0], strerror(-ret));
			waitpid(child.pid, NULL, 0);
			child.pid = 0;
			exit_code = 127;
			goto out;
		}
	}

	start_ns = clock_monotonic_ns();
	if (o.duration > 0)
		deadline = start_ns + (uint64_t)(o.duration * 1e9);
	if (o.interval_ms)
		next_interval = start_ns + o.interval_ms * 1000000ULL;
	next_rescan = start_ns + RESCAN_INTERVAL_NS;
	while (!stop_signal) {
		uint64_t now = clock_monotonic_ns(), wake = now + POLL_MS * 1000000ULL;
		struct rusage ru;

		if (child.pid && !child_done && wait4(child.pid, &status, WNOHANG, &ru) == child.pid) {
			child_done = true;
			stat_counters__command_exited(counters, &ru);
			break;
		}
		if (o.pid && stat_counters__target_gone(counters)) {
			info("process %d exited", (int)o.pid);
			break;
		}
		if (deadline && now >= deadline)
			break;
		if (next_interval && now >= next_interval) {
			struct stat_result iv;
			stat_counters__read(counters, &iv, NULL);
			print_result(&o, &iv, &header_done, out);
			stat_result__release(&iv);
			next_interval += o.interval_ms * 1000000ULL;
			if (next_interval <= now) /* we fell behind: skip, do not burst */
				next_interval = now + o.interval_ms * 1000000ULL;
		}
		if (now >= next_rescan) {
			if (stat_counters__rescan(counters) < 0)
				warning("cannot look for new VM threads; new threads count as the host's");
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

	if (o.interval_ms) {
		struct stat_result iv;
		stat_counters__read(counters, &iv, &total);
		/* The last, partial interval, unless it is empty. */
		if (iv.end_s - iv.start_s >= 0.001)
			print_result(&o, &iv, &header_done, out);
		stat_result__release(&iv);
	} else {
		stat_counters__read(counters, NULL, &total);
	}
	if (stop_signal && !quiet)
		fprintf(stderr, "domprof: stopped by signal %d\n", (int)stop_signal);
	if (o.interval_ms && o.format == STAT_TEXT) {
		fprintf(out, "\n# whole run\n");
		header_done = false;
	}
	print_result(&o, &total, &header_done, out);
	stat_result__release(&total);
	if (ferror(out)) {
		exit_code = error("cannot write %s: %s", o.output ? o.output : "the output", strerror(errno));
	}

out:
	stat_counters__free(counters);
	if (child.pid && !child_done) {
		if (child.go_fd >= 0)
			kill(child.pid, SIGKILL); /* never released: it is still at the barrier */
		else
			kill(child.pid, SIGTERM); /* the duration passed or a signal came in */
		waitpid(child.pid, &status, 0);
		child_done = true;
	}
	if (child.go_fd >= 0)
		close(child.go_fd);
	if (child.error_fd >= 0)
		close(child.error_fd);
	if (out != stdout && fclose(out) != 0 && !exit_code)
		exit_code = error("cannot write %s: %s", o.output, strerror(errno));
	event_list__free(events, n_events);
	for (size_t i = 0; i < o.n_vms; i++)
		free((char *)o.vms[i].name);
	free(o.vms);
	if (!exit_code && child_done && o.command && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		info("the command exited with status %d", WEXITSTATUS(status));
	return exit_code;
}

/* domprof record: sample the host (and its VMs) into a session file.
 * Opens the events, starts the command if one is given, steps the recorder
 * until the command exits, the duration passes or a signal arrives, and
 * flushes the profile into the session every second. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/collect/recorder.h"
#include "../lib/events/events.h"
#include "../lib/proto/coordinator.h"
#include "../lib/session/series.h"
#include "../lib/session/session.h"
#include "child.h"
#include "domprof.h"
#include "options.h"
#include "recording.h"

/* The loop's longest wait for the rings, and its wait when nothing tells
 * it that the command exited (no pidfd). */
#define RECORD_WAIT_MS 1000
#define RECORD_POLL_MS 100

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

struct record_options {
	bool system_wide;
	pid_t pid;
	const char *events;
	uint64_t freq, period;
	struct call_graph_option call_graph;
	double duration;
	const char *output;
	size_t ring_pages;
	char **command;
	struct vm_names vms;
	struct guest_kernel_source *guests;
	size_t n_guests;
	char **agents;
	size_t n_agents;
	const char *key;
	bool agents_optional;
	uint64_t agent_memory;
	/* --rotate: a new session every rotate_ns or rotate_bytes, in the
	 * directory -o names; --keep: how many or how much of them stay. */
	uint64_t rotate_ns, rotate_bytes;
	size_t keep_count;
	uint64_t keep_bytes;
	char *session_path; /* the session being written when rotating */
	char *output_dir;   /* -o without its trailing slashes, when rotating */
	size_t n_sessions;
};

enum {
	OPT_GUEST_KALLSYMS = OPT_COMMAND_BASE,
	OPT_GUEST_KASLR,
	OPT_GUEST_STEXT,
	OPT_AGENT,
	OPT_KEY,
	OPT_AGENT_OPTIONAL,
	OPT_AGENT_MEMORY,
	OPT_CALL_GRAPH,
	OPT_ROTATE,
	OPT_KEEP,
};

static int split_assignment(const char *opt, const char *arg, char **ret_name, char **ret_value)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return log_error("%s expects NAME=VALUE, got '%s'", opt, arg);
	*ret_name = xstrndup(arg, eq - arg);
	*ret_value = xstrdup(eq + 1);
	return 0;
}

static struct guest_kernel_source *guest_for(struct record_options *o, const char *vm)
{
	for (size_t i = 0; i < o->n_guests; i++)
		if (streq(o->guests[i].vm_name, vm))
			return &o->guests[i];
	o->guests = xrealloc(o->guests, (o->n_guests + 1) * sizeof(*o->guests));
	memset(&o->guests[o->n_guests], 0, sizeof(o->guests[0]));
	o->guests[o->n_guests].vm_name = xstrdup(vm);
	return &o->guests[o->n_guests++];
}

static int parse_hex(const char *opt, const char *s, uint64_t *ret)
{
	/* Accept "ffffffff81000000", "0x...", or a kallsyms line "ADDR T _stext". */
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	buf[strcspn(buf, " \t")] = '\0';
	if (parse_u64(buf, 16, ret) < 0)
		return log_error("%s: '%s' is not a hexadecimal address", opt, s);
	return 0;
}

/* --guest-kallsyms VM=FILE, --guest-kaslr-offset VM=HEX, --guest-stext
 * VM=HEX: the guest kernel symbols of one VM, gathered by VM name. */
static int parse_guest_option(struct record_options *o, int c, const char *arg)
{
	const char *opt = c == OPT_GUEST_KALLSYMS ? "--guest-kallsyms"
			  : c == OPT_GUEST_KASLR  ? "--guest-kaslr-offset"
						  : "--guest-stext";
	_cleanup_free_ char *name = NULL, *value = NULL;
	struct guest_kernel_source *g;
	uint64_t addr;
	int r = split_assignment(opt, arg, &name, &value);
	if (r < 0)
		return r;
	g = guest_for(o, name);
	if (c == OPT_GUEST_KALLSYMS) {
		if (access(value, R_OK) != 0)
			return log_error_errno(-errno, "--guest-kallsyms %s: %m", arg);
		free(g->file);
		g->file = value;
		value = NULL;
		return 0;
	}
	if ((r = parse_hex(opt, value, &addr)) < 0)
		return r;
	if (c == OPT_GUEST_KASLR) {
		g->kaslr_offset = addr;
		g->have_offset = true;
	} else {
		g->stext = addr;
	}
	return 0;
}

/* "256M", "1G", "65536": bytes, with an optional K/M/G (powers of 1024). */
static int parse_size(const char *s, uint64_t *ret)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	uint64_t v, unit = 1;
	if (!n || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u64(num, 10, &v) < 0)
		return -EINVAL;
	switch (s[n]) {
	case '\0': break;
	case 'k': case 'K': unit = 1ull << 10; break;
	case 'm': case 'M': unit = 1ull << 20; break;
	case 'g': case 'G': unit = 1ull << 30; break;
	default: return -EINVAL;
	}
	if (s[n] && s[n + 1] && !streq(s + n + 1, "iB") && !streq(s + n + 1, "B"))
		return -EINVAL;
	if (__builtin_mul_overflow(v, unit, ret))
		return -ERANGE;
	return 0;
}

/* Digits then K, M or G: a size (lower case m is minutes to --rotate). */
static bool is_size(const char *arg)
{
	char unit = arg[strspn(arg, "0123456789")];
	return unit && strchr("KMG", unit);
}

/* --rotate DURATION|SIZE: a duration ends in s, m, h or d (lower case, as
 * perf's --switch-output), a size in K, M or G (upper case, B or iB may
 * follow): "10m" is ten minutes, "10M" ten MiB. */
static int parse_rotate(const char *arg, struct record_options *o)
{
	static const struct {
		char unit;
		uint64_t ns;
	} units[] = { { 's', 1000000000ull }, { 'm', 60000000000ull }, { 'h', 3600000000000ull },
		      { 'd', 86400000000000ull } };
	size_t n = strlen(arg);
	for (size_t i = 0; n > 1 && i < ARRAY_SIZE(units); i++) {
		_cleanup_free_ char *num = xstrndup(arg, n - 1);
		double v;
		if (arg[n - 1] != units[i].unit)
			continue;
		if (parse_double(num, &v) < 0 || !(v >= 1.0 / 1000) || v * (double)units[i].ns > 1e18)
			break;
		o->rotate_ns = (uint64_t)(v * (double)units[i].ns);
		if (o->rotate_ns < 1000000000ull)
			return log_error("--rotate: '%s' is shorter than a second, the flush interval", arg);
		return 0;
	}
	if (is_size(arg) && parse_size(arg, &o->rotate_bytes) == 0 && o->rotate_bytes)
		return 0;
	return log_error("--rotate: '%s' is neither a duration (30s, 10m, 1h, 1d) nor a size (100M, 1G)", arg);
}

/* --keep N|SIZE: a number of sessions, or the most they may take. */
static int parse_keep(const char *arg, struct record_options *o)
{
	uint64_t v;
	if (parse_u64(arg, 10, &v) == 0 && v > 0 && v <= SIZE_MAX) {
		o->keep_count = (size_t)v;
		return 0;
	}
	if (is_size(arg) && parse_size(arg, &o->keep_bytes) == 0 && o->keep_bytes)
		return 0;
	return log_error("--keep: '%s' is neither a number of sessions (e.g. 24) nor a size (e.g. 10G)", arg);
}

static int parse_options(int argc, char **argv, struct record_options *o)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "event", required_argument, NULL, 'e' },
		{ "freq", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'c' },
		{ "call-graph", required_argument, NULL, OPT_CALL_GRAPH },
		{ "duration", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "mmap-pages", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		OPTION_VM,
		{ "guest-kallsyms", required_argument, NULL, OPT_GUEST_KALLSYMS },
		{ "guest-kaslr-offset", required_argument, NULL, OPT_GUEST_KASLR },
		{ "guest-stext", required_argument, NULL, OPT_GUEST_STEXT },
		{ "agent", required_argument, NULL, OPT_AGENT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "agent-optional", no_argument, NULL, OPT_AGENT_OPTIONAL },
		{ "agent-memory", required_argument, NULL, OPT_AGENT_MEMORY },
		{ "rotate", required_argument, NULL, OPT_ROTATE },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ 0 },
	};
	int c, r = 0;
	uint64_t v;

	o->output = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:e:F:c:gd:o:m:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->system_wide = true; break;
		case 'p': r = option_parse_pid(optarg, &o->pid); break;
		case 'e': o->events = optarg; break;
		case 'F': r = option_parse_freq(optarg, &o->freq); break;
		case 'c':
			if (parse_u64(optarg, 0, &v) < 0 || v == 0)
				r = log_error("-c: '%s' is not a positive period", optarg);
			o->period = v;
			break;
		case 'g': o->call_graph = (struct call_graph_option){ .enabled = true }; break;
		case OPT_CALL_GRAPH: r = option_parse_call_graph(optarg, &o->call_graph); break;
		case 'd': r = option_parse_duration(optarg, &o->duration); break;
		case 'o': o->output = optarg; break;
		case 'm':
			if (parse_u64(optarg, 10, &v) < 0 || v == 0 || (v & (v - 1)) || v > SAMPLER_MAX_RING_PAGES)
				r = log_error("-m: '%s' is not a power of two number of pages", optarg);
			o->ring_pages = v;
			break;
		case 'q': quiet = true; break;
		case OPT_VM: r = option_parse_vm(optarg, &o->vms); break;
		case OPT_GUEST_KALLSYMS:
		case OPT_GUEST_KASLR:
		case OPT_GUEST_STEXT: r = parse_guest_option(o, c, optarg); break;
		case OPT_AGENT:
			o->agents = xrealloc(o->agents, (o->n_agents + 1) * sizeof(*o->agents));
			o->agents[o->n_agents++] = optarg;
			break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_AGENT_OPTIONAL: o->agents_optional = true; break;
		case OPT_AGENT_MEMORY:
			if (parse_size(optarg, &o->agent_memory) < 0 || o->agent_memory < PROTO_MIN_AGENT_BUDGET)
				r = log_error("--agent-memory: '%s' is not a size of at least 1M (e.g. 64M, 1G)", optarg);
			break;
		case OPT_ROTATE: r = parse_rotate(optarg, o); break;
		case OPT_KEEP: r = parse_keep(optarg, o); break;
		default:
			usage("record", stderr);
			r = -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		o->command = argv + optind;
	if (o->n_agents && !o->key)
		return log_error("--agent needs --key FILE, the key the agents were started with");
	if (o->key && !o->n_agents)
		return log_error("--key is only used with --agent NAME=ADDR");
	if (o->agent_memory && !o->n_agents)
		return log_error("--agent-memory is only used with --agent NAME=ADDR");
	if ((o->keep_count || o->keep_bytes) && !(o->rotate_ns || o->rotate_bytes))
		return log_error("--keep is only used with --rotate DURATION|SIZE");
	if (!o->output)
		o->output = o->rotate_ns || o->rotate_bytes ? "." : "domprof.db";
	else if (o->rotate_ns || o->rotate_bytes) {
		/* "DIR/" names DIR: the sessions' paths read DIR/domprof-... */
		o->output_dir = xstrdup(o->output);
		for (size_t n = strlen(o->output_dir); n > 1 && o->output_dir[n - 1] == '/'; n--)
			o->output_dir[n - 1] = '\0';
		o->output = o->output_dir;
	}
	if (o->pid && o->command)
		return log_error("give either -p PID or a command, not both");
	if (o->pid && o->system_wide)
		return log_error("give either -a or -p PID, not both");
	if (!o->pid && !o->command)
		o->system_wide = true;
	if (o->freq && o->period)
		return log_error("give either -F or -c, not both");
	for (size_t i = 0; i < o->n_guests; i++)
		if (!o->guests[i].file)
			return log_error("guest kernel options for VM '%s' need --guest-kallsyms %s=FILE", o->guests[i].vm_name,
				     o->guests[i].vm_name);
	return 0;
}

static const char *flush_error_text(int r)
{
	return r == -ENOSPC ? "the disk is full" : r == -EROFS ? "the file system is read-only" : strerror(-r);
}

/* The session being written: -o, or the current one of a rotation. */
static const char *session_path(const struct record_options *o)
{
	return o->session_path ? o->session_path : o->output;
}

static int write_error(int r, const struct record_options *o, struct recorder *rec, const char *consequence)
{
	if (r == -EBUSY) {
		/* session__finish: all written, only the file left in WAL mode. */
		session_kept_open_warning(session_path(o));
		return 0;
	}
	return log_error_errno(r, "cannot write the session %s: %s (%s)%s It keeps everything up to the last flush.",
			       session_path(o), flush_error_text(r), session__error(recorder__session(rec)), consequence);
}

static void print_summary(struct recorder *r, const struct record_options *o, const char *path)
{
	struct stat st;
	char size[32] = "?";
	uint64_t lost = recorder__lost(r), samples = recorder__samples(r);
	if (quiet)
		return;
	if (stat(path, &st) == 0) {
		/* A session that could not leave WAL mode (a full disk, a reader
		 * that held on) keeps part of itself in its -wal file. */
		uint64_t bytes = (uint64_t)st.st_size;
		char wal[PATH_MAX];
		if (snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) && stat(wal, &st) == 0)
			bytes += (uint64_t)st.st_size;
		format_bytes(bytes, size, sizeof(size));
	}
	fprintf(stderr, "domprof: recorded %.2f s, %s on %zu CPU%s\n", (double)(r->stop_ns - r->start_ns) / 1e9,
		o->system_wide ? "system-wide" : o->pid ? "one process" : "the command", sampler__n_rings(r->sampler),
		sampler__n_rings(r->sampler) == 1 ? "" : "s");
	collector__print_totals(&r->collector, r->events, stderr);
	collector__print_unwind(&r->collector, stderr);
	fprintf(stderr, "  lost %llu of %llu samples\n", (unsigned long long)lost, (unsigned long long)(samples + lost));
	if (r->ring_pages < r->ring_pages_wanted)
		fprintf(stderr, "  rings: %zu pages per CPU, not the %zu this rate needs (the kernel's mlock limit; raise "
				"kernel.perf_event_mlock_kb or ulimit -l, or lower -F)\n", r->ring_pages, r->ring_pages_wanted);
	for (size_t i = 0; i < r->collector.machine.n_vms; i++) {
		struct vm *vm = r->collector.machine.vms[i];
		fprintf(stderr, "  VM %s: pid %d (%s)\n", vm->name, vm->pid, vmm_kind__name(vm->kind));
	}
	if (o->n_sessions > 1)
		fprintf(stderr, "  sessions: %zu in %s, the last (totals above): %s (%s)\n", o->n_sessions, o->output, path,
			size);
	else
		fprintf(stderr, "  session: %s (%s)\n", path, size);
}

static void record_options__release(struct record_options *o)
{
	vm_names__release(&o->vms);
	for (size_t i = 0; i < o->n_guests; i++) {
		free(o->guests[i].vm_name);
		free(o->guests[i].file);
	}
	free(o->guests);
	free(o->agents);
	free(o->session_path);
	free(o->output_dir);
}

/* The command to profile, held at the barrier, or the threads of -p: what
 * the events watch when not system-wide. 127 when the command cannot run. */
static int prepare_target(struct record_options *o, struct child *child, pid_t **tids, size_t *n_tids)
{
	int r;
	if (o->pid && (r = proc_threads(o->pid, tids, n_tids)) < 0)
		return log_error_errno(r, "-p %d: no such process", o->pid);
	if (!o->command)
		return 0;
	if ((r = command_find(o->command[0])) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o->command[0]);
		return 127; /* as a shell does */
	}
	if ((r = child_prepare(o->command, child)) < 0)
		return log_error_errno(r, "cannot start %s: %m", o->command[0]);
	if (!o->system_wide) {
		*tids = xmalloc(sizeof(**tids));
		(*tids)[0] = child->pid;
		*n_tids = 1;
	}
	return 0;
}

static int open_recorder(const struct record_options *o, const struct event_spec *events, size_t n_events,
			 const pid_t *tids, size_t n_tids, struct recorder *rec)
{
	struct recorder_config cfg = {
		.events = events,
		.n_events = n_events,
		.system_wide = o->system_wide,
		.tids = tids,
		.n_tids = n_tids,
		.inherit = !o->system_wide,
		.enable_on_exec = o->command && !o->system_wide,
		.callchain = o->call_graph.enabled,
		.user_stack_size = o->call_graph.user_stack_size,
		.ring_pages = o->ring_pages,
	};
	_cleanup_free_ char *err = NULL;
	int r;
	if ((r = recorder__open(rec, &cfg, &err)) < 0)
		return log_error_errno(r, "%s", err);
	for (size_t i = 0; i < o->vms.n; i++)
		machine__force_vm(&rec->collector.machine, o->vms.vms[i].name, o->vms.vms[i].pid);
	for (size_t i = 0; i < o->n_guests; i++)
		machine__add_guest_kernel(&rec->collector.machine, &o->guests[i]);
	return 0;
}

static int create_session(struct record_options *o, int argc, char **argv, struct recorder *rec)
{
	_cleanup_free_ char *args = argv_join(argc, argv);
	_cleanup_free_ char *cmdline = xasprintf("domprof %s", args);
	_cleanup_free_ char *workload = o->command ? argv_join((int)(argc - (o->command - argv)), o->command) : NULL;
	_cleanup_free_ char *err = NULL;
	struct session_run run = {
		.command_line = cmdline,
		.target = o->command ? (o->system_wide ? "system-wide" : "command") : o->pid ? "pid" : "system-wide",
		.workload = workload,
		.target_pid = o->command ? 0 : o->pid,
	};
	int r;
	if (o->rotate_ns || o->rotate_bytes) {
		struct stat st;
		if (mkdir(o->output, 0755) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "-o %s: cannot create the directory for the sessions: %m", o->output);
		if (stat(o->output, &st) < 0 || !S_ISDIR(st.st_mode))
			return log_error("-o %s: not a directory; --rotate writes its sessions into one (e.g. -o sessions/)",
					 o->output);
		if ((r = session_series__next_path(o->output, time(NULL), &o->session_path)) < 0)
			return log_error_errno(r, "-o %s: no name left for a new session: %m", o->output);
		o->n_sessions = 1;
	}
	r = recorder__create_session(rec, session_path(o), &run, &err);
	return r < 0 ? log_error_errno(r, "%s", err) : 0;
}

/* Is the current session of a rotation long or big enough? session_start_ns:
 * when it started, or when a rotation last failed (the next try waits a
 * whole DURATION). */
static bool rotation_due(const struct record_options *o, uint64_t session_start_ns)
{
	struct stat st;
	if (o->rotate_ns && clock_monotonic_ns() - session_start_ns >= o->rotate_ns)
		return true;
	if (o->rotate_bytes && stat(o->session_path, &st) == 0) {
		_cleanup_free_ char *wal = xasprintf("%s-wal", o->session_path);
		uint64_t bytes = (uint64_t)st.st_size;
		if (stat(wal, &st) == 0)
			bytes += (uint64_t)st.st_size;
		return bytes >= o->rotate_bytes;
	}
	return false;
}

/* The current session complete, the next one started, the oldest beyond
 * --keep removed. A new session that cannot be created leaves the
 * recording in the current one (said once per attempt). */
static void rotate(struct record_options *o, struct recorder *rec, struct coordinator *coord)
{
	_cleanup_free_ char *err = NULL;
	struct profile_catalog_map keep = { 0 };
	char *next;
	size_t removed;
	int r = session_series__next_path(o->output, time(NULL), &next);
	if (r < 0) {
		log_warning("-o %s: no name left for a new session (%s); recording on into %s", o->output, strerror(-r),
			    session_path(o));
		return;
	}
	/* The agents' rows go on into the next session: noted before this one
	 * ends, interned again once the profile restarted; the catalog rows
	 * they name stay (keep), the host's are interned again as sampled. */
	if (coord) {
		profile_catalog_map__init(&keep, &rec->profile);
		coordinator__write_session(coord, recorder__session(rec));
		coordinator__rotate_save(coord, &rec->profile, &keep);
	}
	/* Only a rotation that did not happen (no next session) says why in err. */
	r = recorder__rotate_session(rec, next, coord ? &keep : NULL, &err);
	if (r < 0 && err) {
		log_warning("cannot start the next session %s: %s; recording on into %s", next, err, session_path(o));
		if (coord)
			coordinator__rotate_cancel(coord);
		profile_catalog_map__release(&keep);
		free(next);
		return;
	}
	if (coord)
		coordinator__rotate_apply(coord, &rec->profile, &keep, recorder__session_start_ns(rec));
	profile_catalog_map__release(&keep);
	log_info("session %s complete; recording into %s", o->session_path, next);
	free(o->session_path);
	o->session_path = next;
	o->n_sessions++;
	if (r < 0)
		write_error(r, o, rec, " The recording goes on into the next.");
	if ((o->keep_count || o->keep_bytes) &&
	    (r = session_series__retain(o->output, o->session_path, o->keep_count, o->keep_bytes, &removed)) < 0)
		log_warning("--keep: cannot remove an old session in %s: %s", o->output, strerror(-r));
}

/* The ms to deadline_ns (0 none) from now, at most limit. */
static int ms_until(uint64_t now, uint64_t deadline_ns, int limit)
{
	if (!deadline_ns)
		return limit;
	if (deadline_ns <= now)
		return 0;
	return (int)MIN((uint64_t)limit, (deadline_ns - now) / 1000000 + 1);
}

/* How long the loop may wait for the rings: until the next flush, the
 * duration's end or a time rotation. Signals and the command's exit
 * (watched by its pidfd) end a wait early; rings wake it when a quarter
 * full. Fewer wake-ups cost less: each is a poll and two context
 * switches. */
static int wait_ms(const struct record_options *o, struct recorder *rec, struct child *child, uint64_t now,
		   uint64_t deadline, uint64_t session_start_ns)
{
	int t = o->command && child->pid_fd < 0 ? RECORD_POLL_MS : RECORD_WAIT_MS;
	t = ms_until(now, recorder__next_flush_ns(rec), t);
	t = ms_until(now, deadline, t);
	if (o->rotate_ns)
		t = ms_until(now, session_start_ns + o->rotate_ns, t);
	return t;
}

/* Sample until the command exits, the duration passes or a signal
 * arrives, flushing into the session every second. 0, or the negative
 * errno of a flush that failed (printed; the recording stopped). */
static int record_loop(struct record_options *o, struct recorder *rec, struct coordinator *coord,
		       struct child *child)
{
	uint64_t deadline = o->duration > 0 ? rec->start_ns + (uint64_t)(o->duration * 1e9) : 0;
	uint64_t session_start_ns = rec->start_ns;
	int r;
	while (!stop_signal) {
		uint64_t now = clock_monotonic_ns();
		int timeout = wait_ms(o, rec, child, now, deadline, session_start_ns);
		if (deadline && now >= deadline)
			break;
		recorder__step(rec, coord ? MIN(timeout, 50) : timeout);
		if (coord)
			coordinator__poll(coord, &rec->profile);
		if (child_poll(child, NULL) || (rec->tasks_gone && !o->system_wide))
			break;
		/* Due now: the end's flush writes what a flush would (a flush
		 * here, sampling on, would stretch the recording past it). */
		if (deadline && clock_monotonic_ns() >= deadline)
			break;
		if ((r = recorder__flush_if_due(rec)) < 0)
			return write_error(r, o, rec, "; stopping.");
		/* What agents forgot, written now, leaves memory. */
		if (r > 0 && coord)
			coordinator__forget(coord, &rec->profile);
		if (o->session_path && rotation_due(o, session_start_ns)) {
			rotate(o, rec, coord);
			session_start_ns = clock_monotonic_ns();
		}
	}
	return 0;
}

/* Everything up to the first sample: 0, or a negative errno (or 127) after
 * printing why. */
static int record_start(struct record_options *o, int argc, char **argv, struct recorder *rec,
			struct coordinator *coord, struct child *child)
{
	int r = create_session(o, argc, argv, rec);
	if (r < 0)
		return r;
	r = coord ? coordinator__start_recorder(coord, rec, &stop_signal) : recorder__start(rec);
	if (r < 0)
		return log_error_errno(r, "cannot start sampling: %m");
	for (size_t i = 0; i < rec->collector.machine.n_warnings; i++)
		log_warning("%s", rec->collector.machine.warnings[i]);
	if (o->command && (r = child_start(child)) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o->command[0]);
		return 127;
	}
	/* Its exit ends the loop's wait at once; without a pidfd the loop
	 * looks every RECORD_POLL_MS. */
	if (o->command && (r = child_watch(child)) >= 0)
		recorder__watch(rec, r);
	return 0;
}

/* Stop everyone and complete the session (unless a flush failed). */
static int record_finish(const struct record_options *o, struct recorder *rec, struct coordinator *coord,
			 bool write_failed)
{
	int r = 0;
	recorder__stop(rec);
	if (coord) {
		coordinator__stop(coord, &rec->profile, COORDINATOR_STOP_TIMEOUT_MS, rec->stop_ns);
		coordinator__write_session(coord, recorder__session(rec));
		recording_agents_report(coord);
	}
	if (!write_failed && (r = recorder__finish_session(rec)) < 0)
		r = write_error(r, o, rec, ".");
	if (stop_signal && !quiet)
		fprintf(stderr, "domprof: stopped by signal %d\n", (int)stop_signal);
	if (rec->collector.bad_records)
		log_warning("%llu records could not be decoded", (unsigned long long)rec->collector.bad_records);
	print_summary(rec, o, session_path(o));
	return r;
}

int cmd_record(int argc, char **argv)
{
	struct record_options o = { 0 };
	struct event_defaults defaults = { 0 };
	struct event_spec *events = NULL;
	size_t n_events = 0, n_tids = 0;
	struct recorder rec = { 0 };
	struct child child = CHILD_INIT;
	struct coordinator coord = { 0 }, *agents = NULL;
	unsigned char key[PROTO_KEY_BYTES] = { 0 };
	pid_t *tids = NULL;
	int r;

	if ((r = parse_options(argc, argv, &o)) < 0)
		goto out;
	/* A key that is not safe to use stops everything before anything is
	 * opened or written. */
	if (o.key && (r = key_load(o.key, key)) < 0)
		goto out;
	defaults.freq = o.freq ? o.freq : 1000;
	defaults.period = o.period;
	if ((r = recording_parse_events(&o.events, o.system_wide, &defaults, &events, &n_events)) < 0 ||
	    (r = prepare_target(&o, &child, &tids, &n_tids)) != 0)
		goto out;
	recording_catch_signals(on_signal);
	if ((r = open_recorder(&o, events, n_events, tids, n_tids, &rec)) < 0)
		goto out;
	if (o.n_agents) {
		struct agent_options a = { o.agents, o.n_agents, o.agents_optional, o.agent_memory };
		agents = &coord;
		if ((r = recording_agents_prepare(agents, &a, key, events, n_events, &defaults, &o.call_graph, &o.vms, &rec)) < 0)
			goto out;
	}
	if ((r = record_start(&o, argc, argv, &rec, agents, &child)) != 0)
		goto out;
	r = record_loop(&o, &rec, agents, &child);
	{
		int f = record_finish(&o, &rec, agents, r < 0);
		r = r < 0 ? r : f;
	}
out:
	if (agents)
		coordinator__release(agents);
	recorder__release(&rec);
	child_stop(&child);
	sodium_memzero(key, sizeof(key));
	event_list__free(events, n_events);
	free(tids);
	record_options__release(&o);
	if (r == 0)
		child_note_exit(&child);
	return r;
}

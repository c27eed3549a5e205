/* domprof record: sample the host (and its VMs) into a session file.
 * Opens the events, starts the command if one is given, steps the recorder
 * until the command exits, the duration passes or a signal arrives, and
 * flushes the profile into the session every second. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "../lib/collect/hot-code.h"
#include "../lib/collect/recorder.h"
#include "../lib/proto/coordinator.h"
#include "../lib/events/events.h"
#include "../lib/session/session.h"
#include "child.h"
#include "domprof.h"
#include "options.h"

#define FLUSH_INTERVAL_NS 1000000000ULL

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

struct record_options {
	bool system_wide;
	pid_t pid;
	const char *events;
	uint64_t freq, period;
	bool callchain;
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
};

enum {
	OPT_GUEST_KALLSYMS = OPT_COMMAND_BASE,
	OPT_GUEST_KASLR,
	OPT_GUEST_STEXT,
	OPT_AGENT,
	OPT_KEY,
	OPT_AGENT_OPTIONAL,
	OPT_AGENT_MEMORY
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

static int parse_options(int argc, char **argv, struct record_options *o)
{
	static const struct option longopts[] = {
		{ "all-cpus", no_argument, NULL, 'a' },
		{ "pid", required_argument, NULL, 'p' },
		{ "event", required_argument, NULL, 'e' },
		{ "freq", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'c' },
		{ "call-graph", no_argument, NULL, 'g' },
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
		{ 0 },
	};
	int c, r = 0;
	uint64_t v;

	o->output = "domprof.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:e:F:c:gd:o:m:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->system_wide = true; break;
		case 'p': r = option_parse_pid(optarg, &o->pid); break;
		case 'e': o->events = optarg; break;
		case 'F':
			if (parse_u64(optarg, 10, &v) < 0 || v == 0)
				r = log_error("-F: '%s' is not a positive frequency in Hz", optarg);
			o->freq = v;
			break;
		case 'c':
			if (parse_u64(optarg, 0, &v) < 0 || v == 0)
				r = log_error("-c: '%s' is not a positive period", optarg);
			o->period = v;
			break;
		case 'g': o->callchain = true; break;
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





static void write_metadata(struct session *s, int argc, char **argv, const struct record_options *o,
			   const struct recorder *r)
{
	struct utsname u;
	char buf[256], host[256];
	time_t now = time(NULL);
	_cleanup_free_ char *args = argv_join(argc, argv);
	_cleanup_free_ char *cmdline = xasprintf("domprof %s", args);
	session__set_meta(s, "command_line", cmdline);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		session__set_meta(s, "hostname", host);
	}
	if (uname(&u) == 0) {
		session__set_meta(s, "kernel", u.release);
		session__set_meta(s, "arch", u.machine);
	}
	session__set_meta_int(s, "ncpus", (int64_t)sampler__n_rings(r->sampler));
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
	session__set_meta(s, "start_time", buf);
	session__set_meta_int(s, "start_ns", (int64_t)r->start_ns);
	session__set_meta_int(s, "timeline_bucket_ns", (int64_t)r->collector.bucket_ns);
	session__set_meta(s, "clock", r->clock_monotonic ? "monotonic" : "perf");
	if (o->command) {
		_cleanup_free_ char *c = argv_join((int)(argc - (o->command - argv)), o->command);
		session__set_meta(s, "target", o->system_wide ? "system-wide" : "command");
		session__set_meta(s, "workload", c);
	} else if (o->pid) {
		session__set_meta(s, "target", "pid");
		session__set_meta_int(s, "target_pid", o->pid);
	} else {
		session__set_meta(s, "target", "system-wide");
	}
	session__set_meta(s, "callchain", o->callchain ? "fp" : "none");
	session__set_meta(s, "domprof_version", DOMPROF_VERSION_STRING);
	session__set_meta(s, "state", "recording");
}

/* Everything a flush writes: the profile delta plus the running totals. */
static int flush(struct session *s, struct recorder *r)
{
	int ret = session__write_delta(s, &r->profile);
	if (ret < 0)
		return ret;
	session__set_meta_int(s, "stop_ns", (int64_t)clock_monotonic_ns());
	session__set_meta_int(s, "duration_ns", (int64_t)(clock_monotonic_ns() - r->start_ns));
	for (size_t e = 0; e < r->n_events; e++)
		session__set_event_totals(s, (uint32_t)e + 1, r->collector.stats[e].samples, r->collector.stats[e].period,
					  r->collector.stats[e].lost);
	return 0;
}

static void store_code(const struct symbol_code *sc, void *ctx)
{
	struct session *s = ctx;
	session__add_symbol_code(s, sc->symbol, sc->address, sc->code, sc->len);
	for (size_t i = 0; i < sc->n_lines; i++)
		session__add_symbol_line(s, sc->symbol, sc->lines[i].address, sc->lines[i].file, sc->lines[i].line);
}

static int write_final(struct session *s, struct recorder *r, bool interrupted_by_error)
{
	int ret = flush(s, r);
	if (ret < 0)
		return ret;
	/* The code of the hottest functions, for annotate from the session:
	 * best effort, in one transaction that must not stay open. */
	if (sqlite3_exec(session__db(s), "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
		collector__collect_code(&r->collector, CODE_HOT_SYMBOLS_HOST, CODE_HOT_MIN_SHARE, store_code, s);
		if (sqlite3_exec(session__db(s), "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			sqlite3_exec(session__db(s), "ROLLBACK", NULL, NULL, NULL);
	}
	for (size_t i = 0; i < sampler__n_rings(r->sampler); i++)
		session__set_lost(s, r->collector.machine.host_domain, sampler__ring_cpu(r->sampler, (unsigned)i),
				  sampler__ring_samples(r->sampler, (unsigned)i), sampler__ring_lost(r->sampler, (unsigned)i));
	session__set_meta_int(s, "stop_ns", (int64_t)r->stop_ns);
	session__set_meta_int(s, "duration_ns", (int64_t)(r->stop_ns - r->start_ns));
	session__set_meta_int(s, "lost_samples", (int64_t)recorder__lost(r));
	session__set_meta(s, "state", interrupted_by_error ? "incomplete" : "complete");
	return session__finish(s);
}

static const char *flush_error_text(int r)
{
	return r == -ENOSPC ? "the disk is full" : r == -EROFS ? "the file system is read-only" : strerror(-r);
}

static void print_summary(struct recorder *r, const struct record_options *o, const char *path)
{
	struct stat st;
	char size[32] = "?";
	uint64_t lost = recorder__lost(r), samples = recorder__samples(r);
	if (quiet)
		return;
	if (stat(path, &st) == 0)
		format_bytes((uint64_t)st.st_size, size, sizeof(size));
	fprintf(stderr, "domprof: recorded %.2f s, %s on %zu CPU%s\n", (double)(r->stop_ns - r->start_ns) / 1e9,
		o->system_wide ? "system-wide" : o->pid ? "one process" : "the command", sampler__n_rings(r->sampler),
		sampler__n_rings(r->sampler) == 1 ? "" : "s");
	collector__print_totals(&r->collector, r->events, stderr);
	fprintf(stderr, "  lost %llu of %llu samples\n", (unsigned long long)lost, (unsigned long long)(samples + lost));
	for (size_t i = 0; i < r->collector.machine.n_vms; i++) {
		struct vm *vm = r->collector.machine.vms[i];
		fprintf(stderr, "  VM %s: pid %d (%s)\n", vm->name, vm->pid, vmm_kind__name(vm->kind));
	}
	fprintf(stderr, "  session: %s (%s)\n", path, size);
}

static void coordinator_log(void *ctx, bool is_error, const char *msg)
{
	(void)ctx;
	if (is_error)
		log_warning("%s", msg);
	else
		log_info("%s", msg);
}

/* Connect to every agent, set them up, and prepare the host side: name the
 * VMM process of each agent's VM (by SMBIOS UUID, when that claim holds),
 * and give the host the guest's kernel symbols for its own guest-mode
 * samples. A negative errno after printing why. */
static int agents_prepare(struct coordinator *coord, const struct record_options *o, unsigned char key[PROTO_KEY_BYTES],
			  const struct event_spec *events, size_t n_events, const struct event_defaults *defaults,
			  struct recorder *rec)
{
	_cleanup_free_ char *err = NULL;
	struct vm_info *vms = NULL;
	struct agent_vm_match *matches = NULL;
	size_t n_vms = 0, n_matches;
	int r;
	coordinator__init(coord, key, coordinator_log, NULL);
	sodium_memzero(key, PROTO_KEY_BYTES);
	if (o->agent_memory)
		coordinator__set_budget(coord, o->agent_memory);
	for (size_t i = 0; i < o->n_agents; i++)
		if ((r = coordinator__add(coord, o->agents[i], o->agents_optional, &err)) < 0)
			return log_error_errno(r, "%s", err);
	if ((r = coordinator__connect(coord, COORDINATOR_CONNECT_TIMEOUT_MS, &err)) < 0 ||
	    (r = coordinator__prepare(coord, events, n_events, defaults, o->callchain, &err)) < 0)
		return log_error_errno(r, "%s%s", err, o->agents_optional ? "" : " (--agent-optional records without it)");
	vms__scan(o->vms.vms, o->vms.n, &vms, &n_vms);
	n_matches = coordinator__match_vms(coord, vms, n_vms, &matches);
	for (size_t i = 0; i < n_matches; i++)
		machine__force_vm(&rec->collector.machine, coord->links[matches[i].link].name, matches[i].pid);
	free(matches);
	vms__free(vms, n_vms);
	for (size_t i = 0; i < coord->n; i++) {
		struct agent_link *l = &coord->links[i];
		if (l->state == AGENT_READY && l->kallsyms_len) {
			/* Kept in memory: the VM itself is found later, when /proc is read. */
			struct guest_kernel_source g = { .vm_name = l->name, .text = l->kallsyms, .text_len = l->kallsyms_len };
			machine__add_guest_kernel(&rec->collector.machine, &g);
		}
	}
	return 0;
}

static void agents_finish(struct coordinator *coord, struct session *s)
{
	for (size_t i = 0; i < coord->n; i++) {
		struct agent_link *l = &coord->links[i];
		char key[160];
		_cleanup_free_ char *v = NULL;
		v = xasprintf("%s state=%s offset_ns=%lld rtt_ns=%llu skew_ns=%lld frames=%llu samples=%llu%s%s", l->addr,
			      l->state == AGENT_DONE ? "complete" : "failed", (long long)l->offset_ns,
			      (unsigned long long)l->rtt_ns, (long long)l->start_skew_ns, (unsigned long long)l->data_frames,
			      (unsigned long long)l->delta.samples_received, l->error ? " error=" : "", l->error ? l->error : "");
		snprintf(key, sizeof(key), "agent.%s", l->name);
		session__set_meta(s, key, v);
		for (size_t c = 0; c < l->n_codes; c++)
			store_code(&l->codes[c], s);
		if (l->state == AGENT_DONE)
			log_info("agent %s: %llu samples in %llu frames, clock offset %+.3f ms, start skew %+.3f ms", l->name,
				 (unsigned long long)l->delta.samples_received, (unsigned long long)l->data_frames,
				 (double)l->offset_ns / 1e6, (double)l->start_skew_ns / 1e6);
		else
			log_warning("agent %s: incomplete (%s); its data up to then is kept", l->name, l->error ? l->error : "?");
	}
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
}

/* The events, parsed with the -F/-c defaults, each one probed. */
static int parse_events(struct record_options *o, const struct event_defaults *defaults, struct event_spec **ret,
			size_t *ret_n)
{
	_cleanup_free_ char *err = NULL;
	int r;
	if (!o->events) {
		o->events = events__default_name(o->system_wide);
		if (streq(o->events, "cpu-clock"))
			log_info("cycles is not available here (no hardware PMU); sampling cpu-clock");
	}
	if ((r = event_list__parse(o->events, defaults, ret, ret_n, &err)) < 0)
		return log_error_errno(r, "%s", err);
	for (size_t i = 0; i < *ret_n; i++) {
		r = event_spec__probe(&(*ret)[i], o->system_wide);
		if (r < 0) {
			_cleanup_free_ char *why = event_spec__explain_error(&(*ret)[i], r);
			return log_error_errno(r, "%s", why);
		}
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct record_options o = { 0 };
	struct event_defaults defaults = { 0 };
	struct event_spec *events = NULL;
	size_t n_events = 0;
	struct recorder rec;
	struct recorder_config cfg = { 0 };
	struct session *session = NULL;
	struct child child = CHILD_INIT;
	pid_t *tids = NULL;
	size_t n_tids = 0;
	_cleanup_free_ char *err = NULL;
	uint64_t next_flush, deadline = 0;
	int r;
	bool write_failed = false;
	struct sigaction sa = { .sa_handler = on_signal };
	struct coordinator coord = { 0 };
	bool have_coord = false;
	unsigned char key[PROTO_KEY_BYTES] = { 0 };

	if ((r = parse_options(argc, argv, &o)) < 0)
		goto out;
	/* A key that is not safe to use stops everything before anything is
	 * opened or written. */
	if (o.key && (r = key_load(o.key, key)) < 0)
		goto out;
	defaults.freq = o.freq ? o.freq : 1000;
	defaults.period = o.period;
	if ((r = parse_events(&o, &defaults, &events, &n_events)) < 0)
		goto out;
	if (o.pid && (r = proc_threads(o.pid, &tids, &n_tids)) < 0) {
		r = log_error_errno(r, "-p %d: no such process", o.pid);
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.command && (r = command_find(o.command[0])) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o.command[0]);
		r = 127; /* as a shell does */
		goto out;
	}
	if (o.command) {
		if ((r = child_prepare(o.command, &child)) < 0) {
			r = log_error_errno(r, "cannot start %s: %m", o.command[0]);
			goto out;
		}
		if (!o.system_wide) {
			tids = xmalloc(sizeof(*tids));
			tids[0] = child.pid;
			n_tids = 1;
		}
	}

	cfg.events = events;
	cfg.n_events = n_events;
	cfg.system_wide = o.system_wide;
	cfg.tids = tids;
	cfg.n_tids = n_tids;
	cfg.inherit = !o.system_wide;
	cfg.enable_on_exec = o.command && !o.system_wide;
	cfg.callchain = o.callchain;
	cfg.ring_pages = o.ring_pages;
	if ((r = recorder__open(&rec, &cfg, &err)) < 0) {
		r = log_error_errno(r, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < o.vms.n; i++)
		machine__force_vm(&rec.collector.machine, o.vms.vms[i].name, o.vms.vms[i].pid);
	for (size_t i = 0; i < o.n_guests; i++)
		machine__add_guest_kernel(&rec.collector.machine, &o.guests[i]);
	if (o.n_agents) {
		r = agents_prepare(&coord, &o, key, events, n_events, &defaults, &rec);
		have_coord = true;
		if (r < 0)
			goto out_recorder;
	}

	session__keep_old(o.output);
	if ((r = session__create(o.output, &session, &err)) < 0) {
		r = err ? log_error_errno(r, "%s", err) : log_error_errno(r, "%m");
		goto out_recorder;
	}
	for (size_t e = 0; e < n_events; e++)
		session__add_event(session, (uint32_t)e + 1, &events[e]);

	if (have_coord) {
		/* Everyone starts at one instant, a little ahead so that every
		 * START message arrives in time; the slow preparation is done
		 * before choosing it. */
		if ((r = recorder__prepare(&rec)) < 0) {
			r = log_error_errno(r, "cannot start sampling: %m");
			goto out_session;
		}
		uint64_t t0 = clock_monotonic_ns() + COORDINATOR_START_LEAD_NS;
		struct timespec ts = { .tv_sec = (time_t)(t0 / 1000000000ULL), .tv_nsec = (long)(t0 % 1000000000ULL) };
		coordinator__start(&coord, t0);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop_signal)
			;
	}
	if ((r = recorder__start(&rec)) < 0) {
		r = log_error_errno(r, "cannot start sampling: %m");
		goto out_session;
	}
	if (have_coord)
		coordinator__attach(&coord, &rec.profile, rec.start_ns, rec.collector.bucket_ns);
	write_metadata(session, argc, argv, &o, &rec);
	for (size_t i = 0; i < rec.collector.machine.n_warnings; i++)
		log_warning("%s", rec.collector.machine.warnings[i]);
	if (o.command && (r = child_start(&child)) < 0) {
		log_error_errno(r, "cannot run '%s': %m", o.command[0]);
		r = 127;
		goto out_session;
	}
	if (o.duration > 0)
		deadline = rec.start_ns + (uint64_t)(o.duration * 1e9);
	next_flush = rec.start_ns + FLUSH_INTERVAL_NS;

	while (!stop_signal) {
		uint64_t now;
		int timeout = 100;
		now = clock_monotonic_ns();
		if (deadline) {
			if (now >= deadline)
				break;
			timeout = (int)MIN((uint64_t)timeout, (deadline - now) / 1000000 + 1);
		}
		recorder__step(&rec, have_coord ? MIN(timeout, 50) : timeout);
		if (have_coord)
			coordinator__poll(&coord, &rec.profile);
		if (child_poll(&child, NULL) || (rec.tasks_gone && !o.system_wide))
			break;
		now = clock_monotonic_ns();
		if (now >= next_flush) {
			if ((r = flush(session, &rec)) < 0) {
				r = log_error_errno(r, "cannot write the session %s: %s (%s); stopping. It keeps everything up to "
						    "the last flush.",
						    o.output, flush_error_text(r), session__error(session));
				write_failed = true;
				break;
			}
			next_flush = now + FLUSH_INTERVAL_NS;
		}
	}
	recorder__stop(&rec);
	if (have_coord) {
		coordinator__stop(&coord, &rec.profile, COORDINATOR_STOP_TIMEOUT_MS);
		agents_finish(&coord, session);
	}
	if (!write_failed && (r = write_final(session, &rec, false)) < 0)
		r = log_error_errno(r, "cannot write the session %s: %s (%s). It keeps everything up to the last flush.",
				    o.output, flush_error_text(r), session__error(session));
	if (stop_signal && !quiet)
		fprintf(stderr, "domprof: stopped by signal %d\n", (int)stop_signal);
	if (rec.collector.bad_records)
		log_warning("%llu records could not be decoded", (unsigned long long)rec.collector.bad_records);
	print_summary(&rec, &o, o.output);

out_session:
	session__close(session);
out_recorder:
	if (have_coord)
		coordinator__release(&coord);
	recorder__release(&rec);
out:
	child_stop(&child);
	sodium_memzero(key, sizeof(key));
	event_list__free(events, n_events);
	free(tids);
	record_options__release(&o);
	if (r == 0)
		child_note_exit(&child);
	return r;
}

/* Event-spec parsing and probing; contract in events.h. Generic names map
 * to PERF_TYPE_HARDWARE / SOFTWARE / HW_CACHE exactly as perf maps them, so
 * a `-e LLC-load-misses` here counts what `perf record -e LLC-load-misses`
 * counts. Anything else goes through libpfm4, which knows each CPU's own
 * event tables (and can be forced to a model with LIBPFM_FORCE_PMU, which the
 * unit tests use to check encodings on machines without a PMU). libpfm4 is
 * opened at the first name that needs it (util/dl.h). */
#define _GNU_SOURCE
#include "events.h"

#include <ctype.h>
#include <errno.h>
#include <perfmon/pfmlib_perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/dl.h"
#include "../util/util.h"

#define HW(n, a, c, d) { n, a, PERF_TYPE_HARDWARE, PERF_COUNT_HW_##c, d }
#define SW(n, a, c, d) { n, a, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_##c, d }
#define CACHE(cache, op, result) \
	(PERF_COUNT_HW_CACHE_##cache | (PERF_COUNT_HW_CACHE_OP_##op << 8) | (PERF_COUNT_HW_CACHE_RESULT_##result << 16))
#define HC(n, cache, op, result, d) { n, NULL, PERF_TYPE_HW_CACHE, CACHE(cache, op, result), d }

static const struct event_name generic_events[] = {
	HW("cycles", "cpu-cycles", CPU_CYCLES, "CPU core cycles"),
	HW("instructions", NULL, INSTRUCTIONS, "instructions retired"),
	HW("cache-references", NULL, CACHE_REFERENCES, "last-level cache references"),
	HW("cache-misses", NULL, CACHE_MISSES, "last-level cache misses"),
	HW("branch-instructions", "branches", BRANCH_INSTRUCTIONS, "branch instructions retired"),
	HW("branch-misses", NULL, BRANCH_MISSES, "mispredicted branches"),
	HW("bus-cycles", NULL, BUS_CYCLES, "bus cycles"),
	HW("stalled-cycles-frontend", "idle-cycles-frontend", STALLED_CYCLES_FRONTEND, "front-end stall cycles"),
	HW("stalled-cycles-backend", "idle-cycles-backend", STALLED_CYCLES_BACKEND, "back-end stall cycles"),
	HW("ref-cycles", NULL, REF_CPU_CYCLES, "reference cycles (unscaled by frequency)"),
	SW("cpu-clock", NULL, CPU_CLOCK, "CPU time, per-CPU high-resolution timer (ns)"),
	SW("task-clock", NULL, TASK_CLOCK, "task CPU time (ns)"),
	SW("page-faults", "faults", PAGE_FAULTS, "page faults"),
	SW("context-switches", "cs", CONTEXT_SWITCHES, "context switches"),
	SW("cpu-migrations", "migrations", CPU_MIGRATIONS, "task migrations between CPUs"),
	SW("minor-faults", NULL, PAGE_FAULTS_MIN, "minor page faults"),
	SW("major-faults", NULL, PAGE_FAULTS_MAJ, "major page faults"),
	SW("alignment-faults", NULL, ALIGNMENT_FAULTS, "alignment faults"),
	SW("emulation-faults", NULL, EMULATION_FAULTS, "emulation faults"),
	HC("L1-dcache-loads", L1D, READ, ACCESS, "L1 data cache loads"),
	HC("L1-dcache-load-misses", L1D, READ, MISS, "L1 data cache load misses"),
	HC("L1-dcache-stores", L1D, WRITE, ACCESS, "L1 data cache stores"),
	HC("L1-dcache-store-misses", L1D, WRITE, MISS, "L1 data cache store misses"),
	HC("L1-dcache-prefetches", L1D, PREFETCH, ACCESS, "L1 data cache prefetches"),
	HC("L1-icache-loads", L1I, READ, ACCESS, "L1 instruction cache loads"),
	HC("L1-icache-load-misses", L1I, READ, MISS, "L1 instruction cache load misses"),
	HC("LLC-loads", LL, READ, ACCESS, "last-level cache loads"),
	HC("LLC-load-misses", LL, READ, MISS, "last-level cache load misses"),
	HC("LLC-stores", LL, WRITE, ACCESS, "last-level cache stores"),
	HC("LLC-store-misses", LL, WRITE, MISS, "last-level cache store misses"),
	HC("LLC-prefetches", LL, PREFETCH, ACCESS, "last-level cache prefetches"),
	HC("dTLB-loads", DTLB, READ, ACCESS, "data TLB loads"),
	HC("dTLB-load-misses", DTLB, READ, MISS, "data TLB load misses"),
	HC("dTLB-stores", DTLB, WRITE, ACCESS, "data TLB stores"),
	HC("dTLB-store-misses", DTLB, WRITE, MISS, "data TLB store misses"),
	HC("iTLB-loads", ITLB, READ, ACCESS, "instruction TLB loads"),
	HC("iTLB-load-misses", ITLB, READ, MISS, "instruction TLB load misses"),
	HC("branch-loads", BPU, READ, ACCESS, "branch predictor lookups"),
	HC("branch-load-misses", BPU, READ, MISS, "branch predictor misses"),
	HC("node-loads", NODE, READ, ACCESS, "local NUMA node loads"),
	HC("node-load-misses", NODE, READ, MISS, "remote NUMA node loads"),
};

const struct event_name *events__generic(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(generic_events);
	return generic_events;
}

static const struct event_name *find_generic(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(generic_events); i++) {
		const struct event_name *e = &generic_events[i];
		if (streq(e->name, name) || (e->alias && streq(e->alias, name)))
			return e;
	}
	return NULL;
}

static bool is_clock_event(const struct perf_event_attr *a)
{
	return a->type == PERF_TYPE_SOFTWARE &&
	       (a->config == PERF_COUNT_SW_CPU_CLOCK || a->config == PERF_COUNT_SW_TASK_CLOCK);
}

/* libpfm4's functions, from its library once it is opened. */
static struct {
	__typeof__(pfm_initialize) *initialize;
	__typeof__(pfm_get_os_event_encoding) *get_os_event_encoding;
	__typeof__(pfm_strerror) *strerror;
	__typeof__(pfm_get_pmu_info) *get_pmu_info;
	__typeof__(pfm_get_event_next) *get_event_next;
	__typeof__(pfm_get_event_info) *get_event_info;
} pfm;
static int pfm_ready = -1;
static const char *pfm_error;

/* 0 once libpfm4 is open and initialised; else -ENODEV with pfm_error
 * saying why. */
static int pfm_init_once(void)
{
	static const struct dl_symbol syms[] = {
		{ "pfm_initialize", &pfm.initialize },
		{ "pfm_get_os_event_encoding", &pfm.get_os_event_encoding },
		{ "pfm_strerror", &pfm.strerror },
		{ "pfm_get_pmu_info", &pfm.get_pmu_info },
		{ "pfm_get_event_next", &pfm.get_event_next },
		{ "pfm_get_event_info", &pfm.get_event_info },
	};
	if (pfm_ready < 0) {
		_Static_assert(LIBPFM_VERSION >> 16 == 4, "the soname below is libpfm4's");
		pfm_ready = dl_load("libpfm.so.4", syms, ARRAY_SIZE(syms), &pfm_error);
		if (pfm_ready && pfm.initialize() != PFM_SUCCESS) {
			pfm_ready = 0;
			pfm_error = "it failed to initialise";
		}
	}
	return pfm_ready ? 0 : -ENODEV;
}

static int fail(char **ret_error, const char *fmt, ...) PRINTF(2, 3);
static int fail(char **ret_error, const char *fmt, ...)
{
	if (ret_error) {
		va_list ap;
		va_start(ap, fmt);
		*ret_error = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Split "NAME[/TERMS/][MODS]" where MODS is ":ukGHp..." or, after the
 * terms, a bare "ukGHp..." (perf's "cycles/period=1/u"). A trailing
 * ":xyz" is a modifier group only if every character is a modifier: that
 * keeps libpfm's "INST_RETIRED:ANY_P" intact. */
static bool is_modifier_group(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("ukGHp", *s))
			return false;
	return true;
}

static int apply_terms(const char *spec, const char *terms, struct event_spec *e, char **ret_error)
{
	_cleanup_free_ char *copy = xstrdup(terms);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		uint64_t v;
		if (!eq)
			return fail(ret_error, "event '%s': term '%s' needs a value (period=N or freq=N)", spec, t);
		*eq = '\0';
		if (parse_u64(eq + 1, 0, &v) < 0 || v == 0)
			return fail(ret_error, "event '%s': '%s' is not a positive number", spec, eq + 1);
		if (streq(t, "period")) {
			e->attr.freq = 0;
			e->attr.sample_period = v;
		} else if (streq(t, "freq")) {
			e->attr.freq = 1;
			e->attr.sample_freq = v;
		} else {
			return fail(ret_error, "event '%s': unknown term '%s' (known: period, freq)", spec, t);
		}
		e->period_set = true;
	}
	return 0;
}

static int apply_modifiers(const char *spec, const char *mods, struct event_spec *e, char **ret_error)
{
	bool u = false, k = false, g = false, h = false;
	int precise = 0;
	for (const char *m = mods; *m; m++) {
		switch (*m) {
		case 'u': u = true; break;
		case 'k': k = true; break;
		case 'G': g = true; break;
		case 'H': h = true; break;
		case 'p': precise++; break;
		default:
			return fail(ret_error, "event '%s': unknown modifier '%c' (known: u k G H p)", spec, *m);
		}
	}
	if (precise > 3)
		return fail(ret_error, "event '%s': at most three 'p' modifiers", spec);
	if (u || k) {
		e->attr.exclude_user = !u;
		e->attr.exclude_kernel = !k;
		e->attr.exclude_hv = 1;
	}
	if (g || h) {
		e->attr.exclude_guest = !g;
		e->attr.exclude_host = !h;
	}
	e->attr.precise_ip = precise;
	return 0;
}

static int resolve_pfm(const char *spec, const char *base, struct event_spec *e, char **ret_error)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	pfm_perf_encode_arg_t arg = { .attr = &attr, .size = sizeof(arg) };
	int r;

	if (pfm_init_once() < 0)
		return fail(ret_error,
			    "event '%s': not a generic perf event (see `domprof list`) nor raw (rNNNN), and libpfm4, "
			    "which knows each CPU's own events, is not usable: %s (install libpfm4)",
			    spec, pfm_error);
	r = pfm.get_os_event_encoding(base, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
	free(arg.fstr);
	if (r != PFM_SUCCESS) {
		if (r == PFM_ERR_NOTFOUND)
			return fail(ret_error,
				    "unknown event '%s': not a generic perf event (see `domprof list`), not raw "
				    "(rNNNN), and no hardware PMU of this CPU knows it through libpfm4",
				    spec);
		return fail(ret_error, "event '%s': libpfm4: %s", spec, pfm.strerror(r));
	}
	e->attr.type = attr.type;
	e->attr.config = attr.config;
	e->attr.config1 = attr.config1;
	e->attr.config2 = attr.config2;
	e->source = EVENT_SOURCE_PFM;
	e->needs_pmu = attr.type != PERF_TYPE_SOFTWARE && attr.type != PERF_TYPE_TRACEPOINT;
	return 0;
}

int event_spec__parse(const char *text, const struct event_defaults *defaults, struct event_spec *ret,
		      char **ret_error)
{
	struct event_spec e = { 0 };
	_cleanup_free_ char *base = NULL;
	_cleanup_free_ char *terms = NULL;
	_cleanup_free_ char *mods = NULL;
	const char *slash, *colon;
	const struct event_name *g;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!text || !*text)
		return fail(ret_error, "empty event name");
	for (const char *p = text; *p; p++)
		if (isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			return fail(ret_error, "event '%s': unexpected character", text);

	slash = strchr(text, '/');
	if (slash) {
		const char *close = strchr(slash + 1, '/');
		if (!close)
			return fail(ret_error, "event '%s': missing closing '/' after the terms", text);
		base = xstrndup(text, slash - text);
		terms = xstrndup(slash + 1, close - slash - 1);
		mods = xstrdup(close[1] == ':' ? close + 2 : close + 1);
		if (*mods && !is_modifier_group(mods))
			return fail(ret_error, "event '%s': '%s' after the terms is not a modifier (u k G H p)", text,
				    mods);
	} else {
		colon = strrchr(text, ':');
		if (colon && is_modifier_group(colon + 1)) {
			base = xstrndup(text, colon - text);
			mods = xstrdup(colon + 1);
		} else {
			base = xstrdup(text);
			mods = xstrdup("");
		}
	}
	if (!*base)
		return fail(ret_error, "event '%s': missing event name", text);

	e.attr.size = sizeof(e.attr);
	g = find_generic(base);
	if (g) {
		e.source = EVENT_SOURCE_GENERIC;
		e.attr.type = g->type;
		e.attr.config = g->config;
		e.needs_pmu = g->type != PERF_TYPE_SOFTWARE;
		free(base);
		base = xstrdup(g->name);
	} else if (base[0] == 'r' && base[1] && strspn(base + 1, "0123456789abcdefABCDEF") == strlen(base + 1)) {
		uint64_t v;
		if (strlen(base + 1) > 16 || parse_u64(base + 1, 16, &v) < 0)
			return fail(ret_error, "event '%s': raw code '%s' is not a 64-bit hex number", text, base + 1);
		e.source = EVENT_SOURCE_RAW;
		e.attr.type = PERF_TYPE_RAW;
		e.attr.config = v;
		e.needs_pmu = true;
	} else {
		r = resolve_pfm(text, base, &e, ret_error);
		if (r < 0)
			return r;
	}
	e.unit = is_clock_event(&e.attr) ? EVENT_UNIT_NS : EVENT_UNIT_COUNT;

	if (defaults && defaults->period) {
		e.attr.sample_period = defaults->period;
	} else {
		e.attr.freq = 1;
		e.attr.sample_freq = defaults && defaults->freq ? defaults->freq : 1000;
	}
	if (terms && (r = apply_terms(text, terms, &e, ret_error)) < 0)
		return r;
	if ((r = apply_modifiers(text, mods, &e, ret_error)) < 0)
		return r;

	if (*mods)
		e.name = xasprintf("%s:%s", base, mods);
	else
		e.name = xstrdup(base);
	if (e.period_set) {
		char *n = e.attr.freq ? xasprintf("%s/freq=%llu/", e.name, (unsigned long long)e.attr.sample_freq)
				      : xasprintf("%s/period=%llu/", e.name, (unsigned long long)e.attr.sample_period);
		free(e.name);
		e.name = n;
	}
	e.base = base;
	base = NULL;
	*ret = e;
	return 0;
}

void event_spec__release(struct event_spec *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->base);
	e->name = e->base = NULL;
}

int event_spec__copy(const struct event_spec *src, struct event_spec *dst)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->base = xstrdup(src->base);
	return 0;
}

int event_list__parse(const char *text, const struct event_defaults *defaults, struct event_spec **ret,
		      size_t *ret_n, char **ret_error)
{
	struct event_spec *list = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *start = text;
	bool in_terms = false;

	if (ret_error)
		*ret_error = NULL;
	if (!text || !*text)
		return fail(ret_error, "empty event list");
	for (;; p++) {
		if (*p == '/')
			in_terms = !in_terms;
		if ((*p == ',' && !in_terms) || !*p) {
			_cleanup_free_ char *one = xstrndup(start, p - start);
			int r;
			ARRAY_GROW(list, cap, n + 1);
			r = event_spec__parse(one, defaults, &list[n], ret_error);
			if (r < 0) {
				event_list__free(list, n);
				return r;
			}
			for (size_t i = 0; i < n; i++)
				if (streq(list[i].name, list[n].name)) {
					event_spec__release(&list[n]);
					event_list__free(list, n);
					return fail(ret_error, "event '%s' is listed twice", one);
				}
			n++;
			if (!*p)
				break;
			start = p + 1;
		}
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

void event_list__free(struct event_spec *events, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_spec__release(&events[i]);
	free(events);
}

int event_spec__probe(const struct event_spec *e, bool system_wide)
{
	struct perf_event_attr attr = e->attr;
	int fd;
	attr.disabled = 1;
	attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID;
	fd = syscall(SYS_perf_event_open, &attr, system_wide ? -1 : 0, system_wide ? 0 : -1, -1,
		     PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

char *event_spec__explain_error(const struct event_spec *e, int error)
{
	int paranoid = -9;
	char *text = NULL;
	if (read_file("/proc/sys/kernel/perf_event_paranoid", &text, NULL) == 0) {
		paranoid = atoi(text);
		free(text);
	}
	switch (-error) {
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		if (e->needs_pmu)
			return xasprintf("%s is not supported on this CPU (no hardware PMU, e.g. a cloud VM or a "
					 "nested guest); use -e cpu-clock",
					 e->name);
		return xasprintf("%s is not supported by this kernel", e->name);
	case EACCES:
	case EPERM:
		return xasprintf("no permission to open %s (kernel.perf_event_paranoid=%d); run as root, grant "
				 "CAP_PERFMON, or set: sysctl kernel.perf_event_paranoid=-1",
				 e->name, paranoid);
	case EINVAL:
		if (e->attr.exclude_guest || e->attr.exclude_host)
			return xasprintf("%s: the kernel rejected the :G/:H modifier here; drop it", e->name);
		if (e->attr.precise_ip)
			return xasprintf("%s: this CPU does not support precise (:p) sampling for it; drop the p",
					 e->name);
		return xasprintf("%s: the kernel rejected the event (invalid parameters; check the period and "
				 "modifiers)",
				 e->name);
	case EMFILE:
		return xasprintf("%s: too many open files; raise the limit with `ulimit -n`", e->name);
	default:
		return xasprintf("%s: cannot open: %s", e->name, strerror(-error));
	}
}

const char *events__default_name(bool system_wide)
{
	struct event_spec e;
	const char *r = "cpu-clock";
	if (event_spec__parse("cycles", NULL, &e, NULL) == 0) {
		if (event_spec__probe(&e, system_wide) == 0)
			r = "cycles";
		event_spec__release(&e);
	}
	return r;
}

int events__list_pfm(void (*fn)(const char *pmu, const char *name, const char *desc, void *ctx), void *ctx)
{
	int count = 0;
	pfm_pmu_t p;
	if (pfm_init_once() < 0)
		return 0;
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t pinfo = { .size = sizeof(pinfo) };
		if (pfm.get_pmu_info(p, &pinfo) != PFM_SUCCESS || !pinfo.is_present)
			continue;
		if (pinfo.type == PFM_PMU_TYPE_OS_GENERIC)
			continue; /* the generic perf names, listed already */
		for (int i = pinfo.first_event; i != -1; i = pfm.get_event_next(i)) {
			pfm_event_info_t info = { .size = sizeof(info) };
			if (pfm.get_event_info(i, PFM_OS_PERF_EVENT, &info) != PFM_SUCCESS)
				continue;
			fn(pinfo.name, info.name, info.desc, ctx);
			count++;
		}
	}
	return count;
}

/* The counting mode's model: readings and their scaling, what a counter
 * counts (splits and the attr that opens it), the kernel's CPU-time
 * accounting and how a clock count is apportioned by it, the layer a VM
 * thread's work goes to, and the result (domains, layers, cells) with the
 * host derived from the system-wide totals. Pure functions of numbers,
 * unit-tested; contract in stat.h, explanation in docs/stat.md. */
#define _GNU_SOURCE
#include "stat.h"

#include <errno.h>
#include <math.h>

#include "../util/util.h"

/* ---- readings ---- */

double stat_reading__scaled(const struct stat_reading *r)
{
	if (!r->running)
		return 0.0;
	if (r->running >= r->enabled)
		return (double)r->value;
	return (double)r->value * (double)r->enabled / (double)r->running;
}

static uint64_t sub_clamped(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

struct stat_reading stat_reading__delta(const struct stat_reading *now, const struct stat_reading *before)
{
	return (struct stat_reading){
		.value = sub_clamped(now->value, before->value),
		.enabled = sub_clamped(now->enabled, before->enabled),
		.running = sub_clamped(now->running, before->running),
	};
}

/* ---- splits ---- */

static const char *const split_names[STAT_SPLIT__COUNT] = {
	"all", "user", "kernel", "guest-user", "guest-kernel", "host-user", "host-kernel",
};

const char *stat_split__name(enum stat_split s) { return (unsigned)s < STAT_SPLIT__COUNT ? split_names[s] : "?"; }

bool stat_attr__build(const struct event_spec *e, enum stat_split split, struct perf_event_attr *ret)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = e->attr.type;
	a.config = e->attr.config;
	a.config1 = e->attr.config1;
	a.config2 = e->attr.config2;
	a.exclude_user = e->attr.exclude_user;
	a.exclude_kernel = e->attr.exclude_kernel;
	a.exclude_hv = e->attr.exclude_hv;
	a.exclude_guest = e->attr.exclude_guest;
	a.exclude_host = e->attr.exclude_host;
	a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	a.disabled = 1;

	switch (split) {
	case STAT_SPLIT_ALL:
		break;
	case STAT_SPLIT_USER:
	case STAT_SPLIT_GUEST_USER:
	case STAT_SPLIT_HOST_USER:
		a.exclude_kernel = 1;
		a.exclude_hv = 1;
		break;
	case STAT_SPLIT_KERNEL:
	case STAT_SPLIT_GUEST_KERNEL:
	case STAT_SPLIT_HOST_KERNEL:
		a.exclude_user = 1;
		a.exclude_hv = 1;
		break;
	default:
		return false;
	}
	if (split == STAT_SPLIT_GUEST_USER || split == STAT_SPLIT_GUEST_KERNEL)
		a.exclude_host = 1;
	if (split == STAT_SPLIT_HOST_USER || split == STAT_SPLIT_HOST_KERNEL)
		a.exclude_guest = 1;
	if (a.exclude_user && a.exclude_kernel)
		return false;
	if (a.exclude_guest && a.exclude_host)
		return false;
	*ret = a;
	return true;
}

bool stat_event__splits_by_time(const struct event_spec *e)
{
	return e->attr.type == PERF_TYPE_SOFTWARE &&
	       (e->attr.config == PERF_COUNT_SW_CPU_CLOCK || e->attr.config == PERF_COUNT_SW_TASK_CLOCK);
}

bool stat_event__can_split_guest(const struct event_spec *e)
{
	return e->attr.type != PERF_TYPE_SOFTWARE && e->attr.type != PERF_TYPE_TRACEPOINT &&
	       e->attr.type != PERF_TYPE_BREAKPOINT;
}

/* ---- CPU time ---- */

struct stat_cputime stat_cputime__delta(const struct stat_cputime *now, const struct stat_cputime *before)
{
	return (struct stat_cputime){
		.user = sub_clamped(now->user, before->user),
		.guest = sub_clamped(now->guest, before->guest),
		.system = sub_clamped(now->system, before->system),
		.idle = sub_clamped(now->idle, before->idle),
	};
}

uint64_t stat_cputime__sum(const struct stat_cputime *t) { return t->user + t->guest + t->system + t->idle; }

struct stat_time_split stat_cputime__apportion(double value, const struct stat_cputime *delta,
					       const struct stat_cputime *lifetime)
{
	const struct stat_cputime *t = delta;
	struct stat_time_split r = { 0 };
	double f;
	if (!stat_cputime__sum(t))
		t = lifetime;
	if (!t || !stat_cputime__sum(t)) {
		r.system = value;
		return r;
	}
	f = value / (double)stat_cputime__sum(t);
	r.user = (double)t->user * f;
	r.guest = (double)t->guest * f;
	r.system = (double)t->system * f;
	r.idle = (double)t->idle * f;
	return r;
}

static int parse_u64_fields(const char *s, uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *end;
		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v[i] = strtoull(s, &end, 10);
		if (errno || end == s)
			return -EINVAL;
		s = end;
	}
	return 0;
}

int stat_cputime__parse_cpu_line(const char *line, uint64_t tick_ns, struct stat_cputime *ret)
{
	/* cpuN user nice system idle iowait irq softirq steal guest guest_nice;
	 * kernels before 2.6.33 stop earlier: missing fields are 0. */
	uint64_t v[10] = { 0 };
	const char *p = line;
	size_t n = 0;
	if (!startswith(line, "cpu"))
		return -EINVAL;
	p += strcspn(p, " ");
	for (; n < ARRAY_SIZE(v); n++) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		if (parse_u64_fields(p, &v[n], 1) < 0)
			return -EINVAL;
		p += strspn(p, "0123456789");
	}
	if (n < 4)
		return -EINVAL;
	/* user and nice include guest and guest_nice. Steal is left out: a
	 * clock counter counts stolen time too, and sharing it out in the
	 * proportions of the rest gives it to whatever was running, as a
	 * sampling profiler's first tick after the steal does. */
	ret->guest = (v[8] + v[9]) * tick_ns;
	ret->user = sub_clamped(v[0] + v[1], v[8] + v[9]) * tick_ns;
	ret->system = (v[2] + v[5] + v[6]) * tick_ns;
	ret->idle = (v[3] + v[4]) * tick_ns;
	return 0;
}

int stat_cputime__parse_task_stat(const char *text, uint64_t tick_ns, bool children, struct stat_cputime *ret)
{
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	 * the last ')' ends it. Fields after it, counted from 0 (the state):
	 * utime 11, stime 12, cutime 13, cstime 14, guest_time 40,
	 * cguest_time 41. Other fields are skipped unparsed: some are signed,
	 * some (rsslim) are 2^64-1. */
	enum { UTIME = 11, STIME = 12, CUTIME = 13, CSTIME = 14, GUEST = 40, CGUEST = 41 };
	const char *p = strrchr(text, ')');
	uint64_t f[CGUEST + 1] = { 0 };
	size_t n = 0;
	if (!p)
		return -EINVAL;
	p++;
	for (; n < ARRAY_SIZE(f); n++) {
		size_t len;
		while (*p == ' ')
			p++;
		len = strcspn(p, " \n");
		if (!len)
			break;
		if (n == UTIME || n == STIME || n == CUTIME || n == CSTIME || n == GUEST || n == CGUEST) {
			char buf[24];
			if (len >= sizeof(buf))
				return -EINVAL;
			memcpy(buf, p, len);
			buf[len] = '\0';
			if (parse_u64(buf, 10, &f[n]) < 0)
				return -EINVAL;
		}
		p += len;
	}
	if (n <= CSTIME)
		return -EINVAL;
	/* Kernels before 2.6.24 have no guest time: f[GUEST] stays 0. */
	ret->guest = f[GUEST] * tick_ns;
	ret->user = sub_clamped(f[UTIME], f[GUEST]) * tick_ns;
	ret->system = f[STIME] * tick_ns;
	ret->idle = 0;
	if (children) {
		ret->guest += f[CGUEST] * tick_ns;
		ret->user += sub_clamped(f[CUTIME], f[CGUEST]) * tick_ns;
		ret->system += f[CSTIME] * tick_ns;
	}
	return 0;
}

void stat_cputime__from_rusage(const struct rusage *ru, struct stat_cputime *ret)
{
	ret->user = (uint64_t)ru->ru_utime.tv_sec * 1000000000ULL + (uint64_t)ru->ru_utime.tv_usec * 1000ULL;
	ret->system = (uint64_t)ru->ru_stime.tv_sec * 1000000000ULL + (uint64_t)ru->ru_stime.tv_usec * 1000ULL;
	ret->guest = 0;
	ret->idle = 0;
}

/* ---- roles and methods ---- */

const char *stat_method__name(enum stat_method m)
{
	switch (m) {
	case STAT_METHOD_GUEST_HOST: return "guest-host";
	case STAT_METHOD_THREAD_ROLE: return "thread-role";
	default: return "none";
	}
}

enum layer stat_thread__layer(enum thread_role role, bool tcg, bool user_mode)
{
	if (!user_mode)
		return LAYER_HYPERVISOR;
	if (role == ROLE_VCPU && tcg)
		return LAYER_GUEST;
	return LAYER_VMM;
}

enum layer stat_split__vm_layer(enum stat_split s, enum stat_method m, enum thread_role r, bool tcg)
{
	switch (s) {
	case STAT_SPLIT_GUEST_USER: return LAYER_GUEST_USER;
	case STAT_SPLIT_GUEST_KERNEL: return LAYER_GUEST_KERNEL;
	case STAT_SPLIT_HOST_USER: return LAYER_VMM;
	case STAT_SPLIT_HOST_KERNEL: return LAYER_HYPERVISOR;
	case STAT_SPLIT_USER: return stat_thread__layer(r, tcg && m == STAT_METHOD_THREAD_ROLE, true);
	default: return LAYER_HYPERVISOR;
	}
}

bool layer__runs_in_user_mode(enum layer l)
{
	return l == LAYER_USER || l == LAYER_GUEST_USER || l == LAYER_GUEST || l == LAYER_VMM;
}

/* ---- the result model ---- */

void stat_cell__add(struct stat_cell *to, const struct stat_cell *c)
{
	to->value += c->value;
	to->enabled += c->enabled;
	to->running += c->running;
	to->counted |= c->counted;
}

double stat_cell__counted_pct(const struct stat_cell *c)
{
	if (!c->counted)
		return -1.0;
	if (!c->enabled)
		return 100.0;
	return 100.0 * (double)MIN(c->running, c->enabled) / (double)c->enabled;
}

void stat_result__init(struct stat_result *r, const struct event_spec *events, size_t n_events)
{
	memset(r, 0, sizeof(*r));
	r->events = xcalloc(n_events ? n_events : 1, sizeof(*r->events));
	r->n_events = n_events;
	r->target = "system-wide";
	for (size_t e = 0; e < n_events; e++) {
		r->events[e].name = xstrdup(events[e].name);
		r->events[e].unit = events[e].unit;
		r->events[e].by_time = stat_event__splits_by_time(&events[e]);
	}
}

static void domain_release(struct stat_domain *d)
{
	free(d->name);
	free(d->vmm);
	free(d->accel);
	free(d->methods);
	for (int l = 0; l < LAYER__COUNT; l++)
		free(d->cells[l]);
}

void stat_result__release(struct stat_result *r)
{
	if (!r)
		return;
	for (size_t e = 0; e < r->n_events; e++)
		free(r->events[e].name);
	free(r->events);
	for (size_t i = 0; i < r->n_domains; i++)
		domain_release(&r->domains[i]);
	free(r->domains);
	memset(r, 0, sizeof(*r));
}

struct stat_domain *stat_result__add_domain(struct stat_result *r, const char *name, bool is_vm)
{
	struct stat_domain *d;
	r->domains = xrealloc(r->domains, (r->n_domains + 1) * sizeof(*r->domains));
	d = &r->domains[r->n_domains++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->is_vm = is_vm;
	if (is_vm)
		d->methods = xcalloc(r->n_events ? r->n_events : 1, sizeof(*d->methods));
	return d;
}

struct stat_cell *stat_domain__layer(struct stat_domain *d, const struct stat_result *r, enum layer l)
{
	if (!d->cells[l])
		d->cells[l] = xcalloc(r->n_events ? r->n_events : 1, sizeof(struct stat_cell));
	return d->cells[l];
}

struct stat_domain *stat_result__find(struct stat_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_domains; i++)
		if (streq(r->domains[i].name, name))
			return &r->domains[i];
	return NULL;
}

void stat_result__derive_host(struct stat_result *r, const struct stat_cell *sys_user,
			      const struct stat_cell *sys_kernel, const struct stat_cell *sys_idle)
{
	struct stat_domain host;
	struct stat_cell *user, *kernel;

	stat_result__add_domain(r, DOMAIN_NAME_HOST, false);
	host = r->domains[r->n_domains - 1];
	memmove(&r->domains[1], &r->domains[0], (r->n_domains - 1) * sizeof(*r->domains));
	r->domains[0] = host;
	user = stat_domain__layer(&r->domains[0], r, LAYER_USER);
	kernel = stat_domain__layer(&r->domains[0], r, LAYER_KERNEL);
	for (size_t e = 0; e < r->n_events; e++) {
		double vm_user = 0, vm_kernel = 0;
		for (size_t i = 1; i < r->n_domains; i++) {
			const struct stat_domain *d = &r->domains[i];
			for (int l = 0; l < LAYER__COUNT; l++) {
				if (!d->cells[l])
					continue;
				if (layer__runs_in_user_mode((enum layer)l))
					vm_user += d->cells[l][e].value;
				else
					vm_kernel += d->cells[l][e].value;
			}
		}
		user[e] = sys_user[e];
		user[e].value = MAX(sys_user[e].value - vm_user, 0.0);
		kernel[e] = sys_kernel[e];
		kernel[e].value = MAX(sys_kernel[e].value - vm_kernel, 0.0);
	}
	if (sys_idle) {
		/* No VM thread runs in the idle task: nothing to take out. */
		struct stat_domain *idle = stat_result__add_domain(r, DOMAIN_NAME_IDLE, false);
		struct stat_cell *cells = stat_domain__layer(idle, r, LAYER_IDLE);
		idle->is_idle = true;
		for (size_t e = 0; e < r->n_events; e++)
			cells[e] = sys_idle[e];
	}
}

struct stat_cell stat_domain__total(const struct stat_domain *d, size_t e)
{
	struct stat_cell t = { 0 };
	for (int l = 0; l < LAYER__COUNT; l++)
		if (d->cells[l])
			stat_cell__add(&t, &d->cells[l][e]);
	return t;
}

double stat_result__total(const struct stat_result *r, size_t e)
{
	double t = 0;
	for (size_t i = 0; i < r->n_domains; i++)
		t += stat_domain__total(&r->domains[i], e).value;
	return t;
}

double stat_domain__overhead(const struct stat_domain *d, size_t e)
{
	double value[LAYER__COUNT] = { 0 };
	if (!d->is_vm)
		return -1.0;
	for (int l = 0; l < LAYER__COUNT; l++)
		if (d->cells[l])
			value[l] = d->cells[l][e].value;
	return layer__overhead(value);
}


/* Counting mode: the result model, its rendering, and the counters that
 * fill it; contract in stat.h, user-facing explanation in docs/stat.md.
 *
 * Why clock events are split by accounting: the kernel counts cpu-clock and
 * task-clock as elapsed time (an hrtimer's or the task's clock), and
 * exclude_user / exclude_kernel / exclude_guest / exclude_host only filter
 * their *samples* (perf_exclude_event looks at the interrupted registers).
 * In counting mode `cpu-clock:u` and `cpu-clock:k` both read the full time
 * (measured on Linux 6.18: 2000003639 vs 2000003989 ns over a 2 s run).
 * Such counters are opened once and their count split in the proportions of
 * the kernel's own CPU-time accounting over the same period: /proc/stat per
 * CPU for the system-wide counters, /proc/PID/task/TID/stat per VM thread
 * (whose guest_time field gives a KVM guest's share), /proc/PID/stat and
 * finally wait4()'s rusage for a counted command. Every other software
 * event (page-faults, context-switches, ...) honours exclude_user/kernel
 * (a context switch always happens in kernel mode: its :u count is 0),
 * and hardware events honour all four bits; those get one counter per
 * slice. */
#define _GNU_SOURCE
#include "stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../sampler/sampler.h"
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

/* Per event: every domain's total but idle's (to free). */
static struct stat_cell *busy_cells(const struct stat_result *r)
{
	struct stat_cell *busy = xcalloc(r->n_events ? r->n_events : 1, sizeof(*busy));
	for (size_t i = 0; i < r->n_domains; i++)
		for (size_t e = 0; !r->domains[i].is_idle && e < r->n_events; e++) {
			struct stat_cell t = stat_domain__total(&r->domains[i], e);
			stat_cell__add(&busy[e], &t);
		}
	return busy;
}

static bool has_idle(const struct stat_result *r)
{
	for (size_t i = 0; i < r->n_domains; i++)
		if (r->domains[i].is_idle)
			return true;
	return false;
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

/* ---- rendering ---- */

static double pct_of(double part, double total) { return total > 0 ? 100.0 * part / total : 0.0; }

/* In the event's display unit: msec for clock events, counts otherwise. */
static double display_value(const struct stat_event_info *ev, double v)
{
	return ev->unit == EVENT_UNIT_NS ? v / 1e6 : v;
}

static void text_cell(const struct stat_result *r, size_t e, const struct stat_cell *c, double total, FILE *out)
{
	const struct stat_event_info *ev = &r->events[e];
	double counted = stat_cell__counted_pct(c);
	char value[32], scaled[16];
	if (counted < 0) {
		snprintf(value, sizeof(value), "-");
		scaled[0] = '\0';
	} else if (c->enabled && !c->running) {
		snprintf(value, sizeof(value), "<not counted>");
		snprintf(scaled, sizeof(scaled), "(%.2f%%)", 0.0);
	} else {
		snprintf(value, sizeof(value), ev->unit == EVENT_UNIT_NS ? "%.2f" : "%.0f", display_value(ev, c->value));
		snprintf(scaled, sizeof(scaled), "(%.2f%%)", counted);
	}
	fprintf(out, " | %14s %9s %7.2f%%", value, scaled, pct_of(c->value, total));
}

static void method_text(const struct stat_result *r, const struct stat_domain *d, struct strbuf *sb)
{
	bool same = true;
	for (size_t e = 1; e < r->n_events; e++)
		same &= d->methods[e] == d->methods[0];
	for (int m = STAT_METHOD_GUEST_HOST; m <= STAT_METHOD_THREAD_ROLE; m++) {
		bool any = false, first = true;
		for (size_t e = 0; e < r->n_events; e++)
			any |= d->methods[e] == (enum stat_method)m;
		if (!any)
			continue;
		if (sb->len)
			strbuf_adds(sb, "; ");
		if (!same) {
			for (size_t e = 0; e < r->n_events; e++)
				if (d->methods[e] == (enum stat_method)m) {
					strbuf_addf(sb, "%s%s", first ? "" : ", ", r->events[e].name);
					first = false;
				}
			strbuf_adds(sb, ": ");
		}
		if (m == STAT_METHOD_GUEST_HOST)
			strbuf_adds(sb, "guest/host exclusion (:G/:H counters on the VM's threads)");
		else if (d->accel && streq(d->accel, "tcg"))
			strbuf_adds(sb, "thread role (vCPU threads' user mode = guest, other user mode = vmm, "
					"kernel mode = hypervisor)");
		else if (d->accel && streq(d->accel, "kvm"))
			strbuf_adds(sb, "thread role (vCPU guest time from the kernel's accounting = guest, "
					"user mode = vmm, kernel mode = hypervisor)");
		else
			strbuf_adds(sb, "thread role (user mode = vmm, kernel mode = hypervisor)");
	}
}

static bool any_by_time(const struct stat_result *r)
{
	for (size_t e = 0; e < r->n_events; e++)
		if (r->events[e].by_time)
			return true;
	return false;
}

void stat_result__print_text(const struct stat_result *r, FILE *out)
{
	double *totals = xcalloc(r->n_events ? r->n_events : 1, sizeof(double));
	struct stat_cell *sum = xcalloc(r->n_events ? r->n_events : 1, sizeof(struct stat_cell));

	for (size_t e = 0; e < r->n_events; e++)
		totals[e] = stat_result__total(r, e);
	if (r->interval)
		fprintf(out, "# interval %.3f-%.3f s\n", r->start_s, r->end_s);
	else if (streq(r->target, "system-wide"))
		fprintf(out, "# domprof stat: system-wide on %zu CPU%s, %.2f s\n", r->n_cpus, r->n_cpus == 1 ? "" : "s",
			r->end_s - r->start_s);
	else
		fprintf(out, "# domprof stat: %s, %.2f s\n", r->target, r->end_s - r->start_s);
	/* The legend once, with the whole run; intervals stay compact. */
	if (!r->interval)
		fprintf(out, "# value: scaled by time enabled/running; (%%): share of the time counted (100%% = not "
			     "multiplexed); last: %% of the event's total\n");
	if (any_by_time(r) && !r->interval) {
		fprintf(out, "# ");
		for (size_t e = 0, n = 0; e < r->n_events; e++)
			if (r->events[e].by_time)
				fprintf(out, "%s%s", n++ ? ", " : "", r->events[e].name);
		fprintf(out, ": split by mode in the proportions of the kernel's CPU-time accounting "
			     "(the kernel counts clock events whole)\n");
	}
	fprintf(out, "%-24s", "domain / layer");
	for (size_t e = 0; e < r->n_events; e++) {
		_cleanup_free_ char *title =
			xasprintf("%s (%s)", r->events[e].name, r->events[e].unit == EVENT_UNIT_NS ? "msec" : "count");
		fprintf(out, " | %-33.33s", title);
	}
	fputc('\n', out);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		if (d->is_vm) {
			struct strbuf sb;
			strbuf_init(&sb);
			fprintf(out, "%s (vm, %s, %s, pid %d, %zu thread%s)\n", d->name, d->vmm ? d->vmm : "?",
				d->accel ? d->accel : "?", (int)d->pid, d->n_threads, d->n_threads == 1 ? "" : "s");
			method_text(r, d, &sb);
			fprintf(out, "  split: %s\n", sb.buf);
			strbuf_release(&sb);
		} else {
			fprintf(out, "%s%s\n", d->name, d->is_idle ? " (the host's idle loop)" : "");
		}
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			fprintf(out, "  %-22s", layer__name(l));
			for (size_t e = 0; e < r->n_events; e++)
				text_cell(r, e, &d->cells[l][e], totals[e], out);
			fputc('\n', out);
		}
		for (size_t e = 0; e < r->n_events; e++) {
			struct stat_cell t = stat_domain__total(d, e);
			stat_cell__add(&sum[e], &t);
		}
		if (!d->is_idle) { /* idle's one layer is its total */
			fprintf(out, "  %-22s", "total");
			for (size_t e = 0; e < r->n_events; e++) {
				struct stat_cell t = stat_domain__total(d, e);
				text_cell(r, e, &t, totals[e], out);
			}
			fputc('\n', out);
		}
		if (d->is_vm) {
			fprintf(out, "  %-22s", "overhead");
			for (size_t e = 0; e < r->n_events; e++) {
				double o = stat_domain__overhead(d, e);
				if (o < 0)
					fprintf(out, " | %33s", "n/a (no guest work)");
				else
					fprintf(out, " | %24s %7.2f%%", "(hypervisor+vmm)/guest", 100.0 * o);
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "%-24s", "all domains");
	for (size_t e = 0; e < r->n_events; e++)
		text_cell(r, e, &sum[e], totals[e], out);
	fputc('\n', out);
	if (has_idle(r)) {
		/* Busy time: the figure people mean by "where the CPU goes". */
		struct stat_cell *busy = busy_cells(r);
		fprintf(out, "%-24s", "all but idle (busy)");
		for (size_t e = 0; e < r->n_events; e++)
			text_cell(r, e, &busy[e], totals[e], out);
		fputc('\n', out);
		free(busy);
	}
	free(sum);
	free(totals);
}

static void csv_number(struct strbuf *sb, const struct stat_cell *c)
{
	double counted = stat_cell__counted_pct(c);
	if (counted < 0)
		strbuf_adds(sb, ",0,");
	else
		strbuf_addf(sb, ",%.0f,%.2f", c->value, counted);
}

void stat_result__print_csv(const struct stat_result *r, bool header, bool with_time, FILE *out)
{
	struct strbuf sb;
	strbuf_init(&sb);
	if (header) {
		strbuf_adds(&sb, with_time ? "time,domain,layer" : "domain,layer");
		for (size_t e = 0; e < r->n_events; e++) {
			_cleanup_free_ char *v = xasprintf("%s:value", r->events[e].name);
			_cleanup_free_ char *p = xasprintf("%s:scaled_pct", r->events[e].name);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, v);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, p);
		}
		strbuf_addc(&sb, '\n');
	}
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			if (with_time) {
				if (r->interval)
					strbuf_addf(&sb, "%.3f,", r->end_s);
				else
					strbuf_adds(&sb, "total,");
			}
			strbuf_add_csv(&sb, d->name);
			strbuf_addf(&sb, ",%s", layer__name(l));
			for (size_t e = 0; e < r->n_events; e++)
				csv_number(&sb, &d->cells[l][e]);
			strbuf_addc(&sb, '\n');
		}
	}
	fputs(sb.buf, out);
	strbuf_release(&sb);
}

static void json_cell(struct strbuf *sb, const struct stat_cell *c, double total)
{
	double counted = stat_cell__counted_pct(c);
	strbuf_addf(sb, "{\"value\": %.0f, \"scaled_pct\": ", c->value);
	if (counted < 0)
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.2f", counted);
	strbuf_addf(sb, ", \"share_pct\": %.4f}", pct_of(c->value, total));
}

static void json_cells(struct strbuf *sb, const struct stat_result *r, const struct stat_cell *cells,
		       const double *totals)
{
	bool first = true;
	strbuf_addc(sb, '{');
	for (size_t e = 0; e < r->n_events; e++) {
		if (!first)
			strbuf_adds(sb, ", ");
		first = false;
		strbuf_add_json(sb, r->events[e].name);
		strbuf_adds(sb, ": ");
		json_cell(sb, &cells[e], totals[e]);
	}
	strbuf_addc(sb, '}');
}

void stat_result__print_json(const struct stat_result *r, bool one_line, FILE *out)
{
	const char *nl = one_line ? "" : "\n";
	const char *ind1 = one_line ? "" : "  ";
	const char *ind2 = one_line ? "" : "    ";
	const char *ind3 = one_line ? " " : "\n     ";
	double *totals = xcalloc(r->n_events ? r->n_events : 1, sizeof(double));
	struct stat_cell *sum = xcalloc(r->n_events ? r->n_events : 1, sizeof(struct stat_cell));
	struct strbuf sb;

	for (size_t e = 0; e < r->n_events; e++)
		totals[e] = stat_result__total(r, e);
	strbuf_init(&sb);
	strbuf_addf(&sb, "{%s%s\"format\": \"domprof-stat\", \"version\": 1,%s%s\"target\": ", nl, ind1, nl, ind1);
	strbuf_add_json(&sb, r->target);
	strbuf_addf(&sb, ", \"cpus\": %zu, \"interval\": %s, \"start_s\": %.3f, \"end_s\": %.3f,%s%s\"events\": [",
		    r->n_cpus, r->interval ? "true" : "false", r->start_s, r->end_s, nl, ind1);
	for (size_t e = 0; e < r->n_events; e++) {
		strbuf_adds(&sb, e ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(&sb, r->events[e].name);
		strbuf_addf(&sb, ", \"unit\": \"%s\", \"split\": \"%s\"}", r->events[e].unit == EVENT_UNIT_NS ? "ns" : "count",
			    r->events[e].by_time ? "cpu-time-accounting" : "counters");
	}
	strbuf_addf(&sb, "],%s%s\"domains\": [", nl, ind1);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct stat_domain *d = &r->domains[i];
		bool first = true;
		strbuf_addf(&sb, "%s%s%s{\"name\": ", i ? "," : "", nl, ind2);
		strbuf_add_json(&sb, d->name);
		strbuf_addf(&sb, ", \"kind\": \"%s\"", domain_kind__name(domain_kind__of(d->is_vm, d->is_idle)));
		if (d->is_vm) {
			strbuf_addf(&sb, ", \"pid\": %d, \"vmm\": ", (int)d->pid);
			strbuf_add_json(&sb, d->vmm ? d->vmm : "unknown");
			strbuf_adds(&sb, ", \"accel\": ");
			strbuf_add_json(&sb, d->accel ? d->accel : "unknown");
			strbuf_addf(&sb, ", \"threads\": %zu, \"method\": {", d->n_threads);
			for (size_t e = 0; e < r->n_events; e++) {
				if (e)
					strbuf_adds(&sb, ", ");
				strbuf_add_json(&sb, r->events[e].name);
				strbuf_addf(&sb, ": \"%s\"", stat_method__name(d->methods[e]));
			}
			strbuf_adds(&sb, "}");
		}
		strbuf_addf(&sb, ",%s\"layers\": {", ind3);
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer l = layer__display_order[k];
			if (!d->cells[l])
				continue;
			strbuf_addf(&sb, "%s\"%s\": ", first ? "" : ", ", layer__name(l));
			first = false;
			json_cells(&sb, r, d->cells[l], totals);
		}
		strbuf_adds(&sb, "}");
		{
			struct stat_cell *t = xcalloc(r->n_events ? r->n_events : 1, sizeof(*t));
			for (size_t e = 0; e < r->n_events; e++) {
				t[e] = stat_domain__total(d, e);
				stat_cell__add(&sum[e], &t[e]);
			}
			strbuf_addf(&sb, ",%s\"total\": ", ind3);
			json_cells(&sb, r, t, totals);
			free(t);
		}
		if (d->is_vm) {
			strbuf_addf(&sb, ",%s\"overhead\": {", ind3);
			for (size_t e = 0; e < r->n_events; e++) {
				double o = stat_domain__overhead(d, e);
				if (e)
					strbuf_adds(&sb, ", ");
				strbuf_add_json(&sb, r->events[e].name);
				if (o < 0)
					strbuf_adds(&sb, ": null");
				else
					strbuf_addf(&sb, ": %.6f", o);
			}
			strbuf_adds(&sb, "}");
		}
		strbuf_adds(&sb, "}");
	}
	strbuf_addf(&sb, "%s%s],%s%s\"total\": ", nl, ind1, nl, ind1);
	json_cells(&sb, r, sum, totals);
	{
		struct stat_cell *busy = busy_cells(r);
		strbuf_addf(&sb, ",%s%s\"busy\": ", nl, ind1);
		json_cells(&sb, r, busy, totals);
		free(busy);
	}
	strbuf_addf(&sb, "%s}\n", nl);
	fputs(sb.buf, out);
	strbuf_release(&sb);
	free(sum);
	free(totals);
}

/* ---- the counters ---- */

enum source_kind {
	SOURCE_CPU,     /* /proc/stat, line cpuN */
	SOURCE_THREAD,  /* /proc/PID/task/TID/stat */
	SOURCE_PROCESS, /* /proc/PID/stat with reaped children; rusage at the end */
};

/* Where a clock counter's split comes from, and its readings: at enable
 * (or when found), at the previous read, now. */
struct time_source {
	enum source_kind kind;
	int cpu;
	pid_t pid, tid;
	struct stat_cputime start, prev, now;
	bool final; /* the task is gone: now will not change */
};

enum counter_owner {
	OWNER_SYSTEM, /* per-CPU, system-wide: the host after subtraction */
	OWNER_TARGET, /* a command or a non-VM process: the host */
	OWNER_VM,
};

struct counter {
	int fd;
	size_t event;
	enum stat_split split;
	enum counter_owner owner;
	size_t vm, thread; /* OWNER_VM */
	size_t source;     /* time source of a clock counter; SIZE_MAX for none */
	struct stat_reading start, prev, now;
};

struct vm_thread_state {
	pid_t tid;
	enum thread_role role;
};

struct vm_state {
	pid_t pid;
	char *name;
	enum vmm_kind kind;
	char *accel;
	bool tcg;
	enum stat_method *methods; /* per event */
	struct vm_thread_state *threads;
	size_t n_threads, cap_threads;
};

struct stat_counters {
	const struct event_spec *events;
	size_t n_events;
	bool system_wide;
	pid_t target;       /* -p PID or the command */
	bool target_command;
	bool target_is_vm;
	bool target_exited; /* the command was reaped */
	bool enabled;
	int *cpus;
	size_t n_cpus;
	uint64_t tick_ns;
	struct vm_force *forced;
	size_t n_forced;
	struct counter *counters;
	size_t n_counters, cap_counters;
	struct time_source *sources;
	size_t n_sources, cap_sources;
	struct vm_state *vms;
	size_t n_vms, cap_vms;
	char **warnings;
	size_t n_warnings, cap_warnings, next_warning;
	uint64_t enable_ns, prev_ns;
};

static int perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static void add_warning(struct stat_counters *s, char *text)
{
	ARRAY_GROW(s->warnings, s->cap_warnings, s->n_warnings + 1);
	s->warnings[s->n_warnings++] = text;
}

const char *stat_counters__next_warning(struct stat_counters *s)
{
	return s->next_warning < s->n_warnings ? s->warnings[s->next_warning++] : NULL;
}


static size_t add_source(struct stat_counters *s, enum source_kind kind, int cpu, pid_t pid, pid_t tid)
{
	struct time_source *t;
	ARRAY_GROW(s->sources, s->cap_sources, s->n_sources + 1);
	t = &s->sources[s->n_sources];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->cpu = cpu;
	t->pid = pid;
	t->tid = tid;
	return s->n_sources++;
}

static int read_task_cputime(pid_t pid, pid_t tid, bool children, uint64_t tick_ns, struct stat_cputime *ret)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int r;
	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = read_file(path, &text, NULL);
	if (r < 0)
		return r;
	return stat_cputime__parse_task_stat(text, tick_ns, children, ret);
}

/* Read every source now; sources of gone tasks keep their last reading. */
static void sources_read(struct stat_counters *s)
{
	_cleanup_free_ char *procstat = NULL;
	bool have_procstat = false;
	for (size_t i = 0; i < s->n_sources; i++) {
		struct time_source *t = &s->sources[i];
		if (t->final)
			continue;
		if (t->kind == SOURCE_CPU) {
			char key[32];
			const char *line;
			if (!have_procstat) {
				have_procstat = read_file("/proc/stat", &procstat, NULL) == 0;
				if (!have_procstat)
					continue;
			}
			snprintf(key, sizeof(key), "\ncpu%d ", t->cpu);
			line = strstr(procstat, key);
			if (line)
				stat_cputime__parse_cpu_line(line + 1, s->tick_ns, &t->now);
		} else if (t->kind == SOURCE_THREAD) {
			if (read_task_cputime(t->pid, t->tid, false, s->tick_ns, &t->now) < 0)
				t->final = true;
		} else if (!s->target_exited) {
			/* A reaped command's final figures came from rusage. */
			if (read_task_cputime(t->pid, 0, true, s->tick_ns, &t->now) < 0)
				t->final = true;
		}
	}
}

void stat_counters__command_exited(struct stat_counters *s, const struct rusage *ru)
{
	s->target_exited = true;
	for (size_t i = 0; i < s->n_sources; i++)
		if (s->sources[i].kind == SOURCE_PROCESS) {
			stat_cputime__from_rusage(ru, &s->sources[i].now);
			s->sources[i].final = true;
		}
}

bool stat_counters__target_gone(const struct stat_counters *s)
{
	char path[32];
	if (!s->target || s->target_command)
		return false;
	snprintf(path, sizeof(path), "/proc/%d", (int)s->target);
	return access(path, F_OK) != 0;
}

/* Open one counter. -ESRCH quietly when the task is already gone. */
static int open_counter(struct stat_counters *s, size_t event, enum stat_split split, enum counter_owner owner,
			pid_t tid, int cpu, bool inherit, bool enable_on_exec, size_t vm, size_t thread, size_t source)
{
	struct perf_event_attr attr;
	struct counter *c;
	int fd;

	if (!stat_attr__build(&s->events[event], split, &attr))
		return 0; /* the event's own modifiers leave nothing for this slice */
	attr.inherit = inherit;
	attr.enable_on_exec = enable_on_exec;
	/* Counters found after the start run from the moment they are opened. */
	attr.disabled = !s->enabled || enable_on_exec;
	fd = perf_event_open(&attr, tid, cpu);
	if (fd < 0)
		return -errno;
	ARRAY_GROW(s->counters, s->cap_counters, s->n_counters + 1);
	c = &s->counters[s->n_counters++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->event = event;
	c->split = split;
	c->owner = owner;
	c->vm = vm;
	c->thread = thread;
	c->source = source;
	return 0;
}

/* The slices to count an event in, for one owner. */
static size_t splits_for(const struct stat_counters *s, size_t event, enum stat_method method, bool vcpu,
			 enum stat_split *ret)
{
	size_t n = 0;
	if (stat_event__splits_by_time(&s->events[event])) {
		ret[n++] = STAT_SPLIT_ALL;
	} else if (method == STAT_METHOD_GUEST_HOST) {
		/* Only vCPU threads ever run in guest mode. */
		if (vcpu) {
			ret[n++] = STAT_SPLIT_GUEST_USER;
			ret[n++] = STAT_SPLIT_GUEST_KERNEL;
		}
		ret[n++] = STAT_SPLIT_HOST_USER;
		ret[n++] = STAT_SPLIT_HOST_KERNEL;
	} else {
		ret[n++] = STAT_SPLIT_USER;
		ret[n++] = STAT_SPLIT_KERNEL;
	}
	return n;
}

static int open_thread_counters(struct stat_counters *s, size_t vm_index, size_t thread_index,
				struct stat_open_error *err)
{
	struct vm_state *vm = &s->vms[vm_index];
	struct vm_thread_state *th = &vm->threads[thread_index];
	size_t source = SIZE_MAX;
	pid_t pid = th->role == ROLE_BACKEND ? th->tid : vm->pid;

	for (size_t e = 0; e < s->n_events; e++) {
		enum stat_split splits[4];
		size_t n = splits_for(s, e, vm->methods[e], th->role == ROLE_VCPU, splits);
		for (size_t k = 0; k < n; k++) {
			int r;
			if (splits[k] == STAT_SPLIT_ALL && source == SIZE_MAX) {
				struct time_source *t;
				source = add_source(s, SOURCE_THREAD, -1, pid, th->tid);
				t = &s->sources[source];
				if (read_task_cputime(pid, th->tid, false, s->tick_ns, &t->now) < 0)
					t->final = true;
				t->start = t->prev = t->now;
			}
			r = open_counter(s, e, splits[k], OWNER_VM, th->tid, -1, false, false, vm_index, thread_index,
					 splits[k] == STAT_SPLIT_ALL ? source : SIZE_MAX);
			if (r < 0) {
				if (err)
					*err = (struct stat_open_error){ .event = (int)e, .cpu = -1, .tid = th->tid };
				return r;
			}
		}
	}
	return 0;
}

/* Whether the kernel and PMU count a VM's thread in guest mode only: a
 * hardware event, a KVM guest (emulated guests never enter guest mode), and
 * a counter with exclude_host that the kernel accepts on the thread. */
static enum stat_method choose_method(const struct stat_counters *s, size_t event, const struct vm_info *info)
{
	const struct event_spec *e = &s->events[event];
	pid_t tid = info->pid;
	if (!stat_event__can_split_guest(e) || !info->accel || !streq(info->accel, "kvm"))
		return STAT_METHOD_THREAD_ROLE;
	for (size_t i = 0; i < info->n_threads; i++)
		if (info->threads[i].vcpu >= 0) {
			tid = info->threads[i].tid;
			break;
		}
	for (enum stat_split sp = STAT_SPLIT_GUEST_USER; sp <= STAT_SPLIT_HOST_KERNEL; sp++) {
		struct perf_event_attr attr;
		int fd;
		if (!stat_attr__build(e, sp, &attr))
			continue;
		fd = perf_event_open(&attr, tid, -1);
		if (fd < 0)
			return STAT_METHOD_THREAD_ROLE;
		close(fd);
		return STAT_METHOD_GUEST_HOST;
	}
	return STAT_METHOD_THREAD_ROLE;
}

static enum thread_role role_of(const struct vm_info *info, pid_t tid)
{
	for (size_t i = 0; i < info->n_threads; i++)
		if (info->threads[i].tid == tid)
			return info->threads[i].vcpu >= 0 ? ROLE_VCPU
			       : info->threads[i].backend ? ROLE_BACKEND
							  : ROLE_VMM;
	return ROLE_VMM;
}

static struct vm_thread_state *vm_find_thread(struct vm_state *vm, pid_t tid)
{
	for (size_t i = 0; i < vm->n_threads; i++)
		if (vm->threads[i].tid == tid)
			return &vm->threads[i];
	return NULL;
}

static int vm_add_thread(struct stat_counters *s, size_t vm_index, pid_t tid, enum thread_role role, bool strict,
			 struct stat_open_error *err)
{
	struct vm_state *vm = &s->vms[vm_index];
	int r;
	ARRAY_GROW(vm->threads, vm->cap_threads, vm->n_threads + 1);
	vm->threads[vm->n_threads] = (struct vm_thread_state){ .tid = tid, .role = role };
	r = open_thread_counters(s, vm_index, vm->n_threads, err);
	/* Counters that did open refer to the thread by index: keep it even
	 * when it exited between the scan and the open (-ESRCH). */
	vm->n_threads++;
	if (r == -ESRCH)
		return 0;
	if (r < 0 && !strict) {
		add_warning(s, xasprintf("VM %s: cannot count new thread %d: %s; its work counts as the host's",
					 vm->name, (int)tid, strerror(-r)));
		return 0;
	}
	return r < 0 ? r : 1;
}

/* Bring one VM's thread list up to date; strict: errors fail (at start). */
static int vm_update(struct stat_counters *s, const struct vm_info *info, bool strict, struct stat_open_error *err)
{
	struct vm_state *vm = NULL;
	size_t vm_index;
	char path[64];
	DIR *d;
	struct dirent *de;
	int added = 0, r;

	for (vm_index = 0; vm_index < s->n_vms; vm_index++)
		if (s->vms[vm_index].pid == info->pid) {
			vm = &s->vms[vm_index];
			break;
		}
	if (!vm) {
		ARRAY_GROW(s->vms, s->cap_vms, s->n_vms + 1);
		vm_index = s->n_vms++;
		vm = &s->vms[vm_index];
		memset(vm, 0, sizeof(*vm));
		vm->pid = info->pid;
		vm->name = xstrdup(info->name);
		vm->kind = info->kind;
		vm->accel = xstrdup(info->accel ? info->accel : "unknown");
		vm->tcg = streq(vm->accel, "tcg");
		vm->methods = xcalloc(s->n_events, sizeof(*vm->methods));
		for (size_t e = 0; e < s->n_events; e++)
			vm->methods[e] = choose_method(s, e, info);
	}

	snprintf(path, sizeof(path), "/proc/%d/task", (int)info->pid);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			uint64_t t;
			enum thread_role role;
			struct vm_thread_state *th;
			if (parse_u64(de->d_name, 10, &t) < 0)
				continue;
			role = role_of(info, (pid_t)t);
			th = vm_find_thread(&s->vms[vm_index], (pid_t)t);
			if (th) {
				/* Scanned before QEMU named it: a vCPU from now on. */
				if (role == ROLE_VCPU)
					th->role = role;
				continue;
			}
			r = vm_add_thread(s, vm_index, (pid_t)t, role, strict, err);
			if (r < 0) {
				closedir(d);
				return r;
			}
			added += r;
		}
		closedir(d);
	}
	/* Backend threads that are processes of their own (vhost-PID). */
	for (size_t i = 0; i < info->n_threads; i++) {
		if (!info->threads[i].backend || vm_find_thread(&s->vms[vm_index], info->threads[i].tid))
			continue;
		r = vm_add_thread(s, vm_index, info->threads[i].tid, ROLE_BACKEND, strict, err);
		if (r < 0)
			return r;
		added += r;
	}
	return added;
}

static int rescan(struct stat_counters *s, bool strict, struct stat_open_error *err)
{
	struct vm_info *infos = NULL;
	size_t n = 0;
	int added = 0;
	int r;

	if (!s->system_wide && !s->target_is_vm)
		return 0;
	r = vms__scan(s->forced, s->n_forced, &infos, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (s->target_is_vm && infos[i].pid != s->target)
			continue;
		r = vm_update(s, &infos[i], strict, err);
		if (r < 0) {
			vms__free(infos, n);
			return r;
		}
		added += r;
	}
	vms__free(infos, n);
	return added;
}

int stat_counters__rescan(struct stat_counters *s) { return rescan(s, false, NULL); }

static int open_system(struct stat_counters *s, struct stat_open_error *err)
{
	for (size_t c = 0; c < s->n_cpus; c++) {
		size_t source = SIZE_MAX;
		for (size_t e = 0; e < s->n_events; e++) {
			enum stat_split splits[4];
			size_t n = splits_for(s, e, STAT_METHOD_NONE, false, splits);
			for (size_t k = 0; k < n; k++) {
				int r;
				if (splits[k] == STAT_SPLIT_ALL && source == SIZE_MAX)
					source = add_source(s, SOURCE_CPU, s->cpus[c], 0, 0);
				r = open_counter(s, e, splits[k], OWNER_SYSTEM, -1, s->cpus[c], false, false, 0, 0,
						 splits[k] == STAT_SPLIT_ALL ? source : SIZE_MAX);
				if (r < 0) {
					*err = (struct stat_open_error){ .event = (int)e, .cpu = s->cpus[c], .tid = -1 };
					return r;
				}
			}
		}
	}
	return 0;
}

/* A command (one inherited counter on it, from its exec) or a process
 * (one inherited counter per thread it has now). */
static int open_target(struct stat_counters *s, struct stat_open_error *err)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n_tids = 0;
	size_t source = add_source(s, SOURCE_PROCESS, -1, s->target, 0);
	int r;

	if (s->target_command) {
		tids = xmalloc(sizeof(*tids));
		tids[0] = s->target;
		n_tids = 1;
	} else {
		r = proc_threads(s->target, &tids, &n_tids);
		if (r < 0) {
			*err = (struct stat_open_error){ .event = -1, .cpu = -1, .tid = s->target };
			return r;
		}
	}
	for (size_t t = 0; t < n_tids; t++)
		for (size_t e = 0; e < s->n_events; e++) {
			enum stat_split splits[4];
			size_t n = splits_for(s, e, STAT_METHOD_NONE, false, splits);
			for (size_t k = 0; k < n; k++) {
				r = open_counter(s, e, splits[k], OWNER_TARGET, tids[t], -1, true, s->target_command, 0,
						 0, splits[k] == STAT_SPLIT_ALL ? source : SIZE_MAX);
				if (r == -ESRCH && !s->target_command && t > 0)
					continue; /* a thread that just exited */
				if (r < 0) {
					*err = (struct stat_open_error){ .event = (int)e, .cpu = -1, .tid = tids[t] };
					return r;
				}
			}
		}
	return 0;
}

static bool pid_is_vm(const struct stat_config *cfg, pid_t pid)
{
	struct vm_info *infos = NULL;
	size_t n = 0;
	bool found = false;
	if (vms__scan(cfg->forced, cfg->n_forced, &infos, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		found |= infos[i].pid == pid;
	vms__free(infos, n);
	return found;
}

int stat_counters__open(const struct stat_config *cfg, struct stat_counters **ret, struct stat_open_error *ret_error)
{
	struct stat_counters *s;
	struct stat_open_error err = { .event = -1, .cpu = -1, .tid = -1 };
	long tck = sysconf(_SC_CLK_TCK);
	int r;

	if (!cfg->n_events || (!cfg->system_wide && !cfg->pid && !cfg->command))
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->events = cfg->events;
	s->n_events = cfg->n_events;
	s->system_wide = cfg->system_wide;
	s->tick_ns = tck > 0 ? 1000000000ULL / (uint64_t)tck : 10000000ULL;
	if (cfg->n_forced) {
		s->forced = xcalloc(cfg->n_forced, sizeof(*s->forced));
		for (size_t i = 0; i < cfg->n_forced; i++)
			s->forced[i] = (struct vm_force){ .name = xstrdup(cfg->forced[i].name), .pid = cfg->forced[i].pid };
		s->n_forced = cfg->n_forced;
	}
	r = cpus__online(&s->cpus, &s->n_cpus);
	if (r < 0)
		goto fail;

	if (cfg->system_wide) {
		r = open_system(s, &err);
		if (r < 0)
			goto fail;
		if (cfg->command) {
			/* -a with a command: system-wide while it runs. */
			s->target = cfg->command;
			s->target_command = true;
		}
	} else if (cfg->command) {
		s->target = cfg->command;
		s->target_command = true;
		r = open_target(s, &err);
		if (r < 0)
			goto fail;
	} else {
		s->target = cfg->pid;
		s->target_is_vm = pid_is_vm(cfg, cfg->pid);
		if (!s->target_is_vm) {
			r = open_target(s, &err);
			if (r < 0)
				goto fail;
		}
	}
	r = rescan(s, true, &err);
	if (r < 0)
		goto fail;
	if (s->target_is_vm && !s->n_vms) {
		err = (struct stat_open_error){ .event = -1, .cpu = -1, .tid = cfg->pid };
		r = -ESRCH;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	if (ret_error)
		*ret_error = err;
	stat_counters__free(s);
	return r;
}

void stat_counters__free(struct stat_counters *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_counters; i++)
		close(s->counters[i].fd);
	for (size_t i = 0; i < s->n_vms; i++) {
		free(s->vms[i].name);
		free(s->vms[i].accel);
		free(s->vms[i].methods);
		free(s->vms[i].threads);
	}
	for (size_t i = 0; i < s->n_forced; i++)
		free((char *)s->forced[i].name);
	for (size_t i = 0; i < s->n_warnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	free(s->forced);
	free(s->vms);
	free(s->sources);
	free(s->counters);
	free(s->cpus);
	free(s);
}

int stat_counters__enable(struct stat_counters *s)
{
	for (size_t i = 0; i < s->n_counters; i++) {
		struct counter *c = &s->counters[i];
		/* A command's counters start at its exec (enable_on_exec). */
		if (c->owner == OWNER_TARGET && s->target_command)
			continue;
		if (ioctl(c->fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
			return -errno;
	}
	s->enabled = true;
	s->enable_ns = s->prev_ns = clock_monotonic_ns();
	sources_read(s);
	for (size_t i = 0; i < s->n_sources; i++)
		s->sources[i].start = s->sources[i].prev = s->sources[i].now;
	return 0;
}

static void counter_read(struct counter *c)
{
	uint64_t v[3];
	if (read(c->fd, v, sizeof(v)) == (ssize_t)sizeof(v))
		c->now = (struct stat_reading){ .value = v[0], .enabled = v[1], .running = v[2] };
}

/* Accumulators of one result while counters are folded in. */
struct fold {
	struct stat_result *r;
	struct stat_cell *sys_user, *sys_kernel, *sys_idle; /* per event */
	size_t *vm_domain;                                  /* domain index of each VM */
	bool from_start;
};

static void fold_init(struct stat_counters *s, struct fold *f, struct stat_result *r, bool from_start, uint64_t now_ns)
{
	size_t ne = s->n_events ? s->n_events : 1;
	memset(f, 0, sizeof(*f));
	f->r = r;
	f->from_start = from_start;
	stat_result__init(r, s->events, s->n_events);
	r->n_cpus = s->n_cpus;
	r->target = s->system_wide ? "system-wide" : s->target_command ? "command" : "process";
	r->interval = !from_start;
	r->start_s = from_start ? 0.0 : (double)(s->prev_ns - s->enable_ns) / 1e9;
	r->end_s = (double)(now_ns - s->enable_ns) / 1e9;
	f->sys_user = xcalloc(ne, sizeof(struct stat_cell));
	f->sys_kernel = xcalloc(ne, sizeof(struct stat_cell));
	f->sys_idle = xcalloc(ne, sizeof(struct stat_cell));
	if (!s->system_wide && !s->target_is_vm) {
		struct stat_domain *host = stat_result__add_domain(r, DOMAIN_NAME_HOST, false);
		stat_domain__layer(host, r, LAYER_USER);
		stat_domain__layer(host, r, LAYER_KERNEL);
	}
	f->vm_domain = xcalloc(s->n_vms ? s->n_vms : 1, sizeof(size_t));
	for (size_t i = 0; i < s->n_vms; i++) {
		const struct vm_state *vm = &s->vms[i];
		struct stat_domain *d = stat_result__add_domain(r, vm->name, true);
		f->vm_domain[i] = r->n_domains - 1;
		d->pid = vm->pid;
		d->vmm = xstrdup(vmm_kind__name(vm->kind));
		d->accel = xstrdup(vm->accel);
		d->n_threads = vm->n_threads;
		memcpy(d->methods, vm->methods, s->n_events * sizeof(*d->methods));
		/* The layers each method can fill, shown even when zero. */
		for (size_t e = 0; e < s->n_events; e++) {
			if (vm->methods[e] == STAT_METHOD_GUEST_HOST) {
				stat_domain__layer(d, r, LAYER_GUEST_USER);
				stat_domain__layer(d, r, LAYER_GUEST_KERNEL);
			} else {
				stat_domain__layer(d, r, LAYER_GUEST);
			}
			stat_domain__layer(d, r, LAYER_VMM);
			stat_domain__layer(d, r, LAYER_HYPERVISOR);
		}
	}
}

static void cell_add(struct stat_cell *to, double value, const struct stat_reading *d)
{
	to->counted = true;
	to->value += value;
	to->enabled += d->enabled;
	to->running += d->running;
}

static void fold_counter(struct stat_counters *s, struct fold *f, const struct counter *c)
{
	const struct event_spec *ev = &s->events[c->event];
	struct stat_reading d = stat_reading__delta(&c->now, f->from_start ? &c->start : &c->prev);
	double v = stat_reading__scaled(&d);
	struct stat_domain *dom = NULL;
	size_t e = c->event;

	if (c->owner == OWNER_VM)
		dom = &f->r->domains[f->vm_domain[c->vm]];
	else if (c->owner == OWNER_TARGET)
		dom = &f->r->domains[0];

	if (c->split == STAT_SPLIT_ALL) {
		const struct time_source *t = &s->sources[c->source];
		struct stat_cputime dt = stat_cputime__delta(&t->now, f->from_start ? &t->start : &t->prev);
		struct stat_time_split sp = stat_cputime__apportion(v, &dt, &t->now);
		/* The kernel ignores :u/:k on clock events; honour them here. */
		if (ev->attr.exclude_user)
			sp.user = sp.guest = 0;
		if (ev->attr.exclude_kernel)
			sp.system = sp.idle = 0;
		if (c->owner == OWNER_VM) {
			const struct vm_state *vm = &s->vms[c->vm];
			enum thread_role role = vm->threads[c->thread].role;
			cell_add(&dom->cells[LAYER_GUEST][e], sp.guest, &d);
			cell_add(&dom->cells[stat_thread__layer(role, vm->tcg, true)][e], sp.user, &d);
			cell_add(&dom->cells[LAYER_HYPERVISOR][e], sp.system, &d);
		} else if (c->owner == OWNER_SYSTEM) {
			cell_add(&f->sys_user[e], sp.user + sp.guest, &d);
			cell_add(&f->sys_kernel[e], sp.system, &d);
			cell_add(&f->sys_idle[e], sp.idle, &d);
		} else {
			cell_add(&dom->cells[LAYER_USER][e], sp.user + sp.guest, &d);
			cell_add(&dom->cells[LAYER_KERNEL][e], sp.system + sp.idle, &d);
		}
		return;
	}
	if (c->owner == OWNER_VM) {
		const struct vm_state *vm = &s->vms[c->vm];
		enum layer l = stat_split__vm_layer(c->split, vm->methods[e], vm->threads[c->thread].role, vm->tcg);
		cell_add(&stat_domain__layer(dom, f->r, l)[e], v, &d);
	} else if (c->owner == OWNER_SYSTEM) {
		cell_add(c->split == STAT_SPLIT_USER ? &f->sys_user[e] : &f->sys_kernel[e], v, &d);
	} else {
		cell_add(&dom->cells[c->split == STAT_SPLIT_USER ? LAYER_USER : LAYER_KERNEL][e], v, &d);
	}
}

static void fold_finish(struct stat_counters *s, struct fold *f)
{
	if (s->system_wide)
		stat_result__derive_host(f->r, f->sys_user, f->sys_kernel, f->sys_idle);
	free(f->sys_user);
	free(f->sys_kernel);
	free(f->sys_idle);
	free(f->vm_domain);
}

int stat_counters__read(struct stat_counters *s, struct stat_result *ret_interval, struct stat_result *ret_total)
{
	struct fold fi, ft;
	uint64_t now_ns = clock_monotonic_ns();

	for (size_t i = 0; i < s->n_counters; i++)
		counter_read(&s->counters[i]);
	sources_read(s);
	if (ret_interval)
		fold_init(s, &fi, ret_interval, false, now_ns);
	if (ret_total)
		fold_init(s, &ft, ret_total, true, now_ns);
	for (size_t i = 0; i < s->n_counters; i++) {
		if (ret_interval)
			fold_counter(s, &fi, &s->counters[i]);
		if (ret_total)
			fold_counter(s, &ft, &s->counters[i]);
	}
	if (ret_interval)
		fold_finish(s, &fi);
	if (ret_total)
		fold_finish(s, &ft);
	for (size_t i = 0; i < s->n_counters; i++)
		s->counters[i].prev = s->counters[i].now;
	for (size_t i = 0; i < s->n_sources; i++)
		s->sources[i].prev = s->sources[i].now;
	s->prev_ns = now_ns;
	return 0;
}

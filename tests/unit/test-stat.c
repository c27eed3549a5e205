/* Counting mode: the scaling arithmetic, the attrs of each guest/host and
 * user/kernel slice, splitting clock time by the kernel's CPU-time
 * accounting (and parsing /proc for it), the thread-role classification,
 * the host as system-wide totals minus the VMs, the three output formats
 * from given numbers, and the counters on a real process that calls
 * itself a QEMU with a "CPU 0/TCG" thread. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/stat/stat.h"
#include "lib/util/util.h"

static struct event_spec parse(const char *text)
{
	struct event_spec e;
	char *err = NULL;
	if (event_spec__parse(text, NULL, &e, &err) < 0)
		fail_msg("%s: %s", text, err);
	return e;
}

/* ---- scaling ---- */

static void test_scaling(void **state)
{
	struct stat_reading r = { .value = 1000, .enabled = 200, .running = 100 };
	struct stat_reading a = { 5000, 900, 300 }, b = { 2000, 300, 100 }, d;
	assert_true(stat_reading__scaled(&r) == 2000.0);
	r = (struct stat_reading){ 1000, 400, 300 };
	assert_true(fabs(stat_reading__scaled(&r) - 1333.333333333) < 1e-6);
	r = (struct stat_reading){ 1000, 500, 500 };
	assert_true(stat_reading__scaled(&r) == 1000.0);
	/* Never ran: nothing to extrapolate from. */
	r = (struct stat_reading){ 0, 500, 0 };
	assert_true(stat_reading__scaled(&r) == 0.0);
	/* The progress over an interval is scaled by the interval's own times. */
	d = stat_reading__delta(&a, &b);
	assert_int_equal(d.value, 3000);
	assert_int_equal(d.enabled, 600);
	assert_int_equal(d.running, 200);
	assert_true(stat_reading__scaled(&d) == 9000.0);
	d = stat_reading__delta(&b, &a);
	assert_int_equal(d.value, 0);
	assert_int_equal(d.running, 0);

	struct stat_cell c = { 10, 400, 300, true };
	assert_true(stat_cell__counted_pct(&c) == 75.0);
	c = (struct stat_cell){ 0, 0, 0, false };
	assert_true(stat_cell__counted_pct(&c) == -1.0);
	/* A task counter of a task that never ran: counted, a true 0. */
	c = (struct stat_cell){ 0, 0, 0, true };
	assert_true(stat_cell__counted_pct(&c) == 100.0);
}

/* ---- attrs ---- */

static void check_attr(const char *spec, enum stat_split split, int eu, int ek, int eg, int eh)
{
	struct event_spec e = parse(spec);
	struct perf_event_attr a;
	assert_true(stat_attr__build(&e, split, &a));
	if (a.exclude_user != (unsigned)eu || a.exclude_kernel != (unsigned)ek || a.exclude_guest != (unsigned)eg ||
	    a.exclude_host != (unsigned)eh)
		fail_msg("%s/%s: exclude user %u kernel %u guest %u host %u, want %d %d %d %d", spec,
			 stat_split__name(split), a.exclude_user, a.exclude_kernel, a.exclude_guest, a.exclude_host, eu, ek,
			 eg, eh);
	assert_int_equal(a.type, e.attr.type);
	assert_int_equal(a.config, e.attr.config);
	assert_int_equal(a.size, sizeof(a));
	/* Counting, not sampling. */
	assert_int_equal(a.sample_period, 0);
	assert_int_equal(a.freq, 0);
	assert_int_equal(a.precise_ip, 0);
	assert_int_equal(a.read_format, PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING);
	assert_int_equal(a.disabled, 1);
	event_spec__release(&e);
}

static void check_no_attr(const char *spec, enum stat_split split)
{
	struct event_spec e = parse(spec);
	struct perf_event_attr a;
	if (stat_attr__build(&e, split, &a))
		fail_msg("%s/%s should leave nothing to count", spec, stat_split__name(split));
	event_spec__release(&e);
}

static void test_attrs(void **state)
{
	/*                                 eu ek eg eh */
	check_attr("cycles", STAT_SPLIT_ALL, 0, 0, 0, 0);
	check_attr("cycles", STAT_SPLIT_USER, 0, 1, 0, 0);
	check_attr("cycles", STAT_SPLIT_KERNEL, 1, 0, 0, 0);
	check_attr("cycles", STAT_SPLIT_GUEST_USER, 0, 1, 0, 1);
	check_attr("cycles", STAT_SPLIT_GUEST_KERNEL, 1, 0, 0, 1);
	check_attr("cycles", STAT_SPLIT_HOST_USER, 0, 1, 1, 0);
	check_attr("cycles", STAT_SPLIT_HOST_KERNEL, 1, 0, 1, 0);
	check_attr("instructions:pp", STAT_SPLIT_HOST_KERNEL, 1, 0, 1, 0);
	check_attr("r003c", STAT_SPLIT_GUEST_USER, 0, 1, 0, 1);
	check_attr("page-faults", STAT_SPLIT_USER, 0, 1, 0, 0);
	/* The event's own modifiers stay, the slice adds to them ... */
	check_attr("cycles:u", STAT_SPLIT_ALL, 0, 1, 0, 0);
	check_attr("cycles:u", STAT_SPLIT_USER, 0, 1, 0, 0);
	check_attr("cycles:H", STAT_SPLIT_HOST_KERNEL, 1, 0, 1, 0);
	check_attr("cycles:G", STAT_SPLIT_GUEST_USER, 0, 1, 0, 1);
	check_attr("cycles:G", STAT_SPLIT_KERNEL, 1, 0, 0, 1);
	/* ... and a slice they exclude entirely is not opened at all. */
	check_no_attr("cycles:u", STAT_SPLIT_KERNEL);
	check_no_attr("cycles:u", STAT_SPLIT_GUEST_KERNEL);
	check_no_attr("cycles:k", STAT_SPLIT_HOST_USER);
	check_no_attr("cycles:H", STAT_SPLIT_GUEST_USER);
	check_no_attr("cycles:G", STAT_SPLIT_HOST_KERNEL);
	check_no_attr("cycles", STAT_SPLIT__COUNT);

	struct event_spec e = parse("cycles");
	struct perf_event_attr a;
	assert_true(stat_attr__build(&e, STAT_SPLIT_USER, &a));
	assert_int_equal(a.exclude_hv, 1); /* :u semantics, as perf */
	assert_true(stat_attr__build(&e, STAT_SPLIT_ALL, &a));
	assert_int_equal(a.exclude_hv, 0);
	event_spec__release(&e);
}

static void test_event_kinds(void **state)
{
	static const struct {
		const char *spec;
		bool by_time, guest;
	} cases[] = {
		{ "cpu-clock", true, false },	     { "task-clock", true, false },   { "cpu-clock:u", true, false },
		{ "page-faults", false, false },     { "context-switches", false, false },
		{ "cycles", false, true },	     { "instructions:G", false, true }, { "LLC-load-misses", false, true },
		{ "r00c0", false, true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct event_spec e = parse(cases[i].spec);
		if (stat_event__splits_by_time(&e) != cases[i].by_time || stat_event__can_split_guest(&e) != cases[i].guest)
			fail_msg("%s: by_time %d guest %d", cases[i].spec, stat_event__splits_by_time(&e),
				 stat_event__can_split_guest(&e));
		event_spec__release(&e);
	}
}

/* ---- roles ---- */

static void test_roles(void **state)
{
	/* TCG: the vCPU thread's user mode is the translated guest code. */
	assert_int_equal(stat_thread__layer(ROLE_VCPU, true, true), LAYER_GUEST);
	assert_int_equal(stat_thread__layer(ROLE_VCPU, true, false), LAYER_HYPERVISOR);
	assert_int_equal(stat_thread__layer(ROLE_VMM, true, true), LAYER_VMM);
	assert_int_equal(stat_thread__layer(ROLE_VMM, true, false), LAYER_HYPERVISOR);
	assert_int_equal(stat_thread__layer(ROLE_BACKEND, true, false), LAYER_HYPERVISOR);
	/* KVM: a vCPU thread's user mode is QEMU's own (the guest runs inside
	 * the KVM_RUN ioctl). */
	assert_int_equal(stat_thread__layer(ROLE_VCPU, false, true), LAYER_VMM);
	assert_int_equal(stat_thread__layer(ROLE_VCPU, false, false), LAYER_HYPERVISOR);
	assert_int_equal(stat_thread__layer(ROLE_BACKEND, false, true), LAYER_VMM);

	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_GUEST_USER, STAT_METHOD_GUEST_HOST, ROLE_VCPU, false),
			 LAYER_GUEST_USER);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_GUEST_KERNEL, STAT_METHOD_GUEST_HOST, ROLE_VCPU, false),
			 LAYER_GUEST_KERNEL);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_HOST_USER, STAT_METHOD_GUEST_HOST, ROLE_VCPU, false),
			 LAYER_VMM);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_HOST_KERNEL, STAT_METHOD_GUEST_HOST, ROLE_VCPU, false),
			 LAYER_HYPERVISOR);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_USER, STAT_METHOD_THREAD_ROLE, ROLE_VCPU, true),
			 LAYER_GUEST);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_USER, STAT_METHOD_THREAD_ROLE, ROLE_VMM, true),
			 LAYER_VMM);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_USER, STAT_METHOD_THREAD_ROLE, ROLE_VCPU, false),
			 LAYER_VMM);
	assert_int_equal(stat_split__vm_layer(STAT_SPLIT_KERNEL, STAT_METHOD_THREAD_ROLE, ROLE_VCPU, true),
			 LAYER_HYPERVISOR);

	assert_true(layer__runs_in_user_mode(LAYER_USER));
	assert_true(layer__runs_in_user_mode(LAYER_GUEST));
	assert_true(layer__runs_in_user_mode(LAYER_GUEST_USER));
	assert_true(layer__runs_in_user_mode(LAYER_VMM));
	assert_false(layer__runs_in_user_mode(LAYER_KERNEL));
	assert_false(layer__runs_in_user_mode(LAYER_GUEST_KERNEL));
	assert_false(layer__runs_in_user_mode(LAYER_HYPERVISOR));

	assert_string_equal(stat_method__name(STAT_METHOD_GUEST_HOST), "guest-host");
	assert_string_equal(stat_method__name(STAT_METHOD_THREAD_ROLE), "thread-role");
}

/* ---- CPU time ---- */

static void test_apportion(void **state)
{
	struct stat_cputime d = { .user = 300, .guest = 100, .system = 100, .idle = 500 };
	struct stat_cputime life = { .user = 1, .guest = 0, .system = 3, .idle = 0 };
	struct stat_cputime none = { 0 };
	struct stat_time_split s = stat_cputime__apportion(2000.0, &d, &life);
	assert_true(s.user == 600.0 && s.guest == 200.0 && s.system == 200.0 && s.idle == 1000.0);
	/* No tick in the interval: the lifetime proportions. */
	s = stat_cputime__apportion(2000.0, &none, &life);
	assert_true(s.user == 500.0 && s.guest == 0.0 && s.system == 1500.0 && s.idle == 0.0);
	/* Nothing seen at all: the kernel's. */
	s = stat_cputime__apportion(2000.0, &none, &none);
	assert_true(s.user == 0.0 && s.system == 2000.0);
	s = stat_cputime__apportion(2000.0, &none, NULL);
	assert_true(s.system == 2000.0);

	struct stat_cputime a = { 10, 20, 30, 40 }, b = { 4, 25, 10, 40 }, c = stat_cputime__delta(&a, &b);
	assert_int_equal(c.user, 6);
	assert_int_equal(c.guest, 0); /* never negative */
	assert_int_equal(c.system, 20);
	assert_int_equal(c.idle, 0);
	assert_int_equal(stat_cputime__sum(&a), 100);
}

static void test_parse_proc(void **state)
{
	struct stat_cputime t;
	const uint64_t tick = 10000000; /* USER_HZ 100 */
	/* user nice system idle iowait irq softirq steal guest guest_nice */
	assert_int_equal(stat_cputime__parse_cpu_line("cpu1 100 20 30 400 5 6 7 8 9 1\n", tick, &t), 0);
	assert_int_equal(t.user, (100 + 20 - 9 - 1) * tick);
	assert_int_equal(t.guest, 10 * tick);
	assert_int_equal(t.system, (30 + 6 + 7) * tick); /* steal (8) left out */
	assert_int_equal(t.idle, 405 * tick);
	assert_int_equal(stat_cputime__parse_cpu_line("cpu0 1 2 3 4\n", tick, &t), 0); /* old kernels */
	assert_int_equal(t.user, 3 * tick);
	assert_int_equal(t.idle, 4 * tick);
	assert_int_equal(stat_cputime__parse_cpu_line("intr 1 2 3 4", tick, &t), -EINVAL);
	assert_int_equal(stat_cputime__parse_cpu_line("cpu0 1 2", tick, &t), -EINVAL);

	/* A thread whose name has a ") (" in it; a negative priority; rsslim
	 * 2^64-1. utime 250, stime 40, cutime 7, cstime 3, guest 200, cguest 5. */
	const char *line = "1234 (CPU 0/KVM) (x) R 1 1234 1234 0 -1 4194304 100 0 0 0 250 40 7 3 -2 0 4 0 318713 "
			   "3133440 409 18446744073709551615 94513557123072 94513557142953 140736669728976 0 0 0 0 0 0 "
			   "0 0 0 17 1 0 0 0 200 5 94513557158960 94513557160576 94513681854464 140736669731455 "
			   "140736669731475 140736669731475 140736669732843 0\n";
	assert_int_equal(stat_cputime__parse_task_stat(line, tick, false, &t), 0);
	assert_int_equal(t.user, 50 * tick);
	assert_int_equal(t.guest, 200 * tick);
	assert_int_equal(t.system, 40 * tick);
	assert_int_equal(t.idle, 0);
	assert_int_equal(stat_cputime__parse_task_stat(line, tick, true, &t), 0);
	assert_int_equal(t.user, (50 + 2) * tick);
	assert_int_equal(t.guest, 205 * tick);
	assert_int_equal(t.system, 43 * tick);
	assert_int_equal(stat_cputime__parse_task_stat("1 (init) S 0 1 1", tick, false, &t), -EINVAL);
	assert_int_equal(stat_cputime__parse_task_stat("garbage", tick, false, &t), -EINVAL);

	/* This very process, as the kernel writes it. */
	char *self = NULL;
	assert_int_equal(read_file("/proc/self/stat", &self, NULL), 0);
	assert_int_equal(stat_cputime__parse_task_stat(self, tick, true, &t), 0);
	free(self);

	struct rusage ru = { .ru_utime = { 1, 500000 }, .ru_stime = { 0, 250 } };
	stat_cputime__from_rusage(&ru, &t);
	assert_int_equal(t.user, 1500000000ULL);
	assert_int_equal(t.system, 250000ULL);
	assert_int_equal(t.guest, 0);
}

/* ---- the model ---- */

/* Two events (cpu-clock in ns, page-faults) and one TCG VM:
 *   VM web:  guest 3e9 ns / 40 faults, vmm 1e8 / 8, hypervisor 2e8 / 2
 *   system:  user 8e9 / 100, kernel outside idle 5e8 / 5, idle 1.5e9 / -
 * host user = 8e9 - 3e9 - 1e8 = 4.9e9, kernel = 5e8 - 2e8 = 3e8;
 * faults: user 100 - 48 = 52, kernel 5 - 2 = 3; idle 1.5e9 (no counter
 * tells the idle task's faults apart: not counted). Busy: 8.5e9. */
static void build_result(struct stat_result *r, bool multiplexed)
{
	struct event_spec ev[2] = { parse("cpu-clock"), parse("page-faults") };
	struct stat_domain *vm;
	struct stat_cell user[2] = { { 8e9, 2000, 2000, true }, { 100, 2000, 2000, true } };
	struct stat_cell kernel[2] = { { 5e8, 2000, 2000, true }, { 5, 2000, multiplexed ? 1500 : 2000, true } };
	struct stat_cell idle[2] = { { 1.5e9, 2000, 2000, true }, { 0, 0, 0, false } };

	stat_result__init(r, ev, 2);
	r->n_cpus = 2;
	r->start_s = 0;
	r->end_s = 5;
	vm = stat_result__add_domain(r, "web", true);
	vm->pid = 4242;
	vm->vmm = xstrdup("qemu");
	vm->accel = xstrdup("tcg");
	vm->n_threads = 3;
	vm->methods[0] = vm->methods[1] = STAT_METHOD_THREAD_ROLE;
	stat_domain__layer(vm, r, LAYER_GUEST)[0] = (struct stat_cell){ 3e9, 1000, 1000, true };
	stat_domain__layer(vm, r, LAYER_GUEST)[1] = (struct stat_cell){ 40, 1000, 1000, true };
	stat_domain__layer(vm, r, LAYER_VMM)[0] = (struct stat_cell){ 1e8, 1000, 1000, true };
	stat_domain__layer(vm, r, LAYER_VMM)[1] = (struct stat_cell){ 8, 1000, 1000, true };
	stat_domain__layer(vm, r, LAYER_HYPERVISOR)[0] = (struct stat_cell){ 2e8, 1000, 1000, true };
	stat_domain__layer(vm, r, LAYER_HYPERVISOR)[1] = (struct stat_cell){ 2, 1000, 1000, true };
	stat_result__derive_host(r, user, kernel, idle);
	event_spec__release(&ev[0]);
	event_spec__release(&ev[1]);
}

static void test_derive_host(void **state)
{
	struct stat_result r;
	struct stat_domain *host, *vm;
	build_result(&r, true);
	assert_int_equal(r.n_domains, 3);
	host = &r.domains[0];
	vm = &r.domains[1];
	assert_string_equal(r.domains[2].name, "idle");
	assert_true(r.domains[2].is_idle && !r.domains[2].is_vm);
	assert_true(r.domains[2].cells[LAYER_IDLE][0].value == 1.5e9);
	assert_false(r.domains[2].cells[LAYER_IDLE][1].counted);
	assert_null(r.domains[2].cells[LAYER_KERNEL]);
	assert_string_equal(host->name, "host");
	assert_false(host->is_vm);
	assert_string_equal(vm->name, "web");
	assert_true(host->cells[LAYER_USER][0].value == 4.9e9);
	assert_true(host->cells[LAYER_KERNEL][0].value == 3e8);
	assert_true(host->cells[LAYER_USER][1].value == 52);
	assert_true(host->cells[LAYER_KERNEL][1].value == 3);
	assert_null(host->cells[LAYER_GUEST]);
	/* The host's counted share is the system-wide counters'. */
	assert_true(stat_cell__counted_pct(&host->cells[LAYER_KERNEL][1]) == 75.0);
	/* Every event's total: the system-wide total (nothing lost, nothing twice). */
	assert_true(stat_result__total(&r, 0) == 10e9);
	assert_true(stat_result__total(&r, 1) == 105);
	assert_true(stat_domain__total(vm, 0).value == 3.3e9);
	assert_true(fabs(stat_domain__overhead(vm, 0) - 0.1) < 1e-12);
	assert_true(fabs(stat_domain__overhead(vm, 1) - 0.25) < 1e-12);
	assert_true(stat_domain__overhead(host, 0) == -1.0);
	assert_non_null(stat_result__find(&r, "web"));
	assert_null(stat_result__find(&r, "nope"));
	stat_result__release(&r);

	/* VM threads counted more kernel work than the system-wide counters
	 * saw (they are read a moment apart): clamped at 0; idle, which no VM
	 * thread runs in, keeps its own. */
	struct event_spec ev = parse("cpu-clock");
	struct stat_cell user = { 1e9, 10, 10, true }, kernel = { 1e8, 10, 10, true }, idle = { 5e7, 10, 10, true };
	stat_result__init(&r, &ev, 1);
	vm = stat_result__add_domain(&r, "v", true);
	stat_domain__layer(vm, &r, LAYER_HYPERVISOR)[0].value = 3e8;
	stat_domain__layer(vm, &r, LAYER_GUEST)[0].value = 2e8;
	stat_result__derive_host(&r, &user, &kernel, &idle);
	assert_true(r.domains[0].cells[LAYER_KERNEL][0].value == 0.0);
	assert_true(r.domains[0].cells[LAYER_USER][0].value == 8e8);
	assert_true(r.domains[2].cells[LAYER_IDLE][0].value == 5e7);
	assert_true(stat_domain__overhead(&r.domains[1], 0) == 1.5);
	stat_result__release(&r);
	event_spec__release(&ev);
}

static char *render(const struct stat_result *r, int format, bool flag1, bool flag2)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (format == 0)
		stat_result__print_text(r, f);
	else if (format == 1)
		stat_result__print_csv(r, flag1, flag2, f);
	else
		stat_result__print_json(r, flag1, f);
	fclose(f);
	return buf;
}

static void test_csv(void **state)
{
	struct stat_result r;
	char *out;
	build_result(&r, true);
	out = render(&r, 1, true, false);
	assert_string_equal(out, "domain,layer,cpu-clock:value,cpu-clock:scaled_pct,page-faults:value,page-faults:scaled_pct\n"
				 "host,user,4900000000,100.00,52,100.00\n"
				 "host,kernel,300000000,100.00,3,75.00\n"
				 "web,guest,3000000000,100.00,40,100.00\n"
				 "web,vmm,100000000,100.00,8,100.00\n"
				 "web,hypervisor,200000000,100.00,2,100.00\n"
				 "idle,idle,1500000000,100.00,0,\n");
	free(out);
	/* Interval rows carry their end time, without the header after the first. */
	r.interval = true;
	r.start_s = 1.0;
	r.end_s = 2.0;
	out = render(&r, 1, false, true);
	assert_true(startswith(out, "2.000,host,user,4900000000,100.00,52,100.00\n"));
	free(out);
	r.interval = false;
	out = render(&r, 1, true, true);
	assert_true(startswith(out, "time,domain,layer,cpu-clock:value,"));
	assert_non_null(strstr(out, "\ntotal,web,guest,3000000000,100.00,40,100.00\n"));
	free(out);
	stat_result__release(&r);

	/* A slice that was never opened: value 0, no scaling. */
	struct event_spec ev = parse("cycles:u");
	struct stat_cell u = { 7, 10, 5, true }, k = { 0, 0, 0, false };
	stat_result__init(&r, &ev, 1);
	stat_result__derive_host(&r, &u, &k, NULL);
	out = render(&r, 1, true, false);
	assert_string_equal(out, "domain,layer,cycles:u:value,cycles:u:scaled_pct\nhost,user,7,50.00\nhost,kernel,0,\n");
	free(out);
	stat_result__release(&r);
	event_spec__release(&ev);
}

static void test_json(void **state)
{
	struct stat_result r;
	char *out;
	build_result(&r, false);
	out = render(&r, 2, true, false);
	assert_string_equal(
		out,
		"{\"format\": \"domprof-stat\", \"version\": 1,\"target\": \"system-wide\", \"cpus\": 2, \"interval\": "
		"false, \"start_s\": 0.000, \"end_s\": 5.000,\"events\": [{\"name\": \"cpu-clock\", \"unit\": \"ns\", "
		"\"split\": \"cpu-time-accounting\"}, {\"name\": \"page-faults\", \"unit\": \"count\", \"split\": "
		"\"counters\"}],\"domains\": ["
		"{\"name\": \"host\", \"kind\": \"host\", \"layers\": {"
		"\"user\": {\"cpu-clock\": {\"value\": 4900000000, \"scaled_pct\": 100.00, \"share_pct\": 49.0000}, "
		"\"page-faults\": {\"value\": 52, \"scaled_pct\": 100.00, \"share_pct\": 49.5238}}, "
		"\"kernel\": {\"cpu-clock\": {\"value\": 300000000, \"scaled_pct\": 100.00, \"share_pct\": 3.0000}, "
		"\"page-faults\": {\"value\": 3, \"scaled_pct\": 100.00, \"share_pct\": 2.8571}}}, "
		"\"total\": {\"cpu-clock\": {\"value\": 5200000000, \"scaled_pct\": 100.00, \"share_pct\": 52.0000}, "
		"\"page-faults\": {\"value\": 55, \"scaled_pct\": 100.00, \"share_pct\": 52.3810}}},"
		"{\"name\": \"web\", \"kind\": \"vm\", \"pid\": 4242, \"vmm\": \"qemu\", \"accel\": \"tcg\", \"threads\": 3, "
		"\"method\": {\"cpu-clock\": \"thread-role\", \"page-faults\": \"thread-role\"}, \"layers\": {"
		"\"guest\": {\"cpu-clock\": {\"value\": 3000000000, \"scaled_pct\": 100.00, \"share_pct\": 30.0000}, "
		"\"page-faults\": {\"value\": 40, \"scaled_pct\": 100.00, \"share_pct\": 38.0952}}, "
		"\"vmm\": {\"cpu-clock\": {\"value\": 100000000, \"scaled_pct\": 100.00, \"share_pct\": 1.0000}, "
		"\"page-faults\": {\"value\": 8, \"scaled_pct\": 100.00, \"share_pct\": 7.6190}}, "
		"\"hypervisor\": {\"cpu-clock\": {\"value\": 200000000, \"scaled_pct\": 100.00, \"share_pct\": 2.0000}, "
		"\"page-faults\": {\"value\": 2, \"scaled_pct\": 100.00, \"share_pct\": 1.9048}}}, "
		"\"total\": {\"cpu-clock\": {\"value\": 3300000000, \"scaled_pct\": 100.00, \"share_pct\": 33.0000}, "
		"\"page-faults\": {\"value\": 50, \"scaled_pct\": 100.00, \"share_pct\": 47.6190}}, "
		"\"overhead\": {\"cpu-clock\": 0.100000, \"page-faults\": 0.250000}},"
		"{\"name\": \"idle\", \"kind\": \"idle\", \"layers\": {"
		"\"idle\": {\"cpu-clock\": {\"value\": 1500000000, \"scaled_pct\": 100.00, \"share_pct\": 15.0000}, "
		"\"page-faults\": {\"value\": 0, \"scaled_pct\": null, \"share_pct\": 0.0000}}}, "
		"\"total\": {\"cpu-clock\": {\"value\": 1500000000, \"scaled_pct\": 100.00, \"share_pct\": 15.0000}, "
		"\"page-faults\": {\"value\": 0, \"scaled_pct\": null, \"share_pct\": 0.0000}}}],"
		"\"total\": {\"cpu-clock\": {\"value\": 10000000000, \"scaled_pct\": 100.00, \"share_pct\": 100.0000}, "
		"\"page-faults\": {\"value\": 105, \"scaled_pct\": 100.00, \"share_pct\": 100.0000}},"
		"\"busy\": {\"cpu-clock\": {\"value\": 8500000000, \"scaled_pct\": 100.00, \"share_pct\": 85.0000}, "
		"\"page-faults\": {\"value\": 105, \"scaled_pct\": 100.00, \"share_pct\": 100.0000}}}\n");
	free(out);
	/* The pretty form is the same document over several lines. */
	out = render(&r, 2, false, false);
	assert_true(startswith(out, "{\n  \"format\": \"domprof-stat\", \"version\": 1,\n  \"target\": "));
	assert_non_null(strstr(out, "\n     \"overhead\": {\"cpu-clock\": 0.100000, \"page-faults\": 0.250000}},\n"));
	assert_non_null(strstr(out, "}}}\n  ],\n  \"total\": "));
	free(out);
	stat_result__release(&r);
}

static void test_text(void **state)
{
	struct stat_result r;
	char *out;
	build_result(&r, true);
	out = render(&r, 0, false, false);
	static const char *const lines[] = {
		"# domprof stat: system-wide on 2 CPUs, 5.00 s\n",
		"domain / layer           | cpu-clock (msec)                  | page-faults (count)              \n",
		"host\n"
		"  user                   |        4900.00 (100.00%)   49.00% |             52 (100.00%)   49.52%\n"
		"  kernel                 |         300.00 (100.00%)    3.00% |              3  (75.00%)    2.86%\n"
		"  total                  |        5200.00 (100.00%)   52.00% |             55  (87.50%)   52.38%\n",
		"web (vm, qemu, tcg, pid 4242, 3 threads)\n"
		"  split: thread role (vCPU threads' user mode = guest, other user mode = vmm, kernel mode = hypervisor)\n"
		"  guest                  |        3000.00 (100.00%)   30.00% |             40 (100.00%)   38.10%\n"
		"  vmm                    |         100.00 (100.00%)    1.00% |              8 (100.00%)    7.62%\n"
		"  hypervisor             |         200.00 (100.00%)    2.00% |              2 (100.00%)    1.90%\n"
		"  total                  |        3300.00 (100.00%)   33.00% |             50 (100.00%)   47.62%\n"
		"  overhead               |   (hypervisor+vmm)/guest   10.00% |   (hypervisor+vmm)/guest   25.00%\n",
		"idle (the host's idle loop)\n"
		"  idle                   |        1500.00 (100.00%)   15.00% |              -              0.00%\n"
		"all domains              |       10000.00 (100.00%)  100.00% |            105  (92.86%)  100.00%\n"
		"all but idle (busy)      |        8500.00 (100.00%)   85.00% |            105  (92.86%)  100.00%\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		if (!strstr(out, lines[i])) {
			fprintf(stderr, "missing:\n%s\nin:\n%s", lines[i], out);
			fail();
		}
	free(out);
	/* Methods that differ per event are named per event. */
	r.domains[1].methods[0] = STAT_METHOD_GUEST_HOST;
	r.domains[1].accel[0] = 'k'; /* "kcg": neither kvm nor tcg */
	out = render(&r, 0, false, false);
	assert_non_null(strstr(out, "  split: cpu-clock: guest/host exclusion (:G/:H counters on the VM's threads); "
				    "page-faults: thread role (user mode = vmm, kernel mode = hypervisor)\n"));
	free(out);
	stat_result__release(&r);
}

/* ---- the counters, on a process that looks like a TCG VM ---- */

static volatile int spin_stop;
static const char *vcpu_name;

static void *vcpu_thread(void *arg)
{
	volatile uint64_t x = 0;
	pthread_setname_np(pthread_self(), vcpu_name);
	while (!spin_stop)
		x++;
	return arg;
}

/* A child that calls itself qemu-system-x86, with a vCPU thread (named
 * "CPU 0/TCG" or "CPU 0/KVM") spinning in user mode and an idle main
 * thread. Reports its vCPU tid on the pipe. */
static pid_t start_fake_vm(const char *vcpu, pid_t *ret_vcpu)
{
	int p[2];
	pid_t pid;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		pid_t tid;
		close(p[0]);
		prctl(PR_SET_NAME, "qemu-system-x86");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		vcpu_name = vcpu;
		pthread_create(&t, NULL, vcpu_thread, NULL);
		/* Wait until the thread has named itself. */
		for (;;) {
			char path[64], comm[32] = "";
			FILE *f;
			tid = 0;
			snprintf(path, sizeof(path), "/proc/self/task");
			for (pid_t c = getpid() + 1; c < getpid() + 64; c++) {
				snprintf(path, sizeof(path), "/proc/self/task/%d/comm", c);
				if ((f = fopen(path, "r"))) {
					if (fgets(comm, sizeof(comm), f) && startswith(comm, vcpu))
						tid = c;
					fclose(f);
				}
			}
			if (tid)
				break;
			usleep(1000);
		}
		if (write(p[1], &tid, sizeof(tid)) != sizeof(tid))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], ret_vcpu, sizeof(*ret_vcpu)), sizeof(*ret_vcpu));
	close(p[0]);
	return pid;
}

static uint64_t runtime_ns(pid_t pid, pid_t tid)
{
	char path[64], *text = NULL;
	uint64_t v = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	if (read_file(path, &text, NULL) == 0)
		v = strtoull(text, NULL, 10);
	free(text);
	return v;
}

/* Time a clock counter counts against a task but the scheduler's runtime
 * leaves out, so far, all CPUs, ns (/proc/stat): what the hypervisor this
 * machine runs under stole (steal), and interrupts taken while the task
 * was current (irq, softirq: with IRQ_TIME_ACCOUNTING the runtime excludes
 * them, a cpu-clock counter does not). */
static uint64_t not_run_ns(void)
{
	char *text = NULL;
	unsigned long long v[8] = { 0 };
	uint64_t ns = 0;
	if (read_file("/proc/stat", &text, NULL) == 0 &&
	    sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		   &v[7]) == 8)
		ns = (v[5] + v[6] + v[7]) * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
	free(text);
	return ns;
}

/* Let the counters run until the scheduler has given the spinning thread
 * min_ns of CPU time, however loaded the machine (a fixed sleep leaves a
 * thread of a busy machine a few ticks, too few for the kernel's tick
 * accounting, which splits clock counts into user and kernel, to mean
 * anything); at most 60 s. */
static void run_until(pid_t pid, pid_t tid, uint64_t before, uint64_t min_ns)
{
	for (int i = 0; i < 3000 && runtime_ns(pid, tid) - before < min_ns; i++)
		usleep(20000);
}

/* A counted CPU time against what the scheduler says the task ran, read
 * just outside the counting window (so a little more: 20%, 2 ms), plus
 * the time counted but not run meanwhile (steal, irq, softirq, ns, all
 * CPUs). */
static void check_runtime(double counted, uint64_t runtime, uint64_t steal)
{
	if (!(counted >= 0.8 * (double)runtime - 2e6 && counted <= 1.02 * (double)runtime + 2e6 + (double)steal))
		fail_msg("counted %.0f ns, the scheduler says %llu ns (%llu ns stolen or in interrupts meanwhile)", counted,
			 (unsigned long long)runtime, (unsigned long long)steal);
}

static bool perf_allowed(void)
{
	struct event_spec e = parse("cpu-clock");
	int r = event_spec__probe(&e, false);
	event_spec__release(&e);
	return r == 0;
}

static void test_counters_fake_vm(void **state)
{
	struct event_spec ev[2] = { parse("cpu-clock"), parse("context-switches") };
	struct stat_counters *s = NULL;
	struct stat_open_error err;
	struct stat_result total, iv;
	struct stat_config cfg = { .events = ev, .n_events = 2 };
	pid_t vcpu, pid;
	uint64_t before, after, stolen;
	char name[32];
	const struct stat_domain *d;
	double guest;

	if (!perf_allowed()) {
		event_spec__release(&ev[0]);
		event_spec__release(&ev[1]);
		skip();
	}
	pid = start_fake_vm("CPU 0/TCG", &vcpu);
	cfg.pid = pid;
	assert_int_equal(stat_counters__open(&cfg, &s, &err), 0);
	assert_int_equal(stat_counters__enable(s), 0);
	stolen = not_run_ns();
	before = runtime_ns(pid, vcpu);
	run_until(pid, vcpu, before, 400000000);
	assert_int_equal(stat_counters__read(s, &iv, &total), 0);
	after = runtime_ns(pid, vcpu);
	stolen = not_run_ns() - stolen;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* -p on a VMM process: that VM alone, split by thread role. */
	assert_string_equal(total.target, "process");
	assert_int_equal(total.n_domains, 1);
	d = &total.domains[0];
	snprintf(name, sizeof(name), "vm-%d", (int)pid);
	assert_string_equal(d->name, name);
	assert_true(d->is_vm);
	assert_int_equal(d->pid, pid);
	assert_string_equal(d->vmm, "qemu");
	assert_string_equal(d->accel, "tcg");
	assert_int_equal(d->n_threads, 2);
	assert_int_equal(d->methods[0], STAT_METHOD_THREAD_ROLE);
	assert_int_equal(d->methods[1], STAT_METHOD_THREAD_ROLE);
	assert_non_null(d->cells[LAYER_GUEST]);
	assert_null(d->cells[LAYER_GUEST_USER]);
	guest = d->cells[LAYER_GUEST][0].value;
	/* The spinning vCPU's time is guest time, as much as the scheduler
	 * gave it. */
	check_runtime(stat_domain__total(d, 0).value, after - before, stolen);
	assert_true(guest >= 0.7 * (double)(after - before));
	/* The split follows the kernel's tick accounting, which charges a tick
	 * now and then to the kernel even for a pure user-mode spinner (the
	 * tick that lands while it is being scheduled in). */
	if (!(guest > 3 * (d->cells[LAYER_VMM][0].value + d->cells[LAYER_HYPERVISOR][0].value)))
		fail_msg("guest %.0f, vmm %.0f, hypervisor %.0f", guest, d->cells[LAYER_VMM][0].value,
			 d->cells[LAYER_HYPERVISOR][0].value);
	assert_true(stat_cell__counted_pct(&d->cells[LAYER_GUEST][0]) == 100.0);
	/* Context switches happen in kernel mode only. */
	assert_true(d->cells[LAYER_GUEST][1].value == 0.0);
	assert_true(d->cells[LAYER_VMM][1].value == 0.0);
	/* One read: the interval and the whole run are the same. */
	assert_true(iv.domains[0].cells[LAYER_GUEST][0].value == guest);
	stat_result__release(&iv);
	stat_result__release(&total);
	stat_counters__free(s);
	event_spec__release(&ev[0]);
	event_spec__release(&ev[1]);
}

/* A VM whose vCPU thread is named "CPU 0/KVM". With cpu-clock (thread
 * role): a KVM vCPU thread's user mode is the VMM's, its guest time comes
 * from the kernel's accounting (none: the fake never enters guest mode).
 * Where the PMU counts cycles, they get the guest/host method (the kernel
 * accepts exclude_host on the VM's threads), guest-user and guest-kernel
 * layers, both 0 here, and the spinning thread's cycles are the VMM's. */
static void test_counters_fake_kvm(void **state)
{
	struct event_spec ev[2] = { parse("cpu-clock"), parse("cycles") };
	bool pmu = event_spec__probe(&ev[1], false) == 0;
	struct stat_counters *s = NULL;
	struct stat_open_error err;
	struct stat_result total;
	struct stat_config cfg = { .events = ev, .n_events = pmu ? 2 : 1 };
	const struct stat_domain *d;
	pid_t vcpu, pid;

	if (!perf_allowed()) {
		event_spec__release(&ev[0]);
		event_spec__release(&ev[1]);
		skip();
	}
	pid = start_fake_vm("CPU 0/KVM", &vcpu);
	cfg.pid = pid;
	assert_int_equal(stat_counters__open(&cfg, &s, &err), 0);
	assert_int_equal(stat_counters__enable(s), 0);
	run_until(pid, vcpu, runtime_ns(pid, vcpu), 300000000);
	assert_int_equal(stat_counters__read(s, NULL, &total), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	d = &total.domains[0];
	assert_string_equal(d->accel, "kvm");
	assert_int_equal(d->methods[0], STAT_METHOD_THREAD_ROLE); /* software: never :G/:H */
	assert_true(d->cells[LAYER_GUEST][0].value == 0.0);
	if (!(d->cells[LAYER_VMM][0].value > 3 * d->cells[LAYER_HYPERVISOR][0].value))
		fail_msg("cpu-clock: vmm %.0f, hypervisor %.0f", d->cells[LAYER_VMM][0].value,
			 d->cells[LAYER_HYPERVISOR][0].value);
	assert_true(stat_domain__overhead(d, 0) == -1.0);
	if (pmu) {
		assert_int_equal(d->methods[1], STAT_METHOD_GUEST_HOST);
		assert_non_null(d->cells[LAYER_GUEST_USER]);
		assert_non_null(d->cells[LAYER_GUEST_KERNEL]);
		assert_true(d->cells[LAYER_GUEST_USER][1].value == 0.0);
		assert_true(d->cells[LAYER_GUEST_KERNEL][1].value == 0.0);
		if (!(d->cells[LAYER_VMM][1].value > 1e6 &&
		      d->cells[LAYER_VMM][1].value > 3 * d->cells[LAYER_HYPERVISOR][1].value))
			fail_msg("cycles: vmm %.0f, hypervisor %.0f", d->cells[LAYER_VMM][1].value,
				 d->cells[LAYER_HYPERVISOR][1].value);
	} else {
		assert_null(d->cells[LAYER_GUEST_USER]);
	}
	stat_result__release(&total);
	stat_counters__free(s);
	event_spec__release(&ev[0]);
	event_spec__release(&ev[1]);
}

/* A plain process named a VM with --vm: no vCPU threads known, so its user
 * mode is the VMM's; and a -p on a plain process: the host. */
static void test_counters_forced_and_plain(void **state)
{
	struct event_spec ev = parse("task-clock");
	struct stat_counters *s = NULL;
	struct stat_open_error err;
	struct stat_result total;
	struct vm_force force;
	struct stat_config cfg = { .events = &ev, .n_events = 1 };
	uint64_t before, after, stolen;
	pid_t pid;

	if (!perf_allowed()) {
		event_spec__release(&ev);
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		volatile uint64_t x = 0;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			x++;
	}
	force = (struct vm_force){ "forced", pid };
	cfg.pid = pid;
	cfg.forced = &force;
	cfg.n_forced = 1;
	assert_int_equal(stat_counters__open(&cfg, &s, &err), 0);
	assert_int_equal(stat_counters__enable(s), 0);
	stolen = not_run_ns();
	before = runtime_ns(pid, pid);
	run_until(pid, pid, before, 300000000);
	assert_int_equal(stat_counters__read(s, NULL, &total), 0);
	after = runtime_ns(pid, pid);
	stolen = not_run_ns() - stolen;
	assert_int_equal(total.n_domains, 1);
	assert_string_equal(total.domains[0].name, "forced");
	assert_string_equal(total.domains[0].accel, "unknown");
	check_runtime(stat_domain__total(&total.domains[0], 0).value, after - before, stolen);
	assert_true(total.domains[0].cells[LAYER_VMM][0].value > 3 * total.domains[0].cells[LAYER_HYPERVISOR][0].value);
	assert_true(total.domains[0].cells[LAYER_GUEST][0].value == 0.0);
	stat_result__release(&total);
	stat_counters__free(s);

	cfg.forced = NULL;
	cfg.n_forced = 0;
	assert_int_equal(stat_counters__open(&cfg, &s, &err), 0);
	assert_int_equal(stat_counters__enable(s), 0);
	stolen = not_run_ns();
	before = runtime_ns(pid, pid);
	run_until(pid, pid, before, 300000000);
	assert_int_equal(stat_counters__read(s, NULL, &total), 0);
	after = runtime_ns(pid, pid);
	stolen = not_run_ns() - stolen;
	assert_int_equal(total.n_domains, 1);
	assert_string_equal(total.domains[0].name, "host");
	assert_false(total.domains[0].is_vm);
	check_runtime(stat_domain__total(&total.domains[0], 0).value, after - before, stolen);
	if (!(total.domains[0].cells[LAYER_USER][0].value > 3 * total.domains[0].cells[LAYER_KERNEL][0].value))
		fail_msg("user %.0f, kernel %.0f", total.domains[0].cells[LAYER_USER][0].value,
			 total.domains[0].cells[LAYER_KERNEL][0].value);
	assert_false(stat_counters__target_gone(s));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(stat_counters__target_gone(s));
	stat_result__release(&total);
	stat_counters__free(s);

	/* A process that is not there. */
	cfg.pid = pid;
	assert_int_equal(stat_counters__open(&cfg, &s, &err), -ESRCH);
	assert_int_equal(err.tid, pid);
	event_spec__release(&ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scaling),
		cmocka_unit_test(test_attrs),
		cmocka_unit_test(test_event_kinds),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_apportion),
		cmocka_unit_test(test_parse_proc),
		cmocka_unit_test(test_derive_host),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_counters_fake_vm),
		cmocka_unit_test(test_counters_fake_kvm),
		cmocka_unit_test(test_counters_forced_and_plain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

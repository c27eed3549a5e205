/* stat: counting mode, the quick first look. Counts events (no sampling)
 * per domain (the host, each VM) and layer, as `domprof stat` prints them.
 *
 * Three files, one job each. The model (model.c: struct stat_result and
 * the pure functions around it: scaling, splitting clock time by the
 * kernel's CPU-time accounting, classifying a VM thread's work into
 * layers, deriving the host as the system-wide totals minus the VMs, and
 * the host's idle loop as domain "idle" from the kernel's idle time) is
 * computed from numbers alone and unit-tested; its rendering as text, CSV
 * or JSON (render.c) likewise. The counters (counters.c, struct
 * stat_counters) open the perf events: per-CPU system-wide
 * counters split user/kernel, and per-thread counters on every thread of
 * every VM (its VMM process and backend threads), split guest/host with
 * exclude_host/exclude_guest where the kernel and PMU do that, else by the
 * thread's role. docs/stat.md explains the methods and their limits. */
#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "../domain/vm.h"
#include "../events/events.h"
#include "../vocab/vocab.h"

/* ---- one counter ---- */

/* What read() gives for a counter opened with PERF_FORMAT_TOTAL_TIME_ENABLED
 * | PERF_FORMAT_TOTAL_TIME_RUNNING: the raw count, how long the event was
 * enabled and how long it actually ran on a PMU counter (less than enabled
 * when the kernel multiplexed it). */
struct stat_reading {
	uint64_t value, enabled, running;
};

/* value * enabled / running: the count extrapolated to the whole enabled
 * time. 0 when the counter never ran. */
double stat_reading__scaled(const struct stat_reading *r);
/* now - before, field by field (a counter's progress over an interval);
 * fields that went backwards (never, for one counter) give 0. */
struct stat_reading stat_reading__delta(const struct stat_reading *now, const struct stat_reading *before);

/* ---- what a counter counts ---- */

/* The slice of an event a counter counts, as exclude_* bits on top of the
 * event's own modifiers. */
enum stat_split {
	STAT_SPLIT_ALL = 0,      /* everything the event counts */
	STAT_SPLIT_USER,         /* exclude_kernel, exclude_hv (:u) */
	STAT_SPLIT_KERNEL,       /* exclude_user, exclude_hv (:k) */
	STAT_SPLIT_GUEST_USER,   /* exclude_host + :u  (guest mode, guest user) */
	STAT_SPLIT_GUEST_KERNEL, /* exclude_host + :k */
	STAT_SPLIT_HOST_USER,    /* exclude_guest + :u (host mode, user: the VMM) */
	STAT_SPLIT_HOST_KERNEL,  /* exclude_guest + :k (host mode, kernel: KVM, vhost) */
	STAT_SPLIT__COUNT
};
const char *stat_split__name(enum stat_split s);

/* The counting attr of event e restricted to split: type and config from
 * e, e's own exclude_* bits kept, the split's bits added; no sampling
 * (period 0, no precise_ip), read_format with both times, disabled.
 * Returns false (and leaves *ret unspecified) when e's own modifiers and
 * the split exclude everything, e.g. `cycles:u` and STAT_SPLIT_KERNEL:
 * there is nothing to open. */
bool stat_attr__build(const struct event_spec *e, enum stat_split split, struct perf_event_attr *ret);

/* Whether the kernel ignores exclude_user/exclude_kernel (and
 * exclude_guest/exclude_host) when counting e: the clock events, whose
 * count is elapsed time, not a sum over interrupted register states. Such
 * events are split by the kernel's CPU-time accounting instead. */
bool stat_event__splits_by_time(const struct event_spec *e);
/* Whether exclude_guest/exclude_host can work for e at all: hardware
 * (PMU) events only; the kernel accepts and ignores them on software
 * events. */
bool stat_event__can_split_guest(const struct event_spec *e);

/* ---- CPU time accounting, for splitting clock events ---- */

/* CPU time in ns by mode, from /proc/stat (a CPU), /proc/PID/task/TID/stat
 * (a thread), /proc/PID/stat (a process and its reaped children) or a
 * struct rusage. user excludes guest (the kernel counts guest time inside
 * user time; it is taken out here); idle is for CPUs only. */
struct stat_cputime {
	uint64_t user, guest, system, idle;
};
struct stat_cputime stat_cputime__delta(const struct stat_cputime *now, const struct stat_cputime *before);
uint64_t stat_cputime__sum(const struct stat_cputime *t);

/* Shares of a clock count, in the count's unit. */
struct stat_time_split {
	double user, guest, system, idle;
};
/* Split value in the proportions of delta, or of lifetime when delta saw
 * no tick (an interval shorter than the accounting's resolution), or all
 * to system when neither did (the kernel had the CPU: nothing ran long
 * enough to be seen in user mode). */
struct stat_time_split stat_cputime__apportion(double value, const struct stat_cputime *delta,
					       const struct stat_cputime *lifetime);

/* Parsers for the three /proc formats; 0 or -EINVAL. tick_ns is the
 * length of a clock tick (1e9 / sysconf(_SC_CLK_TCK)). */
int stat_cputime__parse_cpu_line(const char *line, uint64_t tick_ns, struct stat_cputime *ret);
/* children: add cutime/cstime (children reaped so far). */
int stat_cputime__parse_task_stat(const char *text, uint64_t tick_ns, bool children, struct stat_cputime *ret);
void stat_cputime__from_rusage(const struct rusage *ru, struct stat_cputime *ret);

/* ---- VM thread roles and methods ---- */

/* How a VM's work was split into layers (per VM and event). */
enum stat_method {
	STAT_METHOD_NONE = 0,   /* not a VM */
	STAT_METHOD_GUEST_HOST, /* exclude_host / exclude_guest counters (:G / :H) */
	STAT_METHOD_THREAD_ROLE /* by the thread's role and the CPU mode */
};
const char *stat_method__name(enum stat_method m); /* "guest-host", "thread-role" */

/* The layer a VM thread's work goes to under the thread-role method:
 * user mode of a vCPU thread of an emulated (TCG) VM is guest code; other
 * user mode is the VMM's own code; kernel mode is the hypervisor. role is
 * ROLE_VCPU, ROLE_VMM or ROLE_BACKEND (the roles of a VM's threads). */
enum layer stat_thread__layer(enum thread_role role, bool tcg, bool user_mode);
/* The layer a counter of split s on a thread of role r adds to, under
 * method m (STAT_SPLIT_ALL is not valid here: clock events are split by
 * time, see stat_cputime__apportion). */
enum layer stat_split__vm_layer(enum stat_split s, enum stat_method m, enum thread_role r, bool tcg);
/* Which host CPU mode a layer's work runs in, as a system-wide counter
 * sees it: user for user, guest-user, guest (TCG code and KVM guest time
 * both show as user), vmm; kernel for the rest. */
bool layer__runs_in_user_mode(enum layer l);

/* ---- the result model ---- */

/* One (domain, layer, event) figure. value is scaled (and, for clock
 * events, apportioned); enabled/running are summed over the counters that
 * made it, so running/enabled is the share of time counted (100% = no
 * multiplexing). counted: at least one counter made it (false: the event's
 * own modifiers exclude this layer, nothing was opened for it). A task
 * counter's enabled time only runs while the task does: enabled == 0 with
 * counted is a task that never ran, a true 0. */
struct stat_cell {
	double value;
	uint64_t enabled, running;
	bool counted;
};
void stat_cell__add(struct stat_cell *to, const struct stat_cell *c);
/* 100 * running / enabled; 100 when counted but never enabled; -1 when
 * not counted. */
double stat_cell__counted_pct(const struct stat_cell *c);

struct stat_event_info {
	char *name;
	enum event_unit unit;
	bool by_time; /* split by CPU-time accounting (clock events) */
};

struct stat_domain {
	char *name;
	bool is_vm;
	bool is_idle;   /* the host's idle loop: one layer, LAYER_IDLE */
	pid_t pid;      /* the VMM's pid; 0 for the host */
	char *vmm;      /* "qemu", ...; NULL for the host */
	char *accel;    /* "kvm", "tcg", "unknown"; NULL for the host */
	size_t n_threads;
	enum stat_method *methods;             /* per event; NULL for the host */
	struct stat_cell *cells[LAYER__COUNT]; /* per event; NULL: a layer this domain does not have */
};

struct stat_result {
	struct stat_event_info *events;
	size_t n_events;
	struct stat_domain *domains; /* the host (when counted) first, then VMs by pid, then idle */
	size_t n_domains;
	const char *target; /* "system-wide", "command", "process" */
	size_t n_cpus;
	double start_s, end_s; /* the period, seconds since counting began */
	bool interval;         /* one interval of -I, not the whole run */
};

void stat_result__init(struct stat_result *r, const struct event_spec *events, size_t n_events);
void stat_result__release(struct stat_result *r);
/* A new domain, cells zeroed, no layers yet. The pointer is valid until
 * the next stat_result__add_domain. */
struct stat_domain *stat_result__add_domain(struct stat_result *r, const char *name, bool is_vm);
/* The per-event cells of layer l (allocated, zeroed, on first use). */
struct stat_cell *stat_domain__layer(struct stat_domain *d, const struct stat_result *r, enum layer l);
struct stat_domain *stat_result__find(struct stat_result *r, const char *name);

/* The host domain from system-wide totals: each host layer is the
 * system-wide count of its CPU mode minus what the VMs' threads did in
 * that mode (layer__runs_in_user_mode), clamped at 0; the counted share is
 * the system-wide counters'. sys_user/sys_kernel/sys_idle are per event;
 * sys_kernel is kernel mode outside the idle loop, sys_idle the idle loop
 * (the kernel's idle time, for clock events; not counted for the others:
 * no counter can tell the idle task's counts apart, they stay in kernel).
 * The host is inserted as the first domain and, when sys_idle is not NULL,
 * the idle domain as the last. */
void stat_result__derive_host(struct stat_result *r, const struct stat_cell *sys_user,
			      const struct stat_cell *sys_kernel, const struct stat_cell *sys_idle);

/* Sum of event e over every layer of every domain (the 100% of shares). */
double stat_result__total(const struct stat_result *r, size_t e);
/* A domain's total over its layers. */
struct stat_cell stat_domain__total(const struct stat_domain *d, size_t e);
/* The VM's overhead for event e (layer__overhead), or -1 when the VM did
 * no guest work (or is not a VM). */
double stat_domain__overhead(const struct stat_domain *d, size_t e);

/* Rendering (render.c; docs/stat.md has the CSV and JSON contracts). */
void stat_result__print_text(const struct stat_result *r, FILE *out);
/* header: print the column line first; the time column is there when
 * with_time (interval mode): the interval's end, or "total". */
void stat_result__print_csv(const struct stat_result *r, bool header, bool with_time, FILE *out);
/* one_line: the whole document on one line (JSON Lines, for -I). */
void stat_result__print_json(const struct stat_result *r, bool one_line, FILE *out);

/* ---- the counters (counters.c) ---- */

/* The events counted when none are given: cycles and instructions where
 * the PMU has them, with cpu-clock; else the software events that tell
 * most about a host without one. */
#define STAT_DEFAULT_EVENTS_PMU "cycles,instructions,cpu-clock"
#define STAT_DEFAULT_EVENTS_NO_PMU "cpu-clock,context-switches,page-faults"
const char *stat__default_events(bool system_wide);

struct stat_counters;

struct stat_config {
	const struct event_spec *events;
	size_t n_events;
	bool system_wide;     /* per-CPU counters on every online CPU, and every VM */
	pid_t pid;            /* else: this process (a VM when it is one), all its threads */
	pid_t command;        /* else: this child, stopped before exec: counted from exec, with children */
	const struct vm_force *forced; /* --vm NAME=PID */
	size_t n_forced;
};

/* Where opening failed: event index, CPU (-1 for a task counter), task. */
struct stat_open_error {
	int event;
	int cpu;
	pid_t tid;
};

/* Opens every counter, disabled (a command's counters start at its exec).
 * -errno with *ret_error set on failure. */
int stat_counters__open(const struct stat_config *cfg, struct stat_counters **ret, struct stat_open_error *ret_error);
void stat_counters__free(struct stat_counters *s);
/* Start counting; the zero point of every figure. */
int stat_counters__enable(struct stat_counters *s);
/* Look for VM threads (and, system-wide, VMs) that appeared since the last
 * scan and start counting them. Returns the number of new threads, or
 * -errno (the counters keep running). */
int stat_counters__rescan(struct stat_counters *s);
/* Read every counter. ret_interval (if not NULL) gets the progress since
 * the previous read (or enable), ret_total (if not NULL) since enable.
 * Both are initialised here; release them with stat_result__release. */
int stat_counters__read(struct stat_counters *s, struct stat_result *ret_interval, struct stat_result *ret_total);
/* A counted command has exited (and was reaped): its final CPU times,
 * for splitting clock events from the last /proc reading to its end. */
void stat_counters__command_exited(struct stat_counters *s, const struct rusage *ru);
/* -p: the process is gone. */
bool stat_counters__target_gone(const struct stat_counters *s);
/* Conditions worth telling the user, collected while opening and
 * rescanning (strings owned by s). Each is returned once. */
const char *stat_counters__next_warning(struct stat_counters *s);

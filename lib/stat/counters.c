/* The counting mode's counters: opening the perf events (per CPU
 * system-wide, per thread on every VM thread, or on one target), finding
 * VM threads that appear, reading everything and folding the readings
 * into a stat_result; contract in stat.h, user-facing explanation in
 * docs/stat.md.
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

enum account_kind {
	ACCOUNT_CPU,     /* /proc/stat, line cpuN */
	ACCOUNT_THREAD,  /* /proc/PID/task/TID/stat */
	ACCOUNT_PROCESS, /* /proc/PID/stat with reaped children; rusage at the end */
};

/* A CPU-time account: where the kernel accounts the time a clock
 * counter's count is split by (a CPU, a thread, a process), and its
 * readings: at enable (or when found), at the previous read, now. */
struct cpu_account {
	enum account_kind kind;
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
	size_t account;    /* the CPU-time account of a clock counter; SIZE_MAX for none */
	struct stat_reading start, prev, now;
};

/* A VM being counted: its threads, each with its role. */
struct counted_thread {
	pid_t tid;
	enum thread_role role;
};

struct counted_vm {
	pid_t pid;
	char *name;
	enum vmm_kind kind;
	char *accel;
	bool tcg;
	enum stat_method *methods; /* per event */
	struct counted_thread *threads;
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
	struct cpu_account *accounts;
	size_t n_accounts, cap_accounts;
	struct counted_vm *vms;
	size_t n_vms, cap_vms;
	char **warnings;
	size_t n_warnings, cap_warnings, next_warning;
	uint64_t enable_ns, prev_ns;
};

const char *stat__default_events(bool system_wide)
{
	static const char *const pmu[] = { "cycles", "instructions" };
	for (size_t i = 0; i < ARRAY_SIZE(pmu); i++) {
		struct event_spec e;
		bool ok = event_spec__parse(pmu[i], NULL, &e, NULL) == 0;
		if (ok) {
			ok = event_spec__probe(&e, system_wide) == 0;
			event_spec__release(&e);
		}
		if (!ok)
			return STAT_DEFAULT_EVENTS_NO_PMU;
	}
	return STAT_DEFAULT_EVENTS_PMU;
}

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


static size_t add_account(struct stat_counters *s, enum account_kind kind, int cpu, pid_t pid, pid_t tid)
{
	struct cpu_account *t;
	ARRAY_GROW(s->accounts, s->cap_accounts, s->n_accounts + 1);
	t = &s->accounts[s->n_accounts];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->cpu = cpu;
	t->pid = pid;
	t->tid = tid;
	return s->n_accounts++;
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

/* Read every account now; those of gone tasks keep their last reading. */
static void accounts_read(struct stat_counters *s)
{
	_cleanup_free_ char *procstat = NULL;
	bool have_procstat = false;
	for (size_t i = 0; i < s->n_accounts; i++) {
		struct cpu_account *t = &s->accounts[i];
		if (t->final)
			continue;
		if (t->kind == ACCOUNT_CPU) {
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
		} else if (t->kind == ACCOUNT_THREAD) {
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
	for (size_t i = 0; i < s->n_accounts; i++)
		if (s->accounts[i].kind == ACCOUNT_PROCESS) {
			stat_cputime__from_rusage(ru, &s->accounts[i].now);
			s->accounts[i].final = true;
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
			pid_t tid, int cpu, bool inherit, bool enable_on_exec, size_t vm, size_t thread, size_t account)
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
	c->account = account;
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
	struct counted_vm *vm = &s->vms[vm_index];
	struct counted_thread *th = &vm->threads[thread_index];
	size_t account = SIZE_MAX;
	pid_t pid = th->role == ROLE_BACKEND ? th->tid : vm->pid;

	for (size_t e = 0; e < s->n_events; e++) {
		enum stat_split splits[4];
		size_t n = splits_for(s, e, vm->methods[e], th->role == ROLE_VCPU, splits);
		for (size_t k = 0; k < n; k++) {
			int r;
			if (splits[k] == STAT_SPLIT_ALL && account == SIZE_MAX) {
				struct cpu_account *t;
				account = add_account(s, ACCOUNT_THREAD, -1, pid, th->tid);
				t = &s->accounts[account];
				if (read_task_cputime(pid, th->tid, false, s->tick_ns, &t->now) < 0)
					t->final = true;
				t->start = t->prev = t->now;
			}
			r = open_counter(s, e, splits[k], OWNER_VM, th->tid, -1, false, false, vm_index, thread_index,
					 splits[k] == STAT_SPLIT_ALL ? account : SIZE_MAX);
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

static struct counted_thread *vm_find_thread(struct counted_vm *vm, pid_t tid)
{
	for (size_t i = 0; i < vm->n_threads; i++)
		if (vm->threads[i].tid == tid)
			return &vm->threads[i];
	return NULL;
}

static int vm_add_thread(struct stat_counters *s, size_t vm_index, pid_t tid, enum thread_role role, bool strict,
			 struct stat_open_error *err)
{
	struct counted_vm *vm = &s->vms[vm_index];
	int r;
	ARRAY_GROW(vm->threads, vm->cap_threads, vm->n_threads + 1);
	vm->threads[vm->n_threads] = (struct counted_thread){ .tid = tid, .role = role };
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
	struct counted_vm *vm = NULL;
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
			struct counted_thread *th;
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
		size_t account = SIZE_MAX;
		for (size_t e = 0; e < s->n_events; e++) {
			enum stat_split splits[4];
			size_t n = splits_for(s, e, STAT_METHOD_NONE, false, splits);
			for (size_t k = 0; k < n; k++) {
				int r;
				if (splits[k] == STAT_SPLIT_ALL && account == SIZE_MAX)
					account = add_account(s, ACCOUNT_CPU, s->cpus[c], 0, 0);
				r = open_counter(s, e, splits[k], OWNER_SYSTEM, -1, s->cpus[c], false, false, 0, 0,
						 splits[k] == STAT_SPLIT_ALL ? account : SIZE_MAX);
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
	size_t account = add_account(s, ACCOUNT_PROCESS, -1, s->target, 0);
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
						 0, splits[k] == STAT_SPLIT_ALL ? account : SIZE_MAX);
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
	free(s->accounts);
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
	accounts_read(s);
	for (size_t i = 0; i < s->n_accounts; i++)
		s->accounts[i].start = s->accounts[i].prev = s->accounts[i].now;
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
		const struct counted_vm *vm = &s->vms[i];
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
		const struct cpu_account *t = &s->accounts[c->account];
		struct stat_cputime dt = stat_cputime__delta(&t->now, f->from_start ? &t->start : &t->prev);
		struct stat_time_split sp = stat_cputime__apportion(v, &dt, &t->now);
		/* The kernel ignores :u/:k on clock events; honour them here. */
		if (ev->attr.exclude_user)
			sp.user = sp.guest = 0;
		if (ev->attr.exclude_kernel)
			sp.system = sp.idle = 0;
		if (c->owner == OWNER_VM) {
			const struct counted_vm *vm = &s->vms[c->vm];
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
		const struct counted_vm *vm = &s->vms[c->vm];
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
	accounts_read(s);
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
	for (size_t i = 0; i < s->n_accounts; i++)
		s->accounts[i].prev = s->accounts[i].now;
	s->prev_ns = now_ns;
	return 0;
}

/* The host's processes, threads and VMs, kept from side-band records; and
 * the classification of every sample into (domain, layer). See machine.h
 * and docs/attribution.md for the rules. */
#define _GNU_SOURCE
#include "machine.h"

#include <dirent.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/util.h"
#include "idle.h"

static void warn(struct machine *m, const char *fmt, ...) PRINTF(2, 3);
static void warn(struct machine *m, const char *fmt, ...)
{
	va_list ap;
	ARRAY_GROW(m->warnings, m->cap_warnings, m->n_warnings + 1);
	va_start(ap, fmt);
	m->warnings[m->n_warnings++] = xvasprintf(fmt, ap);
	va_end(ap);
}

void machine__init(struct machine *m, struct profile *p, bool live)
{
	memset(m, 0, sizeof(*m));
	m->profile = p;
	m->live = live;
	m->host_domain = profile__domain(p, DOMAIN_NAME_HOST, false);
	m->generation = 1;
	image_registry__init(&m->images);
	hmap_init(&m->proc_index);
	hmap_init(&m->thread_index);
}

static void vm_free(struct vm *vm)
{
	image__free(vm->guest_kernel);
	image__free(vm->guest_user);
	image__free(vm->guest_code);
	free(vm->name);
	free(vm);
}

void machine__release(struct machine *m)
{
	for (size_t i = 0; i < m->n_procs; i++) {
		free(m->procs[i]->maps);
		free(m->procs[i]);
	}
	for (size_t i = 0; i < m->n_threads; i++) {
		free(m->threads[i]->past_profile_ids);
		free(m->threads[i]);
	}
	for (size_t i = 0; i < m->n_vms; i++)
		vm_free(m->vms[i]);
	for (size_t i = 0; i < m->n_forced; i++)
		free((char *)m->forced[i].name);
	for (size_t i = 0; i < m->n_guest_kernels; i++) {
		free(m->guest_kernels[i].vm_name);
		free(m->guest_kernels[i].file);
		free(m->guest_kernels[i].text);
	}
	for (size_t i = 0; i < m->n_warnings; i++)
		free(m->warnings[i]);
	free(m->warnings);
	free(m->idle_symbols);
	free(m->guest_kernels);
	free(m->forced);
	free(m->procs);
	free(m->threads);
	free(m->vms);
	hmap_release(&m->proc_index);
	hmap_release(&m->thread_index);
	image_registry__release(&m->images);
	machine__free_gone_images(m);
	memset(m, 0, sizeof(*m));
}

void machine__force_vm(struct machine *m, const char *name, pid_t pid)
{
	m->forced = xrealloc(m->forced, (m->n_forced + 1) * sizeof(*m->forced));
	m->forced[m->n_forced++] = (struct vm_force){ xstrdup(name), pid };
}

/* ---- lookup tables: pid -> process, tid -> thread (latest wins) ---- */

static struct process *find_proc(struct machine *m, pid_t pid)
{
	uint64_t h = hash_u64((uint64_t)pid);
	size_t pos = hmap_first(&m->proc_index, h);
	uint32_t idx;
	struct process *found = NULL;
	uint32_t best = 0;
	while (hmap_candidate(&m->proc_index, pos, h, &idx)) {
		/* The newest entry for a reused pid: the highest index (probe
		 * order is not insertion order after a rehash). */
		if (idx != UINT32_MAX && m->procs[idx]->pid == pid && (!found || idx > best)) {
			found = m->procs[idx];
			best = idx;
		}
		pos = hmap_next(&m->proc_index, pos);
	}
	return found;
}

static struct thread *find_thread(struct machine *m, pid_t tid)
{
	uint64_t h = hash_u64((uint64_t)tid);
	size_t pos = hmap_first(&m->thread_index, h);
	uint32_t idx;
	struct thread *found = NULL;
	uint32_t best = 0;
	while (hmap_candidate(&m->thread_index, pos, h, &idx)) {
		if (idx != UINT32_MAX && m->threads[idx]->tid == tid && (!found || idx > best)) {
			found = m->threads[idx];
			best = idx;
		}
		pos = hmap_next(&m->thread_index, pos);
	}
	return found;
}

static struct process *new_proc(struct machine *m, pid_t pid, const char *comm)
{
	struct process *p = xcalloc(1, sizeof(*p));
	m->last_thread = NULL;
	p->pid = pid;
	snprintf(p->comm, sizeof(p->comm), "%s", comm ? comm : "");
	ARRAY_GROW(m->procs, m->cap_procs, m->n_procs + 1);
	m->procs[m->n_procs] = p;
	hmap_insert(&m->proc_index, hash_u64((uint64_t)pid), (uint32_t)m->n_procs);
	m->n_procs++;
	return p;
}

static struct thread *new_thread(struct machine *m, struct process *p, pid_t tid, const char *comm)
{
	struct thread *t = xcalloc(1, sizeof(*t));
	m->last_thread = NULL;
	t->tid = tid;
	t->proc = p;
	p->n_threads++;
	t->vcpu = -1;
	snprintf(t->comm, sizeof(t->comm), "%s", comm ? comm : p->comm);
	ARRAY_GROW(m->threads, m->cap_threads, m->n_threads + 1);
	m->threads[m->n_threads] = t;
	hmap_insert(&m->thread_index, hash_u64((uint64_t)tid), (uint32_t)m->n_threads);
	m->n_threads++;
	return t;
}

/* ---- VMs ---- */

struct vm *machine__find_vm(struct machine *m, pid_t pid)
{
	for (size_t i = m->n_vms; i > 0; i--)
		if (m->vms[i - 1]->pid == pid)
			return m->vms[i - 1];
	return NULL;
}

static void load_guest_kernel(struct machine *m, struct vm *vm, struct guest_kernel_source *src)
{
	uint64_t offset = src->kaslr_offset;
	int r;
	if (src->text) {
		/* A kallsyms an agent shipped: runtime addresses, no offset. */
		r = image__load_guest_kernel_text(vm->guest_kernel, src->text, src->text_len);
		if (r < 0)
			warn(m, "guest kernel symbols for %s from its agent: %s", vm->name,
			     r == -EPERM ? "all addresses are zero (kptr_restrict in the guest)" : strerror(-r));
		return;
	}
	if (!src->have_offset && src->stext) {
		/* System.map / vmlinux: offset = runtime _stext - file _stext. */
		_cleanup_free_ char *text = NULL;
		size_t len;
		uint64_t file_stext = 0;
		if (read_file(src->file, &text, &len) == 0) {
			if (len >= 4 && !memcmp(text, "\177ELF", 4)) {
				struct symtab st;
				struct elf_info info;
				symtab__init(&st);
				if (symtab__load_elf(&st, src->file, &info) == 0) {
					const struct symbol *s = symtab__find_name(&st, "_stext");
					if (s)
						file_stext = s->start;
				}
				/* _stext is often NOTYPE, not FUNC: fall back to the lowest text symbol. */
				if (!file_stext && st.n) {
					symtab__finish(&st, 1);
					file_stext = st.syms[0].start & ~0xfffULL;
				}
				elf_info__release(&info);
				symtab__release(&st);
			} else {
				file_stext = kallsyms__find_stext(text, len);
			}
		}
		if (file_stext)
			offset = src->stext - file_stext;
	}
	r = image__load_guest_kernel(vm->guest_kernel, src->file, offset);
	if (r < 0)
		warn(m, "guest kernel symbols for %s from %s: %s", vm->name, src->file,
		     r == -EPERM ? "all addresses are zero (copy /proc/kallsyms as root with kptr_restrict=0)"
				 : strerror(-r));
}

static struct vm *new_vm(struct machine *m, pid_t pid, enum vmm_kind kind, const char *name, bool forced)
{
	struct vm *vm = xcalloc(1, sizeof(*vm));
	vm->pid = pid;
	vm->kind = kind;
	vm->forced = forced;
	/* Two VMs may share a name (two QEMUs with the same -name, or a VM
	 * restarted during the recording): the later one gets its pid added;
	 * so does a VM called like the host's own domains, host and idle. */
	vm->name = profile__find_domain(m->profile, name) || domain_name__is_reserved(name)
			   ? xasprintf("%s-%d", name, pid)
			   : xstrdup(name);
	vm->domain = profile__domain(m->profile, vm->name, true);
	profile__domain_at(m->profile, vm->domain)->pid = pid;
	profile__domain_set(m->profile, vm->domain, "vmm", kind == VMM_NONE ? "unknown" : vmm_kind__name(kind));
	vm->guest_kernel = image__new(IMAGE_GUEST_KERNEL, "[guest.kernel]");
	vm->guest_user = image__new(IMAGE_GUEST_USER, "[guest user]");
	vm->guest_code = image__new(IMAGE_ANON, "[guest code]");
	vm->guest_user->loaded = vm->guest_code->loaded = true;
	ARRAY_GROW(m->vms, m->cap_vms, m->n_vms + 1);
	m->vms[m->n_vms++] = vm;
	for (size_t i = 0; i < m->n_guest_kernels; i++)
		if (streq(m->guest_kernels[i].vm_name, name) || streq(m->guest_kernels[i].vm_name, vm->name))
			load_guest_kernel(m, vm, &m->guest_kernels[i]);
	return vm;
}

void machine__add_guest_kernel(struct machine *m, const struct guest_kernel_source *src)
{
	struct guest_kernel_source *g;
	m->guest_kernels = xrealloc(m->guest_kernels, (m->n_guest_kernels + 1) * sizeof(*m->guest_kernels));
	g = &m->guest_kernels[m->n_guest_kernels++];
	*g = *src;
	g->vm_name = xstrdup(src->vm_name);
	g->file = src->file ? xstrdup(src->file) : NULL;
	if (src->text) {
		g->text = xmalloc(src->text_len + 1);
		memcpy(g->text, src->text, src->text_len);
		g->text[src->text_len] = '\0';
	}
	for (size_t i = 0; i < m->n_vms; i++)
		if (streq(m->vms[i]->name, g->vm_name))
			load_guest_kernel(m, m->vms[i], g);
}

static char *read_proc_text(pid_t pid, const char *what, size_t *ret_len)
{
	char path[128], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	if (read_file(path, &text, ret_len) < 0)
		return NULL;
	return text;
}

static void classify_thread(struct machine *m, struct thread *t)
{
	struct process *p = t->proc;
	int idx;
	const char *accel = NULL;
	pid_t owner;

	thread__forget_profile_id(t);
	t->vcpu = -1;
	t->vm = NULL;
	t->role = ROLE_TASK;
	if (p->vm) {
		t->vm = p->vm;
		if (vm__vcpu_from_comm(p->vm->kind, t->comm, &idx, &accel)) {
			t->role = ROLE_VCPU;
			t->vcpu = idx;
			if (accel)
				profile__domain_set(m->profile, p->vm->domain, "accel", accel);
		} else {
			t->role = ROLE_VMM;
		}
		return;
	}
	owner = vm__backend_owner(t->comm);
	if (owner) {
		struct vm *vm = machine__find_vm(m, owner);
		if (!vm && m->live) {
			/* A backend thread seen before its VMM: look the VMM up. */
			machine__thread(m, owner, owner);
			vm = machine__find_vm(m, owner);
		}
		if (vm) {
			t->vm = vm;
			t->role = ROLE_BACKEND;
		}
	}
}

/* The VMM kind an executable's path names. */
static enum vmm_kind exe_kind(const char *path)
{
	const char *base = strrchr(path, '/');
	return vmm_kind__detect(NULL, base ? base + 1 : path);
}

/* Decide whether a process is a VMM (by comm, executable and command line)
 * and give it its VM; reclassify its threads. */
static void classify_process(struct machine *m, struct process *p, bool exec)
{
	enum vmm_kind kind;
	const char *forced_name = NULL;
	_cleanup_free_ char *cmdline = NULL;
	_cleanup_free_ char *name = NULL;
	size_t cmdlen = 0;

	for (size_t i = 0; i < m->n_forced; i++)
		if (m->forced[i].pid == p->pid)
			forced_name = m->forced[i].name;
	kind = p->exe_kind != VMM_NONE ? p->exe_kind : vmm_kind__detect(p->comm, NULL);
	if (kind == VMM_NONE && !forced_name) {
		/* Only an exec makes a VMM something else: a renamed thread, or
		 * a VM found by its guest-mode samples, stays a VM. */
		if (exec || !p->vm || p->vm->pid != p->pid)
			p->vm = NULL;
	} else if (p->vm && p->vm->pid == p->pid) {
		/* Known already (forced, or seen before its exec): learn the kind. */
		if (p->vm->kind == VMM_NONE && kind != VMM_NONE) {
			p->vm->kind = kind;
			profile__domain_set(m->profile, p->vm->domain, "vmm", vmm_kind__name(kind));
		}
	} else {
		struct vm *existing = machine__find_vm(m, p->pid);
		if (existing && existing->kind == kind) {
			p->vm = existing;
		} else {
			char *uuid = NULL, *accel;
			if (m->live)
				cmdline = read_proc_text(p->pid, "cmdline", &cmdlen);
			if (forced_name)
				name = xstrdup(forced_name);
			else if (cmdline)
				name = vm__name_from_cmdline(kind, cmdline, cmdlen);
			if (!name)
				name = xasprintf("vm-%d", p->pid);
			p->vm = new_vm(m, p->pid, kind, name, forced_name != NULL);
			if (cmdline && (uuid = vm__uuid_from_cmdline(kind, cmdline, cmdlen))) {
				profile__domain_set(m->profile, p->vm->domain, "uuid", uuid);
				free(uuid);
			}
			if (m->live) {
				accel = vm__detect_accel(p->pid, kind);
				profile__domain_set(m->profile, p->vm->domain, "accel", accel);
				free(accel);
			}
		}
	}
	for (size_t i = 0; i < m->n_threads; i++)
		if (m->threads[i]->proc == p)
			classify_thread(m, m->threads[i]);
}

/* ---- maps ---- */

const struct map *process__find_map(const struct process *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_maps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < p->maps[lo - 1].end)
		return &p->maps[lo - 1];
	return NULL;
}

static void insert_map(struct process *p, const struct map *nm)
{
	/* Each old map yields at most two pieces, plus the new one. */
	size_t cap = p->n_maps * 2 + 2;
	struct map *out = xmalloc(cap * sizeof(*out));
	size_t n = 0;
	bool placed = false;
	for (size_t i = 0; i < p->n_maps; i++) {
		struct map e = p->maps[i];
		if (e.end <= nm->start || e.start >= nm->end) {
			if (!placed && e.start >= nm->end) {
				out[n++] = *nm;
				placed = true;
			}
			out[n++] = e;
			continue;
		}
		if (e.start < nm->start) {
			struct map left = e;
			left.end = nm->start;
			out[n++] = left;
		}
		if (!placed) {
			out[n++] = *nm;
			placed = true;
		}
		if (e.end > nm->end) {
			struct map right = e;
			right.pgoff += nm->end - e.start;
			right.start = nm->end;
			out[n++] = right;
		}
	}
	if (!placed)
		out[n++] = *nm;
	free(p->maps);
	p->maps = out;
	p->n_maps = n;
	p->cap_maps = cap;
}

static bool is_anon_name(const char *name)
{
	return !*name || streq(name, "//anon") || startswith(name, "[anon") || startswith(name, "/memfd:") ||
	       streq(name, "[heap]") || startswith(name, "[stack") || startswith(name, "//") ||
	       streq(name, "[uprobes]");
}

static void add_map(struct machine *m, struct process *p, uint64_t start, uint64_t end, uint64_t pgoff,
		    const char *name, const uint8_t *build_id, size_t build_id_size)
{
	struct map nm = { .start = start, .end = end, .pgoff = pgoff };
	if (end <= start)
		return;
	if (streq(name, "[vdso]")) {
		nm.image = image_registry__get(&m->images, IMAGE_VDSO, "[vdso]");
	} else if (streq(name, "[vsyscall]")) {
		nm.image = image_registry__get(&m->images, IMAGE_KERNEL, "[kernel.kallsyms]");
	} else if (is_anon_name(name)) {
		nm.anon_exec = true;
		if (!p->jit_checked && m->live) {
			char path[64], in_root[96];
			p->jit_checked = true;
			snprintf(path, sizeof(path), "/tmp/perf-%d.map", p->pid);
			/* The process's own /tmp, as perf reads it: a recorder with a
			 * private /tmp (systemd's PrivateTmp, the agent's unit) or a
			 * process in a container sees another one at /tmp. */
			snprintf(in_root, sizeof(in_root), "/proc/%d/root%s", p->pid, path);
			if (access(path, R_OK) == 0) {
				p->jit = image_registry__get(&m->images, IMAGE_JIT, path);
			} else if (access(in_root, R_OK) == 0) {
				p->jit = image_registry__get(&m->images, IMAGE_JIT, path);
				if (!p->jit->load_path)
					p->jit->load_path = xstrdup(in_root);
			}
		}
		nm.image = p->jit ? p->jit : image_registry__get(&m->images, IMAGE_ANON, "[anon]");
	} else {
		nm.image = image_registry__get(&m->images, IMAGE_ELF, name);
		if (build_id_size && !nm.image->build_id[0])
			build_id__hex(build_id, build_id_size, nm.image->build_id);
		/* A process in another mount namespace sees its files under
		 * /proc/PID/root. */
		if (m->live && !nm.image->loaded && !nm.image->load_path && access(name, R_OK) != 0) {
			char *alt = xasprintf("/proc/%d/root%s", p->pid, name);
			if (access(alt, R_OK) == 0)
				nm.image->load_path = alt;
			else
				free(alt);
		}
	}
	insert_map(p, &nm);
}

void machine__mmap(struct machine *m, const struct perf_mmap_event *ev)
{
	struct process *p;
	if (ev->is_mmap2 && !(ev->prot & PROT_EXEC))
		return;
	if (ev->pid == UINT32_MAX || ev->pid == 0)
		return; /* kernel and module maps: kallsyms covers them */
	p = machine__thread(m, (pid_t)ev->pid, (pid_t)ev->tid)->proc;
	add_map(m, p, ev->start, ev->start + ev->len, ev->pgoff, ev->filename, ev->build_id, ev->build_id_size);
	if (p->exe_pending && ev->filename[0] == '/') {
		/* The binary an exec mapped first: its name may say VMM where
		 * the comm does not (a renamed or symlinked QEMU). */
		p->exe_pending = false;
		p->exe_kind = exe_kind(ev->filename);
		if (p->exe_kind != VMM_NONE)
			classify_process(m, p, true);
	}
}

/* ---- /proc ---- */

static void read_maps(struct machine *m, struct process *p)
{
	_cleanup_free_ char *text = read_proc_text(p->pid, "maps", NULL);
	char *line, *save = NULL;
	if (!text)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, end, off;
		char perms[8];
		int name_at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &start, &end, perms, &off, &name_at) < 4)
			continue;
		if (perms[2] != 'x')
			continue;
		while (line[name_at] == ' ')
			name_at++;
		add_map(m, p, start, end, off, line + name_at, NULL, 0);
	}
}

static char *read_comm(pid_t pid, pid_t tid)
{
	char what[64];
	char *text;
	if (tid)
		snprintf(what, sizeof(what), "task/%d/comm", tid);
	else
		snprintf(what, sizeof(what), "comm");
	text = read_proc_text(pid, what, NULL);
	if (text)
		text[strcspn(text, "\n")] = '\0';
	return text;
}

/* Read one process with all its threads from /proc. */
static struct process *synthesize_process(struct machine *m, pid_t pid)
{
	_cleanup_free_ char *comm = read_comm(pid, 0);
	struct process *p;
	char path[64];
	DIR *d;
	struct dirent *de;

	if (!comm)
		return NULL;
	p = new_proc(m, pid, comm);
	if (m->live) {
		char path[64], exe[512];
		ssize_t n;
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		p->exe_kind = exe_kind(exe);
	}
	read_maps(m, p);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			uint64_t tid;
			_cleanup_free_ char *tcomm = NULL;
			if (parse_u64(de->d_name, 10, &tid) < 0)
				continue;
			tcomm = read_comm(pid, (pid_t)tid);
			new_thread(m, p, (pid_t)tid, tcomm ? tcomm : comm);
		}
		closedir(d);
	}
	if (!find_thread(m, pid))
		new_thread(m, p, pid, comm);
	classify_process(m, p, true);
	for (size_t i = 0; i < m->n_threads; i++)
		if (m->threads[i]->proc == p && !p->vm)
			classify_thread(m, m->threads[i]);
	return p;
}

int machine__synthesize(struct machine *m)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t *pids = NULL;
	size_t n = 0, cap = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		uint64_t pid;
		if (parse_u64(de->d_name, 10, &pid) < 0)
			continue;
		ARRAY_GROW(pids, cap, n + 1);
		pids[n++] = (pid_t)pid;
	}
	closedir(d);
	/* VMMs first, so backend threads (vhost-PID) find their VM. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *comm = NULL;
			bool vmm;
			if (find_proc(m, pids[i]))
				continue;
			comm = read_comm(pids[i], 0);
			if (!comm)
				continue;
			vmm = vmm_kind__detect(comm, NULL) != VMM_NONE;
			for (size_t f = 0; f < m->n_forced; f++)
				vmm |= m->forced[f].pid == pids[i];
			if (vmm == (pass == 0))
				synthesize_process(m, pids[i]);
		}
	free(pids);
	for (size_t f = 0; f < m->n_forced; f++)
		if (!machine__find_vm(m, m->forced[f].pid))
			warn(m, "--vm %s=%d: no such process", m->forced[f].name, m->forced[f].pid);
	return 0;
}

struct thread *machine__thread(struct machine *m, pid_t pid, pid_t tid)
{
	struct thread *t = m->last_thread;
	struct process *p;
	/* Samples come in runs from one thread. The cache holds a thread the
	 * tables would return too: it is dropped whenever a thread is added. */
	if (t && t->tid == tid && (pid < 0 || t->proc->pid == pid))
		return t;
	t = find_thread(m, tid);
	if (t && (pid < 0 || t->proc->pid == pid))
		return m->last_thread = t;
	if (pid < 0)
		pid = tid;
	p = find_proc(m, pid);
	if (!p && m->live && pid > 0)
		p = synthesize_process(m, pid);
	if (!p) {
		_cleanup_free_ char *comm = xasprintf(pid == 0 ? "swapper" : ":%d", pid);
		p = new_proc(m, pid, comm);
		classify_process(m, p, true);
	}
	t = find_thread(m, tid);
	if (t && t->proc == p)
		return t;
	t = new_thread(m, p, tid, tid == pid ? p->comm : NULL);
	classify_thread(m, t);
	return t;
}

void machine__comm(struct machine *m, const struct perf_comm_event *ev)
{
	struct thread *t = machine__thread(m, (pid_t)ev->pid, (pid_t)ev->tid);
	struct process *p = t->proc;
	snprintf(t->comm, sizeof(t->comm), "%s", ev->comm);
	thread__forget_profile_id(t);
	if (ev->exec) {
		/* exec replaces the address space; new MMAP2 records follow,
		 * the new binary's first. */
		p->n_maps = 0;
		p->jit = NULL;
		p->jit_checked = false;
		p->exe_kind = VMM_NONE;
		p->exe_pending = true;
	}
	if (ev->exec || (pid_t)ev->tid == p->pid) {
		snprintf(p->comm, sizeof(p->comm), "%s", ev->comm);
		classify_process(m, p, ev->exec);
	} else {
		classify_thread(m, t);
	}
}

void machine__fork(struct machine *m, const struct perf_task_event *ev)
{
	struct thread *parent = machine__thread(m, (pid_t)ev->ppid, (pid_t)ev->ptid);
	struct process *p;
	struct thread *t;

	if (ev->pid == ev->ppid) {
		p = parent->proc;
	} else {
		/* A new process: a copy of the parent's address space. */
		p = new_proc(m, (pid_t)ev->pid, parent->comm);
		p->maps = xmalloc((parent->proc->n_maps + 1) * sizeof(*p->maps));
		if (parent->proc->n_maps)
			memcpy(p->maps, parent->proc->maps, parent->proc->n_maps * sizeof(*p->maps));
		p->n_maps = p->cap_maps = parent->proc->n_maps;
		p->vm = parent->proc->vm;
		p->exe_kind = parent->proc->exe_kind;
	}
	t = new_thread(m, p, (pid_t)ev->tid, parent->comm);
	classify_thread(m, t);
}

struct vm *machine__vm_for_guest(struct machine *m, struct thread *t)
{
	if (t->vm)
		return t->vm;
	if (!t->proc->vm) {
		_cleanup_free_ char *name = xasprintf("vm-%d", t->proc->pid);
		t->proc->vm = new_vm(m, t->proc->pid, VMM_NONE, name, false);
		for (size_t i = 0; i < m->n_threads; i++)
			if (m->threads[i]->proc == t->proc)
				classify_thread(m, m->threads[i]);
	}
	return t->proc->vm;
}

/* ---- classification ---- */

static uint32_t image_id(struct machine *m, struct image *im, uint32_t domain)
{
	if (!im->user_id) {
		if (im->kind == IMAGE_ELF || im->kind == IMAGE_VDSO)
			image__load(im); /* for the build-id and segments */
		im->user_id = profile__image(m->profile, domain, im->path, im->build_id[0] ? im->build_id : NULL,
					     im->kind);
	}
	return im->user_id;
}

static uint32_t symbol_id(struct machine *m, struct image *im, uint32_t image, const struct symbol *s)
{
	struct symbol *ms = (struct symbol *)s;
	if (!ms->user_id)
		ms->user_id = profile__symbol(m->profile, image, symtab__name(&im->symtab, s), s->start, s->size);
	return ms->user_id;
}

static uint32_t thread_id(struct machine *m, struct thread *t)
{
	if (!t->profile_id)
		t->profile_id = profile__thread(m->profile, t->vm ? t->vm->domain : m->host_domain,
						(uint32_t)t->proc->pid, (uint32_t)t->tid, t->comm, t->role, t->vcpu);
	return t->profile_id;
}

static void resolve_kernel(struct machine *m, uint64_t ip, struct resolved *r)
{
	struct image *k = image_registry__host_kernel(&m->images);
	const struct symbol *s = image__find(k, ip);
	r->address = ip;
	if (s && s->module) {
		/* A module symbol: the module is its image. */
		char name[160];
		snprintf(name, sizeof(name), "[%s]", s->module);
		if (!s->user_id) {
			uint32_t img = profile__image(m->profile, m->host_domain, name, NULL, IMAGE_MODULE);
			((struct symbol *)s)->user_id = profile__symbol(m->profile, img, s->name, s->start, s->size);
		}
		r->symbol = s->user_id;
		r->image = m->profile->symbols[r->symbol - 1].image;
		return;
	}
	r->image = image_id(m, k, m->host_domain);
	r->symbol = s ? symbol_id(m, k, r->image, s) : 0;
}

/* Whether profile symbol id is an idle-loop function; decided once per
 * symbol, since the idle task's samples are most of an idle machine's. */
static bool idle_symbol(struct machine *m, uint32_t symbol)
{
	if (!symbol)
		return false;
	if (symbol >= m->cap_idle_symbols) {
		size_t cap = MAX((size_t)symbol + 1, 2 * m->cap_idle_symbols);
		m->idle_symbols = xrealloc(m->idle_symbols, cap);
		memset(m->idle_symbols + m->cap_idle_symbols, 0, cap - m->cap_idle_symbols);
		m->cap_idle_symbols = cap;
	}
	if (!m->idle_symbols[symbol])
		m->idle_symbols[symbol] = idle__is_loop_function(m->profile->symbols[symbol - 1].name) ? 2 : 1;
	return m->idle_symbols[symbol] == 2;
}

void machine__resolve(struct machine *m, struct thread *t, uint16_t cpumode, uint64_t ip, struct resolved *r)
{
	struct vm *vm = t->vm;
	const struct map *map;
	const struct symbol *s;

	r->symbol = 0;
	switch (cpumode) {
	case CPUMODE_GUEST_KERNEL:
	case CPUMODE_GUEST_USER:
		vm = machine__vm_for_guest(m, t);
		r->domain = vm->domain;
		r->thread = thread_id(m, t);
		r->address = ip;
		if (cpumode == CPUMODE_GUEST_KERNEL) {
			r->layer = LAYER_GUEST_KERNEL;
			r->image = image_id(m, vm->guest_kernel, vm->domain);
			s = vm->guest_kernel->symtab.n ? image__find(vm->guest_kernel, ip) : NULL;
			r->symbol = s ? symbol_id(m, vm->guest_kernel, r->image, s) : 0;
		} else {
			r->layer = LAYER_GUEST_USER;
			r->image = image_id(m, vm->guest_user, vm->domain);
		}
		return;
	case CPUMODE_KERNEL:
	case CPUMODE_HYPERVISOR:
		r->domain = vm ? vm->domain : m->host_domain;
		r->thread = thread_id(m, t);
		r->layer = vm ? LAYER_HYPERVISOR : LAYER_KERNEL;
		resolve_kernel(m, ip, r);
		/* The idle task in its idle loop is not work; in anything else
		 * (an interrupt, a softirq, a wake-up on an idle CPU) it is. */
		if (!vm && t->proc->pid == 0 && idle_symbol(m, r->symbol)) {
			if (!m->idle_domain)
				m->idle_domain = profile__idle_domain(m->profile);
			r->domain = m->idle_domain;
			r->layer = LAYER_IDLE;
		}
		return;
	default:
		break;
	}
	r->domain = vm ? vm->domain : m->host_domain;
	r->thread = thread_id(m, t);
	r->layer = vm ? LAYER_VMM : LAYER_USER;
	map = process__find_map(t->proc, ip);
	if (!map) {
		r->image = image_id(m, image_registry__get(&m->images, IMAGE_UNKNOWN, "[unknown]"), m->host_domain);
		r->address = ip;
		return;
	}
	if (map->anon_exec && vm && t->proc->vm && map->image->kind != IMAGE_JIT) {
		/* Code generated at run time inside a VMM: TCG's translation
		 * cache. It is the guest's code, in the guest layer. */
		r->layer = LAYER_GUEST;
		r->image = image_id(m, vm->guest_code, vm->domain);
		r->address = ip;
		return;
	}
	r->image = image_id(m, map->image, m->host_domain);
	if (map->image->kind == IMAGE_JIT || map->image->kind == IMAGE_ANON)
		r->address = ip;
	else if (map->image->kind == IMAGE_KERNEL) {
		resolve_kernel(m, ip, r);
		return;
	} else
		r->address = elf_info__offset_to_vaddr(&map->image->info, ip - map->start + map->pgoff);
	s = image__find(map->image, r->address);
	r->symbol = s ? symbol_id(m, map->image, r->image, s) : 0;
}

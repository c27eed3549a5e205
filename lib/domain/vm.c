/* VM recognition; see vm.h. */
#define _GNU_SOURCE
#include "vm.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "../util/util.h"
#include "../vocab/vocab.h"

const char *vmm_kind__name(enum vmm_kind k)
{
	switch (k) {
	case VMM_QEMU: return "qemu";
	case VMM_FIRECRACKER: return "firecracker";
	case VMM_CLOUD_HYPERVISOR: return "cloud-hypervisor";
	case VMM_CROSVM: return "crosvm";
	default: return "none";
	}
}

static enum vmm_kind detect_one(const char *n)
{
	if (!n || !*n)
		return VMM_NONE;
	if (startswith(n, "qemu-system-") || streq(n, "qemu-kvm"))
		return VMM_QEMU;
	if (streq(n, "firecracker"))
		return VMM_FIRECRACKER;
	/* comm is cut at 15 characters: "cloud-hyperviso" */
	if (startswith(n, "cloud-hyperviso"))
		return VMM_CLOUD_HYPERVISOR;
	if (streq(n, "crosvm"))
		return VMM_CROSVM;
	return VMM_NONE;
}

enum vmm_kind vmm_kind__detect(const char *comm, const char *exe_basename)
{
	enum vmm_kind k = detect_one(exe_basename);
	return k != VMM_NONE ? k : detect_one(comm);
}

/* Iterate argv entries of a NUL-separated buffer. */
static const char *next_arg(const char *argv, size_t len, const char *cur)
{
	const char *end = argv + len;
	if (!cur)
		return len ? argv : NULL;
	cur += strnlen(cur, end - cur) + 1;
	return cur < end ? cur : NULL;
}

static char *arg_value(const char *argv, size_t len, const char *opt1, const char *opt2)
{
	char *r = NULL;
	for (const char *a = next_arg(argv, len, NULL); a; a = next_arg(argv, len, a)) {
		const char *val = NULL;
		size_t n1 = strlen(opt1), n2 = opt2 ? strlen(opt2) : 0;
		if (streq(a, opt1) || (opt2 && streq(a, opt2))) {
			val = next_arg(argv, len, a);
		} else if (!strncmp(a, opt1, n1) && a[n1] == '=') {
			val = a + n1 + 1;
		} else if (opt2 && !strncmp(a, opt2, n2) && a[n2] == '=') {
			val = a + n2 + 1;
		}
		if (val) {
			free(r);
			r = xstrndup(val, strnlen(val, argv + len - val));
		}
	}
	return r;
}

/* QEMU option values are comma-separated with ",," standing for a comma. */
static char *qemu_name(const char *value)
{
	struct strbuf sb;
	const char *p = value;
	bool keyed = startswith(value, "guest=");
	if (keyed)
		p += 6;
	else if (strchr(value, '=') && (!strchr(value, ',') || strchr(value, '=') < strchr(value, ','))) {
		/* "debug-threads=on,guest=NAME": find the guest= key. */
		const char *g = strstr(value, ",guest=");
		if (!g)
			return NULL;
		p = g + 7;
	}
	strbuf_init(&sb);
	for (; *p; p++) {
		if (*p == ',') {
			if (p[1] == ',') {
				strbuf_addc(&sb, ',');
				p++;
				continue;
			}
			break;
		}
		strbuf_addc(&sb, *p);
	}
	if (!sb.len) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

char *vm__name_from_cmdline(enum vmm_kind kind, const char *argv, size_t len)
{
	_cleanup_free_ char *v = NULL;
	switch (kind) {
	case VMM_QEMU:
		v = arg_value(argv, len, "-name", "--name");
		return v ? qemu_name(v) : NULL;
	case VMM_FIRECRACKER:
		v = arg_value(argv, len, "--id", NULL);
		break;
	case VMM_CROSVM:
		v = arg_value(argv, len, "--name", NULL);
		break;
	default:
		return NULL;
	}
	if (v && *v) {
		char *r = v;
		v = NULL;
		return r;
	}
	return NULL;
}

char *vm__uuid_from_cmdline(enum vmm_kind kind, const char *argv, size_t len)
{
	char *v;
	if (kind != VMM_QEMU)
		return NULL;
	v = arg_value(argv, len, "-uuid", "--uuid");
	if (v)
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return v;
}

static bool parse_index(const char *s, int *ret, const char **rest)
{
	char *end;
	long v;
	if (!isdigit((unsigned char)*s))
		return false;
	v = strtol(s, &end, 10);
	if (v < 0 || v > 1 << 20)
		return false;
	*ret = (int)v;
	if (rest)
		*rest = end;
	else if (*end)
		return false;
	return true;
}

bool vm__vcpu_from_comm(enum vmm_kind kind, const char *comm, int *ret_index, const char **ret_accel)
{
	const char *rest;
	int idx;
	if (ret_accel)
		*ret_accel = NULL;
	switch (kind) {
	case VMM_QEMU:
		/* "CPU 0/KVM", "CPU 12/TCG" */
		if (!startswith(comm, "CPU ") || !parse_index(comm + 4, &idx, &rest) || *rest != '/')
			return false;
		if (ret_accel) {
			static const char *known[] = { "kvm", "tcg", "hvf", "whpx", "nvmm", "xen" };
			*ret_accel = NULL;
			for (size_t i = 0; i < ARRAY_SIZE(known); i++)
				if (!strcasecmp(rest + 1, known[i]))
					*ret_accel = known[i];
		}
		break;
	case VMM_FIRECRACKER:
		if (!startswith(comm, "fc_vcpu ") || !parse_index(comm + 8, &idx, NULL))
			return false;
		break;
	case VMM_CLOUD_HYPERVISOR:
		if (!startswith(comm, "vcpu") || !parse_index(comm + 4, &idx, NULL))
			return false;
		break;
	case VMM_CROSVM:
		if (!startswith(comm, "crosvm_vcpu") || !parse_index(comm + 11, &idx, NULL))
			return false;
		break;
	default:
		return false;
	}
	*ret_index = idx;
	return true;
}

pid_t vm__backend_owner(const char *comm)
{
	int pid;
	if (startswith(comm, "vhost-") && parse_index(comm + 6, &pid, NULL))
		return pid;
	if (startswith(comm, "kvm-pit/") && parse_index(comm + 8, &pid, NULL))
		return pid;
	return 0;
}

static char *read_comm(const char *path)
{
	char *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return NULL;
	text[strcspn(text, "\n")] = '\0';
	return text;
}

char *vm__detect_accel(pid_t pid, enum vmm_kind kind)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	char *accel = NULL;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char link[300], target[128];
			ssize_t n;
			snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, de->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (streq(target, "anon_inode:kvm-vm") || streq(target, "/dev/kvm")) {
				accel = xstrdup("kvm");
				break;
			}
		}
		closedir(d);
	}
	if (accel)
		return accel;
	if (kind == VMM_QEMU) {
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		d = opendir(path);
		if (d) {
			while (!accel && (de = readdir(d))) {
				char cpath[300];
				_cleanup_free_ char *comm = NULL;
				const char *a;
				int idx;
				if (de->d_name[0] == '.')
					continue;
				snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/comm", pid, de->d_name);
				comm = read_comm(cpath);
				if (comm && vm__vcpu_from_comm(kind, comm, &idx, &a) && a)
					accel = xstrdup(a);
			}
			closedir(d);
		}
		return accel ? accel : xstrdup("tcg");
	}
	return xstrdup(kind == VMM_NONE ? "unknown" : "kvm");
}

static int pid_cmp(const void *a, const void *b)
{
	const struct vm_info *x = a, *y = b;
	return x->pid - y->pid;
}

static void add_thread(struct vm_info *vm, size_t *cap, pid_t tid, const char *comm, int vcpu, bool backend)
{
	struct vm_thread *t;
	ARRAY_GROW(vm->threads, *cap, vm->n_threads + 1);
	t = &vm->threads[vm->n_threads++];
	t->tid = tid;
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	t->vcpu = vcpu;
	t->backend = backend;
}

int vms__scan(const struct vm_force *forced, size_t n_forced, struct vm_info **ret, size_t *ret_n)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	struct vm_info *vms = NULL;
	size_t n = 0, cap = 0;
	size_t *tcaps = NULL;

	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		int pid;
		char path[96], exe[512];
		_cleanup_free_ char *comm = NULL;
		_cleanup_free_ char *cmdline = NULL;
		size_t cmdlen = 0;
		enum vmm_kind kind;
		const char *forced_name = NULL;
		ssize_t el;
		struct vm_info *vm;

		if (!parse_index(de->d_name, &pid, NULL) || pid == 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		comm = read_comm(path);
		if (!comm)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		el = readlink(path, exe, sizeof(exe) - 1);
		exe[el > 0 ? el : 0] = '\0';
		kind = vmm_kind__detect(comm, el > 0 ? (strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe) : NULL);
		for (size_t i = 0; i < n_forced; i++)
			if (forced[i].pid == pid)
				forced_name = forced[i].name;
		if (kind == VMM_NONE && !forced_name)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		read_file(path, &cmdline, &cmdlen);
		ARRAY_GROW(vms, cap, n + 1);
		tcaps = xrealloc(tcaps, cap * sizeof(*tcaps));
		tcaps[n] = 0;
		vm = &vms[n++];
		vm->pid = pid;
		vm->kind = kind;
		vm->forced = forced_name != NULL;
		vm->name = forced_name ? xstrdup(forced_name) : cmdline ? vm__name_from_cmdline(kind, cmdline, cmdlen) : NULL;
		if (!vm->name)
			vm->name = xasprintf("vm-%d", pid);
		if (domain_name__is_reserved(vm->name)) {
			/* "host" and "idle" name the host's own domains. */
			char *renamed = xasprintf("%s-%d", vm->name, pid);
			free(vm->name);
			vm->name = renamed;
		}
		vm->uuid = cmdline ? vm__uuid_from_cmdline(kind, cmdline, cmdlen) : NULL;
		vm->accel = vm__detect_accel(pid, kind);

		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		DIR *td = opendir(path);
		if (td) {
			struct dirent *te;
			while ((te = readdir(td))) {
				int tid, idx = -1;
				char cpath[300];
				_cleanup_free_ char *tcomm = NULL;
				if (!parse_index(te->d_name, &tid, NULL))
					continue;
				snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/comm", pid, tid);
				tcomm = read_comm(cpath);
				if (!tcomm)
					continue;
				if (vm__vcpu_from_comm(kind, tcomm, &idx, NULL))
					add_thread(vm, &tcaps[n - 1], tid, tcomm, idx, false);
				else if (vm__backend_owner(tcomm) == pid)
					add_thread(vm, &tcaps[n - 1], tid, tcomm, -1, true);
			}
			closedir(td);
		}
	}
	/* Backend kernel threads are processes of their own (vhost-PID before
	 * Linux 6.4, kvm-pit/PID): a second pass over /proc. */
	rewinddir(proc);
	while ((de = readdir(proc))) {
		int pid;
		char path[64];
		_cleanup_free_ char *comm = NULL;
		pid_t owner;
		if (!parse_index(de->d_name, &pid, NULL))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		comm = read_comm(path);
		if (!comm || !(owner = vm__backend_owner(comm)))
			continue;
		for (size_t i = 0; i < n; i++)
			if (vms[i].pid == owner && owner != pid)
				add_thread(&vms[i], &tcaps[i], pid, comm, -1, true);
	}
	closedir(proc);
	free(tcaps);
	if (n > 1)
		qsort(vms, n, sizeof(*vms), pid_cmp);
	*ret = vms;
	*ret_n = n;
	return 0;
}

void vms__free(struct vm_info *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vms[i].name);
		free(vms[i].accel);
		free(vms[i].uuid);
		free(vms[i].threads);
	}
	free(vms);
}

/* vm: recognising virtual machines from the host — which processes are
 * VMMs (QEMU, Firecracker, cloud-hypervisor, crosvm), what the VM is
 * called, which of its threads are vCPUs, which host kernel threads serve
 * it (vhost-PID, kvm-pit/PID), and whether it runs on KVM or TCG. The
 * parsing functions are pure (unit-tested); vms__scan reads /proc. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum vmm_kind {
	VMM_NONE = 0,
	VMM_QEMU,
	VMM_FIRECRACKER,
	VMM_CLOUD_HYPERVISOR,
	VMM_CROSVM,
};
const char *vmm_kind__name(enum vmm_kind k);

/* From a process's comm (as the kernel truncates it, 15 chars) and/or the
 * basename of its executable (either may be NULL). */
enum vmm_kind vmm_kind__detect(const char *comm, const char *exe_basename);

/* The VM's name from the VMM's argv (NUL-separated, as /proc/PID/cmdline):
 * QEMU -name NAME[,opts] or -name guest=NAME,...; Firecracker --id NAME.
 * NULL when not given. */
char *vm__name_from_cmdline(enum vmm_kind kind, const char *argv, size_t len);
/* QEMU -uuid UUID (lower-cased), else NULL. */
char *vm__uuid_from_cmdline(enum vmm_kind kind, const char *argv, size_t len);

/* A thread name's role inside a VMM: returns true for a vCPU thread and
 * sets *ret_index; "CPU 3/KVM" (QEMU), "fc_vcpu 3" (Firecracker), "vcpu3"
 * (cloud-hypervisor), "crosvm_vcpu3" (crosvm). *ret_accel is set for QEMU
 * names ("kvm", "tcg", ... lower-cased) else NULL. */
bool vm__vcpu_from_comm(enum vmm_kind kind, const char *comm, int *ret_index, const char **ret_accel);

/* Host threads serving a VM by name: "vhost-PID", "kvm-pit/PID". Returns
 * the VMM's pid or 0. */
pid_t vm__backend_owner(const char *comm);

struct vm_thread {
	pid_t tid;
	char comm[32];
	int vcpu; /* -1 unless a vCPU */
	bool backend;
};

struct vm_info {
	pid_t pid;
	char *name;
	enum vmm_kind kind;
	char *accel; /* "kvm", "tcg", or "unknown" */
	char *uuid;
	bool forced; /* named by --vm */
	struct vm_thread *threads;
	size_t n_threads;
};

struct vm_force {
	const char *name;
	pid_t pid;
};

/* Every VM running now. forced lists --vm NAME=PID pairs (processes that
 * are VMs whatever they look like, and names for recognised ones). */
int vms__scan(const struct vm_force *forced, size_t n_forced, struct vm_info **ret, size_t *ret_n);
void vms__free(struct vm_info *vms, size_t n);

/* Accelerator of a running VMM process: "kvm" when it holds a KVM VM fd,
 * else from its vCPU thread names, else "tcg" for QEMU, else "unknown". */
char *vm__detect_accel(pid_t pid, enum vmm_kind kind);

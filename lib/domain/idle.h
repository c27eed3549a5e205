/* idle: the rule that separates the host's idle loop from its work, and
 * the one that names a KVM vCPU halted or halt-polling.
 *
 * A sample belongs to domain "idle" (layer idle) when its thread is the
 * host's idle task (pid 0, "swapper/N") in kernel mode and its function is
 * one of the idle loop's: an idle routine that halts, waits (mwait, a
 * hypercall) or polls for work, or the loop's own bookkeeping around those
 * routines (do_idle, the cpuidle governor, the nohz tick). Everything else
 * the idle task runs is work and stays host kernel: interrupts and softirqs
 * served on an idle CPU, IPIs, wake-ups handed to other tasks. The same
 * rule classifies samples as they are recorded (lib/domain/machine.c) and
 * the samples of sessions recorded before the rule existed, when they are
 * read (lib/session/session.c). perf top's symbol__is_idle list is the
 * reference; docs/attribution.md gives the list and why each name is in
 * it.
 *
 * Only names are compared: a kernel's functions are known by name in every
 * session (kallsyms), whatever the kernel version. Compiler clones keep
 * their base name ("mwait_idle_with_hints.constprop.0" is
 * mwait_idle_with_hints), as does a ppc64 dot symbol. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Whether a host kernel function is part of the idle loop. */
bool idle__is_loop_function(const char *name);

/* Whether a host kernel function is KVM's halt path: a vCPU that executed
 * HLT (or WFI) being polled for a wake-up or blocked. Such samples stay in
 * the VM's hypervisor layer; reports name their share. */
bool idle__is_halt_function(const char *name);

/* The lists, sorted, for documentation and tests. */
const char *const *idle__loop_functions(size_t *ret_n);
const char *const *idle__halt_functions(size_t *ret_n);

/* The idle loop's functions and KVM's halt path, by name; see idle.h.
 * Both lists are sorted (bsearch), and docs/attribution.md says why each
 * name is there. perf's symbol__is_idle (tools/perf/util/symbol.c) was the
 * starting point: its list is here, less idle_cpu (a scheduler helper that
 * load balancing calls from softirqs on any task: work, not the idle
 * loop), plus the idle routines of current kernels and hypervisors and the
 * loop's own bookkeeping. */
#include "idle.h"

#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

static const char *const loop_functions[] = {
	"acpi_idle_do_entry",          /* ACPI C-state entry (perf) */
	"acpi_idle_enter",
	"acpi_idle_enter_bm",
	"acpi_idle_enter_s2idle",
	"acpi_processor_ffh_cstate_enter", /* ACPI FFH (mwait) C-states, AMD (perf) */
	"acpi_safe_halt",
	"amd_e400_idle",
	"arch_cpu_idle",               /* every architecture's idle entry (perf) */
	"arch_cpu_idle_enter",
	"arch_cpu_idle_exit",
	"arch_cpu_idle_prepare",
	"call_cpuidle",
	"cpu_do_idle",                 /* arm64, riscv: wfi */
	"cpu_idle",                    /* the idle loop of old kernels (perf) */
	"cpu_idle_poll",               /* idle=poll */
	"cpu_startup_entry",           /* (perf) */
	"cpuidle_enter",
	"cpuidle_enter_state",
	"cpuidle_idle_call",
	"cpuidle_reflect",
	"cpuidle_select",
	"ct_idle_enter",
	"ct_idle_exit",
	"default_enter_idle",          /* cpuidle-haltpoll's halt state (KVM guests) */
	"default_idle",                /* (perf) */
	"default_idle_call",
	"do_idle",                     /* the idle loop itself */
	"enabled_wait",                /* s390 */
	"enter_idle",                  /* old x86 idle notifiers (perf) */
	"exit_idle",                   /* (perf) */
	"haltpoll_reflect",            /* the haltpoll cpuidle governor */
	"haltpoll_select",
	"intel_idle",                  /* (perf) */
	"intel_idle_ibrs",             /* (perf) */
	"intel_idle_irq",              /* (perf) */
	"intel_idle_s2idle",
	"intel_idle_xstate",
	"io_idle",                     /* ACPI C-state entry by port read */
	"ladder_reflect",              /* the ladder governor */
	"ladder_select_state",
	"menu_reflect",                /* the menu governor */
	"menu_select",
	"menu_update",
	"mwait_idle",                  /* (perf) */
	"mwait_idle_with_hints",       /* (perf) */
	"native_safe_halt",            /* sti; hlt (perf) */
	"poll_idle",                   /* cpuidle's polling state (perf) */
	"ppc64_runlatch_off",          /* (perf) */
	"psci_cpu_suspend_enter",      /* arm64 PSCI idle states */
	"psci_enter_idle_state",
	"pseries_dedicated_idle_sleep", /* (perf) */
	"psw_idle",                    /* s390 (perf) */
	"psw_idle_exit",               /* (perf) */
	"pv_native_safe_halt",         /* native_safe_halt behind paravirt ops */
	"pvm_safe_halt_hc",            /* halt by hypercall in a PVM guest */
	"rcu_idle_enter",
	"rcu_idle_exit",
	"sched_idle_set_state",
	"snooze_loop",                 /* powerpc cpuidle polling state */
	"tdx_safe_halt",               /* halt by TDCALL in a TDX guest */
	"teo_reflect",                 /* the teo governor */
	"teo_select",
	"teo_update",
	"tick_nohz_get_sleep_length",  /* the nohz tick around the idle routine */
	"tick_nohz_idle_enter",
	"tick_nohz_idle_exit",
	"tick_nohz_idle_got_tick",
	"tick_nohz_idle_retain_tick",
	"tick_nohz_idle_stop_tick",
	"xen_safe_halt",               /* halt by hypercall in a Xen PV guest */
};

static const char *const halt_functions[] = {
	"__kvm_emulate_halt",
	"grow_halt_poll_ns",
	"kvm_arch_no_poll",
	"kvm_arch_vcpu_blocking",
	"kvm_arch_vcpu_runnable",  /* the wake-up check the poll loop spins on */
	"kvm_arch_vcpu_unblocking",
	"kvm_emulate_halt",
	"kvm_emulate_halt_noskip",
	"kvm_handle_wfx",          /* arm64: WFI/WFE exit */
	"kvm_s390_handle_wait",    /* s390: enabled wait */
	"kvm_vcpu_block",          /* sleeps until a wake-up */
	"kvm_vcpu_check_block",
	"kvm_vcpu_halt",           /* halt-polling, then block */
	"kvm_vcpu_has_events",
	"kvm_vcpu_wfi",
	"shrink_halt_poll_ns",
	"update_halt_poll_stats",
	"vcpu_block",              /* x86: the halted vCPU's loop */
};

static int name_cmp(const void *key, const void *entry)
{
	return strcmp(key, *(const char *const *)entry);
}

/* name without compiler-clone suffixes (".constprop.0", ".isra.0",
 * ".part.0", ".cold", ".llvm.NNN") or a ppc64 leading dot. */
static bool in_list(const char *const *list, size_t n, const char *name)
{
	char base[128];
	size_t len;
	if (!name)
		return false;
	if (name[0] == '.')
		name++;
	len = strcspn(name, ".");
	if (len == 0 || len >= sizeof(base))
		return false;
	memcpy(base, name, len);
	base[len] = '\0';
	return bsearch(base, list, n, sizeof(*list), name_cmp) != NULL;
}

bool idle__is_loop_function(const char *name)
{
	return in_list(loop_functions, ARRAY_SIZE(loop_functions), name);
}

bool idle__is_halt_function(const char *name)
{
	return in_list(halt_functions, ARRAY_SIZE(halt_functions), name);
}

const char *const *idle__loop_functions(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(loop_functions);
	return loop_functions;
}

const char *const *idle__halt_functions(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(halt_functions);
	return halt_functions;
}

/* vocab: the words every part of domprof shares, and the rules that go
 * with them, in one place that depends on nothing. What a layer is and in
 * which order reports list the layers; which layers are the guest's own
 * code and which are its cost on the host (and so the virtualization
 * overhead, (hypervisor + vmm) / guest); how an agent's own layers map to
 * the guest layers the host files them under; the kinds of domain and the
 * names the host keeps for itself; the roles of threads, the kinds of
 * images and who measured a sample. Their names are the strings of the
 * session schema and of the CSV/JSON contracts (docs/session-format.md,
 * docs/report-formats.md), so they never change.
 *
 * The symbolizer, the domain classifier, the aggregator, stat and the
 * reports include this header without pulling in each other: a new rule
 * about layers or domains belongs here when a second part needs it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* ---- layers ---- */

/* Every sample has exactly one layer (docs/attribution.md). The values are
 * stable (arrays are indexed by them); the order reports use is
 * layer__display_order, not this one. */
enum layer {
	LAYER_USER = 0,     /* host user space */
	LAYER_KERNEL,       /* host kernel, outside a VM's work and the idle loop */
	LAYER_GUEST_USER,   /* a guest's user space */
	LAYER_GUEST_KERNEL, /* a guest's kernel */
	LAYER_GUEST,        /* guest code whose user/kernel split the host cannot see (TCG) */
	LAYER_HYPERVISOR,   /* host kernel work for a VM: KVM exits, vhost */
	LAYER_VMM,          /* the VMM process's own user-space code */
	LAYER_IDLE,         /* the host's idle loop: domain "idle" (lib/domain/idle.h) */
	LAYER__COUNT
};
/* "user", "kernel", "guest-user", "guest-kernel", "guest", "hypervisor",
 * "vmm", "idle"; "?" out of range. */
const char *layer__name(enum layer l);
/* The layer of a name, or -1 when unknown. */
int layer__from_name(const char *name);

/* Every layer once, in the order reports, stat and the HTML page list
 * them: a VM's from the guest outwards (guest-user, guest-kernel, guest,
 * vmm, hypervisor), then the host's (user, kernel), then idle. */
extern const enum layer layer__display_order[LAYER__COUNT];

/* The guest's own code: guest-user, guest-kernel, guest. The denominator
 * of the overhead, and the layers an agent's breakdown replaces in the
 * merged view. */
bool layer__is_guest(enum layer l);
/* The same list as an SQL set over the session's layer column, for the
 * queries that select guest layers; it must name exactly the layers
 * layer__is_guest accepts (test-vocab checks that). */
#define LAYER_GUEST_SQL_SET "('guest-user','guest-kernel','guest')"
/* What a VM costs the host beside its guest code: hypervisor and vmm.
 * The numerator of the overhead. */
bool layer__is_vm_cost(enum layer l);

/* A VM's virtualization overhead for one event from its value per layer
 * (indexed by enum layer): (hypervisor + vmm) / (guest-user + guest-kernel
 * + guest), or -1 when the VM did no guest work. The one formula report,
 * html and stat print. */
double layer__overhead(const double value[LAYER__COUNT]);

/* The layer an agent's own sample goes to on the host: the guest's kernel
 * for every kernel mode the agent saw (its kernel, and the hypervisor
 * layer a nested VM would give), the guest's user space for the rest. */
enum layer layer__as_guest(enum layer agent_layer);

/* ---- domains ---- */

/* What a domain is: the host, one VM, or the host's idle loop. The names
 * are the session's domains.kind and the reports' "kind". */
enum domain_kind { DOMAIN_HOST = 0, DOMAIN_VM, DOMAIN_IDLE };
const char *domain_kind__name(enum domain_kind k);
/* The kind of a name, or -1 when unknown. */
int domain_kind__from_name(const char *name);
/* From the two flags the models carry. */
enum domain_kind domain_kind__of(bool is_vm, bool is_idle);
/* Whether layer l is one of a domain of kind k: host: user, kernel;
 * idle: idle; VM: the guest layers, vmm and hypervisor. */
bool domain_kind__has_layer(enum domain_kind k, enum layer l);

/* The names the host keeps for its own domains; a VM may not take them. */
#define DOMAIN_NAME_HOST "host"
#define DOMAIN_NAME_IDLE "idle"
bool domain_name__is_reserved(const char *name);

/* ---- threads, images, origins ---- */

/* What a thread is to domprof. The recorder stores it with each thread;
 * stat splits a VM's work into layers by it. */
enum thread_role {
	ROLE_TASK = 0, /* an ordinary host task */
	ROLE_VCPU,     /* a VM's vCPU thread: runs the guest */
	ROLE_VMM,      /* another thread of a VMM process */
	ROLE_BACKEND,  /* a host kernel/backend thread serving a VM (vhost-PID) */
	ROLE_GUEST,    /* a task inside a guest (agent data) */
	ROLE__COUNT
};
/* "task", "vcpu", "vmm", "backend", "guest"; "?" out of range. */
const char *thread_role__name(enum thread_role r);

enum image_kind {
	IMAGE_ELF = 0,      /* a file-backed executable or library */
	IMAGE_KERNEL,       /* [kernel.kallsyms] */
	IMAGE_MODULE,       /* [module] */
	IMAGE_VDSO,         /* [vdso] */
	IMAGE_JIT,          /* /tmp/perf-PID.map */
	IMAGE_ANON,         /* anonymous executable memory */
	IMAGE_GUEST_KERNEL, /* a guest's kernel, seen from the host */
	IMAGE_GUEST_USER,   /* guest user space seen from the host: [guest user] */
	IMAGE_UNKNOWN,      /* no mapping covers the address */
	IMAGE__COUNT
};
const char *image_kind__name(enum image_kind k);
int image_kind__from_name(const char *name);

/* Who measured a sample: the host's own sampler, or a guest's agent. */
enum origin { ORIGIN_HOST = 0, ORIGIN_AGENT = 1 };
/* "host", "agent". */
const char *origin__name(enum origin o);

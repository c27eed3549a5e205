/* The shared vocabulary's names and rules; see vocab.h. */
#include "vocab.h"

#include <string.h>

static const char *const layer_names[LAYER__COUNT] = {
	"user", "kernel", "guest-user", "guest-kernel", "guest", "hypervisor", "vmm", "idle",
};
static const char *const domain_kind_names[] = { "host", "vm", "idle" };
static const char *const role_names[ROLE__COUNT] = { "task", "vcpu", "vmm", "backend", "guest" };
static const char *const image_kind_names[IMAGE__COUNT] = {
	"elf", "kernel", "module", "vdso", "jit", "anon", "guest-kernel", "guest-user", "unknown",
};

const enum layer layer__display_order[LAYER__COUNT] = {
	LAYER_GUEST_USER, LAYER_GUEST_KERNEL, LAYER_GUEST, LAYER_VMM, LAYER_HYPERVISOR, LAYER_USER, LAYER_KERNEL, LAYER_IDLE,
};

static int name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *layer__name(enum layer l) { return (unsigned)l < LAYER__COUNT ? layer_names[l] : "?"; }
int layer__from_name(const char *name) { return name_index(layer_names, LAYER__COUNT, name); }

bool layer__is_guest(enum layer l) { return l == LAYER_GUEST_USER || l == LAYER_GUEST_KERNEL || l == LAYER_GUEST; }
bool layer__is_vm_cost(enum layer l) { return l == LAYER_HYPERVISOR || l == LAYER_VMM; }

double layer__overhead(const double value[LAYER__COUNT])
{
	double guest = 0, cost = 0;
	for (int l = 0; l < LAYER__COUNT; l++) {
		if (layer__is_guest((enum layer)l))
			guest += value[l];
		else if (layer__is_vm_cost((enum layer)l))
			cost += value[l];
	}
	return guest > 0 ? cost / guest : -1.0;
}

enum layer layer__as_guest(enum layer agent_layer)
{
	switch (agent_layer) {
	case LAYER_KERNEL:
	case LAYER_HYPERVISOR:
	case LAYER_GUEST_KERNEL:
		return LAYER_GUEST_KERNEL;
	default:
		return LAYER_GUEST_USER;
	}
}

const char *domain_kind__name(enum domain_kind k)
{
	return (unsigned)k <= DOMAIN_IDLE ? domain_kind_names[k] : "?";
}

int domain_kind__from_name(const char *name) { return name_index(domain_kind_names, DOMAIN_IDLE + 1, name); }

enum domain_kind domain_kind__of(bool is_vm, bool is_idle) { return is_vm ? DOMAIN_VM : is_idle ? DOMAIN_IDLE : DOMAIN_HOST; }

bool domain_kind__has_layer(enum domain_kind k, enum layer l)
{
	switch (k) {
	case DOMAIN_HOST: return l == LAYER_USER || l == LAYER_KERNEL;
	case DOMAIN_IDLE: return l == LAYER_IDLE;
	case DOMAIN_VM: return layer__is_guest(l) || layer__is_vm_cost(l);
	}
	return false;
}

bool domain_name__is_reserved(const char *name)
{
	return strcmp(name, DOMAIN_NAME_HOST) == 0 || strcmp(name, DOMAIN_NAME_IDLE) == 0;
}

const char *thread_role__name(enum thread_role r) { return (unsigned)r < ROLE__COUNT ? role_names[r] : "?"; }
const char *image_kind__name(enum image_kind k) { return (unsigned)k < IMAGE__COUNT ? image_kind_names[k] : "?"; }
int image_kind__from_name(const char *name) { return name_index(image_kind_names, IMAGE__COUNT, name); }
const char *origin__name(enum origin o) { return o == ORIGIN_AGENT ? "agent" : "host"; }

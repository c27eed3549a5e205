/* coordinator-host: what the host's recording does with its agents,
 * around the protocol that coordinator.c speaks with them. Which VM
 * process each agent runs in — by the SMBIOS UUID it claims, only when the
 * host can prove the claim (docs/security.md, rule 7) — and the guest
 * kernel symbols the host takes from it for its own guest-mode samples;
 * the one instant at which the host's recorder and every agent start; and
 * what the session keeps of each agent at the end: how it went, and the
 * code of its hottest functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "../util/util.h"
#include "coordinator.h"

static bool is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* A name the user gave the VM (QEMU -name, --vm), not the default. */
static bool named_by_user(const struct vm_info *v)
{
	char def[32];
	snprintf(def, sizeof(def), "vm-%d", (int)v->pid);
	return v->name && !streq(v->name, def);
}

/* Whether agent i's UUID claim stands; when not, the warning says why. */
static const struct vm_info *claimed_vm(struct coordinator *c, size_t i, const struct vm_info *vms, size_t n_vms)
{
	struct agent_link *l = &c->links[i];
	const struct vm_info *by_uuid = NULL, *by_name = NULL;
	size_t holders = 0;
	if (!is_uuid(l->uuid)) {
		coordinator__log(c, true, "agent %s: ignoring its SMBIOS UUID '%s': not a UUID", l->name, l->uuid);
		return NULL;
	}
	for (size_t j = 0; j < c->n; j++)
		if (j != i && c->links[j].state == AGENT_READY && c->links[j].uuid && streq(c->links[j].uuid, l->uuid)) {
			coordinator__log(c, true,
			      "agents %s and %s both claim SMBIOS UUID %s: refusing the claim; %s is matched by its "
			      "name only",
			      l->name, c->links[j].name, l->uuid, l->name);
			return NULL;
		}
	for (size_t v = 0; v < n_vms; v++) {
		if (vms[v].uuid && streq(vms[v].uuid, l->uuid)) {
			by_uuid = &vms[v];
			holders++;
		}
		/* A VM named like the agent: the one with another UUID, if any. */
		if (streq(vms[v].name, l->name) && (!by_name || (vms[v].uuid && !streq(vms[v].uuid, l->uuid))))
			by_name = &vms[v];
	}
	if (holders > 1) {
		coordinator__log(c, true, "agent %s: SMBIOS UUID %s belongs to %zu VM processes: refusing the claim", l->name, l->uuid,
		      holders);
		return NULL;
	}
	if (by_uuid && named_by_user(by_uuid) && !streq(by_uuid->name, l->name)) {
		coordinator__log(c, true,
		      "agent %s claims SMBIOS UUID %s of VM %s (pid %d), which has another name: refusing the claim "
		      "(if the agent runs in that VM, give it that name: --agent %s=ADDR)",
		      l->name, l->uuid, by_uuid->name, (int)by_uuid->pid, by_uuid->name);
		return NULL;
	}
	/* The user named a VM like the agent, and the claim points elsewhere:
	 * to an unnamed VM, or nowhere while that VM has another UUID. Two
	 * VMs of the agent's name (restarted, or twins) are told apart by the
	 * UUID, so only one named otherwise contradicts. */
	if (by_name && (by_uuid ? !streq(by_uuid->name, l->name) : by_name->uuid != NULL)) {
		coordinator__log(c, true,
		      "agent %s claims SMBIOS UUID %s, but VM %s is process %d%s%s: refusing the claim; matched by its "
		      "name only",
		      l->name, l->uuid, l->name, (int)by_name->pid, by_name->uuid ? " with UUID " : "",
		      by_name->uuid ? by_name->uuid : "");
		return NULL;
	}
	return by_uuid;
}

size_t coordinator__match_vms(struct coordinator *c, const struct vm_info *vms, size_t n_vms,
			      struct agent_vm_match **ret)
{
	struct agent_vm_match *m = xcalloc(c->n ? c->n : 1, sizeof(*m));
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		const struct vm_info *v;
		if (l->state != AGENT_READY || !l->uuid || !*l->uuid)
			continue;
		v = claimed_vm(c, i, vms, n_vms);
		if (!v)
			continue;
		l->uuid_matched = true;
		m[n++] = (struct agent_vm_match){ i, v->pid };
		coordinator__log(c, false, "agent %s runs in VM process %d (matched by SMBIOS UUID %s)", l->name, (int)v->pid, l->uuid);
	}
	*ret = m;
	return n;
}

void coordinator__prepare_host(struct coordinator *c, struct machine *m, const struct vm_force *forced, size_t n_forced)
{
	struct vm_info *vms = NULL;
	struct agent_vm_match *matches = NULL;
	size_t n_vms = 0, n_matches;
	vms__scan(forced, n_forced, &vms, &n_vms);
	n_matches = coordinator__match_vms(c, vms, n_vms, &matches);
	for (size_t i = 0; i < n_matches; i++)
		machine__force_vm(m, c->links[matches[i].link].name, matches[i].pid);
	free(matches);
	vms__free(vms, n_vms);
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		if (l->state == AGENT_READY && l->kallsyms_len) {
			/* Kept in memory: the VM itself is found later, when /proc is read. */
			struct guest_kernel_source g = { .vm_name = l->name, .text = l->kallsyms, .text_len = l->kallsyms_len };
			machine__add_guest_kernel(m, &g);
		}
	}
}

int coordinator__start_recorder(struct coordinator *c, struct recorder *rec, const volatile sig_atomic_t *stop)
{
	uint64_t t0;
	int r;
	/* The slow part of the host's start is done before the instant is
	 * chosen, so that the instant holds. */
	if ((r = recorder__prepare(rec)) < 0)
		return r;
	t0 = clock_monotonic_ns() + COORDINATOR_START_LEAD_NS;
	coordinator__start(c, t0);
	clock_sleep_until(t0, stop);
	if ((r = recorder__start(rec)) < 0)
		return r;
	coordinator__attach(c, &rec->profile, rec->start_ns, rec->collector.bucket_ns);
	return 0;
}

void coordinator__write_session(struct coordinator *c, struct session *s)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		/* A rotated session ends while its agents record on. */
		const char *state = l->state == AGENT_DONE ? "complete" : l->state == AGENT_RUNNING ? "recording" : "failed";
		_cleanup_free_ char *key = xasprintf("agent.%s", l->name);
		_cleanup_free_ char *v = xasprintf(
			"%s state=%s offset_ns=%lld rtt_ns=%llu skew_ns=%lld frames=%llu samples=%llu forgotten=%llu "
			"thread_ids=%zu compacted=%llu%s%s",
			l->addr, state, (long long)l->offset_ns, (unsigned long long)l->rtt_ns, (long long)l->start_skew_ns,
			(unsigned long long)(l->data_frames - l->session_frames0),
			(unsigned long long)(l->delta.samples_received - l->session_samples0),
			(unsigned long long)(l->delta.forgotten - l->session_forgotten0), l->delta.n_threads,
			(unsigned long long)(l->delta.compacted - l->session_compacted0), l->error ? " error=" : "",
			l->error ? l->error : "");
		session__set_meta(s, key, v);
		session__write_code(s, l->codes, l->n_codes);
	}
}

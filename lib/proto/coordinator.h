/* coordinator: the host side of coordinated recording. It connects to
 * every agent, authenticates, sends SETUP, measures each agent's clock
 * offset, arms everyone, starts everyone at one instant, merges the DATA
 * each agent streams into the host's profile under that VM's domain, and
 * stops and drains everyone at the end. An agent that fails mid-session is
 * marked and dropped; the recording goes on.
 *
 * Every agent is treated as an attacker that holds the key
 * (docs/security.md): each message is expected once and in its place in
 * the sequence, every clock reading and total is checked against what is
 * possible, and everything kept because of an agent is charged to its
 * memory budget first. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../aggregate/profile.h"
#include "../collect/recorder.h"
#include "../domain/machine.h"
#include "../domain/vm.h"
#include "../events/events.h"
#include "../session/session.h"
#include "../util/util.h"
#include "budget.h"
#include "channel.h"
#include "delta.h"

enum agent_state { AGENT_NEW, AGENT_CONNECTED, AGENT_READY, AGENT_RUNNING, AGENT_DONE, AGENT_FAILED };

struct agent_link {
	char *name; /* the VM's domain name */
	char *addr;
	bool optional;
	enum agent_state state;
	struct channel ch;
	char *error;
	/* from AUTH_OK (sanitized) */
	char *hostname, *kernel, *uuid, *events, *version;
	uint32_t ncpus;
	bool uuid_matched; /* the host found this agent's VM by its UUID */
	/* clock: agent CLOCK_MONOTONIC minus host CLOCK_MONOTONIC */
	int64_t offset_ns;
	uint64_t rtt_ns;
	int64_t start_skew_ns;
	uint64_t agent_start_ns; /* agent clock at its enable */
	uint64_t start_sent_ns;  /* host clock when START went out */
	char **used_events;      /* per session event: what the agent samples */
	char *kallsyms;          /* the guest's /proc/kallsyms, sanitized, if sent */
	size_t kallsyms_len;
	uint32_t domain;
	struct proto_budget budget; /* everything kept because of this agent */
	struct delta_state delta;
	/* Each step of the session happens once, in order. */
	bool started, code_received, final_received;
	uint64_t last_frame_ns;
	uint64_t data_frames;
	uint64_t final_samples, final_lost;
	struct symbol_code *codes; /* guest functions' code, host symbol ids */
	size_t n_codes;
	/* Rotation: the counts when the current session started (meta
	 * agent.NAME says the session's own). */
	uint64_t session_frames0, session_samples0, session_forgotten0, session_compacted0;
};

typedef void (*coordinator_log_fn)(void *ctx, bool is_error, const char *msg);

struct coordinator {
	struct agent_link *links;
	size_t n;
	unsigned char key[PROTO_KEY_BYTES];
	uint64_t budget; /* per agent, bytes */
	const struct event_spec *events; /* the host's, for units */
	size_t n_events;
	uint64_t host_start, bucket_ns; /* the host's timeline, for aligning agents' */
	uint64_t stop_ns;               /* host clock when STOP went out */
	coordinator_log_fn log;
	void *log_ctx;
	bool keep_all; /* FORGET not offered (coordinator__keep_all) */
};

void coordinator__init(struct coordinator *c, const unsigned char key[PROTO_KEY_BYTES], coordinator_log_fn log,
		       void *ctx);
void coordinator__release(struct coordinator *c);
/* The memory budget of each agent (default PROTO_DEFAULT_AGENT_BUDGET);
 * before coordinator__connect. */
void coordinator__set_budget(struct coordinator *c, uint64_t bytes);
/* Say something through the log callback (what every step reports). */
void coordinator__log(struct coordinator *c, bool is_error, const char *fmt, ...) PRINTF(3, 4);
/* "NAME=ADDR" */
int coordinator__add(struct coordinator *c, const char *spec, bool optional, char **ret_error);

/* What `record` gives the steps below: how long every agent together may
 * take to connect and authenticate, and to send its last data after STOP;
 * and how far ahead of now the common start instant lies, so that START
 * reaches every agent before it (a few round trips on a loaded network). */
#define COORDINATOR_CONNECT_TIMEOUT_MS 5000
#define COORDINATOR_STOP_TIMEOUT_MS 8000
#define COORDINATOR_START_LEAD_NS (300ULL * 1000000ULL)

/* Connect and authenticate every agent. -ECONNREFUSED with *ret_error
 * when a required agent cannot be reached or refuses; optional ones are
 * only logged. */
int coordinator__connect(struct coordinator *c, int timeout_ms, char **ret_error);
/* SETUP, clock synchronisation, and ARM. events must outlive c. -EPROTO
 * with *ret_error when a required agent fails on the way. user_stack_size
 * > 0 asks the agents for dwarf call graphs (with callchain). */
int coordinator__prepare(struct coordinator *c, const struct event_spec *events, size_t n_events,
			 const struct event_defaults *defaults, bool callchain, uint32_t user_stack_size,
			 char **ret_error);

/* Which VM process each agent runs in, by the SMBIOS UUID it claims,
 * among the VMs the host sees. A claim is refused, with a warning that
 * says which and why, when it is not a UUID, when two agents claim it,
 * when several VM processes hold it, or when it contradicts a name the
 * user gave (the VM with that UUID has another name, or the VM with the
 * agent's name has another UUID or process). Returns the number of
 * matches in *ret (to free): agent link index and VMM pid. */
struct agent_vm_match {
	size_t link;
	pid_t pid;
};
size_t coordinator__match_vms(struct coordinator *c, const struct vm_info *vms, size_t n_vms,
			      struct agent_vm_match **ret);

/* ---- the host's side (coordinator-host.c) ---- */

/* After coordinator__prepare, before the host's recorder starts: name the
 * VMM process of each agent's VM in the host's machine (by the UUID the
 * agent claims, coordinator__match_vms, among the VMs vms__scan finds
 * with the user's --vm names), and give the machine each agent's kernel
 * symbols for the host's own guest-mode samples of its VM. */
void coordinator__prepare_host(struct coordinator *c, struct machine *m, const struct vm_force *forced,
			       size_t n_forced);
/* Start the host's recorder and every agent at one instant, a little
 * ahead (COORDINATOR_START_LEAD_NS) so that every START arrives in time,
 * then attach the agents to the recorder's profile. *stop (a signal flag)
 * cuts the wait short. 0, or recorder__prepare's or recorder__start's
 * -errno. */
int coordinator__start_recorder(struct coordinator *c, struct recorder *rec, const volatile sig_atomic_t *stop);
/* After coordinator__stop: what the session keeps of each agent, its
 * outcome (meta agent.NAME, docs/session-format.md) and the code of its
 * hottest functions. Also at the end of each rotated session, before
 * coordinator__rotate_save (the agent's state then: recording). */
void coordinator__write_session(struct coordinator *c, struct session *s);

/* ---- the steps ---- */

/* Send START for host clock instant host_t0 (in the future). */
void coordinator__start(struct coordinator *c, uint64_t host_t0);
/* Attach each agent to the host profile (after the host's VMs are known):
 * its domain, and the timeline alignment against host_start. */
void coordinator__attach(struct coordinator *c, struct profile *p, uint64_t host_start, uint64_t bucket_ns);
/* Non-blocking: take every frame that arrived and merge it. */
void coordinator__poll(struct coordinator *c, struct profile *p);
/* After a flush of p: rows fed only by what the agents forgot (their
 * exited threads, past timeline buckets; capability FORGET) and now
 * written leave memory (delta__drop_retired). Not for a caller that holds
 * profile indexes across flushes (top). */
void coordinator__forget(struct coordinator *c, struct profile *p);
/* Before coordinator__connect, for a caller that never calls
 * coordinator__forget (top): FORGET is not offered, so agents keep what
 * they sent, and their budgets are never given back for rows the host
 * still holds. */
void coordinator__keep_all(struct coordinator *c);
/* Rotation (record --rotate): before the current session ends, note each
 * agent's live rows and mark the catalog rows it names in keep
 * (delta__rotate_save); once the profile restarted with keep for the next
 * session, which started at host clock start_ns, take their new ids and
 * intern the rest again (delta__rotate_apply), or drop the note when no
 * next session came (coordinator__rotate_cancel). A failed agent's rows
 * are not carried: they stay in the sessions it was part of. */
void coordinator__rotate_save(struct coordinator *c, const struct profile *p, struct profile_catalog_map *keep);
void coordinator__rotate_apply(struct coordinator *c, struct profile *p, const struct profile_catalog_map *keep,
			       uint64_t start_ns);
void coordinator__rotate_cancel(struct coordinator *c);
/* STOP everyone and collect their last data (at most timeout_ms).
 * end_ns: the host's end of the recording (its recorder's stop; 0: now),
 * the last bucket that what agents sampled after it is counted in. */
void coordinator__stop(struct coordinator *c, struct profile *p, int timeout_ms, uint64_t end_ns);

/* For tests and fuzzers: put link in the running state without a peer, as
 * if started at host clock start_ns (its CPUs as given), and hand it one
 * frame as if received at now_ns. 0, or -EBADMSG when the frame was
 * rejected (the link is then failed and its domain marked incomplete). */
void coordinator__fake_running(struct coordinator *c, size_t link, struct profile *p, size_t n_events, uint32_t ncpus,
			       uint64_t start_ns);
int coordinator__inject(struct coordinator *c, size_t link, struct profile *p, uint8_t type, const void *data, size_t len,
			uint64_t now_ns);

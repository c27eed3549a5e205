/* delta: an agent's profile changes since its last DATA frame, encoded for
 * the wire; and their application, on the coordinator, to the host's
 * profile under the agent's VM domain. The agent's ids (threads, images,
 * symbols, frames) are translated to the host profile's through per-agent
 * tables; counters travel as running totals, so a lost or repeated frame
 * can never double-count.
 *
 * The bytes come from a guest and may be hostile, so a frame is applied
 * all or nothing: a first pass reads it without keeping anything and
 * checks every index, reference and size, that running totals only grow
 * and add up to no more than the guest's CPUs could have counted since
 * they started, and that every timeline bucket lies within the recording;
 * then what applying it would make the host keep is charged to the
 * agent's budget; only then does a second pass apply it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "../events/events.h"
#include "budget.h"
#include "wire.h"

/* Agent side: append the delta of p to w (and mark it written), in the
 * layout caps (the capabilities agreed) give. With PROTO_CAP_FORGET, the
 * frame starts with what p has dropped since the previous one
 * (p->track_drops), and thread rows go out in id order wherever their
 * slots are; with p->reuse_thread_ids (PROTO_CAP_THREAD_IDS as well) each
 * names its id. With PROTO_CAP_COMPACT as well, compacted (NULL: none
 * since the previous frame) is the map of the catalog rows
 * profile__compact kept: the frame says which, before its new rows. */
void delta__encode(struct profile *p, struct wbuf *w, uint32_t caps, const struct profile_catalog_map *compacted);

/* One of the agent's counters. Its identity (event, layer, thread, image,
 * symbol, stack, bucket) is fixed by its first row: the host entry it feeds
 * is found then and kept, so later rows only carry totals, and a counter
 * that changes its event or layer is refused. */
struct delta_counter {
	uint64_t count, period; /* the last running totals */
	uint64_t frame;         /* the frame that last named it */
	uint64_t forget_frame;  /* the frame that forgot it */
	uint32_t host;          /* the host profile's sample/timeline entry */
	uint32_t thread;        /* a sample counter's agent thread id (0: none) */
	bool live;              /* false once forgotten: the index is free */
};

/* Host entries an agent's forgotten counters fed, to be dropped from the
 * host's memory once written (delta__drop_retired). Per host slot: how
 * many of the agent's live counters feed it, and how many forgotten ones
 * fed it whose budget is given back only when the entry leaves memory
 * (an entry the host still holds stays charged). */
struct delta_retired {
	uint32_t *refs, *forgot;
	size_t cap_refs;
	uint32_t *slots; /* host slots with no live counter, not dropped yet */
	size_t n, cap;
};

/* The host catalog rows (of one table: images, symbols or stack frames)
 * the agent's rows resolved to, each with what it was charged: once per
 * host row, so a row the agent sends again (after a compaction, or twice)
 * is not charged again. The charge comes back when the row leaves the
 * host's memory: at a rotation that does not keep it (delta__rotate_apply). */
struct delta_held {
	struct delta_held_row {
		uint32_t host, cost;
	} *rows;
	size_t n, cap;
	struct hmap index;
};

/* Host thread rows of the agent's forgotten threads, with what they were
 * charged, given back when the row leaves memory. */
struct delta_retired_thread {
	uint32_t id, cost;
};

/* What delta__rotate_save notes of an agent's live rows before the host's
 * profile restarts for a new session: its threads' identities (by their
 * host row id in the old session) and its live counters' indexes and keys
 * (no more than the live rows it was charged for). */
struct delta_rotation {
	struct delta_rotation_thread {
		uint32_t old_id, pid, tid;
		char *comm;
	} *threads;
	size_t n_threads;
	struct delta_rotation_sample {
		uint32_t idx;
		struct sample_key key;
	} *samples;
	struct delta_rotation_timeline {
		uint32_t idx;
		struct timeline_key key;
	} *timeline;
	size_t n_samples, cap_samples, n_timeline, cap_timeline;
	bool saved;
};

/* Coordinator side: translation state for one agent. */
struct delta_state {
	uint32_t domain;   /* the host profile's domain of this VM */
	uint32_t n_events; /* events of the session: agent event ids 1..n_events */
	int32_t bucket_shift; /* agent timeline bucket + shift = host bucket */
	uint32_t *threads, *images, *symbols, *frames; /* agent id - 1 -> host id */
	size_t n_threads, n_images, n_symbols, n_frames;
	size_t cap_threads, cap_images, cap_symbols, cap_frames;
	struct delta_counter *samples, *timeline; /* per agent counter index */
	size_t cap_samples, cap_timeline;
	size_t n_samples_known, n_timeline_known;
	uint64_t frame; /* frames seen */
	uint64_t samples_received;
	/* FORGET negotiated: frames start with what the agent dropped. */
	bool forget;
	/* THREAD_IDS too: thread rows name their id, a new one or a
	 * forgotten thread's. */
	bool thread_ids;
	/* COMPACT too: a frame may renumber the agent's catalog to the rows
	 * it kept. */
	bool compact;
	struct delta_held held_images, held_symbols, held_frames;
	uint64_t compactions, compacted; /* and the catalog ids the agent let go: for the log and tests */
	uint8_t *thread_comm; /* per agent thread: its name's length (refund) */
	size_t cap_thread_comm;
	/* Per agent thread: the live sample counters that name it; a thread is
	 * forgotten only with them (its host row must outlive them). */
	uint32_t *thread_refs;
	size_t cap_thread_refs;
	struct delta_retired retired_samples, retired_timeline;
	struct delta_retired_thread *retired_threads;
	size_t n_retired_threads, cap_retired_threads;
	uint64_t forgotten; /* counters forgotten, for the log and tests */
	/* Rotation: host buckets of the recording before the current
	 * session's first (host bucket = recording bucket - bucket_base). */
	int64_t bucket_base;
	struct delta_rotation rotation;

	/* What the guest could possibly have measured (set by the owner). */
	struct proto_budget *budget; /* the agent's; NULL takes anything */
	uint32_t ncpus;              /* the guest's CPUs (as it claims, bounded) */
	uint64_t start_ns;           /* host clock when it was told to start */
	uint64_t stop_ns;            /* host clock when told to stop, 0 before */
	uint64_t host_start_ns, bucket_ns; /* the host's timeline */
	uint8_t *ns_unit;            /* per event: periods are nanoseconds */
	struct delta_counter *event_totals, *event_timeline_totals; /* per event */
};

void delta_state__init(struct delta_state *d, uint32_t domain, uint32_t n_events);
/* The DATA layout the capabilities agreed (channel.h) give. */
void delta_state__set_caps(struct delta_state *d, uint32_t caps);
void delta_state__release(struct delta_state *d);
/* The bounds: the guest's CPUs, the host instant it was told to start,
 * the host's timeline, and each event's unit (from the host's events). */
void delta_state__set_limits(struct delta_state *d, struct proto_budget *budget, uint32_t ncpus, uint64_t start_ns,
			     uint64_t host_start_ns, uint64_t bucket_ns, const struct event_spec *events);

/* Apply one encoded delta, all or nothing, at host clock now_ns. 0;
 * -EBADMSG for bytes that are not a valid delta, -ERANGE for numbers the
 * guest cannot have measured (a total that decreased or outgrew its CPUs,
 * a bucket outside the recording), -ENOBUFS when keeping it would pass the
 * budget; *ret_error (optional) then says what, in words. */
int delta__apply(struct delta_state *d, struct profile *host, const void *data, size_t len, uint64_t now_ns,
		 char **ret_error);

/* Drop from the host's memory the rows that only the agent's forgotten
 * counters and threads fed, those already written to the session (the
 * others wait for the next call), and give their budget back. Call after
 * a flush; each call scans the host's counters when the agent forgot any.
 * Returns the counters dropped (callers that cache profile indexes clear
 * them). */
size_t delta__drop_retired(struct delta_state *d, struct profile *host);

/* Rotation (record --rotate): the host profile's threads, counters and
 * timeline restart with each session (profile__restart) while the agent's
 * running totals go on. Before the old session's last flush,
 * delta__rotate_save notes the agent's live threads and counters, and
 * marks in keep the catalog rows the agent's ids name (it sent each row
 * once). Once the profile restarted (with keep) for a session that starts
 * at host clock start_ns, delta__rotate_apply takes the rows' new ids from
 * keep and interns the rest again: the threads as rows of the new
 * session, the counters as empty entries written once they grow, timeline
 * buckets before the session's start in its first. What the agent forgot
 * left with the old session: its budget comes back; so does that of the
 * catalog rows it let go (COMPACT), which the restart did not keep. delta__rotate_cancel
 * drops the note when no new session came. */
void delta__rotate_save(struct delta_state *d, const struct profile *host, struct profile_catalog_map *keep);
void delta__rotate_apply(struct delta_state *d, struct profile *host, const struct profile_catalog_map *keep,
			 uint64_t start_ns);
void delta__rotate_cancel(struct delta_state *d);

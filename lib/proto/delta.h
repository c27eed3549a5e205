/* delta: an agent's profile changes since its last DATA frame, encoded for
 * the wire; and their application, on the coordinator, to the host's
 * profile under the agent's VM domain. The agent's ids (threads, images,
 * symbols, frames) are translated to the host profile's through per-agent
 * tables; counters travel as running totals, so a lost or repeated frame
 * can never double-count. Every index and size from the agent is checked:
 * the bytes come from a guest and may be hostile. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "wire.h"

/* Agent side: append the delta of p to w (and mark it written). */
void delta__encode(struct profile *p, struct wbuf *w);

/* Coordinator side: translation state for one agent. */
struct delta_state {
	uint32_t domain;   /* the host profile's domain of this VM */
	uint32_t n_events; /* events of the session: agent event ids 1..n_events */
	int32_t bucket_shift; /* agent timeline bucket + shift = host bucket */
	uint32_t *threads, *images, *symbols, *frames; /* agent id - 1 -> host id */
	size_t n_threads, n_images, n_symbols, n_frames;
	size_t cap_threads, cap_images, cap_symbols, cap_frames;
	struct { uint64_t count, period; } *samples, *timeline; /* last totals per agent index */
	size_t cap_samples, cap_timeline;
	size_t n_samples_known, n_timeline_known;
	uint64_t bytes; /* what this agent made the host keep, for its budget */
	uint64_t samples_received;
};

void delta_state__init(struct delta_state *d, uint32_t domain, uint32_t n_events);
void delta_state__release(struct delta_state *d);
/* Count bytes of other data from this agent (CODE) against its budget;
 * false when the budget is spent. */
bool delta_state__spend(struct delta_state *d, size_t bytes);
/* Apply one encoded delta. 0, or -EBADMSG when the bytes are not a valid
 * delta (nothing of the frame is then applied beyond what preceded the
 * fault in catalog tables, which is harmless). */
int delta__apply(struct delta_state *d, struct profile *host, const void *data, size_t len);

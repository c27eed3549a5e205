/* What delta.c (checking and applying DATA frames) and delta-forget.c
 * (FORGET: the host's copies of forgotten counters leaving memory) share;
 * not part of the protocol's interface (delta.h). */
#ifndef DOMPROF_PROTO_DELTA_INTERNAL_H
#define DOMPROF_PROTO_DELTA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "delta.h"
#include "wire.h"

/* What keeping a row costs the host, charged to the agent's budget: the
 * row in its profile table and the agent's translation table (both grow
 * by doubling, hence twice), its hash slot, and its string. A thread row
 * also keeps its name's length (for the refund). What a forgotten thread
 * leaves behind for the whole session, its translation and that length,
 * is never given back (THREAD_KEPT); nor is a counter index's slot in the
 * agent's counter table (INDEX_KEPT), charged when an index is first used
 * (an index a forgotten counter frees is used again at no charge). */
#define INDEX_COST 48
#define ROW_COST(type) (2 * sizeof(type) + INDEX_COST + 2 * sizeof(uint32_t))
#define THREAD_COST(n) (ROW_COST(struct profile_thread) + 2 + STRING_COST(n))
#define THREAD_KEPT (3 * sizeof(uint32_t) + 2)
#define STRING_COST(n) ((uint64_t)(n) + 1 + PROTO_ALLOC_OVERHEAD)
#define COUNTER_COST(type) ROW_COST(type)
/* A catalog row (image, symbol, stack frame): the host's row and the
 * agent's translation slot (ROW_COST), the row's entry in the agent's
 * delta_held, and its string. A row whose host row the agent holds
 * already gives all but its translation slot (MAP_COST) back when
 * applied; a compaction gives the slots of the ids it let go back; a
 * rotation the held rows that leave. */
#define MAP_COST (2 * sizeof(uint32_t))
#define HELD_COST (2 * sizeof(struct delta_held_row) + INDEX_COST)
#define CATALOG_COST(type) (ROW_COST(type) + HELD_COST)
#define INDEX_KEPT (2 * sizeof(struct delta_counter))

static inline int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether the sorted list of n ids holds id (an empty list may be NULL). */
static inline bool has_u32(const uint32_t *ids, size_t n, uint32_t id)
{
	return n && bsearch(&id, ids, n, sizeof(*ids), cmp_u32);
}

/* A host slot one more live counter of the agent feeds (a new counter,
 * charged cost): a forgotten counter's charge for that slot, if any, comes
 * back, since the slot is held once. */
void delta__retired_ref(struct delta_state *d, struct delta_retired *rt, uint32_t slot, uint64_t cost);
/* The three FORGET lists at a frame's start, already checked
 * (check_forget): the threads' rows and the counters leave the agent's
 * tables; the host's copies wait for delta__drop_retired. */
void delta__apply_forget(struct delta_state *d, struct rbuf *r);
/* COMPACT's lists, already checked (check_compact): the agent's
 * translation tables keep the rows listed, renumbered; what the host
 * holds stays until a rotation (delta__rotate_apply). */
void delta__apply_compact(struct delta_state *d, struct rbuf *r);
/* A catalog row of the agent resolved to host row host, charged cost
 * (without its translation slot): held from now on (true), or held
 * already (false: the caller gives cost back). */
bool delta__hold(struct delta_held *h, uint32_t host, uint64_t cost);
void delta__held_release(struct delta_held *h);

#endif

/* hmap: an open-addressing hash index. It stores only 32-bit entry indices
 * (plus the full 64-bit hash of each) and leaves the entries themselves to
 * the caller's array, so a table of records keeps one compact layout and
 * ids stay stable. The caller decides equality: lookups hand back each
 * candidate index whose hash matches.
 *
 * Invariants: cap is a power of two (or 0); count <= cap * 3/4; slot value 0
 * means empty, otherwise index + 1. There is no deletion. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct hmap_slot {
	uint64_t hash;
	uint32_t index1; /* entry index + 1; 0 = empty */
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;
	size_t count;
};

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m);

/* Iteration over the candidates for one hash:
 *	for (size_t pos = hmap_first(m, h); ; pos = hmap_next(m, pos)) {
 *		uint32_t idx;
 *		if (!hmap_candidate(m, pos, h, &idx)) break;   // empty: not found
 *		if (matches(idx)) ... found
 *	}
 * then hmap_insert_at(m, pos, h, new_index) where the loop stopped. */
static inline size_t hmap_first(const struct hmap *m, uint64_t hash)
{
	return m->cap ? (size_t)(hash & (m->cap - 1)) : 0;
}
static inline size_t hmap_next(const struct hmap *m, size_t pos) { return (pos + 1) & (m->cap - 1); }

/* true with *ret_index set when the slot at pos holds an entry of this hash;
 * skips (returns true with UINT32_MAX) slots of other hashes; false at an
 * empty slot (or an empty table). */
static inline bool hmap_candidate(const struct hmap *m, size_t pos, uint64_t hash, uint32_t *ret_index)
{
	if (!m->cap || !m->slots[pos].index1)
		return false;
	*ret_index = m->slots[pos].hash == hash ? m->slots[pos].index1 - 1 : UINT32_MAX;
	return true;
}

/* Insert at the empty slot where a lookup of the same hash stopped. May
 * rehash; the position is then recomputed internally. */
void hmap_insert_at(struct hmap *m, size_t pos, uint64_t hash, uint32_t index);
/* Insert without a preceding lookup (the caller knows it is absent). */
void hmap_insert(struct hmap *m, uint64_t hash, uint32_t index);

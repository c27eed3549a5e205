/* Open addressing with linear probing; see hmap.h for the contract. */
#include "hmap.h"

#include "util.h"

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void hmap_release(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static void place(struct hmap_slot *slots, size_t cap, uint64_t hash, uint32_t index1)
{
	size_t pos = hash & (cap - 1);
	while (slots[pos].index1)
		pos = (pos + 1) & (cap - 1);
	slots[pos].hash = hash;
	slots[pos].index1 = index1;
}

static void rehash(struct hmap *m, size_t cap)
{
	struct hmap_slot *slots = xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].index1)
			place(slots, cap, m->slots[i].hash, m->slots[i].index1);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

void hmap_insert(struct hmap *m, uint64_t hash, uint32_t index)
{
	if ((m->count + 1) * 4 > m->cap * 3)
		rehash(m, m->cap ? m->cap * 2 : 64);
	place(m->slots, m->cap, hash, index + 1);
	m->count++;
}

void hmap_insert_at(struct hmap *m, size_t pos, uint64_t hash, uint32_t index)
{
	if (!m->cap || (m->count + 1) * 4 > m->cap * 3) {
		hmap_insert(m, hash, index);
		return;
	}
	m->slots[pos].hash = hash;
	m->slots[pos].index1 = index + 1;
	m->count++;
}

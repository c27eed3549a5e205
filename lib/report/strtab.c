/* Interned strings; see strtab.h. */
#define _GNU_SOURCE
#include "strtab.h"

#include <string.h>

#include "../util/util.h"

void strtab__init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	hmap_init(&t->index);
}

void strtab__release(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->strings[i]);
	free(t->strings);
	hmap_release(&t->index);
	memset(t, 0, sizeof(*t));
}

uint32_t strtab__intern_n(struct strtab *t, const char *s, size_t n)
{
	uint64_t h = hash_bytes(s, n, 0);
	size_t pos;
	uint32_t idx;
	for (pos = hmap_first(&t->index, h); hmap_candidate(&t->index, pos, h, &idx); pos = hmap_next(&t->index, pos))
		if (idx != UINT32_MAX && strlen(t->strings[idx]) == n && memcmp(t->strings[idx], s, n) == 0)
			return idx;
	ARRAY_GROW(t->strings, t->cap, t->n + 1);
	idx = (uint32_t)t->n++;
	t->strings[idx] = xstrndup(s, n);
	hmap_insert_at(&t->index, pos, h, idx);
	return idx;
}

uint32_t strtab__intern(struct strtab *t, const char *s) { return strtab__intern_n(t, s, strlen(s)); }

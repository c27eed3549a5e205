/* strtab: interned strings, each kept once and named by its index in
 * order of first use — the string table of a pprof profile and the name
 * list of the HTML page's flame graphs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../util/hmap.h"

struct strtab {
	char **strings;
	size_t n, cap;
	struct hmap index;
};

void strtab__init(struct strtab *t);
void strtab__release(struct strtab *t);
/* The index of the n bytes at s (made on first use). */
uint32_t strtab__intern_n(struct strtab *t, const char *s, size_t n);
uint32_t strtab__intern(struct strtab *t, const char *s);

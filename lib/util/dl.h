/* Libraries that only some commands need, opened at their first use
 * instead of at every start. A library linked the usual way is relocated
 * when the program starts: libpfm4's and capstone's tables take 120,000
 * relocations and about 5 MiB of resident memory, which every recording
 * paid although only `annotate` disassembles and only a CPU-specific
 * event name asks libpfm4 (bench/notes.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct dl_symbol {
	const char *name;
	void *slot; /* a function pointer of the symbol's own type */
};

/* Opens soname (once; later calls return its first outcome) and stores
 * each symbol's address in its slot. False when the library or one of its
 * symbols is missing, with *ret_error (when not NULL) saying which, for
 * the caller to name in its own message. */
bool dl_load(const char *soname, const struct dl_symbol *syms, size_t n, const char **ret_error);

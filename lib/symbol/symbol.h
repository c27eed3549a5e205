/* symbol: address-to-function resolution.
 *
 * A symtab is a sorted table of [start, start+size) -> name, filled from an
 * ELF file (libdwfl: .symtab, separate debuginfo found by build-id,
 * .dynsym for stripped files, MiniDebugInfo), from kallsyms or System.map
 * text, or from a JIT's /tmp/perf-PID.map. Names are demangled on first
 * use (symtab__name): most symbols of a table are never sampled, and
 * demangling them all was most of loading a C++ program, which a host
 * that runs it again and again paid each time.
 * Lookup is a binary search; symtab__find is the hot path of symbolizing.
 *
 * Invariants after symtab__finish: syms sorted by start, no two entries
 * with the same start, every size > 0 (a size-0 symbol extends to the next
 * symbol, capped). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct symbol {
	uint64_t start;
	uint64_t size;
	const char *name;   /* owned by the symtab's arena; until its first
			     * use, what it is made from (name_kind): read
			     * it with symtab__name */
	const char *module; /* kernel symtabs: module name, NULL for the core kernel */
	uint32_t user_id;   /* free for the owner (e.g. an interned id); 0 initially */
	uint8_t name_kind;  /* enum symbol_name_kind */
};

enum symbol_name_kind {
	SYMBOL_NAME_FINAL,   /* name is the name */
	SYMBOL_NAME_MANGLED, /* name is to demangle */
	SYMBOL_NAME_AT,      /* name is an image's: the name is NAME+0xSTART */
};

struct symtab {
	struct symbol *syms;
	size_t n, cap;
	char **arena; /* string blocks */
	size_t n_arena, arena_cap;
	size_t arena_used, arena_block;
};

void symtab__init(struct symtab *st);
void symtab__release(struct symtab *st);
/* Add a symbol; name is copied (and demangled on first use when demangle
 * is true). */
void symtab__add(struct symtab *st, uint64_t start, uint64_t size, const char *name, const char *module,
		 bool demangle);
/* A function known only by its address in image base (interned in st):
 * named base+0xSTART on first use. */
void symtab__add_at(struct symtab *st, uint64_t start, uint64_t size, const char *base);
/* The symbol's name, made now if it was not yet (s is st's). */
const char *symtab__name(struct symtab *st, const struct symbol *s);
/* Sort by start (ties in any order), fast when st is sorted but for a
 * sorted or short tail. */
void symtab__sort(struct symtab *st);
/* Sort and fix sizes; max_gap caps sizes inferred for size-0 symbols. */
void symtab__finish(struct symtab *st, uint64_t max_gap);
const struct symbol *symtab__find(const struct symtab *st, uint64_t addr);
/* First symbol with this exact name as stored (a C++ or Rust name not yet
 * demangled is its linkage name, a function named by its address is its
 * image's name), or NULL. Linear; for tools, not samples. */
const struct symbol *symtab__find_name(const struct symtab *st, const char *name);
const char *symtab__intern(struct symtab *st, const char *s);

/* Parse "ADDR TYPE NAME[\t[MODULE]]" lines: /proc/kallsyms or System.map.
 * Text symbols only (t T w W); addresses shifted by offset. -EINVAL when
 * nothing parsed, or all addresses are zero (kptr_restrict). */
int symtab__load_kallsyms(struct symtab *st, const char *text, size_t len, uint64_t offset);
/* /tmp/perf-PID.map lines: "START SIZE NAME" in hex. */
int symtab__load_perf_map(struct symtab *st, const char *text, size_t len);

/* An ELF segment, for mapping a file offset to a virtual address. */
struct elf_segment {
	uint64_t offset, vaddr, filesz, memsz;
};

struct elf_info {
	uint8_t build_id[20];
	uint8_t build_id_size;
	bool is_dyn; /* ET_DYN (PIE or shared library) */
	bool has_symtab; /* full .symtab found (in the file or its debuginfo) */
	bool has_lines;  /* the file itself has a line table (.debug_line) */
	struct elf_segment *segments;
	size_t n_segments;
	char *debug_file; /* separate debuginfo used, or NULL */
};
void elf_info__release(struct elf_info *info);

/* Load the function symbols of the ELF at path into st (not finished) and
 * describe the file in *info. Address space: ELF virtual addresses. */
int symtab__load_elf(struct symtab *st, const char *path, struct elf_info *info);
/* Same, from an ELF image in memory (the vdso); name stands for the file
 * in the names of functions known only from the unwind table. */
int symtab__load_elf_memory(struct symtab *st, const void *data, size_t size, const char *name,
			    struct elf_info *info);
/* Only the build-id of the file. 0 or -errno / -ENODATA. */
int elf__read_build_id(const char *path, uint8_t *ret, uint8_t *ret_size);

/* File offset -> virtual address through the PT_LOAD segments;
 * the offset itself when no segment contains it. */
uint64_t elf_info__offset_to_vaddr(const struct elf_info *info, uint64_t offset);

/* Demangled form of a C++ or Rust name (to free), or NULL if it is not a
 * mangled name. Rust legacy hashes (::h0123456789abcdef) are dropped. */
char *symbol__demangle(const char *name);

/* Hex of a build-id into buf (at least 41 bytes). */
const char *build_id__hex(const uint8_t *id, size_t n, char *buf);

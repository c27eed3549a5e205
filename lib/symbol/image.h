/* image: one piece of code that addresses resolve in — an ELF file, the
 * kernel (with its modules), the vdso, a JIT map, a guest kernel — with its
 * symbol table loaded on first use and kept while a process maps it. A
 * registry dedups images by (kind, path) so each file is read once while
 * it is in use (machine__reap takes out those no process maps). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../util/hmap.h"
#include "../vocab/vocab.h"
#include "symbol.h"

struct image {
	char *path;           /* file path, or "[kernel.kallsyms]", "[vdso]", ... */
	enum image_kind kind;
	char *load_path;      /* where to read it from, if not path */
	char build_id[41];    /* hex; may come from an MMAP2 record before loading */
	bool loaded;
	int load_error;       /* 0 or -errno of the load */
	struct elf_info info;
	struct symtab symtab;
	uint64_t kaslr_offset; /* guest kernels: runtime minus file addresses */
	uint32_t user_id;      /* free for the owner (profile image id) */
	uint32_t mapped_generation; /* free for the owner (when last mapped) */
	/* Direct-mapped lookup cache: hot loops revisit few addresses.
	 * Allocated at the first lookup and freed with the symbols: most
	 * images a host maps are never sampled, and an unloaded one should
	 * hold little more than its name. */
	struct image_lookup_slot {
		uint64_t addr;
		const struct symbol *sym;
	} *cache;
	bool cache_valid;
	/* JIT maps grow while the JIT runs: reread when an address misses and
	 * the file changed (checked at most every 100 ms). */
	uint64_t jit_size, jit_checked_ns;
	/* Source lines: the image's DWARF (libdwfl), opened once on first
	 * use; decompressing debuginfo per function was the recorder's
	 * largest end-of-recording cost. */
	void *dwfl, *dwfl_module;
	bool dwfl_tried;
	/* The image's whole line table (line-cache.h), from the on-disk
	 * cache or made from its DWARF on first use; written to the cache
	 * and freed with the DWARF. Too big to keep: lines per function. */
	struct line_cache *line_cache;
	bool line_table_too_big;
};

struct image_registry {
	struct image **images;
	size_t n, cap;
	struct hmap index;
	struct image *kernel; /* [kernel.kallsyms], created on demand */
};

void image_registry__init(struct image_registry *r);
void image_registry__release(struct image_registry *r);
/* The image of (kind, path), created unloaded when new. */
struct image *image_registry__get(struct image_registry *r, enum image_kind kind, const char *path);
/* Take the n images of gone (sorted by address) out of the registry; the
 * caller frees them. */
void image_registry__remove(struct image_registry *r, struct image *const *gone, size_t n);
/* Sets of images are arrays sorted by address with this comparator. */
int image__cmp_addr(const void *a, const void *b);
bool image__in(const struct image *im, struct image *const *set, size_t n);

/* A stand-alone image, not in any registry (guest images, one per VM). */
struct image *image__new(enum image_kind kind, const char *path);
void image__free(struct image *im);
/* Drop the cached DWARF of source_lines (kept until then or image__free),
 * writing the lines it read to the on-disk line cache. */
void image__drop_dwarf(struct image *im);

/* Load symbols now if not yet done. Returns 0 or the (cached) error. */
int image__load(struct image *im);
/* Free what loading an ELF or JIT image built (symbols, segments, DWARF),
 * for an image no process maps any more (then freed whole, or kept as
 * path, build-id and user_id: machine__reap); a next use loads it again.
 * Other kinds are kept. */
void image__unload(struct image *im);
/* The symbol covering addr (in the image's own address space), or NULL. */
const struct symbol *image__find(struct image *im, uint64_t addr);

/* The host kernel from /proc/kallsyms (modules included; each symbol knows
 * its module). Loaded once. */
struct image *image_registry__host_kernel(struct image_registry *r);
/* Load a guest kernel symbol source: /proc/kallsyms copy, System.map or a
 * vmlinux ELF, detected by content. kaslr_offset is added to file
 * addresses (kallsyms copies hold runtime addresses: pass 0). */
int image__load_guest_kernel(struct image *im, const char *file, uint64_t kaslr_offset);
/* The machine code of [start, start+size) in the image's address space
 * (ELF: from the file; kernel and modules: from /proc/kcore). */
int image__read_code(struct image *im, uint64_t start, uint64_t size, void **ret, size_t *ret_len);
/* DWARF line table entries inside [start, start+size): fn per row. */
int image__source_lines(struct image *im, uint64_t start, uint64_t size,
			void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx);

/* This process's vdso, the same for every process of this kernel and
 * architecture: its ELF image in memory. 0 or -ENOENT. */
int vdso__self(const void **ret, size_t *ret_size);

/* The same from the text of a guest's /proc/kallsyms (runtime addresses). */
int image__load_guest_kernel_text(struct image *im, const char *text, size_t len);
/* Address of _stext in a kallsyms/System.map text, or 0. */
uint64_t kallsyms__find_stext(const char *text, size_t len);

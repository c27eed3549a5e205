/* unwind: the user part of a call stack from a sample's registers and a
 * copy of its user stack (perf's --call-graph dwarf), walked with
 * elfutils' libdwfl from the binaries' CFI (.eh_frame, else .debug_frame,
 * from separate debuginfo found by build-id).
 *
 * One Dwfl per process (address space), kept between samples: each image
 * is reported to it once, the first time a frame lands in it, so its CFI
 * is parsed once and libdw's caches serve every later sample. The caller
 * says where an address is mapped (unwind_find_map_fn), forgets a process
 * that execs or exits, and says when it maps something new.
 *
 * The walk reads memory only from the copied stack slice: a read outside
 * it fails and ends the walk there. It never guesses: a frame whose code
 * has no CFI (JIT code, anonymous memory, a file without unwind tables)
 * is kept, and the walk stops after it, reporting itself incomplete so
 * that the caller can end the stack with a marker frame. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "image.h"

struct unwinder;

/* Where an address is mapped in the process: [start, end) of image at
 * file offset pgoff. Images of kind IMAGE_ELF and IMAGE_VDSO can be
 * unwound through; others end the walk. */
struct unwind_map {
	uint64_t start, end, pgoff;
	struct image *image;
};
typedef bool (*unwind_find_map_fn)(void *ctx, uint64_t addr, struct unwind_map *ret);

/* One sample's user state: registers as perf lays them out (PERF_REG_*
 * bits of regs_mask, regs_nr u64s, unaligned) and the stack bytes copied
 * from the stack pointer up. */
struct unwind_sample {
	uint32_t pid, tid;
	uint64_t regs_mask;
	uint32_t regs_nr;
	const unsigned char *regs;
	const unsigned char *stack;
	uint64_t stack_size;
};

/* Why a walk ended. */
enum unwind_end {
	UNWIND_END_COMPLETE = 0, /* the outermost frame (CFI marks the return address undefined) */
	UNWIND_END_NO_CFI,       /* a frame in code without CFI (JIT, anonymous, no unwind tables) */
	UNWIND_END_STACK,        /* the walk needed memory outside the copied stack slice */
	UNWIND_END_DEPTH,        /* the caller's frame limit */
	UNWIND_END_REGS,         /* the sample has no usable registers (32-bit ABI, missing IP/SP) */
	UNWIND_END__COUNT
};

struct unwind_stats {
	uint64_t walks;
	uint64_t ended[UNWIND_END__COUNT];
	uint64_t spaces_created; /* Dwfls made: processes, and again after each change */
	uint64_t modules_reported;
};

/* The most processes whose Dwfl is kept; the least recently used goes
 * when a new one comes. Each holds its images' parsed CFI. */
#define UNWINDER_MAX_SPACES 512

int unwinder__new(struct unwinder **ret);
void unwinder__free(struct unwinder *u);

/* Process pid is gone or became another program (exit, exec): its Dwfl
 * is dropped, and made anew on its next sample. */
void unwinder__forget(struct unwinder *u, uint32_t pid);
/* Process pid mapped something new: before its next walk, the mappings
 * its Dwfl knows are checked against find_map, and the Dwfl made anew
 * only when one of them was replaced. */
void unwinder__maps_changed(struct unwinder *u, uint32_t pid);
/* The n images of gone (sorted by address) are about to be freed (no
 * process maps them): the Dwfls that reported any of them are dropped
 * (made anew on their process's next sample), then their ELFs are
 * closed. One pass, however many go at once. */
void unwinder__forget_images(struct unwinder *u, struct image *const *gone, size_t n);

/* Walk s's user stack: ips[0] is the sampled user IP, then the return
 * address of each caller, at most max entries. Returns the number of
 * entries (0 when not even the IP was usable) and why the walk ended in
 * *ret_end. */
/* The sampled user IP of s alone (no walk): false when s has none. */
bool unwind_sample__ip(const struct unwind_sample *s, uint64_t *ret);

size_t unwinder__unwind(struct unwinder *u, const struct unwind_sample *s, unwind_find_map_fn find_map, void *ctx,
			uint64_t *ips, size_t max, enum unwind_end *ret_end);

const struct unwind_stats *unwinder__stats(const struct unwinder *u);

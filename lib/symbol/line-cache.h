/* line-cache: the source lines of functions, kept on disk per build-id.
 *
 * Reading an image's DWARF means decompressing its debuginfo whole (libc's
 * is 4 MB compressed, 15 MB in memory): the largest part of a short
 * recording's CPU, spent again by every recording although the lines of a
 * given build-id never change. The cache keeps, per build-id, the lines of
 * every function a recording looked up, so the next recording of the same
 * code reads a few kilobytes instead.
 *
 * Where: $DOMPROF_CACHE_DIR/lines/, else $XDG_CACHE_HOME/domprof/lines/,
 * else $HOME/.cache/domprof/lines/ (DOMPROF_CACHE_DIR set to the empty
 * string turns the cache off). The directory must belong to the effective
 * user and be writable by nobody else, its files too; otherwise (sudo with
 * another user's HOME, say) the cache is not used. One file per build-id,
 * written whole under a temporary name and renamed into place.
 *
 * A file also records the state of the build-id's separate debuginfo
 * (/usr/lib/debug/.build-id/xx/yyyy.debug: absent, or its size and
 * modification time) when its lines were read; installing, removing or
 * changing that file makes the cache of that build-id stale. Anything a
 * file holds is checked before use: a file that does not parse is ignored
 * whole and rewritten. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct line_cache;

/* A line of a function: its address, source line and file name. */
struct cached_line {
	uint64_t addr;
	int line;
	const char *file;
};

/* The cache of one build-id (hex), NULL when there is none to use (the
 * cache is off, its directory unusable, the build-id empty). Reads the
 * file when there is one and it is current. */
struct line_cache *line_cache__open(const char *build_id);
/* The same with the directory and the root of build-id debuginfo given
 * (tests). */
struct line_cache *line_cache__open_at(const char *dir, const char *debug_root, const char *build_id);
/* The lines of the function [start, start+size) when cached: fn per line
 * and true (a function cached with no lines calls fn never). */
bool line_cache__lookup(struct line_cache *lc, uint64_t start, uint64_t size,
			void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx);
/* Remember the lines found for [start, start+size) from the image's DWARF. */
void line_cache__add(struct line_cache *lc, uint64_t start, uint64_t size, const struct cached_line *lines, size_t n);
/* Write what was added (when anything was) and free. Accepts NULL.
 * 0 or -errno of the write; a failed write leaves the old file. */
int line_cache__close(struct line_cache *lc);

/* The directory the cache would use now, or NULL when off (to free). */
char *line_cache__dir(void);

/* line-cache: an image's whole source-line table, kept on disk per build-id.
 *
 * Reading an image's DWARF means decompressing its debuginfo whole (libc's
 * is 4 MB compressed, 15 MB in memory): the largest part of a short
 * recording's CPU, spent again by every recording although the lines of a
 * build-id never change, and whichever of its functions are hot. So the
 * first recording that needs an image's lines reads all of them (every
 * compile unit's line table, about 290,000 rows for libc), and keeps them
 * compactly (about 5 bytes a row, delta-coded in blocks of 64 rows with an
 * index) under the image's build-id; later recordings read that file, a
 * binary search and one block per function.
 *
 * Where: $DOMPROF_CACHE_DIR/lines/, else $XDG_CACHE_HOME/domprof/lines/,
 * else $HOME/.cache/domprof/lines/ (DOMPROF_CACHE_DIR set to the empty
 * string turns the cache off; lines are then read per compile unit, as
 * they are for an image without a build-id). The directory must belong to the effective user and be writable
 * by nobody else, its files too; otherwise (sudo with another user's HOME,
 * say) nothing is read from or written to it. One file per build-id,
 * written whole under a temporary name and renamed into place; the least
 * recently used files go when the directory passes 256 MiB.
 *
 * A file records the state of the build-id's separate debuginfo
 * (/usr/lib/debug/.build-id/xx/yyyy.debug: absent, or its size and
 * modification time) when its lines were read; installing, removing or
 * changing that file makes it stale. An image without DWARF is kept as an
 * empty table, stale in the same way; a stripped copy shares its build-id
 * with the file it was stripped from, so an empty table does not hold for
 * a file that carries its own lines (the caller asks line_cache__empty and
 * reads them again). A file is checked whole (a hash of
 * its content, then its structure) before use: one that fails is ignored
 * and rewritten. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct line_cache;

/* A row of a line table: an address, its source line and file name. */
struct cached_line {
	uint64_t addr;
	int line;
	const char *file;
};

/* An image's table handle for build-id (hex; NULL or empty: kept in
 * memory only), reading the cached table when there is a current one. */
struct line_cache *line_cache__open(const char *build_id);
/* The same with the cache directory (NULL: memory only) and the root of
 * build-id debuginfo given (tests). */
struct line_cache *line_cache__open_at(const char *dir, const char *debug_root, const char *build_id);
/* Whether the table can be kept on disk (a usable directory and a
 * build-id): else a whole table costs more than the few compile units a
 * run needs. */
bool line_cache__persistent(const struct line_cache *lc);
/* Whether the table is there, from the cache or set. */
bool line_cache__ready(const struct line_cache *lc);
/* Whether the table is there and has no row (an image without DWARF). */
bool line_cache__empty(const struct line_cache *lc);
/* Forget the table read from the cache (not ready again): a set then
 * replaces it on disk at close. */
void line_cache__drop(struct line_cache *lc);
/* Set the table from every row of the image's DWARF (in any order; rows
 * of one address keep theirs); n = 0 for an image without lines. Copies
 * what it keeps. False when the table is too large to keep (more than
 * LINE_CACHE_MAX_ROWS rows): the caller reads lines from the DWARF. */
#define LINE_CACHE_MAX_ROWS (2u << 20)
bool line_cache__set(struct line_cache *lc, const struct cached_line *rows, size_t n);
/* The rows in [start, start+size), by address: fn per row. Their number. */
size_t line_cache__lines(const struct line_cache *lc, uint64_t start, uint64_t size,
			 void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx);
/* Write a table that was set (not one read) to the cache, and free.
 * Accepts NULL. 0 or -errno of the write; a failed write leaves the old
 * file. */
int line_cache__close(struct line_cache *lc);

/* The directory the cache would use now, or NULL when off (to free). */
char *line_cache__dir(void);

/* catalog: what a session's ids name — its domains, threads, images,
 * functions and stack frames — read whole into arrays indexed by id, so
 * that a reader costs a fixed handful of queries whatever the session's
 * size. The one reader of these tables, with the one policy for a damaged
 * or hostile session:
 *
 *  - ids are what the writer makes, dense from 1 (INTEGER PRIMARY KEYs);
 *    a table whose ids start below 1 or run far past its row count
 *    (CATALOG_ID_SLACK) is refused with -EBADMSG ("... is damaged"),
 *    rather than allocated for;
 *  - an id given twice: the first row wins;
 *  - a missing name reads "[unknown]" (domains, images, functions), a
 *    missing comm "";
 *  - a stack's walk stops at a frame that does not exist and after as
 *    many frames as the table holds, so a cycle cannot loop a reader. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

/* Ids may run this far past 4 x the row count before a table is refused:
 * room for rows a writer skipped, never for an absurd allocation. */
#define CATALOG_ID_SLACK (1 << 20)

struct catalog_domain {
	bool set;
	char *name, *kind, *vmm, *accel, *uuid, *source, *note; /* kind..note: NULL when absent */
	int64_t pid;
	bool has_pid, complete;
	int64_t clock_offset_ns, start_skew_ns;
};

struct catalog_thread {
	bool set;
	uint32_t domain;
	int64_t pid, tid;
	bool has_pid, has_tid;
	char *comm;
};

struct catalog_image {
	bool set;
	char *path, *build_id, *kind; /* build_id: NULL when none */
	const char *base;             /* inside path; "[kernel.kallsyms]" is its own */
};

struct catalog_symbol {
	bool set;
	uint32_t image;
	char *name;
	uint64_t address;
};

struct catalog_frame {
	bool set;
	uint32_t parent, image, symbol; /* parent: the caller's frame, 0 at the root */
	uint64_t address;
};

/* Which tables to read. */
enum {
	CATALOG_DOMAINS = 1 << 0,
	CATALOG_THREADS = 1 << 1,
	CATALOG_CODE = 1 << 2, /* images, symbols and frames */
	CATALOG_ALL = CATALOG_DOMAINS | CATALOG_THREADS | CATALOG_CODE,
};

struct session_catalog {
	struct catalog_domain *domains; /* each array: max id + 1 entries */
	size_t n_domains;
	struct catalog_thread *threads;
	size_t n_threads;
	struct catalog_image *images;
	size_t n_images;
	struct catalog_symbol *symbols;
	size_t n_symbols;
	struct catalog_frame *frames;
	size_t n_frames;
};

/* Read the tables of want (CATALOG_*). 0, -EBADMSG for a damaged table,
 * -EIO; *ret_error says which. On failure *ret holds nothing. */
int session_catalog__load(struct session *s, unsigned want, struct session_catalog *ret, char **ret_error);
void session_catalog__release(struct session_catalog *c);

/* The entry of an id, or NULL when there is none. */
const struct catalog_domain *session_catalog__domain(const struct session_catalog *c, uint32_t id);
const struct catalog_thread *session_catalog__thread(const struct session_catalog *c, uint32_t id);
const struct catalog_image *session_catalog__image(const struct session_catalog *c, uint32_t id);
const struct catalog_symbol *session_catalog__symbol(const struct session_catalog *c, uint32_t id);
const struct catalog_frame *session_catalog__frame(const struct session_catalog *c, uint32_t id);
/* A domain's name, "[unknown]" for an id that names none. */
const char *session_catalog__domain_name(const struct session_catalog *c, uint32_t id);

/* The frame ids of a stack, innermost first, into *ids (grown as needed).
 * Returns how many; 0 when the stack id names no frame. */
size_t session_catalog__stack(const struct session_catalog *c, uint32_t stack, uint32_t **ids, size_t *cap);

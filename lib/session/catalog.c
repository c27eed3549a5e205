/* Reading a session's catalog tables; see catalog.h for the policy. */
#define _GNU_SOURCE
#include "catalog.h"

#include <errno.h>

#include "../util/util.h"
#include "internal.h"

static char *col_dup_or(sqlite3_stmt *st, int c, const char *fallback)
{
	char *v = session_column_dup(st, c);
	return v ? v : xstrdup(fallback);
}

/* Size of an array indexed by the ids of table, or -EBADMSG when the ids
 * are too sparse to be a domprof session's. */
static int id_array_size(struct session *s, const char *table, size_t *ret, char **ret_error)
{
	_cleanup_free_ char *sql = xasprintf("SELECT COALESCE(MAX(id), 0), COUNT(*), COALESCE(MIN(id), 1) FROM %s", table);
	sqlite3_stmt *st;
	int64_t max, count, min;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return session_read_error(s, table, ret_error);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return session_read_error(s, table, ret_error);
	}
	max = sqlite3_column_int64(st, 0);
	count = sqlite3_column_int64(st, 1);
	min = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (min < 1 || max > 4 * count + CATALOG_ID_SLACK) {
		*ret_error = xasprintf("%s is damaged: the ids of its %s table are not 1, 2, 3...", s->path, table);
		return -EBADMSG;
	}
	*ret = (size_t)max + 1;
	return 0;
}

/* Run sql and hand each row to fn with its entry (by the id in column 0);
 * an entry already set keeps its first row. */
static int load_table(struct session *s, const char *table, const char *sql, size_t *ret_n, void **array, size_t elem,
		      void (*fn)(void *entry, sqlite3_stmt *st), char **ret_error)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int r, rc;
	r = id_array_size(s, table, &n, ret_error);
	if (r < 0)
		return r;
	*array = xcalloc(n, elem);
	*ret_n = n;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return session_read_error(s, table, ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		void *entry;
		if (id < 1 || (size_t)id >= n)
			continue;
		entry = (char *)*array + (size_t)id * elem;
		if (!*(bool *)entry) /* every entry starts with its bool set */
			fn(entry, st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : session_read_error(s, table, ret_error);
}

static void load_domain(void *entry, sqlite3_stmt *st)
{
	struct catalog_domain *d = entry;
	d->set = true;
	d->name = col_dup_or(st, 1, "[unknown]");
	d->kind = session_column_dup(st, 2);
	d->has_pid = sqlite3_column_type(st, 3) != SQLITE_NULL;
	d->pid = d->has_pid ? sqlite3_column_int64(st, 3) : -1;
	d->vmm = session_column_dup(st, 4);
	d->accel = session_column_dup(st, 5);
	d->uuid = session_column_dup(st, 6);
	d->source = session_column_dup(st, 7);
	d->complete = sqlite3_column_int(st, 8) != 0;
	d->note = session_column_dup(st, 9);
	d->clock_offset_ns = sqlite3_column_int64(st, 10);
	d->start_skew_ns = sqlite3_column_int64(st, 11);
}

static void load_thread(void *entry, sqlite3_stmt *st)
{
	struct catalog_thread *t = entry;
	t->set = true;
	t->domain = (uint32_t)sqlite3_column_int64(st, 1);
	t->has_pid = sqlite3_column_type(st, 2) != SQLITE_NULL;
	t->pid = sqlite3_column_int64(st, 2);
	t->has_tid = sqlite3_column_type(st, 3) != SQLITE_NULL;
	t->tid = sqlite3_column_int64(st, 3);
	t->comm = col_dup_or(st, 4, "");
}

static void load_image(void *entry, sqlite3_stmt *st)
{
	struct catalog_image *i = entry;
	const char *slash;
	i->set = true;
	i->path = col_dup_or(st, 1, "[unknown]");
	i->build_id = session_column_dup(st, 2);
	if (i->build_id && !*i->build_id) {
		free(i->build_id);
		i->build_id = NULL;
	}
	i->kind = session_column_dup(st, 3);
	/* "[kernel.kallsyms]" and other bracketed names are their own basename. */
	slash = i->path[0] == '[' ? NULL : strrchr(i->path, '/');
	i->base = slash && slash[1] ? slash + 1 : i->path;
}

static void load_symbol(void *entry, sqlite3_stmt *st)
{
	struct catalog_symbol *y = entry;
	y->set = true;
	y->image = (uint32_t)sqlite3_column_int64(st, 1);
	y->name = col_dup_or(st, 2, "[unknown]");
	y->address = (uint64_t)sqlite3_column_int64(st, 3);
}

static void load_frame(void *entry, sqlite3_stmt *st)
{
	struct catalog_frame *f = entry;
	f->set = true;
	f->parent = (uint32_t)sqlite3_column_int64(st, 1);
	f->image = (uint32_t)sqlite3_column_int64(st, 2);
	f->symbol = (uint32_t)sqlite3_column_int64(st, 3);
	f->address = (uint64_t)sqlite3_column_int64(st, 4);
}

static int load(struct session *s, unsigned want, struct session_catalog *c, char **ret_error)
{
	int r = 0;
	if (want & CATALOG_DOMAINS)
		r = load_table(s, "domains",
			       "SELECT id, name, kind, pid, vmm, accel, uuid, source, complete, note, clock_offset_ns,"
			       " start_skew_ns FROM domains",
			       &c->n_domains, (void **)&c->domains, sizeof(*c->domains), load_domain, ret_error);
	if (r >= 0 && (want & CATALOG_THREADS))
		r = load_table(s, "threads", "SELECT id, domain_id, pid, tid, comm FROM threads", &c->n_threads,
			       (void **)&c->threads, sizeof(*c->threads), load_thread, ret_error);
	if (r >= 0 && (want & CATALOG_CODE))
		r = load_table(s, "images", "SELECT id, path, build_id, kind FROM images", &c->n_images,
			       (void **)&c->images, sizeof(*c->images), load_image, ret_error);
	if (r >= 0 && (want & CATALOG_CODE))
		r = load_table(s, "symbols", "SELECT id, image_id, name, address FROM symbols", &c->n_symbols,
			       (void **)&c->symbols, sizeof(*c->symbols), load_symbol, ret_error);
	if (r >= 0 && (want & CATALOG_CODE))
		r = load_table(s, "frames", "SELECT id, parent_id, image_id, symbol_id, address FROM frames", &c->n_frames,
			       (void **)&c->frames, sizeof(*c->frames), load_frame, ret_error);
	return r;
}

int session_catalog__load(struct session *s, unsigned want, struct session_catalog *ret, char **ret_error)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	r = load(s, want, ret, ret_error);
	if (r < 0)
		session_catalog__release(ret);
	return r;
}

void session_catalog__release(struct session_catalog *c)
{
	for (size_t i = 0; i < c->n_domains; i++) {
		struct catalog_domain *d = &c->domains[i];
		free(d->name);
		free(d->kind);
		free(d->vmm);
		free(d->accel);
		free(d->uuid);
		free(d->source);
		free(d->note);
	}
	for (size_t i = 0; i < c->n_threads; i++)
		free(c->threads[i].comm);
	for (size_t i = 0; i < c->n_images; i++) {
		free(c->images[i].path);
		free(c->images[i].build_id);
		free(c->images[i].kind);
	}
	for (size_t i = 0; i < c->n_symbols; i++)
		free(c->symbols[i].name);
	free(c->domains);
	free(c->threads);
	free(c->images);
	free(c->symbols);
	free(c->frames);
	memset(c, 0, sizeof(*c));
}

const struct catalog_domain *session_catalog__domain(const struct session_catalog *c, uint32_t id)
{
	return id < c->n_domains && c->domains[id].set ? &c->domains[id] : NULL;
}

const struct catalog_thread *session_catalog__thread(const struct session_catalog *c, uint32_t id)
{
	return id < c->n_threads && c->threads[id].set ? &c->threads[id] : NULL;
}

const struct catalog_image *session_catalog__image(const struct session_catalog *c, uint32_t id)
{
	return id < c->n_images && c->images[id].set ? &c->images[id] : NULL;
}

const struct catalog_symbol *session_catalog__symbol(const struct session_catalog *c, uint32_t id)
{
	return id < c->n_symbols && c->symbols[id].set ? &c->symbols[id] : NULL;
}

const struct catalog_frame *session_catalog__frame(const struct session_catalog *c, uint32_t id)
{
	return id < c->n_frames && c->frames[id].set ? &c->frames[id] : NULL;
}

const char *session_catalog__domain_name(const struct session_catalog *c, uint32_t id)
{
	const struct catalog_domain *d = session_catalog__domain(c, id);
	return d ? d->name : "[unknown]";
}

size_t session_catalog__stack(const struct session_catalog *c, uint32_t stack, uint32_t **ids, size_t *cap)
{
	size_t n = 0;
	for (uint32_t f = stack; session_catalog__frame(c, f) && n < c->n_frames; f = c->frames[f].parent) {
		ARRAY_GROW(*ids, *cap, n + 1);
		(*ids)[n++] = f;
	}
	return n;
}

/* The views of a session's samples; see view.h.
 *
 * The merged view's scale factors live in a temporary table, view_scale,
 * computed again when the samples changed (a session open read-only
 * writes nothing to its file: temporary tables are the connection's own).
 * A row's period in the merged view is rounded row by row before it is
 * summed, so every reader that groups the same rows differently still
 * gets the same totals.
 *
 * Rows are grouped here, in a hash table, not by SQLite's GROUP BY: that
 * sorts every sample row by its text keys (domain, image and function
 * names), which was most of a report's time (26 ms of a 7,700-row session
 * against 3 ms for the plain scan). The groups come out in the order
 * GROUP BY gave them, ascending by their keys. */
#define _GNU_SOURCE
#include "view.h"

#include <errno.h>

#include "../util/util.h"
#include "../vocab/vocab.h"
#include "internal.h"

static const char *const source_names[] = { [SOURCE_MERGED] = "merged", [SOURCE_HOST] = "host",
					    [SOURCE_AGENT] = "agent" };

const char *view_source__name(enum view_source source)
{
	return (unsigned)source < ARRAY_SIZE(source_names) ? source_names[source] : "merged";
}

int view_source__parse(const char *name, enum view_source *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(source_names); i++)
		if (streq(name, source_names[i])) {
			*ret = (enum view_source)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const column_sql[VIEW_COLUMN__COUNT] = {
	[VIEW_EVENT_ID] = "s.event_id",
	[VIEW_DOMAIN_ID] = "s.domain_id",
	[VIEW_DOMAIN] = "d.name",
	[VIEW_LAYER] = "s.layer",
	[VIEW_THREAD_ID] = "s.thread_id",
	[VIEW_COMM] = "COALESCE(t.comm,'')",
	[VIEW_PID] = "COALESCE(CAST(t.pid AS TEXT),'')",
	[VIEW_TID] = "COALESCE(CAST(t.tid AS TEXT),'')",
	[VIEW_IMAGE_ID] = "s.image_id",
	[VIEW_IMAGE] = "COALESCE(i.path,'[unknown]')",
	[VIEW_SYMBOL_ID] = "s.symbol_id",
	[VIEW_SYMBOL] = "COALESCE(y.name,'[unknown]')",
	[VIEW_ADDRESS] = "s.address",
	[VIEW_STACK_ID] = "s.stack_id",
};

/* Text columns read by id: the sample row gives the id, and the text is
 * looked up once per id (the same expression as column_sql, on the one
 * catalog row), so no catalog is joined to every sample row. */
static const struct {
	const char *id, *text, *missing;
} by_id[VIEW_COLUMN__COUNT] = {
	[VIEW_DOMAIN] = { "s.domain_id", "SELECT name FROM domains WHERE id=?", "" },
	[VIEW_COMM] = { "s.thread_id", "SELECT COALESCE(comm,'') FROM threads WHERE id=?", "" },
	[VIEW_PID] = { "s.thread_id", "SELECT COALESCE(CAST(pid AS TEXT),'') FROM threads WHERE id=?", "" },
	[VIEW_TID] = { "s.thread_id", "SELECT COALESCE(CAST(tid AS TEXT),'') FROM threads WHERE id=?", "" },
	[VIEW_IMAGE] = { "s.image_id", "SELECT path FROM images WHERE id=?", "[unknown]" },
	[VIEW_SYMBOL] = { "s.symbol_id", "SELECT name FROM symbols WHERE id=?", "[unknown]" },
};

/* A group's key: per column an integer, or for a text column the index
 * of its text in the rows' pool; NULL is INT64_MIN (first, as in SQL). */
struct view_rows {
	struct session *s;
	sqlite3_stmt *st;
	size_t n_columns;
	bool timeline;
	/* grouped here: */
	bool grouped;
	bool text[VIEW_COLUMN__COUNT]; /* per column: a text column */
	int64_t *keys;                 /* n_groups * n_columns */
	struct view_row *sums;
	size_t n_groups, cap_keys, cap_sums;
	struct hmap index;             /* a group's key hash -> group */
	char **texts;                  /* the pool: bytes and a NUL */
	size_t *text_lens;
	size_t n_texts, cap_texts, cap_text_lens;
	struct hmap text_index;
	/* per column read by id (by_id): its lookup, and the text of each
	 * id seen (id -> pool index, in ids[] / id_texts[]) */
	sqlite3_stmt *lookup[VIEW_COLUMN__COUNT];
	const char *missing[VIEW_COLUMN__COUNT];
	struct hmap id_index[VIEW_COLUMN__COUNT];
	int64_t *ids[VIEW_COLUMN__COUNT], *id_texts[VIEW_COLUMN__COUNT];
	size_t n_ids[VIEW_COLUMN__COUNT], cap_ids[VIEW_COLUMN__COUNT], cap_id_texts[VIEW_COLUMN__COUNT];
	uint32_t *order;               /* groups in key order */
	size_t next;                   /* in order */
	int64_t *cur;                  /* the key of the group last read */
	char number[24];               /* an integer column read as text */
};

static bool is_text_column(enum view_column c)
{
	return c == VIEW_DOMAIN || c == VIEW_LAYER || c == VIEW_COMM || c == VIEW_PID || c == VIEW_TID ||
	       c == VIEW_IMAGE || c == VIEW_SYMBOL;
}

/* PRAGMA data_version: changes when another connection committed. */
static int64_t data_version(struct session *s)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Per VM and event: the host's guest-layer period over the agent's. The
 * table is made again only when the samples may have changed since it was
 * made (a report asks for it several times). */
static int view_scale__prepare(struct session *s, enum view_source source)
{
	int64_t version;
	int r;
	if (source != SOURCE_MERGED)
		return 0;
	version = data_version(s);
	if (s->view_scale_ready && version >= 0 && version == s->view_scale_version &&
	    sqlite3_total_changes64(s->db) == s->view_scale_changes)
		return 0;
	r = session_exec(s,
			    "CREATE TEMP TABLE IF NOT EXISTS view_scale(domain_id INTEGER, event_id INTEGER, factor REAL,"
			    " PRIMARY KEY(domain_id, event_id));"
			    "DELETE FROM view_scale;"
			    "INSERT INTO view_scale SELECT a.domain_id, a.event_id,"
			    " CASE WHEN COALESCE(h.p,0) > 0 THEN CAST(h.p AS REAL) / a.p ELSE 1.0 END"
			    " FROM (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='agent'"
			    "       GROUP BY domain_id, event_id HAVING SUM(period) > 0) a"
			    " LEFT JOIN (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='host'"
			    "       AND layer IN " LAYER_GUEST_SQL_SET " GROUP BY domain_id, event_id) h"
			    " ON h.domain_id=a.domain_id AND h.event_id=a.event_id;");
	s->view_scale_ready = r == 0;
	s->view_scale_version = version;
	s->view_scale_changes = sqlite3_total_changes64(s->db);
	return r;
}

/* A row's period in the view; a is the table's alias. */
static void view__period(struct strbuf *sql, const char *a, enum view_source source)
{
	if (source == SOURCE_MERGED)
		strbuf_addf(sql,
			    "CAST(ROUND(CASE WHEN %s.origin='agent' THEN %s.period * COALESCE(vs.factor,1.0)"
			    " ELSE %s.period END) AS INTEGER)",
			    a, a, a);
	else
		strbuf_addf(sql, "%s.period", a);
}

static void view__join_scale(struct strbuf *sql, const char *a, enum view_source source)
{
	if (source == SOURCE_MERGED)
		strbuf_addf(sql, " LEFT JOIN view_scale vs ON vs.domain_id=%s.domain_id AND vs.event_id=%s.event_id", a, a);
}

/* Which rows of alias a are in the view. */
static void view__where(struct strbuf *sql, const char *a, enum view_source source)
{
	if (source == SOURCE_HOST)
		strbuf_addf(sql, " WHERE %s.origin='host'", a);
	else /* guest layers of VMs with an agent come from the agent */
		strbuf_addf(sql,
			    " WHERE (%s.origin='agent' OR %s.layer NOT IN " LAYER_GUEST_SQL_SET
			    " OR %s.domain_id NOT IN (SELECT DISTINCT domain_id FROM samples WHERE origin='agent'))",
			    a, a, a);
}

static void add_in_filter(struct strbuf *sql, const char *column, char **list)
{
	if (!list)
		return;
	strbuf_addf(sql, " AND %s IN (", column);
	for (size_t i = 0; list[i]; i++)
		strbuf_adds(sql, i ? ",?" : "?");
	strbuf_adds(sql, ")");
}

static int bind_list(sqlite3_stmt *st, int at, char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		sqlite3_bind_text(st, at++, list[i], -1, SQLITE_STATIC);
	return at;
}

static void add_sums(struct strbuf *sql, enum view_source source, bool grouped)
{
	if (grouped) {
		strbuf_adds(sql, "SUM(s.count), SUM(");
		view__period(sql, "s", source);
		strbuf_adds(sql, "), SUM(CASE WHEN s.layer='idle' THEN ");
		view__period(sql, "s", source);
		strbuf_adds(sql, " ELSE 0 END), MIN(s.address), MAX(s.address), MAX(s.symbol_id IS NULL)");
	} else {
		strbuf_adds(sql, "s.count, ");
		view__period(sql, "s", source);
		strbuf_adds(sql, ", CASE WHEN s.layer='idle' THEN ");
		view__period(sql, "s", source);
		strbuf_adds(sql, " ELSE 0 END, s.address, s.address, s.symbol_id IS NULL");
	}
}

static int prepare(struct session *s, const char *sql, sqlite3_stmt **ret, char **ret_error)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot query %s: %s", s->path, session__error(s));
		return -EIO;
	}
	return 0;
}

static int scale_prepare(struct session *s, enum view_source source, char **ret_error)
{
	if (view_scale__prepare(s, source) < 0) {
		*ret_error = xasprintf("cannot prepare the merged view of %s: %s", s->path, session__error(s));
		return -EIO;
	}
	return 0;
}

/* The pool index of a text of n bytes (copied on first sight). */
static int64_t text_id(struct view_rows *r, const char *t, size_t n)
{
	uint64_t h = hash_bytes(t, n, 0);
	size_t pos;
	char *copy;
	for (pos = hmap_first(&r->text_index, h);; pos = hmap_next(&r->text_index, pos)) {
		uint32_t i;
		if (!hmap_candidate(&r->text_index, pos, h, &i))
			break;
		if (i != UINT32_MAX && r->text_lens[i] == n && !memcmp(r->texts[i], t, n))
			return i;
	}
	ARRAY_GROW(r->texts, r->cap_texts, r->n_texts + 1);
	ARRAY_GROW(r->text_lens, r->cap_text_lens, r->n_texts + 1);
	copy = xmalloc(n + 1);
	memcpy(copy, t, n);
	copy[n] = '\0';
	r->texts[r->n_texts] = copy;
	r->text_lens[r->n_texts] = n;
	hmap_insert_at(&r->text_index, pos, h, (uint32_t)r->n_texts);
	return (int64_t)r->n_texts++;
}

/* A sum as the session's SUM makes it (session.c): integers saturate,
 * a real makes the total real. */
struct view_sum {
	int64_t total;
	double real;
	bool is_real;
};

static void view_sum__add(struct view_sum *s, sqlite3_stmt *st, int column)
{
	int type = sqlite3_column_type(st, column);
	if (type == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(st, column);
		if (__builtin_add_overflow(s->total, v, &s->total))
			s->total = v < 0 ? INT64_MIN : INT64_MAX;
	} else if (type != SQLITE_NULL) {
		s->is_real = true;
		s->real += sqlite3_column_double(st, column);
	}
}

/* The total as sqlite3_column_int64 reads SUM's result. */
static uint64_t view_sum__value(const struct view_sum *s)
{
	double d;
	if (!s->is_real)
		return (uint64_t)s->total;
	d = s->real + (double)s->total;
	if (d != d)
		return 0;
	return (uint64_t)(d >= 9223372036854775807.0 ? INT64_MAX : d <= -9223372036854775808.0 ? INT64_MIN : (int64_t)d);
}

/* The pool index of column k's text for catalog id (NULL: null_id). */
static int64_t text_of_id(struct view_rows *r, size_t k, int64_t id, bool null_id, int *ret_rc)
{
	uint64_t h = hash_u64((uint64_t)id ^ (null_id ? 0x5bd1e995ULL : 0));
	sqlite3_stmt *st = r->lookup[k];
	size_t pos;
	int64_t t;
	for (pos = hmap_first(&r->id_index[k], h);; pos = hmap_next(&r->id_index[k], pos)) {
		uint32_t i;
		if (!hmap_candidate(&r->id_index[k], pos, h, &i))
			break;
		if (i != UINT32_MAX && r->ids[k][i] == id)
			return r->id_texts[k][i];
	}
	if (null_id) {
		t = text_id(r, r->missing[k], strlen(r->missing[k]));
	} else {
		int rc;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			const char *text = (const char *)sqlite3_column_text(st, 0);
			t = text_id(r, text ? text : "", text ? (size_t)sqlite3_column_bytes(st, 0) : 0);
		} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
			t = text_id(r, r->missing[k], strlen(r->missing[k]));
		} else {
			*ret_rc = rc;
			return 0;
		}
	}
	ARRAY_GROW(r->ids[k], r->cap_ids[k], r->n_ids[k] + 1);
	ARRAY_GROW(r->id_texts[k], r->cap_id_texts[k], r->n_ids[k] + 1);
	r->ids[k][r->n_ids[k]] = id;
	r->id_texts[k][r->n_ids[k]] = t;
	hmap_insert_at(&r->id_index[k], pos, h, (uint32_t)r->n_ids[k]);
	r->n_ids[k]++;
	return t;
}

static uint64_t key_hash(const int64_t *key, size_t n)
{
	uint64_t h = 0;
	for (size_t k = 0; k < n; k++)
		h = hash_mix(h, (uint64_t)key[k]);
	return h;
}

/* Key order: integers ascending, texts by their bytes (SQLite's BINARY). */
static int key_cmp(const struct view_rows *r, const int64_t *a, const int64_t *b)
{
	for (size_t k = 0; k < r->n_columns; k++) {
		int c;
		if (a[k] == b[k])
			continue;
		if (r->text[k] && a[k] != INT64_MIN && b[k] != INT64_MIN) {
			size_t la = r->text_lens[a[k]], lb = r->text_lens[b[k]];
			c = memcmp(r->texts[a[k]], r->texts[b[k]], MIN(la, lb));
			if (!c)
				c = la < lb ? -1 : 1;
		} else
			c = a[k] < b[k] ? -1 : 1;
		if (c)
			return c;
	}
	return 0;
}

static int order_cmp(const void *a, const void *b, void *ctx)
{
	const struct view_rows *r = ctx;
	return key_cmp(r, r->keys + *(const uint32_t *)a * r->n_columns, r->keys + *(const uint32_t *)b * r->n_columns);
}

/* Read every row of r->st (its n key columns, then count, period, idle
 * period, address, address, unknown symbol) into groups by key. */
static int group_rows(struct view_rows *r, char **ret_error)
{
	size_t n = r->n_columns;
	int64_t *key = xmalloc(n * sizeof(*key));
	struct view_sum *sums = NULL; /* count, period, idle period per group */
	bool *addressed = NULL;       /* per group: some row has an address */
	size_t cap_sums = 0, cap_addressed = 0;
	int rc;
	while ((rc = sqlite3_step(r->st)) == SQLITE_ROW) {
		uint64_t h;
		size_t pos;
		uint32_t g = UINT32_MAX;
		struct view_row *sum;
		int64_t address = sqlite3_column_int64(r->st, (int)n + 3);
		for (size_t k = 0; k < n; k++) {
			if (r->lookup[k]) {
				int lrc = SQLITE_OK;
				key[k] = text_of_id(r, k, sqlite3_column_int64(r->st, (int)k),
						    sqlite3_column_type(r->st, (int)k) == SQLITE_NULL, &lrc);
				if (lrc != SQLITE_OK) {
					rc = lrc;
					break;
				}
			} else if (sqlite3_column_type(r->st, (int)k) == SQLITE_NULL)
				key[k] = INT64_MIN;
			else if (r->text[k]) {
				const char *t = (const char *)sqlite3_column_text(r->st, (int)k);
				key[k] = text_id(r, t ? t : "", t ? (size_t)sqlite3_column_bytes(r->st, (int)k) : 0);
			} else
				key[k] = sqlite3_column_int64(r->st, (int)k);
		}
		if (rc != SQLITE_ROW)
			break;
		h = key_hash(key, n);
		for (pos = hmap_first(&r->index, h);; pos = hmap_next(&r->index, pos)) {
			uint32_t i;
			if (!hmap_candidate(&r->index, pos, h, &i))
				break;
			if (i != UINT32_MAX && !memcmp(r->keys + (size_t)i * n, key, n * sizeof(*key))) {
				g = i;
				break;
			}
		}
		if (g == UINT32_MAX) {
			g = (uint32_t)r->n_groups++;
			ARRAY_GROW(r->keys, r->cap_keys, r->n_groups * n);
			ARRAY_GROW(r->sums, r->cap_sums, r->n_groups);
			ARRAY_GROW(sums, cap_sums, 3 * r->n_groups);
			ARRAY_GROW(addressed, cap_addressed, r->n_groups);
			memcpy(r->keys + (size_t)g * n, key, n * sizeof(*key));
			r->sums[g] = (struct view_row){ 0 };
			memset(&sums[3 * (size_t)g], 0, 3 * sizeof(*sums));
			addressed[g] = false;
			hmap_insert_at(&r->index, pos, h, g);
		}
		sum = &r->sums[g];
		for (int i = 0; i < 3; i++)
			view_sum__add(&sums[3 * (size_t)g + i], r->st, (int)n + i);
		/* Addresses are signed in the session (a kernel's are negative):
		 * MIN and MAX as SQL takes them, of the rows that have one. */
		if (sqlite3_column_type(r->st, (int)n + 3) != SQLITE_NULL) {
			if (!addressed[g] || address < (int64_t)sum->min_address)
				sum->min_address = (uint64_t)address;
			if (!addressed[g] || address > (int64_t)sum->max_address)
				sum->max_address = (uint64_t)address;
			addressed[g] = true;
		}
		sum->unknown_symbol |= sqlite3_column_int(r->st, (int)n + 5) != 0;
	}
	free(key);
	for (size_t g = 0; g < r->n_groups; g++) {
		r->sums[g].count = view_sum__value(&sums[3 * g]);
		r->sums[g].period = view_sum__value(&sums[3 * g + 1]);
		r->sums[g].idle_period = view_sum__value(&sums[3 * g + 2]);
	}
	free(sums);
	free(addressed);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", r->s->path, session__error(r->s));
		return -EIO;
	}
	r->order = xmalloc((r->n_groups ? r->n_groups : 1) * sizeof(*r->order));
	for (size_t g = 0; g < r->n_groups; g++)
		r->order[g] = (uint32_t)g;
	qsort_r(r->order, r->n_groups, sizeof(*r->order), order_cmp, r);
	r->grouped = true;
	return 0;
}

int view_rows__open(struct session *s, const struct view_filter *f, const enum view_column *columns, size_t n,
		    bool grouped, struct view_rows **ret, char **ret_error)
{
	struct strbuf sql;
	sqlite3_stmt *st;
	int r, at = 1;

	if (n > VIEW_COLUMN__COUNT) {
		*ret_error = xasprintf("cannot query %s: %zu columns asked, at most %d", s->path, n, VIEW_COLUMN__COUNT);
		return -EINVAL;
	}
	if ((r = scale_prepare(s, f->source, ret_error)) < 0)
		return r;
	strbuf_init(&sql);
	strbuf_adds(&sql, "SELECT ");
	for (size_t k = 0; k < n; k++)
		strbuf_addf(&sql, "%s, ", grouped && by_id[columns[k]].id ? by_id[columns[k]].id : column_sql[columns[k]]);
	add_sums(&sql, f->source, grouped && !n);
	strbuf_adds(&sql, " FROM samples s JOIN domains d ON d.id=s.domain_id"
			  " LEFT JOIN threads t ON t.id=s.thread_id"
			  " LEFT JOIN images i ON i.id=s.image_id"
			  " LEFT JOIN symbols y ON y.id=s.symbol_id");
	view__join_scale(&sql, "s", f->source);
	view__where(&sql, "s", f->source);
	if (f->no_idle)
		strbuf_adds(&sql, " AND s.layer<>'idle'");
	if (f->vms_only)
		strbuf_adds(&sql, " AND d.kind='vm'");
	if (f->symbol_id > 0)
		strbuf_addf(&sql, " AND s.symbol_id=%lld", (long long)f->symbol_id);
	add_in_filter(&sql, "d.name", f->domains);
	add_in_filter(&sql, "s.layer", f->layers);
	add_in_filter(&sql, "t.comm", f->comms);
	/* Grouped by columns: grouped by group_rows, from the rows. */
	r = prepare(s, sql.buf, &st, ret_error);
	strbuf_release(&sql);
	if (r < 0)
		return r;
	at = bind_list(st, at, f->domains);
	at = bind_list(st, at, f->layers);
	bind_list(st, at, f->comms);
	*ret = xcalloc(1, sizeof(**ret));
	(*ret)->s = s;
	(*ret)->st = st;
	(*ret)->n_columns = n;
	if (grouped && n) {
		for (size_t k = 0; k < n; k++) {
			(*ret)->text[k] = is_text_column(columns[k]);
			if (by_id[columns[k]].id) {
				(*ret)->missing[k] = by_id[columns[k]].missing;
				if ((r = prepare(s, by_id[columns[k]].text, &(*ret)->lookup[k], ret_error)) < 0) {
					view_rows__close(*ret);
					*ret = NULL;
					return r;
				}
			}
		}
		if ((r = group_rows(*ret, ret_error)) < 0) {
			view_rows__close(*ret);
			*ret = NULL;
			return r;
		}
	}
	return 0;
}

int view_rows__open_timeline(struct session *s, const struct view_filter *f, struct view_rows **ret,
			     char **ret_error)
{
	struct strbuf sql;
	sqlite3_stmt *st;
	int r;

	if ((r = scale_prepare(s, f->source, ret_error)) < 0)
		return r;
	strbuf_init(&sql);
	strbuf_adds(&sql, "SELECT tl.event_id, tl.domain_id, tl.layer, tl.bucket, SUM(");
	view__period(&sql, "tl", f->source);
	strbuf_adds(&sql, ") FROM timeline tl");
	view__join_scale(&sql, "tl", f->source);
	view__where(&sql, "tl", f->source);
	strbuf_adds(&sql, " GROUP BY tl.event_id, tl.domain_id, tl.layer, tl.bucket");
	r = prepare(s, sql.buf, &st, ret_error);
	strbuf_release(&sql);
	if (r < 0)
		return r;
	*ret = xcalloc(1, sizeof(**ret));
	(*ret)->s = s;
	(*ret)->st = st;
	(*ret)->n_columns = 4;
	(*ret)->timeline = true;
	return 0;
}

int view_rows__next(struct view_rows *r, struct view_row *ret, char **ret_error)
{
	int rc, c = (int)r->n_columns;
	if (r->grouped) {
		uint32_t g;
		if (r->next >= r->n_groups)
			return 0;
		g = r->order[r->next++];
		r->cur = r->keys + (size_t)g * r->n_columns;
		*ret = r->sums[g];
		return 1;
	}
	rc = sqlite3_step(r->st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW) {
		*ret_error = xasprintf("cannot read %s: %s", r->s->path, session__error(r->s));
		return -EIO;
	}
	memset(ret, 0, sizeof(*ret));
	if (r->timeline) {
		ret->period = (uint64_t)sqlite3_column_int64(r->st, c);
		return 1;
	}
	ret->count = (uint64_t)sqlite3_column_int64(r->st, c);
	ret->period = (uint64_t)sqlite3_column_int64(r->st, c + 1);
	ret->idle_period = (uint64_t)sqlite3_column_int64(r->st, c + 2);
	ret->min_address = (uint64_t)sqlite3_column_int64(r->st, c + 3);
	ret->max_address = (uint64_t)sqlite3_column_int64(r->st, c + 4);
	ret->unknown_symbol = sqlite3_column_int(r->st, c + 5) != 0;
	return 1;
}

int64_t view_rows__int(struct view_rows *r, size_t i)
{
	if (r->grouped && i < r->n_columns) {
		int64_t v = r->cur[i];
		if (v == INT64_MIN)
			return 0;
		return r->text[i] ? strtoll(r->texts[v], NULL, 10) : v;
	}
	return sqlite3_column_int64(r->st, (int)i);
}

const char *view_rows__text(struct view_rows *r, size_t i)
{
	const unsigned char *v;
	if (r->grouped && i < r->n_columns) {
		int64_t k = r->cur[i];
		if (k == INT64_MIN)
			return "";
		if (r->text[i])
			return r->texts[k];
		snprintf(r->number, sizeof(r->number), "%lld", (long long)k);
		return r->number;
	}
	v = sqlite3_column_text(r->st, (int)i);
	return v ? (const char *)v : "";
}

void view_rows__close(struct view_rows *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->st);
	for (size_t i = 0; i < r->n_texts; i++)
		free(r->texts[i]);
	free(r->texts);
	free(r->text_lens);
	hmap_release(&r->text_index);
	hmap_release(&r->index);
	for (size_t k = 0; k < VIEW_COLUMN__COUNT; k++) {
		sqlite3_finalize(r->lookup[k]);
		hmap_release(&r->id_index[k]);
		free(r->ids[k]);
		free(r->id_texts[k]);
	}
	free(r->keys);
	free(r->sums);
	free(r->order);
	free(r);
}

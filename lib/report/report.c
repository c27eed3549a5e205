/* Computing report models from a session with SQL; see report.h.
 *
 * Views of an active VM (--source): samples carry their origin (host or
 * agent). The host view keeps host rows only. The agent view replaces the
 * guest layers of every VM that has agent data by the agent's rows. The
 * merged view (default) does the same but scales the agent's periods, per
 * VM and event, so their sum equals what the host measured for that VM's
 * guest layers: the host's magnitude, the agent's breakdown. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <math.h>

#include "../domain/idle.h"
#include "../util/hmap.h"
#include "../util/util.h"
#include "../vocab/vocab.h"

static const char *key_names[KEY__COUNT] = { "domain", "layer", "comm", "pid", "tid", "image", "symbol" };
static const char *key_sql[KEY__COUNT] = {
	"d.name",
	"s.layer",
	"COALESCE(t.comm,'')",
	"COALESCE(CAST(t.pid AS TEXT),'')",
	"COALESCE(CAST(t.tid AS TEXT),'')",
	"COALESCE(i.path,'[unknown]')",
	"COALESCE(y.name,'[unknown]')",
};

const char *report_key__name(enum report_key k) { return (unsigned)k < KEY__COUNT ? key_names[k] : "?"; }

int report_source__parse(const char *s, enum report_source *ret)
{
	if (streq(s, "merged"))
		*ret = SOURCE_MERGED;
	else if (streq(s, "host"))
		*ret = SOURCE_HOST;
	else if (streq(s, "agent"))
		*ret = SOURCE_AGENT;
	else
		return -EINVAL;
	return 0;
}

char **strv_split(const char *text)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		if (!*p)
			continue;
		ARRAY_GROW(v, cap, n + 2);
		v[n++] = xstrdup(p);
	}
	ARRAY_GROW(v, cap, n + 1);
	v[n] = NULL;
	return v;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int report_query__parse_keys(struct report_query *q, const char *text, char **ret_error)
{
	char **v = strv_split(text);
	q->n_keys = 0;
	for (char **p = v; *p; p++) {
		int k = -1;
		for (int i = 0; i < KEY__COUNT; i++)
			if (streq(*p, key_names[i]))
				k = i;
		if (k < 0) {
			*ret_error = xasprintf("unknown sort key '%s' (known: domain, layer, comm, pid, tid, image, symbol)", *p);
			strv_free(v);
			return -EINVAL;
		}
		for (size_t i = 0; i < q->n_keys; i++)
			if ((int)q->keys[i] == k) {
				*ret_error = xasprintf("sort key '%s' given twice", *p);
				strv_free(v);
				return -EINVAL;
			}
		q->keys[q->n_keys++] = (enum report_key)k;
	}
	strv_free(v);
	if (!q->n_keys) {
		*ret_error = xstrdup("no sort keys given");
		return -EINVAL;
	}
	return 0;
}

double event_value(const struct report_event *e, uint64_t period)
{
	return streq(e->unit, "ns") ? (double)period / 1e6 : (double)period;
}

const char *event_value_unit(const struct report_event *e) { return streq(e->unit, "ns") ? "msec" : "count"; }

void report_events__free(struct report_event *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].unit);
	}
	free(e);
}

static bool in_list(char **list, const char *s)
{
	if (!list)
		return true;
	for (char **p = list; *p; p++)
		if (streq(*p, s))
			return true;
	return false;
}

int report__load_events(struct session *s, char **filter, struct report_event **ret, size_t *ret_n, char **ret_error)
{
	sqlite3_stmt *st;
	struct report_event *ev = NULL;
	size_t n = 0, cap = 0;
	if (sqlite3_prepare_v2(session__db(s), "SELECT id, name, unit, samples, period, lost FROM events ORDER BY id", -1,
			       &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read the events of %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *unit = (const char *)sqlite3_column_text(st, 2);
		if (!name || !unit || !in_list(filter, name))
			continue;
		ARRAY_GROW(ev, cap, n + 1);
		ev[n].id = (uint32_t)sqlite3_column_int64(st, 0);
		ev[n].name = xstrdup(name);
		ev[n].unit = xstrdup(unit);
		ev[n].samples = (uint64_t)sqlite3_column_int64(st, 3);
		ev[n].period = (uint64_t)sqlite3_column_int64(st, 4);
		ev[n].lost = (uint64_t)sqlite3_column_int64(st, 5);
		n++;
	}
	sqlite3_finalize(st);
	if (filter)
		for (char **p = filter; *p; p++) {
			bool found = false;
			for (size_t i = 0; i < n; i++)
				found |= streq(ev[i].name, *p);
			if (!found) {
				*ret_error = xasprintf("event '%s' is not in %s", *p, session__path(s));
				report_events__free(ev, n);
				return -ENOENT;
			}
		}
	if (!n) {
		*ret_error = xasprintf("%s holds no events", session__path(s));
		free(ev);
		return -ENOENT;
	}
	*ret = ev;
	*ret_n = n;
	return 0;
}

/* ---- the FROM/WHERE part shared by every query ---- */

struct query_text {
	struct strbuf sql;
	char *binds[64];
	size_t n_binds;
};

static void add_in_filter(struct query_text *q, const char *column, char **list)
{
	if (!list)
		return;
	strbuf_addf(&q->sql, " AND %s IN (", column);
	for (size_t i = 0; list[i]; i++) {
		strbuf_adds(&q->sql, i ? ",?" : "?");
		if (q->n_binds < ARRAY_SIZE(q->binds))
			q->binds[q->n_binds++] = list[i];
	}
	strbuf_adds(&q->sql, ")");
}

static int prepare_view(struct session *s, enum report_source source)
{
	sqlite3 *db = session__db(s);
	const char *sql;
	if (source != SOURCE_MERGED)
		return 0;
	/* Per VM and event: host guest-layer period over agent period. */
	sql = "CREATE TEMP TABLE IF NOT EXISTS view_scale(domain_id INTEGER, event_id INTEGER, factor REAL,"
	      " PRIMARY KEY(domain_id, event_id));"
	      "DELETE FROM view_scale;"
	      "INSERT INTO view_scale SELECT a.domain_id, a.event_id,"
	      " CASE WHEN COALESCE(h.p,0) > 0 THEN CAST(h.p AS REAL) / a.p ELSE 1.0 END"
	      " FROM (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='agent'"
	      "       GROUP BY domain_id, event_id HAVING SUM(period) > 0) a"
	      " LEFT JOIN (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='host' AND layer IN " LAYER_GUEST_SQL_SET
	      "       GROUP BY domain_id, event_id) h ON h.domain_id=a.domain_id AND h.event_id=a.event_id;";
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static const char *period_expr(enum report_source source)
{
	if (source == SOURCE_MERGED)
		return "CAST(ROUND(CASE WHEN s.origin='agent' THEN s.period * COALESCE(vs.factor,1.0) ELSE s.period END) AS INTEGER)";
	return "s.period";
}

static void add_from_where(struct query_text *q, const struct report_query *rq)
{
	strbuf_adds(&q->sql, " FROM samples s JOIN domains d ON d.id=s.domain_id"
			     " LEFT JOIN threads t ON t.id=s.thread_id"
			     " LEFT JOIN images i ON i.id=s.image_id"
			     " LEFT JOIN symbols y ON y.id=s.symbol_id");
	if (rq->source == SOURCE_MERGED)
		strbuf_adds(&q->sql, " LEFT JOIN view_scale vs ON vs.domain_id=s.domain_id AND vs.event_id=s.event_id");
	strbuf_adds(&q->sql, " WHERE 1");
	if (rq->source == SOURCE_HOST)
		strbuf_adds(&q->sql, " AND s.origin='host'");
	else
		/* Guest layers of VMs with an agent come from the agent. */
		strbuf_adds(&q->sql, " AND (s.origin='agent' OR s.layer NOT IN " LAYER_GUEST_SQL_SET
				     " OR s.domain_id NOT IN (SELECT DISTINCT domain_id FROM samples WHERE origin='agent'))");
	if (rq->no_idle)
		strbuf_adds(&q->sql, " AND s.layer<>'idle'");
	add_in_filter(q, "d.name", rq->domains);
	add_in_filter(q, "s.layer", rq->layers);
	add_in_filter(q, "t.comm", rq->comms);
}

/* SQL: the part of a group's period in the idle domain. */
static void add_idle_sum(struct strbuf *sql, enum report_source source)
{
	strbuf_addf(sql, "SUM(CASE WHEN s.layer='idle' THEN %s ELSE 0 END)", period_expr(source));
}

static int prepare_query(struct session *s, struct query_text *q, sqlite3_stmt **st, char **ret_error)
{
	if (sqlite3_prepare_v2(session__db(s), q->sql.buf, -1, st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot query %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	for (size_t i = 0; i < q->n_binds; i++)
		sqlite3_bind_text(*st, (int)i + 1, q->binds[i], -1, SQLITE_STATIC);
	return 0;
}

static int event_index(const struct report_event *ev, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].id == id)
			return (int)i;
	return -1;
}

int report__prepare_samples(struct session *s, const struct report_query *rq, const char *columns,
			    const char *tail, sqlite3_stmt **ret, char **ret_error)
{
	struct query_text q = { 0 };
	int r;
	if (prepare_view(s, rq->source) < 0) {
		*ret_error = xasprintf("cannot prepare the merged view of %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	strbuf_init(&q.sql);
	strbuf_addf(&q.sql, "SELECT %s", columns);
	add_from_where(&q, rq);
	if (tail)
		strbuf_addf(&q.sql, " %s", tail);
	r = prepare_query(s, &q, ret, ret_error);
	strbuf_release(&q.sql);
	return r;
}

const char *report__period_sql(enum report_source source) { return period_expr(source); }

/* ---- row table ---- */

struct pivot {
	struct hmap index;
	struct report_table *t;
	size_t cap;
	/* per row: comm with the largest period so far */
	uint64_t *comm_period;
	size_t comm_cap;
};

static struct report_row *pivot_row(struct pivot *pv, const char **keys, size_t n_keys)
{
	struct report_table *t = pv->t;
	uint64_t h = 0;
	size_t pos;
	uint32_t idx;
	struct report_row *r;
	for (size_t k = 0; k < n_keys; k++)
		h = hash_mix(h, hash_str(keys[k]));
	pos = hmap_first(&pv->index, h);
	while (hmap_candidate(&pv->index, pos, h, &idx)) {
		if (idx != UINT32_MAX) {
			bool eq = true;
			for (size_t k = 0; k < n_keys && eq; k++)
				eq = streq(t->rows[idx].keys[k], keys[k]);
			if (eq)
				return &t->rows[idx];
		}
		pos = hmap_next(&pv->index, pos);
	}
	ARRAY_GROW(t->rows, pv->cap, t->n_rows + 1);
	idx = (uint32_t)t->n_rows++;
	r = &t->rows[idx];
	memset(r, 0, sizeof(*r));
	for (size_t k = 0; k < n_keys; k++)
		r->keys[k] = xstrdup(keys[k]);
	r->samples = xcalloc(t->n_events, sizeof(uint64_t));
	r->period = xcalloc(t->n_events, sizeof(uint64_t));
	r->idle_period = xcalloc(t->n_events, sizeof(uint64_t));
	r->min_address = UINT64_MAX;
	ARRAY_GROW(pv->comm_period, pv->comm_cap, t->n_rows);
	hmap_insert_at(&pv->index, pos, h, idx);
	return r;
}

static const struct report_table *sort_table;

static int row_cmp(const void *a, const void *b)
{
	const struct report_row *x = a, *y = b;
	if (x->inclusive)
		for (size_t e = 0; e < sort_table->n_events; e++)
			if (x->inclusive[e] != y->inclusive[e])
				return x->inclusive[e] > y->inclusive[e] ? -1 : 1;
	for (size_t e = 0; e < sort_table->n_events; e++)
		if (x->period[e] != y->period[e])
			return x->period[e] > y->period[e] ? -1 : 1;
	for (size_t e = 0; e < sort_table->n_events; e++)
		if (x->samples[e] != y->samples[e])
			return x->samples[e] > y->samples[e] ? -1 : 1;
	for (size_t k = 0; k < sort_table->query.n_keys; k++) {
		int c = strcmp(x->keys[k], y->keys[k]);
		if (c)
			return c;
	}
	return 0;
}

static void row_release(struct report_row *r)
{
	for (int k = 0; k < KEY__COUNT; k++)
		free(r->keys[k]);
	free(r->samples);
	free(r->period);
	free(r->idle_period);
	free(r->inclusive);
	free(r->comm);
}

/* Sort by period (inclusive first with --children), then cut. */
static void finish_table(struct report_table *t, const struct report_query *rq)
{
	sort_table = t;
	if (t->n_rows > 1)
		qsort(t->rows, t->n_rows, sizeof(*t->rows), row_cmp);
	t->n_rows_before_cut = t->n_rows;
	if (rq->threshold > 0) {
		size_t w = 0;
		for (size_t i = 0; i < t->n_rows; i++) {
			bool keep = false;
			for (size_t e = 0; e < t->n_events; e++)
				if (t->total_period[e] &&
				    100.0 * (double)(t->rows[i].inclusive ? t->rows[i].inclusive[e] : t->rows[i].period[e]) / (double)t->total_period[e] >=
					    rq->threshold)
					keep = true;
			if (keep)
				t->rows[w++] = t->rows[i];
			else
				row_release(&t->rows[i]);
		}
		t->n_rows = w;
	}
	if (rq->limit && t->n_rows > rq->limit) {
		for (size_t i = rq->limit; i < t->n_rows; i++)
			row_release(&t->rows[i]);
		t->n_rows = rq->limit;
	}
}


static int query_callgraph(struct session *s, const struct report_query *rq, struct report_table *t, char **ret_error);

static int table_query(struct session *s, const struct report_query *rq, struct report_table *t, char **ret_error)
{
	struct query_text q = { 0 };
	struct pivot pv = { 0 };
	sqlite3_stmt *st = NULL;
	bool comm_is_key = false;
	int r, rc;

	memset(t, 0, sizeof(*t));
	t->query = *rq;
	r = report__load_events(s, rq->events, &t->events, &t->n_events, ret_error);
	if (r < 0)
		return r;
	t->total_samples = xcalloc(t->n_events, sizeof(uint64_t));
	t->total_period = xcalloc(t->n_events, sizeof(uint64_t));
	t->busy_period = xcalloc(t->n_events, sizeof(uint64_t));
	if (prepare_view(s, rq->source) < 0) {
		*ret_error = xasprintf("cannot prepare the merged view of %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	for (size_t k = 0; k < rq->n_keys; k++)
		comm_is_key |= rq->keys[k] == KEY_COMM;
	{
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(session__db(s), "SELECT 1 FROM frames LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
			t->has_stacks = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
	}
	if (rq->children || rq->callers || rq->callees)
		return query_callgraph(s, rq, t, ret_error);

	strbuf_init(&q.sql);
	strbuf_adds(&q.sql, "SELECT ");
	for (size_t k = 0; k < rq->n_keys; k++)
		strbuf_addf(&q.sql, "%s, ", key_sql[rq->keys[k]]);
	strbuf_addf(&q.sql,
		    "COALESCE(t.comm,''), s.event_id, SUM(s.count), SUM(%s), MIN(s.address), MAX(s.address),"
		    " MAX(s.symbol_id IS NULL), ",
		    period_expr(rq->source));
	add_idle_sum(&q.sql, rq->source);
	add_from_where(&q, rq);
	strbuf_adds(&q.sql, " GROUP BY ");
	for (size_t k = 0; k < rq->n_keys; k++)
		strbuf_addf(&q.sql, "%s, ", key_sql[rq->keys[k]]);
	strbuf_adds(&q.sql, "COALESCE(t.comm,''), s.event_id");
	r = prepare_query(s, &q, &st, ret_error);
	strbuf_release(&q.sql);
	if (r < 0)
		return r;

	hmap_init(&pv.index);
	pv.t = t;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *keys[KEY__COUNT];
		struct report_row *row;
		size_t nk = rq->n_keys;
		const char *comm = (const char *)sqlite3_column_text(st, (int)nk);
		int e = event_index(t->events, t->n_events, (uint32_t)sqlite3_column_int64(st, (int)nk + 1));
		uint64_t count = (uint64_t)sqlite3_column_int64(st, (int)nk + 2);
		uint64_t period = (uint64_t)sqlite3_column_int64(st, (int)nk + 3);
		uint64_t amin = (uint64_t)sqlite3_column_int64(st, (int)nk + 4);
		uint64_t amax = (uint64_t)sqlite3_column_int64(st, (int)nk + 5);
		uint64_t idle = (uint64_t)sqlite3_column_int64(st, (int)nk + 7);
		size_t ri;
		if (e < 0)
			continue;
		for (size_t k = 0; k < nk; k++) {
			keys[k] = (const char *)sqlite3_column_text(st, (int)k);
			if (!keys[k])
				keys[k] = "";
		}
		row = pivot_row(&pv, keys, nk);
		ri = (size_t)(row - t->rows);
		row->samples[e] += count;
		row->period[e] += period;
		row->idle_period[e] += idle;
		t->total_samples[e] += count;
		t->total_period[e] += period;
		t->busy_period[e] += period - MIN(idle, period);
		if (sqlite3_column_int(st, (int)nk + 6)) {
			row->unknown_symbol = true;
			row->min_address = MIN(row->min_address, amin);
			row->max_address = MAX(row->max_address, amax);
		}
		if (!comm_is_key && comm) {
			/* The command contributing most of the first event. */
			if (e == 0) {
				row->n_comms++;
				if (!row->comm || period > pv.comm_period[ri]) {
					free(row->comm);
					row->comm = xstrdup(comm);
					pv.comm_period[ri] = period;
				}
			} else if (!row->comm) {
				row->comm = xstrdup(comm);
			}
		}
	}
	sqlite3_finalize(st);
	hmap_release(&pv.index);
	free(pv.comm_period);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		return -EIO;
	}

	finish_table(t, rq);
	return 0;
}

/* ---- call graphs ---- */

struct cg_frame {
	uint32_t parent, image, symbol;
};

struct cg_catalog {
	char **images;  /* by id; [0] unused */
	size_t n_images;
	char **symbols;
	size_t n_symbols;
	struct cg_frame *frames;
	size_t n_frames;
};

static void cg_catalog__release(struct cg_catalog *c)
{
	for (size_t i = 0; i < c->n_images; i++)
		free(c->images[i]);
	for (size_t i = 0; i < c->n_symbols; i++)
		free(c->symbols[i]);
	free(c->images);
	free(c->symbols);
	free(c->frames);
}

/* Load id -> text for a two-column table into a dense array. */
static int load_names(struct session *s, const char *sql, char ***ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	char **v = NULL;
	size_t cap = 0, n = 0;
	if (sqlite3_prepare_v2(session__db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (id <= 0 || id > (1 << 28))
			continue;
		ARRAY_GROW(v, cap, (size_t)id + 1);
		free(v[id]);
		v[id] = xstrdup(name ? name : "");
		n = MAX(n, (size_t)id + 1);
	}
	sqlite3_finalize(st);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Ids index arrays here, so they must be what the writer makes: dense from
 * 1. A session with ids far above its row count is damaged or hostile, and
 * would make the arrays huge. */
static bool ids_dense(struct session *s, const char *table)
{
	sqlite3_stmt *st;
	_cleanup_free_ char *sql = xasprintf("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM %s", table);
	bool ok = false;
	if (sqlite3_prepare_v2(session__db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = sqlite3_column_int64(st, 0) <= 4 * sqlite3_column_int64(st, 1) + 1024;
	sqlite3_finalize(st);
	return ok;
}

static int cg_catalog__load(struct session *s, struct cg_catalog *c)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	memset(c, 0, sizeof(*c));
	if (!ids_dense(s, "images") || !ids_dense(s, "symbols") || !ids_dense(s, "frames"))
		return -EBADMSG;
	if (load_names(s, "SELECT id, path FROM images", &c->images, &c->n_images) < 0 ||
	    load_names(s, "SELECT id, name FROM symbols", &c->symbols, &c->n_symbols) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(session__db(s), "SELECT id, parent_id, image_id, symbol_id FROM frames", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (id <= 0 || id > (1 << 28))
			continue;
		ARRAY_GROW(c->frames, cap, (size_t)id + 1);
		c->frames[id].parent = (uint32_t)sqlite3_column_int64(st, 1);
		c->frames[id].image = (uint32_t)sqlite3_column_int64(st, 2);
		c->frames[id].symbol = (uint32_t)sqlite3_column_int64(st, 3);
		c->n_frames = MAX(c->n_frames, (size_t)id + 1);
	}
	sqlite3_finalize(st);
	return 0;
}

static const char *cg_name(char **names, size_t n, uint32_t id, const char *none)
{
	return id && id < n && names[id] ? names[id] : none;
}

struct cg_entry {
	const char *image, *symbol;
};

/* The function-level chain of a sample, innermost first. */
static size_t cg_chain(const struct cg_catalog *c, uint32_t stack, uint32_t image, uint32_t symbol,
		       struct cg_entry *out, size_t max)
{
	size_t n = 0;
	if (!stack) {
		out[n].image = cg_name(c->images, c->n_images, image, "[unknown]");
		out[n].symbol = cg_name(c->symbols, c->n_symbols, symbol, "[unknown]");
		return 1;
	}
	/* Bounded walk: a corrupt session cannot loop us forever. */
	for (uint32_t f = stack; f && f < c->n_frames && n < max; f = c->frames[f].parent) {
		out[n].image = cg_name(c->images, c->n_images, c->frames[f].image, "[unknown]");
		out[n].symbol = cg_name(c->symbols, c->n_symbols, c->frames[f].symbol, "[unknown]");
		n++;
	}
	return n;
}

static int query_callgraph(struct session *s, const struct report_query *rq, struct report_table *t, char **ret_error)
{
	static const enum report_key sample_keys[] = { KEY_DOMAIN, KEY_LAYER, KEY_COMM, KEY_PID, KEY_TID };
	const char *target = rq->callers ? rq->callers : rq->callees;
	struct cg_catalog cat;
	struct query_text q = { 0 };
	struct pivot pv = { 0 };
	sqlite3_stmt *st = NULL;
	struct cg_entry *chain = xmalloc(1024 * sizeof(*chain));
	int r, rc;
	bool found_target = false;

	if (!t->has_stacks) {
		*ret_error = xasprintf("%s has no call stacks: record with -g for --children, --callers and --callees",
				       session__path(s));
		free(chain);
		return -ENODATA;
	}
	if (cg_catalog__load(s, &cat) < 0) {
		cg_catalog__release(&cat);
		*ret_error = xasprintf("cannot read the call stacks of %s: %s", session__path(s), session__error(s));
		free(chain);
		return -EIO;
	}
	strbuf_init(&q.sql);
	strbuf_adds(&q.sql, "SELECT ");
	for (size_t k = 0; k < ARRAY_SIZE(sample_keys); k++)
		strbuf_addf(&q.sql, "%s, ", key_sql[sample_keys[k]]);
	strbuf_addf(&q.sql, "s.image_id, s.symbol_id, s.stack_id, s.event_id, SUM(s.count), SUM(%s), ",
		    period_expr(rq->source));
	add_idle_sum(&q.sql, rq->source);
	add_from_where(&q, rq);
	strbuf_adds(&q.sql, " GROUP BY ");
	for (size_t k = 0; k < ARRAY_SIZE(sample_keys); k++)
		strbuf_addf(&q.sql, "%s, ", key_sql[sample_keys[k]]);
	strbuf_adds(&q.sql, "s.image_id, s.symbol_id, s.stack_id, s.event_id");
	r = prepare_query(s, &q, &st, ret_error);
	strbuf_release(&q.sql);
	if (r < 0) {
		cg_catalog__release(&cat);
		free(chain);
		return r;
	}
	hmap_init(&pv.index);
	pv.t = t;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *skeys[5];
		int e = event_index(t->events, t->n_events, (uint32_t)sqlite3_column_int64(st, 8));
		uint64_t count = (uint64_t)sqlite3_column_int64(st, 9);
		uint64_t period = (uint64_t)sqlite3_column_int64(st, 10);
		uint64_t idle = MIN((uint64_t)sqlite3_column_int64(st, 11), period);
		size_t n;
		if (e < 0)
			continue;
		for (size_t k = 0; k < 5; k++) {
			skeys[k] = (const char *)sqlite3_column_text(st, (int)k);
			if (!skeys[k])
				skeys[k] = "";
		}
		n = cg_chain(&cat, (uint32_t)sqlite3_column_int64(st, 7), (uint32_t)sqlite3_column_int64(st, 5),
			     (uint32_t)sqlite3_column_int64(st, 6), chain, 1024);
		if (!n)
			continue;
		/* Each row key: the sample's own keys, and image/symbol of the
		 * function the row is about. */
		if (rq->children) {
			t->total_samples[e] += count;
			t->total_period[e] += period;
			t->busy_period[e] += period - idle;
			for (size_t i = 0; i < n; i++) {
				const char *keys[KEY__COUNT];
				struct report_row *row;
				bool seen = false;
				for (size_t j = 0; j < i && !seen; j++)
					seen = streq(chain[j].symbol, chain[i].symbol) && streq(chain[j].image, chain[i].image);
				if (seen) /* recursion: count a sample once per function */
					continue;
				for (size_t k = 0; k < rq->n_keys; k++) {
					enum report_key key = rq->keys[k];
					keys[k] = key == KEY_IMAGE ? chain[i].image : key == KEY_SYMBOL ? chain[i].symbol : skeys[key];
				}
				row = pivot_row(&pv, keys, rq->n_keys);
				if (!row->comm)
					row->comm = xstrdup(skeys[KEY_COMM]);
				if (!row->inclusive)
					row->inclusive = xcalloc(t->n_events, sizeof(uint64_t));
				row->inclusive[e] += period;
				if (i == 0) {
					row->samples[e] += count;
					row->period[e] += period;
					row->idle_period[e] += idle;
				}
			}
			continue;
		}
		/* --callers / --callees: where the target sits in this chain. */
		{
			size_t at = n;
			const char *keys[KEY__COUNT];
			struct cg_entry rel;
			struct report_row *row;
			if (rq->callers) {
				for (size_t i = 0; i < n && at == n; i++)
					if (streq(chain[i].symbol, target))
						at = i;
			} else {
				for (size_t i = n; i-- > 0 && at == n;)
					if (streq(chain[i].symbol, target))
						at = i;
			}
			if (at == n)
				continue;
			found_target = true;
			if (rq->callers)
				rel = at + 1 < n ? chain[at + 1] : (struct cg_entry){ "", "(no caller: stack root)" };
			else
				rel = at > 0 ? chain[at - 1] : (struct cg_entry){ chain[at].image, "(self)" };
			for (size_t k = 0; k < rq->n_keys; k++) {
				enum report_key key = rq->keys[k];
				keys[k] = key == KEY_IMAGE ? rel.image : key == KEY_SYMBOL ? rel.symbol : skeys[key];
			}
			row = pivot_row(&pv, keys, rq->n_keys);
			if (!row->comm)
				row->comm = xstrdup(skeys[KEY_COMM]);
			row->samples[e] += count;
			row->period[e] += period;
			row->idle_period[e] += idle;
			t->total_samples[e] += count;
			t->total_period[e] += period;
			t->busy_period[e] += period - idle;
		}
	}
	sqlite3_finalize(st);
	hmap_release(&pv.index);
	free(pv.comm_period);
	cg_catalog__release(&cat);
	free(chain);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	if (target && !found_target) {
		*ret_error = xasprintf("no call stack of %s contains a function named '%s'", session__path(s), target);
		return -ENOENT;
	}
	/* Keep the inclusive array on every row for a uniform output. */
	if (rq->children)
		for (size_t i = 0; i < t->n_rows; i++)
			if (!t->rows[i].inclusive)
				t->rows[i].inclusive = xcalloc(t->n_events, sizeof(uint64_t));
	finish_table(t, rq);
	return 0;
}

void report_table__release(struct report_table *t)
{
	for (size_t i = 0; i < t->n_rows; i++)
		row_release(&t->rows[i]);
	free(t->rows);
	report_events__free(t->events, t->n_events);
	free(t->total_samples);
	free(t->total_period);
	free(t->busy_period);
	memset(t, 0, sizeof(*t));
}

/* ---- layer table ---- */

static char *col_text(sqlite3_stmt *st, int c)
{
	const unsigned char *v = sqlite3_column_text(st, c);
	return v ? xstrdup((const char *)v) : NULL;
}

/* Whether a sample is in KVM's halt path: its function, or (with a call
 * stack) any function of its stack. */
static bool halt_sample(const struct cg_catalog *cat, struct cg_entry *chain, const char *leaf, uint32_t stack)
{
	size_t n;
	if (idle__is_halt_function(leaf))
		return true;
	if (!stack || !cat)
		return false;
	n = cg_chain(cat, stack, 0, 0, chain, 1024);
	for (size_t i = 0; i < n; i++)
		if (idle__is_halt_function(chain[i].symbol))
			return true;
	return false;
}

/* Each VM's vCPU-halt part of its hypervisor layer (report_domain_info). */
static int halt_query(struct session *s, const struct report_query *rq, struct report_layers *l, char **ret_error)
{
	struct cg_catalog cat;
	bool have_cat = false;
	struct cg_entry *chain = NULL;
	sqlite3_stmt *st;
	int r, rc;

	_cleanup_free_ char *columns =
		xasprintf("d.name, s.event_id, y.name, s.stack_id, SUM(s.count), SUM(%s)", period_expr(rq->source));

	r = report__prepare_samples(s, rq, columns,
				    "AND s.layer='hypervisor' AND d.kind='vm' GROUP BY d.name, s.event_id, s.symbol_id, s.stack_id",
				    &st, ret_error);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int e = event_index(l->events, l->n_events, (uint32_t)sqlite3_column_int64(st, 1));
		uint32_t stack = (uint32_t)sqlite3_column_int64(st, 3);
		if (e < 0 || !name)
			continue;
		if (stack && !have_cat && !chain) {
			/* Stacks are walked only when a hypervisor sample has one. */
			chain = xmalloc(1024 * sizeof(*chain));
			have_cat = cg_catalog__load(s, &cat) == 0;
			if (!have_cat)
				cg_catalog__release(&cat);
		}
		if (!halt_sample(have_cat ? &cat : NULL, chain, (const char *)sqlite3_column_text(st, 2), stack))
			continue;
		for (size_t i = 0; i < l->n_domains; i++)
			if (streq(l->domains[i].name, name)) {
				l->domains[i].halt_samples[e] += (uint64_t)sqlite3_column_int64(st, 4);
				l->domains[i].halt_period[e] += (uint64_t)sqlite3_column_int64(st, 5);
			}
	}
	sqlite3_finalize(st);
	if (have_cat)
		cg_catalog__release(&cat);
	free(chain);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	return 0;
}

static int layers_query(struct session *s, const struct report_query *rq, struct report_layers *l, char **ret_error)
{
	sqlite3_stmt *st;
	struct query_text q = { 0 };
	size_t cap = 0;
	int r, rc;

	memset(l, 0, sizeof(*l));
	r = report__load_events(s, rq->events, &l->events, &l->n_events, ret_error);
	if (r < 0)
		return r;
	l->total_period = xcalloc(l->n_events, sizeof(uint64_t));
	l->total_samples = xcalloc(l->n_events, sizeof(uint64_t));
	l->busy_period = xcalloc(l->n_events, sizeof(uint64_t));
	l->busy_samples = xcalloc(l->n_events, sizeof(uint64_t));
	l->no_idle = rq->no_idle;
	if (sqlite3_prepare_v2(session__db(s),
			       "SELECT id, name, kind, pid, vmm, accel, uuid, source, complete, clock_offset_ns, "
			       "start_skew_ns, note FROM domains ORDER BY kind='idle', id", /* idle last: what is left */
			       -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read the domains of %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct report_domain_info *d;
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *kind_name = (const char *)sqlite3_column_text(st, 2);
		int kind = kind_name ? domain_kind__from_name(kind_name) : -1;
		bool is_idle = kind == DOMAIN_IDLE;
		if (!name || !in_list(rq->domains, name) || (is_idle && rq->no_idle))
			continue;
		ARRAY_GROW(l->domains, cap, l->n_domains + 1);
		d = &l->domains[l->n_domains++];
		memset(d, 0, sizeof(*d));
		d->name = xstrdup(name);
		d->is_vm = kind == DOMAIN_VM;
		d->is_idle = is_idle;
		d->pid = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
		d->vmm = col_text(st, 4);
		d->accel = col_text(st, 5);
		d->uuid = col_text(st, 6);
		d->source = col_text(st, 7);
		d->complete = sqlite3_column_int(st, 8);
		d->clock_offset_ns = sqlite3_column_int64(st, 9);
		d->start_skew_ns = sqlite3_column_int64(st, 10);
		d->note = col_text(st, 11);
		d->samples = xcalloc(l->n_events, sizeof(uint64_t));
		d->period = xcalloc(l->n_events, sizeof(uint64_t));
		d->halt_period = xcalloc(l->n_events, sizeof(uint64_t));
		d->halt_samples = xcalloc(l->n_events, sizeof(uint64_t));
		for (int k = 0; k < LAYER__COUNT; k++) {
			d->layer_period[k] = xcalloc(l->n_events, sizeof(uint64_t));
			d->layer_samples[k] = xcalloc(l->n_events, sizeof(uint64_t));
		}
	}
	sqlite3_finalize(st);

	if (prepare_view(s, rq->source) < 0) {
		*ret_error = xasprintf("cannot prepare the merged view of %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	strbuf_init(&q.sql);
	strbuf_addf(&q.sql, "SELECT d.name, s.layer, s.event_id, SUM(s.count), SUM(%s)", period_expr(rq->source));
	add_from_where(&q, rq);
	strbuf_adds(&q.sql, " GROUP BY d.name, s.layer, s.event_id");
	r = prepare_query(s, &q, &st, ret_error);
	strbuf_release(&q.sql);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *layer = (const char *)sqlite3_column_text(st, 1);
		int e = event_index(l->events, l->n_events, (uint32_t)sqlite3_column_int64(st, 2));
		int li = layer ? layer__from_name(layer) : -1;
		uint64_t count = (uint64_t)sqlite3_column_int64(st, 3);
		uint64_t period = (uint64_t)sqlite3_column_int64(st, 4);
		if (e < 0 || li < 0 || !name)
			continue;
		for (size_t i = 0; i < l->n_domains; i++) {
			struct report_domain_info *d = &l->domains[i];
			if (!streq(d->name, name))
				continue;
			d->layer_period[li][e] += period;
			d->layer_samples[li][e] += count;
			d->period[e] += period;
			d->samples[e] += count;
		}
		l->total_period[e] += period;
		l->total_samples[e] += count;
		if (li != LAYER_IDLE) {
			l->busy_period[e] += period;
			l->busy_samples[e] += count;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	return halt_query(s, rq, l, ret_error);
}

void report_layers__release(struct report_layers *l)
{
	for (size_t i = 0; i < l->n_domains; i++) {
		struct report_domain_info *d = &l->domains[i];
		free(d->name);
		free(d->vmm);
		free(d->accel);
		free(d->uuid);
		free(d->source);
		free(d->note);
		free(d->samples);
		free(d->period);
		free(d->halt_samples);
		free(d->halt_period);
		for (int k = 0; k < LAYER__COUNT; k++) {
			free(d->layer_period[k]);
			free(d->layer_samples[k]);
		}
	}
	free(l->domains);
	free(l->total_period);
	free(l->total_samples);
	free(l->busy_period);
	free(l->busy_samples);
	report_events__free(l->events, l->n_events);
	memset(l, 0, sizeof(*l));
}

double report_domain__overhead(const struct report_domain_info *d, size_t e)
{
	double value[LAYER__COUNT];
	for (int l = 0; l < LAYER__COUNT; l++)
		value[l] = (double)d->layer_period[l][e];
	return layer__overhead(value);
}

double report__percent(uint64_t part, uint64_t total)
{
	return total ? 100.0 * (double)part / (double)total : 0.0;
}

double report__busy_percent(uint64_t period, uint64_t idle_part, uint64_t busy_period)
{
	if (period && idle_part >= period)
		return -1;
	return report__percent(period - MIN(idle_part, period), busy_period);
}

/* The public entry points leave nothing allocated when they fail. */
int report_table__query(struct session *s, const struct report_query *rq, struct report_table *t, char **ret_error)
{
	int r = table_query(s, rq, t, ret_error);
	if (r < 0)
		report_table__release(t);
	return r;
}

int report_layers__query(struct session *s, const struct report_query *rq, struct report_layers *l, char **ret_error)
{
	int r = layers_query(s, rq, l, ret_error);
	if (r < 0)
		report_layers__release(l);
	return r;
}

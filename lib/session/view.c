/* The views of a session's samples; see view.h.
 *
 * The merged view's scale factors live in a temporary table, view_scale,
 * computed once per query (a session open read-only writes nothing to its
 * file: temporary tables are the connection's own). A row's period in the
 * merged view is rounded row by row before it is summed, so every reader
 * that groups the same rows differently still gets the same totals. */
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

struct view_rows {
	struct session *s;
	sqlite3_stmt *st;
	size_t n_columns;
	bool timeline;
};

/* Per VM and event: the host's guest-layer period over the agent's. */
static int view_scale__prepare(struct session *s, enum view_source source)
{
	if (source != SOURCE_MERGED)
		return 0;
	return session_exec(s,
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

int view_rows__open(struct session *s, const struct view_filter *f, const enum view_column *columns, size_t n,
		    bool grouped, struct view_rows **ret, char **ret_error)
{
	struct strbuf sql;
	sqlite3_stmt *st;
	int r, at = 1;

	if ((r = scale_prepare(s, f->source, ret_error)) < 0)
		return r;
	strbuf_init(&sql);
	strbuf_adds(&sql, "SELECT ");
	for (size_t k = 0; k < n; k++)
		strbuf_addf(&sql, "%s, ", column_sql[columns[k]]);
	add_sums(&sql, f->source, grouped);
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
	if (grouped && n) {
		strbuf_adds(&sql, " GROUP BY ");
		for (size_t k = 0; k < n; k++)
			strbuf_addf(&sql, "%s%s", k ? ", " : "", column_sql[columns[k]]);
	}
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
	int rc = sqlite3_step(r->st), c = (int)r->n_columns;
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

int64_t view_rows__int(struct view_rows *r, size_t i) { return sqlite3_column_int64(r->st, (int)i); }

const char *view_rows__text(struct view_rows *r, size_t i)
{
	const unsigned char *v = sqlite3_column_text(r->st, (int)i);
	return v ? (const char *)v : "";
}

void view_rows__close(struct view_rows *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->st);
	free(r);
}

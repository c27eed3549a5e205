/* The HTML report: computes the page's data from a session and writes the
 * page (see html.h; the data layout is in docs/html.md).
 *
 * Four models go into the data. The domain/layer table and the top rows
 * come from report.c (report_layers__query, report_table__query), so the
 * page shows the same numbers as `domprof report`. The flame graph trees
 * and the timeline are computed here, with the same view of active VMs'
 * guest layers as report.c uses (merged, host or agent; docs/agent.md).
 *
 * Each domain's tree is domain -> layer -> command -> call stack, outermost
 * caller first, as perf script | stackcollapse-perf.pl | flamegraph.pl
 * would draw it (an unresolved frame is named after its image, "[libc.so.6]",
 * as stackcollapse-perf does, and a run of them is one frame); a sample
 * without a stack (recorded without -g) is a one-frame stack. Node values are inclusive (the node and
 * everything it called), per event, in period units; the page derives
 * self values. Small frames are merged into their caller so that the file
 * stays small and the SVG fast for any session size. */
#define _GNU_SOURCE
#include "html.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "../session/session.h"
#include "../util/hmap.h"
#include "../vocab/vocab.h"

/* Generated at build time from lib/report/html/ (embed.py): the bytes of
 * each asset, NUL-terminated, and the base64 SHA-256 that the page's
 * Content-Security-Policy allows it by. */
extern const unsigned char html_asset_report_css[];
extern const size_t html_asset_report_css_size;
extern const char html_asset_report_css_sha256[];
extern const unsigned char html_asset_report_js[];
extern const size_t html_asset_report_js_size;
extern const char html_asset_report_js_sha256[];

#ifndef DOMPROF_VERSION
#define DOMPROF_VERSION "dev"
#endif

#define DEFAULT_BUCKET_NS 100000000ULL
#define MAX_STACK_DEPTH 1024

void html_options__init(struct html_options *o)
{
	memset(o, 0, sizeof(*o));
	o->source = SOURCE_MERGED;
	o->min_frame_percent = 0.05;
	o->max_frames = 20000;
	o->max_rows = 200;
	o->max_points = 1000;
}

static const char *source_name(enum report_source s)
{
	switch (s) {
	case SOURCE_HOST: return "host";
	case SOURCE_AGENT: return "agent";
	default: return "merged";
	}
}

/* ---- small tables read from the session ---- */

/* Rows of a catalog table sorted by id: looked up by binary search, so
 * sparse or huge ids in a foreign session cost nothing. */
struct id_table {
	int64_t *ids;
	char **names;     /* images: path; symbols: name */
	int64_t *a, *b;   /* frames: parent, image */
	int64_t *c, *d;   /* frames: symbol, address */
	size_t n, cap;
};

static void id_table__release(struct id_table *t)
{
	for (size_t i = 0; t->names && i < t->n; i++)
		free(t->names[i]);
	free(t->ids);
	free(t->names);
	free(t->a);
	free(t->b);
	free(t->c);
	free(t->d);
	memset(t, 0, sizeof(*t));
}

static ssize_t id_table__find(const struct id_table *t, int64_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ids[mid] == id)
			return (ssize_t)mid;
		if (t->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int64_t col_id(sqlite3_stmt *st, int c) { return sqlite3_column_type(st, c) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, c); }

/* "SELECT id, name FROM ..." (names) or frames' five columns. */
static int id_table__load(struct session *s, const char *sql, bool frames, struct id_table *t, char **ret_error)
{
	sqlite3_stmt *st;
	size_t cap_names = 0, cap_a = 0, cap_b = 0, cap_c = 0, cap_d = 0;
	int rc;
	memset(t, 0, sizeof(*t));
	if (sqlite3_prepare_v2(session__db(s), sql, -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ARRAY_GROW(t->ids, t->cap, t->n + 1);
		t->ids[t->n] = sqlite3_column_int64(st, 0);
		if (frames) {
			ARRAY_GROW(t->a, cap_a, t->n + 1);
			ARRAY_GROW(t->b, cap_b, t->n + 1);
			ARRAY_GROW(t->c, cap_c, t->n + 1);
			ARRAY_GROW(t->d, cap_d, t->n + 1);
			t->a[t->n] = col_id(st, 1);
			t->b[t->n] = col_id(st, 2);
			t->c[t->n] = col_id(st, 3);
			t->d[t->n] = sqlite3_column_int64(st, 4);
		} else {
			const char *name = (const char *)sqlite3_column_text(st, 1);
			ARRAY_GROW(t->names, cap_names, t->n + 1);
			t->names[t->n] = xstrdup(name ? name : "");
		}
		t->n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read %s: %s", session__path(s), session__error(s));
		id_table__release(t);
		return -EIO;
	}
	return 0;
}

/* ---- interned strings (flame graph names and images) ---- */

struct strtab {
	char **items;
	size_t n, cap;
	struct hmap index;
};

static uint32_t strtab__intern(struct strtab *t, const char *s)
{
	uint64_t h = hash_str(s);
	size_t pos = hmap_first(&t->index, h);
	uint32_t idx;
	while (hmap_candidate(&t->index, pos, h, &idx)) {
		if (idx != UINT32_MAX && streq(t->items[idx], s))
			return idx;
		pos = hmap_next(&t->index, pos);
	}
	ARRAY_GROW(t->items, t->cap, t->n + 1);
	t->items[t->n] = xstrdup(s);
	hmap_insert_at(&t->index, pos, h, (uint32_t)t->n);
	return (uint32_t)t->n++;
}

static void strtab__release(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i]);
	free(t->items);
	hmap_release(&t->index);
}

/* ---- flame graph trees ---- */

#define NO_NODE UINT32_MAX
#define NO_STRING UINT32_MAX

struct flame_node {
	uint32_t parent, first_child, next_sibling;
	uint32_t name, image; /* strtab indexes; image NO_STRING when none */
	uint32_t depth;
	bool kept;
};

/* All domains' trees in one node array; node values are n_events periods
 * then n_events sample counts. */
struct flame {
	struct flame_node *nodes;
	size_t n, cap;
	uint64_t *values;
	size_t values_cap;
	size_t n_events;
	struct hmap index;
};

static uint64_t *flame__period(struct flame *f, uint32_t node) { return &f->values[(size_t)node * 2 * f->n_events]; }
static uint64_t *flame__samples(struct flame *f, uint32_t node)
{
	return &f->values[(size_t)node * 2 * f->n_events + f->n_events];
}

static uint32_t flame__add(struct flame *f, uint32_t parent, uint32_t name, uint32_t image)
{
	struct flame_node *n;
	uint32_t id;
	ARRAY_GROW(f->nodes, f->cap, f->n + 1);
	id = (uint32_t)f->n++;
	n = &f->nodes[id];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->first_child = n->next_sibling = NO_NODE;
	n->name = name;
	n->image = image;
	if (parent != NO_NODE) {
		n->depth = f->nodes[parent].depth + 1;
		n->next_sibling = f->nodes[parent].first_child;
		f->nodes[parent].first_child = id;
	}
	grow_array((void **)&f->values, &f->values_cap, f->n * 2 * f->n_events, sizeof(uint64_t));
	memset(flame__period(f, id), 0, 2 * f->n_events * sizeof(uint64_t));
	return id;
}

static uint32_t flame__child(struct flame *f, uint32_t parent, uint32_t name, uint32_t image)
{
	uint64_t h = hash_mix(hash_mix(hash_u64(parent), name), image);
	size_t pos = hmap_first(&f->index, h);
	uint32_t idx;
	while (hmap_candidate(&f->index, pos, h, &idx)) {
		if (idx != UINT32_MAX && f->nodes[idx].parent == parent && f->nodes[idx].name == name &&
		    f->nodes[idx].image == image)
			return idx;
		pos = hmap_next(&f->index, pos);
	}
	idx = flame__add(f, parent, name, image);
	hmap_insert_at(&f->index, pos, h, idx);
	return idx;
}

static void flame__release(struct flame *f)
{
	free(f->nodes);
	free(f->values);
	hmap_release(&f->index);
}

/* ---- the build context ---- */

struct html_ctx {
	struct session *s;
	const struct html_options *o;
	struct report_layers layers;
	bool have_layers;
	int64_t *domain_ids; /* per report domain index, its id in the session */
	struct id_table images, symbols, frames;
	struct strtab strings;
	uint32_t *string_slot; /* per string: its index in the page's list, or NO_STRING */
	uint32_t *page_strings; /* the strings the kept nodes use, in page order */
	size_t n_page_strings;
	struct flame flame;
	uint32_t *roots; /* per domain: root node */
	double *thresholds; /* per domain: the frame threshold used */
	size_t *pruned;     /* per domain: nodes merged into callers */
	struct html_summary summary;
};

static int event_index(const struct report_layers *l, int64_t id)
{
	for (size_t i = 0; i < l->n_events; i++)
		if (l->events[i].id == id)
			return (int)i;
	return -1;
}

static int domain_index(const struct html_ctx *c, int64_t id)
{
	for (size_t i = 0; i < c->layers.n_domains; i++)
		if (c->domain_ids[i] == id)
			return (int)i;
	return -1;
}

static int load_domain_ids(struct html_ctx *c, char **ret_error)
{
	sqlite3_stmt *st;
	c->domain_ids = xcalloc(c->layers.n_domains + 1, sizeof(int64_t));
	if (sqlite3_prepare_v2(session__db(c->s), "SELECT id, name FROM domains ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read the domains of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		for (size_t i = 0; name && i < c->layers.n_domains; i++)
			if (streq(c->layers.domains[i].name, name))
				c->domain_ids[i] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return 0;
}

/* The view of active VMs (report.c): which rows of table alias `a` count,
 * and their period. Agent rows replace the host's guest layers of a VM
 * that has agent data; in the merged view they are scaled per VM and event
 * to the host's magnitude. */
static int view__prepare(struct session *s, enum report_source source)
{
	if (source != SOURCE_MERGED)
		return 0;
	return sqlite3_exec(session__db(s),
			    "CREATE TEMP TABLE IF NOT EXISTS html_scale(domain_id INTEGER, event_id INTEGER, factor REAL,"
			    " PRIMARY KEY(domain_id, event_id));"
			    "DELETE FROM html_scale;"
			    "INSERT INTO html_scale SELECT a.domain_id, a.event_id,"
			    " CASE WHEN COALESCE(h.p,0) > 0 THEN CAST(h.p AS REAL) / a.p ELSE 1.0 END"
			    " FROM (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='agent'"
			    "       GROUP BY domain_id, event_id HAVING SUM(period) > 0) a"
			    " LEFT JOIN (SELECT domain_id, event_id, SUM(period) p FROM samples WHERE origin='host'"
			    "       AND layer IN " LAYER_GUEST_SQL_SET " GROUP BY domain_id, event_id) h"
			    " ON h.domain_id=a.domain_id AND h.event_id=a.event_id;",
			    NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : -EIO;
}

static void view__join(struct strbuf *sql, const char *a, enum report_source source)
{
	if (source == SOURCE_MERGED)
		strbuf_addf(sql, " LEFT JOIN html_scale vs ON vs.domain_id=%s.domain_id AND vs.event_id=%s.event_id", a, a);
}

static void view__where(struct strbuf *sql, const char *a, enum report_source source)
{
	if (source == SOURCE_HOST)
		strbuf_addf(sql, " WHERE %s.origin='host'", a);
	else
		strbuf_addf(sql,
			    " WHERE (%s.origin='agent' OR %s.layer NOT IN " LAYER_GUEST_SQL_SET
			    " OR %s.domain_id NOT IN (SELECT DISTINCT domain_id FROM samples WHERE origin='agent'))",
			    a, a, a);
}

static void view__period(struct strbuf *sql, const char *a, enum report_source source)
{
	if (source == SOURCE_MERGED)
		strbuf_addf(sql,
			    "SUM(CAST(ROUND(CASE WHEN %s.origin='agent' THEN %s.period * COALESCE(vs.factor,1.0)"
			    " ELSE %s.period END) AS INTEGER))",
			    a, a, a);
	else
		strbuf_addf(sql, "SUM(%s.period)", a);
}

/* ---- building the trees ---- */

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* A frame's name and image, as strtab indexes; *ret_resolved tells
 * whether a symbol named it. */
static uint32_t frame_label(struct html_ctx *c, int64_t image_id, int64_t symbol_id, uint32_t *ret_image,
			    bool *ret_resolved)
{
	ssize_t sym = symbol_id ? id_table__find(&c->symbols, symbol_id) : -1;
	ssize_t img = image_id ? id_table__find(&c->images, image_id) : -1;
	const char *path = img >= 0 ? c->images.names[img] : NULL;
	*ret_image = path && *path ? strtab__intern(&c->strings, path) : NO_STRING;
	*ret_resolved = sym >= 0 && *c->symbols.names[sym];
	if (*ret_resolved)
		return strtab__intern(&c->strings, c->symbols.names[sym]);
	if (path && *path) {
		_cleanup_free_ char *name = NULL;
		const char *base = basename_of(path);
		if (base[0] == '[')
			return strtab__intern(&c->strings, base);
		name = xasprintf("[%s]", base);
		return strtab__intern(&c->strings, name);
	}
	return strtab__intern(&c->strings, "[unknown]");
}

static void add_value(struct html_ctx *c, uint32_t node, int e, uint64_t count, uint64_t period)
{
	flame__period(&c->flame, node)[e] += period;
	flame__samples(&c->flame, node)[e] += count;
}

static int build_trees(struct html_ctx *c, char **ret_error)
{
	struct strbuf sql;
	sqlite3_stmt *st;
	int64_t *chain = xmalloc(MAX_STACK_DEPTH * sizeof(int64_t));
	int rc;

	c->flame.n_events = c->layers.n_events;
	hmap_init(&c->flame.index);
	hmap_init(&c->strings.index);
	c->roots = xcalloc(c->layers.n_domains + 1, sizeof(uint32_t));
	for (size_t i = 0; i < c->layers.n_domains; i++)
		c->roots[i] = flame__add(&c->flame, NO_NODE, strtab__intern(&c->strings, c->layers.domains[i].name), NO_STRING);

	strbuf_init(&sql);
	strbuf_adds(&sql, "SELECT s.domain_id, s.layer, COALESCE(t.comm,''), s.event_id, s.stack_id, s.image_id, s.symbol_id,"
			  " SUM(s.count), ");
	view__period(&sql, "s", c->o->source);
	strbuf_adds(&sql, " FROM samples s LEFT JOIN threads t ON t.id=s.thread_id");
	view__join(&sql, "s", c->o->source);
	view__where(&sql, "s", c->o->source);
	strbuf_adds(&sql, " GROUP BY s.domain_id, s.layer, COALESCE(t.comm,''), s.event_id, s.stack_id, s.image_id,"
			  " s.symbol_id");
	rc = sqlite3_prepare_v2(session__db(c->s), sql.buf, -1, &st, NULL);
	strbuf_release(&sql);
	if (rc != SQLITE_OK) {
		free(chain);
		*ret_error = xasprintf("cannot read the samples of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int d = domain_index(c, sqlite3_column_int64(st, 0));
		const char *layer = (const char *)sqlite3_column_text(st, 1);
		const char *comm = (const char *)sqlite3_column_text(st, 2);
		int e = event_index(&c->layers, sqlite3_column_int64(st, 3));
		int64_t stack = col_id(st, 4);
		uint64_t count = (uint64_t)sqlite3_column_int64(st, 7);
		uint64_t period = (uint64_t)sqlite3_column_int64(st, 8);
		uint32_t node, image, name;
		size_t depth = 0;

		if (d < 0 || e < 0 || !layer)
			continue;
		node = c->roots[d];
		add_value(c, node, e, count, period);
		node = flame__child(&c->flame, node, strtab__intern(&c->strings, layer), NO_STRING);
		add_value(c, node, e, count, period);
		node = flame__child(&c->flame, node, strtab__intern(&c->strings, comm && *comm ? comm : "[unknown]"),
				    NO_STRING);
		add_value(c, node, e, count, period);

		/* Innermost first in the session; collect, then walk
		 * outermost first. A cycle or an absurd depth in a damaged
		 * file stops the walk rather than the report. */
		for (int64_t f = stack; f && depth < MAX_STACK_DEPTH; depth++) {
			ssize_t i = id_table__find(&c->frames, f);
			if (i < 0)
				break;
			chain[depth] = (int64_t)i;
			f = c->frames.a[i];
		}
		if (depth) {
			for (size_t k = depth; k-- > 0;) {
				ssize_t i = (ssize_t)chain[k];
				bool resolved;
				name = frame_label(c, c->frames.b[i], c->frames.c[i], &image, &resolved);
				/* Frame-pointer unwinding through code built
				 * without frame pointers yields runs of
				 * unresolved frames in one image (a hundred deep
				 * in an interpreter): one node says as much and
				 * keeps the graph readable. Recursion of named
				 * functions is kept. */
				if (!resolved && c->flame.nodes[node].name == name && c->flame.nodes[node].image == image &&
				    c->flame.nodes[node].depth > 2)
					continue;
				node = flame__child(&c->flame, node, name, image);
				add_value(c, node, e, count, period);
			}
		} else {
			bool resolved;
			name = frame_label(c, col_id(st, 5), col_id(st, 6), &image, &resolved);
			node = flame__child(&c->flame, node, name, image);
			add_value(c, node, e, count, period);
		}
	}
	sqlite3_finalize(st);
	free(chain);
	if (rc != SQLITE_DONE) {
		*ret_error = xasprintf("cannot read the samples of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	return 0;
}

/* Whether a node is at least pct percent of its domain's root in some event. */
static bool node_is_large(struct html_ctx *c, uint32_t node, uint32_t root, double pct)
{
	const uint64_t *v = flame__period(&c->flame, node), *total = flame__period(&c->flame, root);
	for (size_t e = 0; e < c->flame.n_events; e++)
		if (v[e] && (double)v[e] * 100.0 >= pct * (double)total[e])
			return true;
	return false;
}

/* Mark the nodes of one domain's tree that pass the threshold (a node's
 * value never exceeds its parent's, so a dropped node drops its subtree);
 * returns how many were kept. */
static size_t mark_kept(struct html_ctx *c, uint32_t root, double pct, size_t *ret_total)
{
	uint32_t *stack = NULL;
	size_t n = 0, cap = 0, kept = 0, total = 0;
	ARRAY_GROW(stack, cap, 1);
	stack[n++] = root;
	while (n) {
		uint32_t id = stack[--n];
		struct flame_node *node = &c->flame.nodes[id];
		total++;
		node->kept = id == root || node_is_large(c, id, root, pct);
		kept += node->kept;
		/* A dropped node's children are smaller still: they are
		 * visited only to be counted as pruned. */
		for (uint32_t ch = node->first_child; ch != NO_NODE; ch = c->flame.nodes[ch].next_sibling) {
			ARRAY_GROW(stack, cap, n + 1);
			stack[n++] = ch;
		}
	}
	free(stack);
	*ret_total = total;
	return kept;
}

static void prune_trees(struct html_ctx *c)
{
	c->thresholds = xcalloc(c->layers.n_domains + 1, sizeof(double));
	c->pruned = xcalloc(c->layers.n_domains + 1, sizeof(size_t));
	c->summary.min_frame_percent = c->o->min_frame_percent;
	for (size_t d = 0; d < c->layers.n_domains; d++) {
		double pct = c->o->min_frame_percent;
		size_t total, kept = mark_kept(c, c->roots[d], pct, &total);
		/* Stop doubling at 100 %: the root and its layers always fit. */
		while (c->o->max_frames && kept > c->o->max_frames && pct < 100.0) {
			pct = MIN(pct * 2, 100.0);
			kept = mark_kept(c, c->roots[d], pct, &total);
		}
		c->thresholds[d] = pct;
		c->pruned[d] = total - kept;
		c->summary.frames += kept;
		c->summary.frames_pruned += total - kept;
		c->summary.min_frame_percent = MAX(c->summary.min_frame_percent, pct);
	}
}

/* ---- JSON ---- */

static void json_u64_array(struct strbuf *sb, const uint64_t *v, size_t n)
{
	strbuf_addc(sb, '[');
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%" PRIu64, i ? "," : "", v[i]);
	strbuf_addc(sb, ']');
}

static void json_str_or_null(struct strbuf *sb, const char *v)
{
	if (v)
		strbuf_add_json(sb, v);
	else
		strbuf_adds(sb, "null");
}

/* A double that JSON can hold (no NaN or infinity). */
static void json_number(struct strbuf *sb, double v)
{
	if (!isfinite(v))
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.6g", v);
}

static int json_session(struct html_ctx *c, struct strbuf *sb, char **ret_error)
{
	sqlite3_stmt *st;
	bool first = true;
	if (sqlite3_prepare_v2(session__db(c->s), "SELECT key, value FROM meta ORDER BY key", -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read the metadata of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	strbuf_adds(sb, "\"session\":{");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (!k)
			continue;
		if (!first)
			strbuf_addc(sb, ',');
		first = false;
		strbuf_add_json(sb, k);
		strbuf_addc(sb, ':');
		strbuf_add_json(sb, v ? v : "");
	}
	sqlite3_finalize(st);
	strbuf_adds(sb, "},");
	return 0;
}

static void json_events(struct html_ctx *c, struct strbuf *sb)
{
	strbuf_adds(sb, "\"events\":[");
	for (size_t e = 0; e < c->layers.n_events; e++) {
		const struct report_event *ev = &c->layers.events[e];
		strbuf_adds(sb, e ? ",{\"name\":" : "{\"name\":");
		strbuf_add_json(sb, ev->name);
		strbuf_adds(sb, ",\"unit\":");
		strbuf_add_json(sb, ev->unit);
		strbuf_addf(sb,
			    ",\"samples\":%" PRIu64 ",\"period\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"shown_period\":%" PRIu64
			    ",\"busy_period\":%" PRIu64 "}",
			    ev->samples, ev->period, ev->lost, c->layers.total_period[e], c->layers.busy_period[e]);
	}
	strbuf_adds(sb, "],\"layers\":[");
	for (int k = 0; k < LAYER__COUNT; k++)
		strbuf_addf(sb, "%s\"%s\"", k ? "," : "", layer__name(layer__display_order[k]));
	strbuf_adds(sb, "],");
}

/* The page lists only the strings of kept nodes. */
static uint32_t page_string(struct html_ctx *c, uint32_t id)
{
	if (!c->string_slot) {
		c->string_slot = xmalloc((c->strings.n + 1) * sizeof(uint32_t));
		c->page_strings = xmalloc((c->strings.n + 1) * sizeof(uint32_t));
		for (size_t i = 0; i < c->strings.n; i++)
			c->string_slot[i] = NO_STRING;
	}
	if (c->string_slot[id] == NO_STRING) {
		c->string_slot[id] = (uint32_t)c->n_page_strings;
		c->page_strings[c->n_page_strings++] = id;
	}
	return c->string_slot[id];
}

static void json_flame(struct html_ctx *c, size_t d, struct strbuf *sb)
{
	/* Preorder, so a node's parent always comes before it; parents are
	 * given as indexes into this domain's list. */
	uint32_t *stack = NULL, *index = NULL;
	size_t n = 0, cap = 0, index_cap = 0, out = 0;
	size_t ne = c->layers.n_events;

	strbuf_addf(sb, ",\"flame\":{\"min_percent\":");
	json_number(sb, c->thresholds[d]);
	strbuf_addf(sb, ",\"pruned\":%zu,\"nodes\":[", c->pruned[d]);
	ARRAY_GROW(stack, cap, 1);
	stack[n++] = c->roots[d];
	while (n) {
		uint32_t id = stack[--n];
		struct flame_node *node = &c->flame.nodes[id];
		ARRAY_GROW(index, index_cap, id + 1);
		index[id] = (uint32_t)out;
		strbuf_addf(sb, "%s%" PRId64 ",%u,%" PRId64, out ? "," : "",
			    node->parent == NO_NODE ? (int64_t)-1 : (int64_t)index[node->parent], page_string(c, node->name),
			    node->image == NO_STRING ? (int64_t)-1 : (int64_t)page_string(c, node->image));
		for (size_t e = 0; e < 2 * ne; e++)
			strbuf_addf(sb, ",%" PRIu64, flame__period(&c->flame, id)[e]);
		out++;
		/* Push kept children; their order does not matter (the page
		 * sorts them), only that each follows its parent. */
		for (uint32_t ch = node->first_child; ch != NO_NODE; ch = c->flame.nodes[ch].next_sibling) {
			if (!c->flame.nodes[ch].kept)
				continue;
			ARRAY_GROW(stack, cap, n + 1);
			stack[n++] = ch;
		}
	}
	strbuf_adds(sb, "]}");
	free(stack);
	free(index);
}

/* The top rows of each domain: the first max_rows rows of any event. */
struct row_order {
	const struct report_table *t;
	const size_t *idx;
	size_t event;
};

static int row_order__cmp(const void *a, const void *b, void *arg)
{
	const struct row_order *o = arg;
	uint64_t x = o->t->rows[o->idx[*(const size_t *)a]].period[o->event];
	uint64_t y = o->t->rows[o->idx[*(const size_t *)b]].period[o->event];
	if (x != y)
		return x > y ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

static void json_top(struct html_ctx *c, size_t d, const struct report_table *t, struct strbuf *sb)
{
	const char *name = c->layers.domains[d].name;
	size_t *idx = NULL, n = 0, cap = 0, shown = 0;
	bool *keep;

	for (size_t i = 0; i < t->n_rows; i++)
		if (streq(t->rows[i].keys[0], name)) {
			ARRAY_GROW(idx, cap, n + 1);
			idx[n++] = i;
		}
	keep = xcalloc(n + 1, sizeof(bool));
	for (size_t e = 0; e < t->n_events; e++) {
		struct row_order ctx = { t, idx, e };
		size_t *order = xmalloc((n + 1) * sizeof(size_t));
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		qsort_r(order, n, sizeof(size_t), row_order__cmp, &ctx);
		for (size_t k = 0; k < MIN(n, c->o->max_rows) && t->rows[idx[order[k]]].period[e]; k++)
			keep[order[k]] = true;
		free(order);
	}
	strbuf_addf(sb, ",\"top\":{\"total_rows\":%zu,\"rows\":[", n);
	for (size_t i = 0; i < n; i++) {
		const struct report_row *r = &t->rows[idx[i]];
		if (!keep[i])
			continue;
		strbuf_adds(sb, shown++ ? ",{\"layer\":" : "{\"layer\":");
		strbuf_add_json(sb, r->keys[1]);
		strbuf_adds(sb, ",\"image\":");
		strbuf_add_json(sb, r->keys[2]);
		strbuf_adds(sb, ",\"symbol\":");
		strbuf_add_json(sb, r->keys[3]);
		strbuf_adds(sb, ",\"comm\":");
		json_str_or_null(sb, r->comm);
		strbuf_addf(sb, ",\"comms\":%zu", r->n_comms);
		if (r->unknown_symbol && streq(r->keys[3], "[unknown]") && r->min_address <= r->max_address)
			strbuf_addf(sb, ",\"address\":[\"0x%" PRIx64 "\",\"0x%" PRIx64 "\"]", r->min_address, r->max_address);
		strbuf_adds(sb, ",\"samples\":");
		json_u64_array(sb, r->samples, t->n_events);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, r->period, t->n_events);
		strbuf_addc(sb, '}');
	}
	strbuf_addf(sb, "],\"shown_rows\":%zu}", shown);
	free(keep);
	free(idx);
}

static void json_domain(struct html_ctx *c, size_t d, const struct report_table *t, struct strbuf *sb)
{
	const struct report_domain_info *di = &c->layers.domains[d];
	size_t ne = c->layers.n_events;
	bool first = true;

	strbuf_adds(sb, d ? ",{\"name\":" : "{\"name\":");
	strbuf_add_json(sb, di->name);
	strbuf_addf(sb, ",\"kind\":\"%s\"", domain_kind__name(domain_kind__of(di->is_vm, di->is_idle)));
	if (di->pid >= 0)
		strbuf_addf(sb, ",\"pid\":%" PRId64, di->pid);
	else
		strbuf_adds(sb, ",\"pid\":null");
	strbuf_adds(sb, ",\"vmm\":");
	json_str_or_null(sb, di->vmm);
	strbuf_adds(sb, ",\"accel\":");
	json_str_or_null(sb, di->accel);
	strbuf_adds(sb, ",\"source\":");
	json_str_or_null(sb, di->source);
	strbuf_addf(sb, ",\"complete\":%s,\"note\":", di->complete ? "true" : "false");
	json_str_or_null(sb, di->note);
	strbuf_adds(sb, ",\"samples\":");
	json_u64_array(sb, di->samples, ne);
	strbuf_adds(sb, ",\"period\":");
	json_u64_array(sb, di->period, ne);
	strbuf_adds(sb, ",\"layers\":{");
	for (int k = 0; k < LAYER__COUNT; k++) {
		enum layer l = layer__display_order[k];
		bool has = false;
		for (size_t e = 0; e < ne; e++)
			has |= di->layer_samples[l][e] > 0;
		if (!has)
			continue;
		strbuf_addf(sb, "%s\"%s\":{\"samples\":", first ? "" : ",", layer__name(l));
		first = false;
		json_u64_array(sb, di->layer_samples[l], ne);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, di->layer_period[l], ne);
		strbuf_addc(sb, '}');
	}
	strbuf_adds(sb, "}");
	if (di->is_vm) {
		strbuf_adds(sb, ",\"halt\":{\"samples\":");
		json_u64_array(sb, di->halt_samples, ne);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, di->halt_period, ne);
		strbuf_addc(sb, '}');
		strbuf_adds(sb, ",\"overhead\":[");
		for (size_t e = 0; e < ne; e++) {
			double o = report_domain__overhead(di, e);
			if (e)
				strbuf_addc(sb, ',');
			if (o < 0)
				strbuf_adds(sb, "null");
			else
				json_number(sb, o);
		}
		strbuf_addc(sb, ']');
	}
	json_top(c, d, t, sb);
	json_flame(c, d, sb);
	strbuf_addc(sb, '}');
}

static uint64_t meta_u64(struct session *s, const char *key, uint64_t fallback)
{
	_cleanup_free_ char *v = session__get_meta(s, key);
	uint64_t r;
	if (!v || parse_u64(v, 10, &r) < 0)
		return fallback;
	return r;
}

/* The timeline: per event, domain and layer, period per point. Buckets are
 * merged k at a time when there are more than max_points. */
static int json_timeline(struct html_ctx *c, struct strbuf *sb, char **ret_error)
{
	size_t ne = c->layers.n_events, nd = c->layers.n_domains, n_series = ne * nd * LAYER__COUNT;
	uint64_t bucket_ns = meta_u64(c->s, "timeline_bucket_ns", DEFAULT_BUCKET_NS);
	uint64_t duration_ns = meta_u64(c->s, "duration_ns", 0);
	uint64_t n_buckets, k, n_points;
	uint64_t **series;
	struct strbuf sql;
	sqlite3_stmt *st;
	int64_t max_bucket = -1;
	bool first = true;
	int rc;

	if (!bucket_ns)
		bucket_ns = DEFAULT_BUCKET_NS;
	if (sqlite3_prepare_v2(session__db(c->s), "SELECT MAX(bucket) FROM timeline", -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot read the timeline of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		max_bucket = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	n_buckets = (uint64_t)(max_bucket + 1);
	n_buckets = MAX(n_buckets, (duration_ns + bucket_ns - 1) / bucket_ns);
	/* A damaged file could claim a bucket far in the future: cap the
	 * timeline at ten million buckets (11 days at 100 ms). */
	n_buckets = MIN(n_buckets, (uint64_t)10000000);
	k = c->o->max_points && n_buckets > c->o->max_points ? (n_buckets + c->o->max_points - 1) / c->o->max_points : 1;
	n_points = (n_buckets + k - 1) / k;

	series = xcalloc(n_series + 1, sizeof(*series));
	strbuf_init(&sql);
	strbuf_adds(&sql, "SELECT tl.event_id, tl.domain_id, tl.layer, tl.bucket, ");
	view__period(&sql, "tl", c->o->source);
	strbuf_adds(&sql, " FROM timeline tl");
	view__join(&sql, "tl", c->o->source);
	view__where(&sql, "tl", c->o->source);
	strbuf_adds(&sql, " GROUP BY tl.event_id, tl.domain_id, tl.layer, tl.bucket");
	rc = sqlite3_prepare_v2(session__db(c->s), sql.buf, -1, &st, NULL);
	strbuf_release(&sql);
	if (rc != SQLITE_OK) {
		free(series);
		*ret_error = xasprintf("cannot read the timeline of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int e = event_index(&c->layers, sqlite3_column_int64(st, 0));
		int d = domain_index(c, sqlite3_column_int64(st, 1));
		const char *layer = (const char *)sqlite3_column_text(st, 2);
		int l = layer ? layer__from_name(layer) : -1;
		int64_t bucket = sqlite3_column_int64(st, 3);
		size_t i;
		if (e < 0 || d < 0 || l < 0 || bucket < 0 || (uint64_t)bucket >= n_buckets)
			continue;
		i = ((size_t)e * nd + (size_t)d) * LAYER__COUNT + (size_t)l;
		if (!series[i])
			series[i] = xcalloc(n_points, sizeof(uint64_t));
		series[i][(uint64_t)bucket / k] += (uint64_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < n_series; i++)
			free(series[i]);
		free(series);
		*ret_error = xasprintf("cannot read the timeline of %s: %s", session__path(c->s), session__error(c->s));
		return -EIO;
	}
	strbuf_addf(sb, "\"timeline\":{\"bucket_ns\":%" PRIu64 ",\"points\":%" PRIu64 ",\"duration_ns\":%" PRIu64 ",\"series\":[",
		    bucket_ns * k, n_points, duration_ns);
	for (size_t i = 0; i < n_series; i++) {
		if (!series[i])
			continue;
		strbuf_addf(sb, "%s{\"event\":%zu,\"domain\":%zu,\"layer\":\"%s\",\"period\":", first ? "" : ",",
			    i / (nd * LAYER__COUNT), (i / LAYER__COUNT) % nd, layer__name((enum layer)(i % LAYER__COUNT)));
		first = false;
		json_u64_array(sb, series[i], n_points);
		strbuf_addc(sb, '}');
		free(series[i]);
	}
	free(series);
	strbuf_adds(sb, "]}");
	return 0;
}

static void json_strings(struct html_ctx *c, struct strbuf *sb)
{
	strbuf_adds(sb, ",\"strings\":[");
	for (size_t i = 0; i < c->n_page_strings; i++) {
		if (i)
			strbuf_addc(sb, ',');
		strbuf_add_json(sb, c->strings.items[c->page_strings[i]]);
	}
	strbuf_adds(sb, "]");
}

/* JSON text may hold '<' only inside strings, so replacing it (and '>',
 * '&', and the two line separators old JavaScript parsers reject) by its
 * \u escape everywhere keeps the value and makes "</script>" or "<!--"
 * in a hostile symbol name harmless inside the page. */
static void add_script_safe(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '<')
			strbuf_adds(out, "\\u003c");
		else if (ch == '>')
			strbuf_adds(out, "\\u003e");
		else if (ch == '&')
			strbuf_adds(out, "\\u0026");
		else if (ch == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			strbuf_adds(out, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
		} else
			strbuf_addc(out, (char)ch);
	}
}

static void ctx_release(struct html_ctx *c)
{
	if (c->have_layers)
		report_layers__release(&c->layers);
	free(c->domain_ids);
	id_table__release(&c->images);
	id_table__release(&c->symbols);
	id_table__release(&c->frames);
	strtab__release(&c->strings);
	free(c->string_slot);
	free(c->page_strings);
	flame__release(&c->flame);
	free(c->roots);
	free(c->thresholds);
	free(c->pruned);
}

int html_report__json(struct session *s, const struct html_options *o, struct strbuf *out,
		      struct html_summary *ret_summary, char **ret_error)
{
	struct html_ctx c = { .s = s, .o = o };
	struct report_query q = { .source = o->source, .no_idle = o->no_idle };
	struct report_table table;
	struct strbuf sb;
	int r;

	if ((r = report_query__parse_keys(&q, "domain,layer,image,symbol", ret_error)) < 0)
		return r;
	if ((r = report_layers__query(s, &q, &c.layers, ret_error)) < 0)
		return r;
	c.have_layers = true;
	strbuf_init(&sb);
	if ((r = load_domain_ids(&c, ret_error)) < 0 ||
	    (r = id_table__load(s, "SELECT id, path FROM images ORDER BY id", false, &c.images, ret_error)) < 0 ||
	    (r = id_table__load(s, "SELECT id, name FROM symbols ORDER BY id", false, &c.symbols, ret_error)) < 0 ||
	    (r = id_table__load(s, "SELECT id, parent_id, image_id, symbol_id, address FROM frames ORDER BY id", true,
				&c.frames, ret_error)) < 0)
		goto out;
	if (view__prepare(s, o->source) < 0) {
		*ret_error = xasprintf("cannot prepare the merged view of %s: %s", session__path(s), session__error(s));
		r = -EIO;
		goto out;
	}
	if ((r = build_trees(&c, ret_error)) < 0)
		goto out;
	prune_trees(&c);
	if ((r = report_table__query(s, &q, &table, ret_error)) < 0)
		goto out;

	strbuf_addf(&sb, "{\"format\":\"domprof-html\",\"version\":1,\"generator\":\"domprof %s\",\"path\":", DOMPROF_VERSION);
	strbuf_add_json(&sb, session__path(s));
	strbuf_addf(&sb, ",\"view\":\"%s\",\"command\":", source_name(o->source));
	{
		_cleanup_free_ char *command = session__command_line(s);
		if (command)
			strbuf_add_json(&sb, command);
		else
			strbuf_adds(&sb, "null");
		strbuf_addc(&sb, ',');
	}
	strbuf_adds(&sb, "\"idle\":{\"included\":");
	strbuf_adds(&sb, o->no_idle ? "false" : "true");
	strbuf_adds(&sb, ",\"note\":");
	json_str_or_null(&sb, session__idle_note(s));
	strbuf_adds(&sb, "},");
	if ((r = json_session(&c, &sb, ret_error)) < 0) {
		report_table__release(&table);
		goto out;
	}
	json_events(&c, &sb);
	strbuf_adds(&sb, "\"domains\":[");
	for (size_t d = 0; d < c.layers.n_domains; d++)
		json_domain(&c, d, &table, &sb);
	strbuf_adds(&sb, "],");
	report_table__release(&table);
	if ((r = json_timeline(&c, &sb, ret_error)) < 0)
		goto out;
	json_strings(&c, &sb);
	strbuf_adds(&sb, "}");

	add_script_safe(out, sb.buf, sb.len);
	c.summary.n_domains = c.layers.n_domains;
	c.summary.n_events = c.layers.n_events;
	c.summary.data_bytes = sb.len;
	if (ret_summary)
		*ret_summary = c.summary;
	r = 0;
out:
	strbuf_release(&sb);
	ctx_release(&c);
	return r;
}

int html_report__write(struct session *s, const struct html_options *o, FILE *out, struct html_summary *ret_summary,
		       char **ret_error)
{
	struct strbuf data;
	int r;

	strbuf_init(&data);
	r = html_report__json(s, o, &data, ret_summary, ret_error);
	if (r < 0) {
		strbuf_release(&data);
		return r;
	}
	/* The policy forbids every fetch and allows exactly the page's own
	 * style sheet and script: the file works offline, and a hostile name
	 * in the data could not run code even if it escaped its string. */
	fprintf(out,
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'sha256-%s'; script-src 'sha256-%s'\">\n"
		"<meta name=\"generator\" content=\"domprof %s\">\n"
		"<title>domprof report</title>\n<style>",
		html_asset_report_css_sha256, html_asset_report_js_sha256, DOMPROF_VERSION);
	fwrite(html_asset_report_css, 1, html_asset_report_css_size, out);
	fputs("</style>\n</head>\n<body>\n"
	      "<noscript><p class=\"noscript\">This report draws its charts with JavaScript. Enable JavaScript for this "
	      "file, or use <code>domprof report</code> for the same numbers as text.</p></noscript>\n"
	      "<pre id=\"domprof-errors\" class=\"errors\" hidden></pre>\n"
	      "<div id=\"app\"></div>\n"
	      "<div id=\"tip\" class=\"tip\" role=\"tooltip\" hidden></div>\n"
	      "<script type=\"application/json\" id=\"domprof-data\">",
	      out);
	fwrite(data.buf, 1, data.len, out);
	fputs("</script>\n<script>", out);
	fwrite(html_asset_report_js, 1, html_asset_report_js_size, out);
	fputs("</script>\n</body>\n</html>\n", out);
	strbuf_release(&data);
	if (ferror(out)) {
		*ret_error = xasprintf("cannot write the page: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

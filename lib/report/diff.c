/* Two-session comparison; see diff.h. Each side is an ordinary report
 * table (no limit), joined on its key strings. */
#define _GNU_SOURCE
#include "diff.h"

#include <errno.h>
#include <math.h>

#include "../util/hmap.h"
#include "../util/util.h"

static uint64_t keys_hash(char *const *keys, size_t n)
{
	uint64_t h = 0;
	for (size_t k = 0; k < n; k++)
		h = hash_mix(h, hash_str(keys[k]));
	return h;
}

static bool keys_eq(char *const *a, char *const *b, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!streq(a[k], b[k]))
			return false;
	return true;
}

static int event_in(const struct report_table *t, const char *name)
{
	for (size_t e = 0; e < t->n_events; e++)
		if (streq(t->events[e].name, name))
			return (int)e;
	return -1;
}

static double sort_delta(const struct diff_row *r)
{
	double a = isnan(r->a[0]) ? 0 : r->a[0], b = isnan(r->b[0]) ? 0 : r->b[0];
	return fabs(b - a);
}

static int row_cmp(const void *x, const void *y, void *ctx)
{
	const struct diff_table *sort_t = ctx;
	const struct diff_row *a = x, *b = y;
	double da = sort_delta(a), db = sort_delta(b);
	if (da != db)
		return da > db ? -1 : 1;
	for (size_t k = 0; k < sort_t->query.n_keys; k++) {
		int c = strcmp(a->keys[k], b->keys[k]);
		if (c)
			return c;
	}
	return 0;
}

static void row_free(struct diff_row *r)
{
	for (int k = 0; k < KEY__COUNT; k++)
		free(r->keys[k]);
	free(r->a);
	free(r->b);
	free(r->a_pct);
	free(r->b_pct);
}

/* The events both sides have, in a's order: ea/eb map them to each
 * side's table. */
static int match_events(struct diff_table *t, const struct report_table *ta, const struct report_table *tb, int *ea,
			int *eb, char **ret_error)
{
	t->events = xcalloc(ta->n_events + 1, sizeof(char *));
	t->units = xcalloc(ta->n_events + 1, sizeof(char *));
	for (size_t e = 0; e < ta->n_events; e++) {
		int j = event_in(tb, ta->events[e].name);
		if (j < 0)
			continue;
		ea[t->n_events] = (int)e;
		eb[t->n_events] = j;
		t->events[t->n_events] = xstrdup(ta->events[e].name);
		t->units[t->n_events] = xstrdup(ta->events[e].unit);
		t->n_events++;
	}
	if (!t->n_events) {
		*ret_error = xasprintf("the two sessions have no event in common (compare with the same -e)");
		return -ENOENT;
	}
	return 0;
}

/* The diff row of keys, made (absent on both sides: NAN) on first use. */
static struct diff_row *diff_row(struct diff_table *t, struct hmap *index, size_t *cap, char *const *keys)
{
	size_t n_keys = t->query.n_keys;
	uint64_t h = keys_hash(keys, n_keys);
	size_t pos;
	uint32_t idx;
	struct diff_row *row;
	for (pos = hmap_first(index, h); hmap_candidate(index, pos, h, &idx); pos = hmap_next(index, pos))
		if (idx != UINT32_MAX && keys_eq(t->rows[idx].keys, keys, n_keys))
			return &t->rows[idx];
	ARRAY_GROW(t->rows, *cap, t->n_rows + 1);
	row = &t->rows[t->n_rows];
	memset(row, 0, sizeof(*row));
	for (size_t k = 0; k < n_keys; k++)
		row->keys[k] = xstrdup(keys[k]);
	row->a = xcalloc(t->n_events, sizeof(double));
	row->b = xcalloc(t->n_events, sizeof(double));
	row->a_pct = xcalloc(t->n_events, sizeof(double));
	row->b_pct = xcalloc(t->n_events, sizeof(double));
	for (size_t e = 0; e < t->n_events; e++)
		row->a[e] = row->b[e] = NAN;
	hmap_insert_at(index, pos, h, (uint32_t)t->n_rows);
	t->n_rows++;
	return row;
}

/* Both sides' rows, joined on their keys and normalised. */
static void join_rows(struct diff_table *t, const struct report_table *ta, const struct report_table *tb,
		      const int *ea, const int *eb)
{
	struct hmap index;
	size_t cap = 0;
	hmap_init(&index);
	for (int side = 0; side < 2; side++) {
		const struct report_table *src = side ? tb : ta;
		const int *map = side ? eb : ea;
		double per = side ? t->per_b : t->per_a;
		for (size_t i = 0; i < src->n_rows; i++) {
			const struct report_row *sr = &src->rows[i];
			struct diff_row *row = diff_row(t, &index, &cap, sr->keys);
			for (size_t e = 0; e < t->n_events; e++) {
				double v = (double)sr->period[map[e]] / per;
				double total = side ? t->total_b[e] : t->total_a[e];
				(side ? row->b : row->a)[e] = v;
				(side ? row->b_pct : row->a_pct)[e] = total > 0 ? 100.0 * v / total : 0;
			}
		}
	}
	hmap_release(&index);
}

/* Sort by the change in the first event, then cut by threshold (either
 * side's share) and limit. */
static void finish(struct diff_table *t, const struct report_query *q)
{
	if (t->n_rows > 1)
		qsort_r(t->rows, t->n_rows, sizeof(*t->rows), row_cmp, t);
	t->n_rows_before_cut = t->n_rows;
	if (q->threshold > 0) {
		size_t w = 0;
		for (size_t i = 0; i < t->n_rows; i++) {
			bool keep = false;
			for (size_t e = 0; e < t->n_events; e++)
				keep |= t->rows[i].a_pct[e] >= q->threshold || t->rows[i].b_pct[e] >= q->threshold;
			if (keep)
				t->rows[w++] = t->rows[i];
			else
				row_free(&t->rows[i]);
		}
		t->n_rows = w;
	}
	if (q->limit && t->n_rows > q->limit) {
		for (size_t i = q->limit; i < t->n_rows; i++)
			row_free(&t->rows[i]);
		t->n_rows = q->limit;
	}
}

static int compute(struct session *sa, struct session *sb, const struct report_query *q, struct diff_table *t,
		   char **ret_error)
{
	struct report_query full = *q;
	struct report_table ta, tb;
	int *ea = NULL, *eb = NULL;
	int r;

	full.limit = 0;
	full.threshold = 0;
	if ((r = report_table__query(sa, &full, &ta, ret_error)) < 0)
		return r;
	if ((r = report_table__query(sb, &full, &tb, ret_error)) < 0) {
		report_table__release(&ta);
		return r;
	}
	ea = xcalloc(ta.n_events + 1, sizeof(int));
	eb = xcalloc(ta.n_events + 1, sizeof(int));
	r = match_events(t, &ta, &tb, ea, eb, ret_error);
	if (r == 0) {
		t->total_a = xcalloc(t->n_events, sizeof(double));
		t->total_b = xcalloc(t->n_events, sizeof(double));
		for (size_t e = 0; e < t->n_events; e++) {
			t->total_a[e] = (double)ta.total_period[ea[e]] / t->per_a;
			t->total_b[e] = (double)tb.total_period[eb[e]] / t->per_b;
		}
		join_rows(t, &ta, &tb, ea, eb);
		finish(t, q);
	}
	free(ea);
	free(eb);
	report_table__release(&ta);
	report_table__release(&tb);
	return r;
}

int diff_table__compute(struct session *sa, struct session *sb, const struct report_query *q, double per_a, double per_b,
			struct diff_table *t, char **ret_error)
{
	int r;
	memset(t, 0, sizeof(*t));
	t->query = *q;
	if (session__idle_note(sa))
		t->idle_note_a = xstrdup(session__idle_note(sa));
	if (session__idle_note(sb))
		t->idle_note_b = xstrdup(session__idle_note(sb));
	t->per_a = per_a > 0 ? per_a : 1;
	t->per_b = per_b > 0 ? per_b : 1;
	r = compute(sa, sb, q, t, ret_error);
	if (r < 0)
		diff_table__release(t);
	return r;
}

void diff_table__release(struct diff_table *t)
{
	for (size_t i = 0; i < t->n_rows; i++)
		row_free(&t->rows[i]);
	free(t->rows);
	for (size_t e = 0; e < t->n_events; e++) {
		free(t->events[e]);
		free(t->units[e]);
	}
	free(t->events);
	free(t->units);
	free(t->total_a);
	free(t->total_b);
	free(t->idle_note_a);
	free(t->idle_note_b);
	memset(t, 0, sizeof(*t));
}

static double zero_nan(double v) { return isnan(v) ? 0 : v; }

/* B/A, or NAN when A has none. */
static double ratio(double a, double b)
{
	a = zero_nan(a);
	b = zero_nan(b);
	return a > 0 ? b / a : NAN;
}

static void fmt_value(char *buf, size_t n, double v, const char *unit, bool normalised)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else if (streq(unit, "ns") && !normalised)
		snprintf(buf, n, "%.1f", v / 1e6);
	else if (v >= 1e6 || v == floor(v))
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.3g", v);
}

void diff_table__print_text(const struct diff_table *t, const char *name_a, const char *name_b, FILE *out)
{
	bool normalised = t->per_a != 1 || t->per_b != 1;
	_cleanup_free_ char *safe_a = text_safe_dup(name_a);
	_cleanup_free_ char *safe_b = text_safe_dup(name_b);
	fprintf(out, "# A: %s\n# B: %s\n", safe_a, safe_b);
	report__print_idle_header(t->query.no_idle, NULL, "# ", out);
	if (t->idle_note_a)
		fprintf(out, "# idle of A: %s\n", t->idle_note_a);
	if (t->idle_note_b)
		fprintf(out, "# idle of B: %s\n", t->idle_note_b);
	if (normalised)
		fprintf(out, "# values per unit of work: A / %g, B / %g\n", t->per_a, t->per_b);
	for (size_t e = 0; e < t->n_events; e++) {
		char a[32], b[32];
		fmt_value(a, sizeof(a), t->total_a[e], t->units[e], normalised);
		fmt_value(b, sizeof(b), t->total_b[e], t->units[e], normalised);
		_cleanup_free_ char *name = text_safe_dup(t->events[e]);
		fprintf(out, "# %s total: A %s, B %s (%s%s), B/A %.3f\n", name, a, b,
			streq(t->units[e], "ns") ? (normalised ? "ns" : "msec") : "count", normalised ? " per unit" : "",
			ratio(t->total_a[e], t->total_b[e]));
	}
	fprintf(out, "\n");
	for (size_t e = 0; e < t->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(t->events[e]);
		fprintf(out, "%-50.50s ", name);
	}
	fputc('\n', out);
	for (size_t e = 0; e < t->n_events; e++)
		fprintf(out, "%11s %11s %7s %7s %10s ", "A", "B", "A%", "B%", "B/A");
	for (size_t k = 0; k < t->query.n_keys; k++)
		fprintf(out, " %s", report_key__name(t->query.keys[k]));
	fputc('\n', out);
	for (size_t i = 0; i < t->n_rows; i++) {
		const struct diff_row *r = &t->rows[i];
		for (size_t e = 0; e < t->n_events; e++) {
			char a[32], b[32], q[32];
			double rt = ratio(r->a[e], r->b[e]);
			fmt_value(a, sizeof(a), r->a[e], t->units[e], normalised);
			fmt_value(b, sizeof(b), r->b[e], t->units[e], normalised);
			if (isnan(rt))
				snprintf(q, sizeof(q), "%s", isnan(r->b[e]) ? "-" : "new");
			else
				snprintf(q, sizeof(q), "%.3f", rt);
			fprintf(out, "%11s %11s %6.2f%% %6.2f%% %10s ", a, b, r->a_pct[e], r->b_pct[e], q);
		}
		for (size_t k = 0; k < t->query.n_keys; k++) {
			_cleanup_free_ char *v = text_safe_dup(r->keys[k]);
			fprintf(out, " %s", v);
		}
		fputc('\n', out);
	}
}

static void add_num(struct strbuf *sb, double v)
{
	if (isnan(v) || isinf(v))
		strbuf_adds(sb, "");
	else
		strbuf_addf(sb, "%.6g", v);
}

void diff_table__print_csv(const struct diff_table *t, FILE *out)
{
	static const char *cols[] = { "a", "b", "a_percent", "b_percent", "delta", "ratio" };
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t k = 0; k < t->query.n_keys; k++)
		strbuf_addf(&sb, "%s%s", k ? "," : "", report_key__name(t->query.keys[k]));
	for (size_t e = 0; e < t->n_events; e++)
		for (size_t c = 0; c < ARRAY_SIZE(cols); c++) {
			_cleanup_free_ char *col = xasprintf("%s:%s", t->events[e], cols[c]);
			strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, col);
		}
	strbuf_addc(&sb, '\n');
	for (size_t i = 0; i < t->n_rows; i++) {
		const struct diff_row *r = &t->rows[i];
		for (size_t k = 0; k < t->query.n_keys; k++) {
			if (k)
				strbuf_addc(&sb, ',');
			strbuf_add_csv(&sb, r->keys[k]);
		}
		for (size_t e = 0; e < t->n_events; e++) {
			double vals[] = { zero_nan(r->a[e]), zero_nan(r->b[e]), r->a_pct[e], r->b_pct[e],
					  zero_nan(r->b[e]) - zero_nan(r->a[e]), ratio(r->a[e], r->b[e]) };
			for (size_t c = 0; c < ARRAY_SIZE(vals); c++) {
				strbuf_addc(&sb, ',');
				add_num(&sb, vals[c]);
			}
		}
		strbuf_addc(&sb, '\n');
		fputs(sb.buf, out);
		strbuf_reset(&sb);
	}
	fputs(sb.buf, out);
	strbuf_release(&sb);
}

static void json_num(struct strbuf *sb, double v)
{
	if (isnan(v) || isinf(v))
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.6g", v);
}

void diff_table__print_json(const struct diff_table *t, const char *name_a, const char *name_b, FILE *out)
{
	static const char *cols[] = { "a", "b", "a_percent", "b_percent", "delta", "ratio" };
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_adds(&sb, "{\n  \"format\": \"domprof-diff\",\n  \"version\": 1,\n  \"a\": ");
	strbuf_add_json(&sb, name_a);
	strbuf_adds(&sb, ",\n  \"b\": ");
	strbuf_add_json(&sb, name_b);
	strbuf_addf(&sb, ",\n  \"idle\": {\"included\": %s, \"note_a\": ", t->query.no_idle ? "false" : "true");
	if (t->idle_note_a)
		strbuf_add_json(&sb, t->idle_note_a);
	else
		strbuf_adds(&sb, "null");
	strbuf_adds(&sb, ", \"note_b\": ");
	if (t->idle_note_b)
		strbuf_add_json(&sb, t->idle_note_b);
	else
		strbuf_adds(&sb, "null");
	strbuf_adds(&sb, "}");
	strbuf_adds(&sb, ",\n  \"per_a\": ");
	json_num(&sb, t->per_a);
	strbuf_adds(&sb, ",\n  \"per_b\": ");
	json_num(&sb, t->per_b);
	strbuf_adds(&sb, ",\n  \"events\": [");
	for (size_t e = 0; e < t->n_events; e++) {
		strbuf_adds(&sb, e ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(&sb, t->events[e]);
		strbuf_addf(&sb, ", \"unit\": \"%s\", \"total_a\": ", t->units[e]);
		json_num(&sb, t->total_a[e]);
		strbuf_adds(&sb, ", \"total_b\": ");
		json_num(&sb, t->total_b[e]);
		strbuf_adds(&sb, ", \"ratio\": ");
		json_num(&sb, ratio(t->total_a[e], t->total_b[e]));
		strbuf_adds(&sb, "}");
	}
	strbuf_adds(&sb, "],\n  \"keys\": [");
	for (size_t k = 0; k < t->query.n_keys; k++)
		strbuf_addf(&sb, "%s\"%s\"", k ? ", " : "", report_key__name(t->query.keys[k]));
	strbuf_addf(&sb, "],\n  \"total_rows\": %zu,\n  \"rows\": [", t->n_rows_before_cut);
	for (size_t i = 0; i < t->n_rows; i++) {
		const struct diff_row *r = &t->rows[i];
		strbuf_adds(&sb, i ? ",\n    {" : "\n    {");
		for (size_t k = 0; k < t->query.n_keys; k++) {
			strbuf_addf(&sb, "%s\"%s\": ", k ? ", " : "", report_key__name(t->query.keys[k]));
			strbuf_add_json(&sb, r->keys[k]);
		}
		for (size_t e = 0; e < t->n_events; e++) {
			double vals[] = { zero_nan(r->a[e]), zero_nan(r->b[e]), r->a_pct[e], r->b_pct[e],
					  zero_nan(r->b[e]) - zero_nan(r->a[e]), ratio(r->a[e], r->b[e]) };
			for (size_t c = 0; c < ARRAY_SIZE(cols); c++) {
				_cleanup_free_ char *col = xasprintf("%s:%s", t->events[e], cols[c]);
				strbuf_adds(&sb, ", ");
				strbuf_add_json(&sb, col);
				strbuf_adds(&sb, ": ");
				json_num(&sb, vals[c]);
			}
		}
		strbuf_adds(&sb, "}");
	}
	strbuf_adds(&sb, "\n  ]\n}\n");
	fputs(sb.buf, out);
	strbuf_release(&sb);
}

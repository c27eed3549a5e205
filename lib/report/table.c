/* The row table: the view's samples grouped by the query's sort keys, one
 * column group per event, sorted by period, thresholded and limited; see
 * report.h. The call-graph views build the same table in callgraph.c. */
#define _GNU_SOURCE
#include <errno.h>

#include "table-internal.h"

static const enum view_column key_column[KEY__COUNT] = {
	[KEY_DOMAIN] = VIEW_DOMAIN, [KEY_LAYER] = VIEW_LAYER, [KEY_COMM] = VIEW_COMM,	  [KEY_PID] = VIEW_PID,
	[KEY_TID] = VIEW_TID,	    [KEY_IMAGE] = VIEW_IMAGE, [KEY_SYMBOL] = VIEW_SYMBOL,
};

void pivot__init(struct pivot *pv, struct report_table *t)
{
	memset(pv, 0, sizeof(*pv));
	hmap_init(&pv->index);
	pv->t = t;
	pv->cap = t->n_rows;
}

void pivot__release(struct pivot *pv)
{
	hmap_release(&pv->index);
	free(pv->comm_period);
}

struct report_row *pivot__row(struct pivot *pv, const char **keys, size_t n_keys)
{
	struct report_table *t = pv->t;
	uint64_t h = 0;
	size_t pos;
	uint32_t idx;
	struct report_row *r;
	for (size_t k = 0; k < n_keys; k++)
		h = hash_mix(h, hash_str(keys[k]));
	for (pos = hmap_first(&pv->index, h); hmap_candidate(&pv->index, pos, h, &idx); pos = hmap_next(&pv->index, pos)) {
		bool eq = idx != UINT32_MAX;
		for (size_t k = 0; k < n_keys && eq; k++)
			eq = streq(t->rows[idx].keys[k], keys[k]);
		if (eq)
			return &t->rows[idx];
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

static int row_cmp(const void *a, const void *b, void *ctx)
{
	const struct report_table *t = ctx;
	const struct report_row *x = a, *y = b;
	if (x->inclusive)
		for (size_t e = 0; e < t->n_events; e++)
			if (x->inclusive[e] != y->inclusive[e])
				return x->inclusive[e] > y->inclusive[e] ? -1 : 1;
	for (size_t e = 0; e < t->n_events; e++)
		if (x->period[e] != y->period[e])
			return x->period[e] > y->period[e] ? -1 : 1;
	for (size_t e = 0; e < t->n_events; e++)
		if (x->samples[e] != y->samples[e])
			return x->samples[e] > y->samples[e] ? -1 : 1;
	for (size_t k = 0; k < t->query.n_keys; k++) {
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

static bool row_passes(const struct report_table *t, const struct report_row *r, double threshold)
{
	for (size_t e = 0; e < t->n_events; e++)
		if (t->total_period[e] &&
		    100.0 * (double)(r->inclusive ? r->inclusive[e] : r->period[e]) / (double)t->total_period[e] >= threshold)
			return true;
	return false;
}

void report_table__finish(struct report_table *t, const struct report_query *q)
{
	if (t->n_rows > 1)
		qsort_r(t->rows, t->n_rows, sizeof(*t->rows), row_cmp, t);
	t->n_rows_before_cut = t->n_rows;
	if (q->threshold > 0) {
		size_t w = 0;
		for (size_t i = 0; i < t->n_rows; i++) {
			if (row_passes(t, &t->rows[i], q->threshold))
				t->rows[w++] = t->rows[i];
			else
				row_release(&t->rows[i]);
		}
		t->n_rows = w;
	}
	if (q->limit && t->n_rows > q->limit) {
		for (size_t i = q->limit; i < t->n_rows; i++)
			row_release(&t->rows[i]);
		t->n_rows = q->limit;
	}
}

void report_table__add_total(struct report_table *t, size_t e, uint64_t count, uint64_t period, uint64_t idle)
{
	t->total_samples[e] += count;
	t->total_period[e] += period;
	t->busy_period[e] += period - MIN(idle, period);
}

int report_table__start(struct session *s, const struct report_query *q, struct report_table *t, char **ret_error)
{
	int r;
	memset(t, 0, sizeof(*t));
	t->query = *q;
	r = report__load_events(s, q->events, &t->events, &t->n_events, ret_error);
	if (r < 0)
		return r;
	t->total_samples = xcalloc(t->n_events, sizeof(uint64_t));
	t->total_period = xcalloc(t->n_events, sizeof(uint64_t));
	t->busy_period = xcalloc(t->n_events, sizeof(uint64_t));
	t->has_stacks = session__has_stacks(s);
	return 0;
}

/* The row's main command (when comm is not a key): the one contributing
 * most of the first event. */
static void row_note_comm(struct pivot *pv, struct report_row *row, size_t e, const char *comm, uint64_t period)
{
	size_t ri = (size_t)(row - pv->t->rows);
	if (e == 0) {
		row->n_comms++;
		if (!row->comm || period > pv->comm_period[ri]) {
			free(row->comm);
			row->comm = xstrdup(comm);
			pv->comm_period[ri] = period;
		}
	} else if (!row->comm) {
		row->comm = xstrdup(comm);
	}
}

static void table_add(struct pivot *pv, struct view_rows *rows, const struct view_row *v, bool comm_is_key)
{
	struct report_table *t = pv->t;
	const struct report_query *q = &t->query;
	size_t nk = q->n_keys;
	const char *keys[KEY__COUNT];
	struct report_row *row;
	int e = report_events__index(t->events, t->n_events, view_rows__int(rows, nk + 1));
	if (e < 0)
		return;
	for (size_t k = 0; k < nk; k++)
		keys[k] = view_rows__text(rows, k);
	row = pivot__row(pv, keys, nk);
	row->samples[e] += v->count;
	row->period[e] += v->period;
	row->idle_period[e] += v->idle_period;
	report_table__add_total(t, (size_t)e, v->count, v->period, v->idle_period);
	if (v->unknown_symbol) {
		row->unknown_symbol = true;
		row->min_address = MIN(row->min_address, v->min_address);
		row->max_address = MAX(row->max_address, v->max_address);
	}
	if (!comm_is_key)
		row_note_comm(pv, row, (size_t)e, view_rows__text(rows, nk), v->period);
}

static int table_query(struct session *s, const struct report_query *q, struct report_table *t, char **ret_error)
{
	struct view_filter f = report_query__filter(q);
	enum view_column columns[KEY__COUNT + 2];
	struct view_rows *rows;
	struct view_row v;
	struct pivot pv;
	bool comm_is_key = false;
	int r;

	if ((r = report_table__start(s, q, t, ret_error)) < 0)
		return r;
	if (q->children || q->callers || q->callees)
		return report_table__query_callgraph(s, q, t, ret_error);
	for (size_t k = 0; k < q->n_keys; k++) {
		columns[k] = key_column[q->keys[k]];
		comm_is_key |= q->keys[k] == KEY_COMM;
	}
	columns[q->n_keys] = VIEW_COMM;
	columns[q->n_keys + 1] = VIEW_EVENT_ID;
	if ((r = view_rows__open(s, &f, columns, q->n_keys + 2, true, &rows, ret_error)) < 0)
		return r;
	pivot__init(&pv, t);
	while ((r = view_rows__next(rows, &v, ret_error)) > 0)
		table_add(&pv, rows, &v, comm_is_key);
	pivot__release(&pv);
	view_rows__close(rows);
	if (r < 0)
		return r;
	report_table__finish(t, q);
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

/* The public entry point leaves nothing allocated when it fails. */
int report_table__query(struct session *s, const struct report_query *q, struct report_table *t, char **ret_error)
{
	int r = table_query(s, q, t, ret_error);
	if (r < 0)
		report_table__release(t);
	return r;
}

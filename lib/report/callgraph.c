/* The call-graph views of the row table (sessions recorded with -g):
 *
 *  - --children: each function's inclusive period (samples with it
 *    anywhere on their stack, once per sample however deep it recurses)
 *    beside its self period, rows sorted by inclusive period;
 *  - --callers F / --callees F: rows are the functions that called F (the
 *    frame above it, or "(no caller: stack root)") or that F called (the
 *    frame below, or "(self)").
 *
 * Samples come from the view grouped by their own keys and stack; stacks
 * are walked in the catalog (lib/session/catalog.h). */
#define _GNU_SOURCE
#include <errno.h>

#include "table-internal.h"

/* The sample's own keys, in enum report_key order up to KEY_TID. */
static const enum view_column sample_columns[] = {
	VIEW_DOMAIN, VIEW_LAYER, VIEW_COMM, VIEW_PID, VIEW_TID, VIEW_IMAGE_ID, VIEW_SYMBOL_ID, VIEW_STACK_ID, VIEW_EVENT_ID,
};
enum { N_SAMPLE_KEYS = 5 };

struct callgraph {
	const struct report_query *q;
	struct report_table *t;
	struct pivot pv;
	struct session_catalog cat;
	struct report_function *chain;
	bool found_target;
};

/* A row's keys: the sample's own, and image/symbol of the function the
 * row is about. */
static struct report_row *function_row(struct callgraph *g, const char **skeys, const struct report_function *fn)
{
	const char *keys[KEY__COUNT];
	struct report_row *row;
	for (size_t k = 0; k < g->q->n_keys; k++) {
		enum report_key key = g->q->keys[k];
		keys[k] = key == KEY_IMAGE ? fn->image : key == KEY_SYMBOL ? fn->symbol : skeys[key];
	}
	row = pivot__row(&g->pv, keys, g->q->n_keys);
	if (!row->comm)
		row->comm = xstrdup(skeys[KEY_COMM]);
	return row;
}

static void add_children(struct callgraph *g, const char **skeys, size_t n, size_t e, const struct view_row *v,
			 uint64_t idle)
{
	struct report_table *t = g->t;
	report_table__add_total(t, e, v->count, v->period, idle);
	for (size_t i = 0; i < n; i++) {
		struct report_row *row;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq(g->chain[j].symbol, g->chain[i].symbol) && streq(g->chain[j].image, g->chain[i].image);
		if (seen) /* recursion: count a sample once per function */
			continue;
		row = function_row(g, skeys, &g->chain[i]);
		if (!row->inclusive)
			row->inclusive = xcalloc(t->n_events, sizeof(uint64_t));
		row->inclusive[e] += v->period;
		if (i == 0) {
			row->samples[e] += v->count;
			row->period[e] += v->period;
			row->idle_period[e] += idle;
		}
	}
}

/* --callers / --callees: where the target sits in this chain. */
static void add_relative(struct callgraph *g, const char **skeys, size_t n, size_t e, const struct view_row *v,
			 uint64_t idle)
{
	const char *target = g->q->callers ? g->q->callers : g->q->callees;
	struct report_function rel;
	struct report_row *row;
	size_t at = n;
	if (g->q->callers) {
		for (size_t i = 0; i < n && at == n; i++)
			if (streq(g->chain[i].symbol, target))
				at = i;
	} else {
		for (size_t i = n; i-- > 0 && at == n;)
			if (streq(g->chain[i].symbol, target))
				at = i;
	}
	if (at == n)
		return;
	g->found_target = true;
	if (g->q->callers)
		rel = at + 1 < n ? g->chain[at + 1] : (struct report_function){ "", "(no caller: stack root)" };
	else
		rel = at > 0 ? g->chain[at - 1] : (struct report_function){ g->chain[at].image, "(self)" };
	row = function_row(g, skeys, &rel);
	row->samples[e] += v->count;
	row->period[e] += v->period;
	row->idle_period[e] += idle;
	report_table__add_total(g->t, e, v->count, v->period, idle);
}

static void callgraph_add(struct callgraph *g, struct view_rows *rows, const struct view_row *v)
{
	const char *skeys[N_SAMPLE_KEYS];
	int e = report_events__index(g->t->events, g->t->n_events, view_rows__int(rows, 8));
	uint64_t idle = MIN(v->idle_period, v->period);
	size_t n;
	if (e < 0)
		return;
	for (size_t k = 0; k < N_SAMPLE_KEYS; k++)
		skeys[k] = view_rows__text(rows, k);
	n = report__stack_functions(&g->cat, (uint32_t)view_rows__int(rows, 7), (uint32_t)view_rows__int(rows, 5),
				    (uint32_t)view_rows__int(rows, 6), g->chain, REPORT_MAX_STACK_DEPTH);
	if (!n)
		return;
	if (g->q->children)
		add_children(g, skeys, n, (size_t)e, v, idle);
	else
		add_relative(g, skeys, n, (size_t)e, v, idle);
}

static int callgraph_rows(struct session *s, struct callgraph *g, char **ret_error)
{
	struct view_filter f = report_query__filter(g->q);
	struct view_rows *rows;
	struct view_row v;
	int r = view_rows__open(s, &f, sample_columns, ARRAY_SIZE(sample_columns), true, &rows, ret_error);
	if (r < 0)
		return r;
	while ((r = view_rows__next(rows, &v, ret_error)) > 0)
		callgraph_add(g, rows, &v);
	view_rows__close(rows);
	return r;
}

int report_table__query_callgraph(struct session *s, const struct report_query *q, struct report_table *t,
				  char **ret_error)
{
	const char *target = q->callers ? q->callers : q->callees;
	struct callgraph g = { .q = q, .t = t };
	int r;

	if (!t->has_stacks) {
		*ret_error = xasprintf("%s has no call stacks: record with -g for --children, --callers and --callees",
				       session__path(s));
		return -ENODATA;
	}
	if ((r = session_catalog__load(s, CATALOG_CODE, &g.cat, ret_error)) < 0)
		return r;
	g.chain = xmalloc(REPORT_MAX_STACK_DEPTH * sizeof(*g.chain));
	pivot__init(&g.pv, t);
	r = callgraph_rows(s, &g, ret_error);
	pivot__release(&g.pv);
	session_catalog__release(&g.cat);
	free(g.chain);
	if (r < 0)
		return r;
	if (target && !g.found_target) {
		*ret_error = xasprintf("no call stack of %s contains a function named '%s'", session__path(s), target);
		return -ENOENT;
	}
	/* Keep the inclusive array on every row for a uniform output. */
	if (q->children)
		for (size_t i = 0; i < t->n_rows; i++)
			if (!t->rows[i].inclusive)
				t->rows[i].inclusive = xcalloc(t->n_events, sizeof(uint64_t));
	report_table__finish(t, q);
	return 0;
}

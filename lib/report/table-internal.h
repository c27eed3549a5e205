/* table-internal: what the row models (table.c, callgraph.c) share — the
 * index that turns key strings into a row, and the sort and cut every
 * row table ends with. */
#pragma once

#include "../util/hmap.h"
#include "report.h"

struct pivot {
	struct hmap index;
	struct report_table *t;
	size_t cap;
	uint64_t *comm_period; /* per row: the period of its main comm so far */
	size_t comm_cap;
};

void pivot__init(struct pivot *pv, struct report_table *t);
void pivot__release(struct pivot *pv);
/* The row of these key strings, made (zeroed) on first use. */
struct report_row *pivot__row(struct pivot *pv, const char **keys, size_t n_keys);

/* A table's common start: the query, its events, zero totals, whether the
 * session has stacks. */
int report_table__start(struct session *s, const struct report_query *q, struct report_table *t, char **ret_error);
/* Add a row's sums for event e to the table's totals. */
void report_table__add_total(struct report_table *t, size_t e, uint64_t count, uint64_t period, uint64_t idle);
/* Sort by period (inclusive first with --children), then apply the
 * threshold and the limit. */
void report_table__finish(struct report_table *t, const struct report_query *q);

/* Rows of the call-graph views (--children, --callers, --callees). */
int report_table__query_callgraph(struct session *s, const struct report_query *q, struct report_table *t,
				  char **ret_error);

/* diff: two sessions side by side (e.g. the same workload natively and in
 * a VM), row by row on the same keys, each event's period optionally
 * normalised by a unit of work on each side (--per-a/--per-b: bytes,
 * packets, requests), so "cycles per MB received" compares across runs. */
#pragma once

#include <stdio.h>

#include "report.h"

struct diff_row {
	char *keys[KEY__COUNT];
	double *a, *b;            /* normalised period per event (NAN when absent) */
	double *a_pct, *b_pct;    /* share of that side's total */
};

struct diff_table {
	struct report_query query;
	char **events;            /* names present in both sessions */
	char **units;
	size_t n_events;
	double per_a, per_b;
	double *total_a, *total_b; /* normalised totals per event */
	struct diff_row *rows;
	size_t n_rows, n_rows_before_cut;
	/* session__idle_note of each side (NULL when recorded with idle as a
	 * domain); query.no_idle says whether idle was left out. */
	char *idle_note_a, *idle_note_b;
};

int diff_table__compute(struct session *a, struct session *b, const struct report_query *q, double per_a, double per_b,
			struct diff_table *ret, char **ret_error);
void diff_table__release(struct diff_table *t);

void diff_table__print_text(const struct diff_table *t, const char *name_a, const char *name_b, FILE *out);
void diff_table__print_csv(const struct diff_table *t, FILE *out);
void diff_table__print_json(const struct diff_table *t, const char *name_a, const char *name_b, FILE *out);

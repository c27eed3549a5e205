/* diff of two sessions written by the test through the write side, with
 * numbers known by construction: rows joined on their keys (a function on
 * one side only is absent, not zero, on the other), each side normalised
 * by its unit of work, shares of each side's total, the sort by the
 * change, threshold and limit, events the two sides share, and the CSV
 * and JSON renderings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/report/diff.h"
#include "lib/util/util.h"

#define MS 1000000ULL

static char path_a[64], path_b[64], path_c[64];

struct fn {
	const char *name;
	uint64_t ms;
};

/* A session of one host process "app" whose functions took fn[i].ms of
 * the event (cpu-clock, or the name given). */
static void write_session(char *path, const char *event, const struct fn *fns, size_t n)
{
	struct session_event_totals totals = { 0 };
	struct event_spec e;
	struct profile p;
	struct session *s;
	char *err = NULL;
	uint32_t host, thread, image;
	int fd;

	snprintf(path, 64, "/tmp/domprof-test-diff-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse(event, NULL, &e, NULL), 0);
	assert_int_equal(session__write_events(s, &e, 1), 0);
	event_spec__release(&e);
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	thread = profile__thread(&p, host, 10, 10, "app", ROLE_TASK, -1);
	image = profile__image(&p, host, "/usr/bin/app", NULL, IMAGE_ELF);
	for (size_t i = 0; i < n; i++) {
		struct sample_key k = { .event = 1, .domain = host, .layer = LAYER_USER, .thread = thread, .image = image,
					.symbol = profile__symbol(&p, image, fns[i].name, 0x1000 * (i + 1), 0x100),
					.address = 0x1000 * (i + 1) + 4, .origin = ORIGIN_HOST };
		profile__add_sample(&p, &k, fns[i].ms, fns[i].ms * MS);
		totals.samples += fns[i].ms;
		totals.period += fns[i].ms * MS;
	}
	assert_int_equal(session__write_flush(s, &p, &totals, 1, NULL), 0);
	assert_int_equal(session__write_end(s, 0, true), 0);
	session__close(s);
	profile__release(&p);
}

static int setup(void **state)
{
	/* a: 1000 ms; b: 800 ms, with new_fn and without clear_page. */
	static const struct fn a[] = { { "main", 600 }, { "helper", 100 }, { "clear_page", 300 } };
	static const struct fn b[] = { { "main", 300 }, { "helper", 300 }, { "new_fn", 200 } };
	static const struct fn c[] = { { "main", 5 } };
	(void)state;
	write_session(path_a, "cpu-clock", a, ARRAY_SIZE(a));
	write_session(path_b, "cpu-clock", b, ARRAY_SIZE(b));
	write_session(path_c, "page-faults", c, ARRAY_SIZE(c));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path_a);
	unlink(path_b);
	unlink(path_c);
	return 0;
}

static struct session *open_session(const char *path)
{
	struct session *s;
	char *err = NULL;
	assert_int_equal(session__open(path, true, &s, &err), 0);
	return s;
}

static void by_symbol(struct report_query *q)
{
	char *err = NULL;
	memset(q, 0, sizeof(*q));
	assert_int_equal(report_query__parse_keys(q, "symbol", &err), 0);
}

static const struct diff_row *row_named(const struct diff_table *t, const char *symbol)
{
	for (size_t i = 0; i < t->n_rows; i++)
		if (streq(t->rows[i].keys[0], symbol))
			return &t->rows[i];
	return NULL;
}

static void test_join_and_sort(void **state)
{
	struct session *a = open_session(path_a), *b = open_session(path_b);
	struct report_query q;
	struct diff_table t;
	const struct diff_row *r;
	char *err = NULL;
	(void)state;

	by_symbol(&q);
	assert_int_equal(diff_table__compute(a, b, &q, 0, 0, &t, &err), 0);
	assert_int_equal(t.n_events, 1);
	assert_string_equal(t.events[0], "cpu-clock");
	assert_true(t.total_a[0] == 1000.0 * MS);
	assert_true(t.total_b[0] == 800.0 * MS);
	assert_int_equal(t.n_rows, 4);
	r = row_named(&t, "main");
	assert_true(r->a[0] == 600.0 * MS && r->b[0] == 300.0 * MS);
	assert_true(fabs(r->a_pct[0] - 60.0) < 1e-9 && fabs(r->b_pct[0] - 37.5) < 1e-9);
	/* On one side only: absent (NAN) on the other, not zero. */
	r = row_named(&t, "clear_page");
	assert_true(r->a[0] == 300.0 * MS && isnan(r->b[0]));
	r = row_named(&t, "new_fn");
	assert_true(isnan(r->a[0]) && r->b[0] == 200.0 * MS);
	/* By the size of the change: main and clear_page (300 ms, then by
	 * name), then helper and new_fn (200 ms). */
	assert_string_equal(t.rows[0].keys[0], "clear_page");
	assert_string_equal(t.rows[1].keys[0], "main");
	assert_string_equal(t.rows[2].keys[0], "helper");
	assert_string_equal(t.rows[3].keys[0], "new_fn");
	diff_table__release(&t);
	session__close(a);
	session__close(b);
}

static void test_per_unit_of_work(void **state)
{
	struct session *a = open_session(path_a), *b = open_session(path_b);
	struct report_query q;
	struct diff_table t;
	const struct diff_row *r;
	char *err = NULL;
	(void)state;

	/* a moved 2 units, b 4: per unit, main went from 300 to 75 ms. */
	by_symbol(&q);
	assert_int_equal(diff_table__compute(a, b, &q, 2, 4, &t, &err), 0);
	assert_true(t.total_a[0] == 500.0 * MS && t.total_b[0] == 200.0 * MS);
	r = row_named(&t, "main");
	assert_true(r->a[0] == 300.0 * MS && r->b[0] == 75.0 * MS);
	/* Shares do not depend on the unit. */
	assert_true(fabs(r->a_pct[0] - 60.0) < 1e-9 && fabs(r->b_pct[0] - 37.5) < 1e-9);
	diff_table__release(&t);
	session__close(a);
	session__close(b);
}

static void test_threshold_and_limit(void **state)
{
	struct session *a = open_session(path_a), *b = open_session(path_b);
	struct report_query q;
	struct diff_table t;
	char *err = NULL;
	(void)state;

	/* 30 %: main (60 | 37.5), clear_page (30 | -), helper (10 | 37.5);
	 * new_fn (- | 25) is below on both sides. */
	by_symbol(&q);
	q.threshold = 30;
	assert_int_equal(diff_table__compute(a, b, &q, 0, 0, &t, &err), 0);
	assert_int_equal(t.n_rows_before_cut, 4);
	assert_int_equal(t.n_rows, 3);
	assert_null(row_named(&t, "new_fn"));
	diff_table__release(&t);

	q.threshold = 0;
	q.limit = 1;
	assert_int_equal(diff_table__compute(a, b, &q, 0, 0, &t, &err), 0);
	assert_int_equal(t.n_rows, 1);
	assert_string_equal(t.rows[0].keys[0], "clear_page");
	diff_table__release(&t);
	session__close(a);
	session__close(b);
}

static void test_no_common_event(void **state)
{
	struct session *a = open_session(path_a), *c = open_session(path_c);
	struct report_query q;
	struct diff_table t;
	char *err = NULL;
	(void)state;

	by_symbol(&q);
	assert_int_equal(diff_table__compute(a, c, &q, 0, 0, &t, &err), -ENOENT);
	assert_non_null(strstr(err, "no event in common"));
	free(err);
	session__close(a);
	session__close(c);
}

static char *render(const struct diff_table *t, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (json)
		diff_table__print_json(t, "a.db", "b.db", f);
	else
		diff_table__print_csv(t, f);
	fclose(f);
	return buf;
}

static void test_csv_and_json(void **state)
{
	struct session *a = open_session(path_a), *b = open_session(path_b);
	struct report_query q;
	struct diff_table t;
	char *err = NULL, *out;
	(void)state;

	by_symbol(&q);
	assert_int_equal(diff_table__compute(a, b, &q, 0, 0, &t, &err), 0);
	out = render(&t, false);
	assert_non_null(strstr(out, "symbol,cpu-clock:a,cpu-clock:b,cpu-clock:a_percent,cpu-clock:b_percent,"
				    "cpu-clock:delta,cpu-clock:ratio\n"));
	/* main: 600 ms -> 300 ms, ratio 0.5; clear_page went to nothing
	 * (ratio 0); new_fn came from nothing (no ratio). */
	assert_non_null(strstr(out, "\nmain,6e+08,3e+08,60,37.5,-3e+08,0.5\n"));
	assert_non_null(strstr(out, "\nclear_page,3e+08,0,30,0,-3e+08,0\n"));
	assert_non_null(strstr(out, "\nnew_fn,0,2e+08,0,25,2e+08,\n"));
	free(out);
	out = render(&t, true);
	assert_non_null(strstr(out, "\"main\""));
	assert_non_null(strstr(out, "cpu-clock"));
	free(out);
	diff_table__release(&t);
	session__close(a);
	session__close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_and_sort),
		cmocka_unit_test(test_per_unit_of_work),
		cmocka_unit_test(test_threshold_and_limit),
		cmocka_unit_test(test_no_common_event),
		cmocka_unit_test(test_csv_and_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

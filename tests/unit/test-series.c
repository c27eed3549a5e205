/* A rotating recording's sessions: names by start time in order, only
 * the series' files listed and removed, retention by count and by size;
 * and several sessions read as one (merge.c): shared names become one
 * row, counts and totals add up, timelines land at their offsets, and
 * sessions of other events are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/session/internal.h"
#include "lib/session/series.h"
#include "lib/util/util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/domprof-test-series-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void touch(const char *name, size_t bytes)
{
	char path[160];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	for (size_t i = 0; i < bytes; i++)
		fputc('x', f);
	fclose(f);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_names_and_retention(void **state)
{
	char *path, **paths, want[160];
	size_t n, removed;
	(void)state;
	/* 2026-12-02 14:00:00 UTC. */
	assert_int_equal(session_series__next_path(dir, 1796220000, &path), 0);
	snprintf(want, sizeof(want), "%s/domprof-20261202-140000.db", dir);
	assert_string_equal(path, want);
	touch("domprof-20261202-140000.db", 100);
	free(path);
	/* The same second again: _1, then _2; listed after it, in order. */
	assert_int_equal(session_series__next_path(dir, 1796220000, &path), 0);
	assert_non_null(strstr(path, "domprof-20261202-140000_1.db"));
	free(path);
	touch("domprof-20261202-140000_1.db", 100);
	touch("domprof-20261202-140000_10.db", 100);
	touch("domprof-20261202-135959.db", 100);
	touch("domprof-20261202-140001.db", 100);
	touch("notes.txt", 100);
	touch("domprof-2026.db", 100);
	touch("domprof-20261202-140002.db.old", 100);
	assert_false(session_series__is_name("domprof-20261202-140000_0.db"));
	assert_int_equal(session_series__list(dir, &paths, &n), 0);
	assert_int_equal(n, 5);
	assert_non_null(strstr(paths[0], "135959.db"));
	assert_non_null(strstr(paths[1], "140000.db"));
	assert_non_null(strstr(paths[2], "140000_1.db"));
	assert_non_null(strstr(paths[3], "140000_10.db"));
	assert_non_null(strstr(paths[4], "140001.db"));
	/* Keep 3: the two oldest go, the current one never does. */
	assert_int_equal(session_series__retain(dir, paths[0], 3, 0, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(access(paths[0], F_OK), 0);
	assert_int_not_equal(access(paths[1], F_OK), 0);
	assert_int_not_equal(access(paths[2], F_OK), 0);
	session_series__list_free(paths);
	/* At most 250 bytes: 3 x 100 is too much, the oldest (not current) goes. */
	assert_int_equal(session_series__list(dir, &paths, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(session_series__retain(dir, paths[2], 0, 250, &removed), 0);
	assert_int_equal(removed, 1);
	session_series__list_free(paths);
	assert_int_equal(session_series__list(dir, &paths, &n), 0);
	assert_int_equal(n, 2);
	session_series__list_free(paths);
	/* Other files are never touched. */
	snprintf(want, sizeof(want), "%s/notes.txt", dir);
	assert_int_equal(access(want, F_OK), 0);
	snprintf(want, sizeof(want), "%s/domprof-20261202-140002.db.old", dir);
	assert_int_equal(access(want, F_OK), 0);
}

/* A session of one host thread in a function and a VM's vCPU, starting at
 * start_ns, with count samples of each and one timeline bucket. */
static void write_session(const char *name, const char *event, uint64_t start_ns, bool vm_first, int count)
{
	char path[160];
	struct session *s;
	struct profile p;
	struct event_spec e;
	char *err = NULL;
	struct session_run run = { .start_ns = start_ns, .have_start = true, .timeline_bucket_ns = 100000000 };
	struct session_event_totals totals = { 2 * (uint64_t)count, 2 * (uint64_t)count * 1000, 1 };
	struct sample_key k = { .event = 1, .layer = LAYER_USER, .origin = ORIGIN_HOST };
	struct timeline_key tk = { .event = 1, .layer = LAYER_USER, .origin = ORIGIN_HOST, .bucket = 3 };
	uint32_t vm, img;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse(event, NULL, &e, NULL), 0);
	assert_int_equal(session__write_events(s, &e, 1), 0);
	event_spec__release(&e);
	assert_int_equal(session__write_run(s, &run), 0);
	profile__init(&p);
	/* The VM first in one session, second in the other: ids differ. */
	if (vm_first) {
		vm = profile__domain(&p, "web", true);
		k.domain = profile__domain(&p, "host", false);
	} else {
		k.domain = profile__domain(&p, "host", false);
		vm = profile__domain(&p, "web", true);
	}
	img = profile__image(&p, k.domain, "/bin/work", NULL, IMAGE_ELF);
	k.image = img;
	k.symbol = profile__symbol(&p, img, "work_loop", 0x1000, 0x40);
	k.thread = profile__thread(&p, k.domain, 10, 10, "work", ROLE_TASK, -1);
	profile__add_sample(&p, &k, (uint64_t)count, (uint64_t)count * 1000);
	tk.domain = k.domain;
	profile__add_timeline(&p, &tk, (uint64_t)count, (uint64_t)count * 1000);
	k.domain = vm;
	k.layer = LAYER_GUEST;
	k.image = k.symbol = 0;
	k.thread = profile__thread(&p, vm, 20, 21, "CPU 0/KVM", ROLE_VCPU, 0);
	profile__add_sample(&p, &k, (uint64_t)count, (uint64_t)count * 1000);
	assert_int_equal(session__write_flush(s, &p, &totals, 1, NULL), 0);
	assert_int_equal(session__write_span(s, start_ns, start_ns + 1000000000), 0);
	assert_int_equal(session__write_end(s, 1, true), 0);
	session__close(s);
	profile__release(&p);
}

static void test_merge(void **state)
{
	char a[160], b[160], c[160], *paths[2], *err = NULL, *list;
	struct session *m;
	sqlite3 *db;
	(void)state;
	write_session("domprof-20261202-150000.db", "cpu-clock", 5000000000ull, false, 3);
	write_session("domprof-20261202-150001.db", "cpu-clock", 6000000000ull, true, 4);
	snprintf(a, sizeof(a), "%s/domprof-20261202-150000.db", dir);
	snprintf(b, sizeof(b), "%s/domprof-20261202-150001.db", dir);
	assert_int_equal(session__open_input(dir, &m, &err), 0);
	db = session__db(m);
	/* One host, one VM, one thread each, one image, one function. */
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM domains"), 2);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM threads"), 2);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM images"), 1);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM symbols"), 1);
	/* Counts add up per domain, whatever each session's ids were. */
	assert_int_equal(query_int(db, "SELECT SUM(count) FROM samples s JOIN domains d ON d.id = s.domain_id"
				       " WHERE d.name = 'host' AND s.symbol_id = (SELECT id FROM symbols)"), 7);
	assert_int_equal(query_int(db, "SELECT SUM(count) FROM samples s JOIN domains d ON d.id = s.domain_id"
				       " JOIN threads t ON t.id = s.thread_id WHERE d.name = 'web' AND t.comm = 'CPU 0/KVM'"),
			 7);
	assert_int_equal(query_int(db, "SELECT samples FROM events WHERE id = 1"), 14);
	assert_int_equal(query_int(db, "SELECT lost FROM events WHERE id = 1"), 2);
	/* The second session's bucket 3 is one second (10 buckets) later. */
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM timeline WHERE bucket = 3"), 1);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM timeline WHERE bucket = 13"), 1);
	assert_int_equal(query_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'duration_ns'"),
			 2000000000);
	assert_int_equal(query_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'merged_sessions'"), 2);
	session__close(m);

	/* A list names the same; one path is that session alone. */
	list = xasprintf("%s,%s", a, b);
	assert_int_equal(session__open_input(list, &m, &err), 0);
	assert_int_equal(query_int(session__db(m), "SELECT SUM(count) FROM samples"), 14);
	session__close(m);
	free(list);
	paths[0] = a;
	assert_int_equal(session__open_many("a", paths, 1, &m, &err), 0);
	assert_int_equal(query_int(session__db(m), "SELECT SUM(count) FROM samples"), 6);
	session__close(m);

	/* Another event: refused, naming the session. */
	write_session("other.db", "task-clock", 7000000000ull, false, 1);
	snprintf(c, sizeof(c), "%s/other.db", dir);
	paths[0] = a;
	paths[1] = c;
	assert_int_equal(session__open_many("x", paths, 2, &m, &err), -EINVAL);
	assert_non_null(strstr(err, "other.db"));
	free(err);
	err = NULL;
	/* A directory without sessions says so. */
	assert_int_equal(session__open_input("/proc/self", &m, &err), -ENOENT);
	assert_non_null(strstr(err, "holds no sessions"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_and_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

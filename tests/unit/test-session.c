/* Session files: a profile written in several flushes reads back with the
 * same totals; reopening; files that are not sessions or are newer; files
 * private to their owner; sums that pass 2^63 saturate instead of failing
 * every query; and a session of schema 1 (before idle was a domain) read
 * with its idle samples found by the recorder's rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/session/catalog.h"
#include "lib/session/internal.h"
#include "lib/util/util.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/domprof-test-session-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
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

static void test_roundtrip(void **state)
{
	char path[128];
	struct session *s;
	struct profile p;
	struct event_spec e;
	char *err = NULL;
	struct sample_key k = { .event = 1, .layer = LAYER_KERNEL };
	uint32_t host, img, sym;

	snprintf(path, sizeof(path), "%s/a.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(session__create(path, &s, &err), -EEXIST);
	free(err);
	err = NULL;
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	assert_int_equal(session__add_event(s, 1, &e), 0);
	event_spec__release(&e);
	assert_int_equal(session__set_meta(s, "hostname", "h1"), 0);

	profile__init(&p);
	host = profile__domain(&p, "host", false);
	img = profile__image(&p, host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	sym = profile__symbol(&p, img, "tcp_v4_rcv", 0xffffffff81a00000ULL, 0x400);
	k.domain = host;
	k.image = img;
	k.symbol = sym;
	k.thread = profile__thread(&p, host, 1, 1, "init", ROLE_TASK, -1);
	k.address = 0xffffffff81a00010ULL;
	/* Three flushes, the same counter growing in each; a second counter
	 * appears in the second flush and grows in the third (updates of
	 * written rows and new rows in one flush). */
	for (int flush = 0; flush < 3; flush++) {
		struct sample_key k2 = k;
		k2.address += 4;
		if (flush > 0)
			profile__add_sample(&p, &k2, 1, 1000000);
		for (int i = 0; i < 10; i++)
			profile__add_sample(&p, &k, 1, 1000000);
		assert_int_equal(session__write_delta(s, &p), 0);
	}
	assert_int_equal(session__set_event_totals(s, 1, 30, 30000000, 2), 0);
	assert_int_equal(session__finish(s), 0);
	session__close(s);
	profile__release(&p);

	/* One self-contained file: no WAL left after finish. */
	{
		char wal[160];
		snprintf(wal, sizeof(wal), "%s-wal", path);
		assert_int_not_equal(access(wal, F_OK), 0);
	}
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(count) FROM samples"), 32);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(period) FROM samples"), 32000000);
	assert_int_equal(query_int(session__db(s), "SELECT COUNT(*) FROM samples"), 2);
	assert_int_equal(query_int(session__db(s), "SELECT count FROM samples WHERE id=1"), 30);
	assert_int_equal(query_int(session__db(s), "SELECT count FROM samples WHERE id=2"), 2);
	/* Kernel addresses survive the signed storage. */
	assert_int_equal((uint64_t)query_int(session__db(s), "SELECT address FROM samples WHERE id=1"),
			 0xffffffff81a00010ULL);
	assert_int_equal(query_int(session__db(s), "SELECT lost FROM events WHERE id=1"), 2);
	{
		char *h = session__get_meta(s, "hostname");
		assert_string_equal(h, "h1");
		free(h);
		assert_null(session__get_meta(s, "nope"));
	}
	session__close(s);
}

static void test_not_a_session(void **state)
{
	char path[128];
	struct session *s;
	char *err = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/text.db", dir);
	assert_int_equal(write_file(path, "hello, this is not sqlite at all, just some text\n", 50), 0);
	assert_int_equal(session__open(path, true, &s, &err), -EBADMSG);
	assert_non_null(strstr(err, "is not a domprof session"));
	free(err);

	/* A valid SQLite database that is not ours. */
	snprintf(path, sizeof(path), "%s/other.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(session__open(path, true, &s, &err), -EBADMSG);
	assert_non_null(strstr(err, "not a domprof session"));
	free(err);

	/* A newer schema. */
	snprintf(path, sizeof(path), "%s/new.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	session__finish(s);
	session__close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(session__open(path, true, &s, &err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "newer domprof"));
	free(err);

	/* Missing file. */
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	assert_int_equal(session__open(path, true, &s, &err), -ENOENT);
	free(err);

	/* Truncated file: the first 1000 bytes of a session. */
	{
		char full[128], *data;
		size_t len;
		snprintf(full, sizeof(full), "%s/a.db", dir);
		assert_int_equal(read_file(full, &data, &len), 0);
		snprintf(path, sizeof(path), "%s/trunc.db", dir);
		assert_int_equal(write_file(path, data, 1000), 0);
		free(data);
		assert_true(session__open(path, true, &s, &err) < 0);
		assert_non_null(err);
		free(err);
	}
}

/* meta.command_line as typed: new sessions store "domprof record ...", those
 * of early builds "record ..."; readers get the former from both. */
static void test_command_line(void **state)
{
	char path[128], *err = NULL, *c;
	struct session *s;

	snprintf(path, sizeof(path), "%s/cmdline.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_null(session__command_line(s));
	session__set_meta(s, "command_line", "record -a -d 1");
	c = session__command_line(s);
	assert_string_equal(c, "domprof record -a -d 1");
	free(c);
	session__set_meta(s, "command_line", "domprof record -a -d 1");
	c = session__command_line(s);
	assert_string_equal(c, "domprof record -a -d 1");
	free(c);
	session__close(s);
	c = session_command_line__as_typed("domprofx record");
	assert_string_equal(c, "domprof domprofx record");
	free(c);
	assert_null(session_command_line__as_typed(NULL));
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Sessions hold code bytes and command lines: 0600, as perf.data, with
 * their WAL and shared memory files and the .old a new recording leaves. */
static void test_private_files(void **state)
{
	char path[128], aux[160];
	struct session *s;
	char *err = NULL;
	mode_t old_umask = umask(0);
	snprintf(path, sizeof(path), "%s/private.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(session__set_meta(s, "k", "v"), 0);
	assert_int_equal(mode_of(path), 0600);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	assert_int_equal(mode_of(aux), 0600);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	assert_int_equal(mode_of(aux), 0600);
	session__finish(s);
	session__close(s);
	/* An old session readable by all becomes .old, private. */
	assert_int_equal(chmod(path, 0644), 0);
	session__keep_old(path);
	snprintf(aux, sizeof(aux), "%s.old", path);
	assert_int_equal(mode_of(aux), 0600);
	/* A symbolic link where the session goes is not followed. */
	assert_int_equal(symlink(aux, path), 0);
	assert_true(session__create(path, &s, &err) < 0);
	free(err);
	umask(old_umask);
}

/* A reader of the live session (another process: a report, a script)
 * is in the middle of a read when the recording ends: the end waits for it
 * and then leaves one self-contained file, instead of failing (leaving WAL
 * mode fails at once, without the busy handler, while a read is open). */
static void test_finish_waits_for_reader(void **state)
{
	char path[128], wal[160];
	struct session *s;
	char *err = NULL;
	int ready[2];
	pid_t child;
	char c;
	uint64_t t0;
	snprintf(path, sizeof(path), "%s/reader.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(session__set_meta(s, "k", "v"), 0);
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		sqlite3 *db;
		/* In the middle of a read (a query that takes its time). */
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    query_int(db, "SELECT COUNT(*) FROM meta") < 1)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		usleep(4500000); /* past the busy handler's 2 s, twice */
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	t0 = clock_monotonic_ns();
	assert_int_equal(session__finish(s), 0);
	/* It waited for the reader (it let go after 4.5 s). */
	assert_true(clock_monotonic_ns() - t0 > 4000000000ULL);
	session__close(s);
	{
		int status;
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_not_equal(access(wal, F_OK), 0);
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_int_equal(query_int(session__db(s), "PRAGMA journal_mode = DELETE") >= 0, 1);
	session__close(s);
}

/* Two rows near 2^63 (a hostile agent's, in a session from before their
 * totals were checked): SQLite's own SUM fails the whole query with
 * "integer overflow"; sessions' SUM saturates, and other rows stay exact. */
static void test_saturating_sum(void **state)
{
	char path[128];
	struct session *s;
	char *err = NULL;
	snprintf(path, sizeof(path), "%s/overflow.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(sqlite3_exec(session__db(s),
				      "CREATE TABLE t(d, v); INSERT INTO t VALUES(1, 9223372036854775000),"
				      "(1, 9223372036854775000), (2, 5), (2, 7), (3, NULL), (4, 1.5), (4, 2);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(query_int(session__db(s), "SELECT SUM(v) FROM t WHERE d = 1") == INT64_MAX);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(v) FROM t WHERE d = 2"), 12);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(v) IS NULL FROM t WHERE d = 3"), 1);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(v) = 3.5 FROM t WHERE d = 4"), 1);
	assert_int_equal(query_int(session__db(s), "SELECT COUNT(*) FROM (SELECT d, SUM(v) FROM t GROUP BY d)"), 4);
	session__close(s);
	/* Reopened read-only, as reports do. */
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_true(query_int(session__db(s), "SELECT SUM(v) FROM t") == INT64_MAX);
	session__close(s);
}

/* A session as schema 1 wrote it: the same tables, the idle task's samples
 * in host kernel. Host kernel: the idle task in intel_idle (1000) and in
 * do_idle (2000), in __do_softirq (4000), with no symbol (8000); task app
 * in intel_idle (16000: not the idle task). A VM vm1: hypervisor 32000.
 * vm_name names the VM. */
static void make_v1_session(const char *path, const char *vm_name)
{
	struct session *s;
	struct profile p;
	struct event_spec e;
	char *err = NULL;
	sqlite3 *db;
	uint32_t host, vm, swapper, app, vcpu, k;
	struct timeline_key tk = { .event = 1, .layer = LAYER_KERNEL };

	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	assert_int_equal(session__add_event(s, 1, &e), 0);
	event_spec__release(&e);
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	vm = profile__domain(&p, vm_name, true);
	swapper = profile__thread(&p, host, 0, 0, "swapper", ROLE_TASK, -1);
	app = profile__thread(&p, host, 70, 70, "app", ROLE_TASK, -1);
	vcpu = profile__thread(&p, vm, 90, 91, "CPU 0/KVM", ROLE_VCPU, 0);
	k = profile__image(&p, host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	{
		struct sample_key sk[] = {
			{ .thread = swapper, .symbol = profile__symbol(&p, k, "intel_idle", 0x1000, 16) },
			{ .thread = swapper, .symbol = profile__symbol(&p, k, "do_idle", 0x2000, 16) },
			{ .thread = swapper, .symbol = profile__symbol(&p, k, "__do_softirq", 0x3000, 16) },
			{ .thread = swapper, .symbol = 0, .address = 0x9000 },
			{ .thread = app, .symbol = profile__symbol(&p, k, "intel_idle", 0x1000, 16) },
			{ .thread = vcpu, .symbol = profile__symbol(&p, k, "vmx_vcpu_run", 0x4000, 16) },
		};
		for (size_t i = 0; i < ARRAY_SIZE(sk); i++) {
			sk[i].event = 1;
			sk[i].domain = sk[i].thread == vcpu ? vm : host;
			sk[i].layer = sk[i].thread == vcpu ? LAYER_HYPERVISOR : LAYER_KERNEL;
			sk[i].image = k;
			profile__add_sample(&p, &sk[i], 1, 1000ULL << i);
		}
	}
	tk.domain = host;
	profile__add_timeline(&p, &tk, 5, 31000);
	assert_int_equal(session__write_delta(s, &p), 0);
	session__finish(s);
	session__close(s);
	profile__release(&p);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1; UPDATE meta SET value='1' WHERE key='schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}

static void test_schema1_idle_on_read(void **state)
{
	char path[128];
	struct session *s;
	char *err = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/v1.db", dir);
	make_v1_session(path, "vm1");
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_int_equal(session__idle(s), SESSION_IDLE_ON_READ);
	assert_non_null(strstr(session__idle_note(s), "found on reading"));
	db = session__db(s);
	/* The idle task in the idle loop: idle; everything else as it was. */
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM domains WHERE name='idle' AND kind='idle'"), 1);
	assert_int_equal(query_int(db, "SELECT SUM(s.period) FROM samples s JOIN domains d ON d.id=s.domain_id"
				       " WHERE d.name='idle' AND s.layer='idle'"),
			 1000 + 2000);
	assert_int_equal(query_int(db, "SELECT SUM(s.period) FROM samples s JOIN domains d ON d.id=s.domain_id"
				       " WHERE d.name='host' AND s.layer='kernel'"),
			 4000 + 8000 + 16000);
	assert_int_equal(query_int(db, "SELECT SUM(period) FROM samples WHERE layer='hypervisor'"), 32000);
	assert_int_equal(query_int(db, "SELECT SUM(period) FROM samples"), 63000);
	/* The timeline has no thread or function: it stays as recorded. */
	assert_int_equal(query_int(db, "SELECT SUM(period) FROM timeline WHERE layer='kernel'"), 31000);
	session__close(s);
	/* The file itself is untouched: still schema 1, idle in host kernel. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(query_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM domains WHERE name='idle'"), 0);
	assert_int_equal(query_int(db, "SELECT COUNT(*) FROM samples WHERE layer='idle'"), 0);
	sqlite3_close(db);

	/* Schema 1 did not reserve the name: a VM called idle keeps it, and
	 * the rule is not applied (said in the note). */
	snprintf(path, sizeof(path), "%s/v1-vm-idle.db", dir);
	make_v1_session(path, "idle");
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_int_equal(session__idle(s), SESSION_IDLE_NOT_FOUND);
	assert_non_null(strstr(session__idle_note(s), "could not be applied"));
	assert_int_equal(query_int(session__db(s), "SELECT COUNT(*) FROM samples WHERE layer='idle'"), 0);
	assert_int_equal(query_int(session__db(s), "SELECT SUM(period) FROM samples WHERE layer='kernel'"), 31000);
	session__close(s);

	/* A session of this schema: classified when recorded, no note. */
	snprintf(path, sizeof(path), "%s/v2.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	session__finish(s);
	session__close(s);
	assert_int_equal(session__open(path, true, &s, &err), 0);
	assert_int_equal(session__idle(s), SESSION_IDLE_RECORDED);
	assert_null(session__idle_note(s));
	assert_int_equal(query_int(session__db(s), "PRAGMA user_version"), SESSION_SCHEMA_VERSION);
	session__close(s);
}

/* The catalog's one policy for a damaged session: what ids name, a cycle
 * of frames, and ids far past the row count. */
static void test_catalog_policy(void **state)
{
	char path[128];
	struct session *s;
	struct session_catalog c;
	struct profile p;
	struct event_spec e;
	struct sample_key k = { .event = 1, .layer = LAYER_USER };
	uint32_t *ids = NULL, outer, inner;
	size_t cap = 0;
	char *err = NULL;
	(void)state;

	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	assert_int_equal(session__write_events(s, &e, 1), 0);
	event_spec__release(&e);
	profile__init(&p);
	k.domain = profile__domain(&p, "host", false);
	k.thread = profile__thread(&p, k.domain, 7, 8, "app", ROLE_TASK, -1);
	k.image = profile__image(&p, k.domain, "/usr/bin/app", NULL, IMAGE_ELF);
	k.symbol = profile__symbol(&p, k.image, "leaf", 0x1000, 0x10);
	outer = profile__frame(&p, 0, k.image, profile__symbol(&p, k.image, "main", 0x2000, 0x10), 0x2000);
	inner = profile__frame(&p, outer, k.image, k.symbol, 0x1000);
	k.stack = inner;
	profile__add_sample(&p, &k, 1, 1000);
	assert_int_equal(session__write_delta(s, &p), 0);
	profile__release(&p);

	assert_int_equal(session_catalog__load(s, CATALOG_ALL, &c, &err), 0);
	assert_string_equal(session_catalog__domain_name(&c, k.domain), "host");
	assert_string_equal(session_catalog__domain_name(&c, 99), "[unknown]");
	assert_string_equal(session_catalog__thread(&c, k.thread)->comm, "app");
	assert_int_equal(session_catalog__thread(&c, k.thread)->tid, 8);
	assert_string_equal(session_catalog__image(&c, k.image)->base, "app");
	assert_null(session_catalog__symbol(&c, 0));
	assert_int_equal(session_catalog__stack(&c, inner, &ids, &cap), 2);
	assert_int_equal(ids[0], inner);
	assert_int_equal(ids[1], outer);
	session_catalog__release(&c);

	/* The frames made a cycle: the walk stops after as many frames as
	 * the table has room for. */
	assert_int_equal(sqlite3_exec(session__db(s),
				      "UPDATE frames SET parent_id = (SELECT MAX(id) FROM frames) WHERE parent_id IS NULL",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(session_catalog__load(s, CATALOG_ALL, &c, &err), 0);
	assert_int_equal(session_catalog__stack(&c, inner, &ids, &cap), c.n_frames);
	session_catalog__release(&c);

	/* Ids far past the row count: refused, not allocated for. */
	assert_int_equal(sqlite3_exec(session__db(s), "UPDATE images SET id = 100000000", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(session_catalog__load(s, CATALOG_DOMAINS, &c, &err), 0);
	session_catalog__release(&c);
	assert_int_equal(session_catalog__load(s, CATALOG_ALL, &c, &err), -EBADMSG);
	assert_non_null(strstr(err, "is damaged: the ids of its images table are not 1, 2, 3..."));
	assert_null(c.domains);
	free(err);
	free(ids);
	session__close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_catalog_policy),
		cmocka_unit_test(test_not_a_session),
		cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_private_files),
		cmocka_unit_test(test_finish_waits_for_reader),
		cmocka_unit_test(test_saturating_sum),
		cmocka_unit_test(test_schema1_idle_on_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

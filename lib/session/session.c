/* SQLite session files; see session.h and docs/session-format.md.
 *
 * Addresses are unsigned 64-bit but SQLite integers are signed: they are
 * stored as the same 64 bits (kernel addresses read back negative in raw
 * SQL; printf('%x', address) shows them as expected). */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../domain/idle.h"
#include "../util/util.h"
#include "internal.h"

/* Two tables a schema 1 session's reader shadows (see session__idle). */
#define DOMAINS_TABLE                                                                                  \
	"domains(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,\n"                \
	"  pid INTEGER, vmm TEXT, accel TEXT, uuid TEXT, source TEXT, complete INTEGER NOT NULL DEFAULT 1,\n" \
	"  clock_offset_ns INTEGER, start_skew_ns INTEGER, note TEXT)"
#define SAMPLES_TABLE                                                                                       \
	"samples(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, domain_id INTEGER NOT NULL,\n"                \
	"  layer TEXT NOT NULL, thread_id INTEGER, image_id INTEGER, symbol_id INTEGER, address INTEGER,\n"       \
	"  stack_id INTEGER, origin TEXT NOT NULL, count INTEGER NOT NULL, period INTEGER NOT NULL)"

static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;\n"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, name TEXT NOT NULL, unit TEXT NOT NULL,\n"
	"  type INTEGER, config INTEGER, config1 INTEGER, config2 INTEGER, sample_period INTEGER,\n"
	"  sample_freq INTEGER, exclude_user INTEGER, exclude_kernel INTEGER, exclude_guest INTEGER,\n"
	"  exclude_host INTEGER, samples INTEGER NOT NULL DEFAULT 0, period INTEGER NOT NULL DEFAULT 0,\n"
	"  lost INTEGER NOT NULL DEFAULT 0);\n"
	"CREATE TABLE " DOMAINS_TABLE ";\n"
	"CREATE TABLE threads(id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL, pid INTEGER, tid INTEGER,\n"
	"  comm TEXT NOT NULL, role TEXT NOT NULL, vcpu INTEGER);\n"
	"CREATE TABLE images(id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL, path TEXT NOT NULL,\n"
	"  build_id TEXT, kind TEXT NOT NULL);\n"
	"CREATE TABLE symbols(id INTEGER PRIMARY KEY, image_id INTEGER NOT NULL, name TEXT NOT NULL,\n"
	"  address INTEGER NOT NULL, size INTEGER NOT NULL);\n"
	"CREATE TABLE frames(id INTEGER PRIMARY KEY, parent_id INTEGER, image_id INTEGER, symbol_id INTEGER,\n"
	"  address INTEGER NOT NULL);\n"
	"CREATE TABLE " SAMPLES_TABLE ";\n"
	"CREATE TABLE timeline(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, domain_id INTEGER NOT NULL,\n"
	"  layer TEXT NOT NULL, origin TEXT NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,\n"
	"  period INTEGER NOT NULL);\n"
	"CREATE TABLE lost(domain_id INTEGER NOT NULL, cpu INTEGER NOT NULL, samples INTEGER NOT NULL,\n"
	"  lost INTEGER NOT NULL, PRIMARY KEY(domain_id, cpu)) WITHOUT ROWID;\n"
	"CREATE TABLE symbol_code(symbol_id INTEGER PRIMARY KEY, address INTEGER NOT NULL, code BLOB NOT NULL);\n"
	"CREATE TABLE symbol_lines(symbol_id INTEGER NOT NULL, address INTEGER NOT NULL, file TEXT NOT NULL,\n"
	"  line INTEGER NOT NULL, PRIMARY KEY(symbol_id, address)) WITHOUT ROWID;\n";

int session_sql_error(int rc)
{
	if (rc == SQLITE_FULL)
		return -ENOSPC;
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	if (rc == SQLITE_READONLY)
		return -EROFS;
	return -EIO;
}

int session_exec(struct session *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : session_sql_error(rc);
}

static void set_error(char **ret_error, const char *fmt, ...) PRINTF(2, 3);
static void set_error(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	if (!ret_error)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	*ret_error = msg;
}

/* SUM() that saturates instead of failing. SQLite's SUM stops a whole
 * query with "integer overflow" when the total passes 2^63; one domain's
 * damaged or hostile rows (a session recorded before agents' totals were
 * checked) would then make every report of the session fail, the host's
 * included. Registered on every connection in place of the built-in, so
 * all report SQL keeps its plain SUM(); it behaves the same below the
 * limit and clamps at INT64_MIN/INT64_MAX beyond it. */
struct saturating_sum {
	int64_t total;
	double real;
	bool any, is_real;
};

static void sum_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct saturating_sum *s = sqlite3_aggregate_context(ctx, sizeof(*s));
	int type = sqlite3_value_numeric_type(argv[0]);
	(void)argc;
	if (!s || type == SQLITE_NULL)
		return;
	s->any = true;
	if (type == SQLITE_INTEGER) {
		int64_t v = sqlite3_value_int64(argv[0]);
		if (__builtin_add_overflow(s->total, v, &s->total))
			s->total = v < 0 ? INT64_MIN : INT64_MAX;
	} else {
		s->is_real = true;
		s->real += sqlite3_value_double(argv[0]);
	}
}

static void sum_final(sqlite3_context *ctx)
{
	struct saturating_sum *s = sqlite3_aggregate_context(ctx, 0);
	if (!s || !s->any)
		sqlite3_result_null(ctx);
	else if (s->is_real)
		sqlite3_result_double(ctx, s->real + (double)s->total);
	else
		sqlite3_result_int64(ctx, s->total);
}

static void register_functions(sqlite3 *db)
{
	sqlite3_create_function_v2(db, "sum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, NULL, sum_step, sum_final,
				   NULL);
}

/* A session holds host code bytes and command lines: readable by its
 * owner only, as perf.data is. The file is made 0600 before SQLite opens
 * it; SQLite gives its -wal and -shm files the mode of the database. */
static int create_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) {
		int r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	close(fd);
	return 0;
}

/* Before SQLite's first use: no memory statistics. Keeping them takes a
 * global lock around every allocation SQLite makes (an eighth of what a
 * row update costs: 6,500 against 7,500 instructions), and nothing here
 * reads them. SQLite refuses the call once initialised; then it stays as
 * it was. */
static void sqlite_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void sqlite_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_configure);
}

int session__create(const char *path, struct session **ret, char **ret_error)
{
	struct session *s;
	char sql[256];
	int rc, r;

	if (access(path, F_OK) == 0) {
		set_error(ret_error, "%s already exists", path);
		return -EEXIST;
	}
	r = create_private(path);
	if (r < 0) {
		set_error(ret_error, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	sqlite_setup();
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		set_error(ret_error, "cannot create %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		session__close(s);
		unlink(path);
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 2000);
	register_functions(s->db);
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA application_id=%d; "
		 "PRAGMA user_version=%d;",
		 SESSION_APPLICATION_ID, SESSION_SCHEMA_VERSION);
	r = session_exec(s, sql);
	if (r == 0)
		r = session_exec(s, "BEGIN");
	if (r == 0)
		r = session_exec(s, schema_sql);
	if (r == 0)
		r = session_exec(s, "INSERT INTO meta VALUES('format','domprof-session');");
	if (r == 0) {
		snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES('schema_version','%d');", SESSION_SCHEMA_VERSION);
		r = session_exec(s, sql);
	}
	if (r == 0)
		r = session_exec(s, "COMMIT");
	if (r == 0)
		r = session__prepare_writers(s);
	if (r < 0) {
		set_error(ret_error, "cannot create %s: %s", path, sqlite3_errmsg(s->db));
		session__close(s);
		unlink(path);
		return r;
	}
	*ret = s;
	return 0;
}

int session_open_memory(const char *name, struct session **ret)
{
	struct session *s = xcalloc(1, sizeof(*s));
	int r = -ENOMEM;
	s->path = xstrdup(name);
	sqlite_setup();
	if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL) ==
	    SQLITE_OK) {
		register_functions(s->db);
		r = session_exec(s, schema_sql);
		if (r == 0)
			r = session_exec(s, "INSERT INTO meta VALUES('format','domprof-session');");
	}
	if (r < 0) {
		session__close(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* SQL idle_loop_function(name): lib/domain/idle.h's list, for the rule
 * applied on reading. */
static void sql_idle_loop_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *name = argc == 1 ? sqlite3_value_text(argv[0]) : NULL;
	sqlite3_result_int(ctx, name && idle__is_loop_function((const char *)name));
}

static int64_t query_int(struct session *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A schema 1 session read: its idle samples by the recorder's rule (the
 * idle task's host-kernel samples in an idle-loop function), moved to a
 * new "idle" domain in temporary copies of the domains and samples tables
 * that shadow the file's for every later query. Nothing is written to the
 * file. */
static void read_idle_by_rule(struct session *s)
{
#define IDLE_SAMPLES                                                                                     \
	" FROM main.samples s JOIN main.threads t ON t.id=s.thread_id JOIN main.symbols y ON y.id=s.symbol_id" \
	" JOIN main.domains d ON d.id=s.domain_id WHERE s.layer='kernel' AND s.origin='host' AND d.kind='host'" \
	" AND t.pid=0 AND idle_loop_function(y.name)"
#define DOMAIN_COLUMNS "id,name,kind,pid,vmm,accel,uuid,source,complete,clock_offset_ns,start_skew_ns,note"
#define SAMPLE_COLUMNS "id,event_id,domain_id,layer,thread_id,image_id,symbol_id,address,stack_id,origin,count,period"
	static const char shadow[] =
		"CREATE TEMP TABLE " DOMAINS_TABLE ";"
		"INSERT INTO temp.domains(" DOMAIN_COLUMNS ") SELECT " DOMAIN_COLUMNS " FROM main.domains;"
		"INSERT INTO temp.domains(id,name,kind,source,complete)"
		" SELECT COALESCE(MAX(id),0)+1,'idle','idle','host',1 FROM main.domains;"
		"CREATE TEMP TABLE " SAMPLES_TABLE ";"
		"INSERT INTO temp.samples(" SAMPLE_COLUMNS ") SELECT " SAMPLE_COLUMNS " FROM main.samples;"
		"UPDATE temp.samples SET layer='idle', domain_id=(SELECT id FROM temp.domains WHERE kind='idle')"
		" WHERE id IN (SELECT s.id" IDLE_SAMPLES ");";

	s->idle = SESSION_IDLE_NOT_FOUND;
	if (sqlite3_create_function(s->db, "idle_loop_function", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    sql_idle_loop_function, NULL, NULL) != SQLITE_OK)
		return;
	/* A VM of that session took the name (schema 1 did not reserve it). */
	if (query_int(s, "SELECT COUNT(*) FROM main.domains WHERE name='idle'") != 0)
		return;
	switch (query_int(s, "SELECT EXISTS(SELECT 1" IDLE_SAMPLES ")")) {
	case 0:
		s->idle = SESSION_IDLE_ON_READ; /* nothing to move */
		return;
	case 1:
		break;
	default:
		return;
	}
	if (sqlite3_exec(s->db, shadow, NULL, NULL, NULL) == SQLITE_OK) {
		s->idle = SESSION_IDLE_ON_READ;
		return;
	}
	/* Out of temporary space, say: read the file as it is. */
	sqlite3_exec(s->db, "DROP TABLE IF EXISTS temp.domains; DROP TABLE IF EXISTS temp.samples;", NULL, NULL, NULL);
#undef IDLE_SAMPLES
#undef DOMAIN_COLUMNS
#undef SAMPLE_COLUMNS
}

enum session_idle session__idle(const struct session *s) { return s->idle; }

const char *session__idle_note(const struct session *s)
{
	switch (s->idle) {
	case SESSION_IDLE_ON_READ:
		return "recorded before idle was a domain (session schema 1): its idle samples were found on reading, "
		       "by the same rule; its timeline keeps them in host kernel";
	case SESSION_IDLE_NOT_FOUND:
		return "recorded before idle was a domain (session schema 1), and the idle rule could not be applied on "
		       "reading (a VM of it is called idle, or no temporary space): the idle loop stays in host kernel";
	default:
		return NULL;
	}
}

int session__open(const char *path, bool read_only, struct session **ret, char **ret_error)
{
	struct session *s;
	sqlite3_stmt *st = NULL;
	int rc, app_id = 0, version = 0;
	char *format = NULL;

	if (access(path, F_OK) != 0) {
		int e = errno;
		if (e == ENOENT)
			set_error(ret_error, "no session %s: record one with `domprof record -o %s`, or name another with -i FILE",
				  path, path);
		else
			set_error(ret_error, "%s: %s", path, strerror(e));
		return -e;
	}
	s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	/* One thread uses a session at a time: no lock around each call
	 * (they were a fifth of a report's instructions). */
	sqlite_setup();
	rc = sqlite3_open_v2(path, &s->db, (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		set_error(ret_error, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		session__close(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->db, 2000);
	register_functions(s->db);
	rc = sqlite3_prepare_v2(s->db, "PRAGMA application_id", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		app_id = sqlite3_column_int(st, 0);
	else
		rc = sqlite3_errcode(s->db);
	sqlite3_finalize(st);
	if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
		set_error(ret_error, "%s is not a domprof session (not an SQLite database, or a damaged one)", path);
		session__close(s);
		return -EBADMSG;
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		set_error(ret_error, "cannot read %s: %s", path, sqlite3_errmsg(s->db));
		session__close(s);
		return -EIO;
	}
	if (app_id != SESSION_APPLICATION_ID) {
		set_error(ret_error, "%s is an SQLite database but not a domprof session", path);
		session__close(s);
		return -EBADMSG;
	}
	st = NULL;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SESSION_SCHEMA_VERSION) {
		set_error(ret_error,
			  "%s was written by a newer domprof (session schema %d; this build reads up to %d): "
			  "upgrade domprof to read it",
			  path, version, SESSION_SCHEMA_VERSION);
		session__close(s);
		return -EPROTONOSUPPORT;
	}
	format = session__get_meta(s, "format");
	if (version < 1 || !format || !streq(format, "domprof-session")) {
		set_error(ret_error, "%s is not a complete domprof session (its metadata is missing or damaged)",
			  path);
		free(format);
		session__close(s);
		return -EBADMSG;
	}
	free(format);
	if (version < 2) {
		if (read_only)
			read_idle_by_rule(s);
		else
			s->idle = SESSION_IDLE_NOT_FOUND;
	}
	if (!read_only && session__prepare_writers(s) < 0) {
		set_error(ret_error, "cannot write %s: %s", path, sqlite3_errmsg(s->db));
		session__close(s);
		return -EIO;
	}
	*ret = s;
	return 0;
}

/* How long session__finish waits for readers of the session to let go. */
#define FINISH_PATIENCE_NS (10 * 1000000000ULL)

int session__finish(struct session *s)
{
	/* Another process may be reading the session (a report of the live
	 * session, a script polling it). The checkpoint waits for its reads
	 * through the busy handler; leaving WAL mode needs the file to itself
	 * and fails at once while a reader has it open: tried again between
	 * its reads, for up to FINISH_PATIENCE_NS. */
	uint64_t deadline = clock_monotonic_ns() + FINISH_PATIENCE_NS;
	for (;;) {
		int rc, log = -1, done = -1;
		rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return session_sql_error(rc);
		if (clock_monotonic_ns() >= deadline)
			return -EBUSY;
		usleep(20000);
	}
}

void session__close(struct session *s)
{
	if (!s)
		return;
	session__finalize_writers(s);
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s->last_error);
	free(s->path);
	free(s);
}

sqlite3 *session__db(struct session *s) { return s->db; }
const char *session__path(const struct session *s) { return s->path; }
const char *session__error(struct session *s) { return s->last_error ? s->last_error : sqlite3_errmsg(s->db); }

char *session__get_meta(struct session *s, const char *key)
{
	sqlite3_stmt *st;
	char *r = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		r = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return r;
}

char *session_command_line__as_typed(const char *stored)
{
	if (!stored)
		return NULL;
	if (startswith(stored, "domprof ") || streq(stored, "domprof"))
		return xstrdup(stored);
	return xasprintf("domprof %s", stored);
}

char *session__command_line(struct session *s)
{
	_cleanup_free_ char *stored = session__get_meta(s, "command_line");
	return session_command_line__as_typed(stored);
}

void session__keep_old(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char from[4096], to[4096];
	if (access(path, F_OK) != 0)
		return;
	/* A WAL left by a killed recorder belongs to the file it came with. */
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(from, sizeof(from), "%s%s", path, suffixes[i]);
		snprintf(to, sizeof(to), "%s.old%s", path, suffixes[i]);
		if (rename(from, to) != 0 && errno == ENOENT) {
			unlink(to);
			continue;
		}
		/* An old session stays as private as a new one (it may come
		 * from a domprof that made sessions readable by all). */
		int fd = open(to, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			fchmod(fd, 0600);
			close(fd);
		}
	}
}

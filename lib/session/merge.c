/* Several sessions read as one: the sessions of a rotating recording (a
 * directory of them, session/series.h) or any list of sessions with the
 * same events, merged into one session in memory that every reader opens
 * as it opens a file. The merge is a union: the catalog rows that name the
 * same thing (a domain by name; a thread, image or function by what
 * identifies it) become one row; samples, per-CPU counts and event totals
 * add up; each session's timeline lands at its own offset from the first
 * one's start. So a report of the merge is the sum of the reports of its
 * parts, row by row. Stack frames keep one node per session (a stack is
 * read through its nodes' functions, so equal stacks read the same). */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>

#include "../util/util.h"
#include "internal.h"
#include "series.h"

static int merge_error(struct session *m, const char *path, char **ret_error)
{
	*ret_error = xasprintf("cannot merge %s: %s", path, sqlite3_errmsg(m->db));
	return -EIO;
}

static int64_t query_int(struct session *m, const char *sql, int64_t fallback)
{
	sqlite3_stmt *st;
	int64_t v = fallback;
	if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fallback;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The events of src against the merge's: the same names and units in the
 * same order, else what differs. */
static int check_events(struct session *m, const char *path, char **ret_error)
{
	int64_t differ = query_int(m,
				   "SELECT (SELECT COUNT(*) FROM src.events) != (SELECT COUNT(*) FROM main.events)"
				   " OR EXISTS(SELECT 1 FROM src.events s LEFT JOIN main.events e ON e.id = s.id"
				   " WHERE e.id IS NULL OR e.name != s.name OR e.unit != s.unit)",
				   1);
	if (!differ)
		return 0;
	*ret_error = xasprintf("%s was recorded with other events than the sessions before it: only sessions of "
			       "the same events merge (e.g. those of one rotating recording)",
			       path);
	return -EINVAL;
}

/* The union of the catalogs: src's rows become main's rows of the same
 * identity (added when new); map_* say which is which. */
static const char merge_catalog_sql[] =
	"DELETE FROM map_domain; DELETE FROM map_thread; DELETE FROM map_image; DELETE FROM map_symbol;"
	"INSERT INTO main.domains(name,kind,pid,vmm,accel,uuid,source,complete,clock_offset_ns,start_skew_ns,note)"
	" SELECT name,kind,pid,vmm,accel,uuid,source,complete,clock_offset_ns,start_skew_ns,note FROM src.domains"
	" WHERE name NOT IN (SELECT name FROM main.domains) ORDER BY id;"
	"UPDATE main.domains SET complete = 0 WHERE name IN (SELECT name FROM src.domains WHERE complete = 0);"
	"INSERT INTO map_domain SELECT s.id, m.id FROM src.domains s JOIN main.domains m ON m.name = s.name;"
	"INSERT INTO main.threads(domain_id,pid,tid,comm,role,vcpu)"
	" SELECT d.new,t.pid,t.tid,t.comm,t.role,t.vcpu FROM src.threads t JOIN map_domain d ON d.old = t.domain_id"
	" WHERE NOT EXISTS(SELECT 1 FROM main.threads m WHERE m.domain_id = d.new AND m.pid IS t.pid"
	"  AND m.tid IS t.tid AND m.comm = t.comm AND m.role = t.role AND m.vcpu IS t.vcpu) ORDER BY t.id;"
	"INSERT INTO map_thread SELECT t.id, (SELECT m.id FROM main.threads m WHERE m.domain_id = d.new"
	"  AND m.pid IS t.pid AND m.tid IS t.tid AND m.comm = t.comm AND m.role = t.role AND m.vcpu IS t.vcpu)"
	" FROM src.threads t JOIN map_domain d ON d.old = t.domain_id;"
	"INSERT INTO main.images(domain_id,path,build_id,kind)"
	" SELECT d.new,i.path,i.build_id,i.kind FROM src.images i JOIN map_domain d ON d.old = i.domain_id"
	" WHERE NOT EXISTS(SELECT 1 FROM main.images m WHERE m.domain_id = d.new AND m.path = i.path"
	"  AND m.build_id IS i.build_id AND m.kind = i.kind) ORDER BY i.id;"
	"INSERT INTO map_image SELECT i.id, (SELECT m.id FROM main.images m WHERE m.domain_id = d.new"
	"  AND m.path = i.path AND m.build_id IS i.build_id AND m.kind = i.kind)"
	" FROM src.images i JOIN map_domain d ON d.old = i.domain_id;"
	"INSERT INTO main.symbols(image_id,name,address,size)"
	" SELECT g.new,y.name,y.address,y.size FROM src.symbols y JOIN map_image g ON g.old = y.image_id"
	" WHERE NOT EXISTS(SELECT 1 FROM main.symbols m WHERE m.image_id = g.new AND m.name = y.name"
	"  AND m.address = y.address) ORDER BY y.id;"
	"INSERT INTO map_symbol SELECT y.id, (SELECT m.id FROM main.symbols m WHERE m.image_id = g.new"
	"  AND m.name = y.name AND m.address = y.address)"
	" FROM src.symbols y JOIN map_image g ON g.old = y.image_id;";

/* Frames at an offset (one node per session), samples, the timeline at
 * the session's offset (?1: buckets), per-CPU counts and event totals
 * added, the code of functions the merge has none of yet. */
static const char merge_counts_sql[] =
	"INSERT INTO main.frames(id,parent_id,image_id,symbol_id,address)"
	" SELECT f.id + @frames, f.parent_id + @frames, (SELECT new FROM map_image WHERE old = f.image_id),"
	"  (SELECT new FROM map_symbol WHERE old = f.symbol_id), f.address FROM src.frames f;"
	"INSERT INTO main.samples(event_id,domain_id,layer,thread_id,image_id,symbol_id,address,stack_id,origin,"
	" count,period)"
	" SELECT s.event_id, d.new, s.layer, (SELECT new FROM map_thread WHERE old = s.thread_id),"
	"  (SELECT new FROM map_image WHERE old = s.image_id), (SELECT new FROM map_symbol WHERE old = s.symbol_id),"
	"  s.address, s.stack_id + @frames, s.origin, s.count, s.period"
	" FROM src.samples s JOIN map_domain d ON d.old = s.domain_id ORDER BY s.id;"
	"INSERT INTO main.timeline(event_id,domain_id,layer,origin,bucket,count,period)"
	" SELECT t.event_id, d.new, t.layer, t.origin, t.bucket + @buckets, t.count, t.period"
	" FROM src.timeline t JOIN map_domain d ON d.old = t.domain_id;"
	"INSERT INTO main.lost(domain_id,cpu,samples,lost) SELECT d.new, l.cpu, l.samples, l.lost"
	" FROM src.lost l JOIN map_domain d ON d.old = l.domain_id WHERE true"
	" ON CONFLICT(domain_id,cpu) DO UPDATE SET samples = samples + excluded.samples, lost = lost + excluded.lost;"
	"UPDATE main.events SET samples = samples + (SELECT s.samples FROM src.events s WHERE s.id = events.id),"
	" period = period + (SELECT s.period FROM src.events s WHERE s.id = events.id),"
	" lost = lost + (SELECT s.lost FROM src.events s WHERE s.id = events.id);"
	"INSERT OR IGNORE INTO main.symbol_code(symbol_id,address,code)"
	" SELECT y.new, c.address, c.code FROM src.symbol_code c JOIN map_symbol y ON y.old = c.symbol_id;"
	"INSERT OR IGNORE INTO main.symbol_lines(symbol_id,address,file,line)"
	" SELECT y.new, l.address, l.file, l.line FROM src.symbol_lines l JOIN map_symbol y ON y.old = l.symbol_id;";

/* Run sql with @frames and @buckets as literals (sqlite3_exec takes no
 * parameters; both are integers this file computed). */
static int exec_with_offsets(struct session *m, const char *sql, int64_t frames, int64_t buckets)
{
	struct strbuf b;
	char num[32];
	int r;
	strbuf_init(&b);
	for (const char *p = sql; *p;) {
		if (strncmp(p, "@frames", 7) == 0 || strncmp(p, "@buckets", 8) == 0) {
			bool is_frames = p[1] == 'f';
			snprintf(num, sizeof(num), "(%lld)", (long long)(is_frames ? frames : buckets));
			strbuf_adds(&b, num);
			p += is_frames ? 7 : 8;
		} else {
			strbuf_addc(&b, *p++);
		}
	}
	r = session_exec(m, b.buf);
	strbuf_release(&b);
	return r;
}

/* The meta of the merge: the first session's, with the span from the
 * first start to the last stop, the state (complete only when all are),
 * the lost samples added up, and how many sessions it holds. */
static int first_meta(struct session *m)
{
	return session_exec(m, "INSERT OR REPLACE INTO main.meta SELECT key, value FROM src.meta;");
}

static int merge_meta(struct session *m, size_t n_sessions, int64_t stop_ns, int64_t lost, bool complete)
{
	struct strbuf b;
	int r;
	strbuf_init(&b);
	strbuf_addf(&b,
		    "INSERT OR REPLACE INTO main.meta VALUES('state','%s'),('lost_samples','%lld'),"
		    "('merged_sessions','%zu');",
		    complete ? "complete" : "incomplete", (long long)lost, n_sessions);
	if (stop_ns > 0)
		strbuf_addf(&b,
			    "INSERT OR REPLACE INTO main.meta VALUES('stop_ns','%lld');"
			    "INSERT OR REPLACE INTO main.meta SELECT 'duration_ns', %lld - CAST(value AS INTEGER)"
			    " FROM main.meta WHERE key = 'start_ns';",
			    (long long)stop_ns, (long long)stop_ns);
	r = session_exec(m, b.buf);
	strbuf_release(&b);
	return r;
}

struct merge_state {
	int64_t start_ns, bucket_ns, stop_ns, lost;
	bool complete;
};

/* One session into the merge. */
static int merge_one(struct session *m, const char *path, size_t index, struct merge_state *st, char **ret_error)
{
	_cleanup_free_ char *uri = NULL;
	struct session *check = NULL;
	sqlite3_stmt *at = NULL;
	int64_t start, bucket, frames, buckets = 0;
	int r;

	/* Opened alone first: the checks of a session (a domprof session, a
	 * schema this build reads) and their messages are session__open's. */
	if ((r = session__open(path, true, &check, ret_error)) < 0)
		return r;
	session__close(check);
	uri = xasprintf("file:%s?mode=ro", path);
	if (sqlite3_prepare_v2(m->db, "ATTACH DATABASE ?1 AS src", -1, &at, NULL) != SQLITE_OK)
		return merge_error(m, path, ret_error);
	sqlite3_bind_text(at, 1, uri, -1, SQLITE_STATIC);
	r = sqlite3_step(at) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(at);
	if (r < 0)
		return merge_error(m, path, ret_error);

	/* One transaction per session (a database attached in one cannot be
	 * detached before its end). */
	if (session_exec(m, "BEGIN") < 0) {
		session_exec(m, "DETACH DATABASE src");
		return merge_error(m, path, ret_error);
	}
	start = query_int(m, "SELECT CAST(value AS INTEGER) FROM src.meta WHERE key = 'start_ns'", -1);
	bucket = query_int(m, "SELECT CAST(value AS INTEGER) FROM src.meta WHERE key = 'timeline_bucket_ns'", 0);
	if (index == 0) {
		/* Totals start at zero: every session's are added below. */
		r = session_exec(m, "INSERT INTO main.events SELECT * FROM src.events;"
				    "UPDATE main.events SET samples = 0, period = 0, lost = 0;");
		if (r == 0)
			r = first_meta(m);
		st->start_ns = start;
		st->bucket_ns = bucket;
	} else if ((r = check_events(m, path, ret_error)) < 0) {
		goto out;
	} else if (bucket != st->bucket_ns) {
		*ret_error = xasprintf("%s has another timeline resolution than the sessions before it", path);
		r = -EINVAL;
		goto out;
	}
	/* Both clocks are the same host's monotonic one within a recording:
	 * a later session's bucket 0 is that far after the first's. */
	if (index && start >= st->start_ns && st->start_ns >= 0 && bucket > 0)
		buckets = (start - st->start_ns + bucket / 2) / bucket;
	frames = query_int(m, "SELECT MAX(id) FROM main.frames", 0);
	if (r == 0)
		r = session_exec(m, merge_catalog_sql);
	if (r == 0)
		r = exec_with_offsets(m, merge_counts_sql, frames, buckets);
	if (r < 0) {
		merge_error(m, path, ret_error);
		goto out;
	}
	st->stop_ns = MAX(st->stop_ns, query_int(m, "SELECT CAST(value AS INTEGER) FROM src.meta WHERE key = 'stop_ns'", 0));
	st->lost += query_int(m, "SELECT CAST(value AS INTEGER) FROM src.meta WHERE key = 'lost_samples'", 0);
	if (query_int(m, "SELECT value = 'complete' FROM src.meta WHERE key = 'state'", 0) != 1)
		st->complete = false;
out:
	if (r == 0 && session_exec(m, "COMMIT") < 0)
		r = merge_error(m, path, ret_error);
	if (r < 0)
		session_exec(m, "ROLLBACK");
	session_exec(m, "DETACH DATABASE src");
	return r;
}

int session__open_many(const char *name, char *const *paths, size_t n, struct session **ret, char **ret_error)
{
	struct merge_state st = { .start_ns = -1, .complete = true };
	struct session *m;
	int r;
	*ret_error = NULL;
	if (n == 1)
		return session__open(paths[0], true, ret, ret_error);
	if (!n) {
		*ret_error = xasprintf("%s: no sessions to read", name);
		return -ENOENT;
	}
	if ((r = session_open_memory(name, &m)) < 0) {
		*ret_error = xasprintf("cannot merge %s: out of memory", name);
		return r;
	}
	r = session_exec(m, "CREATE TEMP TABLE map_domain(old INTEGER PRIMARY KEY, new INTEGER);"
			    "CREATE TEMP TABLE map_thread(old INTEGER PRIMARY KEY, new INTEGER);"
			    "CREATE TEMP TABLE map_image(old INTEGER PRIMARY KEY, new INTEGER);"
			    "CREATE TEMP TABLE map_symbol(old INTEGER PRIMARY KEY, new INTEGER);"
			    "CREATE INDEX threads_key ON threads(domain_id, pid, tid);"
			    "CREATE INDEX images_key ON images(domain_id, path);"
			    "CREATE INDEX symbols_key ON symbols(image_id, address);");
	for (size_t i = 0; i < n && r == 0; i++)
		r = merge_one(m, paths[i], i, &st, ret_error);
	if (r == 0)
		r = merge_meta(m, n, st.stop_ns, st.lost, st.complete);
	if (r < 0) {
		if (!*ret_error)
			merge_error(m, name, ret_error);
		session__close(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* Split "a,b,c" and expand directories into their series. */
static int expand_input(const char *input, char ***ret_paths, size_t *ret_n, char **ret_error)
{
	_cleanup_free_ char *copy = xstrdup(input);
	char **paths = NULL, *save = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		struct stat sb;
		char **series;
		size_t n_series;
		if (stat(tok, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			ARRAY_GROW(paths, cap, n + 2);
			paths[n++] = xstrdup(tok); /* session__open says what is wrong with it */
			continue;
		}
		if ((r = session_series__list(tok, &series, &n_series)) < 0) {
			*ret_error = xasprintf("cannot read the directory %s: %s", tok, strerror(-r));
			break;
		}
		if (!n_series) {
			*ret_error = xasprintf("%s holds no sessions (files named domprof-YYYYmmdd-HHMMSS.db, as record "
					       "--rotate writes them)",
					       tok);
			r = -ENOENT;
		}
		ARRAY_GROW(paths, cap, n + n_series + 1);
		for (size_t i = 0; i < n_series; i++)
			paths[n++] = xstrdup(series[i]);
		session_series__list_free(series);
	}
	ARRAY_GROW(paths, cap, n + 1);
	paths[n] = NULL;
	if (r < 0) {
		session_series__list_free(paths);
		return r;
	}
	*ret_paths = paths;
	*ret_n = n;
	return 0;
}

int session__open_input(const char *input, struct session **ret, char **ret_error)
{
	char **paths;
	size_t n;
	int r;
	*ret_error = NULL;
	if ((r = expand_input(input, &paths, &n, ret_error)) < 0)
		return r;
	r = session__open_many(input, paths, n, ret, ret_error);
	session_series__list_free(paths);
	return r;
}

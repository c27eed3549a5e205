/* Reading a session's events, metadata and the code of its functions; see
 * session.h ("reading"). The catalog is catalog.c, the sample views
 * view.c. Every meta value a reader needs as a number or a time is parsed
 * here, once (session__read_about). */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "../util/util.h"
#include "internal.h"

char *session_column_dup(sqlite3_stmt *st, int column)
{
	const unsigned char *v = sqlite3_column_text(st, column);
	return v ? xstrdup((const char *)v) : NULL;
}

int session_read_error(struct session *s, const char *what, char **ret_error)
{
	*ret_error = xasprintf("cannot read the %s of %s: %s", what, s->path, session__error(s));
	return -EIO;
}

void session_events__free(struct session_event *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].unit);
	}
	free(e);
}

int session__read_events(struct session *s, struct session_event **ret, size_t *ret_n, char **ret_error)
{
	sqlite3_stmt *st;
	struct session_event *ev = NULL;
	size_t n = 0, cap = 0;
	int rc;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, name, unit, samples, period, lost, sample_period, sample_freq FROM events ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return session_read_error(s, "events", ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!sqlite3_column_text(st, 1) || !sqlite3_column_text(st, 2))
			continue;
		ARRAY_GROW(ev, cap, n + 1);
		ev[n].id = (uint32_t)sqlite3_column_int64(st, 0);
		ev[n].name = session_column_dup(st, 1);
		ev[n].unit = session_column_dup(st, 2);
		ev[n].samples = (uint64_t)sqlite3_column_int64(st, 3);
		ev[n].period = (uint64_t)sqlite3_column_int64(st, 4);
		ev[n].lost = (uint64_t)sqlite3_column_int64(st, 5);
		ev[n].sample_period = (uint64_t)sqlite3_column_int64(st, 6);
		ev[n].sample_freq = (uint64_t)sqlite3_column_int64(st, 7);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		session_events__free(ev, n);
		return session_read_error(s, "events", ret_error);
	}
	*ret = ev;
	*ret_n = n;
	return 0;
}

void session_meta__free(struct session_meta *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].value);
	}
	free(m);
}

int session__read_meta(struct session *s, struct session_meta **ret, size_t *ret_n, char **ret_error)
{
	sqlite3_stmt *st;
	struct session_meta *m = NULL;
	size_t n = 0, cap = 0;
	int rc;
	if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM meta ORDER BY key", -1, &st, NULL) != SQLITE_OK)
		return session_read_error(s, "metadata", ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!sqlite3_column_text(st, 0))
			continue;
		ARRAY_GROW(m, cap, n + 1);
		m[n].key = session_column_dup(st, 0);
		m[n].value = session_column_dup(st, 1);
		if (!m[n].value)
			m[n].value = xstrdup("");
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		session_meta__free(m, n);
		return session_read_error(s, "metadata", ret_error);
	}
	*ret = m;
	*ret_n = n;
	return 0;
}

static uint64_t meta_u64(struct session *s, const char *key)
{
	_cleanup_free_ char *v = session__get_meta(s, key);
	uint64_t r;
	return v && parse_u64(v, 10, &r) == 0 ? r : 0;
}

/* "2026-11-25T21:17:03+0000" -> nanoseconds since the epoch; 0 if unknown. */
static int64_t parse_start_time(const char *text)
{
	struct tm tm = { 0 };
	const char *end;
	long offset;
	time_t t;
	if (!text)
		return 0;
	end = strptime(text, "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (!end || *end)
		return 0;
	offset = tm.tm_gmtoff; /* timegm() normalizes tm and clears it */
	t = timegm(&tm) - offset;
	/* A damaged session may hold any year: keep what fits in int64 ns. */
	return t > 0 && t < INT64_MAX / 1000000000 ? (int64_t)t * 1000000000 : 0;
}

void session__read_about(struct session *s, struct session_about *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->hostname = session__get_meta(s, "hostname");
	ret->kernel = session__get_meta(s, "kernel");
	ret->arch = session__get_meta(s, "arch");
	ret->start_time = session__get_meta(s, "start_time");
	ret->start_time_ns = parse_start_time(ret->start_time);
	ret->duration_ns = meta_u64(s, "duration_ns");
	ret->timeline_bucket_ns = meta_u64(s, "timeline_bucket_ns");
	ret->state = session__get_meta(s, "state");
	ret->command_line = session__command_line(s);
	ret->domprof_version = session__get_meta(s, "domprof_version");
	ret->callchain = session__get_meta(s, "callchain");
}

void session_about__release(struct session_about *a)
{
	free(a->hostname);
	free(a->kernel);
	free(a->arch);
	free(a->start_time);
	free(a->state);
	free(a->command_line);
	free(a->domprof_version);
	free(a->callchain);
	memset(a, 0, sizeof(*a));
}

void session_function__release(struct session_function *f)
{
	free(f->image);
	free(f->domain);
	memset(f, 0, sizeof(*f));
}

int session__find_function(struct session *s, const char *name, const char *domain, const char *image,
			   struct session_function *ret, char **ret_error)
{
	static const char sql[] =
		"SELECT y.id, y.address, y.size, i.path, d.name, COALESCE(SUM(s.period),0) p FROM symbols y"
		" JOIN images i ON i.id = y.image_id JOIN domains d ON d.id = i.domain_id"
		" LEFT JOIN samples s ON s.symbol_id = y.id"
		" WHERE y.name = ?1 AND (?2 IS NULL OR d.name = ?2) AND (?3 IS NULL OR instr(i.path, ?3) > 0)"
		" GROUP BY y.id ORDER BY (y.id IN (SELECT symbol_id FROM symbol_code)) DESC, p DESC";
	sqlite3_stmt *st;
	int rc;
	memset(ret, 0, sizeof(*ret));
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*ret_error = xasprintf("cannot query %s: %s", s->path, session__error(s));
		return -EIO;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (domain)
		sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	if (image)
		sqlite3_bind_text(st, 3, image, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!ret->candidates) {
			ret->symbol_id = sqlite3_column_int64(st, 0);
			ret->address = (uint64_t)sqlite3_column_int64(st, 1);
			ret->size = (uint64_t)sqlite3_column_int64(st, 2);
			ret->image = session_column_dup(st, 3);
			ret->domain = session_column_dup(st, 4);
		}
		ret->candidates++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		session_function__release(ret);
		*ret_error = xasprintf("cannot query %s: %s", s->path, session__error(s));
		return -EIO;
	}
	if (!ret->candidates)
		return -ENOENT;
	if (!ret->image)
		ret->image = xstrdup("");
	if (!ret->domain)
		ret->domain = xstrdup("");
	return 0;
}

static void read_lines(struct session *s, int64_t symbol_id, struct symbol_code *ret)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT address, file, line FROM symbol_lines WHERE symbol_id = ? ORDER BY address",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, symbol_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		ARRAY_GROW(ret->lines, cap, ret->n_lines + 1);
		ret->lines[ret->n_lines].address = (uint64_t)sqlite3_column_int64(st, 0);
		ret->lines[ret->n_lines].file = session_column_dup(st, 1);
		ret->lines[ret->n_lines].line = sqlite3_column_int(st, 2);
		ret->n_lines++;
	}
	sqlite3_finalize(st);
}

int session__read_code(struct session *s, int64_t symbol_id, struct symbol_code *ret, char **ret_error)
{
	sqlite3_stmt *st;
	memset(ret, 0, sizeof(*ret));
	ret->symbol = (uint32_t)symbol_id;
	if (sqlite3_prepare_v2(s->db, "SELECT address, code FROM symbol_code WHERE symbol_id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return session_read_error(s, "code", ret_error);
	sqlite3_bind_int64(st, 1, symbol_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const void *code = sqlite3_column_blob(st, 1);
		int len = sqlite3_column_bytes(st, 1);
		ret->address = (uint64_t)sqlite3_column_int64(st, 0);
		if (code && len > 0) {
			ret->code = xmalloc((size_t)len);
			memcpy(ret->code, code, (size_t)len);
			ret->len = (size_t)len;
		}
	}
	sqlite3_finalize(st);
	read_lines(s, symbol_id, ret);
	return 0;
}

bool session__has_stacks(struct session *s)
{
	sqlite3_stmt *st;
	bool has = false;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM frames LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		has = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return has;
}

int64_t session__timeline_last_bucket(struct session *s)
{
	sqlite3_stmt *st;
	int64_t last = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(bucket) FROM timeline", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return last;
}

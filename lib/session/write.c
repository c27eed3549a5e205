/* Writing a session: the one path by which a run lands in a session file,
 * for the recorder (while it records and at its end) and the importer
 * (all at once). A run is written in the same steps by both: the events,
 * what describes the run (session__write_run), flushes of the profile's
 * delta with the events' running totals (session__write_flush) and how
 * far the run got (session__write_span), the code of hot functions in one
 * transaction, per-CPU counts, and the end state, which also folds the
 * WAL into one self-contained file (session__write_end). See session.h;
 * the tables and meta keys are in docs/session-format.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "../util/util.h"
#include "internal.h"

static int prepare(struct session *s, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK ? 0 : -EIO;
}

int session__prepare_writers(struct session *s)
{
	int r = 0;
	r |= prepare(s, &s->ins_domain,
		     "INSERT OR REPLACE INTO domains(id,name,kind,pid,vmm,accel,uuid,source,complete,clock_offset_ns,"
		     "start_skew_ns,note) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
	r |= prepare(s, &s->ins_thread,
		     "INSERT INTO threads(id,domain_id,pid,tid,comm,role,vcpu) VALUES(?,?,?,?,?,?,?)");
	r |= prepare(s, &s->ins_image, "INSERT INTO images(id,domain_id,path,build_id,kind) VALUES(?,?,?,?,?)");
	r |= prepare(s, &s->ins_symbol, "INSERT INTO symbols(id,image_id,name,address,size) VALUES(?,?,?,?,?)");
	r |= prepare(s, &s->ins_frame,
		     "INSERT INTO frames(id,parent_id,image_id,symbol_id,address) VALUES(?,?,?,?,?)");
	r |= prepare(s, &s->ins_sample,
		     "INSERT INTO samples(id,event_id,domain_id,layer,thread_id,image_id,symbol_id,address,stack_id,"
		     "origin,count,period) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
	r |= prepare(s, &s->ins_timeline,
		     "INSERT INTO timeline(id,event_id,domain_id,layer,origin,bucket,count,period) VALUES(?,?,?,?,?,?,?,?)");
	/* Counters already written are updated in place, in id order. */
	r |= prepare(s, &s->upd_sample, "UPDATE samples SET count=?2, period=?3 WHERE id=?1");
	r |= prepare(s, &s->upd_timeline, "UPDATE timeline SET count=?2, period=?3 WHERE id=?1");
	r |= prepare(s, &s->upd_event, "UPDATE events SET samples=?, period=?, lost=? WHERE id=?");
	r |= prepare(s, &s->set_meta, "INSERT OR REPLACE INTO meta(key,value) VALUES(?,?)");
	return r ? -EIO : 0;
}

void session__finalize_writers(struct session *s)
{
	sqlite3_finalize(s->ins_domain);
	sqlite3_finalize(s->ins_thread);
	sqlite3_finalize(s->ins_image);
	sqlite3_finalize(s->ins_symbol);
	sqlite3_finalize(s->ins_frame);
	sqlite3_finalize(s->ins_sample);
	sqlite3_finalize(s->ins_timeline);
	sqlite3_finalize(s->upd_sample);
	sqlite3_finalize(s->upd_timeline);
	sqlite3_finalize(s->upd_event);
	sqlite3_finalize(s->set_meta);
}

/* ---- statements ---- */

/* Run st once and make it ready for the next row, whose every parameter
 * is bound again (the flush's counters: no clearing, a row costs enough). */
static int step_rebind(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = step_rebind(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* ---- single rows ---- */

/* A statement prepared for one row, or NULL. */
static sqlite3_stmt *one_row(struct session *s, const char *sql)
{
	sqlite3_stmt *st;
	return sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

/* Run and finalize a one_row statement: 0 or -errno. */
static int step_once(sqlite3_stmt *st)
{
	int rc;
	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : session_sql_error(rc);
}

/* The meta row key = value, through the connection's statement: SQLite's
 * result, SQLITE_OK when written. */
static int meta_row(struct session *s, const char *key, const char *value)
{
	sqlite3_bind_text(s->set_meta, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->set_meta, 2, value, -1, SQLITE_STATIC);
	return step_reset(s->set_meta);
}

int session__set_meta(struct session *s, const char *key, const char *value)
{
	int rc = s->set_meta ? meta_row(s, key, value) : SQLITE_READONLY;
	return rc == SQLITE_OK ? 0 : session_sql_error(rc);
}

/* Meta rows written in a row, in one transaction where several are (each
 * commit costs a WAL page and its locks): the first failure stops them
 * (SQLite's result in rc). */
struct meta_rows {
	struct session *s;
	int rc;
};

static void meta_text(struct meta_rows *m, const char *key, const char *value)
{
	if (value && m->rc == SQLITE_OK)
		m->rc = meta_row(m->s, key, value);
}

static void meta_int(struct meta_rows *m, const char *key, int64_t value)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)value);
	meta_text(m, key, buf);
}

int session__set_meta_int(struct session *s, const char *key, int64_t value)
{
	struct meta_rows m = { s, s->set_meta ? SQLITE_OK : SQLITE_READONLY };
	meta_int(&m, key, value);
	return m.rc == SQLITE_OK ? 0 : session_sql_error(m.rc);
}

int session__add_event(struct session *s, uint32_t id, const struct event_spec *e)
{
	const struct perf_event_attr *a = &e->attr;
	sqlite3_stmt *st = one_row(s, "INSERT INTO events(id,name,unit,type,config,config1,config2,sample_period,"
				      "sample_freq,exclude_user,exclude_kernel,exclude_guest,exclude_host) "
				      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, e->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, e->unit == EVENT_UNIT_NS ? "ns" : "count", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, a->type);
		sqlite3_bind_int64(st, 5, (int64_t)a->config);
		sqlite3_bind_int64(st, 6, (int64_t)a->config1);
		sqlite3_bind_int64(st, 7, (int64_t)a->config2);
		sqlite3_bind_int64(st, 8, a->freq ? 0 : (int64_t)a->sample_period);
		sqlite3_bind_int64(st, 9, a->freq ? (int64_t)a->sample_freq : 0);
		sqlite3_bind_int(st, 10, a->exclude_user);
		sqlite3_bind_int(st, 11, a->exclude_kernel);
		sqlite3_bind_int(st, 12, a->exclude_guest);
		sqlite3_bind_int(st, 13, a->exclude_host);
	}
	return step_once(st);
}

static int event_totals_row(struct session *s, uint32_t id, const struct session_event_totals *t)
{
	sqlite3_bind_int64(s->upd_event, 1, (int64_t)t->samples);
	sqlite3_bind_int64(s->upd_event, 2, (int64_t)t->period);
	sqlite3_bind_int64(s->upd_event, 3, (int64_t)t->lost);
	sqlite3_bind_int64(s->upd_event, 4, id);
	return step_rebind(s->upd_event);
}

int session__set_event_totals(struct session *s, uint32_t id, uint64_t samples, uint64_t period, uint64_t lost)
{
	struct session_event_totals t = { samples, period, lost };
	int rc = s->upd_event ? event_totals_row(s, id, &t) : SQLITE_READONLY;
	return rc == SQLITE_OK ? 0 : session_sql_error(rc);
}

int session__set_lost(struct session *s, uint32_t domain, int cpu, uint64_t samples, uint64_t lost)
{
	sqlite3_stmt *st = one_row(s, "INSERT OR REPLACE INTO lost(domain_id,cpu,samples,lost) VALUES(?,?,?,?)");
	if (st) {
		sqlite3_bind_int64(st, 1, domain);
		sqlite3_bind_int(st, 2, cpu);
		sqlite3_bind_int64(st, 3, (int64_t)samples);
		sqlite3_bind_int64(st, 4, (int64_t)lost);
	}
	return step_once(st);
}

/* ---- a profile's delta ---- */

static void bind_id(sqlite3_stmt *st, int col, uint32_t id)
{
	if (id)
		sqlite3_bind_int64(st, col, id);
	else
		sqlite3_bind_null(st, col);
}

static void bind_opt_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Domains that changed, and the catalog rows added since the last flush. */
static int write_domains_threads(struct session *s, const struct profile *p)
{
	int rc = SQLITE_OK;
	for (size_t i = 0; i < p->n_domains && rc == SQLITE_OK; i++) {
		const struct profile_domain *d = &p->domains[i];
		sqlite3_stmt *st = s->ins_domain;
		if (!d->dirty && i < p->written_domains)
			continue;
		sqlite3_bind_int64(st, 1, (int64_t)i + 1);
		sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, domain_kind__name(domain_kind__of(d->is_vm, d->is_idle)), -1, SQLITE_STATIC);
		if (d->pid >= 0)
			sqlite3_bind_int64(st, 4, d->pid);
		else
			sqlite3_bind_null(st, 4);
		bind_opt_text(st, 5, d->vmm);
		bind_opt_text(st, 6, d->accel);
		bind_opt_text(st, 7, d->uuid);
		bind_opt_text(st, 8, d->source);
		sqlite3_bind_int(st, 9, d->complete);
		sqlite3_bind_int64(st, 10, d->clock_offset_ns);
		sqlite3_bind_int64(st, 11, d->start_skew_ns);
		bind_opt_text(st, 12, d->note);
		rc = step_reset(st);
	}
	for (size_t i = 0; i < p->n_threads && rc == SQLITE_OK; i++) {
		const struct profile_thread *t = &p->threads[i];
		sqlite3_stmt *st = s->ins_thread;
		if (!t->id || t->written)
			continue;
		sqlite3_bind_int64(st, 1, t->id);
		sqlite3_bind_int64(st, 2, t->domain);
		sqlite3_bind_int64(st, 3, t->pid);
		sqlite3_bind_int64(st, 4, t->tid);
		sqlite3_bind_text(st, 5, t->comm, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, thread_role__name(t->role), -1, SQLITE_STATIC);
		if (t->vcpu >= 0)
			sqlite3_bind_int(st, 7, t->vcpu);
		else
			sqlite3_bind_null(st, 7);
		rc = step_reset(st);
	}
	return rc;
}

static int write_code_catalog(struct session *s, const struct profile *p)
{
	int rc = SQLITE_OK;
	for (size_t i = p->written_images; i < p->n_images && rc == SQLITE_OK; i++) {
		const struct profile_image *im = &p->images[i];
		sqlite3_stmt *st = s->ins_image;
		sqlite3_bind_int64(st, 1, (int64_t)i + 1);
		sqlite3_bind_int64(st, 2, im->domain);
		sqlite3_bind_text(st, 3, im->path, -1, SQLITE_STATIC);
		bind_opt_text(st, 4, im->build_id[0] ? im->build_id : NULL);
		sqlite3_bind_text(st, 5, image_kind__name(im->kind), -1, SQLITE_STATIC);
		rc = step_reset(st);
	}
	for (size_t i = p->written_symbols; i < p->n_symbols && rc == SQLITE_OK; i++) {
		const struct profile_symbol *sy = &p->symbols[i];
		sqlite3_stmt *st = s->ins_symbol;
		sqlite3_bind_int64(st, 1, (int64_t)i + 1);
		sqlite3_bind_int64(st, 2, sy->image);
		sqlite3_bind_text(st, 3, sy->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)sy->address);
		sqlite3_bind_int64(st, 5, (int64_t)sy->size);
		rc = step_reset(st);
	}
	for (size_t i = p->written_frames; i < p->n_frames && rc == SQLITE_OK; i++) {
		const struct profile_frame *f = &p->frames[i];
		sqlite3_stmt *st = s->ins_frame;
		sqlite3_bind_int64(st, 1, (int64_t)i + 1);
		bind_id(st, 2, f->parent);
		bind_id(st, 3, f->image);
		bind_id(st, 4, f->symbol);
		sqlite3_bind_int64(st, 5, (int64_t)f->address);
		rc = step_reset(st);
	}
	return rc;
}

/* A counter row already written gets its new totals; true when st was
 * the update (then done), false when the row is new (bind the rest). */
static bool update_counter(sqlite3_stmt *st, sqlite3_stmt *upd, uint32_t id, uint64_t count, uint64_t period,
			   int *rc)
{
	sqlite3_bind_int64(st, 1, id);
	if (st != upd)
		return false;
	sqlite3_bind_int64(st, 2, (int64_t)count);
	sqlite3_bind_int64(st, 3, (int64_t)period);
	*rc = step_rebind(st);
	return true;
}

/* The counters that changed, in slot order (id order unless slots were
 * reused): updates of written rows then walk the table's pages about once,
 * and new rows are appended. */
static int write_counters(struct session *s, struct profile *p)
{
	int rc = SQLITE_OK;
	if (p->n_dirty_samples > 1)
		qsort(p->dirty_samples, p->n_dirty_samples, sizeof(uint32_t), cmp_u32);
	if (p->n_dirty_timeline > 1)
		qsort(p->dirty_timeline, p->n_dirty_timeline, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < p->n_dirty_samples && rc == SQLITE_OK; i++) {
		uint32_t idx = p->dirty_samples[i];
		const struct sample_entry *e = &p->samples[idx];
		sqlite3_stmt *st = e->written ? s->upd_sample : s->ins_sample;
		if (update_counter(st, s->upd_sample, e->id, e->count, e->period, &rc))
			continue;
		sqlite3_bind_int64(st, 2, e->key.event);
		sqlite3_bind_int64(st, 3, e->key.domain);
		sqlite3_bind_text(st, 4, layer__name(e->key.layer), -1, SQLITE_STATIC);
		bind_id(st, 5, e->key.thread);
		bind_id(st, 6, e->key.image);
		bind_id(st, 7, e->key.symbol);
		sqlite3_bind_int64(st, 8, (int64_t)e->key.address);
		bind_id(st, 9, e->key.stack);
		sqlite3_bind_text(st, 10, origin__name(e->key.origin), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 11, (int64_t)e->count);
		sqlite3_bind_int64(st, 12, (int64_t)e->period);
		rc = step_rebind(st);
	}
	for (size_t i = 0; i < p->n_dirty_timeline && rc == SQLITE_OK; i++) {
		uint32_t idx = p->dirty_timeline[i];
		const struct timeline_entry *e = &p->timeline[idx];
		sqlite3_stmt *st = e->written ? s->upd_timeline : s->ins_timeline;
		if (update_counter(st, s->upd_timeline, e->id, e->count, e->period, &rc))
			continue;
		sqlite3_bind_int64(st, 2, e->key.event);
		sqlite3_bind_int64(st, 3, e->key.domain);
		sqlite3_bind_text(st, 4, layer__name(e->key.layer), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, origin__name(e->key.origin), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, e->key.bucket);
		sqlite3_bind_int64(st, 7, (int64_t)e->count);
		sqlite3_bind_int64(st, 8, (int64_t)e->period);
		rc = step_rebind(st);
	}
	return rc;
}

/* Run fn in one transaction: all of it is kept, or none (on failure the
 * cause is kept for session__error, ROLLBACK's own message would replace
 * it). 0 or -errno. */
static int in_transaction(struct session *s, int (*fn)(struct session *s, void *ctx), void *ctx)
{
	int rc, r;
	if (session_exec(s, "BEGIN") < 0)
		return session_sql_error(sqlite3_errcode(s->db));
	rc = fn(s, ctx);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	r = session_sql_error(rc);
	free(s->last_error);
	s->last_error = xstrdup(sqlite3_errmsg(s->db));
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int write_delta(struct session *s, void *ctx)
{
	struct profile *p = ctx;
	int rc = write_domains_threads(s, p);
	if (rc == SQLITE_OK)
		rc = write_code_catalog(s, p);
	if (rc == SQLITE_OK)
		rc = write_counters(s, p);
	/* Once per connection: a session with data says what wrote it and
	 * that it is not finished (session__write_end says how it ended). */
	if (rc == SQLITE_OK && !s->delta_meta_written) {
		rc = meta_row(s, "domprof_version", DOMPROF_VERSION_STRING);
		if (rc == SQLITE_OK)
			rc = meta_row(s, "state", "recording");
	}
	return rc;
}

/* After a committed delta: its rows are in the file. */
static void delta_written(struct session *s, struct profile *p)
{
	profile__mark_written(p);
	s->delta_meta_written = true;
}

int session__write_delta(struct session *s, struct profile *p)
{
	int r = in_transaction(s, write_delta, p);
	if (r == 0)
		delta_written(s, p);
	return r;
}

/* ---- a run ---- */

int session__write_events(struct session *s, const struct event_spec *events, size_t n)
{
	for (size_t e = 0; e < n; e++) {
		int r = session__add_event(s, (uint32_t)e + 1, &events[e]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int write_run(struct session *s, void *ctx)
{
	const struct session_run *run = ctx;
	struct meta_rows m = { s, SQLITE_OK };
	meta_text(&m, "command_line", run->command_line);
	meta_text(&m, "target", run->target);
	meta_text(&m, "workload", run->workload);
	if (run->target_pid)
		meta_int(&m, "target_pid", run->target_pid);
	meta_text(&m, "hostname", run->hostname);
	meta_text(&m, "kernel", run->kernel);
	meta_text(&m, "arch", run->arch);
	if (run->ncpus)
		meta_int(&m, "ncpus", run->ncpus);
	if (run->start_time) {
		char buf[64];
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", localtime(&run->start_time));
		meta_text(&m, "start_time", buf);
	}
	meta_text(&m, "start_time_source", run->start_time_source);
	if (run->have_start)
		meta_int(&m, "start_ns", (int64_t)run->start_ns);
	meta_int(&m, "timeline_bucket_ns", (int64_t)run->timeline_bucket_ns);
	meta_text(&m, "clock", run->clock);
	meta_text(&m, "callchain", !run->callchain ? "none" : run->unwinder ? run->unwinder : "fp");
	meta_text(&m, "domprof_version", DOMPROF_VERSION_STRING);
	meta_text(&m, "state", "recording");
	return m.rc;
}

int session__write_run(struct session *s, const struct session_run *run)
{
	return s->set_meta ? in_transaction(s, write_run, (void *)run) : -EROFS;
}

static void meta_span(struct meta_rows *m, const struct session_span *sp)
{
	meta_int(m, "stop_ns", (int64_t)sp->stop_ns);
	meta_int(m, "duration_ns", (int64_t)(sp->stop_ns - sp->start_ns));
}

struct flush_batch {
	struct profile *p;
	const struct session_event_totals *totals;
	size_t n_events;
	const struct session_span *span;
};

static int write_flush(struct session *s, void *ctx)
{
	const struct flush_batch *f = ctx;
	struct meta_rows m = { s, write_delta(s, f->p) };
	for (size_t e = 0; e < f->n_events && m.rc == SQLITE_OK; e++)
		m.rc = event_totals_row(s, (uint32_t)e + 1, &f->totals[e]);
	if (f->span)
		meta_span(&m, f->span);
	return m.rc;
}

/* One transaction, so one commit a second: each commit appends at least a
 * page to the WAL and takes its locks. */
int session__write_flush(struct session *s, struct profile *p, const struct session_event_totals *totals,
			 size_t n_events, const struct session_span *span)
{
	struct flush_batch f = { p, totals, n_events, span };
	int r = in_transaction(s, write_flush, &f);
	if (r == 0)
		delta_written(s, p);
	return r;
}

static int write_span(struct session *s, void *ctx)
{
	struct meta_rows m = { s, SQLITE_OK };
	meta_span(&m, ctx);
	return m.rc;
}

int session__write_span(struct session *s, uint64_t start_ns, uint64_t stop_ns)
{
	struct session_span sp = { start_ns, stop_ns };
	return s->set_meta ? in_transaction(s, write_span, &sp) : -EROFS;
}

struct code_batch {
	const struct symbol_code *codes;
	size_t n;
};

static int write_code(struct session *s, void *ctx)
{
	const struct code_batch *b = ctx;
	sqlite3_stmt *code = NULL, *line = NULL;
	int rc = sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO symbol_code(symbol_id,address,code) VALUES(?,?,?)",
				    -1, &code, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db,
					"INSERT OR REPLACE INTO symbol_lines(symbol_id,address,file,line) VALUES(?,?,?,?)",
					-1, &line, NULL);
	for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++) {
		const struct symbol_code *sc = &b->codes[i];
		if (!sc->code)
			continue; /* nothing to annotate with; the column is NOT NULL */
		sqlite3_bind_int64(code, 1, sc->symbol);
		sqlite3_bind_int64(code, 2, (int64_t)sc->address);
		sqlite3_bind_blob(code, 3, sc->code, (int)sc->len, SQLITE_STATIC);
		rc = step_reset(code);
		for (size_t l = 0; l < sc->n_lines && rc == SQLITE_OK; l++) {
			sqlite3_bind_int64(line, 1, sc->symbol);
			sqlite3_bind_int64(line, 2, (int64_t)sc->lines[l].address);
			sqlite3_bind_text(line, 3, sc->lines[l].file, -1, SQLITE_STATIC);
			sqlite3_bind_int(line, 4, sc->lines[l].line);
			rc = step_reset(line);
		}
	}
	sqlite3_finalize(code);
	sqlite3_finalize(line);
	return rc;
}

int session__write_code(struct session *s, const struct symbol_code *codes, size_t n)
{
	struct code_batch b = { codes, n };
	return n ? in_transaction(s, write_code, &b) : 0;
}

/* First error wins: the last writes go on, and tell the first. */
static void keep_first(int *r, int v)
{
	if (*r == 0 && v < 0)
		*r = v;
}

/* Not one transaction: what can still be written is, the disk full or not. */
int session__write_end(struct session *s, uint64_t lost_samples, bool complete)
{
	int r = session__set_meta_int(s, "lost_samples", (int64_t)lost_samples);
	keep_first(&r, session__set_meta(s, "state", complete ? "complete" : "incomplete"));
	keep_first(&r, session__finish(s));
	return r;
}

/* session: the portable SQLite file that holds one recording. The recorder
 * creates it and flushes profile deltas into it (one transaction per
 * flush, WAL journal, so a killed recorder leaves every committed flush
 * readable); reports open it read-only. Schema in docs/session-format.md;
 * SESSION_SCHEMA_VERSION is bumped on any incompatible change.
 *
 * Files: session.c (create, open, close), write.c (the one writing path),
 * read.c (events, metadata, code), catalog.c (what ids name, catalog.h),
 * view.c (which samples a report counts, view.h). The SQLite connection
 * never leaves lib/session (internal.h), and one thread at a time uses a
 * session: connections are opened without SQLite's lock around each call. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../aggregate/profile.h"
#include "../events/events.h"

/* 2: the host's idle loop is domain "idle" (kind idle, layer idle). A
 * schema 1 session is still read: see session__idle. */
#define SESSION_SCHEMA_VERSION 2
#define SESSION_APPLICATION_ID 0x444f4d50 /* "DOMP" */

struct session;

/* An existing session at path (and its WAL) becomes path.old, as perf
 * keeps perf.data.old; nothing happens when there is none. */
void session__keep_old(const char *path);

/* Create a new session file (the path must not exist). 0 or -errno, with
 * -EIO for SQLite failures (message in *ret_error). */
int session__create(const char *path, struct session **ret, char **ret_error);
/* Open an existing session; read_only for reports. Checks that it is a
 * domprof session of a schema this build reads; *ret_error says why not. */
int session__open(const char *path, bool read_only, struct session **ret, char **ret_error);
/* Several sessions read as one (merge.c): the union of their catalogs,
 * their samples, counts and totals added up, each timeline at its offset
 * from the first session's start; read-only, in memory, called name.
 * They must have the same events. One path is session__open's. */
int session__open_many(const char *name, char *const *paths, size_t n, struct session **ret, char **ret_error);
/* What a reader's input names: a session file, a directory of sessions
 * (record --rotate's), or a comma-separated list of those; read as one. */
int session__open_input(const char *input, struct session **ret, char **ret_error);
/* Fold the WAL into the main file and leave a single self-contained file.
 * -EBUSY when another process kept the file open for 10 s: everything is
 * written, but the session stays in WAL mode (its -wal file holds what
 * the checkpoint could not fold in). */
int session__finish(struct session *s);
void session__close(struct session *s);

/* How the idle domain of a session was found. Sessions of schema 2 were
 * classified while recording. A schema 1 session (recorded before idle was
 * a domain) opened read-only gets it by the same rule, applied on reading
 * to its host-kernel samples of the idle task (pid 0, function names of
 * lib/domain/idle.h): a temporary copy of its domains and samples tables
 * shadows the file's (nothing is written to it); its timeline cannot be
 * split (it has no thread or function) and keeps idle in host kernel. When
 * the rule cannot be applied (a VM of that session is called "idle", or the
 * session is open for writing), idle stays in host kernel. */
enum session_idle {
	SESSION_IDLE_RECORDED = 0, /* classified by the recorder */
	SESSION_IDLE_ON_READ,      /* schema 1: found on reading */
	SESSION_IDLE_NOT_FOUND,    /* schema 1: the rule could not be applied */
};
enum session_idle session__idle(const struct session *s);
/* One sentence for a report's header saying the above, or NULL for
 * SESSION_IDLE_RECORDED. */
const char *session__idle_note(const struct session *s);

const char *session__path(const struct session *s);
/* Last SQLite error message of this session. */
const char *session__error(struct session *s);

/* ---- reading (read.c; the catalog is catalog.h, the views view.h) ---- */

/* Value of key (to free), or NULL when absent. */
char *session__get_meta(struct session *s, const char *key);
/* meta.command_line as it was typed, "domprof record -a ..." (to free), or
 * NULL when absent. Sessions of early builds stored the
 * arguments without the program name ("record -a ..."): every reader shows
 * both the same way through this. */
char *session__command_line(struct session *s);
/* The same rule for a command_line value already read. */
char *session_command_line__as_typed(const char *stored);

/* One event of the events table. */
struct session_event {
	uint32_t id;
	char *name, *unit; /* unit: "ns" or "count" */
	uint64_t samples, period, lost;  /* whole session */
	uint64_t sample_period, sample_freq; /* how it was sampled; 0 when unknown */
};
/* The events in id order (rows without a name or unit are left out). 0 or
 * -EIO with *ret_error. */
int session__read_events(struct session *s, struct session_event **ret, size_t *ret_n, char **ret_error);
void session_events__free(struct session_event *e, size_t n);

/* Every meta key and value, sorted by key (a NULL value reads ""). */
struct session_meta {
	char *key, *value;
};
int session__read_meta(struct session *s, struct session_meta **ret, size_t *ret_n, char **ret_error);
void session_meta__free(struct session_meta *m, size_t n);

/* The meta keys readers show, typed: a string is NULL and a number 0 when
 * the session does not say (or says something that is not a number). */
struct session_about {
	char *hostname, *kernel, *arch;
	char *start_time;            /* as written: "2026-11-25T21:17:03+0000" */
	int64_t start_time_ns;       /* the same since the epoch */
	uint64_t duration_ns;
	uint64_t timeline_bucket_ns;
	char *state;                 /* "recording", "complete", "incomplete" */
	char *command_line;          /* as typed (session__command_line) */
	char *domprof_version;       /* of the build that recorded it */
	char *callchain;             /* what made the stacks: "none", "fp", "dwarf"; NULL in sessions before it was kept */
};
void session__read_about(struct session *s, struct session_about *ret);
void session_about__release(struct session_about *a);

/* A function to annotate: the symbol named name (in domain, when given;
 * in an image whose path contains image, when given); among several, one
 * with code, then the busiest. */
struct session_function {
	int64_t symbol_id;
	uint64_t address, size;
	char *image, *domain;
	size_t candidates; /* functions that matched */
};
/* 0, -ENOENT when none matches, -EIO with *ret_error. */
int session__find_function(struct session *s, const char *name, const char *domain, const char *image,
			   struct session_function *ret, char **ret_error);
void session_function__release(struct session_function *f);
/* The code and source lines the recorder kept of a function
 * (session__write_code): 0 with ret->len 0 when it kept none. */
int session__read_code(struct session *s, int64_t symbol_id, struct symbol_code *ret, char **ret_error);

/* The last bucket of the timeline, -1 when it is empty. */
int64_t session__timeline_last_bucket(struct session *s);
/* Whether the session holds call stacks (recorded with -g). */
bool session__has_stacks(struct session *s);

/* ---- writing (write.c) ----
 *
 * A run is written in the same steps by the recorder and the importer:
 * session__write_events, session__write_run, then session__write_flush
 * (with session__write_span) once or every second, session__write_code,
 * session__set_lost per CPU, and session__write_end. Each returns 0 or
 * -errno: -ENOSPC when the disk is full, -EROFS, -EIO for other SQLite
 * failures (session__error says which). */

/* What a session says about the run that made it: the meta keys of
 * docs/session-format.md. A NULL string or a 0 is unknown: not written. */
struct session_run {
	const char *command_line;      /* as typed: "domprof record -a -d 5" */
	const char *target;            /* "system-wide", "command", "pid" or "import" */
	const char *workload;          /* the command profiled */
	int64_t target_pid;            /* the process profiled (-p) */
	const char *hostname, *kernel, *arch;
	int64_t ncpus;
	time_t start_time;             /* wall clock at the start */
	const char *start_time_source; /* how start_time was found, when not measured */
	bool have_start;               /* start_ns is known */
	uint64_t start_ns;             /* the sample clock at the start */
	uint64_t timeline_bucket_ns;
	const char *clock;             /* the sample clock: "monotonic", "perf", ... */
	bool callchain;
	const char *unwinder;          /* with callchain: what made the stacks, "fp" (NULL) or "dwarf" */
};

/* Per event (ids 1..n): samples, period and lost so far. */
struct session_event_totals {
	uint64_t samples, period, lost;
};

/* The events, ids 1..n in their order. */
int session__write_events(struct session *s, const struct event_spec *events, size_t n);
/* The run's description, and state "recording" until session__write_end. */
int session__write_run(struct session *s, const struct session_run *run);
/* How far a run got, on the sample clock. */
struct session_span {
	uint64_t start_ns, stop_ns;
};

/* A flush: everything in p that changed since the last, the events'
 * totals and, unless span is NULL, how far the run got: in one
 * transaction (on failure nothing of it is kept and p still holds it). */
int session__write_flush(struct session *s, struct profile *p, const struct session_event_totals *totals,
			 size_t n_events, const struct session_span *span);
/* How far the run got: stop_ns and duration_ns. */
int session__write_span(struct session *s, uint64_t start_ns, uint64_t stop_ns);
/* Code bytes and source lines of functions, for annotate, in one
 * transaction. Entries without code are left out. */
int session__write_code(struct session *s, const struct symbol_code *codes, size_t n);
/* The last word: lost samples, state "complete" or "incomplete", and the
 * file made self-contained (session__finish). */
int session__write_end(struct session *s, uint64_t lost_samples, bool complete);

/* The single rows the steps above are made of. */
int session__set_meta(struct session *s, const char *key, const char *value);
int session__set_meta_int(struct session *s, const char *key, int64_t value);
int session__add_event(struct session *s, uint32_t id, const struct event_spec *e);
int session__set_event_totals(struct session *s, uint32_t id, uint64_t samples, uint64_t period, uint64_t lost);
int session__set_lost(struct session *s, uint32_t domain, int cpu, uint64_t samples, uint64_t lost);

/* Write everything in p that changed since the last call, in one
 * transaction, then mark it written. -ENOSPC when the disk is full, -EIO
 * for other SQLite failures; on failure nothing of this delta is kept and
 * the profile still holds it. */
int session__write_delta(struct session *s, struct profile *p);

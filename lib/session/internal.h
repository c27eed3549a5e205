/* internal: what the files of lib/session share and nobody else sees —
 * the connection and its prepared writers, and SQLite's result codes as
 * -errno. session.c opens, creates and closes a session; write.c writes
 * into it. */
#pragma once

#include <sqlite3.h>

#include "session.h"

struct session {
	sqlite3 *db;
	char *path;
	char *last_error; /* SQLite's message of the last failed write */
	sqlite3_stmt *ins_domain, *ins_thread, *ins_image, *ins_symbol, *ins_frame, *ins_sample, *ins_timeline;
	sqlite3_stmt *upd_sample, *upd_timeline, *upd_event, *set_meta;
	bool delta_meta_written; /* domprof_version and state, by the first delta */
	enum session_idle idle;
	/* The merged view's scale (view.c), computed when the data it was
	 * computed from changed: this connection's changes and the file's
	 * data_version then. */
	bool view_scale_ready;
	int64_t view_scale_changes, view_scale_version;
};

/* The connection, for lib/session and its unit tests only. */
sqlite3 *session__db(struct session *s);

/* SQLite's result code as -errno: -ENOSPC (disk full), -ENOMEM, -EROFS,
 * else -EIO. */
int session_sql_error(int rc);
/* sqlite3_exec of sql, 0 or session_sql_error. */
int session_exec(struct session *s, const char *sql);

/* A text column as a copy (to free), NULL for NULL. */
char *session_column_dup(sqlite3_stmt *st, int column);
/* "cannot read the WHAT of PATH: <SQLite's message>" in *ret_error; -EIO. */
int session_read_error(struct session *s, const char *what, char **ret_error);

/* An empty session in memory, of this build's schema, called name
 * (session__path): what several sessions merge into (merge.c). */
int session_open_memory(const char *name, struct session **ret);

/* The statements that write a profile delta, prepared once per
 * connection (write.c); finalizing accepts statements never prepared. */
int session__prepare_writers(struct session *s);
void session__finalize_writers(struct session *s);

/* series: the sessions of one rotating recording (record --rotate), in
 * one directory, each a complete session named by its start time in UTC:
 * domprof-YYYYmmdd-HHMMSS.db, with _N added when several start in the
 * same second. Names sort by time; only names of this form belong to the
 * series, so retention never touches another file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A name for a session starting at start, free in dir. *ret_path is
 * allocated. 0 or -errno. */
int session_series__next_path(const char *dir, time_t start, char **ret_path);

/* Is name (a file name, no directory) one of a series'? */
bool session_series__is_name(const char *name);

/* The series' sessions in dir, oldest first (*ret_paths: dir/name each,
 * NULL-terminated, free with session_series__list_free). 0 or -errno
 * (-ENOENT, -ENOTDIR). */
int session_series__list(const char *dir, char ***ret_paths, size_t *ret_n);
void session_series__list_free(char **paths);

/* Retention: remove the oldest sessions of dir, never current, until at
 * most keep_count remain (0: any number) and they take at most keep_bytes
 * (0: any size), current included. *ret_removed: how many were removed.
 * 0 or the -errno of the first removal that failed. */
int session_series__retain(const char *dir, const char *current, size_t keep_count, uint64_t keep_bytes,
			   size_t *ret_removed);

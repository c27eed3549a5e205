/* child: a command started by domprof, stopped between fork and exec until
 * the events that watch it are open (perf's workload barrier), so nothing
 * it does escapes them; and the one way such a command is waited for and
 * stopped. Shared by `record` and `stat`. */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

/* How long a command asked to stop (SIGTERM) has before it is killed. */
#define CHILD_STOP_GRACE_MS 2000

struct child {
	pid_t pid;    /* 0: none, or reaped */
	int go_fd;    /* write end: releases the child; -1 once released */
	int error_fd; /* read end: errno of a failed exec, or EOF */
	int pid_fd;   /* a pidfd, readable once it exits (child_watch), or -1 */
	bool exited;  /* it ended and was reaped: status is its wait status */
	int status;
};

#define CHILD_INIT { .pid = 0, .go_fd = -1, .error_fd = -1, .pid_fd = -1 }

/* Fork the command, held at the barrier. 0 or -errno. */
int child_prepare(char **argv, struct child *ch);
/* Release it; -errno of a failed exec (the child, which then exits 127,
 * is reaped). */
int child_start(struct child *ch);
/* Whether it has ended (reaping it, without waiting); ru (optional) gets
 * its resource usage and its reaped children's then. */
bool child_poll(struct child *ch, struct rusage *ru);
/* A pidfd of the command (kept in ch, closed by child_stop), readable
 * once it exits: a wait on it ends then. The fd, or -errno (-ENOSYS on a
 * kernel before 5.3). */
int child_watch(struct child *ch);
/* End it when profiling ends first (-d, a signal, an error): one never
 * released is killed at the barrier; a running one is asked to stop
 * (SIGTERM) and killed after CHILD_STOP_GRACE_MS. Reaps it and closes the
 * barrier's pipes. Accepts a child that was never forked or already
 * ended. */
void child_stop(struct child *ch);
/* Say (log_info) that the command exited with a non-zero status, if it
 * did: profiling worked, but the user may want to know. */
void child_note_exit(const struct child *ch);

/* Whether execvp would find an executable NAME: 0 or -errno. Lets a
 * command fail on a mistyped workload before it touches any file. */
int command_find(const char *name);

/* "a b c": argv joined by spaces (to free). */
char *argv_join(int argc, char **argv);

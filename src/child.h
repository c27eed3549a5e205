/* child: a command started by domprof, stopped between fork and exec until
 * the events that watch it are open (perf's workload barrier), so nothing
 * it does escapes them. Shared by `record` and `stat`. */
#pragma once

#include <sys/types.h>

struct child {
	pid_t pid;
	int go_fd;    /* write end: releases the child; -1 once released */
	int error_fd; /* read end: errno of a failed exec, or EOF */
};

#define CHILD_INIT { .pid = 0, .go_fd = -1, .error_fd = -1 }

/* Fork the command, held at the barrier. 0 or -errno. */
int child_prepare(char **argv, struct child *ch);
/* Release it; -errno of a failed exec (the child then exits 127). */
int child_start(struct child *ch);
/* Never released (an error before the start): kill it and reap it. */
void child_abort(struct child *ch);

/* Whether execvp would find an executable NAME: 0 or -errno. Lets a
 * command fail on a mistyped workload before it touches any file. */
int command_find(const char *name);

/* "a b c": argv joined by spaces (to free). */
char *argv_join(int argc, char **argv);

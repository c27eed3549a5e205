/* The command layer: one cmd_<name> per subcommand (src/cmd-<name>.c),
 * dispatched by main.c. Commands print messages; libraries do not.
 *
 * The error convention is the library's: a negative errno means failure.
 * A command returns 0 when it worked; on failure it prints one message
 * and returns a negative errno, as in
 *
 *     if (r < 0)
 *             return log_error_errno(r, "cannot write %s: %m", path);
 *
 * and main exits 1. A positive return is an exit status passed on as it
 * is, for the few that must say more (127: the command to profile cannot
 * run, as a shell says). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "../lib/util/util.h"

int cmd_record(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_vms(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_html(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_annotate(int argc, char **argv);

/* "domprof: <message>" on stderr; returns r, which must be a negative
 * errno (anything else becomes -EINVAL, so the result always reads as a
 * failure). %m in fmt is strerror(-r). */
int log_error_errno(int r, const char *fmt, ...) PRINTF(2, 3);
/* The same for bad input (an option, an argument): returns -EINVAL. */
int log_error(const char *fmt, ...) PRINTF(1, 2);
/* "domprof: warning: <message>": something the user should know; the
 * command goes on. */
void log_warning(const char *fmt, ...) PRINTF(1, 2);
/* "domprof: <message>", unless -q. */
void log_info(const char *fmt, ...) PRINTF(1, 2);
extern bool quiet;

/* Load the pre-shared key of `agent` and `record --agent`; on failure
 * print why and what to do, and return the negative errno. */
int key_load(const char *path, unsigned char key[32]);

/* Print the usage text of a command (from the table in main.c). */
void usage(const char *cmd, FILE *out);

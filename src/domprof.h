/* The command layer: one cmd_<name> per subcommand (src/cmd-<name>.c),
 * dispatched by main.c. Commands print messages; libraries do not. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "../lib/util/util.h"

int cmd_record(int argc, char **argv);
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

/* "domprof: <message>" on stderr; returns 1 (the exit status to use). */
int error(const char *fmt, ...) PRINTF(1, 2);
void warning(const char *fmt, ...) PRINTF(1, 2);
void info(const char *fmt, ...) PRINTF(1, 2);
extern bool quiet;

/* Load the pre-shared key of `agent` and `record --agent`; on failure
 * print why and what to do, and return -1. */
int key_load(const char *path, unsigned char key[32]);

/* Print the usage text of a command (from the table in main.c). */
void usage(const char *cmd, FILE *out);

/* options: the command-line options several commands share, spelled,
 * parsed and checked in one place, so that each reads, is bounded and is
 * worded alike wherever it appears:
 *
 *   --vm NAME=PID            record, stat, vms, top
 *   -p PID, -d SECONDS       record, stat, top
 *   -F HZ                    record, top
 *   --domain, --layer, --comm, --event LIST
 *                            report, diff, export (annotate: --event)
 *   --source VIEW            report, diff, export, html
 *   --threshold PCT, --limit N   report, diff
 *   --no-idle                report, diff, export, html
 *   --format NAME            every command that prints (its own list)
 *   -g, --call-graph fp|dwarf[,SIZE]   record (and top)
 *
 * A command puts the OPTION_* entries in its getopt_long table and calls
 * the matching option_parse_* from its switch. Each parser prints what is
 * wrong (naming the option and the argument, and what would do) and
 * returns -EINVAL, or 0; a list option given twice replaces the first
 * list, as getopt users expect. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/domain/vm.h"
#include "../lib/report/report.h"

/* getopt_long ids of the shared long options without a short form;
 * a command's own start at OPT_COMMAND_BASE. */
enum {
	OPT_VM = 0x100,
	OPT_DOMAIN,
	OPT_LAYER,
	OPT_COMM,
	OPT_EVENT,
	OPT_SOURCE,
	OPT_NO_IDLE,
	OPT_COMMAND_BASE = 0x200,
};

#define OPTION_VM { "vm", required_argument, NULL, OPT_VM }
#define OPTION_DOMAIN { "domain", required_argument, NULL, OPT_DOMAIN }
#define OPTION_LAYER { "layer", required_argument, NULL, OPT_LAYER }
#define OPTION_COMM { "comm", required_argument, NULL, OPT_COMM }
#define OPTION_EVENT { "event", required_argument, NULL, OPT_EVENT }
#define OPTION_SOURCE { "source", required_argument, NULL, OPT_SOURCE }
#define OPTION_NO_IDLE { "no-idle", no_argument, NULL, OPT_NO_IDLE }
#define OPTION_THRESHOLD { "threshold", required_argument, NULL, 't' }
#define OPTION_LIMIT { "limit", required_argument, NULL, 'n' }
#define OPTION_FORMAT { "format", required_argument, NULL, 'f' }

/* --vm NAME=PID, repeatable: the processes to treat as VMs, by name. */
struct vm_names {
	struct vm_force *vms; /* names owned */
	size_t n;
};
/* Refuses a missing name or pid, a pid that is not one, and the names the
 * host keeps for itself (host, idle). */
int option_parse_vm(const char *arg, struct vm_names *v);
void vm_names__release(struct vm_names *v);

/* -p PID: a positive process id. */
int option_parse_pid(const char *arg, pid_t *ret);
/* -F HZ: a positive sampling frequency. */
int option_parse_freq(const char *arg, uint64_t *ret);
/* -d SECONDS: positive, finite, at most a few months. */
int option_parse_duration(const char *arg, double *ret);

/* --call-graph fp|dwarf[,SIZE], perf's spelling (-g is fp): which unwinder
 * makes the stacks. user_stack_size is 0 for frame pointers; for dwarf
 * the bytes of user stack copied per sample: SIZE (decimal bytes, or with
 * K) rounded up to a multiple of 8, SAMPLER_DEFAULT_USER_STACK when
 * absent; at most 64K, of which the kernel copies at most
 * SAMPLER_MAX_USER_STACK. */
struct call_graph_option {
	bool enabled;
	uint32_t user_stack_size;
};
int option_parse_call_graph(const char *arg, struct call_graph_option *ret);

/* --domain, --comm, --event: a comma-separated list, replacing *list. */
void option_parse_list(const char *arg, char ***list);
/* --layer: the same, every name a known layer. */
int option_parse_layers(const char *arg, char ***list);
/* --source merged|host|agent. */
int option_parse_source(const char *arg, enum view_source *ret);
/* --threshold: a percentage, 0 to 100. */
int option_parse_threshold(const char *arg, double *ret);
/* --limit: a number of rows (0: no limit). */
int option_parse_limit(const char *arg, size_t *ret);

/* --format: one of names (NULL-terminated), its index in *ret. The lists
 * of the commands: */
int option_parse_format(const char *arg, const char *const *names, int *ret);
/* report, diff, stat print a table as text, CSV or JSON. */
enum table_format { FORMAT_TEXT = 0, FORMAT_CSV, FORMAT_JSON };
extern const char *const option_table_formats[]; /* enum table_format order */
/* vms, annotate: text (0) or json (1). */
extern const char *const option_text_json_formats[];

/* The filters and view of a report_query, as report, diff and export take
 * them: OPTIONS_QUERY in the getopt_long table, and in the switch
 *
 *     OPTION_QUERY_CASES: ret = option_parse_query(c, optarg, &q); break;
 */
#define OPTIONS_QUERY OPTION_DOMAIN, OPTION_LAYER, OPTION_COMM, OPTION_EVENT, OPTION_SOURCE, OPTION_NO_IDLE
#define OPTION_QUERY_CASES \
	case OPT_DOMAIN:   \
	case OPT_LAYER:    \
	case OPT_COMM:     \
	case OPT_EVENT:    \
	case OPT_SOURCE:   \
	case OPT_NO_IDLE
int option_parse_query(int c, const char *arg, struct report_query *q);
/* Free the lists option_parse_query filled. */
void option_query__release(struct report_query *q);

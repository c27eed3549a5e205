/* report: everything the report commands show, computed from a session
 * file alone. Two models:
 *
 *  - the layer table: per domain and layer, each event's samples and
 *    period, plus each VM's virtualization overhead
 *    (hypervisor + vmm) / (guest-user + guest-kernel + guest) and the part
 *    of its hypervisor layer that was a vCPU halted or halt-polling;
 *  - the row table: samples grouped by sort keys (domain, layer, comm, pid,
 *    tid, image, symbol), one column group per event, filtered, sorted by
 *    period, thresholded and limited.
 *
 * The host's idle loop is a domain of its own, "idle" (lib/domain/idle.h):
 * every model carries each event's busy total (everything but idle) beside
 * its total, so a share can be given of either; with no_idle the idle
 * domain is left out of every table and total (busy == total).
 *
 * Samples are read through the session's one view (lib/session/view.h:
 * merged, host or agent), names through its catalog
 * (lib/session/catalog.h). Files: report.c (the query), table.c (rows),
 * callgraph.c (rows over call stacks), layers.c (the layer table),
 * format.c (rendering as text, CSV or JSON; docs/report-formats.md holds
 * the CSV/JSON contracts). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../session/catalog.h"
#include "../session/session.h"
#include "../session/view.h"
#include "../util/util.h"

enum report_key {
	KEY_DOMAIN = 0,
	KEY_LAYER,
	KEY_COMM,
	KEY_PID,
	KEY_TID,
	KEY_IMAGE,
	KEY_SYMBOL,
	KEY__COUNT
};
const char *report_key__name(enum report_key k);

/* The view of an active VM's guest layers is lib/session/view.h's
 * (enum view_source: merged, host, agent). */

struct report_query {
	enum report_key keys[KEY__COUNT];
	size_t n_keys;
	char **domains; /* filters: NULL-terminated lists, or NULL for all */
	char **layers;
	char **comms;
	char **events;  /* events to show (default all) */
	double threshold; /* percent; rows below it in every event are dropped */
	size_t limit;     /* 0 = no limit */
	enum view_source source;
	bool no_idle;     /* leave the idle domain out of every table and total */
	/* Call-graph views (sessions recorded with -g): */
	bool children;    /* inclusive ("children") period per row, rows by it */
	char *callers;    /* rows are the callers of this function */
	char *callees;    /* rows are the callees of this function */
};
/* Parse "domain,layer,image" into q->keys. -EINVAL with *ret_error. */
int report_query__parse_keys(struct report_query *q, const char *text, char **ret_error);
/* Split a comma list into a NULL-terminated array (to free with strv_free). */
char **strv_split(const char *text);
void strv_free(char **v);
/* Whether s is in list; a NULL list (no filter) holds everything. */
bool strv_contains(char **list, const char *s);

struct report_event {
	uint32_t id;
	char *name;
	char *unit; /* "ns" or "count" */
	uint64_t samples, period; /* whole session */
	uint64_t lost;
	uint64_t sample_period, sample_freq; /* how it was sampled; 0 when unknown */
};

struct report_row {
	char *keys[KEY__COUNT]; /* in query order */
	uint64_t *samples;      /* per shown event */
	uint64_t *period;
	char *comm;             /* the row's main command (when comm is not a key) */
	size_t n_comms;
	uint64_t min_address, max_address; /* for [unknown] symbols */
	bool unknown_symbol;
	uint64_t *inclusive;    /* --children: period of samples with this function on the stack */
	uint64_t *idle_period;  /* per shown event: the part of period in the idle domain */
};

struct report_table {
	struct report_query query;
	struct report_event *events; /* shown events */
	size_t n_events;
	uint64_t *total_samples;     /* per shown event, within the filters */
	uint64_t *total_period;
	uint64_t *busy_period;       /* total_period less the idle domain's */
	struct report_row *rows;
	size_t n_rows;
	size_t n_rows_before_cut;    /* before threshold and limit */
	bool has_stacks;             /* the session holds call stacks */
};

struct report_domain_info {
	char *name;
	bool is_vm;
	bool is_idle; /* the host's idle loop */
	int64_t pid;
	char *vmm, *accel, *uuid, *source, *note;
	bool complete;
	int64_t clock_offset_ns, start_skew_ns;
	uint64_t *samples; /* per event */
	uint64_t *period;
	uint64_t *layer_period[LAYER__COUNT]; /* per layer index (enum layer order), per event */
	uint64_t *layer_samples[LAYER__COUNT];
	/* VMs: the part of the hypervisor layer in KVM's halt path
	 * (idle__is_halt_function: the sample's function or, with call
	 * stacks, one of its callers), per event. */
	uint64_t *halt_period;
	uint64_t *halt_samples;
};

struct report_layers {
	struct report_event *events;
	size_t n_events;
	uint64_t *total_period; /* per event, all domains within filters */
	uint64_t *total_samples;
	uint64_t *busy_period;  /* per event: total less the idle domain */
	uint64_t *busy_samples;
	bool no_idle;           /* the query left idle out */
	struct report_domain_info *domains; /* in session order, idle last */
	size_t n_domains;
};

int report__load_events(struct session *s, char **filter, struct report_event **ret, size_t *ret_n, char **ret_error);
void report_events__free(struct report_event *e, size_t n);
/* The index of event id in ev, or -1. */
int report_events__index(const struct report_event *ev, size_t n, int64_t id);

int report_table__query(struct session *s, const struct report_query *q, struct report_table *ret, char **ret_error);
void report_table__release(struct report_table *t);

int report_layers__query(struct session *s, const struct report_query *q, struct report_layers *ret, char **ret_error);
void report_layers__release(struct report_layers *l);

/* Virtualization overhead of a VM for event e: -1 when it has no guest time. */
double report_domain__overhead(const struct report_domain_info *d, size_t e);
/* Percent of part in total, 0 when total is 0. */
double report__percent(uint64_t part, uint64_t total);
/* Share of busy time (percent of busy_period) of a period whose idle part
 * is idle_part: -1 when all of it is idle (a share of busy time means
 * nothing for idle itself). */
double report__busy_percent(uint64_t period, uint64_t idle_part, uint64_t busy_period);

/* The view filter of q (its source, domains, layers, comms, idle). */
struct view_filter report_query__filter(const struct report_query *q);

/* The call stack of a sample as functions, innermost first: image and
 * symbol names from the catalog (CATALOG_CODE), "[unknown]" where there
 * is none; a sample without a stack is its own function. Returns how
 * many entries (at most max). */
struct report_function {
	const char *image, *symbol;
};
size_t report__stack_functions(const struct session_catalog *c, uint32_t stack, uint32_t image, uint32_t symbol,
			       struct report_function *out, size_t max);
/* Deepest stack the call-graph views walk: deeper frames of a damaged or
 * runaway stack are left out (perf's own limit is 127 by default). */
#define REPORT_MAX_STACK_DEPTH 1024

/* Rendering. */
/* What made a session's stacks, for people: its callchain meta key
 * ("dwarf", "fp", "none") in words; NULL for NULL (a session before the
 * key was kept). */
const char *report__call_stacks_text(const char *callchain);
/* "# ..." lines: the session, what made its stacks, its events, and how
 * idle is counted. */
void report__print_header(struct session *s, const struct report_layers *l, FILE *out);
/* The idle lines of a text header, each starting with prefix: whether idle
 * is counted, and note (session__idle_note, when not NULL). */
void report__print_idle_header(bool no_idle, const char *note, const char *prefix, FILE *out);
void report_layers__print_text(const struct report_layers *l, FILE *out);
void report_table__print_text(const struct report_table *t, FILE *out);
void report_table__print_csv(const struct report_table *t, FILE *out);
void report__print_json(struct session *s, const struct report_layers *l, const struct report_table *t, FILE *out);

/* Display helpers shared with diff, export, html and annotate. */
/* s as a JSON string, or null for NULL. */
void json_str_or_null(struct strbuf *sb, const char *s);
double event_value(const struct report_event *e, uint64_t period); /* ms for ns events, else count */
const char *event_value_unit(const struct report_event *e);

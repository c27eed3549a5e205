/* top: the model of `domprof top`, the live view. It watches a profile
 * that a recorder (and its agents) keep filling, and on each refresh takes
 * what the profile gained since the previous one as the new interval:
 *
 *  - entries: one per (domain, layer, thread, image, symbol, origin) of
 *    the profile, with per event the last interval, the total since the
 *    start (or the last zero), and a decayed value that fades like perf
 *    top's (each refresh multiplies it by TOP_DECAY, then adds the
 *    interval), so a hot spot that stops drops out of the view instead of
 *    lingering;
 *  - the domain/layer table of the interval and of the whole run, from the
 *    host's own samples (an agent's rows detail guest time the host
 *    already counted: adding them would count it twice);
 *  - a view: entries filtered (domain, layer, a name), grouped by the
 *    report's sort keys (domain, layer, comm, pid, tid, image, symbol),
 *    ordered (decayed, interval, total, name) by one event.
 *
 * Nothing here samples, draws or prints: model.c computes from a profile
 * alone (unit-tested, tests/unit/test-top.c), render.c writes the batch
 * snapshots and the lines the screen draws (src/top-screen.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "../events/events.h"
#include "../report/report.h"
#include "../util/hmap.h"
#include "../util/util.h"
#include "../vocab/vocab.h"

/* perf top's decay (hists__decay_entries: period * 7 / 8 per refresh): a
 * function that stops loses half its weight in about five refreshes. */
#define TOP_DECAY (7.0 / 8.0)
/* A row whose decayed value fell below this share of the decayed total,
 * and that had nothing in the last interval, has faded: the decayed view
 * leaves it out (it still counts in the totals). */
#define TOP_FADE_SHARE 0.001

struct top_value {
	uint64_t samples, period;
};

struct top_entry {
	uint32_t domain, thread, image, symbol; /* profile ids (0: none) */
	uint8_t layer, origin;
	struct top_value *interval, *total; /* per event */
	double *decayed;                    /* per event */
};

/* One domain's layers: per layer, per event (NULL: no sample yet). */
struct top_domain {
	uint32_t id; /* profile domain id */
	struct top_value *interval[LAYER__COUNT], *total[LAYER__COUNT];
};

/* What the model remembers of one profile sample counter: how much of it
 * is already taken, and the entry it adds to. */
struct top_seen {
	uint64_t samples, period;
	uint32_t entry1; /* entry index + 1; 0 = not looked up yet */
};

struct top_model {
	size_t n_events;
	struct top_entry *entries;
	size_t n_entries, cap_entries;
	struct hmap index;
	struct top_domain *domains; /* by profile domain id - 1 */
	size_t n_domains;
	struct top_seen *seen; /* by profile sample index */
	size_t n_seen;
	uint64_t interval_ns;  /* the last interval's length */
	uint64_t total_ns;     /* since the start or the last zero */
	uint64_t updates;      /* refreshes since the start or the last zero */
};

void top_model__init(struct top_model *m, size_t n_events);
void top_model__release(struct top_model *m);
/* Take what p gained since the last update as the new interval, of length
 * interval_ns: every entry's interval, total and decayed value, and the
 * layer table. p must be the profile of every earlier update. */
void top_model__update(struct top_model *m, const struct profile *p, uint64_t interval_ns);
/* `z`: forget totals and decay; the next interval starts the new total. */
void top_model__zero(struct top_model *m);

/* The span a figure covers: the last interval or the whole run. */
enum top_span { TOP_SPAN_INTERVAL = 0, TOP_SPAN_TOTAL };

/* A domain's figure for one layer and event over span (zero when none). */
struct top_value top_domain__value(const struct top_domain *d, enum layer l, size_t event, enum top_span span);
/* Its sum over its layers. */
struct top_value top_domain__sum(const struct top_domain *d, size_t event, enum top_span span);
/* The VM's overhead (layer__overhead) over span, -1 without guest work. */
double top_domain__overhead(const struct top_domain *d, size_t event, enum top_span span);
/* The domains in display order: the host, the VMs by name, idle last.
 * Returns n; *ret (to free) holds pointers into m. */
size_t top_model__domains_ordered(const struct top_model *m, const struct profile *p, const struct top_domain ***ret);
/* Every domain's sum over span, with idle apart (the "busy" total is the
 * rest). */
void top_model__sums(const struct top_model *m, const struct profile *p, size_t event, enum top_span span,
		     uint64_t *ret_all, uint64_t *ret_idle);

/* ---- the view ---- */

/* How rows are ordered (key `s` cycles through them). */
enum top_order {
	TOP_ORDER_DECAYED = 0, /* perf top's: recent weight, fading */
	TOP_ORDER_INTERVAL,    /* the last interval only */
	TOP_ORDER_TOTAL,       /* the whole run (since start or zero) */
	TOP_ORDER_NAME,        /* by the keys' text */
	TOP_ORDER__COUNT
};
/* "decayed", "interval", "total", "name"; "?" out of range. */
const char *top_order__name(enum top_order o);
int top_order__from_name(const char *name);

struct top_filter {
	uint32_t domain;  /* profile domain id; 0 = every domain */
	int layer;        /* enum layer; -1 = every layer */
	const char *name; /* a part of the symbol's or the command's name; NULL or "" = all */
};

struct top_query {
	enum report_key keys[KEY__COUNT]; /* grouping, as report's --sort */
	size_t n_keys;
	struct top_filter filter;
	enum top_order order;
	size_t event; /* the event rows are ordered by */
};

/* domain,layer,comm,image,symbol: who, where, what. */
#define TOP_DEFAULT_KEYS "domain,layer,comm,image,symbol"
/* Fill q with the default keys and order, no filter. */
void top_query__init(struct top_query *q);

struct top_row {
	char *keys[KEY__COUNT];             /* in query order, sanitized */
	struct top_value *interval, *total; /* per event */
	double *decayed;
	double *idle_interval, *idle_total; /* per event: the part in the idle domain */
	bool agent;                         /* some of it came from a guest's agent */
};

struct top_view {
	struct top_query query;
	size_t n_events;
	struct top_row *rows; /* ordered; faded rows left out */
	size_t n_rows;
	/* per event, host samples within the filter: the 100% of a share */
	struct top_value *interval_all, *total_all;
	uint64_t *interval_busy, *total_busy; /* the same less the idle domain */
	double *decayed_all;
};

/* Build the view of m (over profile p, for names) for q. */
void top_view__build(struct top_view *v, const struct top_model *m, const struct profile *p,
		     const struct top_query *q);
void top_view__release(struct top_view *v);
/* The row's value that the order ranks by, for event e. */
double top_row__rank(const struct top_row *r, enum top_order o, size_t e);

/* ---- rendering (render.c) ---- */

/* What the command knows of the run beside the model, for headers. */
struct top_status {
	const char *hostname;
	const char *const *event_names; /* n_events */
	const enum event_unit *units;   /* per event: ns events show ms */
	double elapsed_s;               /* since the start */
	double interval_s;              /* the last interval */
	uint64_t samples, lost;         /* in the last interval */
	const char *agents;             /* "web running, db failed", or NULL */
	bool paused;
};

/* The text lines of a snapshot, without newlines, each at most width
 * columns: header, layer table (over span, with bars), then the rows'
 * header line and up to max_rows rows (first_row on). The screen draws
 * them; batch mode prints them. Lines are appended to *lines (a
 * NULL-terminated strv, to free with strv_free); returns the index of the
 * rows' header line. */
size_t top_render__lines(const struct top_model *m, const struct profile *p, const struct top_view *v,
			 const struct top_status *st, enum top_span span, size_t width, size_t first_row,
			 size_t max_rows, char ***lines);
/* One CSV line per row of the view over the last interval: time (seconds
 * since the start, at the interval's end), then the report's columns
 * (docs/commands.md, top). header: print the column line first. */
void top_render__csv(const struct top_view *v, const struct top_status *st, bool header, size_t max_rows,
		     struct strbuf *out);
/* One JSON document on one line (JSON Lines): the status, the layer table
 * of the interval and of the run, and the view's rows. */
void top_render__json(const struct top_model *m, const struct profile *p, const struct top_view *v,
		      const struct top_status *st, size_t max_rows, struct strbuf *out);

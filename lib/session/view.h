/* view: which sample rows of a session a report counts, and with what
 * period — the one definition every reader shares (report, diff, export,
 * html, annotate, and through report's JSON the case study's summary).
 *
 * Samples carry their origin (host or agent). An active VM's guest layers
 * are measured twice: by the host (their magnitude) and by the VM's agent
 * (their breakdown inside the guest). A view says which to show:
 *
 *  - host: the host's rows only;
 *  - agent: the guest layers of every VM with agent data come from the
 *    agent's rows, everything else from the host's;
 *  - merged (the default): as agent, but the agent's periods are scaled,
 *    per VM and event, so that their sum is what the host measured for
 *    that VM's guest layers: the host's magnitude, the agent's breakdown.
 *
 * Readers ask for rows grouped by columns of their choice; each group
 * carries the sums of its samples. No SQL leaves lib/session. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

/* Which view of an active VM's guest layers (docs/agent.md). */
enum view_source { SOURCE_MERGED = 0, SOURCE_HOST, SOURCE_AGENT };
/* "merged", "host", "agent"; the names of --source and of the outputs. */
const char *view_source__name(enum view_source source);
int view_source__parse(const char *name, enum view_source *ret);

/* What to keep of a view. Lists are NULL-terminated, NULL for all. */
struct view_filter {
	enum view_source source;
	char **domains, **layers, **comms;
	bool no_idle;      /* leave the idle layer (the host's idle loop) out */
	bool vms_only;     /* domains of kind vm only */
	int64_t symbol_id; /* > 0: the samples of this function only */
};

/* What a row can be grouped by. Ids are 0 where the sample has none;
 * text columns are never NULL: a missing comm, pid or tid is "", a missing
 * image or symbol "[unknown]". */
enum view_column {
	VIEW_EVENT_ID = 0,
	VIEW_DOMAIN_ID,
	VIEW_DOMAIN,    /* domain name */
	VIEW_LAYER,
	VIEW_THREAD_ID,
	VIEW_COMM,
	VIEW_PID,       /* text, as reports key on it */
	VIEW_TID,
	VIEW_IMAGE_ID,
	VIEW_IMAGE,     /* image path */
	VIEW_SYMBOL_ID,
	VIEW_SYMBOL,    /* function name */
	VIEW_ADDRESS,
	VIEW_STACK_ID,
	VIEW_COLUMN__COUNT
};

/* One group of rows (or one sample row, when not grouped). */
struct view_row {
	uint64_t count;          /* samples */
	uint64_t period;         /* in the view: scaled for agent rows in the merged view */
	uint64_t idle_period;    /* the part of period in the idle layer */
	uint64_t min_address, max_address;
	bool unknown_symbol;     /* some sample has no function */
};

struct view_rows;

/* Rows of the view, filtered by f, grouped by the n columns (grouped) or
 * one per sample row (not grouped: the columns are the row's own). 0, or
 * -EIO with *ret_error. f's lists must outlive the rows. */
int view_rows__open(struct session *s, const struct view_filter *f, const enum view_column *columns, size_t n,
		    bool grouped, struct view_rows **ret, char **ret_error);
/* The timeline of the view (filtered by f->source only): per event,
 * domain, layer and bucket, the period. Columns: VIEW_EVENT_ID,
 * VIEW_DOMAIN_ID, VIEW_LAYER, then the bucket (read with
 * view_rows__int(r, 3)). */
int view_rows__open_timeline(struct session *s, const struct view_filter *f, struct view_rows **ret,
			     char **ret_error);
/* The next row: 1, 0 at the end, or -EIO with *ret_error. */
int view_rows__next(struct view_rows *r, struct view_row *ret, char **ret_error);
/* The i-th column of the current row. Text stays valid until the next
 * call of view_rows__next. */
int64_t view_rows__int(struct view_rows *r, size_t i);
const char *view_rows__text(struct view_rows *r, size_t i);
void view_rows__close(struct view_rows *r);

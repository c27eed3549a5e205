/* html: the self-contained HTML report of a session (`domprof html`).
 *
 * One page, nothing fetched at view time: the report's data as one JSON
 * object (session metadata, events, each domain's layer totals and VM
 * overhead, its top rows, its call-stack tree for the flame graph, and the
 * timeline) embedded in a <script type="application/json"> element, with the
 * page's CSS and JavaScript, which are compiled into the binary from
 * lib/report/html/. The data layout is documented in docs/html.md. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "../util/util.h"
#include "report.h"

struct html_options {
	enum view_source source; /* view of active VMs' guest layers */
	bool no_idle;              /* leave the host's idle loop out */
	/* Flame graph: frames whose total is under this percent of their
	 * domain in every event are merged into their caller ... */
	double min_frame_percent;
	/* ... and the threshold doubles until a domain's tree has at most
	 * this many frames, so a huge session still gives a usable page. */
	size_t max_frames;
	size_t max_rows;   /* top rows per domain: the first max_rows of any event */
	size_t max_points; /* timeline points per series; buckets merge to fit */
};

/* Defaults: merged view, 0.05 %, 20000 frames, 200 rows, 1000 points. */
void html_options__init(struct html_options *o);

/* What went into a page, for the command's summary line. */
struct html_summary {
	size_t n_domains, n_events;
	size_t frames;             /* flame graph nodes kept, all domains */
	size_t frames_pruned;      /* nodes merged into their caller */
	double min_frame_percent;  /* the largest threshold any domain needed */
	size_t data_bytes;         /* size of the embedded JSON */
};

/* The report's data as one JSON object, escaped so that it can sit inside
 * a <script> element (no '<', '>', '&', U+2028 or U+2029 left raw). 0, or
 * -errno with *ret_error saying what failed. */
int html_report__json(struct session *s, const struct html_options *o, struct strbuf *out,
		      struct html_summary *ret_summary, char **ret_error);

/* The whole page. -EIO when writing to out fails. */
int html_report__write(struct session *s, const struct html_options *o, FILE *out, struct html_summary *ret_summary,
		       char **ret_error);

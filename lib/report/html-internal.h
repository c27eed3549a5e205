/* html-internal: what the page (html.c) and its flame graphs
 * (html-flame.c) share — the build context. */
#pragma once

#include "../session/catalog.h"
#include "../util/hmap.h"
#include "html.h"
#include "strtab.h"

#define NO_NODE UINT32_MAX
#define NO_STRING UINT32_MAX

struct flame_node {
	uint32_t parent, first_child, next_sibling;
	uint32_t name, image; /* strtab indexes; image NO_STRING when none */
	uint32_t depth;
	bool kept;
};

/* All domains' trees in one node array; node values are n_events periods
 * then n_events sample counts. */
struct flame {
	struct flame_node *nodes;
	size_t n, cap;
	uint64_t *values;
	size_t values_cap;
	size_t n_events;
	struct hmap index;
};

struct html_ctx {
	struct session *s;
	const struct html_options *o;
	struct report_layers layers;
	bool have_layers;
	int64_t *domain_ids; /* per report domain index, its id in the session */
	struct session_catalog cat;
	struct session_about about;
	struct strtab strings;
	uint32_t *string_slot;  /* per string: its index in the page's list, or NO_STRING */
	uint32_t *page_strings; /* the strings the kept nodes use, in page order */
	size_t n_page_strings;
	struct flame flame;
	uint32_t *roots;    /* per domain: root node */
	double *thresholds; /* per domain: the frame threshold used */
	size_t *pruned;     /* per domain: nodes merged into callers */
	struct html_summary summary;
};

/* The report domain index of a session domain id, or -1. */
int html_ctx__domain_index(const struct html_ctx *c, int64_t id);

/* Each domain's tree from the view's samples, pruned to the options. */
int html_flames__build(struct html_ctx *c, char **ret_error);
void html_flames__release(struct html_ctx *c);
/* ,"flame":{...} of domain d. */
void html_flames__json(struct html_ctx *c, size_t d, struct strbuf *sb);
/* ,"strings":[...]: the names the kept nodes use. */
void html_strings__json(struct html_ctx *c, struct strbuf *sb);
/* A double that JSON can hold (no NaN or infinity: null). */
void html_json_number(struct strbuf *sb, double v);

/* The HTML report's flame graphs: each domain's tree of its samples in the
 * report's view, domain -> layer -> command -> call stack, outermost
 * caller first, as perf script | stackcollapse-perf.pl | flamegraph.pl
 * would draw it (an unresolved frame is named after its image,
 * "[libc.so.6]", as stackcollapse-perf does, and a run of them is one
 * frame); a sample without a stack (recorded without -g) is a one-frame
 * stack. Node values are inclusive (the node and everything it called),
 * per event, in period units; the page derives self values. Small frames
 * are merged into their caller so that the file stays small and the SVG
 * fast for any session size. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "html-internal.h"

void html_json_number(struct strbuf *sb, double v)
{
	if (!isfinite(v))
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.6g", v);
}

static uint64_t *flame__period(struct flame *f, uint32_t node) { return &f->values[(size_t)node * 2 * f->n_events]; }
static uint64_t *flame__samples(struct flame *f, uint32_t node)
{
	return &f->values[(size_t)node * 2 * f->n_events + f->n_events];
}

static uint32_t flame__add(struct flame *f, uint32_t parent, uint32_t name, uint32_t image)
{
	struct flame_node *n;
	uint32_t id;
	ARRAY_GROW(f->nodes, f->cap, f->n + 1);
	id = (uint32_t)f->n++;
	n = &f->nodes[id];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->first_child = n->next_sibling = NO_NODE;
	n->name = name;
	n->image = image;
	if (parent != NO_NODE) {
		n->depth = f->nodes[parent].depth + 1;
		n->next_sibling = f->nodes[parent].first_child;
		f->nodes[parent].first_child = id;
	}
	grow_array((void **)&f->values, &f->values_cap, f->n * 2 * f->n_events, sizeof(uint64_t));
	memset(flame__period(f, id), 0, 2 * f->n_events * sizeof(uint64_t));
	return id;
}

static uint32_t flame__child(struct flame *f, uint32_t parent, uint32_t name, uint32_t image)
{
	uint64_t h = hash_mix(hash_mix(hash_u64(parent), name), image);
	size_t pos = hmap_first(&f->index, h);
	uint32_t idx;
	while (hmap_candidate(&f->index, pos, h, &idx)) {
		if (idx != UINT32_MAX && f->nodes[idx].parent == parent && f->nodes[idx].name == name &&
		    f->nodes[idx].image == image)
			return idx;
		pos = hmap_next(&f->index, pos);
	}
	idx = flame__add(f, parent, name, image);
	hmap_insert_at(&f->index, pos, h, idx);
	return idx;
}

static void flame__release(struct flame *f)
{
	free(f->nodes);
	free(f->values);
	hmap_release(&f->index);
}


static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* A frame's name and image, as strtab indexes; *ret_resolved tells
 * whether a symbol named it. */
static uint32_t frame_label(struct html_ctx *c, uint32_t image_id, uint32_t symbol_id, uint32_t *ret_image,
			    bool *ret_resolved)
{
	const struct catalog_symbol *sym = session_catalog__symbol(&c->cat, symbol_id);
	const struct catalog_image *img = session_catalog__image(&c->cat, image_id);
	const char *path = img ? img->path : NULL;
	*ret_image = path && *path ? strtab__intern(&c->strings, path) : NO_STRING;
	*ret_resolved = sym && *sym->name;
	if (*ret_resolved)
		return strtab__intern(&c->strings, sym->name);
	if (path && *path) {
		_cleanup_free_ char *name = NULL;
		const char *base = basename_of(path);
		if (base[0] == '[')
			return strtab__intern(&c->strings, base);
		name = xasprintf("[%s]", base);
		return strtab__intern(&c->strings, name);
	}
	return strtab__intern(&c->strings, "[unknown]");
}

static void add_value(struct html_ctx *c, uint32_t node, int e, const struct view_row *v)
{
	flame__period(&c->flame, node)[e] += v->period;
	flame__samples(&c->flame, node)[e] += v->count;
}

/* The stack's frames under node, outermost first. Frame-pointer
 * unwinding through code built without frame pointers yields runs of
 * unresolved frames in one image (a hundred deep in an interpreter): one
 * node says as much and keeps the graph readable. Recursion of named
 * functions is kept. */
static void add_stack(struct html_ctx *c, uint32_t node, int e, const struct view_row *v, uint32_t *chain,
		      size_t depth)
{
	for (size_t k = depth; k-- > 0;) {
		const struct catalog_frame *f = session_catalog__frame(&c->cat, chain[k]);
		uint32_t image, name;
		bool resolved;
		name = frame_label(c, f->image, f->symbol, &image, &resolved);
		if (!resolved && c->flame.nodes[node].name == name && c->flame.nodes[node].image == image &&
		    c->flame.nodes[node].depth > 2)
			continue;
		node = flame__child(&c->flame, node, name, image);
		add_value(c, node, e, v);
	}
}

/* One group of samples: domain -> layer -> command -> its stack. */
static void add_sample(struct html_ctx *c, struct view_rows *rows, const struct view_row *v, uint32_t *chain)
{
	int d = html_ctx__domain_index(c, view_rows__int(rows, 0));
	const char *layer = view_rows__text(rows, 1);
	const char *comm = view_rows__text(rows, 2);
	int e = report_events__index(c->layers.events, c->layers.n_events, view_rows__int(rows, 3));
	uint32_t node, image, name;
	size_t depth = 0;
	bool resolved;

	if (d < 0 || e < 0)
		return;
	node = c->roots[d];
	add_value(c, node, e, v);
	node = flame__child(&c->flame, node, strtab__intern(&c->strings, layer), NO_STRING);
	add_value(c, node, e, v);
	node = flame__child(&c->flame, node, strtab__intern(&c->strings, *comm ? comm : "[unknown]"), NO_STRING);
	add_value(c, node, e, v);
	/* Innermost first in the session; collected, then walked outermost
	 * first. A cycle or an absurd depth in a damaged file stops the walk
	 * rather than the report. */
	for (uint32_t f = (uint32_t)view_rows__int(rows, 4); f && depth < REPORT_MAX_STACK_DEPTH; depth++) {
		const struct catalog_frame *fr = session_catalog__frame(&c->cat, f);
		if (!fr)
			break;
		chain[depth] = f;
		f = fr->parent;
	}
	if (depth) {
		add_stack(c, node, e, v, chain, depth);
		return;
	}
	name = frame_label(c, (uint32_t)view_rows__int(rows, 5), (uint32_t)view_rows__int(rows, 6), &image, &resolved);
	node = flame__child(&c->flame, node, name, image);
	add_value(c, node, e, v);
}

static int build_trees(struct html_ctx *c, char **ret_error)
{
	static const enum view_column columns[] = { VIEW_DOMAIN_ID, VIEW_LAYER,	  VIEW_COMM,	 VIEW_EVENT_ID,
						    VIEW_STACK_ID,  VIEW_IMAGE_ID, VIEW_SYMBOL_ID };
	struct view_filter f = { .source = c->o->source };
	uint32_t *chain = xmalloc(REPORT_MAX_STACK_DEPTH * sizeof(*chain));
	struct view_rows *rows;
	struct view_row v;
	int r;

	c->flame.n_events = c->layers.n_events;
	hmap_init(&c->flame.index);
	c->roots = xcalloc(c->layers.n_domains + 1, sizeof(uint32_t));
	for (size_t i = 0; i < c->layers.n_domains; i++)
		c->roots[i] = flame__add(&c->flame, NO_NODE, strtab__intern(&c->strings, c->layers.domains[i].name), NO_STRING);
	r = view_rows__open(c->s, &f, columns, ARRAY_SIZE(columns), true, &rows, ret_error);
	if (r == 0) {
		while ((r = view_rows__next(rows, &v, ret_error)) > 0)
			add_sample(c, rows, &v, chain);
		view_rows__close(rows);
	}
	free(chain);
	return r;
}

/* Whether a node is at least pct percent of its domain's root in some event. */
static bool node_is_large(struct html_ctx *c, uint32_t node, uint32_t root, double pct)
{
	const uint64_t *v = flame__period(&c->flame, node), *total = flame__period(&c->flame, root);
	for (size_t e = 0; e < c->flame.n_events; e++)
		if (v[e] && (double)v[e] * 100.0 >= pct * (double)total[e])
			return true;
	return false;
}

/* Mark the nodes of one domain's tree that pass the threshold (a node's
 * value never exceeds its parent's, so a dropped node drops its subtree);
 * returns how many were kept. */
static size_t mark_kept(struct html_ctx *c, uint32_t root, double pct, size_t *ret_total)
{
	uint32_t *stack = NULL;
	size_t n = 0, cap = 0, kept = 0, total = 0;
	ARRAY_GROW(stack, cap, 1);
	stack[n++] = root;
	while (n) {
		uint32_t id = stack[--n];
		struct flame_node *node = &c->flame.nodes[id];
		total++;
		node->kept = id == root || node_is_large(c, id, root, pct);
		kept += node->kept;
		/* A dropped node's children are smaller still: they are
		 * visited only to be counted as pruned. */
		for (uint32_t ch = node->first_child; ch != NO_NODE; ch = c->flame.nodes[ch].next_sibling) {
			ARRAY_GROW(stack, cap, n + 1);
			stack[n++] = ch;
		}
	}
	free(stack);
	*ret_total = total;
	return kept;
}

static void prune_trees(struct html_ctx *c)
{
	c->thresholds = xcalloc(c->layers.n_domains + 1, sizeof(double));
	c->pruned = xcalloc(c->layers.n_domains + 1, sizeof(size_t));
	c->summary.min_frame_percent = c->o->min_frame_percent;
	for (size_t d = 0; d < c->layers.n_domains; d++) {
		double pct = c->o->min_frame_percent;
		size_t total, kept = mark_kept(c, c->roots[d], pct, &total);
		/* Stop doubling at 100 %: the root and its layers always fit. */
		while (c->o->max_frames && kept > c->o->max_frames && pct < 100.0) {
			pct = MIN(pct * 2, 100.0);
			kept = mark_kept(c, c->roots[d], pct, &total);
		}
		c->thresholds[d] = pct;
		c->pruned[d] = total - kept;
		c->summary.frames += kept;
		c->summary.frames_pruned += total - kept;
		c->summary.min_frame_percent = MAX(c->summary.min_frame_percent, pct);
	}
}

int html_flames__build(struct html_ctx *c, char **ret_error)
{
	int r = build_trees(c, ret_error);
	if (r < 0)
		return r;
	prune_trees(c);
	return 0;
}

void html_flames__release(struct html_ctx *c)
{
	strtab__release(&c->strings);
	free(c->string_slot);
	free(c->page_strings);
	flame__release(&c->flame);
	free(c->roots);
	free(c->thresholds);
	free(c->pruned);
}

static uint32_t page_string(struct html_ctx *c, uint32_t id)
{
	if (!c->string_slot) {
		c->string_slot = xmalloc((c->strings.n + 1) * sizeof(uint32_t));
		c->page_strings = xmalloc((c->strings.n + 1) * sizeof(uint32_t));
		for (size_t i = 0; i < c->strings.n; i++)
			c->string_slot[i] = NO_STRING;
	}
	if (c->string_slot[id] == NO_STRING) {
		c->string_slot[id] = (uint32_t)c->n_page_strings;
		c->page_strings[c->n_page_strings++] = id;
	}
	return c->string_slot[id];
}

void html_flames__json(struct html_ctx *c, size_t d, struct strbuf *sb)
{
	/* Preorder, so a node's parent always comes before it; parents are
	 * given as indexes into this domain's list. */
	uint32_t *stack = NULL, *index = NULL;
	size_t n = 0, cap = 0, index_cap = 0, out = 0;
	size_t ne = c->layers.n_events;

	strbuf_addf(sb, ",\"flame\":{\"min_percent\":");
	html_json_number(sb, c->thresholds[d]);
	strbuf_addf(sb, ",\"pruned\":%zu,\"nodes\":[", c->pruned[d]);
	ARRAY_GROW(stack, cap, 1);
	stack[n++] = c->roots[d];
	while (n) {
		uint32_t id = stack[--n];
		struct flame_node *node = &c->flame.nodes[id];
		ARRAY_GROW(index, index_cap, id + 1);
		index[id] = (uint32_t)out;
		strbuf_addf(sb, "%s%" PRId64 ",%u,%" PRId64, out ? "," : "",
			    node->parent == NO_NODE ? (int64_t)-1 : (int64_t)index[node->parent], page_string(c, node->name),
			    node->image == NO_STRING ? (int64_t)-1 : (int64_t)page_string(c, node->image));
		for (size_t e = 0; e < 2 * ne; e++)
			strbuf_addf(sb, ",%" PRIu64, flame__period(&c->flame, id)[e]);
		out++;
		/* Push kept children; their order does not matter (the page
		 * sorts them), only that each follows its parent. */
		for (uint32_t ch = node->first_child; ch != NO_NODE; ch = c->flame.nodes[ch].next_sibling) {
			if (!c->flame.nodes[ch].kept)
				continue;
			ARRAY_GROW(stack, cap, n + 1);
			stack[n++] = ch;
		}
	}
	strbuf_adds(sb, "]}");
	free(stack);
	free(index);
}

/* The top rows of each domain: the first max_rows rows of any event. */

void html_strings__json(struct html_ctx *c, struct strbuf *sb)
{
	strbuf_adds(sb, ",\"strings\":[");
	for (size_t i = 0; i < c->n_page_strings; i++) {
		if (i)
			strbuf_addc(sb, ',');
		strbuf_add_json(sb, c->strings.strings[c->page_strings[i]]);
	}
	strbuf_adds(sb, "]");
}

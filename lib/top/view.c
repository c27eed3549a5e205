/* top's view: the model's entries filtered, grouped by the report's keys
 * and ordered; see top.h. */
#define _GNU_SOURCE
#include "top.h"

#include <errno.h>
#include <math.h>

static const char *const order_names[TOP_ORDER__COUNT] = { "decayed", "interval", "total", "name" };

const char *top_order__name(enum top_order o) { return (unsigned)o < TOP_ORDER__COUNT ? order_names[o] : "?"; }

int top_order__from_name(const char *name)
{
	for (int i = 0; i < TOP_ORDER__COUNT; i++)
		if (streq(order_names[i], name))
			return i;
	return -1;
}

void top_query__init(struct top_query *q)
{
	struct report_query rq = { 0 };
	char *err = NULL;
	memset(q, 0, sizeof(*q));
	/* The default keys always parse. */
	if (report_query__parse_keys(&rq, TOP_DEFAULT_KEYS, &err) == 0) {
		memcpy(q->keys, rq.keys, sizeof(q->keys));
		q->n_keys = rq.n_keys;
	}
	free(err);
	q->filter.layer = -1;
	q->order = TOP_ORDER_DECAYED;
}

/* ---- names of an entry ---- */

static const struct profile_thread *entry_thread(const struct profile *p, const struct top_entry *e)
{
	return e->thread && e->thread <= p->n_threads ? &p->threads[e->thread - 1] : NULL;
}

static const char *entry_comm(const struct profile *p, const struct top_entry *e)
{
	const struct profile_thread *t = entry_thread(p, e);
	return t && t->comm ? t->comm : "[unknown]";
}

static const char *entry_symbol(const struct profile *p, const struct top_entry *e)
{
	return e->symbol && e->symbol <= p->n_symbols && p->symbols[e->symbol - 1].name ? p->symbols[e->symbol - 1].name
											   : "[unknown]";
}

static bool entry_is_idle(const struct profile *p, const struct top_entry *e)
{
	return e->domain && e->domain <= p->n_domains && p->domains[e->domain - 1].is_idle;
}

/* The text of key k for entry e (sanitized, to free). */
static char *entry_key(const struct profile *p, const struct top_entry *e, enum report_key k)
{
	const struct profile_thread *t = entry_thread(p, e);
	switch (k) {
	case KEY_DOMAIN:
		return text_safe_dup(e->domain && e->domain <= p->n_domains ? p->domains[e->domain - 1].name : "?");
	case KEY_LAYER: return xstrdup(layer__name((enum layer)e->layer));
	case KEY_COMM: return text_safe_dup(entry_comm(p, e));
	case KEY_PID: return xasprintf("%u", t ? t->pid : 0);
	case KEY_TID: return xasprintf("%u", t ? t->tid : 0);
	case KEY_IMAGE:
		return text_safe_dup(e->image && e->image <= p->n_images ? p->images[e->image - 1].path : "[unknown]");
	case KEY_SYMBOL: return text_safe_dup(entry_symbol(p, e));
	default: return xstrdup("?");
	}
}

static bool entry_passes(const struct profile *p, const struct top_entry *e, const struct top_filter *f)
{
	if (f->domain && e->domain != f->domain)
		return false;
	if (f->layer >= 0 && e->layer != f->layer)
		return false;
	if (f->name && *f->name && !strstr(entry_symbol(p, e), f->name) && !strstr(entry_comm(p, e), f->name))
		return false;
	return true;
}

/* ---- grouping ---- */

struct grouping {
	struct top_view *v;
	struct hmap index;
	char **ids; /* per row: its keys joined, for equality */
	size_t cap_rows;
};

static struct top_row *row_for(struct grouping *g, const struct profile *p, const struct top_entry *e)
{
	struct top_view *v = g->v;
	char *keys[KEY__COUNT];
	struct strbuf id;
	uint64_t h;
	size_t pos;
	struct top_row *r;
	strbuf_init(&id);
	for (size_t k = 0; k < v->query.n_keys; k++) {
		keys[k] = entry_key(p, e, v->query.keys[k]);
		strbuf_adds(&id, keys[k]);
		strbuf_addc(&id, '\x1f');
	}
	h = hash_str(id.buf);
	for (pos = hmap_first(&g->index, h);; pos = hmap_next(&g->index, pos)) {
		uint32_t idx;
		if (!hmap_candidate(&g->index, pos, h, &idx))
			break;
		if (idx != UINT32_MAX && streq(g->ids[idx], id.buf)) {
			for (size_t k = 0; k < v->query.n_keys; k++)
				free(keys[k]);
			strbuf_release(&id);
			return &v->rows[idx];
		}
	}
	if (v->n_rows == g->cap_rows) {
		size_t cap = g->cap_rows;
		ARRAY_GROW(v->rows, cap, v->n_rows + 1);
		g->ids = xrealloc(g->ids, cap * sizeof(*g->ids));
		g->cap_rows = cap;
	}
	r = &v->rows[v->n_rows];
	memset(r, 0, sizeof(*r));
	memcpy(r->keys, keys, v->query.n_keys * sizeof(keys[0]));
	r->interval = xcalloc(v->n_events, sizeof(*r->interval));
	r->total = xcalloc(v->n_events, sizeof(*r->total));
	r->decayed = xcalloc(v->n_events, sizeof(double));
	r->idle_interval = xcalloc(v->n_events, sizeof(double));
	r->idle_total = xcalloc(v->n_events, sizeof(double));
	g->ids[v->n_rows] = strbuf_detach(&id);
	hmap_insert_at(&g->index, pos, h, (uint32_t)v->n_rows);
	v->n_rows++;
	return r;
}

/* ---- the merged view of an active VM ----
 *
 * As in the report's merged view (docs/attribution.md): the host measures
 * how much the VM's guest code cost, the agent how that splits inside the
 * guest. A VM with an agent's rows shows the agent's functions carrying
 * the host's magnitude (its guest layers' period over each span, shared in
 * the agent's proportions) in place of the host's own guest rows, so its
 * rows add up to what the host measured and shares stay of one 100%. */

enum { SPAN_INTERVAL, SPAN_TOTAL, SPAN_DECAYED, SPAN__COUNT };

struct merge {
	double host[SPAN__COUNT], agent[SPAN__COUNT];
};

/* Per profile domain and event: the host's guest layers and the agent's
 * rows, over each span; NULL when no agent sent anything. */
static struct merge *merge_compute(const struct top_model *m, const struct profile *p)
{
	struct merge *mg = NULL;
	size_t n_events = m->n_events;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct top_entry *e = &m->entries[i];
		bool agent = e->origin == ORIGIN_AGENT;
		if (!e->domain || e->domain > p->n_domains || (!agent && !layer__is_guest((enum layer)e->layer)))
			continue;
		if (!mg)
			mg = xcalloc(p->n_domains * n_events, sizeof(*mg));
		for (size_t ev = 0; ev < n_events; ev++) {
			double *to = agent ? mg[(e->domain - 1) * n_events + ev].agent : mg[(e->domain - 1) * n_events + ev].host;
			to[SPAN_INTERVAL] += (double)e->interval[ev].period;
			to[SPAN_TOTAL] += (double)e->total[ev].period;
			to[SPAN_DECAYED] += e->decayed[ev];
		}
	}
	return mg;
}

static bool merge_active(const struct merge *mg, const struct top_entry *e, size_t n_events)
{
	if (!mg)
		return false;
	for (size_t ev = 0; ev < n_events; ev++)
		if (mg[(e->domain - 1) * n_events + ev].agent[SPAN_TOTAL] > 0)
			return true;
	return false;
}

/* Whether the host measured none of the VM's guest code for event ev over
 * the whole run (a remote agent, a VM not found): the agent's rows are then
 * the only measure and count as they are, in the 100% too, as in the
 * session's merged view (lib/session/view.c). */
static bool merge_unscaled(const struct merge *mg, const struct top_entry *e, size_t n_events, size_t ev)
{
	const struct merge *x = &mg[(e->domain - 1) * n_events + ev];
	return x->agent[SPAN_TOTAL] > 0 && x->host[SPAN_TOTAL] <= 0;
}

static double merge_factor(const struct merge *mg, const struct top_entry *e, size_t n_events, size_t ev, int span)
{
	const struct merge *x = &mg[(e->domain - 1) * n_events + ev];
	if (merge_unscaled(mg, e, n_events, ev))
		return 1;
	return x->agent[span] > 0 ? x->host[span] / x->agent[span] : 0;
}

/* Whether e is a row of the view: a host guest row of a VM whose agent
 * replaces it is not. */
static bool entry_shown(const struct merge *mg, const struct top_entry *e, size_t n_events)
{
	return e->origin != ORIGIN_HOST || !layer__is_guest((enum layer)e->layer) || !e->domain ||
	       !merge_active(mg, e, n_events);
}

static void row_add(struct top_view *v, struct top_row *r, const struct top_entry *e, bool idle,
		    const struct merge *mg, size_t n_model_events)
{
	bool scale = e->origin == ORIGIN_AGENT && mg && e->domain;
	for (size_t ev = 0; ev < v->n_events; ev++) {
		double fi = scale ? merge_factor(mg, e, n_model_events, ev, SPAN_INTERVAL) : 1;
		double ft = scale ? merge_factor(mg, e, n_model_events, ev, SPAN_TOTAL) : 1;
		double fd = scale ? merge_factor(mg, e, n_model_events, ev, SPAN_DECAYED) : 1;
		r->interval[ev].samples += e->interval[ev].samples;
		r->interval[ev].period += (uint64_t)llround((double)e->interval[ev].period * fi);
		r->total[ev].samples += e->total[ev].samples;
		r->total[ev].period += (uint64_t)llround((double)e->total[ev].period * ft);
		r->decayed[ev] += e->decayed[ev] * fd;
		if (idle) {
			r->idle_interval[ev] += (double)e->interval[ev].period;
			r->idle_total[ev] += (double)e->total[ev].period;
		}
	}
	r->agent |= e->origin == ORIGIN_AGENT;
}

/* The 100% of shares: host samples within the filter, and the agent's of a
 * VM the host did not see (merge_unscaled). */
static void totals_add(struct top_view *v, const struct top_entry *e, bool idle, const struct merge *mg,
		       size_t n_model_events)
{
	bool agent = e->origin == ORIGIN_AGENT && mg && e->domain;
	if (e->origin != ORIGIN_HOST && !agent)
		return;
	for (size_t ev = 0; ev < v->n_events; ev++) {
		if (agent && !merge_unscaled(mg, e, n_model_events, ev))
			continue;
		v->interval_all[ev].samples += e->interval[ev].samples;
		v->interval_all[ev].period += e->interval[ev].period;
		v->total_all[ev].samples += e->total[ev].samples;
		v->total_all[ev].period += e->total[ev].period;
		v->decayed_all[ev] += e->decayed[ev];
		if (!idle) {
			v->interval_busy[ev] += e->interval[ev].period;
			v->total_busy[ev] += e->total[ev].period;
		}
	}
}

/* ---- ordering ---- */

double top_row__rank(const struct top_row *r, enum top_order o, size_t e)
{
	switch (o) {
	case TOP_ORDER_INTERVAL: return (double)r->interval[e].period;
	case TOP_ORDER_TOTAL: return (double)r->total[e].period;
	default: return r->decayed[e];
	}
}

static int compare_keys(const struct top_row *x, const struct top_row *y, size_t n_keys)
{
	for (size_t k = 0; k < n_keys; k++) {
		int c = strcmp(x->keys[k], y->keys[k]);
		if (c)
			return c;
	}
	return 0;
}

static int compare_rows(const void *a, const void *b, void *ctx)
{
	const struct top_view *v = ctx;
	const struct top_row *x = a, *y = b;
	if (v->query.order != TOP_ORDER_NAME) {
		double rx = top_row__rank(x, v->query.order, v->query.event);
		double ry = top_row__rank(y, v->query.order, v->query.event);
		if (rx != ry)
			return rx > ry ? -1 : 1;
	}
	return compare_keys(x, y, v->query.n_keys);
}

/* Whether r is shown in v's order: the decayed order leaves out rows that
 * faded (nothing this interval, and under TOP_FADE_SHARE of the decayed
 * total); the interval order rows with nothing this interval; the others
 * rows with nothing since the start. */
static bool row_shown(const struct top_view *v, const struct top_row *r)
{
	size_t e = v->query.event;
	switch (v->query.order) {
	case TOP_ORDER_DECAYED:
		return r->interval[e].period || r->decayed[e] >= TOP_FADE_SHARE * v->decayed_all[e];
	case TOP_ORDER_INTERVAL: return r->interval[e].period > 0;
	default: return r->total[e].period > 0;
	}
}

static void row_release(struct top_row *r, size_t n_keys)
{
	for (size_t k = 0; k < n_keys; k++)
		free(r->keys[k]);
	free(r->interval);
	free(r->total);
	free(r->decayed);
	free(r->idle_interval);
	free(r->idle_total);
}

void top_view__build(struct top_view *v, const struct top_model *m, const struct profile *p, const struct top_query *q)
{
	struct grouping g = { .v = v };
	struct merge *mg = merge_compute(m, p);
	size_t kept = 0;
	memset(v, 0, sizeof(*v));
	v->query = *q;
	v->n_events = m->n_events ? m->n_events : 1;
	if (v->query.event >= m->n_events)
		v->query.event = 0;
	v->interval_all = xcalloc(v->n_events, sizeof(*v->interval_all));
	v->total_all = xcalloc(v->n_events, sizeof(*v->total_all));
	v->interval_busy = xcalloc(v->n_events, sizeof(uint64_t));
	v->total_busy = xcalloc(v->n_events, sizeof(uint64_t));
	v->decayed_all = xcalloc(v->n_events, sizeof(double));
	hmap_init(&g.index);
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct top_entry *e = &m->entries[i];
		bool idle = entry_is_idle(p, e);
		if (!entry_passes(p, e, &q->filter))
			continue;
		totals_add(v, e, idle, mg, m->n_events);
		if (entry_shown(mg, e, m->n_events))
			row_add(v, row_for(&g, p, e), e, idle, mg, m->n_events);
	}
	free(mg);
	hmap_release(&g.index);
	for (size_t i = 0; i < v->n_rows; i++)
		free(g.ids[i]);
	free(g.ids);
	for (size_t i = 0; i < v->n_rows; i++) {
		if (row_shown(v, &v->rows[i]))
			v->rows[kept++] = v->rows[i];
		else
			row_release(&v->rows[i], v->query.n_keys);
	}
	v->n_rows = kept;
	if (v->n_rows > 1)
		qsort_r(v->rows, v->n_rows, sizeof(*v->rows), compare_rows, v);
}

void top_view__release(struct top_view *v)
{
	for (size_t i = 0; i < v->n_rows; i++)
		row_release(&v->rows[i], v->query.n_keys);
	free(v->rows);
	free(v->interval_all);
	free(v->total_all);
	free(v->interval_busy);
	free(v->total_busy);
	free(v->decayed_all);
	memset(v, 0, sizeof(*v));
}

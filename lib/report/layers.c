/* The layer table: per domain and layer, each event's samples and period
 * in the view, each VM's virtualization overhead (the formula is
 * lib/vocab's) and the part of its hypervisor layer that was a vCPU halted
 * or halt-polling; see report.h. */
#define _GNU_SOURCE
#include <errno.h>

#include "../domain/idle.h"
#include "../vocab/vocab.h"
#include "report.h"

static void domain_info__init(struct report_domain_info *d, const struct catalog_domain *cd, size_t n_events)
{
	int kind = cd->kind ? domain_kind__from_name(cd->kind) : -1;
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(cd->name);
	d->is_vm = kind == DOMAIN_VM;
	d->is_idle = kind == DOMAIN_IDLE;
	d->pid = cd->has_pid ? cd->pid : -1;
	d->vmm = cd->vmm ? xstrdup(cd->vmm) : NULL;
	d->accel = cd->accel ? xstrdup(cd->accel) : NULL;
	d->uuid = cd->uuid ? xstrdup(cd->uuid) : NULL;
	d->source = cd->source ? xstrdup(cd->source) : NULL;
	d->note = cd->note ? xstrdup(cd->note) : NULL;
	d->complete = cd->complete;
	d->clock_offset_ns = cd->clock_offset_ns;
	d->start_skew_ns = cd->start_skew_ns;
	d->samples = xcalloc(n_events, sizeof(uint64_t));
	d->period = xcalloc(n_events, sizeof(uint64_t));
	d->halt_period = xcalloc(n_events, sizeof(uint64_t));
	d->halt_samples = xcalloc(n_events, sizeof(uint64_t));
	for (int k = 0; k < LAYER__COUNT; k++) {
		d->layer_period[k] = xcalloc(n_events, sizeof(uint64_t));
		d->layer_samples[k] = xcalloc(n_events, sizeof(uint64_t));
	}
}

static bool is_idle_kind(const struct catalog_domain *d)
{
	return d->kind && domain_kind__from_name(d->kind) == DOMAIN_IDLE;
}

/* The domains within the filters, in session order, idle last: what is
 * left when everything else is counted. */
static int load_domains(struct session *s, const struct report_query *q, struct report_layers *l, char **ret_error)
{
	struct session_catalog cat;
	size_t cap = 0;
	int r = session_catalog__load(s, CATALOG_DOMAINS, &cat, ret_error);
	if (r < 0)
		return r;
	for (int idle_pass = 0; idle_pass < 2; idle_pass++)
		for (uint32_t id = 0; id < cat.n_domains; id++) {
			const struct catalog_domain *d = session_catalog__domain(&cat, id);
			if (!d || is_idle_kind(d) != (bool)idle_pass || !strv_contains(q->domains, d->name) ||
			    (idle_pass && q->no_idle))
				continue;
			ARRAY_GROW(l->domains, cap, l->n_domains + 1);
			domain_info__init(&l->domains[l->n_domains++], d, l->n_events);
		}
	session_catalog__release(&cat);
	return 0;
}

static struct report_domain_info *domain_named(struct report_layers *l, const char *name)
{
	for (size_t i = 0; i < l->n_domains; i++)
		if (streq(l->domains[i].name, name))
			return &l->domains[i];
	return NULL;
}

static void layers_add(struct report_layers *l, struct view_rows *rows, const struct view_row *v)
{
	struct report_domain_info *d = domain_named(l, view_rows__text(rows, 0));
	int li = layer__from_name(view_rows__text(rows, 1));
	int e = report_events__index(l->events, l->n_events, view_rows__int(rows, 2));
	if (e < 0 || li < 0)
		return;
	if (d) {
		d->layer_period[li][e] += v->period;
		d->layer_samples[li][e] += v->count;
		d->period[e] += v->period;
		d->samples[e] += v->count;
	}
	l->total_period[e] += v->period;
	l->total_samples[e] += v->count;
	if (li != LAYER_IDLE) {
		l->busy_period[e] += v->period;
		l->busy_samples[e] += v->count;
	}
}

static int layer_rows(struct session *s, const struct report_query *q, struct report_layers *l, char **ret_error)
{
	static const enum view_column columns[] = { VIEW_DOMAIN, VIEW_LAYER, VIEW_EVENT_ID };
	struct view_filter f = report_query__filter(q);
	struct view_rows *rows;
	struct view_row v;
	int r = view_rows__open(s, &f, columns, ARRAY_SIZE(columns), true, &rows, ret_error);
	if (r < 0)
		return r;
	while ((r = view_rows__next(rows, &v, ret_error)) > 0)
		layers_add(l, rows, &v);
	view_rows__close(rows);
	return r;
}

/* Whether a sample is in KVM's halt path: its function, or (with a call
 * stack) any function of its stack. */
static bool halt_sample(const struct session_catalog *cat, struct report_function *chain, const char *leaf,
			uint32_t stack)
{
	size_t n;
	if (idle__is_halt_function(leaf))
		return true;
	if (!stack)
		return false;
	n = report__stack_functions(cat, stack, 0, 0, chain, REPORT_MAX_STACK_DEPTH);
	for (size_t i = 0; i < n; i++)
		if (idle__is_halt_function(chain[i].symbol))
			return true;
	return false;
}

struct halt {
	struct session_catalog cat;
	bool have_cat;
	struct report_function *chain;
};

static int halt_add(struct session *s, struct halt *h, struct report_layers *l, struct view_rows *rows,
		    const struct view_row *v, char **ret_error)
{
	struct report_domain_info *d = domain_named(l, view_rows__text(rows, 0));
	int e = report_events__index(l->events, l->n_events, view_rows__int(rows, 1));
	uint32_t stack = (uint32_t)view_rows__int(rows, 4);
	int r;
	if (e < 0 || !d)
		return 0;
	if (stack && !h->have_cat) {
		/* Stacks are walked only when a hypervisor sample has one. */
		if ((r = session_catalog__load(s, CATALOG_CODE, &h->cat, ret_error)) < 0)
			return r;
		h->have_cat = true;
		h->chain = xmalloc(REPORT_MAX_STACK_DEPTH * sizeof(*h->chain));
	}
	if (!halt_sample(&h->cat, h->chain, view_rows__text(rows, 3), stack))
		return 0;
	d->halt_samples[e] += v->count;
	d->halt_period[e] += v->period;
	return 0;
}

/* Each VM's vCPU-halt part of its hypervisor layer (report_domain_info). */
static int halt_rows(struct session *s, const struct report_query *q, struct report_layers *l, char **ret_error)
{
	static const enum view_column columns[] = { VIEW_DOMAIN, VIEW_EVENT_ID, VIEW_SYMBOL_ID, VIEW_SYMBOL,
						    VIEW_STACK_ID };
	static char *hypervisor[] = { "hypervisor", NULL };
	struct view_filter f = report_query__filter(q);
	struct halt h = { 0 };
	struct view_rows *rows;
	struct view_row v;
	int r;
	if (!strv_contains(q->layers, "hypervisor"))
		return 0;
	f.layers = hypervisor;
	f.vms_only = true;
	if ((r = view_rows__open(s, &f, columns, ARRAY_SIZE(columns), true, &rows, ret_error)) < 0)
		return r;
	while ((r = view_rows__next(rows, &v, ret_error)) > 0)
		if ((r = halt_add(s, &h, l, rows, &v, ret_error)) < 0)
			break;
	view_rows__close(rows);
	if (h.have_cat)
		session_catalog__release(&h.cat);
	free(h.chain);
	return r;
}

static int layers_query(struct session *s, const struct report_query *q, struct report_layers *l, char **ret_error)
{
	int r;
	memset(l, 0, sizeof(*l));
	r = report__load_events(s, q->events, &l->events, &l->n_events, ret_error);
	if (r < 0)
		return r;
	l->total_period = xcalloc(l->n_events, sizeof(uint64_t));
	l->total_samples = xcalloc(l->n_events, sizeof(uint64_t));
	l->busy_period = xcalloc(l->n_events, sizeof(uint64_t));
	l->busy_samples = xcalloc(l->n_events, sizeof(uint64_t));
	l->no_idle = q->no_idle;
	if ((r = load_domains(s, q, l, ret_error)) < 0 || (r = layer_rows(s, q, l, ret_error)) < 0)
		return r;
	return halt_rows(s, q, l, ret_error);
}

void report_layers__release(struct report_layers *l)
{
	for (size_t i = 0; i < l->n_domains; i++) {
		struct report_domain_info *d = &l->domains[i];
		free(d->name);
		free(d->vmm);
		free(d->accel);
		free(d->uuid);
		free(d->source);
		free(d->note);
		free(d->samples);
		free(d->period);
		free(d->halt_samples);
		free(d->halt_period);
		for (int k = 0; k < LAYER__COUNT; k++) {
			free(d->layer_period[k]);
			free(d->layer_samples[k]);
		}
	}
	free(l->domains);
	free(l->total_period);
	free(l->total_samples);
	free(l->busy_period);
	free(l->busy_samples);
	report_events__free(l->events, l->n_events);
	memset(l, 0, sizeof(*l));
}

double report_domain__overhead(const struct report_domain_info *d, size_t e)
{
	double value[LAYER__COUNT];
	for (int l = 0; l < LAYER__COUNT; l++)
		value[l] = (double)d->layer_period[l][e];
	return layer__overhead(value);
}

/* The public entry point leaves nothing allocated when it fails. */
int report_layers__query(struct session *s, const struct report_query *q, struct report_layers *l, char **ret_error)
{
	int r = layers_query(s, q, l, ret_error);
	if (r < 0)
		report_layers__release(l);
	return r;
}

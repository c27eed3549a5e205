/* top's model: intervals taken from a growing profile, totals, decay, the
 * domain/layer table, and the filtered, grouped, ordered view; see top.h. */
#define _GNU_SOURCE
#include "top.h"

#include <errno.h>

static struct top_value *values_new(size_t n) { return xcalloc(n ? n : 1, sizeof(struct top_value)); }

void top_model__init(struct top_model *m, size_t n_events)
{
	memset(m, 0, sizeof(*m));
	m->n_events = n_events;
	hmap_init(&m->index);
}

static void entry_release(struct top_entry *e)
{
	free(e->interval);
	free(e->total);
	free(e->decayed);
}

static void domain_release(struct top_domain *d)
{
	for (size_t l = 0; l < LAYER__COUNT; l++) {
		free(d->interval[l]);
		free(d->total[l]);
	}
}

void top_model__release(struct top_model *m)
{
	for (size_t i = 0; i < m->n_entries; i++)
		entry_release(&m->entries[i]);
	free(m->entries);
	hmap_release(&m->index);
	for (size_t i = 0; i < m->n_domains; i++)
		domain_release(&m->domains[i]);
	free(m->domains);
	free(m->seen);
	memset(m, 0, sizeof(*m));
}

static uint64_t entry_hash(const struct sample_key *k, uint32_t thread)
{
	uint64_t h = hash_mix(k->domain, thread);
	h = hash_mix(h, k->image);
	h = hash_mix(h, k->symbol);
	return hash_mix(h, (uint64_t)k->layer << 8 | k->origin);
}

/* The entry of a profile sample key (added when new). Entries ignore the
 * event (each holds every event), the address and the call stack. */
static uint32_t entry_of(struct top_model *m, const struct sample_key *k)
{
	uint64_t h = entry_hash(k, k->thread);
	size_t pos;
	struct top_entry *e;
	for (pos = hmap_first(&m->index, h);; pos = hmap_next(&m->index, pos)) {
		uint32_t idx;
		if (!hmap_candidate(&m->index, pos, h, &idx))
			break;
		if (idx == UINT32_MAX)
			continue;
		e = &m->entries[idx];
		if (e->domain == k->domain && e->thread == k->thread && e->image == k->image && e->symbol == k->symbol &&
		    e->layer == k->layer && e->origin == k->origin)
			return idx;
	}
	ARRAY_GROW(m->entries, m->cap_entries, m->n_entries + 1);
	e = &m->entries[m->n_entries];
	*e = (struct top_entry){ .domain = k->domain, .thread = k->thread, .image = k->image, .symbol = k->symbol,
				 .layer = k->layer, .origin = k->origin };
	e->interval = values_new(m->n_events);
	e->total = values_new(m->n_events);
	e->decayed = xcalloc(m->n_events ? m->n_events : 1, sizeof(double));
	hmap_insert_at(&m->index, pos, h, (uint32_t)m->n_entries);
	return (uint32_t)m->n_entries++;
}

static struct top_domain *domain_at(struct top_model *m, uint32_t id)
{
	if (id > m->n_domains) {
		m->domains = xrealloc(m->domains, id * sizeof(*m->domains));
		memset(&m->domains[m->n_domains], 0, (id - m->n_domains) * sizeof(*m->domains));
		for (size_t i = m->n_domains; i < id; i++)
			m->domains[i].id = (uint32_t)i + 1;
		m->n_domains = id;
	}
	return &m->domains[id - 1];
}

static void value_add(struct top_value *to, const struct top_value *v)
{
	to->samples += v->samples;
	to->period += v->period;
}

/* The layer table's cells of entry e gain its interval. */
static void domain_add(struct top_model *m, const struct top_entry *e)
{
	struct top_domain *d;
	if (e->origin != ORIGIN_HOST || !e->domain || e->layer >= LAYER__COUNT)
		return;
	d = domain_at(m, e->domain);
	if (!d->interval[e->layer]) {
		d->interval[e->layer] = values_new(m->n_events);
		d->total[e->layer] = values_new(m->n_events);
	}
	for (size_t ev = 0; ev < m->n_events; ev++) {
		value_add(&d->interval[e->layer][ev], &e->interval[ev]);
		value_add(&d->total[e->layer][ev], &e->interval[ev]);
	}
}

/* What each profile counter gained since the last update, into its
 * entry's interval. Counters only grow; a counter that did not is
 * skipped. */
static void take_deltas(struct top_model *m, const struct profile *p)
{
	if (p->n_samples > m->n_seen) {
		m->seen = xrealloc(m->seen, p->n_samples * sizeof(*m->seen));
		memset(&m->seen[m->n_seen], 0, (p->n_samples - m->n_seen) * sizeof(*m->seen));
		m->n_seen = p->n_samples;
	}
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct sample_entry *s = &p->samples[i];
		struct top_seen *seen = &m->seen[i];
		struct top_value *v;
		if (s->period == seen->period && s->count == seen->samples)
			continue;
		/* key.event is the session's event id: 1-based */
		if (s->period < seen->period || s->count < seen->samples || !s->key.event || s->key.event > m->n_events)
			continue;
		if (!seen->entry1)
			seen->entry1 = entry_of(m, &s->key) + 1;
		v = &m->entries[seen->entry1 - 1].interval[s->key.event - 1];
		v->samples += s->count - seen->samples;
		v->period += s->period - seen->period;
		seen->samples = s->count;
		seen->period = s->period;
	}
}

void top_model__update(struct top_model *m, const struct profile *p, uint64_t interval_ns)
{
	for (size_t i = 0; i < m->n_entries; i++)
		memset(m->entries[i].interval, 0, m->n_events * sizeof(struct top_value));
	for (size_t i = 0; i < m->n_domains; i++)
		for (size_t l = 0; l < LAYER__COUNT; l++)
			if (m->domains[i].interval[l])
				memset(m->domains[i].interval[l], 0, m->n_events * sizeof(struct top_value));
	take_deltas(m, p);
	for (size_t i = 0; i < m->n_entries; i++) {
		struct top_entry *e = &m->entries[i];
		for (size_t ev = 0; ev < m->n_events; ev++) {
			value_add(&e->total[ev], &e->interval[ev]);
			e->decayed[ev] = e->decayed[ev] * TOP_DECAY + (double)e->interval[ev].period;
		}
		domain_add(m, e);
	}
	m->interval_ns = interval_ns;
	m->total_ns += interval_ns;
	m->updates++;
}

void top_model__zero(struct top_model *m)
{
	for (size_t i = 0; i < m->n_entries; i++) {
		memset(m->entries[i].total, 0, m->n_events * sizeof(struct top_value));
		memset(m->entries[i].decayed, 0, m->n_events * sizeof(double));
	}
	for (size_t i = 0; i < m->n_domains; i++)
		for (size_t l = 0; l < LAYER__COUNT; l++)
			if (m->domains[i].total[l])
				memset(m->domains[i].total[l], 0, m->n_events * sizeof(struct top_value));
	m->total_ns = 0;
	m->updates = 0;
}

/* ---- the layer table ---- */

struct top_value top_domain__value(const struct top_domain *d, enum layer l, size_t event, enum top_span span)
{
	const struct top_value *v = (unsigned)l < LAYER__COUNT ? (span == TOP_SPAN_TOTAL ? d->total[l] : d->interval[l])
								: NULL;
	return v ? v[event] : (struct top_value){ 0 };
}

struct top_value top_domain__sum(const struct top_domain *d, size_t event, enum top_span span)
{
	struct top_value sum = { 0 };
	for (size_t l = 0; l < LAYER__COUNT; l++) {
		struct top_value v = top_domain__value(d, (enum layer)l, event, span);
		value_add(&sum, &v);
	}
	return sum;
}

double top_domain__overhead(const struct top_domain *d, size_t event, enum top_span span)
{
	double value[LAYER__COUNT];
	for (size_t l = 0; l < LAYER__COUNT; l++)
		value[l] = (double)top_domain__value(d, (enum layer)l, event, span).period;
	return layer__overhead(value);
}

static int domain_rank(const struct profile_domain *d) { return d->is_idle ? 2 : d->is_vm ? 1 : 0; }

static int compare_domains(const void *a, const void *b, void *ctx)
{
	const struct profile *order_profile = ctx;
	const struct top_domain *x = *(const struct top_domain *const *)a, *y = *(const struct top_domain *const *)b;
	const struct profile_domain *dx = &order_profile->domains[x->id - 1], *dy = &order_profile->domains[y->id - 1];
	int r = domain_rank(dx) - domain_rank(dy);
	return r ? r : strcmp(dx->name ? dx->name : "", dy->name ? dy->name : "");
}

size_t top_model__domains_ordered(const struct top_model *m, const struct profile *p, const struct top_domain ***ret)
{
	const struct top_domain **v = xcalloc(m->n_domains + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < m->n_domains; i++) {
		bool any = false;
		for (size_t l = 0; l < LAYER__COUNT; l++)
			any |= m->domains[i].total[l] != NULL;
		if (any && m->domains[i].id <= p->n_domains)
			v[n++] = &m->domains[i];
	}
	qsort_r(v, n, sizeof(*v), compare_domains, (void *)p);
	*ret = v;
	return n;
}

void top_model__sums(const struct top_model *m, const struct profile *p, size_t event, enum top_span span,
		     uint64_t *ret_all, uint64_t *ret_idle)
{
	uint64_t all = 0, idle = 0;
	for (size_t i = 0; i < m->n_domains; i++) {
		uint64_t v = top_domain__sum(&m->domains[i], event, span).period;
		all += v;
		if (m->domains[i].id <= p->n_domains && p->domains[m->domains[i].id - 1].is_idle)
			idle += v;
	}
	*ret_all = all;
	*ret_idle = idle;
}

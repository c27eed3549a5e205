/* FORGET on the host (docs/protocol.md, DATA): what an agent's forgotten
 * threads and counters leave behind, out of the agent's tables at once and
 * out of the host's memory once written, with their budget given back
 * then. Checking the lists is check_forget's, in delta.c. */
#define _GNU_SOURCE
#include "delta-internal.h"

#include "../util/util.h"

void delta__retired_ref(struct delta_retired *rt, uint32_t slot)
{
	if (slot >= rt->cap_refs) {
		/* Two arrays of one capacity: grown together. */
		size_t old = rt->cap_refs, cap = MAX((size_t)slot + 1, 2 * old);
		rt->refs = xrealloc(rt->refs, cap * sizeof(*rt->refs));
		rt->forgot = xrealloc(rt->forgot, cap * sizeof(*rt->forgot));
		memset(rt->refs + old, 0, (cap - old) * sizeof(*rt->refs));
		memset(rt->forgot + old, 0, (cap - old) * sizeof(*rt->forgot));
		rt->cap_refs = cap;
	}
	rt->refs[slot]++;
}

/* A counter the agent forgot: its host entry, once fed by no live counter
 * of the agent, may leave memory when written; the counter's budget is
 * given back then (delta__drop_retired), not before: until then the host
 * still holds it. Its index is free for a new counter. */
static void forget_counter(struct delta_state *d, struct delta_counter *c, struct delta_retired *rt)
{
	rt->forgot[c->host]++;
	if (!--rt->refs[c->host]) {
		ARRAY_GROW(rt->slots, rt->cap, rt->n + 1);
		rt->slots[rt->n++] = c->host;
	}
	c->live = false;
	c->count = c->period = 0;
	d->forgotten++;
}

void delta__apply_forget(struct delta_state *d, struct rbuf *r)
{
	uint32_t n = rbuf_u32(r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = rbuf_u32(r);
		ARRAY_GROW(d->retired_threads, d->cap_retired_threads, d->n_retired_threads + 1);
		d->retired_threads[d->n_retired_threads++] = (struct delta_retired_thread){
			d->threads[id - 1], (uint32_t)(THREAD_COST(d->thread_comm[id - 1]) - THREAD_KEPT)
		};
		d->threads[id - 1] = 0;
	}
	n = rbuf_u32(r);
	for (uint32_t i = 0; i < n; i++)
		forget_counter(d, &d->samples[rbuf_u32(r)], &d->retired_samples);
	n = rbuf_u32(r);
	for (uint32_t i = 0; i < n; i++)
		forget_counter(d, &d->timeline[rbuf_u32(r)], &d->retired_timeline);
}

/* ---- what forgotten counters fed, out of the host's memory ---- */

static void sort_unique(struct delta_retired *rt)
{
	size_t n = 0;
	if (rt->n > 1)
		qsort(rt->slots, rt->n, sizeof(*rt->slots), cmp_u32);
	for (size_t i = 0; i < rt->n; i++)
		if (!n || rt->slots[n - 1] != rt->slots[i])
			rt->slots[n++] = rt->slots[i];
	rt->n = n;
}

struct retired_ctx {
	struct delta_state *d;
	struct delta_retired *rt;
	uint64_t cost; /* of one counter */
	size_t base;   /* the entry's slot: (entry - base) / size */
	size_t size;
};

/* A retired entry of the agent's domain, fed by no live counter (a new
 * counter of the same key may have found it again meanwhile): it goes,
 * and the budget of the forgotten counters that fed it comes back. */
static bool retired_entry(uint32_t slot, uint32_t domain, uint8_t origin, struct retired_ctx *c)
{
	struct delta_retired *rt = c->rt;
	if (origin != ORIGIN_AGENT || domain != c->d->domain || slot >= rt->cap_refs || rt->refs[slot] ||
	    !has_u32(rt->slots, rt->n, slot))
		return false;
	proto_budget__refund(c->d->budget, rt->forgot[slot] * c->cost);
	rt->forgot[slot] = 0;
	return true;
}

static bool retired_sample(const struct sample_entry *e, void *ctx)
{
	struct retired_ctx *c = ctx;
	return retired_entry((uint32_t)(((uintptr_t)e - c->base) / c->size), e->key.domain, e->key.origin, c);
}

static bool retired_timeline(const struct timeline_entry *e, void *ctx)
{
	struct retired_ctx *c = ctx;
	return retired_entry((uint32_t)(((uintptr_t)e - c->base) / c->size), e->key.domain, e->key.origin, c);
}

/* Keep the retired slots still waiting: unfed and not dropped (not
 * written yet); an entry a live counter feeds again leaves the list, and
 * comes back when that counter is forgotten. */
static void keep_waiting(struct delta_retired *rt, bool (*present)(const struct profile *, uint32_t),
			 const struct profile *host)
{
	size_t n = 0;
	for (size_t i = 0; i < rt->n; i++)
		if (!rt->refs[rt->slots[i]] && present(host, rt->slots[i]))
			rt->slots[n++] = rt->slots[i];
	rt->n = n;
}

static bool sample_present(const struct profile *p, uint32_t slot)
{
	return slot < p->n_samples && p->samples[slot].key.event;
}

static bool timeline_present(const struct profile *p, uint32_t slot)
{
	return slot < p->n_timeline && p->timeline[slot].key.event;
}

static int cmp_retired_thread(const void *a, const void *b)
{
	return cmp_u32(&((const struct delta_retired_thread *)a)->id, &((const struct delta_retired_thread *)b)->id);
}

/* Thread rows (by id): only the agent's own (a guest thread of its
 * domain), once written; their budget comes back when they go. A row
 * several forgotten threads named (equal rows) comes back for each. Rows
 * no longer in memory leave the list without a refund. */
static void drop_retired_threads(struct delta_state *d, struct profile *host)
{
	struct delta_retired_thread *rt = d->retired_threads;
	uint32_t *gone = NULL, *waiting = NULL;
	size_t n_gone = 0, cap_gone = 0, n_waiting = 0, cap_waiting = 0, kept = 0;
	qsort(rt, d->n_retired_threads, sizeof(*rt), cmp_retired_thread);
	for (size_t i = 0; i < host->n_threads; i++) {
		const struct profile_thread *t = &host->threads[i];
		struct delta_retired_thread key = { t->id, 0 };
		if (!t->id || t->domain != d->domain || t->role != ROLE_GUEST ||
		    !bsearch(&key, rt, d->n_retired_threads, sizeof(*rt), cmp_retired_thread))
			continue;
		if (t->written) {
			ARRAY_GROW(gone, cap_gone, n_gone + 1);
			gone[n_gone++] = t->id;
		} else {
			ARRAY_GROW(waiting, cap_waiting, n_waiting + 1);
			waiting[n_waiting++] = t->id;
		}
	}
	if (n_gone > 1)
		qsort(gone, n_gone, sizeof(*gone), cmp_u32);
	if (n_waiting > 1)
		qsort(waiting, n_waiting, sizeof(*waiting), cmp_u32);
	profile__drop_threads(host, gone, n_gone);
	for (size_t i = 0; i < d->n_retired_threads; i++) {
		if (has_u32(gone, n_gone, rt[i].id))
			proto_budget__refund(d->budget, rt[i].cost);
		else if (has_u32(waiting, n_waiting, rt[i].id))
			rt[kept++] = rt[i];
	}
	d->n_retired_threads = kept;
	free(gone);
	free(waiting);
}

size_t delta__drop_retired(struct delta_state *d, struct profile *host)
{
	size_t dropped = 0;
	if (d->retired_samples.n) {
		struct retired_ctx c = { d, &d->retired_samples, COUNTER_COST(struct sample_entry),
					 (uintptr_t)host->samples, sizeof(*host->samples) };
		sort_unique(c.rt);
		dropped += profile__drop_samples(host, retired_sample, &c);
		keep_waiting(c.rt, sample_present, host);
	}
	if (d->retired_timeline.n) {
		struct retired_ctx c = { d, &d->retired_timeline, COUNTER_COST(struct timeline_entry),
					 (uintptr_t)host->timeline, sizeof(*host->timeline) };
		sort_unique(c.rt);
		dropped += profile__drop_timeline_if(host, retired_timeline, &c);
		keep_waiting(c.rt, timeline_present, host);
	}
	if (d->n_retired_threads)
		drop_retired_threads(d, host);
	return dropped;
}

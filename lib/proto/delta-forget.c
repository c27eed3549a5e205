/* What the host lets go of an agent's rows. FORGET (docs/protocol.md,
 * DATA): what an agent's forgotten threads and counters leave behind, out
 * of the agent's tables at once and out of the host's memory once
 * written, with their budget given back then (checking the lists is
 * check_forget's, in delta.c). Rotation (record --rotate): every row
 * leaves with its session, the live ones are interned again in the next. */
#define _GNU_SOURCE
#include "delta-internal.h"

#include "../util/util.h"

void delta__retired_ref(struct delta_state *d, struct delta_retired *rt, uint32_t slot, uint64_t cost)
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
	/* A new counter feeds an entry a forgotten one fed (a thread id
	 * reused with its name, the same function): the entry is held once,
	 * and the new counter's charge now covers it; one of the forgotten
	 * ones' comes back. */
	if (rt->forgot[slot]) {
		rt->forgot[slot]--;
		proto_budget__refund(d->budget, cost);
	}
}

/* The list of slots sorted, without repeats. */
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

/* The list without repeats and without the slots a live counter feeds
 * again: each one left is held and charged (a forgotten counter's charge
 * stays until it leaves memory), so the list never outgrows the budget. */
static void compact_retired(struct delta_retired *rt)
{
	size_t n = 0;
	sort_unique(rt);
	for (size_t i = 0; i < rt->n; i++)
		if (!rt->refs[rt->slots[i]])
			rt->slots[n++] = rt->slots[i];
	rt->n = n;
}

/* A counter the agent forgot: its host entry, once fed by no live counter
 * of the agent, may leave memory when written; the counter's budget is
 * given back then (delta__drop_retired), not before: until then the host
 * still holds it. Its index is free for a new counter. */
static void forget_counter(struct delta_state *d, struct delta_counter *c, struct delta_retired *rt)
{
	rt->forgot[c->host]++;
	if (c->thread)
		d->thread_refs[c->thread - 1]--;
	c->thread = 0;
	if (!--rt->refs[c->host]) {
		/* A guest that forgets and sends again the same counters every
		 * frame lists the same slots again and again: compacted before
		 * the list grows. */
		if (rt->n == rt->cap)
			compact_retired(rt);
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

/* ---- COMPACT: the agent's catalog renumbered ---- */

static uint64_t held_hash(uint32_t host) { return hash_u64(host); }

bool delta__hold(struct delta_held *h, uint32_t host, uint64_t cost)
{
	uint64_t hash = held_hash(host);
	size_t pos = hmap_first(&h->index, hash);
	uint32_t idx;
	while (hmap_candidate(&h->index, pos, hash, &idx)) {
		if (idx != UINT32_MAX && h->rows[idx].host == host)
			return false;
		pos = hmap_next(&h->index, pos);
	}
	ARRAY_GROW(h->rows, h->cap, h->n + 1);
	h->rows[h->n] = (struct delta_held_row){ host, (uint32_t)MIN(cost, (uint64_t)UINT32_MAX) };
	hmap_insert_at(&h->index, pos, hash, (uint32_t)h->n);
	h->n++;
	return true;
}

void delta__held_release(struct delta_held *h)
{
	free(h->rows);
	hmap_release(&h->index);
	memset(h, 0, sizeof(*h));
}

/* The profile restarted: the held rows it kept, by their new ids; the
 * others left the host's memory, and their charge comes back. */
static void held_restart(struct delta_state *d, struct delta_held *h, const struct profile_id_map *keep)
{
	size_t n = 0;
	hmap_release(&h->index);
	for (size_t i = 0; i < h->n; i++) {
		uint32_t id = profile_id_map__get(keep, h->rows[i].host);
		if (!id) {
			proto_budget__refund(d->budget, h->rows[i].cost);
			continue;
		}
		h->rows[n] = (struct delta_held_row){ id, h->rows[i].cost };
		hmap_insert(&h->index, held_hash(id), (uint32_t)n);
		n++;
	}
	h->n = n;
	ARRAY_SHRINK(h->rows, h->cap, h->n);
}

/* One table's translation, down to the ids kept (ascending: in place);
 * the slots let go come back. */
static void compact_table(struct delta_state *d, struct rbuf *r, uint32_t **table, size_t *n, size_t *cap)
{
	uint32_t kept = rbuf_u32(r);
	for (uint32_t i = 0; i < kept; i++)
		(*table)[i] = (*table)[rbuf_u32(r) - 1];
	proto_budget__refund(d->budget, (*n - kept) * MAP_COST);
	d->compacted += *n - kept;
	*n = kept;
	/* MAP_COST is two slots per id: no more room than that stays. */
	if (*cap > 2 * (size_t)kept) {
		*cap = 2 * (size_t)kept;
		*table = *cap ? xrealloc(*table, *cap * sizeof(**table)) : (free(*table), NULL);
	}
}

void delta__apply_compact(struct delta_state *d, struct rbuf *r)
{
	if (!rbuf_u8(r))
		return;
	d->compactions++;
	compact_table(d, r, &d->images, &d->n_images, &d->cap_images);
	compact_table(d, r, &d->symbols, &d->n_symbols, &d->cap_symbols);
	compact_table(d, r, &d->frames, &d->n_frames, &d->cap_frames);
}

/* ---- what forgotten counters fed, out of the host's memory ---- */


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

/* The host thread rows the agent's live threads name, sorted (to free). */
static uint32_t *live_thread_rows(const struct delta_state *d, size_t *ret_n)
{
	uint32_t *ids = xcalloc(d->n_threads ? d->n_threads : 1, sizeof(*ids));
	size_t n = 0;
	for (size_t i = 0; i < d->n_threads; i++)
		if (d->threads[i])
			ids[n++] = d->threads[i];
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_u32);
	*ret_n = n;
	return ids;
}

/* Thread rows (by id): only the agent's own (a guest thread of its
 * domain), once written; their budget comes back when they go. A row
 * several forgotten threads named (equal rows) comes back for each. A row
 * a live thread of the agent names too (a thread id reused with the same
 * name) stays, and the forgotten one's budget comes back (the live one
 * was charged for it). Rows no longer in memory leave the list without a
 * refund. */
static void drop_retired_threads(struct delta_state *d, struct profile *host)
{
	struct delta_retired_thread *rt = d->retired_threads;
	uint32_t *gone = NULL, *waiting = NULL, *live;
	size_t n_gone = 0, cap_gone = 0, n_waiting = 0, cap_waiting = 0, kept = 0, n_live;
	qsort(rt, d->n_retired_threads, sizeof(*rt), cmp_retired_thread);
	live = live_thread_rows(d, &n_live);
	for (size_t i = 0; i < host->n_threads; i++) {
		const struct profile_thread *t = &host->threads[i];
		struct delta_retired_thread key = { t->id, 0 };
		if (!t->id || t->domain != d->domain || t->role != ROLE_GUEST ||
		    !bsearch(&key, rt, d->n_retired_threads, sizeof(*rt), cmp_retired_thread))
			continue;
		/* A row a live thread names is given back now and kept below. */
		if (t->written || has_u32(live, n_live, t->id)) {
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
	/* The rows to drop: gone, less those a live thread names. */
	{
		_cleanup_free_ uint32_t *drop = xcalloc(n_gone ? n_gone : 1, sizeof(*drop));
		size_t n_drop = 0;
		for (size_t i = 0; i < n_gone; i++)
			if (!has_u32(live, n_live, gone[i]))
				drop[n_drop++] = gone[i];
		profile__drop_threads(host, drop, n_drop);
	}
	for (size_t i = 0; i < d->n_retired_threads; i++) {
		if (has_u32(gone, n_gone, rt[i].id))
			proto_budget__refund(d->budget, rt[i].cost);
		else if (has_u32(waiting, n_waiting, rt[i].id))
			rt[kept++] = rt[i];
	}
	d->n_retired_threads = kept;
	free(gone);
	free(waiting);
	free(live);
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

/* ---- rotation: the agent's live rows into the next session ---- */

static int cmp_rotation_thread(const void *a, const void *b)
{
	return cmp_u32(&((const struct delta_rotation_thread *)a)->old_id,
		       &((const struct delta_rotation_thread *)b)->old_id);
}

void delta__rotate_save(struct delta_state *d, const struct profile *host, struct profile_catalog_map *keep)
{
	struct delta_rotation *rot = &d->rotation;
	size_t n_ids;
	uint32_t *ids;
	delta__rotate_cancel(d);
	rot->saved = true;
	/* The agent names each catalog row it has by its id: its rows stay
	 * through the restart; and so do those its live counters' entries
	 * name, which a compaction may have let go (an agent that lets go of
	 * what it still counts is wrong, but its counters keep their rows). */
	for (size_t i = 0; i < d->n_images; i++)
		profile_id_map__keep(&keep->images, d->images[i]);
	for (size_t i = 0; i < d->n_symbols; i++)
		profile_id_map__keep(&keep->symbols, d->symbols[i]);
	for (size_t i = 0; i < d->n_frames; i++)
		profile_id_map__keep(&keep->frames, d->frames[i]);
	for (size_t i = 0; i < d->n_samples_known; i++)
		if (d->samples[i].live) {
			const struct sample_key *k = &host->samples[d->samples[i].host].key;
			profile_id_map__keep(&keep->images, k->image);
			profile_id_map__keep(&keep->symbols, k->symbol);
			profile_id_map__keep(&keep->frames, k->stack);
		}
	/* The agent's live threads, by their host rows' ids. */
	ids = live_thread_rows(d, &n_ids);
	for (size_t i = 0; n_ids && i < host->n_threads; i++) {
		const struct profile_thread *t = &host->threads[i];
		if (!t->id || t->domain != d->domain || t->role != ROLE_GUEST || !has_u32(ids, n_ids, t->id))
			continue;
		rot->threads = xrealloc(rot->threads, (rot->n_threads + 1) * sizeof(*rot->threads));
		rot->threads[rot->n_threads++] = (struct delta_rotation_thread){ t->id, t->pid, t->tid, xstrdup(t->comm) };
	}
	free(ids);
	if (rot->n_threads > 1)
		qsort(rot->threads, rot->n_threads, sizeof(*rot->threads), cmp_rotation_thread);
	/* The live counters' indexes and keys: no more than the live host
	 * entries the agent was charged for. */
	for (size_t i = 0; i < d->n_samples_known; i++)
		if (d->samples[i].live) {
			ARRAY_GROW(rot->samples, rot->cap_samples, rot->n_samples + 1);
			rot->samples[rot->n_samples++] =
				(struct delta_rotation_sample){ (uint32_t)i, host->samples[d->samples[i].host].key };
		}
	for (size_t i = 0; i < d->n_timeline_known; i++)
		if (d->timeline[i].live) {
			ARRAY_GROW(rot->timeline, rot->cap_timeline, rot->n_timeline + 1);
			rot->timeline[rot->n_timeline++] =
				(struct delta_rotation_timeline){ (uint32_t)i, host->timeline[d->timeline[i].host].key };
		}
}

/* The old session's copies are gone: what the agent forgot and the host
 * still held comes back to its budget, and no slot is fed any more. */
static void retired_restart(struct delta_state *d, struct delta_retired *rt, uint64_t cost)
{
	for (size_t i = 0; i < rt->cap_refs; i++)
		if (rt->forgot[i])
			proto_budget__refund(d->budget, rt->forgot[i] * cost);
	if (rt->cap_refs) {
		memset(rt->refs, 0, rt->cap_refs * sizeof(*rt->refs));
		memset(rt->forgot, 0, rt->cap_refs * sizeof(*rt->forgot));
	}
	rt->n = 0;
}

/* A thread id of the old session in the new one (0: not a live thread of
 * the agent's). */
static uint32_t new_thread(const struct delta_rotation *rot, const uint32_t *new_ids, uint32_t old_id)
{
	struct delta_rotation_thread key = { .old_id = old_id };
	const struct delta_rotation_thread *t;
	if (!old_id || !rot->n_threads)
		return 0;
	t = bsearch(&key, rot->threads, rot->n_threads, sizeof(*rot->threads), cmp_rotation_thread);
	return t ? new_ids[t - rot->threads] : 0;
}

void delta__rotate_apply(struct delta_state *d, struct profile *host, const struct profile_catalog_map *keep,
			 uint64_t start_ns)
{
	struct delta_rotation *rot = &d->rotation;
	uint32_t *new_ids;
	int64_t old_base = d->bucket_base;
	if (!rot->saved)
		return;
	for (size_t i = 0; i < d->n_images; i++)
		d->images[i] = profile_id_map__get(&keep->images, d->images[i]);
	for (size_t i = 0; i < d->n_symbols; i++)
		d->symbols[i] = profile_id_map__get(&keep->symbols, d->symbols[i]);
	for (size_t i = 0; i < d->n_frames; i++)
		d->frames[i] = profile_id_map__get(&keep->frames, d->frames[i]);
	held_restart(d, &d->held_images, &keep->images);
	held_restart(d, &d->held_symbols, &keep->symbols);
	held_restart(d, &d->held_frames, &keep->frames);
	new_ids = xcalloc(rot->n_threads ? rot->n_threads : 1, sizeof(*new_ids));
	for (size_t i = 0; i < rot->n_threads; i++)
		new_ids[i] = profile__thread(host, d->domain, rot->threads[i].pid, rot->threads[i].tid,
					     rot->threads[i].comm, ROLE_GUEST, -1);
	for (size_t i = 0; i < d->n_threads; i++)
		d->threads[i] = new_thread(rot, new_ids, d->threads[i]);
	/* Rows of forgotten threads left with the old session. */
	for (size_t i = 0; i < d->n_retired_threads; i++)
		proto_budget__refund(d->budget, d->retired_threads[i].cost);
	d->n_retired_threads = 0;
	retired_restart(d, &d->retired_samples, COUNTER_COST(struct sample_entry));
	retired_restart(d, &d->retired_timeline, COUNTER_COST(struct timeline_entry));
	/* The recording's buckets before the session's start, to the nearest
	 * (the host's own start with the session, within half a bucket). */
	if (d->bucket_ns && start_ns > d->host_start_ns)
		d->bucket_base = (int64_t)((start_ns - d->host_start_ns + d->bucket_ns / 2) / d->bucket_ns);
	for (size_t i = 0; i < rot->n_samples; i++) {
		struct delta_counter *c = &d->samples[rot->samples[i].idx];
		struct sample_key k = rot->samples[i].key;
		k.thread = new_thread(rot, new_ids, k.thread);
		k.image = profile_id_map__get(&keep->images, k.image);
		k.symbol = profile_id_map__get(&keep->symbols, k.symbol);
		k.stack = profile_id_map__get(&keep->frames, k.stack);
		c->host = profile__add_sample(host, &k, 0, 0);
		delta__retired_ref(d, &d->retired_samples, c->host, COUNTER_COST(struct sample_entry));
	}
	for (size_t i = 0; i < rot->n_timeline; i++) {
		struct delta_counter *c = &d->timeline[rot->timeline[i].idx];
		struct timeline_key k = rot->timeline[i].key;
		k.bucket = (uint32_t)MAX((int64_t)k.bucket + old_base - d->bucket_base, 0);
		c->host = profile__add_timeline(host, &k, 0, 0);
		delta__retired_ref(d, &d->retired_timeline, c->host, COUNTER_COST(struct timeline_entry));
	}
	free(new_ids);
	delta__rotate_cancel(d);
}

void delta__rotate_cancel(struct delta_state *d)
{
	struct delta_rotation *rot = &d->rotation;
	for (size_t i = 0; i < rot->n_threads; i++)
		free(rot->threads[i].comm);
	free(rot->threads);
	free(rot->samples);
	free(rot->timeline);
	memset(rot, 0, sizeof(*rot));
}

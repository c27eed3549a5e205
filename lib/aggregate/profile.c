/* Interning tables and counters of a profile; see profile.h. Each table is
 * an array plus an hmap index over it. */
#include "profile.h"

#include "../util/util.h"

void profile__init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
}

void profile__release(struct profile *p)
{
	for (size_t i = 0; i < p->n_domains; i++) {
		struct profile_domain *d = &p->domains[i];
		free(d->name);
		free(d->vmm);
		free(d->accel);
		free(d->uuid);
		free(d->source);
		free(d->note);
	}
	for (size_t i = 0; i < p->n_threads; i++)
		free(p->threads[i].comm);
	for (size_t i = 0; i < p->n_images; i++)
		free(p->images[i].path);
	for (size_t i = 0; i < p->n_symbols; i++)
		free(p->symbols[i].name);
	free(p->domains);
	free(p->threads);
	free(p->images);
	free(p->symbols);
	free(p->frames);
	free(p->samples);
	free(p->timeline);
	free(p->dirty_samples);
	free(p->dirty_timeline);
	free(p->free_threads);
	free(p->free_thread_ids);
	free(p->free_samples);
	free(p->free_timeline);
	free(p->dropped_threads.ids);
	free(p->dropped_samples.ids);
	free(p->dropped_timeline.ids);
	hmap_release(&p->index_domains);
	hmap_release(&p->index_threads);
	hmap_release(&p->index_images);
	hmap_release(&p->index_symbols);
	hmap_release(&p->index_frames);
	hmap_release(&p->index_samples);
	hmap_release(&p->index_timeline);
	memset(p, 0, sizeof(*p));
}

/* The lookup-or-insert loop shared by every table. EQ is an expression over
 * `e` (a pointer to the candidate entry). */
#define INTERN(p, table, hash, EQ, INIT)                                                  \
	do {                                                                              \
		size_t pos_ = hmap_first(&(p)->index_##table, (hash));                     \
		uint32_t idx_;                                                            \
		while (hmap_candidate(&(p)->index_##table, pos_, (hash), &idx_)) {         \
			if (idx_ != UINT32_MAX) {                                         \
				const typeof((p)->table[0]) *e = &(p)->table[idx_];       \
				if (EQ)                                                   \
					return idx_ + 1;                                  \
			}                                                                 \
			pos_ = hmap_next(&(p)->index_##table, pos_);                      \
		}                                                                         \
		ARRAY_GROW((p)->table, (p)->cap_##table, (p)->n_##table + 1);             \
		idx_ = (uint32_t)(p)->n_##table++;                                        \
		{                                                                         \
			typeof((p)->table[0]) *e = &(p)->table[idx_];                     \
			INIT;                                                             \
		}                                                                         \
		hmap_insert_at(&(p)->index_##table, pos_, (hash), idx_);                  \
		return idx_ + 1;                                                          \
	} while (0)

static bool str_eq(const char *a, const char *b) { return streq(a ? a : "", b ? b : ""); }

uint32_t profile__domain(struct profile *p, const char *name, bool is_vm)
{
	uint64_t h = hash_str(name);
	INTERN(p, domains, h, streq(e->name, name), ({
		       e->name = xstrdup(name);
		       e->is_vm = is_vm;
		       e->pid = -1;
		       e->complete = true;
		       e->source = xstrdup("host");
		       e->dirty = true;
	       }));
}

uint32_t profile__idle_domain(struct profile *p)
{
	uint32_t id = profile__domain(p, DOMAIN_NAME_IDLE, false);
	struct profile_domain *d = profile__domain_at(p, id);
	if (!d->is_idle) {
		d->is_idle = true;
		d->dirty = true;
	}
	return id;
}

uint32_t profile__find_domain(const struct profile *p, const char *name)
{
	uint64_t h = hash_str(name);
	size_t pos = hmap_first(&p->index_domains, h);
	uint32_t idx;
	while (hmap_candidate(&p->index_domains, pos, h, &idx)) {
		if (idx != UINT32_MAX && streq(p->domains[idx].name, name))
			return idx + 1;
		pos = hmap_next(&p->index_domains, pos);
	}
	return 0;
}

void profile__domain_set(struct profile *p, uint32_t id, const char *field, const char *value)
{
	struct profile_domain *d = profile__domain_at(p, id);
	char **slot = NULL;
	if (streq(field, "vmm"))
		slot = &d->vmm;
	else if (streq(field, "accel"))
		slot = &d->accel;
	else if (streq(field, "uuid"))
		slot = &d->uuid;
	else if (streq(field, "source"))
		slot = &d->source;
	else if (streq(field, "note"))
		slot = &d->note;
	if (!slot)
		return;
	if (*slot && value && streq(*slot, value))
		return;
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
	d->dirty = true;
}

uint32_t profile__thread(struct profile *p, uint32_t domain, uint32_t pid, uint32_t tid, const char *comm,
			 enum thread_role role, int32_t vcpu)
{
	uint64_t h = hash_mix(hash_mix(hash_mix(hash_str(comm), domain), pid), tid);
	size_t pos = hmap_first(&p->index_threads, h);
	uint32_t idx;
	while (hmap_candidate(&p->index_threads, pos, h, &idx)) {
		if (idx != UINT32_MAX) {
			const struct profile_thread *e = &p->threads[idx];
			/* A guest's thread (an agent's) is never one of the host's
			 * threads of the same domain (its VMM), whatever it claims. */
			if (e->domain == domain && e->pid == pid && e->tid == tid && streq(e->comm, comm) &&
			    (e->role == ROLE_GUEST) == (role == ROLE_GUEST))
				return e->id;
		}
		pos = hmap_next(&p->index_threads, pos);
	}
	if (p->n_free_threads) {
		idx = p->free_threads[--p->n_free_threads];
	} else {
		ARRAY_GROW(p->threads, p->cap_threads, p->n_threads + 1);
		idx = (uint32_t)p->n_threads++;
	}
	p->threads[idx] = (struct profile_thread){ .id = p->reuse_thread_ids && p->n_free_thread_ids
							   ? p->free_thread_ids[--p->n_free_thread_ids]
							   : ++p->last_thread_id,
						   .domain = domain, .pid = pid,
						   .tid = tid, .comm = xstrdup(comm), .role = (uint8_t)role,
						   .vcpu = vcpu };
	hmap_insert_at(&p->index_threads, pos, h, idx);
	return p->threads[idx].id;
}

static uint64_t thread_hash(const struct profile_thread *t)
{
	return hash_mix(hash_mix(hash_mix(hash_str(t->comm), t->domain), t->pid), t->tid);
}

static uint64_t image_hash(uint32_t domain, const char *path, const char *build_id)
{
	return hash_mix(hash_mix(hash_str(path), domain), build_id && *build_id ? hash_str(build_id) : 0);
}

static uint64_t symbol_hash(uint32_t image, const char *name, uint64_t address)
{
	return hash_mix(hash_mix(hash_str(name), image), address);
}

static uint64_t frame_hash(uint32_t parent, uint32_t image, uint32_t symbol, uint64_t address)
{
	return hash_mix(hash_mix(hash_mix(hash_u64(parent), image), symbol), address);
}

uint32_t profile__image(struct profile *p, uint32_t domain, const char *path, const char *build_id,
			enum image_kind kind)
{
	uint64_t h = image_hash(domain, path, build_id);
	INTERN(p, images, h, e->domain == domain && streq(e->path, path) && str_eq(e->build_id, build_id), ({
		       e->domain = domain;
		       e->path = xstrdup(path);
		       snprintf(e->build_id, sizeof(e->build_id), "%s", build_id ? build_id : "");
		       e->kind = (uint8_t)kind;
	       }));
}

uint32_t profile__symbol(struct profile *p, uint32_t image, const char *name, uint64_t address, uint64_t size)
{
	uint64_t h = symbol_hash(image, name, address);
	INTERN(p, symbols, h, e->image == image && e->address == address && streq(e->name, name), ({
		       e->image = image;
		       e->name = xstrdup(name);
		       e->address = address;
		       e->size = size;
	       }));
}

uint32_t profile__frame(struct profile *p, uint32_t parent, uint32_t image, uint32_t symbol, uint64_t address)
{
	uint64_t h = frame_hash(parent, image, symbol, address);
	INTERN(p, frames, h,
	       e->parent == parent && e->image == image && e->symbol == symbol && e->address == address, ({
		       e->parent = parent;
		       e->image = image;
		       e->symbol = symbol;
		       e->address = address;
	       }));
}

/* The hot path of aggregation: one multiply per word, one final mix. */
static uint64_t sample_key_hash(const struct sample_key *k)
{
	uint64_t h = ((uint64_t)k->origin << 56) ^ ((uint64_t)k->event << 40) ^ ((uint64_t)k->layer << 32) ^ k->domain;
	h = h * 0x9e3779b97f4a7c15ULL ^ (((uint64_t)k->thread << 32) | k->image);
	h = h * 0xc2b2ae3d27d4eb4fULL ^ (((uint64_t)k->symbol << 32) | k->stack);
	h = h * 0x165667b19e3779f9ULL ^ k->address;
	return hash_u64(h);
}

static bool sample_key_eq(const struct sample_key *a, const struct sample_key *b)
{
	return a->event == b->event && a->domain == b->domain && a->thread == b->thread && a->image == b->image &&
	       a->symbol == b->symbol && a->stack == b->stack && a->address == b->address && a->layer == b->layer && a->origin == b->origin;
}

void profile__bump_sample(struct profile *p, uint32_t idx, uint64_t count, uint64_t period)
{
	struct sample_entry *e = &p->samples[idx];
	e->count += count;
	e->period += period;
	if (!e->dirty) {
		e->dirty = true;
		ARRAY_GROW(p->dirty_samples, p->cap_dirty_samples, p->n_dirty_samples + 1);
		p->dirty_samples[p->n_dirty_samples++] = idx;
	}
}

uint32_t profile__add_sample(struct profile *p, const struct sample_key *key, uint64_t count, uint64_t period)
{
	uint64_t h = sample_key_hash(key);
	size_t pos = hmap_first(&p->index_samples, h);
	uint32_t idx;

	while (hmap_candidate(&p->index_samples, pos, h, &idx)) {
		if (idx != UINT32_MAX && sample_key_eq(&p->samples[idx].key, key))
			goto found;
		pos = hmap_next(&p->index_samples, pos);
	}
	if (p->n_free_samples) {
		idx = p->free_samples[--p->n_free_samples];
	} else {
		ARRAY_GROW(p->samples, p->cap_samples, p->n_samples + 1);
		idx = (uint32_t)p->n_samples++;
	}
	p->samples[idx] = (struct sample_entry){ .key = *key, .id = ++p->last_sample_id };
	hmap_insert_at(&p->index_samples, pos, h, idx);
found:
	/* An entry that never counted anything is never written (rotation
	 * interns an agent's counters this way, see delta__rotate_apply). */
	if (count || period)
		profile__bump_sample(p, idx, count, period);
	return idx;
}

static uint64_t timeline_key_hash(const struct timeline_key *key)
{
	return hash_mix(hash_u64(((uint64_t)key->origin << 56) ^ ((uint64_t)key->event << 40) ^
				 ((uint64_t)key->layer << 32) ^ key->domain),
			key->bucket);
}

void profile__bump_timeline(struct profile *p, uint32_t idx, uint64_t count, uint64_t period)
{
	struct timeline_entry *e = &p->timeline[idx];
	e->count += count;
	e->period += period;
	if (!e->dirty) {
		e->dirty = true;
		ARRAY_GROW(p->dirty_timeline, p->cap_dirty_timeline, p->n_dirty_timeline + 1);
		p->dirty_timeline[p->n_dirty_timeline++] = idx;
	}
}

static bool timeline_key_eq(const struct timeline_key *a, const struct timeline_key *b)
{
	return a->bucket == b->bucket && a->domain == b->domain && a->event == b->event && a->layer == b->layer &&
	       a->origin == b->origin;
}

uint32_t profile__add_timeline(struct profile *p, const struct timeline_key *key, uint64_t count, uint64_t period)
{
	/* Samples of one (event, domain, layer, origin) land in the same
	 * bucket for a second: a table of the last entry of each, so that
	 * samples alternating between layers or domains skip the hash. */
	uint32_t *recent = &p->recent_timeline[(key->event * 7u + key->layer * 3u + key->origin * 5u + key->domain) &
					       (PROFILE_RECENT_TIMELINE - 1)];
	uint32_t idx;
	if (*recent && *recent <= p->n_timeline && timeline_key_eq(&p->timeline[*recent - 1].key, key)) {
		idx = *recent - 1;
		goto found;
	}
	uint64_t h = timeline_key_hash(key);
	size_t pos = hmap_first(&p->index_timeline, h);

	while (hmap_candidate(&p->index_timeline, pos, h, &idx)) {
		if (idx != UINT32_MAX && timeline_key_eq(&p->timeline[idx].key, key))
			goto found;
		pos = hmap_next(&p->index_timeline, pos);
	}
	if (p->n_free_timeline) {
		idx = p->free_timeline[--p->n_free_timeline];
	} else {
		ARRAY_GROW(p->timeline, p->cap_timeline, p->n_timeline + 1);
		idx = (uint32_t)p->n_timeline++;
	}
	p->timeline[idx] = (struct timeline_entry){ .key = *key, .id = ++p->last_timeline_id };
	hmap_insert_at(&p->index_timeline, pos, h, idx);
found:
	*recent = idx + 1;
	if (count || period)
		profile__bump_timeline(p, idx, count, period);
	return idx;
}

void profile__mark_written(struct profile *p)
{
	p->written_domains = p->n_domains;
	p->written_threads = p->n_threads;
	for (size_t i = 0; i < p->n_threads; i++)
		p->threads[i].written = p->threads[i].id != 0;
	p->written_images = p->n_images;
	p->written_symbols = p->n_symbols;
	p->written_frames = p->n_frames;
	p->written_samples = p->n_samples;
	p->written_timeline = p->n_timeline;
	for (size_t i = 0; i < p->n_domains; i++)
		p->domains[i].dirty = false;
	p->flushes++;
	for (size_t i = 0; i < p->n_dirty_samples; i++) {
		p->samples[p->dirty_samples[i]].dirty = false;
		p->samples[p->dirty_samples[i]].written = true;
		p->samples[p->dirty_samples[i]].flushed = p->flushes;
	}
	for (size_t i = 0; i < p->n_dirty_timeline; i++) {
		p->timeline[p->dirty_timeline[i]].dirty = false;
		p->timeline[p->dirty_timeline[i]].written = true;
	}
	p->n_dirty_samples = 0;
	p->n_dirty_timeline = 0;
}

/* Dropping counters. The index has no deletion: it is built again over
 * the live slots, once per drop that freed any (a drop runs at most once
 * per flush, and its cost is that of the live counters, which is what
 * the recorder holds anyway). */
static bool counter_droppable(bool dirty, bool written, uint64_t count, uint64_t period)
{
	/* Written, or never counted anything (nothing to write). */
	return !dirty && (written || (!count && !period));
}

static void note_drop(struct profile *p, struct profile_drops *l, uint32_t v)
{
	if (!p->track_drops)
		return;
	ARRAY_GROW(l->ids, l->cap, l->n + 1);
	l->ids[l->n++] = v;
}

/* The index over the live slots (it has no deletion). */
static void rehash_samples(struct profile *p)
{
	hmap_release(&p->index_samples);
	for (size_t i = 0; i < p->n_samples; i++)
		if (p->samples[i].key.event)
			hmap_insert(&p->index_samples, sample_key_hash(&p->samples[i].key), (uint32_t)i);
}

size_t profile__drop_samples(struct profile *p, bool (*done)(const struct sample_entry *e, void *ctx), void *ctx)
{
	size_t dropped = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		struct sample_entry *e = &p->samples[i];
		if (!e->key.event || !counter_droppable(e->dirty, e->written, e->count, e->period) || !done(e, ctx))
			continue;
		memset(e, 0, sizeof(*e));
		ARRAY_GROW(p->free_samples, p->cap_free_samples, p->n_free_samples + 1);
		p->free_samples[p->n_free_samples++] = (uint32_t)i;
		note_drop(p, &p->dropped_samples, (uint32_t)i);
		dropped++;
	}
	if (!dropped)
		return 0;
	rehash_samples(p);
	return dropped;
}

size_t profile__drop_timeline_if(struct profile *p, bool (*done)(const struct timeline_entry *e, void *ctx),
				 void *ctx)
{
	size_t dropped = 0;
	for (size_t i = 0; i < p->n_timeline; i++) {
		struct timeline_entry *e = &p->timeline[i];
		if (!e->key.event || !counter_droppable(e->dirty, e->written, e->count, e->period) || !done(e, ctx))
			continue;
		memset(e, 0, sizeof(*e));
		ARRAY_GROW(p->free_timeline, p->cap_free_timeline, p->n_free_timeline + 1);
		p->free_timeline[p->n_free_timeline++] = (uint32_t)i;
		note_drop(p, &p->dropped_timeline, (uint32_t)i);
		dropped++;
	}
	if (!dropped)
		return 0;
	memset(p->recent_timeline, 0, sizeof(p->recent_timeline));
	hmap_release(&p->index_timeline);
	for (size_t i = 0; i < p->n_timeline; i++)
		if (p->timeline[i].key.event)
			hmap_insert(&p->index_timeline, timeline_key_hash(&p->timeline[i].key), (uint32_t)i);
	return dropped;
}

/* The host's own counters of a past bucket. An agent's counters stay: the
 * coordinator maps the agent's indexes onto these slots and drops them
 * when the agent says (proto/delta.c). */
static bool host_bucket_before(const struct timeline_entry *e, void *ctx)
{
	return e->key.origin == ORIGIN_HOST && e->key.bucket < *(const uint32_t *)ctx;
}

size_t profile__drop_timeline(struct profile *p, uint32_t bucket)
{
	return profile__drop_timeline_if(p, host_bucket_before, &bucket);
}

static int cmp_id(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t profile__drop_threads(struct profile *p, const uint32_t *exited, size_t n)
{
	size_t dropped = 0;
	for (size_t i = 0; i < p->n_threads && n; i++) {
		struct profile_thread *t = &p->threads[i];
		if (!t->id || !t->written || !bsearch(&t->id, exited, n, sizeof(*exited), cmp_id))
			continue;
		note_drop(p, &p->dropped_threads, t->id);
		if (p->track_drops && p->reuse_thread_ids) {
			ARRAY_GROW(p->free_thread_ids, p->cap_free_thread_ids, p->n_free_thread_ids + 1);
			p->free_thread_ids[p->n_free_thread_ids++] = t->id;
		}
		free(t->comm);
		memset(t, 0, sizeof(*t));
		ARRAY_GROW(p->free_threads, p->cap_free_threads, p->n_free_threads + 1);
		p->free_threads[p->n_free_threads++] = (uint32_t)i;
		dropped++;
	}
	if (!dropped)
		return 0;
	hmap_release(&p->index_threads);
	for (size_t i = 0; i < p->n_threads; i++)
		if (p->threads[i].id)
			hmap_insert(&p->index_threads, thread_hash(&p->threads[i]), (uint32_t)i);
	return dropped;
}

void profile_catalog_map__init(struct profile_catalog_map *m, const struct profile *p)
{
	m->images = (struct profile_id_map){ xcalloc(p->n_images + 1, sizeof(uint32_t)), p->n_images };
	m->symbols = (struct profile_id_map){ xcalloc(p->n_symbols + 1, sizeof(uint32_t)), p->n_symbols };
	m->frames = (struct profile_id_map){ xcalloc(p->n_frames + 1, sizeof(uint32_t)), p->n_frames };
}

void profile_catalog_map__release(struct profile_catalog_map *m)
{
	if (!m)
		return;
	free(m->images.ids);
	free(m->symbols.ids);
	free(m->frames.ids);
	memset(m, 0, sizeof(*m));
}

/* Whether row i (0-based) is marked in map (NULL: none is). */
static bool marked(const struct profile_id_map *map, size_t i)
{
	return map && i < map->n && map->ids[i];
}

/* profile__restart's catalog part: keep the marked rows and what they
 * name, in their order (a frame's caller keeps a smaller id than the
 * frame), free the others, index the rest anew; keep's entries become
 * the new ids. */
static void restart_catalog(struct profile *p, struct profile_catalog_map *keep)
{
	size_t ni = p->n_images, ns = p->n_symbols, nf = p->n_frames, n;
	uint32_t *image_ids = xcalloc(ni + 1, sizeof(uint32_t)), *symbol_ids = xcalloc(ns + 1, sizeof(uint32_t)),
		 *frame_ids = xcalloc(nf + 1, sizeof(uint32_t));

	/* What is kept: marked rows, then what kept frames and symbols name
	 * (a frame's caller has a smaller id: one pass from the end). */
	for (size_t i = 0; i < ni; i++)
		image_ids[i] = marked(keep ? &keep->images : NULL, i);
	for (size_t i = 0; i < ns; i++)
		symbol_ids[i] = marked(keep ? &keep->symbols : NULL, i);
	for (size_t i = nf; i-- > 0;) {
		const struct profile_frame *f = &p->frames[i];
		if (!marked(keep ? &keep->frames : NULL, i) && !frame_ids[i])
			continue;
		frame_ids[i] = 1;
		if (f->parent && f->parent <= i)
			frame_ids[f->parent - 1] = 1;
		if (f->symbol && f->symbol <= ns)
			symbol_ids[f->symbol - 1] = 1;
		if (f->image && f->image <= ni)
			image_ids[f->image - 1] = 1;
	}
	for (size_t i = 0; i < ns; i++)
		if (symbol_ids[i] && p->symbols[i].image && p->symbols[i].image <= ni)
			image_ids[p->symbols[i].image - 1] = 1;

	/* Renumbered in place, each table after what its rows name. */
	hmap_release(&p->index_images);
	for (size_t i = n = 0; i < ni; i++) {
		struct profile_image *e = &p->images[i];
		if (!image_ids[i]) {
			free(e->path);
			continue;
		}
		p->images[n] = *e;
		image_ids[i] = (uint32_t)++n;
		hmap_insert(&p->index_images, image_hash(e->domain, e->path, e->build_id), (uint32_t)(n - 1));
	}
	p->n_images = n;
	hmap_release(&p->index_symbols);
	for (size_t i = n = 0; i < ns; i++) {
		struct profile_symbol *e = &p->symbols[i];
		if (!symbol_ids[i]) {
			free(e->name);
			continue;
		}
		p->symbols[n] = *e;
		p->symbols[n].image = e->image && e->image <= ni ? image_ids[e->image - 1] : 0;
		symbol_ids[i] = (uint32_t)++n;
		hmap_insert(&p->index_symbols, symbol_hash(p->symbols[n - 1].image, e->name, e->address),
			    (uint32_t)(n - 1));
	}
	p->n_symbols = n;
	hmap_release(&p->index_frames);
	for (size_t i = n = 0; i < nf; i++) {
		struct profile_frame f = p->frames[i];
		if (!frame_ids[i])
			continue;
		f.parent = f.parent && f.parent <= i ? frame_ids[f.parent - 1] : 0;
		f.image = f.image && f.image <= ni ? image_ids[f.image - 1] : 0;
		f.symbol = f.symbol && f.symbol <= ns ? symbol_ids[f.symbol - 1] : 0;
		p->frames[n] = f;
		frame_ids[i] = (uint32_t)++n;
		hmap_insert(&p->index_frames, frame_hash(f.parent, f.image, f.symbol, f.address), (uint32_t)(n - 1));
	}
	p->n_frames = n;
	ARRAY_SHRINK(p->images, p->cap_images, p->n_images);
	ARRAY_SHRINK(p->symbols, p->cap_symbols, p->n_symbols);
	ARRAY_SHRINK(p->frames, p->cap_frames, p->n_frames);

	if (keep) {
		profile_catalog_map__release(keep);
		keep->images = (struct profile_id_map){ image_ids, ni };
		keep->symbols = (struct profile_id_map){ symbol_ids, ns };
		keep->frames = (struct profile_id_map){ frame_ids, nf };
	} else {
		free(image_ids);
		free(symbol_ids);
		free(frame_ids);
	}
}

void profile__restart(struct profile *p, struct profile_catalog_map *keep)
{
	restart_catalog(p, keep);
	for (size_t i = 0; i < p->n_threads; i++)
		free(p->threads[i].comm);
	p->n_threads = p->written_threads = p->n_free_threads = p->n_free_thread_ids = 0;
	p->n_samples = p->written_samples = p->n_free_samples = 0;
	p->n_timeline = p->written_timeline = p->n_free_timeline = 0;
	p->n_dirty_samples = p->n_dirty_timeline = 0;
	p->last_thread_id = p->last_sample_id = p->last_timeline_id = 0;
	memset(p->recent_timeline, 0, sizeof(p->recent_timeline));
	p->dropped_threads.n = p->dropped_samples.n = p->dropped_timeline.n = 0;
	hmap_release(&p->index_threads);
	hmap_release(&p->index_samples);
	hmap_release(&p->index_timeline);
	p->written_domains = p->written_images = p->written_symbols = p->written_frames = 0;
	for (size_t i = 0; i < p->n_domains; i++)
		p->domains[i].dirty = true;
}

size_t profile__catalog_rows(const struct profile *p) { return p->n_images + p->n_symbols + p->n_frames; }

size_t profile__compact(struct profile *p, struct profile_catalog_map *keep)
{
	size_t before = profile__catalog_rows(p);
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct sample_key *k = &p->samples[i].key;
		if (!k->event)
			continue;
		profile_id_map__keep(&keep->images, k->image);
		profile_id_map__keep(&keep->symbols, k->symbol);
		profile_id_map__keep(&keep->frames, k->stack);
	}
	restart_catalog(p, keep);
	for (size_t i = 0; i < p->n_samples; i++) {
		struct sample_key *k = &p->samples[i].key;
		if (!k->event)
			continue;
		k->image = profile_id_map__get(&keep->images, k->image);
		k->symbol = profile_id_map__get(&keep->symbols, k->symbol);
		k->stack = profile_id_map__get(&keep->frames, k->stack);
	}
	rehash_samples(p);
	p->written_images = p->n_images;
	p->written_symbols = p->n_symbols;
	p->written_frames = p->n_frames;
	return before - profile__catalog_rows(p);
}

size_t profile__n_live_samples(const struct profile *p) { return p->n_samples - p->n_free_samples; }

void symbol_codes__free(struct symbol_code *codes, size_t n)
{
	for (size_t i = 0; codes && i < n; i++) {
		free(codes[i].code);
		for (size_t j = 0; j < codes[i].n_lines; j++)
			free(codes[i].lines[j].file);
		free(codes[i].lines);
	}
	free(codes);
}

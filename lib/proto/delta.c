/* Encoding and applying profile deltas; see delta.h and docs/protocol.md
 * (DATA). */
#include "delta.h"

#include <errno.h>

#include "../util/util.h"
#include "messages.h"

#define MAX_STRING 4096
#define MAX_COMM 64
/* Per agent, all strings and code together: a guest cannot make the host
 * hold more than this, however it packs it (zstd makes repetition cheap). */
#define MAX_AGENT_BYTES (256u << 20)
#define MAX_ITEMS (1u << 24)
/* Per agent and table: a guest cannot make the host hold more. */
#define MAX_ENTRIES (1u << 22)

/* The agent's own layers, as the host sees them: its kernel modes are the
 * guest's kernel, everything else its user space. One rule for samples and
 * timeline alike. */
static uint8_t guest_layer(uint8_t layer)
{
	return layer == LAYER_KERNEL || layer == LAYER_HYPERVISOR || layer == LAYER_GUEST_KERNEL ? LAYER_GUEST_KERNEL
												   : LAYER_GUEST_USER;
}

void delta__encode(struct profile *p, struct wbuf *w)
{
	wbuf_u32(w, (uint32_t)(p->n_threads - p->written_threads));
	for (size_t i = p->written_threads; i < p->n_threads; i++) {
		struct profile_thread *t = &p->threads[i];
		wbuf_u32(w, t->pid);
		wbuf_u32(w, t->tid);
		wbuf_str(w, t->comm);
	}
	wbuf_u32(w, (uint32_t)(p->n_images - p->written_images));
	for (size_t i = p->written_images; i < p->n_images; i++) {
		struct profile_image *im = &p->images[i];
		wbuf_str(w, im->path);
		wbuf_str(w, im->build_id);
		wbuf_u8(w, im->kind);
	}
	wbuf_u32(w, (uint32_t)(p->n_symbols - p->written_symbols));
	for (size_t i = p->written_symbols; i < p->n_symbols; i++) {
		struct profile_symbol *s = &p->symbols[i];
		wbuf_u32(w, s->image);
		wbuf_str(w, s->name);
		wbuf_u64(w, s->address);
		wbuf_u64(w, s->size);
	}
	wbuf_u32(w, (uint32_t)(p->n_frames - p->written_frames));
	for (size_t i = p->written_frames; i < p->n_frames; i++) {
		struct profile_frame *f = &p->frames[i];
		wbuf_u32(w, f->parent);
		wbuf_u32(w, f->image);
		wbuf_u32(w, f->symbol);
		wbuf_u64(w, f->address);
	}
	wbuf_u32(w, (uint32_t)p->n_dirty_samples);
	for (size_t i = 0; i < p->n_dirty_samples; i++) {
		uint32_t idx = p->dirty_samples[i];
		struct sample_entry *e = &p->samples[idx];
		uint8_t layer = guest_layer(e->key.layer);
		wbuf_u32(w, idx);
		wbuf_u32(w, e->key.event);
		wbuf_u8(w, layer);
		wbuf_u32(w, e->key.thread);
		wbuf_u32(w, e->key.image);
		wbuf_u32(w, e->key.symbol);
		wbuf_u64(w, e->key.address);
		wbuf_u32(w, e->key.stack);
		wbuf_u64(w, e->count);
		wbuf_u64(w, e->period);
	}
	wbuf_u32(w, (uint32_t)p->n_dirty_timeline);
	for (size_t i = 0; i < p->n_dirty_timeline; i++) {
		uint32_t idx = p->dirty_timeline[i];
		struct timeline_entry *e = &p->timeline[idx];
		uint8_t layer = guest_layer(e->key.layer);
		wbuf_u32(w, idx);
		wbuf_u32(w, e->key.event);
		wbuf_u8(w, layer);
		wbuf_u32(w, e->key.bucket);
		wbuf_u64(w, e->count);
		wbuf_u64(w, e->period);
	}
	profile__mark_written(p);
}

void delta_state__init(struct delta_state *d, uint32_t domain, uint32_t n_events)
{
	memset(d, 0, sizeof(*d));
	d->domain = domain;
	d->n_events = n_events;
}

void delta_state__release(struct delta_state *d)
{
	free(d->threads);
	free(d->images);
	free(d->symbols);
	free(d->frames);
	free(d->samples);
	free(d->timeline);
	memset(d, 0, sizeof(*d));
}

/* Translate an agent id (1-based, 0 = none) through a table; false when it
 * is out of range. */
static bool translate(const uint32_t *table, size_t n, uint32_t id, uint32_t *ret)
{
	if (id == 0) {
		*ret = 0;
		return true;
	}
	if (id > n)
		return false;
	*ret = table[id - 1];
	return true;
}

static bool push(uint32_t **table, size_t *n, size_t *cap, uint32_t v)
{
	if (*n >= MAX_ENTRIES)
		return false;
	ARRAY_GROW(*table, *cap, *n + 1);
	(*table)[(*n)++] = v;
	return true;
}

/* Agent counter indices are dense: each is a known one or the next new one. */
static bool next_index(size_t *known, uint32_t idx)
{
	if (idx < *known)
		return true;
	if (idx == *known && *known < MAX_ENTRIES) {
		(*known)++;
		return true;
	}
	return false;
}

static bool valid_layer(uint8_t l) { return l == LAYER_GUEST_USER || l == LAYER_GUEST_KERNEL; }

/* Count bytes a guest makes the host keep; false when over budget. */
static bool spend(struct delta_state *d, const char *s)
{
	d->bytes += (s ? strlen(s) : 0) + 32;
	return d->bytes <= MAX_AGENT_BYTES;
}

bool delta_state__spend(struct delta_state *d, size_t bytes)
{
	d->bytes += bytes;
	return d->bytes <= MAX_AGENT_BYTES;
}

int delta__apply(struct delta_state *d, struct profile *host, const void *data, size_t len)
{
	struct rbuf r;
	uint32_t n;

	rbuf_init(&r, data, len);
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		uint32_t pid = rbuf_u32(&r), tid = rbuf_u32(&r);
		_cleanup_free_ char *comm = rbuf_str(&r, MAX_COMM);
		if (!rbuf_ok(&r) || !spend(d, comm))
			return -EBADMSG;
		proto_sanitize_text(comm);
		if (d->n_threads >= MAX_ENTRIES)
			return -EBADMSG;
		push(&d->threads, &d->n_threads, &d->cap_threads,
		     profile__thread(host, d->domain, pid, tid, comm, ROLE_GUEST, -1));
	}
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		_cleanup_free_ char *path = rbuf_str(&r, MAX_STRING);
		_cleanup_free_ char *build_id = rbuf_str(&r, 40);
		uint8_t kind = rbuf_u8(&r);
		if (!rbuf_ok(&r) || kind >= IMAGE__COUNT || !spend(d, path))
			return -EBADMSG;
		proto_sanitize_text(path);
		proto_sanitize_text(build_id);
		/* The guest's kernel is its own; keep the host's names apart. */
		if (kind == IMAGE_KERNEL)
			kind = IMAGE_GUEST_KERNEL;
		if (d->n_images >= MAX_ENTRIES)
			return -EBADMSG;
		push(&d->images, &d->n_images, &d->cap_images,
		     profile__image(host, d->domain, path, *build_id ? build_id : NULL, (enum image_kind)kind));
	}
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		uint32_t image = rbuf_u32(&r), himage;
		_cleanup_free_ char *name = rbuf_str(&r, MAX_STRING);
		uint64_t address = rbuf_u64(&r), size = rbuf_u64(&r);
		if (!rbuf_ok(&r) || !translate(d->images, d->n_images, image, &himage) || !himage ||
		    d->n_symbols >= MAX_ENTRIES || !spend(d, name))
			return -EBADMSG;
		proto_sanitize_text(name);
		push(&d->symbols, &d->n_symbols, &d->cap_symbols, profile__symbol(host, himage, name, address, size));
	}
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		uint32_t parent = rbuf_u32(&r), image = rbuf_u32(&r), symbol = rbuf_u32(&r);
		uint64_t address = rbuf_u64(&r);
		uint32_t hp, hi, hs;
		if (!rbuf_ok(&r) || !translate(d->frames, d->n_frames, parent, &hp) ||
		    !translate(d->images, d->n_images, image, &hi) || !translate(d->symbols, d->n_symbols, symbol, &hs) ||
		    d->n_frames >= MAX_ENTRIES || !spend(d, NULL))
			return -EBADMSG;
		push(&d->frames, &d->n_frames, &d->cap_frames, profile__frame(host, hp, hi, hs, address));
	}
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		uint32_t idx = rbuf_u32(&r), event = rbuf_u32(&r);
		uint8_t layer = rbuf_u8(&r);
		uint32_t thread = rbuf_u32(&r), image = rbuf_u32(&r), symbol = rbuf_u32(&r);
		uint64_t address = rbuf_u64(&r);
		uint32_t stack = rbuf_u32(&r);
		uint64_t count = rbuf_u64(&r), period = rbuf_u64(&r);
		struct sample_key k = { 0 };
		if (!rbuf_ok(&r) || !next_index(&d->n_samples_known, idx) || event == 0 || event > d->n_events ||
		    !valid_layer(layer) || !translate(d->threads, d->n_threads, thread, &k.thread) ||
		    !translate(d->images, d->n_images, image, &k.image) ||
		    !translate(d->symbols, d->n_symbols, symbol, &k.symbol) ||
		    !translate(d->frames, d->n_frames, stack, &k.stack))
			return -EBADMSG;
		ARRAY_GROW(d->samples, d->cap_samples, (size_t)idx + 1);
		/* Running totals only grow. */
		if (count < d->samples[idx].count || period < d->samples[idx].period)
			return -EBADMSG;
		k.event = event;
		k.domain = d->domain;
		k.layer = layer;
		k.address = address;
		k.origin = ORIGIN_AGENT;
		if (count > d->samples[idx].count || period > d->samples[idx].period)
			profile__add_sample(host, &k, count - d->samples[idx].count, period - d->samples[idx].period);
		d->samples_received += count - d->samples[idx].count;
		d->samples[idx].count = count;
		d->samples[idx].period = period;
	}
	n = rbuf_u32(&r);
	if (n > MAX_ITEMS)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && rbuf_ok(&r); i++) {
		uint32_t idx = rbuf_u32(&r), event = rbuf_u32(&r);
		uint8_t layer = rbuf_u8(&r);
		uint32_t bucket = rbuf_u32(&r);
		uint64_t count = rbuf_u64(&r), period = rbuf_u64(&r);
		int64_t hb = (int64_t)bucket + d->bucket_shift;
		struct timeline_key tk;
		if (!rbuf_ok(&r) || !next_index(&d->n_timeline_known, idx) || event == 0 || event > d->n_events ||
		    !valid_layer(layer))
			return -EBADMSG;
		ARRAY_GROW(d->timeline, d->cap_timeline, (size_t)idx + 1);
		if (count < d->timeline[idx].count || period < d->timeline[idx].period)
			return -EBADMSG;
		tk = (struct timeline_key){ .event = event, .domain = d->domain, .bucket = hb < 0 ? 0 : (uint32_t)hb,
					    .layer = layer, .origin = ORIGIN_AGENT };
		profile__add_timeline(host, &tk, count - d->timeline[idx].count, period - d->timeline[idx].period);
		d->timeline[idx].count = count;
		d->timeline[idx].period = period;
	}
	if (!rbuf_ok(&r) || rbuf_left(&r) != 0)
		return -EBADMSG;
	return 0;
}

/* Encoding and applying profile deltas; see delta.h and docs/protocol.md
 * (DATA). */
#define _GNU_SOURCE
#include "delta.h"
#include "channel.h"
#include "delta-internal.h"

#include <errno.h>

#include "../util/util.h"

#define MAX_STRING 4096
#define MAX_COMM 64
#define MAX_BUILD_ID 40
/* Per agent and table: a guest cannot make the host hold more rows. */
#define MAX_ENTRIES (1u << 22)

/* What a guest can have measured since it started. A clock event counts
 * at most one nanosecond per nanosecond on each CPU, any other event at
 * most MAX_COUNT_PER_NS (a core retiring 8 instructions a cycle at 8 GHz);
 * there is at most one sample per NS_PER_SAMPLE on a CPU (10 MHz, a
 * hundred times perf's default limit). SLACK_NS and 1/64 of the elapsed
 * time cover clock rates, transit and the agent stopping a little after
 * the host. No total may pass INT64_MAX, so sums in SQL stay exact. */
#define MAX_COUNT_PER_NS 64
#define NS_PER_SAMPLE 100
#define SLACK_NS 1000000000ULL
/* A bucket up to this far before the recording (start skew), or after the
 * host's clock now, is counted in the nearest bucket of the recording;
 * further out it is refused. After the host stopped, an agent still
 * sends what it sampled until STOP reached it (a slow guest: seconds);
 * that is counted in the last bucket, as its sample counters count it. */
#define BUCKET_SLACK_NS 2000000000ULL

/* The agent's own layers, as the host sees them (layer__as_guest): one
 * rule for samples and timeline alike. */
static uint8_t guest_layer(uint8_t layer) { return (uint8_t)layer__as_guest((enum layer)layer); }

/* What the profile dropped since the previous frame, ascending; emptied. */
static void encode_drops(struct wbuf *w, struct profile_drops *l)
{
	if (l->n > 1)
		qsort(l->ids, l->n, sizeof(*l->ids), cmp_u32);
	wbuf_u32(w, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		wbuf_u32(w, l->ids[i]);
	l->n = 0;
}

static void encode_thread(struct wbuf *w, const struct profile *p, const struct profile_thread *t)
{
	if (p->reuse_thread_ids)
		wbuf_u32(w, t->id);
	wbuf_u32(w, t->pid);
	wbuf_u32(w, t->tid);
	wbuf_str(w, t->comm);
}

static int cmp_thread_id(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ctx;
	uint32_t x = p->threads[*(const uint32_t *)a].id, y = p->threads[*(const uint32_t *)b].id;
	return x < y ? -1 : x > y;
}

/* The thread rows not sent yet. Without drops they are the last ones, in
 * id order; with drops a new row may fill a dropped one's slot, so they
 * are found by their flag and sent in id order: each id is the next
 * number on the wire (ids are given in order and every row is sent), or,
 * with reused ids, a dropped thread's, named with the row. */
static void encode_threads(struct profile *p, struct wbuf *w)
{
	uint32_t *order = NULL;
	size_t n = 0, cap = 0;
	if (!p->track_drops) {
		wbuf_u32(w, (uint32_t)(p->n_threads - p->written_threads));
		for (size_t i = p->written_threads; i < p->n_threads; i++)
			encode_thread(w, p, &p->threads[i]);
		return;
	}
	for (size_t i = 0; i < p->n_threads; i++)
		if (p->threads[i].id && !p->threads[i].written) {
			ARRAY_GROW(order, cap, n + 1);
			order[n++] = (uint32_t)i;
		}
	if (n > 1)
		qsort_r(order, n, sizeof(*order), cmp_thread_id, p);
	wbuf_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		encode_thread(w, p, &p->threads[order[i]]);
	free(order);
}

/* The ids of one table's rows a compaction kept, ascending. */
static void encode_kept(struct wbuf *w, const struct profile_id_map *m)
{
	uint32_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		n += m->ids[i] != 0;
	wbuf_u32(w, n);
	for (size_t i = 0; i < m->n; i++)
		if (m->ids[i])
			wbuf_u32(w, (uint32_t)i + 1);
}

void delta__encode(struct profile *p, struct wbuf *w, uint32_t caps, const struct profile_catalog_map *compacted)
{
	if (caps & PROTO_CAP_FORGET) {
		encode_drops(w, &p->dropped_threads);
		encode_drops(w, &p->dropped_samples);
		encode_drops(w, &p->dropped_timeline);
		if (caps & PROTO_CAP_COMPACT) {
			wbuf_u8(w, compacted != NULL);
			if (compacted) {
				encode_kept(w, &compacted->images);
				encode_kept(w, &compacted->symbols);
				encode_kept(w, &compacted->frames);
			}
		}
	}
	encode_threads(p, w);
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
	d->ncpus = 1;
	d->event_totals = xcalloc(n_events ? n_events : 1, sizeof(*d->event_totals));
	d->event_timeline_totals = xcalloc(n_events ? n_events : 1, sizeof(*d->event_timeline_totals));
	d->ns_unit = xcalloc(n_events ? n_events : 1, 1);
}

void delta_state__set_caps(struct delta_state *d, uint32_t caps)
{
	d->forget = (caps & PROTO_CAP_FORGET) != 0;
	d->thread_ids = d->forget && (caps & PROTO_CAP_THREAD_IDS);
	d->compact = d->forget && (caps & PROTO_CAP_COMPACT);
}

void delta_state__set_limits(struct delta_state *d, struct proto_budget *budget, uint32_t ncpus, uint64_t start_ns,
			     uint64_t host_start_ns, uint64_t bucket_ns, const struct event_spec *events)
{
	d->budget = budget;
	d->ncpus = ncpus ? ncpus : 1;
	d->start_ns = start_ns;
	d->host_start_ns = host_start_ns;
	d->bucket_ns = bucket_ns;
	for (uint32_t e = 0; events && e < d->n_events; e++)
		d->ns_unit[e] = events[e].unit == EVENT_UNIT_NS;
}

void delta_state__release(struct delta_state *d)
{
	free(d->threads);
	free(d->images);
	free(d->symbols);
	free(d->frames);
	free(d->samples);
	free(d->timeline);
	free(d->event_totals);
	free(d->event_timeline_totals);
	free(d->ns_unit);
	free(d->thread_comm);
	free(d->thread_refs);
	free(d->retired_threads);
	delta__held_release(&d->held_images);
	delta__held_release(&d->held_symbols);
	delta__held_release(&d->held_frames);
	delta__rotate_cancel(d);
	for (struct delta_retired *rt = &d->retired_samples; rt <= &d->retired_timeline; rt++) {
		free(rt->refs);
		free(rt->forgot);
		free(rt->slots);
	}
	memset(d, 0, sizeof(*d));
}

static bool valid_layer(uint8_t l) { return l == LAYER_GUEST_USER || l == LAYER_GUEST_KERNEL; }

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* What one frame adds, found by the checking pass. */
struct frame_sum {
	uint64_t cost;
	uint32_t *forgot_threads; /* the agent's thread ids this frame forgets */
	uint32_t n_forgot_threads;
	uint32_t *reused_threads; /* forgotten ids its thread rows name again */
	uint32_t n_reused_threads;
	size_t cap_reused_threads;
	struct delta_counter *samples, *timeline; /* per event: increments */
	int64_t last_bucket;                      /* the recording's last bucket so far */
	int64_t now_bucket;                       /* the host's clock now, as a bucket */
};

/* One counter row's index: a known one (named once per frame: 0), a
 * forgotten one's (a new counter in its place: 1), or exactly the next new
 * one (a new counter and a new index: 2). The previous totals in *old. */
static int check_index(struct delta_counter *known, size_t n_known, size_t *n_new, uint32_t idx, uint64_t frame,
		       struct delta_counter *old)
{
	if (idx < n_known) {
		if (known[idx].frame == frame)
			return -1;
		known[idx].frame = frame;
		if (!known[idx].live || known[idx].forget_frame == frame) {
			*old = (struct delta_counter){ 0 };
			return 1;
		}
		*old = known[idx];
		return 0;
	}
	if (idx != n_known + *n_new || idx >= MAX_ENTRIES)
		return -1;
	++*n_new;
	*old = (struct delta_counter){ 0 };
	return 2;
}

/* Totals grow, and the growth adds up without overflow. */
static bool add_growth(struct delta_counter *sum, const struct delta_counter *old, uint64_t count, uint64_t period)
{
	return count >= old->count && period >= old->period &&
	       !__builtin_add_overflow(sum->count, count - old->count, &sum->count) &&
	       !__builtin_add_overflow(sum->period, period - old->period, &sum->period);
}

/* A counter kind's new totals per event against what the guest's CPUs
 * could have counted by now_ns. */
static int check_totals(const struct delta_state *d, const struct delta_counter *totals,
			const struct delta_counter *growth, uint64_t now_ns, const char *what, char **ret_error)
{
	uint64_t elapsed = now_ns > d->start_ns ? now_ns - d->start_ns : 0;
	uint64_t cpu_ns = sat_mul(elapsed + SLACK_NS + elapsed / 64, d->ncpus);
	for (uint32_t e = 0; e < d->n_events; e++) {
		uint64_t count = 0, period = 0;
		uint64_t max_period = MIN(d->ns_unit[e] ? cpu_ns : sat_mul(cpu_ns, MAX_COUNT_PER_NS), (uint64_t)INT64_MAX);
		uint64_t max_count = cpu_ns / NS_PER_SAMPLE;
		if (__builtin_add_overflow(totals[e].count, growth[e].count, &count) ||
		    __builtin_add_overflow(totals[e].period, growth[e].period, &period) || count > max_count ||
		    period > max_period)
			return fail_with(ret_error, -ERANGE,
				    "%s of event %u would reach %llu samples and a period of %llu, more than %u CPU%s "
				    "can produce in %.1f s",
				    what, e + 1, (unsigned long long)count, (unsigned long long)period, d->ncpus,
				    d->ncpus == 1 ? "" : "s", (double)elapsed / 1e9);
	}
	return 0;
}

/* FORGET: the agent's thread ids whose threads exited, and the sample and
 * timeline counters it dropped (their totals final, sent before), each
 * list ascending; each names a live row. They apply before the rest of
 * the frame: a forgotten counter's index may name a new counter in it. */
static int check_forget_counters(struct delta_counter *known, size_t n_known, struct rbuf *r, uint64_t frame,
				 const struct frame_sum *sum, uint32_t *per_thread, const char *what, char **ret_error)
{
	uint32_t n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > n_known)
		return fail_with(ret_error, -EBADMSG, "forgets more %s counters than it has", what);
	for (uint32_t i = 0, prev = 0; i < n; i++) {
		uint32_t idx = rbuf_u32(r);
		if (!rbuf_ok(r) || idx >= n_known || (i && idx <= prev) || !known[idx].live)
			return fail_with(ret_error, -EBADMSG, "forgotten %s counter %u is not a live counter, or out of order",
					 what, idx);
		known[idx].forget_frame = frame;
		if (per_thread && known[idx].thread) {
			const uint32_t *t = sum->n_forgot_threads ? bsearch(&known[idx].thread, sum->forgot_threads,
									   sum->n_forgot_threads, sizeof(uint32_t), cmp_u32)
								 : NULL;
			if (t)
				per_thread[t - sum->forgot_threads]++;
		}
		prev = idx;
	}
	return 0;
}

static int check_forget(struct delta_state *d, struct rbuf *r, struct frame_sum *sum, char **ret_error)
{
	uint32_t n = rbuf_u32(r);
	int rc;
	if (!rbuf_ok(r) || n > d->n_threads || n > rbuf_left(r) / sizeof(uint32_t))
		return fail_with(ret_error, -EBADMSG, "forgets more threads than it has sent");
	sum->forgot_threads = xcalloc(n ? n : 1, sizeof(*sum->forgot_threads));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = rbuf_u32(r);
		if (!rbuf_ok(r) || id == 0 || id > d->n_threads || (i && id <= sum->forgot_threads[i - 1]) ||
		    !d->threads[id - 1])
			return fail_with(ret_error, -EBADMSG, "forgotten thread %u is not a live thread, or out of order", id);
		sum->forgot_threads[sum->n_forgot_threads++] = id;
	}
	{
		_cleanup_free_ uint32_t *per_thread = xcalloc(n ? n : 1, sizeof(*per_thread));
		if ((rc = check_forget_counters(d->samples, d->n_samples_known, r, d->frame, sum, per_thread, "sample",
						ret_error)) < 0)
			return rc;
		/* A thread goes with every live counter that names it: its host
		 * row leaves memory once written, and no entry may name it then. */
		for (uint32_t i = 0; i < n; i++)
			if (per_thread[i] != d->thread_refs[sum->forgot_threads[i] - 1])
				return fail_with(ret_error, -EBADMSG,
						 "forgotten thread %u is still named by %u live sample counter(s)",
						 sum->forgot_threads[i], d->thread_refs[sum->forgot_threads[i] - 1] - per_thread[i]);
	}
	return check_forget_counters(d->timeline, d->n_timeline_known, r, d->frame, NULL, NULL, "timeline", ret_error);
}

/* A sample may name a thread of an earlier frame only while it lives, or
 * a forgotten one's id that this frame's rows name again. */
static bool thread_live(const struct delta_state *d, const struct frame_sum *sum, uint32_t id)
{
	if (id == 0 || id > d->n_threads || has_u32(sum->reused_threads, sum->n_reused_threads, id))
		return true;
	return d->threads[id - 1] &&
	       !has_u32(sum->forgot_threads, sum->n_forgot_threads, id);
}

/* THREAD_IDS: a thread row's id is exactly the next new one, or a
 * forgotten thread's (in an earlier frame or this one's FORGET) not named
 * again yet; rows go in ascending id order, so each id once. */
static bool check_thread_id(const struct delta_state *d, struct frame_sum *sum, size_t *n_threads, uint32_t id,
			    uint32_t prev)
{
	if (id <= prev)
		return false;
	if (id == *n_threads + 1 && id <= MAX_ENTRIES) {
		++*n_threads;
		return true;
	}
	if (id == 0 || id > d->n_threads ||
	    (d->threads[id - 1] && !has_u32(sum->forgot_threads, sum->n_forgot_threads, id)))
		return false;
	ARRAY_GROW(sum->reused_threads, sum->cap_reused_threads, sum->n_reused_threads + 1);
	sum->reused_threads[sum->n_reused_threads++] = id;
	return true;
}

/* The catalog rows of the agent known so far, this frame's included: the
 * ids a later row may name. */
struct frame_rows {
	size_t threads, images, symbols, frames;
};

#define BAD(...) return fail_with(ret_error, -EBADMSG, __VA_ARGS__)

/* COMPACT: whether the agent renumbered its catalog to the rows it kept
 * (u8), and then which, per table: each list strictly ascending, of ids
 * it has (sent and not let go since). The frame's new rows number on
 * from them. */
static int check_compact(struct rbuf *r, struct frame_rows *rows, char **ret_error)
{
	static const char *const what[] = { "image", "symbol", "stack frame" };
	size_t *known[] = { &rows->images, &rows->symbols, &rows->frames };
	uint8_t flag = rbuf_u8(r);
	if (!rbuf_ok(r) || flag > 1)
		BAD("the compaction flag is malformed");
	for (size_t t = 0; flag && t < ARRAY_SIZE(known); t++) {
		uint32_t n = rbuf_u32(r);
		if (!rbuf_ok(r) || n > *known[t] || n > rbuf_left(r) / sizeof(uint32_t))
			BAD("keeps more %s rows than it has", what[t]);
		for (uint32_t i = 0, prev = 0; i < n; i++) {
			uint32_t id = rbuf_u32(r);
			if (!rbuf_ok(r) || id <= prev || id > *known[t])
				BAD("kept %s %u is not a row it has, or out of order", what[t], id);
			prev = id;
		}
		*known[t] = n;
	}
	return 0;
}

/* The catalog part of a frame: threads, images, symbols, stack frames,
 * each naming only rows sent before it. */
static int check_catalog(const struct delta_state *d, struct rbuf *r, struct frame_rows *rows, struct frame_sum *sum,
			 char **ret_error)
{
	size_t slen;
	uint32_t n = rbuf_u32(r);
	if (!rbuf_ok(r) || (d->thread_ids ? n > rbuf_left(r) / 12 : n > MAX_ENTRIES - rows->threads))
		BAD("too many threads");
	for (uint32_t i = 0, prev = 0; i < n; i++) {
		uint32_t id = d->thread_ids ? rbuf_u32(r) : 0;
		uint32_t reused = sum->n_reused_threads;
		rbuf_u32(r);
		rbuf_u32(r);
		rbuf_str_view(r, MAX_COMM, &slen);
		if (!rbuf_ok(r))
			BAD("thread %u is malformed", i);
		if (d->thread_ids && !check_thread_id(d, sum, &rows->threads, id, prev))
			BAD("thread row %u names id %u: neither the next new id (%zu) nor a forgotten thread's, or out of "
			    "order", i, id, rows->threads + 1);
		prev = id;
		/* A forgotten id named again keeps its translation slot. */
		sum->cost += THREAD_COST(slen) - (sum->n_reused_threads > reused ? THREAD_KEPT : 0);
	}
	if (!d->thread_ids)
		rows->threads += n;
	n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > MAX_ENTRIES - rows->images)
		BAD("too many images");
	for (uint32_t i = 0; i < n; i++) {
		size_t blen;
		rbuf_str_view(r, MAX_STRING, &slen);
		rbuf_str_view(r, MAX_BUILD_ID, &blen);
		if (rbuf_u8(r) >= IMAGE__COUNT || !rbuf_ok(r))
			BAD("image %u is malformed", i);
		sum->cost += CATALOG_COST(struct profile_image) + STRING_COST(slen);
	}
	rows->images += n;
	n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > MAX_ENTRIES - rows->symbols)
		BAD("too many symbols");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t image = rbuf_u32(r);
		rbuf_str_view(r, MAX_STRING, &slen);
		rbuf_u64(r);
		rbuf_u64(r);
		if (!rbuf_ok(r) || image == 0 || image > rows->images)
			BAD("symbol %u is malformed or names no image sent", i);
		sum->cost += CATALOG_COST(struct profile_symbol) + STRING_COST(slen);
	}
	rows->symbols += n;
	n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > MAX_ENTRIES - rows->frames)
		BAD("too many stack frames");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t parent = rbuf_u32(r), image = rbuf_u32(r), symbol = rbuf_u32(r);
		rbuf_u64(r);
		/* A parent is a frame sent before this one. */
		if (!rbuf_ok(r) || parent > rows->frames + i || image > rows->images || symbol > rows->symbols)
			BAD("stack frame %u is malformed or names a row not sent", i);
		sum->cost += CATALOG_COST(struct profile_frame);
	}
	rows->frames += n;
	return 0;
}

/* The sample counters: each names rows sent, is known or the next new
 * one, keeps its event and layer, and its totals only grow. */
static int check_samples(struct delta_state *d, const struct profile *host, struct rbuf *r,
			 const struct frame_rows *rows, struct frame_sum *sum, char **ret_error)
{
	size_t new_samples = 0;
	uint32_t n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > MAX_ENTRIES)
		BAD("too many sample counters");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = rbuf_u32(r), event = rbuf_u32(r);
		uint8_t layer = rbuf_u8(r);
		uint32_t thread = rbuf_u32(r), image = rbuf_u32(r), symbol = rbuf_u32(r);
		uint64_t count, period;
		uint32_t stack;
		struct delta_counter old;
		int rc;
		rbuf_u64(r);
		stack = rbuf_u32(r);
		count = rbuf_u64(r);
		period = rbuf_u64(r);
		if (!rbuf_ok(r) || event == 0 || event > d->n_events || !valid_layer(layer) || thread > rows->threads ||
		    image > rows->images || symbol > rows->symbols || stack > rows->frames)
			BAD("sample counter %u is malformed or names a row not sent", idx);
		if (!thread_live(d, sum, thread))
			BAD("sample counter %u names forgotten thread %u", idx, thread);
		rc = check_index(d->samples, d->n_samples_known, &new_samples, idx, d->frame, &old);
		if (rc < 0)
			BAD("sample counter %u is out of sequence or given twice", idx);
		if (rc > 0)
			sum->cost += COUNTER_COST(struct sample_entry) + (rc == 2 ? INDEX_KEPT : 0);
		else if (host->samples[old.host].key.event != event || host->samples[old.host].key.layer != layer)
			BAD("sample counter %u changed its event or layer", idx);
		else if (thread != old.thread)
			BAD("sample counter %u names thread %u, not its own %u", idx, thread, old.thread);
		if (!add_growth(&sum->samples[event - 1], &old, count, period))
			return fail_with(ret_error, -ERANGE, "the running totals of sample counter %u went down or overflow", idx);
	}
	return 0;
}

/* The timeline counters: the same rules, and every bucket between the
 * recording's start and the host's clock now, give or take slack buckets
 * (apply_frame counts it in the nearest bucket of the recording). */
static int check_timeline(struct delta_state *d, const struct profile *host, struct rbuf *r, int64_t slack,
			  struct frame_sum *sum, char **ret_error)
{
	size_t new_timeline = 0;
	uint32_t n = rbuf_u32(r);
	if (!rbuf_ok(r) || n > MAX_ENTRIES)
		BAD("too many timeline counters");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = rbuf_u32(r), event = rbuf_u32(r);
		uint8_t layer = rbuf_u8(r);
		uint32_t bucket = rbuf_u32(r);
		uint64_t count = rbuf_u64(r), period = rbuf_u64(r);
		int64_t hb = (int64_t)bucket + d->bucket_shift;
		struct delta_counter old;
		int rc;
		if (!rbuf_ok(r) || event == 0 || event > d->n_events || !valid_layer(layer))
			BAD("timeline counter %u is malformed", idx);
		rc = check_index(d->timeline, d->n_timeline_known, &new_timeline, idx, d->frame, &old);
		if (rc < 0)
			BAD("timeline counter %u is out of sequence or given twice", idx);
		if (rc > 0)
			sum->cost += COUNTER_COST(struct timeline_entry) + (rc == 2 ? INDEX_KEPT : 0);
		else if (host->timeline[old.host].key.event != event || host->timeline[old.host].key.layer != layer)
			BAD("timeline counter %u changed its event or layer", idx);
		if (d->bucket_ns && (hb < -slack || hb > sum->now_bucket + slack))
			return fail_with(ret_error, -ERANGE,
				    "timeline bucket %u (host bucket %lld) lies outside the recording (its buckets 0..%lld, "
				    "the host's clock at bucket %lld)",
				    bucket, (long long)hb, (long long)sum->last_bucket, (long long)sum->now_bucket);
		if (!add_growth(&sum->timeline[event - 1], &old, count, period))
			return fail_with(ret_error, -ERANGE, "the running totals of timeline counter %u went down or overflow", idx);
	}
	return 0;
}

/* The checking pass: reads the whole frame, keeps nothing but the
 * per-frame marks of counter indices, adds up its cost and growth. */
static int check_frame(struct delta_state *d, const struct profile *host, const void *data, size_t len,
		       uint64_t now_ns, struct frame_sum *sum, char **ret_error)
{
	struct frame_rows rows = { d->n_threads, d->n_images, d->n_symbols, d->n_frames };
	uint64_t end = d->stop_ns ? MIN(d->stop_ns, now_ns) : now_ns;
	int64_t slack = d->bucket_ns ? (int64_t)(BUCKET_SLACK_NS / d->bucket_ns) : 0;
	struct rbuf r;
	int rc;

	/* Once stopped, the bucket of the recording's last nanosecond: a
	 * recording of whole buckets has no bucket starting at its end. */
	if (d->stop_ns && d->stop_ns <= now_ns && end > 0)
		end--;
	sum->last_bucket = d->bucket_ns && end > d->host_start_ns ? (int64_t)((end - d->host_start_ns) / d->bucket_ns) : 0;
	sum->now_bucket = d->bucket_ns && now_ns > d->host_start_ns ? (int64_t)((now_ns - d->host_start_ns) / d->bucket_ns) : 0;
	d->frame++;
	rbuf_init(&r, data, len);
	if ((d->forget && (rc = check_forget(d, &r, sum, ret_error)) < 0) ||
	    (d->compact && (rc = check_compact(&r, &rows, ret_error)) < 0) ||
	    (rc = check_catalog(d, &r, &rows, sum, ret_error)) < 0 ||
	    (rc = check_samples(d, host, &r, &rows, sum, ret_error)) < 0 ||
	    (rc = check_timeline(d, host, &r, slack, sum, ret_error)) < 0)
		return rc;
	if (!rbuf_ok(&r) || rbuf_left(&r))
		BAD("%zu bytes after the last row", rbuf_left(&r));
	rc = check_totals(d, d->event_totals, sum->samples, now_ns, "the samples", ret_error);
	if (rc == 0)
		rc = check_totals(d, d->event_timeline_totals, sum->timeline, now_ns, "the timeline", ret_error);
	if (rc < 0)
		return rc;
	if (!proto_budget__charge(d->budget, sum->cost))
		return fail_with(ret_error, -ENOBUFS,
			    "keeping this frame (%llu bytes) would pass the agent's memory budget (%llu of %llu MiB held)",
			    (unsigned long long)sum->cost, (unsigned long long)(d->budget->used >> 20),
			    (unsigned long long)(d->budget->limit >> 20));
	return 0;
}

#undef BAD

static char *take_text(struct rbuf *r, size_t max)
{
	size_t len;
	const char *s = rbuf_str_view(r, max, &len);
	return text_sanitize(xstrndup(s ? s : "", s ? len : 0));
}

static void push(uint32_t **table, size_t *n, size_t *cap, uint32_t v)
{
	ARRAY_GROW(*table, *cap, *n + 1);
	(*table)[(*n)++] = v;
}

/* A catalog row of the agent, charged cost by check_catalog, found or
 * made as host row id: its translation; the row's charge comes back when
 * the agent holds that host row already. */
static void add_row(struct delta_state *d, struct delta_held *held, uint32_t **table, size_t *n, size_t *cap,
		    uint32_t id, uint64_t cost)
{
	push(table, n, cap, id);
	if (!delta__hold(held, id, cost - MAP_COST))
		proto_budget__refund(d->budget, cost - MAP_COST);
}

/* Translate an agent id (1-based, 0 = none): checked by check_frame. */
static uint32_t host_id(const uint32_t *table, uint32_t id) { return id ? table[id - 1] : 0; }

/* A counter index checked by check_frame: its slot, made when new, with
 * totals from zero (a forgotten one's slot keeps the frame marks). */
static struct delta_counter *counter(struct delta_counter **table, size_t *cap, size_t *n_known, uint32_t idx)
{
	if (idx >= *n_known) {
		ARRAY_GROW(*table, *cap, (size_t)idx + 1);
		(*table)[idx] = (struct delta_counter){ 0 };
		*n_known = (size_t)idx + 1;
	}
	(*table)[idx].count = (*table)[idx].period = 0;
	return &(*table)[idx];
}

/* The applying pass, over a frame check_frame accepted: cannot fail. */
static void apply_frame(struct delta_state *d, struct profile *host, const void *data, size_t len,
			int64_t last_bucket)
{
	struct rbuf r;
	uint32_t n;
	rbuf_init(&r, data, len);
	if (d->forget)
		delta__apply_forget(d, &r);
	if (d->compact)
		delta__apply_compact(d, &r);
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = d->thread_ids ? rbuf_u32(&r) : (uint32_t)d->n_threads + 1;
		uint32_t pid = rbuf_u32(&r), tid = rbuf_u32(&r);
		size_t slen;
		const char *raw = rbuf_str_view(&r, MAX_COMM, &slen);
		_cleanup_free_ char *comm = text_sanitize(xstrndup(raw ? raw : "", raw ? slen : 0));
		uint32_t row = profile__thread(host, d->domain, pid, tid, comm, ROLE_GUEST, -1);
		if (id > d->n_threads)
			push(&d->threads, &d->n_threads, &d->cap_threads, row);
		else /* a forgotten thread's id (check_frame) */
			d->threads[id - 1] = row;
		/* What check_catalog charged for it, given back when forgotten. */
		ARRAY_GROW(d->thread_comm, d->cap_thread_comm, d->n_threads);
		d->thread_comm[id - 1] = (uint8_t)(raw ? slen : 0);
		ARRAY_GROW(d->thread_refs, d->cap_thread_refs, d->n_threads);
		d->thread_refs[id - 1] = 0; /* a forgotten thread's were 0 (check_forget) */
	}
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		size_t slen;
		const char *raw = rbuf_str_view(&r, MAX_STRING, &slen);
		_cleanup_free_ char *path = text_sanitize(xstrndup(raw ? raw : "", raw ? slen : 0));
		_cleanup_free_ char *build_id = take_text(&r, MAX_BUILD_ID);
		uint8_t kind = rbuf_u8(&r);
		/* The guest's kernel and modules are its own: never the host's,
		 * whose code the host may read (docs/security.md, rule 1). */
		if (kind == IMAGE_KERNEL || kind == IMAGE_MODULE)
			kind = IMAGE_GUEST_KERNEL;
		add_row(d, &d->held_images, &d->images, &d->n_images, &d->cap_images,
			profile__image(host, d->domain, path, *build_id ? build_id : NULL, (enum image_kind)kind),
			CATALOG_COST(struct profile_image) + STRING_COST(raw ? slen : 0));
	}
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t image = host_id(d->images, rbuf_u32(&r));
		size_t slen;
		const char *raw = rbuf_str_view(&r, MAX_STRING, &slen);
		_cleanup_free_ char *name = text_sanitize(xstrndup(raw ? raw : "", raw ? slen : 0));
		uint64_t address = rbuf_u64(&r), size = rbuf_u64(&r);
		add_row(d, &d->held_symbols, &d->symbols, &d->n_symbols, &d->cap_symbols,
			profile__symbol(host, image, name, address, size),
			CATALOG_COST(struct profile_symbol) + STRING_COST(raw ? slen : 0));
	}
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t parent = host_id(d->frames, rbuf_u32(&r));
		uint32_t image = host_id(d->images, rbuf_u32(&r));
		uint32_t symbol = host_id(d->symbols, rbuf_u32(&r));
		uint64_t address = rbuf_u64(&r);
		add_row(d, &d->held_frames, &d->frames, &d->n_frames, &d->cap_frames,
			profile__frame(host, parent, image, symbol, address), CATALOG_COST(struct profile_frame));
	}
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = rbuf_u32(&r);
		struct sample_key k = { .domain = d->domain, .origin = ORIGIN_AGENT };
		struct delta_counter *c;
		uint64_t count, period;
		uint32_t thread;
		k.event = rbuf_u32(&r);
		k.layer = rbuf_u8(&r);
		thread = rbuf_u32(&r);
		k.thread = host_id(d->threads, thread);
		k.image = host_id(d->images, rbuf_u32(&r));
		k.symbol = host_id(d->symbols, rbuf_u32(&r));
		k.address = rbuf_u64(&r);
		k.stack = host_id(d->frames, rbuf_u32(&r));
		count = rbuf_u64(&r);
		period = rbuf_u64(&r);
		if (idx >= d->n_samples_known || !d->samples[idx].live) {
			c = counter(&d->samples, &d->cap_samples, &d->n_samples_known, idx);
			c->host = profile__add_sample(host, &k, count, period);
			c->live = true;
			c->thread = thread;
			if (thread)
				d->thread_refs[thread - 1]++;
			delta__retired_ref(d, &d->retired_samples, c->host, COUNTER_COST(struct sample_entry));
		} else {
			c = &d->samples[idx];
			if (count > c->count || period > c->period)
				profile__bump_sample(host, c->host, count - c->count, period - c->period);
		}
		d->event_totals[k.event - 1].count += count - c->count;
		d->event_totals[k.event - 1].period += period - c->period;
		d->samples_received += count - c->count;
		c->count = count;
		c->period = period;
	}
	n = rbuf_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = rbuf_u32(&r), event = rbuf_u32(&r);
		uint8_t layer = rbuf_u8(&r);
		int64_t hb = (int64_t)rbuf_u32(&r) + d->bucket_shift;
		uint64_t count = rbuf_u64(&r), period = rbuf_u64(&r);
		struct timeline_key tk = { .event = event, .domain = d->domain, .layer = layer, .origin = ORIGIN_AGENT };
		struct delta_counter *c;
		/* Within the recording: what check_frame let through at its edges
		 * is counted in the nearest bucket. */
		if (d->bucket_ns)
			hb = hb < 0 ? 0 : MIN(hb, last_bucket);
		/* In the current session's buckets (rotation): one before its
		 * start is counted in its first. */
		tk.bucket = (uint32_t)MAX(hb - d->bucket_base, 0);
		if (idx >= d->n_timeline_known || !d->timeline[idx].live) {
			c = counter(&d->timeline, &d->cap_timeline, &d->n_timeline_known, idx);
			c->host = profile__add_timeline(host, &tk, count, period);
			c->live = true;
			delta__retired_ref(d, &d->retired_timeline, c->host, COUNTER_COST(struct timeline_entry));
		} else {
			c = &d->timeline[idx];
			if (count > c->count || period > c->period)
				profile__bump_timeline(host, c->host, count - c->count, period - c->period);
		}
		d->event_timeline_totals[event - 1].count += count - c->count;
		d->event_timeline_totals[event - 1].period += period - c->period;
		c->count = count;
		c->period = period;
	}
}

int delta__apply(struct delta_state *d, struct profile *host, const void *data, size_t len, uint64_t now_ns,
		 char **ret_error)
{
	struct frame_sum sum = { 0 };
	int r;
	sum.samples = xcalloc(d->n_events ? d->n_events : 1, sizeof(*sum.samples));
	sum.timeline = xcalloc(d->n_events ? d->n_events : 1, sizeof(*sum.timeline));
	r = check_frame(d, host, data, len, now_ns, &sum, ret_error);
	if (r == 0)
		apply_frame(d, host, data, len, sum.last_bucket);
	free(sum.samples);
	free(sum.timeline);
	free(sum.forgot_threads);
	free(sum.reused_threads);
	return r;
}

/* The perf.data reader's walk of the data section: every record is
 * checked against the section, perf's own records are consumed, and
 * kernel records are delivered to the callback in time order. See
 * perfdata-internal.h.
 *
 * Ordering. perf writes each CPU's ring buffer in turn, so records are in
 * time order per CPU but not across CPUs. Like perf's ordered-events
 * queue we hold records back and deliver them sorted by time, releasing at
 * each FINISHED_ROUND only what is older than the newest record of the
 * round before: perf empties every ring in each round, so nothing that
 * arrives later can be older than that. Sorting the whole data section at
 * once would be simpler but needs memory for every record (and, for
 * compressed captures, every decompressed byte); the rounds keep memory to
 * about two rounds of records, and when a capture has no rounds at all
 * (or they grow too large) the older half of the queue is released as perf
 * does. Records without a time stamp (no PERF_SAMPLE_TIME, or time 0 for
 * records perf synthesized at start) are delivered at once, as perf does.
 * Records waiting their turn are pointers into the mapping, except those
 * that came out of compressed batches: they are copied into an arena. A
 * misaligned record is copied to an aligned bounce buffer before the
 * callback sees it. */
#define _GNU_SOURCE
#include <errno.h>

#include "perfdata-internal.h"

/* ---- ordering and delivery ---- */

static int attr_of_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	size_t n = (h->size - sizeof(*h)) / 8;
	uint64_t id;
	int a;
	/* perf takes every record of a one-event file as that event's. We
	 * do too, except for samples whose id the event does not declare:
	 * those come from a corrupt file, not from this event. */
	if (d->n_attrs == 1 && (h->type != PERF_RECORD_SAMPLE || d->id_pos < 0 || !d->attrs[0].n_ids))
		return 0;
	if (h->type == PERF_RECORD_SAMPLE) {
		if ((size_t)d->id_pos >= n)
			return -1;
		id = rd64(p + 8 + (size_t)d->id_pos * 8);
	} else {
		if (!d->attrs[0].attr.sample_id_all)
			return 0;
		if ((size_t)d->is_pos > n)
			return -1;
		id = rd64(p + 8 + (n - (size_t)d->is_pos) * 8);
	}
	if (!id)
		return 0; /* records perf synthesized carry id 0 */
	a = perf_data__attr_of_id(d, id);
	return a;
}

/* The record's time stamp, 0 when it has none. */
static uint64_t record_time(const struct perf_data *d, const unsigned char *p, const struct perf_event_header *h,
			    size_t attr)
{
	const struct perf_event_attr *a = &d->attrs[attr].attr;
	uint64_t st = a->sample_type;
	size_t off;
	if (!(st & PERF_SAMPLE_TIME))
		return 0;
	if (h->type == PERF_RECORD_SAMPLE) {
		off = 8 + 8 * (!!(st & PERF_SAMPLE_IDENTIFIER) + !!(st & PERF_SAMPLE_IP) + !!(st & PERF_SAMPLE_TID));
	} else {
		size_t trailer = 8 * (!!(st & PERF_SAMPLE_TID) + !!(st & PERF_SAMPLE_TIME) + !!(st & PERF_SAMPLE_ID) +
				      !!(st & PERF_SAMPLE_STREAM_ID) + !!(st & PERF_SAMPLE_CPU) +
				      !!(st & PERF_SAMPLE_IDENTIFIER));
		if (!a->sample_id_all || h->size < 8 + trailer)
			return 0;
		off = h->size - trailer + 8 * !!(st & PERF_SAMPLE_TID);
	}
	if (h->size < off + 8)
		return 0;
	return rd64(p + off);
}

static void deliver(struct perf_data *d, const unsigned char *p, uint32_t attr, uint64_t time)
{
	const struct perf_event_header *h = (const struct perf_event_header *)p;
	if ((uintptr_t)p & 7) {
		struct perf_event_header hh;
		rd_header(p, &hh);
		if (!d->bounce)
			d->bounce = xmalloc(MAX_RECORD_SIZE);
		memcpy(d->bounce, p, hh.size);
		h = (const struct perf_event_header *)d->bounce;
	}
	if (time) {
		if (time < d->last_time)
			d->stats.unordered++;
		else
			d->last_time = time;
	}
	d->stats.delivered++;
	d->fn(h, attr, d->ctx);
}

/* Sort the queue by time, stably (equal times keep the file's order).
 * A natural merge sort: each CPU's records arrive in time order, so the
 * queue is a few ascending runs (the previous round's leftover is one)
 * and merging them costs a pass per doubling, not n log n comparisons. */
static void sort_queue(struct perf_data *d)
{
	struct queued *src = d->queue, *dst;
	size_t n = d->n_queue, n_runs = 0;

	for (size_t i = 0; i < n; i++)
		if (i == 0 || src[i].time < src[i - 1].time) {
			ARRAY_GROW(d->runs, d->cap_runs, n_runs + 2);
			d->runs[n_runs++] = i;
		}
	if (n_runs <= 1)
		return;
	d->runs[n_runs] = n;
	ARRAY_GROW(d->sort_tmp, d->cap_sort_tmp, n);
	dst = d->sort_tmp;
	while (n_runs > 1) {
		size_t merged = 0;
		for (size_t r = 0; r < n_runs; r += 2) {
			size_t lo = d->runs[r], mid = d->runs[r + 1], hi = r + 2 <= n_runs ? d->runs[r + 2] : mid;
			size_t i = lo, j = mid, k = lo;
			if (r + 1 == n_runs) {
				memcpy(dst + lo, src + lo, (mid - lo) * sizeof(*src)); /* odd run out */
				d->runs[merged++] = lo;
				continue;
			}
			while (i < mid && j < hi)
				dst[k++] = src[j].time < src[i].time ? src[j++] : src[i++];
			memcpy(dst + k, src + i, (mid - i) * sizeof(*src));
			k += mid - i;
			memcpy(dst + k, src + j, (hi - j) * sizeof(*src));
			d->runs[merged++] = lo;
		}
		d->runs[merged] = n;
		n_runs = merged;
		{
			struct queued *t = src;
			src = dst;
			dst = t;
		}
	}
	if (src != d->queue)
		memcpy(d->queue, src, n * sizeof(*src));
}

static const unsigned char *queued_record(const struct perf_data *d, const struct queued *q)
{
	return q->in_arena ? d->arena + q->loc : (const unsigned char *)q->loc;
}

/* Deliver, in time order, every queued record not newer than limit. */
static void flush_until(struct perf_data *d, uint64_t limit)
{
	size_t k = 0, keep, len = 0, spare_cap;
	unsigned char *spare;

	if (!d->n_queue)
		return;
	sort_queue(d);
	while (k < d->n_queue && d->queue[k].time <= limit) {
		deliver(d, queued_record(d, &d->queue[k]), d->queue[k].attr, d->queue[k].time);
		k++;
	}
	keep = d->n_queue - k;
	memmove(d->queue, d->queue + k, keep * sizeof(*d->queue));
	d->n_queue = keep;
	if (!d->arena_len)
		return;
	/* Compact the arena: the records still waiting move to the spare,
	 * which becomes the arena. */
	for (size_t i = 0; i < keep; i++) {
		struct queued *q = &d->queue[i];
		struct perf_event_header h;
		if (!q->in_arena)
			continue;
		rd_header(d->arena + q->loc, &h);
		if (d->arena_spare_cap < len + h.size) {
			d->arena_spare_cap = MAX(d->arena_spare_cap * 2, len + h.size + DECOMPRESS_STEP);
			d->arena_spare = xrealloc(d->arena_spare, d->arena_spare_cap);
		}
		memcpy(d->arena_spare + len, d->arena + q->loc, h.size);
		q->loc = len;
		len += (h.size + 7u) & ~7u;
	}
	spare = d->arena;
	spare_cap = d->arena_cap;
	d->arena = d->arena_spare;
	d->arena_cap = d->arena_spare_cap;
	d->arena_spare = spare;
	d->arena_spare_cap = spare_cap;
	d->arena_len = len;
}

/* The queue grew past its limits (no rounds, or huge ones): release the
 * older half by time, as perf's ordered events do. */
static void flush_half(struct perf_data *d)
{
	uint64_t first, last, limit;
	sort_queue(d);
	first = d->queue[0].time;
	last = d->queue[d->n_queue - 1].time;
	limit = first + (last - first) / 2;
	flush_until(d, limit);
}

static void queue_record(struct perf_data *d, const unsigned char *p, uint16_t size, uint32_t attr, uint64_t time,
			 bool copy)
{
	struct queued *q;
	ARRAY_GROW(d->queue, d->cap_queue, d->n_queue + 1);
	q = &d->queue[d->n_queue++];
	q->time = time;
	q->attr = attr;
	q->in_arena = copy;
	if (copy) {
		size_t at = d->arena_len;
		if (d->arena_cap < at + size) {
			d->arena_cap = MAX(d->arena_cap * 2, at + size + DECOMPRESS_STEP);
			d->arena = xrealloc(d->arena, d->arena_cap);
		}
		memcpy(d->arena + at, p, size);
		q->loc = at;
		d->arena_len = at + ((size + 7u) & ~7u);
	} else {
		q->loc = (uintptr_t)p;
	}
	if (time > d->max_time)
		d->max_time = time;
	if (d->n_queue >= QUEUE_LIMIT || d->arena_len >= ARENA_LIMIT)
		flush_half(d);
}

/* A kernel record: find its event, then deliver it now or queue it.
 * copy: p is in a buffer that will be reused (decompressed data). */
static void kernel_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h, bool copy)
{
	int attr;
	uint64_t time;
	if (h->type == 0 || h->type > KERNEL_RECORD_MAX) {
		d->stats.unknown_records++;
		return;
	}
	attr = attr_of_record(d, p, h);
	if (attr < 0) {
		if (h->type == PERF_RECORD_SAMPLE) {
			d->stats.unmatched++;
			return;
		}
		attr = 0; /* side-band of an unknown id: its layout is the common one */
	}
	time = record_time(d, p, h, (size_t)attr);
	if (!time)
		deliver(d, p, (uint32_t)attr, 0);
	else
		queue_record(d, p, h->size, (uint32_t)attr, time, copy);
}

/* One record of the stream, top (from the file) or inner (decompressed). */
int perf_data__dispatch(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h, bool top,
		    uint64_t offset)
{
	d->stats.records++;
	if (h->type < PERF_DATA_RECORD_TYPES)
		d->stats.by_type[h->type]++;
	if (h->type < PERF_RECORD_HEADER_ATTR) {
		kernel_record(d, p, h, !top);
		return 0;
	}
	switch (h->type) {
	case PERF_RECORD_HEADER_ATTR:
		/* A pipe's attributes were collected by scan_pipe; ones that
		 * come later cannot join the events already set up. */
		if (!(top && d->info.pipe))
			d->stats.ignored_attrs++;
		return 0;
	case PERF_RECORD_HEADER_FEATURE:
	case PERF_RECORD_EVENT_UPDATE:
	case PERF_RECORD_HEADER_BUILD_ID:
		/* A pipe's own were taken by perf_data__scan_pipe. */
		if (!(top && d->info.pipe))
			perf_data__describing_record(d, p, h);
		return 0;
	case PERF_RECORD_ID_INDEX:
		perf_data__id_index_record(d, p, h);
		return 0;
	case PERF_RECORD_FINISHED_ROUND:
		flush_until(d, d->next_flush);
		d->next_flush = d->max_time;
		d->stats.rounds++;
		return 0;
	case PERF_RECORD_COMPRESSED:
	case PERF_RECORD_COMPRESSED2:
		if (!top) {
			d->stats.unknown_records++; /* perf never nests them */
			return 0;
		}
		return perf_data__compressed_record(d, p, h, offset);
	case PERF_RECORD_HEADER_EVENT_TYPE:
	case PERF_RECORD_HEADER_TRACING_DATA:
	case PERF_RECORD_AUXTRACE_INFO:
	case PERF_RECORD_AUXTRACE:
	case PERF_RECORD_AUXTRACE_ERROR:
	case PERF_RECORD_THREAD_MAP:
	case PERF_RECORD_CPU_MAP:
	case PERF_RECORD_STAT_CONFIG:
	case PERF_RECORD_STAT:
	case PERF_RECORD_STAT_ROUND:
	case PERF_RECORD_TIME_CONV:
	case PERF_RECORD_FINISHED_INIT:
		return 0; /* nothing a profile needs; payloads skipped by the walker */
	default:
		d->stats.unknown_records++;
		return 0;
	}
}

static int walk_data(struct perf_data *d)
{
	size_t pos = d->info.data_offset, end = d->info.data_offset + d->info.data_size;
	bool open_ended = d->info.pipe || d->info.data_size_unknown;
	while (pos < end) {
		struct perf_event_header h;
		const unsigned char *p = d->map + pos;
		uint64_t extra;
		if (end - pos < sizeof(h)) {
			if (open_ended)
				goto tail;
			return perf_data__fail(d, -EBADMSG, "corrupt: %zu stray bytes at the end of the data section (offset %zu)",
				    end - pos, pos);
		}
		rd_header(p, &h);
		if (h.size < sizeof(h))
			return perf_data__fail(d, -EBADMSG, "corrupt: the record at offset %zu has size %u (type %u)", pos, h.size,
				    h.type);
		if (h.size > end - pos) {
			if (open_ended)
				goto tail;
			return perf_data__fail(d, -EBADMSG,
				    "corrupt or truncated: the record at offset %zu (type %u, %u bytes) runs past the end "
				    "of the data section (offset %zu)",
				    pos, h.type, h.size, end);
		}
		extra = perf_data__payload_size(p, &h);
		if (extra > end - pos - h.size) {
			if (open_ended)
				goto tail;
			return perf_data__fail(d, -EBADMSG,
				    "corrupt or truncated: the %llu bytes that follow the record at offset %zu (type %u) "
				    "run past the end of the data section",
				    (unsigned long long)extra, pos, h.type);
		}
		if (perf_data__dispatch(d, p, &h, true, pos) < 0)
			return -EBADMSG;
		pos += h.size + (size_t)extra;
	}
	return 0;
tail:
	d->stats.truncated_tail = true;
	return 0;
}

int perf_data__read(struct perf_data *d, perf_data_record_fn fn, void *ctx, char **ret_error)
{
	int r;
	d->fn = fn;
	d->ctx = ctx;
	d->next_flush = d->max_time = d->last_time = 0;
	r = walk_data(d);
	/* What was read before an error still counts: deliver it. */
	flush_until(d, UINT64_MAX);
	if (r == 0 && (d->inner_len || d->inner_skip))
		perf_data__warn(d, "the compressed data ends inside a record; its last %zu bytes were dropped", d->inner_len);
	d->inner_len = 0;
	d->inner_skip = 0;
	if (r < 0) {
		*ret_error = d->error ? d->error : xstrdup(strerror(-r));
		d->error = NULL;
	}
	return r;
}

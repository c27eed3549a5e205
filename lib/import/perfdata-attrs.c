/* The perf.data reader's events: the attributes of a capture with their
 * sample ids (an id says which event a record belongs to), the checks
 * that make records attributable, and the records of the stream that
 * describe events and the capture (HEADER_ATTR, EVENT_UPDATE, ID_INDEX,
 * HEADER_FEATURE, HEADER_BUILD_ID), which a pipe capture carries instead
 * of a header. See perfdata-internal.h. */
#define _GNU_SOURCE
#include <errno.h>

#include "perfdata-internal.h"

/* ---- attributes and ids ---- */

static void add_id(struct perf_data *d, uint64_t id, uint32_t attr)
{
	uint64_t h = hash_u64(id);
	size_t pos = hmap_first(&d->id_index, h);
	uint32_t idx;
	while (hmap_candidate(&d->id_index, pos, h, &idx)) {
		if (idx != UINT32_MAX && d->ids[idx].id == id)
			return; /* the first attribute to claim an id keeps it */
		pos = hmap_next(&d->id_index, pos);
	}
	ARRAY_GROW(d->ids, d->cap_ids, d->n_ids + 1);
	d->ids[d->n_ids] = (struct id_entry){ id, attr };
	hmap_insert_at(&d->id_index, pos, h, (uint32_t)d->n_ids);
	d->n_ids++;
}

int perf_data__attr_of_id(const struct perf_data *d, uint64_t id)
{
	uint64_t h = hash_u64(id);
	size_t pos = hmap_first(&d->id_index, h);
	uint32_t idx;
	while (hmap_candidate(&d->id_index, pos, h, &idx)) {
		if (idx != UINT32_MAX && d->ids[idx].id == id)
			return (int)d->ids[idx].attr;
		pos = hmap_next(&d->id_index, pos);
	}
	return -1;
}

/* Copy an attribute of the writer's size into ours. 0 or -EBADMSG. */
int perf_data__add_attr(struct perf_data *d, const unsigned char *raw, size_t avail, const unsigned char *ids,
		    size_t n_ids)
{
	struct perf_data_attr *a;
	uint32_t own = rd32(raw + 4);
	if (own == 0)
		own = ATTR_SIZE_VER0;
	if (own < ATTR_SIZE_VER0)
		return -EBADMSG;
	ARRAY_GROW(d->attrs, d->cap_attrs, d->n_attrs + 1);
	a = &d->attrs[d->n_attrs];
	memset(a, 0, sizeof(*a));
	memcpy(&a->attr, raw, MIN(MIN((size_t)own, avail), sizeof(a->attr)));
	a->attr.size = sizeof(a->attr);
	a->n_ids = n_ids;
	a->ids = xmalloc((n_ids ? n_ids : 1) * sizeof(*a->ids));
	for (size_t i = 0; i < n_ids; i++) {
		a->ids[i] = rd64(ids + i * 8);
		add_id(d, a->ids[i], (uint32_t)d->n_attrs);
	}
	d->n_attrs++;
	return 0;
}

/* perf's __evsel__calc_id_pos: index of the id among a sample's u64s. */
static int sample_id_pos(uint64_t st)
{
	int idx = 0;
	if (st & PERF_SAMPLE_IDENTIFIER)
		return 0;
	if (!(st & PERF_SAMPLE_ID))
		return -1;
	idx += !!(st & PERF_SAMPLE_IP);
	idx += !!(st & PERF_SAMPLE_TID);
	idx += !!(st & PERF_SAMPLE_TIME);
	idx += !!(st & PERF_SAMPLE_ADDR);
	return idx;
}

/* perf's __evsel__calc_is_pos: the id's position counted from the end of
 * a non-sample record's sample_id trailer. */
static int trailer_id_pos(uint64_t st)
{
	int idx = 1;
	if (st & PERF_SAMPLE_IDENTIFIER)
		return 1;
	if (!(st & PERF_SAMPLE_ID))
		return -1;
	idx += !!(st & PERF_SAMPLE_CPU);
	idx += !!(st & PERF_SAMPLE_STREAM_ID);
	return idx;
}

/* With several events, a record says whose it is only by its id, and the
 * id must sit at the same place for all of them (perf's
 * evlist__valid_sample_type); perf refuses such files too. */
int perf_data__finish_attrs(struct perf_data *d)
{
	if (!d->n_attrs)
		return perf_data__fail(d, -EBADMSG, "the file describes no events (no attributes)");
	d->id_pos = sample_id_pos(d->attrs[0].attr.sample_type);
	d->is_pos = trailer_id_pos(d->attrs[0].attr.sample_type);
	if (d->n_attrs > 1) {
		if (d->id_pos < 0 || d->is_pos < 0)
			return perf_data__fail(d, -EPROTONOSUPPORT,
				    "it has %zu events but its samples carry no event id (PERF_SAMPLE_ID), so they "
				    "cannot be told apart",
				    d->n_attrs);
		for (size_t i = 1; i < d->n_attrs; i++)
			if (sample_id_pos(d->attrs[i].attr.sample_type) != d->id_pos ||
			    trailer_id_pos(d->attrs[i].attr.sample_type) != d->is_pos)
				return perf_data__fail(d, -EPROTONOSUPPORT,
					    "its events keep their ids at different places (sample_type 0x%llx vs "
					    "0x%llx), so records cannot be matched to events",
					    (unsigned long long)d->attrs[0].attr.sample_type,
					    (unsigned long long)d->attrs[i].attr.sample_type);
	}
	/* EVENT_DESC names events perf had no name for from the command line
	 * order; an EVENT_UPDATE name (already set) wins. */
	for (size_t i = 0; i < d->n_attrs && i < d->n_desc_names; i++)
		if (!d->attrs[i].name && d->desc_names[i])
			d->attrs[i].name = xstrdup(d->desc_names[i]);
	return 0;
}

/* ---- the records that describe events ---- */

/* Bytes that follow a record without being part of it. */
uint64_t perf_data__payload_size(const unsigned char *p, const struct perf_event_header *h)
{
	if (h->type == PERF_RECORD_HEADER_TRACING_DATA && h->size >= 12)
		return ((uint64_t)rd32(p + 8) + 7) & ~7ULL;
	if (h->type == PERF_RECORD_AUXTRACE && h->size >= 16)
		return rd64(p + 8); /* perf pads it to 8 bytes and counts the padding */
	return 0;
}

static void header_attr_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	uint32_t own;
	if (h->size < 8 + ATTR_SIZE_VER0)
		goto bad;
	own = rd32(p + 8 + 4);
	if (own == 0)
		own = ATTR_SIZE_VER0;
	if (own < ATTR_SIZE_VER0 || own > h->size - 8u)
		goto bad;
	if (perf_data__add_attr(d, p + 8, own, p + 8 + own, (h->size - 8u - own) / 8) == 0)
		return;
bad:
	perf_data__warn(d, "a malformed attribute record (HEADER_ATTR) was ignored");
}

static void event_update_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	int attr;
	if (h->size < 24 || rd64(p + 8) != EVENT_UPDATE_NAME)
		return;
	attr = perf_data__attr_of_id(d, rd64(p + 16));
	if (attr < 0 || !memchr(p + 24, '\0', h->size - 24u))
		return;
	free(d->attrs[attr].name);
	d->attrs[attr].name = xstrdup((const char *)p + 24);
}

void perf_data__id_index_record(struct perf_data *d, const unsigned char *p,
				 const struct perf_event_header *h)
{
	/* Its idx is the ring (CPU or thread) index, not the event: perf
	 * itself only looks up ids the attributes declared. Check that. */
	uint64_t nr;
	if (h->size < 16)
		return;
	nr = rd64(p + 8);
	if (nr > (h->size - 16u) / 32)
		nr = (h->size - 16u) / 32;
	for (uint64_t i = 0; i < nr; i++)
		if (perf_data__attr_of_id(d, rd64(p + 16 + i * 32)) < 0 && !d->warned_id_index) {
			d->warned_id_index = true;
			perf_data__warn(d, "the ID_INDEX record names sample ids that no event declares");
		}
}

static void header_feature_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	uint64_t feat;
	if (h->size < 16)
		return;
	feat = rd64(p + 8);
	if (feat > 0 && feat < PERF_DATA_FEAT_BITS)
		perf_data__parse_feature(d, (unsigned)feat, p + 16, h->size - 16u);
}

static void header_build_id_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	if (h->size >= BUILD_ID_RECORD_SIZE + 1)
		perf_data__add_build_id(d, p, h->size);
}

void perf_data__describing_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	switch (h->type) {
	case PERF_RECORD_HEADER_FEATURE: header_feature_record(d, p, h); break;
	case PERF_RECORD_EVENT_UPDATE: event_update_record(d, p, h); break;
	case PERF_RECORD_HEADER_BUILD_ID: header_build_id_record(d, p, h); break;
	default: break;
	}
}

/* The pipe layout has no header to tell the events: they arrive as
 * records at the start of the stream. Collect them (and the feature
 * records) before reading, so every sample finds its event. */
int perf_data__scan_pipe(struct perf_data *d)
{
	size_t pos = d->info.data_offset, end = d->size;
	while (end - pos >= sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		const unsigned char *p = d->map + pos;
		uint64_t extra;
		rd_header(p, &h);
		if (h.size < sizeof(h) || h.size > end - pos)
			break; /* perf_data__read reports it */
		extra = perf_data__payload_size(p, &h);
		if (extra > end - pos - h.size)
			break;
		if (h.type == PERF_RECORD_HEADER_ATTR)
			header_attr_record(d, p, &h);
		else
			perf_data__describing_record(d, p, &h);
		pos += h.size + extra;
	}
	return 0;
}


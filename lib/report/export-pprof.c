/* Exporting as pprof: a gzipped perftools.profiles.Profile
 * (lib/report/profile.proto lists the fields).
 *
 * The encoder is written by hand: varints, length-delimited fields, packed
 * repeated integers. Nested messages are encoded into a scratch buffer
 * first so their length can precede them. Locations are function-level,
 * as the frames table is: one per (image, function), or per (image,
 * address) where no function covers the address; addresses are in the
 * image's own address space (ELF virtual addresses, runtime addresses for
 * kernels). Strings are made valid UTF-8 (proto3 requires it of string
 * fields) by replacing bad bytes with U+FFFD. */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <zlib.h>

#include "export-internal.h"
#include "strtab.h"

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_length(const unsigned char *s)
{
	uint32_t cp;
	size_t n;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}


struct pprof;
static uint32_t pprof__string(struct pprof *pp, const char *s);

/* Protobuf wire format: varint and length-delimited fields. Zero scalars
 * are omitted, as proto3 encoders do. */
enum { PB_WIRE_VARINT = 0, PB_WIRE_LEN = 2 };

/* The field numbers of lib/report/profile.proto, one enum per message. */
enum {
	PB_PROFILE_SAMPLE_TYPE = 1,
	PB_PROFILE_SAMPLE = 2,
	PB_PROFILE_MAPPING = 3,
	PB_PROFILE_LOCATION = 4,
	PB_PROFILE_FUNCTION = 5,
	PB_PROFILE_STRING_TABLE = 6,
	PB_PROFILE_TIME_NANOS = 9,
	PB_PROFILE_DURATION_NANOS = 10,
	PB_PROFILE_PERIOD_TYPE = 11,
	PB_PROFILE_PERIOD = 12,
	PB_PROFILE_COMMENT = 13,
	PB_PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { PB_VALUE_TYPE_TYPE = 1, PB_VALUE_TYPE_UNIT = 2 };
enum { PB_SAMPLE_LOCATION_ID = 1, PB_SAMPLE_VALUE = 2, PB_SAMPLE_LABEL = 3 };
enum { PB_LABEL_KEY = 1, PB_LABEL_STR = 2, PB_LABEL_NUM = 3 };
enum { PB_MAPPING_ID = 1, PB_MAPPING_MEMORY_LIMIT = 3, PB_MAPPING_FILENAME = 5, PB_MAPPING_BUILD_ID = 6, PB_MAPPING_HAS_FUNCTIONS = 7 };
enum { PB_LOCATION_ID = 1, PB_LOCATION_MAPPING_ID = 2, PB_LOCATION_ADDRESS = 3, PB_LOCATION_LINE = 4 };
enum { PB_LINE_FUNCTION_ID = 1 };
enum { PB_FUNCTION_ID = 1, PB_FUNCTION_NAME = 2, PB_FUNCTION_SYSTEM_NAME = 3 };

static void pb_varint(struct strbuf *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;
	while (v >= 0x80) {
		buf[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	buf[n++] = (unsigned char)v;
	strbuf_add(b, buf, n);
}

static void pb_key(struct strbuf *b, uint32_t field, uint32_t wire_type) { pb_varint(b, (uint64_t)field << 3 | wire_type); }

static void pb_uint(struct strbuf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb_key(b, field, PB_WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct strbuf *b, uint32_t field, const void *data, size_t n)
{
	pb_key(b, field, PB_WIRE_LEN);
	pb_varint(b, n);
	strbuf_add(b, data, n);
}

static void pb_message(struct strbuf *b, uint32_t field, const struct strbuf *msg) { pb_bytes(b, field, msg->buf, msg->len); }

struct pp_location {
	uint32_t image, symbol;
	uint64_t address;
	uint32_t mapping, function; /* 1-based ids; mapping 0 = none */
};

struct pp_mapping {
	uint32_t image;
	uint64_t limit;
};

struct pp_sample {
	uint32_t stack, leaf; /* leaf location, when there is no stack */
	uint32_t domain, layer, comm; /* string indexes; comm 0 = none */
	int64_t pid;
	bool has_pid;
	size_t locs, n_locs; /* into pprof.locs */
};

struct pprof {
	const struct export_profile *p;
	struct strtab strings;
	struct strbuf scratch; /* a name made valid UTF-8 */
	size_t n_types;

	struct pp_location *locations;
	size_t n_locations, cap_locations;
	struct hmap location_index;
	uint32_t *frame_location;   /* per frame id, 0 = not yet */
	uint32_t *image_mapping;    /* per image id, 0 = not yet */
	struct pp_mapping *mappings;
	size_t n_mappings, cap_mappings;
	uint32_t *symbol_function;  /* per symbol id, 0 = not yet */
	uint32_t *unknown_function; /* per image id (0: no image) */
	uint32_t *function_names;   /* per function id - 1: string index */
	size_t n_functions, cap_functions;

	struct pp_sample *samples;
	size_t n_samples, cap_samples;
	struct hmap sample_index;
	uint64_t *values; /* n_types per sample */
	size_t cap_values;
	uint32_t *locs;
	size_t n_locs, cap_locs;
	/* String indexes of label values, per domain / layer / thread id
	 * (UINT32_MAX: not interned yet), so a sample costs no string work. */
	uint32_t *domain_string, *layer_string, *comm_string;
};

static uint32_t cached_string(struct pprof *pp, uint32_t *cache, const char *s)
{
	if (*cache == UINT32_MAX)
		*cache = s ? pprof__string(pp, s) : 0;
	return *cache;
}

static uint32_t *string_cache(size_t n)
{
	uint32_t *c = xmalloc((n ? n : 1) * sizeof(*c));
	memset(c, 0xff, (n ? n : 1) * sizeof(*c));
	return c;
}

static uint32_t pprof__mapping(struct pprof *pp, uint32_t image)
{
	if (!session_catalog__image(&pp->p->cat, image))
		return 0;
	if (!pp->image_mapping[image]) {
		ARRAY_GROW(pp->mappings, pp->cap_mappings, pp->n_mappings + 1);
		pp->mappings[pp->n_mappings].image = image;
		pp->mappings[pp->n_mappings].limit = 0;
		pp->image_mapping[image] = (uint32_t)++pp->n_mappings;
	}
	return pp->image_mapping[image];
}

static uint32_t pprof__new_function(struct pprof *pp, const char *name)
{
	ARRAY_GROW(pp->function_names, pp->cap_functions, pp->n_functions + 1);
	pp->function_names[pp->n_functions] = pprof__string(pp, name);
	return (uint32_t)++pp->n_functions;
}

static uint32_t pprof__function(struct pprof *pp, uint32_t image, uint32_t symbol)
{
	const struct catalog_symbol *y = session_catalog__symbol(&pp->p->cat, symbol);
	if (y) {
		if (!pp->symbol_function[symbol])
			pp->symbol_function[symbol] = pprof__new_function(pp, y->name);
		return pp->symbol_function[symbol];
	}
	/* One "[unknown]" per image, so that the address keeps its image. */
	if (!session_catalog__image(&pp->p->cat, image))
		image = 0;
	if (!pp->unknown_function[image])
		pp->unknown_function[image] = pprof__new_function(pp, "[unknown]");
	return pp->unknown_function[image];
}

static uint32_t pprof__location(struct pprof *pp, uint32_t image, uint32_t symbol, uint64_t address)
{
	const struct catalog_symbol *y = session_catalog__symbol(&pp->p->cat, symbol);
	struct pp_location *l;
	uint64_t h;
	size_t pos;
	uint32_t idx;
	if (!session_catalog__image(&pp->p->cat, image))
		image = 0;
	if (y)
		address = y->address; /* function-level, as the frames are */
	else
		symbol = 0;
	h = hash_mix(hash_mix(hash_u64(image), symbol), address);
	for (pos = hmap_first(&pp->location_index, h); hmap_candidate(&pp->location_index, pos, h, &idx);
	     pos = hmap_next(&pp->location_index, pos)) {
		if (idx == UINT32_MAX)
			continue;
		l = &pp->locations[idx];
		if (l->image == image && l->symbol == symbol && l->address == address)
			return idx + 1;
	}
	ARRAY_GROW(pp->locations, pp->cap_locations, pp->n_locations + 1);
	idx = (uint32_t)pp->n_locations++;
	l = &pp->locations[idx];
	l->image = image;
	l->symbol = symbol;
	l->address = address;
	l->mapping = pprof__mapping(pp, image);
	l->function = pprof__function(pp, image, symbol);
	if (l->mapping && address >= pp->mappings[l->mapping - 1].limit)
		pp->mappings[l->mapping - 1].limit = address + 1;
	hmap_insert_at(&pp->location_index, pos, h, idx);
	return idx + 1;
}

static uint32_t pprof__frame_location(struct pprof *pp, uint32_t frame)
{
	const struct catalog_frame *f = &pp->p->cat.frames[frame];
	if (!pp->frame_location[frame])
		pp->frame_location[frame] = pprof__location(pp, f->image, f->symbol, f->address);
	return pp->frame_location[frame];
}

static uint64_t pp_sample_hash(const struct pp_sample *k)
{
	uint64_t h = hash_u64(k->stack);
	h = hash_mix(h, k->leaf);
	h = hash_mix(h, k->domain);
	h = hash_mix(h, k->layer);
	h = hash_mix(h, k->comm);
	return hash_mix(h, k->has_pid ? (uint64_t)k->pid : UINT64_MAX);
}

static bool pp_sample_eq(const struct pp_sample *a, const struct pp_sample *b)
{
	return a->stack == b->stack && a->leaf == b->leaf && a->domain == b->domain && a->layer == b->layer &&
	       a->comm == b->comm && a->has_pid == b->has_pid && a->pid == b->pid;
}

static void pprof__add(struct pprof *pp, size_t i, uint32_t **ids, size_t *cap_ids)
{
	const struct export_profile *p = pp->p;
	const struct ex_sample *smp = &p->samples[i];
	const struct catalog_thread *t = session_catalog__thread(&p->cat, smp->thread);
	const uint64_t *v = export_profile__values(p, i);
	struct pp_sample k = { 0 };
	uint64_t h, *dst;
	size_t pos, n;
	uint32_t idx;
	bool found = false;

	n = session_catalog__stack(&p->cat, smp->stack, ids, cap_ids);
	k.stack = n ? smp->stack : 0;
	k.leaf = n ? 0 : pprof__location(pp, smp->image, smp->symbol, smp->address);
	if (smp->domain < p->cat.n_domains)
		k.domain = cached_string(pp, &pp->domain_string[smp->domain], session_catalog__domain_name(&p->cat, smp->domain));
	else
		k.domain = pprof__string(pp, session_catalog__domain_name(&p->cat, smp->domain));
	k.layer = cached_string(pp, &pp->layer_string[smp->layer], p->layers[smp->layer]);
	k.comm = t ? cached_string(pp, &pp->comm_string[smp->thread], *t->comm ? t->comm : NULL) : 0;
	k.has_pid = t && t->has_pid;
	k.pid = k.has_pid ? t->pid : 0;
	h = pp_sample_hash(&k);
	for (pos = hmap_first(&pp->sample_index, h); hmap_candidate(&pp->sample_index, pos, h, &idx);
	     pos = hmap_next(&pp->sample_index, pos))
		if (idx != UINT32_MAX && pp_sample_eq(&pp->samples[idx], &k)) {
			found = true;
			break;
		}
	if (!found) {
		size_t nv;
		k.locs = pp->n_locs;
		k.n_locs = n ? n : 1;
		ARRAY_GROW(pp->locs, pp->cap_locs, pp->n_locs + k.n_locs);
		if (n)
			for (size_t j = 0; j < n; j++)
				pp->locs[pp->n_locs++] = pprof__frame_location(pp, (*ids)[j]);
		else
			pp->locs[pp->n_locs++] = k.leaf;
		ARRAY_GROW(pp->samples, pp->cap_samples, pp->n_samples + 1);
		idx = (uint32_t)pp->n_samples++;
		pp->samples[idx] = k;
		nv = pp->n_samples * pp->n_types;
		if (nv > pp->cap_values) {
			size_t old = pp->cap_values;
			ARRAY_GROW(pp->values, pp->cap_values, nv);
			memset(pp->values + old, 0, (pp->cap_values - old) * sizeof(uint64_t));
		}
		hmap_insert_at(&pp->sample_index, pos, h, idx);
	}
	dst = &pp->values[(size_t)idx * pp->n_types];
	for (size_t e = 0; e < p->n_events; e++) {
		dst[e] += v[e * 2 + 1];
		dst[p->n_events + e] += v[e * 2];
	}
}


/* Replace what is not UTF-8 (a foreign or hostile name) by U+FFFD, then
 * intern. */
static uint32_t pprof__string(struct pprof *pp, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	strbuf_reset(&pp->scratch);
	while (*c) {
		size_t n = utf8_length(c);
		if (n) {
			strbuf_add(&pp->scratch, c, n);
			c += n;
		} else {
			strbuf_adds(&pp->scratch, "\xef\xbf\xbd");
			c++;
		}
	}
	return strtab__intern_n(&pp->strings, pp->scratch.buf, pp->scratch.len);
}

static void encode_value_type(struct strbuf *b, uint32_t field, struct strbuf *scratch, uint32_t type, uint32_t unit)
{
	strbuf_reset(scratch);
	pb_uint(scratch, PB_VALUE_TYPE_TYPE, type);
	pb_uint(scratch, PB_VALUE_TYPE_UNIT, unit);
	pb_message(b, field, scratch);
}

static void encode_label(struct strbuf *b, struct strbuf *scratch, uint32_t key, uint32_t str, bool is_num, int64_t num)
{
	strbuf_reset(scratch);
	pb_uint(scratch, PB_LABEL_KEY, key);
	if (is_num) {
		if (num) {
			pb_key(scratch, PB_LABEL_NUM, PB_WIRE_VARINT);
			pb_varint(scratch, (uint64_t)num);
		}
	} else {
		pb_uint(scratch, PB_LABEL_STR, str);
	}
	pb_message(b, PB_SAMPLE_LABEL, scratch);
}

/* The string indexes the encoder names fields by. */
struct pprof_names {
	uint32_t *types; /* (type, unit) per value: period sums first, then sample counts */
	uint32_t domain, layer, comm, pid;
	uint32_t comments[8]; /* one per add_comment in pprof__comments */
	size_t n_comments;
};

static void pprof__init(struct pprof *pp, const struct export_profile *p, struct pprof_names *names)
{
	memset(pp, 0, sizeof(*pp));
	pp->p = p;
	strtab__init(&pp->strings);
	strbuf_init(&pp->scratch);
	hmap_init(&pp->location_index);
	hmap_init(&pp->sample_index);
	pprof__string(pp, ""); /* index 0, as the format requires */

	/* Period sums first (the values people compare), then sample counts. */
	pp->n_types = p->n_events * 2;
	names->types = xcalloc(pp->n_types * 2, sizeof(uint32_t));
	for (size_t e = 0; e < p->n_events; e++) {
		_cleanup_free_ char *count_name = xasprintf("%s:samples", p->events[e].name);
		names->types[e * 2] = pprof__string(pp, p->events[e].name);
		names->types[e * 2 + 1] = pprof__string(pp, streq(p->events[e].unit, "ns") ? "nanoseconds" : "count");
		names->types[(p->n_events + e) * 2] = pprof__string(pp, count_name);
		names->types[(p->n_events + e) * 2 + 1] = pprof__string(pp, "count");
	}
	names->domain = pprof__string(pp, "domain");
	names->layer = pprof__string(pp, "layer");
	names->comm = pprof__string(pp, "comm");
	names->pid = pprof__string(pp, "pid");

	pp->frame_location = xcalloc(p->cat.n_frames + 1, sizeof(uint32_t));
	pp->image_mapping = xcalloc(p->cat.n_images + 1, sizeof(uint32_t));
	pp->symbol_function = xcalloc(p->cat.n_symbols + 1, sizeof(uint32_t));
	pp->unknown_function = xcalloc(p->cat.n_images + 1, sizeof(uint32_t));
	pp->domain_string = string_cache(p->cat.n_domains);
	pp->layer_string = string_cache(p->n_layers);
	pp->comm_string = string_cache(p->cat.n_threads);
}

static void pprof__release(struct pprof *pp, struct pprof_names *names)
{
	free(names->types);
	strtab__release(&pp->strings);
	strbuf_release(&pp->scratch);
	free(pp->locations);
	hmap_release(&pp->location_index);
	free(pp->frame_location);
	free(pp->image_mapping);
	free(pp->mappings);
	free(pp->symbol_function);
	free(pp->unknown_function);
	free(pp->function_names);
	free(pp->samples);
	hmap_release(&pp->sample_index);
	free(pp->values);
	free(pp->locs);
	free(pp->domain_string);
	free(pp->layer_string);
	free(pp->comm_string);
}

static void add_comment(struct pprof *pp, struct pprof_names *names, const char *label, const char *value)
{
	_cleanup_free_ char *c = NULL;
	if (!value)
		return;
	assert(names->n_comments < ARRAY_SIZE(names->comments));
	c = xasprintf("%s%s", label, value);
	names->comments[names->n_comments++] = pprof__string(pp, c);
}

/* What the profile says of its origin, as pprof -comments shows it. */
static void pprof__comments(struct pprof *pp, struct pprof_names *names)
{
	const struct export_profile *p = pp->p;
	_cleanup_free_ char *title = xasprintf("domprof %s export of %s (view: %s)", DOMPROF_VERSION, p->session_path,
					       view_source__name(p->source));
	_cleanup_free_ char *idle = xasprintf(
		"%s%s%s", p->no_idle ? "left out (--no-idle)" : "included as domain idle (label domain=idle)",
		p->idle_note ? "; " : "", p->idle_note ? p->idle_note : "");
	add_comment(pp, names, "", title);
	add_comment(pp, names, "hostname: ", p->about.hostname);
	add_comment(pp, names, "kernel: ", p->about.kernel);
	add_comment(pp, names, "recorded: ", p->about.start_time);
	add_comment(pp, names, "command: ", p->about.command_line);
	add_comment(pp, names, "call stacks: ", report__call_stacks_text(p->about.callchain));
	add_comment(pp, names, "recorded by domprof ", p->about.domprof_version);
	add_comment(pp, names, "idle: ", idle);
}

static void encode_samples(struct pprof *pp, const struct pprof_names *names, struct strbuf *out)
{
	struct strbuf msg, sub, packed;
	strbuf_init(&msg);
	strbuf_init(&sub);
	strbuf_init(&packed);
	for (size_t i = 0; i < pp->n_samples; i++) {
		const struct pp_sample *smp = &pp->samples[i];
		const uint64_t *vals = &pp->values[i * pp->n_types];
		strbuf_reset(&msg);
		strbuf_reset(&packed);
		for (size_t j = 0; j < smp->n_locs; j++)
			pb_varint(&packed, pp->locs[smp->locs + j]);
		pb_bytes(&msg, PB_SAMPLE_LOCATION_ID, packed.buf, packed.len);
		strbuf_reset(&packed);
		for (size_t t = 0; t < pp->n_types; t++)
			pb_varint(&packed, vals[t]);
		pb_bytes(&msg, PB_SAMPLE_VALUE, packed.buf, packed.len);
		encode_label(&msg, &sub, names->domain, smp->domain, false, 0);
		encode_label(&msg, &sub, names->layer, smp->layer, false, 0);
		if (smp->comm)
			encode_label(&msg, &sub, names->comm, smp->comm, false, 0);
		if (smp->has_pid)
			encode_label(&msg, &sub, names->pid, 0, true, smp->pid);
		pb_message(out, PB_PROFILE_SAMPLE, &msg);
	}
	strbuf_release(&msg);
	strbuf_release(&sub);
	strbuf_release(&packed);
}

/* Mappings, locations and functions. Addresses are image-relative, so
 * each image is laid out from 0 to just past its highest location. */
static void encode_code(struct pprof *pp, struct strbuf *out)
{
	struct strbuf msg, sub;
	strbuf_init(&msg);
	strbuf_init(&sub);
	for (size_t m = 0; m < pp->n_mappings; m++) {
		const struct catalog_image *img = session_catalog__image(&pp->p->cat, pp->mappings[m].image);
		strbuf_reset(&msg);
		pb_uint(&msg, PB_MAPPING_ID, m + 1);
		pb_uint(&msg, PB_MAPPING_MEMORY_LIMIT, pp->mappings[m].limit);
		pb_uint(&msg, PB_MAPPING_FILENAME, pprof__string(pp, img->path));
		if (img->build_id)
			pb_uint(&msg, PB_MAPPING_BUILD_ID, pprof__string(pp, img->build_id));
		/* Already symbolized: pprof must not look the names up again. */
		pb_uint(&msg, PB_MAPPING_HAS_FUNCTIONS, 1);
		pb_message(out, PB_PROFILE_MAPPING, &msg);
	}
	for (size_t l = 0; l < pp->n_locations; l++) {
		const struct pp_location *loc = &pp->locations[l];
		strbuf_reset(&msg);
		pb_uint(&msg, PB_LOCATION_ID, l + 1);
		pb_uint(&msg, PB_LOCATION_MAPPING_ID, loc->mapping);
		pb_uint(&msg, PB_LOCATION_ADDRESS, loc->address);
		strbuf_reset(&sub);
		pb_uint(&sub, PB_LINE_FUNCTION_ID, loc->function);
		pb_message(&msg, PB_LOCATION_LINE, &sub);
		pb_message(out, PB_PROFILE_LOCATION, &msg);
	}
	for (size_t f = 0; f < pp->n_functions; f++) {
		strbuf_reset(&msg);
		pb_uint(&msg, PB_FUNCTION_ID, f + 1);
		pb_uint(&msg, PB_FUNCTION_NAME, pp->function_names[f]);
		pb_uint(&msg, PB_FUNCTION_SYSTEM_NAME, pp->function_names[f]);
		pb_message(out, PB_PROFILE_FUNCTION, &msg);
	}
	strbuf_release(&msg);
	strbuf_release(&sub);
}

/* The informational fields: when, how long, the sampling period of the
 * first event, the comments, the default sample type. */
static void encode_about(struct pprof *pp, const struct pprof_names *names, struct strbuf *out)
{
	const struct export_profile *p = pp->p;
	struct strbuf scratch;
	uint64_t period = 0;
	strbuf_init(&scratch);
	if (p->n_events) {
		const struct report_event *e0 = &p->events[0];
		period = e0->sample_period;
		if (!period && e0->samples)
			period = (e0->period + e0->samples / 2) / e0->samples;
	}
	if (p->about.start_time_ns) {
		pb_key(out, PB_PROFILE_TIME_NANOS, PB_WIRE_VARINT);
		pb_varint(out, (uint64_t)p->about.start_time_ns);
	}
	if (p->about.duration_ns > 0 && p->about.duration_ns <= INT64_MAX)
		pb_uint(out, PB_PROFILE_DURATION_NANOS, p->about.duration_ns);
	if (p->n_events) {
		encode_value_type(out, PB_PROFILE_PERIOD_TYPE, &scratch, names->types[0], names->types[1]);
		pb_uint(out, PB_PROFILE_PERIOD, period);
	}
	strbuf_reset(&scratch);
	for (size_t c = 0; c < names->n_comments; c++)
		pb_varint(&scratch, names->comments[c]);
	if (scratch.len)
		pb_bytes(out, PB_PROFILE_COMMENT, scratch.buf, scratch.len);
	if (p->n_events)
		pb_uint(out, PB_PROFILE_DEFAULT_SAMPLE_TYPE, names->types[0]);
	strbuf_release(&scratch);
}

void export_profile__encode_pprof(const struct export_profile *p, struct strbuf *out)
{
	struct pprof pp;
	struct pprof_names names = { 0 };
	struct strbuf scratch;
	uint32_t *ids = NULL;
	size_t cap_ids = 0;

	pprof__init(&pp, p, &names);
	for (size_t i = 0; i < p->n_samples; i++)
		pprof__add(&pp, i, &ids, &cap_ids);
	free(ids);
	pprof__comments(&pp, &names);

	strbuf_init(&scratch);
	for (size_t t = 0; t < pp.n_types; t++)
		encode_value_type(out, PB_PROFILE_SAMPLE_TYPE, &scratch, names.types[t * 2], names.types[t * 2 + 1]);
	strbuf_release(&scratch);
	encode_samples(&pp, &names, out);
	encode_code(&pp, out);
	encode_about(&pp, &names, out);
	/* The string table last: every string above is interned by now. */
	for (size_t i = 0; i < pp.strings.n; i++)
		pb_bytes(out, PB_PROFILE_STRING_TABLE, pp.strings.strings[i], strlen(pp.strings.strings[i]));
	pprof__release(&pp, &names);
}


int export_profile__write_pprof(const struct export_profile *p, FILE *out)
{
	struct strbuf raw;
	unsigned char chunk[1 << 16];
	z_stream z = { 0 };
	int zr, r = 0;

	strbuf_init(&raw);
	export_profile__encode_pprof(p, &raw);
	/* windowBits 15 + 16: a gzip stream, as pprof files are. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		strbuf_release(&raw);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)raw.buf;
	z.avail_in = (uInt)raw.len; /* a profile stays far below 4 GiB; checked below */
	if (raw.len > UINT32_MAX) {
		deflateEnd(&z);
		strbuf_release(&raw);
		return -EFBIG;
	}
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			r = -EIO;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out) != sizeof(chunk) - z.avail_out) {
			r = errno ? -errno : -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	strbuf_release(&raw);
	if (r < 0)
		return r;
	return export__stream_status(out);
}


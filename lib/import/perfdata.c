/* The perf.data reader; contract in perfdata.h. Layouts follow perf's
 * tools/perf/util/header.c (header, attributes, feature sections) and
 * session.c (the record stream and perf's own record types).
 *
 * The file is mapped, not read: records of the data section are handed to
 * the callback straight from the mapping, and only records that came out
 * of zstd-compressed batches are copied (into an arena) to wait for their
 * turn. Every multi-byte field is read with memcpy, so a file whose
 * records are not 8-byte aligned cannot fault; a misaligned record is
 * copied to an aligned bounce buffer before the callback sees it.
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
 * records perf synthesized at start) are delivered at once, as perf does. */
#define _GNU_SOURCE
#include "perfdata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "../events/events.h"
#include "../util/hmap.h"
#include "../util/util.h"

#define PERF_MAGIC2 0x32454c4946524550ULL         /* "PERFILE2", little-endian */
#define PERF_MAGIC2_SWAPPED 0x50455246494c4532ULL /* the same, written big-endian */
#define FILE_HEADER_SIZE 104
#define FILE_HEADER_SIZE_NO_FEATURES 72 /* before adds_features existed */
#define PIPE_HEADER_SIZE 16
#define ATTR_SIZE_VER0 64
#define MAX_ATTR_SIZE 4096
#define BUILD_ID_RECORD_SIZE 36 /* header, pid, 24 bytes of build-id */
#define MISC_BUILD_ID_SIZE (1U << 15)
#define EVENT_UPDATE_NAME 2
#define KERNEL_RECORD_MAX 21 /* PERF_RECORD_AUX_OUTPUT_HW_ID, the newest type this build knows */

/* Release the older half of the queue beyond these. */
#define QUEUE_LIMIT (4u << 20)
#define ARENA_LIMIT (256u << 20)
/* Decompression proceeds in steps of this much output. */
#define DECOMPRESS_STEP (256u << 10)
#define MAX_RECORD_SIZE 65536 /* header.size is 16 bits */

struct queued {
	uint64_t time;
	uintptr_t loc; /* pointer into the mapping, or offset into the arena */
	uint32_t attr;
	bool in_arena;
};

struct id_entry {
	uint64_t id;
	uint32_t attr;
};

struct perf_data {
	char *path;
	const unsigned char *map;
	size_t size;
	bool mapped; /* else map is a malloc'd copy (a pipe or FIFO) */

	struct perf_data_info info;
	struct perf_data_attr *attrs;
	size_t n_attrs, cap_attrs;
	struct id_entry *ids;
	size_t n_ids, cap_ids;
	struct hmap id_index;
	int id_pos, is_pos; /* where every attribute keeps its id (perf's evlist id_pos / is_pos) */
	char **desc_names;  /* EVENT_DESC names by attribute index */
	size_t n_desc_names;

	char **warnings;
	size_t n_warnings, cap_warnings;
	struct perf_data_stats stats;
	char *error;
	bool warned_id_index;

	/* reading */
	perf_data_record_fn fn;
	void *ctx;
	struct queued *queue;
	size_t n_queue, cap_queue;
	struct queued *sort_tmp; /* merge buffer, cap_queue entries */
	size_t cap_sort_tmp;
	size_t *runs;            /* start of each ascending run */
	size_t cap_runs;
	unsigned char *arena, *arena_spare;
	size_t arena_len, arena_cap, arena_spare_cap;
	uint64_t max_time, next_flush, last_time;
	ZSTD_DStream *zstd;
	unsigned char *inner; /* decompressed bytes not yet walked */
	size_t inner_len, inner_cap;
	uint64_t inner_skip;       /* payload bytes still to skip in the decompressed stream */
	uint64_t compressed_at;    /* file offset of the compressed record being walked */
	uint64_t *bounce;
};

/* ---- small helpers ---- */

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void rd_header(const unsigned char *p, struct perf_event_header *h) { memcpy(h, p, sizeof(*h)); }

static int fail(struct perf_data *d, int err, const char *fmt, ...) PRINTF(3, 4);
static int fail(struct perf_data *d, int err, const char *fmt, ...)
{
	va_list ap;
	if (d->error)
		return err; /* the first error is the one that explains */
	va_start(ap, fmt);
	d->error = xvasprintf(fmt, ap);
	va_end(ap);
	return err;
}

static void warn(struct perf_data *d, const char *fmt, ...) PRINTF(2, 3);
static void warn(struct perf_data *d, const char *fmt, ...)
{
	va_list ap;
	if (d->n_warnings >= 32)
		return;
	ARRAY_GROW(d->warnings, d->cap_warnings, d->n_warnings + 1);
	va_start(ap, fmt);
	d->warnings[d->n_warnings++] = xvasprintf(fmt, ap);
	va_end(ap);
}

static const char *feature_name(unsigned feat)
{
	switch (feat) {
	case PERF_DATA_FEAT_BUILD_ID: return "BUILD_ID";
	case PERF_DATA_FEAT_HOSTNAME: return "HOSTNAME";
	case PERF_DATA_FEAT_OSRELEASE: return "OSRELEASE";
	case PERF_DATA_FEAT_VERSION: return "VERSION";
	case PERF_DATA_FEAT_ARCH: return "ARCH";
	case PERF_DATA_FEAT_NRCPUS: return "NRCPUS";
	case PERF_DATA_FEAT_CPUDESC: return "CPUDESC";
	case PERF_DATA_FEAT_CPUID: return "CPUID";
	case PERF_DATA_FEAT_TOTAL_MEM: return "TOTAL_MEM";
	case PERF_DATA_FEAT_CMDLINE: return "CMDLINE";
	case PERF_DATA_FEAT_EVENT_DESC: return "EVENT_DESC";
	case PERF_DATA_FEAT_SAMPLE_TIME: return "SAMPLE_TIME";
	case PERF_DATA_FEAT_CLOCKID: return "CLOCKID";
	case PERF_DATA_FEAT_COMPRESSED: return "COMPRESSED";
	case PERF_DATA_FEAT_CLOCK_DATA: return "CLOCK_DATA";
	default: return "feature";
	}
}

/* A bounds-checked reader over one section or record body. */
struct cursor {
	const unsigned char *p, *end;
};

static bool take(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return false;
	memcpy(out, c->p, n);
	c->p += n;
	return true;
}

static bool skip(struct cursor *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n)
		return false;
	c->p += n;
	return true;
}

/* perf's do_write_string: u32 length (padded, NUL included), then the
 * bytes. A string without its NUL is malformed. */
static bool take_string(struct cursor *c, char **ret)
{
	uint32_t len;
	const unsigned char *s;
	if (!take(c, &len, 4) || (size_t)(c->end - c->p) < len || !len)
		return false;
	s = c->p;
	if (!memchr(s, '\0', len))
		return false;
	*ret = xstrdup((const char *)s);
	c->p += len;
	return true;
}

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
static int add_attr(struct perf_data *d, const unsigned char *raw, size_t avail, const unsigned char *ids,
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
static int finish_attrs(struct perf_data *d)
{
	if (!d->n_attrs)
		return fail(d, -EBADMSG, "the file describes no events (no attributes)");
	d->id_pos = sample_id_pos(d->attrs[0].attr.sample_type);
	d->is_pos = trailer_id_pos(d->attrs[0].attr.sample_type);
	if (d->n_attrs > 1) {
		if (d->id_pos < 0 || d->is_pos < 0)
			return fail(d, -EPROTONOSUPPORT,
				    "it has %zu events but its samples carry no event id (PERF_SAMPLE_ID), so they "
				    "cannot be told apart",
				    d->n_attrs);
		for (size_t i = 1; i < d->n_attrs; i++)
			if (sample_id_pos(d->attrs[i].attr.sample_type) != d->id_pos ||
			    trailer_id_pos(d->attrs[i].attr.sample_type) != d->is_pos)
				return fail(d, -EPROTONOSUPPORT,
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

/* ---- feature sections ---- */

static void add_build_id(struct perf_data *d, const unsigned char *p, size_t size)
{
	struct perf_data_build_id *b;
	const unsigned char *name = p + BUILD_ID_RECORD_SIZE;
	struct perf_event_header h;
	uint8_t n;
	rd_header(p, &h);
	if (!memchr(name, '\0', size - BUILD_ID_RECORD_SIZE))
		return;
	n = (h.misc & MISC_BUILD_ID_SIZE) ? p[12 + 20] : 20;
	if (n == 0 || n > 20)
		return;
	d->info.build_ids = xrealloc(d->info.build_ids, (d->info.n_build_ids + 1) * sizeof(*d->info.build_ids));
	b = &d->info.build_ids[d->info.n_build_ids++];
	memset(b, 0, sizeof(*b));
	b->pid = (int32_t)rd32(p + 8);
	b->cpumode = h.misc & PERF_RECORD_MISC_CPUMODE_MASK;
	b->size = n;
	memcpy(b->build_id, p + 12, n);
	b->filename = xstrdup((const char *)name);
}

static bool parse_build_ids(struct perf_data *d, struct cursor *c)
{
	while (c->end - c->p >= (ptrdiff_t)sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		rd_header(c->p, &h);
		if (h.size < BUILD_ID_RECORD_SIZE + 1 || h.size > c->end - c->p)
			return false;
		add_build_id(d, c->p, h.size);
		c->p += h.size;
	}
	return true;
}

static bool parse_event_desc(struct perf_data *d, struct cursor *c)
{
	uint32_t nr, attr_size;
	if (!take(c, &nr, 4) || !take(c, &attr_size, 4))
		return false;
	if (attr_size < ATTR_SIZE_VER0 || attr_size > MAX_ATTR_SIZE)
		return false;
	/* Each event takes at least its attribute, an id count and a string. */
	if (nr > (uint64_t)(c->end - c->p) / (attr_size + 8))
		return false;
	for (size_t i = 0; i < d->n_desc_names; i++)
		free(d->desc_names[i]);
	free(d->desc_names);
	d->desc_names = xcalloc(nr ? nr : 1, sizeof(*d->desc_names));
	d->n_desc_names = nr;
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t n_ids;
		if (!skip(c, attr_size) || !take(c, &n_ids, 4) || !take_string(c, &d->desc_names[i]) ||
		    !skip(c, (uint64_t)n_ids * 8))
			return false;
	}
	return true;
}

/* One feature section (file layout) or HEADER_FEATURE payload (pipe).
 * Malformed optional metadata is dropped with a warning, not fatal. */
static void parse_feature(struct perf_data *d, unsigned feat, const unsigned char *p, size_t size)
{
	struct cursor c = { p, p + size };
	struct perf_data_info *in = &d->info;
	bool ok = true;
	char *s = NULL;

	if (feat < PERF_DATA_FEAT_BITS)
		in->features[feat / 64] |= 1ULL << (feat % 64);
	switch (feat) {
	case PERF_DATA_FEAT_HOSTNAME:
	case PERF_DATA_FEAT_OSRELEASE:
	case PERF_DATA_FEAT_VERSION:
	case PERF_DATA_FEAT_ARCH:
	case PERF_DATA_FEAT_CPUDESC:
	case PERF_DATA_FEAT_CPUID: {
		char **slot = feat == PERF_DATA_FEAT_HOSTNAME	? &in->hostname
			      : feat == PERF_DATA_FEAT_OSRELEASE ? &in->osrelease
			      : feat == PERF_DATA_FEAT_VERSION	? &in->version
			      : feat == PERF_DATA_FEAT_ARCH	? &in->arch
			      : feat == PERF_DATA_FEAT_CPUDESC	? &in->cpudesc
								: &in->cpuid;
		ok = take_string(&c, &s);
		if (ok) {
			free(*slot);
			*slot = s;
		}
		break;
	}
	case PERF_DATA_FEAT_NRCPUS:
		ok = take(&c, &in->nr_cpus_avail, 4) && take(&c, &in->nr_cpus_online, 4);
		break;
	case PERF_DATA_FEAT_TOTAL_MEM:
		ok = take(&c, &in->total_mem_kb, 8);
		break;
	case PERF_DATA_FEAT_CMDLINE: {
		uint32_t nr;
		ok = take(&c, &nr, 4) && nr <= (size_t)(c.end - c.p) / 5;
		if (!ok)
			break;
		for (size_t i = 0; i < in->n_cmdline; i++)
			free(in->cmdline[i]);
		free(in->cmdline);
		in->cmdline = xcalloc(nr + 1, sizeof(*in->cmdline));
		in->n_cmdline = 0;
		for (uint32_t i = 0; i < nr && ok; i++) {
			ok = take_string(&c, &s);
			if (ok)
				in->cmdline[in->n_cmdline++] = s;
		}
		break;
	}
	case PERF_DATA_FEAT_EVENT_DESC:
		ok = parse_event_desc(d, &c);
		break;
	case PERF_DATA_FEAT_BUILD_ID:
		ok = parse_build_ids(d, &c);
		break;
	case PERF_DATA_FEAT_SAMPLE_TIME:
		ok = take(&c, &in->first_sample_time, 8) && take(&c, &in->last_sample_time, 8);
		break;
	case PERF_DATA_FEAT_CLOCKID:
		ok = take(&c, &in->clock_resolution_ns, 8);
		break;
	case PERF_DATA_FEAT_CLOCK_DATA: {
		uint32_t version;
		ok = take(&c, &version, 4) && version >= 1 && take(&c, &in->clockid, 4) &&
		     take(&c, &in->clock_tod_ns, 8) && take(&c, &in->clock_clockid_ns, 8);
		in->have_clock_data = ok;
		break;
	}
	case PERF_DATA_FEAT_COMPRESSED: {
		uint32_t version;
		ok = take(&c, &version, 4) && take(&c, &in->compression, 4);
		break;
	}
	default:
		break; /* topology, caches, PMU mappings...: not needed here */
	}
	if (!ok)
		warn(d, "the %s header section is malformed; ignored", feature_name(feat));
}

/* ---- opening ---- */

static int check_section(struct perf_data *d, const char *what, uint64_t offset, uint64_t size)
{
	if (offset > d->size || size > d->size - offset)
		return fail(d, -EBADMSG,
			    "truncated or corrupt: the %s (bytes %llu to %llu) reaches past the end of the file "
			    "(%zu bytes)",
			    what, (unsigned long long)offset, (unsigned long long)(offset + size), d->size);
	return 0;
}

static int read_features(struct perf_data *d, const unsigned char *bitmap)
{
	uint64_t bits[PERF_DATA_FEAT_BITS / 64];
	uint64_t table = d->info.data_offset + d->info.data_size;
	size_t n = 0, i = 0;
	int r;

	memcpy(bits, bitmap, sizeof(bits));
	for (unsigned f = 0; f < PERF_DATA_FEAT_BITS; f++)
		n += bits[f / 64] >> (f % 64) & 1;
	if (!n)
		return 0;
	r = check_section(d, "table of header sections after the data", table, n * 16);
	if (r < 0)
		return r;
	for (unsigned f = 0; f < PERF_DATA_FEAT_BITS; f++) {
		uint64_t off, size;
		char what[64];
		if (!(bits[f / 64] >> (f % 64) & 1))
			continue;
		off = rd64(d->map + table + i * 16);
		size = rd64(d->map + table + i * 16 + 8);
		i++;
		snprintf(what, sizeof(what), "%s header section", feature_name(f));
		r = check_section(d, what, off, size);
		if (r < 0)
			return r;
		parse_feature(d, f, d->map + off, size);
	}
	return 0;
}

static int read_file_header(struct perf_data *d, uint64_t header_size)
{
	uint64_t attr_size, attrs_off, attrs_size, n_attrs;
	int r;

	if (d->size < header_size)
		return fail(d, -EBADMSG, "truncated: the file ends inside its %llu-byte header",
			    (unsigned long long)header_size);
	attr_size = rd64(d->map + 16);
	attrs_off = rd64(d->map + 24);
	attrs_size = rd64(d->map + 32);
	d->info.data_offset = rd64(d->map + 40);
	d->info.data_size = rd64(d->map + 48);

	if (attr_size < ATTR_SIZE_VER0 + 16 || attr_size > MAX_ATTR_SIZE)
		return fail(d, -EBADMSG, "corrupt header: attribute size %llu is impossible",
			    (unsigned long long)attr_size);
	r = check_section(d, "attribute section", attrs_off, attrs_size);
	if (r < 0)
		return r;
	if (attrs_size % attr_size)
		return fail(d, -EBADMSG, "corrupt header: the attribute section (%llu bytes) is not a whole number of "
					 "%llu-byte attributes",
			    (unsigned long long)attrs_size, (unsigned long long)attr_size);
	n_attrs = attrs_size / attr_size;
	for (uint64_t i = 0; i < n_attrs; i++) {
		const unsigned char *raw = d->map + attrs_off + i * attr_size;
		uint64_t ids_off = rd64(raw + attr_size - 16), ids_size = rd64(raw + attr_size - 8);
		char what[64];
		snprintf(what, sizeof(what), "id list of event %llu", (unsigned long long)i);
		r = check_section(d, what, ids_off, ids_size);
		if (r < 0)
			return r;
		if (ids_size % 8)
			return fail(d, -EBADMSG, "corrupt header: the %s is %llu bytes, not a multiple of 8", what,
				    (unsigned long long)ids_size);
		if (add_attr(d, raw, attr_size - 16, d->map + ids_off, ids_size / 8) < 0)
			return fail(d, -EBADMSG, "corrupt header: event %llu has an impossible attribute size",
				    (unsigned long long)i);
	}

	if (d->info.data_size == 0 && d->info.data_offset <= d->size) {
		/* perf writes the data size when it stops; a capture that was
		 * killed keeps 0 and has no feature sections. Read to the end. */
		d->info.data_size_unknown = true;
		d->info.data_size = d->size - d->info.data_offset;
		return 0;
	}
	r = check_section(d, "data section", d->info.data_offset, d->info.data_size);
	if (r < 0)
		return r;
	if (header_size == FILE_HEADER_SIZE)
		return read_features(d, d->map + 72);
	return 0;
}

static int scan_pipe(struct perf_data *d);

static int open_map(struct perf_data *d, const char *path)
{
	struct stat st;
	int fd = streq(path, "-") ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(d, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return fail(d, -e, "%s", strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(d, -EISDIR, "it is a directory (perf record --threads writes a directory; domprof reads "
					"single perf.data files: merge it with perf inject -i DIR -o FILE)");
	}
	if (S_ISREG(st.st_mode)) {
		d->size = (size_t)st.st_size;
		if (d->size) {
			/* Populated up front: one pass over the page cache beats a
			 * fault per page during the walk. */
			void *m = mmap(NULL, d->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
			if (m == MAP_FAILED) {
				int e = errno;
				close(fd);
				return fail(d, -e, "cannot map it: %s", strerror(e));
			}
			madvise(m, d->size, MADV_SEQUENTIAL);
			d->map = m;
			d->mapped = true;
		}
	} else {
		/* A pipe or FIFO (perf record -o - | domprof import -): read it all. */
		struct strbuf sb;
		char buf[1 << 16];
		ssize_t n;
		strbuf_init(&sb);
		while ((n = read(fd, buf, sizeof(buf))) != 0) {
			if (n < 0) {
				int e = errno;
				if (e == EINTR)
					continue;
				strbuf_release(&sb);
				close(fd);
				return fail(d, -e, "%s", strerror(e));
			}
			strbuf_add(&sb, buf, (size_t)n);
		}
		d->size = sb.len;
		d->map = (const unsigned char *)strbuf_detach(&sb);
		strbuf_release(&sb);
	}
	close(fd);
	return 0;
}

int perf_data__open(const char *path, struct perf_data **ret, char **ret_error)
{
	struct perf_data *d = xcalloc(1, sizeof(*d));
	uint64_t magic, header_size;
	int r;

	d->path = xstrdup(path);
	hmap_init(&d->id_index);
	r = open_map(d, path);
	if (r < 0)
		goto fail;
	if (d->size < 16) {
		r = d->size ? fail(d, -ENOTSUP, "not a perf.data file: only %zu bytes", d->size)
			    : fail(d, -ENOTSUP, "not a perf.data file: it is empty");
		goto fail;
	}
	magic = rd64(d->map);
	header_size = rd64(d->map + 8);
	if (!memcmp(d->map, "PERFFILE", 8)) {
		r = fail(d, -EPROTONOSUPPORT, "it uses the first perf.data layout (magic PERFFILE) of perf before "
					      "2010; rewrite it with a newer perf: perf inject -i OLD -o NEW");
		goto fail;
	}
	if (magic == PERF_MAGIC2_SWAPPED) {
		r = fail(d, -EPROTONOSUPPORT, "it was written on a machine of the other byte order (big-endian); "
					      "convert it there or with perf on this machine: perf inject -i FILE -o NEW");
		goto fail;
	}
	if (magic != PERF_MAGIC2) {
		if (!memcmp(d->map, "SQLite format 3", 16))
			r = fail(d, -ENOTSUP, "not a perf.data file but an SQLite database (a domprof session? "
					      "read it with domprof report -i)");
		else
			r = fail(d, -ENOTSUP, "not a perf.data file (it does not start with PERFILE2)");
		goto fail;
	}
	if (header_size == PIPE_HEADER_SIZE) {
		d->info.pipe = true;
		d->info.data_offset = PIPE_HEADER_SIZE;
		d->info.data_size = d->size - PIPE_HEADER_SIZE;
		r = scan_pipe(d);
	} else if (header_size == FILE_HEADER_SIZE || header_size == FILE_HEADER_SIZE_NO_FEATURES) {
		r = read_file_header(d, header_size);
	} else {
		r = fail(d, -EPROTONOSUPPORT, "unexpected header size %llu (perf writes %d, or %d for a pipe)",
			 (unsigned long long)header_size, FILE_HEADER_SIZE, PIPE_HEADER_SIZE);
	}
	if (r == 0)
		r = finish_attrs(d);
	if (r < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	*ret_error = d->error ? d->error : xstrdup(strerror(-r));
	d->error = NULL;
	perf_data__free(d);
	return r;
}

void perf_data__free(struct perf_data *d)
{
	if (!d)
		return;
	if (d->mapped)
		munmap((void *)d->map, d->size);
	else
		free((void *)d->map);
	for (size_t i = 0; i < d->n_attrs; i++) {
		free(d->attrs[i].name);
		free(d->attrs[i].ids);
	}
	free(d->attrs);
	free(d->ids);
	hmap_release(&d->id_index);
	for (size_t i = 0; i < d->n_desc_names; i++)
		free(d->desc_names[i]);
	free(d->desc_names);
	free(d->info.hostname);
	free(d->info.osrelease);
	free(d->info.version);
	free(d->info.arch);
	free(d->info.cpudesc);
	free(d->info.cpuid);
	for (size_t i = 0; i < d->info.n_cmdline; i++)
		free(d->info.cmdline[i]);
	free(d->info.cmdline);
	for (size_t i = 0; i < d->info.n_build_ids; i++)
		free(d->info.build_ids[i].filename);
	free(d->info.build_ids);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	free(d->queue);
	free(d->sort_tmp);
	free(d->runs);
	free(d->arena);
	free(d->arena_spare);
	free(d->inner);
	free(d->bounce);
	if (d->zstd)
		ZSTD_freeDStream(d->zstd);
	free(d->error);
	free(d->path);
	free(d);
}

const char *perf_data__path(const struct perf_data *d) { return d->path; }
uint64_t perf_data__file_size(const struct perf_data *d) { return d->size; }
const struct perf_data_info *perf_data__info(const struct perf_data *d) { return &d->info; }
size_t perf_data__n_attrs(const struct perf_data *d) { return d->n_attrs; }
const struct perf_data_attr *perf_data__attr(const struct perf_data *d, size_t i) { return &d->attrs[i]; }
size_t perf_data__n_warnings(const struct perf_data *d) { return d->n_warnings; }
const char *perf_data__warning(const struct perf_data *d, size_t i) { return d->warnings[i]; }
const struct perf_data_stats *perf_data__stats(const struct perf_data *d) { return &d->stats; }

/* ---- perf's own records ---- */

/* Bytes that follow a record without being part of it. */
static uint64_t payload_size(const unsigned char *p, const struct perf_event_header *h)
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
	if (add_attr(d, p + 8, own, p + 8 + own, (h->size - 8u - own) / 8) == 0)
		return;
bad:
	warn(d, "a malformed attribute record (HEADER_ATTR) was ignored");
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

static void id_index_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
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
			warn(d, "the ID_INDEX record names sample ids that no event declares");
		}
}

static void header_feature_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	uint64_t feat;
	if (h->size < 16)
		return;
	feat = rd64(p + 8);
	if (feat > 0 && feat < PERF_DATA_FEAT_BITS)
		parse_feature(d, (unsigned)feat, p + 16, h->size - 16u);
}

static void header_build_id_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h)
{
	if (h->size >= BUILD_ID_RECORD_SIZE + 1)
		add_build_id(d, p, h->size);
}

/* The pipe layout has no header to tell the events: they arrive as
 * records at the start of the stream. Collect them (and the feature
 * records) before reading, so every sample finds its event. */
static int scan_pipe(struct perf_data *d)
{
	size_t pos = d->info.data_offset, end = d->size;
	while (end - pos >= sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		const unsigned char *p = d->map + pos;
		uint64_t extra;
		rd_header(p, &h);
		if (h.size < sizeof(h) || h.size > end - pos)
			break; /* perf_data__read reports it */
		extra = payload_size(p, &h);
		if (extra > end - pos - h.size)
			break;
		switch (h.type) {
		case PERF_RECORD_HEADER_ATTR: header_attr_record(d, p, &h); break;
		case PERF_RECORD_HEADER_FEATURE: header_feature_record(d, p, &h); break;
		case PERF_RECORD_EVENT_UPDATE: event_update_record(d, p, &h); break;
		case PERF_RECORD_HEADER_BUILD_ID: header_build_id_record(d, p, &h); break;
		default: break;
		}
		pos += h.size + extra;
	}
	return 0;
}

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

static int walk_decompressed(struct perf_data *d);

static int compressed_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h,
			     uint64_t offset)
{
	const unsigned char *src = p + 8;
	size_t src_size = h->size - 8u;
	ZSTD_inBuffer in;

	if (d->info.compression > 1)
		return fail(d, -EPROTONOSUPPORT, "its data is compressed with method %u; perf and domprof know only zstd (1)",
			    d->info.compression);
	if (h->type == PERF_RECORD_COMPRESSED2) {
		uint64_t n;
		if (h->size < 16)
			return fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu is too short",
				    (unsigned long long)offset);
		n = rd64(p + 8);
		if (n > h->size - 16u)
			return fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu claims %llu bytes of %u",
				    (unsigned long long)offset, (unsigned long long)n, h->size - 16u);
		src = p + 16;
		src_size = (size_t)n;
	}
	if (!d->zstd) {
		d->zstd = ZSTD_createDStream();
		if (!d->zstd || ZSTD_isError(ZSTD_initDStream(d->zstd)))
			return fail(d, -ENOMEM, "cannot set up zstd decompression");
	}
	d->compressed_at = offset;
	d->stats.compressed_bytes += src_size;
	in = (ZSTD_inBuffer){ src, src_size, 0 };
	while (in.pos < in.size) {
		ZSTD_outBuffer out;
		size_t r, before = in.pos;
		if (d->inner_cap - d->inner_len < DECOMPRESS_STEP) {
			d->inner_cap = d->inner_len + DECOMPRESS_STEP;
			d->inner = xrealloc(d->inner, d->inner_cap);
		}
		out = (ZSTD_outBuffer){ d->inner + d->inner_len, d->inner_cap - d->inner_len, 0 };
		r = ZSTD_decompressStream(d->zstd, &out, &in);
		if (ZSTD_isError(r))
			return fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu does not decompress (%s)",
				    (unsigned long long)offset, ZSTD_getErrorName(r));
		if (!out.pos && in.pos == before)
			return fail(d, -EBADMSG, "corrupt: the compressed record at offset %llu makes no progress",
				    (unsigned long long)offset);
		d->inner_len += out.pos;
		d->stats.decompressed_bytes += out.pos;
		if (walk_decompressed(d) < 0)
			return -EBADMSG;
	}
	return 0;
}

/* One record of the stream, top (from the file) or inner (decompressed). */
static int dispatch(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h, bool top,
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
		if (!(top && d->info.pipe))
			header_feature_record(d, p, h);
		return 0;
	case PERF_RECORD_EVENT_UPDATE:
		if (!(top && d->info.pipe))
			event_update_record(d, p, h);
		return 0;
	case PERF_RECORD_HEADER_BUILD_ID:
		if (!(top && d->info.pipe))
			header_build_id_record(d, p, h);
		return 0;
	case PERF_RECORD_ID_INDEX:
		id_index_record(d, p, h);
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
		return compressed_record(d, p, h, offset);
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

/* Walk the complete records of the decompressed buffer; keep an
 * incomplete last one for the next batch (perf splits freely). */
static int walk_decompressed(struct perf_data *d)
{
	size_t pos = 0, len = d->inner_len;
	while (pos < len) {
		struct perf_event_header h;
		const unsigned char *p = d->inner + pos;
		if (d->inner_skip) {
			size_t n = (size_t)MIN(d->inner_skip, (uint64_t)(len - pos));
			pos += n;
			d->inner_skip -= n;
			continue;
		}
		if (len - pos < sizeof(h))
			break;
		rd_header(p, &h);
		if (h.size < sizeof(h))
			return fail(d, -EBADMSG,
				    "corrupt: a record inside the compressed record at offset %llu has size %u",
				    (unsigned long long)d->compressed_at, h.size);
		if (h.size > len - pos)
			break;
		if (dispatch(d, p, &h, false, d->compressed_at) < 0)
			return -EBADMSG;
		d->inner_skip = payload_size(p, &h);
		pos += h.size;
	}
	memmove(d->inner, d->inner + pos, len - pos);
	d->inner_len = len - pos;
	return 0;
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
			return fail(d, -EBADMSG, "corrupt: %zu stray bytes at the end of the data section (offset %zu)",
				    end - pos, pos);
		}
		rd_header(p, &h);
		if (h.size < sizeof(h))
			return fail(d, -EBADMSG, "corrupt: the record at offset %zu has size %u (type %u)", pos, h.size,
				    h.type);
		if (h.size > end - pos) {
			if (open_ended)
				goto tail;
			return fail(d, -EBADMSG,
				    "corrupt or truncated: the record at offset %zu (type %u, %u bytes) runs past the end "
				    "of the data section (offset %zu)",
				    pos, h.type, h.size, end);
		}
		extra = payload_size(p, &h);
		if (extra > end - pos - h.size) {
			if (open_ended)
				goto tail;
			return fail(d, -EBADMSG,
				    "corrupt or truncated: the %llu bytes that follow the record at offset %zu (type %u) "
				    "run past the end of the data section",
				    (unsigned long long)extra, pos, h.type);
		}
		if (dispatch(d, p, &h, true, pos) < 0)
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
		warn(d, "the compressed data ends inside a record; its last %zu bytes were dropped", d->inner_len);
	d->inner_len = 0;
	d->inner_skip = 0;
	if (r < 0) {
		*ret_error = d->error ? d->error : xstrdup(strerror(-r));
		d->error = NULL;
	}
	return r;
}

/* ---- names ---- */

char *perf_data__event_name(const struct perf_event_attr *a)
{
	size_t n;
	const struct event_name *names = events__generic(&n);
	const char *mod = "";
	char *base = NULL, *name;

	if (a->exclude_kernel && !a->exclude_user)
		mod = ":u";
	else if (a->exclude_user && !a->exclude_kernel)
		mod = ":k";
	for (size_t i = 0; i < n && !base; i++)
		if (names[i].type == a->type && names[i].config == a->config)
			base = xstrdup(names[i].name);
	if (!base && a->type == PERF_TYPE_SOFTWARE && a->config == PERF_COUNT_SW_DUMMY)
		base = xstrdup("dummy");
	if (!base && a->type == PERF_TYPE_RAW)
		base = xasprintf("r%llx", (unsigned long long)a->config);
	if (!base)
		base = xasprintf("type%u/config=0x%llx/", a->type, (unsigned long long)a->config);
	name = xasprintf("%s%s", base, mod);
	free(base);
	return name;
}

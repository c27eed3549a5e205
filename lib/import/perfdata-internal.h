/* perfdata-internal: what the files of the perf.data reader share — the
 * reader's state, the layout constants, and the functions one file calls
 * in another. perfdata.c opens the file (header, feature sections);
 * perfdata-attrs.c keeps the events (attributes and their sample ids, and
 * the records that describe them); perfdata-walk.c walks the data section
 * and delivers records in time order; perfdata-compressed.c unpacks zstd
 * batches into that walk. Nobody outside lib/import includes this. */
#pragma once

#include <string.h>
#include <zstd.h>

#include "../util/hmap.h"
#include "../util/util.h"
#include "perfdata.h"

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

/* Fields are read with memcpy: records need not be aligned. */
static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void rd_header(const unsigned char *p, struct perf_event_header *h) { memcpy(h, p, sizeof(*h)); }

/* perfdata.c: the first error, kept for the caller (returns err); a
 * warning, at most 32. */
int perf_data__fail(struct perf_data *d, int err, const char *fmt, ...) PRINTF(3, 4);
void perf_data__warn(struct perf_data *d, const char *fmt, ...) PRINTF(2, 3);
/* perfdata.c: one feature section (file) or HEADER_FEATURE payload
 * (pipe), and one build-id record (p, size bytes, size checked by the
 * caller to hold at least its fixed part). */
void perf_data__parse_feature(struct perf_data *d, unsigned feat, const unsigned char *p, size_t size);
void perf_data__add_build_id(struct perf_data *d, const unsigned char *p, size_t size);

/* perfdata-attrs.c: an attribute of the writer's size (avail bytes at
 * raw) with its n_ids sample ids; the checks once all are known; the
 * pipe layout's events, collected before reading. */
int perf_data__add_attr(struct perf_data *d, const unsigned char *raw, size_t avail, const unsigned char *ids,
			size_t n_ids);
int perf_data__finish_attrs(struct perf_data *d);
int perf_data__scan_pipe(struct perf_data *d);
/* perfdata-attrs.c: bytes that follow a record without being part of
 * it; the records of the stream that describe the capture (a
 * HEADER_FEATURE, an EVENT_UPDATE, a HEADER_BUILD_ID; other types are
 * ignored) and ID_INDEX, checked against the events. */
uint64_t perf_data__payload_size(const unsigned char *p, const struct perf_event_header *h);
void perf_data__describing_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h);
void perf_data__id_index_record(struct perf_data *d, const unsigned char *p,
				 const struct perf_event_header *h);

/* perfdata-walk.c: one record of the stream, top (from the file) or
 * inner (decompressed). */
int perf_data__dispatch(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h, bool top,
			uint64_t offset);
/* perfdata-compressed.c: a COMPRESSED or COMPRESSED2 record at offset. */
int perf_data__compressed_record(struct perf_data *d, const unsigned char *p, const struct perf_event_header *h,
				 uint64_t offset);

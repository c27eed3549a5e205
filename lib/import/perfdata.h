/* perfdata: a reader of the perf.data files that `perf record` and
 * `perf kvm record` write (tools/perf/Documentation/perf.data-file-format.txt).
 *
 * perf_data__open maps the file, checks the header and reads everything
 * that describes the recording: the event attributes with their sample
 * ids, and the feature sections (host name, kernel release, perf's command
 * line, CPU counts, event names, build-ids, clock data). perf_data__read
 * then walks the data section and hands each kernel record (PERF_RECORD_*
 * below 64: samples and side-band) to a callback, in time order, together
 * with the attribute it belongs to. perf's own records (64 and up) are
 * consumed here: rounds, zstd-compressed batches (`perf record -z`),
 * event updates, build-ids; payloads that follow some of them (tracing
 * data, AUX trace) are skipped.
 *
 * Both layouts perf writes are read: the seekable file ("PERFILE2" with a
 * 104-byte header) and the pipe stream (`perf record -o -`, a 16-byte
 * header followed by records that carry the attributes and features).
 * Files in the other byte order and the 2009 "PERFFILE" layout are refused
 * with -EPROTONOSUPPORT.
 *
 * Every size, offset and count read from the file is checked against the
 * file before use; failures return -EBADMSG (corrupt or truncated),
 * -EPROTONOSUPPORT (a perf.data this reader does not handle) or -ENOTSUP
 * (not a perf.data file), with a message that says what and where. The
 * library never prints. */
#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* perf's own record types (tools/lib/perf/include/perf/event.h). */
enum perf_user_record_type {
	PERF_RECORD_HEADER_ATTR = 64,
	PERF_RECORD_HEADER_EVENT_TYPE = 65, /* obsolete */
	PERF_RECORD_HEADER_TRACING_DATA = 66,
	PERF_RECORD_HEADER_BUILD_ID = 67,
	PERF_RECORD_FINISHED_ROUND = 68,
	PERF_RECORD_ID_INDEX = 69,
	PERF_RECORD_AUXTRACE_INFO = 70,
	PERF_RECORD_AUXTRACE = 71,
	PERF_RECORD_AUXTRACE_ERROR = 72,
	PERF_RECORD_THREAD_MAP = 73,
	PERF_RECORD_CPU_MAP = 74,
	PERF_RECORD_STAT_CONFIG = 75,
	PERF_RECORD_STAT = 76,
	PERF_RECORD_STAT_ROUND = 77,
	PERF_RECORD_EVENT_UPDATE = 78,
	PERF_RECORD_TIME_CONV = 79,
	PERF_RECORD_HEADER_FEATURE = 80,
	PERF_RECORD_COMPRESSED = 81,
	PERF_RECORD_FINISHED_INIT = 82,
	PERF_RECORD_COMPRESSED2 = 83, /* 8-byte aligned COMPRESSED, perf 6.15+ */
	PERF_DATA_RECORD_TYPES = 128, /* size of perf_data_stats.by_type */
};

/* Header feature bits (tools/perf/util/header.h). */
enum perf_data_feature {
	PERF_DATA_FEAT_TRACING_DATA = 1,
	PERF_DATA_FEAT_BUILD_ID = 2,
	PERF_DATA_FEAT_HOSTNAME = 3,
	PERF_DATA_FEAT_OSRELEASE = 4,
	PERF_DATA_FEAT_VERSION = 5,
	PERF_DATA_FEAT_ARCH = 6,
	PERF_DATA_FEAT_NRCPUS = 7,
	PERF_DATA_FEAT_CPUDESC = 8,
	PERF_DATA_FEAT_CPUID = 9,
	PERF_DATA_FEAT_TOTAL_MEM = 10,
	PERF_DATA_FEAT_CMDLINE = 11,
	PERF_DATA_FEAT_EVENT_DESC = 12,
	PERF_DATA_FEAT_SAMPLE_TIME = 21,
	PERF_DATA_FEAT_CLOCKID = 23,
	PERF_DATA_FEAT_COMPRESSED = 27,
	PERF_DATA_FEAT_CLOCK_DATA = 29,
	PERF_DATA_FEAT_BITS = 256,
};

/* One event of the recording. attr is the file's perf_event_attr copied
 * into this build's struct: fields the writer did not have are 0, fields
 * newer than this build are dropped. */
struct perf_data_attr {
	struct perf_event_attr attr;
	char *name;     /* from EVENT_DESC or an EVENT_UPDATE; NULL when the file has none */
	uint64_t *ids;  /* the sample ids of this event (one per CPU or thread) */
	size_t n_ids;
};

/* A build-id the file records for an image it has samples in. */
struct perf_data_build_id {
	int32_t pid;      /* -1: the host; else the guest machine's pid */
	uint16_t cpumode; /* PERF_RECORD_MISC_KERNEL, _USER, _GUEST_KERNEL, ... */
	uint8_t size;     /* bytes of build_id in use */
	uint8_t build_id[20];
	char *filename;   /* "/usr/lib/x86_64-linux-gnu/libc.so.6", "[kernel.kallsyms]" */
};

/* What the header and feature sections say; strings NULL and numbers 0
 * when the file does not have them. */
struct perf_data_info {
	bool pipe;              /* the pipe layout */
	bool data_size_unknown; /* the header's data size was 0: perf record did not finish */
	uint64_t data_offset, data_size;
	char *hostname, *osrelease, *version, *arch, *cpudesc, *cpuid;
	char **cmdline; /* perf's own command line, argv-style */
	size_t n_cmdline;
	uint32_t nr_cpus_avail, nr_cpus_online;
	uint64_t total_mem_kb;
	uint64_t first_sample_time, last_sample_time; /* SAMPLE_TIME */
	uint64_t clock_resolution_ns;                 /* CLOCKID */
	bool have_clock_data;                         /* CLOCK_DATA */
	uint32_t clockid;
	uint64_t clock_tod_ns, clock_clockid_ns; /* one instant in wall-clock and in clockid time */
	uint32_t compression;                    /* COMPRESSED: 1 = zstd */
	struct perf_data_build_id *build_ids;
	size_t n_build_ids;
	uint64_t features[PERF_DATA_FEAT_BITS / 64]; /* bitmap of the sections present */
};

struct perf_data_stats {
	uint64_t records;         /* every record read, those inside compressed ones included */
	uint64_t by_type[PERF_DATA_RECORD_TYPES];
	uint64_t delivered;       /* kernel records handed to the callback */
	uint64_t unknown_records; /* records of types this reader does not know: skipped */
	uint64_t unmatched;       /* samples whose id belongs to no attribute: skipped */
	uint64_t unordered;       /* records that arrived after a later one was delivered */
	uint64_t ignored_attrs;   /* attributes announced too late to be used (inside compressed data) */
	uint64_t compressed_bytes, decompressed_bytes;
	uint64_t rounds;
	bool truncated_tail;      /* an unfinished capture ends inside a record: the rest was dropped */
};

struct perf_data;

/* Map and check path. On failure *ret_error (to free) says what is wrong
 * without naming the file; the caller adds it. */
int perf_data__open(const char *path, struct perf_data **ret, char **ret_error);
void perf_data__free(struct perf_data *d);

const char *perf_data__path(const struct perf_data *d);
uint64_t perf_data__file_size(const struct perf_data *d);
const struct perf_data_info *perf_data__info(const struct perf_data *d);
size_t perf_data__n_attrs(const struct perf_data *d);
const struct perf_data_attr *perf_data__attr(const struct perf_data *d, size_t i);
/* The attribute of a sample id, or -1. */
int perf_data__attr_of_id(const struct perf_data *d, uint64_t id);
/* Warnings collected while reading (malformed optional sections and the
 * like); valid until perf_data__free. */
size_t perf_data__n_warnings(const struct perf_data *d);
const char *perf_data__warning(const struct perf_data *d, size_t i);
const struct perf_data_stats *perf_data__stats(const struct perf_data *d);

/* The record callback: h is 8-byte aligned and h->size bytes long, valid
 * during the call; attr indexes perf_data__attr. */
typedef void (*perf_data_record_fn)(const struct perf_event_header *h, size_t attr, void *ctx);

/* Walk the data section once, calling fn for every kernel record in time
 * order. 0, or -errno with *ret_error: the records delivered before the
 * error stand. */
int perf_data__read(struct perf_data *d, perf_data_record_fn fn, void *ctx, char **ret_error);

/* The name perf gives an event it has no name for: generic names for the
 * hardware, software and cache events, rHEX for raw ones, with :u/:k when
 * only user or kernel mode is counted. To free. */
char *perf_data__event_name(const struct perf_event_attr *attr);

/* collector: the recording pipeline after the sampler — decoded records
 * in, profile out. Side-band records update the machine; each sample is
 * classified (domain, layer), symbolized, its call chain interned, and
 * added to the profile's counters and timeline. The host recorder, the
 * guest agent and the perf.data importer all drive one of these. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../aggregate/profile.h"
#include "../domain/machine.h"
#include "../events/events.h"
#include "../sampler/perf-record.h"
#include "../session/session.h"
#include "../symbol/unwind.h"

/* The most user frames a dwarf walk yields per sample: perf's default
 * --max-stack (127) and one more; deeper stacks end with the marker. */
#define COLLECTOR_MAX_USER_FRAMES 128
/* The image and function of the frame that ends a user stack a dwarf
 * walk could not finish (no CFI, stack copy too short, too deep). */
#define COLLECTOR_UNWIND_MARKER "[unwind stopped]"

struct collector_event_stats {
	uint64_t samples;
	uint64_t period;
	uint64_t lost;
	uint64_t idle_skipped;
};

/* A direct-mapped cache from (event, thread, cpumode, ip) to the sample
 * counter and place it resolved to: hot loops hit the same few addresses,
 * and a hit skips classification, symbol lookup and hashing. Emptied by
 * every side-band record, since those are what change a resolution: by a
 * new generation, not by clearing the slots (a fork storm interleaves
 * samples with several side-band records per process). */
#define COLLECTOR_CACHE_SLOTS 8192
struct collector_cache_slot {
	uint64_t ip;
	uint32_t tid;
	uint32_t entry1; /* sample counter index + 1 */
	uint32_t gen;    /* the cache generation it was filled in; 0 = empty */
	uint32_t domain;
	uint16_t event;
	uint8_t cpumode;
	uint8_t layer;
};

struct collector {
	struct machine machine;
	struct profile *profile;
	uint64_t start_time;  /* sample clock at the start, for timeline buckets */
	uint64_t bucket_ns;   /* timeline resolution */
	bool callchain;
	bool skip_idle;       /* drop samples of the idle task (agents: a halted vCPU costs the host nothing) */
	size_t n_events;
	struct collector_event_stats *stats; /* per event */
	uint64_t bad_records; /* records that failed to decode */
	uint64_t unknown_records;
	uint64_t lost_total;  /* LOST records with no known event */
	struct collector_cache_slot *cache;
	bool cache_dirty;     /* some slot is filled in this generation */
	uint32_t cache_gen;   /* the current generation, from 1 */
	size_t cache_vms;     /* machine VMs when the cache was last valid */
	uint64_t bucket_lo;   /* start (relative) of the last timeline bucket */
	uint32_t bucket_cur;  /* and its number */
	/* --call-graph dwarf: samples carry user registers (this
	 * attr.sample_regs_user) and stack; the user part of each stack is
	 * unwound here, while recording, and joined to the kernel's part. */
	uint64_t regs_user_mask;
	struct unwinder *unwinder;
	uint64_t *chain;       /* scratch: the joined chain of one sample */
	size_t chain_cap;
	uint32_t marker_image, marker_symbol; /* profile ids, 0 until first used */
	uint64_t unwind_marked; /* stacks that end with the marker frame */
	struct unwind_stats unwind_base; /* the unwinder's counts when this session began */
	/* The host's period of counters dropped from memory, per symbol and
	 * event ([symbol * n_events + event - 1]) and per event: what
	 * hot-code.c still needs of them to rank functions over the run. */
	uint64_t *dropped_period;
	size_t n_dropped_symbols; /* symbols dropped_period has room for */
	uint64_t *dropped_total;
	/* malloc_trim: flushes that freed something since the last, and the
	 * machine's unloaded images then (see collector__forget). */
	uint32_t untrimmed_flushes;
	uint64_t trimmed_unloads;
	uint32_t forgets; /* collector__forget calls: idle counters every COLLECTOR_IDLE_SCAN */
	/* Set by the reader before each record: it is so far behind the
	 * kernel that walking this sample's stack would make the ring
	 * overflow. The sample keeps the kernel's part of its stack and its
	 * user IP, ends with the marker, and is counted in unwind_behind:
	 * a sample without its callers rather than a lost sample. */
	bool reader_behind;
	uint64_t unwind_behind;
};

/* How long a timeline bucket stays in memory after it ends: samples reach
 * the collector within one ring wait of being taken (well under a
 * second), so a bucket two seconds old is final; a late sample still
 * counts (a new row of the same bucket), it only costs a row. */
#define COLLECTOR_TIMELINE_KEEP_NS 2000000000ULL

void collector__init(struct collector *c, struct profile *p, size_t n_events, bool live);
void collector__release(struct collector *c);
/* One line per event (of c->n_events, described by events): samples and
 * period, in msec for clock events; the end-of-run summary. */
void collector__print_totals(const struct collector *c, const struct event_spec *events, FILE *out);

/* Unwind user stacks from the samples' registers and stack copies
 * (--call-graph dwarf; callchain is then on too). 0 or -errno. */
int collector__enable_unwinding(struct collector *c);

/* --call-graph dwarf: one line on the walks and how many ended at the
 * marker, and why (nothing without dwarf). */
void collector__print_unwind(const struct collector *c, FILE *out);
/* The same into the session's meta keys unwind_walks, unwind_stopped,
 * unwind_stopped_no_cfi, _stack, _depth. 0 or -errno. */
int collector__write_unwind(const struct collector *c, struct session *s);

/* Samples taken so far, over every event. */
uint64_t collector__samples(const struct collector *c);

/* Write what changed in the profile since the last flush, the events'
 * running totals and, unless NULL, span into s (session__write_flush):
 * the one way the recorder and the importer write their profile. */
int collector__flush(struct collector *c, struct session *s, const struct session_span *span);

/* Drop from memory what is written and can no longer change: exited
 * threads (machine__reap), their counters, timeline buckets past
 * COLLECTOR_TIMELINE_KEEP_NS; and what is written and has not changed
 * for COLLECTOR_IDLE_FLUSHES flushes: a live thread's counter of an
 * address it no longer runs (looked for every COLLECTOR_IDLE_SCAN calls).
 * Such a counter that counts again is a new one, a second session row
 * with the same columns, which readers sum (docs/session-format.md): a
 * long-lived thread's counters are then bounded by the code it ran in the
 * last minute, not by all it ever ran. The session keeps all of it. The memory
 * freed goes back to the system (malloc_trim) when a symbol table went,
 * else every COLLECTOR_TRIM_FLUSHES flushes that freed anything (and at
 * each rotation, collector__restart). For a
 * recorder that flushes while it runs, after each flush that worked (an
 * importer writes once, at the end, and needs none). */
void collector__forget(struct collector *c);
#define COLLECTOR_TRIM_FLUSHES 10
#define COLLECTOR_IDLE_FLUSHES 60
#define COLLECTOR_IDLE_SCAN 10

/* Start a new session's profile (rotation), after a flush: counters,
 * thread rows and the events' totals start from zero, the timeline from
 * start_time (the sample clock; 0: the next sample's); of the catalog,
 * only the rows keep marks stay (profile__restart: keep, which may be
 * NULL, then maps old ids to new). The machine and its images stay; the
 * profile ids they cached are interned again when next sampled. */
void collector__restart(struct collector *c, uint64_t start_time, struct profile_catalog_map *keep);

/* Compact the profile's catalog (profile__compact; an agent's, whose
 * profile is no session): rows that no live counter names go, but for
 * the functions hot enough for the end-of-run code capture; the
 * machine's cached ids and the dropped counters' periods follow. keep is
 * made here and maps old ids to new (profile_catalog_map__release).
 * Right after a flush. Returns how many rows went. */
size_t collector__compact(struct collector *c, struct profile_catalog_map *keep);

/* A sample of event index ev (0-based). */
void collector__sample(struct collector *c, const struct perf_sample *s, uint32_t ev);

/* Any record: dispatches by type. event_of_id maps a sample id to an event
 * index (or -1: the record is counted as bad). */
void collector__record(struct collector *c, const struct perf_event_header *h, uint64_t sample_type,
		       uint64_t read_format, int (*event_of_id)(void *ctx, uint64_t id), void *ctx);

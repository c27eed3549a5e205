/* collector: the recording pipeline after the sampler — decoded records
 * in, profile out. Side-band records update the machine; each sample is
 * classified (domain, layer), symbolized, its call chain interned, and
 * added to the profile's counters and timeline. The host recorder, the
 * guest agent and the perf.data importer all drive one of these. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "../domain/machine.h"
#include "../sampler/record.h"

struct collector_event_stats {
	uint64_t samples;
	uint64_t period;
	uint64_t lost;
	uint64_t idle_skipped;
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
};

void collector__init(struct collector *c, struct profile *p, size_t n_events, bool live);
void collector__release(struct collector *c);

/* A sample of event index ev (0-based). */
void collector__sample(struct collector *c, const struct perf_sample *s, uint32_t ev);

/* Any record: dispatches by type. event_of_id maps a sample id to an event
 * index (or -1: the record is counted as bad). */
void collector__record(struct collector *c, const struct perf_event_header *h, uint64_t sample_type,
		       uint64_t read_format, int (*event_of_id)(void *ctx, uint64_t id), void *ctx);

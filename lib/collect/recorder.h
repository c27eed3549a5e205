/* recorder: sampler + collector + profile, driven in steps. It opens the
 * events, synthesizes the running system, and on each step waits for the
 * rings and feeds every record through the collector. What to do with the
 * profile's delta (write a session, send it to a coordinator) is the
 * caller's: the host's `record` and the guest's agent both use this. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../aggregate/profile.h"
#include "../sampler/sampler.h"
#include "collector.h"

struct recorder {
	struct sampler *sampler;
	struct profile profile;
	struct collector collector;
	struct event_spec *events;
	size_t n_events;
	uint64_t start_ns;     /* CLOCK_MONOTONIC at enable */
	uint64_t stop_ns;
	bool clock_monotonic;  /* sample times are CLOCK_MONOTONIC */
	bool tasks_gone;       /* every task-bound event hung up */
	bool prepared;         /* recorder__prepare done */
};

struct recorder_config {
	const struct event_spec *events;
	size_t n_events;
	bool system_wide;
	const pid_t *tids;
	size_t n_tids;
	bool inherit;
	bool enable_on_exec;
	bool callchain;
	size_t ring_pages;
	uint64_t bucket_ns; /* timeline resolution; 0 = 100 ms */
};

/* Open the events (nothing is sampled yet). On failure *ret_error names
 * the event and why. */
int recorder__open(struct recorder *r, const struct recorder_config *cfg, char **ret_error);
/* The slow part of starting: track side-band records, read /proc, load
 * the kernel's symbols. Done by recorder__start when not done before;
 * coordinated starts call it first so that the start itself is quick. */
int recorder__prepare(struct recorder *r);
/* Enable sampling (preparing first if needed); start_ns is now. */
int recorder__start(struct recorder *r);
/* Wait up to timeout_ms for data and process it. Returns records read,
 * or -EINTR (signal). */
int recorder__step(struct recorder *r, int timeout_ms);
/* Disable the events and process what is left in the rings. */
void recorder__stop(struct recorder *r);
void recorder__release(struct recorder *r);

uint64_t recorder__samples(const struct recorder *r);
uint64_t recorder__lost(const struct recorder *r);

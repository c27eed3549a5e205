/* recorder: sampler + collector + profile, driven in steps. It opens the
 * events, synthesizes the running system, and on each step waits for the
 * rings and feeds every record through the collector. The host's `record`
 * and the guest's agent both use this.
 *
 * On the host the recorder writes its own session, through the same path
 * as the importer (session__write_*): recorder__create_session before the
 * start, recorder__flush_if_due in the loop, recorder__finish_session
 * after the stop. An agent has no session: its caller ships the profile's
 * delta to the coordinator instead.
 *
 * Lifecycle: recorder__open, [recorder__create_session],
 * [recorder__prepare], recorder__start, recorder__step..., recorder__stop,
 * [recorder__finish_session], recorder__release. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../aggregate/profile.h"
#include "../sampler/sampler.h"
#include "../session/session.h"
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
	/* Data pages of each CPU's ring: mapped, and what the automatic
	 * sizing wanted (0 when -m chose); less when the kernel's mlock limit
	 * (kernel.perf_event_mlock_kb, RLIMIT_MEMLOCK) refused more. */
	size_t ring_pages, ring_pages_wanted;
	struct recorder_output *output; /* the session it writes, or NULL */
	/* Keep what a flush could drop (collector__forget): for a reader that
	 * holds profile indexes across flushes (top's model). */
	bool keep_flushed;
};

/* How often the profile is flushed into the session: a recorder that is
 * killed loses at most this much. */
#define RECORDER_FLUSH_INTERVAL_NS 1000000000ULL

struct recorder_config {
	const struct event_spec *events;
	size_t n_events;
	bool system_wide;
	const pid_t *tids;
	size_t n_tids;
	bool inherit;
	bool enable_on_exec;
	bool callchain;
	uint32_t user_stack_size; /* > 0: --call-graph dwarf (sampler_config) */
	size_t ring_pages;
	uint64_t bucket_ns; /* timeline resolution; 0 = 100 ms */
};

/* The data pages per CPU ring recorder__open asks for when cfg gives
 * none: RING_SECONDS of records at the highest rate asked for, so a slow
 * flush does not lose samples; at least the kernel's default, at most
 * RING_MAX_PAGES per CPU and RING_MAX_TOTAL over all CPUs. */
size_t recorder__ring_pages(const struct recorder_config *cfg);

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

/* Create the session at path (an existing one is kept as path.old) and
 * write the events into it. run: what the caller knows of the run
 * (command_line, target, workload, target_pid; copied); the recorder adds
 * the rest (this machine, its CPUs, the clock, the start) at
 * recorder__start. -errno with *ret_error when it cannot be created. */
int recorder__create_session(struct recorder *r, const char *path, const struct session_run *run,
			     char **ret_error);
/* Flush the profile into the session when RECORDER_FLUSH_INTERVAL_NS
 * passed since the last flush. 1 when it flushed, 0 when not due, or
 * -errno when the write failed: the session keeps everything up to the
 * last flush that worked. */
int recorder__flush_if_due(struct recorder *r);
/* When the next flush is due (CLOCK_MONOTONIC ns), 0 without a session:
 * how long the loop may wait. */
uint64_t recorder__next_flush_ns(const struct recorder *r);
/* recorder__step's waits end also when fd becomes readable
 * (sampler__watch). 0, or -EINVAL before recorder__start. */
int recorder__watch(struct recorder *r, int fd);
/* After recorder__stop: the final flush, the code of the hottest
 * functions (for annotate), per-CPU counts and the end state; the file is
 * then complete and self-contained. 0 or -errno. */
int recorder__finish_session(struct recorder *r);
/* Rotation: complete the current session (as recorder__finish_session
 * would, at this instant) and go on recording into a new one at path,
 * created as recorder__create_session does, with the same description of
 * the run and its own start. Each session is complete on its own:
 * counters and totals start from zero; the catalog starts from what keep
 * marks (NULL: nothing), the rest is interned again as it is sampled. With
 * agents, the caller carries their live rows across (coordinator__rotate_save
 * marks them in keep before, coordinator__rotate_apply translates them
 * after, with keep's new ids). 0, or -errno
 * with *ret_error: when path cannot be created (or no session is being
 * written) the current session goes on and keep is untouched; when the
 * current one cannot be completed, the next one is recording anyway. */
int recorder__rotate_session(struct recorder *r, const char *path, struct profile_catalog_map *keep,
			     char **ret_error);
/* The session being written, for what others add to it (agents), or NULL. */
struct session *recorder__session(struct recorder *r);
/* CLOCK_MONOTONIC when the session being written started (0 without one). */
uint64_t recorder__session_start_ns(const struct recorder *r);

uint64_t recorder__samples(const struct recorder *r);
uint64_t recorder__lost(const struct recorder *r);

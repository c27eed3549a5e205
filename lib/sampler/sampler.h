/* sampler: opens the sampling events with perf_event_open, one per event
 * per CPU (system-wide) or per task per CPU, funnels every event of a CPU
 * into one mmap ring (PERF_EVENT_IOC_SET_OUTPUT), and hands the records of
 * all rings back in timestamp order. It knows nothing of processes,
 * symbols or sessions. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "../events/events.h"
#include "perf-record.h"

struct sampler;

/* A ring's data pages when none are asked for: the kernel's (and perf's)
 * default, 512 KiB with 4 KiB pages. */
#define SAMPLER_DEFAULT_RING_PAGES 128
/* The most data pages one ring may ask for (4 GiB with 4 KiB pages): far
 * past what the kernel lets a user lock, so a larger -m is a typo. */
#define SAMPLER_MAX_RING_PAGES (1u << 20)

/* The user stack copied per sample by --call-graph dwarf when no size is
 * given: perf's default, enough for the frames of most programs. */
#define SAMPLER_DEFAULT_USER_STACK 8192
/* The most the kernel copies: a sample record's size is 16 bits, so
 * attr.sample_stack_user must stay below USHRT_MAX (and be a multiple of 8). */
#define SAMPLER_MAX_USER_STACK 65528

/* The user registers asked for with the stack: those DWARF CFI may name
 * on this architecture (x86_64: the 16 general registers and IP, as
 * PERF_REG_X86_* bits); 0 where dwarf call graphs are not supported. */
extern const uint64_t SAMPLER_REGS_USER_MASK;

struct sampler_config {
	const struct event_spec *events;
	size_t n_events;
	bool system_wide;    /* every online CPU, every task */
	const pid_t *tids;   /* else: these tasks (on every CPU) */
	size_t n_tids;
	bool inherit;        /* follow children created after opening */
	bool enable_on_exec; /* start counting when the (stopped) task execs */
	bool callchain;      /* PERF_SAMPLE_CALLCHAIN */
	/* --call-graph dwarf: > 0 asks for the user registers
	 * (SAMPLER_REGS_USER_MASK) and this many bytes of user stack with each
	 * sample, a multiple of 8 up to SAMPLER_MAX_USER_STACK; the kernel's
	 * call chain then stops at the user boundary (exclude_callchain_user),
	 * the user part being unwound from the copy. Needs callchain. */
	uint32_t user_stack_size;
	size_t ring_pages;   /* data pages per CPU ring, power of two; 0 = SAMPLER_DEFAULT_RING_PAGES */
};

/* What failed when sampler__open fails: the event index and CPU. */
struct sampler_error {
	int event;
	int cpu;
	pid_t tid;
	bool ring; /* the failure was mapping a ring, not opening an event */
};

int sampler__open(const struct sampler_config *cfg, struct sampler **ret, struct sampler_error *ret_error);
void sampler__free(struct sampler *s);

/* Start the side-band tracking only (before reading /proc), then all. */
int sampler__enable_tracking(struct sampler *s);
int sampler__enable(struct sampler *s);
int sampler__disable(struct sampler *s);

/* Wait until a ring passes its wakeup watermark, a watched fd is
 * readable, or timeout_ms. Returns >0 when data is ready (or a watched fd
 * is), 0 on timeout, -EINTR when a signal came in, -EPIPE when every
 * task-bound event has hung up (the tasks are gone). */
int sampler__wait(struct sampler *s, int timeout_ms);
/* fd (not owned) ends sampler__wait's waits too when it becomes
 * readable: a pidfd, so a command's exit is seen at once however long
 * the wait. 0. */
int sampler__watch(struct sampler *s, int fd);

/* Callback for each record, in timestamp order across rings; ring is the
 * CPU ring index. The record is valid only during the call. */
typedef void (*sampler_record_fn)(const struct perf_event_header *rec, unsigned ring, void *ctx);
/* Read everything currently in the rings. Returns records delivered. */
size_t sampler__read(struct sampler *s, sampler_record_fn fn, void *ctx);

uint64_t sampler__sample_type(const struct sampler *s);
/* attr.sample_regs_user of the sampling events (0 without dwarf). */
uint64_t sampler__regs_user_mask(const struct sampler *s);
/* Event index of a sample id, or -1. */
int sampler__event_of_id(const struct sampler *s, uint64_t id);
/* Whether sample times are CLOCK_MONOTONIC (else the kernel's perf clock). */
bool sampler__clock_monotonic(const struct sampler *s);

size_t sampler__n_rings(const struct sampler *s);
int sampler__ring_cpu(const struct sampler *s, unsigned ring);
/* Counters per ring, kept while reading: samples read, samples lost. */
uint64_t sampler__ring_samples(const struct sampler *s, unsigned ring);
uint64_t sampler__ring_lost(const struct sampler *s, unsigned ring);
/* A ring's data bytes, and how many of them hold records not read yet
 * (ring__backlog): the reader's lag, now. */
size_t sampler__ring_size(const struct sampler *s, unsigned ring);
size_t sampler__ring_backlog(const struct sampler *s, unsigned ring);

/* Online CPUs from /sys/devices/system/cpu/online. */
int cpus__online(int **ret, size_t *ret_n);

/* Building perf records in tests, laid out exactly as the kernel writes
 * them (include/uapi/linux/perf_event.h), so decoding and classification
 * can be tested without a PMU, a VM or root. */
#pragma once

#include <linux/perf_event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_SAMPLE_TYPE                                                                                        \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |          \
	 PERF_SAMPLE_PERIOD)

struct synth {
	unsigned char buf[4096];
	size_t len;
};

static inline void synth_u64(struct synth *s, uint64_t v)
{
	memcpy(s->buf + s->len, &v, 8);
	s->len += 8;
}

static inline void synth_u32x2(struct synth *s, uint32_t a, uint32_t b)
{
	memcpy(s->buf + s->len, &a, 4);
	memcpy(s->buf + s->len + 4, &b, 4);
	s->len += 8;
}

static inline void synth_str(struct synth *s, const char *str)
{
	size_t n = strlen(str) + 1, padded = (n + 7) & ~(size_t)7;
	memset(s->buf + s->len, 0, padded);
	memcpy(s->buf + s->len, str, n);
	s->len += padded;
}

static inline void synth_begin(struct synth *s, uint32_t type, uint16_t misc)
{
	struct perf_event_header h = { .type = type, .misc = misc, .size = 0 };
	memcpy(s->buf, &h, sizeof(h));
	s->len = sizeof(h);
}

/* sample_id trailer for SYNTH_SAMPLE_TYPE: tid, time, cpu, identifier. */
static inline void synth_sample_id(struct synth *s, uint32_t pid, uint32_t tid, uint64_t time, uint64_t id)
{
	synth_u32x2(s, pid, tid);
	synth_u64(s, time);
	synth_u32x2(s, 0, 0);
	synth_u64(s, id);
}

static inline const struct perf_event_header *synth_end(struct synth *s)
{
	struct perf_event_header *h = (struct perf_event_header *)s->buf;
	h->size = (uint16_t)s->len;
	return h;
}

static inline const struct perf_event_header *synth_exit(struct synth *s, uint32_t pid, uint32_t ppid, uint32_t tid,
							  uint32_t ptid)
{
	synth_begin(s, PERF_RECORD_EXIT, 0);
	synth_u32x2(s, pid, ppid);
	synth_u32x2(s, tid, ptid);
	synth_u64(s, 1);
	synth_sample_id(s, pid, tid, 1, 1);
	return synth_end(s);
}

static inline const struct perf_event_header *synth_sample(struct synth *s, uint16_t cpumode, uint32_t pid,
							    uint32_t tid, uint64_t ip, uint64_t time, uint64_t period,
							    uint64_t id)
{
	synth_begin(s, PERF_RECORD_SAMPLE, cpumode);
	synth_u64(s, id);
	synth_u64(s, ip);
	synth_u32x2(s, pid, tid);
	synth_u64(s, time);
	synth_u32x2(s, 0, 0);
	synth_u64(s, period);
	return synth_end(s);
}

/* A sample with a call chain, for sample type SYNTH_SAMPLE_TYPE |
 * PERF_SAMPLE_CALLCHAIN: the kernel's context marker, then chain[0] (the
 * sampled ip) to chain[n - 1] (the outermost caller). */
static inline const struct perf_event_header *synth_sample_chain(struct synth *s, uint16_t cpumode, uint32_t pid,
								  uint32_t tid, uint64_t time, uint64_t period,
								  uint64_t id, const uint64_t *chain, size_t n)
{
	synth_sample(s, cpumode, pid, tid, chain[0], time, period, id);
	synth_u64(s, n + 1);
	synth_u64(s, cpumode == PERF_RECORD_MISC_USER ? PERF_CONTEXT_USER : PERF_CONTEXT_KERNEL);
	for (size_t i = 0; i < n; i++)
		synth_u64(s, chain[i]);
	return synth_end(s);
}

static inline const struct perf_event_header *synth_comm(struct synth *s, uint32_t pid, uint32_t tid,
							  const char *comm, int exec)
{
	synth_begin(s, PERF_RECORD_COMM, exec ? PERF_RECORD_MISC_COMM_EXEC : 0);
	synth_u32x2(s, pid, tid);
	synth_str(s, comm);
	synth_sample_id(s, pid, tid, 1, 1);
	return synth_end(s);
}

static inline const struct perf_event_header *synth_fork(struct synth *s, uint32_t pid, uint32_t ppid, uint32_t tid,
							  uint32_t ptid)
{
	synth_begin(s, PERF_RECORD_FORK, 0);
	synth_u32x2(s, pid, ppid);
	synth_u32x2(s, tid, ptid);
	synth_u64(s, 1);
	synth_sample_id(s, pid, tid, 1, 1);
	return synth_end(s);
}

static inline const struct perf_event_header *synth_mmap2(struct synth *s, uint32_t pid, uint32_t tid, uint64_t start,
							   uint64_t len, uint64_t pgoff, uint32_t prot,
							   const char *filename)
{
	synth_begin(s, PERF_RECORD_MMAP2, PERF_RECORD_MISC_USER);
	synth_u32x2(s, pid, tid);
	synth_u64(s, start);
	synth_u64(s, len);
	synth_u64(s, pgoff);
	synth_u32x2(s, 8, 1); /* maj, min */
	synth_u64(s, 1234);   /* ino */
	synth_u64(s, 0);      /* ino_generation */
	synth_u32x2(s, prot, 2 /* MAP_PRIVATE */);
	synth_str(s, filename);
	synth_sample_id(s, pid, tid, 1, 1);
	return synth_end(s);
}

/* Shared by the test workloads: a fixed amount of pure CPU work, expanded
 * inline into each function so the time lands in that function itself; and
 * the workload's own account of where its time went, the truth the tests
 * compare profiles with (tests/integration/truth.py, docs/testing.md).
 *
 * How long a split of work takes depends on the machine (its CPU, its
 * load, its hypervisor), so the tests never assume it: each workload
 * measures the thread CPU time spent inside each of its hot functions,
 * around every call, and prints at exit one line
 *     PROG cpu-ns: pid=PID FN=NS ... total=NS reads=N read_ns=NS
 * total being the process's CPU time (the pid tells this run's samples from
 * those of other programs of the same name on a shared host). A clock read is a system call
 * (CLOCK_THREAD_CPUTIME_ID has no vDSO path): each interval between two
 * reads holds about one read's cost besides the function, so the cost of a
 * read, measured at start, is taken out of each interval; reads and
 * read_ns let a test allow for the time the reads themselves took. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORK_LOOP(units)                                                  \
	do {                                                              \
		uint64_t x_ = 0x9e3779b97f4a7c15ULL;                      \
		for (long i_ = 0; i_ < (long)(units) * 1000; i_++) {      \
			x_ ^= x_ << 13;                                   \
			x_ ^= x_ >> 7;                                    \
			x_ ^= x_ << 17;                                   \
			__asm__ volatile("" : "+r"(x_));                  \
		}                                                         \
		work_sink += x_;                                          \
	} while (0)

extern volatile uint64_t work_sink;
void libwork_ten(long units);

static inline uint64_t work_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The laps of one thread: each lap charges the thread CPU time since the
 * previous lap, less one read's cost, to an account. */
struct work_timer {
	uint64_t last;
	uint64_t read_ns; /* cost of one clock read, measured by work_timer_init */
	uint64_t reads;
};

static inline void work_timer_init(struct work_timer *t)
{
	/* The cheapest of many back-to-back reads: the cost of a read when
	 * nothing else (an interrupt, a preemption) lands in it. */
	uint64_t best = UINT64_MAX, prev = work_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (int i = 0; i < 2000; i++) {
		uint64_t now = work_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		if (now - prev < best)
			best = now - prev;
		prev = now;
	}
	t->read_ns = best;
	t->reads = 0;
	t->last = work_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline void work_timer_lap(struct work_timer *t, uint64_t *account)
{
	uint64_t now = work_clock_ns(CLOCK_THREAD_CPUTIME_ID), d = now - t->last;
	if (account)
		*account += d > t->read_ns ? d - t->read_ns : 0;
	t->reads++;
	t->last = now;
}

/* The size of a round of work, in thousandths, varied from round to round
 * (500 to 1500, from a fixed pseudo-random sequence, so that -n ROUNDS is
 * always the same work): a sampling profiler's fixed period would
 * otherwise meet the same phase of fixed-length rounds again and again,
 * its samples would not be independent and the shares would stray far
 * beyond their binomial spread (measured with perf at 1 kHz on rounds of
 * about 2 ms: 4.5 standard deviations). */
static inline long work_round_permille(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x2545f4914f6cdd1dULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return 500 + (long)((x >> 11) % 1001);
}

/* How long a workload runs: "SECONDS" of wall time (the historical form),
 * "-c SECONDS" of its own CPU time (the same number of samples on a
 * loaded machine as on an idle one), or "-n ROUNDS" of work. */
struct work_span {
	double seconds;
	int cpu;
	long rounds;
	uint64_t start_wall, start_cpu;
};

static inline struct work_span work_span_parse(int argc, char **argv, double default_seconds)
{
	struct work_span s = { default_seconds, 0, 0, 0, 0 };
	if (argc > 2 && !strcmp(argv[1], "-n"))
		s.rounds = atol(argv[2]);
	else if (argc > 2 && !strcmp(argv[1], "-c"))
		s.seconds = atof(argv[2]), s.cpu = 1;
	else if (argc > 1)
		s.seconds = atof(argv[1]);
	s.start_wall = work_clock_ns(CLOCK_MONOTONIC);
	s.start_cpu = work_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	return s;
}

static inline int work_span_more(const struct work_span *s, long rounds)
{
	if (s->rounds)
		return rounds < s->rounds;
	if (s->cpu)
		return work_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - s->start_cpu < (uint64_t)(s->seconds * 1e9);
	return work_clock_ns(CLOCK_MONOTONIC) - s->start_wall < (uint64_t)(s->seconds * 1e9);
}

/* Print "PROG cpu-ns: pid=PID NAME=NS ... total=NS reads=N read_ns=NS". */
static inline void work_report(const char *prog, const char *const *names, const uint64_t *ns, int n,
			       const struct work_timer *t)
{
	printf("%s cpu-ns: pid=%d", prog, (int)getpid());
	for (int i = 0; i < n; i++)
		printf(" %s=%llu", names[i], (unsigned long long)ns[i]);
	printf(" total=%llu reads=%llu read_ns=%llu\n", (unsigned long long)work_clock_ns(CLOCK_PROCESS_CPUTIME_ID),
	       (unsigned long long)t->reads, (unsigned long long)t->read_ns);
	fflush(stdout);
}

/* nofp-sort: a program built as distributions build (-O2, no frame
 * pointers) whose time goes two ways, both from main: sorting through
 * libc's qsort with its own comparator (qsort_compare, the hot part of
 * the sort), and a loop in a function main calls directly (nofp_direct).
 * A frame-pointer walk cannot pass through such code; a CFI walk can.
 * Prints, as the truth for the tests, the CPU time each phase took
 * (work.h): "qsort" is the whole qsort call, comparator included.
 *   usage: nofp-sort [SECONDS | -c CPU_SECONDS | -n ROUNDS] */
#include <stdlib.h>

#include "work.h"

#define SORT_ELEMENTS 4096

volatile uint64_t work_sink;

/* An expensive key: the comparator is where a sort's time goes. */
static inline uint64_t key_of(uint64_t v)
{
	for (int i = 0; i < 24; i++) {
		v ^= v << 13;
		v ^= v >> 7;
		v ^= v << 17;
		__asm__ volatile("" : "+r"(v));
	}
	return v;
}

__attribute__((noinline)) int qsort_compare(const void *a, const void *b)
{
	uint64_t x = key_of(*(const uint64_t *)a), y = key_of(*(const uint64_t *)b);
	return x < y ? -1 : x > y;
}

__attribute__((noinline)) void nofp_direct(long units) { WORK_LOOP(units); }

int main(int argc, char **argv)
{
	static const char *const names[] = { "qsort", "nofp_direct" };
	static uint64_t data[SORT_ELEMENTS];
	struct work_span span = work_span_parse(argc, argv, 3.0);
	struct work_timer t;
	uint64_t ns[2] = { 0, 0 }, rng = 0;
	long rounds = 0;
	work_timer_init(&t);
	while (work_span_more(&span, rounds)) {
		long f = work_round_permille(&rng);
		size_t n = (size_t)(SORT_ELEMENTS * f / 1500);
		for (size_t i = 0; i < n; i++)
			data[i] = (uint64_t)(i * 0x9e3779b97f4a7c15ULL) ^ rng;
		work_timer_lap(&t, NULL);
		qsort(data, n, sizeof(data[0]), qsort_compare);
		work_timer_lap(&t, &ns[0]);
		nofp_direct(2000 * f / 1000);
		work_timer_lap(&t, &ns[1]);
		rounds++;
	}
	printf("nofp-sort: %ld rounds in %.6f s\n", rounds, (work_clock_ns(CLOCK_MONOTONIC) - span.start_wall) / 1e9);
	work_report("nofp-sort", names, ns, 2, &t);
	return 0;
}

/* split: one thread doing 60/30/10 of its work in three functions —
 * split_sixty and split_thirty in this PIE executable, libwork_ten in a
 * shared library, in rounds of varying size (work.h). Runs for the given seconds of wall time (default 3), of
 * its own CPU time (-c), or a fixed amount of work (-n ROUNDS). Prints at
 * exit the rounds done and, as the truth for the tests, the CPU time each
 * function took (work.h).
 *   usage: split [SECONDS | -c CPU_SECONDS | -n ROUNDS] */
#include <stdio.h>

#include "work.h"

__attribute__((noinline)) void split_sixty(long units) { WORK_LOOP(units); }
__attribute__((noinline)) void split_thirty(long units) { WORK_LOOP(units); }

int main(int argc, char **argv)
{
	static const char *const names[] = { "split_sixty", "split_thirty", "libwork_ten" };
	struct work_span span = work_span_parse(argc, argv, 3.0);
	struct work_timer t;
	uint64_t ns[3] = { 0, 0, 0 }, rng = 0;
	long rounds = 0;
	work_timer_init(&t);
	while (work_span_more(&span, rounds)) {
		long f = work_round_permille(&rng);
		work_timer_lap(&t, NULL);
		split_sixty(600 * f / 1000);
		work_timer_lap(&t, &ns[0]);
		split_thirty(300 * f / 1000);
		work_timer_lap(&t, &ns[1]);
		libwork_ten(100 * f / 1000);
		work_timer_lap(&t, &ns[2]);
		rounds++;
	}
	printf("split: %ld rounds in %.6f s\n", rounds, (work_clock_ns(CLOCK_MONOTONIC) - span.start_wall) / 1e9);
	work_report("split", names, ns, 3, &t);
	return 0;
}

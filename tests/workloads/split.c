/* split: one thread doing 60/30/10 of its work in three functions —
 * split_sixty and split_thirty in this PIE executable, libwork_ten in a
 * shared library. Runs for the given seconds (default 3), or a fixed amount
 * of work: -n ROUNDS.
 *   usage: split [SECONDS | -n ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "work.h"

__attribute__((noinline)) void split_sixty(long units) { WORK_LOOP(units); }
__attribute__((noinline)) void split_thirty(long units) { WORK_LOOP(units); }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long fixed = argc > 2 && !strcmp(argv[1], "-n") ? atol(argv[2]) : 0;
	double seconds = argc > 1 && !fixed ? atof(argv[1]) : 3.0;
	double start = now(), end = start + seconds;
	long rounds = 0;
	while (fixed ? rounds < fixed : now() < end) {
		split_sixty(600);
		split_thirty(300);
		libwork_ten(100);
		rounds++;
	}
	printf("split: %ld rounds in %.6f s\n", rounds, now() - start);
	return 0;
}

/* calltree: a known call tree for call-graph tests.
 *   main -> tree_a -> tree_c     tree_a itself: 10%, its tree_c: 40%
 *   main -> tree_b -> tree_c     tree_b itself: 20%, its tree_c: 30%
 * so exclusive: a 10, b 20, c 70; inclusive: a 50, b 50, c 70 (percent of
 * the program's samples). Runs for the given seconds (default 3).
 *   usage: calltree [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "work.h"

volatile uint64_t work_sink;

__attribute__((noinline)) void tree_c(long units) { WORK_LOOP(units); }

__attribute__((noinline)) void tree_a(void)
{
	WORK_LOOP(100);
	tree_c(400);
}

__attribute__((noinline)) void tree_b(void)
{
	WORK_LOOP(200);
	tree_c(300);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double end = now() + (argc > 1 ? atof(argv[1]) : 3.0);
	long rounds = 0;
	while (now() < end) {
		tree_a();
		tree_b();
		rounds++;
	}
	printf("calltree: %ld rounds\n", rounds);
	return 0;
}

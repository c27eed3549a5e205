/* calltree: a known call tree for call-graph tests.
 *   main -> tree_a -> tree_c     tree_a itself: 10%, its tree_c: 40%
 *   main -> tree_b -> tree_c     tree_b itself: 20%, its tree_c: 30%
 * so exclusive: a 10, b 20, c 70; inclusive: a 50, b 50, c 70 (percent of
 * the program's samples) by construction. Runs for the given seconds of
 * wall time (default 3) or of its own CPU time (-c), and prints at exit the
 * CPU time each part of the tree took (work.h): tree_a and tree_b (their
 * own work), c_in_a and c_in_b (tree_c under each).
 *   usage: calltree [SECONDS | -c CPU_SECONDS] */
#include <stdio.h>

#include "work.h"

volatile uint64_t work_sink;

enum { A_SELF, B_SELF, C_IN_A, C_IN_B };
static uint64_t ns[4];
static struct work_timer timer;

__attribute__((noinline)) void tree_c(long units) { WORK_LOOP(units); }

__attribute__((noinline)) void tree_a(long f)
{
	work_timer_lap(&timer, NULL);
	WORK_LOOP(100 * f / 1000);
	work_timer_lap(&timer, &ns[A_SELF]);
	tree_c(400 * f / 1000);
	work_timer_lap(&timer, &ns[C_IN_A]);
}

__attribute__((noinline)) void tree_b(long f)
{
	work_timer_lap(&timer, NULL);
	WORK_LOOP(200 * f / 1000);
	work_timer_lap(&timer, &ns[B_SELF]);
	tree_c(300 * f / 1000);
	work_timer_lap(&timer, &ns[C_IN_B]);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "tree_a", "tree_b", "c_in_a", "c_in_b" };
	struct work_span span = work_span_parse(argc, argv, 3.0);
	uint64_t rng = 0;
	long rounds = 0;
	work_timer_init(&timer);
	while (work_span_more(&span, rounds)) {
		long f = work_round_permille(&rng); /* rounds of varying size (work.h) */
		tree_a(f);
		tree_b(f);
		rounds++;
	}
	printf("calltree: %ld rounds\n", rounds);
	work_report("calltree", names, ns, 4, &timer);
	return 0;
}

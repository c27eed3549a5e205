/* guest-alpha: a guest program whose time is in alpha_spin (user space).
 *   usage: guest-alpha [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "work.h"

volatile uint64_t work_sink;

__attribute__((noinline)) void alpha_spin(long units) { WORK_LOOP(units); }

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10.0;
	struct timespec ts;
	double end;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
	do {
		alpha_spin(200);
		clock_gettime(CLOCK_MONOTONIC, &ts);
	} while (ts.tv_sec + ts.tv_nsec / 1e9 < end);
	return 0;
}

/* syscalls: spends its time in the kernel, reading /dev/zero and writing
 * /dev/null in large blocks, for the kernel-layer tests.
 *   usage: syscalls [SECONDS] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	struct timespec ts;
	double end;
	long n = 0;
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	if (in < 0 || out < 0) {
		perror("open");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
	for (;;) {
		for (int i = 0; i < 64; i++) {
			if (read(in, buf, sizeof(buf)) < 0 || write(out, buf, sizeof(buf)) < 0)
				return 1;
		}
		n += 64;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec + ts.tv_nsec / 1e9 >= end)
			break;
	}
	printf("syscalls: %ld reads\n", n);
	return 0;
}

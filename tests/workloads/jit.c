/* jit: generates machine code at run time into anonymous executable memory,
 * announces it in /tmp/perf-PID.map as a JIT compiler would (the perf map
 * convention), and runs it — a second function is generated and announced
 * halfway; it also spends time in the vdso (clock_gettime). For the JIT and
 * vdso symbolization tests.
 *   usage: jit [SECONDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* x86-64: mov ecx, 2000000; 1: dec ecx; jnz 1b; ret */
static const unsigned char loop_code[] = { 0xb9, 0x80, 0x84, 0x1e, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc3 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double end = now() + (argc > 1 ? atof(argv[1]) : 3.0);
	char path[64];
	FILE *map;
	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void (*fn)(void);
	long calls = 0;
	if (code == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
#if defined(__x86_64__)
	memcpy(code + 64, loop_code, sizeof(loop_code));
#else
	fprintf(stderr, "jit: x86-64 only\n");
	return 77;
#endif
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	map = fopen(path, "w");
	if (!map) {
		perror(path);
		return 1;
	}
	fprintf(map, "%lx %zx jit_hot_loop\n", (unsigned long)(code + 64), sizeof(loop_code));
	fclose(map);
	fn = (void (*)(void))(code + 64);
	double half = (now() + end) / 2;
	int late = 0;
	while (now() < end) {
		/* Halfway, "compile" a second function, announced only now: the
		 * profiler must notice the map grew. */
		if (!late && now() >= half) {
			memcpy(code + 256, loop_code, sizeof(loop_code));
			map = fopen(path, "a");
			if (map) {
				fprintf(map, "%lx %zx jit_late_loop\n", (unsigned long)(code + 256), sizeof(loop_code));
				fclose(map);
			}
			fn = (void (*)(void))(code + 256);
			late = 1;
		}
		fn();
		/* and some time in the vdso */
		for (int i = 0; i < 20000; i++) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
		}
		calls++;
	}
	printf("jit: %ld calls\n", calls);
	unlink(path);
	return 0;
}

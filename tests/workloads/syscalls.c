/* syscalls: spends its time in the kernel, reading /dev/zero and writing
 * /dev/null in large blocks, for the kernel-layer tests. How much of it is
 * kernel time depends on the machine (how its timer interrupts reach a
 * thread that leaves the kernel), so it prints at exit its own accounting,
 * getrusage's user and system time, and its time as the kernel's cpu-clock
 * counts it (a counter on itself, opened at start; 0 where perf events are
 * not allowed): the tests' truths for the split and for the total of a
 * counter on this command (cpu-clock and the scheduler's CPU time were
 * seen to differ by 4% on a loaded virtual machine):
 *     syscalls rusage-ns: pid=PID user=NS system=NS clock=NS
 *   usage: syscalls [SECONDS | -c CPU_SECONDS] */
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "work.h"

volatile uint64_t work_sink;
static char buf[1 << 16];

static unsigned long long tv_ns(struct timeval tv) { return tv.tv_sec * 1000000000ULL + tv.tv_usec * 1000ULL; }

static int open_own_clock(void)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

int main(int argc, char **argv)
{
	struct work_span span = work_span_parse(argc, argv, 3.0);
	struct rusage ru;
	unsigned long long clock = 0;
	long n = 0;
	int own = open_own_clock();
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	if (in < 0 || out < 0) {
		perror("open");
		return 1;
	}
	while (work_span_more(&span, 0)) {
		for (int i = 0; i < 64; i++) {
			if (read(in, buf, sizeof(buf)) < 0 || write(out, buf, sizeof(buf)) < 0)
				return 1;
		}
		n += 64;
	}
	getrusage(RUSAGE_SELF, &ru);
	if (own >= 0 && read(own, &clock, sizeof(clock)) != sizeof(clock))
		clock = 0;
	printf("syscalls: %ld reads\n", n);
	printf("syscalls rusage-ns: pid=%d user=%llu system=%llu clock=%llu\n", (int)getpid(), tv_ns(ru.ru_utime),
	       tv_ns(ru.ru_stime), clock);
	return 0;
}

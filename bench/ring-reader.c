/* ring-reader: the floor under `domprof record`'s cost per sample, for
 * bench/run section 2.
 *
 * It opens what `domprof record -a -F HZ -e cpu-clock` opens (the same
 * sampler, the same rings, sized by the same recorder__ring_pages, the same
 * wake-up watermark), waits and reads every record of every ring in time
 * order as the recorder does, and drops it: no parsing, no /proc, no
 * symbols, no aggregation, no session. What it costs per sample is what
 * reading the rings costs (the records come from other CPUs' caches, the
 * wake-ups, the sampling interrupts that fire while it runs); what
 * `domprof record` costs above it is its own work.
 *
 *   ring-reader -F HZ -d SECONDS
 *
 * Prints "ring-reader: samples N lost N" on stderr when done. */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/collect/recorder.h"
#include "lib/events/events.h"
#include "lib/sampler/perf-record.h"
#include "lib/sampler/sampler.h"

struct counts {
	uint64_t samples, lost;
};

static void on_record(const struct perf_event_header *h, unsigned ring, void *ctx)
{
	struct counts *c = ctx;
	(void)ring;
	if (h->type == PERF_RECORD_SAMPLE)
		c->samples++;
	else {
		struct perf_lost_event l;
		if (perf_record__parse_lost(h, &l) == 0)
			c->lost += l.lost;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct event_defaults defaults = { 0 };
	struct event_spec ev;
	struct sampler *s;
	struct sampler_error se = { 0 };
	struct counts c = { 0 };
	char *err = NULL;
	double secs = 0;
	int opt, r;

	while ((opt = getopt(argc, argv, "F:d:")) != -1) {
		if (opt == 'F')
			defaults.freq = strtoull(optarg, NULL, 10);
		else if (opt == 'd')
			secs = strtod(optarg, NULL);
		else
			return 2;
	}
	if (!defaults.freq || secs <= 0) {
		fprintf(stderr, "usage: ring-reader -F HZ -d SECONDS\n");
		return 2;
	}
	if (event_spec__parse("cpu-clock", &defaults, &ev, &err) < 0) {
		fprintf(stderr, "ring-reader: %s\n", err);
		return 1;
	}
	struct recorder_config rc = { .events = &ev, .n_events = 1, .system_wide = true };
	struct sampler_config sc = { .events = &ev, .n_events = 1, .system_wide = true,
				     .ring_pages = recorder__ring_pages(&rc) };
	if ((r = sampler__open(&sc, &s, &se)) < 0) {
		fprintf(stderr, "ring-reader: cannot open cpu-clock on CPU %d: %s\n", se.cpu, strerror(-r));
		return 1;
	}
	if ((r = sampler__enable_tracking(s)) < 0 || (r = sampler__enable(s)) < 0) {
		fprintf(stderr, "ring-reader: cannot enable: %s\n", strerror(-r));
		return 1;
	}
	uint64_t end = now_ms() + (uint64_t)(secs * 1000);
	for (uint64_t t; (t = now_ms()) < end;) {
		uint64_t left = end - t;
		if (sampler__wait(s, (int)(left < 1000 ? left : 1000)) > 0)
			sampler__read(s, on_record, &c);
	}
	sampler__disable(s);
	sampler__read(s, on_record, &c);
	sampler__free(s);
	event_spec__release(&ev);
	fprintf(stderr, "ring-reader: samples %" PRIu64 " lost %" PRIu64 "\n", c.samples, c.lost);
	return 0;
}

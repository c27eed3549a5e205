/* Stepwise recording; see recorder.h. */
#define _GNU_SOURCE
#include "recorder.h"

#include <errno.h>
#include <unistd.h>

#include "../util/util.h"

/* Automatic ring sizing (recorder__open). */
#define RING_SECONDS 2                 /* records a ring holds, in seconds at the expected rate */
#define RING_RECORD_BYTES 64           /* one sample record without a call chain */
#define RING_RECORD_BYTES_CALLCHAIN 320 /* ... with a frame-pointer call chain of typical depth */
#define RING_RATE_OF_A_PERIOD_HZ 1000  /* the rate assumed for an event sampled by period (-c) */
#define RING_PAGE_BYTES 4096           /* pages counted as 4 KiB: an estimate, not the mapping */
#define RING_MAX_PAGES 8192            /* per CPU: 32 MiB */
#define RING_MAX_TOTAL (256ull << 20)  /* over all CPUs, in bytes */

int recorder__open(struct recorder *r, const struct recorder_config *cfg, char **ret_error)
{
	struct sampler_config sc = {
		.events = cfg->events,
		.n_events = cfg->n_events,
		.system_wide = cfg->system_wide,
		.tids = cfg->tids,
		.n_tids = cfg->n_tids,
		.inherit = cfg->inherit,
		.enable_on_exec = cfg->enable_on_exec,
		.callchain = cfg->callchain,
		.ring_pages = cfg->ring_pages,
	};
	struct sampler_error se = { 0 };
	int ret;
	/* Rings sized for RING_SECONDS of records per CPU at the highest
	 * rate asked for, so a slow flush does not lose samples: at least the
	 * kernel's default, at most RING_MAX_PAGES per CPU and RING_MAX_TOTAL
	 * over all CPUs; halved while the kernel refuses to map that much. */
	bool auto_size = !sc.ring_pages;
	if (auto_size) {
		uint64_t rate = 0, bytes, budget = RING_MAX_TOTAL / (uint64_t)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
		size_t pages = SAMPLER_DEFAULT_RING_PAGES;
		for (size_t i = 0; i < cfg->n_events; i++)
			rate += cfg->events[i].attr.freq ? cfg->events[i].attr.sample_freq : RING_RATE_OF_A_PERIOD_HZ;
		bytes = rate * (cfg->callchain ? RING_RECORD_BYTES_CALLCHAIN : RING_RECORD_BYTES) * RING_SECONDS;
		while ((uint64_t)pages * RING_PAGE_BYTES < bytes && pages < RING_MAX_PAGES &&
		       (uint64_t)pages * 2 * RING_PAGE_BYTES <= budget)
			pages *= 2;
		sc.ring_pages = pages;
	}

	memset(r, 0, sizeof(*r));
	r->events = xcalloc(cfg->n_events, sizeof(*r->events));
	for (size_t i = 0; i < cfg->n_events; i++)
		event_spec__copy(&cfg->events[i], &r->events[i]);
	r->n_events = cfg->n_events;
	while ((ret = sampler__open(&sc, &r->sampler, &se)) < 0 && auto_size && se.ring &&
	       sc.ring_pages > SAMPLER_DEFAULT_RING_PAGES) {
		sc.ring_pages /= 2;
		se = (struct sampler_error){ 0 };
	}
	if (ret < 0) {
		_cleanup_free_ char *why = event_spec__explain_error(&cfg->events[se.event], ret);
		if (se.ring)
			*ret_error = xasprintf("cannot map the sampling ring of %s on CPU %d (%s); try a smaller -m, or "
					       "raise kernel.perf_event_mlock_kb",
					       cfg->events[se.event].name, se.cpu, strerror(-ret));
		else
			*ret_error = xasprintf("%s (CPU %d)", why, se.cpu);
		recorder__release(r);
		return ret;
	}
	profile__init(&r->profile);
	collector__init(&r->collector, &r->profile, cfg->n_events, true);
	r->collector.callchain = cfg->callchain;
	if (cfg->bucket_ns)
		r->collector.bucket_ns = cfg->bucket_ns;
	r->clock_monotonic = sampler__clock_monotonic(r->sampler);
	return 0;
}

static int event_of_id(void *ctx, uint64_t id) { return sampler__event_of_id(ctx, id); }

static void on_record(const struct perf_event_header *h, unsigned ring, void *ctx)
{
	struct recorder *r = ctx;
	(void)ring;
	if (!r->clock_monotonic && !r->collector.start_time && h->type == PERF_RECORD_SAMPLE)
		r->collector.start_time = perf_record__time(h, sampler__sample_type(r->sampler));
	collector__record(&r->collector, h, sampler__sample_type(r->sampler), 0, event_of_id, r->sampler);
}

int recorder__prepare(struct recorder *r)
{
	int ret;
	if (r->prepared)
		return 0;
	/* Tracking first, then /proc: a process that changes while we read
	 * /proc also leaves records in the rings, applied after. */
	ret = sampler__enable_tracking(r->sampler);
	if (ret < 0)
		return ret;
	ret = machine__synthesize(&r->collector.machine);
	if (ret < 0)
		return ret;
	/* The kernel's symbols are needed by the first kernel sample: load
	 * them now rather than while the rings fill. */
	image__load(image_registry__host_kernel(&r->collector.machine.images));
	r->prepared = true;
	return 0;
}

int recorder__start(struct recorder *r)
{
	int ret = recorder__prepare(r);
	if (ret < 0)
		return ret;
	/* Sampling starts once /proc is read, so the rings do not fill
	 * meanwhile, and at the instant the caller chose. */
	r->start_ns = clock_monotonic_ns();
	if (r->clock_monotonic)
		r->collector.start_time = r->start_ns;
	return sampler__enable(r->sampler);
}

int recorder__step(struct recorder *r, int timeout_ms)
{
	int w = sampler__wait(r->sampler, timeout_ms);
	if (w == -EPIPE)
		r->tasks_gone = true;
	else if (w < 0 && w != -EINTR)
		return w;
	return (int)sampler__read(r->sampler, on_record, r);
}

void recorder__stop(struct recorder *r)
{
	if (!r->sampler)
		return;
	sampler__disable(r->sampler);
	sampler__read(r->sampler, on_record, r);
	r->stop_ns = clock_monotonic_ns();
}

void recorder__release(struct recorder *r)
{
	if (r->sampler) {
		sampler__free(r->sampler);
		collector__release(&r->collector);
		profile__release(&r->profile);
	}
	event_list__free(r->events, r->n_events);
	memset(r, 0, sizeof(*r));
}

uint64_t recorder__samples(const struct recorder *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < sampler__n_rings(r->sampler); i++)
		n += sampler__ring_samples(r->sampler, (unsigned)i);
	return n;
}

uint64_t recorder__lost(const struct recorder *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < sampler__n_rings(r->sampler); i++)
		n += sampler__ring_lost(r->sampler, (unsigned)i);
	return n;
}

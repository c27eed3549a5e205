/* Stepwise recording, and the host's session; see recorder.h. */
#define _GNU_SOURCE
#include "recorder.h"

#include <errno.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "hot-code.h"

/* The session a host recorder writes, and what it says about the run. */
struct recorder_output {
	struct session *session;
	struct session_run run;
	char *command_line, *workload; /* run's strings, owned */
	struct utsname uts;
	char hostname[256];
	uint64_t next_flush_ns;
	/* What its flushes cost the recorder: CPU time and how many. */
	uint64_t flush_cpu_ns, flushes;
	/* Per ring, its counts when this session started (a rotated session
	 * says what was sampled and lost in its own span). */
	uint64_t *ring_samples0, *ring_lost0;
};

/* Automatic ring sizing (recorder__open). */
#define RING_SECONDS 2                 /* records a ring holds, in seconds at the expected rate */
#define RING_RECORD_BYTES 64           /* one sample record without a call chain */
#define RING_RECORD_BYTES_CALLCHAIN 320 /* ... with a frame-pointer call chain of typical depth */
#define RING_RECORD_BYTES_DWARF 512    /* ... with the kernel chain and 17 user registers, besides the stack copy */
#define RING_RATE_OF_A_PERIOD_HZ 1000  /* the rate assumed for an event sampled by period (-c) */
#define RING_PAGE_BYTES 4096           /* pages counted as 4 KiB: an estimate, not the mapping */
#define RING_MAX_PAGES 8192            /* per CPU: 32 MiB */
#define RING_MAX_TOTAL (256ull << 20)  /* over all CPUs, in bytes */

size_t recorder__ring_pages(const struct recorder_config *cfg)
{
	uint64_t rate = 0, bytes, budget = RING_MAX_TOTAL / (uint64_t)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
	size_t pages = SAMPLER_DEFAULT_RING_PAGES;
	for (size_t i = 0; i < cfg->n_events; i++)
		rate += cfg->events[i].attr.freq ? cfg->events[i].attr.sample_freq : RING_RATE_OF_A_PERIOD_HZ;
	uint64_t record = cfg->user_stack_size ? RING_RECORD_BYTES_DWARF + cfg->user_stack_size
			  : cfg->callchain     ? RING_RECORD_BYTES_CALLCHAIN
					       : RING_RECORD_BYTES;
	bytes = rate * record * RING_SECONDS;
	while ((uint64_t)pages * RING_PAGE_BYTES < bytes && pages < RING_MAX_PAGES &&
	       (uint64_t)pages * 2 * RING_PAGE_BYTES <= budget)
		pages *= 2;
	return pages;
}

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
		.user_stack_size = cfg->user_stack_size,
		.ring_pages = cfg->ring_pages,
	};
	struct sampler_error se = { 0 };
	int ret;
	/* Halved while the kernel refuses to map what recorder__ring_pages
	 * asks for. */
	bool auto_size = !sc.ring_pages;
	if (auto_size)
		sc.ring_pages = recorder__ring_pages(cfg);

	memset(r, 0, sizeof(*r));
	r->ring_pages_wanted = auto_size ? sc.ring_pages : 0;
	r->events = xcalloc(cfg->n_events, sizeof(*r->events));
	for (size_t i = 0; i < cfg->n_events; i++)
		event_spec__copy(&cfg->events[i], &r->events[i]);
	r->n_events = cfg->n_events;
	while ((ret = sampler__open(&sc, &r->sampler, &se)) < 0 && auto_size && se.ring &&
	       sc.ring_pages > SAMPLER_DEFAULT_RING_PAGES) {
		sc.ring_pages /= 2;
		se = (struct sampler_error){ 0 };
	}
	if (ret == -EOPNOTSUPP && cfg->user_stack_size) {
		*ret_error = xstrdup("dwarf call graphs are not supported on this architecture (x86_64 only)");
		recorder__release(r);
		return ret;
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
	r->ring_pages = sc.ring_pages;
	profile__init(&r->profile);
	collector__init(&r->collector, &r->profile, cfg->n_events, true);
	r->collector.callchain = cfg->callchain;
	r->collector.regs_user_mask = sampler__regs_user_mask(r->sampler);
	if (cfg->user_stack_size && (ret = collector__enable_unwinding(&r->collector)) < 0) {
		*ret_error = xasprintf("cannot set up dwarf unwinding: %s", strerror(-ret));
		recorder__release(r);
		return ret;
	}
	if (cfg->bucket_ns)
		r->collector.bucket_ns = cfg->bucket_ns;
	r->clock_monotonic = sampler__clock_monotonic(r->sampler);
	return 0;
}

static int event_of_id(void *ctx, uint64_t id) { return sampler__event_of_id(ctx, id); }

static void on_record(const struct perf_event_header *h, unsigned ring, void *ctx)
{
	struct recorder *r = ctx;
	/* Walking a dwarf stack costs far more than reading a sample: past
	 * half a ring behind, samples are kept without their walk until the
	 * reader is back under (collector.reader_behind). */
	if (r->collector.unwinder && h->type == PERF_RECORD_SAMPLE)
		r->collector.reader_behind =
			sampler__ring_backlog(r->sampler, ring) > sampler__ring_size(r->sampler, ring) / 2;
	if (!r->clock_monotonic && !r->collector.start_time && h->type == PERF_RECORD_SAMPLE)
		r->collector.start_time = perf_record__time(h, sampler__sample_type(r->sampler));
	collector__record(&r->collector, h, sampler__sample_type(r->sampler), 0, event_of_id, r->sampler);
}

/* The run's description, now that it started. A failure to write it is
 * not fatal here: the first flush writes to the same file and says so. */
static void write_run(struct recorder *r, uint64_t start_ns)
{
	struct recorder_output *o = r->output;
	size_t n_rings = sampler__n_rings(r->sampler);
	o->ring_samples0 = xrealloc(o->ring_samples0, (n_rings + 1) * sizeof(uint64_t));
	o->ring_lost0 = xrealloc(o->ring_lost0, (n_rings + 1) * sizeof(uint64_t));
	for (size_t i = 0; i < n_rings; i++) {
		o->ring_samples0[i] = sampler__ring_samples(r->sampler, (unsigned)i);
		o->ring_lost0[i] = sampler__ring_lost(r->sampler, (unsigned)i);
	}
	if (uname(&o->uts) == 0) {
		o->run.kernel = o->uts.release;
		o->run.arch = o->uts.machine;
	}
	if (gethostname(o->hostname, sizeof(o->hostname)) == 0) {
		o->hostname[sizeof(o->hostname) - 1] = '\0';
		o->run.hostname = o->hostname;
	}
	o->run.ncpus = (int64_t)sampler__n_rings(r->sampler);
	o->run.start_time = time(NULL);
	o->run.have_start = true;
	o->run.start_ns = start_ns;
	o->run.timeline_bucket_ns = r->collector.bucket_ns;
	o->run.clock = r->clock_monotonic ? "monotonic" : "perf";
	o->run.callchain = r->collector.callchain;
	o->run.unwinder = r->collector.unwinder ? "dwarf" : "fp";
	session__write_run(o->session, &o->run);
	o->next_flush_ns = start_ns + RECORDER_FLUSH_INTERVAL_NS;
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
	ret = sampler__enable(r->sampler);
	if (ret == 0 && r->output)
		write_run(r, r->start_ns);
	return ret;
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

static void output_free(struct recorder_output *o)
{
	if (!o)
		return;
	session__close(o->session);
	free(o->ring_samples0);
	free(o->ring_lost0);
	free(o->command_line);
	free(o->workload);
	free(o);
}

/* A new session file at path with the events in it. */
static int open_session(struct recorder *r, const char *path, struct session **ret_session, char **ret_error)
{
	struct session *s = NULL;
	int ret;
	session__keep_old(path);
	ret = session__create(path, &s, ret_error);
	if (ret == 0)
		ret = session__write_events(s, r->events, r->n_events);
	if (ret < 0) {
		if (ret_error && !*ret_error)
			*ret_error = xasprintf("cannot create %s: %s", path, strerror(-ret));
		session__close(s);
		return ret;
	}
	*ret_session = s;
	return 0;
}

int recorder__create_session(struct recorder *r, const char *path, const struct session_run *run, char **ret_error)
{
	struct recorder_output *o = xcalloc(1, sizeof(*o));
	int ret = open_session(r, path, &o->session, ret_error);
	if (ret < 0) {
		output_free(o);
		return ret;
	}
	o->run = *run;
	o->run.command_line = o->command_line = run->command_line ? xstrdup(run->command_line) : NULL;
	o->run.workload = o->workload = run->workload ? xstrdup(run->workload) : NULL;
	r->output = o;
	return 0;
}

struct session *recorder__session(struct recorder *r) { return r->output ? r->output->session : NULL; }

uint64_t recorder__session_start_ns(const struct recorder *r) { return r->output ? r->output->run.start_ns : 0; }

static int flush(struct recorder *r, uint64_t stop_ns)
{
	uint64_t t0 = clock_thread_cpu_ns();
	struct session_span span = { r->output->run.start_ns, stop_ns };
	int ret = collector__flush(&r->collector, r->output->session, &span);
	/* Memory bounded by what is alive (collector__forget). */
	if (ret == 0 && !r->keep_flushed)
		collector__forget(&r->collector);
	r->output->flush_cpu_ns += clock_thread_cpu_ns() - t0;
	r->output->flushes++;
	return ret;
}

uint64_t recorder__next_flush_ns(const struct recorder *r) { return r->output ? r->output->next_flush_ns : 0; }

int recorder__watch(struct recorder *r, int fd) { return r->sampler ? sampler__watch(r->sampler, fd) : -EINVAL; }

int recorder__flush_if_due(struct recorder *r)
{
	uint64_t now = clock_monotonic_ns();
	int ret;
	if (!r->output || now < r->output->next_flush_ns)
		return 0;
	r->output->next_flush_ns = now + RECORDER_FLUSH_INTERVAL_NS;
	ret = flush(r, now);
	return ret < 0 ? ret : 1;
}

/* The end of the current session at stop_ns: the final flush, the code of
 * the hottest functions, its per-CPU counts and its end state. */
static int end_session(struct recorder *r, uint64_t stop_ns)
{
	struct recorder_output *o = r->output;
	struct session *s = o->session;
	struct symbol_code *codes;
	size_t n_codes;
	uint64_t lost = 0;
	int ret;
	if ((ret = flush(r, stop_ns)) < 0)
		return ret;
	/* The code of the hottest functions, for annotate from the session:
	 * best effort (a file that cannot be read, or no room for it, costs
	 * annotate its code, not the recording). */
	n_codes = collector__collect_code(&r->collector, CODE_HOT_SYMBOLS_HOST, CODE_HOT_MIN_SHARE, &codes);
	session__write_code(s, codes, n_codes);
	symbol_codes__free(codes, n_codes);
	for (size_t i = 0; i < sampler__n_rings(r->sampler); i++) {
		/* No baseline when sampling never started. */
		uint64_t ring_lost = sampler__ring_lost(r->sampler, (unsigned)i) - (o->ring_lost0 ? o->ring_lost0[i] : 0);
		uint64_t ring_samples =
			sampler__ring_samples(r->sampler, (unsigned)i) - (o->ring_samples0 ? o->ring_samples0[i] : 0);
		session__set_lost(s, r->collector.machine.host_domain, sampler__ring_cpu(r->sampler, (unsigned)i),
				  ring_samples, ring_lost);
		lost += ring_lost;
	}
	collector__write_unwind(&r->collector, s);
	/* The recorder's own cost, for whoever weighs it: the process's CPU
	 * so far (start-up included) and its flushes' part. */
	session__set_meta_int(s, "recorder_cpu_ns", (int64_t)process_cpu_ns());
	session__set_meta_int(s, "recorder_flush_cpu_ns", (int64_t)o->flush_cpu_ns);
	session__set_meta_int(s, "recorder_flushes", (int64_t)o->flushes);
	return session__write_end(s, lost, true);
}

int recorder__finish_session(struct recorder *r)
{
	if (!r->output)
		return 0;
	return end_session(r, r->stop_ns);
}

int recorder__rotate_session(struct recorder *r, const char *path, struct profile_catalog_map *keep,
			     char **ret_error)
{
	struct recorder_output *o = r->output;
	struct session *next;
	uint64_t now = clock_monotonic_ns();
	int ret;
	if (!o) {
		/* Nothing happened: said in *ret_error, as a next session
		 * that cannot be created is (the caller keeps its state). */
		if (ret_error)
			*ret_error = xstrdup("no session is being written");
		return -EINVAL;
	}
	/* The next file first: when it cannot be created, the recording goes
	 * on into the current one, which loses nothing. */
	if ((ret = open_session(r, path, &next, ret_error)) < 0)
		return ret;
	ret = end_session(r, now);
	session__close(o->session);
	o->session = next;
	collector__restart(&r->collector, r->clock_monotonic ? now : 0, keep);
	write_run(r, now);
	return ret;
}

void recorder__release(struct recorder *r)
{
	output_free(r->output);
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

/* The per-record pipeline; see collector.h. collector__sample is the hot
 * path: one thread lookup, one map search, one symbol search (cached per
 * image), two hash updates. */
#include "collector.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <sys/mman.h>

#include "../util/util.h"
#include "hot-code.h"

void collector__init(struct collector *c, struct profile *p, size_t n_events, bool live)
{
	memset(c, 0, sizeof(*c));
	c->profile = p;
	c->n_events = n_events;
	c->stats = xcalloc(n_events ? n_events : 1, sizeof(*c->stats));
	c->bucket_ns = 100 * 1000 * 1000ULL;
	c->cache = xcalloc(COLLECTOR_CACHE_SLOTS, sizeof(*c->cache));
	c->cache_gen = 1;
	c->dropped_total = xcalloc(n_events ? n_events : 1, sizeof(*c->dropped_total));
	machine__init(&c->machine, p, live);
}

/* Empty the cache: slots of older generations are empty. The slots are
 * cleared only when the generation wraps. */
static void cache_clear(struct collector *c)
{
	if (c->cache_dirty) {
		if (++c->cache_gen == 0) {
			memset(c->cache, 0, COLLECTOR_CACHE_SLOTS * sizeof(*c->cache));
			c->cache_gen = 1;
		}
		c->cache_dirty = false;
	}
}

/* Timeline bucket of a sample time. Times mostly grow, so the division is
 * done only when a sample leaves the bucket of the previous one. */
static uint32_t bucket_of(struct collector *c, uint64_t time)
{
	uint64_t rel;
	if (time <= c->start_time)
		return 0;
	rel = time - c->start_time;
	if (rel >= c->bucket_lo && rel < c->bucket_lo + c->bucket_ns)
		return c->bucket_cur;
	c->bucket_cur = (uint32_t)(rel / c->bucket_ns);
	c->bucket_lo = (uint64_t)c->bucket_cur * c->bucket_ns;
	return c->bucket_cur;
}

static struct collector_cache_slot *cache_slot(struct collector *c, const struct perf_sample *s, uint32_t ev)
{
	uint64_t h = (s->ip ^ ((uint64_t)s->tid << 32) ^ ((uint64_t)ev << 20) ^ s->cpumode) * 0x9e3779b97f4a7c15ULL;
	return &c->cache[h >> (64 - 13)];
}

void collector__print_totals(const struct collector *c, const struct event_spec *events, FILE *out)
{
	for (size_t e = 0; e < c->n_events; e++) {
		const struct collector_event_stats *s = &c->stats[e];
		if (events[e].unit == EVENT_UNIT_NS)
			fprintf(out, "  %-20s %10llu samples  %12.1f msec\n", events[e].name,
				(unsigned long long)s->samples, (double)s->period / 1e6);
		else
			fprintf(out, "  %-20s %10llu samples  %12llu events\n", events[e].name,
				(unsigned long long)s->samples, (unsigned long long)s->period);
	}
}

void collector__print_unwind(const struct collector *c, FILE *out)
{
	const struct unwind_stats *u;
	if (!c->unwinder)
		return;
	u = unwinder__stats(c->unwinder);
	fprintf(out, "  dwarf: %llu user stacks unwound, %llu end at %s (no CFI %llu, past the stack copy %llu, "
		     "too deep %llu, no registers %llu)\n",
		(unsigned long long)u->walks, (unsigned long long)c->unwind_marked, COLLECTOR_UNWIND_MARKER,
		(unsigned long long)u->ended[UNWIND_END_NO_CFI], (unsigned long long)u->ended[UNWIND_END_STACK],
		(unsigned long long)u->ended[UNWIND_END_DEPTH], (unsigned long long)u->ended[UNWIND_END_REGS]);
	if (c->unwind_behind)
		fprintf(out, "  dwarf: %llu samples kept without their callers (end at %s): the recorder fell behind "
			     "the kernel by half a ring, and walking them would have lost samples\n",
			(unsigned long long)c->unwind_behind, COLLECTOR_UNWIND_MARKER);
}

int collector__write_unwind(const struct collector *c, struct session *s)
{
	const struct unwind_stats *u, *b;
	int r = 0, k;
	if (!c->unwinder)
		return 0;
	u = unwinder__stats(c->unwinder);
	b = &c->unwind_base;
	if ((k = session__set_meta_int(s, "unwind_walks", (int64_t)(u->walks - b->walks))) < 0)
		r = k;
	if ((k = session__set_meta_int(s, "unwind_stopped", (int64_t)c->unwind_marked)) < 0)
		r = k;
	static const struct {
		enum unwind_end end;
		const char *key;
	} ends[] = {
		{ UNWIND_END_NO_CFI, "unwind_stopped_no_cfi" },
		{ UNWIND_END_STACK, "unwind_stopped_stack" },
		{ UNWIND_END_DEPTH, "unwind_stopped_depth" },
	};
	for (size_t e = 0; e < ARRAY_SIZE(ends); e++) {
		if ((k = session__set_meta_int(s, ends[e].key, (int64_t)(u->ended[ends[e].end] - b->ended[ends[e].end]))) < 0)
			r = k;
	}
	if ((k = session__set_meta_int(s, "unwind_behind", (int64_t)c->unwind_behind)) < 0)
		r = k;
	return r;
}

uint64_t collector__samples(const struct collector *c)
{
	uint64_t n = 0;
	for (size_t e = 0; e < c->n_events; e++)
		n += c->stats[e].samples;
	return n;
}

int collector__flush(struct collector *c, struct session *s, const struct session_span *span)
{
	struct session_event_totals *totals = xcalloc(c->n_events ? c->n_events : 1, sizeof(*totals));
	int r;
	for (size_t e = 0; e < c->n_events; e++)
		totals[e] = (struct session_event_totals){ c->stats[e].samples, c->stats[e].period, c->stats[e].lost };
	r = session__write_flush(s, c->profile, totals, c->n_events, span);
	free(totals);
	return r;
}

int collector__enable_unwinding(struct collector *c)
{
	int r = unwinder__new(&c->unwinder);
	if (r < 0)
		return r;
	c->callchain = true;
	return 0;
}

struct forget_ctx {
	struct collector *c;
	const uint32_t *exited; /* sorted profile thread ids */
	size_t n_exited;
	bool idle; /* idle counters go too */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The host's period of a dropped counter, kept for hot-code.c's ranking. */
static void keep_dropped_period(struct collector *c, const struct sample_entry *e)
{
	size_t ev = e->key.event;
	if (e->key.origin != ORIGIN_HOST || ev < 1 || ev > c->n_events)
		return;
	if (e->key.symbol) {
		if (e->key.symbol >= c->n_dropped_symbols) {
			size_t n = MAX((size_t)e->key.symbol + 1, 2 * c->n_dropped_symbols);
			c->dropped_period = xrealloc(c->dropped_period, n * c->n_events * sizeof(uint64_t));
			memset(c->dropped_period + c->n_dropped_symbols * c->n_events, 0,
			       (n - c->n_dropped_symbols) * c->n_events * sizeof(uint64_t));
			c->n_dropped_symbols = n;
		}
		c->dropped_period[(size_t)e->key.symbol * c->n_events + ev - 1] += e->period;
	}
	c->dropped_total[ev - 1] += e->period;
}

/* A counter of an exited thread can no longer change; one that has not
 * changed for COLLECTOR_IDLE_FLUSHES leaves too (a new one counts if it
 * does). Only the host's own: an agent's counters go when the agent says
 * (proto/delta.c). */
static bool counter_done(const struct sample_entry *e, void *ctx)
{
	struct forget_ctx *f = ctx;
	if (e->key.origin != ORIGIN_HOST)
		return false;
	if (!(f->idle && profile__sample_idle(f->c->profile, e) >= COLLECTOR_IDLE_FLUSHES) &&
	    !(e->key.thread && f->n_exited && bsearch(&e->key.thread, f->exited, f->n_exited, sizeof(uint32_t), cmp_u32)))
		return false;
	keep_dropped_period(f->c, e);
	return true;
}

void collector__forget(struct collector *c)
{
	uint32_t keep = (uint32_t)(COLLECTOR_TIMELINE_KEEP_NS / c->bucket_ns) + 1;
	struct forget_ctx f = { c, NULL, 0, ++c->forgets % COLLECTOR_IDLE_SCAN == 0 };
	uint32_t *exited;
	size_t dropped = 0;

	machine__reap(&c->machine, &exited, &f.n_exited);
	f.exited = exited;
	unwinder__forget_images(c->unwinder, c->machine.gone_images, c->machine.n_gone_images);
	machine__free_gone_images(&c->machine);
	if (f.n_exited || f.idle)
		dropped = profile__drop_samples(c->profile, counter_done, &f);
	if (f.n_exited)
		profile__drop_threads(c->profile, exited, f.n_exited);
	free(exited);
	if (c->bucket_cur > keep)
		dropped += profile__drop_timeline(c->profile, c->bucket_cur - keep);
	if (dropped) {
		/* The cache holds counter indexes, which may be reused now. */
		c->cache_dirty = true;
		cache_clear(c);
	}
#ifdef __GLIBC__
	/* What was freed goes back to the system: otherwise the heap keeps
	 * the pages that symbol tables loaded and unloaded, and temporary
	 * buffers, once left between live rows (a host that runs new
	 * programs all day would see the recorder's RSS creep while what it
	 * holds does not grow). At once when a symbol table went (megabytes);
	 * else every COLLECTOR_TRIM_FLUSHES flushes that freed anything: the
	 * rows of a second's exited threads are reused by the next second's
	 * new ones, and trimming walks every free chunk and makes the kernel
	 * flush TLBs (at each flush it was 5% of a fork storm's recorder). */
	if (dropped || f.n_exited) {
		c->untrimmed_flushes++;
		if (c->machine.images_unloaded != c->trimmed_unloads || c->untrimmed_flushes >= COLLECTOR_TRIM_FLUSHES) {
			malloc_trim(0);
			c->untrimmed_flushes = 0;
			c->trimmed_unloads = c->machine.images_unloaded;
		}
	}
#endif
}

size_t collector__compact(struct collector *c, struct profile_catalog_map *keep)
{
	size_t gone, n_symbols;
	uint64_t *period = NULL;
	profile_catalog_map__init(keep, c->profile);
	collector__keep_hot_symbols(c, CODE_HOT_MIN_SHARE, &keep->symbols);
	gone = profile__compact(c->profile, keep);
	machine__remap_catalog_ids(&c->machine, keep);
	c->marker_image = profile_id_map__get(&keep->images, c->marker_image);
	c->marker_symbol = profile_id_map__get(&keep->symbols, c->marker_symbol);
	if (!c->marker_image || !c->marker_symbol)
		c->marker_image = c->marker_symbol = 0;
	/* The dropped counters' period of the functions that stay, by
	 * their new ids; the others' is below CODE_HOT_MIN_SHARE. */
	n_symbols = MIN(c->n_dropped_symbols, c->profile->n_symbols + 1);
	if (c->dropped_period && n_symbols)
		period = xcalloc(n_symbols * c->n_events, sizeof(*period));
	for (size_t s = 1; period && s < c->n_dropped_symbols; s++) {
		uint32_t to = profile_id_map__get(&keep->symbols, (uint32_t)s);
		if (to && to < n_symbols)
			memcpy(period + (size_t)to * c->n_events, c->dropped_period + s * c->n_events,
			       c->n_events * sizeof(*period));
	}
	free(c->dropped_period);
	c->dropped_period = period;
	c->n_dropped_symbols = period ? n_symbols : 0;
	return gone;
}

void collector__restart(struct collector *c, uint64_t start_time, struct profile_catalog_map *keep)
{
	profile__restart(c->profile, keep);
	machine__forget_profile_ids(&c->machine);
	c->marker_image = c->marker_symbol = 0;
	memset(c->stats, 0, (c->n_events ? c->n_events : 1) * sizeof(*c->stats));
	memset(c->dropped_total, 0, (c->n_events ? c->n_events : 1) * sizeof(*c->dropped_total));
	free(c->dropped_period);
	c->dropped_period = NULL;
	c->n_dropped_symbols = 0;
	c->lost_total = 0;
	c->start_time = start_time;
	c->bucket_lo = c->bucket_cur = 0;
	/* The unwinder's counts are per session. */
	c->unwind_marked = c->unwind_behind = 0;
	if (c->unwinder)
		c->unwind_base = *unwinder__stats(c->unwinder);
	c->cache_dirty = true;
	cache_clear(c);
#ifdef __GLIBC__
	/* A whole session's rows went: given back at once (see
	 * collector__forget). */
	malloc_trim(0);
	c->untrimmed_flushes = 0;
	c->trimmed_unloads = c->machine.images_unloaded;
#endif
}

void collector__release(struct collector *c)
{
	unwinder__free(c->unwinder);
	free(c->chain);
	machine__release(&c->machine);
	free(c->cache);
	free(c->stats);
	free(c->dropped_period);
	free(c->dropped_total);
	memset(c, 0, sizeof(*c));
}

/* Intern a call chain as a path of frames from the outermost caller down
 * to the sampled function; returns the leaf frame id. Frames are
 * function-level (address only when the function is unknown), so stacks
 * that differ only inside a function share nodes. */
static uint32_t intern_callchain(struct collector *c, struct thread *t, const struct perf_sample *s,
				 uint16_t sample_cpumode, bool unwind_stopped)
{
	struct resolved r;
	uint32_t parent = 0;
	uint16_t mode;
	uint64_t n = s->callchain_nr;
	/* Walk from the end (outermost) to the start, tracking the context
	 * markers, which precede the entries they describe: find each
	 * entry's mode first by a forward pass. */
	uint16_t modes_stack[256];
	uint16_t *modes = n <= 256 ? modes_stack : xmalloc(n * sizeof(*modes));

	uint64_t first_real = n;
	mode = sample_cpumode;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ip = perf_sample__callchain_ip(s, i);
		modes[i] = 0xffff;
		if (ip >= PERF_CONTEXT_MAX) {
			switch (ip) {
			case PERF_CONTEXT_HV: mode = CPUMODE_HYPERVISOR; break;
			case PERF_CONTEXT_KERNEL: mode = CPUMODE_KERNEL; break;
			case PERF_CONTEXT_USER: mode = CPUMODE_USER; break;
			case PERF_CONTEXT_GUEST_KERNEL: mode = CPUMODE_GUEST_KERNEL; break;
			case PERF_CONTEXT_GUEST_USER: mode = CPUMODE_GUEST_USER; break;
			default: break;
			}
			continue;
		}
		modes[i] = mode;
		if (first_real == n)
			first_real = i;
	}
	if (unwind_stopped) {
		/* Where the walk stopped, the stack's root: what called the
		 * outermost frame known is not guessed. */
		if (!c->marker_image) {
			c->marker_image = profile__image(c->profile, c->machine.host_domain, COLLECTOR_UNWIND_MARKER, "",
							 IMAGE_UNKNOWN);
			c->marker_symbol = profile__symbol(c->profile, c->marker_image, COLLECTOR_UNWIND_MARKER, 0, 0);
		}
		parent = profile__frame(c->profile, 0, c->marker_image, c->marker_symbol, 0);
	}
	for (uint64_t i = n; i-- > 0;) {
		uint64_t ip = perf_sample__callchain_ip(s, i);
		if (modes[i] == 0xffff)
			continue;
		/* Return addresses point after the call: look up ip - 1 so a
		 * call at the very end of a function is attributed to it; the
		 * first entry is the sampled ip itself. */
		machine__resolve(&c->machine, t, modes[i], i == first_real ? ip : ip - 1, &r);
		parent = profile__frame(c->profile, parent, r.image, r.symbol, r.symbol ? 0 : r.address);
	}
	if (modes != modes_stack)
		free(modes);
	return parent;
}

/* Where addr is mapped in the sampled thread's process, for the
 * unwinder: files, and the vdso when it is this kernel's (recording live). */
static bool unwind_find_map(void *ctx, uint64_t addr, struct unwind_map *ret)
{
	struct collector *c = ((void **)ctx)[0];
	struct thread *t = ((void **)ctx)[1];
	const struct map *m = process__find_map(t->proc, addr);
	if (!m || m->anon_exec || !m->image)
		return false;
	if (m->image->kind != IMAGE_ELF && !(m->image->kind == IMAGE_VDSO && c->machine.live))
		return false;
	*ret = (struct unwind_map){ m->start, m->end, m->pgoff, m->image };
	return true;
}

/* --call-graph dwarf: the kernel's part of the chain as the kernel gave
 * it, then PERF_CONTEXT_USER and the user frames unwound from the
 * sample's registers and stack copy. */
static uint32_t intern_unwound(struct collector *c, struct thread *t, const struct perf_sample *s)
{
	struct unwind_sample us = { s->pid, s->tid, s->regs_mask, s->regs_nr, s->regs, s->stack, s->stack_size };
	void *ctx[2] = { c, t };
	struct perf_sample joined = *s;
	enum unwind_end end;
	size_t nk = 0, nu;

	ARRAY_GROW(c->chain, c->chain_cap, s->callchain_nr + 1 + COLLECTOR_MAX_USER_FRAMES);
	for (uint64_t i = 0; i < s->callchain_nr; i++) {
		uint64_t ip = perf_sample__callchain_ip(s, i);
		if (ip == PERF_CONTEXT_USER)
			break;
		c->chain[nk++] = ip;
	}
	c->chain[nk++] = PERF_CONTEXT_USER;
	if (c->reader_behind) {
		nu = unwind_sample__ip(&us, &c->chain[nk]) ? 1 : 0;
		end = UNWIND_END__COUNT; /* not walked: counted apart */
		c->unwind_behind++;
	} else {
		nu = unwinder__unwind(c->unwinder, &us, unwind_find_map, ctx, c->chain + nk, COLLECTOR_MAX_USER_FRAMES,
				      &end);
	}
	joined.callchain = (const unsigned char *)c->chain;
	joined.callchain_nr = nk + nu;
	if (end != UNWIND_END_COMPLETE && end != UNWIND_END__COUNT)
		c->unwind_marked++;
	return intern_callchain(c, t, &joined, s->cpumode, end != UNWIND_END_COMPLETE);
}

void collector__sample(struct collector *c, const struct perf_sample *s, uint32_t ev)
{
	/* User registers exist for host tasks in user or kernel mode; a
	 * guest-mode sample's are its VMM's, not the guest's. */
	bool unwind = c->unwinder && s->regs_nr && (s->cpumode == CPUMODE_USER || s->cpumode == CPUMODE_KERNEL);
	struct thread *t;
	struct resolved r;
	struct sample_key key;
	struct timeline_key tk = { 0 };

	if (ev >= c->n_events)
		return;
	if (c->skip_idle && s->tid == 0 && s->cpumode != CPUMODE_GUEST_KERNEL && s->cpumode != CPUMODE_GUEST_USER) {
		c->stats[ev].idle_skipped++;
		return;
	}
	if (!unwind && !(c->callchain && s->callchain_nr)) {
		struct collector_cache_slot *slot = cache_slot(c, s, ev);
		if (slot->gen == c->cache_gen && slot->ip == s->ip && slot->tid == s->tid && slot->event == ev &&
		    slot->cpumode == s->cpumode) {
			profile__bump_sample(c->profile, slot->entry1 - 1, 1, s->period);
			tk.event = ev + 1;
			tk.domain = slot->domain;
			tk.layer = slot->layer;
			tk.origin = ORIGIN_HOST;
			tk.bucket = bucket_of(c, s->time);
			profile__add_timeline(c->profile, &tk, 1, s->period);
			c->stats[ev].samples++;
			c->stats[ev].period += s->period;
			return;
		}
	}
	t = machine__thread(&c->machine, (pid_t)s->pid, (pid_t)s->tid);
	machine__resolve(&c->machine, t, s->cpumode, s->ip, &r);
	if (c->machine.n_vms != c->cache_vms) {
		/* A VM appeared (a process turned out to run guest code):
		 * its threads resolve differently from now on. */
		cache_clear(c);
		c->cache_vms = c->machine.n_vms;
	}
	memset(&key, 0, sizeof(key));
	key.event = ev + 1;
	key.domain = r.domain;
	key.layer = r.layer;
	key.thread = r.thread;
	key.image = r.image;
	key.symbol = r.symbol;
	key.address = r.address;
	if (unwind) {
		key.stack = intern_unwound(c, t, s);
		profile__add_sample(c->profile, &key, 1, s->period);
	} else if (c->callchain && s->callchain_nr) {
		key.stack = intern_callchain(c, t, s, s->cpumode, false);
		profile__add_sample(c->profile, &key, 1, s->period);
	} else {
		uint32_t idx = profile__add_sample(c->profile, &key, 1, s->period);
		/* An unresolved address in JIT code may resolve later (the JIT
		 * announces functions as it compiles them): not cached. */
		if (r.symbol || !r.image || c->profile->images[r.image - 1].kind != IMAGE_JIT) {
			struct collector_cache_slot *slot = cache_slot(c, s, ev);
			*slot = (struct collector_cache_slot){ .ip = s->ip, .tid = s->tid, .entry1 = idx + 1,
							       .gen = c->cache_gen,
							       .domain = r.domain, .event = (uint16_t)ev,
							       .cpumode = (uint8_t)s->cpumode, .layer = r.layer };
			c->cache_dirty = true;
		}
	}

	tk.event = ev + 1;
	tk.domain = r.domain;
	tk.layer = r.layer;
	tk.bucket = bucket_of(c, s->time);
	profile__add_timeline(c->profile, &tk, 1, s->period);

	c->stats[ev].samples++;
	c->stats[ev].period += s->period;
}

void collector__record(struct collector *c, const struct perf_event_header *h, uint64_t sample_type,
		       uint64_t read_format, int (*event_of_id)(void *ctx, uint64_t id), void *ctx)
{
	switch (h->type) {
	case PERF_RECORD_SAMPLE: {
		struct perf_sample s;
		int ev;
		if (perf_record__parse_sample_regs(h, sample_type, read_format, c->regs_user_mask, &s) < 0) {
			c->bad_records++;
			return;
		}
		ev = event_of_id ? event_of_id(ctx, s.id) : 0;
		if (ev < 0) {
			c->bad_records++;
			return;
		}
		collector__sample(c, &s, (uint32_t)ev);
		return;
	}
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2: {
		struct perf_mmap_event m;
		cache_clear(c);
		if (perf_record__parse_mmap(h, &m) < 0) {
			c->bad_records++;
			return;
		}
		machine__mmap(&c->machine, &m);
		if (c->unwinder && (!m.is_mmap2 || (m.prot & PROT_EXEC)))
			unwinder__maps_changed(c->unwinder, m.pid);
		return;
	}
	case PERF_RECORD_COMM: {
		struct perf_comm_event cm;
		cache_clear(c);
		if (perf_record__parse_comm(h, &cm) < 0) {
			c->bad_records++;
			return;
		}
		machine__comm(&c->machine, &cm);
		if (cm.exec)
			unwinder__forget(c->unwinder, cm.pid);
		return;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		struct perf_task_event t;
		cache_clear(c);
		if (perf_record__parse_task(h, &t) < 0) {
			c->bad_records++;
			return;
		}
		if (h->type == PERF_RECORD_FORK)
			machine__fork(&c->machine, &t);
		else
			machine__exit(&c->machine, &t);
		/* A new process, or its end: an address space of that pid
		 * kept from before (a reused pid) is not this one. */
		if (t.pid == t.tid && (h->type == PERF_RECORD_EXIT || t.pid != t.ppid))
			unwinder__forget(c->unwinder, t.pid);
		return;
	}
	case PERF_RECORD_LOST:
	case PERF_RECORD_LOST_SAMPLES: {
		struct perf_lost_event l;
		struct perf_sample id;
		int ev = -1;
		if (perf_record__parse_lost(h, &l) < 0) {
			c->bad_records++;
			return;
		}
		if (h->type == PERF_RECORD_LOST_SAMPLES && perf_record__parse_sample_id(h, sample_type, &id) == 0)
			l.id = id.id;
		if (event_of_id)
			ev = event_of_id(ctx, l.id);
		if (ev >= 0 && (size_t)ev < c->n_events)
			c->stats[ev].lost += l.lost;
		else
			c->lost_total += l.lost;
		return;
	}
	case PERF_RECORD_THROTTLE:
	case PERF_RECORD_UNTHROTTLE:
	case PERF_RECORD_KSYMBOL:
	case PERF_RECORD_BPF_EVENT:
	case PERF_RECORD_CGROUP:
	case PERF_RECORD_TEXT_POKE:
	case PERF_RECORD_NAMESPACES:
	case PERF_RECORD_SWITCH:
	case PERF_RECORD_SWITCH_CPU_WIDE:
		return;
	default:
		c->unknown_records++;
		return;
	}
}

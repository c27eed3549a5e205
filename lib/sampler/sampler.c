/* Opening the events and reading their rings in time order.
 *
 * Each CPU has one ring. A software "dummy" event opened first on each CPU
 * owns the ring and carries the side-band (mmap2, comm, task records); the
 * sampling events are redirected into it with PERF_EVENT_IOC_SET_OUTPUT.
 * Samples carry PERF_SAMPLE_IDENTIFIER first, so one read of a fixed
 * position names the event of any record, whichever event wrote it.
 *
 * Rings are read a round at a time: the records of all rings are merged by
 * timestamp (each ring is already ordered) straight out of the rings, and
 * every ring's tail is published only at the end of the round. Within a
 * round that keeps an exec's mmap2 seen on one CPU ahead of the samples it
 * explains on another, without copying the records. Across rounds the
 * order is not guaranteed (perf's FINISHED_ROUND solves that by holding
 * back records newer than the oldest head of the next round); the window
 * is the few microseconds between two rings' head snapshots, and a process
 * first seen by a sample is read from /proc instead. */
#define _GNU_SOURCE
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "ring.h"

#if defined(__x86_64__)
const uint64_t SAMPLER_REGS_USER_MASK =
	(1ULL << PERF_REG_X86_AX) | (1ULL << PERF_REG_X86_BX) | (1ULL << PERF_REG_X86_CX) |
	(1ULL << PERF_REG_X86_DX) | (1ULL << PERF_REG_X86_SI) | (1ULL << PERF_REG_X86_DI) |
	(1ULL << PERF_REG_X86_BP) | (1ULL << PERF_REG_X86_SP) | (1ULL << PERF_REG_X86_IP) |
	(1ULL << PERF_REG_X86_R8) | (1ULL << PERF_REG_X86_R9) | (1ULL << PERF_REG_X86_R10) |
	(1ULL << PERF_REG_X86_R11) | (1ULL << PERF_REG_X86_R12) | (1ULL << PERF_REG_X86_R13) |
	(1ULL << PERF_REG_X86_R14) | (1ULL << PERF_REG_X86_R15);
#else
const uint64_t SAMPLER_REGS_USER_MASK = 0;
#endif

struct sampler_ring {
	struct ring ring;
	int cpu;
	int fd; /* the owning event's fd */
	uint64_t samples;
	uint64_t lost;
};

/* A ring's next record in the merge of sampler__read. */
struct head {
	uint64_t time;
	unsigned ring;
	const struct perf_event_header *rec;
};

struct sampler_fd {
	int fd;
	int event;
	uint64_t id;
};

struct sampler {
	struct sampler_ring *rings;
	size_t n_rings;
	struct sampler_fd *fds;
	size_t n_fds, cap_fds;
	struct pollfd *pollfds; /* one per ring owner (system-wide) or per fd */
	size_t n_pollfds;
	size_t n_watched;       /* the last of pollfds: sampler__watch's */
	uint64_t sample_type;
	uint64_t regs_user_mask;
	uint32_t user_stack_size;
	bool clock_monotonic;
	bool task_bound;
	struct head *heap; /* the merge heap: one head per ring */
	size_t heap_cap;
	struct sampler_fd *by_id; /* fds sorted by id, for sampler__event_of_id */
	uint64_t last_id;         /* its one-entry cache */
	int last_event;
	/* The kernel hands out ids in order, so those of one sampler are
	 * nearly always a short run: then an id's event is read from this
	 * table, ids dense_base to dense_base + n_dense - 1 (-1: not ours). */
	int *dense;
	uint64_t dense_base;
	size_t n_dense;
};

/* The most table slots per fd sampler__event_of_id's table may take. */
#define DENSE_SLOTS_PER_FD 8

int cpus__online(int **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL;
	int *cpus = NULL;
	size_t n = 0, cap = 0;
	char *p, *save = NULL;
	int r = read_file("/sys/devices/system/cpu/online", &text, NULL);

	if (r < 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		if (c <= 0)
			return r;
		text = xasprintf("0-%ld", c - 1);
	}
	for (p = strtok_r(text, ",\n", &save); p; p = strtok_r(NULL, ",\n", &save)) {
		int a, b;
		if (sscanf(p, "%d-%d", &a, &b) == 2) {
		} else if (sscanf(p, "%d", &a) == 1) {
			b = a;
		} else {
			free(cpus);
			return -EINVAL;
		}
		for (int c = a; c <= b; c++) {
			ARRAY_GROW(cpus, cap, n + 1);
			cpus[n++] = c;
		}
	}
	if (!n) {
		free(cpus);
		return -ENODEV;
	}
	*ret = cpus;
	*ret_n = n;
	return 0;
}

static int perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group, unsigned long flags)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
}

/* Features newer than some kernels: dropped one by one on EINVAL.
 * MMAP2 build-ids (attr.build_id) are not asked for: Linux sets the flag of
 * that record layout in a structure shared by every event, so asking for it
 * makes other tools' MMAP2 records (a concurrent `perf record`'s) carry the
 * flag with garbage, and perf 6.1 aborts on them. Build-ids are read from
 * the files instead (image__load). */
enum { TRY_BUILD_ID = 1, TRY_CLOCKID = 2 };

/* The tracking event: a software "dummy" that never samples and only
 * carries the side-band records. It owns each ring and is enabled first, so
 * that /proc can be read while it already records what changes, without
 * the sampling events filling the rings meanwhile (perf does the same). */
static const struct perf_event_attr dummy_attr = {
	.type = PERF_TYPE_SOFTWARE,
	.config = PERF_COUNT_SW_DUMMY,
	.sample_period = 1,
};

static int open_one(struct sampler *s, const struct sampler_config *cfg, const struct perf_event_attr *base,
		    bool side_band, pid_t tid, int cpu, unsigned *features)
{
	struct perf_event_attr attr = *base;
	int fd;

	attr.size = sizeof(attr);
	attr.sample_type = s->sample_type;
	attr.disabled = 1;
	attr.sample_id_all = 1;
	attr.inherit = cfg->inherit;
	attr.enable_on_exec = cfg->enable_on_exec;
	attr.watermark = 1;
	attr.wakeup_watermark = 0; /* set below from the ring size */
	if (s->user_stack_size) {
		attr.sample_regs_user = s->regs_user_mask;
		attr.sample_stack_user = s->user_stack_size;
		attr.exclude_callchain_user = 1;
	}
	if (side_band) {
		attr.mmap = 1;
		attr.mmap2 = 1;
		attr.comm = 1;
		attr.comm_exec = 1;
		attr.task = 1;
	}
	for (;;) {
		size_t ring_bytes = (cfg->ring_pages ? cfg->ring_pages : SAMPLER_DEFAULT_RING_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
		attr.wakeup_watermark = (uint32_t)(ring_bytes / 4);
		attr.build_id = side_band && (*features & TRY_BUILD_ID);
		attr.use_clockid = !!(*features & TRY_CLOCKID);
		attr.clockid = CLOCK_MONOTONIC;
		fd = perf_event_open(&attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == EINVAL && attr.build_id) {
			*features &= ~TRY_BUILD_ID;
			continue;
		}
		if (errno == EINVAL && attr.use_clockid) {
			*features &= ~TRY_CLOCKID;
			continue;
		}
		return -errno;
	}
	return fd;
}

static int add_fd(struct sampler *s, int fd, int event)
{
	uint64_t id = 0;
	if (ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0)
		return -errno;
	ARRAY_GROW(s->fds, s->cap_fds, s->n_fds + 1);
	s->fds[s->n_fds++] = (struct sampler_fd){ .fd = fd, .event = event, .id = id };
	return 0;
}

static int fd_id_cmp(const void *a, const void *b)
{
	const struct sampler_fd *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

int sampler__open(const struct sampler_config *cfg, struct sampler **ret, struct sampler_error *ret_error)
{
	struct sampler *s;
	_cleanup_free_ int *cpus = NULL;
	size_t n_cpus = 0;
	size_t pages = cfg->ring_pages ? cfg->ring_pages : SAMPLER_DEFAULT_RING_PAGES;
	unsigned features = TRY_CLOCKID;
	size_t n_tasks = cfg->system_wide ? 1 : cfg->n_tids;
	int r;

	if (!cfg->n_events || (!cfg->system_wide && !cfg->n_tids))
		return -EINVAL;
	if (pages & (pages - 1))
		return -EINVAL;
	if (cfg->user_stack_size &&
	    (!cfg->callchain || cfg->user_stack_size % 8 || cfg->user_stack_size > SAMPLER_MAX_USER_STACK))
		return -EINVAL;
	if (cfg->user_stack_size && !SAMPLER_REGS_USER_MASK)
		return -EOPNOTSUPP;
	r = cpus__online(&cpus, &n_cpus);
	if (r < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	s->sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			 PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD;
	if (cfg->callchain)
		s->sample_type |= PERF_SAMPLE_CALLCHAIN;
	if (cfg->user_stack_size) {
		s->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		s->regs_user_mask = SAMPLER_REGS_USER_MASK;
		s->user_stack_size = cfg->user_stack_size;
	}
	s->task_bound = !cfg->system_wide;
	s->rings = xcalloc(n_cpus, sizeof(*s->rings));
	s->n_rings = n_cpus;
	s->pollfds = xcalloc(n_cpus * n_tasks * (cfg->n_events + 1), sizeof(*s->pollfds));

	for (size_t c = 0; c < n_cpus; c++) {
		struct sampler_ring *sr = &s->rings[c];
		sr->cpu = cpus[c];
		sr->fd = -1;
		for (size_t t = 0; t < n_tasks; t++) {
			pid_t tid = cfg->system_wide ? -1 : cfg->tids[t];
			/* e = -1: the tracking event, then the sampling events. */
			for (int e = -1; e < (int)cfg->n_events; e++) {
				bool owner = sr->fd < 0;
				int fd = open_one(s, cfg, e < 0 ? &dummy_attr : &cfg->events[e].attr, e < 0, tid, cpus[c],
						  &features);
				if (fd < 0) {
					if (ret_error)
						*ret_error = (struct sampler_error){ e < 0 ? 0 : e, cpus[c], tid };
					/* A task that exited while we opened is not an error. */
					if (fd == -ESRCH && !cfg->system_wide)
						continue;
					r = fd;
					goto fail;
				}
				if ((r = add_fd(s, fd, e)) < 0) {
					close(fd);
					goto fail;
				}
				if (owner) {
					sr->fd = fd;
					r = ring__mmap(&sr->ring, fd, pages);
					if (r < 0) {
						if (ret_error)
							*ret_error = (struct sampler_error){ e < 0 ? 0 : e, cpus[c], tid, true };
						goto fail;
					}
				} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, sr->fd) < 0) {
					r = -errno;
					goto fail;
				}
				/* Task-bound events hang up (POLLHUP) when their task
				 * exits: poll each so we notice the end. */
				if (owner || !cfg->system_wide)
					s->pollfds[s->n_pollfds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			}
		}
		if (sr->fd < 0) {
			r = -ESRCH;
			goto fail;
		}
	}
	s->clock_monotonic = !!(features & TRY_CLOCKID);
	s->last_event = -1; /* for id 0, which the kernel never hands out */
	s->by_id = xmalloc(s->n_fds * sizeof(*s->by_id));
	memcpy(s->by_id, s->fds, s->n_fds * sizeof(*s->by_id));
	if (s->n_fds > 1)
		qsort(s->by_id, s->n_fds, sizeof(*s->by_id), fd_id_cmp);
	if (s->n_fds && s->by_id[s->n_fds - 1].id - s->by_id[0].id < DENSE_SLOTS_PER_FD * s->n_fds) {
		s->dense_base = s->by_id[0].id;
		s->n_dense = (size_t)(s->by_id[s->n_fds - 1].id - s->dense_base) + 1;
		s->dense = xmalloc(s->n_dense * sizeof(*s->dense));
		for (size_t i = 0; i < s->n_dense; i++)
			s->dense[i] = -1;
		for (size_t i = 0; i < s->n_fds; i++)
			s->dense[s->by_id[i].id - s->dense_base] = s->by_id[i].event;
	}
	*ret = s;
	return 0;
fail:
	sampler__free(s);
	return r;
}

void sampler__free(struct sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_rings; i++) {
		ring__release(&s->rings[i].ring);
	}
	for (size_t i = 0; i < s->n_fds; i++)
		close(s->fds[i].fd);
	free(s->rings);
	free(s->fds);
	free(s->pollfds);
	free(s->heap);
	free(s->by_id);
	free(s->dense);
	free(s);
}

int sampler__enable_tracking(struct sampler *s)
{
	for (size_t i = 0; i < s->n_fds; i++)
		if (s->fds[i].event < 0 && ioctl(s->fds[i].fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
			return -errno;
	return 0;
}

int sampler__enable(struct sampler *s)
{
	for (size_t i = 0; i < s->n_fds; i++)
		if (ioctl(s->fds[i].fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
			return -errno;
	return 0;
}

int sampler__disable(struct sampler *s)
{
	for (size_t i = 0; i < s->n_fds; i++)
		if (ioctl(s->fds[i].fd, PERF_EVENT_IOC_DISABLE, 0) < 0)
			return -errno;
	return 0;
}

int sampler__watch(struct sampler *s, int fd)
{
	s->pollfds = xrealloc(s->pollfds, (s->n_pollfds + 1) * sizeof(*s->pollfds));
	s->pollfds[s->n_pollfds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	s->n_watched++;
	return 0;
}

int sampler__wait(struct sampler *s, int timeout_ms)
{
	int n = poll(s->pollfds, s->n_pollfds, timeout_ms);
	size_t events = s->n_pollfds - s->n_watched, hung = 0;
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < events; i++)
		if (s->pollfds[i].revents & (POLLHUP | POLLERR))
			hung++;
	if (s->task_bound && events && hung == events)
		return -EPIPE;
	return n;
}

static void count_record(struct sampler_ring *sr, const struct perf_event_header *h)
{
	if (h->type == PERF_RECORD_SAMPLE) {
		sr->samples++;
	} else if (h->type == PERF_RECORD_LOST) {
		struct perf_lost_event l;
		if (perf_record__parse_lost(h, &l) == 0)
			sr->lost += l.lost;
	}
}

/* A k-way merge straight out of the rings: each ring's current record stays
 * valid (in the ring, or in that ring's own bounce buffer) until the ring is
 * advanced. A record is given back to the kernel as soon as fn returns, so
 * a slow fn (unwinding a dwarf stack) never holds the space of the records
 * it already handled. Each ring is in time order already; a binary heap of
 * ring heads interleaves them. */
static bool head_before(const struct head *a, const struct head *b)
{
	return a->time != b->time ? a->time < b->time : a->ring < b->ring;
}

static void heap_down(struct head *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && head_before(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && head_before(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		struct head t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

size_t sampler__read(struct sampler *s, sampler_record_fn fn, void *ctx)
{
	size_t n = 0, live = 0;
	struct head *heap;

	ARRAY_GROW(s->heap, s->heap_cap, s->n_rings);
	heap = s->heap;
	for (size_t i = 0; i < s->n_rings; i++) {
		struct sampler_ring *sr = &s->rings[i];
		const struct perf_event_header *h;
		if (!ring__read_begin(&sr->ring) || !(h = ring__read_event(&sr->ring)))
			continue;
		heap[live++] = (struct head){ perf_record__time(h, s->sample_type), (unsigned)i, h };
	}
	for (size_t i = live / 2; i-- > 0;)
		heap_down(heap, live, i);
	while (live) {
		struct head top = heap[0];
		struct sampler_ring *sr = &s->rings[top.ring];
		const struct perf_event_header *next;
		count_record(sr, top.rec);
		fn(top.rec, top.ring, ctx);
		n++;
		/* The ring's only record out is top, now done with. */
		ring__read_end(&sr->ring);
		next = ring__read_event(&sr->ring);
		if (next)
			heap[0] = (struct head){ perf_record__time(next, s->sample_type), top.ring, next };
		else
			heap[0] = heap[--live];
		heap_down(heap, live, 0);
	}
	for (size_t i = 0; i < s->n_rings; i++)
		ring__read_end(&s->rings[i].ring);
	return n;
}

uint64_t sampler__sample_type(const struct sampler *s) { return s->sample_type; }
uint64_t sampler__regs_user_mask(const struct sampler *s) { return s->regs_user_mask; }

int sampler__event_of_id(const struct sampler *s, uint64_t id)
{
	size_t lo = 0, hi = s->n_fds;
	if (s->dense) {
		uint64_t k = id - s->dense_base; /* below the base: wraps past n_dense */
		return k < s->n_dense ? s->dense[k] : -1;
	}
	/* Runs of samples of one event are the rule: remember the last. */
	if (id == s->last_id)
		return s->last_event;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->by_id[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n_fds && s->by_id[lo].id == id) {
		((struct sampler *)s)->last_id = id;
		((struct sampler *)s)->last_event = s->by_id[lo].event;
		return s->by_id[lo].event;
	}
	return -1;
}

bool sampler__clock_monotonic(const struct sampler *s) { return s->clock_monotonic; }
size_t sampler__n_rings(const struct sampler *s) { return s->n_rings; }
int sampler__ring_cpu(const struct sampler *s, unsigned ring) { return s->rings[ring].cpu; }
uint64_t sampler__ring_samples(const struct sampler *s, unsigned ring) { return s->rings[ring].samples; }
uint64_t sampler__ring_lost(const struct sampler *s, unsigned ring) { return s->rings[ring].lost; }
size_t sampler__ring_size(const struct sampler *s, unsigned ring) { return s->rings[ring].ring.data_size; }
size_t sampler__ring_backlog(const struct sampler *s, unsigned ring) { return ring__backlog(&s->rings[ring].ring); }

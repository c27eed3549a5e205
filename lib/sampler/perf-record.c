/* Bounds-checked decoding of perf records; layouts from the comments on
 * enum perf_event_type in include/uapi/linux/perf_event.h. */
#include "perf-record.h"

#include <errno.h>
#include <string.h>

#ifndef PERF_RECORD_MISC_MMAP_BUILD_ID
#define PERF_RECORD_MISC_MMAP_BUILD_ID (1 << 14)
#endif
#ifndef PERF_SAMPLE_WEIGHT_STRUCT
#define PERF_SAMPLE_WEIGHT_STRUCT (1U << 24)
#endif

struct cursor {
	const unsigned char *p, *end;
};

static int take_u64(struct cursor *c, uint64_t *v)
{
	if (c->end - c->p < 8)
		return -EBADMSG;
	memcpy(v, c->p, 8);
	c->p += 8;
	return 0;
}

static int take_u32x2(struct cursor *c, uint32_t *a, uint32_t *b)
{
	if (c->end - c->p < 8)
		return -EBADMSG;
	memcpy(a, c->p, 4);
	memcpy(b, c->p + 4, 4);
	c->p += 8;
	return 0;
}

static int skip(struct cursor *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n)
		return -EBADMSG;
	c->p += n;
	return 0;
}

static int skip_read_format(struct cursor *c, uint64_t read_format)
{
	uint64_t per = 1 + !!(read_format & PERF_FORMAT_ID) + !!(read_format & PERF_FORMAT_LOST);
	uint64_t hdr = !!(read_format & PERF_FORMAT_TOTAL_TIME_ENABLED) + !!(read_format & PERF_FORMAT_TOTAL_TIME_RUNNING);
	if (read_format & PERF_FORMAT_GROUP) {
		uint64_t nr;
		if (take_u64(c, &nr) < 0 || nr > 4096)
			return -EBADMSG;
		return skip(c, (hdr + nr * per) * 8);
	}
	return skip(c, (hdr + per) * 8);
}

bool perf_sample__user_reg(const struct perf_sample *s, unsigned reg, uint64_t *ret)
{
	unsigned idx;
	if (reg >= 64 || !(s->regs_mask & (1ULL << reg)) || !s->regs_nr)
		return false;
	idx = (unsigned)__builtin_popcountll(s->regs_mask & ((1ULL << reg) - 1));
	if (idx >= s->regs_nr)
		return false;
	memcpy(ret, s->regs + idx * 8, 8);
	return true;
}

/* REGS_USER: abi u64, then one u64 per bit of the mask unless abi is
 * NONE. STACK_USER: size u64, data[size], then dyn_size u64 unless size
 * is 0; dyn_size (what was really copied) is at most size. */
static int take_user_regs_stack(struct cursor *c, uint64_t st, uint64_t regs_mask, struct perf_sample *s)
{
	if (st & PERF_SAMPLE_REGS_USER) {
		if (take_u64(c, &s->regs_abi) < 0)
			return -EBADMSG;
		if (s->regs_abi != PERF_SAMPLE_REGS_ABI_NONE) {
			uint64_t n = (uint64_t)__builtin_popcountll(regs_mask);
			if (n > (uint64_t)(c->end - c->p) / 8)
				return -EBADMSG;
			s->regs_mask = regs_mask;
			s->regs_nr = (uint32_t)n;
			s->regs = c->p;
			c->p += n * 8;
		}
	}
	if (st & PERF_SAMPLE_STACK_USER) {
		uint64_t size, dyn;
		const unsigned char *data;
		if (take_u64(c, &size) < 0)
			return -EBADMSG;
		if (size) {
			if (size > (uint64_t)(c->end - c->p))
				return -EBADMSG;
			data = c->p;
			c->p += size;
			if (take_u64(c, &dyn) < 0 || dyn > size)
				return -EBADMSG;
			s->stack = data;
			s->stack_size = dyn;
		}
	}
	return 0;
}

int perf_record__parse_sample(const struct perf_event_header *h, uint64_t st, uint64_t read_format,
			      struct perf_sample *ret)
{
	return perf_record__parse_sample_regs(h, st & ~(uint64_t)(PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER),
					      read_format, 0, ret);
}

/* The recorder's own layout without call chains (sampler.c), which
 * nearly every sample of a recording has: read in one go, its size
 * checked once. */
#define PLAIN_SAMPLE_TYPE                                                                                              \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |               \
	 PERF_SAMPLE_PERIOD)
#define PLAIN_SAMPLE_BYTES 48

static void parse_plain_sample(const struct perf_event_header *h, struct perf_sample *ret)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	struct perf_sample s = { .misc = h->misc, .cpumode = h->misc & PERF_RECORD_MISC_CPUMODE_MASK };
	memcpy(&s.id, p, 8);
	memcpy(&s.ip, p + 8, 8);
	memcpy(&s.pid, p + 16, 4);
	memcpy(&s.tid, p + 20, 4);
	memcpy(&s.time, p + 24, 8);
	memcpy(&s.cpu, p + 32, 4);
	memcpy(&s.period, p + 40, 8);
	*ret = s;
}

int perf_record__parse_sample_regs(const struct perf_event_header *h, uint64_t st, uint64_t read_format,
				   uint64_t regs_mask, struct perf_sample *ret)
{
	struct cursor c = { (const unsigned char *)(h + 1), (const unsigned char *)h + h->size };
	struct perf_sample s = { 0 };
	uint32_t res;

	if (st == PLAIN_SAMPLE_TYPE && h->size == sizeof(*h) + PLAIN_SAMPLE_BYTES) {
		parse_plain_sample(h, ret);
		return 0;
	}
	if (h->size < sizeof(*h))
		return -EBADMSG;
	s.misc = h->misc;
	s.cpumode = h->misc & PERF_RECORD_MISC_CPUMODE_MASK;
	s.pid = s.tid = UINT32_MAX;
	if ((st & PERF_SAMPLE_IDENTIFIER) && take_u64(&c, &s.id) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_IP) && take_u64(&c, &s.ip) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_TID) && take_u32x2(&c, &s.pid, &s.tid) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_TIME) && take_u64(&c, &s.time) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_ADDR) && take_u64(&c, &s.addr) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_ID) && take_u64(&c, &s.id) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_STREAM_ID) && take_u64(&c, &s.stream_id) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_CPU) && take_u32x2(&c, &s.cpu, &res) < 0)
		return -EBADMSG;
	s.period = 1;
	if ((st & PERF_SAMPLE_PERIOD) && take_u64(&c, &s.period) < 0)
		return -EBADMSG;
	if ((st & PERF_SAMPLE_READ) && skip_read_format(&c, read_format) < 0)
		return -EBADMSG;
	if (st & PERF_SAMPLE_CALLCHAIN) {
		if (take_u64(&c, &s.callchain_nr) < 0)
			return -EBADMSG;
		if (s.callchain_nr > (uint64_t)(c.end - c.p) / 8)
			return -EBADMSG;
		s.callchain = c.p;
		c.p += s.callchain_nr * 8;
	}
	if (st & (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)) {
		if (st & PERF_SAMPLE_RAW) {
			uint32_t raw;
			if (c.end - c.p < 4)
				return -EBADMSG;
			memcpy(&raw, c.p, 4);
			c.p += 4;
			if (skip(&c, raw) < 0)
				return -EBADMSG;
		}
		if (!(st & PERF_SAMPLE_BRANCH_STACK) && take_user_regs_stack(&c, st, regs_mask, &s) < 0)
			return -EBADMSG;
	}
	*ret = s;
	return 0;
}

size_t perf_record__sample_id_size(uint64_t st)
{
	size_t n = 0;
	n += !!(st & PERF_SAMPLE_TID);
	n += !!(st & PERF_SAMPLE_TIME);
	n += !!(st & PERF_SAMPLE_ID);
	n += !!(st & PERF_SAMPLE_STREAM_ID);
	n += !!(st & PERF_SAMPLE_CPU);
	n += !!(st & PERF_SAMPLE_IDENTIFIER);
	return n * 8;
}

int perf_record__parse_sample_id(const struct perf_event_header *h, uint64_t st, struct perf_sample *ret)
{
	size_t n = perf_record__sample_id_size(st);
	struct cursor c;
	struct perf_sample s = { 0 };
	uint32_t res;

	if (h->size < sizeof(*h) + n)
		return -EBADMSG;
	c.p = (const unsigned char *)h + h->size - n;
	c.end = (const unsigned char *)h + h->size;
	s.misc = h->misc;
	s.cpumode = h->misc & PERF_RECORD_MISC_CPUMODE_MASK;
	s.pid = s.tid = UINT32_MAX;
	if (st & PERF_SAMPLE_TID)
		take_u32x2(&c, &s.pid, &s.tid);
	if (st & PERF_SAMPLE_TIME)
		take_u64(&c, &s.time);
	if (st & PERF_SAMPLE_ID)
		take_u64(&c, &s.id);
	if (st & PERF_SAMPLE_STREAM_ID)
		take_u64(&c, &s.stream_id);
	if (st & PERF_SAMPLE_CPU)
		take_u32x2(&c, &s.cpu, &res);
	if (st & PERF_SAMPLE_IDENTIFIER)
		take_u64(&c, &s.id);
	*ret = s;
	return 0;
}

uint64_t perf_record__time(const struct perf_event_header *h, uint64_t st)
{
	const unsigned char *p;
	uint64_t t;
	if (!(st & PERF_SAMPLE_TIME))
		return 0;
	if (h->type == PERF_RECORD_SAMPLE) {
		size_t off = sizeof(*h);
		off += 8 * (!!(st & PERF_SAMPLE_IDENTIFIER) + !!(st & PERF_SAMPLE_IP) + !!(st & PERF_SAMPLE_TID));
		if (h->size < off + 8)
			return 0;
		p = (const unsigned char *)h + off;
	} else {
		size_t n = perf_record__sample_id_size(st);
		size_t off = !!(st & PERF_SAMPLE_TID) * 8;
		if (h->size < sizeof(*h) + n)
			return 0;
		p = (const unsigned char *)h + h->size - n + off;
	}
	memcpy(&t, p, 8);
	return t;
}

/* A NUL-terminated string starting at p inside [p, end). */
static const char *record_string(const unsigned char *p, const unsigned char *end)
{
	if (p >= end || !memchr(p, '\0', end - p))
		return NULL;
	return (const char *)p;
}

int perf_record__parse_mmap(const struct perf_event_header *h, struct perf_mmap_event *ret)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	const unsigned char *end = (const unsigned char *)h + h->size;
	struct perf_mmap_event m = { 0 };

	if (h->type != PERF_RECORD_MMAP && h->type != PERF_RECORD_MMAP2)
		return -EINVAL;
	if (end - p < (h->type == PERF_RECORD_MMAP ? 32 : 64))
		return -EBADMSG;
	/* Both layouts begin with pid, tid, start, len, pgoff. */
	memcpy(&m.pid, p, 4);
	memcpy(&m.tid, p + 4, 4);
	memcpy(&m.start, p + 8, 8);
	memcpy(&m.len, p + 16, 8);
	memcpy(&m.pgoff, p + 24, 8);
	if (h->type == PERF_RECORD_MMAP) {
		m.prot = 4; /* PROT_EXEC: MMAP records are only emitted for executable maps */
		m.filename = record_string(p + 32, end);
	} else {
		/* Kernels before the fix of perf_event_mmap_output() leak the
		 * BUILD_ID bit of one event's MMAP2 into other events' records,
		 * which still carry maj/min/ino: a size no build-id can have
		 * means the bit is a stray. */
		if ((h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) && p[32] <= 20) {
			m.build_id_size = p[32];
			memcpy(m.build_id, p + 36, m.build_id_size);
		} else {
			memcpy(&m.maj, p + 32, 4);
			memcpy(&m.min, p + 36, 4);
			memcpy(&m.ino, p + 40, 8);
		}
		memcpy(&m.prot, p + 56, 4);
		memcpy(&m.flags, p + 60, 4);
		m.filename = record_string(p + 64, end);
		m.is_mmap2 = true;
	}
	if (!m.filename)
		return -EBADMSG;
	if (m.start + m.len < m.start)
		return -EBADMSG;
	*ret = m;
	return 0;
}

int perf_record__parse_comm(const struct perf_event_header *h, struct perf_comm_event *ret)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	const unsigned char *end = (const unsigned char *)h + h->size;
	struct perf_comm_event c = { 0 };
	if (h->type != PERF_RECORD_COMM)
		return -EINVAL;
	if (end - p < 8)
		return -EBADMSG;
	memcpy(&c.pid, p, 4);
	memcpy(&c.tid, p + 4, 4);
	c.comm = record_string(p + 8, end);
	if (!c.comm)
		return -EBADMSG;
	c.exec = h->misc & PERF_RECORD_MISC_COMM_EXEC;
	*ret = c;
	return 0;
}

int perf_record__parse_task(const struct perf_event_header *h, struct perf_task_event *ret)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	struct perf_task_event t;
	if (h->type != PERF_RECORD_FORK && h->type != PERF_RECORD_EXIT)
		return -EINVAL;
	if (h->size < sizeof(*h) + 24)
		return -EBADMSG;
	memcpy(&t.pid, p, 4);
	memcpy(&t.ppid, p + 4, 4);
	memcpy(&t.tid, p + 8, 4);
	memcpy(&t.ptid, p + 12, 4);
	memcpy(&t.time, p + 16, 8);
	*ret = t;
	return 0;
}

int perf_record__parse_lost(const struct perf_event_header *h, struct perf_lost_event *ret)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	struct perf_lost_event l = { 0 };
	if (h->type == PERF_RECORD_LOST) {
		if (h->size < sizeof(*h) + 16)
			return -EBADMSG;
		memcpy(&l.id, p, 8);
		memcpy(&l.lost, p + 8, 8);
	} else if (h->type == PERF_RECORD_LOST_SAMPLES) {
		if (h->size < sizeof(*h) + 8)
			return -EBADMSG;
		memcpy(&l.lost, p, 8);
	} else {
		return -EINVAL;
	}
	*ret = l;
	return 0;
}

const char *perf_record__type_name(uint32_t type)
{
	static const char *names[] = {
		[PERF_RECORD_MMAP] = "MMAP",
		[PERF_RECORD_LOST] = "LOST",
		[PERF_RECORD_COMM] = "COMM",
		[PERF_RECORD_EXIT] = "EXIT",
		[PERF_RECORD_THROTTLE] = "THROTTLE",
		[PERF_RECORD_UNTHROTTLE] = "UNTHROTTLE",
		[PERF_RECORD_FORK] = "FORK",
		[PERF_RECORD_READ] = "READ",
		[PERF_RECORD_SAMPLE] = "SAMPLE",
		[PERF_RECORD_MMAP2] = "MMAP2",
		[PERF_RECORD_AUX] = "AUX",
		[PERF_RECORD_ITRACE_START] = "ITRACE_START",
		[PERF_RECORD_LOST_SAMPLES] = "LOST_SAMPLES",
		[PERF_RECORD_SWITCH] = "SWITCH",
		[PERF_RECORD_SWITCH_CPU_WIDE] = "SWITCH_CPU_WIDE",
		[PERF_RECORD_NAMESPACES] = "NAMESPACES",
		[PERF_RECORD_KSYMBOL] = "KSYMBOL",
		[PERF_RECORD_BPF_EVENT] = "BPF_EVENT",
		[PERF_RECORD_CGROUP] = "CGROUP",
		[PERF_RECORD_TEXT_POKE] = "TEXT_POKE",
	};
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "UNKNOWN";
}

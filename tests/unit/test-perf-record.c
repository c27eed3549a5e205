/* Decoding of perf records: samples of several layouts, callchains, the
 * sample_id trailer, MMAP/MMAP2 (with and without build-id), COMM, FORK,
 * LOST — and truncated records, which must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "lib/sampler/perf-record.h"
#include "perf-synth.h"

static void test_sample(void **state)
{
	struct synth s;
	struct perf_sample ps;
	const struct perf_event_header *h = synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 100, 101, 0xffffffff81001234ULL,
							 5000, 250000, 42);
	assert_int_equal(perf_record__parse_sample(h, SYNTH_SAMPLE_TYPE, 0, &ps), 0);
	assert_int_equal(ps.id, 42);
	assert_int_equal(ps.ip, 0xffffffff81001234ULL);
	assert_int_equal(ps.pid, 100);
	assert_int_equal(ps.tid, 101);
	assert_int_equal(ps.time, 5000);
	assert_int_equal(ps.period, 250000);
	assert_int_equal(ps.cpumode, CPUMODE_GUEST_KERNEL);
	assert_int_equal(perf_record__time(h, SYNTH_SAMPLE_TYPE), 5000);
}

static void test_sample_callchain(void **state)
{
	struct synth s;
	struct perf_sample ps;
	uint64_t st = SYNTH_SAMPLE_TYPE | PERF_SAMPLE_CALLCHAIN;
	const struct perf_event_header *h;
	synth_begin(&s, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
	synth_u64(&s, 1);
	synth_u64(&s, 0x401000);
	synth_u32x2(&s, 7, 7);
	synth_u64(&s, 99);
	synth_u32x2(&s, 1, 0);
	synth_u64(&s, 1);
	synth_u64(&s, 4);
	synth_u64(&s, PERF_CONTEXT_USER);
	synth_u64(&s, 0x401000);
	synth_u64(&s, 0x402000);
	synth_u64(&s, 0x403000);
	h = synth_end(&s);
	assert_int_equal(perf_record__parse_sample(h, st, 0, &ps), 0);
	assert_int_equal(ps.callchain_nr, 4);
	assert_int_equal(perf_sample__callchain_ip(&ps, 0), PERF_CONTEXT_USER);
	assert_int_equal(perf_sample__callchain_ip(&ps, 3), 0x403000);
	assert_int_equal(ps.cpu, 1);

	/* A callchain claiming more entries than the record holds. */
	memcpy(s.buf + 56, &(uint64_t){ 1000 }, 8);
	assert_int_equal(perf_record__parse_sample(h, st, 0, &ps), -EBADMSG);
}

/* PERF_SAMPLE_REGS_USER + PERF_SAMPLE_STACK_USER after a kernel call
 * chain, as --call-graph dwarf records them: abi, one u64 per mask bit,
 * then size, data[size], dyn_size. */
static const struct perf_event_header *synth_regs_stack(struct synth *s, uint64_t abi, uint64_t size, uint64_t dyn,
							  bool raw)
{
	synth_begin(s, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
	synth_u64(s, 1);
	synth_u64(s, 0x401000);
	synth_u32x2(s, 7, 8);
	synth_u64(s, 99);
	synth_u32x2(s, 2, 0);
	synth_u64(s, 1);
	synth_u64(s, 2);			/* callchain: the kernel part only */
	synth_u64(s, PERF_CONTEXT_KERNEL);
	synth_u64(s, 0xffffffff81000010ULL);
	if (raw) {
		uint32_t n = 4, v = 0xdeadbeef;
		memcpy(s->buf + s->len, &n, 4);
		memcpy(s->buf + s->len + 4, &v, 4);
		s->len += 8;
	}
	synth_u64(s, abi);
	if (abi) {
		synth_u64(s, 0x7ffd0000);	/* bit 6 (BP) */
		synth_u64(s, 0x7ffe0000);	/* bit 7 (SP) */
		synth_u64(s, 0x401000);		/* bit 8 (IP) */
	}
	synth_u64(s, size);
	for (uint64_t i = 0; i < size; i += 8)
		synth_u64(s, 0x1000 + i);
	if (size)
		synth_u64(s, dyn);
	return synth_end(s);
}

static void test_sample_regs_stack(void **state)
{
	const uint64_t st = SYNTH_SAMPLE_TYPE | PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	const uint64_t mask = (1ULL << 6) | (1ULL << 7) | (1ULL << 8);
	struct synth s;
	struct perf_sample ps;
	uint64_t v, word;
	const struct perf_event_header *h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 64, 40, false);

	assert_int_equal(perf_record__parse_sample_regs(h, st, 0, mask, &ps), 0);
	assert_int_equal(ps.callchain_nr, 2);
	assert_int_equal(ps.regs_abi, PERF_SAMPLE_REGS_ABI_64);
	assert_int_equal(ps.regs_nr, 3);
	assert_true(perf_sample__user_reg(&ps, 7, &v));
	assert_int_equal(v, 0x7ffe0000);
	assert_true(perf_sample__user_reg(&ps, 8, &v));
	assert_int_equal(v, 0x401000);
	assert_true(perf_sample__user_reg(&ps, 6, &v));
	assert_int_equal(v, 0x7ffd0000);
	assert_false(perf_sample__user_reg(&ps, 0, &v)); /* not in the mask */
	assert_int_equal(ps.stack_size, 40);		 /* dyn_size, not size */
	memcpy(&word, ps.stack + 32, 8);
	assert_int_equal(word, 0x1020);
	/* Without asking for them, the same record decodes without them. */
	assert_int_equal(perf_record__parse_sample(h, st, 0, &ps), 0);
	assert_int_equal(ps.regs_nr, 0);
	assert_null(ps.stack);

	/* A RAW blob in front is skipped by its own size. */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 16, 16, true);
	assert_int_equal(perf_record__parse_sample_regs(h, st | PERF_SAMPLE_RAW, 0, mask, &ps), 0);
	assert_true(perf_sample__user_reg(&ps, 8, &v));
	assert_int_equal(v, 0x401000);
	assert_int_equal(ps.stack_size, 16);

	/* A kernel thread: abi NONE, no registers, and no stack (size 0, no dyn_size). */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_NONE, 0, 0, false);
	assert_int_equal(perf_record__parse_sample_regs(h, st, 0, mask, &ps), 0);
	assert_int_equal(ps.regs_nr, 0);
	assert_false(perf_sample__user_reg(&ps, 8, &v));
	assert_int_equal(ps.stack_size, 0);

	/* dyn_size larger than the copy: hostile, refused. */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 64, 72, false);
	assert_int_equal(perf_record__parse_sample_regs(h, st, 0, mask, &ps), -EBADMSG);
	/* A size past the record's end. */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 64, 40, false);
	memcpy(s.buf + 112, &(uint64_t){ 4096 }, 8); /* the size field */
	assert_int_equal(perf_record__parse_sample_regs(h, st, 0, mask, &ps), -EBADMSG);
	/* More registers in the mask than the record holds. */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 0, 0, false);
	assert_int_equal(perf_record__parse_sample_regs(h, st, 0, ~0ULL, &ps), -EBADMSG);
	/* Every truncation of a good record fails cleanly. */
	h = synth_regs_stack(&s, PERF_SAMPLE_REGS_ABI_64, 64, 40, false);
	for (uint16_t len = sizeof(*h); len < h->size; len += 8) {
		struct perf_event_header t = *h;
		unsigned char copy[512];
		t.size = len;
		memcpy(copy, h, h->size);
		memcpy(copy, &t, sizeof(t));
		assert_int_equal(perf_record__parse_sample_regs((const struct perf_event_header *)copy, st, 0, mask, &ps),
				 -EBADMSG);
	}
}

static void test_sample_other_layouts(void **state)
{
	/* perf record's usual layout: IP|TID|TIME|ID|CPU|PERIOD (no IDENTIFIER)
	 * and a group READ with ids. */
	struct synth s;
	struct perf_sample ps;
	uint64_t st = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID | PERF_SAMPLE_CPU |
		      PERF_SAMPLE_PERIOD | PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN;
	uint64_t rf = PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED;
	const struct perf_event_header *h;
	synth_begin(&s, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_KERNEL);
	synth_u64(&s, 0xffffffff81000000ULL);
	synth_u32x2(&s, 3, 4);
	synth_u64(&s, 77);
	synth_u64(&s, 555);
	synth_u32x2(&s, 2, 0);
	synth_u64(&s, 10);
	synth_u64(&s, 2);   /* read: nr */
	synth_u64(&s, 123); /* time_enabled */
	synth_u64(&s, 1);   /* value, id */
	synth_u64(&s, 555);
	synth_u64(&s, 2);
	synth_u64(&s, 556);
	synth_u64(&s, 1);   /* callchain nr */
	synth_u64(&s, 0xffffffff81000000ULL);
	h = synth_end(&s);
	assert_int_equal(perf_record__parse_sample(h, st, rf, &ps), 0);
	assert_int_equal(ps.id, 555);
	assert_int_equal(ps.cpu, 2);
	assert_int_equal(ps.period, 10);
	assert_int_equal(ps.callchain_nr, 1);
	assert_int_equal(perf_record__time(h, st), 77);
}

/* The recorder's own layout is read in one go (parse_plain_sample); a
 * record of that layout with a word more takes the general path. Both
 * must give the same fields, the CPU and the misc bits included. */
static void test_sample_plain_layout(void **state)
{
	struct synth a, b;
	struct perf_sample fast, slow;
	const struct perf_event_header *h = synth_sample(&a, PERF_RECORD_MISC_USER | PERF_RECORD_MISC_EXACT_IP, 7, 8,
							 0x401234, 99, 3, 0x1122334455667788ULL);
	struct perf_event_header *w;
	uint32_t cpu = 5;
	memcpy((unsigned char *)h + sizeof(*h) + 32, &cpu, 4);
	memcpy(&b, &a, sizeof(a));
	synth_u64(&b, 0xdeadbeef);
	w = (struct perf_event_header *)synth_end(&b);
	assert_int_equal(h->size + 8, w->size);
	assert_int_equal(perf_record__parse_sample(h, SYNTH_SAMPLE_TYPE, 0, &fast), 0);
	assert_int_equal(perf_record__parse_sample(w, SYNTH_SAMPLE_TYPE, 0, &slow), 0);
	assert_int_equal(fast.id, slow.id);
	assert_int_equal(fast.ip, slow.ip);
	assert_int_equal(fast.pid, slow.pid);
	assert_int_equal(fast.tid, slow.tid);
	assert_int_equal(fast.time, slow.time);
	assert_int_equal(fast.cpu, slow.cpu);
	assert_int_equal(fast.period, slow.period);
	assert_int_equal(fast.misc, slow.misc);
	assert_int_equal(fast.cpumode, slow.cpumode);
	assert_int_equal(fast.addr, slow.addr);
	assert_int_equal(fast.regs_nr, slow.regs_nr);
	assert_int_equal(fast.stack_size, slow.stack_size);
	assert_int_equal(fast.cpu, 5);
	assert_int_equal(fast.misc, PERF_RECORD_MISC_USER | PERF_RECORD_MISC_EXACT_IP);
	assert_int_equal(fast.cpumode, CPUMODE_USER);
	assert_int_equal(fast.id, 0x1122334455667788ULL);
	assert_int_equal(fast.period, 3);
	assert_int_equal(fast.callchain_nr, 0);
	assert_null(fast.callchain);
}

static void test_truncated(void **state)
{
	struct synth s;
	struct perf_sample ps;
	struct perf_event_header *h = (struct perf_event_header *)synth_sample(&s, PERF_RECORD_MISC_USER, 1, 1, 1, 1, 1, 1);
	for (uint16_t size = 8; size < h->size; size += 8) {
		uint16_t full = h->size;
		h->size = size;
		assert_int_equal(perf_record__parse_sample(h, SYNTH_SAMPLE_TYPE, 0, &ps), -EBADMSG);
		h->size = full;
	}
}

static void test_mmap2_and_comm(void **state)
{
	struct synth s;
	struct perf_mmap_event m;
	struct perf_comm_event c;
	struct perf_sample id;
	const struct perf_event_header *h = synth_mmap2(&s, 10, 11, 0x400000, 0x2000, 0x1000, 5, "/usr/bin/true");
	assert_int_equal(perf_record__parse_mmap(h, &m), 0);
	assert_int_equal(m.pid, 10);
	assert_int_equal(m.start, 0x400000);
	assert_int_equal(m.len, 0x2000);
	assert_int_equal(m.pgoff, 0x1000);
	assert_int_equal(m.prot, 5);
	assert_int_equal(m.ino, 1234);
	assert_int_equal(m.build_id_size, 0);
	assert_string_equal(m.filename, "/usr/bin/true");
	assert_int_equal(perf_record__parse_sample_id(h, SYNTH_SAMPLE_TYPE, &id), 0);
	assert_int_equal(id.tid, 11);
	assert_int_equal(id.id, 1);

	/* With a build-id (PERF_RECORD_MISC_MMAP_BUILD_ID). */
	((struct perf_event_header *)s.buf)->misc |= (1 << 14);
	s.buf[8 + 32] = 20;
	memset(s.buf + 8 + 36, 0xab, 20);
	assert_int_equal(perf_record__parse_mmap(h, &m), 0);
	assert_int_equal(m.build_id_size, 20);
	assert_int_equal(m.build_id[19], 0xab);
	/* No build-id has 21 bytes: the bit is a stray (old kernels leak it
	 * between events) and maj/min/ino follow. */
	s.buf[8 + 32] = 21;
	assert_int_equal(perf_record__parse_mmap(h, &m), 0);
	assert_int_equal(m.build_id_size, 0);
	assert_int_equal(m.maj, 21);
	assert_string_equal(m.filename, "/usr/bin/true");

	h = synth_comm(&s, 5, 6, "CPU 0/KVM", 0);
	assert_int_equal(perf_record__parse_comm(h, &c), 0);
	assert_string_equal(c.comm, "CPU 0/KVM");
	assert_false(c.exec);
	h = synth_comm(&s, 5, 5, "qemu-system-x86", 1);
	assert_int_equal(perf_record__parse_comm(h, &c), 0);
	assert_true(c.exec);
	/* No NUL inside the record. */
	memset(s.buf + 16, 'x', s.len - 16);
	assert_int_equal(perf_record__parse_comm(h, &c), -EBADMSG);
}

static void test_task_and_lost(void **state)
{
	struct synth s;
	struct perf_task_event t;
	struct perf_lost_event l;
	const struct perf_event_header *h = synth_fork(&s, 20, 10, 21, 10);
	assert_int_equal(perf_record__parse_task(h, &t), 0);
	assert_int_equal(t.pid, 20);
	assert_int_equal(t.ppid, 10);
	assert_int_equal(t.tid, 21);
	synth_begin(&s, PERF_RECORD_LOST, 0);
	synth_u64(&s, 9);
	synth_u64(&s, 1234);
	h = synth_end(&s);
	assert_int_equal(perf_record__parse_lost(h, &l), 0);
	assert_int_equal(l.id, 9);
	assert_int_equal(l.lost, 1234);
	assert_string_equal(perf_record__type_name(PERF_RECORD_MMAP2), "MMAP2");
	assert_string_equal(perf_record__type_name(9999), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample),	     cmocka_unit_test(test_sample_callchain),
		cmocka_unit_test(test_sample_regs_stack),
		cmocka_unit_test(test_sample_other_layouts), cmocka_unit_test(test_sample_plain_layout),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mmap2_and_comm), cmocka_unit_test(test_task_and_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

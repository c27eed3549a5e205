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
		cmocka_unit_test(test_sample_other_layouts), cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mmap2_and_comm), cmocka_unit_test(test_task_and_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

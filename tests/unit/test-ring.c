/* The ring reader over a synthetic ring laid out like the kernel's: a
 * control page and a power-of-two data area, records that wrap around its
 * end, a partial record, and a corrupt header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "lib/sampler/ring.h"
#include "perf-synth.h"

#define PAGE 4096
#define DATA 4096

struct fake_ring {
	unsigned char *mem;
	struct perf_event_mmap_page *page;
	unsigned char *data;
	uint64_t head; /* producer position */
};

static void fake_init(struct fake_ring *f, uint64_t start)
{
	f->mem = aligned_alloc(PAGE, PAGE + DATA);
	memset(f->mem, 0xAA, PAGE + DATA);
	memset(f->mem, 0, PAGE);
	f->page = (struct perf_event_mmap_page *)f->mem;
	f->data = f->mem + PAGE;
	f->head = start;
	f->page->data_head = start;
	f->page->data_tail = start;
}

/* Write a record of `size` bytes with a recognisable payload; wraps. */
static void fake_write(struct fake_ring *f, uint32_t type, uint16_t size, unsigned char fill)
{
	unsigned char rec[1024];
	struct perf_event_header h = { .type = type, .misc = 0, .size = size };
	memset(rec, fill, size);
	memcpy(rec, &h, sizeof(h));
	for (uint16_t i = 0; i < size; i++)
		f->data[(f->head + i) & (DATA - 1)] = rec[i];
	f->head += size;
}

static void fake_publish(struct fake_ring *f) { __atomic_store_n(&f->page->data_head, f->head, __ATOMIC_RELEASE); }

static void check_record(const struct perf_event_header *h, uint32_t type, uint16_t size, unsigned char fill)
{
	const unsigned char *p = (const unsigned char *)h;
	assert_non_null(h);
	assert_int_equal(h->type, type);
	assert_int_equal(h->size, size);
	for (uint16_t i = sizeof(*h); i < size; i++)
		assert_int_equal(p[i], fill);
}

static void test_simple(void **state)
{
	struct fake_ring f;
	struct ring r;
	fake_init(&f, 0);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	assert_int_equal(ring__read_begin(&r), 0);
	assert_null(ring__read_event(&r));
	fake_write(&f, PERF_RECORD_SAMPLE, 48, 1);
	fake_write(&f, PERF_RECORD_COMM, 40, 2);
	fake_publish(&f);
	assert_int_equal(ring__read_begin(&r), 88);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 48, 1);
	check_record(ring__read_event(&r), PERF_RECORD_COMM, 40, 2);
	assert_null(ring__read_event(&r));
	/* The kernel sees the tail only after read_end. */
	assert_int_equal(f.page->data_tail, 0);
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, 88);
	ring__release(&r);
	free(f.mem);
}

static void test_wrap(void **state)
{
	struct fake_ring f;
	struct ring r;
	/* Start 40 bytes before the end: the 104-byte record wraps, and its
	 * copy must come back contiguous. The counters are free-running and
	 * already past several laps. */
	uint64_t start = 5 * DATA - 40;
	fake_init(&f, start);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	fake_write(&f, PERF_RECORD_SAMPLE, 104, 7);
	fake_write(&f, PERF_RECORD_MMAP2, 80, 8);
	fake_publish(&f);
	assert_int_equal(ring__read_begin(&r), 184);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 104, 7);
	check_record(ring__read_event(&r), PERF_RECORD_MMAP2, 80, 8);
	assert_null(ring__read_event(&r));
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, start + 184);

	/* Next round continues where the last ended. */
	fake_write(&f, PERF_RECORD_LOST, 24, 9);
	fake_publish(&f);
	assert_int_equal(ring__read_begin(&r), 24);
	check_record(ring__read_event(&r), PERF_RECORD_LOST, 24, 9);
	ring__read_end(&r);
	ring__release(&r);
	free(f.mem);
}

static void test_header_wraps(void **state)
{
	struct fake_ring f;
	struct ring r;
	/* 4 bytes before the end: even the 8-byte header straddles it. */
	fake_init(&f, DATA - 4);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	fake_write(&f, PERF_RECORD_SAMPLE, 32, 3);
	fake_publish(&f);
	ring__read_begin(&r);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 32, 3);
	ring__release(&r);
	free(f.mem);
}

static void test_partial_and_corrupt(void **state)
{
	struct fake_ring f;
	struct ring r;
	fake_init(&f, 0);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	fake_write(&f, PERF_RECORD_SAMPLE, 48, 1);
	fake_publish(&f);
	/* Claim a head 8 bytes further than written: a header whose record
	 * is not complete yet must not be returned. */
	f.page->data_head = f.head + 8;
	fake_write(&f, PERF_RECORD_SAMPLE, 64, 2);
	ring__read_begin(&r);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 48, 1);
	assert_null(ring__read_event(&r));
	ring__release(&r);
	free(f.mem);

	/* A zero-size header ends the round instead of looping forever. */
	fake_init(&f, 0);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	fake_write(&f, PERF_RECORD_SAMPLE, 8, 0);
	((struct perf_event_header *)f.data)->size = 0;
	fake_write(&f, PERF_RECORD_SAMPLE, 48, 1);
	fake_publish(&f);
	ring__read_begin(&r);
	assert_null(ring__read_event(&r));
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, f.head);
	ring__release(&r);
	free(f.mem);
}

static void test_many_laps(void **state)
{
	struct fake_ring f;
	struct ring r;
	unsigned seen = 0;
	fake_init(&f, 0);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	/* 200 rounds of 3 records of odd sizes: every wrap offset occurs. */
	for (unsigned round = 0; round < 200; round++) {
		const struct perf_event_header *h;
		for (unsigned k = 0; k < 3; k++)
			fake_write(&f, PERF_RECORD_SAMPLE, (uint16_t)(24 + 8 * ((round + k) % 13)), (unsigned char)(round + k));
		fake_publish(&f);
		ring__read_begin(&r);
		for (unsigned k = 0; (h = ring__read_event(&r)); k++) {
			check_record(h, PERF_RECORD_SAMPLE, (uint16_t)(24 + 8 * ((round + k) % 13)), (unsigned char)(round + k));
			seen++;
		}
		ring__read_end(&r);
	}
	assert_int_equal(seen, 600);
	ring__release(&r);
	free(f.mem);
}

/* A record handed back mid-round (ring__read_end between two reads, as
 * sampler__read does) frees exactly its bytes, the next record is read
 * intact, and the backlog is what the producer wrote past the tail, now:
 * records published after read_begin count, a damaged head no more than
 * the ring. */
static void test_release_per_record_and_backlog(void **state)
{
	struct fake_ring f;
	struct ring r;
	uint64_t start = 3 * DATA - 56; /* the second record wraps */
	fake_init(&f, start);
	ring__init_memory(&r, f.mem, PAGE, DATA);
	fake_write(&f, PERF_RECORD_SAMPLE, 48, 1);
	fake_write(&f, PERF_RECORD_SAMPLE, 96, 2);
	fake_write(&f, PERF_RECORD_SAMPLE, 64, 3);
	fake_publish(&f);
	assert_int_equal(ring__read_begin(&r), 208);
	assert_int_equal(ring__backlog(&r), 208);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 48, 1);
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, start + 48);
	assert_int_equal(ring__backlog(&r), 160);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 96, 2);
	/* The producer goes on meanwhile: the backlog sees it, the round's
	 * snapshot does not. */
	fake_write(&f, PERF_RECORD_SAMPLE, 40, 4);
	fake_publish(&f);
	assert_int_equal(ring__backlog(&r), 64 + 40);
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, start + 144);
	check_record(ring__read_event(&r), PERF_RECORD_SAMPLE, 64, 3);
	assert_null(ring__read_event(&r));
	ring__read_end(&r);
	assert_int_equal(f.page->data_tail, start + 208);
	assert_int_equal(ring__backlog(&r), 40);
	__atomic_store_n(&f.page->data_head, start + 208 + 5 * DATA, __ATOMIC_RELEASE);
	assert_int_equal(ring__backlog(&r), DATA);
	ring__release(&r);
	free(f.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),	   cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_header_wraps), cmocka_unit_test(test_partial_and_corrupt),
		cmocka_unit_test(test_many_laps),   cmocka_unit_test(test_release_per_record_and_backlog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The perf.data reader and importer on files built here byte by byte, in
 * the layouts perf writes: the seekable file (header, attributes, ids,
 * data, feature sections), the pipe stream, and zstd-compressed data split
 * across records. One capture, with samples that must be reordered to
 * resolve, an unknown sample id, a guest sample, a lost record, records of
 * unknown types and a payload to skip, imports with exact numbers; then
 * every 64-byte truncation and a few hundred bit flips of it must fail
 * cleanly or import less, never crash or loop; and files that are not
 * perf.data are refused with the reason. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/import/importer.h"
#include "lib/import/perfdata.h"
#include "lib/session/internal.h"
#include "lib/symbol/symbol.h"
#include "lib/util/util.h"
#include "perf-synth.h"

#define MAP_START 0x400000ULL
#define FEAT_BUILD_ID 2
#define FEAT_HOSTNAME 3
#define FEAT_EVENT_DESC 12

/* Two functions of this very executable for the samples to land in. */
__attribute__((noinline, used)) int import_marker_alpha(int x) { return x * 3 + 1; }
__attribute__((noinline, used)) int import_marker_beta(int x) { return x * 5 + 2; }

/* ---- a growable byte buffer ---- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_zeros(struct buf *b, size_t n)
{
	static const unsigned char z[64];
	while (n) {
		size_t k = MIN(n, sizeof(z));
		put(b, z, k);
		n -= k;
	}
}
static void put_record(struct buf *b, const struct perf_event_header *h) { put(b, h, h->size); }

/* perf's do_write_string: u32 padded length, the string, zeros. */
static void put_string(struct buf *b, const char *s)
{
	size_t n = strlen(s) + 1, padded = (n + 63) & ~(size_t)63;
	put_u32(b, (uint32_t)padded);
	put(b, s, n);
	put_zeros(b, padded - n);
}

/* Set the time of a record built by perf-synth (sample_id trailer). */
static const struct perf_event_header *with_time(struct synth *s, uint64_t time)
{
	memcpy(s->buf + s->len - 24, &time, 8);
	return synth_end(s);
}

static const struct perf_event_header *simple_record(struct synth *s, uint32_t type, size_t body)
{
	synth_begin(s, type, 0);
	memset(s->buf + s->len, 0, body);
	s->len += body;
	return synth_end(s);
}

/* ---- the capture ---- */

static char exe_path[PATH_MAX];
static uint64_t ip_alpha, ip_beta;

/* File offset of an ELF virtual address, through the PT_LOAD segments. */
static uint64_t vaddr_to_offset(const struct elf_info *info, uint64_t vaddr)
{
	for (size_t i = 0; i < info->n_segments; i++) {
		const struct elf_segment *s = &info->segments[i];
		if (vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz)
			return vaddr - s->vaddr + s->offset;
	}
	fail_msg("no segment holds 0x%llx", (unsigned long long)vaddr);
	return 0;
}

static int setup(void **state)
{
	struct symtab st;
	struct elf_info info;
	const struct symbol *a, *b;
	assert_non_null(realpath("/proc/self/exe", exe_path));
	symtab__init(&st);
	assert_int_equal(symtab__load_elf(&st, exe_path, &info), 0);
	a = symtab__find_name(&st, "import_marker_alpha");
	b = symtab__find_name(&st, "import_marker_beta");
	assert_non_null(a);
	assert_non_null(b);
	/* Mapped at MAP_START with file offset 0, an ip is MAP_START + offset. */
	ip_alpha = MAP_START + vaddr_to_offset(&info, a->start);
	ip_beta = MAP_START + vaddr_to_offset(&info, b->start);
	elf_info__release(&info);
	symtab__release(&st);
	return 0;
}

/* The data section: side-band and samples, with one sample that comes
 * before the mapping it needs in file order but after it in time. */
static void build_records(struct buf *r)
{
	struct synth s;
	const uint16_t user = PERF_RECORD_MISC_USER;

	synth_comm(&s, 100, 100, "markers", 1);
	put_record(r, with_time(&s, 10));
	put_record(r, simple_record(&s, PERF_RECORD_FINISHED_ROUND, 0));
	/* Round 2: a sample at t=150, then the mapping at t=100 (another CPU's ring). */
	put_record(r, synth_sample(&s, user, 100, 100, ip_alpha, 150, 1000, 1));
	synth_mmap2(&s, 100, 100, MAP_START, 0x10000000, 0, PROT_READ | PROT_EXEC, exe_path);
	put_record(r, with_time(&s, 100));
	put_record(r, simple_record(&s, PERF_RECORD_FINISHED_ROUND, 0));
	/* Round 3. */
	for (int i = 0; i < 3; i++)
		put_record(r, synth_sample(&s, user, 100, 100, ip_alpha, 160 + i, 1000, 2));
	for (int i = 0; i < 2; i++)
		put_record(r, synth_sample(&s, user, 100, 100, ip_beta, 170 + i, 1000, 1));
	/* A sample of an id no event has: skipped and counted. */
	put_record(r, synth_sample(&s, user, 100, 100, ip_beta, 180, 1000, 99));
	/* Guest kernel mode: process 100 runs a VM. */
	put_record(r, synth_sample(&s, PERF_RECORD_MISC_GUEST_KERNEL, 100, 100, 0xffffffff81000000ULL, 190, 1000, 1));
	/* 5 samples lost on the ring of event id 1. */
	synth_begin(&s, PERF_RECORD_LOST, 0);
	synth_u64(&s, 1);
	synth_u64(&s, 5);
	synth_sample_id(&s, 100, 100, 195, 1);
	put_record(r, synth_end(&s));
	/* Unknown types: a future kernel record and a future perf record. */
	put_record(r, simple_record(&s, 50, 16));
	put_record(r, simple_record(&s, 99, 8));
	/* Tracing data: 12 bytes of payload follow the record, padded to 16. */
	synth_begin(&s, PERF_RECORD_HEADER_TRACING_DATA, 0);
	synth_u32x2(&s, 12, 0);
	put_record(r, synth_end(&s));
	put_zeros(r, 16);
	put_record(r, simple_record(&s, PERF_RECORD_FINISHED_ROUND, 0));
	put_record(r, synth_sample(&s, user, 100, 100, ip_beta, 200, 1000, 2));
}

#define SAMPLES_TOTAL 8 /* 1 + 3 alpha, 2 + 1 beta, 1 guest; not the unknown id */

static const struct perf_event_attr *attr_override;
static size_t data_padding; /* bytes between the ids and the data section */

static struct perf_event_attr test_attr(void)
{
	struct perf_event_attr a;
	if (attr_override)
		return *attr_override;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_freq = 1000;
	a.freq = 1;
	a.sample_type = SYNTH_SAMPLE_TYPE;
	a.sample_id_all = 1;
	a.mmap2 = 1;
	a.comm = 1;
	return a;
}

static void put_event_desc(struct buf *b, const char *name)
{
	struct perf_event_attr a = test_attr();
	put_u32(b, 1);
	put_u32(b, sizeof(a));
	put(b, &a, sizeof(a));
	put_u32(b, 2);
	put_string(b, name);
	put_u64(b, 1);
	put_u64(b, 2);
}

/* The seekable layout: header, attributes, ids, data, feature table and
 * sections (BUILD_ID when given, HOSTNAME, EVENT_DESC). */
static void build_file_with(struct buf *f, const struct buf *records, bool zero_data_size, const struct buf *build_ids)
{
	struct perf_event_attr a = test_attr();
	const uint64_t attr_size = sizeof(a) + 16;
	size_t attrs_at = 104, ids_at = attrs_at + attr_size, data_at = ids_at + 16 + data_padding, table_at, at;
	struct buf hostname = { 0 }, desc = { 0 };
	const struct buf *sections[3];
	size_t n_sections = 0;
	uint64_t features[4] = { 1ULL << FEAT_HOSTNAME | 1ULL << FEAT_EVENT_DESC, 0, 0, 0 };

	put_string(&hostname, "synth-host");
	put_event_desc(&desc, "cpu-clock");
	if (build_ids) {
		features[0] |= 1ULL << FEAT_BUILD_ID;
		sections[n_sections++] = build_ids;
	}
	sections[n_sections++] = &hostname; /* in the order of their bits */
	sections[n_sections++] = &desc;
	f->len = 0;
	put(f, "PERFILE2", 8);
	put_u64(f, 104);
	put_u64(f, attr_size);
	put_u64(f, attrs_at);
	put_u64(f, attr_size);
	put_u64(f, data_at);
	put_u64(f, zero_data_size ? 0 : records->len);
	put_u64(f, 0);
	put_u64(f, 0);
	put(f, features, sizeof(features));
	put(f, &a, sizeof(a));
	put_u64(f, ids_at);
	put_u64(f, 16);
	put_u64(f, 1);
	put_u64(f, 2);
	put_zeros(f, data_padding);
	assert_int_equal(f->len, data_at);
	put(f, records->p, records->len);
	if (zero_data_size)
		goto out; /* a killed perf record writes no features */
	table_at = f->len;
	at = table_at + 16 * n_sections;
	for (size_t i = 0; i < n_sections; i++) {
		put_u64(f, at);
		put_u64(f, sections[i]->len);
		at += sections[i]->len;
	}
	for (size_t i = 0; i < n_sections; i++)
		put(f, sections[i]->p, sections[i]->len);
out:
	free(hostname.p);
	free(desc.p);
}

static void build_file(struct buf *f, const struct buf *records, bool zero_data_size)
{
	build_file_with(f, records, zero_data_size, NULL);
}

/* The pipe layout: a 16-byte header, then HEADER_ATTR and HEADER_FEATURE
 * records, then the data. */
static void build_pipe(struct buf *f, const struct buf *records)
{
	struct perf_event_attr a = test_attr();
	struct perf_event_header h = { PERF_RECORD_HEADER_ATTR, 0, (uint16_t)(8 + sizeof(a) + 16) };
	struct buf hostname = { 0 };
	f->len = 0;
	put(f, "PERFILE2", 8);
	put_u64(f, 16);
	put(f, &h, sizeof(h));
	put(f, &a, sizeof(a));
	put_u64(f, 1);
	put_u64(f, 2);
	put_string(&hostname, "synth-host");
	h = (struct perf_event_header){ PERF_RECORD_HEADER_FEATURE, 0, (uint16_t)(16 + hostname.len) };
	put(f, &h, sizeof(h));
	put_u64(f, FEAT_HOSTNAME);
	put(f, hostname.p, hostname.len);
	free(hostname.p);
	put(f, records->p, records->len);
}

/* The records zstd-compressed into one frame, its bytes cut into two
 * COMPRESSED records at an arbitrary point (perf splits freely, records
 * may straddle). */
static void compress_records(struct buf *out, const struct buf *in)
{
	size_t bound = ZSTD_compressBound(in->len), n, cut;
	unsigned char *z = malloc(bound);
	struct perf_event_header h = { PERF_RECORD_COMPRESSED, 0, 0 };
	assert_non_null(z);
	n = ZSTD_compress(z, bound, in->p, in->len, 3);
	assert_false(ZSTD_isError(n));
	cut = n / 3;
	out->len = 0;
	h.size = (uint16_t)(8 + cut);
	put(out, &h, sizeof(h));
	put(out, z, cut);
	h.size = (uint16_t)(8 + n - cut);
	put(out, &h, sizeof(h));
	put(out, z + cut, n - cut);
	free(z);
}

static char *write_temp(const struct buf *b, size_t len)
{
	char *path = strdup("/tmp/domprof-test-import-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->p, len), (ssize_t)len);
	close(fd);
	return path;
}

/* ---- checks ---- */

static uint64_t symbol_samples(const struct profile *p, const char *name)
{
	uint64_t n = 0;
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct sample_key *k = &p->samples[i].key;
		if (k->symbol && streq(p->symbols[k->symbol - 1].name, name))
			n += p->samples[i].count;
	}
	return n;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *query_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *v = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Import path and check every number the capture implies. */
static void check_import(const char *path, bool write_session)
{
	struct importer im;
	char *err = NULL;
	const struct perf_data_stats *st;
	uint32_t vm;

	assert_int_equal(importer__open(&im, path, 0, &err), 0);
	assert_int_equal(importer__run(&im, &err), 0);
	st = perf_data__stats(im.data);
	assert_int_equal(im.n_events, 1);
	assert_string_equal(im.events[0].name, "cpu-clock");
	assert_int_equal(im.events[0].unit, EVENT_UNIT_NS);
	assert_int_equal(importer__samples(&im), SAMPLES_TOTAL);
	assert_int_equal(im.collector.stats[0].period, SAMPLES_TOTAL * 1000);
	assert_int_equal(importer__lost(&im), 5);
	assert_int_equal(st->unmatched, 1);
	assert_int_equal(st->unknown_records, 2);
	assert_int_equal(st->by_type[PERF_RECORD_SAMPLE], SAMPLES_TOTAL + 1);
	/* The sample read before its mapping resolved: ordering by time. */
	assert_int_equal(symbol_samples(&im.profile, "import_marker_alpha"), 4);
	assert_int_equal(symbol_samples(&im.profile, "import_marker_beta"), 3);
	vm = profile__find_domain(&im.profile, "vm-100");
	assert_true(vm != 0);
	assert_int_equal(im.first_time, 150);
	assert_int_equal(im.last_time, 200);
	assert_string_equal(perf_data__info(im.data)->hostname, "synth-host");

	if (write_session) {
		char spath[] = "/tmp/domprof-test-import-db-XXXXXX";
		struct session *s;
		sqlite3 *db;
		char *v;
		int fd = mkstemp(spath);
		assert_true(fd >= 0);
		close(fd);
		unlink(spath);
		assert_int_equal(session__create(spath, &s, &err), 0);
		assert_int_equal(importer__write_session(&im, s, "domprof import test", true), 0);
		db = session__db(s);
		assert_int_equal(query_int(db, "SELECT SUM(count) FROM samples"), SAMPLES_TOTAL);
		assert_int_equal(query_int(db, "SELECT SUM(period) FROM samples WHERE layer = 'guest-kernel'"), 1000);
		assert_int_equal(query_int(db, "SELECT lost FROM events WHERE name = 'cpu-clock'"), 5);
		assert_int_equal(query_int(db, "SELECT value FROM meta WHERE key = 'import_unknown_records'"), 2);
		assert_int_equal(query_int(db, "SELECT value FROM meta WHERE key = 'duration_ns'"), 50);
		v = query_text(db, "SELECT value FROM meta WHERE key = 'hostname'");
		assert_string_equal(v, "synth-host");
		free(v);
		v = query_text(db, "SELECT value FROM meta WHERE key = 'target'");
		assert_string_equal(v, "import");
		free(v);
		v = query_text(db, "SELECT unit FROM events WHERE id = 1");
		assert_string_equal(v, "ns");
		free(v);
		v = query_text(db, "SELECT t.comm FROM samples s JOIN threads t ON t.id = s.thread_id "
				   "JOIN symbols y ON y.id = s.symbol_id WHERE y.name = 'import_marker_beta'");
		assert_string_equal(v, "markers");
		free(v);
		session__close(s);
		unlink(spath);
	}
	importer__release(&im);
}

static void test_file_layout(void **state)
{
	struct buf r = { 0 }, f = { 0 };
	char *path;
	build_records(&r);
	build_file(&f, &r, false);
	path = write_temp(&f, f.len);
	check_import(path, true);
	unlink(path);
	free(path);
	free(r.p);
	free(f.p);
}

/* Nothing obliges a writer to align the data section: records then sit
 * at odd addresses of the mapping and must still decode. */
static void test_misaligned_data(void **state)
{
	struct buf r = { 0 }, f = { 0 };
	char *path;
	build_records(&r);
	data_padding = 3;
	build_file(&f, &r, false);
	data_padding = 0;
	path = write_temp(&f, f.len);
	check_import(path, false);
	unlink(path);
	free(path);
	free(r.p);
	free(f.p);
}

static void test_pipe_layout(void **state)
{
	struct buf r = { 0 }, f = { 0 };
	char *path;
	build_records(&r);
	build_pipe(&f, &r);
	path = write_temp(&f, f.len);
	check_import(path, false);
	unlink(path);
	free(path);
	free(r.p);
	free(f.p);
}

static void test_compressed(void **state)
{
	struct buf r = { 0 }, z = { 0 }, f = { 0 };
	char *path;
	build_records(&r);
	compress_records(&z, &r);
	build_file(&f, &z, false);
	path = write_temp(&f, f.len);
	check_import(path, false);
	unlink(path);
	free(path);
	free(r.p);
	free(z.p);
	free(f.p);
}

static void count_cb(const struct perf_event_header *h, size_t attr, void *ctx) { ++*(int *)ctx; }

/* perf record killed: data size 0 and no features. Read to the end; a
 * cut last record ends the import with what came before. */
static void test_unfinished_capture(void **state)
{
	struct buf r = { 0 }, f = { 0 };
	struct perf_data *d;
	char *path, *err = NULL;
	int n = 0;
	build_records(&r);
	build_file(&f, &r, true);
	path = write_temp(&f, f.len - 20);
	assert_int_equal(perf_data__open(path, &d, &err), 0);
	assert_true(perf_data__info(d)->data_size_unknown);
	assert_int_equal(perf_data__read(d, count_cb, &n, &err), 0);
	assert_true(perf_data__stats(d)->truncated_tail);
	/* Everything but the last sample (cut) arrives. */
	assert_int_equal(perf_data__stats(d)->by_type[PERF_RECORD_SAMPLE], SAMPLES_TOTAL);
	assert_true(n > 0);
	perf_data__free(d);
	unlink(path);
	free(path);
	free(r.p);
	free(f.p);
}

/* Open and read; never crash. Returns 0 or the error. */
static int try_read(const char *path, int *ret_delivered)
{
	struct perf_data *d;
	char *err = NULL;
	int r = perf_data__open(path, &d, &err), n = 0;
	if (r < 0) {
		assert_non_null(err);
		assert_true(strlen(err) > 5);
		free(err);
		*ret_delivered = 0;
		return r;
	}
	r = perf_data__read(d, count_cb, &n, &err);
	if (r < 0) {
		assert_non_null(err);
		free(err);
	}
	perf_data__free(d);
	*ret_delivered = n;
	return r;
}

static void test_truncated(void **state)
{
	struct buf r = { 0 }, f = { 0 }, z = { 0 };
	int n;
	build_records(&r);
	for (int variant = 0; variant < 2; variant++) {
		if (variant)
			compress_records(&z, &r);
		build_file(&f, variant ? &z : &r, false);
		/* Every cut at a 64-byte boundary: the data size and the
		 * feature table say the file is short, so each one is an error. */
		for (size_t cut = 0; cut < f.len; cut += 64) {
			char *path = write_temp(&f, cut);
			int ret = try_read(path, &n);
			if (ret == 0)
				fail_msg("a copy cut at %zu of %zu bytes was accepted", cut, f.len);
			unlink(path);
			free(path);
		}
	}
	/* The whole file, for contrast. */
	{
		char *path = write_temp(&f, f.len);
		assert_int_equal(try_read(path, &n), 0);
		assert_true(n > 0);
		unlink(path);
		free(path);
	}
	free(r.p);
	free(f.p);
	free(z.p);
}

/* Pipe captures have no total size: a cut imports the records before it. */
static void test_truncated_pipe(void **state)
{
	struct buf r = { 0 }, f = { 0 };
	int n, full;
	char *path;
	build_records(&r);
	build_pipe(&f, &r);
	path = write_temp(&f, f.len);
	assert_int_equal(try_read(path, &full), 0);
	unlink(path);
	free(path);
	for (size_t cut = 0; cut < f.len; cut += 64) {
		path = write_temp(&f, cut);
		if (try_read(path, &n) == 0)
			assert_true(n <= full);
		unlink(path);
		free(path);
	}
	free(r.p);
	free(f.p);
}

static void test_bit_flips(void **state)
{
	struct buf r = { 0 }, f = { 0 }, z = { 0 };
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	int errors = 0, accepted = 0, n;
	build_records(&r);
	for (int variant = 0; variant < 3; variant++) {
		if (variant == 1)
			compress_records(&z, &r);
		if (variant == 2)
			build_pipe(&f, &r);
		else
			build_file(&f, variant ? &z : &r, false);
		for (int i = 0; i < 150; i++) {
			struct buf g = { 0 };
			char *path;
			int flips = 1 + i % 3;
			put(&g, f.p, f.len);
			for (int k = 0; k < flips; k++) {
				size_t at;
				rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
				at = (size_t)(rng >> 33) % g.len;
				g.p[at] ^= (unsigned char)(1u << ((rng >> 20) & 7));
			}
			path = write_temp(&g, g.len);
			if (try_read(path, &n) < 0)
				errors++;
			else
				accepted++;
			unlink(path);
			free(path);
			free(g.p);
		}
	}
	/* Both outcomes occur: flips in names or padding are harmless,
	 * flips in sizes and magic are caught. */
	assert_true(errors > 0);
	assert_true(accepted > 0);
	free(r.p);
	free(f.p);
	free(z.p);
}

static void expect_refused(const void *data, size_t len, int want, const char *needle)
{
	struct buf b = { 0 };
	struct perf_data *d;
	char *path, *err = NULL;
	put(&b, data, len);
	path = write_temp(&b, len);
	assert_int_equal(perf_data__open(path, &d, &err), want);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("'%s' does not say '%s'", err, needle);
	free(err);
	unlink(path);
	free(path);
	free(b.p);
}

static void test_not_perf_data(void **state)
{
	static const char text[] = "this is a text file, not a capture\n";
	unsigned char hdr[104] = { 0 };
	uint64_t swapped = 0x50455246494c4532ULL, size = 104;
	char *err = NULL;
	struct perf_data *d;

	expect_refused(text, sizeof(text) - 1, -ENOTSUP, "not a perf.data file");
	expect_refused("", 0, -ENOTSUP, "empty");
	expect_refused("SQLite format 3\0and more bytes", 31, -ENOTSUP, "SQLite");
	memcpy(hdr, "PERFFILE", 8);
	memcpy(hdr + 8, &size, 8);
	expect_refused(hdr, sizeof(hdr), -EPROTONOSUPPORT, "PERFFILE");
	memcpy(hdr, &swapped, 8);
	expect_refused(hdr, sizeof(hdr), -EPROTONOSUPPORT, "byte order");
	memcpy(hdr, "PERFILE2", 8);
	size = 4242;
	memcpy(hdr + 8, &size, 8);
	expect_refused(hdr, sizeof(hdr), -EPROTONOSUPPORT, "header size");
	assert_int_equal(perf_data__open("/nonexistent/perf.data", &d, &err), -ENOENT);
	free(err);
}

/* Several events: ids must sit at one place in every record. */
static void test_id_positions(void **state)
{
	struct perf_event_attr a = test_attr(), b = test_attr();
	struct buf f = { 0 };
	struct perf_data *d;
	char *path, *err = NULL;
	const uint64_t attr_size = sizeof(a) + 16;

	for (int mismatch = 0; mismatch < 2; mismatch++) {
		a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID | PERF_SAMPLE_PERIOD;
		/* CALLCHAIN comes after the id and leaves it in place; ADDR
		 * comes before it and moves it. */
		b.sample_type = a.sample_type | PERF_SAMPLE_CALLCHAIN;
		if (mismatch)
			b.sample_type |= PERF_SAMPLE_ADDR;
		b.config = PERF_COUNT_SW_TASK_CLOCK;
		f.len = 0;
		put(&f, "PERFILE2", 8);
		put_u64(&f, 104);
		put_u64(&f, attr_size);
		put_u64(&f, 104);
		put_u64(&f, 2 * attr_size);
		put_u64(&f, 104 + 2 * attr_size);
		put_u64(&f, 0);
		put_zeros(&f, 16 + 32);
		put(&f, &a, sizeof(a));
		put_u64(&f, 0);
		put_u64(&f, 0);
		put(&f, &b, sizeof(b));
		put_u64(&f, 0);
		put_u64(&f, 0);
		path = write_temp(&f, f.len);
		if (!mismatch) {
			assert_int_equal(perf_data__open(path, &d, &err), 0);
			assert_int_equal(perf_data__n_attrs(d), 2);
			perf_data__free(d);
		} else {
			assert_int_equal(perf_data__open(path, &d, &err), -EPROTONOSUPPORT);
			assert_non_null(strstr(err, "different places"));
			free(err);
		}
		unlink(path);
		free(path);
	}
	free(f.p);
}

/* Kernel symbols of the recording kernel from perf's build-id cache,
 * shifted by the capture's _text address: the machine rebooted since (a
 * new KASLR offset), so the cached addresses are 2 MiB off. */
static void test_kernel_symbols(void **state)
{
	static const char kallsyms[] = "ffffffff81000000 T _text\n"
				       "ffffffff81000100 T fake_kernel_function\n"
				       "ffffffff81000200 t fake_other_function\n"
				       "ffffffff81000300 T fake_last\n";
	static const uint8_t id[20] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const uint64_t delta = 0x200000;
	char dir[] = "/tmp/domprof-test-buildid-XXXXXX", path[PATH_MAX];
	struct buf r = { 0 }, f = { 0 }, ids = { 0 };
	struct perf_event_header h;
	struct synth s;
	struct importer im;
	char *file, *err = NULL, *old = getenv("PERF_BUILDID_DIR") ? strdup(getenv("PERF_BUILDID_DIR")) : NULL;
	FILE *out;

	/* perf's cache: DIR/[kernel.kallsyms]/<build-id>/kallsyms */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/[kernel.kallsyms]", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/[kernel.kallsyms]/deadbeef0102030405060708090a0b0c0d0e0f10", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	strcat(path, "/kallsyms");
	out = fopen(path, "w");
	assert_non_null(out);
	fputs(kallsyms, out);
	fclose(out);
	setenv("PERF_BUILDID_DIR", dir, 1);

	/* BUILD_ID: the host kernel (pid -1), its name padded to 64. */
	h = (struct perf_event_header){ PERF_RECORD_HEADER_BUILD_ID, PERF_RECORD_MISC_KERNEL | (1u << 15), 36 + 64 };
	put(&ids, &h, sizeof(h));
	put_u32(&ids, (uint32_t)-1);
	put(&ids, id, 20);
	put_u32(&ids, 20);
	{
		char name[64] = "[kernel.kallsyms]";
		put(&ids, name, sizeof(name));
	}
	/* The kernel MMAP record, then one kernel sample. */
	synth_begin(&s, PERF_RECORD_MMAP, PERF_RECORD_MISC_KERNEL);
	synth_u32x2(&s, (uint32_t)-1, 0);
	synth_u64(&s, 0xffffffff81000000ULL + delta);
	synth_u64(&s, 0x1000000);
	synth_u64(&s, 0xffffffff81000000ULL + delta);
	synth_str(&s, "[kernel.kallsyms]_text");
	synth_sample_id(&s, (uint32_t)-1, 0, 0, 1);
	put_record(&r, synth_end(&s));
	put_record(&r, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 100, 100, 0xffffffff81000110ULL + delta, 5, 1000, 1));
	put_record(&r, synth_sample(&s, PERF_RECORD_MISC_KERNEL, 100, 100, 0xffffffff81000204ULL + delta, 6, 1000, 1));
	build_file_with(&f, &r, false, &ids);
	file = write_temp(&f, f.len);

	assert_int_equal(importer__open(&im, file, 0, &err), 0);
	assert_int_equal(importer__run(&im, &err), 0);
	assert_true(im.kernel_symbols_cached);
	assert_int_equal(im.kernel_delta, (int64_t)delta);
	assert_int_equal(symbol_samples(&im.profile, "fake_kernel_function"), 1);
	assert_int_equal(symbol_samples(&im.profile, "fake_other_function"), 1);
	assert_string_equal(im.collector.machine.images.kernel->build_id, "deadbeef0102030405060708090a0b0c0d0e0f10");
	importer__release(&im);

	if (old) {
		setenv("PERF_BUILDID_DIR", old, 1);
		free(old);
	} else {
		unsetenv("PERF_BUILDID_DIR");
	}
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	rmdir(dir);
	unlink(file);
	free(file);
	free(r.p);
	free(f.p);
	free(ids.p);
}

/* perf record -c: a fixed period, not repeated in each sample (no
 * PERF_SAMPLE_PERIOD, no id): every sample weighs sample_period. */
static void test_fixed_period(void **state)
{
	struct perf_event_attr a = test_attr();
	struct buf r = { 0 }, f = { 0 };
	struct synth s;
	struct importer im;
	char *path, *err = NULL;

	a.freq = 0;
	a.sample_period = 10000;
	a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	a.sample_id_all = 0;
	attr_override = &a;
	for (int i = 0; i < 3; i++) {
		synth_begin(&s, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
		synth_u64(&s, 0x1234);
		synth_u32x2(&s, 7, 7);
		synth_u64(&s, 100 + (uint64_t)i);
		put_record(&r, synth_end(&s));
	}
	build_file(&f, &r, false);
	attr_override = NULL;
	path = write_temp(&f, f.len);
	assert_int_equal(importer__open(&im, path, 0, &err), 0);
	assert_int_equal(importer__run(&im, &err), 0);
	assert_int_equal(im.n_events, 1);
	assert_int_equal(im.events[0].attr.sample_period, 10000);
	assert_int_equal(importer__samples(&im), 3);
	assert_int_equal(im.collector.stats[0].period, 30000);
	importer__release(&im);
	unlink(path);
	free(path);
	free(r.p);
	free(f.p);
}

static void test_event_names(void **state)
{
	struct perf_event_attr a;
	char *n;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	n = perf_data__event_name(&a);
	assert_string_equal(n, "task-clock");
	free(n);
	a.type = PERF_TYPE_HARDWARE;
	a.config = PERF_COUNT_HW_CPU_CYCLES;
	a.exclude_kernel = 1;
	n = perf_data__event_name(&a);
	assert_string_equal(n, "cycles:u");
	free(n);
	a.type = PERF_TYPE_RAW;
	a.config = 0x1c2;
	a.exclude_kernel = 0;
	a.exclude_user = 1;
	n = perf_data__event_name(&a);
	assert_string_equal(n, "r1c2:k");
	free(n);
	a.type = 42;
	a.exclude_user = 0;
	n = perf_data__event_name(&a);
	assert_string_equal(n, "type42/config=0x1c2/");
	free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_layout),
		cmocka_unit_test(test_misaligned_data),
		cmocka_unit_test(test_pipe_layout),
		cmocka_unit_test(test_compressed),
		cmocka_unit_test(test_unfinished_capture),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_truncated_pipe),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_not_perf_data),
		cmocka_unit_test(test_id_positions),
		cmocka_unit_test(test_kernel_symbols),
		cmocka_unit_test(test_fixed_period),
		cmocka_unit_test(test_event_names),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

/* annotate from a session written by the test through the write side: a
 * function's code and source lines (session__write_code) and samples at
 * known addresses, so each instruction's and each line's share is known by
 * construction; the choice among functions of one name, samples outside
 * the code, a function without code, a name that is not there, the JSON
 * rendering, and a guest function of an active VM in the report's merged
 * view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/report/annotate.h"
#include "lib/util/util.h"

#define MS 1000000ULL

static char path[64];

/* spin at 0x1000 in /usr/bin/app (x86-64):
 *   0x1000 mov rax, rdi   spin.c:10
 *   0x1003 add rax, rsi   spin.c:10
 *   0x1006 inc rax        spin.c:12
 *   0x1009 ret            spin.c:12 */
static const unsigned char spin_code[] = { 0x48, 0x89, 0xf8, 0x48, 0x01, 0xf0, 0x48, 0xff, 0xc0, 0xc3 };

static void add(struct profile *p, struct sample_key k, uint64_t address, uint64_t ms,
		struct session_event_totals *totals)
{
	k.address = address;
	profile__add_sample(p, &k, ms, ms * MS);
	totals->samples += ms;
	totals->period += ms * MS;
}

static int setup(void **state)
{
	struct session_event_totals totals = { 0 };
	struct code_line lines[] = { { 0x1000, "spin.c", 10 }, { 0x1006, "spin.c", 12 } };
	struct symbol_code code = { .address = 0x1000, .code = (unsigned char *)spin_code, .len = sizeof(spin_code),
				    .lines = lines, .n_lines = ARRAY_SIZE(lines) };
	struct session_run run = { .arch = "x86_64" };
	struct event_spec e;
	struct profile p;
	struct session *s;
	char *err = NULL;
	uint32_t host, thread, app, lib;
	struct sample_key k = { .event = 1, .layer = LAYER_USER, .origin = ORIGIN_HOST };
	int fd;
	(void)state;

	snprintf(path, sizeof(path), "/tmp/domprof-test-annotate-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	assert_int_equal(session__write_events(s, &e, 1), 0);
	event_spec__release(&e);
	assert_int_equal(session__write_run(s, &run), 0);
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	thread = profile__thread(&p, host, 10, 10, "app", ROLE_TASK, -1);
	app = profile__image(&p, host, "/usr/bin/app", NULL, IMAGE_ELF);
	lib = profile__image(&p, host, "/usr/lib/libfoo.so", NULL, IMAGE_ELF);
	k.domain = host;
	k.thread = thread;
	k.image = app;
	k.symbol = profile__symbol(&p, app, "spin", 0x1000, sizeof(spin_code));
	code.symbol = k.symbol;
	add(&p, k, 0x1003, 30, &totals);
	add(&p, k, 0x1006, 60, &totals);
	add(&p, k, 0x1100, 10, &totals); /* past the code the session kept */
	/* Another spin, busier, without code: annotate prefers the one it
	 * can show. */
	k.image = lib;
	k.symbol = profile__symbol(&p, lib, "spin", 0x5000, 0x40);
	add(&p, k, 0x5010, 200, &totals);
	/* An active VM: the host saw 40 ms of guest code, its agent 10 ms of
	 * gfn; in the merged view gfn has the host's 40 ms. */
	k.domain = profile__domain(&p, "web", true);
	k.thread = profile__thread(&p, k.domain, 20, 21, "CPU 0/KVM", ROLE_VCPU, 0);
	k.layer = LAYER_GUEST;
	k.image = profile__image(&p, k.domain, "[guest code]", NULL, IMAGE_ANON);
	k.symbol = 0;
	add(&p, k, 0x10, 40, &totals);
	k.layer = LAYER_GUEST_USER;
	k.origin = ORIGIN_AGENT;
	k.image = profile__image(&p, k.domain, "/usr/bin/guestapp", NULL, IMAGE_ELF);
	k.symbol = profile__symbol(&p, k.image, "gfn", 0x7000, 0x20);
	add(&p, k, 0x7004, 6, &totals);
	add(&p, k, 0x7008, 4, &totals);
	assert_int_equal(session__write_flush(s, &p, &totals, 1, NULL), 0);
	assert_int_equal(session__write_code(s, &code, 1), 0);
	assert_int_equal(session__write_end(s, 0, true), 0);
	session__close(s);
	profile__release(&p);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static struct session *open_session(void)
{
	struct session *s;
	char *err = NULL;
	assert_int_equal(session__open(path, true, &s, &err), 0);
	return s;
}

static void test_instructions_and_lines(void **state)
{
	struct session *s = open_session();
	struct annotate_query q = { .symbol = "spin" };
	struct annotate a;
	char *err = NULL;
	(void)state;

	assert_int_equal(annotate__load(s, &q, &a, &err), 0);
	assert_string_equal(a.image, "/usr/bin/app");
	assert_string_equal(a.domain, "host");
	assert_int_equal(a.candidates, 2);
	assert_int_equal(a.address, 0x1000);
	assert_int_equal(a.n_events, 1);
	assert_int_equal(a.total[0], 100 * MS);
	assert_int_equal(a.unplaced_period, 10 * MS);
	assert_int_equal(a.n_insns, 4);
	assert_string_equal(a.insns[0].text, "mov rax, rdi");
	assert_string_equal(a.insns[1].text, "add rax, rsi");
	assert_string_equal(a.insns[2].text, "inc rax");
	assert_string_equal(a.insns[3].text, "ret");
	assert_int_equal(a.insns[0].period[0], 0);
	assert_int_equal(a.insns[1].period[0], 30 * MS);
	assert_int_equal(a.insns[1].samples[0], 30);
	assert_int_equal(a.insns[2].period[0], 60 * MS);
	/* Each instruction takes the last line at or before it. */
	assert_int_equal(a.insns[0].line, 10);
	assert_int_equal(a.insns[1].line, 10);
	assert_int_equal(a.insns[2].line, 12);
	assert_int_equal(a.insns[3].line, 12);
	assert_string_equal(a.insns[3].file, "spin.c");
	/* Source lines, hottest first. */
	assert_int_equal(a.n_lines, 2);
	assert_int_equal(a.lines[0].line, 12);
	assert_int_equal(a.lines[0].period[0], 60 * MS);
	assert_int_equal(a.lines[1].line, 10);
	assert_int_equal(a.lines[1].period[0], 30 * MS);
	annotate__release(&a);
	session__close(s);
}

static void test_narrowing_and_missing(void **state)
{
	struct session *s = open_session();
	struct annotate_query q = { .symbol = "spin", .image = "libfoo" };
	struct annotate a;
	char *err = NULL;
	(void)state;

	/* The other spin: its samples, no code to place them in. */
	assert_int_equal(annotate__load(s, &q, &a, &err), 0);
	assert_string_equal(a.image, "/usr/lib/libfoo.so");
	assert_int_equal(a.candidates, 1);
	assert_int_equal(a.n_insns, 0);
	assert_int_equal(a.total[0], 200 * MS);
	assert_int_equal(a.unplaced_period, 200 * MS);
	annotate__release(&a);

	q.image = NULL;
	q.symbol = "nosuch";
	assert_int_equal(annotate__load(s, &q, &a, &err), -ENOENT);
	assert_non_null(strstr(err, "no function named 'nosuch'"));
	free(err);
	err = NULL;

	q.symbol = "spin";
	q.domain = "web";
	assert_int_equal(annotate__load(s, &q, &a, &err), -ENOENT);
	assert_non_null(strstr(err, "in domain web"));
	free(err);
	session__close(s);
}

static void test_json(void **state)
{
	struct session *s = open_session();
	struct annotate_query q = { .symbol = "spin" };
	struct annotate a;
	char *err = NULL, *buf = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	assert_int_equal(annotate__load(s, &q, &a, &err), 0);
	f = open_memstream(&buf, &len);
	annotate__print_json(&a, f);
	fclose(f);
	assert_non_null(strstr(buf, "\"format\": \"domprof-annotate\""));
	assert_non_null(strstr(buf, "\"events\": [{\"name\": \"cpu-clock\", \"period\": 100000000}]"));
	/* inc rax: 60 of the function's 100 ms. */
	assert_non_null(strstr(buf, "{\"address\": 4102, \"size\": 3, \"text\": \"inc rax\", \"file\": \"spin.c\", "
				    "\"line\": 12, \"period\": [60000000], \"percent\": [60.0000]}"));
	free(buf);
	annotate__release(&a);
	session__close(s);
}

/* A guest function of an active VM: annotate shows what report shows. */
static void test_merged_view(void **state)
{
	struct session *s = open_session();
	struct annotate_query q = { .symbol = "gfn" };
	struct report_query rq = { .domains = (char *[]){ "web", NULL } };
	struct report_table t;
	struct annotate a;
	char *err = NULL;
	(void)state;

	assert_int_equal(annotate__load(s, &q, &a, &err), 0);
	assert_string_equal(a.domain, "web");
	assert_int_equal(a.total[0], 40 * MS);
	assert_int_equal(report_query__parse_keys(&rq, "symbol", &err), 0);
	assert_int_equal(report_table__query(s, &rq, &t, &err), 0);
	/* The agent's rows replace the host's guest code: gfn alone. */
	assert_int_equal(t.n_rows, 1);
	assert_string_equal(t.rows[0].keys[0], "gfn");
	assert_int_equal(t.rows[0].period[0], a.total[0]);
	report_table__release(&t);
	annotate__release(&a);
	session__close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instructions_and_lines),
		cmocka_unit_test(test_narrowing_and_missing),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_merged_view),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Event-spec parsing: generic names, raw codes, libpfm4 names (with a
 * forced PMU model, so it runs on machines without one), modifiers,
 * per-event periods, lists, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>

#include "lib/events/events.h"
#include "lib/util/dl.h"
#include "lib/util/util.h"

static struct event_defaults def = { .freq = 1000 };

static void parse_ok(const char *text, struct event_spec *e)
{
	char *err = NULL;
	int r = event_spec__parse(text, &def, e, &err);
	if (r < 0)
		fail_msg("'%s' failed: %s", text, err);
	free(err);
}

static char *parse_fail(const char *text)
{
	struct event_spec e;
	char *err = NULL;
	assert_int_equal(event_spec__parse(text, &def, &e, &err), -EINVAL);
	assert_non_null(err);
	return err;
}

static void test_generic(void **state)
{
	struct event_spec e;
	parse_ok("cycles", &e);
	assert_int_equal(e.attr.type, PERF_TYPE_HARDWARE);
	assert_int_equal(e.attr.config, PERF_COUNT_HW_CPU_CYCLES);
	assert_true(e.needs_pmu);
	assert_int_equal(e.unit, EVENT_UNIT_COUNT);
	assert_int_equal(e.attr.freq, 1);
	assert_int_equal(e.attr.sample_freq, 1000);
	assert_string_equal(e.name, "cycles");
	event_spec__release(&e);

	parse_ok("cpu-cycles", &e); /* alias, canonical name stored */
	assert_string_equal(e.name, "cycles");
	event_spec__release(&e);

	parse_ok("cpu-clock", &e);
	assert_int_equal(e.attr.type, PERF_TYPE_SOFTWARE);
	assert_int_equal(e.attr.config, PERF_COUNT_SW_CPU_CLOCK);
	assert_false(e.needs_pmu);
	assert_int_equal(e.unit, EVENT_UNIT_NS);
	event_spec__release(&e);

	parse_ok("LLC-load-misses", &e);
	assert_int_equal(e.attr.type, PERF_TYPE_HW_CACHE);
	assert_int_equal(e.attr.config, PERF_COUNT_HW_CACHE_LL | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
						(PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
	event_spec__release(&e);

	parse_ok("dTLB-load-misses", &e);
	assert_int_equal(e.attr.config, PERF_COUNT_HW_CACHE_DTLB | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
	event_spec__release(&e);

	parse_ok("iTLB-load-misses", &e);
	assert_int_equal(e.attr.config, PERF_COUNT_HW_CACHE_ITLB | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
	event_spec__release(&e);

	parse_ok("page-faults", &e);
	assert_int_equal(e.attr.config, PERF_COUNT_SW_PAGE_FAULTS);
	event_spec__release(&e);
}

static void test_modifiers(void **state)
{
	struct event_spec e;
	parse_ok("cycles:u", &e);
	assert_int_equal(e.attr.exclude_kernel, 1);
	assert_int_equal(e.attr.exclude_user, 0);
	assert_string_equal(e.name, "cycles:u");
	event_spec__release(&e);

	parse_ok("instructions:k", &e);
	assert_int_equal(e.attr.exclude_kernel, 0);
	assert_int_equal(e.attr.exclude_user, 1);
	event_spec__release(&e);

	parse_ok("cycles:G", &e);
	assert_int_equal(e.attr.exclude_host, 1);
	assert_int_equal(e.attr.exclude_guest, 0);
	event_spec__release(&e);

	parse_ok("cycles:H", &e);
	assert_int_equal(e.attr.exclude_host, 0);
	assert_int_equal(e.attr.exclude_guest, 1);
	event_spec__release(&e);

	parse_ok("cycles:ukpp", &e);
	assert_int_equal(e.attr.exclude_kernel, 0);
	assert_int_equal(e.attr.exclude_user, 0);
	assert_int_equal(e.attr.precise_ip, 2);
	event_spec__release(&e);
}

static void test_periods(void **state)
{
	struct event_spec e;
	struct event_defaults fixed = { .period = 5000 };
	char *err = NULL;

	parse_ok("cycles/period=100000/", &e);
	assert_int_equal(e.attr.freq, 0);
	assert_int_equal(e.attr.sample_period, 100000);
	assert_true(e.period_set);
	assert_string_equal(e.name, "cycles/period=100000/");
	event_spec__release(&e);

	parse_ok("cpu-clock/freq=250/", &e);
	assert_int_equal(e.attr.freq, 1);
	assert_int_equal(e.attr.sample_freq, 250);
	event_spec__release(&e);

	parse_ok("cycles/period=0x1000/u", &e);
	assert_int_equal(e.attr.sample_period, 0x1000);
	assert_int_equal(e.attr.exclude_kernel, 1);
	event_spec__release(&e);

	assert_int_equal(event_spec__parse("instructions", &fixed, &e, &err), 0);
	assert_int_equal(e.attr.freq, 0);
	assert_int_equal(e.attr.sample_period, 5000);
	event_spec__release(&e);
}

static void test_raw_and_pfm(void **state)
{
	struct event_spec e;
	parse_ok("r003c", &e);
	assert_int_equal(e.attr.type, PERF_TYPE_RAW);
	assert_int_equal(e.attr.config, 0x3c);
	assert_int_equal(e.source, EVENT_SOURCE_RAW);
	event_spec__release(&e);

	/* libpfm4 with a Skylake PMU forced: the CPU-specific name encodes
	 * to the raw code of Intel's tables (INST_RETIRED.ANY_P = 0xc0). */
	setenv("LIBPFM_FORCE_PMU", "skl", 1);
	parse_ok("INST_RETIRED:ANY_P", &e);
	assert_int_equal(e.source, EVENT_SOURCE_PFM);
	assert_int_equal(e.attr.type, PERF_TYPE_RAW);
	assert_int_equal(e.attr.config, 0xc0);
	assert_true(e.needs_pmu);
	event_spec__release(&e);

	parse_ok("MEM_LOAD_RETIRED:L3_MISS:u", &e);
	assert_int_equal(e.attr.config, 0x20d1);
	assert_int_equal(e.attr.exclude_kernel, 1);
	assert_string_equal(e.base, "MEM_LOAD_RETIRED:L3_MISS");
	event_spec__release(&e);
}

static void test_errors(void **state)
{
	char *err;
	err = parse_fail("");
	free(err);
	err = parse_fail("no-such-event");
	assert_non_null(strstr(err, "no-such-event"));
	assert_non_null(strstr(err, "domprof list"));
	free(err);
	err = parse_fail("cycles:x");
	free(err); /* "x" is not a modifier group, so the whole name is unknown */
	err = parse_fail("cycles/period=0/");
	assert_non_null(strstr(err, "positive"));
	free(err);
	err = parse_fail("cycles/bogus=1/");
	assert_non_null(strstr(err, "bogus"));
	free(err);
	err = parse_fail("cycles/period=10");
	assert_non_null(strstr(err, "closing"));
	free(err);
	err = parse_fail("rzz");
	free(err);
	err = parse_fail("r11112222333344445");
	free(err);
	err = parse_fail("cycles:pppp");
	free(err);
	err = parse_fail("cyc les");
	free(err);
}

static void test_lists(void **state)
{
	struct event_spec *ev;
	size_t n;
	char *err = NULL;
	assert_int_equal(event_list__parse("cycles,cpu-clock/period=1000/,instructions:u", &def, &ev, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ev[0].name, "cycles");
	assert_string_equal(ev[1].name, "cpu-clock/period=1000/");
	assert_int_equal(ev[1].attr.sample_period, 1000);
	assert_string_equal(ev[2].name, "instructions:u");
	event_list__free(ev, n);

	/* commas inside /.../ belong to the terms */
	assert_int_equal(event_list__parse("cycles/period=10,freq=20/,cpu-clock", &def, &ev, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].attr.freq, 1);
	assert_int_equal(ev[0].attr.sample_freq, 20);
	event_list__free(ev, n);

	assert_int_equal(event_list__parse("cycles,cycles", &def, &ev, &n, &err), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	free(err);
	assert_int_equal(event_list__parse("cycles,,cpu-clock", &def, &ev, &n, &err), -EINVAL);
	free(err);
}

static void test_explain(void **state)
{
	struct event_spec e;
	char *msg;
	parse_ok("cycles", &e);
	msg = event_spec__explain_error(&e, -ENOENT);
	assert_non_null(strstr(msg, "cycles is not supported"));
	assert_non_null(strstr(msg, "use -e cpu-clock"));
	free(msg);
	msg = event_spec__explain_error(&e, -EACCES);
	assert_non_null(strstr(msg, "perf_event_paranoid"));
	free(msg);
	event_spec__release(&e);
}

static void test_probe(void **state)
{
	struct event_spec e;
	parse_ok("cpu-clock", &e);
	/* A software clock opens on any Linux with perf events. */
	assert_int_equal(event_spec__probe(&e, false), 0);
	event_spec__release(&e);
}

/* The loader of libraries opened at first use (libpfm4 here, capstone in
 * annotate): a missing library or symbol is a false with the reason, the
 * symbols of one that is there are its own. */
static void test_dl_load(void **state)
{
	const char *(*version)(void) = NULL;
	void (*missing)(void) = NULL;
	const struct dl_symbol libc[] = { { "gnu_get_libc_version", &version } };
	const struct dl_symbol bad[] = { { "gnu_get_libc_version", &version }, { "domprof_no_such_symbol", &missing } };
	const char *error = NULL;

	assert_false(dl_load("libdomprof-no-such-library.so.9", libc, 1, &error));
	assert_non_null(error);
	assert_non_null(strstr(error, "libdomprof-no-such-library.so.9"));
	assert_null(version);
	/* Asked again: the same answer, the library is not searched for twice. */
	error = NULL;
	assert_false(dl_load("libdomprof-no-such-library.so.9", libc, 1, &error));
	assert_non_null(strstr(error, "libdomprof-no-such-library.so.9"));

	assert_true(dl_load("libc.so.6", libc, 1, &error));
	/* (Compared by what it answers: sanitizers put their own functions
	 * in front of some of libc's.) */
	assert_non_null(version);
	assert_string_equal(version(), gnu_get_libc_version());
	assert_false(dl_load("libc.so.6", bad, 2, &error));
	assert_non_null(strstr(error, "no symbol domprof_no_such_symbol"));
	assert_null(missing);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic), cmocka_unit_test(test_modifiers), cmocka_unit_test(test_periods),
		cmocka_unit_test(test_raw_and_pfm), cmocka_unit_test(test_errors), cmocka_unit_test(test_lists),
		cmocka_unit_test(test_explain), cmocka_unit_test(test_probe), cmocka_unit_test(test_dl_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

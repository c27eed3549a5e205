/* The profile's interning tables and counters, and its delta tracking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lib/aggregate/profile.h"
#include "lib/util/util.h"

static void test_interning(void **state)
{
	struct profile p;
	uint32_t host, vm, img, img2, sym, f1, f2;
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	vm = profile__domain(&p, "web", true);
	assert_int_equal(host, 1);
	assert_int_equal(vm, 2);
	assert_int_equal(profile__domain(&p, "web", true), 2);
	assert_int_equal(profile__find_domain(&p, "web"), 2);
	assert_int_equal(profile__find_domain(&p, "nope"), 0);

	img = profile__image(&p, host, "/usr/lib/libc.so.6", "abcd", IMAGE_ELF);
	img2 = profile__image(&p, vm, "/usr/lib/libc.so.6", "abcd", IMAGE_ELF);
	assert_int_not_equal(img, img2); /* a guest's libc is not the host's */
	assert_int_equal(profile__image(&p, host, "/usr/lib/libc.so.6", "abcd", IMAGE_ELF), img);
	assert_int_not_equal(profile__image(&p, host, "/usr/lib/libc.so.6", "ef01", IMAGE_ELF), img);

	sym = profile__symbol(&p, img, "memcpy", 0x1000, 64);
	assert_int_equal(profile__symbol(&p, img, "memcpy", 0x1000, 64), sym);
	assert_int_not_equal(profile__symbol(&p, img2, "memcpy", 0x1000, 64), sym);

	f1 = profile__frame(&p, 0, img, sym, 0);
	f2 = profile__frame(&p, f1, img, sym, 0);
	assert_int_not_equal(f1, f2);
	assert_int_equal(profile__frame(&p, f1, img, sym, 0), f2);
	assert_int_equal(p.frames[f2 - 1].parent, f1);

	assert_int_equal(profile__thread(&p, host, 10, 11, "bash", ROLE_TASK, -1),
			 profile__thread(&p, host, 10, 11, "bash", ROLE_TASK, -1));
	assert_int_not_equal(profile__thread(&p, host, 10, 11, "bash", ROLE_TASK, -1),
			     profile__thread(&p, host, 10, 11, "sh", ROLE_TASK, -1));
	profile__release(&p);
}

static void test_counters_and_delta(void **state)
{
	struct profile p;
	struct sample_key k = { .event = 1, .domain = 1, .layer = LAYER_USER, .thread = 1, .image = 1, .symbol = 1, .address = 0x10 };
	struct timeline_key tk = { .event = 1, .domain = 1, .layer = LAYER_USER, .bucket = 3 };
	profile__init(&p);
	profile__domain(&p, "host", false);
	for (int i = 0; i < 1000; i++) {
		k.address = 0x10 + (i % 10);
		profile__add_sample(&p, &k, 1, 1000);
		profile__add_timeline(&p, &tk, 1, 1000);
	}
	assert_int_equal(p.n_samples, 10);
	assert_int_equal(p.samples[0].count, 100);
	assert_int_equal(p.samples[0].period, 100000);
	assert_int_equal(p.n_dirty_samples, 10);
	assert_int_equal(p.n_timeline, 1);
	assert_int_equal(p.timeline[0].period, 1000000);
	profile__mark_written(&p);
	assert_int_equal(p.n_dirty_samples, 0);
	assert_int_equal(p.written_domains, 1);
	/* Only what changes after a flush is in the next delta. */
	k.address = 0x10;
	profile__add_sample(&p, &k, 1, 1);
	assert_int_equal(p.n_dirty_samples, 1);
	assert_int_equal(p.samples[p.dirty_samples[0]].count, 101);
	/* A different origin is a different counter. */
	k.origin = ORIGIN_AGENT;
	profile__add_sample(&p, &k, 1, 1);
	assert_int_equal(p.n_samples, 11);
	profile__release(&p);
}

static void test_names(void **state)
{
	assert_string_equal(layer__name(LAYER_GUEST_KERNEL), "guest-kernel");
	assert_int_equal(layer__from_name("hypervisor"), LAYER_HYPERVISOR);
	assert_int_equal(layer__from_name("bogus"), -1);
	assert_string_equal(thread_role__name(ROLE_VCPU), "vcpu");
	assert_int_equal(image_kind__from_name("guest-user"), IMAGE_GUEST_USER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interning),
		cmocka_unit_test(test_counters_and_delta),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

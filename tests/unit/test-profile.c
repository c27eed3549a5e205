/* The profile's interning tables and counters, and its delta tracking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

static bool thread_done(const struct sample_entry *e, void *ctx)
{
	return e->key.thread == *(const uint32_t *)ctx;
}

/* Dropping what can no longer change: only written, clean rows go; ids
 * stay unique and never come back; a dropped key counts anew in a new
 * row; slots are reused, so memory follows what is alive. */
static void test_drop(void **state)
{
	struct profile p;
	uint32_t host, t1, t2, t3, i1, i2, i3;
	struct sample_key k1 = { .event = 1, .layer = LAYER_USER }, k2;
	struct timeline_key tl = { .event = 1, .origin = ORIGIN_HOST };
	(void)state;
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	t1 = profile__thread(&p, host, 10, 10, "true", ROLE_TASK, -1);
	t2 = profile__thread(&p, host, 11, 11, "sh", ROLE_TASK, -1);
	k1.domain = host;
	k1.thread = t1;
	k2 = k1;
	k2.thread = t2;
	i1 = profile__add_sample(&p, &k1, 1, 100);
	i2 = profile__add_sample(&p, &k2, 1, 100);
	tl.domain = host;
	profile__add_timeline(&p, &tl, 1, 100);

	/* Nothing is written yet: nothing may go. */
	assert_int_equal(profile__drop_samples(&p, thread_done, &t1), 0);
	assert_int_equal(profile__drop_threads(&p, &t1, 1), 0);
	assert_int_equal(profile__drop_timeline(&p, 5), 0);
	profile__mark_written(&p);
	/* Changed since: stays. */
	profile__bump_sample(&p, i1, 1, 100);
	assert_int_equal(profile__drop_samples(&p, thread_done, &t1), 0);
	profile__mark_written(&p);

	assert_int_equal(profile__drop_samples(&p, thread_done, &t1), 1);
	assert_int_equal(profile__drop_threads(&p, &t1, 1), 1);
	assert_int_equal(profile__drop_timeline(&p, 5), 1);
	assert_int_equal(profile__n_live_samples(&p), 1);
	assert_int_equal(p.samples[i2].id, 2);
	assert_int_equal(p.samples[i2].count, 1);

	/* The same name again is a new row with a new id, in the old slot. */
	t3 = profile__thread(&p, host, 10, 10, "true", ROLE_TASK, -1);
	assert_int_equal(t3, 3);
	assert_int_equal(p.n_threads, 2);
	assert_false(p.threads[0].written);
	k1.thread = t3;
	i3 = profile__add_sample(&p, &k1, 1, 50);
	assert_int_equal(i3, i1);
	assert_int_equal(p.samples[i3].id, 3);
	assert_int_equal(p.samples[i3].count, 1);
	assert_false(p.samples[i3].written);
	/* The survivor is still found by its key. */
	assert_int_equal(profile__add_sample(&p, &k2, 1, 100), i2);
	assert_int_equal(p.samples[i2].count, 2);
	tl.bucket = 9;
	assert_int_equal(profile__add_timeline(&p, &tl, 1, 1), 0);
	assert_int_equal(p.timeline[0].id, 2);
	profile__release(&p);
}

/* Samples of many timeline keys interleaved (domains, layers, events,
 * origins, buckets; several share a slot of the table of recent entries)
 * land each in its own entry, through flushes and drops; checked against
 * counts kept apart. */
static void test_timeline_interleaved(void **state)
{
	enum { DOMAINS = 5, LAYERS = 3, EVENTS = 2, ORIGINS = 2, BUCKETS = 4 };
	static uint64_t expect[EVENTS][DOMAINS][LAYERS][ORIGINS][BUCKETS];
	struct profile p;
	uint64_t x = 88172645463325252ULL, total = 0;
	(void)state;
	memset(expect, 0, sizeof(expect));
	profile__init(&p);
	for (int d = 0; d < DOMAINS; d++)
		profile__domain(&p, d ? "vm" : "host", false);
	for (int round = 0; round < BUCKETS; round++) {
		for (int i = 0; i < 20000; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			struct timeline_key k = { .event = 1 + x % EVENTS, .domain = 1 + (x >> 8) % DOMAINS,
						  .layer = (enum layer)((x >> 16) % LAYERS),
						  .origin = (enum origin)((x >> 24) % ORIGINS),
						  /* mostly this round's bucket, some the one before */
						  .bucket = round - (round && (x >> 32) % 8 == 0) };
			profile__add_timeline(&p, &k, 1, 10);
			expect[k.event - 1][k.domain - 1][k.layer][k.origin][k.bucket]++;
			total++;
		}
		profile__mark_written(&p);
		/* Buckets before this round's are done: dropped, their slots reused. */
		profile__drop_timeline(&p, round);
	}
	uint64_t seen = 0;
	size_t live = 0;
	for (size_t i = 0; i < p.n_timeline; i++) {
		const struct timeline_entry *e = &p.timeline[i];
		if (!e->key.event)
			continue;
		live++;
		seen += e->count;
		assert_int_equal(e->count, expect[e->key.event - 1][e->key.domain - 1][e->key.layer][e->key.origin][e->key.bucket]);
		assert_int_equal(e->period, e->count * 10);
	}
	/* Left: the host's last bucket and the agents' every bucket (drops
	 * are the host's), one entry per key, holding every sample of them. */
	uint64_t want = 0;
	for (int e = 0; e < EVENTS; e++)
		for (int d = 0; d < DOMAINS; d++)
			for (int l = 0; l < LAYERS; l++)
				for (int b = 0; b < BUCKETS; b++)
					want += expect[e][d][l][ORIGIN_AGENT][b] +
						(b == BUCKETS - 1 ? expect[e][d][l][ORIGIN_HOST][b] : 0);
	assert_int_equal(live, EVENTS * DOMAINS * LAYERS * (1 + BUCKETS));
	assert_int_equal(seen, want);
	assert_true(seen < total);
	profile__release(&p);
}

/* A rotation keeps the catalog rows marked and what they name, in their
 * order, renumbered; the others go; interning finds the kept ones under
 * their new ids and adds the others anew. */
static void test_restart_catalog(void **state)
{
	struct profile p;
	struct profile_catalog_map keep;
	uint32_t host, vm, libc, agent_img, cc1, memcpy_, spin, parse, f_libc, f_spin1, f_spin2, f_cc1;
	struct sample_key k = { .event = 1, .layer = LAYER_USER };
	(void)state;
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	vm = profile__domain(&p, "web", true);
	libc = profile__image(&p, host, "/usr/lib/libc.so.6", "", IMAGE_ELF); /* "" is no build-id */
	agent_img = profile__image(&p, vm, "/usr/bin/work", "abcd", IMAGE_ELF);
	cc1 = profile__image(&p, host, "/usr/libexec/cc1", NULL, IMAGE_ELF);
	memcpy_ = profile__symbol(&p, libc, "memcpy", 0x1000, 64);
	spin = profile__symbol(&p, agent_img, "spin", 0x2000, 32);
	parse = profile__symbol(&p, cc1, "parse", 0x3000, 16);
	f_libc = profile__frame(&p, 0, libc, memcpy_, 0);
	f_spin1 = profile__frame(&p, f_libc, agent_img, spin, 0); /* a caller in another image */
	f_cc1 = profile__frame(&p, 0, cc1, parse, 0);
	f_spin2 = profile__frame(&p, f_spin1, agent_img, spin, 0);
	k.domain = host;
	k.image = cc1;
	profile__add_sample(&p, &k, 1, 1);
	profile__mark_written(&p);

	/* Keep the deepest frame only: its callers, their images and
	 * symbols stay; cc1's rows go. */
	profile_catalog_map__init(&keep, &p);
	profile_id_map__keep(&keep.frames, f_spin2);
	profile_id_map__keep(&keep.frames, 99); /* out of range: ignored */
	profile__restart(&p, &keep);
	assert_int_equal(p.n_images, 2);
	assert_int_equal(p.n_symbols, 2);
	assert_int_equal(p.n_frames, 3);
	assert_int_equal(p.n_samples, 0);
	assert_int_equal(profile_id_map__get(&keep.images, libc), 1);
	assert_int_equal(profile_id_map__get(&keep.images, agent_img), 2);
	assert_int_equal(profile_id_map__get(&keep.images, cc1), 0);
	assert_int_equal(profile_id_map__get(&keep.symbols, parse), 0);
	assert_int_equal(profile_id_map__get(&keep.frames, f_cc1), 0);
	assert_int_equal(profile_id_map__get(&keep.frames, f_spin2), 3);
	assert_int_equal(p.frames[2].parent, 2);
	assert_int_equal(p.frames[1].parent, 1);
	assert_int_equal(p.frames[1].symbol, profile_id_map__get(&keep.symbols, spin));
	assert_int_equal(p.symbols[1].image, 2);
	assert_string_equal(p.images[1].build_id, "abcd");
	/* Found under their new ids; the dropped ones come back as new rows. */
	assert_int_equal(profile__image(&p, host, "/usr/lib/libc.so.6", NULL, IMAGE_ELF), 1);
	assert_int_equal(profile__image(&p, host, "/usr/lib/libc.so.6", "", IMAGE_ELF), 1);
	assert_int_equal(profile__image(&p, vm, "/usr/bin/work", "abcd", IMAGE_ELF), 2);
	assert_int_equal(profile__symbol(&p, 2, "spin", 0x2000, 32), 2);
	assert_int_equal(profile__frame(&p, 2, 2, 2, 0), 3);
	assert_int_equal(profile__image(&p, host, "/usr/libexec/cc1", NULL, IMAGE_ELF), 3);
	assert_int_equal(profile__symbol(&p, 3, "parse", 0x3000, 16), 3);
	/* Every row is to be written again into the new session. */
	assert_int_equal(p.written_images, 0);
	assert_int_equal(p.written_frames, 0);
	assert_int_equal(p.n_domains, 2);
	profile_catalog_map__release(&keep);

	/* Without marks, the whole catalog goes; the domains stay. */
	profile__restart(&p, NULL);
	assert_int_equal(p.n_images + p.n_symbols + p.n_frames, 0);
	assert_int_equal(profile__find_domain(&p, "web"), vm);
	assert_int_equal(profile__image(&p, host, "/usr/libexec/cc1", NULL, IMAGE_ELF), 1);

	/* A session of many functions does not leave its room to the next. */
	for (uint32_t i = 0; i < 1000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%u", i);
		profile__symbol(&p, 1, name, i * 16, 16);
	}
	assert_true(p.cap_symbols >= 1000);
	profile_catalog_map__init(&keep, &p);
	profile_id_map__keep(&keep.symbols, 500);
	profile__restart(&p, &keep);
	assert_int_equal(p.n_symbols, 1);
	assert_true(p.cap_symbols <= 2);
	assert_string_equal(p.symbols[0].name, "f499");
	assert_int_equal(profile__symbol(&p, 1, "f499", 499 * 16, 16), 1);
	assert_int_equal(profile__symbol(&p, 1, "f7", 7 * 16, 16), 2);
	profile_catalog_map__release(&keep);
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
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_timeline_interleaved),
		cmocka_unit_test(test_restart_catalog),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The shared vocabulary (lib/vocab): names round-trip, the display order
 * holds every layer once, the SQL guest set names exactly the guest
 * layers, the overhead formula on numbers fixed by construction, the
 * agent-to-guest layer mapping and the reserved domain names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/vocab/vocab.h"

static void test_names_round_trip(void **state)
{
	(void)state;
	for (int l = 0; l < LAYER__COUNT; l++)
		assert_int_equal(layer__from_name(layer__name((enum layer)l)), l);
	assert_string_equal(layer__name(LAYER_IDLE), "idle");
	assert_string_equal(layer__name(LAYER__COUNT), "?");
	assert_int_equal(layer__from_name("Guest"), -1);
	for (int k = DOMAIN_HOST; k <= DOMAIN_IDLE; k++)
		assert_int_equal(domain_kind__from_name(domain_kind__name((enum domain_kind)k)), k);
	assert_string_equal(domain_kind__name(domain_kind__of(true, false)), "vm");
	assert_string_equal(domain_kind__name(domain_kind__of(false, true)), "idle");
	assert_string_equal(domain_kind__name(domain_kind__of(false, false)), "host");
	for (int i = 0; i < IMAGE__COUNT; i++)
		assert_int_equal(image_kind__from_name(image_kind__name((enum image_kind)i)), i);
	assert_string_equal(thread_role__name(ROLE_BACKEND), "backend");
	assert_string_equal(origin__name(ORIGIN_AGENT), "agent");
	assert_string_equal(origin__name(ORIGIN_HOST), "host");
}

static void test_display_order(void **state)
{
	int seen[LAYER__COUNT] = { 0 };
	(void)state;
	for (int k = 0; k < LAYER__COUNT; k++)
		seen[layer__display_order[k]]++;
	for (int l = 0; l < LAYER__COUNT; l++)
		assert_int_equal(seen[l], 1);
	/* A VM's layers from the guest outwards, then the host's, then idle. */
	assert_int_equal(layer__display_order[0], LAYER_GUEST_USER);
	assert_int_equal(layer__display_order[3], LAYER_VMM);
	assert_int_equal(layer__display_order[4], LAYER_HYPERVISOR);
	assert_int_equal(layer__display_order[LAYER__COUNT - 1], LAYER_IDLE);
}

/* Each layer's name quoted in the SQL set exactly when layer__is_guest. */
static void test_guest_sql_set(void **state)
{
	(void)state;
	for (int l = 0; l < LAYER__COUNT; l++) {
		char quoted[32];
		snprintf(quoted, sizeof(quoted), "'%s'", layer__name((enum layer)l));
		assert_int_equal(strstr(LAYER_GUEST_SQL_SET, quoted) != NULL, layer__is_guest((enum layer)l));
	}
}

static void test_overhead(void **state)
{
	double v[LAYER__COUNT] = { 0 };
	(void)state;
	assert_true(layer__overhead(v) < 0); /* no guest work */
	v[LAYER_GUEST_USER] = 300;
	v[LAYER_GUEST_KERNEL] = 100;
	v[LAYER_GUEST] = 100;
	v[LAYER_HYPERVISOR] = 50;
	v[LAYER_VMM] = 75;
	v[LAYER_USER] = 1000; /* neither side: never counted */
	v[LAYER_KERNEL] = 1000;
	v[LAYER_IDLE] = 1000;
	assert_float_equal(layer__overhead(v), 125.0 / 500.0, 1e-12);
}

static void test_layer_rules(void **state)
{
	(void)state;
	assert_int_equal(layer__as_guest(LAYER_KERNEL), LAYER_GUEST_KERNEL);
	assert_int_equal(layer__as_guest(LAYER_HYPERVISOR), LAYER_GUEST_KERNEL);
	assert_int_equal(layer__as_guest(LAYER_GUEST_KERNEL), LAYER_GUEST_KERNEL);
	assert_int_equal(layer__as_guest(LAYER_USER), LAYER_GUEST_USER);
	assert_int_equal(layer__as_guest(LAYER_VMM), LAYER_GUEST_USER);
	assert_true(domain_kind__has_layer(DOMAIN_HOST, LAYER_KERNEL));
	assert_false(domain_kind__has_layer(DOMAIN_HOST, LAYER_IDLE));
	assert_true(domain_kind__has_layer(DOMAIN_IDLE, LAYER_IDLE));
	assert_true(domain_kind__has_layer(DOMAIN_VM, LAYER_HYPERVISOR));
	assert_false(domain_kind__has_layer(DOMAIN_VM, LAYER_USER));
	assert_true(domain_name__is_reserved("host") && domain_name__is_reserved("idle"));
	assert_false(domain_name__is_reserved("hostile") || domain_name__is_reserved("Idle"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip), cmocka_unit_test(test_display_order),
		cmocka_unit_test(test_guest_sql_set),	 cmocka_unit_test(test_overhead),
		cmocka_unit_test(test_layer_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

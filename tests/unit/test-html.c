/* The HTML report's data, from a session built by the test with known
 * call stacks: the flame graph tree (inclusive values, stacks outermost
 * first, one-frame stacks without -g, unresolved frames named after their
 * image), pruning of small frames and the frame cap, the merged and host
 * views of an active VM, the top rows of each event, timeline merging,
 * escaping of hostile names for a <script> element, and the page's
 * Content-Security-Policy hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/report/html.h"
#include "lib/util/util.h"

extern const unsigned char html_asset_report_js[];
extern const size_t html_asset_report_js_size;
extern const unsigned char html_asset_report_css[];
extern const size_t html_asset_report_css_size;

#define MS 1000000ULL
#define HOSTILE_SYMBOL "<img src=x onerror=alert(1)></script>"
#define HOSTILE_VM "web</script><!--"

static char path[64];

static void add(struct profile *p, uint32_t event, uint32_t dom, enum layer l, uint32_t thread, uint32_t image,
		uint32_t sym, uint32_t stack, uint64_t count, uint64_t period, enum origin o)
{
	struct sample_key k = { .event = event, .domain = dom, .layer = (uint8_t)l, .thread = thread, .image = image,
				.symbol = sym, .stack = stack, .address = 0x10, .origin = (uint8_t)o };
	profile__add_sample(p, &k, count, period);
}

/* host, user, command app:   main -> tree_a (100 ms) -> tree_c (400 ms)
 *                            main -> tree_b (200 ms) -> tree_c (300 ms)
 *                            main -> tiny (0.2 ms: under 0.05 %, pruned)
 *                            main -> unresolved address in app (5 ms)
 *                            main -> two unresolved frames in app (3 ms)
 *                            the hostile symbol, no stack (50 ms)
 * host, kernel, app:         clear_page, no stack (100 ms; 7 page-faults)
 * VM web: guest 400 ms (host view), vmm 60, hypervisor 40; agent data
 *         guest-user 30 and guest-kernel 10, scaled 3:1 to 300 + 100.
 * timeline: host user 100..500 ms in buckets 0..4. */
static int setup(void **state)
{
	struct profile p;
	struct session *s;
	struct event_spec e;
	char *err = NULL;
	int fd;
	uint32_t host, web, app, vcpu, guest, i_app, i_k, i_code, i_qemu, i_gapp, i_gk;
	uint32_t y_main, y_a, y_b, y_c, y_tiny, y_bad, y_clear, f_main, f_a, f_b, f_ac, f_bc, f_tiny, f_unknown, f_unknown2;

	snprintf(path, sizeof(path), "/tmp/domprof-test-html-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	assert_int_equal(event_spec__parse("page-faults", NULL, &e, NULL), 0);
	session__add_event(s, 2, &e);
	event_spec__release(&e);

	profile__init(&p);
	host = profile__domain(&p, "host", false);
	web = profile__domain(&p, HOSTILE_VM, true);
	profile__domain_set(&p, web, "vmm", "qemu");
	app = profile__thread(&p, host, 10, 10, "app", ROLE_TASK, -1);
	vcpu = profile__thread(&p, web, 20, 21, "CPU 0/TCG", ROLE_VCPU, 0);
	guest = profile__thread(&p, web, 300, 300, "guestapp", ROLE_GUEST, -1);
	i_app = profile__image(&p, host, "/usr/bin/app", NULL, IMAGE_ELF);
	i_k = profile__image(&p, host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	i_qemu = profile__image(&p, host, "/usr/bin/qemu-system-x86_64", NULL, IMAGE_ELF);
	i_code = profile__image(&p, web, "[guest code]", NULL, IMAGE_ANON);
	i_gapp = profile__image(&p, web, "/usr/bin/guestapp", NULL, IMAGE_ELF);
	i_gk = profile__image(&p, web, "[guest.kernel]", NULL, IMAGE_GUEST_KERNEL);
	y_main = profile__symbol(&p, i_app, "main", 0x1000, 0x10);
	y_a = profile__symbol(&p, i_app, "tree_a", 0x2000, 0x10);
	y_b = profile__symbol(&p, i_app, "tree_b", 0x3000, 0x10);
	y_c = profile__symbol(&p, i_app, "tree_c", 0x4000, 0x10);
	y_tiny = profile__symbol(&p, i_app, "tiny", 0x5000, 0x10);
	y_bad = profile__symbol(&p, i_app, HOSTILE_SYMBOL, 0x6000, 0x10);
	y_clear = profile__symbol(&p, i_k, "clear_page", 0x7000, 0x10);
	f_main = profile__frame(&p, 0, i_app, y_main, 0);
	f_a = profile__frame(&p, f_main, i_app, y_a, 0);
	f_b = profile__frame(&p, f_main, i_app, y_b, 0);
	f_ac = profile__frame(&p, f_a, i_app, y_c, 0);
	f_bc = profile__frame(&p, f_b, i_app, y_c, 0);
	f_tiny = profile__frame(&p, f_main, i_app, y_tiny, 0);
	f_unknown = profile__frame(&p, f_main, i_app, 0, 0x8123);
	f_unknown2 = profile__frame(&p, f_unknown, i_app, 0, 0x8456);

	add(&p, 1, host, LAYER_USER, app, i_app, y_a, f_a, 100, 100 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, y_c, f_ac, 400, 400 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, y_b, f_b, 200, 200 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, y_c, f_bc, 300, 300 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, y_tiny, f_tiny, 1, 200000, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, 0, f_unknown, 5, 5 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, 0, f_unknown2, 3, 3 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_USER, app, i_app, y_bad, 0, 50, 50 * MS, ORIGIN_HOST);
	add(&p, 1, host, LAYER_KERNEL, app, i_k, y_clear, 0, 100, 100 * MS, ORIGIN_HOST);
	add(&p, 2, host, LAYER_KERNEL, app, i_k, y_clear, 0, 7, 7, ORIGIN_HOST);
	add(&p, 1, web, LAYER_GUEST, vcpu, i_code, 0, 0, 400, 400 * MS, ORIGIN_HOST);
	add(&p, 1, web, LAYER_VMM, vcpu, i_qemu, 0, 0, 60, 60 * MS, ORIGIN_HOST);
	add(&p, 1, web, LAYER_HYPERVISOR, vcpu, i_k, y_clear, 0, 40, 40 * MS, ORIGIN_HOST);
	add(&p, 1, web, LAYER_GUEST_USER, guest, i_gapp, profile__symbol(&p, i_gapp, "alpha", 0x100, 0x10), 0, 30, 30 * MS,
	    ORIGIN_AGENT);
	add(&p, 1, web, LAYER_GUEST_KERNEL, guest, i_gk, profile__symbol(&p, i_gk, "tcp_v4_rcv", 0x200, 0x10), 0, 10,
	    10 * MS, ORIGIN_AGENT);
	for (uint32_t b = 0; b < 5; b++) {
		struct timeline_key tk = { .event = 1, .domain = host, .layer = LAYER_USER, .bucket = b };
		profile__add_timeline(&p, &tk, b + 1, (b + 1) * 100 * MS);
	}
	assert_int_equal(session__write_delta(s, &p), 0);
	session__set_meta(s, "hostname", "testhost");
	session__set_meta(s, "duration_ns", "500000000");
	session__set_meta(s, "timeline_bucket_ns", "100000000");
	session__finish(s);
	session__close(s);
	profile__release(&p);
	return 0;
}

static int teardown(void **state)
{
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

static char *page_json(const struct html_options *o, struct html_summary *summary)
{
	struct session *s = open_session();
	struct strbuf sb;
	char *err = NULL, *json;
	strbuf_init(&sb);
	assert_int_equal(html_report__json(s, o, &sb, summary, &err), 0);
	session__close(s);
	json = strbuf_detach(&sb);
	strbuf_release(&sb); /* detach leaves an empty buffer */
	return json;
}

/* ---- reading back the flame graph of one domain ---- */

struct tree {
	char **strings; /* as written: still JSON-escaped */
	size_t n_strings;
	long long *v;   /* per node: parent, name, image, 2 periods, 2 sample counts */
	size_t n_nodes;
};
#define STRIDE 7

static void tree_load(struct tree *t, const char *json, const char *domain_json_name)
{
	_cleanup_free_ char *key = xasprintf("{\"name\":%s,\"kind\"", domain_json_name);
	const char *p = strstr(json, key), *q;
	size_t cap = 0, n = 0, scap = 0;
	memset(t, 0, sizeof(*t));
	assert_non_null(p);
	p = strstr(p, "\"nodes\":[");
	assert_non_null(p);
	p += strlen("\"nodes\":[");
	while (*p && *p != ']') {
		char *end;
		ARRAY_GROW(t->v, cap, n + 1);
		t->v[n++] = strtoll(p, &end, 10);
		assert_true(end != p);
		p = *end == ',' ? end + 1 : end;
	}
	assert_int_equal(n % STRIDE, 0);
	t->n_nodes = n / STRIDE;
	p = strstr(json, "\"strings\":[");
	assert_non_null(p);
	p += strlen("\"strings\":[");
	while (*p == '"') {
		for (q = p + 1; *q && *q != '"'; q++)
			if (*q == '\\')
				q++;
		ARRAY_GROW(t->strings, scap, t->n_strings + 1);
		t->strings[t->n_strings++] = xstrndup(p + 1, (size_t)(q - p - 1));
		p = q + 1;
		if (*p == ',')
			p++;
	}
}

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n_strings; i++)
		free(t->strings[i]);
	free(t->strings);
	free(t->v);
}

/* The node at the end of a path of names from the root (NULL-terminated);
 * -1 when absent. */
static long tree_find(const struct tree *t, const char **names)
{
	long node = -1;
	for (size_t k = 0; names[k]; k++) {
		long found = -1;
		for (size_t i = 0; i < t->n_nodes && found < 0; i++)
			if (t->v[i * STRIDE] == node && streq(t->strings[t->v[i * STRIDE + 1]], names[k]))
				found = (long)i;
		if (found < 0)
			return -1;
		node = found;
	}
	return node;
}

static long long tree_value(const struct tree *t, long node, int field) { return t->v[node * STRIDE + 3 + field]; }

#define PATH(...) ((const char *[]){ __VA_ARGS__, NULL })

static void test_flame_tree(void **state)
{
	struct html_options o;
	struct html_summary sum;
	struct tree t;
	long n;
	_cleanup_free_ char *json;

	html_options__init(&o);
	json = page_json(&o, &sum);
	tree_load(&t, json, "\"host\"");
	/* Root: everything of the host, both events. */
	assert_int_equal(tree_value(&t, 0, 0), 1158200000LL);
	assert_int_equal(tree_value(&t, 0, 1), 7);
	/* Inclusive values, outermost caller first. */
	n = tree_find(&t, PATH("host", "user", "app", "main"));
	assert_true(n >= 0);
	assert_int_equal(tree_value(&t, n, 0), 1008200000LL);
	n = tree_find(&t, PATH("host", "user", "app", "main", "tree_a"));
	assert_int_equal(tree_value(&t, n, 0), 500 * MS);
	assert_int_equal(tree_value(&t, n, 2), 500); /* samples */
	n = tree_find(&t, PATH("host", "user", "app", "main", "tree_a", "tree_c"));
	assert_int_equal(tree_value(&t, n, 0), 400 * MS);
	n = tree_find(&t, PATH("host", "user", "app", "main", "tree_b", "tree_c"));
	assert_int_equal(tree_value(&t, n, 0), 300 * MS);
	/* An unresolved frame is named after its image, as stackcollapse-perf
	 * does; a run of them in one image is one frame. */
	n = tree_find(&t, PATH("host", "user", "app", "main", "[app]"));
	assert_int_equal(tree_value(&t, n, 0), 8 * MS);
	assert_int_equal(tree_find(&t, PATH("host", "user", "app", "main", "[app]", "[app]")), -1);
	/* Samples without a stack are one-frame stacks under layer and command. */
	n = tree_find(&t, PATH("host", "kernel", "app", "clear_page"));
	assert_int_equal(tree_value(&t, n, 0), 100 * MS);
	assert_int_equal(tree_value(&t, n, 1), 7);
	n = tree_find(&t, PATH("host", "user", "app", "\\u003cimg src=x onerror=alert(1)\\u003e\\u003c/script\\u003e"));
	assert_int_equal(tree_value(&t, n, 0), 50 * MS);
	/* 0.2 ms of 1158 ms is under 0.05 %: merged into main, and its name
	 * is not in the page at all. */
	assert_int_equal(tree_find(&t, PATH("host", "user", "app", "main", "tiny")), -1);
	for (size_t i = 0; i < t.n_strings; i++)
		assert_string_not_equal(t.strings[i], "tiny");
	assert_non_null(strstr(json, "\"pruned\":1,"));
	assert_int_equal(sum.frames_pruned, 1);
	assert_int_equal(sum.n_domains, 2);
	assert_int_equal(sum.n_events, 2);
	tree_release(&t);
}

static void test_views(void **state)
{
	struct html_options o;
	struct tree t;
	const char *vm = "\"web\\u003c/script\\u003e\\u003c!--\"";
	char *json;

	/* Merged: the agent's breakdown at the host's magnitude (400 ms, 3:1). */
	html_options__init(&o);
	json = page_json(&o, NULL);
	tree_load(&t, json, vm); /* names as written: escaped */
	assert_int_equal(tree_value(&t, 0, 0), 500 * MS);
	assert_int_equal(tree_value(&t, tree_find(&t, PATH("web\\u003c/script\\u003e\\u003c!--", "guest-user", "guestapp", "alpha")), 0),
			 300 * MS);
	assert_int_equal(tree_value(&t, tree_find(&t, PATH("web\\u003c/script\\u003e\\u003c!--", "guest-kernel", "guestapp",
							   "tcp_v4_rcv")), 0),
			 100 * MS);
	assert_int_equal(tree_find(&t, PATH("web\\u003c/script\\u003e\\u003c!--", "guest")), -1);
	tree_release(&t);
	free(json);

	/* Host view: the host's own guest layer, no agent rows; anonymous
	 * guest code without a symbol is named after its image. */
	o.source = SOURCE_HOST;
	json = page_json(&o, NULL);
	tree_load(&t, json, vm);
	assert_int_equal(tree_value(&t, 0, 0), 500 * MS);
	assert_int_equal(tree_value(&t, tree_find(&t, PATH("web\\u003c/script\\u003e\\u003c!--", "guest", "CPU 0/TCG",
							   "[guest code]")), 0),
			 400 * MS);
	assert_int_equal(tree_find(&t, PATH("web\\u003c/script\\u003e\\u003c!--", "guest-user")), -1);
	assert_non_null(strstr(json, "\"view\":\"host\""));
	tree_release(&t);
	free(json);
}

static void test_frame_cap(void **state)
{
	struct html_options o;
	struct html_summary sum;
	struct tree t;
	_cleanup_free_ char *json;

	html_options__init(&o);
	o.max_frames = 5;
	json = page_json(&o, &sum);
	tree_load(&t, json, "\"host\"");
	assert_true(t.n_nodes <= 5);
	assert_true(t.n_nodes >= 3);
	assert_true(sum.min_frame_percent > 0.05);
	/* The root always stays and keeps every sample. */
	assert_int_equal(tree_value(&t, 0, 0), 1158200000LL);
	tree_release(&t);
}

static void test_top_rows(void **state)
{
	struct html_options o;
	const char *host;
	_cleanup_free_ char *json;

	/* One row per event: tree_c leads cpu-clock, clear_page page-faults. */
	html_options__init(&o);
	o.max_rows = 1;
	json = page_json(&o, NULL);
	host = strstr(json, "{\"name\":\"host\",\"kind\"");
	assert_non_null(host);
	assert_non_null(strstr(host, "\"top\":{\"total_rows\":7,\"rows\":[{\"layer\":\"user\",\"image\":\"/usr/bin/app\","
				     "\"symbol\":\"tree_c\",\"comm\":\"app\",\"comms\":1,\"samples\":[700,0],"
				     "\"period\":[700000000,0]},{\"layer\":\"kernel\",\"image\":\"[kernel.kallsyms]\","
				     "\"symbol\":\"clear_page\",\"comm\":\"app\",\"comms\":1,\"samples\":[100,7],"
				     "\"period\":[100000000,7]}],\"shown_rows\":2}"));
}

static void test_timeline(void **state)
{
	struct html_options o;
	char *json;

	html_options__init(&o);
	json = page_json(&o, NULL);
	assert_non_null(strstr(json, "\"timeline\":{\"bucket_ns\":100000000,\"points\":5,\"duration_ns\":500000000,"
				     "\"series\":[{\"event\":0,\"domain\":0,\"layer\":\"user\",\"period\":"
				     "[100000000,200000000,300000000,400000000,500000000]}]}"));
	free(json);
	/* Five buckets into two points: three buckets per point. */
	o.max_points = 2;
	json = page_json(&o, NULL);
	assert_non_null(strstr(json, "\"timeline\":{\"bucket_ns\":300000000,\"points\":2,\"duration_ns\":500000000,"
				     "\"series\":[{\"event\":0,\"domain\":0,\"layer\":\"user\",\"period\":"
				     "[600000000,900000000]}]}"));
	free(json);
}

static void test_escaped_for_script(void **state)
{
	struct html_options o;
	_cleanup_free_ char *json;

	html_options__init(&o);
	json = page_json(&o, NULL);
	assert_null(strchr(json, '<'));
	assert_null(strchr(json, '>'));
	assert_null(strchr(json, '&'));
	assert_non_null(strstr(json, "\"symbol\":\"\\u003cimg src=x onerror=alert(1)\\u003e\\u003c/script\\u003e\""));
	assert_non_null(strstr(json, "{\"name\":\"web\\u003c/script\\u003e\\u003c!--\",\"kind\":\"vm\""));
}

/* The header's command line is the one typed, whether the session stored it
 * with the program name or without it (early builds): the
 * page never shows "domprof domprof record". */
static void test_command_line(void **state)
{
	static const char *stored[] = { "domprof record -a -d 1", "record -a -d 1" };
	struct html_options o;

	html_options__init(&o);
	for (size_t i = 0; i < ARRAY_SIZE(stored); i++) {
		struct session *s;
		char *err = NULL;
		_cleanup_free_ char *json = NULL;
		assert_int_equal(session__open(path, false, &s, &err), 0);
		assert_int_equal(session__set_meta(s, "command_line", stored[i]), 0);
		session__close(s);
		json = page_json(&o, NULL);
		assert_non_null(strstr(json, "\"command\":\"domprof record -a -d 1\""));
		assert_null(strstr(json, "domprof domprof"));
	}
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void hash_b64(const unsigned char *data, size_t n, char *out, size_t out_size)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, n);
	sodium_bin2base64(out, out_size, h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
}

static void test_page(void **state)
{
	struct session *s = open_session();
	struct html_options o;
	char *page = NULL, *err = NULL, js[64], css[64];
	size_t size = 0;
	FILE *f = open_memstream(&page, &size);
	_cleanup_free_ char *csp = NULL;

	html_options__init(&o);
	assert_int_equal(html_report__write(s, &o, f, NULL, &err), 0);
	fclose(f);
	session__close(s);
	assert_true(startswith(page, "<!DOCTYPE html>\n"));
	/* The data's element and the script's: nothing in the data ends one. */
	assert_int_equal(count(page, "</script"), 2);
	assert_int_equal(count(page, "<script"), 2);
	assert_int_equal(count(page, "</style"), 1);
	/* The policy allows exactly the embedded style sheet and script. */
	assert_int_equal(sodium_init() >= 0, 1);
	hash_b64(html_asset_report_js, html_asset_report_js_size, js, sizeof(js));
	hash_b64(html_asset_report_css, html_asset_report_css_size, css, sizeof(css));
	csp = xasprintf("content=\"default-src 'none'; style-src 'sha256-%s'; script-src 'sha256-%s'\"", css, js);
	assert_non_null(strstr(page, csp));
	assert_non_null(strstr(page, "<pre id=\"domprof-errors\" class=\"errors\" hidden></pre>"));
	assert_true(strlen(page) == size && size > html_asset_report_js_size);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flame_tree), cmocka_unit_test(test_views), cmocka_unit_test(test_frame_cap),
		cmocka_unit_test(test_top_rows),   cmocka_unit_test(test_timeline), cmocka_unit_test(test_escaped_for_script),
		cmocka_unit_test(test_page),	   cmocka_unit_test(test_command_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

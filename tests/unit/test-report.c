/* Reports from a session built by the test with known numbers: the layer
 * table and VM overhead, row grouping by keys, filters, threshold, limit,
 * CSV/JSON output, and the merged/host/agent views of an active VM; and,
 * from perf records synthesized as the kernel writes them, the idle
 * domain, shares of busy time, --no-idle and a KVM VM's vCPU-halt time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/collect/collector.h"
#include "lib/report/report.h"
#include "lib/util/util.h"
#include "perf-synth.h"

static char path[64];

/* host:  user: app/main 600ms, app/helper 100ms; kernel: [kernel] 300ms
 * vm web (qemu): guest 400ms, vmm 60ms, hypervisor 40ms  -> overhead 25%
 * vm web agent data: guest-user alpha 30, guest-kernel tcp 10 (ratio 3:1) */
static void add(struct profile *p, uint32_t dom, enum layer l, uint32_t thread, uint32_t image, uint32_t sym,
		uint64_t count, uint64_t ms, enum origin o)
{
	struct sample_key k = { .event = 1, .domain = dom, .layer = (uint8_t)l, .thread = thread, .image = image,
				.symbol = sym, .address = 0x10, .origin = (uint8_t)o };
	profile__add_sample(p, &k, count, ms * 1000000);
}

static int setup(void **state)
{
	struct profile p;
	struct session *s;
	struct event_spec e;
	char *err = NULL;
	int fd;
	uint32_t host, web, t_app, t_vcpu, t_guest, i_app, i_k, i_qemu, i_code, i_gk, i_gapp;

	snprintf(path, sizeof(path), "/tmp/domprof-test-report-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(session__create(path, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	web = profile__domain(&p, "web", true);
	profile__domain_set(&p, web, "vmm", "qemu");
	t_app = profile__thread(&p, host, 10, 10, "app", ROLE_TASK, -1);
	t_vcpu = profile__thread(&p, web, 20, 21, "CPU 0/TCG", ROLE_VCPU, 0);
	t_guest = profile__thread(&p, web, 300, 300, "guestapp", ROLE_GUEST, -1);
	i_app = profile__image(&p, host, "/usr/bin/app", NULL, IMAGE_ELF);
	i_k = profile__image(&p, host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	i_qemu = profile__image(&p, host, "/usr/bin/qemu-system-x86_64", NULL, IMAGE_ELF);
	i_code = profile__image(&p, web, "[guest code]", NULL, IMAGE_ANON);
	i_gk = profile__image(&p, web, "[guest.kernel]", NULL, IMAGE_GUEST_KERNEL);
	i_gapp = profile__image(&p, web, "/usr/bin/guestapp", NULL, IMAGE_ELF);
	add(&p, host, LAYER_USER, t_app, i_app, profile__symbol(&p, i_app, "main", 0x1000, 10), 600, 600, ORIGIN_HOST);
	add(&p, host, LAYER_USER, t_app, i_app, profile__symbol(&p, i_app, "helper", 0x2000, 10), 100, 100, ORIGIN_HOST);
	add(&p, host, LAYER_KERNEL, t_app, i_k, profile__symbol(&p, i_k, "clear_page", 0x3000, 10), 300, 300, ORIGIN_HOST);
	add(&p, web, LAYER_GUEST, t_vcpu, i_code, 0, 400, 400, ORIGIN_HOST);
	add(&p, web, LAYER_VMM, t_vcpu, i_qemu, profile__symbol(&p, i_qemu, "virtio_net_receive", 0x4000, 10), 60, 60, ORIGIN_HOST);
	add(&p, web, LAYER_HYPERVISOR, t_vcpu, i_k, profile__symbol(&p, i_k, "vmx_vcpu_run", 0x5000, 10), 40, 40, ORIGIN_HOST);
	add(&p, web, LAYER_GUEST_USER, t_guest, i_gapp, profile__symbol(&p, i_gapp, "alpha_spin", 0x6000, 10), 30, 30, ORIGIN_AGENT);
	add(&p, web, LAYER_GUEST_KERNEL, t_guest, i_gk, profile__symbol(&p, i_gk, "tcp_v4_rcv", 0x7000, 10), 10, 10, ORIGIN_AGENT);
	assert_int_equal(session__write_delta(s, &p), 0);
	session__set_meta(s, "hostname", "testhost");
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

static void query_keys(struct report_query *q, const char *keys)
{
	char *err = NULL;
	memset(q, 0, sizeof(*q));
	assert_int_equal(report_query__parse_keys(q, keys, &err), 0);
}

static const struct report_row *find_row(const struct report_table *t, size_t k, const char *v)
{
	for (size_t i = 0; i < t->n_rows; i++)
		if (streq(t->rows[i].keys[k], v))
			return &t->rows[i];
	return NULL;
}

/* Rows grouped by the view (view_rows, grouped in memory): groups by a
 * text key merge rows of different ids (a function name found in two
 * images), come out in key order (bytes for texts, NULL first), keep the
 * least and greatest address as SQL compares them (signed: a kernel
 * address is below a user one), and sum as the session's SUM does
 * (saturating). */
static void test_view_groups(void **state)
{
	char gpath[64];
	struct session *s;
	struct profile p;
	struct event_spec e;
	char *err = NULL;
	struct view_rows *rows;
	struct view_row v;
	struct view_filter f = { .source = SOURCE_HOST };
	static const enum view_column by_symbol[] = { VIEW_SYMBOL, VIEW_EVENT_ID };
	static const enum view_column by_thread[] = { VIEW_THREAD_ID };
	uint32_t host, t, img_a, img_b, k;
	int fd;
	(void)state;

	snprintf(gpath, sizeof(gpath), "/tmp/domprof-test-groups-XXXXXX");
	fd = mkstemp(gpath);
	close(fd);
	unlink(gpath);
	assert_int_equal(session__create(gpath, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	profile__init(&p);
	host = profile__domain(&p, "host", false);
	t = profile__thread(&p, host, 10, 10, "app", ROLE_TASK, -1);
	img_a = profile__image(&p, host, "/a", NULL, IMAGE_ELF);
	img_b = profile__image(&p, host, "/b", NULL, IMAGE_ELF);
	k = profile__image(&p, host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	{
		struct sample_key keys[] = {
			{ .thread = t, .image = img_a, .symbol = profile__symbol(&p, img_a, "memcpy", 0x1000, 16),
			  .address = 0x1004, .layer = LAYER_USER },
			{ .thread = t, .image = img_b, .symbol = profile__symbol(&p, img_b, "memcpy", 0x2000, 16),
			  .address = 0x2008, .layer = LAYER_USER },
			{ .thread = t, .image = k, .symbol = profile__symbol(&p, k, "memcpy", 0xffffffff81000000ULL, 16),
			  .address = 0xffffffff81000004ULL, .layer = LAYER_KERNEL },
			{ .thread = t, .image = img_a, .symbol = profile__symbol(&p, img_a, "Zed", 0x3000, 16),
			  .address = 0x3000, .layer = LAYER_USER },
			{ .thread = 0, .image = img_a, .symbol = 0, .address = 0x5000, .layer = LAYER_USER },
		};
		uint64_t periods[] = { 1, 2, 4, INT64_MAX - 1, 8 };
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			keys[i].event = 1;
			keys[i].domain = host;
			profile__add_sample(&p, &keys[i], 1, periods[i]);
		}
		/* Zed again, in another thread: its sum saturates. */
		keys[3].thread = profile__thread(&p, host, 11, 11, "app", ROLE_TASK, -1);
		profile__add_sample(&p, &keys[3], 1, 100);
	}
	assert_int_equal(session__write_delta(s, &p), 0);
	session__finish(s);
	session__close(s);
	profile__release(&p);
	assert_int_equal(session__open(gpath, true, &s, &err), 0);

	assert_int_equal(view_rows__open(s, &f, by_symbol, 2, true, &rows, &err), 0);
	/* "Zed" < "[unknown]" < "memcpy" byte by byte. */
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_string_equal(view_rows__text(rows, 0), "Zed");
	assert_int_equal(view_rows__int(rows, 1), 1);
	assert_int_equal(v.count, 2);
	assert_true(v.period == (uint64_t)INT64_MAX);
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_string_equal(view_rows__text(rows, 0), "[unknown]");
	assert_true(v.unknown_symbol);
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_string_equal(view_rows__text(rows, 0), "memcpy");
	assert_int_equal(v.count, 3);
	assert_int_equal(v.period, 1 + 2 + 4);
	assert_false(v.unknown_symbol);
	assert_true(v.min_address == 0xffffffff81000004ULL); /* negative as stored */
	assert_int_equal(v.max_address, 0x2008);
	assert_int_equal(view_rows__next(rows, &v, &err), 0);
	view_rows__close(rows);

	/* A thread id read as text and as a number; the sample without a
	 * thread is its own group, first, read as 0 and "". */
	assert_int_equal(view_rows__open(s, &f, by_thread, 1, true, &rows, &err), 0);
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_int_equal(view_rows__int(rows, 0), 0);
	assert_string_equal(view_rows__text(rows, 0), "");
	assert_int_equal(v.period, 8);
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_true(view_rows__int(rows, 0) > 0);
	assert_int_equal(v.count, 4);
	{
		char want[24];
		snprintf(want, sizeof(want), "%lld", (long long)view_rows__int(rows, 0));
		assert_string_equal(view_rows__text(rows, 0), want);
	}
	assert_int_equal(view_rows__next(rows, &v, &err), 1);
	assert_int_equal(v.count, 1);
	assert_int_equal(view_rows__next(rows, &v, &err), 0);
	view_rows__close(rows);
	session__close(s);
	unlink(gpath);
}

/* The merged view's scale follows the samples: written again through the
 * same connection, a VM's host magnitude doubles, and so do its agent's
 * rows in the merged view (the scale is not kept from before). */
static void test_view_scale_follows_writes(void **state)
{
	char spath[64];
	struct session *s;
	struct profile p;
	struct event_spec e;
	char *err = NULL;
	struct view_filter f = { .source = SOURCE_MERGED, .layers = (char *[]){ "guest-user", NULL } };
	uint32_t web, t, i_code, i_app;
	struct sample_key host_key, agent_key;
	int fd;
	(void)state;

	snprintf(spath, sizeof(spath), "/tmp/domprof-test-scale-XXXXXX");
	fd = mkstemp(spath);
	close(fd);
	unlink(spath);
	assert_int_equal(session__create(spath, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	profile__init(&p);
	web = profile__domain(&p, "web", true);
	t = profile__thread(&p, web, 20, 21, "CPU 0/TCG", ROLE_VCPU, 0);
	i_code = profile__image(&p, web, "[guest code]", NULL, IMAGE_ANON);
	i_app = profile__image(&p, web, "/usr/bin/guestapp", NULL, IMAGE_ELF);
	host_key = (struct sample_key){ .event = 1, .domain = web, .layer = LAYER_GUEST, .thread = t, .image = i_code,
					.origin = ORIGIN_HOST };
	agent_key = (struct sample_key){ .event = 1, .domain = web, .layer = LAYER_GUEST_USER, .thread = t,
					 .image = i_app, .origin = ORIGIN_AGENT };
	profile__add_sample(&p, &host_key, 1, 400);
	profile__add_sample(&p, &agent_key, 1, 40);
	for (int round = 1; round <= 2; round++) {
		struct view_rows *rows;
		struct view_row v;
		uint64_t period = 0;
		assert_int_equal(session__write_delta(s, &p), 0);
		assert_int_equal(view_rows__open(s, &f, NULL, 0, true, &rows, &err), 0);
		while (view_rows__next(rows, &v, &err) > 0)
			period += v.period;
		view_rows__close(rows);
		assert_int_equal(period, 400 * (uint64_t)round);
		profile__add_sample(&p, &host_key, 1, 400);
	}
	session__close(s);
	profile__release(&p);
	unlink(spath);
}

static void test_layers_and_overhead(void **state)
{
	struct session *s = open_session();
	struct report_query q;
	struct report_layers l;
	char *err = NULL;
	const struct report_domain_info *web = NULL, *host = NULL;

	query_keys(&q, "domain,layer");
	q.source = SOURCE_HOST;
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	assert_int_equal(l.n_domains, 2);
	for (size_t i = 0; i < l.n_domains; i++) {
		if (streq(l.domains[i].name, "web"))
			web = &l.domains[i];
		if (streq(l.domains[i].name, "host"))
			host = &l.domains[i];
	}
	assert_non_null(web);
	assert_non_null(host);
	assert_int_equal(host->layer_period[LAYER_USER][0], 700000000);
	assert_int_equal(host->layer_period[LAYER_KERNEL][0], 300000000);
	assert_int_equal(web->period[0], 500000000);
	assert_true(web->is_vm);
	assert_string_equal(web->vmm, "qemu");
	/* (60 + 40) / 400 */
	assert_float_equal(report_domain__overhead(web, 0), 0.25, 1e-9);
	assert_float_equal(report_domain__overhead(host, 0), -1, 1e-9);
	assert_int_equal(l.total_period[0], 1500000000);
	report_layers__release(&l);
	session__close(s);
}

static void test_rows(void **state)
{
	struct session *s = open_session();
	struct report_query q;
	struct report_table t;
	char *err = NULL;
	const struct report_row *r;

	query_keys(&q, "domain,layer,image,symbol");
	q.source = SOURCE_HOST;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.n_rows, 6);
	assert_string_equal(t.rows[0].keys[3], "main"); /* biggest first */
	assert_int_equal(t.rows[0].period[0], 600000000);
	assert_string_equal(t.rows[0].comm, "app");
	r = find_row(&t, 3, "[unknown]");
	assert_non_null(r);
	assert_string_equal(r->keys[1], "guest");
	assert_true(r->unknown_symbol);
	assert_int_equal(t.total_period[0], 1500000000);
	report_table__release(&t);

	/* Group by domain only. */
	query_keys(&q, "domain");
	q.source = SOURCE_HOST;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.n_rows, 2);
	assert_string_equal(t.rows[0].keys[0], "host");
	assert_int_equal(t.rows[0].period[0], 1000000000);
	report_table__release(&t);

	/* Filters: percentages are of the filtered total. */
	query_keys(&q, "symbol");
	q.source = SOURCE_HOST;
	q.domains = strv_split("host");
	q.layers = strv_split("user");
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.n_rows, 2);
	assert_int_equal(t.total_period[0], 700000000);
	report_table__release(&t);
	strv_free(q.domains);
	strv_free(q.layers);

	/* Threshold 10% and limit. */
	query_keys(&q, "symbol");
	q.source = SOURCE_HOST;
	q.threshold = 10;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.n_rows, 3); /* main 40%, [unknown] 26.7%, clear_page 20% */
	assert_int_equal(t.n_rows_before_cut, 6);
	report_table__release(&t);
	query_keys(&q, "symbol");
	q.source = SOURCE_HOST;
	q.limit = 1;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.n_rows, 1);
	report_table__release(&t);

	/* comm and pid keys */
	query_keys(&q, "comm,pid");
	q.source = SOURCE_HOST;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	r = find_row(&t, 0, "CPU 0/TCG");
	assert_non_null(r);
	assert_string_equal(r->keys[1], "20");
	report_table__release(&t);

	/* Bad keys and missing events. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(report_query__parse_keys(&q, "domain,bogus", &err), -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	free(err);
	query_keys(&q, "symbol");
	q.events = strv_split("cycles");
	assert_int_equal(report_table__query(s, &q, &t, &err), -ENOENT);
	assert_non_null(strstr(err, "cycles"));
	free(err);
	report_table__release(&t);
	strv_free(q.events);
	session__close(s);
}

static void test_views(void **state)
{
	struct session *s = open_session();
	struct report_query q;
	struct report_table t;
	struct report_layers l;
	char *err = NULL;
	const struct report_row *r;

	/* merged: the host's 400 ms of guest time split 3:1 by the agent. */
	query_keys(&q, "domain,layer,symbol");
	q.source = SOURCE_MERGED;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	r = find_row(&t, 2, "alpha_spin");
	assert_non_null(r);
	assert_int_equal(r->period[0], 300000000);
	assert_string_equal(r->keys[1], "guest-user");
	r = find_row(&t, 2, "tcp_v4_rcv");
	assert_int_equal(r->period[0], 100000000);
	assert_null(find_row(&t, 1, "guest")); /* replaced by the agent's breakdown */
	assert_int_equal(t.total_period[0], 1500000000);
	report_table__release(&t);

	/* agent: the agent's own magnitudes. */
	query_keys(&q, "domain,layer,symbol");
	q.source = SOURCE_AGENT;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	r = find_row(&t, 2, "alpha_spin");
	assert_int_equal(r->period[0], 30000000);
	report_table__release(&t);

	/* merged layer table keeps the VM total and its overhead. */
	query_keys(&q, "domain");
	q.source = SOURCE_MERGED;
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	for (size_t i = 0; i < l.n_domains; i++)
		if (streq(l.domains[i].name, "web")) {
			assert_int_equal(l.domains[i].period[0], 500000000);
			assert_int_equal(l.domains[i].layer_period[LAYER_GUEST_USER][0], 300000000);
			assert_int_equal(l.domains[i].layer_period[LAYER_GUEST][0], 0);
			assert_float_equal(report_domain__overhead(&l.domains[i], 0), 0.25, 1e-9);
		}
	report_layers__release(&l);
	session__close(s);
}

static char *capture(void (*fn)(struct session *, FILE *), struct session *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fn(s, f);
	fclose(f);
	return buf;
}

static void print_csv(struct session *s, FILE *f)
{
	struct report_query q;
	struct report_table t;
	char *err = NULL;
	query_keys(&q, "domain,layer,symbol");
	q.source = SOURCE_HOST;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	report_table__print_csv(&t, f);
	report_table__release(&t);
}

static void print_json(struct session *s, FILE *f)
{
	struct report_query q;
	struct report_table t;
	struct report_layers l;
	char *err = NULL;
	query_keys(&q, "domain,layer,symbol");
	q.source = SOURCE_HOST;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	report__print_json(s, &l, &t, f);
	report_table__release(&t);
	report_layers__release(&l);
}

static void test_formats(void **state)
{
	struct session *s = open_session();
	char *csv = capture(print_csv, s);
	char *json = capture(print_json, s);
	char cmd[256];
	/* Header, then the biggest row with its numbers. */
	assert_true(startswith(csv, "domain,layer,symbol,cpu-clock:samples,cpu-clock:period,cpu-clock:percent,"
				    "cpu-clock:busy_percent\n"
				    "host,user,main,600,600000000,40.0000,40.0000\n"));
	assert_non_null(strstr(csv, "web,guest,[unknown],400,400000000,26.6667,26.6667\n"));
	assert_non_null(strstr(json, "\"hostname\": \"testhost\""));
	assert_non_null(strstr(json, "\"cpu-clock:period\": 600000000"));
	assert_non_null(strstr(json, "\"overhead\": {\"cpu-clock\": 0.250000}"));
	/* And it is valid JSON. */
	assert_int_equal(write_file("/tmp/domprof-test-report.json", json, strlen(json)), 0);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; json.load(open(\"/tmp/domprof-test-report.json\"))'");
	assert_int_equal(system(cmd), 0);
	unlink("/tmp/domprof-test-report.json");
	free(csv);
	free(json);
	session__close(s);
}

static void test_escaping(void **state)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_add_csv(&sb, "a,b\"c");
	assert_string_equal(sb.buf, "\"a,b\"\"c\"");
	strbuf_reset(&sb);
	strbuf_add_json(&sb, "q\"\\\n\x01");
	assert_string_equal(sb.buf, "\"q\\\"\\\\\\n\\u0001\"");
	strbuf_reset(&sb);
	strbuf_add_json(&sb, "bad \xff utf8");
	assert_string_equal(sb.buf, "\"bad \\ufffd utf8\"");
	strbuf_release(&sb);
}

/* ---- idle, busy time and vCPU halt, from synthesized records ---- */

#define MS 1000000ULL
#define CHAIN_TYPE (SYNTH_SAMPLE_TYPE | PERF_SAMPLE_CALLCHAIN)

static int first_event(void *ctx, uint64_t id) { return id == 1 ? 0 : -1; }

static void feed(struct collector *c, const struct perf_event_header *h)
{
	collector__record(c, h, CHAIN_TYPE, 0, first_event, NULL);
}

/* One recording, every period known (ms), recorded with call stacks:
 *   idle:  the idle task in intel_idle (stack: do_idle)          600
 *   host kernel: the idle task in __do_softirq (an interrupt)     100
 *                task app in clear_page_erms                      100
 *   host user: task app, no mapping                               100
 *   VM kvmvm (KVM), hypervisor layer on its vCPU thread:
 *     kvm_vcpu_halt itself                                         10  halt
 *     ktime_get called from kvm_vcpu_check_block < kvm_vcpu_halt  20  halt (by stack)
 *     apic_has_interrupt_for_ppr < vcpu_enter_guest                30  not halt
 *     vmx_vcpu_run < vcpu_enter_guest                              40  not halt
 * total 1000, busy (all but idle) 400; halt 30 of the hypervisor's 100. */
static void make_idle_session(const char *file)
{
	static const char kallsyms[] = "ffffffff81000000 T _stext\n"
				       "ffffffff81001000 T intel_idle\n"
				       "ffffffff81002000 T do_idle\n"
				       "ffffffff81003000 T __do_softirq\n"
				       "ffffffff81004000 T ktime_get\n"
				       "ffffffff81005000 T clear_page_erms\n"
				       "ffffffffc0100000 t kvm_vcpu_halt\t[kvm]\n"
				       "ffffffffc0101000 t kvm_vcpu_check_block\t[kvm]\n"
				       "ffffffffc0102000 t vcpu_enter_guest\t[kvm]\n"
				       "ffffffffc0103000 t apic_has_interrupt_for_ppr\t[kvm]\n"
				       "ffffffffc0200000 t vmx_vcpu_run\t[kvm_intel]\n";
	const uint64_t idle[] = { 0xffffffff81001010ULL, 0xffffffff81002010ULL };
	const uint64_t softirq[] = { 0xffffffff81003010ULL };
	const uint64_t clear[] = { 0xffffffff81005010ULL };
	const uint64_t app[] = { 0x400010 };
	const uint64_t halt[] = { 0xffffffffc0100010ULL };
	const uint64_t polled[] = { 0xffffffff81004010ULL, 0xffffffffc0101010ULL, 0xffffffffc0100020ULL };
	const uint64_t apic[] = { 0xffffffffc0103010ULL, 0xffffffffc0102010ULL };
	const uint64_t run[] = { 0xffffffffc0200010ULL, 0xffffffffc0102020ULL };
	struct profile p;
	struct collector c;
	struct synth sy;
	struct session *s;
	struct event_spec e;
	char *err = NULL;

	profile__init(&p);
	collector__init(&c, &p, 1, false);
	c.callchain = true;
	assert_int_equal(image__load_guest_kernel_text(image_registry__host_kernel(&c.machine.images), kallsyms,
						       sizeof(kallsyms) - 1), 0);
	machine__force_vm(&c.machine, "kvmvm", 500);
	feed(&c, synth_comm(&sy, 500, 500, "qemu-system-x86", 1));
	feed(&c, synth_fork(&sy, 500, 500, 501, 500));
	feed(&c, synth_comm(&sy, 500, 501, "CPU 0/KVM", 0));
	feed(&c, synth_comm(&sy, 700, 700, "app", 1));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 0, 0, 1, 600 * MS, 1, idle, 2));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 0, 0, 2, 100 * MS, 1, softirq, 1));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 700, 700, 3, 100 * MS, 1, clear, 1));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_USER, 700, 700, 4, 100 * MS, 1, app, 1));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 500, 501, 5, 10 * MS, 1, halt, 1));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 500, 501, 6, 20 * MS, 1, polled, 3));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 500, 501, 7, 30 * MS, 1, apic, 2));
	feed(&c, synth_sample_chain(&sy, PERF_RECORD_MISC_KERNEL, 500, 501, 8, 40 * MS, 1, run, 2));
	assert_int_equal(c.bad_records, 0);

	unlink(file);
	assert_int_equal(session__create(file, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	assert_int_equal(session__write_delta(s, &p), 0);
	session__finish(s);
	session__close(s);
	collector__release(&c);
	profile__release(&p);
}

static const struct report_domain_info *domain_named(const struct report_layers *l, const char *name)
{
	for (size_t i = 0; i < l->n_domains; i++)
		if (streq(l->domains[i].name, name))
			return &l->domains[i];
	return NULL;
}

/* The idle session's text table and CSV, with and without idle. */
static bool no_idle_output;

static void print_idle_text(struct session *s, FILE *f)
{
	struct report_query q;
	struct report_layers l;
	char *err = NULL;
	query_keys(&q, "domain,layer");
	q.no_idle = no_idle_output;
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	report__print_header(s, &l, f);
	report_layers__print_text(&l, f);
	report_layers__release(&l);
}

static void print_idle_csv(struct session *s, FILE *f)
{
	struct report_query q;
	struct report_table t;
	char *err = NULL;
	query_keys(&q, "domain,layer");
	q.no_idle = no_idle_output;
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	report_table__print_csv(&t, f);
	report_table__release(&t);
}

static void assert_contains(const char *text, const char *line)
{
	if (!strstr(text, line))
		fail_msg("missing:\n%s\nin:\n%s", line, text);
}

static void test_idle_busy_halt(void **state)
{
	char file[] = "/tmp/domprof-test-idle-XXXXXX";
	struct session *s;
	struct report_query q;
	struct report_layers l;
	struct report_table t;
	const struct report_domain_info *idle, *host, *vm;
	const struct report_row *r;
	char *err = NULL;
	int fd = mkstemp(file);
	assert_true(fd >= 0);
	close(fd);
	make_idle_session(file);
	assert_int_equal(session__open(file, true, &s, &err), 0);
	assert_int_equal(session__idle(s), SESSION_IDLE_RECORDED);
	assert_null(session__idle_note(s));

	/* The layer table: idle a domain of its own, shares of everything and
	 * of busy time, and the VM's halt part. */
	query_keys(&q, "domain,layer");
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	idle = domain_named(&l, "idle");
	host = domain_named(&l, "host");
	vm = domain_named(&l, "kvmvm");
	assert_non_null(idle);
	assert_non_null(host);
	assert_non_null(vm);
	assert_true(idle->is_idle && !idle->is_vm);
	assert_int_equal(idle->layer_period[LAYER_IDLE][0], 600 * MS);
	assert_int_equal(idle->period[0], 600 * MS);
	assert_int_equal(host->layer_period[LAYER_KERNEL][0], 200 * MS);
	assert_int_equal(host->layer_period[LAYER_USER][0], 100 * MS);
	assert_int_equal(vm->layer_period[LAYER_HYPERVISOR][0], 100 * MS);
	assert_int_equal(vm->halt_period[0], 30 * MS);
	assert_int_equal(vm->halt_samples[0], 2);
	assert_int_equal(host->halt_period[0], 0);
	assert_int_equal(l.total_period[0], 1000 * MS);
	assert_int_equal(l.busy_period[0], 400 * MS);
	assert_int_equal(l.busy_samples[0], 7);
	assert_true(report__percent(host->layer_period[LAYER_KERNEL][0], l.total_period[0]) == 20.0);
	assert_true(report__percent(host->layer_period[LAYER_KERNEL][0], l.busy_period[0]) == 50.0);
	report_layers__release(&l);

	/* Rows: the idle row has no busy share; a row mixing idle and work
	 * (the idle task's command) has the share of its work. */
	query_keys(&q, "domain,layer");
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_int_equal(t.total_period[0], 1000 * MS);
	assert_int_equal(t.busy_period[0], 400 * MS);
	r = find_row(&t, 0, "idle");
	assert_non_null(r);
	assert_string_equal(r->keys[1], "idle");
	assert_true(report__busy_percent(r->period[0], r->idle_period[0], t.busy_period[0]) == -1);
	assert_true(report__percent(r->period[0], t.total_period[0]) == 60.0);
	r = find_row(&t, 1, "kernel");
	assert_true(report__busy_percent(r->period[0], r->idle_period[0], t.busy_period[0]) == 50.0);
	report_table__release(&t);
	query_keys(&q, "comm");
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	r = find_row(&t, 0, "swapper");
	assert_non_null(r);
	assert_int_equal(r->period[0], 700 * MS);
	assert_int_equal(r->idle_period[0], 600 * MS);
	assert_true(report__busy_percent(r->period[0], r->idle_period[0], t.busy_period[0]) == 25.0);
	report_table__release(&t);

	/* --no-idle: idle out of every table and total. */
	query_keys(&q, "domain,layer");
	q.no_idle = true;
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	assert_null(domain_named(&l, "idle"));
	assert_true(l.no_idle);
	assert_int_equal(l.total_period[0], 400 * MS);
	assert_int_equal(l.busy_period[0], 400 * MS);
	assert_int_equal(domain_named(&l, "kvmvm")->halt_period[0], 30 * MS);
	report_layers__release(&l);
	assert_int_equal(report_table__query(s, &q, &t, &err), 0);
	assert_null(find_row(&t, 0, "idle"));
	assert_int_equal(t.total_period[0], 400 * MS);
	r = find_row(&t, 1, "kernel");
	assert_true(report__percent(r->period[0], t.total_period[0]) == 50.0);
	report_table__release(&t);
	/* ... and out of the samples other readers (export, html) get. */
	{
		struct view_filter f = report_query__filter(&q);
		struct view_rows *rows;
		struct view_row v;
		uint64_t n = 0, period = 0;
		assert_int_equal(view_rows__open(s, &f, NULL, 0, false, &rows, &err), 0);
		while (view_rows__next(rows, &v, &err) > 0) {
			n++;
			period += v.period;
		}
		view_rows__close(rows);
		assert_int_equal(n, 7);
		assert_int_equal(period, 400 * MS);
	}

	/* The same in the text table and the CSV: shares of everything and of
	 * busy time, idle's row without one, the VM's vCPU-halt row. */
	{
		char *text, *csv;
		no_idle_output = false;
		text = capture(print_idle_text, s);
		csv = capture(print_idle_csv, s);
		assert_contains(text, "# idle: the host's idle loop is its own domain, idle; --no-idle leaves it out\n");
		assert_contains(text, "                         |   samples           msec        %    busy%\n");
		assert_contains(text, "  kernel                 |         2          200.0   20.00%   50.00%\n");
		assert_contains(text, "  hypervisor             |         4          100.0   10.00%   25.00%\n"
				      "    of which vCPU halt   |         2           30.0    3.00%    7.50%\n");
		assert_contains(text, "idle (the host's idle loop)\n"
				      "  idle                   |         1          600.0   60.00%        -\n");
		assert_contains(csv, "domain,layer,cpu-clock:samples,cpu-clock:period,cpu-clock:percent,cpu-clock:busy_percent\n");
		assert_contains(csv, "idle,idle,1,600000000,60.0000,\n");
		assert_contains(csv, "host,kernel,2,200000000,20.0000,50.0000\n");
		free(text);
		free(csv);
		no_idle_output = true;
		text = capture(print_idle_text, s);
		csv = capture(print_idle_csv, s);
		assert_contains(text, "# idle: left out (--no-idle)");
		assert_contains(text, "  kernel                 |         2          200.0   50.00%\n");
		assert_null(strstr(text, "idle (the host's idle loop)"));
		assert_contains(csv, "host,kernel,2,200000000,50.0000,50.0000\n");
		assert_null(strstr(csv, "idle,idle"));
		free(text);
		free(csv);
	}
	session__close(s);
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_and_overhead), cmocka_unit_test(test_rows), cmocka_unit_test(test_view_groups), cmocka_unit_test(test_view_scale_follows_writes), cmocka_unit_test(test_views),
		cmocka_unit_test(test_formats), cmocka_unit_test(test_escaping), cmocka_unit_test(test_idle_busy_halt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* top's model: intervals from a growing profile, totals, decay, the
 * layer table and overhead, zero, and the view's filter, grouping, order
 * and rendering. Every figure is fixed by construction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "lib/top/top.h"

#define MS 1000000ull

/* A host with two functions of one process, a VM (guest kernel, vmm,
 * hypervisor, and an agent's guest-user function) and idle. */
struct fixture {
	struct profile p;
	uint32_t host, vm, idle, t_app, t_vcpu, t_idle, t_guest;
	uint32_t img_app, img_kernel, img_guest, img_qemu, img_guest_app;
	uint32_t f_hot, f_cold, f_idle, f_guest, f_kvm, f_qemu, f_guest_app;
};

static void fixture_init(struct fixture *f)
{
	struct profile *p = &f->p;
	profile__init(p);
	f->host = profile__domain(p, "host", false);
	f->vm = profile__domain(p, "web", true);
	f->idle = profile__idle_domain(p);
	f->t_app = profile__thread(p, f->host, 100, 100, "app", ROLE_TASK, -1);
	f->t_vcpu = profile__thread(p, f->vm, 200, 201, "CPU 0/KVM", ROLE_VCPU, 0);
	f->t_idle = profile__thread(p, f->idle, 0, 0, "swapper", ROLE_TASK, -1);
	f->t_guest = profile__thread(p, f->vm, 50, 50, "nginx", ROLE_GUEST, -1);
	f->img_app = profile__image(p, f->host, "/usr/bin/app", "", IMAGE_ELF);
	f->img_kernel = profile__image(p, f->host, "[kernel.kallsyms]", "", IMAGE_KERNEL);
	f->img_guest = profile__image(p, f->vm, "[guest.kernel]", "", IMAGE_GUEST_KERNEL);
	f->img_qemu = profile__image(p, f->host, "/usr/bin/qemu-system-x86_64", "", IMAGE_ELF);
	f->img_guest_app = profile__image(p, f->vm, "/usr/sbin/nginx", "", IMAGE_ELF);
	f->f_hot = profile__symbol(p, f->img_app, "hot_loop", 0x1000, 16);
	f->f_cold = profile__symbol(p, f->img_app, "cold_path", 0x2000, 16);
	f->f_idle = profile__symbol(p, f->img_kernel, "intel_idle", 0x3000, 16);
	f->f_guest = profile__symbol(p, f->img_guest, "guest_fn", 0x4000, 16);
	f->f_kvm = profile__symbol(p, f->img_kernel, "vcpu_enter_guest", 0x5000, 16);
	f->f_qemu = profile__symbol(p, f->img_qemu, "virtio_queue", 0x6000, 16);
	f->f_guest_app = profile__symbol(p, f->img_guest_app, "ngx_process", 0x7000, 16);
}

static void add(struct fixture *f, uint32_t domain, uint32_t thread, uint32_t image, uint32_t symbol,
		enum layer layer, enum origin origin, uint64_t address, uint32_t event /* index */, uint64_t n, uint64_t period)
{
	struct sample_key k = { .event = event + 1, /* ids are 1-based */ .domain = domain, .thread = thread, .image = image, .symbol = symbol,
				.address = address, .layer = (uint8_t)layer, .origin = (uint8_t)origin };
	profile__add_sample(&f->p, &k, n, period);
}

/* Interval 1: host user 60 ms hot + 20 ms cold (two addresses of hot:
 * one entry), VM guest kernel 40 ms, hypervisor 6, vmm 4, idle 100;
 * the agent's 30 ms of guest user code. */
static void first_interval(struct fixture *f)
{
	add(f, f->host, f->t_app, f->img_app, f->f_hot, LAYER_USER, ORIGIN_HOST, 0x1000, 0, 40, 40 * MS);
	add(f, f->host, f->t_app, f->img_app, f->f_hot, LAYER_USER, ORIGIN_HOST, 0x1008, 0, 20, 20 * MS);
	add(f, f->host, f->t_app, f->img_app, f->f_cold, LAYER_USER, ORIGIN_HOST, 0x2000, 0, 20, 20 * MS);
	add(f, f->vm, f->t_vcpu, f->img_guest, f->f_guest, LAYER_GUEST_KERNEL, ORIGIN_HOST, 0x4000, 0, 40, 40 * MS);
	add(f, f->vm, f->t_vcpu, f->img_kernel, f->f_kvm, LAYER_HYPERVISOR, ORIGIN_HOST, 0x5000, 0, 6, 6 * MS);
	add(f, f->vm, f->t_vcpu, f->img_qemu, f->f_qemu, LAYER_VMM, ORIGIN_HOST, 0x6000, 0, 4, 4 * MS);
	add(f, f->idle, f->t_idle, f->img_kernel, f->f_idle, LAYER_IDLE, ORIGIN_HOST, 0x3000, 0, 100, 100 * MS);
	add(f, f->vm, f->t_guest, f->img_guest_app, f->f_guest_app, LAYER_GUEST_USER, ORIGIN_AGENT, 0x7000, 0, 30,
	    30 * MS);
}

static const struct top_row *find_row(const struct top_view *v, size_t key, const char *value)
{
	for (size_t i = 0; i < v->n_rows; i++)
		if (streq(v->rows[i].keys[key], value))
			return &v->rows[i];
	return NULL;
}

static void test_interval_and_total(void **state)
{
	struct fixture f;
	struct top_model m;
	struct top_query q;
	struct top_view v;
	const struct top_row *hot;
	fixture_init(&f);
	top_model__init(&m, 1);
	top_query__init(&q);
	first_interval(&f);
	top_model__update(&m, &f.p, 1000 * MS);

	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.query.n_keys, 5); /* domain,layer,comm,image,symbol */
	hot = find_row(&v, 4, "hot_loop");
	assert_non_null(hot);
	/* two addresses, one row */
	assert_int_equal(hot->interval[0].period, 60 * MS);
	assert_int_equal(hot->interval[0].samples, 60);
	assert_int_equal(hot->total[0].period, 60 * MS);
	/* the 100%: host samples only (the agent's 30 ms are not added) */
	assert_int_equal(v.interval_all[0].period, 230 * MS);
	assert_int_equal(v.interval_busy[0], 130 * MS);
	/* the merged view: the agent's row is there, marked, carrying the
	 * host's 40 ms of guest code (its 30 ms are the guest's own clock); the
	 * host's own guest row gives way to it */
	assert_non_null(find_row(&v, 4, "ngx_process"));
	assert_true(find_row(&v, 4, "ngx_process")->agent);
	assert_int_equal(find_row(&v, 4, "ngx_process")->interval[0].period, 40 * MS);
	assert_int_equal(find_row(&v, 4, "ngx_process")->interval[0].samples, 30);
	assert_null(find_row(&v, 4, "guest_fn"));
	assert_false(hot->agent);
	top_view__release(&v);

	/* Interval 2: only cold grows (by 50 ms). */
	add(&f, f.host, f.t_app, f.img_app, f.f_cold, LAYER_USER, ORIGIN_HOST, 0x2000, 0, 50, 50 * MS);
	top_model__update(&m, &f.p, 1000 * MS);
	top_view__build(&v, &m, &f.p, &q);
	hot = find_row(&v, 4, "hot_loop");
	assert_non_null(hot);
	assert_int_equal(hot->interval[0].period, 0);
	assert_int_equal(hot->total[0].period, 60 * MS);
	assert_int_equal(find_row(&v, 4, "cold_path")->interval[0].period, 50 * MS);
	assert_int_equal(find_row(&v, 4, "cold_path")->total[0].period, 70 * MS);
	assert_int_equal(v.interval_all[0].period, 50 * MS);
	assert_int_equal(v.total_all[0].period, 280 * MS);
	assert_int_equal(m.total_ns, 2000 * MS);
	top_view__release(&v);

	/* zero: totals and decay forgotten, the next interval starts again */
	top_model__zero(&m);
	add(&f, f.host, f.t_app, f.img_app, f.f_hot, LAYER_USER, ORIGIN_HOST, 0x1000, 0, 5, 5 * MS);
	top_model__update(&m, &f.p, 1000 * MS);
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(find_row(&v, 4, "hot_loop")->total[0].period, 5 * MS);
	assert_int_equal(v.total_all[0].period, 5 * MS);
	assert_int_equal(m.total_ns, 1000 * MS);
	top_view__release(&v);
	top_model__release(&m);
	profile__release(&f.p);
}

/* A VM the host never saw run guest code (its agent is remote, or its VM
 * process was not found): the agent's rows are the only measure of it and
 * count as they are, in the 100% too, as in the session's merged view. */
static void test_agent_without_host_view(void **state)
{
	struct fixture f;
	struct top_model m;
	struct top_query q;
	struct top_view v;
	const struct top_row *r;
	uint32_t remote, t, img, fn;
	fixture_init(&f);
	remote = profile__domain(&f.p, "remote", true);
	t = profile__thread(&f.p, remote, 70, 70, "db", ROLE_GUEST, -1);
	img = profile__image(&f.p, remote, "/usr/bin/db", "", IMAGE_ELF);
	fn = profile__symbol(&f.p, img, "db_scan", 0x100, 16);
	top_model__init(&m, 1);
	top_query__init(&q);
	first_interval(&f);
	add(&f, remote, t, img, fn, LAYER_GUEST_USER, ORIGIN_AGENT, 0x100, 0, 25, 25 * MS);
	top_model__update(&m, &f.p, 1000 * MS);
	top_view__build(&v, &m, &f.p, &q);
	r = find_row(&v, 4, "db_scan");
	assert_non_null(r);
	assert_true(r->agent);
	assert_int_equal(r->interval[0].period, 25 * MS);
	/* the host's 230 ms and the remote guest's 25 */
	assert_int_equal(v.interval_all[0].period, 255 * MS);
	/* the VM the host saw is scaled as before */
	assert_int_equal(find_row(&v, 4, "ngx_process")->interval[0].period, 40 * MS);
	top_view__release(&v);
	top_model__release(&m);
	profile__release(&f.p);
}

static void test_decay_fades(void **state)
{
	struct fixture f;
	struct top_model m;
	struct top_query q;
	struct top_view v;
	int gone_after = -1;
	fixture_init(&f);
	top_model__init(&m, 1);
	top_query__init(&q);
	add(&f, f.host, f.t_app, f.img_app, f.f_hot, LAYER_USER, ORIGIN_HOST, 0x1000, 0, 1000, 1000 * MS);
	top_model__update(&m, &f.p, 1000 * MS);
	/* hot stops; cold keeps 100 ms per interval */
	for (int i = 1; i <= 80; i++) {
		add(&f, f.host, f.t_app, f.img_app, f.f_cold, LAYER_USER, ORIGIN_HOST, 0x2000, 0, 100, 100 * MS);
		top_model__update(&m, &f.p, 1000 * MS);
		top_view__build(&v, &m, &f.p, &q);
		{
			const struct top_row *hot = find_row(&v, 4, "hot_loop");
			double want = 1000.0 * MS * pow(TOP_DECAY, i);
			if (hot)
				assert_true(fabs(hot->decayed[0] - want) < 1);
			else if (gone_after < 0)
				gone_after = i;
			/* in the decayed order, cold passes hot once hot's weight falls under
			 * cold's, which converges to 100 ms / (1 - 7/8) = 800 ms */
			if (i == 1)
				assert_string_equal(v.rows[0].keys[4], "hot_loop");
			if (i == 10)
				assert_string_equal(v.rows[0].keys[4], "cold_path");
		}
		top_view__release(&v);
	}
	/* hot fades when 1000 * (7/8)^i < 0.1% of the decayed total (about 800
	 * + hot's own): first i with (7/8)^i < 0.0008 is 54 */
	assert_int_equal(gone_after, 54);
	/* the total order still shows it */
	q.order = TOP_ORDER_TOTAL;
	top_view__build(&v, &m, &f.p, &q);
	assert_non_null(find_row(&v, 4, "hot_loop"));
	assert_string_equal(v.rows[0].keys[4], "cold_path"); /* 8000 ms > 1000 ms */
	top_view__release(&v);
	top_model__release(&m);
	profile__release(&f.p);
}

static void test_filter_and_sort(void **state)
{
	struct fixture f;
	struct top_model m;
	struct top_query q;
	struct top_view v;
	char *err = NULL;
	struct report_query rq = { 0 };
	fixture_init(&f);
	top_model__init(&m, 1);
	top_query__init(&q);
	first_interval(&f);
	top_model__update(&m, &f.p, 1000 * MS);

	/* domain filter: the VM's rows only (the agent's in place of the
	 * host's guest row), adding up to the host's total within the filter */
	q.filter.domain = f.vm;
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 3);
	{
		uint64_t sum = 0;
		for (size_t i = 0; i < v.n_rows; i++) {
			assert_string_equal(v.rows[i].keys[0], "web");
			sum += v.rows[i].interval[0].period;
		}
		assert_int_equal(sum, 50 * MS);
	}
	assert_int_equal(v.interval_all[0].period, 50 * MS);
	assert_string_equal(v.rows[0].keys[4], "ngx_process"); /* 40 > 6 > 4 */
	top_view__release(&v);

	/* layer filter */
	q.filter.domain = 0;
	q.filter.layer = LAYER_HYPERVISOR;
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 1);
	assert_string_equal(v.rows[0].keys[4], "vcpu_enter_guest");
	top_view__release(&v);

	/* the merged rows follow the decay too: with no new data, the agent's
	 * row keeps the host's decayed magnitude */
	q.filter.domain = 0;
	q.filter.layer = -1;
	top_model__update(&m, &f.p, 1000 * MS);
	top_view__build(&v, &m, &f.p, &q);
	assert_true(fabs(find_row(&v, 4, "ngx_process")->decayed[0] - 40.0 * MS * TOP_DECAY) < 1);
	assert_int_equal(find_row(&v, 4, "ngx_process")->interval[0].period, 0);
	top_view__release(&v);

	/* name filter: a part of the symbol or of the command */
	q.filter.layer = -1;
	q.filter.name = "cold";
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 1);
	assert_string_equal(v.rows[0].keys[4], "cold_path");
	top_view__release(&v);
	q.filter.name = "no-such-name";
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 0); /* an empty view, its totals still the filter's */
	top_view__release(&v);
	q.filter.name = "nginx";
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 1);
	assert_string_equal(v.rows[0].keys[4], "ngx_process");
	top_view__release(&v);

	/* grouping by domain: three rows, idle's 100 first, then host's 80 */
	q.filter.name = NULL;
	assert_int_equal(report_query__parse_keys(&rq, "domain", &err), 0);
	memcpy(q.keys, rq.keys, sizeof(q.keys));
	q.n_keys = rq.n_keys;
	q.order = TOP_ORDER_TOTAL;
	top_view__build(&v, &m, &f.p, &q);
	assert_int_equal(v.n_rows, 3);
	assert_string_equal(v.rows[0].keys[0], "idle");
	assert_string_equal(v.rows[1].keys[0], "host");
	assert_string_equal(v.rows[2].keys[0], "web");
	assert_int_equal(v.rows[2].total[0].period, 50 * MS); /* the agent's row carrying 40, + 6 + 4 */
	top_view__release(&v);

	/* by name: alphabetical */
	q.order = TOP_ORDER_NAME;
	top_view__build(&v, &m, &f.p, &q);
	assert_string_equal(v.rows[0].keys[0], "host");
	assert_string_equal(v.rows[1].keys[0], "idle");
	top_view__release(&v);
	assert_int_equal(top_order__from_name("total"), TOP_ORDER_TOTAL);
	assert_int_equal(top_order__from_name("nope"), -1);
	top_model__release(&m);
	profile__release(&f.p);
}

static void test_layers_and_render(void **state)
{
	struct fixture f;
	struct top_model m;
	struct top_query q;
	struct top_view v;
	const struct top_domain **d;
	size_t n;
	uint64_t all, idle;
	const char *names[] = { "cpu-clock" };
	enum event_unit units[] = { EVENT_UNIT_NS };
	struct top_status st = { .hostname = "h", .event_names = names, .units = units, .elapsed_s = 1,
				 .interval_s = 1, .samples = 230 };
	char **lines = NULL;
	struct strbuf sb;
	fixture_init(&f);
	top_model__init(&m, 1);
	top_query__init(&q);
	first_interval(&f);
	top_model__update(&m, &f.p, 1000 * MS);

	n = top_model__domains_ordered(&m, &f.p, &d);
	assert_int_equal(n, 3);
	assert_int_equal(d[0]->id, f.host);
	assert_int_equal(d[1]->id, f.vm);
	assert_int_equal(d[2]->id, f.idle);
	/* the host's view only: guest-user (the agent's) is not in the table */
	assert_int_equal(top_domain__value(d[1], LAYER_GUEST_USER, 0, TOP_SPAN_INTERVAL).period, 0);
	assert_int_equal(top_domain__sum(d[1], 0, TOP_SPAN_INTERVAL).period, 50 * MS);
	/* (6 + 4) / 40 */
	assert_true(fabs(top_domain__overhead(d[1], 0, TOP_SPAN_INTERVAL) - 0.25) < 1e-9);
	assert_true(top_domain__overhead(d[0], 0, TOP_SPAN_INTERVAL) < 0);
	free(d);
	top_model__sums(&m, &f.p, 0, TOP_SPAN_INTERVAL, &all, &idle);
	assert_int_equal(all, 230 * MS);
	assert_int_equal(idle, 100 * MS);

	q.order = TOP_ORDER_INTERVAL;
	top_view__build(&v, &m, &f.p, &q);
	top_render__lines(&m, &f.p, &v, &st, TOP_SPAN_INTERVAL, 100, 0, 3, &lines);
	{
		size_t count = 0;
		bool saw_overhead = false, saw_hot = false;
		for (char **l = lines; *l; l++, count++) {
			assert_true(strlen(*l) <= 100);
			saw_overhead |= strstr(*l, "web") && strstr(*l, "0.250");
			saw_hot |= strstr(*l, "hot_loop") != NULL;
		}
		assert_true(saw_overhead);
		assert_true(saw_hot);
	}
	strv_free(lines);

	strbuf_init(&sb);
	top_render__csv(&v, &st, true, 0, &sb);
	/* idle 100 of 230 is first; its busy share is empty; hot 60 is 46.1538% of busy 130 */
	assert_non_null(strstr(sb.buf, "time,domain,layer,comm,image,symbol,cpu-clock:samples,cpu-clock:period,"
				       "cpu-clock:percent,cpu-clock:busy_percent\n"));
	assert_non_null(strstr(sb.buf, "1.000,idle,idle,swapper,[kernel.kallsyms],intel_idle,100,100000000,43.4783,\n"));
	assert_non_null(strstr(sb.buf, "1.000,host,user,app,/usr/bin/app,hot_loop,60,60000000,26.0870,46.1538\n"));
	strbuf_reset(&sb);
	top_render__json(&m, &f.p, &v, &st, 0, &sb);
	assert_non_null(strstr(sb.buf, "\"format\": \"domprof-top\""));
	assert_non_null(strstr(sb.buf, "\"overhead\": {\"cpu-clock\": {\"interval\": 0.250000"));
	assert_ptr_equal(strchr(sb.buf, '\n'), sb.buf + sb.len - 1); /* one line */
	strbuf_release(&sb);
	top_view__release(&v);
	top_model__release(&m);
	profile__release(&f.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_and_total),
		cmocka_unit_test(test_agent_without_host_view),
		cmocka_unit_test(test_decay_fades),
		cmocka_unit_test(test_filter_and_sort),
		cmocka_unit_test(test_layers_and_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

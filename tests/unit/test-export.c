/* Export from a session built by the test with known stacks and numbers:
 * exact folded lines (escaping included), the pprof bytes decoded by a
 * small protobuf reader written here (independent of the encoder) with
 * totals equal to the report's in each view, the gzip wrapper, a JSON
 * document that parses and says the same, and a damaged stack that must
 * not hang the exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sqlite3.h>
#include <zlib.h>

#include "lib/report/export.h"
#include "lib/report/report.h"
#include "lib/util/util.h"

#define MS 1000000ULL

static char path[64];

/* The known profile (cpu-clock, ms; 1 sample per ms):
 *   host/user/app (pid 10)   main -> a -> c      500 (two addresses: 400 + 100)
 *                            main -> a           100
 *                            main -> b -> c      300
 *                            main -> b           200
 *                            main -> b -> ?libfoo 50 (address 0x1234, no symbol)
 *                            ?libfoo, no stack   30 (address 0x999)
 *                            "foo\xff" (libfoo), no stack 10 (a non-UTF-8 name)
 *   host/kernel/app          clear_page, no stack 70
 *   host/user/"we;ird%\n"    main -> a           20
 *   web/guest/"CPU 0/KVM"    [guest code], no symbol 80 (host view)
 *   web/guest-user/"gapp"    alpha (agent)       40 -> scaled to 80 in the merged view
 * page-faults (count): main -> b, 5 samples of period 1 each. */
struct ids {
	uint32_t host, web, t_app, t_weird, t_vcpu, t_gapp;
	uint32_t i_app, i_foo, i_k, i_code, i_gapp;
	uint32_t main, a, b, c, foo_bad, clear_page, alpha;
	uint32_t f_main, f_a, f_ac, f_b, f_bc, f_bfoo;
};

static void add(struct profile *p, uint32_t event, uint32_t dom, enum layer l, uint32_t thread, uint32_t image,
		uint32_t sym, uint64_t address, uint32_t stack, uint64_t count, uint64_t period, enum origin o)
{
	struct sample_key k = { .event = event, .domain = dom, .layer = (uint8_t)l, .thread = thread, .image = image,
				.symbol = sym, .address = address, .stack = stack, .origin = (uint8_t)o };
	profile__add_sample(p, &k, count, period);
}

static void build_session(const char *file)
{
	struct event_defaults defaults = { .period = 1000000 };
	struct profile p;
	struct session *s;
	struct event_spec e;
	char *err = NULL;
	struct ids x;

	assert_int_equal(session__create(file, &s, &err), 0);
	assert_int_equal(event_spec__parse("cpu-clock", &defaults, &e, NULL), 0);
	session__add_event(s, 1, &e);
	event_spec__release(&e);
	assert_int_equal(event_spec__parse("page-faults", NULL, &e, NULL), 0);
	session__add_event(s, 2, &e);
	event_spec__release(&e);
	profile__init(&p);
	x.host = profile__domain(&p, "host", false);
	x.web = profile__domain(&p, "web", true);
	profile__domain_set(&p, x.web, "vmm", "qemu");
	x.t_app = profile__thread(&p, x.host, 10, 10, "app", ROLE_TASK, -1);
	x.t_weird = profile__thread(&p, x.host, 11, 12, "we;ird%\n", ROLE_TASK, -1);
	x.t_vcpu = profile__thread(&p, x.web, 20, 21, "CPU 0/KVM", ROLE_VCPU, 0);
	x.t_gapp = profile__thread(&p, x.web, 300, 300, "gapp", ROLE_GUEST, -1);
	x.i_app = profile__image(&p, x.host, "/usr/bin/app", "abcdef0123456789", IMAGE_ELF);
	x.i_foo = profile__image(&p, x.host, "/lib/libfoo.so", NULL, IMAGE_ELF);
	x.i_k = profile__image(&p, x.host, "[kernel.kallsyms]", NULL, IMAGE_KERNEL);
	x.i_code = profile__image(&p, x.web, "[guest code]", NULL, IMAGE_ANON);
	x.i_gapp = profile__image(&p, x.web, "/usr/bin/gapp", NULL, IMAGE_ELF);
	x.main = profile__symbol(&p, x.i_app, "main", 0x1000, 0x100);
	x.a = profile__symbol(&p, x.i_app, "a", 0x2000, 0x100);
	x.b = profile__symbol(&p, x.i_app, "b", 0x2100, 0x100);
	x.c = profile__symbol(&p, x.i_app, "c", 0x3000, 0x100);
	x.foo_bad = profile__symbol(&p, x.i_foo, "foo\xff", 0x500, 0x10);
	x.clear_page = profile__symbol(&p, x.i_k, "clear_page", 0xffffffff81000000ULL, 0x40);
	x.alpha = profile__symbol(&p, x.i_gapp, "alpha", 0x4000, 0x10);
	x.f_main = profile__frame(&p, 0, x.i_app, x.main, 0);
	x.f_a = profile__frame(&p, x.f_main, x.i_app, x.a, 0);
	x.f_ac = profile__frame(&p, x.f_a, x.i_app, x.c, 0);
	x.f_b = profile__frame(&p, x.f_main, x.i_app, x.b, 0);
	x.f_bc = profile__frame(&p, x.f_b, x.i_app, x.c, 0);
	x.f_bfoo = profile__frame(&p, x.f_b, x.i_foo, 0, 0x1234);

	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_app, x.c, 0x3010, x.f_ac, 400, 400 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_app, x.c, 0x3020, x.f_ac, 100, 100 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_app, x.a, 0x2010, x.f_a, 100, 100 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_app, x.c, 0x3010, x.f_bc, 300, 300 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_app, x.b, 0x2110, x.f_b, 200, 200 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_foo, 0, 0x1234, x.f_bfoo, 50, 50 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_foo, 0, 0x999, 0, 30, 30 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_app, x.i_foo, x.foo_bad, 0x504, 0, 10, 10 * MS, ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_KERNEL, x.t_app, x.i_k, x.clear_page, 0xffffffff81000010ULL, 0, 70, 70 * MS,
	    ORIGIN_HOST);
	add(&p, 1, x.host, LAYER_USER, x.t_weird, x.i_app, x.a, 0x2010, x.f_a, 20, 20 * MS, ORIGIN_HOST);
	add(&p, 1, x.web, LAYER_GUEST, x.t_vcpu, x.i_code, 0, 0x7000, 0, 80, 80 * MS, ORIGIN_HOST);
	add(&p, 1, x.web, LAYER_GUEST_USER, x.t_gapp, x.i_gapp, x.alpha, 0x4004, 0, 40, 40 * MS, ORIGIN_AGENT);
	add(&p, 2, x.host, LAYER_USER, x.t_app, x.i_app, x.b, 0x2110, x.f_b, 5, 5, ORIGIN_HOST);
	assert_int_equal(session__write_delta(s, &p), 0);
	session__set_event_totals(s, 1, 1200, 1200 * MS, 0);
	session__set_event_totals(s, 2, 5, 5, 0);
	session__set_meta(s, "hostname", "testhost");
	session__set_meta(s, "start_time", "2024-01-02T03:04:05+0100");
	session__set_meta(s, "duration_ns", "2500000000");
	session__finish(s);
	session__close(s);
	profile__release(&p);
}

static int setup(void **state)
{
	int fd;
	snprintf(path, sizeof(path), "/tmp/domprof-test-export-XXXXXX");
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	build_session(path);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct session *open_session(const char *file)
{
	struct session *s;
	char *err = NULL;
	assert_int_equal(session__open(file, true, &s, &err), 0);
	return s;
}

static struct export_profile *load(struct session *s, enum view_source source, const char *events)
{
	struct report_query q = { .source = source };
	struct export_profile *p;
	char *err = NULL;
	q.events = events ? strv_split(events) : NULL;
	assert_int_equal(export_profile__load(s, &q, &p, &err), 0);
	strv_free(q.events);
	return p;
}

/* Everything a writer puts on a stream, as a string. */
static char *capture_folded(const struct export_profile *p, enum export_value v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(export_profile__write_folded(p, 0, v, f), 0);
	fclose(f);
	return buf;
}

static void test_folded(void **state)
{
	struct session *s = open_session(path);
	struct export_profile *p = load(s, SOURCE_HOST, NULL);
	char *out = capture_folded(p, EXPORT_VALUE_PERIOD);
	/* Sorted lines; the two addresses of main->a->c merge into one line;
	 * unknown functions name their image; the comm's ';', '%' and newline
	 * are escaped, its spaces (CPU 0/KVM) kept. */
	const char *want = "host;kernel;app;clear_page 70000000\n"
			   "host;user;app;[unknown] (libfoo.so) 30000000\n"
			   "host;user;app;foo%FF 10000000\n"
			   "host;user;app;main;a 100000000\n"
			   "host;user;app;main;a;c 500000000\n"
			   "host;user;app;main;b 200000000\n"
			   "host;user;app;main;b;[unknown] (libfoo.so) 50000000\n"
			   "host;user;app;main;b;c 300000000\n"
			   "host;user;we%3Bird%25%0A;main;a 20000000\n"
			   "web;guest;CPU 0/KVM;[unknown] ([guest code]) 80000000\n";
	assert_string_equal(out, want);
	free(out);
	out = capture_folded(p, EXPORT_VALUE_SAMPLES);
	assert_non_null(strstr(out, "\nhost;user;app;main;a;c 500\n"));
	free(out);
	export_profile__free(p);

	/* The merged view swaps the guest layer for the agent's, scaled to the
	 * host's 80 ms. */
	p = load(s, SOURCE_MERGED, NULL);
	out = capture_folded(p, EXPORT_VALUE_PERIOD);
	assert_non_null(strstr(out, "\nweb;guest-user;gapp;alpha 80000000\n"));
	assert_null(strstr(out, "[guest code]"));
	free(out);
	export_profile__free(p);

	/* Another event: only its samples. */
	p = load(s, SOURCE_HOST, "page-faults");
	out = capture_folded(p, EXPORT_VALUE_SAMPLES);
	assert_string_equal(out, "host;user;app;main;b 5\n");
	free(out);
	export_profile__free(p);
	session__close(s);
}

static void test_folded_escape(void **state)
{
	struct strbuf sb;
	strbuf_init(&sb);
	export__folded_escape(&sb, "a;b c%d\te\r\nf\x7f");
	assert_string_equal(sb.buf, "a%3Bb c%25d%09e%0D%0Af%7F");
	strbuf_release(&sb);
}

/* ---- a protobuf reader, just enough for profile.proto ---- */

struct rd {
	const unsigned char *p, *end;
};

static uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		assert_true(r->p < r->end);
		v |= (uint64_t)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			return v;
	}
	fail_msg("varint too long");
	return 0;
}

/* Next field: its number, wire type, and either its varint or its bytes. */
static bool rd_field(struct rd *r, uint32_t *field, uint64_t *v, struct rd *bytes)
{
	uint64_t key;
	if (r->p >= r->end)
		return false;
	key = rd_varint(r);
	*field = (uint32_t)(key >> 3);
	switch (key & 7) {
	case 0: *v = rd_varint(r); bytes->p = bytes->end = NULL; break;
	case 2:
		*v = rd_varint(r);
		assert_true(*v <= (uint64_t)(r->end - r->p));
		bytes->p = r->p;
		bytes->end = r->p + *v;
		r->p += *v;
		break;
	default: fail_msg("unexpected wire type %d", (int)(key & 7));
	}
	return true;
}

#define MAXN 64
struct dec_sample {
	uint64_t locs[MAXN];
	size_t n_locs;
	int64_t values[8];
	size_t n_values;
	int64_t label_key[8], label_str[8], label_num[8];
	size_t n_labels;
};
struct dec {
	char *strings[256];
	size_t n_strings;
	int64_t type[8], unit[8];
	size_t n_types;
	struct dec_sample samples[MAXN];
	size_t n_samples;
	uint64_t loc_id[MAXN], loc_mapping[MAXN], loc_address[MAXN], loc_function[MAXN];
	size_t n_locs;
	uint64_t fn_id[MAXN];
	int64_t fn_name[MAXN];
	size_t n_fns;
	uint64_t map_id[MAXN], map_limit[MAXN];
	int64_t map_file[MAXN], map_build_id[MAXN];
	bool map_has_functions[MAXN];
	size_t n_maps;
	int64_t time_nanos, duration, period, period_type, period_unit, default_type;
	int64_t comments[16];
	size_t n_comments;
};

static void dec_packed(struct rd r, uint64_t *out, size_t *n)
{
	while (r.p < r.end) {
		assert_true(*n < MAXN);
		out[(*n)++] = rd_varint(&r);
	}
}

static void decode(const void *data, size_t len, struct dec *d)
{
	struct rd r = { data, (const unsigned char *)data + len }, m, f;
	uint32_t field, sf;
	uint64_t v, sv;
	memset(d, 0, sizeof(*d));
	while (rd_field(&r, &field, &v, &m)) {
		switch (field) {
		case 1:
			while (rd_field(&m, &sf, &sv, &f))
				(sf == 1 ? d->type : d->unit)[d->n_types] = (int64_t)sv;
			d->n_types++;
			break;
		case 2: {
			struct dec_sample *s = &d->samples[d->n_samples++];
			assert_true(d->n_samples <= MAXN);
			while (rd_field(&m, &sf, &sv, &f)) {
				if (sf == 1) {
					dec_packed(f, s->locs, &s->n_locs);
				} else if (sf == 2) {
					uint64_t vals[MAXN];
					size_t n = 0;
					dec_packed(f, vals, &n);
					for (size_t i = 0; i < n; i++)
						s->values[s->n_values++] = (int64_t)vals[i];
				} else if (sf == 3) {
					struct rd l = f, g;
					uint32_t lf;
					uint64_t lv;
					while (rd_field(&l, &lf, &lv, &g)) {
						if (lf == 1)
							s->label_key[s->n_labels] = (int64_t)lv;
						else if (lf == 2)
							s->label_str[s->n_labels] = (int64_t)lv;
						else if (lf == 3)
							s->label_num[s->n_labels] = (int64_t)lv;
					}
					s->n_labels++;
				}
			}
			break;
		}
		case 3:
			while (rd_field(&m, &sf, &sv, &f)) {
				if (sf == 1) d->map_id[d->n_maps] = sv;
				if (sf == 3) d->map_limit[d->n_maps] = sv;
				if (sf == 5) d->map_file[d->n_maps] = (int64_t)sv;
				if (sf == 6) d->map_build_id[d->n_maps] = (int64_t)sv;
				if (sf == 7) d->map_has_functions[d->n_maps] = sv;
			}
			d->n_maps++;
			break;
		case 4:
			while (rd_field(&m, &sf, &sv, &f)) {
				if (sf == 1) d->loc_id[d->n_locs] = sv;
				if (sf == 2) d->loc_mapping[d->n_locs] = sv;
				if (sf == 3) d->loc_address[d->n_locs] = sv;
				if (sf == 4) {
					struct rd l = f, g;
					uint32_t lf;
					uint64_t lv;
					while (rd_field(&l, &lf, &lv, &g))
						if (lf == 1)
							d->loc_function[d->n_locs] = lv;
				}
			}
			d->n_locs++;
			break;
		case 5:
			while (rd_field(&m, &sf, &sv, &f)) {
				if (sf == 1) d->fn_id[d->n_fns] = sv;
				if (sf == 2) d->fn_name[d->n_fns] = (int64_t)sv;
			}
			d->n_fns++;
			break;
		case 6:
			assert_true(d->n_strings < 256);
			d->strings[d->n_strings++] = xstrndup((const char *)m.p, (size_t)(m.end - m.p));
			break;
		case 9: d->time_nanos = (int64_t)v; break;
		case 10: d->duration = (int64_t)v; break;
		case 11:
			while (rd_field(&m, &sf, &sv, &f))
				*(sf == 1 ? &d->period_type : &d->period_unit) = (int64_t)sv;
			break;
		case 12: d->period = (int64_t)v; break;
		case 13: {
			uint64_t c[MAXN];
			size_t n = 0;
			dec_packed(m, c, &n);
			for (size_t i = 0; i < n && d->n_comments < 16; i++)
				d->comments[d->n_comments++] = (int64_t)c[i];
			break;
		}
		case 14: d->default_type = (int64_t)v; break;
		default: fail_msg("unexpected Profile field %u", field);
		}
	}
}

static void dec_release(struct dec *d)
{
	for (size_t i = 0; i < d->n_strings; i++)
		free(d->strings[i]);
}

static const char *dstr(const struct dec *d, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < d->n_strings);
	return d->strings[i];
}

static size_t dloc(const struct dec *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_locs; i++)
		if (d->loc_id[i] == id)
			return i;
	fail_msg("no location %llu", (unsigned long long)id);
	return 0;
}

static const char *dfn(const struct dec *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_fns; i++)
		if (d->fn_id[i] == id)
			return dstr(d, d->fn_name[i]);
	fail_msg("no function %llu", (unsigned long long)id);
	return NULL;
}

static size_t dmap(const struct dec *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_maps; i++)
		if (d->map_id[i] == id)
			return i;
	fail_msg("no mapping %llu", (unsigned long long)id);
	return 0;
}

/* "main;a;c": the sample's stack, outermost first. */
static void dstack(const struct dec *d, const struct dec_sample *s, char *buf, size_t size)
{
	buf[0] = 0;
	for (size_t i = s->n_locs; i-- > 0;) {
		size_t l = dloc(d, s->locs[i]);
		strncat(buf, dfn(d, d->loc_function[l]), size - strlen(buf) - 2);
		if (i)
			strcat(buf, ";");
	}
}

static const char *dlabel(const struct dec *d, const struct dec_sample *s, const char *key, int64_t *num)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (streq(dstr(d, s->label_key[i]), key)) {
			if (num)
				*num = s->label_num[i];
			return dstr(d, s->label_str[i]);
		}
	return NULL;
}

static const struct dec_sample *dfind(const struct dec *d, const char *domain, const char *stack)
{
	char buf[512];
	for (size_t i = 0; i < d->n_samples; i++) {
		dstack(d, &d->samples[i], buf, sizeof(buf));
		if (streq(buf, stack) && streq(dlabel(d, &d->samples[i], "domain", NULL), domain))
			return &d->samples[i];
	}
	fail_msg("no sample %s %s", domain, stack);
	return NULL;
}

static void check_totals(struct session *s, enum view_source source, const struct dec *d)
{
	struct report_query q = { .source = source };
	struct report_layers l;
	char *err = NULL;
	assert_int_equal(report_layers__query(s, &q, &l, &err), 0);
	assert_int_equal(d->n_types, 2 * l.n_events);
	for (size_t e = 0; e < l.n_events; e++) {
		int64_t period = 0, samples = 0;
		for (size_t i = 0; i < d->n_samples; i++) {
			period += d->samples[i].values[e];
			samples += d->samples[i].values[l.n_events + e];
		}
		assert_int_equal(period, l.total_period[e]);
		assert_int_equal(samples, l.total_samples[e]);
	}
	report_layers__release(&l);
}

static void test_pprof(void **state)
{
	struct session *s = open_session(path);
	struct export_profile *p = load(s, SOURCE_HOST, NULL);
	const struct dec_sample *smp;
	struct strbuf raw;
	struct dec d;
	int64_t pid = -1;
	size_t l, m;
	bool found;

	strbuf_init(&raw);
	export_profile__encode_pprof(p, &raw);
	decode(raw.buf, raw.len, &d);

	assert_string_equal(dstr(&d, 0), "");
	assert_int_equal(d.n_types, 4);
	assert_string_equal(dstr(&d, d.type[0]), "cpu-clock");
	assert_string_equal(dstr(&d, d.unit[0]), "nanoseconds");
	assert_string_equal(dstr(&d, d.type[1]), "page-faults");
	assert_string_equal(dstr(&d, d.unit[1]), "count");
	assert_string_equal(dstr(&d, d.type[2]), "cpu-clock:samples");
	assert_string_equal(dstr(&d, d.unit[2]), "count");
	assert_string_equal(dstr(&d, d.type[3]), "page-faults:samples");
	for (size_t i = 0; i < d.n_samples; i++)
		assert_int_equal(d.samples[i].n_values, 4);
	check_totals(s, SOURCE_HOST, &d);

	/* One Sample per (stack, domain, layer, comm, pid): both addresses of
	 * main->a->c are in it; the leaf comes first in location_id. */
	smp = dfind(&d, "host", "main;a;c");
	assert_int_equal(smp->values[0], 500 * MS);
	assert_int_equal(smp->values[2], 500);
	assert_string_equal(dlabel(&d, smp, "layer", NULL), "user");
	assert_string_equal(dlabel(&d, smp, "comm", NULL), "app");
	dlabel(&d, smp, "pid", &pid);
	assert_int_equal(pid, 10);
	assert_string_equal(dfn(&d, d.loc_function[dloc(&d, smp->locs[0])]), "c");
	/* c is one location under a and under b. */
	assert_int_equal(smp->locs[0], dfind(&d, "host", "main;b;c")->locs[0]);
	assert_int_equal(dfind(&d, "host", "main;b;c")->values[0], 300 * MS);
	/* main -> b carries both events. */
	smp = dfind(&d, "host", "main;b");
	assert_int_equal(smp->values[0], 200 * MS);
	assert_int_equal(smp->values[1], 5);
	assert_int_equal(smp->values[3], 5);

	/* An unresolved frame: function [unknown], address and image kept. */
	smp = dfind(&d, "host", "main;b;[unknown]");
	l = dloc(&d, smp->locs[0]);
	assert_int_equal(d.loc_address[l], 0x1234);
	m = dmap(&d, d.loc_mapping[l]);
	assert_string_equal(dstr(&d, d.map_file[m]), "/lib/libfoo.so");
	assert_true(d.map_has_functions[m]);
	assert_true(d.map_limit[m] > 0x1234);
	/* No stack: a one-frame stack of its own function. */
	assert_int_equal(dfind(&d, "host", "clear_page")->values[0], 70 * MS);
	assert_int_equal(dfind(&d, "web", "[unknown]")->values[0], 80 * MS);
	/* Not UTF-8 in the session: U+FFFD in the profile. */
	assert_int_equal(dfind(&d, "host", "foo\xef\xbf\xbd")->values[0], 10 * MS);
	/* The comm label keeps the name as it is (labels are not folded lines). */
	found = false;
	for (size_t i = 0; i < d.n_samples; i++) {
		const char *c = dlabel(&d, &d.samples[i], "comm", NULL);
		found |= c && streq(c, "we;ird%\n");
	}
	assert_true(found);

	/* Build-ids on mappings. */
	found = false;
	for (size_t i = 0; i < d.n_maps; i++)
		if (streq(dstr(&d, d.map_file[i]), "/usr/bin/app")) {
			assert_string_equal(dstr(&d, d.map_build_id[i]), "abcdef0123456789");
			found = true;
		}
	assert_true(found);

	/* Session-wide fields. */
	assert_int_equal(d.time_nanos, 1704161045LL * 1000000000LL);
	assert_int_equal(d.duration, 2500000000LL);
	assert_string_equal(dstr(&d, d.period_type), "cpu-clock");
	assert_string_equal(dstr(&d, d.period_unit), "nanoseconds");
	assert_int_equal(d.period, 1000000);
	assert_string_equal(dstr(&d, d.default_type), "cpu-clock");
	assert_true(d.n_comments >= 2);
	assert_true(startswith(dstr(&d, d.comments[0]), "domprof "));
	found = false;
	for (size_t i = 0; i < d.n_comments; i++)
		found |= streq(dstr(&d, d.comments[i]), "hostname: testhost");
	assert_true(found);
	dec_release(&d);
	export_profile__free(p);

	/* The merged view: same totals as the report's merged view. */
	p = load(s, SOURCE_MERGED, NULL);
	strbuf_reset(&raw);
	export_profile__encode_pprof(p, &raw);
	decode(raw.buf, raw.len, &d);
	check_totals(s, SOURCE_MERGED, &d);
	assert_int_equal(dfind(&d, "web", "alpha")->values[0], 80 * MS);
	dec_release(&d);
	export_profile__free(p);
	strbuf_release(&raw);
	session__close(s);
}

static void test_pprof_gzip(void **state)
{
	struct session *s = open_session(path);
	struct export_profile *p = load(s, SOURCE_HOST, NULL);
	struct strbuf raw;
	char *gz = NULL, *plain;
	size_t gz_len = 0;
	z_stream z = { 0 };
	FILE *f = open_memstream(&gz, &gz_len);

	assert_int_equal(export_profile__write_pprof(p, f), 0);
	fclose(f);
	assert_true(gz_len > 18);
	assert_int_equal((unsigned char)gz[0], 0x1f); /* gzip magic */
	assert_int_equal((unsigned char)gz[1], 0x8b);
	strbuf_init(&raw);
	export_profile__encode_pprof(p, &raw);
	plain = xmalloc(raw.len + 1);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)gz_len;
	z.next_out = (unsigned char *)plain;
	z.avail_out = (uInt)raw.len + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, raw.len);
	assert_memory_equal(plain, raw.buf, raw.len);
	inflateEnd(&z);
	free(plain);
	free(gz);
	strbuf_release(&raw);
	export_profile__free(p);
	session__close(s);
}

static void test_json(void **state)
{
	struct session *s = open_session(path);
	struct export_profile *p = load(s, SOURCE_HOST, NULL);
	char file[] = "/tmp/domprof-test-export-json-XXXXXX";
	char cmd[4096];
	int fd = mkstemp(file);
	FILE *f = fdopen(fd, "w");

	assert_int_equal(export_profile__write_json(p, f), 0);
	fclose(f);
	/* An independent reader: Python's json module. */
	snprintf(cmd, sizeof(cmd),
		 "python3 - %s <<'PY'\n"
		 "import json, sys\n"
		 "j = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		 "assert j['format'] == 'domprof-export' and j['version'] == 1, j['format']\n"
		 "assert j['session']['hostname'] == 'testhost'\n"
		 "assert [e['name'] for e in j['events']] == ['cpu-clock', 'page-faults']\n"
		 "assert j['events'][0]['filtered_period'] == 1360 * 10**6, j['events'][0]\n"
		 "assert j['view']['source'] == 'host'\n"
		 "assert {d['name'] for d in j['domains']} == {'host', 'web'}\n"
		 "s = j['samples']\n"
		 "assert len(s) == 11, len(s)\n"
		 "assert s[0]['symbol'] == 'c' and s[0]['values']['cpu-clock']['period'] == 400 * 10**6, s[0]\n"
		 "assert [f['symbol'] for f in s[0]['stack']] == ['main', 'a', 'c'], s[0]['stack']\n"
		 "assert s[0]['pid'] == 10 and s[0]['tid'] == 10 and s[0]['comm'] == 'app'\n"
		 "assert s[0]['image'] == '/usr/bin/app' and s[0]['build_id'] == 'abcdef0123456789'\n"
		 "assert s[0]['address'] == '0x3010'\n"
		 "assert sum(x['values']['cpu-clock']['period'] for x in s) == 1360 * 10**6\n"
		 "assert sum(x['values']['page-faults']['samples'] for x in s) == 5\n"
		 "k = [x for x in s if x['symbol'] == 'clear_page'][0]\n"
		 "assert k['stack'] is None and k['layer'] == 'kernel' and k['address'] == '0xffffffff81000010', k\n"
		 "u = [x for x in s if x['address'] == '0x1234'][0]\n"
		 "assert u['symbol'] == '[unknown]' and u['stack'][-1] == "
		 "{'symbol': '[unknown]', 'image': '/lib/libfoo.so', 'address': '0x1234'}, u\n"
		 "assert any(x['symbol'] == 'foo\\ufffd' for x in s)\n"
		 "assert any(x['comm'] == 'we;ird%%\\n' for x in s)\n"
		 "PY",
		 file);
	assert_int_equal(system(cmd), 0);
	unlink(file);
	export_profile__free(p);
	session__close(s);
}

static void test_filters_and_errors(void **state)
{
	struct session *s = open_session(path);
	struct report_query q = { .source = SOURCE_HOST };
	struct export_profile *p;
	char *err = NULL, *out;

	q.domains = strv_split("web");
	assert_int_equal(export_profile__load(s, &q, &p, &err), 0);
	out = capture_folded(p, EXPORT_VALUE_PERIOD);
	assert_string_equal(out, "web;guest;CPU 0/KVM;[unknown] ([guest code]) 80000000\n");
	assert_int_equal(export_profile__total_period(p, 0), 80 * MS);
	free(out);
	export_profile__free(p);
	strv_free(q.domains);
	q.domains = NULL;

	q.layers = strv_split("kernel");
	q.comms = strv_split("app");
	assert_int_equal(export_profile__load(s, &q, &p, &err), 0);
	assert_int_equal(export_profile__n_samples(p), 1);
	export_profile__free(p);
	strv_free(q.layers);
	strv_free(q.comms);
	q.layers = q.comms = NULL;

	q.events = strv_split("cycles");
	assert_int_equal(export_profile__load(s, &q, &p, &err), -ENOENT);
	assert_non_null(strstr(err, "cycles"));
	free(err);
	strv_free(q.events);
	session__close(s);

	{
		enum export_format f;
		enum export_value v;
		assert_int_equal(export_format__parse("folded", &f), 0);
		assert_int_equal(f, EXPORT_FOLDED);
		assert_int_equal(export_format__parse("svg", &f), -EINVAL);
		assert_int_equal(export_value__parse("samples", &v), 0);
		assert_int_equal(v, EXPORT_VALUE_SAMPLES);
		assert_int_equal(export_value__parse("ms", &v), -EINVAL);
	}
}

/* A damaged file whose frames form a cycle must still export, in bounded
 * time and memory. */
static void test_frame_cycle(void **state)
{
	char file[64];
	sqlite3 *db;
	struct session *s;
	struct export_profile *p;
	struct strbuf raw;
	char *out;
	int fd;

	snprintf(file, sizeof(file), "/tmp/domprof-test-export-cycle-XXXXXX");
	fd = mkstemp(file);
	close(fd);
	unlink(file);
	build_session(file);
	assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
	/* main's caller becomes c-under-a: main -> a -> c -> main -> ... */
	assert_int_equal(sqlite3_exec(db, "UPDATE frames SET parent_id = 3 WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_session(file);
	p = load(s, SOURCE_HOST, NULL);
	out = capture_folded(p, EXPORT_VALUE_PERIOD);
	assert_non_null(strstr(out, "host;kernel;app;clear_page 70000000\n"));
	free(out);
	strbuf_init(&raw);
	export_profile__encode_pprof(p, &raw);
	assert_true(raw.len > 0);
	strbuf_release(&raw);
	export_profile__free(p);
	session__close(s);
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded),	 cmocka_unit_test(test_folded_escape),
		cmocka_unit_test(test_pprof),	 cmocka_unit_test(test_pprof_gzip),
		cmocka_unit_test(test_json),	 cmocka_unit_test(test_filters_and_errors),
		cmocka_unit_test(test_frame_cycle),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

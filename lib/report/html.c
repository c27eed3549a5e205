/* The HTML report: computes the page's data from a session and writes the
 * page (see html.h; the data layout is in docs/html.md).
 *
 * Four models go into the data. The domain/layer table and the top rows
 * come from the report (report_layers__query, report_table__query), so the
 * page shows the same numbers as `domprof report`. The flame graph trees
 * (html-flame.c) and the timeline read the same view of active VMs' guest
 * layers (merged, host or agent; lib/session/view.h). */
#define _GNU_SOURCE
#include "html-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "../session/session.h"
#include "../vocab/vocab.h"

/* Generated at build time from lib/report/html/ (embed.py): the bytes of
 * each asset, NUL-terminated, and the base64 SHA-256 that the page's
 * Content-Security-Policy allows it by. */
extern const unsigned char html_asset_report_css[];
extern const size_t html_asset_report_css_size;
extern const char html_asset_report_css_sha256[];
extern const unsigned char html_asset_report_js[];
extern const size_t html_asset_report_js_size;
extern const char html_asset_report_js_sha256[];

#ifndef DOMPROF_VERSION
#define DOMPROF_VERSION "dev"
#endif

#define DEFAULT_BUCKET_NS 100000000ULL

void html_options__init(struct html_options *o)
{
	memset(o, 0, sizeof(*o));
	o->source = SOURCE_MERGED;
	o->min_frame_percent = 0.05;
	o->max_frames = 20000;
	o->max_rows = 200;
	o->max_points = 1000;
}

static void json_u64_array(struct strbuf *sb, const uint64_t *v, size_t n)
{
	strbuf_addc(sb, '[');
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%" PRIu64, i ? "," : "", v[i]);
	strbuf_addc(sb, ']');
}

static int json_session(struct html_ctx *c, struct strbuf *sb, char **ret_error)
{
	struct session_meta *m;
	size_t n;
	int r = session__read_meta(c->s, &m, &n, ret_error);
	if (r < 0)
		return r;
	strbuf_adds(sb, "\"session\":{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addc(sb, ',');
		strbuf_add_json(sb, m[i].key);
		strbuf_addc(sb, ':');
		strbuf_add_json(sb, m[i].value);
	}
	strbuf_adds(sb, "},");
	session_meta__free(m, n);
	return 0;
}

static void json_events(struct html_ctx *c, struct strbuf *sb)
{
	strbuf_adds(sb, "\"events\":[");
	for (size_t e = 0; e < c->layers.n_events; e++) {
		const struct report_event *ev = &c->layers.events[e];
		strbuf_adds(sb, e ? ",{\"name\":" : "{\"name\":");
		strbuf_add_json(sb, ev->name);
		strbuf_adds(sb, ",\"unit\":");
		strbuf_add_json(sb, ev->unit);
		strbuf_addf(sb,
			    ",\"samples\":%" PRIu64 ",\"period\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"shown_period\":%" PRIu64
			    ",\"busy_period\":%" PRIu64 "}",
			    ev->samples, ev->period, ev->lost, c->layers.total_period[e], c->layers.busy_period[e]);
	}
	strbuf_adds(sb, "],\"layers\":[");
	for (int k = 0; k < LAYER__COUNT; k++)
		strbuf_addf(sb, "%s\"%s\"", k ? "," : "", layer__name(layer__display_order[k]));
	strbuf_adds(sb, "],");
}

/* The page lists only the strings of kept nodes. */
struct row_order {
	const struct report_table *t;
	const size_t *idx;
	size_t event;
};

static int row_order__cmp(const void *a, const void *b, void *arg)
{
	const struct row_order *o = arg;
	uint64_t x = o->t->rows[o->idx[*(const size_t *)a]].period[o->event];
	uint64_t y = o->t->rows[o->idx[*(const size_t *)b]].period[o->event];
	if (x != y)
		return x > y ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

static void json_top(struct html_ctx *c, size_t d, const struct report_table *t, struct strbuf *sb)
{
	const char *name = c->layers.domains[d].name;
	size_t *idx = NULL, n = 0, cap = 0, shown = 0;
	bool *keep;

	for (size_t i = 0; i < t->n_rows; i++)
		if (streq(t->rows[i].keys[0], name)) {
			ARRAY_GROW(idx, cap, n + 1);
			idx[n++] = i;
		}
	keep = xcalloc(n + 1, sizeof(bool));
	for (size_t e = 0; e < t->n_events; e++) {
		struct row_order ctx = { t, idx, e };
		size_t *order = xmalloc((n + 1) * sizeof(size_t));
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		qsort_r(order, n, sizeof(size_t), row_order__cmp, &ctx);
		for (size_t k = 0; k < MIN(n, c->o->max_rows) && t->rows[idx[order[k]]].period[e]; k++)
			keep[order[k]] = true;
		free(order);
	}
	strbuf_addf(sb, ",\"top\":{\"total_rows\":%zu,\"rows\":[", n);
	for (size_t i = 0; i < n; i++) {
		const struct report_row *r = &t->rows[idx[i]];
		if (!keep[i])
			continue;
		strbuf_adds(sb, shown++ ? ",{\"layer\":" : "{\"layer\":");
		strbuf_add_json(sb, r->keys[1]);
		strbuf_adds(sb, ",\"image\":");
		strbuf_add_json(sb, r->keys[2]);
		strbuf_adds(sb, ",\"symbol\":");
		strbuf_add_json(sb, r->keys[3]);
		strbuf_adds(sb, ",\"comm\":");
		json_str_or_null(sb, r->comm);
		strbuf_addf(sb, ",\"comms\":%zu", r->n_comms);
		if (r->unknown_symbol && streq(r->keys[3], "[unknown]") && r->min_address <= r->max_address)
			strbuf_addf(sb, ",\"address\":[\"0x%" PRIx64 "\",\"0x%" PRIx64 "\"]", r->min_address, r->max_address);
		strbuf_adds(sb, ",\"samples\":");
		json_u64_array(sb, r->samples, t->n_events);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, r->period, t->n_events);
		strbuf_addc(sb, '}');
	}
	strbuf_addf(sb, "],\"shown_rows\":%zu}", shown);
	free(keep);
	free(idx);
}

static void json_domain(struct html_ctx *c, size_t d, const struct report_table *t, struct strbuf *sb)
{
	const struct report_domain_info *di = &c->layers.domains[d];
	size_t ne = c->layers.n_events;
	bool first = true;

	strbuf_adds(sb, d ? ",{\"name\":" : "{\"name\":");
	strbuf_add_json(sb, di->name);
	strbuf_addf(sb, ",\"kind\":\"%s\"", domain_kind__name(domain_kind__of(di->is_vm, di->is_idle)));
	if (di->pid >= 0)
		strbuf_addf(sb, ",\"pid\":%" PRId64, di->pid);
	else
		strbuf_adds(sb, ",\"pid\":null");
	strbuf_adds(sb, ",\"vmm\":");
	json_str_or_null(sb, di->vmm);
	strbuf_adds(sb, ",\"accel\":");
	json_str_or_null(sb, di->accel);
	strbuf_adds(sb, ",\"source\":");
	json_str_or_null(sb, di->source);
	strbuf_addf(sb, ",\"complete\":%s,\"note\":", di->complete ? "true" : "false");
	json_str_or_null(sb, di->note);
	strbuf_adds(sb, ",\"samples\":");
	json_u64_array(sb, di->samples, ne);
	strbuf_adds(sb, ",\"period\":");
	json_u64_array(sb, di->period, ne);
	strbuf_adds(sb, ",\"layers\":{");
	for (int k = 0; k < LAYER__COUNT; k++) {
		enum layer l = layer__display_order[k];
		bool has = false;
		for (size_t e = 0; e < ne; e++)
			has |= di->layer_samples[l][e] > 0;
		if (!has)
			continue;
		strbuf_addf(sb, "%s\"%s\":{\"samples\":", first ? "" : ",", layer__name(l));
		first = false;
		json_u64_array(sb, di->layer_samples[l], ne);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, di->layer_period[l], ne);
		strbuf_addc(sb, '}');
	}
	strbuf_adds(sb, "}");
	if (di->is_vm) {
		strbuf_adds(sb, ",\"halt\":{\"samples\":");
		json_u64_array(sb, di->halt_samples, ne);
		strbuf_adds(sb, ",\"period\":");
		json_u64_array(sb, di->halt_period, ne);
		strbuf_addc(sb, '}');
		strbuf_adds(sb, ",\"overhead\":[");
		for (size_t e = 0; e < ne; e++) {
			double o = report_domain__overhead(di, e);
			if (e)
				strbuf_addc(sb, ',');
			if (o < 0)
				strbuf_adds(sb, "null");
			else
				html_json_number(sb, o);
		}
		strbuf_addc(sb, ']');
	}
	json_top(c, d, t, sb);
	html_flames__json(c, d, sb);
	strbuf_addc(sb, '}');
}

/* The timeline's size: buckets to cover the run, and k buckets per point
 * so that there are at most max_points. */
struct timeline_shape {
	uint64_t bucket_ns, duration_ns, n_buckets, k, n_points;
};

static struct timeline_shape timeline_shape(struct html_ctx *c)
{
	struct timeline_shape t;
	int64_t last;
	t.bucket_ns = c->about.timeline_bucket_ns ? c->about.timeline_bucket_ns : DEFAULT_BUCKET_NS;
	t.duration_ns = c->about.duration_ns;
	last = session__timeline_last_bucket(c->s);
	t.n_buckets = (uint64_t)(last + 1);
	t.n_buckets = MAX(t.n_buckets, (t.duration_ns + t.bucket_ns - 1) / t.bucket_ns);
	/* A damaged file could claim a bucket far in the future: cap the
	 * timeline at ten million buckets (11 days at 100 ms). */
	t.n_buckets = MIN(t.n_buckets, (uint64_t)10000000);
	t.k = c->o->max_points && t.n_buckets > c->o->max_points ? (t.n_buckets + c->o->max_points - 1) / c->o->max_points
								  : 1;
	t.n_points = (t.n_buckets + t.k - 1) / t.k;
	return t;
}

/* Per event, domain and layer, the period of each point. */
static int timeline_series(struct html_ctx *c, const struct timeline_shape *t, uint64_t **series, char **ret_error)
{
	size_t nd = c->layers.n_domains;
	struct view_filter f = { .source = c->o->source };
	struct view_rows *rows;
	struct view_row v;
	int r = view_rows__open_timeline(c->s, &f, &rows, ret_error);
	if (r < 0)
		return r;
	while ((r = view_rows__next(rows, &v, ret_error)) > 0) {
		int e = report_events__index(c->layers.events, c->layers.n_events, view_rows__int(rows, 0));
		int d = html_ctx__domain_index(c, view_rows__int(rows, 1));
		int l = layer__from_name(view_rows__text(rows, 2));
		int64_t bucket = view_rows__int(rows, 3);
		size_t i;
		if (e < 0 || d < 0 || l < 0 || bucket < 0 || (uint64_t)bucket >= t->n_buckets)
			continue;
		i = ((size_t)e * nd + (size_t)d) * LAYER__COUNT + (size_t)l;
		if (!series[i])
			series[i] = xcalloc(t->n_points, sizeof(uint64_t));
		series[i][(uint64_t)bucket / t->k] += v.period;
	}
	view_rows__close(rows);
	return r;
}

/* The timeline: per event, domain and layer, period per point. Buckets are
 * merged k at a time when there are more than max_points. */
static int json_timeline(struct html_ctx *c, struct strbuf *sb, char **ret_error)
{
	size_t ne = c->layers.n_events, nd = c->layers.n_domains, n_series = ne * nd * LAYER__COUNT;
	struct timeline_shape t = timeline_shape(c);
	uint64_t **series = xcalloc(n_series + 1, sizeof(*series));
	bool first = true;
	int r = timeline_series(c, &t, series, ret_error);

	if (r == 0) {
		strbuf_addf(sb,
			    "\"timeline\":{\"bucket_ns\":%" PRIu64 ",\"points\":%" PRIu64 ",\"duration_ns\":%" PRIu64
			    ",\"series\":[",
			    t.bucket_ns * t.k, t.n_points, t.duration_ns);
		for (size_t i = 0; i < n_series; i++) {
			if (!series[i])
				continue;
			strbuf_addf(sb, "%s{\"event\":%zu,\"domain\":%zu,\"layer\":\"%s\",\"period\":", first ? "" : ",",
				    i / (nd * LAYER__COUNT), (i / LAYER__COUNT) % nd,
				    layer__name((enum layer)(i % LAYER__COUNT)));
			first = false;
			json_u64_array(sb, series[i], t.n_points);
			strbuf_addc(sb, '}');
		}
		strbuf_adds(sb, "]}");
	}
	for (size_t i = 0; i < n_series; i++)
		free(series[i]);
	free(series);
	return r;
}

/* JSON text may hold '<' only inside strings, so replacing it (and '>',
 * '&', and the two line separators old JavaScript parsers reject) by its
 * \u escape everywhere keeps the value and makes "</script>" or "<!--"
 * in a hostile symbol name harmless inside the page. */
static void add_script_safe(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '<')
			strbuf_adds(out, "\\u003c");
		else if (ch == '>')
			strbuf_adds(out, "\\u003e");
		else if (ch == '&')
			strbuf_adds(out, "\\u0026");
		else if (ch == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
			 ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			strbuf_adds(out, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
		} else
			strbuf_addc(out, (char)ch);
	}
}

int html_ctx__domain_index(const struct html_ctx *c, int64_t id)
{
	for (size_t i = 0; i < c->layers.n_domains; i++)
		if (c->domain_ids[i] == id)
			return (int)i;
	return -1;
}

/* Each report domain's id in the session (the report names them). */
static void match_domain_ids(struct html_ctx *c)
{
	c->domain_ids = xcalloc(c->layers.n_domains + 1, sizeof(int64_t));
	for (uint32_t id = 0; id < c->cat.n_domains; id++) {
		const struct catalog_domain *d = session_catalog__domain(&c->cat, id);
		for (size_t i = 0; d && i < c->layers.n_domains; i++)
			if (streq(c->layers.domains[i].name, d->name))
				c->domain_ids[i] = id;
	}
}

static void ctx_release(struct html_ctx *c)
{
	if (c->have_layers)
		report_layers__release(&c->layers);
	free(c->domain_ids);
	session_catalog__release(&c->cat);
	session_about__release(&c->about);
	html_flames__release(c);
}

/* The page's header fields: format, the session, the view, idle. */
static void json_head(struct html_ctx *c, struct strbuf *sb)
{
	strbuf_addf(sb, "{\"format\":\"domprof-html\",\"version\":1,\"generator\":\"domprof %s\",\"path\":",
		    DOMPROF_VERSION);
	strbuf_add_json(sb, session__path(c->s));
	strbuf_addf(sb, ",\"view\":\"%s\",\"command\":", view_source__name(c->o->source));
	json_str_or_null(sb, c->about.command_line);
	strbuf_adds(sb, ",\"idle\":{\"included\":");
	strbuf_adds(sb, c->o->no_idle ? "false" : "true");
	strbuf_adds(sb, ",\"note\":");
	json_str_or_null(sb, session__idle_note(c->s));
	strbuf_adds(sb, "},");
}

/* The whole data object into sb. */
static int json_page(struct html_ctx *c, const struct report_table *t, struct strbuf *sb, char **ret_error)
{
	int r;
	json_head(c, sb);
	if ((r = json_session(c, sb, ret_error)) < 0)
		return r;
	json_events(c, sb);
	strbuf_adds(sb, "\"domains\":[");
	for (size_t d = 0; d < c->layers.n_domains; d++)
		json_domain(c, d, t, sb);
	strbuf_adds(sb, "],");
	if ((r = json_timeline(c, sb, ret_error)) < 0)
		return r;
	html_strings__json(c, sb);
	strbuf_adds(sb, "}");
	return 0;
}

int html_report__json(struct session *s, const struct html_options *o, struct strbuf *out,
		      struct html_summary *ret_summary, char **ret_error)
{
	struct html_ctx c = { .s = s, .o = o };
	struct report_query q = { .source = o->source, .no_idle = o->no_idle };
	struct report_table table;
	struct strbuf sb;
	int r;

	strtab__init(&c.strings);
	strbuf_init(&sb);
	session__read_about(s, &c.about);
	if ((r = report_query__parse_keys(&q, "domain,layer,image,symbol", ret_error)) < 0 ||
	    (r = report_layers__query(s, &q, &c.layers, ret_error)) < 0)
		goto out;
	c.have_layers = true;
	if ((r = session_catalog__load(s, CATALOG_DOMAINS | CATALOG_CODE, &c.cat, ret_error)) < 0)
		goto out;
	match_domain_ids(&c);
	if ((r = html_flames__build(&c, ret_error)) < 0 || (r = report_table__query(s, &q, &table, ret_error)) < 0)
		goto out;
	r = json_page(&c, &table, &sb, ret_error);
	report_table__release(&table);
	if (r < 0)
		goto out;
	add_script_safe(out, sb.buf, sb.len);
	c.summary.n_domains = c.layers.n_domains;
	c.summary.n_events = c.layers.n_events;
	c.summary.data_bytes = sb.len;
	if (ret_summary)
		*ret_summary = c.summary;
out:
	strbuf_release(&sb);
	ctx_release(&c);
	return r;
}

int html_report__write(struct session *s, const struct html_options *o, FILE *out, struct html_summary *ret_summary,
		       char **ret_error)
{
	struct strbuf data;
	int r;

	strbuf_init(&data);
	r = html_report__json(s, o, &data, ret_summary, ret_error);
	if (r < 0) {
		strbuf_release(&data);
		return r;
	}
	/* The policy forbids every fetch and allows exactly the page's own
	 * style sheet and script: the file works offline, and a hostile name
	 * in the data could not run code even if it escaped its string. */
	fprintf(out,
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'sha256-%s'; script-src 'sha256-%s'\">\n"
		"<meta name=\"generator\" content=\"domprof %s\">\n"
		"<title>domprof report</title>\n<style>",
		html_asset_report_css_sha256, html_asset_report_js_sha256, DOMPROF_VERSION);
	fwrite(html_asset_report_css, 1, html_asset_report_css_size, out);
	fputs("</style>\n</head>\n<body>\n"
	      "<noscript><p class=\"noscript\">This report draws its charts with JavaScript. Enable JavaScript for this "
	      "file, or use <code>domprof report</code> for the same numbers as text.</p></noscript>\n"
	      "<pre id=\"domprof-errors\" class=\"errors\" hidden></pre>\n"
	      "<div id=\"app\"></div>\n"
	      "<div id=\"tip\" class=\"tip\" role=\"tooltip\" hidden></div>\n"
	      "<script type=\"application/json\" id=\"domprof-data\">",
	      out);
	fwrite(data.buf, 1, data.len, out);
	fputs("</script>\n<script>", out);
	fwrite(html_asset_report_js, 1, html_asset_report_js_size, out);
	fputs("</script>\n</body>\n</html>\n", out);
	strbuf_release(&data);
	if (ferror(out)) {
		*ret_error = xasprintf("cannot write the page: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

/* top's rendering: the text lines of a snapshot (drawn by the screen,
 * printed by batch mode), and the batch CSV and JSON; see top.h. The
 * columns are the report's (docs/report-formats.md) with the time of the
 * interval first. */
#include "top.h"

#include <math.h>

/* Widths of the text columns. */
#define BAR_WIDTH 20        /* the layer table's bars */
#define NAME_WIDTH 14       /* domain and layer names */
#define ROW_DOMAIN_WIDTH 10 /* the rows' columns: room for the symbol on 80 columns */
#define ROW_LAYER_WIDTH 12  /* "guest-kernel" */
#define COMM_WIDTH 12
#define ID_WIDTH 7          /* pid, tid */
#define IMAGE_WIDTH 14      /* an image's base name */

struct lines {
	char ***v;
	size_t n;
	size_t width;
};

/* Append sb's text, cut at the width, as one line. */
static void line_add(struct lines *l, struct strbuf *sb)
{
	size_t n = 0, cols = 0;
	while (n < sb->len && cols < l->width) {
		bool safe;
		n += text_char(sb->buf + n, &safe);
		cols++;
	}
	*l->v = xrealloc(*l->v, (l->n + 2) * sizeof(char *));
	(*l->v)[l->n++] = xstrndup(sb->buf, n);
	(*l->v)[l->n] = NULL;
	strbuf_reset(sb);
}

static double shown_value(const struct top_status *st, size_t e, double period)
{
	return st->units && st->units[e] == EVENT_UNIT_NS ? period / 1e6 : period;
}

static const char *shown_unit(const struct top_status *st, size_t e)
{
	return st->units && st->units[e] == EVENT_UNIT_NS ? "ms" : "count";
}

static void header_lines(const struct top_status *st, size_t n_events, size_t event, struct lines *l,
			 struct strbuf *sb)
{
	strbuf_adds(sb, "domprof top - host ");
	strbuf_add_text(sb, st->hostname ? st->hostname : "?");
	strbuf_addf(sb, " - up %.1f s - ", st->elapsed_s);
	for (size_t e = 0; e < n_events; e++)
		strbuf_addf(sb, "%s%s%s%s", e ? "," : "", e == event ? "[" : "", st->event_names[e], e == event ? "]" : "");
	strbuf_addf(sb, " - %.0f samples/s - lost %llu%s", st->interval_s > 0 ? (double)st->samples / st->interval_s : 0.0,
		    (unsigned long long)st->lost, st->paused ? " - PAUSED" : "");
	line_add(l, sb);
	if (st->agents) {
		strbuf_adds(sb, "agents: ");
		strbuf_add_text(sb, st->agents);
		line_add(l, sb);
	}
}

static void bar(struct strbuf *sb, double share)
{
	int n = (int)lround(share * BAR_WIDTH);
	n = n < 0 ? 0 : n > BAR_WIDTH ? BAR_WIDTH : n;
	strbuf_addc(sb, '|');
	for (int i = 0; i < BAR_WIDTH; i++)
		strbuf_addc(sb, i < n ? '#' : ' ');
	strbuf_addc(sb, '|');
}

static void add_padded(struct strbuf *sb, const char *s, size_t width)
{
	size_t start = sb->len, cols = 0;
	strbuf_add_text(sb, s);
	for (size_t i = start; i < sb->len;) {
		bool safe;
		i += text_char(sb->buf + i, &safe);
		cols++;
	}
	if (cols > width) {
		/* Cut to width - 1 characters and a '+', so a cut name shows it. */
		size_t n = start, c = 0;
		while (c < width - 1) {
			bool safe;
			n += text_char(sb->buf + n, &safe);
			c++;
		}
		sb->len = n;
		sb->buf[n] = '\0';
		strbuf_addc(sb, '+');
		cols = width;
	}
	for (; cols < width; cols++)
		strbuf_addc(sb, ' ');
	strbuf_addc(sb, ' ');
}

/* The domain/layer table over span for event e: each domain's layers with
 * their value, share and bar (of busy time; idle's of everything), and
 * each VM's overhead. */
static void layer_lines(const struct top_model *m, const struct profile *p, const struct top_status *st, size_t e,
			enum top_span span, struct lines *l, struct strbuf *sb)
{
	const struct top_domain **d;
	size_t n = top_model__domains_ordered(m, p, &d);
	uint64_t all, idle;
	top_model__sums(m, p, e, span, &all, &idle);
	strbuf_addf(sb, "%-*s %-*s %12s %7s %-*s  %s", NAME_WIDTH, span == TOP_SPAN_TOTAL ? "DOMAIN (run)" : "DOMAIN",
		    NAME_WIDTH, "LAYER", shown_unit(st, e), "%busy", BAR_WIDTH + 2, "", "OVERHEAD");
	line_add(l, sb);
	for (size_t i = 0; i < n; i++) {
		const struct profile_domain *pd = &p->domains[d[i]->id - 1];
		bool first = true;
		double overhead = pd->is_vm ? top_domain__overhead(d[i], e, span) : -1;
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer ly = layer__display_order[k];
			struct top_value v = top_domain__value(d[i], ly, e, span);
			double share;
			if (!d[i]->total[ly])
				continue;
			add_padded(sb, first ? (pd->name ? pd->name : "?") : "", NAME_WIDTH);
			add_padded(sb, layer__name(ly), NAME_WIDTH);
			if (pd->is_idle) {
				share = all ? (double)v.period / (double)all : 0;
				strbuf_addf(sb, "%12.1f %6.1f%% ", shown_value(st, e, (double)v.period), 100 * share);
				bar(sb, share);
				strbuf_adds(sb, "  (of all)");
			} else {
				share = all > idle ? (double)v.period / (double)(all - idle) : 0;
				strbuf_addf(sb, "%12.1f %6.1f%% ", shown_value(st, e, (double)v.period), 100 * share);
				bar(sb, share);
				if (first && pd->is_vm && overhead < 0)
					strbuf_adds(sb, "  -");
				else if (first && pd->is_vm)
					strbuf_addf(sb, "  %.3f", overhead);
			}
			line_add(l, sb);
			first = false;
		}
	}
	free(d);
}

static const char *key_heading(enum report_key k)
{
	static const char *const names[KEY__COUNT] = { "DOMAIN", "LAYER", "COMMAND", "PID", "TID", "IMAGE", "SYMBOL" };
	return (unsigned)k < KEY__COUNT ? names[k] : "?";
}

static size_t key_width(enum report_key k)
{
	switch (k) {
	case KEY_DOMAIN: return ROW_DOMAIN_WIDTH;
	case KEY_LAYER: return ROW_LAYER_WIDTH;
	case KEY_COMM: return COMM_WIDTH;
	case KEY_PID:
	case KEY_TID: return ID_WIDTH;
	case KEY_IMAGE: return IMAGE_WIDTH;
	default: return 0; /* the rest of the line */
	}
}

/* The share a row shows: of the span its order ranks by. */
static double row_share(const struct top_view *v, const struct top_row *r)
{
	size_t e = v->query.event;
	switch (v->query.order) {
	case TOP_ORDER_DECAYED: return v->decayed_all[e] > 0 ? 100 * r->decayed[e] / v->decayed_all[e] : 0;
	case TOP_ORDER_TOTAL: return report__percent(r->total[e].period, v->total_all[e].period);
	default: return report__percent(r->interval[e].period, v->interval_all[e].period);
	}
}

static void row_keys(struct strbuf *sb, const struct top_view *v, const char *const *keys)
{
	for (size_t k = 0; k < v->query.n_keys; k++) {
		enum report_key key = v->query.keys[k];
		const char *s = keys[k];
		if (key == KEY_IMAGE && s[0] == '/' && strrchr(s, '/')[1])
			s = strrchr(s, '/') + 1;
		if (key_width(key) && k + 1 < v->query.n_keys)
			add_padded(sb, s, key_width(key));
		else {
			strbuf_add_text(sb, s);
			strbuf_addc(sb, ' ');
		}
	}
}

static void row_lines(const struct top_view *v, const struct top_status *st, size_t first, size_t max_rows,
		      struct lines *l, struct strbuf *sb)
{
	const char *keys[KEY__COUNT];
	size_t e = v->query.event;
	for (size_t k = 0; k < v->query.n_keys; k++)
		keys[k] = key_heading(v->query.keys[k]);
	const char *share = v->query.order == TOP_ORDER_TOTAL ? "%RUN" : v->query.order == TOP_ORDER_DECAYED ? "%DECAY" : "%INTV";
	strbuf_addf(sb, "%7s %9s   ", share, shown_unit(st, e));
	row_keys(sb, v, keys);
	line_add(l, sb);
	for (size_t i = first; i < v->n_rows && i < first + max_rows; i++) {
		const struct top_row *r = &v->rows[i];
		bool run = v->query.order == TOP_ORDER_TOTAL;
		const struct top_value *val = run ? &r->total[e] : &r->interval[e];
		strbuf_addf(sb, "%6.2f%% %9.1f %c", row_share(v, r), shown_value(st, e, (double)val->period),
			    r->agent ? '*' : ' ');
		strbuf_addc(sb, ' ');
		row_keys(sb, v, (const char *const *)r->keys);
		line_add(l, sb);
	}
}

size_t top_render__lines(const struct top_model *m, const struct profile *p, const struct top_view *v,
			 const struct top_status *st, enum top_span span, size_t width, size_t first_row,
			 size_t max_rows, char ***lines)
{
	struct lines l = { .v = lines, .width = width ? width : SIZE_MAX };
	struct strbuf sb;
	size_t rows_at;
	strbuf_init(&sb);
	if (!*lines) {
		*lines = xcalloc(1, sizeof(char *));
	} else {
		while ((*lines)[l.n])
			l.n++;
	}
	header_lines(st, m->n_events, v->query.event, &l, &sb);
	line_add(&l, &sb);
	layer_lines(m, p, st, v->query.event, span, &l, &sb);
	line_add(&l, &sb);
	rows_at = l.n;
	row_lines(v, st, first_row, max_rows, &l, &sb);
	strbuf_release(&sb);
	return rows_at;
}

/* ---- CSV and JSON ---- */

static void busy_cell(struct strbuf *sb, const struct top_row *r, const struct top_view *v, size_t e, bool json)
{
	double b = report__busy_percent(r->interval[e].period, (uint64_t)r->idle_interval[e], v->interval_busy[e]);
	if (b < 0)
		strbuf_adds(sb, json ? "null" : "");
	else
		strbuf_addf(sb, "%.4f", b);
}

void top_render__csv(const struct top_view *v, const struct top_status *st, bool header, size_t max_rows,
		     struct strbuf *out)
{
	if (header) {
		strbuf_adds(out, "time");
		for (size_t k = 0; k < v->query.n_keys; k++)
			strbuf_addf(out, ",%s", report_key__name(v->query.keys[k]));
		for (size_t e = 0; e < v->n_events; e++) {
			static const char *const suffix[] = { "samples", "period", "percent" };
			for (size_t j = 0; j < ARRAY_SIZE(suffix); j++) {
				_cleanup_free_ char *col = xasprintf("%s:%s", st->event_names[e], suffix[j]);
				strbuf_addc(out, ',');
				strbuf_add_csv(out, col);
			}
		}
		for (size_t e = 0; e < v->n_events; e++) {
			_cleanup_free_ char *col = xasprintf("%s:busy_percent", st->event_names[e]);
			strbuf_addc(out, ',');
			strbuf_add_csv(out, col);
		}
		strbuf_addc(out, '\n');
	}
	for (size_t i = 0; i < v->n_rows && (!max_rows || i < max_rows); i++) {
		const struct top_row *r = &v->rows[i];
		strbuf_addf(out, "%.3f", st->elapsed_s);
		for (size_t k = 0; k < v->query.n_keys; k++) {
			strbuf_addc(out, ',');
			strbuf_add_csv(out, r->keys[k]);
		}
		for (size_t e = 0; e < v->n_events; e++)
			strbuf_addf(out, ",%llu,%llu,%.4f", (unsigned long long)r->interval[e].samples,
				    (unsigned long long)r->interval[e].period,
				    report__percent(r->interval[e].period, v->interval_all[e].period));
		for (size_t e = 0; e < v->n_events; e++) {
			strbuf_addc(out, ',');
			busy_cell(out, r, v, e, false);
		}
		strbuf_addc(out, '\n');
	}
}

static void json_value(struct strbuf *sb, const char *name, struct top_value v, bool comma)
{
	strbuf_add_json(sb, name);
	strbuf_addf(sb, ": {\"samples\": %llu, \"period\": %llu}%s", (unsigned long long)v.samples,
		    (unsigned long long)v.period, comma ? ", " : "");
}

static void json_overhead(struct strbuf *sb, const char *prefix, double overhead)
{
	strbuf_adds(sb, prefix);
	if (overhead < 0)
		strbuf_adds(sb, "null");
	else
		strbuf_addf(sb, "%.6f", overhead);
}

static void json_domains(const struct top_model *m, const struct profile *p, const struct top_status *st,
			 struct strbuf *sb)
{
	const struct top_domain **d;
	size_t n = top_model__domains_ordered(m, p, &d);
	strbuf_adds(sb, "\"domains\": [");
	for (size_t i = 0; i < n; i++) {
		const struct profile_domain *pd = &p->domains[d[i]->id - 1];
		bool first = true;
		strbuf_adds(sb, i ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(sb, pd->name ? pd->name : "?");
		strbuf_addf(sb, ", \"kind\": \"%s\", \"layers\": {", domain_kind__name(domain_kind__of(pd->is_vm, pd->is_idle)));
		for (size_t k = 0; k < LAYER__COUNT; k++) {
			enum layer ly = layer__display_order[k];
			if (!d[i]->total[ly])
				continue;
			strbuf_addf(sb, "%s\"%s\": {", first ? "" : ", ", layer__name(ly));
			for (size_t e = 0; e < m->n_events; e++) {
				strbuf_adds(sb, e ? ", " : "");
				strbuf_add_json(sb, st->event_names[e]);
				strbuf_adds(sb, ": {");
				json_value(sb, "interval", top_domain__value(d[i], ly, e, TOP_SPAN_INTERVAL), true);
				json_value(sb, "run", top_domain__value(d[i], ly, e, TOP_SPAN_TOTAL), false);
				strbuf_addc(sb, '}');
			}
			strbuf_addc(sb, '}');
			first = false;
		}
		strbuf_adds(sb, "}, \"overhead\": {");
		for (size_t e = 0; pd->is_vm && e < m->n_events; e++) {
			double oi = top_domain__overhead(d[i], e, TOP_SPAN_INTERVAL), ot = top_domain__overhead(d[i], e, TOP_SPAN_TOTAL);
			strbuf_adds(sb, e ? ", " : "");
			strbuf_add_json(sb, st->event_names[e]);
			json_overhead(sb, ": {\"interval\": ", oi);
			json_overhead(sb, ", \"run\": ", ot);
			strbuf_addc(sb, '}');
		}
		strbuf_adds(sb, "}}");
	}
	strbuf_adds(sb, "], ");
	free(d);
}

static void json_rows(const struct top_view *v, const struct top_status *st, size_t max_rows, struct strbuf *sb)
{
	strbuf_adds(sb, "\"keys\": [");
	for (size_t k = 0; k < v->query.n_keys; k++)
		strbuf_addf(sb, "%s\"%s\"", k ? ", " : "", report_key__name(v->query.keys[k]));
	strbuf_addf(sb, "], \"total_rows\": %zu, \"rows\": [", v->n_rows);
	for (size_t i = 0; i < v->n_rows && (!max_rows || i < max_rows); i++) {
		const struct top_row *r = &v->rows[i];
		strbuf_adds(sb, i ? ", {" : "{");
		for (size_t k = 0; k < v->query.n_keys; k++) {
			strbuf_addf(sb, "%s\"%s\": ", k ? ", " : "", report_key__name(v->query.keys[k]));
			if (v->query.keys[k] == KEY_PID || v->query.keys[k] == KEY_TID)
				strbuf_adds(sb, r->keys[k]);
			else
				strbuf_add_json(sb, r->keys[k]);
		}
		for (size_t e = 0; e < v->n_events; e++) {
			_cleanup_free_ char *s = xasprintf("%s:samples", st->event_names[e]);
			_cleanup_free_ char *pe = xasprintf("%s:period", st->event_names[e]);
			_cleanup_free_ char *pc = xasprintf("%s:percent", st->event_names[e]);
			_cleanup_free_ char *b = xasprintf("%s:busy_percent", st->event_names[e]);
			strbuf_adds(sb, ", ");
			strbuf_add_json(sb, s);
			strbuf_addf(sb, ": %llu, ", (unsigned long long)r->interval[e].samples);
			strbuf_add_json(sb, pe);
			strbuf_addf(sb, ": %llu, ", (unsigned long long)r->interval[e].period);
			strbuf_add_json(sb, pc);
			strbuf_addf(sb, ": %.4f, ", report__percent(r->interval[e].period, v->interval_all[e].period));
			strbuf_add_json(sb, b);
			strbuf_adds(sb, ": ");
			busy_cell(sb, r, v, e, true);
		}
		strbuf_addf(sb, ", \"agent\": %s}", r->agent ? "true" : "false");
	}
	strbuf_adds(sb, "]");
}

void top_render__json(const struct top_model *m, const struct profile *p, const struct top_view *v,
		      const struct top_status *st, size_t max_rows, struct strbuf *out)
{
	strbuf_addf(out, "{\"format\": \"domprof-top\", \"version\": 1, \"time\": %.3f, \"interval_s\": %.3f, \"hostname\": ",
		    st->elapsed_s, st->interval_s);
	strbuf_add_json(out, st->hostname ? st->hostname : "");
	strbuf_addf(out, ", \"samples\": %llu, \"lost\": %llu, \"agents\": ", (unsigned long long)st->samples,
		    (unsigned long long)st->lost);
	if (st->agents)
		strbuf_add_json(out, st->agents);
	else
		strbuf_adds(out, "null");
	strbuf_adds(out, ", \"events\": [");
	for (size_t e = 0; e < m->n_events; e++) {
		strbuf_adds(out, e ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(out, st->event_names[e]);
		strbuf_addf(out, ", \"unit\": \"%s\", \"interval_period\": %llu, \"run_period\": %llu}",
			    st->units && st->units[e] == EVENT_UNIT_NS ? "ns" : "count",
			    (unsigned long long)v->interval_all[e].period, (unsigned long long)v->total_all[e].period);
	}
	strbuf_adds(out, "], ");
	json_domains(m, p, st, out);
	json_rows(v, st, max_rows, out);
	strbuf_adds(out, "}\n");
}

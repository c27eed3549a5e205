/* Exporting as the JSON document of docs/export.md ("format":
 * "domprof-export"): the session's metadata, the view and its filters,
 * the events, the domains, then every aggregated sample with its stack,
 * heaviest first. */
#define _GNU_SOURCE
#include "export-internal.h"


static int json_sample_cmp(const void *a, const void *b, void *ctx)
{
	const struct export_profile *p = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const uint64_t *vx = export_profile__values(p, x), *vy = export_profile__values(p, y);
	const struct ex_sample *sx = &p->samples[x], *sy = &p->samples[y];
	for (size_t e = 0; e < p->n_events; e++)
		if (vx[e * 2 + 1] != vy[e * 2 + 1])
			return vx[e * 2 + 1] > vy[e * 2 + 1] ? -1 : 1;
	for (size_t e = 0; e < p->n_events; e++)
		if (vx[e * 2] != vy[e * 2])
			return vx[e * 2] > vy[e * 2] ? -1 : 1;
#define CMP_FIELD(f) \
	if (sx->f != sy->f) \
		return sx->f < sy->f ? -1 : 1
	CMP_FIELD(domain);
	CMP_FIELD(layer);
	CMP_FIELD(thread);
	CMP_FIELD(image);
	CMP_FIELD(symbol);
	CMP_FIELD(address);
	CMP_FIELD(stack);
#undef CMP_FIELD
	return 0;
}

static void json_strv(struct strbuf *sb, char **v)
{
	if (!v) {
		strbuf_adds(sb, "null");
		return;
	}
	strbuf_adds(sb, "[");
	for (size_t i = 0; v[i]; i++) {
		if (i)
			strbuf_adds(sb, ", ");
		strbuf_add_json(sb, v[i]);
	}
	strbuf_adds(sb, "]");
}

/* {"symbol": ..., "image": ..., "address": ...} of one function. */
static void json_function(const struct export_profile *p, struct strbuf *sb, uint32_t image, uint32_t symbol,
			  uint64_t address)
{
	const struct catalog_symbol *y = session_catalog__symbol(&p->cat, symbol);
	const struct catalog_image *i = session_catalog__image(&p->cat, image);
	strbuf_adds(sb, "{\"symbol\": ");
	strbuf_add_json(sb, y ? y->name : "[unknown]");
	strbuf_adds(sb, ", \"image\": ");
	json_str_or_null(sb, i ? i->path : NULL);
	strbuf_addf(sb, ", \"address\": \"0x%llx\"}", (unsigned long long)(y ? y->address : address));
}

/* The document up to its samples: session, view, events. */
static void json_header(const struct export_profile *p, struct strbuf *sb)
{
	strbuf_adds(sb, "{\n  \"format\": \"domprof-export\",\n  \"version\": 1,\n  \"session\": {");
	for (size_t i = 0; i < p->n_meta; i++) {
		strbuf_adds(sb, i ? ",\n    " : "\n    ");
		strbuf_add_json(sb, p->meta[i].key);
		strbuf_adds(sb, ": ");
		strbuf_add_json(sb, p->meta[i].value);
	}
	strbuf_adds(sb, "\n  },\n  \"call_stacks\": ");
	json_str_or_null(sb, p->about.callchain);
	strbuf_addf(sb, ",\n  \"view\": {\"source\": \"%s\", \"domains\": ",
		    view_source__name(p->source));
	json_strv(sb, p->filter_domains);
	strbuf_adds(sb, ", \"layers\": ");
	json_strv(sb, p->filter_layers);
	strbuf_adds(sb, ", \"comms\": ");
	json_strv(sb, p->filter_comms);
	strbuf_addf(sb, ", \"idle\": %s, \"idle_note\": ", p->no_idle ? "false" : "true");
	json_str_or_null(sb, p->idle_note);
	strbuf_adds(sb, "},\n  \"events\": [");
	for (size_t e = 0; e < p->n_events; e++) {
		const struct report_event *ev = &p->events[e];
		strbuf_adds(sb, e ? ",\n    {\"name\": " : "\n    {\"name\": ");
		strbuf_add_json(sb, ev->name);
		strbuf_adds(sb, ", \"unit\": ");
		strbuf_add_json(sb, ev->unit);
		strbuf_addf(sb,
			    ", \"sample_period\": %llu, \"sample_freq\": %llu, \"samples\": %llu, \"period\": %llu,"
			    " \"lost\": %llu, \"filtered_samples\": %llu, \"filtered_period\": %llu}",
			    (unsigned long long)ev->sample_period, (unsigned long long)ev->sample_freq,
			    (unsigned long long)ev->samples, (unsigned long long)ev->period, (unsigned long long)ev->lost,
			    (unsigned long long)p->total_samples[e], (unsigned long long)p->total_period[e]);
	}
}

/* The domains within the filters. */
static void json_domains(const struct export_profile *p, struct strbuf *sb)
{
	bool first = true;
	strbuf_adds(sb, "\n  ],\n  \"domains\": [");
	for (uint32_t i = 0; i < p->cat.n_domains; i++) {
		const struct catalog_domain *d = session_catalog__domain(&p->cat, i);
		if (!d || !p->domain_shown[i])
			continue;
		strbuf_adds(sb, first ? "\n    {\"name\": " : ",\n    {\"name\": ");
		first = false;
		strbuf_add_json(sb, d->name);
		strbuf_adds(sb, ", \"kind\": ");
		json_str_or_null(sb, d->kind);
		if (d->has_pid)
			strbuf_addf(sb, ", \"pid\": %lld", (long long)d->pid);
		else
			strbuf_adds(sb, ", \"pid\": null");
		strbuf_adds(sb, ", \"vmm\": ");
		json_str_or_null(sb, d->vmm);
		strbuf_adds(sb, ", \"accel\": ");
		json_str_or_null(sb, d->accel);
		strbuf_adds(sb, ", \"uuid\": ");
		json_str_or_null(sb, d->uuid);
		strbuf_adds(sb, ", \"source\": ");
		json_str_or_null(sb, d->source);
		strbuf_addf(sb, ", \"complete\": %s, \"note\": ", d->complete ? "true" : "false");
		json_str_or_null(sb, d->note);
		strbuf_adds(sb, "}");
	}
}

struct json_stacks {
	char **frame_json; /* per frame id, built on first use */
	uint32_t *ids;
	size_t cap_ids;
};

/* One sample, its values per event and its stack, outermost first. */
static void json_sample(const struct export_profile *p, struct json_stacks *js, uint32_t i, bool first,
			struct strbuf *sb)
{
	const struct ex_sample *smp = &p->samples[i];
	const struct catalog_thread *t = session_catalog__thread(&p->cat, smp->thread);
	const struct catalog_image *img = session_catalog__image(&p->cat, smp->image);
	const struct catalog_symbol *y = session_catalog__symbol(&p->cat, smp->symbol);
	const uint64_t *v = export_profile__values(p, i);
	size_t n;
	strbuf_adds(sb, !first ? ",\n    {\"domain\": " : "\n    {\"domain\": ");
	strbuf_add_json(sb, session_catalog__domain_name(&p->cat, smp->domain));
	strbuf_adds(sb, ", \"layer\": ");
	strbuf_add_json(sb, p->layers[smp->layer]);
	strbuf_adds(sb, ", \"comm\": ");
	json_str_or_null(sb, t ? t->comm : NULL);
	if (t && t->has_pid)
		strbuf_addf(sb, ", \"pid\": %lld", (long long)t->pid);
	else
		strbuf_adds(sb, ", \"pid\": null");
	if (t && t->has_tid)
		strbuf_addf(sb, ", \"tid\": %lld", (long long)t->tid);
	else
		strbuf_adds(sb, ", \"tid\": null");
	strbuf_adds(sb, ", \"image\": ");
	json_str_or_null(sb, img ? img->path : NULL);
	strbuf_adds(sb, ", \"build_id\": ");
	json_str_or_null(sb, img ? img->build_id : NULL);
	strbuf_adds(sb, ", \"symbol\": ");
	strbuf_add_json(sb, y ? y->name : "[unknown]");
	strbuf_addf(sb, ", \"address\": \"0x%llx\", \"values\": {", (unsigned long long)smp->address);
	for (size_t e = 0; e < p->n_events; e++) {
		if (e)
			strbuf_adds(sb, ", ");
		strbuf_add_json(sb, p->events[e].name);
		strbuf_addf(sb, ": {\"samples\": %llu, \"period\": %llu}", (unsigned long long)v[e * 2],
			    (unsigned long long)v[e * 2 + 1]);
	}
	strbuf_adds(sb, "}, \"stack\": ");
	n = session_catalog__stack(&p->cat, smp->stack, &js->ids, &js->cap_ids);
	if (!n)
		strbuf_adds(sb, "null");
	else
		strbuf_adds(sb, "[");
	for (size_t j = n; j-- > 0;) {
		uint32_t f = js->ids[j];
		if (!js->frame_json[f]) {
			struct strbuf fj;
			strbuf_init(&fj);
			json_function(p, &fj, p->cat.frames[f].image, p->cat.frames[f].symbol, p->cat.frames[f].address);
			js->frame_json[f] = strbuf_detach(&fj);
			strbuf_release(&fj); /* detach leaves a fresh buffer */
		}
		strbuf_adds(sb, js->frame_json[f]);
		if (j)
			strbuf_adds(sb, ", ");
	}
	strbuf_adds(sb, n ? "]}" : "}");
}

int export_profile__write_json(const struct export_profile *p, FILE *out)
{
	struct json_stacks js = { 0 };
	struct strbuf sb;
	uint32_t *order;

	strbuf_init(&sb);
	json_header(p, &sb);
	json_domains(p, &sb);
	strbuf_adds(&sb, "\n  ],\n  \"samples\": [");
	fputs(sb.buf, out);
	order = xmalloc((p->n_samples ? p->n_samples : 1) * sizeof(*order));
	for (size_t i = 0; i < p->n_samples; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, p->n_samples, sizeof(*order), json_sample_cmp, (void *)p);
	js.frame_json = xcalloc(p->cat.n_frames + 1, sizeof(*js.frame_json));
	for (size_t k = 0; k < p->n_samples; k++) {
		strbuf_reset(&sb);
		json_sample(p, &js, order[k], k == 0, &sb);
		fputs(sb.buf, out);
	}
	fputs("\n  ]\n}\n", out);
	for (size_t f = 0; f <= p->cat.n_frames; f++)
		free(js.frame_json[f]);
	free(js.frame_json);
	free(js.ids);
	free(order);
	strbuf_release(&sb);
	return export__stream_status(out);
}

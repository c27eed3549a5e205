/* Exporting a session to pprof, folded stacks and JSON: the model the
 * writers render; see export.h and docs/export.md.
 *
 * Loading costs a fixed handful of queries whatever the session's size:
 * the catalog (lib/session/catalog.h: domains, threads, images, symbols,
 * frames, with its policy for damaged sessions) is read whole into arrays
 * indexed by id, and the samples of the report's view come in one pass
 * that is aggregated in a hash table, so a session of millions of samples
 * exports in about a second. The writers are export-folded.c,
 * export-pprof.c and export-json.c. */
#define _GNU_SOURCE
#include <errno.h>

#include "../util/hmap.h"
#include "../vocab/vocab.h"
#include "export-internal.h"

const char *const export_format__names[] = { [EXPORT_PPROF] = "pprof", [EXPORT_FOLDED] = "folded",
					     [EXPORT_JSON] = "json", NULL };

int export_format__parse(const char *s, enum export_format *ret)
{
	for (int i = 0; export_format__names[i]; i++)
		if (streq(s, export_format__names[i])) {
			*ret = (enum export_format)i;
			return 0;
		}
	return -EINVAL;
}

int export_value__parse(const char *s, enum export_value *ret)
{
	if (streq(s, "period"))
		*ret = EXPORT_VALUE_PERIOD;
	else if (streq(s, "samples"))
		*ret = EXPORT_VALUE_SAMPLES;
	else
		return -EINVAL;
	return 0;
}

size_t export_profile__n_events(const struct export_profile *p) { return p->n_events; }
const struct report_event *export_profile__event(const struct export_profile *p, size_t e) { return &p->events[e]; }
uint64_t export_profile__total_samples(const struct export_profile *p, size_t e) { return p->total_samples[e]; }
uint64_t export_profile__total_period(const struct export_profile *p, size_t e) { return p->total_period[e]; }
size_t export_profile__n_samples(const struct export_profile *p) { return p->n_samples; }

int export__stream_status(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

static char **strv_copy(char **v)
{
	size_t n = 0;
	char **c;
	if (!v)
		return NULL;
	while (v[n])
		n++;
	c = xcalloc(n + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

static uint32_t layer_intern(struct export_profile *p, const char *name)
{
	for (size_t i = 0; i < p->n_layers; i++)
		if (streq(p->layers[i], name))
			return (uint32_t)i;
	ARRAY_GROW(p->layers, p->cap_layers, p->n_layers + 1);
	p->layers[p->n_layers] = xstrdup(name);
	return (uint32_t)p->n_layers++;
}

static uint64_t sample_hash(const struct ex_sample *k)
{
	uint64_t h = hash_u64(k->domain);
	h = hash_mix(h, k->thread);
	h = hash_mix(h, k->image);
	h = hash_mix(h, k->symbol);
	h = hash_mix(h, k->stack);
	h = hash_mix(h, k->layer);
	return hash_mix(h, k->address);
}

static bool sample_eq(const struct ex_sample *a, const struct ex_sample *b)
{
	return a->domain == b->domain && a->thread == b->thread && a->image == b->image && a->symbol == b->symbol &&
	       a->stack == b->stack && a->layer == b->layer && a->address == b->address;
}

/* The aggregated row of key k, made on first use; UINT32_MAX when the
 * model is full. */
static uint32_t sample_row(struct export_profile *p, struct hmap *index, const struct ex_sample *k)
{
	uint64_t h = sample_hash(k);
	size_t pos, nv;
	uint32_t idx;
	for (pos = hmap_first(index, h); hmap_candidate(index, pos, h, &idx); pos = hmap_next(index, pos))
		if (idx != UINT32_MAX && sample_eq(&p->samples[idx], k))
			return idx;
	if (p->n_samples >= UINT32_MAX - 1)
		return UINT32_MAX;
	ARRAY_GROW(p->samples, p->cap_samples, p->n_samples + 1);
	idx = (uint32_t)p->n_samples++;
	p->samples[idx] = *k;
	nv = p->n_samples * p->n_events * 2;
	if (nv > p->cap_values) {
		size_t old = p->cap_values;
		ARRAY_GROW(p->values, p->cap_values, nv);
		memset(p->values + old, 0, (p->cap_values - old) * sizeof(uint64_t));
	}
	hmap_insert_at(index, pos, h, idx);
	return idx;
}

static const enum view_column sample_columns[] = {
	VIEW_EVENT_ID, VIEW_DOMAIN_ID, VIEW_LAYER, VIEW_THREAD_ID, VIEW_IMAGE_ID, VIEW_SYMBOL_ID, VIEW_ADDRESS, VIEW_STACK_ID,
};

/* One sample row of the view into the model: 0, or -E2BIG when full. */
static int add_sample(struct export_profile *p, struct hmap *index, struct view_rows *rows, const struct view_row *v,
		      size_t *last_e)
{
	int64_t event = view_rows__int(rows, 0);
	const char *layer = view_rows__text(rows, 2);
	struct ex_sample k;
	uint64_t *values;
	uint32_t idx;
	/* Rows come grouped by event more often than not. */
	if (p->events[*last_e].id != event) {
		int e = report_events__index(p->events, p->n_events, event);
		if (e < 0)
			return 0; /* an event not asked for */
		*last_e = (size_t)e;
	}
	k.domain = (uint32_t)view_rows__int(rows, 1);
	k.layer = layer_intern(p, layer);
	k.thread = (uint32_t)view_rows__int(rows, 3);
	k.image = (uint32_t)view_rows__int(rows, 4);
	k.symbol = (uint32_t)view_rows__int(rows, 5);
	k.address = (uint64_t)view_rows__int(rows, 6);
	k.stack = (uint32_t)view_rows__int(rows, 7);
	idx = sample_row(p, index, &k);
	if (idx == UINT32_MAX)
		return -E2BIG;
	values = export_profile__values(p, idx);
	values[*last_e * 2] += v->count;
	values[*last_e * 2 + 1] += v->period;
	p->total_samples[*last_e] += v->count;
	p->total_period[*last_e] += v->period;
	return 0;
}

static int load_samples(struct session *s, const struct report_query *q, struct export_profile *p, char **ret_error)
{
	struct view_filter f = report_query__filter(q);
	struct view_rows *rows;
	struct view_row v;
	struct hmap index;
	size_t last_e = 0;
	int r;

	for (size_t i = 0; i < LAYER__COUNT; i++)
		layer_intern(p, layer__name((enum layer)i));
	r = view_rows__open(s, &f, sample_columns, ARRAY_SIZE(sample_columns), false, &rows, ret_error);
	if (r < 0)
		return r;
	hmap_init(&index);
	while ((r = view_rows__next(rows, &v, ret_error)) > 0)
		if ((r = add_sample(p, &index, rows, &v, &last_e)) < 0) {
			*ret_error = xasprintf("%s holds more sample rows than export can hold", session__path(s));
			break;
		}
	view_rows__close(rows);
	hmap_release(&index);
	return r;
}

static void mark_shown_domains(struct export_profile *p, const struct report_query *q)
{
	p->domain_shown = xcalloc(p->cat.n_domains + 1, sizeof(bool));
	for (uint32_t i = 0; i < p->cat.n_domains; i++) {
		const struct catalog_domain *d = session_catalog__domain(&p->cat, i);
		p->domain_shown[i] = d && strv_contains(q->domains, d->name) &&
				     !(q->no_idle && d->kind && domain_kind__from_name(d->kind) == DOMAIN_IDLE);
	}
}

int export_profile__load(struct session *s, const struct report_query *q, struct export_profile **ret,
			 char **ret_error)
{
	struct export_profile *p = xcalloc(1, sizeof(*p));
	int r;

	p->session_path = xstrdup(session__path(s));
	p->source = q->source;
	p->filter_domains = strv_copy(q->domains);
	p->filter_layers = strv_copy(q->layers);
	p->filter_comms = strv_copy(q->comms);
	p->no_idle = q->no_idle;
	if (session__idle_note(s))
		p->idle_note = xstrdup(session__idle_note(s));
	session__read_about(s, &p->about);
	if ((r = session__read_meta(s, &p->meta, &p->n_meta, ret_error)) < 0 ||
	    (r = report__load_events(s, q->events, &p->events, &p->n_events, ret_error)) < 0)
		goto fail;
	p->total_samples = xcalloc(p->n_events, sizeof(uint64_t));
	p->total_period = xcalloc(p->n_events, sizeof(uint64_t));
	if ((r = session_catalog__load(s, CATALOG_ALL, &p->cat, ret_error)) < 0)
		goto fail;
	mark_shown_domains(p, q);
	if ((r = load_samples(s, q, p, ret_error)) < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	export_profile__free(p);
	return r;
}

void export_profile__free(struct export_profile *p)
{
	if (!p)
		return;
	free(p->session_path);
	free(p->idle_note);
	strv_free(p->filter_domains);
	strv_free(p->filter_layers);
	strv_free(p->filter_comms);
	session_meta__free(p->meta, p->n_meta);
	session_about__release(&p->about);
	report_events__free(p->events, p->n_events);
	free(p->total_samples);
	free(p->total_period);
	session_catalog__release(&p->cat);
	free(p->domain_shown);
	for (size_t i = 0; i < p->n_layers; i++)
		free(p->layers[i]);
	free(p->layers);
	free(p->samples);
	free(p->values);
	free(p);
}

/* The report's query: sort keys, filters, events, and the small rules
 * every model shares (percentages, a sample's stack as functions); see
 * report.h. The models are table.c (rows), callgraph.c (rows over call
 * stacks) and layers.c (domains and layers); rendering is format.c. All
 * of them read samples through one view (lib/session/view.h). */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>

#include "../util/util.h"

static const char *const key_names[KEY__COUNT] = { "domain", "layer", "comm", "pid", "tid", "image", "symbol" };

const char *report_key__name(enum report_key k) { return (unsigned)k < KEY__COUNT ? key_names[k] : "?"; }

char **strv_split(const char *text)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		if (!*p)
			continue;
		ARRAY_GROW(v, cap, n + 2);
		v[n++] = xstrdup(p);
	}
	ARRAY_GROW(v, cap, n + 1);
	v[n] = NULL;
	return v;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

bool strv_contains(char **list, const char *s)
{
	if (!list)
		return true;
	for (char **p = list; *p; p++)
		if (streq(*p, s))
			return true;
	return false;
}

int report_query__parse_keys(struct report_query *q, const char *text, char **ret_error)
{
	char **v = strv_split(text);
	q->n_keys = 0;
	for (char **p = v; *p; p++) {
		int k = -1;
		for (int i = 0; i < KEY__COUNT; i++)
			if (streq(*p, key_names[i]))
				k = i;
		if (k < 0) {
			*ret_error = xasprintf("unknown sort key '%s' (known: domain, layer, comm, pid, tid, image, symbol)", *p);
			strv_free(v);
			return -EINVAL;
		}
		for (size_t i = 0; i < q->n_keys; i++)
			if ((int)q->keys[i] == k) {
				*ret_error = xasprintf("sort key '%s' given twice", *p);
				strv_free(v);
				return -EINVAL;
			}
		q->keys[q->n_keys++] = (enum report_key)k;
	}
	strv_free(v);
	if (!q->n_keys) {
		*ret_error = xstrdup("no sort keys given");
		return -EINVAL;
	}
	return 0;
}

struct view_filter report_query__filter(const struct report_query *q)
{
	return (struct view_filter){
		.source = q->source,
		.domains = q->domains,
		.layers = q->layers,
		.comms = q->comms,
		.no_idle = q->no_idle,
	};
}

double event_value(const struct report_event *e, uint64_t period)
{
	return streq(e->unit, "ns") ? (double)period / 1e6 : (double)period;
}

const char *event_value_unit(const struct report_event *e) { return streq(e->unit, "ns") ? "msec" : "count"; }

void report_events__free(struct report_event *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].unit);
	}
	free(e);
}

/* Every event named in filter must be in the session. */
static int check_events(struct session *s, char **filter, const struct report_event *ev, size_t n, char **ret_error)
{
	for (char **p = filter; p && *p; p++) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found |= streq(ev[i].name, *p);
		if (!found) {
			*ret_error = xasprintf("event '%s' is not in %s", *p, session__path(s));
			return -ENOENT;
		}
	}
	if (!n) {
		*ret_error = xasprintf("%s holds no events", session__path(s));
		return -ENOENT;
	}
	return 0;
}

int report__load_events(struct session *s, char **filter, struct report_event **ret, size_t *ret_n, char **ret_error)
{
	struct session_event *all;
	struct report_event *ev;
	size_t n_all, n = 0;
	int r = session__read_events(s, &all, &n_all, ret_error);
	if (r < 0)
		return r;
	ev = xcalloc(n_all + 1, sizeof(*ev));
	for (size_t i = 0; i < n_all; i++) {
		if (!strv_contains(filter, all[i].name))
			continue;
		ev[n] = (struct report_event){
			.id = all[i].id,
			.name = xstrdup(all[i].name),
			.unit = xstrdup(all[i].unit),
			.samples = all[i].samples,
			.period = all[i].period,
			.lost = all[i].lost,
			.sample_period = all[i].sample_period,
			.sample_freq = all[i].sample_freq,
		};
		n++;
	}
	session_events__free(all, n_all);
	r = check_events(s, filter, ev, n, ret_error);
	if (r < 0) {
		report_events__free(ev, n);
		return r;
	}
	*ret = ev;
	*ret_n = n;
	return 0;
}

int report_events__index(const struct report_event *ev, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].id == id)
			return (int)i;
	return -1;
}

size_t report__stack_functions(const struct session_catalog *c, uint32_t stack, uint32_t image, uint32_t symbol,
			       struct report_function *out, size_t max)
{
	const struct catalog_image *img;
	const struct catalog_symbol *y;
	size_t n = 0;
	if (!stack) {
		img = session_catalog__image(c, image);
		y = session_catalog__symbol(c, symbol);
		out[0].image = img ? img->path : "[unknown]";
		out[0].symbol = y ? y->name : "[unknown]";
		return 1;
	}
	/* Bounded walk: a corrupt session cannot loop us forever. */
	for (const struct catalog_frame *f = session_catalog__frame(c, stack); f && n < max;
	     f = session_catalog__frame(c, f->parent)) {
		img = session_catalog__image(c, f->image);
		y = session_catalog__symbol(c, f->symbol);
		out[n].image = img ? img->path : "[unknown]";
		out[n].symbol = y ? y->name : "[unknown]";
		n++;
	}
	return n;
}

double report__percent(uint64_t part, uint64_t total)
{
	return total ? 100.0 * (double)part / (double)total : 0.0;
}

double report__busy_percent(uint64_t period, uint64_t idle_part, uint64_t busy_period)
{
	if (period && idle_part >= period)
		return -1;
	return report__percent(period - MIN(idle_part, period), busy_period);
}

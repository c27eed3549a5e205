/* Picking hot functions and reading their code; see hot-code.h. */
#include "hot-code.h"

#include "../util/util.h"

struct hot {
	uint32_t symbol;
	double share;
};

static int hot_cmp(const void *a, const void *b)
{
	const struct hot *x = a, *y = b;
	return x->share > y->share ? -1 : x->share < y->share;
}

struct line_list {
	struct code_line *lines;
	size_t n, cap;
};

static void add_line(uint64_t addr, const char *file, int line, void *ctx)
{
	struct line_list *l = ctx;
	if (l->n >= 65536)
		return;
	ARRAY_GROW(l->lines, l->cap, l->n + 1);
	l->lines[l->n++] = (struct code_line){ addr, xstrdup(file), line };
}

/* The host's own registry image behind a profile image id, or NULL. Only
 * images of the host's domain are ever read: one an agent described is a
 * guest's, whatever kind or path it claims, and its code comes only from
 * the agent's own CODE frames (docs/security.md, rule 1). An ELF file no
 * process has mapped for a while left the registry (machine__reap): it is
 * opened again by its path, and read only if its build-id is still the
 * one recorded (one without a build-id keeps its record). */
static struct image *image_of(struct collector *c, uint32_t profile_image)
{
	struct profile_image *pi = &c->profile->images[profile_image - 1];
	uint8_t id[20];
	uint8_t n = 0;
	char hex[41];
	if (pi->domain != c->machine.host_domain)
		return NULL;
	if (pi->kind == IMAGE_MODULE)
		return image_registry__host_kernel(&c->machine.images);
	for (size_t i = 0; i < c->machine.images.n; i++)
		if (c->machine.images.images[i]->user_id == profile_image)
			return c->machine.images.images[i];
	if (pi->kind != IMAGE_ELF || !pi->build_id[0] || pi->path[0] != '/')
		return NULL;
	if (elf__read_build_id(pi->path, id, &n) < 0 || !build_id__hex(id, n, hex) || !streq(hex, pi->build_id))
		return NULL;
	return image_registry__get(&c->machine.images, IMAGE_ELF, pi->path);
}

/* Each symbol's best share of some event's period, from the host's own
 * samples only: what an agent claims must not decide which host functions
 * are hot. The symbols at min_share or more, hottest first, in *ret. */
static size_t hot_symbols(const struct collector *c, double min_share, struct hot **ret)
{
	const struct profile *p = c->profile;
	size_t n_events = c->n_events ? c->n_events : 1;
	double *period = xcalloc(p->n_symbols + 1, sizeof(double) * n_events);
	double *total = xcalloc(n_events, sizeof(double));
	struct hot *hot = NULL;
	size_t n_hot = 0, cap = 0;

	for (size_t i = 0; i < p->n_samples; i++) {
		const struct sample_entry *e = &p->samples[i];
		if (e->key.event == 0 || e->key.event > c->n_events || e->key.origin != ORIGIN_HOST)
			continue;
		total[e->key.event - 1] += (double)e->period;
		if (e->key.symbol)
			period[(size_t)e->key.symbol * c->n_events + e->key.event - 1] += (double)e->period;
	}
	/* What left memory counts as it did when it was there. */
	for (size_t ev = 0; ev < c->n_events; ev++)
		total[ev] += (double)c->dropped_total[ev];
	for (size_t s = 1; s < c->n_dropped_symbols && s <= p->n_symbols; s++)
		for (size_t ev = 0; ev < c->n_events; ev++)
			period[s * c->n_events + ev] += (double)c->dropped_period[s * c->n_events + ev];
	for (uint32_t s = 1; s <= p->n_symbols; s++) {
		double best = 0;
		for (size_t ev = 0; ev < c->n_events; ev++)
			if (total[ev] > 0)
				best = MAX(best, period[(size_t)s * c->n_events + ev] / total[ev]);
		if (best >= min_share && best > 0) {
			ARRAY_GROW(hot, cap, n_hot + 1);
			hot[n_hot++] = (struct hot){ s, best };
		}
	}
	if (n_hot > 1)
		qsort(hot, n_hot, sizeof(*hot), hot_cmp);
	free(period);
	free(total);
	*ret = hot;
	return n_hot;
}

void collector__keep_hot_symbols(const struct collector *c, double min_share, struct profile_id_map *keep)
{
	struct hot *hot;
	size_t n = hot_symbols(c, min_share, &hot);
	for (size_t i = 0; i < n; i++)
		profile_id_map__keep(keep, hot[i].symbol);
	free(hot);
}

size_t collector__collect_code(struct collector *c, size_t max_symbols, double min_share, struct symbol_code **ret)
{
	struct profile *p = c->profile;
	struct hot *hot;
	size_t n_hot = hot_symbols(c, min_share, &hot), done = 0;
	struct symbol_code *codes = xcalloc(MIN(n_hot, max_symbols) + 1, sizeof(*codes));

	for (size_t i = 0; i < n_hot && done < max_symbols; i++) {
		struct profile_symbol *ps = &p->symbols[hot[i].symbol - 1];
		struct image *im = image_of(c, ps->image);
		struct symbol_code *sc = &codes[done];
		struct line_list lines = { 0 };
		void *code = NULL;
		*sc = (struct symbol_code){ 0 };
		if (!im || image__read_code(im, ps->address, ps->size, &code, &sc->len) < 0)
			continue;
		sc->symbol = hot[i].symbol;
		sc->address = ps->address;
		sc->code = code;
		image__source_lines(im, ps->address, ps->size, add_line, &lines);
		sc->lines = lines.lines;
		sc->n_lines = lines.n;
		done++;
	}
	for (size_t i = 0; i < c->machine.images.n; i++)
		image__drop_dwarf(c->machine.images.images[i]);
	free(hot);
	*ret = codes;
	return done;
}

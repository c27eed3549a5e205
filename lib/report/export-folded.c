/* Exporting as FlameGraph folded stacks: one line per distinct stack,
 * "domain;layer;comm;frame;...;frame COUNT", outermost frame first, names
 * escaped as docs/export.md says, lines sorted. */
#define _GNU_SOURCE
#include <errno.h>

#include "../util/hmap.h"
#include "export-internal.h"

void export__folded_escape(struct strbuf *sb, const char *s)
{
	/* The format's own ';' and '%', and every character text_sanitize
	 * would replace (controls, bidi characters, invalid UTF-8), are
	 * percent-encoded, byte by byte. */
	while (*s) {
		bool safe;
		size_t n = text_char(s, &safe);
		if (!safe || *s == ';' || *s == '%')
			for (size_t i = 0; i < n; i++)
				strbuf_addf(sb, "%%%02X", (unsigned char)s[i]);
		else
			strbuf_add(sb, s, n);
		s += n;
	}
}

/* A function's name in folded lines (escaped), or "[unknown] (image)". */
static void folded_function(const struct export_profile *p, struct strbuf *sb, uint32_t image, uint32_t symbol)
{
	const struct catalog_symbol *y = session_catalog__symbol(&p->cat, symbol);
	const struct catalog_image *i;
	if (y) {
		export__folded_escape(sb, y->name);
		return;
	}
	i = session_catalog__image(&p->cat, image);
	strbuf_adds(sb, "[unknown]");
	if (i && !streq(i->base, "[unknown]")) {
		strbuf_adds(sb, " (");
		export__folded_escape(sb, i->base);
		strbuf_adds(sb, ")");
	}
}

struct folded_line {
	char *text;
	uint64_t value;
};

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text, ((const struct folded_line *)b)->text);
}

/* What a folded line depends on: samples that differ only in address (or
 * in the address of an unresolved leaf) share one, so the values are
 * summed per key first and a line is built once per key. */
struct folded_key {
	uint32_t domain, layer, thread, stack, image, symbol;
	uint64_t value;
};

static uint64_t folded_key_hash(const struct folded_key *k)
{
	uint64_t h = hash_u64(k->domain);
	h = hash_mix(h, k->layer);
	h = hash_mix(h, k->thread);
	h = hash_mix(h, k->stack);
	h = hash_mix(h, k->image);
	return hash_mix(h, k->symbol);
}

static bool folded_key_eq(const struct folded_key *a, const struct folded_key *b)
{
	return a->domain == b->domain && a->layer == b->layer && a->thread == b->thread && a->stack == b->stack &&
	       a->image == b->image && a->symbol == b->symbol;
}

int export_profile__write_folded(const struct export_profile *p, size_t e, enum export_value v, FILE *out)
{
	struct folded_line *lines = NULL;
	struct folded_key *keys = NULL;
	size_t n_lines = 0, cap_lines = 0, n_keys = 0, cap_keys = 0, cap_ids = 0;
	uint32_t *ids = NULL;
	struct hmap index;
	struct strbuf sb;

	if (e >= p->n_events)
		return -EINVAL;
	hmap_init(&index);
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct ex_sample *smp = &p->samples[i];
		uint64_t value = export_profile__values(p, i)[e * 2 + (v == EXPORT_VALUE_PERIOD)];
		struct folded_key k = { .domain = smp->domain, .layer = smp->layer, .thread = smp->thread };
		uint64_t h;
		size_t pos;
		uint32_t idx;
		bool found = false;
		if (!value)
			continue;
		if (session_catalog__frame(&p->cat, smp->stack)) {
			k.stack = smp->stack;
		} else {
			k.image = smp->image;
			k.symbol = session_catalog__symbol(&p->cat, smp->symbol) ? smp->symbol : 0;
		}
		h = folded_key_hash(&k);
		for (pos = hmap_first(&index, h); hmap_candidate(&index, pos, h, &idx); pos = hmap_next(&index, pos))
			if (idx != UINT32_MAX && folded_key_eq(&keys[idx], &k)) {
				found = true;
				break;
			}
		if (!found) {
			ARRAY_GROW(keys, cap_keys, n_keys + 1);
			idx = (uint32_t)n_keys++;
			keys[idx] = k;
			hmap_insert_at(&index, pos, h, idx);
		}
		keys[idx].value += value;
	}
	hmap_release(&index);

	/* Keys whose text is equal (two threads of one comm, two unresolved
	 * addresses of one image in a caller) merge into one line. */
	hmap_init(&index);
	strbuf_init(&sb);
	for (size_t i = 0; i < n_keys; i++) {
		const struct folded_key *k = &keys[i];
		const struct catalog_thread *t = session_catalog__thread(&p->cat, k->thread);
		size_t n, pos;
		uint64_t h;
		uint32_t idx;
		bool found = false;
		strbuf_reset(&sb);
		export__folded_escape(&sb, session_catalog__domain_name(&p->cat, k->domain));
		strbuf_addc(&sb, ';');
		export__folded_escape(&sb, p->layers[k->layer]);
		strbuf_addc(&sb, ';');
		if (t && *t->comm)
			export__folded_escape(&sb, t->comm);
		else
			strbuf_adds(&sb, "[unknown]");
		n = session_catalog__stack(&p->cat, k->stack, &ids, &cap_ids);
		if (!n) {
			strbuf_addc(&sb, ';');
			folded_function(p, &sb, k->image, k->symbol);
		}
		while (n--) {
			const struct catalog_frame *f = &p->cat.frames[ids[n]];
			strbuf_addc(&sb, ';');
			folded_function(p, &sb, f->image, f->symbol);
		}
		h = hash_bytes(sb.buf, sb.len, 0);
		for (pos = hmap_first(&index, h); hmap_candidate(&index, pos, h, &idx); pos = hmap_next(&index, pos))
			if (idx != UINT32_MAX && streq(lines[idx].text, sb.buf)) {
				found = true;
				break;
			}
		if (!found) {
			ARRAY_GROW(lines, cap_lines, n_lines + 1);
			idx = (uint32_t)n_lines++;
			lines[idx].text = xstrndup(sb.buf, sb.len);
			lines[idx].value = 0;
			hmap_insert_at(&index, pos, h, idx);
		}
		lines[idx].value += k->value;
	}
	hmap_release(&index);
	strbuf_release(&sb);
	free(keys);
	free(ids);
	if (n_lines)
		qsort(lines, n_lines, sizeof(*lines), folded_cmp);
	for (size_t i = 0; i < n_lines; i++) {
		fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)lines[i].value);
		free(lines[i].text);
	}
	free(lines);
	return export__stream_status(out);
}


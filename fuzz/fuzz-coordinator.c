/* Fuzz target: what a running agent sends the coordinator (DATA deltas,
 * CODE, STARTED, FINAL, ...), applied to a real profile, with a small
 * memory budget and the clock advancing 100 ms per frame. Input: a
 * sequence of (u8 type, u16 length, payload); type 0xff stands for the
 * host sending STOP (after which CODE, FINAL and BYE are in order), 0xfe
 * for a flush (what the agent forgot leaves memory; every live counter
 * must still feed its own domain), 0xfd for FORGET agreed (before DATA),
 * 0xfc for a rotation (record --rotate: the session ends, the profile
 * restarts, the agent's live rows are interned again), 0xfb for FORGET and
 * THREAD_IDS agreed (before DATA: thread rows name their ids), 0xf9 for
 * FORGET and COMPACT agreed (before DATA: a frame may renumber the
 * agent's catalog to the rows it kept). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/coordinator.h"

/* Every live counter of the agent still feeds an entry of its own domain:
 * a dropped entry's slot, reused by another domain, is never fed. */
static void check_live(const struct delta_state *d, const struct profile *p)
{
	/* The agent's catalog ids name rows of the host's, in its domain
	 * (through rotations, which renumber the catalog). */
	for (size_t i = 0; i < d->n_images; i++)
		if (!d->images[i] || d->images[i] > p->n_images || p->images[d->images[i] - 1].domain != d->domain)
			abort();
	for (size_t i = 0; i < d->n_symbols; i++) {
		const struct profile_symbol *s = d->symbols[i] && d->symbols[i] <= p->n_symbols ? &p->symbols[d->symbols[i] - 1] : NULL;
		if (!s || !s->image || s->image > p->n_images || p->images[s->image - 1].domain != d->domain)
			abort();
	}
	for (size_t i = 0; i < d->n_frames; i++)
		if (!d->frames[i] || d->frames[i] > p->n_frames)
			abort();
	for (size_t i = 0; i < d->n_samples_known; i++) {
		const struct sample_entry *e;
		if (!d->samples[i].live)
			continue;
		e = &p->samples[d->samples[i].host];
		if (e->key.domain != d->domain || e->key.origin != ORIGIN_AGENT || e->key.image > p->n_images ||
		    e->key.symbol > p->n_symbols || e->key.stack > p->n_frames)
			abort();
		/* Its thread, if any, is a row of its domain the host holds. */
		if (e->key.thread) {
			bool found = false;
			for (size_t j = 0; j < p->n_threads && !found; j++)
				found = p->threads[j].id == e->key.thread && p->threads[j].domain == d->domain;
			if (!found)
				abort();
		}
	}
	for (size_t i = 0; i < d->n_timeline_known; i++) {
		const struct timeline_entry *e;
		if (!d->timeline[i].live)
			continue;
		e = &p->timeline[d->timeline[i].host];
		if (e->key.domain != d->domain || e->key.origin != ORIGIN_AGENT)
			abort();
	}
}

/* Catalog rows of the host's own (a program it sampled, its function and
 * call path), among the agent's: a rotation drops them. */
static void host_rows(struct profile *p)
{
	uint32_t img = profile__image(p, 1, "/usr/bin/host-program", NULL, IMAGE_ELF);
	profile__frame(p, 0, img, profile__symbol(p, img, "host_function", 0x1000, 16), 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[PROTO_KEY_BYTES] = { 0 };
	struct coordinator c;
	struct profile p;
	char *err = NULL;
	size_t off = 0;
	profile__init(&p);
	profile__domain(&p, "host", false);
	coordinator__init(&c, key, NULL, NULL);
	if (coordinator__add(&c, "vm=tcp:127.0.0.1:1", false, &err) < 0) {
		free(err);
		return 0;
	}
	coordinator__set_budget(&c, 4u << 20);
	coordinator__fake_running(&c, 0, &p, 2, 4, 1000000000ULL);
	for (uint64_t now = 1100000000ULL; off + 3 <= size; now += 100000000ULL) {
		uint8_t type = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		if (type == 0xff) {
			c.stop_ns = now;
			c.links[0].delta.stop_ns = now;
		} else if (type == 0xfe) {
			/* A flush: what the agent forgot and is written leaves memory. */
			profile__mark_written(&p);
			coordinator__forget(&c, &p);
			check_live(&c.links[0].delta, &p);
		} else if (type == 0xfc) {
			/* A rotation: the old session's last flush, the profile
			 * restarted, the agent's live rows interned again. */
			struct profile_catalog_map keep;
			const struct delta_state *d = &c.links[0].delta;
			size_t n_images = d->n_images, n_symbols = d->n_symbols;
			char **paths = calloc(n_images + 1, sizeof(char *)), **names = calloc(n_symbols + 1, sizeof(char *));
			host_rows(&p);
			/* What the agent's ids name, to find under their new ids. */
			for (size_t i = 0; i < n_images; i++)
				paths[i] = strdup(p.images[d->images[i] - 1].path);
			for (size_t i = 0; i < n_symbols; i++)
				names[i] = strdup(p.symbols[d->symbols[i] - 1].name);
			profile__mark_written(&p);
			profile_catalog_map__init(&keep, &p);
			coordinator__rotate_save(&c, &p, &keep);
			profile__restart(&p, &keep);
			coordinator__rotate_apply(&c, &p, &keep, now);
			profile_catalog_map__release(&keep);
			check_live(d, &p);
			for (size_t i = 0; i < n_images && i < d->n_images; i++)
				if (strcmp(p.images[d->images[i] - 1].path, paths[i]))
					abort();
			for (size_t i = 0; i < n_symbols && i < d->n_symbols; i++)
				if (strcmp(p.symbols[d->symbols[i] - 1].name, names[i]))
					abort();
			for (size_t i = 0; i < n_images; i++)
				free(paths[i]);
			for (size_t i = 0; i < n_symbols; i++)
				free(names[i]);
			free(paths);
			free(names);
			/* The host's own rows again: the agent's next ones come
			 * after them, so the next restart moves those. */
			host_rows(&p);
		} else if (type == 0xfd || type == 0xfb || type == 0xf9) {
			/* FORGET (and THREAD_IDS, or COMPACT) agreed, as the
			 * handshake would say: before any DATA. */
			if (!c.links[0].delta.frame)
				delta_state__set_caps(&c.links[0].delta,
						      PROTO_CAP_FORGET | (type == 0xfb ? PROTO_CAP_THREAD_IDS : 0) |
							      (type == 0xf9 ? PROTO_CAP_COMPACT : 0));
		} else if (coordinator__inject(&c, 0, &p, type, data + off, len, now) < 0) {
			break;
		}
		off += len;
	}
	/* Whatever got in, the budget was never passed. */
	if (c.links[0].budget.peak > c.links[0].budget.limit || c.links[0].budget.over_refunded)
		abort();
	coordinator__release(&c);
	profile__release(&p);
	return 0;
}

/* profile: the in-memory aggregate of a recording — the interned catalog
 * (domains, threads, images, symbols, stack nodes) and the sample and
 * timeline counters keyed on them. Recorder, agent and importer all fill a
 * profile; the session writer drains what changed since its last flush
 * (the "delta"); the protocol ships the same delta from agent to host.
 *
 * Catalog ids are 1-based indexes into each table (0 means "none") and
 * do not change within a session, so they can be written to it as primary
 * keys; a rotation renumbers them (profile__restart). Within a session
 * catalog rows are append-only; sample and timeline counters grow in place
 * and are tracked by a dirty list. Domain rows may be updated (dirty flag).
 *
 * A thread's or counter's session id is its own (`id`), not its place in
 * the array: a row that is written and can no longer change (its thread
 * exited, its timeline bucket is past), or a counter that has not changed
 * for a while, may be dropped from memory (profile__drop_threads,
 * profile__drop_samples, profile__drop_timeline) and its slot reused, so a
 * long recording holds what is alive, not all it has seen. A sample of a dropped key that still came would start a
 * new row of the same key: readers sum rows by key, so the session says
 * the same. A profile that never drops (agents, the importer) has
 * id == index + 1. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "../util/hmap.h"
#include "../vocab/vocab.h"

struct profile_domain {
	char *name;
	bool is_vm;
	bool is_idle;    /* the host's idle loop (kind "idle") */
	int64_t pid;     /* VMM process, -1 for the host or none */
	char *vmm;       /* qemu, firecracker, ... or NULL */
	char *accel;     /* kvm, tcg, ... or NULL */
	char *uuid;      /* SMBIOS system UUID, or NULL */
	char *source;    /* "host" or "host+agent" */
	bool complete;   /* false when its agent vanished mid-session */
	int64_t clock_offset_ns; /* agent clock minus host clock */
	int64_t start_skew_ns;   /* agent start minus host start */
	char *note;      /* free text: why incomplete, agent hostname... */
	bool dirty;
};

struct profile_thread {
	uint32_t id;  /* session row id; 0: a free slot */
	bool written; /* its row exists in the session */
	uint32_t domain;
	uint32_t pid, tid;
	char *comm;
	uint8_t role;
	int32_t vcpu; /* vCPU index, -1 when not a vCPU */
};

struct profile_image {
	uint32_t domain; /* whose file system it is from: host or a guest */
	char *path;
	char build_id[41]; /* hex, "" when unknown */
	uint8_t kind;
};

struct profile_symbol {
	uint32_t image;
	char *name;
	uint64_t address; /* image-relative (ELF virtual) address */
	uint64_t size;
};

/* The machine code of a profile symbol and its source lines, kept so that
 * annotate works from the session alone: harvested from the host's own
 * files (collect/hot-code.h), or sent by an agent for a guest's (CODE). */
struct code_line {
	uint64_t address;
	char *file;
	int line;
};

struct symbol_code {
	uint32_t symbol;  /* profile symbol id */
	uint64_t address; /* of the first byte */
	unsigned char *code;
	size_t len;
	struct code_line *lines;
	size_t n_lines;
};

/* Free n codes and their lines (and the array); accepts NULL. */
void symbol_codes__free(struct symbol_code *codes, size_t n);

struct profile_frame {
	uint32_t parent; /* stack node of the caller side, 0 at the root */
	uint32_t image;
	uint32_t symbol;
	uint64_t address;
};

struct sample_key {
	uint32_t event;
	uint32_t domain;
	uint32_t thread;
	uint32_t image;
	uint32_t symbol;
	uint32_t stack;
	uint64_t address;
	uint8_t layer;
	uint8_t origin;
};

struct sample_entry {
	struct sample_key key; /* event 0: a free slot */
	uint64_t count;
	uint64_t period;
	uint32_t id;  /* session row id */
	bool dirty;
	bool written; /* its row exists in the session */
	uint16_t flushed; /* p->flushes when last written */
};

struct timeline_key {
	uint32_t event;
	uint32_t domain;
	uint32_t bucket;
	uint8_t layer;
	uint8_t origin;
};

struct timeline_entry {
	struct timeline_key key; /* event 0: a free slot */
	uint64_t count;
	uint64_t period;
	uint32_t id;  /* session row id */
	bool dirty;
	bool written;
};

#define PROFILE_TABLE(type, name) \
	struct type *name;       \
	size_t n_##name, cap_##name; \
	size_t written_##name;   \
	struct hmap index_##name

#define PROFILE_RECENT_TIMELINE 16 /* a power of two */

struct profile {
	PROFILE_TABLE(profile_domain, domains);
	PROFILE_TABLE(profile_thread, threads);
	PROFILE_TABLE(profile_image, images);
	PROFILE_TABLE(profile_symbol, symbols);
	PROFILE_TABLE(profile_frame, frames);
	PROFILE_TABLE(sample_entry, samples);
	PROFILE_TABLE(timeline_entry, timeline);
	uint32_t *dirty_samples;
	size_t n_dirty_samples, cap_dirty_samples;
	uint32_t *dirty_timeline;
	size_t n_dirty_timeline, cap_dirty_timeline;
	/* The entries samples last added to, by their key less the bucket
	 * (profile__add_timeline): index + 1, 0 none. */
	uint32_t recent_timeline[PROFILE_RECENT_TIMELINE];
	/* Slots of dropped counters, reused first; the last ids given. */
	uint32_t *free_threads;
	size_t n_free_threads, cap_free_threads;
	uint32_t *free_samples;
	size_t n_free_samples, cap_free_samples;
	uint32_t *free_timeline;
	size_t n_free_timeline, cap_free_timeline;
	uint32_t last_thread_id, last_sample_id, last_timeline_id;
	/* profile__mark_written calls, wrapping: with sample_entry.flushed,
	 * how many flushes ago a counter last changed
	 * (profile__sample_idle). */
	uint16_t flushes;
	/* With track_drops (an agent's profile): what the drops freed since
	 * the agent's last DATA (thread ids, counter slots), for the
	 * coordinator to forget too (proto/delta.c); delta__encode empties
	 * them. */
	bool track_drops;
	/* With reuse_thread_ids too (the coordinator agreed to
	 * PROTO_CAP_THREAD_IDS): a dropped thread's id names the next new
	 * thread, so ids are bounded by the threads alive at once, not by all
	 * that ever were. Only where ids are not rows of a session (an
	 * agent's profile: its counters of an exited thread are dropped with
	 * it, so no entry names a reused id's old thread). */
	bool reuse_thread_ids;
	uint32_t *free_thread_ids;
	size_t n_free_thread_ids, cap_free_thread_ids;
	struct profile_drops {
		uint32_t *ids;
		size_t n, cap;
	} dropped_threads, dropped_samples, dropped_timeline;
};

void profile__init(struct profile *p);
void profile__release(struct profile *p);

/* Interning: return the id of an equal row, adding it when absent. */
uint32_t profile__domain(struct profile *p, const char *name, bool is_vm);
/* The domain of the host's idle loop, "idle", added on first use. */
uint32_t profile__idle_domain(struct profile *p);
uint32_t profile__thread(struct profile *p, uint32_t domain, uint32_t pid, uint32_t tid, const char *comm,
			 enum thread_role role, int32_t vcpu);
uint32_t profile__image(struct profile *p, uint32_t domain, const char *path, const char *build_id,
			enum image_kind kind);
uint32_t profile__symbol(struct profile *p, uint32_t image, const char *name, uint64_t address, uint64_t size);
uint32_t profile__frame(struct profile *p, uint32_t parent, uint32_t image, uint32_t symbol, uint64_t address);

static inline struct profile_domain *profile__domain_at(struct profile *p, uint32_t id) { return &p->domains[id - 1]; }
/* Look up without adding; 0 when absent. */
uint32_t profile__find_domain(const struct profile *p, const char *name);
void profile__domain_set(struct profile *p, uint32_t id, const char *field, const char *value);

/* Add to the counter of key; returns its index (stable) for bump. With
 * count and period 0 it only finds or makes the entry, which is written
 * once it counts something. */
uint32_t profile__add_sample(struct profile *p, const struct sample_key *key, uint64_t count, uint64_t period);
/* Add to a counter known by its index. */
void profile__bump_sample(struct profile *p, uint32_t idx, uint64_t count, uint64_t period);
/* Add to the timeline counter of key; returns its index (stable). */
uint32_t profile__add_timeline(struct profile *p, const struct timeline_key *key, uint64_t count, uint64_t period);
/* Add to a timeline counter known by its index. */
void profile__bump_timeline(struct profile *p, uint32_t idx, uint64_t count, uint64_t period);

/* Forget the delta: everything is considered written. */
void profile__mark_written(struct profile *p);
/* Flushes since the counter at e last changed (0: at the last one). A
 * count modulo 2^16: right for whoever looks more often than that. */
static inline uint16_t profile__sample_idle(const struct profile *p, const struct sample_entry *e)
{
	return (uint16_t)(p->flushes - e->flushed);
}

/* Drop from memory the sample counters that are written (or never
 * counted anything), unchanged since, and that done(e, ctx) lets go (one
 * that can no longer change, or idle: its key counting again is a new
 * counter, a new row); their slots are reused.
 * Indexes returned by profile__add_sample before are void (callers that
 * cache them clear their cache). Returns how many were dropped. */
size_t profile__drop_samples(struct profile *p, bool (*done)(const struct sample_entry *e, void *ctx), void *ctx);
/* The same for the host's timeline counters of buckets before bucket. */
size_t profile__drop_timeline(struct profile *p, uint32_t bucket);
/* The same for the timeline counters done(e, ctx) says are final. */
size_t profile__drop_timeline_if(struct profile *p, bool (*done)(const struct timeline_entry *e, void *ctx),
				 void *ctx);
/* Drop the written thread rows of the ids in exited (sorted, n of them):
 * their threads are gone. Drop their counters first. */
size_t profile__drop_threads(struct profile *p, const uint32_t *exited, size_t n);
/* The catalog rows that live on through a rotation, and their ids after
 * it (one map per table, by old id - 1). Before profile__restart a
 * nonzero entry marks a row to keep; what a kept row names is kept with
 * it (a symbol's image; a frame's caller, image and symbol). After it,
 * each entry is the row's new id, 0 for a row that went. */
struct profile_id_map {
	uint32_t *ids;
	size_t n;
};

struct profile_catalog_map {
	struct profile_id_map images, symbols, frames;
};

/* Sized to p's catalog, nothing marked. */
void profile_catalog_map__init(struct profile_catalog_map *m, const struct profile *p);
void profile_catalog_map__release(struct profile_catalog_map *m);

static inline void profile_id_map__keep(struct profile_id_map *m, uint32_t id)
{
	if (id && id <= m->n)
		m->ids[id - 1] = 1;
}

/* After the restart: the new id of an old one, 0 when it went. */
static inline uint32_t profile_id_map__get(const struct profile_id_map *m, uint32_t id)
{
	return id && id <= m->n ? m->ids[id - 1] : 0;
}

/* Start over for a new session (rotation), after a flush that left no
 * delta: counters and thread rows go (ids start again at 1; callers
 * forget the thread ids and counter indexes they cached); domains stay;
 * of the images, symbols and frames, only those keep marks (and what they
 * name) stay, renumbered in their order, to be written again into the new
 * session; keep (NULL: none) then maps their old ids to the new. Every
 * catalog id a caller cached is void: it interns again what it needs. So
 * a recording of days holds the catalog of one session, not of all the
 * code that ever ran. */
void profile__restart(struct profile *p, struct profile_catalog_map *keep);
/* Within a session (an agent's profile, which is no session's): drop the
 * catalog rows no live sample counter names, nor keep marks, nor what a
 * kept row names (profile__restart's rule), and renumber the rest in
 * their order; the counters stay, their keys renumbered. Call right after
 * a flush or delta (every row written). keep (sized by
 * profile_catalog_map__init) then maps old ids to new, 0 for a row that
 * went. Returns how many rows went. So an agent that runs for days holds
 * the catalog of what its live counters name, not of all the code that
 * ever ran in its guest. */
size_t profile__compact(struct profile *p, struct profile_catalog_map *keep);
/* Images, symbols and stack frames in memory. */
size_t profile__catalog_rows(const struct profile *p);
/* Counters in memory (live slots), for tests and benches. */
size_t profile__n_live_samples(const struct profile *p);

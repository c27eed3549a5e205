/* Exporting a session to pprof, folded stacks and JSON; see export.h and
 * docs/export.md.
 *
 * Loading costs a fixed handful of queries whatever the session's size:
 * the catalog tables (domains, threads, images, symbols, frames) are read
 * whole into arrays indexed by id, and the samples of the report view come
 * in one pass that is aggregated in a hash table, so a session of millions
 * of samples exports in about a second. Ids in a session are dense
 * (INTEGER PRIMARY KEYs from 1); a table whose ids are far sparser than
 * its row count is treated as damaged rather than allocated for.
 *
 * The pprof encoder is written by hand (lib/report/profile.proto lists the
 * fields): varints, length-delimited fields, packed repeated integers.
 * Nested messages are encoded into a scratch buffer first so their length
 * can precede them. Locations are function-level, as the frames table is:
 * one per (image, function), or per (image, address) where no function
 * covers the address; addresses are in the image's own address space (ELF
 * virtual addresses, runtime addresses for kernels). Strings are made valid
 * UTF-8 (proto3 requires it of string fields) by replacing bad bytes with
 * U+FFFD. */
#define _GNU_SOURCE
#include "export.h"

#include <errno.h>
#include <time.h>
#include <zlib.h>

#include "../util/hmap.h"
#include "../vocab/vocab.h"

/* ---- the loaded model ---- */

struct ex_domain {
	bool set, shown;
	char *name, *kind, *vmm, *accel, *uuid, *source, *note;
	int64_t pid;
	bool has_pid, complete;
};

struct ex_thread {
	bool set;
	uint32_t domain;
	int64_t pid, tid;
	bool has_pid, has_tid;
	char *comm;
};

struct ex_image {
	bool set;
	char *path, *build_id, *kind;
	const char *base; /* inside path */
};

struct ex_symbol {
	bool set;
	uint32_t image;
	char *name;
	uint64_t address;
};

struct ex_frame {
	bool set;
	uint32_t parent, image, symbol;
	uint64_t address;
};

struct ex_sample {
	uint32_t domain, thread, image, symbol, stack, layer;
	uint64_t address;
};

struct ex_meta {
	char *key, *value;
};

struct export_profile {
	char *session_path;
	enum report_source source;
	char **filter_domains, **filter_layers, **filter_comms;
	bool no_idle;     /* the host's idle loop left out */
	char *idle_note;  /* session__idle_note, or NULL */

	struct ex_meta *meta;
	size_t n_meta;

	struct report_event *events;
	size_t n_events;
	uint64_t *sample_period, *sample_freq; /* per event, from the events table */
	uint64_t *total_samples, *total_period; /* per event, within the filters */

	struct ex_domain *domains;
	size_t n_domains; /* array size: max id + 1 */
	struct ex_thread *threads;
	size_t n_threads;
	struct ex_image *images;
	size_t n_images;
	struct ex_symbol *symbols;
	size_t n_symbols;
	struct ex_frame *frames;
	size_t n_frames;

	char **layers; /* interned layer names */
	size_t n_layers, cap_layers;

	struct ex_sample *samples;
	size_t n_samples, cap_samples;
	/* (samples, period) per sample and event: values[(i * n_events + e) * 2 + {0,1}] */
	uint64_t *values;
	size_t cap_values;
};

static const char *domain_name(const struct export_profile *p, uint32_t id)
{
	return id < p->n_domains && p->domains[id].set ? p->domains[id].name : "[unknown]";
}

static const struct ex_thread *thread_at(const struct export_profile *p, uint32_t id)
{
	return id < p->n_threads && p->threads[id].set ? &p->threads[id] : NULL;
}

static const struct ex_image *image_at(const struct export_profile *p, uint32_t id)
{
	return id < p->n_images && p->images[id].set ? &p->images[id] : NULL;
}

static const struct ex_symbol *symbol_at(const struct export_profile *p, uint32_t id)
{
	return id < p->n_symbols && p->symbols[id].set ? &p->symbols[id] : NULL;
}

static const struct ex_frame *frame_at(const struct export_profile *p, uint32_t id)
{
	return id < p->n_frames && p->frames[id].set ? &p->frames[id] : NULL;
}

static uint64_t *sample_values(const struct export_profile *p, size_t i) { return &p->values[i * p->n_events * 2]; }

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

static bool in_list(char **list, const char *s)
{
	if (!list)
		return true;
	for (char **p = list; *p; p++)
		if (streq(*p, s))
			return true;
	return false;
}

static char *col_dup(sqlite3_stmt *st, int c)
{
	const unsigned char *v = sqlite3_column_text(st, c);
	return v ? xstrdup((const char *)v) : NULL;
}

static int sql_fail(struct session *s, const char *what, char **ret_error)
{
	*ret_error = xasprintf("cannot read the %s of %s: %s", what, session__path(s), session__error(s));
	return -EIO;
}

/* Size of an array indexed by the ids of table, or -EBADMSG when the ids
 * are too sparse to be a domprof session's. */
static int id_array_size(struct session *s, const char *table, size_t *ret, char **ret_error)
{
	_cleanup_free_ char *sql = xasprintf("SELECT COALESCE(MAX(id), 0), COUNT(*), COALESCE(MIN(id), 1) FROM %s", table);
	sqlite3_stmt *st;
	int64_t max, count, min;
	if (sqlite3_prepare_v2(session__db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(s, table, ret_error);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sql_fail(s, table, ret_error);
	}
	max = sqlite3_column_int64(st, 0);
	count = sqlite3_column_int64(st, 1);
	min = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (min < 1 || max > 4 * count + (1 << 20)) {
		*ret_error = xasprintf("%s is damaged: the ids of its %s table are not 1, 2, 3...", session__path(s), table);
		return -EBADMSG;
	}
	*ret = (size_t)max + 1;
	return 0;
}

/* Run sql and hand each row to fn with the row's id (column 0), bounded by
 * the array size n. */
static int load_table(struct session *s, const char *table, const char *sql, size_t *ret_n, void **array, size_t elem,
		      void (*fn)(void *entry, sqlite3_stmt *st), char **ret_error)
{
	sqlite3_stmt *st;
	size_t n;
	int r, rc;
	r = id_array_size(s, table, &n, ret_error);
	if (r < 0)
		return r;
	*array = xcalloc(n, elem);
	*ret_n = n;
	if (sqlite3_prepare_v2(session__db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(s, table, ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (id < 1 || (size_t)id >= n)
			continue;
		fn((char *)*array + (size_t)id * elem, st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(s, table, ret_error);
}

static void load_domain(void *entry, sqlite3_stmt *st)
{
	struct ex_domain *d = entry;
	if (d->set) /* a damaged session may repeat an id: the first row wins */
		return;
	const unsigned char *name = sqlite3_column_text(st, 1);
	d->set = true;
	d->name = xstrdup(name ? (const char *)name : "[unknown]");
	d->kind = col_dup(st, 2);
	d->has_pid = sqlite3_column_type(st, 3) != SQLITE_NULL;
	d->pid = sqlite3_column_int64(st, 3);
	d->vmm = col_dup(st, 4);
	d->accel = col_dup(st, 5);
	d->uuid = col_dup(st, 6);
	d->source = col_dup(st, 7);
	d->complete = sqlite3_column_int(st, 8) != 0;
	d->note = col_dup(st, 9);
}

static void load_thread(void *entry, sqlite3_stmt *st)
{
	struct ex_thread *t = entry;
	if (t->set) /* a damaged session may repeat an id: the first row wins */
		return;
	const unsigned char *comm = sqlite3_column_text(st, 4);
	t->set = true;
	t->domain = (uint32_t)sqlite3_column_int64(st, 1);
	t->has_pid = sqlite3_column_type(st, 2) != SQLITE_NULL;
	t->pid = sqlite3_column_int64(st, 2);
	t->has_tid = sqlite3_column_type(st, 3) != SQLITE_NULL;
	t->tid = sqlite3_column_int64(st, 3);
	t->comm = xstrdup(comm ? (const char *)comm : "");
}

static void load_image(void *entry, sqlite3_stmt *st)
{
	struct ex_image *i = entry;
	if (i->set) /* a damaged session may repeat an id: the first row wins */
		return;
	const unsigned char *path = sqlite3_column_text(st, 1);
	const char *slash;
	i->set = true;
	i->path = xstrdup(path ? (const char *)path : "[unknown]");
	i->build_id = col_dup(st, 2);
	if (i->build_id && !*i->build_id) {
		free(i->build_id);
		i->build_id = NULL;
	}
	i->kind = col_dup(st, 3);
	/* "[kernel.kallsyms]" and other bracketed names are their own basename. */
	slash = i->path[0] == '[' ? NULL : strrchr(i->path, '/');
	i->base = slash && slash[1] ? slash + 1 : i->path;
}

static void load_symbol(void *entry, sqlite3_stmt *st)
{
	struct ex_symbol *y = entry;
	if (y->set) /* a damaged session may repeat an id: the first row wins */
		return;
	const unsigned char *name = sqlite3_column_text(st, 2);
	y->set = true;
	y->image = (uint32_t)sqlite3_column_int64(st, 1);
	y->name = xstrdup(name ? (const char *)name : "[unknown]");
	y->address = (uint64_t)sqlite3_column_int64(st, 3);
}

static void load_frame(void *entry, sqlite3_stmt *st)
{
	struct ex_frame *f = entry;
	if (f->set) /* a damaged session may repeat an id: the first row wins */
		return;
	f->set = true;
	f->parent = (uint32_t)sqlite3_column_int64(st, 1);
	f->image = (uint32_t)sqlite3_column_int64(st, 2);
	f->symbol = (uint32_t)sqlite3_column_int64(st, 3);
	f->address = (uint64_t)sqlite3_column_int64(st, 4);
}

static int load_meta(struct session *s, struct export_profile *p, char **ret_error)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;
	if (sqlite3_prepare_v2(session__db(s), "SELECT key, value FROM meta ORDER BY key", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(s, "metadata", ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			continue;
		ARRAY_GROW(p->meta, cap, p->n_meta + 1);
		p->meta[p->n_meta].key = col_dup(st, 0);
		p->meta[p->n_meta].value = col_dup(st, 1);
		if (!p->meta[p->n_meta].value)
			p->meta[p->n_meta].value = xstrdup("");
		p->n_meta++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(s, "metadata", ret_error);
}

static const char *meta_get(const struct export_profile *p, const char *key)
{
	for (size_t i = 0; i < p->n_meta; i++)
		if (streq(p->meta[i].key, key))
			return p->meta[i].value;
	return NULL;
}

static int load_event_rates(struct session *s, struct export_profile *p, char **ret_error)
{
	sqlite3_stmt *st;
	int rc;
	p->sample_period = xcalloc(p->n_events, sizeof(uint64_t));
	p->sample_freq = xcalloc(p->n_events, sizeof(uint64_t));
	if (sqlite3_prepare_v2(session__db(s), "SELECT id, sample_period, sample_freq FROM events", -1, &st, NULL) !=
	    SQLITE_OK)
		return sql_fail(s, "events", ret_error);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t id = (uint32_t)sqlite3_column_int64(st, 0);
		for (size_t e = 0; e < p->n_events; e++)
			if (p->events[e].id == id) {
				p->sample_period[e] = (uint64_t)sqlite3_column_int64(st, 1);
				p->sample_freq[e] = (uint64_t)sqlite3_column_int64(st, 2);
			}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(s, "events", ret_error);
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

static int load_samples(struct session *s, const struct report_query *q, struct export_profile *p, char **ret_error)
{
	_cleanup_free_ char *columns = xasprintf("s.event_id, s.domain_id, s.layer, s.thread_id, s.image_id, s.symbol_id,"
						 " s.address, s.stack_id, s.count, %s",
						 report__period_sql(q->source));
	struct hmap index;
	sqlite3_stmt *st;
	size_t last_e = 0;
	const char *last_layer = NULL;
	uint32_t last_layer_id = 0;
	int r, rc;

	for (size_t i = 0; i < LAYER__COUNT; i++)
		layer_intern(p, layer__name((enum layer)i));
	r = report__prepare_samples(s, q, columns, NULL, &st, ret_error);
	if (r < 0)
		return r;
	hmap_init(&index);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t event = (uint32_t)sqlite3_column_int64(st, 0);
		const char *layer = (const char *)sqlite3_column_text(st, 2);
		uint64_t count = (uint64_t)sqlite3_column_int64(st, 8);
		uint64_t period = (uint64_t)sqlite3_column_int64(st, 9);
		struct ex_sample k;
		uint64_t h, *v;
		size_t pos, e;
		uint32_t idx;
		bool found = false;

		/* Rows come grouped by event more often than not. */
		if (p->events[last_e].id != event) {
			for (e = 0; e < p->n_events && p->events[e].id != event; e++)
				;
			if (e == p->n_events)
				continue; /* an event not asked for */
			last_e = e;
		}
		e = last_e;
		if (!layer)
			layer = "";
		if (!last_layer || strcmp(last_layer, layer) != 0) {
			last_layer_id = layer_intern(p, layer);
			last_layer = p->layers[last_layer_id];
		}
		k.domain = (uint32_t)sqlite3_column_int64(st, 1);
		k.layer = last_layer_id;
		k.thread = (uint32_t)sqlite3_column_int64(st, 3);
		k.image = (uint32_t)sqlite3_column_int64(st, 4);
		k.symbol = (uint32_t)sqlite3_column_int64(st, 5);
		k.address = (uint64_t)sqlite3_column_int64(st, 6);
		k.stack = (uint32_t)sqlite3_column_int64(st, 7);

		h = sample_hash(&k);
		for (pos = hmap_first(&index, h); hmap_candidate(&index, pos, h, &idx); pos = hmap_next(&index, pos))
			if (idx != UINT32_MAX && sample_eq(&p->samples[idx], &k)) {
				found = true;
				break;
			}
		if (!found) {
			size_t nv;
			if (p->n_samples >= UINT32_MAX - 1) {
				sqlite3_finalize(st);
				hmap_release(&index);
				*ret_error = xasprintf("%s holds more sample rows than export can hold", session__path(s));
				return -E2BIG;
			}
			ARRAY_GROW(p->samples, p->cap_samples, p->n_samples + 1);
			idx = (uint32_t)p->n_samples++;
			p->samples[idx] = k;
			nv = p->n_samples * p->n_events * 2;
			if (nv > p->cap_values) {
				size_t old = p->cap_values;
				ARRAY_GROW(p->values, p->cap_values, nv);
				memset(p->values + old, 0, (p->cap_values - old) * sizeof(uint64_t));
			}
			hmap_insert_at(&index, pos, h, idx);
		}
		v = sample_values(p, idx);
		v[e * 2] += count;
		v[e * 2 + 1] += period;
		p->total_samples[e] += count;
		p->total_period[e] += period;
	}
	sqlite3_finalize(st);
	hmap_release(&index);
	if (rc != SQLITE_DONE)
		return sql_fail(s, "samples", ret_error);
	return 0;
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
	r = load_meta(s, p, ret_error);
	if (r < 0)
		goto fail;
	r = report__load_events(s, q->events, &p->events, &p->n_events, ret_error);
	if (r < 0)
		goto fail;
	p->total_samples = xcalloc(p->n_events, sizeof(uint64_t));
	p->total_period = xcalloc(p->n_events, sizeof(uint64_t));
	r = load_event_rates(s, p, ret_error);
	if (r < 0)
		goto fail;
	r = load_table(s, "domains",
		       "SELECT id, name, kind, pid, vmm, accel, uuid, source, complete, note FROM domains",
		       &p->n_domains, (void **)&p->domains, sizeof(*p->domains), load_domain, ret_error);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < p->n_domains; i++)
		p->domains[i].shown = p->domains[i].set && in_list(q->domains, p->domains[i].name) &&
				      !(q->no_idle && p->domains[i].kind && streq(p->domains[i].kind, "idle"));
	r = load_table(s, "threads", "SELECT id, domain_id, pid, tid, comm FROM threads", &p->n_threads,
		       (void **)&p->threads, sizeof(*p->threads), load_thread, ret_error);
	if (r < 0)
		goto fail;
	r = load_table(s, "images", "SELECT id, path, build_id, kind FROM images", &p->n_images, (void **)&p->images,
		       sizeof(*p->images), load_image, ret_error);
	if (r < 0)
		goto fail;
	r = load_table(s, "symbols", "SELECT id, image_id, name, address FROM symbols", &p->n_symbols,
		       (void **)&p->symbols, sizeof(*p->symbols), load_symbol, ret_error);
	if (r < 0)
		goto fail;
	r = load_table(s, "frames", "SELECT id, parent_id, image_id, symbol_id, address FROM frames", &p->n_frames,
		       (void **)&p->frames, sizeof(*p->frames), load_frame, ret_error);
	if (r < 0)
		goto fail;
	r = load_samples(s, q, p, ret_error);
	if (r < 0)
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
	for (size_t i = 0; i < p->n_meta; i++) {
		free(p->meta[i].key);
		free(p->meta[i].value);
	}
	free(p->meta);
	report_events__free(p->events, p->n_events);
	free(p->sample_period);
	free(p->sample_freq);
	free(p->total_samples);
	free(p->total_period);
	for (size_t i = 0; i < p->n_domains; i++) {
		struct ex_domain *d = &p->domains[i];
		free(d->name);
		free(d->kind);
		free(d->vmm);
		free(d->accel);
		free(d->uuid);
		free(d->source);
		free(d->note);
	}
	free(p->domains);
	for (size_t i = 0; i < p->n_threads; i++)
		free(p->threads[i].comm);
	free(p->threads);
	for (size_t i = 0; i < p->n_images; i++) {
		free(p->images[i].path);
		free(p->images[i].build_id);
		free(p->images[i].kind);
	}
	free(p->images);
	for (size_t i = 0; i < p->n_symbols; i++)
		free(p->symbols[i].name);
	free(p->symbols);
	free(p->frames);
	for (size_t i = 0; i < p->n_layers; i++)
		free(p->layers[i]);
	free(p->layers);
	free(p->samples);
	free(p->values);
	free(p);
}

/* The frames of a stack, innermost first, into *ids. A chain longer than
 * the frames table has a cycle (a damaged file): it stops there. Returns
 * the number of frames; 0 when the stack id names no frame. */
static size_t stack_frames(const struct export_profile *p, uint32_t stack, uint32_t **ids, size_t *cap)
{
	size_t n = 0;
	for (uint32_t f = stack; frame_at(p, f) && n < p->n_frames; f = p->frames[f].parent) {
		ARRAY_GROW(*ids, *cap, n + 1);
		(*ids)[n++] = f;
	}
	return n;
}

static int stream_status(FILE *out)
{
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- folded stacks ---- */

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
	const struct ex_symbol *y = symbol_at(p, symbol);
	const struct ex_image *i;
	if (y) {
		export__folded_escape(sb, y->name);
		return;
	}
	i = image_at(p, image);
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
		uint64_t value = sample_values(p, i)[e * 2 + (v == EXPORT_VALUE_PERIOD)];
		struct folded_key k = { .domain = smp->domain, .layer = smp->layer, .thread = smp->thread };
		uint64_t h;
		size_t pos;
		uint32_t idx;
		bool found = false;
		if (!value)
			continue;
		if (frame_at(p, smp->stack)) {
			k.stack = smp->stack;
		} else {
			k.image = smp->image;
			k.symbol = symbol_at(p, smp->symbol) ? smp->symbol : 0;
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
		const struct ex_thread *t = thread_at(p, k->thread);
		size_t n, pos;
		uint64_t h;
		uint32_t idx;
		bool found = false;
		strbuf_reset(&sb);
		export__folded_escape(&sb, domain_name(p, k->domain));
		strbuf_addc(&sb, ';');
		export__folded_escape(&sb, p->layers[k->layer]);
		strbuf_addc(&sb, ';');
		if (t && *t->comm)
			export__folded_escape(&sb, t->comm);
		else
			strbuf_adds(&sb, "[unknown]");
		n = stack_frames(p, k->stack, &ids, &cap_ids);
		if (!n) {
			strbuf_addc(&sb, ';');
			folded_function(p, &sb, k->image, k->symbol);
		}
		while (n--) {
			const struct ex_frame *f = &p->frames[ids[n]];
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
	return stream_status(out);
}

/* ---- pprof ---- */

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_length(const unsigned char *s)
{
	uint32_t cp;
	size_t n;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

struct strtab {
	char **strings;
	size_t n, cap;
	struct hmap index;
	struct strbuf scratch;
};

static uint32_t strtab__intern(struct strtab *t, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	uint64_t h;
	size_t pos;
	uint32_t idx;
	/* Replace what is not UTF-8 (a foreign or hostile name) by U+FFFD. */
	strbuf_reset(&t->scratch);
	while (*c) {
		size_t n = utf8_length(c);
		if (n) {
			strbuf_add(&t->scratch, c, n);
			c += n;
		} else {
			strbuf_adds(&t->scratch, "\xef\xbf\xbd");
			c++;
		}
	}
	h = hash_bytes(t->scratch.buf, t->scratch.len, 0);
	for (pos = hmap_first(&t->index, h); hmap_candidate(&t->index, pos, h, &idx); pos = hmap_next(&t->index, pos))
		if (idx != UINT32_MAX && streq(t->strings[idx], t->scratch.buf))
			return idx;
	ARRAY_GROW(t->strings, t->cap, t->n + 1);
	idx = (uint32_t)t->n++;
	t->strings[idx] = xstrndup(t->scratch.buf, t->scratch.len);
	hmap_insert_at(&t->index, pos, h, idx);
	return idx;
}

static void strtab__release(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->strings[i]);
	free(t->strings);
	hmap_release(&t->index);
	strbuf_release(&t->scratch);
}

/* Protobuf wire format: varint and length-delimited fields. Zero scalars
 * are omitted, as proto3 encoders do. */
enum { PB_WIRE_VARINT = 0, PB_WIRE_LEN = 2 };

/* The field numbers of lib/report/profile.proto, one enum per message. */
enum {
	PB_PROFILE_SAMPLE_TYPE = 1,
	PB_PROFILE_SAMPLE = 2,
	PB_PROFILE_MAPPING = 3,
	PB_PROFILE_LOCATION = 4,
	PB_PROFILE_FUNCTION = 5,
	PB_PROFILE_STRING_TABLE = 6,
	PB_PROFILE_TIME_NANOS = 9,
	PB_PROFILE_DURATION_NANOS = 10,
	PB_PROFILE_PERIOD_TYPE = 11,
	PB_PROFILE_PERIOD = 12,
	PB_PROFILE_COMMENT = 13,
	PB_PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { PB_VALUE_TYPE_TYPE = 1, PB_VALUE_TYPE_UNIT = 2 };
enum { PB_SAMPLE_LOCATION_ID = 1, PB_SAMPLE_VALUE = 2, PB_SAMPLE_LABEL = 3 };
enum { PB_LABEL_KEY = 1, PB_LABEL_STR = 2, PB_LABEL_NUM = 3 };
enum { PB_MAPPING_ID = 1, PB_MAPPING_MEMORY_LIMIT = 3, PB_MAPPING_FILENAME = 5, PB_MAPPING_BUILD_ID = 6, PB_MAPPING_HAS_FUNCTIONS = 7 };
enum { PB_LOCATION_ID = 1, PB_LOCATION_MAPPING_ID = 2, PB_LOCATION_ADDRESS = 3, PB_LOCATION_LINE = 4 };
enum { PB_LINE_FUNCTION_ID = 1 };
enum { PB_FUNCTION_ID = 1, PB_FUNCTION_NAME = 2, PB_FUNCTION_SYSTEM_NAME = 3 };

static void pb_varint(struct strbuf *b, uint64_t v)
{
	unsigned char buf[10];
	size_t n = 0;
	while (v >= 0x80) {
		buf[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	buf[n++] = (unsigned char)v;
	strbuf_add(b, buf, n);
}

static void pb_key(struct strbuf *b, uint32_t field, uint32_t wire_type) { pb_varint(b, (uint64_t)field << 3 | wire_type); }

static void pb_uint(struct strbuf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb_key(b, field, PB_WIRE_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct strbuf *b, uint32_t field, const void *data, size_t n)
{
	pb_key(b, field, PB_WIRE_LEN);
	pb_varint(b, n);
	strbuf_add(b, data, n);
}

static void pb_message(struct strbuf *b, uint32_t field, const struct strbuf *msg) { pb_bytes(b, field, msg->buf, msg->len); }

struct pp_location {
	uint32_t image, symbol;
	uint64_t address;
	uint32_t mapping, function; /* 1-based ids; mapping 0 = none */
};

struct pp_mapping {
	uint32_t image;
	uint64_t limit;
};

struct pp_sample {
	uint32_t stack, leaf; /* leaf location, when there is no stack */
	uint32_t domain, layer, comm; /* string indexes; comm 0 = none */
	int64_t pid;
	bool has_pid;
	size_t locs, n_locs; /* into pprof.locs */
};

struct pprof {
	const struct export_profile *p;
	struct strtab strings;
	size_t n_types;

	struct pp_location *locations;
	size_t n_locations, cap_locations;
	struct hmap location_index;
	uint32_t *frame_location;   /* per frame id, 0 = not yet */
	uint32_t *image_mapping;    /* per image id, 0 = not yet */
	struct pp_mapping *mappings;
	size_t n_mappings, cap_mappings;
	uint32_t *symbol_function;  /* per symbol id, 0 = not yet */
	uint32_t *unknown_function; /* per image id (0: no image) */
	uint32_t *function_names;   /* per function id - 1: string index */
	size_t n_functions, cap_functions;

	struct pp_sample *samples;
	size_t n_samples, cap_samples;
	struct hmap sample_index;
	uint64_t *values; /* n_types per sample */
	size_t cap_values;
	uint32_t *locs;
	size_t n_locs, cap_locs;
	/* String indexes of label values, per domain / layer / thread id
	 * (UINT32_MAX: not interned yet), so a sample costs no string work. */
	uint32_t *domain_string, *layer_string, *comm_string;
};

static uint32_t cached_string(struct pprof *pp, uint32_t *cache, const char *s)
{
	if (*cache == UINT32_MAX)
		*cache = s ? strtab__intern(&pp->strings, s) : 0;
	return *cache;
}

static uint32_t *string_cache(size_t n)
{
	uint32_t *c = xmalloc((n ? n : 1) * sizeof(*c));
	memset(c, 0xff, (n ? n : 1) * sizeof(*c));
	return c;
}

static uint32_t pprof__mapping(struct pprof *pp, uint32_t image)
{
	if (!image_at(pp->p, image))
		return 0;
	if (!pp->image_mapping[image]) {
		ARRAY_GROW(pp->mappings, pp->cap_mappings, pp->n_mappings + 1);
		pp->mappings[pp->n_mappings].image = image;
		pp->mappings[pp->n_mappings].limit = 0;
		pp->image_mapping[image] = (uint32_t)++pp->n_mappings;
	}
	return pp->image_mapping[image];
}

static uint32_t pprof__new_function(struct pprof *pp, const char *name)
{
	ARRAY_GROW(pp->function_names, pp->cap_functions, pp->n_functions + 1);
	pp->function_names[pp->n_functions] = strtab__intern(&pp->strings, name);
	return (uint32_t)++pp->n_functions;
}

static uint32_t pprof__function(struct pprof *pp, uint32_t image, uint32_t symbol)
{
	const struct ex_symbol *y = symbol_at(pp->p, symbol);
	if (y) {
		if (!pp->symbol_function[symbol])
			pp->symbol_function[symbol] = pprof__new_function(pp, y->name);
		return pp->symbol_function[symbol];
	}
	/* One "[unknown]" per image, so that the address keeps its image. */
	if (!image_at(pp->p, image))
		image = 0;
	if (!pp->unknown_function[image])
		pp->unknown_function[image] = pprof__new_function(pp, "[unknown]");
	return pp->unknown_function[image];
}

static uint32_t pprof__location(struct pprof *pp, uint32_t image, uint32_t symbol, uint64_t address)
{
	const struct ex_symbol *y = symbol_at(pp->p, symbol);
	struct pp_location *l;
	uint64_t h;
	size_t pos;
	uint32_t idx;
	if (!image_at(pp->p, image))
		image = 0;
	if (y)
		address = y->address; /* function-level, as the frames are */
	else
		symbol = 0;
	h = hash_mix(hash_mix(hash_u64(image), symbol), address);
	for (pos = hmap_first(&pp->location_index, h); hmap_candidate(&pp->location_index, pos, h, &idx);
	     pos = hmap_next(&pp->location_index, pos)) {
		if (idx == UINT32_MAX)
			continue;
		l = &pp->locations[idx];
		if (l->image == image && l->symbol == symbol && l->address == address)
			return idx + 1;
	}
	ARRAY_GROW(pp->locations, pp->cap_locations, pp->n_locations + 1);
	idx = (uint32_t)pp->n_locations++;
	l = &pp->locations[idx];
	l->image = image;
	l->symbol = symbol;
	l->address = address;
	l->mapping = pprof__mapping(pp, image);
	l->function = pprof__function(pp, image, symbol);
	if (l->mapping && address >= pp->mappings[l->mapping - 1].limit)
		pp->mappings[l->mapping - 1].limit = address + 1;
	hmap_insert_at(&pp->location_index, pos, h, idx);
	return idx + 1;
}

static uint32_t pprof__frame_location(struct pprof *pp, uint32_t frame)
{
	const struct ex_frame *f = &pp->p->frames[frame];
	if (!pp->frame_location[frame])
		pp->frame_location[frame] = pprof__location(pp, f->image, f->symbol, f->address);
	return pp->frame_location[frame];
}

static uint64_t pp_sample_hash(const struct pp_sample *k)
{
	uint64_t h = hash_u64(k->stack);
	h = hash_mix(h, k->leaf);
	h = hash_mix(h, k->domain);
	h = hash_mix(h, k->layer);
	h = hash_mix(h, k->comm);
	return hash_mix(h, k->has_pid ? (uint64_t)k->pid : UINT64_MAX);
}

static bool pp_sample_eq(const struct pp_sample *a, const struct pp_sample *b)
{
	return a->stack == b->stack && a->leaf == b->leaf && a->domain == b->domain && a->layer == b->layer &&
	       a->comm == b->comm && a->has_pid == b->has_pid && a->pid == b->pid;
}

static void pprof__add(struct pprof *pp, size_t i, uint32_t **ids, size_t *cap_ids)
{
	const struct export_profile *p = pp->p;
	const struct ex_sample *smp = &p->samples[i];
	const struct ex_thread *t = thread_at(p, smp->thread);
	const uint64_t *v = sample_values(p, i);
	struct pp_sample k = { 0 };
	uint64_t h, *dst;
	size_t pos, n;
	uint32_t idx;
	bool found = false;

	n = stack_frames(p, smp->stack, ids, cap_ids);
	k.stack = n ? smp->stack : 0;
	k.leaf = n ? 0 : pprof__location(pp, smp->image, smp->symbol, smp->address);
	if (smp->domain < p->n_domains)
		k.domain = cached_string(pp, &pp->domain_string[smp->domain], domain_name(p, smp->domain));
	else
		k.domain = strtab__intern(&pp->strings, domain_name(p, smp->domain));
	k.layer = cached_string(pp, &pp->layer_string[smp->layer], p->layers[smp->layer]);
	k.comm = t ? cached_string(pp, &pp->comm_string[smp->thread], *t->comm ? t->comm : NULL) : 0;
	k.has_pid = t && t->has_pid;
	k.pid = k.has_pid ? t->pid : 0;
	h = pp_sample_hash(&k);
	for (pos = hmap_first(&pp->sample_index, h); hmap_candidate(&pp->sample_index, pos, h, &idx);
	     pos = hmap_next(&pp->sample_index, pos))
		if (idx != UINT32_MAX && pp_sample_eq(&pp->samples[idx], &k)) {
			found = true;
			break;
		}
	if (!found) {
		size_t nv;
		k.locs = pp->n_locs;
		k.n_locs = n ? n : 1;
		ARRAY_GROW(pp->locs, pp->cap_locs, pp->n_locs + k.n_locs);
		if (n)
			for (size_t j = 0; j < n; j++)
				pp->locs[pp->n_locs++] = pprof__frame_location(pp, (*ids)[j]);
		else
			pp->locs[pp->n_locs++] = k.leaf;
		ARRAY_GROW(pp->samples, pp->cap_samples, pp->n_samples + 1);
		idx = (uint32_t)pp->n_samples++;
		pp->samples[idx] = k;
		nv = pp->n_samples * pp->n_types;
		if (nv > pp->cap_values) {
			size_t old = pp->cap_values;
			ARRAY_GROW(pp->values, pp->cap_values, nv);
			memset(pp->values + old, 0, (pp->cap_values - old) * sizeof(uint64_t));
		}
		hmap_insert_at(&pp->sample_index, pos, h, idx);
	}
	dst = &pp->values[(size_t)idx * pp->n_types];
	for (size_t e = 0; e < p->n_events; e++) {
		dst[e] += v[e * 2 + 1];
		dst[p->n_events + e] += v[e * 2];
	}
}

/* "2026-11-25T21:17:03+0000" -> nanoseconds since the epoch; 0 if unknown. */
static int64_t parse_start_time(const char *text)
{
	struct tm tm = { 0 };
	const char *end;
	long offset;
	time_t t;
	if (!text)
		return 0;
	end = strptime(text, "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (!end || *end)
		return 0;
	offset = tm.tm_gmtoff; /* timegm() normalizes tm and clears it */
	t = timegm(&tm) - offset;
	/* A damaged session may hold any year: keep what fits in int64 ns. */
	return t > 0 && t < INT64_MAX / 1000000000 ? (int64_t)t * 1000000000 : 0;
}

static void encode_value_type(struct strbuf *b, uint32_t field, struct strbuf *scratch, uint32_t type, uint32_t unit)
{
	strbuf_reset(scratch);
	pb_uint(scratch, PB_VALUE_TYPE_TYPE, type);
	pb_uint(scratch, PB_VALUE_TYPE_UNIT, unit);
	pb_message(b, field, scratch);
}

static void encode_label(struct strbuf *b, struct strbuf *scratch, uint32_t key, uint32_t str, bool is_num, int64_t num)
{
	strbuf_reset(scratch);
	pb_uint(scratch, PB_LABEL_KEY, key);
	if (is_num) {
		if (num) {
			pb_key(scratch, PB_LABEL_NUM, PB_WIRE_VARINT);
			pb_varint(scratch, (uint64_t)num);
		}
	} else {
		pb_uint(scratch, PB_LABEL_STR, str);
	}
	pb_message(b, PB_SAMPLE_LABEL, scratch);
}

void export_profile__encode_pprof(const struct export_profile *p, struct strbuf *out)
{
	struct pprof pp = { .p = p };
	struct strbuf msg, sub, packed;
	uint32_t *ids = NULL, *types, s_domain, s_layer, s_comm, s_pid, comments[7];
	size_t cap_ids = 0, n_comments = 0;
	const char *v;
	uint64_t period = 0;
	int64_t duration = 0;

	hmap_init(&pp.strings.index);
	strbuf_init(&pp.strings.scratch);
	hmap_init(&pp.location_index);
	hmap_init(&pp.sample_index);
	strbuf_init(&msg);
	strbuf_init(&sub);
	strbuf_init(&packed);
	strtab__intern(&pp.strings, ""); /* index 0, as the format requires */

	/* Period sums first (the values people compare), then sample counts. */
	pp.n_types = p->n_events * 2;
	types = xcalloc(pp.n_types * 2, sizeof(uint32_t));
	for (size_t e = 0; e < p->n_events; e++) {
		_cleanup_free_ char *count_name = xasprintf("%s:samples", p->events[e].name);
		types[e * 2] = strtab__intern(&pp.strings, p->events[e].name);
		types[e * 2 + 1] =
			strtab__intern(&pp.strings, streq(p->events[e].unit, "ns") ? "nanoseconds" : "count");
		types[(p->n_events + e) * 2] = strtab__intern(&pp.strings, count_name);
		types[(p->n_events + e) * 2 + 1] = strtab__intern(&pp.strings, "count");
	}
	s_domain = strtab__intern(&pp.strings, "domain");
	s_layer = strtab__intern(&pp.strings, "layer");
	s_comm = strtab__intern(&pp.strings, "comm");
	s_pid = strtab__intern(&pp.strings, "pid");

	pp.frame_location = xcalloc(p->n_frames + 1, sizeof(uint32_t));
	pp.image_mapping = xcalloc(p->n_images + 1, sizeof(uint32_t));
	pp.symbol_function = xcalloc(p->n_symbols + 1, sizeof(uint32_t));
	pp.unknown_function = xcalloc(p->n_images + 1, sizeof(uint32_t));
	pp.domain_string = string_cache(p->n_domains);
	pp.layer_string = string_cache(p->n_layers);
	pp.comm_string = string_cache(p->n_threads);
	for (size_t i = 0; i < p->n_samples; i++)
		pprof__add(&pp, i, &ids, &cap_ids);
	free(ids);

	{
		_cleanup_free_ char *c0 = xasprintf("domprof %s export of %s (view: %s)", DOMPROF_VERSION, p->session_path,
						    p->source == SOURCE_HOST	? "host"
						    : p->source == SOURCE_AGENT ? "agent"
										: "merged");
		comments[n_comments++] = strtab__intern(&pp.strings, c0);
		if ((v = meta_get(p, "hostname"))) {
			_cleanup_free_ char *c = xasprintf("hostname: %s", v);
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
		if ((v = meta_get(p, "kernel"))) {
			_cleanup_free_ char *c = xasprintf("kernel: %s", v);
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
		if ((v = meta_get(p, "start_time"))) {
			_cleanup_free_ char *c = xasprintf("recorded: %s", v);
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
		if ((v = meta_get(p, "command_line"))) {
			_cleanup_free_ char *typed = session_command_line__as_typed(v);
			_cleanup_free_ char *c = xasprintf("command: %s", typed);
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
		if ((v = meta_get(p, "domprof_version"))) {
			_cleanup_free_ char *c = xasprintf("recorded by domprof %s", v);
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
		{
			_cleanup_free_ char *c = xasprintf(
				"idle: %s%s%s",
				p->no_idle ? "left out (--no-idle)" : "included as domain idle (label domain=idle)",
				p->idle_note ? "; " : "", p->idle_note ? p->idle_note : "");
			comments[n_comments++] = strtab__intern(&pp.strings, c);
		}
	}

	for (size_t t = 0; t < pp.n_types; t++)
		encode_value_type(out, PB_PROFILE_SAMPLE_TYPE, &sub, types[t * 2], types[t * 2 + 1]);
	for (size_t i = 0; i < pp.n_samples; i++) {
		const struct pp_sample *smp = &pp.samples[i];
		const uint64_t *vals = &pp.values[i * pp.n_types];
		strbuf_reset(&msg);
		strbuf_reset(&packed);
		for (size_t j = 0; j < smp->n_locs; j++)
			pb_varint(&packed, pp.locs[smp->locs + j]);
		pb_bytes(&msg, PB_SAMPLE_LOCATION_ID, packed.buf, packed.len);
		strbuf_reset(&packed);
		for (size_t t = 0; t < pp.n_types; t++)
			pb_varint(&packed, vals[t]);
		pb_bytes(&msg, PB_SAMPLE_VALUE, packed.buf, packed.len);
		encode_label(&msg, &sub, s_domain, smp->domain, false, 0);
		encode_label(&msg, &sub, s_layer, smp->layer, false, 0);
		if (smp->comm)
			encode_label(&msg, &sub, s_comm, smp->comm, false, 0);
		if (smp->has_pid)
			encode_label(&msg, &sub, s_pid, 0, true, smp->pid);
		pb_message(out, PB_PROFILE_SAMPLE, &msg);
	}
	/* Mappings. Addresses are image-relative, so each image is laid out
	 * from 0 to just past its highest location. */
	for (size_t m = 0; m < pp.n_mappings; m++) {
		const struct ex_image *img = image_at(p, pp.mappings[m].image);
		strbuf_reset(&msg);
		pb_uint(&msg, PB_MAPPING_ID, m + 1);
		pb_uint(&msg, PB_MAPPING_MEMORY_LIMIT, pp.mappings[m].limit);
		pb_uint(&msg, PB_MAPPING_FILENAME, strtab__intern(&pp.strings, img->path));
		if (img->build_id)
			pb_uint(&msg, PB_MAPPING_BUILD_ID, strtab__intern(&pp.strings, img->build_id));
		/* Already symbolized: pprof must not look the names up again. */
		pb_uint(&msg, PB_MAPPING_HAS_FUNCTIONS, 1);
		pb_message(out, PB_PROFILE_MAPPING, &msg);
	}
	for (size_t l = 0; l < pp.n_locations; l++) {
		const struct pp_location *loc = &pp.locations[l];
		strbuf_reset(&msg);
		pb_uint(&msg, PB_LOCATION_ID, l + 1);
		pb_uint(&msg, PB_LOCATION_MAPPING_ID, loc->mapping);
		pb_uint(&msg, PB_LOCATION_ADDRESS, loc->address);
		strbuf_reset(&sub);
		pb_uint(&sub, PB_LINE_FUNCTION_ID, loc->function);
		pb_message(&msg, PB_LOCATION_LINE, &sub);
		pb_message(out, PB_PROFILE_LOCATION, &msg);
	}
	for (size_t f = 0; f < pp.n_functions; f++) {
		strbuf_reset(&msg);
		pb_uint(&msg, PB_FUNCTION_ID, f + 1);
		pb_uint(&msg, PB_FUNCTION_NAME, pp.function_names[f]);
		pb_uint(&msg, PB_FUNCTION_SYSTEM_NAME, pp.function_names[f]);
		pb_message(out, PB_PROFILE_FUNCTION, &msg);
	}
	/* The informational fields, interned before the string table goes out. */
	if (p->n_events) {
		const struct report_event *e0 = &p->events[0];
		period = p->sample_period[0];
		if (!period && e0->samples)
			period = (e0->period + e0->samples / 2) / e0->samples;
	}
	if ((v = meta_get(p, "duration_ns")))
		duration = strtoll(v, NULL, 10);
	{
		int64_t start = parse_start_time(meta_get(p, "start_time"));
		if (start) {
			pb_key(out, PB_PROFILE_TIME_NANOS, PB_WIRE_VARINT);
			pb_varint(out, (uint64_t)start);
		}
	}
	if (duration > 0)
		pb_uint(out, PB_PROFILE_DURATION_NANOS, (uint64_t)duration);
	if (p->n_events) {
		encode_value_type(out, PB_PROFILE_PERIOD_TYPE, &sub, types[0], types[1]);
		pb_uint(out, PB_PROFILE_PERIOD, period);
	}
	strbuf_reset(&packed);
	for (size_t c = 0; c < n_comments; c++)
		pb_varint(&packed, comments[c]);
	if (packed.len)
		pb_bytes(out, PB_PROFILE_COMMENT, packed.buf, packed.len);
	if (p->n_events)
		pb_uint(out, PB_PROFILE_DEFAULT_SAMPLE_TYPE, types[0]);
	/* The string table last: every string above is interned by now. */
	for (size_t i = 0; i < pp.strings.n; i++)
		pb_bytes(out, PB_PROFILE_STRING_TABLE, pp.strings.strings[i], strlen(pp.strings.strings[i]));

	free(types);
	strtab__release(&pp.strings);
	free(pp.locations);
	hmap_release(&pp.location_index);
	free(pp.frame_location);
	free(pp.image_mapping);
	free(pp.mappings);
	free(pp.symbol_function);
	free(pp.unknown_function);
	free(pp.function_names);
	free(pp.samples);
	hmap_release(&pp.sample_index);
	free(pp.values);
	free(pp.locs);
	free(pp.domain_string);
	free(pp.layer_string);
	free(pp.comm_string);
	strbuf_release(&msg);
	strbuf_release(&sub);
	strbuf_release(&packed);
}

int export_profile__write_pprof(const struct export_profile *p, FILE *out)
{
	struct strbuf raw;
	unsigned char chunk[1 << 16];
	z_stream z = { 0 };
	int zr, r = 0;

	strbuf_init(&raw);
	export_profile__encode_pprof(p, &raw);
	/* windowBits 15 + 16: a gzip stream, as pprof files are. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		strbuf_release(&raw);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)raw.buf;
	z.avail_in = (uInt)raw.len; /* a profile stays far below 4 GiB; checked below */
	if (raw.len > UINT32_MAX) {
		deflateEnd(&z);
		strbuf_release(&raw);
		return -EFBIG;
	}
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			r = -EIO;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out) != sizeof(chunk) - z.avail_out) {
			r = errno ? -errno : -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	strbuf_release(&raw);
	if (r < 0)
		return r;
	return stream_status(out);
}

/* ---- JSON ---- */

static int json_sample_cmp(const void *a, const void *b, void *ctx)
{
	const struct export_profile *p = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const uint64_t *vx = sample_values(p, x), *vy = sample_values(p, y);
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

static void json_str_or_null(struct strbuf *sb, const char *s)
{
	if (s)
		strbuf_add_json(sb, s);
	else
		strbuf_adds(sb, "null");
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
	const struct ex_symbol *y = symbol_at(p, symbol);
	const struct ex_image *i = image_at(p, image);
	strbuf_adds(sb, "{\"symbol\": ");
	strbuf_add_json(sb, y ? y->name : "[unknown]");
	strbuf_adds(sb, ", \"image\": ");
	json_str_or_null(sb, i ? i->path : NULL);
	strbuf_addf(sb, ", \"address\": \"0x%llx\"}", (unsigned long long)(y ? y->address : address));
}

int export_profile__write_json(const struct export_profile *p, FILE *out)
{
	struct strbuf sb;
	uint32_t *order, *ids = NULL;
	char **frame_json; /* per frame id, built on first use */
	size_t cap_ids = 0;
	bool first;

	strbuf_init(&sb);
	strbuf_adds(&sb, "{\n  \"format\": \"domprof-export\",\n  \"version\": 1,\n  \"session\": {");
	for (size_t i = 0; i < p->n_meta; i++) {
		strbuf_adds(&sb, i ? ",\n    " : "\n    ");
		strbuf_add_json(&sb, p->meta[i].key);
		strbuf_adds(&sb, ": ");
		strbuf_add_json(&sb, p->meta[i].value);
	}
	strbuf_addf(&sb, "\n  },\n  \"view\": {\"source\": \"%s\", \"domains\": ",
		    p->source == SOURCE_HOST ? "host" : p->source == SOURCE_AGENT ? "agent" : "merged");
	json_strv(&sb, p->filter_domains);
	strbuf_adds(&sb, ", \"layers\": ");
	json_strv(&sb, p->filter_layers);
	strbuf_adds(&sb, ", \"comms\": ");
	json_strv(&sb, p->filter_comms);
	strbuf_addf(&sb, ", \"idle\": %s, \"idle_note\": ", p->no_idle ? "false" : "true");
	json_str_or_null(&sb, p->idle_note);
	strbuf_adds(&sb, "},\n  \"events\": [");
	for (size_t e = 0; e < p->n_events; e++) {
		const struct report_event *ev = &p->events[e];
		strbuf_adds(&sb, e ? ",\n    {\"name\": " : "\n    {\"name\": ");
		strbuf_add_json(&sb, ev->name);
		strbuf_adds(&sb, ", \"unit\": ");
		strbuf_add_json(&sb, ev->unit);
		strbuf_addf(&sb,
			    ", \"sample_period\": %llu, \"sample_freq\": %llu, \"samples\": %llu, \"period\": %llu,"
			    " \"lost\": %llu, \"filtered_samples\": %llu, \"filtered_period\": %llu}",
			    (unsigned long long)p->sample_period[e], (unsigned long long)p->sample_freq[e],
			    (unsigned long long)ev->samples, (unsigned long long)ev->period, (unsigned long long)ev->lost,
			    (unsigned long long)p->total_samples[e], (unsigned long long)p->total_period[e]);
	}
	strbuf_adds(&sb, "\n  ],\n  \"domains\": [");
	first = true;
	for (size_t i = 0; i < p->n_domains; i++) {
		const struct ex_domain *d = &p->domains[i];
		if (!d->shown)
			continue;
		strbuf_adds(&sb, first ? "\n    {\"name\": " : ",\n    {\"name\": ");
		first = false;
		strbuf_add_json(&sb, d->name);
		strbuf_adds(&sb, ", \"kind\": ");
		json_str_or_null(&sb, d->kind);
		if (d->has_pid)
			strbuf_addf(&sb, ", \"pid\": %lld", (long long)d->pid);
		else
			strbuf_adds(&sb, ", \"pid\": null");
		strbuf_adds(&sb, ", \"vmm\": ");
		json_str_or_null(&sb, d->vmm);
		strbuf_adds(&sb, ", \"accel\": ");
		json_str_or_null(&sb, d->accel);
		strbuf_adds(&sb, ", \"uuid\": ");
		json_str_or_null(&sb, d->uuid);
		strbuf_adds(&sb, ", \"source\": ");
		json_str_or_null(&sb, d->source);
		strbuf_addf(&sb, ", \"complete\": %s, \"note\": ", d->complete ? "true" : "false");
		json_str_or_null(&sb, d->note);
		strbuf_adds(&sb, "}");
	}
	strbuf_adds(&sb, "\n  ],\n  \"samples\": [");
	fputs(sb.buf, out);

	order = xmalloc((p->n_samples ? p->n_samples : 1) * sizeof(*order));
	for (size_t i = 0; i < p->n_samples; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, p->n_samples, sizeof(*order), json_sample_cmp, (void *)p);
	frame_json = xcalloc(p->n_frames + 1, sizeof(*frame_json));
	for (size_t k = 0; k < p->n_samples; k++) {
		const struct ex_sample *smp = &p->samples[order[k]];
		const struct ex_thread *t = thread_at(p, smp->thread);
		const struct ex_image *img = image_at(p, smp->image);
		const struct ex_symbol *y = symbol_at(p, smp->symbol);
		const uint64_t *v = sample_values(p, order[k]);
		size_t n;
		strbuf_reset(&sb);
		strbuf_adds(&sb, k ? ",\n    {\"domain\": " : "\n    {\"domain\": ");
		strbuf_add_json(&sb, domain_name(p, smp->domain));
		strbuf_adds(&sb, ", \"layer\": ");
		strbuf_add_json(&sb, p->layers[smp->layer]);
		strbuf_adds(&sb, ", \"comm\": ");
		json_str_or_null(&sb, t ? t->comm : NULL);
		if (t && t->has_pid)
			strbuf_addf(&sb, ", \"pid\": %lld", (long long)t->pid);
		else
			strbuf_adds(&sb, ", \"pid\": null");
		if (t && t->has_tid)
			strbuf_addf(&sb, ", \"tid\": %lld", (long long)t->tid);
		else
			strbuf_adds(&sb, ", \"tid\": null");
		strbuf_adds(&sb, ", \"image\": ");
		json_str_or_null(&sb, img ? img->path : NULL);
		strbuf_adds(&sb, ", \"build_id\": ");
		json_str_or_null(&sb, img ? img->build_id : NULL);
		strbuf_adds(&sb, ", \"symbol\": ");
		strbuf_add_json(&sb, y ? y->name : "[unknown]");
		strbuf_addf(&sb, ", \"address\": \"0x%llx\", \"values\": {", (unsigned long long)smp->address);
		for (size_t e = 0; e < p->n_events; e++) {
			if (e)
				strbuf_adds(&sb, ", ");
			strbuf_add_json(&sb, p->events[e].name);
			strbuf_addf(&sb, ": {\"samples\": %llu, \"period\": %llu}", (unsigned long long)v[e * 2],
				    (unsigned long long)v[e * 2 + 1]);
		}
		strbuf_adds(&sb, "}, \"stack\": ");
		n = stack_frames(p, smp->stack, &ids, &cap_ids);
		if (!n)
			strbuf_adds(&sb, "null");
		else
			strbuf_adds(&sb, "[");
		for (size_t j = n; j-- > 0;) {
			uint32_t f = ids[j];
			if (!frame_json[f]) {
				struct strbuf fj;
				strbuf_init(&fj);
				json_function(p, &fj, p->frames[f].image, p->frames[f].symbol, p->frames[f].address);
				frame_json[f] = strbuf_detach(&fj);
				strbuf_release(&fj); /* detach leaves a fresh buffer */
			}
			strbuf_adds(&sb, frame_json[f]);
			if (j)
				strbuf_adds(&sb, ", ");
		}
		strbuf_adds(&sb, n ? "]}" : "}");
		fputs(sb.buf, out);
	}
	fputs("\n  ]\n}\n", out);
	for (size_t f = 0; f <= p->n_frames; f++)
		free(frame_json[f]);
	free(frame_json);
	free(order);
	free(ids);
	strbuf_release(&sb);
	return stream_status(out);
}

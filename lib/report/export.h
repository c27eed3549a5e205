/* export: a session's samples, with their call stacks, in the formats
 * other tools read — pprof (gzipped profile.proto: pprof, Pyroscope, Parca,
 * speedscope), folded stacks (FlameGraph's flamegraph.pl, speedscope,
 * inferno) and a documented JSON (docs/export.md).
 *
 * export_profile__load reads the samples of one report view (--source) and
 * filters (domains, layers, comms, events) with a handful of SQL queries and
 * aggregates them in memory by (domain, layer, thread, image, symbol,
 * address, stack), one value pair (samples, period) per event; the writers
 * render that model. Writers return 0 or -errno and never print. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "../util/util.h"
#include "report.h"

enum export_format { EXPORT_PPROF = 0, EXPORT_FOLDED, EXPORT_JSON };
/* "pprof", "folded", "json" (enum order), NULL-terminated. */
extern const char *const export_format__names[];
int export_format__parse(const char *s, enum export_format *ret);

/* What a folded line counts: the event's period sum (its unit: ns or
 * events) or its number of samples. */
enum export_value { EXPORT_VALUE_PERIOD = 0, EXPORT_VALUE_SAMPLES };
int export_value__parse(const char *s, enum export_value *ret);

struct export_profile;

/* Load the samples of q's view (q->source) within its domain, layer and
 * comm filters; q->events says which events to keep (default all, always
 * in session order). Keys, threshold and limit are ignored. -errno with
 * *ret_error on failure. */
int export_profile__load(struct session *s, const struct report_query *q, struct export_profile **ret,
			 char **ret_error);
void export_profile__free(struct export_profile *p);

/* The kept events, in session order; totals within the filters. */
size_t export_profile__n_events(const struct export_profile *p);
const struct report_event *export_profile__event(const struct export_profile *p, size_t e);
uint64_t export_profile__total_samples(const struct export_profile *p, size_t e);
uint64_t export_profile__total_period(const struct export_profile *p, size_t e);
/* Aggregated sample rows loaded (0: nothing matched the filters). */
size_t export_profile__n_samples(const struct export_profile *p);

/* FlameGraph folded stacks of event e: "domain;layer;comm;frame;...;frame
 * COUNT" per distinct stack, outermost frame first, lines sorted. Names
 * are escaped as docs/export.md says (export__folded_escape). */
int export_profile__write_folded(const struct export_profile *p, size_t e, enum export_value v, FILE *out);
/* Append s to sb escaped for a folded line: '%', ';' and control bytes
 * become %XX, so neither a frame separator nor a line break can come from
 * a name. */
void export__folded_escape(struct strbuf *sb, const char *s);

/* The serialized perftools.profiles.Profile (lib/report/profile.proto),
 * not compressed, appended to ret. */
void export_profile__encode_pprof(const struct export_profile *p, struct strbuf *ret);
/* The same, gzip-compressed, as pprof files are. */
int export_profile__write_pprof(const struct export_profile *p, FILE *out);

/* The JSON document of docs/export.md ("format": "domprof-export"). */
int export_profile__write_json(const struct export_profile *p, FILE *out);

/* export-internal: the loaded model that export.c builds and the writers
 * (export-folded.c, export-pprof.c, export-json.c) render. */
#pragma once

#include "export.h"

/* One aggregated sample row: what export keeps apart. */
struct ex_sample {
	uint32_t domain, thread, image, symbol, stack, layer; /* layer: index into layers */
	uint64_t address;
};

struct export_profile {
	char *session_path;
	enum view_source source;
	char **filter_domains, **filter_layers, **filter_comms;
	bool no_idle;    /* the host's idle loop left out */
	char *idle_note; /* session__idle_note, or NULL */

	struct session_meta *meta; /* sorted by key */
	size_t n_meta;
	struct session_about about;

	struct report_event *events;
	size_t n_events;
	uint64_t *total_samples, *total_period; /* per event, within the filters */

	struct session_catalog cat;
	bool *domain_shown; /* per domain id: within the filters */

	char **layers; /* interned layer names */
	size_t n_layers, cap_layers;

	struct ex_sample *samples;
	size_t n_samples, cap_samples;
	/* (samples, period) per sample and event: values[(i * n_events + e) * 2 + {0,1}] */
	uint64_t *values;
	size_t cap_values;
};

static inline uint64_t *export_profile__values(const struct export_profile *p, size_t i)
{
	return &p->values[i * p->n_events * 2];
}

/* 0, or -errno when writing to out failed. */
int export__stream_status(FILE *out);

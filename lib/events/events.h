/* events: what the user asks to sample, turned into perf_event_attr.
 *
 * A spec is NAME[/TERMS/][:MODS] where NAME is a generic perf name
 * (cycles, cpu-clock, LLC-load-misses, ...), a raw event rHEX, or a
 * CPU-specific name that libpfm4 knows (INST_RETIRED:ANY_P); TERMS are
 * comma-separated period=N | freq=N; MODS are any of u (user only),
 * k (kernel only), G (guest only), H (host only), p/pp/ppp (precise).
 * A list is comma-separated at the top level (commas inside /.../ belong to
 * the terms). Parsing never touches the kernel; event_spec__probe does. */
#pragma once

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum event_unit {
	EVENT_UNIT_COUNT = 0, /* period sums are event counts */
	EVENT_UNIT_NS = 1,    /* period sums are nanoseconds (clock events) */
};

enum event_source {
	EVENT_SOURCE_GENERIC, /* perf generic hardware/software/cache name */
	EVENT_SOURCE_RAW,     /* rNNNN */
	EVENT_SOURCE_PFM,     /* libpfm4 CPU-specific name */
};

struct event_spec {
	char *name;         /* canonical text, as stored in sessions: "cycles:u" */
	char *base;         /* name without modifiers and terms: "cycles" */
	enum event_source source;
	enum event_unit unit;
	bool needs_pmu;     /* a hardware event: fails without a PMU */
	bool period_set;    /* period or frequency given for this event */
	struct perf_event_attr attr; /* type, config*, exclude_*, period/freq */
};

struct event_defaults {
	uint64_t freq;   /* -F HZ; used when period == 0 */
	uint64_t period; /* -c PERIOD; wins over freq when set */
};

/* Parse one spec. On error returns -EINVAL and, when ret_error is non-NULL,
 * a message (to free) naming the problem. */
int event_spec__parse(const char *text, const struct event_defaults *defaults, struct event_spec *ret,
		      char **ret_error);
void event_spec__release(struct event_spec *e);
int event_spec__copy(const struct event_spec *src, struct event_spec *dst);

/* Comma-separated list. *ret is an array of *ret_n specs. */
int event_list__parse(const char *text, const struct event_defaults *defaults, struct event_spec **ret,
		      size_t *ret_n, char **ret_error);
void event_list__free(struct event_spec *events, size_t n);

/* Try to open the event on this machine (system-wide on CPU 0 when
 * system_wide, else on the calling thread). 0 or -errno. */
int event_spec__probe(const struct event_spec *e, bool system_wide);

/* A user-facing explanation of a failed probe: why, and what to use instead. */
char *event_spec__explain_error(const struct event_spec *e, int error);

/* The generic names, for `domprof list`. */
struct event_name {
	const char *name;
	const char *alias; /* may be NULL */
	uint32_t type;
	uint64_t config;
	const char *description;
};
const struct event_name *events__generic(size_t *ret_n);

/* libpfm4 names of the CPU's own PMUs, one callback per event name. Returns
 * the number listed, 0 when no hardware PMU is detected. */
int events__list_pfm(void (*fn)(const char *pmu, const char *name, const char *desc, void *ctx), void *ctx);

/* The default event: "cycles" where it opens, else "cpu-clock". */
const char *events__default_name(bool system_wide);

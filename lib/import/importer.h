/* importer: a perf.data capture turned into a session — the import
 * counterpart of the recorder. It reads the file with perfdata, feeds
 * every record through a collector created with live=false (the file's
 * side-band records describe the machine; this machine's /proc is never
 * consulted for its pids), and writes the profile, the events and the
 * capture's metadata into a session.
 *
 * Symbolization happens here, as with `perf report`: images are read from
 * their recorded paths on this machine (or from perf's build-id cache,
 * ~/.debug, when the file at the path is not the one recorded), kernel
 * addresses through this machine's /proc/kallsyms. The build-ids the
 * capture recorded are the ones stored in the session.
 *
 * Lifecycle: importer__open, importer__run, importer__write_session,
 * importer__release (which accepts a zeroed or failed importer). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "../collect/collector.h"
#include "../events/events.h"
#include "../session/session.h"
#include "perfdata.h"

struct importer_cpu {
	uint64_t samples, lost;
};

struct importer {
	struct perf_data *data;
	struct profile profile;
	struct collector collector;
	struct event_spec *events; /* the sampling events, in the file's order */
	size_t n_events;
	int *event_of_attr;        /* attribute index -> events index, -1 for non-sampling ones */
	bool have_time;
	uint64_t first_time, last_time; /* of the samples, perf clock */
	uint64_t bad_samples;           /* samples that failed to decode */
	uint64_t stray_samples;         /* samples of non-sampling events (dummy, counting) */
	struct importer_cpu *cpus;      /* by CPU number, when samples carry it */
	size_t n_cpus;
	size_t build_id_mismatches;     /* images whose file here is not the one recorded */
	bool kernel_loaded;             /* kernel symbols loaded at the capture's kernel MMAP record */
	bool kernel_symbols_cached;     /* ... from perf's build-id cache, not /proc/kallsyms */
	int64_t kernel_delta;           /* their shift: KASLR offset then minus now */
	char **warnings;                /* for the command to print; perf_data's come first */
	size_t n_warnings, cap_warnings;
};

/* Open and check the file, set up the events and the collector. On
 * failure *ret_error (to free) says what is wrong; the caller names the
 * file. bucket_ns: timeline resolution, 0 for the default. */
int importer__open(struct importer *im, const char *path, uint64_t bucket_ns, char **ret_error);

/* Read every record. On failure the profile keeps what was read before
 * the error (importer__samples tells how much). */
int importer__run(struct importer *im, char **ret_error);

uint64_t importer__samples(const struct importer *im);
uint64_t importer__lost(const struct importer *im);

/* Write events, profile and metadata into a new session and finish it.
 * complete=false marks a capture whose reading failed part-way. 0, or the
 * -errno of the session writer. */
int importer__write_session(struct importer *im, struct session *s, const char *command_line, bool complete);

void importer__release(struct importer *im);

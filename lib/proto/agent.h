/* agent: the guest's side of the protocol, as coordinator.c is the host's.
 * One authenticated coordinator is served at a time, through the steps of
 * docs/protocol.md: AUTH_OK says who the agent is; SETUP names the events
 * (one the guest cannot open is replaced by cpu-clock, and the
 * coordinator told so in SETUP_OK), followed unasked by the guest's
 * KALLSYMS; PING is answered whenever it comes; ARM opens the events and
 * reads /proc (ARMED); START starts sampling at the agreed instant
 * (STARTED), and DATA frames stream the profile's delta until STOP; then
 * the last DATA, CODE (the guest's hottest functions), FINAL and BYE.
 * Anything out of its place gets an ERROR and ends the connection; the
 * caller then serves the next coordinator.
 *
 * The coordinator is trusted no more than a guest is by the host: every
 * message is decoded by lib/proto/messages.c, and what the agent logs of
 * it (event names, errors) is sanitized by the log's owner. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../collect/recorder.h"
#include "../events/events.h"
#include "channel.h"
#include "listener.h"

/* A coordinator silent this long before START is gone. */
#define AGENT_IDLE_TIMEOUT_MS 60000
/* How long a send may wait for a coordinator that does not read. */
#define AGENT_SEND_TIMEOUT_MS 5000
/* The furthest in the future a START instant is waited for: a coordinator
 * with a bad clock cannot park the agent. */
#define AGENT_MAX_START_WAIT_NS (5ULL * 1000000000ULL)
/* How long the agent waits for the rings between two looks at the
 * coordinator while recording. */
#define AGENT_STEP_MS 50
/* With COMPACT: the catalog (images, functions, stack frames) is
 * compacted to what live counters name once it holds this many rows and
 * twice what the last compaction kept (agent --compact-rows). */
#define AGENT_COMPACT_ROWS 16384

/* What the agent says happened (a step done, a peer refused); the text
 * may hold a coordinator's words. */
typedef void (*agent_log_fn)(void *ctx, const char *msg);

struct agent_config {
	agent_log_fn log;
	void *log_ctx;
	/* Set by a signal: the connection ends at the next step. */
	const volatile sig_atomic_t *stop;
	/* While recording, others who knock are turned away (NULL: none). */
	struct listener *listener;
	/* When to compact the catalog (0: AGENT_COMPACT_ROWS). */
	size_t compact_rows;
};

/* One coordinator's connection, from AUTH_OK to BYE. */
struct agent_connection {
	struct channel ch;
	const struct agent_config *cfg;
	struct event_spec *events; /* what SETUP asked for, as the guest samples it */
	size_t n_events;
	struct event_defaults defaults;
	bool callchain;
	uint32_t user_stack_size; /* > 0: dwarf call graphs */
	uint32_t flush_ms; /* DATA interval */
	struct recorder rec;
	bool armed;
	/* COMPACT: the rows the last compaction kept (old id -> new), sent
	 * with the next DATA; how many it kept; how many went in all. */
	struct profile_catalog_map compacted;
	bool compact_pending;
	size_t compact_kept;
	uint64_t compacted_rows;
};

/* Serve the coordinator on ch (taken over: released before returning)
 * until the connection ends. 0 when it ended as the protocol says: BYE
 * sent after STOP (or after *stop was set while recording), or STOP or
 * BYE before START. Else -errno: -EPROTO for a coordinator out of step
 * (it got an ERROR), -ECONNRESET or -EBADMSG for a connection lost or
 * damaged, -ETIMEDOUT for an idle one, -EINTR when *stop was set before
 * START. */
int agent_connection__serve(struct channel *ch, const struct agent_config *cfg);

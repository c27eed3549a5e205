/* recording: the setup that the commands which sample share (record and
 * top): the events with their defaults, each probed, and the agents of a
 * coordinated run. Each function prints what went wrong and returns a
 * negative errno, as a command does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/collect/recorder.h"
#include "../lib/events/events.h"
#include "../lib/proto/coordinator.h"
#include "options.h"

/* -e LIST parsed with the -F/-c defaults, every event probed. *text NULL:
 * the default event (cycles, else cpu-clock, said once); *text is then
 * set to it. */
int recording_parse_events(const char **text, bool system_wide, const struct event_defaults *defaults,
			   struct event_spec **ret, size_t *ret_n);

/* --agent NAME=ADDR..., --agent-optional, --agent-memory SIZE. */
struct agent_options {
	char **agents;
	size_t n;
	bool optional;
	uint64_t memory; /* 0: the default budget */
};

/* Connect to every agent, set them up (call_graph NULL: no call stacks),
 * and prepare rec's machine for them (coordinator__prepare_host). key is
 * wiped. */
int recording_agents_prepare(struct coordinator *coord, const struct agent_options *a,
			     unsigned char key[PROTO_KEY_BYTES], const struct event_spec *events, size_t n_events,
			     const struct event_defaults *defaults, const struct call_graph_option *call_graph,
			     const struct vm_names *vms,
			     struct recorder *rec);
/* How each agent's part went (after coordinator__stop). */
void recording_agents_report(const struct coordinator *coord);
/* session__finish's -EBUSY, said: the session is complete, but another
 * process kept it open, so it stays in WAL mode. Returns 0. */
int session_kept_open_warning(const char *path);
/* "running", "failed", ...: an agent's state in a word. */
const char *recording_agent_state(enum agent_state s);
/* SIGINT, SIGTERM and SIGHUP end the run through handler (it records
 * which); SIGPIPE is ignored (a closed pipe is a write error). */
void recording_catch_signals(void (*handler)(int));

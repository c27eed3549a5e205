/* messages: encoding and decoding of the protocol's structured messages
 * (docs/protocol.md), shared by the agent and the coordinator, and by the
 * fuzzers that feed them hostile bytes. Decoders return 0 or -EBADMSG and
 * leave nothing allocated on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define PROTO_MAX_EVENTS 64

struct proto_setup {
	char **events;
	uint32_t n_events;
	uint64_t freq, period;
	bool callchain;
	uint32_t flush_ms;
};
void proto_setup__encode(struct wbuf *w, const char *const *events, uint32_t n_events, uint64_t freq, uint64_t period,
			 bool callchain, uint32_t flush_ms);
int proto_setup__decode(const void *data, size_t len, struct proto_setup *ret);
void proto_setup__release(struct proto_setup *s);

struct proto_agent_info {
	char *hostname, *kernel, *uuid, *events, *version;
	uint32_t ncpus;
	uint64_t clock_ns;
};
int proto_agent_info__decode(const void *data, size_t len, struct proto_agent_info *ret);
void proto_agent_info__release(struct proto_agent_info *i);

/* Replace control characters so a guest's strings cannot drive a terminal. */
void proto_sanitize_text(char *s);

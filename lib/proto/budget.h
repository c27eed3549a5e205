/* budget: the memory one agent may make the host hold. Everything the
 * coordinator allocates or keeps because of an agent (a received frame,
 * its decompressed payload, the strings, catalog rows and counters it
 * adds to the profile, its kallsyms and their parsed form, its code) is
 * charged here before it is allocated; a charge that does not fit is
 * refused and that agent's part of the recording ends, while the rest
 * goes on (docs/security.md, rule 2). Transient charges (a frame being
 * handled) are refunded when freed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The default, settable with `record --agent-memory`. */
#define PROTO_DEFAULT_AGENT_BUDGET (256ull << 20)
#define PROTO_MIN_AGENT_BUDGET (1ull << 20)
/* What one malloc'ed block costs beyond its bytes (glibc's header and
 * rounding): charged with every block an agent makes the host allocate. */
#define PROTO_ALLOC_OVERHEAD 32

struct proto_budget {
	uint64_t limit; /* bytes */
	uint64_t used;
	uint64_t peak;
	/* Bytes given back beyond what was counted (clamped at zero): a
	 * refund for something never charged, which tests and fuzzers
	 * treat as a bug. */
	uint64_t over_refunded;
};

void proto_budget__init(struct proto_budget *b, uint64_t limit);
/* Charge bytes: true when they fit (and are now counted), false when they
 * would pass the limit (nothing is counted). A NULL budget takes anything. */
bool proto_budget__charge(struct proto_budget *b, uint64_t bytes);
void proto_budget__refund(struct proto_budget *b, uint64_t bytes);

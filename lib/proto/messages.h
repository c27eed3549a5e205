/* messages: encoding and decoding of every protocol message
 * (docs/protocol.md), shared by the agent and the coordinator, and by the
 * tests and fuzzers that feed them hostile bytes. Each decoder reads the
 * whole message through the bounds-checked reader, refuses a field out of
 * range or trailing bytes (-EBADMSG), leaves nothing allocated on failure,
 * and passes every string through text_sanitize, the one sanitizer for
 * what a guest says. DATA is delta.c's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../aggregate/profile.h"
#include "budget.h"
#include "wire.h"

#define PROTO_MAX_EVENTS 64
/* Guests with more vCPUs than KVM allows do not exist; a claim beyond it
 * would only widen what the guest may report (docs/security.md, rule 3). */
#define PROTO_MAX_GUEST_CPUS 4096
#define PROTO_NONCE_BYTES 32
#define PROTO_PROOF_BYTES 32
#define PROTO_MAX_ERROR 4096
#define PROTO_MAX_CODE (256u << 10)
#define PROTO_MAX_CODE_LINES 65536
#define PROTO_MAX_CODE_SYMBOLS 4096

/* HELLO (coordinator -> agent). */
struct proto_hello {
	uint16_t max_version, min_version;
	uint32_t caps;
	unsigned char nonce[PROTO_NONCE_BYTES];
};
void proto_hello__encode(struct wbuf *w, const struct proto_hello *h);
int proto_hello__decode(const void *data, size_t len, struct proto_hello *ret);

/* HELLO_REPLY (agent -> coordinator); the proof is its last 32 bytes. */
struct proto_hello_reply {
	uint16_t version;
	uint32_t caps;
	unsigned char nonce[PROTO_NONCE_BYTES];
	unsigned char proof[PROTO_PROOF_BYTES];
};
void proto_hello_reply__encode(struct wbuf *w, const struct proto_hello_reply *r);
int proto_hello_reply__decode(const void *data, size_t len, struct proto_hello_reply *ret);

/* AUTH (coordinator -> agent): the coordinator's proof. */
void proto_auth__encode(struct wbuf *w, const unsigned char proof[PROTO_PROOF_BYTES]);
int proto_auth__decode(const void *data, size_t len, unsigned char proof[PROTO_PROOF_BYTES]);

/* AUTH_OK (agent -> coordinator): who the agent is. */
struct proto_agent_info {
	char *hostname, *kernel, *uuid, *events, *version;
	uint32_t ncpus; /* 1..PROTO_MAX_GUEST_CPUS */
	uint64_t clock_ns;
};
void proto_agent_info__encode(struct wbuf *w, const struct proto_agent_info *i);
int proto_agent_info__decode(const void *data, size_t len, struct proto_agent_info *ret);
void proto_agent_info__release(struct proto_agent_info *i);

/* SETUP (coordinator -> agent). Call graphs: u8 0 none, 1 frame
 * pointers, 2 dwarf; for dwarf a u32 user stack size (a multiple of 8,
 * PROTO_MIN_USER_STACK..PROTO_MAX_USER_STACK) follows the data interval,
 * so that the message without dwarf is what older agents know. */
#define PROTO_MIN_USER_STACK 8
#define PROTO_MAX_USER_STACK 65528 /* the kernel's largest (SAMPLER_MAX_USER_STACK) */
struct proto_setup {
	char **events;
	uint32_t n_events;
	uint64_t freq, period;
	bool callchain;
	uint32_t user_stack_size; /* > 0: dwarf call graphs (callchain is then true) */
	uint32_t flush_ms;
};
void proto_setup__encode(struct wbuf *w, const char *const *events, uint32_t n_events, uint64_t freq, uint64_t period,
			 bool callchain, uint32_t user_stack_size, uint32_t flush_ms);
int proto_setup__decode(const void *data, size_t len, struct proto_setup *ret);
void proto_setup__release(struct proto_setup *s);

/* SETUP_OK (agent -> coordinator): the event the guest samples for each
 * of the n_events of SETUP (decoding refuses another count). */
void proto_setup_ok__encode(struct wbuf *w, const char *const *events, uint32_t n_events);
int proto_setup_ok__decode(const void *data, size_t len, uint32_t n_events, char ***ret_events);
void proto_setup_ok__release(char **events, uint32_t n_events);

/* PING, START, STARTED: one u64 (a clock reading). */
void proto_u64__encode(struct wbuf *w, uint64_t v);
int proto_u64__decode(const void *data, size_t len, uint64_t *ret);
/* PONG: the PING's u64 echoed, then the agent's clock. */
void proto_pong__encode(struct wbuf *w, uint64_t echoed, uint64_t agent_ns);
int proto_pong__decode(const void *data, size_t len, uint64_t *ret_echoed, uint64_t *ret_agent_ns);
/* ARM, ARMED, STOP, BYE: no payload. */
int proto_empty__decode(const void *data, size_t len);
/* ERROR: str message (at most PROTO_MAX_ERROR bytes), sanitized. */
void proto_error__encode(struct wbuf *w, const char *message);
int proto_error__decode(const void *data, size_t len, char **ret_message);
/* FINAL: u64 samples, u64 lost. */
void proto_final__encode(struct wbuf *w, uint64_t samples, uint64_t lost);
int proto_final__decode(const void *data, size_t len, uint64_t *ret_samples, uint64_t *ret_lost);

/* KALLSYMS: the guest's /proc/kallsyms text as it is (empty when it
 * cannot be read). Decoding sanitizes every field, keeping the newlines
 * and tabs that are its structure ("ADDR T name\t[module]"); it never
 * fails, and returns the text (to free) and its length. */
void proto_kallsyms__encode(struct wbuf *w, const char *text, size_t len);
char *proto_kallsyms__decode(const void *data, size_t len, size_t *ret_len);

/* CODE: u32 n, then per function u32 symbol (an agent symbol id), u64
 * address, blob code, u32 lines, lines x {u64 address, str file, u32
 * line}. proto_code__encode writes the whole message; its parts are
 * proto_code__encode_one (one function) and proto_code__encode_count
 * (n, patched in place at offset at). */
void proto_code__encode(struct wbuf *w, const struct symbol_code *codes, size_t n);
void proto_code__encode_count(struct wbuf *w, size_t at, uint32_t n);
void proto_code__encode_one(struct wbuf *w, const struct symbol_code *sc);
/* The whole CODE message, symbol ids 1..max_symbol (the agent's, as
 * sent). Validated completely first, then charged to budget (-ENOBUFS
 * when it does not fit), then allocated; *ret_cost is the charge. */
int proto_code__decode(const void *data, size_t len, uint32_t max_symbol, struct proto_budget *budget,
		       struct symbol_code **ret, size_t *ret_n, uint64_t *ret_cost);

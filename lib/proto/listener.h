/* listener: how an agent lets coordinators in. Any number of peers may
 * connect, and all of their handshakes run at once, without blocking:
 * each peer may hold at most one handshake frame in the agent's memory and
 * has a few seconds to prove the key, and when too many are pending the
 * oldest is dropped. The first peer that proves the key gets the
 * session, so a silent or slow peer (however many connect) cannot hold
 * the real coordinator back (docs/security.md, rule 4). While a session
 * runs, new peers are turned away at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"

#define LISTENER_MAX_PENDING 256
#define LISTENER_HANDSHAKE_MS 5000

/* The listener reports what happened to a peer (rejected, timed out). */
typedef void (*listener_log_fn)(void *ctx, const char *msg);

struct pending_peer;

struct listener {
	int fd;
	unsigned char key[PROTO_KEY_BYTES];
	struct pending_peer *pending;
	size_t n_pending;
	uint64_t handshake_ns;
	listener_log_fn log;
	void *log_ctx;
};

/* Listen on addr ("tcp:HOST:PORT" or "vsock:CID:PORT"). */
int listener__open(struct listener *l, const char *addr, const unsigned char key[PROTO_KEY_BYTES], listener_log_fn log,
		   void *ctx, char **ret_error);
void listener__close(struct listener *l); /* closes every pending peer, wipes the key */

/* Wait at most timeout_ms for a peer that completes the handshake: 1
 * with *ret the authenticated channel (to channel__release), 0 when none
 * did in time, -errno when the listening socket failed. */
int listener__accept(struct listener *l, int timeout_ms, struct channel *ret);
/* While serving a session: accept and close whoever knocks, and drop the
 * peers still pending. Never waits. */
void listener__turn_away(struct listener *l);

/* channel: one authenticated, encrypted, framed connection between the
 * coordinator (`domprof record --agent`) and an agent (`domprof agent`).
 *
 * Frames: u32 length, then u8 type, u8 flags, u16 reserved, payload —
 * little-endian, at most PROTO_MAX_FRAME bytes. Until the handshake is done
 * frames are plain and only the handshake types are accepted; afterwards
 * the bytes after the length are an XChaCha20-Poly1305 ciphertext (the
 * length is authenticated as associated data) under a per-direction key,
 * with the frame's sequence number as nonce. The handshake (HELLO,
 * HELLO_REPLY, AUTH) authenticates both sides from a pre-shared key with
 * fresh nonces from both, so neither a recorded session nor a reflected
 * proof is accepted. Details and rationale: docs/protocol.md,
 * docs/security.md. Everything here is libsodium; nothing home-made. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define PROTO_MAGIC 0x46525044u /* "DPRF" */
#define PROTO_VERSION 1
#define PROTO_MAX_FRAME (16u << 20)
#define PROTO_MAX_HANDSHAKE_FRAME 4096
#define PROTO_MAX_INFLATED (128u << 20)
#define PROTO_KEY_BYTES 32
#define PROTO_FLAG_ZSTD 0x01

enum proto_msg {
	MSG_HELLO = 1,
	MSG_HELLO_REPLY = 2,
	MSG_AUTH = 3,
	MSG_AUTH_OK = 4,
	MSG_SETUP = 5,
	MSG_SETUP_OK = 6,
	MSG_PING = 7,
	MSG_PONG = 8,
	MSG_ARM = 9,
	MSG_ARMED = 10,
	MSG_START = 11,
	MSG_STARTED = 12,
	MSG_DATA = 13,
	MSG_STOP = 14,
	MSG_ERROR = 15,
	MSG_FINAL = 16,
	MSG_BYE = 17,
	MSG_KALLSYMS = 18,
	MSG_CODE = 19,
};
const char *proto_msg__name(unsigned type);

/* Capabilities negotiated in HELLO (the intersection is used). */
#define PROTO_CAP_ZSTD 0x1
#define PROTO_CAP_CALLCHAIN 0x2
#define PROTO_CAP_KALLSYMS 0x4
/* DATA frames say what the agent dropped from its memory (delta.h). */
#define PROTO_CAP_FORGET 0x8
/* With FORGET: thread rows name their id, and a forgotten thread's id may
 * name a new thread (delta.h). */
#define PROTO_CAP_THREAD_IDS 0x10
/* With FORGET: a DATA frame may say the agent renumbered its catalog to
 * the rows it kept (delta.h). */
#define PROTO_CAP_COMPACT 0x20
#define PROTO_CAPS_ALL                                                                                    \
	(PROTO_CAP_ZSTD | PROTO_CAP_CALLCHAIN | PROTO_CAP_KALLSYMS | PROTO_CAP_FORGET | PROTO_CAP_THREAD_IDS | \
	 PROTO_CAP_COMPACT)
/* Both, or neither is used. */
#define PROTO_CAPS_REUSE (PROTO_CAP_FORGET | PROTO_CAP_THREAD_IDS)
/* What an agent that keeps every row it has seen is not offered
 * (domprof top). */
#define PROTO_CAPS_LETTING_GO (PROTO_CAP_FORGET | PROTO_CAP_THREAD_IDS | PROTO_CAP_COMPACT)

struct proto_budget;

struct channel {
	int fd;
	bool encrypted;
	uint32_t caps;  /* agreed by the handshake */
	uint32_t offer; /* what a client offers; 0: PROTO_CAPS_ALL */
	unsigned char tx_key[32], rx_key[32];
	uint64_t tx_seq, rx_seq;
	/* The frame being received, and never more: reads stop at its end, so
	 * before authentication at most one handshake frame is buffered. */
	unsigned char *rx;
	size_t rx_len, rx_cap;
	/* With a budget, every received byte the channel holds (the frame
	 * buffer, the last payload handed out) is charged to it first. */
	struct proto_budget *budget;
	size_t payload_charged;
	char peer[96];            /* for messages: "10.0.2.2:4321" */
	uint64_t bytes_in, bytes_out;
};

/* Takes ownership of fd (made non-blocking). */
void channel__init(struct channel *c, int fd);
void channel__release(struct channel *c); /* closes, wipes keys */

/* Send one frame, compressing the payload with zstd when asked and
 * negotiated. Waits at most timeout_ms for the socket to take it (a peer
 * that stops reading cannot hold us longer). 0 or -errno (-ETIMEDOUT). */
int channel__send(struct channel *c, uint8_t type, const void *payload, size_t len, bool compress, int timeout_ms);
/* Receive one frame within timeout_ms (0: only what is already there).
 * Returns 1 with *type and the (decompressed) payload in *out, 0 when no
 * full frame arrived in time, -ECONNRESET when the peer closed, -EBADMSG
 * for anything malformed, forged or oversized, -ENOBUFS for a frame or
 * payload that does not fit the channel's budget (the connection is then
 * unusable). The payload stays charged until the next receive or
 * channel__drop_payload. */
int channel__recv(struct channel *c, int timeout_ms, uint8_t *type, struct wbuf *out);
/* Done with a payload from channel__recv: free it and refund its charge. */
void channel__drop_payload(struct channel *c, struct wbuf *out);

/* Handshakes; on failure *ret_error says what went wrong in words. */
int channel__handshake_client(struct channel *c, const unsigned char key[PROTO_KEY_BYTES], int timeout_ms,
			      char **ret_error);
int channel__handshake_server(struct channel *c, const unsigned char key[PROTO_KEY_BYTES], int timeout_ms,
			      char **ret_error);

/* The agent's side of the handshake, one step at a time and never
 * waiting, so that one process can run many at once (a silent peer then
 * delays nobody). Zero-initialise, then call whenever the socket is
 * readable: 1 once the peer proved the key (the channel is then
 * encrypted), 0 while more is needed from the peer, -errno with
 * *ret_error when it failed. */
struct handshake_server {
	int step; /* 0: waiting for HELLO, 1: for AUTH */
	unsigned char transcript[32];
	uint32_t caps;
};
int channel__handshake_server_step(struct channel *c, struct handshake_server *hs,
				   const unsigned char key[PROTO_KEY_BYTES], char **ret_error);
void handshake_server__release(struct handshake_server *hs); /* wipes it */

/* Key files: 64 hex digits (32 bytes) and a newline. Loading opens the
 * file without following a symbolic link (-ELOOP) and refuses anything
 * but a regular file (-EINVAL), one owned by another user or readable or
 * writable by group or others (-EPERM) and malformed contents (-EINVAL);
 * *ret_error (optional) says which. */
int proto_key__generate(const char *path);
int proto_key__load(const char *path, unsigned char key[PROTO_KEY_BYTES], char **ret_error);

/* Addresses: "tcp:HOST:PORT" or "vsock:CID:PORT". */
int proto_addr__listen(const char *addr, int *ret_fd, char **ret_error);
int proto_addr__connect(const char *addr, int timeout_ms, int *ret_fd, char **ret_error);

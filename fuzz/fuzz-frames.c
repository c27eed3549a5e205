/* Fuzz target: frames after authentication. The input is cut into frames
 * (u8 type, u8 flags, u16 length, payload) that the harness encrypts with
 * the session key, so the receiver's decryption succeeds and everything
 * behind it is exercised: flags, zstd inflation with size limits and the
 * receiver's memory budget, and every message decoder of both sides, by
 * the frame's type. Some frames are sent corrupted or out of sequence. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/proto/budget.h"
#include "lib/proto/channel.h"
#include "lib/proto/messages.h"

/* Every decoder that could meet this payload. */
static void decode(uint8_t type, const struct wbuf *out)
{
	struct proto_budget budget;
	uint64_t a, b;
	char *msg;
	char **events;
	switch (type) {
	case MSG_SETUP: {
		struct proto_setup s;
		if (proto_setup__decode(out->data, out->len, &s) == 0)
			proto_setup__release(&s);
		break;
	}
	case MSG_AUTH_OK: {
		struct proto_agent_info i;
		if (proto_agent_info__decode(out->data, out->len, &i) == 0)
			proto_agent_info__release(&i);
		break;
	}
	case MSG_SETUP_OK:
		if (proto_setup_ok__decode(out->data, out->len, 2, &events) == 0)
			proto_setup_ok__release(events, 2);
		break;
	case MSG_PONG:
	case MSG_FINAL:
		proto_pong__decode(out->data, out->len, &a, &b);
		break;
	case MSG_PING:
	case MSG_START:
	case MSG_STARTED:
		proto_u64__decode(out->data, out->len, &a);
		break;
	case MSG_ERROR:
		if (proto_error__decode(out->data, out->len, &msg) == 0)
			free(msg);
		break;
	case MSG_CODE: {
		struct symbol_code *codes;
		size_t n;
		proto_budget__init(&budget, 1u << 20);
		if (proto_code__decode(out->data, out->len, 16, &budget, &codes, &n, &a) == 0)
			symbol_codes__free(codes, n);
		break;
	}
	default:
		proto_empty__decode(out->data, out->len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct channel tx, rx;
	struct proto_budget budget;
	int sv[2];
	size_t off = 0;
	struct wbuf out;
	if (sodium_init() < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	channel__init(&tx, sv[1]);
	channel__init(&rx, sv[0]);
	proto_budget__init(&budget, 2u << 20);
	rx.budget = &budget;
	memset(tx.tx_key, 7, 32);
	memset(rx.rx_key, 7, 32);
	tx.encrypted = rx.encrypted = true;
	tx.caps = rx.caps = PROTO_CAPS_ALL;
	wbuf_init(&out);
	while (off + 4 <= size) {
		uint8_t type = data[off], flags = data[off + 1];
		size_t len = (size_t)data[off + 2] | (size_t)data[off + 3] << 8;
		uint8_t got;
		off += 4;
		if (len > size - off)
			len = size - off;
		if (flags & 0x80)
			tx.tx_seq += 1; /* out of sequence: must be rejected */
		/* Send the payload as-is, or compressed (flag 0x40). */
		if (channel__send(&tx, type, data + off, len, flags & 0x40, 100) < 0)
			break;
		off += len;
		if (channel__recv(&rx, 100, &got, &out) != 1)
			break;
		decode(got, &out);
		channel__drop_payload(&rx, &out);
	}
	/* And raw bytes straight into an encrypted channel. */
	if (size && write(sv[1], data, size > 4096 ? 4096 : size) > 0) {
		uint8_t got;
		shutdown(sv[1], SHUT_WR);
		channel__recv(&rx, 10, &got, &out);
	}
	channel__drop_payload(&rx, &out);
	wbuf_release(&out);
	channel__release(&tx);
	channel__release(&rx);
	/* Everything the channel held was charged, and is given back. */
	if (budget.used || budget.peak > budget.limit || budget.over_refunded)
		abort();
	return 0;
}

/* Fuzz target: frames after authentication. The input is cut into frames
 * (u8 type, u8 flags, u16 length, payload) that the harness encrypts with
 * the session key, so the receiver's decryption succeeds and everything
 * behind it is exercised: flags, zstd inflation with size limits, and the
 * message decoders of both sides (the agent's SETUP, the coordinator's
 * AUTH_OK). Some frames are sent corrupted or out of sequence. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/proto/channel.h"
#include "lib/proto/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct channel tx, rx;
	int sv[2];
	size_t off = 0;
	struct wbuf out;
	if (sodium_init() < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	channel__init(&tx, sv[1]);
	channel__init(&rx, sv[0]);
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
		if (got == MSG_SETUP) {
			struct proto_setup s;
			if (proto_setup__decode(out.data, out.len, &s) == 0)
				proto_setup__release(&s);
		} else if (got == MSG_AUTH_OK) {
			struct proto_agent_info i;
			if (proto_agent_info__decode(out.data, out.len, &i) == 0)
				proto_agent_info__release(&i);
		}
	}
	/* And raw bytes straight into an encrypted channel. */
	if (size && write(sv[1], data, size > 4096 ? 4096 : size) > 0) {
		uint8_t got;
		shutdown(sv[1], SHUT_WR);
		channel__recv(&rx, 10, &got, &out);
	}
	wbuf_release(&out);
	channel__release(&tx);
	channel__release(&rx);
	return 0;
}

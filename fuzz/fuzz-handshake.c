/* Fuzz target: the agent protocol before authentication, both directions.
 * The first byte picks the side under test; the rest is what the peer sends
 * (through a socketpair, closed after it so reads end quickly). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/proto/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[PROTO_KEY_BYTES] = { 1, 2, 3 };
	struct channel c;
	int sv[2];
	char *err = NULL;
	if (!size || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	/* The whole peer transcript fits the socket buffer (limit the size). */
	if (size > 60000)
		size = 60000;
	if (write(sv[1], data + 1, size - 1) < 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	channel__init(&c, sv[0]);
	if (data[0] & 1)
		channel__handshake_client(&c, key, 50, &err);
	else
		channel__handshake_server(&c, key, 50, &err);
	free(err);
	channel__release(&c);
	close(sv[1]);
	return 0;
}

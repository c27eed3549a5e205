/* Fuzz target: what a running agent sends the coordinator (DATA deltas,
 * CODE, STARTED, FINAL, ...), applied to a real profile. Input: a sequence
 * of (u8 type, u16 length, payload). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/coordinator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[PROTO_KEY_BYTES] = { 0 };
	struct coordinator c;
	struct profile p;
	char *err = NULL;
	size_t off = 0;
	profile__init(&p);
	profile__domain(&p, "host", false);
	coordinator__init(&c, key, NULL, NULL);
	if (coordinator__add(&c, "vm=tcp:127.0.0.1:1", false, &err) < 0) {
		free(err);
		return 0;
	}
	coordinator__fake_running(&c, 0, &p, 2);
	while (off + 3 <= size) {
		uint8_t type = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		if (coordinator__inject(&c, 0, &p, type, data + off, len) < 0)
			break;
		off += len;
	}
	coordinator__release(&c);
	profile__release(&p);
	return 0;
}

/* The agent protocol library (lib/proto), fed as a hostile guest would:
 * the wire reader's bounds; framing before and after authentication
 * (nothing beyond one handshake frame buffered, forged and replayed frames
 * refused, payloads charged to a budget before they are allocated); the
 * handshake with right and wrong keys and concurrent silent peers; key
 * files; every message's encode/decode round trip and its refusals; DATA
 * deltas with repeated, missing, decreasing and overflowing totals, time
 * outside the recording, and memory beyond the budget; the coordinator's
 * message order and its refusal of contradictory identities; the agent's
 * state machine, driven as a coordinator through a socketpair. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/collect/hot-code.h"
#include "lib/proto/agent.h"
#include "lib/proto/budget.h"
#include "lib/proto/channel.h"
#include "lib/proto/coordinator.h"
#include "lib/proto/delta.h"
#include "lib/proto/delta-internal.h"
#include "lib/proto/listener.h"
#include "lib/proto/messages.h"
#include "lib/proto/wire.h"
#include "lib/util/util.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

/* ---- wire ---- */

static void test_wire_bounds(void **state)
{
	struct wbuf w;
	struct rbuf r;
	size_t len;
	char *s;
	wbuf_init(&w);
	wbuf_u8(&w, 0xab);
	wbuf_u16(&w, 0x1234);
	wbuf_u32(&w, 0xdeadbeef);
	wbuf_u64(&w, 0x0102030405060708ULL);
	wbuf_str(&w, "hello");
	wbuf_blob(&w, "\0\1\2", 3);
	rbuf_init(&r, w.data, w.len);
	assert_int_equal(rbuf_u8(&r), 0xab);
	assert_int_equal(rbuf_u16(&r), 0x1234);
	assert_int_equal(rbuf_u32(&r), 0xdeadbeef);
	assert_true(rbuf_u64(&r) == 0x0102030405060708ULL);
	s = rbuf_str(&r, 5);
	assert_string_equal(s, "hello");
	free(s);
	assert_non_null(rbuf_blob(&r, 3, &len));
	assert_int_equal(len, 3);
	assert_true(rbuf_ok(&r));
	assert_int_equal(rbuf_left(&r), 0);
	/* One byte past the end latches the error; every later read is 0. */
	assert_int_equal(rbuf_u8(&r), 0);
	assert_false(rbuf_ok(&r));
	assert_int_equal(rbuf_u64(&r), 0);
	assert_int_equal(rbuf_left(&r), 0);

	/* A string longer than its field's limit, or holding a NUL. */
	rbuf_init(&r, w.data + 15, w.len - 15);
	assert_null(rbuf_str(&r, 4));
	assert_false(rbuf_ok(&r));
	rbuf_init(&r, w.data + 24, w.len - 24); /* the blob, as a string */
	assert_null(rbuf_str(&r, 100));
	assert_false(rbuf_ok(&r));
	rbuf_init(&r, w.data + 24, w.len - 24);
	assert_null(rbuf_str_view(&r, 100, &len));
	assert_false(rbuf_ok(&r));

	/* A length that claims more than is there. */
	wbuf_reset(&w);
	wbuf_u32(&w, 1000);
	wbuf_put(&w, "abc", 3);
	rbuf_init(&r, w.data, w.len);
	assert_null(rbuf_blob(&r, 4096, &len));
	assert_false(rbuf_ok(&r));
	/* An empty buffer. */
	rbuf_init(&r, NULL, 0);
	assert_int_equal(rbuf_u32(&r), 0);
	assert_false(rbuf_ok(&r));
	wbuf_release(&w);
}

/* ---- framing ---- */

static void channel_pair(struct channel *a, struct channel *b, bool encrypted)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	channel__init(a, sv[0]);
	channel__init(b, sv[1]);
	if (encrypted) {
		memset(a->tx_key, 7, 32);
		memset(b->rx_key, 7, 32);
		memset(b->tx_key, 9, 32);
		memset(a->rx_key, 9, 32);
		a->encrypted = b->encrypted = true;
		a->caps = b->caps = PROTO_CAPS_ALL;
	}
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_preauth_bounds(void **state)
{
	struct channel a, b;
	struct wbuf out;
	unsigned char frame[16];
	uint8_t type;
	static unsigned char junk[1 << 20];
	wbuf_init(&out);

	/* A plain frame of the right size arrives, split anywhere. */
	channel_pair(&a, &b, false);
	put_le32(frame, 8);
	frame[4] = MSG_HELLO;
	frame[5] = frame[6] = frame[7] = 0;
	memcpy(frame + 8, "abcd", 4);
	assert_int_equal(write(a.fd, frame, 3), 3);
	assert_int_equal(channel__recv(&b, 0, &type, &out), 0);
	assert_int_equal(write(a.fd, frame + 3, 9), 9);
	assert_int_equal(channel__recv(&b, 100, &type, &out), 1);
	assert_int_equal(type, MSG_HELLO);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "abcd", 4);

	/* Before authentication a frame may not exceed a handshake frame;
	 * the length alone is refused, nothing behind it is read. */
	put_le32(frame, PROTO_MAX_HANDSHAKE_FRAME + 1);
	assert_int_equal(write(a.fd, frame, 4), 4);
	memset(junk, 'x', sizeof(junk));
	assert_true(write(a.fd, junk, 100000) > 0);
	assert_int_equal(channel__recv(&b, 100, &type, &out), -EBADMSG);
	assert_true(b.rx_cap <= 4 + PROTO_MAX_HANDSHAKE_FRAME);
	assert_true(b.rx_len <= 4);
	channel__release(&a);
	channel__release(&b);

	/* A zero length (shorter than a frame's header) is refused too. */
	channel_pair(&a, &b, false);
	put_le32(frame, 0);
	assert_int_equal(write(a.fd, frame, 4), 4);
	assert_int_equal(write(a.fd, junk, 64), 64);
	assert_int_equal(channel__recv(&b, 100, &type, &out), -EBADMSG);
	channel__release(&a);
	channel__release(&b);

	/* A maximal handshake frame that never completes: the peer holds at
	 * most one handshake frame of our memory, whatever it sends after. */
	channel_pair(&a, &b, false);
	put_le32(frame, PROTO_MAX_HANDSHAKE_FRAME);
	assert_int_equal(write(a.fd, frame, 4), 4);
	assert_int_equal(write(a.fd, junk, 2000), 2000);
	assert_int_equal(channel__recv(&b, 0, &type, &out), 0);
	assert_true(b.rx_cap <= 4 + PROTO_MAX_HANDSHAKE_FRAME);
	assert_int_equal(b.rx_len, 2004);
	/* Compression is refused before authentication. */
	channel__release(&a);
	channel__release(&b);
	channel_pair(&a, &b, false);
	put_le32(frame, 8);
	frame[4] = MSG_HELLO;
	frame[5] = PROTO_FLAG_ZSTD;
	assert_int_equal(write(a.fd, frame, 12), 12);
	assert_int_equal(channel__recv(&b, 100, &type, &out), -EBADMSG);
	channel__release(&a);
	channel__release(&b);
	wbuf_release(&out);
}

struct send_arg {
	struct channel *c;
	uint8_t type;
	const void *data;
	size_t len;
	bool compress;
	int result;
	pthread_t thread;
};

static void *send_thread(void *p)
{
	struct send_arg *a = p;
	a->result = channel__send(a->c, a->type, a->data, a->len, a->compress, 5000);
	return NULL;
}

/* Send from another thread: a frame larger than the socket's buffer
 * completes only while the receiver reads. */
static void send_async(struct send_arg *a, struct channel *c, uint8_t type, const void *data, size_t len, bool compress)
{
	*a = (struct send_arg){ c, type, data, len, compress, -1, 0 };
	assert_int_equal(pthread_create(&a->thread, NULL, send_thread, a), 0);
}

static int send_wait(struct send_arg *a)
{
	pthread_join(a->thread, NULL);
	return a->result;
}

static void test_encrypted_frames(void **state)
{
	struct send_arg sa;
	struct channel a, b;
	struct wbuf out;
	uint8_t type;
	unsigned char *big = xmalloc(300000);
	unsigned char raw[64];
	ssize_t n;
	wbuf_init(&out);
	for (size_t i = 0; i < 300000; i++)
		big[i] = (unsigned char)(i * 7 / 1000);

	channel_pair(&a, &b, true);
	/* Plain and compressed, decrypted in place, in order. */
	send_async(&sa, &a, MSG_DATA, big, 300000, false);
	assert_int_equal(channel__recv(&b, 5000, &type, &out), 1);
	assert_int_equal(send_wait(&sa), 0);
	assert_int_equal(type, MSG_DATA);
	assert_int_equal(out.len, 300000);
	assert_memory_equal(out.data, big, 300000);
	send_async(&sa, &a, MSG_CODE, big, 300000, true);
	assert_int_equal(channel__recv(&b, 5000, &type, &out), 1);
	assert_int_equal(send_wait(&sa), 0);
	assert_int_equal(type, MSG_CODE);
	assert_memory_equal(out.data, big, 300000);
	/* The big frame buffer is given back once handled. */
	assert_true(b.rx_cap <= 64 * 1024);

	/* A replayed frame (sequence number reused) does not decrypt. */
	a.tx_seq--;
	assert_int_equal(channel__send(&a, MSG_DATA, "x", 1, false, 1000), 0);
	assert_int_equal(channel__recv(&b, 1000, &type, &out), -EBADMSG);
	channel__release(&a);
	channel__release(&b);

	/* A flipped bit in the ciphertext. */
	channel_pair(&a, &b, true);
	{
		int sv[2];
		struct channel tap;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		channel__init(&tap, sv[0]);
		memcpy(tap.tx_key, a.tx_key, 32);
		tap.encrypted = true;
		assert_int_equal(channel__send(&tap, MSG_DATA, "hello", 5, false, 1000), 0);
		n = read(sv[1], raw, sizeof(raw));
		assert_true(n > 10);
		raw[n - 1] ^= 1;
		assert_int_equal(write(a.fd, raw, (size_t)n), n);
		assert_int_equal(channel__recv(&b, 1000, &type, &out), -EBADMSG);
		channel__release(&tap);
		close(sv[1]);
	}
	channel__release(&a);
	channel__release(&b);
	free(big);
	wbuf_release(&out);
}

static void test_budget_frames(void **state)
{
	struct channel a, b;
	struct proto_budget budget;
	struct wbuf out;
	uint8_t type;
	size_t zeros = 8u << 20;
	unsigned char *z = xcalloc(zeros, 1);
	wbuf_init(&out);

	proto_budget__init(&budget, 1u << 20);
	channel_pair(&a, &b, true);
	b.budget = &budget;
	/* 64 KiB: charged while held, refunded when dropped. */
	assert_int_equal(channel__send(&a, MSG_DATA, z, 65536, false, 1000), 0);
	assert_int_equal(channel__recv(&b, 1000, &type, &out), 1);
	assert_true(budget.used >= 65536);
	channel__drop_payload(&b, &out);
	assert_true(budget.used <= 64 * 1024 + 256);
	/* A zstd bomb: 8 MiB of zeros in a few hundred bytes. It declares its
	 * size, which is refused before anything is inflated. */
	assert_int_equal(channel__send(&a, MSG_DATA, z, zeros, true, 1000), 0);
	assert_int_equal(channel__recv(&b, 1000, &type, &out), -ENOBUFS);
	assert_null(out.data);
	assert_true(budget.peak < (1u << 20));
	channel__release(&b);
	assert_int_equal(budget.used, 0);
	channel__release(&a);

	/* A frame larger than the budget is refused from its length alone,
	 * before a byte of it is buffered. */
	proto_budget__init(&budget, 1u << 20);
	channel_pair(&a, &b, true);
	b.budget = &budget;
	{
		unsigned char hdr[4];
		put_le32(hdr, 2u << 20);
		assert_int_equal(write(a.fd, hdr, 4), 4);
		assert_int_equal(write(a.fd, z, 4096), 4096);
	}
	assert_int_equal(channel__recv(&b, 1000, &type, &out), -ENOBUFS);
	assert_true(b.rx_cap <= 256);
	assert_true(budget.peak <= (1u << 20));
	channel__release(&a);
	channel__release(&b);
	free(z);
	wbuf_release(&out);
}

/* ---- handshake and listener ---- */

static const unsigned char key_a[PROTO_KEY_BYTES] = { 1, 2, 3, 4 };
static const unsigned char key_b[PROTO_KEY_BYTES] = { 4, 3, 2, 1 };

struct client_arg {
	int fd;
	const unsigned char *key;
	uint32_t offer, caps; /* what the client offers, what was agreed */
	int result;
	uint64_t elapsed_ns;
	char *error;
};

static void *client_thread(void *p)
{
	struct client_arg *c = p;
	struct channel ch;
	uint64_t t0 = clock_monotonic_ns();
	channel__init(&ch, c->fd);
	ch.offer = c->offer;
	c->result = channel__handshake_client(&ch, c->key, 3000, &c->error);
	c->caps = ch.caps;
	if (c->result == 0) {
		/* The first encrypted message: the agent's AUTH_OK. */
		struct wbuf in;
		uint8_t type;
		wbuf_init(&in);
		if (channel__recv(&ch, 3000, &type, &in) != 1 || type != MSG_AUTH_OK)
			c->result = -EBADMSG;
		wbuf_release(&in);
	}
	c->elapsed_ns = clock_monotonic_ns() - t0;
	channel__release(&ch);
	return NULL;
}

static void test_handshake(void **state)
{
	/* wrong 0: the right key; 1: a wrong one; 2: the right key, from a
	 * client that does not offer FORGET (top): neither side uses it. */
	for (int wrong = 0; wrong < 3; wrong++) {
		int sv[2];
		pthread_t t;
		struct channel server;
		struct client_arg c = { 0 };
		char *err = NULL;
		int r;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		c.fd = sv[0];
		c.key = wrong == 1 ? key_b : key_a;
		c.offer = wrong == 2 ? PROTO_CAPS_ALL & ~PROTO_CAP_FORGET : 0;
		channel__init(&server, sv[1]);
		assert_int_equal(pthread_create(&t, NULL, client_thread, &c), 0);
		r = channel__handshake_server(&server, key_a, 3000, &err);
		if (r == 0)
			assert_int_equal(channel__send(&server, MSG_AUTH_OK, "x", 1, false, 1000), 0);
		else
			channel__release(&server);
		pthread_join(t, NULL);
		if (wrong == 1) {
			/* Both sides refuse, and say so. */
			assert_int_equal(r, -EACCES);
			assert_non_null(strstr(err, "authentication failed"));
			assert_int_equal(c.result, -EACCES);
			assert_non_null(strstr(c.error, "authentication failed"));
		} else {
			assert_int_equal(r, 0);
			assert_true(server.encrypted);
			assert_int_equal(c.result, 0);
			assert_int_equal(server.caps, c.caps);
			assert_int_equal(!!(server.caps & PROTO_CAP_FORGET), wrong == 0);
			channel__release(&server);
		}
		free(err);
		free(c.error);
	}
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

struct accept_arg {
	struct listener *l;
	int result;
	struct channel ch;
};

static void *accept_thread(void *p)
{
	struct accept_arg *a = p;
	a->result = listener__accept(a->l, 3000, &a->ch);
	if (a->result == 1)
		channel__send(&a->ch, MSG_AUTH_OK, "x", 1, false, 1000);
	return NULL;
}

/* Rule 4: silent peers, slow peers and peers stuck half-way through the
 * handshake cost the real coordinator nothing. */
static void test_listener_silent_peers(void **state)
{
	struct listener l;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int silent[24];
	char *err = NULL;
	struct accept_arg acc;
	struct client_arg c = { 0 };
	pthread_t t;
	uint16_t port;

	assert_int_equal(listener__open(&l, "tcp:127.0.0.1:0", key_a, NULL, NULL, &err), 0);
	assert_int_equal(getsockname(l.fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	for (int i = 0; i < 24; i++) {
		silent[i] = connect_to(port);
		if (i % 3 == 1) /* half a HELLO */
			assert_int_equal(write(silent[i], "\x30\x00\x00\x00\x01", 5), 5);
		if (i % 3 == 2) { /* a valid HELLO, then nothing: stuck before AUTH */
			struct wbuf w;
			struct proto_hello h = { .max_version = PROTO_VERSION, .min_version = PROTO_VERSION };
			unsigned char hdr[8];
			wbuf_init(&w);
			proto_hello__encode(&w, &h);
			put_le32(hdr, (uint32_t)w.len + 4);
			hdr[4] = MSG_HELLO;
			hdr[5] = hdr[6] = hdr[7] = 0;
			assert_int_equal(write(silent[i], hdr, 8), 8);
			assert_int_equal(write(silent[i], w.data, w.len), (ssize_t)w.len);
			wbuf_release(&w);
		}
	}
	acc = (struct accept_arg){ .l = &l };
	assert_int_equal(pthread_create(&t, NULL, accept_thread, &acc), 0);
	usleep(100000); /* the silent ones are pending now */
	c.fd = connect_to(port);
	c.key = key_a;
	client_thread(&c);
	pthread_join(t, NULL);
	assert_int_equal(acc.result, 1);
	assert_int_equal(c.result, 0);
	/* Rule 4's bound: 1 s. On loopback it takes milliseconds. */
	assert_true(c.elapsed_ns < 1 * SEC);
	assert_true(l.n_pending >= 16);
	channel__release(&acc.ch);
	/* While serving, every other peer is turned away at once. */
	listener__turn_away(&l);
	assert_int_equal(l.n_pending, 0);
	for (int i = 0; i < 24; i++)
		close(silent[i]);
	listener__close(&l);
}

/* ---- keys ---- */

static void test_key_files(void **state)
{
	char dir[] = "/tmp/domprof-test-proto-XXXXXX", path[128], link[128];
	unsigned char key[PROTO_KEY_BYTES];
	char *err = NULL;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(proto_key__generate(path), 0);
	assert_int_equal(proto_key__load(path, key, NULL), 0);
	/* readable by others */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(proto_key__load(path, key, &err), -EPERM);
	assert_non_null(strstr(err, "other users"));
	free(err);
	assert_int_equal(chmod(path, 0600), 0);
	/* through a symbolic link */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(proto_key__load(link, key, &err), -ELOOP);
	free(err);
	/* not a file */
	assert_int_equal(proto_key__load(dir, key, &err), -EINVAL);
	free(err);
	/* owned by someone else (needs root to arrange) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(proto_key__load(path, key, &err), -EPERM);
		assert_non_null(strstr(err, "uid 65534"));
		free(err);
		assert_int_equal(chown(path, 0, 0), 0);
	}
	/* not a key */
	assert_int_equal(write_file(path, "not a key\n", 10), 0);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(proto_key__load(path, key, &err), -EINVAL);
	free(err);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

/* ---- messages ---- */

static void test_messages_handshake(void **state)
{
	struct wbuf w;
	struct proto_hello h = { 3, 1, 0x7, { 0 } }, h2;
	struct proto_hello_reply r = { 1, 0x5, { 0 }, { 0 } }, r2;
	unsigned char proof[32], proof2[32];
	wbuf_init(&w);
	randombytes_buf(h.nonce, sizeof(h.nonce));
	proto_hello__encode(&w, &h);
	assert_int_equal(proto_hello__decode(w.data, w.len, &h2), 0);
	assert_memory_equal(&h, &h2, sizeof(h));
	assert_int_equal(proto_hello__decode(w.data, w.len - 1, &h2), -EBADMSG);
	w.data[0] ^= 1; /* magic */
	assert_int_equal(proto_hello__decode(w.data, w.len, &h2), -EBADMSG);

	wbuf_reset(&w);
	randombytes_buf(r.nonce, sizeof(r.nonce));
	randombytes_buf(r.proof, sizeof(r.proof));
	proto_hello_reply__encode(&w, &r);
	assert_int_equal(proto_hello_reply__decode(w.data, w.len, &r2), 0);
	assert_memory_equal(&r, &r2, sizeof(r));
	wbuf_u8(&w, 0);
	assert_int_equal(proto_hello_reply__decode(w.data, w.len, &r2), -EBADMSG);

	wbuf_reset(&w);
	randombytes_buf(proof, sizeof(proof));
	proto_auth__encode(&w, proof);
	assert_int_equal(proto_auth__decode(w.data, w.len, proof2), 0);
	assert_memory_equal(proof, proof2, 32);
	assert_int_equal(proto_auth__decode(w.data, 31, proof2), -EBADMSG);
	wbuf_release(&w);
}

static void test_messages_session(void **state)
{
	struct wbuf w;
	struct proto_agent_info i = { "guest\x1b[2J", "6.1\xc2\x9b" "31m", "11111111-2222-3333-4444-555555555555",
				      "cpu-clock", "0.1.0\xe2\x80\xae", 4, 12345 },
				i2;
	const char *events[] = { "cpu-clock", "cycles:u" };
	struct proto_setup s;
	char **used;
	uint64_t a, b;
	char *msg;
	wbuf_init(&w);

	/* AUTH_OK: strings arrive sanitized (the one sanitizer). */
	proto_agent_info__encode(&w, &i);
	assert_int_equal(proto_agent_info__decode(w.data, w.len, &i2), 0);
	assert_string_equal(i2.hostname, "guest?[2J");
	assert_string_equal(i2.kernel, "6.1?31m");
	assert_string_equal(i2.version, "0.1.0?");
	assert_string_equal(i2.uuid, i.uuid);
	assert_int_equal(i2.ncpus, 4);
	assert_true(i2.clock_ns == 12345);
	proto_agent_info__release(&i2);
	/* CPUs: none, or more than a guest can have. */
	for (int k = 0; k < 2; k++) {
		i.ncpus = k ? PROTO_MAX_GUEST_CPUS + 1 : 0;
		wbuf_reset(&w);
		proto_agent_info__encode(&w, &i);
		assert_int_equal(proto_agent_info__decode(w.data, w.len, &i2), -EBADMSG);
	}

	wbuf_reset(&w);
	proto_setup__encode(&w, events, 2, 999, 0, true, 0, 500);
	assert_int_equal(proto_setup__decode(w.data, w.len, &s), 0);
	assert_int_equal(s.n_events, 2);
	assert_string_equal(s.events[1], "cycles:u");
	assert_true(s.freq == 999 && s.period == 0 && s.callchain && s.flush_ms == 500);
	proto_setup__release(&s);
	wbuf_reset(&w);
	proto_setup__encode(&w, events, 2, 999, 0, true, 0, 20000); /* interval out of range */
	assert_int_equal(proto_setup__decode(w.data, w.len, &s), -EBADMSG);

	/* Dwarf call graphs: the stack size rides after the interval, only
	 * then; the message without them is byte for byte the old one. */
	{
		struct wbuf fp;
		wbuf_init(&fp);
		proto_setup__encode(&fp, events, 2, 999, 0, true, 0, 500);
		wbuf_reset(&w);
		proto_setup__encode(&w, events, 2, 999, 0, true, 8192, 500);
		assert_int_equal(w.len, fp.len + 4);
		assert_int_equal(((const uint8_t *)fp.data)[fp.len - 5], 1);
		assert_int_equal(((const uint8_t *)w.data)[fp.len - 5], 2);
		wbuf_release(&fp);
		assert_int_equal(proto_setup__decode(w.data, w.len, &s), 0);
		assert_true(s.callchain && s.user_stack_size == 8192 && s.flush_ms == 500);
		proto_setup__release(&s);
	}
	/* A hostile or broken peer: every bad call-graph field is refused. */
	{
		static const struct {
			uint8_t cc;
			bool has_size;
			uint32_t size;
		} bad[] = {
			{ 3, false, 0 },	   /* unknown mode */
			{ 0xff, true, 8192 },	   /* unknown mode, with a size */
			{ 2, false, 0 },	   /* dwarf without its size */
			{ 2, true, 0 },		   /* too small */
			{ 2, true, 4 },		   /* too small */
			{ 2, true, 12 },	   /* not a multiple of 8 */
			{ 2, true, 65536 },	   /* past the kernel's largest */
			{ 2, true, UINT32_MAX },   /* far past */
			{ 1, true, 8192 },	   /* a size without dwarf: trailing bytes */
			{ 0, true, 8192 },	   /* likewise */
		};
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			wbuf_reset(&w);
			wbuf_u32(&w, 1);
			wbuf_str(&w, "cpu-clock");
			wbuf_u64(&w, 99);
			wbuf_u64(&w, 0);
			wbuf_u8(&w, bad[k].cc);
			wbuf_u32(&w, 500);
			if (bad[k].has_size)
				wbuf_u32(&w, bad[k].size);
			assert_int_equal(proto_setup__decode(w.data, w.len, &s), -EBADMSG);
		}
		/* The bounds themselves are taken. */
		for (uint32_t size = PROTO_MIN_USER_STACK; size <= PROTO_MAX_USER_STACK;
		     size = size == PROTO_MIN_USER_STACK ? PROTO_MAX_USER_STACK : UINT32_MAX) {
			wbuf_reset(&w);
			proto_setup__encode(&w, events, 2, 999, 0, true, size, 500);
			assert_int_equal(proto_setup__decode(w.data, w.len, &s), 0);
			assert_int_equal(s.user_stack_size, size);
			proto_setup__release(&s);
		}
	}

	wbuf_reset(&w);
	proto_setup_ok__encode(&w, events, 2);
	assert_int_equal(proto_setup_ok__decode(w.data, w.len, 2, &used), 0);
	assert_string_equal(used[0], "cpu-clock");
	proto_setup_ok__release(used, 2);
	assert_int_equal(proto_setup_ok__decode(w.data, w.len, 3, &used), -EBADMSG);

	wbuf_reset(&w);
	proto_u64__encode(&w, UINT64_MAX - 1);
	assert_int_equal(proto_u64__decode(w.data, w.len, &a), 0);
	assert_true(a == UINT64_MAX - 1);
	wbuf_u8(&w, 1);
	assert_int_equal(proto_u64__decode(w.data, w.len, &a), -EBADMSG);

	wbuf_reset(&w);
	proto_pong__encode(&w, 7, 9);
	assert_int_equal(proto_pong__decode(w.data, w.len, &a, &b), 0);
	assert_true(a == 7 && b == 9);
	wbuf_reset(&w);
	proto_final__encode(&w, 100, 3);
	assert_int_equal(proto_final__decode(w.data, w.len, &a, &b), 0);
	assert_true(a == 100 && b == 3);
	assert_int_equal(proto_final__decode(w.data, 15, &a, &b), -EBADMSG);

	assert_int_equal(proto_empty__decode(NULL, 0), 0);
	assert_int_equal(proto_empty__decode("x", 1), -EBADMSG);

	wbuf_reset(&w);
	proto_error__encode(&w, "bad\x1b]0;pwned\x07 thing \xe2\x81\xa6x\xff");
	assert_int_equal(proto_error__decode(w.data, w.len, &msg), 0);
	assert_string_equal(msg, "bad?]0;pwned? thing ?x?");
	assert_true(text_is_safe(msg));
	free(msg);
	wbuf_release(&w);
}

static void test_messages_code(void **state)
{
	struct code_line lines[2] = { { 0x1000, "/src/a\x1b[1m.c", 10 }, { 0x1004, "b.c", 11 } };
	unsigned char bytes[3] = { 0x90, 0x90, 0xc3 };
	struct symbol_code sc = { 2, 0x1000, bytes, 3, lines, 2 }, *out;
	struct proto_budget budget;
	struct wbuf w;
	size_t n;
	uint64_t cost;
	wbuf_init(&w);
	wbuf_u32(&w, 0);
	proto_code__encode_one(&w, &sc);
	proto_code__encode_count(&w, 0, 1);
	proto_budget__init(&budget, 1u << 20);
	assert_int_equal(proto_code__decode(w.data, w.len, 2, &budget, &out, &n, &cost), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].symbol, 2);
	assert_true(out[0].address == 0x1000);
	assert_int_equal(out[0].len, 3);
	assert_memory_equal(out[0].code, bytes, 3);
	assert_int_equal(out[0].n_lines, 2);
	assert_string_equal(out[0].lines[0].file, "/src/a?[1m.c");
	assert_int_equal(out[0].lines[1].line, 11);
	assert_true(budget.used == cost && cost >= 3 + 2 * sizeof(struct code_line));
	symbol_codes__free(out, n);
	/* A symbol the agent never sent. */
	assert_int_equal(proto_code__decode(w.data, w.len, 1, &budget, &out, &n, &cost), -EBADMSG);
	/* More than the budget has left: refused before anything is made. */
	proto_budget__init(&budget, 64);
	assert_int_equal(proto_code__decode(w.data, w.len, 2, &budget, &out, &n, &cost), -ENOBUFS);
	assert_int_equal(budget.used, 0);
	/* Truncated anywhere. */
	for (size_t cut = 0; cut < w.len; cut++)
		assert_int_equal(proto_code__decode(w.data, cut, 2, NULL, &out, &n, &cost), -EBADMSG);
	wbuf_release(&w);
}

/* ---- DATA ---- */

struct agent_profile {
	struct profile p;
	uint32_t thread, image, symbol, sample, bucket0;
};

/* What an agent's recorder holds: one thread, one image, one symbol; a
 * cpu-clock sample counter and a timeline counter. */
static void agent_profile_init(struct agent_profile *a)
{
	struct sample_key k = { .event = 1, .layer = LAYER_USER };
	struct timeline_key tk = { .event = 1, .layer = LAYER_USER, .bucket = 0 };
	uint32_t dom;
	profile__init(&a->p);
	dom = profile__domain(&a->p, "host", false);
	a->thread = profile__thread(&a->p, dom, 10, 11, "work\x1b[31m", ROLE_TASK, -1);
	a->image = profile__image(&a->p, dom, "/usr/bin/work", NULL, IMAGE_ELF);
	a->symbol = profile__symbol(&a->p, a->image, "spin", 0x1000, 0x40);
	k.domain = tk.domain = dom;
	k.thread = a->thread;
	k.image = a->image;
	k.symbol = a->symbol;
	k.address = 0x1010;
	a->sample = profile__add_sample(&a->p, &k, 10, 10 * MS);
	profile__add_timeline(&a->p, &tk, 10, 10 * MS);
}

static void agent_sample(struct agent_profile *a, uint64_t count, uint64_t period)
{
	struct timeline_key tk = { .event = 1, .domain = 1, .layer = LAYER_USER, .bucket = 0 };
	profile__bump_sample(&a->p, a->sample, count, period);
	profile__add_timeline(&a->p, &tk, count, period);
}

struct host_side {
	struct profile p;
	struct delta_state d;
	struct proto_budget budget;
	struct event_spec ev;
	uint32_t vm;
};

static void host_init(struct host_side *h, uint64_t budget, uint32_t ncpus)
{
	profile__init(&h->p);
	profile__domain(&h->p, "host", false);
	h->vm = profile__domain(&h->p, "vm", true);
	proto_budget__init(&h->budget, budget);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &h->ev, NULL), 0);
	delta_state__init(&h->d, h->vm, 1);
	/* Started at 10 s; the host's timeline begins there too, 100 ms buckets. */
	delta_state__set_limits(&h->d, &h->budget, ncpus, 10 * SEC, 10 * SEC, 100 * MS, &h->ev);
}

static void host_release(struct host_side *h)
{
	/* Nothing was ever given back that was not charged. */
	assert_int_equal(h->budget.over_refunded, 0);
	delta_state__release(&h->d);
	event_spec__release(&h->ev);
	profile__release(&h->p);
}

static uint64_t host_period(struct host_side *h)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < h->p.n_samples; i++)
		if (h->p.samples[i].key.domain == h->vm)
			sum += h->p.samples[i].period;
	return sum;
}

static uint64_t host_timeline_period(struct host_side *h)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < h->p.n_timeline; i++)
		if (h->p.timeline[i].key.domain == h->vm)
			sum += h->p.timeline[i].period;
	return sum;
}

static void test_delta_roundtrip(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf f1, f2, f3;
	char *err = NULL;
	const struct profile_symbol *sym;
	agent_profile_init(&a);
	host_init(&h, 1u << 20, 2);
	wbuf_init(&f1);
	wbuf_init(&f2);
	wbuf_init(&f3);
	delta__encode(&a.p, &f1, 0, NULL);
	agent_sample(&a, 5, 5 * MS);
	delta__encode(&a.p, &f2, 0, NULL);
	agent_sample(&a, 5, 5 * MS);
	delta__encode(&a.p, &f3, 0, NULL);

	assert_int_equal(delta__apply(&h.d, &h.p, f1.data, f1.len, 11 * SEC, &err), 0);
	/* The rows, translated into the VM's domain, strings sanitized. */
	assert_int_equal(h.d.n_threads, 1);
	assert_string_equal(h.p.threads[h.d.threads[0] - 1].comm, "work?[31m");
	assert_int_equal(h.p.threads[h.d.threads[0] - 1].domain, h.vm);
	assert_string_equal(h.p.images[h.d.images[0] - 1].path, "/usr/bin/work");
	sym = &h.p.symbols[h.d.symbols[0] - 1];
	assert_string_equal(sym->name, "spin");
	assert_true(sym->address == 0x1000 && sym->size == 0x40);
	assert_true(host_period(&h) == 10 * MS);
	assert_true(host_timeline_period(&h) == 10 * MS);
	/* Applied twice: running totals add nothing. */
	assert_int_equal(delta__apply(&h.d, &h.p, f1.data, f1.len, 11 * SEC, &err), 0);
	assert_true(host_period(&h) == 10 * MS);
	/* Frame 2 lost: frame 3's totals carry its growth. */
	assert_int_equal(delta__apply(&h.d, &h.p, f3.data, f3.len, 11 * SEC, &err), 0);
	assert_true(host_period(&h) == 20 * MS);
	assert_true(host_timeline_period(&h) == 20 * MS);
	assert_true(h.d.samples_received == 20);
	/* A late frame 2 is older: its totals went down. Refused whole. */
	assert_int_equal(delta__apply(&h.d, &h.p, f2.data, f2.len, 11 * SEC, &err), -ERANGE);
	assert_non_null(strstr(err, "went down"));
	free(err);
	assert_true(host_period(&h) == 20 * MS);
	wbuf_release(&f1);
	wbuf_release(&f2);
	wbuf_release(&f3);
	host_release(&h);
	profile__release(&a.p);
}

/* One DATA sample row: counter idx, cpu-clock, guest-user, naming thread
 * (0: none) and no image, symbol or stack, with its running totals. */
static void put_sample_row(struct wbuf *w, uint32_t idx, uint32_t thread, uint64_t address, uint64_t count,
			   uint64_t period)
{
	wbuf_u32(w, idx);
	wbuf_u32(w, 1);
	wbuf_u8(w, LAYER_GUEST_USER);
	wbuf_u32(w, thread);
	wbuf_u32(w, 0);
	wbuf_u32(w, 0);
	wbuf_u64(w, address);
	wbuf_u32(w, 0);
	wbuf_u64(w, count);
	wbuf_u64(w, period);
}

/* One hand-made DATA frame: no catalog rows, n sample rows (index i,
 * cpu-clock, guest-user) with the given totals, and one timeline row. */
static void data_frame(struct wbuf *w, size_t n, const uint32_t *idx, const uint64_t *period, uint32_t bucket)
{
	wbuf_reset(w);
	for (int t = 0; t < 4; t++)
		wbuf_u32(w, 0);
	wbuf_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_sample_row(w, idx[i], 0, 0x1234, 1, period[i]);
	wbuf_u32(w, 1);
	wbuf_u32(w, 0);
	wbuf_u32(w, 1);
	wbuf_u8(w, LAYER_GUEST_USER);
	wbuf_u32(w, bucket);
	wbuf_u64(w, 1);
	wbuf_u64(w, 1000);
}

static void test_delta_hostile(void **state)
{
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	uint32_t idx[2] = { 0, 1 };
	uint64_t period[2];
	wbuf_init(&w);

	/* Two counters near 2^63: their sum overflows, and each is far beyond
	 * what 2 CPUs count in 1 s. */
	host_init(&h, 1u << 20, 2);
	period[0] = period[1] = (1ULL << 63) - 16;
	data_frame(&w, 2, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -ERANGE);
	assert_non_null(strstr(err, "2 CPUs"));
	free(err);
	assert_int_equal(h.p.n_samples, 0); /* nothing of the frame applied */
	assert_int_equal(h.p.n_timeline, 0);
	/* One CPU-second per CPU-second: 2 CPUs for 1 s plus slack is fine ... */
	period[0] = period[1] = 1900 * MS;
	data_frame(&w, 2, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_true(host_period(&h) == 3800 * MS);
	/* ... five CPU-seconds more by the same instant are not. */
	period[0] = period[1] = 4400 * MS;
	data_frame(&w, 2, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -ERANGE);
	free(err);
	assert_true(host_period(&h) == 3800 * MS);
	host_release(&h);

	/* A counter index given twice in one frame; one out of sequence. */
	host_init(&h, 1u << 20, 2);
	idx[0] = idx[1] = 0;
	period[0] = period[1] = MS;
	data_frame(&w, 2, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
	free(err);
	idx[0] = 5;
	data_frame(&w, 1, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
	free(err);
	host_release(&h);

	/* Time: a bucket far outside the recording is refused; one just past
	 * its end (an agent stopping late) is counted in the last bucket. */
	host_init(&h, 1u << 20, 2);
	idx[0] = 0;
	data_frame(&w, 1, idx, period, 0xfffffff0u);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -ERANGE);
	assert_non_null(strstr(err, "outside the recording"));
	free(err);
	data_frame(&w, 1, idx, period, 15); /* 1.5 s into a recording 1 s old */
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_int_equal(h.p.n_timeline, 1);
	assert_int_equal(h.p.timeline[0].key.bucket, 10);
	host_release(&h);

	/* After the host stopped (at 11 s: buckets 0..9), a slow agent still
	 * sends what it sampled until STOP reached it: 3 s late, received at
	 * 15 s, it is counted in the last bucket. Past the host's clock and
	 * its slack (bucket 50 + 20) it is a lie, refused. */
	host_init(&h, 1u << 20, 2);
	h.d.stop_ns = 11 * SEC;
	data_frame(&w, 1, idx, period, 71);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 15 * SEC, &err), -ERANGE);
	assert_non_null(strstr(err, "outside the recording"));
	free(err);
	data_frame(&w, 1, idx, period, 70);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 15 * SEC, &err), 0);
	assert_int_equal(h.p.n_timeline, 1);
	assert_int_equal(h.p.timeline[0].key.bucket, 9);
	{
		/* The same counter's growth, named at another late bucket. */
		uint64_t first = h.p.timeline[0].period;
		assert_true(first > 0);
		period[0] = 2 * MS;
		data_frame(&w, 1, idx, period, 40);
		w.data[w.len - 8] = 2000 & 0xff; /* the timeline row's period: 1000, now 2000 */
		w.data[w.len - 7] = 2000 >> 8;
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 15 * SEC, &err), 0);
		assert_int_equal(h.p.n_timeline, 1);
		assert_int_equal(h.p.timeline[0].period, 2 * first);
	}
	host_release(&h);

	/* A counter's identity is fixed by its first row: later rows that
	 * name another bucket feed the same host entry, never a new one (which
	 * would be memory the budget was not charged for). */
	host_init(&h, 1u << 20, 2);
	period[0] = MS;
	data_frame(&w, 1, idx, period, 2);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, NULL), 0);
	for (uint32_t b = 3; b < 9; b++) {
		period[0] += MS;
		data_frame(&w, 1, idx, period, b);
		w.data[w.len - 16] = (unsigned char)(b * 10); /* the timeline row's count grows too */
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, NULL), 0);
	}
	assert_int_equal(h.p.n_timeline, 1);
	assert_int_equal(h.p.timeline[0].key.bucket, 2);
	assert_int_equal(h.p.n_samples, 1);
	host_release(&h);

	/* Memory: a budget too small for the rows refuses the frame whole. */
	host_init(&h, 256, 2);
	data_frame(&w, 1, idx, period, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -ENOBUFS);
	assert_non_null(strstr(err, "memory budget"));
	free(err);
	assert_int_equal(h.p.n_samples, 0);
	assert_int_equal(h.budget.used, 0);
	host_release(&h);

	/* Truncated anywhere: refused, nothing applied, no crash. */
	host_init(&h, 1u << 20, 2);
	data_frame(&w, 1, idx, period, 3);
	for (size_t cut = 0; cut < w.len; cut++) {
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, cut, 11 * SEC, NULL), -EBADMSG);
		assert_int_equal(h.p.n_samples, 0);
	}
	host_release(&h);
	wbuf_release(&w);
}

/* ---- FORGET: an agent that drops what can no longer change ---- */

static bool sample_of_thread(const struct sample_entry *e, void *ctx) { return e->key.thread == *(uint32_t *)ctx; }

static uint32_t agent_add_thread(struct profile *p, uint32_t tid, uint64_t period)
{
	struct sample_key k = { .event = 1, .layer = LAYER_USER, .domain = 1, .image = 1, .symbol = 1, .address = 0x1010 };
	k.thread = profile__thread(p, 1, 10, tid, "t", ROLE_TASK, -1);
	profile__add_sample(p, &k, 1, period);
	return k.thread;
}

static size_t host_live_threads(const struct host_side *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->p.n_threads; i++)
		n += h->p.threads[i].id && h->p.threads[i].domain == h->vm;
	return n;
}

/* Thread t of the agent exits: its one counter and its row leave the
 * agent's profile. */
static void agent_thread_exits(struct agent_profile *a, uint32_t t)
{
	assert_int_equal(profile__drop_samples(&a->p, sample_of_thread, &t), 1);
	assert_int_equal(profile__drop_threads(&a->p, &t, 1), 1);
}

/* The agent's next DATA frame (FORGET agreed), applied by the host at now. */
static void agent_frame(struct agent_profile *a, struct host_side *h, struct wbuf *w, uint64_t now)
{
	char *err = NULL;
	wbuf_reset(w);
	delta__encode(&a->p, w, PROTO_CAP_FORGET, NULL);
	if (delta__apply(&h->d, &h->p, w->data, w->len, now, &err) < 0)
		fail_msg("a frame of the agent was refused: %s", err);
}

/* A rotation at host clock start_ns: the old session's last flush, the
 * profile restarted, the agent's live rows interned again. */
static void host_rotate(struct host_side *h, uint64_t start_ns)
{
	struct profile_catalog_map keep;
	profile__mark_written(&h->p);
	profile_catalog_map__init(&keep, &h->p);
	delta__rotate_save(&h->d, &h->p, &keep);
	profile__restart(&h->p, &keep);
	delta__rotate_apply(&h->d, &h->p, &keep, start_ns);
	profile_catalog_map__release(&keep);
}

/* The agent's own profile drops an exited thread and a past bucket; the
 * next frame says so; the host takes the new counter in the freed index,
 * gives the budget back, and drops its copies once they are written. */
static void test_delta_forget(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	uint32_t t1;
	uint64_t used1;
	size_t live;
	agent_profile_init(&a); /* thread 1, one sample (10 ms), bucket 0 */
	a.p.track_drops = true;
	host_init(&h, 1u << 20, 2);
	h.d.forget = true;
	wbuf_init(&w);
	t1 = agent_add_thread(&a.p, 12, 20 * MS);
	agent_frame(&a, &h, &w, 11 * SEC);
	assert_true(host_period(&h) == 30 * MS);
	assert_int_equal(host_live_threads(&h), 2);
	used1 = h.budget.used;

	/* Thread t1 exits: its counter, its row and bucket 0 leave the agent. */
	agent_thread_exits(&a, t1);
	assert_int_equal(profile__drop_timeline(&a.p, 1), 1);
	assert_int_equal(a.p.dropped_samples.n, 1);
	/* A new thread takes the freed slots: its counter the freed index,
	 * with totals below the old one's (a new counter, from zero). */
	agent_add_thread(&a.p, 13, 4 * MS);
	wbuf_reset(&w);
	delta__encode(&a.p, &w, PROTO_CAP_FORGET, NULL);
	assert_int_equal(a.p.dropped_samples.n, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_true(host_period(&h) == 34 * MS);
	assert_int_equal(h.d.forgotten, 2); /* the sample counter and the timeline one */
	assert_int_equal(h.d.n_samples_known, 2); /* the index was reused */
	/* A thread and a counter came; what went is still held by the host,
	 * so still charged. */
	assert_true(h.budget.used > used1);

	/* The host's copies leave memory once written, not before; their
	 * budget comes back then: a thread and a counter went, a thread and a
	 * counter came, a timeline counter went. */
	live = profile__n_live_samples(&h.p);
	assert_int_equal(delta__drop_retired(&h.d, &h.p), 0);
	assert_true(h.budget.used > used1);
	profile__mark_written(&h.p);
	assert_int_equal(delta__drop_retired(&h.d, &h.p), 2);
	assert_true(h.budget.used < used1);
	assert_int_equal(profile__n_live_samples(&h.p), live - 1);
	assert_int_equal(host_live_threads(&h), 2);
	assert_true(host_period(&h) == 14 * MS); /* what stays in memory: the live threads */
	assert_int_equal(h.d.retired_samples.n + h.d.retired_timeline.n + h.d.n_retired_threads, 0);
	/* The live counters go on into their own entries. */
	agent_sample(&a, 1, MS);
	agent_frame(&a, &h, &w, 11 * SEC);
	assert_true(host_period(&h) == 15 * MS);
	wbuf_release(&w);
	host_release(&h);
	profile__release(&a.p);
}

/* ---- COMPACT: an agent that lets go of catalog rows no counter names ---- */

#define CAPS_COMPACT (PROTO_CAP_FORGET | PROTO_CAP_COMPACT)

/* The agent's next frame with COMPACT agreed: compacted is what its
 * last compaction kept (NULL: none since the previous frame). */
static void compact_frame(struct agent_profile *a, struct host_side *h, struct wbuf *w,
			  const struct profile_catalog_map *compacted)
{
	char *err = NULL;
	wbuf_reset(w);
	delta__encode(&a->p, w, CAPS_COMPACT, compacted);
	if (delta__apply(&h->d, &h->p, w->data, w->len, 11 * SEC, &err) < 0)
		fail_msg("a frame of the agent was refused: %s", err);
}

/* A thread of the agent that runs inflate in a library, called from
 * spin (a two-frame call path): its thread id. */
static uint32_t agent_add_zip(struct agent_profile *a, uint32_t tid)
{
	uint32_t lib = profile__image(&a->p, 1, "/usr/lib/libz.so.1", "abcd", IMAGE_ELF);
	uint32_t fn = profile__symbol(&a->p, lib, "inflate", 0x2000, 0x100);
	uint32_t image = profile__image(&a->p, 1, "/usr/bin/work", NULL, IMAGE_ELF);
	uint32_t root = profile__frame(&a->p, 0, image, profile__symbol(&a->p, image, "spin", 0x1000, 0x40), 0);
	struct sample_key k = { .event = 1, .domain = 1, .layer = LAYER_USER, .image = lib, .symbol = fn,
				.address = 0x2010, .stack = profile__frame(&a->p, root, lib, fn, 0) };
	k.thread = profile__thread(&a->p, 1, 10, tid, "zip", ROLE_TASK, -1);
	profile__add_sample(&a->p, &k, 3, 3 * MS);
	return k.thread;
}

/* The agent compacts after its zip thread exited: the library, inflate
 * and both frames go (spin stays: the first thread's counter names it),
 * the rest is renumbered, and the host's translation follows, its slots'
 * charge back at once. The counters go on into their entries. The thread
 * comes back: its rows are sent again under new ids, found on the host
 * (no new row) and charged their translation slots only. A rotation then
 * keeps what the agent names; a compaction that let the library go for
 * good makes the rotation let it go too, its charge back. */
static void test_delta_compact(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf w;
	struct profile_catalog_map keep;
	uint32_t t2, host_lib, host_inflate;
	uint64_t used, before, thread_and_counter;
	size_t host_rows;
	agent_profile_init(&a); /* thread 1 in /usr/bin/work spin: 10 ms */
	a.p.track_drops = true;
	host_init(&h, 1u << 20, 2);
	delta_state__set_caps(&h.d, CAPS_COMPACT);
	assert_true(h.d.forget && h.d.compact && !h.d.thread_ids);
	wbuf_init(&w);
	t2 = agent_add_zip(&a, 12);
	compact_frame(&a, &h, &w, NULL);
	assert_int_equal(h.d.n_images, 2);
	assert_int_equal(h.d.n_symbols, 2);
	assert_int_equal(h.d.n_frames, 2);
	host_lib = h.d.images[1];
	host_inflate = h.d.symbols[1];
	host_rows = profile__catalog_rows(&h.p);
	assert_true(host_period(&h) == 13 * MS);

	/* The zip thread exits; the agent compacts. */
	agent_thread_exits(&a, t2);
	profile_catalog_map__init(&keep, &a.p);
	assert_int_equal(profile__compact(&a.p, &keep), 4);
	assert_int_equal(profile__catalog_rows(&a.p), 2);
	assert_int_equal(profile_id_map__get(&keep.images, 1), 1);
	assert_int_equal(profile_id_map__get(&keep.images, 2), 0);
	assert_int_equal(a.p.samples[a.sample].key.image, 1);
	used = h.budget.used;
	compact_frame(&a, &h, &w, &keep);
	profile_catalog_map__release(&keep);
	assert_int_equal(h.d.compactions, 1);
	assert_int_equal(h.d.compacted, 4);
	assert_int_equal(h.d.n_images + h.d.n_symbols + h.d.n_frames, 2);
	/* The translation's slots came back; the rows are still the host's
	 * (a session's rows stay until it ends), still charged. */
	assert_true(h.budget.used == used - 4 * MAP_COST);
	assert_int_equal(profile__catalog_rows(&h.p), host_rows);
	agent_sample(&a, 1, MS);
	compact_frame(&a, &h, &w, NULL);
	assert_true(host_period(&h) == 14 * MS);

	/* The zip thread again: its rows under new ids, the same host rows. */
	profile__mark_written(&h.p);
	delta__drop_retired(&h.d, &h.p);
	before = h.budget.used;
	t2 = agent_add_zip(&a, 13);
	assert_int_equal(profile__catalog_rows(&a.p), 6);
	compact_frame(&a, &h, &w, NULL);
	assert_int_equal(profile__catalog_rows(&h.p), host_rows);
	assert_int_equal(h.d.images[1], host_lib);
	assert_int_equal(h.d.symbols[1], host_inflate);
	thread_and_counter = THREAD_COST(3) + COUNTER_COST(struct sample_entry);
	assert_true(h.budget.used - before == 4 * MAP_COST + thread_and_counter);
	/* In memory: the first thread's 11 ms, the new zip thread's 3 (the old
	 * one's left once written). */
	assert_true(host_period(&h) == 14 * MS);

	/* A rotation keeps every row the agent names: nothing comes back. */
	before = h.budget.used;
	host_rotate(&h, 12 * SEC);
	assert_int_equal(profile__catalog_rows(&h.p), host_rows);
	assert_true(h.budget.used == before);
	/* The zip thread exits for good and the agent compacts: the next
	 * rotation lets its rows go, their charge back; what stays is what the
	 * first thread names. */
	agent_thread_exits(&a, t2);
	profile_catalog_map__init(&keep, &a.p);
	assert_int_equal(profile__compact(&a.p, &keep), 4);
	compact_frame(&a, &h, &w, &keep);
	profile_catalog_map__release(&keep);
	profile__mark_written(&h.p);
	delta__drop_retired(&h.d, &h.p);
	before = h.budget.used;
	host_rotate(&h, 13 * SEC);
	assert_int_equal(profile__catalog_rows(&h.p), 2);
	assert_int_equal(h.d.held_images.n + h.d.held_symbols.n + h.d.held_frames.n, 2);
	assert_true(before - h.budget.used ==
		    2 * (CATALOG_COST(struct profile_frame) - MAP_COST) +
			    CATALOG_COST(struct profile_image) - MAP_COST + STRING_COST(strlen("/usr/lib/libz.so.1")) +
			    CATALOG_COST(struct profile_symbol) - MAP_COST + STRING_COST(strlen("inflate")));
	/* The live counter still counts, into the new session's entry. */
	agent_sample(&a, 1, MS);
	compact_frame(&a, &h, &w, NULL);
	assert_true(host_period(&h) == MS);
	wbuf_release(&w);
	host_release(&h);
	profile__release(&a.p);
}

/* A compaction's lists from a hostile agent: refused whole, each with its
 * reason, and nothing of the frame applied. */
static void test_delta_compact_hostile(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf w, bad;
	char *err = NULL;
	static const struct refused_compact {
		uint8_t flag;
		uint32_t n[3], ids[4];
		const char *why;
	} refused[] = {
		{ 2, { 0 }, { 0 }, "compaction flag is malformed" },
		{ 1, { 2, 0, 0 }, { 1, 1 }, "kept image 1 is not a row it has, or out of order" },
		{ 1, { 1, 0, 0 }, { 0 }, "kept image 0 is not a row it has" },
		{ 1, { 1, 0, 0 }, { 3 }, "kept image 3 is not a row it has" },
		{ 1, { 3, 0, 0 }, { 1, 2, 3 }, "keeps more image rows than it has" },
		{ 1, { 0, 1, 0 }, { 3 }, "kept symbol 3 is not a row it has" },
		{ 1, { 0, 0, 1 }, { 3 }, "kept stack frame 3 is not a row it has" },
		{ 1, { 0, 0, 0xffffffffu }, { 0 }, "keeps more stack frame rows than it has" },
	};
	agent_profile_init(&a);
	a.p.track_drops = true;
	agent_add_zip(&a, 12);
	host_init(&h, 1u << 20, 2);
	delta_state__set_caps(&h.d, CAPS_COMPACT);
	wbuf_init(&w);
	wbuf_init(&bad);
	compact_frame(&a, &h, &w, NULL); /* 2 images, 2 symbols, 2 frames */
	for (size_t k = 0; k < ARRAY_SIZE(refused); k++) {
		const struct refused_compact *c = &refused[k];
		size_t at = 0;
		wbuf_reset(&bad);
		for (int l = 0; l < 3; l++)
			wbuf_u32(&bad, 0); /* FORGET: nothing */
		wbuf_u8(&bad, c->flag);
		for (int t = 0; c->flag == 1 && t < 3; t++) {
			wbuf_u32(&bad, c->n[t]);
			for (uint32_t i = 0; i < c->n[t] && at < ARRAY_SIZE(c->ids); i++)
				wbuf_u32(&bad, c->ids[at++]);
		}
		for (int l = 0; l < 6; l++)
			wbuf_u32(&bad, 0); /* no rows, no counters */
		if (delta__apply(&h.d, &h.p, bad.data, bad.len, 11 * SEC, &err) != -EBADMSG)
			fail_msg("case %zu was not refused", k);
		if (!strstr(err, c->why))
			fail_msg("case %zu: '%s' does not say '%s'", k, err, c->why);
		free(err);
		assert_int_equal(h.d.n_images + h.d.n_symbols + h.d.n_frames, 6);
		assert_int_equal(h.d.compactions, 0);
	}
	/* After a compaction that keeps one image and nothing else, a row
	 * naming the symbols or frames let go is refused: the ids are the new
	 * numbering's. */
	wbuf_reset(&bad);
	for (int l = 0; l < 3; l++)
		wbuf_u32(&bad, 0);
	wbuf_u8(&bad, 1);
	wbuf_u32(&bad, 1);
	wbuf_u32(&bad, 2);
	wbuf_u32(&bad, 0);
	wbuf_u32(&bad, 0);
	wbuf_u32(&bad, 0); /* threads */
	wbuf_u32(&bad, 0); /* images */
	wbuf_u32(&bad, 1); /* a symbol of image 2, which is no more */
	wbuf_u32(&bad, 2);
	wbuf_str(&bad, "f");
	wbuf_u64(&bad, 0);
	wbuf_u64(&bad, 1);
	wbuf_u32(&bad, 0);
	wbuf_u32(&bad, 0);
	wbuf_u32(&bad, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, bad.data, bad.len, 11 * SEC, &err), -EBADMSG);
	assert_non_null(strstr(err, "names no image sent"));
	free(err);
	/* Truncated anywhere: refused, nothing applied. */
	wbuf_reset(&bad);
	for (int l = 0; l < 3; l++)
		wbuf_u32(&bad, 0);
	wbuf_u8(&bad, 1);
	for (int t = 0; t < 2; t++) {
		wbuf_u32(&bad, 1);
		wbuf_u32(&bad, 2);
	}
	wbuf_u32(&bad, 0);
	for (int l = 0; l < 6; l++)
		wbuf_u32(&bad, 0);
	for (size_t cut = 12; cut < bad.len; cut++)
		assert_int_equal(delta__apply(&h.d, &h.p, bad.data, cut, 11 * SEC, NULL), -EBADMSG);
	assert_int_equal(h.d.n_images + h.d.n_symbols + h.d.n_frames, 6);
	/* Whole, it is a valid compaction (to the library and inflate: the
	 * host need not know why). */
	assert_int_equal(delta__apply(&h.d, &h.p, bad.data, bad.len, 11 * SEC, &err), 0);
	assert_int_equal(h.d.n_images + h.d.n_symbols + h.d.n_frames, 2);
	/* It let go of /usr/bin/work and spin, which its first counter still
	 * names: a rotation keeps them for that counter all the same. */
	host_rotate(&h, 12 * SEC);
	{
		const struct sample_key *k = &h.p.samples[h.d.samples[0].host].key;
		assert_true(h.d.samples[0].live && k->image && k->symbol);
		assert_string_equal(h.p.images[k->image - 1].path, "/usr/bin/work");
		assert_string_equal(h.p.symbols[k->symbol - 1].name, "spin");
	}
	wbuf_release(&w);
	wbuf_release(&bad);
	host_release(&h);
	profile__release(&a.p);
}

/* Whether every sample entry of the VM names a thread row the host holds. */
static bool host_threads_known(const struct host_side *h)
{
	for (size_t i = 0; i < h->p.n_samples; i++) {
		const struct sample_entry *e = &h->p.samples[i];
		bool found = false;
		if (!e->key.event || e->key.domain != h->vm)
			continue;
		for (size_t j = 0; j < h->p.n_threads && !found; j++)
			found = h->p.threads[j].id == e->key.thread && h->p.threads[j].domain == h->vm;
		if (!found)
			return false;
	}
	return true;
}

/* record --rotate with an agent: the host's profile restarts with each
 * session while the agent's running totals go on. Each session holds what
 * grew in its own span, the live threads and counters carry over (empty,
 * not written until they grow), what the agent forgot leaves with the old
 * session and its budget comes back, and buckets before the new session's
 * start count in its first. */
static void test_delta_rotate(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf w;
	uint32_t t1, t2;
	uint64_t used, session1;
	struct profile_catalog_map keep;
	uint32_t host_image;
	size_t stacks = 0;
	struct sample_key stack = { .event = 1, .domain = 1, .layer = LAYER_USER, .image = 1, .symbol = 1, .address = 0x1020 };
	agent_profile_init(&a); /* thread 1, one sample (10 ms), bucket 0 */
	a.p.track_drops = true;
	host_init(&h, 1u << 20, 2);
	h.d.forget = true;
	wbuf_init(&w);
	/* A catalog row of the host's own, before the agent's. */
	host_image = profile__image(&h.p, 1, "/usr/bin/qemu-system-x86_64", "ab12", IMAGE_ELF);
	profile__frame(&h.p, 0, host_image, profile__symbol(&h.p, host_image, "kvm_cpu_exec", 0x400, 64), 0);
	/* A counter of the agent's with a call path (1 ms). */
	stack.stack = profile__frame(&a.p, 0, a.image, a.symbol, 0);
	stack.thread = a.thread;
	profile__add_sample(&a.p, &stack, 1, MS);
	profile__add_timeline(&a.p, &(struct timeline_key){ .event = 1, .domain = 1, .layer = LAYER_USER }, 1, MS);
	t1 = agent_add_thread(&a.p, 12, 20 * MS);
	agent_frame(&a, &h, &w, 11 * SEC);
	/* t1 exits; the host still holds its row and counter (unwritten). */
	agent_thread_exits(&a, t1);
	agent_frame(&a, &h, &w, 11 * SEC);
	session1 = host_period(&h);
	assert_true(session1 == 31 * MS);
	assert_int_equal(h.d.retired_samples.n, 1);
	used = h.budget.used;

	/* The rotation at 12 s. */
	host_rotate(&h, 12 * SEC);
	assert_true(host_period(&h) == 0);
	assert_int_equal(host_live_threads(&h), 1); /* "work"; t1 left with the old session */
	assert_int_equal(h.p.n_dirty_samples + h.p.n_dirty_timeline, 0); /* nothing to write yet */
	assert_int_equal(h.d.retired_samples.n + h.d.retired_timeline.n + h.d.n_retired_threads, 0);
	assert_true(h.budget.used < used); /* t1's row and counter came back */
	assert_int_equal(h.d.bucket_base, 20); /* 2 s of 100 ms buckets before */
	assert_false(h.d.rotation.saved);
	/* The catalog: the host's own rows went (interned again when sampled);
	 * the agent's stayed, renumbered, and its ids and counters follow. */
	assert_int_equal(h.p.n_images, 1);
	assert_int_equal(h.p.n_symbols, 1);
	assert_int_equal(h.p.n_frames, 1);
	assert_int_equal(h.d.images[0], 1);
	assert_string_equal(h.p.images[0].path, "/usr/bin/work");
	assert_int_equal(h.d.symbols[0], 1);
	assert_string_equal(h.p.symbols[0].name, "spin");
	assert_int_equal(h.p.symbols[0].image, 1);
	assert_int_equal(h.d.frames[0], 1); /* was 2, after the host's */
	assert_int_equal(h.p.frames[0].symbol, 1);
	assert_int_equal(h.p.frames[0].image, 1);
	for (size_t i = 0; i < h.p.n_samples; i++) {
		const struct sample_key *k = &h.p.samples[i].key;
		if (!k->event)
			continue;
		assert_int_equal(k->image, 1);
		assert_int_equal(k->symbol, 1);
		assert_int_equal(k->stack, k->address == 0x1020 ? 1 : 0);
		stacks += k->stack != 0;
	}
	assert_int_equal(stacks, 1); /* the counter with the call path is live */
	assert_int_not_equal(profile__image(&h.p, 1, "/usr/bin/qemu-system-x86_64", "ab12", IMAGE_ELF), host_image);
	assert_int_equal(profile__image(&h.p, h.vm, "/usr/bin/work", NULL, IMAGE_ELF), 1); /* found, not added */

	/* The live counter grows by 1 ms, a new thread comes with 5 ms: the
	 * new session holds that growth only, under the threads it holds. */
	agent_sample(&a, 1, MS);
	t2 = agent_add_thread(&a.p, 13, 5 * MS);
	agent_frame(&a, &h, &w, 12500 * MS);
	assert_true(host_period(&h) == 6 * MS);
	assert_true(session1 + host_period(&h) == 37 * MS); /* all the agent sent */
	assert_true(host_timeline_period(&h) == MS);        /* bucket 0, before 12 s: the session's first */
	for (size_t i = 0; i < h.p.n_timeline; i++)
		assert_true(!h.p.timeline[i].key.event || h.p.timeline[i].key.bucket == 0);
	assert_int_equal(host_live_threads(&h), 2);
	assert_true(host_threads_known(&h));

	/* Forgetting after a rotation: the re-interned rows leave once
	 * written, and their budget comes back. */
	agent_thread_exits(&a, t2);
	agent_frame(&a, &h, &w, 12500 * MS);
	used = h.budget.used;
	profile__mark_written(&h.p);
	assert_int_equal(delta__drop_retired(&h.d, &h.p), 1);
	assert_true(h.budget.used < used);
	assert_int_equal(host_live_threads(&h), 1);

	/* A rotation whose next session could not be created: nothing moves. */
	profile_catalog_map__init(&keep, &h.p);
	delta__rotate_save(&h.d, &h.p, &keep);
	assert_true(h.d.rotation.saved);
	delta__rotate_cancel(&h.d);
	profile_catalog_map__release(&keep);
	assert_true(host_period(&h) == 1 * MS);
	wbuf_release(&w);
	host_release(&h);
	profile__release(&a.p);
}

/* A hand-made DATA frame with FORGET lists: forgotten threads, sample
 * counters, timeline counters, then one thread row (when thread_row), and
 * the samples (index i, naming thread[i]) with the given totals. */
static void forget_frame(struct wbuf *w, const uint32_t *forget, const uint32_t *n_forget, bool thread_row, size_t n,
			 const uint32_t *idx, const uint32_t *thread, const uint64_t *period)
{
	wbuf_reset(w);
	for (int l = 0; l < 3; l++) {
		wbuf_u32(w, n_forget[l]);
		for (uint32_t i = 0; i < n_forget[l]; i++)
			wbuf_u32(w, *forget++);
	}
	wbuf_u32(w, thread_row);
	if (thread_row) {
		wbuf_u32(w, 10);
		wbuf_u32(w, 10);
		wbuf_str(w, "t");
	}
	for (int t = 0; t < 3; t++)
		wbuf_u32(w, 0);
	wbuf_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_sample_row(w, idx[i], thread[i], 0x1234, 1, period[i]);
	wbuf_u32(w, 0);
}

/* A guest that reuses a thread id with the same name: the agent forgets
 * thread 1 and sends thread 2 with the same pid, tid and name, which the
 * host holds as the same row. The flush keeps that row (a live thread
 * names it) and gives thread 1's budget back; thread 2's counters go on,
 * across a rotation too. And counter indexes: a new index is charged for
 * the slot it keeps in the agent's table, for the whole session, while
 * an index a forgotten counter freed is used again at no charge, and
 * forgetting and sending it again frame after frame holds nothing more;
 * the rotation's note holds the live counters only. */
static void test_delta_reuse(void **state)
{
	struct host_side h;
	struct wbuf w;
	struct profile_catalog_map keep;
	char *err = NULL;
	uint32_t fl[2] = { 1, 0 }, nf0[3] = { 0, 0, 0 }, nf1[3] = { 1, 1, 0 }, idx = 0, thr = 1, thr2 = 2;
	uint64_t period = 5 * MS, used;
	uint32_t row;
	wbuf_init(&w);
	host_init(&h, 1u << 20, 2);
	h.d.forget = true;
	forget_frame(&w, NULL, nf0, true, 1, &idx, &thr, &period);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	row = h.d.threads[0];
	period = 3 * MS;
	forget_frame(&w, fl, nf1, true, 1, &idx, &thr2, &period);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_int_equal(h.d.threads[1], row); /* one host row */
	used = h.budget.used;
	profile__mark_written(&h.p);
	delta__drop_retired(&h.d, &h.p);
	assert_int_equal(host_live_threads(&h), 1); /* thread 2 still names it */
	assert_true(h.budget.used < used);          /* thread 1's charge came back */
	assert_int_equal(h.d.n_retired_threads, 0);
	period = 4 * MS;
	forget_frame(&w, NULL, nf0, false, 1, &idx, &thr2, &period);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_true(host_threads_known(&h));
	/* Across a rotation. */
	host_rotate(&h, 12 * SEC);
	period = 6 * MS;
	forget_frame(&w, NULL, nf0, false, 1, &idx, &thr2, &period);
	if (delta__apply(&h.d, &h.p, w.data, w.len, 12500 * MS, &err) < 0)
		fail_msg("thread 2 after the rotation: %s", err);
	assert_true(host_period(&h) == 2 * MS);
	assert_true(host_threads_known(&h));

	/* Fresh indexes while forgetting the old ones: each one's slot in the
	 * agent's table stays charged. */
	used = h.budget.used;
	for (uint32_t i = 1; i <= 100; i++) {
		uint32_t forget[1] = { i - 1 }, n_forget[3] = { 0, 1, 0 };
		uint64_t p = MS;
		forget_frame(&w, forget, n_forget, false, 1, &i, &thr2, &p);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 12500 * MS, &err) < 0)
			fail_msg("frame %u: %s", i, err);
		profile__mark_written(&h.p);
		delta__drop_retired(&h.d, &h.p);
	}
	assert_int_equal(h.d.n_samples_known, 101);
	assert_true(h.budget.used >= used + 100 * 2 * sizeof(struct delta_counter));
	/* The same index over and over: no charge stays. */
	used = h.budget.used;
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t forget[1] = { 100 }, n_forget[3] = { 0, 1, 0 }, reuse = 100;
		uint64_t p = MS;
		forget_frame(&w, forget, n_forget, false, 1, &reuse, &thr2, &p);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 12500 * MS, &err) < 0)
			fail_msg("reuse %u: %s", i, err);
		profile__mark_written(&h.p);
		delta__drop_retired(&h.d, &h.p);
	}
	assert_int_equal(h.budget.used, used);
	/* And without a flush between the frames: the list of slots waiting
	 * for one does not grow with the frames (each slot is listed once). */
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t forget[1] = { 100 }, n_forget[3] = { 0, 1, 0 }, reuse = 100;
		uint64_t p = MS;
		forget_frame(&w, forget, n_forget, false, 1, &reuse, &thr2, &p);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 12500 * MS, &err) < 0)
			fail_msg("reuse without a flush %u: %s", i, err);
	}
	assert_int_equal(h.budget.used, used);
	assert_true(h.d.retired_samples.cap <= 16);
	profile_catalog_map__init(&keep, &h.p);
	delta__rotate_save(&h.d, &h.p, &keep);
	assert_int_equal(h.d.rotation.n_samples, 1); /* of 101 indexes */
	delta__rotate_cancel(&h.d);
	profile_catalog_map__release(&keep);
	wbuf_release(&w);
	host_release(&h);
}

/* ---- THREAD_IDS: a guest's frames ---- */

struct guest_row {
	uint32_t id, tid;
	const char *comm;
};

struct guest_sample {
	uint32_t idx, thread;
	uint64_t address, count, period;
};

/* A DATA frame with FORGET (and the thread ids of THREAD_IDS when ids):
 * forgotten threads, forgotten sample counters, no forgotten timeline
 * counters, the thread rows, no images, symbols or stack frames, the
 * sample rows, no timeline rows. */
static void guest_frame(struct wbuf *w, bool ids, const uint32_t *ft, uint32_t nft, const uint32_t *fs, uint32_t nfs,
		      const struct guest_row *rows, uint32_t nrows, const struct guest_sample *s, uint32_t ns)
{
	wbuf_reset(w);
	wbuf_u32(w, nft);
	for (uint32_t i = 0; i < nft; i++)
		wbuf_u32(w, ft[i]);
	wbuf_u32(w, nfs);
	for (uint32_t i = 0; i < nfs; i++)
		wbuf_u32(w, fs[i]);
	wbuf_u32(w, 0);
	wbuf_u32(w, nrows);
	for (uint32_t i = 0; i < nrows; i++) {
		if (ids)
			wbuf_u32(w, rows[i].id);
		wbuf_u32(w, 10);
		wbuf_u32(w, rows[i].tid);
		wbuf_str(w, rows[i].comm ? rows[i].comm : "t");
	}
	for (int t = 0; t < 3; t++)
		wbuf_u32(w, 0);
	wbuf_u32(w, ns);
	for (uint32_t i = 0; i < ns; i++)
		put_sample_row(w, s[i].idx, s[i].thread, s[i].address, s[i].count, s[i].period);
	wbuf_u32(w, 0);
}

static void host_flush(struct host_side *h)
{
	profile__mark_written(&h->p);
	delta__drop_retired(&h->d, &h->p);
}

/* The tid of the host row that a host sample entry names (0: none held). */
static uint32_t entry_tid(const struct host_side *h, uint32_t slot)
{
	uint32_t row = h->p.samples[slot].key.thread;
	for (size_t i = 0; i < h->p.n_threads; i++)
		if (h->p.threads[i].id && h->p.threads[i].id == row)
			return h->p.threads[i].tid;
	return 0;
}

/* The same, of arrays: rows (ids[i], tid tids[i]); the first
 * n_forget_samples of idx forgotten; a sample of 1 ms per thread[] entry
 * (index idx[i]). */
static void ids_frame(struct wbuf *w, const uint32_t *forget, uint32_t n_forget, uint32_t n_forget_samples,
		      const uint32_t *ids, const uint32_t *tids, uint32_t n_rows, const uint32_t *idx,
		      const uint32_t *thread, uint32_t n)
{
	struct guest_row rows[4];
	struct guest_sample samples[4];
	assert_true(n_rows <= 4 && n <= 4);
	for (uint32_t i = 0; i < n_rows; i++)
		rows[i] = (struct guest_row){ ids[i], tids[i], "t" };
	for (uint32_t i = 0; i < n; i++)
		samples[i] = (struct guest_sample){ idx[i], thread[i], 0x1234, 1, MS };
	guest_frame(w, true, forget, n_forget, idx, n_forget_samples, rows, n_rows, samples, n);
}

/* The tid of the host thread row that the agent's thread id names. */
static uint32_t host_tid(const struct host_side *h, uint32_t agent_id)
{
	uint32_t row = h->d.threads[agent_id - 1];
	for (size_t i = 0; i < h->p.n_threads; i++)
		if (h->p.threads[i].id == row)
			return h->p.threads[i].tid;
	return 0;
}

/* PROTO_CAP_THREAD_IDS: thread ids of exited threads name new ones, so
 * an agent on a host that starts processes all day holds ids, and the
 * host translation slots, for the threads alive at once, not for every
 * thread it ever saw (before, 10 bytes a thread for the whole session and
 * a limit of 4 Mi threads ever). The agent's own profile gives the ids;
 * the host takes a row at a forgotten id (forgotten in an earlier frame
 * or in the same one), and refuses an id that is live, skips, repeats or
 * goes backwards. */
static void test_delta_thread_ids(void **state)
{
	struct agent_profile a;
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	uint64_t used = 0;
	uint32_t t;
	agent_profile_init(&a); /* thread 1, one sample (10 ms), bucket 0 */
	a.p.track_drops = a.p.reuse_thread_ids = true;
	host_init(&h, 1u << 20, 2);
	h.d.forget = h.d.thread_ids = true;
	wbuf_init(&w);
	t = agent_add_thread(&a.p, 100, MS);
	agent_frame(&a, &h, &w, 11 * SEC);
	/* A thread exits and a new one starts, a thousand times: the new one
	 * takes the old one's id, on both sides, and its samples are its own. */
	for (uint32_t round = 1; round <= 1000; round++) {
		agent_thread_exits(&a, t);
		t = agent_add_thread(&a.p, 100 + round, MS);
		assert_int_equal(t, 2);
		agent_frame(&a, &h, &w, 11 * SEC);
		assert_int_equal(host_tid(&h, t), 100 + round);
		assert_true(host_threads_known(&h));
		profile__mark_written(&h.p);
		delta__drop_retired(&h.d, &h.p);
		if (round == 10)
			used = h.budget.used;
	}
	assert_int_equal(a.p.last_thread_id, 2);
	assert_int_equal(h.d.n_threads, 2);
	assert_int_equal(host_live_threads(&h), 2);
	assert_int_equal(h.budget.used, used); /* nothing stays per thread */
	assert_true(host_period(&h) == 11 * MS); /* thread 1's 10 ms, the last thread's 1 */
	host_release(&h);
	profile__release(&a.p);

	/* Hand-made frames. Threads 1 and 2, a counter each. */
	host_init(&h, 1u << 20, 2);
	h.d.forget = h.d.thread_ids = true;
	{
		uint32_t ids[2] = { 1, 2 }, tids[2] = { 10, 11 }, idx[2] = { 0, 1 }, thr[2] = { 1, 2 };
		ids_frame(&w, NULL, 0, 0, ids, tids, 2, idx, thr, 2);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)
			fail_msg("first frame: %s", err);
		/* Truncated anywhere: refused. */
		for (size_t cut = 0; cut < w.len; cut++)
			assert_int_equal(delta__apply(&h.d, &h.p, w.data, cut, 11 * SEC, NULL), -EBADMSG);
	}
	static const struct refused_ids {
		uint32_t forget[2], n_forget, ids[2], n_rows, thread, n_samples;
		const char *why;
	} refused[] = {
		{ { 0 }, 0, { 1 }, 1, 0, 0, "names id 1" },            /* live */
		{ { 0 }, 0, { 4 }, 1, 0, 0, "names id 4" },            /* skips 3 */
		{ { 0 }, 0, { 0 }, 1, 0, 0, "names id 0" },
		{ { 0 }, 0, { 3, 3 }, 2, 0, 0, "names id 3" },         /* twice */
		{ { 2 }, 1, { 2, 2 }, 2, 0, 0, "names id 2" },         /* a forgotten one twice */
		{ { 2 }, 1, { 3, 2 }, 2, 0, 0, "names id 2" },         /* backwards */
		{ { 2 }, 1, { 0 }, 0, 2, 1, "names forgotten thread 2" }, /* forgotten, not named again */
		{ { 0 }, 0, { 0 }, 0, 3, 1, "malformed" },             /* never sent */
	};
	for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		const struct refused_ids *c = &refused[k];
		/* A thread forgotten goes with its counter (thread 2's is 1). */
		uint32_t tids[2] = { 20, 21 }, idx[1] = { c->n_forget ? 1 : 2 };
		ids_frame(&w, c->forget, c->n_forget, c->n_forget, c->ids, tids, c->n_rows, idx, &c->thread, c->n_samples);
		assert_true(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0);
		if (!strstr(err, c->why))
			fail_msg("case %zu: '%s' does not say '%s'", k, err, c->why);
		free(err);
	}
	assert_int_equal(h.d.n_threads, 2);
	assert_int_equal(host_tid(&h, 2), 11);
	/* Thread 2 forgotten with its counter and named again in the same
	 * frame, with a new thread 3 after it: the new rows' samples are
	 * theirs. */
	{
		uint32_t forget[1] = { 2 }, ids[2] = { 2, 3 }, tids[2] = { 12, 13 }, idx[2] = { 1, 2 }, thr[2] = { 2, 3 };
		ids_frame(&w, forget, 1, 1, ids, tids, 2, idx, thr, 2);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)
			fail_msg("a forgotten id named again in the same frame: %s", err);
		assert_int_equal(host_tid(&h, 2), 12);
		assert_int_equal(host_tid(&h, 3), 13);
		assert_int_equal(h.d.n_threads, 3);
		assert_true(host_threads_known(&h));
	}
	/* Forgotten in one frame, named again in a later one; and over and
	 * over: what the host keeps does not grow. */
	for (uint32_t round = 0; round < 100; round++) {
		uint32_t forget[1] = { 3 }, ids[1] = { 3 }, tids[1] = { 200 + round }, idx[1] = { 2 }, thr[1] = { 3 };
		ids_frame(&w, forget, 1, 1, NULL, NULL, 0, idx, thr, 0);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)
			fail_msg("round %u, forgetting: %s", round, err);
		ids_frame(&w, NULL, 0, 0, ids, tids, 1, idx, thr, 1);
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)
			fail_msg("round %u, named again: %s", round, err);
		assert_int_equal(host_tid(&h, 3), 200 + round);
		profile__mark_written(&h.p);
		delta__drop_retired(&h.d, &h.p);
		if (round == 2)
			used = h.budget.used;
	}
	assert_int_equal(h.budget.used, used);
	assert_int_equal(h.d.n_threads, 3);
	assert_int_equal(host_live_threads(&h), 3);
	wbuf_release(&w);
	host_release(&h);
}

/* A thread is forgotten with every live sample counter that names it, and
 * a known counter's rows name its own thread: else the host would drop
 * the thread's row (once written) while a live counter's entry names it,
 * and, with THREAD_IDS, add the growth of a row that names a reused id
 * (a new thread) to the old thread's entry. With FORGET alone and with
 * THREAD_IDS: refused, with the reason; forgotten together, the id named
 * again gets a counter of its own. */
static void test_delta_forget_with_counters(void **state)
{
	for (int ids = 0; ids <= 1; ids++) {
		struct host_side h;
		struct wbuf w;
		char *err = NULL;
		const uint32_t one[1] = { 1 }, zero[1] = { 0 };
		wbuf_init(&w);
		host_init(&h, 1u << 20, 2);
		h.d.forget = true;
		h.d.thread_ids = ids;
		{
			struct guest_row rows[2] = { { 1, 10, "t" }, { 2, 11, "t" } };
			struct guest_sample smp[1] = { { 0, 1, 0x1000, 1, MS } };
			guest_frame(&w, ids, NULL, 0, NULL, 0, rows, 2, smp, 1);
			assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
		}
		profile__mark_written(&h.p);
		/* Thread 1 forgotten, its counter 0 not; and a row of counter 0
		 * that names thread 2 (or none). */
		guest_frame(&w, ids, one, 1, NULL, 0, NULL, 0, NULL, 0);
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
		assert_non_null(strstr(err, "forgotten thread 1 is still named by 1 live sample counter"));
		free(err);
		for (uint32_t other = 0; other <= 2; other += 2) {
			struct guest_sample smp[1] = { { 0, other, 0x1000, 2, 2 * MS } };
			guest_frame(&w, ids, NULL, 0, NULL, 0, NULL, 0, smp, 1);
			assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
			assert_non_null(strstr(err, "sample counter 0 names thread"));
			free(err);
		}
		/* Forgotten together: accepted; the thread's row leaves memory
		 * once written, and no entry names it. With THREAD_IDS, id 1
		 * names a new thread (tid 20) in the same frame, and counter 0's
		 * index a new counter of it. */
		if (ids) {
			struct guest_row rows[1] = { { 1, 20, "t" } };
			struct guest_sample smp[1] = { { 0, 1, 0x1000, 1, 3 * MS } };
			guest_frame(&w, ids, one, 1, zero, 1, rows, 1, smp, 1);
		} else {
			guest_frame(&w, ids, one, 1, zero, 1, NULL, 0, NULL, 0);
		}
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)
			fail_msg("forgotten with its counter: %s", err);
		if (ids) {
			assert_int_equal(host_tid(&h, 1), 20);
			assert_int_equal(entry_tid(&h, h.d.samples[0].host), 20);
		}
		host_flush(&h);
		assert_true(host_threads_known(&h));
		assert_int_equal(host_live_threads(&h), ids ? 2 : 1);
		wbuf_release(&w);
		host_release(&h);
	}
}

/* What the host holds for the agent, as the budget costs it: every guest
 * thread row of the domain (less its kept part), every sample entry of
 * the domain, and the kept parts of every id and index ever used. The
 * budget must charge at least that. */
static uint64_t host_held(const struct host_side *h)
{
	uint64_t sum = h->d.n_threads * THREAD_KEPT + h->d.n_samples_known * INDEX_KEPT;
	for (size_t i = 0; i < h->p.n_threads; i++)
		if (h->p.threads[i].id && h->p.threads[i].domain == h->vm)
			sum += THREAD_COST(strlen(h->p.threads[i].comm)) - THREAD_KEPT;
	for (size_t i = 0; i < h->p.n_samples; i++)
		if (h->p.samples[i].key.event && h->p.samples[i].key.domain == h->vm)
			sum += COUNTER_COST(struct sample_entry);
	return sum;
}

/* Budget attacks that the host withstands: an id forgotten and named
 * again with the same name many times before a flush (one host row, the
 * retired entries pending), an id forgotten and named again in the same
 * frame while its retired row is still unwritten, two ids with equal
 * rows, a rotation between the forget and the reuse and between the
 * reuse and the flush. After each step: nothing over-refunded, the budget
 * covers what the host holds; at the end, with every thread and counter
 * forgotten and flushed, only the kept parts stay charged. */
static void test_delta_thread_ids_budget(void **state)
{
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	const uint32_t one[1] = { 1 }, zero[1] = { 0 }, both[2] = { 1, 2 };
	wbuf_init(&w);
	host_init(&h, 1u << 20, 2);
	h.d.forget = h.d.thread_ids = true;
#define APPLY(ft, nft, fs, nfs, rows, nrows, s, ns)                                                          \
	do {                                                                                                 \
		guest_frame(&w, true, ft, nft, fs, nfs, rows, nrows, s, ns);                                   \
		if (delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err) < 0)                            \
			fail_msg("line %d: %s", __LINE__, err);                                             \
		assert_int_equal(h.budget.over_refunded, 0);                                                 \
		assert_true(h.budget.used >= host_held(&h));                                                 \
	} while (0)
	{
		struct guest_row rows[2] = { { 1, 10, "t" }, { 2, 10, "t" } }; /* equal rows */
		struct guest_sample s[2] = { { 0, 1, 0x1000, 1, MS }, { 1, 2, 0x1000, 1, MS } };
		APPLY(NULL, 0, NULL, 0, rows, 2, s, 2);
		assert_int_equal(h.d.threads[0], h.d.threads[1]);
	}
	/* Id 1 forgotten with its counter and named again, same name, 1000
	 * times without a flush; then with a flush. */
	for (uint32_t k = 0; k < 2000; k++) {
		struct guest_row rows[1] = { { 1, 10, "t" } };
		struct guest_sample s[1] = { { 0, 1, 0x1000, 1, MS } };
		APPLY(one, 1, zero, 1, rows, 1, s, 1);
		if (k >= 1000)
			host_flush(&h);
	}
	/* Same frame, a new name each time, never flushed: rows pile up,
	 * each charged. */
	for (uint32_t k = 0; k < 300; k++) {
		struct guest_row rows[1] = { { 1, 100 + k, "t" } };
		struct guest_sample s[1] = { { 0, 1, 0x1000, 1, MS } };
		APPLY(one, 1, zero, 1, rows, 1, s, 1);
	}
	host_flush(&h);
	assert_int_equal(host_live_threads(&h), 2);
	/* Forget in one frame, rotate, name again; rotate between a reuse and
	 * the flush. */
	APPLY(one, 1, zero, 1, NULL, 0, NULL, 0);
	host_rotate(&h, 12 * SEC);
	assert_int_equal(h.budget.over_refunded, 0);
	assert_true(h.budget.used >= host_held(&h));
	{
		struct guest_row rows[1] = { { 1, 10, "t" } };
		struct guest_sample s[1] = { { 0, 1, 0x1000, 1, MS } };
		APPLY(NULL, 0, NULL, 0, rows, 1, s, 1);
		APPLY(one, 1, zero, 1, rows, 1, s, 1);
	}
	host_rotate(&h, 13 * SEC);
	assert_int_equal(h.budget.over_refunded, 0);
	assert_true(h.budget.used >= host_held(&h));
	/* Everything forgotten, flushed: only the kept parts stay. */
	{
		uint32_t fs[2] = { 0, 1 };
		APPLY(both, 2, fs, 2, NULL, 0, NULL, 0);
	}
	host_flush(&h);
	host_flush(&h);
	assert_int_equal(host_live_threads(&h), 0);
	assert_int_equal(h.budget.used, 2 * THREAD_KEPT + 2 * INDEX_KEPT);
#undef APPLY
	wbuf_release(&w);
	host_release(&h);
}

/* A hostile agent's model for random valid frames: ids with their tid,
 * counters with their agent thread id. */
struct guest_model {
	uint32_t n_ids, n_idx;
	bool id_live[64];
	uint32_t id_tid[64];
	bool c_live[256];
	uint32_t c_thread[256];
	uint64_t c_total[256];
	bool forgot_t[64], forgot_c[256];
};

/* A new counter in index c, of a random live thread (or none). */
static struct guest_sample model_new_counter(struct guest_model *m, uint32_t c)
{
	uint32_t t = (uint32_t)rand() % (m->n_ids + 1);
	if (t && !m->id_live[t - 1])
		t = 0;
	m->c_live[c] = true;
	m->c_thread[c] = t;
	m->c_total[c] = 1;
	return (struct guest_sample){ c, t, 0x1000 + 0x10 * (uint64_t)(rand() % 2), 1, 1 };
}

/* Random frames that follow the protocol, with the hostile moves it
 * allows: thread ids forgotten and named again (the same name or a new
 * one, in the same frame or later), equal rows, counters of one key,
 * counter indexes reused, flushes and rotations at random, and (hostile)
 * a thread forgotten while its counters stay live. After each frame:
 * nothing over-refunded, the budget covers what the host holds, every
 * live id names a host row with its tid, every host sample entry names a
 * thread row held (or none). At the end, everything
 * forgotten and flushed: only the kept parts stay charged. */
static void thread_ids_model_run(unsigned seed, bool keep_counters)
{
	struct host_side h;
	struct guest_model m = { 0 };
	struct wbuf w;
	char *err = NULL;
	uint64_t now = 11 * SEC;
	srand(seed);
	wbuf_init(&w);
	host_init(&h, 64u << 20, 4096);
	h.d.forget = h.d.thread_ids = true;
	for (int step = 0; step < 3000; step++) {
		uint32_t ft[64], nft = 0, fs[256], nfs = 0, nrows = 0, ns = 0;
		struct guest_row rows[64];
		struct guest_sample s[256];
		bool last = step == 2999, kept = false;
		memset(m.forgot_t, 0, sizeof(m.forgot_t));
		memset(m.forgot_c, 0, sizeof(m.forgot_c));
		for (uint32_t id = 1; id <= m.n_ids; id++)
			if (m.id_live[id - 1] && (last || rand() % 4 == 0)) {
				ft[nft++] = id;
				m.id_live[id - 1] = false;
				m.forgot_t[id - 1] = true;
			}
		for (uint32_t c = 0; c < m.n_idx; c++) {
			bool thread_gone = m.c_thread[c] && m.forgot_t[m.c_thread[c] - 1];
			bool keep = thread_gone && keep_counters && rand() % 2;
			if (m.c_live[c] && (last || (thread_gone && !keep) || rand() % 10 == 0)) {
				fs[nfs++] = c;
				m.c_live[c] = false;
				m.forgot_c[c] = true;
			} else if (m.c_live[c] && keep)
				kept = true;
		}
		if (!last) {
			/* Forgotten ids named again (ascending), then new ones. */
			for (uint32_t id = 1; id <= m.n_ids; id++)
				if (!m.id_live[id - 1] && rand() % 2) {
					m.id_live[id - 1] = true;
					m.id_tid[id - 1] = 10 + (uint32_t)rand() % 4;
					rows[nrows++] = (struct guest_row){ id, m.id_tid[id - 1], rand() % 3 ? "t" : "thread" };
				}
			for (int k = rand() % 3; k > 0 && m.n_ids < 64; k--) {
				uint32_t id = ++m.n_ids;
				m.id_live[id - 1] = true;
				m.id_tid[id - 1] = 10 + (uint32_t)rand() % 4;
				rows[nrows++] = (struct guest_row){ id, m.id_tid[id - 1], "t" };
			}
			/* The comm of a thread must match its host row's for
			 * host_tid; keep "t" or "thread" as sent. */
			/* Known counters grow; freed indexes and new ones start. */
			for (uint32_t c = 0; c < m.n_idx; c++) {
				if (m.c_live[c] && rand() % 2) {
					uint32_t t = m.c_thread[c];
					/* A row names a live thread (the key's, if still
					 * live, else none). */
					if (t && !m.id_live[t - 1])
						t = 0;
					m.c_total[c]++;
					s[ns++] = (struct guest_sample){ c, t, 0x1000, m.c_total[c], m.c_total[c] };
				} else if (!m.c_live[c] && rand() % 3 == 0) {
					s[ns++] = model_new_counter(&m, c);
				}
			}
			for (int k = rand() % 3; k > 0 && m.n_idx < 256; k--)
				s[ns++] = model_new_counter(&m, m.n_idx++);
		}
		guest_frame(&w, true, ft, nft, fs, nfs, rows, nrows, s, ns);
		now += 10 * MS;
		if (kept) {
			/* A thread forgotten with a counter of it live: refused
			 * (the session of that agent ends there). */
			assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, now, &err), -EBADMSG);
			assert_non_null(strstr(err, "is still named by"));
			free(err);
			wbuf_release(&w);
			host_release(&h);
			return;
		}
		if (delta__apply(&h.d, &h.p, w.data, w.len, now, &err) < 0)
			fail_msg("seed %u step %d: refused: %s", seed, step, err);
		assert_int_equal(h.budget.over_refunded, 0);
		if (h.budget.used < host_held(&h))
			fail_msg("seed %u step %d: budget %llu < held %llu", seed, step,
				 (unsigned long long)h.budget.used, (unsigned long long)host_held(&h));
		for (uint32_t id = 1; id <= m.n_ids; id++)
			if (m.id_live[id - 1] && host_tid(&h, id) != m.id_tid[id - 1])
				fail_msg("seed %u step %d: id %u names tid %u, not %u", seed, step, id, host_tid(&h, id),
					 m.id_tid[id - 1]);
		if (last || rand() % 2)
			host_flush(&h);
		if (!last && rand() % 50 == 0)
			host_rotate(&h, now);
		assert_int_equal(h.budget.over_refunded, 0);
		if (h.budget.used < host_held(&h))
			fail_msg("seed %u step %d after flush: budget %llu < held %llu", seed, step,
				 (unsigned long long)h.budget.used, (unsigned long long)host_held(&h));
		if (!host_threads_known(&h)) {
			/* A counter of thread 0 names no row: only those. */
			for (size_t i = 0; i < h.p.n_samples; i++)
				if (h.p.samples[i].key.event && h.p.samples[i].key.domain == h.vm &&
				    h.p.samples[i].key.thread && !entry_tid(&h, (uint32_t)i))
					fail_msg("seed %u step %d: entry %zu names dropped thread row %u", seed, step, i,
						 h.p.samples[i].key.thread);
		}
	}
	host_flush(&h);
	assert_int_equal(host_live_threads(&h), 0);
	if (h.budget.used != m.n_ids * THREAD_KEPT + m.n_idx * INDEX_KEPT)
		fail_msg("seed %u: at the end %llu charged, kept parts %llu", seed, (unsigned long long)h.budget.used,
			 (unsigned long long)(m.n_ids * THREAD_KEPT + m.n_idx * INDEX_KEPT));
	wbuf_release(&w);
	host_release(&h);
}

static void test_delta_thread_ids_model(void **state)
{
	for (unsigned seed = 1; seed <= 20; seed++)
		thread_ids_model_run(seed, false);
}

/* The same with a hostile move: a thread forgotten while a counter of it
 * stays live. That frame is refused with the reason (and the run ends
 * there); until then everything above holds. */
static void test_delta_thread_ids_model_hostile(void **state)
{
	for (unsigned seed = 100; seed < 120; seed++)
		thread_ids_model_run(seed, true);
}

static void test_delta_forget_hostile(void **state)
{
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	uint32_t idx[2] = { 0, 1 }, thr[2] = { 1, 1 }, fl[4] = { 0 }, nf[3] = { 0, 0, 0 };
	uint64_t period[2] = { 5 * MS, 5 * MS };
	uint32_t shared;
	wbuf_init(&w);
	host_init(&h, 1u << 20, 2);
	h.d.forget = true;
	/* Two counters of one key share one host entry. */
	forget_frame(&w, fl, nf, true, 2, idx, thr, period);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_int_equal(h.d.samples[0].host, h.d.samples[1].host);
	shared = h.d.samples[0].host;

	/* Refused whole, each with its reason: a counter never given; the
	 * same one twice (out of order); more than it has; a thread never
	 * sent; a thread forgotten and named in the same frame. */
	static const struct refused_forget {
		uint32_t n[3], lists[3], samples;
		const char *why;
	} refused[] = {
		{ { 0, 1, 0 }, { 7 }, 0, "forgotten sample counter 7 is not a live counter" },
		{ { 0, 2, 0 }, { 0, 0 }, 0, "forgotten sample counter 0 is not a live counter, or out of order" },
		{ { 0, 3, 0 }, { 0, 1, 2 }, 0, "forgets more sample counters than it has" },
		{ { 1, 0, 0 }, { 2 }, 0, "forgotten thread 2 is not a live thread" },
		{ { 1, 2, 0 }, { 1, 0, 1 }, 1, "names forgotten thread 1" },
		{ { 1, 0, 0 }, { 1 }, 0, "forgotten thread 1 is still named by 2 live sample counter" },
		{ { 1, 1, 0 }, { 1, 0 }, 0, "forgotten thread 1 is still named by 1 live sample counter" },
	};
	for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		const struct refused_forget *c = &refused[k];
		forget_frame(&w, c->lists, c->n, false, c->samples, idx, thr, period);
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
		if (!strstr(err, c->why))
			fail_msg("case %zu: '%s' does not say '%s'", k, err, c->why);
		free(err);
	}
	/* Truncated anywhere in the lists: refused. */
	fl[0] = 0;
	nf[0] = 0;
	nf[1] = 1;
	forget_frame(&w, fl, nf, false, 0, idx, thr, period);
	for (size_t cut = 0; cut < 12; cut++)
		assert_int_equal(delta__apply(&h.d, &h.p, w.data, cut, 11 * SEC, NULL), -EBADMSG);
	/* Nothing of those frames was applied: both counters live, nothing
	 * retired. */
	assert_true(h.d.samples[0].live && h.d.samples[1].live);
	assert_int_equal(h.d.retired_samples.n, 0);

	/* Forgetting one of the two sharing counters leaves the entry: the
	 * other still feeds it, and it is not dropped when written. */
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	profile__mark_written(&h.p);
	assert_int_equal(delta__drop_retired(&h.d, &h.p), 0);
	assert_true(h.p.samples[shared].key.event == 1 && h.p.samples[shared].period == 10 * MS);
	/* The freed index: a new counter, its total from zero (even below
	 * the old one's), counted whole; the other goes on in the entry. */
	period[0] = 2 * MS;
	period[1] = 6 * MS;
	nf[1] = 0;
	forget_frame(&w, fl, nf, false, 2, idx, thr, period);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), 0);
	assert_true(h.p.samples[shared].period == 13 * MS);
	/* Without FORGET agreed, the lists are bytes of another layout. */
	h.d.forget = false;
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err), -EBADMSG);
	free(err);
	host_release(&h);
	wbuf_release(&w);
}

/* Forgetting gives nothing back while the host holds the rows: an agent
 * that forgets every counter each frame and starts as many new ones (new
 * keys) before the host flushes is refused at its budget; the host holds
 * no more than the budget paid for. A guest thread that names a host
 * thread of its domain (its VMM's) gets a row of its own. */
static void test_delta_forget_budget(void **state)
{
	struct host_side h;
	struct wbuf w;
	char *err = NULL;
	int r = 0, frames = 0;
	uint32_t vmm;
	wbuf_init(&w);
	host_init(&h, 64u << 10, 2);
	h.d.forget = true;
	vmm = profile__thread(&h.p, h.vm, 10, 10, "t", ROLE_VMM, -1);
	for (uint32_t f = 0; f < 1000 && r == 0; f++, frames++) {
		wbuf_reset(&w);
		wbuf_u32(&w, 0);
		wbuf_u32(&w, f ? 16 : 0); /* every counter of the previous frame */
		for (uint32_t i = 0; f && i < 16; i++)
			wbuf_u32(&w, i);
		wbuf_u32(&w, 0);
		wbuf_u32(&w, f ? 0 : 1);
		if (!f) {
			wbuf_u32(&w, 10);
			wbuf_u32(&w, 10);
			wbuf_str(&w, "t");
		}
		for (int t = 0; t < 3; t++)
			wbuf_u32(&w, 0);
		wbuf_u32(&w, 16);
		for (uint32_t i = 0; i < 16; i++)
			put_sample_row(&w, i, 1, 0x1000 + f * 16 + i, 0, 0); /* a new key each time */
		wbuf_u32(&w, 0);
		r = delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, &err);
	}
	assert_int_equal(r, -ENOBUFS);
	free(err);
	assert_true(frames > 2);
	assert_true(h.budget.peak <= h.budget.limit);
	assert_true(h.p.n_samples * sizeof(struct sample_entry) < h.budget.limit);
	/* The guest's thread row is not the VMM's. */
	assert_int_equal(h.d.n_threads, 1);
	assert_true(h.d.threads[0] != vmm);
	assert_int_equal(h.p.threads[h.d.threads[0] - 1].role, ROLE_GUEST);
	host_release(&h);
	wbuf_release(&w);
}

/* Catalog rows: references to rows not sent are refused, guest kernels
 * and modules stay guest images, strings are sanitized. */
static void test_delta_catalog(void **state)
{
	struct host_side h;
	struct wbuf w;
	wbuf_init(&w);
	host_init(&h, 1u << 20, 1);
	wbuf_u32(&w, 0);
	wbuf_u32(&w, 2);
	wbuf_str(&w, "[virtio_net\xe2\x80\xae]");
	wbuf_str(&w, "");
	wbuf_u8(&w, IMAGE_MODULE);
	wbuf_str(&w, "[kernel.kallsyms]");
	wbuf_str(&w, "");
	wbuf_u8(&w, IMAGE_KERNEL);
	wbuf_u32(&w, 1);
	wbuf_u32(&w, 1);
	wbuf_str(&w, "=cmd|' /C calc'!A0");
	wbuf_u64(&w, 0xffffffff81000000ULL);
	wbuf_u64(&w, 0x100);
	wbuf_u32(&w, 1);
	wbuf_u32(&w, 2); /* parent: a frame not sent yet */
	wbuf_u32(&w, 1);
	wbuf_u32(&w, 1);
	wbuf_u64(&w, 0);
	wbuf_u32(&w, 0);
	wbuf_u32(&w, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, NULL), -EBADMSG);
	assert_int_equal(h.d.n_images, 0);
	/* Without the bad stack frame: its count, its row, the two counts after. */
	w.len -= 4 + (4 + 4 + 4 + 8) + 4 + 4;
	wbuf_u32(&w, 0);
	wbuf_u32(&w, 0);
	wbuf_u32(&w, 0);
	assert_int_equal(delta__apply(&h.d, &h.p, w.data, w.len, 11 * SEC, NULL), 0);
	assert_int_equal(h.d.n_images, 2);
	assert_int_equal(h.p.images[h.d.images[0] - 1].kind, IMAGE_GUEST_KERNEL);
	assert_int_equal(h.p.images[h.d.images[1] - 1].kind, IMAGE_GUEST_KERNEL);
	assert_int_equal(h.p.images[h.d.images[0] - 1].domain, h.vm);
	assert_string_equal(h.p.images[h.d.images[0] - 1].path, "[virtio_net?]");
	host_release(&h);
	wbuf_release(&w);
}

/* ---- coordinator ---- */

static void test_coordinator_order(void **state)
{
	struct coordinator c;
	struct profile p;
	struct wbuf w;
	char *err = NULL;
	profile__init(&p);
	profile__domain(&p, "host", false);
	wbuf_init(&w);
	coordinator__init(&c, key_a, NULL, NULL);
	assert_int_equal(coordinator__add(&c, "vm=tcp:127.0.0.1:1", false, &err), 0);
	coordinator__fake_running(&c, 0, &p, 1, 1, 10 * SEC);
	/* fake_running counts as started: a second STARTED is refused. */
	proto_u64__encode(&w, 10 * SEC);
	assert_int_equal(coordinator__inject(&c, 0, &p, MSG_STARTED, w.data, w.len, 11 * SEC), -EBADMSG);
	assert_non_null(strstr(c.links[0].error, "second STARTED"));
	assert_false(p.domains[c.links[0].domain - 1].complete);
	coordinator__release(&c);

	/* CODE or FINAL before STOP. */
	for (int k = 0; k < 2; k++) {
		coordinator__init(&c, key_a, NULL, NULL);
		assert_int_equal(coordinator__add(&c, "vm=tcp:127.0.0.1:1", false, &err), 0);
		coordinator__fake_running(&c, 0, &p, 1, 1, 10 * SEC);
		wbuf_reset(&w);
		if (k)
			proto_final__encode(&w, 1, 0);
		else
			wbuf_u32(&w, 0);
		assert_int_equal(coordinator__inject(&c, 0, &p, k ? MSG_FINAL : MSG_CODE, w.data, w.len, 11 * SEC),
				 -EBADMSG);
		assert_non_null(strstr(c.links[0].error, "before STOP"));
		coordinator__release(&c);
	}
	/* An ERROR's words arrive sanitized in the reason. */
	coordinator__init(&c, key_a, NULL, NULL);
	assert_int_equal(coordinator__add(&c, "vm=tcp:127.0.0.1:1", false, &err), 0);
	coordinator__fake_running(&c, 0, &p, 1, 1, 10 * SEC);
	wbuf_reset(&w);
	proto_error__encode(&w, "\x1b[2Jgone\xc2\x9b");
	assert_int_equal(coordinator__inject(&c, 0, &p, MSG_ERROR, w.data, w.len, 11 * SEC), -EBADMSG);
	assert_string_equal(c.links[0].error, "the agent reports: ?[2Jgone?");
	coordinator__release(&c);
	wbuf_release(&w);
	profile__release(&p);
}

/* A rotation with two agents, one failed: the running one's catalog rows
 * go on, renumbered, and its next frame lands on them; the failed one's
 * rows stay with the sessions it was part of, its domain still marked. */
static void test_coordinator_rotate_failed(void **state)
{
	struct coordinator c;
	struct profile p;
	struct agent_profile alive, gone;
	struct profile_catalog_map keep;
	struct wbuf w;
	char *err = NULL;
	uint64_t period = 0;
	(void)state;
	profile__init(&p);
	profile__domain(&p, "host", false);
	wbuf_init(&w);
	coordinator__init(&c, key_a, NULL, NULL);
	assert_int_equal(coordinator__add(&c, "alive=tcp:127.0.0.1:1", false, &err), 0);
	assert_int_equal(coordinator__add(&c, "gone=tcp:127.0.0.1:2", false, &err), 0);
	coordinator__fake_running(&c, 0, &p, 1, 1, 10 * SEC);
	coordinator__fake_running(&c, 1, &p, 1, 1, 10 * SEC);
	/* The failing agent's rows first, so that the other's move. */
	agent_profile_init(&gone);
	agent_profile_init(&alive);
	delta__encode(&gone.p, &w, 0, NULL);
	assert_int_equal(coordinator__inject(&c, 1, &p, MSG_DATA, w.data, w.len, 11 * SEC), 0);
	wbuf_reset(&w);
	delta__encode(&alive.p, &w, 0, NULL);
	assert_int_equal(coordinator__inject(&c, 0, &p, MSG_DATA, w.data, w.len, 11 * SEC), 0);
	assert_int_equal(p.n_images, 2); /* one /usr/bin/work per domain */
	wbuf_reset(&w);
	proto_error__encode(&w, "crashed");
	assert_int_equal(coordinator__inject(&c, 1, &p, MSG_ERROR, w.data, w.len, 11 * SEC), -EBADMSG);

	profile__mark_written(&p);
	profile_catalog_map__init(&keep, &p);
	coordinator__rotate_save(&c, &p, &keep);
	profile__restart(&p, &keep);
	coordinator__rotate_apply(&c, &p, &keep, 12 * SEC);
	profile_catalog_map__release(&keep);
	assert_int_equal(p.n_images, 1);
	assert_int_equal(p.images[0].domain, c.links[0].domain);
	assert_int_equal(c.links[0].delta.images[0], 1);
	assert_int_equal(c.links[0].delta.symbols[0], 1);
	assert_int_equal(c.links[1].delta.n_events, 0);
	assert_int_equal(c.links[1].delta.n_images + c.links[1].delta.n_symbols + c.links[1].delta.n_threads, 0);
	assert_false(p.domains[c.links[1].domain - 1].complete);
	for (size_t i = 0; i < p.n_threads; i++)
		assert_true(!p.threads[i].id || p.threads[i].domain == c.links[0].domain);

	agent_sample(&alive, 1, MS);
	wbuf_reset(&w);
	delta__encode(&alive.p, &w, 0, NULL);
	assert_int_equal(coordinator__inject(&c, 0, &p, MSG_DATA, w.data, w.len, 12500 * MS), 0);
	for (size_t i = 0; i < p.n_samples; i++)
		if (p.samples[i].key.event) {
			assert_int_equal(p.samples[i].key.domain, c.links[0].domain);
			assert_int_equal(p.samples[i].key.image, 1);
			assert_int_equal(p.samples[i].key.symbol, 1);
			period += p.samples[i].period;
		}
	assert_true(period == MS);
	coordinator__release(&c);
	wbuf_release(&w);
	profile__release(&alive.p);
	profile__release(&gone.p);
	profile__release(&p);
}

struct log_capture {
	struct strbuf sb;
};

static void capture_log(void *ctx, bool is_error, const char *msg)
{
	struct log_capture *l = ctx;
	strbuf_addf(&l->sb, "%s%s\n", is_error ? "W " : "I ", msg);
}

static void ready_link(struct coordinator *c, const char *spec, const char *uuid)
{
	char *err = NULL;
	assert_int_equal(coordinator__add(c, spec, false, &err), 0);
	c->links[c->n - 1].state = AGENT_READY;
	c->links[c->n - 1].uuid = xstrdup(uuid);
}

static void test_match_vms(void **state)
{
	const char *u1 = "11111111-2222-3333-4444-555555555555", *u2 = "66666666-2222-3333-4444-555555555555";
	struct vm_info vms[3] = {
		{ .pid = 100, .name = "victim", .uuid = (char *)u1 },
		{ .pid = 200, .name = "vm-200", .uuid = (char *)u2 },
		{ .pid = 300, .name = "web", .uuid = NULL },
	};
	struct coordinator c;
	struct agent_vm_match *m;
	struct log_capture log;
	strbuf_init(&log.sb);

	/* Sound: the VM holding the UUID has no name of its own. */
	coordinator__init(&c, key_a, capture_log, &log);
	ready_link(&c, "db=tcp:h:1", u2);
	assert_int_equal(coordinator__match_vms(&c, vms, 3, &m), 1);
	assert_int_equal(m[0].pid, 200);
	assert_true(c.links[0].uuid_matched);
	free(m);
	coordinator__release(&c);

	/* The UUID of a VM the user named otherwise. */
	coordinator__init(&c, key_a, capture_log, &log);
	ready_link(&c, "db=tcp:h:1", u1);
	assert_int_equal(coordinator__match_vms(&c, vms, 3, &m), 0);
	free(m);
	assert_non_null(strstr(log.sb.buf, "W agent db claims SMBIOS UUID " "11111111-2222-3333-4444-555555555555 of VM victim (pid 100)"));
	coordinator__release(&c);

	/* Claimed twice: neither stands. */
	strbuf_reset(&log.sb);
	coordinator__init(&c, key_a, capture_log, &log);
	ready_link(&c, "a=tcp:h:1", u2);
	ready_link(&c, "b=tcp:h:2", u2);
	assert_int_equal(coordinator__match_vms(&c, vms, 3, &m), 0);
	free(m);
	assert_non_null(strstr(log.sb.buf, "agents a and b both claim SMBIOS UUID"));
	coordinator__release(&c);

	/* The VM named like the agent is another process. */
	strbuf_reset(&log.sb);
	coordinator__init(&c, key_a, capture_log, &log);
	ready_link(&c, "web=tcp:h:1", u2);
	assert_int_equal(coordinator__match_vms(&c, vms, 3, &m), 0);
	free(m);
	assert_non_null(strstr(log.sb.buf, "but VM web is process 300"));
	coordinator__release(&c);

	/* Two VMs the user named alike (a restarted VM, twins): the UUID
	 * tells which is the agent's. */
	{
		struct vm_info twins[2] = {
			{ .pid = 400, .name = "twin", .uuid = (char *)u1 },
			{ .pid = 500, .name = "twin", .uuid = (char *)u2 },
		};
		coordinator__init(&c, key_a, capture_log, &log);
		ready_link(&c, "twin=tcp:h:1", u1);
		assert_int_equal(coordinator__match_vms(&c, twins, 2, &m), 1);
		assert_int_equal(m[0].pid, 400);
		free(m);
		coordinator__release(&c);
	}

	/* Not a UUID at all. */
	strbuf_reset(&log.sb);
	coordinator__init(&c, key_a, capture_log, &log);
	ready_link(&c, "x=tcp:h:1", "'; DROP TABLE");
	assert_int_equal(coordinator__match_vms(&c, vms, 3, &m), 0);
	free(m);
	assert_non_null(strstr(log.sb.buf, "not a UUID"));
	coordinator__release(&c);
	strbuf_release(&log.sb);
}

/* ---- agent ---- */

/* An agent serving one end of an encrypted socketpair, in a thread; the
 * test is the coordinator at the other end. */
struct agent_run {
	struct channel ch;
	struct agent_config cfg;
	struct strbuf log;
	int result;
	pthread_t thread;
};

static void agent_run_log(void *ctx, const char *msg)
{
	struct agent_run *a = ctx;
	strbuf_addf(&a->log, "%s\n", msg);
}

static void *agent_thread(void *p)
{
	struct agent_run *a = p;
	a->result = agent_connection__serve(&a->ch, &a->cfg);
	return NULL;
}

/* Start an agent; its AUTH_OK, which must come first, is checked here. */
static void agent_start(struct agent_run *a, struct channel *coord)
{
	struct proto_agent_info info;
	struct wbuf in;
	uint8_t type = 0;
	memset(a, 0, sizeof(*a));
	strbuf_init(&a->log);
	channel_pair(coord, &a->ch, true);
	/* A catalog compacted once it holds 8 rows, and each time it doubles. */
	a->cfg = (struct agent_config){ .log = agent_run_log, .log_ctx = a, .compact_rows = 8 };
	assert_int_equal(pthread_create(&a->thread, NULL, agent_thread, a), 0);
	wbuf_init(&in);
	assert_int_equal(channel__recv(coord, 20000, &type, &in), 1);
	assert_int_equal(type, MSG_AUTH_OK);
	assert_int_equal(proto_agent_info__decode(in.data, in.len, &info), 0);
	assert_string_equal(info.version, DOMPROF_VERSION_STRING);
	assert_true(info.ncpus >= 1 && info.clock_ns <= clock_monotonic_ns());
	proto_agent_info__release(&info);
	wbuf_release(&in);
}

/* The agent's result once it ended; the connection is then closed. */
static int agent_end(struct agent_run *a, struct channel *coord)
{
	struct wbuf in;
	uint8_t type;
	pthread_join(a->thread, NULL);
	wbuf_init(&in);
	assert_int_equal(channel__recv(coord, 5000, &type, &in), -ECONNRESET);
	wbuf_release(&in);
	channel__release(coord);
	strbuf_release(&a->log);
	return a->result;
}

static void coord_send(struct channel *c, uint8_t type, const struct wbuf *w)
{
	assert_int_equal(channel__send(c, type, w ? w->data : NULL, w ? w->len : 0, false, 5000), 0);
}

static void coord_send_u64(struct channel *c, uint8_t type, uint64_t v)
{
	struct wbuf w;
	wbuf_init(&w);
	proto_u64__encode(&w, v);
	coord_send(c, type, &w);
	wbuf_release(&w);
}

/* The next message, which must be of type want (20 s: ARM reads /proc). */
static void coord_expect(struct channel *c, uint8_t want, struct wbuf *in)
{
	uint8_t type = 0;
	assert_int_equal(channel__recv(c, 20000, &type, in), 1);
	if (type != want)
		fail_msg("expected %s, got %s", proto_msg__name(want), proto_msg__name(type));
}

static void coord_expect_error(struct channel *c, const char *words)
{
	struct wbuf in;
	char *msg = NULL;
	wbuf_init(&in);
	coord_expect(c, MSG_ERROR, &in);
	assert_int_equal(proto_error__decode(in.data, in.len, &msg), 0);
	if (!strstr(msg, words))
		fail_msg("ERROR '%s' does not say '%s'", msg, words);
	free(msg);
	wbuf_release(&in);
}

/* SETUP (100 Hz, no call graphs): SETUP_OK with an event per event asked
 * (*ret_used, to proto_setup_ok__release), then KALLSYMS, unasked. */
static void coord_setup(struct channel *c, const char *const *events, uint32_t n, uint32_t flush_ms, char ***ret_used)
{
	struct wbuf w, in;
	wbuf_init(&w);
	wbuf_init(&in);
	proto_setup__encode(&w, events, n, 100, 0, false, 0, flush_ms);
	coord_send(c, MSG_SETUP, &w);
	coord_expect(c, MSG_SETUP_OK, &in);
	assert_int_equal(proto_setup_ok__decode(in.data, in.len, n, ret_used), 0);
	coord_expect(c, MSG_KALLSYMS, &in);
	wbuf_release(&w);
	wbuf_release(&in);
}

/* PING is answered with the PING's clock echoed and the agent's own. */
static void coord_ping(struct channel *c, struct wbuf *in)
{
	uint64_t before = clock_monotonic_ns(), echoed, agent_ns;
	coord_send_u64(c, MSG_PING, 12345);
	coord_expect(c, MSG_PONG, in);
	assert_int_equal(proto_pong__decode(in->data, in->len, &echoed, &agent_ns), 0);
	assert_true(echoed == 12345);
	/* One machine, one clock: the agent read it between send and reply. */
	assert_true(agent_ns >= before && agent_ns <= clock_monotonic_ns());
}

static void test_agent_order(void **state)
{
	static const char *const events[] = { "cpu-clock", "no-such-event" };
	struct agent_run a;
	struct channel c;
	struct wbuf in;
	char **used;

	wbuf_init(&in);
	/* ARM before SETUP: refused with an ERROR, and the connection ends. */
	agent_start(&a, &c);
	coord_send(&c, MSG_ARM, NULL);
	coord_expect_error(&c, "ARM before SETUP");
	assert_int_equal(agent_end(&a, &c), -EPROTO);

	/* SETUP: an event the guest cannot open becomes cpu-clock, named apart
	 * from the one asked for by that name; PING is answered at any time;
	 * a second SETUP is out of place. */
	agent_start(&a, &c);
	coord_setup(&c, events, 2, 100, &used);
	assert_string_equal(used[0], "cpu-clock");
	assert_string_equal(used[1], "cpu-clock (for no-such-event)");
	proto_setup_ok__release(used, 2);
	coord_ping(&c, &in);
	coord_send(&c, MSG_SETUP, NULL);
	coord_expect_error(&c, "unexpected SETUP");
	assert_int_equal(agent_end(&a, &c), -EPROTO);

	/* START before ARM. */
	agent_start(&a, &c);
	coord_setup(&c, events, 1, 100, &used);
	proto_setup_ok__release(used, 1);
	coord_send_u64(&c, MSG_START, clock_monotonic_ns());
	coord_expect_error(&c, "START before ARM");
	assert_int_equal(agent_end(&a, &c), -EPROTO);

	/* A malformed SETUP, and a message of no known type. */
	agent_start(&a, &c);
	coord_send(&c, MSG_SETUP, NULL);
	coord_expect_error(&c, "malformed SETUP");
	assert_int_equal(agent_end(&a, &c), -EPROTO);
	agent_start(&a, &c);
	assert_int_equal(channel__send(&c, 0xee, "x", 1, false, 5000), 0);
	coord_expect_error(&c, "unexpected UNKNOWN");
	assert_int_equal(agent_end(&a, &c), -EPROTO);

	/* STOP before START: a coordinator that changed its mind, not an error. */
	agent_start(&a, &c);
	coord_send(&c, MSG_STOP, NULL);
	assert_int_equal(agent_end(&a, &c), 0);
	wbuf_release(&in);
}

/* Burn the CPU for ms, so that the agent's system-wide sampling has
 * something to count besides idle. */
static void spin(unsigned ms)
{
	uint64_t end = clock_monotonic_ns() + ms * MS;
	volatile uint64_t x = 0;
	while (clock_monotonic_ns() < end)
		x++;
}

/* A whole session: SETUP, ARM, START at an instant in the future, DATA
 * while recording (a PING on the way), STOP; then DATA until CODE, FINAL,
 * BYE in that order, nothing after. The FINAL count is checked against
 * the samples the DATA frames carried, applied as the coordinator does. */
static void test_agent_session(void **state)
{
	static const char *const events[] = { "cpu-clock" };
	struct agent_run a;
	struct channel c;
	struct wbuf in;
	struct profile host;
	struct delta_state d;
	struct event_spec ev;
	struct symbol_code *codes;
	char **used, *err = NULL, *msg = NULL;
	uint64_t t0, started, samples, lost, cost, end;
	size_t n_codes, frames = 0;
	uint8_t type;

	wbuf_init(&in);
	agent_start(&a, &c);
	coord_setup(&c, events, 1, 50, &used);
	proto_setup_ok__release(used, 1);
	coord_send(&c, MSG_ARM, NULL);
	assert_int_equal(channel__recv(&c, 20000, &type, &in), 1);
	if (type == MSG_ERROR) {
		assert_int_equal(proto_error__decode(in.data, in.len, &msg), 0);
		print_message("agent session skipped: the agent cannot sample here (%s)\n", msg);
		free(msg);
		wbuf_release(&in);
		agent_end(&a, &c);
		skip();
	}
	assert_int_equal(type, MSG_ARMED);

	profile__init(&host);
	profile__domain(&host, "host", false);
	assert_int_equal(event_spec__parse("cpu-clock", NULL, &ev, NULL), 0);
	t0 = clock_monotonic_ns() + 20 * MS;
	delta_state__init(&d, profile__domain(&host, "vm", true), 1);
	delta_state__set_limits(&d, NULL, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN), t0 - 20 * MS, t0, 100 * MS, &ev);
	/* Both ends agreed on FORGET: the agent's frames say what it
	 * dropped, and when it compacted its catalog. */
	assert_true(c.caps & PROTO_CAP_FORGET);
	assert_true(c.caps & PROTO_CAP_THREAD_IDS);
	assert_true(c.caps & PROTO_CAP_COMPACT);
	delta_state__set_caps(&d, c.caps);
	coord_send_u64(&c, MSG_START, t0);
	coord_expect(&c, MSG_STARTED, &in);
	assert_int_equal(proto_u64__decode(in.data, in.len, &started), 0);
	/* It waited for the instant (on the one clock both sides share). */
	assert_true(started >= t0 && started < t0 + 5 * SEC);

	/* At least 400 ms, and on until a first DATA frame came (a loaded
	 * machine may delay the agent's thread well past its 50 ms period;
	 * 20 s is the bound). */
	end = clock_monotonic_ns() + 400 * MS;
	while (clock_monotonic_ns() < end || (frames == 0 && clock_monotonic_ns() < end + 20 * SEC)) {
		spin(20);
		while (channel__recv(&c, 0, &type, &in) == 1) {
			assert_int_equal(type, MSG_DATA);
			assert_int_equal(delta__apply(&d, &host, in.data, in.len, clock_monotonic_ns(), &err), 0);
			frames++;
		}
	}
	assert_true(frames >= 1);
	/* PING while recording: answered between DATA frames. */
	coord_send_u64(&c, MSG_PING, 1);
	while (channel__recv(&c, 20000, &type, &in) == 1 && type == MSG_DATA)
		assert_int_equal(delta__apply(&d, &host, in.data, in.len, clock_monotonic_ns(), &err), 0);
	assert_int_equal(type, MSG_PONG);

	coord_send(&c, MSG_STOP, NULL);
	d.stop_ns = clock_monotonic_ns();
	while (channel__recv(&c, 20000, &type, &in) == 1 && type == MSG_DATA)
		assert_int_equal(delta__apply(&d, &host, in.data, in.len, clock_monotonic_ns(), &err), 0);
	assert_int_equal(type, MSG_CODE);
	/* A catalog of 8 rows or more was compacted (after a DATA, said in
	 * the next). */
	if (d.n_images + d.n_symbols + d.n_frames + d.compacted >= 16)
		assert_true(d.compactions >= 1);
	print_message("the agent compacted its catalog %llu times, letting %llu rows go (%zu+%zu+%zu kept)\n",
		      (unsigned long long)d.compactions, (unsigned long long)d.compacted, d.n_images, d.n_symbols, d.n_frames);
	/* Every function it sends code for was named in DATA before. */
	assert_int_equal(proto_code__decode(in.data, in.len, (uint32_t)d.n_symbols, NULL, &codes, &n_codes, &cost), 0);
	assert_true(n_codes <= CODE_HOT_SYMBOLS_AGENT);
	/* In the numbering the coordinator knows: each code is of the
	 * function its id names there (no compaction after the last DATA). */
	for (size_t i = 0; i < n_codes; i++)
		assert_true(codes[i].address == host.symbols[d.symbols[codes[i].symbol - 1] - 1].address);
	symbol_codes__free(codes, n_codes);
	coord_expect(&c, MSG_FINAL, &in);
	assert_int_equal(proto_final__decode(in.data, in.len, &samples, &lost), 0);
	/* The agent's count is what its DATA frames added up to. */
	assert_true(samples == d.samples_received);
	coord_expect(&c, MSG_BYE, &in);
	assert_int_equal(proto_empty__decode(in.data, in.len), 0);
	assert_int_equal(agent_end(&a, &c), 0);
	wbuf_release(&in);
	event_spec__release(&ev);
	delta_state__release(&d);
	profile__release(&host);
}

/* ---- the sanitizer ---- */

static void test_sanitizer(void **state)
{
	char s[] = "a\x1b[31mb\xc2\x9b" "c\xe2\x80\xae" "d\xe2\x81\xa9" "e\xff\xc3\xa9" "f\xe2\x80\xa8" "g\x7f";
	struct strbuf sb;
	assert_false(text_is_safe(s));
	assert_string_equal(text_sanitize(s), "a?[31mb?c?d?e?\xc3\xa9" "f?g?");
	assert_true(text_is_safe(s));
	strbuf_init(&sb);
	strbuf_add_csv(&sb, "=HYPERLINK(\"x\")");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "-bash");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "@SUM(1)");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "+1");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "\tx");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "plain");
	strbuf_addc(&sb, ',');
	strbuf_add_csv(&sb, "a,b");
	assert_string_equal(sb.buf, "\"'=HYPERLINK(\"\"x\"\")\",\"'-bash\",\"'@SUM(1)\",\"'+1\",?x,plain,\"a,b\"");
	strbuf_reset(&sb);
	strbuf_add_json(&sb, "x\xc2\x9b\xe2\x80\xae\x1b\xff");
	assert_string_equal(sb.buf, "\"x\\u009b\\u202e\\u001b\\ufffd\"");
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_bounds),
		cmocka_unit_test(test_preauth_bounds),
		cmocka_unit_test(test_encrypted_frames),
		cmocka_unit_test(test_budget_frames),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_listener_silent_peers),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_messages_handshake),
		cmocka_unit_test(test_messages_session),
		cmocka_unit_test(test_messages_code),
		cmocka_unit_test(test_delta_roundtrip),
		cmocka_unit_test(test_delta_hostile),
		cmocka_unit_test(test_delta_catalog),
		cmocka_unit_test(test_delta_forget),
		cmocka_unit_test(test_delta_rotate),
		cmocka_unit_test(test_delta_compact),
		cmocka_unit_test(test_delta_compact_hostile),
		cmocka_unit_test(test_delta_reuse),
		cmocka_unit_test(test_delta_thread_ids),
		cmocka_unit_test(test_delta_forget_hostile),
		cmocka_unit_test(test_delta_forget_budget),
		cmocka_unit_test(test_delta_forget_with_counters),
		cmocka_unit_test(test_delta_thread_ids_budget),
		cmocka_unit_test(test_delta_thread_ids_model),
		cmocka_unit_test(test_delta_thread_ids_model_hostile),
		cmocka_unit_test(test_coordinator_order),
		cmocka_unit_test(test_coordinator_rotate_failed),
		cmocka_unit_test(test_match_vms),
		cmocka_unit_test(test_agent_order),
		cmocka_unit_test(test_agent_session),
		cmocka_unit_test(test_sanitizer),
	};
	if (sodium_init() < 0)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

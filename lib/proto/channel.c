/* Framing, encryption and the handshake; see channel.h and
 * docs/protocol.md. */
#define _GNU_SOURCE
#include "channel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#ifdef __linux__
#include <linux/vm_sockets.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "../util/util.h"
#include "budget.h"
#include "messages.h"

#define HEADER_BYTES 4
#define INNER_HEADER_BYTES 4
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
/* A frame buffer up to this size is kept for the next frame; a larger one
 * (and its charge) is given back as soon as its frame is handled. */
#define RX_KEEP_BYTES (64u << 10)

const char *proto_msg__name(unsigned type)
{
	static const char *names[] = {
		[MSG_HELLO] = "HELLO",	 [MSG_HELLO_REPLY] = "HELLO_REPLY", [MSG_AUTH] = "AUTH",
		[MSG_AUTH_OK] = "AUTH_OK", [MSG_SETUP] = "SETUP",		 [MSG_SETUP_OK] = "SETUP_OK",
		[MSG_PING] = "PING",	 [MSG_PONG] = "PONG",		 [MSG_ARM] = "ARM",
		[MSG_ARMED] = "ARMED",	 [MSG_START] = "START",		 [MSG_STARTED] = "STARTED",
		[MSG_DATA] = "DATA",	 [MSG_STOP] = "STOP",		 [MSG_ERROR] = "ERROR",
		[MSG_FINAL] = "FINAL",	 [MSG_BYE] = "BYE",		 [MSG_KALLSYMS] = "KALLSYMS",
		[MSG_CODE] = "CODE",
	};
	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "UNKNOWN";
}

static int sodium_ready(void) { return sodium_init() < 0 ? -EIO : 0; }

void channel__init(struct channel *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	snprintf(c->peer, sizeof(c->peer), "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char host[64], port[16];
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
			if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
					NI_NUMERICHOST | NI_NUMERICSERV) == 0)
				snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
		}
#ifdef AF_VSOCK
		else if (ss.ss_family == AF_VSOCK) {
			struct sockaddr_vm *vm = (struct sockaddr_vm *)&ss;
			snprintf(c->peer, sizeof(c->peer), "vsock:%u:%u", vm->svm_cid, vm->svm_port);
		}
#endif
	}
}

void channel__release(struct channel *c)
{
	if (c->fd >= 0)
		close(c->fd);
	sodium_memzero(c->tx_key, sizeof(c->tx_key));
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	free(c->rx);
	proto_budget__refund(c->budget, c->rx_cap + c->payload_charged);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

static int write_all(struct channel *c, const unsigned char *p, size_t n, int timeout_ms)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000ULL;
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			c->bytes_out += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uint64_t now = clock_monotonic_ns();
			int r;
			if (now >= deadline)
				return -ETIMEDOUT;
			r = wait_fd(c->fd, POLLOUT, (int)((deadline - now) / 1000000ULL) + 1);
			if (r < 0)
				return r;
			continue;
		}
		return w < 0 ? -errno : -ECONNRESET;
	}
	return 0;
}

static void nonce_for(uint64_t seq, unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++)
		nonce[i] = (unsigned char)(seq >> (8 * i));
}

int channel__send(struct channel *c, uint8_t type, const void *payload, size_t len, bool compress, int timeout_ms)
{
	struct wbuf frame;
	unsigned char *zbuf = NULL;
	uint8_t flags = 0;
	int r;

	if (compress && (c->caps & PROTO_CAP_ZSTD) && len > 256) {
		size_t bound = ZSTD_compressBound(len);
		size_t z;
		zbuf = xmalloc(bound);
		z = ZSTD_compress(zbuf, bound, payload, len, 3);
		if (!ZSTD_isError(z) && z < len) {
			payload = zbuf;
			len = z;
			flags |= PROTO_FLAG_ZSTD;
		}
	}
	if (len + INNER_HEADER_BYTES + TAG_BYTES > PROTO_MAX_FRAME) {
		free(zbuf);
		return -EMSGSIZE;
	}
	wbuf_init(&frame);
	wbuf_u32(&frame, 0); /* length, patched below */
	wbuf_u8(&frame, type);
	wbuf_u8(&frame, flags);
	wbuf_u16(&frame, 0);
	wbuf_put(&frame, payload, len);
	free(zbuf);
	if (c->encrypted) {
		unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
		size_t plain = frame.len - HEADER_BYTES;
		unsigned long long clen;
		struct wbuf enc;
		wbuf_init(&enc);
		wbuf_u32(&enc, (uint32_t)(plain + TAG_BYTES));
		wbuf_put(&enc, NULL, plain + TAG_BYTES);
		nonce_for(c->tx_seq++, nonce);
		crypto_aead_xchacha20poly1305_ietf_encrypt(enc.data + HEADER_BYTES, &clen, frame.data + HEADER_BYTES, plain,
							   enc.data, HEADER_BYTES, NULL, nonce, c->tx_key);
		wbuf_release(&frame);
		frame = enc;
	} else {
		uint32_t n = (uint32_t)(frame.len - HEADER_BYTES);
		for (int i = 0; i < 4; i++)
			frame.data[i] = (unsigned char)(n >> (8 * i));
	}
	r = write_all(c, frame.data, frame.len, timeout_ms);
	wbuf_release(&frame);
	return r;
}

static uint32_t frame_length(const struct channel *c)
{
	return (uint32_t)c->rx[0] | (uint32_t)c->rx[1] << 8 | (uint32_t)c->rx[2] << 16 | (uint32_t)c->rx[3] << 24;
}

/* How many bytes the frame being received still needs (0: complete),
 * with room made for them. The length is checked the moment it is known:
 * before authentication only the small handshake frames exist, and a
 * frame must fit the budget before its buffer is allocated. */
static int frame_room(struct channel *c, size_t *ret_want)
{
	size_t need = HEADER_BYTES;
	if (c->rx_len >= HEADER_BYTES) {
		uint32_t n = frame_length(c);
		if (n > (c->encrypted ? PROTO_MAX_FRAME : PROTO_MAX_HANDSHAKE_FRAME) ||
		    n < INNER_HEADER_BYTES + (c->encrypted ? TAG_BYTES : 0))
			return -EBADMSG;
		need += n;
	}
	if (need > c->rx_cap) {
		size_t cap = MAX(need, c->rx_cap ? c->rx_cap : (size_t)256);
		if (!proto_budget__charge(c->budget, cap - c->rx_cap))
			return -ENOBUFS;
		c->rx = xrealloc(c->rx, cap);
		c->rx_cap = cap;
	}
	*ret_want = need - c->rx_len;
	return 0;
}

/* Read what the socket has of the current frame, without blocking and
 * never past its end. Returns bytes read (0: none), -ECONNRESET at end of
 * stream, or frame_room's error. */
static ssize_t fill(struct channel *c)
{
	ssize_t total = 0;
	for (;;) {
		size_t want;
		ssize_t n;
		int r = frame_room(c, &want);
		if (r < 0)
			return r;
		if (!want)
			return total;
		n = recv(c->fd, c->rx + c->rx_len, want, 0);
		if (n > 0) {
			c->rx_len += (size_t)n;
			c->bytes_in += (uint64_t)n;
			total += n;
			continue;
		}
		if (n == 0)
			return total ? total : -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return total;
		return -errno;
	}
}

static bool frame_complete(const struct channel *c)
{
	return c->rx_len >= HEADER_BYTES && c->rx_len == HEADER_BYTES + (size_t)frame_length(c);
}

void channel__drop_payload(struct channel *c, struct wbuf *out)
{
	if (c->budget)
		wbuf_release(out);
	else
		wbuf_reset(out);
	proto_budget__refund(c->budget, c->payload_charged);
	c->payload_charged = 0;
}

/* The payload (decompressed when flagged) into out, charged first. */
static int take_payload(struct channel *c, uint8_t flags, const unsigned char *p, size_t len, struct wbuf *out)
{
	unsigned long long size = len;
	if ((flags & ~PROTO_FLAG_ZSTD) || ((flags & PROTO_FLAG_ZSTD) && !(c->encrypted && (c->caps & PROTO_CAP_ZSTD))))
		return -EBADMSG; /* compression only after authentication, and only if agreed */
	if (flags & PROTO_FLAG_ZSTD) {
		size = ZSTD_getFrameContentSize(p, len);
		if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > PROTO_MAX_INFLATED)
			return -EBADMSG;
	}
	/* Decompression is bounded by what the budget has left. */
	if (!proto_budget__charge(c->budget, size))
		return -ENOBUFS;
	c->payload_charged = (size_t)size;
	if (flags & PROTO_FLAG_ZSTD) {
		size_t got;
		wbuf_put(out, NULL, (size_t)size);
		got = ZSTD_decompress(out->data, (size_t)size, p, len);
		if (ZSTD_isError(got) || got != size)
			return -EBADMSG;
	} else {
		wbuf_put(out, p, len);
	}
	return 1;
}

/* The complete frame in the buffer: decrypt it in place, decode it into
 * out, and empty the buffer. */
static int take_frame(struct channel *c, uint8_t *type, struct wbuf *out)
{
	uint32_t n = frame_length(c);
	unsigned char *body = c->rx + HEADER_BYTES;
	size_t body_len = n;
	int r = 1;

	channel__drop_payload(c, out);
	if (c->encrypted) {
		unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
		unsigned long long plen;
		nonce_for(c->rx_seq, nonce);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(body, &plen, NULL, body, body_len, c->rx, HEADER_BYTES,
							       nonce, c->rx_key) != 0)
			r = -EBADMSG; /* forged, replayed, reordered or corrupt */
		else {
			c->rx_seq++;
			body_len = (size_t)plen;
		}
	}
	if (r == 1) {
		*type = body[0];
		r = take_payload(c, body[1], body + INNER_HEADER_BYTES, body_len - INNER_HEADER_BYTES, out);
	}
	c->rx_len = 0;
	if (c->rx_cap > RX_KEEP_BYTES) {
		free(c->rx);
		c->rx = NULL;
		proto_budget__refund(c->budget, c->rx_cap);
		c->rx_cap = 0;
	}
	return r;
}

int channel__recv(struct channel *c, int timeout_ms, uint8_t *type, struct wbuf *out)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)MAX(timeout_ms, 0) * 1000000ULL;
	for (;;) {
		ssize_t n = fill(c);
		uint64_t now;
		int r;
		/* First: a refused length leaves a "complete" 4-byte header. */
		if (n < 0)
			return (int)n;
		if (frame_complete(c))
			return take_frame(c, type, out);
		if (n > 0)
			continue;
		now = clock_monotonic_ns();
		if (now >= deadline)
			return 0;
		r = wait_fd(c->fd, POLLIN, (int)((deadline - now) / 1000000ULL) + 1);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
	}
}

/* ---- handshake ---- */

#define LABEL_AGENT "domprof-v1 agent proof"
#define LABEL_COORD "domprof-v1 coordinator proof"

static void proof(const unsigned char key[32], const char *label, const unsigned char transcript[32],
		  unsigned char out[crypto_auth_hmacsha512256_BYTES])
{
	crypto_auth_hmacsha512256_state st;
	crypto_auth_hmacsha512256_init(&st, key, 32);
	crypto_auth_hmacsha512256_update(&st, (const unsigned char *)label, strlen(label));
	crypto_auth_hmacsha512256_update(&st, transcript, 32);
	crypto_auth_hmacsha512256_final(&st, out);
}

static void derive_keys(struct channel *c, const unsigned char key[32], const unsigned char transcript[32], bool client)
{
	unsigned char c2s[32], s2c[32];
	unsigned char msg[32 + 8];
	memcpy(msg, transcript, 32);
	memcpy(msg + 32, "c2s-key!", 8);
	crypto_generichash(c2s, 32, msg, sizeof(msg), key, 32);
	memcpy(msg + 32, "s2c-key!", 8);
	crypto_generichash(s2c, 32, msg, sizeof(msg), key, 32);
	memcpy(c->tx_key, client ? c2s : s2c, 32);
	memcpy(c->rx_key, client ? s2c : c2s, 32);
	sodium_memzero(c2s, 32);
	sodium_memzero(s2c, 32);
	sodium_memzero(msg, sizeof(msg));
	c->encrypted = true;
	c->tx_seq = c->rx_seq = 0;
}

/* transcript = BLAKE2b-256 of the HELLO payload and the HELLO_REPLY payload
 * without its proof: binds versions, capabilities and both nonces. */
static void transcript_hash(const struct wbuf *hello, const unsigned char *reply, size_t reply_len, unsigned char out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, hello->data, hello->len);
	crypto_generichash_update(&st, reply, reply_len);
	crypto_generichash_final(&st, out, 32);
}

/* The answer to "what came instead of `what`": the peer's ERROR in its
 * words (sanitized), or what was wrong. r is channel__recv's result. */
static int check_expected(int r, uint8_t type, uint8_t want, const struct wbuf *in, char **ret_error, const char *what)
{
	if (r == 0)
		return fail_with(ret_error, -ETIMEDOUT, "timed out waiting for %s", what);
	if (r == -ECONNRESET)
		return fail_with(ret_error, r, "connection closed by the peer while waiting for %s", what);
	if (r < 0)
		return fail_with(ret_error, r, "malformed data while waiting for %s", what);
	if (type == MSG_ERROR) {
		_cleanup_free_ char *msg = NULL;
		if (proto_error__decode(in->data, in->len, &msg) < 0)
			msg = xstrdup("(no reason)");
		return fail_with(ret_error, -EACCES, "the peer refused: %s", msg);
	}
	if (type != want)
		return fail_with(ret_error, -EBADMSG, "expected %s, got message type %u", what, type);
	return 0;
}

static int recv_expect(struct channel *c, uint8_t want, int timeout_ms, struct wbuf *out, char **ret_error,
		       const char *what)
{
	uint8_t type = 0;
	int r = channel__recv(c, timeout_ms, &type, out);
	return check_expected(r, type, want, out, ret_error, what);
}

int channel__handshake_client(struct channel *c, const unsigned char key[PROTO_KEY_BYTES], int timeout_ms,
			      char **ret_error)
{
	struct wbuf hello, reply, auth;
	uint32_t offer = c->offer ? c->offer & PROTO_CAPS_ALL : PROTO_CAPS_ALL;
	struct proto_hello h = { .max_version = PROTO_VERSION, .min_version = PROTO_VERSION, .caps = offer };
	struct proto_hello_reply hr;
	unsigned char transcript[32], expect[32], proof_c[32];
	int r;

	if (sodium_ready() < 0)
		return fail_with(ret_error, -EIO, "libsodium failed to initialise");
	wbuf_init(&hello);
	wbuf_init(&reply);
	wbuf_init(&auth);
	randombytes_buf(h.nonce, sizeof(h.nonce));
	proto_hello__encode(&hello, &h);
	r = channel__send(c, MSG_HELLO, hello.data, hello.len, false, timeout_ms);
	if (r < 0) {
		r = fail_with(ret_error, r, "cannot send HELLO: %s", strerror(-r));
		goto out;
	}
	r = recv_expect(c, MSG_HELLO_REPLY, timeout_ms, &reply, ret_error, "the agent's HELLO reply");
	if (r < 0)
		goto out;
	if (proto_hello_reply__decode(reply.data, reply.len, &hr) < 0) {
		r = fail_with(ret_error, -EBADMSG, "not a domprof agent (bad HELLO reply)");
		goto out;
	}
	if (hr.version != PROTO_VERSION) {
		r = fail_with(ret_error, -EPROTONOSUPPORT, "the agent speaks protocol version %u, this domprof %u",
			      hr.version, PROTO_VERSION);
		goto out;
	}
	transcript_hash(&hello, reply.data, reply.len - PROTO_PROOF_BYTES, transcript);
	proof(key, LABEL_AGENT, transcript, expect);
	if (sodium_memcmp(expect, hr.proof, 32) != 0) {
		static const char msg[] = "authentication failed: keys differ";
		struct wbuf e;
		wbuf_init(&e);
		proto_error__encode(&e, msg);
		channel__send(c, MSG_ERROR, e.data, e.len, false, 200);
		wbuf_release(&e);
		r = fail_with(ret_error, -EACCES,
			      "authentication failed: the agent does not hold the same key (check --key on both sides)");
		goto out;
	}
	proof(key, LABEL_COORD, transcript, proof_c);
	proto_auth__encode(&auth, proof_c);
	r = channel__send(c, MSG_AUTH, auth.data, auth.len, false, timeout_ms);
	if (r < 0) {
		r = fail_with(ret_error, r, "cannot send AUTH: %s", strerror(-r));
		goto out;
	}
	c->caps = hr.caps & offer;
	derive_keys(c, key, transcript, true);
	r = 0;
out:
	sodium_memzero(expect, sizeof(expect));
	sodium_memzero(transcript, sizeof(transcript));
	wbuf_release(&hello);
	wbuf_release(&reply);
	wbuf_release(&auth);
	return r;
}

/* HELLO in hand: answer with HELLO_REPLY and its proof. */
static int server_reply(struct channel *c, struct handshake_server *hs, const unsigned char key[PROTO_KEY_BYTES],
			const struct wbuf *hello, char **ret_error)
{
	struct proto_hello h;
	struct proto_hello_reply hr = { .version = PROTO_VERSION };
	struct wbuf reply;
	int r;
	if (proto_hello__decode(hello->data, hello->len, &h) < 0)
		return fail_with(ret_error, -EBADMSG, "not a domprof coordinator (bad HELLO)");
	if (h.min_version > PROTO_VERSION || h.max_version < PROTO_VERSION)
		return fail_with(ret_error, -EPROTONOSUPPORT, "the coordinator speaks protocol versions %u-%u, this agent %u",
				 h.min_version, h.max_version, PROTO_VERSION);
	hs->caps = h.caps & PROTO_CAPS_ALL;
	hr.caps = hs->caps;
	randombytes_buf(hr.nonce, sizeof(hr.nonce));
	wbuf_init(&reply);
	proto_hello_reply__encode(&reply, &hr);
	transcript_hash(hello, reply.data, reply.len - PROTO_PROOF_BYTES, hs->transcript);
	proof(key, LABEL_AGENT, hs->transcript, reply.data + reply.len - PROTO_PROOF_BYTES);
	/* A fresh socket takes these hundred bytes at once: never wait on a peer. */
	r = channel__send(c, MSG_HELLO_REPLY, reply.data, reply.len, false, 0);
	wbuf_release(&reply);
	if (r < 0)
		return fail_with(ret_error, r, "cannot send HELLO reply: %s", strerror(-r));
	hs->step = 1;
	return 0;
}

int channel__handshake_server_step(struct channel *c, struct handshake_server *hs,
				   const unsigned char key[PROTO_KEY_BYTES], char **ret_error)
{
	struct wbuf in;
	unsigned char got[32], expect[32];
	uint8_t type = 0;
	int r;

	if (sodium_ready() < 0)
		return fail_with(ret_error, -EIO, "libsodium failed to initialise");
	wbuf_init(&in);
	r = channel__recv(c, 0, &type, &in);
	if (r == 0)
		goto out; /* nothing complete yet */
	if (hs->step == 0) {
		r = check_expected(r, type, MSG_HELLO, &in, ret_error, "HELLO");
		if (r == 0)
			r = server_reply(c, hs, key, &in, ret_error);
		goto out;
	}
	r = check_expected(r, type, MSG_AUTH, &in, ret_error, "AUTH");
	if (r == -EACCES) {
		if (ret_error) {
			free(*ret_error);
			*ret_error = NULL;
		}
		r = fail_with(ret_error, -EACCES, "authentication failed: the coordinator holds a different key");
		goto out;
	}
	if (r < 0)
		goto out;
	proof(key, LABEL_COORD, hs->transcript, expect);
	if (proto_auth__decode(in.data, in.len, got) < 0 || sodium_memcmp(expect, got, 32) != 0) {
		r = fail_with(ret_error, -EACCES, "authentication failed: wrong key or replayed handshake");
		goto out;
	}
	c->caps = hs->caps;
	derive_keys(c, key, hs->transcript, false);
	r = 1;
out:
	sodium_memzero(expect, sizeof(expect));
	wbuf_release(&in);
	return r;
}

void handshake_server__release(struct handshake_server *hs) { sodium_memzero(hs, sizeof(*hs)); }

int channel__handshake_server(struct channel *c, const unsigned char key[PROTO_KEY_BYTES], int timeout_ms,
			      char **ret_error)
{
	struct handshake_server hs = { 0 };
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)MAX(timeout_ms, 0) * 1000000ULL;
	int r;
	for (;;) {
		uint64_t now;
		r = channel__handshake_server_step(c, &hs, key, ret_error);
		if (r != 0)
			break;
		now = clock_monotonic_ns();
		if (now >= deadline ||
		    (r = wait_fd(c->fd, POLLIN, (int)((deadline - now) / 1000000ULL) + 1)) == -ETIMEDOUT) {
			r = fail_with(ret_error, -ETIMEDOUT, "timed out waiting for %s", hs.step ? "AUTH" : "HELLO");
			break;
		}
		if (r < 0)
			break;
	}
	handshake_server__release(&hs);
	return r < 0 ? r : 0;
}

/* ---- keys ---- */

int proto_key__generate(const char *path)
{
	unsigned char key[PROTO_KEY_BYTES];
	char hex[2 * PROTO_KEY_BYTES + 2];
	struct atomic_file af;
	int r;
	if (sodium_ready() < 0)
		return -EIO;
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	strcat(hex, "\n");
	/* Written with write(2), not stdio: no copy of the key is left in a
	 * buffer. Never over an existing file: replacing a key would lock
	 * out every agent started with it. */
	r = atomic_file__open(&af, path, 0600);
	if (r == 0) {
		if (write(fileno(af.f), hex, strlen(hex)) != (ssize_t)strlen(hex))
			r = -errno;
		if (r < 0)
			atomic_file__abort(&af);
		else
			r = atomic_file__commit(&af, false);
	}
	sodium_memzero(hex, sizeof(hex));
	return r;
}

int proto_key__load(const char *path, unsigned char key[PROTO_KEY_BYTES], char **ret_error)
{
	struct stat st;
	char buf[256];
	ssize_t n;
	size_t bin_len;
	const char *end;
	int r = 0;
	/* Never through a symbolic link: whoever can plant one would choose
	 * which file is trusted as the key. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return fail_with(ret_error, -ELOOP, "is a symbolic link (a key is read only from the file itself)");
		return fail_with(ret_error, -e, "cannot be opened: %s", strerror(e));
	}
	if (fstat(fd, &st) < 0)
		r = fail_with(ret_error, -errno, "cannot be read: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = fail_with(ret_error, -EINVAL, "is not a regular file");
	else if (st.st_uid != geteuid())
		r = fail_with(ret_error, -EPERM, "belongs to uid %u, not to the user running domprof (uid %u)",
			      (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		r = fail_with(ret_error, -EPERM, "is readable or writable by other users (mode %04o)",
			      (unsigned)(st.st_mode & 07777));
	if (r < 0) {
		close(fd);
		return r;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return fail_with(ret_error, -errno, "cannot be read: %s", strerror(errno));
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n != 2 * PROTO_KEY_BYTES ||
	    sodium_hex2bin(key, PROTO_KEY_BYTES, buf, (size_t)n, NULL, &bin_len, &end) != 0 || bin_len != PROTO_KEY_BYTES)
		r = fail_with(ret_error, -EINVAL, "is not a domprof key (64 hex digits)");
	sodium_memzero(buf, sizeof(buf));
	return r;
}

/* ---- addresses ---- */

static int split_addr(const char *addr, char **ret_kind, char **ret_host, char **ret_port)
{
	const char *a = strchr(addr, ':'), *b = strrchr(addr, ':');
	if (!a || a == b || a == addr || !b[1])
		return -EINVAL;
	*ret_kind = xstrndup(addr, a - addr);
	*ret_host = xstrndup(a + 1, b - a - 1);
	*ret_port = xstrdup(b + 1);
	/* [v6]:port */
	if ((*ret_host)[0] == '[' && (*ret_host)[strlen(*ret_host) - 1] == ']') {
		char *h = xstrndup(*ret_host + 1, strlen(*ret_host) - 2);
		free(*ret_host);
		*ret_host = h;
	}
	return 0;
}

static int make_socket(const char *addr, bool listening, int timeout_ms, int *ret_fd, char **ret_error)
{
	_cleanup_free_ char *kind = NULL;
	_cleanup_free_ char *host = NULL;
	_cleanup_free_ char *port = NULL;
	int fd = -1, r;

	if (split_addr(addr, &kind, &host, &port) < 0)
		return fail_with(ret_error, -EINVAL, "'%s' is not an address (tcp:HOST:PORT or vsock:CID:PORT)", addr);
	if (streq(kind, "tcp")) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = listening ? AI_PASSIVE : 0 };
		struct addrinfo *res = NULL, *ai;
		uint64_t p;
		if (parse_u64(port, 10, &p) < 0 || p > 65535 || (!listening && p == 0))
			return fail_with(ret_error, -EINVAL, "%s: '%s' is not a TCP port", addr, port);
		r = getaddrinfo(*host ? host : NULL, port, &hints, &res);
		if (r != 0)
			return fail_with(ret_error, -EHOSTUNREACH, "%s: cannot resolve '%s': %s", addr, host, gai_strerror(r));
		r = -ECONNREFUSED;
		for (ai = res; ai; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd < 0) {
				r = -errno;
				continue;
			}
			if (listening) {
				int one = 1;
				setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
				if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
					r = 0;
					break;
				}
			} else {
				fcntl(fd, F_SETFL, O_NONBLOCK);
				if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
					r = 0;
					break;
				}
				if (errno == EINPROGRESS) {
					int err = 0;
					socklen_t el = sizeof(err);
					r = wait_fd(fd, POLLOUT, timeout_ms);
					if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
						break;
					r = r ? r : -err;
				}
			}
			r = r ? r : -errno;
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		if (fd < 0)
			return fail_with(ret_error, r, "%s: cannot %s: %s", addr, listening ? "listen" : "connect",
					 strerror(-r));
	} else if (streq(kind, "vsock")) {
#ifdef AF_VSOCK
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
		uint64_t cid, p;
		if (streq(host, "any") || (!*host && listening))
			cid = VMADDR_CID_ANY;
		else if (parse_u64(host, 10, &cid) < 0 || cid > UINT32_MAX)
			return fail_with(ret_error, -EINVAL, "%s: '%s' is not a vsock CID", addr, host);
		if (parse_u64(port, 10, &p) < 0 || p > UINT32_MAX)
			return fail_with(ret_error, -EINVAL, "%s: '%s' is not a vsock port", addr, port);
		sa.svm_cid = (unsigned)cid;
		sa.svm_port = (unsigned)p;
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail_with(ret_error, -errno, "%s: no vsock support here (%s): load vsock modules or use tcp:",
					 addr, strerror(errno));
		if (listening)
			r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, SOMAXCONN) == 0 ? 0 : -errno;
		else
			r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
		if (r < 0) {
			close(fd);
			return fail_with(ret_error, r, "%s: cannot %s: %s", addr, listening ? "listen" : "connect",
					 strerror(-r));
		}
#else
		return fail_with(ret_error, -EAFNOSUPPORT, "%s: vsock is not supported by this build", addr);
#endif
	} else {
		return fail_with(ret_error, -EINVAL, "'%s': unknown address kind '%s' (tcp or vsock)", addr, kind);
	}
	*ret_fd = fd;
	return 0;
}

int proto_addr__listen(const char *addr, int *ret_fd, char **ret_error)
{
	return make_socket(addr, true, 0, ret_fd, ret_error);
}

int proto_addr__connect(const char *addr, int timeout_ms, int *ret_fd, char **ret_error)
{
	return make_socket(addr, false, timeout_ms, ret_fd, ret_error);
}

/* Concurrent handshakes for the agent; see listener.h. */
#define _GNU_SOURCE
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util/util.h"

struct pending_peer {
	struct channel ch;
	struct handshake_server hs;
	uint64_t deadline;
};

static void logf_(struct listener *l, const char *fmt, ...) PRINTF(2, 3);
static void logf_(struct listener *l, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	if (!l->log)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	l->log(l->log_ctx, msg);
	free(msg);
}

int listener__open(struct listener *l, const char *addr, const unsigned char key[PROTO_KEY_BYTES], listener_log_fn log,
		   void *ctx, char **ret_error)
{
	int fd, r;
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	r = proto_addr__listen(addr, &fd, ret_error);
	if (r < 0)
		return r;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	l->fd = fd;
	memcpy(l->key, key, PROTO_KEY_BYTES);
	l->pending = xcalloc(LISTENER_MAX_PENDING, sizeof(*l->pending));
	l->handshake_ns = LISTENER_HANDSHAKE_MS * 1000000ULL;
	l->log = log;
	l->log_ctx = ctx;
	return 0;
}

static void drop(struct listener *l, size_t i)
{
	channel__release(&l->pending[i].ch);
	handshake_server__release(&l->pending[i].hs);
	l->pending[i] = l->pending[--l->n_pending];
}

void listener__close(struct listener *l)
{
	while (l->n_pending)
		drop(l, 0);
	free(l->pending);
	if (l->fd >= 0)
		close(l->fd);
	sodium_memzero(l->key, sizeof(l->key));
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

/* Take every connection waiting in the kernel's queue (so that the queue
 * never fills and the real coordinator's connect always completes). */
static void accept_all(struct listener *l)
{
	for (;;) {
		struct pending_peer *p;
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (l->n_pending == LISTENER_MAX_PENDING) {
			/* The oldest has had the longest to prove the key. */
			size_t oldest = 0;
			for (size_t i = 1; i < l->n_pending; i++)
				if (l->pending[i].deadline < l->pending[oldest].deadline)
					oldest = i;
			logf_(l, "dropped %s: more than %d peers are waiting to authenticate", l->pending[oldest].ch.peer,
			      LISTENER_MAX_PENDING);
			drop(l, oldest);
		}
		p = &l->pending[l->n_pending++];
		memset(p, 0, sizeof(*p));
		channel__init(&p->ch, fd);
		p->deadline = clock_monotonic_ns() + l->handshake_ns;
	}
}

/* Advance every pending handshake; the index of one that completed, or -1. */
static ssize_t advance(struct listener *l, const struct pollfd *pfd, size_t n_pfd)
{
	uint64_t now = clock_monotonic_ns();
	/* Walk backwards: drop() moves the last peer into the freed slot. */
	for (size_t i = MIN(n_pfd, l->n_pending); i-- > 0;) {
		struct pending_peer *p = &l->pending[i];
		char *err = NULL;
		int r = 0;
		if (pfd[i].revents)
			r = channel__handshake_server_step(&p->ch, &p->hs, l->key, &err);
		if (r == 1)
			return (ssize_t)i;
		if (r == 0 && now >= p->deadline)
			err = xstrdup(p->hs.step ? "timed out waiting for AUTH" : "timed out waiting for HELLO");
		if (r < 0 || err) {
			logf_(l, "rejected %s: %s", p->ch.peer, err ? err : "handshake failed");
			drop(l, i);
		}
		free(err);
	}
	return -1;
}

int listener__accept(struct listener *l, int timeout_ms, struct channel *ret)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)MAX(timeout_ms, 0) * 1000000ULL;
	struct pollfd *pfd = xcalloc(LISTENER_MAX_PENDING + 1, sizeof(*pfd));
	int r = 0;
	for (;;) {
		uint64_t now = clock_monotonic_ns(), wake = deadline;
		size_t n = l->n_pending;
		ssize_t done;
		int pr;
		for (size_t i = 0; i < n; i++) {
			pfd[i] = (struct pollfd){ .fd = l->pending[i].ch.fd, .events = POLLIN };
			wake = MIN(wake, l->pending[i].deadline);
		}
		pfd[n] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
		pr = poll(pfd, n + 1, wake > now ? (int)((wake - now + 999999) / 1000000ULL) : 0);
		if (pr < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pr < 0)
			memset(pfd, 0, (n + 1) * sizeof(*pfd));
		done = advance(l, pfd, n);
		if (done >= 0) {
			*ret = l->pending[done].ch;
			handshake_server__release(&l->pending[done].hs);
			l->pending[done] = l->pending[--l->n_pending];
			r = 1;
			break;
		}
		if (pfd[n].revents)
			accept_all(l);
		if (clock_monotonic_ns() >= deadline || pr < 0)
			break;
	}
	free(pfd);
	return r;
}

void listener__turn_away(struct listener *l)
{
	int fd;
	while (l->n_pending)
		drop(l, l->n_pending - 1);
	while ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

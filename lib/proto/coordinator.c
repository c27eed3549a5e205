/* The coordinator's side of the protocol; see coordinator.h and
 * docs/protocol.md for the message sequence. */
#define _GNU_SOURCE
#include "coordinator.h"

#include <errno.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "../domain/idle.h"
#include "../util/util.h"
#include "messages.h"

#define IO_TIMEOUT_MS 3000
#define CLOCK_ROUNDS 8
#define STALL_NS (15ULL * 1000000000ULL) /* no frame for this long: the agent is gone */

static void logf_(struct coordinator *c, bool is_error, const char *fmt, ...) PRINTF(3, 4);
static void logf_(struct coordinator *c, bool is_error, const char *fmt, ...)
{
	va_list ap;
	struct strbuf sb;
	if (!c->log)
		return;
	strbuf_init(&sb);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	c->log(c->log_ctx, is_error, sb.buf);
	strbuf_release(&sb);
}

void coordinator__init(struct coordinator *c, const unsigned char key[PROTO_KEY_BYTES], coordinator_log_fn log,
		       void *ctx)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->key, key, PROTO_KEY_BYTES);
	c->log = log;
	c->log_ctx = ctx;
}

static void link_release(struct agent_link *l, size_t n_events)
{
	free(l->name);
	free(l->addr);
	free(l->error);
	free(l->hostname);
	free(l->kernel);
	free(l->uuid);
	free(l->events);
	free(l->version);
	free(l->kallsyms);
	for (size_t i = 0; i < l->n_codes; i++) {
		free(l->codes[i].code);
		for (size_t j = 0; j < l->codes[i].n_lines; j++)
			free(l->codes[i].lines[j].file);
		free(l->codes[i].lines);
	}
	free(l->codes);
	if (l->used_events)
		for (size_t e = 0; e < n_events; e++)
			free(l->used_events[e]);
	free(l->used_events);
	if (l->state != AGENT_NEW)
		channel__release(&l->ch);
	delta_state__release(&l->delta);
}

void coordinator__release(struct coordinator *c)
{
	for (size_t i = 0; i < c->n; i++)
		link_release(&c->links[i], c->n_events);
	free(c->links);
	sodium_memzero(c->key, sizeof(c->key));
	memset(c, 0, sizeof(*c));
}

int coordinator__add(struct coordinator *c, const char *spec, bool optional, char **ret_error)
{
	const char *eq = strchr(spec, '=');
	struct agent_link *l;
	if (!eq || eq == spec || !eq[1]) {
		*ret_error = xasprintf("--agent expects NAME=ADDR (e.g. web=tcp:127.0.0.1:7070), got '%s'", spec);
		return -EINVAL;
	}
	{
		_cleanup_free_ char *name = xstrndup(spec, eq - spec);
		if (domain_name__is_reserved(name)) {
			*ret_error = xasprintf("--agent %s: '%s' is one of the host's own domains (host, idle); give the VM "
					       "another name", spec, name);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->links[i].name) == (size_t)(eq - spec) && !strncmp(c->links[i].name, spec, eq - spec)) {
			*ret_error = xasprintf("--agent: the name '%.*s' is given twice", (int)(eq - spec), spec);
			return -EINVAL;
		}
	c->links = xrealloc(c->links, (c->n + 1) * sizeof(*c->links));
	l = &c->links[c->n++];
	memset(l, 0, sizeof(*l));
	l->name = xstrndup(spec, eq - spec);
	l->addr = xstrdup(eq + 1);
	l->optional = optional;
	l->ch.fd = -1;
	return 0;
}

static void link_fail(struct coordinator *c, struct agent_link *l, const char *fmt, ...) PRINTF(3, 4);
static void link_fail(struct coordinator *c, struct agent_link *l, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap); /* first: the arguments may name l->error */
	va_end(ap);
	free(l->error);
	l->error = msg;
	l->state = AGENT_FAILED;
	logf_(c, !l->optional, "agent %s (%s): %s", l->name, l->addr, l->error);
}

/* Send a message or fail the link. */
static bool link_send(struct coordinator *c, struct agent_link *l, uint8_t type, const struct wbuf *w)
{
	int r = channel__send(&l->ch, type, w ? w->data : NULL, w ? w->len : 0, false, IO_TIMEOUT_MS);
	if (r < 0) {
		link_fail(c, l, "cannot send %s: %s", proto_msg__name(type), r == -ETIMEDOUT ? "the agent stopped reading" : strerror(-r));
		return false;
	}
	return true;
}

/* Wait for one message of a given type (ERROR is turned into a failure). */
static bool link_expect(struct coordinator *c, struct agent_link *l, uint8_t want, struct wbuf *out, int timeout_ms)
{
	uint8_t type;
	int r = channel__recv(&l->ch, timeout_ms, &type, out);
	if (r == 0) {
		link_fail(c, l, "no %s within %d ms", proto_msg__name(want), timeout_ms);
		return false;
	}
	if (r < 0) {
		link_fail(c, l, "%s while waiting for %s", r == -ECONNRESET ? "connection closed" : "malformed or forged data",
			  proto_msg__name(want));
		return false;
	}
	if (type == MSG_ERROR) {
		struct rbuf rb;
		_cleanup_free_ char *msg = NULL;
		rbuf_init(&rb, out->data, out->len);
		msg = rbuf_str(&rb, 4096);
		proto_sanitize_text(msg);
		link_fail(c, l, "the agent reports: %s", msg ? msg : "(unreadable error)");
		return false;
	}
	if (type != want) {
		link_fail(c, l, "expected %s, got %s", proto_msg__name(want), proto_msg__name(type));
		return false;
	}
	return true;
}

int coordinator__connect(struct coordinator *c, int timeout_ms, char **ret_error)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct wbuf w;
		char *err = NULL;
		int fd;
		if (proto_addr__connect(l->addr, timeout_ms, &fd, &err) < 0) {
			link_fail(c, l, "unreachable: %s", err);
			free(err);
			continue;
		}
		channel__init(&l->ch, fd);
		l->state = AGENT_CONNECTED;
		if (channel__handshake_client(&l->ch, c->key, timeout_ms, &err) < 0) {
			link_fail(c, l, "%s", err);
			free(err);
			continue;
		}
		wbuf_init(&w);
		if (link_expect(c, l, MSG_AUTH_OK, &w, timeout_ms)) {
			struct proto_agent_info info;
			if (proto_agent_info__decode(w.data, w.len, &info) < 0) {
				link_fail(c, l, "malformed AUTH_OK");
			} else {
				l->hostname = info.hostname;
				l->kernel = info.kernel;
				l->uuid = info.uuid;
				l->events = info.events;
				l->version = info.version;
				l->ncpus = info.ncpus;
				l->state = AGENT_READY;
				logf_(c, false, "agent %s (%s): connected to %s, kernel %s, %u CPUs, uuid %s", l->name, l->addr,
				      l->hostname, l->kernel, l->ncpus, *l->uuid ? l->uuid : "(none)");
			}
		}
		wbuf_release(&w);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_FAILED && !c->links[i].optional) {
			*ret_error = xasprintf("agent %s (%s): %s", c->links[i].name, c->links[i].addr, c->links[i].error);
			return -1;
		}
	return 0;
}

static bool sync_clock(struct coordinator *c, struct agent_link *l)
{
	uint64_t best_rtt = UINT64_MAX;
	struct wbuf w, in;
	bool ok = true;
	wbuf_init(&w);
	wbuf_init(&in);
	for (int round = 0; round < CLOCK_ROUNDS && ok; round++) {
		uint64_t t1 = clock_monotonic_ns(), t3, echoed, ta;
		struct rbuf rb;
		wbuf_reset(&w);
		wbuf_u64(&w, t1);
		if (!link_send(c, l, MSG_PING, &w) || !link_expect(c, l, MSG_PONG, &in, IO_TIMEOUT_MS)) {
			ok = false;
			break;
		}
		t3 = clock_monotonic_ns();
		rbuf_init(&rb, in.data, in.len);
		echoed = rbuf_u64(&rb);
		ta = rbuf_u64(&rb);
		if (!rbuf_ok(&rb) || echoed != t1) {
			link_fail(c, l, "malformed PONG");
			ok = false;
			break;
		}
		/* Keep the estimate of the round with the smallest delay: its
		 * midpoint is the least uncertain (NTP's rule). */
		if (t3 - t1 < best_rtt) {
			best_rtt = t3 - t1;
			l->offset_ns = (int64_t)(ta - (t1 + (t3 - t1) / 2));
		}
	}
	l->rtt_ns = best_rtt;
	wbuf_release(&w);
	wbuf_release(&in);
	return ok;
}

int coordinator__prepare(struct coordinator *c, const struct event_spec *events, size_t n_events,
			 const struct event_defaults *defaults, bool callchain, char **ret_error)
{
	c->n_events = n_events;
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct wbuf w, in;
		struct rbuf rb;
		if (l->state != AGENT_READY)
			continue;
		l->used_events = xcalloc(n_events, sizeof(char *));
		wbuf_init(&w);
		wbuf_init(&in);
		{
			const char **names = xcalloc(n_events, sizeof(char *));
			for (size_t e = 0; e < n_events; e++)
				names[e] = events[e].name;
			/* DATA every 500 ms */
			proto_setup__encode(&w, names, (uint32_t)n_events, defaults->period ? 0 : defaults->freq,
					    defaults->period, callchain, 500);
			free(names);
		}
		if (link_send(c, l, MSG_SETUP, &w) && link_expect(c, l, MSG_SETUP_OK, &in, 10000)) {
			uint32_t n;
			rbuf_init(&rb, in.data, in.len);
			n = rbuf_u32(&rb);
			for (uint32_t e = 0; e < n && e < n_events && rbuf_ok(&rb); e++) {
				l->used_events[e] = rbuf_str(&rb, 1024);
				proto_sanitize_text(l->used_events[e]);
			}
			if (!rbuf_ok(&rb) || n != n_events)
				link_fail(c, l, "malformed SETUP_OK");
			for (size_t e = 0; e < n_events && l->state != AGENT_FAILED; e++)
				if (!streq(l->used_events[e], events[e].name))
					logf_(c, false, "agent %s: %s is not available in the guest; it samples %s instead", l->name,
					      events[e].name, l->used_events[e]);
		}
		/* The guest's kernel symbols come next, unasked, when it has them. */
		if (l->state == AGENT_READY) {
			uint8_t type;
			int r = channel__recv(&l->ch, 10000, &type, &in);
			if (r == 1 && type == MSG_KALLSYMS) {
				l->kallsyms = xmalloc(in.len + 1);
				memcpy(l->kallsyms, in.data, in.len);
				l->kallsyms[in.len] = '\0';
				l->kallsyms_len = in.len;
			} else if (r == 1 && type == MSG_ARMED) {
				link_fail(c, l, "protocol violation: ARMED before ARM");
			} else if (!(r == 1 && type == MSG_ERROR)) {
				link_fail(c, l, "no KALLSYMS message");
			}
		}
		if (l->state == AGENT_READY)
			sync_clock(c, l);
		if (l->state == AGENT_READY && link_send(c, l, MSG_ARM, NULL) && link_expect(c, l, MSG_ARMED, &in, 10000))
			logf_(c, false, "agent %s: clock offset %+.3f ms (round trip %.3f ms), armed", l->name,
			      (double)l->offset_ns / 1e6, (double)l->rtt_ns / 1e6);
		wbuf_release(&w);
		wbuf_release(&in);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_FAILED && !c->links[i].optional) {
			*ret_error = xasprintf("agent %s (%s): %s", c->links[i].name, c->links[i].addr, c->links[i].error);
			return -1;
		}
	return 0;
}

void coordinator__start(struct coordinator *c, uint64_t host_t0)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct wbuf w;
		if (l->state != AGENT_READY)
			continue;
		wbuf_init(&w);
		wbuf_u64(&w, (uint64_t)((int64_t)host_t0 + l->offset_ns));
		if (link_send(c, l, MSG_START, &w)) {
			l->state = AGENT_RUNNING;
			l->last_frame_ns = clock_monotonic_ns();
		}
		wbuf_release(&w);
	}
}

void coordinator__attach(struct coordinator *c, struct profile *p, uint64_t host_start, uint64_t bucket_ns)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct profile_domain *d;
		_cleanup_free_ char *note = NULL;
		if (l->state != AGENT_RUNNING && l->state != AGENT_READY)
			continue;
		l->domain = profile__domain(p, l->name, true);
		d = profile__domain_at(p, l->domain);
		profile__domain_set(p, l->domain, "source", "host+agent");
		if (l->uuid && *l->uuid)
			profile__domain_set(p, l->domain, "uuid", l->uuid);
		note = xasprintf("agent %s: %s, kernel %s, %u CPUs", l->addr, l->hostname, l->kernel, l->ncpus);
		profile__domain_set(p, l->domain, "note", note);
		d->clock_offset_ns = l->offset_ns;
		d->dirty = true;
		delta_state__init(&l->delta, l->domain, (uint32_t)c->n_events);
	}
	c->host_start = host_start;
	c->bucket_ns = bucket_ns;
}

static void apply_started(struct coordinator *c, struct agent_link *l, struct profile *p, const struct wbuf *in,
			  uint64_t host_start, uint64_t bucket_ns)
{
	struct rbuf rb;
	rbuf_init(&rb, in->data, in->len);
	l->agent_start_ns = rbuf_u64(&rb);
	if (!rbuf_ok(&rb)) {
		link_fail(c, l, "malformed STARTED");
		return;
	}
	l->start_skew_ns = (int64_t)(l->agent_start_ns - (uint64_t)l->offset_ns) - (int64_t)host_start;
	if (bucket_ns)
		l->delta.bucket_shift = (int32_t)((l->start_skew_ns + (int64_t)bucket_ns / 2) / (int64_t)bucket_ns);
	if (l->domain) {
		profile__domain_at(p, l->domain)->start_skew_ns = l->start_skew_ns;
		profile__domain_at(p, l->domain)->dirty = true;
	}
	logf_(c, false, "agent %s: started, skew %+.3f ms against the host", l->name, (double)l->start_skew_ns / 1e6);
}

static void mark_incomplete(struct agent_link *l, struct profile *p, const char *why)
{
	struct profile_domain *d;
	_cleanup_free_ char *note = NULL;
	if (!l->domain)
		return;
	d = profile__domain_at(p, l->domain);
	d->complete = false;
	d->dirty = true;
	note = xasprintf("incomplete: %s", why);
	profile__domain_set(p, l->domain, "note", note);
}

/* CODE: machine code and source lines of the guest's hottest functions,
 * keyed by the agent's symbol ids (translated, so they must be known). */
static int decode_code(struct agent_link *l, const struct wbuf *in)
{
	struct rbuf rb;
	uint32_t n;
	rbuf_init(&rb, in->data, in->len);
	n = rbuf_u32(&rb);
	if (!rbuf_ok(&rb) || n > 4096)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		struct symbol_code sc = { 0 };
		uint32_t sym = rbuf_u32(&rb), n_lines;
		const unsigned char *code;
		sc.address = rbuf_u64(&rb);
		code = rbuf_blob(&rb, 256u << 10, &sc.len);
		n_lines = rbuf_u32(&rb);
		if (!rbuf_ok(&rb) || !sym || sym > l->delta.n_symbols || n_lines > 65536)
			return -EBADMSG;
		if (!delta_state__spend(&l->delta, sc.len + 64 * (size_t)n_lines))
			return -EBADMSG;
		sc.symbol = l->delta.symbols[sym - 1];
		sc.code = xmalloc(sc.len ? sc.len : 1);
		memcpy(sc.code, code, sc.len);
		sc.lines = xcalloc(n_lines ? n_lines : 1, sizeof(*sc.lines));
		for (uint32_t j = 0; j < n_lines && rbuf_ok(&rb); j++) {
			sc.lines[j].address = rbuf_u64(&rb);
			sc.lines[j].file = rbuf_str(&rb, 4096);
			proto_sanitize_text(sc.lines[j].file);
			sc.lines[j].line = (int)rbuf_u32(&rb);
			sc.n_lines++; /* owned by the link from here, valid or not */
		}
		l->codes = xrealloc(l->codes, (l->n_codes + 1) * sizeof(*l->codes));
		l->codes[l->n_codes++] = sc;
		if (!rbuf_ok(&rb))
			return -EBADMSG;
	}
	return rbuf_left(&rb) == 0 ? 0 : -EBADMSG;
}

/* Handle one frame from a running agent. Returns false when the link failed. */
static bool handle_frame(struct coordinator *c, struct agent_link *l, struct profile *p, uint8_t type,
			 const struct wbuf *in)
{
	switch (type) {
	case MSG_STARTED:
		apply_started(c, l, p, in, c->host_start, c->bucket_ns);
		return l->state != AGENT_FAILED;
	case MSG_DATA:
		if (delta__apply(&l->delta, p, in->data, in->len) < 0) {
			link_fail(c, l, "invalid DATA frame (%zu bytes): dropping this agent", in->len);
			return false;
		}
		l->data_frames++;
		return true;
	case MSG_CODE:
		if (decode_code(l, in) < 0) {
			link_fail(c, l, "invalid CODE frame");
			return false;
		}
		return true;
	case MSG_FINAL: {
		struct rbuf rb;
		rbuf_init(&rb, in->data, in->len);
		l->final_samples = rbuf_u64(&rb);
		l->final_lost = rbuf_u64(&rb);
		if (!rbuf_ok(&rb)) {
			link_fail(c, l, "malformed FINAL");
			return false;
		}
		return true;
	}
	case MSG_BYE:
		l->state = AGENT_DONE;
		return true;
	case MSG_ERROR: {
		struct rbuf rb;
		_cleanup_free_ char *msg = NULL;
		rbuf_init(&rb, in->data, in->len);
		msg = rbuf_str(&rb, 4096);
		proto_sanitize_text(msg);
		link_fail(c, l, "the agent reports: %s", msg ? msg : "(unreadable)");
		return false;
	}
	default:
		link_fail(c, l, "unexpected %s during the recording", proto_msg__name(type));
		return false;
	}
}

static void poll_link(struct coordinator *c, struct agent_link *l, struct profile *p, int timeout_ms)
{
	struct wbuf in;
	size_t taken = 0;
	wbuf_init(&in);
	/* Bounded work per call (frames and inflated bytes): the host's own
	 * rings must be drained in between, whatever an agent sends. */
	for (int budget = 16; budget > 0 && taken < (32u << 20) && l->state == AGENT_RUNNING; budget--) {
		uint8_t type;
		int r = channel__recv(&l->ch, timeout_ms, &type, &in);
		if (r == 0)
			break;
		if (r < 0) {
			link_fail(c, l, "%s", r == -ECONNRESET ? "connection lost (VM stopped or network cut)"
							       : "malformed or forged frame");
			break;
		}
		l->last_frame_ns = clock_monotonic_ns();
		taken += in.len;
		if (!handle_frame(c, l, p, type, &in))
			break;
		timeout_ms = 0;
	}
	if (l->state == AGENT_RUNNING && clock_monotonic_ns() - l->last_frame_ns > STALL_NS)
		link_fail(c, l, "no data for %llu s", (unsigned long long)(STALL_NS / 1000000000ULL));
	if (l->state == AGENT_FAILED)
		mark_incomplete(l, p, l->error);
	wbuf_release(&in);
}

void coordinator__poll(struct coordinator *c, struct profile *p)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_RUNNING)
			poll_link(c, &c->links[i], p, 0);
}

void coordinator__stop(struct coordinator *c, struct profile *p, int timeout_ms)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000ULL;
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		if (l->state == AGENT_RUNNING)
			link_send(c, l, MSG_STOP, NULL);
		if (l->state == AGENT_FAILED)
			mark_incomplete(l, p, l->error);
	}
	for (;;) {
		bool running = false;
		uint64_t now = clock_monotonic_ns();
		for (size_t i = 0; i < c->n; i++) {
			struct agent_link *l = &c->links[i];
			if (l->state != AGENT_RUNNING)
				continue;
			/* the stall watchdog does not apply while draining */
			l->last_frame_ns = now;
			poll_link(c, l, p, 50);
			running |= l->state == AGENT_RUNNING;
		}
		if (!running)
			break;
		if (clock_monotonic_ns() >= deadline) {
			for (size_t i = 0; i < c->n; i++)
				if (c->links[i].state == AGENT_RUNNING) {
					link_fail(c, &c->links[i], "did not finish within %d ms after STOP", timeout_ms);
					mark_incomplete(&c->links[i], p, c->links[i].error);
				}
			break;
		}
	}
}

int coordinator__inject(struct coordinator *c, size_t link, struct profile *p, uint8_t type, const void *data, size_t len)
{
	struct agent_link *l = &c->links[link];
	struct wbuf in;
	bool ok;
	if (l->state != AGENT_RUNNING)
		return -EINVAL;
	wbuf_init(&in);
	wbuf_put(&in, data, len);
	ok = handle_frame(c, l, p, type, &in);
	wbuf_release(&in);
	return ok ? 0 : -EBADMSG;
}

void coordinator__fake_running(struct coordinator *c, size_t link, struct profile *p, size_t n_events)
{
	struct agent_link *l = &c->links[link];
	c->n_events = n_events;
	l->state = AGENT_RUNNING;
	l->domain = profile__domain(p, l->name, true);
	delta_state__init(&l->delta, l->domain, (uint32_t)n_events);
}

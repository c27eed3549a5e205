/* The coordinator's side of the protocol; see coordinator.h and
 * docs/protocol.md for the message sequence, docs/security.md for the
 * rules every check here enforces. */
#define _GNU_SOURCE
#include "coordinator.h"

#include <errno.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "../util/util.h"
#include "../vocab/vocab.h"
#include "messages.h"

#define IO_TIMEOUT_MS 3000
/* How long an agent may take over a step of its preparation: answering
 * SETUP (it opens its events there), sending its KALLSYMS, answering ARM. */
#define SETUP_STEP_TIMEOUT_MS 10000
/* How often an agent sends DATA while recording: the host's view of it is
 * at most this old, and a frame holds this much of its profile. */
#define DATA_INTERVAL_MS 500
#define CLOCK_ROUNDS 8
#define STALL_NS (15ULL * 1000000000ULL) /* no frame for this long: the agent is gone */
/* An agent's start instant, on the host's clock, lies between START going
 * out and STARTED coming in, give or take the clock offset's uncertainty
 * (the round trip) and this. */
#define START_SLACK_NS (100ULL * 1000000ULL)
/* Bounded work per poll (frames and bytes): the host's own rings must be
 * drained in between, whatever an agent sends. */
#define POLL_FRAMES 16
#define POLL_BYTES (32u << 20)

void coordinator__log(struct coordinator *c, bool is_error, const char *fmt, ...)
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
	c->budget = PROTO_DEFAULT_AGENT_BUDGET;
	c->log = log;
	c->log_ctx = ctx;
}

void coordinator__set_budget(struct coordinator *c, uint64_t bytes) { c->budget = bytes; }

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
	symbol_codes__free(l->codes, l->n_codes);
	proto_setup_ok__release(l->used_events, (uint32_t)n_events);
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
	/* Stop reading from it at once: what it still sends costs nothing. */
	if (l->ch.fd >= 0)
		channel__release(&l->ch);
	coordinator__log(c, !l->optional, "agent %s (%s): %s", l->name, l->addr, l->error);
}

/* Charge what keeping something costs, or fail the link saying what. */
static bool link_charge(struct coordinator *c, struct agent_link *l, uint64_t bytes, const char *what)
{
	if (proto_budget__charge(&l->budget, bytes))
		return true;
	link_fail(c, l, "%s (%llu bytes) would pass its memory budget (%llu of %llu MiB held)", what,
		  (unsigned long long)bytes, (unsigned long long)(l->budget.used >> 20),
		  (unsigned long long)(l->budget.limit >> 20));
	return false;
}

/* Send a message or fail the link. */
static bool link_send(struct coordinator *c, struct agent_link *l, uint8_t type, const struct wbuf *w)
{
	int r = channel__send(&l->ch, type, w ? w->data : NULL, w ? w->len : 0, false, IO_TIMEOUT_MS);
	if (r < 0) {
		link_fail(c, l, "cannot send %s: %s", proto_msg__name(type),
			  r == -ETIMEDOUT ? "the agent stopped reading" : strerror(-r));
		return false;
	}
	return true;
}

static const char *recv_error_text(int r)
{
	return r == -ECONNRESET ? "connection closed"
	       : r == -ENOBUFS	? "a frame larger than its memory budget has left"
				: "malformed or forged data";
}

static void fail_with_agent_error(struct coordinator *c, struct agent_link *l, const struct wbuf *in)
{
	_cleanup_free_ char *msg = NULL;
	if (proto_error__decode(in->data, in->len, &msg) < 0)
		msg = xstrdup("(unreadable error)");
	link_fail(c, l, "the agent reports: %s", msg);
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
		link_fail(c, l, "%s while waiting for %s", recv_error_text(r), proto_msg__name(want));
		return false;
	}
	if (type == MSG_ERROR) {
		fail_with_agent_error(c, l, out);
		return false;
	}
	if (type != want) {
		link_fail(c, l, "expected %s, got %s", proto_msg__name(want), proto_msg__name(type));
		return false;
	}
	return true;
}

static void take_agent_info(struct coordinator *c, struct agent_link *l, const struct wbuf *in)
{
	struct proto_agent_info info;
	/* The strings kept are at most the message's bytes. */
	if (!link_charge(c, l, in->len + 5 * PROTO_ALLOC_OVERHEAD, "its AUTH_OK"))
		return;
	if (proto_agent_info__decode(in->data, in->len, &info) < 0) {
		link_fail(c, l, "malformed AUTH_OK");
		return;
	}
	l->hostname = info.hostname;
	l->kernel = info.kernel;
	l->uuid = info.uuid;
	l->events = info.events;
	l->version = info.version;
	l->ncpus = info.ncpus;
	l->state = AGENT_READY;
	coordinator__log(c, false, "agent %s (%s): connected to %s, kernel %s, %u CPUs, uuid %s", l->name, l->addr, l->hostname,
	      l->kernel, l->ncpus, *l->uuid ? l->uuid : "(none)");
}

int coordinator__connect(struct coordinator *c, int timeout_ms, char **ret_error)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct wbuf w;
		char *err = NULL;
		int fd;
		proto_budget__init(&l->budget, c->budget);
		if (proto_addr__connect(l->addr, timeout_ms, &fd, &err) < 0) {
			link_fail(c, l, "unreachable: %s", err);
			free(err);
			continue;
		}
		channel__init(&l->ch, fd);
		l->ch.budget = &l->budget;
		if (c->keep_all)
			l->ch.offer = PROTO_CAPS_ALL & ~PROTO_CAPS_LETTING_GO;
		l->state = AGENT_CONNECTED;
		if (channel__handshake_client(&l->ch, c->key, timeout_ms, &err) < 0) {
			link_fail(c, l, "%s", err);
			free(err);
			continue;
		}
		wbuf_init(&w);
		if (link_expect(c, l, MSG_AUTH_OK, &w, timeout_ms))
			take_agent_info(c, l, &w);
		if (l->state != AGENT_FAILED)
			channel__drop_payload(&l->ch, &w);
		wbuf_release(&w);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_FAILED && !c->links[i].optional) {
			*ret_error = xasprintf("agent %s (%s): %s", c->links[i].name, c->links[i].addr, c->links[i].error);
			return -ECONNREFUSED;
		}
	return 0;
}

/* The clock offset from PING rounds. Every reading is checked: agent
 * clocks are CLOCK_MONOTONIC values (below 2^63), so the offset and the
 * instants computed from it cannot overflow. */
static bool sync_clock(struct coordinator *c, struct agent_link *l)
{
	uint64_t best_rtt = UINT64_MAX;
	struct wbuf w, in;
	bool ok = true;
	wbuf_init(&w);
	wbuf_init(&in);
	for (int round = 0; round < CLOCK_ROUNDS && ok; round++) {
		uint64_t t1 = clock_monotonic_ns(), t3, echoed, ta;
		wbuf_reset(&w);
		proto_u64__encode(&w, t1);
		if (!link_send(c, l, MSG_PING, &w) || !link_expect(c, l, MSG_PONG, &in, IO_TIMEOUT_MS)) {
			ok = false;
			break;
		}
		t3 = clock_monotonic_ns();
		if (proto_pong__decode(in.data, in.len, &echoed, &ta) < 0 || echoed != t1 || ta > INT64_MAX) {
			link_fail(c, l, "malformed PONG (or an agent clock reading out of range)");
			ok = false;
			break;
		}
		/* Keep the estimate of the round with the smallest delay: its
		 * midpoint is the least uncertain (NTP's rule). */
		if (t3 - t1 < best_rtt) {
			best_rtt = t3 - t1;
			l->offset_ns = (int64_t)ta - (int64_t)(t1 + (t3 - t1) / 2);
		}
	}
	l->rtt_ns = best_rtt;
	if (l->state != AGENT_FAILED)
		channel__drop_payload(&l->ch, &in);
	wbuf_release(&w);
	wbuf_release(&in);
	return ok;
}

/* KALLSYMS: kept as text (here and in the host's guest kernel image) and
 * parsed into a symbol table: all charged before any of it is made. */
static void take_kallsyms(struct coordinator *c, struct agent_link *l, const struct wbuf *in)
{
	uint64_t lines = 0;
	for (const char *p = (const char *)in->data, *end = p + in->len; p < end; p++) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
		lines++;
	}
	/* two copies of the text, the names interned again, a symbol per line */
	if (!link_charge(c, l, 3 * ((uint64_t)in->len + PROTO_ALLOC_OVERHEAD) + (lines + 1) * 2 * sizeof(struct symbol),
			 "its kallsyms"))
		return;
	l->kallsyms = proto_kallsyms__decode(in->data, in->len, &l->kallsyms_len);
}

static void setup_link(struct coordinator *c, struct agent_link *l, const struct event_spec *events, size_t n_events,
		       const struct event_defaults *defaults, bool callchain, uint32_t user_stack_size)
{
	struct wbuf w, in;
	const char **names = xcalloc(n_events ? n_events : 1, sizeof(char *));
	uint8_t type;
	int r;
	wbuf_init(&w);
	wbuf_init(&in);
	for (size_t e = 0; e < n_events; e++)
		names[e] = events[e].name;
	proto_setup__encode(&w, names, (uint32_t)n_events, defaults->period ? 0 : defaults->freq, defaults->period,
			    callchain, user_stack_size, DATA_INTERVAL_MS);
	free(names);
	if (link_send(c, l, MSG_SETUP, &w) && link_expect(c, l, MSG_SETUP_OK, &in, SETUP_STEP_TIMEOUT_MS) &&
	    link_charge(c, l, in.len + n_events * PROTO_ALLOC_OVERHEAD, "its SETUP_OK")) {
		if (proto_setup_ok__decode(in.data, in.len, (uint32_t)n_events, &l->used_events) < 0)
			link_fail(c, l, "malformed SETUP_OK");
		for (size_t e = 0; e < n_events && l->state != AGENT_FAILED; e++)
			if (!streq(l->used_events[e], events[e].name))
				coordinator__log(c, false, "agent %s: %s is not available in the guest; it samples %s instead", l->name,
				      events[e].name, l->used_events[e]);
	}
	/* The guest's kernel symbols come next, unasked, once. */
	if (l->state == AGENT_READY) {
		r = channel__recv(&l->ch, SETUP_STEP_TIMEOUT_MS, &type, &in);
		if (r == 1 && type == MSG_KALLSYMS)
			take_kallsyms(c, l, &in);
		else if (r == 1 && type == MSG_ERROR)
			fail_with_agent_error(c, l, &in);
		else if (r < 0)
			link_fail(c, l, "%s while waiting for KALLSYMS", recv_error_text(r));
		else
			link_fail(c, l, "no KALLSYMS message (got %s)", r == 1 ? proto_msg__name(type) : "nothing");
	}
	if (l->state == AGENT_READY)
		sync_clock(c, l);
	if (l->state == AGENT_READY && link_send(c, l, MSG_ARM, NULL) && link_expect(c, l, MSG_ARMED, &in, SETUP_STEP_TIMEOUT_MS)) {
		if (proto_empty__decode(in.data, in.len) < 0)
			link_fail(c, l, "malformed ARMED");
		else
			coordinator__log(c, false, "agent %s: clock offset %+.3f ms (round trip %.3f ms), armed", l->name,
			      (double)l->offset_ns / 1e6, (double)l->rtt_ns / 1e6);
	}
	if (l->state != AGENT_FAILED)
		channel__drop_payload(&l->ch, &in);
	wbuf_release(&w);
	wbuf_release(&in);
}

int coordinator__prepare(struct coordinator *c, const struct event_spec *events, size_t n_events,
			 const struct event_defaults *defaults, bool callchain, uint32_t user_stack_size, char **ret_error)
{
	c->n_events = n_events;
	c->events = events;
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_READY)
			setup_link(c, &c->links[i], events, n_events, defaults, callchain, user_stack_size);
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_FAILED && !c->links[i].optional) {
			*ret_error = xasprintf("agent %s (%s): %s", c->links[i].name, c->links[i].addr, c->links[i].error);
			return -EPROTO;
		}
	return 0;
}

/* ---- recording ---- */

void coordinator__start(struct coordinator *c, uint64_t host_t0)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		struct wbuf w;
		int64_t agent_t0;
		if (l->state != AGENT_READY)
			continue;
		if (host_t0 > INT64_MAX || __builtin_add_overflow((int64_t)host_t0, l->offset_ns, &agent_t0) ||
		    agent_t0 < 0) {
			link_fail(c, l, "its clock offset (%lld ns) puts the start instant out of range", (long long)l->offset_ns);
			continue;
		}
		wbuf_init(&w);
		proto_u64__encode(&w, (uint64_t)agent_t0);
		l->start_sent_ns = clock_monotonic_ns();
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
		/* A claimed identity is recorded only once the host proved it. */
		if (l->uuid_matched)
			profile__domain_set(p, l->domain, "uuid", l->uuid);
		note = xasprintf("agent %s: %s, kernel %s, %u CPUs", l->addr, l->hostname, l->kernel, l->ncpus);
		profile__domain_set(p, l->domain, "note", note);
		d->clock_offset_ns = l->offset_ns;
		d->dirty = true;
		delta_state__init(&l->delta, l->domain, (uint32_t)c->n_events);
		delta_state__set_caps(&l->delta, l->ch.caps);
		delta_state__set_limits(&l->delta, &l->budget, l->ncpus, l->start_sent_ns, host_start, bucket_ns,
					c->events);
	}
	c->host_start = host_start;
	c->bucket_ns = bucket_ns;
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

/* STARTED: the agent's enable instant. On the host's clock it lies between
 * START going out and STARTED coming in (within the offset's uncertainty);
 * anything else is a lie about time and refused. */
static void apply_started(struct coordinator *c, struct agent_link *l, struct profile *p, const struct wbuf *in,
			  uint64_t now_ns)
{
	uint64_t agent_start;
	int64_t enable, skew, slack = (int64_t)MIN(l->rtt_ns, (uint64_t)INT64_MAX / 4) + (int64_t)START_SLACK_NS;
	if (l->started) {
		link_fail(c, l, "protocol violation: a second STARTED");
		return;
	}
	if (proto_u64__decode(in->data, in->len, &agent_start) < 0 || agent_start > INT64_MAX ||
	    __builtin_sub_overflow((int64_t)agent_start, l->offset_ns, &enable)) {
		link_fail(c, l, "malformed STARTED");
		return;
	}
	if (enable < (int64_t)l->start_sent_ns - slack || enable > (int64_t)MIN(now_ns, (uint64_t)INT64_MAX / 2) + slack) {
		link_fail(c, l, "STARTED claims an enable instant %+.3f s from the START it answers, outside the recording",
			  ((double)enable - (double)l->start_sent_ns) / 1e9);
		return;
	}
	l->started = true;
	l->agent_start_ns = agent_start;
	skew = enable - (int64_t)c->host_start;
	l->start_skew_ns = skew;
	if (c->bucket_ns)
		l->delta.bucket_shift = (int32_t)((skew + (skew < 0 ? -1 : 1) * (int64_t)c->bucket_ns / 2) /
						  (int64_t)c->bucket_ns);
	if (l->domain) {
		profile__domain_at(p, l->domain)->start_skew_ns = skew;
		profile__domain_at(p, l->domain)->dirty = true;
	}
	coordinator__log(c, false, "agent %s: started, skew %+.3f ms against the host", l->name, (double)skew / 1e6);
}

/* CODE: machine code and source lines of the guest's hottest functions,
 * keyed by the agent's symbol ids (translated, so they must be known). */
static void take_code(struct coordinator *c, struct agent_link *l, const struct wbuf *in)
{
	struct symbol_code *codes;
	size_t n;
	uint64_t cost;
	int r = proto_code__decode(in->data, in->len, (uint32_t)MIN(l->delta.n_symbols, (size_t)UINT32_MAX), &l->budget,
				   &codes, &n, &cost);
	if (r == -ENOBUFS) {
		link_fail(c, l, "its CODE would pass its memory budget (%llu of %llu MiB held)",
			  (unsigned long long)(l->budget.used >> 20), (unsigned long long)(l->budget.limit >> 20));
		return;
	}
	if (r < 0) {
		link_fail(c, l, "invalid CODE frame");
		return;
	}
	for (size_t i = 0; i < n; i++)
		codes[i].symbol = l->delta.symbols[codes[i].symbol - 1];
	l->codes = xrealloc(l->codes, (l->n_codes + n + 1) * sizeof(*l->codes));
	memcpy(l->codes + l->n_codes, codes, n * sizeof(*codes));
	l->n_codes += n;
	free(codes);
	l->code_received = true;
}

/* Handle one frame from a running agent, each in its place: STARTED once
 * and first, DATA until FINAL, then (after STOP) CODE once, FINAL once,
 * BYE. Returns false when the link failed. */
static bool handle_frame(struct coordinator *c, struct agent_link *l, struct profile *p, uint8_t type,
			 const struct wbuf *in, uint64_t now_ns)
{
	bool stopping = c->stop_ns != 0;
	if (type != MSG_STARTED && type != MSG_ERROR && !l->started) {
		link_fail(c, l, "protocol violation: %s before STARTED", proto_msg__name(type));
		return false;
	}
	switch (type) {
	case MSG_STARTED:
		apply_started(c, l, p, in, now_ns);
		break;
	case MSG_DATA: {
		_cleanup_free_ char *why = NULL;
		int r;
		if (l->final_received) {
			link_fail(c, l, "protocol violation: DATA after FINAL");
			break;
		}
		r = delta__apply(&l->delta, p, in->data, in->len, now_ns, &why);
		if (r < 0) {
			link_fail(c, l, "refused a DATA frame of %zu bytes: %s", in->len, why ? why : "invalid");
			break;
		}
		l->data_frames++;
		break;
	}
	case MSG_CODE:
		if (!stopping || l->code_received || l->final_received)
			link_fail(c, l, "protocol violation: CODE %s", stopping ? "twice or after FINAL" : "before STOP");
		else
			take_code(c, l, in);
		break;
	case MSG_FINAL:
		if (!stopping || l->final_received)
			link_fail(c, l, "protocol violation: FINAL %s", stopping ? "twice" : "before STOP");
		else if (proto_final__decode(in->data, in->len, &l->final_samples, &l->final_lost) < 0)
			link_fail(c, l, "malformed FINAL");
		else
			l->final_received = true;
		break;
	case MSG_BYE:
		if (!stopping || proto_empty__decode(in->data, in->len) < 0)
			link_fail(c, l, "protocol violation: BYE %s", stopping ? "with a payload" : "before STOP");
		else
			l->state = AGENT_DONE;
		break;
	case MSG_ERROR:
		fail_with_agent_error(c, l, in);
		break;
	default:
		link_fail(c, l, "unexpected %s during the recording", proto_msg__name(type));
		break;
	}
	return l->state != AGENT_FAILED;
}

static void poll_link(struct coordinator *c, struct agent_link *l, struct profile *p, int timeout_ms)
{
	struct wbuf in;
	size_t taken = 0;
	wbuf_init(&in);
	for (int frames = POLL_FRAMES; frames > 0 && taken < POLL_BYTES && l->state == AGENT_RUNNING; frames--) {
		uint8_t type;
		int r = channel__recv(&l->ch, timeout_ms, &type, &in);
		if (r == 0)
			break;
		if (r < 0) {
			link_fail(c, l, "%s", r == -ECONNRESET ? "connection lost (VM stopped or network cut)"
				  : r == -ENOBUFS     ? "sent a frame larger than its memory budget has left"
						      : "malformed or forged frame");
			break;
		}
		l->last_frame_ns = clock_monotonic_ns();
		taken += in.len;
		if (!handle_frame(c, l, p, type, &in, l->last_frame_ns))
			break;
		channel__drop_payload(&l->ch, &in);
		timeout_ms = 0;
	}
	if (l->state == AGENT_RUNNING && clock_monotonic_ns() - l->last_frame_ns > STALL_NS)
		link_fail(c, l, "no data for %llu s", (unsigned long long)(STALL_NS / 1000000000ULL));
	if (l->state == AGENT_FAILED)
		mark_incomplete(l, p, l->error);
	else
		channel__drop_payload(&l->ch, &in);
	wbuf_release(&in);
}

void coordinator__poll(struct coordinator *c, struct profile *p)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].state == AGENT_RUNNING)
			poll_link(c, &c->links[i], p, 0);
}

void coordinator__keep_all(struct coordinator *c) { c->keep_all = true; }

void coordinator__forget(struct coordinator *c, struct profile *p)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].delta.n_events)
			delta__drop_retired(&c->links[i].delta, p);
}

void coordinator__rotate_save(struct coordinator *c, const struct profile *p, struct profile_catalog_map *keep)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->links[i].delta.n_events && c->links[i].state != AGENT_FAILED)
			delta__rotate_save(&c->links[i].delta, p, keep);
}

void coordinator__rotate_apply(struct coordinator *c, struct profile *p, const struct profile_catalog_map *keep,
			       uint64_t start_ns)
{
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		if (l->delta.n_events && l->state == AGENT_FAILED) {
			/* A failed agent sends nothing more: its rows stay in
			 * the sessions it was part of, not carried into every
			 * next one (its domain stays, marked incomplete). */
			uint32_t domain = l->delta.domain;
			delta_state__release(&l->delta);
			delta_state__init(&l->delta, domain, 0);
			symbol_codes__free(l->codes, l->n_codes);
			l->codes = NULL;
			l->n_codes = 0;
		} else if (l->delta.n_events)
			delta__rotate_apply(&l->delta, p, keep, start_ns);
		/* Its code names symbols of the agent's, kept. */
		for (size_t j = 0; j < l->n_codes; j++)
			l->codes[j].symbol = profile_id_map__get(&keep->symbols, l->codes[j].symbol);
		l->session_frames0 = l->data_frames;
		l->session_samples0 = l->delta.samples_received;
		l->session_forgotten0 = l->delta.forgotten;
		l->session_compacted0 = l->delta.compacted;
	}
}

void coordinator__rotate_cancel(struct coordinator *c)
{
	for (size_t i = 0; i < c->n; i++)
		delta__rotate_cancel(&c->links[i].delta);
}

void coordinator__stop(struct coordinator *c, struct profile *p, int timeout_ms, uint64_t end_ns)
{
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000ULL;
	c->stop_ns = clock_monotonic_ns();
	for (size_t i = 0; i < c->n; i++) {
		struct agent_link *l = &c->links[i];
		l->delta.stop_ns = end_ns && end_ns < c->stop_ns ? end_ns : c->stop_ns;
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

int coordinator__inject(struct coordinator *c, size_t link, struct profile *p, uint8_t type, const void *data, size_t len,
			uint64_t now_ns)
{
	struct agent_link *l = &c->links[link];
	struct wbuf in;
	bool ok;
	if (l->state != AGENT_RUNNING)
		return -EINVAL;
	wbuf_init(&in);
	wbuf_put(&in, data, len);
	ok = handle_frame(c, l, p, type, &in, now_ns);
	if (!ok)
		mark_incomplete(l, p, l->error);
	wbuf_release(&in);
	return ok ? 0 : -EBADMSG;
}

void coordinator__fake_running(struct coordinator *c, size_t link, struct profile *p, size_t n_events, uint32_t ncpus,
			       uint64_t start_ns)
{
	struct agent_link *l = &c->links[link];
	c->n_events = n_events;
	c->host_start = start_ns;
	c->bucket_ns = 100 * 1000 * 1000ULL;
	proto_budget__init(&l->budget, c->budget);
	l->state = AGENT_RUNNING;
	l->started = true;
	l->ncpus = ncpus;
	l->start_sent_ns = start_ns;
	l->domain = profile__domain(p, l->name, true);
	delta_state__init(&l->delta, l->domain, (uint32_t)n_events);
	delta_state__set_caps(&l->delta, l->ch.caps);
	delta_state__set_limits(&l->delta, &l->budget, ncpus, start_ns, start_ns, c->bucket_ns, c->events);
}

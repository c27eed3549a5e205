/* The agent's side of the protocol; see agent.h and docs/protocol.md for
 * the message sequence. Every message is encoded and decoded by
 * messages.c (DATA by delta.c); this file only decides what to send when. */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../collect/hot-code.h"
#include "../util/util.h"
#include "delta.h"
#include "messages.h"

static void logf_(struct agent_connection *a, const char *fmt, ...) PRINTF(2, 3);
static void logf_(struct agent_connection *a, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	if (!a->cfg->log)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	a->cfg->log(a->cfg->log_ctx, msg);
	free(msg);
}

static bool stopped(const struct agent_connection *a) { return a->cfg->stop && *a->cfg->stop; }

static int send_msg(struct agent_connection *a, uint8_t type, const struct wbuf *w, bool compress)
{
	return channel__send(&a->ch, type, w ? w->data : NULL, w ? w->len : 0, compress, AGENT_SEND_TIMEOUT_MS);
}

/* Tell the coordinator (and the log) why the connection ends. */
static int send_error(struct agent_connection *a, const char *fmt, ...) PRINTF(2, 3);
static int send_error(struct agent_connection *a, const char *fmt, ...)
{
	va_list ap;
	struct strbuf sb;
	struct wbuf w;
	strbuf_init(&sb);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	logf_(a, "error: %s", sb.buf);
	wbuf_init(&w);
	proto_error__encode(&w, sb.buf);
	channel__send(&a->ch, MSG_ERROR, w.data, w.len, false, 1000);
	wbuf_release(&w);
	strbuf_release(&sb);
	return -EPROTO;
}

static const char *recv_error_text(int r) { return r == -ECONNRESET ? "connection closed" : "malformed frame"; }

/* ---- AUTH_OK: who the agent is ---- */

static char *read_trimmed(const char *path)
{
	char *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return xstrdup("");
	text[strcspn(text, "\n")] = '\0';
	return text;
}

/* The generic events this guest can open, comma-separated. */
static void usable_events(struct strbuf *out)
{
	size_t n;
	const struct event_name *gen = events__generic(&n);
	for (size_t i = 0; i < n; i++) {
		struct event_spec e;
		if (event_spec__parse(gen[i].name, NULL, &e, NULL) < 0)
			continue;
		if (event_spec__probe(&e, true) == 0)
			strbuf_addf(out, "%s%s", out->len ? "," : "", e.name);
		event_spec__release(&e);
	}
}

static int send_info(struct agent_connection *a)
{
	char host[256] = "";
	struct utsname u;
	_cleanup_free_ char *uuid = read_trimmed("/sys/class/dmi/id/product_uuid");
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct strbuf events;
	struct proto_agent_info info;
	struct wbuf w;
	int r;

	gethostname(host, sizeof(host) - 1);
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	for (char *p = uuid; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	strbuf_init(&events);
	usable_events(&events);
	info = (struct proto_agent_info){
		.hostname = host,
		.kernel = u.release,
		.uuid = uuid,
		.ncpus = (uint32_t)(ncpus > 0 ? MIN(ncpus, PROTO_MAX_GUEST_CPUS) : 1),
		.clock_ns = clock_monotonic_ns(),
		.events = events.buf,
		.version = DOMPROF_VERSION_STRING,
	};
	wbuf_init(&w);
	proto_agent_info__encode(&w, &info);
	r = send_msg(a, MSG_AUTH_OK, &w, false);
	wbuf_release(&w);
	strbuf_release(&events);
	return r;
}

/* ---- SETUP ---- */

/* The events of SETUP as the guest samples them: one it cannot open (no
 * vPMU) becomes cpu-clock at the same rate, named apart from the others.
 * -EPROTO (after an ERROR) when not even that opens. */
static int choose_events(struct agent_connection *a, const struct proto_setup *setup)
{
	a->events = xcalloc(setup->n_events, sizeof(*a->events));
	for (uint32_t i = 0; i < setup->n_events; i++) {
		struct event_spec *e = &a->events[i];
		int r = event_spec__parse(setup->events[i], &a->defaults, e, NULL);
		if (r == 0 && event_spec__probe(e, true) < 0) {
			event_spec__release(e);
			r = -1;
		}
		if (r < 0 && event_spec__parse("cpu-clock", &a->defaults, e, NULL) < 0)
			return send_error(a, "cannot open any event");
		for (uint32_t j = 0; r < 0 && j < i; j++)
			if (streq(a->events[j].name, e->name)) {
				free(e->name);
				e->name = xasprintf("cpu-clock (for %s)", setup->events[i]);
			}
		a->n_events = i + 1;
	}
	return 0;
}

/* Our kernel's symbols, so the host can name its own guest-mode samples
 * of this VM (the passive view). Empty when unreadable or hidden. */
static void send_kallsyms(struct agent_connection *a)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct wbuf w;
	if (read_file("/proc/kallsyms", &text, &len) < 0 || !strncmp(text, "0000000000000000", 16))
		len = 0;
	wbuf_init(&w);
	proto_kallsyms__encode(&w, text, len);
	send_msg(a, MSG_KALLSYMS, &w, true);
	wbuf_release(&w);
}

static int handle_setup(struct agent_connection *a, const struct wbuf *in)
{
	struct proto_setup setup;
	const char **used;
	struct wbuf w;
	int r;
	if (proto_setup__decode(in->data, in->len, &setup) < 0)
		return send_error(a, "malformed SETUP");
	a->defaults.freq = setup.freq;
	a->defaults.period = setup.period;
	a->callchain = setup.callchain;
	a->user_stack_size = setup.user_stack_size;
	a->flush_ms = setup.flush_ms;
	r = choose_events(a, &setup);
	proto_setup__release(&setup);
	if (r < 0)
		return r;
	used = xcalloc(a->n_events, sizeof(*used));
	for (size_t i = 0; i < a->n_events; i++)
		used[i] = a->events[i].name;
	wbuf_init(&w);
	proto_setup_ok__encode(&w, used, (uint32_t)a->n_events);
	send_msg(a, MSG_SETUP_OK, &w, false);
	wbuf_release(&w);
	free(used);
	send_kallsyms(a);
	logf_(a, "setup: %zu event%s, %s, data every %u ms", a->n_events, a->n_events == 1 ? "" : "s",
	      !a->callchain ? "no call graphs" : a->user_stack_size ? "dwarf call graphs" : "call graphs",
	      a->flush_ms);
	return 0;
}

/* ---- PING, ARM ---- */

static void send_pong(struct agent_connection *a, const struct wbuf *in)
{
	struct wbuf w;
	uint64_t t1;
	if (proto_u64__decode(in->data, in->len, &t1) < 0)
		t1 = 0;
	wbuf_init(&w);
	proto_pong__encode(&w, t1, clock_monotonic_ns());
	send_msg(a, MSG_PONG, &w, false);
	wbuf_release(&w);
}

static int handle_arm(struct agent_connection *a)
{
	struct recorder_config cfg = {
		.events = a->events,
		.n_events = a->n_events,
		.system_wide = true,
		.callchain = a->callchain,
		.user_stack_size = a->user_stack_size,
	};
	_cleanup_free_ char *err = NULL;
	int r;
	if (!a->n_events)
		return send_error(a, "ARM before SETUP");
	if ((r = recorder__open(&a->rec, &cfg, &err)) < 0) {
		send_error(a, "cannot open the events: %s", err);
		return r;
	}
	a->armed = true;
	/* Read /proc and the kernel's symbols now, so START is quick. */
	if (recorder__prepare(&a->rec) < 0)
		return send_error(a, "cannot prepare sampling");
	/* The guest's idle loop is not work the host pays for: a halted vCPU
	 * does not run. Leaving it out keeps the merged view honest. */
	a->rec.collector.skip_idle = true;
	send_msg(a, MSG_ARMED, NULL, false);
	return 0;
}

/* ---- recording ---- */

/* After a DATA: when the catalog holds cfg->compact_rows rows and twice
 * what the last compaction kept, the rows no live counter names go (the
 * functions hot enough for CODE stay), and the next DATA says which
 * stayed. Twice: the work of a compaction is paid for by the rows added
 * since the last. */
static void compact_catalog(struct agent_connection *a)
{
	size_t rows = profile__catalog_rows(&a->rec.profile);
	size_t limit = a->cfg->compact_rows ? a->cfg->compact_rows : AGENT_COMPACT_ROWS;
	size_t gone;
	if (a->compact_pending || rows < limit || rows < 2 * a->compact_kept)
		return;
	gone = collector__compact(&a->rec.collector, &a->compacted);
	a->compact_pending = true;
	a->compact_kept = rows - gone;
	a->compacted_rows += gone;
	logf_(a, "catalog compacted: %zu of %zu rows kept", rows - gone, rows);
}

/* A DATA frame; then, when may_compact, perhaps a compaction, which the
 * next DATA tells (none follows the last: the CODE after it names symbols
 * by the ids the coordinator knows). */
static int send_data(struct agent_connection *a, bool may_compact)
{
	struct wbuf w;
	int r;
	uint32_t caps = a->ch.caps;
	bool forget = (caps & PROTO_CAP_FORGET) != 0;
	wbuf_init(&w);
	a->rec.profile.track_drops = forget;
	a->rec.profile.reuse_thread_ids = (caps & PROTO_CAPS_REUSE) == PROTO_CAPS_REUSE;
	delta__encode(&a->rec.profile, &w, caps, a->compact_pending ? &a->compacted : NULL);
	profile_catalog_map__release(&a->compacted);
	a->compact_pending = false;
	r = send_msg(a, MSG_DATA, &w, true);
	wbuf_release(&w);
	/* What was sent and can no longer change (exited threads, past
	 * timeline buckets) leaves memory; the next frame tells the
	 * coordinator, which drops its copy. An earlier coordinator cannot
	 * be told: then everything stays, as it did. */
	if (r == 0 && forget)
		collector__forget(&a->rec.collector);
	if (r == 0 && forget && (caps & PROTO_CAP_COMPACT) && may_compact)
		compact_catalog(a);
	return r;
}

/* The end of a session that went as it should: the last DATA, then the
 * code of the guest's hottest functions (symbol ids are ours: every
 * symbol was already sent in DATA), FINAL and BYE. */
static void send_final(struct agent_connection *a)
{
	uint64_t samples = collector__samples(&a->rec.collector), lost = recorder__lost(&a->rec);
	struct symbol_code *codes;
	size_t n_codes;
	struct wbuf w;
	if (send_data(a, false) == 0) {
		wbuf_init(&w);
		n_codes = collector__collect_code(&a->rec.collector, CODE_HOT_SYMBOLS_AGENT, CODE_HOT_MIN_SHARE, &codes);
		proto_code__encode(&w, codes, n_codes);
		symbol_codes__free(codes, n_codes);
		send_msg(a, MSG_CODE, &w, true);
		wbuf_reset(&w);
		proto_final__encode(&w, samples, lost);
		send_msg(a, MSG_FINAL, &w, false);
		send_msg(a, MSG_BYE, NULL, false);
		wbuf_release(&w);
	}
	logf_(a, "session done: %llu samples, %llu lost, %llu catalog rows let go", (unsigned long long)samples,
	      (unsigned long long)lost, (unsigned long long)a->compacted_rows);
}

/* Sample until STOP (or *stop), streaming DATA every flush_ms; PING is
 * answered on the way, anything else ends the session. Either stop ends
 * it as the protocol says, with the final frames. */
static int record_loop(struct agent_connection *a)
{
	uint64_t interval = (uint64_t)a->flush_ms * 1000000ULL, next = clock_monotonic_ns() + interval;
	struct wbuf in;
	int ret = 0;
	wbuf_init(&in);
	while (!stopped(a)) {
		uint8_t type;
		int r;
		recorder__step(&a->rec, AGENT_STEP_MS);
		r = channel__recv(&a->ch, 0, &type, &in);
		if (r < 0) {
			logf_(a, "coordinator %s: %s; stopping", a->ch.peer, recv_error_text(r));
			ret = r;
			break;
		}
		if (r == 1 && type == MSG_STOP)
			break;
		if (r == 1 && type == MSG_PING) {
			send_pong(a, &in);
			continue;
		}
		if (r == 1) {
			ret = send_error(a, "unexpected %s while recording", proto_msg__name(type));
			break;
		}
		/* One coordinator at a time: others are turned away. */
		if (a->cfg->listener)
			listener__turn_away(a->cfg->listener);
		if (clock_monotonic_ns() >= next) {
			if ((ret = send_data(a, true)) < 0) {
				logf_(a, "coordinator %s stopped reading; stopping", a->ch.peer);
				break;
			}
			next = clock_monotonic_ns() + interval;
		}
	}
	recorder__stop(&a->rec);
	if (ret == 0)
		send_final(a);
	wbuf_release(&in);
	return ret;
}

static int handle_start(struct agent_connection *a, const struct wbuf *in)
{
	uint64_t t0, now;
	struct wbuf w;
	if (!a->armed)
		return send_error(a, "START before ARM");
	if (proto_u64__decode(in->data, in->len, &t0) < 0)
		return send_error(a, "malformed START");
	now = clock_monotonic_ns();
	/* Start at the agreed instant (bounded: a bad clock cannot park us). */
	if (t0 > now && t0 - now < AGENT_MAX_START_WAIT_NS)
		clock_sleep_until(t0, a->cfg->stop);
	if (recorder__start(&a->rec) < 0)
		return send_error(a, "cannot start sampling");
	wbuf_init(&w);
	proto_u64__encode(&w, a->rec.start_ns);
	send_msg(a, MSG_STARTED, &w, false);
	wbuf_release(&w);
	logf_(a, "recording (start %+.3f ms from the agreed instant)", ((double)a->rec.start_ns - (double)t0) / 1e6);
	return record_loop(a);
}

/* ---- the connection ---- */

/* One message before START: 1 to wait for the next, else how the
 * connection ends. */
static int handle(struct agent_connection *a, uint8_t type, const struct wbuf *in)
{
	int r;
	if (type == MSG_SETUP && !a->n_events)
		return (r = handle_setup(a, in)) < 0 ? r : 1;
	if (type == MSG_PING) {
		send_pong(a, in);
		return 1;
	}
	if (type == MSG_ARM && !a->armed)
		return (r = handle_arm(a)) < 0 ? r : 1;
	if (type == MSG_START)
		return handle_start(a, in);
	if (type == MSG_STOP || type == MSG_BYE)
		return 0;
	return send_error(a, "unexpected %s", proto_msg__name(type));
}

int agent_connection__serve(struct channel *ch, const struct agent_config *cfg)
{
	struct agent_connection a = { .ch = *ch, .cfg = cfg };
	struct wbuf in;
	int r = -EINTR;

	logf_(&a, "coordinator %s authenticated", a.ch.peer);
	send_info(&a);
	wbuf_init(&in);
	while (!stopped(&a)) {
		uint8_t type;
		r = channel__recv(&a.ch, AGENT_IDLE_TIMEOUT_MS, &type, &in);
		if (r == 0) {
			logf_(&a, "coordinator %s idle for %d s; closing", a.ch.peer, AGENT_IDLE_TIMEOUT_MS / 1000);
			r = -ETIMEDOUT;
			break;
		}
		if (r < 0) {
			logf_(&a, "coordinator %s: %s", a.ch.peer, recv_error_text(r));
			break;
		}
		if ((r = handle(&a, type, &in)) != 1)
			break;
		r = -EINTR;
	}
	wbuf_release(&in);
	if (a.armed)
		recorder__release(&a.rec);
	profile_catalog_map__release(&a.compacted);
	event_list__free(a.events, a.n_events);
	channel__release(&a.ch);
	return r;
}

/* domprof agent: runs inside a guest, samples it with the same sampler and
 * symbolizer as the host, and streams the result to one coordinator at a
 * time (`domprof record --agent`). domprof keygen writes the pre-shared key
 * both sides use. Protocol: docs/protocol.md; threat model:
 * docs/security.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../lib/collect/hot-code.h"
#include "../lib/collect/recorder.h"
#include "../lib/proto/channel.h"
#include "../lib/proto/delta.h"
#include "../lib/proto/listener.h"
#include "../lib/proto/messages.h"
#include "../lib/proto/wire.h"
#include "domprof.h"

#define IDLE_TIMEOUT_MS 60000
#define SEND_TIMEOUT_MS 5000
#define MAX_START_WAIT_NS (5ULL * 1000000000ULL)

static volatile sig_atomic_t agent_stop;
static void on_agent_signal(int sig) { agent_stop = sig; }

static void agent_log(const char *fmt, ...) PRINTF(1, 2);
static void agent_log(const char *fmt, ...)
{
	va_list ap;
	char ts[32];
	char *msg;
	time_t now = time(NULL);
	if (quiet)
		return;
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* Peers' words reach this log (event names, errors): never raw. */
	fprintf(stderr, "domprof agent %s: %s\n", ts, text_sanitize(msg));
	free(msg);
}

static void listener_log(void *ctx, const char *msg)
{
	(void)ctx;
	agent_log("%s", msg);
}

static int send_error(struct channel *ch, const char *fmt, ...) PRINTF(2, 3);
static int send_error(struct channel *ch, const char *fmt, ...)
{
	va_list ap;
	struct strbuf sb;
	struct wbuf w;
	strbuf_init(&sb);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	agent_log("error: %s", sb.buf);
	wbuf_init(&w);
	proto_error__encode(&w, sb.buf);
	channel__send(ch, MSG_ERROR, w.data, w.len, false, 1000);
	wbuf_release(&w);
	strbuf_release(&sb);
	return -EPROTO;
}

static char *read_trimmed(const char *path)
{
	char *text = NULL;
	if (read_file(path, &text, NULL) < 0)
		return xstrdup("");
	text[strcspn(text, "\n")] = '\0';
	return text;
}

static void build_info(struct wbuf *w)
{
	char host[256] = "";
	struct utsname u;
	_cleanup_free_ char *uuid = read_trimmed("/sys/class/dmi/id/product_uuid");
	struct strbuf events;
	size_t n;
	const struct event_name *gen = events__generic(&n);
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct proto_agent_info info;

	gethostname(host, sizeof(host) - 1);
	uname(&u);
	for (char *p = uuid; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	strbuf_init(&events);
	for (size_t i = 0; i < n; i++) {
		struct event_spec e;
		if (event_spec__parse(gen[i].name, NULL, &e, NULL) < 0)
			continue;
		if (event_spec__probe(&e, true) == 0)
			strbuf_addf(&events, "%s%s", events.len ? "," : "", e.name);
		event_spec__release(&e);
	}
	info = (struct proto_agent_info){
		.hostname = host,
		.kernel = u.release,
		.uuid = uuid,
		.ncpus = (uint32_t)(ncpus > 0 ? MIN(ncpus, PROTO_MAX_GUEST_CPUS) : 1),
		.clock_ns = clock_monotonic_ns(),
		.events = events.buf,
		.version = DOMPROF_VERSION_STRING,
	};
	proto_agent_info__encode(w, &info);
	strbuf_release(&events);
}

struct agent_session {
	struct channel ch;
	struct event_spec *events;
	size_t n_events;
	struct event_defaults defaults;
	bool callchain;
	uint32_t flush_ms;
	struct recorder rec;
	bool armed, running;
	struct listener *listener;
};

static void session_release(struct agent_session *s)
{
	if (s->armed)
		recorder__release(&s->rec);
	event_list__free(s->events, s->n_events);
	channel__release(&s->ch);
}

/* SETUP: the events to sample. One the guest cannot open (no vPMU) is
 * replaced by cpu-clock, and the coordinator is told. */
static int handle_setup(struct agent_session *s, const struct wbuf *in)
{
	struct proto_setup setup;
	struct wbuf w;
	uint32_t n;
	char **names;
	if (proto_setup__decode(in->data, in->len, &setup) < 0)
		return send_error(&s->ch, "malformed SETUP");
	n = setup.n_events;
	names = setup.events;
	s->defaults.freq = setup.freq;
	s->defaults.period = setup.period;
	s->callchain = setup.callchain;
	s->flush_ms = setup.flush_ms;
	s->events = xcalloc(n, sizeof(*s->events));
	wbuf_init(&w);
	for (uint32_t i = 0; i < n; i++) {
		char *err = NULL;
		int r = event_spec__parse(names[i], &s->defaults, &s->events[i], &err);
		free(err);
		if (r == 0 && event_spec__probe(&s->events[i], true) < 0) {
			event_spec__release(&s->events[i]);
			r = -1;
		}
		if (r < 0) {
			/* keep the period semantics: a clock at the same rate */
			if (event_spec__parse("cpu-clock", &s->defaults, &s->events[i], NULL) < 0) {
				wbuf_release(&w);
				proto_setup__release(&setup);
				return send_error(&s->ch, "cannot open any event");
			}
			/* two substituted events must not share a name */
			for (uint32_t j = 0; j < i; j++)
				if (streq(s->events[j].name, s->events[i].name)) {
					char *nn = xasprintf("cpu-clock (for %s)", names[i]);
					free(s->events[i].name);
					s->events[i].name = nn;
				}
		}
		s->n_events = i + 1;
	}
	proto_setup__release(&setup);
	{
		const char **used = xcalloc(n, sizeof(char *));
		for (uint32_t i = 0; i < n; i++)
			used[i] = s->events[i].name;
		proto_setup_ok__encode(&w, used, n);
		free(used);
	}
	channel__send(&s->ch, MSG_SETUP_OK, w.data, w.len, false, SEND_TIMEOUT_MS);
	wbuf_release(&w);
	/* Our kernel's symbols, so the host can name its own guest-mode
	 * samples of this VM (the passive view). Empty when unreadable. */
	{
		char *text = NULL;
		size_t len = 0;
		if (read_file("/proc/kallsyms", &text, &len) < 0 || !strncmp(text, "0000000000000000", 16)) {
			free(text);
			text = NULL;
			len = 0;
		}
		channel__send(&s->ch, MSG_KALLSYMS, text, len, true, SEND_TIMEOUT_MS);
		free(text);
	}
	agent_log("setup: %u event%s, %s, data every %u ms", n, n == 1 ? "" : "s",
		  s->callchain ? "call graphs" : "no call graphs", s->flush_ms);
	return 0;
}

static int handle_arm(struct agent_session *s)
{
	struct recorder_config cfg = {
		.events = s->events,
		.n_events = s->n_events,
		.system_wide = true,
		.callchain = s->callchain,
	};
	char *err = NULL;
	int r;
	if (!s->n_events)
		return send_error(&s->ch, "ARM before SETUP");
	if ((r = recorder__open(&s->rec, &cfg, &err)) < 0) {
		send_error(&s->ch, "cannot open the events: %s", err);
		free(err);
		return r;
	}
	s->armed = true;
	/* Read /proc and the kernel's symbols now, so START is quick. */
	if (recorder__prepare(&s->rec) < 0)
		return send_error(&s->ch, "cannot prepare sampling");
	/* The guest's idle loop is not work the host pays for: a halted vCPU
	 * does not run. Leaving it out keeps the merged view honest. */
	s->rec.collector.skip_idle = true;
	channel__send(&s->ch, MSG_ARMED, NULL, 0, false, SEND_TIMEOUT_MS);
	return 0;
}

static int send_data(struct agent_session *s)
{
	struct wbuf w;
	int r;
	wbuf_init(&w);
	delta__encode(&s->rec.profile, &w);
	r = channel__send(&s->ch, MSG_DATA, w.data, w.len, true, SEND_TIMEOUT_MS);
	wbuf_release(&w);
	return r;
}

/* The code of the guest's hottest functions, for annotate on the host.
 * Symbol ids are ours: every symbol was already sent in DATA. */
static void send_code(struct agent_session *s)
{
	struct symbol_code *codes;
	size_t n = collector__collect_code(&s->rec.collector, CODE_HOT_SYMBOLS_AGENT, CODE_HOT_MIN_SHARE, &codes);
	struct wbuf w;
	wbuf_init(&w);
	proto_code__encode(&w, codes, n);
	symbol_codes__free(codes, n);
	channel__send(&s->ch, MSG_CODE, w.data, w.len, true, SEND_TIMEOUT_MS);
	wbuf_release(&w);
}

static void send_pong(struct agent_session *s, const struct wbuf *in)
{
	struct wbuf w;
	uint64_t t1;
	if (proto_u64__decode(in->data, in->len, &t1) < 0)
		t1 = 0;
	wbuf_init(&w);
	proto_pong__encode(&w, t1, clock_monotonic_ns());
	channel__send(&s->ch, MSG_PONG, w.data, w.len, false, SEND_TIMEOUT_MS);
	wbuf_release(&w);
}

/* Sample until STOP, streaming DATA. */
static int record_loop(struct agent_session *s)
{
	uint64_t next = clock_monotonic_ns() + (uint64_t)s->flush_ms * 1000000ULL;
	struct wbuf in;
	int ret = 0;
	wbuf_init(&in);
	while (!agent_stop) {
		uint8_t type;
		int r;
		recorder__step(&s->rec, 50);
		r = channel__recv(&s->ch, 0, &type, &in);
		if (r < 0) {
			agent_log("coordinator %s: %s; stopping", s->ch.peer,
				  r == -ECONNRESET ? "connection closed" : "malformed frame");
			ret = -1;
			break;
		}
		if (r == 1) {
			if (type == MSG_STOP)
				break;
			if (type == MSG_PING) {
				send_pong(s, &in);
				continue;
			}
			send_error(&s->ch, "unexpected %s while recording", proto_msg__name(type));
			ret = -1;
			break;
		}
		/* One coordinator at a time: others are turned away. */
		if (s->listener)
			listener__turn_away(s->listener);
		if (clock_monotonic_ns() >= next) {
			if (send_data(s) < 0) {
				agent_log("coordinator %s stopped reading; stopping", s->ch.peer);
				ret = -1;
				break;
			}
			next = clock_monotonic_ns() + (uint64_t)s->flush_ms * 1000000ULL;
		}
	}
	recorder__stop(&s->rec);
	if (ret == 0) {
		struct wbuf w;
		uint64_t samples = 0, lost = recorder__lost(&s->rec);
		for (size_t e = 0; e < s->n_events; e++)
			samples += s->rec.collector.stats[e].samples;
		if (send_data(s) == 0) {
			send_code(s);
			wbuf_init(&w);
			proto_final__encode(&w, samples, lost);
			channel__send(&s->ch, MSG_FINAL, w.data, w.len, false, SEND_TIMEOUT_MS);
			channel__send(&s->ch, MSG_BYE, NULL, 0, false, SEND_TIMEOUT_MS);
			wbuf_release(&w);
		}
		agent_log("session done: %llu samples, %llu lost", (unsigned long long)samples, (unsigned long long)lost);
	}
	wbuf_release(&in);
	return ret;
}

static int handle_start(struct agent_session *s, const struct wbuf *in)
{
	uint64_t t0, now;
	struct wbuf w;
	if (!s->armed)
		return send_error(&s->ch, "START before ARM");
	if (proto_u64__decode(in->data, in->len, &t0) < 0)
		return send_error(&s->ch, "malformed START");
	now = clock_monotonic_ns();
	/* Start at the agreed instant (bounded: a bad clock cannot park us). */
	if (t0 > now && t0 - now < MAX_START_WAIT_NS) {
		struct timespec ts = { .tv_sec = (time_t)(t0 / 1000000000ULL), .tv_nsec = (long)(t0 % 1000000000ULL) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !agent_stop)
			;
	}
	if (recorder__start(&s->rec) < 0)
		return send_error(&s->ch, "cannot start sampling");
	wbuf_init(&w);
	proto_u64__encode(&w, s->rec.start_ns);
	channel__send(&s->ch, MSG_STARTED, w.data, w.len, false, SEND_TIMEOUT_MS);
	wbuf_release(&w);
	agent_log("recording (start %+.3f ms from the agreed instant)", ((double)s->rec.start_ns - (double)t0) / 1e6);
	return record_loop(s);
}

/* One authenticated coordinator, until its session ends. */
static void serve(struct channel *ch, struct listener *listener)
{
	struct agent_session s = { .ch = *ch, .listener = listener };
	struct wbuf in, w;

	agent_log("coordinator %s authenticated", s.ch.peer);
	wbuf_init(&w);
	build_info(&w);
	channel__send(&s.ch, MSG_AUTH_OK, w.data, w.len, false, SEND_TIMEOUT_MS);
	wbuf_release(&w);
	wbuf_init(&in);
	while (!agent_stop) {
		uint8_t type;
		int r = channel__recv(&s.ch, IDLE_TIMEOUT_MS, &type, &in);
		if (r == 0) {
			agent_log("coordinator %s idle for %d s; closing", s.ch.peer, IDLE_TIMEOUT_MS / 1000);
			break;
		}
		if (r < 0) {
			agent_log("coordinator %s: %s", s.ch.peer, r == -ECONNRESET ? "connection closed" : "malformed frame");
			break;
		}
		if (type == MSG_SETUP && !s.n_events) {
			if (handle_setup(&s, &in) < 0)
				break;
		} else if (type == MSG_PING) {
			send_pong(&s, &in);
		} else if (type == MSG_ARM && !s.armed) {
			if (handle_arm(&s) < 0)
				break;
		} else if (type == MSG_START) {
			handle_start(&s, &in);
			break;
		} else if (type == MSG_STOP || type == MSG_BYE) {
			break;
		} else {
			send_error(&s.ch, "unexpected %s", proto_msg__name(type));
			break;
		}
	}
	wbuf_release(&in);
	session_release(&s);
}

int key_load(const char *path, unsigned char key[PROTO_KEY_BYTES])
{
	_cleanup_free_ char *why = NULL;
	int r = proto_key__load(path, key, &why);
	if (r == 0)
		return 0;
	if (r == -EPERM)
		return log_error_errno(r, "the key %s %s: a key must be private to you (chown $(id -un) %s; chmod 600 %s)",
				       path, why, path, path);
	if (r == -ELOOP)
		return log_error_errno(r, "the key %s %s: give the path of the key file itself", path, why);
	if (r == -EINVAL && why && strstr(why, "hex"))
		return log_error_errno(r, "the key %s %s: make one with `domprof keygen FILE`", path, why);
	return why ? log_error_errno(r, "the key %s %s", path, why) : log_error_errno(r, "the key %s %m", path);
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ "once", no_argument, NULL, '1' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	const char *listen_addr = NULL, *key_path = NULL;
	unsigned char key[PROTO_KEY_BYTES];
	bool once = false;
	int c, r;
	char *err = NULL;
	struct listener listener;
	struct sigaction sa = { .sa_handler = on_agent_signal };

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:k:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'k': key_path = optarg; break;
		case '1': once = true; break;
		case 'q': quiet = true; break;
		default:
			usage("agent", stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return log_error("unexpected argument '%s'", argv[optind]);
	if (!listen_addr)
		return log_error("--listen ADDR is required (tcp:0.0.0.0:7070 or vsock:any:7070)");
	if (!key_path)
		return log_error("--key FILE is required: the agent never runs without a key (make one with `domprof "
				 "keygen FILE`)");
	if ((r = key_load(key_path, key)) < 0)
		return r;
	if (sodium_init() < 0)
		return log_error_errno(-EIO, "libsodium failed to initialise");
	if ((r = listener__open(&listener, listen_addr, key, listener_log, NULL, &err)) < 0) {
		sodium_memzero(key, sizeof(key));
		r = log_error_errno(r, "%s", err);
		free(err);
		return r;
	}
	sodium_memzero(key, sizeof(key));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	agent_log("listening on %s", listen_addr);
	/* Tests and launch scripts wait for this line on stdout. */
	printf("domprof agent listening on %s\n", listen_addr);
	fflush(stdout);
	while (!agent_stop) {
		struct channel ch;
		r = listener__accept(&listener, 500, &ch);
		if (r < 0) {
			log_error_errno(r, "waiting for coordinators on %s: %m", listen_addr);
			break;
		}
		if (r == 0)
			continue;
		serve(&ch, &listener);
		if (once)
			break;
	}
	listener__close(&listener);
	agent_log("stopped");
	return r < 0 ? r : 0;
}

int cmd_keygen(int argc, char **argv)
{
	int r;
	if (argc != 2)
		return log_error("usage: domprof keygen FILE");
	r = proto_key__generate(argv[1]);
	if (r == -EEXIST)
		return log_error_errno(r, "%s already exists; remove it first or choose another name", argv[1]);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", argv[1]);
	log_info("wrote a new key to %s (mode 0600); copy it to the guest and give both sides --key", argv[1]);
	return 0;
}

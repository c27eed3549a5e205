/* fake-agent: a scripted peer that speaks domprof's real protocol (the
 * library's handshake, encryption and message codecs) with the real key,
 * to attack the host the way a compromised guest or a hostile network
 * peer would (tests/integration/hostile-agent.sh, docs/security.md).
 *
 *   fake-agent serve PORT KEYFILE MODE [--uuid U] [--ncpus N] [--canary PATH]
 *       an agent on 127.0.0.1:PORT for one coordinator, then exit. MODE:
 *       normal     a well-behaved guest (the control)
 *       kcore      images that claim to be kernel modules and a host file,
 *                  with hot symbols at kernel addresses (rule 1)
 *       strings    terminal escapes, C1 controls, bidi overrides, invalid
 *                  UTF-8 and spreadsheet formulas in every string (rule 5)
 *       flood      DATA with ever more rows until the host refuses (rule 2)
 *       bomb       one DATA frame that inflates to 120 MiB (rule 2)
 *       kbomb      a 100 MiB kallsyms (rule 2)
 *       overflow   two counters near 2^63 (rule 3)
 *       decrease   a running total that goes down (rule 3)
 *       bucket     a timeline bucket of 0xfffffff0 (rule 6)
 *       started2   STARTED twice (rule 6)
 *       codeearly  CODE before STOP (rule 6)
 *       pong       an agent clock of 2^64-1 (rule 6)
 *       forgetdead forgets its thread with its counter, then names it in a
 *                  new counter of the same frame (rule 3)
 *       forgetlive forgets its thread while its counter lives on (rule 3)
 *       forgetbad  forgets a live counter and starts a new one in its index
 *                  (allowed), then forgets a counter it never had (rule 3)
 *       compactbad a compaction that keeps an image it never sent (rule 3)
 *       compactloop every tick lets go of all but its first image and
 *                  function, and sends the same 512 functions with 4 KiB
 *                  names again under new ids (allowed: the host holds them
 *                  once, so a budget that could not take them twice
 *                  holds; rule 2)
 *       churn      every tick its thread exits and one of the same pid and
 *                  name starts (a thread id reused), its counter comes back
 *                  in the freed index with the same key, and a counter in a
 *                  fresh index comes and goes (allowed; rule 2, rotation)
 *   fake-agent probe PORT KEYFILE
 *       a coordinator: connect, authenticate, wait for AUTH_OK; prints the
 *       milliseconds it took (rule 4)
 *   fake-agent silent PORT N SECONDS
 *       N peers without the key: silent, half a HELLO, or a HELLO and no
 *       AUTH; held for SECONDS (rule 4)
 *   fake-agent coordinator PORT KEYFILE
 *       an authenticated coordinator that sends SETUP with hostile event
 *       names, then a message of no known type (the agent's log, rule 5) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/aggregate/profile.h"
#include "lib/proto/channel.h"
#include "lib/proto/messages.h"
#include "lib/util/util.h"

#define MS 1000000ULL
#define TICK_NS (250 * MS)

static const char *mode;
static uint32_t ncpus = 2;
static const char *uuid = "";
static const char *canary = "/nonexistent-canary";

static void die(const char *fmt, ...) PRINTF(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fake-agent: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static bool is(const char *m) { return streq(mode, m); }

static void load_key(const char *path, unsigned char key[PROTO_KEY_BYTES])
{
	char *why = NULL;
	if (proto_key__load(path, key, &why) < 0)
		die("key %s: %s", path, why);
}

static void send_msg(struct channel *ch, uint8_t type, const struct wbuf *w, bool compress)
{
	int r = channel__send(ch, type, w ? w->data : NULL, w ? w->len : 0, compress, 5000);
	if (r < 0) {
		/* The host hung up on us: what the attack expects. */
		fprintf(stderr, "fake-agent %s: the host stopped reading (%s) at %s\n", mode, strerror(-r),
			proto_msg__name(type));
		exit(0);
	}
}

/* ---- a DATA frame, table by table ---- */

/* The three FORGET lists lead the frame when the capability was agreed
 * (every coordinator of this tree agrees to it), then with COMPACT the
 * compaction: none, unless compact() set it. */
#define N_TABLES 9
struct data {
	struct wbuf t[N_TABLES];
	uint32_t n[N_TABLES];
	struct wbuf compact;
};
enum { F_THREAD, F_SAMPLE, F_TIMELINE, T_THREAD, T_IMAGE, T_SYMBOL, T_FRAME, T_SAMPLE, T_TIMELINE };

static void data_init(struct data *d)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < N_TABLES; i++)
		wbuf_init(&d->t[i]);
	wbuf_init(&d->compact);
}

/* COMPACT: the catalog renumbered to the n ids of each table in kept
 * (images, symbols, frames; as given, sorted or not). */
static void compact(struct data *d, const uint32_t *const kept[3], const uint32_t n[3])
{
	wbuf_reset(&d->compact);
	wbuf_u8(&d->compact, 1);
	for (int t = 0; t < 3; t++) {
		wbuf_u32(&d->compact, n[t]);
		for (uint32_t i = 0; i < n[t]; i++)
			wbuf_u32(&d->compact, kept[t][i]);
	}
}

static void data_send(struct channel *ch, struct data *d)
{
	struct wbuf w;
	wbuf_init(&w);
	for (int i = (ch->caps & PROTO_CAP_FORGET) ? 0 : T_THREAD; i < N_TABLES; i++) {
		if (i == T_THREAD && (ch->caps & PROTO_CAP_FORGET) && (ch->caps & PROTO_CAP_COMPACT)) {
			if (d->compact.len)
				wbuf_put(&w, d->compact.data, d->compact.len);
			else
				wbuf_u8(&w, 0);
		}
		wbuf_u32(&w, d->n[i]);
		wbuf_put(&w, d->t[i].data, d->t[i].len);
	}
	for (int i = 0; i < N_TABLES; i++)
		wbuf_release(&d->t[i]);
	wbuf_release(&d->compact);
	send_msg(ch, MSG_DATA, &w, true);
	wbuf_release(&w);
	data_init(d);
}

/* PROTO_CAP_THREAD_IDS agreed (with FORGET): thread rows name their id. */
static bool thread_ids;

static void add_thread(struct data *d, uint32_t id, uint32_t pid, const char *comm)
{
	if (thread_ids)
		wbuf_u32(&d->t[T_THREAD], id);
	wbuf_u32(&d->t[T_THREAD], pid);
	wbuf_u32(&d->t[T_THREAD], pid);
	wbuf_str(&d->t[T_THREAD], comm);
	d->n[T_THREAD]++;
}

static void add_image(struct data *d, const char *path, uint8_t kind)
{
	wbuf_str(&d->t[T_IMAGE], path);
	wbuf_str(&d->t[T_IMAGE], "");
	wbuf_u8(&d->t[T_IMAGE], kind);
	d->n[T_IMAGE]++;
}

static void add_symbol(struct data *d, uint32_t image, const char *name, uint64_t address, uint64_t size)
{
	wbuf_u32(&d->t[T_SYMBOL], image);
	wbuf_str(&d->t[T_SYMBOL], name);
	wbuf_u64(&d->t[T_SYMBOL], address);
	wbuf_u64(&d->t[T_SYMBOL], size);
	d->n[T_SYMBOL]++;
}

static void add_sample(struct data *d, uint32_t idx, uint32_t thread, uint32_t image, uint32_t symbol, uint64_t address,
		       uint64_t count, uint64_t period)
{
	struct wbuf *w = &d->t[T_SAMPLE];
	wbuf_u32(w, idx);
	wbuf_u32(w, 1);
	wbuf_u8(w, LAYER_GUEST_USER);
	wbuf_u32(w, thread);
	wbuf_u32(w, image);
	wbuf_u32(w, symbol);
	wbuf_u64(w, address);
	wbuf_u32(w, 0);
	wbuf_u64(w, count);
	wbuf_u64(w, period);
	d->n[T_SAMPLE]++;
}

/* FORGET: a thread id or counter index the agent dropped. */
static void add_forget(struct data *d, int table, uint32_t v)
{
	wbuf_u32(&d->t[table], v);
	d->n[table]++;
}

static void add_timeline(struct data *d, uint32_t idx, uint32_t bucket, uint64_t count, uint64_t period)
{
	struct wbuf *w = &d->t[T_TIMELINE];
	wbuf_u32(w, idx);
	wbuf_u32(w, 1);
	wbuf_u8(w, LAYER_GUEST_USER);
	wbuf_u32(w, bucket);
	wbuf_u64(w, count);
	wbuf_u64(w, period);
	d->n[T_TIMELINE]++;
}

/* ---- the guest's profile ---- */

#define HOSTILE "\x1b[31m\x1b]0;pwned\x07\xc2\x9b" "2J\xe2\x80\xae\xe2\x81\xa6\xff"

/* What this guest is made of: catalog rows first sent at tick 0. */
static void catalog(struct data *d)
{
	bool s = is("strings");
	add_thread(d, 1, 100, s ? "app" HOSTILE : "guest-app");
	add_image(d, s ? "=HYPERLINK(\"http://evil\")" HOSTILE : "/usr/bin/guest-app", IMAGE_ELF);
	add_symbol(d, 1, s ? "+cmd|' /C calc'!A0" HOSTILE : "guest_main", 0x1000, 0x100);
	if (s) {
		add_symbol(d, 1, "@SUM(1+1)*cmd", 0x2000, 0x100);
		add_symbol(d, 1, "-2+3", 0x3000, 0x100);
		add_symbol(d, 1, "\tlead\rcr", 0x4000, 0x100);
	}
	if (is("kcore")) {
		/* "Modules" at kernel text addresses, and a host file by name:
		 * made hot so that a harvest would pick them. */
		add_image(d, "[evil_mod]", IMAGE_MODULE);
		add_symbol(d, 2, "evil_hot", 0xffffffff81000000ULL, 0x10000);
		add_image(d, canary, IMAGE_ELF);
		add_symbol(d, 3, "canary_fn", 0x1000, 0x1000);
		add_image(d, "[kernel.kallsyms]", IMAGE_KERNEL);
		add_symbol(d, 4, "kernel_hot", 0xffffffff81100000ULL, 0x10000);
	}
}

static uint32_t n_symbols(void) { return is("kcore") ? 4 : is("strings") ? 4 : 1; }

/* Running totals at elapsed_ns since START: each symbol half a CPU. */
static void samples(struct data *d, uint64_t elapsed_ns, uint32_t *buckets_sent)
{
	uint32_t n = n_symbols(), bucket = (uint32_t)(elapsed_ns / (100 * MS));
	uint64_t per = elapsed_ns / 2 / n;
	for (uint32_t s = 0; s < n; s++) {
		uint32_t image = is("kcore") ? (s == 0 ? 1 : s + 1) : 1;
		uint32_t sym = s + 1;
		add_sample(d, s, 1, image, sym, 0x1010 + s * 0x1000, per / MS + 1, per);
	}
	/* One timeline counter per bucket, a full bucket each. */
	for (; *buckets_sent < bucket; ++*buckets_sent)
		add_timeline(d, *buckets_sent, *buckets_sent, 50, 50 * MS);
}

static void send_code(struct channel *ch)
{
	static unsigned char bytes[17] = { 0x55, 0x48, 0x89, 0xe5, 0x90, 0x90, 0x90, 0x90, 0x90,
					   0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x5d, 0xc3 };
	struct code_line line = { 0x1000, is("strings") ? "/src/" HOSTILE "guest.c" : "/src/guest.c", 10 };
	struct symbol_code sc = { 1, 0x1000, bytes, sizeof(bytes), &line, 1 };
	struct wbuf w;
	wbuf_init(&w);
	wbuf_u32(&w, 1);
	proto_code__encode_one(&w, &sc);
	send_msg(ch, MSG_CODE, &w, true);
	wbuf_release(&w);
}

/* ---- the agent's session ---- */

static void send_kallsyms(struct channel *ch)
{
	struct strbuf sb;
	strbuf_init(&sb);
	if (is("kbomb")) {
		static const char line[] = "ffffffff81000000 T bomb\n";
		while (sb.len < (100u << 20))
			strbuf_adds(&sb, line);
	} else {
		strbuf_adds(&sb, "ffffffff81000000 T _stext\n");
		strbuf_addf(&sb, "ffffffff81001000 T %s\n", is("strings") ? "evil" HOSTILE "_kallsyms" : "guest_kfunc");
		strbuf_adds(&sb, "ffffffffc0000000 t mod_fn\t[guest_mod]\n");
	}
	send_msg(ch, MSG_KALLSYMS, &(struct wbuf){ (unsigned char *)sb.buf, sb.len, sb.cap }, true);
	strbuf_release(&sb);
}

static void send_u64(struct channel *ch, uint8_t type, uint64_t v)
{
	struct wbuf w;
	wbuf_init(&w);
	proto_u64__encode(&w, v);
	send_msg(ch, type, &w, false);
	wbuf_release(&w);
}

/* AUTH_OK through ARMED; returns the host's START instant (our clock: the
 * fake agent runs on the host, so the clocks are the same). */
static uint64_t prepare(struct channel *ch)
{
	struct proto_agent_info info = {
		.hostname = is("strings") ? "guest" HOSTILE : "fake-guest",
		.kernel = is("strings") ? "6.1.0\xe2\x81\xa6" HOSTILE : "6.1.0-fake",
		.uuid = (char *)uuid,
		.ncpus = ncpus,
		.clock_ns = clock_monotonic_ns(),
		.events = "cpu-clock",
		.version = is("strings") ? "0.1\x9b" "31m" : "0.1.0",
	};
	struct wbuf w, in;
	uint8_t type;
	wbuf_init(&w);
	wbuf_init(&in);
	proto_agent_info__encode(&w, &info);
	send_msg(ch, MSG_AUTH_OK, &w, false);
	for (;;) {
		int r = channel__recv(ch, 20000, &type, &in);
		if (r <= 0)
			die("%s: the coordinator went away before START (%d)", mode, r);
		wbuf_reset(&w);
		if (type == MSG_SETUP) {
			struct proto_setup s;
			const char **names;
			if (proto_setup__decode(in.data, in.len, &s) < 0)
				die("bad SETUP");
			names = xcalloc(s.n_events, sizeof(char *));
			for (uint32_t i = 0; i < s.n_events; i++)
				names[i] = is("strings") ? "cpu-clock" HOSTILE : s.events[i];
			proto_setup_ok__encode(&w, names, s.n_events);
			free(names);
			proto_setup__release(&s);
			send_msg(ch, MSG_SETUP_OK, &w, false);
			send_kallsyms(ch);
		} else if (type == MSG_PING) {
			uint64_t t1;
			proto_u64__decode(in.data, in.len, &t1);
			proto_pong__encode(&w, t1, is("pong") ? UINT64_MAX : clock_monotonic_ns());
			send_msg(ch, MSG_PONG, &w, false);
		} else if (type == MSG_ARM) {
			send_msg(ch, MSG_ARMED, NULL, false);
		} else if (type == MSG_START) {
			uint64_t t0;
			proto_u64__decode(in.data, in.len, &t0);
			wbuf_release(&w);
			wbuf_release(&in);
			return t0;
		} else {
			die("unexpected %s before START", proto_msg__name(type));
		}
	}
}

static void flood(struct channel *ch)
{
	char name[4096];
	uint32_t sent = 0;
	struct data d;
	data_init(&d);
	memset(name, 'A', sizeof(name) - 16);
	catalog(&d);
	data_send(ch, &d);
	/* Unique names of 4 KiB, 256 a frame: a megabyte of strings from a
	 * few kilobytes on the wire. Until the host hangs up. */
	for (;;) {
		for (int i = 0; i < 256; i++, sent++) {
			snprintf(name + sizeof(name) - 16, 16, "%u", sent);
			add_symbol(&d, 1, name, 0x10000 + sent, 16);
		}
		data_send(ch, &d);
	}
}

static void bomb(struct channel *ch)
{
	/* All zeros: a valid zstd frame that declares 120 MiB. */
	size_t len = 120u << 20;
	unsigned char *zeros = xcalloc(len, 1);
	send_msg(ch, MSG_DATA, &(struct wbuf){ zeros, len, len }, true);
	free(zeros);
	sleep(30);
}

/* churn mode, one tick: thread *thread exits, counter 0 and the fresh
 * counter *fresh are forgotten (from the second tick on); a thread of the
 * same pid and name comes (in the forgotten thread's id when thread ids
 * are agreed, else in the next), counter 0 comes back with the same key,
 * the next fresh index comes. */
static void churn(struct data *d, uint32_t *thread, uint32_t *fresh)
{
	if (*fresh) { /* not before the first tick's counters exist */
		add_forget(d, F_THREAD, *thread);
		add_forget(d, F_SAMPLE, 0);
		add_forget(d, F_SAMPLE, *fresh);
		if (!thread_ids)
			++*thread;
		add_thread(d, *thread, 100, "guest-app");
	}
	++*fresh;
	add_sample(d, 0, *thread, 1, 1, 0x1010, 10, 50 * MS);
	add_sample(d, *fresh, *thread, 1, 1, 0x1020 + 16 * *fresh, 10, 50 * MS);
}

/* compactloop mode, one tick: all but image 1 and function 1 (what its
 * counter names) let go, and the same 512 functions with 4 KiB names sent
 * again (ids 2..513 each time). */
static void compact_loop(struct data *d, int ticks)
{
	static const uint32_t one[1] = { 1 };
	static const uint32_t *const kept[3] = { one, one, NULL };
	static const uint32_t n[3] = { 1, 1, 0 };
	char name[4096];
	if (ticks > 1)
		compact(d, kept, n);
	memset(name, 'B', sizeof(name) - 16);
	for (uint32_t i = 0; i < 512; i++) {
		snprintf(name + sizeof(name) - 16, 16, "%u", i);
		add_symbol(d, 1, name, 0x100000 + 16 * i, 16);
	}
}

static void record(struct channel *ch, uint64_t start)
{
	struct data d;
	struct wbuf in;
	uint32_t buckets = 0, thread = 1, fresh = 0;
	uint64_t tick = start + TICK_NS;
	int ticks = 0;
	data_init(&d);
	wbuf_init(&in);
	send_u64(ch, MSG_STARTED, start);
	if (is("started2"))
		send_u64(ch, MSG_STARTED, start + MS);
	if (is("flood"))
		flood(ch);
	if (is("bomb"))
		bomb(ch);
	catalog(&d);
	for (;;) {
		uint8_t type;
		int r = channel__recv(ch, 20, &type, &in);
		uint64_t now = clock_monotonic_ns();
		if (r < 0) {
			fprintf(stderr, "fake-agent %s: the host hung up (%d)\n", mode, r);
			exit(0);
		}
		if (r == 1 && type == MSG_STOP)
			break;
		if (now < tick)
			continue;
		tick += TICK_NS;
		ticks++;
		if (is("churn"))
			churn(&d, &thread, &fresh);
		else
			samples(&d, now - start, &buckets);
		if (ticks == 3 && is("overflow")) {
			add_sample(&d, 0, 1, 1, 1, 0x1010, 1000000, (1ULL << 63) - 16);
			add_sample(&d, 1, 1, 1, 1, 0x1020, 1000000, (1ULL << 63) - 16);
			d.n[T_SAMPLE] = 2;
			/* only the two hostile rows */
			{
				struct wbuf keep;
				wbuf_init(&keep);
				wbuf_put(&keep, d.t[T_SAMPLE].data + d.t[T_SAMPLE].len - 2 * 49, 2 * 49);
				wbuf_release(&d.t[T_SAMPLE]);
				d.t[T_SAMPLE] = keep;
			}
		}
		if (ticks == 3 && is("decrease")) {
			wbuf_release(&d.t[T_SAMPLE]);
			wbuf_init(&d.t[T_SAMPLE]);
			d.n[T_SAMPLE] = 0;
			add_sample(&d, 0, 1, 1, 1, 0x1010, 1, 1000);
		}
		if (ticks == 3 && is("bucket"))
			add_timeline(&d, buckets++, 0xfffffff0u, 1, 1000);
		if (ticks == 3 && (is("forgetdead") || is("forgetlive")))
			add_forget(&d, F_THREAD, 1);
		if (ticks == 3 && is("forgetdead"))
			add_forget(&d, F_SAMPLE, 0);
		if (ticks == 3 && is("forgetbad"))
			add_forget(&d, F_SAMPLE, 0);
		if (ticks == 4 && is("forgetbad"))
			add_forget(&d, F_SAMPLE, 7);
		if (ticks == 3 && is("compactbad")) {
			static const uint32_t image[1] = { 9 }, symbol[1] = { 1 };
			static const uint32_t *const kept[3] = { image, symbol, NULL };
			compact(&d, kept, (const uint32_t[3]){ 1, 1, 0 });
		}
		if (is("compactloop"))
			compact_loop(&d, ticks);
		data_send(ch, &d);
		if (ticks == 3 && is("codeearly"))
			send_code(ch);
	}
	/* late: a slow guest, still sampling for a while after the host
	 * stopped, until STOP reached it (allowed: counted in the last
	 * bucket). latefar: a bucket past the host's clock and its slack. */
	if (is("late"))
		usleep(1200 * 1000);
	if (!is("churn"))
		samples(&d, clock_monotonic_ns() - start, &buckets);
	if (is("latefar"))
		add_timeline(&d, buckets, (uint32_t)((clock_monotonic_ns() - start) / (100 * MS)) + 30, 1, MS);
	if (is("late") || is("normal"))
		printf("fake agent %s: %u timeline buckets sent\n", mode, buckets);
	fflush(stdout);
	data_send(ch, &d);
	send_code(ch);
	if (is("strings")) {
		/* An error text is a guest string too. */
		struct wbuf w;
		wbuf_init(&w);
		proto_error__encode(&w, "agent error" HOSTILE "=1+1");
		send_msg(ch, MSG_ERROR, &w, false);
		wbuf_release(&w);
	} else {
		struct wbuf w;
		wbuf_init(&w);
		proto_final__encode(&w, 100, 0);
		send_msg(ch, MSG_FINAL, &w, false);
		send_msg(ch, MSG_BYE, NULL, false);
		wbuf_release(&w);
	}
	wbuf_release(&in);
	/* Let the host read it all before the socket closes. */
	channel__recv(ch, 2000, &(uint8_t){ 0 }, &in);
	wbuf_release(&in);
}

static int serve(int argc, char **argv)
{
	unsigned char key[PROTO_KEY_BYTES];
	struct channel ch;
	char *err = NULL, addr[64];
	int lfd, fd;
	if (argc < 5)
		die("usage: fake-agent serve PORT KEYFILE MODE [--uuid U] [--ncpus N] [--canary PATH]");
	mode = argv[4];
	for (int i = 5; i + 1 < argc; i += 2) {
		if (streq(argv[i], "--uuid"))
			uuid = argv[i + 1];
		else if (streq(argv[i], "--ncpus"))
			ncpus = (uint32_t)atoi(argv[i + 1]);
		else if (streq(argv[i], "--canary"))
			canary = argv[i + 1];
		else
			die("unknown option %s", argv[i]);
	}
	load_key(argv[3], key);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%s", argv[2]);
	if (proto_addr__listen(addr, &lfd, &err) < 0)
		die("%s", err);
	printf("fake agent %s listening on %s\n", mode, addr);
	fflush(stdout);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	channel__init(&ch, fd);
	if (channel__handshake_server(&ch, key, 10000, &err) < 0)
		die("handshake: %s", err);
	thread_ids = (ch.caps & PROTO_CAPS_REUSE) == PROTO_CAPS_REUSE;
	record(&ch, prepare(&ch));
	channel__release(&ch);
	return 0;
}

/* A coordinator's connection to 127.0.0.1:port, authenticated. */
static void connect_authenticated(const char *port, const char *key_file, struct channel *ch)
{
	unsigned char key[PROTO_KEY_BYTES];
	char *err = NULL, addr[64];
	int fd;
	load_key(key_file, key);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%s", port);
	if (proto_addr__connect(addr, 5000, &fd, &err) < 0)
		die("%s", err);
	channel__init(ch, fd);
	if (channel__handshake_client(ch, key, 5000, &err) < 0)
		die("handshake: %s", err);
}

static int probe(int argc, char **argv)
{
	struct channel ch;
	struct wbuf in;
	uint64_t t0 = clock_monotonic_ns();
	uint8_t type;
	if (argc != 4)
		die("usage: fake-agent probe PORT KEYFILE");
	connect_authenticated(argv[2], argv[3], &ch);
	wbuf_init(&in);
	if (channel__recv(&ch, 5000, &type, &in) != 1 || type != MSG_AUTH_OK)
		die("no AUTH_OK");
	printf("%.1f\n", (double)(clock_monotonic_ns() - t0) / 1e6);
	wbuf_release(&in);
	channel__release(&ch);
	return 0;
}

static int silent(int argc, char **argv)
{
	char addr[64];
	int n, seconds;
	if (argc != 5)
		die("usage: fake-agent silent PORT N SECONDS");
	n = atoi(argv[3]);
	seconds = atoi(argv[4]);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%s", argv[2]);
	for (int i = 0; i < n; i++) {
		char *err = NULL;
		int fd;
		if (proto_addr__connect(addr, 5000, &fd, &err) < 0)
			die("%s", err);
		if (i % 3 == 1 && write(fd, "\x30\x00\x00\x00\x01", 5) != 5) /* half a HELLO */
			die("write");
		if (i % 3 == 2) { /* a HELLO, then never AUTH */
			struct proto_hello h = { .max_version = PROTO_VERSION, .min_version = PROTO_VERSION };
			struct channel ch;
			struct wbuf w;
			channel__init(&ch, fd);
			wbuf_init(&w);
			proto_hello__encode(&w, &h);
			channel__send(&ch, MSG_HELLO, w.data, w.len, false, 1000);
			wbuf_release(&w);
			/* keep the socket: the channel is dropped without closing */
		}
	}
	printf("%d silent peers connected\n", n);
	fflush(stdout);
	sleep((unsigned)seconds);
	return 0;
}

static int coordinator(int argc, char **argv)
{
	static const char *events[] = { "cpu-clock" HOSTILE, "\x1b[2Jcycles" };
	struct channel ch;
	struct wbuf w, in;
	uint8_t type;
	if (argc != 4)
		die("usage: fake-agent coordinator PORT KEYFILE");
	connect_authenticated(argv[2], argv[3], &ch);
	wbuf_init(&w);
	wbuf_init(&in);
	channel__recv(&ch, 5000, &type, &in);
	proto_setup__encode(&w, events, 2, 99, 0, false, 0, 500);
	channel__send(&ch, MSG_SETUP, w.data, w.len, false, 1000);
	while (channel__recv(&ch, 3000, &type, &in) == 1 && type != MSG_KALLSYMS)
		;
	channel__send(&ch, 0xee, "\x1b[2J", 4, false, 1000);
	channel__recv(&ch, 2000, &type, &in);
	wbuf_release(&w);
	wbuf_release(&in);
	channel__release(&ch);
	printf("hostile coordinator done\n");
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && streq(argv[1], "serve"))
		return serve(argc, argv);
	if (argc >= 2 && streq(argv[1], "probe"))
		return probe(argc, argv);
	if (argc >= 2 && streq(argv[1], "silent"))
		return silent(argc, argv);
	if (argc >= 2 && streq(argv[1], "coordinator"))
		return coordinator(argc, argv);
	die("usage: fake-agent serve|probe|silent|coordinator ...");
}

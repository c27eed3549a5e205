/* domprof agent: runs inside a guest, samples it with the same sampler and
 * symbolizer as the host, and streams the result to one coordinator at a
 * time (`domprof record --agent`). This file parses the options, loads the
 * key, accepts coordinators (lib/proto/listener.c) and logs; each
 * coordinator is served by lib/proto/agent.c. domprof keygen writes the
 * pre-shared key both sides use. Protocol: docs/protocol.md; threat model:
 * docs/security.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <time.h>

#include "../lib/proto/agent.h"
#include "../lib/proto/channel.h"
#include "../lib/proto/listener.h"
#include "domprof.h"

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

/* What the listener and each connection report, for the log: the words
 * may be a peer's. */
static void library_log(void *ctx, const char *msg)
{
	(void)ctx;
	agent_log("%s", msg);
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
		{ "compact-rows", required_argument, NULL, 'C' },
		{ 0 },
	};
	const char *listen_addr = NULL, *key_path = NULL;
	unsigned char key[PROTO_KEY_BYTES];
	bool once = false;
	int c, r;
	char *err = NULL;
	struct listener listener;
	struct sigaction sa = { .sa_handler = on_agent_signal };
	struct agent_config cfg = { .log = library_log, .stop = &agent_stop, .listener = &listener };

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:k:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'k': key_path = optarg; break;
		case '1': once = true; break;
		case 'q': quiet = true; break;
		case 'C': {
			uint64_t v;
			if (parse_u64(optarg, 10, &v) < 0 || v < 1 || v > (1u << 24))
				return log_error("--compact-rows %s: give a number of catalog rows from 1 to 16777216 (default %d)",
						 optarg, AGENT_COMPACT_ROWS);
			cfg.compact_rows = (size_t)v;
			break;
		}
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
	if ((r = listener__open(&listener, listen_addr, key, library_log, NULL, &err)) < 0) {
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
		agent_connection__serve(&ch, &cfg);
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

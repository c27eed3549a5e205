/* The setup record and top share; see recording.h. */
#include "recording.h"

#include <signal.h>

#include <sodium.h>

#include "domprof.h"

int recording_parse_events(const char **text, bool system_wide, const struct event_defaults *defaults,
			   struct event_spec **ret, size_t *ret_n)
{
	_cleanup_free_ char *err = NULL;
	int r;
	if (!*text) {
		*text = events__default_name(system_wide);
		if (streq(*text, "cpu-clock"))
			log_info("cycles is not available here (no hardware PMU); sampling cpu-clock");
	}
	if ((r = event_list__parse(*text, defaults, ret, ret_n, &err)) < 0)
		return log_error_errno(r, "%s", err);
	for (size_t i = 0; i < *ret_n; i++) {
		r = event_spec__probe(&(*ret)[i], system_wide);
		if (r < 0) {
			_cleanup_free_ char *why = event_spec__explain_error(&(*ret)[i], r);
			return log_error_errno(r, "%s", why);
		}
	}
	return 0;
}

static void coordinator_log(void *ctx, bool is_error, const char *msg)
{
	(void)ctx;
	if (is_error)
		log_warning("%s", msg);
	else
		log_info("%s", msg);
}

int recording_agents_prepare(struct coordinator *coord, const struct agent_options *a,
			     unsigned char key[PROTO_KEY_BYTES], const struct event_spec *events, size_t n_events,
			     const struct event_defaults *defaults, const struct call_graph_option *call_graph,
			     const struct vm_names *vms,
			     struct recorder *rec)
{
	_cleanup_free_ char *err = NULL;
	int r;
	coordinator__init(coord, key, coordinator_log, NULL);
	sodium_memzero(key, PROTO_KEY_BYTES);
	if (a->memory)
		coordinator__set_budget(coord, a->memory);
	/* A recorder that keeps what it flushed (top) keeps agents' rows too. */
	if (rec->keep_flushed)
		coordinator__keep_all(coord);
	for (size_t i = 0; i < a->n; i++)
		if ((r = coordinator__add(coord, a->agents[i], a->optional, &err)) < 0)
			return log_error_errno(r, "%s", err);
	if ((r = coordinator__connect(coord, COORDINATOR_CONNECT_TIMEOUT_MS, &err)) < 0 ||
	    (r = coordinator__prepare(coord, events, n_events, defaults, call_graph && call_graph->enabled,
				      call_graph ? call_graph->user_stack_size : 0, &err)) < 0)
		return log_error_errno(r, "%s%s", err, a->optional ? "" : " (--agent-optional records without it)");
	coordinator__prepare_host(coord, &rec->collector.machine, vms->vms, vms->n);
	return 0;
}

int session_kept_open_warning(const char *path)
{
	log_warning("the session %s is complete, but another process kept it open for 10 s, so it stays in SQLite's "
		    "WAL mode: copy its -wal file with it (opening it for writing, e.g. with sqlite3, when no one else "
		    "has it open makes it one file again)",
		    path);
	return 0;
}

void recording_agents_report(const struct coordinator *coord)
{
	for (size_t i = 0; i < coord->n; i++) {
		const struct agent_link *l = &coord->links[i];
		if (l->state == AGENT_DONE)
			log_info("agent %s: %llu samples in %llu frames, clock offset %+.3f ms, start skew %+.3f ms", l->name,
				 (unsigned long long)l->delta.samples_received, (unsigned long long)l->data_frames,
				 (double)l->offset_ns / 1e6, (double)l->start_skew_ns / 1e6);
		else
			log_warning("agent %s: incomplete (%s); its data up to then is kept", l->name, l->error ? l->error : "?");
	}
}

const char *recording_agent_state(enum agent_state s)
{
	switch (s) {
	case AGENT_NEW: return "new";
	case AGENT_CONNECTED: return "connected";
	case AGENT_READY: return "ready";
	case AGENT_RUNNING: return "running";
	case AGENT_DONE: return "done";
	case AGENT_FAILED: return "failed";
	}
	return "?";
}

void recording_catch_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

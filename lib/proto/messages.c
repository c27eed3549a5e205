/* Structured protocol messages; see messages.h. */
#include "messages.h"

#include <errno.h>

#include "../util/util.h"

void proto_setup__encode(struct wbuf *w, const char *const *events, uint32_t n_events, uint64_t freq, uint64_t period,
			 bool callchain, uint32_t flush_ms)
{
	wbuf_u32(w, n_events);
	for (uint32_t i = 0; i < n_events; i++)
		wbuf_str(w, events[i]);
	wbuf_u64(w, freq);
	wbuf_u64(w, period);
	wbuf_u8(w, callchain);
	wbuf_u32(w, flush_ms);
}

void proto_setup__release(struct proto_setup *s)
{
	for (uint32_t i = 0; s->events && i < s->n_events; i++)
		free(s->events[i]);
	free(s->events);
	memset(s, 0, sizeof(*s));
}

int proto_setup__decode(const void *data, size_t len, struct proto_setup *ret)
{
	struct proto_setup s = { 0 };
	struct rbuf r;
	uint32_t n;
	uint8_t cc;
	rbuf_init(&r, data, len);
	n = rbuf_u32(&r);
	if (!rbuf_ok(&r) || n == 0 || n > PROTO_MAX_EVENTS)
		return -EBADMSG;
	s.events = xcalloc(n, sizeof(char *));
	for (uint32_t i = 0; i < n; i++) {
		s.events[i] = rbuf_str(&r, 1024);
		s.n_events = i + 1;
		if (!s.events[i])
			break;
	}
	s.freq = rbuf_u64(&r);
	s.period = rbuf_u64(&r);
	cc = rbuf_u8(&r);
	s.flush_ms = rbuf_u32(&r);
	if (!rbuf_ok(&r) || rbuf_left(&r) || cc > 1 || s.flush_ms < 50 || s.flush_ms > 10000 || (!s.freq && !s.period) ||
	    s.freq > 1000000) {
		proto_setup__release(&s);
		return -EBADMSG;
	}
	s.callchain = cc;
	*ret = s;
	return 0;
}

void proto_sanitize_text(char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void proto_agent_info__release(struct proto_agent_info *i)
{
	free(i->hostname);
	free(i->kernel);
	free(i->uuid);
	free(i->events);
	free(i->version);
	memset(i, 0, sizeof(*i));
}

int proto_agent_info__decode(const void *data, size_t len, struct proto_agent_info *ret)
{
	struct proto_agent_info i = { 0 };
	struct rbuf r;
	rbuf_init(&r, data, len);
	i.hostname = rbuf_str(&r, 256);
	i.kernel = rbuf_str(&r, 256);
	i.uuid = rbuf_str(&r, 64);
	i.ncpus = rbuf_u32(&r);
	i.clock_ns = rbuf_u64(&r);
	i.events = rbuf_str(&r, 65536);
	i.version = rbuf_str(&r, 64);
	if (!rbuf_ok(&r) || rbuf_left(&r)) {
		proto_agent_info__release(&i);
		return -EBADMSG;
	}
	proto_sanitize_text(i.hostname);
	proto_sanitize_text(i.kernel);
	proto_sanitize_text(i.uuid);
	proto_sanitize_text(i.events);
	proto_sanitize_text(i.version);
	*ret = i;
	return 0;
}

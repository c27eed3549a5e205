/* Structured protocol messages; see messages.h. */
#include "messages.h"

#include <errno.h>

#include "../util/util.h"
#include "channel.h"

/* A decoder's last word: every field read, nothing left over. */
static int finished(const struct rbuf *r) { return rbuf_ok(r) && !rbuf_left(r) ? 0 : -EBADMSG; }

static char *read_text(struct rbuf *r, size_t max) { return text_sanitize(rbuf_str(r, max)); }

void proto_hello__encode(struct wbuf *w, const struct proto_hello *h)
{
	wbuf_u32(w, PROTO_MAGIC);
	wbuf_u16(w, h->max_version);
	wbuf_u16(w, h->min_version);
	wbuf_u32(w, h->caps);
	wbuf_put(w, h->nonce, PROTO_NONCE_BYTES);
}

int proto_hello__decode(const void *data, size_t len, struct proto_hello *ret)
{
	struct proto_hello h;
	struct rbuf r;
	uint32_t magic;
	rbuf_init(&r, data, len);
	magic = rbuf_u32(&r);
	h.max_version = rbuf_u16(&r);
	h.min_version = rbuf_u16(&r);
	h.caps = rbuf_u32(&r);
	rbuf_get(&r, h.nonce, PROTO_NONCE_BYTES);
	if (finished(&r) < 0 || magic != PROTO_MAGIC)
		return -EBADMSG;
	*ret = h;
	return 0;
}

void proto_hello_reply__encode(struct wbuf *w, const struct proto_hello_reply *h)
{
	wbuf_u32(w, PROTO_MAGIC);
	wbuf_u16(w, h->version);
	wbuf_u32(w, h->caps);
	wbuf_put(w, h->nonce, PROTO_NONCE_BYTES);
	wbuf_put(w, h->proof, PROTO_PROOF_BYTES);
}

int proto_hello_reply__decode(const void *data, size_t len, struct proto_hello_reply *ret)
{
	struct proto_hello_reply h;
	struct rbuf r;
	uint32_t magic;
	rbuf_init(&r, data, len);
	magic = rbuf_u32(&r);
	h.version = rbuf_u16(&r);
	h.caps = rbuf_u32(&r);
	rbuf_get(&r, h.nonce, PROTO_NONCE_BYTES);
	rbuf_get(&r, h.proof, PROTO_PROOF_BYTES);
	if (finished(&r) < 0 || magic != PROTO_MAGIC)
		return -EBADMSG;
	*ret = h;
	return 0;
}

void proto_auth__encode(struct wbuf *w, const unsigned char proof[PROTO_PROOF_BYTES])
{
	wbuf_put(w, proof, PROTO_PROOF_BYTES);
}

int proto_auth__decode(const void *data, size_t len, unsigned char proof[PROTO_PROOF_BYTES])
{
	struct rbuf r;
	rbuf_init(&r, data, len);
	rbuf_get(&r, proof, PROTO_PROOF_BYTES);
	return finished(&r);
}

void proto_agent_info__encode(struct wbuf *w, const struct proto_agent_info *i)
{
	wbuf_str(w, i->hostname);
	wbuf_str(w, i->kernel);
	wbuf_str(w, i->uuid);
	wbuf_u32(w, i->ncpus);
	wbuf_u64(w, i->clock_ns);
	wbuf_str(w, i->events);
	wbuf_str(w, i->version);
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
	i.hostname = read_text(&r, 256);
	i.kernel = read_text(&r, 256);
	i.uuid = read_text(&r, 64);
	i.ncpus = rbuf_u32(&r);
	i.clock_ns = rbuf_u64(&r);
	i.events = read_text(&r, 65536);
	i.version = read_text(&r, 64);
	if (finished(&r) < 0 || i.ncpus == 0 || i.ncpus > PROTO_MAX_GUEST_CPUS) {
		proto_agent_info__release(&i);
		return -EBADMSG;
	}
	*ret = i;
	return 0;
}

void proto_setup__encode(struct wbuf *w, const char *const *events, uint32_t n_events, uint64_t freq, uint64_t period,
			 bool callchain, uint32_t user_stack_size, uint32_t flush_ms)
{
	wbuf_u32(w, n_events);
	for (uint32_t i = 0; i < n_events; i++)
		wbuf_str(w, events[i]);
	wbuf_u64(w, freq);
	wbuf_u64(w, period);
	wbuf_u8(w, !callchain ? 0 : user_stack_size ? 2 : 1);
	wbuf_u32(w, flush_ms);
	if (callchain && user_stack_size)
		wbuf_u32(w, user_stack_size);
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
		s.events[i] = read_text(&r, 1024);
		s.n_events = i + 1;
		if (!s.events[i])
			break;
	}
	s.freq = rbuf_u64(&r);
	s.period = rbuf_u64(&r);
	cc = rbuf_u8(&r);
	s.flush_ms = rbuf_u32(&r);
	if (cc == 2) {
		s.user_stack_size = rbuf_u32(&r);
		if (s.user_stack_size < PROTO_MIN_USER_STACK || s.user_stack_size > PROTO_MAX_USER_STACK ||
		    s.user_stack_size % 8)
			cc = 0xff;
	}
	if (finished(&r) < 0 || cc > 2 || s.flush_ms < 50 || s.flush_ms > 10000 || (!s.freq && !s.period) ||
	    s.freq > 1000000) {
		proto_setup__release(&s);
		return -EBADMSG;
	}
	s.callchain = cc != 0;
	*ret = s;
	return 0;
}

void proto_setup_ok__encode(struct wbuf *w, const char *const *events, uint32_t n_events)
{
	wbuf_u32(w, n_events);
	for (uint32_t i = 0; i < n_events; i++)
		wbuf_str(w, events[i]);
}

void proto_setup_ok__release(char **events, uint32_t n_events)
{
	for (uint32_t i = 0; events && i < n_events; i++)
		free(events[i]);
	free(events);
}

int proto_setup_ok__decode(const void *data, size_t len, uint32_t n_events, char ***ret_events)
{
	struct rbuf r;
	char **events;
	rbuf_init(&r, data, len);
	if (rbuf_u32(&r) != n_events || !rbuf_ok(&r) || n_events > PROTO_MAX_EVENTS)
		return -EBADMSG;
	events = xcalloc(n_events ? n_events : 1, sizeof(char *));
	for (uint32_t i = 0; i < n_events && rbuf_ok(&r); i++)
		events[i] = read_text(&r, 1024);
	if (finished(&r) < 0) {
		proto_setup_ok__release(events, n_events);
		return -EBADMSG;
	}
	*ret_events = events;
	return 0;
}

void proto_u64__encode(struct wbuf *w, uint64_t v) { wbuf_u64(w, v); }

int proto_u64__decode(const void *data, size_t len, uint64_t *ret)
{
	struct rbuf r;
	uint64_t v;
	rbuf_init(&r, data, len);
	v = rbuf_u64(&r);
	if (finished(&r) < 0)
		return -EBADMSG;
	*ret = v;
	return 0;
}

void proto_pong__encode(struct wbuf *w, uint64_t echoed, uint64_t agent_ns)
{
	wbuf_u64(w, echoed);
	wbuf_u64(w, agent_ns);
}

int proto_pong__decode(const void *data, size_t len, uint64_t *ret_echoed, uint64_t *ret_agent_ns)
{
	struct rbuf r;
	uint64_t echoed, agent_ns;
	rbuf_init(&r, data, len);
	echoed = rbuf_u64(&r);
	agent_ns = rbuf_u64(&r);
	if (finished(&r) < 0)
		return -EBADMSG;
	*ret_echoed = echoed;
	*ret_agent_ns = agent_ns;
	return 0;
}

int proto_empty__decode(const void *data, size_t len)
{
	(void)data;
	return len ? -EBADMSG : 0;
}

void proto_error__encode(struct wbuf *w, const char *message) { wbuf_str(w, message); }

int proto_error__decode(const void *data, size_t len, char **ret_message)
{
	struct rbuf r;
	char *msg;
	rbuf_init(&r, data, len);
	msg = read_text(&r, PROTO_MAX_ERROR);
	if (finished(&r) < 0) {
		free(msg);
		return -EBADMSG;
	}
	*ret_message = msg;
	return 0;
}

void proto_final__encode(struct wbuf *w, uint64_t samples, uint64_t lost)
{
	wbuf_u64(w, samples);
	wbuf_u64(w, lost);
}

int proto_final__decode(const void *data, size_t len, uint64_t *ret_samples, uint64_t *ret_lost)
{
	return proto_pong__decode(data, len, ret_samples, ret_lost); /* the same two u64 */
}

void proto_kallsyms__encode(struct wbuf *w, const char *text, size_t len) { wbuf_put(w, text, len); }

/* A guest's kallsyms text with every field sanitized: newlines and tabs
 * are its structure (lines, "name\t[module]") and stay. */
char *proto_kallsyms__decode(const void *data, size_t len, size_t *ret_len)
{
	const char *text = data;
	char *out = xmalloc(len + 1);
	size_t w = 0;
	for (size_t p = 0; p < len;) {
		size_t e = p, n;
		while (e < len && text[e] != '\n' && text[e] != '\t')
			e++;
		n = e - p;
		memcpy(out + w, text + p, n);
		for (size_t i = 0; i < n; i++)
			if (!out[w + i])
				out[w + i] = '?';
		out[w + n] = '\0';
		w += strlen(text_sanitize(out + w));
		if (e < len)
			out[w++] = text[e];
		p = e + 1;
	}
	out[w] = '\0';
	*ret_len = w;
	return out;
}

void proto_code__encode_count(struct wbuf *w, size_t at, uint32_t n)
{
	for (int i = 0; i < 4; i++)
		w->data[at + (size_t)i] = (unsigned char)(n >> (8 * i));
}

void proto_code__encode(struct wbuf *w, const struct symbol_code *codes, size_t n)
{
	size_t at = w->len;
	wbuf_u32(w, 0);
	for (size_t i = 0; i < n; i++)
		proto_code__encode_one(w, &codes[i]);
	proto_code__encode_count(w, at, (uint32_t)n);
}

void proto_code__encode_one(struct wbuf *w, const struct symbol_code *sc)
{
	wbuf_u32(w, sc->symbol);
	wbuf_u64(w, sc->address);
	wbuf_blob(w, sc->code, sc->len);
	wbuf_u32(w, (uint32_t)sc->n_lines);
	for (size_t i = 0; i < sc->n_lines; i++) {
		wbuf_u64(w, sc->lines[i].address);
		wbuf_str(w, sc->lines[i].file);
		wbuf_u32(w, (uint32_t)sc->lines[i].line);
	}
}

/* One pass over a CODE message: validate it (read only) and add up what
 * keeping it costs; or, with out set, fill out (sized by the first pass). */
static int code_pass(const void *data, size_t len, uint32_t max_symbol, struct symbol_code *out, uint64_t *ret_cost)
{
	struct rbuf r;
	uint32_t n;
	uint64_t cost;
	rbuf_init(&r, data, len);
	n = rbuf_u32(&r);
	if (!rbuf_ok(&r) || n > PROTO_MAX_CODE_SYMBOLS)
		return -EBADMSG;
	cost = (uint64_t)n * sizeof(struct symbol_code) + PROTO_ALLOC_OVERHEAD;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t sym = rbuf_u32(&r), n_lines;
		uint64_t address = rbuf_u64(&r);
		size_t code_len = 0;
		const unsigned char *code = rbuf_blob(&r, PROTO_MAX_CODE, &code_len);
		n_lines = rbuf_u32(&r);
		if (!rbuf_ok(&r) || !sym || sym > max_symbol || n_lines > PROTO_MAX_CODE_LINES)
			return -EBADMSG;
		cost += code_len + (uint64_t)n_lines * sizeof(struct code_line) + 2 * PROTO_ALLOC_OVERHEAD;
		if (out) {
			out[i] = (struct symbol_code){ .symbol = sym, .address = address, .len = code_len };
			out[i].code = xmalloc(code_len ? code_len : 1);
			memcpy(out[i].code, code, code_len);
			out[i].lines = xcalloc(n_lines ? n_lines : 1, sizeof(*out[i].lines));
		}
		for (uint32_t j = 0; j < n_lines; j++) {
			uint64_t a = rbuf_u64(&r);
			size_t file_len = 0;
			const unsigned char *file = rbuf_blob(&r, 4096, &file_len);
			uint32_t line = rbuf_u32(&r);
			if (!rbuf_ok(&r) || memchr(file, '\0', file_len) || line > INT32_MAX)
				return -EBADMSG;
			cost += file_len + 1 + PROTO_ALLOC_OVERHEAD;
			if (out) {
				out[i].lines[j] = (struct code_line){ a, text_sanitize(xstrndup((const char *)file, file_len)),
								      (int)line };
				out[i].n_lines++;
			}
		}
	}
	if (finished(&r) < 0)
		return -EBADMSG;
	*ret_cost = cost;
	return 0;
}

int proto_code__decode(const void *data, size_t len, uint32_t max_symbol, struct proto_budget *budget,
		       struct symbol_code **ret, size_t *ret_n, uint64_t *ret_cost)
{
	struct rbuf r;
	struct symbol_code *codes;
	uint64_t cost;
	uint32_t n;
	int rc = code_pass(data, len, max_symbol, NULL, &cost);
	if (rc < 0)
		return rc;
	if (!proto_budget__charge(budget, cost))
		return -ENOBUFS;
	rbuf_init(&r, data, len);
	n = rbuf_u32(&r);
	codes = xcalloc(n ? n : 1, sizeof(*codes));
	code_pass(data, len, max_symbol, codes, &cost); /* cannot fail: validated above */
	*ret = codes;
	*ret_n = n;
	*ret_cost = cost;
	return 0;
}

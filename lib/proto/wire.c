/* Little-endian field encoding; see wire.h. */
#include "wire.h"

#include <string.h>

#include "../util/util.h"

void wbuf_init(struct wbuf *w) { memset(w, 0, sizeof(*w)); }
void wbuf_release(struct wbuf *w)
{
	free(w->data);
	wbuf_init(w);
}
void wbuf_reset(struct wbuf *w) { w->len = 0; }

void wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		w->data = xrealloc(w->data, cap);
		w->cap = cap;
	}
	if (n && p)
		memcpy(w->data + w->len, p, n);
	else if (n)
		memset(w->data + w->len, 0, n); /* reserve: the caller fills it */
	w->len += n;
}

void wbuf_u8(struct wbuf *w, uint8_t v) { wbuf_put(w, &v, 1); }

void wbuf_u16(struct wbuf *w, uint16_t v)
{
	unsigned char b[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	wbuf_put(w, b, 2);
}

void wbuf_u32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	wbuf_put(w, b, 4);
}

void wbuf_u64(struct wbuf *w, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	wbuf_put(w, b, 8);
}

void wbuf_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	wbuf_u32(w, (uint32_t)n);
	wbuf_put(w, s, n);
}

void wbuf_blob(struct wbuf *w, const void *p, size_t n)
{
	wbuf_u32(w, (uint32_t)n);
	wbuf_put(w, p, n);
}

void rbuf_init(struct rbuf *r, const void *data, size_t len)
{
	static const unsigned char empty[1];
	r->p = data ? data : empty;
	r->end = r->p + (data ? len : 0);
	r->error = false;
}

static const unsigned char *take(struct rbuf *r, size_t n)
{
	const unsigned char *p;
	if (r->error || (size_t)(r->end - r->p) < n) {
		r->error = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

uint8_t rbuf_u8(struct rbuf *r)
{
	const unsigned char *p = take(r, 1);
	return p ? p[0] : 0;
}

uint16_t rbuf_u16(struct rbuf *r)
{
	const unsigned char *p = take(r, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t rbuf_u32(struct rbuf *r)
{
	const unsigned char *p = take(r, 4);
	uint32_t v = 0;
	if (p)
		for (int i = 3; i >= 0; i--)
			v = v << 8 | p[i];
	return v;
}

uint64_t rbuf_u64(struct rbuf *r)
{
	const unsigned char *p = take(r, 8);
	uint64_t v = 0;
	if (p)
		for (int i = 7; i >= 0; i--)
			v = v << 8 | p[i];
	return v;
}

bool rbuf_get(struct rbuf *r, void *out, size_t n)
{
	const unsigned char *p = take(r, n);
	if (!p)
		return false;
	memcpy(out, p, n);
	return true;
}

char *rbuf_str(struct rbuf *r, size_t max)
{
	uint32_t n = rbuf_u32(r);
	const unsigned char *p;
	if (r->error || n > max) {
		r->error = true;
		return NULL;
	}
	p = take(r, n);
	if (!p || memchr(p, '\0', n)) {
		r->error = true;
		return NULL;
	}
	return xstrndup((const char *)p, n);
}

const char *rbuf_str_view(struct rbuf *r, size_t max, size_t *len)
{
	const unsigned char *p = rbuf_blob(r, max, len);
	if (p && memchr(p, '\0', *len)) {
		r->error = true;
		return NULL;
	}
	return (const char *)p;
}

const unsigned char *rbuf_blob(struct rbuf *r, size_t max, size_t *len)
{
	uint32_t n = rbuf_u32(r);
	if (r->error || n > max) {
		r->error = true;
		return NULL;
	}
	*len = n;
	return take(r, n);
}

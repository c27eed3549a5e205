/* wire: little-endian encoding and bounds-checked decoding of protocol
 * messages (docs/protocol.md). A wbuf grows as fields are appended; an
 * rbuf reads fields from untrusted bytes and latches an error on the first
 * field that does not fit, so a decoder can read everything and check
 * rbuf_ok() once at the end without ever reading out of bounds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wbuf {
	unsigned char *data;
	size_t len, cap;
};

void wbuf_init(struct wbuf *w);
void wbuf_release(struct wbuf *w);
void wbuf_reset(struct wbuf *w);
/* Append n bytes of p; with p NULL, append n zero bytes to fill in place. */
void wbuf_put(struct wbuf *w, const void *p, size_t n);
void wbuf_u8(struct wbuf *w, uint8_t v);
void wbuf_u16(struct wbuf *w, uint16_t v);
void wbuf_u32(struct wbuf *w, uint32_t v);
void wbuf_u64(struct wbuf *w, uint64_t v);
/* u32 length + bytes (no NUL). NULL is written as an empty string. */
void wbuf_str(struct wbuf *w, const char *s);
void wbuf_blob(struct wbuf *w, const void *p, size_t n);

struct rbuf {
	const unsigned char *p, *end;
	bool error;
};

void rbuf_init(struct rbuf *r, const void *data, size_t len);
static inline bool rbuf_ok(const struct rbuf *r) { return !r->error; }
static inline size_t rbuf_left(const struct rbuf *r) { return r->error ? 0 : (size_t)(r->end - r->p); }
uint8_t rbuf_u8(struct rbuf *r);
uint16_t rbuf_u16(struct rbuf *r);
uint32_t rbuf_u32(struct rbuf *r);
uint64_t rbuf_u64(struct rbuf *r);
bool rbuf_get(struct rbuf *r, void *out, size_t n);
/* A string of at most max bytes, returned NUL-terminated (to free), with
 * NUL bytes inside rejected. NULL (and the error latched) when invalid. */
char *rbuf_str(struct rbuf *r, size_t max);
/* The same string without a copy: a pointer into the buffer (not
 * NUL-terminated), its length in *len; NULL and the error latched when
 * longer than max or holding a NUL. */
const char *rbuf_str_view(struct rbuf *r, size_t max, size_t *len);
/* A blob of at most max bytes: pointer into the buffer, length in *len. */
const unsigned char *rbuf_blob(struct rbuf *r, size_t max, size_t *len);

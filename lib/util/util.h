/* Small helpers shared by every part of domprof: allocation that cannot
 * fail (an out-of-memory profiler has nothing better to do than stop), a
 * growable string buffer, scope-exit cleanup, hashing and time. Nothing here
 * prints except the allocation failure path. */
#pragma once

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED __attribute__((unused))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF(1, 0);

/* Grow *items (of *cap elements of size elem) so that index need-1 fits. */
void grow_array(void **items, size_t *cap, size_t need, size_t elem);
#define ARRAY_GROW(arr, cap, need) grow_array((void **)&(arr), &(cap), (need), sizeof(*(arr)))
/* An array of cap rows holding n: given back down to 2n when n is under
 * a quarter, so that a table that was once large (a session's
 * rows, a registry's images) does not keep its room for good. */
#define ARRAY_SHRINK(arr, cap, n)                                               \
	do {                                                                    \
		if ((n) < (cap) / 4) {                                          \
			(cap) = (n) ? 2 * (n) : 0;                              \
			(arr) = (cap) ? xrealloc((arr), (cap) * sizeof(*(arr))) \
				      : (free(arr), NULL);                      \
		}                                                               \
	} while (0)

static inline void freep(void *p) { free(*(void **)p); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* strbuf: a NUL-terminated growable string. Invariant: buf is never NULL
 * after strbuf_init, buf[len] == '\0'. */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};
void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const void *data, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Hand the buffer to the caller; sb is left released (strbuf_init it to reuse). */
char *strbuf_detach(struct strbuf *sb);

/* Library code's "fail with -errno and say why": sets *ret_error (when
 * ret_error is not NULL) to the formatted message, returns r. */
int fail_with(char **ret_error, int r, const char *fmt, ...) PRINTF(3, 4);

/* Whole-file read; returns 0 or -errno. *ret is NUL-terminated. */
int read_file(const char *path, char **ret, size_t *ret_len);
int write_file(const char *path, const void *data, size_t len);

/* The one way domprof writes a file that others read (a report, an
 * export, stat's counts, a key): under a temporary name in the same
 * directory, renamed over the target only when complete, so a failed or
 * interrupted run never leaves half a file where the whole one belongs.
 * Write to f between open and commit; abort (or a failed commit) removes
 * the temporary file. */
struct atomic_file {
	FILE *f;
	char *path; /* the target */
	char *tmp;  /* the temporary name, NULL once committed or aborted */
};
/* Create the temporary file with mode (less the umask). 0 or -errno;
 * nothing to release on failure. */
int atomic_file__open(struct atomic_file *af, const char *path, mode_t mode);
/* Close and rename into place: over an existing target when replace, else
 * -EEXIST when the target exists (it is then left as it was). 0 or
 * -errno; af is released either way. */
int atomic_file__commit(struct atomic_file *af, bool replace);
/* Close and remove the temporary file. Accepts NULL and a released af. */
void atomic_file__abort(struct atomic_file *af);

uint64_t hash_bytes(const void *data, size_t n, uint64_t seed);
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}
static inline uint64_t hash_mix(uint64_t h, uint64_t v) { return hash_u64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6))); }
static inline uint64_t hash_str(const char *s) { return hash_bytes(s, strlen(s), 0); }

uint64_t clock_monotonic_ns(void);
/* CPU time of the calling thread, and of the whole process (user +
 * system, getrusage; 0 when unknown), in ns. */
uint64_t clock_thread_cpu_ns(void);
uint64_t process_cpu_ns(void);
/* Sleep until CLOCK_MONOTONIC reaches ns, or until *stop (a signal flag;
 * NULL for none) is set by a signal that interrupts the sleep. */
void clock_sleep_until(uint64_t ns, const volatile sig_atomic_t *stop);

/* Number parsing that rejects trailing junk; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, int base, uint64_t *ret);
/* The thread ids of process pid from /proc/PID/task (malloc'ed, at least
 * one); -ESRCH when there is no such process. */
int proc_threads(pid_t pid, pid_t **ret, size_t *ret_n);
int parse_double(const char *s, double *ret);

/* Human-readable byte size ("1.2 MiB"), into buf. */
const char *format_bytes(uint64_t n, char *buf, size_t size);

/* The one sanitizer for text from elsewhere (a guest's names, paths and
 * messages at the protocol boundary; any string a text writer prints):
 * replaces, in place, every C0/C1 control and DEL, every bidirectional
 * formatting character (U+061C, U+200E/F, U+202A-E, U+2066-9), the line
 * and paragraph separators (U+2028/9) and every byte that is not part of
 * valid UTF-8 by one '?'. The result is never longer. Returns s. */
char *text_sanitize(char *s);
/* The character at s (not at its end): its length in bytes (1 for a byte
 * that is not valid UTF-8) and whether text_sanitize keeps it. */
size_t text_char(const char *s, bool *ret_safe);
/* true when text_sanitize would change nothing. */
bool text_is_safe(const char *s);
/* A sanitized copy (of "" for NULL), to free. */
char *text_safe_dup(const char *s);
/* Append s sanitized: for text meant for a terminal. */
void strbuf_add_text(struct strbuf *sb, const char *s);

/* Append s to sb as one CSV cell (RFC 4180), sanitized; a cell a
 * spreadsheet would evaluate (leading = + - @, tab or CR) gets a leading
 * apostrophe (docs/report-formats.md). */
void strbuf_add_csv(struct strbuf *sb, const char *s);
/* Append s as a JSON string: invalid UTF-8 becomes U+FFFD, controls and
 * bidi characters are \u-escaped. */
void strbuf_add_json(struct strbuf *sb, const char *s);

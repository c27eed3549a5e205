/* Implementation of the shared helpers declared in util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "domprof: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");
	if (!r)
		oom(strlen(s));
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (!r)
		oom(n);
	return r;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *r;
	if (vasprintf(&r, fmt, ap) < 0)
		oom(strlen(fmt));
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	va_start(ap, fmt);
	r = xvasprintf(fmt, ap);
	va_end(ap);
	return r;
}

int fail_with(char **ret_error, int r, const char *fmt, ...)
{
	if (ret_error) {
		va_list ap;
		va_start(ap, fmt);
		*ret_error = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return r;
}

void grow_array(void **items, size_t *cap, size_t need, size_t elem)
{
	size_t n;
	if (need <= *cap)
		return;
	n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	*items = xrealloc(*items, n * elem);
	memset((char *)*items + *cap * elem, 0, (n - *cap) * elem);
	*cap = n;
}

void strbuf_init(struct strbuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->buf = xmalloc(sb->cap);
	sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->buf[0] = '\0';
}

static void strbuf_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	while (sb->len + extra + 1 > sb->cap)
		sb->cap *= 2;
	sb->buf = xrealloc(sb->buf, sb->cap);
}

void strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
	strbuf_reserve(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s) { strbuf_add(sb, s, strlen(s)); }

void strbuf_addc(struct strbuf *sb, char c) { strbuf_add(sb, &c, 1); }

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n + 1 > sb->cap - sb->len) {
		strbuf_reserve(sb, n);
		vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	}
	sb->len += n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *strbuf_detach(struct strbuf *sb)
{
	char *r = sb->buf;
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return r;
}

int read_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb;
	char tmp[65536];
	ssize_t n;

	if (fd < 0)
		return -errno;
	strbuf_init(&sb);
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			strbuf_release(&sb);
			return (int)n;
		}
		if (n == 0)
			break;
		strbuf_add(&sb, tmp, n);
	}
	close(fd);
	if (ret_len)
		*ret_len = sb.len;
	*ret = sb.buf;
	return 0;
}

int atomic_file__open(struct atomic_file *af, const char *path, mode_t mode)
{
	mode_t mask;
	int fd;

	memset(af, 0, sizeof(*af));
	af->tmp = xasprintf("%s.XXXXXX", path);
	fd = mkostemp(af->tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		free(af->tmp);
		af->tmp = NULL;
		return r;
	}
	/* mkostemp makes the file private; the mode is the caller's, as
	 * open(2) would have applied it. */
	mask = umask(0);
	umask(mask);
	af->f = fdopen(fd, "w");
	if (fchmod(fd, mode & ~mask) < 0 || !af->f) {
		int r = -errno;
		if (!af->f)
			close(fd);
		atomic_file__abort(af);
		return r;
	}
	af->path = xstrdup(path);
	return 0;
}

/* rename(2) that never replaces: RENAME_NOREPLACE where the file system
 * has it, else a hard link (which fails on an existing target) and an
 * unlink of the old name. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(from, to) < 0)
		return -errno;
	unlink(from);
	return 0;
}

int atomic_file__commit(struct atomic_file *af, bool replace)
{
	int r = 0;
	if (fflush(af->f) != 0)
		r = -errno;
	else if (ferror(af->f))
		r = -EIO; /* a write failed earlier; its errno is gone */
	if (fclose(af->f) != 0 && r == 0)
		r = -errno;
	af->f = NULL;
	if (r == 0)
		r = replace ? (rename(af->tmp, af->path) < 0 ? -errno : 0) : rename_noreplace(af->tmp, af->path);
	if (r < 0) {
		atomic_file__abort(af);
		return r;
	}
	free(af->tmp);
	free(af->path);
	af->tmp = af->path = NULL;
	return 0;
}

void atomic_file__abort(struct atomic_file *af)
{
	if (!af)
		return;
	if (af->f)
		fclose(af->f);
	if (af->tmp)
		unlink(af->tmp);
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof(*af));
}

int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		p += n;
		len -= n;
	}
	if (close(fd) < 0)
		return -errno;
	return 0;
}

uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	/* FNV-1a over 8-byte words, finished with a 64-bit mixer. */
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return hash_u64(h);
}

uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t clock_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t process_cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

void clock_sleep_until(uint64_t ns, const volatile sig_atomic_t *stop)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !(stop && *stop))
		;
}

int parse_u64(const char *s, int base, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno)
		return -errno;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_double(const char *s, double *ret)
{
	char *end;
	double v;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno)
		return -errno;
	if (*end || isnan(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

const char *format_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	unsigned u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

/* The valid UTF-8 sequence at p (NUL-terminated): its length (1 for
 * ASCII) and code point; 0 when invalid (a stray continuation byte, a
 * truncated, overlong or surrogate sequence, or beyond U+10FFFF). */
static size_t utf8_decode(const unsigned char *p, uint32_t *ret_cp)
{
	size_t n;
	uint32_t cp;
	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* a NUL ends the string here too */
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

/* What must never reach a terminal or a reader raw: C0 and C1 controls
 * (the 8-bit CSI U+009B drives terminals as ESC [ does), DEL, the Unicode
 * line and paragraph separators, and the invisible bidirectional
 * formatting characters (embeddings, overrides, isolates, marks) that
 * reorder what a line appears to say. */
static bool unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t text_char(const char *s, bool *ret_safe)
{
	uint32_t cp;
	size_t n = utf8_decode((const unsigned char *)s, &cp);
	*ret_safe = n && !unsafe_code_point(cp);
	return n ? n : 1;
}

static bool printable_ascii(unsigned char c) { return c >= 0x20 && c < 0x7f; }

char *text_sanitize(char *s)
{
	unsigned char *r = (unsigned char *)s, *w;
	if (!s)
		return NULL;
	/* Printable ASCII, nearly everything, stays where it is. */
	while (printable_ascii(*r))
		r++;
	w = r;
	while (*r) {
		uint32_t cp;
		size_t n;
		if (printable_ascii(*r)) {
			*w++ = *r++;
			continue;
		}
		n = utf8_decode(r, &cp);
		if (n == 0 || unsafe_code_point(cp)) {
			*w++ = '?';
			r += n ? n : 1;
			continue;
		}
		memmove(w, r, n);
		w += n;
		r += n;
	}
	*w = '\0';
	return s;
}

bool text_is_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (p && *p) {
		uint32_t cp;
		size_t n = utf8_decode(p, &cp);
		if (n == 0 || unsafe_code_point(cp))
			return false;
		p += n;
	}
	return true;
}

char *text_safe_dup(const char *s) { return text_sanitize(xstrdup(s ? s : "")); }

void strbuf_add_text(struct strbuf *sb, const char *s)
{
	size_t at = sb->len;
	strbuf_adds(sb, s ? s : "");
	text_sanitize(sb->buf + at);
	sb->len = at + strlen(sb->buf + at);
}

void strbuf_add_csv(struct strbuf *sb, const char *s)
{
	_cleanup_free_ char *v = text_safe_dup(s);
	/* A spreadsheet evaluates a cell that starts like a formula (or with
	 * a tab or CR before one): a leading apostrophe makes it text. */
	bool formula = v[0] && strchr("=+-@\t\r", v[0]);
	if (!formula && !strpbrk(v, ",\"")) {
		strbuf_adds(sb, v);
		return;
	}
	strbuf_addc(sb, '"');
	if (formula)
		strbuf_addc(sb, '\'');
	for (const char *c = v; *c; c++) {
		if (*c == '"')
			strbuf_addc(sb, '"');
		strbuf_addc(sb, *c);
	}
	strbuf_addc(sb, '"');
}

void strbuf_add_json(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	strbuf_addc(sb, '"');
	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, &cp);
		if (n == 0) {
			/* Not UTF-8 (a hostile or foreign name): keep the JSON valid. */
			strbuf_adds(sb, "\\ufffd");
			p++;
			continue;
		}
		switch (cp) {
		case '"': strbuf_adds(sb, "\\\""); break;
		case '\\': strbuf_adds(sb, "\\\\"); break;
		case '\n': strbuf_adds(sb, "\\n"); break;
		case '\r': strbuf_adds(sb, "\\r"); break;
		case '\t': strbuf_adds(sb, "\\t"); break;
		default:
			/* Controls and bidi characters stay escaped in the text too. */
			if (unsafe_code_point(cp))
				strbuf_addf(sb, "\\u%04x", (unsigned)cp);
			else
				strbuf_add(sb, p, n);
		}
		p += n;
	}
	strbuf_addc(sb, '"');
}

int proc_threads(pid_t pid, pid_t **ret, size_t *ret_n)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	pid_t *tids = NULL;
	size_t n = 0, cap = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		uint64_t t;
		if (parse_u64(de->d_name, 10, &t) < 0)
			continue;
		ARRAY_GROW(tids, cap, n + 1);
		tids[n++] = (pid_t)t;
	}
	closedir(d);
	if (!n) {
		free(tids);
		return -ESRCH;
	}
	*ret = tids;
	*ret_n = n;
	return 0;
}

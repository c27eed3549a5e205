/* An image's line table, on disk per build-id; see line-cache.h.
 *
 * A file, in the machine's own byte order (the cache is this machine's;
 * another order fails the header and the file is rewritten):
 *   header   magic, version, byte-order mark, the debuginfo stamp, a hash
 *            of everything after the header, the counts and sizes below
 *   blocks   per block of up to BLOCK rows: its first row whole (address,
 *            line, file), the offset of the rest in data, its row count
 *   names    per file name: its length (u16), its bytes
 *   data     per block, each further row as deltas: address (ULEB128,
 *            never decreasing), line (SLEB128), file index (ULEB128)
 * The same layout serves a table built in memory, so both are read by the
 * one decoder. */
#define _GNU_SOURCE
#include "line-cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/hmap.h"
#include "../util/util.h"

#define MAGIC "DPLINES2"
#define VERSION 2u
#define BYTE_ORDER_MARK 0x01020304u
#define BLOCK 64u
#define MAX_NAME 4096u
#define MAX_FILES (1u << 20)
/* A file larger than this is not read (a table of MAX_ROWS rows is about
 * half of it). */
#define MAX_FILE (64u << 20)
/* The directory's size, beyond which the least recently used files go. */
#define MAX_DIR (256u << 20)
#define DEBUG_ROOT "/usr/lib/debug/.build-id"

struct stamp {
	uint64_t size;
	int64_t mtime_ns;
	uint32_t exists;
	uint32_t pad;
};

struct header {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;
	struct stamp stamp;
	uint64_t hash; /* of everything after the header */
	uint64_t n_rows;
	uint32_t n_files, n_blocks;
	uint64_t names_len, data_len;
};

_Static_assert(sizeof(struct header) % 8 == 0, "the blocks follow the header 8-aligned");

struct block {
	uint64_t addr;
	uint64_t offset; /* of its further rows in data */
	int32_t line;
	uint32_t file;
	uint32_t n_rows;
	uint32_t pad;
};

struct line_cache {
	char *path; /* NULL: memory only */
	struct stamp stamp;
	bool ready, set;
	unsigned char *buf; /* header, names, blocks, data */
	size_t len;
	struct header h;
	const struct block *blocks;
	const unsigned char *data;
	char **names; /* NUL-terminated copies */
	char *name_buf;
};

char *line_cache__dir(void)
{
	const char *dir = getenv("DOMPROF_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (dir)
		return dir[0] == '/' ? xasprintf("%s/lines", dir) : NULL;
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/domprof/lines", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.cache/domprof/lines", home);
	return NULL;
}

/* Create dir and its missing parents (0700); then it must be a directory
 * of the effective user that nobody else can write. */
static int usable_dir(const char *dir)
{
	_cleanup_free_ char *p = xstrdup(dir);
	struct stat st;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(p, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

static bool is_build_id(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	return len >= 4 && len <= 40 && strspn(s, "0123456789abcdef") == len;
}

static void debug_stamp(const char *debug_root, const char *build_id, struct stamp *ret)
{
	_cleanup_free_ char *path = xasprintf("%s/%.2s/%s.debug", debug_root, build_id, build_id + 2);
	struct stat st;
	memset(ret, 0, sizeof(*ret));
	if (stat(path, &st) < 0)
		return;
	ret->exists = 1;
	ret->size = (uint64_t)st.st_size;
	ret->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static bool read_uleb(const unsigned char **p, const unsigned char *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		unsigned char b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

static bool read_sleb(const unsigned char **p, const unsigned char *end, int64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		unsigned char b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (shift + 7 < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << (shift + 7);
			*ret = (int64_t)v;
			return true;
		}
	}
	return false;
}

/* Encoders into a buffer with room (at most 10 bytes each). */
static unsigned char *put_uleb(unsigned char *p, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		*p++ = (unsigned char)(b | (v ? 0x80 : 0));
	} while (v);
	return p;
}

static unsigned char *put_sleb(unsigned char *p, int64_t v)
{
	for (;;) {
		unsigned char b = (unsigned char)(v & 0x7f);
		v >>= 7; /* arithmetic on every compiler domprof builds with */
		if ((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))) {
			*p++ = b;
			return p;
		}
		*p++ = (unsigned char)(b | 0x80);
	}
}

static void drop_table(struct line_cache *lc)
{
	free(lc->buf);
	free(lc->names);
	free(lc->name_buf);
	lc->buf = NULL;
	lc->names = NULL;
	lc->name_buf = NULL;
	lc->blocks = NULL;
	lc->data = NULL;
	lc->len = 0;
	lc->ready = false;
}

/* Check the table in lc->buf whole and index it: true when it is sound
 * (and current: its stamp is now's). Rows beyond the first of each block
 * are checked as they are decoded. */
static bool index_table(struct line_cache *lc, bool check_hash)
{
	const unsigned char *p = lc->buf, *end = lc->buf + lc->len;
	struct header h;
	uint64_t rows = 0;
	char *at;

	if (lc->len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, MAGIC, 8) || h.version != VERSION || h.byte_order != BYTE_ORDER_MARK ||
	    h.stamp.exists != lc->stamp.exists || h.stamp.size != lc->stamp.size ||
	    h.stamp.mtime_ns != lc->stamp.mtime_ns || h.stamp.pad || h.n_files > MAX_FILES ||
	    h.n_rows > LINE_CACHE_MAX_ROWS || h.n_blocks > h.n_rows || h.names_len > lc->len ||
	    h.data_len > lc->len || (uint64_t)h.n_blocks * sizeof(struct block) > lc->len ||
	    sizeof(h) + h.names_len + (uint64_t)h.n_blocks * sizeof(struct block) + h.data_len != lc->len)
		return false;
	if (check_hash && h.hash != hash_bytes(p + sizeof(h), lc->len - sizeof(h), 0))
		return false;
	p += sizeof(h);

	/* The header keeps the blocks 8-aligned (as malloc does the buffer). */
	lc->blocks = (const struct block *)p;
	for (uint32_t i = 0; i < h.n_blocks; i++) {
		const struct block *b = &lc->blocks[i];
		const struct block *next = i + 1 < h.n_blocks ? b + 1 : NULL;
		if (b->n_rows == 0 || b->n_rows > BLOCK || b->line <= 0 || b->file >= h.n_files || b->pad ||
		    b->offset > h.data_len || (next && (next->addr < b->addr || next->offset < b->offset)))
			return false;
		rows += b->n_rows;
	}
	p += (size_t)h.n_blocks * sizeof(struct block);
	lc->names = xcalloc(h.n_files ? h.n_files : 1, sizeof(*lc->names));
	at = lc->name_buf = xmalloc(h.names_len + h.n_files + 1);
	for (uint32_t i = 0; i < h.n_files; i++) {
		uint16_t n;
		if ((size_t)(end - p) < 2)
			return false;
		memcpy(&n, p, 2);
		p += 2;
		if (n == 0 || n > MAX_NAME || (size_t)(end - p) < n || memchr(p, '\0', n))
			return false;
		memcpy(at, p, n);
		at[n] = '\0';
		lc->names[i] = at;
		at += n + 1;
		p += n;
	}
	if (p != end - h.data_len)
		return false;
	lc->data = p;
	if (rows != h.n_rows)
		return false;
	lc->h = h;
	lc->ready = true;
	return true;
}

/* The file under fd whole into lc->buf, or nothing. */
static void read_table(struct line_cache *lc, int fd)
{
	struct stat st;
	size_t got = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
	    st.st_size > MAX_FILE || (size_t)st.st_size < sizeof(struct header))
		return;
	lc->buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, lc->buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	lc->len = got;
	if (got != (size_t)st.st_size || !index_table(lc, true)) {
		drop_table(lc);
		return;
	}
	/* Used now: the last to go when the directory is trimmed. */
	futimens(fd, NULL);
}

struct line_cache *line_cache__open_at(const char *dir, const char *debug_root, const char *build_id)
{
	struct line_cache *lc = xcalloc(1, sizeof(*lc));
	int fd;
	if (!dir || !is_build_id(build_id) || usable_dir(dir) < 0)
		return lc;
	lc->path = xasprintf("%s/%s", dir, build_id);
	debug_stamp(debug_root, build_id, &lc->stamp);
	fd = open(lc->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		read_table(lc, fd);
		close(fd);
	}
	return lc;
}

struct line_cache *line_cache__open(const char *build_id)
{
	_cleanup_free_ char *dir = line_cache__dir();
	return line_cache__open_at(dir, DEBUG_ROOT, build_id);
}

bool line_cache__persistent(const struct line_cache *lc)
{
	return lc && lc->path;
}

bool line_cache__ready(const struct line_cache *lc)
{
	return lc && lc->ready;
}

bool line_cache__empty(const struct line_cache *lc)
{
	return line_cache__ready(lc) && lc->h.n_rows == 0;
}

void line_cache__drop(struct line_cache *lc)
{
	if (lc)
		drop_table(lc);
}

struct row {
	uint64_t addr;
	int32_t line;
	uint32_t file;
};

/* Stable LSD radix sort of rows by address, over the bytes in which the
 * addresses differ (three for a library of a few MiB): stable, so rows of
 * one address keep the DWARF's order; and far cheaper than qsort, which
 * was a third of a first recording's CPU on libc's 290,000 rows. */
static void sort_rows(struct row **rows, size_t n)
{
	struct row *a = *rows, *b;
	uint64_t lo = UINT64_MAX, hi = 0, differ;
	if (n < 2)
		return;
	for (size_t i = 0; i < n; i++) {
		lo = MIN(lo, a[i].addr);
		hi = MAX(hi, a[i].addr);
	}
	differ = lo ^ hi;
	b = xmalloc(n * sizeof(*b));
	for (unsigned shift = 0; shift < 64 && (differ >> shift); shift += 8) {
		size_t count[257] = { 0 };
		for (size_t i = 0; i < n; i++)
			count[((a[i].addr >> shift) & 0xff) + 1]++;
		for (size_t d = 1; d < 257; d++)
			count[d] += count[d - 1];
		for (size_t i = 0; i < n; i++)
			b[count[(a[i].addr >> shift) & 0xff]++] = a[i];
		{
			struct row *t = a;
			a = b;
			b = t;
		}
	}
	free(b);
	*rows = a;
}

bool line_cache__set(struct line_cache *lc, const struct cached_line *lines, size_t n)
{
	struct header h = { .version = VERSION, .byte_order = BYTE_ORDER_MARK };
	struct strbuf names, blocks;
	unsigned char *data, *at;
	struct hmap index;
	const char **files = NULL;
	size_t n_files = 0, files_cap = 0;
	struct row *rows;

	if (n > LINE_CACHE_MAX_ROWS)
		return false;
	drop_table(lc);
	strbuf_init(&names);
	strbuf_init(&blocks);
	at = data = xmalloc(n * 30 + 1); /* a row's three numbers: at most 10 bytes each */
	hmap_init(&index);
	rows = xmalloc((n ? n : 1) * sizeof(*rows));
	/* Each distinct name once: compile units repeat their headers'. */
	for (size_t i = 0; i < n; i++) {
		const char *file = lines[i].file;
		size_t len, pos;
		uint64_t hash;
		uint32_t f = UINT32_MAX;
		if (lines[i].line <= 0)
			goto fail;
		/* A compile unit's rows name its few files by one pointer each. */
		if (i > 0 && file == lines[i - 1].file) {
			rows[i] = (struct row){ lines[i].addr, lines[i].line, rows[i - 1].file };
			continue;
		}
		len = strlen(file);
		hash = hash_bytes(file, len, 0);
		for (pos = hmap_first(&index, hash);; pos = hmap_next(&index, pos)) {
			uint32_t idx;
			if (!hmap_candidate(&index, pos, hash, &idx))
				break;
			if (idx != UINT32_MAX && streq(files[idx], file)) {
				f = idx;
				break;
			}
		}
		if (f == UINT32_MAX) {
			uint16_t n16 = (uint16_t)MIN(len, MAX_NAME);
			if (n_files == MAX_FILES || len == 0)
				goto fail;
			ARRAY_GROW(files, files_cap, n_files + 1);
			files[n_files] = file;
			f = (uint32_t)n_files++;
			hmap_insert_at(&index, pos, hash, f);
			strbuf_add(&names, &n16, 2);
			strbuf_add(&names, file, n16);
		}
		rows[i] = (struct row){ lines[i].addr, lines[i].line, f };
	}
	sort_rows(&rows, n);
	for (size_t i = 0; i < n; i += BLOCK) {
		struct block b = { rows[i].addr, (uint64_t)(at - data), rows[i].line, rows[i].file,
				   (uint32_t)MIN(BLOCK, n - i), 0 };
		strbuf_add(&blocks, &b, sizeof(b));
		for (size_t j = i + 1; j < i + b.n_rows; j++) {
			at = put_uleb(at, rows[j].addr - rows[j - 1].addr);
			at = put_sleb(at, (int64_t)rows[j].line - rows[j - 1].line);
			at = put_uleb(at, rows[j].file);
		}
	}
	memcpy(h.magic, MAGIC, 8);
	h.stamp = lc->stamp;
	h.n_rows = n;
	h.n_files = (uint32_t)n_files;
	h.n_blocks = (uint32_t)(blocks.len / sizeof(struct block));
	h.names_len = names.len;
	h.data_len = (uint64_t)(at - data);
	lc->len = sizeof(h) + names.len + blocks.len + h.data_len;
	lc->buf = xmalloc(lc->len);
	memcpy(lc->buf + sizeof(h), blocks.buf, blocks.len);
	memcpy(lc->buf + sizeof(h) + blocks.len, names.buf, names.len);
	memcpy(lc->buf + sizeof(h) + blocks.len + names.len, data, h.data_len);
	h.hash = hash_bytes(lc->buf + sizeof(h), lc->len - sizeof(h), 0);
	memcpy(lc->buf, &h, sizeof(h));
	lc->set = index_table(lc, false);
	if (!lc->set)
		drop_table(lc);
	goto out;
fail:
	lc->set = false;
out:
	free(rows);
	free(files);
	hmap_release(&index);
	strbuf_release(&names);
	strbuf_release(&blocks);
	free(data);
	return lc->set;
}

size_t line_cache__lines(const struct line_cache *lc, uint64_t start, uint64_t size,
			 void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx)
{
	size_t lo = 0, hi, found = 0;
	if (!lc || !lc->ready || !lc->h.n_blocks)
		return 0;
	/* The last block starting at or before start (rows of one address
	 * may straddle blocks: step back over equal first addresses). */
	hi = lc->h.n_blocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lc->blocks[mid].addr < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		lo--;
	for (size_t b = lo; b < lc->h.n_blocks; b++) {
		const struct block *bl = &lc->blocks[b];
		const unsigned char *p = lc->data + bl->offset;
		const unsigned char *end = b + 1 < lc->h.n_blocks ? lc->data + bl[1].offset : lc->data + lc->h.data_len;
		uint64_t addr = bl->addr;
		int64_t line = bl->line;
		uint64_t file = bl->file;
		if (addr >= start + size)
			break;
		for (uint32_t r = 0; r < bl->n_rows; r++) {
			if (r > 0) {
				uint64_t da, f;
				int64_t dl;
				if (!read_uleb(&p, end, &da) || !read_sleb(&p, end, &dl) || !read_uleb(&p, end, &f) ||
				    addr + da < addr || f >= lc->h.n_files || line + dl <= 0 || line + dl > INT32_MAX)
					return found; /* damaged: what was sound so far */
				addr += da;
				line += dl;
				file = f;
			}
			if (addr >= start + size)
				return found;
			if (addr >= start) {
				fn(addr, lc->names[file], (int)line, ctx);
				found++;
			}
		}
	}
	return found;
}

struct cache_file {
	char *name;
	off_t size;
	struct timespec mtime;
};

static int cache_file_cmp(const void *a, const void *b)
{
	const struct cache_file *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

/* The least recently used tables out of dir until it holds MAX_DIR. Only
 * names a table can have are counted or removed. */
static void trim_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct cache_file *files = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (!is_build_id(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		ARRAY_GROW(files, cap, n + 1);
		files[n++] = (struct cache_file){ xstrdup(de->d_name), st.st_size, st.st_mtim };
		total += (uint64_t)st.st_size;
	}
	if (total > MAX_DIR) {
		qsort(files, n, sizeof(*files), cache_file_cmp);
		for (size_t i = 0; i < n && total > MAX_DIR; i++)
			if (unlinkat(dirfd(d), files[i].name, 0) == 0)
				total -= (uint64_t)files[i].size;
	}
	for (size_t i = 0; i < n; i++)
		free(files[i].name);
	free(files);
	closedir(d);
}

int line_cache__close(struct line_cache *lc)
{
	struct atomic_file af;
	int r = 0;
	if (!lc)
		return 0;
	if (lc->set && lc->path && (r = atomic_file__open(&af, lc->path, 0600)) == 0) {
		if (fwrite(lc->buf, lc->len, 1, af.f) != 1 || ferror(af.f)) {
			atomic_file__abort(&af);
			r = -EIO;
		} else if ((r = atomic_file__commit(&af, true)) == 0) {
			char *slash = strrchr(lc->path, '/');
			*slash = '\0';
			trim_dir(lc->path);
		}
	}
	drop_table(lc);
	free(lc->path);
	free(lc);
	return r;
}

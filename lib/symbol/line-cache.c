/* The on-disk cache of functions' source lines; see line-cache.h.
 *
 * A file: a header (magic, version, byte-order mark, the debuginfo stamp,
 * a hash of the rest), then entries until its end. An entry: start, size
 * (u64), its numbers of lines, of file names and of bytes that follow
 * (u32); then each file name, its length (u16) and its bytes; then each
 * line, its address (u64), line (i32) and the index of its file (u16). Native byte order: the
 * cache is this machine's; another order fails the mark and is rewritten. */
#define _GNU_SOURCE
#include "line-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"

#define MAGIC "DPLINES1"
#define VERSION 1u
#define BYTE_ORDER_MARK 0x01020304u
/* Whole files stay small enough to read at every recording's end; when
 * one would grow past this, it starts again with the newest entries. */
#define MAX_FILE (8u << 20)
#define MAX_LINES 65536u
#define MAX_NAME 4096u
#define MAX_FILES 256u
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
};

struct entry_head {
	uint64_t start, size;
	uint32_t n_lines, n_files, n_bytes, pad;
};

#define LINE_SIZE (8 + 4 + 2)

struct entry {
	uint64_t start, size;
	const unsigned char *body; /* into old or fresh; fresh moves: by offset */
	size_t fresh_off;
	struct entry_head head;
	bool fresh;
};

struct line_cache {
	char *path;
	struct stamp stamp;
	unsigned char *old; /* the file as read; entries from header end */
	size_t old_len;
	struct entry *entries;
	size_t n, cap;
	struct strbuf fresh; /* new entries, encoded as in the file */
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

/* Walk an entry's body [p, p+len): each line to fn when fn. False when
 * its parts do not fill exactly len bytes or one is malformed. */
static bool walk_entry(const unsigned char *p, size_t len, const struct entry_head *eh,
		       void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx)
{
	const unsigned char *end = p + len;
	const unsigned char *names[MAX_FILES];
	uint16_t name_len[MAX_FILES];
	char *copy = NULL;
	bool ok = true;

	if (eh->n_lines > MAX_LINES || eh->n_files > MAX_FILES || eh->pad)
		return false;
	for (uint32_t i = 0; i < eh->n_files; i++) {
		if ((size_t)(end - p) < 2)
			return false;
		memcpy(&name_len[i], p, 2);
		p += 2;
		if (name_len[i] == 0 || name_len[i] > MAX_NAME || (size_t)(end - p) < name_len[i] ||
		    memchr(p, '\0', name_len[i]))
			return false;
		names[i] = p;
		p += name_len[i];
	}
	if ((size_t)(end - p) != (size_t)eh->n_lines * LINE_SIZE)
		return false;
	if (fn && eh->n_lines) {
		/* The names NUL-terminated, once per entry. */
		char *at = copy = xmalloc((size_t)(p - (end - len)) + eh->n_files);
		const char *name[MAX_FILES];
		for (uint32_t i = 0; i < eh->n_files; i++) {
			memcpy(at, names[i], name_len[i]);
			at[name_len[i]] = '\0';
			name[i] = at;
			at += name_len[i] + 1;
		}
		for (uint32_t i = 0; ok && i < eh->n_lines; i++, p += LINE_SIZE) {
			uint64_t addr;
			int32_t line;
			uint16_t file;
			memcpy(&addr, p, 8);
			memcpy(&line, p + 8, 4);
			memcpy(&file, p + 12, 2);
			ok = line > 0 && file < eh->n_files;
			if (ok)
				fn(addr, name[file], line, ctx);
		}
		free(copy);
		return ok;
	}
	for (uint32_t i = 0; i < eh->n_lines; i++, p += LINE_SIZE) {
		int32_t line;
		uint16_t file;
		memcpy(&line, p + 8, 4);
		memcpy(&file, p + 12, 2);
		if (line <= 0 || file >= eh->n_files)
			return false;
	}
	return true;
}

/* Index the entries of a file read whole; false when it does not parse. */
static bool parse(struct line_cache *lc, const struct stamp *now)
{
	const unsigned char *p = lc->old, *end = lc->old + lc->old_len;
	struct header h;
	if (lc->old_len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, MAGIC, 8) || h.version != VERSION || h.byte_order != BYTE_ORDER_MARK ||
	    h.stamp.exists != now->exists || h.stamp.size != now->size || h.stamp.mtime_ns != now->mtime_ns ||
	    h.stamp.pad || h.hash != hash_bytes(p + sizeof(h), lc->old_len - sizeof(h), 0))
		return false;
	p += sizeof(h);
	while (p < end) {
		struct entry_head eh;
		if ((size_t)(end - p) < sizeof(eh))
			return false;
		memcpy(&eh, p, sizeof(eh));
		p += sizeof(eh);
		if (eh.n_bytes > (size_t)(end - p) || !walk_entry(p, eh.n_bytes, &eh, NULL, NULL))
			return false;
		ARRAY_GROW(lc->entries, lc->cap, lc->n + 1);
		lc->entries[lc->n++] = (struct entry){ eh.start, eh.size, p, 0, eh, false };
		p += eh.n_bytes;
	}
	return true;
}

static void read_cache_file(struct line_cache *lc)
{
	int fd = open(lc->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	size_t got = 0;
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
	    st.st_size > MAX_FILE) {
		close(fd);
		return;
	}
	lc->old = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, lc->old + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	lc->old_len = got;
}

struct line_cache *line_cache__open_at(const char *dir, const char *debug_root, const char *build_id)
{
	struct line_cache *lc;
	size_t len = build_id ? strlen(build_id) : 0;
	if (!dir || len < 4 || len > 40 || strspn(build_id, "0123456789abcdef") != len || usable_dir(dir) < 0)
		return NULL;
	lc = xcalloc(1, sizeof(*lc));
	lc->path = xasprintf("%s/%s", dir, build_id);
	strbuf_init(&lc->fresh);
	debug_stamp(debug_root, build_id, &lc->stamp);
	read_cache_file(lc);
	if (lc->old && !parse(lc, &lc->stamp)) {
		/* Stale or damaged: start again; the write replaces it. */
		free(lc->old);
		free(lc->entries);
		lc->old = NULL;
		lc->old_len = 0;
		lc->entries = NULL;
		lc->n = lc->cap = 0;
	}
	return lc;
}

struct line_cache *line_cache__open(const char *build_id)
{
	_cleanup_free_ char *dir = line_cache__dir();
	return line_cache__open_at(dir, DEBUG_ROOT, build_id);
}

bool line_cache__lookup(struct line_cache *lc, uint64_t start, uint64_t size,
			void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx)
{
	if (!lc)
		return false;
	for (size_t i = 0; i < lc->n; i++) {
		const struct entry *e = &lc->entries[i];
		if (e->start != start || e->size != size)
			continue;
		return walk_entry(e->fresh ? (const unsigned char *)lc->fresh.buf + e->fresh_off : e->body,
				  e->head.n_bytes, &e->head, fn, ctx);
	}
	return false;
}

void line_cache__add(struct line_cache *lc, uint64_t start, uint64_t size, const struct cached_line *lines, size_t n)
{
	struct entry_head eh = { start, size, 0, 0, 0, 0 };
	const char *names[MAX_FILES];
	uint16_t *file_of;
	size_t head_off, bytes = 0, n_files = 0;
	if (!lc || n > MAX_LINES)
		return;
	/* Each line's file, by a search of the few names seen: a function
	 * drawing on more files than MAX_FILES is left uncached. */
	file_of = xmalloc((n ? n : 1) * sizeof(*file_of));
	for (size_t i = 0; i < n; i++) {
		size_t f = 0, name_len = strlen(lines[i].file);
		if (lines[i].line <= 0 || name_len == 0 || name_len > MAX_NAME)
			goto out; /* not a line the file can hold */
		while (f < n_files && names[f] != lines[i].file && !streq(names[f], lines[i].file))
			f++;
		if (f == n_files) {
			if (n_files == MAX_FILES)
				goto out;
			names[n_files++] = lines[i].file;
			bytes += 2 + name_len;
		}
		file_of[i] = (uint16_t)f;
	}
	bytes += n * LINE_SIZE;
	if (sizeof(struct header) + lc->fresh.len + sizeof(eh) + bytes > MAX_FILE)
		goto out;
	eh.n_lines = (uint32_t)n;
	eh.n_files = (uint32_t)n_files;
	eh.n_bytes = (uint32_t)bytes;
	head_off = lc->fresh.len;
	strbuf_add(&lc->fresh, &eh, sizeof(eh));
	for (size_t f = 0; f < n_files; f++) {
		uint16_t name_len = (uint16_t)strlen(names[f]);
		strbuf_add(&lc->fresh, &name_len, 2);
		strbuf_add(&lc->fresh, names[f], name_len);
	}
	for (size_t i = 0; i < n; i++) {
		int32_t line = lines[i].line;
		strbuf_add(&lc->fresh, &lines[i].addr, 8);
		strbuf_add(&lc->fresh, &line, 4);
		strbuf_add(&lc->fresh, &file_of[i], 2);
	}
	ARRAY_GROW(lc->entries, lc->cap, lc->n + 1);
	lc->entries[lc->n++] = (struct entry){ start, size, NULL, head_off + sizeof(eh), eh, true };
out:
	free(file_of);
}

int line_cache__close(struct line_cache *lc)
{
	struct atomic_file af;
	int r = 0;
	if (!lc)
		return 0;
	if (lc->fresh.len) {
		struct header h = { .version = VERSION, .byte_order = BYTE_ORDER_MARK, .stamp = lc->stamp };
		bool keep_old = lc->old && lc->old_len + lc->fresh.len <= MAX_FILE;
		struct strbuf body;
		strbuf_init(&body);
		if (keep_old)
			strbuf_add(&body, lc->old + sizeof(h), lc->old_len - sizeof(h));
		strbuf_add(&body, lc->fresh.buf, lc->fresh.len);
		memcpy(h.magic, MAGIC, 8);
		h.hash = hash_bytes(body.buf, body.len, 0);
		if ((r = atomic_file__open(&af, lc->path, 0600)) == 0) {
			fwrite(&h, sizeof(h), 1, af.f);
			fwrite(body.buf, body.len, 1, af.f);
			if (ferror(af.f)) {
				atomic_file__abort(&af);
				r = -EIO;
			} else {
				r = atomic_file__commit(&af, true);
			}
		}
		strbuf_release(&body);
	}
	free(lc->path);
	free(lc->old);
	free(lc->entries);
	strbuf_release(&lc->fresh);
	free(lc);
	return r;
}

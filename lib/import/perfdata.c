/* The perf.data reader, opening the file; contract in perfdata.h, what
 * the reader's files share in perfdata-internal.h. Layouts follow perf's
 * tools/perf/util/header.c (header, attributes, feature sections).
 *
 * The file is mapped, not read: records of the data section are handed to
 * the callback straight from the mapping (perfdata-walk.c). Every
 * multi-byte field is read with memcpy, so a file whose records are not
 * 8-byte aligned cannot fault. This file checks the header, reads the
 * attribute section (the events themselves are perfdata-attrs.c's) and
 * the feature sections, and frees it all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../events/events.h"
#include "perfdata-internal.h"

/* ---- errors and warnings ---- */

int perf_data__fail(struct perf_data *d, int err, const char *fmt, ...)
{
	va_list ap;
	if (d->error)
		return err; /* the first error is the one that explains */
	va_start(ap, fmt);
	d->error = xvasprintf(fmt, ap);
	va_end(ap);
	return err;
}

void perf_data__warn(struct perf_data *d, const char *fmt, ...)
{
	va_list ap;
	if (d->n_warnings >= 32)
		return;
	ARRAY_GROW(d->warnings, d->cap_warnings, d->n_warnings + 1);
	va_start(ap, fmt);
	d->warnings[d->n_warnings++] = xvasprintf(fmt, ap);
	va_end(ap);
}

static const char *feature_name(unsigned feat)
{
	switch (feat) {
	case PERF_DATA_FEAT_BUILD_ID: return "BUILD_ID";
	case PERF_DATA_FEAT_HOSTNAME: return "HOSTNAME";
	case PERF_DATA_FEAT_OSRELEASE: return "OSRELEASE";
	case PERF_DATA_FEAT_VERSION: return "VERSION";
	case PERF_DATA_FEAT_ARCH: return "ARCH";
	case PERF_DATA_FEAT_NRCPUS: return "NRCPUS";
	case PERF_DATA_FEAT_CPUDESC: return "CPUDESC";
	case PERF_DATA_FEAT_CPUID: return "CPUID";
	case PERF_DATA_FEAT_TOTAL_MEM: return "TOTAL_MEM";
	case PERF_DATA_FEAT_CMDLINE: return "CMDLINE";
	case PERF_DATA_FEAT_EVENT_DESC: return "EVENT_DESC";
	case PERF_DATA_FEAT_SAMPLE_TIME: return "SAMPLE_TIME";
	case PERF_DATA_FEAT_CLOCKID: return "CLOCKID";
	case PERF_DATA_FEAT_COMPRESSED: return "COMPRESSED";
	case PERF_DATA_FEAT_CLOCK_DATA: return "CLOCK_DATA";
	default: return "feature";
	}
}

/* A bounds-checked reader over one section or record body. */
struct cursor {
	const unsigned char *p, *end;
};

static bool take(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return false;
	memcpy(out, c->p, n);
	c->p += n;
	return true;
}

static bool skip(struct cursor *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n)
		return false;
	c->p += n;
	return true;
}

/* perf's do_write_string: u32 length (padded, NUL included), then the
 * bytes. A string without its NUL is malformed. */
static bool take_string(struct cursor *c, char **ret)
{
	uint32_t len;
	const unsigned char *s;
	if (!take(c, &len, 4) || (size_t)(c->end - c->p) < len || !len)
		return false;
	s = c->p;
	if (!memchr(s, '\0', len))
		return false;
	*ret = xstrdup((const char *)s);
	c->p += len;
	return true;
}

/* ---- feature sections ---- */

void perf_data__add_build_id(struct perf_data *d, const unsigned char *p, size_t size)
{
	struct perf_data_build_id *b;
	const unsigned char *name = p + BUILD_ID_RECORD_SIZE;
	struct perf_event_header h;
	uint8_t n;
	rd_header(p, &h);
	if (!memchr(name, '\0', size - BUILD_ID_RECORD_SIZE))
		return;
	n = (h.misc & MISC_BUILD_ID_SIZE) ? p[12 + 20] : 20;
	if (n == 0 || n > 20)
		return;
	d->info.build_ids = xrealloc(d->info.build_ids, (d->info.n_build_ids + 1) * sizeof(*d->info.build_ids));
	b = &d->info.build_ids[d->info.n_build_ids++];
	memset(b, 0, sizeof(*b));
	b->pid = (int32_t)rd32(p + 8);
	b->cpumode = h.misc & PERF_RECORD_MISC_CPUMODE_MASK;
	b->size = n;
	memcpy(b->build_id, p + 12, n);
	b->filename = xstrdup((const char *)name);
}

static bool parse_build_ids(struct perf_data *d, struct cursor *c)
{
	while (c->end - c->p >= (ptrdiff_t)sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		rd_header(c->p, &h);
		if (h.size < BUILD_ID_RECORD_SIZE + 1 || h.size > c->end - c->p)
			return false;
		perf_data__add_build_id(d, c->p, h.size);
		c->p += h.size;
	}
	return true;
}

static bool parse_event_desc(struct perf_data *d, struct cursor *c)
{
	uint32_t nr, attr_size;
	if (!take(c, &nr, 4) || !take(c, &attr_size, 4))
		return false;
	if (attr_size < ATTR_SIZE_VER0 || attr_size > MAX_ATTR_SIZE)
		return false;
	/* Each event takes at least its attribute, an id count and a string. */
	if (nr > (uint64_t)(c->end - c->p) / (attr_size + 8))
		return false;
	for (size_t i = 0; i < d->n_desc_names; i++)
		free(d->desc_names[i]);
	free(d->desc_names);
	d->desc_names = xcalloc(nr ? nr : 1, sizeof(*d->desc_names));
	d->n_desc_names = nr;
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t n_ids;
		if (!skip(c, attr_size) || !take(c, &n_ids, 4) || !take_string(c, &d->desc_names[i]) ||
		    !skip(c, (uint64_t)n_ids * 8))
			return false;
	}
	return true;
}

/* One feature section (file layout) or HEADER_FEATURE payload (pipe).
 * Malformed optional metadata is dropped with a warning, not fatal. */
void perf_data__parse_feature(struct perf_data *d, unsigned feat, const unsigned char *p, size_t size)
{
	struct cursor c = { p, p + size };
	struct perf_data_info *in = &d->info;
	bool ok = true;
	char *s = NULL;

	if (feat < PERF_DATA_FEAT_BITS)
		in->features[feat / 64] |= 1ULL << (feat % 64);
	switch (feat) {
	case PERF_DATA_FEAT_HOSTNAME:
	case PERF_DATA_FEAT_OSRELEASE:
	case PERF_DATA_FEAT_VERSION:
	case PERF_DATA_FEAT_ARCH:
	case PERF_DATA_FEAT_CPUDESC:
	case PERF_DATA_FEAT_CPUID: {
		char **slot = feat == PERF_DATA_FEAT_HOSTNAME	? &in->hostname
			      : feat == PERF_DATA_FEAT_OSRELEASE ? &in->osrelease
			      : feat == PERF_DATA_FEAT_VERSION	? &in->version
			      : feat == PERF_DATA_FEAT_ARCH	? &in->arch
			      : feat == PERF_DATA_FEAT_CPUDESC	? &in->cpudesc
								: &in->cpuid;
		ok = take_string(&c, &s);
		if (ok) {
			free(*slot);
			*slot = s;
		}
		break;
	}
	case PERF_DATA_FEAT_NRCPUS:
		ok = take(&c, &in->nr_cpus_avail, 4) && take(&c, &in->nr_cpus_online, 4);
		break;
	case PERF_DATA_FEAT_TOTAL_MEM:
		ok = take(&c, &in->total_mem_kb, 8);
		break;
	case PERF_DATA_FEAT_CMDLINE: {
		uint32_t nr;
		ok = take(&c, &nr, 4) && nr <= (size_t)(c.end - c.p) / 5;
		if (!ok)
			break;
		for (size_t i = 0; i < in->n_cmdline; i++)
			free(in->cmdline[i]);
		free(in->cmdline);
		in->cmdline = xcalloc(nr + 1, sizeof(*in->cmdline));
		in->n_cmdline = 0;
		for (uint32_t i = 0; i < nr && ok; i++) {
			ok = take_string(&c, &s);
			if (ok)
				in->cmdline[in->n_cmdline++] = s;
		}
		break;
	}
	case PERF_DATA_FEAT_EVENT_DESC:
		ok = parse_event_desc(d, &c);
		break;
	case PERF_DATA_FEAT_BUILD_ID:
		ok = parse_build_ids(d, &c);
		break;
	case PERF_DATA_FEAT_SAMPLE_TIME:
		ok = take(&c, &in->first_sample_time, 8) && take(&c, &in->last_sample_time, 8);
		break;
	case PERF_DATA_FEAT_CLOCKID:
		ok = take(&c, &in->clock_resolution_ns, 8);
		break;
	case PERF_DATA_FEAT_CLOCK_DATA: {
		uint32_t version;
		ok = take(&c, &version, 4) && version >= 1 && take(&c, &in->clockid, 4) &&
		     take(&c, &in->clock_tod_ns, 8) && take(&c, &in->clock_clockid_ns, 8);
		in->have_clock_data = ok;
		break;
	}
	case PERF_DATA_FEAT_COMPRESSED: {
		uint32_t version;
		ok = take(&c, &version, 4) && take(&c, &in->compression, 4);
		break;
	}
	default:
		break; /* topology, caches, PMU mappings...: not needed here */
	}
	if (!ok)
		perf_data__warn(d, "the %s header section is malformed; ignored", feature_name(feat));
}

/* ---- opening ---- */

static int check_section(struct perf_data *d, const char *what, uint64_t offset, uint64_t size)
{
	if (offset > d->size || size > d->size - offset)
		return perf_data__fail(d, -EBADMSG,
			    "truncated or corrupt: the %s (bytes %llu to %llu) reaches past the end of the file "
			    "(%zu bytes)",
			    what, (unsigned long long)offset, (unsigned long long)(offset + size), d->size);
	return 0;
}

static int read_features(struct perf_data *d, const unsigned char *bitmap)
{
	uint64_t bits[PERF_DATA_FEAT_BITS / 64];
	uint64_t table = d->info.data_offset + d->info.data_size;
	size_t n = 0, i = 0;
	int r;

	memcpy(bits, bitmap, sizeof(bits));
	for (unsigned f = 0; f < PERF_DATA_FEAT_BITS; f++)
		n += bits[f / 64] >> (f % 64) & 1;
	if (!n)
		return 0;
	r = check_section(d, "table of header sections after the data", table, n * 16);
	if (r < 0)
		return r;
	for (unsigned f = 0; f < PERF_DATA_FEAT_BITS; f++) {
		uint64_t off, size;
		char what[64];
		if (!(bits[f / 64] >> (f % 64) & 1))
			continue;
		off = rd64(d->map + table + i * 16);
		size = rd64(d->map + table + i * 16 + 8);
		i++;
		snprintf(what, sizeof(what), "%s header section", feature_name(f));
		r = check_section(d, what, off, size);
		if (r < 0)
			return r;
		perf_data__parse_feature(d, f, d->map + off, size);
	}
	return 0;
}

static int read_file_header(struct perf_data *d, uint64_t header_size)
{
	uint64_t attr_size, attrs_off, attrs_size, n_attrs;
	int r;

	if (d->size < header_size)
		return perf_data__fail(d, -EBADMSG, "truncated: the file ends inside its %llu-byte header",
			    (unsigned long long)header_size);
	attr_size = rd64(d->map + 16);
	attrs_off = rd64(d->map + 24);
	attrs_size = rd64(d->map + 32);
	d->info.data_offset = rd64(d->map + 40);
	d->info.data_size = rd64(d->map + 48);

	if (attr_size < ATTR_SIZE_VER0 + 16 || attr_size > MAX_ATTR_SIZE)
		return perf_data__fail(d, -EBADMSG, "corrupt header: attribute size %llu is impossible",
			    (unsigned long long)attr_size);
	r = check_section(d, "attribute section", attrs_off, attrs_size);
	if (r < 0)
		return r;
	if (attrs_size % attr_size)
		return perf_data__fail(d, -EBADMSG, "corrupt header: the attribute section (%llu bytes) is not a whole number of "
					 "%llu-byte attributes",
			    (unsigned long long)attrs_size, (unsigned long long)attr_size);
	n_attrs = attrs_size / attr_size;
	for (uint64_t i = 0; i < n_attrs; i++) {
		const unsigned char *raw = d->map + attrs_off + i * attr_size;
		uint64_t ids_off = rd64(raw + attr_size - 16), ids_size = rd64(raw + attr_size - 8);
		char what[64];
		snprintf(what, sizeof(what), "id list of event %llu", (unsigned long long)i);
		r = check_section(d, what, ids_off, ids_size);
		if (r < 0)
			return r;
		if (ids_size % 8)
			return perf_data__fail(d, -EBADMSG, "corrupt header: the %s is %llu bytes, not a multiple of 8", what,
				    (unsigned long long)ids_size);
		if (perf_data__add_attr(d, raw, attr_size - 16, d->map + ids_off, ids_size / 8) < 0)
			return perf_data__fail(d, -EBADMSG, "corrupt header: event %llu has an impossible attribute size",
				    (unsigned long long)i);
	}

	if (d->info.data_size == 0 && d->info.data_offset <= d->size) {
		/* perf writes the data size when it stops; a capture that was
		 * killed keeps 0 and has no feature sections. Read to the end. */
		d->info.data_size_unknown = true;
		d->info.data_size = d->size - d->info.data_offset;
		return 0;
	}
	r = check_section(d, "data section", d->info.data_offset, d->info.data_size);
	if (r < 0)
		return r;
	if (header_size == FILE_HEADER_SIZE)
		return read_features(d, d->map + 72);
	return 0;
}

static int open_map(struct perf_data *d, const char *path)
{
	struct stat st;
	int fd = streq(path, "-") ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perf_data__fail(d, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return perf_data__fail(d, -e, "%s", strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return perf_data__fail(d, -EISDIR, "it is a directory (perf record --threads writes a directory; domprof reads "
					"single perf.data files: merge it with perf inject -i DIR -o FILE)");
	}
	if (S_ISREG(st.st_mode)) {
		d->size = (size_t)st.st_size;
		if (d->size) {
			/* Populated up front: one pass over the page cache beats a
			 * fault per page during the walk. */
			void *m = mmap(NULL, d->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
			if (m == MAP_FAILED) {
				int e = errno;
				close(fd);
				return perf_data__fail(d, -e, "cannot map it: %s", strerror(e));
			}
			madvise(m, d->size, MADV_SEQUENTIAL);
			d->map = m;
			d->mapped = true;
		}
	} else {
		/* A pipe or FIFO (perf record -o - | domprof import -): read it all. */
		struct strbuf sb;
		char buf[1 << 16];
		ssize_t n;
		strbuf_init(&sb);
		while ((n = read(fd, buf, sizeof(buf))) != 0) {
			if (n < 0) {
				int e = errno;
				if (e == EINTR)
					continue;
				strbuf_release(&sb);
				close(fd);
				return perf_data__fail(d, -e, "%s", strerror(e));
			}
			strbuf_add(&sb, buf, (size_t)n);
		}
		d->size = sb.len;
		d->map = (const unsigned char *)strbuf_detach(&sb);
		strbuf_release(&sb);
	}
	close(fd);
	return 0;
}

int perf_data__open(const char *path, struct perf_data **ret, char **ret_error)
{
	struct perf_data *d = xcalloc(1, sizeof(*d));
	uint64_t magic, header_size;
	int r;

	d->path = xstrdup(path);
	hmap_init(&d->id_index);
	r = open_map(d, path);
	if (r < 0)
		goto fail;
	if (d->size < 16) {
		r = d->size ? perf_data__fail(d, -ENOTSUP, "not a perf.data file: only %zu bytes", d->size)
			    : perf_data__fail(d, -ENOTSUP, "not a perf.data file: it is empty");
		goto fail;
	}
	magic = rd64(d->map);
	header_size = rd64(d->map + 8);
	if (!memcmp(d->map, "PERFFILE", 8)) {
		r = perf_data__fail(d, -EPROTONOSUPPORT, "it uses the first perf.data layout (magic PERFFILE) of perf before "
					      "2010; rewrite it with a newer perf: perf inject -i OLD -o NEW");
		goto fail;
	}
	if (magic == PERF_MAGIC2_SWAPPED) {
		r = perf_data__fail(d, -EPROTONOSUPPORT, "it was written on a machine of the other byte order (big-endian); "
					      "convert it there or with perf on this machine: perf inject -i FILE -o NEW");
		goto fail;
	}
	if (magic != PERF_MAGIC2) {
		if (!memcmp(d->map, "SQLite format 3", 16))
			r = perf_data__fail(d, -ENOTSUP, "not a perf.data file but an SQLite database (a domprof session? "
					      "read it with domprof report -i)");
		else
			r = perf_data__fail(d, -ENOTSUP, "not a perf.data file (it does not start with PERFILE2)");
		goto fail;
	}
	if (header_size == PIPE_HEADER_SIZE) {
		d->info.pipe = true;
		d->info.data_offset = PIPE_HEADER_SIZE;
		d->info.data_size = d->size - PIPE_HEADER_SIZE;
		r = perf_data__scan_pipe(d);
	} else if (header_size == FILE_HEADER_SIZE || header_size == FILE_HEADER_SIZE_NO_FEATURES) {
		r = read_file_header(d, header_size);
	} else {
		r = perf_data__fail(d, -EPROTONOSUPPORT, "unexpected header size %llu (perf writes %d, or %d for a pipe)",
			 (unsigned long long)header_size, FILE_HEADER_SIZE, PIPE_HEADER_SIZE);
	}
	if (r == 0)
		r = perf_data__finish_attrs(d);
	if (r < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	*ret_error = d->error ? d->error : xstrdup(strerror(-r));
	d->error = NULL;
	perf_data__free(d);
	return r;
}

void perf_data__free(struct perf_data *d)
{
	if (!d)
		return;
	if (d->mapped)
		munmap((void *)d->map, d->size);
	else
		free((void *)d->map);
	for (size_t i = 0; i < d->n_attrs; i++) {
		free(d->attrs[i].name);
		free(d->attrs[i].ids);
	}
	free(d->attrs);
	free(d->ids);
	hmap_release(&d->id_index);
	for (size_t i = 0; i < d->n_desc_names; i++)
		free(d->desc_names[i]);
	free(d->desc_names);
	free(d->info.hostname);
	free(d->info.osrelease);
	free(d->info.version);
	free(d->info.arch);
	free(d->info.cpudesc);
	free(d->info.cpuid);
	for (size_t i = 0; i < d->info.n_cmdline; i++)
		free(d->info.cmdline[i]);
	free(d->info.cmdline);
	for (size_t i = 0; i < d->info.n_build_ids; i++)
		free(d->info.build_ids[i].filename);
	free(d->info.build_ids);
	for (size_t i = 0; i < d->n_warnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	free(d->queue);
	free(d->sort_tmp);
	free(d->runs);
	free(d->arena);
	free(d->arena_spare);
	free(d->inner);
	free(d->bounce);
	if (d->zstd)
		ZSTD_freeDStream(d->zstd);
	free(d->error);
	free(d->path);
	free(d);
}

const char *perf_data__path(const struct perf_data *d) { return d->path; }
uint64_t perf_data__file_size(const struct perf_data *d) { return d->size; }
const struct perf_data_info *perf_data__info(const struct perf_data *d) { return &d->info; }
size_t perf_data__n_attrs(const struct perf_data *d) { return d->n_attrs; }
const struct perf_data_attr *perf_data__attr(const struct perf_data *d, size_t i) { return &d->attrs[i]; }
size_t perf_data__n_warnings(const struct perf_data *d) { return d->n_warnings; }
const char *perf_data__warning(const struct perf_data *d, size_t i) { return d->warnings[i]; }
const struct perf_data_stats *perf_data__stats(const struct perf_data *d) { return &d->stats; }

/* ---- names ---- */

char *perf_data__event_name(const struct perf_event_attr *a)
{
	size_t n;
	const struct event_name *names = events__generic(&n);
	const char *mod = "";
	char *base = NULL, *name;

	if (a->exclude_kernel && !a->exclude_user)
		mod = ":u";
	else if (a->exclude_user && !a->exclude_kernel)
		mod = ":k";
	for (size_t i = 0; i < n && !base; i++)
		if (names[i].type == a->type && names[i].config == a->config)
			base = xstrdup(names[i].name);
	if (!base && a->type == PERF_TYPE_SOFTWARE && a->config == PERF_COUNT_SW_DUMMY)
		base = xstrdup("dummy");
	if (!base && a->type == PERF_TYPE_RAW)
		base = xasprintf("r%llx", (unsigned long long)a->config);
	if (!base)
		base = xasprintf("type%u/config=0x%llx/", a->type, (unsigned long long)a->config);
	name = xasprintf("%s%s", base, mod);
	free(base);
	return name;
}

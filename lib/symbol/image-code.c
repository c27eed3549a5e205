/* Reading a function's machine code and its source lines, for annotate.
 * ELF images: the bytes come from the file through its PT_LOAD segments,
 * lines from DWARF (the file's own or separate debuginfo, via libdwfl).
 * The kernel and its modules: the bytes come from /proc/kcore, whose
 * PT_LOAD segments map kernel virtual addresses. */
#define _GNU_SOURCE
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

#include "../util/util.h"
#include "image.h"
#include "line-cache.h"

#define MAX_CODE (256u << 10)

static int read_at_vaddr(const char *path, uint64_t vaddr, uint64_t size, bool core, void **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	size_t n;
	int r = -ENOENT;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getphdrnum(elf, &n) != 0) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr + size > ph.p_vaddr + (core ? ph.p_memsz : ph.p_filesz))
			continue;
		{
			unsigned char *buf = xmalloc(size);
			ssize_t got = pread(fd, buf, size, (off_t)(ph.p_offset + (vaddr - ph.p_vaddr)));
			if (got != (ssize_t)size) {
				free(buf);
				r = got < 0 ? -errno : -EIO;
			} else {
				*ret = buf;
				*ret_len = size;
				r = 0;
			}
		}
		break;
	}
	elf_end(elf);
	close(fd);
	return r;
}

int image__read_code(struct image *im, uint64_t start, uint64_t size, void **ret, size_t *ret_len)
{
	if (!size || size > MAX_CODE)
		return -E2BIG;
	switch (im->kind) {
	case IMAGE_ELF:
		return read_at_vaddr(im->load_path ? im->load_path : im->path, start, size, false, ret, ret_len);
	case IMAGE_KERNEL:
	case IMAGE_MODULE:
		return read_at_vaddr("/proc/kcore", start, size, true, ret, ret_len);
	default:
		return -EOPNOTSUPP;
	}
}

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

void image__drop_dwarf(struct image *im)
{
	/* Best effort: a cache that cannot be written costs the next run
	 * the DWARF, not this one anything. */
	line_cache__close(im->line_cache);
	im->line_cache = NULL;
	im->line_table_too_big = false;
	if (im->dwfl)
		dwfl_end(im->dwfl);
	im->dwfl = im->dwfl_module = NULL;
	im->dwfl_tried = false;
}

/* The image's DWARF through a Dwfl kept on the image, or NULL. */
static Dwarf *image_dwarf(struct image *im, Dwarf_Addr *bias)
{
	if (!im->dwfl_tried) {
		Dwfl *dwfl = dwfl_begin(&callbacks);
		im->dwfl_tried = true;
		if (!dwfl)
			return NULL;
		im->dwfl_module = dwfl_report_elf(dwfl, im->path, im->load_path ? im->load_path : im->path, -1, 0, true);
		dwfl_report_end(dwfl, NULL, NULL);
		if (!im->dwfl_module) {
			dwfl_end(dwfl);
			return NULL;
		}
		im->dwfl = dwfl;
	}
	if (!im->dwfl_module)
		return NULL;
	return dwfl_module_getdwarf(im->dwfl_module, bias);
}

/* Row i of a line table (its address less the bias): true when it is a
 * line of code. End-of-sequence rows are not: they mark the address after
 * a sequence, which may be the first instruction of the next function. */
static bool dwarf_row(Dwarf_Lines *lines, size_t i, struct cached_line *ret)
{
	Dwarf_Line *l = dwarf_onesrcline(lines, i);
	Dwarf_Addr a;
	bool end;
	if (!l || dwarf_lineaddr(l, &a) != 0 || dwarf_lineno(l, &ret->line) != 0 || ret->line <= 0 ||
	    dwarf_lineendsequence(l, &end) != 0 || end || !(ret->file = dwarf_linesrc(l, NULL, NULL)) || !ret->file[0])
		return false;
	ret->addr = a;
	return true;
}

/* Every row of every compile unit's line table into *ret (file names the
 * DWARF's own, valid while it is open): -ENODATA when the image has no
 * DWARF, -E2BIG past LINE_CACHE_MAX_ROWS. */
static int all_dwarf_lines(struct image *im, struct cached_line **ret, size_t *ret_n)
{
	Dwarf_Addr bias;
	Dwarf *dbg;
	Dwarf_Off off = 0, next;
	size_t header_size, n = 0, cap = 0;
	struct cached_line *rows = NULL;

	*ret = NULL;
	*ret_n = 0;
	if (!(dbg = image_dwarf(im, &bias)))
		return -ENODATA;
	while (dwarf_nextcu(dbg, off, &next, &header_size, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		Dwarf_Lines *lines;
		size_t n_lines;
		if (dwarf_offdie(dbg, off + header_size, &cu) && dwarf_getsrclines(&cu, &lines, &n_lines) == 0) {
			for (size_t i = 0; i < n_lines; i++) {
				struct cached_line row;
				if (!dwarf_row(lines, i, &row))
					continue;
				if (n == LINE_CACHE_MAX_ROWS) {
					free(rows);
					return -E2BIG;
				}
				ARRAY_GROW(rows, cap, n + 1);
				row.addr += bias;
				rows[n++] = row;
			}
		}
		off = next;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

/* The lines of [start, start+size) from the compile unit holding start,
 * for an image whose table is not kept (too large, no build-id, no
 * cache). */
static int cu_lines(struct image *im, uint64_t start, uint64_t size,
		    void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx)
{
	Dwarf_Addr bias;
	Dwarf *dbg;
	Dwarf_Die cu;
	Dwarf_Lines *lines;
	size_t n;
	int found = 0;

	if (!(dbg = image_dwarf(im, &bias)))
		return -ENODATA;
	if (!dwarf_addrdie(dbg, start - bias, &cu) || dwarf_getsrclines(&cu, &lines, &n) != 0)
		return -ENODATA;
	for (size_t i = 0; i < n; i++) {
		struct cached_line row;
		if (!dwarf_row(lines, i, &row) || row.addr + bias < start || row.addr + bias >= start + size)
			continue;
		fn(row.addr + bias, row.file, row.line, ctx);
		found++;
	}
	return found ? 0 : -ENODATA;
}

int image__source_lines(struct image *im, uint64_t start, uint64_t size,
			void (*fn)(uint64_t addr, const char *file, int line, void *ctx), void *ctx)
{
	if (im->kind != IMAGE_ELF)
		return -EOPNOTSUPP;
	/* The image's whole table, from the cache or made once from its
	 * DWARF; keyed by the build-id read from the file itself (one from
	 * an MMAP2 record may name an older file at that path). */
	if (!im->line_cache) {
		char hex[41] = "";
		if (im->loaded && im->info.build_id_size)
			build_id__hex(im->info.build_id, im->info.build_id_size, hex);
		im->line_cache = line_cache__open(hex);
		/* An empty table under this build-id is a stripped copy's
		 * (strip keeps the build-id): this file has lines of its own. */
		if (line_cache__empty(im->line_cache) && im->info.has_lines)
			line_cache__drop(im->line_cache);
	}
	if (!line_cache__ready(im->line_cache) && line_cache__persistent(im->line_cache) && !im->line_table_too_big) {
		struct cached_line *rows;
		size_t n;
		int r = all_dwarf_lines(im, &rows, &n);
		/* No DWARF is an answer too (an empty table), stale when the
		 * build-id's debuginfo appears. */
		if (r == -E2BIG || !line_cache__set(im->line_cache, rows, n))
			im->line_table_too_big = true;
		free(rows);
	}
	if (line_cache__ready(im->line_cache))
		return line_cache__lines(im->line_cache, start, size, fn, ctx) ? 0 : -ENODATA;
	return cu_lines(im, start, size, fn, ctx);
}

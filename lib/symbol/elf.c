/* ELF symbol loading through elfutils. libdwfl finds the best symbol table
 * for a file: its own .symtab, else the .symtab of separate debuginfo
 * (by build-id under /usr/lib/debug/.build-id, or .gnu_debuglink), else
 * MiniDebugInfo, else .dynsym. Files are reported at bias 0, so symbol
 * addresses are the ELF's own virtual addresses; the caller maps sample
 * addresses there through the PT_LOAD segments (elf_info__offset_to_vaddr). */
#define _GNU_SOURCE
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

#include "../util/util.h"
#include "symbol.h"

static char *debuginfo_path = NULL;

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

void elf_info__release(struct elf_info *info)
{
	if (!info)
		return;
	free(info->segments);
	free(info->debug_file);
	memset(info, 0, sizeof(*info));
}

uint64_t elf_info__offset_to_vaddr(const struct elf_info *info, uint64_t offset)
{
	for (size_t i = 0; i < info->n_segments; i++) {
		const struct elf_segment *s = &info->segments[i];
		if (offset >= s->offset && offset < s->offset + MAX(s->filesz, 1))
			return offset - s->offset + s->vaddr;
	}
	return offset;
}

static int read_segments(Elf *elf, struct elf_info *info)
{
	size_t n;
	size_t cap = 0;
	GElf_Ehdr ehdr;
	if (!gelf_getehdr(elf, &ehdr))
		return -EBADMSG;
	info->is_dyn = ehdr.e_type == ET_DYN;
	if (ehdr.e_type != ET_DYN && ehdr.e_type != ET_EXEC && ehdr.e_type != ET_REL)
		return -EBADMSG;
	if (elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n && i < 4096; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		ARRAY_GROW(info->segments, cap, info->n_segments + 1);
		info->segments[info->n_segments++] =
			(struct elf_segment){ ph.p_offset, ph.p_vaddr, ph.p_filesz, ph.p_memsz };
	}
	return 0;
}

/* Whether the file has a section of that name with content. */
static bool has_section(Elf *elf, const char *wanted)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS && sh.sh_size &&
		    (name = elf_strptr(elf, shstrndx, sh.sh_name)) && streq(name, wanted))
			return true;
	}
	return false;
}

static int read_symbols(struct symtab *st, Dwfl_Module *mod, struct elf_info *info)
{
	int n = dwfl_module_getsymtab(mod);
	const unsigned char *bits;
	GElf_Addr vaddr;
	const char *debug_file = NULL;
	int len;

	if (n < 0)
		return -ENODATA;
	len = dwfl_module_build_id(mod, &bits, &vaddr);
	if (len > 0 && len <= 20) {
		memcpy(info->build_id, bits, len);
		info->build_id_size = (uint8_t)len;
	}
	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &debug_file);
	if (debug_file)
		info->debug_file = xstrdup(debug_file);
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf;
		Dwarf_Addr bias;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias);
		int type;
		if (!name || !*name)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || !addr)
			continue;
		symtab__add(st, addr, sym.st_size, name, NULL, true);
	}
	{
		/* .symtab (not just .dynsym) present? libdwfl tells through the
		 * section name of a symbol's table only indirectly; a count of
		 * local symbols is the practical signal. */
		int locals = 0;
		for (int i = 1; i < n && !locals; i++) {
			GElf_Sym sym;
			GElf_Addr addr;
			GElf_Word shndx;
			Elf *elf;
			Dwarf_Addr bias;
			if (dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, &elf, &bias) &&
			    GELF_ST_BIND(sym.st_info) == STB_LOCAL && GELF_ST_TYPE(sym.st_info) == STT_FUNC)
				locals = 1;
		}
		info->has_symtab = locals;
	}
	return 0;
}

/* Functions of a stripped file, from its unwind table: .eh_frame_hdr holds
 * the start address of every function with unwind information (nearly all
 * of them; the C++ ABI needs it), sorted. Those without a symbol get a
 * synthetic name, IMAGE+0xADDR, so samples in a stripped binary's static
 * functions group by function instead of one [unknown] range. Only the
 * encoding every toolchain emits is read: a udata4 count and a table of
 * datarel sdata4 pairs. */
/* Whether one of syms[0..n) (sorted by start) covers addr: the last
 * starting at or before it, or one of its aliases, ends after it. */
static bool named(const struct symbol *syms, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i > 0 && syms[i - 1].start == syms[lo - 1].start; i--)
		if (addr - syms[i - 1].start < MAX(syms[i - 1].size, (uint64_t)1))
			return true;
	return false;
}

static void add_unwind_functions(struct symtab *st, Elf *elf, const char *base)
{
	size_t shstrndx, n_named = st->n;
	Elf_Scn *scn = NULL;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		const unsigned char *p;
		uint32_t count;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".eh_frame_hdr") != 0)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size < 12)
			return;
		p = d->d_buf;
		/* version 1, eh_frame_ptr any 4-byte encoding, count udata4, table datarel|sdata4 */
		if (p[0] != 1 || (p[1] & 0x0f) != 0x0b || p[2] != 0x03 || p[3] != 0x3b)
			return;
		memcpy(&count, p + 8, 4);
		if (count > (d->d_size - 12) / 8)
			return;
		/* The functions named already, to leave alone; the others are
		 * named when first sampled (symtab__name), after base. */
		symtab__sort(st);
		base = symtab__intern(st, base);
		for (uint32_t i = 0; i < count; i++) {
			int32_t loc;
			uint64_t start, next;
			memcpy(&loc, p + 12 + 8 * (size_t)i, 4);
			start = sh.sh_addr + (int64_t)loc;
			if (i + 1 < count) {
				int32_t nloc;
				memcpy(&nloc, p + 12 + 8 * (size_t)(i + 1), 4);
				next = sh.sh_addr + (int64_t)nloc;
			} else {
				next = start + 1;
			}
			if (named(st->syms, n_named, start))
				continue;
			symtab__add_at(st, start, next > start && next - start < (1u << 24) ? next - start : 0, base);
		}
		return;
	}
}

/* name: what the functions found only from the unwind table are named
 * after (NAME+0xADDR). */
static int load_elf(struct symtab *st, const char *path, const char *name, struct elf_info *info)
{
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Elf *elf;
	int fd, r;

	memset(info, 0, sizeof(*info));
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	r = read_segments(elf, info);
	if (r < 0) {
		elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	info->has_lines = has_section(elf, ".debug_line") || has_section(elf, ".zdebug_line");
	dwfl = dwfl_begin(&offline_callbacks);
	if (!dwfl) {
		elf_end(elf);
		close(fd);
		return -ENOMEM;
	}
	/* Let libdwfl open the file itself: it then also closes it on every
	 * path (given a descriptor, it leaves it open when it fails). */
	mod = dwfl_report_elf(dwfl, path, path, -1, 0, true);
	dwfl_report_end(dwfl, NULL, NULL);
	if (!mod) {
		dwfl_end(dwfl);
		elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	r = read_symbols(st, mod, info);
	if (r == 0 && !info->has_symtab)
		add_unwind_functions(st, elf, name);
	dwfl_end(dwfl);
	elf_end(elf);
	close(fd);
	return r;
}

int symtab__load_elf(struct symtab *st, const char *path, struct elf_info *info)
{
	return load_elf(st, path, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, info);
}

int symtab__load_elf_memory(struct symtab *st, const void *data, size_t size, const char *name,
			    struct elf_info *info)
{
	char path[] = "/tmp/domprof-elf-XXXXXX";
	int fd, r;
	/* libdwfl reports modules from files; a short-lived copy keeps one path
	 * for everything. */
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	r = write_file(path, data, size);
	if (r == 0)
		r = load_elf(st, path, name, info);
	unlink(path);
	return r;
}

int elf__read_build_id(const char *path, uint8_t *ret, uint8_t *ret_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	int r = -ENODATA;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		r = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz > 0 && nh.n_descsz <= 20) {
				memcpy(ret, (char *)d->d_buf + desc_off, nh.n_descsz);
				*ret_size = (uint8_t)nh.n_descsz;
				r = 0;
				goto out;
			}
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

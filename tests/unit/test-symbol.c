/* Symbol tables: kallsyms / System.map / perf map text, demangling, and
 * ELF files compiled by the test itself (PIE executable, shared library,
 * stripped library) resolved by address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/symbol/image.h"
#include "lib/symbol/line-cache.h"
#include "lib/symbol/symbol.h"
#include "lib/util/util.h"

static void test_kallsyms(void **state)
{
	static const char text[] = "ffffffff81000000 T _stext\n"
				   "ffffffff81000000 T _text\n"
				   "ffffffff81001000 t do_one_initcall\n"
				   "ffffffff81001200 T tcp_v4_rcv\n"
				   "ffffffff81002000 D some_data\n"
				   "ffffffff81003000 W weak_fn\n"
				   "ffffffffc0a00000 t kvm_arch_vcpu_ioctl_run\t[kvm]\n"
				   "ffffffffc0a00400 t vmx_vcpu_run\t[kvm_intel]\n"
				   "garbage line\n";
	struct symtab st;
	const struct symbol *s;
	symtab__init(&st);
	assert_int_equal(symtab__load_kallsyms(&st, text, sizeof(text) - 1, 0), 0);
	symtab__finish(&st, 1 << 20);
	s = symtab__find(&st, 0xffffffff81001250ULL);
	assert_non_null(s);
	assert_string_equal(s->name, "tcp_v4_rcv");
	assert_null(s->module);
	/* Data symbols are not functions: the gap belongs to tcp_v4_rcv. */
	s = symtab__find(&st, 0xffffffff81002010ULL);
	assert_string_equal(s->name, "tcp_v4_rcv");
	/* Aliases at one address: the name without underscores wins. */
	s = symtab__find(&st, 0xffffffff81000010ULL);
	assert_string_equal(s->name, "_stext");
	s = symtab__find(&st, 0xffffffffc0a00100ULL);
	assert_string_equal(s->name, "kvm_arch_vcpu_ioctl_run");
	assert_string_equal(s->module, "kvm");
	s = symtab__find(&st, 0xffffffffc0a00404ULL);
	assert_string_equal(s->module, "kvm_intel");
	assert_null(symtab__find(&st, 0xffffffff80000000ULL));
	symtab__release(&st);

	/* KASLR: System.map addresses shifted by an offset. */
	symtab__init(&st);
	assert_int_equal(symtab__load_kallsyms(&st, text, sizeof(text) - 1, 0x1e000000), 0);
	symtab__finish(&st, 1 << 20);
	assert_string_equal(symtab__find(&st, 0xffffffff9f001200ULL)->name, "tcp_v4_rcv");
	symtab__release(&st);

	/* kptr_restrict: all zeros. */
	symtab__init(&st);
	assert_int_equal(symtab__load_kallsyms(&st, "0000000000000000 T _stext\n0000000000000000 t x\n", 46, 0), -EPERM);
	symtab__release(&st);
	assert_int_equal(kallsyms__find_stext(text, sizeof(text) - 1), 0xffffffff81000000ULL);
}

/* The kernel's own kallsyms read the fast way (its fixed layout) and the
 * general way (the same lines with the fields spaced otherwise) give the
 * same table, module for module. */
static void test_kallsyms_layouts(void **state)
{
	char *text = NULL, *spaced, *q;
	size_t len = 0;
	struct symtab fast, general;
	(void)state;
	if (read_file("/proc/kallsyms", &text, &len) < 0 || !len) {
		free(text);
		skip();
	}
	spaced = xmalloc(2 * len + 1);
	q = spaced;
	for (const char *p = text; p < text + len; p++) {
		*q++ = *p;
		if (*p == ' ' || *p == '\t')
			*q++ = ' '; /* "ADDR  T  NAME\t [MOD]" */
	}
	symtab__init(&fast);
	symtab__init(&general);
	if (symtab__load_kallsyms(&fast, text, len, 0) == -EPERM) {
		symtab__release(&fast);
		symtab__release(&general);
		free(spaced);
		free(text);
		skip(); /* kptr_restrict: every address 0 */
	}
	assert_int_equal(symtab__load_kallsyms(&general, spaced, (size_t)(q - spaced), 0), 0);
	assert_true(fast.n > 1000);
	assert_int_equal(fast.n, general.n);
	for (size_t i = 0; i < fast.n; i++) {
		assert_int_equal(fast.syms[i].start, general.syms[i].start);
		assert_string_equal(fast.syms[i].name, general.syms[i].name);
		assert_true((fast.syms[i].module == NULL) == (general.syms[i].module == NULL));
		if (fast.syms[i].module)
			assert_string_equal(fast.syms[i].module, general.syms[i].module);
	}
	symtab__release(&fast);
	symtab__release(&general);
	free(spaced);
	free(text);
}

static void test_perf_map(void **state)
{
	static const char text[] = "7f0000001000 40 jitted_add\n"
				   "7f0000001040 100 _ZN3foo3barEv\n"
				   "bad line\n"
				   "7f0000002000 0 zero_size_ignored\n";
	struct symtab st;
	symtab__init(&st);
	assert_int_equal(symtab__load_perf_map(&st, text, sizeof(text) - 1), 0);
	symtab__finish(&st, 1 << 20);
	assert_string_equal(symtab__find(&st, 0x7f0000001010ULL)->name, "jitted_add");
	assert_string_equal(symtab__name(&st, symtab__find(&st, 0x7f0000001040ULL)), "foo::bar()");
	/* Demangled once, on first use. */
	assert_string_equal(symtab__find(&st, 0x7f0000001040ULL)->name, "foo::bar()");
	assert_null(symtab__find(&st, 0x7f0000001140ULL));
	/* Before its first use a name is the linker's. */
	symtab__add(&st, 0x7f0000003000, 16, "_ZN3foo3bazEv", NULL, true);
	assert_string_equal(st.syms[st.n - 1].name, "_ZN3foo3bazEv");
	assert_string_equal(symtab__name(&st, &st.syms[st.n - 1]), "foo::baz()");
	symtab__release(&st);

	/* Aliases are chosen by their demangled names, as if every name had
	 * been demangled on load: "operator delete(void*)" before "operator
	 * delete[](void*)" (by linkage name, _ZdaPv would come before _ZdlPv),
	 * and a plain name before an underscored one. */
	symtab__init(&st);
	symtab__add(&st, 0x1000, 16, "_ZdaPv", NULL, true);
	symtab__add(&st, 0x1000, 16, "_ZdlPv", NULL, true);
	symtab__add(&st, 0x1010, 16, "__libc_free", NULL, true);
	symtab__add(&st, 0x1010, 16, "cfree", NULL, true);
	symtab__finish(&st, 1 << 20);
	assert_int_equal(st.n, 2);
	assert_string_equal(symtab__name(&st, symtab__find(&st, 0x1004)), "operator delete(void*)");
	assert_string_equal(symtab__name(&st, symtab__find(&st, 0x1014)), "cfree");
	symtab__release(&st);
}

/* symtab__sort: a sorted head with a tail in any order (kallsyms' modules,
 * an unwind table's functions) is merged; anything else sorted whole.
 * Each symbol keeps its own size (start * 3), so none is lost or mixed. */
static void test_sort(void **state)
{
	static const size_t heads[] = { 0, 1, 50, 900, 1000 };
	(void)state;
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		struct symtab st;
		uint64_t x = 12345, sum = 0, got = 0;
		symtab__init(&st);
		for (size_t i = 0; i < 1000; i++) {
			uint64_t start;
			if (i < heads[h]) {
				start = 1000 + 10 * i;
			} else {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				start = (x >> 33) % 20000;
			}
			sum += start;
			symtab__add(&st, start, start * 3, "f", NULL, false);
		}
		symtab__sort(&st);
		for (size_t i = 0; i < st.n; i++) {
			if (i)
				assert_true(st.syms[i - 1].start <= st.syms[i].start);
			assert_int_equal(st.syms[i].size, st.syms[i].start * 3);
			got += st.syms[i].start;
		}
		assert_int_equal(st.n, 1000);
		assert_int_equal(got, sum);
		symtab__release(&st);
	}
}

static void test_demangle(void **state)
{
	char *d = symbol__demangle("_ZN9wikipedia7article6formatEv");
	assert_string_equal(d, "wikipedia::article::format()");
	free(d);
	d = symbol__demangle("_ZN4core3fmt5write17h0123456789abcdefE");
	assert_string_equal(d, "core::fmt::write");
	free(d);
	d = symbol__demangle("_RNvCs1234_7mycrate3foo");
	assert_non_null(d);
	assert_non_null(strstr(d, "mycrate::foo"));
	free(d);
	assert_null(symbol__demangle("main"));
	assert_null(symbol__demangle("_Znot_really"));
}

/* Compile a C source with cc into dir/name with extra flags. */
static int compile(const char *dir, const char *name, const char *src, const char *flags)
{
	char cmd[1024], path[512];
	snprintf(path, sizeof(path), "%s/%s.c", dir, name);
	assert_int_equal(write_file(path, src, strlen(src)), 0);
	snprintf(cmd, sizeof(cmd), "cc -O1 -g0 %s -o %s/%s %s 2>&1", flags, dir, name, path);
	return system(cmd);
}

static const char lib_src[] = "__attribute__((noinline)) static int hidden_helper(int x) { return x * 3; }\n"
			      "int exported_alpha(int x) { int s = 0; for (int i = 0; i < x; i++) s += hidden_helper(i); return s; }\n"
			      "int exported_beta(int x) { return exported_alpha(x) + 1; }\n";
static const char exe_src[] = "__attribute__((noinline)) int pie_gamma(int x) { return x * 7; }\n"
			      "int main(int c, char **v) { return pie_gamma(c); }\n";

static void test_elf(void **state)
{
	char dir[] = "/tmp/domprof-test-symbol-XXXXXX";
	char path[512];
	struct symtab st;
	struct elf_info info;
	const struct symbol *alpha, *s;
	uint8_t bid[20], bid_size;
	uint64_t hidden = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(compile(dir, "libt.so", lib_src, "-shared -fPIC -Wl,--build-id"), 0);
	assert_int_equal(compile(dir, "pie", exe_src, "-fPIE -pie -Wl,--build-id"), 0);

	/* Shared library with .symtab: static functions too. */
	snprintf(path, sizeof(path), "%s/libt.so", dir);
	symtab__init(&st);
	assert_int_equal(symtab__load_elf(&st, path, &info), 0);
	symtab__finish(&st, 4096);
	assert_true(info.is_dyn);
	assert_int_equal(info.build_id_size, 20);
	assert_true(info.n_segments >= 1);
	alpha = symtab__find_name(&st, "exported_alpha");
	assert_non_null(alpha);
	assert_true(alpha->size > 0);
	s = symtab__find(&st, alpha->start + alpha->size / 2);
	assert_ptr_equal(s, alpha);
	assert_non_null(symtab__find_name(&st, "hidden_helper"));
	assert_true(info.has_symtab);
	hidden = symtab__find_name(&st, "hidden_helper")->start;
	/* The file offset of alpha maps back to its address. */
	for (size_t i = 0; i < info.n_segments; i++) {
		struct elf_segment *seg = &info.segments[i];
		if (alpha->start >= seg->vaddr && alpha->start < seg->vaddr + seg->memsz)
			assert_int_equal(elf_info__offset_to_vaddr(&info, alpha->start - seg->vaddr + seg->offset), alpha->start);
	}
	assert_int_equal(elf__read_build_id(path, bid, &bid_size), 0);
	assert_int_equal(bid_size, 20);
	assert_memory_equal(bid, info.build_id, 20);
	elf_info__release(&info);
	symtab__release(&st);

	/* Stripped: only .dynsym remains; exported functions still resolve. */
	{
		char cmd[1100];
		snprintf(cmd, sizeof(cmd), "strip --strip-all %s/libt.so", dir);
		assert_int_equal(system(cmd), 0);
	}
	symtab__init(&st);
	assert_int_equal(symtab__load_elf(&st, path, &info), 0);
	symtab__finish(&st, 4096);
	assert_non_null(symtab__find_name(&st, "exported_beta"));
	assert_null(symtab__find_name(&st, "hidden_helper"));
	assert_false(info.has_symtab);
	/* The static function keeps an identity from the unwind table. */
	{
		char want[64];
		const struct symbol *h = symtab__find(&st, hidden);
		snprintf(want, sizeof(want), "libt.so+0x%llx", (unsigned long long)hidden);
		assert_non_null(h);
		/* Named on first use. */
		assert_int_equal(h->name_kind, SYMBOL_NAME_AT);
		assert_string_equal(symtab__name(&st, h), want);
		assert_string_equal(h->name, want);
	}
	elf_info__release(&info);
	symtab__release(&st);

	/* PIE executable. */
	snprintf(path, sizeof(path), "%s/pie", dir);
	symtab__init(&st);
	assert_int_equal(symtab__load_elf(&st, path, &info), 0);
	symtab__finish(&st, 4096);
	s = symtab__find_name(&st, "pie_gamma");
	assert_non_null(s);
	assert_ptr_equal(symtab__find(&st, s->start + 1), s);
	elf_info__release(&info);
	symtab__release(&st);

	/* Not an ELF. */
	snprintf(path, sizeof(path), "%s/pie.c", dir);
	symtab__init(&st);
	assert_int_equal(symtab__load_elf(&st, path, &info), -ENOEXEC);
	symtab__release(&st);
	elf_info__release(&info);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

struct line_list {
	uint64_t addr[1024];
	int line[1024];
	char file[1024][64];
	size_t n;
};

static void collect_line(uint64_t addr, const char *file, int line, void *ctx)
{
	struct line_list *l = ctx;
	if (l->n < 1024) {
		l->addr[l->n] = addr;
		l->line[l->n] = line;
		snprintf(l->file[l->n], sizeof(l->file[0]), "%s", file);
		l->n++;
	}
}

static void assert_same_lines(const struct line_list *a, const struct line_list *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->addr[i], b->addr[i]);
		assert_int_equal(a->line[i], b->line[i]);
		assert_string_equal(a->file[i], b->file[i]);
	}
}

static void run(const char *fmt, const char *arg)
{
	char cmd[2400];
	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
	assert_int_equal(system(cmd), 0);
}

/* A line table made from rows, against a plain filter of the same rows. */
static void check_table(const struct line_cache *lc, const struct cached_line *rows, size_t n, uint64_t start, uint64_t size)
{
	static struct line_list got, want;
	memset(&got, 0, sizeof(got));
	memset(&want, 0, sizeof(want));
	/* The rows in address order, rows of one address in their own. */
	for (uint64_t a = start; a < start + size; a++)
		for (size_t i = 0; i < n; i++)
			if (rows[i].addr == a)
				collect_line(rows[i].addr, rows[i].file, rows[i].line, &want);
	assert_int_equal(line_cache__lines(lc, start, size, collect_line, &got), want.n);
	assert_same_lines(&want, &got);
}

/* Source lines: an image's whole table is made from its DWARF once and
 * kept under its build-id; later runs read it from there; a change of its
 * debuginfo makes it stale; a damaged file is ignored whole. */
static void test_line_cache(void **state)
{
	char dir[] = "/tmp/domprof-test-lines-XXXXXX";
	char path[512], cache[600], lines_dir[620], debug_root[600], file[700];
	static struct line_list from_dwarf, from_cache, none;
	static struct cached_line rows[1000];
	static char names[7][32];
	const struct symbol *alpha;
	uint64_t start, size, seed = 1;
	struct image *im;
	struct line_cache *lc;
	char *text;
	size_t len;
	char bid[41];

	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(lines_dir, sizeof(lines_dir), "%s/lines", cache);
	snprintf(debug_root, sizeof(debug_root), "%s/debug", dir);
	assert_int_equal(setenv("DOMPROF_CACHE_DIR", cache, 1), 0);
	assert_int_equal(compile(dir, "libt.so", lib_src, "-shared -fPIC -g -Wl,--build-id"), 0);
	snprintf(path, sizeof(path), "%s/libt.so", dir);

	/* From the DWARF; written to the cache when the DWARF is dropped. */
	im = image__new(IMAGE_ELF, path);
	assert_int_equal(image__load(im), 0);
	alpha = symtab__find_name(&im->symtab, "exported_alpha");
	assert_non_null(alpha);
	start = alpha->start;
	size = alpha->size;
	assert_int_equal(image__source_lines(im, start, size, collect_line, &from_dwarf), 0);
	assert_true(from_dwarf.n >= 1);
	assert_non_null(strstr(from_dwarf.file[0], "libt.so.c"));
	for (size_t i = 0; i < from_dwarf.n; i++)
		assert_true(from_dwarf.addr[i] >= start && from_dwarf.addr[i] < start + size);
	build_id__hex(im->info.build_id, im->info.build_id_size, bid);
	image__drop_dwarf(im);
	snprintf(file, sizeof(file), "%s/%s", lines_dir, bid);
	assert_int_equal(access(file, R_OK), 0);
	/* Read per compile unit (the cache off): the same lines. */
	assert_int_equal(setenv("DOMPROF_CACHE_DIR", "", 1), 0);
	assert_int_equal(image__source_lines(im, start, size, collect_line, &from_cache), 0);
	assert_same_lines(&from_dwarf, &from_cache);
	image__drop_dwarf(im);
	assert_int_equal(setenv("DOMPROF_CACHE_DIR", cache, 1), 0);
	memset(&from_cache, 0, sizeof(from_cache));

	/* Without its DWARF (same build-id), the lines come from the cache. */
	run("strip --strip-debug %s", path);
	image__unload(im);
	assert_int_equal(image__load(im), 0);
	assert_int_equal(image__source_lines(im, start, size, collect_line, &from_cache), 0);
	assert_same_lines(&from_dwarf, &from_cache);
	image__drop_dwarf(im);
	/* ... and only from there: with the cache off there are none. */
	assert_int_equal(setenv("DOMPROF_CACHE_DIR", "", 1), 0);
	assert_null(line_cache__dir());
	assert_int_equal(image__source_lines(im, start, size, collect_line, &none), -ENODATA);
	assert_int_equal(none.n, 0);
	image__drop_dwarf(im);
	image__free(im);

	/* A table of rows in no order, several files, lines up and down,
	 * rows sharing an address, gaps: every range answers as a plain
	 * filter of the rows does, made in memory and read back. */
	for (int i = 0; i < 7; i++)
		snprintf(names[i], sizeof(names[i]), "dir%d/file%d.c", i % 2, i);
	for (size_t i = 0; i < 1000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		rows[i] = (struct cached_line){ 0x400000 + (seed >> 33) % 3000 + (i > 900 ? 1ULL << 40 : 0),
						1 + (int)((seed >> 20) % 5000), names[(seed >> 10) % 7] };
	}
	lc = line_cache__open_at(lines_dir, debug_root, "00aa11bb");
	assert_false(line_cache__ready(lc));
	assert_true(line_cache__set(lc, rows, 1000));
	assert_true(line_cache__ready(lc));
	check_table(lc, rows, 1000, 0x400000, 3000);
	check_table(lc, rows, 1000, 0x400100, 1);
	check_table(lc, rows, 1000, 0x400fff, 200);
	check_table(lc, rows, 1000, 0x3fff00, 0x200);
	check_table(lc, rows, 1000, (1ULL << 40) + 0x400000, 3000);
	assert_int_equal(line_cache__close(lc), 0);
	lc = line_cache__open_at(lines_dir, debug_root, "00aa11bb");
	assert_true(line_cache__ready(lc));
	for (uint64_t at = 0x400000; at < 0x400000 + 3000; at += 97)
		check_table(lc, rows, 1000, at, 150);
	/* Too many rows to keep: refused before they are read. */
	assert_false(line_cache__set(lc, rows, LINE_CACHE_MAX_ROWS + 1));
	line_cache__close(lc);

	/* The image's own file: every truncation and a flipped byte at every
	 * offset is ignored whole (its header hashes the rest). */
	snprintf(file, sizeof(file), "%s/%s", lines_dir, bid);
	assert_int_equal(read_file(file, &text, &len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(write_file(file, text, cut), 0);
		lc = line_cache__open_at(lines_dir, debug_root, bid);
		assert_false(line_cache__ready(lc));
		assert_int_equal(line_cache__lines(lc, start, size, collect_line, &none), 0);
		line_cache__close(lc);
	}
	for (size_t at = 0; at < len; at++) {
		text[at] ^= 0x5a;
		assert_int_equal(write_file(file, text, len), 0);
		text[at] ^= 0x5a;
		lc = line_cache__open_at(lines_dir, debug_root, bid);
		assert_false(line_cache__ready(lc));
		line_cache__close(lc);
	}
	assert_int_equal(none.n, 0);
	/* Whole again, it is read again. */
	assert_int_equal(write_file(file, text, len), 0);
	free(text);
	lc = line_cache__open_at(lines_dir, debug_root, bid);
	memset(&from_cache, 0, sizeof(from_cache));
	assert_int_equal(line_cache__lines(lc, start, size, collect_line, &from_cache), from_dwarf.n);
	assert_same_lines(&from_dwarf, &from_cache);
	line_cache__close(lc);

	/* Installing the build-id's debuginfo makes the cache stale. */
	snprintf(file, sizeof(file), "%s/%.2s", debug_root, bid);
	run("mkdir -p %s", file);
	snprintf(file, sizeof(file), "%s/%.2s/%s.debug", debug_root, bid, bid + 2);
	assert_int_equal(write_file(file, "x", 1), 0);
	lc = line_cache__open_at(lines_dir, debug_root, bid);
	assert_false(line_cache__ready(lc));
	line_cache__close(lc);

	/* A directory others can write is neither read nor written; names
	 * that are no build-id are kept in memory only. */
	assert_int_equal(chmod(lines_dir, 0777), 0);
	lc = line_cache__open_at(lines_dir, debug_root, "00aa11bb");
	assert_false(line_cache__ready(lc));
	assert_true(line_cache__set(lc, rows, 10));
	line_cache__close(lc);
	assert_int_equal(chmod(lines_dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/00aa11bb", lines_dir);
	{
		struct stat st;
		assert_int_equal(stat(file, &st), 0);
		assert_true(st.st_size > 10 * 16); /* still the 1000-row table */
	}
	lc = line_cache__open_at(lines_dir, debug_root, "../../etc/passwd");
	assert_true(line_cache__set(lc, rows, 10));
	check_table(lc, rows, 10, 0x400000, 3000);
	line_cache__close(lc);
	run("test ! -e %s/etc", cache);

	/* Past 256 MiB, the least recently used files go (a sparse file
	 * stands for the old ones). */
	snprintf(file, sizeof(file), "%s/ffff0000", lines_dir);
	run("truncate -s 300M %s && touch -d 2000-01-01 %s", file);
	lc = line_cache__open_at(lines_dir, debug_root, "00cc22dd");
	assert_true(line_cache__set(lc, rows, 10));
	assert_int_equal(line_cache__close(lc), 0);
	assert_int_not_equal(access(file, F_OK), 0);
	snprintf(file, sizeof(file), "%s/00cc22dd", lines_dir);
	assert_int_equal(access(file, F_OK), 0);

	unsetenv("DOMPROF_CACHE_DIR");
	run("rm -rf %s", dir);
}

/* A stripped copy shares its build-id with the file it came from. Its
 * empty table, cached first, must not hide the lines of the file that has
 * them (a test's stripped copy of a workload left annotate without source
 * lines for the workload itself); their table then serves the copy too. */
static void test_line_cache_stripped_first(void **state)
{
	char dir[] = "/tmp/domprof-test-lines-XXXXXX";
	char cache[600], full[512], stripped[512], cmd[1100];
	static struct line_list none, from_full, from_copy;
	const struct symbol *alpha;
	struct image *im;

	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	assert_int_equal(setenv("DOMPROF_CACHE_DIR", cache, 1), 0);
	assert_int_equal(compile(dir, "libt.so", lib_src, "-shared -fPIC -g -Wl,--build-id"), 0);
	snprintf(full, sizeof(full), "%s/libt.so", dir);
	snprintf(stripped, sizeof(stripped), "%s/libt-stripped.so", dir);
	snprintf(cmd, sizeof(cmd), "strip --strip-debug -o %s %s", stripped, full);
	run("%s", cmd);

	im = image__new(IMAGE_ELF, stripped);
	assert_int_equal(image__load(im), 0);
	assert_false(im->info.has_lines);
	alpha = symtab__find_name(&im->symtab, "exported_alpha");
	assert_non_null(alpha);
	assert_int_equal(image__source_lines(im, alpha->start, alpha->size, collect_line, &none), -ENODATA);
	image__free(im); /* writes the empty table */

	im = image__new(IMAGE_ELF, full);
	assert_int_equal(image__load(im), 0);
	assert_true(im->info.has_lines);
	alpha = symtab__find_name(&im->symtab, "exported_alpha");
	assert_int_equal(image__source_lines(im, alpha->start, alpha->size, collect_line, &from_full), 0);
	assert_true(from_full.n >= 1);
	assert_non_null(strstr(from_full.file[0], "libt.so.c"));
	image__free(im); /* replaces it with the lines */

	im = image__new(IMAGE_ELF, stripped);
	assert_int_equal(image__load(im), 0);
	alpha = symtab__find_name(&im->symtab, "exported_alpha");
	assert_int_equal(image__source_lines(im, alpha->start, alpha->size, collect_line, &from_copy), 0);
	assert_same_lines(&from_full, &from_copy);
	image__free(im);
	assert_int_equal(none.n, 0);
	run("rm -rf %s", dir);
	(void)state;
}

static void test_image_registry(void **state)
{
	struct image_registry r;
	struct image *a, *b, *v;
	const struct symbol *s;
	image_registry__init(&r);
	a = image_registry__get(&r, IMAGE_ELF, "/bin/sh");
	b = image_registry__get(&r, IMAGE_ELF, "/bin/sh");
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, image_registry__get(&r, IMAGE_JIT, "/bin/sh"));
	/* The vdso is read from this very process. */
	v = image_registry__get(&r, IMAGE_VDSO, "[vdso]");
	assert_int_equal(image__load(v), 0);
	s = symtab__find_name(&v->symtab, "clock_gettime");
	assert_non_null(s);
	assert_ptr_equal(image__find(v, s->start), s);
	image_registry__release(&r);
}

static void test_guest_kernel(void **state)
{
	char path[] = "/tmp/domprof-test-kallsyms-XXXXXX";
	static const char map[] = "ffffffff81000000 T _stext\nffffffff81200000 T tcp_v4_rcv\nffffffff81200800 T tcp_rcv_established\n";
	struct image *im = image__new(IMAGE_GUEST_KERNEL, "[guest.kernel]");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, map, sizeof(map) - 1), (ssize_t)sizeof(map) - 1);
	close(fd);
	/* A System.map with a KASLR offset of 0x2a000000. */
	assert_int_equal(image__load_guest_kernel(im, path, 0x2a000000), 0);
	assert_string_equal(image__find(im, 0xffffffffab200010ULL)->name, "tcp_v4_rcv");
	assert_null(image__find(im, 0xffffffff81200010ULL));
	image__free(im);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kallsyms), cmocka_unit_test(test_kallsyms_layouts), cmocka_unit_test(test_perf_map),	   cmocka_unit_test(test_demangle), cmocka_unit_test(test_sort),
		cmocka_unit_test(test_elf), cmocka_unit_test(test_line_cache), cmocka_unit_test(test_line_cache_stripped_first),	 cmocka_unit_test(test_image_registry), cmocka_unit_test(test_guest_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

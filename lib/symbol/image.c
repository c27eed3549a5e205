/* Image registry and lazy symbol loading; see image.h. */
#define _GNU_SOURCE
#include "image.h"

#include <errno.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/util.h"

/* A symbol without a size (kallsyms, some asm) is assumed to end at the
 * next symbol, but never to be longer than this. */
#define MAX_INFERRED_SYMBOL_SIZE (1ULL << 20)

void image_registry__init(struct image_registry *r)
{
	memset(r, 0, sizeof(*r));
	hmap_init(&r->index);
}

struct image *image__new(enum image_kind kind, const char *path)
{
	struct image *im = xcalloc(1, sizeof(*im));
	im->path = xstrdup(path);
	im->kind = kind;
	symtab__init(&im->symtab);
	return im;
}

void image__free(struct image *im)
{
	if (!im)
		return;
	free(im->path);
	free(im->load_path);
	elf_info__release(&im->info);
	symtab__release(&im->symtab);
	image__drop_dwarf(im);
	free(im->cache);
	free(im);
}

void image_registry__release(struct image_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		image__free(r->images[i]);
	free(r->images);
	hmap_release(&r->index);
	memset(r, 0, sizeof(*r));
}

static uint64_t registry_hash(enum image_kind kind, const char *path) { return hash_mix(hash_str(path), kind); }

struct image *image_registry__get(struct image_registry *r, enum image_kind kind, const char *path)
{
	uint64_t h = registry_hash(kind, path);
	size_t pos = hmap_first(&r->index, h);
	uint32_t idx;
	struct image *im;
	while (hmap_candidate(&r->index, pos, h, &idx)) {
		if (idx != UINT32_MAX && r->images[idx]->kind == kind && streq(r->images[idx]->path, path))
			return r->images[idx];
		pos = hmap_next(&r->index, pos);
	}
	im = image__new(kind, path);
	ARRAY_GROW(r->images, r->cap, r->n + 1);
	r->images[r->n] = im;
	hmap_insert_at(&r->index, pos, h, (uint32_t)r->n);
	r->n++;
	return im;
}

int image__cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct image *const *)a, y = (uintptr_t)*(struct image *const *)b;
	return x < y ? -1 : x > y;
}

bool image__in(const struct image *im, struct image *const *set, size_t n)
{
	return n && bsearch(&im, set, n, sizeof(*set), image__cmp_addr) != NULL;
}

void image_registry__remove(struct image_registry *r, struct image *const *gone, size_t n)
{
	size_t kept = 0;
	if (!n)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (!image__in(r->images[i], gone, n))
			r->images[kept++] = r->images[i];
	r->n = kept;
	hmap_release(&r->index);
	for (size_t i = 0; i < r->n; i++)
		hmap_insert(&r->index, registry_hash(r->images[i]->kind, r->images[i]->path), (uint32_t)i);
	ARRAY_SHRINK(r->images, r->cap, r->n);
}

int vdso__self(const void **ret, size_t *ret_size)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	size_t size = 0;
	FILE *f;
	char line[512];
	if (!base)
		return -ENOENT;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a == base) {
			size = b - a;
			break;
		}
	}
	fclose(f);
	if (!size)
		return -ENOENT;
	*ret = (const void *)base;
	*ret_size = size;
	return 0;
}

static int load_vdso(struct image *im)
{
	/* The vdso is the same for every process of this kernel: read ours. */
	const void *p;
	size_t size;
	int r = vdso__self(&p, &size);
	if (r < 0)
		return r;
	return symtab__load_elf_memory(&im->symtab, p, size, "[vdso]", &im->info);
}

static int load_text_symbols(struct image *im, const char *path, bool perf_map)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, &text, &len);
	if (r < 0)
		return r;
	return perf_map ? symtab__load_perf_map(&im->symtab, text, len) : symtab__load_kallsyms(&im->symtab, text, len, 0);
}

int image__load(struct image *im)
{
	const char *path;
	if (im->loaded)
		return im->load_error;
	im->loaded = true;
	path = im->load_path ? im->load_path : im->path;
	switch (im->kind) {
	case IMAGE_ELF: {
		im->load_error = symtab__load_elf(&im->symtab, path, &im->info);
		if (im->load_error == 0 && im->info.build_id_size && !im->build_id[0])
			build_id__hex(im->info.build_id, im->info.build_id_size, im->build_id);
		break;
	}
	case IMAGE_KERNEL:
		im->load_error = load_text_symbols(im, "/proc/kallsyms", false);
		break;
	case IMAGE_VDSO:
		im->load_error = load_vdso(im);
		break;
	case IMAGE_JIT: {
		struct stat st;
		im->load_error = load_text_symbols(im, path, true);
		im->jit_size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
		im->jit_checked_ns = clock_monotonic_ns();
		break;
	}
	default:
		/* Guest kernels are loaded explicitly; the rest have no symbols. */
		im->load_error = im->symtab.n ? 0 : -ENOENT;
		break;
	}
	symtab__finish(&im->symtab, MAX_INFERRED_SYMBOL_SIZE);
	return im->load_error;
}

void image__unload(struct image *im)
{
	if (!im->loaded || (im->kind != IMAGE_ELF && im->kind != IMAGE_JIT))
		return;
	elf_info__release(&im->info);
	symtab__release(&im->symtab);
	symtab__init(&im->symtab);
	image__drop_dwarf(im);
	im->loaded = false;
	im->load_error = 0;
	free(im->cache);
	im->cache = NULL;
	im->cache_valid = false;
}

/* Reread a JIT map that grew since it was loaded. True when reloaded. */
static bool jit_reload(struct image *im)
{
	struct stat st;
	uint64_t now = clock_monotonic_ns();
	const char *path = im->load_path ? im->load_path : im->path;
	if (now - im->jit_checked_ns < 100000000ULL)
		return false;
	im->jit_checked_ns = now;
	if (stat(path, &st) != 0 || (uint64_t)st.st_size == im->jit_size)
		return false;
	symtab__release(&im->symtab);
	symtab__init(&im->symtab);
	im->loaded = false;
	im->cache_valid = false;
	image__load(im);
	return true;
}

#define IMAGE_LOOKUP_SLOTS 256 /* a power of two */

const struct symbol *image__find(struct image *im, uint64_t addr)
{
	const struct symbol *s;
	size_t slot = (size_t)((addr ^ (addr >> 9)) & (IMAGE_LOOKUP_SLOTS - 1));
	if (!im->loaded)
		image__load(im);
	if (!im->cache_valid) {
		if (!im->cache)
			im->cache = xmalloc(IMAGE_LOOKUP_SLOTS * sizeof(*im->cache));
		for (size_t i = 0; i < IMAGE_LOOKUP_SLOTS; i++)
			im->cache[i].addr = UINT64_MAX;
		im->cache_valid = true;
	}
	if (im->cache[slot].addr == addr)
		return im->cache[slot].sym;
	s = symtab__find(&im->symtab, addr);
	if (!s && im->kind == IMAGE_JIT) {
		/* Not cached: the function may be announced in a moment. */
		if (jit_reload(im))
			return image__find(im, addr);
		return NULL;
	}
	im->cache[slot].addr = addr;
	im->cache[slot].sym = s;
	return s;
}

struct image *image_registry__host_kernel(struct image_registry *r)
{
	if (!r->kernel)
		r->kernel = image_registry__get(r, IMAGE_KERNEL, "[kernel.kallsyms]");
	return r->kernel;
}

uint64_t kallsyms__find_stext(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *e = nl ? nl : end;
		unsigned long long addr;
		char type, name[64];
		char line[256];
		size_t n = MIN((size_t)(e - p), sizeof(line) - 1);
		memcpy(line, p, n);
		line[n] = '\0';
		if (sscanf(line, "%llx %c %63s", &addr, &type, name) == 3 && streq(name, "_stext"))
			return addr;
		p = e + 1;
	}
	return 0;
}

int image__load_guest_kernel(struct image *im, const char *file, uint64_t kaslr_offset)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	symtab__release(&im->symtab);
	symtab__init(&im->symtab);
	im->loaded = true;
	im->kaslr_offset = kaslr_offset;
	im->cache_valid = false;
	r = read_file(file, &text, &len);
	if (r < 0)
		return im->load_error = r;
	if (len >= 4 && !memcmp(text, "\177ELF", 4)) {
		struct symtab tmp;
		symtab__init(&tmp);
		elf_info__release(&im->info);
		r = symtab__load_elf(&tmp, file, &im->info);
		if (r == 0)
			for (size_t i = 0; i < tmp.n; i++)
				symtab__add(&im->symtab, tmp.syms[i].start + kaslr_offset, tmp.syms[i].size,
					    tmp.syms[i].name, NULL, false);
		symtab__release(&tmp);
	} else {
		r = symtab__load_kallsyms(&im->symtab, text, len, kaslr_offset);
	}
	symtab__finish(&im->symtab, MAX_INFERRED_SYMBOL_SIZE);
	return im->load_error = r;
}

int image__load_guest_kernel_text(struct image *im, const char *text, size_t len)
{
	int r;
	symtab__release(&im->symtab);
	symtab__init(&im->symtab);
	im->loaded = true;
	im->kaslr_offset = 0;
	im->cache_valid = false;
	r = symtab__load_kallsyms(&im->symtab, text, len, 0);
	symtab__finish(&im->symtab, MAX_INFERRED_SYMBOL_SIZE);
	return im->load_error = r;
}

/* Sorted symbol tables and the text formats that fill them (kallsyms,
 * System.map, perf JIT maps). ELF loading lives in elf.c. */
#define _GNU_SOURCE
#include "symbol.h"

#include <errno.h>
#include <libiberty/demangle.h>

#include "../util/util.h"

void symtab__init(struct symtab *st) { memset(st, 0, sizeof(*st)); }

void symtab__release(struct symtab *st)
{
	for (size_t i = 0; i < st->n_arena; i++)
		free(st->arena[i]);
	free(st->arena);
	free(st->syms);
	memset(st, 0, sizeof(*st));
}

const char *symtab__intern(struct symtab *st, const char *s)
{
	size_t n = strlen(s) + 1;
	char *dst;
	if (st->n_arena == 0 || st->arena_used + n > st->arena_block) {
		size_t block = MAX((size_t)65536, n);
		ARRAY_GROW(st->arena, st->arena_cap, st->n_arena + 1);
		st->arena[st->n_arena++] = xmalloc(block);
		st->arena_block = block;
		st->arena_used = 0;
	}
	dst = st->arena[st->n_arena - 1] + st->arena_used;
	memcpy(dst, s, n);
	st->arena_used += n;
	return dst;
}

char *symbol__demangle(const char *name)
{
	char *d;
	size_t n;
	if (!(name[0] == '_' && (name[1] == 'Z' || name[1] == 'R')) && !startswith(name, "__Z"))
		return NULL;
	d = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	if (!d)
		return NULL;
	/* Rust legacy mangling ends in a hash path element: ::h + 16 hex. */
	n = strlen(d);
	if (n > 19 && d[n - 19] == ':' && d[n - 18] == ':' && d[n - 17] == 'h' &&
	    strspn(d + n - 16, "0123456789abcdef") == 16)
		d[n - 19] = '\0';
	return d;
}

void symtab__add(struct symtab *st, uint64_t start, uint64_t size, const char *name, const char *module,
		 bool demangle)
{
	char *d = demangle ? symbol__demangle(name) : NULL;
	ARRAY_GROW(st->syms, st->cap, st->n + 1);
	st->syms[st->n++] = (struct symbol){
		.start = start,
		.size = size,
		.name = symtab__intern(st, d ? d : name),
		.module = module,
	};
	free(d);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* Same address: prefer the one with a size, then a global-looking name
	 * (no leading underscore), so aliases resolve to the common name. */
	if ((x->size != 0) != (y->size != 0))
		return x->size ? -1 : 1;
	if ((x->name[0] == '_') != (y->name[0] == '_'))
		return x->name[0] == '_' ? 1 : -1;
	return strcmp(x->name, y->name);
}

void symtab__finish(struct symtab *st, uint64_t max_gap)
{
	size_t w = 0;
	if (!st->n)
		return;
	qsort(st->syms, st->n, sizeof(*st->syms), sym_cmp);
	for (size_t i = 0; i < st->n; i++) {
		if (w && st->syms[w - 1].start == st->syms[i].start)
			continue;
		st->syms[w++] = st->syms[i];
	}
	st->n = w;
	for (size_t i = 0; i < st->n; i++) {
		struct symbol *s = &st->syms[i];
		if (s->size == 0) {
			uint64_t gap = i + 1 < st->n ? st->syms[i + 1].start - s->start : max_gap;
			s->size = MIN(gap, max_gap);
			if (!s->size)
				s->size = 1;
		}
	}
}

const struct symbol *symtab__find(const struct symtab *st, uint64_t addr)
{
	size_t lo = 0, hi = st->n;
	const struct symbol *s;
	/* Last symbol with start <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	s = &st->syms[lo - 1];
	if (addr - s->start < s->size)
		return s;
	return NULL;
}

const struct symbol *symtab__find_name(const struct symtab *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (streq(st->syms[i].name, name))
			return &st->syms[i];
	return NULL;
}

/* One line of text within [p, end): returns the end of the line. */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', end - p);
	return nl ? nl : end;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A hand-rolled line parser: /proc/kallsyms has ~200k lines and is read at
 * every recorder (and agent) start, where sscanf showed up in profiles. */
int symtab__load_kallsyms(struct symtab *st, const char *text, size_t len, uint64_t offset)
{
	const char *p = text, *end = text + len;
	size_t added = 0, nonzero = 0;
	const char *last_module = NULL;
	size_t last_module_len = 0;
	const char *last_module_interned = NULL;
	char name[512];

	while (p < end) {
		const char *e = line_end(p, end);
		const char *q = p;
		uint64_t addr = 0;
		int digits = 0, d;
		char type;
		const char *n0, *n1, *m0 = NULL, *m1 = NULL;

		p = e + 1;
		while (q < e && (d = hex_digit(*q)) >= 0 && digits < 17) {
			addr = addr << 4 | (uint64_t)d;
			q++;
			digits++;
		}
		if (!digits || digits > 16 || q >= e || (*q != ' ' && *q != '\t'))
			continue;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (q >= e)
			continue;
		type = *q++;
		if (q >= e || (*q != ' ' && *q != '\t'))
			continue;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		n0 = q;
		while (q < e && *q != ' ' && *q != '\t' && *q != '\r')
			q++;
		n1 = q;
		if (n1 == n0 || (size_t)(n1 - n0) >= sizeof(name))
			continue;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (q < e && *q == '[') {
			m0 = q + 1;
			m1 = memchr(m0, ']', (size_t)(e - m0));
			if (!m1)
				m0 = NULL;
		}
		if (!strchr("tTwW", type) || !type)
			continue;
		if (addr)
			nonzero++;
		memcpy(name, n0, (size_t)(n1 - n0));
		name[n1 - n0] = '\0';
		if (m0) {
			/* Lines of one module are contiguous: intern its name once. */
			if (!last_module || last_module_len != (size_t)(m1 - m0) || memcmp(last_module, m0, last_module_len)) {
				char mod[128];
				size_t ml = MIN((size_t)(m1 - m0), sizeof(mod) - 1);
				memcpy(mod, m0, ml);
				mod[ml] = '\0';
				last_module = m0;
				last_module_len = (size_t)(m1 - m0);
				last_module_interned = symtab__intern(st, mod);
			}
		}
		symtab__add(st, addr + offset, 0, name, m0 ? last_module_interned : NULL, false);
		added++;
	}
	if (!added)
		return -EINVAL;
	if (!nonzero)
		return -EPERM; /* kptr_restrict hides the addresses */
	return 0;
}

int symtab__load_perf_map(struct symtab *st, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t added = 0;
	while (p < end) {
		const char *e = line_end(p, end);
		char line[1024], *q, *name;
		size_t n = MIN((size_t)(e - p), sizeof(line) - 1);
		unsigned long long start, size;
		memcpy(line, p, n);
		line[n] = '\0';
		p = e + 1;
		start = strtoull(line, &q, 16);
		if (q == line || *q != ' ')
			continue;
		name = q + 1;
		size = strtoull(name, &q, 16);
		if (q == name || *q != ' ' || !size)
			continue;
		name = q + 1;
		name[strcspn(name, "\r")] = '\0';
		if (!*name)
			continue;
		symtab__add(st, start, size, name, NULL, true);
		added++;
	}
	return added ? 0 : -EINVAL;
}

const char *build_id__hex(const uint8_t *id, size_t n, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	for (i = 0; i < n && i < 20; i++) {
		buf[2 * i] = hex[id[i] >> 4];
		buf[2 * i + 1] = hex[id[i] & 15];
	}
	buf[2 * i] = '\0';
	return buf;
}

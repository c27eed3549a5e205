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

/* A copy of s[0..len) with a NUL, in st's arena. */
static const char *intern_n(struct symtab *st, const char *s, size_t len)
{
	size_t n = len + 1;
	char *dst;
	if (st->n_arena == 0 || st->arena_used + n > st->arena_block) {
		size_t block = MAX((size_t)65536, n);
		ARRAY_GROW(st->arena, st->arena_cap, st->n_arena + 1);
		st->arena[st->n_arena++] = xmalloc(block);
		st->arena_block = block;
		st->arena_used = 0;
	}
	dst = st->arena[st->n_arena - 1] + st->arena_used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	st->arena_used += n;
	return dst;
}

const char *symtab__intern(struct symtab *st, const char *s) { return intern_n(st, s, strlen(s)); }

static bool looks_mangled(const char *name)
{
	return (name[0] == '_' && (name[1] == 'Z' || name[1] == 'R')) || startswith(name, "__Z");
}

char *symbol__demangle(const char *name)
{
	char *d;
	size_t n;
	if (!looks_mangled(name))
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
	ARRAY_GROW(st->syms, st->cap, st->n + 1);
	st->syms[st->n++] = (struct symbol){
		.start = start,
		.size = size,
		.name = symtab__intern(st, name),
		.module = module,
		.name_kind = demangle && looks_mangled(name) ? SYMBOL_NAME_MANGLED : SYMBOL_NAME_FINAL,
	};
}

void symtab__add_at(struct symtab *st, uint64_t start, uint64_t size, const char *base)
{
	ARRAY_GROW(st->syms, st->cap, st->n + 1);
	st->syms[st->n++] = (struct symbol){
		.start = start,
		.size = size,
		.name = base,
		.name_kind = SYMBOL_NAME_AT,
	};
}

const char *symtab__name(struct symtab *st, const struct symbol *s)
{
	struct symbol *ms = (struct symbol *)s;
	if (ms->name_kind == SYMBOL_NAME_MANGLED) {
		char *d = symbol__demangle(ms->name);
		if (d)
			ms->name = symtab__intern(st, d);
		free(d);
	} else if (ms->name_kind == SYMBOL_NAME_AT) {
		char buf[320];
		snprintf(buf, sizeof(buf), "%s+0x%llx", ms->name, (unsigned long long)ms->start);
		ms->name = symtab__intern(st, buf);
	}
	ms->name_kind = SYMBOL_NAME_FINAL;
	return ms->name;
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

static int start_cmp(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

void symtab__sort(struct symtab *st)
{
	size_t k = 1, i = 0, j;
	struct symbol *tmp;
	if (st->n < 2)
		return;
	/* kallsyms lists the core kernel in order, then the modules; an ELF
	 * table is in the order the linker wrote it, then the functions of
	 * its unwind table are added in order: sort the tail after the
	 * sorted head, and merge the two. */
	while (k < st->n && st->syms[k - 1].start <= st->syms[k].start)
		k++;
	if (k == st->n)
		return;
	if (k < st->n / 8) {
		qsort(st->syms, st->n, sizeof(*st->syms), start_cmp);
		return;
	}
	qsort(st->syms + k, st->n - k, sizeof(*st->syms), start_cmp);
	tmp = xmalloc(k * sizeof(*tmp));
	memcpy(tmp, st->syms, k * sizeof(*tmp));
	j = k;
	for (size_t w = 0; w < st->n; w++) {
		if (i < k && (j >= st->n || tmp[i].start <= st->syms[j].start))
			st->syms[w] = tmp[i++];
		else
			st->syms[w] = st->syms[j++];
	}
	free(tmp);
}

void symtab__finish(struct symtab *st, uint64_t max_gap)
{
	size_t w = 0;
	if (!st->n)
		return;
	symtab__sort(st);
	/* Aliases (symbols of one address) are ordered by their demangled
	 * names: demangled now, the few of them. */
	for (size_t i = 0, j; i < st->n; i = j) {
		for (j = i + 1; j < st->n && st->syms[j].start == st->syms[i].start; j++)
			;
		if (j - i < 2)
			continue;
		for (size_t k = i; k < j; k++)
			symtab__name(st, &st->syms[k]);
		qsort(st->syms + i, j - i, sizeof(*st->syms), sym_cmp);
	}
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

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One "ADDR TYPE NAME[\t[MODULE]]" line in [p, e), fields as
 * sscanf("%llx %c %511s [%127[^]]]") reads them (names truncated to fit),
 * at a fraction of its cost: kallsyms has over 100 000 lines. Returns the
 * number of fields read. */
/* A line's fields, pointers into it: address, type, name and module (the
 * bracketed fourth field, without brackets). Returns the number of fields
 * read; the name and module only for the text types (the only ones
 * kept), so the data symbols cost a scan to their type. */
struct kallsyms_line {
	uint64_t addr;
	char type;
	const char *name, *module;
	size_t name_len, module_len;
};

/* The line as the kernel writes it ("%016lx %c %s\t[%s]"), or 0 to take
 * the general way. */
static int parse_kallsyms_line_fast(const char *p, const char *e, struct kallsyms_line *l)
{
	uint64_t a = 0;
	const char *tab;
	/* Hex digit values plus one, 0 for anything else. */
	static const uint8_t hex1[256] = {
		['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
		['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
		['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
	};
	unsigned bad = 0;
	if (e - p < 20 || p[16] != ' ' || p[18] != ' ')
		return 0;
	for (int i = 0; i < 16; i++) {
		unsigned v = hex1[(unsigned char)p[i]];
		bad |= !v;
		a = a << 4 | ((v - 1) & 15);
	}
	if (bad)
		return 0;
	l->addr = a;
	l->type = p[17];
	if (!strchr("tTwW", l->type))
		return 2;
	p += 19;
	tab = memchr(p, '\t', (size_t)(e - p));
	l->name = p;
	l->name_len = (size_t)((tab ? tab : e) - p);
	if (!l->name_len || memchr(p, ' ', l->name_len))
		return 0;
	l->name_len = MIN(l->name_len, (size_t)511);
	if (!tab || tab + 2 >= e || tab[1] != '[' || e[-1] != ']')
		return tab && tab + 1 < e ? 0 : 3;
	l->module = tab + 2;
	l->module_len = MIN((size_t)(e - 1 - l->module), (size_t)127);
	return l->module_len && !memchr(l->module, ']', l->module_len) ? 4 : 0;
}

static int parse_kallsyms_line(const char *p, const char *e, struct kallsyms_line *l)
{
	uint64_t a = 0;
	size_t n = 0;
	int d = parse_kallsyms_line_fast(p, e, l);

	if (d)
		return d;
	while (p < e && is_blank(*p))
		p++;
	for (; p < e && (d = hex_digit(*p)) >= 0; p++, n++)
		a = a << 4 | (uint64_t)d;
	if (!n)
		return 0;
	l->addr = a;
	while (p < e && is_blank(*p))
		p++;
	if (p >= e)
		return 1;
	l->type = *p++;
	if (!strchr("tTwW", l->type))
		return 2;
	while (p < e && is_blank(*p))
		p++;
	if (p >= e)
		return 2;
	for (l->name = p; p < e && !is_blank(*p); p++)
		;
	l->name_len = MIN((size_t)(p - l->name), (size_t)511);
	while (p < e && is_blank(*p))
		p++;
	if (p >= e || *p != '[')
		return 3;
	for (l->module = ++p; p < e && *p != ']'; p++)
		;
	l->module_len = MIN((size_t)(p - l->module), (size_t)127);
	return l->module_len ? 4 : 3;
}

int symtab__load_kallsyms(struct symtab *st, const char *text, size_t len, uint64_t offset)
{
	const char *p = text, *end = text + len;
	const char *module = NULL; /* interned: a module's symbols are listed together */
	size_t added = 0, nonzero = 0;

	while (p < end) {
		const char *e = line_end(p, end);
		struct kallsyms_line l;
		int fields = parse_kallsyms_line(p, e, &l);

		p = e + 1;
		if (fields < 3)
			continue;
		if (l.addr)
			nonzero++;
		if (fields < 4)
			module = NULL;
		else if (!module || strncmp(module, l.module, l.module_len) || module[l.module_len])
			module = intern_n(st, l.module, l.module_len);
		ARRAY_GROW(st->syms, st->cap, st->n + 1);
		st->syms[st->n++] = (struct symbol){
			.start = l.addr + offset,
			.name = intern_n(st, l.name, l.name_len),
			.module = fields == 4 ? module : NULL,
		};
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

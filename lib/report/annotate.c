/* Per-instruction profiles; see annotate.h. Disassembly by capstone,
 * opened at the first function to disassemble (util/dl.h); the function,
 * its code and its samples (in the merged view, as `domprof report` shows
 * them) come through lib/session. */
#define _GNU_SOURCE
#include "annotate.h"

#include <capstone/capstone.h>
#include <errno.h>

#include "../util/dl.h"
#include "../util/util.h"

static const char *intern_file(struct annotate *a, const char *f)
{
	for (size_t i = 0; i < a->n_files; i++)
		if (streq(a->files[i], f))
			return a->files[i];
	a->files = xrealloc(a->files, (a->n_files + 1) * sizeof(char *));
	return a->files[a->n_files++] = xstrdup(f);
}

static struct annotate_insn *insn_at(struct annotate *a, uint64_t addr)
{
	size_t lo = 0, hi = a->n_insns;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->insns[mid].address <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < a->insns[lo - 1].address + a->insns[lo - 1].size)
		return &a->insns[lo - 1];
	return NULL;
}

static int line_cmp(const void *x, const void *y, void *ctx)
{
	const struct annotate *an = ctx;
	const struct annotate_line *a = x, *b = y;
	for (size_t e = 0; e < an->n_events; e++)
		if (a->period[e] != b->period[e])
			return a->period[e] > b->period[e] ? -1 : 1;
	return a->line - b->line;
}

/* The function's instructions, disassembled from the code the session
 * kept of it, each with its source line: the last line row at or before
 * it. */
static struct {
	__typeof__(cs_open) *open;
	__typeof__(cs_disasm) *disasm;
	__typeof__(cs_free) *free;
	__typeof__(cs_close) *close;
} cs_lib;

static int decode(struct annotate *a, const struct symbol_code *code, const char *arch, char **ret_error)
{
	static const struct dl_symbol syms[] = {
		{ "cs_open", &cs_lib.open },
		{ "cs_disasm", &cs_lib.disasm },
		{ "cs_free", &cs_lib.free },
		{ "cs_close", &cs_lib.close },
	};
	bool arm64 = arch && streq(arch, "aarch64");
	size_t n, l = 0;
	const char *file = NULL, *error;
	int line = 0;
	cs_insn *insn;
	csh cs;
	if (!code->len)
		return 0;
	if (!dl_load("libcapstone.so." STRINGIFY(CS_API_MAJOR), syms, ARRAY_SIZE(syms), &error)) {
		*ret_error = xasprintf("annotate disassembles with capstone, which is not usable: %s (install libcapstone%d)",
				       error, CS_API_MAJOR);
		return -ENOENT;
	}
	if (cs_lib.open(arm64 ? CS_ARCH_ARM64 : CS_ARCH_X86, arm64 ? CS_MODE_ARM : CS_MODE_64, &cs) != CS_ERR_OK)
		return 0;
	n = cs_lib.disasm(cs, code->code, code->len, code->address, 0, &insn);
	a->insns = xcalloc(n ? n : 1, sizeof(*a->insns));
	for (size_t i = 0; i < n; i++) {
		struct annotate_insn *ai = &a->insns[i];
		ai->address = insn[i].address;
		ai->size = insn[i].size;
		snprintf(ai->text, sizeof(ai->text), "%s%s%s", insn[i].mnemonic, insn[i].op_str[0] ? " " : "",
			 insn[i].op_str);
		ai->period = xcalloc(a->n_events, sizeof(uint64_t));
		ai->samples = xcalloc(a->n_events, sizeof(uint64_t));
		for (; l < code->n_lines && code->lines[l].address <= ai->address; l++) {
			file = code->lines[l].file ? intern_file(a, code->lines[l].file) : NULL;
			line = code->lines[l].line;
		}
		ai->file = file;
		ai->line = line;
	}
	a->n_insns = n;
	if (n)
		cs_lib.free(insn, n);
	cs_lib.close(&cs);
	return 0;
}

/* The function's samples in the report's view, by address. */
static int place_samples(struct session *s, struct annotate *a, int64_t symbol_id, char **ret_error)
{
	static const enum view_column columns[] = { VIEW_ADDRESS, VIEW_EVENT_ID };
	struct view_filter f = { .source = SOURCE_MERGED, .symbol_id = symbol_id };
	struct view_rows *rows;
	struct view_row v;
	int r = view_rows__open(s, &f, columns, ARRAY_SIZE(columns), true, &rows, ret_error);
	if (r < 0)
		return r;
	while ((r = view_rows__next(rows, &v, ret_error)) > 0) {
		int e = report_events__index(a->events, a->n_events, view_rows__int(rows, 1));
		struct annotate_insn *ai;
		if (e < 0)
			continue;
		a->total[e] += v.period;
		ai = insn_at(a, (uint64_t)view_rows__int(rows, 0));
		if (!ai) {
			a->unplaced_period += v.period;
			continue;
		}
		ai->period[e] += v.period;
		ai->samples[e] += v.count;
	}
	view_rows__close(rows);
	return r;
}

/* Per source line, hottest first. */
static void sum_lines(struct annotate *a)
{
	for (size_t i = 0; i < a->n_insns; i++) {
		struct annotate_insn *ai = &a->insns[i];
		struct annotate_line *l = NULL;
		if (!ai->file)
			continue;
		for (size_t j = 0; j < a->n_lines && !l; j++)
			if (a->lines[j].file == ai->file && a->lines[j].line == ai->line)
				l = &a->lines[j];
		if (!l) {
			a->lines = xrealloc(a->lines, (a->n_lines + 1) * sizeof(*a->lines));
			l = &a->lines[a->n_lines++];
			l->file = ai->file;
			l->line = ai->line;
			l->period = xcalloc(a->n_events, sizeof(uint64_t));
		}
		for (size_t e = 0; e < a->n_events; e++)
			l->period[e] += ai->period[e];
	}
	if (a->n_lines)
		qsort_r(a->lines, a->n_lines, sizeof(*a->lines), line_cmp, a);
}

static int load(struct session *s, const struct annotate_query *q, struct annotate *a, char **ret_error)
{
	struct session_function fn;
	struct symbol_code code;
	struct session_about about;
	int r;

	memset(a, 0, sizeof(*a));
	a->symbol = xstrdup(q->symbol);
	r = report__load_events(s, q->events, &a->events, &a->n_events, ret_error);
	if (r < 0)
		return r;
	a->total = xcalloc(a->n_events, sizeof(uint64_t));
	r = session__find_function(s, q->symbol, q->domain, q->image, &fn, ret_error);
	if (r == -ENOENT)
		*ret_error = xasprintf("no function named '%s'%s%s in %s (names are as `domprof report` shows them)", q->symbol,
				       q->domain ? " in domain " : "", q->domain ? q->domain : "", session__path(s));
	if (r < 0)
		return r;
	a->address = fn.address;
	a->size = fn.size;
	a->image = xstrdup(fn.image);
	a->domain = xstrdup(fn.domain);
	a->candidates = fn.candidates;
	if ((r = session__read_code(s, fn.symbol_id, &code, ret_error)) == 0) {
		session__read_about(s, &about);
		r = decode(a, &code, about.arch, ret_error);
		session_about__release(&about);
		free(code.code);
		for (size_t i = 0; i < code.n_lines; i++)
			free(code.lines[i].file);
		free(code.lines);
		if (r == 0)
			r = place_samples(s, a, fn.symbol_id, ret_error);
	}
	session_function__release(&fn);
	if (r < 0)
		return r;
	sum_lines(a);
	return 0;
}

int annotate__load(struct session *s, const struct annotate_query *q, struct annotate *a, char **ret_error)
{
	int r = load(s, q, a, ret_error);
	if (r < 0)
		annotate__release(a);
	return r;
}

void annotate__release(struct annotate *a)
{
	for (size_t i = 0; i < a->n_insns; i++) {
		free(a->insns[i].period);
		free(a->insns[i].samples);
	}
	for (size_t i = 0; i < a->n_lines; i++)
		free(a->lines[i].period);
	for (size_t i = 0; i < a->n_files; i++)
		free(a->files[i]);
	free(a->files);
	free(a->insns);
	free(a->lines);
	free(a->total);
	free(a->symbol);
	free(a->image);
	free(a->domain);
	report_events__free(a->events, a->n_events);
	memset(a, 0, sizeof(*a));
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

void annotate__print_text(const struct annotate *a, FILE *out)
{
	uint64_t hot = 0;
	const char *last_file = NULL;
	int last_line = -1;
	_cleanup_free_ char *symbol = text_safe_dup(a->symbol);
	_cleanup_free_ char *image = text_safe_dup(a->image);
	_cleanup_free_ char *domain = text_safe_dup(a->domain);
	fprintf(out, "Annotate %s (%s, domain %s), %zu instructions%s\n", symbol, image, domain, a->n_insns,
		a->candidates > 1 ? " (the busiest of several functions of that name: narrow with --domain/--image)" : "");
	for (size_t e = 0; e < a->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(a->events[e].name);
		fprintf(out, "  %s: %.1f %s in this function\n", name, event_value(&a->events[e], a->total[e]),
			event_value_unit(&a->events[e]));
	}
	if (!a->n_insns) {
		fprintf(out, "\nNo machine code for %s in this session: it was not among the hottest functions when it was "
			     "recorded, or its file was unreadable (kernel code needs /proc/kcore).\n",
			symbol);
		return;
	}
	/* The hottest instruction's period (first event) gets the marker. */
	for (size_t i = 0; i < a->n_insns; i++)
		hot = MAX(hot, a->insns[i].period[0]);
	fputc('\n', out);
	for (size_t e = 0; e < a->n_events; e++) {
		_cleanup_free_ char *name = text_safe_dup(a->events[e].name);
		fprintf(out, "%9.9s ", name);
	}
	fprintf(out, "   address  instruction\n");
	for (size_t i = 0; i < a->n_insns; i++) {
		const struct annotate_insn *ai = &a->insns[i];
		if (ai->file && (ai->file != last_file || ai->line != last_line)) {
			_cleanup_free_ char *file = text_safe_dup(basename_of(ai->file));
			fprintf(out, "%*s  %s:%d\n", (int)(10 * a->n_events), "", file, ai->line);
			last_file = ai->file;
			last_line = ai->line;
		}
		for (size_t e = 0; e < a->n_events; e++) {
			if (ai->period[e])
				fprintf(out, "%8.2f%% ", report__percent(ai->period[e], a->total[e]));
			else
				fprintf(out, "%9s ", "");
		}
		fprintf(out, "%s %8llx: %s\n", hot && ai->period[0] == hot ? ">>" : "  ", (unsigned long long)ai->address,
			ai->text);
	}
	if (a->unplaced_period)
		fprintf(out, "(%.2f%% of the samples fall outside the decoded code)\n", report__percent(a->unplaced_period, a->total[0]));
	if (a->n_lines) {
		fprintf(out, "\nHottest source lines:\n");
		for (size_t i = 0; i < a->n_lines && i < 10; i++) {
			if (!a->lines[i].period[0] && i)
				break;
			for (size_t e = 0; e < a->n_events; e++)
				fprintf(out, "%8.2f%% ", report__percent(a->lines[i].period[e], a->total[e]));
			_cleanup_free_ char *file = text_safe_dup(a->lines[i].file);
			fprintf(out, " %s:%d%s\n", file, a->lines[i].line, i < 3 && a->lines[i].period[0] ? "  <<" : "");
		}
	}
}

void annotate__print_json(const struct annotate *a, FILE *out)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_adds(&sb, "{\"format\": \"domprof-annotate\", \"version\": 1, \"symbol\": ");
	strbuf_add_json(&sb, a->symbol);
	strbuf_adds(&sb, ", \"image\": ");
	strbuf_add_json(&sb, a->image);
	strbuf_adds(&sb, ", \"domain\": ");
	strbuf_add_json(&sb, a->domain);
	strbuf_addf(&sb, ", \"address\": %llu, \"size\": %llu, \"events\": [", (unsigned long long)a->address,
		    (unsigned long long)a->size);
	for (size_t e = 0; e < a->n_events; e++) {
		strbuf_adds(&sb, e ? ", {\"name\": " : "{\"name\": ");
		strbuf_add_json(&sb, a->events[e].name);
		strbuf_addf(&sb, ", \"period\": %llu}", (unsigned long long)a->total[e]);
	}
	strbuf_adds(&sb, "],\n \"instructions\": [");
	for (size_t i = 0; i < a->n_insns; i++) {
		const struct annotate_insn *ai = &a->insns[i];
		strbuf_addf(&sb, "%s\n  {\"address\": %llu, \"size\": %u, \"text\": ", i ? "," : "", (unsigned long long)ai->address,
			    ai->size);
		strbuf_add_json(&sb, ai->text);
		strbuf_adds(&sb, ", \"file\": ");
		json_str_or_null(&sb, ai->file);
		strbuf_addf(&sb, ", \"line\": %d, \"period\": [", ai->line);
		for (size_t e = 0; e < a->n_events; e++)
			strbuf_addf(&sb, "%s%llu", e ? ", " : "", (unsigned long long)ai->period[e]);
		strbuf_adds(&sb, "], \"percent\": [");
		for (size_t e = 0; e < a->n_events; e++)
			strbuf_addf(&sb, "%s%.4f", e ? ", " : "", report__percent(ai->period[e], a->total[e]));
		strbuf_adds(&sb, "]}");
	}
	strbuf_adds(&sb, "\n ],\n \"lines\": [");
	for (size_t i = 0; i < a->n_lines; i++) {
		strbuf_adds(&sb, i ? ", {\"file\": " : "{\"file\": ");
		strbuf_add_json(&sb, a->lines[i].file);
		strbuf_addf(&sb, ", \"line\": %d, \"period\": [", a->lines[i].line);
		for (size_t e = 0; e < a->n_events; e++)
			strbuf_addf(&sb, "%s%llu", e ? ", " : "", (unsigned long long)a->lines[i].period[e]);
		strbuf_adds(&sb, "]}");
	}
	strbuf_adds(&sb, "]}\n");
	fputs(sb.buf, out);
	strbuf_release(&sb);
}

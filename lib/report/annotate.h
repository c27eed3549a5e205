/* annotate: one function's instructions with each instruction's share of
 * each event, and its source lines, from the code and line table the
 * recorder stored in the session (symbol_code, symbol_lines). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

struct annotate_insn {
	uint64_t address;
	uint16_t size;
	char text[256];   /* "mov rax, qword ptr [rbp - 8]" */
	const char *file; /* source position, or NULL */
	int line;
	uint64_t *period; /* per event */
	uint64_t *samples;
};

struct annotate_line {
	const char *file;
	int line;
	uint64_t *period;
};

struct annotate {
	char *symbol, *image, *domain;
	uint64_t address, size;
	struct report_event *events;
	size_t n_events;
	uint64_t *total;  /* the function's period per event */
	struct annotate_insn *insns;
	size_t n_insns;
	struct annotate_line *lines; /* per source line, hottest first */
	size_t n_lines;
	char **files;     /* interned file names */
	size_t n_files;
	size_t candidates; /* functions of that name in the session */
	uint64_t unplaced_period; /* samples outside the decoded code */
};

struct annotate_query {
	const char *symbol;
	const char *domain; /* optional */
	const char *image;  /* optional: substring of the image path */
	char **events;
};

int annotate__load(struct session *s, const struct annotate_query *q, struct annotate *ret, char **ret_error);
void annotate__release(struct annotate *a);
void annotate__print_text(const struct annotate *a, FILE *out);
void annotate__print_json(const struct annotate *a, FILE *out);

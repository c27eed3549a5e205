/* top's full-screen view: ncurses, kept apart from the model (lib/top)
 * and from the loop (cmd-top.c). It draws the lines lib/top renders and
 * turns keys into changes of the query (domain, layer, order, event, name
 * filter), of the model (zero) and of itself (pause, span, scroll, help).
 * The terminal is restored by top_screen__end, which every way out calls
 * (and an atexit handler, for the ways out that do not return). */
#pragma once

#include <stdbool.h>

#include "../lib/top/top.h"

#define TOP_SCREEN_FILTER_MAX 128

struct top_screen {
	bool active;
	bool paused;
	bool help;
	enum top_span span;       /* the layer table: interval or whole run */
	size_t first_row;         /* scrolled to */
	size_t page_rows;         /* rows that fit, from the last draw */
	bool prompting;           /* typing a name filter after '/' */
	char typed[TOP_SCREEN_FILTER_MAX];
	char filter[TOP_SCREEN_FILTER_MAX]; /* the name filter in force (query points here) */
	struct top_status status; /* the last refresh's, for redraws between refreshes */
	bool have_status;
};

enum top_screen_action { TOP_SCREEN_NONE = 0, TOP_SCREEN_QUIT };

/* Take over the terminal. 0, or -errno when it cannot (no terminal, an
 * unknown TERM): nothing is changed then. */
int top_screen__start(struct top_screen *s);
/* Give the terminal back as it was; safe to call twice, or never started. */
void top_screen__end(struct top_screen *s);
/* A new interval: remember its status and draw (unless paused). */
void top_screen__refresh(struct top_screen *s, struct top_model *m, const struct profile *p, struct top_query *q,
			 const struct top_status *st);
/* Handle the keys waiting (without blocking); redraw after any. */
enum top_screen_action top_screen__keys(struct top_screen *s, struct top_model *m, const struct profile *p,
					struct top_query *q);

/* top's full-screen view with ncurses; see top-screen.h. */
#define _GNU_SOURCE
#include "top-screen.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

/* ESC alone cancels the filter prompt; waiting longer for the rest of an
 * escape sequence only delays that. */
#define ESCAPE_DELAY_MS 25

static const char help_text[] =
	"domprof top keys\n"
	"\n"
	"  q          quit (the terminal is restored)\n"
	"  d          next domain: all, host, each VM, idle\n"
	"  l          next layer: all, guest-user ... idle\n"
	"  s          next order of the rows: decayed, interval, total, name\n"
	"  e          next event (rows and the layer table show it)\n"
	"  t          the layer table: last interval or whole run\n"
	"  z          zero the totals and the decay\n"
	"  p          pause the display (sampling goes on)\n"
	"  /          filter rows by a part of a function's or a command's name\n"
	"             (Enter applies, Esc cancels, an empty filter shows all)\n"
	"  arrows, PgUp, PgDn, Home, End   scroll the rows\n"
	"  h, ?       this help (any key closes it)\n"
	"\n"
	"  * in front of a row: a guest function measured by the VM's agent\n";

static struct top_screen *active_screen;

static void end_at_exit(void)
{
	if (active_screen)
		top_screen__end(active_screen);
}

int top_screen__start(struct top_screen *s)
{
	static bool registered;
	SCREEN *scr;
	setlocale(LC_ALL, "");
	fflush(stdout);
	fflush(stderr);
	/* newterm, not initscr: initscr exits the program on a bad TERM. */
	scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return -ENOTTY;
	set_term(scr);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(ESCAPE_DELAY_MS);
	curs_set(0);
	s->active = true;
	active_screen = s;
	if (!registered) {
		atexit(end_at_exit);
		registered = true;
	}
	return 0;
}

void top_screen__end(struct top_screen *s)
{
	if (!s->active)
		return;
	curs_set(1);
	endwin();
	s->active = false;
	active_screen = NULL;
}

/* ---- drawing ---- */

static const char *domain_label(const struct profile *p, uint32_t id)
{
	return id && id <= p->n_domains && p->domains[id - 1].name ? p->domains[id - 1].name : "all";
}

static void draw_status_line(struct top_screen *s, const struct profile *p, const struct top_query *q, int y)
{
	char line[512];
	if (s->prompting)
		snprintf(line, sizeof(line), "filter: %s_   (Enter applies, Esc cancels)", s->typed);
	else
		snprintf(line, sizeof(line), "d:%s  l:%s  s:%s  e:%s  t:%s  /:%s   h help  q quit", domain_label(p, q->filter.domain),
			 q->filter.layer < 0 ? "all" : layer__name((enum layer)q->filter.layer), top_order__name(q->order),
			 s->have_status ? s->status.event_names[q->event] : "?", s->span == TOP_SPAN_TOTAL ? "run" : "interval",
			 s->filter[0] ? s->filter : "-");
	attron(A_REVERSE);
	mvaddnstr(y, 0, line, COLS);
	for (int x = getcurx(stdscr); x < COLS && getcury(stdscr) == y; x++)
		addch(' ');
	attroff(A_REVERSE);
}

static void draw_help(void)
{
	int y = 2, x = 2;
	const char *line = help_text;
	while (*line && y < LINES - 1) {
		const char *end = strchr(line, '\n');
		int n = end ? (int)(end - line) : (int)strlen(line);
		move(y, x);
		clrtoeol();
		addnstr(line, MIN(n, COLS - x));
		y++;
		line = end ? end + 1 : line + n;
	}
}

static void draw(struct top_screen *s, const struct top_model *m, const struct profile *p, const struct top_query *q)
{
	struct top_view v;
	char **lines = NULL;
	size_t rows_at, n_lines = 0;
	if (!s->active || !s->have_status)
		return;
	top_view__build(&v, m, p, q);
	if (s->first_row && s->first_row >= v.n_rows)
		s->first_row = v.n_rows ? v.n_rows - 1 : 0;
	rows_at = top_render__lines(m, p, &v, &s->status, s->span, (size_t)MAX(COLS, 1), s->first_row, (size_t)LINES,
				    &lines);
	erase();
	for (char **l = lines; *l && (int)n_lines < LINES - 1; l++, n_lines++) {
		int attr = n_lines == 0 ? A_BOLD : n_lines == rows_at ? A_REVERSE : A_NORMAL;
		attron(attr);
		mvaddstr((int)n_lines, 0, *l);
		attroff(attr);
	}
	s->page_rows = LINES - 1 > (int)rows_at + 1 ? (size_t)(LINES - 2 - (int)rows_at) : 1;
	if (s->help)
		draw_help();
	draw_status_line(s, p, q, LINES - 1);
	refresh();
	strv_free(lines);
	top_view__release(&v);
}

void top_screen__refresh(struct top_screen *s, struct top_model *m, const struct profile *p, struct top_query *q,
			 const struct top_status *st)
{
	bool paused = s->paused;
	s->status = *st;
	s->status.paused = paused;
	s->have_status = true;
	if (!paused)
		draw(s, m, p, q);
}

/* ---- keys ---- */

static void next_domain(const struct top_model *m, const struct profile *p, struct top_query *q)
{
	const struct top_domain **d;
	size_t n = top_model__domains_ordered(m, p, &d), i;
	for (i = 0; i < n && d[i]->id != q->filter.domain; i++)
		;
	/* all -> the first; the last -> all */
	q->filter.domain = !q->filter.domain ? (n ? d[0]->id : 0) : i + 1 < n ? d[i + 1]->id : 0;
	free(d);
}

static void next_layer(struct top_query *q)
{
	size_t i;
	for (i = 0; i < LAYER__COUNT && (int)layer__display_order[i] != q->filter.layer; i++)
		;
	q->filter.layer = q->filter.layer < 0 ? (int)layer__display_order[0]
			  : i + 1 < LAYER__COUNT ? (int)layer__display_order[i + 1]
						 : -1;
}

static void prompt_key(struct top_screen *s, struct top_query *q, int c)
{
	size_t n = strlen(s->typed);
	if (c == '\n' || c == '\r' || c == KEY_ENTER) {
		snprintf(s->filter, sizeof(s->filter), "%s", s->typed);
		q->filter.name = s->filter[0] ? s->filter : NULL;
		s->prompting = false;
		s->first_row = 0;
	} else if (c == 27) {
		s->prompting = false;
	} else if (c == KEY_BACKSPACE || c == 127 || c == 8) {
		if (n)
			s->typed[n - 1] = '\0';
	} else if (c >= 32 && c < 256 && c != 127 && n + 1 < sizeof(s->typed)) {
		s->typed[n] = (char)c;
		s->typed[n + 1] = '\0';
	}
}

static void scroll_key(struct top_screen *s, int c)
{
	size_t page = s->page_rows ? s->page_rows : 1;
	switch (c) {
	case KEY_UP: s->first_row = s->first_row ? s->first_row - 1 : 0; break;
	case KEY_DOWN: s->first_row++; break;
	case KEY_PPAGE: s->first_row = s->first_row > page ? s->first_row - page : 0; break;
	case KEY_NPAGE: s->first_row += page; break;
	case KEY_HOME: s->first_row = 0; break;
	case KEY_END: s->first_row = SIZE_MAX / 2; break; /* clamped by draw to the last row */
	}
}

/* One key; false for quit. */
static bool key(struct top_screen *s, struct top_model *m, const struct profile *p, struct top_query *q, int c)
{
	if (s->prompting) {
		prompt_key(s, q, c);
		return true;
	}
	if (s->help && c != KEY_RESIZE) {
		s->help = false;
		return true;
	}
	switch (c) {
	case 'q': return false;
	case 'd': next_domain(m, p, q); s->first_row = 0; break;
	case 'l': next_layer(q); s->first_row = 0; break;
	case 's': q->order = (enum top_order)((q->order + 1) % TOP_ORDER__COUNT); break;
	case 'e': q->event = m->n_events ? (q->event + 1) % m->n_events : 0; break;
	case 't': s->span = s->span == TOP_SPAN_TOTAL ? TOP_SPAN_INTERVAL : TOP_SPAN_TOTAL; break;
	case 'z': top_model__zero(m); break;
	case 'p':
		s->paused = !s->paused;
		s->status.paused = s->paused;
		break;
	case '/':
		s->prompting = true;
		snprintf(s->typed, sizeof(s->typed), "%s", s->filter);
		break;
	case 'h':
	case '?': s->help = true; break;
	default: scroll_key(s, c); break;
	}
	return true;
}

enum top_screen_action top_screen__keys(struct top_screen *s, struct top_model *m, const struct profile *p,
					struct top_query *q)
{
	bool any = false;
	int c;
	if (!s->active)
		return TOP_SCREEN_NONE;
	while ((c = getch()) != ERR) {
		any = true;
		if (!key(s, m, p, q, c))
			return TOP_SCREEN_QUIT;
	}
	if (any)
		draw(s, m, p, q);
	return TOP_SCREEN_NONE;
}

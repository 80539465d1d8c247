/*
 * draw.c — the console's drawing primitives on curses: text that never
 * drives the terminal, fills, frames in box-drawing characters, wrapping,
 * and the theme's colours as curses attributes. It knows no console state:
 * the panes pass the attributes (struct console's attr[]) they draw with.
 */
#include <string.h>

#include "internal.h"

/*
 * Draws text at (y, x) in at most cols columns; returns the columns used.
 * Controls and invalid bytes become one replacement glyph each, never raw:
 * a command's output must not drive the terminal. Wide characters that do
 * not fit are left out whole.
 */
int draw_text(int y, int x, int cols, const char *s, size_t n, attr_t a)
{
	if (cols <= 0 || !s)
		return 0;
	attr_set(a, PAIR_NUMBER(a), NULL);
	move(y, x);
	int used = 0;
	size_t i = 0;
	while (i < n && s[i]) {
		uint32_t cp = (unsigned char)s[i];
		size_t l = cp < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		bool bad = !l || utf8_is_control(cp);
		if (!l)
			l = 1;
		int w = bad ? 1 : (int)utf8_cp_width(cp);
		if (used + w > cols)
			break;
		if (bad) {
			addstr(cp == '\t' ? " " : "\xef\xbf\xbd"); /* U+FFFD */
		} else if (w == 0 && used == 0) {
			/* a combining mark with nothing to combine with: skip */
		} else {
			addnstr(s + i, (int)l);
		}
		used += w;
		i += l;
	}
	return used;
}

/* draw_text of a C string (NULL: nothing). */
int draw_str(int y, int x, int cols, const char *s, attr_t a)
{
	return s ? draw_text(y, x, cols, s, strlen(s), a) : 0;
}

/* Blanks cols columns from (y, x) in a. */
void draw_fill(int y, int x, int cols, attr_t a)
{
	attr_set(a, PAIR_NUMBER(a), NULL);
	for (int i = 0; i < cols; i++)
		mvaddch(y, x + i, ' ');
}

/* The columns a string takes on screen (NULL: 0). */
int draw_width(const char *s)
{
	return s ? (int)utf8_width(s, strlen(s)) : 0;
}

/* A frame round r in box-drawing characters (UTF-8, never the alternate
   charset: what the terminal shows is what a screen capture reads), its
   title (may be NULL) on the top edge. */
void draw_box(const struct rect *r, const char *title, attr_t border, attr_t title_attr)
{
	int y = r->y, x = r->x, h = r->h, w = r->w;
	attr_set(border, PAIR_NUMBER(border), NULL);
	for (int i = 1; i < w - 1; i++) {
		mvaddstr(y, x + i, "─");
		mvaddstr(y + h - 1, x + i, "─");
	}
	for (int i = 1; i < h - 1; i++) {
		mvaddstr(y + i, x, "│");
		mvaddstr(y + i, x + w - 1, "│");
	}
	mvaddstr(y, x, "┌");
	mvaddstr(y, x + w - 1, "┐");
	mvaddstr(y + h - 1, x, "└");
	mvaddstr(y + h - 1, x + w - 1, "┘");
	if (title) {
		mvaddstr(y, x + 1, " ");
		int used = draw_str(y, x + 2, w - 5, title, title_attr);
		attr_set(border, PAIR_NUMBER(border), NULL);
		mvaddstr(y, x + 2 + used, " ");
	}
}

/* Wraps text into lines of at most w columns (at most max_lines of them);
   calls fn for each; returns how many. */
int draw_wrap(const char *text, int w, int max_lines,
              void (*fn)(void *ud, const char *s, size_t n, int i), void *ud)
{
	int lines = 0;
	const char *p = text ? text : "";
	size_t n = strlen(p);
	while (lines < max_lines) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		size_t take = utf8_fit(p, seg, (size_t)w, NULL);
		if (take < seg) {
			/* break at the last space that fits, if any */
			size_t sp = take;
			while (sp > 0 && p[sp] != ' ')
				sp--;
			if (sp > take / 2)
				take = sp;
		}
		if (take == 0 && seg > 0)
			take = 1;
		fn(ud, p, take, lines++);
		p += take;
		n -= take;
		if (n && (*p == ' ' || *p == '\n')) {
			p++;
			n--;
		}
		if (!n)
			break;
	}
	return lines;
}

/* A theme's attribute bits as curses's. */
static attr_t curses_attrs(unsigned a)
{
	attr_t r = A_NORMAL;
	if (a & THEME_ATTR_BOLD)
		r |= A_BOLD;
	if (a & THEME_ATTR_DIM)
		r |= A_DIM;
	if (a & THEME_ATTR_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & THEME_ATTR_REVERSE)
		r |= A_REVERSE;
	if (a & THEME_ATTR_ITALIC)
		r |= A_ITALIC;
	if (a & THEME_ATTR_STANDOUT)
		r |= A_STANDOUT;
	return r;
}

/* The attribute of every theme element into attr (a colour pair each when
   colour is on and the terminal has colours; else the monochrome theme). */
void draw_colours(struct theme *theme, attr_t attr[THEME_COUNT], bool colour)
{
	if (colour && has_colors()) {
		start_color();
		use_default_colors();
		theme_fit(theme, COLORS);
	} else {
		colour = false;
		theme_monochrome(theme);
	}
	for (int i = 0; i < THEME_COUNT; i++) {
		const struct theme_style *t = &theme->el[i];
		attr_t a = curses_attrs(t->attrs);
		if (colour && i + 1 < COLOR_PAIRS) {
			int fg = t->fg < COLORS ? t->fg : -1, bg = t->bg < COLORS ? t->bg : -1;
			init_pair((short)(i + 1), (short)fg, (short)bg);
			a |= COLOR_PAIR(i + 1);
		}
		attr[i] = a;
	}
}

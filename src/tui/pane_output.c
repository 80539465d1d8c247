/*
 * pane_output.c — the output pane: the selected step's output kept in
 * memory, newest at the bottom, scrolled back on request, matches of the
 * search marked, and a marker naming where the lines no longer in memory
 * are. Focused, it scrolls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A line holds the search's text (case aside). */
static bool line_matches(const char *line, const char *pat)
{
	return pat && *pat && strcasestr(line, pat) != NULL;
}

/* How far the output can scroll back: to where the oldest line kept is at
   the top of a full pane. */
static size_t out_back_max(struct console *c, const struct eng_step *s)
{
	const struct ui *u = s ? s->ui : NULL;
	if (!u || !u->out.n)
		return 0;
	struct layout L = frame_layout(c);
	long rows = L.bottom - L.top - L.detail_h - 1;
	if (u->out.total > u->out.n || u->evicted)
		rows--; /* the marker's row */
	if (rows < 1)
		rows = 1;
	return u->out.n > (size_t)rows ? u->out.n - (size_t)rows : 0;
}

/* The selected step's lines from the newest up, or from c->out_back. */
static void output_draw(struct console *c, const struct rect *rc, bool focused)
{
	int y0 = rc->y, h = rc->h;
	struct eng_step *s = frame_selected(c);
	char title[128] = "output";
	struct ui *u = s ? s->ui : NULL;
	size_t max = out_back_max(c, s);
	if (c->out_back > max)
		c->out_back = max;
	if (c->out_back)
		snprintf(title, sizeof title, "output · %zu line%s back", c->out_back, c->out_back == 1 ? "" : "s");
	if (c->search && *c->search)
		snprintf(title + strlen(title), sizeof title - strlen(title), " · /%s", c->search);
	draw_box(rc, title, c->attr[focused ? THEME_BORDER_FOCUS : THEME_BORDER], c->attr[THEME_PANE_TITLE]);
	int rows = h - 2, w = rc->w - 4, x = rc->x + 2;
	if (rows <= 0 || !s)
		return;
	const struct outbuf *o = u ? &u->out : NULL;
	size_t n = o ? o->n : 0;
	/* Rows from the bottom: the newest line last, unless scrolled back. */
	size_t back = c->out_back;
	if (n && back > n - 1)
		back = n - 1;
	/* Lines no longer in memory are named on the first row, always: the
	   operator knows the pane does not show everything, and where the rest is. */
	unsigned long long earlier = o ? o->total - o->n : 0;
	bool marker = u && (earlier || u->evicted);
	int first = marker ? 1 : 0;
	/* Top-aligned while the lines fit, the newest at the bottom after that. */
	size_t fit = n - (n ? back : 0);
	int r = fit < (size_t)(rows - first) ? first + (int)fit - 1 : rows - 1;
	for (size_t i = back; r >= first && o && i < n; i++, r--) {
		int stream = PROBE_STDOUT;
		/* Masked again as drawn: a secret captured after the bytes came
		   (a token the command printed) is hidden in them too. */
		char *l = engine_mask(c->e, outbuf_line(o, i, &stream));
		attr_t a = c->attr[stream == PROBE_STDERR ? THEME_OUTPUT_STDERR : THEME_OUTPUT];
		if (line_matches(l, c->search))
			a = c->attr[i == c->search_hit ? THEME_SEARCH_CURRENT : THEME_SEARCH_MATCH];
		draw_text(y0 + 1 + r, x, w, l, strlen(l), a);
		free(l);
	}
	if (marker) {
		char m[512];
		if (!n)
			snprintf(m, sizeof m, "output kept on disk: %s", s->spool_path ? s->spool_path : "(none)");
		else if (s->spool_path)
			snprintf(m, sizeof m, "…%llu lines earlier on disk: %s", earlier, s->spool_path);
		else
			snprintf(m, sizeof m, "…%llu lines earlier", earlier);
		draw_str(y0 + 1, x, w, m, c->attr[THEME_OUTPUT_MARKER]);
	} else if (!n) {
		const char *none = s->state == ENG_PENDING ? "not run yet" : frame_is_group(s) ? "" : "no output";
		draw_str(y0 + 1, x, w, none, c->attr[THEME_OUTPUT_MARKER]);
	}
}

/* Scrolls the output d lines back (negative: forward), within what is kept. */
static void scroll_out(struct console *c, long d)
{
	long b = (long)c->out_back + d, max = (long)out_back_max(c, frame_selected(c));
	if (b > max)
		b = max;
	if (b < 0)
		b = 0;
	c->out_back = (size_t)b;
}

/* Scrolling, while focused. */
static unsigned output_request(struct console *c, enum request r)
{
	struct layout L = frame_layout(c);
	long opage = L.bottom - L.top - L.detail_h - 1;
	switch (r) {
	case REQ_DOWN: scroll_out(c, -1); break;
	case REQ_UP: scroll_out(c, 1); break;
	case REQ_PAGE_DOWN: scroll_out(c, -opage); break;
	case REQ_PAGE_UP: scroll_out(c, opage); break;
	case REQ_TOP: scroll_out(c, 1L << 30); break;
	case REQ_BOTTOM: c->out_back = 0; break;
	default: return PANE_IGNORED;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/* The next match, going back from the last one shown: the pane scrolls to it. */
bool pane_output_find_next(struct console *c)
{
	struct ui *u = frame_selected(c) ? frame_selected(c)->ui : NULL;
	size_t from = c->search_hit == (size_t)-1 ? 0 : c->search_hit + 1;
	bool found = false;
	for (size_t i = from; u && c->search && i < u->out.n && !found; i++) {
		char *l = engine_mask(c->e, outbuf_line(&u->out, i, NULL));
		if (line_matches(l, c->search)) {
			c->search_hit = i;
			c->out_back = i;
			found = true;
		}
		free(l);
	}
	return found;
}

const struct pane_ops pane_output_ops = {
	.name = "output",
	.draw = output_draw,
	.request = output_request,
};

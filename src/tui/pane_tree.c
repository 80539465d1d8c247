/*
 * pane_tree.c — the step tree: one row per visible step with its state's
 * glyph and a group's counts, the selection kept in view. Focused, it moves
 * the selection; fold and unfold act on the selection wherever the focus is
 * (the frame passes them here when the focused pane leaves them).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Draws the rows from c->top, scrolled so that the selection shows. */
static void tree_draw(struct console *c, const struct rect *r, bool focused)
{
	int h = r->h;
	draw_box(r, "Steps", c->attr[focused ? THEME_BORDER_FOCUS : THEME_BORDER], c->attr[THEME_PANE_TITLE]);
	int rows = h - 2, inner = r->w - 2;
	if (rows <= 0 || inner <= 4)
		return;
	if (c->sel < c->top)
		c->top = c->sel;
	if (c->sel >= c->top + (size_t)rows)
		c->top = c->sel - (size_t)rows + 1;
	for (int row = 0; row < rows; row++) {
		size_t i = c->top + (size_t)row;
		int y = r->y + 1 + row;
		if (i >= c->nvis)
			break;
		struct eng_step *s = c->vis[i];
		bool sel = i == c->sel;
		attr_t base = sel ? c->attr[focused ? THEME_SELECTION : THEME_SELECTION_UNFOCUSED]
		                  : c->attr[frame_is_group(s) ? THEME_GROUP : THEME_NORMAL];
		draw_fill(y, r->x + 1, inner, base);
		int x0 = r->x + 1, x = x0, d = frame_depth_of(s);
		x += draw_text(y, x, inner, "                                                  ",
		               (size_t)(d * 2 > 40 ? 40 : d * 2), base);
		if (frame_is_group(s))
			x += draw_str(y, x, inner - (x - x0), s->ui && ((struct ui *)s->ui)->collapsed ? "▸ " : "▾ ", base);
		else
			x += draw_str(y, x, inner - (x - x0), "  ", base);
		x += draw_str(y, x, inner - (x - x0), frame_glyph(s), sel ? base : c->attr[frame_state_element(s)]);
		x += draw_str(y, x, inner - (x - x0), " ", base);
		char count[32] = "";
		if (frame_is_group(s)) {
			size_t done = 0, total = 0;
			frame_group_counts(s, &done, &total);
			snprintf(count, sizeof count, " %zu/%zu", done, total);
		}
		/* Right-aligned: the owner's tag, a budget's time left, the counts. */
		char left[48] = "", tag[40] = "";
		bool alert = false;
		if (frame_budget_left(c, s, left + 1, sizeof left - 1, &alert))
			left[0] = ' ';
		if (frame_owner_tag(s))
			snprintf(tag, sizeof tag, " @%s", frame_owner_tag(s));
		int lw = draw_width(left), ow = draw_width(tag);
		int tagmax = (inner - (x - x0)) / 4; /* the title keeps most of the row */
		if (ow > tagmax && tagmax >= 6 && (size_t)tagmax + 3 <= sizeof tag) {
			/* A long role id is cut (role ids are ASCII ids): the detail
			   pane names it in full. */
			strcpy(tag + tagmax - 1, "…");
			ow = draw_width(tag);
		}
		if (lw + ow + 12 > inner - (x - x0))
			ow = tag[0] = 0; /* too narrow: the time left matters more */
		int cw = draw_width(count) + lw + ow;
		struct strbuf t = {0};
		sb_addf(&t, "%s %s", frame_step_label(s), s->title ? s->title : "");
		int room = inner - (x - x0) - cw;
		int tw = draw_width(sb_borrow(&t));
		if (tw > room && room > 1) {
			draw_text(y, x, room - 1, t.s, t.len, base);
			draw_str(y, x + room - 1 - 0, 1, "…", base);
			/* draw_text may have used fewer columns than room - 1 (a wide
			   character left out): the ellipsis goes right after */
		} else {
			draw_text(y, x, room, t.s, t.len, base);
		}
		sb_free(&t);
		if (ow)
			draw_str(y, x0 + inner - cw, ow, tag, sel ? base : c->attr[THEME_NOTE]);
		if (lw)
			draw_str(y, x0 + inner - cw + ow, lw, left,
			         sel ? base : c->attr[alert ? THEME_STEP_FAIL : THEME_STEP_RUNNING]);
		if (cw - lw - ow)
			draw_str(y, x0 + inner - (cw - lw - ow), cw - lw - ow, count, base);
	}
}

/* Moves the selection d rows (clamped); a new step's output starts at its
   newest line, its search afresh. */
static void move_sel(struct console *c, long d)
{
	if (!c->nvis)
		return;
	long n = (long)c->sel + d;
	if (n < 0)
		n = 0;
	if (n >= (long)c->nvis)
		n = (long)c->nvis - 1;
	if ((size_t)n != c->sel) {
		c->sel = (size_t)n;
		c->out_back = 0;
		c->search_hit = (size_t)-1;
	}
}

/* Movement (focused), fold and unfold. */
static unsigned tree_request(struct console *c, enum request r)
{
	struct eng_step *s = frame_selected(c);
	struct layout L = frame_layout(c);
	long page = L.bottom - L.top - 2;
	switch (r) {
	case REQ_DOWN: move_sel(c, 1); break;
	case REQ_UP: move_sel(c, -1); break;
	case REQ_PAGE_DOWN: move_sel(c, page); break;
	case REQ_PAGE_UP: move_sel(c, -page); break;
	case REQ_TOP: move_sel(c, -(long)c->nvis); break;
	case REQ_BOTTOM: move_sel(c, (long)c->nvis); break;
	case REQ_COLLAPSE:
		if (s && frame_is_group(s) && !frame_ui(s)->collapsed && s->nchildren) {
			frame_ui(s)->collapsed = true;
		} else if (s && s->parent) {
			frame_rows_build(c);
			for (size_t i = 0; i < c->nvis; i++)
				if (c->vis[i] == s->parent)
					c->sel = i;
		}
		break;
	case REQ_EXPAND:
		if (s && frame_is_group(s))
			frame_ui(s)->collapsed = false;
		break;
	default:
		return PANE_IGNORED;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

const struct pane_ops pane_tree_ops = {
	.name = "tree",
	.draw = tree_draw,
	.request = tree_request,
};

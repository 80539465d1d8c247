/*
 * overlay_ask.c — the question of an ask step waiting for its answer
 * (docs/console.md, "Asks"): a box over the panes with the question, the
 * rule the answer keeps and the choices, each with its key. A choice is
 * taken by its key (1–9, then a–z), yes or no by y or n, anything else is
 * typed (a secret without echo: one dot per character) and Enter answers.
 * A refused answer shows the rule it broke and the box stays open; Esc
 * closes it and the step keeps waiting (Enter on it opens it again).
 * Everything drawn from the runbook or the operator goes through draw.c,
 * as data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The key of choice i: 1–9, then a–z; 0 when it has none. */
static int choice_key(size_t i)
{
	return i < 9 ? '1' + (int)i : i < 9 + 26 ? 'a' + (int)(i - 9) : 0;
}

/* The choice key ch stands for, or -1. */
static int choice_of_key(const struct rb_ask *a, wint_t ch)
{
	for (size_t i = 0; i < a->decl.nchoices; i++)
		if (choice_key(i) && (wint_t)choice_key(i) == ch)
			return (int)i;
	return -1;
}

/* The ask of the step the overlay is open on. */
static const struct rb_ask *open_ask(const struct console *c)
{
	const struct eng_step *s = c->prompt_step;
	return s && s->def ? s->def->ask : NULL;
}

/* Opens the question box on waiting ask s (internal.h). */
void overlay_ask_open(struct console *c, struct eng_step *s)
{
	if (c->prompt != PROMPT_NONE || !s || !s->def || !s->def->ask)
		return;
	c->prompt = PROMPT_ASK;
	c->prompt_step = s;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
	const struct rb_ask *a = s->def->ask;
	/* The default, ready to take with Enter (never a secret's). */
	if (a->dflt && !a->secret && !a->decl.nchoices && a->decl.type != RB_VAR_YESNO)
		sb_adds(&c->input_text, a->dflt);
	free(c->ask_error);
	c->ask_error = NULL;
	frame_select_step(c, s);
}

/* The box closes; the step, if it still waits, keeps waiting. */
static void ask_close(struct console *c)
{
	c->prompt = PROMPT_NONE;
	c->prompt_step = NULL;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
	free(c->ask_error);
	c->ask_error = NULL;
	frame_confirm_next(c);
	overlay_ask_next(c);
}

/* The first ask waiting with its wait on the screen, in the tree's order. */
static struct eng_step *find_ask(struct eng_step *s)
{
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_ASK && s->ui && ((struct ui *)s->ui)->asked)
		return s;
	for (size_t i = 0; i < s->nchildren; i++) {
		struct eng_step *r = find_ask(s->children[i]);
		if (r)
			return r;
	}
	return NULL;
}

/* No prompt open: the box opens on the first ask waiting, if any
   (internal.h) — one that came while another prompt was open. */
void overlay_ask_next(struct console *c)
{
	if (c->cfg->acts)
		return; /* joined: an answer sent is the driver's to apply; the step still waits here */
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n && c->prompt == PROMPT_NONE; i++) {
		struct eng_step *w = find_ask(tops[i]);
		if (w) {
			overlay_ask_open(c, w);
			break;
		}
	}
}

/* Gives value as the answer: accepted, the box closes (and opens on the
   next ask waiting, branches of a parallel group asking at once);
   refused, it shows why. */
static void ask_submit(struct console *c, const char *value)
{
	struct eng_step *s = c->prompt_step;
	char *why = NULL;
	if (acts_ask(c, s, value, &why)) {
		ask_close(c);
		return;
	}
	free(c->ask_error);
	c->ask_error = why ? why : xstrdup("the step no longer waits for an answer");
	if (!why)
		ask_close(c);
}

/* A key while the box is open: a choice, y or n, text, Enter, Esc. */
static unsigned ask_key(struct console *c, wint_t ch, bool is_key)
{
	const struct rb_ask *a = open_ask(c);
	if (!a || !c->prompt_step || c->prompt_step->state != ENG_WAITING) {
		ask_close(c);
		return PANE_HANDLED | PANE_REDRAW;
	}
	if (!is_key && a->decl.nchoices) {
		int i = choice_of_key(a, ch);
		if (i >= 0) {
			ask_submit(c, a->choices[i].value);
			return PANE_HANDLED | PANE_REDRAW;
		}
	}
	if (!is_key && a->decl.type == RB_VAR_YESNO && c->input_text.len == 0 &&
	    (ch == 'y' || ch == 'Y' || ch == 'n' || ch == 'N')) {
		ask_submit(c, ch == 'y' || ch == 'Y' ? "yes" : "no");
		return PANE_HANDLED | PANE_REDRAW;
	}
	switch (frame_prompt_edit(c, ch, is_key, false)) {
	case FRAME_EDIT_ACCEPT: {
		char *text = xstrdup(sb_borrow(&c->input_text));
		ask_submit(c, !*text && a->dflt ? a->dflt : text);
		free(text);
		break;
	}
	case FRAME_EDIT_CANCEL: {
		struct eng_step *s = c->prompt_step;
		ask_close(c);
		frame_message(c, "%s still waits for an answer: Enter on it asks again", frame_step_label(s));
		break;
	}
	case FRAME_EDIT_TYPING:
		break;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/* One line of the box's text, wrapped (draw_wrap's callback). */
struct box_line {
	struct console *c;
	int y, x, w, max;
	attr_t attr;
	int used;
};

/* draw_wrap's callback: one line of the box's text. */
static void box_line_draw(void *ud, const char *s, size_t n, int i)
{
	struct box_line *b = ud;
	if (i < b->max)
		draw_text(b->y + i, b->x, b->w, s, n, b->attr);
	b->used = i + 1;
}

/* Wraps text into the box from row *y, at most max rows; moves *y past it. */
static void box_wrap(struct console *c, int *y, int x, int w, int max, const char *text, attr_t a)
{
	struct box_line b = {c, *y, x, w, max, a, 0};
	draw_wrap(text, w, max, box_line_draw, &b);
	*y += b.used < max ? b.used : max;
}

/* The box over the panes, the status bar under it. */
static void ask_draw(struct console *c, const struct rect *status)
{
	const struct rb_ask *a = open_ask(c);
	const struct eng_step *s = c->prompt_step;
	bars_status_ops.draw(c, status, false);
	if (!a || !s)
		return;
	int w = c->cols - 4 < 76 ? c->cols - 4 : 76;
	int h = 9 + (int)(a->decl.nchoices < 12 ? a->decl.nchoices : 12);
	if (h > c->rows - 2)
		h = c->rows - 2;
	int y0 = (c->rows - h) / 2, x0 = (c->cols - w) / 2, x = x0 + 2, iw = w - 4;
	for (int r = 0; r < h; r++)
		draw_fill(y0 + r, x0, w, c->attr[THEME_HELP]);
	draw_box(&(struct rect){y0, x0, h, w}, a->secret ? "Question (secret)" : "Question",
	         c->attr[THEME_BORDER_FOCUS], c->attr[THEME_PANE_TITLE]);
	int y = y0 + 1, last = y0 + h - 2;
	box_wrap(c, &y, x, iw, 2, s->wait_text ? s->wait_text : s->title, c->attr[THEME_HELP]);
	char *rule = rb_ask_rule(a);
	char *line = xasprintf("%s: %s", a->decl.name, rule);
	box_wrap(c, &y, x, iw, 2, line, c->attr[THEME_DETAIL_LABEL]);
	free(line);
	free(rule);
	for (size_t i = 0; i < a->decl.nchoices && y < last - 2; i++) {
		const struct rb_ask_choice *ch = &a->choices[i];
		char key[4] = {(char)choice_key(i), 0};
		draw_str(y, x, 3, key, c->attr[THEME_HELP_KEY]);
		int used = draw_str(y, x + 3, iw - 3, ch->value, c->attr[THEME_HELP]);
		if (ch->label) {
			used += draw_str(y, x + 3 + used, iw - 3 - used, " — ", c->attr[THEME_HELP]);
			used += draw_str(y, x + 3 + used, iw - 3 - used, ch->label, c->attr[THEME_HELP]);
		}
		if (ch->go) {
			used += draw_str(y, x + 3 + used, iw - 3 - used, " → ", c->attr[THEME_HELP]);
			draw_str(y, x + 3 + used, iw - 3 - used, ch->go, c->attr[THEME_HELP]);
		}
		y++;
	}
	if (c->ask_error && y < last - 1) {
		char *m = xasprintf("refused: %s", c->ask_error);
		box_wrap(c, &y, x, iw, last - 1 - y, m, c->attr[THEME_ERROR]);
		free(m);
	}
	const char *hint = a->decl.nchoices ? "a key chooses · Enter answers the typed text · Esc: later"
	                   : a->decl.type == RB_VAR_YESNO ? "y yes · n no · Esc: later"
	                   : "Enter answers · Esc: later (the step keeps waiting)";
	draw_str(last, x, iw, hint, c->attr[THEME_KEY_HINT]);
	/* The line typed: a secret as one dot per character, never its text. */
	int ly = last - 1;
	draw_fill(ly, x, iw, c->attr[THEME_PROMPT]);
	int used = draw_str(ly, x, iw, "> ", c->attr[THEME_PROMPT]);
	if (a->secret) {
		size_t chars = 0;
		for (size_t i = 0; i < c->input_text.len; i++)
			chars += ((unsigned char)c->input_text.s[i] & 0xc0) != 0x80;
		for (size_t i = 0; i < chars && used < iw - 1; i++)
			used += draw_str(ly, x + used, iw - used, "\xe2\x80\xa2", c->attr[THEME_PROMPT]);
	} else {
		used += draw_str(ly, x + used, iw - used, sb_borrow(&c->input_text), c->attr[THEME_PROMPT]);
	}
	move(ly, x + (used < iw ? used : iw - 1));
	curs_set(1);
}

const struct overlay_ops overlay_ask_ops = {
	.name = "ask",
	.draw = ask_draw,
	.key = ask_key,
};

/*
 * overlay_unfinished.c — the unfinished-step prompt of a resumed run
 * (docs/console.md): a step whose start the record has and not its end is
 * shown to the driver, who decides — r run it again, d mark it done, s
 * skip it with a reason — before the flow goes on (unfinished.h). The
 * decision is journaled with the driver's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/resume.h"
#include "rbc/session.h"
#include "rbc/unfinished.h"

/* Opens the prompt on the first step left to decide (internal.h). */
bool overlay_unfinished_open(struct console *c)
{
	const struct resume_cut *cut = unfinished_next(session_resume_state(c->s));
	if (!cut)
		return false;
	if (c->prompt == PROMPT_NONE) {
		frame_prompt_start(c, PROMPT_UNFINISHED, cut->step);
		frame_select_step(c, cut->step);
	}
	return true;
}

/* Decides the step in the prompt as ch; the next one, if any, follows. */
static void decide(struct console *c, enum unfinished_choice ch, const char *reason)
{
	struct eng_step *s = c->prompt_step;
	const char *why = NULL;
	free(c->ask_error);
	c->ask_error = NULL;
	c->prompt = PROMPT_NONE;
	c->prompt_step = NULL;
	if (!unfinished_decide(session_resume_state(c->s), c->e, ch, reason, c->operator, &why)) {
		frame_message(c, "%s", why);
	} else {
		c->decision_notes += ch == UNFINISHED_RERUN;
		static const char *const said[] = {"", "runs again", "marked done", "skipped"};
		const char *lost = unfinished_left(session_resume_state(c->s)) ? NULL : session_resume_warning(c->s);
		frame_message(c, "%s%s%s %s: %s by %s", lost ? lost : "", lost ? " · " : "", frame_step_label(s),
		              s->title ? s->title : "", said[ch], c->operator);
	}
	overlay_unfinished_open(c);
}

/* A key while the prompt is open: r, d, s (then the reason), Esc. */
static unsigned unfinished_key(struct console *c, wint_t ch, bool is_key)
{
	if (c->prompt == PROMPT_UNFINISHED_REASON) {
		switch (frame_prompt_edit(c, ch, is_key, false)) {
		case FRAME_EDIT_ACCEPT:
			free(c->ask_error);
			c->ask_error = NULL;
			if (!c->input_text.len)
				c->ask_error = xstrdup("a skip needs a reason (Esc goes back)");
			else
				decide(c, UNFINISHED_SKIP, sb_borrow(&c->input_text));
			break;
		case FRAME_EDIT_CANCEL:
			free(c->ask_error);
			c->ask_error = NULL;
			frame_prompt_start(c, PROMPT_UNFINISHED, c->prompt_step);
			break;
		case FRAME_EDIT_TYPING:
			break;
		}
		return PANE_HANDLED | PANE_REDRAW;
	}
	if (!is_key && (ch == 'r' || ch == 'R')) {
		decide(c, UNFINISHED_RERUN, NULL);
	} else if (!is_key && (ch == 'd' || ch == 'D')) {
		decide(c, UNFINISHED_DONE, NULL);
	} else if (!is_key && (ch == 's' || ch == 'S')) {
		frame_prompt_start(c, PROMPT_UNFINISHED_REASON, c->prompt_step);
	} else if (!is_key && (ch == 27 || ch == 7)) {
		c->prompt = PROMPT_NONE;
		c->prompt_step = NULL;
		frame_message(c, "unfinished steps wait for a decision: a asks again");
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/* The question on the status row. */
static void unfinished_draw(struct console *c, const struct rect *r)
{
	const struct eng_step *s = c->prompt_step;
	const struct resume_cut *cut = unfinished_next(session_resume_state(c->s));
	char when[40] = "?", q[768];
	if (cut)
		iso_ms_format(when, sizeof when, cut->started);
	if (c->prompt == PROMPT_UNFINISHED_REASON)
		snprintf(q, sizeof q, "%s%sSkip %s %s, why? ", c->ask_error ? c->ask_error : "", c->ask_error ? " · " : "",
		         s ? frame_step_label(s) : "", s && s->title ? s->title : "");
	else
		snprintf(q, sizeof q, "Unfinished: %s %s started %s, its end not recorded — r run again · d mark done · "
		         "s skip ", s ? frame_step_label(s) : "", s && s->title ? s->title : "", when);
	frame_prompt_draw(c, r, q);
}

const struct overlay_ops overlay_unfinished_ops = {
	.name = "unfinished",
	.draw = unfinished_draw,
	.key = unfinished_key,
};

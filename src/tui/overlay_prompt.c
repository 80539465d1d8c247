/*
 * overlay_prompt.c — the prompts on the status row: a note, a skip's or a
 * failure's reason, the search, a step's confirmation and the quit
 * question. While one is open it gets every key (frame_prompt_edit edits
 * the line); Enter or a one-letter answer acts on it, Esc drops it.
 * Incident mode's questions are an overlay of their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/journal.h"

/* "y", "Y" or "yes". */
static bool said_yes(const char *text)
{
	return strcmp(text, "y") == 0 || strcmp(text, "Y") == 0 || strcmp(text, "yes") == 0;
}

/* Enter (accept) or Esc: the prompt closes and its answer is acted on. */
static void prompt_done(struct console *c, bool accept)
{
	enum prompt p = c->prompt;
	struct eng_step *s = c->prompt_step;
	char *text = xstrdup(sb_borrow(&c->input_text));
	c->prompt = PROMPT_NONE;
	c->prompt_step = NULL;
	switch (p) {
	case PROMPT_NOTE:
		/* Said once the note's line is on disk, or that it never will be
		   (on_event, ENG_EV_NOTE). */
		if (accept && *text && s && !acts_note(c, s, text))
			frame_message(c, "the note is not in the record: %s", journal_error(c->cfg->journal)
			                                                        ? journal_error(c->cfg->journal)
			                                                        : "the record is lost");
		break;
	case PROMPT_SKIP:
		if (accept && s) {
			if (engine_approval_refused(c->e, s, c->operator))
				frame_message(c, "refused: an approval is not skipped by the run's driver (f marks it failed)");
			else if (!acts_answer(c, s, ENG_ANSWER_SKIP, *text ? text : NULL, c->operator))
				frame_message(c, "only a manual step or a running wait can be skipped here");
		}
		break;
	case PROMPT_FAIL:
		if (accept && s && !acts_answer(c, s, ENG_ANSWER_FAIL, *text ? text : NULL, c->operator))
			frame_message(c, "only a manual step can be marked failed");
		break;
	case PROMPT_SEARCH:
		if (accept) {
			if (*text) {
				free(c->search);
				c->search = xstrdup(text);
				c->search_hit = (size_t)-1;
			}
			size_t from = c->search_hit == (size_t)-1 ? 0 : c->search_hit + 1;
			if (!pane_output_find_next(c))
				frame_message(c, "no %smatch for /%s", from ? "more " : "", c->search ? c->search : "");
			c->focus = PANE_OUTPUT;
		}
		break;
	case PROMPT_CONFIRM:
		if (s && s->state == ENG_WAITING) {
			bool yes = accept && said_yes(text);
			engine_answer(c->e, s, yes ? ENG_ANSWER_YES : ENG_ANSWER_NO, NULL, c->operator);
			/* Declined: the step is skipped, said once its end is on disk
			   (on_event), in the record's words. */
			if (yes)
				frame_message(c, "confirmed");
			else
				c->declined = s;
		}
		break;
	case PROMPT_APPROVE:
		/* Someone other than the driver types their name: the record keeps it. */
		if (accept && s) {
			if (!*text)
				frame_message(c, "refused: an approval needs the approver's name");
			else if (engine_approval_refused(c->e, s, text))
				frame_message(c, "refused: %s drives this run; another operator approves", c->operator);
			else if (!acts_answer(c, s, ENG_ANSWER_DONE, NULL, text))
				frame_message(c, "Space marks a manual step done");
		}
		break;
	case PROMPT_QUIT:
		if (accept && said_yes(text) && c->cfg->following)
			c->quitting = true; /* rbc join: nothing runs here to stop */
		else if (accept && said_yes(text))
			frame_quit(c);
		break;
	case PROMPT_INCIDENT:
	case PROMPT_ASK:
	case PROMPT_UNFINISHED:
	case PROMPT_UNFINISHED_REASON:
	case PROMPT_NONE:
		break;
	}
	free(text);
	frame_confirm_next(c); /* another confirmation may be waiting */
	overlay_ask_next(c);   /* … or a question */
}

/* A key while the prompt is open. */
static unsigned prompt_key(struct console *c, wint_t ch, bool is_key)
{
	bool one_letter = c->prompt == PROMPT_CONFIRM || c->prompt == PROMPT_QUIT;
	switch (frame_prompt_edit(c, ch, is_key, one_letter)) {
	case FRAME_EDIT_ACCEPT: prompt_done(c, true); break;
	case FRAME_EDIT_CANCEL: prompt_done(c, false); break;
	case FRAME_EDIT_TYPING: break;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/* The question and the line typed so far, on the status row. */
static void prompt_draw(struct console *c, const struct rect *r)
{
	static const char *const ask[] = {"", "Note: ", "Skip reason: ", "Why did it fail? ", "/",
	                                  "", "Steps are running. Quit and stop them? [y/N] "};
	char q[512];
	if (c->prompt == PROMPT_CONFIRM)
		snprintf(q, sizeof q, "%s [y/N] ", c->prompt_step && c->prompt_step->wait_text
		                                      ? c->prompt_step->wait_text : "Confirm?");
	else if (c->prompt == PROMPT_APPROVE)
		snprintf(q, sizeof q, "Approved by (an operator other than %s): ", c->operator);
	else if (c->prompt == PROMPT_QUIT && c->cfg->following) {
		const char *why;
		size_t n = acts_unsent(c, &why);
		snprintf(q, sizeof q, "%zu action%s not sent: quit anyway? [y/N] ", n, n == 1 ? "" : "s");
	} else if (c->prompt == PROMPT_SKIP && c->prompt_step && engine_time_left(c->e, c->prompt_step) >= 0)
		snprintf(q, sizeof q, "End the wait early, why? ");
	else
		snprintf(q, sizeof q, "%s", (size_t)c->prompt < RBC_ARRAY_LEN(ask) ? ask[c->prompt] : "");
	frame_prompt_draw(c, r, q);
}

const struct overlay_ops overlay_prompt_ops = {
	.name = "prompt",
	.draw = prompt_draw,
	.key = prompt_key,
};

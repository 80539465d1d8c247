/*
 * acts.c — the console's answering actions, to the engine or, for rbc
 * join, to the driver (console.h, struct console_acts): one seam the keys
 * and prompts go through, so that nothing else asks whether the console
 * is joined (docs/console.md, "Joining a run").
 */
#include <stdlib.h>

#include "internal.h"
#include "rbc/console.h"

/* The word a joiner's command uses for an answer. */
static const char *answer_kind(enum eng_answer a)
{
	return a == ENG_ANSWER_DONE ? "done" : a == ENG_ANSWER_FAIL ? "fail" : "skip";
}

/* Says what was sent to the driver. */
static void sent(struct console *c, const char *what, const struct eng_step *s)
{
	frame_message(c, "sent to the driver: %s%s%s", what, s ? " on " : "", s ? frame_step_label(s) : "");
}

bool acts_answer(struct console *c, struct eng_step *s, enum eng_answer a, const char *note, const char *by)
{
	const struct console_acts *x = c->cfg->acts;
	if (!x)
		return engine_answer(c->e, s, a, note, by);
	if (!s || !s->def || s->def->action != RB_MANUAL)
		return false;
	x->answer(x->ud, s, answer_kind(a), NULL, note);
	sent(c, answer_kind(a), s);
	return true;
}

bool acts_ask(struct console *c, struct eng_step *s, const char *value, char **why)
{
	const struct console_acts *x = c->cfg->acts;
	if (!x)
		return engine_answer_ask(c->e, s, value, c->operator, why);
	x->answer(x->ud, s, "answer", value, NULL);
	sent(c, "answer", s);
	return true;
}

bool acts_note(struct console *c, struct eng_step *s, const char *text)
{
	const struct console_acts *x = c->cfg->acts;
	if (!x)
		return engine_note(c->e, s, text, c->operator);
	x->answer(x->ud, s, "note", NULL, text);
	sent(c, "note", s);
	return true;
}

bool acts_incident(struct console *c, cJSON *ev)
{
	const struct console_acts *x = c->cfg->acts;
	if (!x || !ev)
		return false;
	x->incident(x->ud, ev);
	cJSON_Delete(ev);
	sent(c, "incident entry", NULL);
	return true;
}

/* rbc join: the actions the database has not taken (internal.h). */
size_t acts_unsent(struct console *c, const char **why)
{
	const struct console_acts *x = c->cfg->acts;
	*why = NULL;
	return x && x->unsent ? x->unsent(x->ud, why) : 0;
}

/* Whether the actions not sent changed since last drawn (internal.h). */
bool acts_unsent_changed(struct console *c)
{
	const char *why;
	size_t n = acts_unsent(c, &why);
	bool stuck = n && why;
	if (n == c->unsent_shown && stuck == c->unsent_stuck_shown)
		return false;
	c->unsent_shown = n;
	c->unsent_stuck_shown = stuck;
	return true;
}

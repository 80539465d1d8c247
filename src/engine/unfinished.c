/*
 * unfinished.c — a step whose start the record has and not its end, settled
 * by the operator at a resume instead of being run again (docs/journal.md,
 * "Resuming": unfinished steps).
 */
#include <stdlib.h>

#include "emit.h"
#include "flow.h"
#include "internal.h"
#include "rbc/util.h"
#include "tree.h"

/* Ends s as st (DONE or SKIPPED, PASS) without running it (rbc/engine.h). */
bool engine_settle_unfinished(struct engine *e, struct eng_step *s, enum eng_state st, int64_t started,
                              const char *explain, const char *note, const char *by)
{
	struct node *n = node_of(s);
	if (e->record_lost || s->state != ENG_PENDING || (st != ENG_DONE && st != ENG_SKIPPED))
		return false;
	free(s->operator);
	s->operator = xstrdup(by && *by ? by : e->operator);
	free(s->note);
	s->note = engine_mask(e, note && *note ? note : NULL);
	s->state = st;
	s->verdict = RBC_VERDICT_PASS;
	s->wait = ENG_WAIT_NONE;
	free(s->explain);
	s->explain = engine_mask(e, explain);
	s->finished = engine_now(e);
	s->started = started ? started : s->finished;
	/* The run's flow ends it (run: true), so that a later resume goes on
	   after it as this one does. */
	struct eng_event ev = {.type = ENG_EV_STEP_FINISHED, .step = s, .verdict = RBC_VERDICT_PASS,
	                       .text = s->explain, .by = s->operator};
	ev.time = engine_now(e);
	ev.run = true;
	if (e->o.on_event)
		e->o.on_event(e->o.ud, &ev);
	if (e->resume_at == n && e->resume_act == FLOW_ENTER)
		e->resume_act = FLOW_AFTER;
	return true;
}

/*
 * budget.c — time budgets (docs/runbook-format.md, "Time budgets"): a
 * group's or a runbook's deadline, counted by the run's clock from the
 * group's start (its first step's), a libuv timer that says when it passes,
 * and what a group past it is judged. The timer never acts itself: it hands
 * the scheduler an outcome (engine->step_report), as a step's timers do,
 * and engine.c applies the on_deadline. Approvals are judged here too:
 * who may answer a manual step with "approval". Imports emit.c only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emit.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "step.h"

/* A group's budget, or a phase's (its runbook's): NULL without a deadline. */
const struct rb_budget *engine_budget(const struct eng_step *s)
{
	const struct rb_budget *b = s->def ? &s->def->budget : s->rb ? &s->rb->budget : NULL;
	if (s->def && s->def->action != RB_GROUP)
		return NULL;
	return b && b->deadline_ms > 0 ? b : NULL;
}

/* Whether the DEADLINE of s was reported (or restored). */
bool engine_budget_passed(const struct eng_step *s)
{
	return ((const struct node *)s)->budget_passed;
}

/* Time left by the run's clock from the start of s (engine.h). */
bool engine_budget_left(const struct engine *e, const struct eng_step *s, int64_t *left_ms)
{
	const struct rb_budget *b = engine_budget(s);
	if (!b || s->state != ENG_RUNNING || !s->started)
		return false;
	int64_t left = s->started + b->deadline_ms - engine_now(e);
	/* A fixed clock (tests) never moves: the timer says it passed. */
	if (engine_budget_passed(s) && left > 0)
		left = 0;
	*left_ms = left;
	return true;
}

/* The timer fired: the scheduler decides (engine.c, on_deadline). */
static void budget_cb(uv_timer_t *t)
{
	struct etimer *et = (struct etimer *)t;
	struct engine *e = t->data;
	struct engine_step_outcome o = {.result = ENGINE_STEP_DEADLINE};
	e->step_report(e, et->node, &o);
}

/* Arms the timer for what is left of n's budget (at once when it is gone). */
void budget_arm(struct engine *e, struct node *n)
{
	const struct rb_budget *b = engine_budget(&n->s);
	if (!b || n->budget_passed || n->s.state != ENG_RUNNING)
		return;
	if (!n->budget) {
		n->budget = xcalloc(1, sizeof *n->budget);
		uv_timer_init(e->loop, &n->budget->t);
		n->budget->node = n;
	}
	n->budget->t.data = e;
	int64_t left = n->s.started + b->deadline_ms - engine_now(e);
	uv_timer_start(&n->budget->t, budget_cb, left > 0 ? (uint64_t)left : 0, 0);
}

/* Stops the timer; the handle stays for the next arming. */
void budget_disarm(struct node *n)
{
	if (n->budget)
		uv_timer_stop(&n->budget->t);
}

/* The loop let the timer go: its memory goes too. */
static void budget_freed(uv_handle_t *h)
{
	free(h->data);
}

/* Closes the timer through the loop (the node is being freed). */
void budget_close(struct node *n)
{
	if (!n->budget)
		return;
	uv_timer_stop(&n->budget->t);
	n->budget->t.data = n->budget;
	uv_close((uv_handle_t *)&n->budget->t, budget_freed);
	n->budget = NULL;
}

/* The running groups below s arm again from their restored start. */
void budget_resume(struct engine *e, struct eng_step *s)
{
	if (s->state == ENG_RUNNING && (!s->def || s->def->action == RB_GROUP))
		budget_arm(e, node_of(s));
	for (size_t i = 0; i < s->nchildren; i++)
		budget_resume(e, s->children[i]);
}

/* ms as a budget is said: whole seconds from a second up ("34m12s"). */
static const char *budget_format(int64_t ms, char *buf, size_t n)
{
	if (ms >= 1000)
		ms = (ms + 500) / 1000 * 1000;
	return units_format_duration(ms < 0 ? 0 : ms, buf, n);
}

/* "deadline 30m passed": the event's text and a cut step's explanation. */
char *budget_text(const struct node *n)
{
	const struct rb_budget *b = engine_budget(&n->s);
	char d[48];
	return xasprintf("deadline %s passed", budget_format(b ? b->deadline_ms : 0, d, sizeof d));
}

/* A group past its deadline: at least WARN (FAIL for fail), how long it took. */
void budget_judge(struct engine *e, const struct node *g, enum rbc_verdict *v, char **explain)
{
	const struct rb_budget *b = engine_budget(&g->s);
	if (!b || !g->s.started)
		return;
	int64_t end = g->s.finished ? g->s.finished : engine_now(e);
	int64_t took = end - g->s.started;
	if (!g->budget_passed && took <= b->deadline_ms)
		return;
	if (took < b->deadline_ms)
		took = b->deadline_ms; /* a fixed clock: the timer said it passed */
	*v = verdict_worst(*v, b->on_deadline == RB_ON_DEADLINE_FAIL ? RBC_VERDICT_FAIL : RBC_VERDICT_WARN);
	char t[48], d[48];
	char *x = xasprintf("took %s, deadline %s (%s)", budget_format(took, t, sizeof t),
	                    budget_format(b->deadline_ms, d, sizeof d), *explain ? *explain : "");
	free(*explain);
	*explain = x;
}

/* Why by may not answer the approval s, or NULL (engine.h). */
const char *engine_approval_refused(const struct engine *e, const struct eng_step *s, const char *by)
{
	if (!s->def || s->def->action != RB_MANUAL || !s->def->approval)
		return NULL;
	if (!by || !*by)
		return "an approval needs the name of the operator who approves";
	if (strcasecmp(by, e->operator) == 0)
		return "an approval must come from an operator other than the run's driver";
	return NULL;
}

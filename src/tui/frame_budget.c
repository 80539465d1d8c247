/*
 * frame_budget.c — what the console says of time budgets, owners and
 * approvals (docs/runbook-format.md, "Time budgets", "Owners and
 * approvals"): a running group's time left ("12m left", "+3m over"), a
 * step's owner as a short tag, and the detail pane's lines about them.
 * Texts only: the panes draw them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "rbc/units.h"

/* ms as the countdown says it: "1h12m", "12m" (whole minutes, rounded up),
   "45s" under a minute. */
static void countdown(int64_t ms, char *buf, size_t n)
{
	long long s = (long long)((ms + 999) / 1000);
	if (s >= 3600)
		snprintf(buf, n, "%lldh%02lldm", s / 3600, (s % 3600 + 59) / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%lldm", (s + 59) / 60);
	else
		snprintf(buf, n, "%llds", s);
}

/* "12m left" or "+3m over" for a running group with a deadline (internal.h). */
bool frame_budget_left(const struct console *c, const struct eng_step *s, char *buf, size_t n, bool *alert)
{
	int64_t left;
	if (frame_shown_state(s) != ENG_RUNNING || !engine_budget_left(c->e, s, &left))
		return false;
	char t[32];
	if (left > 0 && !engine_budget_passed(s)) {
		countdown(left, t, sizeof t);
		snprintf(buf, n, "%s left", t);
	} else {
		countdown(-left, t, sizeof t);
		snprintf(buf, n, "+%s over", t);
	}
	*alert = left < 60000 || engine_budget_passed(s);
	return true;
}

/* The owner's role id, the tree's tag. */
const char *frame_owner_tag(const struct eng_step *s)
{
	return s->def && s->def->owner ? s->def->owner : NULL;
}

/* The owner with its role's name, for the detail pane. */
char *frame_owner_text(const struct eng_step *s)
{
	const char *id = frame_owner_tag(s);
	if (!id)
		return NULL;
	const struct rb_role *r = runbook_role(s->rb, id);
	if (r && r->name)
		return xasprintf("%s (%s)", id, r->name);
	return xstrdup(id);
}

/* The budget, what its end does and the time left, for the detail pane. */
char *frame_deadline_text(const struct console *c, const struct eng_step *s, bool *alert)
{
	const struct rb_budget *b = engine_budget(s);
	*alert = false;
	if (!b)
		return NULL;
	char d[48], left[48];
	units_format_duration(b->deadline_ms, d, sizeof d);
	struct strbuf sb = {0};
	sb_addf(&sb, "%s · on_deadline %s", d, rb_on_deadline_name(b->on_deadline));
	if (b->on_deadline == RB_ON_DEADLINE_GOTO && b->target)
		sb_addf(&sb, ":%s", b->target);
	if (frame_budget_left(c, s, left, sizeof left, alert))
		sb_addf(&sb, " · %s", left);
	else if (engine_budget_passed(s))
		sb_adds(&sb, " · passed");
	return sb_take(&sb);
}

/* Who approved, or who may, for the detail pane. */
char *frame_approval_text(const struct console *c, const struct eng_step *s)
{
	if (!s->def || s->def->action != RB_MANUAL || !s->def->approval)
		return NULL;
	if (s->state == ENG_DONE && s->verdict == RBC_VERDICT_PASS && s->operator)
		return xasprintf("approved by %s", s->operator);
	return xasprintf("needs an operator other than %s · Space asks the approver's name", c->operator);
}

/*
 * overlay_incident.c — incident mode's keys and questions: S declares the
 * incident (severity, title, impact start) or changes its severity (with a
 * reason), o assigns a role, n d t add to the timeline, u sets the status
 * and sends an update, R resolves it criterion by criterion. Closed, it
 * takes those requests (the frame offers them after the focused pane);
 * open, it gets every key of its question's line. The actions go to the
 * journal through the entry's record hook: the screen shows them once on
 * disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Asks q (taken) for the incident; the answer goes to incident_answer. */
static void ask(struct console *c, enum inc_ask a, char *q)
{
	frame_prompt_start(c, PROMPT_INCIDENT, NULL);
	c->ask = a;
	free(c->ask_q);
	c->ask_q = q;
}

/* S on an incident not declared: its three questions. */
void overlay_incident_declare(struct console *c)
{
	ask(c, ASK_SEVERITY, desk_levels_question(c->inc->rb, "Declare the incident: severity"));
}

/* Asks again after a refusal, saying why first (the prompt has the status
   line: a message would not show). */
static void ask_again(struct console *c, const char *why)
{
	char *q = xasprintf("%s · %s", why, c->ask_q ? c->ask_q : "");
	ask(c, c->ask, q);
}

/* Frees the answers gathered so far. */
void overlay_incident_free(struct console *c)
{
	free(c->ask_sev);
	free(c->ask_title);
	free(c->ask_summary);
	c->ask_sev = c->ask_title = c->ask_summary = NULL;
	for (size_t i = 0; c->ask_reasons && i < c->inc->rb->nexit_criteria; i++)
		free(c->ask_reasons[i]);
	free(c->ask_reasons);
	c->ask_reasons = NULL;
	c->ask_crit = 0;
}

/* The question for exit criterion i (R). */
static void ask_criterion(struct console *c)
{
	const struct runbook *rb = c->inc->rb;
	ask(c, ASK_CRITERION, xasprintf("Exit criterion %zu/%zu: %s — met? (y, or why it is resolved anyway): ",
	                                c->ask_crit + 1, rb->nexit_criteria, rb->exit_criteria[c->ask_crit]));
}

/* The resolution, once every criterion is answered. */
static void resolve_now(struct console *c)
{
	struct rbc_error err = {0};
	c->hooks->record(c, incident_resolve(c->inc, (const char *const *)c->ask_reasons, c->inc->rb->nexit_criteria,
	                                     c->ask_summary, frame_now(c), c->operator, &err), &err);
	overlay_incident_free(c);
}

/* Enter (accept) or Esc in an incident prompt. */
static void incident_answer(struct console *c, const char *text, bool accept)
{
	const struct incident *in = c->inc;
	struct rbc_error err = {0};
	int64_t now = frame_now(c);
	enum inc_ask a = c->ask;
	c->ask = ASK_NONE;
	if (!accept) {
		overlay_incident_free(c);
		frame_message(c, a == ASK_SEVERITY || a == ASK_TITLE || a == ASK_IMPACT
		                     ? "not declared: S declares the incident"
		                     : "left as it was");
		return;
	}
	switch (a) {
	case ASK_SEVERITY: {
		const char *id = desk_level_of(in->rb, text);
		if (incident_severity_find(in->rb, id) == SIZE_MAX) {
			char *why = xasprintf("no severity \"%s\"", text);
			overlay_incident_declare(c);
			ask_again(c, why);
			free(why);
			return;
		}
		free(c->ask_sev);
		c->ask_sev = xstrdup(id);
		ask(c, ASK_TITLE, xstrdup("Title of the incident: "));
		return;
	}
	case ASK_TITLE:
		if (!*text) {
			ask(c, ASK_TITLE, xstrdup("Title of the incident (it needs one): "));
			return;
		}
		free(c->ask_title);
		c->ask_title = xstrdup(text);
		ask(c, ASK_IMPACT, xstrdup("Impact started (UTC HH:MM, 15m for 15 minutes ago, ISO time; Enter: now): "));
		return;
	case ASK_IMPACT: {
		int64_t start = desk_impact_of(text, now);
		cJSON *ev = start ? incident_declare(in, c->ask_sev, c->ask_title, start, now, c->operator, &err) : NULL;
		if (!start)
			rbc_error_set(&err, "\"%s\" is no time (HH:MM, 15m, or 2026-12-04T01:50:00Z)", text);
		if (!ev) {
			ask(c, ASK_IMPACT, xstrdup("Impact started (UTC HH:MM, 15m ago, ISO time; Enter: now): "));
			ask_again(c, err.msg);
			rbc_error_clear(&err);
			return;
		}
		c->hooks->record(c, ev, &err);
		overlay_incident_free(c);
		return;
	}
	case ASK_NEW_SEVERITY: {
		const char *id = desk_level_of(in->rb, text);
		if (incident_severity_find(in->rb, id) == SIZE_MAX || incident_severity_find(in->rb, id) == in->severity) {
			frame_message(c, incident_severity_find(in->rb, id) == SIZE_MAX ? "no severity \"%s\"" : "already %s",
			              text);
			return;
		}
		free(c->ask_sev);
		c->ask_sev = xstrdup(id);
		char *l = incident_severity_label(in->rb, incident_severity_find(in->rb, id));
		ask(c, ASK_SEV_REASON, xasprintf("Why %s? ", l));
		free(l);
		return;
	}
	case ASK_SEV_REASON:
		c->hooks->record(c, incident_change_severity(in, c->ask_sev, text, now, c->operator, &err), &err);
		overlay_incident_free(c);
		return;
	case ASK_ROLE: {
		const char *eq = strchr(text, '=');
		char *role = eq ? xstrndup(text, (size_t)(eq - text)) : xstrdup(text);
		c->hooks->record(c, incident_assign(in, role, eq ? eq + 1 : c->operator, now, c->operator, &err), &err);
		free(role);
		return;
	}
	case ASK_NOTE:
		c->hooks->record(c, incident_add(in, INC_EV_NOTE, text, now, c->operator, &err), &err);
		return;
	case ASK_DECISION:
		c->hooks->record(c, incident_add(in, INC_EV_DECISION, text, now, c->operator, &err), &err);
		return;
	case ASK_TODO:
		c->hooks->record(c, incident_add(in, INC_EV_TODO, text, now, c->operator, &err), &err);
		return;
	case ASK_STATUS: {
		enum inc_status st = in->status;
		if (*text && !incident_status_parse(text, &st)) {
			frame_message(c, "no status \"%s\" (investigating, fixing, monitoring)", text);
			return;
		}
		if (st != in->status &&
		    !c->hooks->record(c, incident_set_status(in, st, now, c->operator, &err), &err))
			return;
		ask(c, ASK_UPDATE, xstrdup("Status update (sent to the channels): "));
		return;
	}
	case ASK_UPDATE:
		c->hooks->record(c, incident_add(in, INC_EV_UPDATE, text, now, c->operator, &err), &err);
		return;
	case ASK_RESOLVE:
		free(c->ask_summary);
		c->ask_summary = xstrdup(text);
		c->ask_crit = 0;
		c->ask_reasons = xcalloc(in->rb->nexit_criteria + 1, sizeof *c->ask_reasons);
		if (in->rb->nexit_criteria)
			ask_criterion(c);
		else
			resolve_now(c);
		return;
	case ASK_CRITERION:
		if (!*text) {
			ask_criterion(c);
			return;
		}
		if (strcmp(text, "y") != 0 && strcmp(text, "Y") != 0 && strcmp(text, "yes") != 0)
			c->ask_reasons[c->ask_crit] = xstrdup(text);
		if (++c->ask_crit < in->rb->nexit_criteria)
			ask_criterion(c);
		else
			resolve_now(c);
		return;
	case ASK_NONE:
		return;
	}
}

/* The incident keys: what each asks, or why it cannot. */
static void incident_key(struct console *c, enum request r)
{
	if (!c->inc) {
		frame_message(c, "not an incident runbook: S, o, d, t, u and R act on incidents");
		return;
	}
	if (c->inc->severity == SIZE_MAX) {
		if (r == REQ_SEVERITY)
			overlay_incident_declare(c);
		else
			frame_message(c, "declare the incident first: S");
		return;
	}
	if (c->inc->status == INC_RESOLVED) {
		frame_message(c, "the incident is resolved");
		return;
	}
	const struct runbook *rb = c->inc->rb;
	switch (r) {
	case REQ_SEVERITY: {
		char *l = incident_severity_label(rb, c->inc->severity);
		char *lead = xasprintf("New severity, now %s", l);
		ask(c, ASK_NEW_SEVERITY, desk_levels_question(rb, lead));
		free(lead);
		free(l);
		break;
	}
	case REQ_ROLE: {
		struct strbuf sb = {0};
		sb_adds(&sb, "Assign ROLE=NAME (ROLE alone: you; ROLE=: unassigned; ");
		for (size_t i = 0; i < rb->nroles; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", rb->roles[i].id);
		sb_adds(&sb, "): ");
		ask(c, ASK_ROLE, sb_take(&sb));
		break;
	}
	case REQ_NOTE:
		ask(c, ASK_NOTE, xstrdup("Timeline note: "));
		break;
	case REQ_DECISION:
		ask(c, ASK_DECISION, xstrdup("Decision: "));
		break;
	case REQ_TODO:
		ask(c, ASK_TODO, xstrdup("Todo: "));
		break;
	case REQ_UPDATE:
		ask(c, ASK_STATUS, xasprintf("Status, now %s (investigating, fixing, monitoring; Enter: keep): ",
		                             incident_status_name(c->inc->status)));
		break;
	case REQ_RESOLVE:
		ask(c, ASK_RESOLVE, xstrdup("Resolve: summary of the resolution: "));
		break;
	default:
		break;
	}
}

/* The incident keys: what each asks, or why it cannot; n adds to the
   timeline once the incident is declared. */
static unsigned incident_request(struct console *c, enum request r)
{
	switch (r) {
	case REQ_NOTE:
		if (!c->inc || c->inc->severity == SIZE_MAX)
			return PANE_IGNORED;
		break;
	case REQ_SEVERITY:
	case REQ_ROLE:
	case REQ_DECISION:
	case REQ_TODO:
	case REQ_UPDATE:
	case REQ_RESOLVE:
		break;
	default:
		return PANE_IGNORED;
	}
	incident_key(c, r);
	return PANE_HANDLED | PANE_REDRAW;
}

/* A key on the question's line: Enter answers, Esc leaves it. */
static unsigned incident_overlay_key(struct console *c, wint_t ch, bool is_key)
{
	enum frame_edit ed = frame_prompt_edit(c, ch, is_key, false);
	if (ed == FRAME_EDIT_TYPING)
		return PANE_HANDLED | PANE_REDRAW;
	char *text = xstrdup(sb_borrow(&c->input_text));
	c->prompt = PROMPT_NONE;
	c->prompt_step = NULL;
	incident_answer(c, text, ed == FRAME_EDIT_ACCEPT);
	free(text);
	frame_confirm_next(c); /* a confirmation may be waiting once no question is */
	overlay_ask_next(c);
	return PANE_HANDLED | PANE_REDRAW;
}

/* The question and the answer typed so far, on the status row. */
static void incident_overlay_draw(struct console *c, const struct rect *r)
{
	char q[512];
	snprintf(q, sizeof q, "%s", c->ask_q ? c->ask_q : "");
	frame_prompt_draw(c, r, q);
}

const struct overlay_ops overlay_incident_ops = {
	.name = "incident",
	.draw = incident_overlay_draw,
	.key = incident_overlay_key,
	.request = incident_request,
};

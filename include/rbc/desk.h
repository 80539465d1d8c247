/*
 * desk.h — the incident desk: an incident runbook's incident and its
 * notifications, below every view (docs/console.md, "Incident mode";
 * docs/notifications.md).
 *
 * A session opens one desk when its first runbook is an incident runbook.
 * The desk keeps the incident from its journaled events only: actions are
 * recorded through the engine (engine_incident), journaled, and applied
 * when the journal hands their event back (desk_on_event); a resumed run's
 * incident is rebuilt by desk_replay, through journal_replay. The desk
 * sends Slack and PagerDuty notifications on declare, severity change,
 * status update, step failure, rollback and resolve, so a console and a
 * batch run notify alike, and journals how each delivery ended.
 *
 * Everything happens on the loop thread. The desk borrows the engine and
 * the loop; say(ud, text) tells the operator something (a notifier that
 * could not start, variables set in the environment that the runbook does
 * not declare), however the view shows it.
 */
#ifndef RBC_DESK_H
#define RBC_DESK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "rbc/engine.h"
#include "rbc/error.h"
#include "rbc/incident.h"

struct incident_desk;

struct desk_opts {
	uv_loop_t *loop;
	struct engine *e;                 /* its first runbook is the incident's */
	int64_t (*now)(void *ud);         /* the session's clock (RBC_TEST_NOW) */
	void *now_ud;
	void (*say)(void *ud, const char *text);
	void *say_ud;
	bool follow;                      /* rbc follow: the record's incident shown, nothing sent or recorded */
};

/* A desk for e's first runbook, with its notifier (from the run's
   variables: SLACK_WEBHOOK_URL, PAGERDUTY_KEY, PAGERDUTY_EVENTS_URL);
   NULL when that runbook is no incident runbook. */
struct incident_desk *desk_new(const struct desk_opts *o);
/* Drops undelivered notifications; run the loop afterwards until it has
   nothing left (their handles close through it). NULL is fine. */
void desk_free(struct incident_desk *d);

/* A resumed run: the incident lines of dir's journal applied in order. */
bool desk_replay(struct incident_desk *d, const char *dir, struct rbc_error *err);

/* Declares the incident at the level named by level (its id or its name),
   with title, the impact from impact ("" or NULL: now; desk_impact_of);
   false with err when it cannot be. */
bool desk_declare(struct incident_desk *d, const char *level, const char *title, const char *impact,
                  const char *actor, struct rbc_error *err);

/* Records what an incident action returned (taken): journaled, applied
   once on disk. NULL: false, err being the action's refusal. */
bool desk_record(struct incident_desk *d, cJSON *ev, struct rbc_error *err);

/* The session's events, once journaled: incident lines applied and told
   to the channels, a failed step and a watch that fired told too. */
void desk_on_event(struct incident_desk *d, const struct eng_event *ev);

/* The incident (borrowed; its runbook is the desk's). */
const struct incident *desk_incident(const struct incident_desk *d);
/* Declared, or its declaration on its way to the record (asking for one
   would be asking twice). */
bool desk_declared(const struct incident_desk *d);
/* Declared and not resolved yet. */
bool desk_open(const struct incident_desk *d);
/* Notifications neither delivered nor failed yet. */
size_t desk_pending(const struct incident_desk *d);

/* The id of the level an answer names: its id or its name, in any case
   (the answer itself when none does). */
const char *desk_level_of(const struct runbook *rb, const char *answer);
/* When the impact started: "" (now), HH:MM[:SS] (UTC) today — yesterday
   when today's is still to come and yesterday's under 12 hours ago —, a
   duration ago ("15m"), or a full ISO time. 0: not understood. */
int64_t desk_impact_of(const char *answer, int64_t now);
/* "LEAD (L1 Minor, L2 Major, …): "; caller frees. */
char *desk_levels_question(const struct runbook *rb, const char *lead);
/* PagerDuty's severity at level i: the level's pagerduty_severity, else
   by position (critical, error, warning, then info). */
const char *desk_pagerduty_severity(const struct runbook *rb, size_t i);

#endif

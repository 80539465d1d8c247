/*
 * incident.h — one incident's state, kept from its events (docs/journal.md, "Incident events").
 *
 * An incident runbook declares its ladder (`severities`), its `roles`, how
 * often the status is updated (`update_every`) and its `exit_criteria`. The
 * state of the incident — level, status, who holds which role, the clocks,
 * the timeline — is what its events say, and nothing else: each action
 * below checks what it is asked and returns the event that records it (a
 * JSON object, the fields of a journal line of "ev": "incident"), which the
 * caller journals and then gives to incident_apply. A resume and an export
 * rebuild the same state by applying the journaled events in order.
 *
 * Nothing here assumes which end of the ladder is worst: the seeds count
 * both ways. A level is always shown with its name ("L2 Major").
 *
 * Times are ms since the epoch (UTC); the caller passes `now` so a fixed
 * clock (RBC_TEST_NOW) gives fixed screens.
 */
#ifndef RBC_INCIDENT_H
#define RBC_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/runbook.h"

/* The status lifecycle: X(ENUM, word). */
#define INC_STATUSES(X)                    \
	X(INVESTIGATING, "investigating")  \
	X(FIXING, "fixing")                \
	X(MONITORING, "monitoring")        \
	X(RESOLVED, "resolved")

enum inc_status {
#define X(e, w) INC_##e,
	INC_STATUSES(X)
#undef X
};
const char *incident_status_name(enum inc_status s);
/* The status named w; false when there is none. */
bool incident_status_parse(const char *w, enum inc_status *out);

/* What an event records: X(ENUM, "what"). */
#define INC_KINDS(X)                       \
	X(DECLARED, "declared")            \
	X(SEVERITY, "severity")            \
	X(STATUS, "status")                \
	X(ROLE, "role")                    \
	X(NOTE, "note")                    \
	X(DECISION, "decision")            \
	X(TODO, "todo")                    \
	X(TODO_DONE, "todo_done")          \
	X(UPDATE, "update")                \
	X(TRIGGER, "trigger")              \
	X(RESOLVED, "resolved")            \
	X(NOTIFICATION, "notification")

enum inc_kind {
#define X(e, w) INC_EV_##e,
	INC_KINDS(X)
#undef X
};
const char *incident_kind_name(enum inc_kind k);

/* One timeline entry (owned by the incident). */
struct inc_entry {
	enum inc_kind kind;
	int64_t t;
	char *actor;
	char *text;              /* note, decision, todo, update, reason, trigger */
	char *from, *to;         /* SEVERITY: level ids; STATUS: words; ROLE: holders
	                            (NULL: unassigned); NOTIFICATION: the target
	                            ("slack") and the delivery's state */
	char *role;              /* ROLE: the role's id */
	bool automatic;          /* TRIGGER: a watch fired it, not a person */
	bool done;               /* TODO: ticked since (a TODO_DONE names it) */
	size_t todo;             /* TODO_DONE: the index of the TODO entry */
};

/* Time spent in each level, in the order the incident went through them. */
struct inc_level_span {
	size_t severity;         /* index into the runbook's severities */
	int64_t from, to;        /* to: 0 while still at this level */
};

struct incident {
	const struct runbook *rb; /* borrowed; kind incident */
	char *id, *title;
	int64_t impact_start, declared, mitigated, resolved; /* 0: not yet */
	size_t severity;          /* index into rb->severities; SIZE_MAX before declared */
	enum inc_status status;
	char **holders;           /* per rb->roles, NULL: unassigned */
	int64_t last_update;      /* the last status update (or the declaration) */
	struct inc_entry *entries;
	size_t nentries, capentries;
	struct inc_level_span *spans;
	size_t nspans, capspans;
};

/* A new incident for rb, not declared yet. */
struct incident *incident_new(const struct runbook *rb);
void incident_free(struct incident *in);

/* The index of the level with this id, or SIZE_MAX. */
size_t incident_severity_find(const struct runbook *rb, const char *id);
/* "L2 Major" (id and name); caller frees. */
char *incident_severity_label(const struct runbook *rb, size_t severity);

/*
 * The actions. Each returns the event that records it (caller owns it), or
 * NULL with err set when it cannot be done: not declared yet, declared
 * twice, an unknown level or role, an impact start in the future, a reason
 * missing, a resolved incident changed.
 */
cJSON *incident_declare(const struct incident *in, const char *severity_id, const char *title,
                        int64_t impact_start, int64_t now, const char *actor, struct rbc_error *err);
cJSON *incident_change_severity(const struct incident *in, const char *severity_id, const char *reason,
                                int64_t now, const char *actor, struct rbc_error *err);
cJSON *incident_set_status(const struct incident *in, enum inc_status status, int64_t now, const char *actor,
                           struct rbc_error *err);
/* who NULL or "": the role is left unassigned. */
cJSON *incident_assign(const struct incident *in, const char *role_id, const char *who, int64_t now,
                       const char *actor, struct rbc_error *err);
/* kind: NOTE, DECISION, TODO or UPDATE (a status update: also the text a
   notification sends). */
cJSON *incident_add(const struct incident *in, enum inc_kind kind, const char *text, int64_t now,
                    const char *actor, struct rbc_error *err);
cJSON *incident_todo_done(const struct incident *in, size_t todo_entry, int64_t now, const char *actor,
                          struct rbc_error *err);
/* A rollback or procedure started by a watch (automatic) or by hand; text
   says why, verbatim (metric, value, threshold, count or duration). */
cJSON *incident_trigger(const struct incident *in, const char *text, bool automatic, int64_t now,
                        const char *actor, struct rbc_error *err);
/*
 * Resolves it. reasons has one entry per exit criterion of the runbook: NULL
 * for a criterion met, else why it is accepted unmet (required: an unmet
 * criterion without a reason refuses).
 */
cJSON *incident_resolve(const struct incident *in, const char *const *reasons, size_t nreasons,
                        const char *summary, int64_t now, const char *actor, struct rbc_error *err);

/* Where a notification about the incident stands (target "slack" or
   "pagerduty", what it was about, its state: "retrying", "delivered",
   "failed"; text: one line saying so, no secret in it). Allowed after the
   resolution too: the resolution's own notification arrives after it. */
cJSON *incident_notification(const struct incident *in, const char *target, const char *about,
                             const char *state, const char *text, int64_t now, struct rbc_error *err);

/* Applies one event (as the actions return it, or read back from the
   journal). False with err when it does not fit the incident. */
bool incident_apply(struct incident *in, const cJSON *ev, struct rbc_error *err);

/* The restore target's state: where the clock is against it. */
enum inc_target { INC_TARGET_NONE, INC_TARGET_OK, INC_TARGET_HALF, INC_TARGET_THREE_QUARTERS,
	              INC_TARGET_BREACHED };

struct inc_clock {
	int64_t since_impact, since_declared; /* ms; 0 before declared */
	int64_t restore_ms;          /* the level's target; 0: none */
	int64_t restore_left;        /* ms until the target (negative: past it) */
	double fraction;             /* since_impact / restore_ms (0 when no target) */
	enum inc_target target;
	int64_t update_due;          /* when the next status update is due; 0: none */
	bool update_overdue;
};

/* The clocks at now. Resolved incidents stop at their resolution. */
void incident_clock(const struct incident *in, int64_t now, struct inc_clock *c);

/*
 * One timeline entry in words, the same for the console's timeline and the
 * exported documents. incident_entry_detail: what it says after its kind,
 * "L2 → L3 — the region is down", "incident-commander: carol → dave"
 * ("" when nothing). incident_entry_line: the whole line, "02:20:00
 * severity L2 → L3 — the region is down (alice)" (time UTC; the actor but
 * for notifications, which rbc sends). Caller frees; text is as recorded
 * (escape for the medium).
 */
char *incident_entry_detail(const struct runbook *rb, const struct inc_entry *e);
char *incident_entry_line(const struct runbook *rb, const struct inc_entry *e);

/* "1h02m", "4m05s", "12s": a clock's reading (negative: "-3m10s"); caller frees. */
char *incident_duration(int64_t ms);

#endif

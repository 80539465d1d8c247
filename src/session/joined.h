/*
 * joined.h — the driver's side of rbc join: a joiner's command judged
 * against the runbooks and the run's state, applied through the engine
 * and the desk, and journaled (docs/team.md, "Joining a run").
 */
#ifndef RBC_SESSION_JOINED_H
#define RBC_SESSION_JOINED_H

#include <stdbool.h>
#include <stdint.h>

#include "rbc/commands.h"
#include "rbc/desk.h"
#include "rbc/engine.h"

struct joined {
	struct engine *e;
	struct incident_desk *desk;       /* NULL: no incident */
	int64_t (*now)(void *ud);         /* the session's clock */
	void *now_ud;
};

/* Judges c, applies it when it may be, journals a command event saying
   what became of it: *applied, or *why (a new string, shown as the record
   keeps it); *forget: c answers a secret, whose value is neither journaled
   nor left in the table. */
void joined_take(const struct joined *j, const struct command *c, bool *applied, char **why, bool *forget);

#endif

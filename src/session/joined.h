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

/* A command the record already judged (a resumed or taken-over run). */
struct joined_seen {
	long long id;
	bool applied;
	char *why;
};

struct joined {
	struct engine *e;
	struct incident_desk *desk;       /* NULL: no incident */
	int64_t (*now)(void *ud);         /* the session's clock */
	void *now_ud;
	struct joined_seen *seen;         /* by id, from the journal (joined_seen_from) */
	size_t nseen;
};

/* The commands the run's journal (path) already judged: taken again (a
   driver killed before the row's state was stored, or taken over), each is
   given its recorded verdict, neither applied nor journaled twice. */
void joined_seen_from(struct joined *j, const char *path);
void joined_free(struct joined *j);

/* Judges c, applies it when it may be, journals a command event saying
   what became of it: *applied, or *why (a new string, shown as the record
   keeps it); *forget: c answers a secret, whose value is neither journaled
   nor left in the table. */
void joined_take(const struct joined *j, const struct command *c, bool *applied, char **why, bool *forget);

#endif

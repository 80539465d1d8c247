/*
 * budget.h — what the loader uses of budget.c: the keys that say who does a
 * step and in how long (docs/runbook-format.md, "Time budgets", "Owners and
 * approvals", "Group defaults"). Problems go to the reader's diagnostics.
 */
#ifndef RBC_RUNBOOK_BUDGET_H
#define RBC_RUNBOOK_BUDGET_H

#include "rbc/keys.h"

/*
 * Reads m, one of "deadline", "on_deadline", "owner" and "approval", of step
 * s (NULL: of the runbook rb itself, which takes the first two). A goto:
 * target of on_deadline is left in *goto_id (borrowed from m) for the
 * loader to check with the others.
 */
void budget_key(struct keys_reader *r, const cJSON *m, struct rb_step *s, struct runbook *rb,
                const char **goto_id);

/* A group's "defaults", read as a step of those keys alone: a new step. */
struct rb_step *budget_defaults_new(const struct rb_step *group);

/* After step s (object n) is read: what it sets itself, and the keys that
   make no sense for its action. */
void budget_step_read(struct keys_reader *r, const cJSON *n, struct rb_step *s);

/*
 * Once every step of rb is read (all: in document order): each step takes
 * the defaults of its nearest groups for what it does not set, and every
 * owner must be one of the runbook's roles.
 */
void budget_finish(struct keys_reader *r, struct runbook *rb, struct rb_step **all, size_t nall);

#endif

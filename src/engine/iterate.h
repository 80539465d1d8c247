/*
 * iterate.h — a loop's expansion (iterate.c): a group with foreach grows
 * one child group per item when the run reaches it (docs/runbook-format.md,
 * "Loops"). It imports tree.c, callee.c, vars.c and emit.c, never the scheduler.
 */
#ifndef RBC_ENGINE_ITERATE_H
#define RBC_ENGINE_ITERATE_H

#include <cjson/cJSON.h>

#include "internal.h"

/*
 * Expands loop g (not yet expanded): its items resolved, one iteration per
 * item made below it and reported (EXPANDED). NULL when done (no items:
 * none made), else why it cannot be (masked; caller frees): a list that is
 * not one, more than RB_MAX_ITERATIONS items.
 */
char *iterate_expand(struct engine *e, struct node *g);
/*
 * A loop is entered (docs/runbook-format.md, "Loops"): expanded the first
 * time, its failures counted (a resume keeps the ones before). NULL when its
 * iterations run; else it ends at once, DONE with *v and the explanation
 * returned (caller frees): PASS "no items", ERROR a list that is none or
 * too long.
 */
char *iterate_begin(struct engine *e, struct node *g, enum rbc_verdict *v);
/* Iteration root of loop g ended: a failure past max_failures halts g
   (nothing more starts) and counts as its stop. */
void iterate_ended(struct node *g, const struct node *root);
/* Why halted loop g's iterations not started end skipped (caller frees). */
char *iterate_halt_reason(const struct node *g);
/* The same from the record (an EXPANDED line's "items"), reporting nothing. */
void iterate_restore(struct engine *e, struct node *g, const cJSON *line);

#endif

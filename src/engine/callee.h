/*
 * callee.h — call steps in the run (callee.c; docs/runbook-format.md,
 * "Calls"): a call is a group in the tree whose steps are copies of its
 * callee's, ided under the call; its variables are bound when it starts,
 * its exports handed out when it ends. Also the step copies loops use.
 * It imports vars.c and emit.c, never the scheduler or the tree.
 */
#ifndef RBC_ENGINE_CALLEE_H
#define RBC_ENGINE_CALLEE_H

#include "internal.h"

/*
 * A copy of src below parent, and of its steps, for the scope (iteration,
 * call) whose id is prefix: src's own but for id ("PREFIX.ID"), number,
 * path and children. The engine owns it (freed with the run).
 */
struct rb_step *callee_copy(struct engine *e, const struct rb_step *src, struct rb_step *parent,
                            const char *prefix, const char *number);
/* Keeps a step the engine made, to be freed with the run. */
void callee_keep(struct engine *e, struct rb_step *d);
/* The group a call step d stands as in the tree: d's own keys, the callee's
   steps copied below it (made once per node). */
const struct rb_step *callee_group(struct engine *e, const struct rb_step *d);
/* Binds call node n's variables: with (expanded where the call stands),
   then the callee's defaults. */
void callee_bind(struct engine *e, struct node *n);
/* The call starts, its variables bound: reported (EXPANDED, with the
   steps it runs). */
void callee_start(struct engine *e, struct node *n);
/* The call ends: its exports go to where it stands, each reported
   (CAPTURE); returns explain_take with what came back (masked). */
char *callee_end(struct engine *e, struct node *n, char *explain_take);
/* Frees what the engine made (after the tree). */
void callee_free_all(struct engine *e);

#endif

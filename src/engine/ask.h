/*
 * ask.h — what the scheduler uses of ask.c: an ask step's answer given by
 * the run's options, and an answer accepted (the variable set, the CAPTURE
 * that records who answered what). ask.c imports vars.c and emit.c, never
 * the scheduler: engine.c finishes the step and moves the flow.
 */
#ifndef RBC_ENGINE_ASK_H
#define RBC_ENGINE_ASK_H

#include "internal.h"

/* The secret asks' answers given by options join the run's mask and its
   secrets before anything is shown or journaled (engine_new). */
void ask_engine_init(struct engine *e);

/*
 * The answer the run's options give ask step s (borrowed), or NULL: its
 * variable given by --var, --vars or --answers ("given"), else its default
 * under --assume done ("--assume done"). *by says which.
 */
const char *ask_given(struct engine *e, const struct eng_step *s, const char **by);

/*
 * Checks value against s's rule. Refused: false, *why the rule it breaks
 * (caller frees), nothing changed. Accepted: the variable is set for the
 * rest of the run (a secret's value joins the mask first), a CAPTURE says
 * who answered what (the value masked when secret), *explain is the
 * step's explanation "answered VALUE by NAME" (caller frees) and *target
 * the choice's goto (NULL: none).
 */
bool ask_accept(struct engine *e, struct node *n, const char *value, const char *by, bool automatic,
                char **explain, struct node **target, char **why);

/* The question s asks, expanded and masked (a new string). */
char *ask_question(struct engine *e, const struct eng_step *s);

#endif

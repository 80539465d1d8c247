/*
 * tree.h — the run's step tree (tree.c): building and freeing it, finding
 * steps, document order, on_fail targets, titles, counts and the verdict.
 * It imports step.c (a node frees its samples and timers) and vars.c
 * (titles), never the scheduler.
 */
#ifndef RBC_ENGINE_TREE_H
#define RBC_ENGINE_TREE_H

#include "internal.h"

/* A node for def below parent (NULL: a top node) at index, with the nodes
   of def's steps (a loop's: none until it expands). */
struct node *tree_node_new(struct engine *e, const struct rb_step *def, const struct runbook *rb,
                           struct node *parent, size_t index);
/* Builds e->nodes from the runbooks of e->o, then their includes. */
void engine_tree_build(struct engine *e);
/* Frees e->nodes and the procedures' group definitions. */
void engine_tree_free(struct engine *e);
/* A step's title as written (the runbook's for a top node; else its id). */
const char *engine_raw_title(const struct eng_step *s);
/* Titles of s and below with what is known so far; refreshed when a step starts. */
void engine_titles_init(struct engine *e, struct eng_step *s);
/* The title of loop g once expanded, its own variable shown as the items
   ("Canary 5, 25, 50 %"; each iteration has its own); NULL when g is no
   expanded loop or its title does not name the variable. */
char *engine_loop_title(struct engine *e, struct node *g);
/* The titles of the steps below n, expanded with what is known now and
   masked: a skipped group's steps are never reached to have them set. */
void node_titles_below(struct engine *e, struct node *n);
/* True for a step outside the normal flow: an include, a procedure. */
bool node_on_demand(const struct eng_step *s);
/* True when s is root or below it. */
bool engine_within(const struct eng_step *s, const struct eng_step *root);
/* The top node holding s. */
struct eng_step *engine_phase_of(struct eng_step *s);
/* Where a failed step's goto: or run: sends the flow (NULL: nowhere). */
struct node *engine_target(struct engine *e, struct node *from);
/* The step id names in from's runbook, where a goto goes (NULL: none). */
struct node *engine_goto_target(struct node *from, const char *id);
/* Where a declined confirmation's on_decline goto: sends the flow (NULL: nowhere). */
struct node *engine_decline_target(struct node *from);
/* Where a passed deadline's on_deadline goto: sends the flow (NULL: nowhere). */
struct node *engine_budget_target(struct node *from);
/* True when a comes before b in document order (pre-order: a parent first). */
bool doc_before(const struct eng_step *a, const struct eng_step *b);
/* The procedure a jump to target enters: its nearest on-demand ancestor-or-self. */
struct node *procedure_of(struct eng_step *target);

#endif

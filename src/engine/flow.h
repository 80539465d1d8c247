/*
 * flow.h — the flows' mechanics (flow.c): the ready queue, finishing
 * nodes, closing groups with their verdict, entering a group and starting
 * or ending its branches. The scheduler (engine.c) decides; these carry
 * it out. flow.c imports tree.c, step.c, callee.c, budget.c, iterate.c and
 * emit.c, never engine.c. node_reset and reset_between (internal.h) are
 * flow.c's too.
 */
#ifndef RBC_ENGINE_FLOW_H
#define RBC_ENGINE_FLOW_H

#include "internal.h"

/* A new flow: a branch of parent (NULL: none), inside root (NULL: everywhere). */
struct flow *flow_new(struct engine *e, struct node *root, struct flow *parent);
/* Takes f off the ready queue and the engine's flows, and frees it. */
void flow_free(struct flow *f);
/* Queues f's next move (act on n), done by engine_pump in its turn. */
void flow_move(struct flow *f, enum flow_act act, struct node *n);

/* n ends: its state, verdict and explanation (taken) journaled; it leaves its flow. */
void node_finish(struct engine *e, struct node *n, enum eng_state st, enum rbc_verdict v,
                 char *explain_take);
/* A running group ends: its children's verdict, its call's exports, its budget. */
void group_close(struct engine *e, struct node *g);
/* A watch ended after its groups closed: their verdicts may change. */
void node_refresh_ancestors(struct engine *e, struct node *n);
/* Closes the open groups from s's parent up to (not including) stop_at. */
void close_up_to(struct engine *e, struct eng_step *s, struct eng_step *stop_at);
/* Calls fn on every node below s, children before their parent. */
void walk_post(struct engine *e, struct eng_step *s,
               void (*fn)(struct engine *, struct node *, void *), void *ud);
/* Groups still open when the flow ends (a stop, the end of a procedure). */
void close_open_group(struct engine *e, struct node *n, void *ud);

/* Marks the groups above target as running (a jump into them). */
void open_ancestors(struct engine *e, struct eng_step *target);

/* Starts a group: its children in order, or all at once (parallel, a loop). */
void enter_group(struct flow *f, struct node *n);
/*
 * A branch of group g (its root) ended, its flow p: the next children
 * start up to the width. True while branches still run (flow.c says what
 * a loop counts and when it halts).
 */
bool branch_ended(struct flow *p, struct node *g, struct node *root);

#endif

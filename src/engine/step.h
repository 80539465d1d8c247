/*
 * step.h — the step worker: a probe step's attempts, the samples of its
 * repeat, its retries, captures and a watch's sampling (step.c).
 *
 * The scheduler (engine.c) starts, cancels and ends steps here; a step
 * never finishes itself in the tree, jumps or stops the run. What a
 * step's probe result, timer or deadline came to is an outcome, and the
 * scheduler decides what follows: the step's end and the flow going on,
 * a watch's on_fail (go on, jump, stop). step.c imports emit.c, vars.c and
 * sample.c, never engine.c.
 */
#ifndef RBC_ENGINE_STEP_H
#define RBC_ENGINE_STEP_H

#include "internal.h"

/* What one of a step's callbacks came to. */
enum engine_step_result {
	ENGINE_STEP_MORE,     /* nothing to decide: it samples on, retries, or a late
	                  result was dropped */
	ENGINE_STEP_FINISHED, /* it ended: state, verdict and explanation below */
	ENGINE_STEP_FIRED,    /* a watch's violation lasted: its on_fail acts */
	ENGINE_STEP_DEADLINE, /* a group's deadline passed: its on_deadline acts */
};

struct engine_step_outcome {
	enum engine_step_result result;
	enum eng_state state;       /* FINISHED: ENG_DONE or ENG_CANCELLED */
	enum rbc_verdict verdict;   /* FINISHED, FIRED */
	char *explain;              /* FINISHED, FIRED: masked; the scheduler takes it */
};

/* Starts a probe step's first attempt (or holds it for the record: gates). */
void step_probe_start(struct engine *e, struct node *n);
/* Starts a watch: it samples in the background from the next turn. */
void step_watch_start(struct engine *e, struct node *n);
/* Stops whatever the step has going (probe, timers, a watch's sampling). */
void step_cancel(struct engine *e, struct node *n);
/*
 * Ends a live watch (the run ended, a jump elsewhere, its for is over):
 * false when it was not live; else true with *out FINISHED and its verdict
 * over what it saw, for the scheduler to apply.
 */
bool step_watch_end(struct engine *e, struct node *n, const char *why,
                    struct engine_step_outcome *out);
/* A watch cut short by a stop: as step_watch_end, *out CANCELLED (UNKNOWN). */
bool step_watch_cut(struct engine *e, struct node *n, const char *why,
                    struct engine_step_outcome *out);
/* Frees the step's samples and their records. */
void step_free_samples(struct eng_step *s);
/* A sample read back from the record (a resume), kept as a run keeps one. */
void step_restore_sample(struct node *n, struct rbc_value *take);
/* The record holds the step's start: its action begins (engine_recorded). */
void step_gate_open(struct engine *e, struct node *n);
/* Closes the node's timers (freeing the node). */
void etimer_close(struct node *n);

#endif

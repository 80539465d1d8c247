/*
 * emit.h — the plumbing every file of the engine uses: reporting an event
 * to the observer, the run's clock. engine_mask (rbc/engine.h) is its
 * third part. emit.c imports no other file of the engine, so the
 * scheduler (engine.c) and the step worker (step.c) share it without
 * importing each other.
 */
#ifndef RBC_ENGINE_EMIT_H
#define RBC_ENGINE_EMIT_H

#include "internal.h"

/* Stamps ev with the time and whether the run's flow made it, and hands
   it to the observer (engine_opts.on_event). ev stays the caller's. */
void engine_emit(struct engine *e, struct eng_event *ev);
/* Wall time in ms since the epoch: the options' clock, else the system's. */
int64_t engine_now(const struct engine *e);

#endif

/*
 * emit.c — how the engine reports: events stamped and handed to the
 * observer, the run's clock, texts masked with the run's secrets, the
 * names of states and events.
 *
 * The scheduler and the step worker both report through here; nothing
 * here decides anything or calls back into either of them.
 */
#include <time.h>

#include "emit.h"

/* The name of a step state, as journals and exports write it. */
const char *eng_state_name(enum eng_state s)
{
	static const char *const names[] = {
#define X(e, name) name,
		ENG_STATES(X)
#undef X
	};
	return (size_t)s < RBC_ARRAY_LEN(names) ? names[s] : "?";
}

/* The name of an event type, as journals and exports write it. */
const char *eng_event_name(enum eng_event_type t)
{
	static const char *const names[] = {
#define X(e, name) name,
		ENG_EVENTS(X)
#undef X
	};
	return (size_t)t < RBC_ARRAY_LEN(names) ? names[t] : "?";
}

/* The system's wall clock in ms since the epoch. */
static int64_t real_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall time in ms: the options' clock (a fixed one in tests), else the system's. */
int64_t engine_now(const struct engine *e)
{
	return e->o.clock ? e->o.clock(e->o.clock_ud) : real_clock();
}

/* True when f is the run's flow or a branch of it. */
static bool flow_in_run(const struct flow *f)
{
	while (f && f->parent)
		f = f->parent;
	return f && f->main;
}

/* Stamps ev (time, made by the run's flow or not) and hands it to the observer. */
void engine_emit(struct engine *e, struct eng_event *ev)
{
	ev->time = engine_now(e);
	const struct flow *f = e->acting;
	if (!f && ev->step)
		f = node_of(ev->step)->flow;
	ev->run = flow_in_run(f);
	if (e->o.on_event)
		e->o.on_event(e->o.ud, ev);
}

/* s with the run's secrets masked (a new string; NULL for NULL). */
char *engine_mask(const struct engine *e, const char *s)
{
	return mask_text(e->mask, s);
}

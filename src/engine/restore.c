/*
 * restore.c — a run rebuilt from its record (engine.h, "Resuming a run").
 *
 * Each event is applied the way the engine itself changed the steps when it
 * reported it, so that replaying a journal leaves the tree exactly as the
 * run left it: a step that starts again is reset, a backwards jump resets
 * what lies between, a finished step takes its verdict, samples, answer and
 * note. Nothing runs and nothing is reported here.
 *
 * Where the run's flow was is followed on the way: the last step the run's
 * own flow started (it runs again) or finished (its on_fail acts next), or
 * the target of the last jump. Cancellations never move it: the step they
 * cancelled is the one to run again.
 */
#include <stdlib.h>
#include <string.h>

#include "callee.h"
#include "internal.h"
#include "iterate.h"
#include "rbc/util.h"
#include "step.h"
#include "tree.h"

static bool is_group(const struct eng_step *s)
{
	return !s->def || s->def->action == RB_GROUP;
}

static void set_text(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static void resume_here(struct engine *e, struct eng_step *s, enum flow_act act)
{
	e->resume_at = node_of(s);
	e->resume_act = act;
}

/* A jump or a fired watch sends the flow to target (what flow_jump and
   engine_interrupt did to the steps, after the events of the groups they
   closed and opened, which come first in the record). */
static void restore_jump(struct engine *e, const struct eng_restore *r)
{
	if (!r->target)
		return;
	struct node *t = node_of(r->target);
	e->jumps++;
	if (t->s.state != ENG_PENDING)
		node_reset(e, t);
	if (r->type == ENG_EV_JUMP && r->step && doc_before(&t->s, r->step))
		reset_between(e, t, node_of(r->step));
	struct node *proc = procedure_of(&t->s);
	if (proc)
		proc->endpoint = true;
	resume_here(e, &t->s, FLOW_ENTER);
}

/* The run moved on: what ended before was not cut short by a stop to come. */
static void window_clear(struct engine *e)
{
	for (size_t i = 0; i < e->nwindow; i++)
		e->window[i]->in_window = false;
	e->nwindow = 0;
}

/* The top of what a hand run of n started that is still open(n, …): n, or
   the group run by hand around it. */
static struct node *hand_top(struct node *n, bool (*open)(const struct node *))
{
	struct node *top = n;
	for (struct eng_step *p = n->s.parent; p && is_group(p) && node_of(p)->hand && open(node_of(p)); p = p->parent)
		top = node_of(p);
	return top;
}

static bool closed_by_the_stop(const struct node *g)
{
	return g->in_window;
}

static bool still_running(const struct node *g)
{
	return g->s.state == ENG_RUNNING;
}

/* A step run by hand, cut short: a resume runs it again, by hand, from the
   top of what that hand run started (the groups on the way open again). */
static void redo(struct node *n, bool (*open)(const struct node *))
{
	struct node *top = hand_top(n, open);
	for (struct eng_step *p = n->s.parent; top != n && p; p = p->parent) {
		node_of(p)->restored = false;
		if (p == &top->s)
			break;
	}
	top->redo = true;
}

/*
 * The run stopped (a quit, a signal): the steps it cancelled then run again
 * at a resume — the run's own step where its flow was (resume_at), a step
 * run by hand by a flow of its own, a watch by sampling again.
 */
static void window_stopped(struct engine *e)
{
	for (size_t i = 0; i < e->nwindow; i++) {
		struct node *n = e->window[i];
		if (is_group(&n->s) || n->s.state != ENG_CANCELLED)
			continue;
		if (n->s.def->watch) {
			node_reset(e, n);
			n->rewatch = true;
		} else if (n->hand) {
			node_reset(e, n);
			redo(n, closed_by_the_stop);
		}
	}
}

static void restore_started(struct engine *e, const struct eng_restore *r)
{
	struct eng_step *s = r->step;
	struct node *n = node_of(s);
	if (is_group(s)) {
		if (s->state != ENG_RUNNING) {
			s->state = ENG_RUNNING;
			n->child_stopped = false;
			n->restored = false;
			n->hand = !r->run;
			s->started = r->time;
			s->finished = 0;
			if (s->def && s->def->call)
				callee_bind(e, n); /* its variables, as when it started */
		}
	} else {
		if (s->state != ENG_PENDING)
			node_reset(e, n);
		s->state = ENG_RUNNING;
		s->started = r->time;
		n->hand = !r->run;
		if (r->run)
			resume_here(e, s, FLOW_ENTER);
	}
	if (r->title)
		set_text(&s->title, r->title);
}

static void restore_finished(struct engine *e, const struct eng_restore *r)
{
	struct eng_step *s = r->step;
	struct node *n = node_of(s);
	s->state = r->state;
	s->verdict = r->verdict;
	s->wait = ENG_WAIT_NONE;
	set_text(&s->explain, r->text);
	if (r->by)
		set_text(&s->operator, r->by);
	if (r->note)
		set_text(&s->note, r->note);
	if (r->output)
		set_text(&s->spool_path, r->output);
	if (r->attempt)
		s->attempt = r->attempt;
	s->finished = r->time;
	s->started = r->started ? r->started : r->time;
	n->child_stopped = r->stopped;
	n->restored = true;
	if (r->state == ENG_SKIPPED && is_group(s))
		node_titles_below(e, n); /* with the captures restored so far */
	n->flow = NULL;
	if (r->run && r->state != ENG_CANCELLED)
		resume_here(e, s, FLOW_AFTER);
	if (!n->in_window) {
		xgrow(&e->window, &e->capwindow, e->nwindow + 1, sizeof *e->window);
		e->window[e->nwindow++] = n;
		n->in_window = true;
	}
}

bool engine_restore(struct engine *e, const struct eng_restore *r)
{
	struct eng_step *s = r->step;
	bool ok = true;
	switch (r->type) {
	case ENG_EV_RUN_STARTED:
		e->started = true;
		break;
	case ENG_EV_STEP_STARTED:
		window_clear(e);
		if (s)
			restore_started(e, r);
		if (r->run)
			e->resume_reopen = false; /* the run went on after the stop */
		break;
	case ENG_EV_RETRY:
		if (s)
			step_free_samples(s); /* the next attempt starts afresh */
		break;
	case ENG_EV_SAMPLE:
		if (s && r->value) {
			step_restore_sample(node_of(s), r->value);
			return true;
		}
		break;
	case ENG_EV_WAITING:
		if (s) {
			s->state = ENG_WAITING;
			s->wait = r->wait;
			set_text(&s->wait_text, r->text);
			if (r->run)
				resume_here(e, s, FLOW_ENTER);
		}
		break;
	case ENG_EV_CONFIRMED:
		if (s)
			s->confirmed = true;
		break;
	case ENG_EV_CAPTURE:
		if (s && r->name && r->value) {
			if (vars_is_secret(e, s, r->name)) {
				ok = false; /* never written: only running the step again gets it */
				break;
			}
			vars_capture_in(e, s, r->name, r->value);
			return true;
		}
		break;
	case ENG_EV_STEP_FINISHED:
		if (s)
			restore_finished(e, r);
		break;
	case ENG_EV_JUMP:
	case ENG_EV_WATCH_FIRED:
		window_clear(e); /* what a jump cancels is not run again */
		restore_jump(e, r);
		break;
	case ENG_EV_DEADLINE:
		/* Passed once: a resume does not report it again; the group keeps
		   the start of its budget (its own start, restored with it). */
		if (s)
			node_of(s)->budget_passed = true;
		if (r->target) {
			window_clear(e);
			restore_jump(e, r);
		}
		break;
	case ENG_EV_NOTE:
		if (s && s->def && s->def->action == RB_MANUAL &&
		    (s->state == ENG_WAITING || s->state == ENG_PENDING))
			set_text(&s->note, r->text);
		break;
	case ENG_EV_RUN_FINISHED:
		if (!r->stopped)
			e->resume_at = NULL; /* it ended: a start runs from the top */
		else
			window_stopped(e);
		window_clear(e);
		e->resume_reopen = r->stopped;
		e->ended = true;
		break;
	case ENG_EV_OUTPUT:
		break;
	case ENG_EV_EXPANDED:
		if (s && r->detail)
			iterate_restore(e, node_of(s), r->detail);
		break;
	case ENG_EV_INCIDENT:
		/* the incident's own state is rebuilt from these lines by its
		   owner; the run keeps only its SEVERITY variables */
		if (r->detail)
			vars_severity(e, r->detail);
		break;
	case ENG_EV_COMMAND:
		break; /* who asked: its effect has lines of its own */
	}
	value_free(r->value);
	return ok;
}

/* Steps cut short go back to pending; watches that sampled sample again;
   steps run by hand run again by hand. */
static void settle(struct engine *e, struct eng_step *s)
{
	struct node *n = node_of(s);
	for (size_t i = 0; i < s->nchildren; i++)
		settle(e, s->children[i]);
	if (!is_group(s) && (s->state == ENG_RUNNING || s->state == ENG_WAITING ||
	                     s->state == ENG_WATCHING)) {
		bool watch = s->def->watch && n != e->resume_at;
		bool again = !s->def->watch && n->hand && n != e->resume_at;
		node_reset(e, n);
		n->rewatch = watch;
		if (again)
			redo(n, still_running);
	}
}

void engine_restore_end(struct engine *e)
{
	window_clear(e);
	e->resume_pending = true;
	for (size_t i = 0; i < e->nnodes; i++)
		settle(e, e->nodes[i]);
	struct node *at = e->resume_at;
	if (!at)
		return;
	/* Inside a parallel group that was running, every branch goes on: the
	   group is entered again (its finished steps are passed by). */
	for (struct eng_step *p = at->s.parent; p; p = p->parent)
		if (p->def && (p->def->parallel || p->def->foreach) && p->state == ENG_RUNNING)
			resume_here(e, p, FLOW_ENTER);
	at = e->resume_at;
	/* The groups a stop closed around it are open again (groups the flow
	   itself closed stay closed: it has left them). */
	for (struct eng_step *p = at->s.parent; p && e->resume_reopen; p = p->parent)
		if (p->state != ENG_RUNNING) {
			p->state = ENG_RUNNING;
			node_of(p)->restored = false;
			p->finished = 0;
		}
	if (e->resume_act == FLOW_AFTER && at->s.state == ENG_PENDING)
		e->resume_act = FLOW_ENTER;
}

struct eng_step *engine_resume_point(const struct engine *e, bool *after)
{
	if (after)
		*after = e->resume_act == FLOW_AFTER;
	return e->resume_at ? &e->resume_at->s : NULL;
}

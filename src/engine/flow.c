/*
 * flow.c — the flows' mechanics under the scheduler's decisions: the
 * ready queue, a node's finish, a group's verdict and its close, a group
 * entered (its children in order, or as branches: parallel, a loop's
 * iterations) and a branch's end, and the resets and opened groups a jump
 * or a restore needs.
 *
 * What follows a step — on_fail, jumps, answers, stops — is engine.c's:
 * it calls here, never the other way round. A flow moved here is only
 * queued; engine_pump (engine.c) does the move. Groups are judged from
 * their children here, with their call's exports (callee.c) and their
 * time budget (budget.c); loops expand in iterate.c.
 */
#include <stdlib.h>
#include <string.h>

#include "callee.h"
#include "emit.h"
#include "flow.h"
#include "iterate.h"
#include "step.h"
#include "tree.h"

/* ---- flows ------------------------------------------------------------- */

/* A new flow: a branch of parent (NULL: none), inside root (NULL: everywhere). */
struct flow *flow_new(struct engine *e, struct node *root, struct flow *parent)
{
	struct flow *f = xcalloc(1, sizeof *f);
	f->e = e;
	f->root = root;
	f->parent = parent;
	f->next_all = e->all_flows;
	if (e->all_flows)
		e->all_flows->prev_all = f;
	e->all_flows = f;
	return f;
}

/* Takes f off the ready queue and the engine's flows, and frees it. */
void flow_free(struct flow *f)
{
	struct engine *e = f->e;
	if (f->queued) {
		struct flow **pp = &e->ready_head, *prev = NULL;
		while (*pp && *pp != f) {
			prev = *pp;
			pp = &(*pp)->next_ready;
		}
		if (*pp) {
			*pp = f->next_ready;
			if (e->ready_tail == f)
				e->ready_tail = prev;
		}
	}
	if (f->prev_all)
		f->prev_all->next_all = f->next_all;
	else
		e->all_flows = f->next_all;
	if (f->next_all)
		f->next_all->prev_all = f->prev_all;
	if (e->main == f)
		e->main = NULL;
	if (e->acting == f)
		e->acting = NULL;
	free(f->jump_why);
	free(f);
}

/* Queues f's next move (act on n), done by engine_pump in its turn. */
void flow_move(struct flow *f, enum flow_act act, struct node *n)
{
	struct engine *e = f->e;
	f->act = act;
	f->cur = n;
	if (!f->queued) {
		f->queued = true;
		f->next_ready = NULL;
		if (e->ready_tail)
			e->ready_tail->next_ready = f;
		else
			e->ready_head = f;
		e->ready_tail = f;
	}
}

/* ---- finishing nodes and groups ------------------------------------------ */

/* n ends: its state, verdict and explanation (taken) journaled; it leaves its flow. */
void node_finish(struct engine *e, struct node *n, enum eng_state st, enum rbc_verdict v,
                 char *explain_take)
{
	n->s.state = st;
	n->s.verdict = v;
	n->s.wait = ENG_WAIT_NONE;
	free(n->s.explain);
	n->s.explain = explain_take;
	n->s.finished = engine_now(e);
	if (!n->s.started)
		n->s.started = n->s.finished;
	budget_disarm(n);
	if (st == ENG_SKIPPED && (!n->s.def || n->s.def->action == RB_GROUP))
		node_titles_below(e, n);
	struct eng_event ev = {.type = ENG_EV_STEP_FINISHED, .step = &n->s, .verdict = v,
	                       .text = n->s.explain, .by = n->s.operator,
	                       .stopped = n->child_stopped};
	engine_emit(e, &ev); /* while n->flow still says who ran it */
	n->flow = NULL;
}

/* The worst verdict of the children, and the counts that explain it. */
static void aggregate(const struct eng_step *g, enum eng_state *st, enum rbc_verdict *v,
                      char **explain)
{
	size_t by[5] = {0}, done = 0, skipped = 0, cancelled = 0, watching = 0, notrun = 0;
	enum rbc_verdict worst = RBC_VERDICT_PASS;
	size_t counted = 0;
	for (size_t i = 0; i < g->nchildren; i++) {
		const struct eng_step *c = g->children[i];
		switch (c->state) {
		case ENG_DONE:
			by[c->verdict]++;
			worst = done++ ? verdict_worst(worst, c->verdict) : c->verdict;
			break;
		case ENG_SKIPPED: skipped++; break;
		case ENG_CANCELLED: cancelled++; break;
		case ENG_WATCHING: watching++; break;
		default:
			if (!node_on_demand(c))
				notrun++;
			continue;
		}
		counted++;
	}
	struct strbuf sb = {0};
	sb_addf(&sb, "%zu %s%s", counted, g->def && g->def->foreach ? "iteration" : "step", counted == 1 ? "" : "s");
	static const char *const words[] = {"passed", "warn", "failed", "unknown", "error"};
	const char *sep = ": ";
	for (size_t k = 0; k < 5; k++)
		if (by[k]) {
			sb_addf(&sb, "%s%zu %s", sep, by[k], words[k]);
			sep = ", ";
		}
	if (skipped) {
		sb_addf(&sb, "%s%zu skipped", sep, skipped);
		sep = ", ";
	}
	if (cancelled) {
		sb_addf(&sb, "%s%zu cancelled", sep, cancelled);
		sep = ", ";
	}
	if (watching) {
		sb_addf(&sb, "%s%zu watching", sep, watching);
		sep = ", ";
	}
	if (notrun)
		sb_addf(&sb, "%s%zu not run", sep, notrun);
	*explain = sb_take(&sb);
	/* A step cut short (a stop, a watch that fired) did not pass: nor did
	   the group around it. */
	*v = cancelled ? verdict_worst(worst, RBC_VERDICT_UNKNOWN) : worst;
	*st = (done == 0 && watching == 0 && skipped > 0 && cancelled == 0) ? ENG_SKIPPED : ENG_DONE;
}

/* A running group ends: its children's verdict, its call's exports, its budget. */
void group_close(struct engine *e, struct node *g)
{
	if (g->s.state != ENG_RUNNING)
		return;
	enum eng_state st;
	enum rbc_verdict v;
	char *explain;
	aggregate(&g->s, &st, &v, &explain);
	if (g->s.def && g->s.def->call)
		explain = callee_end(e, g, explain); /* what came back */
	budget_judge(e, g, &v, &explain);
	if (g->child_stopped) {
		/* Stopped is not passed, nor skipped (a declined step that stops
		   may be the only one that was reached). */
		if (v != RBC_VERDICT_FAIL && v != RBC_VERDICT_ERROR)
			v = RBC_VERDICT_FAIL;
		if (st == ENG_SKIPPED)
			st = ENG_DONE;
	}
	node_finish(e, g, st, v, explain);
}

/* A watch ended after its groups closed: their verdicts may change. */
void node_refresh_ancestors(struct engine *e, struct node *n)
{
	for (struct eng_step *p = n->s.parent; p; p = p->parent) {
		if (p->state != ENG_DONE && p->state != ENG_SKIPPED)
			continue;
		enum eng_state st;
		enum rbc_verdict v;
		char *explain;
		aggregate(p, &st, &v, &explain);
		budget_judge(e, node_of(p), &v, &explain);
		if (node_of(p)->child_stopped) {
			if (v != RBC_VERDICT_FAIL && v != RBC_VERDICT_ERROR)
				v = RBC_VERDICT_FAIL;
			if (st == ENG_SKIPPED)
				st = ENG_DONE;
		}
		if (st == p->state && v == p->verdict && p->explain && strcmp(explain, p->explain) == 0) {
			free(explain);
			continue;
		}
		int64_t started = p->started;
		node_finish(e, node_of(p), st, v, explain);
		p->started = started;
	}
}

/* Closes the open groups from s's parent up to (not including) stop_at. */
void close_up_to(struct engine *e, struct eng_step *s, struct eng_step *stop_at)
{
	for (struct eng_step *p = s->parent; p && p != stop_at; p = p->parent)
		if (!engine_within(stop_at, p))
			group_close(e, node_of(p));
}

/* Calls fn on every node below s, children before their parent. */
void walk_post(struct engine *e, struct eng_step *s,
               void (*fn)(struct engine *, struct node *, void *), void *ud)
{
	for (size_t i = 0; i < s->nchildren; i++)
		walk_post(e, s->children[i], fn, ud);
	fn(e, node_of(s), ud);
}

/* Groups still open when the flow ends (a stop, the end of a procedure). */
void close_open_group(struct engine *e, struct node *n, void *ud)
{
	(void)ud;
	if (n->s.state == ENG_RUNNING && (!n->s.def || n->s.def->action == RB_GROUP))
		group_close(e, n);
}

/* ---- resets and the groups a jump enters --------------------------------- */

/* Back to pending, with everything below it (a step run again). */
void node_reset(struct engine *e, struct node *n)
{
	step_cancel(e, n);
	n->s.state = ENG_PENDING;
	n->s.wait = ENG_WAIT_NONE;
	n->s.confirmed = false;
	n->s.attempt = 0;
	n->s.started = n->s.finished = 0;
	free(n->s.explain);
	n->s.explain = NULL;
	n->child_stopped = false;
	n->endpoint = false;
	n->restored = n->rewatch = n->redo = false;
	n->budget_passed = false;
	budget_disarm(n);
	step_free_samples(&n->s);
	for (size_t i = 0; i < n->s.nchildren; i++)
		node_reset(e, node_of(n->s.children[i]));
}

/* Marks the groups above target as running (a jump into them). */
void open_ancestors(struct engine *e, struct eng_step *target)
{
	struct eng_step *chain[RB_MAX_DEPTH + 2];
	size_t n = 0;
	for (struct eng_step *p = target->parent; p && n < RBC_ARRAY_LEN(chain); p = p->parent)
		chain[n++] = p;
	while (n--) {
		struct eng_step *p = chain[n];
		if (p->state == ENG_RUNNING)
			continue;
		p->state = ENG_RUNNING;
		node_of(p)->child_stopped = false;
		p->started = engine_now(e);
		p->finished = 0;
		struct eng_event ev = {.type = ENG_EV_STEP_STARTED, .step = p};
		engine_emit(e, &ev);
	}
}

struct range {
	struct engine *e;
	const struct eng_step *from, *to;
	bool on, done;
};

/* Resets the finished steps after from up to and including to (document order). */
static void reset_walk(struct eng_step *s, struct range *r)
{
	if (r->done)
		return;
	if (s == r->from) {
		r->on = true;
	} else if (r->on && s->state != ENG_PENDING && s->state != ENG_RUNNING &&
	           s->state != ENG_WAITING && s->state != ENG_WATCHING) {
		node_reset(r->e, node_of(s));
	}
	if (s == r->to) {
		r->done = true;
		return;
	}
	for (size_t i = 0; i < s->nchildren && !r->done; i++)
		reset_walk(s->children[i], r);
}

/* A backwards jump: what lies between runs again, the failed step included. */
void reset_between(struct engine *e, struct node *target, struct node *from)
{
	struct range r = {.e = e, .from = &target->s, .to = &from->s};
	reset_walk(engine_phase_of(&target->s), &r);
}

/* ---- groups entered and their branches --------------------------------- */

/* How many of group g's children run at once (a loop: 1 unless parallel). */
static size_t group_width(const struct node *g)
{
	const struct rb_step *d = g->s.def;
	if (!d->parallel)
		return 1;
	return d->parallel_max > 0 ? (size_t)d->parallel_max : SIZE_MAX;
}

/* Starts branches on g's children not started yet, up to its width (a
   loop's iterations finished before a resume are passed by). */
static void branches_more(struct flow *f, struct node *g)
{
	while (f->pending < group_width(g) && !g->halted && g->next_child < g->s.nchildren) {
		struct eng_step *c = g->s.children[g->next_child++];
		if (node_on_demand(c) || (g->s.def->foreach && (c->state == ENG_DONE || c->state == ENG_SKIPPED)))
			continue;
		struct flow *b = flow_new(f->e, node_of(c), f);
		f->pending++;
		flow_move(b, FLOW_ENTER, node_of(c));
	}
}

/*
 * A branch of group g (its root) ended, its flow p: a loop counts a failed
 * iteration, and past max_failures (or after a stop, a goto out of it)
 * starts no more; the next children start up to the width. True while
 * branches still run; once none does, the children never started end
 * skipped, saying why, and a loop halted by its failures counts as stopped.
 */
bool branch_ended(struct flow *p, struct node *g, struct node *root)
{
	const struct rb_step *d = g->s.def;
	if (!d || (!d->foreach && !d->parallel_max))
		return p->pending > 0;
	if (d->foreach)
		iterate_ended(g, root);
	if (p->stopped || p->jump || p->e->stopping)
		g->halted = true;
	branches_more(p, g);
	if (p->pending > 0)
		return true;
	char *why = d->foreach && g->halted ? iterate_halt_reason(g) : NULL;
	for (size_t i = 0; why && i < g->s.nchildren; i++) {
		struct node *c = node_of(g->s.children[i]);
		if (c->s.state == ENG_PENDING)
			node_finish(p->e, c, ENG_SKIPPED, RBC_VERDICT_PASS, xstrdup(why));
	}
	free(why);
	return false;
}

/* Starts a loop (iterate.c): false when it ended at once (no items, a list
   that is not one; its on_fail acts on an ERROR): the flow goes on after it. */
static bool enter_loop(struct flow *f, struct node *n)
{
	enum rbc_verdict v;
	char *why = iterate_begin(f->e, n, &v);
	if (!why)
		return true;
	n->child_stopped = v != RBC_VERDICT_PASS;
	node_finish(f->e, n, ENG_DONE, v, why);
	flow_move(f, FLOW_AFTER, n);
	return false;
}

/* Starts a group: its children in order, or all at once. */
void enter_group(struct flow *f, struct node *n)
{
	struct engine *e = f->e;
	bool parallel = n->s.def && n->s.def->parallel;
	bool loop = n->s.def && n->s.def->foreach;
	if (loop && !enter_loop(f, n))
		return;
	if (parallel || loop) {
		n->next_child = 0;
		if (!loop)
			n->halted = false;
		f->cur = n;
		branches_more(f, n);
		if (!f->pending) {
			group_close(e, n);
			flow_move(f, FLOW_AFTER, n);
		}
		return;
	}
	for (size_t i = 0; i < n->s.nchildren; i++)
		if (!node_on_demand(n->s.children[i])) {
			flow_move(f, FLOW_ENTER, node_of(n->s.children[i]));
			return;
		}
	group_close(e, n);
	flow_move(f, FLOW_AFTER, n);
}

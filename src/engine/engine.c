/*
 * engine.c — the scheduler: the order steps run in, on_fail, jumps,
 * operator answers and stopping. flow.c carries out its moves (the flows'
 * queue, finishing nodes, groups' verdicts, a group's branches).
 *
 * Every move of a flow is queued and done by engine_pump, one at a time, so
 * steps that finish at once (skipped, assumed, already done) never recurse.
 * Probes, repeats and watches live in step.c, which reports what a step
 * came to as an outcome (step.h); what follows — the step's end, its flow
 * going on, a fired watch's jump or stop — is decided here. The tree is
 * tree.c, variables vars.c, events and the clock emit.c.
 */
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbc/terminal.h"

#include "ask.h"
#include "callee.h"
#include "emit.h"
#include "flow.h"
#include "internal.h"
#include "iterate.h"
#include "step.h"
#include "tree.h"

/* A run that jumps more often than this is looping: it stops with ERROR. */
#define ENGINE_MAX_JUMPS 1000

static void outcome_report(struct engine *e, struct node *n, struct engine_step_outcome *o);

/* ---- creating and freeing ---------------------------------------------- */

static char *login_name(void)
{
	const char *u = getenv("USER");
	if (u && *u)
		return xstrdup(u);
	struct passwd *pw = getpwuid(getuid());
	return xstrdup(pw && pw->pw_name ? pw->pw_name : "operator");
}

struct engine *engine_new(const struct engine_opts *o, struct rbc_error *err)
{
	if (!o->loop || !o->nrunbooks) {
		rbc_error_set(err, "no runbook to run");
		return NULL;
	}
	struct engine *e = xcalloc(1, sizeof *e);
	e->o = *o;
	e->loop = o->loop;
	e->operator = o->operator && *o->operator ? xstrdup(o->operator) : login_name();
	e->out_dir = o->out_dir ? xstrdup(o->out_dir) : NULL;
	/* Held for the whole run: out/ swapped for a link meanwhile does not
	   take the outputs elsewhere. */
	e->out_fd = o->out_dir ? open(o->out_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	e->mask = mask_new();
	e->step_report = outcome_report;
	struct rbc_error perr = {0};
	e->run_expect = expr_parse("exit == 0", &perr);
	rbc_error_clear(&perr);
	for (size_t i = 0; o->vars && i < o->vars->n; i++)
		rb_kv_set(&e->vars, o->vars->keys[i], o->vars->vals[i]);

	engine_tree_build(e);

	/* Secrets: from --vars (already in e->vars) or the environment; of the
	   runbooks given and those they include or call. */
	size_t nrbs = 0;
	const struct runbook **rbs = NULL;
	for (size_t i = 0; i < o->nrunbooks; i++) {
		rbs = xrealloc(rbs, (nrbs + 1 + o->runbooks[i]->nincludes) * sizeof *rbs);
		rbs[nrbs++] = o->runbooks[i];
		for (size_t k = 0; k < o->runbooks[i]->nincludes; k++)
			rbs[nrbs++] = o->runbooks[i]->includes[k];
	}
	for (size_t i = 0; i < nrbs; i++) {
		const struct runbook *rb = rbs[i];
		for (size_t k = 0; k < rb->nsecrets; k++) {
			const char *name = rb->secrets[k];
			const char *v = rb_kv_get(&e->vars, name);
			const char *env = getenv(name);
			if (!v)
				v = env;
			if (v && *v && !rb_kv_get(&e->secrets, name))
				rb_kv_set(&e->secrets, name, v);
			/* Both values are secret, whichever the run uses (${env:NAME}). */
			if (v && *v)
				mask_add(e->mask, v);
			if (env && *env)
				mask_add(e->mask, env);
		}
	}
	ask_engine_init(e);
	free(rbs);
	for (size_t i = 0; i < e->nnodes; i++)
		engine_titles_init(e, e->nodes[i]);
	vars_scratch_release(e);
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	while (e->all_flows)
		flow_free(e->all_flows);
	engine_tree_free(e);
	callee_free_all(e);
	for (size_t i = 0; i < e->ncaps; i++) {
		free(e->caps[i].name);
		value_free(e->caps[i].value);
		free(e->caps[i].text);
	}
	free(e->caps);
	vars_scratch_release(e);
	free(e->scratch);
	rb_kv_free(&e->vars);
	rb_kv_free(&e->secrets);
	mask_free(e->mask);
	expr_free(e->run_expect);
	free(e->operator);
	free(e->out_dir);
	if (e->out_fd >= 0)
		close(e->out_fd);
	free(e->stop_reason);
	free(e->gated);
	free(e->window);
	free(e);
}

/* ---- flows ------------------------------------------------------------- */

static void flow_end(struct flow *f);
static void engine_fail_run(struct engine *e, const char *reason);
static void engine_interrupt(struct engine *e, const char *reason, struct node *target);
static void main_over(struct engine *e);
static void enter(struct flow *f, struct node *n);
static void after(struct flow *f, struct node *n, bool passing);
static void check_finished(struct engine *e);

static void engine_pump(struct engine *e)
{
	if (e->pumping)
		return;
	e->pumping = true;
	while (e->ready_head) {
		struct flow *f = e->ready_head;
		e->ready_head = f->next_ready;
		if (!e->ready_head)
			e->ready_tail = NULL;
		f->queued = false;
		enum flow_act act = f->act;
		f->act = FLOW_WAIT;
		e->acting = f;
		if (act == FLOW_ENTER)
			enter(f, f->cur);
		else if (act == FLOW_AFTER || act == FLOW_PASS)
			after(f, f->cur, act == FLOW_PASS);
		e->acting = NULL;
	}
	e->pumping = false;
	check_finished(e);
}

/* True when target is being run by a flow other than f (not one of its groups). */
static bool busy_elsewhere(struct flow *f, struct node *target, struct node *from)
{
	enum eng_state st = target->s.state;
	if (st != ENG_RUNNING && st != ENG_WAITING && st != ENG_WATCHING)
		return false;
	if (engine_within(&from->s, &target->s))
		return false; /* an enclosing group of the failed step: run it again */
	return target->flow && target->flow != f;
}

/* The flow goes to target instead of on: the on_fail goto / run of from. */
static void flow_jump(struct flow *f, struct node *target, struct node *from, const char *why)
{
	struct engine *e = f->e;
	if (f->root && !engine_within(&target->s, &f->root->s) && f->parent) {
		/* A branch of a parallel group: its parent jumps once all are done.
		   What the branch leaves of its own subtree closes now. */
		close_up_to(e, &from->s, f->root->s.parent);
		if (!f->parent->jump) {
			f->parent->jump = target;
			f->parent->jump_from = from;
			free(f->parent->jump_why);
			f->parent->jump_why = xstrdup(why);
		}
		flow_end(f);
		return;
	}
	if (++e->jumps > ENGINE_MAX_JUMPS) {
		flow_end(f);
		engine_fail_run(e, "more than 1000 jumps: the on_fail gotos loop");
		return;
	}
	if (busy_elsewhere(f, target, from)) {
		/* Another flow is running it: that one goes on, this one ends. */
		flow_end(f);
		return;
	}
	if (!f->parent)
		f->root = NULL; /* a step run by hand that jumps continues like the run */
	/* Close what the jump leaves, open what it enters. */
	struct eng_step *common = target->s.parent;
	while (common && !engine_within(&from->s, common))
		common = common->parent;
	close_up_to(e, &from->s, common);
	if (from->s.state == ENG_RUNNING && (!from->s.def || from->s.def->action == RB_GROUP))
		group_close(e, from);
	open_ancestors(e, &target->s);
	if (target->s.state != ENG_PENDING)
		node_reset(e, target);
	if (doc_before(&target->s, &from->s))
		reset_between(e, target, from);
	struct node *proc = procedure_of(&target->s);
	if (proc)
		proc->endpoint = true;
	struct eng_event ev = {.type = ENG_EV_JUMP, .step = &from->s, .target = &target->s,
	                       .text = why};
	engine_emit(e, &ev);
	flow_move(f, FLOW_ENTER, target);
}

/* The flow has nothing more to do. */
static void flow_end(struct flow *f)
{
	struct engine *e = f->e;
	struct flow *p = f->parent;
	bool was_main = f->main;
	bool stopped = f->stopped;
	struct node *root = f->root;
	flow_free(f);
	if (was_main) {
		main_over(e);
		return;
	}
	if (!p) {
		/* A step run by hand after the run ended: the run ends again, its
		   verdict with what that step did (check_finished). */
		if (e->ended && !e->main_running)
			e->main_over = true;
		return;
	}
	if (stopped)
		p->stopped = true;
	p->pending--;
	struct node *g = p->cur;
	if (branch_ended(p, g, root))
		return;
	/* Every branch of the parallel group is done. */
	if (p->stopped) {
		g->child_stopped = true;
		p->stopped = false;
	}
	group_close(e, g);
	if (p->jump) {
		struct node *t = p->jump, *from = p->jump_from;
		char *why = p->jump_why;
		p->jump = p->jump_from = NULL;
		p->jump_why = NULL;
		flow_jump(p, t, from ? from : g, why ? why : "on_fail of a parallel step");
		free(why);
	} else {
		flow_move(p, FLOW_AFTER, g);
	}
}

/* The step after n in the normal flow, at n's level (NULL: none). */
static struct node *next_sibling(struct engine *e, struct node *n)
{
	struct eng_step *p = n->s.parent;
	struct eng_step *const *sib = p ? p->children : e->nodes;
	size_t count = p ? p->nchildren : e->nnodes;
	for (size_t i = n->s.index + 1; i < count; i++)
		if (!node_on_demand(sib[i]))
			return node_of(sib[i]);
	return NULL;
}

static bool failed(const struct eng_step *s)
{
	return s->state == ENG_DONE && (s->verdict == RBC_VERDICT_FAIL || s->verdict == RBC_VERDICT_ERROR);
}

/* The flow stops at n: at the top (or the root of a branch) it ends
   stopped; inside a group, the group closes stopped and its own on_fail
   decides. */
static void stop_at(struct flow *f, struct node *n)
{
	if ((f->root && n == f->root) || !n->s.parent) {
		f->stopped = true;
		flow_end(f);
		return;
	}
	struct node *p = node_of(n->s.parent);
	p->child_stopped = true;
	group_close(f->e, p);
	flow_move(f, FLOW_AFTER, p);
}

/*
 * n's confirmation was declined (n is skipped, why says by whom): its
 * on_decline decides — whatever asked goes on after it (the run, a branch,
 * a step run by hand) as after any skip, the flow stops there, or it goes
 * to the target.
 */
static void declined(struct flow *f, struct node *n, const char *why)
{
	const struct rb_step *d = n->s.def;
	enum rb_on_decline od = d ? d->on_decline : RB_ON_DECLINE_SKIP;
	if (od == RB_ON_DECLINE_GOTO) {
		struct node *t = engine_decline_target(n);
		if (t) {
			char *text = xasprintf("on_decline of %s: %s", d->id, why);
			flow_jump(f, t, n, text);
			free(text);
			return;
		}
		od = RB_ON_DECLINE_STOP;
	}
	if (od == RB_ON_DECLINE_STOP) {
		stop_at(f, n);
		return;
	}
	flow_move(f, FLOW_AFTER, n);
}

/*
 * The variables of a procedure reached because n failed with explain (docs/runbook-format.md,
 * "Variables the run sets"): FAILED_STEP, FAILED_TITLE and FAILED_REASON, set
 * as captures of n so the journal keeps them and a resume gets them back.
 */
static void set_failed_vars(struct engine *e, struct node *n, const char *explain)
{
	const char *const names[] = {"FAILED_STEP", "FAILED_TITLE", "FAILED_REASON"};
	const char *values[] = {n->s.def && n->s.def->id ? n->s.def->id : "",
	                        n->s.title ? n->s.title : "",
	                        explain ? explain : verdict_name(n->s.verdict)};
	for (size_t i = 0; i < RBC_ARRAY_LEN(names); i++) {
		struct rbc_value *v = value_strz_new(values[i]);
		char *why = xasprintf("set by the run: %s failed", values[0]);
		struct eng_event ev = {.type = ENG_EV_CAPTURE, .step = &n->s, .name = names[i],
		                       .value = values[i], .text = why, .sample = v,
		                       .automatic = true};
		vars_capture(e, names[i], v);
		engine_emit(e, &ev);
		free(why);
	}
}

/* n has finished (or been passed): apply its on_fail, or go on. */
static void after(struct flow *f, struct node *n, bool passing)
{
	struct engine *e = f->e;
	bool group = !n->s.def || n->s.def->action == RB_GROUP;
	bool trigger = !passing && (group ? n->child_stopped : failed(&n->s));
	if (e->stopping) {
		flow_end(f);
		return;
	}
	if (trigger) {
		enum rb_on_fail of = n->s.def ? n->s.def->on_fail : RB_ON_FAIL_STOP;
		if (of == RB_ON_FAIL_GOTO || of == RB_ON_FAIL_RUN) {
			struct node *t = engine_target(e, n);
			if (t) {
				set_failed_vars(e, n, n->s.explain);
				char *why = xasprintf("on_fail of %s: %s", n->s.def->id,
				                      n->s.explain ? n->s.explain : verdict_name(n->s.verdict));
				flow_jump(f, t, n, why);
				free(why);
				return;
			}
			of = RB_ON_FAIL_STOP;
		}
		if (of == RB_ON_FAIL_STOP) {
			stop_at(f, n);
			return;
		}
	}
	if (n->endpoint) {
		/* A procedure outside the normal flow: nothing comes after it. */
		flow_end(f);
		return;
	}
	if (f->root && n == f->root) {
		flow_end(f);
		return;
	}
	struct node *next = next_sibling(e, n);
	if (next) {
		flow_move(f, FLOW_ENTER, next);
		return;
	}
	if (!n->s.parent) {
		flow_end(f);
		return;
	}
	struct node *p = node_of(n->s.parent);
	group_close(e, p);
	flow_move(f, FLOW_AFTER, p);
}

/* Explains a when that is not true. */
static bool check_when(struct engine *e, struct flow *f, struct node *n)
{
	const struct rb_step *d = n->s.def;
	if (!d || !d->when)
		return true;
	struct expr_env env = {0};
	vars_env_for_expr(e, &n->s, &env);
	char *why = NULL;
	int t = expr_truth(d->when, &env, &why);
	vars_scratch_release(e);
	char *m = engine_mask(e, why);
	free(why);
	if (t == 1) {
		free(m);
		return true;
	}
	if (t == 0) {
		char *x = xasprintf("when %s is false: %s", expr_source(d->when), m);
		free(m);
		node_finish(e, n, ENG_SKIPPED, RBC_VERDICT_PASS, x);
	} else {
		char *x = xasprintf("when %s cannot be decided: %s", expr_source(d->when), m);
		free(m);
		node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN, x);
	}
	flow_move(f, FLOW_AFTER, n);
	return false;
}

static void wait_for_operator(struct engine *e, struct node *n, enum eng_wait w, const char *raw)
{
	n->s.state = ENG_WAITING;
	n->s.wait = w;
	free(n->s.wait_text);
	n->s.wait_text = vars_display(e, &n->s, raw);
	struct eng_event ev = {.type = ENG_EV_WAITING, .step = &n->s, .text = n->s.wait_text};
	engine_emit(e, &ev);
}

/* An ask answered (ask.c checks and records it): the step passes, and the
   flow goes on, or to the choice's goto. False with *why when refused. */
static bool ask_answered(struct engine *e, struct flow *f, struct node *n, const char *value,
                         const char *by, bool automatic, char **why)
{
	char *x = NULL;
	struct node *target = NULL;
	if (!ask_accept(e, n, value, by, automatic, &x, &target, why))
		return false;
	n->s.wait = ENG_WAIT_NONE;
	node_finish(e, n, ENG_DONE, RBC_VERDICT_PASS, x);
	if (f && target) {
		char *text = xasprintf("answer of %s: %s", n->s.def->id, x);
		flow_jump(f, target, n, text);
		free(text);
	} else if (f) {
		flow_move(f, FLOW_AFTER, n);
	}
	return true;
}

/* The flow reaches an ask: answered by the options, by the operator, or
   UNKNOWN "needs operator". */
static void ask_reached(struct flow *f, struct node *n)
{
	struct engine *e = f->e;
	const char *by = NULL, *v = ask_given(e, &n->s, &by);
	char *why = NULL;
	if (v && ask_answered(e, f, n, v, by, true, &why))
		return;
	if (why) {
		/* Checked before the run, unless a default's ${NAME} broke it. */
		char *x = xasprintf("the answer (%s) breaks its rule: %s", by, why);
		free(why);
		node_finish(e, n, ENG_DONE, RBC_VERDICT_ERROR, x);
	} else if (e->o.interactive) {
		char *q = ask_question(e, &n->s);
		wait_for_operator(e, n, ENG_WAIT_ASK, q);
		free(q);
		return;
	} else {
		char *q = ask_question(e, &n->s);
		const char *name = n->s.def->ask->decl.name;
		char *x = xasprintf("needs operator: %s (--var %s=… or --answers FILE answers it)", q, name);
		free(q);
		node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN, x);
	}
	flow_move(f, FLOW_AFTER, n);
}

/* True when a step of the normal flow below s has not run yet. */
static bool has_pending(const struct eng_step *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		const struct eng_step *c = s->children[i];
		if (node_on_demand(c))
			continue;
		if (c->state == ENG_PENDING || (c->state == ENG_DONE && c->nchildren && has_pending(c)))
			return true;
	}
	return false;
}

/* The flow reaches n. */
static void enter(struct flow *f, struct node *n)
{
	struct engine *e = f->e;
	if (e->stopping) {
		flow_end(f);
		return;
	}
	struct eng_step *s = &n->s;
	bool group = !s->def || s->def->action == RB_GROUP;
	if (s->state == ENG_DONE && group && !n->restored && has_pending(s)) {
		/* A group the run left (a stop, a procedure) that the operator runs
		   on: it opens again at its first step not run. */
		s->state = ENG_PENDING;
		n->child_stopped = false;
	}
	switch (s->state) {
	case ENG_DONE:
	case ENG_SKIPPED:
	case ENG_WATCHING:
		/* Finished earlier (ticked ahead, a previous pass): go on. */
		flow_move(f, FLOW_PASS, n);
		return;
	case ENG_RUNNING:
		if (group)
			break; /* a group left open by a pause: continue inside it */
		/* fall through */
	case ENG_WAITING: {
		/* Started by hand and still going: the flow takes it over. */
		struct flow *o = n->flow;
		if (o && o != f && o->root == n && !o->parent && !o->main) {
			flow_free(o);
			n->flow = f;
		} else {
			flow_move(f, FLOW_PASS, n);
		}
		return;
	}
	case ENG_CANCELLED:
		node_reset(e, n);
		break;
	case ENG_PENDING:
		break;
	}
	if (!group)
		n->flow = f;
	if (s->state != ENG_RUNNING) {
		s->state = ENG_RUNNING;
		s->started = engine_now(e);
		s->finished = 0;
		free(s->title);
		s->title = engine_loop_title(e, n);
		if (!s->title)
			s->title = vars_display(e, s, engine_raw_title(s));
		vars_scratch_release(e);
		struct eng_event ev = {.type = ENG_EV_STEP_STARTED, .step = s};
		engine_emit(e, &ev);
		if (!check_when(e, f, n))
			return;
		if (s->def && s->def->call) {
			callee_bind(e, n);
			node_titles_below(e, n); /* with its variables */
			callee_start(e, n);
		}
		if (group)
			budget_arm(e, n);
	}
	const struct rb_step *d = s->def;
	if (d && d->confirm && !s->confirmed) {
		if (e->o.yes) {
			s->confirmed = true;
			char *q = vars_display(e, s, d->confirm);
			struct eng_event ev = {.type = ENG_EV_CONFIRMED, .step = s, .text = q,
			                       .by = "--yes", .automatic = true};
			engine_emit(e, &ev);
			free(q);
		} else if (e->o.interactive) {
			n->flow = f; /* groups too: the answer moves this flow on */
			wait_for_operator(e, n, ENG_WAIT_CONFIRM, d->confirm);
			return;
		} else {
			char *q = vars_display(e, s, d->confirm);
			char *x = xasprintf("needs operator: confirm \"%s\" (--yes confirms)", q);
			free(q);
			node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN, x);
			flow_move(f, FLOW_AFTER, n);
			return;
		}
	}
	if (group) {
		enter_group(f, n);
		return;
	}
	if (d->action == RB_ASK) {
		ask_reached(f, n);
		return;
	}
	if (d->action == RB_MANUAL) {
		/* An approval is not the driver's to answer, by an option either: only
		   --approver (another operator) says done to it. */
		if (d->approval && e->o.assume != ENG_ASSUME_NONE && !e->o.interactive &&
		    !(e->o.approver && e->o.assume == ENG_ASSUME_DONE)) {
			node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN,
			            xstrdup("needs approval by another operator (--approver NAME answers it)"));
		} else if (d->approval && e->o.assume == ENG_ASSUME_DONE && e->o.approver) {
			free(s->operator);
			s->operator = engine_mask(e, e->o.approver);
			node_finish(e, n, ENG_DONE, RBC_VERDICT_PASS, xasprintf("approved by %s (--approver)", s->operator));
		} else if (e->o.assume == ENG_ASSUME_DONE && !d->approval) {
			free(s->operator);
			s->operator = xstrdup("--assume done");
			node_finish(e, n, ENG_DONE, RBC_VERDICT_PASS, xstrdup("assumed done (--assume done)"));
		} else if (e->o.assume == ENG_ASSUME_SKIP && !d->approval) {
			free(s->operator);
			s->operator = xstrdup("--assume skip");
			node_finish(e, n, ENG_SKIPPED, RBC_VERDICT_PASS, xstrdup("assumed skipped (--assume skip)"));
		} else if (e->o.interactive) {
			wait_for_operator(e, n, ENG_WAIT_MANUAL, d->manual);
			return;
		} else {
			char *m = vars_display(e, s, d->manual);
			char *x = xasprintf("needs operator: %s (--assume done|skip answers manual steps)", m);
			free(m);
			node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN, x);
		}
		flow_move(f, FLOW_AFTER, n);
		return;
	}
	const struct probe_ops *kind = probe_ops_for(d->action);
	if (kind && kind->needs_terminal && kind->needs_terminal(d) && !terminal_available()) {
		/* "tty": true with no terminal to lend (docs/runbook-format.md). */
		node_finish(e, n, ENG_DONE, RBC_VERDICT_UNKNOWN,
		            xstrdup("needs a terminal: \"tty\": true, and standard input is not one"));
		flow_move(f, FLOW_AFTER, n);
		return;
	}
	if (d->watch) {
		/* The flow goes on at once; the watch samples from the next turn. */
		n->flow = NULL;
		flow_move(f, FLOW_AFTER, n);
		step_watch_start(e, n);
		return;
	}
	step_probe_start(e, n); /* finishes later: its outcome comes to outcome_report */
}

/* ---- what a step reported ---------------------------------------------- */

/* A watch fired: its on_fail decides whether the run goes on, jumps to the
   on_fail target (cutting short what runs) or stops. */
static void watch_fired(struct engine *e, struct node *n, enum rbc_verdict v, char *explain_take)
{
	const struct rb_step *d = n->s.def;
	struct node *target = NULL;
	if (d->on_fail == RB_ON_FAIL_GOTO || d->on_fail == RB_ON_FAIL_RUN)
		target = engine_target(e, n);
	struct eng_event ev = {.type = ENG_EV_WATCH_FIRED, .step = &n->s, .verdict = v,
	                       .text = explain_take, .target = target ? &target->s : NULL,
	                       .automatic = true};
	engine_emit(e, &ev);
	if (target)
		set_failed_vars(e, n, explain_take);
	node_finish(e, n, ENG_DONE, v, explain_take);
	node_refresh_ancestors(e, n);
	if (d->on_fail == RB_ON_FAIL_CONTINUE)
		return;
	char *reason = xasprintf("watch %s fired", d->id);
	if (target) {
		engine_interrupt(e, reason, target);
	} else {
		e->stop_ends = !e->stopping;
		engine_stop(e, reason);
	}
	free(reason);
}

static void cancel_node(struct engine *e, struct node *n, void *ud);

/* A group inside a cut that still asks its confirmation: cut short too. */
static void cancel_asking_group(struct engine *e, struct node *n, void *ud)
{
	if (n->s.state != ENG_WAITING || (n->s.def && n->s.def->action != RB_GROUP))
		return;
	n->flow = NULL;
	node_finish(e, n, ENG_CANCELLED, RBC_VERDICT_UNKNOWN, xstrdup(ud));
}

/*
 * Group g's deadline passed with on_deadline fail: what runs inside it is
 * cancelled (flows that began inside end; the one that entered g goes on
 * after it) and g ends stopped, FAIL: its on_fail decides what follows.
 */
static void budget_cut(struct engine *e, struct node *g, const char *why)
{
	bool freed = true;
	while (freed) { /* freeing one changes the list: look again */
		freed = false;
		for (struct flow *f = e->all_flows; f && !freed; f = f->next_all)
			if (f->root && f->root != g && engine_within(&f->root->s, &g->s)) {
				flow_free(f);
				freed = true;
			}
	}
	struct flow *owner = NULL;
	for (struct flow *f = e->all_flows; f && !owner; f = f->next_all)
		if (f->cur && engine_within(&f->cur->s, &g->s))
			owner = f;
	for (size_t i = 0; i < g->s.nchildren; i++) {
		walk_post(e, g->s.children[i], cancel_node, (void *)why);
		walk_post(e, g->s.children[i], cancel_asking_group, (void *)why);
		walk_post(e, g->s.children[i], close_open_group, NULL);
	}
	g->child_stopped = true;
	group_close(e, g);
	if (owner) {
		owner->pending = 0;
		owner->stopped = false;
		free(owner->jump_why);
		owner->jump = owner->jump_from = NULL;
		owner->jump_why = NULL;
		flow_move(owner, FLOW_AFTER, g);
	}
}

/* n's time budget ran out while it ran: journaled, then its on_deadline
   acts — nothing more now (warn: judged when n ends), a cut (fail), or a
   jump that interrupts whatever runs, as a watch that fires does (goto). */
static void budget_over(struct engine *e, struct node *n)
{
	const struct rb_budget *b = engine_budget(&n->s);
	if (!b || n->s.state != ENG_RUNNING || n->budget_passed)
		return;
	n->budget_passed = true;
	struct node *target = b->on_deadline == RB_ON_DEADLINE_GOTO ? engine_budget_target(n) : NULL;
	char *why = budget_text(n);
	struct eng_event ev = {.type = ENG_EV_DEADLINE, .step = &n->s, .text = why,
	                       .target = target ? &target->s : NULL};
	engine_emit(e, &ev);
	if (b->on_deadline == RB_ON_DEADLINE_FAIL) {
		budget_cut(e, n, why);
	} else if (target) {
		set_failed_vars(e, n, why);
		char *reason = xasprintf("the deadline of %s passed", n->s.def ? n->s.def->id : n->s.rb->id);
		engine_interrupt(e, reason, target);
		free(reason);
	}
	free(why);
}

/* Decides what a step's outcome means for the run: a finished step ends in
   the tree and its flow goes on (a watch's groups count it again); a fired
   watch acts on its on_fail. */
static void outcome_apply(struct engine *e, struct node *n, struct engine_step_outcome *o)
{
	switch (o->result) {
	case ENGINE_STEP_MORE:
		return;
	case ENGINE_STEP_FINISHED: {
		struct flow *f = n->flow;
		bool watch = n->s.def && n->s.def->watch;
		node_finish(e, n, o->state, o->verdict, o->explain);
		if (watch)
			node_refresh_ancestors(e, n); /* its groups may have closed already */
		else if (f)
			flow_move(f, FLOW_AFTER, n);
		return;
	}
	case ENGINE_STEP_FIRED:
		watch_fired(e, n, o->verdict, o->explain);
		return;
	case ENGINE_STEP_DEADLINE:
		budget_over(e, n);
		return;
	}
}

/* The step's report (engine->step_report): applied, then the flows move on. */
static void outcome_report(struct engine *e, struct node *n, struct engine_step_outcome *o)
{
	if (n)
		outcome_apply(e, n, o);
	engine_pump(e);
}

/* ---- the run ----------------------------------------------------------- */

/* Watches without a lifetime of their own end with the normal flow. */
static void end_open_watch(struct engine *e, struct node *n, void *ud)
{
	(void)ud;
	struct engine_step_outcome o = {.result = ENGINE_STEP_MORE};
	if (n->s.state == ENG_WATCHING && n->watch_live && !n->watch_deadline &&
	    step_watch_end(e, n, "the run ended", &o))
		outcome_apply(e, n, &o);
}

static void main_over(struct engine *e)
{
	e->main_running = false;
	e->main_over = true;
	for (size_t i = 0; i < e->nnodes; i++)
		walk_post(e, e->nodes[i], close_open_group, NULL);
	for (size_t i = 0; i < e->nnodes; i++)
		walk_post(e, e->nodes[i], end_open_watch, NULL);
}

static void check_finished(struct engine *e)
{
	if (!e->main_over || e->main_running || e->pumping)
		return;
	if (e->watches_for || e->inflight || e->all_flows)
		return;
	e->main_over = false;
	e->dirty = false;
	e->ended = true;
	/* What it did not reach, cut short or left running passed nothing,
	   however the run ended (a stop, a quit, a lost record, a step run
	   by hand and stopped after the end). */
	enum rbc_verdict v = engine_verdict(e);
	struct eng_counts k;
	engine_counts(e, &k);
	if (k.pending || k.running || k.cancelled)
		v = verdict_worst(v, RBC_VERDICT_UNKNOWN);
	struct eng_event ev = {.type = ENG_EV_RUN_FINISHED, .verdict = v, .text = e->stop_reason,
	                       .stopped = e->stopping};
	engine_emit(e, &ev);
	/* A watch's stop is over with the run: steps may be run by hand again
	   (the operator may still need the steps of a rollback), as after any
	   end — not after a quit or a signal, never once the record is lost. */
	if (e->stopping && e->stop_ends && !e->record_lost) {
		e->stopping = e->stop_ends = false;
		free(e->stop_reason);
		e->stop_reason = NULL;
	}
}

static void main_flow_start(struct engine *e, struct node *at, enum flow_act act)
{
	struct flow *f = flow_new(e, NULL, NULL);
	f->main = true;
	e->main = f;
	e->main_running = true;
	e->main_over = false;
	e->dirty = true;
	if (!e->started) {
		e->started = true;
		struct eng_event ev = {.type = ENG_EV_RUN_STARTED};
		engine_emit(e, &ev);
	}
	flow_move(f, act, at);
}

static void resume_watches(struct engine *e, struct eng_step *s)
{
	struct node *n = node_of(s);
	if (n->rewatch) {
		n->rewatch = false;
		s->state = ENG_RUNNING;
		s->started = engine_now(e);
		struct eng_event ev = {.type = ENG_EV_STEP_STARTED, .step = s};
		engine_emit(e, &ev);
		step_watch_start(e, n);
	}
	for (size_t i = 0; i < s->nchildren; i++)
		resume_watches(e, s->children[i]);
}

/* A resume: the steps a hand run of which was cut short run again, by hand
   (a flow of their own, as engine_run_step runs them). */
static void resume_redo(struct engine *e, struct eng_step *s)
{
	struct node *n = node_of(s);
	if (n->redo) {
		n->redo = false;
		struct flow *f = flow_new(e, n, NULL);
		flow_move(f, FLOW_ENTER, n);
		e->dirty = true;
		return;
	}
	for (size_t i = 0; i < s->nchildren; i++)
		resume_redo(e, s->children[i]);
}

void engine_start(struct engine *e)
{
	if (e->main_running || e->stopping)
		return;
	bool resumed = e->resume_pending;
	e->resume_pending = false;
	if (resumed)
		for (size_t i = 0; i < e->nnodes; i++) {
			resume_watches(e, e->nodes[i]);
			budget_resume(e, e->nodes[i]);
		}
	if (e->resume_at) {
		/* The first start after a resume: where the run's flow was. */
		struct node *at = e->resume_at;
		e->resume_at = NULL;
		main_flow_start(e, at, e->resume_act);
	} else {
		struct node *first = NULL;
		for (size_t i = 0; i < e->nnodes && !first; i++)
			if (!node_on_demand(e->nodes[i]))
				first = node_of(e->nodes[i]);
		if (!first && !resumed)
			return;
		if (first)
			main_flow_start(e, first, FLOW_ENTER);
	}
	if (resumed)
		for (size_t i = 0; i < e->nnodes; i++)
			resume_redo(e, e->nodes[i]);
	engine_pump(e);
}

void engine_run_step(struct engine *e, struct eng_step *s)
{
	struct node *n = node_of(s);
	if (e->stopping || n->flow || s->state == ENG_RUNNING || s->state == ENG_WAITING ||
	    s->state == ENG_WATCHING)
		return;
	if (s->state != ENG_PENDING)
		node_reset(e, n);
	if (!e->started) {
		e->started = true;
		struct eng_event ev = {.type = ENG_EV_RUN_STARTED};
		engine_emit(e, &ev);
	}
	e->dirty = true;
	struct flow *f = flow_new(e, n, NULL);
	flow_move(f, FLOW_ENTER, n);
	engine_pump(e);
}

/* A running wait ended by the operator: it passes, saying who and why. */
static void wait_end_early(struct engine *e, struct node *n, const char *who, const char *note)
{
	struct flow *f = n->flow;
	step_cancel(e, n); /* the probe's late "cancelled" is dropped */
	free(n->s.operator);
	n->s.operator = xstrdup(who);
	free(n->s.note);
	n->s.note = note ? xstrdup(note) : NULL;
	char *x = note ? xasprintf("ended early by %s: %s", who, note)
	               : xasprintf("ended early by %s", who);
	node_finish(e, n, ENG_DONE, RBC_VERDICT_PASS, x);
	if (f)
		flow_move(f, FLOW_AFTER, n);
	engine_pump(e);
}

bool engine_answer_ask(struct engine *e, struct eng_step *s, const char *value, const char *by,
                       char **why)
{
	struct node *n = node_of(s);
	*why = NULL;
	if (e->record_lost || s->state != ENG_WAITING || s->wait != ENG_WAIT_ASK || !value)
		return false;
	struct flow *f = n->flow;
	if (!ask_answered(e, f, n, value, by && *by ? by : e->operator, false, why))
		return false;
	engine_pump(e);
	return true;
}

int64_t engine_time_left(const struct engine *e, const struct eng_step *s)
{
	const struct node *n = (const struct node *)s;
	if (!n->wait_end || s->state != ENG_RUNNING)
		return -1;
	uint64_t now = uv_now(e->loop);
	return n->wait_end > now ? (int64_t)(n->wait_end - now) : 0;
}

bool engine_answer(struct engine *e, struct eng_step *s, enum eng_answer a, const char *note,
                   const char *by)
{
	struct node *n = node_of(s);
	if (e->record_lost)
		return false; /* an answer nobody could read back */
	const char *who = by && *by ? by : e->operator;
	char *mnote = engine_mask(e, note && *note ? note : NULL);
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_CONFIRM) {
		if (a != ENG_ANSWER_YES && a != ENG_ANSWER_NO) {
			free(mnote);
			return false;
		}
		struct flow *f = n->flow;
		n->flow = NULL;
		if (a == ENG_ANSWER_YES) {
			s->confirmed = true;
			s->state = ENG_RUNNING;
			s->wait = ENG_WAIT_NONE;
			struct eng_event ev = {.type = ENG_EV_CONFIRMED, .step = s, .text = s->wait_text,
			                       .by = who};
			engine_emit(e, &ev);
			/* Back into enter(), past the confirmation. */
			s->state = ENG_PENDING;
			s->started = 0;
			if (f)
				flow_move(f, FLOW_ENTER, n);
		} else {
			free(s->operator);
			s->operator = xstrdup(who);
			char *x = mnote ? xasprintf("declined by %s: %s", who, mnote)
			                : xasprintf("declined by %s", who);
			node_finish(e, n, ENG_SKIPPED, RBC_VERDICT_PASS, x);
			if (f)
				declined(f, n, x);
		}
		free(mnote);
		engine_pump(e);
		return true;
	}
	if (s->state == ENG_RUNNING && n->wait_end && a == ENG_ANSWER_SKIP) {
		wait_end_early(e, n, who, mnote);
		free(mnote);
		return true;
	}
	bool manual = s->def && s->def->action == RB_MANUAL;
	if (!manual || (s->state != ENG_WAITING && s->state != ENG_PENDING) ||
	    a == ENG_ANSWER_YES || a == ENG_ANSWER_NO) {
		free(mnote);
		return false;
	}
	if (a != ENG_ANSWER_FAIL && engine_approval_refused(e, s, who)) {
		free(mnote);
		return false; /* the driver cannot approve (nor skip) an approval */
	}
	struct flow *f = n->flow;
	free(s->operator);
	s->operator = xstrdup(who);
	if (mnote) {
		free(s->note);
		s->note = xstrdup(mnote);
	}
	if (!s->started)
		s->started = engine_now(e);
	static const char *const done_word[] = {"done", "failed", "skipped"};
	bool approved = a == ENG_ANSWER_DONE && s->def->approval;
	const char *word = approved ? "approved" : done_word[a];
	char *x = s->note ? xasprintf("%s by %s: %s", word, who, s->note)
	                  : xasprintf("%s by %s", word, who);
	free(mnote);
	node_finish(e, n, a == ENG_ANSWER_SKIP ? ENG_SKIPPED : ENG_DONE,
	            a == ENG_ANSWER_FAIL ? RBC_VERDICT_FAIL : RBC_VERDICT_PASS, x);
	if (f)
		flow_move(f, FLOW_AFTER, n);
	engine_pump(e);
	return true;
}

bool engine_note(struct engine *e, struct eng_step *s, const char *text, const char *by)
{
	if (e->record_lost)
		return false; /* a note nobody could read back */
	char *m = engine_mask(e, text);
	/* A manual step not answered yet keeps it: its answer carries it. */
	if (s && s->def && s->def->action == RB_MANUAL &&
	    (s->state == ENG_WAITING || s->state == ENG_PENDING)) {
		free(s->note);
		s->note = xstrdup(m);
	}
	struct eng_event ev = {.type = ENG_EV_NOTE, .step = s, .text = m,
	                       .by = by && *by ? by : e->operator};
	engine_emit(e, &ev);
	free(m);
	return true;
}

void engine_incident(struct engine *e, const struct cJSON *detail)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(detail, "by");
	struct eng_event ev = {.type = ENG_EV_INCIDENT, .detail = detail,
	                       .by = cJSON_IsString(by) ? by->valuestring : e->operator,
	                       .automatic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(detail, "automatic"))};
	vars_severity(e, detail);
	engine_emit(e, &ev);
}

/* Cancels whatever runs or waits, ends every flow (and watches). */
static void cancel_node(struct engine *e, struct node *n, void *ud)
{
	const char *reason = ud;
	struct eng_step *s = &n->s;
	bool group = !s->def || s->def->action == RB_GROUP;
	if (s->state == ENG_WATCHING) {
		/* A stop cuts it short; a jump elsewhere ends what it watched. */
		struct engine_step_outcome o = {.result = ENGINE_STEP_MORE};
		if (e->stopping ? step_watch_cut(e, n, reason, &o) : step_watch_end(e, n, reason, &o))
			outcome_apply(e, n, &o);
		return;
	}
	if (group || (s->state != ENG_RUNNING && s->state != ENG_WAITING))
		return;
	step_cancel(e, n);
	n->flow = NULL;
	/* Cut short: no verdict was reached, and cancelled is not passed. */
	node_finish(e, n, ENG_CANCELLED, RBC_VERDICT_UNKNOWN, xstrdup(reason));
}

static void cancel_all(struct engine *e, const char *reason)
{
	bool had_main = e->main_running;
	for (size_t i = 0; i < e->nnodes; i++)
		walk_post(e, e->nodes[i], cancel_node, (void *)reason);
	while (e->all_flows)
		flow_free(e->all_flows);
	for (size_t i = 0; i < e->nnodes; i++)
		walk_post(e, e->nodes[i], close_open_group, NULL);
	e->main_running = false;
	if (had_main)
		e->main_over = true;
}

void engine_stop(struct engine *e, const char *reason)
{
	if (!reason)
		reason = "stopped";
	if (e->stopping)
		e->stop_ends = false; /* a quit during a watch's stop: the run ends */
	if (!e->stop_reason)
		e->stop_reason = engine_mask(e, reason);
	e->stopping = true;
	cancel_all(e, e->stop_reason);
	/* A stop ends the run once — unless it already ended and nothing ran since. */
	if (e->started && e->dirty)
		e->main_over = true;
	engine_pump(e);
}

/* The run cannot go on (a goto loop): it stops, and its verdict is ERROR. */
static void engine_fail_run(struct engine *e, const char *reason)
{
	e->run_error = true;
	engine_stop(e, reason);
}

static void engine_interrupt(struct engine *e, const char *reason, struct node *target)
{
	if (target && ++e->jumps > ENGINE_MAX_JUMPS) {
		engine_fail_run(e, "more than 1000 jumps: the on_fail gotos loop");
		return;
	}
	cancel_all(e, reason);
	if (target) {
		open_ancestors(e, &target->s);
		if (target->s.state != ENG_PENDING)
			node_reset(e, target);
		struct node *proc = procedure_of(&target->s);
		if (proc)
			proc->endpoint = true;
		main_flow_start(e, target, FLOW_ENTER);
	}
	engine_pump(e);
}

void engine_set_record(struct engine *e, uint64_t (*mark)(void *ud), void *ud)
{
	e->record_mark = mark;
	e->record_ud = ud;
}

void engine_recorded(struct engine *e, uint64_t mark)
{
	if (e->record_lost)
		return;
	if (mark > e->recorded)
		e->recorded = mark;
	/* Oldest first: their actions start in the order the steps did. */
	for (size_t i = 0; i < e->ngated;) {
		struct node *n = e->gated[i];
		if (n->gate_mark <= e->recorded)
			step_gate_open(e, n); /* takes it off the list */
		else
			i++;
	}
}

void engine_record_lost(struct engine *e, const char *why)
{
	if (e->record_lost)
		return;
	e->record_lost = true;
	/* What waited for the record never starts: the stop cancels it. */
	engine_stop(e, why ? why : "the record is lost");
}

bool engine_busy(const struct engine *e)
{
	return e->main_running || e->main_over || e->all_flows || e->inflight || e->watches ||
	       e->remasking;
}

size_t engine_jobs(const struct engine *e)
{
	return e->inflight;
}

const char *engine_operator(const struct engine *e)
{
	return e->operator;
}

const struct mask *engine_secrets(const struct engine *e)
{
	return e->mask;
}

char *engine_secret_warning(const struct engine *e)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < e->secrets.n; i++) {
		size_t chars = 0;
		for (const char *p = e->secrets.vals[i]; *p; p++)
			chars += ((unsigned char)*p & 0xC0) != 0x80;
		if (chars >= ENGINE_SECRET_MIN)
			continue;
		sb_addf(&sb, "%ssecret %s is %zu character%s long", sb.len ? "; " : "",
		        e->secrets.keys[i], chars, chars == 1 ? "" : "s");
	}
	if (!sb.len)
		return NULL;
	sb_addf(&sb, ": shorter than %d, it is easy to guess, and masking it hides those "
	        "characters wherever they stand in output and explanations", ENGINE_SECRET_MIN);
	return sb_take(&sb);
}

char *engine_var(const struct engine *e, const struct eng_step *s, const char *name)
{
	return vars_get((struct engine *)e, s, name);
}

char *engine_var_shown(const struct engine *e, const struct eng_step *s, const char *name)
{
	return vars_shown((struct engine *)e, s, name);
}

char *engine_text_shown(const struct engine *e, const struct eng_step *s, const char *text)
{
	return vars_display((struct engine *)e, s, text);
}

/*
 * tree.c — the run's step tree: built from the runbooks (their includes,
 * an incident's severity procedures as on-demand groups) and freed; the
 * questions asked of it — where a step is, document order, the target of
 * an on_fail, titles; and what it adds up to: counts and the verdict.
 *
 * It reads and builds the tree but moves nothing: the scheduler (engine.c)
 * and the restore (restore.c) change steps' states, using this.
 */
#include <stdlib.h>
#include <string.h>

#include "callee.h"
#include "step.h"
#include "tree.h"

/* A node for def (NULL: a runbook's top) and everything below it; a
   loop's steps only once it expands (iterate.c). */
struct node *tree_node_new(struct engine *e, const struct rb_step *def,
                             const struct runbook *rb, struct node *parent, size_t index)
{
	struct node *n = xcalloc(1, sizeof *n);
	if (def && def->action == RB_CALL && def->call) {
		def = callee_group(e, def); /* a group of its callee's steps */
		n->id_scope = true;
	}
	n->s.def = def;
	n->s.rb = rb;
	n->s.parent = parent ? &parent->s : NULL;
	n->s.index = index;
	n->s.state = ENG_PENDING;
	if (def && def->action == RB_GROUP && def->nchildren && !def->foreach) {
		n->s.children = xcalloc(def->nchildren, sizeof *n->s.children);
		n->s.nchildren = def->nchildren;
		for (size_t i = 0; i < def->nchildren; i++)
			n->s.children[i] = &tree_node_new(e, def->children[i], rb, n, i)->s;
	}
	if (parent)
		e->nsteps++;
	return n;
}

/* An incident's severity procedure as an on-demand group after the
   runbook's steps ("L2-procedure"): there from the start, run when its
   level is declared or reached. */
static struct rb_step *procedure_def(struct engine *e, const struct runbook *rb, const struct rb_severity *sv)
{
	struct rb_step *d = xcalloc(1, sizeof *d);
	d->id = xasprintf("%s-procedure", sv->id);
	d->number = xstrdup(sv->id);
	d->title = sv->name ? xasprintf("%s procedure", sv->name) : xstrdup("procedure");
	d->path = xasprintf("severities[%s].steps", sv->id);
	d->action = RB_GROUP;
	d->children = sv->steps;
	d->nchildren = sv->nsteps;
	d->on_demand = true;
	d->runbook = (struct runbook *)rb;
	xgrow(&e->procs, &e->capprocs, e->nprocs + 1, sizeof *e->procs);
	e->procs[e->nprocs++] = d;
	return d;
}

/* The top node of a runbook: its steps, then its severities' procedures. */
static struct node *phase_new(struct engine *e, const struct runbook *rb, size_t index,
                              bool include)
{
	struct node *n = tree_node_new(e, NULL, rb, NULL, index);
	size_t nproc = 0;
	for (size_t i = 0; rb->kind == RB_KIND_INCIDENT && i < rb->nseverities; i++)
		nproc += rb->severities[i].nsteps ? 1 : 0;
	n->s.include = include;
	n->s.children = xcalloc(rb->nsteps + nproc ? rb->nsteps + nproc : 1, sizeof *n->s.children);
	n->s.nchildren = rb->nsteps;
	for (size_t i = 0; i < rb->nsteps; i++)
		n->s.children[i] = &tree_node_new(e, rb->steps[i], rb, n, i)->s;
	for (size_t i = 0; nproc && i < rb->nseverities; i++)
		if (rb->severities[i].nsteps) {
			size_t k = n->s.nchildren++;
			n->s.children[k] = &tree_node_new(e, procedure_def(e, rb, &rb->severities[i]), rb, n, k)->s;
		}
	return n;
}

/* Frees n and everything below it. */
static void node_free(struct node *n)
{
	for (size_t i = 0; i < n->s.nchildren; i++)
		node_free(node_of(n->s.children[i]));
	free(n->s.children);
	step_free_samples(&n->s);
	free(n->s.samples);
	free(n->s.title);
	free(n->s.explain);
	free(n->s.wait_text);
	free(n->s.operator);
	free(n->s.note);
	free(n->s.spool_path);
	free(n->last_explain);
	value_free(n->deferred);
	free(n->loop_item);
	vars_scope_free(n);
	etimer_close(n);
	budget_close(n);
	free(n);
}

/* A step's title as written (its id when it has none). */
const char *engine_raw_title(const struct eng_step *s)
{
	if (!s->def)
		return s->rb->title ? s->rb->title : s->rb->id;
	return s->def->title ? s->def->title : s->def->id;
}

/* The loop's title with its variable as the items (internal.h). */
char *engine_loop_title(struct engine *e, struct node *g)
{
	if (!g->expanded || !g->s.def || !g->s.def->foreach || !g->s.def->title)
		return NULL;
	char *needle = xasprintf("${%s}", g->s.def->foreach->var);
	const char *raw = g->s.def->title;
	if (!strstr(raw, needle)) {
		free(needle);
		return NULL;
	}
	/* The variable stands aside while the rest is expanded, then the
	   items (a few, masked) take its place. */
	struct strbuf held = {0}, list = {0};
	sb_adds(&held, "");
	for (const char *p = raw, *q; *p; p = q + strlen(needle)) {
		if (!(q = strstr(p, needle))) {
			sb_adds(&held, p);
			break;
		}
		sb_add(&held, p, (size_t)(q - p));
		sb_addc(&held, '\x01');
	}
	sb_adds(&list, "");
	for (size_t i = 0; i < g->s.nchildren && i < 5; i++) {
		struct node *c = node_of(g->s.children[i]);
		sb_addf(&list, "%s%s", i ? ", " : "", c->loop_item ? c->loop_item : "");
	}
	if (g->s.nchildren > 5)
		sb_adds(&list, ", …");
	if (!g->s.nchildren)
		sb_adds(&list, "(none)");
	char *shown = vars_display(e, &g->s, held.s);
	char *items = engine_mask(e, list.s);
	struct strbuf out = {0};
	sb_adds(&out, "");
	for (const char *p = shown; *p; p++)
		if (*p == '\x01')
			sb_adds(&out, items);
		else
			sb_addc(&out, *p);
	free(shown);
	free(items);
	free(needle);
	sb_free(&held);
	sb_free(&list);
	return sb_take(&out);
}

/* Titles with what is known so far; refreshed when the step starts. */
void engine_titles_init(struct engine *e, struct eng_step *s)
{
	free(s->title);
	s->title = engine_loop_title(e, node_of(s));
	if (!s->title)
		s->title = vars_display(e, s, engine_raw_title(s));
	for (size_t i = 0; i < s->nchildren; i++)
		engine_titles_init(e, s->children[i]);
}

/* The titles below n made again with what is known now. */
void node_titles_below(struct engine *e, struct node *n)
{
	for (size_t i = 0; i < n->s.nchildren; i++)
		engine_titles_init(e, n->s.children[i]);
}

/* True for a step outside the normal flow: an include, a procedure. */
bool node_on_demand(const struct eng_step *s)
{
	return s->include || (s->def && s->def->on_demand);
}

/* True when s is root or below it. */
bool engine_within(const struct eng_step *s, const struct eng_step *root)
{
	for (; s; s = s->parent)
		if (s == root)
			return true;
	return false;
}

/* The top node holding s. */
struct eng_step *engine_phase_of(struct eng_step *s)
{
	while (s->parent)
		s = s->parent;
	return s;
}

/* The step below s (or s) with this id, or NULL. */
static struct eng_step *find_in(struct eng_step *s, const char *id)
{
	if (s->def && s->def->id && strcmp(s->def->id, id) == 0)
		return s;
	for (size_t i = 0; i < s->nchildren; i++) {
		struct eng_step *r = find_in(s->children[i], id);
		if (r)
			return r;
	}
	return NULL;
}

/* The step with this id in any runbook of the run, or NULL. */
struct eng_step *engine_find(const struct engine *e, const char *id)
{
	for (size_t i = 0; i < e->nnodes; i++) {
		struct eng_step *r = find_in(e->nodes[i], id);
		if (r)
			return r;
	}
	return NULL;
}

/* The top nodes: the runbooks, then their includes. */
struct eng_step *const *engine_nodes(const struct engine *e, size_t *n)
{
	*n = e->nnodes;
	return e->nodes;
}

/* The step a goto: of from names: inside a loop, the one of from's own
   iteration (its id prefixed with the iteration's, iterate.c); else
   anywhere in from's runbook. */
static struct eng_step *goto_find(struct eng_step *from, const char *id)
{
	for (struct eng_step *p = from->parent; p; p = p->parent) {
		if (!node_of(p)->id_scope)
			continue;
		char *own = xasprintf("%s.%s", p->def->id, id);
		struct eng_step *t = find_in(p, own);
		free(own);
		if (t)
			return t;
	}
	return find_in(engine_phase_of(from), id);
}

/* The step id names in from's runbook (tree.h). */
struct node *engine_goto_target(struct node *from, const char *id)
{
	struct eng_step *t = id ? goto_find(&from->s, id) : NULL;
	return t ? node_of(t) : NULL;
}

/* Where a declined confirmation's goto: sends the flow (tree.h). */
struct node *engine_decline_target(struct node *from)
{
	const struct rb_step *d = from->s.def;
	if (!d || d->on_decline != RB_ON_DECLINE_GOTO || !d->on_decline_target)
		return NULL;
	struct eng_step *t = goto_find(&from->s, d->on_decline_target);
	return t ? node_of(t) : NULL;
}

/* Where a passed deadline's on_deadline goto: sends the flow (NULL: nowhere). */
struct node *engine_budget_target(struct node *from)
{
	const struct rb_budget *b = engine_budget(&from->s);
	if (!b || b->on_deadline != RB_ON_DEADLINE_GOTO || !b->target)
		return NULL;
	struct eng_step *t = find_in(engine_phase_of(&from->s), b->target);
	return t ? node_of(t) : NULL;
}

/* Where a failed step's goto: or run: sends the flow (NULL: nowhere). */
struct node *engine_target(struct engine *e, struct node *from)
{
	const struct rb_step *d = from->s.def;
	if (!d)
		return NULL;
	if (d->on_fail == RB_ON_FAIL_GOTO && d->on_fail_target) {
		struct eng_step *t = goto_find(&from->s, d->on_fail_target);
		return t ? node_of(t) : NULL;
	}
	if (d->on_fail == RB_ON_FAIL_RUN && d->on_fail_runbook) {
		for (size_t i = 0; i < e->nnodes; i++)
			if (e->nodes[i]->include && e->nodes[i]->rb == d->on_fail_runbook)
				return node_of(e->nodes[i]);
		for (size_t i = 0; i < e->nnodes; i++)
			if (e->nodes[i]->rb == d->on_fail_runbook)
				return node_of(e->nodes[i]);
	}
	return NULL;
}

/* Adds a top node for each runbook rb includes that has none yet. */
static void add_include_nodes(struct engine *e, const struct runbook *rb, size_t *cap)
{
	for (size_t i = 0; i < rb->nincludes; i++) {
		const struct runbook *inc = rb->includes[i];
		if (!inc->run_target)
			continue; /* only called: its steps are under its calls */
		bool have = false;
		for (size_t k = 0; k < e->nnodes; k++)
			have = have || e->nodes[k]->rb == inc;
		if (have)
			continue;
		xgrow(&e->nodes, cap, e->nnodes + 1, sizeof *e->nodes);
		e->nodes[e->nnodes] = &phase_new(e, inc, e->nnodes, true)->s;
		e->nnodes++;
	}
}

/* Builds the tree of the run's runbooks (e->o), then of their includes. */
void engine_tree_build(struct engine *e)
{
	size_t cap = 0;
	for (size_t i = 0; i < e->o.nrunbooks; i++) {
		xgrow(&e->nodes, &cap, e->nnodes + 1, sizeof *e->nodes);
		e->nodes[e->nnodes] = &phase_new(e, e->o.runbooks[i], e->nnodes, false)->s;
		e->nnodes++;
	}
	for (size_t i = 0; i < e->o.nrunbooks; i++)
		add_include_nodes(e, e->o.runbooks[i], &cap);
}

/* Frees the tree and the procedures' group definitions made for it. */
void engine_tree_free(struct engine *e)
{
	for (size_t i = 0; i < e->nnodes; i++)
		node_free(node_of(e->nodes[i]));
	free(e->nodes);
	for (size_t i = 0; i < e->nprocs; i++) {
		free(e->procs[i]->id);
		free(e->procs[i]->number);
		free(e->procs[i]->title);
		free(e->procs[i]->path);
		free(e->procs[i]);
	}
	free(e->procs);
}

/* ---- order ------------------------------------------------------------- */

/* True when a comes before b in document order (pre-order: a parent first). */
bool doc_before(const struct eng_step *a, const struct eng_step *b)
{
	if (a == b)
		return false;
	const struct eng_step *pa[RB_MAX_DEPTH + 2], *pb[RB_MAX_DEPTH + 2];
	size_t na = 0, nb = 0;
	for (const struct eng_step *x = a; x && na < RBC_ARRAY_LEN(pa); x = x->parent)
		pa[na++] = x;
	for (const struct eng_step *x = b; x && nb < RBC_ARRAY_LEN(pb); x = x->parent)
		pb[nb++] = x;
	/* Walk down from the top while the chains agree. */
	while (na && nb && pa[na - 1] == pb[nb - 1]) {
		na--;
		nb--;
	}
	if (!na)
		return true;  /* a is an ancestor of b */
	if (!nb)
		return false; /* b is an ancestor of a */
	return pa[na - 1]->index < pb[nb - 1]->index;
}

/* The procedure a jump to target enters: its nearest on-demand ancestor-or-self. */
struct node *procedure_of(struct eng_step *target)
{
	for (struct eng_step *s = target; s; s = s->parent)
		if (node_on_demand(s))
			return node_of(s);
	return NULL;
}

/* ---- what the run adds up to ------------------------------------------- */

/* A step's own state: the view engine_counts takes. */
static enum eng_state own_state(const struct eng_step *s)
{
	return s->state;
}

/*
 * Counts below s. Steps under a skipped group count as skipped; steps of an
 * on-demand procedure that never ran are not counted at all.
 */
static void count_walk(const struct eng_step *s, bool skipped, bool optional,
                       enum eng_state (*view)(const struct eng_step *), struct eng_counts *c)
{
	optional = optional || node_on_demand(s);
	enum eng_state own = view(s);
	if (own == ENG_SKIPPED)
		skipped = true;
	if (s->def && s->def->action != RB_GROUP) {
		enum eng_state st = skipped ? ENG_SKIPPED : own;
		if (st == ENG_PENDING && optional)
			return;
		c->total++;
		switch (st) {
		case ENG_PENDING: c->pending++; break;
		case ENG_RUNNING:
		case ENG_WAITING:
		case ENG_WATCHING: c->running++; break;
		case ENG_DONE:
			c->done++;
			c->by_verdict[s->verdict]++;
			break;
		case ENG_SKIPPED: c->skipped++; break;
		case ENG_CANCELLED: c->cancelled++; break;
		}
		return;
	}
	for (size_t i = 0; i < s->nchildren; i++)
		count_walk(s->children[i], skipped, optional, view, c);
}

/* The run's step counts, each step's state as view sees it. */
void engine_counts_as(const struct engine *e, enum eng_state (*view)(const struct eng_step *),
                      struct eng_counts *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < e->nnodes; i++)
		count_walk(e->nodes[i], false, false, view ? view : own_state, c);
}

/* The run's step counts. */
void engine_counts(const struct engine *e, struct eng_counts *c)
{
	engine_counts_as(e, NULL, c);
}

/* The worst verdict below s, groups included (a group can have one of its
   own: a confirmation nobody gave, a when that could not be decided). */
static enum rbc_verdict worst_below(const struct eng_step *s, enum rbc_verdict v)
{
	if (s->state == ENG_DONE)
		v = verdict_worst(v, s->verdict);
	for (size_t i = 0; i < s->nchildren; i++)
		v = worst_below(s->children[i], v);
	return v;
}

/* The run's verdict: the worst of its steps' (ERROR when it could not go on). */
enum rbc_verdict engine_verdict(const struct engine *e)
{
	enum rbc_verdict v = e->run_error ? RBC_VERDICT_ERROR : RBC_VERDICT_PASS;
	for (size_t i = 0; i < e->nnodes; i++)
		v = worst_below(e->nodes[i], v);
	return v;
}

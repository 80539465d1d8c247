/*
 * callee.c — a call step in the run (docs/runbook-format.md, "Calls"). The
 * tree holds it as a group: the call's own keys (id, title, when,
 * confirm, on_fail), its callee's steps copied below it with ids under the
 * call's (`db-back.restore`), so that the scheduler runs it, and judges it,
 * as any group: its verdict is its callee's. Its variables live on its
 * node: with (expanded where the call stands), the callee's defaults, and
 * every capture of its steps; they end with it, but for its exports, which
 * go to where the call stands, reported as captures of the call.
 *
 * The copies (calls' and loops') borrow all of the steps they copy but id,
 * number, path and children; the engine keeps and frees them.
 */
#include <stdlib.h>
#include <string.h>

#include "callee.h"
#include "emit.h"

/* Keeps a step the engine made, freed with the run. */
void callee_keep(struct engine *e, struct rb_step *d)
{
	xgrow(&e->loopdefs, &e->caploopdefs, e->nloopdefs + 1, sizeof *e->loopdefs);
	e->loopdefs[e->nloopdefs++] = d;
}

/* A copy of src (and its steps) under the scope prefix (callee.h). */
struct rb_step *callee_copy(struct engine *e, const struct rb_step *src, struct rb_step *parent,
                            const char *prefix, const char *number)
{
	struct rb_step *d = xmalloc(sizeof *d);
	*d = *src;
	d->base_id = src->base_id ? src->base_id : src->id; /* a copy's copy: the id as written */
	d->id = xasprintf("%s.%s", prefix, d->base_id);
	d->id_derived = false;
	d->number = xstrdup(number);
	d->path = xasprintf("%s.%s", parent->path, d->base_id);
	d->parent = parent;
	d->children = src->nchildren ? xcalloc(src->nchildren, sizeof *d->children) : NULL;
	callee_keep(e, d);
	for (size_t i = 0; i < src->nchildren; i++) {
		char *num = xasprintf("%s.%zu", number, i + 1);
		d->children[i] = callee_copy(e, src->children[i], d, prefix, num);
		free(num);
	}
	return d;
}

/* The group call step d stands as: its keys, its callee's steps copied. */
const struct rb_step *callee_group(struct engine *e, const struct rb_step *d)
{
	struct rb_step *g = xmalloc(sizeof *g);
	*g = *d;
	g->id = xstrdup(d->id);
	g->number = xstrdup(d->number);
	g->path = xstrdup(d->path);
	g->action = RB_GROUP;
	size_t n;
	struct rb_step *const *steps = rb_call_steps(d->call, &n);
	g->nchildren = n;
	g->children = n ? xcalloc(n, sizeof *g->children) : NULL;
	callee_keep(e, g);
	for (size_t i = 0; i < n; i++) {
		char *num = xasprintf("%s.%zu", d->number, i + 1);
		g->children[i] = callee_copy(e, steps[i], g, d->id, num);
		free(num);
	}
	return g;
}

/* Binds call node n's variables: with, then the callee's defaults. */
void callee_bind(struct engine *e, struct node *n)
{
	const struct rb_call *c = n->s.def->call;
	vars_scope_free(n);
	/* with: expanded where the call stands, before any of it is bound. */
	char **vals = xcalloc(c->with.n ? c->with.n : 1, sizeof *vals);
	for (size_t i = 0; i < c->with.n; i++) {
		char *err = NULL;
		if (!vars_expand(e, n->s.parent, c->with.vals[i], VARS_PLAIN, &vals[i], &err)) {
			free(vals[i]);
			vals[i] = xstrdup(c->with.vals[i]);
		}
		free(err);
	}
	for (size_t i = 0; i < c->with.n; i++) {
		vars_scope_set(n, c->with.keys[i], value_strz_new(vals[i]));
		free(vals[i]);
	}
	free(vals);
	/* A file's own defaults, read inside the call. */
	const struct runbook *rb = c->runbook;
	for (size_t i = 0; rb && i < rb->vars.n; i++) {
		if (vars_scope_get(n, rb->vars.keys[i]))
			continue;
		char *v = NULL, *err = NULL;
		if (!vars_expand(e, &n->s, rb->vars.vals[i], VARS_PLAIN, &v, &err)) {
			free(v);
			v = xstrdup(rb->vars.vals[i]);
		}
		free(err);
		vars_scope_set(n, rb->vars.keys[i], value_strz_new(v));
		free(v);
	}
	vars_scratch_release(e);
}

/* Reports a call that starts: what it calls, with what (EXPANDED). */
void callee_start(struct engine *e, struct node *n)
{
	const struct rb_call *c = n->s.def->call;
	struct strbuf sb = {0};
	size_t steps = 0;
	rb_call_steps(c, &steps);
	sb_addf(&sb, "calls %s: %zu step%s", c->target, steps, steps == 1 ? "" : "s");
	for (size_t i = 0; i < c->with.n; i++) {
		const struct capture *v = vars_scope_get(n, c->with.keys[i]);
		bool secret = vars_is_secret(e, &n->s, c->with.keys[i]);
		sb_addf(&sb, "%s%s=%s", i ? ", " : ", with ", c->with.keys[i], secret ? MASK_TEXT : v ? v->text : "");
	}
	char *m = engine_mask(e, sb.s);
	sb_free(&sb);
	struct eng_event ev = {.type = ENG_EV_EXPANDED, .step = &n->s, .text = m};
	engine_emit(e, &ev);
	free(m);
}

/* Hands out a call's exports as its captures; says them in its explanation. */
char *callee_end(struct engine *e, struct node *n, char *explain_take)
{
	const struct rb_call *c = n->s.def->call;
	struct strbuf sb = {0};
	sb_adds(&sb, explain_take ? explain_take : "");
	free(explain_take);
	for (size_t i = 0; i < c->nexports; i++) {
		const char *name = c->exports[i];
		const struct capture *v = vars_scope_get(n, name);
		if (!v) {
			sb_addf(&sb, "%s%s not captured", i ? ", " : "; exported: ", name);
			continue;
		}
		bool secret = vars_is_secret(e, &n->s, name);
		char *shown = secret ? xstrdup(MASK_TEXT) : engine_mask(e, v->text);
		sb_addf(&sb, "%s%s = %s", i ? ", " : "; exported: ", name, shown);
		char *why = xasprintf("exported by the call %s", n->s.def->id);
		struct eng_event ev = {.type = ENG_EV_CAPTURE, .step = &n->s, .name = name, .value = shown,
		                       .text = why, .sample = secret ? NULL : v->value};
		vars_capture_in(e, &n->s, name, value_ref(v->value));
		engine_emit(e, &ev);
		free(why);
		free(shown);
	}
	return sb_take(&sb);
}

/* Frees the steps the engine made for loops and calls. */
void callee_free_all(struct engine *e)
{
	for (size_t i = 0; i < e->nloopdefs; i++) {
		struct rb_step *d = e->loopdefs[i];
		free(d->id);
		free(d->number);
		free(d->path);
		free(d->children);
		free(d);
	}
	free(e->loopdefs);
	e->loopdefs = NULL;
	e->nloopdefs = 0;
}

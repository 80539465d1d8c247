/*
 * ask.c — the engine's side of an ask step (docs/runbook-format.md,
 * "Decisions"): the answer the options give, and an answer accepted: checked
 * against the ask's rule, its variable set like a capture, recorded with who
 * gave it. The scheduler (engine.c) decides what follows: waiting for the
 * operator, finishing the step, a choice's goto.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/mask.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"
#include "ask.h"
#include "emit.h"
#include "tree.h"

/* Adds the given answers of the secret asks below s to the mask and secrets. */
static void init_walk(struct engine *e, struct eng_step *s)
{
	const struct rb_ask *a = s->def ? s->def->ask : NULL;
	if (a && a->secret) {
		const char *v = rb_kv_get(&e->vars, a->decl.name);
		if (v && *v) {
			mask_add(e->mask, v);
			if (!rb_kv_get(&e->secrets, a->decl.name))
				rb_kv_set(&e->secrets, a->decl.name, v);
		}
	}
	for (size_t i = 0; i < s->nchildren; i++)
		init_walk(e, s->children[i]);
}

/* The given answers of secret asks join the mask before anything shows (ask.h). */
void ask_engine_init(struct engine *e)
{
	for (size_t i = 0; i < e->nnodes; i++)
		init_walk(e, e->nodes[i]);
}

/* The answer the options give an ask, and who gave it (ask.h). */
const char *ask_given(struct engine *e, const struct eng_step *s, const char **by)
{
	const struct rb_ask *a = s->def->ask;
	const char *v = rb_kv_get(&e->vars, a->decl.name);
	if (v) {
		*by = "given";
		return v;
	}
	if (e->o.assume == ENG_ASSUME_DONE && a->dflt) {
		*by = "--assume done";
		return a->dflt;
	}
	return NULL;
}

/* The question an ask shows: its prompt, else the step's title (ask.h). */
char *ask_question(struct engine *e, const struct eng_step *s)
{
	const struct rb_ask *a = s->def->ask;
	if (a->prompt)
		return vars_display(e, s, a->prompt);
	return xstrdup(s->title ? s->title : s->def->title);
}

/* The answer as expressions read it (vars.NAME): a number's a number,
   yes or no a boolean, anything else its text. */
static struct rbc_value *typed_value(const struct rb_ask *a, const char *value)
{
	if (a->decl.type == RB_VAR_NUMBER) {
		char *end = NULL;
		double v = strtod(value, &end);
		if (end && end != value && !*end)
			return value_num_new(v, RBC_DIM_NONE);
	} else if (a->decl.type == RB_VAR_YESNO) {
		return value_bool_new(strcmp(value, "yes") == 0 || strcmp(value, "true") == 0);
	}
	return value_strz_new(value);
}

/* An answer checked, and recorded when it keeps the rule (ask.h). */
bool ask_accept(struct engine *e, struct node *n, const char *value, const char *by, bool automatic,
                char **explain, struct node **target, char **why)
{
	const struct rb_step *d = n->s.def;
	const struct rb_ask *a = d->ask;
	*explain = NULL;
	*target = NULL;
	char *bad = rb_ask_check(a, value);
	if (bad) {
		*why = bad;
		return false;
	}
	*why = NULL;
	if (a->secret && *value) {
		/* Masked before anything shows it: the capture, the explanation. */
		mask_add(e->mask, value);
		rb_kv_set(&e->secrets, a->decl.name, value);
	}
	struct rbc_value *v = typed_value(a, value);
	char *q = ask_question(e, &n->s);
	char *shown = a->secret ? xstrdup(MASK_TEXT) : engine_mask(e, value);
	/* The typed value goes with it (the record keeps its type for a
	   resume), never a secret's. */
	struct eng_event ev = {.type = ENG_EV_CAPTURE, .step = &n->s, .name = a->decl.name,
	                       .value = shown, .text = q, .by = by, .automatic = automatic,
	                       .sample = a->secret ? NULL : v};
	vars_capture(e, a->decl.name, v);
	engine_emit(e, &ev);
	free(q);
	const struct rb_ask_choice *c = rb_ask_choice_of(a, value);
	const char *label = c && c->label ? c->label : NULL;
	/* "by given": the run's options answered (--var, --vars, --answers). */
	bool given = strcmp(by, "given") == 0;
	*explain = xasprintf("answered %s%s%s%s %s%s", a->secret ? "(secret)" : shown, label ? " (" : "",
	                     label ? label : "", label ? ")" : "", given ? "(given to the run)" : "by ",
	                     given ? "" : by);
	free(shown);
	if (c && c->go)
		*target = engine_goto_target(n, c->go);
	return true;
}

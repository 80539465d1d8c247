/*
 * crossref.c — the checks the loader makes once a runbook's whole tree is
 * known (loader.h): step ids unique (severity procedures included), goto
 * targets that exist and may be reached, texts compared with a variable
 * that are none of its choices, variables used and never defined; then the
 * effective timeout and retry of every probe step.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/json.h"
#include "ask.h"
#include "loop.h"
#include "loader.h"

/* Ids are unique across the runbook, severity procedures included. */
/* A step's id and its place in document order, sorted to find repeats. */
struct id_ref {
	const char *key;
	size_t idx;
};

/* Orders id_refs by id, then by place. */
static int cmp_id_ref(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Step ids unique across the runbook (loader.h). */
void crossref_ids(struct loader *L)
{
	/* Sort a copy by id; neighbours with equal ids are duplicates. */
	if (L->nall < 2)
		return;
	struct id_ref *v = xmalloc(L->nall * sizeof *v);
	for (size_t i = 0; i < L->nall; i++)
		v[i] = (struct id_ref){L->all[i]->id, i};
	qsort(v, L->nall, sizeof *v, cmp_id_ref);
	for (size_t i = 1, f = 0; i < L->nall; i++) {
		if (strcmp(v[i].key, v[f].key) != 0) {
			f = i;
			continue;
		}
		/* v[f] is the first of the run: equal keys sort by position. */
		const struct rb_step *first = L->all[v[f].idx], *s = L->all[v[i].idx];
		const char *hint = s->id_derived ? "; this id is the step's position: give it an \"id\""
		                   : first->id_derived ? ", where it is that step's position: give that step an \"id\""
		                                       : "";
		diags_add(L->r.d, false, L->r.file, s->line, s->col, s->path,
		          "duplicate step id \"%s\" (first at %u:%u%s)", s->id, first->line, first->col, hint);
	}
	free(v);
}

static int cmp_stepid(const void *a, const void *b)
{
	return strcmp((*(struct rb_step *const *)a)->id, (*(struct rb_step *const *)b)->id);
}

/* Every goto target exists and may be reached (loader.h). */
void crossref_gotos(struct loader *L)
{
	struct rb_step **sorted = xmalloc((L->nall ? L->nall : 1) * sizeof *sorted);
	if (L->nall)
		memcpy(sorted, L->all, L->nall * sizeof *sorted);
	if (L->nall > 1)
		qsort(sorted, L->nall, sizeof *sorted, cmp_stepid);
	size_t missing = 0;
	for (size_t i = 0; i < L->ngotos; i++) {
		struct goto_ref *g = &L->gotos[i];
		struct rb_step key = {.id = (char *)g->target}, *kp = &key;
		struct rb_step **hit = bsearch(&kp, sorted, L->nall, sizeof *sorted, cmp_stepid);
		/* Report at the path the goto: was read from. */
		keys_pop(&L->r, 0);
		sb_adds(&L->r.path, g->path);
		if (!hit) {
			/* Suggestions cost steps × targets: offer them for the first few. */
			const char *best = NULL;
			size_t bestd = 3;
			for (size_t k = 0; k < L->nall && missing < 20; k++) {
				size_t dd = str_distance(g->target, L->all[k]->id);
				if (dd < bestd) {
					bestd = dd;
					best = L->all[k]->id;
				}
			}
			missing++;
			if (best)
				keys_err(&L->r, g->node, "goto target \"%s\" does not exist (did you mean \"%s\"?)",
				    g->target, best);
			else
				keys_err(&L->r, g->node, "goto target \"%s\" does not exist", g->target);
		} else if (*hit == g->step) {
			keys_err(&L->r, g->node, "a step cannot goto itself");
		} else if (loop_goto_refused(g->step, *hit)) {
			keys_err(&L->r, g->node, "goto target \"%s\" is inside the loop \"%s\": its steps are reached "
			         "only through it (goto \"%s\")", g->target, loop_around(*hit)->id, loop_around(*hit)->id);
		}
		keys_pop(&L->r, 0);
	}
	free(sorted);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A name is defined by vars, secrets or a capture; names is sorted. */
static bool defined(char *const *names, size_t n, const char *name)
{
	return n && bsearch(&name, names, n, sizeof *names, cmp_str);
}

/*
 * A variable with choices compared with a text that is none of them
 * (`vars.STRATEGY == "bluegreen"`) would never be true, silently: refused,
 * with the nearest choice (docs/runbook-format.md, "Typed variables").
 */
static void check_choices(struct loader *L)
{
	struct rb_step **asks = NULL; /* the ask steps, looked up per literal */
	size_t nasks = 0, askcap = 0;
	for (size_t i = 0; i < L->nall && L->nliterals; i++)
		if (L->all[i]->action == RB_ASK) {
			xgrow(&asks, &askcap, nasks + 1, sizeof *asks);
			asks[nasks++] = L->all[i];
		}
	for (size_t i = 0; i < L->nliterals; i++) {
		struct var_literal *v = &L->literals[i];
		const struct rb_vardecl *decl = runbook_vardecl(L->rb, v->name);
		if (!decl)
			decl = ask_vardecl(asks, nasks, v->name);
		if (decl && decl->nchoices) {
			bool hit = false;
			for (size_t k = 0; k < decl->nchoices && !hit; k++)
				hit = strcmp(decl->choices[k], v->text) == 0;
			if (!hit) {
				struct strbuf list = {0};
				for (size_t k = 0; k < decl->nchoices; k++)
					sb_addf(&list, "%s\"%s\"", k ? ", " : "", decl->choices[k]);
				const char *near = rb_var_choice_suggest(decl, v->text);
				if (near)
					diags_add(L->r.d, false, L->r.file, v->line, v->col, v->path,
					          "\"%s\" is not one of the choices of %s (%s): did you mean \"%s\"?",
					          v->text, v->name, list.s, near);
				else
					diags_add(L->r.d, false, L->r.file, v->line, v->col, v->path,
					          "\"%s\" is not one of the choices of %s (%s)", v->text, v->name, list.s);
				sb_free(&list);
			}
		}
	}
	free(asks);
}

/* Variables used are defined; compared texts are choices (loader.h). */
void crossref_vars(struct loader *L)
{
	check_choices(L);
	/* One sorted list of every definition, so each use costs log n. */
	static const char *const run_vars[] = {
#define X(name) name,
		RB_RUN_VARS(X)
#undef X
	};
	size_t n = L->rb->vars.n + L->rb->nvardecls + L->rb->nsecrets + L->ndefined +
	           RBC_ARRAY_LEN(run_vars), k = 0;
	char **names = xmalloc(n * sizeof *names);
	for (size_t i = 0; i < RBC_ARRAY_LEN(run_vars); i++)
		names[k++] = (char *)run_vars[i];
	for (size_t i = 0; i < L->rb->vars.n; i++)
		names[k++] = L->rb->vars.keys[i];
	/* A declared variable without a default is defined: a run must give it. */
	for (size_t i = 0; i < L->rb->nvardecls; i++)
		names[k++] = L->rb->vardecls[i].name;
	for (size_t i = 0; i < L->rb->nsecrets; i++)
		names[k++] = L->rb->secrets[i];
	for (size_t i = 0; i < L->ndefined; i++)
		names[k++] = L->defined[i];
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < L->r.nuses; i++) {
		struct keys_var_use *u = &L->r.uses[i];
		if (!defined(names, n, u->name))
			diags_add(L->r.d, true, L->r.file, u->line, u->col, u->path,
			          "variable \"%s\" is not defined in vars, secrets or any capture (give it with --var %s=…)",
			          u->name, u->name);
	}
	free(names);
	const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(json_doc_root(L->r.doc), "secrets");
	size_t i = 0;
	for (const cJSON *c = secrets ? secrets->child : NULL; c; c = c->next, i++) {
		if (!cJSON_IsString(c) || !rb_kv_get(&L->rb->vars, c->valuestring))
			continue;
		keys_pop(&L->r, 0);
		sb_addf(&L->r.path, "secrets[%zu]", i);
		keys_err(&L->r, c, "\"%s\" is both a variable and a secret: secrets come only from the environment",
		    c->valuestring);
		keys_pop(&L->r, 0);
	}
}

/*
 * Gives every probe step its effective timeout and retry, so the engine
 * reads them from the step alone: the step's own, else the runbook's
 * defaults, else one attempt and a 1 s delay between attempts.
 */
void crossref_defaults(struct loader *L)
{
	struct runbook *rb = L->rb;
	if (rb->default_retry_attempts && !rb->default_retry_delay_ms)
		rb->default_retry_delay_ms = 1000;
	for (size_t i = 0; i < L->nall; i++) {
		struct rb_step *s = L->all[i];
		if (s->action == RB_GROUP || s->action == RB_MANUAL || s->action == RB_ASK)
			continue;
		if (!s->timeout_ms)
			s->timeout_ms = rb->default_timeout_ms;
		if (!s->retry_attempts) {
			s->retry_attempts = rb->default_retry_attempts ? rb->default_retry_attempts : 1;
			if (!s->retry_delay_ms)
				s->retry_delay_ms = rb->default_retry_delay_ms;
		}
		if (!s->retry_delay_ms)
			s->retry_delay_ms = 1000;
	}
}

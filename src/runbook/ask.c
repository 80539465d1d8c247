/*
 * ask.c — the ask action (docs/runbook-format.md, "Decisions"): reading an
 * ask object into its question and the rule its answer keeps, the rule said
 * in words for the prompt, and the answers a run is given by its options
 * checked before anything runs. The rule itself is a typed variable's
 * (vartype.c); keys.c reads it, this file reads what only an ask has: var,
 * prompt, secret, and choices written as objects with a label and a goto.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rbc/json.h"
#include "rbc/keys.h"
#include "rbc/mask.h"
#include "rbc/runbook.h"
#include "rbc/util.h"
#include "ask.h"

/* The keys an ask accepts; the handlers are ask_load's and keys.c's. */
static const struct keys_member ask_keys[] = {
	{"var", NULL}, {"prompt", NULL}, {"type", NULL}, {"pattern", NULL}, {"min", NULL},
	{"max", NULL}, {"default", NULL}, {"secret", NULL}, {"choices", NULL},
};

static const struct keys_member choice_keys[] = {{"value", NULL}, {"label", NULL}, {"goto", NULL}};

/* What reading one ask collects besides the ask. */
struct ask_read {
	struct rb_ask *ask;
	size_t cap;              /* choices allocated (the array's length) */
	struct ask_goto *gotos;
	size_t ngotos;
};

/* A choice written as an object: its label and goto kept at its index,
   its value given back for keys.c to check as any choice. */
static const cJSON *read_choice(struct keys_reader *r, const cJSON *obj, size_t i, void *ud)
{
	struct ask_read *ar = ud;
	keys_walk(r, obj, choice_keys, RBC_ARRAY_LEN(choice_keys), NULL);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "value");
	if (!v) {
		keys_require(r, obj, "value", "(the answer this choice gives)");
		return NULL;
	}
	if (i >= ar->cap)
		return v;
	struct rb_ask_choice *c = &ar->ask->choices[i];
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "label");
	if (m) {
		size_t old = keys_push_key(r, "label");
		c->label = keys_text(r, m);
		keys_pop(r, old);
	}
	m = cJSON_GetObjectItemCaseSensitive(obj, "goto");
	if (m) {
		size_t old = keys_push_key(r, "goto");
		if ((c->go = keys_text(r, m)) != NULL) {
			ar->gotos = xrealloc(ar->gotos, (ar->ngotos + 1) * sizeof *ar->gotos);
			ar->gotos[ar->ngotos++] = (struct ask_goto){m, xstrdup(r->path.s), i};
		}
		keys_pop(r, old);
	}
	return v;
}

/* An ask object read with everything it says checked (ask.h). */
struct rb_ask *ask_load(struct keys_reader *r, const cJSON *m, struct ask_goto **gotos, size_t *ngotos)
{
	*gotos = NULL;
	*ngotos = 0;
	if (!keys_want_object(r, m, "an object with \"var\" (the variable the answer sets)"))
		return NULL;
	struct rb_ask *a = xcalloc(1, sizeof *a);
	struct ask_read ar = {.ask = a};
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(m, "choices");
	if (cJSON_IsArray(ch)) {
		ar.cap = (size_t)cJSON_GetArraySize(ch);
		a->choices = xcalloc(ar.cap ? ar.cap : 1, sizeof *a->choices);
		a->choices_len = ar.cap;
	}
	const cJSON *var = cJSON_GetObjectItemCaseSensitive(m, "var");
	const char *name = "";
	if (var) {
		size_t old = keys_push_key(r, "var");
		if (keys_want_string(r, var)) {
			if (rb_var_name_ok(var->valuestring, strlen(var->valuestring)))
				name = var->valuestring;
			else
				keys_err(r, var, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)",
				         var->valuestring);
		}
		keys_pop(r, old);
	} else {
		keys_require(r, m, "var", "(the variable the answer sets)");
	}
	a->dflt = keys_vardecl_read(r, m, name, &a->decl, ask_keys, RBC_ARRAY_LEN(ask_keys), read_choice, &ar);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "prompt");
	if (p) {
		size_t old = keys_push_key(r, "prompt");
		a->prompt = keys_xtext(r, p);
		keys_pop(r, old);
	}
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(m, "secret");
	if (sec) {
		size_t old = keys_push_key(r, "secret");
		keys_bool(r, sec, &a->secret);
		keys_pop(r, old);
	}
	/* The choices' values: objects kept theirs at their index, strings
	   take theirs from the rule (same order when the file is sound). */
	for (size_t i = 0; i < a->decl.nchoices && i < ar.cap; i++)
		a->choices[i].value = xstrdup(a->decl.choices[i]);
	*gotos = ar.gotos;
	*ngotos = ar.ngotos;
	return a;
}

/* Frees an ask (runbook.h). */
void rb_ask_free(struct rb_ask *a)
{
	if (!a)
		return;
	/* Choices refused while reading leave a label or a goto past nchoices. */
	for (size_t i = 0; i < a->choices_len; i++) {
		free(a->choices[i].value);
		free(a->choices[i].label);
		free(a->choices[i].go);
	}
	free(a->choices);
	rb_vardecl_free(&a->decl);
	free(a->prompt);
	free(a->dflt);
	free(a);
}

/* The choice whose value is value (runbook.h). */
const struct rb_ask_choice *rb_ask_choice_of(const struct rb_ask *a, const char *value)
{
	for (size_t i = 0; a && value && i < a->decl.nchoices; i++)
		if (a->choices[i].value && strcmp(a->choices[i].value, value) == 0)
			return &a->choices[i];
	return NULL;
}

/* The rule of the first ask among steps asking for name (ask.h). */
const struct rb_vardecl *ask_vardecl(struct rb_step *const *steps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (steps[i]->action == RB_ASK && steps[i]->ask && strcmp(steps[i]->ask->decl.name, name) == 0)
			return &steps[i]->ask->decl;
	return NULL;
}

/* Calls fn on every ask step of steps and below; stops when it returns true. */
static bool walk_asks(struct rb_step *const *steps, size_t n,
                      bool (*fn)(const struct rb_step *s, void *ud), void *ud)
{
	for (size_t i = 0; i < n; i++) {
		const struct rb_step *s = steps[i];
		if (s->action == RB_ASK && s->ask && fn(s, ud))
			return true;
		if (walk_asks(s->children, s->nchildren, fn, ud))
			return true;
	}
	return false;
}

/* Every ask of one runbook, its severity procedures included. */
static bool walk_runbook(const struct runbook *rb, bool (*fn)(const struct rb_step *s, void *ud), void *ud)
{
	if (walk_asks(rb->steps, rb->nsteps, fn, ud))
		return true;
	for (size_t i = 0; i < rb->nseverities; i++)
		if (walk_asks(rb->severities[i].steps, rb->severities[i].nsteps, fn, ud))
			return true;
	return false;
}

/* walk_runbook's test: s asks for the secret named ud. */
static bool is_secret_ask(const struct rb_step *s, void *ud)
{
	return s->ask->secret && strcmp(s->ask->decl.name, (const char *)ud) == 0;
}

/* Whether an ask of rb or its includes asks for name as a secret (runbook.h). */
bool runbook_ask_secret(const struct runbook *rb, const char *name)
{
	if (!rb || !name)
		return false;
	if (walk_runbook(rb, is_secret_ask, (void *)name))
		return true;
	for (size_t i = 0; i < rb->nincludes; i++)
		if (walk_runbook(rb->includes[i], is_secret_ask, (void *)name))
			return true;
	return false;
}

/* why with every occurrence of value replaced by the mask (a new string). */
static char *hide_value(const char *why, const char *value)
{
	struct strbuf sb = {0};
	size_t n = strlen(value);
	for (const char *p = why; *p;) {
		const char *hit = n ? strstr(p, value) : NULL;
		if (!hit) {
			sb_adds(&sb, p);
			break;
		}
		sb_add(&sb, p, (size_t)(hit - p));
		sb_adds(&sb, MASK_TEXT);
		p = hit + n;
	}
	return sb_take(&sb);
}

/* An answer against the ask's rule, a secret's masked in the message (runbook.h). */
char *rb_ask_check(const struct rb_ask *a, const char *value)
{
	char *why = rb_var_check(&a->decl, value);
	if (why && a->secret) {
		char *m = hide_value(why, value);
		free(why);
		why = m;
	}
	return why;
}

/* The ask's rule in words (runbook.h). */
char *rb_ask_rule(const struct rb_ask *a)
{
	return rb_var_rule(&a->decl);
}

/* A declared variable's rule in words: its type, choices, pattern, bounds. */
char *rb_var_rule(const struct rb_vardecl *d)
{
	struct strbuf sb = {0};
	static const char *const what[] = {"text", "a number", "a duration such as 30s or 5m",
	                                   "yes or no", "a list (comma-separated)"};
	sb_adds(&sb, d->type < RB_VAR_TYPE_COUNT ? what[d->type] : "text");
	if (d->nchoices) {
		sb_adds(&sb, ", one of ");
		for (size_t i = 0; i < d->nchoices; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", d->choices[i]);
	}
	if (d->pattern)
		sb_addf(&sb, ", matching %s", d->pattern);
	if (d->min)
		sb_addf(&sb, ", at least %s", d->min);
	if (d->max)
		sb_addf(&sb, ", at most %s", d->max);
	return sb_take(&sb);
}

/* A given answer of one runbook's asks checked: what check_given collects. */
struct given_ctx {
	const struct runbook *rb;
	const struct rb_kv *given;
	struct rbc_diags *d;
	bool ok;
};

/* walk_runbook's check of one ask's answer given by the options. */
static bool check_given(const struct rb_step *s, void *ud)
{
	struct given_ctx *c = ud;
	const struct rb_ask *a = s->ask;
	const char *val = rb_kv_get(c->given, a->decl.name);
	if (!val)
		return false;
	char *why = rb_ask_check(a, val);
	if (why) {
		diags_add(c->d, false, c->rb->file, a->decl.line, a->decl.col, a->decl.path,
		          "%s (the answer to step %s, given): %s", a->decl.name, s->id, why);
		c->ok = false;
		free(why);
	}
	return false;
}

/* The answers given to rb's asks against their rules (ask.h). */
bool ask_check_given(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d)
{
	struct given_ctx c = {rb, given, d, true};
	if (given)
		walk_runbook(rb, check_given, &c);
	return c.ok;
}

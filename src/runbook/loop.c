/*
 * loop.c — a group's foreach, parallel and max_failures as the loader reads
 * them (docs/runbook-format.md, "Loops"), and the one way a list given as
 * text is cut into items, shared by the loader and the engine.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "call.h"
#include "loop.h"

/* Frees a foreach and its items. */
void rb_foreach_free(struct rb_foreach *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nitems; i++)
		free(f->items[i]);
	free(f->items);
	free(f->var);
	free(f->in);
	free(f);
}

/* Appends s[0..n) trimmed to the list, unless it is empty. */
static void item_add(char ***items, size_t *n, size_t *cap, const char *s, size_t len)
{
	while (len && strchr(" \t\r\n\f\v", *s)) {
		s++;
		len--;
	}
	while (len && strchr(" \t\r\n\f\v", s[len - 1]))
		len--;
	if (!len)
		return;
	xgrow(items, cap, *n + 1, sizeof **items);
	(*items)[(*n)++] = xstrndup(s, len);
}

/* A list given as text cut into its items (runbook.h). */
long rb_list_split(const char *text, char ***items, char **why)
{
	size_t n = 0, cap = 0;
	*items = NULL;
	const char *p = text + strspn(text, " \t\r\n\f\v");
	if (*p == '[') {
		cJSON *a = cJSON_Parse(p);
		if (cJSON_IsArray(a)) {
			size_t k = 0;
			for (const cJSON *c = a->child; c; c = c->next, k++) {
				char *t = cJSON_IsString(c) ? xstrdup(c->valuestring)
				        : cJSON_IsNumber(c) ? cJSON_PrintUnformatted(c) : NULL;
				if (!t) {
					*why = xasprintf("item %zu of the list is not a text or a number", k + 1);
					cJSON_Delete(a);
					for (size_t i = 0; i < n; i++)
						free((*items)[i]);
					free(*items);
					*items = NULL;
					return -1;
				}
				item_add(items, &n, &cap, t, strlen(t));
				free(t);
			}
			cJSON_Delete(a);
			return (long)n;
		}
		cJSON_Delete(a); /* not JSON after all: text like any other */
	}
	const char *seps = strchr(text, ',') ? "," : " \t\r\n\f\v";
	for (const char *s = text;;) {
		size_t len = strcspn(s, seps);
		item_add(items, &n, &cap, s, len);
		if (!s[len])
			break;
		s += len + 1;
	}
	return (long)n;
}

/* Reads foreach's "var". */
static void fe_var(struct keys_reader *r, const cJSON *m, void *t)
{
	struct rb_foreach *f = t;
	if (!keys_want_string(r, m))
		return;
	if (!rb_var_name_ok(m->valuestring, strlen(m->valuestring))) {
		keys_err(r, m, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)",
		         m->valuestring);
		return;
	}
	f->var = xstrdup(m->valuestring);
}

/* Reads foreach's "in": a list written out, or the text that gives one. */
static void fe_in(struct keys_reader *r, const cJSON *m, void *t)
{
	struct rb_foreach *f = t;
	json_doc_pos(r->doc, m, false, &f->line, &f->col);
	if (cJSON_IsString(m)) {
		f->in = keys_xtext(r, m);
		return;
	}
	if (!cJSON_IsArray(m)) {
		keys_err(r, m, "expected a list of items or a text holding one (\"${NODES}\"), got %s",
		         json_type_name(m));
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(m);
	if (n > RB_MAX_ITERATIONS) {
		keys_err(r, m, "a loop of %zu items: at most %d iterations", n, RB_MAX_ITERATIONS);
		return;
	}
	f->items = xcalloc(n ? n : 1, sizeof *f->items);
	size_t i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(r, i);
		char *text = cJSON_IsString(c) ? xstrdup(c->valuestring)
		           : cJSON_IsNumber(c) ? keys_number_text(c->valuedouble) : NULL;
		if (text && *text) {
			f->items[f->nitems++] = text;
		} else {
			keys_err(r, c, "expected an item: a non-empty text or a number, got %s",
			         text ? "an empty text" : json_type_name(c));
			free(text);
		}
		keys_pop(r, old);
	}
}

static const struct keys_member foreach_keys[] = {{"var", fe_var}, {"in", fe_in}};

/* "foreach": its var and in, checked, into s->foreach. */
void loop_read_foreach(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (!keys_want_object(r, m, "an object with \"var\" and \"in\""))
		return;
	struct rb_foreach *f = xcalloc(1, sizeof *f);
	keys_walk(r, m, foreach_keys, RBC_ARRAY_LEN(foreach_keys), f);
	keys_require(r, m, "var", "(the name each item is given)");
	keys_require(r, m, "in", "(the list of items, or a text holding one)");
	if (!f->var || (!f->in && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "in")))) {
		rb_foreach_free(f);
		return;
	}
	rb_foreach_free(s->foreach);
	s->foreach = f;
}

/* "parallel": true, false or a count from 1 to RB_MAX_ITERATIONS. */
void loop_read_parallel(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (cJSON_IsBool(m)) {
		s->parallel = cJSON_IsTrue(m);
		s->parallel_max = 0;
		return;
	}
	long n;
	if (!cJSON_IsNumber(m)) {
		keys_err(r, m, "expected true, false or how many at once (1 to %d), got %s",
		         RB_MAX_ITERATIONS, json_type_name(m));
		return;
	}
	if (!keys_int(r, m, 1, RB_MAX_ITERATIONS, &n))
		return;
	s->parallel = n > 1;
	s->parallel_max = n > 1 ? n : 0;
}

/* "max_failures": 0 to RB_MAX_ITERATIONS. */
void loop_read_max_failures(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	keys_int(r, m, 0, RB_MAX_ITERATIONS, &s->max_failures);
}

/* Reports key of n, when given, as not for this step. */
static void not_here(struct keys_reader *r, const cJSON *n, const char *key, const char *why)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(n, key);
	if (!k)
		return;
	size_t old = keys_push_key(r, key);
	keys_err_key(r, k, "\"%s\" %s", key, why);
	keys_pop(r, old);
}

/* foreach only on a group, max_failures only on a loop. */
void loop_check_keys(struct keys_reader *r, const cJSON *n, const struct rb_step *s)
{
	if (s->action != RB_GROUP)
		not_here(r, n, "foreach", "applies only to a group (a step with \"steps\")");
	if (!cJSON_GetObjectItemCaseSensitive(n, "foreach") || s->action != RB_GROUP)
		not_here(r, n, "max_failures", "applies only to a loop (a group with \"foreach\")");
}

/* The nearest loop above s, or NULL. */
const struct rb_step *loop_around(const struct rb_step *s)
{
	for (const struct rb_step *p = s ? s->parent : NULL; p; p = p->parent)
		if (p->foreach)
			return p;
	return NULL;
}

/* True for a goto into a loop's steps from outside the loop. */
bool loop_goto_refused(const struct rb_step *from, const struct rb_step *target)
{
	const struct rb_step *lp = loop_around(target);
	if (!lp)
		return false;
	for (const struct rb_step *p = from; p; p = p->parent)
		if (p == lp)
			return false;
	return true;
}

/* One of the keys loops and calls add to a step, and the names it sets. */
char *const *loop_read_key(struct keys_reader *r, const cJSON *m, struct rb_step *s, size_t *n)
{
	*n = 0;
	if (strcmp(m->string, "with") == 0 || strcmp(m->string, "export") == 0) {
		bool with = m->string[0] == 'w';
		(with ? call_read_with : call_read_export)(r, m, s);
		return call_defines(s, with, n);
	}
	if (strcmp(m->string, "max_failures") == 0) {
		loop_read_max_failures(r, m, s);
		return NULL;
	}
	loop_read_foreach(r, m, s);
	*n = s->foreach ? 1 : 0;
	return s->foreach ? &s->foreach->var : NULL;
}

/*
 * vars.c — variables of a run: where a name's value comes from, ${NAME}
 * expansion, and the environment of commands.
 *
 * A name resolves, first match wins, to: a capture made earlier in the run,
 * a --var / --vars value, a secret (read from the environment when the run
 * started), the runbook's own vars (whose values may use ${…} in turn).
 * Values are text; vars.NAME in an expression is that text (num() reads a
 * number out of it). Commands never get values spliced into their text: they
 * get every variable as an environment variable.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define VARS_MAX_DEPTH 8
/* Longest expansion: vars built from vars cannot blow up past this. */
#define VARS_MAX_LEN (256 * 1024)

static struct capture *cap_find(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->ncaps; i++)
		if (strcmp(e->caps[i].name, name) == 0)
			return &e->caps[i];
	return NULL;
}

bool vars_is_secret(const struct engine *e, const struct eng_step *s, const char *name)
{
	const struct runbook *rb = s ? s->rb : NULL;
	for (size_t i = 0; rb && i < rb->nsecrets; i++)
		if (strcmp(rb->secrets[i], name) == 0)
			return true;
	return rb_kv_get(&e->secrets, name) != NULL;
}

/* The raw text of a variable (runbook vars unexpanded), and where it came from. */
static const char *vars_raw(struct engine *e, const struct eng_step *s, const char *name,
                            bool *from_runbook)
{
	*from_runbook = false;
	struct capture *c = cap_find(e, name);
	if (c)
		return c->text;
	const char *v = rb_kv_get(&e->vars, name);
	if (v)
		return v;
	v = rb_kv_get(&e->secrets, name);
	if (v)
		return v;
	if (s && s->rb) {
		v = rb_kv_get(&s->rb->vars, name);
		if (v) {
			*from_runbook = true;
			return v;
		}
	}
	return NULL;
}

static bool expand_depth(struct engine *e, const struct eng_step *s, const char *text,
                         bool json, bool keep_unknown, const struct mask *mask,
                         struct strbuf *out, char **error, int depth);

char *vars_get(struct engine *e, const struct eng_step *s, const char *name)
{
	bool from_rb;
	const char *v = vars_raw(e, s, name, &from_rb);
	if (!v)
		return NULL;
	char *out = NULL, *err = NULL;
	if (from_rb && strstr(v, "${") && vars_expand(e, s, v, false, &out, &err))
		return out;
	free(err);
	return xstrdup(v);
}

/* vars_get masked for showing: a captured window at its cut ends too. */
char *vars_shown(struct engine *e, const struct eng_step *s, const char *name)
{
	struct capture *c = cap_find(e, name);
	if (c) {
		struct rbc_value *m = value_masked(c->value, e->mask);
		char *t = value_to_text(m);
		value_free(m);
		return t;
	}
	char *v = vars_get(e, s, name);
	char *m = mask_text(e->mask, v);
	free(v);
	return m;
}

/*
 * Expands ${NAME} and ${env:NAME} in text. json: the text is JSON and the
 * values go inside its strings, escaped. keep_unknown: an unset name stays
 * as written (titles before their capture); else it is an error. mask (may
 * be NULL): each value put in is masked first; the text around it is the
 * runbook's own and stays.
 */
static bool expand_depth(struct engine *e, const struct eng_step *s, const char *text,
                         bool json, bool keep_unknown, const struct mask *mask,
                         struct strbuf *out, char **error, int depth)
{
	const char *p = text;
	for (;;) {
		const char *d = strstr(p, "${");
		if (!d) {
			sb_adds(out, p);
			return true;
		}
		const char *end = strchr(d + 2, '}');
		if (!end) {
			sb_adds(out, p);
			return true;
		}
		sb_add(out, p, (size_t)(d - p));
		char *name = xstrndup(d + 2, (size_t)(end - d - 2));
		const char *val = NULL;
		bool from_rb = false;
		if (strncmp(name, "env:", 4) == 0)
			val = getenv(name + 4);
		else
			val = vars_raw(e, s, name, &from_rb);
		if (!val) {
			if (keep_unknown) {
				sb_add(out, d, (size_t)(end + 1 - d));
			} else {
				if (strncmp(name, "env:", 4) == 0)
					*error = xasprintf("environment variable %s is not set", name + 4);
				else if (vars_is_secret(e, s, name))
					*error = xasprintf("secret %s is not set (export it in the environment)", name);
				else
					*error = xasprintf("variable %s is not set (give it with --var %s=…)", name, name);
				free(name);
				return false;
			}
		} else if (from_rb && strstr(val, "${")) {
			if (depth >= VARS_MAX_DEPTH) {
				*error = xasprintf("variable %s refers to itself through ${…}", name);
				free(name);
				return false;
			}
			struct strbuf inner = {0};
			if (!expand_depth(e, s, val, false, keep_unknown, mask, &inner, error, depth + 1)) {
				sb_free(&inner);
				free(name);
				return false;
			}
			if (json) {
				cJSON *str = cJSON_CreateString(sb_borrow(&inner));
				char *q = cJSON_PrintUnformatted(str);
				size_t ql = strlen(q);
				sb_add(out, q + 1, ql - 2);
				cJSON_free(q);
				cJSON_Delete(str);
			} else {
				sb_add(out, inner.s ? inner.s : "", inner.len);
			}
			sb_free(&inner);
		} else if (json) {
			cJSON *str = cJSON_CreateString(val);
			char *q = cJSON_PrintUnformatted(str);
			size_t ql = strlen(q);
			sb_add(out, q + 1, ql - 2); /* without the quotes */
			cJSON_free(q);
			cJSON_Delete(str);
		} else if (mask) {
			/* A capture of a window (the last bytes of an output) is
			   masked at its cut ends too. */
			struct capture *c = cap_find(e, name);
			unsigned cut = c && c->value->type == VALUE_STR ? c->value->u.str.cut : 0;
			size_t ml;
			char *m = mask_text_cut(mask, val, strlen(val), cut, &ml, NULL);
			sb_add(out, m, ml);
			free(m);
		} else {
			sb_adds(out, val);
		}
		free(name);
		p = end + 1;
		if (out->len > VARS_MAX_LEN) {
			*error = xasprintf("the text expands to more than %d bytes (variables built from variables)",
			                   VARS_MAX_LEN);
			return false;
		}
	}
}

bool vars_expand(struct engine *e, const struct eng_step *s, const char *text, bool json,
                 char **out, char **error)
{
	*out = NULL;
	*error = NULL;
	if (!text)
		return true;
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	if (!expand_depth(e, s, text, json, false, NULL, &sb, error, 0)) {
		sb_free(&sb);
		return false;
	}
	*out = sb_take(&sb);
	return true;
}

char *vars_display(struct engine *e, const struct eng_step *s, const char *text)
{
	if (!text)
		return NULL;
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	char *err = NULL;
	if (!expand_depth(e, s, text, false, true, e->mask, &sb, &err, 0)) {
		free(err);
		sb_free(&sb);
		return xstrdup(text);
	}
	return sb_take(&sb);
}

/* Every variable the step can see, by precedence, as environment entries. */
void vars_env(struct engine *e, const struct eng_step *s, struct rb_kv *env)
{
	if (s && s->rb)
		for (size_t i = 0; i < s->rb->vars.n; i++) {
			char *v = NULL, *err = NULL;
			if (vars_expand(e, s, s->rb->vars.vals[i], false, &v, &err))
				rb_kv_set(env, s->rb->vars.keys[i], v);
			free(v);
			free(err);
		}
	for (size_t i = 0; i < e->secrets.n; i++)
		rb_kv_set(env, e->secrets.keys[i], e->secrets.vals[i]);
	for (size_t i = 0; i < e->vars.n; i++)
		rb_kv_set(env, e->vars.keys[i], e->vars.vals[i]);
	for (size_t i = 0; i < e->ncaps; i++)
		rb_kv_set(env, e->caps[i].name, e->caps[i].text);
}

/* The step's own env (run/nagios "env"), values expanded, on top. */
bool vars_env_add_step(struct engine *e, const struct eng_step *s, struct rb_kv *env,
                       char **error)
{
	const struct rb_kv *own = &s->def->cmd.env;
	for (size_t i = 0; i < own->n; i++) {
		char *v = NULL;
		if (!vars_expand(e, s, own->vals[i], false, &v, error))
			return false;
		rb_kv_set(env, own->keys[i], v);
		free(v);
	}
	return true;
}

/* A capture: replaces an earlier value of the name; a secret's value is masked from now on. */
void vars_capture(struct engine *e, const char *name, struct rbc_value *take)
{
	struct capture *c = cap_find(e, name);
	if (!c) {
		xgrow(&e->caps, &e->capcaps, e->ncaps + 1, sizeof *e->caps);
		c = &e->caps[e->ncaps++];
		c->name = xstrdup(name);
	} else {
		value_free(c->value);
		free(c->text);
	}
	c->value = take;
	c->text = value_to_text(take);
}

/* vars.NAME for expressions: the text, lent until vars_scratch_release. */
static const struct rbc_value *var_lookup(const char *name, void *ud)
{
	struct engine *e = ud;
	struct capture *cap = cap_find(e, name);
	if (cap)
		return cap->value;
	bool from_rb;
	const char *raw = vars_raw(e, e->expr_step, name, &from_rb);
	if (!raw)
		return NULL;
	char *text = NULL, *err = NULL;
	if (from_rb && strstr(raw, "${")) {
		if (!vars_expand(e, e->expr_step, raw, false, &text, &err)) {
			free(err);
			text = xstrdup(raw);
		}
	} else {
		text = xstrdup(raw);
	}
	struct rbc_value *v = value_str_take(text, strlen(text));
	xgrow(&e->scratch, &e->capscratch, e->nscratch + 1, sizeof *e->scratch);
	e->scratch[e->nscratch++] = v;
	return v;
}

/* Sets env's var lookup for step s (samples left to the caller). */
void vars_env_for_expr(struct engine *e, const struct eng_step *s, struct expr_env *env)
{
	e->expr_step = s;
	env->var = var_lookup;
	env->ud = e;
	env->mask = e->mask;
}

void vars_scratch_release(struct engine *e)
{
	for (size_t i = 0; i < e->nscratch; i++)
		value_free(e->scratch[i]);
	e->nscratch = 0;
}

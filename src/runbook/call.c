/*
 * call.c — call steps as the loader reads them (docs/runbook-format.md,
 * "Calls"): the callee (a runbook file, loaded by the loader like a run:
 * include, or "#id", an on-demand group of the same runbook), the
 * variables "with" gives it, checked against its declarations, and the
 * captures "export" keeps after it, which it must make. Calls that come
 * back to a group they are in are refused, naming the chain; files that
 * call each other are refused by the loader's cycle check.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "call.h"

/* Frees a call and what it holds. */
void rb_call_free(struct rb_call *c)
{
	if (!c)
		return;
	free(c->target);
	rb_kv_free(&c->with);
	for (size_t i = 0; i < c->nexports; i++)
		free(c->exports[i]);
	free(c->exports);
	free(c);
}

/* The steps a call runs: its file's, or its group's. */
struct rb_step *const *rb_call_steps(const struct rb_call *c, size_t *n)
{
	if (c && c->runbook) {
		*n = c->runbook->nsteps;
		return c->runbook->steps;
	}
	if (c && c->group) {
		*n = c->group->nchildren;
		return c->group->children;
	}
	*n = 0;
	return NULL;
}

/* s's call, made when a key of it is first read. */
static struct rb_call *call_of(struct rb_step *s)
{
	if (!s->call)
		s->call = xcalloc(1, sizeof *s->call);
	return s->call;
}

/* "call": "#id" kept for later, a file's path returned once it exists. */
char *call_read_target(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (!keys_want_string(r, m))
		return NULL;
	const char *v = m->valuestring;
	struct rb_call *c = call_of(s);
	if (v[0] == '#') {
		if (!v[1]) {
			keys_err(r, m, "expected a runbook file or \"#group-id\" (an on-demand group of this runbook), got \"#\"");
			return NULL;
		}
		c->target = xstrdup(v);
		return NULL;
	}
	if (!*v) {
		keys_err(r, m, "expected a runbook file or \"#group-id\" (an on-demand group of this runbook), got an empty text");
		return NULL;
	}
	c->target = xstrdup(v);
	const char *dir = s->runbook && s->runbook->dir ? s->runbook->dir : ".";
	char *full = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", dir, v);
	struct stat st;
	if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
		keys_err(r, m, "call: runbook \"%s\" does not exist (looked for %s)", v, full);
		free(full);
		return NULL;
	}
	return full;
}

/* "with": variable names to text, ${NAME} checked. */
void call_read_with(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct rb_call *c = call_of(s);
	rb_kv_free(&c->with);
	keys_kv(r, m, &c->with, true, true, true);
}

/* "export": a list of variable names. */
void call_read_export(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct rb_call *c = call_of(s);
	if (!keys_want_array(r, m, true))
		return;
	c->exports = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *c->exports);
	size_t i = 0;
	for (const cJSON *e = m->child; e; e = e->next, i++) {
		size_t old = keys_push_index(r, i);
		bool text = keys_want_string(r, e);
		if (text && rb_var_name_ok(e->valuestring, strlen(e->valuestring)))
			c->exports[c->nexports++] = xstrdup(e->valuestring);
		else if (text)
			keys_err(r, e, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)",
			         e->valuestring);
		keys_pop(r, old);
	}
}

/* The names with or export sets, for the loader's definitions. */
char *const *call_defines(const struct rb_step *s, bool with, size_t *n)
{
	*n = !s->call ? 0 : with ? s->call->with.n : s->call->nexports;
	return !s->call ? NULL : with ? s->call->with.keys : s->call->exports;
}

/* A list of names, for what a callee captures. */
struct names {
	const char **v;
	size_t n, cap;
};

/* Adds name to ns once. */
static void names_add(struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return;
	xgrow(&ns->v, &ns->cap, ns->n + 1, sizeof *ns->v);
	ns->v[ns->n++] = name;
}

/* What the steps (and theirs) capture, calls' exports included. */
static void captured(struct rb_step *const *steps, size_t n, struct names *ns, unsigned depth)
{
	for (size_t i = 0; i < n && depth < RB_MAX_DEPTH; i++) {
		const struct rb_step *s = steps[i];
		for (size_t k = 0; k < s->ncaptures; k++)
			names_add(ns, s->captures[k].name);
		if (s->call)
			for (size_t k = 0; k < s->call->nexports; k++)
				names_add(ns, s->call->exports[k]);
		captured(s->children, s->nchildren, ns, depth + 1);
	}
}

/* The name of ns nearest to name, for "did you mean", or NULL. */
static const char *nearest(const struct names *ns, const char *name)
{
	const char *best = NULL;
	size_t bestd = strlen(name) / 2 + 1;
	for (size_t i = 0; i < ns->n; i++) {
		size_t d = str_distance(name, ns->v[i]);
		if (d < bestd) {
			bestd = d;
			best = ns->v[i];
		}
	}
	return best;
}

/* Reports at member key of step object n (its name when name is NULL:
   the member itself), with what fmt says. */
static void report_at(struct keys_reader *r, const cJSON *n, const char *key, const char *name,
                      bool at_key, const char *msg)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(n, key);
	if (!m)
		return;
	size_t old = keys_push_key(r, key);
	const cJSON *at = m;
	if (name && cJSON_IsObject(m)) {
		at = cJSON_GetObjectItemCaseSensitive(m, name);
		keys_push_key(r, name);
	} else if (name && cJSON_IsArray(m)) {
		size_t i = 0;
		for (const cJSON *e = m->child; e; e = e->next, i++)
			if (cJSON_IsString(e) && strcmp(e->valuestring, name) == 0) {
				at = e;
				keys_push_index(r, i);
				break;
			}
	}
	if (at_key)
		keys_err_key(r, at ? at : m, "%s", msg);
	else
		keys_err(r, at ? at : m, "%s", msg);
	keys_pop(r, old);
}

/* Checks s's with and export against its callee: steps the callee runs,
   vars the runbook it belongs to declares (NULL: a group of the same
   runbook, whose variables are the caller's own). */
static void check_callee(struct keys_reader *r, const cJSON *n, const struct rb_step *s,
                         const struct runbook *vars)
{
	const struct rb_call *c = s->call;
	size_t nsteps;
	struct rb_step *const *steps = rb_call_steps(c, &nsteps);
	struct names known = {0};
	if (vars) {
		for (size_t i = 0; i < vars->vars.n; i++)
			names_add(&known, vars->vars.keys[i]);
		for (size_t i = 0; i < vars->nvardecls; i++)
			names_add(&known, vars->vardecls[i].name);
	}
	for (size_t i = 0; i < c->with.n; i++) {
		const char *name = c->with.keys[i], *val = c->with.vals[i];
		if (vars && !runbook_vardecl(vars, name) && !rb_kv_get(&vars->vars, name)) {
			const char *near = nearest(&known, name);
			char *msg = near ? xasprintf("\"%s\" is not a variable of %s (did you mean \"%s\"?)", name, c->target, near)
			                 : xasprintf("\"%s\" is not a variable of %s", name, c->target);
			report_at(r, n, "with", name, true, msg);
			free(msg);
			continue;
		}
		const struct rb_vardecl *decl = runbook_vardecl(vars ? vars : s->runbook, name);
		if (decl && !strstr(val, "${")) {
			char *why = rb_var_check(decl, val);
			if (why) {
				char *msg = xasprintf("%s of %s: %s", name, c->target, why);
				report_at(r, n, "with", name, false, msg);
				free(msg);
				free(why);
			}
		}
	}
	for (size_t i = 0; vars && i < vars->nvardecls; i++) {
		const struct rb_vardecl *decl = &vars->vardecls[i];
		if (decl->required && !rb_kv_get(&vars->vars, decl->name) && !rb_kv_get(&c->with, decl->name)) {
			char *msg = xasprintf("%s needs the variable %s (required, no default): give it in \"with\"",
			                      c->target, decl->name);
			keys_err(r, n, "%s", msg);
			free(msg);
		}
	}
	free(known.v);
	struct names caps = {0};
	captured(steps, nsteps, &caps, 0);
	for (size_t i = 0; i < c->nexports; i++) {
		const char *name = c->exports[i];
		bool have = false;
		for (size_t k = 0; k < caps.n && !have; k++)
			have = strcmp(caps.v[k], name) == 0;
		if (have)
			continue;
		const char *near = nearest(&caps, name);
		char *msg = near ? xasprintf("%s never captures \"%s\" (did you mean \"%s\"?)", c->target, name, near)
		                 : xasprintf("%s never captures \"%s\"", c->target, name);
		report_at(r, n, "export", name, false, msg);
		free(msg);
	}
	free(caps.v);
}

/* The end of a step's object: call keys where they belong, a file callee checked. */
void call_check_step(struct keys_reader *r, const cJSON *n, struct rb_step *s)
{
	if (s->action != RB_CALL) {
		static const char *const keys[] = {"with", "export"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(keys); i++)
			if (cJSON_GetObjectItemCaseSensitive(n, keys[i])) {
				char *msg = xasprintf("\"%s\" applies only to a step with \"call\"", keys[i]);
				report_at(r, n, keys[i], NULL, true, msg);
				free(msg);
			}
		return;
	}
	if (!s->call)
		return;
	s->call->node = n;
	if (s->call->runbook)
		check_callee(r, n, s, s->call->runbook);
}

/* The group a "#id" names among all (n of them), or NULL. */
static struct rb_step *group_named(struct rb_step *const *all, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (all[i]->id && strcmp(all[i]->id, id) == 0)
			return all[i];
	return NULL;
}

/* True when s is g or inside it. */
static bool within(const struct rb_step *s, const struct rb_step *g)
{
	for (; s; s = s->parent)
		if (s == g)
			return true;
	return false;
}

/* Follows the calls of groups from chain[depth - 1]: true (and the chain
   written in sb) when one comes back to a group of the chain, in the
   group or in a step inside one it calls. */
static bool cycle_from(struct rb_step *const *all, size_t n, const struct rb_step **chain, size_t depth,
                       struct strbuf *sb)
{
	const struct rb_step *g = chain[depth - 1];
	for (size_t i = 0; i < n; i++) {
		const struct rb_step *c = all[i];
		if (!c->call || !c->call->group || !within(c, g))
			continue;
		const struct rb_step *t = c->call->group;
		for (size_t k = 0; k < depth; k++)
			if (chain[k] == t) {
				for (size_t j = k; j < depth; j++)
					sb_addf(sb, "#%s → ", chain[j]->id);
				sb_addf(sb, "#%s", t->id);
				return true;
			}
		if (depth >= RB_MAX_DEPTH)
			return false;
		chain[depth] = t;
		if (cycle_from(all, n, chain, depth + 1, sb))
			return true;
	}
	return false;
}

/* "#id" calls resolved and checked once the runbook is read; cycles refused. */
void call_check_groups(struct keys_reader *r, struct runbook *rb, struct rb_step *const *all, size_t n)
{
	struct names groups = {0};
	for (size_t i = 0; i < n; i++)
		if (all[i]->action == RB_GROUP && all[i]->on_demand)
			names_add(&groups, all[i]->id);
	for (size_t i = 0; i < n; i++) {
		struct rb_step *s = all[i];
		if (s->action != RB_CALL || !s->call || !s->call->target || s->call->target[0] != '#')
			continue;
		const char *id = s->call->target + 1;
		struct rb_step *g = group_named(all, n, id);
		keys_pop(r, 0);
		sb_adds(&r->path, s->path);
		const cJSON *node = s->call->node, *m = node ? cJSON_GetObjectItemCaseSensitive(node, "call") : NULL;
		size_t old = keys_push_key(r, "call");
		if (!g || g->action != RB_GROUP || !g->on_demand) {
			const char *near = nearest(&groups, id);
			if (!g && near)
				keys_err(r, m ? m : node, "call \"#%s\": no step has the id \"%s\" (did you mean \"#%s\"?)", id, id, near);
			else if (!g)
				keys_err(r, m ? m : node, "call \"#%s\": no step has the id \"%s\"", id, id);
			else
				keys_err(r, m ? m : node, "call \"#%s\": \"%s\" is not an on-demand group (a call runs a group "
				         "with \"on_demand\": true)", id, id);
		} else {
			s->call->group = g;
		}
		keys_pop(r, old);
		if (s->call->group && node)
			check_callee(r, node, s, NULL);
		keys_pop(r, 0);
	}
	free(groups.v);
	(void)rb;
	/* Calls that come back to the group they call: said at each call of
	   the cycle, naming it from there. */
	const struct rb_step **chain = xcalloc(RB_MAX_DEPTH + 1, sizeof *chain);
	for (size_t i = 0; i < n; i++) {
		const struct rb_step *s = all[i];
		if (!s->call || !s->call->group || !s->call->node)
			continue;
		const struct rb_step *t = s->call->group;
		struct strbuf sb = {0};
		chain[0] = t;
		size_t idlen = strlen(t->id);
		if (cycle_from(all, n, chain, 1, &sb) && strncmp(sb.s + 1, t->id, idlen) == 0 && sb.s[1 + idlen] == ' ') {
			keys_pop(r, 0);
			sb_adds(&r->path, s->path);
			size_t old = keys_push_key(r, "call");
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(s->call->node, "call");
			keys_err(r, m ? m : s->call->node, "calls come back in a cycle: %s", sb.s);
			keys_pop(r, old);
			keys_pop(r, 0);
		}
		sb_free(&sb);
	}
	free(chain);
	for (size_t i = 0; i < n; i++)
		if (all[i]->call)
			all[i]->call->node = NULL;
}

/*
 * values.c — the values a run gives a loaded runbook: every variable's value
 * checked against its declaration before anything runs, and durations
 * written with ${NAME} resolved (docs/runbook-format.md, "Typed variables").
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/error.h"
#include "rbc/runbook.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "ask.h"
#include "values.h"

/* ${NAME} in text from given, then vars (which may use ${OTHER}: depth). */
static bool expand_text(const char *text, const struct rb_kv *given, const struct rb_kv *vars,
                        int depth, struct strbuf *out, char **why)
{
	for (const char *p = text; *p;) {
		const char *d = strstr(p, "${");
		if (!d) {
			sb_adds(out, p);
			break;
		}
		sb_add(out, p, (size_t)(d - p));
		const char *end = strchr(d + 2, '}');
		if (!end) {
			*why = xstrdup("unclosed \"${\"");
			return false;
		}
		char *name = xstrndup(d + 2, (size_t)(end - d - 2));
		const char *val = given ? rb_kv_get(given, name) : NULL;
		bool from_vars = !val;
		if (!val)
			val = rb_kv_get(vars, name);
		if (!val) {
			*why = xasprintf("variable \"%s\" is not given (vars or --var; captures cannot set a duration)", name);
			free(name);
			return false;
		}
		free(name);
		if (from_vars && strstr(val, "${")) {
			if (depth >= 8) {
				*why = xstrdup("variables refer to each other too deeply");
				return false;
			}
			if (!expand_text(val, given, vars, depth + 1, out, why))
				return false;
		} else {
			sb_adds(out, val);
		}
		p = end + 1;
	}
	return true;
}

/* at_run false (loading): a name with no default yet may still come with
   --var; only a value that is there and wrong is an error. */
bool values_resolve(struct runbook *rb, const struct rb_kv *given, bool at_run, struct rbc_diags *d)
{
	bool ok = true;
	for (size_t i = 0; i < rb->nvdurations; i++) {
		struct rb_vduration *v = &rb->vdurations[i];
		struct strbuf sb = {0};
		char *why = NULL;
		const char *uwhy;
		int64_t ms = 0;
		if (!expand_text(v->text, given, &rb->vars, 0, &sb, &why)) {
			if (!at_run && strstr(why, "is not given")) {
				free(why);
				sb_free(&sb);
				continue;
			}
			diags_add(d, false, rb->file, v->line, v->col, v->path, "duration \"%s\": %s", v->text, why);
			ok = false;
		} else if (!units_parse_duration(sb.s ? sb.s : "", &ms, &uwhy)) {
			diags_add(d, false, rb->file, v->line, v->col, v->path,
			          "duration \"%s\" is \"%s\": %s", v->text, sb.s ? sb.s : "", uwhy);
			ok = false;
		} else if (v->positive && ms <= 0) {
			diags_add(d, false, rb->file, v->line, v->col, v->path,
			          "duration \"%s\" is \"%s\": must be greater than 0", v->text, sb.s);
			ok = false;
		} else {
			*v->ms = ms;
		}
		free(why);
		sb_free(&sb);
	}
	return ok;
}

/* The declaration of name in rb, or NULL. */
const struct rb_vardecl *runbook_vardecl(const struct runbook *rb, const char *name)
{
	for (size_t i = 0; rb && i < rb->nvardecls; i++)
		if (strcmp(rb->vardecls[i].name, name) == 0)
			return &rb->vardecls[i];
	return NULL;
}

/* The values of one runbook's declared variables against their rules. */
static bool check_values_one(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d)
{
	bool ok = true;
	for (size_t i = 0; i < rb->nvardecls; i++) {
		const struct rb_vardecl *v = &rb->vardecls[i];
		const char *val = given ? rb_kv_get(given, v->name) : NULL;
		bool from_default = !val;
		struct strbuf sb = {0};
		char *why = NULL;
		const char *dflt = val ? NULL : rb_kv_get(&rb->vars, v->name);
		/* A default may use ${OTHER}, given or a default itself. */
		if (dflt && expand_text(dflt, given, &rb->vars, 0, &sb, &why))
			val = sb.s ? sb.s : "";
		if (!val && why) {
			diags_add(d, false, rb->file, v->line, v->col, v->path, "%s: its default: %s", v->name, why);
			ok = false;
		} else if (!val && v->required) {
			diags_add(d, false, rb->file, v->line, v->col, v->path,
			          "%s is required and has no value: give it with --var %s=… or in a --vars file",
			          v->name, v->name);
			ok = false;
		} else if (val) {
			char *bad = rb_var_check(v, val);
			if (bad) {
				diags_add(d, false, rb->file, v->line, v->col, v->path, "%s (%s): %s", v->name,
				          from_default ? "its default" : "given", bad);
				ok = false;
				free(bad);
			}
		}
		free(why);
		sb_free(&sb);
	}
	return ok;
}

/* The values of rb's and its includes' declared variables against their rules. */
bool runbook_check_values(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d)
{
	bool ok = check_values_one(rb, given, d);
	for (size_t i = 0; i < rb->nincludes; i++) /* a callee's come from its call's with */
		ok = (!rb->includes[i]->run_target || check_values_one(rb->includes[i], given, d)) && ok;
	ok = ask_check_given(rb, given, d) && ok;
	for (size_t i = 0; i < rb->nincludes; i++)
		ok = ask_check_given(rb->includes[i], given, d) && ok;
	return ok;
}

bool runbook_check_answers(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d)
{
	bool ok = ask_check_given(rb, given, d);
	for (size_t i = 0; i < rb->nincludes; i++)
		ok = ask_check_given(rb->includes[i], given, d) && ok;
	return ok;
}

bool runbook_resolve_durations(struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d)
{
	bool ok = values_resolve(rb, given, true, d);
	for (size_t i = 0; i < rb->nincludes; i++)
		ok = values_resolve(rb->includes[i], given, true, d) && ok;
	return ok;
}

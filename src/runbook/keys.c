/*
 * keys.c — reading one JSON object of a runbook against a table of the keys
 * it accepts, and the typed values those keys hold.
 *
 * The loader reads the whole file with these, and so does each probe kind
 * for the object under its action key (its key table in struct probe_ops):
 * so every kind's messages have the same FILE:LINE:COL, JSON path, wording
 * and "did you mean". Nothing here knows the step tree.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rbc/keys.h"
#include "rbc/units.h"

/* One problem at node (its key when key is true), at the current path. */
static void report(struct keys_reader *r, bool warning, const cJSON *node, bool key,
                   const char *fmt, va_list ap) RBC_PRINTF(5, 0);
static void report(struct keys_reader *r, bool warning, const cJSON *node, bool key,
                   const char *fmt, va_list ap)
{
	unsigned line = 0, col = 0;
	json_doc_pos(r->doc, node, key, &line, &col);
	char *msg = xvasprintf(fmt, ap);
	diags_add(r->d, warning, r->file, line, col,
	          r->path.len ? r->path.s : "(root)", "%s", msg);
	free(msg);
}

/* An error about node's value, at the current path. */
void keys_err(struct keys_reader *r, const cJSON *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(r, false, node, false, fmt, ap);
	va_end(ap);
}

/* A warning about node: the runbook loads, rbc check --strict refuses it. */
void keys_warn(struct keys_reader *r, const cJSON *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(r, true, node, false, fmt, ap);
	va_end(ap);
}

/* An error about node's key, at the current path. */
void keys_err_key(struct keys_reader *r, const cJSON *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(r, false, node, true, fmt, ap);
	va_end(ap);
}

/* True when key can be written after a dot in a path (else ["…"]). */
static bool plain_key(const char *key)
{
	if (!*key || (*key >= '0' && *key <= '9'))
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '$'))
			return false;
	return true;
}

/* Appends .key (or ["key"] when it needs quoting) to the path. */
size_t keys_push_key(struct keys_reader *r, const char *key)
{
	size_t old = r->path.len;
	if (plain_key(key)) {
		if (old)
			sb_addc(&r->path, '.');
		sb_adds(&r->path, key);
	} else {
		sb_addf(&r->path, "[\"%s\"]", key);
	}
	return old;
}

/* Appends [i] to the path. */
size_t keys_push_index(struct keys_reader *r, size_t i)
{
	size_t old = r->path.len;
	sb_addf(&r->path, "[%zu]", i);
	return old;
}

/* Cuts the path back to what a push returned. */
void keys_pop(struct keys_reader *r, size_t old)
{
	r->path.len = old;
	if (r->path.s)
		r->path.s[old] = '\0';
}

/* ------------------------------------------------------------ value types */

/* True when n is a string; else reports what it is. */
bool keys_want_string(struct keys_reader *r, const cJSON *n)
{
	if (cJSON_IsString(n))
		return true;
	keys_err(r, n, "expected a string, got %s", json_type_name(n));
	return false;
}

/* A string that must not be empty. */
char *keys_text(struct keys_reader *r, const cJSON *n)
{
	if (!keys_want_string(r, n))
		return NULL;
	if (!*n->valuestring) {
		keys_err(r, n, "must not be empty");
		return NULL;
	}
	return xstrdup(n->valuestring);
}

/* A true or false. */
bool keys_bool(struct keys_reader *r, const cJSON *n, bool *out)
{
	if (!cJSON_IsBool(n)) {
		keys_err(r, n, "expected true or false, got %s", json_type_name(n));
		return false;
	}
	*out = cJSON_IsTrue(n);
	return true;
}

/* An integer from min to max (at most 2^53). */
bool keys_int(struct keys_reader *r, const cJSON *n, long min, long max, long *out)
{
	/* Beyond 2^53 a double is not exact and a cast may overflow. */
	if (max > (1L << 53))
		max = 1L << 53;
	if (!cJSON_IsNumber(n) || n->valuedouble != floor(n->valuedouble) ||
	    n->valuedouble < (double)min || n->valuedouble > (double)max) {
		if (cJSON_IsNumber(n) && n->valuedouble == floor(n->valuedouble))
			keys_err(r, n, "expected an integer from %ld to %ld, got %.0f", min, max, n->valuedouble);
		else
			keys_err(r, n, "expected an integer from %ld to %ld, got %s", min, max,
			    cJSON_IsNumber(n) ? "a fraction" : json_type_name(n));
		return false;
	}
	*out = (long)n->valuedouble;
	return true;
}

/* A duration such as "30s", greater than 0. */
bool keys_duration(struct keys_reader *r, const cJSON *n, int64_t *ms)
{
	const char *why;
	if (!cJSON_IsString(n)) {
		keys_err(r, n, "expected a duration such as \"30s\", got %s", json_type_name(n));
		return false;
	}
	if (!units_parse_duration(n->valuestring, ms, &why)) {
		keys_err(r, n, "bad duration \"%s\": %s", n->valuestring, why);
		return false;
	}
	if (*ms <= 0) {
		keys_err(r, n, "duration must be greater than 0");
		return false;
	}
	return true;
}

/* A size: bytes as a number, or text such as "1MiB"; greater than 0. */
bool keys_size(struct keys_reader *r, const cJSON *n, int64_t *bytes)
{
	const char *why;
	if (cJSON_IsNumber(n)) {
		long v;
		if (!keys_int(r, n, 1, 1L << 50, &v))
			return false;
		*bytes = v;
		return true;
	}
	if (!cJSON_IsString(n)) {
		keys_err(r, n, "expected a size such as \"1MiB\", got %s", json_type_name(n));
		return false;
	}
	if (!units_parse_size(n->valuestring, bytes, &why)) {
		keys_err(r, n, "bad size \"%s\": %s", n->valuestring, why);
		return false;
	}
	if (*bytes <= 0) {
		keys_err(r, n, "size must be greater than 0");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------- variables */

/* Records one ${NAME} at line:col, with the current path. */
void keys_note_use(struct keys_reader *r, const char *name, size_t len,
                     unsigned line, unsigned col)
{
	xgrow(&r->uses, &r->usecap, r->nuses + 1, sizeof *r->uses);
	struct keys_var_use *u = &r->uses[r->nuses++];
	u->name = xstrndup(name, len);
	u->path = xstrdup(r->path.len ? r->path.s : "(root)");
	u->line = line;
	u->col = col;
}

/*
 * Checks the ${NAME} references in an expandable string and remembers them
 * for the undefined-variable warnings.
 */
void keys_scan_refs(struct keys_reader *r, const cJSON *n)
{
	if (!cJSON_IsString(n))
		return;
	const char *s = n->valuestring;
	for (const char *p = strstr(s, "${"); p; p = strstr(p, "${")) {
		unsigned line = 0, col = 0;
		json_doc_string_pos(r->doc, n, (size_t)(p - s), &line, &col);
		const char *end = strchr(p + 2, '}');
		if (!end) {
			diags_add(r->d, false, r->file, line, col, r->path.s,
			          "unclosed \"${\" (write ${NAME})");
			return;
		}
		const char *name = p + 2;
		size_t len = (size_t)(end - name);
		if (len > 4 && strncmp(name, "env:", 4) == 0) {
			name += 4;
			len -= 4;
			if (!rb_var_name_ok(name, len))
				diags_add(r->d, false, r->file, line, col, r->path.s,
				          "invalid environment variable name \"%.*s\"", (int)len, name);
		} else if (!rb_var_name_ok(name, len)) {
			diags_add(r->d, false, r->file, line, col, r->path.s,
			          "invalid variable name \"%.*s\" in \"${…}\" (letters, digits and '_')",
			          (int)len, name);
		} else {
			keys_note_use(r, name, len, line, col);
		}
		p = end + 1;
	}
}

/* Prose for people (a description): its valid ${NAME} references are
   remembered for the warnings; anything else in "${…}" (GitHub Actions'
   ${{ secrets.X }}, a shell's ${X:-y}) is text the reader sees as written. */
void keys_scan_prose_refs(struct keys_reader *r, const cJSON *n)
{
	if (!cJSON_IsString(n))
		return;
	const char *s = n->valuestring;
	for (const char *p = strstr(s, "${"); p; p = strstr(p, "${")) {
		const char *end = strchr(p + 2, '}');
		if (!end)
			return;
		const char *name = p + 2;
		size_t len = (size_t)(end - name);
		if (rb_var_name_ok(name, len)) {
			unsigned line = 0, col = 0;
			json_doc_string_pos(r->doc, n, (size_t)(p - s), &line, &col);
			keys_note_use(r, name, len, line, col);
		}
		p = end + 1;
	}
}

/* Expandable text: a non-empty string whose ${NAME} references are checked. */
char *keys_xtext(struct keys_reader *r, const cJSON *n)
{
	char *s = keys_text(r, n);
	if (s)
		keys_scan_refs(r, n);
	return s;
}

/* ------------------------------------------------------ object walking */

/* Suggests the nearest allowed key, or NULL when nothing is close. */
static const char *suggest(const char *key, const struct keys_member *spec, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(key);
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		size_t dd = str_distance(key, spec[i].key);
		if (dd < bestd) {
			bestd = dd;
			best = spec[i].key;
		}
	}
	for (size_t i = 0; i < n && bestd > limit; i++) {
		/* "Expect" for "expect": a case slip is always worth a hint. */
		if (strcasecmp(key, spec[i].key) == 0)
			return spec[i].key;
	}
	return bestd <= limit ? best : NULL;
}

struct keyref {
	const char *key;
	size_t idx;
	const cJSON *node;
};

/* Orders keyrefs by key, then by place in the object. */
static int cmp_keyref(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Orders nodes by address, for bsearch. */
static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const cJSON *const *)a, y = (uintptr_t)*(const cJSON *const *)b;
	return x < y ? -1 : x > y;
}

/* Reports a key given twice; first is the earlier occurrence. */
static void report_duplicate(struct keys_reader *r, const cJSON *first, const cJSON *again)
{
	unsigned line = 0, col = 0;
	json_doc_pos(r->doc, first, true, &line, &col);
	size_t old = keys_push_key(r, again->string);
	keys_err_key(r, again, "duplicate key \"%s\" (first at %u:%u)", again->string, line, col);
	keys_pop(r, old);
}

/*
 * Reports keys that occur twice in obj (the JSON text allows it, we do not).
 * Returns the later occurrences sorted by address, for walk_object to skip
 * (caller frees), or NULL when there are none.
 */
const cJSON **keys_duplicates(struct keys_reader *r, const cJSON *obj, size_t *ndup)
{
	*ndup = 0;
	size_t n = 0;
	for (const cJSON *c = obj->child; c; c = c->next)
		n++;
	if (n < 2)
		return NULL;
	const cJSON **dups = NULL;
	if (n <= 16) {
		/* Most objects are small: compare pairs, allocate nothing. */
		for (const cJSON *c = obj->child->next; c; c = c->next) {
			const cJSON *first = NULL;
			for (const cJSON *p = obj->child; p != c && !first; p = p->next)
				if (strcmp(p->string, c->string) == 0)
					first = p;
			if (!first)
				continue;
			report_duplicate(r, first, c);
			if (!dups)
				dups = xmalloc(n * sizeof *dups);
			dups[(*ndup)++] = c;
		}
	} else {
		struct keyref *v = xmalloc(n * sizeof *v);
		size_t i = 0;
		for (const cJSON *c = obj->child; c; c = c->next, i++)
			v[i] = (struct keyref){c->string, i, c};
		qsort(v, n, sizeof *v, cmp_keyref);
		size_t first = 0;
		for (i = 1; i < n; i++) {
			if (strcmp(v[i].key, v[first].key) != 0) {
				first = i;
				continue;
			}
			report_duplicate(r, v[first].node, v[i].node);
			if (!dups)
				dups = xmalloc(n * sizeof *dups);
			dups[(*ndup)++] = v[i].node;
		}
		free(v);
	}
	if (dups)
		qsort(dups, *ndup, sizeof *dups, cmp_ptr);
	return dups;
}

/* True when node is one of the ndup duplicates (sorted by address). */
bool keys_is_dup(const cJSON **dups, size_t ndup, const cJSON *node)
{
	return dups && bsearch(&node, dups, ndup, sizeof *dups, cmp_ptr);
}

/* Applies spec to every member of obj; unknown keys are reported. */
void keys_walk(struct keys_reader *r, const cJSON *obj, const struct keys_member *spec,
                        size_t nspec, void *target)
{
	size_t ndup;
	const cJSON **dups = keys_duplicates(r, obj, &ndup);
	for (const cJSON *m = obj->child; m; m = m->next) {
		/* A repeated key was reported; reading it again would overwrite. */
		if (keys_is_dup(dups, ndup, m))
			continue;
		const struct keys_member *hit = NULL;
		for (size_t i = 0; i < nspec && !hit; i++)
			if (strcmp(spec[i].key, m->string) == 0)
				hit = &spec[i];
		size_t old = keys_push_key(r, m->string);
		if (!hit) {
			const char *s = suggest(m->string, spec, nspec);
			if (s)
				keys_err_key(r, m, "unknown key \"%s\" (did you mean \"%s\"?)", m->string, s);
			else
				keys_err_key(r, m, "unknown key \"%s\"", m->string);
		} else if (hit->fn) {
			hit->fn(r, m, target);
		}
		keys_pop(r, old);
	}
	free(dups);
}

/* True when n is an object; else "expected <what>". */
bool keys_want_object(struct keys_reader *r, const cJSON *n, const char *what)
{
	if (cJSON_IsObject(n))
		return true;
	keys_err(r, n, "expected %s, got %s", what, json_type_name(n));
	return false;
}

/* True when n is an array (nonempty: with a member). */
bool keys_want_array(struct keys_reader *r, const cJSON *n, bool nonempty)
{
	if (!cJSON_IsArray(n)) {
		keys_err(r, n, "expected an array, got %s", json_type_name(n));
		return false;
	}
	if (nonempty && !n->child) {
		keys_err(r, n, "must not be empty");
		return false;
	}
	return true;
}

/* The shortest text that reads back as v: 0.1 stays "0.1", 8080 "8080". */
char *keys_number_text(double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		return xasprintf("%.0f", v);
	for (int prec = 15; prec < 17; prec++) {
		char *t = xasprintf("%.*g", prec, v);
		if (strtod(t, NULL) == v)
			return t;
		free(t);
	}
	return xasprintf("%.17g", v);
}

/* An object of name → text (headers, env); vars=true checks the names. */
void keys_kv(struct keys_reader *r, const cJSON *n, struct rb_kv *kv, bool var_names,
                   bool scalars, bool expand)
{
	if (!keys_want_object(r, n, "an object of names to text"))
		return;
	size_t ndup;
	const cJSON **dups = keys_duplicates(r, n, &ndup);
	size_t cnt = 0;
	for (const cJSON *c = n->child; c; c = c->next)
		cnt++;
	kv->keys = xcalloc(cnt, sizeof *kv->keys);
	kv->vals = xcalloc(cnt, sizeof *kv->vals);
	for (const cJSON *c = n->child; c; c = c->next) {
		if (keys_is_dup(dups, ndup, c))
			continue;
		size_t old = keys_push_key(r, c->string);
		if (var_names && !rb_var_name_ok(c->string, strlen(c->string))) {
			keys_err_key(r, c, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)", c->string);
		} else if (!var_names && !*c->string) {
			keys_err_key(r, c, "empty name");
		} else if (cJSON_IsString(c)) {
			if (expand)
				keys_scan_refs(r, c);
			kv->keys[kv->n] = xstrdup(c->string);
			kv->vals[kv->n++] = xstrdup(c->valuestring);
		} else if (scalars && cJSON_IsNumber(c)) {
			kv->keys[kv->n] = xstrdup(c->string);
			kv->vals[kv->n++] = keys_number_text(c->valuedouble);
		} else if (scalars && cJSON_IsBool(c)) {
			kv->keys[kv->n] = xstrdup(c->string);
			kv->vals[kv->n++] = xstrdup(cJSON_IsTrue(c) ? "true" : "false");
		} else {
			keys_err(r, c, "expected %s, got %s", scalars ? "a string, number or boolean" : "a string",
			    json_type_name(c));
		}
		keys_pop(r, old);
	}
	free(dups);
}

/* Reports a required key missing from obj. */
void keys_require(struct keys_reader *r, const cJSON *obj, const char *key, const char *what)
{
	if (!cJSON_GetObjectItemCaseSensitive(obj, key))
		keys_err(r, obj, "missing required key \"%s\"%s%s", key, what ? " " : "", what ? what : "");
}

/* ------------------------------------------------------ typed variables */

/* The keys a variable's declaration accepts (docs/runbook-format.md). */
static const struct keys_member vardecl_keys[] = {
	{"type", NULL}, {"default", NULL}, {"choices", NULL}, {"required", NULL},
	{"pattern", NULL}, {"min", NULL}, {"max", NULL}, {"description", NULL},
};

/* decl's member key, its name pushed on the path while fn reads it. */
static const cJSON *vardecl_member(struct keys_reader *r, const cJSON *n, const char *key, size_t *old)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(n, key);
	if (m)
		*old = keys_push_key(r, key);
	return m;
}

/* The type: as given, else what the default is (a number, true or false,
   an array), else text. */
static void vardecl_type(struct keys_reader *r, const cJSON *n, struct rb_vardecl *decl)
{
	size_t old = 0;
	const cJSON *t = vardecl_member(r, n, "type", &old);
	const cJSON *dv = cJSON_GetObjectItemCaseSensitive(n, "default");
	decl->type = cJSON_IsNumber(dv) ? RB_VAR_NUMBER : cJSON_IsBool(dv) ? RB_VAR_YESNO
	             : cJSON_IsArray(dv) ? RB_VAR_LIST : RB_VAR_TEXT;
	if (!t)
		return;
	if (keys_want_string(r, t) && !rb_var_type_parse(t->valuestring, &decl->type)) {
		const char *near = rb_var_type_suggest(t->valuestring);
		if (near)
			keys_err(r, t, "unknown type \"%s\" (did you mean \"%s\"?)", t->valuestring, near);
		else
			keys_err(r, t, "unknown type \"%s\" (expected text, number, duration, yesno or list)",
			         t->valuestring);
	}
	keys_pop(r, old);
}

/* The default as the text a run holds; a list's as its JSON array. */
static char *vardecl_default(struct keys_reader *r, const cJSON *dv, const struct rb_vardecl *decl)
{
	if (cJSON_IsString(dv)) {
		keys_scan_refs(r, dv);
		return xstrdup(dv->valuestring);
	}
	if (cJSON_IsNumber(dv))
		return keys_number_text(dv->valuedouble);
	if (cJSON_IsBool(dv))
		return xstrdup(cJSON_IsTrue(dv) ? "true" : "false");
	if (cJSON_IsArray(dv) && decl->type == RB_VAR_LIST) {
		size_t i = 0;
		bool ok = true;
		for (const cJSON *c = dv->child; c; c = c->next, i++) {
			if (cJSON_IsString(c) || cJSON_IsNumber(c))
				continue;
			size_t old = keys_push_index(r, i);
			keys_err(r, c, "expected a string or number (an item of the list), got %s", json_type_name(c));
			keys_pop(r, old);
			ok = false;
		}
		return ok ? cJSON_PrintUnformatted(dv) : NULL;
	}
	keys_err(r, dv, "expected a string, number or boolean%s, got %s",
	         decl->type == RB_VAR_LIST ? " or an array" : "", json_type_name(dv));
	return NULL;
}

/* choices: a non-empty array of text (numbers for a number); an object
   among them only when choice reads it (an ask's, with its label). */
static void vardecl_choices(struct keys_reader *r, const cJSON *c, struct rb_vardecl *decl,
                            keys_choice_fn choice, void *ud)
{
	if (decl->type == RB_VAR_YESNO || decl->type == RB_VAR_LIST) {
		keys_err(r, c, "\"choices\" do not apply to a %s variable", rb_var_type_name(decl->type));
		return;
	}
	if (!keys_want_array(r, c, true))
		return;
	decl->choices = xcalloc((size_t)cJSON_GetArraySize(c), sizeof *decl->choices);
	size_t i = 0;
	for (const cJSON *item = c->child; item; item = item->next, i++) {
		size_t old = keys_push_index(r, i);
		const cJSON *x = item;
		size_t old_value = 0;
		if (choice && cJSON_IsObject(item)) {
			x = choice(r, item, i, ud);
			if (!x) {
				keys_pop(r, old);
				continue;
			}
			old_value = keys_push_key(r, "value");
		}
		char *text = NULL;
		if (cJSON_IsNumber(x) && decl->type != RB_VAR_TEXT)
			text = keys_number_text(x->valuedouble);
		else if (cJSON_IsString(x) && *x->valuestring)
			text = xstrdup(x->valuestring);
		else if (cJSON_IsString(x))
			keys_err(r, x, "must not be empty");
		else
			keys_err(r, x, "expected a string%s%s, got %s", decl->type != RB_VAR_TEXT ? " or number" : "",
			         choice && x == item ? " or an object with \"value\"" : "", json_type_name(x));
		for (size_t k = 0; text && k < decl->nchoices; k++)
			if (strcmp(decl->choices[k], text) == 0) {
				keys_err(r, x, "choice \"%s\" is given twice", text);
				free(text);
				text = NULL;
			}
		if (text) {
			/* The type alone: the choices being read are no rule yet. */
			size_t nc = decl->nchoices;
			decl->nchoices = 0;
			char *why = decl->type != RB_VAR_TEXT ? rb_var_check(decl, text) : NULL;
			decl->nchoices = nc;
			if (why) {
				keys_err(r, x, "%s", why);
				free(why);
				free(text);
			} else {
				decl->choices[decl->nchoices++] = text;
			}
		}
		if (x != item)
			keys_pop(r, old_value);
		keys_pop(r, old);
	}
}

/* min or max: a number for a number, a duration for a duration. */
static void vardecl_bound(struct keys_reader *r, const cJSON *b, const char *key, struct rb_vardecl *decl,
                          char **text, double *v)
{
	if (decl->type == RB_VAR_NUMBER) {
		if (!cJSON_IsNumber(b)) {
			keys_err(r, b, "expected a number, got %s", json_type_name(b));
			return;
		}
		*text = keys_number_text(b->valuedouble);
		*v = b->valuedouble;
	} else if (decl->type == RB_VAR_DURATION) {
		int64_t ms;
		const char *why;
		if (!cJSON_IsString(b)) {
			keys_err(r, b, "expected a duration such as \"30s\", got %s", json_type_name(b));
			return;
		}
		if (!units_parse_duration(b->valuestring, &ms, &why)) {
			keys_err(r, b, "bad duration \"%s\": %s", b->valuestring, why);
			return;
		}
		*text = xstrdup(b->valuestring);
		*v = (double)ms;
	} else {
		keys_err_key(r, b, "\"%s\" applies to a number or a duration, not to a %s variable (give \"type\")",
		             key, rb_var_type_name(decl->type));
	}
}

/* Reads the declaration n of variable name (on the path) into decl. */
char *keys_vardecl_read(struct keys_reader *r, const cJSON *n, const char *name, struct rb_vardecl *decl,
                        const struct keys_member *keys, size_t nkeys, keys_choice_fn choice, void *ud)
{
	decl->name = xstrdup(name);
	decl->path = xstrdup(r->path.s);
	json_doc_pos(r->doc, n, true, &decl->line, &decl->col);
	keys_walk(r, n, keys, nkeys, NULL);
	vardecl_type(r, n, decl);
	size_t old = 0;
	char *dflt = NULL;
	const cJSON *dv = vardecl_member(r, n, "default", &old);
	if (dv) {
		dflt = vardecl_default(r, dv, decl);
		keys_pop(r, old);
	}
	const cJSON *m;
	/* An ask's own keys (required, description) are not a declaration's. */
	if (!choice && (m = vardecl_member(r, n, "required", &old)) != NULL) {
		if (keys_bool(r, m, &decl->required) && decl->required && dv)
			keys_err_key(r, m, "a required variable has no default: the run must be given it "
			                   "(leave out \"default\" or \"required\")");
		keys_pop(r, old);
	}
	if ((m = vardecl_member(r, n, "choices", &old)) != NULL) {
		vardecl_choices(r, m, decl, choice, ud);
		keys_pop(r, old);
	}
	if ((m = vardecl_member(r, n, "pattern", &old)) != NULL) {
		char *why = NULL;
		if (decl->type != RB_VAR_TEXT && decl->type != RB_VAR_LIST) {
			keys_err_key(r, m, "\"pattern\" applies to text or a list, not to a %s variable",
			             rb_var_type_name(decl->type));
		} else if ((decl->pattern = keys_text(r, m)) != NULL && !rb_var_compile(decl, &why)) {
			keys_err(r, m, "%s", why);
			free(why);
		}
		keys_pop(r, old);
	}
	if ((m = vardecl_member(r, n, "min", &old)) != NULL) {
		vardecl_bound(r, m, "min", decl, &decl->min, &decl->min_v);
		keys_pop(r, old);
	}
	if ((m = vardecl_member(r, n, "max", &old)) != NULL) {
		vardecl_bound(r, m, "max", decl, &decl->max, &decl->max_v);
		if (decl->min && decl->max && decl->max_v < decl->min_v)
			keys_err(r, m, "the maximum %s is less than the minimum %s", decl->max, decl->min);
		keys_pop(r, old);
	}
	if (!choice && (m = vardecl_member(r, n, "description", &old)) != NULL) {
		decl->description = keys_text(r, m);
		keys_pop(r, old);
	}
	/* A default written with ${OTHER} is known only when a run starts. */
	if (dflt && !strstr(dflt, "${")) {
		char *why = rb_var_check(decl, dflt);
		if (why) {
			old = keys_push_key(r, "default");
			keys_err(r, dv, "the default breaks the variable's rule: %s", why);
			keys_pop(r, old);
			free(why);
		}
	}
	return dflt;
}

/* A runbook's vars: plain defaults, or declarations (docs/runbook-format.md,
   "Typed variables") whose defaults join kv. */
void keys_vars(struct keys_reader *r, const cJSON *n, struct rb_kv *kv, struct rb_vardecl **decls,
               size_t *ndecls)
{
	if (!keys_want_object(r, n, "an object of variable names to values"))
		return;
	size_t ndup, cnt = 0;
	const cJSON **dups = keys_duplicates(r, n, &ndup);
	for (const cJSON *c = n->child; c; c = c->next)
		cnt++;
	kv->keys = xcalloc(cnt, sizeof *kv->keys);
	kv->vals = xcalloc(cnt, sizeof *kv->vals);
	*decls = xcalloc(cnt ? cnt : 1, sizeof **decls);
	for (const cJSON *c = n->child; c; c = c->next) {
		if (keys_is_dup(dups, ndup, c))
			continue;
		size_t old = keys_push_key(r, c->string);
		char *val = NULL;
		if (!rb_var_name_ok(c->string, strlen(c->string))) {
			keys_err_key(r, c, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)", c->string);
		} else if (cJSON_IsObject(c)) {
			val = keys_vardecl_read(r, c, c->string, &(*decls)[(*ndecls)++], vardecl_keys,
			                        RBC_ARRAY_LEN(vardecl_keys), NULL, NULL);
		} else if (cJSON_IsString(c)) {
			keys_scan_refs(r, c);
			val = xstrdup(c->valuestring);
		} else if (cJSON_IsNumber(c)) {
			val = keys_number_text(c->valuedouble);
		} else if (cJSON_IsBool(c)) {
			val = xstrdup(cJSON_IsTrue(c) ? "true" : "false");
		} else {
			keys_err(r, c, "expected a string, number, boolean or an object declaring the variable, got %s%s",
			         json_type_name(c),
			         cJSON_IsArray(c) ? " (a list is declared: {\"type\": \"list\", \"default\": […]})" : "");
		}
		if (val) {
			kv->keys[kv->n] = xstrdup(c->string);
			kv->vals[kv->n++] = val;
		}
		keys_pop(r, old);
	}
	free(dups);
}

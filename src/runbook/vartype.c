/*
 * vartype.c — the rules of a typed variable (docs/runbook-format.md, "Typed
 * variables"): its type, choices, pattern and bounds, and the check of a
 * value against them. The loader reads a declaration with keys.c; the run
 * checks the values it was given here before anything runs.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <cjson/cJSON.h>

#include "rbc/runbook.h"
#include "rbc/units.h"
#include "rbc/util.h"

static const char *const type_names[] = {
#define X(e, name) name,
	RB_VAR_TYPES(X)
#undef X
};

/* The name of type t, as "type" gives it. */
const char *rb_var_type_name(enum rb_var_type t)
{
	return t < RB_VAR_TYPE_COUNT ? type_names[t] : "?";
}

/* The type called name. */
bool rb_var_type_parse(const char *name, enum rb_var_type *t)
{
	for (size_t i = 0; i < RB_VAR_TYPE_COUNT; i++)
		if (strcmp(type_names[i], name) == 0) {
			*t = (enum rb_var_type)i;
			return true;
		}
	return false;
}

/* The candidate nearest to s within the distance "did you mean" allows. */
static const char *nearest(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(s);
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		/* "Blue-Green" for "blue-green": a case slip is always worth a hint. */
		if (strcasecmp(cands[i], s) == 0)
			return cands[i];
		size_t d = str_distance(s, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

/* The type name nearest to name ("numbr" → "number"). */
const char *rb_var_type_suggest(const char *name)
{
	return nearest(name, type_names, RB_VAR_TYPE_COUNT);
}

/* The choice nearest to value ("bluegreen" → "blue-green"). */
const char *rb_var_choice_suggest(const struct rb_vardecl *decl, const char *value)
{
	return nearest(value, (const char *const *)decl->choices, decl->nchoices);
}

/* Compiles the pattern in UTF mode. */
bool rb_var_compile(struct rb_vardecl *decl, char **why)
{
	int rc;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)decl->pattern, PCRE2_ZERO_TERMINATED,
	                                 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &rc, &off, NULL);
	if (!code) {
		PCRE2_UCHAR buf[256];
		if (pcre2_get_error_message(rc, buf, sizeof buf) < 0)
			strcpy((char *)buf, "invalid pattern");
		*why = xasprintf("bad pattern: %s at offset %zu", (const char *)buf, (size_t)off);
		return false;
	}
	decl->re = code;
	return true;
}

/* Frees what decl holds. */
void rb_vardecl_free(struct rb_vardecl *decl)
{
	free(decl->name);
	for (size_t i = 0; i < decl->nchoices; i++)
		free(decl->choices[i]);
	free(decl->choices);
	free(decl->pattern);
	if (decl->re)
		pcre2_code_free(decl->re);
	free(decl->min);
	free(decl->max);
	free(decl->description);
	free(decl->path);
}

/* True when the whole of s is a finite number; *v gets it. */
static bool parse_number(const char *s, double *v)
{
	char *end;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	*v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	return !*end && isfinite(*v);
}

/* 1 when s matches the pattern, 0 when not, -1 when the match gave up. */
static int pattern_match(const struct rb_vardecl *decl, const char *s, size_t n)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(decl->re, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mc, 1000000);
	int rc = pcre2_match(decl->re, (PCRE2_SPTR)s, n, 0, 0, md, mc);
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* The rule the item s (n bytes) breaks against the pattern, or NULL. */
static char *check_pattern(const struct rb_vardecl *decl, const char *s, size_t n)
{
	if (!decl->re)
		return NULL;
	int m = pattern_match(decl, s, n);
	if (m == 1)
		return NULL;
	if (m < 0)
		return xasprintf("\"%.*s\": the pattern %s gave up (too much backtracking)", (int)n, s,
		                 decl->pattern);
	return xasprintf("\"%.*s\" does not match the pattern %s", (int)n, s, decl->pattern);
}

/* A list's items: a JSON array of text or numbers, or words split by commas
   or white space; the rule the first bad item breaks, or NULL. */
static char *check_list(const struct rb_vardecl *decl, const char *value)
{
	const char *p = value;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '[') {
		cJSON *a = cJSON_Parse(value);
		if (!cJSON_IsArray(a)) {
			cJSON_Delete(a);
			return xasprintf("\"%s\" starts with '[' but is not a JSON array", value);
		}
		char *why = NULL;
		for (const cJSON *c = a->child; c && !why; c = c->next) {
			if (cJSON_IsString(c))
				why = check_pattern(decl, c->valuestring, strlen(c->valuestring));
			else if (!cJSON_IsNumber(c))
				why = xstrdup("a list's items are text or numbers");
		}
		cJSON_Delete(a);
		return why;
	}
	for (;;) {
		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (!*p)
			return NULL;
		const char *start = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',')
			p++;
		char *why = check_pattern(decl, start, (size_t)(p - start));
		if (why)
			return why;
	}
}

/* "blue-green, rolling" */
static char *choice_list(const struct rb_vardecl *decl)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < decl->nchoices; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", decl->choices[i]);
	return sb_take(&sb);
}

/* The rule value breaks among decl's choices, or NULL. */
static char *check_choices(const struct rb_vardecl *decl, const char *value, bool numeric, double v)
{
	if (!decl->nchoices)
		return NULL;
	for (size_t i = 0; i < decl->nchoices; i++) {
		double c;
		if (strcmp(decl->choices[i], value) == 0 ||
		    (numeric && parse_number(decl->choices[i], &c) && c == v))
			return NULL;
	}
	char *list = choice_list(decl);
	const char *near = rb_var_choice_suggest(decl, value);
	char *why = near ? xasprintf("\"%s\" is not one of the choices %s (did you mean \"%s\"?)", value, list, near)
	                 : xasprintf("\"%s\" is not one of the choices %s", value, list);
	free(list);
	return why;
}

/* The rule v (number or milliseconds) breaks against min and max, or NULL. */
static char *check_bounds(const struct rb_vardecl *decl, const char *value, double v)
{
	if (decl->min && v < decl->min_v)
		return xasprintf("%s is less than the minimum %s", value, decl->min);
	if (decl->max && v > decl->max_v)
		return xasprintf("%s is more than the maximum %s", value, decl->max);
	return NULL;
}

/* Checks value against every rule of decl. */
char *rb_var_check(const struct rb_vardecl *decl, const char *value)
{
	double v = 0;
	int64_t ms;
	const char *why;
	switch (decl->type) {
	case RB_VAR_NUMBER:
		if (!parse_number(value, &v))
			return xasprintf("\"%s\" is not a number", value);
		break;
	case RB_VAR_DURATION:
		if (!units_parse_duration(value, &ms, &why))
			return xasprintf("\"%s\" is not a duration such as \"30s\": %s", value, why);
		v = (double)ms;
		break;
	case RB_VAR_YESNO:
		if (strcmp(value, "yes") && strcmp(value, "no") && strcmp(value, "true") && strcmp(value, "false"))
			return xasprintf("\"%s\" is not yes or no (yes, no, true or false)", value);
		return NULL;
	case RB_VAR_LIST:
		return check_list(decl, value);
	case RB_VAR_TEXT:
	case RB_VAR_TYPE_COUNT:
		break;
	}
	char *bad = check_choices(decl, value, decl->type != RB_VAR_TEXT, v);
	if (!bad && decl->type == RB_VAR_TEXT)
		bad = check_pattern(decl, value, strlen(value));
	if (!bad && decl->type != RB_VAR_TEXT)
		bad = check_bounds(decl, value, v);
	return bad;
}

/*
 * func.c — the builtin functions of the threshold language (aggregates are
 * in agg.c) and Nagios ranges.
 *
 * Each function gets its call node and evaluates the arguments it needs,
 * so default() and if() read only the branch they use. A function given
 * an unknown argument returns that unknown unchanged (exists() and
 * default() excepted: they are how an author handles unknowns).
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Longest run of digits num() reads out of text. */
#define NUM_MAX_DIGITS 320

/* Evaluates argument i of call. */
static struct rbc_value *arg(struct ectx *c, const struct node *call, size_t i)
{
	return expr_eval_node(c, call->args[i]);
}

/* MISSING "NAME() needs WHAT, not <v>"; frees v. */
static struct rbc_value *needs(const struct ectx *c, const struct node *call, const char *what, struct rbc_value *v)
{
	char *d = expr_describe(c, v);
	struct rbc_value *r = value_missing_new("%s() needs %s, not %s", call->fn->name, what, d);
	free(d);
	value_free(v);
	return r;
}

/* Finds the first number in s: optional '-', digits, fraction, exponent. */
static bool scan_number(const char *s, size_t n, double *out, bool *too_long, size_t *from,
                        size_t *to)
{
	size_t i = 0;
	while (i < n && !(s[i] >= '0' && s[i] <= '9'))
		i++;
	if (i == n)
		return false;
	size_t start = i > 0 && s[i - 1] == '-' ? i - 1 : i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9';)
			i++;
	if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < n && (s[j] == '-' || s[j] == '+'))
			j++;
		if (j < n && s[j] >= '0' && s[j] <= '9') {
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			i = j;
		}
	}
	if (i - start > NUM_MAX_DIGITS) {
		*too_long = true;
		return false;
	}
	*from = start;
	*to = i;
	char buf[NUM_MAX_DIGITS + 1];
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	*out = strtod(buf, NULL);
	if (!isfinite(*out)) {
		*too_long = true;
		return false;
	}
	return true;
}

/* num(x): the first number in text; a number stays itself. */
static struct rbc_value *fn_num(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING || v->type == VALUE_NUM)
		return v;
	if (v->type != VALUE_STR)
		return needs(c, call, "text", v);
	double d;
	bool too_long = false;
	size_t from = 0, to = 0;
	if (scan_number(v->u.str.s, v->u.str.len, &d, &too_long, &from, &to)) {
		struct rbc_value *r = value_num_new(d, RBC_DIM_NONE);
		/* Digits read out of a secret are part of it: never shown. */
		r->secret = v->secret || mask_covers(c->env ? c->env->mask : NULL, v->u.str.s, v->u.str.len,
		                                     v->u.str.cut, from, to);
		value_free(v);
		return r;
	}
	struct strbuf sb = {0};
	expr_explain_operand(c, call->args[0], v, NULL, &sb);
	struct rbc_value *r = value_missing_new(too_long ? "the number in %s is out of range"
	                                                 : "no number in %s", sb_borrow(&sb));
	sb_free(&sb);
	value_free(v);
	return r;
}

/* json(x): text parsed as JSON. */
static struct rbc_value *fn_json(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_STR)
		return needs(c, call, "text", v);
	cJSON *j = cJSON_ParseWithLength(v->u.str.s, v->u.str.len);
	struct rbc_value *r;
	if (j) {
		r = value_from_json(j);
		cJSON_Delete(j);
	} else {
		struct strbuf sb = {0};
		expr_explain_operand(c, call->args[0], v, NULL, &sb);
		r = value_missing_new("%s is not JSON", sb_borrow(&sb));
		sb_free(&sb);
	}
	value_free(v);
	return r;
}

/* len(x): characters of text, items of a list or object. */
static struct rbc_value *fn_len(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	size_t n;
	switch (v->type) {
	case VALUE_MISSING: return v;
	case VALUE_STR: n = utf8_count(v->u.str.s, v->u.str.len); break;
	case VALUE_LIST: n = v->u.list.n; break;
	case VALUE_OBJ: n = v->u.obj.n; break;
	default: return needs(c, call, "text, a list or an object", v);
	}
	value_free(v);
	return value_num_new((double)n, RBC_DIM_NONE);
}

/* exists(x): whether x has a value; never unknown. */
static struct rbc_value *fn_exists(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	bool has = v->type != VALUE_MISSING;
	value_free(v);
	return value_bool_new(has);
}

/* default(x, v): x, or v when x is unknown. */
static struct rbc_value *fn_default(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type != VALUE_MISSING)
		return v;
	value_free(v);
	return arg(c, call, 1);
}

/* if(c, a, b): a when c is true, b when false, unknown when c is. */
static struct rbc_value *fn_if(struct ectx *c, const struct node *call)
{
	struct rbc_value *cond = expr_eval_pred(c, call->args[0]);
	if (cond->type == VALUE_MISSING)
		return cond;
	size_t which = cond->u.b ? 1 : 2;
	value_free(cond);
	return arg(c, call, which);
}

/* lower(x) / upper(x) with the mapping f, ASCII letters only. */
static struct rbc_value *map_case(struct ectx *c, const struct node *call, int (*f)(int))
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_STR)
		return needs(c, call, "text", v);
	struct rbc_value *r = value_str_cut(value_str_new(v->u.str.s, v->u.str.len), v->u.str.cut);
	/* A secret in another case is no longer found by its value. */
	r->secret = v->secret || mask_hits(c->env ? c->env->mask : NULL, v->u.str.s, v->u.str.len);
	for (size_t i = 0; i < r->u.str.len; i++) {
		unsigned char ch = (unsigned char)r->u.str.s[i];
		if (ch < 0x80)
			r->u.str.s[i] = (char)f(ch);
	}
	value_free(v);
	return r;
}

/* lower(x) */
static struct rbc_value *fn_lower(struct ectx *c, const struct node *call)
{
	return map_case(c, call, tolower);
}

/* upper(x) */
static struct rbc_value *fn_upper(struct ectx *c, const struct node *call)
{
	return map_case(c, call, toupper);
}

/* match(x, /re/): group 1, or the whole match without groups. */
static struct rbc_value *fn_match(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_STR)
		return needs(c, call, "text", v);
	const struct node *re = call->args[1];
	struct rbc_value *group = NULL, *r;
	struct regex *owned;
	struct rbc_value *text = re->kind == N_REGEX ? NULL : arg(c, call, 1);
	const struct regex *rx = expr_regex_of(c, re, text, &owned, &r);
	value_free(text);
	if (!rx) {
		value_free(v);
		return r;
	}
	char *why = NULL;
	size_t at = 0;
	int m = expr_regex_match(rx, v->u.str.s, v->u.str.len, &group, &at, &why);
	expr_regex_free(owned);
	if (m < 0) {
		r = value_missing_new("cannot match %.*s: %s", expr_node_len(c->e, re),
		                      expr_node_src(c->e, re), why);
		free(why);
	} else if (m == 0 || !group) {
		struct strbuf sb = {0};
		expr_explain_operand(c, call->args[0], v, NULL, &sb);
		r = value_missing_new(m == 0 ? "%s does not match %.*s"
		                             : "%s matches %.*s but group 1 took no part",
		                      sb_borrow(&sb), expr_node_len(c->e, re), expr_node_src(c->e, re));
		sb_free(&sb);
	} else {
		/* A group at a cut end of a window is a window too; a group
		   taken out of a secret is part of it, however short. */
		group->u.str.cut &= v->u.str.cut;
		group->secret = v->secret || mask_covers(c->env ? c->env->mask : NULL, v->u.str.s, v->u.str.len,
		                                         v->u.str.cut, at, at + group->u.str.len);
		r = group;
	}
	value_free(v);
	return r;
}

/* Parses one endpoint: a number with an optional unit, merging its dimension into r. */
static bool range_number(const char *s, size_t n, double *v, struct nagios_range *r)
{
	enum rbc_dim dim;
	if (!value_parse_number(s, n, v, &dim))
		return false;
	if (dim != RBC_DIM_NONE) {
		if (r->dim != RBC_DIM_NONE && r->dim != dim)
			return false;
		r->dim = dim;
	}
	return true;
}

bool expr_range_parse(const char *s, size_t n, struct nagios_range *r, const char **why)
{
	memset(r, 0, sizeof *r);
	size_t i = 0;
	if (i < n && s[i] == '@') {
		r->inside = true;
		i++;
	}
	const char *colon = memchr(s + i, ':', n - i);
	*why = "expected START:END, START:, ~:END or END";
	if (i == n)
		return false;
	if (!colon)
		return range_number(s + i, n - i, &r->end, r);
	size_t sl = (size_t)(colon - (s + i)), el = n - i - sl - 1;
	if (sl == 1 && s[i] == '~')
		r->start_inf = true;
	else if (sl > 0 && !range_number(s + i, sl, &r->start, r))
		return false;
	if (el == 0)
		r->end_inf = true;
	else if (!range_number(colon + 1, el, &r->end, r))
		return false;
	if (!r->start_inf && !r->end_inf && r->start > r->end) {
		*why = "start is greater than end";
		return false;
	}
	return true;
}

bool expr_range_ok(const struct nagios_range *r, double v)
{
	bool within = (r->start_inf || v >= r->start) && (r->end_inf || v <= r->end);
	return r->inside ? !within : within;
}

/* inrange(x, "range") at parse time: a literal range is checked and kept. */
static char *check_inrange(struct node *call, size_t *at)
{
	const struct node *s = call->args[1];
	if (s->kind != N_LIT || s->lit->type != VALUE_STR)
		return NULL;
	struct nagios_range r;
	const char *why;
	if (!expr_range_parse(s->lit->u.str.s, s->lit->u.str.len, &r, &why)) {
		*at = s->start;
		return xasprintf("bad range \"%.*s\": %s", (int)s->lit->u.str.len, s->lit->u.str.s, why);
	}
	call->range = xmalloc(sizeof r);
	*call->range = r;
	return NULL;
}

/* inrange(x, "range"): true when x does not alert under the Nagios range. */
static struct rbc_value *fn_inrange(struct ectx *c, const struct node *call)
{
	struct nagios_range r;
	if (call->range) {
		r = *call->range;
	} else {
		struct rbc_value *s = arg(c, call, 1);
		if (s->type == VALUE_MISSING)
			return s;
		if (s->type != VALUE_STR)
			return needs(c, call, "a range as text", s);
		const char *why;
		bool ok = expr_range_parse(s->u.str.s, s->u.str.len, &r, &why);
		if (!ok) {
			struct rbc_value *m = value_missing_new("bad range \"%.*s\": %s",
			                                        (int)s->u.str.len, s->u.str.s, why);
			value_free(s);
			return m;
		}
		value_free(s);
	}
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_NUM)
		return needs(c, call, "a number", v);
	if (r.dim != RBC_DIM_NONE && v->u.num.dim != RBC_DIM_NONE && r.dim != v->u.num.dim)
		return needs(c, call, "a number in the range's unit", v);
	bool ok = expr_range_ok(&r, v->u.num.v);
	value_free(v);
	return value_bool_new(ok);
}

/* Explains inrange: "inrange(time, \"10:20\") = false: time = 25 ms". */
static void explain_inrange(struct ectx *c, const struct node *call, const struct rbc_value *v,
                            struct strbuf *sb)
{
	sb_add(sb, expr_node_src(c->e, call), (size_t)expr_node_len(c->e, call));
	sb_adds(sb, v->u.b ? " = true" : " = false");
	if (call->args[0]->kind != N_LIT) {
		struct rbc_value *x = arg(c, call, 0);
		sb_adds(sb, ": ");
		expr_explain_operand(c, call->args[0], x, NULL, sb);
		value_free(x);
	}
}

/* abs(x) and round(x) keep the unit. */
static struct rbc_value *map_num(struct ectx *c, const struct node *call, double (*f)(double))
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_NUM)
		return needs(c, call, "a number", v);
	struct rbc_value *r = value_num_new(f(v->u.num.v), v->u.num.dim);
	r->secret = v->secret;
	value_free(v);
	return r;
}

/* abs(x) */
static struct rbc_value *fn_abs(struct ectx *c, const struct node *call)
{
	return map_num(c, call, fabs);
}

/* round(x): to the nearest whole number, halves away from zero. */
static struct rbc_value *fn_round(struct ectx *c, const struct node *call)
{
	return map_num(c, call, round);
}

/* contains(x, y): y in x (substring, list item, object key). */
static struct rbc_value *fn_contains(struct ectx *c, const struct node *call)
{
	struct rbc_value *x = arg(c, call, 0), *y = arg(c, call, 1);
	struct rbc_value *r = expr_in(c, y, x);
	value_free(x);
	value_free(y);
	return r;
}

/* startswith(x, p) / endswith(x, p) on text. */
static struct rbc_value *affix(struct ectx *c, const struct node *call, bool end)
{
	struct rbc_value *x = arg(c, call, 0), *p = arg(c, call, 1);
	struct rbc_value *r;
	if (x->type == VALUE_MISSING) {
		r = value_ref(x);
	} else if (p->type == VALUE_MISSING) {
		r = value_ref(p);
	} else if (x->type != VALUE_STR) {
		r = needs(c, call, "text", value_ref(x));
	} else if (p->type != VALUE_STR) {
		r = needs(c, call, "text to look for", value_ref(p));
	} else {
		size_t n = p->u.str.len;
		bool ok = n <= x->u.str.len &&
		          memcmp(x->u.str.s + (end ? x->u.str.len - n : 0), p->u.str.s, n) == 0;
		r = value_bool_new(ok);
	}
	value_free(x);
	value_free(p);
	return r;
}

/* startswith(x, prefix) */
static struct rbc_value *fn_startswith(struct ectx *c, const struct node *call)
{
	return affix(c, call, false);
}

/* endswith(x, suffix) */
static struct rbc_value *fn_endswith(struct ectx *c, const struct node *call)
{
	return affix(c, call, true);
}

/* re(text): the text itself; what makes it a regex is where it stands (expr_regex_of). */
static struct rbc_value *fn_re(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING || v->type == VALUE_STR)
		return v;
	return needs(c, call, "text", v);
}

bool expr_is_re_call(const struct node *n)
{
	return n->kind == N_CALL && n->fn->fn == fn_re;
}

/* re() and quote() at parse time: a literal argument must be text, and re()'s a regex. */
static char *check_text(struct node *call, size_t *at)
{
	const struct node *t = call->args[0];
	if (t->kind != N_LIT && t->kind != N_LIST && t->kind != N_REGEX)
		return NULL;
	*at = t->start;
	if (t->kind != N_LIT || t->lit->type != VALUE_STR)
		return xasprintf("%s() needs text", call->fn->name);
	if (call->fn->fn != fn_re)
		return NULL;
	size_t off = 0;
	char *msg = NULL;
	struct regex *re = expr_regex_new(t->lit->u.str.s, t->lit->u.str.len, "", 0, &off, &msg);
	if (re) {
		expr_regex_free(re);
		return NULL;
	}
	return msg;
}

/* quote(text): text with every regex character escaped, so that re() matches it literally. */
static struct rbc_value *fn_quote(struct ectx *c, const struct node *call)
{
	struct rbc_value *v = arg(c, call, 0);
	if (v->type == VALUE_MISSING)
		return v;
	if (v->type != VALUE_STR)
		return needs(c, call, "text", v);
	struct strbuf sb = {0};
	for (size_t i = 0; i < v->u.str.len; i++) {
		unsigned char ch = (unsigned char)v->u.str.s[i];
		/* A backslash before any ASCII punctuation makes it literal in
		   PCRE2; letters, digits, blanks and bytes above 0x7f need none. */
		if (ch < 0x80 && ch > 0x20 && !isalnum(ch) && ch != '_')
			sb_add(&sb, "\\", 1);
		sb_add(&sb, (const char *)&v->u.str.s[i], 1);
	}
	size_t len = sb.len;
	struct rbc_value *r = value_str_take(sb_take(&sb), len);
	r->secret = v->secret || mask_hits(c->env ? c->env->mask : NULL, v->u.str.s, v->u.str.len);
	value_free(v);
	return r;
}

static const struct builtin functions[] = {
	{"num", 1, 1, false, 0, fn_num, NULL, NULL},
	{"json", 1, 1, false, 0, fn_json, NULL, NULL},
	{"len", 1, 1, false, 0, fn_len, NULL, NULL},
	{"exists", 1, 1, false, 0, fn_exists, NULL, NULL},
	{"default", 2, 2, false, 0, fn_default, NULL, NULL},
	{"if", 3, 3, false, 0, fn_if, NULL, NULL},
	{"lower", 1, 1, false, 0, fn_lower, NULL, NULL},
	{"upper", 1, 1, false, 0, fn_upper, NULL, NULL},
	{"match", 2, 2, false, 2, fn_match, NULL, NULL},
	{"inrange", 2, 2, false, 0, fn_inrange, check_inrange, explain_inrange},
	{"abs", 1, 1, false, 0, fn_abs, NULL, NULL},
	{"round", 1, 1, false, 0, fn_round, NULL, NULL},
	{"contains", 2, 2, false, 0, fn_contains, NULL, NULL},
	{"startswith", 2, 2, false, 0, fn_startswith, NULL, NULL},
	{"endswith", 2, 2, false, 0, fn_endswith, NULL, NULL},
	{"re", 1, 1, false, 0, fn_re, check_text, NULL},
	{"quote", 1, 1, false, 0, fn_quote, check_text, NULL},
};

/* Calls f on every builtin, functions then aggregates, until it returns true. */
static const struct builtin *each_builtin(bool (*f)(const struct builtin *, void *), void *ud)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(functions); i++)
		if (f(&functions[i], ud))
			return &functions[i];
	for (size_t i = 0; i < expr_naggregates; i++)
		if (f(&expr_aggregates[i], ud))
			return &expr_aggregates[i];
	for (size_t i = 0; i < expr_nlist_functions; i++)
		if (f(&expr_list_functions[i], ud))
			return &expr_list_functions[i];
	for (size_t i = 0; i < expr_nclock_functions; i++)
		if (f(&expr_clock_functions[i], ud))
			return &expr_clock_functions[i];
	return NULL;
}

struct name_ref {
	const char *s;
	size_t n;
};

/* True when b is named as the name_ref ud. */
static bool name_is(const struct builtin *b, void *ud)
{
	const struct name_ref *r = ud;
	return strlen(b->name) == r->n && memcmp(b->name, r->s, r->n) == 0;
}

const struct builtin *expr_builtin_find(const char *name, size_t n)
{
	struct name_ref r = {name, n};
	return each_builtin(name_is, &r);
}

struct arity_ref {
	struct name_ref name;
	size_t nargs;
	unsigned min, max;
	const struct builtin *fit;
};

/* Widens ud's argument counts by b when named alike, keeping the first b that fits. */
static bool arity_fits(const struct builtin *b, void *ud)
{
	struct arity_ref *r = ud;
	if (!name_is(b, &r->name))
		return false;
	if (r->min > b->min)
		r->min = b->min;
	if (r->max < b->max)
		r->max = b->max;
	if (!r->fit && r->nargs >= b->min && r->nargs <= b->max)
		r->fit = b;
	return false;
}

const struct builtin *expr_builtin_find_args(const char *name, size_t n, size_t nargs,
                                             unsigned *min, unsigned *max)
{
	struct arity_ref r = {{name, n}, nargs, ~0u, 0, NULL};
	each_builtin(arity_fits, &r);
	*min = r.min;
	*max = r.max;
	return r.fit;
}

struct nearest {
	const char *name;
	const struct builtin *best;
	size_t dist;
};

/*
 * Keeps b in the nearest ud when its name is closer, and close enough that
 * at most half of the name written differs (foo is not now); never stops
 * the walk.
 */
static bool closer(const struct builtin *b, void *ud)
{
	struct nearest *near = ud;
	size_t d = str_distance(near->name, b->name);
	if (d < near->dist && d < strlen(b->name) && 2 * d <= strlen(near->name)) {
		near->dist = d;
		near->best = b;
	}
	return false;
}

const struct builtin *expr_builtin_suggest(const char *name)
{
	struct nearest near = {name, NULL, 3};
	each_builtin(closer, &near);
	return near.best;
}

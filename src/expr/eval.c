/*
 * eval.c — computes the value of a syntax tree against samples and vars.
 *
 * Unknown is a value: MISSING carries its reason and flows through
 * comparisons and arithmetic unchanged, so the verdict can say why.
 * && and || follow three-valued logic. Numbers compare and add only when
 * their dimensions agree (a plain number takes the other side's). Nothing
 * is coerced: text never silently becomes a number, missing never 0.
 * Aggregates depend only on the samples, never on the sample being read,
 * so each is computed once per evaluation and kept in c->memo.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Greatest distance of a "did you mean" suggestion for a field. */
#define SUGGEST_DISTANCE 2

void expr_ctx_init(struct ectx *c, const struct expr *e, const struct expr_env *env)
{
	memset(c, 0, sizeof *c);
	c->e = e;
	c->env = env;
	c->nsamples = env ? env->nsamples : 0;
	c->cur = -1;
	c->memo = e->naggs ? xcalloc(e->naggs, sizeof *c->memo) : NULL;
}

void expr_ctx_done(struct ectx *c)
{
	for (size_t i = 0; c->memo && i < c->e->naggs; i++)
		value_free(c->memo[i]);
	free(c->memo);
	c->memo = NULL;
}

/* A MISSING value "<what> <a> <sep> <b>", e.g. "cannot compare X with Y". */
static struct rbc_value *cannot(const struct ectx *c, const char *what, const struct rbc_value *a, const char *sep,
                                const struct rbc_value *b)
{
	char *da = expr_describe(c, a), *db = expr_describe(c, b);
	struct rbc_value *r = value_missing_new("cannot %s %s %s %s", what, da, sep, db);
	free(da);
	free(db);
	return r;
}

/* Dimensions that may meet in a comparison or a sum. */
static bool dims_agree(enum rbc_dim a, enum rbc_dim b)
{
	return a == b || a == RBC_DIM_NONE || b == RBC_DIM_NONE;
}

struct rbc_value *expr_compare(const struct ectx *c, const struct rbc_value *a, const struct rbc_value *b,
                               bool order, int *sign)
{
	if (a->type == VALUE_MISSING)
		return value_ref(a);
	if (b->type == VALUE_MISSING)
		return value_ref(b);
	if (!order && (a->type == VALUE_NULL || b->type == VALUE_NULL)) {
		*sign = !(a->type == VALUE_NULL && b->type == VALUE_NULL);
		return NULL;
	}
	if (a->type == VALUE_NUM && b->type == VALUE_NUM) {
		double x = a->u.num.v, y = b->u.num.v;
		if (!dims_agree(a->u.num.dim, b->u.num.dim))
			return cannot(c, "compare", a, "with", b);
		if (isnan(x) || isnan(y))
			return value_missing_new("not a number (NaN)");
		*sign = order ? (x < y ? -1 : x > y) : x != y;
		return NULL;
	}
	if (a->type == VALUE_STR && b->type == VALUE_STR) {
		size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
		int d = memcmp(a->u.str.s, b->u.str.s, n);
		if (d == 0)
			d = (a->u.str.len > b->u.str.len) - (a->u.str.len < b->u.str.len);
		*sign = order ? d : d != 0;
		return NULL;
	}
	if (!order && a->type == b->type) {
		*sign = !value_equal(a, b);
		return NULL;
	}
	return cannot(c, "compare", a, "with", b);
}

struct rbc_value *expr_in(const struct ectx *c, const struct rbc_value *x, const struct rbc_value *in)
{
	if (x->type == VALUE_MISSING)
		return value_ref(x);
	if (in->type == VALUE_MISSING)
		return value_ref(in);
	if (in->type == VALUE_LIST) {
		struct rbc_value *unknown = NULL;
		for (size_t i = 0; i < in->u.list.n; i++) {
			int sign;
			struct rbc_value *why = expr_compare(c, x, in->u.list.v[i], false, &sign);
			if (why) {
				if (unknown)
					value_free(why);
				else
					unknown = why;
			} else if (sign == 0) {
				value_free(unknown);
				return value_bool_new(true);
			}
		}
		return unknown ? unknown : value_bool_new(false);
	}
	if (in->type == VALUE_STR && x->type == VALUE_STR)
		return value_bool_new(x->u.str.len == 0 ||
		                      memmem(in->u.str.s, in->u.str.len, x->u.str.s, x->u.str.len));
	if (in->type == VALUE_OBJ && x->type == VALUE_STR)
		return value_bool_new(value_obj_getn(in, x->u.str.s, x->u.str.len) != NULL);
	return cannot(c, "look for", x, "in", in);
}

struct rbc_value *expr_eval_truth(struct ectx *c, const struct node *n, struct rbc_value *v)
{
	if (v->type == VALUE_BOOL || v->type == VALUE_MISSING)
		return v;
	struct strbuf sb = {0};
	expr_explain_operand(c, n, v, NULL, &sb);
	value_free(v);
	struct rbc_value *r = value_missing_new("%s is not true or false", sb_borrow(&sb));
	sb_free(&sb);
	return r;
}

struct rbc_value *expr_eval_pred(struct ectx *c, const struct node *n)
{
	return expr_eval_truth(c, n, expr_eval_node(c, n));
}

/* A literal: its constant value, shared. */
static struct rbc_value *eval_lit(struct ectx *c, const struct node *n)
{
	(void)c;
	return value_ref(n->lit);
}

/* [a, b, …]: unknown when an item is. */
static struct rbc_value *eval_list(struct ectx *c, const struct node *n)
{
	struct rbc_value *l = value_list_new();
	for (size_t i = 0; i < n->nargs; i++) {
		struct rbc_value *v = expr_eval_node(c, n->args[i]);
		if (v->type == VALUE_MISSING) {
			value_free(l);
			return v;
		}
		value_list_push_take(l, v);
	}
	return l;
}

/* A regex alone has no value (the parser allows none there). */
static struct rbc_value *eval_regex(struct ectx *c, const struct node *n)
{
	return value_missing_new("the regex %.*s has no value of its own",
	                         expr_node_len(c->e, n), expr_node_src(c->e, n));
}

/* Appends " (did you mean NAME?)" when obj has a key close to name. */
static void suggest_key(struct strbuf *sb, const struct rbc_value *obj, const char *name)
{
	const char *best = NULL;
	size_t bestd = SUGGEST_DISTANCE + 1;
	for (size_t i = 0; obj && obj->type == VALUE_OBJ && i < obj->u.obj.n; i++) {
		size_t d = str_distance(name, obj->u.obj.keys[i]);
		if (d < bestd && d < strlen(name)) {
			bestd = d;
			best = obj->u.obj.keys[i];
		}
	}
	if (best) {
		sb_adds(sb, " (did you mean ");
		expr_add_shown(sb, best, strlen(best));
		sb_adds(sb, "?)");
	}
}

/*
 * MISSING "FULL is absent", FULL being the whole path being read: when the
 * step n inside it is what is absent, ": no STEP"; detail (may be NULL)
 * says more; obj and key (may be NULL) give a "did you mean".
 */
static struct rbc_value *absent(struct ectx *c, const struct node *full, const struct node *n,
                                const char *detail, const struct rbc_value *obj, const char *key)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%.*s is absent", expr_node_len(c->e, full), expr_node_src(c->e, full));
	if (detail)
		sb_addf(&sb, ": %s", detail);
	else if (n != full)
		sb_addf(&sb, ": no %.*s", expr_node_len(c->e, n), expr_node_src(c->e, n));
	if (key)
		suggest_key(&sb, obj, key);
	struct rbc_value *r = value_missing_new("%s", sb_borrow(&sb));
	sb_free(&sb);
	return r;
}

/* MISSING: the step n of full reads into a, which is no container of the kind wanted. */
static struct rbc_value *not_container(struct ectx *c, const struct node *full,
                                       const struct node *n, const struct rbc_value *a,
                                       const char *want)
{
	char *d = expr_describe(c, a);
	char *detail = xasprintf("%.*s is %s, not %s", expr_node_len(c->e, n->a),
	                         expr_node_src(c->e, n->a), d, want);
	struct rbc_value *r = absent(c, full, n, detail, NULL, NULL);
	free(detail);
	free(d);
	return r;
}

/* The field n of the current sample, as (part of) the path full. */
static struct rbc_value *field(struct ectx *c, const struct node *n, const struct node *full)
{
	if (c->cur < 0 || (size_t)c->cur >= c->nsamples)
		return value_missing_new("no samples");
	const struct rbc_value *sample = c->env->samples[c->cur];
	const struct rbc_value *v = value_obj_get(sample, n->name);
	return v ? value_ref(v) : absent(c, full, n, NULL, sample, n->name);
}

/* Step n of full into the object a by key (n bytes). */
static struct rbc_value *step_key(struct ectx *c, const struct node *full, const struct node *n,
                                  const struct rbc_value *a, const char *key, size_t len)
{
	const struct rbc_value *v = value_obj_getn(a, key, len);
	if (v)
		return value_ref(v);
	return absent(c, full, n, NULL, a, memchr(key, '\0', len) ? NULL : key);
}

/* Step n of full into the list a at i: negative i counts from the end. */
static struct rbc_value *step_index(struct ectx *c, const struct node *full, const struct node *n,
                                    const struct rbc_value *a, const struct rbc_value *i)
{
	double d = i->u.num.v;
	size_t len = a->u.list.n;
	if (d != floor(d) || i->u.num.dim != RBC_DIM_NONE || fabs(d) > 1e15) {
		char *di = expr_describe(c, i);
		struct rbc_value *r = value_missing_new("%.*s: a list index must be a whole number, "
		                                        "not %s", expr_node_len(c->e, n),
		                                        expr_node_src(c->e, n), di);
		free(di);
		return r;
	}
	double at = d < 0 ? (double)len + d : d;
	if (at >= 0 && at < (double)len)
		return value_ref(a->u.list.v[(size_t)at]);
	char *detail = xasprintf("%.*s has %zu item%s", expr_node_len(c->e, n->a),
	                         expr_node_src(c->e, n->a), len, len == 1 ? "" : "s");
	struct rbc_value *r = absent(c, full, n, detail, NULL, NULL);
	free(detail);
	return r;
}

/*
 * Evaluates n, a step of the path full (json.data.items[0].id): fields,
 * .name and [index] steps are read here so that an absence names the
 * whole path and the step that failed.
 */
static struct rbc_value *eval_path(struct ectx *c, const struct node *n, const struct node *full)
{
	if (n->kind == N_FIELD)
		return field(c, n, full);
	if (n->kind != N_MEMBER && n->kind != N_INDEX)
		return expr_eval_node(c, n);
	struct rbc_value *a = eval_path(c, n->a, full);
	if (a->type == VALUE_MISSING)
		return a;
	struct rbc_value *i = n->kind == N_INDEX ? expr_eval_node(c, n->b) : NULL, *r;
	if (n->kind == N_MEMBER)
		r = a->type == VALUE_OBJ ? step_key(c, full, n, a, n->name, strlen(n->name))
		                         : not_container(c, full, n, a, "an object");
	else if (i->type == VALUE_MISSING)
		r = value_ref(i);
	else if (a->type == VALUE_OBJ && i->type == VALUE_STR)
		r = step_key(c, full, n, a, i->u.str.s, i->u.str.len);
	else if (a->type == VALUE_LIST && i->type == VALUE_NUM)
		r = step_index(c, full, n, a, i);
	else if (a->type == VALUE_OBJ || a->type == VALUE_LIST)
		r = cannot(c, "index", a, "with", i);
	else
		r = not_container(c, full, n, a, "a list or an object");
	value_free(a);
	value_free(i);
	return r;
}

/* A bare field of the current sample. */
static struct rbc_value *eval_field(struct ectx *c, const struct node *n)
{
	return field(c, n, n);
}

/* vars.NAME through the environment. */
static struct rbc_value *eval_var(struct ectx *c, const struct node *n)
{
	const struct rbc_value *v = NULL;
	if (c->env && c->env->var)
		v = c->env->var(n->name, c->env->ud);
	return v ? value_ref(v) : value_missing_new("vars.%s is not set", n->name);
}

/* it: the element a list function is reading (the parser allows it nowhere else). */
static struct rbc_value *eval_it(struct ectx *c, const struct node *n)
{
	(void)n;
	return c->it ? value_ref(c->it) : value_missing_new("'it' is read outside a list function");
}

/* a.name and a[i]: a path step. */
static struct rbc_value *eval_step(struct ectx *c, const struct node *n)
{
	return eval_path(c, n, n);
}

/* A builtin call; aggregates are memoized per evaluation. */
static struct rbc_value *eval_call(struct ectx *c, const struct node *n)
{
	if (!n->fn->aggregate)
		return n->fn->fn(c, n);
	if (!c->memo[n->agg]) {
		long cur = c->cur;
		c->memo[n->agg] = n->fn->fn(c, n);
		c->cur = cur;
	}
	return value_ref(c->memo[n->agg]);
}

/* !a (three-valued) and -a. */
static struct rbc_value *eval_unary(struct ectx *c, const struct node *n)
{
	struct rbc_value *a = expr_eval_node(c, n->a);
	if (n->op == OP_NOT) {
		a = expr_eval_truth(c, n->a, a);
		if (a->type == VALUE_MISSING)
			return a;
		struct rbc_value *r = value_bool_new(!a->u.b);
		value_free(a);
		return r;
	}
	if (a->type == VALUE_MISSING)
		return a;
	struct rbc_value *r;
	if (a->type == VALUE_NUM) {
		r = value_num_new(-a->u.num.v, a->u.num.dim);
		r->secret = a->secret;
	} else {
		char *d = expr_describe(c, a);
		r = value_missing_new("cannot negate %s", d);
		free(d);
	}
	value_free(a);
	return r;
}

/* a && b, a || b: three-valued, b read only when a does not decide. */
static struct rbc_value *eval_logic(struct ectx *c, const struct node *n)
{
	bool decides = n->op == OP_OR; /* the value of a that decides alone */
	struct rbc_value *a = expr_eval_pred(c, n->a);
	if (a->type == VALUE_BOOL && a->u.b == decides)
		return a;
	struct rbc_value *b = expr_eval_pred(c, n->b);
	if (a->type == VALUE_BOOL || (b->type == VALUE_BOOL && b->u.b == decides)) {
		value_free(a);
		return b;
	}
	value_free(b);
	return a;
}

/* == != < <= > >=. */
static struct rbc_value *eval_cmp(struct ectx *c, const struct node *n, struct rbc_value *a,
                                  struct rbc_value *b)
{
	(void)c;
	bool order = n->op != OP_EQ && n->op != OP_NE;
	int sign = 0;
	struct rbc_value *why = expr_compare(c, a, b, order, &sign);
	if (why)
		return why;
	switch (n->op) {
	case OP_EQ: return value_bool_new(sign == 0);
	case OP_NE: return value_bool_new(sign != 0);
	case OP_LT: return value_bool_new(sign < 0);
	case OP_LE: return value_bool_new(sign <= 0);
	case OP_GT: return value_bool_new(sign > 0);
	default:    return value_bool_new(sign >= 0);
	}
}

/* a in b. */
static struct rbc_value *eval_in(struct ectx *c, const struct node *n, struct rbc_value *a,
                                 struct rbc_value *b)
{
	(void)c;
	(void)n;
	return expr_in(c, a, b);
}

/* a =~ /re/ and a !~ /re/ on text. */
static struct rbc_value *eval_match(struct ectx *c, const struct node *n, struct rbc_value *a,
                                    struct rbc_value *b)
{
	if (a->type == VALUE_MISSING)
		return value_ref(a);
	if (a->type != VALUE_STR) {
		char *d = expr_describe(c, a);
		struct rbc_value *r = value_missing_new("%s needs text, not %s", expr_op_text(n->op), d);
		free(d);
		return r;
	}
	struct regex *owned;
	struct rbc_value *bad;
	const struct regex *rx = expr_regex_of(c, n->b, b, &owned, &bad);
	if (!rx)
		return bad;
	char *why = NULL;
	int m = expr_regex_match(rx, a->u.str.s, a->u.str.len, NULL, NULL, &why);
	expr_regex_free(owned);
	if (m < 0) {
		struct rbc_value *r = value_missing_new("cannot match %.*s: %s", expr_node_len(c->e, n->b),
		                                        expr_node_src(c->e, n->b), why);
		free(why);
		return r;
	}
	return value_bool_new((m == 1) == (n->op == OP_MATCH));
}

/* Result dimension of a + b or a - b, or -1 when they do not agree. */
static int dim_add(enum rbc_dim a, enum rbc_dim b)
{
	return dims_agree(a, b) ? (int)(a != RBC_DIM_NONE ? a : b) : -1;
}

/* Result dimension of a * b: at most one side has a unit (a percentage scales). */
static int dim_mul(enum rbc_dim a, enum rbc_dim b)
{
	if (a == RBC_DIM_NONE || b == RBC_DIM_NONE)
		return (int)(a != RBC_DIM_NONE ? a : b);
	if (a == RBC_DIM_PERCENT)
		return (int)b;
	if (b == RBC_DIM_PERCENT)
		return (int)a;
	return -1;
}

/* Result dimension of a / b: by a plain number or a percentage keeps a's, like by like is plain. */
static int dim_div(enum rbc_dim a, enum rbc_dim b)
{
	if (b == RBC_DIM_NONE || (b == RBC_DIM_PERCENT && a != RBC_DIM_NONE))
		return (int)a;
	if (a == b)
		return RBC_DIM_NONE;
	return -1;
}

/* Arithmetic operators: how messages name them and how they combine. */
static const struct arith {
	enum expr_op op;
	const char *verb, *sep;
	int (*dim)(enum rbc_dim, enum rbc_dim);
} ariths[] = {
	{OP_ADD, "add", "and", dim_add},
	{OP_SUB, "subtract", "minus", dim_add},
	{OP_MUL, "multiply", "by", dim_mul},
	{OP_DIV, "divide", "by", dim_div},
};

/* + - * / on numbers with units; + joins texts. */
static struct rbc_value *eval_arith(struct ectx *c, const struct node *n, struct rbc_value *a,
                                    struct rbc_value *b)
{
	const struct arith *ar = &ariths[0];
	while (ar->op != n->op)
		ar++;
	if (a->type == VALUE_MISSING)
		return value_ref(a);
	if (b->type == VALUE_MISSING)
		return value_ref(b);
	if (n->op == OP_ADD && a->type == VALUE_STR && b->type == VALUE_STR) {
		size_t len = a->u.str.len + b->u.str.len;
		char *s = xmalloc(len + 1);
		memcpy(s, a->u.str.s, a->u.str.len);
		memcpy(s + a->u.str.len, b->u.str.s, b->u.str.len);
		s[len] = '\0';
		return value_str_cut(value_str_take(s, len),
		                     (a->u.str.cut & MASK_CUT_HEAD) | (b->u.str.cut & MASK_CUT_TAIL));
	}
	if (a->type != VALUE_NUM || b->type != VALUE_NUM)
		return cannot(c, ar->verb, a, ar->sep, b);
	int dim = ar->dim(a->u.num.dim, b->u.num.dim);
	if (dim < 0)
		return cannot(c, ar->verb, a, ar->sep, b);
	double x = a->u.num.v, y = b->u.num.v, r;
	switch (n->op) {
	case OP_ADD: r = x + y; break;
	case OP_SUB: r = x - y; break;
	case OP_MUL: r = x * y; break;
	default:
		if (y == 0)
			return value_missing_new("division by zero in %.*s", expr_node_len(c->e, n),
			                         expr_node_src(c->e, n));
		r = x / y;
		break;
	}
	if (!isfinite(r))
		return value_missing_new("%.*s is out of range", expr_node_len(c->e, n),
		                         expr_node_src(c->e, n));
	struct rbc_value *v = value_num_new(r, (enum rbc_dim)dim);
	v->secret = a->secret || b->secret;
	return v;
}

/* Binary operators that read both operands, by operator. */
typedef struct rbc_value *binary_fn(struct ectx *, const struct node *, struct rbc_value *,
                                    struct rbc_value *);
static binary_fn *const binary_ops[] = {
	[OP_ADD] = eval_arith, [OP_SUB] = eval_arith, [OP_MUL] = eval_arith, [OP_DIV] = eval_arith,
	[OP_EQ] = eval_cmp, [OP_NE] = eval_cmp, [OP_LT] = eval_cmp, [OP_LE] = eval_cmp,
	[OP_GT] = eval_cmp, [OP_GE] = eval_cmp, [OP_IN] = eval_in,
	[OP_MATCH] = eval_match, [OP_NMATCH] = eval_match,
};

/* A binary operator: && || decide lazily, the others read both sides. */
static struct rbc_value *eval_binary(struct ectx *c, const struct node *n)
{
	if (n->op == OP_AND || n->op == OP_OR)
		return eval_logic(c, n);
	struct rbc_value *a = expr_eval_node(c, n->a);
	/* A regex literal has no value; re(text)'s is its text, compiled by the match. */
	struct rbc_value *b = n->b->kind == N_REGEX ? value_null_new() : expr_eval_node(c, n->b);
	struct rbc_value *r = binary_ops[n->op](c, n, a, b);
	value_free(a);
	value_free(b);
	return r;
}

/* Evaluation of each kind of node. */
static struct rbc_value *(*const eval_kinds[])(struct ectx *, const struct node *) = {
	[N_LIT] = eval_lit, [N_LIST] = eval_list, [N_REGEX] = eval_regex,
	[N_FIELD] = eval_field, [N_VAR] = eval_var, [N_MEMBER] = eval_step,
	[N_INDEX] = eval_step, [N_CALL] = eval_call, [N_UNARY] = eval_unary,
	[N_BINARY] = eval_binary, [N_IT] = eval_it,
};

struct rbc_value *expr_eval_node(struct ectx *c, const struct node *n)
{
	return eval_kinds[n->kind](c, n);
}

void expr_tally(struct ectx *c, const struct node *n, struct tally *t)
{
	long cur = c->cur;
	size_t run = 0;
	memset(t, 0, sizeof *t);
	t->n = c->nsamples;
	t->first_hold = t->first_fail = t->first_unknown = -1;
	for (size_t i = 0; i < c->nsamples; i++) {
		c->cur = (long)i;
		struct rbc_value *v = expr_eval_pred(c, n);
		if (v->type == VALUE_MISSING) {
			if (t->unknown++ == 0) {
				t->first_unknown = (long)i;
				t->unknown_why = value_ref(v);
			}
			run = 0;
		} else if (v->u.b) {
			if (t->hold++ == 0)
				t->first_hold = (long)i;
			if (++run > t->streak)
				t->streak = run;
		} else {
			if (t->fail++ == 0)
				t->first_fail = (long)i;
			run = 0;
		}
		value_free(v);
	}
	c->cur = cur;
}

void expr_tally_done(struct tally *t)
{
	value_free(t->unknown_why);
	t->unknown_why = NULL;
}

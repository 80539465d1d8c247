/*
 * agg.c — aggregates over the samples of a repeated probe.
 *
 * An aggregate evaluates its argument once per sample. Predicates (all,
 * any, none, count, rate, streak) follow three-valued logic: all() is false
 * as soon as one sample fails and unknown only when none fails but some are
 * unknown; counting needs every sample known. Numbers (min … p99) skip
 * nothing: one sample without a value makes the aggregate unknown, saying
 * how many lacked it. Zero samples make every aggregate unknown.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The argument read per sample: the last one (p(P, x) reads x). */
static const struct node *per_sample_arg(const struct node *call)
{
	return call->args[call->nargs - 1];
}

/* Tallies the predicate of call; false (and *r "no samples") without samples. */
static bool tally_call(struct ectx *c, const struct node *call, struct tally *t,
                       struct rbc_value **r)
{
	if (c->nsamples == 0) {
		*r = value_missing_new("no samples");
		return false;
	}
	expr_tally(c, per_sample_arg(call), t);
	return true;
}

/* MISSING explained by the tally of call. */
static struct rbc_value *tally_unknown(struct ectx *c, const struct node *call,
                                       const struct tally *t, bool matches)
{
	struct strbuf sb = {0};
	expr_explain_tally(c, per_sample_arg(call), expr_node_src(c->e, call),
	                   expr_node_len(c->e, call), t, matches, &sb);
	struct rbc_value *r = value_missing_new("%s", sb_borrow(&sb));
	sb_free(&sb);
	return r;
}

/* all(c): false when a sample fails, else unknown when one is unknown. */
static struct rbc_value *fn_all(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r;
	if (!tally_call(c, call, &t, &r))
		return r;
	r = t.fail ? value_bool_new(false) : t.unknown ? tally_unknown(c, call, &t, false)
	                                               : value_bool_new(true);
	expr_tally_done(&t);
	return r;
}

/* any(c): true when a sample holds, else unknown when one is unknown. */
static struct rbc_value *fn_any(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r;
	if (!tally_call(c, call, &t, &r))
		return r;
	r = t.hold ? value_bool_new(true) : t.unknown ? tally_unknown(c, call, &t, true)
	                                              : value_bool_new(false);
	expr_tally_done(&t);
	return r;
}

/* none(c): !any(c). */
static struct rbc_value *fn_none(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r;
	if (!tally_call(c, call, &t, &r))
		return r;
	r = t.hold ? value_bool_new(false) : t.unknown ? tally_unknown(c, call, &t, true)
	                                               : value_bool_new(true);
	expr_tally_done(&t);
	return r;
}

/* Explains all(), or any()/none() with matches: the tally again. */
static void explain_tally_call(struct ectx *c, const struct node *call, struct strbuf *sb,
                               bool matches)
{
	struct tally t;
	expr_tally(c, per_sample_arg(call), &t);
	expr_explain_tally(c, per_sample_arg(call), expr_node_src(c->e, call),
	                   expr_node_len(c->e, call), &t, matches, sb);
	expr_tally_done(&t);
}

/* all(): the tally with the first failing sample. */
static void explain_all(struct ectx *c, const struct node *call, const struct rbc_value *v,
                        struct strbuf *sb)
{
	(void)v;
	explain_tally_call(c, call, sb, false);
}

/* any(), none(): the tally with the first matching sample. */
static void explain_any(struct ectx *c, const struct node *call, const struct rbc_value *v,
                        struct strbuf *sb)
{
	(void)v;
	explain_tally_call(c, call, sb, true);
}

/*
 * Tallies call for counting: returns NULL with *t filled, or a MISSING
 * when there are no samples or some are unknown.
 */
static struct rbc_value *counted(struct ectx *c, const struct node *call, struct tally *t)
{
	struct rbc_value *r;
	if (!tally_call(c, call, t, &r))
		return r;
	if (t->unknown) {
		r = value_missing_new("%.*s: %zu of %zu samples unknown; first unknown sample %ld: %s",
		                      expr_node_len(c->e, call), expr_node_src(c->e, call), t->unknown,
		                      t->n, t->first_unknown + 1, t->unknown_why->u.why);
		expr_tally_done(t);
		return r;
	}
	return NULL;
}

/* count(c): the samples where c holds. */
static struct rbc_value *fn_count(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r = counted(c, call, &t);
	return r ? r : value_num_new((double)t.hold, RBC_DIM_NONE);
}

/* rate(c): the fraction of samples where c holds, as a percentage. */
static struct rbc_value *fn_rate(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r = counted(c, call, &t);
	return r ? r : value_num_new((double)t.hold / (double)t.n, RBC_DIM_PERCENT);
}

/* streak(c): the longest run of consecutive samples where c holds. */
static struct rbc_value *fn_streak(struct ectx *c, const struct node *call)
{
	struct tally t;
	struct rbc_value *r = counted(c, call, &t);
	return r ? r : value_num_new((double)t.streak, RBC_DIM_NONE);
}

/*
 * Reads the argument of call as a number from every sample into *xs
 * (caller frees) and their common dimension into *dim. Returns NULL, or a
 * MISSING saying which samples lack a number.
 */
static struct rbc_value *numbers(struct ectx *c, const struct node *call, double **xs,
                                 enum rbc_dim *dim, bool *secret)
{
	size_t n = c->nsamples, missing = 0;
	if (n == 0)
		return value_missing_new("no samples");
	const struct node *a = per_sample_arg(call);
	struct rbc_value *first_why = NULL, *bad = NULL;
	double *v = xmalloc(n * sizeof *v);
	long cur = c->cur;
	*dim = RBC_DIM_NONE;
	for (size_t i = 0; i < n; i++) {
		c->cur = (long)i;
		struct rbc_value *x = expr_eval_node(c, a);
		if (x->type == VALUE_MISSING) {
			if (missing++ == 0)
				first_why = value_ref(x);
		} else if (!bad && (x->type != VALUE_NUM || isnan(x->u.num.v) ||
		                    (*dim != RBC_DIM_NONE && x->u.num.dim != RBC_DIM_NONE &&
		                     x->u.num.dim != *dim))) {
			struct strbuf sb = {0};
			expr_explain_operand(c, a, x, NULL, &sb);
			bad = value_missing_new("sample %zu: %s is not a number%s", i + 1, sb_borrow(&sb),
			                        x->type == VALUE_NUM && !isnan(x->u.num.v)
			                                ? " in the unit of the others" : "");
			sb_free(&sb);
		} else if (x->type == VALUE_NUM) {
			v[i] = x->u.num.v;
			*secret = *secret || x->secret;
			if (x->u.num.dim != RBC_DIM_NONE)
				*dim = x->u.num.dim;
		}
		value_free(x);
	}
	c->cur = cur;
	struct rbc_value *r = bad;
	if (missing) {
		value_free(bad);
		r = n == 1 ? value_ref(first_why)
		           : value_missing_new("%zu of %zu samples have no %.*s", missing, n,
		                               expr_node_len(c->e, a), expr_node_src(c->e, a));
	}
	value_free(first_why);
	if (r) {
		free(v);
		return r;
	}
	*xs = v;
	return NULL;
}

/* Reduces the numbers of call with f; keeps their dimension. */
static struct rbc_value *reduce(struct ectx *c, const struct node *call,
                                double (*f)(double *xs, size_t n, const void *ud), const void *ud)
{
	double *xs = NULL;
	enum rbc_dim dim = RBC_DIM_NONE;
	bool secret = false;
	struct rbc_value *r = numbers(c, call, &xs, &dim, &secret);
	if (r)
		return r;
	double v = f(xs, c->nsamples, ud);
	free(xs);
	if (!isfinite(v))
		return value_missing_new("%.*s is out of range", expr_node_len(c->e, call),
		                         expr_node_src(c->e, call));
	r = value_num_new(v, dim);
	r->secret = secret; /* made from numbers read out of a secret */
	return r;
}

/* The smallest of xs. */
static double r_min(double *xs, size_t n, const void *ud)
{
	(void)ud;
	double m = xs[0];
	for (size_t i = 1; i < n; i++)
		m = xs[i] < m ? xs[i] : m;
	return m;
}

/* The largest of xs. */
static double r_max(double *xs, size_t n, const void *ud)
{
	(void)ud;
	double m = xs[0];
	for (size_t i = 1; i < n; i++)
		m = xs[i] > m ? xs[i] : m;
	return m;
}

/* The sum of xs. */
static double r_sum(double *xs, size_t n, const void *ud)
{
	(void)ud;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += xs[i];
	return s;
}

/* The mean of xs. */
static double r_avg(double *xs, size_t n, const void *ud)
{
	return r_sum(xs, n, ud) / (double)n;
}

/* qsort order of doubles (no NaN reaches here). */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * The percentile *ud (0–100) by linear interpolation between closest ranks,
 * Hyndman–Fan type 7 (as k6): i = p·(n−1) into the sorted values.
 */
static double r_percentile(double *xs, size_t n, const void *ud)
{
	double p = *(const double *)ud;
	qsort(xs, n, sizeof *xs, cmp_double);
	double i = p * (double)(n - 1) / 100;
	size_t lo = (size_t)floor(i), hi = (size_t)ceil(i);
	if (hi >= n)
		hi = n - 1;
	if (lo > hi)
		lo = hi;
	return xs[lo] + (i - (double)lo) * (xs[hi] - xs[lo]);
}

/* min(x) over the samples. */
static struct rbc_value *fn_min(struct ectx *c, const struct node *call)
{
	return reduce(c, call, r_min, NULL);
}

/* max(x) over the samples. */
static struct rbc_value *fn_max(struct ectx *c, const struct node *call)
{
	return reduce(c, call, r_max, NULL);
}

/* sum(x) over the samples. */
static struct rbc_value *fn_sum(struct ectx *c, const struct node *call)
{
	return reduce(c, call, r_sum, NULL);
}

/* avg(x) over the samples. */
static struct rbc_value *fn_avg(struct ectx *c, const struct node *call)
{
	return reduce(c, call, r_avg, NULL);
}

/* The fixed percentiles: med and p50 … p99. */
#define FIXED_PERCENTILE(name, p)                                              \
	static struct rbc_value *fn_##name(struct ectx *c, const struct node *call) \
	{                                                                      \
		static const double pct = p;                                   \
		return reduce(c, call, r_percentile, &pct);                    \
	}
FIXED_PERCENTILE(med, 50)
FIXED_PERCENTILE(p50, 50)
FIXED_PERCENTILE(p90, 90)
FIXED_PERCENTILE(p95, 95)
FIXED_PERCENTILE(p99, 99)
#undef FIXED_PERCENTILE

/* p(P, x): the percentile P, a literal checked at parse time. */
static struct rbc_value *fn_p(struct ectx *c, const struct node *call)
{
	return reduce(c, call, r_percentile, &call->args[0]->lit->u.num.v);
}

/* p(P, x) at parse time: P must be a plain number literal from 0 to 100. */
static char *check_p(struct node *call, size_t *at)
{
	const struct node *p = call->args[0];
	if (p->kind == N_LIT && p->lit->type == VALUE_NUM && p->lit->u.num.dim == RBC_DIM_NONE &&
	    p->lit->u.num.v >= 0 && p->lit->u.num.v <= 100)
		return NULL;
	*at = p->start;
	return xstrdup("p() needs a percentile from 0 to 100 as its first argument, "
	               "such as p(99.9, time)");
}

/* The value of the argument in sample i. */
static struct rbc_value *at_sample(struct ectx *c, const struct node *call, size_t i)
{
	if (c->nsamples == 0)
		return value_missing_new("no samples");
	long cur = c->cur;
	c->cur = (long)i;
	struct rbc_value *v = expr_eval_node(c, per_sample_arg(call));
	c->cur = cur;
	return v;
}

/* first(x): x in the first sample. */
static struct rbc_value *fn_first(struct ectx *c, const struct node *call)
{
	return at_sample(c, call, 0);
}

/* last(x): x in the last sample. */
static struct rbc_value *fn_last(struct ectx *c, const struct node *call)
{
	return at_sample(c, call, c->nsamples - 1);
}

const struct builtin expr_aggregates[] = {
	{"all", 1, 1, true, 0, fn_all, NULL, explain_all},
	{"any", 1, 1, true, 0, fn_any, NULL, explain_any},
	{"none", 1, 1, true, 0, fn_none, NULL, explain_any},
	{"count", 1, 1, true, 0, fn_count, NULL, NULL},
	{"rate", 1, 1, true, 0, fn_rate, NULL, NULL},
	{"streak", 1, 1, true, 0, fn_streak, NULL, NULL},
	{"min", 1, 1, true, 0, fn_min, NULL, NULL},
	{"max", 1, 1, true, 0, fn_max, NULL, NULL},
	{"avg", 1, 1, true, 0, fn_avg, NULL, NULL},
	{"med", 1, 1, true, 0, fn_med, NULL, NULL},
	{"sum", 1, 1, true, 0, fn_sum, NULL, NULL},
	{"first", 1, 1, true, 0, fn_first, NULL, NULL},
	{"last", 1, 1, true, 0, fn_last, NULL, NULL},
	{"p50", 1, 1, true, 0, fn_p50, NULL, NULL},
	{"p90", 1, 1, true, 0, fn_p90, NULL, NULL},
	{"p95", 1, 1, true, 0, fn_p95, NULL, NULL},
	{"p99", 1, 1, true, 0, fn_p99, NULL, NULL},
	{"p", 2, 2, true, 0, fn_p, check_p, NULL},
};

const size_t expr_naggregates = RBC_ARRAY_LEN(expr_aggregates);

/*
 * verdict.c — judges probe results: expect and warn against the samples,
 * into a verdict and the sentence that explains it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct {
	const char *name;
	int exit_code;
	int rank; /* verdict_worst keeps the higher */
} verdicts[] = {
	[RBC_VERDICT_PASS] = {"PASS", RBC_EXIT_PASS, 0},
	[RBC_VERDICT_WARN] = {"WARN", RBC_EXIT_WARN, 1},
	[RBC_VERDICT_UNKNOWN] = {"UNKNOWN", RBC_EXIT_UNKNOWN, 2},
	[RBC_VERDICT_FAIL] = {"FAIL", RBC_EXIT_FAIL, 3},
	[RBC_VERDICT_ERROR] = {"ERROR", RBC_EXIT_UNKNOWN, 4},
};

/* The names of the X-macro list, to keep the table above honest. */
static const char *const verdict_names[] = {
#define VERDICT_NAME(name, text) text,
	RBC_VERDICTS(VERDICT_NAME)
#undef VERDICT_NAME
};

_Static_assert(RBC_ARRAY_LEN(verdicts) == RBC_ARRAY_LEN(verdict_names),
               "every verdict of RBC_VERDICTS needs its exit code and rank");

const char *verdict_name(enum rbc_verdict v)
{
	return (size_t)v < RBC_ARRAY_LEN(verdict_names) ? verdict_names[v] : "?";
}

bool verdict_parse(const char *name, enum rbc_verdict *v)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(verdict_names); i++) {
		if (strcmp(verdict_names[i], name) == 0) {
			*v = (enum rbc_verdict)i;
			return true;
		}
	}
	return false;
}

int verdict_exit_code(enum rbc_verdict v)
{
	return (size_t)v < RBC_ARRAY_LEN(verdicts) ? verdicts[v].exit_code : RBC_EXIT_UNKNOWN;
}

enum rbc_verdict verdict_worst(enum rbc_verdict a, enum rbc_verdict b)
{
	return verdicts[a].rank >= verdicts[b].rank ? a : b;
}

/* True when n's explanation counts the samples itself: all(), any(), none(). */
static bool counts_samples(const struct node *n)
{
	return n->kind == N_CALL && n->fn->aggregate && n->fn->explain;
}

/*
 * Judges e as a predicate: 1 true, 0 false, -1 unknown, explained into sb.
 * Fields outside aggregates over several samples: once per sample, all().
 */
static int judge_one(const struct expr *e, const struct expr_env *env, struct strbuf *sb)
{
	struct ectx c;
	int truth;
	expr_ctx_init(&c, e, env);
	if (e->bare && c.nsamples > 1) {
		struct tally t;
		expr_tally(&c, e->root, &t);
		char *label = xasprintf("all(%.*s)", expr_node_len(e, e->root), expr_node_src(e, e->root));
		expr_explain_tally(&c, e->root, label, (int)strlen(label), &t, false, sb);
		free(label);
		truth = t.fail ? 0 : t.unknown ? -1 : 1;
		expr_tally_done(&t);
	} else {
		c.cur = c.nsamples == 1 ? 0 : -1;
		struct rbc_value *v = expr_eval_pred(&c, e->root);
		expr_explain_node(&c, e->root, v, sb);
		truth = v->type == VALUE_MISSING ? -1 : v->u.b;
		if (truth >= 0 && c.nsamples > 1 && !counts_samples(e->root))
			sb_addf(sb, " (%zu samples)", c.nsamples);
		value_free(v);
	}
	expr_ctx_done(&c);
	return truth;
}

enum rbc_verdict expr_judge(const struct expr *expect, const struct expr *warn,
                            const struct expr_env *env, const char *probe_error,
                            char **explain)
{
	static const enum rbc_verdict by_truth[] = {RBC_VERDICT_UNKNOWN, RBC_VERDICT_FAIL,
	                                            RBC_VERDICT_PASS};
	if (probe_error) {
		*explain = xstrdup(probe_error);
		return RBC_VERDICT_ERROR;
	}
	struct strbuf sb = {0};
	enum rbc_verdict v = RBC_VERDICT_PASS;
	if (expect)
		v = by_truth[judge_one(expect, env, &sb) + 1];
	else
		sb_adds(&sb, "no expectation to check");
	if (v == RBC_VERDICT_PASS && warn) {
		struct strbuf w = {0};
		int wt = judge_one(warn, env, &w);
		if (wt == 1) {
			v = RBC_VERDICT_WARN;
			sb_addf(&sb, "; warn: %s", sb_borrow(&w));
		} else if (wt < 0) {
			sb_addf(&sb, "; warn unknown: %s", sb_borrow(&w));
		}
		sb_free(&w);
	}
	*explain = sb_take(&sb);
	return v;
}

struct rbc_value *expr_eval(const struct expr *e, const struct expr_env *env, char **explain)
{
	struct ectx c;
	expr_ctx_init(&c, e, env);
	c.cur = (long)c.nsamples - 1;
	struct rbc_value *v = expr_eval_node(&c, e->root);
	if (explain) {
		struct strbuf sb = {0};
		if (v->type == VALUE_MISSING)
			sb_adds(&sb, v->u.why);
		else
			expr_explain_operand(&c, e->root, v, NULL, &sb);
		*explain = sb_take(&sb);
	}
	expr_ctx_done(&c);
	return v;
}

int expr_truth(const struct expr *e, const struct expr_env *env, char **explain)
{
	struct ectx c;
	expr_ctx_init(&c, e, env);
	c.cur = (long)c.nsamples - 1;
	struct rbc_value *v = expr_eval_pred(&c, e->root);
	if (explain) {
		struct strbuf sb = {0};
		expr_explain_node(&c, e->root, v, &sb);
		*explain = sb_take(&sb);
	}
	int truth = v->type == VALUE_MISSING ? -1 : v->u.b;
	value_free(v);
	expr_ctx_done(&c);
	return truth;
}

/*
 * explain.c — says why an expression has the value it has.
 *
 * A comparison shows its left side (source = value), the relation that
 * actually holds and its right side: "p95(time) = 612 ms > 500 ms". &&
 * and || show the operands that decided; an unknown shows its reason; a
 * predicate over samples shows how many samples hold and the first that
 * did not. Sub-expressions are evaluated again to be shown: evaluation has
 * no side effects and aggregates are memoized, so this only costs time.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* "left = value REL right", REL being the relation that holds. */
static void explain_cmp(struct ectx *c, const struct node *n, const struct rbc_value *v,
                        struct strbuf *sb)
{
	struct rbc_value *a = expr_eval_node(c, n->a), *b = expr_eval_node(c, n->b);
	const char *rel;
	if (n->op == OP_EQ || n->op == OP_NE) {
		rel = v->u.b == (n->op == OP_EQ) ? "==" : "!=";
	} else {
		int sign = 0;
		value_free(expr_compare(c, a, b, true, &sign));
		if (sign != 0)
			rel = sign < 0 ? "<" : ">";
		else if (v->u.b && (n->op == OP_LE || n->op == OP_GE))
			rel = expr_op_text(n->op);
		else
			rel = "==";
	}
	expr_explain_operand(c, n->a, a, b, sb);
	sb_addf(sb, " %s ", rel);
	expr_explain_operand(c, n->b, b, a, sb);
	value_free(a);
	value_free(b);
}

/* "x in [..]" or "x not in [..]". */
static void explain_in(struct ectx *c, const struct node *n, const struct rbc_value *v,
                       struct strbuf *sb)
{
	struct rbc_value *a = expr_eval_node(c, n->a), *b = expr_eval_node(c, n->b);
	expr_explain_operand(c, n->a, a, NULL, sb);
	sb_adds(sb, v->u.b ? " in " : " not in ");
	expr_explain_operand(c, n->b, b, NULL, sb);
	value_free(a);
	value_free(b);
}

/* "x = \"…\" =~ /re/" or "… !~ /re/", by whether it matched. */
static void explain_match(struct ectx *c, const struct node *n, const struct rbc_value *v,
                          struct strbuf *sb)
{
	struct rbc_value *a = expr_eval_node(c, n->a);
	bool matched = v->u.b == (n->op == OP_MATCH);
	expr_explain_operand(c, n->a, a, NULL, sb);
	sb_adds(sb, matched ? " =~ " : " !~ ");
	sb_add(sb, expr_node_src(c->e, n->b), (size_t)expr_node_len(c->e, n->b));
	value_free(a);
}

/* Appends "; " between parts. */
static void separate(struct strbuf *sb, size_t mark)
{
	if (sb->len > mark)
		sb_adds(sb, "; ");
}

/*
 * && and ||: the operand that decided alone (false for &&, true for ||),
 * else both operands when both were needed, else the unknown ones.
 */
static void explain_logic(struct ectx *c, const struct node *n, const struct rbc_value *v,
                          struct strbuf *sb)
{
	bool decides = n->op == OP_OR;
	size_t mark = sb->len;
	struct rbc_value *a = expr_eval_pred(c, n->a), *b = NULL;
	bool a_decides = a->type == VALUE_BOOL && a->u.b == decides;
	if (!a_decides)
		b = expr_eval_pred(c, n->b);
	if (v->type == VALUE_BOOL && v->u.b == decides) {
		if (a_decides)
			expr_explain_node(c, n->a, a, sb);
		else
			expr_explain_node(c, n->b, b, sb);
	} else {
		if (v->type != VALUE_MISSING || a->type == VALUE_MISSING)
			expr_explain_node(c, n->a, a, sb);
		if (v->type != VALUE_MISSING || b->type == VALUE_MISSING) {
			separate(sb, mark);
			expr_explain_node(c, n->b, b, sb);
		}
	}
	value_free(a);
	value_free(b);
}

void expr_explain_node(struct ectx *c, const struct node *n, const struct rbc_value *v,
                       struct strbuf *sb)
{
	if (n->kind == N_BINARY && (n->op == OP_AND || n->op == OP_OR)) {
		explain_logic(c, n, v, sb);
		return;
	}
	if (v->type == VALUE_MISSING) {
		sb_adds(sb, v->u.why);
		return;
	}
	if (n->kind == N_BINARY && v->type == VALUE_BOOL) {
		switch (n->op) {
		case OP_IN:
			explain_in(c, n, v, sb);
			return;
		case OP_MATCH:
		case OP_NMATCH:
			explain_match(c, n, v, sb);
			return;
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
			break;
		default:
			explain_cmp(c, n, v, sb);
			return;
		}
	}
	if (n->kind == N_UNARY && n->op == OP_NOT) {
		struct rbc_value *a = expr_eval_pred(c, n->a);
		expr_explain_node(c, n->a, a, sb);
		value_free(a);
		return;
	}
	if (n->kind == N_CALL && n->fn->explain) {
		n->fn->explain(c, n, v, sb);
		return;
	}
	expr_explain_operand(c, n, v, NULL, sb);
}

void expr_explain_tally(struct ectx *c, const struct node *n, const char *label, int labellen,
                        const struct tally *t, bool matches, struct strbuf *sb)
{
	sb_addf(sb, "%.*s: %zu/%zu samples hold", labellen, label, t->hold, t->n);
	if (t->unknown)
		sb_addf(sb, ", %zu unknown", t->unknown);
	long at;
	const char *what;
	if (matches && t->first_hold >= 0)
		at = t->first_hold, what = "first match";
	else if (!matches && t->first_fail >= 0)
		at = t->first_fail, what = "first failure";
	else if (t->first_unknown >= 0)
		at = t->first_unknown, what = "first unknown";
	else
		return;
	sb_addf(sb, "; %s sample %ld: ", what, at + 1);
	if (at == t->first_unknown) {
		sb_adds(sb, t->unknown_why->u.why);
		return;
	}
	long cur = c->cur;
	c->cur = at;
	struct rbc_value *v = expr_eval_pred(c, n);
	expr_explain_node(c, n, v, sb);
	value_free(v);
	c->cur = cur;
}

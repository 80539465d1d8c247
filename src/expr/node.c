/*
 * node.c — how messages show the pieces of an expression: a node's source
 * text, an operator as written, a value described or formatted with the
 * run's secrets masked, an operand as "source = value".
 *
 * Shared by the parser, the evaluator, the explainer and the builtins; it
 * evaluates nothing and imports none of them, so they need not import each
 * other for their messages.
 */
#include <stdlib.h>

#include "internal.h"

/* How messages name a number of each dimension. */
static const char *const dim_names[] = {"number", "time", "size", "percentage"};

static const char *const op_texts[] = {
#define OP_TEXT(name, text) text,
	EXPR_OPS(OP_TEXT)
#undef OP_TEXT
};

/* The operator as written ("?" for none). */
const char *expr_op_text(enum expr_op op)
{
	return (size_t)op < RBC_ARRAY_LEN(op_texts) ? op_texts[op] : "?";
}

/* The start of n's source text in the expression's shown source. */
const char *expr_node_src(const struct expr *e, const struct node *n)
{
	return e->shown + n->start;
}

/* Appends n bytes of s: control characters as ' ', invalid UTF-8 as '?'. */
void expr_add_shown(struct strbuf *sb, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7F) {
			sb_addc(sb, k == 0 ? '?' : ' ');
			i++;
		} else {
			sb_add(sb, s + i, k);
			i += k;
		}
	}
}

/* The length in bytes of n's source text. */
int expr_node_len(const struct expr *e, const struct node *n)
{
	(void)e;
	return (int)(n->end - n->start);
}

/* Appends v as messages show it, the environment's secrets masked first. */
void expr_format_sb(const struct ectx *c, struct strbuf *sb, const struct rbc_value *v,
                    size_t maxchars)
{
	const struct mask *m = c && c->env ? c->env->mask : NULL;
	struct rbc_value *shown = value_masked(v, m);
	value_format_sb(sb, shown, maxchars);
	value_free(shown);
}

/* expr_format_sb into a new string (caller frees). */
char *expr_format(const struct ectx *c, const struct rbc_value *v, size_t maxchars)
{
	struct strbuf sb = {0};
	expr_format_sb(c, &sb, v, maxchars);
	return sb_take(&sb);
}

/* "type value" for messages: "text \"abc\"", "time 5 ms" (caller frees). */
char *expr_describe(const struct ectx *c, const struct rbc_value *v)
{
	char *f = expr_format(c, v, EXPR_SHOW_CHARS);
	char *r;
	if (v->type == VALUE_NUM)
		r = xasprintf("%s %s", dim_names[v->u.num.dim], f);
	else if (v->type == VALUE_NULL)
		r = xstrdup("null");
	else
		r = xasprintf("%s %s", value_type_name(v->type), f);
	free(f);
	return r;
}

/* True for a literal: shown as its value alone. */
static bool is_literal(const struct node *n)
{
	if (n->kind == N_LIT || n->kind == N_REGEX)
		return true;
	if (n->kind != N_LIST)
		return false;
	for (size_t i = 0; i < n->nargs; i++)
		if (!is_literal(n->args[i]))
			return false;
	return true;
}

/* Appends n's value v: the value alone for a literal, else "source = value". */
void expr_explain_operand(const struct ectx *c, const struct node *n, const struct rbc_value *v,
                          const struct rbc_value *other, struct strbuf *sb)
{
	if (!is_literal(n)) {
		sb_add(sb, expr_node_src(c->e, n), (size_t)expr_node_len(c->e, n));
		sb_adds(sb, " = ");
	} else if (v->type == VALUE_NUM && v->u.num.dim == RBC_DIM_NONE && other &&
	           other->type == VALUE_NUM && other->u.num.dim != RBC_DIM_NONE) {
		/* "time < 500": the plain 500 means 500 ms, so show it so. */
		struct rbc_value shown = *v;
		shown.u.num.dim = other->u.num.dim;
		expr_format_sb(c, sb, &shown, EXPR_SHOW_CHARS);
		return;
	}
	expr_format_sb(c, sb, v, EXPR_SHOW_CHARS);
}

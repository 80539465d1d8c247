/*
 * parse.c — builds the syntax tree of an expression.
 *
 * Precedence climbing, lowest first: ||, &&, comparisons (== != < <= > >=
 * in =~ !~, which do not chain), + -, * /, unary ! -, then postfix .name
 * and [index]. Nesting (parentheses, lists, calls, indexes, unary
 * operators) is limited to EXPR_MAX_DEPTH levels, so the recursion here is
 * bounded, and the tree to EXPR_MAX_HEIGHT, which bounds every recursion
 * over it. Regexes are compiled and literal Nagios ranges checked here, so
 * their errors come with a column before anything runs.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Binary operators by token, with the precedence level they belong to. */
enum level { L_OR, L_AND, L_CMP, L_ADD, L_MUL };

static const struct {
	enum tok_kind tok;
	enum expr_op op;
	enum level level;
} binops[] = {
	{TOK_OR, OP_OR, L_OR},      {TOK_AND, OP_AND, L_AND},
	{TOK_EQ, OP_EQ, L_CMP},     {TOK_NE, OP_NE, L_CMP},
	{TOK_LT, OP_LT, L_CMP},     {TOK_LE, OP_LE, L_CMP},
	{TOK_GT, OP_GT, L_CMP},     {TOK_GE, OP_GE, L_CMP},
	{TOK_MATCH, OP_MATCH, L_CMP}, {TOK_NMATCH, OP_NMATCH, L_CMP},
	{TOK_PLUS, OP_ADD, L_ADD},  {TOK_MINUS, OP_SUB, L_ADD},
	{TOK_STAR, OP_MUL, L_MUL},  {TOK_SLASH, OP_DIV, L_MUL},
};

/* Words people write for operators, and what to use instead. */
static const struct {
	const char *word;
	const char *use;
} word_hints[] = {
	{"and", "&&"}, {"or", "||"}, {"not", "!"}, {"AND", "&&"}, {"OR", "||"},
};

struct parser {
	struct expr *e;
	struct token *t;
	size_t nt, pos;
	unsigned depth;
	size_t erroff;
	char *msg; /* the first error; later ones are dropped */
};

/* Records an error at byte offset at (the first one wins); returns NULL. */
static struct node *perror_at(struct parser *p, size_t at, char *msg)
{
	if (!p->msg) {
		p->erroff = at;
		p->msg = msg;
	} else {
		free(msg);
	}
	return NULL;
}

/* The current token. */
static const struct token *cur(const struct parser *p)
{
	return &p->t[p->pos];
}

/* Moves past the current token (never past EOF). */
static void advance(struct parser *p)
{
	if (p->t[p->pos].kind != TOK_EOF)
		p->pos++;
}

/* True when the current token is the name word. */
static bool at_word(const struct parser *p, const char *word)
{
	const struct token *t = cur(p);
	return t->kind == TOK_IDENT && strcmp(t->str, word) == 0;
}

/* How an error message names token t: "'status'", "')'", "end of expression". */
static char *describe(const struct parser *p, const struct token *t)
{
	if (t->kind == TOK_IDENT || t->kind == TOK_NUM)
		return xasprintf("'%.*s'", (int)(t->end - t->start), p->e->shown + t->start);
	return xstrdup(expr_tok_name(t->kind));
}

/* Error "expected WHAT, found <current token>". */
static struct node *expected(struct parser *p, const char *what)
{
	char *d = describe(p, cur(p));
	struct node *r = perror_at(p, cur(p)->start, xasprintf("expected %s, found %s", what, d));
	free(d);
	return r;
}

/* A new node registered with the expression (freed with it). */
static struct node *node_new(struct parser *p, enum node_kind kind, size_t start, size_t end)
{
	struct expr *e = p->e;
	struct node *n = xcalloc(1, sizeof *n);
	n->kind = kind;
	n->start = start;
	n->end = end;
	n->height = 1;
	xgrow(&e->nodes, &e->cap, e->nnodes + 1, sizeof *e->nodes);
	e->nodes[e->nnodes++] = n;
	return n;
}

/* Sets n's height from its children; NULL (with an error) when too tall. */
static struct node *finish(struct parser *p, struct node *n)
{
	unsigned h = 0;
	if (n->a && n->a->height > h)
		h = n->a->height;
	if (n->b && n->b->height > h)
		h = n->b->height;
	for (size_t i = 0; i < n->nargs; i++)
		if (n->args[i]->height > h)
			h = n->args[i]->height;
	n->height = h + 1;
	if (n->height > EXPR_MAX_HEIGHT)
		return perror_at(p, n->start, xasprintf("expression too complex: more than %d "
		                                        "operators chained or nested", EXPR_MAX_HEIGHT));
	return n;
}

/* Enters one level of nesting at the current token; false when too deep. */
static bool enter(struct parser *p)
{
	if (++p->depth > EXPR_MAX_DEPTH) {
		perror_at(p, cur(p)->start, xasprintf("nesting deeper than %d levels", EXPR_MAX_DEPTH));
		return false;
	}
	return true;
}

/* Leaves one level of nesting. */
static void leave(struct parser *p)
{
	p->depth--;
}

/* Appends arg to n->args. */
static void add_arg(struct node *n, struct node *arg, size_t *cap)
{
	xgrow(&n->args, cap, n->nargs + 1, sizeof *n->args);
	n->args[n->nargs++] = arg;
}

static struct node *parse_expr(struct parser *p);

/* A literal node holding v (taken). */
static struct node *literal(struct parser *p, const struct token *t, struct rbc_value *v)
{
	struct node *n = node_new(p, N_LIT, t->start, t->end);
	n->lit = v;
	advance(p);
	return n;
}

/* /pattern/flags: compiled now. */
static struct node *parse_regex(struct parser *p)
{
	const struct token *t = cur(p);
	const char *flags = p->e->src + t->flags_at;
	size_t nflags = t->end - t->flags_at, off;
	char *msg;
	struct regex *re = expr_regex_new(t->str, t->len, flags, nflags, &off, &msg);
	if (!re)
		return perror_at(p, t->start + off, msg);
	struct node *n = node_new(p, N_REGEX, t->start, t->end);
	n->re = re;
	advance(p);
	return n;
}

/* Comma-separated items up to the closing token close, into n->args. */
static bool parse_items(struct parser *p, struct node *n, enum tok_kind close, const char *what)
{
	size_t cap = 0;
	if (cur(p)->kind == close)
		return true;
	for (;;) {
		struct node *item = parse_expr(p);
		if (!item)
			return false;
		add_arg(n, item, &cap);
		if (cur(p)->kind == TOK_COMMA) {
			advance(p);
			continue;
		}
		if (cur(p)->kind == close)
			return true;
		expected(p, what);
		return false;
	}
}

/* "takes 1 argument" / "takes 1 or 2 arguments" / "takes 0 to 2 arguments". */
static char *arity_text(unsigned min, unsigned max)
{
	if (min == max)
		return xasprintf("%u argument%s", min, min == 1 ? "" : "s");
	if (max == min + 1)
		return xasprintf("%u or %u arguments", min, max);
	return xasprintf("%u to %u arguments", min, max);
}

/* NAME(args): a builtin function or aggregate. */
static struct node *parse_call(struct parser *p)
{
	const struct token *name = cur(p);
	const struct builtin *fn = expr_builtin_find(name->str, name->len);
	if (!fn) {
		const struct builtin *near = expr_builtin_suggest(name->str);
		if (near)
			return perror_at(p, name->start, xasprintf("unknown function '%s' (did you mean "
			                                           "'%s'?)", name->str, near->name));
		return perror_at(p, name->start, xasprintf("unknown function '%s'", name->str));
	}
	if (!enter(p))
		return NULL;
	struct node *n = node_new(p, N_CALL, name->start, name->end);
	n->fn = fn;
	advance(p);
	advance(p); /* ( */
	if (!parse_items(p, n, TOK_RPAREN, "',' or ')'"))
		return NULL;
	leave(p);
	n->end = cur(p)->end;
	advance(p);
	unsigned min, max;
	fn = n->fn = expr_builtin_find_args(name->str, name->len, n->nargs, &min, &max);
	if (!fn) {
		char *want = arity_text(min, max);
		perror_at(p, n->start, xasprintf("%s() takes %s, found %zu", name->str, want, n->nargs));
		free(want);
		return NULL;
	}
	if (fn->regex_arg) {
		struct node *re = n->args[fn->regex_arg - 1];
		if (re->kind != N_REGEX && !expr_is_re_call(re))
			return perror_at(p, re->start, xasprintf("%s() needs a regex literal such as "
			                                         "/(\\d+)/, or re(text), as argument %u",
			                                         fn->name, fn->regex_arg));
		re->regex_ok = true;
	}
	if (fn->aggregate)
		n->agg = p->e->naggs++;
	if (fn->check) {
		size_t at = n->start;
		char *msg = fn->check(n, &at);
		if (msg)
			return perror_at(p, at, msg);
	}
	return finish(p, n);
}

/* vars.NAME */
static struct node *parse_var(struct parser *p)
{
	size_t start = cur(p)->start;
	advance(p);
	if (cur(p)->kind != TOK_DOT || p->t[p->pos + 1].kind != TOK_IDENT)
		return perror_at(p, cur(p)->kind == TOK_DOT ? p->t[p->pos + 1].start : cur(p)->start,
		                 xstrdup("expected a variable name: vars.NAME"));
	advance(p);
	const struct token *t = cur(p);
	struct node *n = node_new(p, N_VAR, start, t->end);
	n->name = xstrdup(t->str);
	advance(p);
	return n;
}

/* A name: a keyword literal, a call, vars.NAME or a sample field. */
static struct node *parse_name(struct parser *p)
{
	static const char *const words[] = {"true", "false", "null"};
	const struct token *t = cur(p);
	for (size_t i = 0; i < RBC_ARRAY_LEN(words); i++)
		if (strcmp(t->str, words[i]) == 0)
			return literal(p, t, i == 2 ? value_null_new() : value_bool_new(i == 0));
	if (p->t[p->pos + 1].kind == TOK_LPAREN)
		return parse_call(p);
	if (strcmp(t->str, "in") == 0)
		return expected(p, "a value");
	if (strcmp(t->str, "vars") == 0)
		return parse_var(p);
	if (strcmp(t->str, "it") == 0) {
		struct node *it = node_new(p, N_IT, t->start, t->end);
		advance(p);
		return it;
	}
	struct node *n = node_new(p, N_FIELD, t->start, t->end);
	n->name = xstrdup(t->str);
	advance(p);
	return n;
}

/* A bracketed or parenthesized construct, one nesting level deeper. */
static struct node *parse_group(struct parser *p)
{
	size_t start = cur(p)->start;
	bool list = cur(p)->kind == TOK_LBRACK;
	if (!enter(p))
		return NULL;
	advance(p);
	struct node *n;
	if (list) {
		n = node_new(p, N_LIST, start, start);
		if (!parse_items(p, n, TOK_RBRACK, "',' or ']'"))
			return NULL;
		n = finish(p, n);
		if (!n)
			return NULL;
	} else {
		n = parse_expr(p);
		if (!n)
			return NULL;
		if (cur(p)->kind != TOK_RPAREN)
			return expected(p, "')'");
	}
	leave(p);
	n->start = start;
	n->end = cur(p)->end;
	advance(p);
	return n;
}

/* A literal, a name, a call, or a bracketed construct. */
static struct node *parse_primary(struct parser *p)
{
	const struct token *t = cur(p);
	switch (t->kind) {
	case TOK_NUM:
		return literal(p, t, value_num_new(t->num, t->dim));
	case TOK_STR:
		return literal(p, t, value_str_new(t->str, t->len));
	case TOK_REGEX:
		return parse_regex(p);
	case TOK_IDENT:
		return parse_name(p);
	case TOK_LPAREN:
	case TOK_LBRACK:
		return parse_group(p);
	default:
		return expected(p, "a value");
	}
}

/* primary followed by .name and [index] accesses. */
static struct node *parse_postfix(struct parser *p)
{
	struct node *n = parse_primary(p);
	while (n) {
		if (cur(p)->kind == TOK_DOT) {
			advance(p);
			if (cur(p)->kind != TOK_IDENT)
				return expected(p, "a name after '.'");
			struct node *m = node_new(p, N_MEMBER, n->start, cur(p)->end);
			m->a = n;
			m->name = xstrdup(cur(p)->str);
			advance(p);
			n = finish(p, m);
		} else if (cur(p)->kind == TOK_LBRACK) {
			if (!enter(p))
				return NULL;
			advance(p);
			struct node *idx = parse_expr(p);
			if (!idx)
				return NULL;
			if (cur(p)->kind != TOK_RBRACK)
				return expected(p, "']'");
			leave(p);
			struct node *x = node_new(p, N_INDEX, n->start, cur(p)->end);
			x->a = n;
			x->b = idx;
			advance(p);
			n = finish(p, x);
		} else {
			break;
		}
	}
	return n;
}

/* ! and unary minus; minus on a number literal folds into the literal. */
static struct node *parse_unary(struct parser *p)
{
	enum tok_kind k = cur(p)->kind;
	if (k != TOK_NOT && k != TOK_MINUS)
		return parse_postfix(p);
	size_t start = cur(p)->start;
	if (!enter(p))
		return NULL;
	advance(p);
	struct node *a = parse_unary(p);
	if (!a)
		return NULL;
	leave(p);
	if (k == TOK_MINUS && a->kind == N_LIT && a->lit->type == VALUE_NUM) {
		a->lit->u.num.v = -a->lit->u.num.v;
		a->start = start;
		return a;
	}
	struct node *n = node_new(p, N_UNARY, start, a->end);
	n->op = k == TOK_NOT ? OP_NOT : OP_NEG;
	n->a = a;
	return finish(p, n);
}

/* The binary operator of the current token at level, or -1. */
static int binop_at(const struct parser *p, enum level level)
{
	if (level == L_CMP && at_word(p, "in"))
		return OP_IN;
	for (size_t i = 0; i < RBC_ARRAY_LEN(binops); i++)
		if (binops[i].tok == cur(p)->kind && binops[i].level == level)
			return (int)binops[i].op;
	return -1;
}

/* Left-associative operators of one level (comparisons: at most one). */
static struct node *parse_level(struct parser *p, enum level level)
{
	struct node *l = level == L_MUL ? parse_unary(p) : parse_level(p, level + 1);
	int op;
	while (l && (op = binop_at(p, level)) >= 0) {
		size_t at = cur(p)->start;
		advance(p);
		struct node *r = level == L_MUL ? parse_unary(p) : parse_level(p, level + 1);
		if (!r)
			return NULL;
		if (op == OP_MATCH || op == OP_NMATCH) {
			if (r->kind != N_REGEX && !expr_is_re_call(r))
				return perror_at(p, r->start, xasprintf("%s needs a regex literal such as "
				                                        "/ok/i, or re(text)", expr_op_text(op)));
			r->regex_ok = true;
		}
		struct node *n = node_new(p, N_BINARY, l->start, r->end);
		n->op = (enum expr_op)op;
		n->a = l;
		n->b = r;
		l = finish(p, n);
		if (level == L_CMP && l && binop_at(p, L_CMP) >= 0)
			return perror_at(p, cur(p)->start,
			                 xasprintf("comparisons do not chain (the one at column %zu "
			                           "is already complete); join them with &&",
			                           utf8_count(p->e->src, at) + 1));
	}
	return l;
}

/* A whole expression (the loosest level). */
static struct node *parse_expr(struct parser *p)
{
	return parse_level(p, L_OR);
}

/* Error for what follows a complete expression. */
static void trailing(struct parser *p)
{
	const struct token *t = cur(p), *prev = &p->t[p->pos - 1];
	double factor;
	enum rbc_dim dim;
	if (t->kind == TOK_IDENT && prev->kind == TOK_NUM && units_lookup(t->str, t->len, &factor, &dim)) {
		perror_at(p, t->start, xasprintf("a unit goes right after its number: write %.*s%s",
		                                 (int)(prev->end - prev->start), p->e->src + prev->start,
		                                 t->str));
		return;
	}
	if (t->kind == TOK_IDENT)
		for (size_t i = 0; i < RBC_ARRAY_LEN(word_hints); i++)
			if (strcmp(t->str, word_hints[i].word) == 0) {
				perror_at(p, t->start, xasprintf("unexpected '%s' (use %s)", t->str,
				                                 word_hints[i].use));
				return;
			}
	expected(p, "an operator or the end");
}

/* Marks what reads sample fields, outside aggregates (bare) or at all. */
static void scan_fields(struct expr *e, const struct node *n, bool in_agg)
{
	if (n->kind == N_FIELD) {
		e->fields = true;
		e->bare |= !in_agg;
	}
	bool agg = in_agg || (n->kind == N_CALL && n->fn->aggregate);
	if (n->a)
		scan_fields(e, n->a, in_agg);
	if (n->b)
		scan_fields(e, n->b, in_agg);
	for (size_t i = 0; i < n->nargs; i++)
		scan_fields(e, n->args[i], n->kind == N_CALL ? agg : in_agg);
}

/*
 * The first `it` read where no list function's condition binds it (bound
 * false), or NULL. An aggregate's argument never sees `it`: aggregates are
 * computed once per evaluation (docs/thresholds.md, Lists).
 */
static const struct node *unbound_it(const struct node *n, bool bound)
{
	if (n->kind == N_IT)
		return bound ? NULL : n;
	const struct node *u = NULL;
	if (n->a && (u = unbound_it(n->a, bound)))
		return u;
	if (n->b && (u = unbound_it(n->b, bound)))
		return u;
	for (size_t i = 0; i < n->nargs; i++) {
		bool b = bound;
		if (n->kind == N_CALL && n->fn->aggregate)
			b = false;
		else if (n->kind == N_CALL && expr_builtin_binds_it(n->fn) && i == n->nargs - 1)
			b = true;
		if ((u = unbound_it(n->args[i], b)))
			return u;
	}
	return NULL;
}

/* Column (1-based, in characters) of byte offset off in src. */
static unsigned column(const char *src, size_t len, size_t off)
{
	return (unsigned)utf8_count(src, off < len ? off : len) + 1;
}

struct expr *expr_parse(const char *src, struct rbc_error *err)
{
	size_t len = strlen(src);
	if (len > EXPR_MAX_LEN) {
		err->col = column(src, len, EXPR_MAX_LEN);
		rbc_error_set(err, "expression longer than %d bytes", EXPR_MAX_LEN);
		return NULL;
	}
	struct expr *e = xcalloc(1, sizeof *e);
	e->src = xstrndup(src, len);
	e->len = len;
	struct strbuf shown = {0};
	expr_add_shown(&shown, src, len);
	e->shown = sb_take(&shown);
	struct parser p = {.e = e};
	if (!expr_lex(e->src, len, &p.t, &p.nt, &p.erroff, &p.msg)) {
		/* the lexer's error is in p */
	} else if (p.t[0].kind == TOK_EOF) {
		perror_at(&p, 0, xstrdup("empty expression"));
	} else {
		e->root = parse_expr(&p);
		if (e->root && cur(&p)->kind != TOK_EOF)
			trailing(&p);
		for (size_t i = 0; !p.msg && i < e->nnodes; i++)
			if (e->nodes[i]->kind == N_REGEX && !e->nodes[i]->regex_ok)
				perror_at(&p, e->nodes[i]->start,
				          xstrdup("a regex goes after =~ or !~, or into match()"));
			else if (expr_is_re_call(e->nodes[i]) && !e->nodes[i]->regex_ok)
				perror_at(&p, e->nodes[i]->start,
				          xstrdup("re() builds a regex: it goes after =~ or !~, or into "
				                  "match()"));
		const struct node *it = p.msg || !e->root ? NULL : unbound_it(e->root, false);
		if (it)
			perror_at(&p, it->start, xstrdup("'it' is the element of a list: it is read "
			                                 "only in the last argument of count(list, …), "
			                                 "any(list, …), all(list, …), filter(list, …) "
			                                 "or map(list, …)"));
	}
	expr_lex_free(p.t, p.nt);
	if (p.msg) {
		err->col = column(src, len, p.erroff);
		rbc_error_set(err, "%s", p.msg);
		free(p.msg);
		expr_free(e);
		return NULL;
	}
	scan_fields(e, e->root, false);
	return e;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nnodes; i++) {
		struct node *n = e->nodes[i];
		value_free(n->lit);
		expr_regex_free(n->re);
		free(n->name);
		free(n->args);
		free(n->range);
		expr_zone_free(n->zone);
		free(n);
	}
	free(e->nodes);
	free(e->src);
	free(e->shown);
	free(e);
}

const char *expr_source(const struct expr *e)
{
	return e->src;
}

bool expr_uses_samples(const struct expr *e)
{
	return e->fields;
}

void expr_foreach_var(const struct expr *e,
                      void (*fn)(const char *name, unsigned col, void *ud), void *ud)
{
	for (size_t i = 0; i < e->nnodes; i++)
		if (e->nodes[i]->kind == N_VAR)
			fn(e->nodes[i]->name, column(e->src, e->len, e->nodes[i]->start), ud);
}

void expr_foreach_field(const struct expr *e,
                        void (*fn)(const char *name, unsigned col, void *ud), void *ud)
{
	for (size_t i = 0; i < e->nnodes; i++)
		if (e->nodes[i]->kind == N_FIELD)
			fn(e->nodes[i]->name, column(e->src, e->len, e->nodes[i]->start), ud);
}

/* Calls fn with name for lit when lit is a text literal. */
static void var_literal(const struct expr *e, const char *name, const struct node *lit,
                        void (*fn)(const char *, const char *, unsigned, void *), void *ud)
{
	if (lit->kind == N_LIT && lit->lit && lit->lit->type == VALUE_STR)
		fn(name, lit->lit->u.str.s, column(e->src, e->len, lit->start), ud);
}

/* Every text literal a variable is compared with (==, !=, in [...]). */
void expr_foreach_var_literal(const struct expr *e,
                              void (*fn)(const char *name, const char *text, unsigned col, void *ud),
                              void *ud)
{
	for (size_t i = 0; i < e->nnodes; i++) {
		const struct node *n = e->nodes[i];
		if (n->kind != N_BINARY || !n->a || !n->b)
			continue;
		if (n->op == OP_EQ || n->op == OP_NE) {
			if (n->a->kind == N_VAR)
				var_literal(e, n->a->name, n->b, fn, ud);
			else if (n->b->kind == N_VAR)
				var_literal(e, n->b->name, n->a, fn, ud);
		} else if (n->op == OP_IN && n->a->kind == N_VAR && n->b->kind == N_LIST) {
			for (size_t k = 0; k < n->b->nargs; k++)
				var_literal(e, n->a->name, n->b->args[k], fn, ud);
		}
	}
}

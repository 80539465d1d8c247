/*
 * internal.h — what the parts of the threshold language share: tokens, the
 * syntax tree, regexes, Nagios ranges, the builtin table and the evaluation
 * context. Not an interface for other modules; they use rbc/expr.h.
 */
#ifndef RBC_EXPR_INTERNAL_H
#define RBC_EXPR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbc/expr.h"
#include "rbc/value.h"

/* Tallest syntax tree accepted: bounds every recursion over the tree. */
#define EXPR_MAX_HEIGHT 256
/* Characters of text shown in explanations before "…". */
#define EXPR_SHOW_CHARS 40

/* ---- tokens (lex.c) ---- */

#define EXPR_TOKENS(X)                                                        \
	X(EOF, "end of expression") X(NUM, "number") X(STR, "text")           \
	X(REGEX, "regex") X(IDENT, "name") X(LPAREN, "'('") X(RPAREN, "')'")  \
	X(LBRACK, "'['") X(RBRACK, "']'") X(COMMA, "','") X(DOT, "'.'")       \
	X(EQ, "'=='") X(NE, "'!='") X(LT, "'<'") X(LE, "'<='") X(GT, "'>'")   \
	X(GE, "'>='") X(AND, "'&&'") X(OR, "'||'") X(NOT, "'!'")              \
	X(PLUS, "'+'") X(MINUS, "'-'") X(STAR, "'*'") X(SLASH, "'/'")         \
	X(MATCH, "'=~'") X(NMATCH, "'!~'")

enum tok_kind {
#define TOK_ENUM(name, text) TOK_##name,
	EXPR_TOKENS(TOK_ENUM)
#undef TOK_ENUM
};

struct token {
	enum tok_kind kind;
	size_t start, end;  /* byte span in the source */
	double num;         /* NUM, in base units */
	enum rbc_dim dim;   /* NUM */
	char *str;          /* STR: decoded text (owned); REGEX: the pattern (owned) */
	size_t len;         /* of str */
	size_t flags_at;    /* REGEX: offset of the flags in the source */
};

/*
 * Splits src into tokens ending with TOK_EOF. On failure returns false with
 * *erroff (byte offset) and *msg (caller frees) set; *toks is then NULL.
 */
bool expr_lex(const char *src, size_t len, struct token **toks, size_t *ntoks,
                size_t *erroff, char **msg);
void expr_lex_free(struct token *toks, size_t ntoks);
/* How messages name a token kind: "')'", "number", … */
const char *expr_tok_name(enum tok_kind k);

/* ---- regexes (regex.c) ---- */

struct regex;

/*
 * Compiles pattern (n bytes, as written between the slashes) with flags
 * (nflags bytes of i m s x). On failure returns NULL with *msg (caller
 * frees) and *erroff, the offset of the problem in the literal
 * "/pattern/flags" as written.
 */
struct regex *expr_regex_new(const char *pattern, size_t n, const char *flags, size_t nflags,
                        size_t *erroff, char **msg);
void expr_regex_free(struct regex *re);
/*
 * Matches s (n bytes, any bytes). Returns 1 on a match (*group, when not
 * NULL, gets a new text value: group 1, or the whole match without groups;
 * NULL when group 1 did not take part; its cut flags say which ends of s
 * it reaches), 0 on none, -1 on a matching error
 * (a limit hit) with *why (caller frees).
 */
int expr_regex_match(const struct regex *re, const char *s, size_t n,
                struct rbc_value **group, size_t *group_at, char **why);

/* ---- Nagios ranges (func.c) ---- */

struct nagios_range {
	double start, end;   /* base units */
	bool start_inf;      /* ~ : minus infinity */
	bool end_inf;        /* nothing after ':' */
	bool inside;         /* @ : alert inside the range */
	enum rbc_dim dim;    /* of the endpoints that carry a unit */
};

/* Parses a range ("10", "10:", "~:10", "10:20", "@10:20"); *why (static) on failure. */
bool expr_range_parse(const char *s, size_t n, struct nagios_range *r, const char **why);
/* True when v (base units) does not alert. */
bool expr_range_ok(const struct nagios_range *r, double v);

/* ---- time zones (zone.c) ---- */

struct zone;

/*
 * Loads the IANA zone name (n bytes) from the system's zone files. NULL
 * with *why (caller frees) naming the zone when there is no such zone.
 */
struct zone *expr_zone_load(const char *name, size_t n, char **why);
void expr_zone_free(struct zone *z);
/* The zone's offset east of UTC, in seconds, at t (seconds since the epoch); z NULL: UTC. */
long expr_zone_offset(const struct zone *z, int64_t t);
/* Days from 1970-01-01 to the civil date y-m-d. */
int64_t expr_days_from_civil(int64_t y, int m, int d);

/* ---- syntax tree (parse.c) ---- */

#define EXPR_OPS(X)                                                            \
	X(NEG, "-") X(NOT, "!") X(ADD, "+") X(SUB, "-") X(MUL, "*") X(DIV, "/") \
	X(EQ, "==") X(NE, "!=") X(LT, "<") X(LE, "<=") X(GT, ">") X(GE, ">=")   \
	X(IN, "in") X(MATCH, "=~") X(NMATCH, "!~") X(AND, "&&") X(OR, "||")

enum expr_op {
#define OP_ENUM(name, text) OP_##name,
	EXPR_OPS(OP_ENUM)
#undef OP_ENUM
};

enum node_kind {
	N_LIT,    /* lit: a constant value */
	N_LIST,   /* args: the items */
	N_REGEX,  /* re */
	N_FIELD,  /* name: a field of the current sample */
	N_VAR,    /* name: vars.NAME */
	N_MEMBER, /* a.name */
	N_INDEX,  /* a[b] */
	N_CALL,   /* fn(args) */
	N_UNARY,  /* op a */
	N_BINARY, /* a op b */
	N_IT,     /* it: the element of a list function's condition */
};

struct builtin;

struct node {
	enum node_kind kind;
	enum expr_op op;
	size_t start, end;          /* source span (bytes), parentheses included */
	unsigned height;            /* of the subtree */
	struct node *a, *b;
	struct node **args;
	size_t nargs;
	struct rbc_value *lit;      /* N_LIT */
	struct regex *re;           /* N_REGEX */
	bool regex_ok;              /* N_REGEX: used where a regex belongs */
	char *name;                 /* N_FIELD, N_VAR, N_MEMBER */
	const struct builtin *fn;   /* N_CALL */
	size_t agg;                 /* N_CALL of an aggregate: its memo slot */
	struct nagios_range *range; /* N_CALL inrange with a literal range */
	struct zone *zone;          /* N_CALL hour/weekday with a literal zone */
};

struct expr {
	char *src;
	char *shown;         /* src for messages: control characters and bytes
	                        of invalid UTF-8 replaced, same offsets */
	size_t len;
	struct node *root;
	struct node **nodes; /* every node, in creation order, for freeing */
	size_t nnodes, cap;
	size_t naggs;        /* aggregate calls (memo slots) */
	bool bare;           /* reads sample fields outside any aggregate */
	bool fields;         /* reads sample fields at all */
};

/* ---- evaluation (eval.c, explain.c) ---- */

struct ectx {
	const struct expr *e;
	const struct expr_env *env;
	size_t nsamples;
	long cur;                /* the sample bare fields read; -1: none */
	const struct rbc_value *it; /* the element `it` reads (borrowed); NULL: none */
	struct rbc_value **memo; /* aggregate results, one per slot */
};

/* Sets up c for e against env (NULL: no samples, no vars). */
void expr_ctx_init(struct ectx *c, const struct expr *e, const struct expr_env *env);
void expr_ctx_done(struct ectx *c);
/* Evaluates n in c; returns a new value (MISSING when unknown). */
struct rbc_value *expr_eval_node(struct ectx *c, const struct node *n);
/*
 * Makes v (taken) a truth: BOOL or MISSING; anything else becomes MISSING
 * saying that n's value is not true or false.
 */
struct rbc_value *expr_eval_truth(struct ectx *c, const struct node *n, struct rbc_value *v);
/* expr_eval_truth of expr_eval_node. */
struct rbc_value *expr_eval_pred(struct ectx *c, const struct node *n);
/*
 * Compares a with b: ordering (<, >) when order, equality otherwise. Returns
 * NULL with *sign (<0, 0, >0; for equality 0 equal, 1 unequal), or a new
 * MISSING value saying why they cannot be compared.
 */
struct rbc_value *expr_compare(const struct ectx *c, const struct rbc_value *a,
                               const struct rbc_value *b,
                               bool order, int *sign);
/* x in container: a new BOOL or MISSING. */
struct rbc_value *expr_in(const struct ectx *c, const struct rbc_value *x, const struct rbc_value *in);

/*
 * The predicate n evaluated once per sample: counts of true, false and
 * unknown, the first sample of each (index, -1: none) and the longest run
 * of consecutive samples where n holds.
 */
struct tally {
	size_t n, hold, fail, unknown;
	long first_hold, first_fail, first_unknown;
	size_t streak;
	struct rbc_value *unknown_why; /* reason of the first unknown (owned) */
};
void expr_tally(struct ectx *c, const struct node *n, struct tally *t);
void expr_tally_done(struct tally *t);

/* Appends the explanation of n, whose value in c is v. */
void expr_explain_node(struct ectx *c, const struct node *n, const struct rbc_value *v,
                       struct strbuf *sb);
/*
 * Explains a tally of the predicate n labelled label: "all(x): 28/30
 * samples hold[, 2 unknown][; first failure sample 3: …]". With matches,
 * the first sample where n holds is shown instead of the first failure.
 */
void expr_explain_tally(struct ectx *c, const struct node *n, const char *label, int labellen,
                        const struct tally *t, bool matches, struct strbuf *sb);

/* ---- showing nodes and values in messages (node.c) ---- */

/* The operator as written. */
const char *expr_op_text(enum expr_op op);
/* "type value" for messages: "text \"abc\"", "number 5", "time 5 ms" (caller frees). */
char *expr_describe(const struct ectx *c, const struct rbc_value *v);
/*
 * A value as messages and explanations show it (value_format), with the
 * secrets of c's environment masked first: a cut can never leave part of
 * a secret, and escaping never hides one from the mask.
 */
void expr_format_sb(const struct ectx *c, struct strbuf *sb, const struct rbc_value *v,
                    size_t maxchars);
char *expr_format(const struct ectx *c, const struct rbc_value *v, size_t maxchars);
/* Appends n bytes of s for a message: control characters as ' ', invalid UTF-8 as '?'. */
void expr_add_shown(struct strbuf *sb, const char *s, size_t n);
/*
 * Length and start of n's source text for messages (a pointer into the
 * expression's shown source: one line, valid UTF-8).
 */
int expr_node_len(const struct expr *e, const struct node *n);
const char *expr_node_src(const struct expr *e, const struct node *n);

/*
 * Appends n's value v: just the value for a literal, "source = value"
 * otherwise. A plain number literal next to other (may be NULL), a number
 * with a unit, is shown in that unit.
 */
void expr_explain_operand(const struct ectx *c, const struct node *n, const struct rbc_value *v,
                          const struct rbc_value *other, struct strbuf *sb);

/* ---- builtins (func.c, agg.c) ---- */

/* Computes a call: a new value (MISSING when unknown). */
typedef struct rbc_value *builtin_fn(struct ectx *c, const struct node *call);
/* Checks a call at parse time; returns NULL or a message (caller frees) with *at. */
typedef char *builtin_check(struct node *call, size_t *at);
/* Explains a call whose value is v (never MISSING). */
typedef void builtin_explain(struct ectx *c, const struct node *call,
                             const struct rbc_value *v, struct strbuf *sb);

struct builtin {
	const char *name;
	unsigned min, max;        /* argument counts */
	bool aggregate;           /* arguments are read once per sample */
	unsigned regex_arg;       /* 1-based argument that must be a regex literal; 0: none */
	builtin_fn *fn;
	builtin_check *check;     /* NULL: nothing to check */
	builtin_explain *explain; /* NULL: "call = value" */
};

/* The builtin named name (n bytes), or NULL. */
const struct builtin *expr_builtin_find(const char *name, size_t n);
/*
 * The builtin named name that takes nargs arguments (count(c) and
 * count(list, c) are two), or NULL; *min and *max get the argument counts
 * every builtin of that name accepts together.
 */
const struct builtin *expr_builtin_find_args(const char *name, size_t n, size_t nargs,
                                             unsigned *min, unsigned *max);
/* The builtin with the name closest to name, for "did you mean", or NULL. */
const struct builtin *expr_builtin_suggest(const char *name);

/* True when n is a call of re(): a regex built from text at run time. */
bool expr_is_re_call(const struct node *n);
/*
 * The regex n stands for (regex.c): the literal's own (*owned NULL), or for
 * a re() call the one compiled from v, the call's value (*owned set: free
 * it with expr_regex_free). NULL with *why (a new value, MISSING when v
 * was text) when v is unknown, not text, or not a regex.
 */
const struct regex *expr_regex_of(struct ectx *c, const struct node *n, const struct rbc_value *v,
                                  struct regex **owned, struct rbc_value **why);

/* The aggregates (agg.c); expr_builtin_find searches them too. */
extern const struct builtin expr_aggregates[];
extern const size_t expr_naggregates;

/* now(), hour(), weekday() (clock.c). */
extern const struct builtin expr_clock_functions[];
extern const size_t expr_nclock_functions;

/* The functions over a list whose second argument reads `it` (list.c). */
extern const struct builtin expr_list_functions[];
extern const size_t expr_nlist_functions;
/* True when fn is one of them: its last argument is read once per element. */
bool expr_builtin_binds_it(const struct builtin *fn);

#endif

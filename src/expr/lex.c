/*
 * lex.c — splits an expression into tokens.
 *
 * A '/' starts a regex literal where an operand is expected (after an
 * operator, '(', '[', ',' or at the start) and divides after an operand,
 * the way JavaScript tells them apart. Numbers carry their unit
 * ("500ms" is one token, converted to base units here).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const tok_names[] = {
#define TOK_NAME(name, text) text,
	EXPR_TOKENS(TOK_NAME)
#undef TOK_NAME
};

/* Operators, longest first so "<=" wins over "<". */
static const struct {
	const char *text;
	enum tok_kind kind;
} ops[] = {
	{"==", TOK_EQ}, {"!=", TOK_NE}, {"<=", TOK_LE}, {">=", TOK_GE},
	{"&&", TOK_AND}, {"||", TOK_OR}, {"=~", TOK_MATCH}, {"!~", TOK_NMATCH},
	{"<", TOK_LT}, {">", TOK_GT}, {"!", TOK_NOT}, {"+", TOK_PLUS},
	{"-", TOK_MINUS}, {"*", TOK_STAR}, {"/", TOK_SLASH}, {"(", TOK_LPAREN},
	{")", TOK_RPAREN}, {"[", TOK_LBRACK}, {"]", TOK_RBRACK}, {",", TOK_COMMA},
	{".", TOK_DOT},
};

/* Characters that are no operator alone, with the hint for each. */
static const struct {
	char c;
	const char *hint;
} lone_hints[] = {
	{'=', "unexpected '=' (use == to compare)"},
	{'&', "unexpected '&' (use && for and)"},
	{'|', "unexpected '|' (use || for or)"},
};

/* Escapes inside text literals. */
static const char escapes[][2] = {
	{'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'0', '\0'},
	{'"', '"'}, {'\'', '\''}, {'\\', '\\'}, {'/', '/'},
};

struct lexer {
	const char *src;
	size_t len, pos;
	struct token *toks;
	size_t n, cap;
	size_t erroff;
	char *msg;
};

const char *expr_tok_name(enum tok_kind k)
{
	return (size_t)k < RBC_ARRAY_LEN(tok_names) ? tok_names[k] : "?";
}

/* Records the first error at offset at; always returns false. */
static bool lex_error(struct lexer *lx, size_t at, char *msg)
{
	lx->erroff = at;
	lx->msg = msg;
	return false;
}

/* Appends a token spanning [start, end). */
static struct token *push(struct lexer *lx, enum tok_kind k, size_t start, size_t end)
{
	xgrow(&lx->toks, &lx->cap, lx->n + 1, sizeof *lx->toks);
	struct token *t = &lx->toks[lx->n++];
	memset(t, 0, sizeof *t);
	t->kind = k;
	t->start = start;
	t->end = end;
	return t;
}

/* ASCII digit. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* First character of a name: letter or underscore. */
static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Later characters of a name. */
static bool is_ident(char c)
{
	return is_ident_start(c) || is_digit(c);
}

/* True when the last token ends an operand, so '/' divides. */
static bool after_operand(const struct lexer *lx)
{
	if (lx->n == 0)
		return false;
	switch (lx->toks[lx->n - 1].kind) {
	case TOK_NUM: case TOK_STR: case TOK_REGEX: case TOK_IDENT:
	case TOK_RPAREN: case TOK_RBRACK:
		return true;
	default:
		return false;
	}
}

/* Lexes a number with an optional unit at lx->pos. */
static bool lex_number(struct lexer *lx)
{
	const char *s = lx->src;
	size_t start = lx->pos, i = start;
	while (i < lx->len && is_digit(s[i]))
		i++;
	if (i < lx->len && s[i] == '.') {
		if (i + 1 >= lx->len || !is_digit(s[i + 1]))
			return lex_error(lx, i + 1, xstrdup("expected digits after '.'"));
		i++;
		while (i < lx->len && is_digit(s[i]))
			i++;
	}
	if (i + 1 < lx->len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < lx->len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < lx->len && is_digit(s[j])) {
			while (j < lx->len && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	if (i - start > 64)
		return lex_error(lx, start, xstrdup("number has too many digits"));
	char buf[72];
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	double v = strtod(buf, NULL), factor = 1;
	enum rbc_dim dim = RBC_DIM_NONE;
	size_t u = i;
	while (i < lx->len && (is_ident_start(s[i]) || s[i] == '%'))
		i++;
	if (i > u && !units_lookup(s + u, i - u, &factor, &dim))
		return lex_error(lx, u, xasprintf("unknown unit '%.*s' (use ms s m h d, "
		                                  "B KB MB GB TB KiB MiB GiB TiB or %%)",
		                                  (int)(i - u), s + u));
	if (i < lx->len && is_ident(s[i]))
		return lex_error(lx, i, xasprintf("unexpected '%c' after a number", s[i]));
	v *= factor;
	if (!isfinite(v))
		return lex_error(lx, start, xstrdup("number too large"));
	struct token *t = push(lx, TOK_NUM, start, i);
	t->num = v;
	t->dim = dim;
	lx->pos = i;
	return true;
}


/* Appends code point cp as UTF-8. */
static void add_utf8(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	sb_add(sb, b, n);
}

/* Reads 4 hex digits at s[i]; -1 when they are not there. */
static long hex4(const char *s, size_t len, size_t i)
{
	long v = 0;
	if (i + 4 > len)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hex_value(s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Lexes "text" or 'text' with escapes at lx->pos. */
static bool lex_string(struct lexer *lx)
{
	const char *s = lx->src;
	char quote = s[lx->pos];
	size_t start = lx->pos, i = start + 1;
	struct strbuf sb = {0};
	sb_add(&sb, "", 0);
	for (;;) {
		if (i >= lx->len) {
			sb_free(&sb);
			return lex_error(lx, start, xasprintf("unterminated text: missing closing %c", quote));
		}
		char c = s[i];
		if (c == quote)
			break;
		if (c != '\\') {
			sb_addc(&sb, c);
			i++;
			continue;
		}
		if (i + 1 >= lx->len) {
			i++; /* reported as unterminated above */
			continue;
		}
		char e = s[i + 1];
		size_t k = 0;
		while (k < RBC_ARRAY_LEN(escapes) && escapes[k][0] != e)
			k++;
		if (k < RBC_ARRAY_LEN(escapes)) {
			sb_addc(&sb, escapes[k][1]);
			i += 2;
			continue;
		}
		long cp = e == 'u' ? hex4(s, lx->len, i + 2) : -2;
		if (cp >= 0xD800 && cp <= 0xDBFF && i + 7 < lx->len && s[i + 6] == '\\' && s[i + 7] == 'u') {
			long lo = hex4(s, lx->len, i + 8);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				add_utf8(&sb, (uint32_t)(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)));
				i += 12;
				continue;
			}
		}
		if (cp >= 0 && (cp < 0xD800 || cp > 0xDFFF)) {
			add_utf8(&sb, (uint32_t)cp);
			i += 6;
			continue;
		}
		sb_free(&sb);
		if (cp == -1)
			return lex_error(lx, i, xstrdup("expected 4 hex digits after \\u"));
		if (cp >= 0)
			return lex_error(lx, i, xstrdup("\\u escape of a lone surrogate"));
		if ((unsigned char)e < 0x20 || (unsigned char)e >= 0x7F)
			return lex_error(lx, i, xstrdup("unknown escape in text"));
		return lex_error(lx, i, xasprintf("unknown escape '\\%c' in text", e));
	}
	struct token *t = push(lx, TOK_STR, start, i + 1);
	t->len = sb.len;
	t->str = sb_take(&sb);
	lx->pos = i + 1;
	return true;
}

/* Lexes /pattern/flags at lx->pos; the pattern is kept as written. */
static bool lex_regex(struct lexer *lx)
{
	const char *s = lx->src;
	size_t start = lx->pos, i = start + 1;
	bool in_class = false;
	for (;; i++) {
		if (i >= lx->len || s[i] == '\n')
			return lex_error(lx, start, xstrdup("unterminated regex: missing closing /"));
		if (s[i] == '\\') {
			i++;
			if (i >= lx->len)
				return lex_error(lx, start, xstrdup("unterminated regex: missing closing /"));
		} else if (s[i] == '[') {
			in_class = true;
		} else if (s[i] == ']') {
			in_class = false;
		} else if (s[i] == '/' && !in_class) {
			break;
		}
	}
	size_t flags = i + 1, end = flags;
	while (end < lx->len && is_ident(s[end]))
		end++;
	struct token *t = push(lx, TOK_REGEX, start, end);
	t->str = xstrndup(s + start + 1, i - start - 1);
	t->len = i - start - 1;
	t->flags_at = flags;
	lx->pos = end;
	return true;
}

/* Describes the character at s[i] for an error message. */
static char *describe_char(const char *s, size_t n, size_t i)
{
	uint32_t cp;
	size_t k = utf8_decode(s + i, n - i, &cp);
	if (k == 0)
		return xasprintf("unexpected byte 0x%02X", (unsigned char)s[i]);
	if (cp < 0x20 || cp == 0x7F)
		return xasprintf("unexpected control character 0x%02X", (unsigned)cp);
	return xasprintf("unexpected character '%.*s'", (int)k, s + i);
}

/* Lexes one token (or skips blanks) at lx->pos. */
static bool lex_one(struct lexer *lx)
{
	const char *s = lx->src;
	char c = s[lx->pos];
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
		lx->pos++;
		return true;
	}
	if (is_digit(c))
		return lex_number(lx);
	if (c == '"' || c == '\'')
		return lex_string(lx);
	if (c == '/' && !after_operand(lx))
		return lex_regex(lx);
	if (is_ident_start(c)) {
		size_t end = lx->pos;
		while (end < lx->len && is_ident(s[end]))
			end++;
		struct token *t = push(lx, TOK_IDENT, lx->pos, end);
		t->str = xstrndup(s + lx->pos, end - lx->pos);
		t->len = end - lx->pos;
		lx->pos = end;
		return true;
	}
	for (size_t i = 0; i < RBC_ARRAY_LEN(ops); i++) {
		size_t n = strlen(ops[i].text);
		if (lx->pos + n <= lx->len && memcmp(s + lx->pos, ops[i].text, n) == 0) {
			push(lx, ops[i].kind, lx->pos, lx->pos + n);
			lx->pos += n;
			return true;
		}
	}
	for (size_t i = 0; i < RBC_ARRAY_LEN(lone_hints); i++)
		if (lone_hints[i].c == c)
			return lex_error(lx, lx->pos, xstrdup(lone_hints[i].hint));
	return lex_error(lx, lx->pos, describe_char(s, lx->len, lx->pos));
}

bool expr_lex(const char *src, size_t len, struct token **toks, size_t *ntoks,
              size_t *erroff, char **msg)
{
	struct lexer lx = {.src = src, .len = len};
	while (lx.pos < len) {
		if (!lex_one(&lx)) {
			expr_lex_free(lx.toks, lx.n);
			*toks = NULL;
			*ntoks = 0;
			*erroff = lx.erroff;
			*msg = lx.msg;
			return false;
		}
	}
	push(&lx, TOK_EOF, len, len);
	*toks = lx.toks;
	*ntoks = lx.n;
	return true;
}

void expr_lex_free(struct token *toks, size_t ntoks)
{
	for (size_t i = 0; i < ntoks; i++)
		free(toks[i].str);
	free(toks);
}

/*
 * sqlreach.c — what a read-only query can still reach beyond the database
 * (sqlreach.h): a PostgreSQL lexer good enough to tell a comment, a string
 * and a quoted identifier from a name, and the few rules that find
 * functions, roles and COPY forms in the tokens.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rbc/sqlreach.h"
#include "rbc/util.h"

/* How deep strings inside strings are read again. */
#define SQLREACH_MAX_DEPTH 8

/* A trailing '*' matches every name it starts. */
static const struct {
	const char *name;
	bool role;                 /* a role to become or grant, not a function */
	const char *what;
} reach[] = {
	{"lo_export", false, "writes a file on the database server"},
	{"lo_import", false, "reads a file on the database server"},
	{"pg_read_file", false, "reads a file on the database server"},
	{"pg_read_binary_file", false, "reads a file on the database server"},
	{"pg_stat_file", false, "looks at the database server's files"},
	{"pg_ls_*", false, "lists the database server's directories"},
	{"pg_file_*", false, "(adminpack) changes files on the database server"},
	{"pg_logdir_ls", false, "lists the database server's log directory"},
	{"pg_read_server_files", true, "read the server's files"},
	{"pg_write_server_files", true, "write the server's files"},
	{"pg_execute_server_program", true, "run programs on the server"},
	{"dblink*", false, "runs SQL over a connection of its own, outside this transaction"},
	{"pg_terminate_backend", false, "ends other sessions"},
	{"pg_cancel_backend", false, "cancels other sessions' queries"},
	{"pg_reload_conf", false, "reloads the server's configuration"},
	{"pg_rotate_logfile", false, "rotates the server's log"},
	{"pg_switch_wal", false, "switches the server's WAL file"},
	{"pg_promote", false, "promotes a standby server"},
};

/* Text being read: the query, or the decoded text of a string in it. */
struct text {
	const char *s;
	size_t n;
	const size_t *at; /* at[i]: where byte i is in the query; NULL: this is the query */
};

/* Where byte i of t is in the query. */
static size_t query_at(const struct text *t, size_t i)
{
	if (!t->at)
		return i;
	return i < t->n ? t->at[i] : t->n ? t->at[t->n - 1] : 0;
}

/* Decoded text, and for each of its bytes where it is in the query. */
struct decoded {
	struct strbuf sb;
	size_t *at;
	size_t cap;
};

/* Appends s[0..n), every byte from query offset at. */
static void dec_add(struct decoded *d, const char *s, size_t n, size_t at)
{
	xgrow(&d->at, &d->cap, d->sb.len + n, sizeof *d->at);
	for (size_t i = 0; i < n; i++)
		d->at[d->sb.len + i] = at;
	sb_add(&d->sb, s, n);
}

/* Code point cp as UTF-8 (U+FFFD for what is not a character). */
static void dec_add_cp(struct decoded *d, uint32_t cp, size_t at)
{
	char b[4];
	size_t n;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	dec_add(d, b, n, at);
}

/* Frees d's contents, leaving it empty. */
static void dec_free(struct decoded *d)
{
	sb_free(&d->sb);
	free(d->at);
	memset(d, 0, sizeof *d);
}

enum tok_kind { TOK_END, TOK_NAME, TOK_STRING, TOK_OPEN, TOK_CLOSE, TOK_OTHER };

struct tok {
	enum tok_kind kind;
	size_t start;         /* in the text being read */
	bool quoted;          /* a NAME written "…" or U&"…": never a keyword */
	struct decoded text;  /* NAME, STRING: what it stands for */
};

struct lexer {
	const struct text *t;
	size_t i;
};

/* What may start an unquoted name (any byte of a UTF-8 character too). */
static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

/* What may go on with one: digits and $ too. */
static bool ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The value of up to max hex digits at s[*i], advancing; -1 if fewer than min. */
static long read_hex(const struct text *t, size_t *i, int min, int max)
{
	long v = 0;
	int k = 0;
	for (; k < max && *i < t->n && hex_value(t->s[*i]) >= 0; k++, (*i)++)
		v = v * 16 + hex_value(t->s[*i]);
	return k < min ? -1 : v;
}

/* Skips blanks and comments (-- to the end of the line; block comments, nested). */
static void skip_blanks(struct lexer *lx)
{
	const char *s = lx->t->s;
	size_t n = lx->t->n;
	while (lx->i < n) {
		char c = s[lx->i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			lx->i++;
		} else if (c == '-' && lx->i + 1 < n && s[lx->i + 1] == '-') {
			while (lx->i < n && s[lx->i] != '\n')
				lx->i++;
		} else if (c == '/' && lx->i + 1 < n && s[lx->i + 1] == '*') {
			int depth = 0;
			do {
				if (s[lx->i] == '/' && lx->i + 1 < n && s[lx->i + 1] == '*')
					depth++, lx->i += 2;
				else if (s[lx->i] == '*' && lx->i + 1 < n && s[lx->i + 1] == '/')
					depth--, lx->i += 2;
				else
					lx->i++;
			} while (depth > 0 && lx->i < n);
		} else {
			return;
		}
	}
}

/*
 * A quoted string or identifier from its opening quote q: a doubled quote
 * is one; with backslash (E'…') the escapes of an escape string. Decoded
 * into out.
 */
static void read_quoted(struct lexer *lx, char q, bool backslash, struct decoded *out)
{
	const struct text *t = lx->t;
	size_t *i = &lx->i;
	for ((*i)++; *i < t->n;) {
		size_t at = query_at(t, *i);
		char c = t->s[*i];
		if (c == q) {
			if (*i + 1 < t->n && t->s[*i + 1] == q) {
				dec_add(out, &q, 1, at);
				*i += 2;
				continue;
			}
			(*i)++;
			return;
		}
		if (!backslash || c != '\\' || *i + 1 >= t->n) {
			dec_add(out, &c, 1, at);
			(*i)++;
			continue;
		}
		char e = t->s[++*i];
		(*i)++;
		static const char simple[] = "b\bf\fn\nr\rt\t";
		const char *sm = strchr(simple, e);
		if (e && sm && (sm - simple) % 2 == 0) {
			dec_add(out, sm + 1, 1, at);
		} else if (e >= '0' && e <= '7') {
			unsigned v = (unsigned)(e - '0');
			for (int k = 0; k < 2 && *i < t->n && t->s[*i] >= '0' && t->s[*i] <= '7'; k++)
				v = v * 8 + (unsigned)(t->s[(*i)++] - '0');
			char b = (char)v;
			dec_add(out, &b, 1, at);
		} else if (e == 'x' && *i < t->n && hex_value(t->s[*i]) >= 0) {
			char b = (char)read_hex(t, i, 1, 2);
			dec_add(out, &b, 1, at);
		} else if (e == 'u' || e == 'U') {
			long cp = read_hex(t, i, e == 'u' ? 4 : 8, e == 'u' ? 4 : 8);
			dec_add_cp(out, cp < 0 ? 0xfffd : (uint32_t)cp, at);
		} else {
			dec_add(out, &e, 1, at);
		}
	}
}

/*
 * The rest of a U&'…' or U&"…" from its opening quote q: the raw text, then
 * a UESCAPE 'c' after it if there is one, then the text decoded with its
 * escape character (\XXXX, \+XXXXXX, \\ for one).
 */
static void read_unicode(struct lexer *lx, char q, struct decoded *out)
{
	const struct text *t = lx->t;
	size_t from = lx->i + 1;
	struct decoded raw = {0};
	read_quoted(lx, q, false, &raw);
	dec_free(&raw); /* only its extent: from to the closing quote */
	size_t to = lx->i > from ? lx->i - 1 : from;
	char esc = '\\';
	size_t after = lx->i;
	skip_blanks(lx);
	if (lx->i + 7 <= t->n && strncasecmp(t->s + lx->i, "uescape", 7) == 0 &&
	    (lx->i + 7 == t->n || !ident_cont((unsigned char)t->s[lx->i + 7]))) {
		lx->i += 7;
		skip_blanks(lx);
		if (lx->i + 2 < t->n && t->s[lx->i] == '\'' && t->s[lx->i + 2] == '\'') {
			esc = t->s[lx->i + 1];
			lx->i += 3;
		} else {
			lx->i = after;
		}
	} else {
		lx->i = after;
	}
	for (size_t i = from; i < to;) {
		size_t at = query_at(t, i);
		char c = t->s[i];
		if (c == q && i + 1 < to && t->s[i + 1] == q) {
			dec_add(out, &q, 1, at);
			i += 2;
		} else if (c == esc && i + 1 < to && t->s[i + 1] == esc) {
			dec_add(out, &esc, 1, at);
			i += 2;
		} else if (c == esc) {
			size_t j = i + 1;
			bool plus = j < to && t->s[j] == '+';
			j += plus;
			struct text part = {t->s, to, NULL};
			long cp = read_hex(&part, &j, plus ? 6 : 4, plus ? 6 : 4);
			if (cp < 0) {
				dec_add(out, &c, 1, at);
				i++;
			} else {
				dec_add_cp(out, (uint32_t)cp, at);
				i = j;
			}
		} else {
			dec_add(out, &c, 1, at);
			i++;
		}
	}
}

/* The next token into tok (freed first). */
static void lex(struct lexer *lx, struct tok *tok)
{
	dec_free(&tok->text);
	tok->quoted = false;
	skip_blanks(lx);
	const struct text *t = lx->t;
	const char *s = t->s;
	size_t n = t->n, i = lx->i;
	tok->start = i;
	if (i >= n) {
		tok->kind = TOK_END;
		return;
	}
	unsigned char c = (unsigned char)s[i];
	if (c == '(' || c == ')') {
		tok->kind = c == '(' ? TOK_OPEN : TOK_CLOSE;
		lx->i++;
	} else if (c == '\'') {
		tok->kind = TOK_STRING;
		read_quoted(lx, '\'', false, &tok->text);
	} else if (c == '"') {
		tok->kind = TOK_NAME;
		tok->quoted = true;
		read_quoted(lx, '"', false, &tok->text);
	} else if (c == '$') {
		/* $1 is a parameter; $tag$…$tag$ a string, the tag a name without $. */
		size_t j = i + 1;
		if (j < n && ident_start((unsigned char)s[j]))
			while (j < n && ident_cont((unsigned char)s[j]) && s[j] != '$')
				j++;
		if (j < n && s[j] == '$') {
			size_t tag = j + 1 - i;
			const char *end = memmem(s + j + 1, n - j - 1, s + i, tag);
			size_t stop = end ? (size_t)(end - s) : n;
			tok->kind = TOK_STRING;
			for (size_t k = j + 1; k < stop; k++)
				dec_add(&tok->text, s + k, 1, query_at(t, k));
			lx->i = end ? stop + tag : n;
		} else {
			tok->kind = TOK_OTHER;
			lx->i = j > i + 1 ? j : i + 1;
			while (lx->i < n && s[lx->i] >= '0' && s[lx->i] <= '9')
				lx->i++;
		}
	} else if (ident_start(c)) {
		size_t j = i;
		while (j < n && ident_cont((unsigned char)s[j]))
			j++;
		lx->i = j;
		char p = (char)(c | 0x20);
		if (j == i + 1 && j < n && s[j] == '\'' && strchr("ebxn", p)) {
			/* E'…' an escape string; B'…', X'…', N'…' plain ones */
			tok->kind = TOK_STRING;
			read_quoted(lx, '\'', p == 'e', &tok->text);
		} else if (j == i + 1 && p == 'u' && j + 1 < n && s[j] == '&' && (s[j + 1] == '\'' || s[j + 1] == '"')) {
			tok->kind = s[j + 1] == '"' ? TOK_NAME : TOK_STRING;
			tok->quoted = tok->kind == TOK_NAME;
			lx->i = j + 1;
			read_unicode(lx, s[j + 1], &tok->text);
		} else {
			tok->kind = TOK_NAME;
			dec_add(&tok->text, s + i, j - i, query_at(t, i));
		}
	} else if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')) {
		tok->kind = TOK_OTHER; /* a number: 1.5e3, 0x1F, 1_000 */
		size_t j = i + 1;
		while (j < n && (ident_cont((unsigned char)s[j]) || s[j] == '.'))
			j++;
		lx->i = j;
	} else {
		tok->kind = TOK_OTHER;
		lx->i++;
	}
}

/* Reports name (at) if it is one of reach[]: a function only when called. */
static void match_name(const char *name, bool called, size_t at, sqlreach_fn fn, void *ud)
{
	size_t n = strlen(name);
	for (size_t k = 0; k < RBC_ARRAY_LEN(reach); k++) {
		const char *r = reach[k].name;
		size_t len = strlen(r);
		bool prefix = r[len - 1] == '*';
		if (prefix ? n < len - 1 || strncasecmp(name, r, len - 1) != 0 : strcasecmp(name, r) != 0)
			continue;
		if (!reach[k].role && !called)
			return;
		char *what = reach[k].role ? xasprintf("%s lets a session %s", name, reach[k].what)
		                           : xasprintf("%s() %s", name, reach[k].what);
		fn(at, what, ud);
		free(what);
		return;
	}
}

/* Whether tok is the keyword word: an unquoted name, in any case. */
static bool keyword(const struct tok *tok, const char *word)
{
	return tok->kind == TOK_NAME && !tok->quoted && strcasecmp(sb_borrow(&tok->text.sb), word) == 0;
}

/* Reads t token by token, reporting what it reaches; strings are read again, depth deeper. */
static void scan(const struct text *t, int depth, sqlreach_fn fn, void *ud)
{
	struct lexer lx = {t, 0};
	struct tok cur = {0}, next = {0};
	lex(&lx, &cur);
	int parens = 0, copy_parens = 0;
	bool copy = false, after_to = false;
	size_t copy_at = 0;
	while (cur.kind != TOK_END) {
		lex(&lx, &next);
		bool to = false;
		if (cur.kind == TOK_OPEN) {
			parens++;
		} else if (cur.kind == TOK_CLOSE) {
			parens--;
		} else if (cur.kind == TOK_STRING) {
			if (after_to)
				fn(query_at(t, cur.start), "COPY with a file name reads or writes a file on the database server", ud);
			if (depth < SQLREACH_MAX_DEPTH && cur.text.sb.len) {
				struct text inner = {cur.text.sb.s, cur.text.sb.len, cur.text.at};
				scan(&inner, depth + 1, fn, ud);
			}
		} else if (cur.kind == TOK_NAME) {
			if (after_to && keyword(&cur, "program"))
				fn(query_at(t, copy_at), "COPY … PROGRAM runs a command on the database server", ud);
			/* COPY's own TO or FROM, not one inside its (SELECT …) */
			to = copy && parens == copy_parens && (keyword(&cur, "to") || keyword(&cur, "from"));
			if (keyword(&cur, "copy")) {
				copy = true;
				copy_at = cur.start;
				copy_parens = parens;
			}
			match_name(sb_borrow(&cur.text.sb), next.kind == TOK_OPEN, query_at(t, cur.start), fn, ud);
		}
		after_to = to;
		dec_free(&cur.text);
		cur = next;
		memset(&next, 0, sizeof next);
	}
	dec_free(&cur.text);
	dec_free(&next.text);
}

void sqlreach_scan(const char *query, sqlreach_fn fn, void *ud)
{
	struct text t = {query, query ? strlen(query) : 0, NULL};
	scan(&t, 0, fn, ud);
}

/*
 * text.c — text from elsewhere made safe for a terminal or a Markdown
 * document (text.h). The one place that decides how a control character,
 * a byte that is not UTF-8 or a Markdown special is shown.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/text.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, as the console draws a control */

/* ---- terminal ---------------------------------------------------------------- */

void text_term(struct strbuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			sb_adds(sb, "\\n");
			i++;
		} else if (c == '\t') {
			sb_addc(sb, ' ');
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_addf(sb, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			sb_addc(sb, (char)c);
			i++;
		} else {
			uint32_t cp;
			size_t len = utf8_decode(s + i, n - i, &cp);
			if (!len) {
				sb_addf(sb, "\\x%02x", c);
				i++;
			} else if (utf8_is_control(cp)) {
				sb_addf(sb, "\\u%04x", (unsigned)cp);
				i += len;
			} else {
				sb_add(sb, s + i, len);
				i += len;
			}
		}
	}
}

char *text_term_dup(const char *s)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	if (s)
		text_term(&sb, s, strlen(s));
	return sb_take(&sb);
}

void text_fputs(const char *s, FILE *fp)
{
	if (!s)
		return;
	char *t = text_term_dup(s);
	fputs(t, fp);
	free(t);
}

static int text_vfprintf(FILE *fp, const char *fmt, va_list ap) RBC_PRINTF(2, 0);
static int text_vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	char *raw = xvasprintf(fmt, ap);
	size_t n = strlen(raw);
	bool eol = n && raw[n - 1] == '\n';
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	text_term(&sb, raw, eol ? n - 1 : n);
	if (eol)
		sb_addc(&sb, '\n');
	int rc = fputs(sb_borrow(&sb), fp);
	sb_free(&sb);
	free(raw);
	return rc;
}

int text_fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = text_vfprintf(fp, fmt, ap);
	va_end(ap);
	return rc;
}

int text_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = text_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return rc;
}

void text_json(struct strbuf *sb, const char *json)
{
	size_t n = json ? strlen(json) : 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)json[i];
		if (c < 0x80) {
			/* Raw C0 is no JSON inside a string; line feeds and tabs
			   between tokens are the layout of a pretty print. */
			if (c == 0x7f || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))
				sb_addf(sb, "\\u%04x", c);
			else
				sb_addc(sb, (char)c);
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = utf8_decode(json + i, n - i, &cp);
		if (!len) {
			sb_adds(sb, "\\ufffd");
			i++;
		} else if (utf8_is_control(cp)) {
			sb_addf(sb, "\\u%04x", (unsigned)cp);
			i += len;
		} else {
			sb_add(sb, json + i, len);
			i += len;
		}
	}
}

/* ---- Markdown ----------------------------------------------------------------- */

static bool ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Inline text. Escaped: \ ` * [ ] | ~ always (code spans, emphasis, links,
 * table cells, strikethrough); _ unless between two letters or digits (where
 * it can neither open nor close emphasis); # in a trailing run (a heading's
 * closing sequence). With block, what opens a block at the start too.
 */
static void md_text(struct strbuf *sb, const char *s, bool block)
{
	if (!s)
		return;
	size_t n = strlen(s), i = 0;
	if (block) {
		/* Four blanks would make an indented code block. */
		for (; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
			sb_adds(sb, "&#32;");
		size_t d = i;
		while (d < n && s[d] >= '0' && s[d] <= '9')
			d++;
		if (d > i && d < n && (s[d] == '.' || s[d] == ')')) { /* "1." starts a list */
			sb_add(sb, s + i, d - i);
			sb_addc(sb, '\\');
			sb_addc(sb, s[d]);
			i = d + 1;
		} else if (i < n && (s[i] == '#' || s[i] == '-' || s[i] == '+' || s[i] == '=')) {
			sb_addc(sb, '\\');
			sb_addc(sb, s[i]);
			i++;
		}
	}
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp = c;
		size_t l = c < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		if (!l) {
			sb_adds(sb, REPLACEMENT);
			i++;
			continue;
		}
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++; /* CRLF is one line break */
			continue;
		}
		if (c == '\n') {
			sb_adds(sb, "<br>"); /* the line break stays in its cell */
		} else if (c == '\t') {
			sb_addc(sb, ' ');
		} else if (utf8_is_control(cp)) {
			sb_adds(sb, REPLACEMENT);
		} else if (c == '&') {
			sb_adds(sb, "&amp;");
		} else if (c == '<') {
			sb_adds(sb, "&lt;");
		} else if (c == '>') {
			sb_adds(sb, "&gt;");
		} else if (c == '_') {
			bool inner = i > 0 && i + 1 < n && ascii_alnum(s[i - 1]) && ascii_alnum(s[i + 1]);
			sb_adds(sb, inner ? "_" : "\\_");
		} else if (c == '#') {
			size_t j = i;
			while (j < n && s[j] == '#')
				j++;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			sb_adds(sb, j == n ? "\\#" : "#");
		} else if (c == '\\' || c == '`' || c == '*' || c == '[' || c == ']' || c == '|' || c == '~') {
			sb_addc(sb, '\\');
			sb_addc(sb, (char)c);
		} else {
			sb_add(sb, s + i, l);
		}
		i += l;
	}
}

void text_md(struct strbuf *sb, const char *s)
{
	md_text(sb, s, false);
}

void text_md_block(struct strbuf *sb, const char *s)
{
	md_text(sb, s, true);
}

/*
 * The longest fence written. cmark-gfm (GitHub's renderer) keeps a fence's
 * length in one byte: a fence of 256 or more characters reads as a short
 * one, which a line of the text could then close.
 */
#define FENCE_MAX 250

/* The longest run of c in s[0..n). */
static size_t longest_run(const char *s, size_t n, char c)
{
	size_t run = 0, longest = 0;
	for (size_t i = 0; i < n; i++) {
		run = s[i] == c ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest;
}

void text_md_fence(struct strbuf *sb, const char *s, size_t n, const char *info)
{
	if (!s)
		n = 0;
	/* Backticks if the fence can be longer than every backtick run, else
	   tildes; when both have runs that long, backtick runs of FENCE_MAX or
	   more are shortened below, each with a note of its length. */
	size_t backticks = longest_run(s, n, '`'), tildes = longest_run(s, n, '~');
	char mark = backticks < FENCE_MAX || tildes >= FENCE_MAX ? '`' : '~';
	size_t longest = mark == '`' ? backticks : tildes;
	size_t fence = longest >= FENCE_MAX ? FENCE_MAX : longest >= 3 ? longest + 1 : 3;
	for (size_t k = 0; k < fence; k++)
		sb_addc(sb, mark);
	sb_adds(sb, info ? info : "");
	sb_addc(sb, '\n');
	size_t start = sb->len;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp = c;
		size_t l = c < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		if (!l) {
			sb_adds(sb, REPLACEMENT);
			i++;
			continue;
		}
		if (c == mark && longest >= FENCE_MAX) {
			size_t run = 0;
			while (i + run < n && s[i + run] == '`')
				run++;
			if (run >= FENCE_MAX) {
				sb_addf(sb, "```…[%zu backticks]", run);
				i += run;
				continue;
			}
		}
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (c == '\n' || c == '\t')
			sb_addc(sb, (char)c);
		else if (utf8_is_control(cp))
			sb_adds(sb, REPLACEMENT);
		else
			sb_add(sb, s + i, l);
		i += l;
	}
	if (sb->len > start && sb->s[sb->len - 1] != '\n')
		sb_addc(sb, '\n');
	for (size_t k = 0; k < fence; k++)
		sb_addc(sb, mark);
	sb_addc(sb, '\n');
}

/*
 * text.h — text from elsewhere made safe for where it goes.
 *
 * Text rbc did not write itself — a command's output, a server's answer, a
 * capture, a title, an operator's name, a journal or a database row read
 * back, an argument — is shown, never obeyed: on a terminal it cannot move
 * the cursor, retitle the window or forge a line; in a Markdown document it
 * cannot become HTML, a heading, a link, emphasis or the end of a code
 * block. Every writer of those two kinds goes through here.
 *
 * On a terminal (one line of a command's output, as batch mode prints it):
 * a line feed is shown as \n, a tab as a space, other C0 controls, DEL and
 * bytes that are not UTF-8 as \xNN, C1 controls (U+0080–U+009F) and the
 * bidirectional controls (utf8_is_control) as \uNNNN.
 *
 * In Markdown: control characters and bytes that are not UTF-8 become
 * U+FFFD, as the console draws them; & < > are HTML entities; the
 * characters that would start Markdown syntax are backslash-escaped; a line
 * break stays inside its table cell or line as <br>. A code block's fence is
 * longer than any run of its character inside it and at most 250
 * characters long (cmark-gfm keeps a fence's length in one byte).
 */
#ifndef RBC_TEXT_H
#define RBC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rbc/util.h"

/* Appends s[0..n) to sb as terminal text (one line, see above). */
void text_term(struct strbuf *sb, const char *s, size_t n);
/* s (NULL: "") as terminal text, a new string. */
char *text_term_dup(const char *s);
/* Writes s (NULL: nothing) to fp as terminal text. */
void text_fputs(const char *s, FILE *fp);
/*
 * printf for lines that quote outside text: the whole formatted text is
 * written as terminal text, except that a line feed at its very end stays
 * one — so an argument can neither drive the terminal nor add a line.
 * Returns what fputs returns.
 */
int text_fprintf(FILE *fp, const char *fmt, ...) RBC_PRINTF(2, 3);
int text_printf(const char *fmt, ...) RBC_PRINTF(1, 2);

/*
 * Appends the JSON text json to sb with DEL and C1 controls written as
 * \u00NN escapes and bytes that are not UTF-8 as \ufffd: the same JSON
 * value (those characters can only be inside its strings), safe to print.
 */
void text_json(struct strbuf *sb, const char *json);

/* Markdown inline text: a table cell, or text after a label on a line. */
void text_md(struct strbuf *sb, const char *s);
/* The same where the text starts a line or a list item's text: what would
   open a block there (#, -, +, =, 1., indentation) is neutralised too. */
void text_md_block(struct strbuf *sb, const char *s);
/*
 * s[0..n) as a fenced code block (info: its language, may be NULL), NUL
 * bytes and other controls as U+FFFD; ends with "\n". The fence is of
 * backticks, longer than any backtick run of s; of tildes when s has a
 * backtick run of 250 or more; when it has tilde runs that long too, the
 * fence is 250 backticks and each backtick run of 250 or more is written
 * "```…[N backticks]".
 */
void text_md_fence(struct strbuf *sb, const char *s, size_t n, const char *info);

#endif

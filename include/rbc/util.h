/*
 * util.h — allocation that never returns NULL, a growable string buffer and
 * UTF-8 helpers. Everything else in rbc builds on these.
 */
#ifndef RBC_UTIL_H
#define RBC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RBC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RBC_NORETURN __attribute__((noreturn))
#else
#define RBC_PRINTF(f, a)
#define RBC_NORETURN
#endif

#define RBC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation: abort with a message on exhaustion; callers never check. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) RBC_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) RBC_PRINTF(1, 0);

/* Grow *v (holding *cap elements of size sz) so it can hold need elements. */
void xgrow(void *vp, size_t *cap, size_t need, size_t sz);

/* A growable, always NUL-terminated byte string. Zero-initialise to start. */
struct strbuf {
	char *s;
	size_t len, cap;
};

void sb_add(struct strbuf *sb, const char *s, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) RBC_PRINTF(2, 3);
/* Returns the buffer's string (never NULL) and leaves sb empty; caller frees. */
char *sb_take(struct strbuf *sb);
void sb_free(struct strbuf *sb);
/* Returns sb->s or "" when nothing was added; sb keeps ownership. */
const char *sb_borrow(const struct strbuf *sb);

/*
 * Validate UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
 * Returns true when valid; otherwise *bad is the offset of the first bad byte.
 */
bool utf8_valid(const char *s, size_t n, size_t *bad);
/* Decode one code point at s (n bytes left); returns its length, 0 if invalid. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/*
 * A character text from elsewhere may not carry as itself: C0, DEL, C1 (a
 * terminal may obey them) and the Unicode bidirectional controls (U+061C,
 * U+200E/F, U+202A–E, U+2066–9), which reorder what a terminal, a browser or
 * a chat client shows and so can hide a text's meaning.
 */
bool utf8_is_control(uint32_t cp);
/* A copy of n bytes of s as valid UTF-8: each invalid byte, and NUL, as
   U+FFFD. NUL-terminated; caller frees. */
char *utf8_copy_valid(const char *s, size_t n);
/* Number of code points in s[0..n); each invalid byte counts as one. */
size_t utf8_count(const char *s, size_t n);
/*
 * Display columns (LC_CTYPE must be a UTF-8 locale): wide characters take 2,
 * combining marks 0, controls and invalid bytes 1 (they are drawn as one
 * replacement glyph).
 */
size_t utf8_cp_width(uint32_t cp);
size_t utf8_width(const char *s, size_t n);
/* Bytes of s[0..n) that fit in cols columns, never splitting a character;
   *width (may be NULL) gets the columns they take. */
size_t utf8_fit(const char *s, size_t n, size_t cols, size_t *width);

/*
 * Reads the whole file at path (at most max bytes). Returns a NUL-terminated
 * buffer the caller frees, with its length in *len; NULL with errno set on
 * failure (EFBIG when the file is larger than max).
 */
char *read_file(const char *path, size_t max, size_t *len);

/* Value of the hex digit c, or -1. */
int hex_value(char c);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t str_distance(const char *a, const char *b);

/* Writes all n bytes of s to fd, through short writes and EINTR; false
   with *err = errno on failure. Blocking: not for the loop thread. */
bool fd_write_all(int fd, const void *s, size_t n, int *err);

/* A copy of s with every from replaced by to (a new string). */
char *str_replace(const char *s, const char *from, const char *to);
/* A copy of s on one line: each ASCII control character as mark, no
   trailing blank (a new string). */
char *str_one_line(const char *s, char mark);

/* ms since the epoch as "2026-12-04T01:52:40.366Z" (UTC; buf of 32 or more). */
void iso_ms_format(char *buf, size_t n, int64_t ms);
/* The reverse, the fraction optional; 0 when s is not such a time. */
int64_t iso_ms_parse(const char *s);

#endif

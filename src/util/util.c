/*
 * util.c — allocation wrappers, the string buffer and UTF-8 helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "rbc/util.h"

/* Out of memory is not recoverable for an interactive tool: say so and stop. */
static RBC_NORETURN void oom(size_t n)
{
	fprintf(stderr, "rbc: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	if (!fmt)
		return xstrdup("");
	va_list aq;
	va_copy(aq, ap);
	char probe[1];
	int n = vsnprintf(probe, sizeof probe, fmt, aq);
	va_end(aq);
	if (n < 0)
		oom(0);
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void xgrow(void *vp, size_t *cap, size_t need, size_t sz)
{
	void **v = vp;
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	*v = xrealloc(*v, n * sz);
	*cap = n;
}

void sb_add(struct strbuf *sb, const char *s, size_t n)
{
	xgrow(&sb->s, &sb->cap, sb->len + n + 1, 1);
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct strbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	sb_adds(sb, p);
	free(p);
}

char *sb_take(struct strbuf *sb)
{
	char *s = sb->s ? sb->s : xstrdup("");
	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void sb_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

const char *sb_borrow(const struct strbuf *sb)
{
	return sb->s ? sb->s : "";
}

char *utf8_copy_valid(const char *s, size_t n)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp == 0) {
			sb_adds(&sb, "\xEF\xBF\xBD");
			i++;
		} else {
			sb_add(&sb, s + i, k);
			i += k;
		}
	}
	return sb_take(&sb);
}

/* C0, DEL, C1 and the bidirectional controls (util.h). */
bool utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x61c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	if (n == 0)
		return 0;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	size_t len;
	uint32_t c, min;
	if ((u[0] & 0xE0) == 0xC0) {
		len = 2, c = u[0] & 0x1F, min = 0x80;
	} else if ((u[0] & 0xF0) == 0xE0) {
		len = 3, c = u[0] & 0x0F, min = 0x800;
	} else if ((u[0] & 0xF8) == 0xF0) {
		len = 4, c = u[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

bool utf8_valid(const char *s, size_t n, size_t *bad)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (l == 0) {
			if (bad)
				*bad = i;
			return false;
		}
		i += l;
	}
	return true;
}

size_t utf8_count(const char *s, size_t n)
{
	/* A byte that starts no valid sequence counts as one character. */
	size_t count = 0, i = 0;
	while (i < n) {
		uint32_t cp;
		size_t l = (unsigned char)s[i] < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		i += l ? l : 1;
		count++;
	}
	return count;
}

/* Columns of one code point: wide characters 2, combining marks 0, anything
   wcwidth cannot place (controls, invalid bytes) 1 — it is drawn as a
   replacement glyph of one column. */
size_t utf8_cp_width(uint32_t cp)
{
	int w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : (size_t)w;
}

size_t utf8_width(const char *s, size_t n)
{
	size_t w = 0;
	return utf8_fit(s, n, (size_t)-1, &w) ? w : 0;
}

size_t utf8_fit(const char *s, size_t n, size_t cols, size_t *width)
{
	size_t i = 0, w = 0;
	while (i < n) {
		uint32_t cp = (unsigned char)s[i];
		size_t l = cp < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		size_t cw = l ? utf8_cp_width(cp) : 1;
		if (!l)
			l = 1;
		if (w + cw > cols)
			break;
		w += cw;
		i += l;
	}
	if (width)
		*width = w;
	return i;
}

size_t str_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

char *read_file(const char *path, size_t max, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	struct strbuf sb = {0};
	char buf[65536];
	size_t n;
	int err = 0;
	while (!err && (n = fread(buf, 1, sizeof buf, fp)) > 0) {
		if (sb.len + n > max)
			err = EFBIG;
		else
			sb_add(&sb, buf, n);
	}
	if (!err && ferror(fp))
		err = EIO;
	fclose(fp);
	if (err) {
		sb_free(&sb);
		errno = err;
		return NULL;
	}
	*len = sb.len;
	return sb_take(&sb);
}

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool fd_write_all(int fd, const void *s, size_t n, int *err)
{
	const char *p = s;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*err = errno;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

void iso_ms_format(char *buf, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03dZ", base, (int)(ms % 1000));
}

int64_t iso_ms_parse(const char *s)
{
	struct tm tm = {0};
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!p)
		return 0;
	int64_t ms = (int64_t)timegm(&tm) * 1000;
	if (*p == '.') {
		/* milliseconds: the first three digits */
		int k = 0, frac = 0;
		for (p++; k < 3; k++)
			frac = frac * 10 + (*p >= '0' && *p <= '9' ? *p++ - '0' : 0);
		ms += frac;
	}
	return ms;
}

char *str_one_line(const char *s, char mark)
{
	char *t = xstrdup(s);
	for (char *c = t; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = mark;
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		t[--n] = '\0';
	return t;
}

char *str_replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from);
	struct strbuf out = {0};
	const char *p = s, *hit;
	/* Search on after each replacement: to may contain from. */
	while (fl && (hit = strstr(p, from))) {
		sb_add(&out, p, (size_t)(hit - p));
		sb_adds(&out, to);
		p = hit + fl;
	}
	sb_adds(&out, p);
	return sb_take(&out);
}

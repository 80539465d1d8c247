/*
 * error.c — problem values and the list that collects them.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/error.h"
#include "rbc/text.h"

void rbc_error_clear(struct rbc_error *e)
{
	free(e->file);
	free(e->path);
	free(e->msg);
	memset(e, 0, sizeof *e);
}

void rbc_error_set(struct rbc_error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(e->msg);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Appends s as terminal text (text.h): no control character raw. */
static void add_safe(struct strbuf *sb, const char *s)
{
	text_term(sb, s, strlen(s));
}

char *rbc_error_format(const struct rbc_error *e)
{
	struct strbuf sb = {0};
	if (e->file) {
		add_safe(&sb, e->file);
		if (e->line)
			sb_addf(&sb, ":%u:%u", e->line, e->col);
		sb_adds(&sb, ": ");
	}
	if (e->path && *e->path) {
		add_safe(&sb, e->path);
		sb_adds(&sb, ": ");
	}
	if (e->warning)
		sb_adds(&sb, "warning: ");
	add_safe(&sb, e->msg ? e->msg : "unknown error");
	return sb_take(&sb);
}

void diags_add(struct rbc_diags *d, bool warning, const char *file,
               unsigned line, unsigned col, const char *path,
               const char *fmt, ...)
{
	if (warning)
		d->nwarnings++;
	else
		d->nerrors++;
	if (d->n >= RBC_DIAGS_MAX)
		return;
	xgrow(&d->v, &d->cap, d->n + 1, sizeof *d->v);
	struct rbc_error *e = &d->v[d->n++];
	memset(e, 0, sizeof *e);
	e->file = file ? xstrdup(file) : NULL;
	e->line = line;
	e->col = col;
	e->path = path ? xstrdup(path) : NULL;
	e->warning = warning;
	va_list ap;
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Orders by file, then position; equal positions keep their insertion order. */
static int cmp_pos(const struct rbc_error *a, const struct rbc_error *b)
{
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

void diags_sort(struct rbc_diags *d)
{
	/* Bottom-up merge sort: stable, and O(n log n) for hostile inputs. */
	if (d->n < 2)
		return;
	struct rbc_error *tmp = xmalloc(d->n * sizeof *tmp);
	struct rbc_error *src = d->v, *dst = tmp;
	for (size_t w = 1; w < d->n; w *= 2) {
		for (size_t lo = 0; lo < d->n; lo += 2 * w) {
			size_t mid = lo + w < d->n ? lo + w : d->n;
			size_t hi = lo + 2 * w < d->n ? lo + 2 * w : d->n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = cmp_pos(&src[j], &src[i]) < 0 ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		struct rbc_error *t = src;
		src = dst;
		dst = t;
	}
	if (src != d->v)
		memcpy(d->v, src, d->n * sizeof *src);
	free(tmp);
}

void diags_print(const struct rbc_diags *d, FILE *fp)
{
	for (size_t i = 0; i < d->n; i++) {
		char *s = rbc_error_format(&d->v[i]);
		fprintf(fp, "%s\n", s);
		free(s);
	}
}

void diags_free(struct rbc_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		rbc_error_clear(&d->v[i]);
	free(d->v);
	memset(d, 0, sizeof *d);
}

/*
 * mask.c — secret values replaced by "••••" in whole texts and in streams
 * that arrive in chunks.
 *
 * Matching merges one cursor per secret: each cursor is that secret's next
 * occurrence, found with memmem (vectorised in glibc) and kept until the scan
 * moves past it. A text is thus read about once per secret, never byte by
 * byte per secret, and a mask without secrets lets a stream through without
 * touching or copying it. Secrets are kept longest first, so among matches at
 * the same position the first cursor found is the longest.
 *
 * A stream holds back the shortest suffix of its input that could still be
 * the start of a secret (see hold_point). When the next chunk comes, only
 * that suffix and the first (longest secret − 1) bytes of the chunk are
 * copied to decide the matches that start in it; the rest of the chunk is
 * scanned and emitted in place.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/mask.h"
#include "rbc/util.h"

#define MASK_LEN (sizeof MASK_TEXT - 1)
#define SCAN_STACK 32 /* cursors kept on the stack; more are allocated */

struct secret {
	char *s;
	size_t len;
};

struct mask {
	struct secret *v;  /* longest first; equal lengths in order of adding */
	size_t n, cap;
	size_t maxlen;     /* longest secret; 0 when there is none */
};

struct mask *mask_new(void)
{
	return xcalloc(1, sizeof(struct mask));
}

void mask_free(struct mask *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].s);
	free(m->v);
	free(m);
}

void mask_add(struct mask *m, const char *value)
{
	if (!m || !value || !value[0])
		return;
	size_t len = strlen(value), at = m->n;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].len == len && !memcmp(m->v[i].s, value, len))
			return;
		if (at == m->n && m->v[i].len < len)
			at = i;
	}
	xgrow(&m->v, &m->cap, m->n + 1, sizeof *m->v);
	memmove(m->v + at + 1, m->v + at, (m->n - at) * sizeof *m->v);
	m->v[at].s = xstrndup(value, len);
	m->v[at].len = len;
	m->n++;
	if (len > m->maxlen)
		m->maxlen = len;
}

size_t mask_count(const struct mask *m)
{
	return m ? m->n : 0;
}

/* Offset of the first occurrence of sec in b[from..n), or n. */
static size_t find(const struct secret *sec, const char *b, size_t n, size_t from)
{
	if (n - from < sec->len)
		return n;
	const char *hit = memmem(b + from, n - from, sec->s, sec->len);
	return hit ? (size_t)(hit - b) : n;
}

/*
 * The smallest offset c >= from such that b[c..n) is a proper prefix of some
 * secret (so the bytes from c on cannot be decided yet), or n. Only the last
 * (longest secret − 1) bytes can qualify; each secret looks for its first
 * byte there with memchr.
 */
static size_t hold_point(const struct mask *m, const char *b, size_t n, size_t from)
{
	size_t best = n;
	for (size_t i = 0; i < m->n; i++) {
		const struct secret *sec = &m->v[i];
		/* A proper prefix is shorter than the secret: c > n - len. */
		size_t c = n - from >= sec->len ? n - sec->len + 1 : from;
		while (c < best) {
			const char *hit = memchr(b + c, (unsigned char)sec->s[0], best - c);
			if (!hit)
				break;
			c = (size_t)(hit - b);
			if (!memcmp(b + c, sec->s, n - c)) {
				best = c;
				break;
			}
			c++;
		}
	}
	return best;
}

/*
 * Emits b[pos..n) masked, leftmost-longest, as far as it can decide, and
 * returns the offset it emitted up to. Only matches starting before stop are
 * taken; b[stop..n) is not emitted unless a match runs into it. With hold,
 * the bytes from the hold point on are not decided either (they are the
 * stream's tail). m holds at least one secret.
 */
static size_t scan(const struct mask *m, const char *b, size_t n, size_t pos, size_t stop,
                   bool hold, size_t *hits, mask_emit_fn emit, void *ud)
{
	size_t local[SCAN_STACK];
	size_t *next = m->n <= SCAN_STACK ? local : xmalloc(m->n * sizeof *next);
	for (size_t i = 0; i < m->n; i++)
		next[i] = find(&m->v[i], b, n, pos);
	size_t q = hold ? hold_point(m, b, n, pos) : n;
	size_t limit = q < stop ? q : stop;
	for (;;) {
		size_t w = 0;
		for (size_t i = 1; i < m->n; i++)
			if (next[i] < next[w])
				w = i; /* strictly earlier: ties keep the longer secret */
		size_t at = next[w];
		if (at >= limit)
			break;
		if (at > pos)
			emit(ud, b + pos, at - pos);
		emit(ud, MASK_TEXT, MASK_LEN);
		(*hits)++;
		pos = at + m->v[w].len;
		if (pos > q) {
			/* The match ran into the tail: what could start a secret now? */
			q = hold_point(m, b, n, pos);
			limit = q < stop ? q : stop;
		}
		for (size_t i = 0; i < m->n; i++)
			if (next[i] < pos)
				next[i] = find(&m->v[i], b, n, pos);
	}
	if (pos < limit) {
		emit(ud, b + pos, limit - pos);
		pos = limit;
	}
	if (next != local)
		free(next);
	return pos;
}

bool mask_hits(const struct mask *m, const char *s, size_t len)
{
	if (!m || !s)
		return false;
	for (size_t i = 0; i < m->n; i++)
		if (find(&m->v[i], s, len, 0) < len)
			return true;
	return false;
}

/* mask_emit_fn appending to a strbuf. */
static void emit_sb(void *ud, const char *data, size_t len)
{
	sb_add(ud, data, len);
}

char *mask_text_n(const struct mask *m, const char *s, size_t len, size_t *out_len,
                  size_t *hits)
{
	struct strbuf sb = {0};
	size_t h = 0;
	if (len > 0) {
		xgrow(&sb.s, &sb.cap, len + 1, 1);
		if (m && m->n)
			scan(m, s, len, 0, len, false, &h, emit_sb, &sb);
		else
			sb_add(&sb, s, len);
	}
	if (out_len)
		*out_len = sb.len;
	if (hits)
		*hits = h;
	return sb_take(&sb);
}

char *mask_text(const struct mask *m, const char *s)
{
	return s ? mask_text_n(m, s, strlen(s), NULL, NULL) : NULL;
}

/*
 * How many bytes at the start of b[0..n) may be the rest of a secret whose
 * beginning was cut away: the longest k such that b[0..k) is sec[j..j+k)
 * for some secret and j >= 1, running to the secret's end or to b's (a
 * short b may lie wholly inside a secret). Each secret is searched for b[0]
 * with memchr; only those candidates are compared.
 */
static size_t head_partial(const struct mask *m, const char *b, size_t n)
{
	size_t best = 0;
	for (size_t i = 0; n && i < m->n; i++) {
		const struct secret *sec = &m->v[i];
		for (size_t j = 1; j < sec->len;) {
			const char *hit = memchr(sec->s + j, (unsigned char)b[0], sec->len - j);
			if (!hit)
				break;
			j = (size_t)(hit - sec->s);
			size_t k = sec->len - j < n ? sec->len - j : n;
			if (k > best && !memcmp(b, hit, k))
				best = k;
			j++;
		}
	}
	return best;
}

/* The same at the end: the longest k such that b[n-k..n) is sec[e-k..e)
   for some secret and e < its length, from the secret's start or b's. */
static size_t tail_partial(const struct mask *m, const char *b, size_t n)
{
	size_t best = 0;
	for (size_t i = 0; n && i < m->n; i++) {
		const struct secret *sec = &m->v[i];
		for (size_t e = 1; e < sec->len;) {
			const char *hit = memchr(sec->s + e - 1, (unsigned char)b[n - 1], sec->len - e);
			if (!hit)
				break;
			e = (size_t)(hit - sec->s) + 1;
			size_t k = e < n ? e : n;
			if (k > best && !memcmp(b + n - k, sec->s + e - k, k))
				best = k;
			e++;
		}
	}
	return best;
}

char *mask_text_cut(const struct mask *m, const char *s, size_t len, unsigned flags,
                    size_t *out_len, size_t *hits)
{
	if (!m || !m->n || !flags || !len)
		return mask_text_n(m, s, len, out_len, hits);
	/* Every byte any secret covers, whole or across a cut, is masked; a
	   run of covered bytes becomes one MASK_TEXT. */
	bool *cover = xcalloc(len, sizeof *cover);
	for (size_t i = 0; i < m->n; i++)
		for (size_t at = find(&m->v[i], s, len, 0); at < len; at = find(&m->v[i], s, len, at + 1))
			memset(cover + at, 1, m->v[i].len);
	if (flags & MASK_CUT_HEAD)
		memset(cover, 1, head_partial(m, s, len));
	if (flags & MASK_CUT_TAIL) {
		size_t k = tail_partial(m, s, len);
		memset(cover + len - k, 1, k);
	}
	struct strbuf sb = {0};
	size_t h = 0;
	xgrow(&sb.s, &sb.cap, len + 1, 1);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && cover[j] == cover[i])
			j++;
		if (cover[i]) {
			sb_add(&sb, MASK_TEXT, MASK_LEN);
			h++;
		} else {
			sb_add(&sb, s + i, j - i);
		}
		i = j;
	}
	free(cover);
	if (out_len)
		*out_len = sb.len;
	if (hits)
		*hits = h;
	return sb_take(&sb);
}

size_t mask_shortest(const struct mask *m)
{
	return m && m->n ? m->v[m->n - 1].len : 0;
}

void mask_stream_init(struct mask_stream *ms, const struct mask *m)
{
	memset(ms, 0, sizeof *ms);
	ms->mask = m;
}

/* Keeps b[0..n) as the held tail (b may point into ms->held). */
static void stream_hold(struct mask_stream *ms, const char *b, size_t n)
{
	if (n > 0) {
		xgrow(&ms->held, &ms->capheld, n, 1);
		memmove(ms->held, b, n);
	}
	ms->nheld = n;
}

void mask_stream_feed(struct mask_stream *ms, const char *data, size_t len,
                      mask_emit_fn emit, void *ud)
{
	const struct mask *m = ms->mask;
	if (len == 0)
		return;
	if (!m || m->n == 0) {
		mask_stream_flush(ms, emit, ud);
		emit(ud, data, len);
		return;
	}
	size_t off = 0;
	if (ms->nheld > 0) {
		/*
		 * A match starting in the held tail ends within the next
		 * maxlen − 1 bytes: join just those to decide it.
		 */
		size_t h = ms->nheld, t = len < m->maxlen - 1 ? len : m->maxlen - 1;
		xgrow(&ms->held, &ms->capheld, h + t, 1);
		memcpy(ms->held + h, data, t);
		if (t == len) {
			/* The whole chunk joined: it is the new stream end. */
			size_t r = scan(m, ms->held, h + t, 0, h + t, true, &ms->hits, emit, ud);
			stream_hold(ms, ms->held + r, h + t - r);
			return;
		}
		/* Every secret starting before h is decided here (maxlen bytes follow). */
		size_t r = scan(m, ms->held, h + t, 0, h, false, &ms->hits, emit, ud);
		ms->nheld = 0;
		off = r - h;
	}
	size_t r = scan(m, data, len, off, len, true, &ms->hits, emit, ud);
	stream_hold(ms, data + r, len - r);
}

void mask_stream_flush(struct mask_stream *ms, mask_emit_fn emit, void *ud)
{
	if (ms->nheld == 0)
		return;
	const struct mask *m = ms->mask;
	size_t n = ms->nheld;
	ms->nheld = 0;
	if (m && m->n)
		scan(m, ms->held, n, 0, n, false, &ms->hits, emit, ud);
	else
		emit(ud, ms->held, n);
}

void mask_stream_free(struct mask_stream *ms)
{
	free(ms->held);
	ms->held = NULL;
	ms->nheld = ms->capheld = 0;
}

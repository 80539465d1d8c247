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
	bool in_mask;      /* a piece of MASK_TEXT's own bytes (a lone byte of
	                      "•"): never matched inside a mask already there */
};

struct mask {
	struct secret *v;  /* longest first; equal lengths in order of adding */
	size_t n, cap;
	size_t maxlen;     /* longest secret; 0 when there is none */
};

static void add_one(struct mask *m, const char *value, size_t len);

struct mask *mask_new(void)
{
	return xcalloc(1, sizeof(struct mask));
}

struct mask *mask_copy(const struct mask *m)
{
	struct mask *c = mask_new();
	for (size_t i = 0; m && i < m->n; i++)
		add_one(c, m->v[i].s, m->v[i].len);
	return c;
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

/* Adds len bytes of value as one secret (copied), unless it is there. */
static void add_one(struct mask *m, const char *value, size_t len)
{
	size_t at = m->n;
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
	m->v[at].in_mask = memmem(MASK_TEXT, MASK_LEN, value, len) != NULL;
	m->n++;
	if (len > m->maxlen)
		m->maxlen = len;
}

/* Adds sb's text as a secret when it differs from the value (len bytes). */
static void add_variant(struct mask *m, struct strbuf *sb, const char *value, size_t len)
{
	if (sb->len && (sb->len != len || memcmp(sb->s, value, len) != 0))
		add_one(m, sb->s, sb->len);
	sb->len = 0;
}

/* value percent-encoded as a URL part: all but RFC 3986's unreserved bytes. */
static void percent(struct strbuf *sb, const char *value, bool lower, bool plus)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			sb_addc(sb, (char)*p);
		} else if (plus && *p == ' ') {
			sb_addc(sb, '+');
		} else {
			sb_addc(sb, '%');
			sb_addc(sb, hex[*p >> 4]);
			sb_addc(sb, hex[*p & 15]);
		}
	}
}

/* value as a JSON string's inside: ascii escapes every non-ASCII character
   as \uXXXX (UTF-16), slash escapes '/' as "\/" (both as some servers do). */
static void json_escaped(struct strbuf *sb, const char *value, bool ascii, bool slash)
{
	for (size_t i = 0, n = strlen(value); i < n;) {
		unsigned char c = (unsigned char)value[i];
		uint32_t cp;
		size_t k = c >= 0x80 && ascii ? utf8_decode(value + i, n - i, &cp) : 0;
		if (k) {
			if (cp >= 0x10000) {
				cp -= 0x10000;
				sb_addf(sb, "\\u%04x\\u%04x", 0xD800 + (unsigned)(cp >> 10),
				        0xDC00 + (unsigned)(cp & 0x3FF));
			} else {
				sb_addf(sb, "\\u%04x", (unsigned)cp);
			}
			i += k;
			continue;
		}
		static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
		const char *e = c ? strchr(from, c) : NULL;
		if (e) {
			sb_addc(sb, '\\');
			sb_addc(sb, to[e - from]);
		} else if (c < 0x20) {
			sb_addf(sb, "\\u%04x", c);
		} else if (c == '/' && slash) {
			sb_adds(sb, "\\/");
		} else {
			sb_addc(sb, (char)c);
		}
		i++;
	}
}

void mask_add(struct mask *m, const char *value)
{
	if (!m || !value || !value[0])
		return;
	size_t len = strlen(value);
	add_one(m, value, len);
	/* The forms a value takes on its way: in a URL rbc or a server built,
	   inside a JSON string a server wrote. Each is a secret too. */
	struct strbuf sb = {0};
	percent(&sb, value, false, false);
	add_variant(m, &sb, value, len);
	percent(&sb, value, true, false);
	add_variant(m, &sb, value, len);
	percent(&sb, value, false, true);
	add_variant(m, &sb, value, len);
	for (int v = 0; v < 4; v++) {
		json_escaped(&sb, value, v & 1, v & 2);
		add_variant(m, &sb, value, len);
	}
	sb_free(&sb);
}

size_t mask_count(const struct mask *m)
{
	return m ? m->n : 0;
}

/* True when b[at..at+len) lies inside a MASK_TEXT already in b[0..n). */
static bool inside_a_mask(const char *b, size_t n, size_t at, size_t len)
{
	size_t k = at + len >= MASK_LEN ? at + len - MASK_LEN : 0;
	for (; k <= at && k + MASK_LEN <= n; k++)
		if (!memcmp(b + k, MASK_TEXT, MASK_LEN))
			return true;
	return false;
}

/* Offset of the first occurrence of sec in b[from..n), or n. */
static size_t find(const struct secret *sec, const char *b, size_t n, size_t from)
{
	while (from <= n && n - from >= sec->len) {
		const char *hit = memmem(b + from, n - from, sec->s, sec->len);
		if (!hit)
			return n;
		size_t at = (size_t)(hit - b);
		if (!sec->in_mask || !inside_a_mask(b, n, at, sec->len))
			return at;
		from = at + 1;
	}
	return n;
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
		/* Secrets that overlap this one go under the same mask: one
		   starting inside it and running on would show its tail. */
		size_t end = at + m->v[w].len;
		for (bool grew = true; grew;) {
			grew = false;
			for (size_t i = 0; i < m->n; i++) {
				size_t len = m->v[i].len, lim = end - 1 + len < n ? end - 1 + len : n;
				for (size_t p = find(&m->v[i], b, lim, at + 1); p < end && p < lim;
				     p = find(&m->v[i], b, lim, p + 1))
					if (p + len > end) {
						end = p + len;
						grew = true;
					}
			}
		}
		/* A stream's tail that could still be a secret starting inside
		   this one: nothing from here on is decided yet. */
		if (hold && hold_point(m, b, n, at + 1) < end) {
			limit = at;
			break;
		}
		if (at > pos)
			emit(ud, b + pos, at - pos);
		emit(ud, MASK_TEXT, MASK_LEN);
		(*hits)++;
		pos = end;
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

/* Which bytes of s[0..len) a secret covers, whole or across a cut end
   (cut: MASK_CUT_* flags); a new array of len flags. m holds secrets. */
static bool *cover_of(const struct mask *m, const char *s, size_t len, unsigned cut)
{
	bool *cover = xcalloc(len ? len : 1, sizeof *cover);
	for (size_t i = 0; i < m->n; i++)
		for (size_t at = find(&m->v[i], s, len, 0); at < len; at = find(&m->v[i], s, len, at + 1))
			memset(cover + at, 1, m->v[i].len);
	if (cut & MASK_CUT_HEAD)
		memset(cover, 1, head_partial(m, s, len));
	if (cut & MASK_CUT_TAIL) {
		size_t k = tail_partial(m, s, len);
		memset(cover + len - k, 1, k);
	}
	return cover;
}

char *mask_text_cut(const struct mask *m, const char *s, size_t len, unsigned flags,
                    size_t *out_len, size_t *hits)
{
	if (!m || !m->n || !flags || !len)
		return mask_text_n(m, s, len, out_len, hits);
	/* Every byte any secret covers, whole or across a cut, is masked; a
	   run of covered bytes becomes one MASK_TEXT. */
	bool *cover = cover_of(m, s, len, flags);
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

bool mask_covers(const struct mask *m, const char *s, size_t len, unsigned cut, size_t from,
                 size_t to)
{
	if (!m || !m->n || !s || from >= to || to > len)
		return false;
	bool *cover = cover_of(m, s, len, cut);
	bool any = memchr(cover + from, 1, to - from) != NULL;
	free(cover);
	return any;
}

bool mask_hits_long(const struct mask *m, const char *s, size_t len, size_t minlen)
{
	if (!m || !s)
		return false;
	for (size_t i = 0; i < m->n && m->v[i].len >= minlen; i++)
		if (find(&m->v[i], s, len, 0) < len)
			return true;
	return false;
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
		/* Every secret starting before h is decided here (maxlen bytes
		   follow), unless one overlapping it may run on past them. */
		size_t r = scan(m, ms->held, h + t, 0, h, true, &ms->hits, emit, ud);
		if (r < h) {
			/* Decide that one with the whole chunk. */
			size_t rest = h - r;
			memmove(ms->held, ms->held + r, rest);
			xgrow(&ms->held, &ms->capheld, rest + len, 1);
			memcpy(ms->held + rest, data, len);
			r = scan(m, ms->held, rest + len, 0, rest + len, true, &ms->hits, emit, ud);
			stream_hold(ms, ms->held + r, rest + len - r);
			return;
		}
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

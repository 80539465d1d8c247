/*
 * test_mask.c — secrets masked in texts and in chunked streams: overlapping
 * and nested secrets, bytes that are not text, secrets split at every chunk
 * boundary, values added mid-stream, and streaming checked against the
 * whole-text result (and a naive reference) on random inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/mask.h"
#include "rbc/util.h"

#define M MASK_TEXT

/* mask_text_n on a C string gives want, with want_hits replacements. */
static void assert_masked(const struct mask *m, const char *in, const char *want, size_t want_hits)
{
	size_t len = 0, hits = 99;
	char *out = mask_text_n(m, in, strlen(in), &len, &hits);
	if (strcmp(out, want) != 0)
		fail_msg("mask(\"%s\") = \"%s\", want \"%s\"", in, out, want);
	assert_int_equal(len, strlen(want));
	assert_int_equal(hits, want_hits);
	free(out);
}

static void emit_sb(void *ud, const char *data, size_t len)
{
	assert_true(len > 0);
	sb_add(ud, data, len);
}

/* Streams in[0..n) in chunks cut at the given offsets (ascending), then flushes. */
static char *stream_cuts(const struct mask *m, const char *in, size_t n, const size_t *cuts,
                         size_t ncuts, size_t *out_len, size_t *hits)
{
	struct mask_stream ms;
	struct strbuf sb = {0};
	mask_stream_init(&ms, m);
	size_t at = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		mask_stream_feed(&ms, in + at, end - at, emit_sb, &sb);
		/* The hold-back bound of the contract. */
		assert_true(ms.nheld == 0 || ms.nheld < 64);
		at = end;
	}
	mask_stream_flush(&ms, emit_sb, &sb);
	assert_int_equal(ms.nheld, 0);
	*hits = ms.hits;
	mask_stream_free(&ms);
	*out_len = sb.len;
	return sb_take(&sb);
}

/* Leftmost-longest, one byte at a time: the obviously right answer. */
static char *naive_mask(const char *const *secrets, size_t nsecrets, const char *in, size_t n,
                        size_t *out_len, size_t *hits)
{
	struct strbuf sb = {0};
	*hits = 0;
	for (size_t pos = 0; pos < n;) {
		size_t best = 0;
		for (size_t i = 0; i < nsecrets; i++) {
			size_t l = strlen(secrets[i]);
			if (l > best && l <= n - pos && !memcmp(in + pos, secrets[i], l))
				best = l;
		}
		if (best) {
			/* Secrets starting inside this one and running on go
			   under the same mask. */
			size_t end = pos + best;
			for (size_t q = pos + 1; q < end; q++)
				for (size_t i = 0; i < nsecrets; i++) {
					size_t l = strlen(secrets[i]);
					if (q + l > end && l <= n - q && !memcmp(in + q, secrets[i], l))
						end = q + l;
				}
			sb_adds(&sb, M);
			(*hits)++;
			pos = end;
		} else {
			sb_addc(&sb, in[pos++]);
		}
	}
	*out_len = sb.len;
	return sb_take(&sb);
}

/* The stream, cut anywhere, gives exactly what mask_text_n gives. */
static void assert_stream_matches(const struct mask *m, const char *in, size_t n,
                                  const size_t *cuts, size_t ncuts)
{
	size_t wl, wh, gl, gh;
	char *want = mask_text_n(m, in, n, &wl, &wh);
	char *got = stream_cuts(m, in, n, cuts, ncuts, &gl, &gh);
	if (gl != wl || memcmp(got, want, wl) != 0) {
		fprintf(stderr, "# input (%zu bytes) cut at", n);
		for (size_t i = 0; i < ncuts; i++)
			fprintf(stderr, " %zu", cuts[i]);
		fprintf(stderr, "\n# want \"%.*s\"\n# got  \"%.*s\"\n", (int)wl, want, (int)gl, got);
		fail_msg("stream differs from whole-text masking");
	}
	assert_int_equal(gh, wh);
	free(want);
	free(got);
}

/* Byte by byte, and split in two at every offset. */
static void assert_every_split(const struct mask *m, const char *in, size_t n)
{
	size_t *cuts = xcalloc(n + 1, sizeof *cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	assert_stream_matches(m, in, n, cuts, n ? n - 1 : 0);
	for (size_t i = 0; i <= n; i++) {
		size_t c = i;
		assert_stream_matches(m, in, n, &c, 1);
	}
	for (size_t i = 0; i <= n; i++) /* and in three */
		for (size_t j = i; j <= n; j++) {
			size_t c2[2] = {i, j};
			assert_stream_matches(m, in, n, c2, 2);
		}
	free(cuts);
}

static void test_text_basics(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	assert_int_equal(mask_count(m), 0);
	assert_masked(m, "nothing to hide", "nothing to hide", 0);
	mask_add(m, "hunter2");
	mask_add(m, "hunter2"); /* duplicate */
	mask_add(m, "");        /* ignored */
	mask_add(m, NULL);
	assert_int_equal(mask_count(m), 1);
	assert_masked(m, "pw=hunter2", "pw=" M, 1);
	assert_masked(m, "hunter2 hunter2hunter2.", M " " M M ".", 3);
	assert_masked(m, "hunter", "hunter", 0);
	assert_masked(m, "", "", 0);
	char *s = mask_text(m, "x hunter2 y");
	assert_string_equal(s, "x " M " y");
	free(s);
	assert_null(mask_text(m, NULL));

	/* No mask: a plain copy. */
	size_t len, hits;
	s = mask_text_n(NULL, "hunter2", 7, &len, &hits);
	assert_string_equal(s, "hunter2");
	assert_int_equal(hits, 0);
	free(s);
	s = mask_text_n(m, NULL, 0, &len, NULL);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);

	assert_true(mask_hits(m, "a hunter2 b", 11));
	assert_false(mask_hits(m, "a hunter2 b", 8)); /* only the first len bytes */
	assert_false(mask_hits(m, "hunter", 6));
	assert_false(mask_hits(NULL, "hunter2", 7));
	mask_free(m);
	mask_free(NULL);
}

static void test_overlapping_and_nested(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	/* Added short first: the longer one still wins where both start. */
	mask_add(m, "pass");
	mask_add(m, "password");
	assert_int_equal(mask_count(m), 2);
	assert_masked(m, "password pass passwor", M " " M " " M "wor", 3);
	/* A secret inside another, not at its start: the leftmost wins whole. */
	mask_add(m, "sword");
	assert_masked(m, "xpasswordx", "x" M "x", 1);
	assert_masked(m, "swordfish", M "fish", 1);
	mask_free(m);

	/* Overlapping, neither contains the other: one mask over both, so
	   no tail of the second shows. Adjacent ones are two. */
	m = mask_new();
	mask_add(m, "abc");
	mask_add(m, "bcd");
	assert_masked(m, "abcd", M, 1);
	assert_masked(m, "xbcdabc", "x" M M, 2);
	mask_free(m);

	/* Repeats that overlap themselves: one mask. */
	m = mask_new();
	mask_add(m, "aa");
	assert_masked(m, "aaaaa", M, 1);
	assert_masked(m, "aXaa aaa", "aX" M " " M, 2);
	mask_add(m, "aaa");
	assert_masked(m, "aaaaa", M, 1);
	mask_free(m);
}

static void test_bytes_are_bytes(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "s\xff\xfe");       /* invalid UTF-8 */
	mask_add(m, "\xe2\x80\xa2x");    /* starts like the mask itself */
	static const char in[] = "\0s\xff\xfe\0\xe2\x80\xa2x\xe2\x80\xa2\0s\xff";
	static const char want[] = "\0" M "\0" M "\xe2\x80\xa2\0s\xff";
	size_t len, hits;
	char *out = mask_text_n(m, in, sizeof in - 1, &len, &hits);
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(out, want, len);
	assert_int_equal(out[len], '\0');
	assert_int_equal(hits, 2);
	free(out);
	assert_true(mask_hits(m, in, sizeof in - 1));
	assert_every_split(m, in, sizeof in - 1);
	mask_free(m);
}

static void test_stream_every_split(void **state)
{
	(void)state;
	static const char *const secrets[] = {"token", "tok", "ken", "abcdef", "cd", "aa", "x"};
	static const char *const inputs[] = {
		"my token is token",      "tototoken tok",  "tokenken",
		"abcdabcdefabcdeabcdef",  "aaaaaaa",        "xaxbxtokxen",
		"to ke n",                "abcdetokenabcd", "kentoktokenn",
	};
	struct mask *m = mask_new();
	for (size_t i = 0; i < RBC_ARRAY_LEN(secrets); i++)
		mask_add(m, secrets[i]);
	for (size_t i = 0; i < RBC_ARRAY_LEN(inputs); i++) {
		assert_every_split(m, inputs[i], strlen(inputs[i]));
		size_t wl, wh, nl, nh;
		char *want = naive_mask(secrets, RBC_ARRAY_LEN(secrets), inputs[i], strlen(inputs[i]),
		                        &nl, &nh);
		char *got = mask_text_n(m, inputs[i], strlen(inputs[i]), &wl, &wh);
		assert_string_equal(got, want);
		assert_int_equal(wh, nh);
		free(want);
		free(got);
	}
	/* A 64-byte secret split at every point of a longer text. */
	struct mask *big = mask_new();
	const char *longsecret = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDE!";
	mask_add(big, longsecret);
	mask_add(big, "0123");
	char *in = xasprintf("..%s..%.40s..%s", longsecret, longsecret, longsecret);
	assert_every_split(big, in, strlen(in));
	char *out = mask_text(big, in);
	assert_string_equal(out, ".." M ".." M "456789abcdef" M "456789ABCDEF" M "4567.." M);
	free(out);
	free(in);
	mask_free(big);
	mask_free(m);
}

/* An emit that records each piece's pointer and length. */
struct pieces {
	struct strbuf all;
	const char *ptr[64];
	size_t len[64];
	size_t n;
};

static void emit_piece(void *ud, const char *data, size_t len)
{
	struct pieces *p = ud;
	assert_true(len > 0);
	if (p->n < 64) {
		p->ptr[p->n] = data;
		p->len[p->n] = len;
	}
	p->n++;
	sb_add(&p->all, data, len);
}

static void test_stream_holds_back_little(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "abc");
	mask_add(m, "abxyz");
	struct mask_stream ms;
	struct pieces p = {0};
	mask_stream_init(&ms, m);

	/* Only the longest tail that could start a secret is held. */
	mask_stream_feed(&ms, "qqqabab", 7, emit_piece, &p);
	assert_string_equal(sb_borrow(&p.all), "qqqab");
	assert_int_equal(ms.nheld, 2);
	assert_memory_equal(ms.held, "ab", 2);
	/* "abx" could still become "abxyz": held on. */
	mask_stream_feed(&ms, "x", 1, emit_piece, &p);
	assert_int_equal(ms.nheld, 3);
	mask_stream_feed(&ms, "yz!", 3, emit_piece, &p);
	assert_string_equal(sb_borrow(&p.all), "qqqab" M "!");
	assert_int_equal(ms.nheld, 0);
	assert_int_equal(ms.hits, 1);
	/* A tail that starts no secret is not held at all. */
	mask_stream_feed(&ms, "zzb", 3, emit_piece, &p);
	assert_int_equal(ms.nheld, 0);
	/* Flush: nothing can follow, so "ab" is just text. */
	mask_stream_feed(&ms, "ab", 2, emit_piece, &p);
	assert_int_equal(ms.nheld, 2);
	mask_stream_flush(&ms, emit_piece, &p);
	assert_int_equal(ms.nheld, 0);
	assert_string_equal(sb_borrow(&p.all), "qqqab" M "!zzbab");
	/* The stream goes on after a flush, without joining across it. */
	mask_stream_feed(&ms, "c abc", 5, emit_piece, &p);
	mask_stream_flush(&ms, emit_piece, &p);
	assert_string_equal(sb_borrow(&p.all), "qqqab" M "!zzbabc " M);
	assert_int_equal(ms.hits, 2);
	mask_stream_flush(&ms, emit_piece, &p); /* nothing held: nothing emitted */
	assert_string_equal(sb_borrow(&p.all), "qqqab" M "!zzbabc " M);
	mask_stream_free(&ms);
	sb_free(&p.all);
	mask_free(m);
}

static void test_flush_masks_what_it_held(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "abcdef");
	mask_add(m, "bc");
	struct mask_stream ms;
	struct strbuf sb = {0};
	mask_stream_init(&ms, m);
	mask_stream_feed(&ms, "xabcd", 5, emit_sb, &sb);
	assert_string_equal(sb_borrow(&sb), "x"); /* "abcd" may become "abcdef" */
	mask_stream_flush(&ms, emit_sb, &sb);
	assert_string_equal(sb_borrow(&sb), "xa" M "d");
	assert_int_equal(ms.hits, 1);
	mask_stream_free(&ms);
	mask_stream_free(&ms); /* harmless twice */
	sb_free(&sb);
	mask_free(m);
}

static void test_add_while_streaming(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	struct mask_stream ms;
	struct strbuf sb = {0};
	mask_stream_init(&ms, m);
	/* Before the value is known, it goes out as printed. */
	mask_stream_feed(&ms, "token: s3cr3t\n", 14, emit_sb, &sb);
	assert_string_equal(sb_borrow(&sb), "token: s3cr3t\n");
	mask_add(m, "s3cr3t");
	mask_stream_feed(&ms, "again s3c", 9, emit_sb, &sb);
	mask_stream_feed(&ms, "r3t!", 4, emit_sb, &sb);
	/* A longer secret added while a tail is held applies to that tail. */
	mask_stream_feed(&ms, " s3cr", 5, emit_sb, &sb);
	mask_add(m, "s3cr3t-and-more");
	mask_stream_feed(&ms, "3t-and-more s3cr3t", 18, emit_sb, &sb);
	mask_stream_flush(&ms, emit_sb, &sb);
	assert_string_equal(sb_borrow(&sb), "token: s3cr3t\nagain " M "! " M " " M);
	assert_int_equal(ms.hits, 3);
	mask_stream_free(&ms);
	sb_free(&sb);
	mask_free(m);

	/* A NULL mask passes everything through. */
	mask_stream_init(&ms, NULL);
	mask_stream_feed(&ms, "abc", 3, emit_sb, &sb);
	mask_stream_flush(&ms, emit_sb, &sb);
	assert_string_equal(sb_borrow(&sb), "abc");
	assert_int_equal(ms.hits, 0);
	mask_stream_free(&ms);
	sb_free(&sb);
}

/* Counts bytes and checks every piece is the chunk itself. */
struct through {
	const char *chunk;
	size_t chunk_len;
	uint64_t bytes, calls;
	bool copied;
};

static void emit_through(void *ud, const char *data, size_t len)
{
	struct through *t = ud;
	t->bytes += len;
	t->calls++;
	if (data != t->chunk || len != t->chunk_len)
		t->copied = true;
}

static void test_no_secrets_is_free(void **state)
{
	(void)state;
	enum { CHUNK = 64 * 1024 };
	char *chunk = xmalloc(CHUNK);
	memset(chunk, 'a', CHUNK);
	struct mask *empty = mask_new();
	const struct mask *masks[] = {NULL, empty};
	for (size_t k = 0; k < RBC_ARRAY_LEN(masks); k++) {
		struct mask_stream ms;
		struct through t = {.chunk = chunk, .chunk_len = CHUNK};
		mask_stream_init(&ms, masks[k]);
		for (size_t i = 0; i < (1u << 30) / CHUNK; i++) /* 1 GiB */
			mask_stream_feed(&ms, chunk, CHUNK, emit_through, &t);
		mask_stream_flush(&ms, emit_through, &t);
		assert_int_equal(t.bytes, 1u << 30);
		assert_int_equal(t.calls, (1u << 30) / CHUNK);
		assert_false(t.copied);
		assert_null(ms.held); /* never allocated */
		mask_stream_free(&ms);
	}
	mask_free(empty);
	free(chunk);
}

static void test_with_secrets_scans_in_place(void **state)
{
	(void)state;
	enum { CHUNK = 64 * 1024, CHUNKS = 256 }; /* 16 MiB */
	char *chunk = xmalloc(CHUNK);
	for (size_t i = 0; i < CHUNK; i++)
		chunk[i] = "abcdefghijklmnopqrstuvwxyz \n"[i % 28];
	/* One secret in the middle, one split across every chunk boundary. */
	memcpy(chunk + CHUNK / 2, "hunter2", 7);
	memcpy(chunk + CHUNK - 3, "TOK", 3);
	memcpy(chunk, "EN!", 3);
	struct mask *m = mask_new();
	mask_add(m, "hunter2");
	mask_add(m, "TOKEN");
	mask_add(m, "never-printed");
	struct mask_stream ms;
	struct pieces p = {0};
	mask_stream_init(&ms, m);
	mask_stream_feed(&ms, chunk, CHUNK, emit_piece, &p);
	/* The bytes around the secret are emitted straight from the chunk. */
	assert_ptr_equal(p.ptr[0], chunk);
	assert_int_equal(p.len[0], CHUNK / 2);
	assert_ptr_equal(p.ptr[2], chunk + CHUNK / 2 + 7);
	assert_int_equal(ms.nheld, 3);
	for (size_t i = 1; i < CHUNKS; i++)
		mask_stream_feed(&ms, chunk, CHUNK, emit_piece, &p);
	mask_stream_flush(&ms, emit_piece, &p);
	assert_int_equal(ms.hits, CHUNKS + CHUNKS - 1);
	/* The first chunk loses hunter2 and TOK; the others "EN", hunter2, "TOK". */
	size_t ml = sizeof M - 1;
	assert_int_equal(p.all.len, (CHUNK - 10 + ml) + (CHUNKS - 1) * (CHUNK - 12 + 2 * ml) + 3);
	assert_null(memmem(p.all.s, p.all.len, "hunter2", 7));
	assert_null(memmem(p.all.s, p.all.len, "TOKEN", 5));
	mask_stream_free(&ms);
	sb_free(&p.all);
	mask_free(m);
	free(chunk);
}

static void test_many_secrets(void **state)
{
	(void)state;
	/* More secrets than the scanner keeps on its stack. */
	enum { N = 100 };
	char *secrets[N];
	struct mask *m = mask_new();
	struct strbuf in = {0};
	for (int i = 0; i < N; i++) {
		secrets[i] = xasprintf("s%d-", i * 7);
		mask_add(m, secrets[i]);
	}
	assert_int_equal(mask_count(m), N);
	for (int i = 0; i < 3 * N; i++)
		sb_addf(&in, "s%d-%c", i * 3, i % 2 ? 'x' : ' ');
	size_t nl, nh, gl, gh;
	char *want = naive_mask((const char *const *)secrets, N, in.s, in.len, &nl, &nh);
	char *got = mask_text_n(m, in.s, in.len, &gl, &gh);
	assert_string_equal(got, want);
	assert_int_equal(gh, nh);
	assert_true(nh > 10);
	size_t cuts[] = {1, 2, 50, 51, 333, 334, 335, 900};
	assert_stream_matches(m, in.s, in.len, cuts, RBC_ARRAY_LEN(cuts));
	free(want);
	free(got);
	for (int i = 0; i < N; i++)
		free(secrets[i]);
	sb_free(&in);
	mask_free(m);
}

/* xorshift64*: reproducible across libcs. */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

static void test_random_chunkings(void **state)
{
	(void)state;
	/* A small alphabet so secrets overlap, nest and repeat a lot. */
	static const char alpha[] = "abca\xe2\x80";
	rnd_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 3000; round++) {
		struct mask *m = mask_new();
		char *secrets[6];
		size_t ns = 1 + rnd_below(RBC_ARRAY_LEN(secrets));
		for (size_t i = 0; i < ns; i++) {
			size_t l = 1 + rnd_below(round % 3 ? 5 : 12);
			secrets[i] = xmalloc(l + 1);
			for (size_t k = 0; k < l; k++)
				secrets[i][k] = alpha[rnd_below(sizeof alpha - 1)];
			secrets[i][l] = '\0';
			mask_add(m, secrets[i]);
		}
		size_t n = rnd_below(200);
		char *in = xmalloc(n + 1);
		for (size_t k = 0; k < n; k++)
			in[k] = rnd_below(20) ? alpha[rnd_below(sizeof alpha - 1)] : '\0';
		/* mask_text_n against the reference ... */
		size_t wl, wh, nl, nh;
		char *want = naive_mask((const char *const *)secrets, ns, in, n, &nl, &nh);
		char *got = mask_text_n(m, in, n, &wl, &wh);
		if (wl != nl || memcmp(got, want, nl) != 0 || wh != nh)
			fail_msg("round %d: mask_text_n differs from the reference", round);
		free(want);
		free(got);
		/* ... and the stream against mask_text_n, for a few random chunkings. */
		for (int c = 0; c < 8; c++) {
			size_t cuts[40], nc = 0, at = 0;
			size_t maxchunk = 1 + rnd_below(c % 2 ? 4 : 40);
			while (nc < RBC_ARRAY_LEN(cuts)) {
				at += rnd_below(maxchunk + 1); /* empty chunks too */
				if (at >= n)
					break;
				cuts[nc++] = at;
			}
			assert_stream_matches(m, in, n, cuts, nc);
		}
		for (size_t i = 0; i < ns; i++)
			free(secrets[i]);
		free(in);
		mask_free(m);
	}
}

/* mask_text_cut of a C string with flags gives want. */
static void assert_cut(const struct mask *m, const char *in, unsigned flags, const char *want)
{
	size_t len = 0;
	char *out = mask_text_cut(m, in, strlen(in), flags, &len, NULL);
	if (strcmp(out, want) != 0)
		fail_msg("cut(\"%s\", %u) = \"%s\", want \"%s\"", in, flags, out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

/* A window's cut end masks what may be part of a secret standing across it. */
static void test_cut_ends(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "sk_live_51HxQyZ2e");
	assert_cut(m, "QyZ2e and more", MASK_CUT_HEAD, M " and more");
	assert_cut(m, "QyZ2e and more", 0, "QyZ2e and more");
	assert_cut(m, "more then sk_li", MASK_CUT_TAIL, "more then " M);
	assert_cut(m, "more then sk_li", MASK_CUT_HEAD, "more then sk_li");
	/* A piece from the middle, cut at both ends (a regex group of a window). */
	assert_cut(m, "51HxQy", MASK_CUT_HEAD | MASK_CUT_TAIL, M);
	assert_cut(m, "51HxQy", MASK_CUT_HEAD, M);
	/* Whole secrets inside are masked as always; nothing else is touched. */
	assert_cut(m, "x sk_live_51HxQyZ2e y", MASK_CUT_HEAD | MASK_CUT_TAIL, "x " M " y");
	assert_cut(m, "nothing here", MASK_CUT_HEAD | MASK_CUT_TAIL, "nothing here");
	assert_cut(m, "", MASK_CUT_HEAD, "");
	/* A partial at the cut that is also the end of a whole match. */
	struct mask *m2 = mask_new();
	mask_add(m2, "aXa");
	assert_cut(m2, "..aXa", MASK_CUT_TAIL, ".." M);
	assert_cut(m2, "Xa..", MASK_CUT_HEAD, M "..");
	assert_cut(m2, "a", MASK_CUT_HEAD | MASK_CUT_TAIL, M);
	assert_int_equal(mask_shortest(m2), 3);
	mask_add(m2, "longer-one");
	assert_int_equal(mask_shortest(m2), 3);
	assert_int_equal(mask_shortest(NULL), 0);
	mask_free(m2);
	mask_free(m);
}

/* The forms a secret takes in URLs and JSON strings are masked too; a
   secret made of a mask's own bytes never eats into a mask already there. */
static void test_encoded_forms(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "pa\"ss\\word/x+\xc3\xa4");
	assert_masked(m, "{\"t\": \"pa\\\"ss\\\\word/x+\xc3\xa4\"}", "{\"t\": \"" M "\"}", 1);
	assert_masked(m, "{\"t\": \"pa\\\"ss\\\\word\\/x+\\u00e4\"}", "{\"t\": \"" M "\"}", 1);
	assert_masked(m, "?k=pa%22ss%5Cword%2Fx%2B%C3%A4&", "?k=" M "&", 1);
	assert_masked(m, "?k=pa%22ss%5cword%2fx%2b%c3%a4&", "?k=" M "&", 1);
	mask_free(m);

	m = mask_new();
	mask_add(m, "\x80");
	assert_masked(m, "a\x80" "b", "a" M "b", 1);
	char *once = mask_text(m, "a\x80" "b");
	char *twice = mask_text(m, once);
	assert_string_equal(twice, once);
	free(once);
	free(twice);
	mask_free(m);

	m = mask_new();
	mask_add(m, "s3cret-pin");
	const char *t = "pin s3cret-pin and";
	assert_true(mask_covers(m, t, strlen(t), 0, 6, 8));
	assert_false(mask_covers(m, t, strlen(t), 0, 0, 4));
	assert_true(mask_covers(m, "ret-pin", 7, MASK_CUT_HEAD, 0, 3));
	assert_false(mask_covers(m, "ret-pin", 7, 0, 0, 3));
	assert_true(mask_hits_long(m, t, strlen(t), 4));
	assert_false(mask_hits_long(m, t, strlen(t), 11));
	mask_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_basics),
		cmocka_unit_test(test_overlapping_and_nested),
		cmocka_unit_test(test_bytes_are_bytes),
		cmocka_unit_test(test_stream_every_split),
		cmocka_unit_test(test_stream_holds_back_little),
		cmocka_unit_test(test_flush_masks_what_it_held),
		cmocka_unit_test(test_add_while_streaming),
		cmocka_unit_test(test_no_secrets_is_free),
		cmocka_unit_test(test_with_secrets_scans_in_place),
		cmocka_unit_test(test_many_secrets),
		cmocka_unit_test(test_random_chunkings),
		cmocka_unit_test(test_cut_ends),
		cmocka_unit_test(test_encoded_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

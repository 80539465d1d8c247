/*
 * test_text.c — outside text for a terminal and for Markdown (text.h): the
 * exact escapes, where each one applies and where it does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/text.h"
#include "rbc/util.h"

static char *md(const char *s, bool block)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	if (block)
		text_md_block(&sb, s);
	else
		text_md(&sb, s);
	return sb_take(&sb);
}

#define EXPECT_MD(in, block, want)                                                                         \
	do {                                                                                               \
		char *got_ = md(in, block);                                                                \
		assert_string_equal(got_, want);                                                           \
		free(got_);                                                                                \
	} while (0)

static void test_term(void **state)
{
	(void)state;
	char *s = text_term_dup("ok \x1b]0;title\x07 \xc2\x9b[2J \xff tab\there\nnext 日本");
	assert_string_equal(s, "ok \\x1b]0;title\\x07 \\u009b[2J \\xff tab here\\nnext 日本");
	free(s);
	s = text_term_dup(NULL);
	assert_string_equal(s, "");
	free(s);
	/* DEL, and U+00A0 (a printable, just past C1) */
	s = text_term_dup("a\x7f" "b\xc2\xa0" "c");
	assert_string_equal(s, "a\\x7fb\xc2\xa0" "c");
	free(s);
	/* bidirectional controls (a right-to-left override hiding what a
	   line says) are shown by their code point; a zero-width joiner is
	   text */
	s = text_term_dup("rm -rf /\xe2\x80\xae# safe\xe2\x81\xa6x\xe2\x81\xa9 \xe2\x80\x8f\xd8\x9c \xe2\x80\x8dy");
	assert_string_equal(s, "rm -rf /\\u202e# safe\\u2066x\\u2069 \\u200f\\u061c \xe2\x80\x8dy");
	free(s);
}

static void test_json(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	text_json(&sb, "{\"a\": \"x\xc2\x9by\x7f\xfe\",\n\t\"b\": \"日本\"}");
	assert_string_equal(sb_borrow(&sb), "{\"a\": \"x\\u009by\\u007f\\ufffd\",\n\t\"b\": \"日本\"}");
	sb_free(&sb);
	text_json(&sb, "\"a\xe2\x80\xae" "b\"");
	assert_string_equal(sb_borrow(&sb), "\"a\\u202eb\"");
	sb_free(&sb);
}

static void test_md_inline(void **state)
{
	(void)state;
	EXPECT_MD("<script>alert(1)</script> & co", false, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co");
	EXPECT_MD("a|b\nc\r\nd", false, "a\\|b<br>c<br>d");
	EXPECT_MD("*b* [l](u) ~s~ `c` \\", false, "\\*b\\* \\[l\\](u) \\~s\\~ \\`c\\` \\\\");
	/* _ between letters or digits opens nothing; elsewhere it is escaped */
	EXPECT_MD("TOKEN_SEEN _em_ a_ _b", false, "TOKEN_SEEN \\_em\\_ a\\_ \\_b");
	/* # only as a heading's closing sequence; block openers only at a start */
	EXPECT_MD("Issue #42 fixed #", false, "Issue #42 fixed \\#");
	EXPECT_MD("# x", false, "# x");
	EXPECT_MD("--assume done", false, "--assume done");
	EXPECT_MD("esc\x1b]0;t\x07 c1\xc2\x9b bad\xff tab\tx", false,
	          "esc\xef\xbf\xbd\\]0;t\xef\xbf\xbd c1\xef\xbf\xbd bad\xef\xbf\xbd tab x");
	EXPECT_MD(NULL, false, "");
	EXPECT_MD("deploy \xe2\x80\xaeverified\xe2\x80\xac ok", false, "deploy \xef\xbf\xbdverified\xef\xbf\xbd ok");
}

static void test_md_block(void **state)
{
	(void)state;
	EXPECT_MD("# heading", true, "\\# heading");
	EXPECT_MD("- item", true, "\\- item");
	EXPECT_MD("+ item", true, "\\+ item");
	EXPECT_MD("=== underline", true, "\\=== underline");
	EXPECT_MD("12. item", true, "12\\. item");
	EXPECT_MD("3) item", true, "3\\) item");
	EXPECT_MD("    code", true, "&#32;&#32;&#32;&#32;code");
	EXPECT_MD("2026 release", true, "2026 release");
	EXPECT_MD("plain", true, "plain");
}

/* text_md_fence of a C string. */
#define FENCE(sb, s, info) text_md_fence(sb, s, strlen(s), info)

static void test_md_fence(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	FENCE(&sb, "a\n```\n# h\n<img>\r\nx\x1b[2J", "text");
	assert_string_equal(sb_borrow(&sb), "````text\na\n```\n# h\n<img>\nx\xef\xbf\xbd[2J\n````\n");
	sb_free(&sb);
	FENCE(&sb, "plain\n", NULL);
	assert_string_equal(sb_borrow(&sb), "```\nplain\n```\n");
	sb_free(&sb);
	FENCE(&sb, "`````` six", "text");
	assert_string_equal(sb_borrow(&sb), "```````text\n`````` six\n```````\n");
	sb_free(&sb);
}

/* n copies of c, a new string. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/*
 * A fence no renderer reads shorter than it is: cmark-gfm keeps a fence's
 * length in one byte, so a fence of 301 backticks reads as 45 and a line of
 * 300 inside it would close the block. Fences stay at 250 or less.
 */
static void test_md_fence_long(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	char *bt249 = repeat('`', 249), *bt300 = repeat('`', 300), *bt250 = repeat('`', 250);
	char *tl300 = repeat('~', 300), *tl4 = repeat('~', 4);

	/* 249 backticks: a fence of 250, the longest there is */
	char *in = xasprintf("%s\n<script>", bt249);
	FENCE(&sb, in, "text");
	char *want = xasprintf("%stext\n%s\n<script>\n%s\n", bt250, bt249, bt250);
	assert_string_equal(sb_borrow(&sb), want);
	sb_free(&sb);
	free(in);
	free(want);

	/* 300 backticks: tildes, one more than the longest tilde run */
	in = xasprintf("%s\n~~~ three\n<script>", bt300);
	FENCE(&sb, in, "text");
	want = xasprintf("%stext\n%s\n~~~ three\n<script>\n%s\n", tl4, bt300, tl4);
	assert_string_equal(sb_borrow(&sb), want);
	sb_free(&sb);
	free(in);
	free(want);

	/* 300 of both: 250 backticks, the backtick run shortened and counted */
	in = xasprintf("%s\nx%sy\n%s", tl300, bt300, bt249);
	FENCE(&sb, in, "text");
	want = xasprintf("%stext\n%s\nx```…[300 backticks]y\n%s\n%s\n", bt250, tl300, bt249, bt250);
	assert_string_equal(sb_borrow(&sb), want);
	sb_free(&sb);
	free(in);
	free(want);

	free(bt249);
	free(bt300);
	free(bt250);
	free(tl300);
	free(tl4);
}

/* A NUL byte is shown as the console shows it, and what follows it too. */
static void test_nul(void **state)
{
	(void)state;
	static const char out[] = "one\ntwo\0hidden\nthree";
	struct strbuf sb = {0};
	text_md_fence(&sb, out, sizeof out - 1, NULL);
	assert_string_equal(sb_borrow(&sb), "```\none\ntwo\xef\xbf\xbdhidden\nthree\n```\n");
	sb_free(&sb);
	sb_adds(&sb, "");
	text_term(&sb, out, sizeof out - 1);
	assert_string_equal(sb_borrow(&sb), "one\\ntwo\\x00hidden\\nthree");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term),      cmocka_unit_test(test_json),     cmocka_unit_test(test_md_inline),
		cmocka_unit_test(test_md_block),  cmocka_unit_test(test_md_fence),  cmocka_unit_test(test_md_fence_long),
		cmocka_unit_test(test_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

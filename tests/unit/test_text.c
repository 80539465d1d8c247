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
}

static void test_json(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	text_json(&sb, "{\"a\": \"x\xc2\x9by\x7f\xfe\",\n\t\"b\": \"日本\"}");
	assert_string_equal(sb_borrow(&sb), "{\"a\": \"x\\u009by\\u007f\\ufffd\",\n\t\"b\": \"日本\"}");
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

static void test_md_fence(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	text_md_fence(&sb, "a\n```\n# h\n<img>\r\nx\x1b[2J", "text");
	assert_string_equal(sb_borrow(&sb), "````text\na\n```\n# h\n<img>\nx\xef\xbf\xbd[2J\n````\n");
	sb_free(&sb);
	text_md_fence(&sb, "plain\n", NULL);
	assert_string_equal(sb_borrow(&sb), "```\nplain\n```\n");
	sb_free(&sb);
	text_md_fence(&sb, "`````` six", "text");
	assert_string_equal(sb_borrow(&sb), "```````text\n`````` six\n```````\n");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term),      cmocka_unit_test(test_json),     cmocka_unit_test(test_md_inline),
		cmocka_unit_test(test_md_block),  cmocka_unit_test(test_md_fence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_util.c — allocation helpers, strbuf, UTF-8, units and diagnostics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/error.h"
#include "rbc/units.h"
#include "rbc/strmap.h"
#include "rbc/util.h"

static void test_strbuf(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	assert_string_equal(sb_borrow(&sb), "");
	sb_adds(&sb, "abc");
	sb_addc(&sb, '-');
	sb_addf(&sb, "%d/%s", 42, "x");
	assert_string_equal(sb_borrow(&sb), "abc-42/x");
	assert_int_equal(sb.len, 8);
	for (int i = 0; i < 1000; i++)
		sb_adds(&sb, "0123456789");
	assert_int_equal(sb.len, 10008);
	char *s = sb_take(&sb);
	assert_null(sb.s);
	assert_int_equal(strlen(s), 10008);
	free(s);
	s = sb_take(&sb);
	assert_string_equal(s, "");
	free(s);
}

static void test_utf8(void **state)
{
	(void)state;
	size_t bad = 99;
	assert_true(utf8_valid("plain", 5, &bad));
	assert_true(utf8_valid("本番デプロイ", strlen("本番デプロイ"), &bad));
	assert_false(utf8_valid("ab\xe9z", 4, &bad));
	assert_int_equal(bad, 2);
	/* overlong "/" */
	assert_false(utf8_valid("\xc0\xaf", 2, &bad));
	/* surrogate U+D800 */
	assert_false(utf8_valid("\xed\xa0\x80", 3, &bad));
	/* above U+10FFFF */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4, &bad));
	/* truncated sequence at the end */
	assert_false(utf8_valid("a\xe3\x81", 3, &bad));
	assert_int_equal(bad, 1);
	assert_int_equal(utf8_count("本番x", strlen("本番x")), 3);
	assert_int_equal(utf8_count("a\x80\xbfz", 4), 4);
	uint32_t cp;
	assert_int_equal(utf8_decode("\xe6\x9c\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x672c);
}

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(str_distance("expect", "expect"), 0);
	assert_int_equal(str_distance("expct", "expect"), 1);
	assert_int_equal(str_distance("titel", "title"), 2);
	assert_int_equal(str_distance("", "abc"), 3);
}

static void test_durations(void **state)
{
	(void)state;
	int64_t ms;
	const char *why;
	assert_true(units_parse_duration("500ms", &ms, &why));
	assert_int_equal(ms, 500);
	assert_true(units_parse_duration("30s", &ms, &why));
	assert_int_equal(ms, 30000);
	assert_true(units_parse_duration("1m30s", &ms, &why));
	assert_int_equal(ms, 90000);
	assert_true(units_parse_duration("14d", &ms, &why));
	assert_int_equal(ms, 14LL * 86400000);
	assert_true(units_parse_duration("1.5s", &ms, &why));
	assert_int_equal(ms, 1500);
	assert_false(units_parse_duration("30", &ms, &why));
	assert_string_equal(why, "missing unit (use ms, s, m, h or d)");
	assert_false(units_parse_duration("5x", &ms, &why));
	assert_string_equal(why, "unknown unit (use ms, s, m, h or d)");
	assert_false(units_parse_duration("5MB", &ms, &why));
	assert_false(units_parse_duration("", &ms, &why));
	assert_false(units_parse_duration("-5s", &ms, &why));
	assert_false(units_parse_duration("s", &ms, &why));
}

static void test_sizes(void **state)
{
	(void)state;
	int64_t b;
	const char *why;
	assert_true(units_parse_size("10KB", &b, &why));
	assert_int_equal(b, 10000);
	assert_true(units_parse_size("5MiB", &b, &why));
	assert_int_equal(b, 5 * 1024 * 1024);
	assert_true(units_parse_size("512", &b, &why));
	assert_int_equal(b, 512);
	assert_false(units_parse_size("10XB", &b, &why));
	assert_false(units_parse_size("10s", &b, &why));
}

static void test_format(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(units_format(612, RBC_DIM_TIME, buf, sizeof buf), "612 ms");
	assert_string_equal(units_format(584.8, RBC_DIM_TIME, buf, sizeof buf), "584.8 ms");
	assert_string_equal(units_format(2500, RBC_DIM_TIME, buf, sizeof buf), "2.5 s");
	assert_string_equal(units_format(300000, RBC_DIM_TIME, buf, sizeof buf), "5 min");
	assert_string_equal(units_format(0.001, RBC_DIM_PERCENT, buf, sizeof buf), "0.1 %");
	assert_string_equal(units_format(10000, RBC_DIM_SIZE, buf, sizeof buf), "10 KB");
	assert_string_equal(units_format(42, RBC_DIM_NONE, buf, sizeof buf), "42");
	assert_string_equal(units_format(7.5, RBC_DIM_NONE, buf, sizeof buf), "7.5");
	assert_string_equal(units_format(1e300, RBC_DIM_NONE, buf, sizeof buf), "1e+300");
	assert_string_equal(units_format(-1.0 / 0.0, RBC_DIM_TIME, buf, sizeof buf), "-inf");
	assert_string_equal(units_format_duration(90000, buf, sizeof buf), "1m30s");
	assert_string_equal(units_format_duration(250, buf, sizeof buf), "250ms");
	assert_string_equal(units_format_duration(0, buf, sizeof buf), "0s");
	double f;
	enum rbc_dim dim;
	assert_true(units_lookup("KiB", 3, &f, &dim));
	assert_true(f == 1024.0 && dim == RBC_DIM_SIZE);
	assert_false(units_lookup("kb", 2, &f, &dim));
}

static void test_diags(void **state)
{
	(void)state;
	struct rbc_diags d = {0};
	diags_add(&d, false, "b.json", 1, 1, "x", "third");
	diags_add(&d, true, "a.json", 9, 3, "steps[0]", "second");
	diags_add(&d, false, "a.json", 2, 7, NULL, "first");
	diags_add(&d, false, "a.json", 9, 3, "steps[1]", "second-b");
	assert_int_equal(d.nerrors, 3);
	assert_int_equal(d.nwarnings, 1);
	diags_sort(&d);
	assert_string_equal(d.v[0].msg, "first");
	assert_string_equal(d.v[1].msg, "second");
	assert_string_equal(d.v[2].msg, "second-b"); /* stable */
	assert_string_equal(d.v[3].msg, "third");
	char *s = rbc_error_format(&d.v[1]);
	assert_string_equal(s, "a.json:9:3: steps[0]: warning: second");
	free(s);
	s = rbc_error_format(&d.v[0]);
	assert_string_equal(s, "a.json:2:7: first");
	free(s);
	diags_free(&d);
	assert_int_equal(d.n, 0);
}

/* strmap: many keys through its growth, replacing, missing keys. */
static void test_strmap(void **state)
{
	(void)state;
	struct strmap m = {0};
	assert_null(strmap_get(&m, "none"));
	char key[32];
	for (long i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "rb/step-%ld", i);
		strmap_set(&m, key, (void *)(i + 1));
	}
	assert_int_equal(m.n, 5000);
	for (long i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "rb/step-%ld", i);
		assert_ptr_equal(strmap_get(&m, key), (void *)(i + 1));
	}
	strmap_set(&m, "rb/step-7", (void *)42);
	assert_int_equal(m.n, 5000);
	assert_ptr_equal(strmap_get(&m, "rb/step-7"), (void *)42);
	assert_null(strmap_get(&m, "rb/step-5000"));
	strmap_free(&m);
	assert_null(strmap_get(&m, "rb/step-1"));
}

/* str_replace, str_one_line and the ISO times of the journal, both ways. */
static void test_replace_and_times(void **state)
{
	(void)state;
	char *r = str_replace("a-pw-b-pw", "pw", "****");
	assert_string_equal(r, "a-****-b-****");
	free(r);
	r = str_replace("pwpw", "pw", "pwpw"); /* the replacement is not searched again */
	assert_string_equal(r, "pwpwpwpw");
	free(r);
	r = str_replace("same", "", "x");
	assert_string_equal(r, "same");
	free(r);
	r = str_one_line("FATAL:  no\nsuch role\t \n", ' '); /* libpq's words */
	assert_string_equal(r, "FATAL:  no such role");
	free(r);
	r = str_one_line("bob\x1b[2J@host\x7f ", '?'); /* a name from a row, marked */
	assert_string_equal(r, "bob?[2J@host?");
	free(r);
	char buf[40];
	iso_ms_format(buf, sizeof buf, 1764813160366);
	assert_string_equal(buf, "2025-12-04T01:52:40.366Z");
	assert_int_equal(iso_ms_parse(buf), 1764813160366);
	assert_int_equal(iso_ms_parse("2025-12-04T01:52:40Z"), 1764813160000);
	assert_int_equal(iso_ms_parse("2025-12-04T01:52:40.5Z"), 1764813160500);
	assert_int_equal(iso_ms_parse("not a time"), 0);
	assert_int_equal(iso_ms_parse(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf),    cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_distance),  cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),     cmocka_unit_test(test_format),
		cmocka_unit_test(test_diags),     cmocka_unit_test(test_strmap),
		cmocka_unit_test(test_replace_and_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_markdown.c — the pieces under Markdown runbooks: {…} attributes
 * (bare, quoted with escapes, #id and .class, their errors at the right
 * byte), positions of nodes and of places inside attribute values and
 * verbatim text, and the writer's output read back to the same document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/json.h"
#include "rbc/markdown.h"
#include "rbc/util.h"

/* Parses the attributes of s (starting at its first '{'). */
static bool attrs(const char *s, struct md_attr **v, size_t *n, char **err, size_t *err_off)
{
	size_t start = (size_t)(strchr(s, '{') - s);
	*err = NULL;
	return md_attrs_parse(s, start, strlen(s), v, n, err, err_off);
}

static void test_attributes(void **state)
{
	(void)state;
	struct md_attr *v;
	size_t n, eo;
	char *err;
	const char *s = "sh {#restart .x expect=\"stdout =~ /\\d+ \\\"ok\\\"/ \\\\\" timeout=30s watch}";
	assert_true(attrs(s, &v, &n, &err, &eo));
	assert_int_equal(n, 4);
	assert_string_equal(v[0].key, "id");
	assert_string_equal(v[0].value, "restart");
	assert_string_equal(v[1].key, "expect");
	assert_string_equal(v[1].value, "stdout =~ /\\d+ \"ok\"/ \\");
	assert_true(v[1].quoted);
	assert_int_equal(v[1].key_off, (size_t)(strstr(s, "expect") - s));
	assert_int_equal(v[1].val_off, (size_t)(strstr(s, "=\"") - s) + 1);
	assert_string_equal(v[2].value, "30s");
	assert_false(v[2].quoted);
	assert_string_equal(v[3].key, "watch");
	assert_null(v[3].value);
	md_attrs_free(v, n);

	/* #false is the id "false", never a boolean (a finding of fuzz_markdown). */
	struct rbc_diags d = {0};
	const char *md = "# T\n\n```sh {#false attempts=3 n=\"3\"}\ntrue\n```\n";
	struct json_doc *doc = md_doc_parse("t.md", md, strlen(md), &d);
	assert_non_null(doc);
	cJSON *step = cJSON_GetArrayItem(cJSON_GetObjectItem(json_doc_root(doc), "steps"), 0);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(step, "id")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(step, "attempts")));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(step, "n")));
	json_doc_free(doc);
	diags_free(&d);

	static const struct {
		const char *text, *err;
		size_t at;
	} bad[] = {
		{"sh {a=\"open}", "unterminated quoted value", 6},
		{"sh {a=1", "no closing '}'", 3},
		{"sh {a=1} x", "after the attributes", 9},
		{"sh {a= b}", "needs a value", 4},
		{"sh {=b}", "expected an attribute name", 4},
		{"sh {a=x\"y\"}", "a quote inside an unquoted value", 7},
		{"sh {# }", "needs an id", 4},
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(bad); i++) {
		bool ok = attrs(bad[i].text, &v, &n, &err, &eo);
		md_attrs_free(v, n);
		if (ok || !err || !strstr(err, bad[i].err) || eo != bad[i].at)
			fail_msg("%s: ok %d, error \"%s\" at %zu; want \"%s\" at %zu", bad[i].text, ok,
			         err ? err : "", eo, bad[i].err, bad[i].at);
		free(err);
	}
}

/* The line and column of a place inside a string node, through the position map. */
static void test_positions(void **state)
{
	(void)state;
	const char *md = "# T\r\n\r\n```sh {id=a expect=\"x =~ /\\d/ && \\\"q\\\" == y\"}\r\ntrue\r\n```\r\n";
	struct rbc_diags d = {0};
	struct json_doc *doc = md_doc_parse("t.md", md, strlen(md), &d);
	assert_non_null(doc);
	cJSON *step = cJSON_GetArrayItem(cJSON_GetObjectItem(json_doc_root(doc), "steps"), 0);
	cJSON *expect = cJSON_GetObjectItem(step, "expect");
	assert_string_equal(expect->valuestring, "x =~ /\\d/ && \"q\" == y");
	unsigned line, col;
	assert_true(json_doc_pos(doc, expect, true, &line, &col));
	assert_int_equal(line, 3);
	assert_int_equal(col, 13); /* the key */
	assert_true(json_doc_pos(doc, expect, false, &line, &col));
	assert_int_equal(col, 20); /* its quote */
	/* Byte 19 of the value (the space after "=="): the file has \d and two \" before it. */
	assert_true(json_doc_string_pos(doc, expect, 19, &line, &col));
	assert_int_equal(line, 3);
	assert_int_equal(col, 21 + 21);
	cJSON *run = cJSON_GetObjectItem(step, "run");
	assert_true(json_doc_string_pos(doc, run, 2, &line, &col));
	assert_int_equal(line, 4);
	assert_int_equal(col, 3);
	json_doc_free(doc);
	diags_free(&d);
}

/* A runbook written as Markdown reads back to the same document. */
static void test_write_reads_back(void **state)
{
	(void)state;
	const char *json =
	    "{\"runbook\":\"w\",\"title\":\"W\",\"description\":\"Two\\nlines.\",\"steps\":["
	    "{\"id\":\"a\",\"title\":\"Run\",\"run\":\"echo ```\\n```\",\"expect\":\"stdout =~ /\\\\d \\\"x\\\"/\","
	    "\"watch\":true,\"retry\":{\"attempts\":2}},"
	    "{\"title\":\"Look\",\"manual\":\"Look\",\"note\":\"closely\"},"
	    "{\"title\":\"G\",\"id\":\"g\",\"steps\":[{\"title\":\"x\",\"manual\":\"do x\"}]},"
	    "{\"title\":\"After a group\",\"manual\":\"y\"}]}";
	struct rbc_diags d = {0};
	struct json_doc *a = json_doc_parse("w.json", json, strlen(json), &d);
	assert_non_null(a);
	char *md = md_write(json_doc_root(a));
	struct json_doc *b = md_doc_parse("w.md", md, strlen(md), &d);
	if (!b || !cJSON_Compare(json_doc_root(a), json_doc_root(b), true)) {
		char *s = b ? cJSON_PrintUnformatted(json_doc_root(b)) : NULL;
		fail_msg("written:\n%s\nread back:\n%s", md, s ? s : "(error)");
	}
	/* The fence is longer than any run of backticks in the command. */
	assert_non_null(strstr(md, "````sh {#a title=\"Run\""));
	free(md);
	json_doc_free(a);
	json_doc_free(b);
	diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_write_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_expr_value.c — the value type: construction and reference counts,
 * objects (ordered, case-insensitive headers), equality, JSON in and out,
 * samples, command-line scalars and formatting for people.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rbc/value.h"

/* Parses JSON text (the test's own, always valid). */
static cJSON *json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

/* Asserts value_format(v, max) and frees v. */
static void assert_format(struct rbc_value *v, size_t max, const char *want)
{
	char *f = value_format(v, max);
	assert_string_equal(f, want);
	free(f);
	value_free(v);
}

static void test_refcount(void **state)
{
	(void)state;
	struct rbc_value *s = value_strz_new("shared");
	assert_int_equal(s->refs, 1);
	struct rbc_value *list = value_list_new();
	value_list_push_take(list, value_ref(s));
	value_list_push_take(list, value_ref(s));
	assert_int_equal(s->refs, 3);
	value_free(list);
	assert_int_equal(s->refs, 1);
	assert_string_equal(s->u.str.s, "shared");
	value_free(s);
	value_free(NULL);
	assert_null(value_ref(NULL));
}

static void test_objects(void **state)
{
	(void)state;
	struct rbc_value *o = value_obj_new(false);
	value_obj_set_take(o, "b", value_num_new(1, RBC_DIM_NONE));
	value_obj_set_take(o, "a", value_num_new(2, RBC_DIM_NONE));
	value_obj_set_take(o, "b", value_num_new(3, RBC_DIM_NONE)); /* replaces, keeps order */
	assert_int_equal(o->u.obj.n, 2);
	assert_string_equal(o->u.obj.keys[0], "b");
	assert_true(value_obj_get(o, "b")->u.num.v == 3);
	assert_null(value_obj_get(o, "B"));
	assert_null(value_obj_getn(o, "b\0x", 3));
	assert_non_null(value_obj_getn(o, "bx", 1));
	assert_format(o, 0, "{\"b\": 3, \"a\": 2}");

	struct rbc_value *h = value_obj_new(true);
	value_obj_set_take(h, "Content-Type", value_strz_new("text/plain"));
	value_obj_set_take(h, "content-type", value_strz_new("application/json"));
	assert_int_equal(h->u.obj.n, 1);
	assert_string_equal(value_obj_get(h, "CONTENT-TYPE")->u.str.s, "application/json");
	value_free(h);
	struct rbc_value *n = value_num_new(1, RBC_DIM_NONE);
	assert_null(value_obj_get(n, "x"));
	value_free(n);
}

static void test_equal(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
		{"[1, \"a\", null]", "[1, \"a\", null]", true},
		{"[1, 2]", "[2, 1]", false},
		{"{\"a\": 1, \"b\": [true]}", "{\"b\": [true], \"a\": 1}", true},
		{"{\"a\": 1}", "{\"a\": 1, \"b\": 2}", false},
		{"\"1\"", "1", false},
		{"null", "null", true},
		{"false", "false", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cJSON *ja = json(cases[i].a), *jb = json(cases[i].b);
		struct rbc_value *a = value_from_json(ja), *b = value_from_json(jb);
		assert_int_equal(value_equal(a, b), cases[i].equal);
		value_free(a);
		value_free(b);
		cJSON_Delete(ja);
		cJSON_Delete(jb);
	}
	struct rbc_value *ms = value_num_new(5, RBC_DIM_TIME), *plain = value_num_new(5, RBC_DIM_NONE);
	assert_true(value_equal(ms, plain));
	value_free(ms);
	value_free(plain);
	struct rbc_value *m1 = value_missing_new("x"), *m2 = value_missing_new("x");
	assert_false(value_equal(m1, m2)); /* unknowns are never known to be equal */
	value_free(m1);
	value_free(m2);
}

static void test_json_roundtrip(void **state)
{
	(void)state;
	const char *text = "{\"a\":[1,\"x\",true,null,{\"b\":2.5}],\"c\":{},\"d\":[]}";
	cJSON *j = json(text);
	struct rbc_value *v = value_from_json(j);
	cJSON_Delete(j);
	assert_int_equal(v->type, VALUE_OBJ);
	cJSON *back = value_to_json(v);
	char *s = cJSON_PrintUnformatted(back);
	assert_string_equal(s, text);
	cJSON_free(s);
	cJSON_Delete(back);
	value_free(v);

	/* invalid UTF-8 and NUL become U+FFFD; MISSING becomes null */
	struct rbc_value *l = value_list_new();
	value_list_push_take(l, value_str_new("a\xff" "b\0c", 5));
	value_list_push_take(l, value_missing_new("gone"));
	value_list_push_take(l, value_num_new(612, RBC_DIM_TIME));
	back = value_to_json(l);
	s = cJSON_PrintUnformatted(back);
	assert_string_equal(s, "[\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\",null,612]");
	cJSON_free(s);
	cJSON_Delete(back);
	value_free(l);
	struct rbc_value *null = value_from_json(NULL);
	assert_int_equal(null->type, VALUE_NULL);
	value_free(null);
}

/* Regression: objects from JSON are built in linear time; of duplicate keys the last is found. */
static void test_json_big_and_duplicates(void **state)
{
	(void)state;
	cJSON *j = json("{\"a\": 1, \"b\": 2, \"a\": 3}");
	struct rbc_value *v = value_from_json(j);
	cJSON_Delete(j);
	assert_true(value_obj_get(v, "a")->u.num.v == 3);
	value_free(v);
	j = cJSON_CreateObject();
	for (int i = 0; i < 200000; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		cJSON_AddItemToObject(j, key, cJSON_CreateNumber(i));
	}
	clock_t t0 = clock();
	v = value_from_json(j);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2);
	assert_int_equal(v->u.obj.n, 200000);
	assert_true(value_obj_get(v, "k199999")->u.num.v == 199999);
	value_free(v);
	cJSON_Delete(j);
}

static void test_sample_from_json(void **state)
{
	(void)state;
	cJSON *j = json("{\"time\":12,\"size\":1024,\"status\":200,"
	                "\"header\":{\"Content-Type\":\"text/html\"},\"json\":{\"time\":5}}");
	struct rbc_value *s = value_sample_from_json(j);
	cJSON_Delete(j);
	assert_int_equal(value_obj_get(s, "time")->u.num.dim, RBC_DIM_TIME);
	assert_int_equal(value_obj_get(s, "size")->u.num.dim, RBC_DIM_SIZE);
	assert_int_equal(value_obj_get(s, "status")->u.num.dim, RBC_DIM_NONE);
	const struct rbc_value *json_field = value_obj_get(s, "json");
	assert_int_equal(value_obj_get(json_field, "time")->u.num.dim, RBC_DIM_NONE);
	assert_string_equal(value_obj_get(value_obj_get(s, "header"), "content-type")->u.str.s,
	                    "text/html");
	value_free(s);
	j = json("[1]");
	s = value_sample_from_json(j);
	assert_int_equal(s->type, VALUE_OBJ);
	assert_int_equal(s->u.obj.n, 0);
	value_free(s);
	cJSON_Delete(j);
	assert_int_equal(value_field_dim("time"), RBC_DIM_TIME);
	assert_int_equal(value_field_dim("size"), RBC_DIM_SIZE);
	assert_int_equal(value_field_dim("status"), RBC_DIM_NONE);
}

static void test_parse_number(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
		double v;
		enum rbc_dim dim;
	} cases[] = {
		{"120", true, 120, RBC_DIM_NONE}, {"-1.5", true, -1.5, RBC_DIM_NONE},
		{"+2", true, 2, RBC_DIM_NONE}, {"500ms", true, 500, RBC_DIM_TIME},
		{"1.5s", true, 1500, RBC_DIM_TIME}, {"2m", true, 120000, RBC_DIM_TIME},
		{"1h", true, 3600000, RBC_DIM_TIME}, {"14d", true, 14 * 86400e3, RBC_DIM_TIME},
		{"0.1%", true, 0.001, RBC_DIM_PERCENT}, {"10KB", true, 10000, RBC_DIM_SIZE},
		{"5MiB", true, 5242880, RBC_DIM_SIZE}, {"1e3", true, 1000, RBC_DIM_NONE},
		{"5xs", false, 0, 0}, {"", false, 0, 0}, {"1.", false, 0, 0}, {".5", false, 0, 0},
		{"ms", false, 0, 0}, {"1e999", false, 0, 0}, {"1 s", false, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double v = 0;
		enum rbc_dim dim = RBC_DIM_NONE;
		bool ok = value_parse_number(cases[i].s, strlen(cases[i].s), &v, &dim);
		if (ok != cases[i].ok)
			fail_msg("%s: ok %d", cases[i].s, ok);
		if (ok) {
			assert_float_equal(v, cases[i].v, 1e-9);
			assert_int_equal(dim, cases[i].dim);
		}
	}
}

static void test_parse_scalar(void **state)
{
	(void)state;
	static const struct {
		const char *s, *field, *formatted;
		enum value_type type;
	} cases[] = {
		{"120", "time", "120 ms", VALUE_NUM}, {"120", "status", "120", VALUE_NUM},
		{"120", NULL, "120", VALUE_NUM},     {"2KB", "time", "2 KB", VALUE_NUM},
		{"1024", "size", "1.02 KB", VALUE_NUM}, {"0.1%", NULL, "0.1 %", VALUE_NUM},
		{"true", NULL, "true", VALUE_BOOL},  {"false", NULL, "false", VALUE_BOOL},
		{"null", NULL, "null", VALUE_NULL},  {"ok", NULL, "\"ok\"", VALUE_STR},
		{"", NULL, "\"\"", VALUE_STR},        {"TRUE", NULL, "\"TRUE\"", VALUE_STR},
		{"1e999", NULL, "\"1e999\"", VALUE_STR}, {"12 ms", NULL, "\"12 ms\"", VALUE_STR},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rbc_value *v = value_parse_scalar(cases[i].s, strlen(cases[i].s), cases[i].field);
		assert_int_equal(v->type, cases[i].type);
		assert_format(v, 0, cases[i].formatted);
	}
}

static void test_format(void **state)
{
	(void)state;
	assert_format(value_num_new(612, RBC_DIM_TIME), 0, "612 ms");
	assert_format(value_num_new(1500, RBC_DIM_TIME), 0, "1.5 s");
	assert_format(value_num_new(0.001, RBC_DIM_PERCENT), 0, "0.1 %");
	assert_format(value_num_new(10000, RBC_DIM_SIZE), 0, "10 KB");
	assert_format(value_num_new(7.5, RBC_DIM_NONE), 0, "7.5");
	assert_format(value_num_new(-3, RBC_DIM_NONE), 0, "-3");
	assert_format(value_num_new(1e20, RBC_DIM_NONE), 0, "1e+20");
	assert_format(value_num_new(1e20, RBC_DIM_TIME), 0, "1e+20 ms");
	assert_format(value_bool_new(true), 0, "true");
	assert_format(value_null_new(), 0, "null");
	assert_format(value_missing_new("no %s", "samples"), 0, "unknown");
	assert_format(value_strz_new("say \"hi\"\n\t\\"), 0, "\"say \\\"hi\\\"\\n\\t\\\\\"");
	assert_format(value_str_new("a\0\x01\xff", 4), 0, "\"a\\x00\\x01\\xFF\"");
	assert_format(value_strz_new("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 2,
	              "\"\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6\"");
	assert_format(value_strz_new("abcdef"), 6, "\"abcdef\"");
	assert_format(value_strz_new("abcdefg"), 6, "\"abcdef\xe2\x80\xa6\"");
	struct rbc_value *l = value_list_new();
	for (int i = 0; i < 12; i++)
		value_list_push_take(l, value_num_new(i, RBC_DIM_NONE));
	char *f = value_format(l, 0);
	assert_string_equal(f, "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]");
	free(f);
	assert_format(l, 40, "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \xe2\x80\xa6 (12 items)]");
	assert_string_equal(value_type_name(VALUE_STR), "text");
	assert_string_equal(value_type_name(VALUE_MISSING), "unknown");
}

static void test_to_text(void **state)
{
	(void)state;
	struct rbc_value *vals[] = {
		value_num_new(612, RBC_DIM_TIME), value_num_new(0.1 + 0.2, RBC_DIM_NONE),
		value_num_new(-2.5, RBC_DIM_NONE), value_strz_new("blue"), value_bool_new(false),
		value_null_new(), value_missing_new("x"), NULL,
	};
	const char *want[] = {"612", "0.30000000000000004", "-2.5", "blue", "false", "null", "",
	                      "[1,\"a\"]"};
	struct rbc_value *l = value_list_new();
	value_list_push_take(l, value_num_new(1, RBC_DIM_NONE));
	value_list_push_take(l, value_strz_new("a"));
	vals[7] = l;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char *t = value_to_text(vals[i]);
		assert_string_equal(t, want[i]);
		free(t);
		value_free(vals[i]);
	}
}

/* value_masked: texts masked (keys too, windows at their cuts), the rest kept. */
static void test_masked(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, "hunter22");
	struct rbc_value *o = value_obj_new(false);
	value_obj_set_take(o, "status", value_num_new(200, RBC_DIM_NONE));
	value_obj_set_take(o, "body", value_strz_new("pw=hunter22;"));
	value_obj_set_take(o, "tail", value_str_cut(value_strz_new("22 ok"), MASK_CUT_HEAD));
	value_obj_set_take(o, "hunter22", value_bool_new(true));
	struct rbc_value *n = value_num_new(22, RBC_DIM_NONE);
	n->secret = true;
	value_obj_set_take(o, "num", n);
	struct rbc_value *r = value_masked(o, m);
	assert_ptr_not_equal(r, o);
	char *t = value_to_text(r);
	assert_string_equal(t, "{\"status\":200,\"body\":\"pw=" MASK_TEXT ";\",\"tail\":\"" MASK_TEXT
	                       " ok\",\"" MASK_TEXT "\":true,\"num\":\"" MASK_TEXT "\"}");
	free(t);
	value_free(r);
	/* Nothing to mask: the value itself, shared. */
	struct rbc_value *plain = value_strz_new("nothing secret");
	r = value_masked(plain, m);
	assert_ptr_equal(r, plain);
	value_free(r);
	value_free(plain);
	r = value_masked(o, NULL);
	assert_ptr_equal(r, o);
	value_free(r);
	value_free(o);
	mask_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_big_and_duplicates),
		cmocka_unit_test(test_sample_from_json),
		cmocka_unit_test(test_parse_number),
		cmocka_unit_test(test_parse_scalar),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_to_text),
		cmocka_unit_test(test_masked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

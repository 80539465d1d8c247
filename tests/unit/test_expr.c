/*
 * test_expr.c — the threshold language as an operator sees it: verdicts and
 * their exact explanations, three-valued logic, units, paths, regexes,
 * functions, Nagios ranges, aggregates and percentiles, and syntax errors
 * with their exact columns. Each table row is one test.
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

#include "rbc/expr.h"
#include "rbc/value.h"

/* ---- helpers ---- */

struct samples {
	struct rbc_value **v;
	size_t n;
};

/* Samples from a JSON array of objects; NULL gives none. */
static struct samples samples_parse(const char *json)
{
	struct samples s = {0};
	if (!json)
		return s;
	cJSON *a = cJSON_Parse(json);
	if (!cJSON_IsArray(a))
		fail_msg("bad samples JSON in the test: %s", json);
	s.n = (size_t)cJSON_GetArraySize(a);
	s.v = calloc(s.n ? s.n : 1, sizeof *s.v);
	size_t i = 0;
	for (cJSON *c = a->child; c; c = c->next)
		s.v[i++] = value_sample_from_json(c);
	cJSON_Delete(a);
	return s;
}

/* n samples {field: values[i]} with field's dimension. */
static struct samples samples_of(const char *field, const double *values, size_t n)
{
	struct samples s = {calloc(n ? n : 1, sizeof *s.v), n};
	for (size_t i = 0; i < n; i++) {
		s.v[i] = value_obj_new(false);
		value_obj_set_take(s.v[i], field, value_num_new(values[i], value_field_dim(field)));
	}
	return s;
}

static void samples_free(struct samples *s)
{
	for (size_t i = 0; i < s->n; i++)
		value_free(s->v[i]);
	free(s->v);
}

/* vars.NAME for every test: ENV, LIMIT, R (a bad range), RANGE, NAME. */
static struct rbc_value *test_vars;

static const struct rbc_value *lookup_var(const char *name, void *ud)
{
	(void)ud;
	return value_obj_get(test_vars, name);
}

static int setup_vars(void **state)
{
	(void)state;
	test_vars = value_obj_new(false);
	value_obj_set_take(test_vars, "ENV", value_strz_new("blue"));
	value_obj_set_take(test_vars, "LIMIT", value_num_new(500, RBC_DIM_NONE));
	value_obj_set_take(test_vars, "R", value_strz_new("2:1"));
	value_obj_set_take(test_vars, "RANGE", value_strz_new("@10:20"));
	return 0;
}

static int teardown_vars(void **state)
{
	(void)state;
	value_free(test_vars);
	return 0;
}

/* Parses src or fails the test with the parse error. */
static struct expr *parse_ok(const char *src)
{
	struct rbc_error err = {0};
	struct expr *e = expr_parse(src, &err);
	if (!e)
		fail_msg("'%s' does not parse: column %u: %s", src, err.col, err.msg);
	return e;
}

/* Judges expect (and warn, may be NULL) against s; returns the explanation. */
static enum rbc_verdict judge(const char *expect, const char *warn, const struct samples *s,
                              const char *probe_error, char **explain)
{
	struct expr *e = expect ? parse_ok(expect) : NULL;
	struct expr *w = warn ? parse_ok(warn) : NULL;
	struct expr_env env = {s->v, s->n, lookup_var, NULL, NULL};
	enum rbc_verdict v = expr_judge(e, w, &env, probe_error, explain);
	expr_free(e);
	expr_free(w);
	return v;
}

/* Asserts the verdict and exact explanation of expect/warn over samples s. */
static void expect_judge(const char *expect, const char *warn, const struct samples *s,
                         const char *verdict, const char *explain)
{
	char *got;
	enum rbc_verdict v = judge(expect, warn, s, NULL, &got);
	if (strcmp(verdict_name(v), verdict) != 0 || strcmp(got, explain) != 0)
		fail_msg("%s\n  got:  %s / %s\n  want: %s / %s", expect, verdict_name(v), got,
		         verdict, explain);
	free(got);
}

/* ---- table: verdicts and explanations ---- */

struct judge_case {
	const char *expect, *warn, *samples, *verdict, *explain;
};

#define ONE(json) "[" json "]"

static const struct judge_case judge_cases[] = {
	/* comparisons */
	{"status == 200", NULL, ONE("{\"status\":200}"), "PASS", "status = 200 == 200"},
	{"status == 200", NULL, ONE("{\"status\":503}"), "FAIL", "status = 503 != 200"},
	{"status != 200", NULL, ONE("{\"status\":503}"), "PASS", "status = 503 != 200"},
	{"status != 200", NULL, ONE("{\"status\":200}"), "FAIL", "status = 200 == 200"},
	{"status >= 500", NULL, ONE("{\"status\":503}"), "PASS", "status = 503 > 500"},
	{"status > 500", NULL, ONE("{\"status\":500}"), "FAIL", "status = 500 == 500"},
	{"status >= 500", NULL, ONE("{\"status\":500}"), "PASS", "status = 500 >= 500"},
	{"200 == status", NULL, ONE("{\"status\":200}"), "PASS", "200 == status = 200"},
	/* units */
	{"time < 500ms", NULL, ONE("{\"time\":612}"), "FAIL", "time = 612 ms > 500 ms"},
	{"time < 500ms", NULL, ONE("{\"time\":341}"), "PASS", "time = 341 ms < 500 ms"},
	{"time < 500", NULL, ONE("{\"time\":120}"), "PASS", "time = 120 ms < 500 ms"},
	{"time <= 500ms", NULL, ONE("{\"time\":500}"), "PASS", "time = 500 ms <= 500 ms"},
	{"time < 500ms", NULL, ONE("{\"time\":500}"), "FAIL", "time = 500 ms == 500 ms"},
	{"time >= 1s", NULL, ONE("{\"time\":1000}"), "PASS", "time = 1 s >= 1 s"},
	{"time > 1.5s", NULL, ONE("{\"time\":2000}"), "PASS", "time = 2 s > 1.5 s"},
	{"time < 5m", NULL, ONE("{\"time\":360000}"), "FAIL", "time = 6 min > 5 min"},
	{"time < 1h", NULL, ONE("{\"time\":1800000}"), "PASS", "time = 30 min < 1 h"},
	{"14d > 1h", NULL, NULL, "PASS", "14 d > 1 h"},
	{"size < 10KB", NULL, ONE("{\"size\":12000}"), "FAIL", "size = 12 KB > 10 KB"},
	{"size <= 5MiB", NULL, ONE("{\"size\":1048576}"), "PASS", "size = 1.05 MB < 5.24 MB"},
	{"1KiB == 1024", NULL, NULL, "PASS", "1.02 KB == 1.02 KB"},
	{"0.1% == 0.001", NULL, NULL, "PASS", "0.1 % == 0.1 %"},
	{"time < 10KB", NULL, ONE("{\"time\":5}"), "UNKNOWN",
	 "cannot compare time 5 ms with size 10 KB"},
	/* arithmetic */
	{"time / 2 < 300ms", NULL, ONE("{\"time\":500}"), "PASS", "time / 2 = 250 ms < 300 ms"},
	{"time * 2 > 1s", NULL, ONE("{\"time\":600}"), "PASS", "time * 2 = 1.2 s > 1 s"},
	{"time + 1s == 1500ms", NULL, ONE("{\"time\":500}"), "PASS", "time + 1s = 1.5 s == 1.5 s"},
	{"time - 100 == 400ms", NULL, ONE("{\"time\":500}"), "PASS", "time - 100 = 400 ms == 400 ms"},
	{"-time < 0", NULL, ONE("{\"time\":5}"), "PASS", "-time = -5 ms < 0 ms"},
	{"time / 1s < 2", NULL, ONE("{\"time\":1500}"), "PASS", "time / 1s = 1.5 < 2"},
	{"1 + 2 * 3 == 7", NULL, NULL, "PASS", "1 + 2 * 3 = 7 == 7"},
	{"(1 + 2) * 3 == 9", NULL, NULL, "PASS", "(1 + 2) * 3 = 9 == 9"},
	{"10 - 2 - 3 == 5", NULL, NULL, "PASS", "10 - 2 - 3 = 5 == 5"},
	{"8 / 2 / 2 == 2", NULL, NULL, "PASS", "8 / 2 / 2 = 2 == 2"},
	{"50% * 10s == 5s", NULL, NULL, "PASS", "50% * 10s = 5 s == 5 s"},
	{"-5 < -2", NULL, NULL, "PASS", "-5 < -2"},
	{"time + 5KB > 0", NULL, ONE("{\"time\":500}"), "UNKNOWN",
	 "cannot add time 500 ms and size 5 KB"},
	{"time * 2ms > 0", NULL, ONE("{\"time\":500}"), "UNKNOWN",
	 "cannot multiply time 500 ms by time 2 ms"},
	{"5 / time > 0", NULL, ONE("{\"time\":500}"), "UNKNOWN",
	 "cannot divide number 5 by time 500 ms"},
	{"time / 0 > 1", NULL, ONE("{\"time\":500}"), "UNKNOWN", "division by zero in time / 0"},
	{"\"a\" + 1 == 2", NULL, NULL, "UNKNOWN", "cannot add text \"a\" and number 1"},
	{"-\"a\" == 1", NULL, NULL, "UNKNOWN", "cannot negate text \"a\""},
	{"1e300 * 1e300 > 1", NULL, NULL, "UNKNOWN", "1e300 * 1e300 is out of range"},
	{"1e300 > 1", NULL, NULL, "PASS", "1e+300 > 1"},
	{"\"a\" + \"b\" == \"ab\"", NULL, NULL, "PASS", "\"a\" + \"b\" = \"ab\" == \"ab\""},
	/* no silent coercion */
	{"\"abc\" < 5", NULL, NULL, "UNKNOWN", "cannot compare text \"abc\" with number 5"},
	{"body == 5", NULL, ONE("{\"body\":\"5\"}"), "UNKNOWN",
	 "cannot compare text \"5\" with number 5"},
	{"num(body) == 5", NULL, ONE("{\"body\":\"5\"}"), "PASS", "num(body) = 5 == 5"},
	{"ok == 1", NULL, ONE("{\"ok\":true}"), "UNKNOWN", "cannot compare boolean true with number 1"},
	{"null < 1", NULL, NULL, "UNKNOWN", "cannot compare null with number 1"},
	/* three-valued logic */
	{"false && missing == 1", NULL, ONE("{}"), "FAIL", "false"},
	{"missing == 1 && false", NULL, ONE("{}"), "FAIL", "false"},
	{"true && missing == 1", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"missing == 1 && true", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"true || missing == 1", NULL, ONE("{}"), "PASS", "true"},
	{"missing == 1 || true", NULL, ONE("{}"), "PASS", "true"},
	{"false || missing == 1", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"missing == 1 || false", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"!(missing == 1)", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"missing == 1 && other == 2", NULL, ONE("{}"), "UNKNOWN",
	 "missing is absent; other is absent"},
	{"missing == 1 || other == 2", NULL, ONE("{}"), "UNKNOWN",
	 "missing is absent; other is absent"},
	{"true && true", NULL, NULL, "PASS", "true; true"},
	{"true && false", NULL, NULL, "FAIL", "false"},
	{"false || false", NULL, NULL, "FAIL", "false; false"},
	{"false || true", NULL, NULL, "PASS", "true"},
	{"!true", NULL, NULL, "FAIL", "true"},
	{"!false", NULL, NULL, "PASS", "false"},
	{"a == 1 && a < 5", NULL, ONE("{\"a\":1}"), "PASS", "a = 1 == 1; a = 1 < 5"},
	{"a == 2 || a == 3", NULL, ONE("{\"a\":1}"), "FAIL", "a = 1 != 2; a = 1 != 3"},
	{"a == 1 && a > 5 && a < 9", NULL, ONE("{\"a\":1}"), "FAIL", "a = 1 < 5"},
	{"!(a == 1)", NULL, ONE("{\"a\":1}"), "FAIL", "a = 1 == 1"},
	{"a", NULL, ONE("{\"a\":5}"), "UNKNOWN", "a = 5 is not true or false"},
	{"a && true", NULL, ONE("{\"a\":5}"), "UNKNOWN", "a = 5 is not true or false"},
	{"5", NULL, NULL, "UNKNOWN", "5 is not true or false"},
	{"ok", NULL, ONE("{\"ok\":true}"), "PASS", "ok = true"},
	/* lists and in */
	{"status in [200, 204]", NULL, ONE("{\"status\":204}"), "PASS", "status = 204 in [200, 204]"},
	{"status in [200, 204]", NULL, ONE("{\"status\":500}"), "FAIL",
	 "status = 500 not in [200, 204]"},
	{"\"ok\" in body", NULL, ONE("{\"body\":\"all ok\"}"), "PASS", "\"ok\" in body = \"all ok\""},
	{"\"10.0.0.1\" in addrs", NULL, ONE("{\"addrs\":[\"10.0.0.2\",\"10.0.0.1\"]}"), "PASS",
	 "\"10.0.0.1\" in addrs = [\"10.0.0.2\", \"10.0.0.1\"]"},
	{"\"data\" in json", NULL, ONE("{\"json\":{\"data\":1}}"), "PASS",
	 "\"data\" in json = {\"data\": 1}"},
	{"\"200\" in [200, 204]", NULL, NULL, "UNKNOWN", "cannot compare text \"200\" with number 200"},
	{"5 in 5", NULL, NULL, "UNKNOWN", "cannot look for number 5 in number 5"},
	{"[1, 2] == [1, 2]", NULL, NULL, "PASS", "[1, 2] == [1, 2]"},
	{"[] == []", NULL, NULL, "PASS", "[] == []"},
	{"[1, missing] == [1]", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	/* null */
	{"json.error == null", NULL, ONE("{\"json\":{\"error\":null}}"), "PASS",
	 "json.error = null == null"},
	{"json.error == null", NULL, ONE("{\"json\":{\"error\":\"x\"}}"), "FAIL",
	 "json.error = \"x\" != null"},
	{"json.error != null", NULL, ONE("{\"json\":{}}"), "UNKNOWN", "json.error is absent"},
	/* text */
	{"body == \"ok\"", NULL, ONE("{\"body\":\"ok\"}"), "PASS", "body = \"ok\" == \"ok\""},
	{"'single' == \"single\"", NULL, NULL, "PASS", "\"single\" == \"single\""},
	{"\"a\\\"b\" == 'a\"b'", NULL, NULL, "PASS", "\"a\\\"b\" == \"a\\\"b\""},
	{"\"\\u00e9\\t\" == \"\xc3\xa9\\t\"", NULL, NULL, "PASS", "\"\xc3\xa9\\t\" == \"\xc3\xa9\\t\""},
	{"\"\\ud83d\\ude00\" == \"\xf0\x9f\x98\x80\"", NULL, NULL, "PASS",
	 "\"\xf0\x9f\x98\x80\" == \"\xf0\x9f\x98\x80\""},
	{"version > \"1.10\"", NULL, ONE("{\"version\":\"1.9\"}"), "PASS",
	 "version = \"1.9\" > \"1.10\""},
	{"body == \"x\"", NULL, ONE("{\"body\":\"0123456789012345678901234567890123456789abc\"}"),
	 "FAIL", "body = \"0123456789012345678901234567890123456789\xe2\x80\xa6\" != \"x\""},
	/* regexes */
	{"stdout =~ /(\\d+) errors/i", NULL, ONE("{\"stdout\":\"3 ERRORS\"}"), "PASS",
	 "stdout = \"3 ERRORS\" =~ /(\\d+) errors/i"},
	{"stdout =~ /errors/", NULL, ONE("{\"stdout\":\"3 ERRORS\"}"), "FAIL",
	 "stdout = \"3 ERRORS\" !~ /errors/"},
	{"stdout !~ /panic/", NULL, ONE("{\"stdout\":\"ok\"}"), "PASS", "stdout = \"ok\" !~ /panic/"},
	{"stdout !~ /panic/", NULL, ONE("{\"stdout\":\"kernel panic\"}"), "FAIL",
	 "stdout = \"kernel panic\" =~ /panic/"},
	{"stdout =~ /^b/m", NULL, ONE("{\"stdout\":\"a\\nb\"}"), "PASS",
	 "stdout = \"a\\nb\" =~ /^b/m"},
	{"stdout =~ /^b/", NULL, ONE("{\"stdout\":\"a\\nb\"}"), "FAIL", "stdout = \"a\\nb\" !~ /^b/"},
	{"stdout =~ /a.b/s", NULL, ONE("{\"stdout\":\"a\\nb\"}"), "PASS",
	 "stdout = \"a\\nb\" =~ /a.b/s"},
	{"stdout =~ /a.b/", NULL, ONE("{\"stdout\":\"a\\nb\"}"), "FAIL", "stdout = \"a\\nb\" !~ /a.b/"},
	{"stdout =~ /a b c/x", NULL, ONE("{\"stdout\":\"abc\"}"), "PASS",
	 "stdout = \"abc\" =~ /a b c/x"},
	{"path =~ /^\\/api\\/[a-z]+$/", NULL, ONE("{\"path\":\"/api/health\"}"), "PASS",
	 "path = \"/api/health\" =~ /^\\/api\\/[a-z]+$/"},
	{"path =~ /[/]x/", NULL, ONE("{\"path\":\"a/x\"}"), "PASS", "path = \"a/x\" =~ /[/]x/"},
	{"time / 2 / 1 =~ /x/", NULL, ONE("{\"time\":1}"), "UNKNOWN", "=~ needs text, not time 0.5 ms"},
	{"match(stdout, /(\\d+) errors/) == \"3\"", NULL, ONE("{\"stdout\":\"3 errors\"}"), "PASS",
	 "match(stdout, /(\\d+) errors/) = \"3\" == \"3\""},
	{"match(stdout, /\\d+/) == \"42\"", NULL, ONE("{\"stdout\":\"x 42 y\"}"), "PASS",
	 "match(stdout, /\\d+/) = \"42\" == \"42\""},
	{"match(stdout, /(\\d+) errors/) == \"3\"", NULL, ONE("{\"stdout\":\"fine\"}"), "UNKNOWN",
	 "stdout = \"fine\" does not match /(\\d+) errors/"},
	{"match(stdout, /(x)?y/) == \"y\"", NULL, ONE("{\"stdout\":\"y\"}"), "UNKNOWN",
	 "stdout = \"y\" matches /(x)?y/ but group 1 took no part"},
	{"num(match(stdout, /(\\d+) errors/)) < 5", NULL, ONE("{\"stdout\":\"3 errors\"}"), "PASS",
	 "num(match(stdout, /(\\d+) errors/)) = 3 < 5"},
	{"stdout =~ /abc/", NULL, ONE("{\"stdout\":\"\\u00ff\"}"), "FAIL",
	 "stdout = \"\xc3\xbf\" !~ /abc/"},
	{"stdout =~ /caf\xc3\xa9/", NULL, ONE("{\"stdout\":\"un caf\xc3\xa9\"}"), "PASS",
	 "stdout = \"un caf\xc3\xa9\" =~ /caf\xc3\xa9/"},
	/* paths */
	{"json.data.items[0].id == 7", NULL, ONE("{\"json\":{\"data\":{\"items\":[{\"id\":7}]}}}"),
	 "PASS", "json.data.items[0].id = 7 == 7"},
	{"json.data.items[-1].id == 8", NULL,
	 ONE("{\"json\":{\"data\":{\"items\":[{\"id\":7},{\"id\":8}]}}}"), "PASS",
	 "json.data.items[-1].id = 8 == 8"},
	{"json.data.id == 5", NULL, ONE("{\"json\":{\"data\":{}}}"), "UNKNOWN", "json.data.id is absent"},
	{"json.data.id == 5", NULL, ONE("{\"json\":{}}"), "UNKNOWN",
	 "json.data.id is absent: no json.data"},
	{"json.data.id == 5", NULL, ONE("{\"status\":200}"), "UNKNOWN", "json.data.id is absent: no json"},
	{"json.data.idd == 5", NULL, ONE("{\"json\":{\"data\":{\"id\":5}}}"), "UNKNOWN",
	 "json.data.idd is absent (did you mean id?)"},
	{"json.data.id == 5", NULL, ONE("{\"json\":{\"data\":\"x\"}}"), "UNKNOWN",
	 "json.data.id is absent: json.data is text \"x\", not an object"},
	{"json.items[3] == 5", NULL, ONE("{\"json\":{\"items\":[1]}}"), "UNKNOWN",
	 "json.items[3] is absent: json.items has 1 item"},
	{"json.items[1.5] == 5", NULL, ONE("{\"json\":{\"items\":[1]}}"), "UNKNOWN",
	 "json.items[1.5]: a list index must be a whole number, not number 1.5"},
	{"json.items[\"a\"] == 5", NULL, ONE("{\"json\":{\"items\":[1]}}"), "UNKNOWN",
	 "cannot index list [1] with text \"a\""},
	{"json[\"a-b\"] == 1", NULL, ONE("{\"json\":{\"a-b\":1}}"), "PASS", "json[\"a-b\"] = 1 == 1"},
	{"json.null == 1", NULL, ONE("{\"json\":{\"null\":1}}"), "PASS", "json.null = 1 == 1"},
	{"header[\"Content-Type\"] == \"text/html\"", NULL,
	 ONE("{\"header\":{\"content-type\":\"text/html\"}}"), "PASS",
	 "header[\"Content-Type\"] = \"text/html\" == \"text/html\""},
	{"header.server == \"nginx\"", NULL, ONE("{\"header\":{\"Server\":\"nginx\"}}"), "PASS",
	 "header.server = \"nginx\" == \"nginx\""},
	{"json.Server == \"nginx\"", NULL, ONE("{\"json\":{\"server\":\"nginx\"}}"), "UNKNOWN",
	 "json.Server is absent (did you mean server?)"},
	{"perf.load < 5", NULL, ONE("{\"perf\":{\"load\":0.5}}"), "PASS", "perf.load = 0.5 < 5"},
	{"row.name == \"alice\"", NULL, ONE("{\"row\":{\"name\":\"alice\"}}"), "PASS",
	 "row.name = \"alice\" == \"alice\""},
	{"stauts == 200", NULL, ONE("{\"status\":200}"), "UNKNOWN",
	 "stauts is absent (did you mean status?)"},
	{"vars.ENV == \"blue\"", NULL, NULL, "PASS", "vars.ENV = \"blue\" == \"blue\""},
	{"vars.NOPE == 1", NULL, NULL, "UNKNOWN", "vars.NOPE is not set"},
	{"time < vars.LIMIT", NULL, ONE("{\"time\":600}"), "FAIL", "time = 600 ms > vars.LIMIT = 500"},
	{"json(body).a.b == 1", NULL, ONE("{\"body\":\"{\\\"a\\\":{\\\"b\\\":1}}\"}"), "PASS",
	 "json(body).a.b = 1 == 1"},
	/* functions */
	{"num(\"took 12.5 ms\") == 12.5", NULL, NULL, "PASS", "num(\"took 12.5 ms\") = 12.5 == 12.5"},
	{"num(\"v-3\") == -3", NULL, NULL, "PASS", "num(\"v-3\") = -3 == -3"},
	{"num(\"1.5e3 rows\") == 1500", NULL, NULL, "PASS", "num(\"1.5e3 rows\") = 1500 == 1500"},
	{"num(\"no digits\") == 1", NULL, NULL, "UNKNOWN", "no number in \"no digits\""},
	{"num(stdout) > 0", NULL, ONE("{\"stdout\":\"none\"}"), "UNKNOWN",
	 "no number in stdout = \"none\""},
	{"num(true) > 0", NULL, NULL, "UNKNOWN", "num() needs text, not boolean true"},
	{"json(stdout).ok == true", NULL, ONE("{\"stdout\":\"{\\\"ok\\\": true}\"}"), "PASS",
	 "json(stdout).ok = true == true"},
	{"json(stdout).ok", NULL, ONE("{\"stdout\":\"nope\"}"), "UNKNOWN",
	 "stdout = \"nope\" is not JSON"},
	{"len(body) == 3", NULL, ONE("{\"body\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}"), "PASS",
	 "len(body) = 3 == 3"},
	{"len(addrs) > 0", NULL, ONE("{\"addrs\":[]}"), "FAIL", "len(addrs) = 0 == 0"},
	{"len(json) == 2", NULL, ONE("{\"json\":{\"a\":1,\"b\":2}}"), "PASS", "len(json) = 2 == 2"},
	{"len(5) == 1", NULL, NULL, "UNKNOWN", "len() needs text, a list or an object, not number 5"},
	{"exists(json.data.id)", NULL, ONE("{\"json\":{}}"), "FAIL", "exists(json.data.id) = false"},
	{"exists(json.data)", NULL, ONE("{\"json\":{\"data\":null}}"), "PASS", "exists(json.data) = true"},
	{"!exists(json.error)", NULL, ONE("{\"json\":{}}"), "PASS", "exists(json.error) = false"},
	{"default(json.count, 0) == 0", NULL, ONE("{\"json\":{}}"), "PASS",
	 "default(json.count, 0) = 0 == 0"},
	{"default(json.count, 0) == 4", NULL, ONE("{\"json\":{\"count\":4}}"), "PASS",
	 "default(json.count, 0) = 4 == 4"},
	{"lower(header[\"X-Env\"]) == \"blue\"", NULL, ONE("{\"header\":{\"x-env\":\"BLUE\"}}"),
	 "PASS", "lower(header[\"X-Env\"]) = \"blue\" == \"blue\""},
	{"upper(\"abc\xc3\xa9\") == \"ABC\xc3\xa9\"", NULL, NULL, "PASS",
	 "upper(\"abc\xc3\xa9\") = \"ABC\xc3\xa9\" == \"ABC\xc3\xa9\""},
	{"if(status == 200, \"up\", \"down\") == \"up\"", NULL, ONE("{\"status\":200}"), "PASS",
	 "if(status == 200, \"up\", \"down\") = \"up\" == \"up\""},
	{"if(status == 200, \"up\", missing) == \"down\"", NULL, ONE("{\"status\":200}"), "FAIL",
	 "if(status == 200, \"up\", missing) = \"up\" != \"down\""},
	{"if(missing == 1, 1, 2) == 1", NULL, ONE("{}"), "UNKNOWN", "missing is absent"},
	{"abs(-5) == 5", NULL, NULL, "PASS", "abs(-5) = 5 == 5"},
	{"round(time) == 3ms", NULL, ONE("{\"time\":2.5}"), "PASS", "round(time) = 3 ms == 3 ms"},
	{"contains(body, \"ok\")", NULL, ONE("{\"body\":\"is ok\"}"), "PASS",
	 "contains(body, \"ok\") = true"},
	{"contains(addrs, \"::1\")", NULL, ONE("{\"addrs\":[\"127.0.0.1\"]}"), "FAIL",
	 "contains(addrs, \"::1\") = false"},
	{"startswith(body, \"HTTP\")", NULL, ONE("{\"body\":\"HTTP/1.1 200\"}"), "PASS",
	 "startswith(body, \"HTTP\") = true"},
	{"endswith(body, \"!\")", NULL, ONE("{\"body\":\"done\"}"), "FAIL",
	 "endswith(body, \"!\") = false"},
	{"startswith(5, \"a\")", NULL, NULL, "UNKNOWN", "startswith() needs text, not number 5"},
	/* Nagios ranges */
	{"inrange(load, \"10\")", NULL, ONE("{\"load\":10}"), "PASS",
	 "inrange(load, \"10\") = true: load = 10"},
	{"inrange(load, \"@10:20\")", NULL, ONE("{\"load\":15}"), "FAIL",
	 "inrange(load, \"@10:20\") = false: load = 15"},
	{"inrange(time, \"100ms:1s\")", NULL, ONE("{\"time\":1500}"), "FAIL",
	 "inrange(time, \"100ms:1s\") = false: time = 1.5 s"},
	{"inrange(time, \"1KB:\")", NULL, ONE("{\"time\":1500}"), "UNKNOWN",
	 "inrange() needs a number in the range's unit, not time 1.5 s"},
	{"inrange(load, vars.RANGE)", NULL, ONE("{\"load\":25}"), "PASS",
	 "inrange(load, vars.RANGE) = true: load = 25"},
	{"inrange(load, vars.R)", NULL, ONE("{\"load\":25}"), "UNKNOWN",
	 "bad range \"2:1\": start is greater than end"},
	{"inrange(\"x\", \"10\")", NULL, NULL, "UNKNOWN", "inrange() needs a number, not text \"x\""},
	/* aggregates */
	{"p90(time) == 460ms", NULL,
	 "[{\"time\":300},{\"time\":100},{\"time\":500},{\"time\":200},{\"time\":400}]", "PASS",
	 "p90(time) = 460 ms == 460 ms (5 samples)"},
	{"p50(time) == 7.5", NULL, "[{\"time\":10},{\"time\":5}]", "PASS",
	 "p50(time) = 7.5 ms == 7.5 ms (2 samples)"},
	{"p(99.9, time) < 500ms", NULL,
	 "[{\"time\":100},{\"time\":200},{\"time\":300},{\"time\":400},{\"time\":500}]", "PASS",
	 "p(99.9, time) = 499.6 ms < 500 ms (5 samples)"},
	{"p95(time) < 500ms", NULL, "[{\"time\":120},{\"time\":340},{\"time\":612}]", "FAIL",
	 "p95(time) = 584.8 ms > 500 ms (3 samples)"},
	{"p99(time) == 5ms", NULL, ONE("{\"time\":5}"), "PASS", "p99(time) = 5 ms == 5 ms"},
	{"med(time) == 300ms", NULL, "[{\"time\":100},{\"time\":300},{\"time\":900}]", "PASS",
	 "med(time) = 300 ms == 300 ms (3 samples)"},
	{"min(time) == 100ms && max(time) == 900ms", NULL,
	 "[{\"time\":100},{\"time\":300},{\"time\":900}]", "PASS",
	 "min(time) = 100 ms == 100 ms; max(time) = 900 ms == 900 ms (3 samples)"},
	{"avg(time) == 400ms", NULL, "[{\"time\":100},{\"time\":300},{\"time\":800}]", "PASS",
	 "avg(time) = 400 ms == 400 ms (3 samples)"},
	{"sum(size) == 3KB", NULL, "[{\"size\":1000},{\"size\":2000}]", "PASS",
	 "sum(size) = 3 KB == 3 KB (2 samples)"},
	{"first(status) == 500 && last(status) == 200", NULL, "[{\"status\":500},{\"status\":200}]",
	 "PASS", "first(status) = 500 == 500; last(status) = 200 == 200 (2 samples)"},
	{"count(status == 500) == 1", NULL, "[{\"status\":200},{\"status\":500},{\"status\":200}]",
	 "PASS", "count(status == 500) = 1 == 1 (3 samples)"},
	{"rate(status >= 500) < 5%", NULL,
	 "[{\"status\":200},{\"status\":500},{\"status\":200},{\"status\":200}]", "FAIL",
	 "rate(status >= 500) = 25 % > 5 % (4 samples)"},
	{"streak(status == 200) >= 3", NULL,
	 "[{\"status\":200},{\"status\":200},{\"status\":500},{\"status\":200},{\"status\":200},"
	 "{\"status\":200}]", "PASS", "streak(status == 200) = 3 >= 3 (6 samples)"},
	{"all(status == 200)", NULL, "[{\"status\":200},{\"status\":503},{\"status\":200}]", "FAIL",
	 "all(status == 200): 2/3 samples hold; first failure sample 2: status = 503 != 200"},
	{"all(status == 200)", NULL, "[{\"status\":200},{\"status\":200}]", "PASS",
	 "all(status == 200): 2/2 samples hold"},
	{"any(status == 503)", NULL, "[{\"status\":200},{\"status\":503}]", "PASS",
	 "any(status == 503): 1/2 samples hold; first match sample 2: status = 503 == 503"},
	{"any(status == 503)", NULL, "[{\"status\":200},{\"status\":200}]", "FAIL",
	 "any(status == 503): 0/2 samples hold"},
	{"none(status >= 500)", NULL, "[{\"status\":200},{\"status\":200}]", "PASS",
	 "none(status >= 500): 0/2 samples hold"},
	{"none(status >= 500)", NULL, "[{\"status\":200},{\"status\":502}]", "FAIL",
	 "none(status >= 500): 1/2 samples hold; first match sample 2: status = 502 > 500"},
	{"all(json.ok == true)", NULL, "[{\"json\":{\"ok\":true}},{\"json\":{}}]", "UNKNOWN",
	 "all(json.ok == true): 1/2 samples hold, 1 unknown; first unknown sample 2: "
	 "json.ok is absent"},
	{"all(json.ok == true)", NULL, "[{\"json\":{}},{\"json\":{\"ok\":false}}]", "FAIL",
	 "all(json.ok == true): 0/2 samples hold, 1 unknown; first failure sample 2: "
	 "json.ok = false != true"},
	{"any(json.ok == true)", NULL, "[{\"json\":{}},{\"json\":{\"ok\":true}}]", "PASS",
	 "any(json.ok == true): 1/2 samples hold, 1 unknown; first match sample 2: "
	 "json.ok = true == true"},
	{"count(json.ok == true) > 0", NULL, "[{\"json\":{\"ok\":true}},{\"json\":{}}]", "UNKNOWN",
	 "count(json.ok == true): 1 of 2 samples unknown; first unknown sample 2: json.ok is absent"},
	{"avg(body) > 1", NULL, "[{\"body\":\"x\"}]", "UNKNOWN", "sample 1: body = \"x\" is not a number"},
	{"max(v) > 1", NULL, "[{\"v\":1},{\"v\":2},{\"v\":\"3\"}]", "UNKNOWN",
	 "sample 3: v = \"3\" is not a number"},
	{"max(v) > 1", NULL, "[{\"v\":1},{\"v\":2}]", "PASS", "max(v) = 2 > 1 (2 samples)"},
	{"avg(time) > 1", NULL, "[{\"status\":1},{\"status\":2}]", "UNKNOWN",
	 "2 of 2 samples have no time"},
	{"avg(time) > 1", NULL, "[{\"status\":1}]", "UNKNOWN", "time is absent"},
	{"p95(time) < 500ms", NULL, "[]", "UNKNOWN", "no samples"},
	{"all(status == 200)", NULL, "[]", "UNKNOWN", "no samples"},
	{"count(status == 200) == 0", NULL, "[]", "UNKNOWN", "no samples"},
	{"first(status) == 0", NULL, "[]", "UNKNOWN", "no samples"},
	{"status == 200", NULL, "[]", "UNKNOWN", "no samples"},
	{"status == 200", NULL, NULL, "UNKNOWN", "no samples"},
	/* a bare predicate over repeated samples means all() */
	{"status == 200", NULL, "[{\"status\":200},{\"status\":503},{\"status\":200}]", "FAIL",
	 "all(status == 200): 2/3 samples hold; first failure sample 2: status = 503 != 200"},
	{"status == 200", NULL, "[{\"status\":200},{\"status\":200},{\"status\":200}]", "PASS",
	 "all(status == 200): 3/3 samples hold"},
	{"  status == 200  ", NULL, "[{\"status\":200},{\"status\":200}]", "PASS",
	 "all(status == 200): 2/2 samples hold"},
	{"json.id == 1", NULL, "[{\"json\":{\"id\":1}},{\"json\":{}}]", "UNKNOWN",
	 "all(json.id == 1): 1/2 samples hold, 1 unknown; first unknown sample 2: "
	 "json.id is absent"},
	/* regression: source text with raw newlines keeps explanations on one line */
	{"!(\"a\nb\" in body)", NULL, "[{\"body\":\"x\"},{\"body\":\"a\\nb\"}]", "FAIL",
	 "all(!(\"a b\" in body)): 1/2 samples hold; first failure sample 2: "
	 "\"a\\nb\" in body = \"a\\nb\""},
	{"status ==\n\t200", NULL, "[{\"status\":200},{\"status\":200}]", "PASS",
	 "all(status ==  200): 2/2 samples hold"},
	{"json[\"\xff\"] == 1", NULL, ONE("{\"json\":{}}"), "UNKNOWN", "json[\"?\"] is absent"},
	{"time < 2 * avg(time)", NULL, "[{\"time\":100},{\"time\":100},{\"time\":400}]", "FAIL",
	 "all(time < 2 * avg(time)): 2/3 samples hold; first failure sample 3: "
	 "time = 400 ms == 2 * avg(time) = 400 ms"},
	{"exists(json.id)", NULL, "[{\"json\":{\"id\":1}},{\"json\":{}}]", "FAIL",
	 "all(exists(json.id)): 1/2 samples hold; first failure sample 2: exists(json.id) = false"},
	/* warn */
	{"status == 200", "time > 300ms", ONE("{\"status\":200,\"time\":400}"), "WARN",
	 "status = 200 == 200; warn: time = 400 ms > 300 ms"},
	{"status == 200", "time > 300ms", ONE("{\"status\":200,\"time\":100}"), "PASS",
	 "status = 200 == 200"},
	{"status == 200", "time > 300ms", ONE("{\"status\":500,\"time\":400}"), "FAIL",
	 "status = 500 != 200"},
	{"missing == 1", "true", ONE("{}"), "UNKNOWN", "missing is absent"},
	{"true", "missing == 1", ONE("{}"), "PASS", "true; warn unknown: missing is absent"},
};

static void run_judge_case(void **state)
{
	const struct judge_case *jc = *state;
	struct samples s = samples_parse(jc->samples);
	expect_judge(jc->expect, jc->warn, &s, jc->verdict, jc->explain);
	samples_free(&s);
}

/* ---- table: syntax errors ---- */

struct error_case {
	const char *src;
	unsigned col;
	const char *msg;
};

static const struct error_case error_cases[] = {
	{"status == 200 &&", 17, "expected a value, found end of expression"},
	{"status = 200", 8, "unexpected '=' (use == to compare)"},
	{"(status == 200", 15, "expected ')', found end of expression"},
	{"status == 200)", 14, "expected an operator or the end, found ')'"},
	{"status == 200 time", 15, "expected an operator or the end, found 'time'"},
	{"time < 5xs", 9, "unknown unit 'xs' (use ms s m h d, B KB MB GB TB KiB MiB GiB TiB or %)"},
	{"time < 5ms2", 11, "unexpected '2' after a number"},
	{"body == \"abc", 9, "unterminated text: missing closing \""},
	{"body == 'abc\\'", 9, "unterminated text: missing closing '"},
	{"stdout =~ /abc", 11, "unterminated regex: missing closing /"},
	{"stdout =~ /abc/q", 16, "unknown regex flag 'q' (use i, m, s or x)"},
	{"stdout =~ /abc/iq", 17, "unknown regex flag 'q' (use i, m, s or x)"},
	{"stdout =~ /(abc/", 16, "bad regex: missing closing parenthesis"},
	{"stdout =~ /a{2,1}/", 17, "bad regex: numbers out of order in {} quantifier"},
	{"stdout =~ \"abc\"", 11, "=~ needs a regex literal such as /ok/i, or re(text)"},
	{"stdout !~ 5", 11, "!~ needs a regex literal such as /ok/i, or re(text)"},
	{"foo(1)", 1, "unknown function 'foo'"},
	{"lenn(body) > 1", 1, "unknown function 'lenn' (did you mean 'len'?)"},
	{"p96(time) > 1", 1, "unknown function 'p96' (did you mean 'p90'?)"},
	{"len(a, b) > 1", 1, "len() takes 1 argument, found 2"},
	{"default(a) > 1", 1, "default() takes 2 arguments, found 1"},
	{"x == match(body, \"y\")", 18, "match() needs a regex literal such as /(\\d+)/, or re(text), as argument 2"},
	{"inrange(x, \"2:1\")", 12, "bad range \"2:1\": start is greater than end"},
	{"inrange(x, \"abc\")", 12, "bad range \"abc\": expected START:END, START:, ~:END or END"},
	{"inrange(x, \"\")", 12, "bad range \"\": expected START:END, START:, ~:END or END"},
	{"inrange(x, \"1s:5KB\")", 12, "bad range \"1s:5KB\": expected START:END, START:, ~:END or END"},
	{"p(101, time) < 1", 3,
	 "p() needs a percentile from 0 to 100 as its first argument, such as p(99.9, time)"},
	{"p(x, time) < 1", 3,
	 "p() needs a percentile from 0 to 100 as its first argument, such as p(99.9, time)"},
	{"1 < x < 3", 7,
	 "comparisons do not chain (the one at column 3 is already complete); join them with &&"},
	{"", 1, "empty expression"},
	{"   ", 1, "empty expression"},
	{"a and b", 3, "unexpected 'and' (use &&)"},
	{"a or b", 3, "unexpected 'or' (use ||)"},
	{"x == #", 6, "unexpected character '#'"},
	{"x == \xc3\xa9", 6, "unexpected character '\xc3\xa9'"},
	{"x == \xff", 6, "unexpected byte 0xFF"},
	{"x == \x01", 6, "unexpected control character 0x01"},
	{"\"\xe6\x97\xa5\xe6\x9c\xac\" == x y", 11, "expected an operator or the end, found 'y'"},
	{"vars == 1", 6, "expected a variable name: vars.NAME"},
	{"vars.", 6, "expected a variable name: vars.NAME"},
	{"json.", 6, "expected a name after '.', found end of expression"},
	{"json.5", 6, "expected a name after '.', found '5'"},
	{"/abc/", 1, "a regex goes after =~ or !~, or into match()"},
	{"x == [/a/]", 7, "a regex goes after =~ or !~, or into match()"},
	{"\"\\q\" == x", 2, "unknown escape '\\q' in text"},
	{"\"\\u12\" == x", 2, "expected 4 hex digits after \\u"},
	{"\"\\udc00\" == x", 2, "\\u escape of a lone surrogate"},
	{"1. == x", 3, "expected digits after '.'"},
	{"x & y", 3, "unexpected '&' (use && for and)"},
	{"x | y", 3, "unexpected '|' (use || for or)"},
	{"1e999 > 0", 1, "number too large"},
	{"[1, 2", 6, "expected ',' or ']', found end of expression"},
	{"[1,]", 4, "expected a value, found ']'"},
	{"len(1 2)", 7, "expected ',' or ')', found '2'"},
	{"in", 1, "expected a value, found 'in'"},
	{"x[1", 4, "expected ']', found end of expression"},
	{"x == ()", 7, "expected a value, found ')'"},
	{"*x", 1, "expected a value, found '*'"},
};

static void run_error_case(void **state)
{
	const struct error_case *ec = *state;
	struct rbc_error err = {0};
	struct expr *e = expr_parse(ec->src, &err);
	if (e)
		fail_msg("'%s' parsed, but should fail with: %s", ec->src, ec->msg);
	if (err.col != ec->col || strcmp(err.msg, ec->msg) != 0)
		fail_msg("'%s'\n  got:  column %u: %s\n  want: column %u: %s", ec->src, err.col,
		         err.msg, ec->col, ec->msg);
	rbc_error_clear(&err);
}

/* ---- table: Nagios ranges ---- */

struct range_case {
	const char *range;
	double v;
	bool ok;
};

static const struct range_case range_cases[] = {
	{"10", -1, false}, {"10", 0, true}, {"10", 5, true}, {"10", 10, true}, {"10", 10.5, false},
	{"10:", 9, false}, {"10:", 10, true}, {"10:", 1e9, true},
	{"~:10", -1e9, true}, {"~:10", 10, true}, {"~:10", 11, false},
	{"10:20", 9.9, false}, {"10:20", 10, true}, {"10:20", 15, true}, {"10:20", 20, true},
	{"10:20", 20.1, false},
	{"@10:20", 9, true}, {"@10:20", 10, false}, {"@10:20", 15, false}, {"@10:20", 20, false},
	{"@10:20", 21, true},
	{"@10", 5, false}, {"@10", 11, true}, {"@~:0", -1, false}, {"@~:0", 1, true},
	{":10", -1, false}, {":10", 3, true}, {"~:", -1e12, true}, {"-5:-1", -3, true},
	{"-5:-1", 0, false}, {"1.5:2.5", 2.5, true}, {"10:10", 10, true}, {"10:10", 10.01, false},
};

static void run_range_case(void **state)
{
	const struct range_case *rc = *state;
	char *src = NULL;
	if (asprintf(&src, "inrange(x, \"%s\")", rc->range) < 0)
		fail();
	struct expr *e = parse_ok(src);
	struct rbc_value *x = value_obj_new(false);
	value_obj_set_take(x, "x", value_num_new(rc->v, RBC_DIM_NONE));
	struct rbc_value *const samples[] = {x};
	struct expr_env env = {samples, 1, NULL, NULL, NULL};
	int got = expr_truth(e, &env, NULL);
	if (got != (rc->ok ? 1 : 0))
		fail_msg("%s with x = %g: got %d, want %d", src, rc->v, got, rc->ok);
	value_free(x);
	expr_free(e);
	free(src);
}

/* ---- single tests ---- */

/* The exact sentences of the design for p95 over 200 samples. */
static void test_p95_200_samples(void **state)
{
	(void)state;
	double v[200];
	for (size_t i = 0; i < 200; i++)
		v[i] = i % 4 == 0 ? 612 : 100; /* 50 slow ones: the top 25 % */
	struct samples s = samples_of("time", v, 200);
	expect_judge("p95(time) < 500ms", NULL, &s, "FAIL",
	             "p95(time) = 612 ms > 500 ms (200 samples)");
	samples_free(&s);
	for (size_t i = 0; i < 200; i++)
		v[i] = i % 2 ? 341 : 120;
	s = samples_of("time", v, 200);
	expect_judge("p95(time) < 500ms", NULL, &s, "PASS",
	             "p95(time) = 341 ms < 500 ms (200 samples)");
	expect_judge("p95(time) < 500ms", "p95(time) > 300ms", &s, "WARN",
	             "p95(time) = 341 ms < 500 ms (200 samples); "
	             "warn: p95(time) = 341 ms > 300 ms (200 samples)");
	samples_free(&s);
}

/* all(status == 200) over 30 checks, two of them failing. */
static void test_thirty_health_checks(void **state)
{
	(void)state;
	double v[30];
	for (size_t i = 0; i < 30; i++)
		v[i] = i == 2 || i == 16 ? 503 : 200;
	struct samples s = samples_of("status", v, 30);
	expect_judge("status == 200", NULL, &s, "FAIL",
	             "all(status == 200): 28/30 samples hold; first failure sample 3: "
	             "status = 503 != 200");
	expect_judge("all(status == 200)", NULL, &s, "FAIL",
	             "all(status == 200): 28/30 samples hold; first failure sample 3: "
	             "status = 503 != 200");
	expect_judge("rate(status == 503) < 10%", NULL, &s, "PASS",
	             "rate(status == 503) = 6.67 % < 10 % (30 samples)");
	expect_judge("streak(status == 200) >= 13", NULL, &s, "PASS",
	             "streak(status == 200) = 13 >= 13 (30 samples)");
	samples_free(&s);
}

/* "2 of 30 samples have no time": a percentile never skips a sample silently. */
static void test_missing_samples_counted(void **state)
{
	(void)state;
	double v[30];
	for (size_t i = 0; i < 30; i++)
		v[i] = 100;
	struct samples s = samples_of("time", v, 30);
	for (size_t i = 4; i < 6; i++) {
		value_free(s.v[i]);
		s.v[i] = value_obj_new(false);
		value_obj_set_take(s.v[i], "status", value_num_new(200, RBC_DIM_NONE));
	}
	expect_judge("p95(time) < 500ms", NULL, &s, "UNKNOWN", "2 of 30 samples have no time");
	expect_judge("default(p95(time), 0) < 500ms", NULL, &s, "PASS",
	             "default(p95(time), 0) = 0 < 500 ms (30 samples)");
	samples_free(&s);
}

/* Percentiles by Hyndman–Fan type 7, as k6 computes them. */
static void test_percentile_values(void **state)
{
	(void)state;
	static const struct {
		const char *expr;
		double want;
	} cases[] = {
		{"p50(x)", 7.5}, {"p(0, x)", 5}, {"p(100, x)", 10}, {"p(25, x)", 6.25},
	};
	double two[] = {10, 5};
	struct samples s = samples_of("x", two, 2);
	struct expr_env env = {s.v, s.n, NULL, NULL, NULL};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct expr *e = parse_ok(cases[i].expr);
		struct rbc_value *v = expr_eval(e, &env, NULL);
		assert_int_equal(v->type, VALUE_NUM);
		assert_float_equal(v->u.num.v, cases[i].want, 1e-12);
		value_free(v);
		expr_free(e);
	}
	samples_free(&s);
	double five[] = {500, 100, 400, 200, 300};
	s = samples_of("x", five, 5);
	struct expr_env env5 = {s.v, s.n, NULL, NULL, NULL};
	struct expr *e = parse_ok("p90(x)");
	struct rbc_value *v = expr_eval(e, &env5, NULL);
	assert_true(v->u.num.v == 460); /* exactly */
	value_free(v);
	expr_free(e);
	e = parse_ok("p(99.9, x)");
	v = expr_eval(e, &env5, NULL);
	assert_float_equal(v->u.num.v, 499.6, 1e-9);
	value_free(v);
	expr_free(e);
	samples_free(&s);
}

/* Every verdict, its name, exit code and rank. */
static void test_verdicts(void **state)
{
	(void)state;
	static const struct {
		enum rbc_verdict v;
		const char *name;
		int code;
	} cases[] = {
		{RBC_VERDICT_PASS, "PASS", 0}, {RBC_VERDICT_WARN, "WARN", 1},
		{RBC_VERDICT_FAIL, "FAIL", 2}, {RBC_VERDICT_UNKNOWN, "UNKNOWN", 3},
		{RBC_VERDICT_ERROR, "ERROR", 3},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_string_equal(verdict_name(cases[i].v), cases[i].name);
		assert_int_equal(verdict_exit_code(cases[i].v), cases[i].code);
		enum rbc_verdict back;
		assert_true(verdict_parse(cases[i].name, &back));
		assert_int_equal(back, cases[i].v);
	}
	enum rbc_verdict none;
	assert_false(verdict_parse("pass", &none));
	/* PASS < WARN < UNKNOWN < FAIL < ERROR */
	assert_int_equal(verdict_worst(RBC_VERDICT_PASS, RBC_VERDICT_WARN), RBC_VERDICT_WARN);
	assert_int_equal(verdict_worst(RBC_VERDICT_UNKNOWN, RBC_VERDICT_WARN), RBC_VERDICT_UNKNOWN);
	assert_int_equal(verdict_worst(RBC_VERDICT_UNKNOWN, RBC_VERDICT_FAIL), RBC_VERDICT_FAIL);
	assert_int_equal(verdict_worst(RBC_VERDICT_ERROR, RBC_VERDICT_FAIL), RBC_VERDICT_ERROR);
	assert_int_equal(verdict_worst(RBC_VERDICT_PASS, RBC_VERDICT_PASS), RBC_VERDICT_PASS);
}

/* ERROR from the probe, and judging without an expect. */
static void test_judge_error_and_no_expect(void **state)
{
	(void)state;
	struct samples s = samples_parse(ONE("{\"status\":200}"));
	char *explain;
	assert_int_equal(judge("status == 200", NULL, &s, "connection refused", &explain),
	                 RBC_VERDICT_ERROR);
	assert_string_equal(explain, "connection refused");
	free(explain);
	assert_int_equal(judge(NULL, NULL, &s, NULL, &explain), RBC_VERDICT_PASS);
	assert_string_equal(explain, "no expectation to check");
	free(explain);
	assert_int_equal(judge(NULL, "status == 200", &s, NULL, &explain), RBC_VERDICT_WARN);
	assert_string_equal(explain, "no expectation to check; warn: status = 200 == 200");
	free(explain);
	assert_int_equal(expr_judge(NULL, NULL, NULL, NULL, &explain), RBC_VERDICT_PASS);
	free(explain);
	samples_free(&s);
}

/* expr_eval for captures: the last sample, explanations, MISSING reasons. */
static void test_eval_values(void **state)
{
	(void)state;
	struct samples s = samples_parse("[{\"time\":1,\"json\":{\"environment\":\"green\"}},"
	                                 "{\"time\":3,\"json\":{\"environment\":\"blue\"}}]");
	struct expr_env env = {s.v, s.n, lookup_var, NULL, NULL};
	static const struct {
		const char *expr, *value, *explain;
	} cases[] = {
		{"json.environment", "\"blue\"", "json.environment = \"blue\""},
		{"if(json.environment == \"blue\", \"green\", \"blue\")", "\"green\"",
		 "if(json.environment == \"blue\", \"green\", \"blue\") = \"green\""},
		{"time", "3 ms", "time = 3 ms"},
		{"max(time) - min(time)", "2 ms", "max(time) - min(time) = 2 ms"},
		{"vars.ENV + \"-x\"", "\"blue-x\"", "vars.ENV + \"-x\" = \"blue-x\""},
		{"[1, \"a\", null, true]", "[1, \"a\", null, true]", "[1, \"a\", null, true]"},
		{"json.nope", "unknown", "json.nope is absent"},
		{"json.environmnt", "unknown", "json.environmnt is absent (did you mean environment?)"},
		{"json.x", "unknown", "json.x is absent"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct expr *e = parse_ok(cases[i].expr);
		char *explain;
		struct rbc_value *v = expr_eval(e, &env, &explain);
		char *f = value_format(v, 0);
		if (strcmp(f, cases[i].value) != 0 || strcmp(explain, cases[i].explain) != 0)
			fail_msg("%s: got %s / %s", cases[i].expr, f, explain);
		free(f);
		free(explain);
		value_free(v);
		expr_free(e);
	}
	samples_free(&s);
}

/* expr_truth: 1, 0, -1 for when and repeat.until. */
static void test_truth(void **state)
{
	(void)state;
	struct samples s = samples_parse("[{\"status\":500},{\"status\":200}]");
	struct expr_env env = {s.v, s.n, lookup_var, NULL, NULL};
	static const struct {
		const char *expr;
		int truth;
		const char *explain;
	} cases[] = {
		{"status == 200", 1, "status = 200 == 200"}, /* the last sample */
		{"status == 500", 0, "status = 200 != 500"},
		{"json.x == 1", -1, "json.x is absent: no json"},
		{"status", -1, "status = 200 is not true or false"},
		{"vars.ENV == \"blue\"", 1, "vars.ENV = \"blue\" == \"blue\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct expr *e = parse_ok(cases[i].expr);
		char *explain;
		int t = expr_truth(e, &env, &explain);
		if (t != cases[i].truth || strcmp(explain, cases[i].explain) != 0)
			fail_msg("%s: got %d / %s", cases[i].expr, t, explain);
		free(explain);
		assert_int_equal(expr_truth(e, &env, NULL), cases[i].truth);
		expr_free(e);
	}
	struct expr *e = parse_ok("true");
	assert_int_equal(expr_truth(e, NULL, NULL), 1);
	expr_free(e);
	samples_free(&s);
}

struct var_seen {
	char names[4][16];
	unsigned cols[4];
	size_t n;
};

static void collect_var(const char *name, unsigned col, void *ud)
{
	struct var_seen *seen = ud;
	if (seen->n < 4) {
		snprintf(seen->names[seen->n], sizeof seen->names[0], "%s", name);
		seen->cols[seen->n++] = col;
	}
}

/* expr_foreach_var, expr_source and expr_uses_samples. */
static void test_parse_contract(void **state)
{
	(void)state;
	struct expr *e = parse_ok("vars.A == 1 && \"\xc3\xa9\" == vars.B_2");
	struct var_seen seen = {0};
	expr_foreach_var(e, collect_var, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "A");
	assert_int_equal(seen.cols[0], 1);
	assert_string_equal(seen.names[1], "B_2");
	assert_int_equal(seen.cols[1], 23);
	assert_string_equal(expr_source(e), "vars.A == 1 && \"\xc3\xa9\" == vars.B_2");
	assert_false(expr_uses_samples(e));
	expr_free(e);
	e = parse_ok("p95(time) < 1s");
	assert_true(expr_uses_samples(e));
	expr_free(e);
}

/* Length, nesting and size limits: errors, never a crash. */
static void test_limits(void **state)
{
	(void)state;
	char *s = malloc(EXPR_MAX_LEN + 2);
	memset(s, '1', EXPR_MAX_LEN + 1);
	s[EXPR_MAX_LEN + 1] = '\0';
	struct rbc_error err = {0};
	assert_null(expr_parse(s, &err));
	assert_int_equal(err.col, EXPR_MAX_LEN + 1);
	assert_string_equal(err.msg, "expression longer than 8192 bytes");
	rbc_error_clear(&err);
	free(s);

	/* 64 levels of parentheses parse, 65 do not; the same for ! and lists. */
	static const struct {
		const char *open, *inner, *close;
	} nests[] = {{"(", "true", ")"}, {"!", "true", ""}, {"[", "1", "]"}, {"-", "1", ""},
	             {"len(", "\"x\"", ")"}};
	for (size_t k = 0; k < sizeof nests / sizeof nests[0]; k++) {
		for (int depth = EXPR_MAX_DEPTH; depth <= EXPR_MAX_DEPTH + 1; depth++) {
			struct strbuf sb = {0};
			for (int i = 0; i < depth; i++)
				sb_adds(&sb, nests[k].open);
			sb_adds(&sb, nests[k].inner);
			for (int i = 0; i < depth; i++)
				sb_adds(&sb, nests[k].close);
			struct expr *e = expr_parse(sb_borrow(&sb), &err);
			if (depth == EXPR_MAX_DEPTH) {
				if (!e)
					fail_msg("%d x %s: %s", depth, nests[k].open, err.msg);
				expr_free(e);
			} else {
				assert_null(e);
				assert_string_equal(err.msg, "nesting deeper than 64 levels");
				assert_int_equal(err.col, (unsigned)(EXPR_MAX_DEPTH * strlen(nests[k].open) + 1));
			}
			rbc_error_clear(&err);
			sb_free(&sb);
		}
	}

	/* A long flat chain is fine up to the tree height limit. */
	struct strbuf sb = {0};
	sb_adds(&sb, "1");
	for (int i = 0; i < 200; i++)
		sb_adds(&sb, " + 1");
	sb_adds(&sb, " == 201");
	struct expr *e = parse_ok(sb_borrow(&sb));
	assert_int_equal(expr_truth(e, NULL, NULL), 1);
	expr_free(e);
	for (int i = 0; i < 100; i++)
		sb_adds(&sb, " && true");
	assert_null(expr_parse(sb_borrow(&sb), &err));
	assert_string_equal(err.msg, "expression too complex: more than 256 operators chained or nested");
	rbc_error_clear(&err);
	sb_free(&sb);
}

/* Nested aggregates are computed once per evaluation, not once per sample. */
static void test_nested_aggregates_fast(void **state)
{
	(void)state;
	double v[2000];
	for (size_t i = 0; i < 2000; i++)
		v[i] = (double)(i % 7);
	struct samples s = samples_of("x", v, 2000);
	clock_t t0 = clock();
	expect_judge("all(x <= max(x) && x >= min(x) && all(all(any(x == max(x)))))", NULL, &s, "PASS",
	             "all(x <= max(x) && x >= min(x) && all(all(any(x == max(x))))): "
	             "2000/2000 samples hold");
	expect_judge("x < 2 * p99(x) + avg(x)", NULL, &s, "PASS",
	             "all(x < 2 * p99(x) + avg(x)): 2000/2000 samples hold");
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	if (secs > 5)
		fail_msg("took %.1f s", secs);
	samples_free(&s);
}

/* A catastrophic regex hits the match limit: UNKNOWN, quickly. */
static void test_regex_limits(void **state)
{
	(void)state;
	struct rbc_value *sample = value_obj_new(false);
	char subject[64];
	memset(subject, 'a', 40);
	strcpy(subject + 40, "!");
	value_obj_set_take(sample, "stdout", value_strz_new(subject));
	struct rbc_value *const samples[] = {sample};
	struct expr_env env = {samples, 1, NULL, NULL, NULL};
	struct expr *e = parse_ok("stdout =~ /^(a|aa|aaa)*(b|c)*$/");
	clock_t t0 = clock();
	char *explain;
	assert_int_equal(expr_judge(e, NULL, &env, NULL, &explain), RBC_VERDICT_UNKNOWN);
	assert_string_equal(explain, "cannot match /^(a|aa|aaa)*(b|c)*$/: match limit exceeded");
	free(explain);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5);
	expr_free(e);
	value_free(sample);
}

/* Probe output is any bytes: invalid UTF-8 and NUL never break anything. */
static void test_binary_text(void **state)
{
	(void)state;
	struct rbc_value *sample = value_obj_new(false);
	value_obj_set_take(sample, "stdout", value_str_new("\xff\xfe" "ab\0cd\xc3", 8));
	struct rbc_value *const samples[] = {sample};
	struct expr_env env = {samples, 1, NULL, NULL, NULL};
	static const struct {
		const char *expr;
		const char *verdict, *explain;
	} cases[] = {
		{"stdout =~ /cd/", "PASS", "stdout = \"\\xFF\\xFEab\\x00cd\\xC3\" =~ /cd/"},
		{"stdout =~ /^.{2}ab/", "FAIL", "stdout = \"\\xFF\\xFEab\\x00cd\\xC3\" !~ /^.{2}ab/"},
		{"len(stdout) == 8", "PASS", "len(stdout) = 8 == 8"},
		{"\"cd\" in stdout", "PASS", "\"cd\" in stdout = \"\\xFF\\xFEab\\x00cd\\xC3\""},
		{"match(stdout, /(c.)/) == \"cd\"", "PASS", "match(stdout, /(c.)/) = \"cd\" == \"cd\""},
		{"num(stdout) > 0", "UNKNOWN", "no number in stdout = \"\\xFF\\xFEab\\x00cd\\xC3\""},
		{"json(stdout) == 1", "UNKNOWN", "stdout = \"\\xFF\\xFEab\\x00cd\\xC3\" is not JSON"},
		{"upper(stdout) =~ /CD/", "PASS",
		 "upper(stdout) = \"\\xFF\\xFEAB\\x00CD\\xC3\" =~ /CD/"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct expr *e = parse_ok(cases[i].expr);
		char *explain;
		enum rbc_verdict v = expr_judge(e, NULL, &env, NULL, &explain);
		if (strcmp(verdict_name(v), cases[i].verdict) || strcmp(explain, cases[i].explain))
			fail_msg("%s: got %s / %s", cases[i].expr, verdict_name(v), explain);
		free(explain);
		expr_free(e);
	}
	value_free(sample);
}

/* One parsed expression serves many evaluations with different samples. */
static void test_reuse(void **state)
{
	(void)state;
	struct expr *e = parse_ok("count(status == 200) >= 1 && p50(time) < 1s");
	for (int round = 0; round < 3; round++) {
		double t[3] = {100.0 * round, 200, 3000};
		struct samples s = samples_of("time", t, 3);
		for (size_t i = 0; i < 3; i++)
			value_obj_set_take(s.v[i], "status", value_num_new(200, RBC_DIM_NONE));
		struct expr_env env = {s.v, s.n, NULL, NULL, NULL};
		char *explain;
		assert_int_equal(expr_judge(e, NULL, &env, NULL, &explain), RBC_VERDICT_PASS);
		assert_string_equal(explain, "count(status == 200) = 3 > 1; p50(time) = 200 ms < 1 s "
		                             "(3 samples)");
		free(explain);
		samples_free(&s);
	}
	expr_free(e);
}

/* Builds one test per row of a table, named PREFIX: NAME. */
static void add_rows(struct CMUnitTest *tests, size_t *n, char **names, const char *prefix,
                     const void *rows, size_t nrows, size_t size, size_t name_off,
                     CMUnitTestFunction fn)
{
	for (size_t i = 0; i < nrows; i++) {
		const char *row = (const char *)rows + i * size;
		const char *name = *(const char *const *)(row + name_off);
		if (asprintf(&names[*n], "%s: %s #%zu", prefix, name, i + 1) < 0)
			abort();
		for (char *c = names[*n]; *c; c++) /* one TAP line per test */
			if ((unsigned char)*c < 0x20)
				*c = ' ';
		tests[*n] = (struct CMUnitTest){names[*n], fn, NULL, NULL, (void *)row};
		(*n)++;
	}
}

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0])

int main(void)
{
	static const struct CMUnitTest singles[] = {
		cmocka_unit_test(test_p95_200_samples),
		cmocka_unit_test(test_thirty_health_checks),
		cmocka_unit_test(test_missing_samples_counted),
		cmocka_unit_test(test_percentile_values),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_judge_error_and_no_expect),
		cmocka_unit_test(test_eval_values),
		cmocka_unit_test(test_truth),
		cmocka_unit_test(test_parse_contract),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_nested_aggregates_fast),
		cmocka_unit_test(test_regex_limits),
		cmocka_unit_test(test_binary_text),
		cmocka_unit_test(test_reuse),
	};
	size_t cap = sizeof singles / sizeof singles[0] + sizeof judge_cases / sizeof judge_cases[0] +
	             sizeof error_cases / sizeof error_cases[0] +
	             sizeof range_cases / sizeof range_cases[0];
	struct CMUnitTest *tests = calloc(cap, sizeof *tests);
	char **names = calloc(cap, sizeof *names);
	size_t n = 0;
	for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++)
		tests[n++] = singles[i];
	add_rows(tests, &n, names, "judge", ROWS(judge_cases),
	         offsetof(struct judge_case, expect), run_judge_case);
	add_rows(tests, &n, names, "syntax error", ROWS(error_cases),
	         offsetof(struct error_case, src), run_error_case);
	add_rows(tests, &n, names, "range", ROWS(range_cases),
	         offsetof(struct range_case, range), run_range_case);
	int rc = _cmocka_run_group_tests("expr", tests, n, setup_vars, teardown_vars);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return rc;
}

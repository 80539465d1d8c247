/*
 * test_expr_lang.c — the language's functions over lists (count, any, all,
 * filter, map with `it`), regexes built at run time (re, quote) and the
 * wall clock (now, hour, weekday with IANA zones): verdicts with their
 * exact explanations, and the errors a runbook's check reports. Each table
 * row is one test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/expr.h"
#include "rbc/value.h"

/* vars.NAME: NODE (a name with regex characters), NODES (a list), PORT. */
static struct rbc_value *test_vars;

/* Looks NAME up in test_vars. */
static const struct rbc_value *lookup_var(const char *name, void *ud)
{
	(void)ud;
	return value_obj_get(test_vars, name);
}

/* Builds test_vars. */
static int setup_vars(void **state)
{
	(void)state;
	/* now() reads the test clock: Sunday 2026-12-06 11:30 UTC. */
	setenv("RBC_TEST_NOW", "2026-12-06T11:30:00Z", 1);
	cJSON *j = cJSON_Parse("{\"ZONE\": \"Asia/Tokyo\", \"BAD\": \"Asia/Tokio\", \"NODE\": \"db-01.example (primary)\", \"PORT\": 5432,"
	                       " \"NODES\": [\"db-01\", \"db-02\", \"web-01\"]}");
	test_vars = value_from_json(j);
	cJSON_Delete(j);
	return 0;
}

/* Frees test_vars. */
static int teardown_vars(void **state)
{
	(void)state;
	value_free(test_vars);
	return 0;
}

/* One judged expression: against one sample (JSON object, NULL: none). */
struct judge_case {
	const char *expect, *sample, *verdict, *explain;
};

/* A cluster as an API reports it. */
#define CLUSTER "{\"json\": {\"members\": [{\"name\": \"a\", \"role\": \"Leader\", \"lag\": 0}," \
	" {\"name\": \"b\", \"role\": \"Replica\", \"lag\": 3}," \
	" {\"name\": \"c\", \"role\": \"Replica\", \"lag\": 12}]}}"

static const struct judge_case judge_cases[] = {
	/* count, any, all, filter, map over a list */
	{"count(json.members, it.role == \"Leader\") == 1", CLUSTER, "PASS",
	 "count(json.members, it.role == \"Leader\") = 1 == 1"},
	{"count(json.members, it.lag > 10) == 0", CLUSTER, "FAIL",
	 "count(json.members, it.lag > 10) = 1 != 0"},
	{"any(json.members, it.role == \"Leader\")", CLUSTER, "PASS",
	 "any(json.members, it.role == \"Leader\") = true: 1/3 items hold; "
	 "first match item 1: it.role = \"Leader\" == \"Leader\""},
	{"all(json.members, it.lag < 10)", CLUSTER, "FAIL",
	 "all(json.members, it.lag < 10) = false: 2/3 items hold; "
	 "first failure item 3: it.lag = 12 > 10"},
	{"all(json.members, it.lag < 100)", CLUSTER, "PASS",
	 "all(json.members, it.lag < 100) = true: 3/3 items hold"},
	{"map(filter(json.members, it.role == \"Replica\"), it.name) == [\"b\", \"c\"]", CLUSTER,
	 "PASS", "map(filter(json.members, it.role == \"Replica\"), it.name) = [\"b\", \"c\"] == "
	 "[\"b\", \"c\"]"},
	{"len(filter(vars.NODES, it =~ /^db-/)) == 2", NULL, "PASS",
	 "len(filter(vars.NODES, it =~ /^db-/)) = 2 == 2"},
	{"max(map([1, 2, 3], it * 2)) == 6", NULL, "UNKNOWN", "no samples"},
	{"map([1, 2, 3], it * 1s) == [1s, 2s, 3s]", NULL, "PASS",
	 "map([1, 2, 3], it * 1s) = [1 s, 2 s, 3 s] == [1 s, 2 s, 3 s]"},
	/* nested: the inner list is read from the outer element */
	{"count([[1, 2], [3]], count(it, it > 1) == 1) == 2", NULL, "PASS",
	 "count([[1, 2], [3]], count(it, it > 1) == 1) = 2 == 2"},
	/* empty lists decide without unknowns */
	{"count([], it) == 0 && all([], it) && !any([], it)", NULL, "PASS",
	 "count([], it) = 0 == 0; all([], it) = true: 0/0 items hold; "
	 "any([], it) = false: 0/0 items hold"},
	/* the aggregates of the same names stay */
	{"count(status == 200) == 2 && any(status == 503)",
	 NULL, "UNKNOWN", "no samples; no samples"},
	/* unknowns */
	{"count(json.members, it.zone == \"a\") == 1", CLUSTER, "UNKNOWN",
	 "count(json.members, it.zone == \"a\"): item 1: it.zone is absent (did you mean role?)"},
	{"any(json.members, it.zone == \"a\")", CLUSTER, "UNKNOWN",
	 "any(json.members, it.zone == \"a\"): item 1: it.zone is absent (did you mean role?)"},
	{"any(json.members, it.zone == \"a\" || it.lag > 10)", CLUSTER, "PASS",
	 "any(json.members, it.zone == \"a\" || it.lag > 10) = true: 1/3 items hold; "
	 "first match item 3: it.lag = 12 > 10"},
	{"count(json.members, it.name) == 1", CLUSTER, "UNKNOWN",
	 "count(json.members, it.name): item 1: it.name = \"a\" is not true or false"},
	{"count(json.nodes, it) == 1", CLUSTER, "UNKNOWN", "json.nodes is absent"},
	{"count(json, it) == 1", CLUSTER, "UNKNOWN",
	 "count() needs a list as argument 1, not object {\"members\": [{\"name\": \"a\", "
	 "\"role\": \"Leader\", \"lag\": 0}, {\"name\": \"b\", \"role\": \"Replica\", \"lag\": 3}, "
	 "{\"name\": \"c\", \"role\": \"Replica\", \"lag\": 12}]}"},
	/* re() and quote() */
	{"stdout =~ re(quote(vars.NODE) + \" +running\")",
	 "{\"stdout\": \"db-01.example (primary)   running\"}", "PASS",
	 "stdout = \"db-01.example (primary)   running\" =~ re(quote(vars.NODE) + \" +running\")"},
	{"stdout =~ re(quote(vars.NODE))", "{\"stdout\": \"db-01Xexample (primary)\"}", "FAIL",
	 "stdout = \"db-01Xexample (primary)\" !~ re(quote(vars.NODE))"},
	{"stdout !~ re(vars.NODE)", "{\"stdout\": \"db-01.example (primary)\"}", "PASS",
	 "stdout = \"db-01.example (primary)\" !~ re(vars.NODE)"},
	{"quote(vars.NODE) == \"db\\\\-01\\\\.example \\\\(primary\\\\)\"", NULL, "PASS",
	 "quote(vars.NODE) = \"db\\\\-01\\\\.example \\\\(primary\\\\)\" == "
	 "\"db\\\\-01\\\\.example \\\\(primary\\\\)\""},
	{"quote(\"日本.^$|?*+[]{}/\\\\\") == \"日本\\\\.\\\\^\\\\$\\\\|\\\\?\\\\*\\\\+\\\\[\\\\]\\\\{\\\\}\\\\/\\\\\\\\\"",
	 NULL, "PASS", NULL},
	{"match(stdout, re(\"(\\\\d+) \" + quote(\"errors?\"))) == \"3\"",
	 "{\"stdout\": \"3 errors? yes\"}", "PASS", NULL},
	{"stdout =~ re(body)", "{\"stdout\": \"x\", \"body\": \"(\"}", "UNKNOWN",
	 "re(body) = \"(\" is not a regex: missing closing parenthesis"},
	{"stdout =~ re(status)", "{\"stdout\": \"x\", \"status\": 200}", "UNKNOWN",
	 "re() needs text, not number 200"},
	{"quote(status) == \"\"", "{\"status\": 200}", "UNKNOWN",
	 "quote() needs text, not number 200"},
	{"stdout =~ re(vars.NOPE)", "{\"stdout\": \"x\"}", "UNKNOWN", "vars.NOPE is not set"},
	/* now(), hour(), weekday() */
	{"hour(now()) == 11 && weekday(now()) == 7", NULL, "PASS",
	 "hour(now()) = 11 == 11; weekday(now()) = 7 == 7"},
	{"hour(now(), \"Asia/Tokyo\") == 20", NULL, "PASS", "hour(now(), \"Asia/Tokyo\") = 20 == 20"},
	{"weekday(now(), \"Pacific/Kiritimati\") == 1", NULL, "PASS",
	 "weekday(now(), \"Pacific/Kiritimati\") = 1 == 1"},
	{"hour(now(), \"America/Los_Angeles\") >= 6", NULL, "FAIL",
	 "hour(now(), \"America/Los_Angeles\") = 3 < 6"},
	{"hour(now(), vars.ZONE) == 20", NULL, "PASS", "hour(now(), vars.ZONE) = 20 == 20"},
	{"hour(\"2026-07-01T12:00:00Z\", \"Europe/Paris\") == 14", NULL, "PASS", NULL},
	{"hour(\"2026-01-15T12:00:00Z\", \"Europe/Paris\") == 13", NULL, "PASS", NULL},
	{"hour(\"2026-03-29T00:59:59Z\", \"Europe/Paris\") == 1", NULL, "PASS", NULL},
	{"hour(\"2026-03-29T01:00:00Z\", \"Europe/Paris\") == 3", NULL, "PASS", NULL},
	{"hour(\"2026-07-01T12:00:00Z\", \"America/New_York\") == 8", NULL, "PASS", NULL},
	{"hour(\"2026-01-15T12:00:00Z\", \"Australia/Sydney\") == 23", NULL, "PASS", NULL},
	{"hour(\"2026-07-15T12:00:00Z\", \"Australia/Sydney\") == 22", NULL, "PASS", NULL},
	/* past the files' last transition: the zone's rule */
	{"hour(\"2100-07-01T12:00:00Z\", \"Europe/Paris\") == 14", NULL, "PASS", NULL},
	{"hour(\"2100-01-01T12:00:00Z\", \"Europe/Dublin\") == 12", NULL, "PASS", NULL},
	{"hour(\"2100-07-01T12:00:00Z\", \"Europe/Dublin\") == 13", NULL, "PASS", NULL},
	{"hour(\"2100-01-15T12:00:00Z\", \"Australia/Sydney\") == 23", NULL, "PASS", NULL},
	{"hour(\"2026-12-06T11:30:00+09:00\") == 2", NULL, "PASS", NULL},
	{"hour(1780000000) == 20 && weekday(-1) == 3 && hour(-1) == 23", NULL, "PASS", NULL},
	{"now() - 1h < now()", NULL, "PASS", NULL},
	{"hour(now(), vars.BAD) == 1", NULL, "UNKNOWN",
	 "unknown time zone \"Asia/Tokio\" (no such zone in /usr/share/zoneinfo)"},
	{"hour(now(), vars.NODES) == 1", NULL, "UNKNOWN",
	 "hour() needs a zone name such as \"Asia/Tokyo\", not list [\"db-01\", \"db-02\", \"web-01\"]"},
	{"weekday(stdout) == 1", "{\"stdout\": \"monday\"}", "UNKNOWN",
	 "weekday() needs a time (now(), seconds since 1970, or text such as "
	 "\"2026-12-06T11:00:00Z\"), not text \"monday\""},
	{"hour(size) == 1", "{\"size\": 10}", "UNKNOWN",
	 "hour() needs a time (now(), seconds since 1970, or text such as "
	 "\"2026-12-06T11:00:00Z\"), not size 10 B"},
	{"map(json.members, it.zone) == []", CLUSTER, "UNKNOWN",
	 "map(json.members, it.zone): item 1: it.zone is absent (did you mean role?)"},
};

/* Judges expect against the case's sample. */
static void run_judge_case(void **state)
{
	const struct judge_case *jc = *state;
	struct rbc_value *sample = NULL;
	if (jc->sample) {
		cJSON *j = cJSON_Parse(jc->sample);
		if (!j)
			fail_msg("bad sample JSON in the test: %s", jc->sample);
		sample = value_sample_from_json(j);
		cJSON_Delete(j);
	}
	struct rbc_error err = {0};
	struct expr *e = expr_parse(jc->expect, &err);
	if (!e)
		fail_msg("'%s' does not parse: column %u: %s", jc->expect, err.col, err.msg);
	struct expr_env env = {sample ? &sample : NULL, sample ? 1 : 0, lookup_var, NULL, NULL};
	char *got;
	enum rbc_verdict v = expr_judge(e, NULL, &env, NULL, &got);
	if (strcmp(verdict_name(v), jc->verdict) != 0 || (jc->explain && strcmp(got, jc->explain) != 0))
		fail_msg("%s\n  got:  %s / %s\n  want: %s / %s", jc->expect, verdict_name(v), got,
		         jc->verdict, jc->explain);
	free(got);
	expr_free(e);
	value_free(sample);
}

/* An expression rbc check refuses, with the column and the message. */
struct error_case {
	const char *src;
	unsigned col;
	const char *msg;
};

#define IT_ONLY "'it' is the element of a list: it is read only in the last argument of " \
	"count(list, …), any(list, …), all(list, …), filter(list, …) or map(list, …)"

static const struct error_case error_cases[] = {
	{"it == 1", 1, IT_ONLY},
	{"count(it, it > 1) == 1", 7, IT_ONLY},
	{"count(status == 200 && it) > 1", 24, IT_ONLY},
	{"any(json.x, count(it > 1) > 0)", 19, IT_ONLY},
	{"count(json.x, it, 1) == 1", 1, "count() takes 1 or 2 arguments, found 3"},
	{"filter(json.x) == []", 1, "filter() takes 2 arguments, found 1"},
	{"map(json.x, it, it) == []", 1, "map() takes 2 arguments, found 3"},
	{"all() == true", 1, "all() takes 1 or 2 arguments, found 0"},
	{"count(\"a,b\", it == \"a\") == 1", 7,
	 "count(list, …) needs a list as argument 1, such as json.items or [1, 2]"},
	{"map(5, it) == []", 5, "map(list, …) needs a list as argument 1, such as json.items or [1, 2]"},
	{"filtr(json.x, it) == []", 1, "unknown function 'filtr' (did you mean 'filter'?)"},
	{"re(\"a\") == \"a\"", 1, "re() builds a regex: it goes after =~ or !~, or into match()"},
	{"len(re(body)) > 1", 5, "re() builds a regex: it goes after =~ or !~, or into match()"},
	{"x =~ re(\"(\")", 9, "bad regex: missing closing parenthesis"},
	{"x =~ re(5)", 9, "re() needs text"},
	{"x =~ re(/a/)", 9, "re() needs text"},
	{"x =~ re()", 6, "re() takes 1 argument, found 0"},
	{"x =~ re(a, \"i\")", 6, "re() takes 1 argument, found 2"},
	{"quote([1]) == \"\"", 7, "quote() needs text"},
	{"quote(a, b) == \"\"", 1, "quote() takes 1 argument, found 2"},
	{"x =~ quote(a)", 6, "=~ needs a regex literal such as /ok/i, or re(text)"},
	{"x =~ qoute(a)", 6, "unknown function 'qoute' (did you mean 'quote'?)"},
	{"hour(now(), \"Asia/Tokio\") < 6", 13,
	 "unknown time zone \"Asia/Tokio\" (no such zone in /usr/share/zoneinfo)"},
	{"hour(now(), \"../../etc/passwd\") < 6", 13,
	 "\"../../etc/passwd\" is not a time zone name such as \"Asia/Tokyo\""},
	{"hour(now(), 9) < 6", 13, "hour() needs a zone name such as \"Asia/Tokyo\""},
	{"weekday(\"monday\") == 1", 9,
	 "weekday() needs a time such as \"2026-12-06T11:00:00Z\" (RFC 3339, with Z or an offset)"},
	{"weekday(true) == 1", 9, "weekday() needs a time such as now()"},
	{"hour() < 6", 1, "hour() takes 1 or 2 arguments, found 0"},
	{"hour(now(), \"UTC\", 1) < 6", 1, "hour() takes 1 or 2 arguments, found 3"},
	{"now(1) > 0", 1, "now() takes 0 arguments, found 1"},
	{"weekdays(now()) == 1", 1, "unknown function 'weekdays' (did you mean 'weekday'?)"},
};

/* Parses src and checks the error. */
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

/* Builds one test per row of a table, named PREFIX: NAME #N. */
static void add_rows(struct CMUnitTest *tests, size_t *n, char **names, const char *prefix,
                     const void *rows, size_t nrows, size_t size, CMUnitTestFunction fn)
{
	for (size_t i = 0; i < nrows; i++) {
		const char *row = (const char *)rows + i * size;
		if (asprintf(&names[*n], "%s: %s #%zu", prefix, *(const char *const *)row, i + 1) < 0)
			abort();
		tests[*n] = (struct CMUnitTest){names[*n], fn, NULL, NULL, (void *)row};
		(*n)++;
	}
}

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0])

int main(void)
{
	size_t cap = sizeof judge_cases / sizeof judge_cases[0] +
	             sizeof error_cases / sizeof error_cases[0];
	struct CMUnitTest *tests = calloc(cap, sizeof *tests);
	char **names = calloc(cap, sizeof *names);
	size_t n = 0;
	add_rows(tests, &n, names, "judge", ROWS(judge_cases), run_judge_case);
	add_rows(tests, &n, names, "check", ROWS(error_cases), run_error_case);
	int rc = _cmocka_run_group_tests("expr_lang", tests, n, setup_vars, teardown_vars);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	return rc;
}

/*
 * test_ask.c — an ask step as loaded (docs/runbook-format.md, "Decisions"):
 * its variable, prompt, default and secret, its choices in order with their
 * labels and gotos, the rule said in words, an answer checked against it
 * (a secret's never quoted), and the answers a run is given checked before
 * anything runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/runbook.h"

static const char ASK_RB[] =
	"{ \"runbook\": \"a\", \"title\": \"A\", \"steps\": [\n"
	"  { \"id\": \"cause\", \"title\": \"Cause?\", \"ask\": { \"var\": \"CAUSE\", \"prompt\": \"Why?\",\n"
	"    \"choices\": [ { \"value\": \"deploy\", \"label\": \"The release\", \"goto\": \"back\" }, \"db\" ] } },\n"
	"  { \"id\": \"pr\", \"title\": \"PR\", \"ask\": { \"var\": \"PR\", \"type\": \"number\", \"min\": 1, \"max\": 10, \"default\": 3 } },\n"
	"  { \"id\": \"tok\", \"title\": \"Token\", \"ask\": { \"var\": \"TOK\", \"secret\": true, \"pattern\": \"^tok-\" } },\n"
	"  { \"id\": \"back\", \"title\": \"Back ${CAUSE}\", \"manual\": \"Roll back\", \"on_demand\": true } ] }\n";

static struct runbook *load(void)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("t.json", ASK_RB, strlen(ASK_RB), &d);
	if (!rb || d.n) {
		diags_print(&d, stderr);
		fail_msg("the ask runbook did not load cleanly");
	}
	diags_free(&d);
	return rb;
}

static void test_loaded(void **state)
{
	(void)state;
	struct runbook *rb = load();
	const struct rb_step *s = runbook_find(rb, "cause");
	assert_int_equal(s->action, RB_ASK);
	const struct rb_ask *a = s->ask;
	assert_string_equal(a->decl.name, "CAUSE");
	assert_string_equal(a->prompt, "Why?");
	assert_int_equal(a->decl.nchoices, 2);
	assert_string_equal(a->choices[0].value, "deploy");
	assert_string_equal(a->choices[0].label, "The release");
	assert_string_equal(a->choices[0].go, "back");
	assert_string_equal(a->choices[1].value, "db");
	assert_null(a->choices[1].label);
	assert_null(a->choices[1].go);
	assert_ptr_equal(rb_ask_choice_of(a, "db"), &a->choices[1]);
	assert_null(rb_ask_choice_of(a, "dbx"));
	const struct rb_ask *pr = runbook_find(rb, "pr")->ask;
	assert_int_equal(pr->decl.type, RB_VAR_NUMBER);
	assert_string_equal(pr->dflt, "3");
	assert_false(pr->secret);
	assert_true(runbook_find(rb, "tok")->ask->secret);
	assert_true(runbook_ask_secret(rb, "TOK"));
	assert_false(runbook_ask_secret(rb, "CAUSE"));
	runbook_free(rb);
}

static void test_rule(void **state)
{
	(void)state;
	struct runbook *rb = load();
	char *r = rb_ask_rule(runbook_find(rb, "pr")->ask);
	assert_string_equal(r, "a number, at least 1, at most 10");
	free(r);
	r = rb_ask_rule(runbook_find(rb, "cause")->ask);
	assert_string_equal(r, "text, one of deploy, db");
	free(r);
	const struct rb_ask *pr = runbook_find(rb, "pr")->ask;
	assert_null(rb_ask_check(pr, "4"));
	char *why = rb_ask_check(pr, "11");
	assert_non_null(strstr(why, "11 is more than the maximum 10"));
	free(why);
	why = rb_ask_check(runbook_find(rb, "cause")->ask, "dep");
	assert_non_null(strstr(why, "not one of the choices deploy, db"));
	free(why);
	/* A secret's answer is never quoted back. */
	why = rb_ask_check(runbook_find(rb, "tok")->ask, "nope-s3cr3t");
	assert_non_null(why);
	assert_null(strstr(why, "s3cr3t"));
	assert_non_null(strstr(why, "does not match the pattern ^tok-"));
	free(why);
	runbook_free(rb);
}

static void test_given(void **state)
{
	(void)state;
	struct runbook *rb = load();
	struct rb_kv given = {0};
	struct rbc_diags d = {0};
	rb_kv_set(&given, "PR", "7");
	rb_kv_set(&given, "CAUSE", "db");
	assert_true(runbook_check_answers(rb, &given, &d));
	assert_int_equal(d.n, 0);
	rb_kv_set(&given, "PR", "0");
	assert_false(runbook_check_answers(rb, &given, &d));
	assert_int_equal(d.nerrors, 1);
	char *m = rbc_error_format(&d.v[0]);
	assert_non_null(strstr(m, "PR (the answer to step pr, given): 0 is less than the minimum 1"));
	assert_non_null(strstr(m, "t.json:4:"));
	free(m);
	diags_free(&d);
	rb_kv_free(&given);
	runbook_free(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loaded),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_given),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

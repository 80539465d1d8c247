/*
 * test_runbook.c — the loaded model: every key lands in its field, ids are
 * derived from positions, run: includes load once, positions survive
 * comments and escapes, and the limits hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/json.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"

#include "../../src/probe/http_internal.h"
#include "../../src/probe/internal.h"

/* What a step of each kind holds: its probe kind's own data. */
#define HTTP(s) ((const struct probe_http_step *)(s)->action_data)
#define SQL(s) ((const struct probe_sql_step *)(s)->action_data)
#define DNS(s) ((const struct probe_dns_step *)(s)->action_data)
#define CMD(s) ((const struct probe_cmd_step *)(s)->action_data)
#define TCP(s) ((const struct probe_tcp_step *)(s)->action_data)
#define PROM(s) ((const struct probe_prom_step *)(s)->action_data)

#define EVERY_KEY "tests/fixtures/good/every-key.json"

static struct runbook *load_ok(const char *path)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load(path, &d);
	if (!rb || d.n) {
		diags_print(&d, stderr);
		fail_msg("%s did not load cleanly", path);
	}
	diags_free(&d);
	return rb;
}

/* Loads text expecting failure; returns the first message (caller frees). */
static char *load_bad(const char *text)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("t.json", text, strlen(text), &d);
	assert_null(rb);
	assert_true(d.nerrors > 0);
	diags_sort(&d);
	char *s = rbc_error_format(&d.v[0]);
	diags_free(&d);
	return s;
}

static void test_top_level(void **state)
{
	(void)state;
	struct runbook *rb = load_ok(EVERY_KEY);
	assert_string_equal(rb->id, "every-key");
	assert_string_equal(rb->title, "Every key ${VERSION}");
	assert_int_equal(rb->kind, RB_KIND_POST_DEPLOY);
	assert_string_equal(rb->description, "Exercises each key once.");
	assert_int_equal(rb->vars.n, 5);
	assert_string_equal(rb_kv_get(&rb->vars, "BASE_URL"), "http://127.0.0.1:18080");
	assert_string_equal(rb_kv_get(&rb->vars, "RETRIES"), "3");
	assert_string_equal(rb_kv_get(&rb->vars, "DRY"), "false");
	assert_string_equal(rb_kv_get(&rb->vars, "RATE"), "0.1");
	assert_null(rb_kv_get(&rb->vars, "NOPE"));
	assert_int_equal(rb->nsecrets, 1);
	assert_string_equal(rb->secrets[0], "API_TOKEN");
	assert_int_equal(rb->default_timeout_ms, 30000);
	assert_int_equal(rb->default_retry_attempts, 2);
	assert_int_equal(rb->default_retry_delay_ms, 500);
	assert_int_equal(rb->nsteps, 18);
	assert_int_equal(rb->total_steps, 22);
	assert_string_equal(rb->dir, "tests/fixtures/good");
	runbook_free(rb);
}

static void test_probe_steps(void **state)
{
	(void)state;
	struct runbook *rb = load_ok(EVERY_KEY);
	struct rb_step *g = runbook_find(rb, "checks");
	assert_non_null(g);
	assert_int_equal(g->action, RB_GROUP);
	assert_true(g->parallel);
	assert_int_equal(g->nchildren, 3);
	assert_string_equal(g->note, "run at once");

	struct rb_step *s = runbook_find(rb, "health");
	assert_ptr_equal(s->parent, g);
	assert_int_equal(s->action, RB_HTTP);
	assert_string_equal(HTTP(s)->method, "GET");
	assert_string_equal(HTTP(s)->url, "${BASE_URL}/api/health");
	assert_int_equal(s->repeat.mode, RB_REPEAT_COUNT);
	assert_int_equal(s->repeat.count, 30);
	assert_int_equal(s->repeat.every_ms, 10000);
	assert_string_equal(expr_source(s->expect), "status == 200");
	assert_string_equal(s->number, "1.1");
	assert_string_equal(s->path, "steps[0].steps[0]");
	assert_int_equal(s->line, 13);
	assert_int_equal(s->col, 7);

	s = runbook_find(rb, "latency");
	assert_string_equal(HTTP(s)->method, "HEAD");
	assert_string_equal(rb_kv_get(&HTTP(s)->headers, "Authorization"), "Bearer ${API_TOKEN}");
	assert_int_equal(HTTP(s)->timeout_ms, 2000);
	assert_false(HTTP(s)->insecure); /* true is warned about: warn/insecure.json */
	assert_true(HTTP(s)->follow);
	assert_int_equal(HTTP(s)->max_body, 1024 * 1024);
	assert_int_equal(s->repeat.mode, RB_REPEAT_FOR);
	assert_int_equal(s->repeat.for_ms, 60000);
	assert_int_equal(s->repeat.every_ms, 50);
	assert_string_equal(expr_source(s->warn), "p95(time) > 300ms");

	s = runbook_find(rb, "login");
	assert_string_equal(HTTP(s)->method, "POST");
	assert_true(HTTP(s)->json_body);
	assert_string_equal(HTTP(s)->body, "{\"email\":\"test@example.com\",\"n\":[1,2]}");
	assert_int_equal(s->ncaptures, 2);
	assert_string_equal(s->captures[0].name, "TOKEN");
	assert_string_equal(expr_source(s->captures[1].expr), "json.env");

	s = runbook_find(rb, "db");
	assert_int_equal(s->action, RB_SQL);
	assert_string_equal(SQL(s)->conn, "postgresql://127.0.0.1:15432/app");
	assert_int_equal(SQL(s)->nparams, 4);
	assert_string_equal(SQL(s)->params[0], "1");
	assert_string_equal(SQL(s)->params[1], "x");
	assert_string_equal(SQL(s)->params[2], "true");
	assert_null(SQL(s)->params[3]);
	assert_false(SQL(s)->write);
	assert_int_equal(SQL(s)->max_rows, 10);

	s = runbook_find(rb, "resolve");
	assert_string_equal(DNS(s)->name, "localhost");
	assert_string_equal(DNS(s)->type, "A");
	assert_string_equal(DNS(runbook_find(rb, "resolve2"))->type, "any");

	s = runbook_find(rb, "port");
	assert_string_equal(TCP(s)->host, "127.0.0.1");
	assert_int_equal(TCP(s)->port, 15432);
	s = runbook_find(rb, "port6");
	assert_string_equal(TCP(s)->host, "::1");
	assert_int_equal(TCP(runbook_find(rb, "port-obj"))->port, 80);

	s = runbook_find(rb, "errors");
	assert_string_equal(PROM(s)->url, "http://127.0.0.1:19090");
	assert_string_equal(PROM(s)->query, "sum(rate(http_requests_total{code=~\"5..\"}[5m]))");

	s = runbook_find(rb, "load");
	assert_int_equal(s->action, RB_NAGIOS);
	assert_string_equal(CMD(s)->command, "check_load -w 5 -c 10");
	s = runbook_find(rb, "disk");
	assert_string_equal(CMD(s)->cwd, "/");
	assert_string_equal(rb_kv_get(&CMD(s)->env, "LC_ALL"), "C");
	runbook_free(rb);
}

static void test_flow_keys(void **state)
{
	(void)state;
	struct runbook *rb = load_ok(EVERY_KEY);
	struct rb_step *s = runbook_find(rb, "wait-green");
	assert_int_equal(s->action, RB_RUN);
	assert_string_equal(CMD(s)->command, "curl -fsS \"$BASE_URL\"");
	assert_string_equal(CMD(s)->cwd, "/tmp");
	assert_int_equal(s->repeat.mode, RB_REPEAT_UNTIL);
	assert_string_equal(expr_source(s->repeat.until), "exit == 0");
	assert_int_equal(s->repeat.within_ms, 120000);
	assert_int_equal(s->retry_attempts, 3);

	/* Defaults reach every probe step: timeout 30s, retry 2 × 500ms. */
	s = runbook_find(rb, "health");
	assert_int_equal(s->timeout_ms, 30000);
	assert_int_equal(s->retry_attempts, 2);
	assert_int_equal(s->retry_delay_ms, 500);
	/* A step's own retry without a delay waits 1 s between tries. */
	s = runbook_find(rb, "wait-green");
	assert_int_equal(s->retry_delay_ms, 1000);
	assert_int_equal(s->timeout_ms, 30000);
	/* Manual steps and groups have none. */
	assert_int_equal(runbook_find(rb, "notice")->timeout_ms, 0);
	assert_int_equal(runbook_find(rb, "checks")->retry_attempts, 0);

	s = runbook_find(rb, "stable");
	assert_int_equal(s->repeat.mode, RB_REPEAT_CONSECUTIVE);
	assert_int_equal(s->repeat.count, 10);
	assert_int_equal(s->repeat.within_ms, 60000);

	s = runbook_find(rb, "switch");
	assert_string_equal(s->confirm, "Switch traffic to ${CURRENT_ENV}?");
	assert_int_equal(s->on_fail, RB_ON_FAIL_GOTO);
	assert_string_equal(s->on_fail_target, "rollback");
	assert_string_equal(expr_source(s->when), "vars.DRY == false");

	s = runbook_find(rb, "errors-watch");
	assert_true(s->watch);
	assert_int_equal(s->repeat.mode, RB_REPEAT_WATCH);
	assert_int_equal(s->repeat.fail_after_ms, 300000);
	assert_int_equal(s->on_fail, RB_ON_FAIL_RUN);
	assert_non_null(s->on_fail_runbook);
	assert_string_equal(s->on_fail_runbook->id, "rollback-ok");
	assert_int_equal(rb->nincludes, 1);
	assert_ptr_equal(rb->includes[0], s->on_fail_runbook);

	s = runbook_find(rb, "health-watch");
	assert_int_equal(s->repeat.fail_after_count, 3);
	assert_int_equal(s->on_fail, RB_ON_FAIL_CONTINUE);

	s = runbook_find(rb, "notice");
	assert_int_equal(s->action, RB_MANUAL);
	assert_string_equal(s->manual, "Post the notice for ${VERSION}");
	assert_int_equal(s->on_fail, RB_ON_FAIL_STOP);

	/* The step without an id gets its position. */
	s = runbook_find(rb, "17");
	assert_non_null(s);
	assert_true(s->id_derived);
	assert_string_equal(s->title, "Derived id");

	s = runbook_find(rb, "rollback");
	assert_true(s->on_demand);
	assert_string_equal(s->children[0]->number, "18.1");
	assert_int_equal(s->children[0]->timeout_ms, 60000);

	size_t counts[RB_ACTION_COUNT];
	runbook_count(rb, counts);
	assert_int_equal(counts[RB_HTTP], 4);
	assert_int_equal(counts[RB_TCP], 3);
	assert_int_equal(counts[RB_GROUP], 2);
	runbook_free(rb);
}

static void test_incident(void **state)
{
	(void)state;
	struct runbook *rb = load_ok("tests/fixtures/good/incident.json");
	/* No defaults: one attempt, no timeout, 1 s between tries. */
	struct rb_step *l1 = runbook_find(rb, "L1.1");
	assert_int_equal(l1->retry_attempts, 1);
	assert_int_equal(l1->timeout_ms, 0);
	assert_int_equal(l1->retry_delay_ms, 1000);
	assert_int_equal(rb->kind, RB_KIND_INCIDENT);
	assert_int_equal(rb->update_every_ms, 30 * 60000);
	assert_int_equal(rb->nroles, 2);
	assert_string_equal(rb->roles[0].id, "commander");
	assert_null(rb->roles[0].name);
	assert_string_equal(rb->roles[1].name, "Communications");
	assert_int_equal(rb->nexit_criteria, 2);
	assert_int_equal(rb->nseverities, 2);
	struct rb_severity *sl1 = &rb->severities[0], *l2 = &rb->severities[1];
	assert_string_equal(sl1->id, "L1");
	assert_string_equal(sl1->name, "Minor");
	assert_int_equal(sl1->restore_ms, 15 * 60000);
	assert_int_equal(sl1->rpo_ms, 0);
	assert_int_equal(sl1->ncontacts, 1);
	assert_int_equal(l2->update_every_ms, 15 * 60000);
	assert_int_equal(l2->rpo_ms, 15 * 60000);
	assert_string_equal(sl1->steps[0]->id, "L1.1");
	assert_ptr_equal(runbook_find(rb, "L2.1"), l2->steps[0]);
	assert_int_equal(rb->total_steps, 3);
	runbook_free(rb);
}

static void test_positions(void **state)
{
	(void)state;
	/* Comments, escapes and multi-byte text before the value must not move it. */
	const char *text = "{ /* c */ \"a\": \"x\\u00e9\\n本 ${V}\",\n"
	                   "  // line comment \"b\": 1\n"
	                   "  \"b\": [1, {\"c\": null}] }";
	struct rbc_diags d = {0};
	struct json_doc *doc = json_doc_parse("p.json", text, strlen(text), &d);
	assert_non_null(doc);
	const cJSON *root = json_doc_root(doc);
	const cJSON *a = cJSON_GetObjectItem(root, "a");
	unsigned line, col;
	assert_true(json_doc_pos(doc, a, true, &line, &col));
	assert_int_equal(line, 1);
	assert_int_equal(col, 11);
	assert_true(json_doc_pos(doc, a, false, &line, &col));
	assert_int_equal(col, 16);
	/* Byte 7 of the decoded value ("x", "é" 2 bytes, "\n", "本" 3 bytes) is ' '. */
	assert_string_equal(a->valuestring, "x\xc3\xa9\n\xe6\x9c\xac ${V}");
	assert_true(json_doc_string_pos(doc, a, 8, &line, &col));
	assert_int_equal(col, 16 + 1 + 1 + 6 + 2 + 1 + 1); /* the '$' */
	const cJSON *c = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "b"), 1), "c");
	assert_true(json_doc_pos(doc, c, true, &line, &col));
	assert_int_equal(line, 3);
	assert_int_equal(col, 13);
	assert_string_equal(json_type_name(c), "null");
	assert_false(json_doc_pos(doc, NULL, false, &line, &col));
	json_doc_free(doc);
	diags_free(&d);
}

static void test_errors(void **state)
{
	(void)state;
	char *s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"steps\": [{\"title\": \"a\", \"sql\": {\"query\": \"q\", \"wirte\": true}}]}");
	assert_string_equal(s, "t.json:1:79: steps[0].sql.wirte: unknown key \"wirte\" (did you mean \"write\"?)");
	free(s);
	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"steps\": [{\"title\": \"a\", \"run\": \"true\", \"Expect\": \"1\"}]}");
	assert_string_equal(s, "t.json:1:72: steps[0].Expect: unknown key \"Expect\" (did you mean \"expect\"?)");
	free(s);
	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"steps\": [{\"title\": \"a\", \"http\": {\"url\": \"https://x\", \"headers\": {\"A\": 1}}}]}");
	assert_string_equal(s, "t.json:1:103: steps[0].http.headers.A: expected a string, got a number");
	free(s);
	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"steps\": [{\"title\": \"a\", \"run\": \"x\", \"on_fail\": \"goto:\"}]}");
	assert_string_equal(s, "t.json:1:80: steps[0].on_fail: expected \"stop\", \"continue\", \"goto:<step id>\" or \"run:<runbook file>\", got \"goto:\"");
	free(s);
	/* A byte-order mark does not count as a column. */
	s = load_bad("\xef\xbb\xbf{\"runbook\": 1, \"title\": \"t\", \"steps\": [{\"title\": \"a\", \"manual\": \"m\"}]}");
	assert_string_equal(s, "t.json:1:13: runbook: expected a string, got a number");
	free(s);
}

/* Loads text that must load cleanly (caller frees). */
static struct runbook *load_text_ok(const char *text)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("t.json", text, strlen(text), &d);
	if (!rb || d.n) {
		diags_print(&d, stderr);
		fail_msg("the text did not load cleanly");
	}
	diags_free(&d);
	return rb;
}

/* The rule value breaks against decl, or "" when it keeps them all. */
static void assert_check(const struct rb_vardecl *decl, const char *value, const char *want)
{
	char *why = rb_var_check(decl, value);
	assert_string_equal(why ? why : "", want);
	free(why);
}

/* Typed variables: declarations land in vardecls, defaults in vars, and
   values are checked against every rule (docs/runbook-format.md). */
static void test_typed_vars(void **state)
{
	(void)state;
	struct runbook *rb = load_text_ok(
	    "{\"runbook\": \"x\", \"title\": \"t\", \"vars\": {\"PLAIN\": 1,"
	    " \"S\": {\"default\": \"blue-green\", \"choices\": [\"blue-green\", \"rolling\"], \"description\": \"How\"},"
	    " \"V\": {\"required\": true, \"pattern\": \"^v\\\\d+$\"},"
	    " \"N\": {\"default\": 3, \"min\": 1, \"max\": 50},"
	    " \"D\": {\"type\": \"duration\", \"min\": \"1s\", \"max\": \"1h\"},"
	    " \"Y\": {\"default\": true}, \"L\": {\"default\": [\"a\", 2]}},"
	    " \"steps\": [{\"title\": \"a\", \"run\": \"true\"}]}");
	assert_int_equal(rb->nvardecls, 6);
	assert_string_equal(rb_kv_get(&rb->vars, "PLAIN"), "1");
	assert_string_equal(rb_kv_get(&rb->vars, "S"), "blue-green");
	assert_null(rb_kv_get(&rb->vars, "V"));
	assert_string_equal(rb_kv_get(&rb->vars, "L"), "[\"a\",2]");
	assert_string_equal(rb_kv_get(&rb->vars, "Y"), "true");
	const struct rb_vardecl *S = runbook_vardecl(rb, "S"), *V = runbook_vardecl(rb, "V"),
	                        *N = runbook_vardecl(rb, "N"), *D = runbook_vardecl(rb, "D"),
	                        *Y = runbook_vardecl(rb, "Y"), *L = runbook_vardecl(rb, "L");
	assert_null(runbook_vardecl(rb, "PLAIN"));
	assert_int_equal(S->type, RB_VAR_TEXT);
	assert_int_equal(S->nchoices, 2);
	assert_string_equal(S->description, "How");
	assert_string_equal(S->path, "vars.S");
	assert_true(V->required);
	assert_int_equal(N->type, RB_VAR_NUMBER);
	assert_int_equal(Y->type, RB_VAR_YESNO);
	assert_int_equal(L->type, RB_VAR_LIST);
	assert_string_equal(rb_var_type_name(D->type), "duration");
	assert_true(D->max_v == 3600000.0);

	assert_check(S, "rolling", "");
	assert_check(S, "bluegreen", "\"bluegreen\" is not one of the choices blue-green, rolling (did you mean \"blue-green\"?)");
	assert_check(S, "big-bang", "\"big-bang\" is not one of the choices blue-green, rolling");
	assert_check(V, "v12", "");
	assert_check(V, "12", "\"12\" does not match the pattern ^v\\d+$");
	assert_check(N, "50", "");
	assert_check(N, " 7 ", "");
	assert_check(N, "0", "0 is less than the minimum 1");
	assert_check(N, "51", "51 is more than the maximum 50");
	assert_check(N, "7x", "\"7x\" is not a number");
	assert_check(N, "inf", "\"inf\" is not a number");
	assert_check(D, "1m", "");
	assert_check(D, "2h", "2h is more than the maximum 1h");
	assert_check(Y, "no", "");
	assert_check(Y, "No", "\"No\" is not yes or no (yes, no, true or false)");
	assert_check(L, "a, b c", "");
	assert_check(L, "[\"a\", 1]", "");
	assert_check(L, "[\"a\", {}]", "a list's items are text or numbers");

	struct rb_kv given = {0};
	struct rbc_diags d = {0};
	assert_false(runbook_check_values(rb, &given, &d));
	assert_int_equal(d.nerrors, 1);
	char *s = rbc_error_format(&d.v[0]);
	assert_string_equal(s, "t.json:1:145: vars.V: V is required and has no value: give it with --var V=… or in a --vars file");
	free(s);
	diags_free(&d);
	rb_kv_set(&given, "V", "v2");
	rb_kv_set(&given, "S", "Rolling");
	assert_false(runbook_check_values(rb, &given, &d));
	s = rbc_error_format(&d.v[0]);
	assert_string_equal(s, "t.json:1:53: vars.S: S (given): \"Rolling\" is not one of the choices blue-green, rolling (did you mean \"rolling\"?)");
	free(s);
	diags_free(&d);
	rb_kv_set(&given, "S", "rolling");
	assert_true(runbook_check_values(rb, &given, &d));
	assert_int_equal(d.n, 0);
	rb_kv_free(&given);
	runbook_free(rb);

	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"vars\": {\"N\": {\"type\": \"nubmer\"}}, \"steps\": [{\"title\": \"a\", \"run\": \"true\"}]}");
	assert_string_equal(s, "t.json:1:55: vars.N.type: unknown type \"nubmer\" (did you mean \"number\"?)");
	free(s);
	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"vars\": {\"N\": {\"choice\": [1]}}, \"steps\": [{\"title\": \"a\", \"run\": \"true\"}]}");
	assert_string_equal(s, "t.json:1:47: vars.N.choice: unknown key \"choice\" (did you mean \"choices\"?)");
	free(s);
	s = load_bad("{\"runbook\": \"x\", \"title\": \"t\", \"vars\": {\"S\": {\"choices\": [\"a\", \"b\"]}}, \"steps\": [{\"title\": \"a\", \"run\": \"true\", \"when\": \"vars.S != \\\"c\\\"\"}]}");
	assert_string_equal(s, "t.json:1:131: steps[0].when: \"c\" is not one of the choices of S (\"a\", \"b\"): did you mean \"a\"?");
	free(s);
}

/* Descriptions, links, stdin and tty land where the console and the
   command probe read them; a bad scheme is refused with the rule. */
static void test_prose(void **state)
{
	(void)state;
	static const char text[] =
	    "{ \"runbook\": \"p\", \"title\": \"P\", \"description\": \"About ${X}\", \"vars\": {\"X\": \"x\"},\n"
	    "  \"links\": [ { \"title\": \"G\", \"url\": \"HTTPS://g.example/${X}\" } ],\n"
	    "  \"steps\": [ { \"title\": \"A\", \"run\": \"cat\", \"stdin\": \"in ${X}\", \"description\": \"d\",\n"
	    "               \"links\": [ { \"title\": \"W\", \"url\": \"${X}\" }, { \"title\": \"V\", \"url\": \"http://v\" } ] },\n"
	    "               { \"title\": \"B\", \"run\": \"read x\", \"tty\": true },\n"
	    "               { \"title\": \"C\", \"nagios\": \"cat\", \"stdin\": \"\" } ] }";
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("t.json", text, strlen(text), &d);
	if (!rb || d.n)
		diags_print(&d, stderr);
	assert_non_null(rb);
	diags_free(&d);
	assert_string_equal(rb->description, "About ${X}");
	assert_int_equal(rb->nlinks, 1);
	assert_string_equal(rb->links[0].url, "HTTPS://g.example/${X}");
	const struct rb_step *a = rb->steps[0], *b = rb->steps[1], *c = rb->steps[2];
	assert_string_equal(a->description, "d");
	assert_int_equal(a->nlinks, 2);
	assert_string_equal(a->links[1].title, "V");
	assert_string_equal(CMD(a)->stdin_text, "in ${X}");
	assert_false(CMD(a)->tty);
	assert_true(CMD(b)->tty);
	assert_null(CMD(b)->stdin_text);
	assert_true(probe_ops_for(RB_RUN)->needs_terminal(b));
	assert_false(probe_ops_for(RB_RUN)->needs_terminal(a));
	assert_string_equal(CMD(c)->stdin_text, "");
	runbook_free(rb);

	char *m = load_bad("{ \"runbook\": \"p\", \"title\": \"P\", \"steps\": [ { \"title\": \"A\", \"run\": \"true\",\n"
	                   "  \"links\": [ { \"title\": \"x\", \"url\": \"javascript:alert(1)\" } ] } ] }");
	assert_string_equal(m, "t.json:2:37: steps[0].links[0].url: a link's url must start with http:// or https://; "
	                       "\"javascript:\" is refused");
	free(m);
	assert_true(prose_url_scheme_ok("http://a") && prose_url_scheme_ok("Https://a"));
	assert_false(prose_url_scheme_ok("ftp://a") || prose_url_scheme_ok("javascript:x") || prose_url_scheme_ok(NULL));
	assert_false(prose_url_chars_ok("https://a/\x1b]0;x") || prose_url_chars_ok("https://a b"));
}

static void test_size_limit(void **state)
{
	(void)state;
	size_t n = JSON_MAX_BYTES + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	struct rbc_diags d = {0};
	assert_null(runbook_load_buffer("big.json", big, n, &d));
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.v[0].msg, "file is larger than 64 MiB");
	diags_free(&d);
	free(big);
}

static void test_hostile_keys(void **state)
{
	(void)state;
	/* Thousands of duplicate keys: reported, in n log n, not a hang. */
	struct strbuf sb = {0};
	sb_adds(&sb, "{\"runbook\": \"x\", \"title\": \"t\", \"vars\": {");
	for (int i = 0; i < 20000; i++)
		sb_addf(&sb, "%s\"K%d\": \"v\"", i ? "," : "", i % 2);
	sb_adds(&sb, "}, \"steps\": [{\"title\": \"a\", \"manual\": \"m\"}]}");
	struct rbc_diags d = {0};
	assert_null(runbook_load_buffer("dup.json", sb.s, sb.len, &d));
	assert_int_equal(d.nerrors, 19998);
	diags_free(&d);
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level),  cmocka_unit_test(test_probe_steps),
		cmocka_unit_test(test_flow_keys),  cmocka_unit_test(test_incident),
		cmocka_unit_test(test_positions),  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_size_limit), cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_typed_vars), cmocka_unit_test(test_prose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

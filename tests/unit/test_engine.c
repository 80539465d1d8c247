/*
 * test_engine.c — the engine as the console drives it: waits answered by
 * the operator, steps ticked ahead or run by hand, a declined confirmation
 * that pauses the run, stop, goto loops, parallel branches that jump,
 * watches with a lifetime, variable precedence. Commands only (no network).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "rbc/engine.h"

struct rec {
	struct strbuf log;        /* "type:id " for the events that matter */
	int finished;             /* RUN_FINISHED count */
	enum rbc_verdict verdict;
	struct eng_step *waiting; /* the latest WAITING step */
	int started;              /* STEP_STARTED of probe steps */
};

static void on_event(void *ud, const struct eng_event *ev)
{
	struct rec *r = ud;
	const char *id = ev->step ? (ev->step->def ? ev->step->def->id : ev->step->rb->id) : "run";
	switch (ev->type) {
	case ENG_EV_STEP_FINISHED:
		sb_addf(&r->log, "%s:%s ", ev->step->state == ENG_DONE ? verdict_name(ev->verdict)
		                                                       : eng_state_name(ev->step->state),
		        id);
		break;
	case ENG_EV_WAITING:
		r->waiting = ev->step;
		sb_addf(&r->log, "wait:%s ", id);
		break;
	case ENG_EV_JUMP:
		sb_addf(&r->log, "jump:%s>%s ", id, ev->target->def ? ev->target->def->id : "?");
		break;
	case ENG_EV_RUN_FINISHED:
		r->finished++;
		r->verdict = ev->verdict;
		sb_addf(&r->log, "end:%s ", verdict_name(ev->verdict));
		break;
	case ENG_EV_STEP_STARTED:
		if (ev->step->def && ev->step->def->action != RB_GROUP)
			r->started++;
		break;
	default:
		break;
	}
}

struct fixture {
	uv_loop_t loop;
	struct runbook *rb;
	struct engine *e;
	struct rec rec;
	struct rb_kv vars;
};

static void fx_open(struct fixture *f, const char *json, bool interactive)
{
	memset(f, 0, sizeof *f);
	uv_loop_init(&f->loop);
	struct rbc_diags d = {0};
	f->rb = runbook_load_buffer("/tmp/test.json", json, strlen(json), &d);
	if (!f->rb)
		diags_print(&d, stderr);
	diags_free(&d);
	assert_non_null(f->rb);
	struct engine_opts o = {.loop = &f->loop, .runbooks = &f->rb, .nrunbooks = 1,
	                        .vars = &f->vars, .interactive = interactive,
	                        .operator = "tester", .on_event = on_event, .ud = &f->rec};
	struct rbc_error err = {0};
	f->e = engine_new(&o, &err);
	assert_non_null(f->e);
}

static void fx_close(struct fixture *f)
{
	assert_false(engine_busy(f->e));
	engine_free(f->e);
	probe_shutdown(&f->loop);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	runbook_free(f->rb);
	sb_free(&f->rec.log);
	for (size_t i = 0; i < f->vars.n; i++) {
		free(f->vars.keys[i]);
		free(f->vars.vals[i]);
	}
	free(f->vars.keys);
	free(f->vars.vals);
}

/* Runs the loop until cond holds (or nothing is left to run). */
static void run_until(struct fixture *f, bool (*cond)(struct fixture *))
{
	while (!cond(f))
		if (!uv_run(&f->loop, UV_RUN_ONCE) && !cond(f))
			break;
}

static bool finished(struct fixture *f)
{
	return f->rec.finished > 0;
}

static bool waiting(struct fixture *f)
{
	return f->rec.waiting != NULL;
}

static const char *log_of(struct fixture *f)
{
	return f->rec.log.s ? f->rec.log.s : "";
}

static void test_manual_answered(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"m\",\"title\":\"M\",\"steps\":["
	            "{\"id\":\"sign\",\"title\":\"Sign\",\"manual\":\"Sign it.\"},"
	            "{\"id\":\"after\",\"title\":\"After\",\"run\":\"true\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, waiting);
	assert_string_equal(log_of(&f), "wait:sign ");
	assert_true(engine_busy(f.e));
	struct eng_step *s = f.rec.waiting;
	assert_int_equal(s->state, ENG_WAITING);
	assert_int_equal(s->wait, ENG_WAIT_MANUAL);
	assert_string_equal(s->wait_text, "Sign it.");
	assert_false(engine_answer(f.e, s, ENG_ANSWER_YES, NULL, NULL));
	assert_true(engine_answer(f.e, s, ENG_ANSWER_DONE, "looked fine", "alice"));
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "wait:sign PASS:sign PASS:after PASS:m end:PASS ");
	assert_string_equal(s->operator, "alice");
	assert_string_equal(s->note, "looked fine");
	assert_string_equal(s->explain, "done by alice: looked fine");
	fx_close(&f);
}

static void test_manual_failed_stops(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"m\",\"title\":\"M\",\"steps\":["
	            "{\"id\":\"sign\",\"title\":\"Sign\",\"manual\":\"Sign it.\"},"
	            "{\"id\":\"after\",\"title\":\"After\",\"run\":\"true\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, waiting);
	assert_true(engine_answer(f.e, f.rec.waiting, ENG_ANSWER_FAIL, "not signed", NULL));
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "wait:sign FAIL:sign FAIL:m end:FAIL ");
	assert_string_equal(f.rec.waiting->operator, "tester");
	fx_close(&f);
}

static void test_tick_ahead(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"m\",\"title\":\"M\",\"steps\":["
	            "{\"id\":\"a\",\"title\":\"A\",\"run\":\"true\"},"
	            "{\"id\":\"sign\",\"title\":\"Sign\",\"manual\":\"Sign it.\"}]}",
	        true);
	struct eng_step *sign = engine_find(f.e, "sign");
	assert_non_null(sign);
	assert_true(engine_answer(f.e, sign, ENG_ANSWER_SKIP, "not needed today", NULL));
	assert_int_equal(sign->state, ENG_SKIPPED);
	engine_start(f.e);
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "skipped:sign PASS:a PASS:m end:PASS ");
	fx_close(&f);
}

static void test_confirm_declined_skips(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"c\",\"title\":\"C\",\"steps\":["
	            "{\"id\":\"switch\",\"title\":\"Switch\",\"confirm\":\"Switch?\",\"run\":\"true\"},"
	            "{\"id\":\"after\",\"title\":\"After\",\"run\":\"true\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, waiting);
	struct eng_step *s = f.rec.waiting;
	assert_int_equal(s->wait, ENG_WAIT_CONFIRM);
	assert_string_equal(s->wait_text, "Switch?");
	assert_false(engine_answer(f.e, s, ENG_ANSWER_DONE, NULL, NULL));
	assert_true(engine_answer(f.e, s, ENG_ANSWER_NO, NULL, "bob"));
	/* Declined: the step is skipped and the run goes on after it. */
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "wait:switch skipped:switch PASS:after PASS:c end:PASS ");
	assert_string_equal(s->explain, "declined by bob");
	fx_close(&f);
}

static void test_confirm_accepted(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"c\",\"title\":\"C\",\"steps\":["
	            "{\"id\":\"switch\",\"title\":\"Switch\",\"confirm\":\"Switch?\",\"run\":\"exit 0\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, waiting);
	assert_true(engine_answer(f.e, f.rec.waiting, ENG_ANSWER_YES, NULL, NULL));
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "wait:switch PASS:switch PASS:c end:PASS ");
	assert_true(f.rec.waiting->confirmed);
	fx_close(&f);
}

static void test_run_step_by_hand(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"h\",\"title\":\"H\",\"steps\":["
	            "{\"id\":\"a\",\"title\":\"A\",\"run\":\"true\"},"
	            "{\"id\":\"b\",\"title\":\"B\",\"run\":\"exit 1\"},"
	            "{\"id\":\"rb\",\"title\":\"RB\",\"on_demand\":true,\"run\":\"true\"}]}",
	        true);
	struct eng_step *b = engine_find(f.e, "b");
	engine_run_step(f.e, b);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	/* Run by hand: only b ran, its failure stopped nothing else, no run end. */
	assert_string_equal(log_of(&f), "FAIL:b ");
	assert_int_equal(b->attempt, 1);
	assert_int_equal(engine_find(f.e, "a")->state, ENG_PENDING);
	/* Again: it runs anew. */
	engine_run_step(f.e, b);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_string_equal(log_of(&f), "FAIL:b FAIL:b ");
	/* An on-demand step can be started by hand. */
	engine_run_step(f.e, engine_find(f.e, "rb"));
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_string_equal(log_of(&f), "FAIL:b FAIL:b PASS:rb ");
	assert_false(engine_busy(f.e));
	fx_close(&f);
}

static bool started(struct fixture *f)
{
	return f->rec.started > 0 && engine_jobs(f->e) > 0;
}

static void test_stop_cancels(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"s\",\"title\":\"S\",\"steps\":["
	            "{\"id\":\"long\",\"title\":\"Long\",\"run\":\"sleep 30\"},"
	            "{\"id\":\"next\",\"title\":\"Next\",\"run\":\"true\"}]}",
	        false);
	engine_start(f.e);
	run_until(&f, started);
	uint64_t t0 = uv_hrtime();
	engine_stop(f.e, "operator quit");
	run_until(&f, finished);
	assert_true(uv_hrtime() - t0 < 10ull * 1000000000ull);
	assert_string_equal(log_of(&f), "cancelled:long UNKNOWN:s end:UNKNOWN ");
	assert_string_equal(engine_find(f.e, "long")->explain, "operator quit");
	assert_int_equal(engine_find(f.e, "next")->state, ENG_PENDING);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(f.rec.finished, 1);
	fx_close(&f);
}

static void test_goto_loop_stops(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"l\",\"title\":\"L\",\"steps\":["
	            "{\"id\":\"a\",\"title\":\"A\",\"tcp\":{\"host\":\"127.0.0.1\",\"port\":1},"
	            "\"on_fail\":\"goto:b\"},"
	            "{\"id\":\"b\",\"title\":\"B\",\"tcp\":{\"host\":\"127.0.0.1\",\"port\":1},"
	            "\"on_fail\":\"goto:a\"}]}",
	        false);
	engine_start(f.e);
	run_until(&f, finished);
	assert_int_equal(f.rec.finished, 1);
	assert_int_equal(f.rec.started, 1001);
	assert_int_equal(f.rec.verdict, RBC_VERDICT_ERROR);
	fx_close(&f);
}

static void test_parallel_branch_jumps(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"p\",\"title\":\"P\",\"steps\":["
	            "{\"id\":\"par\",\"title\":\"Par\",\"parallel\":true,\"steps\":["
	            "  {\"id\":\"bad\",\"title\":\"Bad\",\"run\":\"exit 1\",\"on_fail\":\"goto:rb\"},"
	            "  {\"id\":\"slow\",\"title\":\"Slow\",\"run\":\"sleep 0.3\"}]},"
	            "{\"id\":\"skipped\",\"title\":\"Skipped\",\"run\":\"true\"},"
	            "{\"id\":\"rb\",\"title\":\"RB\",\"on_demand\":true,\"run\":\"true\"}]}",
	        false);
	engine_start(f.e);
	run_until(&f, finished);
	/* The jump waits for the other branch, then the procedure ends the run. */
	assert_string_equal(log_of(&f), "FAIL:bad PASS:slow FAIL:par jump:bad>rb PASS:rb FAIL:p end:FAIL ");
	assert_int_equal(engine_find(f.e, "skipped")->state, ENG_PENDING);
	fx_close(&f);
}

static void test_watch_with_lifetime(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"wr\",\"title\":\"W\",\"steps\":["
	            "{\"id\":\"w\",\"title\":\"W\",\"run\":\"true\",\"watch\":true,"
	            " \"repeat\":{\"every\":\"50ms\",\"for\":\"300ms\",\"fail_after\":2}},"
	            "{\"id\":\"quick\",\"title\":\"Quick\",\"run\":\"true\"}]}",
	        false);
	engine_start(f.e);
	run_until(&f, finished);
	/* The run waits for the watch's own lifetime; it never fired. The
	   runbook's line comes again once the watch has its verdict. */
	assert_string_equal(log_of(&f), "PASS:quick PASS:wr PASS:w PASS:wr end:PASS ");
	struct eng_step *w = engine_find(f.e, "w");
	assert_int_equal(w->state, ENG_DONE);
	assert_true(w->nsamples >= 5 && w->nsamples <= 7);
	assert_non_null(strstr(w->explain, "no sustained violation"));
	fx_close(&f);
}

static void test_watch_continue_keeps_going(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"w\",\"title\":\"W\",\"steps\":["
	            "{\"id\":\"w\",\"title\":\"W\",\"run\":\"false\",\"watch\":true,"
	            " \"repeat\":{\"every\":\"20ms\",\"fail_after\":2},\"on_fail\":\"continue\"},"
	            "{\"id\":\"slow\",\"title\":\"Slow\",\"run\":\"sleep 0.3\"}]}",
	        false);
	engine_start(f.e);
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "FAIL:w PASS:slow FAIL:w end:FAIL ");
	assert_non_null(strstr(engine_find(f.e, "w")->explain, "violated 2 samples in a row (fail_after 2)"));
	fx_close(&f);
}

static void test_group_confirm_interactive(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"gc\",\"title\":\"GC\",\"steps\":["
	            "{\"id\":\"g\",\"title\":\"G\",\"confirm\":\"Go?\",\"steps\":["
	            "  {\"id\":\"g1\",\"title\":\"G1\",\"run\":\"true\"}]}]}",
	        true);
	engine_start(f.e);
	run_until(&f, waiting);
	assert_int_equal(f.rec.waiting->wait, ENG_WAIT_CONFIRM);
	assert_true(engine_answer(f.e, f.rec.waiting, ENG_ANSWER_YES, NULL, NULL));
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "wait:g PASS:g1 PASS:g PASS:gc end:PASS ");
	fx_close(&f);
}

static void test_stop_after_finish_is_quiet(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"q\",\"title\":\"Q\",\"steps\":["
	            "{\"id\":\"a\",\"title\":\"A\",\"run\":\"true\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, finished);
	engine_stop(f.e, "quit");
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(f.rec.finished, 1); /* the run ended once */
	fx_close(&f);
}

static void test_run_on_after_procedure(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"p\",\"title\":\"P\",\"steps\":["
	            "{\"id\":\"migrate\",\"title\":\"M\",\"run\":\"false\",\"on_fail\":\"goto:rb\"},"
	            "{\"id\":\"announce\",\"title\":\"A\",\"run\":\"true\"},"
	            "{\"id\":\"rb\",\"title\":\"RB\",\"on_demand\":true,\"run\":\"true\"}]}",
	        true);
	engine_start(f.e);
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "FAIL:migrate jump:migrate>rb PASS:rb FAIL:p end:FAIL ");
	/* The operator decides to go on: the steps not run yet run now. */
	engine_start(f.e);
	f.rec.finished = 0;
	run_until(&f, finished);
	assert_string_equal(log_of(&f), "FAIL:migrate jump:migrate>rb PASS:rb FAIL:p end:FAIL "
	                                "PASS:announce FAIL:p end:FAIL ");
	fx_close(&f);
}

/* SEVERITY and SEVERITY_NAME: unset before the declaration, the declared
   level's, then the new one's after a change (docs/runbook-format.md). */
static void test_severity_vars(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "{\"runbook\":\"i\",\"title\":\"I\",\"kind\":\"incident\","
	            "\"severities\":[{\"id\":\"L1\",\"name\":\"Minor\"},{\"id\":\"L2\",\"name\":\"Major\"}],"
	            "\"steps\":[{\"id\":\"a\",\"title\":\"A\",\"manual\":\"look\"}]}", true);
	struct eng_step *a = engine_find(f.e, "a");
	assert_null(engine_var(f.e, a, "SEVERITY"));
	cJSON *ev = cJSON_Parse("{\"what\":\"declared\",\"to\":\"L1\",\"title\":\"t\"}");
	engine_incident(f.e, ev);
	cJSON_Delete(ev);
	char *s;
	assert_string_equal(s = engine_var(f.e, a, "SEVERITY"), "L1");
	free(s);
	assert_string_equal(s = engine_var(f.e, a, "SEVERITY_NAME"), "Minor");
	free(s);
	/* a level the runbook does not have, and an event of another kind, change nothing */
	ev = cJSON_Parse("{\"what\":\"severity\",\"from\":\"L1\",\"to\":\"L9\"}");
	engine_incident(f.e, ev);
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"what\":\"status\",\"to\":\"L2\"}");
	engine_incident(f.e, ev);
	cJSON_Delete(ev);
	assert_string_equal(s = engine_var(f.e, a, "SEVERITY"), "L1");
	free(s);
	ev = cJSON_Parse("{\"what\":\"severity\",\"from\":\"L1\",\"to\":\"L2\",\"text\":\"worse\"}");
	engine_incident(f.e, ev);
	cJSON_Delete(ev);
	assert_string_equal(s = engine_var(f.e, a, "SEVERITY"), "L2");
	free(s);
	assert_string_equal(s = engine_var(f.e, a, "SEVERITY_NAME"), "Major");
	free(s);
	fx_close(&f);
}

static void test_variable_precedence(void **state)
{
	(void)state;
	struct fixture f;
	memset(&f, 0, sizeof f);
	setenv("RBC_TEST_SECRET_X", "from-env", 1);
	const char *json = "{\"runbook\":\"v\",\"title\":\"V\","
	                   "\"vars\":{\"A\":\"rb-a\",\"B\":\"rb-b\",\"C\":\"${A}/c\"},"
	                   "\"secrets\":[\"RBC_TEST_SECRET_X\"],\"steps\":["
	                   "{\"id\":\"cap\",\"title\":\"Cap ${B}\",\"run\":\"echo captured\","
	                   " \"capture\":{\"B\":\"match(stdout, /(\\\\w+)/)\"}}]}";
	uv_loop_init(&f.loop);
	struct rbc_diags d = {0};
	f.rb = runbook_load_buffer("/tmp/v.json", json, strlen(json), &d);
	diags_print(&d, stderr);
	diags_free(&d);
	assert_non_null(f.rb);
	char ka[] = "A", va[] = "cli-a";
	char *k[] = {ka}, *v[] = {va};
	struct rb_kv cli = {.keys = k, .vals = v, .n = 1};
	struct engine_opts o = {.loop = &f.loop, .runbooks = &f.rb, .nrunbooks = 1, .vars = &cli,
	                        .on_event = on_event, .ud = &f.rec};
	struct rbc_error err = {0};
	f.e = engine_new(&o, &err);
	struct eng_step *cap = engine_find(f.e, "cap");
	char *s;
	assert_string_equal(s = engine_var(f.e, cap, "A"), "cli-a");
	free(s);
	assert_string_equal(s = engine_var(f.e, cap, "C"), "cli-a/c");
	free(s);
	assert_string_equal(s = engine_var(f.e, cap, "B"), "rb-b");
	free(s);
	assert_string_equal(s = engine_var(f.e, cap, "RBC_TEST_SECRET_X"), "from-env");
	free(s);
	assert_null(engine_var(f.e, cap, "NOPE"));
	assert_string_equal(s = engine_mask(f.e, "x from-env y"), "x " MASK_TEXT " y");
	free(s);
	assert_string_equal(cap->title, "Cap rb-b");
	engine_start(f.e);
	run_until(&f, finished);
	assert_string_equal(s = engine_var(f.e, cap, "B"), "captured");
	free(s);
	assert_string_equal(cap->title, "Cap rb-b"); /* the title as it was when the step started */
	engine_free(f.e);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	uv_loop_close(&f.loop);
	runbook_free(f.rb);
	sb_free(&f.rec.log);
	unsetenv("RBC_TEST_SECRET_X");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manual_answered),
		cmocka_unit_test(test_manual_failed_stops),
		cmocka_unit_test(test_tick_ahead),
		cmocka_unit_test(test_confirm_declined_skips),
		cmocka_unit_test(test_confirm_accepted),
		cmocka_unit_test(test_run_step_by_hand),
		cmocka_unit_test(test_stop_cancels),
		cmocka_unit_test(test_goto_loop_stops),
		cmocka_unit_test(test_parallel_branch_jumps),
		cmocka_unit_test(test_watch_with_lifetime),
		cmocka_unit_test(test_watch_continue_keeps_going),
		cmocka_unit_test(test_group_confirm_interactive),
		cmocka_unit_test(test_stop_after_finish_is_quiet),
		cmocka_unit_test(test_run_on_after_procedure),
		cmocka_unit_test(test_variable_precedence),
		cmocka_unit_test(test_severity_vars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

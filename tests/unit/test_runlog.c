/*
 * test_runlog.c — the deployment log's fields as the runbooks' "log"
 * declares them: the last runbook whose variables all have a value gives a
 * field, a value built from others is filled in, a loop gives nothing, and
 * a variable is never taken for a field by its name; a live engine's
 * environment follows its captures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/engine.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/runlog.h"
#include "rbc/util.h"

/* Variables of two runbooks: "NAME=value" pairs, the runbook's index first
   ("0:LIVE=blue"). */
static const char *const fake_vars[] = {
	"0:LIVE=blue", "1:LIVE=green", "0:EMPTY=", "0:BUILT=${LIVE}-${LIVE}",
	"0:LOOP=${LOOP}", "1:TAG=v${N}", "1:N=7",
};

/* runlog_var_fn over fake_vars. */
static char *fake_var(void *ud, size_t i, const char *name)
{
	(void)ud;
	for (size_t k = 0; k < RBC_ARRAY_LEN(fake_vars); k++) {
		const char *eq = strchr(fake_vars[k], '=');
		size_t len = (size_t)(eq - fake_vars[k] - 2);
		if ((size_t)(fake_vars[k][0] - '0') == i && strlen(name) == len &&
		    strncmp(fake_vars[k] + 2, name, len) == 0)
			return xstrdup(eq + 1);
	}
	return NULL;
}

/* runlog_field over tmpls (two runbooks), as a string to compare ("(null)"). */
static char *field(const char *a, const char *b)
{
	const char *tmpls[] = {a, b};
	char *v = runlog_field(tmpls, 2, fake_var, NULL);
	return v ? v : xstrdup("(null)");
}

/* Which runbook gives a field, and how its template is filled in. */
static void test_field_rules(void **state)
{
	(void)state;
	char *v;
	assert_string_equal(v = field("${LIVE}", "${LIVE}"), "green"); /* the last runbook's */
	free(v);
	assert_string_equal(v = field("${LIVE}", "${UNSET}"), "blue"); /* …whose variables have values */
	free(v);
	assert_string_equal(v = field("${LIVE}", NULL), "blue");       /* …of those that declare it */
	free(v);
	assert_string_equal(v = field("${LIVE}", "${EMPTY}"), "blue"); /* …and not an empty one */
	free(v);
	assert_string_equal(v = field("${BUILT} at ${LIVE}", NULL), "blue-blue at blue");
	free(v);
	assert_string_equal(v = field(NULL, "release ${TAG}"), "release v7");
	free(v);
	assert_string_equal(v = field("${LOOP}", NULL), "(null)");     /* a loop fills nothing */
	free(v);
	assert_string_equal(v = field("plain", NULL), "plain");
	free(v);
	assert_string_equal(v = field(NULL, NULL), "(null)");          /* nothing declared: nothing */
	free(v);
	assert_null(runlog_field(NULL, 0, fake_var, NULL));
}

/* Records whether the run has finished (an engine's on_event). */
static void on_event(void *ud, const struct eng_event *ev)
{
	if (ev->type == ENG_EV_RUN_FINISHED)
		*(bool *)ud = true;
}

/* A runbook loaded from json, or the test fails. */
static struct runbook *load(const char *json)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("/tmp/runlog.json", json, strlen(json), &d);
	if (!rb)
		diags_print(&d, stderr);
	diags_free(&d);
	assert_non_null(rb);
	return rb;
}

/* A live run's environment: declared only, and following a capture. */
static void test_environment_of_a_live_run(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct runbook *rbs[3] = {
		/* No "log": its ENVIRONMENT is not taken by its name. */
		load("{\"runbook\":\"a\",\"title\":\"A\",\"vars\":{\"ENVIRONMENT\":\"production\"},"
		     "\"steps\":[{\"id\":\"s\",\"title\":\"S\",\"run\":\"true\"}]}"),
		load("{\"runbook\":\"b\",\"title\":\"B\",\"log\":{\"environment\":\"${LIVE}\"},"
		     "\"vars\":{\"LIVE\":\"blue\"},\"steps\":[{\"id\":\"s\",\"title\":\"S\",\"run\":\"true\"}]}"),
		load("{\"runbook\":\"c\",\"title\":\"C\",\"log\":{\"environment\":\"${NOW_LIVE}\"},"
		     "\"steps\":[{\"id\":\"s\",\"title\":\"S\",\"run\":\"echo green\","
		     "\"capture\":{\"NOW_LIVE\":\"match(stdout, /(\\\\w+)/)\"}}]}"),
	};
	bool done = false;
	struct rb_kv vars = {0};
	struct engine_opts o = {.loop = &loop, .runbooks = rbs, .nrunbooks = 3, .vars = &vars,
	                        .operator = "tester", .on_event = on_event, .ud = &done};
	struct rbc_error err = {0};
	struct engine *e = engine_new(&o, &err);
	assert_non_null(e);
	char *env = runlog_environment(e, NULL);
	assert_string_equal(env, "blue"); /* NOW_LIVE has no value yet */
	free(env);
	engine_start(e);
	while (!done && uv_run(&loop, UV_RUN_ONCE))
		;
	assert_true(done);
	assert_string_equal(env = runlog_environment(e, NULL), "green"); /* the capture, the last runbook's */
	free(env);
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	assert_null(runlog_environment(e, tops[0])); /* the first phase declares none */
	assert_string_equal(env = runlog_environment(e, tops[1]), "blue"); /* the second alone */
	free(env);
	engine_free(e);
	probe_shutdown(&loop);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	for (size_t i = 0; i < RBC_ARRAY_LEN(rbs); i++)
		runbook_free(rbs[i]);
}

/* The runlog tests, as TAP with CMOCKA_MESSAGE_OUTPUT=TAP. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_rules),
		cmocka_unit_test(test_environment_of_a_live_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_sample_fields.c — the fields a probe really puts in its samples are
 * the fields RB_FIELDS declares for its action, the list rbc check holds
 * expressions to: every probe kind runs here against real loopback servers
 * (the fixture HTTP service and PostgreSQL, from tests/services/start), in
 * the shapes that add optional fields (output cut to its tail, a death by
 * signal, an unwritable output file, plugin perfdata, a body cut at
 * max_body, rows cut at max_rows), and every member of a sample that ran is
 * looked up in the table. A sample with `error` (the probe could not run)
 * has `time` and `error` at least.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/util.h"
#include "rbc/value.h"

static uv_loop_t loop;
static char dir[] = "/tmp/rbc-sample-fields.XXXXXX";
static char fixture_url[128], pg_conn[256], fixture_host_port[64];

struct result {
	struct rbc_value *sample;
	char *error;
	int calls;
};

static void on_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct result *r = ud;
	r->calls++;
	r->sample = sample;
	r->error = error ? xstrdup(error) : NULL;
}

/* Runs q with its kind's probe and returns what it delivered. */
static struct result probe(struct probe_req *q)
{
	struct result r = {0};
	struct rbc_error err = {0};
	q->loop = &loop;
	q->on_done = on_done;
	q->ud = &r;
	struct probe *p = probe_ops_for(q->action)->start(q, &err);
	if (!p)
		fail_msg("%s probe did not start: %s", rb_action_key(q->action), err.msg ? err.msg : "?");
	while (r.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	return r;
}

/*
 * Every member of r's sample is a field of action a. want (NULL-ended)
 * names fields the case must show, so each optional field is seen once.
 */
static void assert_fields(enum rb_action a, struct result *r, const char *const *want, bool ran)
{
	const struct rbc_value *s = r->sample;
	assert_non_null(s);
	assert_int_equal(s->type, VALUE_OBJ);
	assert_non_null(value_obj_get(s, "time"));
	if (ran && r->error)
		fail_msg("%s: the probe did not run: %s", rb_action_key(a), r->error);
	if (!ran) {
		assert_non_null(r->error);
		assert_non_null(value_obj_get(s, "error"));
	}
	for (size_t i = 0; ran && i < s->u.obj.n; i++)
		if (!rb_field_known(a, s->u.obj.keys[i]))
			fail_msg("%s samples have \"%s\", which RB_FIELDS does not declare for them",
			         rb_action_key(a), s->u.obj.keys[i]);
	for (size_t i = 0; want && want[i]; i++)
		if (!value_obj_get(s, want[i]))
			fail_msg("this %s sample should show \"%s\"", rb_action_key(a), want[i]);
	value_free(r->sample);
	free(r->error);
	memset(r, 0, sizeof *r);
}

static struct probe_req req(enum rb_action a)
{
	struct probe_req q;
	memset(&q, 0, sizeof q);
	q.action = a;
	return q;
}

static void test_run_and_nagios(void **state)
{
	(void)state;
	char spool[] = "/nonexistent-rbc-dir/out";
	struct probe_req q = req(RB_RUN);
	q.command = "printf 'a long line of output\\n'; printf 'oops\\n' >&2";
	q.keep_bytes = 8;
	q.spool_path = spool;
	q.spool_dir = -1; /* nowhere to spool: spool_error */
	struct result r = probe(&q);
	static const char *const cut[] = {"exit", "stdout", "stderr", "stdout_bytes", "stderr_bytes",
	                                  "stdout_truncated", "stderr_truncated", "spool_error", NULL};
	assert_fields(RB_RUN, &r, cut, true);

	q = req(RB_RUN);
	q.command = "kill -9 $$";
	r = probe(&q);
	static const char *const killed[] = {"signal", NULL};
	assert_fields(RB_RUN, &r, killed, true);

	q = req(RB_RUN);
	q.command = "sleep 5";
	q.timeout_ms = 50;
	r = probe(&q);
	assert_fields(RB_RUN, &r, NULL, false);

	q = req(RB_NAGIOS);
	q.command = "echo 'DISK WARNING - free 12% | free=12%;20;10;0;100 time=0.2s'; exit 1";
	r = probe(&q);
	static const char *const plugin[] = {"exit", "stdout", "state", "state_name", "output", "perf",
	                                     "perf_warn", "perf_crit", NULL};
	assert_fields(RB_NAGIOS, &r, plugin, true);
}

static void test_http_and_prometheus(void **state)
{
	(void)state;
	struct probe_req q = req(RB_HTTP);
	char *url = xasprintf("%s/api/environment", fixture_url);
	q.method = "GET";
	q.url = url;
	q.max_body = 4;
	struct result r = probe(&q);
	static const char *const http[] = {"status", "body", "json", "header", "size", "url",
	                                   "truncated", NULL};
	assert_fields(RB_HTTP, &r, http, true);
	free(url);

	/* A canned Prometheus answer from the fixture. */
	char *ctl = xasprintf("%s/_control/prom/api/v1/query", fixture_url);
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, ctl);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS,
	                 "{\"body\": {\"status\": \"success\", \"data\": {\"resultType\": \"vector\", "
	                 "\"result\": [{\"metric\": {\"job\": \"app\"}, \"value\": [1700000000, \"1\"]}]}}}");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fwrite);
	FILE *null = fopen("/dev/null", "w");
	curl_easy_setopt(e, CURLOPT_WRITEDATA, null);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	fclose(null);
	curl_easy_cleanup(e);
	free(ctl);
	char *base = xasprintf("%s/prom/", fixture_url);
	q = req(RB_PROMETHEUS);
	q.prom_url = base;
	q.prom_query = "up";
	r = probe(&q);
	static const char *const prom[] = {"value", "values", "series", NULL};
	assert_fields(RB_PROMETHEUS, &r, prom, true);
	free(base);
}

static void test_sql(void **state)
{
	(void)state;
	struct probe_req q = req(RB_SQL);
	q.conn = pg_conn;
	q.query = "SELECT id FROM jobs ORDER BY id";
	q.max_rows = 1;
	struct result r = probe(&q);
	static const char *const sql[] = {"rows", "value", "row", "rows_data", "columns", "truncated", NULL};
	assert_fields(RB_SQL, &r, sql, true);

	q = req(RB_SQL);
	q.conn = pg_conn;
	q.query = "SELECT * FROM no_such_table";
	r = probe(&q);
	assert_fields(RB_SQL, &r, NULL, false);
}

static void test_dns_and_tcp(void **state)
{
	(void)state;
	struct probe_req q = req(RB_DNS);
	q.host = "localhost";
	q.dns_type = "any";
	struct result r = probe(&q);
	static const char *const dns[] = {"addrs", NULL};
	assert_fields(RB_DNS, &r, dns, true);

	q = req(RB_TCP);
	q.host = "127.0.0.1";
	q.port = atoi(fixture_host_port);
	r = probe(&q);
	static const char *const tcp[] = {"addr", "connected", NULL};
	const struct rbc_value *c = value_obj_get(r.sample, "connected");
	assert_true(c && c->type == VALUE_BOOL && c->u.b);
	assert_fields(RB_TCP, &r, tcp, true);

	/* Refused: a sample with error, and connected false (docs/thresholds.md). */
	q.port = 1;
	r = probe(&q);
	c = value_obj_get(r.sample, "connected");
	assert_true(c && c->type == VALUE_BOOL && !c->u.b);
	assert_fields(RB_TCP, &r, NULL, false);

	/* A name that is not found has no answer to connected. */
	q.host = "no-such-host.invalid";
	r = probe(&q);
	assert_null(value_obj_get(r.sample, "connected"));
	assert_fields(RB_TCP, &r, NULL, false);
}

/* A wait lasts its time, unbounded by the timeout, and passes with `time`
   alone; cancelled, it ends with `error`. */
static void test_wait(void **state)
{
	(void)state;
	struct probe_req q = req(RB_WAIT);
	q.wait_ms = 30;
	q.timeout_ms = 1; /* not applied: the duration is the wait's own bound */
	uint64_t t0 = uv_hrtime();
	struct result r = probe(&q);
	assert_true(uv_hrtime() - t0 >= 29 * 1000000ull);
	const struct rbc_value *t = value_obj_get(r.sample, "time");
	assert_non_null(t);
	assert_true(t->u.num.v >= 29);
	assert_fields(RB_WAIT, &r, NULL, true);

	struct rbc_error err = {0};
	q = req(RB_WAIT);
	q.loop = &loop;
	q.on_done = on_done;
	q.ud = &r;
	q.wait_ms = 60000;
	struct probe *p = probe_ops_for(RB_WAIT)->start(&q, &err);
	assert_non_null(p);
	probe_ops_for(RB_WAIT)->cancel(p);
	while (r.calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_string_equal(r.error, "cancelled");
	assert_fields(RB_WAIT, &r, NULL, false);
}

/* The value of export NAME=… in the services' env file (static). */
static const char *env_value(const char *text, const char *name)
{
	static char out[256];
	char *key = xasprintf("export %s=", name);
	const char *p = strstr(text, key);
	out[0] = '\0';
	if (p) {
		p += strlen(key);
		size_t n = strcspn(p, "\n");
		snprintf(out, sizeof out, "%.*s", (int)n, p);
	}
	free(key);
	return out;
}

static int setup(void **state)
{
	(void)state;
	char cmd[512];
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof cmd, "tests/services/start %s fixture postgres >&2", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "%s/env", dir);
	size_t len;
	char *env = read_file(cmd, 1 << 16, &len);
	if (!env)
		return -1;
	snprintf(fixture_url, sizeof fixture_url, "%s", env_value(env, "FIXTURE_URL"));
	snprintf(fixture_host_port, sizeof fixture_host_port, "%s", env_value(env, "FIXTURE_PORT"));
	snprintf(pg_conn, sizeof pg_conn, "%s", env_value(env, "DATABASE_URL"));
	free(env);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return uv_loop_init(&loop);
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	probe_shutdown(&loop);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	curl_global_cleanup();
	snprintf(cmd, sizeof cmd, "tests/services/stop %s >&2; rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_and_nagios),
		cmocka_unit_test(test_http_and_prometheus),
		cmocka_unit_test(test_sql),
		cmocka_unit_test(test_dns_and_tcp),
		cmocka_unit_test(test_wait),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

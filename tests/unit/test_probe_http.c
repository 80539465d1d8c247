/*
 * test_probe_http.c — the http and prometheus probes against the fixture
 * HTTP service (started here as a child), and a real TLS server with a
 * certificate made at test time and a real Prometheus (both started by
 * tests/services/start: "tls", and "prometheus" for the end-to-end query).
 *
 * The probes run on one uv loop shared by every test, as in the program;
 * the test itself drives the fixture with blocking curl easy calls, which
 * is fine: the test is not the loop under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "rbc/error.h"
#include "rbc/expr.h"
#include "rbc/probe.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "../../src/probe/http_internal.h"

static uv_loop_t loop;
static pid_t fixture_pid;
static char fixture_url[64];
static char tmpdir[64];

/* ---- helpers: the fixture ---- */

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
	sb_add(ud, data, size * nmemb);
	return size * nmemb;
}

/* A blocking request to base+path; returns the body (caller frees), *status set. */
static char *fetch(const char *base, const char *method, const char *path, const char *json,
                   long *status)
{
	struct strbuf sb = {0};
	struct curl_slist *h = NULL;
	char *url = xasprintf("%s%s", base, path);
	CURL *e = curl_easy_init();
	CURLcode rc;

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sb);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	if (json) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
	}
	rc = curl_easy_perform(e);
	*status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	free(url);
	if (rc != CURLE_OK) {
		sb_free(&sb);
		return NULL;
	}
	return sb_take(&sb);
}

/* Configures a fixture route: PUT /_control/<path> with spec. */
static void route(const char *path, const char *spec)
{
	long status;
	char *p = xasprintf("/_control%s", path);
	char *out = fetch(fixture_url, "PUT", p, spec, &status);

	if (!out || status != 200)
		fail_msg("fixture rejected route %s %s: %s", path, spec, out ? out : "(no answer)");
	free(out);
	free(p);
}

/* The fixture's request log of path (JSON text, caller frees). */
static cJSON *requests(const char *path)
{
	long status;
	char *p = xasprintf("/_requests?path=%s", path);
	char *out = fetch(fixture_url, "GET", p, NULL, &status);
	cJSON *j = out ? cJSON_Parse(out) : NULL;

	free(out);
	free(p);
	assert_non_null(j);
	return j;
}

static pid_t spawn_fixture(const char *port_file)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Dies with the test, even when the test crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (!freopen("/dev/null", "w", stderr))
			_exit(127);
		execlp("python3", "python3", "tests/services/fixture.py", "--port", "0",
		       "--port-file", port_file, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int group_setup(void **state)
{
	(void)state;
	char *port_file, *port;
	size_t len;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	uv_loop_init(&loop);
	strcpy(tmpdir, "/tmp/rbc-http.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	port_file = xasprintf("%s/fixture.port", tmpdir);
	fixture_pid = spawn_fixture(port_file);
	for (int i = 0; i < 200 && access(port_file, R_OK) != 0; i++)
		nap_ms(50);
	port = read_file(port_file, 64, &len);
	free(port_file);
	if (!port)
		return -1;
	snprintf(fixture_url, sizeof fixture_url, "http://127.0.0.1:%d", atoi(port));
	free(port);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char *cmd;

	probe_http_shutdown(&loop);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Every handle the probes opened is closed: the loop closes cleanly. */
	int rc = uv_loop_close(&loop);
	if (fixture_pid > 0) {
		kill(fixture_pid, SIGTERM);
		waitpid(fixture_pid, NULL, 0);
	}
	/* Stops the Prometheus of test_prom_real even when it failed midway. */
	cmd = xasprintf("tests/services/stop '%s/services' >/dev/null 2>&1", tmpdir);
	if (system(cmd) != 0)
		rc = -1;
	free(cmd);
	cmd = xasprintf("rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = -1;
	free(cmd);
	curl_global_cleanup();
	return rc == 0 ? 0 : -1;
}

/* ---- helpers: running probes on the loop ---- */

struct result {
	struct rbc_value *sample;
	char *error;
	int calls;
	uint64_t done_at;
};

static void on_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct result *r = ud;

	r->calls++;
	r->sample = sample;
	r->error = error ? xstrdup(error) : NULL;
	r->done_at = uv_hrtime();
}

static void result_free(struct result *r)
{
	value_free(r->sample);
	free(r->error);
	memset(r, 0, sizeof *r);
}

static struct probe_req http_req(const char *url)
{
	struct probe_req req = {0};

	req.loop = &loop;
	req.action = RB_HTTP;
	req.url = url;
	req.on_done = on_done;
	return req;
}

/* Starts req with ops, runs the loop until it is done; returns elapsed ms. */
static double run_probe(const struct probe_ops *ops, struct probe_req *req, struct result *r)
{
	struct rbc_error err = {0};
	uint64_t t0 = uv_hrtime();

	memset(r, 0, sizeof *r);
	req->ud = r;
	struct probe *p = ops->start(req, &err);
	if (!p)
		fail_msg("start failed: %s", err.msg);
	assert_int_equal(r->calls, 0); /* never from inside start */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r->calls, 1);
	assert_non_null(r->sample);
	return (double)(r->done_at - t0) / 1e6;
}

static const struct rbc_value *field(const struct rbc_value *v, const char *key)
{
	return value_obj_get(v, key);
}

static double num(const struct rbc_value *v, const char *key)
{
	const struct rbc_value *f = field(v, key);

	if (!f || f->type != VALUE_NUM)
		fail_msg("field %s is not a number", key);
	return f->u.num.v;
}

static const char *str(const struct rbc_value *v, const char *key)
{
	const struct rbc_value *f = field(v, key);

	if (!f || f->type != VALUE_STR)
		fail_msg("field %s is not text", key);
	return f->u.str.s;
}

/* The verdict of expect over one sample (and the explanation, for messages). */
static enum rbc_verdict judge(const char *expect, const struct rbc_value *sample,
                              const char *error, char **explain)
{
	struct rbc_error err = {0};
	struct expr *e = expr_parse(expect, &err);
	struct rbc_value *samples[1] = {(struct rbc_value *)sample};
	struct expr_env env = {samples, 1, NULL, NULL, NULL};
	enum rbc_verdict v;

	assert_non_null(e);
	v = expr_judge(e, NULL, &env, error, explain);
	expr_free(e);
	return v;
}

static void assert_verdict(const char *expect, const struct rbc_value *sample,
                           enum rbc_verdict want, const char *why_has)
{
	char *explain = NULL;
	enum rbc_verdict v = judge(expect, sample, NULL, &explain);

	if (v != want || (why_has && !strstr(explain, why_has)))
		fail_msg("%s: got %s (%s), want %s with \"%s\"", expect, verdict_name(v), explain,
		         verdict_name(want), why_has ? why_has : "");
	free(explain);
}

/* ---- http ---- */

static void test_get_status_json_headers(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/basic?x=1", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/basic", "{\"status\": 201, \"body\": {\"a\": {\"b\": [1, 2]}, \"s\": \"ok\"},"
	                  " \"headers\": {\"X-Test\": \"yes\", \"Cache-Control\": \"no-store\"}}");
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 201);
	assert_int_equal(field(r.sample, "time")->u.num.dim, RBC_DIM_TIME);
	assert_true(num(r.sample, "time") > 0);
	assert_int_equal(field(r.sample, "size")->u.num.dim, RBC_DIM_SIZE);
	assert_int_equal((size_t)num(r.sample, "size"), strlen(str(r.sample, "body")));
	assert_non_null(strstr(str(r.sample, "body"), "\"b\": [1, 2]"));
	assert_string_equal(str(r.sample, "url"), url);
	assert_null(field(r.sample, "error"));
	assert_null(field(r.sample, "truncated"));
	/* Through the threshold language, as runbooks read them. */
	assert_verdict("status == 201", r.sample, RBC_VERDICT_PASS, NULL);
	assert_verdict("json.a.b[1] == 2 && json.s == \"ok\"", r.sample, RBC_VERDICT_PASS, NULL);
	assert_verdict("header[\"x-test\"] == \"yes\"", r.sample, RBC_VERDICT_PASS, NULL);
	assert_verdict("header[\"CONTENT-TYPE\"] == \"application/json\"", r.sample,
	               RBC_VERDICT_PASS, NULL);
	assert_verdict("json.nope == 1", r.sample, RBC_VERDICT_UNKNOWN, NULL);
	result_free(&r);
	free(url);
}

static void test_body_not_json(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/text", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/text", "{\"body\": \"hello, world\"}");
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_string_equal(str(r.sample, "body"), "hello, world");
	const struct rbc_value *j = field(r.sample, "json");
	assert_non_null(j);
	assert_int_equal(j->type, VALUE_MISSING);
	assert_non_null(strstr(j->u.why, "body is not JSON"));
	assert_verdict("json.x == 1", r.sample, RBC_VERDICT_UNKNOWN, NULL);
	assert_verdict("body =~ /hello/", r.sample, RBC_VERDICT_PASS, NULL);
	result_free(&r);
	free(url);
}

static void test_repeated_headers_joined(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/h", fixture_url);
	struct probe_req req = http_req(url);

	/* Two headers differing only in case arrive as two lines. */
	route("/t/h", "{\"body\": \"x\", \"headers\": {\"X-Dup\": \"one\", \"x-dup\": \"two\"}}");
	run_probe(&probe_http_ops, &req, &r);
	const struct rbc_value *h = field(r.sample, "header");
	assert_non_null(h);
	assert_true(h->u.obj.icase);
	assert_string_equal(str(h, "X-DUP"), "one, two");
	result_free(&r);
	free(url);
}

static void test_latency(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/slow150", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/slow150", "{\"latency_ms\": 150, \"body\": \"ok\"}");
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_true(num(r.sample, "time") >= 150);
	assert_true(num(r.sample, "time") < 1500);
	assert_verdict("time < 100ms", r.sample, RBC_VERDICT_FAIL, NULL);
	assert_verdict("time >= 150ms", r.sample, RBC_VERDICT_PASS, NULL);
	result_free(&r);
	free(url);
}

static void test_post_json(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/post", fixture_url);
	struct probe_req req = http_req(url);
	char *keys[] = {(char *)"X-Custom", (char *)"Authorization"};
	char *vals[] = {(char *)"abc", (char *)"Bearer t0k"};
	struct rb_kv headers = {keys, vals, 2};

	route("/t/post", "{\"body\": {\"created\": true}}");
	req.method = "POST";
	req.body = "{\"name\": \"deploy\", \"n\": 3}";
	req.json_body = 1;
	req.headers = &headers;
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	cJSON *log = requests("/t/post");
	cJSON *last = cJSON_GetArrayItem(log, cJSON_GetArraySize(log) - 1);
	assert_non_null(last);
	assert_string_equal(cJSON_GetObjectItem(last, "method")->valuestring, "POST");
	assert_string_equal(cJSON_GetObjectItem(last, "body")->valuestring, req.body);
	cJSON *h = cJSON_GetObjectItem(last, "headers");
	assert_string_equal(cJSON_GetObjectItem(h, "Content-Type")->valuestring, "application/json");
	assert_string_equal(cJSON_GetObjectItem(h, "X-Custom")->valuestring, "abc");
	assert_string_equal(cJSON_GetObjectItem(h, "Authorization")->valuestring, "Bearer t0k");
	assert_null(cJSON_GetObjectItem(h, "Expect"));
	cJSON_Delete(log);
	result_free(&r);

	/* A given Content-Type wins; other methods carry the body too. */
	char *k2[] = {(char *)"content-type"};
	char *v2[] = {(char *)"application/vnd.rbc+json"};
	struct rb_kv h2 = {k2, v2, 1};
	req.method = "PUT";
	req.headers = &h2;
	run_probe(&probe_http_ops, &req, &r);
	log = requests("/t/post");
	last = cJSON_GetArrayItem(log, cJSON_GetArraySize(log) - 1);
	assert_string_equal(cJSON_GetObjectItem(last, "method")->valuestring, "PUT");
	assert_string_equal(cJSON_GetObjectItem(last, "body")->valuestring, req.body);
	h = cJSON_GetObjectItem(last, "headers");
	assert_string_equal(cJSON_GetObjectItem(h, "Content-Type")->valuestring,
	                    "application/vnd.rbc+json");
	cJSON_Delete(log);
	result_free(&r);
	free(url);
}

static void test_head(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/head", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/head", "{\"body\": \"a body HEAD must not read\"}");
	req.method = "HEAD";
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	assert_int_equal((int)num(r.sample, "size"), 0);
	assert_string_equal(str(r.sample, "body"), "");
	assert_string_equal(str(field(r.sample, "header"), "content-length"), "25");
	cJSON *log = requests("/t/head");
	cJSON *last = cJSON_GetArrayItem(log, cJSON_GetArraySize(log) - 1);
	assert_string_equal(cJSON_GetObjectItem(last, "method")->valuestring, "HEAD");
	cJSON_Delete(log);
	result_free(&r);
	free(url);
}

static void test_redirect(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/redir", fixture_url);
	char *target = xasprintf("%s/api/health", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/redir", "{\"status\": 302, \"body\": \"\", \"headers\": {\"Location\": \"/api/health\"}}");
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 302);
	assert_string_equal(str(field(r.sample, "header"), "location"), "/api/health");
	assert_string_equal(str(r.sample, "url"), url);
	result_free(&r);

	req.follow = 1;
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	assert_string_equal(str(r.sample, "url"), target);
	/* The headers are the final response's, not the redirect's. */
	assert_null(field(field(r.sample, "header"), "location"));
	assert_verdict("json.status == \"ok\"", r.sample, RBC_VERDICT_PASS, NULL);
	result_free(&r);
	free(target);
	free(url);
}

static void test_timeout(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/slow2000", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/slow2000", "{\"latency_ms\": 2000, \"body\": \"late\"}");
	req.timeout_ms = 300;
	double ms = run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "timed out after 300ms");
	assert_true(ms >= 250 && ms < 1500);
	/* Only time and error. */
	assert_int_equal(r.sample->u.obj.n, 2);
	assert_true(num(r.sample, "time") >= 250);
	assert_string_equal(str(r.sample, "error"), r.error);
	char *explain = NULL;
	assert_int_equal(judge("status == 200", r.sample, r.error, &explain), RBC_VERDICT_ERROR);
	free(explain);
	result_free(&r);
	free(url);
}

/*
 * A slow body: the headers come at once, the body a byte every 50 ms (2 s
 * in all). The timeout bounds the whole transfer, not just the wait for
 * the headers.
 */
static void test_slow_body(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/drip", fixture_url);
	struct probe_req req = http_req(url);

	route("/t/drip", "{\"body\": \"0123456789012345678901234567890123456789\", \"drip_ms\": 50}");
	req.timeout_ms = 400;
	double ms = run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "timed out after 400ms");
	assert_true(ms >= 350 && ms < 1500);
	assert_int_equal(r.sample->u.obj.n, 2);
	assert_true(num(r.sample, "time") >= 350 && num(r.sample, "time") < 1500);
	char *explain = NULL;
	assert_int_equal(judge("status == 200", r.sample, r.error, &explain), RBC_VERDICT_ERROR);
	free(explain);
	result_free(&r);
	/* the fixture did start answering: requests("/t/drip") logged it */
	cJSON *log = requests("/t/drip");
	assert_true(cJSON_GetArraySize(log) >= 1);
	cJSON_Delete(log);

	/* A body that drips within the timeout arrives whole, and takes its time. */
	route("/t/drip", "{\"body\": \"abcdefghij\", \"drip_ms\": 40, \"drip_bytes\": 2}");
	req.timeout_ms = 5000;
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	assert_string_equal(str(r.sample, "body"), "abcdefghij");
	assert_true(num(r.sample, "time") >= 190);
	result_free(&r);
	free(url);
}

/*
 * The proxy environment is libcurl's: with http_proxy pointing at the
 * fixture, a request for a name that does not exist reaches the fixture as
 * a proxy request (no lookup of the name at all).
 */
static void test_proxy_env(void **state)
{
	(void)state;
	struct result r;
	struct probe_req req = http_req("http://rbc-proxied.invalid/t/proxied");
	char *no_proxy = getenv("no_proxy") ? xstrdup(getenv("no_proxy")) : NULL;
	char *NO_PROXY = getenv("NO_PROXY") ? xstrdup(getenv("NO_PROXY")) : NULL;

	route("/t/proxied", "{\"body\": \"via the proxy\"}");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	setenv("http_proxy", fixture_url, 1);
	run_probe(&probe_http_ops, &req, &r);
	unsetenv("http_proxy");
	if (no_proxy)
		setenv("no_proxy", no_proxy, 1);
	if (NO_PROXY)
		setenv("NO_PROXY", NO_PROXY, 1);
	free(no_proxy);
	free(NO_PROXY);
	if (r.error)
		fail_msg("through http_proxy: %s", r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	assert_string_equal(str(r.sample, "body"), "via the proxy");
	result_free(&r);
}

/* A port on 127.0.0.1 nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_refused(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("http://127.0.0.1:%d/x", closed_port());
	struct probe_req req = http_req(url);

	double ms = run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	if (strncmp(r.error, "connection refused", 18) != 0)
		fail_msg("error: %s", r.error);
	assert_true(ms < 1000);
	assert_int_equal(r.sample->u.obj.n, 2);
	assert_non_null(field(r.sample, "time"));
	assert_string_equal(str(r.sample, "error"), r.error);
	result_free(&r);
	free(url);
}

/* A name that does not resolve (.invalid never does): an error naming it. */
static void test_dns_failure(void **state)
{
	(void)state;
	struct result r;
	struct probe_req req = http_req("http://no-such-host.invalid/api/health");

	req.timeout_ms = 10000;
	run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	if (strncmp(r.error, "cannot resolve host: ", 21) != 0 || !strstr(r.error, "no-such-host.invalid"))
		fail_msg("error: %s", r.error);
	assert_int_equal(r.sample->u.obj.n, 2);
	assert_string_equal(str(r.sample, "error"), r.error);
	result_free(&r);
}

static void test_bad_scheme_and_start_errors(void **state)
{
	(void)state;
	struct result r;
	struct rbc_error err = {0};
	struct probe_req req = http_req("file:///etc/passwd");

	/* Only http and https: a runbook url never reads local files. */
	run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	assert_null(field(r.sample, "body"));
	result_free(&r);

	char *keys[] = {(char *)"X-Evil"};
	char *vals[] = {(char *)"a\r\nInjected: yes"};
	struct rb_kv headers = {keys, vals, 1};
	req = http_req(fixture_url);
	req.headers = &headers;
	req.ud = &r;
	memset(&r, 0, sizeof r);
	assert_null(probe_http_ops.start(&req, &err));
	assert_non_null(err.msg);
	assert_non_null(strstr(err.msg, "X-Evil"));
	rbc_error_clear(&err);

	req = http_req("");
	req.ud = &r;
	assert_null(probe_http_ops.start(&req, &err));
	assert_non_null(err.msg);
	rbc_error_clear(&err);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 0);
}

static void test_max_body(void **state)
{
	(void)state;
	struct result r;
	char *url = xasprintf("%s/t/big", fixture_url);
	struct probe_req req = http_req(url);
	struct strbuf spec = {0};

	sb_adds(&spec, "{\"body\": \"");
	for (int i = 0; i < 500; i++)
		sb_adds(&spec, "0123456789");
	sb_adds(&spec, "\"}");
	route("/t/big", sb_borrow(&spec));
	sb_free(&spec);

	req.max_body = 1000;
	run_probe(&probe_http_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal((int)num(r.sample, "size"), 5000);
	assert_int_equal(field(r.sample, "body")->u.str.len, 1000);
	assert_memory_equal(str(r.sample, "body"), "0123456789", 10);
	assert_int_equal(field(r.sample, "truncated")->type, VALUE_BOOL);
	assert_true(field(r.sample, "truncated")->u.b);
	result_free(&r);

	req.max_body = 0; /* the default keeps it all */
	run_probe(&probe_http_ops, &req, &r);
	assert_int_equal(field(r.sample, "body")->u.str.len, 5000);
	assert_null(field(r.sample, "truncated"));
	result_free(&r);
	free(url);
}

static void test_concurrent(void **state)
{
	(void)state;
	enum { N = 50 };
	struct result r[N];
	struct probe_req req[N];
	char *url = xasprintf("%s/t/c200", fixture_url);
	struct rbc_error err = {0};

	route("/t/c200", "{\"latency_ms\": 200, \"body\": {\"ok\": true}}");
	uint64_t t0 = uv_hrtime();
	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof r[i]);
		req[i] = http_req(url);
		req[i].ud = &r[i];
		assert_non_null(probe_http_ops.start(&req[i], &err));
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	double ms = (double)(uv_hrtime() - t0) / 1e6;
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].calls, 1);
		if (r[i].error)
			fail_msg("request %d: %s", i, r[i].error);
		assert_int_equal((int)num(r[i].sample, "status"), 200);
		assert_true(num(r[i].sample, "time") >= 200);
		result_free(&r[i]);
	}
	/* One after another they take 10 s. */
	if (ms > 3000)
		fail_msg("50 requests of 200 ms took %.0f ms", ms);
	free(url);
}

struct cancel_ctx {
	struct probe *p;
	struct result *r;
	int calls_inside_cancel;
};

static void cancel_now(uv_timer_t *t)
{
	struct cancel_ctx *c = t->data;

	probe_http_ops.cancel(c->p);
	c->calls_inside_cancel = c->r->calls;
	uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel_twice_and_url_password(void **state)
{
	(void)state;
	struct result r = {0}, other = {0};
	struct rbc_error err = {0};
	char *url = xasprintf("%s/t/slow2000d", fixture_url);
	char *url2 = xasprintf("%s/t/quick", fixture_url);
	struct probe_req req = http_req(url), req2 = http_req(url2);

	route("/t/slow2000d", "{\"latency_ms\": 2000, \"body\": \"late\"}");
	route("/t/quick", "{\"body\": \"ok\"}");
	/* Cancel may come twice before on_done: one report, others unharmed. */
	req.ud = &r;
	req2.ud = &other;
	struct probe *p = probe_http_ops.start(&req, &err);
	assert_non_null(p);
	assert_non_null(probe_http_ops.start(&req2, &err));
	probe_http_ops.cancel(p);
	probe_http_ops.cancel(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error, "cancelled");
	assert_int_equal(other.calls, 1);
	assert_null(other.error);
	result_free(&r);
	result_free(&other);

	/* A password in the url (often a secret) never reaches the sample. */
	char *secret_url = xasprintf("http://alice:s3cretPW@%s/t/quick", fixture_url + 7);
	struct probe_req req3 = http_req(secret_url);
	run_probe(&probe_http_ops, &req3, &r);
	assert_null(r.error);
	assert_null(strstr(str(r.sample, "url"), "s3cretPW"));
	assert_non_null(strstr(str(r.sample, "url"), "/t/quick"));
	result_free(&r);
	free(secret_url);
	free(url);
	free(url2);
}

static void test_cancel(void **state)
{
	(void)state;
	struct result r = {0}, other = {0};
	char *url = xasprintf("%s/t/slow2000c", fixture_url);
	struct probe_req req = http_req(url), req2 = http_req(url);
	struct rbc_error err = {0};
	uv_timer_t t;

	route("/t/slow2000c", "{\"latency_ms\": 2000, \"body\": \"late\"}");
	/* Cancelled before the loop ever ran. */
	req.ud = &r;
	struct probe *p = probe_http_ops.start(&req, &err);
	assert_non_null(p);
	probe_http_ops.cancel(p);
	assert_int_equal(r.calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error, "cancelled");
	assert_string_equal(str(r.sample, "error"), "cancelled");
	assert_non_null(field(r.sample, "time"));
	result_free(&r);

	/* Cancelled in flight, 100 ms in; another transfer carries on. */
	uint64_t t0 = uv_hrtime();
	struct cancel_ctx c = {0};
	req.ud = &r;
	c.p = probe_http_ops.start(&req, &err);
	c.r = &r;
	req2.timeout_ms = 0;
	char *url2 = xasprintf("%s/t/slow150", fixture_url);
	req2.url = url2;
	req2.ud = &other;
	route("/t/slow150", "{\"latency_ms\": 150, \"body\": \"ok\"}");
	assert_non_null(probe_http_ops.start(&req2, &err));
	uv_timer_init(&loop, &t);
	t.data = &c;
	uv_timer_start(&t, cancel_now, 100, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	double ms = (double)(r.done_at - t0) / 1e6;
	assert_int_equal(c.calls_inside_cancel, 0);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error, "cancelled");
	assert_true(ms < 1000);
	assert_null(other.error);
	assert_int_equal((int)num(other.sample, "status"), 200);
	result_free(&r);
	result_free(&other);
	free(url2);
	free(url);
}

/* ---- prometheus, canned answers ---- */

static struct probe_req prom_req(const char *base, const char *query)
{
	struct probe_req req = {0};

	req.loop = &loop;
	req.action = RB_PROMETHEUS;
	req.prom_url = base;
	req.prom_query = query;
	req.timeout_ms = 5000;
	req.on_done = on_done;
	return req;
}

/* Serves status/body at <prefix>/api/v1/query and runs query against <prefix>. */
static void prom_canned(const char *prefix, int status, const char *body_json,
                        const char *query, struct result *r)
{
	char *path = xasprintf("%s/api/v1/query", prefix);
	char *spec = xasprintf("{\"status\": %d, \"body\": %s}", status, body_json);
	char *base = xasprintf("%s%s/", fixture_url, prefix);
	struct probe_req req = prom_req(base, query);

	route(path, spec);
	run_probe(&probe_prometheus_ops, &req, r);
	free(base);
	free(spec);
	free(path);
}

static void test_prom_vector(void **state)
{
	(void)state;
	struct result r;
	const char *q = "sum by (path) (rate(http_requests_total{status=~\"5..\"}[5m])) > 0.1";

	prom_canned("/p1", 200,
	            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{\"path\":\"/a\"},\"value\":[1700000000.1,\"0.25\"]},"
	            "{\"metric\":{\"path\":\"/b\"},\"value\":[1700000000.1,\"3\"]}]}}",
	            q, &r);
	assert_null(r.error);
	assert_true(num(r.sample, "value") == 0.25);
	assert_string_equal(str(r.sample, "resultType"), "vector");
	const struct rbc_value *vals = field(r.sample, "values");
	assert_int_equal(vals->u.list.n, 2);
	assert_true(vals->u.list.v[1]->u.num.v == 3);
	const struct rbc_value *series = field(r.sample, "series");
	assert_int_equal(series->u.list.n, 2);
	assert_string_equal(str(field(series->u.list.v[1], "metric"), "path"), "/b");
	assert_true(num(series->u.list.v[1], "value") == 3);
	assert_non_null(field(r.sample, "time"));
	assert_verdict("value < 1", r.sample, RBC_VERDICT_PASS, NULL);
	assert_verdict("series[1].metric.path == \"/b\"", r.sample, RBC_VERDICT_PASS, NULL);

	/* The query went out url-encoded, and decodes back to itself. */
	cJSON *log = requests("/p1/api/v1/query");
	cJSON *last = cJSON_GetArrayItem(log, cJSON_GetArraySize(log) - 1);
	const char *qs = cJSON_GetObjectItem(last, "query")->valuestring;
	assert_int_equal(strncmp(qs, "query=", 6), 0);
	assert_null(strpbrk(qs + 6, " {}\"=[]()>"));
	CURL *e = curl_easy_init();
	int n;
	char *dec = curl_easy_unescape(e, qs + 6, 0, &n);
	assert_string_equal(dec, q);
	curl_free(dec);
	curl_easy_cleanup(e);
	cJSON_Delete(log);
	result_free(&r);
}

static void test_prom_scalar(void **state)
{
	(void)state;
	struct result r;

	prom_canned("/p2", 200,
	            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	            "\"result\":[1700000000,\"42.5\"]}}",
	            "scalar(up)", &r);
	assert_null(r.error);
	assert_true(num(r.sample, "value") == 42.5);
	assert_string_equal(str(r.sample, "resultType"), "scalar");
	assert_int_equal(field(r.sample, "series")->u.list.n, 0);
	result_free(&r);
}

static void test_prom_empty(void **state)
{
	(void)state;
	struct result r;

	prom_canned("/p3", 200,
	            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
	            "up{job=\"nothing\"}", &r);
	assert_null(r.error);
	assert_null(field(r.sample, "value"));
	assert_int_equal(field(r.sample, "series")->type, VALUE_LIST);
	assert_int_equal(field(r.sample, "series")->u.list.n, 0);
	assert_int_equal(field(r.sample, "values")->u.list.n, 0);
	assert_verdict("value < 1", r.sample, RBC_VERDICT_UNKNOWN, "absent");
	result_free(&r);
}

static void test_prom_nan_inf(void **state)
{
	(void)state;
	struct result r;

	prom_canned("/p4", 200,
	            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	            "{\"metric\":{},\"value\":[1700000000,\"NaN\"]}]}}",
	            "0/0", &r);
	assert_null(r.error);
	const struct rbc_value *v = field(r.sample, "value");
	assert_non_null(v);
	assert_int_equal(v->type, VALUE_MISSING);
	assert_string_equal(v->u.why, "value is NaN");
	assert_verdict("value < 1", r.sample, RBC_VERDICT_UNKNOWN, "NaN");
	result_free(&r);

	prom_canned("/p5", 200,
	            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	            "\"result\":[1700000000,\"+Inf\"]}}",
	            "1/0", &r);
	v = field(r.sample, "value");
	assert_int_equal(v->type, VALUE_MISSING);
	assert_string_equal(v->u.why, "value is +Inf");
	assert_verdict("value > 0", r.sample, RBC_VERDICT_UNKNOWN, NULL);
	result_free(&r);
}

static void test_prom_errors(void **state)
{
	(void)state;
	struct result r;

	prom_canned("/p6", 400,
	            "{\"status\":\"error\",\"errorType\":\"bad_data\","
	            "\"error\":\"1:5: parse error: unexpected end of input\"}",
	            "sum(", &r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "prometheus: bad_data: 1:5: parse error: unexpected end of input");
	assert_string_equal(str(r.sample, "error"), r.error);
	assert_non_null(field(r.sample, "time"));
	result_free(&r);

	prom_canned("/p7", 503, "\"Service Unavailable\"", "up", &r);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "503"));
	assert_null(field(r.sample, "value"));
	result_free(&r);

	/* Nothing listening: the transport error comes through. */
	char *base = xasprintf("http://127.0.0.1:%d", closed_port());
	struct probe_req req = prom_req(base, "up");
	run_probe(&probe_prometheus_ops, &req, &r);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "connection refused"));
	result_free(&r);
	free(base);

	/* No query: it cannot even start. */
	struct rbc_error err = {0};
	req = prom_req(fixture_url, "");
	assert_null(probe_prometheus_ops.start(&req, &err));
	assert_non_null(err.msg);
	rbc_error_clear(&err);
}

static void test_prom_cancel(void **state)
{
	(void)state;
	struct result r = {0};
	struct rbc_error err = {0};
	char *base = xasprintf("%s/p8", fixture_url);
	struct probe_req req = prom_req(base, "up");

	route("/p8/api/v1/query", "{\"latency_ms\": 2000, \"body\": {\"status\": \"success\"}}");
	req.ud = &r;
	struct probe *p = probe_prometheus_ops.start(&req, &err);
	assert_non_null(p);
	probe_prometheus_ops.cancel(p);
	assert_int_equal(r.calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error, "cancelled");
	result_free(&r);
	free(base);
}

/* ---- TLS, against a real TLS server ---- */

/* The value of NAME in a services env file's text (caller frees). */
static char *env_value(const char *text, const char *name)
{
	char *key = xasprintf("export %s=", name);
	const char *at = strstr(text, key);
	char *v = at ? xstrndup(at + strlen(key), strcspn(at + strlen(key), "\n")) : NULL;

	free(key);
	if (!v)
		fail_msg("the services env has no %s", name);
	return v;
}

/*
 * A self-signed certificate made at start: refused while verifying (the
 * error names the certificate problem), accepted with insecure, and
 * accepted while verifying once CURL_CA_BUNDLE or SSL_CERT_FILE names it.
 */
static void test_tls(void **state)
{
	(void)state;
	char dir[80], *cmd, *env, *text;
	size_t len;
	struct result r;

	snprintf(dir, sizeof dir, "%s/services", tmpdir);
	cmd = xasprintf("mkdir -p '%s' && tests/services/start '%s' tls >'%s.log' 2>&1", dir, dir, dir);
	int rc = system(cmd);
	free(cmd);
	if (rc != 0)
		fail_msg("tests/services/start tls failed; see %s.log", dir);
	env = xasprintf("%s/env", dir);
	text = read_file(env, 1 << 16, &len);
	free(env);
	assert_non_null(text);
	char *base = env_value(text, "TLS_URL"), *ca = env_value(text, "TLS_CA");
	char *url = xasprintf("%s/api/health", base);
	free(text);
	unsetenv("CURL_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");

	struct probe_req req = http_req(url);
	req.timeout_ms = 5000;
	double ms = run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	if (strncmp(r.error, "TLS: ", 5) != 0 || !strstr(r.error, "certificate"))
		fail_msg("verifying a self-signed certificate: %s", r.error);
	assert_non_null(strstr(r.error, "self-signed"));
	assert_true(ms < 2000);
	assert_int_equal(r.sample->u.obj.n, 2);
	assert_string_equal(str(r.sample, "error"), r.error);
	result_free(&r);

	req.insecure = 1;
	run_probe(&probe_http_ops, &req, &r);
	if (r.error)
		fail_msg("insecure: %s", r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	assert_verdict("json.status == \"ok\"", r.sample, RBC_VERDICT_PASS, NULL);
	result_free(&r);

	req.insecure = 0;
	setenv("CURL_CA_BUNDLE", ca, 1);
	run_probe(&probe_http_ops, &req, &r);
	unsetenv("CURL_CA_BUNDLE");
	if (r.error)
		fail_msg("with CURL_CA_BUNDLE: %s", r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	result_free(&r);

	setenv("SSL_CERT_FILE", ca, 1);
	run_probe(&probe_http_ops, &req, &r);
	unsetenv("SSL_CERT_FILE");
	if (r.error)
		fail_msg("with SSL_CERT_FILE: %s", r.error);
	assert_int_equal((int)num(r.sample, "status"), 200);
	result_free(&r);

	/* Back to the default trust: refused again (no connection kept from before). */
	run_probe(&probe_http_ops, &req, &r);
	assert_non_null(r.error);
	assert_int_equal(strncmp(r.error, "TLS: ", 5), 0);
	result_free(&r);
	free(url);

	cmd = xasprintf("tests/services/stop '%s' tls >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# tests/services/stop failed\n");
	free(cmd);
	free(base);
	free(ca);
}

/* ---- prometheus, the real one ---- */

static void test_prom_real(void **state)
{
	(void)state;
	char dir[80], *cmd, *env, *url = NULL;
	size_t len;
	struct result r = {0};

	if (system("command -v prometheus >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	snprintf(dir, sizeof dir, "%s/services", tmpdir);
	cmd = xasprintf("mkdir -p '%s' && tests/services/start '%s' fixture prometheus >'%s.log' 2>&1",
	                dir, dir, dir);
	int rc = system(cmd);
	free(cmd);
	if (rc != 0)
		fail_msg("tests/services/start failed; see %s.log", dir);
	env = xasprintf("%s/env", dir);
	char *text = read_file(env, 1 << 16, &len);
	free(env);
	assert_non_null(text);
	char *at = strstr(text, "PROM_URL=");
	assert_non_null(at);
	url = xstrndup(at + 9, strcspn(at + 9, "\n"));
	free(text);

	/* The fixture's own /metrics scrapes show up after a scrape or two. */
	struct probe_req req = prom_req(url, "http_requests_total");
	for (int i = 0; i < 40; i++) {
		run_probe(&probe_prometheus_ops, &req, &r);
		if (r.error || field(r.sample, "value"))
			break;
		result_free(&r);
		nap_ms(250);
	}
	cmd = xasprintf("tests/services/stop '%s' >/dev/null 2>&1", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# tests/services/stop failed\n");
	free(cmd);
	free(url);
	if (r.error)
		fail_msg("prometheus: %s", r.error);
	assert_non_null(r.sample);
	assert_string_equal(str(r.sample, "resultType"), "vector");
	assert_true(num(r.sample, "value") >= 1);
	const struct rbc_value *series = field(r.sample, "series");
	assert_true(series->u.list.n >= 1);
	const struct rbc_value *metric = field(series->u.list.v[0], "metric");
	assert_string_equal(str(metric, "__name__"), "http_requests_total");
	assert_string_equal(str(metric, "job"), "fixture");
	assert_verdict("value >= 1", r.sample, RBC_VERDICT_PASS, NULL);
	result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_status_json_headers),
		cmocka_unit_test(test_body_not_json),
		cmocka_unit_test(test_repeated_headers_joined),
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_post_json),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_slow_body),
		cmocka_unit_test(test_proxy_env),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dns_failure),
		cmocka_unit_test(test_bad_scheme_and_start_errors),
		cmocka_unit_test(test_max_body),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_twice_and_url_password),
		cmocka_unit_test(test_prom_vector),
		cmocka_unit_test(test_prom_scalar),
		cmocka_unit_test(test_prom_empty),
		cmocka_unit_test(test_prom_nan_inf),
		cmocka_unit_test(test_prom_errors),
		cmocka_unit_test(test_prom_cancel),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_prom_real),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * test_probe_net.c — the dns, tcp and sql probes on a real libuv loop,
 * against loopback servers only: a uv tcp server started here, and a
 * PostgreSQL 15 started by tests/services/start for the sql group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "../../src/probe/core.h"
#include "../../src/probe/internal.h"
#include "rbc/probe.h"
#include "rbc/value.h"

/* What one probe delivered. */
struct result {
	int calls;
	struct rbc_value *sample;
	char *error;
};

static uv_loop_t loop;

static void on_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct result *r = ud;
	r->calls++;
	r->sample = sample;
	r->error = error ? strdup(error) : NULL;
}

static void result_clear(struct result *r)
{
	value_free(r->sample);
	free(r->error);
	memset(r, 0, sizeof *r);
}

static struct probe_req base_req(enum rb_action a, struct result *r)
{
	struct probe_req q;
	memset(&q, 0, sizeof q);
	q.loop = &loop;
	q.action = a;
	q.on_done = on_done;
	q.ud = r;
	return q;
}

/* Runs the loop until r has its sample; returns the milliseconds it took. */
static double wait_for(struct result *r)
{
	uint64_t t0 = uv_hrtime();
	while (r->calls == 0)
		uv_run(&loop, UV_RUN_ONCE);
	return (double)(uv_hrtime() - t0) / 1e6;
}

/* Starts a probe and waits for its sample; returns the elapsed ms. */
static double run_probe(const struct probe_ops *ops, const struct probe_req *q)
{
	struct rbc_error err = {0};
	struct probe *p = ops->start(q, &err);
	if (!p)
		fail_msg("start failed: %s", err.msg ? err.msg : "?");
	assert_int_equal(((struct result *)q->ud)->calls, 0); /* never from start */
	double ms = wait_for(q->ud);
	assert_int_equal(((struct result *)q->ud)->calls, 1);
	return ms;
}

static const struct rbc_value *field(const struct result *r, const char *k)
{
	return value_obj_get(r->sample, k);
}

static void assert_has_time(const struct result *r)
{
	const struct rbc_value *t = field(r, "time");
	assert_non_null(t);
	assert_int_equal(t->type, VALUE_NUM);
	assert_int_equal(t->u.num.dim, RBC_DIM_TIME);
	assert_true(t->u.num.v >= 0);
}

static bool list_has(const struct rbc_value *l, const char *s)
{
	if (!l || l->type != VALUE_LIST)
		return false;
	for (size_t i = 0; i < l->u.list.n; i++)
		if (l->u.list.v[i]->type == VALUE_STR && strcmp(l->u.list.v[i]->u.str.s, s) == 0)
			return true;
	return false;
}

static int loop_setup(void **state)
{
	(void)state;
	return uv_loop_init(&loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Every probe must have released the loop: closing it fails otherwise. */
static int loop_teardown(void **state)
{
	(void)state;
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop);
}

/* ---- dns ---------------------------------------------------------------- */

static void test_dns_localhost(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	q.host = "localhost";
	q.dns_type = "A";
	run_probe(&probe_dns_ops, &q);
	assert_null(r.error);
	assert_has_time(&r);
	assert_true(list_has(field(&r, "addrs"), "127.0.0.1"));
	assert_null(field(&r, "error"));
	result_clear(&r);
}

/* True when the system resolver maps localhost to ::1 at all. */
static bool system_has_ipv6_localhost(void)
{
	struct addrinfo hints = {.ai_family = AF_INET6, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo("localhost", NULL, &hints, &res) != 0)
		return false;
	freeaddrinfo(res);
	return true;
}

static void test_dns_localhost_aaaa(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	q.host = "localhost";
	q.dns_type = "AAAA";
	run_probe(&probe_dns_ops, &q);
	assert_has_time(&r);
	if (!system_has_ipv6_localhost()) {
		/* no ::1 for localhost here: the probe must agree with the system */
		assert_non_null(r.error);
		assert_non_null(strstr(r.error, "localhost"));
		const struct rbc_value *a = field(&r, "addrs");
		assert_true(!a || a->u.list.n == 0);
		result_clear(&r);
		return;
	}
	assert_null(r.error);
	assert_true(list_has(field(&r, "addrs"), "::1"));
	assert_false(list_has(field(&r, "addrs"), "127.0.0.1"));
	result_clear(&r);
}

static void test_dns_not_found(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	q.host = "no-such-host.invalid";
	q.dns_type = "any";
	run_probe(&probe_dns_ops, &q);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "no-such-host.invalid"));
	assert_has_time(&r);
	const struct rbc_value *e = field(&r, "error");
	assert_non_null(e);
	assert_string_equal(e->u.str.s, r.error);
	result_clear(&r);
}

static void test_dns_bad_type(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	struct rbc_error err = {0};
	q.host = "localhost";
	q.dns_type = "MX";
	assert_null(probe_dns_ops.start(&q, &err));
	assert_non_null(strstr(err.msg, "MX"));
	rbc_error_clear(&err);
	assert_int_equal(r.calls, 0);
}

/* Keeps a thread-pool thread busy, so lookups queue behind it. */
static int busy_left;

static void busy_work(uv_work_t *w)
{
	(void)w;
	usleep(700 * 1000);
}

static void busy_done(uv_work_t *w, int status)
{
	(void)status;
	free(w);
	busy_left--;
}

/* Occupies every pool thread (UV_THREADPOOL_SIZE=4, set in main) for 700 ms. */
static void pool_fill(void)
{
	for (int i = 0; i < 4; i++) {
		busy_left++;
		uv_queue_work(&loop, malloc(sizeof(uv_work_t)), busy_work, busy_done);
	}
}

static void pool_drain(void)
{
	while (busy_left > 0)
		uv_run(&loop, UV_RUN_ONCE);
}

static void test_dns_timeout(void **state)
{
	(void)state;
	/* every pool thread is busy: the lookup cannot run before the probe's
	   timer fires */
	pool_fill();
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	q.host = "localhost";
	q.timeout_ms = 100;
	double ms = run_probe(&probe_dns_ops, &q);
	assert_non_null(r.error);
	assert_string_equal(r.error, "timed out after 100ms");
	assert_true(ms < 600);
	assert_has_time(&r);
	assert_null(field(&r, "addrs"));
	result_clear(&r);
}

static void test_dns_cancel(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_DNS, &r);
	struct rbc_error err = {0};
	q.host = "localhost";
	struct probe *p = probe_dns_ops.start(&q, &err);
	assert_non_null(p);
	probe_dns_ops.cancel(p);
	assert_int_equal(r.calls, 0); /* on_done follows asynchronously */
	wait_for(&r);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.error, "cancelled");
	assert_has_time(&r);
	result_clear(&r);
}

/* ---- tcp ---------------------------------------------------------------- */

static uv_tcp_t *server;
static int accepted;

static void on_server_close(uv_handle_t *h)
{
	free(h);
}

static void on_connection(uv_stream_t *s, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *c = malloc(sizeof *c);
	uv_tcp_init(&loop, c);
	if (uv_accept(s, (uv_stream_t *)c) == 0)
		accepted++;
	uv_close((uv_handle_t *)c, on_server_close);
}

/* Starts a server on 127.0.0.1 and returns its port. */
static int server_start(void)
{
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof got;
	uv_ip4_addr("127.0.0.1", 0, &a);
	server = malloc(sizeof *server);
	assert_int_equal(uv_tcp_init(&loop, server), 0);
	assert_int_equal(uv_tcp_bind(server, (const struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)server, 16, on_connection), 0);
	assert_int_equal(uv_tcp_getsockname(server, (struct sockaddr *)&got, &len), 0);
	accepted = 0;
	return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void server_stop(void)
{
	uv_close((uv_handle_t *)server, on_server_close);
	server = NULL;
}

static void test_tcp_connect(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_TCP, &r);
	q.host = "127.0.0.1";
	q.port = server_start();
	q.timeout_ms = 5000;
	run_probe(&probe_tcp_ops, &q);
	assert_null(r.error);
	assert_has_time(&r);
	assert_string_equal(field(&r, "addr")->u.str.s, "127.0.0.1");
	result_clear(&r);
	while (accepted == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(accepted, 1);
	server_stop();
}

/* A name: every address is tried in order until one connects. */
static void test_tcp_connect_name(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_TCP, &r);
	q.host = "localhost";
	q.port = server_start();
	run_probe(&probe_tcp_ops, &q);
	assert_null(r.error);
	assert_string_equal(field(&r, "addr")->u.str.s, "127.0.0.1");
	result_clear(&r);
	server_stop();
}

/*
 * A cancel between the end of the attempt and its (deferred) delivery:
 * probe.h promises on_done with "cancelled" whenever cancel comes before
 * on_done, so the connected result is not delivered. A check handle runs
 * after the I/O callbacks of an iteration, where the connect completes, and
 * before the timers of the next one, where the delivery is due.
 */
static struct probe *late_probe;
static int late_cancels;

static void cancel_when_finished(uv_check_t *h)
{
	struct probe_core *c = (struct probe_core *)late_probe;
	if (!late_probe || !c->finished || c->delivered)
		return;
	probe_tcp_ops.cancel(late_probe);
	probe_tcp_ops.cancel(late_probe); /* a second cancel changes nothing */
	late_cancels++;
	late_probe = NULL;
	uv_check_stop(h);
}

static void test_core_cancel_after_finish(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_TCP, &r);
	struct rbc_error err = {0};
	static uv_check_t check; /* static: a failed assertion leaves it to loop_teardown */
	q.host = "127.0.0.1";
	q.port = server_start();
	q.timeout_ms = 5000;
	late_cancels = 0;
	late_probe = probe_tcp_ops.start(&q, &err);
	assert_non_null(late_probe);
	uv_check_init(&loop, &check);
	uv_check_start(&check, cancel_when_finished);
	wait_for(&r);
	uv_close((uv_handle_t *)&check, NULL);
	assert_int_equal(late_cancels, 1);
	assert_int_equal(r.calls, 1);
	if (!r.error || strcmp(r.error, "cancelled") != 0)
		fail_msg("on_done error: %s, want \"cancelled\"", r.error ? r.error : "none");
	assert_has_time(&r);
	assert_string_equal(field(&r, "error")->u.str.s, "cancelled");
	/* the connected result is gone with it: only time and error */
	assert_null(field(&r, "addr"));
	assert_int_equal(r.sample->u.obj.n, 2);
	result_clear(&r);
	server_stop();
	/* nothing else arrives later */
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 0);
}

/* A port nothing listens on: bound, then closed again. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_tcp_refused(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_TCP, &r);
	char want[64];
	q.host = "127.0.0.1";
	q.port = closed_port();
	q.timeout_ms = 5000;
	run_probe(&probe_tcp_ops, &q);
	snprintf(want, sizeof want, "connection refused (127.0.0.1:%d)", q.port);
	assert_non_null(r.error);
	assert_string_equal(r.error, want);
	assert_has_time(&r);
	assert_null(field(&r, "addr"));
	result_clear(&r);
}

static void test_tcp_bad_port(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_TCP, &r);
	struct rbc_error err = {0};
	q.host = "127.0.0.1";
	q.port = 70000;
	assert_null(probe_tcp_ops.start(&q, &err));
	assert_non_null(err.msg);
	rbc_error_clear(&err);
}

/*
 * A listener that never accepts, with its accept queue full: Linux drops
 * further SYNs, so a connect hangs until the probe's timer ends it.
 */
static void test_tcp_timeout(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fds[32], nfds = 0;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	bool full = false;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	while (nfds < 32 && !full) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		fds[nfds++] = fd;
		connect(fd, (struct sockaddr *)&a, sizeof a);
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		full = poll(&pf, 1, 200) == 0;
	}
	if (full) {
		struct result r = {0};
		struct probe_req q = base_req(RB_TCP, &r);
		q.host = "127.0.0.1";
		q.port = ntohs(a.sin_port);
		q.timeout_ms = 300;
		double ms = run_probe(&probe_tcp_ops, &q);
		assert_non_null(r.error);
		assert_string_equal(r.error, "timed out after 300ms");
		assert_true(ms >= 290 && ms < 2000);
		assert_has_time(&r);
		result_clear(&r);
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
	/* a kernel that completes every handshake cannot test this; Linux does not */
	assert_true(full);
}

/* ---- sql ---------------------------------------------------------------- */

static char pgdir[] = "/tmp/rbc-probe-net.XXXXXX";
static char *db_url;
static char pgport[16];

/* Starts PostgreSQL and takes its PG* variables into the environment. */
static int pg_setup(void **state)
{
	char cmd[512], line[1024];
	if (!mkdtemp(pgdir))
		return -1;
	snprintf(cmd, sizeof cmd, "tests/services/start %s postgres >&2", pgdir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "%s/env", pgdir);
	FILE *fp = fopen(cmd, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof line, fp)) {
		char *eq, *k = line;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		if (!(eq = strchr(k, '=')))
			continue;
		*eq = '\0';
		setenv(k, eq + 1, 1);
	}
	fclose(fp);
	if (!getenv("DATABASE_URL") || !getenv("PGPORT"))
		return -1;
	db_url = strdup(getenv("DATABASE_URL"));
	snprintf(pgport, sizeof pgport, "%s", getenv("PGPORT"));
	return loop_setup(state);
}

static int pg_teardown(void **state)
{
	char cmd[512];
	int rc = loop_teardown(state);
	snprintf(cmd, sizeof cmd, "tests/services/stop %s >&2; rm -rf %s", pgdir, pgdir);
	if (system(cmd) != 0)
		rc = -1;
	free(db_url);
	return rc;
}

/* Runs one query on conn (NULL: the PG* environment). */
static void sql(struct result *r, const char *conn, const char *query,
                const char *const *params, size_t nparams, int write, int64_t timeout)
{
	struct probe_req q = base_req(RB_SQL, r);
	q.conn = conn;
	q.query = query;
	q.params = params;
	q.nparams = nparams;
	q.write = write;
	q.timeout_ms = timeout;
	run_probe(&probe_sql_ops, &q);
	assert_has_time(r);
}

static double num_field(const struct result *r, const char *k)
{
	const struct rbc_value *v = field(r, k);
	if (!v || v->type != VALUE_NUM)
		fail_msg("%s is not a number (error: %s)", k, r->error ? r->error : "none");
	return v->u.num.v;
}

static void test_sql_count(void **state)
{
	(void)state;
	struct result r = {0};
	sql(&r, db_url, "select count(*) from jobs", NULL, 0, 0, 5000);
	assert_null(r.error);
	assert_true(num_field(&r, "value") == 3);
	assert_true(num_field(&r, "rows") == 1);
	assert_true(list_has(field(&r, "columns"), "count"));
	const struct rbc_value *row = field(&r, "row");
	assert_non_null(row);
	assert_true(value_obj_get(row, "count")->u.num.v == 3);
	result_clear(&r);
}

/* NULL conn: libpq's defaults from PGHOST, PGPORT, PGUSER, PGDATABASE. */
static void test_sql_env_defaults(void **state)
{
	(void)state;
	struct result r = {0};
	sql(&r, NULL, "select name, state from jobs order by id", NULL, 0, 0, 0);
	assert_null(r.error);
	assert_true(num_field(&r, "rows") == 3);
	assert_int_equal(field(&r, "value")->type, VALUE_STR);
	assert_string_equal(field(&r, "value")->u.str.s, "backup");
	const struct rbc_value *data = field(&r, "rows_data");
	assert_int_equal(data->u.list.n, 3);
	assert_string_equal(value_obj_get(data->u.list.v[2], "state")->u.str.s, "failed");
	assert_false(field(&r, "truncated")->u.b);
	result_clear(&r);
}

/* A host name is resolved through uv_getaddrinfo and given to libpq as hostaddr. */
static void test_sql_host_name(void **state)
{
	(void)state;
	struct result r = {0};
	char conn[256];
	snprintf(conn, sizeof conn, "host=localhost port=%s user=rbc dbname=rbc_test", pgport);
	sql(&r, conn, "select inet_server_addr()::text", NULL, 0, 0, 5000);
	assert_null(r.error);
	assert_non_null(strstr(field(&r, "value")->u.str.s, "127.0.0.1"));
	result_clear(&r);
}

/*
 * Proof that a conn's host name is looked up on the thread pool, not by
 * libpq on the loop thread: with every pool thread busy, the probe waits
 * (and times out) instead of connecting at once.
 */
static void assert_lookup_on_pool(const char *conn)
{
	struct result r = {0};
	pool_fill();
	sql(&r, conn, "select 1", NULL, 0, 0, 200);
	if (!r.error || strcmp(r.error, "timed out after 200ms") != 0)
		fail_msg("with the pool busy: %s, want a timeout", r.error ? r.error : "connected");
	result_clear(&r);
	pool_drain();
}

/* PGHOST from the environment, a name: resolved here too. */
static void test_sql_env_host_name(void **state)
{
	(void)state;
	struct result r = {0};
	char *old = strdup(getenv("PGHOST"));
	setenv("PGHOST", "localhost", 1);
	sql(&r, NULL, "select inet_server_addr()::text", NULL, 0, 0, 5000);
	assert_null(r.error);
	assert_non_null(strstr(field(&r, "value")->u.str.s, "127.0.0.1"));
	result_clear(&r);
	assert_lookup_on_pool(NULL);
	setenv("PGHOST", old, 1);
	free(old);
}

/*
 * service=NAME: the host comes from the service file (PGSERVICEFILE here),
 * and a name there is resolved here as well. Settings in the conn string
 * win over the file's.
 */
static void test_sql_service_file(void **state)
{
	(void)state;
	struct result r = {0};
	char path[512], conn[256];
	snprintf(path, sizeof path, "%s/pg_service.conf", pgdir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "# services for the sql tests\n"
	            "[other]\nhost=no-such-host.invalid\n\n"
	            "[rbc-test]\n  host=localhost\nport=%s\nuser=rbc\ndbname=rbc_test  \n"
	            "[rbc-wrong-port]\nhost=localhost\nport=1\nuser=rbc\ndbname=rbc_test\n",
	        pgport);
	fclose(fp);
	setenv("PGSERVICEFILE", path, 1);
	sql(&r, "service=rbc-test", "select inet_server_addr()::text || ' ' || current_user",
	    NULL, 0, 0, 5000);
	assert_null(r.error);
	assert_string_equal(field(&r, "value")->u.str.s, "127.0.0.1/32 rbc");
	result_clear(&r);
	snprintf(conn, sizeof conn, "service=rbc-wrong-port port=%s", pgport);
	sql(&r, conn, "select 1", NULL, 0, 0, 5000);
	assert_null(r.error);
	result_clear(&r);
	assert_lookup_on_pool("service=rbc-test");
	/* PGSERVICE works like service= */
	setenv("PGSERVICE", "rbc-test", 1);
	assert_lookup_on_pool("");
	unsetenv("PGSERVICE");
	/* an unknown service is libpq's error, and no lookup */
	sql(&r, "service=nope", "select 1", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "nope"));
	result_clear(&r);
	unsetenv("PGSERVICEFILE");
}

static void test_sql_params(void **state)
{
	(void)state;
	struct result r = {0};
	const char *params[] = {"2", "40"};
	sql(&r, db_url, "select $1::int + $2::int as sum", params, 2, 0, 5000);
	assert_null(r.error);
	assert_true(num_field(&r, "value") == 42);
	assert_true(value_obj_get(field(&r, "row"), "sum")->u.num.v == 42);
	result_clear(&r);
}

static void test_sql_null_param(void **state)
{
	(void)state;
	struct result r = {0};
	const char *params[] = {NULL, "x"};
	sql(&r, db_url, "select $1::int as a, $1::text is null as isnull, $2::text as b",
	    params, 2, 0, 5000);
	assert_null(r.error);
	assert_int_equal(field(&r, "value")->type, VALUE_NULL);
	const struct rbc_value *row = field(&r, "row");
	assert_int_equal(value_obj_get(row, "isnull")->type, VALUE_BOOL);
	assert_true(value_obj_get(row, "isnull")->u.b);
	assert_string_equal(value_obj_get(row, "b")->u.str.s, "x");
	result_clear(&r);
}

static void test_sql_injection_stays_value(void **state)
{
	(void)state;
	struct result r = {0};
	const char *p1[] = {"1; drop table jobs"};
	sql(&r, db_url, "select $1::text", p1, 1, 1, 5000);
	assert_null(r.error);
	assert_string_equal(field(&r, "value")->u.str.s, "1; drop table jobs");
	result_clear(&r);
	const char *p2[] = {"x' or '1'='1"};
	sql(&r, db_url, "select count(*) from jobs where name = $1", p2, 1, 1, 5000);
	assert_null(r.error);
	assert_true(num_field(&r, "value") == 0);
	result_clear(&r);
	sql(&r, db_url, "select count(*) from jobs", NULL, 0, 0, 5000);
	assert_null(r.error);
	assert_true(num_field(&r, "value") == 3);
	result_clear(&r);
}

/* A second statement cannot ride along (and so cannot leave the read-only transaction). */
static void test_sql_one_statement(void **state)
{
	(void)state;
	struct result r = {0};
	sql(&r, db_url, "commit; insert into jobs values (98, 'x', 'y')", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "SQLSTATE 42601"));
	result_clear(&r);
}

static void test_sql_read_only(void **state)
{
	(void)state;
	struct result r = {0};
	sql(&r, db_url, "insert into jobs values (99, 'probe', 'new')", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "(SQLSTATE 25006)"));
	assert_int_equal(strncmp(r.error, "sql: ", 5), 0);
	assert_string_equal(field(&r, "error")->u.str.s, r.error);
	result_clear(&r);

	sql(&r, db_url, "insert into jobs values (99, 'probe', 'new')", NULL, 0, 1, 5000);
	assert_null(r.error);
	assert_true(num_field(&r, "rows") == 1);
	result_clear(&r);
	sql(&r, db_url, "delete from jobs where id = 99", NULL, 0, 1, 0);
	assert_null(r.error);
	assert_true(num_field(&r, "rows") == 1);
	result_clear(&r);
}

static void test_sql_syntax_error(void **state)
{
	(void)state;
	struct result r = {0};
	sql(&r, db_url, "selec 1", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "syntax error"));
	assert_non_null(strstr(r.error, "(SQLSTATE 42601)"));
	assert_null(field(&r, "rows"));
	result_clear(&r);
}

static void test_sql_statement_timeout(void **state)
{
	(void)state;
	struct result r = {0};
	uint64_t t0 = uv_hrtime();
	sql(&r, db_url, "select pg_sleep(5)", NULL, 0, 0, 300);
	double ms = (double)(uv_hrtime() - t0) / 1e6;
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "57014"));
	assert_true(ms < 2000);
	result_clear(&r);
}

static void cancel_cb(uv_timer_t *t)
{
	probe_sql_ops.cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_sql_cancel(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_SQL, &r);
	struct rbc_error err = {0};
	static uv_timer_t t;
	q.conn = db_url;
	q.query = "select pg_sleep(5)";
	uint64_t t0 = uv_hrtime();
	t.data = probe_sql_ops.start(&q, &err);
	assert_non_null(t.data);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, cancel_cb, 200, 0);
	wait_for(&r);
	assert_string_equal(r.error, "cancelled");
	assert_true((double)(uv_hrtime() - t0) / 1e6 < 2000);
	result_clear(&r);
}

/* ---- cancelling on the server ---- */

static void nap_fired(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void nap_closed(uv_handle_t *h)
{
	*(bool *)h->data = true;
}

/* Runs the loop for ms (between two polls of a condition). */
static void loop_nap(uint64_t ms)
{
	uv_timer_t t;
	bool fired = false, closed = false;
	uv_timer_init(&loop, &t);
	t.data = &fired;
	uv_timer_start(&t, nap_fired, ms, 0);
	while (!fired)
		uv_run(&loop, UV_RUN_ONCE);
	t.data = &closed;
	uv_close((uv_handle_t *)&t, nap_closed);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
}

/* The number a count(*) query gives, through the probe itself. */
static double pg_count(const char *query)
{
	struct result r = {0};
	sql(&r, db_url, query, NULL, 0, 0, 5000);
	if (r.error)
		fail_msg("%s: %s", query, r.error);
	double n = num_field(&r, "value");
	result_clear(&r);
	return n;
}

/* Polls a count(*) query until it gives want, for ms at most; returns the last count. */
static double poll_count(const char *query, double want, int ms)
{
	uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
	double n;
	while ((n = pg_count(query)) != want && uv_hrtime() < deadline)
		loop_nap(50);
	return n;
}

/* Sessions other than the asking one whose current or last statement has mark. */
static char *sessions_query(const char *mark, bool active_only)
{
	char *q = NULL;
	if (asprintf(&q, "select count(*) from pg_stat_activity where pid <> pg_backend_pid()"
	                 " and query like '%%%s%%'%s", mark,
	             active_only ? " and state = 'active'" : "") < 0)
		abort();
	return q;
}

/*
 * Starts query, waits until the server runs it, cancels the probe, and
 * checks that the server stops it soon after: closing the connection alone
 * would leave the backend sleeping for 30 s.
 */
static void cancel_running(const char *query, const char *mark, int write)
{
	struct result r = {0};
	struct probe_req q = base_req(RB_SQL, &r);
	struct rbc_error err = {0};
	char *active = sessions_query(mark, true), *any = sessions_query(mark, false);
	q.conn = db_url;
	q.query = query;
	q.write = write;
	struct probe *p = probe_sql_ops.start(&q, &err);
	assert_non_null(p);
	if (poll_count(active, 1, 5000) != 1)
		fail_msg("the statement never ran (error: %s)", r.error ? r.error : "none");
	assert_int_equal(r.calls, 0);
	uint64_t t0 = uv_hrtime();
	probe_sql_ops.cancel(p);
	wait_for(&r);
	assert_non_null(r.error);
	assert_string_equal(r.error, "cancelled");
	assert_has_time(&r);
	result_clear(&r);
	double left = poll_count(any, 0, 5000);
	if (left != 0)
		fail_msg("the server still runs the cancelled statement after %.0f ms",
		         (double)(uv_hrtime() - t0) / 1e6);
	free(active);
	free(any);
}

static void test_sql_cancel_stops_server(void **state)
{
	(void)state;
	cancel_running("select pg_sleep(30) /* rbc-cancel-read */", "rbc-cancel-read", 0);
}

/* A write cancelled mid-statement does not commit later. */
static void test_sql_cancel_write_rolls_back(void **state)
{
	(void)state;
	cancel_running("with ins as (insert into jobs values (97, 'cancelled', 'new') returning id)"
	               " select id, pg_sleep(30) from ins /* rbc-cancel-write */",
	               "rbc-cancel-write", 1);
	assert_true(pg_count("select count(*) from jobs where id = 97") == 0);
}

/* A write that times out leaves no row behind, and no statement running. */
static void test_sql_timeout_write_no_row(void **state)
{
	(void)state;
	struct result r = {0};
	char *any = sessions_query("rbc-timeout-write", false);
	sql(&r, db_url, "with ins as (insert into jobs values (96, 'late', 'new') returning id)"
	                " select id, pg_sleep(5) from ins /* rbc-timeout-write */",
	    NULL, 0, 1, 500);
	assert_non_null(r.error);
	assert_true(strstr(r.error, "57014") || strstr(r.error, "timed out after 500ms"));
	assert_true(num_field(&r, "time") < 2000);
	result_clear(&r);
	assert_true(poll_count(any, 0, 5000) == 0);
	assert_true(pg_count("select count(*) from jobs where id = 96") == 0);
	free(any);
}

static void test_sql_truncated(void **state)
{
	(void)state;
	struct result r = {0};
	struct probe_req q = base_req(RB_SQL, &r);
	q.conn = db_url;
	q.query = "select g, g * 1.5 as half from generate_series(1, 10) g";
	q.max_rows = 3;
	run_probe(&probe_sql_ops, &q);
	assert_null(r.error);
	assert_true(num_field(&r, "rows") == 10);
	assert_int_equal(field(&r, "rows_data")->u.list.n, 3);
	assert_true(field(&r, "truncated")->u.b);
	assert_true(value_obj_get(field(&r, "row"), "half")->u.num.v == 1.5);
	result_clear(&r);
}

static void test_sql_mask_and_long_timeout(void **state)
{
	(void)state;
	struct result r = {0};
	char conn[256];
	/* A password that its own mask contains: masking must still end. */
	snprintf(conn, sizeof conn, "host=127.0.0.1 port=%s user=rbc password=* dbname=rbc_test",
	         getenv("PGPORT"));
	sql(&r, conn, "select * * from jobs", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "(SQLSTATE 42601)"));
	assert_non_null(strstr(r.error, "\"****\""));
	result_clear(&r);
	/* A timeout longer than the server's statement_timeout range still runs. */
	sql(&r, db_url, "select 1", NULL, 0, 0, 30LL * 86400 * 1000);
	assert_null(r.error);
	result_clear(&r);
}

static void test_sql_connection_failed(void **state)
{
	(void)state;
	struct result r = {0};
	char conn[256];
	snprintf(conn, sizeof conn,
	         "host=127.0.0.1 port=%d user=rbc password=supersecret dbname=rbc_test", closed_port());
	sql(&r, conn, "select 1", NULL, 0, 0, 5000);
	assert_non_null(r.error);
	assert_int_equal(strncmp(r.error, "sql: connection failed: ", 24), 0);
	assert_null(strstr(r.error, "supersecret"));
	assert_null(strchr(r.error, '\n'));
	result_clear(&r);

	/* a host name that does not resolve */
	sql(&r, "host=no-such-host.invalid user=rbc dbname=rbc_test", "select 1", NULL, 0, 0, 10000);
	assert_non_null(r.error);
	assert_string_equal(r.error, "sql: connection failed: name not found: no-such-host.invalid");
	result_clear(&r);

	struct rbc_error err = {0};
	struct probe_req q = base_req(RB_SQL, &r);
	q.conn = "host=127.0.0.1 password=supersecret 'broken";
	q.query = "select 1";
	assert_null(probe_sql_ops.start(&q, &err));
	assert_null(strstr(err.msg, "supersecret"));
	rbc_error_clear(&err);
}

#define NCONC 24

static void test_sql_concurrent(void **state)
{
	(void)state;
	struct result r[NCONC];
	char arg[NCONC][16];
	const char *params[NCONC][1];
	struct rbc_error err = {0};
	memset(r, 0, sizeof r);
	for (int i = 0; i < NCONC; i++) {
		struct probe_req q = base_req(RB_SQL, &r[i]);
		snprintf(arg[i], sizeof arg[i], "%d", i);
		params[i][0] = arg[i];
		q.conn = i % 2 ? db_url : NULL;
		q.query = "select $1::int * 2, pg_sleep(0.2)";
		q.params = params[i];
		q.nparams = 1;
		q.timeout_ms = 10000;
		assert_non_null(probe_sql_ops.start(&q, &err));
	}
	uint64_t t0 = uv_hrtime();
	for (int i = 0; i < NCONC; i++)
		wait_for(&r[i]);
	/* all at once: far less than NCONC × 200 ms */
	assert_true((double)(uv_hrtime() - t0) / 1e6 < NCONC * 200 / 2);
	for (int i = 0; i < NCONC; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_null(r[i].error);
		assert_true(num_field(&r[i], "value") == 2 * i);
		result_clear(&r[i]);
	}
}

int main(void)
{
	setenv("UV_THREADPOOL_SIZE", "4", 1);
	const struct CMUnitTest net[] = {
		cmocka_unit_test(test_dns_localhost),
		cmocka_unit_test(test_dns_localhost_aaaa),
		cmocka_unit_test(test_dns_not_found),
		cmocka_unit_test(test_dns_bad_type),
		cmocka_unit_test(test_dns_timeout),
		cmocka_unit_test(test_dns_cancel),
		cmocka_unit_test(test_tcp_connect),
		cmocka_unit_test(test_tcp_connect_name),
		cmocka_unit_test(test_core_cancel_after_finish),
		cmocka_unit_test(test_tcp_refused),
		cmocka_unit_test(test_tcp_bad_port),
		cmocka_unit_test(test_tcp_timeout),
	};
	const struct CMUnitTest pg[] = {
		cmocka_unit_test(test_sql_count),
		cmocka_unit_test(test_sql_env_defaults),
		cmocka_unit_test(test_sql_host_name),
		cmocka_unit_test(test_sql_env_host_name),
		cmocka_unit_test(test_sql_service_file),
		cmocka_unit_test(test_sql_params),
		cmocka_unit_test(test_sql_null_param),
		cmocka_unit_test(test_sql_injection_stays_value),
		cmocka_unit_test(test_sql_one_statement),
		cmocka_unit_test(test_sql_read_only),
		cmocka_unit_test(test_sql_syntax_error),
		cmocka_unit_test(test_sql_statement_timeout),
		cmocka_unit_test(test_sql_cancel),
		cmocka_unit_test(test_sql_cancel_stops_server),
		cmocka_unit_test(test_sql_cancel_write_rolls_back),
		cmocka_unit_test(test_sql_timeout_write_no_row),
		cmocka_unit_test(test_sql_truncated),
		cmocka_unit_test(test_sql_connection_failed),
		cmocka_unit_test(test_sql_mask_and_long_timeout),
		cmocka_unit_test(test_sql_concurrent),
	};
	int failed = cmocka_run_group_tests_name("probe_net", net, loop_setup, loop_teardown);
	failed += cmocka_run_group_tests_name("probe_sql", pg, pg_setup, pg_teardown);
	return failed;
}

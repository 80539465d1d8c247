/*
 * test_probe_cmd.c — the run and nagios probes on a real libuv loop: exit
 * codes, separate streams, environment and cwd, the output ring and spool,
 * timeouts that kill the whole process group, grandchildren holding pipes,
 * cancel, spawn failures, Nagios states and perfdata, many jobs at once,
 * secrets masked in on_output and the spool (not in the sample), a spool
 * that hangs, a spool file only for a command that prints, and what the
 * child starts with (default signals, empty mask, its own session, stdin
 * /dev/null) whatever the parent's state.
 *
 * The tests about spawning run twice: with posix_spawn and a pidfd, and
 * with the uv_spawn fallback (RBC_TEST_UV_SPAWN=1).
 *
 * The test process is a child subreaper, so orphaned members of a killed
 * group come back to it and can be reaped before checking that the group
 * is gone (a zombie still answers kill(-pgid, 0)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "rbc/mask.h"
#include "rbc/probe.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "../../src/probe/internal.h"

/* What one probe reported. */
struct res {
	struct rbc_value *sample;
	char *error;
	int ndone;
	struct strbuf out[2];  /* on_output, per stream */
	uint64_t t_done;
};

static void res_free(struct res *r)
{
	value_free(r->sample);
	free(r->error);
	sb_free(&r->out[0]);
	sb_free(&r->out[1]);
	memset(r, 0, sizeof *r);
}

static void on_output(void *ud, enum probe_stream stream, const char *data, size_t len)
{
	struct res *r = ud;
	assert_true(stream == PROBE_STDOUT || stream == PROBE_STDERR);
	assert_int_equal(r->ndone, 0);
	sb_add(&r->out[stream == PROBE_STDERR], data, len);
}

static void on_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct res *r = ud;
	r->ndone++;
	r->sample = sample;
	r->error = error ? xstrdup(error) : NULL;
	r->t_done = uv_hrtime();
}

static void req_init(struct probe_req *req, uv_loop_t *loop, const char *command, struct res *r)
{
	memset(req, 0, sizeof *req);
	req->loop = loop;
	req->action = RB_RUN;
	req->command = command;
	req->on_output = on_output;
	req->on_done = on_done;
	req->ud = r;
	req->spool_dir = -1;
}

/* Spools req's output to path, opened in its directory as the engine
   hands the run's out/ (the probe opens the file by its last name). The
   directory stays open until spool_done. */
static void spool_at(struct probe_req *req, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash && slash > path ? xstrndup(path, (size_t)(slash - path)) : xstrdup("/");
	req->spool_path = path;
	req->spool_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
}

static void spool_done(struct probe_req *req)
{
	if (req->spool_dir >= 0)
		close(req->spool_dir);
	req->spool_dir = -1;
}

/* Runs one probe to completion on a fresh loop; returns the wall time in ms. */
static double run_probe(const struct probe_ops *ops, struct probe_req *req, struct res *r)
{
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	req->loop = &loop;
	struct rbc_error err = {0};
	uint64_t t0 = uv_hrtime();
	struct probe *p = ops->start(req, &err);
	assert_non_null(p);
	assert_int_equal(r->ndone, 0); /* never from inside start */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r->ndone, 1);
	assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
	req->loop = NULL;
	spool_done(req);
	return (double)(uv_hrtime() - t0) / 1e6;
}

static const struct rbc_value *field(const struct res *r, const char *key)
{
	assert_non_null(r->sample);
	assert_int_equal(r->sample->type, VALUE_OBJ);
	return value_obj_get(r->sample, key);
}

static double num_field(const struct res *r, const char *key, enum rbc_dim dim)
{
	const struct rbc_value *v = field(r, key);
	if (!v || v->type != VALUE_NUM)
		fail_msg("field %s is not a number", key);
	assert_int_equal(v->u.num.dim, dim);
	return v->u.num.v;
}

static const char *str_field(const struct res *r, const char *key, size_t *len)
{
	const struct rbc_value *v = field(r, key);
	if (!v || v->type != VALUE_STR)
		fail_msg("field %s is not text", key);
	if (len)
		*len = v->u.str.len;
	return v->u.str.s;
}

static bool bool_field(const struct res *r, const char *key)
{
	const struct rbc_value *v = field(r, key);
	if (!v || v->type != VALUE_BOOL)
		fail_msg("field %s is not a boolean", key);
	return v->u.b;
}

/* A fresh temporary directory (caller frees the path). */
static char *tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/rbc-cmdtest.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static void tmpdir_free(char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

/* Parses the decimal number the command printed first on stderr ($$). */
static int pid_from(const struct res *r)
{
	const char *s = sb_borrow(&r->out[1]);
	long v = strtol(s, NULL, 10);
	assert_true(v > 1 && v < INT_MAX);
	return (int)v;
}

/* Polls (on a loop timer) until no process is left in group pgid. */
struct gone {
	int pgid;
	int ticks;
	bool gone;
};

static void gone_tick(uv_timer_t *t)
{
	struct gone *g = t->data;
	while (waitpid(-g->pgid, NULL, WNOHANG) > 0)
		;
	if ((kill(-g->pgid, 0) == -1 && errno == ESRCH) || ++g->ticks > 150) {
		g->gone = kill(-g->pgid, 0) == -1 && errno == ESRCH;
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
	}
}

static void assert_group_gone(int pgid)
{
	uv_loop_t loop;
	uv_timer_t t;
	struct gone g = {.pgid = pgid};
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_timer_init(&loop, &t);
	t.data = &g;
	uv_timer_start(&t, gone_tick, 0, 20);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	if (!g.gone)
		fail_msg("process group %d still has members", pgid);
}

static void test_exit_and_streams(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "printf 'to out'; printf 'to err' >&2; exit 3", &r);
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_null(field(&r, "error"));
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 3);
	assert_string_equal(str_field(&r, "stdout", NULL), "to out");
	assert_string_equal(str_field(&r, "stderr", NULL), "to err");
	assert_string_equal(sb_borrow(&r.out[0]), "to out");
	assert_string_equal(sb_borrow(&r.out[1]), "to err");
	assert_int_equal(num_field(&r, "stdout_bytes", RBC_DIM_SIZE), 6);
	assert_false(bool_field(&r, "stdout_truncated"));
	assert_false(bool_field(&r, "stderr_truncated"));
	assert_null(field(&r, "signal"));
	double t = num_field(&r, "time", RBC_DIM_TIME);
	assert_true(t > 0 && t < 10000);
	res_free(&r);

	/* stdin is /dev/null: a command reading it never steals the terminal. */
	req_init(&req, NULL, "cat; echo \"rest $?\"", &r);
	req.timeout_ms = 5000;
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	assert_string_equal(str_field(&r, "stdout", NULL), "rest 0\n");
	res_free(&r);

	/* A death by signal has no exit code but names the signal. */
	req_init(&req, NULL, "kill -USR1 $$", &r);
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal(field(&r, "exit")->type, VALUE_NULL);
	assert_string_equal(str_field(&r, "signal", NULL), "SIGUSR1");
	res_free(&r);
}

static void test_env_is_not_code(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *pwned = xasprintf("%s/pwned", dir);
	char *val = xasprintf("$(touch %s)`touch %s`;touch %s", pwned, pwned, pwned);
	char *keys[] = {(char *)"X", (char *)"CMDTEST_OVERRIDE", (char *)"RBC_GIVEN"};
	char *vals[] = {val, (char *)"step", (char *)"by the runbook"};
	struct rb_kv env = {keys, vals, 3};
	setenv("CMDTEST_PARENT", "from parent", 1);
	setenv("CMDTEST_OVERRIDE", "parent", 1);
	/* rbc's own settings are not the step's: only what the step is given. */
	setenv("RBC_DATABASE_URL", "postgresql://rbc:pw@127.0.0.1:1/x", 1);
	setenv("RBC_GIVEN", "rbc's", 1);

	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL,
	         "printf %s \"$X\"; printf '|%s|%s|%s|%s' \"$CMDTEST_PARENT\" \"$CMDTEST_OVERRIDE\" "
	         "\"${RBC_DATABASE_URL-unset}\" \"$RBC_GIVEN\"",
	         &r);
	req.env = &env;
	run_probe(&probe_run_ops, &req, &r);
	char *want = xasprintf("%s|from parent|step|unset|by the runbook", val);
	assert_string_equal(str_field(&r, "stdout", NULL), want);
	struct stat st;
	assert_int_equal(stat(pwned, &st), -1);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	res_free(&r);
	free(want);
	free(val);
	free(pwned);
	tmpdir_free(dir);
	unsetenv("CMDTEST_PARENT");
	unsetenv("CMDTEST_OVERRIDE");
	unsetenv("RBC_DATABASE_URL");
	unsetenv("RBC_GIVEN");
}

static void test_cwd(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *real = realpath(dir, NULL);
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "pwd -P", &r);
	req.cwd = dir;
	run_probe(&probe_run_ops, &req, &r);
	char *want = xasprintf("%s\n", real);
	assert_string_equal(str_field(&r, "stdout", NULL), want);
	res_free(&r);
	free(want);
	free(real);
	tmpdir_free(dir);
}

/* 10 MiB through the ring, on_output and the spool, masked with m (which
   holds back at most hold bytes of a stream). */
static void big_output_once(const struct mask *m, size_t hold)
{
	const size_t total = 10 * 1024 * 1024;
	const char pattern[] = "0123456789abcdef\n"; /* yes prints this line */
	char *dir = tmpdir_new();
	char *spool = xasprintf("%s/spool", dir);
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "yes 0123456789abcdef | head -c 10485760; printf E >&2", &r);
	spool_at(&req, spool);
	req.mask = m;
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	size_t len;
	const char *out = str_field(&r, "stdout", &len);
	assert_int_equal(len, 64 * 1024);
	for (size_t i = 0; i < len; i++) {
		size_t off = total - len + i;
		if (out[i] != pattern[off % 17])
			fail_msg("byte %zu of the kept tail is wrong", i);
	}
	assert_true(bool_field(&r, "stdout_truncated"));
	assert_false(bool_field(&r, "stderr_truncated"));
	assert_int_equal(num_field(&r, "stdout_bytes", RBC_DIM_SIZE), total);
	assert_string_equal(str_field(&r, "stderr", NULL), "E");
	assert_int_equal(r.out[0].len, total); /* every chunk was forwarded */
	assert_null(field(&r, "spool_error"));
	struct stat st;
	assert_int_equal(stat(spool, &st), 0);
	assert_int_equal(st.st_size, total + 1);
	/* In order, nothing lost or doubled: the spool is written chunk by chunk. */
	size_t slen;
	char *all = read_file(spool, total + 16, &slen);
	assert_non_null(all);
	assert_int_equal(slen, total + 1);
	/*
	 * stderr's "E" comes after stdout's bytes, except that a mask may still
	 * hold back the end of stdout (a possible start of a secret) when it
	 * arrives: then it lands within those last bytes.
	 */
	const char *e = memchr(all, 'E', slen);
	assert_non_null(e);
	size_t epos = (size_t)(e - all);
	assert_true(epos == total || (m && epos >= total - hold));
	memmove(all + epos, all + epos + 1, slen - epos - 1);
	for (size_t i = 0; i < total; i++) {
		if (all[i] != pattern[i % 17])
			fail_msg("spool byte %zu is wrong", i);
	}
	assert_memory_equal(all, r.out[0].s, total); /* on_output saw the same */
	free(all);
	res_free(&r);
	free(spool);
	tmpdir_free(dir);
}

static void test_big_output_ring_and_spool(void **state)
{
	(void)state;
	big_output_once(NULL, 0);
	/* Secrets that almost occur everywhere (held back at the end of most
	   reads, then let go): still every byte arrives, in order. */
	struct mask *m = mask_new();
	mask_add(m, "f\n0123X");
	mask_add(m, "9abcdef\n0123456789abcdef\n0123456789abcdefX");
	big_output_once(m, 42);
	mask_free(m);
}

/* A spool that cannot keep up: a FIFO nobody reads until the check. */
struct slow_spool {
	struct res *r;
	uv_pipe_t reader;
	uv_timer_t check;
	char buf[65536];
	size_t spooled;
	size_t seen_at_check;
};

static void slow_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct slow_spool *s = h->data;
	(void)suggested;
	*buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void slow_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct slow_spool *s = st->data;
	(void)buf;
	if (n > 0)
		s->spooled += (size_t)n;
	else if (n < 0)
		uv_close((uv_handle_t *)st, NULL);
}

static void slow_check(uv_timer_t *t)
{
	struct slow_spool *s = t->data;
	s->seen_at_check = s->r->out[0].len;
	uv_close((uv_handle_t *)t, NULL);
	uv_read_start((uv_stream_t *)&s->reader, slow_alloc, slow_read);
}

static void test_spool_backpressure(void **state)
{
	(void)state;
	const size_t total = 10 * 1024 * 1024;
	char *dir = tmpdir_new();
	char *fifo = xasprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);

	uv_loop_t loop;
	struct probe_req req;
	struct res r = {0};
	struct slow_spool s = {.r = &r};
	struct rbc_error err = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	uv_pipe_init(&loop, &s.reader, 0);
	s.reader.data = &s;
	assert_int_equal(uv_pipe_open(&s.reader, rfd), 0);
	uv_timer_init(&loop, &s.check);
	s.check.data = &s;
	uv_timer_start(&s.check, slow_check, 500, 0);

	req_init(&req, &loop, "head -c 10485760 /dev/zero", &r);
	spool_at(&req, fifo);
	assert_non_null(probe_run_ops.start(&req, &err));
	uv_run(&loop, UV_RUN_DEFAULT);
	spool_done(&req);
	assert_int_equal(r.ndone, 1);
	/* While the spool was stuck, reading paused: memory stayed bounded. */
	assert_true(s.seen_at_check > 0);
	assert_true(s.seen_at_check < 4 * 1024 * 1024);
	assert_int_equal(r.out[0].len, total);
	assert_int_equal(s.spooled, total);
	assert_null(field(&r, "spool_error"));
	assert_int_equal(uv_loop_close(&loop), 0);
	res_free(&r);
	free(fifo);
	tmpdir_free(dir);
}

static void test_small_ring(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "printf 0123456789; printf abc; printf defghij; printf 0123456789 >&2", &r);
	req.keep_bytes = 10;
	run_probe(&probe_run_ops, &req, &r);
	assert_string_equal(str_field(&r, "stdout", NULL), "abcdefghij");
	assert_true(bool_field(&r, "stdout_truncated"));
	assert_int_equal(num_field(&r, "stdout_bytes", RBC_DIM_SIZE), 20);
	assert_string_equal(str_field(&r, "stderr", NULL), "0123456789");
	assert_false(bool_field(&r, "stderr_truncated"));
	res_free(&r);
}

static void test_spool_errors_are_not_fatal(void **state)
{
	(void)state;
	static const char *const paths[] = {"/nonexistent-rbc-dir/spool", "/dev/full"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(paths); i++) {
		struct probe_req req;
		struct res r = {0};
		req_init(&req, NULL, "echo hello", &r);
		spool_at(&req, paths[i]);
		run_probe(&probe_run_ops, &req, &r);
		assert_null(r.error);
		assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
		assert_string_equal(str_field(&r, "stdout", NULL), "hello\n");
		assert_non_null(strstr(str_field(&r, "spool_error", NULL), paths[i]));
		res_free(&r);
	}
}

static void test_timeout_kills_group(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "echo $$ >&2; sleep 30 & wait", &r);
	req.timeout_ms = 300;
	double ms = run_probe(&probe_run_ops, &req, &r);
	assert_true(ms >= 290 && ms < 5000);
	assert_string_equal(r.error, "timed out after 300ms");
	assert_string_equal(str_field(&r, "error", NULL), "timed out after 300ms");
	assert_int_equal(field(&r, "exit")->type, VALUE_NULL);
	assert_string_equal(str_field(&r, "signal", NULL), "SIGTERM");
	assert_true(num_field(&r, "time", RBC_DIM_TIME) >= 290);
	assert_group_gone(pid_from(&r));
	res_free(&r);

	req_init(&req, NULL, "echo $$ >&2; sleep 30", &r);
	req.timeout_ms = 1000;
	ms = run_probe(&probe_run_ops, &req, &r);
	assert_true(ms >= 990 && ms < 5000);
	assert_string_equal(r.error, "timed out after 1s");
	assert_group_gone(pid_from(&r));
	res_free(&r);
}

static void test_timeout_sigkill_after_grace(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	/* SIGTERM stays ignored across exec, so only SIGKILL ends this. */
	req_init(&req, NULL, "trap '' TERM; echo $$ >&2; sleep 30 & wait; sleep 30", &r);
	req.timeout_ms = 200;
	double ms = run_probe(&probe_run_ops, &req, &r);
	assert_true(ms >= 2100 && ms < 8000);
	assert_string_equal(r.error, "timed out after 200ms");
	assert_string_equal(str_field(&r, "signal", NULL), "SIGKILL");
	assert_group_gone(pid_from(&r));
	res_free(&r);
}

static void test_term_survivor_without_pipes_is_killed(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	/* The shell dies of SIGTERM at once and both pipes close, but a member
	   that ignores SIGTERM and writes nowhere lives on: it must be KILLed. */
	req_init(&req, NULL, "echo $$ >&2; (trap '' TERM; exec sleep 30) >/dev/null 2>&1", &r);
	req.timeout_ms = 300;
	run_probe(&probe_run_ops, &req, &r);
	assert_string_equal(r.error, "timed out after 300ms");
	assert_group_gone(pid_from(&r));
	res_free(&r);
}

static void test_grandchild_holds_pipe(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	/* The shell exits at once; the job ends only when the pipe closes. */
	req_init(&req, NULL, "(sleep 0.3; echo late) & echo early", &r);
	double ms = run_probe(&probe_run_ops, &req, &r);
	assert_true(ms >= 250);
	assert_null(r.error);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	assert_string_equal(str_field(&r, "stdout", NULL), "early\nlate\n");
	res_free(&r);

	/* A grandchild that never lets go: a short grace after the shell's
	   exit (the timeout no longer applies), then the group is killed. */
	req_init(&req, NULL, "echo $$ >&2; sleep 30 & exit 0", &r);
	req.timeout_ms = 300;
	ms = run_probe(&probe_run_ops, &req, &r);
	assert_true(ms < 5000);
	assert_null(r.error);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	assert_group_gone(pid_from(&r));
	res_free(&r);

	/* One that left the group (setsid): the pipes are closed by force. */
	req_init(&req, NULL, "setsid sleep 30 & echo $! >&2; exit 0", &r);
	req.timeout_ms = 200;
	ms = run_probe(&probe_run_ops, &req, &r);
	int escaped = pid_from(&r);
	kill(escaped, SIGKILL);
	assert_true(ms < 8000);
	assert_null(r.error);
	res_free(&r);
}

static void test_binary_output(void **state)
{
	(void)state;
	static const char want[] = "a\0b\377\376c\n\300";
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "printf 'a\\000b\\377\\376c\\n\\300'", &r);
	run_probe(&probe_run_ops, &req, &r);
	size_t len;
	const char *out = str_field(&r, "stdout", &len);
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(out, want, len);
	cJSON *j = value_to_json(r.sample);
	assert_non_null(j);
	cJSON_Delete(j);
	char *f = value_format(r.sample, 0);
	assert_non_null(f);
	free(f);
	res_free(&r);

	/* Nagios parses the same bytes without tripping over them. */
	req_init(&req, NULL, "printf 'OK \\000\\377 | a=1;\\000;2 \\377=3 b=2\\n'", &r);
	run_probe(&probe_nagios_ops, &req, &r);
	assert_int_equal(num_field(&r, "state", RBC_DIM_NONE), 0);
	const struct rbc_value *perf = field(&r, "perf");
	assert_non_null(perf);
	assert_non_null(value_obj_get(perf, "b"));
	res_free(&r);
}

struct cancel_ctx {
	const struct probe_ops *ops;
	struct probe *p;
};

static void cancel_tick(uv_timer_t *t)
{
	struct cancel_ctx *c = t->data;
	c->ops->cancel(c->p);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_timer_t t;
	struct probe_req req;
	struct res r = {0};
	struct rbc_error err = {0};
	assert_int_equal(uv_loop_init(&loop), 0);

	/* Cancelled while running. */
	req_init(&req, &loop, "echo $$ >&2; sleep 30 & sleep 30", &r);
	req.timeout_ms = 60000;
	uint64_t t0 = uv_hrtime();
	struct cancel_ctx c = {&probe_run_ops, probe_run_ops.start(&req, &err)};
	assert_non_null(c.p);
	uv_timer_init(&loop, &t);
	t.data = &c;
	uv_timer_start(&t, cancel_tick, 100, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.ndone, 1);
	assert_true((r.t_done - t0) / 1000000 < 5000);
	assert_string_equal(r.error, "cancelled");
	assert_string_equal(str_field(&r, "error", NULL), "cancelled");
	assert_group_gone(pid_from(&r));
	res_free(&r);

	/* Cancelled before the loop even ran: still reported asynchronously. */
	req_init(&req, &loop, "sleep 30", &r);
	struct probe *p = probe_run_ops.start(&req, &err);
	assert_non_null(p);
	probe_run_ops.cancel(p);
	assert_int_equal(r.ndone, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.ndone, 1);
	assert_string_equal(r.error, "cancelled");
	res_free(&r);

	/* Cancel beats a pending spawn failure. */
	req_init(&req, &loop, "true", &r);
	req.cwd = "/nonexistent-rbc-dir";
	p = probe_nagios_ops.start(&req, &err);
	assert_non_null(p);
	probe_nagios_ops.cancel(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.ndone, 1);
	assert_string_equal(r.error, "cancelled");
	res_free(&r);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_spawn_failure(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "echo never", &r);
	req.cwd = "/nonexistent-rbc-dir/sub";
	run_probe(&probe_run_ops, &req, &r);
	assert_string_equal(r.error, "cannot run in /nonexistent-rbc-dir/sub: no such file or directory");
	assert_string_equal(str_field(&r, "error", NULL), r.error);
	assert_true(num_field(&r, "time", RBC_DIM_TIME) >= 0);
	assert_null(field(&r, "exit"));
	assert_int_equal(r.out[0].len + r.out[1].len, 0);
	res_free(&r);

	/* A file where the directory should be. */
	char *dir = tmpdir_new();
	char *file = xasprintf("%s/file", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	req_init(&req, NULL, "echo never", &r);
	req.cwd = file;
	run_probe(&probe_run_ops, &req, &r);
	char *want = xasprintf("cannot run in %s: not a directory", file);
	assert_string_equal(r.error, want);
	free(want);
	res_free(&r);
	free(file);
	tmpdir_free(dir);

	/* No command at all: refused by start, no callback. */
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	req_init(&req, &loop, NULL, &r);
	struct rbc_error err = {0};
	assert_null(probe_run_ops.start(&req, &err));
	assert_non_null(err.msg);
	rbc_error_clear(&err);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.ndone, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_nagios_states(void **state)
{
	(void)state;
	static const struct { const char *cmd; int state; const char *name; } cases[] = {
		{"echo 'OK - fine'; exit 0", 0, "OK"},
		{"echo 'WARNING - meh'; exit 1", 1, "WARNING"},
		{"echo 'CRITICAL - bad'; exit 2", 2, "CRITICAL"},
		{"echo 'UNKNOWN - eh'; exit 3", 3, "UNKNOWN"},
		{"echo 'weird'; exit 4", 3, "UNKNOWN"},
		{"kill -9 $$", 3, "UNKNOWN"},
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(cases); i++) {
		struct probe_req req;
		struct res r = {0};
		req_init(&req, NULL, cases[i].cmd, &r);
		req.action = RB_NAGIOS;
		run_probe(&probe_nagios_ops, &req, &r);
		assert_null(r.error);
		assert_int_equal(num_field(&r, "state", RBC_DIM_NONE), cases[i].state);
		assert_string_equal(str_field(&r, "state_name", NULL), cases[i].name);
		if (i < 5)
			assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), i);
		res_free(&r);
	}
}

static void assert_perf(const struct rbc_value *perf, const char *label, double v, enum rbc_dim dim)
{
	const struct rbc_value *x = value_obj_get(perf, label);
	if (!x || x->type != VALUE_NUM)
		fail_msg("perf %s missing", label);
	assert_int_equal(x->u.num.dim, dim);
	if (x->u.num.v < v - 1e-9 || x->u.num.v > v + 1e-9)
		fail_msg("perf %s = %g, want %g", label, x->u.num.v, v);
}

static void test_nagios_perfdata(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL,
	         "echo \"DISK OK - free space: / 3326 MB |'time'=0.5s;1;2;0; 'size'=10KB "
	         "'load 1'=1.5;5;10 pct=50%;80:;@90 lat=250us hits=12c ms=7ms u=U "
	         "'it''s'=3 big=1.5e3 temp=21.5°C bad=abc comma=1,5 dots=1.2.3 =3 noeq "
	         "'unterminated=1 ;;; 'x'=\"; "
	         "echo 'long text line'; echo 'more | extra=4;;;0;100'; exit 1",
	         &r);
	req.action = RB_NAGIOS;
	run_probe(&probe_nagios_ops, &req, &r);
	assert_null(r.error);
	assert_int_equal(num_field(&r, "state", RBC_DIM_NONE), 1);
	assert_string_equal(str_field(&r, "state_name", NULL), "WARNING");
	assert_string_equal(str_field(&r, "output", NULL), "DISK OK - free space: / 3326 MB");
	const struct rbc_value *perf = field(&r, "perf");
	assert_non_null(perf);
	assert_int_equal(perf->type, VALUE_OBJ);
	assert_perf(perf, "time", 500, RBC_DIM_TIME);
	assert_perf(perf, "size", 10000, RBC_DIM_SIZE);
	assert_perf(perf, "load 1", 1.5, RBC_DIM_NONE);
	assert_perf(perf, "pct", 0.5, RBC_DIM_PERCENT);
	assert_perf(perf, "lat", 0.25, RBC_DIM_TIME);
	assert_perf(perf, "hits", 12, RBC_DIM_NONE);
	assert_perf(perf, "ms", 7, RBC_DIM_TIME);
	assert_perf(perf, "it's", 3, RBC_DIM_NONE);
	assert_perf(perf, "big", 1500, RBC_DIM_NONE);
	assert_perf(perf, "temp", 21.5, RBC_DIM_NONE);
	assert_null(value_obj_get(perf, "comma"));
	assert_null(value_obj_get(perf, "dots"));
	assert_perf(perf, "extra", 4, RBC_DIM_NONE);
	assert_int_equal(value_obj_get(perf, "u")->type, VALUE_MISSING);
	assert_null(value_obj_get(perf, "bad"));
	assert_null(value_obj_get(perf, ""));
	assert_null(value_obj_get(perf, "noeq"));
	assert_null(value_obj_get(perf, "x"));
	assert_int_equal(perf->u.obj.n, 12);

	const struct rbc_value *warn = field(&r, "perf_warn"), *crit = field(&r, "perf_crit");
	assert_non_null(warn);
	assert_non_null(crit);
	assert_string_equal(value_obj_get(warn, "time")->u.str.s, "1");
	assert_string_equal(value_obj_get(crit, "time")->u.str.s, "2");
	assert_string_equal(value_obj_get(warn, "load 1")->u.str.s, "5");
	assert_string_equal(value_obj_get(crit, "load 1")->u.str.s, "10");
	assert_string_equal(value_obj_get(warn, "pct")->u.str.s, "80:");
	assert_string_equal(value_obj_get(crit, "pct")->u.str.s, "@90");
	assert_null(value_obj_get(warn, "size"));
	assert_null(value_obj_get(warn, "extra"));
	res_free(&r);

	/* No perfdata at all. */
	req_init(&req, NULL, "printf 'PING OK'", &r);
	run_probe(&probe_nagios_ops, &req, &r);
	assert_string_equal(str_field(&r, "output", NULL), "PING OK");
	assert_int_equal(field(&r, "perf")->u.obj.n, 0);
	res_free(&r);
}

static void test_many_at_once(void **state)
{
	(void)state;
	enum { N = 20 };
	uv_loop_t loop;
	struct probe_req req;
	struct res r[N];
	struct rbc_error err = {0};
	memset(r, 0, sizeof r);
	assert_int_equal(uv_loop_init(&loop), 0);
	uint64_t t0 = uv_hrtime();
	for (int i = 0; i < N; i++) {
		req_init(&req, &loop, "sleep 0.2; echo \"$N\"", &r[i]);
		char n[16];
		snprintf(n, sizeof n, "%d", i);
		char *keys[] = {(char *)"N"}, *vals[] = {n};
		struct rb_kv env = {keys, vals, 1};
		req.env = &env;
		req.timeout_ms = 30000;
		assert_non_null(probe_run_ops.start(&req, &err));
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	double ms = (double)(uv_hrtime() - t0) / 1e6;
	assert_true(ms >= 190 && ms < 2000); /* serial would take 4 s */
	for (int i = 0; i < N; i++) {
		assert_int_equal(r[i].ndone, 1);
		assert_null(r[i].error);
		char want[16];
		snprintf(want, sizeof want, "%d\n", i);
		assert_string_equal(str_field(&r[i], "stdout", NULL), want);
		res_free(&r[i]);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Occurrences of needle in h[0..n). */
static size_t count_in(const char *h, size_t n, const char *needle)
{
	size_t k = 0, nl = strlen(needle);
	for (const char *p = h; (p = memmem(p, n - (size_t)(p - h), needle, nl)); p += nl)
		k++;
	return k;
}

static void test_secrets_masked(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *spool = xasprintf("%s/spool", dir);
	struct mask *m = mask_new();
	mask_add(m, "token");
	mask_add(m, "hunter2");
	struct probe_req req;
	struct res r = {0};
	/* Split across writes (and so across reads), and a prefix left at EOF. */
	req_init(&req, NULL,
	         "printf 'to'; sleep 0.05; printf 'ken\\n'; printf 'pw=hunter2\\n' >&2; "
	         "printf 'x tok'; sleep 0.05; printf 'enx'; sleep 0.05; printf 'end hunt'",
	         &r);
	spool_at(&req, spool);
	req.mask = m;
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_null(field(&r, "spool_error"));
	/* The sample keeps what was printed, for thresholds. */
	assert_string_equal(str_field(&r, "stdout", NULL), "token\nx tokenxend hunt");
	assert_string_equal(str_field(&r, "stderr", NULL), "pw=hunter2\n");
	assert_int_equal(num_field(&r, "stdout_bytes", RBC_DIM_SIZE), 22);
	/* on_output and the spool never see the secrets. */
	assert_string_equal(sb_borrow(&r.out[0]), MASK_TEXT "\nx " MASK_TEXT "xend hunt");
	assert_string_equal(sb_borrow(&r.out[1]), "pw=" MASK_TEXT "\n");
	size_t len;
	char *all = read_file(spool, 1 << 20, &len);
	assert_non_null(all);
	assert_int_equal(len, r.out[0].len + r.out[1].len);
	assert_null(memmem(all, len, "token", 5));
	assert_null(memmem(all, len, "hunter2", 7));
	assert_int_equal(count_in(all, len, MASK_TEXT), 3);
	assert_non_null(memmem(all, len, "xend hunt", 9)); /* the held tail, flushed */
	free(all);
	res_free(&r);

	/* Nagios: the state and output are judged raw, what is shown is masked. */
	req_init(&req, NULL, "printf 'CRITICAL login as hunter2 | a=1\\n'; exit 2", &r);
	req.mask = m;
	run_probe(&probe_nagios_ops, &req, &r);
	assert_int_equal(num_field(&r, "state", RBC_DIM_NONE), 2);
	assert_string_equal(str_field(&r, "output", NULL), "CRITICAL login as hunter2");
	assert_string_equal(sb_borrow(&r.out[0]), "CRITICAL login as " MASK_TEXT " | a=1\n");
	res_free(&r);
	mask_free(m);
	free(spool);
	tmpdir_free(dir);
}

static void test_secret_printed_many_times(void **state)
{
	(void)state;
	enum { LINES = 100000 };
	char *dir = tmpdir_new();
	char *spool = xasprintf("%s/spool", dir);
	struct mask *m = mask_new();
	mask_add(m, "hunter2");
	struct probe_req req;
	struct res r = {0};
	/* 12-byte lines: the secret straddles pipe reads of any power-of-two size. */
	req_init(&req, NULL, "yes 'the hunter2' | head -n 100000", &r);
	spool_at(&req, spool);
	req.mask = m;
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_null(field(&r, "spool_error"));
	assert_int_equal(num_field(&r, "stdout_bytes", RBC_DIM_SIZE), 12 * LINES);
	size_t klen;
	const char *kept = str_field(&r, "stdout", &klen);
	assert_int_equal(count_in(kept, klen, "the hunter2\n"), klen / 12);

	struct strbuf want = {0};
	for (int i = 0; i < LINES; i++)
		sb_adds(&want, "the " MASK_TEXT "\n");
	assert_int_equal(r.out[0].len, want.len);
	assert_memory_equal(r.out[0].s, want.s, want.len);
	size_t len;
	char *all = read_file(spool, 4 * want.len, &len);
	assert_non_null(all);
	assert_int_equal(len, want.len);
	assert_memory_equal(all, want.s, len);
	free(all);
	sb_free(&want);
	res_free(&r);
	mask_free(m);
	free(spool);
	tmpdir_free(dir);
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *spool = xasprintf("%s/spool", dir);
	struct probe_req req;
	struct res r = {0};
	req_init(&req, NULL, "echo partial; kill -9 $$; echo never", &r);
	spool_at(&req, spool);
	run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error); /* it ran: the signal is a result, not a probe failure */
	assert_int_equal(field(&r, "exit")->type, VALUE_NULL);
	assert_string_equal(str_field(&r, "signal", NULL), "SIGKILL");
	assert_string_equal(str_field(&r, "stdout", NULL), "partial\n");
	size_t len;
	char *all = read_file(spool, 1024, &len);
	assert_non_null(all);
	assert_string_equal(all, "partial\n");
	free(all);
	res_free(&r);
	free(spool);
	tmpdir_free(dir);
}

/* A spool on a FIFO that nobody reads (or opens) until on_done. */
struct hung {
	struct res r;          /* first: on_done's ud */
	uv_pipe_t reader;
	bool has_reader;
	int rfd;
	const char *fifo;
	char buf[65536];
	size_t drained;
	uint64_t t0;
};

static void hung_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct hung *hg = h->data;
	(void)suggested;
	*buf = uv_buf_init(hg->buf, sizeof hg->buf);
}

static void hung_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct hung *hg = st->data;
	(void)buf;
	if (n > 0)
		hg->drained += (size_t)n;
	else if (n < 0)
		uv_close((uv_handle_t *)st, NULL); /* the probe closed its end */
}

/* Records the result, then lets the stuck spool request finish. */
static void hung_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct hung *hg = ud;
	on_done(&hg->r, sample, error);
	if (hg->has_reader)
		uv_read_start((uv_stream_t *)&hg->reader, hung_alloc, hung_read);
	else
		hg->rfd = open(hg->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

static void test_hung_spool_does_not_block_done(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *fifo = xasprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(60); /* a regression would hang, not fail */

	/* 0: nobody opens the FIFO; 1: nobody reads it; 2: as 0, then cancelled. */
	for (int mode = 0; mode < 3; mode++) {
		uv_loop_t loop;
		uv_timer_t t;
		struct hung hg = {.rfd = -1, .fifo = fifo};
		struct probe_req req;
		struct rbc_error err = {0};
		bool opened = mode == 1;
		assert_int_equal(uv_loop_init(&loop), 0);
		if (opened) {
			/* A reader that never reads: the writes block once the FIFO is full. */
			int rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			assert_true(rfd >= 0);
			uv_pipe_init(&loop, &hg.reader, 0);
			hg.reader.data = &hg;
			assert_int_equal(uv_pipe_open(&hg.reader, rfd), 0);
			hg.has_reader = true;
			req_init(&req, &loop, "head -c 1000000 /dev/zero", &hg.r);
		} else {
			/* No reader at all: opening the spool blocks (in the pool, not the loop). */
			req_init(&req, &loop, "printf hello", &hg.r);
		}
		req.on_done = hung_done;
		req.ud = &hg;
		spool_at(&req, fifo);
		uint64_t t0 = uv_hrtime();
		struct cancel_ctx c = {&probe_run_ops, probe_run_ops.start(&req, &err)};
		assert_non_null(c.p);
		if (mode == 2) {
			/* Cancelled while only the spool is left: no need to wait. */
			uv_timer_init(&loop, &t);
			t.data = &c;
			uv_timer_start(&t, cancel_tick, 300, 0);
		}
		uv_run(&loop, UV_RUN_DEFAULT);
		spool_done(&req);
		struct res *r = &hg.r;
		assert_int_equal(r->ndone, 1);
		double ms = (double)(r->t_done - t0) / 1e6;
		if (mode == 2) {
			assert_true(ms >= 290 && ms < 1500);
			assert_string_equal(r->error, "cancelled");
		} else {
			assert_true(ms >= 1900 && ms < 10000); /* the grace, then delivered */
			assert_null(r->error);
		}
		assert_int_equal(num_field(r, "exit", RBC_DIM_NONE), 0);
		const char *se = str_field(r, "spool_error", NULL);
		assert_non_null(strstr(se, fifo));
		assert_non_null(strstr(se, opened ? "still writing" : "still opening"));
		assert_non_null(strstr(se, "spool incomplete"));
		if (opened) {
			assert_int_equal(r->out[0].len, 1000000);
			assert_true(hg.drained > 0 && hg.drained < 1000000);
		} else {
			assert_string_equal(sb_borrow(&r->out[0]), "hello");
			assert_true(hg.rfd >= 0);
			close(hg.rfd);
		}
		/* The probe freed itself once the stuck request returned. */
		assert_int_equal(uv_loop_close(&loop), 0);
		res_free(r);
	}
	alarm(0);
	free(fifo);
	tmpdir_free(dir);
}

/* What the test process changes before each child-state test, to be
   restored after it (even when an assertion fails). */
static struct {
	struct sigaction sigpipe;
	sigset_t mask;
	int stdin_fd;
	int hold[2];
} saved;

/* Puts the test process in rbc's state and worse: SIGPIPE ignored (as
   rbc's main does), SIGUSR2 blocked, stdin a pipe that never ends. */
static int parent_state_setup(void **state)
{
	(void)state;
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	if (sigaction(SIGPIPE, &ign, &saved.sigpipe) != 0 ||
	    sigprocmask(SIG_BLOCK, &usr2, &saved.mask) != 0 || pipe(saved.hold) != 0)
		return -1;
	saved.stdin_fd = dup(0);
	return saved.stdin_fd >= 0 && dup2(saved.hold[0], 0) == 0 ? 0 : -1;
}

static int parent_state_teardown(void **state)
{
	(void)state;
	dup2(saved.stdin_fd, 0);
	close(saved.stdin_fd);
	close(saved.hold[0]);
	close(saved.hold[1]);
	sigprocmask(SIG_SETMASK, &saved.mask, NULL);
	sigaction(SIGPIPE, &saved.sigpipe, NULL);
	return 0;
}

static void test_child_starts_clean(void **state)
{
	(void)state;
	struct probe_req req;
	struct res r = {0};

	/* SIGPIPE at its default: yes dies of it quietly once head is done
	   (ignored, it would say "Broken pipe" on stderr). */
	req_init(&req, NULL, "yes | head -n 1", &r);
	req.timeout_ms = 5000;
	double ms = run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_true(ms < 2000);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	assert_string_equal(str_field(&r, "stdout", NULL), "y\n");
	assert_string_equal(str_field(&r, "stderr", NULL), "");
	res_free(&r);

	/* No signal blocked, none ignored, except signals 32 and 33: glibc's
	   own (SIGCANCEL, SIGSETXID), which its posix_spawn leaves ignored and
	   sigaddset refuses to name; glibc programs take them back when needed.
	   Read by the shell's own process (exec), never by a child of it: dash
	   blocks every signal while it forks, and a child may read it then. */
	req_init(&req, NULL, "exec grep -E '^Sig(Blk|Ign):' /proc/self/status", &r);
	run_probe(&probe_run_ops, &req, &r);
	unsigned long long blk = 1, ign = 1;
	assert_int_equal(sscanf(str_field(&r, "stdout", NULL), "SigBlk: %llx SigIgn: %llx", &blk, &ign), 2);
	assert_int_equal(blk, 0);
	assert_int_equal(ign & ~(1ULL << 31 | 1ULL << 32), 0);
	res_free(&r);

	/* stdin is /dev/null, not the parent's endless pipe: cat ends at once. */
	req_init(&req, NULL, "readlink /proc/$$/fd/0; cat; echo \"rest $?\"", &r);
	req.timeout_ms = 5000;
	ms = run_probe(&probe_run_ops, &req, &r);
	assert_null(r.error);
	assert_true(ms < 2000);
	assert_string_equal(str_field(&r, "stdout", NULL), "/dev/null\nrest 0\n");
	res_free(&r);

	/* Its own session, led by the shell, without a controlling terminal. */
	req_init(&req, NULL, "echo $$; ps -o pgid=,sid=,tty= -p $$", &r);
	run_probe(&probe_run_ops, &req, &r);
	int pid = 0, pgid = 0, sid = 0;
	char tty[16] = "";
	assert_int_equal(sscanf(str_field(&r, "stdout", NULL), "%d %d %d %15s", &pid, &pgid, &sid, tty), 4);
	assert_true(pid > 1);
	assert_int_equal(pgid, pid);
	assert_int_equal(sid, pid);
	assert_int_not_equal(sid, getsid(0));
	assert_string_equal(tty, "?");
	res_free(&r);
}

static void test_spool_only_for_output(void **state)
{
	(void)state;
	char *dir = tmpdir_new();
	char *spool = xasprintf("%s/spool", dir);
	struct stat st;
	struct probe_req req;
	struct res r = {0};

	/* Silent: no file at all. */
	req_init(&req, NULL, "true", &r);
	spool_at(&req, spool);
	run_probe(&probe_run_ops, &req, &r);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
	assert_null(field(&r, "spool_error"));
	assert_int_equal(stat(spool, &st), -1);
	assert_int_equal(errno, ENOENT);
	res_free(&r);

	/* Silent into a directory that does not exist: nothing opened, no error. */
	req_init(&req, NULL, "exit 4", &r);
	spool_at(&req, "/nonexistent-rbc-dir/spool");
	run_probe(&probe_run_ops, &req, &r);
	assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 4);
	assert_null(field(&r, "spool_error"));
	res_free(&r);

	/* Late output, on stderr only: the file appears with it. */
	req_init(&req, NULL, "sleep 0.2; printf late >&2", &r);
	spool_at(&req, spool);
	run_probe(&probe_run_ops, &req, &r);
	assert_null(field(&r, "spool_error"));
	size_t len;
	char *all = read_file(spool, 1024, &len);
	assert_non_null(all);
	assert_string_equal(all, "late");
	free(all);
	res_free(&r);

	/* A mask holding everything back until EOF: the file opens at the flush
	   (after the last read), and the next attempt appends. */
	struct mask *m = mask_new();
	mask_add(m, "token");
	req_init(&req, NULL, "printf tok", &r);
	spool_at(&req, spool);
	req.mask = m;
	run_probe(&probe_run_ops, &req, &r);
	assert_null(field(&r, "spool_error"));
	all = read_file(spool, 1024, &len);
	assert_non_null(all);
	assert_string_equal(all, "latetok");
	free(all);
	res_free(&r);
	mask_free(m);
	free(spool);
	tmpdir_free(dir);
}

/* stdin and stderr closed in the parent while the probe starts (its pipes
   then get the lowest descriptors): the streams stay apart and nothing is
   left open (libuv never closes a stream's descriptor below 3). Restored
   before any assertion. */
static void test_parent_stdio_closed(void **state)
{
	(void)state;
	/* Only posix_spawn's pipes are ours to place (see main). Without
	   pidfd_open (valgrind 3.19 does not know it) that path is not taken. */
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0)
		skip();
	close(fd);
	uv_loop_t loop;
	struct probe_req req;
	struct res r = {0};
	struct rbc_error err = {0};
	assert_int_equal(uv_loop_init(&loop), 0);
	/* libuv reserves a descriptor at a loop's first stream (its EMFILE
	   trick) and asserts when that one is below 3: reserve it now. */
	uv_pipe_t first;
	uv_pipe_init(&loop, &first, 0);
	uv_close((uv_handle_t *)&first, NULL);
	req_init(&req, &loop, "echo out; echo err >&2", &r);
	int save0 = dup(0), save2 = dup(2);
	assert_true(save0 > 2 && save2 > 2);
	close(0);
	close(2);
	struct probe *p = probe_run_ops.start(&req, &err);
	uv_run(&loop, UV_RUN_DEFAULT);
	int loop_rc = uv_loop_close(&loop);
	bool left_open = fcntl(0, F_GETFD) != -1 || fcntl(2, F_GETFD) != -1;
	dup2(save0, 0);
	dup2(save2, 2);
	close(save0);
	close(save2);
	assert_non_null(p);
	assert_int_equal(loop_rc, 0);
	assert_false(left_open);
	assert_null(r.error);
	assert_string_equal(str_field(&r, "stdout", NULL), "out\n");
	assert_string_equal(str_field(&r, "stderr", NULL), "err\n");
	res_free(&r);
}

/*
 * `sleep 113 & echo bg`: the shell exits 0 at once, its background child
 * keeps the pipes. The step is done after a short grace, with the shell's
 * exit status and no error, whether or not a timeout was given (without
 * one it used to hang; with one it ended "timed out"); the child is killed
 * with the group and the sample says why it ended there.
 */
static void test_background_child_does_not_hold_the_step(void **state)
{
	(void)state;
	alarm(60); /* a hang fails the test binary instead of the suite */
	for (int timed = 0; timed < 2; timed++) {
		struct probe_req req;
		struct res r = {0};
		req_init(&req, NULL, "echo $$ >&2; sleep 113 & echo bg", &r);
		req.timeout_ms = timed ? 30000 : 0;
		double ms = run_probe(&probe_run_ops, &req, &r);
		assert_true(ms < 15000); /* well before the 30 s timeout */
		assert_null(r.error);
		assert_null(field(&r, "error"));
		assert_int_equal(num_field(&r, "exit", RBC_DIM_NONE), 0);
		assert_string_equal(str_field(&r, "stdout", NULL), "bg\n");
		const char *why = str_field(&r, "background", NULL);
		assert_non_null(strstr(why, "process group killed"));
		assert_group_gone(pid_from(&r));
		res_free(&r);
	}
	alarm(0);
}

/* The spawning tests, run again on the uv_spawn fallback. */
static int uv_spawn_setup(void **state)
{
	(void)state;
	return setenv("RBC_TEST_UV_SPAWN", "1", 1);
}

static int uv_spawn_teardown(void **state)
{
	(void)state;
	return unsetenv("RBC_TEST_UV_SPAWN");
}

int main(void)
{
	/* Orphans of killed groups come back here, so the tests can reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_and_streams),
		cmocka_unit_test(test_env_is_not_code),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_big_output_ring_and_spool),
		cmocka_unit_test(test_spool_backpressure),
		cmocka_unit_test(test_small_ring),
		cmocka_unit_test(test_spool_errors_are_not_fatal),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_sigkill_after_grace),
		cmocka_unit_test(test_term_survivor_without_pipes_is_killed),
		cmocka_unit_test(test_grandchild_holds_pipe),
		cmocka_unit_test(test_binary_output),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_spawn_failure),
		cmocka_unit_test(test_nagios_states),
		cmocka_unit_test(test_nagios_perfdata),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_secrets_masked),
		cmocka_unit_test(test_secret_printed_many_times),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_hung_spool_does_not_block_done),
		cmocka_unit_test_setup_teardown(test_child_starts_clean, parent_state_setup,
		                                parent_state_teardown),
		cmocka_unit_test(test_spool_only_for_output),
		cmocka_unit_test(test_parent_stdio_closed),
		cmocka_unit_test(test_background_child_does_not_hold_the_step),
	};
	const struct CMUnitTest fallback[] = {
		cmocka_unit_test(test_exit_and_streams),
		cmocka_unit_test(test_env_is_not_code),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_term_survivor_without_pipes_is_killed),
		cmocka_unit_test(test_grandchild_holds_pipe),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_spawn_failure),
		cmocka_unit_test(test_nagios_states),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test_setup_teardown(test_child_starts_clean, parent_state_setup,
		                                parent_state_teardown),
		cmocka_unit_test(test_spool_only_for_output),
		cmocka_unit_test(test_background_child_does_not_hold_the_step),
		/* Not test_parent_stdio_closed: uv_spawn's own pipes land on the
		   free standard descriptors and libuv then asserts closing them. */
	};
	int failed = cmocka_run_group_tests_name("posix_spawn", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("uv_spawn", fallback, uv_spawn_setup, uv_spawn_teardown);
	return failed;
}

/*
 * cmd.c — the run and nagios probes: a /bin/sh -c command in its own
 * session and process group, its stdout and stderr captured separately.
 *
 * The shell is started with posix_spawn: glibc clones with
 * CLONE_VM|CLONE_VFORK, so nothing of rbc is copied (a fork copies every
 * mapping of a process linking curl, libpq, pcre2 and ncurses, which costs
 * more than the shell itself). The child gets every signal at its default
 * (rbc ignores SIGPIPE; only glibc's two internal signals, 32 and 33, stay
 * ignored, as its posix_spawn wants), an empty signal mask, stdin from
 * /dev/null (or a pipe the step's "stdin" text is written to through the
 * loop, then closed: a command that prints a lot before it reads never
 * deadlocks against a blocking write), and stdout and stderr on two pipes
 * whose read ends libuv watches. A "tty" command instead gets rbc's
 * terminal (terminal.h): a process group of its own in rbc's session, made
 * the foreground one, no pipes (nothing captured); one at a time, the
 * others queued until the terminal is back. Its exit is seen through a pidfd polled on the loop, then reaped
 * with waitpid. Whether pidfd_open works is asked once, before the first
 * spawn: without it (ENOSYS, or EPERM from a seccomp filter) commands go
 * through libuv's uv_spawn (fork, SIGCHLD) as before, on pipes made here as
 * well; RBC_TEST_UV_SPAWN=1 forces that path so the tests cover it.
 *
 * A job is complete only once the shell has exited AND both pipes reached
 * EOF (a background grandchild may keep a pipe open after the shell is
 * gone). Once the shell has exited, the pipes get CMD_LINGER_MS to drain
 * (or what is left of the timeout, if less); whatever still holds them then
 * (`server &`) does not hold the step: the group is killed, then every
 * process outside it that the command started and that still holds its
 * output (one that left the group with setsid, a daemon that forked twice)
 * is found in /proc by the pipes' inode and killed too (proc_hunt, in the
 * thread pool), the pipes are closed, and the sample says so in
 * `background`. A process with an output of its own (`nohup server >log
 * 2>&1 &`) holds nothing of the step's and is left running. Each stream
 * keeps only its last keep_bytes in memory, raw, for the sample: thresholds
 * judge what the command really printed. What leaves the
 * probe as text — on_output and the spool file — goes through one
 * mask_stream per pipe first, so secrets never reach them, even split across
 * reads; each stream is flushed at its EOF, before the spool is closed. The
 * spool interleaves the streams as their bytes leave the masks, so the few
 * bytes one stream holds back may land after output of the other.
 *
 * On timeout or cancel the whole group gets SIGTERM, then SIGKILL after a
 * grace period; if something outside the group still holds a pipe after
 * that, it is hunted as above and the pipes are closed by force, so the
 * probe always ends.
 *
 * The spool file is opened, written and closed through the libuv thread pool
 * (one request at a time, in order), never on the loop thread. It is opened
 * only when the first masked byte leaves for it: a command that prints
 * nothing leaves no spool file and costs no open or close. Output that
 * arrives while it is still opening is queued. When the disk falls behind,
 * reading the pipes pauses (the child then blocks on a full pipe) instead of
 * queueing without bound. The sample is delivered once the spool is closed,
 * with every masked byte in it. A spool that is still busy CMD_SPOOL_GRACE_MS
 * after the job completed (a hung disk or FIFO) is given up: the sample goes
 * out with spool_error, and the probe frees itself only once the pending
 * request returns and the file is closed (a request in a pool thread cannot
 * be cancelled). Spool problems never fail the probe.
 *
 * This file holds the kinds (their keys, load, build, describe and ops)
 * and the job: output, spool, timers and the sample. The process machinery
 * (spawning, the pipes, the pidfd, the hunt) is proc.c's (proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "rbc/mask.h"
#include "rbc/probe.h"
#include "rbc/terminal.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "internal.h"
#include "proc.h"

#define CMD_KEEP_DEFAULT (64 * 1024)
#define CMD_TERM_GRACE_MS 2000 /* SIGTERM → SIGKILL */
#define CMD_DRAIN_MS 1000      /* SIGKILL → pipes closed by force */
#define CMD_LINGER_MS 1000     /* shell exited → pipes closed by force */
#define CMD_SPOOL_GRACE_MS 2000 /* job complete → spool given up */
#define CMD_SPOOL_HIGH (1024 * 1024) /* queued spool bytes: pause reading */
#define CMD_SPOOL_LOW (256 * 1024)   /* … and resume below this */

/* Appends n bytes, keeping only the last r->cap. */
static void ring_add(struct ring *r, const char *d, size_t n)
{
	r->total += n;
	if (n >= r->cap) {
		d += n - r->cap;
		n = r->cap;
	}
	while (n > 0) {
		size_t take;
		if (r->len < r->cap) {
			take = r->cap - r->len < n ? r->cap - r->len : n;
			if (r->len + take > r->alloc) {
				size_t want = r->alloc ? r->alloc : 4096;
				while (want < r->len + take)
					want *= 2;
				r->alloc = want < r->cap ? want : r->cap;
				r->buf = xrealloc(r->buf, r->alloc);
			}
			memcpy(r->buf + r->len, d, take);
			r->len += take;
			r->pos = 0;
		} else {
			take = r->cap - r->pos < n ? r->cap - r->pos : n;
			memcpy(r->buf + r->pos, d, take);
			r->pos = (r->pos + take) % r->cap;
		}
		d += take;
		n -= take;
	}
}

/* The kept bytes, oldest first, as a new text value. */
static struct rbc_value *ring_value(const struct ring *r)
{
	char *s = xmalloc(r->len + 1);
	size_t head = r->len - r->pos;
	if (r->len)
		memcpy(s, r->buf + r->pos, head);
	if (r->pos)
		memcpy(s + head, r->buf, r->pos);
	s[r->len] = '\0';
	/* Bytes before the window are gone: a secret may stand across its start. */
	return value_str_cut(value_str_take(s, r->len), r->total > r->len ? MASK_CUT_HEAD : 0);
}

/* "SIGKILL" for the common signals, "signal N" otherwise. */
static char *signal_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"},
		{SIGILL, "SIGILL"}, {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
		{SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGKILL, "SIGKILL"},
		{SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
		{SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
		{SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},
		{SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"},
		{SIGURG, "SIGURG"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
		{SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGSYS, "SIGSYS"},
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(names); i++)
		if (names[i].sig == sig)
			return xstrdup(names[i].name);
	return xasprintf("signal %d", sig);
}

static void cmd_spool_drop(struct probe *p);

/* Frees p once its handles are closed and no spool request is pending. */
static void cmd_maybe_free(struct probe *p)
{
	if (p->nhandles > 0 || p->spool_busy || p->spool_state != SPOOL_NONE || p->hunt)
		return;
	for (int i = 0; i < 2; i++) {
		free(p->ring[i].buf);
		mask_stream_free(&p->ms[i]);
	}
	sb_free(&p->obuf);
	cmd_spool_drop(p);
	if (p->spool_dir >= 0)
		close(p->spool_dir);
	free(p->spool_path);
	free(p->spool_error);
	free(p->spawn_error);
	free(p->in_text);
	free(p->w_command);
	free(p->w_cwd);
	rb_kv_free(&p->w_env);
	if (p->in_fd >= 0)
		close(p->in_fd);
	free(p);
}

/* uv_close callback: one handle fewer. The pidfd outlives its poll handle
   (libuv drops the descriptor from epoll as it closes the handle: closing
   it first could drop a reused descriptor). */
static void cmd_handle_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	if (h == (uv_handle_t *)&p->pidpoll && p->pidfd >= 0) {
		close(p->pidfd);
		p->pidfd = -1;
	}
	p->nhandles--;
	cmd_maybe_free(p);
}

/* Closes h once; the last close may free the probe. */
static void cmd_close(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, cmd_handle_closed);
}

/* The shell is reaped and both pipes are at EOF: only the spool may lag. */
static bool cmd_complete(const struct probe *p)
{
	return p->exited && p->eof[0] && p->eof[1];
}

/* Signals the whole process group (the shell leads it). */
static void cmd_kill_group(struct probe *p, int sig)
{
	if (p->pgid > 0 && !cmd_complete(p))
		(void)kill(-p->pgid, sig);
}

static void nagios_perf_item(struct rbc_value *perf, struct rbc_value *warn,
                             struct rbc_value *crit, const char *s, size_t n);

/*
 * Adds state, state_name, output, perf, perf_warn and perf_crit. Plugin
 * output is "TEXT | perfdata" on the first line; more perfdata may follow a
 * '|' in the long text below it (monitoring-plugins guidelines). Exits other
 * than 0..3, and deaths by signal, are UNKNOWN.
 */
static void nagios_add_fields(struct rbc_value *sample, const struct ring *out, bool has_exit,
                              int64_t exit_status)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	int state = has_exit && exit_status >= 0 && exit_status <= 3 ? (int)exit_status : 3;
	value_obj_set_take(sample, "state", value_num_new(state, RBC_DIM_NONE));
	value_obj_set_take(sample, "state_name", value_strz_new(names[state]));

	struct rbc_value *text = ring_value(out);
	const char *s = text->u.str.s;
	size_t n = text->u.str.len;
	const char *nl = memchr(s, '\n', n);
	size_t line = nl ? (size_t)(nl - s) : n;
	const char *bar = memchr(s, '|', line);
	size_t olen = bar ? (size_t)(bar - s) : line;
	while (olen > 0 && (s[olen - 1] == ' ' || s[olen - 1] == '\t' || s[olen - 1] == '\r'))
		olen--;
	value_obj_set_take(sample, "output", value_str_new(s, olen));

	struct rbc_value *perf = value_obj_new(false);
	struct rbc_value *warn = value_obj_new(false);
	struct rbc_value *crit = value_obj_new(false);
	struct strbuf pd = {0};
	if (bar)
		sb_add(&pd, bar + 1, line - (size_t)(bar + 1 - s));
	if (nl) {
		const char *rest = nl + 1;
		size_t rlen = n - (size_t)(rest - s);
		const char *bar2 = memchr(rest, '|', rlen);
		if (bar2) {
			sb_addc(&pd, ' ');
			sb_add(&pd, bar2 + 1, rlen - (size_t)(bar2 + 1 - rest));
		}
	}
	/* Split on blanks, keeping quoted labels whole ('' is a literal quote). */
	const char *p = sb_borrow(&pd), *end = p + pd.len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p >= end)
			break;
		const char *start = p;
		if (*p == '\'') {
			p++;
			while (p < end) {
				if (*p == '\'' && p + 1 < end && p[1] == '\'')
					p += 2;
				else if (*p == '\'')
					break;
				else
					p++;
			}
			if (p < end)
				p++;
		}
		while (p < end && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		nagios_perf_item(perf, warn, crit, start, (size_t)(p - start));
	}
	sb_free(&pd);
	value_free(text);
	value_obj_set_take(sample, "perf", perf);
	value_obj_set_take(sample, "perf_warn", warn);
	value_obj_set_take(sample, "perf_crit", crit);
}

/* Parses a number with a Nagios unit of measure; false when malformed. */
static bool nagios_number(const char *s, size_t n, double *v, enum rbc_dim *dim)
{
	size_t i = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	size_t digits = 0;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
		digits += s[i] != '.';
		i++;
	}
	if (digits == 0)
		return false;
	if (i + 1 < n && (s[i] == 'e' || s[i] == 'E') &&
	    ((s[i + 1] >= '0' && s[i + 1] <= '9') ||
	     (i + 2 < n && (s[i + 1] == '-' || s[i + 1] == '+') && s[i + 2] >= '0' && s[i + 2] <= '9'))) {
		i += 2;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (!value_parse_number(s, i, v, dim))
		return false;
	const char *u = s + i;
	size_t ul = n - i;
	double factor = 1;
	*dim = RBC_DIM_NONE;
	if (ul == 0 || (ul == 1 && u[0] == 'c'))
		return true;
	if (ul == 2 && u[0] == 'u' && u[1] == 's') {
		*v /= 1000;
		*dim = RBC_DIM_TIME;
		return true;
	}
	if (units_lookup(u, ul, &factor, dim)) {
		*v *= factor;
		return true;
	}
	/* Units outside the guidelines (°C, rpm, …): keep the plain number. */
	for (size_t k = 0; k < ul; k++) {
		unsigned char c = (unsigned char)u[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80))
			return false; /* "1,5", "3x2": not a number we understand */
	}
	*dim = RBC_DIM_NONE;
	return true;
}

/* One 'label'=value[UOM];[warn];[crit];[min];[max]; malformed ones are skipped. */
static void nagios_perf_item(struct rbc_value *perf, struct rbc_value *warn,
                             struct rbc_value *crit, const char *s, size_t n)
{
	struct strbuf label = {0};
	size_t i = 0;
	if (n > 0 && s[0] == '\'') {
		for (i = 1; i < n; i++) {
			if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'') {
				sb_addc(&label, '\'');
				i++;
			} else if (s[i] == '\'') {
				break;
			} else {
				sb_addc(&label, s[i]);
			}
		}
		if (i >= n) {
			sb_free(&label);
			return;
		}
		i++; /* closing quote */
	} else {
		while (i < n && s[i] != '=')
			sb_addc(&label, s[i++]);
	}
	if (label.len == 0 || i >= n || s[i] != '=' || memchr(label.s, '\0', label.len)) {
		sb_free(&label);
		return;
	}
	i++;
	/* Fields separated by ';': value, warn, crit, min, max. */
	const char *f[5] = {0};
	size_t fl[5] = {0};
	int nf = 0;
	size_t a = i;
	for (size_t k = i; k <= n && nf < 5; k++) {
		if (k == n || s[k] == ';') {
			f[nf] = s + a;
			fl[nf] = k - a;
			nf++;
			a = k + 1;
		}
	}
	double v;
	enum rbc_dim dim;
	if (fl[0] == 1 && f[0][0] == 'U') {
		value_obj_set_take(perf, label.s, value_missing_new("%s: value undetermined (U)", label.s));
	} else if (nagios_number(f[0], fl[0], &v, &dim)) {
		value_obj_set_take(perf, label.s, value_num_new(v, dim));
	} else {
		sb_free(&label);
		return;
	}
	if (nf > 1 && fl[1] > 0)
		value_obj_set_take(warn, label.s, value_str_new(f[1], fl[1]));
	if (nf > 2 && fl[2] > 0)
		value_obj_set_take(crit, label.s, value_str_new(f[2], fl[2]));
	sb_free(&label);
}

/* Frees the queued chunks (after an error, or when giving up); the one being
   written belongs to its request until it returns. */
static void cmd_spool_drop(struct probe *p)
{
	while (p->sq_head) {
		struct spool_chunk *c = p->sq_head;
		p->sq_head = c->next;
		free(c->data);
		free(c);
	}
	p->sq_tail = NULL;
	p->sq_bytes = p->sq_writing ? p->sq_writing->len - p->sq_writing->off : 0;
}

/* Notes the first spool problem; later ones are consequences. */
static void cmd_spool_fail(struct probe *p, const char *why)
{
	if (!p->spool_error)
		p->spool_error = xasprintf("%s: %s", p->spool_path, why);
	cmd_spool_drop(p);
}

static void cmd_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Every read lands in the probe's buffer and is consumed before the next. */
static void cmd_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct probe *p = h->data;
	(void)suggested;
	*buf = uv_buf_init(p->rbuf, sizeof p->rbuf);
}

/* Pauses or resumes reading the pipes as the spool queue grows or drains. */
static void cmd_spool_pressure(struct probe *p)
{
	if (p->finished)
		return; /* the pipes are closing */
	bool pause = p->sq_bytes > CMD_SPOOL_HIGH;
	bool resume = p->paused && p->sq_bytes < CMD_SPOOL_LOW;
	for (int i = 0; i < 2; i++) {
		if (p->eof[i])
			continue;
		if (pause && !p->paused)
			uv_read_stop((uv_stream_t *)&p->pipe[i]);
		else if (resume)
			uv_read_start((uv_stream_t *)&p->pipe[i], cmd_alloc_cb, cmd_read_cb);
	}
	if (pause)
		p->paused = true;
	else if (resume)
		p->paused = false;
}

static void cmd_spool_written(uv_fs_t *req);
static void cmd_spool_closed(uv_fs_t *req);

/*
 * Starts the next spool request unless one is in flight: a write of the head
 * chunk, or the close once nothing is queued and nothing more can come (the
 * job is complete, the probe finished, or the spool failed).
 */
static void cmd_spool_next(struct probe *p)
{
	if (p->spool_busy || p->spool_state != SPOOL_OPEN)
		return;
	p->spool_req.data = p;
	if (p->sq_head) {
		struct spool_chunk *c = p->sq_head;
		uv_buf_t b = uv_buf_init(c->data + c->off, (unsigned)(c->len - c->off));
		int r = uv_fs_write(p->loop, &p->spool_req, p->spool_fd, &b, 1, -1, cmd_spool_written);
		if (r == 0) {
			p->sq_head = c->next;
			if (!p->sq_head)
				p->sq_tail = NULL;
			p->sq_writing = c;
			p->spool_busy = true;
			return;
		}
		cmd_spool_fail(p, uv_strerror(r));
	}
	if (!(cmd_complete(p) || p->finished || p->spool_error))
		return; /* more output may come */
	int r = uv_fs_close(p->loop, &p->spool_req, p->spool_fd, cmd_spool_closed);
	if (r == 0) {
		p->spool_state = SPOOL_CLOSING;
		p->spool_busy = true;
	} else {
		cmd_spool_fail(p, uv_strerror(r));
		p->spool_state = SPOOL_NONE; /* the descriptor leaks: nothing better to do */
	}
}

/* True once the spool is closed, failed, absent or never needed, with
   nothing in flight. */
static bool cmd_spool_settled(const struct probe *p)
{
	return (p->spool_state == SPOOL_NONE || p->spool_state == SPOOL_WAITING) && !p->spool_busy;
}

/* ", pids 12, 34" for n processes of which the first shown are in pids. */
static void cmd_add_pids(struct strbuf *sb, const pid_t *pids, size_t n)
{
	size_t shown = n < CMD_HUNT_SHOWN ? n : CMD_HUNT_SHOWN;
	sb_adds(sb, n == 1 ? " (pid " : " (pids ");
	for (size_t i = 0; i < shown; i++)
		sb_addf(sb, "%s%d", i ? ", " : "", (int)pids[i]);
	sb_adds(sb, n > shown ? ", …)" : ")");
}

/*
 * The sample's "background": how the step ended while something held its
 * output — the shell exited and the grace ran out, or what outlived a
 * timeout's kill — and what was killed or is still running. NULL when
 * nothing held it.
 */
static char *cmd_background(const struct probe *p)
{
	if (!p->lingered && !p->nkilled && !p->nleft)
		return NULL;
	struct strbuf sb = {0};
	char dur[64];
	if (p->lingered)
		sb_addf(&sb, "the shell exited but its output was still held open %s later (by a process it "
		        "left running): the step ended there, its output was closed and its process group killed",
		        units_format_duration((int64_t)p->linger_ms, dur, sizeof dur));
	if (p->nkilled) {
		sb_addf(&sb, "%s%zu process%s that had left its process group and held its output %s killed too",
		        p->lingered ? "; " : "", p->nkilled, p->nkilled == 1 ? "" : "es",
		        p->nkilled == 1 ? "was" : "were");
		cmd_add_pids(&sb, p->killed, p->nkilled);
	}
	if (p->nleft) {
		sb_addf(&sb, "%s%zu process%s outside its process group still hold%s its output",
		        sb.len ? "; " : "", p->nleft, p->nleft == 1 ? "" : "es", p->nleft == 1 ? "s" : "");
		cmd_add_pids(&sb, p->left, p->nleft);
		sb_adds(&sb, ", left running: started before the command, or not ours to kill");
	}
	return sb_take(&sb);
}

/* Builds the sample, closes every handle and reports; p is gone afterwards. */
static void cmd_finish(struct probe *p)
{
	if (p->finished)
		return;
	p->finished = true;
	/*
	 * A stopped command can finish (shell gone, pipes at EOF) while a member
	 * that ignores SIGTERM and holds no pipe lives on: the grace timer is
	 * about to be closed, so KILL the group now. Its id cannot be reused
	 * while any member is alive.
	 */
	if ((p->stop != STOP_NONE || p->lingered) && p->pgid > 0)
		(void)kill(-p->pgid, SIGKILL);
	if (p->spool_state == SPOOL_WAITING)
		p->spool_state = SPOOL_NONE; /* no byte came: no file */
	/* A spool given up on: nothing more is written, it closes when it can. */
	cmd_spool_drop(p);
	cmd_spool_next(p);
	double ms = (double)(uv_hrtime() - p->t0) / 1e6;
	char *error = NULL;
	char dur[64];
	if (p->stop == STOP_CANCEL)
		error = xstrdup("cancelled");
	else if (p->stop == STOP_TIMEOUT)
		error = xasprintf("timed out after %s", units_format_duration(p->timeout_ms, dur, sizeof dur));
	else if (p->spawn_error)
		error = xstrdup(p->spawn_error);

	struct rbc_value *sample = value_obj_new(false);
	if (p->spawned) {
		bool has_exit = p->exited && p->term_signal == 0 && !p->status_lost;
		if (has_exit)
			value_obj_set_take(sample, "exit", value_num_new((double)p->exit_status, RBC_DIM_NONE));
		else
			value_obj_set_take(sample, "exit", value_null_new());
		if (p->exited && p->term_signal != 0) {
			char *sig = signal_name(p->term_signal);
			value_obj_set_take(sample, "signal", value_str_take(sig, strlen(sig)));
		}
		static const char *const fields[2][3] = {
			{"stdout", "stdout_bytes", "stdout_truncated"},
			{"stderr", "stderr_bytes", "stderr_truncated"},
		};
		for (int i = 0; i < 2; i++) {
			value_obj_set_take(sample, fields[i][0], ring_value(&p->ring[i]));
			value_obj_set_take(sample, fields[i][1],
			                   value_num_new((double)p->ring[i].total, RBC_DIM_SIZE));
			value_obj_set_take(sample, fields[i][2],
			                   value_bool_new(p->ring[i].total > p->ring[i].len));
		}
		if (p->ops->action == RB_NAGIOS)
			nagios_add_fields(sample, &p->ring[0], has_exit, p->exit_status);
		if (p->spool_error)
			value_obj_set_take(sample, "spool_error", value_strz_new(p->spool_error));
		char *bg = cmd_background(p);
		if (bg)
			value_obj_set_take(sample, "background", value_str_take(bg, strlen(bg)));
	}
	value_obj_set_take(sample, "time", value_num_new(ms, RBC_DIM_TIME));
	if (error)
		value_obj_set_take(sample, "error", value_strz_new(error));

	void (*on_done)(void *, struct rbc_value *, const char *) = p->on_done;
	void *ud = p->ud;
	uv_timer_stop(&p->timer);
	cmd_close((uv_handle_t *)&p->timer);
	for (int i = 0; i < 2; i++)
		cmd_close((uv_handle_t *)&p->pipe[i]);
	cmd_close((uv_handle_t *)&p->inpipe);
	if (p->watch == WATCH_PROC)
		cmd_close((uv_handle_t *)&p->proc);
	else if (p->watch == WATCH_PIDFD)
		cmd_close((uv_handle_t *)&p->pidpoll);
	/* Handles close on a later loop turn: p stays valid until then. */
	on_done(ud, sample, error);
	free(error);
}

static void cmd_timer_cb(uv_timer_t *t);

/*
 * Finishes once the job is complete, no hunt is out and the spool is
 * closed. A complete job whose spool lags gets CMD_SPOOL_GRACE_MS (the
 * timeout no longer applies: the command is done).
 */
static void cmd_check_done(struct probe *p)
{
	if (p->finished || !cmd_complete(p) || p->hunt)
		return; /* a hunt's kills close the pipes before it reports back */
	cmd_spool_next(p); /* the close, if everything is written */
	if (cmd_spool_settled(p)) {
		cmd_finish(p);
	} else if (p->timer_phase != TIMER_SPOOL) {
		p->timer_phase = TIMER_SPOOL;
		uv_timer_start(&p->timer, cmd_timer_cb, CMD_SPOOL_GRACE_MS, 0);
	}
}

/* After a spool request: go on, or, once finished, free when all is closed. */
static void cmd_spool_after(struct probe *p)
{
	cmd_spool_next(p);
	if (p->finished) {
		cmd_maybe_free(p);
		return;
	}
	cmd_spool_pressure(p);
	cmd_check_done(p);
}

/* The open returned: queued output can be written now, or is dropped. */
static void cmd_spool_open(struct probe *p);

/* Whether fd may take the output: a regular file must be ours with no
   other name (a hard link to someone's file is not appended to). */
static bool cmd_spool_ours(uv_file fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (!S_ISREG(st.st_mode) || (st.st_uid == geteuid() && st.st_nlink == 1));
}

static void cmd_spool_opened(uv_work_t *w, int status)
{
	struct probe *p = w->data;
	ssize_t r = status < 0 ? status : p->spool_opened;
	p->spool_busy = false;
	if (r == UV_EEXIST && !p->spool_again) {
		/* An earlier attempt's output: this one goes on after it. */
		p->spool_again = true;
		cmd_spool_open(p);
		if (p->spool_busy)
			return;
	} else if (r < 0) {
		p->spool_state = SPOOL_NONE;
		cmd_spool_fail(p, r == UV_ELOOP ? "a symbolic link: refused" : uv_strerror((int)r));
	} else if (!cmd_spool_ours((uv_file)r)) {
		close((int)r);
		p->spool_state = SPOOL_NONE;
		cmd_spool_fail(p, "a file of another user's, or with other names: refused");
	} else {
		p->spool_state = SPOOL_OPEN;
		p->spool_fd = (uv_file)r;
	}
	cmd_spool_after(p);
}

/* One write returned: requeue a short write's rest, or drop the chunk. */
static void cmd_spool_written(uv_fs_t *req)
{
	struct probe *p = req->data;
	struct spool_chunk *c = p->sq_writing;
	ssize_t w = req->result;
	size_t left = c->len - c->off;
	uv_fs_req_cleanup(req);
	p->spool_busy = false;
	p->sq_writing = NULL;
	if (w < 0 || (size_t)w > left || (w == 0 && left > 0)) {
		free(c->data);
		free(c);
		p->sq_bytes = 0;
		cmd_spool_fail(p, w < 0 ? uv_strerror((int)w) : "short write");
	} else if ((size_t)w < left && !p->finished) {
		c->off += (size_t)w;
		p->sq_bytes -= (size_t)w;
		c->next = p->sq_head;
		p->sq_head = c;
		if (!p->sq_tail)
			p->sq_tail = c;
	} else {
		p->sq_bytes -= left < p->sq_bytes ? left : p->sq_bytes;
		free(c->data);
		free(c);
	}
	cmd_spool_after(p);
}

/* The close returned: the spool is settled (a close error still counts). */
static void cmd_spool_closed(uv_fs_t *req)
{
	struct probe *p = req->data;
	ssize_t r = req->result;
	uv_fs_req_cleanup(req);
	p->spool_busy = false;
	p->spool_state = SPOOL_NONE;
	if (r < 0)
		cmd_spool_fail(p, uv_strerror((int)r));
	cmd_spool_after(p);
}

/* On a pool thread: the spool file opened by its last name in the
   directory the engine holds open. Whatever replaced that directory's path
   since (a link to another one) is never followed. */
static void cmd_spool_open_work(uv_work_t *w)
{
	struct probe *p = w->data;
	const char *slash = strrchr(p->spool_path, '/');
	int flags = p->spool_again ? O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC
	                           : O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(p->spool_dir, slash ? slash + 1 : p->spool_path, flags, 0600);
	p->spool_opened = fd >= 0 ? fd : uv_translate_sys_error(errno);
}

/* Starts opening the spool file; output queues until it is open. It is
   made anew (never through a link, never someone else's file), or, when an
   earlier attempt made it, appended to, a link still not followed. */
static void cmd_spool_open(struct probe *p)
{
	if (p->spool_dir < 0) {
		p->spool_state = SPOOL_NONE;
		cmd_spool_fail(p, "the run's out/ directory could not be opened");
		return;
	}
	p->spool_work.data = p;
	int r = uv_queue_work(p->loop, &p->spool_work, cmd_spool_open_work, cmd_spool_opened);
	if (r != 0) {
		p->spool_state = SPOOL_NONE;
		cmd_spool_fail(p, uv_strerror(r));
		return;
	}
	p->spool_state = SPOOL_OPENING;
	p->spool_busy = true;
}

/* Takes p->obuf's bytes into the spool queue. */
static void cmd_spool_take(struct probe *p)
{
	struct spool_chunk *c = xmalloc(sizeof *c);
	c->next = NULL;
	c->len = p->obuf.len;
	c->off = 0;
	c->data = sb_take(&p->obuf);
	if (p->sq_tail)
		p->sq_tail->next = c;
	else
		p->sq_head = c;
	p->sq_tail = c;
	p->sq_bytes += c->len;
	cmd_spool_next(p);
	cmd_spool_pressure(p);
}

/* True while the spool takes output (it may not be open yet). */
static bool cmd_spool_taking(const struct probe *p)
{
	return (p->spool_state == SPOOL_WAITING || p->spool_state == SPOOL_OPENING ||
	        p->spool_state == SPOOL_OPEN) && !p->spool_error;
}

/* mask_emit_fn: collects a read's masked bytes. */
static void cmd_emit(void *ud, const char *data, size_t len)
{
	struct probe *p = ud;
	sb_add(&p->obuf, data, len);
}

/* Hands what the mask stream let out to on_output and the spool. */
static void cmd_deliver(struct probe *p, int i)
{
	if (p->obuf.len == 0)
		return;
	if (p->on_output)
		p->on_output(p->ud, i ? PROBE_STDERR : PROBE_STDOUT, p->obuf.s, p->obuf.len);
	if (p->spool_state == SPOOL_WAITING && !p->spool_error)
		cmd_spool_open(p); /* the first byte: only now does the file exist */
	if (cmd_spool_taking(p))
		cmd_spool_take(p);
	else
		p->obuf.len = 0;
}

/* Raw output into the ring; masked into on_output and the spool. */
static void cmd_output(struct probe *p, int i, const char *d, size_t n)
{
	ring_add(&p->ring[i], d, n);
	if (!p->on_output && !cmd_spool_taking(p))
		return;
	if (p->obuf.cap < p->obuf.len + n + 1) {
		/* Exactly what an unmasked read needs: the buffer becomes a chunk. */
		p->obuf.cap = p->obuf.len + n + 1;
		p->obuf.s = xrealloc(p->obuf.s, p->obuf.cap);
	}
	mask_stream_feed(&p->ms[i], d, n, cmd_emit, p);
	cmd_deliver(p, i);
}

/* Stream i is over (EOF, error or closed by force): out with its held tail. */
static void cmd_stream_end(struct probe *p, int i)
{
	if (p->eof[i])
		return;
	uv_read_stop((uv_stream_t *)&p->pipe[i]);
	p->eof[i] = true;
	mask_stream_flush(&p->ms[i], cmd_emit, p);
	cmd_deliver(p, i);
}

/*
 * The group is killed (and what else held the output hunted): the pipes
 * are closed by force. A shell that survived SIGKILL (uninterruptible
 * sleep) is tried again.
 */
static void cmd_let_go(struct probe *p)
{
	for (int i = 0; i < 2; i++)
		cmd_stream_end(p, i);
	if (p->exited) {
		cmd_check_done(p);
		return;
	}
	cmd_kill_group(p, SIGKILL);
	p->timer_phase = TIMER_DRAIN;
	uv_timer_start(&p->timer, cmd_timer_cb, CMD_DRAIN_MS, 0);
}

/* A hunt is back: the pipes are let go of, or p freed if it finished meanwhile. */
static void cmd_hunted(struct probe *p)
{
	if (p->finished)
		cmd_maybe_free(p);
	else
		cmd_let_go(p);
}

/* The one timer, by phase: timeout → SIGTERM → SIGKILL → pipes closed by force. */
static void cmd_timer_cb(uv_timer_t *t)
{
	struct probe *p = t->data;
	char dur[64];
	switch (p->timer_phase) {
	case TIMER_TIMEOUT:
		if (p->stop == STOP_NONE)
			p->stop = STOP_TIMEOUT;
		cmd_kill_group(p, SIGTERM);
		p->timer_phase = TIMER_TERM;
		uv_timer_start(&p->timer, cmd_timer_cb, CMD_TERM_GRACE_MS, 0);
		break;
	case TIMER_TERM:
		cmd_kill_group(p, SIGKILL);
		p->timer_phase = TIMER_DRAIN;
		uv_timer_start(&p->timer, cmd_timer_cb, CMD_DRAIN_MS, 0);
		break;
	case TIMER_DRAIN:
		/* Something outside the group holds a pipe: hunted, then not waited for. */
		p->timer_phase = TIMER_IDLE;
		if (!proc_hunt(p))
			cmd_let_go(p);
		break;
	case TIMER_SPOOL:
		/* The job is done but the disk is not: report without the rest. */
		if (!p->spool_error) {
			units_format_duration(CMD_SPOOL_GRACE_MS, dur, sizeof dur);
			p->spool_error = xasprintf("%s: still %s %s after the command ended; spool incomplete",
			                           p->spool_path,
			                           p->spool_state == SPOOL_OPENING ? "opening"
			                           : p->spool_state == SPOOL_CLOSING ? "closing"
			                                                             : "writing",
			                           dur);
		}
		cmd_finish(p);
		break;
	case TIMER_SPAWN_FAILED:
		cmd_finish(p);
		break;
	case TIMER_LINGER:
		/* The shell is gone; what it left behind does not hold the step. */
		p->timer_phase = TIMER_IDLE;
		p->lingered = true;
		cmd_kill_group(p, SIGKILL);
		if (!proc_hunt(p))
			cmd_let_go(p);
		break;
	case TIMER_IDLE:
		break;
	}
}

static void cmd_tty_release(void);

/* The shell was reaped; the pipes may still be open. */
static void cmd_exited(struct probe *p, int64_t exit_status, int term_signal)
{
	if (p->watch == WATCH_PIDFD)
		cmd_close((uv_handle_t *)&p->pidpoll); /* its work is done */
	if (p->tty)
		cmd_tty_release();
	p->exited = true;
	p->exit_status = exit_status;
	p->term_signal = term_signal;
	cmd_check_done(p);
	if (!p->finished && !cmd_complete(p) &&
	    (p->timer_phase == TIMER_TIMEOUT || p->timer_phase == TIMER_IDLE)) {
		/* Done, but a pipe is still open: a short grace to drain it, no
		   longer than what is left of the timeout. */
		p->linger_ms = CMD_LINGER_MS;
		if (p->timeout_ms > 0) {
			uint64_t spent = (uv_hrtime() - p->t0) / 1000000;
			uint64_t left = (uint64_t)p->timeout_ms > spent ? (uint64_t)p->timeout_ms - spent : 0;
			if (left < p->linger_ms)
				p->linger_ms = left;
		}
		p->timer_phase = TIMER_LINGER;
		uv_timer_start(&p->timer, cmd_timer_cb, p->linger_ms, 0);
	}
}

/* Output from either pipe; EOF or a read error ends that stream. */
static void cmd_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct probe *p = s->data;
	int i = s == (uv_stream_t *)&p->pipe[1];
	if (nread > 0) {
		cmd_output(p, i, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	cmd_stream_end(p, i);
	cmd_check_done(p);
}

/* stdin is written (or could not be: the command exited without reading
   it all, EPIPE, or the probe finished): closed, so the command sees EOF. */
static void cmd_fed(uv_write_t *w, int status)
{
	(void)status;
	struct probe *p = w->handle->data;
	cmd_close((uv_handle_t *)&p->inpipe);
}

/*
 * Feeds stdin text through the loop: libuv writes what the pipe takes and
 * the rest as the command reads, so a command that prints a lot before it
 * reads never deadlocks against rbc (its output is read meanwhile).
 */
static void cmd_feed(struct probe *p, const char *text, size_t len)
{
	p->in_len = len;
	p->in_text = xmalloc(len + 1);
	memcpy(p->in_text, text, len);
	uv_buf_t b = uv_buf_init(p->in_text, (unsigned)len);
	if (len == 0 || uv_write(&p->inreq, (uv_stream_t *)&p->inpipe, &b, 1, cmd_fed) != 0)
		cmd_close((uv_handle_t *)&p->inpipe);
}

/* ---- commands with the terminal (terminal.h) ------------------------------ */

/* tty commands waiting for the terminal, oldest first. */
static struct probe *tty_head, *tty_tail;

/*
 * Gives the terminal to p's command and spawns it; a failure is reported on
 * the next loop turn, the terminal returned. Its time and timeout count from
 * here, not from a wait for the terminal.
 */
static bool cmd_tty_go(struct probe *p, const char *command, const char *cwd, const struct rb_kv *env)
{
	const char *why = NULL;
	int r = 0;
	p->t0 = uv_hrtime();
	if (!terminal_prepare(&why)) {
		p->spawn_error = xstrdup(why);
		r = UV_EBUSY;
	} else if ((r = proc_spawn(p, command, cwd, env)) != 0) {
		terminal_give_back();
	}
	if (r != 0) {
		p->timer_phase = TIMER_SPAWN_FAILED;
		uv_timer_start(&p->timer, cmd_timer_cb, 0, 0);
		return false;
	}
	p->spawned = true;
	terminal_take(p->pgid);
	p->eof[0] = p->eof[1] = true; /* its output is the terminal's */
	if (p->timeout_ms > 0) {
		p->timer_phase = TIMER_TIMEOUT;
		uv_timer_start(&p->timer, cmd_timer_cb, (uint64_t)p->timeout_ms, 0);
	}
	return true;
}

/* Another command holds the terminal: p waits its turn with copies of
   what it runs (the request is only lent to start). */
static void cmd_tty_wait(struct probe *p, const struct probe_req *req)
{
	p->w_command = xstrdup(req->command);
	p->w_cwd = req->cwd ? xstrdup(req->cwd) : NULL;
	for (size_t i = 0; req->env && i < req->env->n; i++)
		rb_kv_set(&p->w_env, req->env->keys[i], req->env->vals[i]);
	p->tty_waiting = true;
	if (tty_tail)
		tty_tail->tty_next = p;
	else
		tty_head = p;
	tty_tail = p;
}

/* Takes p out of the queue. */
static void cmd_tty_unqueue(struct probe *p)
{
	struct probe **pp = &tty_head, *prev = NULL;
	while (*pp && *pp != p) {
		prev = *pp;
		pp = &(*pp)->tty_next;
	}
	if (*pp) {
		*pp = p->tty_next;
		if (tty_tail == p)
			tty_tail = prev;
	}
	p->tty_next = NULL;
	p->tty_waiting = false;
}

/* The terminal comes back to rbc; the next command waiting for it gets it
   (one that cannot start is reported, and the one after it tried). */
static void cmd_tty_release(void)
{
	terminal_give_back();
	while (tty_head) {
		struct probe *next = tty_head;
		cmd_tty_unqueue(next);
		if (cmd_tty_go(next, next->w_command, next->w_cwd, &next->w_env))
			return;
	}
}

/*
 * Spawns the command. A spawn failure is still a started probe: its on_done
 * (error set) follows on the next loop turn, as the contract asks.
 */
static struct probe *cmd_start(const struct probe_ops *ops, const struct probe_req *req,
                               struct rbc_error *err)
{
	if (!req->loop || !req->command || !req->on_done) {
		rbc_error_set(err, "%s: no command to run", ops->name);
		return NULL;
	}
	struct probe *p = xcalloc(1, sizeof *p);
	p->ops = ops;
	p->loop = req->loop;
	p->on_output = req->on_output;
	p->on_done = req->on_done;
	p->ud = req->ud;
	p->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 0;
	p->spool_fd = -1;
	p->spool_dir = -1;
	p->pidfd = -1;
	p->on_exited = cmd_exited;
	p->on_hunted = cmd_hunted;
	p->t0 = uv_hrtime();
	for (int i = 0; i < 2; i++) {
		p->ring[i].cap = req->keep_bytes ? req->keep_bytes : CMD_KEEP_DEFAULT;
		mask_stream_init(&p->ms[i], req->mask);
	}

	uv_timer_init(p->loop, &p->timer);
	p->timer.data = p;
	p->nhandles++;
	for (int i = 0; i < 2; i++) {
		uv_pipe_init(p->loop, &p->pipe[i], 0);
		p->pipe[i].data = p;
		p->nhandles++;
	}
	uv_pipe_init(p->loop, &p->inpipe, 0);
	p->inpipe.data = p;
	p->nhandles++;
	p->in_fd = -1;
	p->tty = req->tty != 0;
	if (p->tty) {
		/* No output to read, spool or feed: the terminal is its. */
		if (terminal_lent()) {
			cmd_tty_wait(p, req);
			return p;
		}
		cmd_tty_go(p, req->command, req->cwd, req->env);
		return p;
	}

	int r = req->stdin_text ? proc_stdin_pipe(p) : 0;
	if (r == 0)
		r = proc_spawn(p, req->command, req->cwd, req->env);
	if (r != 0) {
		/* on_done never runs inside start: report on the next loop turn. */
		p->timer_phase = TIMER_SPAWN_FAILED;
		uv_timer_start(&p->timer, cmd_timer_cb, 0, 0);
		return p;
	}
	p->spawned = true;
	if (req->stdin_text)
		cmd_feed(p, req->stdin_text, req->stdin_len);
	if (req->spool_path) {
		/* Opened at the first byte of output (cmd_deliver), if one comes. */
		p->spool_path = xstrdup(req->spool_path);
		p->spool_dir = req->spool_dir >= 0 ? fcntl(req->spool_dir, F_DUPFD_CLOEXEC, 3) : -1;
		p->spool_state = SPOOL_WAITING;
	}
	for (int i = 0; i < 2; i++)
		uv_read_start((uv_stream_t *)&p->pipe[i], cmd_alloc_cb, cmd_read_cb);
	if (p->timeout_ms > 0) {
		p->timer_phase = TIMER_TIMEOUT;
		uv_timer_start(&p->timer, cmd_timer_cb, (uint64_t)p->timeout_ms, 0);
	}
	return p;
}

/* Kills the group as a timeout would; on_done follows with "cancelled". */
static void cmd_cancel(struct probe *p)
{
	if (p->finished)
		return;
	p->stop = STOP_CANCEL;
	if (p->tty_waiting) {
		/* Never started: out of the queue, reported on the next turn. */
		cmd_tty_unqueue(p);
		p->timer_phase = TIMER_SPAWN_FAILED;
		uv_timer_start(&p->timer, cmd_timer_cb, 0, 0);
		return;
	}
	if (!p->spawned)
		return; /* the pending spawn-failure report now says "cancelled" */
	if (cmd_complete(p)) {
		/* Only the spool is left: give it up now (on_done never runs in here). */
		p->timer_phase = TIMER_SPOOL;
		uv_timer_start(&p->timer, cmd_timer_cb, 0, 0);
		return;
	}
	if (p->timer_phase == TIMER_TERM || p->timer_phase == TIMER_DRAIN)
		return; /* already being killed */
	cmd_kill_group(p, SIGTERM);
	p->timer_phase = TIMER_TERM;
	uv_timer_start(&p->timer, cmd_timer_cb, CMD_TERM_GRACE_MS, 0);
}

/* ops->start of run. */
static struct probe *run_start(const struct probe_req *req, struct rbc_error *err)
{
	return cmd_start(&probe_run_ops, req, err);
}

/* ops->start of nagios. */
static struct probe *nagios_start(const struct probe_req *req, struct rbc_error *err)
{
	return cmd_start(&probe_nagios_ops, req, err);
}

/* ------------------------------------------------------- the step */

/* The "command" key of a run or nagios step. */
static void cmd_key_command(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_cmd_step *)t)->command = keys_text(r, m);
}

/* The "cwd" key: ${NAME} checked, expanded when the step runs. */
static void cmd_key_cwd(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_cmd_step *)t)->cwd = keys_xtext(r, m);
}

/* The "env" key: variable names to text. */
static void cmd_key_env(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_kv(r, m, &((struct probe_cmd_step *)t)->env, true, false, true);
}

static const struct keys_member cmd_keys[] = {
	{"command", cmd_key_command}, {"cwd", cmd_key_cwd}, {"env", cmd_key_env},
};

/* The load of run and nagios: a command string, or an object with
   "command". */
static void cmd_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct probe_cmd_step *cmd = xcalloc(1, sizeof *cmd);
	s->action_data = cmd;
	if (cJSON_IsString(m)) {
		cmd->command = keys_text(r, m);
		return;
	}
	if (!keys_want_object(r, m, "a command string or an object with \"command\""))
		return;
	keys_walk(r, m, cmd_keys, RBC_ARRAY_LEN(cmd_keys), cmd);
	keys_require(r, m, "command", NULL);
}

/* What load hung on the step. */
static void cmd_free_data(void *data)
{
	struct probe_cmd_step *cmd = data;
	if (!cmd)
		return;
	free(cmd->command);
	free(cmd->cwd);
	free(cmd->stdin_text);
	rb_kv_free(&cmd->env);
	free(cmd);
}

/* The step's own data (a loaded step always has it). */
static const struct probe_cmd_step *cmd_of(const struct rb_step *s)
{
	static const struct probe_cmd_step none = {0};
	return s->action_data ? s->action_data : &none;
}

/* The step's own "env", for the engine to put on top of the run's. */
static const struct rb_kv *cmd_step_env(const struct rb_step *s)
{
	return &cmd_of(s)->env;
}

/* The command as written, for the detail pane's list of its variables. */
static const char *cmd_shell_text(const struct rb_step *s)
{
	return cmd_of(s)->command;
}

/* The build of run and nagios: the command as written (variables are its
   environment, never spliced), cwd expanded, output spooled when the run keeps files. */
static bool cmd_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                      char **error)
{
	const struct probe_cmd_step *cmd = cmd_of(s);
	q->command = cmd->command;
	if (cmd->cwd) {
		if (!b->expand(b, cmd->cwd, PROBE_QUOTE_PLAIN, &q->cwd, error))
			return false;
	} else {
		q->cwd = b->dir;
	}
	if (cmd->stdin_text) {
		if (!b->expand(b, cmd->stdin_text, PROBE_QUOTE_PLAIN, &q->stdin_text, error))
			return false;
		q->stdin_len = strlen(q->stdin_text);
	}
	q->tty = cmd->tty;
	struct rb_kv *env = probe_build_kv(b);
	if (!b->environ(b, env, error))
		return false;
	q->env = env;
	b->spool(b, &q->spool_path, &q->spool_dir);
	return true;
}

/* The step-level keys of run and nagios: "stdin" (text, ${NAME} checked,
   may be empty) and, for run only, "tty". */
static bool cmd_step_key(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct probe_cmd_step *cmd = s->action_data;
	if (!cmd)
		return true; /* the action was refused: reported already */
	if (strcmp(m->string, "stdin") == 0) {
		if (keys_want_string(r, m)) {
			keys_scan_refs(r, m);
			free(cmd->stdin_text);
			cmd->stdin_text = xstrdup(m->valuestring);
		}
		return true;
	}
	if (strcmp(m->string, "tty") == 0 && s->action == RB_RUN) {
		keys_bool(r, m, &cmd->tty);
		return true;
	}
	return false;
}

/* Whether the run step has the terminal. */
static bool cmd_needs_terminal(const struct rb_step *s)
{
	return cmd_of(s)->tty;
}

/* What the command is fed, as written (its first 200 bytes), after a describe. */
static void cmd_describe_stdin(const struct rb_step *s, struct strbuf *sb)
{
	const char *in = cmd_of(s)->stdin_text;
	if (!in)
		return;
	size_t n = strlen(in), keep = n > 200 ? 200 : n;
	while (keep < n && keep > 0 && ((unsigned char)in[keep] & 0xC0) == 0x80)
		keep--; /* not inside a character */
	sb_addf(sb, "\nstdin: %.*s%s", (int)keep, in, keep < n ? "…" : "");
}

/* The describe of run: "$ command". */
static void run_describe(const struct rb_step *s, struct strbuf *sb)
{
	sb_addf(sb, "$ %s", cmd_of(s)->command);
	cmd_describe_stdin(s, sb);
}

/* The describe of nagios: "plugin $ command". */
static void nagios_describe(const struct rb_step *s, struct strbuf *sb)
{
	sb_addf(sb, "plugin $ %s", cmd_of(s)->command);
	cmd_describe_stdin(s, sb);
}

const struct probe_ops probe_run_ops = {
	.action = RB_RUN,
	.name = "run",
	.keys = cmd_keys,
	.nkeys = RBC_ARRAY_LEN(cmd_keys),
	.load = cmd_load,
	.free_data = cmd_free_data,
	.build = cmd_build,
	.describe = run_describe,
	.describe_verbatim = true,
	.step_env = cmd_step_env,
	.shell_text = cmd_shell_text,
	.step_key = cmd_step_key,
	.needs_terminal = cmd_needs_terminal,
	.start = run_start,
	.cancel = cmd_cancel,
};

const struct probe_ops probe_nagios_ops = {
	.action = RB_NAGIOS,
	.name = "nagios",
	.keys = cmd_keys,
	.nkeys = RBC_ARRAY_LEN(cmd_keys),
	.load = cmd_load,
	.free_data = cmd_free_data,
	.build = cmd_build,
	.describe = nagios_describe,
	.describe_verbatim = true,
	.step_env = cmd_step_env,
	.shell_text = cmd_shell_text,
	.step_key = cmd_step_key,
	.start = nagios_start,
	.cancel = cmd_cancel,
};

/*
 * commands.c — joiners' commands through PostgreSQL (commands.h): the
 * driver's listener (LISTEN rbc_commands, the run's pending rows in id
 * order, each row's state set once the session has judged it) and the
 * joiner's sender (one INSERT that NOTIFYs in the same statement). Both sit
 * on one small connection core: libpq's non-blocking connect (pgwait.h),
 * one statement at a time on a uv_poll of its socket, a lost connection
 * tried again with backoff. Nothing blocks the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "pgwait.h"
#include "rbc/commands.h"
#include "rbc/util.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 3000
#define READ_ROWS 100

/* The joiner's insert: the row and its NOTIFY, one statement. */
static const char insert_sql[] =
	"WITH c AS (INSERT INTO rbc_commands (run, operator, host, kind, step, value, note, detail)\n"
	"           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING run)\n"
	"SELECT pg_notify('rbc_commands', run) FROM c";

/* The driver's read: the run's pending rows after the last taken, each
   field cut at COMMAND_FIELD_MAX with its whole length. */
static const char read_sql[] =
	"SELECT id, left(operator, 4096), length(operator), left(host, 4096), length(host),\n"
	"       left(kind, 4096), length(kind), left(step, 4096), length(step),\n"
	"       left(value, 4096), length(value), left(note, 4096), length(note),\n"
	"       left(detail::text, 4096), length(detail::text)\n"
	"FROM rbc_commands WHERE run = $1 AND state = 'pending' AND id > $2 ORDER BY id LIMIT 100";

/* The driver's verdicts: $1 a JSON array of {id, state, why, forget}. */
static const char update_sql[] =
	"UPDATE rbc_commands c SET state = u.state, why = u.why,\n"
	"  value = CASE WHEN coalesce(u.forget, false) THEN NULL ELSE c.value END\n"
	"FROM jsonb_to_recordset($1::jsonb) AS u(id bigint, state text, why text, forget boolean)\n"
	"WHERE c.id = u.id AND c.state = 'pending'";

/* ---- the connection core ------------------------------------------------- */

struct cconn;
struct cconn_ops {
	void (*up)(struct cconn *c);                  /* connected: the first statement */
	void (*result)(struct cconn *c, PGresult *r); /* each result of the statement */
	void (*idle)(struct cconn *c);                /* the statement is done */
	void (*notify)(struct cconn *c, PGnotify *n); /* a notification (not freed here) */
	void (*freed)(struct cconn *c);               /* stopped and every handle closed */
};

struct cconn {
	const struct cconn_ops *ops;
	uv_loop_t *loop;
	char *url, *host, *app;
	char addr[PGWAIT_ADDR];
	PGconn *pg;
	struct pgsock sock;
	uv_timer_t retry;
	uint64_t delay;
	struct pgwait *pw;
	bool busy;                /* a statement is under way */
	bool ever, stopping, keep;
	int closing;
	const char *state;        /* "db lost, retrying", NULL while up */
};

static void cc_connect(struct cconn *c);
static void cc_on_poll(uv_poll_t *p, int status, int events);

/* A handle closed: the last frees a stopped connection's owner. */
static void cc_closed(uv_handle_t *h)
{
	struct cconn *c = h->data;
	if (h != (uv_handle_t *)&c->retry)
		free(h);
	if (--c->closing == 0 && c->stopping)
		c->ops->freed(c);
}

/* The handles keep the loop going, or not. */
static void cc_ref(struct cconn *c)
{
	void (*f)(uv_handle_t *) = c->keep ? uv_ref : uv_unref;
	f((uv_handle_t *)&c->retry);
	if (c->sock.poll)
		f((uv_handle_t *)c->sock.poll);
}

/* The backoff is over: connect again. */
static void cc_on_retry(uv_timer_t *t)
{
	cc_connect(t->data);
}

/* The connection is lost: tried again later. */
static void cc_down(struct cconn *c)
{
	pgsock_close(&c->sock);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->busy = false;
	c->state = c->ever ? "db lost, retrying" : "db: connecting";
	c->delay = c->delay ? c->delay * 2 : RETRY_MIN_MS;
	if (c->delay > RETRY_MAX_MS)
		c->delay = RETRY_MAX_MS;
	uv_timer_start(&c->retry, cc_on_retry, c->delay, 0);
}

/* Waits on the socket for events (a new poll held as keep says); down
   when it cannot. */
static void cc_wait(struct cconn *c, int events)
{
	if (pgsock_wait(&c->sock, c->loop, c->pg, events, cc_on_poll, c, c->keep) < 0)
		cc_down(c);
}

/* Sends one statement with its text parameters; false when it could not go. */
static bool cc_send(struct cconn *c, const char *sql, int n, const char *const *params)
{
	if (!c->pg || c->busy)
		return false;
	if (!PQsendQueryParams(c->pg, sql, n, NULL, params, NULL, NULL, 0)) {
		cc_down(c);
		return false;
	}
	c->busy = true;
	cc_wait(c, PQflush(c->pg) == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
	return true;
}

/* The notifications libpq has read, each to the side's handler. */
static void cc_notifies(struct cconn *c)
{
	PGnotify *n;
	while (c->pg && (n = PQnotifies(c->pg))) {
		if (c->ops->notify)
			c->ops->notify(c, n);
		PQfreemem(n);
	}
}

/* The socket is ready: the statement's results, the notifications. */
static void cc_on_poll(uv_poll_t *p, int status, int events)
{
	struct cconn *c = p->data;
	if (status < 0) {
		cc_down(c);
		return;
	}
	if ((events & UV_WRITABLE) && PQflush(c->pg) == 1)
		return;
	if (!PQconsumeInput(c->pg)) {
		cc_down(c);
		return;
	}
	cc_notifies(c);
	while (c->busy && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			c->busy = false;
			c->ops->idle(c);
			if (!c->pg)
				return; /* gone meanwhile */
			break;
		}
		c->ops->result(c, r);
		PQclear(r);
		if (!c->pg)
			return;
	}
	/* A NOTIFY that came behind the results is in libpq's buffer now, not
	   on the socket: taken here, or it would wait for the next one. */
	if (c->pg)
		cc_notifies(c);
	if (c->pg && !c->busy && c->ops->notify) /* idle: notifications may come */
		cc_wait(c, UV_READABLE);
	else if (c->pg && c->busy)
		cc_wait(c, UV_READABLE);
}

/* Connected (pgwait.h), or not: tried again. */
static void cc_on_connected(void *ud, PGconn *pg, uv_poll_t *poll, const char *err)
{
	struct cconn *c = ud;
	(void)err;
	c->pw = NULL;
	if (!pg) {
		cc_down(c);
		return;
	}
	c->pg = pg;
	pgsock_adopt(&c->sock, poll, pg, c);
	cc_ref(c); /* keep may have changed while connecting */
	c->ever = true;
	c->delay = 0;
	c->state = NULL;
	c->ops->up(c);
}

/* Starts a connection: the host name resolved first, never on the loop thread. */
static void cc_connect(struct cconn *c)
{
	if (c->stopping)
		return;
	c->addr[0] = '\0';
	c->pw = pgwait_start(c->loop, c->url, c->app, c->host, c->addr, false, !c->keep, cc_on_connected, c);
}

/* Sets up and starts the core. */
static void cc_start(struct cconn *c, const struct cconn_ops *ops, uv_loop_t *loop, const char *url, const char *app)
{
	c->ops = ops;
	c->loop = loop;
	c->url = xstrdup(url);
	c->app = xstrdup(app);
	c->host = pgwait_host(url);
	c->sock = (struct pgsock){.fd = -1, .closed = cc_closed, .closing = &c->closing};
	c->state = "db: connecting";
	uv_timer_init(loop, &c->retry);
	c->retry.data = c;
	cc_ref(c);
	cc_connect(c);
}

/* Stops the core; its owner is freed (ops->freed) once the handles are closed. */
static void cc_stop(struct cconn *c)
{
	c->stopping = true;
	pgwait_cancel(c->pw);
	c->pw = NULL;
	pgsock_close(&c->sock);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	free(c->url);
	free(c->app);
	free(c->host);
	c->closing++;
	uv_timer_stop(&c->retry);
	uv_close((uv_handle_t *)&c->retry, cc_closed);
}

/* ---- the driver's listener ------------------------------------------------ */

enum lphase { LP_LISTEN, LP_READ, LP_UPDATE };

struct cmd_listen {
	struct cconn c;           /* first: the core's pointer is the listener's */
	char *run;
	command_take_cb *take;
	void *ud;
	enum lphase phase;
	bool again;               /* a notification came meanwhile */
	long long last;           /* the last id taken by this process */
	cJSON *verdicts;          /* {id, state, why} not yet stored */
	cJSON *sending;           /* the batch under way */
};

/* The run's pending rows after the last taken. */
static void l_read(struct cmd_listen *l)
{
	char last[32];
	snprintf(last, sizeof last, "%lld", l->last);
	const char *p[] = {l->run, last};
	l->again = false;
	if (cc_send(&l->c, read_sql, 2, p))
		l->phase = LP_READ;
}

/* The verdicts not yet stored, in one statement. */
static void l_update(struct cmd_listen *l)
{
	char *json = cJSON_PrintUnformatted(l->verdicts);
	const char *p[] = {json};
	if (cc_send(&l->c, update_sql, 1, p)) {
		l->phase = LP_UPDATE;
		l->sending = l->verdicts;
		l->verdicts = cJSON_CreateArray();
	}
	free(json);
}

/* What to do next, the connection idle: store verdicts, read again. */
static void l_next(struct cmd_listen *l)
{
	if (!l->c.pg || l->c.busy)
		return;
	if (cJSON_GetArraySize(l->verdicts))
		l_update(l);
	else if (l->again)
		l_read(l);
}

/* Connected: LISTEN first, then the rows pending. */
static void l_up(struct cconn *c)
{
	struct cmd_listen *l = (struct cmd_listen *)c;
	/* A batch under way when the connection went: sent again. */
	if (l->sending) {
		cJSON *e;
		while ((e = cJSON_DetachItemFromArray(l->sending, 0)))
			cJSON_AddItemToArray(l->verdicts, e);
		cJSON_Delete(l->sending);
		l->sending = NULL;
	}
	l->again = true;
	if (cc_send(c, "LISTEN rbc_commands", 0, NULL))
		l->phase = LP_LISTEN;
}

/* A field of row i (NULL for SQL NULL) and its whole length. */
static const char *l_field(PGresult *r, int i, int col, long long *len)
{
	if (PQgetisnull(r, i, col)) {
		*len = 0;
		return NULL;
	}
	*len = strtoll(PQgetvalue(r, i, col + 1), NULL, 10);
	return PQgetvalue(r, i, col);
}

/* The rows read: each taken in order, its verdict queued. */
static void l_rows(struct cmd_listen *l, PGresult *r)
{
	for (int i = 0; i < PQntuples(r) && !l->c.stopping; i++) {
		struct command cmd = {.id = strtoll(PQgetvalue(r, i, 0), NULL, 10)};
		if (cmd.id <= l->last)
			continue;
		cmd.operator = l_field(r, i, 1, &cmd.len_operator);
		cmd.host = l_field(r, i, 3, &cmd.len_host);
		cmd.kind = l_field(r, i, 5, &cmd.len_kind);
		cmd.step = l_field(r, i, 7, &cmd.len_step);
		cmd.value = l_field(r, i, 9, &cmd.len_value);
		cmd.note = l_field(r, i, 11, &cmd.len_note);
		cmd.detail = l_field(r, i, 13, &cmd.len_detail);
		l->last = cmd.id;
		bool applied = false, forget = false;
		char *why = NULL;
		l->take(l->ud, &cmd, &applied, &why, &forget);
		cJSON *v = cJSON_CreateObject();
		cJSON_AddNumberToObject(v, "id", (double)cmd.id);
		cJSON_AddStringToObject(v, "state", applied ? "applied" : "refused");
		if (why)
			cJSON_AddStringToObject(v, "why", why);
		if (forget)
			cJSON_AddTrueToObject(v, "forget");
		cJSON_AddItemToArray(l->verdicts, v);
		free(why);
	}
	if (PQntuples(r) == READ_ROWS)
		l->again = true; /* more than one read's worth */
}

/* A result of the statement under way. */
static void l_result(struct cconn *c, PGresult *r)
{
	struct cmd_listen *l = (struct cmd_listen *)c;
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		/* No table yet (a database of an older rbc), a privilege missing:
		   tried again later, as a lost connection is. */
		cc_down(c);
		return;
	}
	if (l->phase == LP_READ)
		l_rows(l, r);
	else if (l->phase == LP_UPDATE) {
		cJSON_Delete(l->sending);
		l->sending = NULL;
	}
}

/* The statement is done: the next one. */
static void l_idle(struct cconn *c)
{
	l_next((struct cmd_listen *)c);
}

/* NOTIFY rbc_commands: read when it names this run. */
static void l_notify(struct cconn *c, PGnotify *n)
{
	struct cmd_listen *l = (struct cmd_listen *)c;
	if (strcmp(n->relname, "rbc_commands") == 0 && strcmp(n->extra, l->run) == 0) {
		l->again = true;
		l_next(l);
	}
}

/* Every handle closed: the listener goes. */
static void l_freed(struct cconn *c)
{
	struct cmd_listen *l = (struct cmd_listen *)c;
	cJSON_Delete(l->verdicts);
	cJSON_Delete(l->sending);
	free(l->run);
	free(l);
}

static const struct cconn_ops listen_ops = {
	.up = l_up, .result = l_result, .idle = l_idle, .notify = l_notify, .freed = l_freed,
};

struct cmd_listen *cmd_listen_start(uv_loop_t *loop, const char *url, const char *run, bool keep,
                                    command_take_cb *take, void *ud)
{
	struct cmd_listen *l = xcalloc(1, sizeof *l);
	l->c.keep = keep;
	l->run = xstrdup(run);
	l->take = take;
	l->ud = ud;
	l->verdicts = cJSON_CreateArray();
	cc_start(&l->c, &listen_ops, loop, url, "rbc commands");
	return l;
}

void cmd_listen_keep(struct cmd_listen *l, bool keep)
{
	if (!l || l->c.keep == keep)
		return;
	l->c.keep = keep;
	cc_ref(&l->c);
}

bool cmd_listen_pending(const struct cmd_listen *l)
{
	return l && l->c.pg && (l->sending || cJSON_GetArraySize(l->verdicts));
}

void cmd_listen_stop(struct cmd_listen *l)
{
	if (l)
		cc_stop(&l->c);
}

/* ---- the joiner's sender --------------------------------------------------- */

struct cmd_sender {
	struct cconn c;
	char *run, *operator, *host;
	char **rows;              /* queued: 5 fields each (kind … detail), NULL for none */
	size_t nrows, cap;
	bool sending;             /* the first queued row is under way */
	void (*say)(void *ud, const char *text);
	void *ud;
};

/* The first queued row, when the connection is free. */
static void s_next(struct cmd_sender *s)
{
	if (!s->nrows || !s->c.pg || s->c.busy)
		return;
	const char *p[8] = {s->run, s->operator, s->host};
	for (int i = 0; i < 5; i++)
		p[3 + i] = s->rows[i];
	if (cc_send(&s->c, insert_sql, 8, p))
		s->sending = true;
}

/* The first queued row leaves the queue. */
static void s_drop(struct cmd_sender *s)
{
	for (int i = 0; i < 5; i++)
		free(s->rows[i]);
	s->nrows--;
	memmove(s->rows, s->rows + 5, s->nrows * 5 * sizeof *s->rows);
}

/* Connected: what is queued goes. */
static void s_up(struct cconn *c)
{
	struct cmd_sender *s = (struct cmd_sender *)c;
	s->sending = false;
	s_next(s);
}

/* The insert's result: stored, or refused by the server (said, dropped). */
static void s_result(struct cconn *c, PGresult *r)
{
	struct cmd_sender *s = (struct cmd_sender *)c;
	if (!s->sending)
		return;
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && PQstatus(c->pg) == CONNECTION_BAD) {
		cc_down(c); /* the server went away under the insert: the row is sent again */
		return;
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && s->say) {
		const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		char *t = xasprintf("the command was not stored: %s", m ? m : "the database refused it");
		s->say(s->ud, t);
		free(t);
	}
	s_drop(s);
	s->sending = false;
}

/* The statement is done: the next row. */
static void s_idle(struct cconn *c)
{
	s_next((struct cmd_sender *)c);
}

/* Every handle closed: the sender goes. */
static void s_freed(struct cconn *c)
{
	struct cmd_sender *s = (struct cmd_sender *)c;
	while (s->nrows)
		s_drop(s);
	free(s->rows);
	free(s->run);
	free(s->operator);
	free(s->host);
	free(s);
}

static const struct cconn_ops sender_ops = {
	.up = s_up, .result = s_result, .idle = s_idle, .freed = s_freed,
};

struct cmd_sender *cmd_sender_start(uv_loop_t *loop, const char *url, const char *run, const char *operator,
                                    const char *host, void (*say)(void *ud, const char *text), void *ud)
{
	struct cmd_sender *s = xcalloc(1, sizeof *s);
	s->run = xstrdup(run);
	s->operator = xstrdup(operator);
	s->host = xstrdup(host);
	s->say = say;
	s->ud = ud;
	cc_start(&s->c, &sender_ops, loop, url, "rbc join");
	return s;
}

void cmd_send(struct cmd_sender *s, const char *kind, const char *step, const char *value, const char *note,
              const char *detail)
{
	if (s->nrows == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->rows = xrealloc(s->rows, s->cap * 5 * sizeof *s->rows);
	}
	const char *f[5] = {kind, step, value, note, detail};
	for (int i = 0; i < 5; i++)
		s->rows[s->nrows * 5 + i] = f[i] ? xstrdup(f[i]) : NULL;
	s->nrows++;
	s_next(s);
}

size_t cmd_sender_pending(const struct cmd_sender *s)
{
	return s ? s->nrows : 0;
}

/* The i-th command queued (commands.h). */
const char *cmd_sender_queued(const struct cmd_sender *s, size_t i, const char **step, bool *under_way)
{
	if (!s || i >= s->nrows)
		return NULL;
	*step = s->rows[i * 5 + 1];
	*under_way = i == 0 && s->sending && s->c.pg;
	return s->rows[i * 5];
}

const char *cmd_sender_state(const struct cmd_sender *s)
{
	return s ? s->c.state : NULL;
}

void cmd_sender_stop(struct cmd_sender *s)
{
	if (s)
		cc_stop(&s->c);
}

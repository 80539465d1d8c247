/*
 * follow_db.c — a run followed from PostgreSQL (follow.h): its rows of
 * rbc_events read by seq on start, on each NOTIFY rbc_events naming the
 * run, and after a reconnection — applied strictly in order, a seq at or
 * below the last applied ignored, so nothing is missed or taken twice. The
 * connection never blocks the loop: libpq's non-blocking connect and
 * queries on a uv_poll of its socket, a lost connection tried again with
 * backoff (the source's state says so meanwhile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pgwait.h"
#include "rbc/follow.h"
#include "rbc/util.h"

#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 3000

enum fphase { FP_DOWN, FP_CONNECTING, FP_LISTEN, FP_IDLE, FP_READING };

struct follow_db {
	uv_loop_t *loop;
	struct follower *f;
	char *url, *run;
	PGconn *pg;
	struct pgsock sock;       /* its poll keeps the loop going */
	uv_timer_t retry;
	uint64_t delay;
	enum fphase phase;
	bool again;               /* a notification came while reading */
	bool ever;                /* connected once */
	bool stopping;
	int closing;
	const char **state;       /* the console's mark: "db lost, retrying", NULL when up */
	char *host;               /* the one host name to resolve (uv_getaddrinfo), or NULL */
	struct pgwait *pw;        /* the connection under way */
	char addr[PGWAIT_ADDR];
};

static void fdb_connect(struct follow_db *d);
static void on_poll(uv_poll_t *p, int status, int events);

/* The socket's poll is closed; the last handle frees a stopped source. */
static void poll_closed(uv_handle_t *h)
{
	struct follow_db *d = h->data;
	free(h);
	if (--d->closing == 0 && d->stopping)
		free(d);
}

/* The backoff is over: connect again. */
static void on_retry(uv_timer_t *t)
{
	fdb_connect(t->data);
}

/* The connection is lost: said in the header, tried again later. */
static void down(struct follow_db *d)
{
	pgsock_close(&d->sock);
	if (d->pg)
		PQfinish(d->pg);
	d->pg = NULL;
	d->phase = FP_DOWN;
	if (d->ever && !*d->state)
		follower_say(d->f, "the database connection is lost: retrying");
	*d->state = d->ever ? "db lost, retrying" : "db: connecting";
	d->delay = d->delay ? d->delay * 2 : RETRY_MIN_MS;
	if (d->delay > RETRY_MAX_MS)
		d->delay = RETRY_MAX_MS;
	uv_timer_start(&d->retry, on_retry, d->delay, 0);
}

/* Waits on the connection's socket for events; down when it cannot. */
static void poll_wait(struct follow_db *d, int events)
{
	if (pgsock_wait(&d->sock, d->loop, d->pg, events, on_poll, d, true) < 0)
		down(d);
}

/* Sends sql with the run (and the last seq) and waits for its result. */
static void fdb_send(struct follow_db *d, const char *sql, int nparams, enum fphase next)
{
	char seq[32];
	snprintf(seq, sizeof seq, "%lld", follower_seq(d->f));
	const char *params[] = {d->run, seq};
	if (!PQsendQueryParams(d->pg, sql, nparams, NULL, nparams ? params : NULL, NULL, NULL, 0)) {
		down(d);
		return;
	}
	d->phase = next;
	poll_wait(d, PQflush(d->pg) == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* The rows after the last seq applied. */
static void read_rows(struct follow_db *d)
{
	d->again = false;
	fdb_send(d, "SELECT seq, event::text FROM rbc_events WHERE run = $1 AND seq > $2 ORDER BY seq", 2, FP_READING);
}

/* Rows in seq order: each next one applied; a seq at or below the last is
   ignored, a gap waits for the rows before it. */
static void take_rows(struct follow_db *d, PGresult *r)
{
	for (int i = 0; i < PQntuples(r) && !follower_stopped(d->f); i++) {
		long long seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		if (seq <= follower_seq(d->f))
			continue;
		if (seq != follower_seq(d->f) + 1)
			break;
		char *line = xasprintf("%s\n", PQgetvalue(r, i, 1));
		follower_line(d->f, line, strlen(line));
		free(line);
	}
}

/* Notifications for this run: read on (after the read under way). */
static void notifications(struct follow_db *d)
{
	PGnotify *n;
	while ((n = PQnotifies(d->pg))) {
		size_t rl = strlen(d->run);
		if (strncmp(n->extra, d->run, rl) == 0 && n->extra[rl] == ' ' &&
		    strtoll(n->extra + rl + 1, NULL, 10) > follower_seq(d->f))
			d->again = true;
		PQfreemem(n);
	}
}

/* The socket is ready: the connection, the results, the notifications. */
static void on_poll(uv_poll_t *p, int status, int events)
{
	struct follow_db *d = p->data;
	if (status < 0) {
		down(d);
		return;
	}
	if ((events & UV_WRITABLE) && PQflush(d->pg) == 1)
		return;
	if (!PQconsumeInput(d->pg)) {
		down(d);
		return;
	}
	notifications(d);
	while (!PQisBusy(d->pg)) {
		PGresult *r = PQgetResult(d->pg);
		if (!r) {
			/* the statement is done: a catch-up after LISTEN, or more. A
			   NOTIFY that came behind the results is in libpq's buffer by
			   now, not on the socket: taken here, or it would wait for the
			   next batch. */
			notifications(d);
			enum fphase was = d->phase;
			d->phase = FP_IDLE;
			if (was == FP_LISTEN || d->again)
				read_rows(d);
			else
				poll_wait(d, UV_READABLE);
			return;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			PQclear(r);
			down(d);
			return;
		}
		if (d->phase == FP_READING)
			take_rows(d, r);
		PQclear(r);
	}
	if (d->phase == FP_IDLE && d->again)
		read_rows(d);
	else
		poll_wait(d, UV_READABLE);
}

/* Connected: LISTEN, then the rows missed; or not, tried again (pgwait.h). */
static void on_connected(void *ud, PGconn *pg, uv_poll_t *poll, const char *err)
{
	struct follow_db *d = ud;
	(void)err;
	d->pw = NULL;
	if (!pg) {
		down(d);
		return;
	}
	d->pg = pg;
	pgsock_adopt(&d->sock, poll, pg, d);
	if (*d->state && d->ever)
		follower_say(d->f, "the database is back: catching up");
	d->ever = true;
	d->delay = 0;
	*d->state = NULL;
	fdb_send(d, "LISTEN rbc_events", 0, FP_LISTEN);
}

/* Starts a connection: the host name resolved first, never on the loop thread. */
static void fdb_connect(struct follow_db *d)
{
	if (d->stopping)
		return;
	d->addr[0] = '\0';
	d->phase = FP_CONNECTING;
	d->pw = pgwait_start(d->loop, d->url, "rbc follow", d->host, d->addr, false, false, on_connected, d);
}

/* Starts following run from url (follow.h). */
struct follow_db *follow_db_start(uv_loop_t *loop, const char *url, const char *run, struct follower *f,
                                  const char **state)
{
	struct follow_db *d = xcalloc(1, sizeof *d);
	d->loop = loop;
	d->f = f;
	d->url = xstrdup(url);
	d->run = xstrdup(run);
	d->state = state;
	d->sock = (struct pgsock){.fd = -1, .closed = poll_closed, .closing = &d->closing};
	d->host = pgwait_host(url);
	*state = "db: connecting";
	uv_timer_init(loop, &d->retry);
	d->retry.data = d;
	fdb_connect(d);
	return d;
}

/* The retry timer is closed: the stopped source is freed. */
static void timer_closed(uv_handle_t *h)
{
	struct follow_db *d = h->data;
	if (--d->closing == 0)
		free(d);
}

/* Stops following; freed once its handles are closed. */
void follow_db_stop(struct follow_db *d)
{
	if (!d)
		return;
	d->stopping = true;
	pgwait_cancel(d->pw);
	d->pw = NULL;
	pgsock_close(&d->sock);
	if (d->pg)
		PQfinish(d->pg);
	d->pg = NULL;
	free(d->url);
	free(d->run);
	free(d->host);
	d->closing++;
	uv_timer_stop(&d->retry);
	uv_close((uv_handle_t *)&d->retry, timer_closed);
}

/* The run's header from rbc_runs, before the console opens (follow.h). */
char *follow_db_header(const char *url, const char *run, struct rbc_error *err)
{
	PGconn *pg = pgwait_connect_now(url, "rbc follow", "10", err);
	if (!pg)
		return NULL;
	const char *params[] = {run};
	PGresult *r = PQexecParams(pg, "SELECT header::text FROM rbc_runs WHERE run = $1", 1, NULL, params, NULL, NULL, 0);
	char *text = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
	if (!text)
		rbc_error_set(err, "run %s is not in the database", run);
	PQclear(r);
	PQfinish(pg);
	return text;
}

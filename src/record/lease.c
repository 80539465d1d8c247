/*
 * lease.c — the driver's lease on a run: claimed, beaten, released over a
 * non-blocking libpq connection the loop polls (lease.h, docs/team.md).
 *
 * One statement at a time: the schema (as the history makes it), the claim,
 * then a beat every interval, and the release at the end. A beat due while
 * a statement is in flight is skipped, never queued; a lost connection is
 * tried again at the next beat, and renews the lease if it is still ours.
 * Claimed once, the lease is never claimed again: a beat that finds the
 * row another's (taken over) or gone says the lease is lost, and the
 * lease stops (docs/team.md, "Handover").
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgwait.h"
#include "rbc/history.h"
#include "rbc/lease.h"
#include "rbc/util.h"

enum phase { PH_DOWN, PH_CONNECTING, PH_BUSY, PH_IDLE, PH_DONE };
enum what { W_SCHEMA, W_CLAIM, W_BEAT, W_RELEASE };

struct lease {
	uv_loop_t *loop;
	char *url, *run, *holder, *host, *state;
	char pid[24], expiry[48];
	char addr[PGWAIT_ADDR];        /* resolved once, kept */
	bool claimed, finishing;
	bool held_once, lost;          /* claimed at least once; taken from us */
	char *taker;                   /* who holds it now, when lost */
	void (*on_change)(void *ud, bool held, const char *who);
	void *change_ud;
	enum phase phase;
	enum what what;
	PGconn *pg;
	struct pgsock sock;            /* its poll never keeps the loop going */
	bool flushing;
	uv_timer_t beat, grace;
	struct pgwait *pw;             /* the connection under way */
	uint64_t beats, interval;
	void (*done)(void *ud);
	void *done_ud;
	int closing;
};

/* The first claim: the row is ours unless another's is alive; the second
   column names the row's holder before (what a refusal is told). */
static const char claim_sql[] =
	"WITH cur AS (SELECT holder FROM rbc_leases WHERE run = $1),\n"
	"ins AS (INSERT INTO rbc_leases (run, holder, pid, beat, expires)\n"
	"        VALUES ($1, $2, $3::integer, now(), now() + $4::interval)\n"
	"        ON CONFLICT (run) DO UPDATE SET holder = EXCLUDED.holder, pid = EXCLUDED.pid,\n"
	"          beat = EXCLUDED.beat, expires = EXCLUDED.expires\n"
	"        WHERE rbc_leases.expires <= now()\n"
	"           OR (rbc_leases.holder = EXCLUDED.holder AND rbc_leases.pid = EXCLUDED.pid)\n"
	"        RETURNING 1)\n"
	"SELECT (SELECT count(*) FROM ins), (SELECT holder FROM cur)";
/* A beat: only a row still ours is renewed. */
static const char beat_sql[] =
	"WITH u AS (UPDATE rbc_leases SET beat = now(), expires = now() + $4::interval\n"
	"           WHERE run = $1 AND holder = $2 AND pid = $3::integer RETURNING 1)\n"
	"SELECT (SELECT count(*) FROM u), (SELECT holder FROM rbc_leases WHERE run = $1)";
/* Every statement takes the same four parameters: the release names $4
   only so that its type is known. */
static const char release_sql[] =
	"DELETE FROM rbc_leases WHERE run = $1 AND holder = $2 AND pid = $3::integer AND $4::interval IS NOT NULL";

/* The state in one line of words: libpq's messages end in newlines. */
static void set_state(struct lease *l, const char *word, const char *detail)
{
	free(l->state);
	l->state = xasprintf("%s%s", word, detail ? detail : "");
	for (char *c = l->state; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	size_t n = strlen(l->state);
	while (n && l->state[n - 1] == ' ')
		l->state[--n] = '\0';
}

/* done, once, when the run is over and the lease let go. */
static void call_done(struct lease *l)
{
	l->phase = PH_DONE;
	uv_timer_stop(&l->grace);
	if (l->done) {
		void (*done)(void *) = l->done;
		l->done = NULL;
		done(l->done_ud);
	}
}

/* The connection failed or went away: the next beat tries again. */
static void down(struct lease *l, const char *why)
{
	pgsock_close(&l->sock);
	if (l->pg) {
		PQfinish(l->pg);
		l->pg = NULL;
	}
	l->flushing = false;
	l->claimed = false;
	set_state(l, "down: ", why);
	l->phase = PH_DOWN;
	if (l->finishing)
		call_done(l); /* not released: it expires on its own */
}

/* down, with libpq's message after prefix. */
static void down_pq(struct lease *l, const char *prefix)
{
	char *m = xasprintf("%s%s", prefix, l->pg ? PQerrorMessage(l->pg) : "");
	down(l, m);
	free(m);
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Waits on the connection's socket for events. */
static void poll_wait(struct lease *l, int events)
{
	int rc = pgsock_wait(&l->sock, l->loop, l->pg, events, on_poll, l, false);
	if (rc == PGSOCK_NO_SOCKET)
		down_pq(l, "");
	else if (rc == PGSOCK_NO_POLL)
		down(l, "cannot poll the connection");
}

/* Sends one statement of the lease. */
static void send_sql(struct lease *l, enum what w)
{
	static const char *const sql[] = {[W_CLAIM] = claim_sql, [W_BEAT] = beat_sql, [W_RELEASE] = release_sql};
	const char *params[4] = {l->run, l->holder, l->pid, l->expiry};
	int ok = w == W_SCHEMA ? PQsendQuery(l->pg, history_schema_sql)
	                       : PQsendQueryParams(l->pg, sql[w], 4, NULL, params, NULL, NULL, 0);
	if (!ok) {
		down_pq(l, "");
		return;
	}
	l->what = w;
	l->phase = PH_BUSY;
	int f = PQflush(l->pg);
	if (f < 0) {
		down_pq(l, "");
		return;
	}
	l->flushing = f == 1;
	poll_wait(l, UV_READABLE | (l->flushing ? UV_WRITABLE : 0));
}

/* What follows a statement, or the next beat. */
static void next(struct lease *l)
{
	if (l->phase != PH_IDLE)
		return;
	if (l->finishing) {
		if (l->claimed)
			send_sql(l, W_RELEASE);
		else
			call_done(l);
		return;
	}
	if (!l->claimed)
		send_sql(l, l->held_once ? W_BEAT : W_CLAIM);
}

/* Connected (the schema first), or not (pgwait.h). */
static void on_connected(void *ud, PGconn *pg, uv_poll_t *poll, const char *err)
{
	struct lease *l = ud;
	l->pw = NULL;
	if (!pg) {
		down(l, err);
		return;
	}
	l->pg = pg;
	pgsock_adopt(&l->sock, poll, pg, l);
	send_sql(l, W_SCHEMA);
}

/* Connects (resolving a host name on the loop's pool first, never here). */
static void connect_now(struct lease *l)
{
	set_state(l, "connecting", NULL);
	l->phase = PH_CONNECTING;
	l->pw = pgwait_start(l->loop, l->url, "rbc lease", l->host, l->addr, true, true, on_connected, l);
}

/* A statement's end: what it did. */
static void statement_done(struct lease *l)
{
	if (l->lost) {
		/* Taken over: no more beats, no release (the row is another's). */
		uv_timer_stop(&l->beat);
		l->claimed = false;
		set_state(l, "taken over", NULL);
		l->phase = PH_DONE;
		if (l->on_change)
			l->on_change(l->change_ud, false, l->taker);
		return;
	}
	if (l->what == W_CLAIM || l->what == W_BEAT) {
		bool first = !l->claimed;
		l->held_once = true;
		l->claimed = true;
		l->beats++;
		set_state(l, "held", NULL);
		if (first && l->on_change)
			l->on_change(l->change_ud, true, NULL);
	} else if (l->what == W_RELEASE) {
		l->claimed = false;
		set_state(l, "released", NULL);
		l->phase = PH_IDLE;
		call_done(l);
		return;
	}
	l->phase = PH_IDLE;
	next(l);
}

/* The connection's socket is ready: connecting, flushing, results. */
static void on_poll(uv_poll_t *p, int status, int events)
{
	struct lease *l = p->data;
	if (status < 0) {
		down(l, pgwait_poll_error(l->pg, status));
		return;
	}
	if ((events & UV_WRITABLE) && l->flushing) {
		int f = PQflush(l->pg);
		if (f < 0) {
			down_pq(l, "");
			return;
		}
		l->flushing = f == 1;
	}
	if ((events & UV_READABLE) && !PQconsumeInput(l->pg)) {
		down_pq(l, "connection lost: ");
		return;
	}
	while (!PQisBusy(l->pg)) {
		PGresult *r = PQgetResult(l->pg);
		if (!r) {
			if (l->phase == PH_BUSY)
				statement_done(l);
			return;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			char *m = xasprintf("%s", PQresultErrorMessage(r));
			PQclear(r);
			down(l, m);
			free(m);
			return;
		}
		if ((l->what == W_BEAT || l->what == W_CLAIM) && st == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), "0") == 0 && !l->lost) {
			/* The row is another's, or gone: taken over (lease.h). */
			l->lost = true;
			free(l->taker);
			l->taker = PQgetisnull(r, 0, 1) ? NULL : xstrdup(PQgetvalue(r, 0, 1));
		}
		PQclear(r);
	}
	poll_wait(l, UV_READABLE | (l->flushing ? UV_WRITABLE : 0));
}

/* The heartbeat: a beat when idle, a new connection when down. */
static void on_beat(uv_timer_t *t)
{
	struct lease *l = t->data;
	if (l->finishing)
		return;
	if (l->phase == PH_DOWN)
		connect_now(l);
	else if (l->phase == PH_IDLE)
		send_sql(l, l->claimed || l->held_once ? W_BEAT : W_CLAIM);
}

/* The release took too long: given up (the lease expires on its own). */
static void on_grace(uv_timer_t *t)
{
	call_done(t->data);
}

/* The beat's interval (lease.h). */
uint64_t lease_interval_ms(void)
{
	const char *v = getenv("RBC_LEASE_INTERVAL_MS");
	char *end = NULL;
	unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
	return n >= 10 && n <= 3600000 && end && !*end ? n : LEASE_INTERVAL_MS;
}

/* Starts the heartbeat and connects (lease.h). */
struct lease *lease_start(uv_loop_t *loop, const char *url, const char *run_id, const char *holder)
{
	struct lease *l = xcalloc(1, sizeof *l);
	l->loop = loop;
	l->url = xstrdup(url);
	l->run = xstrdup(run_id);
	l->holder = xstrdup(holder);
	l->host = pgwait_host(url);
	l->sock.fd = -1;
	l->interval = lease_interval_ms();
	snprintf(l->pid, sizeof l->pid, "%ld", (long)getpid());
	snprintf(l->expiry, sizeof l->expiry, "%llu milliseconds", (unsigned long long)(l->interval * LEASE_MISSED));
	uv_timer_init(loop, &l->beat);
	l->beat.data = l;
	uv_unref((uv_handle_t *)&l->beat); /* the run keeps the loop going, not this */
	uv_timer_init(loop, &l->grace);
	l->grace.data = l;
	uv_unref((uv_handle_t *)&l->grace);
	uv_timer_start(&l->beat, on_beat, l->interval, l->interval);
	connect_now(l);
	return l;
}

/* The state in words (lease.h). */
const char *lease_state(const struct lease *l)
{
	return l && l->state ? l->state : "off";
}

/* Who to tell when the lease is held, or lost (lease.h). */
void lease_on_change(struct lease *l, void (*cb)(void *ud, bool held, const char *who), void *ud)
{
	l->on_change = cb;
	l->change_ud = ud;
}

/* Beats confirmed (lease.h). */
uint64_t lease_beats(const struct lease *l)
{
	return l ? l->beats : 0;
}

/* Stops beating and releases the lease (lease.h). */
void lease_finish(struct lease *l, uint64_t grace_ms, void (*done)(void *ud), void *ud)
{
	l->finishing = true;
	l->done = done;
	l->done_ud = ud;
	uv_timer_stop(&l->beat);
	if (l->phase == PH_DONE || l->phase == PH_DOWN || l->phase == PH_CONNECTING) {
		call_done(l); /* never held, or held no more: nothing to release */
		return;
	}
	uv_ref((uv_handle_t *)&l->grace);
	uv_timer_start(&l->grace, on_grace, grace_ms, 0);
	next(l);
}

/* A timer closed: the lease is freed with the last one. */
static void on_timer_closed(uv_handle_t *hd)
{
	struct lease *l = hd->data;
	if (--l->closing == 0)
		free(l);
}

/* Frees the lease once its handles are closed (lease.h). */
void lease_free(struct lease *l)
{
	if (!l)
		return;
	pgwait_cancel(l->pw);
	pgsock_close(&l->sock);
	if (l->pg)
		PQfinish(l->pg);
	free(l->url);
	free(l->run);
	free(l->holder);
	free(l->host);
	free(l->state);
	free(l->taker);
	l->closing = 2;
	uv_close((uv_handle_t *)&l->beat, on_timer_closed);
	uv_close((uv_handle_t *)&l->grace, on_timer_closed);
}

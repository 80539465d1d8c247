/*
 * history.c — journal lines sent to PostgreSQL without blocking (history.h).
 *
 * One connection, one statement at a time: the schema first (once per
 * connection), then batches of queued lines, each a single INSERT of a JSON
 * array — one round trip for up to BATCH_LINES lines. A batch leaves the
 * queue only when the server said it is stored; a lost connection puts the
 * sender back to connecting after a delay that doubles up to 5 s. Host
 * names are resolved with uv_getaddrinfo first, as the SQL probe does, so
 * that libpq never resolves (and blocks) on the loop thread.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pgwait.h"
#include "rbc/history.h"
#include "rbc/util.h"

#define BATCH_LINES 500
#define BATCH_BYTES (1u << 20)
#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 5000

const char history_schema_sql[] =
	"BEGIN;\n"
	"SELECT pg_advisory_xact_lock(491252336001);\n"
	"CREATE TABLE IF NOT EXISTS rbc_schema (\n"
	"  version integer PRIMARY KEY,\n"
	"  applied timestamptz NOT NULL DEFAULT now());\n"
	"CREATE TABLE IF NOT EXISTS rbc_runs (\n"
	"  run text PRIMARY KEY,\n"
	"  started timestamptz,\n"
	"  host text,\n"
	"  operator text,\n"
	"  rbc text,\n"
	"  runbooks text,\n"
	"  state text NOT NULL DEFAULT 'running',\n"
	"  verdict text,\n"
	"  finished timestamptz,\n"
	"  header jsonb NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS rbc_events (\n"
	"  run text NOT NULL,\n"
	"  seq bigint NOT NULL,\n"
	"  t timestamptz,\n"
	"  ev text NOT NULL,\n"
	"  step text,\n"
	"  verdict text,\n"
	"  event jsonb NOT NULL,\n"
	"  PRIMARY KEY (run, seq));\n"
	/* CREATE INDEX asks for the table's owner even when the index is
	   there: a driver role that does not own the tables (docs/team.md)
	   does not reach it. */
	"DO $$ BEGIN IF to_regclass('rbc_runs_started') IS NULL THEN\n"
	"  CREATE INDEX rbc_runs_started ON rbc_runs (started); END IF; END $$;\n"
	"INSERT INTO rbc_schema (version) VALUES (1) ON CONFLICT DO NOTHING;\n"
	/* version 2: the driver's lease on a run (lease.h) */
	"CREATE TABLE IF NOT EXISTS rbc_leases (\n"
	"  run text PRIMARY KEY,\n"
	"  holder text NOT NULL,\n"
	"  pid integer NOT NULL,\n"
	"  beat timestamptz NOT NULL,\n"
	"  expires timestamptz NOT NULL);\n"
	"INSERT INTO rbc_schema (version) VALUES (2) ON CONFLICT DO NOTHING;\n"
	/* version 3: joiners' commands to the driver (commands.h) */
	"CREATE TABLE IF NOT EXISTS rbc_commands (\n"
	"  id bigserial PRIMARY KEY,\n"
	"  run text NOT NULL,\n"
	"  operator text NOT NULL,\n"
	"  host text NOT NULL,\n"
	"  at timestamptz NOT NULL DEFAULT now(),\n"
	"  kind text NOT NULL,\n"
	"  step text,\n"
	"  value text,\n"
	"  note text,\n"
	"  detail jsonb,\n"
	"  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'refused')),\n"
	"  why text);\n"
	"INSERT INTO rbc_schema (version) VALUES (3) ON CONFLICT DO NOTHING;\n"
	"COMMIT;\n"
	"SELECT max(version) FROM rbc_schema;\n";

/* $1 the run id, $2 a JSON array of journal lines. The run's row comes with
   its header line; its state with the last run_finished, or what goes on
   after one (run_resumed, a step run by hand after the end). Followers
   hear of it in the same statement: NOTIFY rbc_events, "RUN SEQ" with the
   batch's highest seq (docs/console.md, "Following a run"). */
#define INSERT_REST \
	"last AS (SELECT e FROM l WHERE e->>'ev' IN ('run_finished', 'run_resumed', 'run_started', 'step_started')\n" \
	"         ORDER BY (e->>'seq')::bigint DESC LIMIT 1),\n" \
	"st AS (SELECT CASE WHEN e->>'ev' <> 'run_finished' THEN 'running'\n" \
	"                   WHEN coalesce((e->>'stopped')::boolean, false) THEN 'stopped'\n" \
	"                   ELSE 'finished' END AS state,\n" \
	"              CASE WHEN e->>'ev' = 'run_finished' THEN e->>'verdict' END AS verdict,\n" \
	"              CASE WHEN e->>'ev' = 'run_finished' THEN (e->>'t')::timestamptz END AS finished\n" \
	"       FROM last),\n" \
	"h AS (INSERT INTO rbc_runs (run, started, host, operator, rbc, runbooks, state, verdict, finished, header)\n" \
	"      SELECT $1, (e->>'started')::timestamptz, e->>'host', e->>'operator', e->>'rbc',\n" \
	"             (SELECT string_agg(r->>'id', ',') FROM jsonb_array_elements(e->'runbooks') AS r\n" \
	"              WHERE NOT coalesce((r->>'included')::boolean, false)),\n" \
	"             coalesce((SELECT state FROM st), 'running'), (SELECT verdict FROM st),\n" \
	"             (SELECT finished FROM st), e\n" \
	"      FROM l WHERE e->>'ev' = 'run_header'\n" \
	"      ON CONFLICT (run) DO NOTHING),\n" \
	"ev AS (INSERT INTO rbc_events (run, seq, t, ev, step, verdict, event)\n" \
	"       SELECT $1, (e->>'seq')::bigint, (e->>'t')::timestamptz, e->>'ev', e->>'step',\n" \
	"              e->>'verdict', e\n" \
	"       FROM l WHERE e->>'ev' <> 'run_header'\n" \
	"       ON CONFLICT (run, seq) DO NOTHING),\n" \
	"u AS (UPDATE rbc_runs SET state = st.state, verdict = st.verdict, finished = st.finished\n" \
	"      FROM st WHERE rbc_runs.run = $1)\n"

const char history_insert_sql[] =
	"WITH l AS (SELECT e FROM jsonb_array_elements($2::jsonb) AS e),\n"
	INSERT_REST
	"SELECT pg_notify('rbc_events', $1 || ' ' || (SELECT max((e->>'seq')::bigint) FROM l))";

/* The same, fenced by the lease ($3 holder, $4 pid): a driver that no
   longer holds the run's lease stores nothing (docs/team.md, "Handover").
   FOR SHARE: a takeover waits for a batch in flight, and no batch lands
   after it. The second column says whether the lease was ours. */
const char history_insert_fenced_sql[] =
	"WITH ours AS (SELECT 1 FROM rbc_leases WHERE run = $1 AND holder = $3 AND pid = $4::integer FOR SHARE),\n"
	"l AS (SELECT e FROM jsonb_array_elements($2::jsonb) AS e WHERE EXISTS (SELECT 1 FROM ours)),\n"
	INSERT_REST
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM ours) THEN\n"
	"  pg_notify('rbc_events', $1 || ' ' || (SELECT max((e->>'seq')::bigint) FROM l)) END,\n"
	"  EXISTS (SELECT 1 FROM ours), (SELECT holder FROM rbc_leases WHERE run = $1)";

enum phase { PH_DOWN, PH_CONNECTING, PH_SCHEMA, PH_READY, PH_SENDING, PH_DEAD };

struct history {
	uv_loop_t *loop;
	char *url, *run;
	PGconn *pg;
	struct pgsock sock;           /* its poll never keeps the loop going */
	bool flushing;
	enum phase phase;
	char *state;                  /* for history_state */
	uv_timer_t retry, grace;
	uint64_t delay;
	struct pgwait *pw;            /* the connection under way */
	char *host;                   /* the one host name to resolve, or NULL */
	char addr[PGWAIT_ADDR];

	char **lines;                 /* queued, oldest first from head */
	size_t nlines, cap, head;
	size_t inflight;              /* lines in the batch being stored */
	uint64_t stored;
	bool schema_newer;

	char *holder, *pid;           /* fenced by the lease (history_fence) */
	bool gated, fenced;           /* waiting for the lease; found another's */
	void (*on_fenced)(void *ud, const char *who);
	void *fenced_ud;

	bool finishing;
	void (*done)(void *ud);
	void *done_ud;
	int closing;                  /* handles still closing */
	bool freed;
};

static void set_state(struct history *h, const char *word, const char *detail)
{
	free(h->state);
	h->state = xasprintf("%s%s", word, detail ? detail : "");
	/* one line: libpq's messages end in newlines */
	for (char *c = h->state; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	size_t n = strlen(h->state);
	while (n && h->state[n - 1] == ' ')
		h->state[--n] = '\0';
}

static void connect_now(struct history *h);
static void pump(struct history *h);

static void check_done(struct history *h)
{
	if (!h->finishing || !h->done)
		return;
	if (h->head < h->nlines && h->phase != PH_DEAD)
		return;
	void (*done)(void *) = h->done;
	h->done = NULL;
	uv_timer_stop(&h->grace);
	done(h->done_ud);
}

static void on_grace(uv_timer_t *t)
{
	struct history *h = t->data;
	if (h->done) {
		void (*done)(void *) = h->done;
		h->done = NULL;
		done(h->done_ud);
	}
}

static void on_retry(uv_timer_t *t)
{
	connect_now(t->data);
}

/* The connection failed or went away: try again later. */
static void down(struct history *h, const char *why)
{
	pgsock_close(&h->sock);
	if (h->pg) {
		PQfinish(h->pg);
		h->pg = NULL;
	}
	h->inflight = 0; /* not confirmed: sent again */
	h->flushing = false;
	set_state(h, "down: ", why);
	if (h->schema_newer) {
		h->phase = PH_DEAD;
		check_done(h);
		return;
	}
	h->phase = PH_DOWN;
	h->delay = h->delay ? h->delay * 2 : RETRY_MIN_MS;
	if (h->delay > RETRY_MAX_MS)
		h->delay = RETRY_MAX_MS;
	uv_timer_start(&h->retry, on_retry, h->delay, 0);
}

static void down_pq(struct history *h, const char *prefix)
{
	char *m = xasprintf("%s%s", prefix, h->pg ? PQerrorMessage(h->pg) : "");
	down(h, m);
	free(m);
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Waits on the connection's socket for events. */
static void poll_wait(struct history *h, int events)
{
	int rc = pgsock_wait(&h->sock, h->loop, h->pg, events, on_poll, h, false);
	if (rc == PGSOCK_NO_SOCKET)
		down_pq(h, "");
	else if (rc == PGSOCK_NO_POLL)
		down(h, "cannot poll the connection");
}

/* Connected (the schema first), or not (pgwait.h). */
static void on_connected(void *ud, PGconn *pg, uv_poll_t *poll, const char *err)
{
	struct history *h = ud;
	h->pw = NULL;
	if (!pg) {
		down(h, err);
		return;
	}
	h->pg = pg;
	pgsock_adopt(&h->sock, poll, pg, h);
	h->phase = PH_SCHEMA;
	if (!PQsendQuery(h->pg, history_schema_sql)) {
		down_pq(h, "");
		return;
	}
	h->flushing = PQflush(h->pg) == 1;
	poll_wait(h, UV_READABLE | (h->flushing ? UV_WRITABLE : 0));
}

static void connect_now(struct history *h)
{
	if (h->phase == PH_DEAD || h->freed)
		return;
	set_state(h, "connecting", NULL);
	h->phase = PH_CONNECTING;
	h->pw = pgwait_start(h->loop, h->url, "rbc history", h->host, h->addr, false, true, on_connected, h);
}

/* Sends the next batch of queued lines, if any and idle. */
static void send_batch(struct history *h)
{
	if (h->phase != PH_READY || h->head >= h->nlines || h->gated)
		return;
	struct strbuf sb = {0};
	sb_addc(&sb, '[');
	size_t n = 0;
	for (size_t i = h->head; i < h->nlines && n < BATCH_LINES && sb.len < BATCH_BYTES; i++, n++) {
		if (n)
			sb_addc(&sb, ',');
		sb_adds(&sb, h->lines[i]);
	}
	sb_addc(&sb, ']');
	const char *params[4] = {h->run, sb_borrow(&sb), h->holder, h->pid};
	int ok = h->holder ? PQsendQueryParams(h->pg, history_insert_fenced_sql, 4, NULL, params, NULL, NULL, 0)
	                   : PQsendQueryParams(h->pg, history_insert_sql, 2, NULL, params, NULL, NULL, 0);
	sb_free(&sb);
	if (!ok) {
		down_pq(h, "");
		return;
	}
	h->inflight = n;
	h->phase = PH_SENDING;
	int f = PQflush(h->pg);
	if (f < 0) {
		down_pq(h, "");
		return;
	}
	h->flushing = f == 1;
	poll_wait(h, UV_READABLE | (h->flushing ? UV_WRITABLE : 0));
}

/* A result of the statement in flight; false when the connection went down. */
static bool on_result(struct history *h, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char *m = xasprintf("%s", PQresultErrorMessage(r));
		PQclear(r);
		/* A statement the server refused: the batch stays queued and is
		   tried again on a new connection, later. */
		down(h, m);
		free(m);
		return false;
	}
	if (h->phase == PH_SCHEMA && st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1) {
		long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		if (v > HISTORY_SCHEMA) {
			h->schema_newer = true;
			char *m = xasprintf("the database's rbc tables are schema version %ld, newer than this rbc's %d",
			                    v, HISTORY_SCHEMA);
			PQclear(r);
			down(h, m);
			free(m);
			return false;
		}
	}
	if (h->phase == PH_SENDING && h->holder && st == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    PQnfields(r) == 3 && strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
		char *who = PQgetisnull(r, 0, 2) ? NULL : xstrdup(PQgetvalue(r, 0, 2));
		PQclear(r);
		history_drop(h); /* the lease is another's: nothing more is sent */
		if (h->on_fenced)
			h->on_fenced(h->fenced_ud, who);
		free(who);
		return false;
	}
	PQclear(r);
	return true;
}

/* The statement in flight is done. */
static void statement_done(struct history *h)
{
	if (h->phase == PH_SCHEMA) {
		set_state(h, "connected", NULL);
		h->delay = 0;
	} else if (h->phase == PH_SENDING) {
		for (size_t i = 0; i < h->inflight; i++)
			free(h->lines[h->head + i]);
		h->head += h->inflight;
		h->stored += h->inflight;
		h->inflight = 0;
		if (h->head == h->nlines)
			h->head = h->nlines = 0;
	}
	h->phase = PH_READY;
	pump(h);
	check_done(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct history *h = p->data;
	if (status < 0) {
		down(h, pgwait_poll_error(h->pg, status));
		return;
	}
	if ((events & UV_WRITABLE) && h->flushing) {
		int f = PQflush(h->pg);
		if (f < 0) {
			down_pq(h, "");
			return;
		}
		h->flushing = f == 1;
	}
	if ((events & UV_READABLE) && !PQconsumeInput(h->pg)) {
		down_pq(h, "connection lost: ");
		return;
	}
	while (!PQisBusy(h->pg)) {
		PGresult *r = PQgetResult(h->pg);
		if (!r) {
			if (h->phase == PH_SCHEMA || h->phase == PH_SENDING)
				statement_done(h);
			return;
		}
		if (!on_result(h, r))
			return;
	}
	poll_wait(h, UV_READABLE | (h->flushing ? UV_WRITABLE : 0));
}

static void pump(struct history *h)
{
	if (h->phase == PH_READY)
		send_batch(h);
}

struct history *history_start(uv_loop_t *loop, const char *url, const char *run_id)
{
	struct history *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->url = xstrdup(url);
	h->run = xstrdup(run_id);
	h->sock.fd = -1;
	h->host = pgwait_host(url);
	uv_timer_init(loop, &h->retry);
	h->retry.data = h;
	uv_unref((uv_handle_t *)&h->retry);
	uv_timer_init(loop, &h->grace);
	h->grace.data = h;
	uv_unref((uv_handle_t *)&h->grace);
	connect_now(h);
	return h;
}

void history_add(struct history *h, const char *line, size_t len)
{
	if (!h || h->phase == PH_DEAD)
		return;
	/* jsonb takes no NUL character: one a command printed is shown as U+FFFD. */
	char *raw = xstrndup(line, len);
	xgrow(&h->lines, &h->cap, h->nlines + 1, sizeof *h->lines);
	h->lines[h->nlines++] = str_replace(raw, "\\u0000", "\\ufffd");
	free(raw);
	pump(h);
}

/* Fences the sender by the lease (history.h). */
void history_fence(struct history *h, const char *holder, const char *pid,
                   void (*fenced)(void *ud, const char *who), void *ud)
{
	free(h->holder);
	free(h->pid);
	h->holder = xstrdup(holder);
	h->pid = xstrdup(pid);
	h->gated = true;
	h->on_fenced = fenced;
	h->fenced_ud = ud;
}

/* The lease is held: the queue goes (history.h). */
void history_open_gate(struct history *h)
{
	if (!h || !h->gated)
		return;
	h->gated = false;
	pump(h);
}

/* Taken over: nothing queued or to come is sent (history.h). */
void history_drop(struct history *h)
{
	if (!h || h->fenced)
		return;
	h->fenced = true;
	for (size_t i = h->head; i < h->nlines; i++)
		free(h->lines[i]);
	h->head = h->nlines = 0;
	h->inflight = 0;
	pgsock_close(&h->sock);
	if (h->pg) {
		PQfinish(h->pg);
		h->pg = NULL;
	}
	uv_timer_stop(&h->retry);
	pgwait_cancel(h->pw);
	h->pw = NULL;
	set_state(h, "fenced: the run's lease is another's", NULL);
	h->phase = PH_DEAD;
	check_done(h);
}

size_t history_pending(const struct history *h)
{
	return h ? h->nlines - h->head : 0;
}

uint64_t history_stored(const struct history *h)
{
	return h ? h->stored : 0;
}

const char *history_state(const struct history *h)
{
	return h && h->state ? h->state : "off";
}

void history_finish(struct history *h, uint64_t grace_ms, void (*done)(void *ud), void *ud)
{
	h->finishing = true;
	h->done = done;
	h->done_ud = ud;
	uv_ref((uv_handle_t *)&h->grace);
	uv_timer_start(&h->grace, on_grace, grace_ms, 0);
	check_done(h);
}

static void on_timer_closed(uv_handle_t *hd)
{
	struct history *h = hd->data;
	if (--h->closing == 0)
		free(h);
}

void history_free(struct history *h)
{
	if (!h)
		return;
	pgwait_cancel(h->pw);
	pgsock_close(&h->sock);
	if (h->pg)
		PQfinish(h->pg);
	for (size_t i = h->head; i < h->nlines; i++)
		free(h->lines[i]);
	free(h->lines);
	free(h->url);
	free(h->run);
	free(h->state);
	free(h->host);
	free(h->holder);
	free(h->pid);
	h->freed = true;
	h->closing = 2;
	uv_close((uv_handle_t *)&h->retry, on_timer_closed);
	uv_close((uv_handle_t *)&h->grace, on_timer_closed);
}

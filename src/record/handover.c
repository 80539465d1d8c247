/*
 * handover.c — the lease read and claimed before a resume with --db, and a
 * run's directory written back from PostgreSQL (handover.h, docs/team.md).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "rbc/error.h"
#include "rbc/handover.h"
#include "rbc/history.h"
#include "rbc/lease.h"
#include "rbc/rundir.h"
#include "rbc/text.h"
#include "rbc/util.h"
#include "pgwait.h"

/* Who holds a lease (handover.h): as the engine names its operator. */
char *handover_holder(const char *operator)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	const char *u = getenv("USER");
	struct passwd *pw = operator && *operator ? NULL : u && *u ? NULL : getpwuid(getuid());
	const char *who = operator && *operator ? operator : u && *u ? u : pw && pw->pw_name ? pw->pw_name : "operator";
	/* Text the database takes (UTF-8) and a terminal shows safely. */
	char *raw = xasprintf("%s@%s", who, host);
	char *clean_who = text_term_dup(raw);
	free(raw);
	return clean_who;
}

/* The claim, in one statement: the row as it was, and whether it is ours
   now. $5: --take-over. A lease alive and another's stays theirs. */
static const char claim_sql[] =
	"WITH cur AS (SELECT holder, pid, beat, expires, expires > now() AS alive,\n"
	"                    extract(epoch FROM now() - beat) AS ago\n"
	"             FROM rbc_leases WHERE run = $1 FOR UPDATE),\n"
	"ins AS (INSERT INTO rbc_leases (run, holder, pid, beat, expires)\n"
	"        VALUES ($1, $2, $3::integer, now(), now() + $4::interval)\n"
	"        ON CONFLICT (run) DO UPDATE SET holder = EXCLUDED.holder, pid = EXCLUDED.pid,\n"
	"          beat = EXCLUDED.beat, expires = EXCLUDED.expires\n"
	"        WHERE $5::boolean OR rbc_leases.expires <= now()\n"
	"           OR (rbc_leases.holder = EXCLUDED.holder AND rbc_leases.pid = EXCLUDED.pid)\n"
	"        RETURNING 1)\n"
	"SELECT (SELECT count(*) FROM ins), cur.holder, cur.pid,\n"
	"       to_char(cur.beat AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),\n"
	"       to_char(cur.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),\n"
	"       cur.alive, round(cur.ago::numeric, 1)\n"
	"FROM (SELECT 1) AS one LEFT JOIN cur ON true";

/* Claims the lease before a resume drives the run (handover.h). */
int handover_claim(const char *url, const char *run, const char *holder, bool take_over, char **from,
                   struct rbc_error *err)
{
	*from = NULL;
	PGconn *pg = pgwait_connect_now(url, "rbc resume", "10", err);
	if (!pg)
		return 69;
	/* The tables, as a run makes them: the lease's may not be there yet. */
	PGresult *r = PQexec(pg, history_schema_sql);
	PQclear(r);
	/* A role that may not make them leaves its transaction aborted: the
	   claim is judged on its own, its own error said. */
	if (PQtransactionStatus(pg) == PQTRANS_INERROR)
		PQclear(PQexec(pg, "ROLLBACK"));
	char pid[24], expiry[48];
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(expiry, sizeof expiry, "%llu milliseconds", (unsigned long long)(lease_interval_ms() * LEASE_MISSED));
	const char *params[] = {run, holder, pid, expiry, take_over ? "true" : "false"};
	r = PQexecParams(pg, claim_sql, 5, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char *m = pgwait_one_line(PQresultErrorMessage(r));
		rbc_error_set(err, "the database: %s", m);
		free(m);
		rc = 69;
	} else {
		bool ours = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		bool had = !PQgetisnull(r, 0, 1);
		char *who = str_one_line(PQgetvalue(r, 0, 1), '?'); /* the database's text is data */
		bool same = had && strcmp(PQgetvalue(r, 0, 1), holder) == 0 && strcmp(PQgetvalue(r, 0, 2), pid) == 0;
		bool alive = had && strcmp(PQgetvalue(r, 0, 5), "t") == 0;
		if (!ours) {
			rbc_error_set(err, "run %s is driven by %s, pid %s: its lease is alive (last beat %s, %s s ago; "
			              "it expires at %s unless renewed). Wait for it to expire, or take the run over "
			              "with --take-over (the other driver then stops)",
			              run, who, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 6),
			              PQgetvalue(r, 0, 4));
			rc = RBC_EXIT_LEASE_HELD;
		} else if (had && !same) {
			*from = xasprintf("%s, pid %s (lease %s, last beat %s)", who, PQgetvalue(r, 0, 2),
			                  alive ? "alive: taken over" : "expired", PQgetvalue(r, 0, 3));
		}
		free(who);
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}

/* mkdir -p of path (mode 0700 for what it makes). */
static bool make_dirs(const char *path, struct rbc_error *err)
{
	char *p = xstrdup(path);
	for (char *c = p + 1; ; c++) {
		if (*c == '/' || !*c) {
			char keep = *c;
			*c = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				rbc_error_set(err, "%s: %s", p, strerror(errno));
				free(p);
				return false;
			}
			*c = keep;
			if (!keep)
				break;
		}
	}
	free(p);
	return true;
}

/* Writes the run back into the runs directory (handover.h). */
int handover_rebuild(const char *url, const char *run, bool force, struct history_rebuild *rb,
                     struct rbc_error *err)
{
	if (!history_run_name_ok(run)) {
		rbc_error_set(err, "%s: not a run id", run);
		return RBC_EXIT_USAGE;
	}
	char *base = rundir_base(err);
	if (!base || !make_dirs(base, err) || !rundir_base_trusted(base, err)) {
		free(base);
		return RBC_EXIT_NOPERM;
	}
	char *dir = xasprintf("%s/%s", base, run), *out = xasprintf("%s/out", dir);
	free(base);
	int rc = 0;
	if (mkdir(dir, 0700) != 0 || mkdir(out, 0700) != 0) {
		rbc_error_set(err, "cannot make the run directory %s: %s", dir, strerror(errno));
		rc = RBC_EXIT_IOERR;
	} else {
		rb->by = "rbc resume";
		if (!history_rebuild(url, run, dir, !force, rb, err)) {
			rc = rb->unavailable ? 69 : RBC_EXIT_DATAERR;
			/* Nothing half-made is left to be resumed later. */
			char *j = xasprintf("%s/journal.jsonl", dir);
			unlink(j);
			free(j);
			rmdir(out);
			rmdir(dir);
		}
	}
	free(dir);
	free(out);
	return rc;
}

/* Lets go of a lease claimed by this process (handover.h). */
void handover_release(const char *url, const char *run, const char *holder)
{
	struct rbc_error err = {0};
	PGconn *pg = pgwait_connect_now(url, "rbc resume", "5", &err);
	rbc_error_clear(&err);
	if (pg) {
		char pid[24];
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		const char *params[] = {run, holder, pid};
		PGresult *r = PQexecParams(pg, "DELETE FROM rbc_leases WHERE run = $1 AND holder = $2 AND pid = $3::integer",
		                           3, NULL, params, NULL, NULL, 0);
		PQclear(r);
	}
	PQfinish(pg);
}

/*
 * lease_query.c — the lease of each run, as rbc history lists the runs
 * (lease_query.h, docs/team.md).
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/lease_query.h"
#include "rbc/util.h"

/* The listing's SQL, with the leases where the table exists (lease_query.h). */
char *history_runs_sql(PGconn *pg)
{
	PGresult *t = PQexec(pg, "SELECT to_regclass('rbc_leases') IS NOT NULL");
	bool leases = PQresultStatus(t) == PGRES_TUPLES_OK && PQntuples(t) == 1 && strcmp(PQgetvalue(t, 0, 0), "t") == 0;
	PQclear(t);
	return xasprintf(
		"SELECT r.run, coalesce(r.runbooks, ''),"
		"       to_char(r.started AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		"       coalesce(r.operator, ''), r.state, r.verdict, coalesce(r.host, ''),"
		"       (SELECT count(*) FROM rbc_events e WHERE e.run = r.run),"
		"       %s"
		" FROM rbc_runs r %s ORDER BY r.started, r.run",
		leases ? "l.holder, l.pid,"
		         " to_char(l.beat AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		         " to_char(l.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
		         " l.expires > now(), floor(extract(epoch FROM now() - l.beat))::bigint"
		       : "NULL, NULL, NULL, NULL, NULL, NULL",
		leases ? "LEFT JOIN rbc_leases l ON l.run = r.run" : "");
}

/* Whether row has a lease to show: a running run's, with a holder. */
static bool shown(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && strcmp(PQgetvalue(r, row, 4), "running") == 0;
}

/* A running run's lease in words (lease_query.h). */
char *history_lease_text(const PGresult *r, int row, int col)
{
	if (!shown(r, row, col))
		return xstrdup("");
	bool alive = strcmp(PQgetvalue(r, row, col + 4), "t") == 0;
	if (alive)
		return xasprintf("  lease: %s pid %s alive (beat %ss ago)", PQgetvalue(r, row, col),
		                 PQgetvalue(r, row, col + 1), PQgetvalue(r, row, col + 5));
	return xasprintf("  lease: %s pid %s EXPIRED at %s (last beat %ss ago)", PQgetvalue(r, row, col),
	                 PQgetvalue(r, row, col + 1), PQgetvalue(r, row, col + 3), PQgetvalue(r, row, col + 5));
}

/* A running run's lease as JSON (lease_query.h). */
void history_lease_json(cJSON *o, const PGresult *r, int row, int col)
{
	if (!shown(r, row, col)) {
		cJSON_AddNullToObject(o, "lease");
		return;
	}
	cJSON *l = cJSON_AddObjectToObject(o, "lease");
	cJSON_AddStringToObject(l, "holder", PQgetvalue(r, row, col));
	cJSON_AddNumberToObject(l, "pid", strtod(PQgetvalue(r, row, col + 1), NULL));
	cJSON_AddStringToObject(l, "beat", PQgetvalue(r, row, col + 2));
	cJSON_AddStringToObject(l, "expires", PQgetvalue(r, row, col + 3));
	cJSON_AddBoolToObject(l, "alive", strcmp(PQgetvalue(r, row, col + 4), "t") == 0);
}

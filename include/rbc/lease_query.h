/*
 * lease_query.h — the driver's lease as rbc history shows it (lease.h,
 * docs/team.md): who holds a run's lease and whether it is alive or expired.
 */
#ifndef RBC_LEASE_QUERY_H
#define RBC_LEASE_QUERY_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

/* The SQL listing the runs for rbc history (a new string): run, runbooks,
   started, operator, state, verdict, host, events, then the lease's holder,
   pid, beat, expires, alive and seconds since its beat (NULLs where the
   database has no rbc_leases, a schema before version 2). */
char *history_runs_sql(PGconn *pg);

/* "  lease: HOLDER pid N alive (beat 2s ago)" or "… EXPIRED …" for row i
   of a running run with a lease from column col on; "" otherwise (a new
   string). */
char *history_lease_text(const PGresult *r, int row, int col);

/* Adds "lease" (an object, or null) to o for row i. */
void history_lease_json(cJSON *o, const PGresult *r, int row, int col);

#endif

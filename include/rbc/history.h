/*
 * history.h — every journal line also stored in PostgreSQL (--db URL,
 * RBC_DATABASE_URL), for teams that share run records beyond one machine.
 *
 * The file journal stays the truth: lines reach the sender once they are on
 * disk, are queued in memory and sent in batches over a non-blocking libpq
 * connection polled by libuv. When the database is down or goes away the run
 * goes on; the sender reconnects with a growing delay (up to 5 s) and sends
 * what is queued, so nothing is lost while the process lives. Storing is
 * idempotent (run, seq): a resume sends the whole journal again.
 *
 * The tables are rbc's own (schema version HISTORY_SCHEMA, created on first
 * use under an advisory lock): rbc_schema, rbc_runs, rbc_events — described
 * in docs/journal.md — since version 2, rbc_leases (lease.h), and since
 * version 3, rbc_commands (commands.h).
 */
#ifndef RBC_HISTORY_H
#define RBC_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "rbc/error.h"

#define HISTORY_SCHEMA 3

struct history;

/* Starts connecting to url in the background for the run run_id. */
struct history *history_start(uv_loop_t *loop, const char *url, const char *run_id);

/* Queues one journal line (JSON, masked, without its newline). */
void history_add(struct history *h, const char *line, size_t len);

/*
 * Fences the sender by the run's lease (docs/team.md, "Handover"): a batch
 * is stored only while rbc_leases has the run's row with holder and pid;
 * nothing is sent before history_open_gate (the lease is held). A batch
 * refused so drops the queue for good (history_drop) and calls fenced with
 * the lease's holder now (NULL: no lease row).
 */
void history_fence(struct history *h, const char *holder, const char *pid,
                   void (*fenced)(void *ud, const char *who), void *ud);
void history_open_gate(struct history *h);
/* The run was taken over: what is queued and what comes is never sent. */
void history_drop(struct history *h);

/* Lines queued and not yet stored. */
size_t history_pending(const struct history *h);
/* Lines stored so far. */
uint64_t history_stored(const struct history *h);
/* The connection's state in words: "connecting", "connected", "down: why". */
const char *history_state(const struct history *h);

/*
 * No more lines will come: keeps sending what is queued for at most
 * grace_ms, then calls done (on the loop). The caller runs the loop until
 * then and frees the sender afterwards.
 */
void history_finish(struct history *h, uint64_t grace_ms, void (*done)(void *ud), void *ud);
void history_free(struct history *h);

/* The SQL that creates the tables (several statements; the last gives the
   schema version), and the one that stores lines ($1 run, $2 JSON array). */
extern const char history_schema_sql[];
extern const char history_insert_sql[];
extern const char history_insert_fenced_sql[]; /* … $3 holder, $4 pid; gives ours, holder */

/* url with its password (if any) masked: what may be written down. */
char *history_url_redacted(const char *url);

/* rbc history: commands, not a run — these block. */
bool history_print_runs(const char *url, bool json, FILE *out, struct rbc_error *err);
/* The run's events in order (json: its header, then each event, one per line). */
bool history_print_run(const char *url, const char *run, bool json, FILE *out, struct rbc_error *err);
/* Stores every line of the journal in dir (idempotent); *n: lines sent. */
bool history_push(const char *url, const char *dir, const char *run, size_t *n, struct rbc_error *err);

#endif

/*
 * follow.h — a run followed from its record as it grows, read-only
 * (docs/console.md, "Following a run").
 *
 * A follower takes the journal's lines in order — from the run directory's
 * journal.jsonl as it grows (follow_tail: libuv file events, reads in the
 * thread pool, a torn last line kept until its newline comes) or from
 * PostgreSQL's rbc_events (follow_db.c) — checks each with the journal's own
 * checker, applies it to an engine that never starts anything (resume.h's
 * apply, as `rbc resume` rebuilds a run) and passes the event on to the
 * view as the engine would have said it. A line the checker refuses stops
 * the following: nothing after it is applied.
 */
#ifndef RBC_FOLLOW_H
#define RBC_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/engine.h"
#include "rbc/error.h"

struct follow_cbs {
	void (*emit)(void *ud, const struct eng_event *ev); /* each event applied */
	void (*say)(void *ud, const char *text);            /* a message for the operator */
	void *ud;
};

struct follower;

/* A follower of the run named run (its directory, or its id for a
   database) applying to e. */
struct follower *follower_new(const char *run, struct engine *e, const struct follow_cbs *cb);
/*
 * One whole line of the journal (len bytes, its newline included), the
 * next in order: checked, applied, passed on. False when it is refused (the
 * follower has stopped and said why).
 */
bool follower_line(struct follower *f, const char *raw, size_t len);
/* The seq of the last line applied (the header's: 0); -1 before it. */
long long follower_seq(const struct follower *f);
/* Who drives the run: "OPERATOR@HOST", from the header; NULL before it. */
const char *follower_driver(const struct follower *f);
/* A message for the operator (a source's trouble), through cb.say. */
void follower_say(struct follower *f, const char *text);
/* The follower has stopped on a line it refused. */
bool follower_stopped(const struct follower *f);
void follower_free(struct follower *f);

/* RBC_FOLLOW_TRACE names a file: each seq applied is appended there with
   the wall clock in ms ("SEQ MS"), a benchmark's aid (docs/console.md). */
void follower_trace(struct follower *f, uint64_t seq);

/* Why text may not be run's header line (the journal's checker), or NULL
   when it may: a header from elsewhere is checked before it is used. */
char *follow_check_header(const char *run, const char *text);

struct follow_tail;
/* Follows dir/journal.jsonl on loop into f from its first line. */
struct follow_tail *follow_tail_start(uv_loop_t *loop, const char *dir, struct follower *f,
                                      struct rbc_error *err);
/* Stops and frees it (its handles close on the loop). */
void follow_tail_stop(struct follow_tail *t);

struct follow_db;
/* Follows run's rows of rbc_events at url on loop into f, after the seq f
   has applied (its header fed first); *state says the connection's trouble
   ("db lost, retrying"), NULL while it is up. Never blocks. */
struct follow_db *follow_db_start(uv_loop_t *loop, const char *url, const char *run, struct follower *f,
                                  const char **state);
void follow_db_stop(struct follow_db *d);
/* The run's header line from rbc_runs (a new string), or NULL with err:
   read before the console opens (its runbooks make the engine), waiting
   for the server (connect_timeout 10 s). */
char *follow_db_header(const char *url, const char *run, struct rbc_error *err);

#endif

/*
 * pgwait.h — libpq connections. On the loop, non-blocking: the host name
 * resolved in the thread pool (never on the loop thread), libpq's connect
 * driven by a uv_poll of its socket (history.c, lease.c, follow_db.c,
 * commands.c). Before any loop runs, blocking (pgwait_connect_now: rbc
 * history, export --db, follow's header, a takeover's rebuild and claim).
 * docs/architecture.md.
 */
#ifndef RBC_RECORD_PGWAIT_H
#define RBC_RECORD_PGWAIT_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <uv.h>

#include "rbc/error.h"

#define PGWAIT_ADDR 64

struct pgwait;

/* Called once: pg connected and non-blocking, poll a stopped uv_poll of its
   socket (the caller's now: its data, its close, its free) and err NULL; or
   pg and poll NULL and err one line of why. The pgwait is gone after. */
typedef void pgwait_cb(void *ud, PGconn *pg, uv_poll_t *poll, const char *err);

/* The single host name of a connection string that needs resolving (not a
   socket, an address or several hosts: libpq's own), or NULL; to free. */
char *pgwait_host(const char *url);

/* Connects to url (a URL or key=value string) as app. host, when not NULL,
   is resolved into addr (PGWAIT_ADDR bytes, the caller's) unless keep and
   addr is set already; addr, when set, is libpq's hostaddr. unref: the poll
   does not keep the loop going. NULL when it failed at once (called back
   already). */
struct pgwait *pgwait_start(uv_loop_t *loop, const char *url, const char *app, const char *host, char *addr,
                            bool keep, bool unref, pgwait_cb *cb, void *ud);

/* Why a connected poll said status: libpq's words when the socket holds an
   error (libuv says EBADF for it: a reset, a server gone), else libuv's. */
const char *pgwait_poll_error(PGconn *pg, int status);

/* A connection made at once, for a command's work before any loop runs
   (connect_timeout timeout_s seconds, notices never shown); NULL with err
   "the database: WHY" on one line. */
PGconn *pgwait_connect_now(const char *url, const char *app, const char *timeout_s, struct rbc_error *err);
/* What libpq says (msg), on one line: control characters as spaces, no
   trailing blank (a new string). */
char *pgwait_one_line(const char *msg);

/* Gives up a connection under way, without calling back; what it holds is
   freed once its resolution or poll handle is done. NULL does nothing. */
void pgwait_cancel(struct pgwait *w);

#endif

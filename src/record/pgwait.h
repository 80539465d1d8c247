/*
 * pgwait.h — libpq connections. On the loop, non-blocking: the host name
 * resolved in the thread pool (never on the loop thread), libpq's connect
 * driven by a uv_poll of its socket (history.c, lease.c, follow_db.c,
 * commands.c), the same struct pgsock each then waits on for its
 * statements. Before any loop runs, blocking (pgwait_connect_now: rbc
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

/* A libpq connection's socket on the loop: a uv_poll of it, made again
   when libpq moves to another socket (the next host of a multi-host
   connect, a reconnection). Set up by its owner before the first wait. */
struct pgsock {
	uv_poll_t *poll;          /* NULL when none (at first) */
	int fd;                   /* the socket poll is on (-1 at first) */
	uv_close_cb closed;       /* the owner's: frees the handle (its data the owner's); NULL: freed here */
	int *closing;             /* the owner's count of handles closing, one more at each close; or NULL */
};

/* What pgsock_wait says, besides 0: each caller goes down in its own words. */
#define PGSOCK_NO_SOCKET (-1) /* libpq has no socket (PQerrorMessage says why) */
#define PGSOCK_NO_POLL (-2)   /* libuv cannot poll it */

/* Waits on pg's socket for events: cb is called with the poll's data data.
   A new poll (the first, or another socket: the old one closed as
   pgsock_close does) keeps the loop going only when keep_loop. 0, or
   PGSOCK_NO_SOCKET (s as it was), or PGSOCK_NO_POLL (s holds no poll). */
int pgsock_wait(struct pgsock *s, uv_loop_t *loop, PGconn *pg, int events, uv_poll_cb cb, void *data,
                bool keep_loop);

/* Takes poll, a connected pgwait's (pgwait_cb), as s's: on pg's socket,
   its data data. Its hold on the loop is as pgwait_start's unref said. */
void pgsock_adopt(struct pgsock *s, uv_poll_t *poll, PGconn *pg, void *data);

/* Stops and closes s's poll, if any (closed and closing as s says). */
void pgsock_close(struct pgsock *s);

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

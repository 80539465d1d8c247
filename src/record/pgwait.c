/*
 * pgwait.c — a non-blocking libpq connection started on the loop
 * (pgwait.h): uv_getaddrinfo for the host name, PQconnectStartParams with
 * its address as hostaddr, PQconnectPoll on a uv_poll of the socket; and
 * struct pgsock, that uv_poll, which the connected callers keep.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "pgwait.h"
#include "rbc/util.h"

struct pgwait {
	uv_loop_t *loop;
	char *url, *app, *host;
	char *addr;
	bool unref, gai_pending, cancelled;
	bool starting, finished;      /* called back before pgwait_start returned */
	PGconn *pg;
	struct pgsock sock;
	uv_getaddrinfo_t gai;
	pgwait_cb *cb;
	void *ud;
};

/* Frees the pgwait itself. */
static void pw_free(struct pgwait *w)
{
	free(w->url);
	free(w->app);
	free(w->host);
	free(w);
}

/* Called back: freed, or left to pgwait_start when still in it. */
static void pw_done(struct pgwait *w)
{
	if (w->starting)
		w->finished = true;
	else
		pw_free(w);
}

/* A poll handle closed, its owner counting nothing: freed. */
static void pgsock_freed(uv_handle_t *hd)
{
	free(hd);
}

/* Stops and closes the socket's poll, if any (pgwait.h). */
void pgsock_close(struct pgsock *s)
{
	if (!s->poll)
		return;
	uv_poll_stop(s->poll);
	if (s->closing)
		++*s->closing;
	uv_close((uv_handle_t *)s->poll, s->closed ? s->closed : pgsock_freed);
	s->poll = NULL;
	s->fd = -1;
}

/* Waits on the connection's socket for events (pgwait.h). */
int pgsock_wait(struct pgsock *s, uv_loop_t *loop, PGconn *pg, int events, uv_poll_cb cb, void *data,
                bool keep_loop)
{
	int fd = PQsocket(pg);
	if (fd < 0)
		return PGSOCK_NO_SOCKET;
	if (s->poll && s->fd != fd)
		pgsock_close(s);
	if (!s->poll) {
		s->poll = xmalloc(sizeof *s->poll);
		if (uv_poll_init_socket(loop, s->poll, fd) < 0) {
			free(s->poll); /* never a handle: nothing to close */
			s->poll = NULL;
			return PGSOCK_NO_POLL;
		}
		s->poll->data = data;
		s->fd = fd;
		if (!keep_loop)
			uv_unref((uv_handle_t *)s->poll);
	}
	uv_poll_start(s->poll, events, cb);
	return 0;
}

/* Takes a connected pgwait's poll (pgwait.h). */
void pgsock_adopt(struct pgsock *s, uv_poll_t *poll, PGconn *pg, void *data)
{
	s->poll = poll;
	s->poll->data = data;
	s->fd = PQsocket(pg);
}

/* Failed: everything let go, the caller told why, the pgwait freed. */
static void fail(struct pgwait *w, const char *why)
{
	char *m = xstrdup(why);
	pgsock_close(&w->sock);
	if (w->pg)
		PQfinish(w->pg);
	w->pg = NULL;
	w->cb(w->ud, NULL, NULL, m);
	free(m);
	pw_done(w);
}

/* fail, with libpq's message. */
static void fail_pq(struct pgwait *w)
{
	fail(w, w->pg ? PQerrorMessage(w->pg) : "");
}

static void on_poll(uv_poll_t *p, int status, int events);

/* Waits on the connection's socket for events. */
static void poll_wait(struct pgwait *w, int events)
{
	int rc = pgsock_wait(&w->sock, w->loop, w->pg, events, on_poll, w, !w->unref);
	if (rc == PGSOCK_NO_SOCKET)
		fail_pq(w);
	else if (rc == PGSOCK_NO_POLL)
		fail(w, "cannot poll the connection");
}

/* The socket is ready: libpq's connect goes on, or is done. */
static void on_poll(uv_poll_t *p, int status, int events)
{
	struct pgwait *w = p->data;
	(void)events;
	/* libuv says EBADF for an error pending on the socket (a refused
	   connect): libpq reads it from the socket and says it in its words,
	   or goes on with its next try. */
	if (status < 0 && status != UV_EBADF) {
		fail(w, uv_strerror(status));
		return;
	}
	switch (PQconnectPoll(w->pg)) {
	case PGRES_POLLING_READING:
		poll_wait(w, UV_READABLE);
		return;
	case PGRES_POLLING_WRITING:
		poll_wait(w, UV_WRITABLE);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		fail_pq(w);
		return;
	}
	uv_poll_stop(w->sock.poll);
	w->sock.poll->data = NULL;
	w->cb(w->ud, w->pg, w->sock.poll, NULL);
	pw_done(w);
}

/* libpq's notices are never shown: the console owns the terminal. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Starts libpq's non-blocking connection (to the address, if any). */
static void start_pq(struct pgwait *w)
{
	const char *kw[5], *val[5];
	int n = 0;
	kw[n] = "dbname", val[n++] = w->url;
	if (w->addr[0])
		kw[n] = "hostaddr", val[n++] = w->addr;
	kw[n] = "fallback_application_name", val[n++] = w->app;
	kw[n] = "connect_timeout", val[n++] = "10";
	kw[n] = NULL, val[n] = NULL;
	w->pg = PQconnectStartParams(kw, val, 1);
	if (!w->pg) {
		fail(w, "out of memory");
		return;
	}
	PQsetNoticeProcessor(w->pg, on_notice, NULL);
	if (PQstatus(w->pg) == CONNECTION_BAD) {
		fail_pq(w);
		return;
	}
	PQsetnonblocking(w->pg, 1);
	poll_wait(w, UV_WRITABLE);
}

/* The host name is resolved (in the thread pool): connects to its address. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pgwait *w = req->data;
	w->gai_pending = false;
	if (w->cancelled) {
		uv_freeaddrinfo(res);
		pw_free(w);
		return;
	}
	if (status < 0 || !res) {
		uv_freeaddrinfo(res);
		char *m = xasprintf("cannot resolve %s: %s", w->host, uv_strerror(status));
		fail(w, m);
		free(m);
		return;
	}
	uv_ip_name(res->ai_addr, w->addr, PGWAIT_ADDR);
	uv_freeaddrinfo(res);
	start_pq(w);
}

/* The one host name of a connection string to resolve, or NULL (pgwait.h). */
char *pgwait_host(const char *url)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	PQfreemem(err);
	if (!opts)
		return NULL;
	char *host = NULL;
	bool addr = false;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "hostaddr") == 0 && o->val && *o->val)
			addr = true;
		if (strcmp(o->keyword, "host") == 0 && o->val && *o->val)
			host = xstrdup(o->val);
	}
	PQconninfoFree(opts);
	struct in6_addr a6;
	struct in_addr a4;
	if (host && (addr || host[0] == '/' || host[0] == '@' || strchr(host, ',') ||
	             inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)) {
		free(host); /* a socket, an address, or several hosts: libpq's own */
		host = NULL;
	}
	return host;
}

/* Starts connecting (pgwait.h). A failure found at once is called back
   before this returns NULL. */
struct pgwait *pgwait_start(uv_loop_t *loop, const char *url, const char *app, const char *host, char *addr,
                            bool keep, bool unref, pgwait_cb *cb, void *ud)
{
	struct pgwait *w = xcalloc(1, sizeof *w);
	w->loop = loop;
	w->url = xstrdup(url);
	w->app = xstrdup(app);
	w->host = host ? xstrdup(host) : NULL;
	w->addr = addr;
	w->unref = unref;
	w->sock.fd = -1;
	w->cb = cb;
	w->ud = ud;
	if (w->host && !(keep && addr[0])) {
		w->gai.data = w;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
		if (uv_getaddrinfo(loop, &w->gai, on_resolved, w->host, NULL, &hints) == 0) {
			w->gai_pending = true;
			return w;
		}
	}
	w->starting = true;
	start_pq(w);
	w->starting = false;
	if (w->finished) {
		pw_free(w);
		return NULL;
	}
	return w;
}

/* Why a connected poll failed (pgwait.h). */
const char *pgwait_poll_error(PGconn *pg, int status)
{
	if (status == UV_EBADF && pg && !PQconsumeInput(pg) && *PQerrorMessage(pg))
		return PQerrorMessage(pg);
	return uv_strerror(status);
}

/* libpq's message on one line (pgwait.h). */
char *pgwait_one_line(const char *msg)
{
	return str_one_line(msg && *msg ? msg : "unknown error", ' ');
}

/* A blocking connection before any loop runs (pgwait.h). */
PGconn *pgwait_connect_now(const char *url, const char *app, const char *timeout_s, struct rbc_error *err)
{
	const char *kw[] = {"dbname", "fallback_application_name", "connect_timeout", NULL};
	const char *val[] = {url, app, timeout_s, NULL};
	PGconn *pg = PQconnectdbParams(kw, val, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		char *m = pgwait_one_line(pg ? PQerrorMessage(pg) : "out of memory");
		rbc_error_set(err, "the database: %s", m);
		free(m);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, on_notice, NULL);
	return pg;
}

/* Gives up a connection under way (pgwait.h). */
void pgwait_cancel(struct pgwait *w)
{
	if (!w)
		return;
	pgsock_close(&w->sock);
	if (w->pg)
		PQfinish(w->pg);
	w->pg = NULL;
	if (w->gai_pending) {
		w->cancelled = true; /* on_resolved frees it */
		uv_cancel((uv_req_t *)&w->gai);
		return;
	}
	pw_free(w);
}

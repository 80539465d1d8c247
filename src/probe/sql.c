/*
 * sql.c — the sql probe: one libpq connection per attempt, driven without
 * blocking by a uv_poll_t on the connection's socket.
 *
 * Steps: host names of the connection are resolved with uv_getaddrinfo and
 * handed to libpq as hostaddr (so libpq never resolves on the loop thread);
 * PQconnectStartParams/PQconnectPoll; unless the request allows writes,
 * "BEGIN READ ONLY" (with "SET statement_timeout" when a timeout is given);
 * the query with PQsendQueryParams — parameters always travel as parameters,
 * and the extended protocol refuses a second statement, so a query cannot
 * end the read-only transaction and go on; rows in single-row mode so memory
 * stays bounded by max_rows; "COMMIT".
 *
 * Secrets: the connection string may hold a password. It never appears in an
 * error: messages come from libpq's own text (which names host and port, not
 * the string) with the password value replaced.
 *
 * Cancel and timeout: closing the connection does not stop a statement the
 * server is running (it notices the client is gone only when it next talks
 * to it, so a write may still commit). When the attempt ends while a
 * statement is in flight, a cancel request goes to the server first:
 * PQcancel, which blocks (it opens a connection of its own), on the libuv
 * thread pool. The sample is delivered without waiting for it; the request
 * is a hold on the core, so the probe lives until it has been sent.
 *
 * Lifetime is core.h's: the socket poll, the pending lookup and the cancel
 * request are holds.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uv.h>

#include "core.h"
#include "internal.h"
#include "rbc/probe.h"
#include "rbc/sqlreach.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"

#define SQL_DEFAULT_MAX_ROWS 1000

/* Type oids (pg_type.h is server-side only). */
enum {
	OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
	OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700,
};

enum sql_phase { PH_RESOLVE, PH_CONNECT, PH_SETUP, PH_QUERY, PH_COMMIT };

struct probe {
	struct probe_core core;       /* first: the shared life cycle */
	char *conn, *query, *password;
	char **params;
	size_t nparams;
	bool write;
	long max_rows;

	enum sql_phase phase;
	PGconn *pg;
	uv_poll_t *poll;              /* on poll_fd; replaced when the socket changes */
	int poll_fd;
	bool flushing;                /* output still queued in libpq */
	uv_getaddrinfo_t gai;

	/* resolution: host entries in, host/hostaddr/port lists out */
	char **hosts, **ports;
	size_t nhosts, nports, host_i;
	struct strbuf out_host, out_addr, out_port;
	size_t nout;
	bool did_lookup;
	char *lookup_err;

	/* result of the query */
	long rows;
	struct rbc_value *columns, *rows_data, *first_row, *value;
	bool truncated, have_rows;

	bool gai_pending;             /* the lookup and the poll are holds on the core */
	bool server_ended;            /* the server ended the statement (an error result) */
	PGcancel *cancel;             /* the cancel request being sent; a hold */
	uv_work_t cancel_work;
};

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees what an sql probe owns, once the core is done with it. */
static void sql_release(struct probe_core *c)
{
	struct probe *p = (struct probe *)c;
	free(p->conn);
	free(p->query);
	free(p->password);
	free_list(p->params, p->nparams);
	free_list(p->hosts, p->nhosts);
	free_list(p->ports, p->nports);
	sb_free(&p->out_host);
	sb_free(&p->out_addr);
	sb_free(&p->out_port);
	free(p->lookup_err);
	value_free(p->columns);
	value_free(p->rows_data);
	value_free(p->first_row);
	value_free(p->value);
	free(p);
}

/* Thread pool: sends the cancel request; best effort, its answer unused. */
static void cancel_send(uv_work_t *w)
{
	struct probe *p = w->data;
	char errbuf[256];
	(void)PQcancel(p->cancel, errbuf, sizeof errbuf);
}

/* Loop thread, once the request is sent (or failed): the hold ends. */
static void cancel_sent(uv_work_t *w, int status)
{
	struct probe *p = w->data;
	(void)status;
	PQfreeCancel(p->cancel);
	p->cancel = NULL;
	probe_core_drop(&p->core);
}

/*
 * The attempt ends while the server may still run our statement (timeout,
 * cancel, connection trouble): asks the server to cancel it, off the loop
 * thread. Call it before PQfinish, which frees what PQgetCancel copies.
 */
static void cancel_on_server(struct probe *p)
{
	if (p->server_ended || PQtransactionStatus(p->pg) != PQTRANS_ACTIVE)
		return;
	p->cancel = PQgetCancel(p->pg);
	if (!p->cancel)
		return;
	p->cancel_work.data = p;
	if (uv_queue_work(p->core.loop, &p->cancel_work, cancel_send, cancel_sent) != 0) {
		PQfreeCancel(p->cancel);
		p->cancel = NULL;
		return;
	}
	probe_core_hold(&p->core);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	free(h);
	probe_core_drop(&p->core);
}

/* Stops polling the socket (before libpq may close it). */
static void poll_close(struct probe *p)
{
	if (!p->poll)
		return;
	uv_poll_stop(p->poll);
	uv_close((uv_handle_t *)p->poll, on_poll_closed);
	p->poll = NULL;
	p->poll_fd = -1;
}

/* Ends the attempt (error copied; NULL: success); only the first call counts. */
static void sql_finish(struct probe_core *c, const char *error)
{
	struct probe *p = (struct probe *)c;
	if (!probe_core_finishing(c))
		return;
	poll_close(p);
	if (p->pg) {
		if (error)
			cancel_on_server(p);
		PQfinish(p->pg);
		p->pg = NULL;
	}
	if (p->gai_pending)
		uv_cancel((uv_req_t *)&p->gai); /* its callback still comes */
	if (!error) {
		struct rbc_value *s = c->sample;
		value_obj_set_take(s, "rows", value_num_new((double)p->rows, RBC_DIM_NONE));
		if (p->value)
			value_obj_set_take(s, "value", value_ref(p->value));
		if (p->first_row)
			value_obj_set_take(s, "row", value_ref(p->first_row));
		value_obj_set_take(s, "rows_data", value_ref(p->rows_data));
		value_obj_set_take(s, "columns", value_ref(p->columns));
		value_obj_set_take(s, "truncated", value_bool_new(p->truncated));
	}
	probe_core_deliver(c, error);
}

static void finish(struct probe *p, const char *error)
{
	sql_finish(&p->core, error);
}

/* libpq text made one line, without the password, prefixed; caller frees. */
static char *clean_message(const struct probe *p, const char *prefix, const char *msg)
{
	struct strbuf sb = {0};
	sb_adds(&sb, prefix);
	size_t start = sb.len;
	bool space = false;
	for (const char *c = msg ? msg : ""; *c; c++) {
		if (*c == '\n' || *c == '\t' || *c == '\r') {
			space = sb.len > start;
			continue;
		}
		if (space)
			sb_addc(&sb, ' ');
		space = false;
		sb_addc(&sb, *c);
	}
	if (sb.len == start)
		sb_adds(&sb, "unknown error");
	char *s = sb_take(&sb);
	if (p->password && *p->password) {
		char *r = str_replace(s, p->password, "****");
		free(s);
		s = r;
	}
	return s;
}

/* Ends with a libpq error of the connection. */
static void finish_pq(struct probe *p, const char *prefix)
{
	char *msg = clean_message(p, prefix, p->pg ? PQerrorMessage(p->pg) : NULL);
	finish(p, msg);
	free(msg);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Waits for events on the connection's current socket. */
static void poll_wait(struct probe *p, int events)
{
	int fd = PQsocket(p->pg);
	if (fd < 0) {
		finish_pq(p, "sql: connection failed: ");
		return;
	}
	if (p->poll && p->poll_fd != fd)
		poll_close(p); /* libpq moved to another socket (next host, SSL retry) */
	if (!p->poll) {
		p->poll = xmalloc(sizeof *p->poll);
		int rc = uv_poll_init_socket(p->core.loop, p->poll, fd);
		if (rc < 0) {
			free(p->poll);
			p->poll = NULL;
			char *msg = xasprintf("sql: connection failed: poll: %s", uv_strerror(rc));
			finish(p, msg);
			free(msg);
			return;
		}
		p->poll->data = p;
		p->poll_fd = fd;
		probe_core_hold(&p->core);
	}
	uv_poll_start(p->poll, events, on_poll);
}

static bool is_numeric_oid(Oid t)
{
	return t == OID_INT2 || t == OID_INT4 || t == OID_INT8 || t == OID_FLOAT4 ||
	       t == OID_FLOAT8 || t == OID_NUMERIC;
}

/* One cell: null, a number for numeric types, a boolean for bool, else text. */
static struct rbc_value *cell_value(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return value_null_new();
	const char *s = PQgetvalue(r, row, col);
	Oid t = PQftype(r, col);
	if (is_numeric_oid(t)) {
		char *end;
		double v = strtod(s, &end);
		if (end != s && *end == '\0')
			return value_num_new(v, RBC_DIM_NONE);
	}
	if (t == OID_BOOL && (s[0] == 't' || s[0] == 'f') && s[1] == '\0')
		return value_bool_new(s[0] == 't');
	return value_str_new(s, (size_t)PQgetlength(r, row, col));
}

/* Takes the column names from the first result that describes them. */
static void take_columns(struct probe *p, const PGresult *r)
{
	if (p->have_rows)
		return;
	p->have_rows = true;
	for (int c = 0; c < PQnfields(r); c++)
		value_list_push_take(p->columns, value_strz_new(PQfname(r, c)));
}

/* Handles one result of the current phase; false when the probe ended. */
static bool on_result(struct probe *p, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		char *msg;
		if (primary && state) {
			char *m = xasprintf("%s (SQLSTATE %s)", primary, state);
			msg = clean_message(p, "sql: ", m);
			free(m);
		} else {
			msg = clean_message(p, "sql: ", PQresultErrorMessage(r));
		}
		PQclear(r);
		p->server_ended = true;
		finish(p, msg);
		free(msg);
		return false;
	}
	if (p->phase == PH_QUERY) {
		if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
			take_columns(p, r);
			for (int i = 0; i < PQntuples(r); i++) {
				p->rows++;
				if (p->rows > p->max_rows) {
					p->truncated = true;
					continue;
				}
				struct rbc_value *row = value_obj_new(false);
				for (int c = 0; c < PQnfields(r); c++) {
					struct rbc_value *cell = cell_value(r, i, c);
					if (c == 0 && !p->first_row)
						p->value = value_ref(cell); /* shared, not a second copy */
					value_obj_set_take(row, PQfname(r, c), cell);
				}
				if (!p->first_row)
					p->first_row = value_ref(row);
				value_list_push_take(p->rows_data, row);
			}
		} else if (st == PGRES_COMMAND_OK) {
			const char *n = PQcmdTuples(r);
			p->rows = *n ? strtol(n, NULL, 10) : 0;
		}
	}
	PQclear(r);
	return true;
}

/* Sends the command of p->phase, or ends successfully after the last one. */
static void send_phase(struct probe *p)
{
	int ok;
	if (p->phase == PH_SETUP) {
		struct strbuf sb = {0};
		if (p->core.timeout_ms > 0) {
			/* a little before our own timer, so the server's error (SQLSTATE
			   57014) arrives first and the server stops the statement */
			int64_t left = p->core.timeout_ms - (int64_t)probe_core_elapsed_ms(&p->core);
			int64_t margin = left / 5 < 250 ? left / 5 : 250;
			int64_t st = left - margin;
			if (st > INT32_MAX) /* the server's maximum; longer is our timer's job */
				st = INT32_MAX;
			sb_addf(&sb, "SET statement_timeout = %lld;", (long long)(st < 1 ? 1 : st));
		}
		if (!p->write)
			sb_adds(&sb, "BEGIN READ ONLY;");
		if (sb.len == 0) {
			sb_free(&sb);
			p->phase = PH_QUERY;
			send_phase(p);
			return;
		}
		ok = PQsendQuery(p->pg, sb.s);
		sb_free(&sb);
	} else if (p->phase == PH_QUERY) {
		ok = PQsendQueryParams(p->pg, p->query, (int)p->nparams, NULL,
		                       (const char *const *)p->params, NULL, NULL, 0);
		if (ok)
			PQsetSingleRowMode(p->pg);
	} else if (p->phase == PH_COMMIT && !p->write) {
		ok = PQsendQuery(p->pg, "COMMIT");
	} else {
		finish(p, NULL);
		return;
	}
	if (!ok) {
		finish_pq(p, "sql: ");
		return;
	}
	int f = PQflush(p->pg);
	if (f < 0) {
		finish_pq(p, "sql: ");
		return;
	}
	p->flushing = f == 1;
	poll_wait(p, UV_READABLE | (p->flushing ? UV_WRITABLE : 0));
}

/* Connection established: on to the statements. */
static void connected(struct probe *p)
{
	p->phase = PH_SETUP;
	send_phase(p);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct probe *p = h->data;
	if (p->core.finished)
		return;
	/* libuv says EBADF for an error pending on the socket (a refused
	   connect, a reset): libpq reads it and says it in its words — while
	   connecting it may go on with the next host. */
	if (status == UV_EBADF) {
		status = 0;
		events = UV_READABLE;
	}
	if (status < 0) {
		char *msg = xasprintf("sql: connection failed: %s", uv_strerror(status));
		finish(p, msg);
		free(msg);
		return;
	}
	if (p->phase == PH_CONNECT) {
		switch (PQconnectPoll(p->pg)) {
		case PGRES_POLLING_READING:
			poll_wait(p, UV_READABLE);
			return;
		case PGRES_POLLING_WRITING:
			poll_wait(p, UV_WRITABLE);
			return;
		case PGRES_POLLING_OK:
			connected(p);
			return;
		default:
			finish_pq(p, "sql: connection failed: ");
			return;
		}
	}
	if ((events & UV_WRITABLE) && p->flushing) {
		int f = PQflush(p->pg);
		if (f < 0) {
			finish_pq(p, "sql: ");
			return;
		}
		p->flushing = f == 1;
	}
	if ((events & UV_READABLE) && !PQconsumeInput(p->pg)) {
		finish_pq(p, "sql: connection lost: ");
		return;
	}
	while (!PQisBusy(p->pg)) {
		PGresult *r = PQgetResult(p->pg);
		if (!r) {
			p->phase++;
			send_phase(p);
			return;
		}
		if (!on_result(p, r))
			return;
	}
	poll_wait(p, UV_READABLE | (p->flushing ? UV_WRITABLE : 0));
}

static void on_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* never on the terminal */
}

/* Starts the connection once the host names are resolved. */
static void connect_start(struct probe *p)
{
	const char *kw[8], *val[8];
	int n = 0;
	if (p->conn && *p->conn) {
		kw[n] = "dbname", val[n++] = p->conn; /* expanded: later keys override */
	}
	if (p->did_lookup) {
		kw[n] = "host", val[n++] = sb_borrow(&p->out_host);
		kw[n] = "hostaddr", val[n++] = sb_borrow(&p->out_addr);
		if (p->nports > 1)
			kw[n] = "port", val[n++] = sb_borrow(&p->out_port);
	}
	kw[n] = "fallback_application_name", val[n++] = "rbc";
	kw[n] = NULL, val[n] = NULL;
	p->phase = PH_CONNECT;
	p->pg = PQconnectStartParams(kw, val, 1);
	if (!p->pg) {
		finish(p, "sql: connection failed: out of memory");
		return;
	}
	PQsetNoticeProcessor(p->pg, on_notice, NULL);
	if (PQstatus(p->pg) == CONNECTION_BAD) {
		finish_pq(p, "sql: connection failed: ");
		return;
	}
	PQsetnonblocking(p->pg, 1);
	poll_wait(p, UV_WRITABLE);
}

/* Appends one host entry (host name, address or "", port) to the lists. */
static void add_target(struct probe *p, const char *host, const char *addr, size_t i)
{
	const char *sep = p->nout ? "," : "";
	sb_addf(&p->out_host, "%s%s", sep, host);
	sb_addf(&p->out_addr, "%s%s", sep, addr);
	if (p->nports > 1)
		sb_addf(&p->out_port, "%s%s", sep, i < p->nports ? p->ports[i] : "");
	p->nout++;
}

static bool is_literal_ip(const char *h)
{
	unsigned char buf[16];
	return uv_inet_pton(AF_INET, h, buf) == 0 || uv_inet_pton(AF_INET6, h, buf) == 0;
}

static void resolve_next(struct probe *p);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct probe *p = req->data;
	p->gai_pending = false;
	if (p->core.finished) {
		if (res)
			uv_freeaddrinfo(res);
		probe_core_drop(&p->core);
		return;
	}
	probe_core_drop(&p->core); /* not delivered yet: never releases here */
	const char *host = p->hosts[p->host_i];
	size_t before = p->nout;
	char seen[8][INET6_ADDRSTRLEN];
	size_t nseen = 0;
	for (const struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next) {
		char ip[INET6_ADDRSTRLEN] = "";
		if (a->ai_family == AF_INET)
			uv_ip4_name((const struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
		else if (a->ai_family == AF_INET6)
			uv_ip6_name((const struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
		else
			continue;
		bool dup = false;
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = strcmp(seen[i], ip) == 0;
		if (dup || nseen == RBC_ARRAY_LEN(seen))
			continue;
		memcpy(seen[nseen++], ip, sizeof ip);
		add_target(p, host, ip, p->host_i);
	}
	if (res)
		uv_freeaddrinfo(res);
	if (p->nout == before && !p->lookup_err) {
		if (status == 0 || status == UV_EAI_NONAME || status == UV_EAI_NODATA)
			p->lookup_err = xasprintf("name not found: %s", host);
		else
			p->lookup_err = xasprintf("name lookup failed: %s: %s", host,
			                          uv_strerror(status));
	}
	p->host_i++;
	resolve_next(p);
}

/* Resolves the next host name, or connects when all are done. */
static void resolve_next(struct probe *p)
{
	struct addrinfo hints;
	for (; p->host_i < p->nhosts; p->host_i++) {
		const char *h = p->hosts[p->host_i];
		if (!*h || h[0] == '/' || h[0] == '@') {
			add_target(p, h, "", p->host_i); /* Unix socket: no lookup */
			continue;
		}
		if (is_literal_ip(h)) {
			add_target(p, h, h, p->host_i);
			continue;
		}
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		p->did_lookup = true;
		p->gai.data = p;
		int rc = uv_getaddrinfo(p->core.loop, &p->gai, on_resolved, h, NULL, &hints);
		if (rc == 0) {
			p->gai_pending = true;
			probe_core_hold(&p->core);
			return;
		}
		if (!p->lookup_err)
			p->lookup_err = xasprintf("name lookup failed: %s: %s", h, uv_strerror(rc));
	}
	if (p->did_lookup && p->nout == 0) {
		char *msg = xasprintf("sql: connection failed: %s",
		                      p->lookup_err ? p->lookup_err : "no host");
		finish(p, msg);
		free(msg);
		return;
	}
	connect_start(p);
}

/* Splits a comma list ("a,b") into owned strings. */
static char **split_list(const char *s, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		const char *c = strchr(s, ',');
		size_t len = c ? (size_t)(c - s) : strlen(s);
		xgrow(&v, &cap, *n + 1, sizeof *v);
		v[(*n)++] = xstrndup(s, len);
		if (!c)
			break;
		s = c + 1;
	}
	return v;
}

/* The connection settings that decide where libpq connects, and the password. */
enum { OPT_HOST, OPT_HOSTADDR, OPT_PORT, OPT_PASSWORD, OPT_SERVICE, OPT_COUNT };
static const char *const opt_keyword[OPT_COUNT] = {"host", "hostaddr", "port", "password",
                                                   "service"};
static const char *const opt_envvar[OPT_COUNT] = {"PGHOST", "PGHOSTADDR", "PGPORT",
                                                  "PGPASSWORD", "PGSERVICE"};

/* Where libpq looks for the system service file when PGSYSCONFDIR is unset:
   its build's sysconfdir, which is this on Debian (pg_config --sysconfdir). */
#define SQL_SYSCONFDIR "/etc/postgresql-common"

/*
 * Reads section [service] of the service file at path, as libpq does: lines
 * "key=value", no blanks around "=", '#' comments. Sets the settings of opt
 * not set yet (an explicit setting wins). Returns 1 when the section was
 * found, 0 when not (or no file), -1 when the file is unusable (libpq then
 * refuses the connection itself, before connecting anywhere).
 */
static int read_service_file(const char *path, const char *service, char *opt[OPT_COUNT])
{
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	if (!text)
		return 0;
	int found = 0;
	size_t slen = strlen(service);
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		size_t n = strlen(line);
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			line[--n] = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		if (*line == '[') {
			if (found)
				break; /* the end of our section */
			found = strncmp(line + 1, service, slen) == 0 && line[slen + 1] == ']';
			continue;
		}
		if (!found)
			continue;
		char *eq = strchr(line, '=');
		if (!eq || strncmp(line, "service=", 8) == 0) {
			found = -1;
			break;
		}
		*eq = '\0';
		for (int i = 0; i < OPT_COUNT; i++)
			if (strcmp(line, opt_keyword[i]) == 0 && !opt[i])
				opt[i] = xstrdup(eq + 1);
	}
	free(text);
	return found;
}

/* The home directory libpq uses for ~/.pg_service.conf: $HOME, else the
   password database's (caller frees). */
static char *pq_home(void)
{
	const char *home = getenv("HOME");
	if (home && *home)
		return xstrdup(home);
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) != 0 || !res)
		return NULL;
	return xstrdup(res->pw_dir);
}

/*
 * Fills the unset settings of opt from the service's section, looking where
 * libpq looks: $PGSERVICEFILE or ~/.pg_service.conf, then
 * $PGSYSCONFDIR/pg_service.conf. False when the service is not found or a
 * file is unusable: libpq then fails on its own, without a lookup.
 */
static bool read_service(const char *service, char *opt[OPT_COUNT])
{
	const char *env = getenv("PGSERVICEFILE");
	char *path = NULL;
	int rc = 0;
	if (env) {
		path = xstrdup(env);
	} else {
		char *home = pq_home();
		if (home)
			path = xasprintf("%s/.pg_service.conf", home);
		free(home);
	}
	if (path)
		rc = read_service_file(path, service, opt);
	free(path);
	if (rc != 0)
		return rc > 0;
	env = getenv("PGSYSCONFDIR");
	path = xasprintf("%s/pg_service.conf", env ? env : SQL_SYSCONFDIR);
	rc = read_service_file(path, service, opt);
	free(path);
	return rc > 0;
}

/*
 * Works out where libpq will connect, with its precedence: the connection
 * string, then the service's section (service= or $PGSERVICE), then the PG*
 * environment. Host names (without a hostaddr) go to p->hosts to be
 * resolved here. Returns false when the string does not parse.
 */
static bool plan_hosts(struct probe *p)
{
	char *opt[OPT_COUNT] = {0};
	if (p->conn && *p->conn) {
		char *perr = NULL;
		PQconninfoOption *opts = PQconninfoParse(p->conn, &perr);
		PQfreemem(perr); /* may quote the string: never shown */
		if (!opts)
			return false;
		for (PQconninfoOption *o = opts; o->keyword; o++)
			for (int i = 0; i < OPT_COUNT; i++)
				if (o->val && strcmp(o->keyword, opt_keyword[i]) == 0)
					opt[i] = xstrdup(o->val);
		PQconninfoFree(opts);
	}
	const char *service = opt[OPT_SERVICE] ? opt[OPT_SERVICE] : getenv("PGSERVICE");
	bool known = true;
	if (service && *service)
		known = read_service(service, opt);
	for (int i = 0; i < OPT_COUNT; i++) {
		const char *e = getenv(opt_envvar[i]);
		if (!opt[i] && e && *e)
			opt[i] = xstrdup(e);
	}
	if (opt[OPT_PASSWORD] && *opt[OPT_PASSWORD])
		p->password = xstrdup(opt[OPT_PASSWORD]);
	/* With hostaddr given libpq does no lookup; an unknown service fails in
	   libpq. A setting given empty stays empty, as in libpq: no lookup. */
	if (known && opt[OPT_HOST] && *opt[OPT_HOST] && !(opt[OPT_HOSTADDR] && *opt[OPT_HOSTADDR])) {
		p->hosts = split_list(opt[OPT_HOST], &p->nhosts);
		if (opt[OPT_PORT] && *opt[OPT_PORT])
			p->ports = split_list(opt[OPT_PORT], &p->nports);
	}
	for (int i = 0; i < OPT_COUNT; i++)
		free(opt[i]);
	return true;
}

static struct probe *sql_start(const struct probe_req *req, struct rbc_error *err)
{
	if (!req->query || !*req->query) {
		rbc_error_set(err, "sql: no query");
		return NULL;
	}
	struct probe *p = xcalloc(1, sizeof *p);
	p->conn = req->conn ? xstrdup(req->conn) : NULL;
	if (!plan_hosts(p)) {
		/* libpq's message could quote the password: say only this */
		rbc_error_set(err, "sql: invalid connection string");
		free(p->conn);
		free(p->password);
		free(p);
		return NULL;
	}
	p->query = xstrdup(req->query);
	p->nparams = req->nparams;
	if (p->nparams) {
		p->params = xcalloc(p->nparams, sizeof *p->params);
		for (size_t i = 0; i < p->nparams; i++)
			p->params[i] = req->params && req->params[i] ? xstrdup(req->params[i]) : NULL;
	}
	p->write = req->write != 0;
	p->max_rows = req->max_rows > 0 ? req->max_rows : SQL_DEFAULT_MAX_ROWS;
	p->poll_fd = -1;
	p->columns = value_list_new();
	p->rows_data = value_list_new();
	probe_core_start(&p->core, req, sql_finish, sql_release);
	p->phase = PH_RESOLVE;
	resolve_next(p);
	return p;
}

/* ------------------------------------------------------- the step */

/* The "conn" key of a sql step. */
static void sql_key_conn(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_sql_step *)t)->conn = keys_xtext(r, m);
}

/* The "query" key of a sql step. */
static void sql_key_query(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_sql_step *)t)->query = keys_text(r, m);
}

/* The "params" key of a sql step. */
static void sql_key_params(struct keys_reader *r, const cJSON *m, void *t)
{
	struct probe_sql_step *q = t;
	if (!keys_want_array(r, m, false))
		return;
	size_t n = (size_t)cJSON_GetArraySize(m), i = 0;
	q->params = xcalloc(n, sizeof *q->params);
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(r, i);
		if (cJSON_IsString(c)) {
			keys_scan_refs(r, c);
			q->params[i] = xstrdup(c->valuestring);
		} else if (cJSON_IsNumber(c)) {
			q->params[i] = keys_number_text(c->valuedouble);
		} else if (cJSON_IsBool(c)) {
			q->params[i] = xstrdup(cJSON_IsTrue(c) ? "true" : "false");
		} else if (!cJSON_IsNull(c)) {
			keys_err(r, c, "expected a string, number, boolean or null, got %s", json_type_name(c));
		}
		keys_pop(r, old);
	}
	q->nparams = n;
}

/* The "write" key of a sql step. */
static void sql_key_write(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_bool(r, m, &((struct probe_sql_step *)t)->write);
}

/* The "max_rows" key of a sql step. */
static void sql_key_max_rows(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_int(r, m, 1, 10000000, &((struct probe_sql_step *)t)->max_rows);
}

static const struct keys_member sql_keys[] = {
	{"conn", sql_key_conn}, {"query", sql_key_query}, {"params", sql_key_params},
	{"write", sql_key_write}, {"max_rows", sql_key_max_rows},
};

/* The query string node of the sql step being checked, for sqlreach_scan. */
struct sql_reach_ctx {
	struct keys_reader *r;
	const cJSON *q;
};

/* One thing a read-only query can still do (sqlreach.h), warned at its byte. */
static void sql_reach_warn(size_t at, const char *what, void *ud)
{
	struct sql_reach_ctx *c = ud;
	unsigned line = 0, col = 0;
	json_doc_string_pos(c->r->doc, c->q, at, &line, &col);
	diags_add(c->r->d, true, c->r->file, line, col, c->r->path.s,
	          "%s: a read-only transaction does not stop that (it refuses only writes to "
	          "tables); connect as a role that may not", what);
}

/* The sql op's load: the object under "sql", query required; a read-only
   query is scanned for what a read-only transaction does not stop. */
static void sql_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (!keys_want_object(r, m, "an object with \"query\""))
		return;
	struct probe_sql_step *d = xcalloc(1, sizeof *d);
	s->action_data = d;
	keys_walk(r, m, sql_keys, RBC_ARRAY_LEN(sql_keys), d);
	keys_require(r, m, "query", NULL);
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(m, "query");
	if (d->query && !d->write && cJSON_IsString(q)) {
		size_t old = keys_push_key(r, "query");
		struct sql_reach_ctx ctx = {r, q};
		sqlreach_scan(q->valuestring, sql_reach_warn, &ctx);
		keys_pop(r, old);
	}
}

/* The sql op's free_data. */
static void sql_free_data(void *data)
{
	struct probe_sql_step *d = data;
	if (!d)
		return;
	free(d->conn);
	free(d->query);
	for (size_t i = 0; i < d->nparams; i++)
		free(d->params[i]);
	free(d->params);
	free(d);
}

/* The sql op's build: conn expanded, the query as written (values go in as
   params, each expanded; a JSON null stays SQL NULL). */
static bool sql_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                      char **error)
{
	const struct probe_sql_step *d = s->action_data;
	if (!b->expand(b, d->conn, PROBE_QUOTE_CONN, &q->conn, error))
		return false;
	q->query = d->query;
	const char **params = xcalloc(d->nparams + 1, sizeof *params);
	probe_build_keep(b, params, free);
	for (size_t i = 0; i < d->nparams; i++)
		if (d->params[i] && !b->expand(b, d->params[i], PROBE_QUOTE_PLAIN, &params[i], error))
			return false;
	q->params = params;
	q->nparams = d->nparams;
	q->write = d->write;
	q->max_rows = d->max_rows;
	return true;
}

/* The sql op's describe: "SQL query". */
static void sql_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_sql_step *d = s->action_data;
	sb_addf(sb, "SQL %s", d->query);
}

const struct probe_ops probe_sql_ops = {
	.action = RB_SQL,
	.name = "sql",
	.keys = sql_keys,
	.nkeys = RBC_ARRAY_LEN(sql_keys),
	.load = sql_load,
	.free_data = sql_free_data,
	.build = sql_build,
	.describe = sql_describe,
	.start = sql_start,
	.cancel = probe_core_cancel,
};

/*
 * net.c — the dns and tcp probes.
 *
 * Both resolve through uv_getaddrinfo (the libuv thread pool, never the loop
 * thread); tcp then tries uv_tcp_connect on each address in order until one
 * connects. A uv timer bounds the whole attempt.
 *
 * Lifetime is core.h's: finish once, deliver on a later turn, free when
 * delivered and nothing of libuv refers to the probe: the tcp handle and the
 * getaddrinfo request (a cancelled lookup already running in the pool still
 * calls back later) are holds on the core.
 */
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "core.h"
#include "internal.h"
#include "rbc/probe.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"

struct probe {
	struct probe_core core;       /* first: the shared life cycle */
	enum rb_action kind;          /* RB_DNS or RB_TCP */
	char *host;
	int family;                   /* dns: AF_INET, AF_INET6, AF_UNSPEC */
	int port;                     /* tcp */

	uv_getaddrinfo_t gai;
	uv_tcp_t tcp;
	uv_connect_t creq;

	struct addrinfo *ai;          /* owned result of the lookup */
	const struct addrinfo *cur;   /* tcp: the address being tried */
	struct addrinfo lit_ai;       /* tcp: a literal address, no lookup */
	struct sockaddr_storage lit;

	bool gai_pending, tcp_open;   /* each a hold on the core */
	char *first_error;            /* tcp: the first failed address */
};

/* Frees what a dns or tcp probe owns, once the core is done with it. */
static void net_release(struct probe_core *c)
{
	struct probe *p = (struct probe *)c;
	if (p->ai)
		uv_freeaddrinfo(p->ai);
	free(p->host);
	free(p->first_error);
	free(p);
}

static void on_tcp_closed(uv_handle_t *h);

/*
 * Ends the attempt with error (copied; NULL on success): records `time`,
 * stops the lookup and the connection, and schedules the delivery. Only the
 * first call counts.
 */
static void net_finish(struct probe_core *c, const char *error)
{
	struct probe *p = (struct probe *)c;
	if (!probe_core_finishing(c))
		return;
	if (p->gai_pending)
		uv_cancel((uv_req_t *)&p->gai); /* its callback still comes */
	if (p->tcp_open && !uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
	/* A tcp probe that got past the lookup has an answer to "connected"
	   (docs/thresholds.md): a refusal or a timeout is false, not only an error. */
	if (p->kind == RB_TCP && (p->ai || p->lit_ai.ai_family) && !value_obj_get(c->sample, "connected"))
		value_obj_set_take(c->sample, "connected", value_bool_new(error == NULL));
	probe_core_deliver(c, error);
}

static void finish(struct probe *p, const char *error)
{
	net_finish(&p->core, error);
}

/* "127.0.0.1:5432" or "[::1]:5432" for an address with its port. */
static char *addr_text(const struct sockaddr *sa, bool with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		uv_ip4_name(in, ip, sizeof ip);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(in6, ip, sizeof ip);
		port = ntohs(in6->sin6_port);
	}
	if (!with_port)
		return xstrdup(ip);
	return sa->sa_family == AF_INET6 ? xasprintf("[%s]:%d", ip, port)
	                                 : xasprintf("%s:%d", ip, port);
}

/* The error of a failed lookup of host. */
static char *lookup_error(const char *host, int status)
{
	if (status == UV_EAI_NONAME || status == UV_EAI_NODATA || status == UV_EAI_ADDRFAMILY)
		return xasprintf("name not found: %s", host);
	return xasprintf("name lookup failed: %s: %s", host, uv_strerror(status));
}

static void tcp_try_next(struct probe *p);

static void on_tcp_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	bool finished = p->core.finished;
	p->tcp_open = false;
	probe_core_drop(&p->core); /* releases only after delivery */
	if (!finished)
		tcp_try_next(p);
}

/* Remembers why the current address failed, then moves on to the next one. */
static void tcp_fail_current(struct probe *p, int status)
{
	if (!p->first_error) {
		char *a = addr_text(p->cur->ai_addr, true);
		if (status == UV_ECONNREFUSED)
			p->first_error = xasprintf("connection refused (%s)", a);
		else
			p->first_error = xasprintf("connect failed (%s): %s", a, uv_strerror(status));
		free(a);
	}
	p->cur = p->cur->ai_next;
	uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct probe *p = req->data;
	if (p->core.finished)
		return; /* the handle is closing already */
	if (status < 0) {
		tcp_fail_current(p, status);
		return;
	}
	char *ip = addr_text(p->cur->ai_addr, false);
	value_obj_set_take(p->core.sample, "addr", value_str_take(ip, strlen(ip)));
	finish(p, NULL);
}

/* Connects to p->cur, or ends with the first error when none is left. */
static void tcp_try_next(struct probe *p)
{
	while (p->cur && p->cur->ai_family != AF_INET && p->cur->ai_family != AF_INET6)
		p->cur = p->cur->ai_next;
	if (!p->cur) {
		finish(p, p->first_error ? p->first_error : "no address to connect to");
		return;
	}
	uv_tcp_init(p->core.loop, &p->tcp);
	p->tcp.data = p;
	p->tcp_open = true;
	probe_core_hold(&p->core);
	p->creq.data = p;
	int rc = uv_tcp_connect(&p->creq, &p->tcp, p->cur->ai_addr, on_connect);
	if (rc < 0)
		tcp_fail_current(p, rc);
}

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
	if (status < 0) {
		char *msg = lookup_error(p->host, status);
		finish(p, msg);
		free(msg);
		return;
	}
	p->ai = res;
	if (p->kind == RB_TCP) {
		p->cur = p->ai;
		tcp_try_next(p);
		return;
	}
	struct rbc_value *addrs = value_list_new();
	for (const struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		char *ip = addr_text(a->ai_addr, false);
		bool seen = false;
		for (size_t i = 0; i < addrs->u.list.n && !seen; i++)
			seen = strcmp(addrs->u.list.v[i]->u.str.s, ip) == 0;
		if (seen)
			free(ip);
		else
			value_list_push_take(addrs, value_str_take(ip, strlen(ip)));
	}
	bool none = addrs->u.list.n == 0;
	value_obj_set_take(p->core.sample, "addrs", addrs);
	if (none) {
		char *msg = lookup_error(p->host, UV_EAI_NONAME);
		finish(p, msg);
		free(msg);
		return;
	}
	finish(p, NULL);
}

/* The common part of both kinds: the struct, the timer, the lookup. */
static struct probe *net_new(const struct probe_req *req, const char *host)
{
	struct probe *p = xcalloc(1, sizeof *p);
	p->kind = req->action;
	p->host = xstrdup(host);
	p->family = AF_UNSPEC;
	p->gai.data = p;
	probe_core_start(&p->core, req, net_finish, net_release);
	return p;
}

/* Starts the lookup of p->host; failures end the probe (asynchronously). */
static void net_resolve(struct probe *p, const char *service)
{
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = p->family;
	hints.ai_socktype = SOCK_STREAM;
	int rc = uv_getaddrinfo(p->core.loop, &p->gai, on_resolved, p->host, service, &hints);
	if (rc < 0) {
		char *msg = lookup_error(p->host, rc);
		finish(p, msg);
		free(msg);
		return;
	}
	p->gai_pending = true;
	probe_core_hold(&p->core);
}

static struct probe *dns_start(const struct probe_req *req, struct rbc_error *err)
{
	int family = AF_UNSPEC;
	if (!req->host || !*req->host) {
		rbc_error_set(err, "dns: no name to resolve");
		return NULL;
	}
	if (req->dns_type && *req->dns_type) {
		if (strcasecmp(req->dns_type, "A") == 0)
			family = AF_INET;
		else if (strcasecmp(req->dns_type, "AAAA") == 0)
			family = AF_INET6;
		else if (strcasecmp(req->dns_type, "any") != 0) {
			rbc_error_set(err, "dns: unknown record type '%s' (A, AAAA, any)",
			              req->dns_type);
			return NULL;
		}
	}
	struct probe *p = net_new(req, req->host);
	p->family = family;
	net_resolve(p, NULL);
	return p;
}

static struct probe *tcp_start(const struct probe_req *req, struct rbc_error *err)
{
	if (!req->host || !*req->host) {
		rbc_error_set(err, "tcp: no host to connect to");
		return NULL;
	}
	if (req->port < 1 || req->port > 65535) {
		rbc_error_set(err, "tcp: port %d out of range (1-65535)", req->port);
		return NULL;
	}
	/* "[::1]" is the literal ::1 */
	const char *h = req->host;
	size_t hl = strlen(h);
	char *host = (h[0] == '[' && hl > 2 && h[hl - 1] == ']') ? xstrndup(h + 1, hl - 2)
	                                                         : xstrdup(h);
	struct probe *p = net_new(req, host);
	p->port = req->port;
	free(host);

	struct sockaddr_in *in = (struct sockaddr_in *)&p->lit;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->lit;
	if (uv_ip4_addr(p->host, p->port, in) == 0) {
		p->lit_ai.ai_family = AF_INET;
		p->lit_ai.ai_addrlen = sizeof *in;
	} else if (!strchr(p->host, '%') && uv_ip6_addr(p->host, p->port, in6) == 0) {
		p->lit_ai.ai_family = AF_INET6;
		p->lit_ai.ai_addrlen = sizeof *in6;
	}
	if (p->lit_ai.ai_family) {
		/* a literal address needs no lookup */
		p->lit_ai.ai_socktype = SOCK_STREAM;
		p->lit_ai.ai_addr = (struct sockaddr *)&p->lit;
		p->cur = &p->lit_ai;
		tcp_try_next(p);
	} else {
		char service[16];
		snprintf(service, sizeof service, "%d", p->port);
		net_resolve(p, service);
	}
	return p;
}

/* ------------------------------------------------------- the steps */

/* The "name" key of a dns step. */
static void dns_key_name(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_dns_step *)t)->name = keys_xtext(r, m);
}

/* The "type" key of a dns step. */
static void dns_key_type(struct keys_reader *r, const cJSON *m, void *t)
{
	static const char *const types[] = {"A", "AAAA", "any"};
	if (!keys_want_string(r, m))
		return;
	for (size_t i = 0; i < RBC_ARRAY_LEN(types); i++) {
		if (strcmp(types[i], m->valuestring) == 0) {
			((struct probe_dns_step *)t)->type = xstrdup(types[i]);
			return;
		}
		if (strcasecmp(types[i], m->valuestring) == 0) {
			keys_err(r, m, "write the record type as \"%s\"", types[i]);
			return;
		}
	}
	keys_err(r, m, "unknown record type \"%s\" (expected A, AAAA or any)", m->valuestring);
}

static const struct keys_member dns_keys[] = {{"name", dns_key_name}, {"type", dns_key_type}};

/* The dns op's load: a name, or an object with "name"; type "any" unless given. */
static void dns_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct probe_dns_step *d = xcalloc(1, sizeof *d);
	s->action_data = d;
	if (cJSON_IsString(m)) {
		d->name = keys_xtext(r, m);
	} else if (keys_want_object(r, m, "a name or an object with \"name\"")) {
		keys_walk(r, m, dns_keys, RBC_ARRAY_LEN(dns_keys), d);
		keys_require(r, m, "name", NULL);
	}
	if (!d->type)
		d->type = xstrdup("any");
}

/* The dns op's free_data. */
static void dns_free_data(void *data)
{
	struct probe_dns_step *d = data;
	if (!d)
		return;
	free(d->name);
	free(d->type);
	free(d);
}

/* The "host" key of a tcp step. */
static void tcp_key_host(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_tcp_step *)t)->host = keys_xtext(r, m);
}

/* The "port" key of a tcp step. */
static void tcp_key_port(struct keys_reader *r, const cJSON *m, void *t)
{
	long port;
	if (keys_int(r, m, 1, 65535, &port))
		((struct probe_tcp_step *)t)->port = (int)port;
}

static const struct keys_member tcp_keys[] = {{"host", tcp_key_host}, {"port", tcp_key_port}};

/* The tcp op's load: "host:port", or an object with "host" and "port". */
static void tcp_load(struct keys_reader *r, const cJSON *m, struct rb_step *step)
{
	struct probe_tcp_step *t = xcalloc(1, sizeof *t);
	step->action_data = t;
	if (cJSON_IsString(m)) {
		const char *s = m->valuestring, *colon = strrchr(s, ':');
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == s || !end || *end || end == colon + 1 || port < 1 || port > 65535) {
			keys_err(r, m, "expected \"host:port\" with a port from 1 to 65535, got \"%s\"", s);
			return;
		}
		size_t hl = (size_t)(colon - s);
		bool bracket = s[0] == '[' && hl >= 2 && s[hl - 1] == ']';
		const char *h = bracket ? s + 1 : s;
		size_t hn = bracket ? hl - 2 : hl;
		bool ok = hn > 0 && strspn(colon + 1, "0123456789") == strlen(colon + 1);
		for (size_t k = 0; k < hn && ok; k++)
			ok = (unsigned char)h[k] > ' ' && h[k] != '/';
		if (!ok) {
			keys_err(r, m, "expected \"host:port\" with a port from 1 to 65535, got \"%s\"", s);
			return;
		}
		t->host = xstrndup(h, hn);
		t->port = (int)port;
		keys_scan_refs(r, m);
		return;
	}
	if (!keys_want_object(r, m, "\"host:port\" or an object with \"host\" and \"port\""))
		return;
	keys_walk(r, m, tcp_keys, RBC_ARRAY_LEN(tcp_keys), t);
	keys_require(r, m, "host", NULL);
	keys_require(r, m, "port", NULL);
}


/* The tcp op's free_data. */
static void tcp_free_data(void *data)
{
	struct probe_tcp_step *t = data;
	if (!t)
		return;
	free(t->host);
	free(t);
}

/* The dns op's build: the name expanded. */
static bool dns_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                      char **error)
{
	const struct probe_dns_step *d = s->action_data;
	q->dns_type = d->type;
	return b->expand(b, d->name, PROBE_QUOTE_PLAIN, &q->host, error);
}

/* The dns op's describe: "DNS type name". */
static void dns_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_dns_step *d = s->action_data;
	sb_addf(sb, "DNS %s %s", d->type ? d->type : "any", d->name);
}

/* The tcp op's build: the host expanded. */
static bool tcp_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                      char **error)
{
	const struct probe_tcp_step *t = s->action_data;
	q->port = t->port;
	return b->expand(b, t->host, PROBE_QUOTE_PLAIN, &q->host, error);
}

/* The tcp op's describe: "TCP host:port". */
static void tcp_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_tcp_step *t = s->action_data;
	sb_addf(sb, "TCP %s:%d", t->host, t->port);
}

const struct probe_ops probe_dns_ops = {
	.action = RB_DNS,
	.name = "dns",
	.keys = dns_keys,
	.nkeys = RBC_ARRAY_LEN(dns_keys),
	.load = dns_load,
	.free_data = dns_free_data,
	.build = dns_build,
	.describe = dns_describe,
	.start = dns_start,
	.cancel = probe_core_cancel,
};

const struct probe_ops probe_tcp_ops = {
	.action = RB_TCP,
	.name = "tcp",
	.keys = tcp_keys,
	.nkeys = RBC_ARRAY_LEN(tcp_keys),
	.load = tcp_load,
	.free_data = tcp_free_data,
	.build = tcp_build,
	.describe = tcp_describe,
	.start = tcp_start,
	.cancel = probe_core_cancel,
};

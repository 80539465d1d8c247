/*
 * test_notify.c — the Slack and PagerDuty payloads field by field, and the
 * deliveries against a real HTTP/1.1 receiver on 127.0.0.1 (an ephemeral
 * port) that runs on the same libuv loop as the notifier: scripted answers
 * per path (503 then 200, 400, 429 with Retry-After, no answer at all), the
 * bodies it received checked against the payload builders.
 *
 * Sharing the loop is the point: a notifier that blocked the loop thread
 * would starve its own receiver and the test's timers, and the watchdog
 * fails the test instead of letting it hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "rbc/mask.h"
#include "rbc/notify.h"
#include "rbc/util.h"

#define KEY "R0UTINGKEYsecret0123456789abcdef"
#define HOOK_PATH "/services/T0SECRET/B0SECRET/hooktoken123"
#define TIME "2025-12-04T01:52:40.366Z"

/* ---- helpers: events and JSON ---- */

static const struct notify_detail details[] = {
	{"service", "checkout"},
	{"region", "eu-west-1"},
	{"kind", "overridden?"},
};

/* A declare of incident INC-42 with text that needs escaping. */
static struct notify_event event(enum notify_kind kind)
{
	struct notify_event ev = {
		.kind = kind,
		.incident = "INC-42",
		.title = "Checkout <5xx> & slow",
		.severity = "L2",
		.severity_name = "Major",
		.pd_severity = "critical",
		.status = "investigating",
		.summary = "error ratio > 5% on <checkout>",
		.actor = "alice & bob",
		.time = TIME,
		.details = details,
		.ndetails = RBC_ARRAY_LEN(details),
	};
	return ev;
}

static cJSON *parse(const char *s)
{
	assert_non_null(s);
	cJSON *j = cJSON_Parse(s);
	if (!j)
		fail_msg("not JSON: %s", s);
	return j;
}

/* The string at a path of object keys ("payload", "summary", NULL). */
static const char *jstr(const cJSON *j, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, j);
	while ((k = va_arg(ap, const char *)))
		j = cJSON_GetObjectItemCaseSensitive(j, k);
	va_end(ap);
	if (!cJSON_IsString(j))
		fail_msg("no string at that path");
	return j->valuestring;
}

/* ---- payloads ---- */

static void test_kind_and_state_names(void **state)
{
	(void)state;
	assert_string_equal(notify_kind_name(NOTIFY_DECLARE), "declare");
	assert_string_equal(notify_kind_name(NOTIFY_SEVERITY), "severity");
	assert_string_equal(notify_kind_name(NOTIFY_STATUS_UPDATE), "status_update");
	assert_string_equal(notify_kind_name(NOTIFY_STEP_FAILED), "step_failed");
	assert_string_equal(notify_kind_name(NOTIFY_ROLLBACK), "rollback");
	assert_string_equal(notify_kind_name(NOTIFY_RESOLVE), "resolve");
	assert_string_equal(notify_kind_name(NOTIFY_NKINDS), "?");
	assert_string_equal(notify_state_name(NOTIFY_QUEUED), "queued");
	assert_string_equal(notify_state_name(NOTIFY_RETRYING), "retrying");
	assert_string_equal(notify_state_name(NOTIFY_FAILED), "failed");
}

static void test_summary_line(void **state)
{
	(void)state;
	struct notify_event ev = event(NOTIFY_DECLARE);
	char *s = notify_summary(&ev);
	assert_string_equal(s, "[L2 Major] declared: Checkout <5xx> & slow \xe2\x80\x94 "
	                       "error ratio > 5% on <checkout>");
	free(s);
	ev.kind = NOTIFY_STATUS_UPDATE;
	ev.status = "monitoring";
	ev.summary = "line one\nline two";
	s = notify_summary(&ev);
	assert_string_equal(s, "[L2 Major] status update (monitoring): Checkout <5xx> & slow "
	                       "\xe2\x80\x94 line one line two");
	free(s);
	/* Without severity, title or summary: the incident id names it. */
	struct notify_event bare = {.kind = NOTIFY_ROLLBACK, .incident = "INC-7", .time = TIME};
	s = notify_summary(&bare);
	assert_string_equal(s, "rollback: INC-7");
	free(s);
	s = notify_slack_escape("a & b <c> \"d\"");
	assert_string_equal(s, "a &amp; b &lt;c&gt; \"d\"");
	free(s);
	/* A bidirectional control cannot reorder what the channel reads. */
	ev.summary = "rollback \xe2\x80\xae" "deliver\xe2\x80\xac done \xe2\x81\xa7x\xe2\x81\xa9";
	s = notify_summary(&ev);
	assert_null(strstr(s, "\xe2\x80\xae"));
	assert_non_null(strstr(s, "rollback \xef\xbf\xbd" "deliver\xef\xbf\xbd done \xef\xbf\xbdx\xef\xbf\xbd"));
	free(s);
	s = notify_slack_escape("a\xe2\x80\x8f" "b");
	assert_string_equal(s, "a\xef\xbf\xbd" "b");
	free(s);
}

static void test_slack_payload(void **state)
{
	(void)state;
	struct notify_event ev = event(NOTIFY_DECLARE);
	char *p = notify_slack_payload(&ev);
	cJSON *j = parse(p);
	const char *want = "[L2 Major] declared: Checkout &lt;5xx&gt; &amp; slow \xe2\x80\x94 "
	                   "error ratio &gt; 5% on &lt;checkout&gt;";

	assert_string_equal(jstr(j, "text", NULL), want);
	cJSON *blocks = cJSON_GetObjectItemCaseSensitive(j, "blocks");
	assert_true(cJSON_IsArray(blocks));
	assert_int_equal(cJSON_GetArraySize(blocks), 3);
	cJSON *b0 = cJSON_GetArrayItem(blocks, 0);
	assert_string_equal(jstr(b0, "type", NULL), "section");
	assert_string_equal(jstr(b0, "text", "type", NULL), "mrkdwn");
	assert_string_equal(jstr(b0, "text", "text", NULL), want);
	/* verbatim: an @channel or a #channel in the text is no mention, no link */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b0, "text"), "verbatim")));
	cJSON *b1 = cJSON_GetArrayItem(blocks, 1);
	assert_string_equal(jstr(b1, "type", NULL), "context");
	cJSON *els = cJSON_GetObjectItemCaseSensitive(b1, "elements");
	assert_int_equal(cJSON_GetArraySize(els), 5);
	const char *ctx[] = {"*Severity:* L2 Major", "*Status:* investigating",
	                     "*Actor:* alice &amp; bob", ("*Time:* " TIME), "*Incident:* INC-42"};
	for (int i = 0; i < 5; i++) {
		cJSON *e = cJSON_GetArrayItem(els, i);
		assert_string_equal(jstr(e, "type", NULL), "mrkdwn");
		assert_string_equal(jstr(e, "text", NULL), ctx[i]);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "verbatim")));
	}
	cJSON *b2 = cJSON_GetArrayItem(blocks, 2);
	assert_string_equal(jstr(b2, "type", NULL), "section");
	cJSON *fields = cJSON_GetObjectItemCaseSensitive(b2, "fields");
	assert_int_equal(cJSON_GetArraySize(fields), 3);
	assert_string_equal(jstr(cJSON_GetArrayItem(fields, 0), "text", NULL), "*service:* checkout");
	assert_string_equal(jstr(cJSON_GetArrayItem(fields, 1), "text", NULL), "*region:* eu-west-1");
	/* Nothing the user wrote reaches Slack unescaped. */
	assert_null(strchr(p, '<'));
	assert_null(strchr(p, '>'));
	assert_null(strstr(p, "& "));
	cJSON_Delete(j);
	free(p);

	/* No severity, status or details: only what there is. */
	struct notify_event bare = {.kind = NOTIFY_RESOLVE, .incident = "INC-7", .time = TIME};
	p = notify_slack_payload(&bare);
	j = parse(p);
	assert_string_equal(jstr(j, "text", NULL), "resolved: INC-7");
	blocks = cJSON_GetObjectItemCaseSensitive(j, "blocks");
	assert_int_equal(cJSON_GetArraySize(blocks), 2);
	els = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(blocks, 1), "elements");
	assert_int_equal(cJSON_GetArraySize(els), 2);
	cJSON_Delete(j);
	free(p);
}

static void test_pagerduty_payload(void **state)
{
	(void)state;
	struct notify_config cfg = {.pagerduty_key = KEY, .source = "rbc-prod"};
	struct notify_event ev = event(NOTIFY_DECLARE);
	char *p = notify_pagerduty_payload(&cfg, &ev);
	cJSON *j = parse(p);

	assert_string_equal(jstr(j, "routing_key", NULL), KEY);
	assert_string_equal(jstr(j, "event_action", NULL), "trigger");
	assert_string_equal(jstr(j, "dedup_key", NULL), "rbc-INC-42");
	/* PagerDuty's texts are plain: no HTML escaping. */
	assert_string_equal(jstr(j, "payload", "summary", NULL),
	                    "[L2 Major] declared: Checkout <5xx> & slow \xe2\x80\x94 "
	                    "error ratio > 5% on <checkout>");
	assert_string_equal(jstr(j, "payload", "source", NULL), "rbc-prod");
	assert_string_equal(jstr(j, "payload", "severity", NULL), "critical");
	assert_string_equal(jstr(j, "payload", "timestamp", NULL), TIME);
	cJSON *cd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "payload"),
	                                             "custom_details");
	assert_true(cJSON_IsObject(cd));
	assert_string_equal(jstr(cd, "kind", NULL), "declare");
	assert_string_equal(jstr(cd, "incident", NULL), "INC-42");
	assert_string_equal(jstr(cd, "severity", NULL), "L2");
	assert_string_equal(jstr(cd, "severity_name", NULL), "Major");
	assert_string_equal(jstr(cd, "status", NULL), "investigating");
	assert_string_equal(jstr(cd, "actor", NULL), "alice & bob");
	assert_string_equal(jstr(cd, "service", NULL), "checkout");
	assert_string_equal(jstr(cd, "region", NULL), "eu-west-1");
	/* A custom detail does not hide one of the module's. */
	assert_string_equal(jstr(cd, "kind", NULL), "declare");
	cJSON_Delete(j);
	free(p);

	/* Severity words: PagerDuty's four, anything else "error"; source "rbc". */
	static const struct { const char *in, *want; } sev[] = {
		{"critical", "critical"}, {"ERROR", "error"}, {"warning", "warning"},
		{"info", "info"}, {"sev1", "error"}, {NULL, "error"},
	};
	cfg.source = NULL;
	for (size_t i = 0; i < RBC_ARRAY_LEN(sev); i++) {
		ev.pd_severity = sev[i].in;
		p = notify_pagerduty_payload(&cfg, &ev);
		j = parse(p);
		assert_string_equal(jstr(j, "payload", "severity", NULL), sev[i].want);
		assert_string_equal(jstr(j, "payload", "source", NULL), "rbc");
		cJSON_Delete(j);
		free(p);
	}
}

/* One incident, one dedup_key, whatever the kind; resolve resolves. */
static void test_pagerduty_dedup_and_resolve(void **state)
{
	(void)state;
	struct notify_config cfg = {.pagerduty_key = KEY};

	for (int k = 0; k < NOTIFY_NKINDS; k++) {
		struct notify_event ev = event((enum notify_kind)k);
		char *p = notify_pagerduty_payload(&cfg, &ev);
		cJSON *j = parse(p);
		assert_string_equal(jstr(j, "dedup_key", NULL), "rbc-INC-42");
		assert_string_equal(jstr(j, "routing_key", NULL), KEY);
		if (k == NOTIFY_RESOLVE) {
			assert_string_equal(jstr(j, "event_action", NULL), "resolve");
			/* All PagerDuty needs to resolve: the three keys. */
			assert_int_equal(cJSON_GetArraySize(j), 3);
		} else {
			assert_string_equal(jstr(j, "event_action", NULL), "trigger");
			assert_string_equal(jstr(j, "payload", "custom_details", "kind", NULL),
			                    notify_kind_name((enum notify_kind)k));
		}
		cJSON_Delete(j);
		free(p);
	}
	struct notify_event other = event(NOTIFY_DECLARE);
	other.incident = "INC-43";
	char *p = notify_pagerduty_payload(&cfg, &other);
	cJSON *j = parse(p);
	assert_string_equal(jstr(j, "dedup_key", NULL), "rbc-INC-43");
	cJSON_Delete(j);
	free(p);
}

/* Long texts are cut at the services' limits, on character boundaries. */
static void test_truncation(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	for (int i = 0; i < 1500; i++)
		sb_adds(&sb, i % 2 ? "\xc3\xa9" : "<"); /* é and a character Slack escapes */
	struct notify_config cfg = {.pagerduty_key = KEY};
	struct notify_event ev = event(NOTIFY_STEP_FAILED);
	ev.summary = sb_borrow(&sb);

	char *p = notify_pagerduty_payload(&cfg, &ev);
	cJSON *j = parse(p);
	const char *s = jstr(j, "payload", "summary", NULL);
	size_t bad;
	assert_true(utf8_valid(s, strlen(s), &bad));
	assert_int_equal(utf8_count(s, strlen(s)), NOTIFY_PD_SUMMARY_MAX);
	assert_string_equal(s + strlen(s) - 3, "\xe2\x80\xa6");
	assert_int_equal(strncmp(s, "[L2 Major] step failed: ", 24), 0);
	/* The whole text still travels in the details. */
	assert_string_equal(jstr(j, "payload", "custom_details", "summary", NULL), sb_borrow(&sb));
	cJSON_Delete(j);
	free(p);

	/* A short summary is not touched. */
	ev.summary = "short";
	p = notify_pagerduty_payload(&cfg, &ev);
	j = parse(p);
	assert_string_equal(jstr(j, "payload", "summary", NULL),
	                    "[L2 Major] step failed: Checkout <5xx> & slow \xe2\x80\x94 short");
	cJSON_Delete(j);
	free(p);

	/* Slack: at most 3000 characters, never half an entity. */
	ev.summary = sb_borrow(&sb);
	p = notify_slack_payload(&ev);
	j = parse(p);
	s = jstr(j, "text", NULL);
	assert_true(utf8_valid(s, strlen(s), &bad));
	assert_true(utf8_count(s, strlen(s)) <= 3000);
	assert_true(utf8_count(s, strlen(s)) > 2990);
	const char *end = s + strlen(s) - 3;
	assert_string_equal(end, "\xe2\x80\xa6");
	/* What precedes the ellipsis is a whole entity or a whole é. */
	assert_true(strncmp(end - 4, "&lt;", 4) == 0 || strncmp(end - 2, "\xc3\xa9", 2) == 0);
	cJSON_Delete(j);
	free(p);
	sb_free(&sb);

	/* Invalid UTF-8 and control characters never reach the JSON raw. */
	ev.summary = "bad \xff byte\tand\x01";
	p = notify_slack_payload(&ev);
	j = parse(p);
	s = jstr(j, "text", NULL);
	assert_true(utf8_valid(s, strlen(s), &bad));
	assert_non_null(strstr(s, "bad \xef\xbf\xbd byte and "));
	cJSON_Delete(j);
	free(p);
}

/* ---- a scripted HTTP/1.1 receiver on the test's loop ---- */

/* One scripted answer; hang: read the request, never answer. */
struct answer {
	int status;
	const char *headers;  /* extra header lines, each ending in \r\n */
	const char *body;
	bool hang;
};

/* The answers of one path, in order; the last one repeats. */
struct route {
	const char *path;
	const struct answer *answers;
	size_t n, next;
};

struct received {
	char *path, *body, *ctype;
};

struct conn {
	uv_tcp_t tcp;
	struct receiver *rx;
	struct strbuf in;
	bool done, closing;
	struct conn *next;
};

struct receiver {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	int port;
	struct route routes[4];
	size_t nroutes;
	struct received got[32];
	size_t ngot;
	struct conn *conns;
};

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct conn **pp;

	for (pp = &c->rx->conns; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	sb_free(&c->in);
	free(c);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

struct wreq {
	uv_write_t w;
	char *buf;
	struct conn *c;
};

static void written(uv_write_t *w, int status)
{
	struct wreq *r = (struct wreq *)w;

	(void)status;
	conn_close(r->c);
	free(r->buf);
	free(r);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(size);
	buf->len = size;
}

/* The value of header name in the head (up to hlen), or NULL; caller frees. */
static char *header_value(const char *head, size_t hlen, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = head; p && p < head + hlen; p = strstr(p, "\r\n")) {
		if (p[0] == '\r')
			p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			return xstrndup(v, (size_t)(e - v));
		}
	}
	return NULL;
}

/* A whole request arrived: record it, answer as scripted. */
static void serve(struct conn *c, const char *path, const char *body, char *ctype)
{
	struct receiver *rx = c->rx;
	const struct answer *a = NULL;

	assert_true(rx->ngot < RBC_ARRAY_LEN(rx->got));
	rx->got[rx->ngot++] = (struct received){xstrdup(path), xstrdup(body), ctype};
	for (size_t i = 0; i < rx->nroutes; i++) {
		struct route *r = &rx->routes[i];
		if (strcmp(r->path, path) == 0) {
			a = &r->answers[r->next];
			if (r->next + 1 < r->n)
				r->next++;
		}
	}
	static const struct answer missing = {404, NULL, "no such route", false};
	if (!a)
		a = &missing;
	if (a->hang)
		return;
	const char *b = a->body ? a->body : "";
	struct wreq *w = xcalloc(1, sizeof *w);
	w->c = c;
	w->buf = xasprintf("HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\nConnection: close\r\n"
	                   "%s\r\n%s", a->status, strlen(b), a->headers ? a->headers : "", b);
	uv_buf_t buf = uv_buf_init(w->buf, (unsigned)strlen(w->buf));
	uv_write(&w->w, (uv_stream_t *)&c->tcp, &buf, 1, written);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (nread < 0) {
		conn_close(c);
	} else if (nread > 0 && !c->done) {
		sb_add(&c->in, buf->base, (size_t)nread);
		const char *in = sb_borrow(&c->in), *end = strstr(in, "\r\n\r\n");
		if (end) {
			size_t hlen = (size_t)(end - in) + 2;
			char *cl = header_value(in, hlen, "Content-Length");
			size_t want = cl ? (size_t)atol(cl) : 0;
			free(cl);
			if (c->in.len >= hlen + 2 + want) {
				const char *sp = strchr(in, ' ');
				const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
				char *path = sp2 ? xstrndup(sp + 1, (size_t)(sp2 - sp - 1)) : xstrdup("");
				char *body = xstrndup(end + 4, want);
				c->done = true;
				serve(c, path, body, header_value(in, hlen, "Content-Type"));
				free(path);
				free(body);
			}
		}
	}
	free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct receiver *rx = server->data;

	if (status < 0)
		return;
	struct conn *c = xcalloc(1, sizeof *c);
	c->rx = rx;
	uv_tcp_init(rx->loop, &c->tcp);
	c->tcp.data = c;
	c->next = rx->conns;
	rx->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
	else
		conn_close(c);
}

static void receiver_start(struct receiver *rx, uv_loop_t *loop)
{
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int len = sizeof name;

	memset(rx, 0, sizeof *rx);
	rx->loop = loop;
	uv_tcp_init(loop, &rx->tcp);
	rx->tcp.data = rx;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&rx->tcp, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&rx->tcp, 16, on_connection), 0);
	uv_tcp_getsockname(&rx->tcp, (struct sockaddr *)&name, &len);
	rx->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
}

static void receiver_route(struct receiver *rx, const char *path, const struct answer *a, size_t n)
{
	rx->routes[rx->nroutes++] = (struct route){path, a, n, 0};
}

/* The requests to path, in order. */
static size_t received(const struct receiver *rx, const char *path, const struct received **out,
                       size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < rx->ngot && n < max; i++)
		if (strcmp(rx->got[i].path, path) == 0)
			out[n++] = &rx->got[i];
	return n;
}

static void receiver_stop(struct receiver *rx)
{
	for (struct conn *c = rx->conns; c; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&rx->tcp, NULL);
	for (size_t i = 0; i < rx->ngot; i++) {
		free(rx->got[i].path);
		free(rx->got[i].body);
		free(rx->got[i].ctype);
	}
}

/* ---- helpers: a notifier against the receiver ---- */

struct seen {
	uint64_t id;
	char target[16];
	enum notify_kind kind;
	enum notify_state state;
	int attempt;
	int64_t next_ms, elapsed_ms;
	long status;
	char *why, *text;
	size_t pending;
	uint64_t at;           /* uv_hrtime */
};

struct fixture {
	uv_loop_t loop;
	struct receiver rx;
	struct notify *n;
	char slack_url[128], pd_url[128];
	struct seen seen[64];
	size_t nseen;
	bool leaked;           /* a secret showed in a text */
	char leak[512];
	uv_timer_t watchdog;
	bool timed_out;
	int stop_when_idle;
};

static void on_state(void *ud, const struct notify_delivery *d)
{
	struct fixture *fx = ud;
	const char *secrets[] = {fx->slack_url, fx->pd_url, KEY, HOOK_PATH, "T0SECRET"};

	for (size_t i = 0; i < RBC_ARRAY_LEN(secrets); i++)
		if (strstr(d->text, secrets[i]) || (d->why && strstr(d->why, secrets[i]))) {
			fx->leaked = true;
			snprintf(fx->leak, sizeof fx->leak, "%s | %s", d->text, d->why ? d->why : "");
		}
	if (fx->nseen < RBC_ARRAY_LEN(fx->seen)) {
		struct seen *s = &fx->seen[fx->nseen++];
		s->id = d->id;
		snprintf(s->target, sizeof s->target, "%s", d->target);
		s->kind = d->kind;
		s->state = d->state;
		s->attempt = d->attempt;
		s->next_ms = d->next_ms;
		s->elapsed_ms = d->elapsed_ms;
		s->status = d->http_status;
		s->why = d->why ? xstrdup(d->why) : NULL;
		s->text = xstrdup(d->text);
		s->pending = notify_pending(fx->n);
		s->at = uv_hrtime();
	}
	if (fx->stop_when_idle && (d->state == NOTIFY_DELIVERED || d->state == NOTIFY_FAILED) &&
	    notify_pending(fx->n) == 0)
		uv_stop(&fx->loop);
}

static void on_watchdog(uv_timer_t *t)
{
	struct fixture *fx = t->data;

	fx->timed_out = true;
	uv_stop(&fx->loop);
}

/* A loop, a receiver and a notifier on it; cfg may set limits. */
static struct fixture *fixture_new(struct notify_config cfg, bool slack, bool pagerduty)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);
	struct rbc_error err = {0};

	assert_int_equal(uv_loop_init(&fx->loop), 0);
	receiver_start(&fx->rx, &fx->loop);
	snprintf(fx->slack_url, sizeof fx->slack_url, "http://127.0.0.1:%d" HOOK_PATH, fx->rx.port);
	snprintf(fx->pd_url, sizeof fx->pd_url, "http://127.0.0.1:%d/v2/enqueue", fx->rx.port);
	cfg.slack_url = slack ? fx->slack_url : NULL;
	cfg.pagerduty_url = fx->pd_url;
	cfg.pagerduty_key = pagerduty ? KEY : NULL;
	cfg.on_state = on_state;
	cfg.ud = fx;
	fx->n = notify_new(&fx->loop, &cfg, &err);
	if (!fx->n)
		fail_msg("notify_new: %s", err.msg);
	uv_timer_init(&fx->loop, &fx->watchdog);
	fx->watchdog.data = fx;
	fx->stop_when_idle = 1;
	return fx;
}

/* Runs the loop until every delivery is finished (or limit_ms passed: fails). */
static void fixture_run(struct fixture *fx, uint64_t limit_ms)
{
	uv_timer_start(&fx->watchdog, on_watchdog, limit_ms, 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&fx->watchdog);
	if (fx->timed_out)
		fail_msg("deliveries not finished after %llu ms", (unsigned long long)limit_ms);
	if (fx->leaked)
		fail_msg("a secret in a delivery text: %s", fx->leak);
}

/* Frees the notifier and the receiver; every handle closes. */
static void fixture_free(struct fixture *fx)
{
	notify_free(fx->n);
	receiver_stop(&fx->rx);
	uv_close((uv_handle_t *)&fx->watchdog, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	for (size_t i = 0; i < fx->nseen; i++) {
		free(fx->seen[i].why);
		free(fx->seen[i].text);
	}
	free(fx);
}

/* The states of target's deliveries, in order, as "queued sending:1 ...". */
static char *states_of(const struct fixture *fx, const char *target)
{
	struct strbuf sb = {0};

	for (size_t i = 0; i < fx->nseen; i++) {
		const struct seen *s = &fx->seen[i];
		if (strcmp(s->target, target) != 0)
			continue;
		if (sb.len)
			sb_addc(&sb, ' ');
		sb_addf(&sb, "%llu:%s", (unsigned long long)s->id, notify_state_name(s->state));
		if (s->state != NOTIFY_QUEUED)
			sb_addf(&sb, ":%d", s->attempt);
	}
	return sb_take(&sb);
}

/* The last state seen of delivery id. */
static const struct seen *last_of(const struct fixture *fx, uint64_t id)
{
	const struct seen *last = NULL;
	for (size_t i = 0; i < fx->nseen; i++)
		if (fx->seen[i].id == id)
			last = &fx->seen[i];
	assert_non_null(last);
	return last;
}

static void assert_states(const struct fixture *fx, const char *target, const char *want)
{
	char *got = states_of(fx, target);
	if (strcmp(got, want) != 0)
		fail_msg("%s states: %s, want %s", target, got, want);
	free(got);
}

/* body is the JSON want built (compared as JSON, not as bytes). */
static void assert_body(const struct received *r, const char *want)
{
	cJSON *g = parse(r->body), *w = parse(want);
	if (!cJSON_Compare(g, w, true))
		fail_msg("received %s\nwant %s", r->body, want);
	assert_non_null(r->ctype);
	assert_string_equal(r->ctype, "application/json");
	cJSON_Delete(g);
	cJSON_Delete(w);
}

/* ---- deliveries ---- */

/* 503 then 200: retried once after the back-off, delivered on attempt 2;
   PagerDuty, answering 202, is not held up by Slack's retry. */
static void test_retry_then_delivered(void **state)
{
	(void)state;
	static const struct answer slack[] = {{503, NULL, "busy", false}, {200, NULL, "ok", false}};
	static const struct answer pd[] = {{202, NULL, "{\"status\":\"success\"}", false}};
	struct notify_config cfg = {.backoff_ms = 50, .max_attempts = 5};
	struct fixture *fx = fixture_new(cfg, true, true);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_DECLARE);

	receiver_route(&fx->rx, HOOK_PATH, slack, 2);
	receiver_route(&fx->rx, "/v2/enqueue", pd, 1);
	assert_int_equal(notify_send(fx->n, &ev, &err), 2);
	assert_int_equal(notify_pending(fx->n), 2);
	assert_int_equal(fx->nseen, 0); /* never from inside notify_send */
	fixture_run(fx, 5000);

	assert_states(fx, "slack", "1:queued 1:sending:1 1:retrying:1 1:sending:2 1:delivered:2");
	assert_states(fx, "pagerduty", "2:queued 2:sending:1 2:delivered:1");
	const struct seen *retry = NULL;
	for (size_t i = 0; i < fx->nseen; i++)
		if (fx->seen[i].state == NOTIFY_RETRYING)
			retry = &fx->seen[i];
	assert_non_null(retry);
	assert_string_equal(retry->why, "HTTP 503");
	assert_int_equal(retry->next_ms, 50);
	assert_int_equal(retry->status, 503);
	assert_non_null(strstr(retry->text, "slack #1 declare"));
	assert_non_null(strstr(retry->text, "HTTP 503"));
	const struct seen *done = last_of(fx, 1);
	assert_int_equal(done->status, 200);
	assert_int_equal(done->attempt, 2);
	assert_true(done->elapsed_ms >= 50);
	assert_int_equal(done->pending, 0);
	assert_null(done->why);
	assert_int_equal(last_of(fx, 2)->status, 202);
	assert_int_equal(notify_pending(fx->n), 0);

	/* The receiver got the builders' bodies: twice to Slack, once to PagerDuty. */
	const struct received *got[8];
	char *want = notify_slack_payload(&ev);
	assert_int_equal(received(&fx->rx, HOOK_PATH, got, 8), 2);
	assert_body(got[0], want);
	assert_body(got[1], want);
	free(want);
	struct notify_config pcfg = {.pagerduty_key = KEY};
	want = notify_pagerduty_payload(&pcfg, &ev);
	assert_int_equal(received(&fx->rx, "/v2/enqueue", got, 8), 1);
	assert_body(got[0], want);
	cJSON *j = parse(got[0]->body);
	assert_string_equal(jstr(j, "routing_key", NULL), KEY);
	assert_string_equal(jstr(j, "dedup_key", NULL), "rbc-INC-42");
	cJSON_Delete(j);
	free(want);
	fixture_free(fx);
}

/* 400 is final: failed at once, the answer's excerpt in the reason, masked. */
static void test_bad_request_fails_at_once(void **state)
{
	(void)state;
	static const struct answer pd[] = {
		{400, NULL, "{\"status\":\"invalid event\",\"message\":\"bad routing key " KEY "\"}\n",
		 false},
	};
	struct notify_config cfg = {.backoff_ms = 50};
	struct fixture *fx = fixture_new(cfg, false, true);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_SEVERITY);

	receiver_route(&fx->rx, "/v2/enqueue", pd, 1);
	assert_int_equal(notify_send(fx->n, &ev, &err), 1);
	fixture_run(fx, 5000);
	assert_states(fx, "pagerduty", "1:queued 1:sending:1 1:failed:1");
	const struct seen *f = last_of(fx, 1);
	assert_int_equal(f->status, 400);
	assert_int_equal(f->attempt, 1);
	assert_non_null(f->why);
	assert_int_equal(strncmp(f->why, "HTTP 400: {\"status\":\"invalid event\"", 35), 0);
	assert_non_null(strstr(f->why, "bad routing key " MASK_TEXT));
	assert_null(strstr(f->why, KEY));
	assert_null(strchr(f->why, '\n'));
	assert_non_null(strstr(f->text, "pagerduty #1 severity: failed after 1 attempt: HTTP 400"));
	const struct received *got[4];
	assert_int_equal(received(&fx->rx, "/v2/enqueue", got, 4), 1);
	fixture_free(fx);
}

/* 429 with Retry-After: 0 is tried again at once, not after the (long) back-off. */
static void test_429_retry_after(void **state)
{
	(void)state;
	static const struct answer slack[] = {
		{429, "Retry-After: 0\r\n", "rate limited", false},
		{200, NULL, "ok", false},
	};
	struct notify_config cfg = {.backoff_ms = 60000};
	struct fixture *fx = fixture_new(cfg, true, false);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_STEP_FAILED);

	receiver_route(&fx->rx, HOOK_PATH, slack, 2);
	assert_int_equal(notify_send(fx->n, &ev, &err), 1);
	fixture_run(fx, 5000);
	assert_states(fx, "slack", "1:queued 1:sending:1 1:retrying:1 1:sending:2 1:delivered:2");
	assert_string_equal(fx->seen[2].why, "HTTP 429");
	assert_int_equal(fx->seen[2].next_ms, 0);
	assert_int_equal(last_of(fx, 1)->status, 200);
	const struct received *got[4];
	assert_int_equal(received(&fx->rx, HOOK_PATH, got, 4), 2);
	fixture_free(fx);
}

struct ticker {
	uv_timer_t t;
	uint64_t last, max_gap, n;
	struct fixture *fx;
	uint64_t probe_at;        /* the one-shot's time */
	enum notify_state probe_state;
	int probe_attempt;
	uv_timer_t probe;
	uint64_t t0;
};

static void on_tick(uv_timer_t *t)
{
	struct ticker *k = t->data;
	uint64_t now = uv_hrtime();

	if (k->last && now - k->last > k->max_gap)
		k->max_gap = now - k->last;
	k->last = now;
	k->n++;
}

static void on_probe(uv_timer_t *t)
{
	struct ticker *k = t->data;
	const struct fixture *fx = k->fx;

	k->probe_at = uv_hrtime();
	k->probe_state = fx->nseen ? fx->seen[fx->nseen - 1].state : NOTIFY_QUEUED;
	k->probe_attempt = fx->nseen ? fx->seen[fx->nseen - 1].attempt : 0;
}

/* A receiver that never answers: the loop goes on (timers fire on time) and
   the delivery fails by the per-request timeout, after each attempt. */
static void test_hang_times_out(void **state)
{
	(void)state;
	static const struct answer slack[] = {{0, NULL, NULL, true}};
	struct notify_config cfg = {.backoff_ms = 50, .timeout_ms = 300, .max_attempts = 2};
	struct fixture *fx = fixture_new(cfg, true, false);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_ROLLBACK);
	struct ticker k = {.fx = fx};

	receiver_route(&fx->rx, HOOK_PATH, slack, 1);
	uv_timer_init(&fx->loop, &k.t);
	uv_timer_init(&fx->loop, &k.probe);
	k.t.data = k.probe.data = &k;
	uv_update_time(&fx->loop);
	k.t0 = uv_hrtime();
	uv_timer_start(&k.t, on_tick, 20, 20);
	uv_timer_start(&k.probe, on_probe, 150, 0);
	assert_int_equal(notify_send(fx->n, &ev, &err), 1);
	fixture_run(fx, 5000);
	uv_timer_stop(&k.t);

	/* The one-shot fired on time, while the first request hung. */
	assert_true(k.probe_at > 0);
	uint64_t probe_ms = (k.probe_at - k.t0) / 1000000u;
	if (probe_ms < 145 || probe_ms > 250)
		fail_msg("the 150 ms timer fired after %llu ms", (unsigned long long)probe_ms);
	assert_int_equal(k.probe_state, NOTIFY_SENDING);
	assert_int_equal(k.probe_attempt, 1);
	/* And so did the ticker, all along. */
	if (k.max_gap > 150 * 1000000u)
		fail_msg("the 20 ms ticker paused for %llu ms",
		         (unsigned long long)(k.max_gap / 1000000u));
	assert_true(k.n >= 20);

	assert_states(fx, "slack", "1:queued 1:sending:1 1:retrying:1 1:sending:2 1:failed:2");
	assert_string_equal(fx->seen[2].why, "timed out after 300ms");
	const struct seen *f = last_of(fx, 1);
	assert_string_equal(f->why, "timed out after 300ms");
	assert_int_equal(f->attempt, 2);
	assert_int_equal(f->status, 0);
	if (f->elapsed_ms < 600 || f->elapsed_ms > 3000)
		fail_msg("failed after %lld ms, want about 650", (long long)f->elapsed_ms);
	/* Both attempts reached the receiver, whole. */
	const struct received *got[4];
	assert_int_equal(received(&fx->rx, HOOK_PATH, got, 4), 2);
	char *want = notify_slack_payload(&ev);
	assert_body(got[0], want);
	assert_body(got[1], want);
	free(want);
	uv_close((uv_handle_t *)&k.t, NULL);
	uv_close((uv_handle_t *)&k.probe, NULL);
	fixture_free(fx);
}

/* Nothing listens: connection refused is retried, then the delivery fails. */
static void test_refused(void **state)
{
	(void)state;
	struct notify_config cfg = {.backoff_ms = 20, .max_attempts = 3};
	struct fixture *fx = fixture_new(cfg, true, false);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_DECLARE);

	/* The receiver's listening socket closed: its port refuses. */
	uv_close((uv_handle_t *)&fx->rx.tcp, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	uv_tcp_init(&fx->loop, &fx->rx.tcp); /* for receiver_stop to close */
	assert_int_equal(notify_send(fx->n, &ev, &err), 1);
	fixture_run(fx, 5000);
	assert_states(fx, "slack", "1:queued 1:sending:1 1:retrying:1 1:sending:2 1:retrying:2 "
	                           "1:sending:3 1:failed:3");
	/* Exponential: base, then twice the base. */
	assert_int_equal(fx->seen[2].next_ms, 20);
	assert_int_equal(fx->seen[4].next_ms, 40);
	assert_string_equal(fx->seen[2].why, "connection refused");
	assert_string_equal(last_of(fx, 1)->why, "connection refused");
	assert_non_null(strstr(last_of(fx, 1)->text, "failed after 3 attempts: connection refused"));
	fixture_free(fx);
}

/* A later notification to a target waits for the earlier one. */
static void test_order_per_target(void **state)
{
	(void)state;
	static const struct answer slack[] = {{503, NULL, NULL, false}, {200, NULL, "ok", false}};
	struct notify_config cfg = {.backoff_ms = 30};
	struct fixture *fx = fixture_new(cfg, true, false);
	struct rbc_error err = {0};
	enum notify_kind kinds[] = {NOTIFY_DECLARE, NOTIFY_SEVERITY, NOTIFY_RESOLVE};

	receiver_route(&fx->rx, HOOK_PATH, slack, 2);
	for (size_t i = 0; i < RBC_ARRAY_LEN(kinds); i++) {
		struct notify_event ev = event(kinds[i]);
		assert_int_equal(notify_send(fx->n, &ev, &err), 1);
	}
	assert_int_equal(notify_pending(fx->n), 3);
	fixture_run(fx, 5000);
	assert_states(fx, "slack", "1:queued 2:queued 3:queued 1:sending:1 1:retrying:1 1:sending:2 "
	                           "1:delivered:2 2:sending:1 2:delivered:1 3:sending:1 3:delivered:1");
	/* pending counts down as each is delivered. */
	assert_int_equal(last_of(fx, 1)->pending, 2);
	assert_int_equal(last_of(fx, 2)->pending, 1);
	assert_int_equal(last_of(fx, 3)->pending, 0);
	const struct received *got[8];
	assert_int_equal(received(&fx->rx, HOOK_PATH, got, 8), 4);
	const char *want[] = {"declared", "declared", "severity changed", "resolved"};
	for (int i = 0; i < 4; i++) {
		cJSON *j = parse(got[i]->body);
		if (!strstr(jstr(j, "text", NULL), want[i]))
			fail_msg("request %d: %s, want %s", i, jstr(j, "text", NULL), want[i]);
		cJSON_Delete(j);
	}
	fixture_free(fx);
}

/* Frees the notifier mid-flight, then everything else the test opened. */
static void on_free_timer(uv_timer_t *t)
{
	struct fixture *fx = t->data;

	notify_free(fx->n);
	fx->n = NULL;
	receiver_stop(&fx->rx);
	uv_close((uv_handle_t *)&fx->watchdog, NULL);
	uv_close((uv_handle_t *)t, NULL);
}

/* notify_free with a request in flight and one queued: no more callbacks,
   every handle closes, nothing leaks. */
static void test_free_in_flight(void **state)
{
	(void)state;
	static const struct answer slack[] = {{0, NULL, NULL, true}};
	struct notify_config cfg = {.timeout_ms = 5000};
	struct fixture *fx = fixture_new(cfg, true, true);
	struct rbc_error err = {0};
	struct notify_event ev = event(NOTIFY_DECLARE);
	uv_timer_t t;

	receiver_route(&fx->rx, HOOK_PATH, slack, 1);
	receiver_route(&fx->rx, "/v2/enqueue", slack, 1);
	assert_int_equal(notify_send(fx->n, &ev, &err), 2);
	assert_int_equal(notify_send(fx->n, &ev, &err), 2);
	uv_timer_init(&fx->loop, &t);
	t.data = fx;
	uv_timer_start(&t, on_free_timer, 200, 0);
	fx->stop_when_idle = 0;
	uv_timer_start(&fx->watchdog, on_watchdog, 3000, 0);
	/* Runs until everything is closed: the free left nothing open. */
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_false(fx->timed_out);
	assert_null(fx->n);
	size_t before = fx->nseen;
	assert_states(fx, "slack", "1:queued 3:queued 1:sending:1");
	assert_states(fx, "pagerduty", "2:queued 4:queued 2:sending:1");
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	assert_int_equal(fx->nseen, before);
	for (size_t i = 0; i < fx->nseen; i++) {
		free(fx->seen[i].why);
		free(fx->seen[i].text);
	}
	free(fx);
}

/* Configuration and event errors are values that name no secret. */
static void test_errors(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct rbc_error err = {0};
	struct notify_config cfg = {.slack_url = "ftp://hooks.example/" "T0SECRET/x"};

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_null(notify_new(&loop, &cfg, &err));
	assert_string_equal(err.msg, "notify: the slack URL is not an http or https URL");
	rbc_error_clear(&err);
	cfg = (struct notify_config){.pagerduty_key = KEY, .pagerduty_url = "not a url " KEY};
	assert_null(notify_new(&loop, &cfg, &err));
	assert_string_equal(err.msg, "notify: the pagerduty URL is not an http or https URL");
	rbc_error_clear(&err);
	cfg = (struct notify_config){.max_attempts = -1};
	assert_null(notify_new(&loop, &cfg, &err));
	rbc_error_clear(&err);

	/* No target: nothing queued, nothing pending. */
	cfg = (struct notify_config){0};
	struct notify *n = notify_new(&loop, &cfg, &err);
	assert_non_null(n);
	struct notify_event ev = event(NOTIFY_DECLARE);
	assert_int_equal(notify_send(n, &ev, &err), 0);
	assert_int_equal(notify_pending(n), 0);
	ev.incident = "";
	assert_int_equal(notify_send(n, &ev, &err), -1);
	assert_string_equal(err.msg, "notify: a notification needs the incident id");
	rbc_error_clear(&err);
	ev = event(NOTIFY_DECLARE);
	ev.time = NULL;
	assert_int_equal(notify_send(n, &ev, &err), -1);
	rbc_error_clear(&err);
	ev = event((enum notify_kind)99);
	assert_int_equal(notify_send(n, &ev, &err), -1);
	rbc_error_clear(&err);
	notify_free(n);
	notify_free(NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_and_state_names),
		cmocka_unit_test(test_summary_line),
		cmocka_unit_test(test_slack_payload),
		cmocka_unit_test(test_pagerduty_payload),
		cmocka_unit_test(test_pagerduty_dedup_and_resolve),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_retry_then_delivered),
		cmocka_unit_test(test_bad_request_fails_at_once),
		cmocka_unit_test(test_429_retry_after),
		cmocka_unit_test(test_hang_times_out),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_order_per_target),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

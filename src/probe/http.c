/*
 * http.c — the http probe, and the HTTP machinery the prometheus probe uses.
 *
 * libcurl's multi interface driven by libuv: one CURLM per uv_loop_t, its
 * sockets watched by uv_poll_t handles (CURLMOPT_SOCKETFUNCTION) and its
 * timeout by a uv_timer_t (CURLMOPT_TIMERFUNCTION). libcurl is only ever
 * told "this socket is ready" or "the timer fired"; it never blocks and is
 * never polled in a loop. Any number of transfers share one multi handle
 * and its connection cache.
 *
 * TLS is verified unless the step says insecure, against libcurl's CA
 * bundle or the one the environment names (set_ca_from_env).
 *
 * Redirects (follow: true) are followed here, not by libcurl: when a hop
 * leaves the origin of the first URL (scheme, host or port), every header
 * that holds a secret, and Authorization, Proxy-Authorization and Cookie,
 * stay behind, for this hop and every later one; a 307 or 308 there, which
 * would send the body again, is not followed when the body holds a secret.
 * libcurl alone would send a custom X-Api-Key on to any host a server names.
 *
 * Completed transfers are collected after each curl_multi_socket_action and
 * reported from there: a libuv callback, never a libcurl one, so the done
 * callback may start or cancel other transfers. Cancelled transfers are
 * reported from a zero-delay timer, never from inside the cancel call.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <uv.h>

#include "rbc/probe.h"
#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "http_internal.h"
#include "rbc/curluv.h"

#define HTTP_DEFAULT_MAX_BODY ((int64_t)1 << 20)
#define HTTP_MAX_REDIRECTS 20

/* The multi handle of one loop, with the two timers it needs. */
struct http_multi {
	uv_loop_t *loop;
	struct curluv cu;           /* the multi handle on the loop (cu.multi) */
	uv_timer_t deliver;         /* reports cancelled transfers */
	struct http_xfer *running;  /* transfers added to multi */
	struct http_xfer *pending;  /* cancelled, not yet reported (LIFO) */
	int open_handles;           /* timers not yet closed at shutdown */
	struct http_multi *next;
};

/* One request. Lives from http_xfer_start until its done callback returns. */
struct http_xfer {
	struct http_multi *m;
	CURL *easy;
	struct curl_slist *hdrs;
	struct curl_slist *hdrs_away; /* hdrs without credentials and secrets:
	                                 sent once a redirect left the origin
	                                 (NULL: none, libcurl's defaults) */
	struct strbuf resp;         /* body, up to max_body bytes */
	size_t max_body;
	uint64_t received;          /* body bytes received, kept or not */
	bool truncated;
	struct rbc_value *header;   /* of the last response */
	int64_t timeout_ms;
	uint64_t t0;                /* uv_hrtime at start, for error samples */
	bool follow;                /* follow redirects (we do, not libcurl) */
	int hops;                   /* redirects followed */
	bool away;                  /* a redirect left the first URL's origin */
	bool body_secret;           /* the request's body holds a secret */
	char *origin;               /* "scheme://host:port" of the first URL */
	curl_off_t time_before_us;  /* the hops before this one */
	char errbuf[CURL_ERROR_SIZE];
	http_done_fn *done;
	void *ud;
	bool cancelled;             /* on the pending list: a second cancel is a no-op */
	struct http_xfer *prev, *next;
};

/* Multi handles by loop; a handful at most, one per loop that made requests. */
static struct http_multi *multis;

static void drain(struct http_multi *m);

/* curluv's progress callback: collect what finished. */
static void progress(void *ud)
{
	drain(ud);
}

/* The multi handle of loop, created on first use. */
static struct http_multi *multi_for(uv_loop_t *loop, struct rbc_error *err)
{
	struct http_multi *m;

	for (m = multis; m; m = m->next)
		if (m->loop == loop)
			return m;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rbc_error_set(err, "http: cannot initialise libcurl");
		return NULL;
	}
	m = xcalloc(1, sizeof *m);
	m->loop = loop;
	if (!curluv_init(&m->cu, loop, progress, m)) {
		free(m);
		curl_global_cleanup();
		rbc_error_set(err, "http: cannot initialise libcurl");
		return NULL;
	}
	uv_timer_init(loop, &m->deliver);
	m->cu.timer.data = m->deliver.data = m;
	m->next = multis;
	multis = m;
	return m;
}

static void link_running(struct http_xfer *x)
{
	struct http_multi *m = x->m;

	x->prev = NULL;
	x->next = m->running;
	if (m->running)
		m->running->prev = x;
	m->running = x;
}

static void unlink_running(struct http_xfer *x)
{
	struct http_multi *m = x->m;

	if (x->prev)
		x->prev->next = x->next;
	else
		m->running = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

/* CURLOPT_WRITEFUNCTION: count everything, keep up to max_body. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb, keep = 0;

	x->received += n;
	if (x->resp.len < x->max_body)
		keep = x->max_body - x->resp.len < n ? x->max_body - x->resp.len : n;
	if (keep < n)
		x->truncated = true;
	if (keep)
		sb_add(&x->resp, data, keep);
	return n;
}

/* Header bytes without surrounding blanks and line ends. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' ||
	                   (*e)[-1] == '\n'))
		(*e)--;
}

/*
 * CURLOPT_HEADERFUNCTION: one header line. A status line starts a new
 * response (a 100 Continue, or the next hop of a redirect), so only the
 * headers of the final response remain. Repeated headers are joined with
 * ", " as RFC 9110 allows.
 */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb;
	const char *end = data + n, *colon, *ns, *ne, *vs, *ve;
	const struct rbc_value *old;
	char *name;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		value_free(x->header);
		x->header = value_obj_new(true);
		return n;
	}
	colon = memchr(data, ':', n);
	if (!colon || colon == data || data[0] == ' ' || data[0] == '\t')
		return n;
	ns = data, ne = colon, vs = colon + 1, ve = end;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if (ns == ne)
		return n;
	name = xstrndup(ns, (size_t)(ne - ns));
	old = value_obj_get(x->header, name);
	if (old && old->type == VALUE_STR) {
		struct strbuf sb = {0};
		sb_add(&sb, old->u.str.s, old->u.str.len);
		sb_adds(&sb, ", ");
		sb_add(&sb, vs, (size_t)(ve - vs));
		size_t len = sb.len;
		value_obj_set_take(x->header, name, value_str_take(sb_take(&sb), len));
	} else {
		value_obj_set_take(x->header, name, value_str_new(vs, (size_t)(ve - vs)));
	}
	free(name);
	return n;
}

static double elapsed_ms(const struct http_xfer *x)
{
	return (double)(uv_hrtime() - x->t0) / 1e6;
}

/* The text of a transport failure, for people. */
static char *failure_text(struct http_xfer *x, CURLcode rc)
{
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	long os_errno = 0;
	char dur[32];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (x->timeout_ms > 0)
			return xasprintf("timed out after %s",
			                 units_format_duration(x->timeout_ms, dur, sizeof dur));
		return xasprintf("timed out: %s", detail);
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNREFUSED)
			return xasprintf("connection refused: %s", detail);
		return xasprintf("cannot connect: %s", detail);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return xasprintf("cannot resolve host: %s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return xasprintf("TLS: %s", detail);
	default:
		return xstrdup(detail);
	}
}

/* The json field: the body parsed, or MISSING saying why not. */
static struct rbc_value *body_json(const struct http_xfer *x)
{
	const char *s = sb_borrow(&x->resp), *end = NULL;
	size_t len = x->resp.len;
	struct rbc_value *v;
	cJSON *j;

	if (x->received == 0)
		return value_missing_new("body is not JSON: the body is empty");
	j = cJSON_ParseWithLengthOpts(s, len, &end, false);
	if (j && end) {
		while ((size_t)(end - s) < len && isspace((unsigned char)*end))
			end++;
		if ((size_t)(end - s) < len) {
			cJSON_Delete(j);
			return value_missing_new("body is not JSON: text after the value at byte %zu",
			                         (size_t)(end - s));
		}
	}
	if (!j) {
		if (x->truncated)
			return value_missing_new("body is not JSON: it was cut at max_body (%zu bytes)",
			                         x->max_body);
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= s && at <= s + len ? (size_t)(at - s) : 0;
		return value_missing_new("body is not JSON: syntax error at byte %zu", off);
	}
	v = value_from_json(j);
	cJSON_Delete(j);
	return v;
}

static struct rbc_value *error_sample(double ms, const char *error)
{
	struct rbc_value *s = value_obj_new(false);

	value_obj_set_take(s, "time", value_num_new(ms, RBC_DIM_TIME));
	value_obj_set_take(s, "error", value_strz_new(error));
	return s;
}

/* The URL for the sample, without a password: it may come from a secret. */
static struct rbc_value *safe_url(const char *url)
{
	CURLU *u = curl_url();
	char *out = NULL;
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
			out = NULL;
	}
	struct rbc_value *v = value_strz_new(out ? out : "");
	curl_free(out);
	curl_url_cleanup(u);
	return v;
}

static struct rbc_value *success_sample(struct http_xfer *x)
{
	struct rbc_value *s = value_obj_new(false);
	long status = 0;
	curl_off_t total_us = 0;
	char *url = NULL;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	total_us += x->time_before_us;
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
	value_obj_set_take(s, "status", value_num_new((double)status, RBC_DIM_NONE));
	value_obj_set_take(s, "time", value_num_new((double)total_us / 1000.0, RBC_DIM_TIME));
	value_obj_set_take(s, "size", value_num_new((double)x->received, RBC_DIM_SIZE));
	if (x->truncated)
		value_obj_set_take(s, "truncated", value_bool_new(true));
	value_obj_set_take(s, "json", body_json(x));
	size_t len = x->resp.len;
	value_obj_set_take(s, "body", value_str_cut(value_str_take(sb_take(&x->resp), len),
	                                            x->truncated ? MASK_CUT_TAIL : 0));
	value_obj_set_take(s, "header", x->header);
	x->header = NULL;
	value_obj_set_take(s, "url", safe_url(url));
	return s;
}

static void xfer_free(struct http_xfer *x)
{
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	curl_slist_free_all(x->hdrs_away);
	free(x->origin);
	sb_free(&x->resp);
	value_free(x->header);
	free(x);
}

/* Reports x (already out of the multi handle) and frees it. */
static void report(struct http_xfer *x, struct rbc_value *sample, const char *error)
{
	http_done_fn *done = x->done;
	void *ud = x->ud;

	xfer_free(x);
	done(ud, sample, error);
}

/* "scheme://host:port" of url (the scheme's port when none is given), or NULL. */
static char *origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		for (char *p = host; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		o = xasprintf("%s://%s:%s", scheme, host, port);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return o;
}

/* url without user and password (a new string, NULL when it does not parse). */
static char *without_userinfo(const char *url)
{
	CURLU *u = curl_url();
	char *out = NULL, *r = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
			r = xstrdup(out);
	}
	curl_free(out);
	curl_url_cleanup(u);
	return r;
}

/*
 * A finished response that asks to go elsewhere, when x follows: the next
 * hop is started on the same handle (true) as libcurl's own following would
 * (303, and 301/302 after a POST, go on as GET without a body; 307 and 308
 * keep the method and body). False: x is done, as it is.
 */
static bool next_hop(struct http_xfer *x, char **error)
{
	long status = 0;
	char *loc = NULL;
	if (!x->follow)
		return false;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
	if (!loc || (status != 301 && status != 302 && status != 303 && status != 307 && status != 308))
		return false;
	if (x->hops >= HTTP_MAX_REDIRECTS) {
		*error = xasprintf("too many redirects: more than %d", HTTP_MAX_REDIRECTS);
		return false;
	}
	curl_off_t t = 0;
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &t);
	int64_t spent_ms = (int64_t)((uint64_t)(x->time_before_us + t) / 1000);
	if (x->timeout_ms > 0 && spent_ms >= x->timeout_ms) {
		char dur[32];
		*error = xasprintf("timed out after %s",
		                   units_format_duration(x->timeout_ms, dur, sizeof dur));
		return false;
	}
	char *origin = origin_of(loc);
	char *url = xstrdup(loc);
	if (!x->away && (!origin || !x->origin || strcmp(origin, x->origin) != 0)) {
		x->away = true;
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs_away);
	}
	if (x->away && x->body_secret && (status == 307 || status == 308)) {
		/* 307 and 308 send the body again: not to another origin. */
		*error = xasprintf("HTTP %ld to another origin not followed: the body would go along, "
		                   "and it holds a secret", status);
		free(origin);
		free(url);
		return false;
	}
	if (x->away) {
		char *bare = without_userinfo(url);
		if (bare) {
			free(url);
			url = bare;
		}
	}
	free(origin);
	char *method = NULL;
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_METHOD, &method);
	bool to_get = method && strcmp(method, "HEAD") != 0 &&
	              (status == 303 || ((status == 301 || status == 302) && strcmp(method, "POST") == 0));
	if (to_get) {
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	free(url);
	if (x->timeout_ms > 0)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)(x->timeout_ms - spent_ms));
	x->time_before_us += t;
	x->hops++;
	x->resp.len = 0;
	x->received = 0;
	x->truncated = false;
	return curl_multi_add_handle(x->m->cu.multi, x->easy) == CURLM_OK;
}

/* Reports every transfer libcurl has finished. */
static void drain(struct http_multi *m)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->cu.multi, &left))) {
		struct http_xfer *x;
		char *priv = NULL;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct http_xfer *)priv;
		unlink_running(x);
		curl_multi_remove_handle(m->cu.multi, x->easy);
		char *hop_error = NULL;
		if (rc == CURLE_OK && next_hop(x, &hop_error)) {
			link_running(x);
		} else if (hop_error) {
			report(x, error_sample(elapsed_ms(x), hop_error), hop_error);
			free(hop_error);
		} else if (rc == CURLE_OK) {
			report(x, success_sample(x), NULL);
		} else {
			char *why = failure_text(x, rc);
			report(x, error_sample(elapsed_ms(x), why), why);
			free(why);
		}
	}
}

static void on_deliver(uv_timer_t *t)
{
	struct http_multi *m = t->data;

	while (m->pending) {
		struct http_xfer *x = m->pending;
		m->pending = x->next;
		report(x, error_sample(elapsed_ms(x), "cancelled"), "cancelled");
	}
}

/* A request header line is one line: no CR, LF or NUL may slip in. */
static bool header_ok(const char *s, bool name)
{
	if (name && !*s)
		return false;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || (name && (*s == ':' || *s == ' ' || *s == '\t')))
			return false;
	return true;
}

/* Whether a header may go on to another origin: no credential, no secret. */
static bool header_travels(const char *name, const char *value, const struct mask *m)
{
	static const char *const credentials[] = {"Authorization", "Proxy-Authorization", "Cookie"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(credentials); i++)
		if (strcasecmp(name, credentials[i]) == 0)
			return false;
	return !mask_hits(m, value, strlen(value)) && !mask_hits(m, name, strlen(name));
}

static bool set_headers(struct http_xfer *x, const struct probe_req *req, struct rbc_error *err)
{
	bool have_ctype = false, have_expect = false;
	const struct rb_kv *h = req->headers;

	for (size_t i = 0; h && i < h->n; i++) {
		const char *k = h->keys[i], *v = h->vals[i] ? h->vals[i] : "";
		char *line;

		if (!header_ok(k, true) || !header_ok(v, false)) {
			rbc_error_set(err, "http: header \"%s\" is not a valid header line", k);
			return false;
		}
		have_ctype |= strcasecmp(k, "Content-Type") == 0;
		have_expect |= strcasecmp(k, "Expect") == 0;
		/* "Name;" is libcurl's way to send a header with an empty value. */
		line = *v ? xasprintf("%s: %s", k, v) : xasprintf("%s;", k);
		x->hdrs = curl_slist_append(x->hdrs, line);
		if (header_travels(k, v, req->mask))
			x->hdrs_away = curl_slist_append(x->hdrs_away, line);
		free(line);
	}
	if (req->json_body && !have_ctype) {
		x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
		x->hdrs_away = curl_slist_append(x->hdrs_away, "Content-Type: application/json");
	}
	/* No 100-continue round trip: it only adds latency to the measurement. */
	if (req->body && !have_expect) {
		x->hdrs = curl_slist_append(x->hdrs, "Expect:");
		x->hdrs_away = curl_slist_append(x->hdrs_away, "Expect:");
	}
	if (x->hdrs)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	return true;
}

static void set_method(struct http_xfer *x, const struct probe_req *req)
{
	const char *method = req->method && *req->method ? req->method : "GET";
	bool head = strcmp(method, "HEAD") == 0;

	if (req->body && !head) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
		curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, req->body);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, "");
	}
	if (head)
		curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") != 0 && (strcmp(method, "GET") != 0 || req->body))
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
}

struct http_xfer *http_xfer_start(const struct probe_req *req, const char *url,
                                  http_done_fn *done, void *ud, struct rbc_error *err)
{
	struct http_multi *m;
	struct http_xfer *x;

	if (!url)
		url = req->url;
	if (!url || !*url) {
		rbc_error_set(err, "http: no url");
		return NULL;
	}
	if (!req->loop) {
		rbc_error_set(err, "http: no event loop");
		return NULL;
	}
	m = multi_for(req->loop, err);
	if (!m)
		return NULL;
	x = xcalloc(1, sizeof *x);
	x->m = m;
	x->done = done;
	x->ud = ud;
	x->timeout_ms = req->timeout_ms;
	int64_t keep = req->max_body > 0 ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	x->max_body = (size_t)(keep < RB_MAX_BODY ? keep : RB_MAX_BODY); /* check refuses more */
	x->header = value_obj_new(true);
	x->easy = curl_easy_init();
	if (!x->easy) {
		xfer_free(x);
		rbc_error_set(err, "http: cannot initialise libcurl");
		return NULL;
	}
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rbc/" RBC_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	/* A runbook url is never a file, an ftp server or an smtp relay. */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* Redirects are followed by next_hop, header by header. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	x->follow = req->follow;
	x->body_secret = req->body && mask_hits(req->mask, req->body, strlen(req->body));
	x->origin = origin_of(url);
	if (req->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	if (req->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curluv_ca_from_env(e);
	}
	if (!set_headers(x, req, err)) {
		xfer_free(x);
		return NULL;
	}
	set_method(x, req);
	x->t0 = uv_hrtime();
	CURLMcode mc = curl_multi_add_handle(m->cu.multi, e);
	if (mc != CURLM_OK) {
		rbc_error_set(err, "http: %s", curl_multi_strerror(mc));
		xfer_free(x);
		return NULL;
	}
	link_running(x);
	return x;
}

void http_xfer_cancel(struct http_xfer *x)
{
	struct http_multi *m = x->m;

	if (x->cancelled)
		return;
	x->cancelled = true;
	unlink_running(x);
	curl_multi_remove_handle(m->cu.multi, x->easy);
	x->next = m->pending;
	m->pending = x;
	uv_timer_start(&m->deliver, on_deliver, 0, 0);
}

static void multi_closed(uv_handle_t *h)
{
	struct http_multi *m = h->data;

	if (--m->open_handles == 0)
		free(m);
}

void probe_http_shutdown(uv_loop_t *loop)
{
	struct http_multi **pp, *m;

	for (pp = &multis; *pp && (*pp)->loop != loop; pp = &(*pp)->next)
		;
	m = *pp;
	if (!m)
		return;
	*pp = m->next;
	while (m->running)
		http_xfer_cancel(m->running);
	uv_timer_stop(&m->deliver);
	on_deliver(&m->deliver);
	/* Closes the cached connections; their sockets stop being watched. */
	curluv_cleanup(&m->cu);
	m->open_handles = 2;
	uv_close((uv_handle_t *)&m->cu.timer, multi_closed);
	uv_close((uv_handle_t *)&m->deliver, multi_closed);
	curl_global_cleanup();
}

/*
 * The http probe: the transfer is the probe, reporting straight to the
 * engine's callback. struct probe is never defined here; the pointer the
 * engine holds is the struct http_xfer.
 */

static struct probe *http_start(const struct probe_req *req, struct rbc_error *err)
{
	return (struct probe *)http_xfer_start(req, NULL, req->on_done, req->ud, err);
}

static void http_cancel(struct probe *p)
{
	http_xfer_cancel((struct http_xfer *)p);
}

/* ------------------------------------------------------- the step */

/* The "url" key of an http step. */
static void http_key_url(struct keys_reader *r, const cJSON *m, void *t)
{
	struct probe_http_step *h = t;
	h->url = keys_xtext(r, m);
	if (h->url && strncmp(h->url, "${", 2) != 0 && strncmp(h->url, "http://", 7) != 0 &&
	    strncmp(h->url, "https://", 8) != 0)
		keys_err(r, m, "url must start with http:// or https:// (or a ${VARIABLE})");
}

/* The "method" key of an http step. */
static void http_key_method(struct keys_reader *r, const cJSON *m, void *t)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
	if (!keys_want_string(r, m))
		return;
	for (size_t i = 0; i < RBC_ARRAY_LEN(methods); i++) {
		if (strcmp(methods[i], m->valuestring) == 0) {
			((struct probe_http_step *)t)->method = xstrdup(methods[i]);
			return;
		}
		if (strcasecmp(methods[i], m->valuestring) == 0) {
			keys_err(r, m, "write the method in capitals: \"%s\"", methods[i]);
			return;
		}
	}
	keys_err(r, m, "unknown method \"%s\" (expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)",
	    m->valuestring);
}

/* The "headers" key of an http step. */
static void http_key_headers(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_kv(r, m, &((struct probe_http_step *)t)->headers, false, false, true);
}

/* The "body" key of an http step. */
static void http_key_body(struct keys_reader *r, const cJSON *m, void *t)
{
	struct probe_http_step *h = t;
	if (h->body) {
		keys_err_key(r, m, "give either \"body\" or \"json\", not both");
		return;
	}
	if (keys_want_string(r, m)) {
		keys_scan_refs(r, m);
		h->body = xstrdup(m->valuestring);
	}
}

/* A JSON body follows the runbook's rules too: no repeated keys, ${NAME} checked. */
static void check_json_body(struct keys_reader *r, const cJSON *n)
{
	if (cJSON_IsString(n)) {
		keys_scan_refs(r, n);
		return;
	}
	size_t ndup = 0, i = 0;
	const cJSON **dups = cJSON_IsObject(n) ? keys_duplicates(r, n, &ndup) : NULL;
	for (const cJSON *c = n->child; c; c = c->next, i++) {
		size_t old = cJSON_IsObject(n) ? keys_push_key(r, c->string) : keys_push_index(r, i);
		if (!keys_is_dup(dups, ndup, c))
			check_json_body(r, c);
		keys_pop(r, old);
	}
	free(dups);
}

/* The "json" key of an http step. */
static void http_key_json(struct keys_reader *r, const cJSON *m, void *t)
{
	struct probe_http_step *h = t;
	if (h->body) {
		keys_err_key(r, m, "give either \"body\" or \"json\", not both");
		return;
	}
	check_json_body(r, m);
	h->body = cJSON_PrintUnformatted(m);
	h->json_body = true;
}

/* The "timeout" key of an http step. */
static void http_key_timeout(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_duration(r, m, &((struct probe_http_step *)t)->timeout_ms);
}

/* The "insecure" key of an http step. */
static void http_key_insecure(struct keys_reader *r, const cJSON *m, void *t)
{
	bool *insecure = &((struct probe_http_step *)t)->insecure;
	keys_bool(r, m, insecure);
	if (*insecure)
		keys_warn(r, m, "TLS certificates are not verified for this request (insecure: true)");
}

/* The "follow" key of an http step. */
static void http_key_follow(struct keys_reader *r, const cJSON *m, void *t)
{
	keys_bool(r, m, &((struct probe_http_step *)t)->follow);
}

/* The "max_body" key of an http step. */
static void http_key_max_body(struct keys_reader *r, const cJSON *m, void *t)
{
	int64_t *max = &((struct probe_http_step *)t)->max_body;
	if (keys_size(r, m, max) && *max > RB_MAX_BODY) {
		if (cJSON_IsString(m))
			keys_err(r, m, "max_body %s is more than a step may keep in memory (at most 64MiB)",
			    m->valuestring);
		else
			keys_err(r, m, "max_body %lld bytes is more than a step may keep in memory (at most 64MiB)",
			    (long long)*max);
		*max = 0;
	}
}

static const struct keys_member http_keys[] = {
	{"url", http_key_url}, {"method", http_key_method}, {"headers", http_key_headers},
	{"body", http_key_body}, {"json", http_key_json}, {"timeout", http_key_timeout},
	{"insecure", http_key_insecure}, {"follow", http_key_follow}, {"max_body", http_key_max_body},
};

/* The http op's load: the object under "http", url required, GET unless given. */
static void http_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (!keys_want_object(r, m, "an object with \"url\""))
		return;
	struct probe_http_step *h = xcalloc(1, sizeof *h);
	s->action_data = h;
	keys_walk(r, m, http_keys, RBC_ARRAY_LEN(http_keys), h);
	keys_require(r, m, "url", NULL);
	if (!h->method)
		h->method = xstrdup("GET");
}

/* The http op's free_data. */
static void http_free_data(void *data)
{
	struct probe_http_step *h = data;
	if (!h)
		return;
	free(h->method);
	free(h->url);
	rb_kv_free(&h->headers);
	free(h->body);
	free(h);
}

/* The http op's build: url and body expanded for where they go, headers as text. */
static bool http_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                       char **error)
{
	const struct probe_http_step *h = s->action_data;
	q->method = h->method;
	if (!b->expand(b, h->url, PROBE_QUOTE_URL, &q->url, error) ||
	    !b->expand(b, h->body, h->json_body ? PROBE_QUOTE_JSON : PROBE_QUOTE_PLAIN, &q->body, error))
		return false;
	struct rb_kv *headers = probe_build_kv(b);
	for (size_t i = 0; i < h->headers.n; i++) {
		const char *v = NULL;
		if (!b->expand(b, h->headers.vals[i], PROBE_QUOTE_PLAIN, &v, error))
			return false;
		rb_kv_set(headers, h->headers.keys[i], v);
	}
	q->headers = headers;
	q->json_body = h->json_body;
	q->insecure = h->insecure;
	q->follow = h->follow;
	q->max_body = h->max_body;
	if (h->timeout_ms)
		q->timeout_ms = h->timeout_ms;
	return true;
}

/* The http op's verdict_note: a verdict reached without checking TLS says so. */
static const char *http_verdict_note(const struct rb_step *s)
{
	const struct probe_http_step *h = s->action_data;
	return h->insecure ? "TLS not verified (insecure: true)" : NULL;
}

/* The http op's describe: "GET url". */
static void http_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_http_step *h = s->action_data;
	sb_addf(sb, "%s %s", h->method ? h->method : "GET", h->url);
}

const struct probe_ops probe_http_ops = {
	.action = RB_HTTP,
	.name = "http",
	.keys = http_keys,
	.nkeys = RBC_ARRAY_LEN(http_keys),
	.load = http_load,
	.free_data = http_free_data,
	.build = http_build,
	.describe = http_describe,
	.verdict_note = http_verdict_note,
	.start = http_start,
	.cancel = http_cancel,
};

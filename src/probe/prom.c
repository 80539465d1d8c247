/*
 * prom.c — the prometheus probe: an instant query on a Prometheus HTTP API,
 * GET {prom_url}/api/v1/query?query=<urlencoded>, made by the http
 * machinery (http_internal.h), its JSON answer turned into a sample:
 *
 *   value       the first sample's value (absent when the result is empty,
 *               MISSING when it is NaN or ±Inf)
 *   values      every series' value, in order
 *   series      [{metric: {...}, value: N}, ...]
 *   resultType  vector | matrix | scalar | string
 *   time        the request's total time
 *
 * A status:error answer or a non-200 reply is an error of the probe.
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/probe.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "http_internal.h"

/* Prometheus answers can be large (many series); keep more than a page. */
#define PROM_DEFAULT_MAX_BODY ((int64_t)16 << 20)

/* One query. struct probe is never defined here: the engine holds this. */
struct prom_query {
	struct http_xfer *x;
	void (*on_done)(void *ud, struct rbc_value *sample, const char *error);
	void *ud;
};

/* Percent-encodes s for a query string: everything but RFC 3986 unreserved. */
static void url_encode(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			sb_addc(sb, (char)c);
		} else {
			sb_addc(sb, '%');
			sb_addc(sb, hex[c >> 4]);
			sb_addc(sb, hex[c & 15]);
		}
	}
}

static const struct rbc_value *member(const struct rbc_value *obj, const char *key)
{
	return obj && obj->type == VALUE_OBJ ? value_obj_get(obj, key) : NULL;
}

static const struct rbc_value *item(const struct rbc_value *list, size_t i)
{
	return list && list->type == VALUE_LIST && i < list->u.list.n ? list->u.list.v[i] : NULL;
}

static const char *text(const struct rbc_value *v)
{
	return v && v->type == VALUE_STR ? v->u.str.s : NULL;
}

/*
 * A Prometheus sample pair [timestamp, "value"] as a number; NaN and ±Inf
 * (which Prometheus sends as "NaN", "+Inf", "-Inf") become MISSING, since
 * no threshold can be judged on them.
 */
static struct rbc_value *sample_value(const struct rbc_value *pair)
{
	const struct rbc_value *v = item(pair, 1);
	const char *s = text(v);
	char *end;
	double d;

	if (v && v->type == VALUE_NUM)
		d = v->u.num.v;
	else if (!s)
		return value_missing_new("prometheus: the sample has no value");
	else {
		d = strtod(s, &end);
		if (end == s || *end)
			return value_missing_new("prometheus: value \"%s\" is not a number", s);
	}
	if (isnan(d))
		return value_missing_new("value is NaN");
	if (isinf(d))
		return value_missing_new("value is %s", d > 0 ? "+Inf" : "-Inf");
	return value_num_new(d, RBC_DIM_NONE);
}

/*
 * Fills sample from data: value, values, series and resultType. A matrix
 * (a range selector queried at an instant) counts each series' latest
 * point as its value and keeps its points as "values" in the series.
 */
static void fill(struct rbc_value *sample, const struct rbc_value *data)
{
	const char *type = text(member(data, "resultType"));
	const struct rbc_value *result = member(data, "result");
	struct rbc_value *values = value_list_new(), *series = value_list_new();
	struct rbc_value *first = NULL;

	value_obj_set_take(sample, "resultType", value_strz_new(type ? type : ""));
	if (type && (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0)) {
		const struct rbc_value *v = item(result, 1);
		first = strcmp(type, "string") == 0 && text(v) ? value_str_new(v->u.str.s, v->u.str.len)
		                                               : sample_value(result);
		value_list_push_take(values, value_ref(first));
	} else {
		for (size_t i = 0; result && result->type == VALUE_LIST && i < result->u.list.n; i++) {
			const struct rbc_value *r = result->u.list.v[i], *pts = member(r, "values");
			const struct rbc_value *metric = member(r, "metric");
			struct rbc_value *s = value_obj_new(false), *v;

			if (pts && pts->type == VALUE_LIST) {
				struct rbc_value *list = value_list_new();
				for (size_t k = 0; k < pts->u.list.n; k++)
					value_list_push_take(list, sample_value(pts->u.list.v[k]));
				v = pts->u.list.n ? sample_value(pts->u.list.v[pts->u.list.n - 1])
				                  : value_missing_new("prometheus: the series has no points");
				value_obj_set_take(s, "values", list);
			} else {
				v = sample_value(member(r, "value"));
			}
			value_obj_set_take(s, "metric", metric ? value_ref(metric) : value_obj_new(false));
			value_obj_set_take(s, "value", value_ref(v));
			value_list_push_take(series, s);
			if (!first)
				first = value_ref(v);
			value_list_push_take(values, v);
		}
	}
	/* An empty result leaves value absent: "value is absent" to a threshold. */
	if (first)
		value_obj_set_take(sample, "value", first);
	value_obj_set_take(sample, "values", values);
	value_obj_set_take(sample, "series", series);
}

static struct rbc_value *error_sample(const struct rbc_value *http, const char *error)
{
	struct rbc_value *s = value_obj_new(false);
	const struct rbc_value *t = member(http, "time"), *st = member(http, "status");

	value_obj_set_take(s, "time", t ? value_ref(t) : value_num_new(0, RBC_DIM_TIME));
	if (st)
		value_obj_set_take(s, "status", value_ref(st));
	value_obj_set_take(s, "error", value_strz_new(error));
	return s;
}

/* The http transfer is over: turn its sample into the prometheus one. */
static void on_http_done(void *ud, struct rbc_value *http, const char *error)
{
	struct prom_query *q = ud;
	void (*on_done)(void *, struct rbc_value *, const char *) = q->on_done;
	void *cb_ud = q->ud;
	struct rbc_value *sample;
	char *why = NULL;

	free(q);
	if (error) {
		/* Transport failure or cancelled: the http sample is already time + error. */
		on_done(cb_ud, http, error);
		return;
	}
	const struct rbc_value *status = member(http, "status");
	const struct rbc_value *json = member(http, "json");
	const char *pstatus = text(member(json, "status"));
	int code = status && status->type == VALUE_NUM ? (int)status->u.num.v : 0;

	if (pstatus && strcmp(pstatus, "error") == 0) {
		const char *etype = text(member(json, "errorType")), *msg = text(member(json, "error"));
		why = xasprintf("prometheus: %s: %s", etype ? etype : "error", msg ? msg : "(no message)");
	} else if (code != 200) {
		why = xasprintf("prometheus: HTTP status %d", code);
	} else if (!json || json->type != VALUE_OBJ) {
		why = xstrdup("prometheus: the answer is not a JSON object");
	} else if (!pstatus || strcmp(pstatus, "success") != 0) {
		why = xstrdup("prometheus: the answer has no status \"success\"");
	} else if (!member(json, "data") || member(json, "data")->type != VALUE_OBJ) {
		why = xstrdup("prometheus: the answer has no data");
	}
	if (why) {
		sample = error_sample(http, why);
	} else {
		sample = value_obj_new(false);
		value_obj_set_take(sample, "time", value_ref(member(http, "time")));
		fill(sample, member(json, "data"));
	}
	value_free(http);
	on_done(cb_ud, sample, why);
	free(why);
}

static struct probe *prom_start(const struct probe_req *req, struct rbc_error *err)
{
	struct strbuf url = {0};
	struct probe_req r;
	struct prom_query *q;
	size_t n;

	if (!req->prom_url || !*req->prom_url) {
		rbc_error_set(err, "prometheus: no url");
		return NULL;
	}
	if (!req->prom_query || !*req->prom_query) {
		rbc_error_set(err, "prometheus: no query");
		return NULL;
	}
	n = strlen(req->prom_url);
	while (n > 0 && req->prom_url[n - 1] == '/')
		n--;
	sb_add(&url, req->prom_url, n);
	sb_adds(&url, "/api/v1/query?query=");
	url_encode(&url, req->prom_query);

	r = *req;
	r.method = "GET";
	r.body = NULL;
	r.json_body = 0;
	r.follow = 0;
	if (r.max_body <= 0)
		r.max_body = PROM_DEFAULT_MAX_BODY;

	q = xcalloc(1, sizeof *q);
	q->on_done = req->on_done;
	q->ud = req->ud;
	q->x = http_xfer_start(&r, sb_borrow(&url), on_http_done, q, err);
	sb_free(&url);
	if (!q->x) {
		free(q);
		return NULL;
	}
	return (struct probe *)q;
}

static void prom_cancel(struct probe *p)
{
	struct prom_query *q = (struct prom_query *)p;

	http_xfer_cancel(q->x);
}

/* ------------------------------------------------------- the step */

/* The "url" key of a prometheus step. */
static void prom_key_url(struct keys_reader *r, const cJSON *m, void *t)
{
	struct probe_prom_step *p = t;
	p->url = keys_xtext(r, m);
	if (p->url && strncmp(p->url, "${", 2) != 0 && strncmp(p->url, "http://", 7) != 0 &&
	    strncmp(p->url, "https://", 8) != 0)
		keys_err(r, m, "url must start with http:// or https:// (or a ${VARIABLE})");
}

/* The "query" key of a prometheus step. */
static void prom_key_query(struct keys_reader *r, const cJSON *m, void *t)
{
	((struct probe_prom_step *)t)->query = keys_xtext(r, m);
}

static const struct keys_member prom_keys[] = {{"url", prom_key_url}, {"query", prom_key_query}};

/* The prometheus op's load: the object under "prometheus", url and query required. */
static void prom_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	if (!keys_want_object(r, m, "an object with \"url\" and \"query\""))
		return;
	struct probe_prom_step *p = xcalloc(1, sizeof *p);
	s->action_data = p;
	keys_walk(r, m, prom_keys, RBC_ARRAY_LEN(prom_keys), p);
	keys_require(r, m, "url", NULL);
	keys_require(r, m, "query", NULL);
}

/* The prometheus op's free_data. */
static void prom_free_data(void *data)
{
	struct probe_prom_step *p = data;
	if (!p)
		return;
	free(p->url);
	free(p->query);
	free(p);
}

/* The prometheus op's build: the server's URL and the query, each expanded
   for where it goes. */
static bool prom_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                       char **error)
{
	const struct probe_prom_step *p = s->action_data;
	return b->expand(b, p->url, PROBE_QUOTE_URL, &q->prom_url, error) &&
	       b->expand(b, p->query, PROBE_QUOTE_PROMQL, &q->prom_query, error);
}

/* The prometheus op's describe: "PromQL query at url". */
static void prom_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_prom_step *p = s->action_data;
	sb_addf(sb, "PromQL %s at %s", p->query, p->url);
}

const struct probe_ops probe_prometheus_ops = {
	.action = RB_PROMETHEUS,
	.name = "prometheus",
	.keys = prom_keys,
	.nkeys = RBC_ARRAY_LEN(prom_keys),
	.load = prom_load,
	.free_data = prom_free_data,
	.build = prom_build,
	.describe = prom_describe,
	.start = prom_start,
	.cancel = prom_cancel,
};

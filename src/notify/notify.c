/*
 * notify.c — Slack and PagerDuty notifications of an incident, delivered in
 * order per target, retried with back-off, on the caller's loop.
 *
 * Two halves. The payload builders are pure functions of an event (and, for
 * PagerDuty, the configuration's routing key and source): they clean every
 * user text to valid UTF-8, escape it for Slack and cut it to the limits of
 * each service. The delivery half owns one libcurl multi handle per
 * notifier on the loop (rbc/curluv.h, as the http probe's, but its own: a
 * notifier has no global state and its lifetime is its own). libcurl is only
 * told "this socket is ready" or "the timer fired"; host names are resolved
 * by libcurl's resolver thread, never on the loop thread.
 *
 * Each target keeps a FIFO of deliveries; only its head is ever in flight or
 * waiting for a retry. on_state is only called from libuv callbacks (a
 * zero-delay "kick" timer reports QUEUED and starts the heads; transfer
 * completions and back-off timers do the rest), never from inside a notify_
 * call, so the caller may send from its own callbacks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <uv.h>

#include "rbc/curluv.h"
#include "rbc/mask.h"
#include "rbc/notify.h"
#include "rbc/units.h"
#include "rbc/util.h"

#define SLACK_TEXT_MAX 3000     /* characters of a section's text */
#define SLACK_FIELD_MAX 2000    /* characters of one field */
#define SLACK_FIELDS_MAX 10     /* fields of one section */
#define PD_DETAIL_MAX 16384     /* characters of one custom detail */
#define EXCERPT_MAX 200         /* characters of a response body in a reason */
#define RESP_MAX 4096           /* response bytes kept for the excerpt */
#define SECRET_PART_MIN 8       /* a URL path shorter than this is not masked */
#define ELLIPSIS "\xe2\x80\xa6" /* … */
#define REPLACEMENT "\xef\xbf\xbd"

const char *notify_kind_name(enum notify_kind k)
{
	static const char *const names[] = {
#define X(e, name, verb) name,
		NOTIFY_KINDS(X)
#undef X
	};
	return (unsigned)k < RBC_ARRAY_LEN(names) ? names[k] : "?";
}

/* The verb of the summary line: "declared", "severity changed", ... */
static const char *kind_verb(enum notify_kind k)
{
	static const char *const verbs[] = {
#define X(e, name, verb) verb,
		NOTIFY_KINDS(X)
#undef X
	};
	return (unsigned)k < RBC_ARRAY_LEN(verbs) ? verbs[k] : "?";
}

const char *notify_state_name(enum notify_state s)
{
	static const char *const names[] = {
#define X(e, name) name,
		NOTIFY_STATES(X)
#undef X
	};
	return (unsigned)s < RBC_ARRAY_LEN(names) ? names[s] : "?";
}

/* ---- payloads ---- */

/* s, or "" for NULL. */
static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/*
 * s as valid UTF-8 (each invalid byte becomes U+FFFD); with oneline, control
 * characters (newlines, tabs...) become spaces. Caller frees.
 */
static char *clean_text(const char *s, bool oneline)
{
	struct strbuf sb = {0};
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);
		if (len == 0) {
			sb_adds(&sb, REPLACEMENT);
			i++;
			continue;
		}
		if (oneline && cp < 0xa0 && utf8_is_control(cp))
			sb_addc(&sb, ' ');
		else if (utf8_is_control(cp) && cp >= 0xa0)
			sb_adds(&sb, REPLACEMENT); /* a bidirectional control */
		else
			sb_add(&sb, s + i, len);
		i += len;
	}
	return sb_take(&sb);
}

/* Byte length of the first max code points of s (valid UTF-8), or strlen. */
static size_t chars_prefix(const char *s, size_t max)
{
	size_t n = strlen(s), i = 0;

	for (size_t c = 0; i < n && c < max; c++) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);
		i += len ? len : 1;
	}
	return i;
}

/* s (valid UTF-8, owned) cut to at most max characters, "…" marking a cut. */
static char *truncate_chars(char *s, size_t max)
{
	size_t n = strlen(s);

	if (max == 0 || utf8_count(s, n) <= max)
		return s;
	size_t keep = chars_prefix(s, max - 1);
	s = xrealloc(s, keep + sizeof ELLIPSIS);
	memcpy(s + keep, ELLIPSIS, sizeof ELLIPSIS);
	return s;
}

/*
 * Slack's escaping of s (valid UTF-8) in at most max characters (0: no
 * limit), never splitting an entity; "…" marks a cut.
 */
static char *slack_escape_max(const char *s, size_t max)
{
	struct strbuf sb = {0};
	size_t n = strlen(s), chars = 0, total = 0;

	/* First the length the escaped text would have, in characters. */
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);
		total += cp == '&' ? 5 : cp == '<' || cp == '>' ? 4 : 1;
		i += len ? len : 1;
	}
	size_t room = max == 0 || total <= max ? total : max - 1;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);
		const char *ent = cp == '&' ? "&amp;" : cp == '<' ? "&lt;" : cp == '>' ? "&gt;" : NULL;
		size_t w = ent ? strlen(ent) : 1;
		if (len == 0)
			len = 1;
		if (chars + w > room)
			break;
		if (ent)
			sb_adds(&sb, ent);
		else
			sb_add(&sb, s + i, len);
		chars += w;
		i += len;
	}
	if (room < total)
		sb_adds(&sb, ELLIPSIS);
	return sb_take(&sb);
}

char *notify_slack_escape(const char *s)
{
	char *clean = clean_text(s, false);
	char *out = slack_escape_max(clean, 0);

	free(clean);
	return out;
}

char *notify_summary(const struct notify_event *ev)
{
	struct strbuf sb = {0};
	const char *sev = str_or_empty(ev->severity), *name = str_or_empty(ev->severity_name);
	const char *title = ev->title && *ev->title ? ev->title : str_or_empty(ev->incident);

	if (*sev || *name) {
		sb_addf(&sb, "[%s%s%s] ", sev, *sev && *name ? " " : "", name);
	}
	sb_adds(&sb, kind_verb(ev->kind));
	if (ev->kind == NOTIFY_STATUS_UPDATE && ev->status && *ev->status)
		sb_addf(&sb, " (%s)", ev->status);
	sb_addf(&sb, ": %s", title);
	if (ev->summary && *ev->summary)
		sb_addf(&sb, " \xe2\x80\x94 %s", ev->summary); /* — */
	char *raw = sb_take(&sb);
	char *out = clean_text(raw, true);
	free(raw);
	return out;
}

/* Adds {"type": "mrkdwn", "text": "*label:* value", "verbatim": true} to
   arr, both escaped and the whole within max characters, unless value is
   empty: verbatim, Slack makes no mention (@channel, @here), channel link
   or link of the text. */
static void add_mrkdwn(cJSON *arr, const char *label, const char *value, size_t max)
{
	if (!value || !*value)
		return;
	char *lab = clean_text(label, true), *val = clean_text(value, true);
	char *esc_lab = slack_escape_max(lab, max / 2);
	size_t used = utf8_count(esc_lab, strlen(esc_lab)) + 4; /* "*", ":*", " " */
	char *esc_val = slack_escape_max(val, max > used ? max - used : 1);
	char *text = xasprintf("*%s:* %s", esc_lab, esc_val);
	cJSON *el = cJSON_CreateObject();

	cJSON_AddStringToObject(el, "type", "mrkdwn");
	cJSON_AddStringToObject(el, "text", text);
	cJSON_AddBoolToObject(el, "verbatim", true); /* no @channel, #name or URL parsed out of it */
	cJSON_AddItemToArray(arr, el);
	free(text);
	free(esc_val);
	free(esc_lab);
	free(val);
	free(lab);
}

char *notify_slack_payload(const struct notify_event *ev)
{
	char *line = notify_summary(ev);
	char *text = slack_escape_max(line, SLACK_TEXT_MAX);
	cJSON *root = cJSON_CreateObject(), *blocks, *b, *t, *els;

	cJSON_AddStringToObject(root, "text", text);
	blocks = cJSON_AddArrayToObject(root, "blocks");

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "section");
	t = cJSON_AddObjectToObject(b, "text");
	cJSON_AddStringToObject(t, "type", "mrkdwn");
	cJSON_AddStringToObject(t, "text", text);
	cJSON_AddBoolToObject(t, "verbatim", true);
	cJSON_AddItemToArray(blocks, b);

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "context");
	els = cJSON_AddArrayToObject(b, "elements");
	char *sev = xasprintf("%s%s%s", str_or_empty(ev->severity),
	                      ev->severity && *ev->severity && ev->severity_name && *ev->severity_name
	                              ? " " : "",
	                      str_or_empty(ev->severity_name));
	add_mrkdwn(els, "Severity", sev, SLACK_FIELD_MAX);
	free(sev);
	add_mrkdwn(els, "Status", ev->status, SLACK_FIELD_MAX);
	add_mrkdwn(els, "Actor", ev->actor, SLACK_FIELD_MAX);
	add_mrkdwn(els, "Time", ev->time, SLACK_FIELD_MAX);
	add_mrkdwn(els, "Incident", ev->incident, SLACK_FIELD_MAX);
	if (cJSON_GetArraySize(els) > 0)
		cJSON_AddItemToArray(blocks, b);
	else
		cJSON_Delete(b);

	if (ev->ndetails > 0 && ev->details) {
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "section");
		els = cJSON_AddArrayToObject(b, "fields");
		for (size_t i = 0; i < ev->ndetails && cJSON_GetArraySize(els) < SLACK_FIELDS_MAX; i++)
			if (ev->details[i].key && *ev->details[i].key)
				add_mrkdwn(els, ev->details[i].key, ev->details[i].value, SLACK_FIELD_MAX);
		if (cJSON_GetArraySize(els) > 0)
			cJSON_AddItemToArray(blocks, b);
		else
			cJSON_Delete(b);
	}

	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(text);
	free(line);
	return out;
}

/* PagerDuty's severity for the caller's word; "error" for anything else. */
static const char *pd_severity(const char *s)
{
	static const char *const known[] = {"critical", "error", "warning", "info"};

	for (size_t i = 0; s && i < RBC_ARRAY_LEN(known); i++)
		if (strcasecmp(s, known[i]) == 0)
			return known[i];
	return "error";
}

/* Adds key: value (cleaned, cut to max characters) unless value is empty. */
static void add_clean(cJSON *obj, const char *key, const char *value, size_t max)
{
	if (!value || !*value)
		return;
	char *v = truncate_chars(clean_text(value, false), max);
	cJSON_AddStringToObject(obj, key, v);
	free(v);
}

char *notify_pagerduty_payload(const struct notify_config *cfg, const struct notify_event *ev)
{
	cJSON *root = cJSON_CreateObject(), *p, *cd;
	char *key = clean_text(cfg ? cfg->pagerduty_key : NULL, true);
	char *dedup = clean_text(ev->incident, true);
	char *dk = xasprintf("rbc-%s", dedup);

	cJSON_AddStringToObject(root, "routing_key", key);
	cJSON_AddStringToObject(root, "event_action", ev->kind == NOTIFY_RESOLVE ? "resolve" : "trigger");
	cJSON_AddStringToObject(root, "dedup_key", dk);
	if (ev->kind != NOTIFY_RESOLVE) {
		char *summary = truncate_chars(notify_summary(ev), NOTIFY_PD_SUMMARY_MAX);
		const char *source = cfg && cfg->source && *cfg->source ? cfg->source : "rbc";
		char *src = clean_text(source, true);

		p = cJSON_AddObjectToObject(root, "payload");
		cJSON_AddStringToObject(p, "summary", summary);
		cJSON_AddStringToObject(p, "source", src);
		cJSON_AddStringToObject(p, "severity", pd_severity(ev->pd_severity));
		add_clean(p, "timestamp", ev->time, 64);
		cd = cJSON_AddObjectToObject(p, "custom_details");
		cJSON_AddStringToObject(cd, "kind", notify_kind_name(ev->kind));
		add_clean(cd, "incident", ev->incident, PD_DETAIL_MAX);
		add_clean(cd, "title", ev->title, PD_DETAIL_MAX);
		add_clean(cd, "severity", ev->severity, PD_DETAIL_MAX);
		add_clean(cd, "severity_name", ev->severity_name, PD_DETAIL_MAX);
		add_clean(cd, "status", ev->status, PD_DETAIL_MAX);
		add_clean(cd, "actor", ev->actor, PD_DETAIL_MAX);
		add_clean(cd, "summary", ev->summary, PD_DETAIL_MAX);
		/* The caller's details, except where they would hide one of ours. */
		for (size_t i = 0; ev->details && i < ev->ndetails; i++) {
			const struct notify_detail *d = &ev->details[i];
			if (!d->key || !*d->key)
				continue;
			char *k = clean_text(d->key, true);
			if (!cJSON_GetObjectItemCaseSensitive(cd, k)) {
				char *v = truncate_chars(clean_text(d->value, false), PD_DETAIL_MAX);
				cJSON_AddStringToObject(cd, k, v);
				free(v);
			}
			free(k);
		}
		cJSON_AddStringToObject(root, "client", "rbc");
		free(src);
		free(summary);
	}
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(dk);
	free(dedup);
	free(key);
	return out;
}

/* ---- delivery ---- */

/* How one target is configured and addressed. */
struct target_ops {
	const char *name;
	/* The URL to post to; NULL when the target is not configured. */
	const char *(*url)(const struct notify_config *cfg);
	char *(*build)(const struct notify_config *cfg, const struct notify_event *ev);
};

/* Slack is configured by its webhook URL. */
static const char *slack_url(const struct notify_config *cfg)
{
	return cfg->slack_url && *cfg->slack_url ? cfg->slack_url : NULL;
}

/* The Slack body; the configuration adds nothing to it. */
static char *slack_build(const struct notify_config *cfg, const struct notify_event *ev)
{
	(void)cfg;
	return notify_slack_payload(ev);
}

/* PagerDuty is configured by its routing key; the URL has a default. */
static const char *pagerduty_url(const struct notify_config *cfg)
{
	if (!cfg->pagerduty_key || !*cfg->pagerduty_key)
		return NULL;
	return cfg->pagerduty_url && *cfg->pagerduty_url ? cfg->pagerduty_url : NOTIFY_PAGERDUTY_URL;
}

static const struct target_ops target_ops[] = {
	{"slack", slack_url, slack_build},
	{"pagerduty", pagerduty_url, notify_pagerduty_payload},
};
#define NTARGETS RBC_ARRAY_LEN(target_ops)

struct target;

/* One notification to one target, from notify_send until it is delivered
   or has failed. */
struct delivery {
	uint64_t id;
	struct target *t;
	enum notify_kind kind;
	char *incident;
	char *payload;
	uint64_t t0;               /* uv_hrtime at notify_send */
	int attempts;
	bool announced;            /* QUEUED reported */
	CURL *easy;                /* while an attempt is in flight */
	struct curl_slist *hdrs;
	struct strbuf resp;        /* up to RESP_MAX bytes of the answer */
	int64_t retry_after_ms;    /* of the last answer; -1: none */
	struct delivery *next;     /* in the target's queue */
	struct delivery *fresh;    /* not yet announced, in the order sent */
};

struct target {
	struct notify *n;
	const struct target_ops *ops;
	char *url;                 /* NULL: not configured */
	struct delivery *head, *tail;
	uv_timer_t backoff;
	bool waiting;              /* backoff armed for the head */
};

struct notify {
	uv_loop_t *loop;
	struct notify_config cfg;  /* its strings point at the copies below */
	char *slack_url, *pagerduty_url, *pagerduty_key, *source;
	struct curluv cu;          /* the multi handle on the loop (cu.multi) */
	uv_timer_t kick;           /* reports QUEUED, starts heads */
	struct target targets[NTARGETS];
	struct mask *mask;         /* the URLs and the key, for every text out */
	struct delivery *fresh, **fresh_tail;
	uint64_t next_id;
	size_t pending;
	int open_handles;          /* at free: handles not yet closed */
};

static void drain(struct notify *n);
static void pump(struct target *t);

/* curluv's progress callback: collect what finished. */
static void progress(void *ud)
{
	drain(ud);
}

/* Milliseconds since d was sent. */
static int64_t elapsed_ms(const struct delivery *d)
{
	return (int64_t)((uv_hrtime() - d->t0) / 1000000u);
}

/* The one line of a change, for people and the journal. */
static char *state_text(const struct notify_delivery *v)
{
	char dur[32];
	const char *s = v->attempt == 1 ? "" : "s";
	char *head = xasprintf("%s #%llu %s", v->target, (unsigned long long)v->id,
	                       notify_kind_name(v->kind));
	char *out;

	switch (v->state) {
	case NOTIFY_QUEUED:
		out = xasprintf("%s: queued", head);
		break;
	case NOTIFY_SENDING:
		out = xasprintf("%s: sending, attempt %d of %d", head, v->attempt, v->max_attempts);
		break;
	case NOTIFY_RETRYING:
		out = xasprintf("%s: attempt %d of %d failed (%s), next try in %s", head, v->attempt,
		                v->max_attempts, v->why,
		                units_format_duration(v->next_ms, dur, sizeof dur));
		break;
	case NOTIFY_DELIVERED:
		out = xasprintf("%s: delivered (HTTP %ld, %d attempt%s, %lld ms)", head,
		                v->http_status, v->attempt, s, (long long)v->elapsed_ms);
		break;
	default:
		out = xasprintf("%s: failed after %d attempt%s: %s", head, v->attempt, s, v->why);
		break;
	}
	free(head);
	return out;
}

/* Tells the caller about d's new state; why is masked here. */
static void report(struct delivery *d, enum notify_state state, const char *why,
                   int64_t next_ms, long status)
{
	struct notify *n = d->t->n;
	struct notify_delivery v = {
		.id = d->id,
		.target = d->t->ops->name,
		.kind = d->kind,
		.incident = d->incident,
		.state = state,
		.attempt = d->attempts,
		.max_attempts = n->cfg.max_attempts,
		.next_ms = next_ms,
		.http_status = status,
		.elapsed_ms = elapsed_ms(d),
	};

	if (!n->cfg.on_state)
		return;
	char *masked_why = why ? mask_text(n->mask, why) : NULL;
	v.why = masked_why;
	char *text = state_text(&v);
	char *masked = mask_text(n->mask, text);
	v.text = masked;
	n->cfg.on_state(n->cfg.ud, &v);
	free(masked);
	free(text);
	free(masked_why);
}

/* Ends the attempt in flight (if any): the easy handle goes. */
static void end_attempt(struct delivery *d)
{
	if (d->easy) {
		curl_multi_remove_handle(d->t->n->cu.multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
	}
	curl_slist_free_all(d->hdrs);
	d->hdrs = NULL;
	sb_free(&d->resp);
}

/* Frees d and its attempt in flight, if any. */
static void delivery_free(struct delivery *d)
{
	end_attempt(d);
	free(d->incident);
	free(d->payload);
	free(d);
}

/* Takes the head of t out of its queue (it is finished) and frees it after
   reporting state; the next one may then start. */
static void finish(struct target *t, enum notify_state state, const char *why, long status)
{
	struct delivery *d = t->head;
	struct notify *n = t->n;

	t->head = d->next;
	if (!t->head)
		t->tail = NULL;
	n->pending--;
	end_attempt(d);
	report(d, state, why, 0, status);
	delivery_free(d);
	pump(t);
}

/* CURLOPT_WRITEFUNCTION: keep the start of the answer, for a reason. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct delivery *d = userp;
	size_t len = size * nmemb;

	if (d->resp.len < RESP_MAX)
		sb_add(&d->resp, data, len < RESP_MAX - d->resp.len ? len : RESP_MAX - d->resp.len);
	return len;
}

/* Retry-After as a delay in ms: delta-seconds or an HTTP date; -1 if neither. */
static int64_t parse_retry_after(const char *v)
{
	if (*v && strspn(v, "0123456789") == strlen(v)) {
		if (strlen(v) > 9)
			return INT64_C(999999999) * 1000;
		return (int64_t)strtol(v, NULL, 10) * 1000;
	}
	time_t when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	time_t now = time(NULL);
	return when > now ? (int64_t)(when - now) * 1000 : 0;
}

/* CURLOPT_HEADERFUNCTION: Retry-After of the final answer. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct delivery *d = userp;
	size_t len = size * nmemb;
	static const char name[] = "retry-after:";

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		d->retry_after_ms = -1;
		return len;
	}
	if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		const char *s = data + sizeof name - 1, *e = data + len;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		char *v = xstrndup(s, (size_t)(e - s));
		d->retry_after_ms = parse_retry_after(v);
		free(v);
	}
	return len;
}

/* Starts the next attempt of t's head. */
static void start_attempt(struct target *t)
{
	struct delivery *d = t->head;
	struct notify *n = t->n;
	CURL *e;

	d->attempts++;
	d->retry_after_ms = -1;
	e = d->easy = curl_easy_init();
	if (!e) {
		finish(t, NOTIFY_FAILED, "cannot initialise libcurl", 0);
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)d);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "rbc/" RBC_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)n->cfg.timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, d);
	curluv_ca_from_env(e);
	d->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* No 100-continue round trip for a small body. */
	d->hdrs = curl_slist_append(d->hdrs, "Expect:");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->payload));
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->payload);
	if (curl_multi_add_handle(n->cu.multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		d->easy = NULL;
		finish(t, NOTIFY_FAILED, "cannot start the request", 0);
		return;
	}
	report(d, NOTIFY_SENDING, NULL, 0, 0);
}

/* Starts t's head unless it is already under way or not yet announced. */
static void pump(struct target *t)
{
	struct delivery *d = t->head;

	if (!d || d->easy || t->waiting || !d->announced)
		return;
	start_attempt(t);
}

/* The back-off of t's head is over: try again. */
static void on_backoff(uv_timer_t *h)
{
	struct target *t = h->data;

	t->waiting = false;
	if (t->head)
		start_attempt(t);
}

/* Reports QUEUED for what was sent since, in order, then starts heads. */
static void on_kick(uv_timer_t *h)
{
	struct notify *n = h->data;

	while (n->fresh) {
		struct delivery *d = n->fresh;
		n->fresh = d->fresh;
		if (!n->fresh)
			n->fresh_tail = &n->fresh;
		d->fresh = NULL;
		d->announced = true;
		report(d, NOTIFY_QUEUED, NULL, 0, 0);
	}
	for (size_t i = 0; i < NTARGETS; i++)
		pump(&n->targets[i]);
}

/* Why a transfer failed, for people: never libcurl's error buffer, which
   may name the URL. */
static char *transport_text(struct delivery *d, CURLcode rc)
{
	long os_errno = 0;
	char dur[32];

	curl_easy_getinfo(d->easy, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return xasprintf("timed out after %s",
		                 units_format_duration(d->t->n->cfg.timeout_ms, dur, sizeof dur));
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			return xstrdup("connection refused");
		return os_errno ? xasprintf("cannot connect: %s", strerror((int)os_errno))
		                : xstrdup("cannot connect");
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return xstrdup("cannot resolve the host name");
	case CURLE_GOT_NOTHING:
		return xstrdup("the server closed the connection without answering");
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return os_errno ? xasprintf("connection broken: %s", strerror((int)os_errno))
		                : xstrdup("connection broken");
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return xasprintf("TLS: %s", curl_easy_strerror(rc));
	default:
		return xstrdup(curl_easy_strerror(rc));
	}
}

/* Transport errors that another attempt would only repeat. */
static bool transport_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_OUT_OF_MEMORY:
		return false;
	default:
		return true;
	}
}

/* "HTTP 400: <the start of the answer>", masked before it is cut. */
static char *status_text(struct delivery *d, long status)
{
	if (d->resp.len == 0)
		return xasprintf("HTTP %ld", status);
	/* A NUL would end the text early: it is a control like any other. */
	for (size_t i = 0; i < d->resp.len; i++)
		if (d->resp.s[i] == '\0')
			d->resp.s[i] = ' ';
	char *masked = mask_text_n(d->t->n->mask, d->resp.s, d->resp.len, NULL, NULL);
	char *line = truncate_chars(clean_text(masked, true), EXCERPT_MAX);
	size_t a = 0, b = strlen(line);
	while (a < b && line[a] == ' ')
		a++;
	while (b > a && line[b - 1] == ' ')
		b--;
	char *out = a < b ? xasprintf("HTTP %ld: %.*s", status, (int)(b - a), line + a)
	                  : xasprintf("HTTP %ld", status);
	free(line);
	free(masked);
	return out;
}

/* The back-off after the Nth failed attempt: base × 2^(N−1), capped. */
static int64_t backoff_ms(const struct notify *n, int attempts)
{
	int64_t ms = n->cfg.backoff_ms;

	for (int i = 1; i < attempts && ms < n->cfg.backoff_max_ms; i++)
		ms *= 2;
	return ms < n->cfg.backoff_max_ms ? ms : n->cfg.backoff_max_ms;
}

/* The attempt of d (t's head) ended with rc: delivered, retried or failed. */
static void attempt_done(struct delivery *d, CURLcode rc)
{
	struct target *t = d->t;
	struct notify *n = t->n;
	long status = 0;
	bool retry;
	char *why;

	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		finish(t, NOTIFY_DELIVERED, NULL, status);
		return;
	}
	if (rc != CURLE_OK) {
		why = transport_text(d, rc);
		retry = transport_retryable(rc);
	} else if (status == 429 || status >= 500) {
		why = xasprintf("HTTP %ld", status);
		retry = true;
	} else {
		why = status_text(d, status);
		retry = false;
	}
	if (retry && d->attempts < n->cfg.max_attempts) {
		int64_t delay = d->retry_after_ms >= 0 ? d->retry_after_ms : backoff_ms(n, d->attempts);
		if (delay > n->cfg.backoff_max_ms)
			delay = n->cfg.backoff_max_ms;
		end_attempt(d);
		t->waiting = true;
		uv_timer_start(&t->backoff, on_backoff, (uint64_t)delay, 0);
		report(d, NOTIFY_RETRYING, why, delay, status);
	} else {
		finish(t, NOTIFY_FAILED, why, status);
	}
	free(why);
}

/* Handles every transfer libcurl has finished. */
static void drain(struct notify *n)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(n->cu.multi, &left))) {
		char *priv = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		attempt_done((struct delivery *)priv, rc);
	}
}

/* Checks that url is an http or https URL; adds it and its path to the mask. */
static bool check_url(struct notify *n, const char *what, const char *url, struct rbc_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *path = NULL, *query = NULL;
	bool ok = false;

	mask_add(n->mask, url);
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
		ok = true;
		/* The secret part of a webhook is its path: mask it alone too. */
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
		    strlen(path) >= SECRET_PART_MIN)
			mask_add(n->mask, path);
		if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK &&
		    strlen(query) >= SECRET_PART_MIN)
			mask_add(n->mask, query);
	}
	if (!ok)
		rbc_error_set(err, "notify: the %s URL is not an http or https URL", what);
	curl_free(scheme);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return ok;
}

/* Frees what n owns but its handles and the multi handle. */
static void free_config(struct notify *n)
{
	free(n->slack_url);
	free(n->pagerduty_url);
	free(n->pagerduty_key);
	free(n->source);
	for (size_t i = 0; i < NTARGETS; i++)
		free(n->targets[i].url);
	mask_free(n->mask);
}

/* A copy of s, or NULL when s is NULL or "". */
static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

struct notify *notify_new(uv_loop_t *loop, const struct notify_config *cfg,
                          struct rbc_error *err)
{
	struct notify *n;

	if (cfg->max_attempts < 0 || cfg->backoff_ms < 0 || cfg->backoff_max_ms < 0 ||
	    cfg->timeout_ms < 0) {
		rbc_error_set(err, "notify: attempts, back-off and timeout cannot be negative");
		return NULL;
	}
	n = xcalloc(1, sizeof *n);
	n->loop = loop;
	n->cfg = *cfg;
	n->cfg.slack_url = n->slack_url = dup_or_null(cfg->slack_url);
	n->cfg.pagerduty_url = n->pagerduty_url = dup_or_null(cfg->pagerduty_url);
	n->cfg.pagerduty_key = n->pagerduty_key = dup_or_null(cfg->pagerduty_key);
	n->cfg.source = n->source = dup_or_null(cfg->source);
	if (!n->cfg.max_attempts)
		n->cfg.max_attempts = NOTIFY_MAX_ATTEMPTS;
	if (!n->cfg.backoff_ms)
		n->cfg.backoff_ms = NOTIFY_BACKOFF_MS;
	if (!n->cfg.backoff_max_ms)
		n->cfg.backoff_max_ms = NOTIFY_BACKOFF_MAX_MS;
	if (!n->cfg.timeout_ms)
		n->cfg.timeout_ms = NOTIFY_TIMEOUT_MS;
	n->mask = mask_new();
	mask_add(n->mask, n->cfg.pagerduty_key);
	n->fresh_tail = &n->fresh;
	for (size_t i = 0; i < NTARGETS; i++) {
		struct target *t = &n->targets[i];
		const char *url = target_ops[i].url(&n->cfg);
		t->n = n;
		t->ops = &target_ops[i];
		if (url && !check_url(n, t->ops->name, url, err)) {
			free_config(n);
			free(n);
			return NULL;
		}
		t->url = url ? xstrdup(url) : NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rbc_error_set(err, "notify: cannot initialise libcurl");
		free_config(n);
		free(n);
		return NULL;
	}
	if (!curluv_init(&n->cu, loop, progress, n)) {
		curl_global_cleanup();
		rbc_error_set(err, "notify: cannot initialise libcurl");
		free_config(n);
		free(n);
		return NULL;
	}
	uv_timer_init(loop, &n->kick);
	n->cu.timer.data = n->kick.data = n;
	for (size_t i = 0; i < NTARGETS; i++) {
		uv_timer_init(loop, &n->targets[i].backoff);
		n->targets[i].backoff.data = &n->targets[i];
	}
	return n;
}

/* Close callback of every handle of n (their data is n by then). */
static void handle_closed(uv_handle_t *h)
{
	struct notify *n = h->data;

	if (--n->open_handles == 0) {
		free_config(n);
		free(n);
	}
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < NTARGETS; i++) {
		struct target *t = &n->targets[i];
		while (t->head) {
			struct delivery *d = t->head;
			t->head = d->next;
			delivery_free(d);
		}
		t->tail = NULL;
	}
	n->fresh = NULL;
	n->pending = 0;
	/* Closes the cached connections; their sockets stop being watched. */
	curluv_cleanup(&n->cu);
	curl_global_cleanup();
	n->open_handles = 2 + (int)NTARGETS;
	uv_close((uv_handle_t *)&n->cu.timer, handle_closed);
	uv_close((uv_handle_t *)&n->kick, handle_closed);
	for (size_t i = 0; i < NTARGETS; i++) {
		n->targets[i].backoff.data = n;
		uv_close((uv_handle_t *)&n->targets[i].backoff, handle_closed);
	}
}

int notify_send(struct notify *n, const struct notify_event *ev, struct rbc_error *err)
{
	int queued = 0;

	if ((unsigned)ev->kind >= NOTIFY_NKINDS) {
		rbc_error_set(err, "notify: unknown kind of notification");
		return -1;
	}
	if (!ev->incident || !*ev->incident) {
		rbc_error_set(err, "notify: a notification needs the incident id");
		return -1;
	}
	if (!ev->time || !*ev->time) {
		rbc_error_set(err, "notify: a notification needs its time");
		return -1;
	}
	for (size_t i = 0; i < NTARGETS; i++) {
		struct target *t = &n->targets[i];
		if (!t->url)
			continue;
		struct delivery *d = xcalloc(1, sizeof *d);
		d->id = ++n->next_id;
		d->t = t;
		d->kind = ev->kind;
		d->incident = xstrdup(ev->incident);
		d->payload = t->ops->build(&n->cfg, ev);
		d->t0 = uv_hrtime();
		d->retry_after_ms = -1;
		if (t->tail)
			t->tail->next = d;
		else
			t->head = d;
		t->tail = d;
		*n->fresh_tail = d;
		n->fresh_tail = &d->fresh;
		n->pending++;
		queued++;
	}
	if (queued)
		uv_timer_start(&n->kick, on_kick, 0, 0);
	return queued;
}

size_t notify_pending(const struct notify *n)
{
	return n ? n->pending : 0;
}

/*
 * notify.h — incident notifications: Slack incoming-webhook messages and
 * PagerDuty Events API v2 events, sent over HTTP without ever blocking the
 * loop.
 *
 * A struct notify owns one libcurl multi handle driven by the caller's libuv
 * loop (sockets watched by uv_poll, libcurl's timeout and the retry
 * back-offs by uv_timer). notify_send builds the payload of every configured
 * target at once (so the event's strings need not outlive the call), queues
 * one delivery per target and returns; everything else happens on later
 * loop turns, on the loop thread.
 *
 * Deliveries to one target go out in order: a later notification to a
 * target waits until the earlier one is delivered or has failed (a resolve
 * never overtakes the declare it closes). Targets do not wait for each other.
 *
 * Retries: HTTP 429, HTTP 5xx and transport errors (connection refused,
 * timeout, reset...) are tried again, up to max_attempts attempts in all,
 * after base × 2^(N−1) for the Nth failed attempt, capped at backoff_max_ms;
 * a Retry-After header (seconds or an HTTP date) replaces that delay, capped
 * the same. Any other answer that is not 2xx fails the delivery at once, with
 * an excerpt of the response body in the reason.
 *
 * Secrets: the webhook URL, the PagerDuty URL and the routing key never
 * appear in anything this module hands out for display or journaling
 * (delivery texts, reasons, errors): targets are named "slack" and
 * "pagerduty", and every such text is masked with those values (and the URL
 * paths) as a last guard, response excerpts included.
 */
#ifndef RBC_NOTIFY_H
#define RBC_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/error.h"

#define NOTIFY_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"
#define NOTIFY_MAX_ATTEMPTS 5
#define NOTIFY_BACKOFF_MS 1000
#define NOTIFY_BACKOFF_MAX_MS 60000
#define NOTIFY_TIMEOUT_MS 10000
#define NOTIFY_PD_SUMMARY_MAX 1024  /* characters, PagerDuty's limit */

/* What happened: X(ENUM, name, verb in the summary line). */
#define NOTIFY_KINDS(X)                                     \
	X(DECLARE, "declare", "declared")                   \
	X(SEVERITY, "severity", "severity changed")         \
	X(STATUS_UPDATE, "status_update", "status update")  \
	X(STEP_FAILED, "step_failed", "step failed")        \
	X(ROLLBACK, "rollback", "rollback")                 \
	X(RESOLVE, "resolve", "resolved")

enum notify_kind {
#define X(e, name, verb) NOTIFY_##e,
	NOTIFY_KINDS(X)
#undef X
	NOTIFY_NKINDS
};
/* "declare", ...; "?" for a value out of range. */
const char *notify_kind_name(enum notify_kind k);

/* The life of one delivery: X(ENUM, name). */
#define NOTIFY_STATES(X)            \
	X(QUEUED, "queued")         \
	X(SENDING, "sending")       \
	X(RETRYING, "retrying")     \
	X(DELIVERED, "delivered")   \
	X(FAILED, "failed")

enum notify_state {
#define X(e, name) NOTIFY_##e,
	NOTIFY_STATES(X)
#undef X
};
const char *notify_state_name(enum notify_state s);

/* One custom detail (PagerDuty custom_details, Slack fields). */
struct notify_detail {
	const char *key, *value;
};

/*
 * One notification. Every string is borrowed for the duration of
 * notify_send or the payload function; NULL reads as "". incident and time
 * are required by notify_send.
 */
struct notify_event {
	enum notify_kind kind;
	const char *incident;      /* stable id; PagerDuty dedup_key "rbc-<incident>" */
	const char *title;
	const char *severity;      /* the ladder's id, "L2" */
	const char *severity_name; /* "Major" */
	const char *pd_severity;   /* critical, error, warning or info; else "error" */
	const char *status;        /* status word: "investigating", "monitoring" */
	const char *summary;       /* what happened, free text */
	const char *actor;
	const char *time;          /* UTC, ISO 8601 with ms: given, never read here */
	const struct notify_detail *details;
	size_t ndetails;
};

/*
 * A change of one delivery, as on_state sees it. Everything is borrowed for
 * the duration of the callback.
 */
struct notify_delivery {
	uint64_t id;               /* 1, 2, ... in the order of notify_send */
	const char *target;        /* "slack" or "pagerduty" */
	enum notify_kind kind;
	const char *incident;
	enum notify_state state;
	int attempt;               /* attempts made; SENDING: this one (1-based) */
	int max_attempts;
	int64_t next_ms;           /* RETRYING: delay before the next attempt */
	long http_status;          /* of the last answer; 0: none */
	int64_t elapsed_ms;        /* since notify_send */
	const char *why;           /* RETRYING, FAILED: the reason; else NULL */
	const char *text;          /* one line for people and the journal */
};

struct notify_config {
	const char *slack_url;       /* incoming webhook; NULL or "": no Slack */
	const char *pagerduty_url;   /* NULL or "": NOTIFY_PAGERDUTY_URL */
	const char *pagerduty_key;   /* routing key; NULL or "": no PagerDuty */
	const char *source;          /* PagerDuty payload.source; NULL or "": "rbc" */
	int max_attempts;            /* 0: NOTIFY_MAX_ATTEMPTS */
	int64_t backoff_ms;          /* base delay; 0: NOTIFY_BACKOFF_MS */
	int64_t backoff_max_ms;      /* cap of a delay; 0: NOTIFY_BACKOFF_MAX_MS */
	int64_t timeout_ms;          /* per request; 0: NOTIFY_TIMEOUT_MS */
	/* Every change of every delivery, on the loop thread, never from
	   inside a notify_ call. It may call notify_send and notify_pending,
	   not notify_free. */
	void (*on_state)(void *ud, const struct notify_delivery *d);
	void *ud;
};

struct notify;

/*
 * A notifier on loop; cfg's strings are copied. NULL with err set when the
 * configuration is unusable (a URL that is not http or https, a negative
 * limit) or libcurl cannot start. No target configured is fine: every
 * notify_send then queues nothing.
 */
struct notify *notify_new(uv_loop_t *loop, const struct notify_config *cfg,
                          struct rbc_error *err);

/*
 * Drops every delivery not yet finished (transfers in flight are aborted;
 * on_state is not called again) and closes the handles. Returns at once;
 * the memory goes when the loop has run the close callbacks, so run the loop
 * until uv_run returns before uv_loop_close. NULL is fine.
 */
void notify_free(struct notify *n);

/*
 * Queues ev to every configured target and returns the number of
 * deliveries queued (0: no target). -1 with err set when ev cannot be sent
 * (unknown kind, no incident id, no time). Their QUEUED states follow on
 * the next loop turn.
 */
int notify_send(struct notify *n, const struct notify_event *ev, struct rbc_error *err);

/* Deliveries neither delivered nor failed yet. In on_state the delivery
   reported is already left out when its state is DELIVERED or FAILED. */
size_t notify_pending(const struct notify *n);

/*
 * The one-line summary of ev, unescaped: "[L2 Major] declared: TITLE —
 * SUMMARY" (control characters become spaces). Caller frees.
 */
char *notify_summary(const struct notify_event *ev);

/* Slack's escaping of user text: & < > as &amp; &lt; &gt;. Caller frees. */
char *notify_slack_escape(const char *s);

/*
 * The Slack incoming-webhook body of ev: {"text", "blocks": [a section with
 * the summary line, a context with severity, status, actor, time and
 * incident, a section of fields with the custom details when there are
 * any]}. Every user text is escaped. Pure; caller frees.
 */
char *notify_slack_payload(const struct notify_event *ev);

/*
 * The PagerDuty Events API v2 body of ev: routing_key, event_action
 * ("resolve" for a resolve, "trigger" for everything else), dedup_key
 * "rbc-<incident>", and but for a resolve a payload (summary of at most
 * NOTIFY_PD_SUMMARY_MAX characters, source, severity, timestamp,
 * custom_details). Pure; caller frees.
 */
char *notify_pagerduty_payload(const struct notify_config *cfg, const struct notify_event *ev);

#endif

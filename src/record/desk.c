/*
 * desk.c — the incident desk: the incident of an incident runbook and its
 * notifications, driven by the session's journaled events (desk.h).
 *
 * What the operator or a watch does goes through the engine as an incident
 * event, so it is on disk before the desk applies it and tells Slack and
 * PagerDuty; how each delivery ended is journaled the same way.
 */
#include "rbc/desk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rbc/journal.h"
#include "rbc/notify.h"
#include "rbc/units.h"
#include "rbc/util.h"

struct incident_desk {
	struct desk_opts o;
	struct incident *inc;
	struct notify *notify;    /* NULL: no channel set */
	bool declaring;           /* desk_declare recorded it; not applied yet */
};

/* The session's clock. */
static int64_t desk_now(const struct incident_desk *d)
{
	return d->o.now(d->o.now_ud);
}

/* Tells the operator, through the view. */
static void desk_say(const struct incident_desk *d, const char *fmt, ...) RBC_PRINTF(2, 3);
static void desk_say(const struct incident_desk *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (d->o.say)
		d->o.say(d->o.say_ud, msg);
	free(msg);
}

/* A delivery changed: the ends and the retries are journaled (and so in the
   timeline); queued and sending only pass. */
static void desk_delivery_cb(void *ud, const struct notify_delivery *n)
{
	struct incident_desk *d = ud;
	if (n->state != NOTIFY_RETRYING && n->state != NOTIFY_DELIVERED && n->state != NOTIFY_FAILED)
		return;
	struct rbc_error err = {0};
	cJSON *ev = incident_notification(d->inc, n->target, notify_kind_name(n->kind), notify_state_name(n->state),
	                                  n->text, desk_now(d), &err);
	if (ev) {
		engine_incident(d->o.e, ev);
		cJSON_Delete(ev);
	}
	rbc_error_clear(&err);
}

/* A channel's variable set in rbc's environment that the runbook does not
   declare: the run never sees it, so nothing would be sent without a word. */
static void desk_check_env(struct incident_desk *d, const struct eng_step *top, const char *name,
                           const char *channel)
{
	const char *env = getenv(name);
	if (!env || !*env)
		return;
	char *v = engine_var(d->o.e, top, name);
	if (!v)
		desk_say(d, "%s is set in the environment, but the runbook does not declare it "
		            "(\"secrets\": [\"%s\"]): no %s notification is sent", name, name, channel);
	free(v);
}

/* The notifier of the incident, from the run's secrets and variables. */
static void desk_notify_setup(struct incident_desk *d)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(d->o.e, &n);
	desk_check_env(d, tops[0], "SLACK_WEBHOOK_URL", "Slack");
	desk_check_env(d, tops[0], "PAGERDUTY_KEY", "PagerDuty");
	char *slack = engine_var(d->o.e, tops[0], "SLACK_WEBHOOK_URL");
	char *key = engine_var(d->o.e, tops[0], "PAGERDUTY_KEY");
	char *url = engine_var(d->o.e, tops[0], "PAGERDUTY_EVENTS_URL");
	if ((slack && *slack) || (key && *key)) {
		struct notify_config cfg = {.slack_url = slack, .pagerduty_key = key, .pagerduty_url = url,
		                            .source = "rbc", .on_state = desk_delivery_cb, .ud = d};
		struct rbc_error err = {0};
		d->notify = notify_new(d->o.loop, &cfg, &err);
		if (!d->notify)
			desk_say(d, "notifications: %s", err.msg);
		rbc_error_clear(&err);
	}
	free(slack);
	free(key);
	free(url);
}

/* A desk for an incident runbook, with its notifier; NULL otherwise. */
struct incident_desk *desk_new(const struct desk_opts *o)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(o->e, &n);
	const struct runbook *rb = n ? tops[0]->rb : NULL;
	if (!rb || rb->kind != RB_KIND_INCIDENT || !rb->nseverities)
		return NULL;
	struct incident_desk *d = xcalloc(1, sizeof *d);
	d->o = *o;
	d->inc = incident_new(rb);
	if (!o->follow)
		desk_notify_setup(d);
	return d;
}

/* Frees the desk and drops what the notifier still holds. */
void desk_free(struct incident_desk *d)
{
	if (!d)
		return;
	notify_free(d->notify);
	incident_free(d->inc);
	free(d);
}

struct replay_ctx {
	struct incident_desk *d;
	const char *dir;
};

/* journal_replay's callback: an incident line applied to the incident. */
static bool desk_replay_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)raw;
	struct replay_ctx *x = ud;
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	if (!ev || strcmp(ev, "incident") != 0)
		return true;
	struct rbc_error err = {0};
	if (!incident_apply(x->d->inc, o, &err))
		desk_say(x->d, "incident: %s/" JOURNAL_FILE ":%lu: %s", x->dir, line, err.msg);
	rbc_error_clear(&err);
	return true;
}

/* A resume: the incident rebuilt from the journal's incident lines. */
bool desk_replay(struct incident_desk *d, const char *dir, struct rbc_error *err)
{
	struct replay_ctx x = {.d = d, .dir = dir};
	return journal_replay(dir, desk_replay_line, &x, NULL, err);
}

/* Declares the incident from the command line's words. */
bool desk_declare(struct incident_desk *d, const char *level, const char *title, const char *impact,
                  const char *actor, struct rbc_error *err)
{
	int64_t now = desk_now(d);
	int64_t start = impact ? desk_impact_of(impact, now) : now;
	if (!start) {
		rbc_error_set(err, "--impact-start: \"%s\" is no time (HH:MM, 15m, or an ISO time)", impact);
		return false;
	}
	d->declaring = desk_record(d, incident_declare(d->inc, desk_level_of(d->inc->rb, level), title, start, now,
	                                               actor, err), err);
	return d->declaring;
}

/* Journals an action's event through the engine; applied once on disk. */
bool desk_record(struct incident_desk *d, cJSON *ev, struct rbc_error *err)
{
	if (!ev) {
		if (!err->msg)
			rbc_error_set(err, "refused");
		return false;
	}
	engine_incident(d->o.e, ev);
	cJSON_Delete(ev);
	return true;
}

/* PagerDuty's word for level i: its own, else by position. */
const char *desk_pagerduty_severity(const struct runbook *rb, size_t i)
{
	static const char *const by_position[] = {"critical", "error", "warning"};
	if (i >= rb->nseverities)
		return NULL;
	if (rb->severities[i].pagerduty_severity)
		return rb->severities[i].pagerduty_severity;
	return i < RBC_ARRAY_LEN(by_position) ? by_position[i] : "info";
}

/* Tells the channels of k at the incident's level now. */
static void desk_send(struct incident_desk *d, enum notify_kind k, const char *summary, const char *actor,
                      int64_t when)
{
	const struct incident *in = d->inc;
	const struct rb_severity *sv = &in->rb->severities[in->severity];
	char t[40];
	iso_ms_format(t, sizeof t, when);
	struct notify_event ev = {.kind = k, .incident = in->id, .title = in->title, .severity = sv->id,
	                          .severity_name = sv->name,
	                          .pd_severity = desk_pagerduty_severity(in->rb, in->severity),
	                          .status = incident_status_name(in->status), .summary = summary,
	                          .actor = actor, .time = t};
	struct rbc_error err = {0};
	if (notify_send(d->notify, &ev, &err) < 0)
		desk_say(d, "notifications: %s", err.msg);
	rbc_error_clear(&err);
}

/* What a journaled incident entry tells the channels. */
static void desk_notify_entry(struct incident_desk *d, const struct inc_entry *e)
{
	enum notify_kind k;
	switch (e->kind) {
	case INC_EV_DECLARED: k = NOTIFY_DECLARE; break;
	case INC_EV_SEVERITY: k = NOTIFY_SEVERITY; break;
	case INC_EV_UPDATE: k = NOTIFY_STATUS_UPDATE; break;
	case INC_EV_TRIGGER: k = NOTIFY_ROLLBACK; break;
	case INC_EV_RESOLVED: k = NOTIFY_RESOLVE; break;
	default: return;
	}
	desk_send(d, k, e->kind == INC_EV_DECLARED ? NULL : e->text, e->actor, e->t);
}

/* The journaled events: incident lines applied and told, failures told, watches recorded. */
void desk_on_event(struct incident_desk *d, const struct eng_event *ev)
{
	if (!d)
		return;
	switch (ev->type) {
	case ENG_EV_INCIDENT: {
		if (!ev->detail)
			break;
		struct rbc_error err = {0};
		if (!incident_apply(d->inc, ev->detail, &err))
			desk_say(d, "incident: %s", err.msg);
		else if (d->notify)
			desk_notify_entry(d, &d->inc->entries[d->inc->nentries - 1]);
		rbc_error_clear(&err);
		break;
	}
	case ENG_EV_STEP_FINISHED: {
		const struct eng_step *s = ev->step;
		if (!d->notify || !desk_open(d) || ev->verdict != RBC_VERDICT_FAIL || !s->def ||
		    s->def->action == RB_GROUP)
			break;
		char *what = xasprintf("%s %s: %s", s->def->number, s->title ? s->title : "", ev->text ? ev->text : "");
		desk_send(d, NOTIFY_STEP_FAILED, what, "rbc", ev->time);
		free(what);
		break;
	}
	case ENG_EV_WATCH_FIRED: {
		/* The timeline says what fired, verbatim, and that no one chose it
		   (a follower: the driver's record says it). */
		if (!desk_open(d) || d->o.follow)
			break;
		char *id = journal_step_id(ev->step), *to = ev->target ? journal_step_id(ev->target) : NULL;
		char *why = xasprintf("%s → %s: %s", id, to ? to : "continue", ev->text ? ev->text : "");
		struct rbc_error err = {0};
		if (!desk_record(d, incident_trigger(d->inc, why, true, ev->time, "rbc", &err), &err))
			desk_say(d, "%s", err.msg);
		rbc_error_clear(&err);
		free(why);
		free(to);
		free(id);
		break;
	}
	default:
		break;
	}
}

/* The incident (borrowed); NULL without a desk. */
const struct incident *desk_incident(const struct incident_desk *d)
{
	return d ? d->inc : NULL;
}

/* Declared, or the declaration on its way to the record. */
bool desk_declared(const struct incident_desk *d)
{
	return d && (d->declaring || d->inc->severity != SIZE_MAX);
}

/* Declared and not resolved. */
bool desk_open(const struct incident_desk *d)
{
	return d && d->inc->severity != SIZE_MAX && d->inc->status != INC_RESOLVED;
}

/* Notifications still on their way. */
size_t desk_pending(const struct incident_desk *d)
{
	return d && d->notify ? notify_pending(d->notify) : 0;
}

/* The level id an answer names (id or name, any case). */
const char *desk_level_of(const struct runbook *rb, const char *a)
{
	for (size_t i = 0; a && i < rb->nseverities; i++)
		if (strcasecmp(a, rb->severities[i].id) == 0 ||
		    (rb->severities[i].name && strcasecmp(a, rb->severities[i].name) == 0))
			return rb->severities[i].id;
	return a;
}

/* When the impact started, from an answer (desk.h); 0: not understood. */
int64_t desk_impact_of(const char *a, int64_t now)
{
	while (*a == ' ')
		a++;
	if (!*a)
		return now;
	int h, m, s = 0;
	char end;
	if ((sscanf(a, "%d:%d:%d%c", &h, &m, &s, &end) == 3 || sscanf(a, "%d:%d%c", &h, &m, &end) == 2) &&
	    h >= 0 && h < 24 && m >= 0 && m < 60 && s >= 0 && s < 60) {
		/* Today's — or yesterday's when today's is yet to come and
		   yesterday's is less than 12 hours ago (23:50 said at 00:10);
		   a time further ahead stays in the future, to be refused (a
		   typo, not a day-old impact). */
		int64_t day = now - now % (24 * 3600 * 1000LL);
		int64_t at = day + ((int64_t)h * 3600 + m * 60 + s) * 1000;
		if (at > now && now - (at - 24 * 3600 * 1000LL) < 12 * 3600 * 1000LL)
			at -= 24 * 3600 * 1000LL;
		return at;
	}
	int64_t ms;
	const char *why;
	if (units_parse_duration(a, &ms, &why))
		return now - ms;
	return iso_ms_parse(a);
}

/* A question naming every level with its name. */
char *desk_levels_question(const struct runbook *rb, const char *lead)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%s (", lead);
	for (size_t i = 0; i < rb->nseverities; i++) {
		char *l = incident_severity_label(rb, i);
		sb_addf(&sb, "%s%s", i ? ", " : "", l);
		free(l);
	}
	sb_adds(&sb, "): ");
	return sb_take(&sb);
}

/*
 * incident.c — an incident's state from its events: the actions check and
 * build the event, incident_apply is the only code that changes the state
 * (so a live run, a resume and an export agree by construction).
 */
#include "rbc/incident.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/util.h"

static const char *const status_names[] = {
#define X(e, w) w,
	INC_STATUSES(X)
#undef X
};

static const char *const kind_names[] = {
#define X(e, w) w,
	INC_KINDS(X)
#undef X
};

const char *incident_status_name(enum inc_status s)
{
	return (size_t)s < RBC_ARRAY_LEN(status_names) ? status_names[s] : "?";
}

bool incident_status_parse(const char *w, enum inc_status *out)
{
	for (size_t i = 0; w && i < RBC_ARRAY_LEN(status_names); i++)
		if (strcmp(w, status_names[i]) == 0) {
			*out = (enum inc_status)i;
			return true;
		}
	return false;
}

const char *incident_kind_name(enum inc_kind k)
{
	return (size_t)k < RBC_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

/* The kind named w, or -1. */
static int kind_parse(const char *w)
{
	for (size_t i = 0; w && i < RBC_ARRAY_LEN(kind_names); i++)
		if (strcmp(w, kind_names[i]) == 0)
			return (int)i;
	return -1;
}

struct incident *incident_new(const struct runbook *rb)
{
	struct incident *in = xcalloc(1, sizeof *in);
	in->rb = rb;
	in->severity = SIZE_MAX;
	in->holders = xcalloc(rb->nroles ? rb->nroles : 1, sizeof *in->holders);
	return in;
}

void incident_free(struct incident *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->rb->nroles; i++)
		free(in->holders[i]);
	free(in->holders);
	for (size_t i = 0; i < in->nentries; i++) {
		struct inc_entry *e = &in->entries[i];
		free(e->actor);
		free(e->text);
		free(e->from);
		free(e->to);
		free(e->role);
	}
	free(in->entries);
	free(in->spans);
	free(in->id);
	free(in->title);
	free(in);
}

size_t incident_severity_find(const struct runbook *rb, const char *id)
{
	for (size_t i = 0; id && i < rb->nseverities; i++)
		if (strcmp(rb->severities[i].id, id) == 0)
			return i;
	return SIZE_MAX;
}

char *incident_severity_label(const struct runbook *rb, size_t severity)
{
	if (severity >= rb->nseverities)
		return xstrdup("not declared");
	const struct rb_severity *sv = &rb->severities[severity];
	return sv->name ? xasprintf("%s %s", sv->id, sv->name) : xstrdup(sv->id);
}

/* The index of the role with this id, or SIZE_MAX. */
static size_t role_find(const struct runbook *rb, const char *id)
{
	for (size_t i = 0; id && i < rb->nroles; i++)
		if (strcmp(rb->roles[i].id, id) == 0)
			return i;
	return SIZE_MAX;
}

/* ---- building events -------------------------------------------------------- */

/* The event's common fields: what, when, who. */
static cJSON *event_new(enum inc_kind k, int64_t now, const char *actor)
{
	cJSON *o = cJSON_CreateObject();
	char t[40];
	iso_ms_format(t, sizeof t, now);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "what", kind_names[k]);
	if (actor)
		cJSON_AddStringToObject(o, "by", actor);
	return o;
}

/* Refuses actions on an incident not declared, or already resolved. */
static bool live(const struct incident *in, struct rbc_error *err)
{
	if (in->severity == SIZE_MAX) {
		rbc_error_set(err, "no incident has been declared yet");
		return false;
	}
	if (in->status == INC_RESOLVED) {
		rbc_error_set(err, "the incident is resolved");
		return false;
	}
	return true;
}

/* Text that must be given: not NULL, not only spaces. */
static bool given(const char *s)
{
	if (!s)
		return false;
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n')
			return true;
	return false;
}

/* The levels, for an error: "L1 Minor, L2 Major, …". */
static char *levels_list(const struct runbook *rb)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < rb->nseverities; i++) {
		char *l = incident_severity_label(rb, i);
		sb_addf(&sb, "%s%s", i ? ", " : "", l);
		free(l);
	}
	return sb_take(&sb);
}

cJSON *incident_declare(const struct incident *in, const char *severity_id, const char *title,
                        int64_t impact_start, int64_t now, const char *actor, struct rbc_error *err)
{
	if (in->severity != SIZE_MAX) {
		rbc_error_set(err, "the incident is already declared (%s)", in->id);
		return NULL;
	}
	if (!in->rb->nseverities) {
		rbc_error_set(err, "the runbook declares no severities");
		return NULL;
	}
	if (incident_severity_find(in->rb, severity_id) == SIZE_MAX) {
		char *l = levels_list(in->rb);
		rbc_error_set(err, "no severity \"%s\" (the levels: %s)", severity_id ? severity_id : "", l);
		free(l);
		return NULL;
	}
	if (!given(title)) {
		rbc_error_set(err, "an incident needs a title");
		return NULL;
	}
	if (!impact_start)
		impact_start = now;
	if (impact_start > now) {
		char a[40], b[40];
		iso_ms_format(a, sizeof a, impact_start);
		iso_ms_format(b, sizeof b, now);
		rbc_error_set(err, "the impact cannot start in the future (%s is after now, %s)", a, b);
		return NULL;
	}
	cJSON *o = event_new(INC_EV_DECLARED, now, actor);
	char id[40], t[40];
	iso_ms_format(t, sizeof t, now);
	/* INC-20261204T201300Z: the declaration's second, readable and stable */
	snprintf(id, sizeof id, "INC-%.4s%.2s%.2sT%.2s%.2s%.2sZ", t, t + 5, t + 8, t + 11, t + 14, t + 17);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "title", title);
	cJSON_AddStringToObject(o, "to", severity_id);
	iso_ms_format(t, sizeof t, impact_start);
	cJSON_AddStringToObject(o, "impact_start", t);
	return o;
}

cJSON *incident_change_severity(const struct incident *in, const char *severity_id, const char *reason,
                                int64_t now, const char *actor, struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	size_t to = incident_severity_find(in->rb, severity_id);
	if (to == SIZE_MAX) {
		char *l = levels_list(in->rb);
		rbc_error_set(err, "no severity \"%s\" (the levels: %s)", severity_id ? severity_id : "", l);
		free(l);
		return NULL;
	}
	if (to == in->severity) {
		char *l = incident_severity_label(in->rb, to);
		rbc_error_set(err, "the incident is already %s", l);
		free(l);
		return NULL;
	}
	if (!given(reason)) {
		rbc_error_set(err, "a change of severity needs a reason");
		return NULL;
	}
	cJSON *o = event_new(INC_EV_SEVERITY, now, actor);
	cJSON_AddStringToObject(o, "from", in->rb->severities[in->severity].id);
	cJSON_AddStringToObject(o, "to", severity_id);
	cJSON_AddStringToObject(o, "text", reason);
	return o;
}

cJSON *incident_set_status(const struct incident *in, enum inc_status status, int64_t now, const char *actor,
                           struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	if (status == INC_RESOLVED) {
		rbc_error_set(err, "resolving goes through its exit criteria (incident_resolve)");
		return NULL;
	}
	if (status == in->status) {
		rbc_error_set(err, "the status is already %s", incident_status_name(status));
		return NULL;
	}
	cJSON *o = event_new(INC_EV_STATUS, now, actor);
	cJSON_AddStringToObject(o, "from", incident_status_name(in->status));
	cJSON_AddStringToObject(o, "to", incident_status_name(status));
	return o;
}

cJSON *incident_assign(const struct incident *in, const char *role_id, const char *who, int64_t now,
                       const char *actor, struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	size_t r = role_find(in->rb, role_id);
	if (r == SIZE_MAX) {
		struct strbuf sb = {0};
		for (size_t i = 0; i < in->rb->nroles; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", in->rb->roles[i].id);
		rbc_error_set(err, "no role \"%s\" (the roles: %s)", role_id ? role_id : "",
		              in->rb->nroles ? sb_borrow(&sb) : "none declared");
		sb_free(&sb);
		return NULL;
	}
	const char *was = in->holders[r];
	bool clear = !given(who);
	if ((clear && !was) || (!clear && was && strcmp(was, who) == 0)) {
		rbc_error_set(err, "%s is already %s", in->rb->roles[r].name ? in->rb->roles[r].name : role_id,
		              clear ? "unassigned" : who);
		return NULL;
	}
	cJSON *o = event_new(INC_EV_ROLE, now, actor);
	cJSON_AddStringToObject(o, "role", role_id);
	if (was)
		cJSON_AddStringToObject(o, "from", was);
	else
		cJSON_AddNullToObject(o, "from");
	if (clear)
		cJSON_AddNullToObject(o, "to");
	else
		cJSON_AddStringToObject(o, "to", who);
	return o;
}

cJSON *incident_add(const struct incident *in, enum inc_kind kind, const char *text, int64_t now,
                    const char *actor, struct rbc_error *err)
{
	if (kind != INC_EV_NOTE && kind != INC_EV_DECISION && kind != INC_EV_TODO && kind != INC_EV_UPDATE) {
		rbc_error_set(err, "incident_add takes a note, a decision, a todo or an update");
		return NULL;
	}
	if (!live(in, err))
		return NULL;
	if (!given(text)) {
		rbc_error_set(err, "a %s needs a text", kind == INC_EV_UPDATE ? "status update" : kind_names[kind]);
		return NULL;
	}
	cJSON *o = event_new(kind, now, actor);
	cJSON_AddStringToObject(o, "text", text);
	return o;
}

cJSON *incident_todo_done(const struct incident *in, size_t todo_entry, int64_t now, const char *actor,
                          struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	if (todo_entry >= in->nentries || in->entries[todo_entry].kind != INC_EV_TODO) {
		rbc_error_set(err, "timeline entry %zu is not a todo", todo_entry);
		return NULL;
	}
	if (in->entries[todo_entry].done) {
		rbc_error_set(err, "the todo \"%s\" is already done", in->entries[todo_entry].text);
		return NULL;
	}
	cJSON *o = event_new(INC_EV_TODO_DONE, now, actor);
	cJSON_AddNumberToObject(o, "todo", (double)todo_entry);
	cJSON_AddStringToObject(o, "text", in->entries[todo_entry].text);
	return o;
}

cJSON *incident_trigger(const struct incident *in, const char *text, bool automatic, int64_t now,
                        const char *actor, struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	if (!given(text)) {
		rbc_error_set(err, "a trigger says why");
		return NULL;
	}
	cJSON *o = event_new(INC_EV_TRIGGER, now, actor);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddBoolToObject(o, "automatic", automatic);
	return o;
}

cJSON *incident_resolve(const struct incident *in, const char *const *reasons, size_t nreasons,
                        const char *summary, int64_t now, const char *actor, struct rbc_error *err)
{
	if (!live(in, err))
		return NULL;
	if (nreasons != in->rb->nexit_criteria) {
		rbc_error_set(err, "%zu answers for %zu exit criteria", nreasons, in->rb->nexit_criteria);
		return NULL;
	}
	cJSON *crit = cJSON_CreateArray();
	for (size_t i = 0; i < nreasons; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "criterion", in->rb->exit_criteria[i]);
		cJSON_AddBoolToObject(c, "met", reasons[i] == NULL);
		if (reasons[i]) {
			if (!given(reasons[i])) {
				rbc_error_set(err, "exit criterion \"%s\" is not met: say why the incident is resolved anyway",
				              in->rb->exit_criteria[i]);
				cJSON_Delete(c);
				cJSON_Delete(crit);
				return NULL;
			}
			cJSON_AddStringToObject(c, "reason", reasons[i]);
		}
		cJSON_AddItemToArray(crit, c);
	}
	cJSON *o = event_new(INC_EV_RESOLVED, now, actor);
	if (given(summary))
		cJSON_AddStringToObject(o, "text", summary);
	cJSON_AddItemToObject(o, "criteria", crit);
	return o;
}

cJSON *incident_notification(const struct incident *in, const char *target, const char *about,
                             const char *state, const char *text, int64_t now, struct rbc_error *err)
{
	if (in->severity == SIZE_MAX) {
		rbc_error_set(err, "no incident has been declared yet");
		return NULL;
	}
	cJSON *o = event_new(INC_EV_NOTIFICATION, now, "rbc");
	cJSON_AddStringToObject(o, "target", target ? target : "");
	cJSON_AddStringToObject(o, "about", about ? about : "");
	cJSON_AddStringToObject(o, "state", state ? state : "");
	if (text)
		cJSON_AddStringToObject(o, "text", text);
	return o;
}

/* ---- applying events ---------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Ends the current level span at t and opens one for severity. */
static void enter_level(struct incident *in, size_t severity, int64_t t)
{
	if (in->nspans)
		in->spans[in->nspans - 1].to = t;
	xgrow(&in->spans, &in->capspans, in->nspans + 1, sizeof *in->spans);
	in->spans[in->nspans++] = (struct inc_level_span){.severity = severity, .from = t};
	in->severity = severity;
}

bool incident_apply(struct incident *in, const cJSON *ev, struct rbc_error *err)
{
	int k = kind_parse(jstr(ev, "what"));
	int64_t t = iso_ms_parse(jstr(ev, "t"));
	if (k < 0 || !t) {
		rbc_error_set(err, "not an incident event (\"what\" and \"t\" are needed)");
		return false;
	}
	if (k != INC_EV_DECLARED && in->severity == SIZE_MAX) {
		rbc_error_set(err, "a %s event before the incident was declared", kind_names[k]);
		return false;
	}
	struct inc_entry e = {.kind = (enum inc_kind)k, .t = t};
	switch ((enum inc_kind)k) {
	case INC_EV_DECLARED: {
		size_t sv = incident_severity_find(in->rb, jstr(ev, "to"));
		int64_t start = iso_ms_parse(jstr(ev, "impact_start"));
		if (in->severity != SIZE_MAX || sv == SIZE_MAX || !start || !jstr(ev, "id")) {
			rbc_error_set(err, "a declaration that does not fit (declared twice, or an unknown level)");
			return false;
		}
		in->id = xstrdup(jstr(ev, "id"));
		in->title = dup_or_null(jstr(ev, "title"));
		in->impact_start = start;
		in->declared = t;
		in->last_update = t;
		in->status = INC_INVESTIGATING;
		enter_level(in, sv, t);
		e.to = xstrdup(jstr(ev, "to"));
		e.text = dup_or_null(jstr(ev, "title"));
		break;
	}
	case INC_EV_SEVERITY: {
		size_t sv = incident_severity_find(in->rb, jstr(ev, "to"));
		if (sv == SIZE_MAX) {
			rbc_error_set(err, "a change to an unknown level \"%s\"", jstr(ev, "to") ? jstr(ev, "to") : "");
			return false;
		}
		e.from = xstrdup(in->rb->severities[in->severity].id);
		e.to = xstrdup(in->rb->severities[sv].id);
		e.text = dup_or_null(jstr(ev, "text"));
		enter_level(in, sv, t);
		break;
	}
	case INC_EV_STATUS: {
		enum inc_status st;
		if (!incident_status_parse(jstr(ev, "to"), &st)) {
			rbc_error_set(err, "an unknown status \"%s\"", jstr(ev, "to") ? jstr(ev, "to") : "");
			return false;
		}
		e.from = xstrdup(incident_status_name(in->status));
		e.to = xstrdup(incident_status_name(st));
		in->status = st;
		/* Mitigated: the first time the service is back and only watched. */
		if (st == INC_MONITORING && !in->mitigated)
			in->mitigated = t;
		break;
	}
	case INC_EV_ROLE: {
		size_t r = role_find(in->rb, jstr(ev, "role"));
		if (r == SIZE_MAX) {
			rbc_error_set(err, "an unknown role \"%s\"", jstr(ev, "role") ? jstr(ev, "role") : "");
			return false;
		}
		e.role = xstrdup(in->rb->roles[r].id);
		e.from = dup_or_null(in->holders[r]);
		e.to = dup_or_null(jstr(ev, "to"));
		free(in->holders[r]);
		in->holders[r] = dup_or_null(e.to);
		break;
	}
	case INC_EV_TODO_DONE: {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(ev, "todo");
		size_t i = cJSON_IsNumber(n) && n->valuedouble >= 0 ? (size_t)n->valuedouble : SIZE_MAX;
		if (i >= in->nentries || in->entries[i].kind != INC_EV_TODO) {
			rbc_error_set(err, "todo_done names no todo");
			return false;
		}
		in->entries[i].done = true;
		e.todo = i;
		e.text = dup_or_null(in->entries[i].text);
		break;
	}
	case INC_EV_UPDATE:
		in->last_update = t;
		e.text = dup_or_null(jstr(ev, "text"));
		break;
	case INC_EV_TRIGGER:
		e.automatic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "automatic"));
		e.text = dup_or_null(jstr(ev, "text"));
		break;
	case INC_EV_RESOLVED:
		e.from = xstrdup(incident_status_name(in->status));
		e.to = xstrdup(incident_status_name(INC_RESOLVED));
		e.text = dup_or_null(jstr(ev, "text"));
		in->status = INC_RESOLVED;
		in->resolved = t;
		if (!in->mitigated)
			in->mitigated = t;
		if (in->nspans)
			in->spans[in->nspans - 1].to = t;
		break;
	case INC_EV_NOTIFICATION:
		e.from = dup_or_null(jstr(ev, "target"));
		e.to = dup_or_null(jstr(ev, "state"));
		e.role = dup_or_null(jstr(ev, "about"));
		e.text = dup_or_null(jstr(ev, "text"));
		break;
	case INC_EV_NOTE:
	case INC_EV_DECISION:
	case INC_EV_TODO:
		e.text = dup_or_null(jstr(ev, "text"));
		break;
	}
	e.actor = dup_or_null(jstr(ev, "by"));
	xgrow(&in->entries, &in->capentries, in->nentries + 1, sizeof *in->entries);
	in->entries[in->nentries++] = e;
	return true;
}

/* ---- clocks --------------------------------------------------------------------- */

void incident_clock(const struct incident *in, int64_t now, struct inc_clock *c)
{
	*c = (struct inc_clock){0};
	if (in->severity == SIZE_MAX)
		return;
	int64_t end = in->resolved ? in->resolved : now;
	c->since_impact = end - in->impact_start;
	c->since_declared = end - in->declared;
	const struct rb_severity *sv = &in->rb->severities[in->severity];
	c->restore_ms = sv->restore_ms;
	if (c->restore_ms > 0) {
		c->restore_left = c->restore_ms - c->since_impact;
		c->fraction = (double)c->since_impact / (double)c->restore_ms;
		c->target = c->fraction >= 1.0    ? INC_TARGET_BREACHED
		            : c->fraction >= 0.75 ? INC_TARGET_THREE_QUARTERS
		            : c->fraction >= 0.5  ? INC_TARGET_HALF
		                                  : INC_TARGET_OK;
	}
	int64_t every = sv->update_every_ms ? sv->update_every_ms : in->rb->update_every_ms;
	if (every > 0 && !in->resolved) {
		c->update_due = in->last_update + every;
		c->update_overdue = now > c->update_due;
	}
}

char *incident_duration(int64_t ms)
{
	const char *sign = ms < 0 ? "-" : "";
	int64_t s = (ms < 0 ? -ms : ms) / 1000;
	if (s >= 3600)
		return xasprintf("%s%" PRId64 "h%02" PRId64 "m", sign, s / 3600, s / 60 % 60);
	if (s >= 60)
		return xasprintf("%s%" PRId64 "m%02" PRId64 "s", sign, s / 60, s % 60);
	return xasprintf("%s%" PRId64 "s", sign, s);
}

/* What an entry names before its text: the level, the change, the role. */
static void entry_head(struct strbuf *sb, const struct runbook *rb, const struct inc_entry *e)
{
	switch (e->kind) {
	case INC_EV_DECLARED: {
		char *l = incident_severity_label(rb, incident_severity_find(rb, e->to));
		sb_adds(sb, l);
		free(l);
		break;
	}
	case INC_EV_SEVERITY:
	case INC_EV_STATUS:
		sb_addf(sb, "%s → %s", e->from ? e->from : "", e->to ? e->to : "");
		break;
	case INC_EV_ROLE:
		sb_addf(sb, "%s: %s → %s", e->role ? e->role : "", e->from ? e->from : "(unassigned)",
		        e->to ? e->to : "(unassigned)");
		break;
	case INC_EV_TODO:
		sb_adds(sb, e->done ? "[x]" : "[ ]");
		break;
	case INC_EV_TRIGGER:
		sb_adds(sb, e->automatic ? "(automatic)" : "(by hand)");
		break;
	case INC_EV_NOTIFICATION:
		sb_addf(sb, "%s %s %s", e->from ? e->from : "", e->role ? e->role : "", e->to ? e->to : "");
		break;
	default:
		break;
	}
}

/* What an entry says after its kind (incident.h). */
char *incident_entry_detail(const struct runbook *rb, const struct inc_entry *e)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	entry_head(&sb, rb, e);
	if (e->text)
		sb_addf(&sb, "%s%s", sb.len ? " — " : "", e->text);
	return sb_take(&sb);
}

/* An entry as one timeline line (incident.h). */
char *incident_entry_line(const struct runbook *rb, const struct inc_entry *e)
{
	char t[40];
	iso_ms_format(t, sizeof t, e->t);
	struct strbuf sb = {0};
	sb_addf(&sb, "%.8s %s", t + 11, incident_kind_name(e->kind));
	size_t at = sb.len;
	sb_adds(&sb, " ");
	entry_head(&sb, rb, e);
	if (sb.len == at + 1) {
		sb.len = at; /* no head: the text follows the kind */
		sb.s[at] = '\0';
	}
	if (e->text)
		sb_addf(&sb, " — %s", e->text);
	if (e->actor && e->kind != INC_EV_NOTIFICATION)
		sb_addf(&sb, " (%s)", e->actor);
	return sb_take(&sb);
}

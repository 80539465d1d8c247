/*
 * budget.c — the keys that say who does a step and in how long: a group's
 * or a runbook's "deadline" and "on_deadline", a step's "owner" (one of the
 * runbook's "roles"), a manual step's "approval", and a group's "defaults"
 * handed down to its descendants (docs/runbook-format.md, "Time budgets",
 * "Owners and approvals", "Group defaults"). The loader reads the keys
 * through here and calls budget_finish once the whole runbook is read.
 */
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "rbc/util.h"

static const char *const on_deadline_names[] = {"warn", "fail", "goto"};

/* The word of an on_deadline, as runbooks and the journal write it. */
const char *rb_on_deadline_name(enum rb_on_deadline d)
{
	return (size_t)d < RBC_ARRAY_LEN(on_deadline_names) ? on_deadline_names[d] : "?";
}

/* A deadline written with ${NAME}: resolved with the other durations
   (runbook_resolve_durations); a literal is read at once. */
static void read_deadline(struct keys_reader *r, const cJSON *n, struct runbook *rb, int64_t *ms)
{
	if (!cJSON_IsString(n) || !strstr(n->valuestring, "${")) {
		keys_duration(r, n, ms);
		return;
	}
	keys_scan_refs(r, n);
	rb->vdurations = xrealloc(rb->vdurations, (rb->nvdurations + 1) * sizeof *rb->vdurations);
	struct rb_vduration *v = &rb->vdurations[rb->nvdurations++];
	*v = (struct rb_vduration){.ms = ms, .text = xstrdup(n->valuestring), .positive = true,
	                           .path = xstrdup(r->path.len ? r->path.s : "(root)")};
	json_doc_pos(r->doc, n, false, &v->line, &v->col);
	*ms = 1000; /* until resolved */
}

/* "on_deadline": warn, fail or goto:<id>; misspelt words get a suggestion. */
static void read_on_deadline(struct keys_reader *r, const cJSON *m, struct rb_budget *b,
                             const char **goto_id)
{
	if (!keys_want_string(r, m))
		return;
	const char *v = m->valuestring;
	if (strcmp(v, "warn") == 0) {
		b->on_deadline = RB_ON_DEADLINE_WARN;
	} else if (strcmp(v, "fail") == 0) {
		b->on_deadline = RB_ON_DEADLINE_FAIL;
	} else if (strncmp(v, "goto:", 5) == 0 && v[5]) {
		b->on_deadline = RB_ON_DEADLINE_GOTO;
		*goto_id = v + 5;
	} else {
		static const char *const words[] = {"warn", "fail", "goto:"};
		const char *near = NULL;
		size_t best = 3;
		for (size_t i = 0; i < RBC_ARRAY_LEN(words); i++) {
			size_t n = strlen(words[i]) - (words[i][4] == ':');
			/* "warning", "failed", "goto rollback": the word's start is enough */
			size_t d = strncmp(v, words[i], n) == 0 ? 0 : str_distance(v, words[i]);
			if (d < best) {
				best = d;
				near = words[i];
			}
		}
		if (near && strcmp(near, "goto:") == 0)
			keys_err(r, m, "expected \"warn\", \"fail\" or \"goto:<step id>\", got \"%s\" (did you mean \"goto:<step id>\"?)", v);
		else if (near)
			keys_err(r, m, "expected \"warn\", \"fail\" or \"goto:<step id>\", got \"%s\" (did you mean \"%s\"?)", v, near);
		else
			keys_err(r, m, "expected \"warn\", \"fail\" or \"goto:<step id>\", got \"%s\"", v);
	}
}

/* One key of a step or of the runbook (budget.h). */
void budget_key(struct keys_reader *r, const cJSON *m, struct rb_step *s, struct runbook *rb,
                const char **goto_id)
{
	struct rb_budget *b = s ? &s->budget : &rb->budget;
	const char *key = m->string;
	if (strcmp(key, "deadline") == 0) {
		read_deadline(r, m, rb, &b->deadline_ms);
	} else if (strcmp(key, "on_deadline") == 0) {
		read_on_deadline(r, m, b, goto_id);
	} else if (strcmp(key, "owner") == 0 && s) {
		if (!keys_want_string(r, m))
			return;
		free(s->owner);
		s->owner = xstrdup(m->valuestring);
		json_doc_pos(r->doc, m, false, &s->owner_line, &s->owner_col);
	} else if (strcmp(key, "approval") == 0 && s) {
		keys_bool(r, m, &s->approval);
	}
}

/* The step that holds a group's defaults: named and placed after its group, for messages. */
struct rb_step *budget_defaults_new(const struct rb_step *group)
{
	struct rb_step *d = xcalloc(1, sizeof *d);
	d->action = RB_GROUP;
	d->id = xasprintf("%s.defaults", group->id);
	d->number = xstrdup(group->number);
	d->title = xstrdup(group->title ? group->title : group->id);
	d->path = xasprintf("%s.defaults", group->path);
	d->runbook = group->runbook;
	d->line = group->line;
	d->col = group->col;
	return d;
}

/* Reports key of n as one that does not apply, saying why. */
static void refuse(struct keys_reader *r, const cJSON *n, const char *key, const char *why)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(n, key);
	if (!k)
		return;
	size_t old = keys_push_key(r, key);
	keys_err_key(r, k, "\"%s\" %s", key, why);
	keys_pop(r, old);
}

/* What step s sets itself, and the keys its action refuses (budget.h). */
void budget_step_read(struct keys_reader *r, const cJSON *n, struct rb_step *s)
{
	static const struct {
		const char *key;
		unsigned bit;
	} own[] = {{"on_fail", RB_OWN_ON_FAIL}, {"timeout", RB_OWN_TIMEOUT}, {"retry", RB_OWN_RETRY},
	           {"owner", RB_OWN_OWNER}};
	for (size_t i = 0; i < RBC_ARRAY_LEN(own); i++)
		if (cJSON_GetObjectItemCaseSensitive(n, own[i].key))
			s->own_keys |= own[i].bit;
	if (s->action != RB_GROUP) {
		refuse(r, n, "deadline", "applies only to a group (a step with \"steps\") or to the runbook");
		refuse(r, n, "on_deadline", "applies only to a group (a step with \"steps\") or to the runbook");
		refuse(r, n, "defaults", "applies only to a group (a step with \"steps\"): its steps take them");
	} else if (!cJSON_GetObjectItemCaseSensitive(n, "deadline")) {
		refuse(r, n, "on_deadline", "needs a \"deadline\" on the same group");
	}
	if (s->action != RB_MANUAL)
		refuse(r, n, "approval", "applies only to a manual step (an operator answers it)");
}

/* The nearest group above s whose defaults set bit, or NULL. */
static const struct rb_step *default_of(const struct rb_step *s, unsigned bit)
{
	for (const struct rb_step *p = s->parent; p; p = p->parent)
		if (p->defaults && (p->defaults->own_keys & bit))
			return p->defaults;
	return NULL;
}

/* The duration the defaults d write with ${NAME} at from resolves into to as well. */
static void share_vduration(struct runbook *rb, const int64_t *from, int64_t *to)
{
	size_t n = rb->nvdurations;
	for (size_t i = 0; i < n; i++) {
		if (rb->vdurations[i].ms != from)
			continue;
		struct rb_vduration v = rb->vdurations[i];
		v.ms = to;
		v.text = xstrdup(v.text);
		v.path = xstrdup(v.path);
		rb->vdurations = xrealloc(rb->vdurations, (rb->nvdurations + 1) * sizeof *rb->vdurations);
		rb->vdurations[rb->nvdurations++] = v;
	}
}

/* s takes what the defaults of its groups set and it does not. */
static void take_defaults(struct runbook *rb, struct rb_step *s)
{
	bool probe = s->action != RB_GROUP && s->action != RB_MANUAL;
	const struct rb_step *d;
	if (!(s->own_keys & RB_OWN_ON_FAIL) && (d = default_of(s, RB_OWN_ON_FAIL)) &&
	    !(d->on_fail == RB_ON_FAIL_GOTO && d->on_fail_target && strcmp(d->on_fail_target, s->id) == 0)) {
		s->on_fail = d->on_fail;
		free(s->on_fail_target);
		s->on_fail_target = d->on_fail_target ? xstrdup(d->on_fail_target) : NULL;
		s->on_fail_runbook = d->on_fail_runbook;
	}
	if (probe && !(s->own_keys & RB_OWN_TIMEOUT) && (d = default_of(s, RB_OWN_TIMEOUT))) {
		s->timeout_ms = d->timeout_ms;
		share_vduration(rb, &d->timeout_ms, &s->timeout_ms);
	}
	if (probe && !(s->own_keys & RB_OWN_RETRY) && (d = default_of(s, RB_OWN_RETRY))) {
		s->retry_attempts = d->retry_attempts;
		s->retry_delay_ms = d->retry_delay_ms;
		share_vduration(rb, &d->retry_delay_ms, &s->retry_delay_ms);
	}
	if (!(s->own_keys & RB_OWN_OWNER) && (d = default_of(s, RB_OWN_OWNER)) && d->owner) {
		free(s->owner);
		s->owner = xstrdup(d->owner);
	}
}

/* An owner that is not one of rb's roles, with the nearest for "did you mean". */
static void check_owner(struct keys_reader *r, const struct runbook *rb, const struct rb_step *s)
{
	if (!s->owner || runbook_role(rb, s->owner))
		return;
	char *path = xasprintf("%s.owner", s->path);
	if (!rb->nroles) {
		diags_add(r->d, false, r->file, s->owner_line, s->owner_col, path,
		          "owner \"%s\": the runbook declares no \"roles\" (add \"roles\": [\"%s\", …] at its top)",
		          s->owner, s->owner);
	} else {
		const char *near = NULL;
		size_t best = 3;
		struct strbuf list = {0};
		for (size_t i = 0; i < rb->nroles; i++) {
			size_t d = str_distance(s->owner, rb->roles[i].id);
			if (d < best) {
				best = d;
				near = rb->roles[i].id;
			}
			sb_addf(&list, "%s%s", i ? ", " : "", rb->roles[i].id);
		}
		if (near)
			diags_add(r->d, false, r->file, s->owner_line, s->owner_col, path,
			          "owner \"%s\" is not one of the runbook's roles (did you mean \"%s\"?)", s->owner, near);
		else
			diags_add(r->d, false, r->file, s->owner_line, s->owner_col, path,
			          "owner \"%s\" is not one of the runbook's roles: %s", s->owner, sb_borrow(&list));
		sb_free(&list);
	}
	free(path);
}

/* Owners checked against the roles, then the defaults handed down (budget.h). */
void budget_finish(struct keys_reader *r, struct runbook *rb, struct rb_step **all, size_t nall)
{
	for (size_t i = 0; i < nall; i++) {
		check_owner(r, rb, all[i]);
		if (all[i]->defaults)
			check_owner(r, rb, all[i]->defaults);
	}
	for (size_t i = 0; i < nall; i++)
		take_defaults(rb, all[i]);
}

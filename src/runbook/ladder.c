/*
 * ladder.c — an incident runbook's ladder (docs/runbook-format.md,
 * "Incident runbooks"): its severities (id, name, restore and RPO targets,
 * update cadence, contacts, PagerDuty's word, each level's procedure), its
 * roles, update_every and exit_criteria. The loader's root table calls in
 * here; steps are read by the loader's own reader (loader.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/json.h"
#include "rbc/units.h"
#include "loader.h"

/* "id" of a severity. */
static void s_id(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	char *id = loader_get_id(L, m);
	if (id) {
		free(sv->id);
		sv->id = id;
	}
}

/* "name" of a severity. */
static void s_name(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_severity *)t)->name = keys_text(&L->r, m);
}

/* "description" of a severity. */
static void s_description(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	if (keys_want_string(&L->r, m))
		((struct rb_severity *)t)->description = xstrdup(m->valuestring);
}

/* "restore" of a severity. */
static void s_restore(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_duration(&L->r, m, &((struct rb_severity *)t)->restore_ms);
}

/* "rpo" of a severity. */
static void s_rpo(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	/* An RPO of zero ("no data loss") is meaningful. */
	const char *why;
	int64_t *ms = &((struct rb_severity *)t)->rpo_ms;
	if (!cJSON_IsString(m))
		keys_err(&L->r, m, "expected a duration such as \"4h\", got %s", json_type_name(m));
	else if (!units_parse_duration(m->valuestring, ms, &why))
		keys_err(&L->r, m, "bad duration \"%s\": %s", m->valuestring, why);
}

/* "update_every" of a severity. */
static void s_update_every(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_duration(&L->r, m, &((struct rb_severity *)t)->update_every_ms);
}

/* "contacts" of a severity. */
static void s_contacts(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	loader_strings(L, m, &sv->contacts, &sv->ncontacts);
}

/* PagerDuty's word for the level: one of the four the Events API takes. */
static void s_pagerduty_severity(struct keys_reader *kr, const cJSON *m, void *t)
{
	static const char *const words[] = {"critical", "error", "warning", "info"};
	struct loader *L = loader_of(kr);
	if (!keys_want_string(&L->r, m))
		return;
	for (size_t i = 0; i < RBC_ARRAY_LEN(words); i++)
		if (strcmp(m->valuestring, words[i]) == 0) {
			((struct rb_severity *)t)->pagerduty_severity = xstrdup(words[i]);
			return;
		}
	keys_err(&L->r, m, "expected critical, error, warning or info, got \"%s\"", m->valuestring);
}

/* "steps" of a severity. */
static void s_steps(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	char *prefix = xasprintf("%s.", sv->id ? sv->id : "severity");
	L->read_steps(L, m, NULL, prefix, &sv->steps, &sv->nsteps);
	free(prefix);
}

static const struct keys_member severity_keys[] = {
	{"id", s_id}, {"name", s_name}, {"description", s_description}, {"restore", s_restore},
	{"rpo", s_rpo}, {"update_every", s_update_every}, {"contacts", s_contacts}, {"steps", s_steps},
	{"pagerduty_severity", s_pagerduty_severity},
};

/* "severities" of an incident runbook. */
void ladder_severities(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct runbook *rb = L->rb;
	if (!keys_want_array(&L->r, m, true))
		return;
	rb->severities = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *rb->severities);
	struct named *names = NULL;
	size_t nnames = 0, cap = 0, i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		if (keys_want_object(&L->r, c, "a severity object with \"id\" and \"name\"")) {
			struct rb_severity *sv = &rb->severities[rb->nseverities++];
			/* The id numbers the procedure's steps: read it first. */
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
			if (id && cJSON_IsString(id) && loader_is_id(id->valuestring))
				sv->id = xstrdup(id->valuestring);
			keys_walk(&L->r, c, severity_keys, RBC_ARRAY_LEN(severity_keys), sv);
			keys_require(&L->r, c, "id", NULL);
			keys_require(&L->r, c, "name", "(shown next to the level, e.g. \"Major\")");
			if (sv->id) {
				size_t o2 = keys_push_key(&L->r, "id");
				loader_named_add(L, &names, &nnames, &cap, sv->id, id);
				keys_pop(&L->r, o2);
			}
		}
		keys_pop(&L->r, old);
	}
	loader_check_unique(L, names, nnames, "severity id");
}

/* "id" of a role. */
static void o_id(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_role *)t)->id = loader_get_id(L, m);
}

/* "name" of a role. */
static void o_name(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_role *)t)->name = keys_text(&L->r, m);
}

/* "description" of a role. */
static void o_description(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	if (keys_want_string(&L->r, m))
		((struct rb_role *)t)->description = xstrdup(m->valuestring);
}

static const struct keys_member role_keys[] = {
	{"id", o_id}, {"name", o_name}, {"description", o_description},
};

/* "roles" of a runbook (any kind may name them). */
void ladder_roles(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct runbook *rb = L->rb;
	if (!keys_want_array(&L->r, m, false))
		return;
	rb->roles = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *rb->roles);
	struct named *names = NULL;
	size_t nnames = 0, cap = 0, i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		struct rb_role *r = &rb->roles[rb->nroles];
		if (cJSON_IsString(c)) {
			r->id = loader_get_id(L, c);
		} else if (keys_want_object(&L->r, c, "a role id or an object with \"id\"")) {
			keys_walk(&L->r, c, role_keys, RBC_ARRAY_LEN(role_keys), r);
			keys_require(&L->r, c, "id", NULL);
		}
		if (r->id) {
			loader_named_add(L, &names, &nnames, &cap, r->id, c);
			rb->nroles++;
		} else {
			free(r->name);
			free(r->description);
			memset(r, 0, sizeof *r);
		}
		keys_pop(&L->r, old);
	}
	loader_check_unique(L, names, nnames, "role id");
}

/* "update_every" of an incident runbook. */
void ladder_update_every(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_duration(&L->r, m, &L->rb->update_every_ms);
}

/* "exit_criteria" of an incident runbook. */
void ladder_exit_criteria(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	loader_strings(L, m, &L->rb->exit_criteria, &L->rb->nexit_criteria);
}

/*
 * model.c — a loaded runbook as the rest of rbc holds it: freeing it (each
 * probe kind frees its own step data), finding a step by id and counting
 * its steps by action.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/expr.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

static void step_free(struct rb_step *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nchildren; i++)
		step_free(s->children[i]);
	free(s->children);
	free(s->id);
	free(s->number);
	free(s->title);
	free(s->note);
	free(s->description);
	rb_links_free(s->links, s->nlinks);
	free(s->path);
	free(s->manual);
	rb_ask_free(s->ask);
	const struct probe_ops *ops = probe_ops_for(s->action);
	if (ops && ops->free_data)
		ops->free_data(s->action_data);
	expr_free(s->repeat.until);
	expr_free(s->expect);
	expr_free(s->warn);
	expr_free(s->when);
	for (size_t i = 0; i < s->ncaptures; i++) {
		free(s->captures[i].name);
		expr_free(s->captures[i].expr);
	}
	free(s->captures);
	free(s->confirm);
	free(s->on_fail_target);
	free(s->on_decline_target);
	rb_foreach_free(s->foreach);
	rb_call_free(s->call);
	free(s->budget.target);
	free(s->owner);
	step_free(s->defaults);
	free(s);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void runbook_free(struct runbook *rb)
{
	if (!rb)
		return;
	for (size_t i = 0; i < rb->nvdurations; i++) {
		free(rb->vdurations[i].text);
		free(rb->vdurations[i].path);
	}
	free(rb->vdurations);
	free(rb->budget.target);
	free(rb->file);
	free(rb->dir);
	free(rb->id);
	free(rb->title);
	free(rb->description);
	rb_links_free(rb->links, rb->nlinks);
	free(rb->log_version);
	free(rb->log_environment);
	rb_kv_free(&rb->vars);
	for (size_t i = 0; i < rb->nvardecls; i++)
		rb_vardecl_free(&rb->vardecls[i]);
	free(rb->vardecls);
	strv_free(rb->secrets, rb->nsecrets);
	for (size_t i = 0; i < rb->nsteps; i++)
		step_free(rb->steps[i]);
	free(rb->steps);
	for (size_t i = 0; i < rb->nseverities; i++) {
		struct rb_severity *sv = &rb->severities[i];
		free(sv->id);
		free(sv->name);
		free(sv->description);
		free(sv->pagerduty_severity);
		strv_free(sv->contacts, sv->ncontacts);
		for (size_t k = 0; k < sv->nsteps; k++)
			step_free(sv->steps[k]);
		free(sv->steps);
	}
	free(rb->severities);
	for (size_t i = 0; i < rb->nroles; i++) {
		free(rb->roles[i].id);
		free(rb->roles[i].name);
		free(rb->roles[i].description);
	}
	free(rb->roles);
	strv_free(rb->exit_criteria, rb->nexit_criteria);
	for (size_t i = 0; i < rb->nincludes; i++)
		runbook_free(rb->includes[i]);
	free(rb->includes);
	free(rb);
}

static struct rb_step *find_in(struct rb_step **v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i]->id, id) == 0)
			return v[i];
		struct rb_step *s = find_in(v[i]->children, v[i]->nchildren, id);
		if (s)
			return s;
	}
	return NULL;
}

struct rb_step *runbook_find(const struct runbook *rb, const char *id)
{
	struct rb_step *s = find_in(rb->steps, rb->nsteps, id);
	for (size_t i = 0; !s && i < rb->nseverities; i++)
		s = find_in(rb->severities[i].steps, rb->severities[i].nsteps, id);
	return s;
}

static void count_in(struct rb_step **v, size_t n, size_t counts[RB_ACTION_COUNT])
{
	for (size_t i = 0; i < n; i++) {
		counts[v[i]->action]++;
		count_in(v[i]->children, v[i]->nchildren, counts);
	}
}

void runbook_count(const struct runbook *rb, size_t counts[RB_ACTION_COUNT])
{
	memset(counts, 0, RB_ACTION_COUNT * sizeof *counts);
	count_in(rb->steps, rb->nsteps, counts);
	for (size_t i = 0; i < rb->nseverities; i++)
		count_in(rb->severities[i].steps, rb->severities[i].nsteps, counts);
}

/* The role of rb named id, or NULL. */
const struct rb_role *runbook_role(const struct runbook *rb, const char *id)
{
	for (size_t i = 0; id && i < rb->nroles; i++)
		if (strcmp(rb->roles[i].id, id) == 0)
			return &rb->roles[i];
	return NULL;
}

/*
 * incident_export.c — an incident run's own documents, from its journal:
 * the incident timeline as JSON (docs/incident.schema.json) and Markdown,
 * and a postmortem skeleton. The incident is rebuilt exactly as the
 * console and a resume rebuild it: its runbook (the run header's first)
 * for the ladder and the roles, then every incident line applied in order.
 */
#include "rbc/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/runbook.h"
#include "rbc/strmap.h"
#include "rbc/text.h"
#include "rbc/util.h"

struct loaded {
	struct runbook *rb;
	struct incident *in;
	char *run;
	cJSON *criteria;          /* the resolution's, as journaled */
	/* How the run stands: its last end (unless a step ran after it). */
	bool ended, stopped;
	char *verdict, *stop_text;
	const char *state;        /* finished, stopped, interrupted, running */
	struct strmap proc_level; /* a level's procedure step id → the level's id */
	cJSON *procs;             /* those steps as the run left them, first started first */
};

static void loaded_free(struct loaded *l)
{
	incident_free(l->in);
	runbook_free(l->rb);
	free(l->run);
	cJSON_Delete(l->criteria);
	free(l->verdict);
	free(l->stop_text);
	strmap_free(&l->proc_level);
	cJSON_Delete(l->procs);
}

/* The ids of the steps of a level's procedure, below steps, as the journal
   names them ("RUNBOOK/STEP"). */
static void index_procedure(struct loaded *l, const char *level, struct rb_step *const *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *id = xasprintf("%s/%s", l->rb->id, steps[i]->id);
		strmap_set(&l->proc_level, id, (void *)level);
		free(id);
		index_procedure(l, level, steps[i]->children, steps[i]->nchildren);
	}
}

static void set_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* A line about the run's end or one of its procedure steps. */
static void run_line(struct loaded *l, const cJSON *o, const char *ev)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "verdict"));
	if (strcmp(ev, "run_finished") == 0) {
		l->ended = true;
		l->stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped"));
		free(l->verdict);
		free(l->stop_text);
		l->verdict = v ? xstrdup(v) : NULL;
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "text"));
		l->stop_text = t ? xstrdup(t) : NULL;
		return;
	}
	if (strcmp(ev, "step_started") == 0 || strcmp(ev, "run_started") == 0 || strcmp(ev, "run_resumed") == 0)
		l->ended = false; /* it goes on */
	const char *step = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "step"));
	const char *level = step ? strmap_get(&l->proc_level, step) : NULL;
	bool started = strcmp(ev, "step_started") == 0, finished = strcmp(ev, "step_finished") == 0;
	if (!level || (!started && !finished))
		return;
	cJSON *p = NULL, *c;
	cJSON_ArrayForEach(c, l->procs) if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "step")), step) == 0) p = c;
	if (!p) {
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "step", step);
		cJSON_AddStringToObject(p, "level", level);
		cJSON_AddItemToArray(l->procs, p);
	}
	const char *number = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "number"));
	const char *title = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "title"));
	if (number)
		set_str(p, "number", number);
	if (started) {
		if (title)
			set_str(p, "title", title);
		set_str(p, "state", "running");
		set_str(p, "verdict", NULL);
		set_str(p, "text", NULL);
	} else {
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
		set_str(p, "state", st ? st : "done");
		set_str(p, "verdict", v);
		set_str(p, "text", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "text")));
	}
}

struct apply_ctx {
	struct loaded *l;
	const char *dir;
	struct rbc_error *err;
};

/* journal_replay's callback: an incident line applied to the incident. */
static bool apply_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)raw;
	struct apply_ctx *x = ud;
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	if (!ev)
		return true;
	if (strcmp(ev, "incident") != 0) {
		run_line(x->l, o, ev);
		return true;
	}
	struct rbc_error e = {0};
	if (!incident_apply(x->l->in, o, &e)) {
		rbc_error_set(x->err, "%s/" JOURNAL_FILE ":%lu: %s", x->dir, line, e.msg);
		rbc_error_clear(&e);
		return false;
	}
	const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "what"));
	if (what && strcmp(what, "resolved") == 0) {
		cJSON_Delete(x->l->criteria);
		x->l->criteria = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "criteria"), true);
	}
	return true;
}

/* The run's incident, or false with err (no incident runbook, never declared). */
static bool load_(const char *dir, struct loaded *l, struct rbc_error *err)
{
	*l = (struct loaded){0};
	cJSON *h = resume_header(dir, err);
	if (!h)
		return false;
	const cJSON *rb0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(h, "runbooks"), 0);
	const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb0, "file"));
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb0, "kind"));
	l->run = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "run")) ?: "");
	if (!file || !kind || strcmp(kind, "incident") != 0) {
		rbc_error_set(err, "run %s is not an incident (its first runbook is %s)", l->run, kind ? kind : "unknown");
		cJSON_Delete(h);
		return false;
	}
	struct stat st;
	int found = stat(file, &st) == 0 ? 0 : errno;
	if (found || !S_ISREG(st.st_mode)) {
		/* The record names it: never wait on a FIFO or read a device. */
		rbc_error_set(err, "the incident's runbook %s cannot be loaded (%s)", file,
		              found ? strerror(found) : "not a regular file");
		cJSON_Delete(h);
		return false;
	}
	struct rbc_diags d = {0};
	l->rb = runbook_load(file, &d);
	if (!l->rb) {
		rbc_error_set(err, "the incident's runbook %s cannot be loaded (%s)", file,
		              d.n ? d.v[0].msg : "unreadable");
		diags_free(&d);
		cJSON_Delete(h);
		return false;
	}
	diags_free(&d);
	cJSON_Delete(h);
	l->in = incident_new(l->rb);
	l->procs = cJSON_CreateArray();
	for (size_t i = 0; i < l->rb->nseverities; i++) {
		const struct rb_severity *sv = &l->rb->severities[i];
		char *group = xasprintf("%s/%s-procedure", l->rb->id, sv->id);
		strmap_set(&l->proc_level, group, sv->id);
		free(group);
		index_procedure(l, sv->id, sv->steps, sv->nsteps);
	}
	struct apply_ctx x = {.l = l, .dir = dir, .err = err};
	if (!journal_replay(dir, apply_line, &x, NULL, err))
		return false;
	if (l->in->severity == SIZE_MAX) {
		rbc_error_set(err, "run %s has no incident: it was never declared", l->run);
		return false;
	}
	/* A run with its end is over, even while its console stays open. */
	l->state = l->ended ? (l->stopped ? "stopped" : "finished")
	         : journal_locked(dir) == 1 ? "running"
	                                    : "interrupted";
	return true;
}

/* The procedure steps the run started (not the groups), as it left them. */
static bool is_procedure_group(const cJSON *p)
{
	const char *step = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "step"));
	size_t n = step ? strlen(step) : 0;
	return n > 10 && strcmp(step + n - 10, "-procedure") == 0;
}

static void add_time(cJSON *o, const char *k, int64_t ms)
{
	if (!ms) {
		cJSON_AddNullToObject(o, k);
		return;
	}
	char t[40];
	iso_ms_format(t, sizeof t, ms);
	cJSON_AddStringToObject(o, k, t);
}

static void add_ms(cJSON *o, const char *k, int64_t from, int64_t to)
{
	if (from && to)
		cJSON_AddNumberToObject(o, k, (double)(to - from));
	else
		cJSON_AddNullToObject(o, k);
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* The incident timeline as JSON, every field the journal gives. */
static cJSON *to_json(const struct loaded *l)
{
	const struct incident *in = l->in;
	const struct runbook *rb = l->rb;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "schema_version", 1);
	cJSON_AddStringToObject(o, "run", l->run);
	cJSON_AddStringToObject(o, "id", in->id);
	add_str_or_null(o, "title", in->title);
	cJSON_AddStringToObject(o, "runbook", rb->id);
	cJSON *sev = cJSON_AddObjectToObject(o, "severity");
	cJSON_AddStringToObject(sev, "id", rb->severities[in->severity].id);
	add_str_or_null(sev, "name", rb->severities[in->severity].name);
	cJSON_AddStringToObject(o, "status", incident_status_name(in->status));

	cJSON *ms = cJSON_AddObjectToObject(o, "milestones");
	add_time(ms, "impact_started", in->impact_start);
	add_time(ms, "declared", in->declared);
	add_time(ms, "mitigated", in->mitigated);
	add_time(ms, "resolved", in->resolved);
	cJSON *du = cJSON_AddObjectToObject(o, "durations_ms");
	add_ms(du, "impact_to_declared", in->impact_start, in->declared);
	add_ms(du, "declared_to_mitigated", in->declared, in->mitigated);
	add_ms(du, "impact_to_mitigated", in->impact_start, in->mitigated);
	add_ms(du, "impact_to_resolved", in->impact_start, in->resolved);
	const struct rb_severity *sv = &rb->severities[in->severity];
	if (sv->restore_ms) {
		cJSON_AddNumberToObject(o, "restore_target_ms", (double)sv->restore_ms);
		if (in->resolved)
			cJSON_AddBoolToObject(o, "restore_target_met", in->resolved - in->impact_start <= sv->restore_ms);
		else
			cJSON_AddNullToObject(o, "restore_target_met");
	} else {
		cJSON_AddNullToObject(o, "restore_target_ms");
		cJSON_AddNullToObject(o, "restore_target_met");
	}

	cJSON *levels = cJSON_AddArrayToObject(o, "levels");
	for (size_t i = 0; i < in->nspans; i++) {
		const struct inc_level_span *s = &in->spans[i];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "severity", rb->severities[s->severity].id);
		add_str_or_null(x, "name", rb->severities[s->severity].name);
		add_time(x, "from", s->from);
		add_time(x, "to", s->to);
		add_ms(x, "ms", s->from, s->to);
		cJSON_AddItemToArray(levels, x);
	}
	cJSON *roles = cJSON_AddArrayToObject(o, "roles");
	for (size_t i = 0; i < rb->nroles; i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "id", rb->roles[i].id);
		add_str_or_null(x, "name", rb->roles[i].name);
		add_str_or_null(x, "holder", in->holders[i]);
		cJSON_AddItemToArray(roles, x);
	}
	cJSON *sc = cJSON_AddArrayToObject(o, "severity_changes"), *st = cJSON_AddArrayToObject(o, "status_changes");
	cJSON *ho = cJSON_AddArrayToObject(o, "handovers"), *todos = cJSON_AddArrayToObject(o, "todos");
	cJSON *no = cJSON_AddArrayToObject(o, "notifications"), *tl = cJSON_AddArrayToObject(o, "timeline");
	for (size_t i = 0; i < in->nentries; i++) {
		const struct inc_entry *e = &in->entries[i];
		cJSON *x = cJSON_CreateObject();
		add_time(x, "t", e->t);
		cJSON_AddStringToObject(x, "what", incident_kind_name(e->kind));
		add_str_or_null(x, "by", e->actor);
		if (e->text)
			cJSON_AddStringToObject(x, "text", e->text);
		switch (e->kind) {
		case INC_EV_SEVERITY:
		case INC_EV_STATUS:
		case INC_EV_RESOLVED:
		case INC_EV_ROLE:
		case INC_EV_NOTIFICATION:
			add_str_or_null(x, "from", e->from);
			add_str_or_null(x, "to", e->to);
			if (e->role)
				cJSON_AddStringToObject(x, e->kind == INC_EV_ROLE ? "role" : "about", e->role);
			break;
		case INC_EV_TRIGGER:
			cJSON_AddBoolToObject(x, "automatic", e->automatic);
			break;
		case INC_EV_TODO:
			cJSON_AddBoolToObject(x, "done", e->done);
			break;
		default:
			break;
		}
		cJSON_AddItemToArray(tl, x);
		cJSON *dst = e->kind == INC_EV_SEVERITY ? sc
		             : e->kind == INC_EV_STATUS || e->kind == INC_EV_RESOLVED ? st
		             : e->kind == INC_EV_ROLE                                 ? ho
		             : e->kind == INC_EV_TODO                                 ? todos
		             : e->kind == INC_EV_NOTIFICATION                         ? no
		                                                                      : NULL;
		if (dst)
			cJSON_AddItemToArray(dst, cJSON_Duplicate(x, true));
	}
	cJSON_AddItemToObject(o, "exit_criteria", l->criteria ? cJSON_Duplicate(l->criteria, true) : cJSON_CreateArray());
	/* The run around the incident: how it stands, and what its levels'
	   procedures did (a procedure a stop cut short is said so). */
	cJSON_AddStringToObject(o, "run_state", l->state);
	add_str_or_null(o, "run_verdict", l->ended ? l->verdict : NULL);
	add_str_or_null(o, "stopped_because", l->ended && l->stopped ? l->stop_text : NULL);
	cJSON *ps = cJSON_AddArrayToObject(o, "procedure_steps");
	const cJSON *p;
	cJSON_ArrayForEach(p, l->procs) if (!is_procedure_group(p)) cJSON_AddItemToArray(ps, cJSON_Duplicate(p, true));
	return o;
}

/* load_, leaving nothing to free when it fails. */
static bool load(const char *dir, struct loaded *l, struct rbc_error *err)
{
	if (load_(dir, l, err))
		return true;
	loaded_free(l);
	return false;
}

cJSON *export_incident_json(const char *dir, struct rbc_error *err)
{
	struct loaded l;
	if (!load(dir, &l, err))
		return NULL;
	cJSON *o = to_json(&l);
	loaded_free(&l);
	return o;
}


/* "2026-12-04 02:00:00 UTC", or "—". */
static void when(struct strbuf *sb, int64_t ms)
{
	if (!ms) {
		sb_adds(sb, "—");
		return;
	}
	char t[40];
	iso_ms_format(t, sizeof t, ms);
	sb_addf(sb, "%.10s %.8s UTC", t, t + 11);
}

static void span(struct strbuf *sb, int64_t from, int64_t to)
{
	if (!from || !to) {
		sb_adds(sb, "—");
		return;
	}
	char *d = incident_duration(to - from);
	sb_adds(sb, d);
	free(d);
}

/* The header both documents share: level, status, milestones, target. */
static void md_head(struct strbuf *sb, const struct loaded *l)
{
	const struct incident *in = l->in;
	const struct rb_severity *sv = &l->rb->severities[in->severity];
	char *label = incident_severity_label(l->rb, in->severity);
	sb_adds(sb, "**Incident**: ");
	text_md(sb, in->id);
	sb_adds(sb, " (run ");
	text_md(sb, l->run);
	sb_adds(sb, ")\n");
	sb_adds(sb, "**Severity**: ");
	export_md_cell(sb, label);
	sb_addf(sb, "\n**Status**: %s\n", incident_status_name(in->status));
	sb_adds(sb, "**Impact started**: ");
	when(sb, in->impact_start);
	sb_adds(sb, "\n**Declared**: ");
	when(sb, in->declared);
	sb_adds(sb, " (");
	span(sb, in->impact_start, in->declared);
	sb_adds(sb, " after the impact started)\n**Mitigated**: ");
	when(sb, in->mitigated);
	sb_adds(sb, "\n**Resolved**: ");
	when(sb, in->resolved);
	if (in->resolved) {
		sb_adds(sb, " (");
		span(sb, in->impact_start, in->resolved);
		sb_adds(sb, " of impact)");
	}
	if (sv->restore_ms) {
		char *t = incident_duration(sv->restore_ms);
		sb_addf(sb, "\n**Restore target**: %s — %s", t,
		        !in->resolved                                    ? "not resolved yet"
		        : in->resolved - in->impact_start <= sv->restore_ms ? "met"
		                                                           : "BREACHED");
		free(t);
	}
	/* The run around it: an incident whose run stopped is no closed case. */
	sb_adds(sb, "\n**Run**: ");
	if (strcmp(l->state, "finished") == 0) {
		sb_adds(sb, "finished ");
		text_md(sb, l->verdict ? l->verdict : "");
	} else if (strcmp(l->state, "stopped") == 0) {
		sb_addf(sb, "⏸ %s — stopped before its end", l->verdict ? l->verdict : "UNKNOWN");
		if (l->stop_text) {
			sb_adds(sb, ": ");
			export_md_cell(sb, l->stop_text);
		}
	} else if (strcmp(l->state, "interrupted") == 0) {
		sb_adds(sb, "⏸ interrupted — its process ended before the run did");
	} else {
		sb_adds(sb, "still running");
	}
	sb_adds(sb, "\n");
	free(label);
}

/* What the levels' procedures did, step by step (a step cut short said so). */
static void md_procedures(struct strbuf *sb, const struct loaded *l)
{
	sb_adds(sb, "\n## Procedure steps\n\n");
	size_t n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, l->procs)
	{
		if (is_procedure_group(p))
			continue;
		n++;
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "state"));
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "verdict"));
		const char *num = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "number"));
		const char *title = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "title"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "text"));
		const char *word = strcmp(st, "cancelled") == 0 ? "CANCELLED"
		                 : strcmp(st, "skipped") == 0   ? "SKIPPED"
		                 : strcmp(st, "running") == 0   ? "NOT FINISHED"
		                 : v                            ? v
		                                                : "?";
		sb_adds(sb, "- ");
		text_md_block(sb, num ? num : "");
		sb_adds(sb, " ");
		export_md_cell(sb, title ? title : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "step")));
		sb_adds(sb, " (");
		text_md(sb, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "level")));
		sb_addf(sb, "): %s", word);
		if (text) {
			sb_adds(sb, " — ");
			export_md_cell(sb, text);
		}
		sb_adds(sb, "\n");
	}
	if (!n)
		sb_adds(sb, "None run.\n");
}

static void md_timeline(struct strbuf *sb, const struct loaded *l)
{
	sb_adds(sb, "\n## Timeline\n\n| Time (UTC) | What | Who | Detail |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < l->in->nentries; i++) {
		const struct inc_entry *e = &l->in->entries[i];
		char t[40];
		iso_ms_format(t, sizeof t, e->t);
		sb_addf(sb, "| %.8s | %s | ", t + 11, incident_kind_name(e->kind));
		export_md_cell(sb, e->actor);
		sb_adds(sb, " | ");
		char *d = incident_entry_detail(l->rb, e);
		export_md_cell(sb, d);
		free(d);
		sb_adds(sb, " |\n");
	}
}

/* The incident timeline in Markdown: header, levels, roles, timeline,
   decisions, todos, notifications, exit criteria. */
static char *to_markdown(const struct loaded *l)
{
	const struct incident *in = l->in;
	const struct runbook *rb = l->rb;
	struct strbuf sb = {0};
	sb_adds(&sb, "# Incident ");
	export_md_cell(&sb, in->id);
	sb_adds(&sb, ": ");
	export_md_cell(&sb, in->title);
	sb_adds(&sb, "\n\n");
	md_head(&sb, l);

	sb_adds(&sb, "\n## Severity\n\n| Level | From | To | Time in level |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < in->nspans; i++) {
		const struct inc_level_span *s = &in->spans[i];
		char *lb = incident_severity_label(rb, s->severity);
		sb_adds(&sb, "| ");
		export_md_cell(&sb, lb);
		sb_adds(&sb, " | ");
		when(&sb, s->from);
		sb_adds(&sb, " | ");
		if (s->to)
			when(&sb, s->to);
		else
			sb_adds(&sb, "now");
		sb_adds(&sb, " | ");
		span(&sb, s->from, s->to);
		sb_adds(&sb, " |\n");
		free(lb);
	}
	const char *sep = "\n";
	for (size_t i = 0; i < in->nentries; i++)
		if (in->entries[i].kind == INC_EV_SEVERITY) {
			sb_addf(&sb, "%s- ", sep);
			sep = "";
			text_md_block(&sb, in->entries[i].from);
			sb_adds(&sb, " → ");
			text_md(&sb, in->entries[i].to);
			sb_adds(&sb, ": ");
			export_md_cell(&sb, in->entries[i].text);
			sb_adds(&sb, " (");
			export_md_cell(&sb, in->entries[i].actor);
			sb_adds(&sb, ")\n");
		}
	sb_adds(&sb, "\n## Roles\n\n| Role | Holder |\n| --- | --- |\n");
	for (size_t i = 0; i < rb->nroles; i++) {
		sb_adds(&sb, "| ");
		export_md_cell(&sb, rb->roles[i].name ? rb->roles[i].name : rb->roles[i].id);
		sb_adds(&sb, " | ");
		export_md_cell(&sb, in->holders[i] ? in->holders[i] : "unassigned");
		sb_adds(&sb, " |\n");
	}
	md_procedures(&sb, l);
	md_timeline(&sb, l);

	static const struct {
		enum inc_kind k;
		const char *title;
	} lists[] = {{INC_EV_DECISION, "Decisions"}, {INC_EV_TODO, "Todos"}, {INC_EV_NOTIFICATION, "Notifications"}};
	for (size_t j = 0; j < RBC_ARRAY_LEN(lists); j++) {
		sb_addf(&sb, "\n## %s\n\n", lists[j].title);
		size_t n = 0;
		for (size_t i = 0; i < in->nentries; i++) {
			const struct inc_entry *e = &in->entries[i];
			if (e->kind != lists[j].k)
				continue;
			n++;
			char t[40];
			iso_ms_format(t, sizeof t, e->t);
			if (e->kind == INC_EV_TODO)
				sb_addf(&sb, "- [%c] ", e->done ? 'x' : ' ');
			else
				sb_adds(&sb, "- ");
			if (e->kind == INC_EV_NOTIFICATION) {
				text_md_block(&sb, e->from);
				sb_adds(&sb, " ");
				text_md(&sb, e->role);
				sb_adds(&sb, " ");
				text_md(&sb, e->to);
				sb_adds(&sb, ": ");
				export_md_cell(&sb, e->text);
			} else {
				text_md_block(&sb, e->text); /* it starts the item */
			}
			sb_addf(&sb, " (%.8s UTC", t + 11);
			if (e->actor && e->kind != INC_EV_NOTIFICATION) {
				sb_adds(&sb, ", ");
				export_md_cell(&sb, e->actor);
			}
			sb_adds(&sb, ")\n");
		}
		if (!n)
			sb_adds(&sb, "None.\n");
	}
	sb_adds(&sb, "\n## Exit criteria\n\n");
	const cJSON *c;
	size_t n = 0;
	cJSON_ArrayForEach(c, l->criteria)
	{
		n++;
		bool met = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "met"));
		sb_addf(&sb, "- %s ", met ? "✅" : "❌");
		export_md_cell(&sb, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "criterion")));
		if (!met) {
			sb_adds(&sb, " — not met: ");
			export_md_cell(&sb, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "reason")));
		}
		sb_adds(&sb, "\n");
	}
	if (!n)
		sb_adds(&sb, in->resolved ? "None declared.\n" : "Not resolved yet.\n");
	return sb_take(&sb);
}

/* One of the Markdown documents of dir's incident (a new string), or NULL with err. */
static char *render(const char *dir, char *(*doc)(const struct loaded *), struct rbc_error *err)
{
	struct loaded l;
	if (!load(dir, &l, err))
		return NULL;
	char *s = doc(&l);
	loaded_free(&l);
	return s;
}

char *export_incident_markdown(const char *dir, struct rbc_error *err)
{
	return render(dir, to_markdown, err);
}

/* A postmortem to fill in: what the record knows is written, the rest asked. */
static char *to_postmortem(const struct loaded *l)
{
	const struct incident *in = l->in;
	struct strbuf sb = {0};
	sb_adds(&sb, "# Postmortem: ");
	export_md_cell(&sb, in->title);
	sb_adds(&sb, "\n\n");
	md_head(&sb, l);
	sb_adds(&sb, "**Authors**: _who writes this_\n**Review date**: _within 24 hours of the resolution_\n");
	sb_adds(&sb, "\n## Summary\n\n");
	const struct inc_entry *res = NULL;
	for (size_t i = 0; i < in->nentries; i++)
		if (in->entries[i].kind == INC_EV_RESOLVED)
			res = &in->entries[i];
	char *label = incident_severity_label(l->rb, in->severity);
	sb_adds(&sb, "_What happened, in two or three sentences._ ");
	export_md_cell(&sb, label);
	sb_adds(&sb, " incident, impact ");
	span(&sb, in->impact_start, in->resolved ? in->resolved : 0);
	if (res && res->text) {
		sb_adds(&sb, "; resolution: ");
		export_md_cell(&sb, res->text);
	}
	sb_adds(&sb, ".\n");
	free(label);
	sb_adds(&sb, "\n## Impact\n\n- Users affected: _how many, which_\n- Revenue or data affected: _what_\n"
	             "- Duration: ");
	span(&sb, in->impact_start, in->resolved);
	sb_adds(&sb, " (from the impact start to the resolution)\n");
	sb_adds(&sb, "\n## Triggers and detection\n\n");
	size_t n = 0;
	for (size_t i = 0; i < in->nentries; i++)
		if (in->entries[i].kind == INC_EV_TRIGGER) {
			n++;
			sb_addf(&sb, "- %s: ", in->entries[i].automatic ? "automatic" : "by hand");
			export_md_cell(&sb, in->entries[i].text);
			sb_adds(&sb, "\n");
		}
	if (!n)
		sb_adds(&sb, "- _How was it detected? (no watch or rollback fired during the incident)_\n");
	sb_adds(&sb, "\n## Root cause\n\n_The cause, and why it was possible._\n");
	sb_adds(&sb, "\n## Resolution and recovery\n\n");
	n = 0;
	for (size_t i = 0; i < in->nentries; i++)
		if (in->entries[i].kind == INC_EV_DECISION) {
			n++;
			sb_adds(&sb, "- Decision: ");
			export_md_cell(&sb, in->entries[i].text);
			sb_adds(&sb, "\n");
		}
	if (!n)
		sb_adds(&sb, "_What was done to restore service._\n");
	md_procedures(&sb, l);
	md_timeline(&sb, l);
	sb_adds(&sb, "\n## What went well\n\n- _…_\n\n## What went wrong\n\n- _…_\n\n## Where we were lucky\n\n- _…_\n");
	sb_adds(&sb, "\n## Action items\n\n| Action | Owner | Due |\n| --- | --- | --- |\n");
	for (size_t i = 0; i < in->nentries; i++)
		if (in->entries[i].kind == INC_EV_TODO && !in->entries[i].done) {
			sb_adds(&sb, "| ");
			export_md_cell(&sb, in->entries[i].text);
			sb_adds(&sb, " | _owner_ | _date_ |\n");
		}
	sb_adds(&sb, "| _prevent it from happening again_ | _owner_ | _date_ |\n");
	sb_adds(&sb, "\n## Lessons learned\n\n- _…_\n");
	return sb_take(&sb);
}

char *export_postmortem(const char *dir, struct rbc_error *err)
{
	return render(dir, to_postmortem, err);
}

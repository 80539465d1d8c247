/*
 * export_model.c — a run's record replayed once from its journal into one
 * document (export_model.h), which every format of export.h renders.
 *
 * The model holds the header's facts, one entry per step in the order
 * steps first appeared, with what its events said (start, attempts,
 * samples, captures, the end and who answered), the notes, and the
 * timeline of every event but samples. Version and Environment come from
 * the runbooks' "log" as the header recorded it (runlog.h), filled from
 * the record's variables; nothing else names them.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/budgetlog.h"
#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/rundir.h"
#include "rbc/runlog.h"
#include "rbc/strmap.h"
#include "rbc/util.h"

#include "export_model.h"

struct model {
	cJSON *root, *steps, *notes, *timeline, *resumes;
	bool stopped;            /* the last run_finished was a stop */
	struct strmap index;     /* step id → its entry */
	cJSON *header;
	cJSON *last;             /* the step found last */
	const char *verdict;
	unsigned long long masked;
};

/* Sets member tk of to to a copy of member fk of from, when from has it. */
static void copy(cJSON *to, const char *tk, const cJSON *from, const char *fk);

/* An ask's answer (a capture with who gave it, docs/journal.md): the
   question, the answer ("(secret)" when masked), who answered and when. */
static void export_answer(cJSON *s, const cJSON *e)
{
	cJSON *a = cJSON_CreateObject();
	copy(a, "var", e, "name");
	copy(a, "question", e, "text");
	const char *v = export_str(e, "value");
	cJSON_AddStringToObject(a, "answer", !v ? "(none)" : strstr(v, MASK_TEXT) ? "(secret)" : v);
	copy(a, "by", e, "by");
	copy(a, "t", e, "t");
	cJSON_AddBoolToObject(a, "automatic", cJSON_IsTrue(export_get(e, "automatic")));
	cJSON_DeleteItemFromObjectCaseSensitive(s, "answer");
	cJSON_AddItemToObject(s, "answer", a);
}

static void copy(cJSON *to, const char *tk, const cJSON *from, const char *fk)
{
	const cJSON *v = export_get(from, fk);
	if (v) {
		cJSON_DeleteItemFromObjectCaseSensitive(to, tk);
		cJSON_AddItemToObject(to, tk, cJSON_Duplicate(v, true));
	}
}

/* A runbook's or step's description and links, as the header has them. */
static void copy_prose(cJSON *to, const cJSON *from)
{
	copy(to, "description", from, "description");
	copy(to, "links", from, "links");
}

/* How many masked values the journal line s holds. */
static unsigned long long count_masked(const char *s)
{
	unsigned long long n = 0;
	for (const char *p = s; (p = strstr(p, MASK_TEXT)); p += strlen(MASK_TEXT))
		n++;
	return n;
}

/* A new entry for step id: not run, nothing recorded. */
static cJSON *step_new(const char *id)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "id", id);
	const char *slash = strchr(id, '/');
	char *rb = slash ? xstrndup(id, (size_t)(slash - id)) : xstrdup(id);
	cJSON_AddStringToObject(s, "runbook", rb);
	free(rb);
	cJSON_AddBoolToObject(s, "phase", slash == NULL);
	cJSON_AddBoolToObject(s, "group", false);
	cJSON_AddBoolToObject(s, "on_demand", false);
	cJSON_AddStringToObject(s, "state", "pending");
	cJSON_AddNullToObject(s, "verdict");
	cJSON_AddNumberToObject(s, "attempts", 0);
	cJSON_AddNumberToObject(s, "samples", 0);
	cJSON_AddArrayToObject(s, "captures");
	return s;
}

/* The step's entry, made when it first appears. */
static cJSON *step_of(struct model *m, const char *id)
{
	/* A step's events mostly come together: the last one found first. */
	if (m->last && strcmp(export_str(m->last, "id"), id) == 0)
		return m->last;
	cJSON *s = strmap_get(&m->index, id);
	if (s)
		return m->last = s;
	s = step_new(id);
	cJSON_AddItemToArray(m->steps, s);
	strmap_set(&m->index, id, s);
	return m->last = s;
}

/* Sets member k of o to the number v. */
static void set_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

/*
 * A group skipped by its `when` never reaches its steps: they are skipped
 * with it (as the run's summary counts them), not "not run".
 */
static void skip_inside_skipped(cJSON *steps)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, steps)
	{
		const char *gn = export_str(g, "number"), *gs = export_str(g, "state"), *gr = export_str(g, "runbook");
		if (!cJSON_IsTrue(export_get(g, "group")) || !gn || !gs || !gr || strcmp(gs, "skipped") != 0)
			continue;
		size_t len = strlen(gn);
		cJSON *c;
		cJSON_ArrayForEach(c, steps)
		{
			const char *cn = export_str(c, "number"), *cs = export_str(c, "state"), *cr = export_str(c, "runbook");
			if (!cn || !cs || !cr || strcmp(cs, "pending") != 0 || strcmp(cr, gr) != 0 ||
			    strncmp(cn, gn, len) != 0 || cn[len] != '.')
				continue;
			cJSON_ReplaceItemInObjectCaseSensitive(c, "state", cJSON_CreateString("skipped"));
			cJSON_DeleteItemFromObjectCaseSensitive(c, "explanation");
			const char *gt = export_str(g, "title");
			char *why = xasprintf("its group %s %s was skipped", gn, gt ? gt : "");
			cJSON_AddStringToObject(c, "explanation", why);
			free(why);
		}
	}
}

/*
 * A resume: the run goes on in a new process. What the steps cut short by
 * the crash had recorded since they started is marked interrupted in the
 * timeline (they ran again after it); the run is no longer finished.
 */
static void resumed(struct model *m, const cJSON *e)
{
	cJSON *r = cJSON_CreateObject();
	static const char *const keys[] = {"t", "pid", "host", "operator", "rbc", "events", "at",
	                                   "after", "dropped_last", "forced", "lost_captures"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(keys); i++)
		copy(r, keys[i], e, keys[i]);
	cJSON *cut = cJSON_AddArrayToObject(r, "interrupted_steps");
	cJSON *s;
	cJSON_ArrayForEach(s, m->steps)
	{
		const cJSON *open = export_get(s, "_open");
		if (!cJSON_IsNumber(open))
			continue;
		const char *id = export_str(s, "id");
		cJSON_AddItemToArray(cut, cJSON_CreateString(id));
		for (cJSON *t = m->timeline->child ? m->timeline->child->prev : NULL; t; t = t->prev) {
			const cJSON *seq = export_get(t, "seq");
			if (!cJSON_IsNumber(seq) || seq->valuedouble < open->valuedouble)
				break;
			const char *ts = export_str(t, "step");
			if (ts && strcmp(ts, id) == 0 && !export_get(t, "interrupted"))
				cJSON_AddBoolToObject(t, "interrupted", true);
			if (t == m->timeline->child)
				break;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(s, "_open");
	}
	cJSON_AddItemToArray(m->resumes, r);
	m->verdict = NULL;
	m->stopped = false;
	cJSON_DeleteItemFromObjectCaseSensitive(m->root, "finished");
	cJSON_DeleteItemFromObjectCaseSensitive(m->root, "verdict");
	cJSON_AddNullToObject(m->root, "finished");
	cJSON_AddNullToObject(m->root, "verdict");
}

/* Takes step id's entry out of the model's list (a new one when it has none). */
static cJSON *step_take(struct model *m, const char *id)
{
	cJSON *s = strmap_get(&m->index, id);
	if (!s)
		return step_new(id);
	strmap_set(&m->index, id, NULL);
	return cJSON_DetachItemViaPointer(m->steps, s);
}

/* Sets member k of o to v. */
static void set_bool(cJSON *o, const char *k, bool v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddBoolToObject(o, k, v);
}

/* What a loop or a call s made when it expanded follows it again in steps
   (the new tree does not list it), taken from the old list. */
static void retree_made(struct model *m, cJSON *steps, const cJSON *s)
{
	const cJSON *id;
	cJSON_ArrayForEach(id, export_get(s, "_made"))
	{
		if (!cJSON_IsString(id) || !strmap_get(&m->index, id->valuestring))
			continue;
		cJSON *c = step_take(m, id->valuestring);
		cJSON_AddItemToArray(steps, c);
		retree_made(m, steps, c);
	}
}

/*
 * A resume with --force goes on with runbooks changed since the start: the
 * record follows the tree the run used from then on (its run_resumed line
 * has it). Its steps keep what they recorded before; a step the runbooks no
 * longer have stays only when it recorded something (it ran), and one the
 * interruption cut short is cancelled: it can never end now. Steps never
 * reached that the runbooks no longer have are gone.
 */
static void retree(struct model *m, const cJSON *rbs)
{
	cJSON *steps = cJSON_CreateArray();
	cJSON *list = cJSON_CreateArray();
	const cJSON *rb, *st;
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *rid = export_str(rb, "id");
		if (!rid)
			continue;
		cJSON *phase = step_take(m, rid);
		copy(phase, "title", rb, "title");
		copy_prose(phase, rb);
		budgetlog_model_step(phase, rb);
		set_bool(phase, "on_demand", cJSON_IsTrue(export_get(rb, "included")));
		cJSON_AddItemToArray(steps, phase);
		cJSON_ArrayForEach(st, export_get(rb, "steps"))
		{
			const char *id = export_str(st, "id");
			if (!id)
				continue;
			cJSON *s = step_take(m, id);
			bool reached = strcmp(export_str(s, "state"), "pending") != 0;
			copy(s, "number", st, "number");
			if (!reached)
				copy(s, "title", st, "title");
			copy_prose(s, st);
			set_bool(s, "group", cJSON_IsTrue(export_get(st, "group")));
			set_bool(s, "on_demand", cJSON_IsTrue(export_get(st, "on_demand")));
			budgetlog_model_step(s, st);
			cJSON_AddItemToArray(steps, s);
			retree_made(m, steps, s);
		}
		cJSON *c = cJSON_Duplicate(rb, true);
		cJSON_DeleteItemFromObjectCaseSensitive(c, "steps");
		cJSON_AddItemToArray(list, c);
	}
	/* What the old tree had and the new one has not. */
	cJSON *s = m->steps->child;
	while (s) {
		cJSON *next = s->next;
		const char *state = export_str(s, "state");
		cJSON_DetachItemViaPointer(m->steps, s);
		if (!state || strcmp(state, "pending") == 0) {
			cJSON_Delete(s);
		} else {
			if (strcmp(state, "running") == 0 || strcmp(state, "waiting") == 0 ||
			    strcmp(state, "watching") == 0) {
				cJSON_ReplaceItemInObjectCaseSensitive(s, "state", cJSON_CreateString("cancelled"));
				cJSON_DeleteItemFromObjectCaseSensitive(s, "explanation");
				cJSON_AddStringToObject(s, "explanation",
				                        "cut short by an interruption; the runbook resumed with --force no longer has it");
			}
			cJSON_AddItemToArray(steps, s);
			/* Its runbook stays listed while a step of it is in the record. */
			const char *rid = export_str(s, "runbook");
			bool listed = false;
			cJSON_ArrayForEach(rb, list) listed = listed || strcmp(export_str(rb, "id"), rid) == 0;
			cJSON_ArrayForEach(rb, export_get(m->header, "runbooks")) if (!listed && strcmp(export_str(rb, "id"), rid) == 0)
			{
				cJSON_AddItemToArray(list, cJSON_Duplicate(rb, true));
				listed = true;
			}
		}
		s = next;
	}
	cJSON_Delete(m->steps);
	m->steps = steps;
	strmap_free(&m->index);
	cJSON_ArrayForEach(s, steps) strmap_set(&m->index, export_str(s, "id"), s);
	m->last = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(m->header, "runbooks");
	cJSON_AddItemToObject(m->header, "runbooks", list);
}

/* A loop expanded (docs/journal.md, "expanded"): its iterations and their
   steps, not run yet, right after the loop's entry (a group in the record
   like any other). */
static void expanded(struct model *m, cJSON *loop, const cJSON *steps)
{
	cJSON *at = loop;
	const cJSON *st;
	cJSON *made = cJSON_GetObjectItemCaseSensitive(loop, "_made");
	if (!made)
		made = cJSON_AddArrayToObject(loop, "_made"); /* for a retree; not exported */
	cJSON_ArrayForEach(st, steps)
	{
		const char *id = export_str(st, "id");
		if (!id || strmap_get(&m->index, id))
			continue;
		cJSON_AddItemToArray(made, cJSON_CreateString(id));
		cJSON *s = step_new(id);
		copy(s, "number", st, "number");
		copy(s, "title", st, "title");
		set_bool(s, "group", cJSON_IsTrue(export_get(st, "group")));
		/* after `at`, in the order listed (cJSON's last item is its
		   first's prev) */
		s->prev = at;
		s->next = at->next;
		if (at->next)
			at->next->prev = s;
		else
			m->steps->child->prev = s;
		at->next = s;
		at = s;
		strmap_set(&m->index, id, s);
	}
}

/* One journal line into the model (a journal_replay callback). */
static bool model_line(void *ud, const cJSON *e, const char *raw, unsigned long line)
{
	(void)line;
	struct model *m = ud;
	m->masked += count_masked(raw);
	const char *ev = export_str(e, "ev");
	if (!ev)
		return true;
	if (strcmp(ev, "run_header") == 0) {
		m->header = cJSON_Duplicate(e, true);
		/* Every step the run could go through, in order, before any ran:
		   a step never reached is in the record as not run. */
		const cJSON *rb, *st;
		cJSON_ArrayForEach(rb, export_get(e, "runbooks"))
		{
			cJSON *phase = step_of(m, export_str(rb, "id"));
			/* Its title, even when the phase never starts (a rollback not needed). */
			copy(phase, "title", rb, "title");
			copy_prose(phase, rb);
			budgetlog_model_step(phase, rb);
			if (cJSON_IsTrue(export_get(rb, "included")))
				cJSON_ReplaceItemInObjectCaseSensitive(phase, "on_demand", cJSON_CreateTrue());
			cJSON_ArrayForEach(st, export_get(rb, "steps"))
			{
				const char *id = export_str(st, "id");
				if (!id)
					continue;
				cJSON *s = step_of(m, id);
				copy(s, "number", st, "number");
				copy(s, "title", st, "title");
				copy_prose(s, st);
				budgetlog_model_step(s, st);
				if (cJSON_IsTrue(export_get(st, "group")))
					cJSON_ReplaceItemInObjectCaseSensitive(s, "group", cJSON_CreateTrue());
				if (cJSON_IsTrue(export_get(st, "on_demand")))
					cJSON_ReplaceItemInObjectCaseSensitive(s, "on_demand", cJSON_CreateTrue());
			}
		}
		cJSON_DeleteItemFromObjectCaseSensitive(m->header, "runbooks");
		cJSON *rbs = cJSON_AddArrayToObject(m->header, "runbooks");
		cJSON_ArrayForEach(rb, export_get(e, "runbooks"))
		{
			cJSON *c = cJSON_Duplicate(rb, true);
			cJSON_DeleteItemFromObjectCaseSensitive(c, "steps");
			cJSON_AddItemToArray(rbs, c);
		}
		return true;
	}
	const char *id = export_str(e, "step");
	cJSON *s = id ? step_of(m, id) : NULL;
	if (s && strcmp(ev, "sample") != 0 && strcmp(ev, "capture") != 0) {
		copy(s, "number", e, "number");
		if (cJSON_IsTrue(export_get(e, "group"))) {
			cJSON_DeleteItemFromObjectCaseSensitive(s, "group");
			cJSON_AddBoolToObject(s, "group", true);
		}
	}
	if ((strcmp(ev, "step_started") == 0 || strcmp(ev, "run_started") == 0) && m->verdict) {
		/* A step run (by hand) after the run's end: it goes on, and is not
		   finished until it says so again. */
		m->verdict = NULL;
		m->stopped = false;
		cJSON_ReplaceItemInObjectCaseSensitive(m->root, "finished", cJSON_CreateNull());
		cJSON_ReplaceItemInObjectCaseSensitive(m->root, "verdict", cJSON_CreateNull());
	}
	if (strcmp(ev, "step_started") == 0 && s) {
		if (!cJSON_IsTrue(export_get(e, "group")) && !cJSON_IsTrue(export_get(s, "phase"))) {
			/* A step run again (by hand, after a resume): its entry is
			   about this run of it, not the one before. */
			static const char *const fresh[] = {"retries", "last_sample", "explanation", "finished",
			                                    "duration_ms", "by", "automatic", "note", "answer"};
			for (size_t i = 0; i < RBC_ARRAY_LEN(fresh); i++)
				cJSON_DeleteItemFromObjectCaseSensitive(s, fresh[i]);
			cJSON_ReplaceItemInObjectCaseSensitive(s, "verdict", cJSON_CreateNull());
			set_num(s, "samples", 0);
			cJSON_DeleteItemFromObjectCaseSensitive(s, "captures");
			cJSON_AddArrayToObject(s, "captures");
			if (!export_get(s, "_open"))
				copy(s, "_open", e, "seq"); /* the attempt began at its first start */
		}
		copy(s, "title", e, "title");
		if (!export_get(s, "started"))
			copy(s, "started", e, "t");
		cJSON_DeleteItemFromObjectCaseSensitive(s, "state");
		cJSON_AddStringToObject(s, "state", "running");
		const cJSON *a = export_get(e, "attempt");
		set_num(s, "attempts", cJSON_IsNumber(a) ? a->valuedouble : 1);
	} else if (strcmp(ev, "retry") == 0 && s) {
		cJSON *r = export_get(s, "retries");
		if (!r)
			r = cJSON_AddArrayToObject(s, "retries");
		cJSON *o = cJSON_CreateObject();
		copy(o, "t", e, "t");
		copy(o, "verdict", e, "verdict");
		copy(o, "text", e, "text");
		cJSON_AddItemToArray(r, o);
	} else if (strcmp(ev, "sample") == 0 && s) {
		set_num(s, "samples", export_get(s, "samples")->valuedouble + 1);
		copy(s, "last_sample", e, "sample");
	} else if (strcmp(ev, "capture") == 0 && s) {
		cJSON *o = cJSON_CreateObject();
		copy(o, "name", e, "name");
		copy(o, "value", e, "value");
		cJSON_AddItemToArray(export_get(s, "captures"), o);
		if (export_str(e, "by"))
			export_answer(s, e);
	} else if (strcmp(ev, "step_finished") == 0 && s) {
		if (export_get(e, "title"))
			copy(s, "title", e, "title"); /* a step never started: its title then */
		const cJSON *t;
		cJSON_ArrayForEach(t, export_get(e, "titles"))
		{
			/* A skipped group's steps, titled as the run had them. */
			cJSON *c = t->string && cJSON_IsString(t) ? strmap_get(&m->index, t->string) : NULL;
			if (c) {
				cJSON_DeleteItemFromObjectCaseSensitive(c, "title");
				cJSON_AddStringToObject(c, "title", t->valuestring);
			}
		}
		cJSON_DeleteItemFromObjectCaseSensitive(s, "_open");
		copy(s, "state", e, "state");
		copy(s, "verdict", e, "verdict");
		copy(s, "explanation", e, "text");
		copy(s, "started", e, "started");
		copy(s, "finished", e, "t");
		copy(s, "duration_ms", e, "duration_ms");
		copy(s, "attempts", e, "attempt");
		copy(s, "by", e, "by");
		copy(s, "automatic", e, "automatic");
		copy(s, "note", e, "note");
		char *out = rundir_output_name(export_str(e, "output"));
		if (out) /* a file of the run's own, else none */
			copy(s, "output", e, "output");
		free(out);
	} else if (strcmp(ev, "expanded") == 0 && s) {
		expanded(m, s, export_get(e, "steps"));
	} else if (strcmp(ev, "note") == 0) {
		cJSON *o = cJSON_CreateObject();
		copy(o, "t", e, "t");
		copy(o, "step", e, "step");
		copy(o, "by", e, "by");
		copy(o, "text", e, "text");
		cJSON_AddItemToArray(m->notes, o);
	} else if (strcmp(ev, "run_finished") == 0) {
		m->verdict = export_str(e, "verdict");
		m->stopped = cJSON_IsTrue(export_get(e, "stopped"));
		copy(m->root, "finished", e, "t");
		copy(m->root, "verdict", e, "verdict");
	} else if (strcmp(ev, "run_resumed") == 0) {
		resumed(m, e);
		if (cJSON_IsArray(export_get(e, "runbooks")) && m->header)
			retree(m, export_get(e, "runbooks"));
	}
	if (s)
		budgetlog_model_event(s, e, ev);
	if (strcmp(ev, "sample") != 0) {
		cJSON *o = cJSON_CreateObject();
		static const char *const keys[] = {"seq", "t", "ev", "step", "verdict", "state", "text", "by",
		                                   "name", "value", "target", "for", "at", "what",
		                                   /* a joiner's command (docs/team.md) */
		                                   "command", "host", "action", "on", "result", "why"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(keys); i++)
			copy(o, keys[i], e, keys[i]);
		cJSON_AddItemToArray(m->timeline, o);
	}
	return true;
}

/* What log_var reads: the model's document and its timeline. */
struct log_vars {
	const cJSON *root, *timeline;
};

/* The value of the variable name at the end of the run, as runbook i of
   the header saw it (runlog_var_fn): its last capture, else what the
   runbook started with, else a given one. */
static char *log_var(void *ud, size_t i, const char *name)
{
	const struct log_vars *lv = ud;
	const char *found = NULL;
	const cJSON *t;
	cJSON_ArrayForEach(t, lv->timeline)
	{
		const char *ev = export_str(t, "ev"), *n = export_str(t, "name"), *v = export_str(t, "value");
		if (ev && n && v && strcmp(ev, "capture") == 0 && strcmp(n, name) == 0)
			found = v;
	}
	const cJSON *rb = cJSON_GetArrayItem(export_get(lv->root, "runbooks"), (int)i);
	if (!found && rb)
		found = export_str(export_get(rb, "vars"), name);
	if (!found)
		found = export_str(export_get(lv->root, "vars"), name);
	return found ? xstrdup(found) : NULL;
}

/* A field of the deployment log (version, environment) as the runbooks'
   "log" declares it, from the record (runlog_field); null when none
   declares it or its variables have no value. */
static cJSON *log_field(const cJSON *root, const cJSON *timeline, const char *field)
{
	const cJSON *rbs = export_get(root, "runbooks"), *rb;
	size_t n = (size_t)cJSON_GetArraySize(rbs), i = 0;
	const char **tmpls = xcalloc(n ? n : 1, sizeof *tmpls);
	cJSON_ArrayForEach(rb, rbs) tmpls[i++] = export_str(export_get(rb, "log"), field);
	struct log_vars lv = {root, timeline};
	char *v = runlog_field(tmpls, n, log_var, &lv);
	free(tmpls);
	cJSON *out = v ? cJSON_CreateString(v) : cJSON_CreateNull();
	free(v);
	return out;
}

/* "log": the deployment log's Version and Environment, as the run left them. */
static void add_log(cJSON *root, const cJSON *timeline)
{
	cJSON *log = cJSON_AddObjectToObject(root, "log");
	cJSON_AddItemToObject(log, "version", log_field(root, timeline, "version"));
	cJSON_AddItemToObject(log, "environment", log_field(root, timeline, "environment"));
}

/* Replays the journal of dir into the model, then adds what it sums up (export_model.h). */
cJSON *export_model_new(const char *dir, struct rbc_error *err)
{
	struct model m = {0};
	m.root = cJSON_CreateObject();
	cJSON_AddNumberToObject(m.root, "schema_version", EXPORT_SCHEMA_VERSION);
	cJSON_AddNullToObject(m.root, "finished");
	cJSON_AddNullToObject(m.root, "verdict");
	m.steps = cJSON_CreateArray();
	m.notes = cJSON_CreateArray();
	m.timeline = cJSON_CreateArray();
	m.resumes = cJSON_CreateArray();
	bool dropped = false;
	bool ok = journal_replay(dir, model_line, &m, &dropped, err);
	strmap_free(&m.index);
	if (ok && !m.header) {
		rbc_error_set(err, "%s/%s: no run header", dir, JOURNAL_FILE);
		ok = false;
	}
	if (!ok) {
		cJSON_Delete(m.root);
		cJSON_Delete(m.steps);
		cJSON_Delete(m.notes);
		cJSON_Delete(m.timeline);
		cJSON_Delete(m.resumes);
		cJSON_Delete(m.header);
		return NULL;
	}
	static const char *const hk[] = {"run", "rbc", "started", "host", "operator", "runbooks", "vars"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(hk); i++)
		copy(m.root, hk[i], m.header, hk[i]);
	const cJSON *schema = export_get(m.header, "schema");
	cJSON_AddNumberToObject(m.root, "journal_schema", schema ? schema->valuedouble : 0);
	int locked = journal_locked(dir);
	/* A run with its verdict has ended, even while its console stays open
	   (and holds the lock) to show it. */
	cJSON_AddStringToObject(m.root, "state", m.verdict ? (m.stopped ? "stopped" : "finished")
	                                         : locked == 1 ? "running"
	                                                       : "interrupted");
	cJSON_AddBoolToObject(m.root, "torn_last_line", dropped);
	cJSON_AddNumberToObject(m.root, "masked_values", (double)m.masked);
	/* Counts of the steps (phases aside), by verdict and state. */
	cJSON *counts = cJSON_AddObjectToObject(m.root, "counts");
	static const char *const words[] = {"PASS", "WARN", "FAIL", "UNKNOWN", "ERROR"};
	double by[5] = {0}, total = 0, skipped = 0, cancelled = 0, unfinished = 0, notrun = 0;
	cJSON *s;
	skip_inside_skipped(m.steps);
	cJSON_ArrayForEach(s, m.steps)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(s, "_open");
		cJSON_DeleteItemFromObjectCaseSensitive(s, "_made");
		const char *st = export_str(s, "state"), *v = export_str(s, "verdict");
		bool pending = st && strcmp(st, "pending") == 0;
		if (cJSON_IsTrue(export_get(s, "phase")) || cJSON_IsTrue(export_get(s, "group")) ||
		    (pending && cJSON_IsTrue(export_get(s, "on_demand"))))
			continue; /* a procedure the run never needed is no step of it */
		total++;
		if (pending)
			notrun++;
		else if (st && strcmp(st, "skipped") == 0)
			skipped++;
		else if (st && strcmp(st, "cancelled") == 0)
			cancelled++;
		else if (!st || strcmp(st, "done") != 0)
			unfinished++;
		for (int i = 0; v && st && strcmp(st, "done") == 0 && i < 5; i++)
			if (strcmp(v, words[i]) == 0)
				by[i]++;
	}
	cJSON_AddNumberToObject(counts, "steps", total);
	for (int i = 0; i < 5; i++)
		cJSON_AddNumberToObject(counts, words[i], by[i]);
	cJSON_AddNumberToObject(counts, "SKIPPED", skipped);
	cJSON_AddNumberToObject(counts, "CANCELLED", cancelled);
	cJSON_AddNumberToObject(counts, "unfinished", unfinished);
	cJSON_AddNumberToObject(counts, "not_run", notrun);
	add_log(m.root, m.timeline);
	cJSON_AddItemToObject(m.root, "steps", m.steps);
	cJSON_AddItemToObject(m.root, "notes", m.notes);
	cJSON_AddItemToObject(m.root, "timeline", m.timeline);
	cJSON_AddItemToObject(m.root, "resumes", m.resumes);
	cJSON_Delete(m.header);
	return m.root;
}

/* SKIPPED or CANCELLED for a step that ended unjudged, else its verdict. */
const char *export_state_word(const char *state, const char *verdict)
{
	if (state && strcmp(state, "skipped") == 0)
		return "SKIPPED";
	if (state && strcmp(state, "cancelled") == 0)
		return "CANCELLED";
	return verdict;
}

/* Neither a phase nor a group, nor a step of a procedure never needed. */
bool export_step_leaf(const cJSON *s)
{
	const char *st = export_str(s, "state");
	return !cJSON_IsTrue(export_get(s, "phase")) && !cJSON_IsTrue(export_get(s, "group")) &&
	       !(cJSON_IsTrue(export_get(s, "on_demand")) && st && strcmp(st, "pending") == 0);
}

/* A step never reached. */
bool export_step_not_run(const cJSON *s)
{
	const char *st = export_str(s, "state");
	return st && strcmp(st, "pending") == 0;
}

/* Why a run that did not get to its end ended, in words (NULL: it did). */
char *export_unfinished_why(const cJSON *doc)
{
	const char *state = export_str(doc, "state");
	if (!state || strcmp(state, "finished") == 0)
		return NULL;
	if (strcmp(state, "running") == 0)
		return xstrdup("the run is still going");
	if (strcmp(state, "interrupted") == 0)
		return xstrdup("the run was interrupted: its process ended before the run did");
	const char *why = NULL;
	const cJSON *t;
	cJSON_ArrayForEach(t, export_get(doc, "timeline"))
	{
		if (strcmp(export_str(t, "ev") ? export_str(t, "ev") : "", "run_finished") == 0)
			why = export_str(t, "text");
	}
	return why ? xasprintf("the run stopped before its end: %s", why)
	           : xstrdup("the run stopped before its end");
}

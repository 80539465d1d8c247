/*
 * export.c — a run's record as documents, from its journal (export.h).
 *
 * The journal is replayed once into a JSON model: the header's facts, one
 * entry per step in the order steps first appeared, with what its events
 * said (start, attempts, samples, captures, the end and who answered), the
 * notes, and the timeline of every event but samples.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/rundir.h"
#include "rbc/strmap.h"
#include "rbc/text.h"
#include "rbc/units.h"
#include "rbc/util.h"

struct model {
	cJSON *root, *steps, *notes, *timeline, *resumes;
	bool stopped;            /* the last run_finished was a stop */
	struct strmap index;     /* step id → its entry */
	cJSON *header;
	cJSON *last;             /* the step found last */
	const char *verdict;
	unsigned long long masked;
};

static cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(get(o, k));
}

static void copy(cJSON *to, const char *tk, const cJSON *from, const char *fk)
{
	const cJSON *v = get(from, fk);
	if (v) {
		cJSON_DeleteItemFromObjectCaseSensitive(to, tk);
		cJSON_AddItemToObject(to, tk, cJSON_Duplicate(v, true));
	}
}

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
	if (m->last && strcmp(str(m->last, "id"), id) == 0)
		return m->last;
	cJSON *s = strmap_get(&m->index, id);
	if (s)
		return m->last = s;
	s = step_new(id);
	cJSON_AddItemToArray(m->steps, s);
	strmap_set(&m->index, id, s);
	return m->last = s;
}

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
		const char *gn = str(g, "number"), *gs = str(g, "state"), *gr = str(g, "runbook");
		if (!cJSON_IsTrue(get(g, "group")) || !gn || !gs || !gr || strcmp(gs, "skipped") != 0)
			continue;
		size_t len = strlen(gn);
		cJSON *c;
		cJSON_ArrayForEach(c, steps)
		{
			const char *cn = str(c, "number"), *cs = str(c, "state"), *cr = str(c, "runbook");
			if (!cn || !cs || !cr || strcmp(cs, "pending") != 0 || strcmp(cr, gr) != 0 ||
			    strncmp(cn, gn, len) != 0 || cn[len] != '.')
				continue;
			cJSON_ReplaceItemInObjectCaseSensitive(c, "state", cJSON_CreateString("skipped"));
			cJSON_DeleteItemFromObjectCaseSensitive(c, "explanation");
			char *why = xasprintf("its group %s %s was skipped", gn, str(g, "title") ? str(g, "title") : "");
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
		const cJSON *open = get(s, "_open");
		if (!cJSON_IsNumber(open))
			continue;
		const char *id = str(s, "id");
		cJSON_AddItemToArray(cut, cJSON_CreateString(id));
		for (cJSON *t = m->timeline->child ? m->timeline->child->prev : NULL; t; t = t->prev) {
			const cJSON *seq = get(t, "seq");
			if (!cJSON_IsNumber(seq) || seq->valuedouble < open->valuedouble)
				break;
			const char *ts = str(t, "step");
			if (ts && strcmp(ts, id) == 0 && !get(t, "interrupted"))
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

static void set_bool(cJSON *o, const char *k, bool v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddBoolToObject(o, k, v);
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
		const char *rid = str(rb, "id");
		if (!rid)
			continue;
		cJSON *phase = step_take(m, rid);
		copy(phase, "title", rb, "title");
		set_bool(phase, "on_demand", cJSON_IsTrue(get(rb, "included")));
		cJSON_AddItemToArray(steps, phase);
		cJSON_ArrayForEach(st, get(rb, "steps"))
		{
			const char *id = str(st, "id");
			if (!id)
				continue;
			cJSON *s = step_take(m, id);
			bool reached = strcmp(str(s, "state"), "pending") != 0;
			copy(s, "number", st, "number");
			if (!reached)
				copy(s, "title", st, "title");
			set_bool(s, "group", cJSON_IsTrue(get(st, "group")));
			set_bool(s, "on_demand", cJSON_IsTrue(get(st, "on_demand")));
			cJSON_AddItemToArray(steps, s);
		}
		cJSON *c = cJSON_Duplicate(rb, true);
		cJSON_DeleteItemFromObjectCaseSensitive(c, "steps");
		cJSON_AddItemToArray(list, c);
	}
	/* What the old tree had and the new one has not. */
	cJSON *s = m->steps->child;
	while (s) {
		cJSON *next = s->next;
		const char *state = str(s, "state");
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
			const char *rid = str(s, "runbook");
			bool listed = false;
			cJSON_ArrayForEach(rb, list) listed = listed || strcmp(str(rb, "id"), rid) == 0;
			cJSON_ArrayForEach(rb, get(m->header, "runbooks")) if (!listed && strcmp(str(rb, "id"), rid) == 0)
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
	cJSON_ArrayForEach(s, steps) strmap_set(&m->index, str(s, "id"), s);
	m->last = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(m->header, "runbooks");
	cJSON_AddItemToObject(m->header, "runbooks", list);
}

static bool model_line(void *ud, const cJSON *e, const char *raw, unsigned long line)
{
	(void)line;
	struct model *m = ud;
	m->masked += count_masked(raw);
	const char *ev = str(e, "ev");
	if (!ev)
		return true;
	if (strcmp(ev, "run_header") == 0) {
		m->header = cJSON_Duplicate(e, true);
		/* Every step the run could go through, in order, before any ran:
		   a step never reached is in the record as not run. */
		const cJSON *rb, *st;
		cJSON_ArrayForEach(rb, get(e, "runbooks"))
		{
			cJSON *phase = step_of(m, str(rb, "id"));
			/* Its title, even when the phase never starts (a rollback not needed). */
			copy(phase, "title", rb, "title");
			if (cJSON_IsTrue(get(rb, "included")))
				cJSON_ReplaceItemInObjectCaseSensitive(phase, "on_demand", cJSON_CreateTrue());
			cJSON_ArrayForEach(st, get(rb, "steps"))
			{
				const char *id = str(st, "id");
				if (!id)
					continue;
				cJSON *s = step_of(m, id);
				copy(s, "number", st, "number");
				copy(s, "title", st, "title");
				if (cJSON_IsTrue(get(st, "group")))
					cJSON_ReplaceItemInObjectCaseSensitive(s, "group", cJSON_CreateTrue());
				if (cJSON_IsTrue(get(st, "on_demand")))
					cJSON_ReplaceItemInObjectCaseSensitive(s, "on_demand", cJSON_CreateTrue());
			}
		}
		cJSON_DeleteItemFromObjectCaseSensitive(m->header, "runbooks");
		cJSON *rbs = cJSON_AddArrayToObject(m->header, "runbooks");
		cJSON_ArrayForEach(rb, get(e, "runbooks"))
		{
			cJSON *c = cJSON_Duplicate(rb, true);
			cJSON_DeleteItemFromObjectCaseSensitive(c, "steps");
			cJSON_AddItemToArray(rbs, c);
		}
		return true;
	}
	const char *id = str(e, "step");
	cJSON *s = id ? step_of(m, id) : NULL;
	if (s && strcmp(ev, "sample") != 0 && strcmp(ev, "capture") != 0) {
		copy(s, "number", e, "number");
		if (cJSON_IsTrue(get(e, "group"))) {
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
		if (!cJSON_IsTrue(get(e, "group")) && !cJSON_IsTrue(get(s, "phase"))) {
			/* A step run again (by hand, after a resume): its entry is
			   about this run of it, not the one before. */
			static const char *const fresh[] = {"retries", "last_sample", "explanation", "finished",
			                                    "duration_ms", "by", "automatic", "note"};
			for (size_t i = 0; i < RBC_ARRAY_LEN(fresh); i++)
				cJSON_DeleteItemFromObjectCaseSensitive(s, fresh[i]);
			cJSON_ReplaceItemInObjectCaseSensitive(s, "verdict", cJSON_CreateNull());
			set_num(s, "samples", 0);
			cJSON_DeleteItemFromObjectCaseSensitive(s, "captures");
			cJSON_AddArrayToObject(s, "captures");
			if (!get(s, "_open"))
				copy(s, "_open", e, "seq"); /* the attempt began at its first start */
		}
		copy(s, "title", e, "title");
		if (!get(s, "started"))
			copy(s, "started", e, "t");
		cJSON_DeleteItemFromObjectCaseSensitive(s, "state");
		cJSON_AddStringToObject(s, "state", "running");
		const cJSON *a = get(e, "attempt");
		set_num(s, "attempts", cJSON_IsNumber(a) ? a->valuedouble : 1);
	} else if (strcmp(ev, "retry") == 0 && s) {
		cJSON *r = get(s, "retries");
		if (!r)
			r = cJSON_AddArrayToObject(s, "retries");
		cJSON *o = cJSON_CreateObject();
		copy(o, "t", e, "t");
		copy(o, "verdict", e, "verdict");
		copy(o, "text", e, "text");
		cJSON_AddItemToArray(r, o);
	} else if (strcmp(ev, "sample") == 0 && s) {
		set_num(s, "samples", get(s, "samples")->valuedouble + 1);
		copy(s, "last_sample", e, "sample");
	} else if (strcmp(ev, "capture") == 0 && s) {
		cJSON *o = cJSON_CreateObject();
		copy(o, "name", e, "name");
		copy(o, "value", e, "value");
		cJSON_AddItemToArray(get(s, "captures"), o);
	} else if (strcmp(ev, "step_finished") == 0 && s) {
		if (get(e, "title"))
			copy(s, "title", e, "title"); /* a step never started: its title then */
		const cJSON *t;
		cJSON_ArrayForEach(t, get(e, "titles"))
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
		char *out = rundir_output_name(str(e, "output"));
		if (out) /* a file of the run's own, else none */
			copy(s, "output", e, "output");
		free(out);
	} else if (strcmp(ev, "note") == 0) {
		cJSON *o = cJSON_CreateObject();
		copy(o, "t", e, "t");
		copy(o, "step", e, "step");
		copy(o, "by", e, "by");
		copy(o, "text", e, "text");
		cJSON_AddItemToArray(m->notes, o);
	} else if (strcmp(ev, "run_finished") == 0) {
		m->verdict = str(e, "verdict");
		m->stopped = cJSON_IsTrue(get(e, "stopped"));
		copy(m->root, "finished", e, "t");
		copy(m->root, "verdict", e, "verdict");
	} else if (strcmp(ev, "run_resumed") == 0) {
		resumed(m, e);
		if (cJSON_IsArray(get(e, "runbooks")) && m->header)
			retree(m, get(e, "runbooks"));
	}
	if (strcmp(ev, "sample") != 0) {
		cJSON *o = cJSON_CreateObject();
		static const char *const keys[] = {"seq", "t", "ev", "step", "verdict", "state", "text", "by",
		                                   "name", "value", "target", "for", "at", "what"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(keys); i++)
			copy(o, keys[i], e, keys[i]);
		cJSON_AddItemToArray(m->timeline, o);
	}
	return true;
}

/* The value of the variable name at the end of the run: its last capture,
   else what the runbook rb (a header entry) started with, else a given one. */
static const char *log_var(const cJSON *root, const cJSON *timeline, const cJSON *rb,
                           const char *name)
{
	const char *found = NULL;
	const cJSON *t;
	cJSON_ArrayForEach(t, timeline)
	{
		const char *ev = str(t, "ev"), *n = str(t, "name"), *v = str(t, "value");
		if (ev && n && v && strcmp(ev, "capture") == 0 && strcmp(n, name) == 0)
			found = v;
	}
	if (!found && rb)
		found = str(get(rb, "vars"), name);
	return found ? found : str(get(root, "vars"), name);
}

/* tmpl with every ${NAME} filled in (caller frees), NULL when one has no
   value; a value that is built from others in turn (a runbook's
   "VERSION": "${BUILD}" and a capture of BUILD) is filled in too. */
static char *log_expand_depth(const cJSON *root, const cJSON *timeline, const cJSON *rb,
                              const char *tmpl, int depth)
{
	struct strbuf sb = {0};
	const char *p = tmpl, *d;
	while ((d = strstr(p, "${"))) {
		const char *end = strchr(d + 2, '}');
		if (!end)
			break;
		sb_add(&sb, p, (size_t)(d - p));
		char *name = xstrndup(d + 2, (size_t)(end - d - 2));
		const char *v = log_var(root, timeline, rb, name);
		free(name);
		char *inner = v && strstr(v, "${") && depth < 8 ? log_expand_depth(root, timeline, rb, v, depth + 1)
		                                               : NULL;
		if (!v || (strstr(v, "${") && !inner)) {
			free(inner);
			sb_free(&sb);
			return NULL;
		}
		sb_adds(&sb, inner ? inner : v);
		free(inner);
		p = end + 1;
	}
	sb_adds(&sb, p);
	return sb_take(&sb);
}

static char *log_expand(const cJSON *root, const cJSON *timeline, const cJSON *rb, const char *tmpl)
{
	return log_expand_depth(root, timeline, rb, tmpl, 0);
}

/*
 * A field of the deployment log (version, environment). Of the runbooks
 * that say how to fill it ("log"), the last of the run (included ones, such
 * as a rollback, come last) whose variables all have a value, and not an
 * empty one, gives it. When no runbook says, the usual names are guessed,
 * in order.
 */
static cJSON *log_field(const cJSON *root, const cJSON *timeline, const char *field,
                        const char *const *guess)
{
	const cJSON *rbs = get(root, "runbooks"), *rb;
	bool declared = false;
	char *last = NULL;
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *tmpl = str(get(rb, "log"), field);
		if (!tmpl)
			continue;
		declared = true;
		char *v = log_expand(root, timeline, rb, tmpl);
		if (v && *v) {
			free(last);
			last = v;
		} else {
			free(v);
		}
	}
	if (last) {
		cJSON *out = cJSON_CreateString(last);
		free(last);
		return out;
	}
	for (const char *const *n = guess; !declared && *n; n++) {
		const char *v = NULL;
		const cJSON *in = NULL;
		cJSON_ArrayForEach(rb, rbs)
		{
			v = log_var(root, timeline, rb, *n);
			if (v && *v) {
				in = rb;
				break;
			}
		}
		if (!v || !*v)
			v = log_var(root, timeline, NULL, *n);
		if (v && *v) {
			char *x = strstr(v, "${") ? log_expand(root, timeline, in, v) : xstrdup(v);
			if (x && *x) {
				cJSON *out = cJSON_CreateString(x);
				free(x);
				return out;
			}
			free(x);
		}
	}
	return cJSON_CreateNull();
}

/* "log": the deployment log's Version and Environment, as the run left them. */
static void add_log(cJSON *root, const cJSON *timeline)
{
	/* Where the release runs now: after a rollback, where it went back to;
	   else the live colour last recorded, the colour deployed to, the one
	   live before. */
	static const char *const env_names[] = {"ENVIRONMENT",        "ENV",        "ENV_AFTER_ROLLBACK",
	                                        "LIVE_ENV",           "TARGET_ENV", "CURRENT_ENV", NULL};
	static const char *const ver_names[] = {"VERSION", "version", "APP_VERSION", "RELEASE", "BUILD", "GIT_SHA",
	                                        NULL};
	cJSON *log = cJSON_AddObjectToObject(root, "log");
	cJSON_AddItemToObject(log, "version", log_field(root, timeline, "version", ver_names));
	cJSON_AddItemToObject(log, "environment", log_field(root, timeline, "environment", env_names));
}

cJSON *export_json(const char *dir, struct rbc_error *err)
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
	cJSON_AddNumberToObject(m.root, "journal_schema", get(m.header, "schema") ? get(m.header, "schema")->valuedouble : 0);
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
		const char *st = str(s, "state"), *v = str(s, "verdict");
		bool pending = st && strcmp(st, "pending") == 0;
		if (cJSON_IsTrue(get(s, "phase")) || cJSON_IsTrue(get(s, "group")) ||
		    (pending && cJSON_IsTrue(get(s, "on_demand"))))
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

bool export_write_file(const char *path, const char *text, struct rbc_error *err)
{
	/* A name no one can guess ahead (O_EXCL, mode 0600, random suffix,
	   tried again while taken): a link planted there is never written
	   through, nor does it stop the export. */
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rbc_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	if (ok && fsync(fd) != 0) {
		ok = false;
		e = errno;
	}
	if (close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
		unlink(tmp);
		free(tmp);
		return false;
	}
	free(tmp);
	/* The rename itself is on disk once the directory is. */
	char *d = xstrdup(path);
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(d);
	return true;
}

/* Writes text into the file open on fd, which is not a regular file (a
   device, a pipe, a terminal): there is nothing to rename over it. */
static bool write_in_place(int fd, const char *path, const char *text, struct rbc_error *err)
{
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	/* A pipe or a terminal cannot be synced: that is no failure. */
	if (ok && fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
		ok = false;
		e = errno;
	}
	if (close(fd) != 0 && ok && errno != EINTR) {
		ok = false;
		e = errno;
	}
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
	return ok;
}

/* The descriptor path names when the name stands for a descriptor of this
   process (/dev/stdin, /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N,
   /proc/PID/fd/N with our PID, /proc/thread-self/fd/N), else -1. The
   directory part is resolved (/dev/fd is itself a link), the last name
   is not: opening it would reopen the file behind the descriptor. */
static int fd_of_name(const char *path)
{
	char *d = xstrdup(path), *b = xstrdup(path);
	char *dir = realpath(dirname(d), NULL);
	const char *base = basename(b);
	int fd = -1;
	char *end;
	if (dir && strcmp(dir, "/dev") == 0) {
		static const char *const std[] = {"stdin", "stdout", "stderr"};
		for (int i = 0; i < 3; i++)
			if (strcmp(base, std[i]) == 0)
				fd = i;
	} else if (dir && *base >= '0' && *base <= '9') {
		long n = strtol(base, &end, 10);
		char *self = xasprintf("/proc/%ld/fd", (long)getpid());
		char *task = xasprintf("/proc/%ld/task/%ld/fd", (long)getpid(), (long)gettid());
		if (!*end && n >= 0 && n < 1048576 && (strcmp(dir, self) == 0 || strcmp(dir, task) == 0))
			fd = (int)n;
		free(self);
		free(task);
	}
	free(dir);
	free(d);
	free(b);
	return fd;
}

/* The descriptor path stands for, or a link to such a name (as a link of
   the user's to /dev/stdout), else -1. */
static int held_fd(const char *path)
{
	char *p = xstrdup(path);
	int fd = fd_of_name(p);
	for (int hops = 0; fd < 0 && hops < 16; hops++) {
		char to[4096];
		ssize_t n = readlink(p, to, sizeof to - 1);
		if (n <= 0)
			break;
		to[n] = '\0';
		char *d = xstrdup(p);
		char *next = to[0] == '/' ? xstrdup(to) : xasprintf("%s/%s", dirname(d), to);
		free(d);
		free(p);
		p = next;
		fd = fd_of_name(p);
	}
	free(p);
	return fd;
}

/* Writes text on fd, a descriptor rbc was given when it started (the
   shell's redirection), where it stands: at its offset, or at the end when
   it appends. It stays open, and whatever is behind it stays. */
static bool write_on_fd(int fd, const char *path, const char *text, struct rbc_error *err)
{
	/* Descriptors rbc opens itself are close-on-exec; one it was handed
	   (one that survived an exec) is not. */
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0) {
		rbc_error_set(err, "cannot write %s: descriptor %d is not open (%s)", path, fd, strerror(errno));
		return false;
	}
	if (flags & FD_CLOEXEC) {
		rbc_error_set(err, "cannot write %s: descriptor %d is not one rbc was given", path, fd);
		return false;
	}
	int e = 0;
	bool ok = fd_write_all(fd, text, strlen(text), &e);
	struct stat st;
	if (ok && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) != 0 && errno != EINVAL) {
		ok = false;
		e = errno;
	}
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", path, strerror(e));
	return ok;
}

/* Whether dir is a run's directory: it holds a journal and out/. */
static bool is_run_dir(const char *dir)
{
	char *j = xasprintf("%s/journal.jsonl", dir), *o = xasprintf("%s/out", dir);
	struct stat st;
	bool yes = lstat(j, &st) == 0 && lstat(o, &st) == 0 && S_ISDIR(st.st_mode);
	free(j);
	free(o);
	return yes;
}

/* Whether writing path (through a link: the file it names) would replace
   or add to a run's record: the journal of a run directory, or anything in
   its out/. */
static bool of_a_record(const char *path)
{
	struct stat st;
	char *target = lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? realpath(path, NULL) : NULL;
	char *d = xstrdup(target ? target : path), *b = xstrdup(target ? target : path);
	char *dir = realpath(dirname(d), NULL);
	const char *base = basename(b);
	bool yes = false;
	if (dir) {
		const char *slash = strrchr(dir, '/');
		char *parent = slash && slash > dir ? xstrndup(dir, (size_t)(slash - dir)) : xstrdup("/");
		yes = (strcmp(base, JOURNAL_FILE) == 0 && is_run_dir(dir)) ||
		      (slash && strcmp(slash + 1, "out") == 0 && is_run_dir(parent));
		free(parent);
	}
	free(dir);
	free(d);
	free(b);
	free(target);
	return yes;
}

bool export_write_to(const char *path, const char *text, struct rbc_error *err)
{
	/* /dev/stdout and its kin name a descriptor already open: written on
	   it, never reopened by name (that would replace the file behind it). */
	int held = held_fd(path);
	if (held >= 0)
		return write_on_fd(held, path, text, err);
	if (of_a_record(path)) {
		rbc_error_set(err, "cannot write %s: it is part of the record of a run (its journal or out/), which "
		              "an export never replaces; write the export elsewhere", path);
		return false;
	}
	struct stat st;
	if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
		return export_write_file(path, text, err); /* a new file, or a regular one */
	if (S_ISLNK(st.st_mode)) {
		/* A link to a regular file: that file is replaced, the link stays. */
		char *real = realpath(path, NULL);
		bool regular = real && stat(real, &st) == 0 && S_ISREG(st.st_mode);
		bool ok = regular ? export_write_file(real, text, err) : false;
		free(real);
		if (regular)
			return ok;
		if (stat(path, &st) != 0)
			return export_write_file(path, text, err); /* dangling: as before, a new file */
	}
	if (S_ISDIR(st.st_mode)) {
		rbc_error_set(err, "cannot write %s: it is a directory", path);
		return false;
	}
	/* A device, a FIFO, a socket (or a link to one): written in place. */
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rbc_error_set(err, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		close(fd); /* it became a regular file meanwhile */
		return export_write_file(path, text, err);
	}
	return write_in_place(fd, path, text, err);
}

/* ---- JUnit XML ----------------------------------------------------------------- */

/* Text for XML 1.0: the five specials escaped, controls it cannot hold
   (even as references), DEL and C1 controls, and invalid UTF-8 replaced by
   U+FFFD. */
static void xml_text(struct strbuf *sb, const char *s)
{
	if (!s)
		return;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		uint32_t cp = ch;
		size_t l = ch < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		if (!l || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp < 0xa0) ||
		    cp == 0xfffe || cp == 0xffff) {
			sb_adds(sb, "\xef\xbf\xbd");
			i += l ? l : 1;
			continue;
		}
		switch (ch) {
		case '&': sb_adds(sb, "&amp;"); break;
		case '<': sb_adds(sb, "&lt;"); break;
		case '>': sb_adds(sb, "&gt;"); break;
		case '"': sb_adds(sb, "&quot;"); break;
		case '\'': sb_adds(sb, "&apos;"); break;
		default: sb_add(sb, s + i, l);
		}
		i += l;
	}
}

static void xml_attr(struct strbuf *sb, const char *name, const char *value)
{
	sb_addf(sb, " %s=\"", name);
	xml_text(sb, value);
	sb_adds(sb, "\"");
}

/* How a step's end reads: its verdict once judged (state done, or no
   state), else its state in capitals (SKIPPED, CANCELLED). */
static const char *state_word(const char *state, const char *verdict)
{
	if (state && strcmp(state, "skipped") == 0)
		return "SKIPPED";
	if (state && strcmp(state, "cancelled") == 0)
		return "CANCELLED";
	return verdict;
}

/* A step of the record: not a phase or a group, nor a step of a procedure
   the run never needed (on demand, never reached). */
static bool leaf(const cJSON *s)
{
	const char *st = str(s, "state");
	return !cJSON_IsTrue(get(s, "phase")) && !cJSON_IsTrue(get(s, "group")) &&
	       !(cJSON_IsTrue(get(s, "on_demand")) && st && strcmp(st, "pending") == 0);
}

static bool not_run(const cJSON *s)
{
	const char *st = str(s, "state");
	return st && strcmp(st, "pending") == 0;
}

/* Why a run that did not get to its end ended, in words (NULL: it did). */
static char *unfinished_why(const cJSON *doc)
{
	const char *state = str(doc, "state");
	if (!state || strcmp(state, "finished") == 0)
		return NULL;
	if (strcmp(state, "running") == 0)
		return xstrdup("the run is still going");
	if (strcmp(state, "interrupted") == 0)
		return xstrdup("the run was interrupted: its process ended before the run did");
	const char *why = NULL;
	const cJSON *t;
	cJSON_ArrayForEach(t, get(doc, "timeline"))
	{
		if (strcmp(str(t, "ev") ? str(t, "ev") : "", "run_finished") == 0)
			why = str(t, "text");
	}
	return why ? xasprintf("the run stopped before its end: %s", why)
	           : xstrdup("the run stopped before its end");
}

static double secs(const cJSON *s)
{
	const cJSON *d = get(s, "duration_ms");
	return cJSON_IsNumber(d) ? d->valuedouble / 1000 : 0;
}

/* One suite per runbook, one testcase per step that started (or was answered). */
char *export_junit(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_json(dir, err);
	if (!doc)
		return NULL;
	struct strbuf sb = {0};
	sb_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	const cJSON *steps = get(doc, "steps"), *rbs = get(doc, "runbooks"), *s, *rb;
	const cJSON *counts = get(doc, "counts");
	double total_time = 0;
	cJSON_ArrayForEach(s, steps) if (cJSON_IsTrue(get(s, "phase"))) total_time += secs(s);
	int fails = (int)(get(counts, "FAIL")->valuedouble + get(counts, "UNKNOWN")->valuedouble);
	int errors = (int)get(counts, "ERROR")->valuedouble;
	int tests = 0, skipped = 0;
	cJSON_ArrayForEach(s, steps)
	{
		if (!leaf(s))
			continue;
		tests++;
		const char *st = str(s, "state");
		if (!st || strcmp(st, "done") != 0)
			skipped++;
	}
	/* A run that did not get to its end did not pass, whatever its steps
	   say: one more testcase, failed, says so. */
	char *unfinished = unfinished_why(doc);
	sb_adds(&sb, "<testsuites");
	xml_attr(&sb, "name", str(doc, "run"));
	sb_addf(&sb, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
	        tests + !!unfinished, fails + !!unfinished, errors, skipped, total_time);
	int suite_id = 0;
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *rid = str(rb, "id");
		int t = 0, f = 0, e = 0, sk = 0;
		double time = 0;
		const char *started = str(doc, "started");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(str(s, "runbook"), rid) != 0)
				continue;
			if (cJSON_IsTrue(get(s, "phase"))) {
				time = secs(s);
				if (str(s, "started"))
					started = str(s, "started");
				continue;
			}
			if (!leaf(s))
				continue;
			t++;
			const char *st = str(s, "state"), *v = str(s, "verdict");
			if (!st || strcmp(st, "done") != 0)
				sk++;
			else if (v && strcmp(v, "ERROR") == 0)
				e++;
			else if (v && (strcmp(v, "FAIL") == 0 || strcmp(v, "UNKNOWN") == 0))
				f++;
		}
		if (!t && cJSON_IsTrue(get(rb, "included")))
			continue; /* an included runbook the run never went to */
		char ts[32];
		snprintf(ts, sizeof ts, "%.19s", started ? started : "1970-01-01T00:00:00");
		sb_addf(&sb, "  <testsuite id=\"%d\"", suite_id++);
		xml_attr(&sb, "name", rid);
		sb_addf(&sb, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\"", t, f, e,
		        sk, time);
		xml_attr(&sb, "timestamp", ts);
		xml_attr(&sb, "hostname", str(doc, "host"));
		sb_adds(&sb, ">\n    <properties>\n");
		static const char *const props[] = {"run", "operator", "rbc", "state"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(props); i++) {
			sb_adds(&sb, "      <property");
			xml_attr(&sb, "name", props[i]);
			xml_attr(&sb, "value", str(doc, props[i]));
			sb_adds(&sb, "/>\n");
		}
		sb_adds(&sb, "      <property");
		xml_attr(&sb, "name", "sha256");
		xml_attr(&sb, "value", str(rb, "sha256") ? str(rb, "sha256") : "");
		sb_adds(&sb, "/>\n    </properties>\n");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(str(s, "runbook"), rid) != 0 || !leaf(s))
				continue;
			struct strbuf name = {0};
			sb_addf(&name, "%s %s", str(s, "number") ? str(s, "number") : "",
			        str(s, "title") ? str(s, "title") : str(s, "id"));
			sb_adds(&sb, "    <testcase");
			xml_attr(&sb, "name", sb_borrow(&name));
			xml_attr(&sb, "classname", rid);
			sb_addf(&sb, " time=\"%.3f\">\n", secs(s));
			sb_free(&name);
			const char *st = str(s, "state"), *v = str(s, "verdict"), *x = str(s, "explanation");
			if (!st || strcmp(st, "done") != 0) {
				struct strbuf why = {0};
				sb_addf(&why, "%s%s%s", not_run(s) ? "not run" : st ? st : "not finished", x ? ": " : "",
				        x ? x : "");
				sb_adds(&sb, "      <skipped");
				xml_attr(&sb, "message", sb_borrow(&why));
				sb_adds(&sb, "/>\n");
				sb_free(&why);
			} else if (v && (strcmp(v, "FAIL") == 0 || strcmp(v, "UNKNOWN") == 0 || strcmp(v, "ERROR") == 0)) {
				const char *tag = strcmp(v, "ERROR") == 0 ? "error" : "failure";
				sb_addf(&sb, "      <%s", tag);
				xml_attr(&sb, "message", x ? x : v);
				xml_attr(&sb, "type", v);
				sb_adds(&sb, ">");
				xml_text(&sb, x ? x : v);
				sb_addf(&sb, "</%s>\n", tag);
			}
			struct strbuf out = {0};
			if (v)
				sb_addf(&out, "%s%s%s\n", state_word(st, v), x ? ": " : "", x ? x : "");
			if (str(s, "by"))
				sb_addf(&out, "by %s%s%s\n", str(s, "by"), str(s, "note") ? ": " : "",
				        str(s, "note") ? str(s, "note") : "");
			const cJSON *cap;
			cJSON_ArrayForEach(cap, get(s, "captures"))
			{
				sb_addf(&out, "capture %s = %s\n", str(cap, "name"),
				        str(cap, "value") ? str(cap, "value") : "(none)");
			}
			if (str(s, "output"))
				sb_addf(&out, "output: %s\n", str(s, "output"));
			if (out.len) {
				sb_adds(&sb, "      <system-out>");
				xml_text(&sb, sb_borrow(&out));
				sb_adds(&sb, "</system-out>\n");
			}
			sb_free(&out);
			sb_adds(&sb, "    </testcase>\n");
		}
		sb_adds(&sb, "  </testsuite>\n");
	}
	if (unfinished) {
		char ts[32];
		snprintf(ts, sizeof ts, "%.19s", str(doc, "started") ? str(doc, "started") : "1970-01-01T00:00:00");
		sb_addf(&sb, "  <testsuite id=\"%d\" name=\"run\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"%.3f\"",
		        suite_id, total_time);
		xml_attr(&sb, "timestamp", ts);
		xml_attr(&sb, "hostname", str(doc, "host"));
		sb_adds(&sb, ">\n    <testcase");
		xml_attr(&sb, "name", "the run got to its end");
		xml_attr(&sb, "classname", str(doc, "run"));
		sb_adds(&sb, " time=\"0.000\">\n      <failure");
		xml_attr(&sb, "message", unfinished);
		xml_attr(&sb, "type", "UNKNOWN");
		sb_adds(&sb, ">");
		xml_text(&sb, unfinished);
		sb_adds(&sb, "</failure>\n    </testcase>\n  </testsuite>\n");
		free(unfinished);
	}
	sb_adds(&sb, "</testsuites>\n");
	cJSON_Delete(doc);
	return sb_take(&sb);
}

/* ---- the Markdown deployment log ---------------------------------------------- */

void export_md_cell(struct strbuf *sb, const char *s)
{
	text_md(sb, s);
}

static const char *verdict_mark(const char *v, const char *state)
{
	if (state && (strcmp(state, "skipped") == 0 || strcmp(state, "pending") == 0))
		return "⏭";
	if (!v || (state && strcmp(state, "done") != 0))
		return "⏸";
	if (strcmp(v, "PASS") == 0)
		return "✅";
	if (strcmp(v, "WARN") == 0)
		return "⚠️";
	return "❌";
}

static const char *hhmmss(const char *iso)
{
	/* "2026-12-04T01:52:40.366Z" → "01:52:40" */
	return iso && strlen(iso) >= 19 ? iso + 11 : NULL;
}

/* The "01:52:40" of an ISO time read back from the journal, as text. */
static void add_hhmmss(struct strbuf *sb, const char *iso)
{
	char t[9] = "";
	if (hhmmss(iso))
		snprintf(t, sizeof t, "%.8s", hhmmss(iso));
	text_md(sb, t);
}

/* The last lines of a step's output file, for a failure's excerpt: only a
   regular file of the run's in its own out/ with no other name, never
   through a link, never a wait (rundir_open_output). The bytes as they
   are, NUL included: their length in *len. */
static char *tail_of(const char *dir, const char *output, int lines, size_t *len)
{
	char *name = rundir_output_name(output);
	int fd = name ? rundir_open_output(dir, name) : -1;
	free(name);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > 8192 ? size - 8192 : 0;
	fseek(f, from, SEEK_SET);
	char buf[8193];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	char *p = buf + n;
	for (int k = 0; p > buf; p--)
		if (p[-1] == '\n' && ++k == lines)
			break;
	*len = (size_t)(buf + n - p);
	return n ? xstrndup(p, *len) : NULL;
}


char *export_markdown(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_json(dir, err);
	if (!doc)
		return NULL;
	struct strbuf sb = {0};
	const cJSON *steps = get(doc, "steps"), *s;
	/* Version and Environment as the record fills them (add_log). */
	const char *env = str(get(doc, "log"), "environment"), *ver = str(get(doc, "log"), "version");
	const char *state = str(doc, "state"), *verdict = str(doc, "verdict");

	/* Everything from the journal is text (text.h): values, names and
	   outputs are never Markdown or HTML of the log's own. */
	sb_adds(&sb, "# Deployment Log\n\n");
	sb_adds(&sb, "**Date**: ");
	text_md(&sb, str(doc, "started"));
	if (str(doc, "finished")) {
		sb_adds(&sb, " → ");
		text_md(&sb, str(doc, "finished"));
	}
	sb_adds(&sb, " (UTC)\n");
	sb_adds(&sb, "**Version**: ");
	text_md(&sb, ver ? ver : "—");
	sb_adds(&sb, "\n**Deployed By**: ");
	text_md(&sb, str(doc, "operator"));
	sb_adds(&sb, "\n**Environment**: ");
	text_md(&sb, env ? env : "—");
	sb_adds(&sb, "\n**Run**: ");
	text_md(&sb, str(doc, "run"));
	sb_adds(&sb, " (rbc ");
	text_md(&sb, str(doc, "rbc"));
	sb_adds(&sb, " on ");
	text_md(&sb, str(doc, "host"));
	sb_adds(&sb, ")\n");
	/* A run that did not get to its end shows it first: ⏸, never ✅. */
	char *unfinished = unfinished_why(doc);
	sb_addf(&sb, "**Result**: %s ", verdict_mark(verdict, unfinished ? "running" : "done"));
	text_md(&sb, verdict ? verdict : "NOT FINISHED");
	if (unfinished) {
		sb_adds(&sb, " — ");
		text_md(&sb, unfinished);
		free(unfinished);
	}
	sb_adds(&sb, "\n\n");

	/* Summary: one line per phase (runbook). */
	sb_adds(&sb, "## Deployment Summary\n\n");
	const cJSON *rb;
	cJSON_ArrayForEach(rb, get(doc, "runbooks"))
	{
		const char *rid = str(rb, "id");
		const cJSON *phase = NULL;
		int n = 0, pass = 0, warn = 0, fail = 0, skip = 0, open = 0, notrun = 0;
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(str(s, "runbook"), rid) != 0)
				continue;
			if (cJSON_IsTrue(get(s, "phase"))) {
				phase = s;
				continue;
			}
			if (!leaf(s))
				continue;
			n++;
			const char *st = str(s, "state"), *v = str(s, "verdict");
			if (not_run(s))
				notrun++;
			else if (st && strcmp(st, "skipped") == 0)
				skip++;
			else if (!st || strcmp(st, "done") != 0 || !v)
				open++;
			else if (strcmp(v, "PASS") == 0)
				pass++;
			else if (strcmp(v, "WARN") == 0)
				warn++;
			else
				fail++;
		}
		if (!phase && cJSON_IsTrue(get(rb, "included")))
			continue;
		const char *title = phase && str(phase, "title") ? str(phase, "title") : rid;
		/* Steps not reached beside steps that ran: the phase is not finished. */
		const char *mark = fail ? "❌" : open ? "⏸" : !n || skip + notrun == n ? "⏭" : notrun ? "⏸"
		                 : warn ? "⚠️" : "✅";
		sb_adds(&sb, "- ");
		text_md_block(&sb, title);
		sb_addf(&sb, ": %s ", mark);
		if (!n || notrun == n)
			sb_adds(&sb, "not run");
		else if (!fail && !warn && !open && !skip && !notrun)
			sb_addf(&sb, "All passed (%d)", pass);
		else {
			const char *sep = "";
			if (pass) { sb_addf(&sb, "%s%d passed", sep, pass); sep = ", "; }
			if (warn) { sb_addf(&sb, "%s%d warning%s", sep, warn, warn == 1 ? "" : "s"); sep = ", "; }
			if (fail) { sb_addf(&sb, "%s%d failed", sep, fail); sep = ", "; }
			if (skip) { sb_addf(&sb, "%s%d skipped", sep, skip); sep = ", "; }
			if (open) { sb_addf(&sb, "%s%d not finished", sep, open); sep = ", "; }
			if (notrun) sb_addf(&sb, "%s%d not run", sep, notrun);
		}
		sb_adds(&sb, "\n");
	}

	/* A table per phase. */
	cJSON_ArrayForEach(rb, get(doc, "runbooks"))
	{
		const char *rid = str(rb, "id");
		bool any = false;
		cJSON_ArrayForEach(s, steps) if (strcmp(str(s, "runbook"), rid) == 0 && leaf(s)) any = true;
		if (!any)
			continue;
		const char *title = rid;
		cJSON_ArrayForEach(s, steps) if (strcmp(str(s, "id"), rid) == 0 && str(s, "title")) title = str(s, "title");
		sb_adds(&sb, "\n## ");
		export_md_cell(&sb, title);
		sb_adds(&sb, "\n\n");
		sb_adds(&sb, "| # | Step | Verdict | Measured vs threshold | Operator | Start → End (UTC) |\n");
		sb_adds(&sb, "| --- | --- | --- | --- | --- | --- |\n");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(str(s, "runbook"), rid) != 0 || !leaf(s))
				continue;
			const char *st = str(s, "state"), *v = str(s, "verdict");
			sb_adds(&sb, "| ");
			export_md_cell(&sb, str(s, "number"));
			sb_adds(&sb, " | ");
			export_md_cell(&sb, str(s, "title") ? str(s, "title") : str(s, "id"));
			sb_addf(&sb, " | %s ", verdict_mark(v, st));
			export_md_cell(&sb, st && strcmp(st, "done") == 0 && v ? v : not_run(s) ? "not run" : st);
			sb_adds(&sb, " | ");
			export_md_cell(&sb, str(s, "explanation"));
			sb_adds(&sb, " | ");
			export_md_cell(&sb, str(s, "by"));
			sb_adds(&sb, " | ");
			add_hhmmss(&sb, str(s, "started"));
			if (hhmmss(str(s, "finished"))) {
				sb_adds(&sb, " → ");
				add_hhmmss(&sb, str(s, "finished"));
			}
			sb_adds(&sb, " |\n");
		}
	}

	/* Manual steps and notes. */
	sb_adds(&sb, "\n## Manual Steps and Notes\n\n");
	bool any = false;
	cJSON_ArrayForEach(s, steps)
	{
		/* Answered by someone: a manual step, or a confirmation declined
		   (a group's too). */
		bool skipped = str(s, "state") && strcmp(str(s, "state"), "skipped") == 0;
		if (!str(s, "by") || (!leaf(s) && !skipped))
			continue;
		any = true;
		sb_adds(&sb, "- ");
		text_md_block(&sb, str(s, "number") ? str(s, "number") : "");
		sb_adds(&sb, " ");
		export_md_cell(&sb, str(s, "title") ? str(s, "title") : str(s, "id"));
		sb_adds(&sb, " — ");
		text_md(&sb, str(s, "state"));
		if (skipped && str(s, "explanation")) {
			/* Its why says who and how: "declined by alice". */
			sb_adds(&sb, ": ");
			export_md_cell(&sb, str(s, "explanation"));
		} else {
			sb_adds(&sb, " by ");
			export_md_cell(&sb, str(s, "by"));
		}
		if (str(s, "note")) {
			sb_adds(&sb, ": ");
			export_md_cell(&sb, str(s, "note"));
		}
		sb_adds(&sb, "\n");
	}
	const cJSON *note;
	cJSON_ArrayForEach(note, get(doc, "notes"))
	{
		any = true;
		sb_adds(&sb, "- ");
		add_hhmmss(&sb, str(note, "t"));
		sb_adds(&sb, " UTC, ");
		text_md(&sb, str(note, "by"));
		if (str(note, "step")) {
			sb_adds(&sb, " on ");
			text_md(&sb, str(note, "step"));
		}
		sb_adds(&sb, ": ");
		text_md(&sb, str(note, "text"));
		sb_adds(&sb, "\n");
	}
	if (!any)
		sb_adds(&sb, "None.\n");

	/* Failures, with an excerpt of their output. */
	sb_adds(&sb, "\n## Failures\n\n");
	any = false;
	cJSON_ArrayForEach(s, steps)
	{
		const char *v = str(s, "verdict"), *st = str(s, "state");
		if (!leaf(s) || !v || !st || strcmp(st, "done") != 0 || strcmp(v, "PASS") == 0 || strcmp(v, "WARN") == 0)
			continue;
		any = true;
		sb_adds(&sb, "### ");
		text_md(&sb, str(s, "number") ? str(s, "number") : "");
		sb_adds(&sb, " ");
		export_md_cell(&sb, str(s, "title") ? str(s, "title") : str(s, "id"));
		sb_adds(&sb, " — ");
		text_md(&sb, v);
		sb_adds(&sb, "\n\n");
		text_md_block(&sb, str(s, "explanation") ? str(s, "explanation") : v);
		sb_adds(&sb, "\n");
		size_t exn = 0;
		char *ex = tail_of(dir, str(s, "output"), 20, &exn);
		if (ex) {
			/* The output as it was, in a fence no line of it can close. */
			sb_adds(&sb, "\nLast lines of its output:\n\n");
			text_md_fence(&sb, ex, exn, "text");
			free(ex);
		}
		sb_adds(&sb, "\n");
	}
	if (!any)
		sb_adds(&sb, "None.\n\n");

	/* Captures. */
	sb_adds(&sb, "## Captures\n\n");
	any = false;
	cJSON_ArrayForEach(s, steps)
	{
		const cJSON *c;
		cJSON_ArrayForEach(c, get(s, "captures"))
		{
			if (!any)
				sb_adds(&sb, "| Variable | Value | Step |\n| --- | --- | --- |\n");
			any = true;
			sb_adds(&sb, "| ");
			export_md_cell(&sb, str(c, "name"));
			sb_adds(&sb, " | ");
			export_md_cell(&sb, str(c, "value") ? str(c, "value") : "(not captured)");
			sb_adds(&sb, " | ");
			export_md_cell(&sb, str(s, "id"));
			sb_adds(&sb, " |\n");
		}
	}
	if (!any)
		sb_adds(&sb, "None.\n");

	/* Rollback: what triggered it, verbatim. */
	sb_adds(&sb, "\n## Rollback\n\n");
	any = false;
	const cJSON *t;
	cJSON_ArrayForEach(t, get(doc, "timeline"))
	{
		const char *ev = str(t, "ev");
		if (strcmp(ev, "jump") != 0 && strcmp(ev, "watch_fired") != 0)
			continue;
		any = true;
		sb_adds(&sb, "- ");
		add_hhmmss(&sb, str(t, "t"));
		sb_adds(&sb, " UTC — ");
		text_md(&sb, str(t, "step"));
		sb_adds(&sb, " ");
		if (str(t, "target")) {
			sb_adds(&sb, "→ ");
			text_md(&sb, str(t, "target"));
		}
		sb_adds(&sb, ": ");
		text_md(&sb, str(t, "text"));
		sb_addf(&sb, " (%s)\n", strcmp(ev, "watch_fired") == 0 ? "automatic: a watch fired" : "on_fail");
	}
	if (!any)
		sb_adds(&sb, "None: no on_fail jump and no watch fired.\n");

	/* Timeline. */
	sb_adds(&sb, "\n## Timeline\n\n| Time (UTC) | Event | Step | Detail |\n| --- | --- | --- | --- |\n");
	cJSON_ArrayForEach(t, get(doc, "timeline"))
	{
		const char *ev = str(t, "ev");
		if (strcmp(ev, "step_started") == 0 || strcmp(ev, "output") == 0)
			continue;
		sb_adds(&sb, "| ");
		export_md_cell(&sb, str(t, "t"));
		sb_adds(&sb, " | ");
		export_md_cell(&sb, ev);
		if (str(t, "what")) { /* an incident action: which one */
			sb_adds(&sb, " ");
			export_md_cell(&sb, str(t, "what"));
		}
		sb_adds(&sb, " | ");
		export_md_cell(&sb, str(t, "step"));
		sb_adds(&sb, " | ");
		if (str(t, "verdict")) {
			/* A step that ended without being judged (skipped, cancelled)
			   is said so, never by the verdict it carries. */
			export_md_cell(&sb, state_word(str(t, "state"), str(t, "verdict")));
			sb_adds(&sb, " ");
		}
		export_md_cell(&sb, str(t, "text"));
		if (strcmp(ev, "run_resumed") == 0) {
			sb_adds(&sb, "resumed from the journal");
			if (str(t, "at")) {
				sb_adds(&sb, " at ");
				export_md_cell(&sb, str(t, "at"));
			}
		}
		if (cJSON_IsTrue(get(t, "interrupted")))
			sb_adds(&sb, " (interrupted: run again after the resume)");
		if (str(t, "name")) {
			sb_adds(&sb, " ");
			export_md_cell(&sb, str(t, "name"));
			sb_adds(&sb, " = ");
			export_md_cell(&sb, str(t, "value") ? str(t, "value") : "(none)");
		}
		if (str(t, "by")) {
			sb_adds(&sb, " (by ");
			export_md_cell(&sb, str(t, "by"));
			sb_adds(&sb, ")");
		}
		sb_adds(&sb, " |\n");
	}

	/* Metrics. */
	const cJSON *counts = get(doc, "counts");
	sb_adds(&sb, "\n## Metrics\n\n");
	double dur = 0;
	cJSON_ArrayForEach(s, steps) if (cJSON_IsTrue(get(s, "phase")) && cJSON_IsNumber(get(s, "duration_ms")))
		dur += get(s, "duration_ms")->valuedouble;
	char dbuf[32];
	sb_addf(&sb, "- Duration: %s\n", units_format(dur, RBC_DIM_TIME, dbuf, sizeof dbuf));
	sb_addf(&sb, "- Steps: %.0f — %.0f passed, %.0f warn, %.0f failed, %.0f unknown, %.0f error, %.0f skipped, "
	             "%.0f cancelled, %.0f not finished, %.0f not run\n",
	        get(counts, "steps")->valuedouble, get(counts, "PASS")->valuedouble, get(counts, "WARN")->valuedouble,
	        get(counts, "FAIL")->valuedouble, get(counts, "UNKNOWN")->valuedouble,
	        get(counts, "ERROR")->valuedouble, get(counts, "SKIPPED")->valuedouble,
	        get(counts, "CANCELLED")->valuedouble, get(counts, "unfinished")->valuedouble,
	        get(counts, "not_run")->valuedouble);
	int retries = 0;
	cJSON_ArrayForEach(s, steps) retries += cJSON_GetArraySize(get(s, "retries"));
	sb_addf(&sb, "- Retries: %d\n", retries);
	int resumes = cJSON_GetArraySize(get(doc, "resumes"));
	if (resumes)
		sb_addf(&sb, "- Interruptions: %d — the run was resumed from its journal %d time%s; nothing recorded was lost\n",
		        resumes, resumes, resumes == 1 ? "" : "s");
	sb_addf(&sb, "- Masked values: %.0f (secrets are masked before anything is written)\n",
	        get(doc, "masked_values")->valuedouble);

	/* Next steps. */
	sb_adds(&sb, "\n## Next Steps\n\n");
	if (state && strcmp(state, "finished") != 0)
		sb_adds(&sb, "- The run did not finish: walk the steps that did not finish\n");
	if (verdict && strcmp(verdict, "PASS") != 0 && strcmp(verdict, "WARN") != 0)
		sb_adds(&sb, "- Investigate the failures above and schedule a post-mortem\n");
	else if (verdict && strcmp(verdict, "WARN") == 0)
		sb_adds(&sb, "- Look into the warnings above\n");
	sb_adds(&sb, "- Monitor for 24 hours\n");
	sb_adds(&sb, "- Hand over to the operations team\n");
	cJSON_Delete(doc);
	return sb_take(&sb);
}

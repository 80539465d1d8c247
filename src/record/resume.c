/*
 * resume.c — reading a journal back into an engine (resume.h).
 *
 * Steps are found by their journal id through a table built once, so that
 * replaying grows with the number of events, not events × steps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/resume.h"
#include "rbc/rundir.h"
#include "rbc/strmap.h"
#include "rbc/util.h"
#include "rbc/value.h"

cJSON *resume_header(const char *dir, struct rbc_error *err)
{
	return journal_read_header(dir, err);
}

/* journal_replay's callback: keeps the last tree the record names. */
static bool tree_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)raw;
	(void)line;
	cJSON **tree = ud;
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	const cJSON *rbs = cJSON_GetObjectItemCaseSensitive(o, "runbooks");
	if (ev && rbs && (strcmp(ev, "run_header") == 0 || strcmp(ev, "run_resumed") == 0)) {
		cJSON_Delete(*tree);
		*tree = cJSON_Duplicate(rbs, true);
	}
	return true;
}

cJSON *resume_runbooks(const char *dir, struct rbc_error *err)
{
	cJSON *tree = NULL;
	if (!journal_replay(dir, tree_line, &tree, NULL, err)) {
		cJSON_Delete(tree);
		return NULL;
	}
	if (!tree)
		rbc_error_set(err, "%s/%s: no run header", dir, JOURNAL_FILE);
	return tree;
}

struct replay {
	const char *dir;
	struct engine *e;
	struct resume_state *st;
	struct strmap steps;      /* journal id → struct eng_step * */
};

static void index_steps(struct strmap *m, struct eng_step *s)
{
	char *id = journal_step_id(s);
	if (!strmap_get(m, id))
		strmap_set(m, id, s); /* an included runbook's steps: its first node */
	free(id);
	for (size_t i = 0; i < s->nchildren; i++)
		index_steps(m, s->children[i]);
}

static bool event_type(const char *name, enum eng_event_type *t)
{
#define X(e, n) if (strcmp(name, n) == 0) { *t = ENG_EV_##e; return true; }
	ENG_EVENTS(X)
#undef X
	return false;
}

static bool state_of(const char *name, enum eng_state *st)
{
#define X(e, n) if (strcmp(name, n) == 0) { *st = ENG_##e; return true; }
	ENG_STATES(X)
#undef X
	return false;
}

/* The step an event names; NULL and counted when the runbooks lost it. */
static struct eng_step *step_named(struct replay *x, const char *id)
{
	if (!id)
		return NULL;
	struct eng_step *s = strmap_get(&x->steps, id);
	if (!s)
		x->st->unknown++;
	return s;
}

static bool apply(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	struct replay *x = ud;
	struct resume_state *st = x->st;
	st->good_len += (long long)strlen(raw);
	/* One walk over the fields (a journal of 100,000 lines is read here). */
	const char *ev = NULL, *sid = NULL, *tid = NULL, *t = NULL, *started = NULL, *verdict = NULL,
	           *state = NULL, *waitfor = NULL, *value = NULL;
	const cJSON *sample = NULL, *json = NULL;
	const char *output = NULL;
	struct eng_restore r = {0};
	for (const cJSON *c = o->child; c; c = c->next) {
		const char *k = c->string, *v = cJSON_GetStringValue(c);
		if (!k)
			continue;
		switch (k[0]) {
		case 'a':
			if (strcmp(k, "attempt") == 0 && cJSON_IsNumber(c) && c->valuedouble > 0)
				r.attempt = (unsigned)c->valuedouble;
			break;
		case 'b':
			if (strcmp(k, "by") == 0)
				r.by = v;
			break;
		case 'e':
			if (strcmp(k, "ev") == 0)
				ev = v;
			break;
		case 'f':
			if (strcmp(k, "for") == 0)
				waitfor = v;
			break;
		case 'j':
			if (strcmp(k, "json") == 0)
				json = c;
			break;
		case 'm':
			if (strcmp(k, "main") == 0)
				r.run = cJSON_IsTrue(c);
			break;
		case 'n':
			if (strcmp(k, "note") == 0)
				r.note = v;
			else if (strcmp(k, "name") == 0)
				r.name = v;
			break;
		case 'o':
			if (strcmp(k, "output") == 0)
				output = v;
			break;
		case 's':
			if (strcmp(k, "seq") == 0 && cJSON_IsNumber(c))
				st->last_seq = (uint64_t)c->valuedouble;
			else if (strcmp(k, "step") == 0)
				sid = v;
			else if (strcmp(k, "state") == 0)
				state = v;
			else if (strcmp(k, "started") == 0)
				started = v;
			else if (strcmp(k, "sample") == 0)
				sample = c;
			else if (strcmp(k, "stopped") == 0)
				r.stopped = cJSON_IsTrue(c);
			break;
		case 't':
			if (strcmp(k, "t") == 0)
				t = v;
			else if (strcmp(k, "target") == 0)
				tid = v;
			else if (strcmp(k, "title") == 0)
				r.title = v;
			else if (strcmp(k, "text") == 0)
				r.text = v;
			break;
		case 'v':
			if (strcmp(k, "verdict") == 0)
				verdict = v;
			else if (strcmp(k, "value") == 0)
				value = v;
			break;
		default:
			break;
		}
	}
	enum eng_event_type type;
	if (line == 1 || !ev || !event_type(ev, &type))
		return true; /* the header, run_resumed: rbc's own lines */
	st->events++;
	r.type = type;
	r.time = iso_ms_parse(t);
	if (sid && !(r.step = step_named(x, sid)))
		return true;
	if (tid && !(r.target = step_named(x, tid)))
		return true;
	r.started = iso_ms_parse(started);
	if (verdict)
		verdict_parse(verdict, &r.verdict);
	if (!state || !state_of(state, &r.state))
		r.state = ENG_DONE;
	r.wait = waitfor && strcmp(waitfor, "confirm") == 0 ? ENG_WAIT_CONFIRM
	         : waitfor && strcmp(waitfor, "answer") == 0 ? ENG_WAIT_ASK : ENG_WAIT_MANUAL;
	if (type == ENG_EV_SAMPLE && sample)
		r.value = value_sample_from_json(sample);
	else if (type == ENG_EV_CAPTURE && json)
		r.value = value_from_json(json);
	else if (type == ENG_EV_CAPTURE && value)
		r.value = value_strz_new(value);
	if (type == ENG_EV_INCIDENT || type == ENG_EV_EXPANDED)
		r.detail = o;
	/* A step's output file is where the run will append to it: only ever
	   inside this run's out/, whatever the record says. */
	char *name = rundir_output_name(output), *out = name ? xasprintf("%s/%s", x->dir, name) : NULL;
	free(name);
	r.output = out;
	bool masked = type == ENG_EV_CAPTURE && value &&
	              (strstr(value, MASK_TEXT) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "cut")));
	if (masked) {
		/* A secret is in it, or it was too long: the record never holds
		   the value. */
		value_free(r.value);
		r.value = NULL;
	}
	if (!engine_restore(x->e, &r) || masked) {
		st->lost = xrealloc(st->lost, (st->nlost + 1) * sizeof *st->lost);
		st->lost[st->nlost++] = xasprintf("%s (%s)", r.name, sid);
	}
	free(out);
	if (type == ENG_EV_EXPANDED && r.step)
		index_steps(&x->steps, r.step); /* a loop's iterations: named from now on */
	if (type == ENG_EV_RUN_FINISHED) {
		st->finished = true;
		st->stopped = r.stopped;
	} else if (type == ENG_EV_STEP_STARTED || type == ENG_EV_RUN_STARTED) {
		st->finished = st->stopped = false; /* the operator ran on after the end */
	}
	return true;
}

/* The steps whose start the record has and not their end (cut short by a
   crash, a kill, a lost record): whatever they did may be done already. */
static void find_cut(struct resume_state *st, struct eng_step *s)
{
	if (s->def && s->def->action != RB_GROUP && s->state == ENG_RUNNING) {
		st->cut = xrealloc(st->cut, (st->ncut + 1) * sizeof *st->cut);
		st->cut[st->ncut++] = (struct resume_cut){.step = s, .started = s->started};
	}
	for (size_t i = 0; i < s->nchildren; i++)
		find_cut(st, s->children[i]);
}

bool resume_replay(const char *dir, struct engine *e, struct resume_state *st, struct rbc_error *err)
{
	*st = (struct resume_state){0};
	struct replay x = {.dir = dir, .e = e, .st = st};
	size_t n;
	struct eng_step *const *nodes = engine_nodes(e, &n);
	for (size_t i = 0; i < n; i++)
		index_steps(&x.steps, nodes[i]);
	bool ok = journal_replay(dir, apply, &x, &st->dropped_last, err);
	strmap_free(&x.steps);
	for (size_t i = 0; ok && i < n; i++)
		find_cut(st, nodes[i]);
	if (ok)
		engine_restore_end(e);
	return ok;
}

/* One line at a time (rbc follow): the same apply as resume_replay's,
   without the settling at the end — a step running stays running. */
struct resume_feed {
	struct replay x;
};

struct resume_feed *resume_feed_new(const char *dir, struct engine *e, struct resume_state *st)
{
	struct resume_feed *f = xcalloc(1, sizeof *f);
	*st = (struct resume_state){0};
	f->x = (struct replay){.dir = dir, .e = e, .st = st};
	size_t n;
	struct eng_step *const *nodes = engine_nodes(e, &n);
	for (size_t i = 0; i < n; i++)
		index_steps(&f->x.steps, nodes[i]);
	return f;
}

/* Applies one checked line (line from 1; the header is passed by). */
void resume_feed_line(struct resume_feed *f, const cJSON *o, const char *raw, unsigned long line)
{
	apply(&f->x, o, raw, line);
}

/* The step a journal id names, or NULL. */
struct eng_step *resume_feed_step(struct resume_feed *f, const char *id)
{
	return id ? strmap_get(&f->x.steps, id) : NULL;
}

void resume_feed_free(struct resume_feed *f)
{
	if (!f)
		return;
	strmap_free(&f->x.steps);
	free(f);
}

void resume_state_free(struct resume_state *st)
{
	for (size_t i = 0; i < st->nlost; i++)
		free(st->lost[i]);
	free(st->lost);
	free(st->cut);
	*st = (struct resume_state){0};
}

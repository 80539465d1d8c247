/*
 * journal.c — the run's journal (see journal.h, docs/journal.md).
 *
 * `pending` collects the lines of events as they come; when no write is
 * under way it becomes `writing`, and a uv_work appends it whole and
 * fdatasyncs the file (lines that come meanwhile wait for the next one:
 * group commit). A line is in the record once that sync has returned:
 * then the engine may start the steps whose start it held (write-ahead:
 * no step runs that the record does not say started), and the events the
 * lines stand for are passed on to the observer, in order. The loop thread
 * only formats lines and swaps buffers.
 *
 * A line that cannot be written or synced (a full disk, a file-size limit,
 * an I/O error) loses the record: what the failed write or sync left in the
 * file after the last synced line is cut off (the file ends on the last
 * line the record holds), nothing is written any more, the engine is told
 * (nothing new starts; the run stops) and the events still held are passed
 * on with journal_error set, so that what ran is shown as lost.
 *
 * This file writes; journal_read.c reads a journal back and
 * journal_check.c judges each line it reads (journal_internal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rbc/journal.h"
#include "rbc/rundir.h"
#include "rbc/sha256.h"
#include "rbc/strmap.h"
#include "rbc/util.h"
#include "rbc/value.h"

/* An event kept until its line is on disk. */
struct held {
	struct eng_event ev;
	char *text, *name, *value, *by, *data;
	struct rbc_value *sample;
	cJSON *detail;
	uint64_t seq;
};

struct journal {
	uv_loop_t *loop;
	int fd;
	char *path;
	const struct mask *mask;
	void (*on_event)(void *ud, const struct eng_event *ev);
	void *ud;

	uint64_t seq;            /* the last line's number (the header is 0) */
	uint64_t durable;        /* the last line written and synced: the record */
	long long size;          /* bytes of the lines synced */
	struct strbuf pending, writing;
	uint64_t writing_last;   /* the last line in `writing` */
	bool in_flight;          /* the write-and-sync work */
	uv_work_t work;
	int werr;                /* the worker's errno … */
	bool wsync;              /* … of its sync (else of its write) */
	bool wcut;               /* … and whether what it left was cut off */
	char *error;
	bool lost;               /* a line could not be written: none is any more */
	bool sealed;             /* the run was taken over: nothing more is written */
	struct engine *engine;   /* write-ahead: told what is written (journal_attach) */

	struct held *held;       /* events waiting for their line, oldest first */
	size_t nheld, capheld, held_head;
	bool delivering;

	void (*on_line)(void *ud, const char *line, size_t len); /* each line once on disk */
	void *line_ud;
};

/* Hands each line of buf (without its newline) to the line sink. */
static void lines_out(struct journal *j, const char *buf, size_t len)
{
	if (!j->on_line)
		return;
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		j->on_line(j->line_ud, p, n);
		p += n + 1;
	}
}

static bool sync_fd(int fd, int *err)
{
	while (fdatasync(fd) != 0) {
		if (errno != EINTR) {
			*err = errno;
			return false;
		}
	}
	return true;
}

char *journal_step_id(const struct eng_step *s)
{
	if (!s)
		return NULL;
	if (!s->def)
		return xstrdup(s->rb->id);
	return xasprintf("%s/%s", s->rb->id, s->def->id);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* Text masked, as valid UTF-8 (a secret may be a piece of a character):
   a new string. */
static char *masked_text(const struct mask *m, const char *s)
{
	size_t n = 0;
	char *t = mask_text_n(m, s, strlen(s), &n, NULL);
	char *u = utf8_copy_valid(t, n);
	free(t);
	return u;
}

/* Adds text that came from outside rbc (an explanation, a note), masked. */
static void add_masked(const struct journal *j, cJSON *o, const char *k, const char *v)
{
	if (!v)
		return;
	char *m = masked_text(j->mask, v);
	cJSON_AddStringToObject(o, k, m);
	free(m);
}

/* Adds a value (a sample, a captured value) with its texts masked. */
static void add_value(const struct journal *j, cJSON *o, const char *k, const struct rbc_value *v)
{
	struct rbc_value *m = value_masked(v, j->mask);
	cJSON *c = value_to_json(m);
	value_free(m);
	if (c)
		cJSON_AddItemToObject(o, k, c);
}

/*
 * Masks the string values of o and everything below it in place, never a
 * key. At the top, the members named in keep are rbc's own words (levels,
 * roles, states, ids) and stay as they are.
 */
static void mask_strings(const struct mask *m, cJSON *o, const char *const *keep)
{
	for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
		bool kept = false;
		for (size_t i = 0; keep && keep[i] && !kept; i++)
			kept = c->string && strcmp(c->string, keep[i]) == 0;
		if (kept)
			continue;
		if (cJSON_IsString(c) && c->valuestring) {
			char *s = masked_text(m, c->valuestring);
			if (strcmp(s, c->valuestring) != 0)
				cJSON_SetValuestring(c, s);
			free(s);
		} else if (c->child) {
			mask_strings(m, c, NULL);
		}
	}
}

static int by_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Makes o, and everything below it, what a reader takes back as written:
 * texts and keys valid UTF-8 (a command-line argument, a host name, a key
 * of a body may not be), and no object with a key twice (a body may have
 * one: the last is what rbc's expressions read, and is what is kept).
 */
static void tidy(cJSON *o)
{
	for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
		if (cJSON_IsString(c) && c->valuestring) {
			size_t n = strlen(c->valuestring);
			if (!utf8_valid(c->valuestring, n, NULL)) {
				char *v = utf8_copy_valid(c->valuestring, n);
				cJSON_SetValuestring(c, v);
				free(v);
			}
		}
		tidy(c);
	}
	if (!cJSON_IsObject(o) || !o->child)
		return;
	size_t n = 0;
	bool rebuild = false;
	for (cJSON *c = o->child; c; c = c->next, n++)
		rebuild = rebuild || !c->string || !utf8_valid(c->string, strlen(c->string), NULL);
	if (!rebuild && n > 1) {
		const char **keys = xmalloc(n * sizeof *keys);
		size_t i = 0;
		for (cJSON *c = o->child; c; c = c->next)
			keys[i++] = c->string;
		qsort(keys, n, sizeof *keys, by_cstr);
		for (i = 1; i < n && !rebuild; i++)
			rebuild = strcmp(keys[i - 1], keys[i]) == 0;
		free(keys);
	}
	if (!rebuild)
		return;
	struct strmap last = {0};
	for (cJSON *c = o->child; c; c = c->next) {
		char *k = utf8_copy_valid(c->string ? c->string : "", c->string ? strlen(c->string) : 0);
		strmap_set(&last, k, c);
		free(k);
	}
	cJSON *fresh = cJSON_CreateObject();
	while (o->child) {
		cJSON *c = cJSON_DetachItemViaPointer(o, o->child);
		char *k = utf8_copy_valid(c->string ? c->string : "", c->string ? strlen(c->string) : 0);
		if (strmap_get(&last, k) == c)
			cJSON_AddItemToObject(fresh, k, c);
		else
			cJSON_Delete(c); /* an earlier one of the same name */
		free(k);
	}
	strmap_free(&last);
	o->child = fresh->child;
	fresh->child = NULL;
	cJSON_Delete(fresh);
}

/* The members of an incident event that are rbc's or the runbook's words. */
static const char *const incident_words[] = {"what", "t", "seq", "ev", "by", "from", "to", "role",
                                             "id", "kind", "target", "state", "level",
                                             "impact_start", "type", "todo", "met", NULL};

/* What a command event keeps unmasked: its own words, not the joiner's text. */
static const char *const command_words[] = {"command", "by", "host", "action", "on", "result", NULL};

/* The titles of the steps below s, by journal id, as the run has them. */
static void add_titles_below(cJSON *o, const struct eng_step *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		const struct eng_step *c = s->children[i];
		if (c->title) {
			char *id = journal_step_id(c), *vt = utf8_copy_valid(c->title, strlen(c->title));
			cJSON_AddStringToObject(o, id, vt);
			free(vt);
			free(id);
		}
		add_titles_below(o, c);
	}
}

/* Sets o[k] to v when there is one. */
static void add_var(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* A loop's items, masked, into array a. */
static void add_items(const struct journal *j, cJSON *a, const char *const *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *m = masked_text(j->mask, items[i]);
		char *v = utf8_copy_valid(m, strlen(m));
		cJSON_AddItemToArray(a, cJSON_CreateString(v));
		free(v);
		free(m);
	}
}

/* The steps below s in order, as the header's "steps" has them. */
static void add_steps_below(cJSON *a, const struct eng_step *s)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		const struct eng_step *c = s->children[i];
		cJSON *o = cJSON_CreateObject();
		char *id = journal_step_id(c);
		cJSON_AddStringToObject(o, "id", id);
		free(id);
		cJSON_AddStringToObject(o, "number", c->def->number);
		char *vt = c->title ? utf8_copy_valid(c->title, strlen(c->title)) : NULL;
		if (vt)
			cJSON_AddStringToObject(o, "title", vt);
		free(vt);
		if (c->def->action == RB_GROUP)
			cJSON_AddBoolToObject(o, "group", true);
		cJSON_AddItemToArray(a, o);
		add_steps_below(a, c);
	}
}

/*
 * The line of an event, with its newline. What came from outside rbc is
 * masked before it is encoded (never the encoded line: a short secret such
 * as "1" or a word of a runbook id would break the line or rbc's own ids
 * and paths).
 */
static char *event_line(struct journal *j, const struct eng_event *ev, uint64_t seq, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	char t[40];
	iso_ms_format(t, sizeof t, ev->time);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "ev", eng_event_name(ev->type));
	struct eng_step *s = ev->step;
	if (s) {
		char *id = journal_step_id(s);
		cJSON_AddStringToObject(o, "step", id);
		free(id);
		if (s->def)
			cJSON_AddStringToObject(o, "number", s->def->number);
		if (s->def && s->def->action == RB_GROUP &&
		    (ev->type == ENG_EV_STEP_STARTED || ev->type == ENG_EV_STEP_FINISHED))
			cJSON_AddBoolToObject(o, "group", true);
		if (ev->run && (ev->type == ENG_EV_STEP_STARTED || ev->type == ENG_EV_STEP_FINISHED ||
		                ev->type == ENG_EV_WAITING))
			cJSON_AddBoolToObject(o, "main", true);
	}
	if (ev->stopped && (ev->type == ENG_EV_STEP_FINISHED || ev->type == ENG_EV_RUN_FINISHED))
		cJSON_AddBoolToObject(o, "stopped", true);
	switch (ev->type) {
	case ENG_EV_STEP_STARTED:
		/* Masked where a variable's value stands in it (vars_display),
		   never in the runbook's own words. */
		if (s && s->title) {
			char *vt = utf8_copy_valid(s->title, strlen(s->title));
			cJSON_AddStringToObject(o, "title", vt);
			free(vt);
		}
		if (s && s->attempt)
			cJSON_AddNumberToObject(o, "attempt", s->attempt);
		break;
	case ENG_EV_RETRY:
	case ENG_EV_STEP_FINISHED:
	case ENG_EV_RUN_FINISHED:
		cJSON_AddStringToObject(o, "verdict", verdict_name(ev->verdict));
		if (s && ev->type == ENG_EV_STEP_FINISHED) {
			cJSON_AddStringToObject(o, "state", eng_state_name(s->state));
			if (s->attempt)
				cJSON_AddNumberToObject(o, "attempt", s->attempt);
			if (s->started) {
				iso_ms_format(t, sizeof t, s->started);
				cJSON_AddStringToObject(o, "started", t);
				cJSON_AddNumberToObject(o, "duration_ms", (double)(ev->time - s->started));
			}
			add_masked(j, o, "note", s->note);
			if (s->state == ENG_SKIPPED && s->nchildren)
				/* Its steps are never reached: their titles, expanded
				   as far as the run could then. */
				add_titles_below(cJSON_AddObjectToObject(o, "titles"), s);
			if (!s->started && s->title) {
				/* Never started (skipped with its group, cancelled before
				   it ran): its title as the run had it then. */
				char *vt = utf8_copy_valid(s->title, strlen(s->title));
				cJSON_AddStringToObject(o, "title", vt);
				free(vt);
			}
			if (s->spool_path)
				cJSON_AddStringToObject(o, "output", s->spool_path);
		}
		break;
	case ENG_EV_SAMPLE:
		cJSON_AddStringToObject(o, "verdict", verdict_name(ev->verdict));
		if (ev->sample)
			add_value(j, o, "sample", ev->sample);
		break;
	case ENG_EV_CAPTURE: {
		add_str(o, "name", ev->name);
		char *m = ev->value ? masked_text(j->mask, ev->value) : NULL;
		size_t n = m ? strlen(m) : 0;
		if (!m) {
			cJSON_AddNullToObject(o, "value");
		} else if (n <= JOURNAL_VALUE_MAX) {
			cJSON_AddStringToObject(o, "value", m);
			if (ev->sample && ev->sample->type != VALUE_STR)
				add_value(j, o, "json", ev->sample); /* its type, for a resume */
		} else {
			/* A value of megabytes (a whole body, a big SQL cell): its head,
			   never inside a character, with what tells the whole. */
			struct sha256 h;
			char hex[65];
			sha256_init(&h);
			sha256_update(&h, m, n);
			sha256_hex(&h, hex);
			size_t keep = JOURNAL_VALUE_MAX;
			while (keep > 0 && ((unsigned char)m[keep] & 0xC0) == 0x80)
				keep--;
			m[keep] = '\0';
			cJSON_AddStringToObject(o, "value", m);
			cJSON_AddBoolToObject(o, "cut", true);
			cJSON_AddNumberToObject(o, "value_bytes", (double)n);
			cJSON_AddStringToObject(o, "value_sha256", hex);
		}
		free(m);
		break;
	}
	case ENG_EV_DEADLINE:
		if (s && engine_budget(s)) {
			/* The budget: how long, from when, and what its end does. */
			cJSON_AddNumberToObject(o, "deadline_ms", (double)engine_budget(s)->deadline_ms);
			cJSON_AddStringToObject(o, "on_deadline", rb_on_deadline_name(engine_budget(s)->on_deadline));
			iso_ms_format(t, sizeof t, s->started);
			cJSON_AddStringToObject(o, "started", t);
		}
		/* fall through */
	case ENG_EV_JUMP:
	case ENG_EV_WATCH_FIRED:
		if (ev->target) {
			char *id = journal_step_id(ev->target);
			cJSON_AddStringToObject(o, "target", id);
			free(id);
		}
		break;
	case ENG_EV_WAITING:
		cJSON_AddStringToObject(o, "for", s && s->wait == ENG_WAIT_CONFIRM ? "confirm"
		                                  : s && s->wait == ENG_WAIT_ASK ? "answer" : "operator");
		break;
	case ENG_EV_EXPANDED:
		/* A loop's items (what a resume makes its iterations of again) and
		   the steps they made, or the steps a call runs, as the header
		   lists steps (docs/journal.md). */
		add_var(o, "var", s && s->def && s->def->foreach ? s->def->foreach->var : NULL);
		if (s && s->def && s->def->foreach) /* a call has none */
			add_items(j, cJSON_AddArrayToObject(o, "items"), ev->items, ev->nitems);
		if (s)
			add_steps_below(cJSON_AddArrayToObject(o, "steps"), s);
		break;
	case ENG_EV_INCIDENT: {
		/* The incident event's own fields; the line's time and number are
		   the journal's. */
		cJSON *d = ev->detail ? cJSON_Duplicate(ev->detail, true) : NULL;
		mask_strings(j->mask, d, incident_words);
		for (cJSON *c = d ? d->child : NULL; c; c = c->next)
			if (c->string && strcmp(c->string, "t") && strcmp(c->string, "seq") && strcmp(c->string, "ev") &&
			    strcmp(c->string, "by") && strcmp(c->string, "text") && strcmp(c->string, "automatic"))
				cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, true));
		add_str(o, "text", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text")));
		cJSON_Delete(d);
		break;
	}
	case ENG_EV_COMMAND: {
		/* A joiner's command: who, from where, what of which step, and
		   what became of it (docs/journal.md); the text is the event's. */
		cJSON *d = ev->detail ? cJSON_Duplicate(ev->detail, true) : NULL;
		mask_strings(j->mask, d, command_words);
		for (cJSON *c = d ? d->child : NULL; c; c = c->next)
			if (c->string && strcmp(c->string, "t") && strcmp(c->string, "seq") && strcmp(c->string, "ev") &&
			    strcmp(c->string, "by") && strcmp(c->string, "text"))
				cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, true));
		cJSON_Delete(d);
		break;
	}
	default:
		break;
	}
	add_masked(j, o, "text", ev->text);
	add_str(o, "by", ev->by);
	if (ev->type == ENG_EV_CONFIRMED || ev->by)
		cJSON_AddBoolToObject(o, "automatic", ev->automatic);
	tidy(o);
	char *line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	size_t n = strlen(line);
	line = xrealloc(line, n + 2);
	line[n++] = '\n';
	line[n] = '\0';
	*len = n;
	return line;
}


/* ---- passing events on ---------------------------------------------------- */

static void held_free(struct held *h)
{
	free(h->text);
	free(h->name);
	free(h->value);
	free(h->by);
	free(h->data);
	value_free(h->sample);
	cJSON_Delete(h->detail);
}

static void hold(struct journal *j, const struct eng_event *ev, uint64_t seq)
{
	if (j->held_head && j->held_head == j->nheld) {
		j->nheld = j->held_head = 0;
	}
	xgrow(&j->held, &j->capheld, j->nheld + 1, sizeof *j->held);
	struct held *h = &j->held[j->nheld++];
	*h = (struct held){.ev = *ev, .seq = seq};
	h->text = ev->text ? xstrdup(ev->text) : NULL;
	h->name = ev->name ? xstrdup(ev->name) : NULL;
	h->value = ev->value ? xstrdup(ev->value) : NULL;
	h->by = ev->by ? xstrdup(ev->by) : NULL;
	h->sample = ev->sample ? value_ref(ev->sample) : NULL;
	h->ev.items = NULL; /* in the line; the observer has the text */
	h->ev.nitems = 0;
	h->detail = ev->detail ? cJSON_Duplicate(ev->detail, true) : NULL;
	/* What the observer is given is what the line says. */
	mask_strings(j->mask, h->detail, incident_words);
	if (ev->type == ENG_EV_OUTPUT && ev->len) {
		h->data = xmalloc(ev->len);
		memcpy(h->data, ev->data, ev->len);
	} else {
		h->ev.data = NULL;
		h->ev.len = 0;
	}
}

/* Passes on every held event whose line is on disk (up to line upto). An
   observer's reaction may send new events (journaled and held in turn):
   they wait their turn. */
static void deliver_to(struct journal *j, uint64_t upto)
{
	if (j->delivering)
		return;
	j->delivering = true;
	while (j->held_head < j->nheld && j->held[j->held_head].seq <= upto) {
		struct held h = j->held[j->held_head++];
		h.ev.text = h.text;
		h.ev.name = h.name;
		h.ev.value = h.value;
		h.ev.by = h.by;
		h.ev.sample = h.sample;
		h.ev.detail = h.detail;
		if (h.data)
			h.ev.data = h.data;
		if (j->on_event)
			j->on_event(j->ud, &h.ev);
		held_free(&h);
	}
	if (j->held_head == j->nheld)
		j->held_head = j->nheld = 0;
	j->delivering = false;
}

/* Everything on disk; once the record is lost, everything. */
static void deliver(struct journal *j)
{
	deliver_to(j, j->lost ? UINT64_MAX : j->durable);
}

/* ---- writing ---------------------------------------------------------------- */

static void kick(struct journal *j);

/* Cuts the file back to its last synced line and syncs that; true when it
   could. A failed write or sync leaves bytes that are no part of the record. */
static bool cut_back(struct journal *j)
{
	int r;
	while ((r = ftruncate(j->fd, (off_t)j->size)) != 0 && errno == EINTR)
		;
	int e = 0;
	return r == 0 && sync_fd(j->fd, &e);
}

static void work_cb(uv_work_t *w)
{
	struct journal *j = w->data;
	int err = 0;
	j->wsync = false;
	j->wcut = true;
	if (!fd_write_all(j->fd, j->writing.s, j->writing.len, &err)) {
		j->wcut = cut_back(j);
	} else if (!sync_fd(j->fd, &err)) {
		/* Written, not on disk: not recorded, whatever the file shows now. */
		j->wsync = true;
		j->wcut = cut_back(j);
	}
	j->werr = err;
}

/*
 * The record is lost: nothing is written any more, the engine stops (no
 * step starts whose start would not be recorded), and every event still
 * held is passed on, journal_error saying what the record lacks.
 */
static void lose(struct journal *j, int err, bool sync, bool cut)
{
	if (j->lost)
		return;
	j->lost = true;
	free(j->error);
	unsigned long long last = (unsigned long long)j->durable + 1;
	j->error = cut ? xasprintf("the journal %s cannot be %s (%s): the record ends at line %llu", j->path,
	                           sync ? "synced to disk" : "written", strerror(err), last)
	               : xasprintf("the journal %s cannot be %s (%s): the record ends at line %llu (what follows it "
	                           "in the file could not be cut off: it is not in the record)",
	                           j->path, sync ? "synced to disk" : "written", strerror(err), last);
	j->pending.len = 0;
	if (j->engine) {
		char *why = xasprintf("the record is lost: its journal cannot be %s (%s)",
		                      sync ? "synced to disk" : "written", strerror(err));
		engine_record_lost(j->engine, why);
		free(why);
	}
	deliver(j);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct journal *j = w->data;
	j->in_flight = false;
	int err = status ? ECANCELED : j->werr;
	if (err) {
		j->writing.len = 0;
		lose(j, err, j->wsync, status ? true : j->wcut);
		return;
	}
	j->size += (long long)j->writing.len;
	j->durable = j->writing_last;
	lines_out(j, j->writing.s, j->writing.len);
	j->writing.len = 0;
	kick(j);
	/* Write-ahead: the steps whose start is in the record may run now. */
	if (j->engine)
		engine_recorded(j->engine, j->durable);
	deliver(j);
}

static void kick(struct journal *j)
{
	if (j->in_flight || j->lost || j->sealed || !j->pending.len)
		return;
	struct strbuf t = j->writing;
	j->writing = j->pending;
	j->pending = t;
	j->pending.len = 0;
	j->writing_last = j->seq;
	j->in_flight = true;
	j->work.data = j;
	if (uv_queue_work(j->loop, &j->work, work_cb, after_work_cb) != 0) {
		/* No thread pool: write here rather than lose the line. */
		work_cb(&j->work);
		after_work_cb(&j->work, 0);
	}
}

void journal_on_event(void *ud, const struct eng_event *ev)
{
	struct journal *j = ud;
	if (j->sealed)
		return; /* taken over: neither written nor shown (journal_seal) */
	if (ev->type == ENG_EV_OUTPUT || j->lost) {
		/* Bytes go to the spool file, not the journal, and once the record
		   is lost nothing more is written: shown at once, unless events
		   before them still wait for the disk (then after those, in order). */
		if (j->held_head == j->nheld && !j->delivering) {
			if (j->on_event)
				j->on_event(j->ud, ev);
		} else {
			hold(j, ev, j->seq);
		}
		return;
	}
	size_t n;
	char *line = event_line(j, ev, ++j->seq, &n);
	sb_add(&j->pending, line, n);
	free(line);
	hold(j, ev, j->seq);
	kick(j);
}

uint64_t journal_mark(void *ud)
{
	const struct journal *j = ud;
	if (j->lost || j->sealed)
		return UINT64_MAX; /* never: nothing starts any more */
	return j->seq > j->durable ? j->seq : 0;
}

void journal_attach(struct journal *j, struct engine *e)
{
	j->engine = e;
	engine_set_record(e, journal_mark, j);
}

/* ---- opening and closing --------------------------------------------------- */

/* The journal of dir opened with flags (a new one: O_CREAT | O_EXCL) and locked.
   A link is never followed, and only a regular file of ours is written: a
   journal swapped for a link or a device would have rbc write elsewhere. */
static struct journal *open_locked(uv_loop_t *loop, const char *dir, int flags, struct rbc_error *err)
{
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	int fd = rundir_open_file(dir, JOURNAL_FILE, O_WRONLY | O_APPEND | O_NONBLOCK | flags, 0600);
	if (fd < 0) {
		rbc_error_set(err, "cannot %s %s: %s", flags & O_CREAT ? "create" : "open", path,
		              errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		free(path);
		return NULL;
	}
	struct stat st = {0};
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		rbc_error_set(err, "cannot open %s: %s", path,
		              !S_ISREG(st.st_mode)      ? "not a regular file"
		              : st.st_uid != geteuid() ? "it belongs to another user"
		                                       : "it has other names (hard links)");
		close(fd);
		free(path);
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rbc_error_set(err, "%s is being written by another rbc: the run is still running", path);
		close(fd);
		free(path);
		return NULL;
	}
	struct journal *j = xcalloc(1, sizeof *j);
	j->loop = loop;
	j->fd = fd;
	j->path = path;
	return j;
}

struct journal *journal_create(uv_loop_t *loop, const char *dir, struct rbc_error *err)
{
	return open_locked(loop, dir, O_CREAT | O_EXCL, err);
}

struct journal *journal_reopen(uv_loop_t *loop, const char *dir, struct rbc_error *err)
{
	return open_locked(loop, dir, 0, err);
}

bool journal_continue(struct journal *j, uint64_t last_seq, long long good_len, struct rbc_error *err)
{
	/* What a crash left torn after the last whole event goes: the next
	   line must start on a line of its own. */
	int e = 0;
	if (ftruncate(j->fd, (off_t)good_len) != 0 ? (e = errno) : !sync_fd(j->fd, &e)) {
		rbc_error_set(err, "cannot truncate %s: %s", j->path, strerror(e));
		return false;
	}
	j->seq = j->durable = last_seq;
	j->size = good_len;
	return true;
}

/* The file's length: where the next line starts. */
static long long file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

/* Writes {"seq": seq, fields…} as a line and syncs it, on the calling thread. */
static bool put_sync(struct journal *j, uint64_t seq, cJSON *fields, struct rbc_error *err)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddNumberToObject(h, "seq", (double)seq);
	for (cJSON *c = fields ? fields->child : NULL; c;) {
		cJSON *next = c->next;
		cJSON_AddItemToObject(h, c->string, cJSON_DetachItemViaPointer(fields, c));
		c = next;
	}
	cJSON_Delete(fields);
	tidy(h);
	char *line = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	size_t n = strlen(line);
	line = xrealloc(line, n + 2);
	line[n] = '\n';
	line[n + 1] = '\0';
	int e = 0;
	bool ok = fd_write_all(j->fd, line, n + 1, &e) && sync_fd(j->fd, &e);
	if (ok)
		lines_out(j, line, n);
	else
		cut_back(j); /* a line not on disk is no part of the record */
	free(line);
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", j->path, strerror(e));
	return ok;
}

bool journal_append_sync(struct journal *j, cJSON *event, struct rbc_error *err)
{
	if (!put_sync(j, j->seq + 1, event, err))
		return false;
	j->durable = ++j->seq;
	j->size = file_size(j->fd);
	return true;
}

bool journal_header(struct journal *j, cJSON *header, struct rbc_error *err)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "ev", "run_header");
	cJSON_AddNumberToObject(h, "schema", JOURNAL_SCHEMA);
	for (cJSON *c = header ? header->child : NULL; c;) {
		cJSON *next = c->next;
		cJSON_AddItemToObject(h, c->string, cJSON_DetachItemViaPointer(header, c));
		c = next;
	}
	cJSON_Delete(header);
	/* Given values are text from outside (the command line's, argv, is
	   masked where it is made); the run's id, runbook ids, paths and
	   titles are rbc's and stay. */
	mask_strings(j->mask, cJSON_GetObjectItemCaseSensitive(h, "vars"), NULL);
	bool ok = put_sync(j, 0, h, err);
	j->size = file_size(j->fd);
	return ok;
}

void journal_set_observer(struct journal *j, void (*on_event)(void *ud, const struct eng_event *ev),
                          void *ud)
{
	j->on_event = on_event;
	j->ud = ud;
}

void journal_set_line_sink(struct journal *j, void (*on_line)(void *ud, const char *line, size_t len),
                           void *ud)
{
	j->on_line = on_line;
	j->line_ud = ud;
}

void journal_set_mask(struct journal *j, const struct mask *m)
{
	j->mask = m;
}

/* Taken over: what is not written yet never is, nor anything after it
   (journal.h). */
void journal_seal(struct journal *j)
{
	j->sealed = true;
	j->pending.len = 0;
	uint64_t keep = j->in_flight ? j->writing_last : j->durable;
	size_t n = j->held_head;
	while (n < j->nheld && j->held[n].seq <= keep)
		n++;
	for (size_t i = n; i < j->nheld; i++)
		held_free(&j->held[i]);
	j->nheld = n;
	if (j->held_head == j->nheld)
		j->held_head = j->nheld = 0;
	j->seq = keep;
}

bool journal_busy(const struct journal *j)
{
	return j && (j->in_flight || j->pending.len || j->held_head < j->nheld);
}

uint64_t journal_durable(const struct journal *j)
{
	return j->durable;
}

const char *journal_error(const struct journal *j)
{
	return j ? j->error : NULL;
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	for (size_t i = j->held_head; i < j->nheld; i++)
		held_free(&j->held[i]);
	free(j->held);
	sb_free(&j->pending);
	sb_free(&j->writing);
	close(j->fd);
	free(j->path);
	free(j->error);
	free(j);
}

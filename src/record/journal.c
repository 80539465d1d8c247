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
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rbc/incident.h"
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
	case ENG_EV_JUMP:
	case ENG_EV_WATCH_FIRED:
		if (ev->target) {
			char *id = journal_step_id(ev->target);
			cJSON_AddStringToObject(o, "target", id);
			free(id);
		}
		break;
	case ENG_EV_WAITING:
		cJSON_AddStringToObject(o, "for", s && s->wait == ENG_WAIT_CONFIRM ? "confirm" : "operator");
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
	if (j->in_flight || j->lost || !j->pending.len)
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
	if (j->lost)
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

int journal_locked(const char *dir)
{
	/* Not followed, never waiting for a writer (a FIFO in its place). */
	int fd = rundir_open_file(dir, JOURNAL_FILE, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -1 : 0;
	int r = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK ? 1 : 0;
	close(fd);
	return r;
}

/* ---- reading a journal's summary -------------------------------------------- */

const char *journal_state_name(enum journal_run_state s)
{
	static const char *const names[] = {"running", "interrupted", "stopped", "finished"};
	return names[s];
}

void journal_summary_free(struct journal_summary *s)
{
	free(s->id);
	free(s->runbooks);
	free(s->started);
	free(s->operator);
	free(s->verdict);
	*s = (struct journal_summary){0};
}

static char *json_strdup(const cJSON *o, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	return v ? xstrdup(v) : NULL;
}

/* ---- reading a journal back ------------------------------------------------ */

/*
 * What a line read back may hold. A journal is text on disk that anyone
 * with access could have changed: every field a reader uses is checked here,
 * once, so that readers (exports, resume, the listing, the history) can
 * trust the types they get. Fields not listed are left alone.
 */
enum field_kind {
	FIELD_STR,         /* a string */
	FIELD_STR_NULL,    /* a string or null */
	FIELD_BOOL,
	FIELD_NUM,         /* a finite number */
	FIELD_COUNT,       /* a whole number, 0 … 2^31 - 1, written as one */
	FIELD_SEQ,         /* a whole number, 0 … 2^53, written as one */
	FIELD_OBJ,         /* an object */
	FIELD_STRS,        /* an array of strings */
	FIELD_VARS,        /* an object of strings */
	FIELD_RUNBOOKS,    /* the header's runbooks */
	FIELD_CRITERIA,    /* a resolution's exit criteria */
	FIELD_TIME,        /* a UTC time as rbc writes it: 2026-12-04T01:52:40(.366)Z */
	FIELD_VERDICT,     /* PASS, WARN, FAIL, UNKNOWN, ERROR */
	FIELD_EV,          /* an event rbc writes */
};

static const struct field_rule {
	const char *name;
	enum field_kind kind;
} field_rules[] = { /* sorted by name (strcmp): found by bsearch */
	{"about", FIELD_STR}, {"after", FIELD_BOOL}, {"argv", FIELD_STRS}, {"at", FIELD_STR},
	{"attempt", FIELD_COUNT}, {"automatic", FIELD_BOOL}, {"by", FIELD_STR}, {"criteria", FIELD_CRITERIA},
	{"cut", FIELD_BOOL}, {"dropped_last", FIELD_BOOL}, {"duration_ms", FIELD_NUM}, {"ev", FIELD_EV}, {"events", FIELD_SEQ},
	{"for", FIELD_STR}, {"forced", FIELD_BOOL}, {"from", FIELD_STR_NULL}, {"group", FIELD_BOOL},
	{"host", FIELD_STR}, {"id", FIELD_STR}, {"impact_start", FIELD_TIME}, {"lost_captures", FIELD_STRS},
	{"main", FIELD_BOOL}, {"name", FIELD_STR}, {"note", FIELD_STR}, {"number", FIELD_STR},
	{"operator", FIELD_STR}, {"output", FIELD_STR}, {"pid", FIELD_COUNT}, {"rbc", FIELD_STR},
	{"role", FIELD_STR}, {"run", FIELD_STR}, {"runbooks", FIELD_RUNBOOKS}, {"sample", FIELD_OBJ},
	{"schema", FIELD_COUNT}, {"seq", FIELD_SEQ}, {"started", FIELD_TIME}, {"state", FIELD_STR},
	{"step", FIELD_STR}, {"stopped", FIELD_BOOL}, {"t", FIELD_TIME}, {"target", FIELD_STR},
	{"text", FIELD_STR}, {"title", FIELD_STR}, {"to", FIELD_STR_NULL}, {"todo", FIELD_COUNT},
	{"value", FIELD_STR_NULL}, {"value_bytes", FIELD_COUNT}, {"value_sha256", FIELD_STR},
	{"vars", FIELD_VARS}, {"verdict", FIELD_VERDICT}, {"what", FIELD_STR},
};

static int by_rule_name(const void *a, const void *b)
{
	return strcmp(((const struct field_rule *)a)->name, ((const struct field_rule *)b)->name);
}

static bool whole_number(const cJSON *c, double max)
{
	return cJSON_IsNumber(c) && isfinite(c->valuedouble) && c->valuedouble >= 0 && c->valuedouble <= max &&
	       c->valuedouble == floor(c->valuedouble);
}

static bool all_strings(const cJSON *c)
{
	for (const cJSON *e = c->child; e; e = e->next)
		if (!cJSON_IsString(e) || !e->valuestring)
			return false;
	return true;
}

/* Checks the keys of o listed in rules (n of them); why names the first bad one. */
struct key_rule {
	const char *name;
	enum field_kind kind;
	bool required;
};
static bool check_keys(const cJSON *o, const char *where, const struct key_rule *rules, size_t n, char **why);

/* Whether s is a UTC time as rbc writes it, "2026-12-04T01:52:40Z" or with
   milliseconds, ".366Z", and a real one (a database takes it as it is). */
static bool time_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);
	if (n != 20 && n != 24)
		return false;
	for (size_t i = 0; i < 19; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	if (n == 24 && (s[19] != '.' || s[20] < '0' || s[20] > '9' || s[21] < '0' || s[21] > '9' || s[22] < '0' ||
	                s[22] > '9'))
		return false;
	if (s[n - 1] != 'Z')
		return false;
#define DIGITS2(p) (((p)[0] - '0') * 10 + (p)[1] - '0')
	int year = DIGITS2(s) * 100 + DIGITS2(s + 2), month = DIGITS2(s + 5), day = DIGITS2(s + 8);
	int hour = DIGITS2(s + 11), min = DIGITS2(s + 14), sec = DIGITS2(s + 17);
#undef DIGITS2
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 &&
	       day <= (month == 2 && !leap ? 28 : mdays[month - 1]) && hour <= 23 && min <= 59 && sec <= 59;
}

/* The events rbc writes: the engine's, the header and a resume's line. */
static bool event_name_ok(const char *s)
{
#define X(e, name) if (strcmp(s, name) == 0) return true;
	ENG_EVENTS(X)
#undef X
	return strcmp(s, "run_header") == 0 || strcmp(s, "run_resumed") == 0;
}

/* Whether c is what a field of that kind holds. */
static bool field_ok(const cJSON *c, enum field_kind kind, const char *name, char **why)
{
	switch (kind) {
	case FIELD_TIME:
		return cJSON_IsString(c) && c->valuestring && time_ok(c->valuestring);
	case FIELD_VERDICT: {
		enum rbc_verdict v;
		return cJSON_IsString(c) && c->valuestring && verdict_parse(c->valuestring, &v);
	}
	case FIELD_EV:
		return cJSON_IsString(c) && c->valuestring && event_name_ok(c->valuestring);
	case FIELD_STR:
		return cJSON_IsString(c) && c->valuestring;
	case FIELD_STR_NULL:
		return cJSON_IsNull(c) || (cJSON_IsString(c) && c->valuestring);
	case FIELD_BOOL:
		return cJSON_IsBool(c);
	case FIELD_NUM:
		return cJSON_IsNumber(c) && isfinite(c->valuedouble);
	case FIELD_COUNT:
		return whole_number(c, 2147483647.0);
	case FIELD_SEQ:
		return whole_number(c, 9007199254740992.0);
	case FIELD_OBJ:
		return cJSON_IsObject(c);
	case FIELD_STRS:
		return cJSON_IsArray(c) && all_strings(c);
	case FIELD_VARS:
		return cJSON_IsObject(c) && all_strings(c);
	case FIELD_RUNBOOKS: {
		static const struct key_rule rb_rules[] = {
			{"id", FIELD_STR, true},       {"file", FIELD_STR, false},  {"kind", FIELD_STR, false},
			{"title", FIELD_STR, false},   {"sha256", FIELD_STR_NULL, false},
			{"included", FIELD_BOOL, false}, {"levels", FIELD_STRS, false}, {"roles", FIELD_STRS, false},
		};
		static const struct key_rule step_rules[] = {
			{"id", FIELD_STR, true},       {"number", FIELD_STR, false}, {"title", FIELD_STR, false},
			{"group", FIELD_BOOL, false},  {"on_demand", FIELD_BOOL, false},
		};
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *rb = c->child; rb; rb = rb->next) {
			if (!cJSON_IsObject(rb)) {
				*why = xasprintf("\"%s\" holds something that is not a runbook", name);
				return false;
			}
			if (!check_keys(rb, "a runbook", rb_rules, RBC_ARRAY_LEN(rb_rules), why))
				return false;
			/* An incident's lines name its levels and roles: the record keeps them. */
			const char *rk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "kind"));
			const char *missing = !rk || strcmp(rk, "incident") != 0                    ? NULL
			                    : !cJSON_GetObjectItemCaseSensitive(rb, "levels") ? "levels"
			                    : !cJSON_GetObjectItemCaseSensitive(rb, "roles")  ? "roles"
			                                                                      : NULL;
			if (missing) {
				*why = xasprintf("an incident runbook has no \"%s\"", missing);
				return false;
			}
			const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rb, "steps");
			if (!steps)
				continue;
			if (!cJSON_IsArray(steps)) {
				*why = xstrdup("a runbook's \"steps\" is not a list");
				return false;
			}
			for (const cJSON *st = steps->child; st; st = st->next) {
				if (!cJSON_IsObject(st)) {
					*why = xstrdup("a runbook's \"steps\" holds something that is not a step");
					return false;
				}
				if (!check_keys(st, "a runbook's step", step_rules, RBC_ARRAY_LEN(step_rules), why))
					return false;
			}
		}
		return true;
	}
	case FIELD_CRITERIA: {
		static const struct key_rule rules[] = {
			{"criterion", FIELD_STR, false}, {"met", FIELD_BOOL, false}, {"reason", FIELD_STR, false},
		};
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *e = c->child; e; e = e->next)
			if (!cJSON_IsObject(e) || !check_keys(e, "an exit criterion", rules, RBC_ARRAY_LEN(rules), why))
				return false;
		return true;
	}
	}
	return false;
}

static bool check_keys(const cJSON *o, const char *where, const struct key_rule *rules, size_t n, char **why)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (const cJSON *c = o->child; c; c = c->next) {
			if (!c->string || strcmp(c->string, rules[i].name) != 0)
				continue;
			seen = true;
			if (!field_ok(c, rules[i].kind, rules[i].name, why)) {
				if (!*why)
					*why = xasprintf("%s's \"%s\" is not what rbc writes there", where, rules[i].name);
				return false;
			}
		}
		if (rules[i].required && !seen) {
			*why = xasprintf("%s has no \"%s\"", where, rules[i].name);
			return false;
		}
	}
	return true;
}

/*
 * What a reader carries from line to line to judge the next: the run
 * directory's name (the header's run), and the incident the lines build —
 * its levels and roles (the first runbook's, as the record gives them:
 * the header's, then a forced resume's), whether it was declared, and
 * which of its entries are todos (a todo_done names one by its index).
 */
struct line_check {
	char *dir_name;
	cJSON *incident;          /* the first runbook's entry when it is an incident's (a copy) */
	bool declared;
	size_t entries;           /* incident lines so far: the incident's entries */
	bool *todo;               /* per entry: a todo */
	size_t captodo;
};

static void line_check_init(struct line_check *k, const char *dir)
{
	*k = (struct line_check){0};
	/* The directory's own name, however dir was written (a trailing
	   slash, ".", a relative path). */
	char *real = realpath(dir, NULL);
	const char *d = real ? real : dir;
	size_t n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		n--;
	size_t b = n;
	while (b && d[b - 1] != '/')
		b--;
	k->dir_name = xstrndup(d + b, n - b);
	free(real);
}

static void line_check_free(struct line_check *k)
{
	free(k->dir_name);
	cJSON_Delete(k->incident);
	free(k->todo);
}

/* The runbooks of a tree (the header's, a forced resume's): its first is
   the incident's when it is an incident runbook. */
static void line_check_tree(struct line_check *k, const cJSON *rbs)
{
	const cJSON *first = cJSON_GetArrayItem(rbs, 0);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "kind"));
	cJSON_Delete(k->incident);
	k->incident = kind && strcmp(kind, "incident") == 0 ? cJSON_Duplicate(first, true) : NULL;
}

static bool listed(const cJSON *list, const char *s)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		const char *v = cJSON_GetStringValue(c);
		if (v && s && strcmp(v, s) == 0)
			return true;
	}
	return false;
}

/*
 * An incident line as the incident takes it (incident_apply): declared
 * once and first, at one of its levels; a level, a status and a role it
 * has; a todo_done naming a todo; a notification's end. NULL, or why not.
 */
static char *check_incident(const cJSON *o, struct line_check *k)
{
	const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "what"));
	const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "to"));
	if (!k->incident)
		return xstrdup("an incident line in a run whose first runbook is no incident runbook");
	int kind = -1, i = 0;
#define X(e, w) if (kind < 0 && what && strcmp(what, w) == 0) kind = i; i++;
	INC_KINDS(X)
#undef X
	if (kind < 0)
		return xasprintf("an incident line with an unknown \"what\" \"%s\"", what ? what : "");
	if (kind != INC_EV_DECLARED && !k->declared)
		return xasprintf("a %s line before the incident was declared", what);
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(k->incident, "levels");
	enum inc_status st;
	switch ((enum inc_kind)kind) {
	case INC_EV_DECLARED:
		if (k->declared)
			return xstrdup("a second declaration of the incident");
		if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id")) ||
		    !cJSON_GetObjectItemCaseSensitive(o, "impact_start"))
			return xstrdup("a declaration without its \"id\" or \"impact_start\"");
		if (!listed(levels, to))
			return xasprintf("a declaration at an unknown level \"%s\"", to ? to : "");
		k->declared = true;
		break;
	case INC_EV_SEVERITY:
		if (!listed(levels, to))
			return xasprintf("a change to an unknown level \"%s\"", to ? to : "");
		break;
	case INC_EV_STATUS:
		if (!to || !incident_status_parse(to, &st))
			return xasprintf("a change to an unknown status \"%s\"", to ? to : "");
		break;
	case INC_EV_ROLE: {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "role"));
		if (!listed(cJSON_GetObjectItemCaseSensitive(k->incident, "roles"), role))
			return xasprintf("an unknown role \"%s\"", role ? role : "");
		break;
	}
	case INC_EV_TODO_DONE: {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "todo");
		if (!n || (size_t)n->valuedouble >= k->entries || !k->todo[(size_t)n->valuedouble])
			return xstrdup("a todo_done that names no todo");
		break;
	}
	case INC_EV_NOTIFICATION: {
		/* The ends of a delivery are journaled: retried, delivered, failed. */
		static const char *const ends[] = {"retrying", "delivered", "failed"};
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
		bool known = false;
		for (size_t e = 0; state && e < RBC_ARRAY_LEN(ends); e++)
			known = known || strcmp(state, ends[e]) == 0;
		if (!known)
			return xasprintf("a notification in an unknown state \"%s\"", state ? state : "");
		break;
	}
	default:
		break;
	}
	xgrow(&k->todo, &k->captodo, k->entries + 1, sizeof *k->todo);
	k->todo[k->entries++] = kind == INC_EV_TODO;
	return NULL;
}

/*
 * The first key that o, or an object anywhere inside it, has twice, or
 * NULL. A reader that takes the first of two and one that takes the last
 * (a database's jsonb) would disagree on what the line says.
 */
static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *twice(const cJSON *o)
{
	if (!o)
		return NULL;
	if (cJSON_IsObject(o)) {
		size_t n = 0;
		for (const cJSON *c = o->child; c; c = c->next)
			n++;
		if (n > 1) {
			const char **keys = xmalloc(n * sizeof *keys);
			size_t i = 0;
			for (const cJSON *c = o->child; c; c = c->next)
				keys[i++] = c->string ? c->string : "";
			qsort(keys, n, sizeof *keys, by_key);
			const char *dup = NULL;
			for (i = 1; i < n && !dup; i++)
				if (strcmp(keys[i - 1], keys[i]) == 0)
					dup = keys[i];
			free(keys);
			if (dup)
				return dup;
		}
	}
	for (const cJSON *c = o->child; c; c = c->next) {
		const char *d = twice(c);
		if (d)
			return d;
	}
	return NULL;
}

/* Whether the number written at s (n bytes) is one JSON allows. */
static bool json_number_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static const struct field_rule *rule_of(const char *name)
{
	const struct field_rule key = {.name = name};
	return bsearch(&key, field_rules, RBC_ARRAY_LEN(field_rules), sizeof key, by_rule_name);
}

/*
 * The line's text as rbc writes it, beyond what the JSON parser checks:
 * UTF-8 without a NUL (raw or as \u0000) and without a raw control
 * character in a string, numbers as JSON writes them and whole numbers
 * (seq, attempt, …) without a fraction or an exponent, the line's keys
 * written plainly, and nothing after the object. What a database refuses
 * or reads otherwise, the reader refuses. NULL, or why not.
 */
static char *check_text(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (memchr(s, '\0', n))
		return xstrdup("a NUL byte in the line");
	size_t bad = 0;
	if (!utf8_valid(s, n, &bad))
		return xasprintf("bytes that are not UTF-8 (at byte %zu)", bad + 1);
	int depth = 0;
	bool closed = false, want_key = false;
	char key[64] = "";
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == ' ' || ch == '\t')
			continue;
		if (closed)
			return xstrdup("more after the event's object");
		if (ch == '"') {
			size_t from = ++i;
			bool escaped = false;
			for (; i < n && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return xstrdup("a control character written raw in a string");
				if (s[i] == '\\') {
					if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0)
						return xstrdup("a NUL character (\\u0000) in a string");
					escaped = true;
					i++;
				}
			}
			if (depth == 1 && want_key) {
				if (escaped)
					return xstrdup("a key of the line written with an escape");
				size_t kl = i - from < sizeof key - 1 ? i - from : sizeof key - 1;
				memcpy(key, s + from, kl);
				key[kl] = '\0';
				want_key = false;
			}
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
			want_key = depth == 1 && ch == '{';
			continue;
		}
		if (ch == '}' || ch == ']') {
			closed = --depth == 0;
			continue;
		}
		if (ch == ',') {
			want_key = depth == 1;
			continue;
		}
		if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t from = i;
			while (i + 1 < n && strchr("+-.eE0123456789", s[i + 1]))
				i++;
			size_t len = i - from + 1;
			if (!json_number_ok(s + from, len))
				return xasprintf("a number written as %.*s", (int)(len < 40 ? len : 40), s + from);
			const struct field_rule *r = depth == 1 ? rule_of(key) : NULL;
			if (r && (r->kind == FIELD_COUNT || r->kind == FIELD_SEQ) && strcspn(s + from, "-.eE") < len)
				return xasprintf("\"%s\" is not written as a whole number", key);
		}
	}
	return NULL;
}

/*
 * Whether o, read from raw (len bytes), may be line `line` of a journal:
 * written as rbc writes a line, its fields of the types rbc writes and its
 * words (events, verdicts, states, an incident's levels and roles) ones rbc
 * writes, the header first and only first, naming the run of its
 * directory, and its seq the line's place (from 0, without a gap: a line
 * deleted, repeated or moved shows here). NULL when it may, else why not
 * (a new string).
 */
static char *check_line(const cJSON *o, const char *raw, size_t len, unsigned long line, struct line_check *k)
{
	char *why = NULL;
	const char *dup = twice(o);
	if (dup)
		return xasprintf("\"%s\" twice in one object", dup);
	for (const cJSON *c = o->child; c; c = c->next) {
		const struct field_rule *rule = c->string ? rule_of(c->string) : NULL;
		if (rule && !field_ok(c, rule->kind, c->string, &why))
			return why ? why : xasprintf("\"%s\" is not what rbc writes there", c->string);
	}
	if ((why = check_text(raw, len)))
		return why;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	if (!seq || !ev)
		return xasprintf("not an event: no \"%s\"", seq ? "ev" : "seq");
	bool header = strcmp(ev, "run_header") == 0;
	if (line == 1 && !header)
		return xstrdup("no run header on the first line");
	if (line > 1 && header)
		return xstrdup("a second run header: lines of another journal are in this one");
	if (header && (!cJSON_GetObjectItemCaseSensitive(o, "run") || !cJSON_GetObjectItemCaseSensitive(o, "runbooks")))
		return xasprintf("the run header has no \"%s\"", cJSON_GetObjectItemCaseSensitive(o, "run") ? "runbooks" : "run");
	double want = (double)(line - 1), got = seq->valuedouble;
	if (got > want)
		return xasprintf("seq %.0f where %.0f was expected: %.0f line%s before it %s missing (deleted or moved)",
		                 got, want, got - want, got - want == 1 ? "" : "s", got - want == 1 ? "is" : "are");
	if (got < want)
		return xasprintf("seq %.0f where %.0f was expected: the line with seq %.0f is repeated or moved", got, want,
		                 got);
	if (header) {
		const char *run = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "run"));
		if (strcmp(run, k->dir_name) != 0)
			return xasprintf("the run header names the run \"%s\", not its directory's \"%s\"", run, k->dir_name);
		line_check_tree(k, cJSON_GetObjectItemCaseSensitive(o, "runbooks"));
		return NULL;
	}
	if (!cJSON_GetObjectItemCaseSensitive(o, "t"))
		return xstrdup("not an event: no \"t\"");
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
	if (strcmp(ev, "step_finished") == 0 && state && strcmp(state, "done") != 0 &&
	    strcmp(state, "skipped") != 0 && strcmp(state, "cancelled") != 0)
		return xasprintf("a step ended in an unknown state \"%s\"", state);
	if (strcmp(ev, "run_resumed") == 0 && cJSON_GetObjectItemCaseSensitive(o, "runbooks"))
		line_check_tree(k, cJSON_GetObjectItemCaseSensitive(o, "runbooks"));
	if (strcmp(ev, "incident") == 0)
		return check_incident(o, k);
	return NULL;
}

/* dir's journal opened for reading, or NULL with err: a regular file only,
   never a link followed, never a wait on a FIFO or a device. */
static FILE *open_read(const char *dir, const char *path, struct rbc_error *err)
{
	int fd = rundir_open_file(dir, JOURNAL_FILE, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0) {
		rbc_error_set(err, "%s: %s", path, errno == ELOOP ? "a symbolic link, not a journal: refused" : strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rbc_error_set(err, "%s: not a regular file: refused", path);
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		rbc_error_set(err, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

bool journal_replay(const char *dir,
                    bool (*fn)(void *ud, const cJSON *ev, const char *raw, unsigned long line),
                    void *ud, bool *dropped_last, struct rbc_error *err)
{
	if (dropped_last)
		*dropped_last = false;
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	FILE *f = open_read(dir, path, err);
	if (!f) {
		free(path);
		return false;
	}
	char *line = NULL, *prev_raw = NULL;
	size_t cap = 0, prev_cap = 0;
	ssize_t n;
	unsigned long no = 0;
	cJSON *prev = NULL;            /* a line is judged once the next one is read */
	unsigned long prev_no = 0;
	bool prev_bad = false, ok = true;
	struct line_check k;
	line_check_init(&k, dir);
	while (ok && (n = getline(&line, &cap, f)) > 0) {
		no++;
		if (prev_bad) {
			rbc_error_set(err, "%s:%lu: not a JSON event: the journal is damaged before its end", path,
			              prev_no);
			ok = false;
			break;
		}
		if (prev && !fn(ud, prev, prev_raw, prev_no))
			ok = false;
		cJSON_Delete(prev);
		prev = NULL;
		bool whole = line[n - 1] == '\n';
		prev = whole ? cJSON_ParseWithLength(line, (size_t)n) : NULL;
		prev_bad = !prev || !cJSON_IsObject(prev);
		prev_no = no;
		char *why = prev_bad ? NULL : check_line(prev, line, (size_t)n, no, &k);
		if (why) {
			/* A whole line that parses was written whole: not a crash's
			   doing but a change, wherever it is. */
			rbc_error_set(err, "%s:%lu: %s: the journal is damaged", path, no, why);
			free(why);
			ok = false;
			break;
		}
		/* keep the text of the line being held */
		char *t = prev_raw;
		size_t tc = prev_cap;
		prev_raw = line;
		prev_cap = cap;
		line = t;
		cap = tc;
	}
	if (ok && prev_bad && prev_no && dropped_last)
		*dropped_last = true; /* torn by a crash while it was written: not an event */
	if (ok && prev && !prev_bad && !fn(ud, prev, prev_raw, prev_no))
		ok = false;
	cJSON_Delete(prev);
	free(line);
	free(prev_raw);
	fclose(f);
	free(path);
	line_check_free(&k);
	return ok;
}

cJSON *journal_read_header(const char *dir, struct rbc_error *err)
{
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	FILE *f = open_read(dir, path, err);
	if (!f) {
		free(path);
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	fclose(f);
	cJSON *h = n > 0 && line[n - 1] == '\n' ? cJSON_ParseWithLength(line, (size_t)n) : NULL;
	struct line_check k;
	line_check_init(&k, dir);
	char *why = cJSON_IsObject(h) ? check_line(h, line, (size_t)n, 1, &k) : xstrdup("no run header");
	line_check_free(&k);
	free(line);
	if (why) {
		rbc_error_set(err, "%s:1: %s", path, why);
		free(why);
		cJSON_Delete(h);
		h = NULL;
	}
	free(path);
	return h;
}

struct summary_ctx {
	struct journal_summary *s;
	bool have_header;
	struct rbc_error *err;
	const char *dir;
};

static bool summary_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)raw;
	struct summary_ctx *x = ud;
	struct journal_summary *s = x->s;
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	if (!x->have_header) {
		if (line != 1 || !ev || strcmp(ev, "run_header") != 0) {
			rbc_error_set(x->err, "%s/%s:%lu: no run header on the first line", x->dir, JOURNAL_FILE, line);
			return false;
		}
		x->have_header = true;
		s->id = json_strdup(o, "run");
		s->started = json_strdup(o, "started");
		s->operator = json_strdup(o, "operator");
		struct strbuf ids = {0};
		const cJSON *rb;
		cJSON_ArrayForEach(rb, cJSON_GetObjectItemCaseSensitive(o, "runbooks"))
		{
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb, "included")))
				continue;
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "id"));
			sb_addf(&ids, "%s%s", ids.len ? "," : "", id ? id : "?");
		}
		s->runbooks = sb_take(&ids);
		return true;
	}
	s->events++;
	if (ev && strcmp(ev, "run_finished") == 0) {
		free(s->verdict);
		s->verdict = json_strdup(o, "verdict");
		s->stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped"));
	} else if (ev && (strcmp(ev, "run_resumed") == 0 || strcmp(ev, "step_started") == 0 ||
	                  strcmp(ev, "run_started") == 0)) {
		/* It goes on (a resume, a step run by hand after the end): not
		   finished until it says so again. */
		free(s->verdict);
		s->verdict = NULL;
		s->stopped = false;
	}
	return true;
}

bool journal_summary(const char *dir, struct journal_summary *s, struct rbc_error *err)
{
	*s = (struct journal_summary){0};
	struct summary_ctx x = {.s = s, .err = err, .dir = dir};
	bool ok = journal_replay(dir, summary_line, &x, &s->dropped_last, err);
	if (ok && !x.have_header) {
		rbc_error_set(err, "%s/%s: empty: no run header", dir, JOURNAL_FILE);
		ok = false;
	}
	if (!ok) {
		journal_summary_free(s);
		return false;
	}
	int locked = journal_locked(dir);
	s->state = locked == 1 ? JOURNAL_RUNNING
	         : s->verdict ? (s->stopped ? JOURNAL_STOPPED : JOURNAL_FINISHED)
	                      : JOURNAL_INTERRUPTED;
	return true;
}

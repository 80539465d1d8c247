/*
 * journal.c — the run's journal (see journal.h, docs/journal.md).
 *
 * `pending` collects the lines of events as they come; when no write is
 * under way it becomes `writing`, and a uv_work appends it whole. Once
 * written, its lines wait in `unsynced` for a second uv_work that
 * fdatasyncs the file; writes go on while a sync is under way. A write
 * that ends lets the engine start the steps whose start it held (write-
 * ahead: no step runs that the file does not say started); a sync that
 * ends passes the events whose lines it covered on to the observer, in
 * order. The loop thread only formats lines and swaps buffers.
 *
 * A line that cannot be written (a full disk, a file-size limit) loses the
 * record: what was torn is cut off, nothing is written any more, the engine
 * is told (nothing new starts; the run stops) and the events still held are
 * passed on with journal_error set, so that what ran is shown as lost.
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
	uint64_t written;        /* lines in the file (perhaps not synced yet) */
	uint64_t durable;        /* lines on disk */
	long long size;          /* bytes of whole lines in the file */
	struct strbuf pending, writing;
	uint64_t writing_last;   /* the last line in `writing` */
	bool in_flight;          /* the write work */
	uv_work_t work;
	int werr;                /* the worker's errno */
	struct strbuf unsynced, syncing; /* written lines waiting for (under) a sync */
	uint64_t syncing_last;
	bool sync_in_flight;
	uv_work_t sync_work;
	int serr;
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

/* The line of an event, masked, with its newline. */
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
		add_str(o, "title", s ? s->title : NULL);
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
			add_str(o, "note", s->note);
			if (s->spool_path)
				cJSON_AddStringToObject(o, "output", s->spool_path);
		}
		break;
	case ENG_EV_SAMPLE:
		cJSON_AddStringToObject(o, "verdict", verdict_name(ev->verdict));
		if (ev->sample) {
			cJSON *v = value_to_json(ev->sample);
			if (v)
				cJSON_AddItemToObject(o, "sample", v);
		}
		break;
	case ENG_EV_CAPTURE:
		add_str(o, "name", ev->name);
		if (ev->value)
			cJSON_AddStringToObject(o, "value", ev->value);
		else
			cJSON_AddNullToObject(o, "value");
		if (ev->sample && ev->sample->type != VALUE_STR) {
			/* its type, for a resume (a string is the value itself) */
			cJSON *v = value_to_json(ev->sample);
			if (v)
				cJSON_AddItemToObject(o, "json", v);
		}
		break;
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
	case ENG_EV_INCIDENT:
		/* The incident event's own fields; the line's time and number are
		   the journal's. */
		for (const cJSON *c = ev->detail ? ev->detail->child : NULL; c; c = c->next)
			if (c->string && strcmp(c->string, "t") && strcmp(c->string, "seq") && strcmp(c->string, "ev") &&
			    strcmp(c->string, "by") && strcmp(c->string, "text") && strcmp(c->string, "automatic"))
				cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, true));
		add_str(o, "text", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->detail, "text")));
		break;
	default:
		break;
	}
	add_str(o, "text", ev->text);
	add_str(o, "by", ev->by);
	if (ev->type == ENG_EV_CONFIRMED || ev->by)
		cJSON_AddBoolToObject(o, "automatic", ev->automatic);
	char *raw = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	size_t n = 0;
	char *line = mask_text_n(j->mask, raw, strlen(raw), &n, NULL);
	free(raw);
	line = xrealloc(line, n + 2);
	line[n++] = '\n';
	line[n] = '\0';
	*len = n;
	return line;
}

/* Masks every string of o in place: what the observer is given is what the
   line says. */
static void mask_json(const struct mask *m, cJSON *o)
{
	for (cJSON *c = o->child; c; c = c->next) {
		if (cJSON_IsString(c) && c->valuestring) {
			size_t n = 0;
			char *s = mask_text_n(m, c->valuestring, strlen(c->valuestring), &n, NULL);
			cJSON_SetValuestring(c, s);
			free(s);
		} else if (c->child) {
			mask_json(m, c);
		}
	}
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
	if (h->detail)
		mask_json(j->mask, h->detail);
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
static void kick_sync(struct journal *j);

static void work_cb(uv_work_t *w)
{
	struct journal *j = w->data;
	int err = 0;
	if (!fd_write_all(j->fd, j->writing.s, j->writing.len, &err)) {
		/* What was torn goes: the file ends on its last whole line. */
		while (ftruncate(j->fd, (off_t)j->size) != 0 && errno == EINTR)
			;
	}
	j->werr = err;
}

static void sync_work_cb(uv_work_t *w)
{
	struct journal *j = w->data;
	int err = 0;
	sync_fd(j->fd, &err);
	j->serr = err;
}

/*
 * The record is lost: nothing is written any more, the engine stops (no
 * step starts whose start would not be recorded), and every event still
 * held is passed on, journal_error saying what the record lacks.
 */
static void lose(struct journal *j, int err)
{
	if (j->lost)
		return;
	/* What the file holds is passed on first, as it would have been: the
	   loss is said between what the record has and what it does not. */
	deliver_to(j, j->written);
	j->lost = true;
	free(j->error);
	j->error = xasprintf("the journal %s cannot be written (%s): the record ends at line %llu", j->path,
	                     strerror(err), (unsigned long long)j->written + 1);
	j->pending.len = 0;
	kick_sync(j); /* what was written before still goes to disk */
	if (j->engine) {
		char *why = xasprintf("the record is lost: its journal cannot be written (%s)", strerror(err));
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
		lose(j, err);
		return;
	}
	j->size += (long long)j->writing.len;
	j->written = j->writing_last;
	sb_add(&j->unsynced, j->writing.s, j->writing.len);
	j->writing.len = 0;
	kick_sync(j);
	if (j->lost)
		return; /* lost by a sync meanwhile: nothing more goes on */
	kick(j);
	/* Write-ahead: the steps whose start is in the file may run now. */
	if (j->engine)
		engine_recorded(j->engine, j->written);
}

static void after_sync_cb(uv_work_t *w, int status)
{
	struct journal *j = w->data;
	j->sync_in_flight = false;
	int err = status ? ECANCELED : j->serr;
	if (err) {
		j->syncing.len = 0;
		j->unsynced.len = 0; /* no later sync can vouch for them */
		lose(j, err);
		return;
	}
	j->durable = j->syncing_last;
	lines_out(j, j->syncing.s, j->syncing.len);
	j->syncing.len = 0;
	kick_sync(j);
	deliver(j);
}

static void kick_sync(struct journal *j)
{
	/* Lines written before a loss are still synced. */
	if (j->sync_in_flight || !j->unsynced.len)
		return;
	struct strbuf t = j->syncing;
	j->syncing = j->unsynced;
	j->unsynced = t;
	j->unsynced.len = 0;
	j->syncing_last = j->written;
	j->sync_in_flight = true;
	j->sync_work.data = j;
	if (uv_queue_work(j->loop, &j->sync_work, sync_work_cb, after_sync_cb) != 0) {
		/* No thread pool: sync here rather than lose the line. */
		sync_work_cb(&j->sync_work);
		after_sync_cb(&j->sync_work, 0);
	}
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
	return j->seq > j->written ? j->seq : 0;
}

void journal_attach(struct journal *j, struct engine *e)
{
	j->engine = e;
	engine_set_record(e, journal_mark, j);
}

/* ---- opening and closing --------------------------------------------------- */

/* The journal of dir opened with flags (a new one: O_CREAT | O_EXCL) and locked. */
static struct journal *open_locked(uv_loop_t *loop, const char *dir, int flags, struct rbc_error *err)
{
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | flags, 0600);
	if (fd < 0) {
		rbc_error_set(err, "cannot %s %s: %s", flags & O_CREAT ? "create" : "open", path, strerror(errno));
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
	j->seq = j->written = j->durable = last_seq;
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
	char *raw = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	size_t n = 0;
	char *line = mask_text_n(j->mask, raw, strlen(raw), &n, NULL);
	free(raw);
	int e = 0;
	bool ok = fd_write_all(j->fd, line, n, &e) && fd_write_all(j->fd, "\n", 1, &e) && sync_fd(j->fd, &e);
	if (ok)
		lines_out(j, line, n);
	free(line);
	if (!ok)
		rbc_error_set(err, "cannot write %s: %s", j->path, strerror(e));
	return ok;
}

bool journal_append_sync(struct journal *j, cJSON *event, struct rbc_error *err)
{
	if (!put_sync(j, j->seq + 1, event, err))
		return false;
	j->written = j->durable = ++j->seq;
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
	return j && (j->in_flight || j->sync_in_flight || j->pending.len || j->unsynced.len ||
	             j->held_head < j->nheld);
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
	sb_free(&j->unsynced);
	sb_free(&j->syncing);
	close(j->fd);
	free(j->path);
	free(j->error);
	free(j);
}

int journal_locked(const char *dir)
{
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return -1;
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

bool journal_replay(const char *dir,
                    bool (*fn)(void *ud, const cJSON *ev, const char *raw, unsigned long line),
                    void *ud, bool *dropped_last, struct rbc_error *err)
{
	if (dropped_last)
		*dropped_last = false;
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	FILE *f = fopen(path, "re");
	if (!f) {
		rbc_error_set(err, "%s: %s", path, strerror(errno));
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
	return ok;
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
	} else if (ev && strcmp(ev, "run_resumed") == 0) {
		free(s->verdict); /* it goes on: not finished until it says so again */
		s->verdict = NULL;
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

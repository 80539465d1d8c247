/*
 * follow.c — a run followed from its record (follow.h): each line checked
 * by the journal's checker, applied as `rbc resume` applies it, and passed
 * on as the engine's event; and the local journal followed as it grows.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal_internal.h"
#include "rbc/follow.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/rundir.h"
#include "rbc/util.h"
#include "rbc/value.h"

struct follower {
	char *run;
	struct engine *e;
	struct follow_cbs cb;
	struct journal_check k;
	struct resume_state st;
	struct resume_feed *feed;
	unsigned long line;       /* lines taken so far */
	long long seq;
	char *driver;
	bool stopped;
	FILE *trace;              /* RBC_FOLLOW_TRACE */
};

/* The wall clock, ms since the epoch. */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A follower of run (a directory, or an id for a database) applying to e. */
struct follower *follower_new(const char *run, struct engine *e, const struct follow_cbs *cb)
{
	struct follower *f = xcalloc(1, sizeof *f);
	f->run = xstrdup(run);
	f->e = e;
	f->cb = *cb;
	f->seq = -1;
	journal_check_init(&f->k, run);
	f->feed = resume_feed_new(run, e, &f->st);
	const char *trace = getenv("RBC_FOLLOW_TRACE");
	if (trace && *trace)
		f->trace = fopen(trace, "ae");
	return f;
}

/* RBC_FOLLOW_TRACE: the seq applied and the wall clock, one line. */
void follower_trace(struct follower *f, uint64_t seq)
{
	if (!f->trace)
		return;
	fprintf(f->trace, "%llu %lld\n", (unsigned long long)seq, (long long)wall_ms());
	fflush(f->trace);
}

/* The event name's type; false for rbc's own lines (run_resumed). */
static bool type_of(const char *name, enum eng_event_type *t)
{
	for (int i = 0; name && i <= ENG_EV_RUN_FINISHED; i++)
		if (strcmp(eng_event_name((enum eng_event_type)i), name) == 0) {
			*t = (enum eng_event_type)i;
			return true;
		}
	return false;
}

/* A string field of o, or NULL. */
static const char *field(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The event o recorded, as the engine said it, to the view (after it is applied). */
static void emit(struct follower *f, const cJSON *o)
{
	enum eng_event_type t;
	if (!f->cb.emit || !type_of(field(o, "ev"), &t))
		return;
	struct eng_event ev = {.type = t, .time = iso_ms_parse(field(o, "t"))};
	ev.step = resume_feed_step(f->feed, field(o, "step"));
	ev.target = resume_feed_step(f->feed, field(o, "target"));
	if (field(o, "step") && !ev.step)
		return; /* a step the runbooks do not have: left out */
	const char *v = field(o, "verdict");
	if (v)
		verdict_parse(v, &ev.verdict);
	ev.text = field(o, "text") ? field(o, "text") : field(o, "note");
	ev.by = field(o, "by");
	ev.name = field(o, "name");
	ev.value = field(o, "value");
	ev.run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "main"));
	ev.stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped"));
	if (t == ENG_EV_INCIDENT || t == ENG_EV_EXPANDED || t == ENG_EV_COMMAND)
		ev.detail = o;
	if (t == ENG_EV_OUTPUT)
		return; /* never journaled: the bytes are in the driver's spool */
	if (t == ENG_EV_SAMPLE && ev.step) {
		/* The output excerpt the sample's line keeps, as the step's output. */
		const cJSON *sm = cJSON_GetObjectItemCaseSensitive(o, "sample");
		static const char *const names[] = {"stdout", "stderr"};
		for (int i = 0; i < 2; i++) {
			const char *text = field(sm, names[i]);
			if (!text || !*text)
				continue;
			struct eng_event out = {.type = ENG_EV_OUTPUT, .time = ev.time, .step = ev.step,
			                        .stream = i ? PROBE_STDERR : PROBE_STDOUT, .data = text, .len = strlen(text)};
			f->cb.emit(f->cb.ud, &out);
		}
	}
	if (t == ENG_EV_CAPTURE && !ev.value)
		return;
	f->cb.emit(f->cb.ud, &ev);
}

/* The follower stops on line no: why, said once. */
static bool refuse(struct follower *f, const char *why)
{
	f->stopped = true;
	if (f->cb.say) {
		char *msg = xasprintf("following stopped: journal line %lu: %s", f->line, why);
		f->cb.say(f->cb.ud, msg);
		free(msg);
	}
	return false;
}

/* One whole line: parsed, checked, applied, passed on (follow.h). */
bool follower_line(struct follower *f, const char *raw, size_t len)
{
	if (f->stopped)
		return false;
	f->line++;
	cJSON *o = cJSON_ParseWithLength(raw, len);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return refuse(f, "not a JSON event");
	}
	char *why = journal_check_line(o, raw, len, f->line, &f->k);
	if (why) {
		bool r = refuse(f, why);
		free(why);
		cJSON_Delete(o);
		return r;
	}
	/* Who drives: the header's, then each resume's (a takeover from
	   another machine changes it). */
	const char *ev = field(o, "ev");
	if (f->line == 1 || (ev && strcmp(ev, "run_resumed") == 0 && field(o, "operator"))) {
		const char *op = field(o, "operator"), *host = field(o, "host");
		free(f->driver);
		f->driver = xasprintf("%s@%s", op ? op : "?", host ? host : "?");
	}
	/* resume's apply reads the line as a C string */
	char *z = xstrndup(raw, len);
	resume_feed_line(f->feed, o, z, f->line);
	free(z);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	if (cJSON_IsNumber(seq))
		f->seq = (long long)seq->valuedouble;
	if (f->line > 1)
		emit(f, o);
	follower_trace(f, (uint64_t)(f->seq < 0 ? 0 : f->seq));
	cJSON_Delete(o);
	return true;
}

/* A message for the operator, through the callbacks. */
void follower_say(struct follower *f, const char *text)
{
	if (f->cb.say)
		f->cb.say(f->cb.ud, text);
}

/* The last seq applied; -1 before the header. */
long long follower_seq(const struct follower *f)
{
	return f->seq;
}

/* Who drives, from the header line applied. */
const char *follower_driver(const struct follower *f)
{
	return f->driver;
}

/* Stopped on a refused line. */
bool follower_stopped(const struct follower *f)
{
	return f->stopped;
}

/* Frees the follower (its engine is the caller's). */
void follower_free(struct follower *f)
{
	if (!f)
		return;
	resume_feed_free(f->feed);
	resume_state_free(&f->st);
	journal_check_free(&f->k);
	if (f->trace)
		fclose(f->trace);
	free(f->driver);
	free(f->run);
	free(f);
}

/* The journal's checker on a header line from elsewhere (follow.h). */
char *follow_check_header(const char *run, const char *text)
{
	struct journal_check k;
	journal_check_init(&k, run);
	char *line = xasprintf("%s\n", text);
	cJSON *o = cJSON_Parse(text);
	char *why = o && cJSON_IsObject(o) ? journal_check_line(o, line, strlen(line), 1, &k) : xstrdup("not a JSON object");
	cJSON_Delete(o);
	free(line);
	journal_check_free(&k);
	return why;
}

/* ---- the local journal, as it grows ---------------------------------------- */

#define TAIL_CHUNK 65536

struct follow_tail {
	uv_loop_t *loop;
	struct follower *f;
	uv_fs_event_t watch;
	uv_fs_t req;
	uv_file fd;
	int64_t off;              /* bytes read so far */
	char buf[TAIL_CHUNK];
	struct strbuf part;       /* what is read of a line not yet whole */
	bool reading, again, stopping;
	int open_handles;
};

static void tail_read(struct follow_tail *t);

/* Frees the tail once nothing of it is left on the loop. */
static void tail_maybe_free(struct follow_tail *t)
{
	if (!t->stopping || t->reading || t->open_handles)
		return;
	if (t->fd >= 0) {
		uv_fs_t c;
		uv_fs_close(NULL, &c, t->fd, NULL); /* a local file: closes at once */
		uv_fs_req_cleanup(&c);
	}
	sb_free(&t->part);
	free(t);
}

/* The whole lines read, each to the follower; the rest kept. */
static void tail_lines(struct follow_tail *t)
{
	const char *s = sb_borrow(&t->part);
	size_t n = t->part.len, start = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n') {
			follower_line(t->f, s + start, i + 1 - start);
			start = i + 1;
		}
	if (start) {
		char *rest = xstrndup(s + start, n - start);
		t->part.len = 0;
		sb_add(&t->part, rest, n - start);
		free(rest);
	}
}

/* A read is back from the thread pool: more to read, or wait for a change. */
static void read_cb(uv_fs_t *req)
{
	struct follow_tail *t = req->data;
	ssize_t n = req->result;
	uv_fs_req_cleanup(req);
	t->reading = false;
	if (t->stopping) {
		tail_maybe_free(t);
		return;
	}
	if (n > 0) {
		sb_add(&t->part, t->buf, (size_t)n);
		t->off += n;
		tail_lines(t);
		t->again = true; /* until a read finds nothing */
	}
	if (t->again && !follower_stopped(t->f)) {
		t->again = false;
		tail_read(t);
	}
}

/* Reads what follows t->off, in the thread pool (never on the loop thread). */
static void tail_read(struct follow_tail *t)
{
	if (t->reading) {
		t->again = true;
		return;
	}
	uv_buf_t b = uv_buf_init(t->buf, sizeof t->buf);
	t->req.data = t;
	if (uv_fs_read(t->loop, &t->req, t->fd, &b, 1, t->off, read_cb) == 0)
		t->reading = true;
}

/* The journal changed: read on. */
static void watch_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
	(void)name;
	(void)events;
	struct follow_tail *t = h->data;
	if (status == 0 && !t->stopping)
		tail_read(t);
}

/* The file watch is closed: the tail goes once nothing is left. */
static void watch_closed(uv_handle_t *h)
{
	struct follow_tail *t = h->data;
	t->open_handles--;
	tail_maybe_free(t);
}

/* Opens the journal, watches it and reads it from its start. */
struct follow_tail *follow_tail_start(uv_loop_t *loop, const char *dir, struct follower *f,
                                      struct rbc_error *err)
{
	/* As every reader opens it: no link followed, a regular file only. */
	int fd = rundir_open_file(dir, JOURNAL_FILE, O_RDONLY, 0);
	if (fd < 0) {
		rbc_error_set(err, "%s/%s: cannot read the journal", dir, JOURNAL_FILE);
		return NULL;
	}
	struct follow_tail *t = xcalloc(1, sizeof *t);
	t->loop = loop;
	t->f = f;
	t->fd = fd;
	uv_fs_event_init(loop, &t->watch);
	t->watch.data = t;
	t->open_handles = 1;
	char *path = xasprintf("%s/%s", dir, JOURNAL_FILE);
	int rc = uv_fs_event_start(&t->watch, watch_cb, path, 0);
	free(path);
	if (rc < 0) {
		rbc_error_set(err, "%s/%s: cannot watch the journal: %s", dir, JOURNAL_FILE, uv_strerror(rc));
		follow_tail_stop(t);
		return NULL;
	}
	tail_read(t);
	return t;
}

/* Stops watching; the tail is freed once its read and handle are done. */
void follow_tail_stop(struct follow_tail *t)
{
	if (!t)
		return;
	t->stopping = true;
	uv_fs_event_stop(&t->watch);
	uv_close((uv_handle_t *)&t->watch, watch_closed);
}

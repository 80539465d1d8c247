/*
 * journal_read.c — reading a journal back (see journal.h): journal_replay,
 * the one reader, which hands on each line only once journal_check.c has
 * judged it and accepts a tail torn by a crash; the header alone; a run's
 * summary for the listing; and whether a writer holds the journal's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbc/journal.h"
#include "rbc/rundir.h"
#include "rbc/util.h"

#include "journal_internal.h"

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
	struct journal_check k;
	journal_check_init(&k, dir);
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
		char *why = prev_bad ? NULL : journal_check_line(prev, line, (size_t)n, no, &k);
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
	journal_check_free(&k);
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
	struct journal_check k;
	journal_check_init(&k, dir);
	char *why = cJSON_IsObject(h) ? journal_check_line(h, line, (size_t)n, 1, &k) : xstrdup("no run header");
	journal_check_free(&k);
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

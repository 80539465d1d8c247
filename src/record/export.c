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
#include <unistd.h>

#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/util.h"

struct model {
	cJSON *root, *steps, *notes, *timeline;
	cJSON *header;
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

/* The step's entry, made when it first appears. */
static cJSON *step_of(struct model *m, const char *id)
{
	cJSON *s;
	cJSON_ArrayForEach(s, m->steps)
	{
		if (strcmp(str(s, "id"), id) == 0)
			return s;
	}
	s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "id", id);
	const char *slash = strchr(id, '/');
	char *rb = slash ? xstrndup(id, (size_t)(slash - id)) : xstrdup(id);
	cJSON_AddStringToObject(s, "runbook", rb);
	free(rb);
	cJSON_AddBoolToObject(s, "phase", slash == NULL);
	cJSON_AddBoolToObject(s, "group", false);
	cJSON_AddStringToObject(s, "state", "pending");
	cJSON_AddNullToObject(s, "verdict");
	cJSON_AddNumberToObject(s, "attempts", 0);
	cJSON_AddNumberToObject(s, "samples", 0);
	cJSON_AddArrayToObject(s, "captures");
	cJSON_AddItemToArray(m->steps, s);
	return s;
}

static void set_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

static bool model_line(void *ud, const cJSON *e, unsigned long line)
{
	(void)line;
	struct model *m = ud;
	char *text = cJSON_PrintUnformatted(e);
	m->masked += count_masked(text);
	free(text);
	const char *ev = str(e, "ev");
	if (!ev)
		return true;
	if (strcmp(ev, "run_header") == 0) {
		m->header = cJSON_Duplicate(e, true);
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
	if (strcmp(ev, "step_started") == 0 && s) {
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
		copy(s, "output", e, "output");
	} else if (strcmp(ev, "note") == 0) {
		cJSON *o = cJSON_CreateObject();
		copy(o, "t", e, "t");
		copy(o, "step", e, "step");
		copy(o, "by", e, "by");
		copy(o, "text", e, "text");
		cJSON_AddItemToArray(m->notes, o);
	} else if (strcmp(ev, "run_finished") == 0) {
		m->verdict = str(e, "verdict");
		copy(m->root, "finished", e, "t");
		copy(m->root, "verdict", e, "verdict");
	}
	if (strcmp(ev, "sample") != 0) {
		cJSON *o = cJSON_CreateObject();
		static const char *const keys[] = {"seq", "t", "ev", "step", "verdict", "text", "by",
		                                   "name", "value", "target", "for"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(keys); i++)
			copy(o, keys[i], e, keys[i]);
		cJSON_AddItemToArray(m->timeline, o);
	}
	return true;
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
	bool dropped = false;
	bool ok = journal_replay(dir, model_line, &m, &dropped, err);
	if (ok && !m.header) {
		rbc_error_set(err, "%s/%s: no run header", dir, JOURNAL_FILE);
		ok = false;
	}
	if (!ok) {
		cJSON_Delete(m.root);
		cJSON_Delete(m.steps);
		cJSON_Delete(m.notes);
		cJSON_Delete(m.timeline);
		cJSON_Delete(m.header);
		return NULL;
	}
	static const char *const hk[] = {"run", "rbc", "started", "host", "operator", "runbooks", "vars"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(hk); i++)
		copy(m.root, hk[i], m.header, hk[i]);
	cJSON_AddNumberToObject(m.root, "journal_schema", get(m.header, "schema") ? get(m.header, "schema")->valuedouble : 0);
	int locked = journal_locked(dir);
	cJSON_AddStringToObject(m.root, "state", locked == 1 ? "running" : m.verdict ? "finished" : "interrupted");
	cJSON_AddBoolToObject(m.root, "torn_last_line", dropped);
	cJSON_AddNumberToObject(m.root, "masked_values", (double)m.masked);
	/* Counts of the steps (phases aside), by verdict and state. */
	cJSON *counts = cJSON_AddObjectToObject(m.root, "counts");
	static const char *const words[] = {"PASS", "WARN", "FAIL", "UNKNOWN", "ERROR"};
	double by[5] = {0}, total = 0, skipped = 0, cancelled = 0, unfinished = 0;
	cJSON *s;
	cJSON_ArrayForEach(s, m.steps)
	{
		if (cJSON_IsTrue(get(s, "phase")) || cJSON_IsTrue(get(s, "group")))
			continue;
		total++;
		const char *st = str(s, "state"), *v = str(s, "verdict");
		if (st && strcmp(st, "skipped") == 0)
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
	cJSON_AddItemToObject(m.root, "steps", m.steps);
	cJSON_AddItemToObject(m.root, "notes", m.notes);
	cJSON_AddItemToObject(m.root, "timeline", m.timeline);
	cJSON_Delete(m.header);
	return m.root;
}

bool export_write_file(const char *path, const char *text, struct rbc_error *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rbc_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	size_t n = strlen(text);
	const char *p = text;
	bool ok = true;
	while (n && ok) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			ok = false;
		else {
			p += w;
			n -= (size_t)w;
		}
	}
	if (ok && fsync(fd) != 0)
		ok = false;
	int e = errno;
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

/*
 * history_rebuild.c — a run's journal written back from PostgreSQL into a
 * run directory and checked (history_rebuild.h, docs/team.md). Shared by
 * rbc export --db (history_export.c) and rbc resume --db (handover.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "rbc/history_rebuild.h"
#include "rbc/journal.h"
#include "rbc/rundir.h"
#include "rbc/util.h"
#include "pgwait.h"

/* The rows of sql, or NULL with err. */
static PGresult *rows(PGconn *pg, const char *sql, const char *run, struct rbc_error *err)
{
	const char *params[] = {run};
	PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	char *m = pgwait_one_line(PQresultErrorMessage(r));
	if (state && strcmp(state, "42P01") == 0)
		rbc_error_set(err, "the database has no rbc history yet (a run with --db makes its tables)");
	else
		rbc_error_set(err, "the database: %s", m);
	free(m);
	PQclear(r);
	return NULL;
}

/* Whether id may name a directory (history_rebuild.h). */
bool history_run_name_ok(const char *id)
{
	if (!*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 200)
		return false;
	for (const char *p = id; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x21 || *p == 0x7f)
			return false;
	return true;
}

/* Adds "from" or "from-to" to the list of missing seqs. */
static void add_missing(struct history_rebuild *rb, struct strbuf *sb, long long from, long long to)
{
	if (sb->len)
		sb_adds(sb, ", ");
	if (from == to)
		sb_addf(sb, "%lld", from);
	else
		sb_addf(sb, "%lld-%lld", from, to);
	rb->nmissing += (size_t)(to - from + 1);
}

/* The line standing for a seq the database does not hold: a note. */
static void placeholder(struct strbuf *j, long long seq, const char *t, const char *by)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "ev", "note");
	cJSON_AddStringToObject(o, "by", by);
	char *text = xasprintf("seq %lld is missing from the database: this %s is incomplete", seq,
	                       strstr(by, "export") ? "export" : "record");
	cJSON_AddStringToObject(o, "text", text);
	free(text);
	char *s = cJSON_PrintUnformatted(o);
	sb_adds(j, s);
	sb_addc(j, '\n');
	free(s);
	cJSON_Delete(o);
}

/* The file where an output kept by the driver would be, saying so. */
static void output_note(struct history_rebuild *rb, const char *dir, const char *line, const char *host)
{
	if (!strstr(line, "\"step_finished\""))
		return;
	cJSON *o = cJSON_Parse(line);
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	char *name = ev && strcmp(ev, "step_finished") == 0
	                 ? rundir_output_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "output")))
	                 : NULL;
	cJSON_Delete(o);
	if (!name)
		return;
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char *text = xasprintf("(this output is not in the database: it is kept in the run directory on the "
		                       "driver's machine, %s)\n", host);
		ssize_t w = write(fd, text, strlen(text));
		(void)w;
		free(text);
		close(fd);
		rb->outputs++;
	}
	free(path);
	free(name);
}

/* The time of a line ("t", else the header's "started"), kept in t: read
   only where a placeholder needs it (a gap), never per row. */
static void line_time(const char *line, char *t, size_t tsz)
{
	cJSON *o = cJSON_Parse(line);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "t"));
	if (!v)
		v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "started"));
	if (v && strlen(v) < tsz)
		snprintf(t, tsz, "%s", v);
	cJSON_Delete(o);
}

/* Writes text as dir/journal.jsonl (a new file). */
static bool write_journal(const char *dir, const char *text, size_t len, struct rbc_error *err)
{
	char *journal = xasprintf("%s/journal.jsonl", dir);
	int fd = open(journal, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	free(journal);
	if (fd < 0) {
		rbc_error_set(err, "cannot write the rebuilt journal: %s", strerror(errno));
		return false;
	}
	size_t at = 0;
	while (at < len) {
		ssize_t w = write(fd, text + at, len - at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		at += (size_t)w;
	}
	bool ok = at == len && fsync(fd) == 0;
	if (!ok)
		rbc_error_set(err, "cannot write the rebuilt journal: %s", strerror(errno));
	close(fd);
	return ok;
}

/* Every line is taken: journal_replay checks them. */
static bool take_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)ud, (void)o, (void)raw, (void)line;
	return true;
}

/* err's "DIR/journal.jsonl:LINE: why" said of the database's row: its seq. */
static void name_the_row(const char *run, const char *dir, struct rbc_error *err)
{
	char *prefix = xasprintf("%s/journal.jsonl:", dir);
	size_t pl = strlen(prefix);
	if (err->msg && strncmp(err->msg, prefix, pl) == 0) {
		char *end = NULL;
		unsigned long line = strtoul(err->msg + pl, &end, 10);
		if (end && *end == ':' && line >= 1) {
			char *rest = xstrdup(end + 1);
			char *repl = str_replace(rest, "the journal is damaged", "the row is refused");
			if (line == 1)
				rbc_error_set(err, "the database's run %s, its header (rbc_runs):%s", run, repl);
			else
				rbc_error_set(err, "the database's run %s, seq %lu (rbc_events):%s", run, line - 1, repl);
			free(repl);
			free(rest);
		}
	} else if (err->msg) {
		char *m = str_replace(err->msg, dir, "(the run rebuilt from the database)");
		rbc_error_set(err, "%s", m);
		free(m);
	}
	free(prefix);
}

/* The header and the events of run, on one snapshot; false with err. */
static bool fetch(const char *url, const char *run, PGresult **h, PGresult **e, struct history_rebuild *rb,
                  struct rbc_error *err)
{
	PGconn *pg = pgwait_connect_now(url, "rbc", "10", err);
	if (!pg) {
		rb->unavailable = true;
		return false;
	}
	PGresult *b = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	PQclear(b);
	*h = rows(pg, "SELECT header::text, coalesce(host, '') FROM rbc_runs WHERE run = $1", run, err);
	*e = *h ? rows(pg, "SELECT seq, event::text FROM rbc_events WHERE run = $1 ORDER BY seq", run, err) : NULL;
	PQfinish(pg);
	rb->unavailable = !*h || !*e;
	if (*h && PQntuples(*h) == 0) {
		rbc_error_set(err, "no run %s in the database (rbc history lists them)", run);
		return false;
	}
	return *h && *e && PQntuples(*h) == 1;
}

/* Rebuilds the run's journal into dir, checked (history_rebuild.h). */
bool history_rebuild(const char *url, const char *run, const char *dir, bool refuse_gaps,
                     struct history_rebuild *rb, struct rbc_error *err)
{
	const char *by = rb->by ? rb->by : "rbc";
	*rb = (struct history_rebuild){.by = by};
	if (!history_run_name_ok(run)) {
		rbc_error_set(err, "%s: not a run id", run);
		return false;
	}
	PGresult *h = NULL, *e = NULL;
	bool ok = fetch(url, run, &h, &e, rb, err);
	if (ok) {
		struct strbuf j = {0}, miss = {0};
		const char *head = PQgetvalue(h, 0, 0), *host = PQgetvalue(h, 0, 1);
		sb_adds(&j, head);
		sb_addc(&j, '\n');
		const char *prev = head;
		long long next = 1;
		int n = PQntuples(e);
		rb->events = (size_t)n;
		for (int i = 0; i < n; i++) {
			long long seq = strtoll(PQgetvalue(e, i, 0), NULL, 10);
			const char *line = PQgetvalue(e, i, 1);
			if (seq > next) {
				add_missing(rb, &miss, next, seq - 1);
				char t[40] = "1970-01-01T00:00:00Z";
				line_time(prev, t, sizeof t);
				for (; next < seq; next++)
					placeholder(&j, next, t, by);
			}
			/* A row whose text is not one line is refused by the checker
			   as it stands: a newline inside would make two lines. */
			size_t at = j.len;
			sb_adds(&j, line);
			for (size_t k = at; k < j.len; k++)
				if (j.s[k] == '\n')
					j.s[k] = ' ';
			sb_addc(&j, '\n');
			prev = line;
			next = seq + 1;
			rb->last_seq = seq;
		}
		rb->missing = miss.len ? sb_take(&miss) : NULL;
		sb_free(&miss);
		if (refuse_gaps && rb->missing) {
			rbc_error_set(err, "the database's run %s is incomplete: %zu event%s missing (seq %s)", run,
			              rb->nmissing, rb->nmissing == 1 ? " is" : "s are", rb->missing);
			ok = false;
		}
		if (ok)
			ok = write_journal(dir, j.s ? j.s : "", j.len, err);
		if (ok) {
			ok = journal_replay(dir, take_line, NULL, NULL, err);
			if (!ok)
				name_the_row(run, dir, err);
		}
		if (ok)
			for (int i = 0; i < n; i++)
				output_note(rb, dir, PQgetvalue(e, i, 1), host);
		sb_free(&j);
	}
	PQclear(h);
	PQclear(e);
	return ok;
}

/* Frees what rb holds (history_rebuild.h). */
void history_rebuild_free(struct history_rebuild *rb)
{
	free(rb->missing);
	rb->missing = NULL;
}

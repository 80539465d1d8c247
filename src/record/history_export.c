/*
 * history_export.c — a run's journal rebuilt from PostgreSQL into a private
 * temporary run directory, for rbc export RUN --db URL (history_export.h,
 * docs/team.md). A command, not a run: libpq's blocking calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "rbc/export.h"
#include "rbc/history_export.h"
#include "rbc/journal.h"
#include "rbc/rundir.h"
#include "rbc/util.h"

/* libpq's notices are never shown. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* msg on one line, control characters as spaces (a new string). */
static char *one_line(const char *msg)
{
	char *s = xstrdup(msg ? msg : "unknown error");
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* The rows of sql, or NULL with err. */
static PGresult *rows(PGconn *pg, const char *sql, const char *run, struct rbc_error *err)
{
	const char *params[] = {run};
	PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	char *m = one_line(PQresultErrorMessage(r));
	if (state && strcmp(state, "42P01") == 0)
		rbc_error_set(err, "the database has no rbc history yet (a run with --db makes its tables)");
	else
		rbc_error_set(err, "the database: %s", m);
	free(m);
	PQclear(r);
	return NULL;
}

/* Whether id may name a directory: no slash, not . or .., printable. */
static bool run_name_ok(const char *id)
{
	if (!*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 200)
		return false;
	for (const char *p = id; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x21 || *p == 0x7f)
			return false;
	return true;
}

/* Adds "from" or "from-to" to the list of missing seqs. */
static void add_missing(struct history_export *x, struct strbuf *sb, long long from, long long to)
{
	if (sb->len)
		sb_adds(sb, ", ");
	if (from == to)
		sb_addf(sb, "%lld", from);
	else
		sb_addf(sb, "%lld-%lld", from, to);
	x->nmissing += (size_t)(to - from + 1);
}

/* The line standing for a seq the database does not hold: a note. */
static void placeholder(struct strbuf *j, long long seq, const char *t)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "ev", "note");
	cJSON_AddStringToObject(o, "by", "rbc export");
	char *text = xasprintf("seq %lld is missing from the database: this export is incomplete", seq);
	cJSON_AddStringToObject(o, "text", text);
	free(text);
	char *s = cJSON_PrintUnformatted(o);
	sb_adds(j, s);
	sb_addc(j, '\n');
	free(s);
	cJSON_Delete(o);
}

/* The file where an output kept by the driver would be, saying so. */
static void output_note(struct history_export *x, const char *line, const char *host)
{
	cJSON *o = cJSON_Parse(line);
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	char *name = ev && strcmp(ev, "step_finished") == 0
	                 ? rundir_output_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "output")))
	                 : NULL;
	cJSON_Delete(o);
	if (!name)
		return;
	char *path = xasprintf("%s/%s", x->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char *text = xasprintf("(this output is not in the database: it is kept in the run directory on the "
		                       "driver's machine, %s)\n", host);
		ssize_t w = write(fd, text, strlen(text));
		(void)w;
		free(text);
		close(fd);
		x->outputs++;
	}
	free(path);
	free(name);
}

/* The time of a line ("t", else the header's "started"), kept in t. */
static void last_time(const char *line, char **t)
{
	cJSON *o = cJSON_Parse(line);
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "t"));
	if (!v)
		v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "started"));
	if (v && strlen(v) < 40) {
		free(*t);
		*t = xstrdup(v);
	}
	cJSON_Delete(o);
}

/* Writes the journal text into x->dir with an empty out/. */
static bool write_dir(struct history_export *x, const char *text, struct rbc_error *err)
{
	char tmpl[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(tmpl, sizeof tmpl, "%s/rbc-export.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl)) {
		rbc_error_set(err, "cannot make a temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
		return false;
	}
	x->top = xstrdup(tmpl); /* mkdtemp: mode 0700 */
	x->dir = xasprintf("%s/%s", x->top, x->run);
	char *out = xasprintf("%s/out", x->dir), *journal = xasprintf("%s/journal.jsonl", x->dir);
	bool ok = false;
	int fd = -1;
	if (mkdir(x->dir, 0700) != 0 || mkdir(out, 0700) != 0 ||
	    (fd = open(journal, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		rbc_error_set(err, "cannot make the temporary run directory: %s", strerror(errno));
	} else {
		size_t len = strlen(text), at = 0;
		while (at < len) {
			ssize_t w = write(fd, text + at, len - at);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			at += (size_t)w;
		}
		ok = at == len;
		if (!ok)
			rbc_error_set(err, "cannot write the temporary journal: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(out);
	free(journal);
	return ok;
}

/* Every line is taken: journal_replay checks them. */
static bool take_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)ud, (void)o, (void)raw, (void)line;
	return true;
}

/* err's "DIR/journal.jsonl:LINE: why" said of the database's row: its seq. */
static void name_the_row(struct history_export *x, struct rbc_error *err)
{
	char *prefix = xasprintf("%s/journal.jsonl:", x->dir);
	size_t pl = strlen(prefix);
	if (err->msg && strncmp(err->msg, prefix, pl) == 0) {
		char *end = NULL;
		unsigned long line = strtoul(err->msg + pl, &end, 10);
		if (end && *end == ':' && line >= 1) {
			char *rest = xstrdup(end + 1);
			char *repl = str_replace(rest, "the journal is damaged", "the row is refused");
			if (line == 1)
				rbc_error_set(err, "the database's run %s, its header (rbc_runs):%s", x->run, repl);
			else
				rbc_error_set(err, "the database's run %s, seq %lu (rbc_events):%s", x->run, line - 1, repl);
			free(repl);
			free(rest);
		}
	} else if (err->msg) {
		char *m = str_replace(err->msg, x->dir, "(the run rebuilt from the database)");
		rbc_error_set(err, "%s", m);
		free(m);
	}
	free(prefix);
}

/* Rebuilds the run from the database, checked (history_export.h). */
bool history_export_open(const char *url, const char *run, struct history_export *x, struct rbc_error *err)
{
	*x = (struct history_export){0};
	if (!run_name_ok(run)) {
		rbc_error_set(err, "%s: not a run id", run);
		return false;
	}
	x->run = xstrdup(run);
	const char *kw[] = {"dbname", "fallback_application_name", "connect_timeout", NULL};
	const char *val[] = {url, "rbc export", "10", NULL};
	PGconn *pg = PQconnectdbParams(kw, val, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		char *m = one_line(pg ? PQerrorMessage(pg) : "out of memory");
		rbc_error_set(err, "the database: %s", m);
		free(m);
		PQfinish(pg);
		x->unavailable = true;
		return false;
	}
	PQsetNoticeProcessor(pg, on_notice, NULL);
	/* One snapshot: the header and the events as they were together. */
	PGresult *b = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	PQclear(b);
	PGresult *h = rows(pg, "SELECT header::text, coalesce(host, '') FROM rbc_runs WHERE run = $1", run, err);
	PGresult *e = h ? rows(pg, "SELECT seq, event::text FROM rbc_events WHERE run = $1 ORDER BY seq", run, err) : NULL;
	PQfinish(pg);
	x->unavailable = !h || !e;
	if (h && PQntuples(h) == 0)
		rbc_error_set(err, "no run %s in the database (rbc history lists them)", run);
	bool ok = false;
	if (h && e && PQntuples(h) == 1) {
		struct strbuf j = {0}, miss = {0};
		const char *head = PQgetvalue(h, 0, 0), *host = PQgetvalue(h, 0, 1);
		char *t = NULL;
		sb_adds(&j, head);
		sb_addc(&j, '\n');
		last_time(head, &t);
		long long next = 1;
		for (int i = 0; i < PQntuples(e); i++) {
			long long seq = strtoll(PQgetvalue(e, i, 0), NULL, 10);
			const char *line = PQgetvalue(e, i, 1);
			if (seq > next) {
				add_missing(x, &miss, next, seq - 1);
				for (; next < seq; next++)
					placeholder(&j, next, t ? t : "1970-01-01T00:00:00Z");
			}
			/* A row whose text is not one line is refused by the checker
			   as it stands: a newline inside would make two lines. */
			for (const char *c = line; *c; c++)
				sb_addc(&j, *c == '\n' ? ' ' : *c);
			sb_addc(&j, '\n');
			last_time(line, &t);
			next = seq + 1;
		}
		free(t);
		x->missing = miss.len ? sb_take(&miss) : NULL;
		sb_free(&miss);
		ok = write_dir(x, sb_borrow(&j), err);
		if (ok) {
			ok = journal_replay(x->dir, take_line, NULL, NULL, err);
			if (!ok)
				name_the_row(x, err);
		}
		if (ok)
			for (int i = 0; i < PQntuples(e); i++)
				output_note(x, PQgetvalue(e, i, 1), host);
		sb_free(&j);
	}
	PQclear(h);
	PQclear(e);
	return ok;
}

/* nftw: removes one entry of the temporary directory. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Removes the temporary directory (history_export.h). */
void history_export_close(struct history_export *x)
{
	if (x->top)
		nftw(x->top, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(x->top);
	free(x->dir);
	free(x->run);
	free(x->missing);
	*x = (struct history_export){0};
}

/* What the database did not have, in words (a new string). */
static char *what_is_absent(const struct history_export *x)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "Rebuilt from the database (rbc export --db).");
	if (x->missing)
		sb_addf(&sb, " INCOMPLETE: %zu event%s missing from the database (seq %s).", x->nmissing,
		        x->nmissing == 1 ? " is" : "s are", x->missing);
	if (x->outputs)
		sb_addf(&sb, " %zu step output%s kept only in the driver's run directory, not here.", x->outputs,
		        x->outputs == 1 ? " is" : "s are");
	return sb_take(&sb);
}

/* Says at the document's top what the database lacked (history_export.h). */
char *history_export_mark(const struct history_export *x, const char *fmt, char *doc)
{
	if (!doc)
		return NULL;
	char *said = what_is_absent(x);
	char *out = NULL;
	if (strcmp(fmt, "json") == 0) {
		cJSON *o = cJSON_Parse(doc);
		if (o) {
			cJSON *db = cJSON_CreateObject();
			cJSON_AddBoolToObject(db, "complete", !x->missing);
			cJSON_AddNumberToObject(db, "missing_events", (double)x->nmissing);
			if (x->missing)
				cJSON_AddStringToObject(db, "missing_seqs", x->missing);
			cJSON_AddNumberToObject(db, "outputs_absent", (double)x->outputs);
			cJSON_AddStringToObject(db, "note", said);
			cJSON_AddItemToObject(o, "from_database", db);
			out = export_json_print(o);
			cJSON_Delete(o);
		}
	} else if (doc[0] == '<') {
		/* XML: a comment after the declaration; a comment holds no "--". */
		char *decl = strstr(doc, "?>");
		size_t at = decl ? (size_t)(decl - doc) + 2 : 0;
		char *words = str_replace(said, "--", "- -");
		out = xasprintf("%.*s\n<!-- %s -->%s", (int)at, doc, words, doc + at);
		free(words);
	} else if (doc[0] == '{' || doc[0] == '[') {
		out = NULL; /* another JSON document: said on standard error only */
	} else {
		/* Markdown: a quote under the first line (the title). */
		char *nl = strchr(doc, '\n');
		size_t at = nl ? (size_t)(nl - doc) + 1 : strlen(doc);
		out = xasprintf("%.*s\n> %s\n%s", (int)at, doc, said, doc + at);
	}
	free(said);
	if (!out)
		return doc;
	free(doc);
	return out;
}

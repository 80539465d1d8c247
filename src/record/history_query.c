/*
 * history_query.c — `rbc history`: reading the runs stored in PostgreSQL,
 * and pushing a run's journal there. These are commands, not a run: they
 * use libpq's blocking calls (there is no event loop to keep going).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "rbc/history.h"
#include "rbc/lease_query.h"
#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/text.h"
#include "rbc/util.h"
#include "pgwait.h"

/* A connection for rbc history (pgwait.h). */
static PGconn *open_db(const char *url, struct rbc_error *err)
{
	return pgwait_connect_now(url, "rbc history", "10", err);
}

/* Runs sql; false (err set) unless it gave rows or a command status. */
static PGresult *query(PGconn *pg, const char *sql, int n, const char *const *params,
                       struct rbc_error *err)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state && strcmp(state, "42P01") == 0) {
			rbc_error_set(err, "the database has no rbc history yet (a run with --db makes its tables)");
		} else {
			char *m = pgwait_one_line(PQresultErrorMessage(r));
			rbc_error_set(err, "the database: %s", m);
			free(m);
		}
		PQclear(r);
		return NULL;
	}
	return r;
}

/* One JSON line of stored text, no control character raw (text.h). */
static void json_line(FILE *out, const char *json)
{
	struct strbuf sb = {0};
	text_json(&sb, json);
	sb_addc(&sb, '\n');
	fputs(sb_borrow(&sb), out);
	sb_free(&sb);
}

static const char *cell(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

bool history_print_runs(const char *url, bool json, FILE *out, struct rbc_error *err)
{
	PGconn *pg = open_db(url, err);
	if (!pg)
		return false;
	char *sql = history_runs_sql(pg);
	PGresult *r = query(pg, sql, 0, NULL, err);
	free(sql);
	if (!r) {
		PQfinish(pg);
		return false;
	}
	if (!json)
		fprintf(out, "%-40s %-24s %-20s %-12s %-11s %-7s %s\n", "RUN", "RUNBOOKS", "STARTED", "OPERATOR",
		        "STATE", "VERDICT", "EVENTS");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *v = cell(r, i, 5);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			static const char *const keys[] = {"run", "runbooks", "started", "operator", "state"};
			for (int k = 0; k < 5; k++)
				cJSON_AddStringToObject(o, keys[k], cell(r, i, k) ? cell(r, i, k) : "");
			if (v)
				cJSON_AddStringToObject(o, "verdict", v);
			else
				cJSON_AddNullToObject(o, "verdict");
			cJSON_AddStringToObject(o, "host", cell(r, i, 6));
			cJSON_AddNumberToObject(o, "events", strtod(cell(r, i, 7), NULL));
			history_lease_json(o, r, i, 8);
			char *t = cJSON_PrintUnformatted(o);
			json_line(out, t);
			free(t);
			cJSON_Delete(o);
		} else {
			char *lease = history_lease_text(r, i, 8);
			text_fprintf(out, "%-40s %-24s %-20s %-12s %-11s %-7s %s%s\n", cell(r, i, 0), cell(r, i, 1),
			        cell(r, i, 2) ? cell(r, i, 2) : "", cell(r, i, 3), cell(r, i, 4), v ? v : "—",
			        cell(r, i, 7), lease);
			free(lease);
		}
	}
	PQclear(r);
	PQfinish(pg);
	return true;
}

bool history_print_run(const char *url, const char *run, bool json, FILE *out, struct rbc_error *err)
{
	PGconn *pg = open_db(url, err);
	if (!pg)
		return false;
	const char *params[] = {run};
	PGresult *r = query(pg, "SELECT header::text FROM rbc_runs WHERE run = $1", 1, params, err);
	if (r && PQntuples(r) == 0) {
		rbc_error_set(err, "no run %s in the database (rbc history lists them)", run);
		PQclear(r);
		r = NULL;
	}
	if (!r) {
		PQfinish(pg);
		return false;
	}
	if (json)
		json_line(out, PQgetvalue(r, 0, 0));
	PQclear(r);
	r = query(pg,
	          "SELECT event::text, seq, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	          "       ev, coalesce(step, ''), coalesce(verdict, ''), coalesce(event->>'text', '')"
	          " FROM rbc_events WHERE run = $1 ORDER BY seq",
	          1, params, err);
	if (!r) {
		PQfinish(pg);
		return false;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (json)
			json_line(out, PQgetvalue(r, i, 0));
		else
			text_fprintf(out, "%6s  %-24s  %-14s %-32s %-7s %s\n", PQgetvalue(r, i, 1), cell(r, i, 2) ? cell(r, i, 2) : "",
			        PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
	}
	PQclear(r);
	PQfinish(pg);
	return true;
}

struct push {
	struct strbuf sb;
	size_t n;
};

static bool push_line(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)o;
	(void)line;
	struct push *p = ud;
	size_t len = strlen(raw);
	while (len && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		len--;
	sb_addc(&p->sb, p->n++ ? ',' : '[');
	sb_add(&p->sb, raw, len);
	return true;
}

bool history_push(const char *url, const char *dir, const char *run, size_t *n, struct rbc_error *err)
{
	struct push p = {0};
	if (!journal_replay(dir, push_line, &p, NULL, err)) {
		sb_free(&p.sb);
		return false;
	}
	sb_adds(&p.sb, p.n ? "]" : "[]");
	char *all = sb_take(&p.sb);
	char *doc = str_replace(all, "\\u0000", "\\ufffd"); /* jsonb takes no NUL */
	free(all);
	PGconn *pg = open_db(url, err);
	bool ok = false;
	if (pg) {
		PGresult *r = PQexec(pg, history_schema_sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			char *m = pgwait_one_line(PQresultErrorMessage(r));
			rbc_error_set(err, "the database: %s", m);
			free(m);
			PQclear(r);
			r = NULL;
		} else if (strtol(PQgetvalue(r, 0, 0), NULL, 10) > HISTORY_SCHEMA) {
			rbc_error_set(err, "the database's rbc tables are schema version %s, newer than this rbc's %d",
			              PQgetvalue(r, 0, 0), HISTORY_SCHEMA);
			PQclear(r);
			r = NULL;
		}
		if (r) {
			PQclear(r);
			const char *params[] = {run, doc};
			r = query(pg, history_insert_sql, 2, params, err);
		}
		if (r) {
			PQclear(r);
			ok = true;
		}
		PQfinish(pg);
	}
	free(doc);
	*n = p.n;
	return ok;
}

/* Replaces out[from..to) by MASK_TEXT in sb order: spans are kept sorted. */
struct span {
	size_t from, to;
};

/* The spans of password values written in url: a URI's user:password@ and
   its password= parameters, or a key=value string's password= values,
   every one of them (libpq takes the last; none may show). */
static size_t password_spans(const char *url, struct span *v, size_t cap)
{
	size_t n = 0, len = strlen(url);
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		size_t a = strstr(url, "://") - url + 3, end = a;
		while (end < len && url[end] != '/' && url[end] != '?')
			end++;
		const char *at = memrchr(url + a, '@', end - a);
		const char *colon = at ? memchr(url + a, ':', (size_t)(at - (url + a))) : NULL;
		if (colon && n < cap)
			v[n++] = (struct span){(size_t)(colon + 1 - url), (size_t)(at - url)};
		const char *q = strchr(url + end, '?');
		for (const char *p = q ? q + 1 : NULL; p && *p && n < cap;) {
			const char *amp = strchr(p, '&');
			size_t plen = amp ? (size_t)(amp - p) : strlen(p);
			if (plen > 9 && strncmp(p, "password=", 9) == 0)
				v[n++] = (struct span){(size_t)(p + 9 - url), (size_t)(p + plen - url)};
			p = amp ? amp + 1 : NULL;
		}
		return n;
	}
	for (size_t i = 0; i < len && n < cap;) {
		while (i < len && (url[i] == ' ' || url[i] == '\t' || url[i] == '\n'))
			i++;
		size_t k = i;
		while (i < len && url[i] != '=' && url[i] != ' ' && url[i] != '\t')
			i++;
		bool pw = i - k == 8 && strncmp(url + k, "password", 8) == 0;
		while (i < len && (url[i] == ' ' || url[i] == '\t'))
			i++;
		if (i >= len || url[i] != '=')
			break;
		i++;
		while (i < len && (url[i] == ' ' || url[i] == '\t'))
			i++;
		size_t from = i;
		if (i < len && url[i] == '\'') {
			for (i++; i < len && url[i] != '\''; i++)
				if (url[i] == '\\' && i + 1 < len)
					i++;
			if (i < len)
				i++;
		} else {
			while (i < len && url[i] != ' ' && url[i] != '\t' && url[i] != '\n')
				i++;
		}
		if (pw && i > from)
			v[n++] = (struct span){from, i};
	}
	return n;
}

char *history_url_redacted(const char *url)
{
	struct span v[16];
	size_t n = password_spans(url, v, RBC_ARRAY_LEN(v));
	struct strbuf sb = {0};
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].from < at)
			continue;
		sb_add(&sb, url + at, v[i].from - at);
		sb_adds(&sb, MASK_TEXT);
		at = v[i].to;
	}
	sb_adds(&sb, url + at);
	/* And the value libpq reads, in any form it takes (percent-encoded). */
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	PQfreemem(err);
	struct mask *m = mask_new();
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			mask_add(m, o->val);
	PQconninfoFree(opts);
	char *out = mask_text(m, sb_borrow(&sb));
	mask_free(m);
	sb_free(&sb);
	return out;
}

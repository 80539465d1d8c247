/*
 * history_export.c — a run's journal rebuilt from PostgreSQL into a private
 * temporary run directory, for rbc export RUN --db URL (history_export.h,
 * docs/team.md); the rebuilding itself is history_rebuild.c's.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rbc/export.h"
#include "rbc/history_export.h"
#include "rbc/history_rebuild.h"
#include "rbc/util.h"

/* Makes the private temporary run directory x->dir with an empty out/. */
static bool make_dir(struct history_export *x, struct rbc_error *err)
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
	char *out = xasprintf("%s/out", x->dir);
	bool ok = mkdir(x->dir, 0700) == 0 && mkdir(out, 0700) == 0;
	if (!ok)
		rbc_error_set(err, "cannot make the temporary run directory: %s", strerror(errno));
	free(out);
	return ok;
}

/* Rebuilds the run from the database, checked (history_export.h). */
bool history_export_open(const char *url, const char *run, struct history_export *x, struct rbc_error *err)
{
	*x = (struct history_export){0};
	if (!history_run_name_ok(run)) {
		rbc_error_set(err, "%s: not a run id", run);
		return false;
	}
	x->run = xstrdup(run);
	if (!make_dir(x, err))
		return false;
	struct history_rebuild rb = {.by = "rbc export"};
	bool ok = history_rebuild(url, run, x->dir, false, &rb, err);
	x->unavailable = rb.unavailable;
	x->missing = rb.missing;
	x->nmissing = rb.nmissing;
	x->outputs = rb.outputs;
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

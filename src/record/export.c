/*
 * export.c — the formats of rbc export (export.h): one table, from a
 * format's name to what renders it. The format files below it (export_md.c,
 * export_json.c, export_junit.c, incident_export.c) share the replayed run
 * (export_model.h) and the Markdown cell text, never this table: adding a
 * format is a file and a row here.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/export.h"
#include "rbc/util.h"

/* The incident timeline as JSON text, as the JSON export is written. */
static char *export_incident_json_text(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_incident_json(dir, err);
	char *text = export_json_print(doc);
	cJSON_Delete(doc);
	return text;
}

/* Every format, in the order usage and messages list them. */
static const struct export_format export_formats[] = {
	{"md", export_markdown},
	{"json", export_json_text},
	{"junit", export_junit},
	{"incident-md", export_incident_markdown},
	{"incident-json", export_incident_json_text},
	{"postmortem", export_postmortem},
};

/* The row of the table called name (export.h). */
const struct export_format *export_format_find(const char *name)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(export_formats); i++)
		if (strcmp(export_formats[i].name, name) == 0)
			return &export_formats[i];
	return NULL;
}

/* The table's names joined by sep, for usage and messages (export.h). */
char *export_format_names(const char *sep)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < RBC_ARRAY_LEN(export_formats); i++) {
		if (i)
			sb_adds(&sb, sep);
		sb_adds(&sb, export_formats[i].name);
	}
	return sb_take(&sb);
}

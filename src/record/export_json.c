/*
 * export_json.c — the JSON export (export.h, docs/export.schema.json): the
 * replayed run (export_model.h) as it is, and the text rbc writes of any
 * JSON document it exports.
 */
#include <stdlib.h>

#include "rbc/export.h"
#include "rbc/text.h"
#include "rbc/util.h"

#include "export_model.h"

/* The JSON export is the replayed run itself (export.h). */
cJSON *export_json(const char *dir, struct rbc_error *err)
{
	return export_model_new(dir, err);
}

/* doc indented, C1 controls escaped, with a final newline (export.h). */
char *export_json_print(const cJSON *doc)
{
	char *text = doc ? cJSON_Print(doc) : NULL;
	if (!text)
		return NULL;
	struct strbuf sb = {0};
	text_json(&sb, text); /* C1 controls as \u0080…: nothing raw */
	sb_addc(&sb, '\n');
	free(text);
	return sb_take(&sb);
}

/* The JSON export as rbc export writes it (export.h). */
char *export_json_text(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_json(dir, err);
	char *text = export_json_print(doc);
	cJSON_Delete(doc);
	return text;
}

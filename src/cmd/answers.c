/*
 * answers.c — `--answers FILE`: the answers to a run's asks, read before
 * anything runs. A file that is not a JSON object of answers is refused
 * with what it is; each answer is checked against its ask's rule later,
 * with the values of --var and --vars (runbook_check_values).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/json.h"
#include "rbc/keys.h"
#include "rbc/text.h"
#include "rbc/util.h"
#include "answers.h"

/* The text a run holds for answer c (a new string), or NULL when c is none. */
static char *answer_text(const cJSON *c)
{
	if (cJSON_IsString(c))
		return xstrdup(c->valuestring);
	if (cJSON_IsNumber(c))
		return keys_number_text(c->valuedouble);
	if (cJSON_IsBool(c))
		return xstrdup(cJSON_IsTrue(c) ? "true" : "false");
	if (!cJSON_IsArray(c))
		return NULL;
	for (const cJSON *x = c->child; x; x = x->next)
		if (!cJSON_IsString(x) && !cJSON_IsNumber(x))
			return NULL;
	return cJSON_PrintUnformatted(c);
}

/* --answers FILE into kv (answers.h). */
int answers_read(const char *path, struct rb_kv *kv)
{
	size_t len = 0;
	char *buf = read_file(path, 16u << 20, &len);
	if (!buf) {
		text_fprintf(stderr, "rbc: --answers %s: cannot read: %s\n", path, strerror(errno));
		return RBC_EXIT_NOINPUT;
	}
	struct rbc_diags d = {0};
	struct json_doc *doc = json_doc_parse(path, buf, len, &d);
	const cJSON *j = doc ? json_doc_root(doc) : NULL;
	int rc = 0;
	if (!doc) {
		diags_print(&d, stderr);
		text_fprintf(stderr, "rbc: --answers %s: not JSON: expected an object of NAME: answer\n", path);
		rc = RBC_EXIT_DATAERR;
	} else if (!cJSON_IsObject(j)) {
		text_fprintf(stderr, "rbc: --answers %s: expected a JSON object of NAME: answer, got %s\n", path,
		             json_type_name(j));
		rc = RBC_EXIT_DATAERR;
	}
	for (const cJSON *c = rc ? NULL : j->child; c; c = c->next) {
		char *v = answer_text(c);
		if (!v || !rb_var_name_ok(c->string, strlen(c->string))) {
			text_fprintf(stderr, "rbc: --answers %s: \"%s\": %s\n", path, c->string,
			             v ? "not a variable name (letters, digits and '_')"
			               : "expected a string, number, boolean or an array of strings and numbers");
			free(v);
			rc = RBC_EXIT_DATAERR;
			break;
		}
		if (!rb_kv_get(kv, c->string))
			rb_kv_set(kv, c->string, v);
		free(v);
	}
	diags_free(&d);
	json_doc_free(doc);
	free(buf);
	return rc;
}

/*
 * export_model.h — what the exporters of src/record share: the run
 * replayed from its journal into one document (the JSON export's, as
 * docs/export.schema.json describes it) and how its steps read. The
 * format files (export_json.c, export_junit.c, export_md.c) build on it;
 * nothing here knows a format.
 */
#ifndef RBC_RECORD_EXPORT_MODEL_H
#define RBC_RECORD_EXPORT_MODEL_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"

/*
 * The run in dir replayed from its journal (a new object, caller frees):
 * the header's facts, the run's state, counts and log (Version and
 * Environment), one entry per step in the order steps first appeared, the
 * notes, the resumes and the timeline of every event but samples. NULL
 * with err when the journal cannot be read or has no header.
 */
cJSON *export_model_new(const char *dir, struct rbc_error *err);

/* Member k of object o (borrowed), NULL when it has none. */
static inline cJSON *export_get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The text of member k of o (borrowed), NULL when it is not a string. */
static inline const char *export_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(export_get(o, k));
}

/* How a step's end reads: its verdict once judged (state done, or no
   state), else its state in capitals (SKIPPED, CANCELLED). */
const char *export_state_word(const char *state, const char *verdict);

/* A step of the record: not a phase or a group, nor a step of a procedure
   the run never needed (on demand, never reached). */
bool export_step_leaf(const cJSON *s);

/* Whether the step was never reached (state pending). */
bool export_step_not_run(const cJSON *s);

/* Why the run of doc did not get to its end, in words (a new string), or
   NULL when it did. */
char *export_unfinished_why(const cJSON *doc);

#endif

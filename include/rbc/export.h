/*
 * export.h — a run's record as documents, built from its journal alone
 * (docs/journal.md): the JSON export (docs/export.schema.json), JUnit XML, the
 * Markdown deployment log and an incident run's own documents, each a
 * format of rbc export --format found by its name (export_format_find).
 *
 * Everything comes from the journal, which is masked when written: an
 * export can hold no secret the journal does not, and it says how many
 * masked values it carries.
 */
#ifndef RBC_EXPORT_H
#define RBC_EXPORT_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/util.h"

#define EXPORT_SCHEMA_VERSION 1

/* A format of rbc export --format. */
struct export_format {
	const char *name;  /* as --format takes it: md, json, junit, … */
	/* The document of the run in dir as written (a new string), or NULL
	   with err. */
	char *(*render)(const char *dir, struct rbc_error *err);
};

/* The format called name (a static entry), or NULL when there is none. */
const struct export_format *export_format_find(const char *name);

/* The names of every format, in order, joined by sep (a new string). */
char *export_format_names(const char *sep);

/* The JSON export of the run in dir (a new object), or NULL with err. */
cJSON *export_json(const char *dir, struct rbc_error *err);

/* The JSON export of the run in dir as written (a new string: indented,
   C1 controls escaped, a final newline), or NULL with err. */
char *export_json_text(const char *dir, struct rbc_error *err);

/* doc as rbc writes a JSON document (a new string, as export_json_text),
   NULL when doc is NULL. doc stays the caller's. */
char *export_json_print(const cJSON *doc);

/*
 * The JUnit XML of the run in dir (a new string), or NULL with err: one
 * testsuite per runbook, one testcase per step that started; FAIL and
 * UNKNOWN are failures, ERROR an error, a step that did not finish is
 * skipped; the explanation is the failure's text (tests/junit.xsd).
 */
char *export_junit(const char *dir, struct rbc_error *err);

/*
 * The Markdown deployment log of the run in dir (a new string), or NULL
 * with err: the header of the deployment-log template (date, version,
 * deployed by, environment), a summary per phase, a table per phase,
 * manual steps and notes, failures with the last lines of their output,
 * captures, what triggered a rollback (verbatim), the timeline, metrics
 * and next steps.
 */
char *export_markdown(const char *dir, struct rbc_error *err);

/*
 * An incident run's own documents (its first runbook of kind incident, the
 * incident lines of its journal), or NULL with err when the run has no
 * incident: the timeline as JSON (docs/incident.schema.json) and Markdown —
 * severity and time in each level, status, milestones with durations, roles
 * and handovers, every entry, todos, notifications, exit criteria — and a
 * postmortem skeleton with what the record knows filled in.
 */
cJSON *export_incident_json(const char *dir, struct rbc_error *err);
char *export_incident_markdown(const char *dir, struct rbc_error *err);
char *export_postmortem(const char *dir, struct rbc_error *err);

/* Text from the record for a Markdown table cell or line, appended to sb:
   text_md (text.h) — never HTML or Markdown of its own, a line break kept
   as <br>, control characters as U+FFFD. */
void export_md_cell(struct strbuf *sb, const char *s);

/*
 * Writes text to path atomically: a temporary file beside it (mode 0600,
 * PATH.tmp. and a random suffix, created with O_EXCL), fsync, rename, fsync
 * of the directory. Blocking: for commands, not the
 * loop thread.
 */
bool export_write_file(const char *path, const char *text, struct rbc_error *err);

/*
 * Writes text where the operator asked (-o path): a regular file, or a new
 * one, as export_write_file does (through a symbolic link: the file it
 * names is replaced, the link stays); anything else — a device such as
 * /dev/null, a FIFO, a terminal — is opened and written in place, never
 * replaced by a file. A name for a descriptor of this process (/dev/stdout,
 * /dev/stderr, /dev/fd/N, /proc/self/fd/N, or a link to one) is written on
 * that descriptor, at its offset, and left open: the file behind it is not
 * reopened by name. A file of a run's record (a run directory's journal,
 * anything in its out/), named or reached through a link, is refused.
 * Blocking: for commands.
 */
bool export_write_to(const char *path, const char *text, struct rbc_error *err);

#endif

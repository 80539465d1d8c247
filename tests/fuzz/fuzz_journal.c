/*
 * fuzz_journal.c — libFuzzer harness for the journal reader.
 *
 * Every input is written as the journal.jsonl of a run directory and read
 * back by every reader rbc has: the listing's summary (rbc runs), the JSON,
 * JUnit and Markdown exports (the Markdown one reads the failures' output
 * files), the incident timeline and the postmortem, resume's header and its
 * replay into an engine of the run's runbook. A journal is text on disk that
 * anyone with access could have changed, so every one of them sees hostile
 * bytes. Everything is freed, so LeakSanitizer turns a leak on any error path
 * into a finding.
 *
 * The harness writes the runbooks the seeds' headers name (fuzz-rb.json,
 * fuzz-inc.json) and the run directory (fuzz-run/, with an output file in
 * out/) into the current directory when it starts: tests/fuzz/run starts it
 * in a scratch directory, and a replayed finding starts the same way. The
 * seeds' headers name the run fuzz-run: a journal names its directory's run.
 *
 * Contracts checked: the readers agree on whether a journal can be read at
 * all (the summary, the JSON export and the resume replay succeed or fail
 * together, and a failure says why), and every line handed to a reader has
 * the seq of its place.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "rbc/engine.h"
#include "rbc/error.h"
#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/runbook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RUN_DIR "fuzz-run"

static struct runbook *rb;
static uv_loop_t loop;

/* A broken contract is a finding too: abort so libFuzzer keeps the input. */
static void expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_journal: contract broken: %s\n", what);
		abort();
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	expect(f != NULL, "the harness can write its fixtures");
	fputs(text, f);
	fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	write_text("fuzz-rb.json",
	           "{ \"runbook\": \"fz\", \"title\": \"Fuzz\", \"secrets\": [\"TOKEN\"],\n"
	           "  \"steps\": [\n"
	           "    { \"id\": \"g\", \"title\": \"Group\", \"parallel\": true, \"steps\": [\n"
	           "      { \"id\": \"a\", \"title\": \"A\", \"run\": \"echo 1.2.3\", \"capture\": { \"V\": \"stdout\" } },\n"
	           "      { \"id\": \"b\", \"title\": \"B\", \"run\": \"echo bad; exit 3\", \"on_fail\": \"continue\" } ] },\n"
	           "    { \"id\": \"m\", \"title\": \"Sign\", \"manual\": \"Sign off\" },\n"
	           "    { \"id\": \"c\", \"title\": \"Confirm\", \"run\": \"true\", \"confirm\": \"Sure?\",\n"
	           "      \"repeat\": { \"count\": 3, \"every\": \"10ms\" }, \"retry\": { \"attempts\": 2 } },\n"
	           "    { \"id\": \"w\", \"title\": \"Watch\", \"run\": \"exit 1\", \"watch\": true,\n"
	           "      \"repeat\": { \"every\": \"20ms\", \"fail_after\": 2 }, \"on_fail\": \"goto:back\" },\n"
	           "    { \"id\": \"back\", \"title\": \"Back\", \"on_demand\": true, \"steps\": [\n"
	           "      { \"id\": \"undo\", \"title\": \"Undo\", \"run\": \"true\" } ] },\n"
	           "    { \"id\": \"after\", \"title\": \"After\", \"run\": \"sleep 0.2\" }\n"
	           "  ] }\n");
	write_text("fuzz-inc.json",
	           "{ \"runbook\": \"fzinc\", \"title\": \"Incident\", \"kind\": \"incident\",\n"
	           "  \"roles\": [ \"commander\", \"comms\" ], \"exit_criteria\": [ \"Quiet\", \"Known\" ],\n"
	           "  \"severities\": [\n"
	           "    { \"id\": \"L1\", \"name\": \"Minor\", \"restore\": \"15m\", \"rpo\": \"0m\",\n"
	           "      \"steps\": [ { \"title\": \"Roll back\", \"run\": \"true\" } ] },\n"
	           "    { \"id\": \"L2\", \"name\": \"Major\", \"restore\": \"1h\", \"rpo\": \"15m\",\n"
	           "      \"steps\": [ { \"title\": \"Restore\", \"manual\": \"Restore\" } ] } ],\n"
	           "  \"steps\": [ { \"id\": \"detect\", \"title\": \"Detect\", \"manual\": \"Confirm the alert\" } ] }\n");
	mkdir(RUN_DIR, 0700);
	mkdir(RUN_DIR "/out", 0700);
	write_text(RUN_DIR "/out/fz.b.out", "line one\nline two\n");
	struct rbc_diags d = {0};
	rb = runbook_load("fuzz-rb.json", &d);
	expect(rb != NULL, "the harness's runbook loads");
	diags_free(&d);
	uv_loop_init(&loop);
	return 0;
}

/* Every line a reader is handed has the seq of its place. */
static bool seq_line(void *ud, const cJSON *ev, const char *raw, unsigned long line)
{
	(void)raw;
	unsigned long *n = ud;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	expect(cJSON_IsNumber(seq) && seq->valuedouble == (double)(line - 1), "a line's seq is its place");
	expect(line == *n + 1, "lines come in order, none skipped");
	*n = line;
	return true;
}

/* An export as text: its string, or NULL with err.msg set. */
static void text_export(char *(*fn)(const char *, struct rbc_error *))
{
	struct rbc_error err = {0};
	char *s = fn(RUN_DIR, &err);
	expect(s != NULL || err.msg != NULL, "an export that fails says why");
	free(s);
	rbc_error_clear(&err);
}

static bool json_export(cJSON *(*fn)(const char *, struct rbc_error *))
{
	struct rbc_error err = {0};
	cJSON *doc = fn(RUN_DIR, &err);
	expect(doc != NULL || err.msg != NULL, "an export that fails says why");
	char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
	free(s);
	cJSON_Delete(doc);
	rbc_error_clear(&err);
	return doc != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(RUN_DIR "/" JOURNAL_FILE, "w");
	expect(f != NULL, "the harness can write the journal");
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);

	struct rbc_error err = {0};
	unsigned long lines = 0;
	journal_replay(RUN_DIR, seq_line, &lines, NULL, &err);
	rbc_error_clear(&err);

	struct journal_summary s;
	bool listed = journal_summary(RUN_DIR, &s, &err);
	expect(listed || err.msg != NULL, "a run that cannot be listed says why");
	if (listed)
		journal_summary_free(&s);
	rbc_error_clear(&err);

	bool exported = json_export(export_json);
	expect(exported == listed, "the listing and the JSON export agree on the journal");
	text_export(export_junit);
	text_export(export_markdown);
	json_export(export_incident_json);
	text_export(export_incident_markdown);
	text_export(export_postmortem);

	cJSON *h = resume_header(RUN_DIR, &err);
	expect(h != NULL || err.msg != NULL, "a header refused says why");
	bool header = h != NULL;
	cJSON_Delete(h);
	rbc_error_clear(&err);

	struct runbook *rbs[] = {rb};
	struct engine_opts o = {.loop = &loop, .runbooks = rbs, .nrunbooks = 1, .out_dir = RUN_DIR "/out",
	                        .operator = "fuzz"};
	struct engine *e = engine_new(&o, &err);
	expect(e != NULL, "an engine over the harness's runbook");
	struct resume_state st;
	bool replayed = resume_replay(RUN_DIR, e, &st, &err);
	expect((replayed && header) == listed, "the listing and a resume agree on the journal");
	expect(replayed || err.msg != NULL, "a resume refused says why");
	resume_state_free(&st);
	rbc_error_clear(&err);
	engine_free(e);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}

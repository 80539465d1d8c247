/*
 * export_md.c — the Markdown deployment log (export.h) of the replayed run
 * (export_model.h), one function per section of the deployment-log
 * template, in the order md_sections lists them; and the cell text the
 * incident documents use too (export_md_cell).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbc/export.h"
#include "rbc/rundir.h"
#include "rbc/text.h"
#include "rbc/budgetlog.h"
#include "rbc/units.h"
#include "rbc/util.h"

#include "export_md_prose.h"
#include "export_model.h"

/* Record text for a cell or a line: text_md, never Markdown of its own (export.h). */
void export_md_cell(struct strbuf *sb, const char *s)
{
	text_md(sb, s);
}

/* The mark of a verdict in a step's state: ✅ ⚠️ ❌, ⏭ not run or skipped, ⏸ not finished. */
static const char *verdict_mark(const char *v, const char *state)
{
	if (state && (strcmp(state, "skipped") == 0 || strcmp(state, "pending") == 0))
		return "⏭";
	if (!v || (state && strcmp(state, "done") != 0))
		return "⏸";
	if (strcmp(v, "PASS") == 0)
		return "✅";
	if (strcmp(v, "WARN") == 0)
		return "⚠️";
	return "❌";
}

/* The time of day in an ISO time, NULL when it has none. */
static const char *hhmmss(const char *iso)
{
	/* "2026-12-04T01:52:40.366Z" → "01:52:40" */
	return iso && strlen(iso) >= 19 ? iso + 11 : NULL;
}

/* The "01:52:40" of an ISO time read back from the journal, as text. */
static void add_hhmmss(struct strbuf *sb, const char *iso)
{
	char t[9] = "";
	if (hhmmss(iso))
		snprintf(t, sizeof t, "%.8s", hhmmss(iso));
	text_md(sb, t);
}

/* The last lines of a step's output file, for a failure's excerpt: only a
   regular file of the run's in its own out/ with no other name, never
   through a link, never a wait (rundir_open_output). The bytes as they
   are, NUL included: their length in *len. */
static char *tail_of(const char *dir, const char *output, int lines, size_t *len)
{
	char *name = rundir_output_name(output);
	int fd = name ? rundir_open_output(dir, name) : -1;
	free(name);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > 8192 ? size - 8192 : 0;
	fseek(f, from, SEEK_SET);
	char buf[8193];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	char *p = buf + n;
	for (int k = 0; p > buf; p--)
		if (p[-1] == '\n' && ++k == lines)
			break;
	*len = (size_t)(buf + n - p);
	return n ? xstrndup(p, *len) : NULL;
}

/* The heading lines of the deployment-log template: date, version,
   deployed by, environment, the run, and its result. Everything from the
   journal is text (text.h): values, names and outputs are never Markdown
   or HTML of the log's own. */
static void md_header(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	/* Version and Environment as the record fills them (the runbooks' "log"). */
	const cJSON *log = export_get(doc, "log");
	const char *env = export_str(log, "environment"), *ver = export_str(log, "version");
	const char *verdict = export_str(doc, "verdict");
	sb_adds(sb, "# Deployment Log\n\n");
	sb_adds(sb, "**Date**: ");
	text_md(sb, export_str(doc, "started"));
	if (export_str(doc, "finished")) {
		sb_adds(sb, " → ");
		text_md(sb, export_str(doc, "finished"));
	}
	sb_adds(sb, " (UTC)\n");
	sb_adds(sb, "**Version**: ");
	text_md(sb, ver ? ver : "—");
	sb_adds(sb, "\n**Deployed By**: ");
	text_md(sb, export_str(doc, "operator"));
	sb_adds(sb, "\n**Environment**: ");
	text_md(sb, env ? env : "—");
	sb_adds(sb, "\n**Run**: ");
	text_md(sb, export_str(doc, "run"));
	sb_adds(sb, " (rbc ");
	text_md(sb, export_str(doc, "rbc"));
	sb_adds(sb, " on ");
	text_md(sb, export_str(doc, "host"));
	sb_adds(sb, ")\n");
	/* A run that did not get to its end shows it first: ⏸, never ✅. */
	char *unfinished = export_unfinished_why(doc);
	sb_addf(sb, "**Result**: %s ", verdict_mark(verdict, unfinished ? "running" : "done"));
	text_md(sb, verdict ? verdict : "NOT FINISHED");
	if (unfinished) {
		sb_adds(sb, " — ");
		text_md(sb, unfinished);
		free(unfinished);
	}
	sb_adds(sb, "\n\n");
}

/* How the steps of one phase ended, for its summary line. */
struct md_tally {
	int n, pass, warn, fail, skip, open, notrun;
};

/* The steps of runbook rid counted by how they ended; its phase entry
   (NULL when the run has none) in *phase. */
static struct md_tally md_tally_of(const cJSON *steps, const char *rid, const cJSON **phase)
{
	struct md_tally k = {0};
	const cJSON *s;
	*phase = NULL;
	cJSON_ArrayForEach(s, steps)
	{
		if (strcmp(export_str(s, "runbook"), rid) != 0)
			continue;
		if (cJSON_IsTrue(export_get(s, "phase"))) {
			*phase = s;
			continue;
		}
		if (!export_step_leaf(s))
			continue;
		k.n++;
		const char *st = export_str(s, "state"), *v = export_str(s, "verdict");
		if (export_step_not_run(s))
			k.notrun++;
		else if (st && strcmp(st, "skipped") == 0)
			k.skip++;
		else if (!st || strcmp(st, "done") != 0 || !v)
			k.open++;
		else if (strcmp(v, "PASS") == 0)
			k.pass++;
		else if (strcmp(v, "WARN") == 0)
			k.warn++;
		else
			k.fail++;
	}
	return k;
}

/* Deployment Summary: one line per phase (runbook), with its mark and counts. */
static void md_summary(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	sb_adds(sb, "## Deployment Summary\n\n");
	const cJSON *rb;
	cJSON_ArrayForEach(rb, export_get(doc, "runbooks"))
	{
		const char *rid = export_str(rb, "id");
		const cJSON *phase;
		struct md_tally k = md_tally_of(export_get(doc, "steps"), rid, &phase);
		if (!phase && cJSON_IsTrue(export_get(rb, "included")))
			continue;
		const char *title = phase && export_str(phase, "title") ? export_str(phase, "title") : rid;
		/* Steps not reached beside steps that ran: the phase is not finished. */
		const char *mark = k.fail ? "❌" : k.open ? "⏸" : !k.n || k.skip + k.notrun == k.n ? "⏭" : k.notrun ? "⏸"
		                 : k.warn ? "⚠️" : "✅";
		sb_adds(sb, "- ");
		text_md_block(sb, title);
		sb_addf(sb, ": %s ", mark);
		if (!k.n || k.notrun == k.n)
			sb_adds(sb, "not run");
		else if (!k.fail && !k.warn && !k.open && !k.skip && !k.notrun)
			sb_addf(sb, "All passed (%d)", k.pass);
		else {
			const char *sep = "";
			if (k.pass) { sb_addf(sb, "%s%d passed", sep, k.pass); sep = ", "; }
			if (k.warn) { sb_addf(sb, "%s%d warning%s", sep, k.warn, k.warn == 1 ? "" : "s"); sep = ", "; }
			if (k.fail) { sb_addf(sb, "%s%d failed", sep, k.fail); sep = ", "; }
			if (k.skip) { sb_addf(sb, "%s%d skipped", sep, k.skip); sep = ", "; }
			if (k.open) { sb_addf(sb, "%s%d not finished", sep, k.open); sep = ", "; }
			if (k.notrun) sb_addf(sb, "%s%d not run", sep, k.notrun);
		}
		sb_adds(sb, "\n");
	}
}

/* One row of a phase's table: step, verdict, measured vs threshold,
   operator, start → end (UTC). */
static void md_step_row(struct strbuf *sb, const cJSON *s)
{
	const char *st = export_str(s, "state"), *v = export_str(s, "verdict");
	sb_adds(sb, "| ");
	export_md_cell(sb, export_str(s, "number"));
	sb_adds(sb, " | ");
	export_md_cell(sb, export_str(s, "title") ? export_str(s, "title") : export_str(s, "id"));
	sb_addf(sb, " | %s ", verdict_mark(v, st));
	export_md_cell(sb, st && strcmp(st, "done") == 0 && v ? v : export_step_not_run(s) ? "not run" : st);
	sb_adds(sb, " | ");
	export_md_cell(sb, export_str(s, "explanation"));
	sb_adds(sb, " | ");
	export_md_cell(sb, export_str(s, "by"));
	sb_adds(sb, " | ");
	add_hhmmss(sb, export_str(s, "started"));
	if (hhmmss(export_str(s, "finished"))) {
		sb_adds(sb, " → ");
		add_hhmmss(sb, export_str(s, "finished"));
	}
	sb_adds(sb, " |\n");
}

/* A table per phase that has steps of the record, under its title. */
static void md_phases(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	const cJSON *steps = export_get(doc, "steps"), *s, *rb;
	cJSON_ArrayForEach(rb, export_get(doc, "runbooks"))
	{
		const char *rid = export_str(rb, "id");
		bool any = false;
		cJSON_ArrayForEach(s, steps) any = any || (strcmp(export_str(s, "runbook"), rid) == 0 && export_step_leaf(s));
		if (!any)
			continue;
		const char *title = rid;
		const cJSON *phase = NULL;
		cJSON_ArrayForEach(s, steps) if (strcmp(export_str(s, "id"), rid) == 0)
			phase = s;
		if (phase && export_str(phase, "title"))
			title = export_str(phase, "title");
		sb_adds(sb, "\n## ");
		export_md_cell(sb, title);
		sb_adds(sb, "\n\n");
		export_md_prose_runbook(sb, phase);
		sb_adds(sb, "| # | Step | Verdict | Measured vs threshold | Operator | Start → End (UTC) |\n");
		sb_adds(sb, "| --- | --- | --- | --- | --- | --- |\n");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(export_str(s, "runbook"), rid) == 0 && export_step_leaf(s))
				md_step_row(sb, s);
		}
		export_md_prose_steps(sb, steps, rid);
	}
}

/* Manual Steps and Notes: who answered which step, and every note. */
static void md_manual(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	sb_adds(sb, "\n## Manual Steps and Notes\n\n");
	bool any = false;
	const cJSON *s;
	cJSON_ArrayForEach(s, export_get(doc, "steps"))
	{
		/* Answered by someone: a manual step, or a confirmation declined
		   (a group's too). */
		bool skipped = export_str(s, "state") && strcmp(export_str(s, "state"), "skipped") == 0;
		if (!export_str(s, "by") || (!export_step_leaf(s) && !skipped))
			continue;
		any = true;
		sb_adds(sb, "- ");
		text_md_block(sb, export_str(s, "number") ? export_str(s, "number") : "");
		sb_adds(sb, " ");
		export_md_cell(sb, export_str(s, "title") ? export_str(s, "title") : export_str(s, "id"));
		sb_adds(sb, " — ");
		text_md(sb, export_str(s, "state"));
		if (skipped && export_str(s, "explanation")) {
			/* Its why says who and how: "declined by alice". */
			sb_adds(sb, ": ");
			export_md_cell(sb, export_str(s, "explanation"));
		} else {
			/* An approval says so: someone other than the driver gave it. */
			bool approved = cJSON_IsTrue(export_get(s, "approval")) && export_str(s, "verdict") &&
			                strcmp(export_str(s, "verdict"), "PASS") == 0;
			sb_adds(sb, approved ? " — approved by " : " by ");
			export_md_cell(sb, export_str(s, "by"));
		}
		if (export_str(s, "note")) {
			sb_adds(sb, ": ");
			export_md_cell(sb, export_str(s, "note"));
		}
		sb_adds(sb, "\n");
	}
	const cJSON *note;
	cJSON_ArrayForEach(note, export_get(doc, "notes"))
	{
		any = true;
		sb_adds(sb, "- ");
		add_hhmmss(sb, export_str(note, "t"));
		sb_adds(sb, " UTC, ");
		text_md(sb, export_str(note, "by"));
		if (export_str(note, "step")) {
			sb_adds(sb, " on ");
			text_md(sb, export_str(note, "step"));
		}
		sb_adds(sb, ": ");
		text_md(sb, export_str(note, "text"));
		sb_adds(sb, "\n");
	}
	if (!any)
		sb_adds(sb, "None.\n");
}

/* Failures: each step judged FAIL, UNKNOWN or ERROR, with why and the last
   lines of its output (read from the run's out/ in dir). */
static void md_failures(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	sb_adds(sb, "\n## Failures\n\n");
	bool any = false;
	const cJSON *s;
	cJSON_ArrayForEach(s, export_get(doc, "steps"))
	{
		const char *v = export_str(s, "verdict"), *st = export_str(s, "state");
		if (!export_step_leaf(s) || !v || !st || strcmp(st, "done") != 0 || strcmp(v, "PASS") == 0 ||
		    strcmp(v, "WARN") == 0)
			continue;
		any = true;
		sb_adds(sb, "### ");
		text_md(sb, export_str(s, "number") ? export_str(s, "number") : "");
		sb_adds(sb, " ");
		export_md_cell(sb, export_str(s, "title") ? export_str(s, "title") : export_str(s, "id"));
		sb_adds(sb, " — ");
		text_md(sb, v);
		sb_adds(sb, "\n\n");
		text_md_block(sb, export_str(s, "explanation") ? export_str(s, "explanation") : v);
		sb_adds(sb, "\n");
		size_t exn = 0;
		char *ex = tail_of(dir, export_str(s, "output"), 20, &exn);
		if (ex) {
			/* The output as it was, in a fence no line of it can close. */
			sb_adds(sb, "\nLast lines of its output:\n\n");
			text_md_fence(sb, ex, exn, "text");
			free(ex);
		}
		sb_adds(sb, "\n");
	}
	if (!any)
		sb_adds(sb, "None.\n\n");
}

/* Captures: every variable a step captured, masked as the journal has it. */
static void md_captures(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	sb_adds(sb, "## Captures\n\n");
	bool any = false;
	const cJSON *s;
	cJSON_ArrayForEach(s, export_get(doc, "steps"))
	{
		const cJSON *c;
		cJSON_ArrayForEach(c, export_get(s, "captures"))
		{
			if (!any)
				sb_adds(sb, "| Variable | Value | Step |\n| --- | --- | --- |\n");
			any = true;
			sb_adds(sb, "| ");
			export_md_cell(sb, export_str(c, "name"));
			sb_adds(sb, " | ");
			export_md_cell(sb, export_str(c, "value") ? export_str(c, "value") : "(not captured)");
			sb_adds(sb, " | ");
			export_md_cell(sb, export_str(s, "id"));
			sb_adds(sb, " |\n");
		}
	}
	if (!any)
		sb_adds(sb, "None.\n");
}

/* Decisions: every ask answered — the question, the answer ("(secret)"
   for a secret), who gave it and when. */
static void md_decisions(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	bool any = false;
	const cJSON *s;
	cJSON_ArrayForEach(s, export_get(doc, "steps"))
	{
		const cJSON *a = export_get(s, "answer");
		if (!a)
			continue;
		if (!any)
			sb_adds(sb, "\n## Decisions\n\n| Step | Question | Answer | By | At (UTC) |\n"
			            "| --- | --- | --- | --- | --- |\n");
		any = true;
		sb_adds(sb, "| ");
		export_md_cell(sb, export_str(s, "id"));
		sb_adds(sb, " | ");
		export_md_cell(sb, export_str(a, "question"));
		sb_adds(sb, " | ");
		export_md_cell(sb, export_str(a, "answer"));
		sb_adds(sb, " | ");
		export_md_cell(sb, export_str(a, "by"));
		sb_adds(sb, " | ");
		add_hhmmss(sb, export_str(a, "t"));
		sb_adds(sb, " |\n");
	}
}

/* Rollback: what triggered it (an on_fail jump, a watch that fired, a deadline's goto), verbatim. */
static void md_rollback(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	sb_adds(sb, "\n## Rollback\n\n");
	bool any = false;
	const cJSON *t;
	cJSON_ArrayForEach(t, export_get(doc, "timeline"))
	{
		const char *ev = export_str(t, "ev");
		bool deadline = strcmp(ev, "deadline") == 0 && export_str(t, "target"); /* on_deadline goto: */
		if (strcmp(ev, "jump") != 0 && strcmp(ev, "watch_fired") != 0 && !deadline)
			continue;
		any = true;
		sb_adds(sb, "- ");
		add_hhmmss(sb, export_str(t, "t"));
		sb_adds(sb, " UTC — ");
		text_md(sb, export_str(t, "step"));
		sb_adds(sb, " ");
		if (export_str(t, "target")) {
			sb_adds(sb, "→ ");
			text_md(sb, export_str(t, "target"));
		}
		sb_adds(sb, ": ");
		text_md(sb, export_str(t, "text"));
		sb_addf(sb, " (%s)\n", strcmp(ev, "watch_fired") == 0 ? "automatic: a watch fired"
		                        : deadline                     ? "automatic: a deadline passed"
		                                                       : "on_fail");
	}
	if (!any)
		sb_adds(sb, "None: no on_fail jump and no watch fired.\n");
}

/* The Detail cell of a timeline row: verdict, text, what a resume or a
   capture said, and who. */
static void md_event_detail(struct strbuf *sb, const cJSON *t)
{
	const char *ev = export_str(t, "ev");
	if (export_str(t, "verdict")) {
		/* A step that ended without being judged (skipped, cancelled)
		   is said so, never by the verdict it carries. */
		export_md_cell(sb, export_state_word(export_str(t, "state"), export_str(t, "verdict")));
		sb_adds(sb, " ");
	}
	export_md_cell(sb, export_str(t, "text"));
	if (strcmp(ev, "run_resumed") == 0) {
		sb_adds(sb, "resumed from the journal");
		if (export_str(t, "at")) {
			sb_adds(sb, " at ");
			export_md_cell(sb, export_str(t, "at"));
		}
	}
	if (cJSON_IsTrue(export_get(t, "interrupted")))
		sb_adds(sb, " (interrupted: run again after the resume)");
	if (export_str(t, "name")) {
		sb_adds(sb, " ");
		export_md_cell(sb, export_str(t, "name"));
		sb_adds(sb, " = ");
		export_md_cell(sb, export_str(t, "value") ? export_str(t, "value") : "(none)");
	}
	if (export_str(t, "by")) {
		sb_adds(sb, " (by ");
		export_md_cell(sb, export_str(t, "by"));
		sb_adds(sb, ")");
	}
}

/* Timeline: one row per event but step starts and outputs. */
static void md_timeline(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	sb_adds(sb, "\n## Timeline\n\n| Time (UTC) | Event | Step | Detail |\n| --- | --- | --- | --- |\n");
	const cJSON *t;
	cJSON_ArrayForEach(t, export_get(doc, "timeline"))
	{
		const char *ev = export_str(t, "ev");
		if (strcmp(ev, "step_started") == 0 || strcmp(ev, "output") == 0)
			continue;
		sb_adds(sb, "| ");
		export_md_cell(sb, export_str(t, "t"));
		sb_adds(sb, " | ");
		export_md_cell(sb, ev);
		if (export_str(t, "what")) { /* an incident action: which one */
			sb_adds(sb, " ");
			export_md_cell(sb, export_str(t, "what"));
		}
		sb_adds(sb, " | ");
		export_md_cell(sb, export_str(t, "step"));
		sb_adds(sb, " | ");
		md_event_detail(sb, t);
		sb_adds(sb, " |\n");
	}
}

/* Metrics: duration, the counts, retries, interruptions, masked values. */
static void md_metrics(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	const cJSON *counts = export_get(doc, "counts"), *steps = export_get(doc, "steps"), *s;
	sb_adds(sb, "\n## Metrics\n\n");
	double dur = 0;
	cJSON_ArrayForEach(s, steps)
	{
		const cJSON *ms = export_get(s, "duration_ms");
		if (cJSON_IsTrue(export_get(s, "phase")) && cJSON_IsNumber(ms))
			dur += ms->valuedouble;
	}
	char dbuf[32];
	sb_addf(sb, "- Duration: %s\n", units_format(dur, RBC_DIM_TIME, dbuf, sizeof dbuf));
	sb_addf(sb, "- Steps: %.0f — %.0f passed, %.0f warn, %.0f failed, %.0f unknown, %.0f error, %.0f skipped, "
	            "%.0f cancelled, %.0f not finished, %.0f not run\n",
	        export_get(counts, "steps")->valuedouble, export_get(counts, "PASS")->valuedouble,
	        export_get(counts, "WARN")->valuedouble, export_get(counts, "FAIL")->valuedouble,
	        export_get(counts, "UNKNOWN")->valuedouble, export_get(counts, "ERROR")->valuedouble,
	        export_get(counts, "SKIPPED")->valuedouble, export_get(counts, "CANCELLED")->valuedouble,
	        export_get(counts, "unfinished")->valuedouble, export_get(counts, "not_run")->valuedouble);
	int retries = 0;
	cJSON_ArrayForEach(s, steps) retries += cJSON_GetArraySize(export_get(s, "retries"));
	sb_addf(sb, "- Retries: %d\n", retries);
	int resumes = cJSON_GetArraySize(export_get(doc, "resumes"));
	if (resumes)
		sb_addf(sb, "- Interruptions: %d — the run was resumed from its journal %d time%s; nothing recorded was lost\n",
		        resumes, resumes, resumes == 1 ? "" : "s");
	sb_addf(sb, "- Masked values: %.0f (secrets are masked before anything is written)\n",
	        export_get(doc, "masked_values")->valuedouble);
}

/* Next Steps: what the run's end asks for, then the usual two. */
static void md_next_steps(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	const char *state = export_str(doc, "state"), *verdict = export_str(doc, "verdict");
	sb_adds(sb, "\n## Next Steps\n\n");
	if (state && strcmp(state, "finished") != 0)
		sb_adds(sb, "- The run did not finish: walk the steps that did not finish\n");
	if (verdict && strcmp(verdict, "PASS") != 0 && strcmp(verdict, "WARN") != 0)
		sb_adds(sb, "- Investigate the failures above and schedule a post-mortem\n");
	else if (verdict && strcmp(verdict, "WARN") == 0)
		sb_adds(sb, "- Look into the warnings above\n");
	sb_adds(sb, "- Monitor for 24 hours\n");
	sb_adds(sb, "- Hand over to the operations team\n");
}

/* A section of the deployment log: appends itself to sb, from the replayed
   run doc (dir: the run's directory, for its outputs). */
typedef void md_section_fn(struct strbuf *sb, const cJSON *doc, const char *dir);

/* The sections, in the order the log has them. */
static md_section_fn *const md_sections[] = {
	md_header, md_summary, md_phases, budgetlog_md, md_manual, md_failures,
	md_captures, md_decisions, md_rollback, md_timeline, md_metrics, md_next_steps,
};

/* The deployment log: every section of md_sections in turn (export.h). */
char *export_markdown(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_model_new(dir, err);
	if (!doc)
		return NULL;
	struct strbuf sb = {0};
	for (size_t i = 0; i < RBC_ARRAY_LEN(md_sections); i++)
		md_sections[i](&sb, doc, dir);
	cJSON_Delete(doc);
	return sb_take(&sb);
}

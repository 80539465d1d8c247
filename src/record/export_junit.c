/*
 * export_junit.c — the JUnit XML export (export.h, tests/junit.xsd) of the
 * replayed run (export_model.h): one testsuite per runbook, one testcase
 * per step, and one more, failed, for a run that did not get to its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/budgetlog.h"
#include "rbc/export.h"
#include "rbc/text.h"
#include "rbc/util.h"

#include "export_model.h"

/* Text for XML 1.0: the five specials escaped, controls it cannot hold
   (even as references), DEL and C1 controls, and invalid UTF-8 replaced by
   U+FFFD. */
static void xml_text(struct strbuf *sb, const char *s)
{
	if (!s)
		return;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		uint32_t cp = ch;
		size_t l = ch < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		if (!l || (utf8_is_control(cp) && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0xfffe || cp == 0xffff) {
			sb_adds(sb, "\xef\xbf\xbd");
			i += l ? l : 1;
			continue;
		}
		switch (ch) {
		case '&': sb_adds(sb, "&amp;"); break;
		case '<': sb_adds(sb, "&lt;"); break;
		case '>': sb_adds(sb, "&gt;"); break;
		case '"': sb_adds(sb, "&quot;"); break;
		case '\'': sb_adds(sb, "&apos;"); break;
		default: sb_add(sb, s + i, l);
		}
		i += l;
	}
}

/* name="value" after a tag's name, the value escaped as xml_text does. */
static void xml_attr(struct strbuf *sb, const char *name, const char *value)
{
	sb_addf(sb, " %s=\"", name);
	xml_text(sb, value);
	sb_adds(sb, "\"");
}

/* How long step s took, in seconds (0: not recorded). */
static double secs(const cJSON *s)
{
	const cJSON *d = export_get(s, "duration_ms");
	return cJSON_IsNumber(d) ? d->valuedouble / 1000 : 0;
}

/* A suite property, name and value escaped as XML attributes. */
static void junit_property(struct strbuf *sb, const char *name, const char *value)
{
	sb_adds(sb, "      <property");
	xml_attr(sb, "name", name);
	xml_attr(sb, "value", value);
	sb_adds(sb, "/>\n");
}

/* The suite's properties about step s (JUnit has none per testcase): its
   owner, who approved it, its group's or phase's deadline, took, met. */
static void junit_step_properties(struct strbuf *sb, const cJSON *s)
{
	const char *id = export_str(s, "id"), *by = export_str(s, "by"), *v = export_str(s, "verdict");
	char *dl = budgetlog_deadline_text(s);
	struct strbuf name = {0};
	if (export_str(s, "owner")) {
		sb_addf(&name, "owner %s", id);
		junit_property(sb, sb_borrow(&name), export_str(s, "owner"));
	}
	if (cJSON_IsTrue(export_get(s, "approval"))) {
		name.len = 0;
		sb_addf(&name, "approved_by %s", id);
		junit_property(sb, sb_borrow(&name), by && v && strcmp(v, "PASS") == 0 ? by : "");
	}
	if (dl) {
		name.len = 0;
		sb_addf(&name, "deadline %s", id);
		junit_property(sb, sb_borrow(&name), dl);
	}
	sb_free(&name);
	free(dl);
}

/* The joiners' commands (docs/team.md, "Joining a run"), as properties of
   the first suite: "command N" = what the record says became of it. */
static void junit_commands(struct strbuf *sb, const cJSON *doc)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, export_get(doc, "timeline"))
	{
		const cJSON *n = export_get(t, "command");
		if (!export_str(t, "ev") || strcmp(export_str(t, "ev"), "command") != 0 || !cJSON_IsNumber(n))
			continue;
		char name[48];
		snprintf(name, sizeof name, "command %.0f", n->valuedouble);
		junit_property(sb, name, export_str(t, "text") ? export_str(t, "text") : "");
	}
}

/* One suite per runbook, one testcase per step that started (or was answered). */
char *export_junit(const char *dir, struct rbc_error *err)
{
	cJSON *doc = export_model_new(dir, err);
	if (!doc)
		return NULL;
	struct strbuf sb = {0};
	sb_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	const cJSON *steps = export_get(doc, "steps"), *rbs = export_get(doc, "runbooks"), *s, *rb;
	const cJSON *counts = export_get(doc, "counts");
	double total_time = 0;
	cJSON_ArrayForEach(s, steps) if (cJSON_IsTrue(export_get(s, "phase"))) total_time += secs(s);
	int fails = (int)(export_get(counts, "FAIL")->valuedouble + export_get(counts, "UNKNOWN")->valuedouble);
	int errors = (int)export_get(counts, "ERROR")->valuedouble;
	int tests = 0, skipped = 0;
	cJSON_ArrayForEach(s, steps)
	{
		if (!export_step_leaf(s))
			continue;
		tests++;
		const char *st = export_str(s, "state");
		if (!st || strcmp(st, "done") != 0)
			skipped++;
	}
	/* A run that did not get to its end did not pass, whatever its steps
	   say: one more testcase, failed, says so. */
	char *unfinished = export_unfinished_why(doc);
	sb_adds(&sb, "<testsuites");
	xml_attr(&sb, "name", export_str(doc, "run"));
	sb_addf(&sb, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
	        tests + !!unfinished, fails + !!unfinished, errors, skipped, total_time);
	int suite_id = 0;
	bool commands_said = false; /* the joiners' commands: in the first suite */
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *rid = export_str(rb, "id");
		int t = 0, f = 0, e = 0, sk = 0;
		double time = 0;
		const char *started = export_str(doc, "started");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(export_str(s, "runbook"), rid) != 0)
				continue;
			if (cJSON_IsTrue(export_get(s, "phase"))) {
				time = secs(s);
				if (export_str(s, "started"))
					started = export_str(s, "started");
				continue;
			}
			if (!export_step_leaf(s))
				continue;
			t++;
			const char *st = export_str(s, "state"), *v = export_str(s, "verdict");
			if (!st || strcmp(st, "done") != 0)
				sk++;
			else if (v && strcmp(v, "ERROR") == 0)
				e++;
			else if (v && (strcmp(v, "FAIL") == 0 || strcmp(v, "UNKNOWN") == 0))
				f++;
		}
		if (!t && cJSON_IsTrue(export_get(rb, "included")))
			continue; /* an included runbook the run never went to */
		char ts[32];
		snprintf(ts, sizeof ts, "%.19s", started ? started : "1970-01-01T00:00:00");
		sb_addf(&sb, "  <testsuite id=\"%d\"", suite_id++);
		xml_attr(&sb, "name", rid);
		sb_addf(&sb, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\"", t, f, e,
		        sk, time);
		xml_attr(&sb, "timestamp", ts);
		xml_attr(&sb, "hostname", export_str(doc, "host"));
		sb_adds(&sb, ">\n    <properties>\n");
		static const char *const props[] = {"run", "operator", "rbc", "state"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(props); i++) {
			sb_adds(&sb, "      <property");
			xml_attr(&sb, "name", props[i]);
			xml_attr(&sb, "value", export_str(doc, props[i]));
			sb_adds(&sb, "/>\n");
		}
		sb_adds(&sb, "      <property");
		xml_attr(&sb, "name", "sha256");
		xml_attr(&sb, "value", export_str(rb, "sha256") ? export_str(rb, "sha256") : "");
		sb_adds(&sb, "/>\n");
		/* Owners, approvals, the budgets of its groups (the phase's too). */
		cJSON_ArrayForEach(s, steps) if (strcmp(export_str(s, "runbook"), rid) == 0)
			junit_step_properties(&sb, s);
		if (!commands_said) {
			junit_commands(&sb, doc);
			commands_said = true;
		}
		sb_adds(&sb, "    </properties>\n");
		cJSON_ArrayForEach(s, steps)
		{
			if (strcmp(export_str(s, "runbook"), rid) != 0 || !export_step_leaf(s))
				continue;
			struct strbuf name = {0};
			sb_addf(&name, "%s %s", export_str(s, "number") ? export_str(s, "number") : "",
			        export_str(s, "title") ? export_str(s, "title") : export_str(s, "id"));
			sb_adds(&sb, "    <testcase");
			xml_attr(&sb, "name", sb_borrow(&name));
			xml_attr(&sb, "classname", rid);
			sb_addf(&sb, " time=\"%.3f\">\n", secs(s));
			sb_free(&name);
			const char *st = export_str(s, "state"), *v = export_str(s, "verdict"), *x = export_str(s, "explanation");
			if (!st || strcmp(st, "done") != 0) {
				struct strbuf why = {0};
				sb_addf(&why, "%s%s%s", export_step_not_run(s) ? "not run" : st ? st : "not finished", x ? ": " : "",
				        x ? x : "");
				sb_adds(&sb, "      <skipped");
				xml_attr(&sb, "message", sb_borrow(&why));
				sb_adds(&sb, "/>\n");
				sb_free(&why);
			} else if (v && (strcmp(v, "FAIL") == 0 || strcmp(v, "UNKNOWN") == 0 || strcmp(v, "ERROR") == 0)) {
				const char *tag = strcmp(v, "ERROR") == 0 ? "error" : "failure";
				sb_addf(&sb, "      <%s", tag);
				xml_attr(&sb, "message", x ? x : v);
				xml_attr(&sb, "type", v);
				sb_adds(&sb, ">");
				xml_text(&sb, x ? x : v);
				sb_addf(&sb, "</%s>\n", tag);
			}
			struct strbuf out = {0};
			if (v)
				sb_addf(&out, "%s%s%s\n", export_state_word(st, v), x ? ": " : "", x ? x : "");
			if (export_str(s, "by"))
				sb_addf(&out, "by %s%s%s\n", export_str(s, "by"), export_str(s, "note") ? ": " : "",
				        export_str(s, "note") ? export_str(s, "note") : "");
			const cJSON *ans = export_get(s, "answer");
			if (ans)
				sb_addf(&out, "asked: %s\nanswer: %s by %s at %s\n", export_str(ans, "question"),
				        export_str(ans, "answer"), export_str(ans, "by"), export_str(ans, "t"));
			const cJSON *cap;
			cJSON_ArrayForEach(cap, export_get(s, "captures"))
			{
				sb_addf(&out, "capture %s = %s\n", export_str(cap, "name"),
				        export_str(cap, "value") ? export_str(cap, "value") : "(none)");
			}
			if (export_str(s, "output"))
				sb_addf(&out, "output: %s\n", export_str(s, "output"));
			if (export_str(s, "description"))
				sb_addf(&out, "description: %s\n", export_str(s, "description"));
			const cJSON *lk;
			cJSON_ArrayForEach(lk, export_get(s, "links"))
			{
				if (export_str(lk, "title") && export_str(lk, "url"))
					sb_addf(&out, "link %s <%s>\n", export_str(lk, "title"), export_str(lk, "url"));
			}
			if (out.len) {
				sb_adds(&sb, "      <system-out>");
				xml_text(&sb, sb_borrow(&out));
				sb_adds(&sb, "</system-out>\n");
			}
			sb_free(&out);
			sb_adds(&sb, "    </testcase>\n");
		}
		sb_adds(&sb, "  </testsuite>\n");
	}
	if (unfinished) {
		char ts[32];
		const char *started = export_str(doc, "started");
		snprintf(ts, sizeof ts, "%.19s", started ? started : "1970-01-01T00:00:00");
		sb_addf(&sb, "  <testsuite id=\"%d\" name=\"run\" tests=\"1\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"%.3f\"",
		        suite_id, total_time);
		xml_attr(&sb, "timestamp", ts);
		xml_attr(&sb, "hostname", export_str(doc, "host"));
		sb_adds(&sb, ">\n    <testcase");
		xml_attr(&sb, "name", "the run got to its end");
		xml_attr(&sb, "classname", export_str(doc, "run"));
		sb_adds(&sb, " time=\"0.000\">\n      <failure");
		xml_attr(&sb, "message", unfinished);
		xml_attr(&sb, "type", "UNKNOWN");
		sb_adds(&sb, ">");
		xml_text(&sb, unfinished);
		sb_adds(&sb, "</failure>\n    </testcase>\n  </testsuite>\n");
		free(unfinished);
	}
	sb_adds(&sb, "</testsuites>\n");
	cJSON_Delete(doc);
	return sb_take(&sb);
}

/*
 * budgetlog.c — the record of time budgets, owners and approvals: what the
 * journal's header says of each step (its owner, whether it needs an
 * approval, its deadline), how the export model keeps it with what the
 * run did (a deadline passed, met or missed), and the deployment log's
 * section about them (docs/journal.md, exports).
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/budgetlog.h"
#include "rbc/text.h"
#include "rbc/units.h"

/* The header's fields of a step or a runbook (budgetlog.h). */
void budgetlog_header_fields(cJSON *o, const struct rb_step *st, const struct runbook *rb)
{
	const struct rb_budget *b = st ? &st->budget : &rb->budget;
	if (st && st->owner)
		cJSON_AddStringToObject(o, "owner", st->owner);
	if (st && st->approval)
		cJSON_AddBoolToObject(o, "approval", true);
	if (b->deadline_ms > 0 && (!st || st->action == RB_GROUP))
		cJSON_AddNumberToObject(o, "deadline_ms", (double)b->deadline_ms);
	if (!st && rb->nroles && rb->kind != RB_KIND_INCIDENT) {
		/* The roles owners name (an incident runbook lists its own already). */
		cJSON *roles = cJSON_AddArrayToObject(o, "roles");
		for (size_t i = 0; i < rb->nroles; i++)
			cJSON_AddItemToArray(roles, cJSON_CreateString(rb->roles[i].id));
	}
}

/* Sets member k of s to a copy of v (NULL: leaves it). */
static void put(cJSON *s, const char *k, const cJSON *v)
{
	if (!v)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(s, k);
	cJSON_AddItemToObject(s, k, cJSON_Duplicate(v, true));
}

/* An export entry takes its step's header fields. */
void budgetlog_model_step(cJSON *s, const cJSON *hs)
{
	static const char *const keys[] = {"owner", "approval", "deadline_ms"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		put(s, keys[i], cJSON_GetObjectItemCaseSensitive(hs, keys[i]));
}

/* An export entry follows its step's events: deadline passed, met or not. */
void budgetlog_model_event(cJSON *s, const cJSON *e, const char *ev)
{
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(s, "deadline_ms");
	if (strcmp(ev, "deadline") == 0) {
		put(s, "deadline_ms", cJSON_GetObjectItemCaseSensitive(e, "deadline_ms"));
		cJSON_DeleteItemFromObjectCaseSensitive(s, "deadline_passed");
		cJSON_AddBoolToObject(s, "deadline_passed", true);
	} else if (strcmp(ev, "step_started") == 0 && dl) {
		/* Run again: its budget starts again. */
		cJSON_DeleteItemFromObjectCaseSensitive(s, "deadline_passed");
		cJSON_DeleteItemFromObjectCaseSensitive(s, "deadline_met");
	} else if (strcmp(ev, "step_finished") == 0 && cJSON_IsNumber(dl)) {
		const cJSON *took = cJSON_GetObjectItemCaseSensitive(e, "duration_ms");
		bool passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "deadline_passed"));
		bool met = !passed && (!cJSON_IsNumber(took) || took->valuedouble <= dl->valuedouble);
		cJSON_DeleteItemFromObjectCaseSensitive(s, "deadline_met");
		cJSON_AddBoolToObject(s, "deadline_met", met);
	}
}

/* ms as a budget is said, whole seconds from a second up ("34m12s"). */
static const char *said(double ms, char *buf, size_t n)
{
	int64_t v = (int64_t)ms;
	if (v >= 1000)
		v = (v + 500) / 1000 * 1000;
	return units_format_duration(v < 0 ? 0 : v, buf, n);
}

/* "deadline 30m, took 34m, missed", or NULL without a deadline. */
char *budgetlog_deadline_text(const cJSON *s)
{
	const cJSON *dl = cJSON_GetObjectItemCaseSensitive(s, "deadline_ms");
	if (!cJSON_IsNumber(dl))
		return NULL;
	const cJSON *took = cJSON_GetObjectItemCaseSensitive(s, "duration_ms");
	const cJSON *met = cJSON_GetObjectItemCaseSensitive(s, "deadline_met");
	bool passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "deadline_passed"));
	char d[48], t[48];
	struct strbuf sb = {0};
	sb_addf(&sb, "deadline %s", said(dl->valuedouble, d, sizeof d));
	if (cJSON_IsNumber(took) && met) {
		double v = took->valuedouble;
		if (passed && v < dl->valuedouble)
			v = dl->valuedouble; /* cut at the deadline, by a clock that stood still */
		sb_addf(&sb, ", took %s", said(v, t, sizeof t));
	}
	sb_adds(&sb, cJSON_IsTrue(met) ? ", met" : cJSON_IsBool(met) || passed ? ", missed" : ", not ended");
	return sb_take(&sb);
}

/* "1.2 Title" of entry s, as a Markdown cell. */
static void md_name(struct strbuf *sb, const cJSON *s)
{
	const char *num = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "number"));
	const char *title = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "title"));
	if (num) {
		text_md(sb, num);
		sb_adds(sb, " ");
	}
	text_md(sb, title ? title : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "id")));
}

/* The deployment log's section: a line per step with a deadline, an owner or an approval. */
void budgetlog_md(struct strbuf *sb, const cJSON *doc, const char *dir)
{
	(void)dir;
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(doc, "steps"), *s;
	bool budgets = false, owners = false;
	cJSON_ArrayForEach(s, steps)
	{
		budgets = budgets || cJSON_GetObjectItemCaseSensitive(s, "deadline_ms");
		owners = owners || cJSON_GetObjectItemCaseSensitive(s, "owner") ||
		         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "approval"));
	}
	if (!budgets && !owners)
		return;
	sb_adds(sb, "\n## Time Budgets and Owners\n\n");
	cJSON_ArrayForEach(s, steps)
	{
		char *dl = budgetlog_deadline_text(s);
		const char *owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "owner"));
		bool approval = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "approval"));
		if (!dl && !owner && !approval)
			continue;
		sb_adds(sb, "- ");
		md_name(sb, s);
		const char *sep = " — ";
		if (dl) {
			sb_adds(sb, sep);
			text_md(sb, dl);
			sep = "; ";
		}
		if (owner) {
			sb_adds(sb, sep);
			sb_adds(sb, "owner ");
			text_md(sb, owner);
			sep = "; ";
		}
		if (approval) {
			const char *by = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "by"));
			const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "verdict"));
			const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "state"));
			bool approved = by && v && st && strcmp(st, "done") == 0 && strcmp(v, "PASS") == 0;
			sb_adds(sb, sep);
			if (approved) {
				sb_adds(sb, "approved by ");
				text_md(sb, by);
			} else {
				sb_adds(sb, "needs approval by another operator, not given");
			}
		}
		sb_adds(sb, "\n");
		free(dl);
	}
}

/*
 * unfinished.c — the operator's decision on each step a resume found
 * started and not ended (unfinished.h, docs/journal.md "Resuming").
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/engine.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/unfinished.h"
#include "rbc/util.h"

/* The word of a choice (unfinished.h). */
enum unfinished_choice unfinished_parse(const char *word)
{
	if (!word)
		return UNFINISHED_ASK;
	if (strcmp(word, "rerun") == 0)
		return UNFINISHED_RERUN;
	if (strcmp(word, "done") == 0)
		return UNFINISHED_DONE;
	if (strcmp(word, "skip") == 0)
		return UNFINISHED_SKIP;
	return UNFINISHED_ASK;
}

/* Steps still to decide (unfinished.h). */
size_t unfinished_left(const struct resume_state *rs)
{
	size_t n = 0;
	for (size_t i = 0; rs && i < rs->ncut; i++)
		n += !rs->cut[i].decided;
	return n;
}

/* The first step left (unfinished.h). */
const struct resume_cut *unfinished_next(const struct resume_state *rs)
{
	for (size_t i = 0; rs && i < rs->ncut; i++)
		if (!rs->cut[i].decided)
			return &rs->cut[i];
	return NULL;
}

/* Decides the first step left (unfinished.h). */
bool unfinished_decide(struct resume_state *rs, struct engine *e, enum unfinished_choice c, const char *reason,
                       const char *by, const char **why)
{
	struct resume_cut *cut = NULL;
	for (size_t i = 0; rs && !cut && i < rs->ncut; i++)
		if (!rs->cut[i].decided)
			cut = &rs->cut[i];
	*why = NULL;
	if (!cut) {
		*why = "no unfinished step is left to decide";
		return false;
	}
	if (c == UNFINISHED_SKIP && (!reason || !*reason)) {
		*why = "a skip needs a reason";
		return false;
	}
	const char *who = by && *by ? by : engine_operator(e);
	char when[40];
	iso_ms_format(when, sizeof when, cut->started);
	bool ok = false;
	if (c == UNFINISHED_RERUN) {
		char *text = xasprintf("unfinished at the resume (started at %s, its end not recorded): "
		                       "run again, decided by %s", when, who);
		ok = engine_note(e, cut->step, text, who);
		free(text);
	} else if (c == UNFINISHED_DONE || c == UNFINISHED_SKIP) {
		bool done = c == UNFINISHED_DONE;
		char *x = done ? xasprintf("marked done by %s at the resume (started at %s, its end not recorded)%s%s",
		                           who, when, reason && *reason ? ": " : "", reason && *reason ? reason : "")
		               : xasprintf("skipped by %s at the resume (started at %s, its end not recorded): %s",
		                           who, when, reason);
		ok = engine_settle_unfinished(e, cut->step, done ? ENG_DONE : ENG_SKIPPED, cut->started, x,
		                              reason, who);
		free(x);
	}
	if (!ok) {
		*why = "the decision could not be recorded";
		return false;
	}
	cut->decided = true;
	return true;
}

/* The steps left, in words (unfinished.h). */
char *unfinished_list(const struct resume_state *rs)
{
	struct strbuf sb = {0};
	for (size_t i = 0; rs && i < rs->ncut; i++) {
		if (rs->cut[i].decided)
			continue;
		const struct eng_step *st = rs->cut[i].step;
		char *id = journal_step_id(st);
		sb_addf(&sb, "%s%s (%s)", sb.len ? ", " : "", id, st->title ? st->title : st->def->id);
		free(id);
	}
	return sb.len ? sb_take(&sb) : (sb_free(&sb), NULL);
}

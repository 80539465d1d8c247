/*
 * budgetlog.h — what the record keeps of time budgets, owners and approvals
 * (docs/runbook-format.md, "Time budgets", "Owners and approvals"): the
 * journal header's fields for them, written by the session, and what the
 * exports make of them (src/record/budgetlog.c).
 */
#ifndef RBC_BUDGETLOG_H
#define RBC_BUDGETLOG_H

#include <cjson/cJSON.h>

#include "rbc/runbook.h"
#include "rbc/util.h"

/* Adds to o, the header's entry for step st (or, st NULL, for runbook rb),
   its "owner", "approval" and "deadline_ms" when it has them. */
void budgetlog_header_fields(cJSON *o, const struct rb_step *st, const struct runbook *rb);

/* The export model (export_model.c): entry s takes the header's fields of
   its step (or runbook) hs. */
void budgetlog_model_step(cJSON *s, const cJSON *hs);
/* … and what journal line e (event ev) of its step says: a deadline that
   passed, and once it ends, whether its deadline was met. */
void budgetlog_model_event(cJSON *s, const cJSON *e, const char *ev);

/* "deadline 30m, took 34m, missed" for an entry with a deadline (a new
   string), or NULL. */
char *budgetlog_deadline_text(const cJSON *s);
/* The deployment log's "Time Budgets and Owners" section (export_md.c). */
void budgetlog_md(struct strbuf *sb, const cJSON *doc, const char *dir);

#endif

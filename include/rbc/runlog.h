/*
 * runlog.h — what a run's runbooks declare for its deployment log: the
 * Version and Environment their "log" key fills from the run's variables
 * (docs/runbook-format.md, "What the deployment log records").
 *
 * A field comes only from a runbook that declares it: no variable is
 * taken for it by its name. The exports fill it from the record (the
 * journal's header and captures); runlog_environment fills it from a live
 * engine, for whoever shows the run while it goes.
 */
#ifndef RBC_RUNLOG_H
#define RBC_RUNLOG_H

#include <stddef.h>

struct engine;
struct eng_step;

/* A variable's value as runbook i of the run (in run order) sees it: a new
   string, NULL when it is unset. */
typedef char *runlog_var_fn(void *ud, size_t i, const char *name);

/*
 * A field of the deployment log (a new string), or NULL when nothing fills
 * it. tmpls[i] is what runbook i's "log" says for the field (text with
 * ${NAME}; NULL: it says nothing), in run order: the runbooks given, then
 * the included ones (a rollback). Of those, the last whose variables all
 * have a value — a value built from others (${BUILD}) filled in too — and
 * that is not empty gives it.
 */
char *runlog_field(const char *const *tmpls, size_t n, runlog_var_fn *var, void *ud);

/*
 * The run's environment as its runbooks' "log" declare it, from the
 * engine's variables as they stand now (captures so far, --var, the
 * runbooks' vars): the rule of runlog_field over the engine's runbooks. A
 * new string, NULL when no runbook declares it or its variables have no
 * value yet. Secrets come back raw: mask before showing (engine_mask).
 * With only (a top node of e), that runbook alone counts: the environment
 * of one phase of the run.
 */
char *runlog_environment(const struct engine *e, const struct eng_step *only);

#endif

/*
 * values.h — what the loader uses of values.c: one runbook's durations and
 * values resolved (at_run false: at load time, from its own vars; true: with
 * the values a run gives). Diagnostics go to d; false on an error.
 */
#ifndef RBC_RUNBOOK_VALUES_H
#define RBC_RUNBOOK_VALUES_H

#include <stdbool.h>

#include "rbc/error.h"
#include "rbc/runbook.h"

bool values_resolve(struct runbook *rb, const struct rb_kv *given, bool at_run, struct rbc_diags *d);

#endif

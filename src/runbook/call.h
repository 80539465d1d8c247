/*
 * call.h — what the loader uses of call.c: reading a call step's "call",
 * "with" and "export", and checking them against the callee once it is
 * known (docs/runbook-format.md, "Calls").
 */
#ifndef RBC_RUNBOOK_CALL_H
#define RBC_RUNBOOK_CALL_H

#include "rbc/keys.h"
#include "rbc/runbook.h"

/* "call": a file (returns its path for the loader to load, caller frees) or
   "#group-id" (returns NULL: resolved once the runbook is read). */
char *call_read_target(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* "with": the callee's variables. */
void call_read_with(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* "export": the callee's captures kept after it. */
void call_read_export(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* The names s's with (with true) or export sets (*n of them; borrowed). */
char *const *call_defines(const struct rb_step *s, bool with, size_t *n);
/* The end of step object n: with and export only on a call; a file callee's
   variables and captures checked against them. */
void call_check_step(struct keys_reader *r, const cJSON *n, struct rb_step *s);
/* Once every step of rb is read (all, n of them, in order): "#id" targets
   resolved and checked, calls of groups that call back refused. */
void call_check_groups(struct keys_reader *r, struct runbook *rb, struct rb_step *const *all, size_t n);

#endif

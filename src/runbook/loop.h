/*
 * loop.h — what the loader uses of loop.c: reading a group's foreach,
 * parallel (true, false or a count) and max_failures, and the rules that
 * tie them to groups (docs/runbook-format.md, "Loops").
 */
#ifndef RBC_RUNBOOK_LOOP_H
#define RBC_RUNBOOK_LOOP_H

#include "rbc/keys.h"
#include "rbc/runbook.h"

/* "foreach": { "var": NAME, "in": [ … ] | "${LIST}" } into s->foreach. */
void loop_read_foreach(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* "parallel": true, false or how many at once. */
void loop_read_parallel(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* "max_failures": failed iterations tolerated. */
void loop_read_max_failures(struct keys_reader *r, const cJSON *m, struct rb_step *s);
/* Reads member m of step s — foreach, max_failures, with or export — and
   returns the names it sets (*n of them; borrowed). */
char *const *loop_read_key(struct keys_reader *r, const cJSON *m, struct rb_step *s, size_t *n);
/* The keys of step object n that only a group (a loop) takes. */
void loop_check_keys(struct keys_reader *r, const cJSON *n, const struct rb_step *s);
/* The loop (a group with foreach) around s, s excluded, or NULL. */
const struct rb_step *loop_around(const struct rb_step *s);

/* True when a goto from from to target enters a loop's steps from outside
   that loop (docs/runbook-format.md, "Loops": refused). */
bool loop_goto_refused(const struct rb_step *from, const struct rb_step *target);

#endif

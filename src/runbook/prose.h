/*
 * prose.h — what the loader uses of prose.c: a runbook's or a step's
 * description and links, and the step-level keys a probe kind owns. Problems
 * go to the reader's diagnostics.
 */
#ifndef RBC_RUNBOOK_PROSE_H
#define RBC_RUNBOOK_PROSE_H

#include <stdbool.h>

#include "rbc/keys.h"
#include "rbc/runbook.h"

/* A description: a string, its ${NAME} checked (caller frees; NULL: refused). */
char *prose_description(struct keys_reader *r, const cJSON *m);
/* "links": an array of { "title", "url" } into *links (replacing what was there). */
bool prose_links(struct keys_reader *r, const cJSON *m, struct rb_link **links, size_t *n);
/* Step n's "tty" and "stdin", read by the kind of s once its action is loaded. */
void prose_kind_keys(struct keys_reader *r, const cJSON *n, struct rb_step *s);

#endif

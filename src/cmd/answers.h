/*
 * answers.h — `--answers FILE` of rbc run and rbc resume: the answers to a
 * run's ask steps (docs/runbook-format.md, "Decisions") as a JSON object.
 */
#ifndef RBC_CMD_ANSWERS_H
#define RBC_CMD_ANSWERS_H

#include "rbc/runbook.h"

/*
 * Reads FILE, a JSON object of variable name → answer (a string, number,
 * boolean, or an array of strings and numbers for a list), into kv as the
 * text a run holds (a list as its JSON array). A name given already (--var,
 * --vars) keeps its value. Returns 0, or the exit status after saying on
 * stderr what is wrong: 66 unreadable, 65 not such an object.
 */
int answers_read(const char *path, struct rb_kv *kv);

#endif

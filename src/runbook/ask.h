/*
 * ask.h — what the loader and values.c use of ask.c: an ask object read
 * (docs/runbook-format.md, "Decisions"), and the answers a run is given by
 * its options checked against the asks' rules before anything runs.
 */
#ifndef RBC_RUNBOOK_ASK_H
#define RBC_RUNBOOK_ASK_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/keys.h"
#include "rbc/runbook.h"

/* A choice's goto, for the loader's cross-check once every id is known. */
struct ask_goto {
	const cJSON *node;       /* the goto's string */
	char *path;              /* its JSON path (caller frees) */
	size_t choice;           /* the choice's index */
};

/*
 * Reads the ask object m (on the path) with everything it says checked;
 * problems go to r's diagnostics. Returns the ask (NULL when m is not an
 * object) and, in *gotos (caller frees, and each path), the choices' gotos.
 */
struct rb_ask *ask_load(struct keys_reader *r, const cJSON *m, struct ask_goto **gotos, size_t *ngotos);

/* The rule of the first ask among steps whose variable is name, or NULL. */
const struct rb_vardecl *ask_vardecl(struct rb_step *const *steps, size_t n, const char *name);

/* Checks the answers given (--var, --vars, --answers) to rb's asks: a bad
   one goes to d at its ask, naming the variable and the rule. */
bool ask_check_given(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d);

#endif

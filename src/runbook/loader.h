/*
 * loader.h — the loader's state, shared by the files that read a runbook:
 * load.c (the key tables of steps and the runbook, the files a run
 * includes), ladder.c (an incident runbook's severities and roles) and
 * crossref.c (the checks made once the whole tree is known), with the
 * helpers they all use (loader.c).
 */
#ifndef RBC_RUNBOOK_LOADER_H
#define RBC_RUNBOOK_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "rbc/keys.h"
#include "rbc/runbook.h"

struct session; /* load.c's: the files of one load */

/* A text compared with a variable in an expression, at line:col of path. */
struct var_literal {
	char *name, *text, *path;
	unsigned line, col;
};

/* A goto: target, resolved once every id is known. */
struct goto_ref {
	struct rb_step *step;
	const char *target;   /* the step's on_fail_target or on_decline_target */
	const cJSON *node;
	char *path;
};

struct loader {
	struct keys_reader r;    /* first: the key handlers get &L->r (loader_of) */
	struct runbook *rb;
	struct session *ses;
	struct rb_step *step;    /* the step being read */
	struct rb_severity *sev; /* the severity being read */
	unsigned depth;
	bool too_many;
	bool bad_kind;           /* kind was given but invalid: do not second-guess it */
	struct rb_step **all;    /* every step, in document order */
	size_t nall, allcap;
	struct goto_ref *gotos;
	size_t ngotos, gotocap;
	struct var_literal *literals; /* texts compared with vars.NAME, checked
	                                 against its choices once vars are read */
	size_t nliterals, literalcap;
	char **defined;          /* capture names */
	size_t ndefined, definedcap;
	size_t nerrors_at_start;
	/* Reads an array of steps into *out, numbered from prefix ("1.", "L2."):
	   load.c's, for the keys read elsewhere that hold steps. */
	void (*read_steps)(struct loader *L, const cJSON *arr, struct rb_step *parent, const char *prefix,
	                   struct rb_step ***out, size_t *nout);
};

/* The loader a key handler's reader belongs to (struct loader starts with it). */
static inline struct loader *loader_of(struct keys_reader *r)
{
	return (struct loader *)r;
}

/* A name met in document order, for the uniqueness checks. */
struct named {
	const char *name;
	size_t idx;
	const cJSON *node;
	char *path;
};

/* An id: letters, digits, '_', '.', '-', the first a letter or digit, at
   most RB_MAX_ID characters. */
bool loader_is_id(const char *s);
/* The id string n (a new string), or NULL with the problem reported. */
char *loader_get_id(struct loader *L, const cJSON *n);
/* Adds name (met at node, on the current path) to the list *v. */
void loader_named_add(struct loader *L, struct named **v, size_t *n, size_t *cap, const char *name,
                      const cJSON *node);
/* Reports every repeated name in v as "<what> "<name>" … (first at L:C)"
   at the later occurrence, in n log n; frees v. */
void loader_check_unique(struct loader *L, struct named *v, size_t n, const char *what);
/* An array of non-empty strings into *out (*n of them). */
void loader_strings(struct loader *L, const cJSON *m, char ***out, size_t *n);

/* The incident ladder's keys of the runbook (ladder.c). */
void ladder_severities(struct keys_reader *kr, const cJSON *m, void *t);
void ladder_roles(struct keys_reader *kr, const cJSON *m, void *t);
void ladder_update_every(struct keys_reader *kr, const cJSON *m, void *t);
void ladder_exit_criteria(struct keys_reader *kr, const cJSON *m, void *t);

/* The cross-checks over the whole tree (crossref.c), in this order with
   the calls' and budgets' own: step ids unique, goto targets, variables
   defined and texts compared with a variable's choices; then every probe
   step's effective timeout and retry. */
void crossref_ids(struct loader *L);
void crossref_gotos(struct loader *L);
void crossref_vars(struct loader *L);
void crossref_defaults(struct loader *L);

#endif

/*
 * keys.h — reading a runbook's JSON objects against tables of the keys they
 * accept: the loader's toolkit, shared with the probe kinds, each of which
 * reads the object under its action key with it (probe.h, struct probe_ops).
 *
 * Every problem goes to the reader's diagnostics with FILE:LINE:COL and the
 * JSON path being read (push a key or index before reading a member, pop it
 * after; keys_walk does so for the members it visits); nothing stops at the
 * first one. Values returned as char * are the caller's to free.
 */
#ifndef RBC_KEYS_H
#define RBC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/json.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

/* A use of ${NAME}, checked against the definitions once the file is read. */
struct keys_var_use {
	char *name;
	char *path;
	unsigned line, col;
};

/* What is being read: the document, where problems go, the path so far. */
struct keys_reader {
	struct json_doc *doc;
	const char *file;
	struct rbc_diags *d;
	struct strbuf path;              /* JSON path, "steps[0].http.url" */
	struct keys_var_use *uses;       /* every ${NAME} met, in document order */
	size_t nuses, usecap;
};

/* Reads member m (its key already on the path) into target. */
typedef void (*keys_fn)(struct keys_reader *r, const cJSON *m, void *target);

/* One accepted key; fn NULL: accepted and read elsewhere. */
struct keys_member {
	const char *key;
	keys_fn fn;
};

/* An error about node's value, at the current path. */
void keys_err(struct keys_reader *r, const cJSON *node, const char *fmt, ...) RBC_PRINTF(3, 4);
/* A warning about node: the runbook loads, rbc check --strict refuses it. */
void keys_warn(struct keys_reader *r, const cJSON *node, const char *fmt, ...) RBC_PRINTF(3, 4);
/* An error about node's key, at the current path. */
void keys_err_key(struct keys_reader *r, const cJSON *node, const char *fmt, ...) RBC_PRINTF(3, 4);

/* Appends a key or an index to the path; returns what keys_pop restores. */
size_t keys_push_key(struct keys_reader *r, const char *key);
size_t keys_push_index(struct keys_reader *r, size_t i);
void keys_pop(struct keys_reader *r, size_t old);

/* Typed values: false (or NULL) after reporting a wrong one. */
bool keys_want_string(struct keys_reader *r, const cJSON *n);
char *keys_text(struct keys_reader *r, const cJSON *n);       /* non-empty string */
char *keys_xtext(struct keys_reader *r, const cJSON *n);      /* …with ${NAME} checked */
bool keys_bool(struct keys_reader *r, const cJSON *n, bool *out);
bool keys_int(struct keys_reader *r, const cJSON *n, long min, long max, long *out);
bool keys_duration(struct keys_reader *r, const cJSON *n, int64_t *ms);  /* "30s", > 0 */
bool keys_size(struct keys_reader *r, const cJSON *n, int64_t *bytes);   /* 1024 or "1MiB", > 0 */
bool keys_want_object(struct keys_reader *r, const cJSON *n, const char *what);
bool keys_want_array(struct keys_reader *r, const cJSON *n, bool nonempty);
/* An object of name → text (headers, env); var_names checks the names,
   scalars takes numbers and booleans as their text, expand checks ${NAME}. */
void keys_kv(struct keys_reader *r, const cJSON *n, struct rb_kv *kv, bool var_names,
             bool scalars, bool expand);
/* A runbook's vars: each a default (text, number, boolean) or an object
   declaring the variable's type and rules (docs/runbook-format.md, "Typed
   variables"), which goes to *decls (caller frees each with
   rb_vardecl_free); every default, declared or not, goes to kv. */
void keys_vars(struct keys_reader *r, const cJSON *n, struct rb_kv *kv, struct rb_vardecl **decls,
               size_t *ndecls);
/* Reads an object among an ask's choices (its label, its goto) and gives
   back its "value" member, or NULL after reporting that it has none. */
typedef const cJSON *(*keys_choice_fn)(struct keys_reader *r, const cJSON *obj, size_t i, void *ud);
/* Reads the rules of variable name from object n (on the path) into decl
   (caller frees with rb_vardecl_free): type, default, choices, pattern, min,
   max, and a vars entry's required and description; keys lists what n may
   hold. choice (NULL for a vars entry) makes it an ask's: objects are
   accepted among the choices, required and description are not read. Returns
   the default as the run holds it (caller frees), or NULL. */
char *keys_vardecl_read(struct keys_reader *r, const cJSON *n, const char *name, struct rb_vardecl *decl,
                        const struct keys_member *keys, size_t nkeys, keys_choice_fn choice, void *ud);
/* The shortest text that reads back as v: 0.1 stays "0.1", 8080 "8080". */
char *keys_number_text(double v);

/* Records a use of ${NAME} at line:col (the loader checks it at the end). */
void keys_note_use(struct keys_reader *r, const char *name, size_t len,
                   unsigned line, unsigned col);
/* Checks the ${NAME} references in string node n and records them. */
void keys_scan_refs(struct keys_reader *r, const cJSON *n);
/* The same for prose (a description): only valid names are noted; anything
   else in "${…}" is text, never an error. */
void keys_scan_prose_refs(struct keys_reader *r, const cJSON *n);

/* Applies spec to every member of obj; unknown keys are reported with the
   nearest known one ("did you mean"), repeated keys once and not read. */
void keys_walk(struct keys_reader *r, const cJSON *obj, const struct keys_member *spec,
               size_t nspec, void *target);
/* Reports keys given twice in obj; returns the later occurrences for
   keys_is_dup (caller frees), or NULL when there are none. */
const cJSON **keys_duplicates(struct keys_reader *r, const cJSON *obj, size_t *ndup);
bool keys_is_dup(const cJSON **dups, size_t ndup, const cJSON *node);
/* Reports key missing from obj ("missing required key", then what). */
void keys_require(struct keys_reader *r, const cJSON *obj, const char *key, const char *what);

#endif

/*
 * markdown.h — Markdown runbooks (docs/markdown-runbooks.md).
 *
 * A Markdown runbook is read into the same cJSON document a JSON runbook
 * parses to, every node placed at its line and column in the Markdown, so the
 * loader validates both alike: every step key, present or future, works in
 * Markdown with no change here, and every message points into the Markdown.
 * Parsing is cmark-gfm's (tables, task lists, source positions); this module
 * maps the parsed blocks to runbook keys and back.
 */
#ifndef RBC_MARKDOWN_H
#define RBC_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/json.h"

/* The confirmation a command block nobody annotated carries. */
#define MD_IMPLICIT_CONFIRM "Run this command from the document?"

/*
 * The step key a heading's prose and a task item's nested text go to: the
 * description the detail pane shows (prose: "${…}" that is no variable
 * name stays text).
 */
#define MD_PROSE_KEY "description"

/* True when file names a Markdown runbook (.md, .markdown). */
bool md_is_markdown(const char *file);

/*
 * Reads len bytes of Markdown (named file in messages) into a runbook
 * document the loader takes like json_doc_parse's. NULL after adding the
 * problems (structure, attributes, rbc comments) to d.
 */
struct json_doc *md_doc_parse(const char *file, const char *buf, size_t len,
                              struct rbc_diags *d);

/*
 * Writes the runbook root (a checked JSON runbook) as Markdown that reads
 * back to the same document: keys that have no Markdown form go into
 * <!-- rbc {…} --> comments. Caller frees.
 */
char *md_write(const cJSON *root);

/* One {…} attribute of a code block's info string or a heading. */
struct md_attr {
	char *key;        /* owned; "id" for #id */
	size_t key_off;   /* offset of the key in the text */
	char *value;      /* owned, decoded; NULL for a bare key */
	size_t val_off;   /* offset of the value (its quote when quoted) */
	bool quoted;
	bool text;        /* text whatever it looks like (#id) */
};

/*
 * Parses the attributes "{…}" standing at text[start..end) (start at '{').
 * On a syntax error returns false with *err (caller frees) and *err_off set.
 */
bool md_attrs_parse(const char *text, size_t start, size_t end, struct md_attr **out,
                    size_t *n, char **err, size_t *err_off);
void md_attrs_free(struct md_attr *v, size_t n);

#endif

/*
 * json.h — JSON with comments and positions.
 *
 * A runbook is JSON that may carry // and block comments. json_doc_parse
 * checks the text with a strict scanner of its own (so a syntax error names
 * its exact line, column, JSON path and what was expected), then lets cJSON
 * build the tree from a copy with the comments blanked out, and finally maps
 * every cJSON node back to where it stands in the original file.
 *
 * Contract: the tree's valueint fields hold position indexes; read numbers
 * through valuedouble (cJSON_GetNumberValue), never valueint.
 */
#ifndef RBC_JSON_H
#define RBC_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"

#define JSON_MAX_DEPTH 128
#define JSON_MAX_BYTES (64u * 1024 * 1024)

struct json_doc;

/*
 * Parses len bytes of buf (named file in messages). On success returns a
 * document owning its cJSON tree. On failure returns NULL after adding the
 * problem (invalid UTF-8, syntax, depth, size) to d.
 */
struct json_doc *json_doc_parse(const char *file, const char *buf, size_t len,
                                struct rbc_diags *d);
void json_doc_free(struct json_doc *doc);

/* The root of the tree (borrowed; lives as long as doc). */
cJSON *json_doc_root(const struct json_doc *doc);
/* The file name given to json_doc_parse (borrowed). */
const char *json_doc_file(const struct json_doc *doc);

/*
 * Position of node: of its key when key is true and node is an object
 * member, of its value otherwise. Returns false for a node not from doc.
 * (doc is not const: it remembers the last position to make the next
 * lookup on the same line cheap.)
 */
bool json_doc_pos(struct json_doc *doc, const cJSON *node, bool key,
                  unsigned *line, unsigned *col);

/*
 * Position of byte index at (in the decoded value) inside the string node,
 * counting escapes in the file: used to point into expressions.
 */
bool json_doc_string_pos(struct json_doc *doc, const cJSON *node,
                         size_t at, unsigned *line, unsigned *col);

/*
 * Building a document from another syntax (a Markdown runbook, markdown.h):
 * the tree is made of cJSON nodes that carry positions in the original text,
 * so the loader reads and reports on it exactly as on a JSON file.
 *
 * json_src says how a string value is written at its offset, so a position
 * inside it (json_doc_string_pos) counts the file's own characters:
 * JSON_SRC_JSON a JSON string (offset of its quote), JSON_SRC_RAW the text
 * verbatim (offset of its first byte), JSON_SRC_ATTR a double-quoted
 * attribute value where only \" and \\ are escapes (offset of its quote).
 */
enum json_src { JSON_SRC_JSON, JSON_SRC_RAW, JSON_SRC_ATTR };

/* A document of buf (copied; at most JSON_MAX_BYTES) without a tree. */
struct json_doc *json_doc_new(const char *file, const char *buf, size_t len);
/*
 * While on, cJSON_Create* allocate in doc's arena (dropped by
 * json_doc_free; such nodes must never reach cJSON_Delete). One thread.
 */
void json_doc_build(struct json_doc *doc, bool on);
/*
 * Parses the text's bytes [start, end) as JSON (comments allowed), errors at
 * their place in the whole text with path as their JSON path prefix. The
 * tree lives in doc's arena; NULL after adding the problem to d.
 */
cJSON *json_doc_parse_part(struct json_doc *doc, size_t start, size_t end, const char *path,
                           struct rbc_diags *d);
/* Gives node its position: key_off ((size_t)-1 for none) and val_off, offsets in the text. */
void json_doc_place(struct json_doc *doc, cJSON *node, size_t key_off, size_t val_off,
                    enum json_src src);
/* The same, returning the index a node's valueint would hold. */
size_t json_doc_place_at(struct json_doc *doc, size_t key_off, size_t val_off, enum json_src src);
/* Sets the tree (built in the arena). */
void json_doc_set_root(struct json_doc *doc, cJSON *root);
/* Line and column (characters) of byte offset off of the text. */
void json_doc_offset_pos(struct json_doc *doc, size_t off, unsigned *line, unsigned *col);

/* A short name of node's JSON type for messages: "string", "number", … */
const char *json_type_name(const cJSON *node);

#endif

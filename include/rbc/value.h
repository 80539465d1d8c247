/*
 * value.h — the values thresholds are computed on.
 *
 * A value is MISSING (unknown, with the reason why), null, a boolean, a
 * number with its dimension (ms, bytes, fraction), text (any bytes, NUL
 * included, not necessarily UTF-8), a list, or an object with ordered keys.
 * A probe sample is an object whose fields the expressions read: status,
 * time, body, json, header, exit, stdout, …
 *
 * Ownership: values are reference counted. Every function named _new (and
 * value_from_json, value_parse_scalar, …) returns a value holding one
 * reference, which its caller releases with value_free. value_ref adds a
 * reference to share a value. A value is changed (list push, object set)
 * only by whoever built it and before it is shared; afterwards it is read
 * only, so a sample may be read by any number of evaluations. Reference
 * counts are plain integers: values belong to one thread.
 */
#ifndef RBC_VALUE_H
#define RBC_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "rbc/mask.h"
#include "rbc/units.h"
#include "rbc/util.h"

/* The value types, with the name messages use for each. */
#define RBC_VALUE_TYPES(X) \
	X(MISSING, "unknown")  \
	X(NULL, "null")        \
	X(BOOL, "boolean")     \
	X(NUM, "number")       \
	X(STR, "text")         \
	X(LIST, "list")        \
	X(OBJ, "object")

enum value_type {
#define VALUE_TYPE_ENUM(name, text) VALUE_##name,
	RBC_VALUE_TYPES(VALUE_TYPE_ENUM)
#undef VALUE_TYPE_ENUM
};

struct rbc_value {
	enum value_type type;
	unsigned refs;
	bool secret;   /* made from a secret (a number read out of one): shown
	                  as MASK_TEXT by value_masked */
	union {
		char *why;                                  /* MISSING: the reason */
		bool b;                                     /* BOOL */
		struct { double v; enum rbc_dim dim; } num; /* NUM, in base units */
		struct {
			char *s;
			size_t len;
			unsigned cut;  /* a window of a longer text: MASK_CUT_HEAD,
			                  MASK_CUT_TAIL (rbc/mask.h), or 0 */
		} str;                                      /* STR, NUL-terminated too */
		struct { struct rbc_value **v; size_t n, cap; } list;
		struct {
			char **keys;
			struct rbc_value **vals;
			size_t n, cap;
			bool icase; /* keys compare ignoring ASCII case (headers) */
		} obj;
	} u;
};

/* Constructors: each returns a new value holding one reference. */
struct rbc_value *value_missing_new(const char *fmt, ...) RBC_PRINTF(1, 2);
struct rbc_value *value_null_new(void);
struct rbc_value *value_bool_new(bool b);
struct rbc_value *value_num_new(double v, enum rbc_dim dim);
/* Copies n bytes of s. */
struct rbc_value *value_str_new(const char *s, size_t n);
/* Copies the C string s. */
struct rbc_value *value_strz_new(const char *s);
/* Takes ownership of s (n bytes, s[n] must be NUL; malloc'ed). */
struct rbc_value *value_str_take(char *s, size_t n);
struct rbc_value *value_list_new(void);
/* An object; icase makes key lookups ignore ASCII case (HTTP headers). */
struct rbc_value *value_obj_new(bool icase);

/* Adds a reference to v and returns v (NULL stays NULL). */
struct rbc_value *value_ref(const struct rbc_value *v);
/* Drops one reference; frees v and what it holds with the last. NULL is ok. */
void value_free(struct rbc_value *v);

/* The name of a type for messages: "text", "number", … */
const char *value_type_name(enum value_type t);

/* Appends item to list, taking the caller's reference to item. */
void value_list_push_take(struct rbc_value *list, struct rbc_value *item);
/* Sets key (copied) to val, taking the caller's reference; replaces an old one. */
void value_obj_set_take(struct rbc_value *obj, const char *key, struct rbc_value *val);
/* The member key of obj (borrowed), or NULL when absent or obj is no object. */
const struct rbc_value *value_obj_get(const struct rbc_value *obj, const char *key);
/* As value_obj_get for a key of n bytes (may hold NUL). */
const struct rbc_value *value_obj_getn(const struct rbc_value *obj, const char *key, size_t n);

/* Marks text v as a window of a longer text (MASK_CUT_* flags); returns v. */
struct rbc_value *value_str_cut(struct rbc_value *v, unsigned cut);

/*
 * v as it may be shown or recorded: a value in which every text (object keys
 * too) has the secrets of m masked, windows at their cut ends too
 * (mask_text_cut); numbers, booleans and the shape stay, but a value
 * marked secret becomes the text MASK_TEXT. Returns a new
 * reference: v itself when nothing needed masking. m may be NULL.
 */
struct rbc_value *value_masked(const struct rbc_value *v, const struct mask *m);

/* Structural equality; numbers compare by value whatever their dimension. */
bool value_equal(const struct rbc_value *a, const struct rbc_value *b);

/*
 * The dimension of a sample field given without a unit: time → TIME (ms),
 * size → SIZE (bytes), anything else NONE.
 */
enum rbc_dim value_field_dim(const char *name);

/*
 * Parses a number with an optional unit suffix ("120", "-1.5", "500ms",
 * "0.1%", "5MiB") spanning all n bytes of s. Returns false when s is not
 * such a number or the unit is unknown; *dim is NONE without a unit.
 */
bool value_parse_number(const char *s, size_t n, double *v, enum rbc_dim *dim);

/*
 * Turns command-line text into a value: a number with optional unit (a plain
 * number takes the dimension of field, see value_field_dim; field may be
 * NULL), true, false, null, and otherwise the text itself.
 */
struct rbc_value *value_parse_scalar(const char *s, size_t n, const char *field);

/*
 * Converts JSON: numbers become plain numbers, objects keep key order (of
 * duplicate keys, lookups find the last). Returns a new value; a NULL node
 * gives null. Linear in the size of the JSON.
 */
struct rbc_value *value_from_json(const cJSON *j);
/*
 * As value_from_json for a probe sample object: the top-level fields time
 * and size get their dimension (value_field_dim), header becomes a
 * case-insensitive object. A non-object gives an empty sample.
 */
struct rbc_value *value_sample_from_json(const cJSON *j);
/*
 * Converts to JSON (caller owns the cJSON tree): numbers in base units
 * (ms, bytes, fraction), MISSING as null, text with invalid UTF-8 bytes and
 * NUL replaced by U+FFFD.
 */
cJSON *value_to_json(const struct rbc_value *v);

/*
 * Formats v for people, into sb / as a new string: numbers with their unit
 * ("612 ms", "0.1 %"), text quoted with escapes ("\"ok\"") and cut after
 * maxchars characters with "…" (0: no limit), lists and objects in JSON-like
 * form, MISSING as "unknown".
 */
void value_format_sb(struct strbuf *sb, const struct rbc_value *v, size_t maxchars);
char *value_format(const struct rbc_value *v, size_t maxchars);

/*
 * The plain text of v, for variables and captures (caller frees): text as
 * is, numbers in base units without unit ("612"), true/false/null, lists
 * and objects as JSON, MISSING as "".
 */
char *value_to_text(const struct rbc_value *v);

#endif

/*
 * expr.h — the threshold language: parse once, evaluate many times.
 *
 * One language serves expect, warn, when, capture and repeat.until. A parsed
 * expression is immutable and may be evaluated any number of times.
 * docs/thresholds.md is the reference of the language itself.
 *
 * Evaluation reads an environment: the samples of a probe (each an object
 * value, see rbc/value.h; zero, one or many) and a lookup for vars.NAME.
 * Inside an aggregate such as p95(time) or all(status == 200), fields are
 * read once per sample. Outside any aggregate a field reads "the" sample:
 * expr_judge evaluates such an expression once per sample and combines the
 * results with all() (a bare predicate over repeated samples means all);
 * expr_eval and expr_truth read the last sample. With no sample a field is
 * unknown ("no samples").
 */
#ifndef RBC_EXPR_H
#define RBC_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "rbc/error.h"
#include "rbc/mask.h"
#include "rbc/value.h"

struct expr;

/* Longest expression source accepted, and deepest nesting. */
#define EXPR_MAX_LEN 8192
#define EXPR_MAX_DEPTH 64

/*
 * Parses src. On success returns a new expression (free with expr_free).
 * On failure returns NULL and fills err->col (1-based character column inside
 * src) and err->msg (e.g. "expected ')'"); err->file/line/path are untouched.
 */
struct expr *expr_parse(const char *src, struct rbc_error *err);
void expr_free(struct expr *e);

/* The source text the expression was parsed from (borrowed). */
const char *expr_source(const struct expr *e);

/*
 * Calls fn for every `vars.NAME` reference, in source order, with NAME and
 * the 1-based column where the reference (`vars`) starts. Used by the loader
 * to warn about undefined variables.
 */
void expr_foreach_var(const struct expr *e,
                      void (*fn)(const char *name, unsigned col, void *ud),
                      void *ud);

/*
 * Calls fn for every sample field the expression reads (`status` in
 * `status == 200`, `json` in `json.a.b`, `header` in `header["X"]`), in
 * source order, with its name and 1-based column. Used by the loader to
 * refuse fields the step's action never produces.
 */
void expr_foreach_field(const struct expr *e,
                        void (*fn)(const char *name, unsigned col, void *ud),
                        void *ud);

/*
 * Calls fn for every text literal a variable is compared with
 * (`vars.NAME == "x"`, `"x" != vars.NAME`, each item of
 * `vars.NAME in ["a", "b"]`), in node order, with NAME, the text and the
 * 1-based column of the literal. Used by the loader to refuse a literal that
 * is not one of a variable's choices.
 */
void expr_foreach_var_literal(const struct expr *e,
                              void (*fn)(const char *name, const char *text, unsigned col, void *ud),
                              void *ud);

/*
 * Verdicts. verdict_worst ranks them PASS < WARN < UNKNOWN < FAIL < ERROR:
 * a definite failure outranks a result that could not be judged, which
 * outranks a warning; ERROR (the probe could not run) ranks above all.
 */
#define RBC_VERDICTS(X)      \
	X(PASS, "PASS")       \
	X(WARN, "WARN")       \
	X(FAIL, "FAIL")       \
	X(UNKNOWN, "UNKNOWN") \
	X(ERROR, "ERROR")

enum rbc_verdict {
#define RBC_VERDICT_ENUM(name, text) RBC_VERDICT_##name,
	RBC_VERDICTS(RBC_VERDICT_ENUM)
#undef RBC_VERDICT_ENUM
};

/* "PASS", "WARN", "FAIL", "UNKNOWN", "ERROR" (static). */
const char *verdict_name(enum rbc_verdict v);
/* Parses a verdict name (exact, upper case); false when it is none. */
bool verdict_parse(const char *name, enum rbc_verdict *v);
/* The process exit code of a verdict: 0 PASS, 1 WARN, 2 FAIL, 3 UNKNOWN and ERROR. */
int verdict_exit_code(enum rbc_verdict v);
/* The more severe of a and b (see the order above). */
enum rbc_verdict verdict_worst(enum rbc_verdict a, enum rbc_verdict b);

/* What an evaluation reads. Everything is borrowed for the call. */
struct expr_env {
	struct rbc_value *const *samples; /* each an object; NULL when nsamples is 0 */
	size_t nsamples;
	/* vars.NAME: a borrowed value, or NULL when NAME is not set. var may be NULL. */
	const struct rbc_value *(*var)(const char *name, void *ud);
	void *ud;
	/* Secrets (may be NULL): masked in every value an explanation or a
	   reason shows, before it is cut or escaped. */
	const struct mask *mask;
};

/*
 * Judges a probe result. probe_error non-NULL: ERROR, explained by it.
 * Otherwise expect true → PASS, or WARN when warn (may be NULL) is true too;
 * expect false → FAIL; expect unknown or not true/false → UNKNOWN. No expect
 * (NULL) → PASS, or WARN when warn is true. env may be NULL (no samples).
 * *explain (caller frees) is always set: the measured values, the threshold
 * and the sample count, e.g. "p95(time) = 612 ms > 500 ms (200 samples)".
 */
enum rbc_verdict expr_judge(const struct expr *expect, const struct expr *warn,
                            const struct expr_env *env, const char *probe_error,
                            char **explain);

/*
 * Evaluates e to a value (captures): fields outside aggregates read the
 * last sample. Returns a new value (free with value_free), MISSING with its
 * reason when unknown. explain may be NULL; else *explain (caller frees)
 * is set, e.g. "json.environment = \"blue\"".
 */
struct rbc_value *expr_eval(const struct expr *e, const struct expr_env *env, char **explain);

/*
 * Evaluates e as a condition (when, repeat.until), fields outside aggregates
 * reading the last sample: 1 true, 0 false, -1 unknown or not true/false.
 * explain may be NULL; else *explain (caller frees) says why.
 */
int expr_truth(const struct expr *e, const struct expr_env *env, char **explain);

/* True when e reads sample fields at all (inside aggregates or not). */
bool expr_uses_samples(const struct expr *e);

/* One step of a sample path: a member or key (name, len bytes), or a list
   index (name NULL). */
struct expr_path_step {
	const char *name;
	size_t len;
	long index;
};

/*
 * Calls fn for every sample field e reads (e may be NULL), in source order,
 * with its path: the field, then the .name, [index] and ["key"] steps with a
 * literal index that follow it (json.data.items[0].id gives json, data,
 * items, 0, id; header["Content-Type"] gives header, Content-Type). A path
 * ends before a computed or negative index (json.items[len(json.items) - 1]
 * gives json.items; the fields inside the index are paths of their own).
 * The value at the end of a path is read whole. steps are borrowed for the
 * call.
 */
void expr_foreach_path(const struct expr *e,
                       void (*fn)(const struct expr_path_step *steps, size_t n, void *ud),
                       void *ud);

#endif

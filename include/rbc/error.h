/*
 * error.h — problems found below the console are values, not prints.
 *
 * A struct rbc_error names where a problem is (file, line, column, JSON path)
 * and what it is; a struct rbc_diags collects every problem of one operation so
 * validation can report them all at once. Only main and the console decide how
 * to show them.
 */
#ifndef RBC_ERROR_H
#define RBC_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rbc/util.h"

struct rbc_error {
	char *file;      /* owned; NULL when not about a file */
	unsigned line;   /* 1-based; 0 when unknown */
	unsigned col;    /* 1-based, in characters; 0 when unknown */
	char *path;      /* owned JSON path such as steps[2].http.url; may be NULL */
	char *msg;       /* owned, never NULL once set */
	bool warning;
};

/* Frees the strings inside e (not e itself) and zeroes it. */
void rbc_error_clear(struct rbc_error *e);
/* Sets e->msg (freeing an earlier one). */
void rbc_error_set(struct rbc_error *e, const char *fmt, ...) RBC_PRINTF(2, 3);
/*
 * Formats e as FILE:LINE:COL: PATH: [warning: ]message; caller frees.
 * Control characters are shown escaped (\x1b, \u009b: text_term in
 * text.h), never raw: text from a runbook must not drive the terminal.
 */
char *rbc_error_format(const struct rbc_error *e);

struct rbc_diags {
	struct rbc_error *v;
	size_t n, cap;
	size_t nerrors, nwarnings; /* all problems, kept or not */
};

/* Problems kept in memory; beyond this they are only counted, so a hostile
   file with millions of problems cannot exhaust memory. */
#define RBC_DIAGS_MAX 10000

/* Appends a problem (counts it only, past RBC_DIAGS_MAX); file and path are copied. */
void diags_add(struct rbc_diags *d, bool warning, const char *file,
               unsigned line, unsigned col, const char *path,
               const char *fmt, ...) RBC_PRINTF(7, 8);
/* Sorts by file, line, column (stable) — the order a reader expects. */
void diags_sort(struct rbc_diags *d);
/* Prints one line per problem. */
void diags_print(const struct rbc_diags *d, FILE *fp);
void diags_free(struct rbc_diags *d);

/* Exit codes shared by every command (sysexits-style where they exist). */
enum {
	RBC_EXIT_PASS = 0,
	RBC_EXIT_WARN = 1,
	RBC_EXIT_FAIL = 2,
	RBC_EXIT_UNKNOWN = 3,
	RBC_EXIT_USAGE = 64,
	RBC_EXIT_DATAERR = 65,
	RBC_EXIT_NOINPUT = 66,
	RBC_EXIT_SOFTWARE = 70,
	RBC_EXIT_IOERR = 74,      /* the run's journal cannot be written: the record is lost */
	RBC_EXIT_LEASE_HELD = 75, /* rbc resume --db: another driver's lease is alive (docs/team.md) */
	RBC_EXIT_TAKEN_OVER = 76, /* a driver whose run another took over (docs/team.md) */
	RBC_EXIT_NOPERM = 77,     /* a runs directory or run that is not ours to trust */
};

#endif

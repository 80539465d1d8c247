/*
 * history_export.h — a run's journal rebuilt from PostgreSQL (rbc export
 * RUN --db URL), for exporting a run whose directory is on another machine
 * (docs/team.md).
 *
 * The header (rbc_runs.header) and the events (rbc_events, by seq) are
 * written into a private temporary run directory (mode 0700) that the
 * exports then read as they read a local run, through the same journal
 * checker. A seq missing from the database is a placeholder note saying so
 * (the export is incomplete, and says it); an output file of a run or
 * nagios step, kept only in the driver's run directory, is a line saying
 * where it is.
 */
#ifndef RBC_HISTORY_EXPORT_H
#define RBC_HISTORY_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "rbc/error.h"

struct history_export {
	char *top;         /* the private temporary directory (removed by close) */
	char *dir;         /* the run directory in it: top/RUN */
	char *run;
	char *missing;     /* the seqs missing, as "4, 7-9", or NULL */
	size_t nmissing;
	size_t outputs;    /* output files absent (only in the driver's run dir) */
	bool unavailable;  /* the database could not be reached or read */
};

/* Rebuilds the run's journal from the database at url into x->dir, checked
   line by line as a local journal is; false with err (naming the seq of a
   refused row) otherwise. x is cleared either way; close it. */
bool history_export_open(const char *url, const char *run, struct history_export *x, struct rbc_error *err);

/* Removes the temporary directory and frees x. */
void history_export_close(struct history_export *x);

/* doc (a document of format fmt, rendered from x->dir) with what the
   database did not have said at its top: a new string; doc is freed. */
char *history_export_mark(const struct history_export *x, const char *fmt, char *doc);

#endif

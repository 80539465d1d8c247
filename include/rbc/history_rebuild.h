/*
 * history_rebuild.h — a run's journal written back from PostgreSQL
 * (rbc_runs.header, then rbc_events in seq order) into a run directory and
 * checked line by line with the journal's checker: what rbc export RUN
 * --db URL reads, and what rbc resume RUN --db URL drives on from on a
 * machine that does not have the run (docs/team.md).
 *
 * One query on one snapshot, the journal written with one write: no round
 * trip per row. A command's work, not a run's: libpq's blocking calls.
 */
#ifndef RBC_HISTORY_REBUILD_H
#define RBC_HISTORY_REBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "rbc/error.h"

struct history_rebuild {
	const char *by;    /* who writes a missing seq's placeholder note ("rbc export") */
	char *missing;     /* the seqs missing, as "4, 7-9", or NULL */
	size_t nmissing;
	size_t events;     /* rows read (the header not counted) */
	long long last_seq;/* the highest seq the database has (0: none) */
	size_t outputs;    /* output files absent (only in the driver's run dir) */
	bool unavailable;  /* the database could not be reached or read */
};

/* Whether id may name a run directory: no slash, not . or .., printable. */
bool history_run_name_ok(const char *id);

/*
 * Writes the run's journal from the database at url into dir (which exists,
 * with its out/), a placeholder note by rb->by in each missing seq's place,
 * and checks it line by line; a refused row is named by its seq in err.
 * Missing seqs are in rb->missing either way; refuse_gaps: they are refused
 * (false, err naming them) before anything is written.
 */
bool history_rebuild(const char *url, const char *run, const char *dir, bool refuse_gaps,
                     struct history_rebuild *rb, struct rbc_error *err);
void history_rebuild_free(struct history_rebuild *rb);

#endif

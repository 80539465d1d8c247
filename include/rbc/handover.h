/*
 * handover.h — another machine takes a run over through PostgreSQL
 * (docs/team.md, "Handover"): rbc resume RUN --db URL.
 *
 * Before a resume with a database drives a run, the lease decides
 * (handover_claim): a lease alive and held by someone else refuses the
 * resume (exit 75) unless --take-over; an expired lease, or --take-over,
 * is claimed at once — the holder changes, and the old driver, fenced by
 * holder and pid, stores nothing more (lease.h, history.h). When the run's
 * directory is not on this machine, handover_rebuild writes it back from
 * rbc_runs/rbc_events (history_rebuild.h) into the runs directory under
 * the run's own name; a gap in the seqs is refused unless forced.
 *
 * Commands, before the run's loop: libpq's blocking calls.
 */
#ifndef RBC_HANDOVER_H
#define RBC_HANDOVER_H

#include <stdbool.h>

#include "rbc/error.h"
#include "rbc/history_rebuild.h"

/* Who holds a lease: operator (NULL: the login name) "@" the host name. */
char *handover_holder(const char *operator);

/*
 * Claims the lease on run for holder and this process: 0 when claimed (or
 * already ours), RBC_EXIT_LEASE_HELD when another's is alive and take_over
 * is false (err names the holder, pid, last beat and expiry), 69 when the
 * database cannot be reached. *took: a lease of another (alive or expired)
 * was taken; its holder in err's words is then in *from (caller frees).
 */
int handover_claim(const char *url, const char *run, const char *holder, bool take_over, char **from,
                   struct rbc_error *err);

/* Lets go of the lease on run if this process holds it for holder (a
   resume claimed it and could not drive). */
void handover_release(const char *url, const char *run, const char *holder);

/*
 * Writes the run back from the database at url into the runs directory
 * under its own name (a new directory, mode 0700), checked line by line;
 * missing seqs are refused (65, err naming them) unless force, which keeps
 * a note in each one's place. 0, or the exit status with err.
 */
int handover_rebuild(const char *url, const char *run, bool force, struct history_rebuild *rb,
                     struct rbc_error *err);

#endif

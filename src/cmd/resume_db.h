/*
 * resume_db.h — rbc resume RUN --db URL: the run taken from the database
 * when its directory is not here, and the lease claimed before it drives
 * (docs/team.md, "Handover"; handover.h).
 */
#ifndef RBC_CMD_RESUME_DB_H
#define RBC_CMD_RESUME_DB_H

#include <stdbool.h>

#include "rbc/rundir.h"

/* The run's directory is not on this machine: rebuilt from the database
   into the runs directory, and opened into rd. 0, or the exit status after
   saying on stderr why not. */
int resume_db_rebuild(const char *db, const char *run, bool force, struct rundir *rd);

/* The lease, before the resume drives: claimed for operator@host, or the
   exit status after saying why not (75: another's is alive). rebuilt: a
   refused claim removes the directory just rebuilt. A database that cannot
   be reached refuses a rebuilt run (69) and only warns for a local one. */
int resume_db_claim(const char *db, const char *run, const char *operator, bool take_over, bool rebuilt,
                    const struct rundir *rd);

/* The lease claimed for a resume that did not drive, let go (db NULL or
   "": nothing). */
void resume_db_release(const char *db, const char *run, const char *operator);

/* The console of a driver whose run was taken over goes on as a follower:
   rbc follow RUN from the database db (this process replaced; it returns
   only when that fails, having said so). */
void resume_db_follow(const char *db, const char *run, const char *theme, const char *who);

#endif

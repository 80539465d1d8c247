/*
 * rundir.h — where runs live: <runs>/<run-id>/, with the step outputs in
 * <run-id>/out/.
 *
 * <runs> is $RBC_RUNS_DIR, else $XDG_STATE_HOME/rbc/runs, else
 * ~/.local/state/rbc/runs. Directories are created mode 0700: outputs can
 * hold whatever a command printed. Called before the loop runs (it uses
 * plain blocking file calls).
 */
#ifndef RBC_RUNDIR_H
#define RBC_RUNDIR_H

#include "rbc/error.h"

struct rundir {
	char *id;     /* 20261123T190102Z-post-deploy-3f2a */
	char *path;   /* <runs>/<id> */
	char *out;    /* <runs>/<id>/out */
};

/* The runs directory (a new string), or NULL with err set when there is no home. */
char *rundir_base(struct rbc_error *err);

/* Creates a new run directory for a run of runbook_id (the first runbook). */
bool rundir_create(const char *runbook_id, struct rundir *rd, struct rbc_error *err);
/* The directory of an existing run: RUN is a run id in the runs directory,
   or a path to the run's directory. */
bool rundir_open(const char *run, struct rundir *rd, struct rbc_error *err);
void rundir_free(struct rundir *rd);

#endif

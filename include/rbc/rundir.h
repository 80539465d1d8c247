/*
 * rundir.h — where runs live: <runs>/<run-id>/, with the step outputs in
 * <run-id>/out/.
 *
 * <runs> is $RBC_RUNS_DIR, else $XDG_STATE_HOME/rbc/runs, else
 * ~/.local/state/rbc/runs. Directories are created mode 0700: outputs can
 * hold whatever a command printed. Called before the loop runs (it uses
 * plain blocking file calls).
 *
 * The runs directory is trusted only when nobody else can change it: it
 * must belong to the user rbc runs as, and be writable by nobody else
 * unless it has the sticky bit (as /tmp); the directories above it must
 * belong to that user or root, under the same rule for writing, and so
 * must every directory its path goes through and every symbolic link on
 * the way (a link of another user's can be pointed elsewhere). Otherwise
 * another user could swap a run's directory or files for links to files
 * of ours. Files inside a run directory are opened without following
 * symbolic links.
 */
#ifndef RBC_RUNDIR_H
#define RBC_RUNDIR_H

#include "rbc/error.h"

struct rundir {
	char *id;     /* 20261123T190102Z-post-deploy-3f2a */
	char *path;   /* <runs>/<id> */
	char *out;    /* <runs>/<id>/out */
	bool refused; /* rundir_open failed because the runs directory is not
	                 to be trusted (exit RBC_EXIT_NOPERM), not for want of
	                 the run */
};

/* The runs directory (a new string), or NULL with err set when there is no home. */
char *rundir_base(struct rbc_error *err);

/* Creates a new run directory for a run of runbook_id (the first runbook). */
bool rundir_create(const char *runbook_id, struct rundir *rd, struct rbc_error *err);
/* The directory of an existing run: RUN is a run id in the runs directory,
   or a path to the run's directory. A run found by its id in a runs
   directory rundir_base_trusted refuses is refused: false, rd->refused set
   (read it before rundir_free). */
bool rundir_open(const char *run, struct rundir *rd, struct rbc_error *err);
void rundir_free(struct rundir *rd);

/* Removes the directory of a new run whose header could not be written:
   its journal, its out/ and itself, so that no torn run is left to list
   or resume. Only what a new run holds is removed (out/ must be empty);
   true when the directory is gone. */
bool rundir_discard(const struct rundir *rd);

/* Whether base may hold runs: it belongs to us and no one else may write
   it (the sticky bit aside), nor rename it (its parents belong to us or
   root, under the same rule), nor change where its path leads (every
   directory and symbolic link on the way, walked as the kernel resolves
   it, belongs to us or root, under the same rule); false with err saying
   why and what to do. */
bool rundir_base_trusted(const char *base, struct rbc_error *err);

/* Whether the run directory dir and its journal are ours (a resume acts
   on them), the journal with no other name (no hard link): false with err
   naming the owner or the links. */
bool rundir_owned(const char *dir, struct rbc_error *err);

/*
 * Opens rel (a name, or names joined by '/') inside the run directory dir
 * without following a symbolic link at any of its components; flags are
 * open(2)'s (O_NOFOLLOW and O_CLOEXEC are added). Returns the descriptor,
 * or -1 with errno set (ELOOP for a link).
 */
int rundir_open_file(const char *dir, const char *rel, int flags, unsigned mode);

/*
 * Opens a step's output file, name as rundir_output_name gives it, in the
 * run directory dir for reading — as rundir_open_file does, never waiting
 * (O_NONBLOCK) — only when rbc could have written it: a regular file of
 * the run's owner (whoever its journal belongs to) with no other name. A
 * hard link to another file, or a file of someone else's, is what rbc
 * refuses to append to, and is not read either. Returns the descriptor, or
 * -1 with errno set (ELOOP: a link; EINVAL: not a regular file; EPERM:
 * other names or another owner).
 */
int rundir_open_output(const char *dir, const char *name);

/*
 * The step output file a journal's `output` field names, as "out/NAME"
 * relative to the run directory (a new string), or NULL when the field is
 * not one: NAME is one of rbc's own file names (letters, digits, '.', '-',
 * '_', ending in ".out"), the field's last two components. Whatever
 * directory the field records is not trusted: a run directory may have
 * been moved, and a record altered to point elsewhere.
 */
char *rundir_output_name(const char *recorded);

#endif

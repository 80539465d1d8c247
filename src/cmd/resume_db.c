/*
 * resume_db.c — rbc resume RUN --db URL on a machine without the run, and
 * the lease's word before any resume with a database (resume_db.h,
 * docs/team.md).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resume_db.h"
#include "rbc/handover.h"
#include "rbc/history_rebuild.h"
#include "rbc/text.h"
#include "rbc/util.h"

/* The run's directory rebuilt from the database, and opened (resume_db.h). */
int resume_db_rebuild(const char *db, const char *run, bool force, struct rundir *rd)
{
	struct rbc_error err = {0};
	struct history_rebuild rb = {0};
	int rc = handover_rebuild(db, run, force, &rb, &err);
	if (rc == 69) {
		/* An outage: one line, and nothing of the run was left here. */
		text_fprintf(stderr, "rbc: resume: %s is not on this machine and cannot be taken over now (nothing was "
		             "written here): %s\n", run, err.msg);
	} else if (rc) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		if (rb.missing && !force)
			fprintf(stderr, "rbc: resume: --force resumes it anyway: each missing event is lost (a note "
			                "stands in its place in the journal; the database keeps the gap)\n");
	} else {
		text_fprintf(stderr, "rbc: resume: %s rebuilt from the database: %zu events, up to seq %lld\n", run,
		             rb.events, rb.last_seq);
		if (rb.missing)
			text_fprintf(stderr, "rbc: resume: warning: %zu events are missing from the database (seq %s): "
			             "lost, a note stands in each one's place (--force)\n", rb.nmissing, rb.missing);
		if (!rundir_open(run, rd, &err)) {
			text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
			rc = rd->refused ? RBC_EXIT_NOPERM : RBC_EXIT_NOINPUT;
		}
	}
	history_rebuild_free(&rb);
	rbc_error_clear(&err);
	return rc;
}

/* nftw: removes one entry of a directory just rebuilt. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* The lease claimed before the resume drives (resume_db.h). */
int resume_db_claim(const char *db, const char *run, const char *operator, bool take_over, bool rebuilt,
                    const struct rundir *rd)
{
	struct rbc_error err = {0};
	char *holder = handover_holder(operator), *from = NULL;
	int rc = handover_claim(db, run, holder, take_over, &from, &err);
	if (rc == 69 && !rebuilt) {
		text_fprintf(stderr, "rbc: resume: warning: the lease could not be read (%s): the local journal "
		             "goes on, and the lease is claimed when the database answers\n", err.msg);
		rc = 0;
	} else if (rc) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		if (rebuilt)
			nftw(rd->path, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	} else if (from) {
		text_fprintf(stderr, "rbc: resume: the lease is taken from %s; %s drives now\n", from, holder);
	}
	free(from);
	free(holder);
	rbc_error_clear(&err);
	return rc;
}

/* Lets go of a lease claimed for a resume that did not drive (resume_db.h). */
void resume_db_release(const char *db, const char *run, const char *operator)
{
	if (!db || !*db)
		return;
	char *holder = handover_holder(operator);
	handover_release(db, run, holder);
	free(holder);
}

/* The console of a driver taken over becomes a follower (resume_db.h). */
void resume_db_follow(const char *db, const char *run, const char *theme, const char *who)
{
	fflush(NULL);
	/* The URL through the environment: it may hold a password. */
	setenv("RBC_DATABASE_URL", db, 1);
	setenv("RBC_TAKEN_OVER_BY", who, 1);
	char *r = xstrdup(run), *t = theme ? xstrdup(theme) : NULL;
	char *argv[] = {xstrdup("rbc"), xstrdup("follow"), r, t ? xstrdup("--theme") : NULL, t, NULL};
	execv("/proc/self/exe", argv);
	text_fprintf(stderr, "rbc: taken over by %s; cannot follow the run (rbc follow %s --db URL): %s\n", who, run,
	             strerror(errno));
}

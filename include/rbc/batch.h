/*
 * batch.h — the batch printer: a session observed without a screen.
 *
 * batch_run attaches itself to the session, runs every remaining step
 * (engine_start) on the session's loop until the run's end, prints a line
 * per step and a summary on stdout, drains the session and detaches; the
 * caller closes the session. SIGINT, SIGTERM and SIGHUP stop the run.
 * Returns the exit status: 0 pass, 1 warn, 2 fail, 3 unknown or error,
 * 130 interrupted (a lost record is the caller's to say: journal_error).
 */
#ifndef RBC_BATCH_H
#define RBC_BATCH_H

#include "rbc/session.h"

/* cmd ("run", "resume") names the command in messages. */
int batch_run(struct session *s, const char *cmd);

#endif

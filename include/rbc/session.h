/*
 * session.h — a run: the engine, its journal, the PostgreSQL history, the
 * incident desk and its notifier, opened and closed as one, the same way
 * for the console, batch mode and rbc resume (docs/journal.md says what
 * the journal holds).
 *
 * session_open owns an event loop and everything on it: it creates the
 * journal (a new run) or opens it again (a resume), makes the engine over
 * the runbooks, writes the header or rebuilds the run from its record, opens
 * the history when a database is given and the incident desk when the first
 * runbook is an incident runbook, and declares the incident when opts says
 * how. Nothing runs yet. One view — the console or the batch printer —
 * then observes it (session_attach) and drives the engine; neither creates
 * an engine. Events reach the view once their line is on disk, after the
 * desk has seen them.
 *
 * session_drain lets what is under way end: the engine's stop, the
 * journal's lines, notifications (a few seconds), the history's queue (a
 * few seconds). session_close drains, frees everything in one order and
 * closes the loop. Everything happens on the loop thread.
 *
 * Ownership: the runbooks, vars, rundir and argv are borrowed and must
 * outlive the session; the session owns the rest. Messages for the
 * operator go to opts->note (what the command prints on stderr) or to the
 * view's say (what the view shows while it runs); this module prints
 * nothing.
 */
#ifndef RBC_SESSION_H
#define RBC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/desk.h"
#include "rbc/engine.h"
#include "rbc/error.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/rundir.h"
#include "rbc/runbook.h"
#include "rbc/unfinished.h"

struct session_opts {
	const char *cmd;                  /* "run", "resume": names it in messages */
	struct runbook *const *runbooks;  /* the given runbooks, in order */
	size_t nrunbooks;
	const struct rb_kv *vars;         /* --var, --vars (a resume: the run's) */
	const struct rundir *rd;          /* the run's directory: created, or opened for a resume */
	int argc;                         /* the command line, recorded (secrets masked) */
	char **argv;
	const char *operator;             /* NULL: the login name */
	const char *approver;             /* --approver (engine_opts.approver) */
	enum eng_assume assume;
	bool yes;
	bool interactive;                 /* an operator answers (the console) */
	const char *db;                   /* PostgreSQL URL; NULL or "": none */
	bool joinable;                    /* batch with --db: manual steps, asks and approvals
	                                     wait for a joiner (rbc join; docs/team.md) */
	bool resume, forced;              /* rbc resume, with --force */
	bool from_db;                     /* … of a run rebuilt from the database: nothing sent again */
	/* A resume's steps started and not ended: decided so (--unfinished),
	   or ASK: the console asks, batch mode refuses (exit 64). */
	enum unfinished_choice unfinished;
	bool follow;                      /* rbc follow: no journal, nothing runs (follow.h) */
	/* An incident runbook: declared at open with this level and title
	   (--severity, --title, --impact-start); NULL: not yet. */
	const char *severity, *title, *impact_start;
	/* Something the operator must read, before and after the view runs
	   ("warning: …", "resume: …", "run: history: …"). */
	void (*note)(void *ud, const char *text);
	void *note_ud;
};

/* The view observing a session. */
struct session_view {
	void (*on_event)(void *ud, const struct eng_event *ev);
	void (*say)(void *ud, const char *text); /* a message while the view runs */
	/* The lease was taken by who (operator@host): the run has stopped
	   acting here, nothing more is journaled or sent (docs/team.md). */
	void (*taken_over)(void *ud, const char *who);
	void *ud;
};

struct session;

/*
 * Opens the session. NULL when it cannot, with err set and *rc the exit
 * status (65 a damaged record, 64 a finished run or a bad declaration, 74
 * a header that cannot be written, 70 otherwise); nothing of it is left
 * (the loop is closed).
 */
struct session *session_open(const struct session_opts *opts, int *rc, struct rbc_error *err);

/* Sets the view; what was said before it came is said to it now. */
void session_attach(struct session *s, const struct session_view *v);
/* rbc follow: an event rebuilt from the record, to the view. */
void session_emit(struct session *s, const struct eng_event *ev);
/* A message for the operator while the view runs. */
void session_tell(struct session *s, const char *text);

/* Runs what is under way to its end (see above); again: nothing. */
void session_drain(struct session *s);

/* Drains, then frees the engine, the journal, the history, the desk and
   the loop. NULL is fine. */
void session_close(struct session *s);

/* Borrowed, for as long as the session is open. */
uv_loop_t *session_loop(struct session *s);
struct engine *session_engine(const struct session *s);
struct journal *session_journal(const struct session *s);
struct incident_desk *session_desk(const struct session *s); /* NULL: no incident */
const struct rundir *session_rundir(const struct session *s);

/* The session's wall clock in ms: RBC_TEST_NOW when set, else the real one. */
int64_t session_now(const struct session *s);

/* A resume: what the record gave back (NULL for a new run), where the run
   goes on ("going on at RB/STEP"; NULL: from the start) and what it could
   not give back, in one line (NULL: nothing). */
const struct resume_state *session_resumed(const struct session *s);
struct resume_state *session_resume_state(struct session *s); /* unfinished.c's */
/* The run was taken over by another driver: who, else NULL (docs/team.md). */
const char *session_taken_over(const struct session *s);
const char *session_resumed_at(const struct session *s);
const char *session_resume_warning(const struct session *s);
/* When the run started (ms; a resume: the header's, 0 when unknown). */
int64_t session_started(const struct session *s);

#endif

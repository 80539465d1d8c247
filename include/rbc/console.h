/*
 * console.h — the full-screen console: walks a session live on ncursesw.
 *
 * console_run observes an open session (session.h) — it never creates the
 * engine: it attaches itself as the session's view, takes over the
 * terminal, drives the engine from the keys on the session's loop until
 * the operator quits, restores the terminal, prints the run's end, closes
 * its own handles and detaches; the caller then closes the session. The
 * session must have been opened interactive. Returns the exit status (the
 * run's verdict: 0 pass, 1 warn, 2 fail, 3 unknown or error; 74 when the
 * record was lost). docs/console.md describes every pane and key.
 */
#ifndef RBC_CONSOLE_H
#define RBC_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#include "rbc/session.h"

struct journal;
struct cJSON;

/*
 * rbc join: where the answering keys' actions go instead of the engine
 * (docs/team.md, "Joining a run"). answer: kind "done", "fail", "skip",
 * "answer" (value: an ask's answer), "note" (s NULL: on the run); incident:
 * an incident action as the overlay made it (borrowed). The driver judges
 * each; its verdict comes back through the record (a command event).
 */
struct console_acts {
	const char *by;           /* the joiner's --operator */
	void (*answer)(void *ud, const struct eng_step *s, const char *kind, const char *value, const char *note);
	void (*incident)(void *ud, const struct cJSON *ev);
	/* The actions sent and not yet stored in the database; *why: what
	   keeps them (the database unreachable), NULL while they are going.
	   NULL: none is ever kept. */
	size_t (*unsent)(void *ud, const char **why);
	void *ud;
};

struct console_cfg {
	const char *theme;      /* a name or a path; NULL: default (monochrome with NO_COLOR) */
	const char *run_id;     /* shown in the help overlay and the quit summary */
	const char *run_path;
	struct journal *journal; /* console_run sets it to the session's (leave it NULL) */
	/* rbc follow: read-only; the header's mark ("FOLLOWING alice@host",
	   "db lost, retrying") as it is now. NULL: the console drives. */
	const char *(*following)(void *ud);
	void *following_ud;
	const struct console_acts *acts; /* rbc join: following, and these act */
};

int console_run(struct session *s, const struct console_cfg *cfg);

/*
 * The form for required variables (docs/console.md, "Required variables"),
 * before a console run exists: when the runbooks (and their includes) have
 * required variables vars gives no value, the terminal shows a form where
 * the operator gives each one, checked by its rule (refused with it). 0
 * with the values added to vars (at once when none is missing); 64 when the
 * operator left the form (Esc, q), said on stderr: nothing is to run.
 */
int console_form(struct runbook *const *rbs, size_t nrbs, struct rb_kv *vars, const char *theme);

#endif

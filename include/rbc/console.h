/*
 * console.h — the full-screen console: walks a run live on ncursesw.
 *
 * console_run takes over the terminal, creates the engine from opts (it
 * sets the event callback itself; opts->interactive is forced on), runs the
 * loop until the operator quits, restores the terminal and returns the exit
 * status (the run's verdict: 0 pass, 1 warn, 2 fail, 3 unknown or error).
 * docs/console.md describes every pane and key.
 */
#ifndef RBC_CONSOLE_H
#define RBC_CONSOLE_H

#include <stdbool.h>

#include "rbc/engine.h"

struct journal;

struct console_cfg {
	const char *theme;      /* a name or a path; NULL: default (monochrome with NO_COLOR) */
	const char *run_id;     /* shown in the help overlay and the quit summary */
	const char *run_path;
	struct journal *journal; /* events reach the screen through it, once on disk (may be NULL) */
	/* Called once the engine exists, before anything runs (the journal's
	   header); false stops the console before it starts. */
	bool (*started)(void *ud, struct engine *e);
	void *started_ud;
	bool resumed;           /* the engine was rebuilt from the record by started */
	int64_t t_start;        /* a resumed run: when it started (ms; 0: unknown) */
	char *const *resume_warning; /* …and what its record could not give back
	                           (*NULL: nothing), read once started returned */
	/* An incident runbook: declared at once with this level and title
	   (--severity, --title; the impact start, --impact-start, defaults to
	   now), else the console asks. */
	const char *severity, *incident_title, *impact_start;
};

int console_run(struct engine_opts *opts, const struct console_cfg *cfg);

#endif

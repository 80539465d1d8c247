/*
 * history.c — `rbc history`: the runs stored in PostgreSQL (a run with
 * --db URL or RBC_DATABASE_URL stores every journal event there).
 *
 *   rbc history [--db URL] [--json]            the runs, oldest first
 *   rbc history [--db URL] [--json] RUN        one run's events, in order
 *   rbc history push [--db URL] RUN            stores a run's journal (again)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/cmd.h"
#include "rbc/history.h"
#include "rbc/rundir.h"
#include "rbc/text.h"

static void history_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc history [--db URL] [--json] [RUN]\n"
	        "       rbc history push [--db URL] RUN\n"
	        "\n"
	        "The runs stored in PostgreSQL by rbc run --db URL (or RBC_DATABASE_URL):\n"
	        "without RUN, one line per run (id, runbooks, start, operator, state as\n"
	        "last stored, verdict, events); with RUN, its events in order. --json\n"
	        "prints JSON lines instead (for RUN: its header first, then each event).\n"
	        "push stores a run's journal from its directory: what a run could not\n"
	        "send while the database was down (storing is idempotent); a RUN given\n"
	        "by its id in a runs directory others may change is refused (exit 77).\n"
	        "Stored text is shown with its control characters escaped (\\x1b,\n"
	        "\\u009b), never raw. URL is a libpq connection string or postgresql://\n"
	        "URI; its password is better kept in ~/.pgpass or PGPASSWORD than on the\n"
	        "command line.\n");
}

int cmd_history(int argc, char **argv)
{
	const char *url = getenv("RBC_DATABASE_URL"), *run = NULL;
	bool json = false, push = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			history_usage(stdout);
			return 0;
		} else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
			url = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			url = a + 5;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "push") == 0 && !push && !run && i == 1) {
			push = true;
		} else if (a[0] == '-') {
			text_fprintf(stderr, "rbc: history: unknown option %s\n", a);
			history_usage(stderr);
			return RBC_EXIT_USAGE;
		} else if (!run) {
			run = a;
		} else {
			fprintf(stderr, "rbc: history: one run at a time\n");
			return RBC_EXIT_USAGE;
		}
	}
	if (!url || !*url) {
		fprintf(stderr, "rbc: history: which database? --db URL or RBC_DATABASE_URL\n");
		return RBC_EXIT_USAGE;
	}
	if (push && !run) {
		fprintf(stderr, "rbc: history: push: which run? (rbc runs lists them)\n");
		return RBC_EXIT_USAGE;
	}
	struct rbc_error err = {0};
	bool ok, refused = false;
	if (push) {
		struct rundir rd;
		size_t n = 0;
		ok = rundir_open(run, &rd, &err) && history_push(url, rd.path, rd.id, &n, &err);
		if (ok)
			text_printf("%s: %zu lines stored\n", rd.id, n);
		refused = rd.refused;
		rundir_free(&rd);
	} else if (run) {
		ok = history_print_run(url, run, json, stdout, &err);
	} else {
		ok = history_print_runs(url, json, stdout, &err);
	}
	if (!ok) {
		text_fprintf(stderr, "rbc: history: %s\n", err.msg);
		rbc_error_clear(&err);
		return refused ? RBC_EXIT_NOPERM : 69; /* EX_UNAVAILABLE */
	}
	return fflush(stdout) == 0 ? 0 : 74;
}

/*
 * runs.c — rbc runs: the runs kept in the runs directory, newest last, with
 * what their journals say: running (its journal is locked by a live rbc),
 * interrupted (the process ended before the run did), or finished, and the
 * verdict.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "rbc/cmd.h"
#include "rbc/error.h"
#include "rbc/journal.h"
#include "rbc/rundir.h"
#include "rbc/text.h"
#include "rbc/util.h"

static void runs_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc runs [--json]\n"
	        "\n"
	        "Lists the runs in the runs directory ($RBC_RUNS_DIR, else\n"
	        "$XDG_STATE_HOME/rbc/runs, else ~/.local/state/rbc/runs), oldest first:\n"
	        "run id, runbooks, start (UTC), operator, state and verdict. The state is\n"
	        "running (a live rbc holds the journal), interrupted (it ended before the\n"
	        "run did), stopped (a quit or a signal ended it early), finished, or\n"
	        "damaged (a line before the last is not JSON, a line is not what rbc\n"
	        "writes or out of sequence, the journal is not a regular file; the line\n"
	        "is named on stderr). rbc resume goes on with interrupted and stopped\n"
	        "runs. --json prints one JSON object per run instead. A runs directory\n"
	        "of another user's, or one others may write without the sticky bit, is\n"
	        "refused (exit 77). Text read from a journal is shown with its control\n"
	        "characters escaped (\\x1b, \\u009b), never raw.\n");
}

/* One JSON line, no control character raw (text.h); frees o. */
static void print_json(cJSON *o)
{
	char *line = cJSON_PrintUnformatted(o);
	struct strbuf sb = {0};
	text_json(&sb, line);
	sb_addc(&sb, '\n');
	fputs(sb_borrow(&sb), stdout);
	sb_free(&sb);
	free(line);
	cJSON_Delete(o);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_runs(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			runs_usage(stdout);
			return 0;
		} else {
			text_fprintf(stderr, "rbc: runs: unknown argument %s\n", argv[i]);
			runs_usage(stderr);
			return RBC_EXIT_USAGE;
		}
	}
	struct rbc_error err = {0};
	char *base = rundir_base(&err);
	if (!base) {
		text_fprintf(stderr, "rbc: runs: %s\n", err.msg);
		rbc_error_clear(&err);
		return RBC_EXIT_SOFTWARE;
	}
	DIR *d = opendir(base);
	if (!d) {
		if (errno == ENOENT) {
			if (!json)
				text_printf("no runs in %s\n", base);
			free(base);
			return 0;
		}
		text_fprintf(stderr, "rbc: runs: %s: %s\n", base, strerror(errno));
		free(base);
		return RBC_EXIT_NOINPUT;
	}
	if (!rundir_base_trusted(base, &err)) {
		text_fprintf(stderr, "rbc: runs: %s\n", err.msg);
		rbc_error_clear(&err);
		closedir(d);
		free(base);
		return RBC_EXIT_NOPERM;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		xgrow(&names, &cap, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n) /* names is NULL without one: qsort may not be given NULL */
		qsort(names, n, sizeof *names, by_name);
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		char *dir = xasprintf("%s/%s", base, names[i]);
		struct journal_summary s;
		struct rbc_error e = {0};
		if (journal_summary(dir, &s, &e)) {
			if (json) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "run", s.id ? s.id : names[i]);
				cJSON_AddStringToObject(o, "dir", dir);
				cJSON_AddStringToObject(o, "runbooks", s.runbooks ? s.runbooks : "");
				cJSON_AddStringToObject(o, "started", s.started ? s.started : "");
				cJSON_AddStringToObject(o, "operator", s.operator ? s.operator : "");
				cJSON_AddStringToObject(o, "state", journal_state_name(s.state));
				if (s.verdict)
					cJSON_AddStringToObject(o, "verdict", s.verdict);
				else
					cJSON_AddNullToObject(o, "verdict");
				cJSON_AddNumberToObject(o, "events", (double)s.events);
				print_json(o);
			} else {
				if (!shown)
					printf("%-40s %-24s %-20s %-12s %-11s %s\n", "RUN", "RUNBOOKS", "STARTED", "OPERATOR",
					       "STATE", "VERDICT");
				text_printf("%-40s %-24s %-20s %-12s %-11s %s\n", s.id ? s.id : names[i],
				       s.runbooks ? s.runbooks : "", s.started ? s.started : "",
				       s.operator ? s.operator : "", journal_state_name(s.state),
				       s.verdict ? s.verdict : "—");
			}
			shown++;
			journal_summary_free(&s);
		}
		else if (journal_locked(dir) != -1) {
			/* A damaged journal is said, never skipped in silence. A
			   directory without one (a run that never started) is no run. */
			text_fprintf(stderr, "rbc: runs: %s\n", e.msg);
			if (json) {
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "run", names[i]);
				cJSON_AddStringToObject(o, "state", "damaged");
				print_json(o);
			} else {
				text_printf("%-40s %-24s %-20s %-12s %-11s %s\n", names[i], "", "", "", "damaged", "—");
			}
			shown++;
		}
		rbc_error_clear(&e);
		free(dir);
		free(names[i]);
	}
	free(names);
	if (!shown && !json)
		text_printf("no runs in %s\n", base);
	free(base);
	return 0;
}

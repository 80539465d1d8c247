/*
 * export.c — rbc export RUN --format md|json|junit [-o FILE]: a run's record as a
 * document, from its journal alone: the format's name finds what renders it
 * (export_format_find, src/record/export.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rbc/cmd.h"
#include "rbc/error.h"
#include "rbc/export.h"
#include "rbc/history_export.h"
#include "rbc/rundir.h"
#include "rbc/text.h"
#include "rbc/util.h"

/* The usage of rbc export on fp, the formats as the table lists them. */
static void export_usage(FILE *fp)
{
	char *names = export_format_names("|");
	fprintf(fp, "usage: rbc export RUN --format %s\n", names);
	free(names);
	fprintf(fp,
	        "                  [-o FILE] [--db URL]\n"
	        "\n"
	        "Writes the record of a run (RUN: its id, as rbc runs lists it, or its\n"
	        "directory): md, the Markdown deployment log; json (docs/export.schema.json);\n"
	        "junit, JUnit XML (a suite per runbook, a testcase per step); for an incident\n"
	        "run, incident-md and incident-json (docs/incident.schema.json), its timeline,\n"
	        "and postmortem, a postmortem skeleton. To FILE — written atomically,\n"
	        "mode 0600, never a run's journal or out/ file (exit 73); a device or a\n"
	        "FIFO (/dev/null) is written in place, never replaced; /dev/stdout,\n"
	        "/dev/stderr, /dev/fd/N are written on that descriptor where it stands,\n"
	        "the file behind it kept — or to standard output. Built from the run's\n"
	        "journal alone; secrets are masked there, and masked_values counts them.\n"
	        "A journal damaged or altered (a line missing or repeated) is refused\n"
	        "with its line (exit 65); a RUN given by its id in a runs directory\n"
	        "others may change is refused (exit 77). Text from the run stays text:\n"
	        "in Markdown never HTML or Markdown of its own, control characters as\n"
	        "U+FFFD, output in a fence it cannot close.\n"
	        "With --db URL, the run's journal is rebuilt from PostgreSQL (what rbc\n"
	        "run --db stored) in a private temporary directory, checked as a local\n"
	        "journal is (a refused row named by its seq, exit 65), and exported the\n"
	        "same way: for a run whose directory is on another machine. Events\n"
	        "missing from the database are named and the export says it is\n"
	        "incomplete; step outputs kept only in the driver's run directory are\n"
	        "said absent where they would be; a database that cannot be reached\n"
	        "or read: exit 69 (docs/team.md).\n"
	        "");
}

int cmd_export(int argc, char **argv)
{
	const char *run = NULL, *format = NULL, *out = NULL, *url = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			export_usage(stdout);
			return 0;
		} else if ((strcmp(a, "--format") == 0 || strcmp(a, "-o") == 0) && i + 1 < argc) {
			*(a[1] == 'o' ? &out : &format) = argv[++i];
		} else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
			url = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			url = a + 5;
		} else if (strncmp(a, "--format=", 9) == 0) {
			format = a + 9;
		} else if (a[0] == '-' && a[1]) {
			text_fprintf(stderr, "rbc: export: unknown option %s\n", a);
			export_usage(stderr);
			return RBC_EXIT_USAGE;
		} else if (!run) {
			run = a;
		} else {
			text_fprintf(stderr, "rbc: export: one run at a time (%s and %s)\n", run, a);
			return RBC_EXIT_USAGE;
		}
	}
	if (!run || !format) {
		fprintf(stderr, "rbc: export: %s\n", !run ? "which run? (rbc runs lists them)" : "--format md, json or junit is needed");
		export_usage(stderr);
		return RBC_EXIT_USAGE;
	}
	const struct export_format *fmt = export_format_find(format);
	if (!fmt) {
		char *names = export_format_names(", ");
		text_fprintf(stderr, "rbc: export: --format %s: unknown format (%s)\n", format, names);
		free(names);
		return RBC_EXIT_USAGE;
	}
	struct rbc_error err = {0};
	struct rundir rd = {0};
	struct history_export hx = {0};
	const char *dir = NULL;
	if (url) /* the run as the database has it (docs/team.md) */
		dir = history_export_open(url, run, &hx, &err) ? hx.dir : NULL;
	else
		dir = rundir_open(run, &rd, &err) ? rd.path : NULL;
	bool refused = rd.refused;
	struct strbuf sb = {0};
	char *text = dir ? fmt->render(dir, &err) : NULL;
	if (text && url)
		text = history_export_mark(&hx, fmt->name, text);
	if (text)
		sb_adds(&sb, text);
	free(text);
	if (dir && url && hx.missing)
		text_fprintf(stderr, "rbc: export: %s: incomplete: %zu event%s missing from the database (seq %s)\n", run,
		             hx.nmissing, hx.nmissing == 1 ? " is" : "s are", hx.missing);
	bool unavailable = hx.unavailable;
	history_export_close(&hx);
	rundir_free(&rd);
	if (!sb.len) {
		text_fprintf(stderr, "rbc: export: %s\n", err.msg ? err.msg : "nothing to export");
		rbc_error_clear(&err);
		sb_free(&sb);
		return refused ? RBC_EXIT_NOPERM : unavailable ? 69 /* EX_UNAVAILABLE */ : RBC_EXIT_DATAERR;
	}
	int rc = 0;
	if (out) {
		if (!export_write_to(out, sb_borrow(&sb), &err)) {
			text_fprintf(stderr, "rbc: export: %s\n", err.msg);
			rbc_error_clear(&err);
			rc = 73; /* EX_CANTCREAT */
		}
	} else {
		fputs(sb_borrow(&sb), stdout);
		if (fflush(stdout) != 0)
			rc = 74; /* EX_IOERR */
	}
	sb_free(&sb);
	return rc;
}

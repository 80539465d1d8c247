/*
 * check.c — `rbc check FILE…`: validate runbooks without running anything.
 *
 * Prints every problem as FILE:LINE:COL: PATH: message (warnings too), then
 * one summary line per valid runbook. Exit 0 when all are valid, 65 when any
 * is not, 66 when a file cannot be read, 64 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rbc/cmd.h"
#include "rbc/runbook.h"
#include "rbc/text.h"

#define MAX_SHOWN 200

static void check_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc check [--strict] [--quiet] FILE…\n"
	        "\n"
	        "Validates each runbook completely and reports every problem as\n"
	        "FILE:LINE:COL: PATH: message. --strict treats warnings as errors;\n"
	        "--quiet prints problems only, no summary lines. A FILE ending in .md or\n"
	        ".markdown is a Markdown runbook (docs/markdown-runbooks.md).\n"
	        "exit: 0 valid, 65 invalid, 66 unreadable, 64 usage.\n");
}

/* "34 steps: 5 group, 10 manual, 3 command" */
static void summary(const struct runbook *rb, size_t nwarnings)
{
	size_t counts[RB_ACTION_COUNT], total = 0;
	runbook_count(rb, counts);
	for (size_t a = 0; a < RB_ACTION_COUNT; a++)
		total += counts[a];
	text_printf("%s: ok: %s (%s), %zu step%s:", rb->file, rb->id, rb_kind_name(rb->kind), total,
	       total == 1 ? "" : "s");
	const char *sep = " ";
	for (size_t a = 0; a < RB_ACTION_COUNT; a++) {
		if (!counts[a])
			continue;
		printf("%s%zu %s", sep, counts[a], rb_action_desc((enum rb_action)a));
		sep = ", ";
	}
	if (rb->nseverities)
		printf("; %zu severit%s", rb->nseverities, rb->nseverities == 1 ? "y" : "ies");
	if (rb->nincludes) {
		printf("; includes");
		for (size_t i = 0; i < rb->nincludes; i++)
			text_printf("%s %s", i ? "," : "", rb->includes[i]->file);
	}
	if (nwarnings)
		printf(" (%zu warning%s)", nwarnings, nwarnings == 1 ? "" : "s");
	printf("\n");
}

int cmd_check(int argc, char **argv)
{
	bool strict = false, quiet = false;
	int first = 1;
	for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
		const char *o = argv[first];
		if (strcmp(o, "--") == 0) {
			first++;
			break;
		} else if (strcmp(o, "--strict") == 0) {
			strict = true;
		} else if (strcmp(o, "--quiet") == 0 || strcmp(o, "-q") == 0) {
			quiet = true;
		} else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			check_usage(stdout);
			return 0;
		} else {
			text_fprintf(stderr, "rbc: check: unknown option %s\n", o);
			check_usage(stderr);
			return RBC_EXIT_USAGE;
		}
	}
	if (first >= argc) {
		fprintf(stderr, "rbc: check: no runbook given\n");
		check_usage(stderr);
		return RBC_EXIT_USAGE;
	}
	int status = 0;
	for (int i = first; i < argc; i++) {
		struct stat st;
		FILE *probe = NULL;
		const char *why = stat(argv[i], &st) != 0 ? strerror(errno)
		                  : S_ISDIR(st.st_mode)   ? "is a directory"
		                  : !(probe = fopen(argv[i], "rb")) ? strerror(errno)
		                                          : NULL;
		if (probe)
			fclose(probe);
		if (why) {
			text_fprintf(stderr, "%s: cannot read: %s\n", argv[i], why);
			if (status == 0)
				status = RBC_EXIT_NOINPUT;
			continue;
		}
		struct rbc_diags d = {0};
		struct runbook *rb = runbook_load(argv[i], &d);
		diags_sort(&d);
		struct rbc_diags shown = d;
		if (shown.n > MAX_SHOWN)
			shown.n = MAX_SHOWN;
		fflush(stdout);
		diags_print(&shown, stderr);
		if (d.nerrors + d.nwarnings > shown.n)
			text_fprintf(stderr, "%s: … and %zu more problems\n", argv[i],
			        d.nerrors + d.nwarnings - shown.n);
		bool bad = !rb || (strict && d.nwarnings);
		if (bad) {
			status = RBC_EXIT_DATAERR;
			if (strict && rb && !d.nerrors)
				text_fprintf(stderr, "%s: %zu warning%s (--strict)\n", argv[i], d.nwarnings,
				        d.nwarnings == 1 ? "" : "s");
			else
				text_fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", argv[i], d.nerrors,
				        d.nerrors == 1 ? "" : "s", d.nwarnings, d.nwarnings == 1 ? "" : "s");
		} else if (!quiet) {
			summary(rb, d.nwarnings);
		}
		runbook_free(rb);
		diags_free(&d);
	}
	return status;
}

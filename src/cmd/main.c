/*
 * main.c — rbc's entry point: global options and the command table.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/cmd.h"
#include "rbc/error.h"
#include "rbc/text.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args, *help;
} commands[] = {
	{"check", cmd_check, "[--strict] FILE…", "validate runbooks; exit 0 valid, 65 invalid"},
	{"run", cmd_run,
	 "[--batch] [--var NAME=VALUE]… [--vars FILE] [--answers FILE]\n"
	 "           [--assume done|skip] [--yes] [--operator NAME] [--theme NAME|FILE]\n"
	 "           [--severity LEVEL --title TEXT [--impact-start WHEN]]\n"
	 "           [--db URL [--wait-for-joiners]] FILE…",
	 "walk runbooks in the console (rbc FILE… too), or without it with --batch;\n"
	 "      exit 0 pass, 1 warn, 2 fail, 3 unknown/error"},
	{"runs", cmd_runs, "[--json]",
	 "list the runs kept: id, runbooks, start, operator, running / interrupted /\n"
	 "      finished, verdict"},
	{"resume", cmd_resume,
	 "[--batch] [--force] [--operator NAME] [--assume done|skip] [--yes]\n"
	 "           [--var NAME=VALUE]… [--vars FILE] [--answers FILE] [--theme NAME|FILE]\n"
	 "           [--unfinished rerun|done|skip]\n"
	 "           [--db URL [--take-over] [--wait-for-joiners]] RUN",
	 "go on with a run that did not finish, rebuilt from its journal; refuses\n"
	 "      a runbook changed since the start unless --force; the run's own\n"
	 "      options again are fine (a different value: rbc says which wins);\n"
	 "      with --db, a run of another machine is taken over from PostgreSQL\n"
	 "      (refused while its driver's lease lives, unless --take-over)"},
	{"follow", cmd_follow, "[--db URL] [--theme NAME|FILE] RUN",
	 "read-only console on a run in progress or finished: from its journal\n"
	 "      as it grows, or with --db from PostgreSQL on any machine"},
	{"join", cmd_join, "--db URL --operator NAME [--theme NAME|FILE] RUN",
	 "the console of a run driven elsewhere, from PostgreSQL, where you answer\n"
	 "      manual steps, asks, approvals and incident entries; the driver\n"
	 "      applies or refuses each and journals who acted"},
	{"history", cmd_history, "[--db URL] [--json] [RUN] | push [--db URL] RUN",
	 "the runs stored in PostgreSQL by --db (RBC_DATABASE_URL), or one run's\n"
	 "      events; push stores a run's journal there"},
	{"export", cmd_export, "RUN --format md|json|junit|incident-md|incident-json|postmortem\n"
	 "           [-o FILE] [--db URL]",
	 "a run's deployment log (Markdown), JSON or JUnit XML, from its journal; for an\n"
	 "      incident, its timeline (Markdown, JSON) or a postmortem skeleton; --db:\n"
	 "      the run as PostgreSQL holds it, its directory elsewhere (docs/team.md)"},
	{"convert", cmd_convert, "FILE.md [-o FILE.json] | FILE.json --to md [-o FILE.md]",
	 "a Markdown runbook as JSON, or a JSON runbook as Markdown that reads back\n"
	 "      to the same runbook"},
	{"eval", cmd_eval,
	 "EXPR [NAME=VALUE…] [--sample JSON]… [--json FILE] [--warn EXPR]\n"
	 "           [--var NAME=VALUE]… [--error TEXT]",
	 "evaluate a threshold expression; exit 0 PASS, 1 WARN, 2 FAIL, 3 UNKNOWN/ERROR"},
};

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc COMMAND [ARGS…]\n"
	        "       rbc --help | --version\n"
	        "\n"
	        "rbc, the runbook console: walks operations runbooks — checks, probes,\n"
	        "thresholds and manual steps — and keeps the record of the run.\n"
	        "\n"
	        "commands:\n");
	for (size_t i = 0; i < RBC_ARRAY_LEN(commands); i++)
		fprintf(fp, "  rbc %s %s\n      %s\n", commands[i].name, commands[i].args,
		        commands[i].help);
	fprintf(fp,
	        "\n"
	        "exit status: 0 pass, 1 warn, 2 fail, 3 unknown or error, 64 usage,\n"
	        "65 invalid runbook, 66 unreadable input, 74 record lost (the run's journal\n"
	        "could not be written: the run stopped), 77 a runs directory or run that is\n"
	        "not yours to trust.\n"
	        "`rbc COMMAND --help` describes one command; see also rbc(1) and docs/.\n");
}

extern char **environ;

/*
 * The database URL holds a password, and a step's command may read
 * /proc/<rbc's pid>/environ and cmdline (its parent's, the same user's):
 * rbc keeps a copy of RBC_DATABASE_URL and of --db's value and wipes the
 * bytes the kernel shows there.
 */
static char **hidden_copies;
static size_t nhidden, caphidden;

/* At exit: the copies hide_database_url made (argv points at them). */
static void free_hidden(void)
{
	for (size_t i = 0; i < nhidden; i++)
		free(hidden_copies[i]);
	free(hidden_copies);
}

static void hide_database_url(int argc, char **argv)
{
	static const char name[] = "RBC_DATABASE_URL=";
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, name, sizeof name - 1) == 0) {
			char *v = *e + sizeof name - 1, *copy = xstrdup(v);
			memset(v, 0, strlen(v));
			setenv("RBC_DATABASE_URL", copy, 1);
			free(copy);
			break;
		}
	for (int i = 1; i < argc; i++) {
		bool after = strcmp(argv[i - 1], "--db") == 0;
		char *v = after ? argv[i] : strncmp(argv[i], "--db=", 5) == 0 ? argv[i] + 5 : NULL;
		if (!v)
			continue;
		char *copy = xstrdup(argv[i]); /* lives as long as argv: freed at exit */
		memset(v, 0, strlen(v));
		argv[i] = copy;
		if (!nhidden)
			atexit(free_hidden);
		xgrow(&hidden_copies, &caphidden, nhidden + 1, sizeof *hidden_copies);
		hidden_copies[nhidden++] = copy;
	}
}

int main(int argc, char **argv)
{
#ifdef M_MXFAST
	/*
	 * rbc builds and frees trees of millions of small nodes (a large
	 * runbook). glibc's fastbins hold such frees back and then sweep them
	 * all when a large block is freed, which made freeing a 100,000-step
	 * runbook cost 48 times what 10,000 steps cost instead of 10.
	 */
	mallopt(M_MXFAST, 0);
#endif
	/* A closed pipe is an error to handle where it happens, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* Started with stdin, stdout or stderr closed, rbc would hand those
	   numbers to the first files and pipes it opens (and libuv refuses to
	   close them): they point at /dev/null instead. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return RBC_EXIT_SOFTWARE;
	if (argc < 2) {
		usage(stderr);
		return RBC_EXIT_USAGE;
	}
	hide_database_url(argc, argv);
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("rbc %s\n", RBC_VERSION);
		return 0;
	}
	for (size_t i = 0; i < RBC_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	/* rbc FILE… opens the console, as rbc run FILE… does. */
	if (cmd[0] == '-' || strstr(cmd, ".json") || strchr(cmd, '/'))
		return cmd_run(argc, argv);
	text_fprintf(stderr, "rbc: unknown command \"%s\" (try rbc --help)\n", cmd);
	return RBC_EXIT_USAGE;
}

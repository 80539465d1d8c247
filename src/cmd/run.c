/*
 * run.c — `rbc run` and `rbc resume`: their arguments, and the session
 * they open (session.h) for the console or the batch printer (batch.h).
 *
 * Loads and validates every runbook first (any error: exit 65, nothing
 * runs), then opens the run's session — a new run, or one rebuilt from its
 * journal — and hands it to its view. Exit code from the run's verdict: 0
 * pass, 1 warn, 2 fail, 3 unknown or error; 64 usage, 65 invalid runbook
 * or vars file, 66 unreadable file, 74 record lost, 130 when interrupted
 * by a signal.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "rbc/batch.h"
#include "rbc/cmd.h"
#include "rbc/console.h"
#include "rbc/engine.h"
#include "rbc/journal.h"
#include "rbc/json.h"
#include "rbc/resume.h"
#include "rbc/session.h"
#include "rbc/sha256.h"
#include "rbc/rundir.h"
#include "rbc/runbook.h"
#include "rbc/text.h"
#include "answers.h"
#include "resume_db.h"

static void run_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc [run] [OPTIONS] FILE…          the console\n"
	        "       rbc run --batch [OPTIONS] FILE…    without a screen\n"
	        "\n"
	        "Runs the runbooks in order as one run. The console walks it live (keys:\n"
	        "? in the console, docs/console.md); --batch prints one line per step\n"
	        "(verdict, id, title, explanation) and a summary.\n"
	        "\n"
	        "  --var NAME=VALUE     sets a variable (repeatable; overrides the runbook's vars)\n"
	        "  --vars FILE          variables from a file: a JSON object, or NAME=VALUE lines\n"
	        "  --answers FILE       the answers to ask steps: a JSON object of NAME: answer\n"
	        "                       (a string, number, boolean, or an array for a list)\n"
	        "  --assume done|skip   answers every manual step so (done: an ask takes its\n"
	        "                       default)\n"
	        "  --yes                confirms every step that asks for confirmation\n"
	        "  --operator NAME      who answers (default: the login name)\n"
	        "  --approver NAME      with --assume done: approves the steps that need\n"
	        "                       \"approval\" (someone other than the operator)\n"
	        "  --theme NAME|FILE    the console's colours (default, light, high-contrast,\n"
	        "                       monochrome, or a file); NO_COLOR selects monochrome\n"
	        "  --db URL             also store every journal event in PostgreSQL (default:\n"
	        "                       RBC_DATABASE_URL); the run never waits for it\n"
	        "  --wait-for-joiners   with --batch and --db: manual steps, asks and approvals\n"
	        "                       wait for an answer from rbc join (docs/team.md)\n"
	        "  --severity LEVEL     an incident runbook: declare at this level (its id or\n"
	        "                       name) instead of asking; needs --title. With --batch\n"
	        "                       too: declared before the first step, Slack and\n"
	        "                       PagerDuty told as in the console\n"
	        "  --title TEXT         …the incident's title\n"
	        "  --impact-start WHEN  …when the impact began: HH:MM (UTC, today), 15m (ago)\n"
	        "                       or an ISO time; never in the future (default: now)\n"
	        "\n"
	        "Manual steps without --assume, confirmations without --yes and asks\n"
	        "without an answer end as UNKNOWN \"needs operator\": nothing passes\n"
	        "silently. An answer that breaks its ask's rule stops the run before it\n"
	        "starts (exit 64). Secrets are read\n"
	        "from the environment (or --vars), never from --var.\n"
	        "A step with \"tty\": true needs a terminal: in batch without one it is\n"
	        "UNKNOWN \"needs a terminal\". RBC_HYPERLINKS=always|never|auto: links\n"
	        "in the console as terminal hyperlinks (auto: where the terminal shows them).\n"
	        "Step outputs are kept in the run directory ($RBC_RUNS_DIR, else\n"
	        "$XDG_STATE_HOME/rbc/runs, else ~/.local/state/rbc/runs).\n"
	        "A journal line that cannot be written (a full disk) stops the run: nothing\n"
	        "new starts, RECORD LOST is said, and the exit status is 74.\n"
	        "exit: 0 pass, 1 warn, 2 fail, 3 unknown/error, 64 usage, 65 invalid\n"
	        "runbook, 66 unreadable file, 74 record lost, 130 interrupted.\n");
}

/* Sets the variable named by the first klen bytes of k. */
static void kv_set(struct rb_kv *kv, const char *k, size_t klen, const char *v)
{
	char *name = xstrndup(k, klen);
	rb_kv_set(kv, name, v);
	free(name);
}

/* The 1-based line of byte off in buf: LF, CR LF and a lone CR end a line. */
static unsigned line_of(const char *buf, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		line += buf[i] == '\n' || (buf[i] == '\r' && buf[i + 1] != '\n');
	return line;
}

/*
 * --vars FILE: a JSON object of scalars, or NAME=VALUE lines (# comments),
 * in UTF-8, with or without a byte-order mark; lines end in LF, CR LF or
 * a lone CR (an old Mac editor's). Anything that would change a value
 * silently is refused with its line: a NUL byte (a value would end there),
 * bytes that are not UTF-8, a file in UTF-16 or UTF-32.
 */
static int read_vars_file(const char *path, struct rb_kv *kv)
{
	size_t len = 0;
	char *buf = read_file(path, 16u << 20, &len);
	if (!buf) {
		text_fprintf(stderr, "rbc: --vars %s: cannot read: %s\n", path, strerror(errno));
		return RBC_EXIT_NOINPUT;
	}
	/* UTF-32's marks first: FF FE 00 00 starts with UTF-16's FF FE. */
	static const struct {
		const char *mark;
		size_t n;
		const char *name;
	} boms[] = {
		{"\xFF\xFE\x00\x00", 4, "UTF-32"}, {"\x00\x00\xFE\xFF", 4, "UTF-32"},
		{"\xFF\xFE", 2, "UTF-16"}, {"\xFE\xFF", 2, "UTF-16"},
	};
	for (size_t k = 0; k < RBC_ARRAY_LEN(boms); k++) {
		if (len < boms[k].n || memcmp(buf, boms[k].mark, boms[k].n) != 0)
			continue;
		struct strbuf hex = {0};
		for (size_t i = 0; i < boms[k].n; i++)
			sb_addf(&hex, "%s%02X", i ? " " : "", (unsigned char)buf[i]);
		text_fprintf(stderr, "%s:1: the file is %s (it starts with a byte-order mark %s): save it as UTF-8\n",
		             path, boms[k].name, sb_borrow(&hex));
		sb_free(&hex);
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	const char *nul = memchr(buf, '\0', len);
	size_t bad = len;
	bool invalid = !utf8_valid(buf, len, &bad);
	if (nul && (size_t)(nul - buf) < bad) {
		text_fprintf(stderr, "%s:%u: a NUL byte: a value cannot hold one (it would end there)\n", path,
		        line_of(buf, (size_t)(nul - buf)));
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	if (invalid) {
		text_fprintf(stderr, "%s:%u: bytes that are not UTF-8: a --vars file is UTF-8 text\n", path,
		        line_of(buf, bad));
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	/* A byte-order mark (an editor on Windows writes one) is no part of the first line. */
	size_t bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	const char *p = buf + bom;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '{') {
		/* The runbooks' reader: positions, comments, and no \u0000 escape. */
		struct rbc_diags d = {0};
		struct json_doc *doc = json_doc_parse(path, buf, len, &d);
		const cJSON *j = doc ? json_doc_root(doc) : NULL;
		if (!cJSON_IsObject(j)) {
			diags_print(&d, stderr);
			if (doc)
				text_fprintf(stderr, "rbc: --vars %s: not a valid JSON object of NAME: value\n", path);
			diags_free(&d);
			json_doc_free(doc);
			free(buf);
			return RBC_EXIT_DATAERR;
		}
		diags_free(&d);
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			char num[64];
			const char *v = NULL;
			if (cJSON_IsString(it))
				v = it->valuestring;
			else if (cJSON_IsNumber(it)) {
				snprintf(num, sizeof num, "%.17g", it->valuedouble);
				v = num;
			} else if (cJSON_IsBool(it))
				v = cJSON_IsTrue(it) ? "true" : "false";
			if (!v || !rb_var_name_ok(it->string, strlen(it->string))) {
				text_fprintf(stderr, "rbc: --vars %s: \"%s\": %s\n", path, it->string,
				        v ? "not a variable name (letters, digits and '_')"
				          : "expected a string, number or boolean");
				json_doc_free(doc);
				free(buf);
				return RBC_EXIT_DATAERR;
			}
			kv_set(kv, it->string, strlen(it->string), v);
		}
		json_doc_free(doc);
		free(buf);
		return 0;
	}
	unsigned line = 0;
	for (char *s = buf + bom; s && *s;) {
		line++;
		char *nl = s + strcspn(s, "\r\n"), *next = NULL;
		if (*nl) {
			next = nl + (nl[0] == '\r' && nl[1] == '\n' ? 2 : 1);
			*nl = '\0';
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#') {
			if (strncmp(s, "export ", 7) == 0)
				s += 7;
			char *eq = strchr(s, '=');
			if (!eq || !rb_var_name_ok(s, (size_t)(eq - s))) {
				text_fprintf(stderr, "%s:%u: expected NAME=VALUE\n", path, line);
				free(buf);
				return RBC_EXIT_DATAERR;
			}
			char *v = eq + 1;
			size_t vl = strlen(v);
			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v[vl - 1] = '\0';
				v++;
			}
			kv_set(kv, s, (size_t)(eq - s), v);
		}
		s = next;
	}
	free(buf);
	return 0;
}

/* The name of a secret of rb (or a secret ask's variable) given with --var
   on the command line, or NULL. */
static const char *cli_secret(const struct runbook *rb, const struct rb_kv *vars, int argc,
                              char **argv)
{
	for (size_t k = 0; k < rb->nsecrets + vars->n; k++) {
		const char *name = k < rb->nsecrets ? rb->secrets[k] : vars->keys[k - rb->nsecrets];
		if (k >= rb->nsecrets && !runbook_ask_secret(rb, name))
			continue;
		if (!rb_kv_get(vars, name))
			continue;
		size_t kl = strlen(name);
		for (int a = 1; a < argc; a++) {
			const char *x = argv[a];
			if (strncmp(x, "--var=", 6) == 0)
				x += 6;
			else if (a == 1 || strcmp(argv[a - 1], "--var") != 0)
				continue;
			if (strncmp(x, name, kl) == 0 && x[kl] == '=')
				return name;
		}
	}
	return NULL;
}

/* Frees what cmd_run loaded and returns rc. */
static int run_done(int rc, struct runbook **rbs, size_t n, const char **files, struct rb_kv *vars,
                    struct rundir *rd)
{
	for (size_t i = 0; i < n; i++)
		runbook_free(rbs[i]);
	free(rbs);
	free(files);
	rb_kv_free(vars);
	rundir_free(rd);
	return rc;
}

/* Loads and validates every runbook, diagnostics on stderr; *status set on failure. */
/* Loads and validates every file; given (--var, --vars) resolves the
   durations written with ${NAME}. */
static struct runbook **load_runbooks(const char *const *files, size_t nfiles,
                                      const struct rb_kv *given, int *status)
{
	struct runbook **rbs = xcalloc(nfiles ? nfiles : 1, sizeof *rbs);
	for (size_t i = 0; i < nfiles; i++) {
		struct stat st;
		bool missing = stat(files[i], &st) != 0;
		if (missing || S_ISDIR(st.st_mode)) {
			text_fprintf(stderr, "%s: cannot read: %s\n", files[i],
			        missing ? strerror(errno) : "is a directory");
			if (!*status)
				*status = RBC_EXIT_NOINPUT;
			continue;
		}
		struct rbc_diags d = {0};
		rbs[i] = runbook_load(files[i], &d);
		if (rbs[i] && !runbook_resolve_durations(rbs[i], given, &d)) {
			runbook_free(rbs[i]);
			rbs[i] = NULL;
		}
		diags_sort(&d);
		diags_print(&d, stderr); /* warnings too: an operator should see them */
		if (!rbs[i]) {
			text_fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", files[i], d.nerrors,
			        d.nerrors == 1 ? "" : "s", d.nwarnings, d.nwarnings == 1 ? "" : "s");
			*status = *status ? *status : RBC_EXIT_DATAERR;
		}
		diags_free(&d);
	}
	return rbs;
}

struct run_opts {
	bool batch, yes, wait_join;
	const char *op, *theme;
	const char *severity, *title, *impact; /* incident: --severity, --title, --impact-start */
	const char *approver;     /* --approver: who approves with --assume done */
	const char *db;           /* --db, else RBC_DATABASE_URL (NULL: none) */
	enum eng_assume assume;
	bool from_db;             /* a resume of a run rebuilt from the database */
	enum unfinished_choice unfinished; /* rbc resume --unfinished */
};

/* What the session has for the operator before and after the view: stderr. */
static void note(void *ud, const char *text)
{
	(void)ud;
	text_fprintf(stderr, "rbc: %s\n", text);
}

/*
 * Opens the run's session (a new run, or a resume with resume set) and
 * runs it in the console or in batch mode; returns the exit code.
 */
static int execute(struct runbook **rbs, size_t nrbs, const struct rb_kv *vars, const struct rundir *rd,
                   int argc, char **argv, const struct run_opts *ro, bool resume, bool forced, const char *cmd,
                   bool *opened)
{
	struct session_opts so = {.cmd = cmd, .runbooks = rbs, .nrunbooks = nrbs, .vars = vars, .rd = rd,
	                          .argc = argc, .argv = argv, .operator = ro->op, .assume = ro->assume,
	                          .approver = ro->approver, .yes = ro->yes, .interactive = !ro->batch, .db = ro->db, .resume = resume,
	                          .joinable = ro->batch && ro->wait_join && ro->db && *ro->db,
	                          .forced = forced, .severity = ro->severity, .title = ro->title,
	                          .impact_start = ro->impact, .note = note, .from_db = ro->from_db,
	                          .unfinished = ro->unfinished};
	struct rbc_error err = {0};
	int rc = 0;
	struct session *s = session_open(&so, &rc, &err);
	if (opened)
		*opened = s != NULL;
	if (!s) {
		text_fprintf(stderr, "rbc: %s: %s\n", cmd, err.msg ? err.msg : "cannot start");
		rbc_error_clear(&err);
		return rc;
	}
	if (ro->batch) {
		rc = batch_run(s, cmd);
	} else {
		struct console_cfg cfg = {.theme = ro->theme, .run_id = rd->id, .run_path = rd->path};
		rc = console_run(s, &cfg);
	}
	session_drain(s);
	if (journal_error(session_journal(s))) {
		text_fprintf(stderr, "rbc: %s: RECORD LOST: %s; what ran after it is not in the record\n", cmd,
		             journal_error(session_journal(s)));
		rc = RBC_EXIT_IOERR;
	}
	char *taker = session_taken_over(s) ? xstrdup(session_taken_over(s)) : NULL;
	/* Taken over while its last events were on their way (the run ended
	   here first): the database's record goes on under another driver. */
	if (taker && rc != RBC_EXIT_IOERR)
		rc = RBC_EXIT_TAKEN_OVER;
	session_close(s);
	if (taker && !ro->batch)
		resume_db_follow(ro->db, rd->id, ro->theme, taker); /* returns only when it cannot */
	free(taker);
	return rc;
}

/* The required variables of rb and its includes that vars gives no value. */
static size_t missing_required(const struct runbook *rb, const struct rb_kv *vars)
{
	size_t n = 0;
	for (size_t i = 0; i < rb->nvardecls; i++)
		n += rb->vardecls[i].required && !rb_kv_get(vars, rb->vardecls[i].name);
	for (size_t i = 0; i < rb->nincludes; i++)
		n += missing_required(rb->includes[i], vars);
	return n;
}

/* True when the values of the runbooks break nothing but required
   variables without a value: what the console's form can give. */
static bool required_only(struct runbook *const *rbs, size_t n, const struct rb_kv *vars)
{
	struct rbc_diags d = {0};
	size_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		runbook_check_values(rbs[i], vars, &d);
		missing += missing_required(rbs[i], vars);
	}
	bool only = missing && d.nerrors == missing;
	diags_free(&d);
	return only;
}

int cmd_run(int argc, char **argv)
{
	bool batch = false, yes = false, wait_join = false;
	enum eng_assume assume = ENG_ASSUME_NONE;
	const char *op = NULL, *theme = NULL, *db = getenv("RBC_DATABASE_URL");
	const char *severity = NULL, *title = NULL, *impact = NULL, *answers_file = NULL, *approver = NULL;
	struct rb_kv vars = {0};
	const char **files = xcalloc((size_t)argc + 1, sizeof *files);
	size_t nfiles = 0;
	int status = 0;
	bool opts_done = false;
	for (int i = 1; i < argc && !status; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		if (opts_done || a[0] != '-' || !a[1]) {
			files[nfiles++] = a;
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			run_usage(stdout);
			free(files);
			rb_kv_free(&vars);
			return 0;
		} else if (strcmp(a, "--batch") == 0) {
			batch = true;
		} else if (strcmp(a, "--wait-for-joiners") == 0) {
			wait_join = true;
		} else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
			yes = true;
		} else if (strcmp(a, "--severity") == 0 || strcmp(a, "--title") == 0 || strcmp(a, "--impact-start") == 0 ||
		           strcmp(a, "--approver") == 0) {
			if (i + 1 >= argc) {
				text_fprintf(stderr, "rbc: run: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
				break;
			}
			const char **to = a[2] == 's' ? &severity : a[2] == 't' ? &title : a[2] == 'a' ? &approver : &impact;
			*to = argv[++i];
		} else if (strcmp(a, "--var") == 0 || strncmp(a, "--var=", 6) == 0 ||
		           strcmp(a, "--vars") == 0 || strncmp(a, "--vars=", 7) == 0 ||
		           strcmp(a, "--answers") == 0 || strncmp(a, "--answers=", 10) == 0 ||
		           strcmp(a, "--assume") == 0 || strncmp(a, "--assume=", 9) == 0 ||
		           strcmp(a, "--operator") == 0 || strncmp(a, "--operator=", 11) == 0 ||
		           strcmp(a, "--theme") == 0 || strncmp(a, "--theme=", 8) == 0 ||
		           strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
			const char *eq = strchr(a, '=');
			size_t nl = eq ? (size_t)(eq - a) : strlen(a);
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else {
				text_fprintf(stderr, "rbc: run: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
				break;
			}
			if (nl == 5 && strncmp(a, "--var", 5) == 0) {
				const char *e = strchr(v, '=');
				if (!e || !rb_var_name_ok(v, (size_t)(e - v))) {
					text_fprintf(stderr, "rbc: run: --var needs NAME=VALUE, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				} else {
					kv_set(&vars, v, (size_t)(e - v), e + 1);
				}
			} else if (nl == 6 && strncmp(a, "--vars", 6) == 0) {
				status = read_vars_file(v, &vars);
			} else if (nl == 9 && strncmp(a, "--answers", 9) == 0) {
				answers_file = v;
			} else if (nl == 8) {
				if (strcmp(v, "done") == 0)
					assume = ENG_ASSUME_DONE;
				else if (strcmp(v, "skip") == 0)
					assume = ENG_ASSUME_SKIP;
				else {
					text_fprintf(stderr, "rbc: run: --assume takes done or skip, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				}
			} else if (nl == 7) {
				theme = v;
			} else if (nl == 4) {
				db = v;
			} else {
				op = v;
			}
		} else {
			text_fprintf(stderr, "rbc: run: unknown option %s\n", a);
			run_usage(stderr);
			status = RBC_EXIT_USAGE;
		}
	}
	/* After --var and --vars, wherever it stood: those win. */
	if (!status && answers_file)
		status = answers_read(answers_file, &vars);
	if (!status && approver) {
		/* An approval is someone else's word: never the driver's own. */
		const char *driver = op && *op ? op : getenv("USER") && *getenv("USER") ? getenv("USER") : NULL;
		if (!*approver || (driver && strcasecmp(approver, driver) == 0)) {
			text_fprintf(stderr, "rbc: run: --approver must name someone other than the operator (%s)\n",
			             driver ? driver : "the login name");
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status && !nfiles) {
		fprintf(stderr, "rbc: run: no runbook given\n");
		run_usage(stderr);
		status = RBC_EXIT_USAGE;
	}
	if (!status && !batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "rbc: the console needs a terminal; without one use rbc run --batch\n");
		status = RBC_EXIT_USAGE;
	}
	if (status) {
		free(files);
		rb_kv_free(&vars);
		return status;
	}

	/* Everything is validated before anything runs. */
	struct runbook **rbs = load_runbooks(files, nfiles, &vars, &status);
	/* A secret on the command line would show in ps and shell history. */
	for (size_t i = 0; !status && i < nfiles; i++) {
		const char *bad = cli_secret(rbs[i], &vars, argc, argv);
		for (size_t k = 0; !bad && k < rbs[i]->nincludes; k++)
			bad = cli_secret(rbs[i]->includes[k], &vars, argc, argv);
		if (bad) {
			if (runbook_ask_secret(rbs[i], bad))
				text_fprintf(stderr, "rbc: run: %s is a secret answer: give it in a --vars or --answers file, not with --var\n",
				             bad);
			else
				text_fprintf(stderr, "rbc: run: %s is a secret: give it in the environment or a --vars file, not with --var\n",
				             bad);
			status = RBC_EXIT_USAGE;
		}
	}
	/* The console asks for required variables without a value on a form,
	   when they are all that is wrong (a bad value given is said first). */
	if (!status && !batch && required_only(rbs, nfiles, &vars))
		status = console_form(rbs, nfiles, &vars, theme);
	/* Typed variables: a value that breaks its rule, or a required one
	   missing, stops the run here, before a run directory exists. */
	for (size_t i = 0; !status && i < nfiles; i++) {
		struct rbc_diags d = {0};
		if (!runbook_check_values(rbs[i], &vars, &d)) {
			diags_sort(&d);
			diags_print(&d, stderr);
			text_fprintf(stderr, "rbc: run: %zu variable%s without a valid value; nothing was run\n", d.nerrors,
			             d.nerrors == 1 ? "" : "s");
			status = RBC_EXIT_USAGE;
		}
		diags_free(&d);
	}
	struct rundir rd = {0};
	struct rbc_error err = {0};
	if (!status && !rundir_create(rbs[0]->id, &rd, &err)) {
		text_fprintf(stderr, "rbc: run: %s\n", err.msg);
		/* A runs directory we may not trust is refused as rbc runs and
		   rbc resume refuse it; anything else is a failure to create. */
		struct rbc_error why = {0};
		char *base = rundir_base(&why);
		status = base && access(base, F_OK) == 0 && !rundir_base_trusted(base, &why) ? RBC_EXIT_NOPERM
		                                                                             : RBC_EXIT_SOFTWARE;
		free(base);
		rbc_error_clear(&why);
	}
	if (status) {
		rbc_error_clear(&err);
		return run_done(status, rbs, nfiles, files, &vars, &rd);
	}
	struct run_opts ro = {.batch = batch, .op = op, .theme = theme, .db = db, .assume = assume, .yes = yes,
	                      .wait_join = wait_join, .severity = severity, .title = title, .impact = impact, .approver = approver};
	int rc = execute(rbs, nfiles, &vars, &rd, argc, argv, &ro, false, false, "run", NULL);
	return run_done(rc, rbs, nfiles, files, &vars, &rd);
}

/* ---- rbc resume ---------------------------------------------------------- */

static void resume_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc resume [OPTIONS] RUN\n"
	        "\n"
	        "Rebuilds a run that did not finish (its process died, or it was stopped)\n"
	        "from its journal — verdicts, samples, captures, answers and notes — and\n"
	        "goes on where it was: in the console (a continues), or with --batch.\n"
	        "RUN is a run id (rbc runs lists them) or the run's directory. The\n"
	        "runbooks are read again from their files, and must be the bytes the run\n"
	        "started with (their sha256 is in the journal).\n"
	        "\n"
	        "  --batch              without a screen, as rbc run --batch\n"
	        "  --force              resume although a runbook changed since the start;\n"
	        "                       the run's record then follows the changed runbooks\n"
	        "  --operator NAME      who answers from now on (default: the run's operator)\n"
	        "  --assume done|skip   answers manual steps so from now on\n"
	        "  --yes                confirms every step that asks, from now on\n"
	        "  --var NAME=VALUE     a variable the run did not have (repeatable)\n"
	        "  --vars FILE          variables from a file: secrets (never written) and\n"
	        "                       variables the run did not have\n"
	        "  --answers FILE       answers to the asks not answered yet (a JSON object)\n"
	        "  --theme NAME|FILE    the console's colours\n"
	        "  --db URL             store the journal in PostgreSQL too (RBC_DATABASE_URL);\n"
	        "                       a run not on this machine is taken over from there\n"
	        "  --take-over          drive although another driver's lease is alive (it stops)\n"
	        "  --unfinished rerun|done|skip\n"
	        "                       what a step started and not ended becomes (batch;\n"
	        "                       the console asks)\n"
	        "  --wait-for-joiners   with --batch and --db: manual steps, asks and approvals\n"
	        "                       wait for an answer from rbc join (docs/team.md)\n"
	        "\n"
	        "With --db, RUN's directory not on this machine: the run is rebuilt from\n"
	        "PostgreSQL into the runs directory; missing seqs are refused unless\n"
	        "--force (they are lost). The lease decides who drives (docs/team.md).\n"
	        "\n"
	        "The run's own options may be given again, as rbc run took them: the\n"
	        "same value is fine, and a different one is said on stderr with the one\n"
	        "that wins. Without them, --assume and --yes act as when the run started;\n"
	        "given, they act from now on. A variable keeps the value the run had\n"
	        "(given at the start, or its runbook's own): a run keeps its variables.\n"
	        "--severity, --title and --impact-start are the incident's declaration,\n"
	        "which its record keeps.\n"
	        "exit: as rbc run; 64 when the run is finished or still running (or, in\n"
	        "batch mode, has unfinished steps and no --unfinished), 69 when the\n"
	        "database cannot be reached to take the run over, 75 when another\n"
	        "driver's lease is alive, 76 when this driver was taken over, 65 when\n"
	        "a runbook changed (without --force) or the journal is damaged, 66 when a\n"
	        "runbook file is gone, 77 when the run's directory or journal is not the\n"
	        "current user's (root too), the journal is a link or has other names (a\n"
	        "hard link), or the run was found by its id in a runs directory others\n"
	        "may change.\n");
}

/* The run's options that shape how it answers: --assume, --yes. */
static void original_options(const cJSON *argv, enum eng_assume *assume, bool *yes, const char **approver)
{
	const char *prev = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, argv)
	{
		const char *s = cJSON_GetStringValue(a);
		if (!s)
			continue;
		const char *v = strncmp(s, "--assume=", 9) == 0 ? s + 9
		              : prev && strcmp(prev, "--assume") == 0 ? s : NULL;
		if (v && strcmp(v, "done") == 0)
			*assume = ENG_ASSUME_DONE;
		else if (v && strcmp(v, "skip") == 0)
			*assume = ENG_ASSUME_SKIP;
		if (strcmp(s, "--yes") == 0 || strcmp(s, "-y") == 0)
			*yes = true;
		if (prev && strcmp(prev, "--approver") == 0)
			*approver = s; /* the approver the run was given keeps approving */
		if (strcmp(s, "--") == 0)
			break;
		prev = s;
	}
}

/* The options rbc resume takes with a value; the incident's three come last. */
static const char *const resume_valued[] = {"--operator", "--theme", "--db", "--vars", "--var",
                                            "--answers", "--assume", "--unfinished", "--severity",
                                            "--title", "--impact-start"};
#define RESUME_INCIDENT_FIRST 8

/* What the resume was given of the run's own options. */
struct resume_opts {
	enum eng_assume assume;   /* NONE: not given */
	bool yes;
	const char *incident[3];  /* --severity, --title, --impact-start (NULL: not given) */
};

static const char *assume_name(enum eng_assume a)
{
	return a == ENG_ASSUME_DONE ? "done" : a == ENG_ASSUME_SKIP ? "skip" : NULL;
}

/* Says on stderr what a resume makes of an option; values shown clean (text_fputs). */
static void resume_say(const char *fmt, ...) RBC_PRINTF(1, 2);
static void resume_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	fputs("rbc: resume: ", stderr);
	text_fputs(msg, stderr);
	fputc('\n', stderr);
	free(msg);
}

/* The value the recorded command line gave option name (--name V, --name=V), or NULL. */
static const char *recorded_option(const cJSON *argv, const char *name)
{
	const char *prev = NULL, *found = NULL;
	size_t n = strlen(name);
	const cJSON *a;
	cJSON_ArrayForEach(a, argv)
	{
		const char *s = cJSON_GetStringValue(a);
		if (!s || strcmp(s, "--") == 0)
			break;
		if (strncmp(s, name, n) == 0 && s[n] == '=')
			found = s + n + 1;
		else if (prev && strcmp(prev, name) == 0)
			found = s;
		prev = s;
	}
	return found;
}

/*
 * The run's own options given again: the same value is fine; a different
 * one is said on stderr with the one that wins. --assume and --yes given
 * now act from now on (the journal's run_resumed line keeps the command
 * line); --operator answers from now on; the incident's declaration
 * (--severity, --title, --impact-start) is the record's and stays.
 */
static void resume_given_options(const cJSON *h, const struct resume_opts *want, const char *op,
                                 const char *hop, struct run_opts *ro)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(h, "argv");
	if (want->assume != ENG_ASSUME_NONE && want->assume != ro->assume) {
		if (ro->assume != ENG_ASSUME_NONE)
			resume_say("--assume %s from now on (the run started with --assume %s)",
			           assume_name(want->assume), assume_name(ro->assume));
		else
			resume_say("--assume %s from now on (the run started without --assume)",
			           assume_name(want->assume));
		ro->assume = want->assume;
	}
	if (want->yes && !ro->yes) {
		resume_say("--yes from now on (the run started without it)");
		ro->yes = true;
	}
	if (op && hop && strcmp(op, hop) != 0)
		resume_say("%s answers from now on (the run was started by %s)", op, hop);
	bool incident = false;
	const cJSON *rb;
	cJSON_ArrayForEach(rb, cJSON_GetObjectItemCaseSensitive(h, "runbooks"))
	{
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "kind"));
		incident |= kind && strcmp(kind, "incident") == 0;
	}
	for (int k = 0; k < 3; k++) {
		const char *name = resume_valued[RESUME_INCIDENT_FIRST + k];
		const char *was = recorded_option(argv, name);
		if (!want->incident[k] || (was && strcmp(was, want->incident[k]) == 0))
			continue;
		if (!incident)
			resume_say("%s %s is not taken: the run has no incident runbook", name,
			           want->incident[k]);
		else if (was)
			resume_say("%s %s is not taken: the incident was declared with %s %s "
			           "when the run started, and its record keeps it", name, want->incident[k], name, was);
		else
			resume_say("%s %s is not taken: the incident was declared when the run "
			           "started, and its record keeps it", name, want->incident[k]);
	}
}

/*
 * Variables given to a resume (--var, --vars) join vars, the run's: a name
 * the run had a value for keeps it — given at the start (recorded), or a
 * runbook's own — and a different value given now is said and left out;
 * the run's values are what its steps so far used and its record says.
 * Secrets (never recorded) and names the run did not have are taken.
 */
static void resume_given_vars(const cJSON *h, const struct rb_kv *given, struct rb_kv *vars)
{
	const cJSON *hv = cJSON_GetObjectItemCaseSensitive(h, "vars");
	for (size_t i = 0; i < given->n; i++) {
		const char *name = given->keys[i], *val = given->vals[i];
		const char *was = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hv, name));
		const cJSON *rb;
		cJSON_ArrayForEach(rb, cJSON_GetObjectItemCaseSensitive(h, "runbooks"))
		{
			if (was)
				break;
			was = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(rb, "vars"), name));
		}
		bool secret = was && strstr(was, MASK_TEXT) && cJSON_GetObjectItemCaseSensitive(hv, name);
		if (!was || secret) {
			rb_kv_set(vars, name, val);
		} else if (strcmp(was, val) != 0) {
			resume_say("%s stays %s, the run's value; the %s given now is not taken "
			           "(a run keeps its variables: a new run changes them)",
			           name, strstr(was, MASK_TEXT) ? "as it was" : was, val);
		}
	}
}

/* The runbooks to load again — rbs, the tree the run goes on with —
   checked against their sha256; *status on trouble. */
static const char **resume_files(const cJSON *rbs, bool force, size_t *n, int *status)
{
	const char **files = xcalloc((size_t)cJSON_GetArraySize(rbs) + 1, sizeof *files);
	*n = 0;
	const cJSON *rb;
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "file"));
		const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "sha256"));
		if (!file)
			continue;
		char hex[65];
		if (!sha256_file(file, hex)) {
			text_fprintf(stderr, "%s: cannot read: %s (the run's runbook)\n", file, strerror(errno));
			*status = RBC_EXIT_NOINPUT;
		} else if (!want || strcmp(want, hex) != 0) {
			text_fprintf(stderr, "%s%s: changed since the run started (sha256 %.12s… then, %.12s… now)%s\n",
			        force ? "warning: " : "", file, want ? want : "?", hex,
			        force ? ": resuming anyway (--force)"
			              : ": the recorded results belong to the old steps; --force resumes anyway");
			if (!force && !*status)
				*status = RBC_EXIT_DATAERR;
		}
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb, "included")))
			files[(*n)++] = file;
	}
	return files;
}

int cmd_resume(int argc, char **argv)
{
	bool batch = false, force = false, take_over = false, rebuilt = false, wait_join = false;
	enum unfinished_choice unfinished = UNFINISHED_ASK;
	const char *op = NULL, *theme = NULL, *run = NULL, *db = getenv("RBC_DATABASE_URL");
	const char *answers_file = NULL;
	struct rb_kv vars = {0}, given = {0};
	struct resume_opts want = {.assume = ENG_ASSUME_NONE};
	int status = 0;
	for (int i = 1; i < argc && !status; i++) {
		const char *a = argv[i];
		/* --NAME VALUE or --NAME=VALUE, as rbc run takes them */
		const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		int k = -1;
		for (size_t o = 0; o < RBC_ARRAY_LEN(resume_valued); o++)
			if (strlen(resume_valued[o]) == nl && strncmp(a, resume_valued[o], nl) == 0)
				k = (int)o;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			resume_usage(stdout);
			rb_kv_free(&given);
			return 0;
		} else if (strcmp(a, "--batch") == 0) {
			batch = true;
		} else if (strcmp(a, "--force") == 0) {
			force = true;
		} else if (strcmp(a, "--take-over") == 0) {
			take_over = true;
		} else if (strcmp(a, "--wait-for-joiners") == 0) {
			wait_join = true;
		} else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
			want.yes = true;
		} else if (k >= 0) {
			const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				text_fprintf(stderr, "rbc: resume: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
			} else if (strcmp(resume_valued[k], "--operator") == 0) {
				op = v;
			} else if (strcmp(resume_valued[k], "--theme") == 0) {
				theme = v;
			} else if (strcmp(resume_valued[k], "--db") == 0) {
				db = v;
			} else if (strcmp(resume_valued[k], "--vars") == 0) {
				status = read_vars_file(v, &given);
			} else if (strcmp(resume_valued[k], "--answers") == 0) {
				answers_file = v;
			} else if (strcmp(resume_valued[k], "--var") == 0) {
				const char *e = strchr(v, '=');
				if (!e || !rb_var_name_ok(v, (size_t)(e - v))) {
					text_fprintf(stderr, "rbc: resume: --var needs NAME=VALUE, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				} else {
					kv_set(&given, v, (size_t)(e - v), e + 1);
				}
			} else if (strcmp(resume_valued[k], "--unfinished") == 0) {
				unfinished = unfinished_parse(v);
				if (unfinished == UNFINISHED_ASK) {
					text_fprintf(stderr, "rbc: resume: --unfinished takes rerun, done or skip, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				}
			} else if (strcmp(resume_valued[k], "--assume") == 0) {
				want.assume = strcmp(v, "done") == 0 ? ENG_ASSUME_DONE
				            : strcmp(v, "skip") == 0 ? ENG_ASSUME_SKIP : ENG_ASSUME_NONE;
				if (want.assume == ENG_ASSUME_NONE) {
					text_fprintf(stderr, "rbc: resume: --assume takes done or skip, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				}
			} else {
				want.incident[k - RESUME_INCIDENT_FIRST] = v;
			}
		} else if (a[0] == '-' && a[1]) {
			text_fprintf(stderr, "rbc: resume: unknown option %s\n", a);
			resume_usage(stderr);
			status = RBC_EXIT_USAGE;
		} else if (!run) {
			run = a;
		} else {
			fprintf(stderr, "rbc: resume: one run at a time\n");
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status && answers_file)
		status = answers_read(answers_file, &given);
	if (!status && !run) {
		fprintf(stderr, "rbc: resume: which run? (rbc runs lists them)\n");
		resume_usage(stderr);
		status = RBC_EXIT_USAGE;
	}
	if (!status && !batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "rbc: the console needs a terminal; without one use rbc resume --batch\n");
		status = RBC_EXIT_USAGE;
	}
	struct rundir rd = {0};
	struct rbc_error err = {0};
	if (!status && !rundir_open(run, &rd, &err)) {
		if (!rd.refused && db && *db && !strchr(run, '/')) {
			/* Not on this machine: taken from the database (docs/team.md). */
			rundir_free(&rd);
			status = resume_db_rebuild(db, run, force, &rd);
			rebuilt = !status;
		} else {
			text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
			status = rd.refused ? RBC_EXIT_NOPERM : RBC_EXIT_NOINPUT;
		}
		rbc_error_clear(&err);
	}
	/* Before anything it names is read: a run of someone else's would have
	   us run their runbooks, as us. */
	if (!status && !rundir_owned(rd.path, &err)) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		status = RBC_EXIT_NOPERM;
	}
	cJSON *h = status ? NULL : resume_header(rd.path, &err);
	if (!status && !h) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		status = RBC_EXIT_DATAERR;
	}
	if (status) {
		rbc_error_clear(&err);
		rb_kv_free(&given);
		return run_done(status, NULL, 0, NULL, &vars, &rd);
	}

	/* The run's variables: as recorded, but for secrets (never written),
	   which come from the environment or --vars again. */
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(h, "vars"))
	{
		const char *val = cJSON_GetStringValue(v);
		if (val && !strstr(val, MASK_TEXT))
			rb_kv_set(&vars, v->string, val);
	}
	resume_given_vars(h, &given, &vars);
	rb_kv_free(&given);
	struct run_opts ro = {.batch = batch, .theme = theme, .db = db};
	original_options(cJSON_GetObjectItemCaseSensitive(h, "argv"), &ro.assume, &ro.yes, &ro.approver);
	ro.wait_join = wait_join;
	const char *hop = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "operator"));
	resume_given_options(h, &want, op, hop, &ro);
	ro.op = op ? op : hop;
	if (ro.approver && ro.op && strcasecmp(ro.approver, ro.op) == 0)
		ro.approver = NULL; /* the one who drives now cannot approve */

	/* The tree the run used last (a resume with --force changes it): the
	   files as they are now are compared with it, not with the header's. */
	cJSON *tree = resume_runbooks(rd.path, &err);
	if (!tree) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		rbc_error_clear(&err);
		status = RBC_EXIT_DATAERR;
	}
	size_t nfiles = 0;
	const char **files = tree ? resume_files(tree, force, &nfiles, &status) : NULL;
	struct runbook **rbs = status ? NULL : load_runbooks(files, nfiles, &vars, &status);
	for (size_t i = 0; !status && i < nfiles; i++) {
		const char *bad = cli_secret(rbs[i], &vars, argc, argv);
		for (size_t k = 0; !bad && k < rbs[i]->nincludes; k++)
			bad = cli_secret(rbs[i]->includes[k], &vars, argc, argv);
		if (bad) {
			if (runbook_ask_secret(rbs[i], bad))
				text_fprintf(stderr, "rbc: resume: %s is a secret answer: give it in a --vars or --answers file, not with --var\n",
				             bad);
			else
				text_fprintf(stderr, "rbc: resume: %s is a secret: give it in the environment or a --vars file, not with --var\n",
				             bad);
			status = RBC_EXIT_USAGE;
		}
	}
	/* Answers given now keep their asks' rules, as rbc run checks them. */
	for (size_t i = 0; !status && i < nfiles; i++) {
		struct rbc_diags d = {0};
		if (!runbook_check_answers(rbs[i], &vars, &d)) {
			diags_sort(&d);
			diags_print(&d, stderr);
			text_fprintf(stderr, "rbc: resume: %zu variable%s without a valid value; nothing was run\n",
			             d.nerrors, d.nerrors == 1 ? "" : "s");
			status = RBC_EXIT_USAGE;
		}
		diags_free(&d);
	}
	if (!status && !nfiles) {
		fprintf(stderr, "rbc: resume: the run's header names no runbook\n");
		status = RBC_EXIT_DATAERR;
	}
	/* The lease decides who drives, the run taken from the database or not. */
	if (!status && db && *db)
		status = resume_db_claim(db, rd.id, ro.op, take_over, rebuilt, &rd);
	ro.from_db = rebuilt;
	ro.unfinished = unfinished;
	bool opened = true;
	if (!status)
		status = execute(rbs, nfiles, &vars, &rd, argc, argv, &ro, true, force, "resume", &opened);
	if (!opened)
		resume_db_release(db, rd.id, ro.op); /* claimed, and nothing drove */
	int rc = run_done(status, rbs, rbs ? nfiles : 0, files, &vars, &rd);
	cJSON_Delete(tree);
	cJSON_Delete(h);
	return rc;
}

/*
 * follow.c — `rbc follow RUN [--db URL]`: a read-only console on a run in
 * progress or finished (docs/console.md, "Following a run"). The runbooks
 * the run's header names are loaded, an engine that never starts anything
 * is made over them (a follow session), and the record is applied to it
 * line by line as it grows (follow.h); the console shows it as it shows a
 * run it drives, every key that acts refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbc/cmd.h"
#include "rbc/commands.h"
#include "rbc/console.h"
#include "rbc/follow.h"
#include "rbc/mask.h"
#include "rbc/resume.h"
#include "rbc/rundir.h"
#include "rbc/session.h"
#include "rbc/sha256.h"
#include "rbc/text.h"
#include "rbc/util.h"

/* rbc follow --help. */
static void follow_usage(FILE *fp)
{
	fputs("usage: rbc follow [--db URL] [--theme NAME|FILE] RUN\n"
	      "  RUN                  a run id or run directory (rbc runs lists them)\n"
	      "  --db URL             follow it from PostgreSQL (else RBC_DATABASE_URL\n"
	      "                       when the run directory is not here)\n"
	      "  --theme NAME|FILE    colours, as rbc run takes them\n",
	      fp);
}

/* What the follower needs while the console runs. */
struct follow_run {
	struct session *s;
	struct follower *f;
	char *mark;               /* the header's mark */
	char *who;                /* who drives, as the header says: OPERATOR@HOST */
	const char *state;        /* the source's state ("db lost, retrying"), or NULL */
	const char *joined_as;    /* rbc join: the joiner's name */
};

/* The follower's events go to the console as the engine's would. */
static void emit_cb(void *ud, const struct eng_event *ev)
{
	struct follow_run *r = ud;
	session_emit(r->s, ev);
}

/* The follower's messages go to the console's status row. */
static void say_cb(void *ud, const char *text)
{
	struct follow_run *r = ud;
	session_tell(r->s, text);
}

/* The header's mark: FOLLOWING and who drives. */
static const char *mark_cb(void *ud)
{
	struct follow_run *r = ud;
	free(r->mark);
	const char *who = follower_driver(r->f) ? follower_driver(r->f) : r->who;
	if (r->joined_as)
		r->mark = xasprintf("JOINED as %s · driven by %s%s%s%s", r->joined_as, who, r->state ? " · " : "",
		                    r->state ? r->state : "", follower_stopped(r->f) ? " · stopped" : "");
	else
		r->mark = xasprintf("FOLLOWING %s%s%s%s", who, r->state ? " · " : "", r->state ? r->state : "",
		                    follower_stopped(r->f) ? " · stopped" : "");
	return r->mark;
}

/* The runbooks the header names (the given ones, not their includes),
   loaded as they are now; a changed file is said. */
static struct runbook **header_runbooks(const cJSON *tree, const struct rb_kv *vars, size_t *n, int *status,
                                        char **warn)
{
	struct runbook **rbs = xcalloc((size_t)cJSON_GetArraySize(tree) + 1, sizeof *rbs);
	*n = 0;
	const cJSON *rb;
	cJSON_ArrayForEach(rb, tree)
	{
		const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "file"));
		const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "sha256"));
		char hex[65];
		if (file && !*warn && (!sha256_file(file, hex) || !want || strcmp(want, hex) != 0))
			*warn = xasprintf("%s changed since the run started: what the record names may not match its steps",
			                  file);
		if (!file || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb, "included")))
			continue;
		struct rbc_diags d = {0};
		struct runbook *r = runbook_load(file, &d);
		if (r && !runbook_resolve_durations(r, vars, &d)) {
			runbook_free(r);
			r = NULL;
		}
		diags_sort(&d);
		diags_print(&d, stderr);
		diags_free(&d);
		if (!r) {
			text_fprintf(stderr, "rbc: follow: %s: the run's runbook cannot be loaded\n", file);
			*status = RBC_EXIT_NOINPUT;
			continue;
		}
		rbs[(*n)++] = r;
	}
	return rbs;
}

/* The run's variables as recorded (secrets are never written: not taken). */
static void header_vars(const cJSON *h, struct rb_kv *vars)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(h, "vars"))
	{
		const char *val = cJSON_GetStringValue(v);
		if (val && !strstr(val, MASK_TEXT))
			rb_kv_set(vars, v->string, val);
	}
}

/* The console over a follow session of the run whose header is h; src
   starts feeding the follower once the console observes it. */
static int follow_console(const cJSON *h, const cJSON *tree, const char *run, const struct rundir *rd, const char *theme,
                   bool (*src_start)(void *ud, struct session *s, struct follower *f, const char **state),
                   void (*src_stop)(void *ud), void *src_ud, const struct console_acts *acts)
{
	int status = 0;
	struct rb_kv vars = {0};
	header_vars(h, &vars);
	size_t n = 0;
	char *warn = NULL;
	struct runbook **rbs = header_runbooks(tree, &vars, &n, &status, &warn);
	if (!status && !n) {
		fprintf(stderr, "rbc: follow: the run's header names no runbook\n");
		status = RBC_EXIT_DATAERR;
	}
	struct rbc_error err = {0};
	struct session *s = NULL;
	if (!status) {
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "operator"));
		struct session_opts so = {.cmd = "follow", .runbooks = rbs, .nrunbooks = n, .vars = &vars, .rd = rd,
		                          .operator = op, .follow = true};
		s = session_open(&so, &status, &err);
		if (!s) {
			text_fprintf(stderr, "rbc: follow: %s\n", err.msg ? err.msg : "cannot open the run");
			status = status ? status : RBC_EXIT_SOFTWARE;
		}
	}
	if (s) {
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "operator")),
		           *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "host"));
		if (warn)
			session_tell(s, warn); /* shown once the console is up */
		/* A driver taken over follows on (docs/team.md, "Handover"). */
		const char *taker = getenv("RBC_TAKEN_OVER_BY");
		if (taker && *taker) {
			char *m = xasprintf("taken over by %s: following now", taker);
			session_tell(s, m);
			free(m);
			unsetenv("RBC_TAKEN_OVER_BY");
		}
		struct follow_run r = {.s = s, .who = xasprintf("%s@%s", op ? op : "?", host ? host : "?"),
		                       .joined_as = acts ? acts->by : NULL};
		r.f = follower_new(rd ? rd->path : run, session_engine(s), &(struct follow_cbs){.emit = emit_cb, .say = say_cb, .ud = &r});
		if (!src_start(src_ud, s, r.f, &r.state)) {
			status = RBC_EXIT_NOINPUT;
		} else {
			struct console_cfg cfg = {.theme = theme, .run_id = run, .run_path = rd ? rd->path : NULL,
			                          .following = mark_cb, .following_ud = &r, .acts = acts};
			console_run(s, &cfg);
			status = 0;
		}
		src_stop(src_ud);
		uv_run(session_loop(s), UV_RUN_NOWAIT);
		session_close(s);
		follower_free(r.f);
		free(r.mark);
		free(r.who);
	}
	for (size_t i = 0; i < n; i++)
		runbook_free(rbs[i]);
	free(rbs);
	rb_kv_free(&vars);
	free(warn);
	rbc_error_clear(&err);
	return status;
}

/* The local source: the run directory's journal. */
struct local_src {
	const char *dir;
	struct follow_tail *t;
};

/* The local source starts: the journal followed as it grows. */
static bool local_start(void *ud, struct session *s, struct follower *f, const char **state)
{
	(void)state;
	struct local_src *l = ud;
	struct rbc_error err = {0};
	l->t = follow_tail_start(session_loop(s), l->dir, f, &err);
	if (!l->t)
		text_fprintf(stderr, "rbc: follow: %s\n", err.msg);
	rbc_error_clear(&err);
	return l->t != NULL;
}

/* The local source stops. */
static void local_stop(void *ud)
{
	struct local_src *l = ud;
	follow_tail_stop(l->t);
	l->t = NULL;
}

/* The database source: the header fed first, then the rows by seq. */
struct db_src {
	const char *url, *run;
	const char *header;       /* the header line's text */
	struct follow_db *d;
	const char *joiner;       /* rbc join: the joiner's name, and its sender */
	struct cmd_sender *snd;
	struct session *s;
};

/* The sender's trouble (a command the database refused), on the status row. */
static void join_say(void *ud, const char *text)
{
	struct db_src *b = ud;
	session_tell(b->s, text);
}

/* rbc join: an answer or a note on s, as a command to the driver. */
static void join_answer(void *ud, const struct eng_step *st, const char *kind, const char *value, const char *note)
{
	struct db_src *b = ud;
	if (b->snd)
		cmd_send(b->snd, kind, st && st->def ? st->def->id : NULL, value, note, NULL);
}

/* rbc join: an incident action, as the overlay made it, to the driver
   (which makes it again under its own rules). */
static void join_incident(void *ud, const cJSON *ev)
{
	struct db_src *b = ud;
	char *t = cJSON_PrintUnformatted(ev);
	if (b->snd)
		cmd_send(b->snd, "incident", NULL, NULL, NULL, t);
	free(t);
}

/* rbc join: the actions not stored yet, and what keeps them. */
static size_t join_unsent(void *ud, const char **why)
{
	struct db_src *b = ud;
	*why = cmd_sender_state(b->snd) ? "the database is unreachable" : NULL;
	return cmd_sender_pending(b->snd);
}

/* rbc join, the console closed: the actions never stored, said one by
   one on stderr (docs/team.md, "Joining a run"). */
static void join_dropped(const struct cmd_sender *snd)
{
	size_t n = cmd_sender_pending(snd);
	if (!n)
		return;
	fprintf(stderr, "rbc: join: %zu action%s not sent to the driver, dropped:", n, n == 1 ? "" : "s");
	const char *kind, *step;
	bool under_way;
	for (size_t i = 0; (kind = cmd_sender_queued(snd, i, &step, &under_way)); i++)
		text_fprintf(stderr, "%s %s%s%s%s", i ? "," : "", kind, step ? " on " : "", step ? step : "",
		             under_way ? " (under way: it may have been stored)" : "");
	fputc('\n', stderr);
}

/* The database source starts: the checked header first, then its rows. */
static bool db_start(void *ud, struct session *s, struct follower *f, const char **state)
{
	struct db_src *b = ud;
	uv_loop_t *loop = session_loop(s);
	char *line = xasprintf("%s\n", b->header);
	bool ok = follower_line(f, line, strlen(line));
	free(line);
	if (!ok) {
		fprintf(stderr, "rbc: follow: the run's header in the database is not as rbc writes it\n");
		return false;
	}
	b->d = follow_db_start(loop, b->url, b->run, f, state);
	if (b->joiner) {
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		b->s = s;
		b->snd = cmd_sender_start(loop, b->url, b->run, b->joiner, host, join_say, b);
	}
	return true;
}

/* The database source stops. */
static void db_stop(void *ud)
{
	struct db_src *b = ud;
	follow_db_stop(b->d);
	b->d = NULL;
	join_dropped(b->snd);
	cmd_sender_stop(b->snd);
	b->snd = NULL;
}

/*
 * --db: the run's header from rbc_runs, before the console opens (its
 * runbooks make the engine), then the console fed from rbc_events. The
 * header is text from the database: the journal's checker judges it.
 */
static int follow_db(const char *url, const char *run, const char *theme, const char *joiner)
{
	struct rbc_error err = {0};
	char *text = follow_db_header(url, run, &err);
	if (!text) {
		text_fprintf(stderr, "rbc: follow: %s\n", err.msg);
		rbc_error_clear(&err);
		return RBC_EXIT_NOINPUT;
	}
	char *why = follow_check_header(run, text);
	if (why) {
		text_fprintf(stderr, "rbc: follow: the run's header in the database: %s\n", why);
		free(why);
		free(text);
		return RBC_EXIT_DATAERR;
	}
	cJSON *h = cJSON_Parse(text);
	const cJSON *tree = cJSON_GetObjectItemCaseSensitive(h, "runbooks");
	int status;
	if (!h || !cJSON_IsArray(tree)) {
		fprintf(stderr, "rbc: follow: the run's header in the database names no runbooks\n");
		status = RBC_EXIT_DATAERR;
	} else {
		struct db_src b = {.url = url, .run = run, .header = text, .joiner = joiner};
		struct console_acts acts = {.by = joiner, .answer = join_answer, .incident = join_incident,
		                            .unsent = join_unsent, .ud = &b};
		status = follow_console(h, tree, run, NULL, theme, db_start, db_stop, &b, joiner ? &acts : NULL);
	}
	cJSON_Delete(h);
	free(text);
	return status;
}

/*
 * The arguments of rbc follow and rbc join: --db, --theme and (join's,
 * when vals[2] is given) --operator, each as "--NAME VALUE" or
 * "--NAME=VALUE", into *vals[0..2]; the one run into *run. -1 to go on,
 * else the status to exit with (0 after --help).
 */
static int follow_args(int argc, char **argv, const char *cmd, const char **vals[3], const char **run,
                       void (*usage)(FILE *))
{
	static const char *const names[] = {"--db", "--theme", "--operator"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		bool taken = false;
		for (size_t k = 0; k < RBC_ARRAY_LEN(names) && !taken && vals[k]; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(a, names[k], n) != 0)
				continue;
			if (a[n] == '=') {
				*vals[k] = a + n + 1;
				taken = true;
			} else if (!a[n] && i + 1 < argc) {
				*vals[k] = argv[++i];
				taken = true;
			}
		}
		if (taken)
			continue;
		if (a[0] == '-') {
			text_fprintf(stderr, "rbc: %s: unknown option or missing value: %s\n", cmd, a);
			usage(stderr);
			return RBC_EXIT_USAGE;
		}
		if (*run) {
			fprintf(stderr, "rbc: %s: one run at a time\n", cmd);
			return RBC_EXIT_USAGE;
		}
		*run = a;
	}
	return -1;
}

/* rbc follow [--db URL] [--theme NAME|FILE] RUN */
int cmd_follow(int argc, char **argv)
{
	const char *run = NULL, *db = NULL, *theme = NULL;
	const char **vals[] = {&db, &theme, NULL};
	int rc = follow_args(argc, argv, "follow", vals, &run, follow_usage);
	if (rc >= 0)
		return rc;
	if (!run) {
		fprintf(stderr, "rbc: follow: which run? (rbc runs lists them)\n");
		follow_usage(stderr);
		return RBC_EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "rbc: follow: the console needs a terminal\n");
		return RBC_EXIT_USAGE;
	}
	/* A driver taken over follows from the database, its URL in the
	   environment (resume_db.c), never its own journal, which stopped. */
	const char *taker = getenv("RBC_TAKEN_OVER_BY");
	if (taker && *taker && !db)
		db = getenv("RBC_DATABASE_URL");
	if (db && *db)
		return follow_db(db, run, theme, NULL);
	struct rundir rd = {0};
	struct rbc_error err = {0};
	if (!rundir_open(run, &rd, &err)) {
		const char *env = getenv("RBC_DATABASE_URL");
		if (env && *env) {
			rbc_error_clear(&err);
			rundir_free(&rd);
			return follow_db(env, run, theme, NULL);
		}
		text_fprintf(stderr, "rbc: follow: %s\n", err.msg);
		rbc_error_clear(&err);
		rundir_free(&rd);
		return RBC_EXIT_NOINPUT;
	}
	cJSON *h = resume_header(rd.path, &err);
	cJSON *tree = h ? resume_runbooks(rd.path, &err) : NULL;
	int status;
	if (!h || !tree) {
		text_fprintf(stderr, "rbc: follow: %s\n", err.msg);
		status = RBC_EXIT_DATAERR;
	} else {
		struct local_src l = {.dir = rd.path};
		status = follow_console(h, tree, rd.id, &rd, theme, local_start, local_stop, &l, NULL);
	}
	cJSON_Delete(h);
	cJSON_Delete(tree);
	rbc_error_clear(&err);
	rundir_free(&rd);
	return status;
}

/* rbc join --help. */
static void join_usage(FILE *fp)
{
	fputs("usage: rbc join --db URL --operator NAME [--theme NAME|FILE] RUN\n"
	      "  RUN                  a run driven elsewhere with --db (rbc history lists them)\n"
	      "  --db URL             the database the driver stores the run in (else\n"
	      "                       RBC_DATABASE_URL)\n"
	      "  --operator NAME      who you are: the record names you with each answer\n"
	      "  --theme NAME|FILE    colours, as rbc run takes them\n"
	      "The run's console as rbc follow shows it, where Space, f, s, Enter on an\n"
	      "ask, n and incident mode's keys send the answer to the driver, which\n"
	      "applies or refuses it (docs/team.md, \"Joining a run\"). Only the driver\n"
	      "runs, stops or confirms steps and answers secrets.\n",
	      fp);
}

/* rbc join --db URL --operator NAME [--theme NAME|FILE] RUN */
int cmd_join(int argc, char **argv)
{
	const char *run = NULL, *db = getenv("RBC_DATABASE_URL"), *theme = NULL, *op = NULL;
	const char **vals[] = {&db, &theme, &op};
	int rc = follow_args(argc, argv, "join", vals, &run, join_usage);
	if (rc >= 0)
		return rc;
	if (!run || !db || !*db || !op || !*op) {
		fprintf(stderr, "rbc: join: %s\n", !run ? "which run? (rbc history --db URL lists them)"
		                                  : !op || !*op ? "--operator NAME is required: the record names who acted"
		                                                : "--db URL is required: joiners reach the driver through PostgreSQL");
		join_usage(stderr);
		return RBC_EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "rbc: join: the console needs a terminal\n");
		return RBC_EXIT_USAGE;
	}
	return follow_db(db, run, theme, op);
}

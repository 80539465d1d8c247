/*
 * session.c — a run opened and closed as one (session.h): the loop, the
 * engine, the journal and its header or its resume, the PostgreSQL
 * history, the incident desk; one teardown path for all of them.
 *
 * Events go engine → journal → (once on disk) the desk → the view, so
 * the desk's incident and notifications see exactly what the record holds
 * and the view shows nothing a crash could lose.
 */
#include "rbc/session.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rbc/budgetlog.h"
#include "rbc/handover.h"
#include "rbc/history.h"
#include "joined.h"
#include "rbc/lease.h"
#include "rbc/json.h"
#include "rbc/mask.h"
#include "rbc/probe.h"
#include "rbc/sha256.h"
#include "rbc/text.h"
#include "rbc/util.h"

#define SESSION_GRACE_MS 5000    /* what notifications and the history get at the end */

struct session {
	uv_loop_t loop;
	struct session_opts o;
	struct engine *e;
	struct journal *j;
	struct history *hist;     /* --db: the journal's lines also go there */
	struct lease *lease;      /* --db: the driver's lease on the run (lease.h) */
	struct cmd_listen *cmds;  /* --db: joiners' commands (commands.h, joined.h) */
	struct joined joined;
	struct incident_desk *desk;
	struct session_view view;
	char **said;              /* said before a view came, in order */
	size_t nsaid;
	int64_t fixed_now;        /* RBC_TEST_NOW, ms; 0: the real clock */
	int64_t t_start;
	bool drained, history_done, lease_done;
	/* What opening it needs (the header's and the resume's names). */
	struct runbook *const *rbs;
	size_t nrbs;
	const struct rb_kv *vars;
	const struct rundir *rd;
	int argc;
	char **argv;
	struct rbc_error err;
	int rc;                   /* when opening failed: the exit code (else 70) */
	bool resume, forced;
	struct resume_state rs;
	char *resumed_at;         /* the step the run goes on at, for the operator */
	char *warning;            /* what the record could not give back, in one line */
	char *taken_by;           /* the lease is another's: who took it (docs/team.md) */
};

/* Who writes the line: the host, the operator and rbc's pid (the header's
   and a resume's). */
static void add_who(cJSON *o, const struct engine *e)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddStringToObject(o, "operator", engine_operator(e));
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
}

/* Something for the operator before or after the view: the command says it. */
static void session_note(struct session *s, const char *fmt, ...) RBC_PRINTF(2, 3);
static void session_note(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (s->o.note)
		s->o.note(s->o.note_ud, msg);
	free(msg);
}

/* Something for the operator while the view runs; kept until there is one. */
static void session_say(void *ud, const char *text)
{
	struct session *s = ud;
	if (s->view.say) {
		s->view.say(s->view.ud, text);
		return;
	}
	s->said = xrealloc(s->said, (s->nsaid + 1) * sizeof *s->said);
	s->said[s->nsaid++] = xstrdup(text);
}

/* The real wall clock, ms since the epoch. */
static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The engine's clock and the desk's: RBC_TEST_NOW when set. */
static int64_t session_clock(void *ud)
{
	const struct session *s = ud;
	return s->fixed_now ? s->fixed_now : real_ms();
}

/* RBC_TEST_NOW: seconds since the epoch, or YYYY-MM-DDTHH:MM:SSZ. */
static int64_t parse_test_now(const char *v)
{
	if (!v || !*v)
		return 0;
	char *end;
	long long secs = strtoll(v, &end, 10);
	if (*end == '\0' && secs > 0)
		return secs * 1000;
	return iso_ms_parse(v);
}

/* The journal's observer: the desk first, then the view. */
static void session_on_event(void *ud, const struct eng_event *ev)
{
	struct session *s = ud;
	desk_on_event(s->desk, ev);
	if (ev->type == ENG_EV_RUN_FINISHED)
		cmd_listen_keep(s->cmds, false); /* a batch run waits for joiners no more */
	if (s->view.on_event)
		s->view.on_event(s->view.ud, ev);
}

/* A joiner's command read from the database: judged, applied, journaled. */
static void take_command(void *ud, const struct command *c, bool *applied, char **why, bool *forget)
{
	struct session *s = ud;
	joined_take(&s->joined, c, applied, why, forget);
}

/* Each journal line, once on disk, to the database. */
static void to_history(void *ud, const char *line, size_t len)
{
	history_add(ud, line, len);
}

/* The history has stored what it could in its time. */
static void history_drained(void *ud)
{
	struct session *s = ud;
	s->history_done = true;
}

/* ---- the journal's header ------------------------------------------------ */

/* The step tree, flat, in order: what the run could go through. */
static void header_steps(cJSON *arr, const struct runbook *rb, struct rb_step *const *steps, size_t n,
                         bool on_demand)
{
	for (size_t i = 0; i < n; i++) {
		const struct rb_step *st = steps[i];
		cJSON *o = cJSON_CreateObject();
		char *id = xasprintf("%s/%s", rb->id, st->id);
		cJSON_AddStringToObject(o, "id", id);
		free(id);
		cJSON_AddStringToObject(o, "number", st->number);
		cJSON_AddStringToObject(o, "title", st->title ? st->title : "");
		if (st->action == RB_GROUP)
			cJSON_AddBoolToObject(o, "group", true);
		if (on_demand || st->on_demand)
			cJSON_AddBoolToObject(o, "on_demand", true);
		budgetlog_header_fields(o, st, NULL); /* owner, approval, deadline: the exports' */
		cJSON_AddItemToArray(arr, o);
		if (st->action == RB_GROUP && !st->foreach) /* a loop's: its expansion lists them */
			header_steps(arr, rb, st->children, st->nchildren, on_demand || st->on_demand);
	}
}

/* One runbook of the header (and those it includes, once each). */
static void header_runbook(cJSON *arr, const struct runbook *rb, bool included)
{
	for (cJSON *c = arr->child; c; c = c->next)
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "id")), rb->id) == 0)
			return; /* included twice */
	cJSON *o = cJSON_CreateObject();
	char real[PATH_MAX];
	cJSON_AddStringToObject(o, "file", realpath(rb->file, real) ? real : rb->file);
	cJSON_AddStringToObject(o, "id", rb->id);
	cJSON_AddStringToObject(o, "kind", rb_kind_name(rb->kind));
	if (rb->title)
		cJSON_AddStringToObject(o, "title", rb->title);
	char hex[65];
	if (sha256_file(rb->file, hex))
		cJSON_AddStringToObject(o, "sha256", hex);
	else
		cJSON_AddNullToObject(o, "sha256");
	cJSON_AddBoolToObject(o, "included", included);
	if (rb->kind == RB_KIND_INCIDENT) {
		/* The ids its incident lines may name: readers check them. */
		cJSON *levels = cJSON_AddArrayToObject(o, "levels"), *roles = cJSON_AddArrayToObject(o, "roles");
		for (size_t i = 0; i < rb->nseverities; i++)
			cJSON_AddItemToArray(levels, cJSON_CreateString(rb->severities[i].id));
		for (size_t i = 0; i < rb->nroles; i++)
			cJSON_AddItemToArray(roles, cJSON_CreateString(rb->roles[i].id));
	}
	budgetlog_header_fields(o, NULL, rb);
	header_steps(cJSON_AddArrayToObject(o, "steps"), rb, rb->steps, rb->nsteps, included);
	cJSON_AddItemToArray(arr, o);
	for (size_t i = 0; i < rb->nincludes; i++)
		if (rb->includes[i]->run_target) /* one only called runs under its calls */
			header_runbook(arr, rb->includes[i], true);
}

/*
 * The command line as it may be written down: a --db URL without its
 * password, and every option's value (a --var, a --title, an --operator)
 * with the run's secrets masked; option names and runbook files as given.
 */
static void add_argv(cJSON *o, int argc, char **argv, const struct mask *m)
{
	static const char *const valued[] = {"--var", "--vars", "--operator", "--approver", "--theme", "--db",
	                                      "--assume", "--severity", "--title", "--impact-start"};
	cJSON *args = cJSON_AddArrayToObject(o, "argv");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq = a[0] == '-' ? strchr(a, '=') : NULL;
		bool value = false;
		for (size_t k = 0; i > 0 && k < RBC_ARRAY_LEN(valued) && !value; k++)
			value = strcmp(argv[i - 1], valued[k]) == 0;
		bool url = (value && strcmp(argv[i - 1], "--db") == 0) || strncmp(a, "--db=", 5) == 0;
		char *w;
		if (url) {
			char *r = history_url_redacted(value ? a : a + 5);
			w = value ? xstrdup(r) : xasprintf("--db=%s", r);
			free(r);
		} else if (value || eq) {
			char *v = mask_text(m, value ? a : eq + 1);
			w = value ? xstrdup(v) : xasprintf("%.*s%s", (int)(eq + 1 - a), a, v);
			free(v);
		} else {
			w = xstrdup(a);
		}
		char *valid = utf8_copy_valid(w, strlen(w));
		cJSON_AddItemToArray(args, cJSON_CreateString(valid));
		free(valid);
		free(w);
	}
}

/* A description and links as the run starts (the variables known then
   expanded, secrets masked) into o: what the exports keep of the prose. */
static void header_prose(cJSON *o, struct engine *e, const struct eng_step *node, const char *desc,
                         const struct rb_link *links, size_t nlinks)
{
	if (desc) {
		char *d = engine_text_shown(e, node, desc);
		char *valid = utf8_copy_valid(d, strlen(d));
		cJSON_AddStringToObject(o, "description", valid);
		free(valid);
		free(d);
	}
	cJSON *arr = nlinks ? cJSON_AddArrayToObject(o, "links") : NULL;
	for (size_t i = 0; i < nlinks; i++) {
		cJSON *l = cJSON_CreateObject();
		const char *k[2] = {"title", "url"};
		const char *v[2] = {links[i].title, links[i].url};
		for (int j = 0; j < 2; j++) {
			char *t = engine_text_shown(e, node, v[j]);
			char *valid = utf8_copy_valid(t, strlen(t));
			cJSON_AddStringToObject(l, k[j], valid);
			free(valid);
			free(t);
		}
		cJSON_AddItemToArray(arr, l);
	}
}

/* The node of step id (its own id, "2.1" or "check") below n, or NULL. */
static const struct eng_step *header_node(const struct eng_step *n, const char *id)
{
	if (n->def && strcmp(n->def->id, id) == 0)
		return n;
	for (size_t i = 0; i < n->nchildren; i++) {
		const struct eng_step *f = header_node(n->children[i], id);
		if (f)
			return f;
	}
	return NULL;
}

/* Every runbook's and step's prose of the header (header_prose). */
static void header_prose_all(cJSON *rbs, struct engine *e)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	cJSON *o, *st;
	cJSON_ArrayForEach(o, rbs)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
		const struct eng_step *node = NULL;
		for (size_t i = 0; id && i < n && !node; i++)
			if (tops[i]->rb && !tops[i]->def && strcmp(tops[i]->rb->id, id) == 0)
				node = tops[i];
		if (!node)
			continue;
		header_prose(o, e, node, node->rb->description, node->rb->links, node->rb->nlinks);
		cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(o, "steps"))
		{
			const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "id"));
			const char *slash = sid ? strchr(sid, '/') : NULL;
			const struct eng_step *sn = slash ? header_node(node, slash + 1) : NULL;
			if (sn)
				header_prose(st, e, sn, sn->def->description, sn->def->links, sn->def->nlinks);
		}
	}
}

/*
 * Each runbook's variables as the run starts with them (given, else its own
 * default, expanded; masked) and its "log": the exports fill the deployment
 * log's Version and Environment from these and the captures that follow.
 */
static void header_values(cJSON *rbs, struct engine *e)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	cJSON *o;
	cJSON_ArrayForEach(o, rbs)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
		struct eng_step *node = NULL;
		for (size_t i = 0; id && i < n && !node; i++)
			if (tops[i]->rb && strcmp(tops[i]->rb->id, id) == 0)
				node = tops[i];
		if (!node)
			continue;
		const struct runbook *rb = node->rb;
		cJSON *vars = rb->vars.n ? cJSON_AddObjectToObject(o, "vars") : NULL;
		for (size_t i = 0; i < rb->vars.n; i++) {
			char *v = engine_var(e, node, rb->vars.keys[i]);
			char *m = engine_mask(e, v ? v : "");
			cJSON_AddStringToObject(vars, rb->vars.keys[i], m);
			free(m);
			free(v);
		}
		if (rb->log_version || rb->log_environment) {
			cJSON *log = cJSON_AddObjectToObject(o, "log");
			if (rb->log_version)
				cJSON_AddStringToObject(log, "version", rb->log_version);
			if (rb->log_environment)
				cJSON_AddStringToObject(log, "environment", rb->log_environment);
		}
	}
}

/* The header: what a resume needs to rebuild the run, and an auditor to trust it. */
static bool write_header(struct session *r, struct engine *e)
{
	journal_set_mask(r->j, engine_secrets(e));
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "run", r->rd->id);
	cJSON_AddStringToObject(h, "rbc", RBC_VERSION);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[40];
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(h, "started", t);
	add_who(h, e);
	cJSON *rbs = cJSON_AddArrayToObject(h, "runbooks");
	for (size_t i = 0; i < r->nrbs; i++)
		header_runbook(rbs, r->rbs[i], false);
	header_values(rbs, e);
	header_prose_all(rbs, e);
	cJSON *vars = cJSON_AddObjectToObject(h, "vars");
	for (size_t i = 0; r->vars && i < r->vars->n; i++)
		cJSON_AddStringToObject(vars, r->vars->keys[i], r->vars->vals[i]);
	add_argv(h, r->argc, r->argv, engine_secrets(e));
	if (journal_header(r->j, h, &r->err))
		return true;
	r->rc = RBC_EXIT_IOERR; /* no record: nothing may run */
	/* Nor is a torn header left behind as a run. */
	if (rundir_discard(r->rd)) {
		char *why = xasprintf("%s; nothing ran, and the run's directory is removed", r->err.msg);
		rbc_error_set(&r->err, "%s", why);
		free(why);
	}
	return false;
}


/* journal_replay's callback: a line of the record so far, to the database. */
static bool backfill(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)o;
	(void)line;
	size_t n = strlen(raw);
	while (n && raw[n - 1] == '\n')
		n--;
	history_add(ud, raw, n);
	return true;
}

/* A resume: the record applied to the engine, the journal opened again after
   its last whole line, and a run_resumed line saying how the run goes on. */
static bool resume_apply(struct session *r, struct engine *e)
{
	journal_set_mask(r->j, engine_secrets(e));
	if (!resume_replay(r->rd->path, e, &r->rs, &r->err)) {
		r->rc = RBC_EXIT_DATAERR;
		return false;
	}
	if (r->rs.finished && !r->rs.stopped) {
		rbc_error_set(&r->err, "run %s finished: there is nothing to resume (rbc export %s writes its record)",
		              r->rd->id, r->rd->id);
		r->rc = RBC_EXIT_USAGE;
		return false;
	}
	if (r->rs.ncut && !r->o.interactive && r->o.unfinished == UNFINISHED_ASK) {
		char *list = unfinished_list(&r->rs);
		rbc_error_set(&r->err, "started, their end not recorded: %s — decide with --unfinished rerun|done|skip "
		              "(docs/journal.md, \"Resuming\"); nothing was run", list);
		free(list);
		r->rc = RBC_EXIT_USAGE;
		return false;
	}
	if (!journal_continue(r->j, r->rs.last_seq, r->rs.good_len, &r->err)) {
		r->rc = RBC_EXIT_IOERR;
		return false;
	}
	/* What came before: the database may not have it all — unless the run
	   was rebuilt from it (its rows are there; the sender goes on after). */
	if (r->hist && !r->o.from_db && !journal_replay(r->rd->path, backfill, r->hist, NULL, &r->err))
		return false;
	bool after = false;
	struct eng_step *at = engine_resume_point(e, &after);
	char *id = at ? journal_step_id(at) : NULL;
	if (at)
		r->resumed_at = xasprintf("%s %s", after ? "going on after" : "going on at", id);
	cJSON *o = cJSON_CreateObject();
	char t[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	iso_ms_format(t, sizeof t, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "ev", "run_resumed");
	cJSON_AddStringToObject(o, "rbc", RBC_VERSION);
	add_who(o, e);
	add_argv(o, r->argc, r->argv, engine_secrets(e));
	cJSON_AddNumberToObject(o, "events", (double)r->rs.events);
	if (id) {
		cJSON_AddStringToObject(o, "at", id);
		cJSON_AddBoolToObject(o, "after", after);
	}
	if (r->rs.dropped_last)
		cJSON_AddBoolToObject(o, "dropped_last", true);
	if (r->forced) {
		/* The runbooks may have changed: the tree the run goes on with, so
		   that its record is the one it used. */
		cJSON_AddBoolToObject(o, "forced", true);
		cJSON *rbs = cJSON_AddArrayToObject(o, "runbooks");
		for (size_t i = 0; i < r->nrbs; i++)
			header_runbook(rbs, r->rbs[i], false);
		header_prose_all(rbs, e);
	}
	if (r->rs.nlost) {
		cJSON *lost = cJSON_AddArrayToObject(o, "lost_captures");
		for (size_t i = 0; i < r->rs.nlost; i++)
			cJSON_AddItemToArray(lost, cJSON_CreateString(r->rs.lost[i]));
	}
	free(id);
	bool ok = journal_append_sync(r->j, o, &r->err);
	if (!ok)
		r->rc = RBC_EXIT_IOERR;
	for (size_t i = 0; i < r->rs.nlost; i++)
		session_note(r, "resume: the secret %s was captured before and is never written: run that step again (r) before the steps that use it",
		             r->rs.lost[i]);
	if (r->rs.nlost)
		r->warning = xasprintf("not in the record (a secret): %s%s — run %s again (r)", r->rs.lost[0],
		                       r->rs.nlost > 1 ? " and more" : "", r->rs.nlost > 1 ? "those steps" : "that step");
	if (r->rs.unknown)
		session_note(r, "resume: %zu recorded events name steps the runbooks no longer have: left out",
		             r->rs.unknown);
	/* A step whose start is recorded and not its end may have done its
	   work: the operator decides what it is before the flow goes on
	   (unfinished.h), never silently. */
	for (size_t i = 0; i < r->rs.ncut; i++) {
		const struct eng_step *s = r->rs.cut[i].step;
		char *sid = journal_step_id(s);
		char when[40];
		iso_ms_format(when, sizeof when, r->rs.cut[i].started);
		session_note(r, "resume: %s started at %s and its end is not in the record: what it does may be done "
		             "already; %s", sid, when,
		             r->o.unfinished == UNFINISHED_RERUN ? "it runs again (--unfinished rerun)"
		             : r->o.unfinished == UNFINISHED_DONE ? "marked done (--unfinished done)"
		             : r->o.unfinished == UNFINISHED_SKIP ? "skipped (--unfinished skip)"
		                                                  : "decide: run it again, mark it done, or skip it");
		free(sid);
	}
	/* Decided on the command line: journaled now, with who decided. */
	while (ok && r->o.unfinished != UNFINISHED_ASK && unfinished_left(&r->rs)) {
		const char *why = NULL;
		const char *reason = r->o.unfinished == UNFINISHED_SKIP ? "--unfinished skip" : NULL;
		ok = unfinished_decide(&r->rs, e, r->o.unfinished, reason, engine_operator(e), &why);
		if (!ok)
			rbc_error_set(&r->err, "%s", why);
	}
	return ok;
}

/* Before anything runs: a new run's header, or a resumed run's record. */
static bool prepare(struct session *r)
{
	if (!(r->resume ? resume_apply(r, r->e) : write_header(r, r->e)))
		return false;
	char *warn = engine_secret_warning(r->e);
	if (warn)
		session_note(r, "warning: %s", warn);
	free(warn);
	return true;
}

/* Frees what is open, in one order; the loop is run until it lets go. */
static void session_free(struct session *s)
{
	if (s->e)
		engine_free(s->e);
	if (s->j)
		journal_free(s->j);
	if (s->hist)
		history_free(s->hist);
	lease_free(s->lease);
	cmd_listen_stop(s->cmds);
	joined_free(&s->joined);
	desk_free(s->desk);
	probe_shutdown(&s->loop);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	resume_state_free(&s->rs);
	for (size_t i = 0; i < s->nsaid; i++)
		free(s->said[i]);
	free(s->said);
	free(s->resumed_at);
	free(s->warning);
	free(s->taken_by);
	rbc_error_clear(&s->err);
	free(s);
}

/* rbc follow: an engine over the runbooks that never starts anything and
   writes nothing; the follower applies the record to it (follow.h). */
static bool follow_open(struct session *s, struct rbc_error *err)
{
	struct engine_opts eo = {.loop = &s->loop, .runbooks = s->rbs, .nrunbooks = s->nrbs, .vars = s->vars,
	                         .operator = s->o.operator, .on_event = session_on_event, .ud = s};
	s->e = engine_new(&eo, err);
	if (!s->e)
		return false;
	struct desk_opts d = {.loop = &s->loop, .e = s->e, .now = session_clock, .now_ud = s,
	                      .say = session_say, .say_ud = s, .follow = true};
	s->desk = desk_new(&d);
	return true;
}

/* A message for the operator, to the view (kept until there is one). */
void session_tell(struct session *s, const char *text)
{
	session_say(s, text);
}

/* An event the record holds, to the view as if the engine had said it. */
void session_emit(struct session *s, const struct eng_event *ev)
{
	session_on_event(s, ev);
}

/* The lease is another's (docs/team.md, "Handover"): nothing more is
   journaled or sent, what runs is cancelled unrecorded, the view is told. */
static void taken_over(struct session *s, const char *who)
{
	if (s->taken_by)
		return;
	s->taken_by = xstrdup(who && *who ? who : "another driver (the lease is gone)");
	journal_seal(s->j);
	history_drop(s->hist);
	engine_stop(s->e, "taken over");
	if (s->view.taken_over)
		s->view.taken_over(s->view.ud, s->taken_by);
	else
		session_note(s, "%s: taken over by %s: this driver stopped; what it did after is only in "
		             "its local journal", s->o.cmd, s->taken_by);
}

/* The lease is held (the history may go), or lost. */
static void lease_changed(void *ud, bool held, const char *who)
{
	struct session *s = ud;
	if (held)
		history_open_gate(s->hist);
	else
		taken_over(s, who);
}

/* A batch of the history was refused: the lease is another's. */
static void history_fenced(void *ud, const char *who)
{
	taken_over(ud, who);
}

/* Opens the run: journal, engine, header or resume, history, desk (session.h). */
struct session *session_open(const struct session_opts *opts, int *rc, struct rbc_error *err)
{
	struct session *s = xcalloc(1, sizeof *s);
	s->o = *opts;
	s->rbs = opts->runbooks;
	s->nrbs = opts->nrunbooks;
	s->vars = opts->vars;
	s->rd = opts->rd;
	s->argc = opts->argc;
	s->argv = opts->argv;
	s->resume = opts->resume;
	s->forced = opts->forced;
	s->fixed_now = parse_test_now(getenv("RBC_TEST_NOW"));
	uv_loop_init(&s->loop);
	*rc = RBC_EXIT_SOFTWARE;
	if (opts->follow)
		return follow_open(s, err) ? s : (session_free(s), NULL); /* rbc follow: no journal of its own */
	s->j = s->resume ? journal_reopen(&s->loop, s->rd->path, err) : journal_create(&s->loop, s->rd->path, err);
	if (!s->j) {
		*rc = s->resume ? RBC_EXIT_USAGE : RBC_EXIT_SOFTWARE;
		session_free(s);
		return NULL;
	}
	if (opts->db && *opts->db) {
		s->hist = history_start(&s->loop, opts->db, s->rd->id);
		journal_set_line_sink(s->j, to_history, s->hist);
	}
	struct engine_opts eo = {.loop = &s->loop, .runbooks = s->rbs, .nrunbooks = s->nrbs, .vars = s->vars,
	                         .out_dir = s->rd->out, .operator = opts->operator,
	                         .approver = opts->approver,
	                         .interactive = opts->interactive || opts->joinable, .assume = opts->assume, .yes = opts->yes,
	                         .on_event = journal_on_event, .ud = s->j};
	if (s->fixed_now) {
		eo.clock = session_clock;
		eo.clock_ud = s;
	}
	s->e = engine_new(&eo, err);
	if (!s->e) {
		session_free(s);
		return NULL;
	}
	if (s->hist) {
		char *holder = handover_holder(engine_operator(s->e));
		char pid[24];
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		history_fence(s->hist, holder, pid, history_fenced, s);
		s->lease = lease_start(&s->loop, opts->db, s->rd->id, holder);
		lease_on_change(s->lease, lease_changed, s);
		free(holder);
	}
	journal_set_observer(s->j, session_on_event, s);
	journal_attach(s->j, s->e); /* write-ahead; a lost record stops the run */
	if (!prepare(s)) {
		rbc_error_set(err, "%s", s->err.msg ? s->err.msg : "cannot start");
		*rc = s->rc ? s->rc : RBC_EXIT_SOFTWARE;
		session_free(s);
		return NULL;
	}
	s->t_start = session_clock(s);
	if (s->resume) {
		struct rbc_error herr = {0};
		cJSON *h = resume_header(s->rd->path, &herr);
		s->t_start = h ? iso_ms_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "started"))) : 0;
		cJSON_Delete(h);
		rbc_error_clear(&herr);
	}
	/* An incident runbook: its incident, as its journal left it (a resume),
	   declared now when the options say how. */
	struct desk_opts d = {.loop = &s->loop, .e = s->e, .now = session_clock, .now_ud = s,
	                      .say = session_say, .say_ud = s};
	s->desk = desk_new(&d);
	if (s->desk && s->resume && !desk_replay(s->desk, s->rd->path, err)) {
		*rc = RBC_EXIT_DATAERR;
		session_free(s);
		return NULL;
	}
	if (s->hist) { /* joiners' commands (docs/team.md, "Joining a run") */
		s->joined = (struct joined){.e = s->e, .desk = s->desk, .now = session_clock, .now_ud = s};
		if (s->resume) {
			char *jp = xasprintf("%s/journal.jsonl", s->rd->path);
			joined_seen_from(&s->joined, jp);
			free(jp);
		}
		s->cmds = cmd_listen_start(&s->loop, opts->db, s->rd->id, opts->joinable, take_command, s);
	}
	const struct incident *in = desk_incident(s->desk);
	if (in && in->severity == SIZE_MAX && opts->severity &&
	    !desk_declare(s->desk, opts->severity, opts->title, opts->impact_start, engine_operator(s->e), err)) {
		*rc = RBC_EXIT_USAGE;
		session_free(s);
		return NULL;
	}
	*rc = 0;
	return s;
}

/* The view that observes the session from now on (NULL: none). */
void session_attach(struct session *s, const struct session_view *v)
{
	s->view = v ? *v : (struct session_view){0};
	for (size_t i = 0; s->view.say && i < s->nsaid; i++) {
		s->view.say(s->view.ud, s->said[i]);
		free(s->said[i]);
	}
	if (s->view.say) {
		free(s->said);
		s->said = NULL;
		s->nsaid = 0;
	}
}

/* The lease is released, or given up. */
static void lease_released(void *ud)
{
	((struct session *)ud)->lease_done = true;
}

/* Wakes the loop when a wait at the end is over. */
static void guard_cb(uv_timer_t *t)
{
	(void)t;
}

/* Lets the stop, the journal, notifications and the history end, each bounded. */
void session_drain(struct session *s)
{
	if (!s || s->drained)
		return;
	s->drained = true;
	/* No command is taken while the run ends; the verdicts given are
	   stored first (a moment, bounded). */
	if (cmd_listen_pending(s->cmds)) {
		uv_timer_t guard;
		uint64_t until = uv_now(&s->loop) + 2000;
		uv_timer_init(&s->loop, &guard);
		uv_timer_start(&guard, guard_cb, 2000, 0);
		while (cmd_listen_pending(s->cmds) && uv_now(&s->loop) < until)
			uv_run(&s->loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&guard, NULL);
		uv_run(&s->loop, UV_RUN_NOWAIT);
	}
	cmd_listen_stop(s->cmds);
	s->cmds = NULL;
	/* What a stop started (killing process groups) completes. */
	for (int spins = 0; (engine_busy(s->e) || journal_busy(s->j)) && spins < 1000; spins++)
		uv_run(&s->loop, UV_RUN_ONCE);
	/* Notifications still on their way get a few seconds (their ends are
	   journaled as they come); then they are given up. */
	if (desk_pending(s->desk)) {
		uv_timer_t guard;
		uint64_t until = uv_now(&s->loop) + SESSION_GRACE_MS;
		uv_timer_init(&s->loop, &guard);
		uv_timer_start(&guard, guard_cb, SESSION_GRACE_MS, 0);
		while ((desk_pending(s->desk) || journal_busy(s->j)) && uv_now(&s->loop) < until)
			uv_run(&s->loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&guard, NULL);
		uv_run(&s->loop, UV_RUN_NOWAIT);
	}
	for (int spins = 0; journal_busy(s->j) && spins < 1000; spins++)
		uv_run(&s->loop, UV_RUN_ONCE);
	/* What the database has not stored yet gets a few seconds. */
	if (s->hist) {
		history_finish(s->hist, SESSION_GRACE_MS, history_drained, s);
		while (!s->history_done)
			uv_run(&s->loop, UV_RUN_ONCE);
		size_t left = history_pending(s->hist);
		if (left)
			session_note(s, "%s: history: %zu events not stored in the database (%s); they are in the journal: rbc history push %s",
			             s->o.cmd, left, history_state(s->hist), s->rd->id);
		else
			session_note(s, "%s: history: %llu events stored in the database", s->o.cmd,
			             (unsigned long long)history_stored(s->hist));
	}
	/* The lease is let go once the history is stored (it expires on its own
	   if the server is away). */
	if (s->lease) {
		lease_finish(s->lease, SESSION_GRACE_MS, lease_released, s);
		while (!s->lease_done)
			uv_run(&s->loop, UV_RUN_ONCE);
	}
}

/* The one teardown path of a run. */
void session_close(struct session *s)
{
	if (!s)
		return;
	session_drain(s);
	session_free(s);
}

/* The session's loop (borrowed). */
uv_loop_t *session_loop(struct session *s)
{
	return &s->loop;
}

/* The session's engine (borrowed). */
struct engine *session_engine(const struct session *s)
{
	return s->e;
}

/* The run's journal (borrowed). */
struct journal *session_journal(const struct session *s)
{
	return s->j;
}

/* The incident desk, NULL when the run is no incident. */
struct incident_desk *session_desk(const struct session *s)
{
	return s->desk;
}

/* The run's directory (the caller's). */
const struct rundir *session_rundir(const struct session *s)
{
	return s->rd;
}

/* The run's wall clock, ms. */
int64_t session_now(const struct session *s)
{
	return session_clock((void *)s);
}

/* The record's resume state, for unfinished.c (session.h). */
struct resume_state *session_resume_state(struct session *s)
{
	return s->resume ? &s->rs : NULL;
}

/* Who took the run over, or NULL (session.h). */
const char *session_taken_over(const struct session *s)
{
	return s->taken_by;
}

/* What the record gave back to a resume; NULL for a new run. */
const struct resume_state *session_resumed(const struct session *s)
{
	return s->resume ? &s->rs : NULL;
}

/* Where a resumed run goes on, in words. */
const char *session_resumed_at(const struct session *s)
{
	return s->resumed_at;
}

/* What the record could not give back, in one line. */
const char *session_resume_warning(const struct session *s)
{
	return s->warning;
}

/* When the run started, ms. */
int64_t session_started(const struct session *s)
{
	return s->t_start;
}

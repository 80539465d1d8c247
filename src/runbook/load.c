/*
 * load.c — runbook files into the step tree, validated completely.
 *
 * Every object of the format has a table of the keys it accepts and a
 * handler per key; walk_object applies a table, reporting unknown keys (with
 * a suggestion), and the handlers check types and values. Nothing stops at
 * the first problem: each one goes into the diagnostics with its file, line,
 * column and JSON path, and cross-references (ids, goto: targets, run:
 * runbooks, variables) are checked once the whole tree is known.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rbc/json.h"
#include "rbc/markdown.h"
#include "rbc/keys.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/units.h"
#include "ask.h"
#include "call.h"
#include "loop.h"
#include "prose.h"
#include "budget.h"
#include "values.h"
#include "loader.h"

static const struct {
	const char *key, *desc;
} actions[] = {
#define X(e, key, desc) {key, desc},
	RB_ACTIONS(X)
#undef X
};

static const char *const kinds[] = {
#define X(e, name) name,
	RB_KINDS(X)
#undef X
};

const char *rb_action_key(enum rb_action a)
{
	return a < RB_ACTION_COUNT ? actions[a].key : "?";
}

const char *rb_action_desc(enum rb_action a)
{
	return a < RB_ACTION_COUNT ? actions[a].desc : "?";
}

const char *rb_kind_name(enum rb_kind k)
{
	return k < RB_KIND_COUNT ? kinds[k] : "?";
}


/* State shared by a top-level load and the runbooks its run: steps include. */
struct session {
	char **stack;            /* real paths being loaded, outermost first */
	size_t nstack, stackcap;
	struct runbook **loaded; /* every included runbook, loaded once */
	char **loaded_paths;
	size_t nloaded, loadedcap, pathscap;
	char **failed;           /* real paths that did not load */
	size_t nfailed, failedcap;
	size_t total_steps;
};

static struct runbook *load_file(struct session *ses, const char *path,
                                 struct rbc_diags *d, const char *from_file,
                                 unsigned from_line, unsigned from_col,
                                 const char *from_path);

struct expr_ctx {
	struct loader *L;
	const cJSON *node;
};

static void expr_var_use(const char *name, unsigned col, void *ud)
{
	struct expr_ctx *c = ud;
	unsigned line = 0, fcol = 0;
	const char *s = c->node->valuestring;
	/* col counts characters; find the byte index for the file position. */
	size_t at = 0;
	for (unsigned k = 1; k < col && s[at]; k++) {
		at++;
		while (s[at] && ((unsigned char)s[at] & 0xC0) == 0x80)
			at++;
	}
	json_doc_string_pos(c->L->r.doc, c->node, at, &line, &fcol);
	keys_note_use(&c->L->r, name, strlen(name), line, fcol);
}

/* The file position of the character at col (1-based) of string node n. */
static void expr_col_pos(struct loader *L, const cJSON *n, unsigned col, unsigned *line, unsigned *fcol)
{
	const char *s = n->valuestring;
	size_t at = 0;
	for (unsigned k = 1; k < col && s[at]; k++) {
		at++;
		while (s[at] && ((unsigned char)s[at] & 0xC0) == 0x80)
			at++;
	}
	json_doc_string_pos(L->r.doc, n, at, line, fcol);
}

/* Keeps a text compared with vars.NAME for check_choices. */
static void expr_var_literal(const char *name, const char *text, unsigned col, void *ud)
{
	struct expr_ctx *c = ud;
	struct loader *L = c->L;
	xgrow(&L->literals, &L->literalcap, L->nliterals + 1, sizeof *L->literals);
	struct var_literal *v = &L->literals[L->nliterals++];
	v->name = xstrdup(name);
	v->text = xstrdup(text);
	v->path = xstrdup(L->r.path.len ? L->r.path.s : "(root)");
	expr_col_pos(L, c->node, col, &v->line, &v->col);
}

static struct expr *get_expr(struct loader *L, const cJSON *n)
{
	if (!keys_want_string(&L->r, n))
		return NULL;
	if (!*n->valuestring) {
		keys_err(&L->r, n, "empty expression");
		return NULL;
	}
	struct rbc_error e = {0};
	struct expr *x = expr_parse(n->valuestring, &e);
	if (!x) {
		unsigned line = 0, col = 0;
		size_t at = 0;
		const char *s = n->valuestring;
		for (unsigned k = 1; k < e.col && s[at]; k++) {
			at++;
			while (s[at] && ((unsigned char)s[at] & 0xC0) == 0x80)
				at++;
		}
		json_doc_string_pos(L->r.doc, n, at, &line, &col);
		diags_add(L->r.d, false, L->r.file, line, col, L->r.path.s,
		          "invalid expression at column %u: %s", e.col, e.msg ? e.msg : "syntax error");
		rbc_error_clear(&e);
		return NULL;
	}
	struct expr_ctx c = {L, n};
	expr_foreach_var(x, expr_var_use, &c);
	expr_foreach_var_literal(x, expr_var_literal, &c);
	return x;
}


/* ------------------------------------------------------ step: actions */

#define STEP(L) ((L)->step)

static void a_manual(struct loader *L, const cJSON *m)
{
	STEP(L)->manual = keys_xtext(&L->r, m);
}

static struct rb_step *read_step(struct loader *L, const cJSON *n, struct rb_step *parent,
                                 const char *number);

/* Reads an array of steps into *out; prefix numbers them ("1.", "L2."). */
static void read_steps(struct loader *L, const cJSON *arr, struct rb_step *parent,
                       const char *prefix, struct rb_step ***out, size_t *nout)
{
	if (!keys_want_array(&L->r, arr, true))
		return;
	if (++L->depth > RB_MAX_DEPTH) {
		keys_err(&L->r, arr, "steps nested deeper than %d levels", RB_MAX_DEPTH);
		L->depth--;
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
	*out = xcalloc(n, sizeof **out);
	for (const cJSON *c = arr->child; c && !L->too_many; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		char *number = xasprintf("%s%zu", prefix, i + 1);
		struct rb_step *s = read_step(L, c, parent, number);
		free(number);
		if (s)
			(*out)[(*nout)++] = s;
		keys_pop(&L->r, old);
	}
	L->depth--;
}

static void a_steps(struct loader *L, const cJSON *m)
{
	struct rb_step *s = STEP(L);
	char *prefix = xasprintf("%s.", s->number);
	read_steps(L, m, s, prefix, &s->children, &s->nchildren);
	free(prefix);
	L->step = s;
}

/* An ask (ask.c): its variable is defined for later steps, its choices'
   gotos are checked with the others. */
static void a_ask(struct loader *L, const cJSON *m)
{
	struct rb_step *s = STEP(L);
	struct ask_goto *g = NULL;
	size_t ng = 0;
	s->ask = ask_load(&L->r, m, &g, &ng);
	if (s->ask && *s->ask->decl.name) {
		xgrow(&L->defined, &L->definedcap, L->ndefined + 1, sizeof *L->defined);
		L->defined[L->ndefined++] = xstrdup(s->ask->decl.name);
	}
	for (size_t i = 0; i < ng; i++) {
		xgrow(&L->gotos, &L->gotocap, L->ngotos + 1, sizeof *L->gotos);
		L->gotos[L->ngotos++] = (struct goto_ref){s, s->ask->choices[g[i].choice].go, g[i].node, g[i].path};
	}
	free(g);
}

/* "call": a runbook file loads as run: includes do (call.c reads the rest). */
static void a_call(struct loader *L, const cJSON *m)
{
	unsigned line = 0, col = 0;
	char *full = call_read_target(&L->r, m, STEP(L));
	json_doc_pos(L->r.doc, m, false, &line, &col);
	if (full)
		STEP(L)->call->runbook = load_file(L->ses, full, L->r.d, L->r.file, line, col, L->r.path.s);
	free(full);
}

static void (*const action_fns[RB_ACTION_COUNT])(struct loader *, const cJSON *) = {
	[RB_GROUP] = a_steps, [RB_MANUAL] = a_manual, [RB_CALL] = a_call, [RB_ASK] = a_ask,
};

/* ------------------------------------------------------ step: the rest */

static void m_step_id(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	char *id = loader_get_id(L, m);
	if (id) {
		free(STEP(L)->id);
		STEP(L)->id = id;
		STEP(L)->id_derived = false;
	}
}

static void m_step_title(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	char *s = keys_xtext(&L->r, m);
	if (s) {
		free(STEP(L)->title);
		STEP(L)->title = s;
	}
}

static void m_step_note(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	if (keys_want_string(&L->r, m)) {
		keys_scan_refs(&L->r, m);
		STEP(L)->note = xstrdup(m->valuestring);
	}
}

/* "description" and "links" (prose.c); "tty" and "stdin" are the kind's,
   read once the walk has loaded the action (prose_kind_keys). */
static void m_step_prose(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct rb_step *s = STEP(loader_of(kr));
	(void)t;
	if (strcmp(m->string, "links") == 0) {
		prose_links(kr, m, &s->links, &s->nlinks);
	} else {
		free(s->description);
		s->description = prose_description(kr, m);
	}
}

static void m_step_action(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	/* Only the step's (first) action is read; a second one was reported. */
	if (strcmp(actions[STEP(L)->action].key, m->string) != 0)
		return;
	const struct probe_ops *ops = probe_ops_for(STEP(L)->action);
	if (ops && ops->load)
		ops->load(&L->r, m, STEP(L));
	else
		action_fns[STEP(L)->action](L, m);
}

static void m_step_parallel(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	loop_read_parallel(&L->r, m, STEP(L));
}

/* foreach, max_failures (loop.c), with, export (call.c): the names they
   set are defined for the steps that use them. */
static void m_step_loop(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	size_t k = 0;
	char *const *v = loop_read_key(&L->r, m, STEP(L), &k);
	(void)t;
	for (size_t i = 0; i < k; i++) {
		xgrow(&L->defined, &L->definedcap, L->ndefined + 1, sizeof *L->defined);
		L->defined[L->ndefined++] = xstrdup(v[i]);
	}
}

static void m_step_timeout(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_duration(&L->r, m, &STEP(L)->timeout_ms);
}

struct retry {
	int *attempts;
	int64_t *delay;
};

static void m_retry_attempts(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	long v;
	if (keys_int(&L->r, m, 1, 100, &v))
		*((struct retry *)t)->attempts = (int)v;
}

static void get_vduration(struct loader *L, const cJSON *n, int64_t *ms);

static void m_retry_delay(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	get_vduration(L, m, ((struct retry *)t)->delay);
}

static const struct keys_member retry_keys[] = {{"attempts", m_retry_attempts}, {"delay", m_retry_delay}};

static void get_retry(struct loader *L, const cJSON *m, int *attempts, int64_t *delay)
{
	struct retry r = {attempts, delay};
	if (!keys_want_object(&L->r, m, "an object with \"attempts\" and \"delay\""))
		return;
	keys_walk(&L->r, m, retry_keys, RBC_ARRAY_LEN(retry_keys), &r);
	keys_require(&L->r, m, "attempts", NULL);
}

static void m_step_retry(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	get_retry(L, m, &STEP(L)->retry_attempts, &STEP(L)->retry_delay_ms);
}

static void m_rep_count(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_int(&L->r, m, 1, 1000000, &((struct rb_repeat *)t)->count);
}

/*
 * A repeat or retry duration: a literal ("10s"), or text with ${NAME} that is
 * resolved from the variables (runbook_resolve_durations) — the watch
 * windows a demo scales down with --var, say.
 */
static void get_vduration(struct loader *L, const cJSON *n, int64_t *ms)
{
	if (!cJSON_IsString(n) || !strstr(n->valuestring, "${")) {
		keys_duration(&L->r, n, ms);
		return;
	}
	keys_scan_refs(&L->r, n);
	struct runbook *rb = L->rb;
	rb->vdurations = xrealloc(rb->vdurations, (rb->nvdurations + 1) * sizeof *rb->vdurations);
	struct rb_vduration *v = &rb->vdurations[rb->nvdurations++];
	*v = (struct rb_vduration){.ms = ms, .text = xstrdup(n->valuestring), .positive = true,
	                           .path = xstrdup(L->r.path.len ? L->r.path.s : "(root)")};
	json_doc_pos(L->r.doc, n, false, &v->line, &v->col);
	*ms = 1000; /* until resolved */
}

static void m_rep_every(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	get_vduration(L, m, &((struct rb_repeat *)t)->every_ms);
}

static void m_rep_for(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	get_vduration(L, m, &((struct rb_repeat *)t)->for_ms);
}

static void m_rep_within(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	get_vduration(L, m, &((struct rb_repeat *)t)->within_ms);
}

static void m_rep_until(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_repeat *)t)->until = get_expr(L, m);
}

static void m_rep_consecutive(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_int(&L->r, m, 1, 1000000, &((struct rb_repeat *)t)->count);
}

static void m_rep_fail_after(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_repeat *r = t;
	long v;
	if (cJSON_IsNumber(m)) {
		if (keys_int(&L->r, m, 1, 1000000, &v))
			r->fail_after_count = v;
	} else if (cJSON_IsString(m)) {
		get_vduration(L, m, &r->fail_after_ms);
	} else {
		keys_err(&L->r, m, "expected a duration such as \"5m\" or a number of samples, got %s",
		    json_type_name(m));
	}
}

static const struct keys_member repeat_keys[] = {
	{"count", m_rep_count}, {"every", m_rep_every}, {"for", m_rep_for},
	{"until", m_rep_until}, {"within", m_rep_within}, {"consecutive", m_rep_consecutive},
	{"fail_after", m_rep_fail_after},
};

static void m_step_repeat(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct rb_repeat *r = &STEP(L)->repeat;
	if (!keys_want_object(&L->r, m, "a repeat object such as {\"count\": 30, \"every\": \"10s\"}"))
		return;
	keys_walk(&L->r, m, repeat_keys, RBC_ARRAY_LEN(repeat_keys), r);
	static const char *const modes[] = {"count", "for", "until", "consecutive"};
	static const enum rb_repeat_mode mode_of[] = {RB_REPEAT_COUNT, RB_REPEAT_FOR,
		                                      RB_REPEAT_UNTIL, RB_REPEAT_CONSECUTIVE};
	const char *first = NULL;
	for (size_t i = 0; i < RBC_ARRAY_LEN(modes); i++) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(m, modes[i]);
		if (!k)
			continue;
		if (first) {
			size_t old = keys_push_key(&L->r, modes[i]);
			keys_err_key(&L->r, k, "\"%s\" and \"%s\" exclude each other: a repeat has one mode", first, modes[i]);
			keys_pop(&L->r, old);
			continue;
		}
		first = modes[i];
		r->mode = mode_of[i];
	}
	keys_require(&L->r, m, "every", "(how often to sample, e.g. \"10s\")");
	const cJSON *within = cJSON_GetObjectItemCaseSensitive(m, "within");
	if ((r->mode == RB_REPEAT_UNTIL || r->mode == RB_REPEAT_CONSECUTIVE) && !within)
		keys_err(&L->r, m, "missing required key \"within\" (the deadline for \"%s\")", first);
	if (within && r->mode != RB_REPEAT_UNTIL && r->mode != RB_REPEAT_CONSECUTIVE) {
		size_t old = keys_push_key(&L->r, "within");
		keys_err_key(&L->r, within, "\"within\" applies only with \"until\" or \"consecutive\"");
		keys_pop(&L->r, old);
	}
}

static void m_step_expect(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	STEP(L)->expect = get_expr(L, m);
}

static void m_step_warn(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	STEP(L)->warn = get_expr(L, m);
}

static void m_step_when(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	STEP(L)->when = get_expr(L, m);
}

static void m_step_capture(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct rb_step *s = STEP(L);
	if (!keys_want_object(&L->r, m, "an object of variable names to expressions"))
		return;
	size_t ndup;
	const cJSON **dups = keys_duplicates(&L->r, m, &ndup);
	size_t n = (size_t)cJSON_GetArraySize(m);
	s->captures = xcalloc(n, sizeof *s->captures);
	for (const cJSON *c = m->child; c; c = c->next) {
		if (keys_is_dup(dups, ndup, c))
			continue;
		size_t old = keys_push_key(&L->r, c->string);
		if (!rb_var_name_ok(c->string, strlen(c->string))) {
			keys_err_key(&L->r, c, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)",
			        c->string);
		} else {
			struct expr *x = get_expr(L, c);
			if (x) {
				s->captures[s->ncaptures].name = xstrdup(c->string);
				s->captures[s->ncaptures++].expr = x;
				xgrow(&L->defined, &L->definedcap, L->ndefined + 1, sizeof *L->defined);
				L->defined[L->ndefined++] = xstrdup(c->string);
			}
		}
		keys_pop(&L->r, old);
	}
	free(dups);
}

static void m_step_confirm(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	STEP(L)->confirm = keys_xtext(&L->r, m);
}

/* The target of a goto: (a new string), kept to be checked once every
   step of the runbook is known (check_gotos). */
static char *goto_target(struct loader *L, struct rb_step *s, const cJSON *m, const char *id)
{
	char *target = xstrdup(id);
	xgrow(&L->gotos, &L->gotocap, L->ngotos + 1, sizeof *L->gotos);
	L->gotos[L->ngotos++] = (struct goto_ref){s, target, m, xstrdup(L->r.path.s)};
	return target;
}

static void m_step_on_fail(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct rb_step *s = STEP(L);
	if (!keys_want_string(&L->r, m))
		return;
	const char *v = m->valuestring;
	if (strcmp(v, "stop") == 0) {
		s->on_fail = RB_ON_FAIL_STOP;
	} else if (strcmp(v, "continue") == 0) {
		s->on_fail = RB_ON_FAIL_CONTINUE;
	} else if (strncmp(v, "goto:", 5) == 0 && v[5]) {
		s->on_fail = RB_ON_FAIL_GOTO;
		s->on_fail_target = goto_target(L, s, m, v + 5);
	} else if (strncmp(v, "run:", 4) == 0 && v[4]) {
		s->on_fail = RB_ON_FAIL_RUN;
		s->on_fail_target = xstrdup(v + 4);
		char *full = v[4] == '/' ? xstrdup(v + 4) : xasprintf("%s/%s", L->rb->dir, v + 4);
		struct stat st;
		unsigned line = 0, col = 0;
		json_doc_pos(L->r.doc, m, false, &line, &col);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
			keys_err(&L->r, m, "run: runbook \"%s\" does not exist (looked for %s)", v + 4, full);
		} else {
			s->on_fail_runbook = load_file(L->ses, full, L->r.d, L->r.file, line, col, L->r.path.s);
			if (s->on_fail_runbook)
				s->on_fail_runbook->run_target = true;
		}
		free(full);
	} else {
		keys_err(&L->r, m, "expected \"stop\", \"continue\", \"goto:<step id>\" or \"run:<runbook file>\", got \"%s\"", v);
	}
}

/* "on_decline": what a declined confirmation does after skipping its step. */
static void m_step_on_decline(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct rb_step *s = STEP(L);
	if (!keys_want_string(&L->r, m))
		return;
	const char *v = m->valuestring;
	if (strcmp(v, "skip") == 0) {
		s->on_decline = RB_ON_DECLINE_SKIP;
	} else if (strcmp(v, "stop") == 0) {
		s->on_decline = RB_ON_DECLINE_STOP;
	} else if (strncmp(v, "goto:", 5) == 0 && v[5]) {
		s->on_decline = RB_ON_DECLINE_GOTO;
		s->on_decline_target = goto_target(L, s, m, v + 5);
	} else {
		keys_err(&L->r, m, "expected \"skip\", \"stop\" or \"goto:<step id>\", got \"%s\"", v);
	}
}

static void m_step_watch(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_bool(&L->r, m, &STEP(L)->watch);
}

static void m_step_on_demand(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_bool(&L->r, m, &STEP(L)->on_demand);
}

/* "deadline", "on_deadline", "owner", "approval" (budget.c). */
static void m_step_budget(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	const char *to = NULL;
	(void)t;
	budget_key(&L->r, m, STEP(L), L->rb, &to); /* no step: the runbook's own */
	if (to)
		(STEP(L) ? &STEP(L)->budget : &L->rb->budget)->target = goto_target(L, STEP(L), m, to);
}

static const struct keys_member group_default_keys[] = {
	{"on_fail", m_step_on_fail}, {"timeout", m_step_timeout}, {"retry", m_step_retry}, {"owner", m_step_budget},
};

/* A group's "defaults": read as a step of those keys alone, which budget.c hands down. */
static void m_step_defaults(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct rb_step *s = STEP(L);
	if (!keys_want_object(&L->r, m, "an object of \"on_fail\", \"timeout\", \"retry\" and \"owner\""))
		return;
	if (s->defaults)
		return; /* given twice: reported as such */
	L->step = s->defaults = budget_defaults_new(s);
	keys_walk(&L->r, m, group_default_keys, RBC_ARRAY_LEN(group_default_keys), NULL);
	budget_step_read(&L->r, m, s->defaults);
	L->step = s;
}

static const struct keys_member step_keys[] = {
	{"id", m_step_id}, {"title", m_step_title}, {"note", m_step_note},
#define X(e, key, desc) {key, m_step_action},
	RB_ACTIONS(X)
#undef X
	{"parallel", m_step_parallel}, {"timeout", m_step_timeout}, {"retry", m_step_retry},
	{"repeat", m_step_repeat}, {"expect", m_step_expect}, {"warn", m_step_warn},
	{"capture", m_step_capture}, {"when", m_step_when}, {"confirm", m_step_confirm},
	{"on_fail", m_step_on_fail}, {"on_decline", m_step_on_decline}, {"watch", m_step_watch},
	{"on_demand", m_step_on_demand}, {"foreach", m_step_loop}, {"max_failures", m_step_loop},
	{"with", m_step_loop}, {"export", m_step_loop},
	{"description", m_step_prose}, {"links", m_step_prose},
	{"tty", NULL}, {"stdin", NULL}, {"deadline", m_step_budget}, {"on_deadline", m_step_budget},
	{"owner", m_step_budget}, {"approval", m_step_budget}, {"defaults", m_step_defaults},
};

/* Keys that make no sense for some actions: (key, why). */
static void check_step_keys(struct loader *L, const cJSON *n, struct rb_step *s)
{
	bool probe = s->action != RB_GROUP && s->action != RB_MANUAL && s->action != RB_ASK &&
	             s->action != RB_CALL;
	static const char *const probe_only[] = {"expect", "warn", "capture", "repeat", "retry", "timeout", "watch"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(probe_only) && !probe; i++) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(n, probe_only[i]);
		if (!k)
			continue;
		size_t old = keys_push_key(&L->r, probe_only[i]);
		keys_err_key(&L->r, k, "\"%s\" needs a probe; a%s %s step has none", probe_only[i],
		        s->action == RB_ASK ? "n" : "", s->action == RB_ASK ? "ask" : rb_action_desc(s->action));
		keys_pop(&L->r, old);
	}
	const cJSON *dec = cJSON_GetObjectItemCaseSensitive(n, "on_decline");
	if (dec && !cJSON_GetObjectItemCaseSensitive(n, "confirm")) {
		size_t old = keys_push_key(&L->r, "on_decline");
		keys_err_key(&L->r, dec, "\"on_decline\" applies only to a step with \"confirm\"");
		keys_pop(&L->r, old);
	}
	const cJSON *par = cJSON_GetObjectItemCaseSensitive(n, "parallel");
	if (par && s->action != RB_GROUP) {
		size_t old = keys_push_key(&L->r, "parallel");
		keys_err_key(&L->r, par, "\"parallel\" applies only to a group (a step with \"steps\")");
		keys_pop(&L->r, old);
	}
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(n, "repeat");
	if (probe && s->watch && !rep)
		keys_err(&L->r, n, "a watch needs \"repeat\" with \"every\" (how often to sample)");
	if (rep && cJSON_IsObject(rep)) {
		size_t old = keys_push_key(&L->r, "repeat");
		const cJSON *fa = cJSON_GetObjectItemCaseSensitive(rep, "fail_after");
		if (fa && !s->watch) {
			size_t o2 = keys_push_key(&L->r, "fail_after");
			keys_err_key(&L->r, fa, "\"fail_after\" applies only to a step with \"watch\": true");
			keys_pop(&L->r, o2);
		}
		static const char *const not_for_watch[] = {"count", "until", "consecutive"};
		for (size_t k = 0; k < RBC_ARRAY_LEN(not_for_watch) && s->watch; k++) {
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(rep, not_for_watch[k]);
			if (!x)
				continue;
			size_t o2 = keys_push_key(&L->r, not_for_watch[k]);
			keys_err_key(&L->r, x, "a watch samples until the run ends: \"%s\" does not apply (\"for\" limits it)",
			        not_for_watch[k]);
			keys_pop(&L->r, o2);
		}
		if (s->repeat.mode == RB_REPEAT_NONE) {
			if (s->watch)
				s->repeat.mode = RB_REPEAT_WATCH;
			else if (probe)
				keys_err(&L->r, rep, "a repeat needs one of \"count\", \"for\", \"until\" or \"consecutive\" (or \"watch\": true)");
		}
		keys_pop(&L->r, old);
	}
	if (s->watch && s->on_demand)
		keys_err(&L->r, n, "a step cannot be both \"watch\" and \"on_demand\"");
	loop_check_keys(&L->r, n, s);
	call_check_step(&L->r, n, s);
}

/* Reports a field an expression reads that its step never has. */
struct field_ctx {
	struct loader *L;
	const cJSON *node;       /* the expression's string */
	enum rb_action action;
	bool when;               /* decided before the step runs: no sample at all */
};

static void field_use(const char *name, unsigned col, void *ud)
{
	struct field_ctx *c = ud;
	if (!c->when && rb_field_known(c->action, name))
		return;
	unsigned line = 0, fcol = 0;
	const char *s = c->node->valuestring;
	size_t at = 0;
	for (unsigned k = 1; k < col && s[at]; k++) {
		at++;
		while (s[at] && ((unsigned char)s[at] & 0xC0) == 0x80)
			at++;
	}
	struct loader *L = c->L;
	json_doc_string_pos(L->r.doc, c->node, at, &line, &fcol);
	const char *near = c->when ? NULL : rb_field_suggest(c->action, name);
	if (c->when) {
		diags_add(L->r.d, false, L->r.file, line, fcol, L->r.path.s,
		          "\"when\" is decided before the step runs, with no sample: \"%s\" cannot "
		          "be read there (a variable is vars.%s)", name, name);
	} else if (near) {
		diags_add(L->r.d, false, L->r.file, line, fcol, L->r.path.s,
		          "\"%s\" is not a field of %s samples (did you mean \"%s\"?)", name,
		          rb_action_desc(c->action), near);
	} else {
		char *list = rb_field_list(c->action);
		diags_add(L->r.d, false, L->r.file, line, fcol, L->r.path.s,
		          "\"%s\" is not a field of %s samples; they have %s", name,
		          rb_action_desc(c->action), list);
		free(list);
	}
}

/* The fields read by the expression x, parsed from the string node at key. */
static void check_expr_fields(struct loader *L, const cJSON *node, const char *key,
                              const struct expr *x, enum rb_action action, bool when)
{
	if (!x || !cJSON_IsString(node))
		return;
	size_t old = keys_push_key(&L->r, key);
	struct field_ctx c = {L, node, action, when};
	expr_foreach_field(x, field_use, &c);
	keys_pop(&L->r, old);
}

/*
 * Every field an expression of step s reads must be one its action's
 * samples have (RB_FIELDS): "stauts" on an http step, "status" on a
 * command, would otherwise be UNKNOWN at 2 a.m. instead of an error now.
 * `when` reads no sample at all.
 */
static void check_fields(struct loader *L, const cJSON *n, const struct rb_step *s)
{
	check_expr_fields(L, cJSON_GetObjectItemCaseSensitive(n, "when"), "when", s->when, s->action, true);
	if (s->action == RB_GROUP || s->action == RB_MANUAL || s->action == RB_ASK || s->action == RB_CALL)
		return; /* expect and the rest are refused there already */
	check_expr_fields(L, cJSON_GetObjectItemCaseSensitive(n, "expect"), "expect", s->expect, s->action, false);
	check_expr_fields(L, cJSON_GetObjectItemCaseSensitive(n, "warn"), "warn", s->warn, s->action, false);
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(n, "capture");
	if (s->ncaptures && cJSON_IsObject(cap)) {
		size_t old = keys_push_key(&L->r, "capture");
		for (size_t i = 0; i < s->ncaptures; i++)
			check_expr_fields(L, cJSON_GetObjectItemCaseSensitive(cap, s->captures[i].name),
			                  s->captures[i].name, s->captures[i].expr, s->action, false);
		keys_pop(&L->r, old);
	}
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(n, "repeat");
	if (s->repeat.until && cJSON_IsObject(rep)) {
		size_t old = keys_push_key(&L->r, "repeat");
		check_expr_fields(L, cJSON_GetObjectItemCaseSensitive(rep, "until"), "until", s->repeat.until,
		                  s->action, false);
		keys_pop(&L->r, old);
	}
}

static struct rb_step *read_step(struct loader *L, const cJSON *n, struct rb_step *parent,
                                 const char *number)
{
	if (!keys_want_object(&L->r, n, "a step object"))
		return NULL;
	if (++L->ses->total_steps > RB_MAX_STEPS) {
		keys_err(&L->r, n, "more than %d steps", RB_MAX_STEPS);
		L->too_many = true;
		return NULL;
	}
	struct rb_step *s = xcalloc(1, sizeof *s);
	s->parent = parent;
	s->runbook = L->rb;
	s->number = xstrdup(number);
	s->id = xstrdup(number);
	s->id_derived = true;
	s->path = xstrdup(L->r.path.s);
	s->retry_attempts = 0;
	json_doc_pos(L->r.doc, n, false, &s->line, &s->col);
	xgrow(&L->all, &L->allcap, L->nall + 1, sizeof *L->all);
	L->all[L->nall++] = s;
	L->rb->total_steps++;

	/* The action decides which other keys make sense: find it first. */
	const cJSON *act[2] = {NULL, NULL};
	size_t nact = 0;
	for (const cJSON *m = n->child; m; m = m->next) {
		for (size_t a = 0; a < RB_ACTION_COUNT; a++) {
			if (strcmp(actions[a].key, m->string) != 0)
				continue;
			/* A repeated key is reported as such, not as a second action. */
			if (nact == 1 && strcmp(act[0]->string, m->string) == 0)
				continue;
			if (nact == 0)
				s->action = (enum rb_action)a;
			if (nact < 2)
				act[nact] = m;
			nact++;
		}
	}
	if (nact == 0) {
		struct strbuf keys = {0};
		for (size_t a = 0; a < RB_ACTION_COUNT; a++)
			sb_addf(&keys, "%s%s", a ? ", " : "", actions[a].key);
		keys_err(&L->r, n, "step has no action: give one of %s", sb_borrow(&keys));
		sb_free(&keys);
	} else if (nact > 1) {
		size_t old = keys_push_key(&L->r, act[1]->string);
		keys_err_key(&L->r, act[1], "step has two actions, \"%s\" and \"%s\": give exactly one",
		        act[0]->string, act[1]->string);
		keys_pop(&L->r, old);
	}

	struct rb_step *saved = L->step;
	L->step = s;
	keys_walk(&L->r, n, step_keys, RBC_ARRAY_LEN(step_keys), NULL);
	L->step = s;
	keys_require(&L->r, n, "title", NULL);
	if (!s->title)
		s->title = xstrdup(s->id);
	if (nact == 1) {
		check_step_keys(L, n, s);
		prose_kind_keys(&L->r, n, s);
	}
	if (nact == 1)
		budget_step_read(&L->r, n, s);
	if (nact == 1)
		check_fields(L, n, s);
	L->step = saved;
	return s;
}

/* ------------------------------------------------------ top level */

static void r_runbook(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	L->rb->id = loader_get_id(L, m);
}

static void r_title(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	L->rb->title = keys_xtext(&L->r, m);
}

static void r_description(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	free(L->rb->description);
	L->rb->description = prose_description(&L->r, m);
}

static void r_links(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	prose_links(&L->r, m, &L->rb->links, &L->rb->nlinks);
}

static void r_kind(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	if (!keys_want_string(&L->r, m))
		return;
	for (size_t k = 0; k < RB_KIND_COUNT; k++) {
		if (strcmp(kinds[k], m->valuestring) == 0) {
			L->rb->kind = (enum rb_kind)k;
			return;
		}
	}
	keys_err(&L->r, m, "unknown kind \"%s\" (expected pre-deploy, deploy, post-deploy, incident or other)",
	    m->valuestring);
	L->bad_kind = true;
}

static void r_schema(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_want_string(&L->r, m);
}

static void r_vars(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_vars(&L->r, m, &L->rb->vars, &L->rb->vardecls, &L->rb->nvardecls);
}

static void r_secrets(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct runbook *rb = L->rb;
	if (!keys_want_array(&L->r, m, false))
		return;
	rb->secrets = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *rb->secrets);
	struct named *names = NULL;
	size_t nnames = 0, cap = 0, i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		if (!keys_want_string(&L->r, c)) {
		} else if (!rb_var_name_ok(c->valuestring, strlen(c->valuestring))) {
			keys_err(&L->r, c, "invalid variable name \"%s\" (letters, digits and '_', not first a digit)",
			    c->valuestring);
		} else {
			rb->secrets[rb->nsecrets++] = xstrdup(c->valuestring);
			loader_named_add(L, &names, &nnames, &cap, c->valuestring, c);
		}
		keys_pop(&L->r, old);
	}
	loader_check_unique(L, names, nnames, "secret");
}

static void d_timeout(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_duration(&L->r, m, &L->rb->default_timeout_ms);
}

static void d_retry(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	get_retry(L, m, &L->rb->default_retry_attempts, &L->rb->default_retry_delay_ms);
}

static const struct keys_member default_keys[] = {{"timeout", d_timeout}, {"retry", d_retry}};

static void r_defaults(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	if (keys_want_object(&L->r, m, "an object with \"timeout\" and/or \"retry\""))
		keys_walk(&L->r, m, default_keys, RBC_ARRAY_LEN(default_keys), NULL);
}

/* A log field: text whose ${NAME} the exports fill from the run's record. */
static void log_text(struct loader *L, const cJSON *m, char **out)
{
	char *s = keys_xtext(&L->r, m);
	if (s && strstr(s, "${env:")) {
		keys_err(&L->r, m, "the log is filled from the run's record, which keeps variables, not the "
		          "environment: set a variable to ${env:…} in \"vars\" and name that");
		free(s);
		return;
	}
	*out = s;
}

static void l_version(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	log_text(L, m, &L->rb->log_version);
}

static void l_environment(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	log_text(L, m, &L->rb->log_environment);
}

static void l_production(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_bool(&L->r, m, &L->rb->log_production);
}

static const struct keys_member log_keys[] = {
	{"version", l_version}, {"environment", l_environment}, {"production", l_production}};

static void r_log(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	if (keys_want_object(&L->r, m, "an object with \"version\", \"environment\" and/or \"production\""))
		keys_walk(&L->r, m, log_keys, RBC_ARRAY_LEN(log_keys), NULL);
}

static void r_steps(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	read_steps(L, m, NULL, "", &L->rb->steps, &L->rb->nsteps);
}

static const struct keys_member root_keys[] = {
	{"$schema", r_schema}, {"runbook", r_runbook}, {"title", r_title},
	{"kind", r_kind}, {"description", r_description}, {"vars", r_vars},
	{"secrets", r_secrets}, {"defaults", r_defaults}, {"steps", r_steps},
	{"severities", ladder_severities}, {"roles", ladder_roles}, {"update_every", ladder_update_every},
	{"exit_criteria", ladder_exit_criteria}, {"log", r_log}, {"links", r_links},
	{"deadline", m_step_budget}, {"on_deadline", m_step_budget},
};

static void loader_free(struct loader *L)
{
	for (size_t i = 0; i < L->r.nuses; i++) {
		free(L->r.uses[i].name);
		free(L->r.uses[i].path);
	}
	free(L->r.uses);
	for (size_t i = 0; i < L->ngotos; i++)
		free(L->gotos[i].path);
	free(L->gotos);
	for (size_t i = 0; i < L->ndefined; i++)
		free(L->defined[i]);
	free(L->defined);
	for (size_t i = 0; i < L->nliterals; i++) {
		free(L->literals[i].name);
		free(L->literals[i].text);
		free(L->literals[i].path);
	}
	free(L->literals);
	free(L->all);
	sb_free(&L->r.path);
}

/* Parses and validates one runbook's text; the session tracks run: includes. */
static struct runbook *load_text(struct session *ses, const char *file, const char *buf,
                                 size_t len, struct rbc_diags *d)
{
	size_t errors_before = d->nerrors;
	/* A Markdown runbook reads into the same document (docs/markdown-runbooks.md). */
	struct json_doc *doc = md_is_markdown(file) ? md_doc_parse(file, buf, len, d)
	                                            : json_doc_parse(file, buf, len, d);
	if (!doc)
		return NULL;
	struct runbook *rb = xcalloc(1, sizeof *rb);
	rb->file = xstrdup(file);
	const char *slash = strrchr(file, '/');
	rb->dir = slash ? xstrndup(file, (size_t)(slash - file)) : xstrdup(".");
	if (!*rb->dir) {
		free(rb->dir);
		rb->dir = xstrdup("/");
	}
	rb->kind = RB_KIND_OTHER;
	struct loader L = {.r = {.doc = doc, .file = file, .d = d}, .rb = rb, .ses = ses, .read_steps = read_steps};
	const cJSON *root = json_doc_root(doc);
	if (!cJSON_IsObject(root)) {
		keys_err(&L.r, root, "a runbook is a JSON object, got %s", json_type_name(root));
	} else {
		keys_walk(&L.r, root, root_keys, RBC_ARRAY_LEN(root_keys), NULL);
		keys_require(&L.r, root, "runbook", "(the runbook's id)");
		keys_require(&L.r, root, "title", NULL);
		keys_require(&L.r, root, "steps", NULL);
		static const char *const incident_only[] = {"severities", "update_every", "exit_criteria"};
		for (size_t i = 0; i < RBC_ARRAY_LEN(incident_only); i++) {
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, incident_only[i]);
			if (k && rb->kind != RB_KIND_INCIDENT && !L.bad_kind) {
				size_t old = keys_push_key(&L.r, incident_only[i]);
				keys_err_key(&L.r, k, "\"%s\" is only for incident runbooks (this one is kind \"%s\")",
				        incident_only[i], rb_kind_name(rb->kind));
				keys_pop(&L.r, old);
			}
		}
		if (rb->kind == RB_KIND_INCIDENT)
			keys_require(&L.r, root, "severities", "(an incident runbook declares its ladder)");
		if (cJSON_GetObjectItemCaseSensitive(root, "on_deadline") && !cJSON_GetObjectItemCaseSensitive(root, "deadline"))
			keys_err(&L.r, root, "\"on_deadline\" needs a \"deadline\" on the runbook");
		crossref_ids(&L);
		crossref_gotos(&L);
		call_check_groups(&L.r, rb, L.all, L.nall);
		crossref_vars(&L);
		budget_finish(&L.r, rb, L.all, L.nall);
		crossref_defaults(&L);
		values_resolve(rb, NULL, false, d);
	}
	if (!rb->id)
		rb->id = xstrdup("?");
	if (!rb->title)
		rb->title = xstrdup(rb->id);
	loader_free(&L);
	json_doc_free(doc);
	if (d->nerrors > errors_before) {
		runbook_free(rb);
		return NULL;
	}
	return rb;
}


/*
 * Loads an included runbook once per session; a file already on the stack of
 * runbooks being loaded is a cycle. from_* locate the run: that names it.
 */
static struct runbook *load_file(struct session *ses, const char *path,
                                 struct rbc_diags *d, const char *from_file,
                                 unsigned from_line, unsigned from_col,
                                 const char *from_path)
{
	char *real = realpath(path, NULL);
	if (!real) {
		diags_add(d, false, from_file, from_line, from_col, from_path,
		          "cannot open runbook %s: %s", path, strerror(errno));
		return NULL;
	}
	for (size_t i = 0; i < ses->nstack; i++) {
		if (strcmp(ses->stack[i], real) != 0)
			continue;
		struct strbuf sb = {0};
		for (size_t k = i; k < ses->nstack; k++) {
			const char *b = strrchr(ses->stack[k], '/');
			sb_addf(&sb, "%s → ", b ? b + 1 : ses->stack[k]);
		}
		const char *b = strrchr(real, '/');
		sb_adds(&sb, b ? b + 1 : real);
		diags_add(d, false, from_file, from_line, from_col, from_path,
		          "runbooks include each other in a cycle: %s", sb.s);
		sb_free(&sb);
		free(real);
		return NULL;
	}
	/* Each file is loaded (and its problems reported) once per session. */
	for (size_t i = 0; i < ses->nloaded; i++) {
		if (strcmp(ses->loaded_paths[i], real) == 0) {
			free(real);
			return ses->loaded[i];
		}
	}
	for (size_t i = 0; i < ses->nfailed; i++) {
		if (strcmp(ses->failed[i], real) == 0) {
			free(real);
			return NULL;
		}
	}
	size_t len = 0;
	char *buf = read_file(path, JSON_MAX_BYTES, &len);
	if (!buf) {
		diags_add(d, false, from_file, from_line, from_col, from_path,
		          "cannot read runbook %s: %s", path, errno == EFBIG ? "file is larger than 64 MiB" : strerror(errno));
		free(real);
		return NULL;
	}
	xgrow(&ses->stack, &ses->stackcap, ses->nstack + 1, sizeof *ses->stack);
	ses->stack[ses->nstack++] = real;
	struct runbook *rb = load_text(ses, path, buf, len, d);
	ses->nstack--;
	free(buf);
	if (!rb) {
		xgrow(&ses->failed, &ses->failedcap, ses->nfailed + 1, sizeof *ses->failed);
		ses->failed[ses->nfailed++] = real;
		return NULL;
	}
	xgrow(&ses->loaded, &ses->loadedcap, ses->nloaded + 1, sizeof *ses->loaded);
	xgrow(&ses->loaded_paths, &ses->pathscap, ses->nloaded + 1, sizeof *ses->loaded_paths);
	ses->loaded[ses->nloaded] = rb;
	ses->loaded_paths[ses->nloaded++] = real;
	return rb;
}

/* Hands the included runbooks to top (or frees them when top failed). */
static struct runbook *session_end(struct session *ses, struct runbook *top)
{
	for (size_t i = 0; i < ses->nloaded; i++)
		free(ses->loaded_paths[i]);
	free(ses->loaded_paths);
	for (size_t i = 0; i < ses->nfailed; i++)
		free(ses->failed[i]);
	free(ses->failed);
	free(ses->stack);
	if (top) {
		top->includes = ses->loaded;
		top->nincludes = ses->nloaded;
	} else {
		for (size_t i = 0; i < ses->nloaded; i++)
			runbook_free(ses->loaded[i]);
		free(ses->loaded);
	}
	return top;
}

struct runbook *runbook_load_buffer(const char *file, const char *buf, size_t len,
                                    struct rbc_diags *d)
{
	struct session ses = {0};
	char *real = realpath(file, NULL);
	if (real) {
		ses.stack = xmalloc(sizeof *ses.stack);
		ses.stackcap = 1;
		ses.stack[ses.nstack++] = real;
	}
	size_t errors_before = d->nerrors;
	struct runbook *rb = load_text(&ses, file, buf, len, d);
	if (real)
		free(real);
	if (rb && d->nerrors > errors_before) {
		runbook_free(rb);
		rb = NULL;
	}
	return session_end(&ses, rb);
}

struct runbook *runbook_load(const char *path, struct rbc_diags *d)
{
	size_t len = 0;
	char *buf = read_file(path, JSON_MAX_BYTES, &len);
	if (!buf) {
		if (errno == EFBIG)
			diags_add(d, false, path, 0, 0, NULL, "file is larger than %u MiB",
			          JSON_MAX_BYTES / (1024 * 1024));
		else
			diags_add(d, false, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
		return NULL;
	}
	struct runbook *rb = runbook_load_buffer(path, buf, len, d);
	free(buf);
	return rb;
}

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


/* A text compared with a variable in an expression, at line:col of path. */
struct var_literal {
	char *name, *text, *path;
	unsigned line, col;
};

/* A goto: target, resolved once every id is known. */
struct goto_ref {
	struct rb_step *step;
	const char *target;   /* the step's on_fail_target or on_decline_target */
	const cJSON *node;
	char *path;
};

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

struct loader {
	struct keys_reader r;    /* first: the key handlers get &L->r (loader_of) */
	struct runbook *rb;
	struct session *ses;
	struct rb_step *step;    /* the step being read */
	struct rb_severity *sev; /* the severity being read */
	unsigned depth;
	bool too_many;
	bool bad_kind;           /* kind was given but invalid: do not second-guess it */
	struct rb_step **all;    /* every step, in document order */
	size_t nall, allcap;
	struct goto_ref *gotos;
	size_t ngotos, gotocap;
	struct var_literal *literals; /* texts compared with vars.NAME, checked
	                                 against its choices once vars are read */
	size_t nliterals, literalcap;
	char **defined;          /* capture names */
	size_t ndefined, definedcap;
	size_t nerrors_at_start;
};

/* The loader a key handler's reader belongs to (struct loader starts with it). */
static struct loader *loader_of(struct keys_reader *r)
{
	return (struct loader *)r;
}

static struct runbook *load_file(struct session *ses, const char *path,
                                 struct rbc_diags *d, const char *from_file,
                                 unsigned from_line, unsigned from_col,
                                 const char *from_path);

static bool is_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RB_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return false;
	}
	return true;
}


static char *get_id(struct loader *L, const cJSON *n)
{
	if (!keys_want_string(&L->r, n))
		return NULL;
	if (!is_id(n->valuestring)) {
		keys_err(&L->r, n, "invalid id \"%s\": use letters, digits, '_', '.', '-' (first a letter or digit), at most %d characters",
		    n->valuestring, RB_MAX_ID);
		return NULL;
	}
	return xstrdup(n->valuestring);
}

/* A name met in document order, for the uniqueness checks. */
struct named {
	const char *name;
	size_t idx;
	const cJSON *node;
	char *path;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void named_add(struct loader *L, struct named **v, size_t *n, size_t *cap,
                      const char *name, const cJSON *node)
{
	xgrow(v, cap, *n + 1, sizeof **v);
	(*v)[*n] = (struct named){name, *n, node, xstrdup(L->r.path.len ? L->r.path.s : "(root)")};
	(*n)++;
}

/*
 * Reports every repeated name in v as "<what> "<name>" … (first at L:C)"
 * at the later occurrence, in n log n; frees v.
 */
static void check_unique(struct loader *L, struct named *v, size_t n, const char *what)
{
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_named);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(v[i].name, v[first].name) != 0) {
			first = i;
			continue;
		}
		unsigned fl = 0, fc = 0, line = 0, col = 0;
		json_doc_pos(L->r.doc, v[first].node, false, &fl, &fc);
		json_doc_pos(L->r.doc, v[i].node, false, &line, &col);
		diags_add(L->r.d, false, L->r.file, line, col, v[i].path, "%s \"%s\" is given twice (first at %u:%u)",
		          what, v[i].name, fl, fc);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}


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
	char *id = get_id(L, m);
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
	L->rb->id = get_id(L, m);
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
			named_add(L, &names, &nnames, &cap, c->valuestring, c);
		}
		keys_pop(&L->r, old);
	}
	check_unique(L, names, nnames, "secret");
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

static void s_id(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	char *id = get_id(L, m);
	if (id) {
		free(sv->id);
		sv->id = id;
	}
}

static void s_name(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_severity *)t)->name = keys_text(&L->r, m);
}

static void s_description(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	if (keys_want_string(&L->r, m))
		((struct rb_severity *)t)->description = xstrdup(m->valuestring);
}

static void s_restore(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_duration(&L->r, m, &((struct rb_severity *)t)->restore_ms);
}

static void s_rpo(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	/* An RPO of zero ("no data loss") is meaningful. */
	const char *why;
	int64_t *ms = &((struct rb_severity *)t)->rpo_ms;
	if (!cJSON_IsString(m))
		keys_err(&L->r, m, "expected a duration such as \"4h\", got %s", json_type_name(m));
	else if (!units_parse_duration(m->valuestring, ms, &why))
		keys_err(&L->r, m, "bad duration \"%s\": %s", m->valuestring, why);
}

static void s_update_every(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	keys_duration(&L->r, m, &((struct rb_severity *)t)->update_every_ms);
}

/* An array of non-empty strings. */
static void get_strings(struct loader *L, const cJSON *m, char ***out, size_t *n)
{
	if (!keys_want_array(&L->r, m, false))
		return;
	*out = xcalloc((size_t)cJSON_GetArraySize(m), sizeof **out);
	size_t i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		char *s = keys_xtext(&L->r, c);
		if (s)
			(*out)[(*n)++] = s;
		keys_pop(&L->r, old);
	}
}

static void s_contacts(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	get_strings(L, m, &sv->contacts, &sv->ncontacts);
}

/* PagerDuty's word for the level: one of the four the Events API takes. */
static void s_pagerduty_severity(struct keys_reader *kr, const cJSON *m, void *t)
{
	static const char *const words[] = {"critical", "error", "warning", "info"};
	struct loader *L = loader_of(kr);
	if (!keys_want_string(&L->r, m))
		return;
	for (size_t i = 0; i < RBC_ARRAY_LEN(words); i++)
		if (strcmp(m->valuestring, words[i]) == 0) {
			((struct rb_severity *)t)->pagerduty_severity = xstrdup(words[i]);
			return;
		}
	keys_err(&L->r, m, "expected critical, error, warning or info, got \"%s\"", m->valuestring);
}

static void s_steps(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	struct rb_severity *sv = t;
	char *prefix = xasprintf("%s.", sv->id ? sv->id : "severity");
	read_steps(L, m, NULL, prefix, &sv->steps, &sv->nsteps);
	free(prefix);
}

static const struct keys_member severity_keys[] = {
	{"id", s_id}, {"name", s_name}, {"description", s_description}, {"restore", s_restore},
	{"rpo", s_rpo}, {"update_every", s_update_every}, {"contacts", s_contacts}, {"steps", s_steps},
	{"pagerduty_severity", s_pagerduty_severity},
};

static void r_severities(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct runbook *rb = L->rb;
	if (!keys_want_array(&L->r, m, true))
		return;
	rb->severities = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *rb->severities);
	struct named *names = NULL;
	size_t nnames = 0, cap = 0, i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		if (keys_want_object(&L->r, c, "a severity object with \"id\" and \"name\"")) {
			struct rb_severity *sv = &rb->severities[rb->nseverities++];
			/* The id numbers the procedure's steps: read it first. */
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
			if (id && cJSON_IsString(id) && is_id(id->valuestring))
				sv->id = xstrdup(id->valuestring);
			keys_walk(&L->r, c, severity_keys, RBC_ARRAY_LEN(severity_keys), sv);
			keys_require(&L->r, c, "id", NULL);
			keys_require(&L->r, c, "name", "(shown next to the level, e.g. \"Major\")");
			if (sv->id) {
				size_t o2 = keys_push_key(&L->r, "id");
				named_add(L, &names, &nnames, &cap, sv->id, id);
				keys_pop(&L->r, o2);
			}
		}
		keys_pop(&L->r, old);
	}
	check_unique(L, names, nnames, "severity id");
}

static void o_id(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_role *)t)->id = get_id(L, m);
}

static void o_name(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	((struct rb_role *)t)->name = keys_text(&L->r, m);
}

static void o_description(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	if (keys_want_string(&L->r, m))
		((struct rb_role *)t)->description = xstrdup(m->valuestring);
}

static const struct keys_member role_keys[] = {
	{"id", o_id}, {"name", o_name}, {"description", o_description},
};

static void r_roles(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	struct runbook *rb = L->rb;
	if (!keys_want_array(&L->r, m, false))
		return;
	rb->roles = xcalloc((size_t)cJSON_GetArraySize(m), sizeof *rb->roles);
	struct named *names = NULL;
	size_t nnames = 0, cap = 0, i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		struct rb_role *r = &rb->roles[rb->nroles];
		if (cJSON_IsString(c)) {
			r->id = get_id(L, c);
		} else if (keys_want_object(&L->r, c, "a role id or an object with \"id\"")) {
			keys_walk(&L->r, c, role_keys, RBC_ARRAY_LEN(role_keys), r);
			keys_require(&L->r, c, "id", NULL);
		}
		if (r->id) {
			named_add(L, &names, &nnames, &cap, r->id, c);
			rb->nroles++;
		} else {
			free(r->name);
			free(r->description);
			memset(r, 0, sizeof *r);
		}
		keys_pop(&L->r, old);
	}
	check_unique(L, names, nnames, "role id");
}

static void r_update_every(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	keys_duration(&L->r, m, &L->rb->update_every_ms);
}

static void r_exit_criteria(struct keys_reader *kr, const cJSON *m, void *t)
{
	struct loader *L = loader_of(kr);
	(void)t;
	get_strings(L, m, &L->rb->exit_criteria, &L->rb->nexit_criteria);
}

static const struct keys_member root_keys[] = {
	{"$schema", r_schema}, {"runbook", r_runbook}, {"title", r_title},
	{"kind", r_kind}, {"description", r_description}, {"vars", r_vars},
	{"secrets", r_secrets}, {"defaults", r_defaults}, {"steps", r_steps},
	{"severities", r_severities}, {"roles", r_roles}, {"update_every", r_update_every},
	{"exit_criteria", r_exit_criteria}, {"log", r_log}, {"links", r_links},
	{"deadline", m_step_budget}, {"on_deadline", m_step_budget},
};

/* ------------------------------------------------ cross-references */

/* Ids are unique across the runbook, severity procedures included. */
/* A step's id and its place in document order, sorted to find repeats. */
struct id_ref {
	const char *key;
	size_t idx;
};

/* Orders id_refs by id, then by place. */
static int cmp_id_ref(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void check_ids(struct loader *L)
{
	/* Sort a copy by id; neighbours with equal ids are duplicates. */
	if (L->nall < 2)
		return;
	struct id_ref *v = xmalloc(L->nall * sizeof *v);
	for (size_t i = 0; i < L->nall; i++)
		v[i] = (struct id_ref){L->all[i]->id, i};
	qsort(v, L->nall, sizeof *v, cmp_id_ref);
	for (size_t i = 1, f = 0; i < L->nall; i++) {
		if (strcmp(v[i].key, v[f].key) != 0) {
			f = i;
			continue;
		}
		/* v[f] is the first of the run: equal keys sort by position. */
		const struct rb_step *first = L->all[v[f].idx], *s = L->all[v[i].idx];
		const char *hint = s->id_derived ? "; this id is the step's position: give it an \"id\""
		                   : first->id_derived ? ", where it is that step's position: give that step an \"id\""
		                                       : "";
		diags_add(L->r.d, false, L->r.file, s->line, s->col, s->path,
		          "duplicate step id \"%s\" (first at %u:%u%s)", s->id, first->line, first->col, hint);
	}
	free(v);
}

static int cmp_stepid(const void *a, const void *b)
{
	return strcmp((*(struct rb_step *const *)a)->id, (*(struct rb_step *const *)b)->id);
}

static void check_gotos(struct loader *L)
{
	struct rb_step **sorted = xmalloc((L->nall ? L->nall : 1) * sizeof *sorted);
	if (L->nall)
		memcpy(sorted, L->all, L->nall * sizeof *sorted);
	if (L->nall > 1)
		qsort(sorted, L->nall, sizeof *sorted, cmp_stepid);
	size_t missing = 0;
	for (size_t i = 0; i < L->ngotos; i++) {
		struct goto_ref *g = &L->gotos[i];
		struct rb_step key = {.id = (char *)g->target}, *kp = &key;
		struct rb_step **hit = bsearch(&kp, sorted, L->nall, sizeof *sorted, cmp_stepid);
		/* Report at the path the goto: was read from. */
		keys_pop(&L->r, 0);
		sb_adds(&L->r.path, g->path);
		if (!hit) {
			/* Suggestions cost steps × targets: offer them for the first few. */
			const char *best = NULL;
			size_t bestd = 3;
			for (size_t k = 0; k < L->nall && missing < 20; k++) {
				size_t dd = str_distance(g->target, L->all[k]->id);
				if (dd < bestd) {
					bestd = dd;
					best = L->all[k]->id;
				}
			}
			missing++;
			if (best)
				keys_err(&L->r, g->node, "goto target \"%s\" does not exist (did you mean \"%s\"?)",
				    g->target, best);
			else
				keys_err(&L->r, g->node, "goto target \"%s\" does not exist", g->target);
		} else if (*hit == g->step) {
			keys_err(&L->r, g->node, "a step cannot goto itself");
		} else if (loop_goto_refused(g->step, *hit)) {
			keys_err(&L->r, g->node, "goto target \"%s\" is inside the loop \"%s\": its steps are reached "
			         "only through it (goto \"%s\")", g->target, loop_around(*hit)->id, loop_around(*hit)->id);
		}
		keys_pop(&L->r, 0);
	}
	free(sorted);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A name is defined by vars, secrets or a capture; names is sorted. */
static bool defined(char *const *names, size_t n, const char *name)
{
	return n && bsearch(&name, names, n, sizeof *names, cmp_str);
}

/*
 * A variable with choices compared with a text that is none of them
 * (`vars.STRATEGY == "bluegreen"`) would never be true, silently: refused,
 * with the nearest choice (docs/runbook-format.md, "Typed variables").
 */
static void check_choices(struct loader *L)
{
	struct rb_step **asks = NULL; /* the ask steps, looked up per literal */
	size_t nasks = 0, askcap = 0;
	for (size_t i = 0; i < L->nall && L->nliterals; i++)
		if (L->all[i]->action == RB_ASK) {
			xgrow(&asks, &askcap, nasks + 1, sizeof *asks);
			asks[nasks++] = L->all[i];
		}
	for (size_t i = 0; i < L->nliterals; i++) {
		struct var_literal *v = &L->literals[i];
		const struct rb_vardecl *decl = runbook_vardecl(L->rb, v->name);
		if (!decl)
			decl = ask_vardecl(asks, nasks, v->name);
		if (decl && decl->nchoices) {
			bool hit = false;
			for (size_t k = 0; k < decl->nchoices && !hit; k++)
				hit = strcmp(decl->choices[k], v->text) == 0;
			if (!hit) {
				struct strbuf list = {0};
				for (size_t k = 0; k < decl->nchoices; k++)
					sb_addf(&list, "%s\"%s\"", k ? ", " : "", decl->choices[k]);
				const char *near = rb_var_choice_suggest(decl, v->text);
				if (near)
					diags_add(L->r.d, false, L->r.file, v->line, v->col, v->path,
					          "\"%s\" is not one of the choices of %s (%s): did you mean \"%s\"?",
					          v->text, v->name, list.s, near);
				else
					diags_add(L->r.d, false, L->r.file, v->line, v->col, v->path,
					          "\"%s\" is not one of the choices of %s (%s)", v->text, v->name, list.s);
				sb_free(&list);
			}
		}
	}
	free(asks);
}

static void check_vars(struct loader *L)
{
	check_choices(L);
	/* One sorted list of every definition, so each use costs log n. */
	static const char *const run_vars[] = {
#define X(name) name,
		RB_RUN_VARS(X)
#undef X
	};
	size_t n = L->rb->vars.n + L->rb->nvardecls + L->rb->nsecrets + L->ndefined +
	           RBC_ARRAY_LEN(run_vars), k = 0;
	char **names = xmalloc(n * sizeof *names);
	for (size_t i = 0; i < RBC_ARRAY_LEN(run_vars); i++)
		names[k++] = (char *)run_vars[i];
	for (size_t i = 0; i < L->rb->vars.n; i++)
		names[k++] = L->rb->vars.keys[i];
	/* A declared variable without a default is defined: a run must give it. */
	for (size_t i = 0; i < L->rb->nvardecls; i++)
		names[k++] = L->rb->vardecls[i].name;
	for (size_t i = 0; i < L->rb->nsecrets; i++)
		names[k++] = L->rb->secrets[i];
	for (size_t i = 0; i < L->ndefined; i++)
		names[k++] = L->defined[i];
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < L->r.nuses; i++) {
		struct keys_var_use *u = &L->r.uses[i];
		if (!defined(names, n, u->name))
			diags_add(L->r.d, true, L->r.file, u->line, u->col, u->path,
			          "variable \"%s\" is not defined in vars, secrets or any capture (give it with --var %s=…)",
			          u->name, u->name);
	}
	free(names);
	const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(json_doc_root(L->r.doc), "secrets");
	size_t i = 0;
	for (const cJSON *c = secrets ? secrets->child : NULL; c; c = c->next, i++) {
		if (!cJSON_IsString(c) || !rb_kv_get(&L->rb->vars, c->valuestring))
			continue;
		keys_pop(&L->r, 0);
		sb_addf(&L->r.path, "secrets[%zu]", i);
		keys_err(&L->r, c, "\"%s\" is both a variable and a secret: secrets come only from the environment",
		    c->valuestring);
		keys_pop(&L->r, 0);
	}
}

/*
 * Gives every probe step its effective timeout and retry, so the engine
 * reads them from the step alone: the step's own, else the runbook's
 * defaults, else one attempt and a 1 s delay between attempts.
 */
static void apply_defaults(struct loader *L)
{
	struct runbook *rb = L->rb;
	if (rb->default_retry_attempts && !rb->default_retry_delay_ms)
		rb->default_retry_delay_ms = 1000;
	for (size_t i = 0; i < L->nall; i++) {
		struct rb_step *s = L->all[i];
		if (s->action == RB_GROUP || s->action == RB_MANUAL || s->action == RB_ASK)
			continue;
		if (!s->timeout_ms)
			s->timeout_ms = rb->default_timeout_ms;
		if (!s->retry_attempts) {
			s->retry_attempts = rb->default_retry_attempts ? rb->default_retry_attempts : 1;
			if (!s->retry_delay_ms)
				s->retry_delay_ms = rb->default_retry_delay_ms;
		}
		if (!s->retry_delay_ms)
			s->retry_delay_ms = 1000;
	}
}

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
	struct loader L = {.r = {.doc = doc, .file = file, .d = d}, .rb = rb, .ses = ses};
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
		check_ids(&L);
		check_gotos(&L);
		call_check_groups(&L.r, rb, L.all, L.nall);
		check_vars(&L);
		budget_finish(&L.r, rb, L.all, L.nall);
		apply_defaults(&L);
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

/*
 * console.c — the console: header, step tree, detail and output panes,
 * status bar, prompts and the help overlay, on ncursesw and the libuv loop.
 *
 * The screen is a function of the run's state: engine events only record
 * what they carry (output lines, captures) and mark the screen dirty; the
 * loop's prepare hook redraws at most once per turn, and output-only changes
 * at most every CONSOLE_THROTTLE_MS, so a step printing as fast as it can
 * never starves the keys. Keys are read from a uv_poll on stdin and
 * dispatched through one table (CONSOLE_KEYS), which also writes the help.
 */
#include <curses.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "rbc/console.h"
#include "rbc/desk.h"
#include "rbc/export.h"
#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/outbuf.h"
#include "rbc/session.h"
#include "rbc/text.h"
#include "rbc/theme.h"
#include "rbc/units.h"

#define CONSOLE_THROTTLE_MS 40      /* output-only redraws, at most this often */
#define OUT_MAX_STEPS 64            /* steps whose output is kept in memory (outbuf.h: how much) */

/* ---- keys: one table dispatches them and writes the help ---------------- */

/* X(request, key, second key (0: none), keys as shown, what it does) */
#define CONSOLE_KEYS(X)                                                     \
	X(DOWN, 'j', KEY_DOWN, "j ↓", "next step / scroll down")              \
	X(UP, 'k', KEY_UP, "k ↑", "previous step / scroll up")                \
	X(PAGE_DOWN, KEY_NPAGE, 0, "PgDn", "a page down")                     \
	X(PAGE_UP, KEY_PPAGE, 0, "PgUp", "a page up")                         \
	X(TOP, 'g', KEY_HOME, "g Home", "first step / oldest line")           \
	X(BOTTOM, 'G', KEY_END, "G End", "last step / newest line")           \
	X(COLLAPSE, 'h', KEY_LEFT, "h ←", "fold group / go to group")         \
	X(EXPAND, 'l', KEY_RIGHT, "l →", "unfold the group")                  \
	X(RUN, '\r', KEY_ENTER, "Enter", "run the step or group")             \
	X(RUN_ALL, 'a', 0, "a", "run every remaining step")                   \
	X(DONE, ' ', 0, "Space", "manual step: done")                         \
	X(FAIL, 'f', 0, "f", "manual step: failed (why?)")                    \
	X(SKIP, 's', 0, "s", "skip, with a reason")                           \
	X(RERUN, 'r', 0, "r", "run the step again")                           \
	X(NOTE, 'n', 0, "n", "add a note (incident: to the timeline)")        \
	X(SEVERITY, 'S', 0, "S", "incident: declare / change severity")       \
	X(ROLE, 'o', 0, "o", "incident: assign a role")                       \
	X(DECISION, 'd', 0, "d", "incident: record a decision")               \
	X(TODO, 't', 0, "t", "incident: add a todo")                          \
	X(UPDATE, 'u', 0, "u", "incident: status and update")                 \
	X(RESOLVE, 'R', 0, "R", "incident: resolve (exit criteria)")          \
	X(EXPORT, 'e', 0, "e", "export the deployment log")                   \
	X(SEARCH, '/', 0, "/", "search (again: next match)")                  \
	X(FOCUS, '\t', 0, "Tab", "steps ⇄ output")                            \
	X(HELP, '?', KEY_F(1), "? F1", "this help")                           \
	X(REDRAW, 12, 0, "Ctrl-L", "redraw the screen")                       \
	X(QUIT, 'q', 3, "q Ctrl-C", "quit (asks if running)")

enum request {
	REQ_NONE,
#define X(r, k1, k2, shown, help) REQ_##r,
	CONSOLE_KEYS(X)
#undef X
};

static const struct keydef {
	enum request req;
	int k1, k2;
	const char *shown, *help;
} keydefs[] = {
#define X(r, k1, k2, shown, help) {REQ_##r, k1, k2, shown, help},
	CONSOLE_KEYS(X)
#undef X
};

/* ---- per-step state of the console ----------------------------------------- */

struct ui {
	struct outbuf out;
	bool evicted;             /* its output was dropped to bound memory: the spool has it */
	char **caps;              /* "NAME = value" */
	size_t ncaps;
	bool collapsed;
	bool shown_done;          /* its end has reached the screen: the journal holds it */
	bool kept;                /* its output is among the OUT_MAX_STEPS kept */
	bool asked;               /* its wait for the operator has reached the screen */
};

enum prompt { PROMPT_NONE, PROMPT_NOTE, PROMPT_SKIP, PROMPT_FAIL, PROMPT_SEARCH,
	          PROMPT_CONFIRM, PROMPT_QUIT, PROMPT_INCIDENT };

/* What an incident prompt asks, in the order of its flows. */
enum inc_ask { ASK_NONE, ASK_SEVERITY, ASK_TITLE, ASK_IMPACT, ASK_NEW_SEVERITY, ASK_SEV_REASON,
	           ASK_ROLE, ASK_NOTE, ASK_DECISION, ASK_TODO, ASK_STATUS, ASK_UPDATE, ASK_RESOLVE,
	           ASK_CRITERION };

struct console {
	uv_loop_t *loop;
	struct session *s;        /* the run this console observes */
	struct engine *e;         /* the session's */
	const struct console_cfg *cfg; /* &cfg_copy */
	struct console_cfg cfg_copy; /* the caller's, with the session's journal */
	const char *operator;
	uv_poll_t input;
	uv_signal_t sig[4];
	uv_prepare_t prep;
	uv_timer_t tick, throttle;
	bool throttling;
	struct theme theme;
	attr_t attr[THEME_COUNT];
	int rows, cols;

	struct eng_step **vis;    /* the tree's visible rows */
	size_t nvis, capvis;
	size_t sel, top;
	bool focus_output;
	size_t out_back;          /* output: lines scrolled back from the newest */
	char *search;
	size_t search_hit;        /* lines back of the last match shown */

	enum prompt prompt;
	struct strbuf input_text;
	struct eng_step *prompt_step;
	bool help;
	char *message;            /* one line under the panes until the next key */

	struct eng_step **kept;   /* steps with output in memory, oldest first */
	size_t nkept;

	bool follow;              /* the selection follows the run (after a, Enter on a group) */
	struct eng_step *declined; /* a confirmation declined: its skip is said once recorded */
	const struct eng_step *phase; /* the runbook the run is in (NULL: the first) */
	bool dirty, bg_dirty, quitting, quit_when_done;
	bool started, finished;
	int64_t t_start, t_end;
	enum rbc_verdict verdict;

	/* e: the export, made in the thread pool (it reads the journal and
	   syncs a file: never on the loop thread). */
	uv_work_t export_work;
	bool exporting;
	char *export_path, *export_error;

	/* Incident mode: the session's incident desk and its incident (NULL
	   when the runbook is no incident runbook). */
	struct incident_desk *desk;
	const struct incident *inc;
	enum inc_ask ask;         /* PROMPT_INCIDENT: the question */
	char *ask_q;              /* …as shown */
	char *ask_sev, *ask_title, *ask_summary; /* answers gathered so far */
	char **ask_reasons;       /* R: one per exit criterion, NULL: met */
	size_t ask_crit;
};

static void set_message(struct console *c, const char *fmt, ...) RBC_PRINTF(2, 3);
static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err);

/* ---- time ---------------------------------------------------------------- */

/* The session's clock (RBC_TEST_NOW fixes it). */
static int64_t console_now(const struct console *c)
{
	return session_now(c->s);
}

/* ---- output kept in memory -------------------------------------------------- */

static struct ui *ui_of(struct eng_step *s)
{
	if (!s->ui)
		s->ui = xcalloc(1, sizeof(struct ui));
	return s->ui;
}

/* Keeps at most OUT_MAX_STEPS steps' output in memory; the oldest goes. */
static void keep_output(struct console *c, struct eng_step *s)
{
	struct ui *u = ui_of(s);
	if (u->kept)
		return;
	if (c->nkept == OUT_MAX_STEPS) {
		struct eng_step *old = c->kept[0];
		struct ui *ou = old->ui;
		outbuf_clear(&ou->out);
		ou->evicted = true;
		ou->kept = false;
		memmove(c->kept, c->kept + 1, (c->nkept - 1) * sizeof *c->kept);
		c->nkept--;
	}
	if (!c->kept)
		c->kept = xcalloc(OUT_MAX_STEPS, sizeof *c->kept);
	c->kept[c->nkept++] = s;
	u->kept = true;
	u->evicted = false;
}

static void out_add(struct console *c, struct eng_step *s, enum probe_stream st,
                    const char *data, size_t len)
{
	keep_output(c, s);
	outbuf_add(&ui_of(s)->out, st, data, len);
}

/* ---- drawing helpers ------------------------------------------------------- */

/*
 * Draws text at (y, x) in at most cols columns; returns the columns used.
 * Controls and invalid bytes become one replacement glyph each, never raw:
 * a command's output must not drive the terminal. Wide characters that do
 * not fit are left out whole.
 */
static int put(int y, int x, int cols, const char *s, size_t n, attr_t a)
{
	if (cols <= 0 || !s)
		return 0;
	attr_set(a, PAIR_NUMBER(a), NULL);
	move(y, x);
	int used = 0;
	size_t i = 0;
	while (i < n && s[i]) {
		uint32_t cp = (unsigned char)s[i];
		size_t l = cp < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		bool bad = !l || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0);
		if (!l)
			l = 1;
		int w = bad ? 1 : (int)utf8_cp_width(cp);
		if (used + w > cols)
			break;
		if (bad) {
			addstr(cp == '\t' ? " " : "\xef\xbf\xbd"); /* U+FFFD */
		} else if (w == 0 && used == 0) {
			/* a combining mark with nothing to combine with: skip */
		} else {
			addnstr(s + i, (int)l);
		}
		used += w;
		i += l;
	}
	return used;
}

static int puts_(int y, int x, int cols, const char *s, attr_t a)
{
	return s ? put(y, x, cols, s, strlen(s), a) : 0;
}

static void fill(int y, int x, int cols, attr_t a)
{
	attr_set(a, PAIR_NUMBER(a), NULL);
	for (int i = 0; i < cols; i++)
		mvaddch(y, x + i, ' ');
}

static int text_width(const char *s)
{
	return s ? (int)utf8_width(s, strlen(s)) : 0;
}

/* ---- step states ------------------------------------------------------------ */

/*
 * The state the screen shows: a step's end (its verdict, a skip, a cancel)
 * only once the event saying so has been delivered, that is once it is in
 * the journal on disk. Until then the step still shows as running.
 */
static enum eng_state shown_state(const struct eng_step *s)
{
	bool ended = s->state == ENG_DONE || s->state == ENG_SKIPPED || s->state == ENG_CANCELLED;
	if (ended && !(s->ui && ((const struct ui *)s->ui)->shown_done))
		return ENG_RUNNING;
	/* A group skipped (its `when` false) never reaches its steps: they are
	   skipped with it, as the run counts them. */
	if (s->state == ENG_PENDING && s->parent && shown_state(s->parent) == ENG_SKIPPED)
		return ENG_SKIPPED;
	return s->state;
}

static const char *glyph(const struct eng_step *s)
{
	switch (shown_state(s)) {
	case ENG_PENDING: return "○";
	case ENG_RUNNING: return "●";
	case ENG_WAITING: return "◆";
	case ENG_WATCHING: return "◉";
	case ENG_SKIPPED: return "⏭";
	case ENG_CANCELLED: return "⊘";
	case ENG_DONE:
		switch (s->verdict) {
		case RBC_VERDICT_PASS: return "✔";
		case RBC_VERDICT_WARN: return "⚠";
		case RBC_VERDICT_FAIL: return "✘";
		case RBC_VERDICT_UNKNOWN: return "?";
		case RBC_VERDICT_ERROR: return "!";
		}
	}
	return " ";
}

/* The state as a word (readable without colour). */
static const char *state_word(const struct eng_step *s)
{
	enum eng_state st = shown_state(s);
	if (st == ENG_DONE)
		return verdict_name(s->verdict);
	if (st == ENG_WAITING)
		return s->wait == ENG_WAIT_CONFIRM ? "CONFIRM?" : "WAITING";
	static const char *const words[] = {"PENDING", "RUNNING", "WAITING", "WATCHING", "DONE",
	                                    "SKIPPED", "CANCELLED"};
	return words[st];
}

static enum theme_element state_element(const struct eng_step *s)
{
	switch (shown_state(s)) {
	case ENG_PENDING: return THEME_STEP_PENDING;
	case ENG_RUNNING: return THEME_STEP_RUNNING;
	case ENG_WATCHING: return THEME_STEP_WATCHING;
	case ENG_WAITING: return THEME_STEP_WAITING;
	case ENG_SKIPPED: return THEME_STEP_SKIPPED;
	case ENG_CANCELLED: return THEME_STEP_CANCELLED;
	case ENG_DONE:
		switch (s->verdict) {
		case RBC_VERDICT_PASS: return THEME_STEP_PASS;
		case RBC_VERDICT_WARN: return THEME_STEP_WARN;
		case RBC_VERDICT_FAIL: return THEME_STEP_FAIL;
		case RBC_VERDICT_UNKNOWN: return THEME_STEP_UNKNOWN;
		case RBC_VERDICT_ERROR: return THEME_STEP_ERROR;
		}
	}
	return THEME_NORMAL;
}

static bool is_group(const struct eng_step *s)
{
	return !s->def || s->def->action == RB_GROUP;
}

/* Finished / total leaf steps below a group (on-demand ones not run left out). */
static void group_counts(const struct eng_step *s, size_t *done, size_t *total)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		const struct eng_step *c = s->children[i];
		if (is_group(c)) {
			if (c->def && c->def->on_demand && c->state == ENG_PENDING)
				continue;
			group_counts(c, done, total);
			continue;
		}
		if (c->def->on_demand && c->state == ENG_PENDING)
			continue;
		(*total)++;
		enum eng_state st = shown_state(c);
		if (st == ENG_DONE || st == ENG_SKIPPED || st == ENG_CANCELLED)
			(*done)++;
	}
}

static const char *step_label(const struct eng_step *s)
{
	return s->def ? s->def->number : s->rb->id;
}

/* ---- the tree's rows ----------------------------------------------------------- */

/* The severity procedure a node is (the engine's "L2-procedure" group),
   or SIZE_MAX. */
static size_t procedure_level(const struct console *c, const struct eng_step *s)
{
	if (!c->inc || !s->def || !s->parent || s->parent->def || s->rb != c->inc->rb || !s->def->on_demand)
		return SIZE_MAX;
	size_t lv = incident_severity_find(c->inc->rb, s->def->number);
	if (lv == SIZE_MAX)
		return SIZE_MAX;
	size_t n = strlen(s->def->number);
	return strncmp(s->def->id, s->def->number, n) == 0 && strcmp(s->def->id + n, "-procedure") == 0 ? lv : SIZE_MAX;
}

/* A level's procedure is in the tree once the incident has been at it. */
static bool procedure_shown(const struct console *c, const struct eng_step *s)
{
	size_t lv = procedure_level(c, s);
	if (lv == SIZE_MAX)
		return true;
	for (size_t i = 0; i < c->inc->nspans; i++)
		if (c->inc->spans[i].severity == lv)
			return true;
	return false;
}

static void vis_add(struct console *c, struct eng_step *s)
{
	if (!procedure_shown(c, s))
		return;
	xgrow(&c->vis, &c->capvis, c->nvis + 1, sizeof *c->vis);
	c->vis[c->nvis++] = s;
	if (is_group(s) && !(s->ui && ((struct ui *)s->ui)->collapsed))
		for (size_t i = 0; i < s->nchildren; i++)
			vis_add(c, s->children[i]);
}

static void build_rows(struct console *c)
{
	struct eng_step *keep = c->nvis ? c->vis[c->sel] : NULL;
	c->nvis = 0;
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		vis_add(c, tops[i]);
	c->sel = 0;
	for (size_t i = 0; keep && i < c->nvis; i++)
		if (c->vis[i] == keep)
			c->sel = i;
}

static struct eng_step *selected(struct console *c)
{
	return c->nvis ? c->vis[c->sel] : NULL;
}

/* The runbook (phase) node a step belongs to. */
static const struct eng_step *phase_of(const struct eng_step *s)
{
	while (s->parent)
		s = s->parent;
	return s;
}

static int depth_of(const struct eng_step *s)
{
	int d = 0;
	for (const struct eng_step *p = s->parent; p; p = p->parent)
		d++;
	return d;
}

/* ---- panes ------------------------------------------------------------------- */

struct layout {
	int tree_w, right_x, right_w, top, bottom, detail_h;
	int timeline_h;           /* incident mode: the timeline, above the output */
};

static struct layout layout_of(struct console *c)
{
	struct layout L;
	L.top = c->inc ? 3 : 1; /* incident mode: its line and the roles' under the header */
	L.bottom = c->rows - 2; /* last pane row; then the status row */
	L.tree_w = c->cols * 2 / 5;
	if (L.tree_w < 30)
		L.tree_w = c->cols < 60 ? c->cols / 2 : 30;
	L.right_x = L.tree_w;
	L.right_w = c->cols - L.tree_w;
	int h = L.bottom - L.top + 1;
	L.detail_h = h * 9 / 20;
	if (L.detail_h < 6)
		L.detail_h = h / 2;
	L.timeline_h = c->inc ? (h - L.detail_h) / 2 : 0;
	return L;
}

/* A frame in box-drawing characters (UTF-8, never the alternate charset:
   what the terminal shows is what a screen capture reads). */
static void box_(struct console *c, int y, int x, int h, int w, const char *title, bool focus)
{
	attr_t a = c->attr[focus ? THEME_BORDER_FOCUS : THEME_BORDER];
	attr_set(a, PAIR_NUMBER(a), NULL);
	for (int i = 1; i < w - 1; i++) {
		mvaddstr(y, x + i, "─");
		mvaddstr(y + h - 1, x + i, "─");
	}
	for (int i = 1; i < h - 1; i++) {
		mvaddstr(y + i, x, "│");
		mvaddstr(y + i, x + w - 1, "│");
	}
	mvaddstr(y, x, "┌");
	mvaddstr(y, x + w - 1, "┐");
	mvaddstr(y + h - 1, x, "└");
	mvaddstr(y + h - 1, x + w - 1, "┘");
	if (title) {
		mvaddstr(y, x + 1, " ");
		int used = puts_(y, x + 2, w - 5, title, c->attr[THEME_PANE_TITLE]);
		attr_set(a, PAIR_NUMBER(a), NULL);
		mvaddstr(y, x + 2 + used, " ");
	}
}

static bool any_waiting(const struct eng_step *s)
{
	if (s->state == ENG_WAITING)
		return true;
	for (size_t i = 0; i < s->nchildren; i++)
		if (any_waiting(s->children[i]))
			return true;
	return false;
}

/* Production is said loudly: the header turns to header.alert. */
static bool is_production(const char *env)
{
	static const char *const names[] = {"production", "prod", "prd", "本番", "本番環境"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(names); i++)
		if (strcasecmp(env, names[i]) == 0)
			return true;
	return false;
}

static void draw_header(struct console *c)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	/* The phase the run is in, and its environment (else the first
	   runbook's: a later phase that does not say keeps the alert). */
	const struct eng_step *ph = c->phase ? c->phase : tops[0];
	char *env = engine_var(c->e, ph, "ENVIRONMENT");
	if (!env)
		env = engine_var(c->e, ph, "ENV");
	if (!env && ph != tops[0] && !(env = engine_var(c->e, tops[0], "ENVIRONMENT")))
		env = engine_var(c->e, tops[0], "ENV");
	/* A record that cannot be written is said as loudly as production. */
	const char *lost = journal_error(c->cfg->journal);
	attr_t a = c->attr[lost || (env && is_production(env)) ? THEME_HEADER_ALERT : THEME_HEADER];
	fill(0, 0, c->cols, a);
	struct strbuf sb = {0};
	sb_addf(&sb, " rbc · %s", ph->rb->id);
	if (env) {
		char *m = engine_mask(c->e, env);
		sb_addf(&sb, " · env %s", m);
		free(m);
		free(env);
	}
	sb_addf(&sb, " · operator %s", c->operator);
	puts_(0, 0, c->cols, sb_borrow(&sb), a);
	sb_free(&sb);

	size_t jobs = engine_jobs(c->e);
	bool waiting = false;
	for (size_t i = 0; i < n && !waiting; i++)
		waiting = any_waiting(tops[i]);
	int64_t end = c->finished ? c->t_end : console_now(c);
	int64_t el = c->started ? (end - c->t_start) / 1000 : 0;
	if (el < 0)
		el = 0;
	char right[96], fin[48] = "■ finished";
	if (c->finished) {
		struct eng_counts k;
		engine_counts(c->e, &k);
		/* The verdict the exit status will give: a run that ended with steps
		   not reached (stopped after a rollback) passed nothing. */
		enum rbc_verdict v = engine_verdict(c->e);
		if ((k.pending || k.running || k.cancelled) && (v == RBC_VERDICT_PASS || v == RBC_VERDICT_WARN))
			v = RBC_VERDICT_UNKNOWN;
		snprintf(fin, sizeof fin, "■ finished %s", verdict_name(v));
	}
	const char *what = lost       ? "RECORD LOST"
	                   : c->finished ? fin
	                   : jobs      ? "▶ running"
	                   : waiting   ? "◆ your turn"
	                   : c->started ? "‖ paused"
	                                : "ready";
	if (jobs && !c->finished)
		snprintf(right, sizeof right, "%s %zu · %02lld:%02lld:%02lld ", what, jobs,
		         (long long)(el / 3600), (long long)(el / 60 % 60), (long long)(el % 60));
	else
		snprintf(right, sizeof right, "%s · %02lld:%02lld:%02lld ", what, (long long)(el / 3600),
		         (long long)(el / 60 % 60), (long long)(el % 60));
	int w = text_width(right);
	if (w < c->cols)
		puts_(0, c->cols - w, w, right, a);
}

static void draw_tree(struct console *c, const struct layout *L)
{
	int h = L->bottom - L->top + 1;
	box_(c, L->top, 0, h, L->tree_w, "Steps", !c->focus_output);
	int rows = h - 2, inner = L->tree_w - 2;
	if (rows <= 0 || inner <= 4)
		return;
	if (c->sel < c->top)
		c->top = c->sel;
	if (c->sel >= c->top + (size_t)rows)
		c->top = c->sel - (size_t)rows + 1;
	for (int r = 0; r < rows; r++) {
		size_t i = c->top + (size_t)r;
		int y = L->top + 1 + r;
		if (i >= c->nvis)
			break;
		struct eng_step *s = c->vis[i];
		bool sel = i == c->sel;
		attr_t base = sel ? c->attr[c->focus_output ? THEME_SELECTION_UNFOCUSED : THEME_SELECTION]
		                  : c->attr[is_group(s) ? THEME_GROUP : THEME_NORMAL];
		fill(y, 1, inner, base);
		int x = 1, d = depth_of(s);
		x += put(y, x, inner, "                                                  ",
		         (size_t)(d * 2 > 40 ? 40 : d * 2), base);
		if (is_group(s))
			x += puts_(y, x, inner - (x - 1), s->ui && ((struct ui *)s->ui)->collapsed ? "▸ " : "▾ ", base);
		else
			x += puts_(y, x, inner - (x - 1), "  ", base);
		x += puts_(y, x, inner - (x - 1), glyph(s), sel ? base : c->attr[state_element(s)]);
		x += puts_(y, x, inner - (x - 1), " ", base);
		char count[32] = "";
		if (is_group(s)) {
			size_t done = 0, total = 0;
			group_counts(s, &done, &total);
			snprintf(count, sizeof count, " %zu/%zu", done, total);
		}
		int cw = text_width(count);
		struct strbuf t = {0};
		sb_addf(&t, "%s %s", step_label(s), s->title ? s->title : "");
		int room = inner - (x - 1) - cw;
		int tw = text_width(sb_borrow(&t));
		if (tw > room && room > 1) {
			put(y, x, room - 1, t.s, t.len, base);
			puts_(y, x + room - 1 - 0, 1, "…", base);
			/* put() may have used fewer columns than room - 1 (a wide
			   character left out): the ellipsis goes right after */
		} else {
			put(y, x, room, t.s, t.len, base);
		}
		sb_free(&t);
		if (cw)
			puts_(y, 1 + inner - cw, cw, count, base);
	}
}

/* Wraps text into lines of at most w columns; calls fn for each. */
static int wrap(const char *text, int w, int max_lines,
                void (*fn)(void *ud, const char *s, size_t n, int i), void *ud)
{
	int lines = 0;
	const char *p = text ? text : "";
	size_t n = strlen(p);
	while (lines < max_lines) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		size_t take = utf8_fit(p, seg, (size_t)w, NULL);
		if (take < seg) {
			/* break at the last space that fits, if any */
			size_t sp = take;
			while (sp > 0 && p[sp] != ' ')
				sp--;
			if (sp > take / 2)
				take = sp;
		}
		if (take == 0 && seg > 0)
			take = 1;
		fn(ud, p, take, lines++);
		p += take;
		n -= take;
		if (n && (*p == ' ' || *p == '\n')) {
			p++;
			n--;
		}
		if (!n)
			break;
	}
	return lines;
}

struct detail_ctx {
	struct console *c;
	int y, x, w, ymax;
	attr_t a;
};

static void detail_line(void *ud, const char *s, size_t n, int i)
{
	(void)i;
	struct detail_ctx *d = ud;
	if (d->y > d->ymax)
		return;
	put(d->y++, d->x, d->w, s, n, d->a);
}

/* A label (in la) and its text (in a), wrapped under the label's end. */
static void detail_text2(struct detail_ctx *d, const char *label, attr_t la, const char *text, attr_t a)
{
	if (d->y > d->ymax || !text)
		return;
	int lw = 0;
	if (label) {
		lw = puts_(d->y, d->x, d->w, label, la);
		lw += puts_(d->y, d->x + lw, d->w - lw, " ", la);
	}
	struct detail_ctx in = *d;
	in.x = d->x + lw;
	in.w = d->w - lw;
	in.a = a;
	wrap(text, in.w, d->ymax - d->y + 1, detail_line, &in);
	d->y = in.y;
}

static void detail_text(struct detail_ctx *d, const char *label, const char *text, attr_t a)
{
	detail_text2(d, label, d->c->attr[THEME_DETAIL_LABEL], text, a);
}

/* What the step does, with its variables expanded and secrets masked. */
static char *action_text(struct console *c, const struct eng_step *s)
{
	const struct rb_step *d = s->def;
	if (!d)
		return xasprintf("runbook %s (%s)", s->rb->file, rb_kind_name(s->rb->kind));
	struct strbuf sb = {0};
	switch (d->action) {
	case RB_GROUP: sb_addf(&sb, "group of %zu%s", d->nchildren, d->parallel ? ", in parallel" : ""); break;
	case RB_MANUAL: sb_addf(&sb, "manual: %s", s->wait_text ? s->wait_text : d->manual); break;
	case RB_RUN:
	case RB_NAGIOS: sb_addf(&sb, "%s$ %s", d->action == RB_NAGIOS ? "plugin " : "", d->cmd.command); break;
	case RB_HTTP: sb_addf(&sb, "%s %s", d->http.method ? d->http.method : "GET", d->http.url); break;
	case RB_SQL: sb_addf(&sb, "SQL %s", d->sql.query); break;
	case RB_DNS: sb_addf(&sb, "DNS %s %s", d->dns.type ? d->dns.type : "any", d->dns.name); break;
	case RB_TCP: sb_addf(&sb, "TCP %s:%d", d->tcp.host, d->tcp.port); break;
	case RB_PROMETHEUS: sb_addf(&sb, "PromQL %s at %s", d->prom.query, d->prom.url); break;
	default: break;
	}
	/* ${NAME} as far as known now, masked. */
	char *shown = NULL;
	struct strbuf out = {0};
	const char *t = sb_borrow(&sb);
	for (const char *p = t; *p;) {
		const char *dl = strstr(p, "${");
		const char *end = dl ? strchr(dl + 2, '}') : NULL;
		if (!dl || !end || d->action == RB_RUN || d->action == RB_NAGIOS) {
			sb_adds(&out, p);
			break;
		}
		sb_add(&out, p, (size_t)(dl - p));
		char *name = xstrndup(dl + 2, (size_t)(end - dl - 2));
		char *v = strncmp(name, "env:", 4) == 0 ? (getenv(name + 4) ? xstrdup(getenv(name + 4)) : NULL)
		                                        : engine_var_shown(c->e, s, name);
		if (v)
			sb_adds(&out, v);
		else
			sb_add(&out, dl, (size_t)(end + 1 - dl));
		free(v);
		free(name);
		p = end + 1;
	}
	shown = engine_mask(c->e, sb_borrow(&out));
	sb_free(&out);
	sb_free(&sb);
	return shown;
}

/* The variables a command reads ($NAME or ${NAME}) that have a value now,
   as "NAME=value" (masked), or NULL when none. */
static char *command_vars(struct console *c, const struct eng_step *s, const char *cmd)
{
	struct strbuf sb = {0};
	for (const char *p = cmd; p && (p = strchr(p, '$'));) {
		p++;
		bool brace = *p == '{';
		const char *n = p + brace;
		size_t len = 0;
		while ((n[len] >= 'A' && n[len] <= 'Z') || (n[len] >= 'a' && n[len] <= 'z') || n[len] == '_' ||
		       (len && n[len] >= '0' && n[len] <= '9'))
			len++;
		if (!len)
			continue;
		char *name = xstrndup(n, len);
		char seen[512];
		int sl = snprintf(seen, sizeof seen, "  %s=", name);
		bool dup = sb.s && (strncmp(sb.s, seen + 2, (size_t)sl - 2) == 0 || strstr(sb.s, seen));
		char *v = dup ? NULL : engine_var_shown(c->e, s, name);
		if (v)
			sb_addf(&sb, "%s%s=%s", sb.len ? "  " : "", name, v);
		free(v);
		free(name);
		p = n + len;
	}
	if (!sb.len) {
		sb_free(&sb);
		return NULL;
	}
	char *m = engine_mask(c->e, sb_borrow(&sb));
	sb_free(&sb);
	return m;
}


static void draw_detail(struct console *c, const struct layout *L)
{
	struct eng_step *s = selected(c);
	char title[512];
	snprintf(title, sizeof title, "%s %s", s ? step_label(s) : "", s && s->title ? s->title : "");
	box_(c, L->top, L->right_x, L->detail_h, L->right_w, title, false);
	if (!s)
		return;
	struct detail_ctx d = {.c = c, .y = L->top + 1, .x = L->right_x + 2, .w = L->right_w - 4,
	                       .ymax = L->top + L->detail_h - 2, .a = c->attr[THEME_DETAIL_VALUE]};
	char *act = action_text(c, s);
	detail_text(&d, NULL, act, c->attr[THEME_DETAIL_VALUE]);
	free(act);
	const struct rb_step *def = s->def;
	if (def && (def->action == RB_RUN || def->action == RB_NAGIOS)) {
		char *vars = command_vars(c, s, def->cmd.command);
		detail_text(&d, "with", vars, c->attr[THEME_DETAIL_VALUE]);
		free(vars);
	}
	if (def && def->expect) {
		struct strbuf sb = {0};
		sb_addf(&sb, "%s", expr_source(def->expect));
		if (def->warn)
			sb_addf(&sb, "  warn %s", expr_source(def->warn));
		detail_text(&d, "expect", sb_borrow(&sb), c->attr[THEME_DETAIL_VALUE]);
		sb_free(&sb);
	} else if (def && def->warn) {
		detail_text(&d, "warn", expr_source(def->warn), c->attr[THEME_DETAIL_VALUE]);
	}
	if (def && def->confirm) {
		char *q = engine_mask(c->e, s->wait_text && s->wait == ENG_WAIT_CONFIRM ? s->wait_text : def->confirm);
		detail_text(&d, "confirm", q, c->attr[THEME_DETAIL_VALUE]);
		free(q);
	}
	/* The verdict, in words and glyph, and why. */
	struct strbuf v = {0};
	sb_addf(&v, "%s %s ", glyph(s), state_word(s));
	/* The explanation is part of the result: shown with it, once on disk. */
	const char *why = shown_state(s) == s->state && s->explain ? s->explain : "";
	detail_text2(&d, sb_borrow(&v), c->attr[state_element(s)], why, c->attr[THEME_EXPLAIN]);
	sb_free(&v);
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_MANUAL)
		detail_text(&d, NULL, "Space done · f failed · s skip · n note", c->attr[THEME_KEY_HINT]);
	struct ui *u = s->ui;
	for (size_t i = 0; u && i < u->ncaps; i++)
		detail_text(&d, "capture", u->caps[i], c->attr[THEME_DETAIL_VALUE]);
	if (s->operator || s->note) {
		struct strbuf sb = {0};
		sb_addf(&sb, "%s%s%s", s->operator ? s->operator : "", s->note ? ": " : "",
		        s->note ? s->note : "");
		detail_text(&d, "by", sb_borrow(&sb), c->attr[THEME_NOTE]);
		sb_free(&sb);
	}
	if (s->started) {
		char when[64], dur[32] = "";
		time_t t = (time_t)(s->started / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%H:%M:%S UTC", &tm);
		int64_t end = s->finished ? s->finished : console_now(c);
		units_format((double)(end - s->started), RBC_DIM_TIME, dur, sizeof dur);
		struct strbuf sb = {0};
		sb_addf(&sb, "started %s · %s", when, dur);
		if (s->attempt > 1 || (def && def->retry_attempts > 1))
			sb_addf(&sb, " · attempt %u of %d", s->attempt, def->retry_attempts);
		if (s->nsamples > 1 || s->samples_dropped)
			sb_addf(&sb, " · %zu samples", s->nsamples + s->samples_dropped);
		detail_text(&d, NULL, sb_borrow(&sb), c->attr[THEME_DETAIL_LABEL]);
		sb_free(&sb);
	}
	if (def && def->note) {
		char *m = engine_mask(c->e, def->note);
		detail_text(&d, "note", m, c->attr[THEME_NOTE]);
		free(m);
	}
	/* The prose of a runbook (its row) or of a severity (its procedure),
	   wrapped to the pane; put() shows its controls, never obeys them. */
	size_t lv = procedure_level(c, s);
	const char *prose = !def ? s->rb->description : lv != SIZE_MAX ? c->inc->rb->severities[lv].description : NULL;
	if (prose) {
		char *m = engine_mask(c->e, prose);
		detail_text(&d, NULL, m, c->attr[THEME_NOTE]);
		free(m);
	}
}

static bool line_matches(const char *line, const char *pat)
{
	return pat && *pat && strcasestr(line, pat) != NULL;
}

static size_t out_back_max(struct console *c, const struct eng_step *s);

static void draw_output(struct console *c, const struct layout *L)
{
	int y0 = L->top + L->detail_h + L->timeline_h, h = L->bottom - y0 + 1;
	struct eng_step *s = selected(c);
	char title[128] = "output";
	struct ui *u = s ? s->ui : NULL;
	size_t max = out_back_max(c, s);
	if (c->out_back > max)
		c->out_back = max;
	if (c->out_back)
		snprintf(title, sizeof title, "output · %zu line%s back", c->out_back, c->out_back == 1 ? "" : "s");
	if (c->search && *c->search)
		snprintf(title + strlen(title), sizeof title - strlen(title), " · /%s", c->search);
	box_(c, y0, L->right_x, h, L->right_w, title, c->focus_output);
	int rows = h - 2, w = L->right_w - 4, x = L->right_x + 2;
	if (rows <= 0 || !s)
		return;
	const struct outbuf *o = u ? &u->out : NULL;
	size_t n = o ? o->n : 0;
	/* Rows from the bottom: the newest line last, unless scrolled back. */
	size_t back = c->out_back;
	if (n && back > n - 1)
		back = n - 1;
	/* Lines no longer in memory are named on the first row, always: the
	   operator knows the pane does not show everything, and where the rest is. */
	unsigned long long earlier = o ? o->total - o->n : 0;
	bool marker = u && (earlier || u->evicted);
	int first = marker ? 1 : 0;
	/* Top-aligned while the lines fit, the newest at the bottom after that. */
	size_t fit = n - (n ? back : 0);
	int r = fit < (size_t)(rows - first) ? first + (int)fit - 1 : rows - 1;
	for (size_t i = back; r >= first && o && i < n; i++, r--) {
		int stream = PROBE_STDOUT;
		/* Masked again as drawn: a secret captured after the bytes came
		   (a token the command printed) is hidden in them too. */
		char *l = engine_mask(c->e, outbuf_line(o, i, &stream));
		attr_t a = c->attr[stream == PROBE_STDERR ? THEME_OUTPUT_STDERR : THEME_OUTPUT];
		if (line_matches(l, c->search))
			a = c->attr[i == c->search_hit ? THEME_SEARCH_CURRENT : THEME_SEARCH_MATCH];
		put(y0 + 1 + r, x, w, l, strlen(l), a);
		free(l);
	}
	if (marker) {
		char m[512];
		if (!n)
			snprintf(m, sizeof m, "output kept on disk: %s", s->spool_path ? s->spool_path : "(none)");
		else if (s->spool_path)
			snprintf(m, sizeof m, "…%llu lines earlier on disk: %s", earlier, s->spool_path);
		else
			snprintf(m, sizeof m, "…%llu lines earlier", earlier);
		puts_(y0 + 1, x, w, m, c->attr[THEME_OUTPUT_MARKER]);
	} else if (!n) {
		const char *none = s->state == ENG_PENDING ? "not run yet" : is_group(s) ? "" : "no output";
		puts_(y0 + 1, x, w, none, c->attr[THEME_OUTPUT_MARKER]);
	}
}

static void shown_counts(struct console *c, struct eng_counts *k)
{
	engine_counts_as(c->e, shown_state, k);
}

static bool any_running(const struct eng_step *s)
{
	enum eng_state st = shown_state(s);
	if (st == ENG_RUNNING || st == ENG_WATCHING)
		return !is_group(s);
	for (size_t i = 0; i < s->nchildren; i++)
		if (any_running(s->children[i]))
			return true;
	return false;
}

/* Idle: no job runs, and everything that happened is on the screen (and in
   the journal). A step waiting for the operator is not a job. */
static bool console_idle(struct console *c)
{
	if (engine_jobs(c->e) || journal_busy(c->cfg->journal) || c->exporting)
		return false;
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		if (any_running(tops[i]))
			return false;
	return true;
}

static void draw_status(struct console *c)
{
	int y = c->rows - 1;
	attr_t a = c->attr[THEME_STATUS];
	fill(y, 0, c->cols, a);
	if (c->prompt != PROMPT_NONE) {
		static const char *const ask[] = {"", "Note: ", "Skip reason: ", "Why did it fail? ", "/",
		                                  "", "Steps are running. Quit and stop them? [y/N] "};
		char q[512];
		if (c->prompt == PROMPT_CONFIRM) {
			snprintf(q, sizeof q, "%s [y/N] ", c->prompt_step && c->prompt_step->wait_text
			                                      ? c->prompt_step->wait_text : "Confirm?");
		} else if (c->prompt == PROMPT_INCIDENT) {
			snprintf(q, sizeof q, "%s", c->ask_q ? c->ask_q : "");
		} else {
			snprintf(q, sizeof q, "%s", ask[c->prompt]);
		}
		int used = puts_(y, 0, c->cols, q, c->attr[THEME_PROMPT]);
		used += puts_(y, used, c->cols - used, sb_borrow(&c->input_text), c->attr[THEME_PROMPT]);
		move(y, used < c->cols ? used : c->cols - 1);
		curs_set(1);
		return;
	}
	curs_set(0);
	struct eng_counts k;
	shown_counts(c, &k);
	size_t fin = k.done + k.skipped + k.cancelled;
	int barw = c->cols >= 100 ? 20 : 10;
	int filled = k.total ? (int)((size_t)barw * fin / k.total) : 0;
	int x = 1;
	for (int i = 0; i < barw; i++)
		x += puts_(y, x, 1, i < filled ? "█" : "░", c->attr[i < filled ? THEME_PROGRESS_DONE : THEME_PROGRESS_TODO]);
	struct strbuf sb = {0};
	sb_addf(&sb, " %zu/%zu", fin, k.total);
	static const char *const words[] = {"passed", "warn", "failed", "unknown", "error"};
	for (int v = 1; v < 5; v++)
		if (k.by_verdict[v])
			sb_addf(&sb, " · %zu %s", k.by_verdict[v], words[v]);
	if (c->message)
		sb_addf(&sb, " · %s", c->message);
	x += puts_(y, x, c->cols - x - 6, sb_borrow(&sb), a); /* 6: room for " idle" */
	sb_free(&sb);
	/* A journal that cannot be written is said until the end: the run goes
	   on, its record does not. */
	const char *jerr = journal_error(c->cfg->journal);
	if (jerr) {
		x += puts_(y, x, c->cols - x - 6, " · RECORD LOST: ", c->attr[THEME_ERROR]);
		x += puts_(y, x, c->cols - x - 6, jerr, c->attr[THEME_ERROR]);
	}
	/* The idle marker always has its place at the right end; the key hints
	   take what room is left, the longest set that fits. */
	static const char *const hints[] = {
		"  Enter run  a all  Space done  n note  ? help  q quit",
		"  Enter run  Space done  ? help  q quit",
		"  ? help  q quit",
	};
	bool idle = console_idle(c);
	const char *mark = idle ? " idle" : "     ";
	int mw = text_width(mark) + 1;
	int room = c->cols - mw - x;
	for (size_t i = 0; i < RBC_ARRAY_LEN(hints); i++) {
		int hw = text_width(hints[i]);
		if (hw <= room) {
			puts_(y, c->cols - mw - hw, hw, hints[i], c->attr[THEME_KEY_HINT]);
			break;
		}
	}
	if (idle)
		puts_(y, c->cols - mw, mw, mark, c->attr[THEME_IDLE]);
}

/* The help, written from the key table: one column when it fits, else two. */
static void draw_help(struct console *c)
{
	int n = (int)RBC_ARRAY_LEN(keydefs);
	int ncol = n + 4 <= c->rows - 2 ? 1 : 2;
	int per = (n + ncol - 1) / ncol;
	int colw = 38;
	int w = ncol * colw + 2, h = per + 4;
	if (w > c->cols - 2)
		w = c->cols - 2;
	if (h > c->rows - 2)
		h = c->rows - 2;
	colw = (w - 2) / ncol;
	int y = (c->rows - h) / 2, x = (c->cols - w) / 2;
	for (int r = 0; r < h; r++)
		fill(y + r, x, w, c->attr[THEME_HELP]);
	box_(c, y, x, h, w, "Keys", true);
	for (int i = 0; i < n; i++) {
		int row = i % per, col = i / per;
		if (row >= h - 4)
			continue;
		int kx = x + 2 + col * colw;
		puts_(y + 1 + row, kx, 9, keydefs[i].shown, c->attr[THEME_HELP_KEY]);
		puts_(y + 1 + row, kx + 10, colw - 11, keydefs[i].help, c->attr[THEME_HELP]);
	}
	char foot[256];
	snprintf(foot, sizeof foot, "any key closes · run %s", c->cfg->run_id ? c->cfg->run_id : "");
	puts_(y + h - 2, x + 2, w - 4, foot, c->attr[THEME_HELP]);
}

/* ---- incident mode: its lines under the header, its timeline ------------------- */

/* "L2 Major · investigating · impact 30m00s ago · …", coloured by the restore
   target: 50 % and 75 % of it gone, then BREACHED. */
static void draw_incident(struct console *c)
{
	const struct incident *in = c->inc;
	const struct runbook *rb = in->rb;
	attr_t a = c->attr[THEME_HEADER];
	fill(1, 0, c->cols, a);
	fill(2, 0, c->cols, c->attr[THEME_NORMAL]);
	if (in->severity == SIZE_MAX) {
		puts_(1, 0, c->cols, " incident not declared yet: S declares it (severity, title, impact start)",
		      c->attr[THEME_HEADER_ALERT]);
		return;
	}
	int64_t now = console_now(c);
	struct inc_clock k;
	incident_clock(in, now, &k);
	struct strbuf sb = {0};
	char *label = incident_severity_label(rb, in->severity);
	char *imp = incident_duration(k.since_impact), *dec = incident_duration(k.since_declared);
	sb_addf(&sb, " %s · %s · impact %s · declared %s", label, incident_status_name(in->status), imp, dec);
	int x = puts_(1, 0, c->cols, sb_borrow(&sb), c->attr[THEME_HEADER_ALERT]);
	sb_free(&sb);
	free(imp);
	free(dec);
	free(label);
	if (in->resolved && k.restore_ms > 0 && x < c->cols) {
		/* Over: how long it took against the level's target. */
		char *took = incident_duration(k.since_impact), *target = incident_duration(k.restore_ms);
		char t[128];
		snprintf(t, sizeof t, " · restored in %s, target %s%s", took, target,
		         k.target == INC_TARGET_BREACHED ? ": BREACHED" : ": met");
		puts_(1, x, c->cols - x, t, c->attr[k.target == INC_TARGET_BREACHED ? THEME_STEP_FAIL : THEME_STEP_PASS]);
		free(took);
		free(target);
	} else if (k.restore_ms > 0 && x < c->cols) {
		static const enum theme_element el[] = {THEME_HEADER, THEME_HEADER, THEME_STEP_WARN, THEME_STEP_FAIL,
		                                        THEME_HEADER_ALERT};
		attr_t ta = c->attr[el[k.target]];
		x += puts_(1, x, c->cols - x, " · restore ", a);
		int filled = (int)(k.fraction >= 1.0 ? 10 : k.fraction * 10);
		for (int i = 0; i < 10 && x < c->cols; i++)
			x += puts_(1, x, 1, i < filled ? "█" : "░", ta);
		char *left = incident_duration(k.restore_left < 0 ? -k.restore_left : k.restore_left);
		char t[96];
		if (k.target == INC_TARGET_BREACHED)
			snprintf(t, sizeof t, " BREACHED %s%s", left, k.restore_left ? " ago" : "");
		else
			snprintf(t, sizeof t, " %d%% %s left", (int)(k.fraction * 100), left);
		free(left);
		x += puts_(1, x, c->cols - x, t, ta);
	}
	if (k.update_due && x < c->cols) {
		char *d = incident_duration(k.update_due - now < 0 ? now - k.update_due : k.update_due - now);
		char t[64];
		snprintf(t, sizeof t, k.update_overdue ? " · update OVERDUE %s" : " · update in %s", d);
		free(d);
		puts_(1, x, c->cols - x, t, c->attr[k.update_overdue ? THEME_STEP_FAIL : THEME_HEADER]);
	}
	/* The roles and who holds them; unassigned ones said so. */
	struct strbuf r = {0};
	sb_addf(&r, " %s%s%s ·", in->id, in->title ? " " : "", in->title ? in->title : "");
	size_t held = 0, open = 0;
	for (size_t i = 0; i < rb->nroles; i++)
		if (in->holders[i])
			sb_addf(&r, "%s %s %s", held++ ? " ·" : "", rb->roles[i].name ? rb->roles[i].name : rb->roles[i].id,
			        in->holders[i]);
	for (size_t i = 0; i < rb->nroles; i++)
		if (!in->holders[i])
			sb_addf(&r, "%s%s", open++ ? ", " : held ? " · unassigned: " : " unassigned: ",
			        rb->roles[i].name ? rb->roles[i].name : rb->roles[i].id);
	if (!rb->nroles)
		sb_adds(&r, " no roles declared");
	puts_(2, 0, c->cols, sb_borrow(&r), c->attr[THEME_NORMAL]);
	sb_free(&r);
}

/* The timeline, newest first; while resolving, the exit criteria. */
static void draw_timeline(struct console *c, const struct layout *L)
{
	int y0 = L->top + L->detail_h, h = L->timeline_h;
	if (h < 3)
		return;
	const struct incident *in = c->inc;
	bool criteria = c->prompt == PROMPT_INCIDENT && (c->ask == ASK_RESOLVE || c->ask == ASK_CRITERION);
	char title[64];
	snprintf(title, sizeof title, criteria ? "exit criteria" : "timeline · %zu, newest first", in->nentries);
	box_(c, y0, L->right_x, h, L->right_w, title, false);
	int rows = h - 2, w = L->right_w - 4, x = L->right_x + 2;
	if (criteria) {
		for (size_t i = 0; i < in->rb->nexit_criteria && (int)i < rows; i++) {
			char *l = xasprintf("%s %zu. %s", i < c->ask_crit ? (c->ask_reasons[i] ? "✘" : "✔") : "○", i + 1,
			                    in->rb->exit_criteria[i]);
			puts_(y0 + 1 + (int)i, x, w, l, c->attr[i == c->ask_crit ? THEME_STEP_WAITING : THEME_NORMAL]);
			free(l);
		}
		return;
	}
	for (int r = 0; r < rows && (size_t)r < in->nentries; r++) {
		const struct inc_entry *e = &in->entries[in->nentries - 1 - (size_t)r];
		char *l = incident_entry_line(in->rb, e);
		puts_(y0 + 1 + r, x, w, l, c->attr[e->kind == INC_EV_SEVERITY || e->kind == INC_EV_TRIGGER ? THEME_STEP_WARN
		                                   : e->kind == INC_EV_RESOLVED                          ? THEME_STEP_PASS
		                                                                                          : THEME_NORMAL]);
		free(l);
	}
}

static void draw(struct console *c)
{
	c->dirty = c->bg_dirty = false;
	getmaxyx(stdscr, c->rows, c->cols);
	erase();
	if (c->rows < 10 || c->cols < 40) {
		puts_(0, 0, c->cols, "rbc: the terminal is too small (80×24 or more)", c->attr[THEME_ERROR]);
		refresh();
		return;
	}
	build_rows(c);
	struct layout L = layout_of(c);
	draw_header(c);
	if (c->inc)
		draw_incident(c);
	draw_tree(c, &L);
	draw_detail(c, &L);
	if (c->inc)
		draw_timeline(c, &L);
	draw_output(c, &L);
	if (c->help)
		draw_help(c);
	draw_status(c);
	refresh();
}

/* ---- redraw scheduling --------------------------------------------------------- */

static void throttle_cb(uv_timer_t *t)
{
	struct console *c = t->data;
	c->throttling = false;
	if (c->bg_dirty || c->dirty)
		draw(c);
}

static void prepare_cb(uv_prepare_t *p)
{
	struct console *c = p->data;
	if (c->dirty) {
		draw(c);
	} else if (c->bg_dirty && !c->throttling) {
		draw(c);
		c->throttling = true;
		uv_timer_start(&c->throttle, throttle_cb, CONSOLE_THROTTLE_MS, 0);
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct console *c = t->data;
	c->bg_dirty = true;
}

/* ---- engine events --------------------------------------------------------------- */

/* Puts the selection on s (expanding its groups). */
static void select_step(struct console *c, struct eng_step *s)
{
	for (struct eng_step *p = s->parent; p; p = p->parent)
		if (p->ui)
			((struct ui *)p->ui)->collapsed = false;
	build_rows(c);
	for (size_t i = 0; i < c->nvis; i++)
		if (c->vis[i] == s && c->sel != i) {
			c->sel = i;
			c->out_back = 0;
		}
}

static void open_confirm(struct console *c, struct eng_step *s)
{
	if (c->prompt != PROMPT_NONE)
		return;
	c->prompt = PROMPT_CONFIRM;
	c->prompt_step = s;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
	select_step(c, s); /* show the step that asks */
}

/* The next step waiting for a confirmation, if any (they queue). */
static struct eng_step *find_confirm(struct eng_step *s)
{
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_CONFIRM)
		return s;
	for (size_t i = 0; i < s->nchildren; i++) {
		struct eng_step *r = find_confirm(s->children[i]);
		if (r)
			return r;
	}
	return NULL;
}

/* The first manual step waiting for its answer, in the tree's order, once
   its wait is on the screen (the engine may be ahead of it). */
static struct eng_step *find_manual_wait(struct eng_step *s)
{
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_MANUAL && s->ui && ((struct ui *)s->ui)->asked)
		return s;
	for (size_t i = 0; i < s->nchildren; i++) {
		struct eng_step *r = find_manual_wait(s->children[i]);
		if (r)
			return r;
	}
	return NULL;
}

/* The selection is on a step waiting for the operator: following the run
   does not take it away (parallel branches asking at once, or starting
   beside it, would move the cursor from under the answering key). */
static bool turn_selected(struct console *c)
{
	const struct eng_step *s = selected(c);
	return s && s->state == ENG_WAITING;
}

/* An answer was given (a manual step, a confirmation) while other branches
   still wait: the cursor goes to the first of them, the next to answer. */
static void to_next_wait(struct console *c)
{
	if (!c->follow || turn_selected(c))
		return;
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	struct eng_step *w = NULL;
	for (size_t i = 0; i < n && !w; i++)
		w = find_manual_wait(tops[i]);
	if (w)
		select_step(c, w);
}

static void on_event(void *ud, const struct eng_event *ev)
{
	struct console *c = ud;
	switch (ev->type) {
	case ENG_EV_OUTPUT:
		out_add(c, ev->step, ev->stream, ev->data, ev->len);
		c->bg_dirty = true;
		return;
	case ENG_EV_SAMPLE:
		c->bg_dirty = true;
		return;
	case ENG_EV_CAPTURE:
		if (ev->value) {
			struct ui *u = ui_of(ev->step);
			u->caps = xrealloc(u->caps, (u->ncaps + 1) * sizeof *u->caps);
			u->caps[u->ncaps++] = xasprintf("%s = %s", ev->name, ev->value);
		}
		break;
	case ENG_EV_STEP_STARTED:
		if (c->finished) {
			/* A step run by hand after the end: the run goes on until it
			   ends again (RUN_FINISHED). */
			c->finished = false;
			uv_timer_start(&c->tick, tick_cb, 1000, 1000);
		}
		if (ev->run) /* the run's own flow: the header names its phase */
			c->phase = phase_of(ev->step);
		if (c->follow && ev->step->def && !is_group(ev->step) && !turn_selected(c))
			select_step(c, ev->step);
		ui_of(ev->step)->shown_done = false;
		ui_of(ev->step)->asked = false;
		if (ev->step->def && !is_group(ev->step)) {
			/* A new attempt's output starts afresh on screen (the spool keeps all). */
			struct ui *u = ui_of(ev->step);
			outbuf_clear(&u->out);
			for (size_t i = 0; i < u->ncaps; i++)
				free(u->caps[i]);
			u->ncaps = 0;
		}
		break;
	case ENG_EV_STEP_FINISHED:
		ui_of(ev->step)->shown_done = true;
		ui_of(ev->step)->asked = false;
		if (ev->step == c->declined) {
			c->declined = NULL;
			set_message(c, "%s %s %s: %s", step_label(ev->step), ev->step->title ? ev->step->title : "",
			            ev->step->state == ENG_SKIPPED ? "SKIPPED" : verdict_name(ev->verdict),
			            ev->text ? ev->text : "");
		}
		/* A manual step answered, a confirmation declined. */
		if (ev->step->def && (ev->step->def->action == RB_MANUAL || ev->step->state == ENG_SKIPPED))
			to_next_wait(c);
		/* A last line without a newline is still a line. */
		if (ev->step->ui)
			outbuf_flush(&((struct ui *)ev->step->ui)->out);
		break;
	case ENG_EV_CONFIRMED:
		to_next_wait(c); /* a confirmation said yes: the step runs on */
		break;
	case ENG_EV_NOTE:
		/* Passed on once its line is on disk; after a lost record, never. */
		if (journal_error(c->cfg->journal))
			set_message(c, "the note is not in the record: %s", journal_error(c->cfg->journal));
		else
			set_message(c, "note added");
		break;
	case ENG_EV_WAITING:
		ui_of(ev->step)->asked = true;
		if (ev->step->wait == ENG_WAIT_CONFIRM)
			open_confirm(c, ev->step);
		else if (c->follow && !turn_selected(c))
			select_step(c, ev->step); /* the operator's turn: show what to do */
		break;
	case ENG_EV_INCIDENT:
		/* The desk has applied it (and told the channels). */
		if (c->inc && c->inc->nentries) {
			const struct inc_entry *last = &c->inc->entries[c->inc->nentries - 1];
			/* A level reached: its procedure is in the tree now, selected
			   (Enter runs it). */
			if (last->kind == INC_EV_DECLARED || last->kind == INC_EV_SEVERITY) {
				char *id = xasprintf("%s-procedure", last->to);
				struct eng_step *p = engine_find(c->e, id);
				free(id);
				if (p) {
					build_rows(c);
					select_step(c, p);
				}
			}
		}
		break;
	case ENG_EV_RUN_STARTED:
		c->started = true;
		c->finished = false;
		c->t_start = ev->time;
		uv_timer_start(&c->tick, tick_cb, 1000, 1000);
		break;
	case ENG_EV_RUN_FINISHED:
		c->finished = true;
		c->t_end = ev->time;
		c->verdict = ev->verdict;
		uv_timer_stop(&c->tick);
		if (c->quit_when_done) {
			c->quitting = true;
			uv_stop(c->loop);
		}
		break;
	default:
		break;
	}
	c->dirty = true;
}

/* ---- keys ------------------------------------------------------------------------ */

static void set_message(struct console *c, const char *fmt, ...)
{
	free(c->message);
	va_list ap;
	va_start(ap, fmt);
	c->message = xvasprintf(fmt, ap);
	va_end(ap);
}

static void export_work_cb(uv_work_t *w)
{
	struct console *c = w->data;
	struct rbc_error err = {0};
	cJSON *doc = export_json(c->cfg->run_path, &err);
	char *text = doc ? cJSON_Print(doc) : NULL;
	cJSON_Delete(doc);
	char *md = text ? export_markdown(c->cfg->run_path, &err) : NULL;
	bool ok = text && md;
	if (ok) {
		char *withnl = xasprintf("%s\n", text);
		char *mdpath = xasprintf("%s/deployment-log.md", c->cfg->run_path);
		ok = export_write_file(c->export_path, withnl, &err) && export_write_file(mdpath, md, &err);
		free(withnl);
		free(mdpath);
	}
	if (!ok)
		c->export_error = xstrdup(err.msg ? err.msg : "the export failed");
	free(text);
	free(md);
	rbc_error_clear(&err);
}

static void export_after_cb(uv_work_t *w, int status)
{
	struct console *c = w->data;
	c->exporting = false;
	if (status && !c->export_error)
		c->export_error = xstrdup("the export was cancelled");
	free(c->message);
	c->message = c->export_error ? xasprintf("export: %s", c->export_error)
	                             : xstrdup("exported deployment-log.md + export.json");
	free(c->export_error);
	c->export_error = NULL;
	c->dirty = true;
}

/* e: the run's deployment log (Markdown) and its record (JSON), in its
   directory. */
static void start_export(struct console *c)
{
	if (!c->cfg->run_path) {
		set_message(c, "export: this run has no directory");
		return;
	}
	if (c->exporting) {
		set_message(c, "export: already under way");
		return;
	}
	free(c->export_path);
	c->export_path = xasprintf("%s/export.json", c->cfg->run_path);
	c->exporting = true;
	c->export_work.data = c;
	if (uv_queue_work(c->loop, &c->export_work, export_work_cb, export_after_cb) != 0) {
		c->exporting = false;
		set_message(c, "export: the thread pool refused the work");
		return;
	}
	set_message(c, "exporting…");
}

static void start_prompt(struct console *c, enum prompt p, struct eng_step *s)
{
	c->prompt = p;
	c->prompt_step = s;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
}

static void finish_quit(struct console *c)
{
	if (engine_busy(c->e)) {
		c->quit_when_done = true;
		engine_stop(c->e, "the operator quit");
		if (c->finished || !engine_busy(c->e))
			c->quitting = true;
	} else {
		c->quitting = true;
	}
}

/* ---- incident mode: the prompts of its actions ------------------------------- */

/* Asks q (taken) for the incident; the answer goes to incident_answer. */
static void ask(struct console *c, enum inc_ask a, char *q)
{
	start_prompt(c, PROMPT_INCIDENT, NULL);
	c->ask = a;
	free(c->ask_q);
	c->ask_q = q;
}

/* Journals what an action returned (the screen shows it once it is on
   disk), or says why it was refused. */
static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err)
{
	if (desk_record(c->desk, ev, err))
		return true;
	set_message(c, "%s", err->msg ? err->msg : "refused");
	rbc_error_clear(err);
	return false;
}

/* S on an incident not declared: its three questions. */
static void start_declare(struct console *c)
{
	ask(c, ASK_SEVERITY, desk_levels_question(c->inc->rb, "Declare the incident: severity"));
}

/* Asks again after a refusal, saying why first (the prompt has the status
   line: a message would not show). */
static void ask_again(struct console *c, const char *why)
{
	char *q = xasprintf("%s · %s", why, c->ask_q ? c->ask_q : "");
	ask(c, c->ask, q);
}

static void ask_free(struct console *c)
{
	free(c->ask_sev);
	free(c->ask_title);
	free(c->ask_summary);
	c->ask_sev = c->ask_title = c->ask_summary = NULL;
	for (size_t i = 0; c->ask_reasons && i < c->inc->rb->nexit_criteria; i++)
		free(c->ask_reasons[i]);
	free(c->ask_reasons);
	c->ask_reasons = NULL;
	c->ask_crit = 0;
}

/* The question for exit criterion i (R). */
static void ask_criterion(struct console *c)
{
	const struct runbook *rb = c->inc->rb;
	ask(c, ASK_CRITERION, xasprintf("Exit criterion %zu/%zu: %s — met? (y, or why it is resolved anyway): ",
	                                c->ask_crit + 1, rb->nexit_criteria, rb->exit_criteria[c->ask_crit]));
}

/* The resolution, once every criterion is answered. */
static void resolve_now(struct console *c)
{
	struct rbc_error err = {0};
	inc_record(c, incident_resolve(c->inc, (const char *const *)c->ask_reasons, c->inc->rb->nexit_criteria,
	                               c->ask_summary, console_now(c), c->operator, &err), &err);
	ask_free(c);
}

/* Enter (accept) or Esc in an incident prompt. */
static void incident_answer(struct console *c, const char *text, bool accept)
{
	const struct incident *in = c->inc;
	struct rbc_error err = {0};
	int64_t now = console_now(c);
	enum inc_ask a = c->ask;
	c->ask = ASK_NONE;
	if (!accept) {
		ask_free(c);
		set_message(c, a == ASK_SEVERITY || a == ASK_TITLE || a == ASK_IMPACT
		                   ? "not declared: S declares the incident"
		                   : "left as it was");
		return;
	}
	switch (a) {
	case ASK_SEVERITY: {
		const char *id = desk_level_of(in->rb, text);
		if (incident_severity_find(in->rb, id) == SIZE_MAX) {
			char *why = xasprintf("no severity \"%s\"", text);
			start_declare(c);
			ask_again(c, why);
			free(why);
			return;
		}
		free(c->ask_sev);
		c->ask_sev = xstrdup(id);
		ask(c, ASK_TITLE, xstrdup("Title of the incident: "));
		return;
	}
	case ASK_TITLE:
		if (!*text) {
			ask(c, ASK_TITLE, xstrdup("Title of the incident (it needs one): "));
			return;
		}
		free(c->ask_title);
		c->ask_title = xstrdup(text);
		ask(c, ASK_IMPACT, xstrdup("Impact started (UTC HH:MM, 15m for 15 minutes ago, ISO time; Enter: now): "));
		return;
	case ASK_IMPACT: {
		int64_t start = desk_impact_of(text, now);
		cJSON *ev = start ? incident_declare(in, c->ask_sev, c->ask_title, start, now, c->operator, &err) : NULL;
		if (!start)
			rbc_error_set(&err, "\"%s\" is no time (HH:MM, 15m, or 2026-12-04T01:50:00Z)", text);
		if (!ev) {
			ask(c, ASK_IMPACT, xstrdup("Impact started (UTC HH:MM, 15m ago, ISO time; Enter: now): "));
			ask_again(c, err.msg);
			rbc_error_clear(&err);
			return;
		}
		inc_record(c, ev, &err);
		ask_free(c);
		return;
	}
	case ASK_NEW_SEVERITY: {
		const char *id = desk_level_of(in->rb, text);
		if (incident_severity_find(in->rb, id) == SIZE_MAX || incident_severity_find(in->rb, id) == in->severity) {
			set_message(c, incident_severity_find(in->rb, id) == SIZE_MAX ? "no severity \"%s\"" : "already %s",
			            text);
			return;
		}
		free(c->ask_sev);
		c->ask_sev = xstrdup(id);
		char *l = incident_severity_label(in->rb, incident_severity_find(in->rb, id));
		ask(c, ASK_SEV_REASON, xasprintf("Why %s? ", l));
		free(l);
		return;
	}
	case ASK_SEV_REASON:
		inc_record(c, incident_change_severity(in, c->ask_sev, text, now, c->operator, &err), &err);
		ask_free(c);
		return;
	case ASK_ROLE: {
		const char *eq = strchr(text, '=');
		char *role = eq ? xstrndup(text, (size_t)(eq - text)) : xstrdup(text);
		inc_record(c, incident_assign(in, role, eq ? eq + 1 : c->operator, now, c->operator, &err), &err);
		free(role);
		return;
	}
	case ASK_NOTE:
		inc_record(c, incident_add(in, INC_EV_NOTE, text, now, c->operator, &err), &err);
		return;
	case ASK_DECISION:
		inc_record(c, incident_add(in, INC_EV_DECISION, text, now, c->operator, &err), &err);
		return;
	case ASK_TODO:
		inc_record(c, incident_add(in, INC_EV_TODO, text, now, c->operator, &err), &err);
		return;
	case ASK_STATUS: {
		enum inc_status st = in->status;
		if (*text && !incident_status_parse(text, &st)) {
			set_message(c, "no status \"%s\" (investigating, fixing, monitoring)", text);
			return;
		}
		if (st != in->status &&
		    !inc_record(c, incident_set_status(in, st, now, c->operator, &err), &err))
			return;
		ask(c, ASK_UPDATE, xstrdup("Status update (sent to the channels): "));
		return;
	}
	case ASK_UPDATE:
		inc_record(c, incident_add(in, INC_EV_UPDATE, text, now, c->operator, &err), &err);
		return;
	case ASK_RESOLVE:
		free(c->ask_summary);
		c->ask_summary = xstrdup(text);
		c->ask_crit = 0;
		c->ask_reasons = xcalloc(in->rb->nexit_criteria + 1, sizeof *c->ask_reasons);
		if (in->rb->nexit_criteria)
			ask_criterion(c);
		else
			resolve_now(c);
		return;
	case ASK_CRITERION:
		if (!*text) {
			ask_criterion(c);
			return;
		}
		if (strcmp(text, "y") != 0 && strcmp(text, "Y") != 0 && strcmp(text, "yes") != 0)
			c->ask_reasons[c->ask_crit] = xstrdup(text);
		if (++c->ask_crit < in->rb->nexit_criteria)
			ask_criterion(c);
		else
			resolve_now(c);
		return;
	case ASK_NONE:
		return;
	}
}

/* The incident keys: what each asks, or why it cannot. */
static void incident_key(struct console *c, enum request r)
{
	if (!c->inc) {
		set_message(c, "not an incident runbook: S, o, d, t, u and R act on incidents");
		return;
	}
	if (c->inc->severity == SIZE_MAX) {
		if (r == REQ_SEVERITY)
			start_declare(c);
		else
			set_message(c, "declare the incident first: S");
		return;
	}
	if (c->inc->status == INC_RESOLVED) {
		set_message(c, "the incident is resolved");
		return;
	}
	const struct runbook *rb = c->inc->rb;
	switch (r) {
	case REQ_SEVERITY: {
		char *l = incident_severity_label(rb, c->inc->severity);
		char *lead = xasprintf("New severity, now %s", l);
		ask(c, ASK_NEW_SEVERITY, desk_levels_question(rb, lead));
		free(lead);
		free(l);
		break;
	}
	case REQ_ROLE: {
		struct strbuf sb = {0};
		sb_adds(&sb, "Assign ROLE=NAME (ROLE alone: you; ROLE=: unassigned; ");
		for (size_t i = 0; i < rb->nroles; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", rb->roles[i].id);
		sb_adds(&sb, "): ");
		ask(c, ASK_ROLE, sb_take(&sb));
		break;
	}
	case REQ_NOTE:
		ask(c, ASK_NOTE, xstrdup("Timeline note: "));
		break;
	case REQ_DECISION:
		ask(c, ASK_DECISION, xstrdup("Decision: "));
		break;
	case REQ_TODO:
		ask(c, ASK_TODO, xstrdup("Todo: "));
		break;
	case REQ_UPDATE:
		ask(c, ASK_STATUS, xasprintf("Status, now %s (investigating, fixing, monitoring; Enter: keep): ",
		                             incident_status_name(c->inc->status)));
		break;
	case REQ_RESOLVE:
		ask(c, ASK_RESOLVE, xstrdup("Resolve: summary of the resolution: "));
		break;
	default:
		break;
	}
}

/* Enter in a prompt. */
static void prompt_done(struct console *c, bool accept)
{
	enum prompt p = c->prompt;
	struct eng_step *s = c->prompt_step;
	char *text = xstrdup(sb_borrow(&c->input_text));
	c->prompt = PROMPT_NONE;
	c->prompt_step = NULL;
	switch (p) {
	case PROMPT_NOTE:
		/* Said once the note's line is on disk, or that it never will be
		   (on_event, ENG_EV_NOTE). */
		if (accept && *text && s && !engine_note(c->e, s, text, c->operator))
			set_message(c, "the note is not in the record: %s", journal_error(c->cfg->journal)
			                                                      ? journal_error(c->cfg->journal)
			                                                      : "the record is lost");
		break;
	case PROMPT_SKIP:
		if (accept && s) {
			if (!engine_answer(c->e, s, ENG_ANSWER_SKIP, *text ? text : NULL, c->operator))
				set_message(c, "only a manual step can be skipped here");
		}
		break;
	case PROMPT_FAIL:
		if (accept && s && !engine_answer(c->e, s, ENG_ANSWER_FAIL, *text ? text : NULL, c->operator))
			set_message(c, "only a manual step can be marked failed");
		break;
	case PROMPT_SEARCH:
		if (accept) {
			if (*text) {
				free(c->search);
				c->search = xstrdup(text);
				c->search_hit = (size_t)-1;
			}
			/* The next match, going back from the last one shown. */
			struct ui *u = selected(c) ? selected(c)->ui : NULL;
			size_t from = c->search_hit == (size_t)-1 ? 0 : c->search_hit + 1;
			bool found = false;
			for (size_t i = from; u && c->search && i < u->out.n && !found; i++) {
				char *l = engine_mask(c->e, outbuf_line(&u->out, i, NULL));
				if (line_matches(l, c->search)) {
					c->search_hit = i;
					c->out_back = i;
					found = true;
				}
				free(l);
			}
			if (!found)
				set_message(c, "no %smatch for /%s", from ? "more " : "", c->search ? c->search : "");
			c->focus_output = true;
		}
		break;
	case PROMPT_CONFIRM:
		if (s && s->state == ENG_WAITING) {
			bool yes = accept && (strcmp(text, "y") == 0 || strcmp(text, "Y") == 0 ||
			                      strcmp(text, "yes") == 0);
			engine_answer(c->e, s, yes ? ENG_ANSWER_YES : ENG_ANSWER_NO, NULL, c->operator);
			/* Declined: the step is skipped, said once its end is on disk
			   (on_event), in the record's words. */
			if (yes)
				set_message(c, "confirmed");
			else
				c->declined = s;
		}
		break;
	case PROMPT_QUIT:
		if (accept && (strcmp(text, "y") == 0 || strcmp(text, "Y") == 0 || strcmp(text, "yes") == 0))
			finish_quit(c);
		break;
	case PROMPT_INCIDENT:
		incident_answer(c, text, accept);
		break;
	case PROMPT_NONE:
		break;
	}
	free(text);
	/* Another confirmation may be waiting. */
	if (c->prompt == PROMPT_NONE) {
		size_t n;
		struct eng_step *const *tops = engine_nodes(c->e, &n);
		for (size_t i = 0; i < n; i++) {
			struct eng_step *w = find_confirm(tops[i]);
			if (w) {
				open_confirm(c, w);
				break;
			}
		}
	}
}

static void prompt_key(struct console *c, wint_t ch, bool is_key)
{
	if (!is_key && (ch == '\n' || ch == '\r')) {
		prompt_done(c, true);
		return;
	}
	if ((!is_key && ch == 27) || (!is_key && ch == 7)) { /* Esc, Ctrl-G */
		prompt_done(c, false);
		return;
	}
	if ((is_key && (ch == KEY_BACKSPACE || ch == KEY_DC)) || (!is_key && (ch == 127 || ch == 8))) {
		/* drop the last character */
		while (c->input_text.len &&
		       ((unsigned char)c->input_text.s[c->input_text.len - 1] & 0xc0) == 0x80)
			c->input_text.len--;
		if (c->input_text.len)
			c->input_text.len--;
		if (c->input_text.s)
			c->input_text.s[c->input_text.len] = '\0';
		return;
	}
	if (is_key && ch == KEY_ENTER) {
		prompt_done(c, true);
		return;
	}
	if (is_key || ch < 0x20 || c->input_text.len > 1000)
		return;
	if (c->prompt == PROMPT_CONFIRM || c->prompt == PROMPT_QUIT) {
		/* one letter answers */
		c->input_text.len = 0;
		char b[8];
		int l = wctomb(b, (wchar_t)ch);
		if (l > 0)
			sb_add(&c->input_text, b, (size_t)l);
		if (ch == 'y' || ch == 'Y' || ch == 'n' || ch == 'N')
			prompt_done(c, true);
		return;
	}
	char b[MB_LEN_MAX];
	int l = wctomb(b, (wchar_t)ch);
	if (l > 0)
		sb_add(&c->input_text, b, (size_t)l);
}

static enum request request_of(wint_t ch, bool is_key)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(keydefs); i++) {
		int k1 = keydefs[i].k1, k2 = keydefs[i].k2;
		bool k1_is_key = k1 >= KEY_MIN, k2_is_key = k2 >= KEY_MIN;
		if ((k1 && (int)ch == k1 && is_key == k1_is_key) ||
		    (k2 && (int)ch == k2 && is_key == k2_is_key))
			return keydefs[i].req;
	}
	if (!is_key && ch == '\n')
		return REQ_RUN;
	return REQ_NONE;
}

static void move_sel(struct console *c, long d)
{
	if (!c->nvis)
		return;
	long n = (long)c->sel + d;
	if (n < 0)
		n = 0;
	if (n >= (long)c->nvis)
		n = (long)c->nvis - 1;
	if ((size_t)n != c->sel) {
		c->sel = (size_t)n;
		c->out_back = 0;
		c->search_hit = (size_t)-1;
	}
}

/* How far the output can scroll back: to where the oldest line kept is at
   the top of a full pane. */
static size_t out_back_max(struct console *c, const struct eng_step *s)
{
	const struct ui *u = s ? s->ui : NULL;
	if (!u || !u->out.n)
		return 0;
	struct layout L = layout_of(c);
	long rows = L.bottom - L.top - L.detail_h - 1;
	if (u->out.total > u->out.n || u->evicted)
		rows--; /* the marker's row */
	if (rows < 1)
		rows = 1;
	return u->out.n > (size_t)rows ? u->out.n - (size_t)rows : 0;
}

static void scroll_out(struct console *c, long d)
{
	long b = (long)c->out_back + d, max = (long)out_back_max(c, selected(c));
	if (b > max)
		b = max;
	if (b < 0)
		b = 0;
	c->out_back = (size_t)b;
}

/* A manual step that can still be answered (failed, skipped). */
static bool manual_open(const struct eng_step *s)
{
	return s && s->def && s->def->action == RB_MANUAL &&
	       (s->state == ENG_WAITING || s->state == ENG_PENDING);
}

static void handle_request(struct console *c, enum request r)
{
	struct eng_step *s = selected(c);
	struct layout L = layout_of(c);
	long page = L.bottom - L.top - 2;
	long opage = L.bottom - L.top - L.detail_h - 1;
	free(c->message);
	c->message = NULL;
	if (r == REQ_DOWN || r == REQ_UP || r == REQ_PAGE_DOWN || r == REQ_PAGE_UP ||
	    r == REQ_TOP || r == REQ_BOTTOM || r == REQ_COLLAPSE)
		c->follow = false;
	switch (r) {
	case REQ_DOWN:
		if (c->focus_output)
			scroll_out(c, -1);
		else
			move_sel(c, 1);
		break;
	case REQ_UP:
		if (c->focus_output)
			scroll_out(c, 1);
		else
			move_sel(c, -1);
		break;
	case REQ_PAGE_DOWN:
		if (c->focus_output)
			scroll_out(c, -opage);
		else
			move_sel(c, page);
		break;
	case REQ_PAGE_UP:
		if (c->focus_output)
			scroll_out(c, opage);
		else
			move_sel(c, -page);
		break;
	case REQ_TOP:
		if (c->focus_output)
			scroll_out(c, 1L << 30);
		else
			move_sel(c, -(long)c->nvis);
		break;
	case REQ_BOTTOM:
		if (c->focus_output)
			c->out_back = 0;
		else
			move_sel(c, (long)c->nvis);
		break;
	case REQ_COLLAPSE:
		if (s && is_group(s) && !ui_of(s)->collapsed && s->nchildren) {
			ui_of(s)->collapsed = true;
		} else if (s && s->parent) {
			build_rows(c);
			for (size_t i = 0; i < c->nvis; i++)
				if (c->vis[i] == s->parent)
					c->sel = i;
		}
		break;
	case REQ_EXPAND:
		if (s && is_group(s))
			ui_of(s)->collapsed = false;
		break;
	case REQ_RUN:
		if (!s)
			break;
		if (s->def && s->def->action == RB_MANUAL && s->state != ENG_DONE) {
			set_message(c, "a manual step: Space marks it done, f failed, s skipped");
		} else if (s->state == ENG_RUNNING || s->state == ENG_WAITING || s->state == ENG_WATCHING) {
			set_message(c, "already running");
		} else if (!s->def) {
			c->follow = true;
			engine_start(c->e);
		} else {
			c->follow = is_group(s);
			/* A procedure run only when sent there (a rollback), started by
			   hand in an incident: the timeline says who and what. */
			if (s->def->on_demand && desk_open(c->desk)) {
				char *id = journal_step_id(s);
				char *why = xasprintf("%s %s started by hand", id, s->title ? s->title : "");
				struct rbc_error err = {0};
				inc_record(c, incident_trigger(c->inc, why, false, console_now(c), c->operator, &err), &err);
				free(why);
				free(id);
			}
			engine_run_step(c->e, s);
		}
		break;
	case REQ_RERUN:
		if (s && s->def && s->def->action != RB_MANUAL)
			engine_run_step(c->e, s);
		break;
	case REQ_RUN_ALL:
		c->follow = true;
		engine_start(c->e);
		break;
	case REQ_DONE:
		if (s && !engine_answer(c->e, s, ENG_ANSWER_DONE, NULL, c->operator))
			set_message(c, "Space marks a manual step done");
		break;
	case REQ_FAIL:
		if (manual_open(s))
			start_prompt(c, PROMPT_FAIL, s);
		else
			set_message(c, "f marks a manual step failed");
		break;
	case REQ_SKIP:
		if (manual_open(s))
			start_prompt(c, PROMPT_SKIP, s);
		else
			set_message(c, "s skips a manual step");
		break;
	case REQ_NOTE:
		if (c->inc && c->inc->severity != SIZE_MAX)
			incident_key(c, r);
		else if (s)
			start_prompt(c, PROMPT_NOTE, s);
		break;
	case REQ_SEVERITY:
	case REQ_ROLE:
	case REQ_DECISION:
	case REQ_TODO:
	case REQ_UPDATE:
	case REQ_RESOLVE:
		incident_key(c, r);
		break;
	case REQ_EXPORT:
		start_export(c);
		break;
	case REQ_SEARCH:
		start_prompt(c, PROMPT_SEARCH, s);
		break;
	case REQ_FOCUS:
		c->focus_output = !c->focus_output;
		break;
	case REQ_HELP:
		c->help = true;
		break;
	case REQ_REDRAW:
		clearok(stdscr, TRUE);
		break;
	case REQ_QUIT:
		if (engine_busy(c->e) && !c->finished && engine_jobs(c->e))
			start_prompt(c, PROMPT_QUIT, NULL);
		else
			finish_quit(c);
		break;
	case REQ_NONE:
		break;
	}
}

static void handle_key(struct console *c, wint_t ch, bool is_key)
{
	if (is_key && ch == KEY_RESIZE)
		return;
	if (c->help) {
		c->help = false;
		return;
	}
	if (c->prompt != PROMPT_NONE) {
		prompt_key(c, ch, is_key);
		return;
	}
	handle_request(c, request_of(ch, is_key));
}

static void input_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct console *c = h->data;
	if (status < 0)
		return;
	wint_t ch;
	int r;
	while ((r = get_wch(&ch)) != ERR) {
		handle_key(c, ch, r == KEY_CODE_YES);
		c->dirty = true;
		if (c->quitting)
			break;
	}
	if (c->quitting)
		uv_stop(c->loop);
}

static void resize(struct console *c)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	c->dirty = true;
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct console *c = h->data;
	if (signum == SIGWINCH) {
		resize(c);
		return;
	}
	if (signum == SIGINT) {
		handle_request(c, REQ_QUIT);
		c->dirty = true;
		if (c->quitting)
			uv_stop(c->loop);
		return;
	}
	/* SIGTERM, SIGHUP (the ssh session is gone): stop and leave, the record
	   saying which. */
	if (engine_busy(c->e))
		engine_stop(c->e, signum == SIGHUP ? "the terminal was lost (SIGHUP)" : "interrupted by SIGTERM");
	finish_quit(c);
	c->quit_when_done = true;
	if (c->quitting)
		uv_stop(c->loop);
}

/* ---- colours ----------------------------------------------------------------------- */

static attr_t curses_attrs(unsigned a)
{
	attr_t r = A_NORMAL;
	if (a & THEME_ATTR_BOLD)
		r |= A_BOLD;
	if (a & THEME_ATTR_DIM)
		r |= A_DIM;
	if (a & THEME_ATTR_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & THEME_ATTR_REVERSE)
		r |= A_REVERSE;
	if (a & THEME_ATTR_ITALIC)
		r |= A_ITALIC;
	if (a & THEME_ATTR_STANDOUT)
		r |= A_STANDOUT;
	return r;
}

static void setup_colours(struct console *c, bool colour)
{
	if (colour && has_colors()) {
		start_color();
		use_default_colors();
		theme_fit(&c->theme, COLORS);
	} else {
		colour = false;
		theme_monochrome(&c->theme);
	}
	for (int i = 0; i < THEME_COUNT; i++) {
		const struct theme_style *t = &c->theme.el[i];
		attr_t a = curses_attrs(t->attrs);
		if (colour && i + 1 < COLOR_PAIRS) {
			int fg = t->fg < COLORS ? t->fg : -1, bg = t->bg < COLORS ? t->bg : -1;
			init_pair((short)(i + 1), (short)fg, (short)bg);
			a |= COLOR_PAIR(i + 1);
		}
		c->attr[i] = a;
	}
}

/* ---- running it ------------------------------------------------------------------------ */

static void close_cb(uv_handle_t *h)
{
	(void)h;
}

static void free_ui(struct eng_step *s)
{
	for (size_t i = 0; i < s->nchildren; i++)
		free_ui(s->children[i]);
	struct ui *u = s->ui;
	if (!u)
		return;
	outbuf_clear(&u->out);
	for (size_t i = 0; i < u->ncaps; i++)
		free(u->caps[i]);
	free(u->caps);
	free(u);
	s->ui = NULL;
}

/* A resumed run: what the record restored is on disk already, so shown. */
static void mark_shown(struct eng_step *s)
{
	if (s->state == ENG_DONE || s->state == ENG_SKIPPED || s->state == ENG_CANCELLED)
		ui_of(s)->shown_done = true;
	for (size_t i = 0; i < s->nchildren; i++)
		mark_shown(s->children[i]);
}

/* A resumed run: the step it goes on at selected, and what the record
   could not give back said. */
static void show_restored(struct console *c)
{
	size_t n;
	struct eng_step *const *nodes = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		mark_shown(nodes[i]);
	c->started = true;
	c->t_start = session_started(c->s) ? session_started(c->s) : console_now(c);
	uv_timer_start(&c->tick, tick_cb, 1000, 1000);
	bool after = false;
	struct eng_step *at = engine_resume_point(c->e, &after);
	const char *lost = session_resume_warning(c->s);
	if (at) {
		c->phase = phase_of(at);
		select_step(c, at);
		set_message(c, "resumed from the journal: a goes on %s %s %s%s%s", after ? "after" : "at",
		            at->def ? at->def->number : "", at->title ? at->title : "", lost ? " · " : "",
		            lost ? lost : "");
	} else {
		set_message(c, "resumed from the journal: a runs what is left%s%s", lost ? " · " : "",
		            lost ? lost : "");
	}
}

/* What the session has to say while the console runs: the message line. */
static void console_say(void *ud, const char *text)
{
	set_message(ud, "%s", text);
}

int console_run(struct session *s, const struct console_cfg *cfg)
{
	struct console *c = xcalloc(1, sizeof *c);
	c->s = s;
	c->loop = session_loop(s);
	c->e = session_engine(s);
	c->cfg_copy = *cfg;
	c->cfg_copy.journal = session_journal(s);
	c->cfg = &c->cfg_copy;
	c->desk = session_desk(s);
	c->inc = desk_incident(c->desk);
	c->search_hit = (size_t)-1;
	bool resumed = session_resumed(s) != NULL;

	/* UTF-8 on screen whatever the locale says, numbers always with a dot. */
	setlocale(LC_ALL, "");
	const char *ctype = setlocale(LC_CTYPE, NULL);
	if (!ctype || (!strstr(ctype, "UTF-8") && !strstr(ctype, "utf8") && !strstr(ctype, "UTF8")))
		setlocale(LC_CTYPE, "C.UTF-8");
	setlocale(LC_NUMERIC, "C");

	/* Colours: --theme, else monochrome with NO_COLOR, else the default. */
	struct rbc_diags d = {0};
	char *from = NULL;
	if (!theme_select(cfg->theme, &c->theme, &d, &from)) {
		diags_print(&d, stderr);
		diags_free(&d);
		free(from);
		free(c);
		return RBC_EXIT_USAGE;
	}
	diags_print(&d, stderr); /* warnings */
	diags_free(&d);
	free(from);
	const char *no_color = getenv("NO_COLOR");
	bool colour = !(no_color && *no_color) || (cfg->theme && *cfg->theme);
	c->operator = engine_operator(c->e);

	/* Signals first: with SIGWINCH handled, ncurses installs no handler of its own. */
	static const int sigs[] = {SIGWINCH, SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < RBC_ARRAY_LEN(sigs); i++) {
		uv_signal_init(c->loop, &c->sig[i]);
		c->sig[i].data = c;
		uv_signal_start(&c->sig[i], signal_cb, sigs[i]);
	}
	initscr();
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	setup_colours(c, colour);

	uv_poll_init(c->loop, &c->input, STDIN_FILENO);
	c->input.data = c;
	uv_poll_start(&c->input, UV_READABLE, input_cb);
	uv_prepare_init(c->loop, &c->prep);
	c->prep.data = c;
	uv_prepare_start(&c->prep, prepare_cb);
	uv_timer_init(c->loop, &c->tick);
	c->tick.data = c;
	uv_timer_init(c->loop, &c->throttle);
	c->throttle.data = c;
	c->dirty = true;
	if (resumed)
		show_restored(c);
	char *warn = engine_secret_warning(c->e);
	if (warn && !resumed)
		set_message(c, "warning: %s", warn);
	free(warn);
	/* An incident not declared yet (no --severity): its questions first. */
	if (c->inc && !desk_declared(c->desk))
		start_declare(c);
	struct session_view view = {.on_event = on_event, .say = console_say, .ud = c};
	session_attach(s, &view);

	while (!c->quitting) {
		uv_run(c->loop, UV_RUN_DEFAULT);
		/* uv_stop from a key: let the engine finish what the stop started. */
		if (c->quitting && engine_busy(c->e)) {
			c->quitting = false;
			c->quit_when_done = true;
		}
	}
	/* What a stop started (killing process groups) completes before exit. */
	uv_poll_stop(&c->input);
	for (int spins = 0; (engine_busy(c->e) || journal_busy(c->cfg->journal)) && spins < 1000; spins++)
		uv_run(c->loop, UV_RUN_ONCE);

	endwin();
	enum rbc_verdict v = engine_verdict(c->e);
	struct eng_counts k;
	engine_counts(c->e, &k);
	/* A run left before its end has no verdict to pass on: what it found so
	   far is said, and the exit status is at least UNKNOWN's. */
	bool complete = c->finished && k.pending == 0 && k.running == 0 && k.cancelled == 0;
	if (complete) {
		printf("rbc: %s%s — %zu of %zu steps finished", verdict_name(v),
		       journal_error(c->cfg->journal) ? " (not in the record)" : "", k.done + k.skipped, k.total);
	} else {
		printf("rbc: NOT FINISHED — %zu of %zu steps finished", k.done + k.skipped, k.total);
		if (k.cancelled)
			printf(", %zu cancelled", k.cancelled);
		printf(" (so far: %s)", verdict_name(v));
		if (v == RBC_VERDICT_PASS || v == RBC_VERDICT_WARN)
			v = RBC_VERDICT_UNKNOWN;
	}
	if (cfg->run_id)
		text_printf(" — run %s (%s)", cfg->run_id, cfg->run_path ? cfg->run_path : "");
	printf("\n");
	if (journal_error(c->cfg->journal)) {
		text_printf("rbc: RECORD LOST: %s; nothing started after it, and what ended after it is not in the record\n",
		       journal_error(c->cfg->journal));
	}
	fflush(stdout);

	/* The session goes on without a view (notifications, the history). */
	session_attach(s, NULL);
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		free_ui(tops[i]);
	uv_close((uv_handle_t *)&c->input, close_cb);
	uv_close((uv_handle_t *)&c->prep, close_cb);
	uv_close((uv_handle_t *)&c->tick, close_cb);
	uv_close((uv_handle_t *)&c->throttle, close_cb);
	for (size_t i = 0; i < RBC_ARRAY_LEN(c->sig); i++)
		uv_close((uv_handle_t *)&c->sig[i], close_cb);
	while (c->exporting) /* an export in the thread pool writes into c */
		uv_run(c->loop, UV_RUN_ONCE);
	uv_run(c->loop, UV_RUN_NOWAIT); /* their close callbacks */
	int rc = journal_error(c->cfg->journal) ? RBC_EXIT_IOERR : verdict_exit_code(v);
	free(c->vis);
	free(c->kept);
	free(c->search);
	free(c->message);
	free(c->export_path);
	if (c->inc)
		ask_free(c);
	free(c->ask_q);
	sb_free(&c->input_text);
	free(c);
	return rc;
}

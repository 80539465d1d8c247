/*
 * frame.c — the console's frame state, below every pane: the key table's
 * lookup, the per-step UI state (output kept in memory, captures, what has
 * reached the screen), the tree's rows and the selection, the layout, the
 * message line, the prompt's line and the export. The panes, bars and
 * overlays read and change the console through it; it calls none of them
 * (console.c does, through their ops).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/export.h"
#include "rbc/journal.h"
#include "rbc/session.h"

#define OUT_MAX_STEPS 64            /* steps whose output is kept in memory (outbuf.h: how much) */

/* ---- keys: one table dispatches them and writes the help ---------------- */

const struct frame_key frame_keys[] = {
#define X(r, k1, k2, shown, help) {REQ_##r, k1, k2, shown, help},
	CONSOLE_KEYS(X)
#undef X
};
const size_t frame_nkeys = RBC_ARRAY_LEN(frame_keys);

/* The request a key sends (REQ_NONE: none). */
enum request frame_request_of(wint_t ch, bool is_key)
{
	for (size_t i = 0; i < frame_nkeys; i++) {
		int k1 = frame_keys[i].k1, k2 = frame_keys[i].k2;
		bool k1_is_key = k1 >= KEY_MIN, k2_is_key = k2 >= KEY_MIN;
		if ((k1 && (int)ch == k1 && is_key == k1_is_key) ||
		    (k2 && (int)ch == k2 && is_key == k2_is_key))
			return frame_keys[i].req;
	}
	if (!is_key && ch == '\n')
		return REQ_RUN;
	return REQ_NONE;
}

/* ---- time and the message line --------------------------------------------- */

/* Now, ms, by the console's clock (RBC_TEST_NOW when set). */
int64_t frame_now(const struct console *c)
{
	return session_now(c->s);
}

/* The message under the panes, until the next key. */
void frame_message(struct console *c, const char *fmt, ...)
{
	free(c->message);
	va_list ap;
	va_start(ap, fmt);
	c->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* No message (a key was pressed). */
void frame_message_clear(struct console *c)
{
	free(c->message);
	c->message = NULL;
}

/* ---- output kept in memory -------------------------------------------------- */

/* The console's state of a step, made on first use (freed by frame_ui_free). */
struct ui *frame_ui(struct eng_step *s)
{
	if (!s->ui)
		s->ui = xcalloc(1, sizeof(struct ui));
	return s->ui;
}

/* Keeps at most OUT_MAX_STEPS steps' output in memory; the oldest goes. */
static void keep_output(struct console *c, struct eng_step *s)
{
	struct ui *u = frame_ui(s);
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

/* Output of a step, kept for its pane. */
void frame_output_add(struct console *c, struct eng_step *s, enum probe_stream st,
                      const char *data, size_t len)
{
	keep_output(c, s);
	outbuf_add(&frame_ui(s)->out, st, data, len);
}

/* Frees the console's state of s and every step below it. */
void frame_ui_free(struct eng_step *s)
{
	for (size_t i = 0; i < s->nchildren; i++)
		frame_ui_free(s->children[i]);
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
void frame_mark_shown(struct eng_step *s)
{
	if (s->state == ENG_DONE || s->state == ENG_SKIPPED || s->state == ENG_CANCELLED)
		frame_ui(s)->shown_done = true;
	for (size_t i = 0; i < s->nchildren; i++)
		frame_mark_shown(s->children[i]);
}

/* ---- step states ------------------------------------------------------------ */

/*
 * The state the screen shows: a step's end (its verdict, a skip, a cancel)
 * only once the event saying so has been delivered, that is once it is in
 * the journal on disk. Until then the step still shows as running.
 */
enum eng_state frame_shown_state(const struct eng_step *s)
{
	bool ended = s->state == ENG_DONE || s->state == ENG_SKIPPED || s->state == ENG_CANCELLED;
	if (ended && !(s->ui && ((const struct ui *)s->ui)->shown_done))
		return ENG_RUNNING;
	/* A group skipped (its `when` false) never reaches its steps: they are
	   skipped with it, as the run counts them. */
	if (s->state == ENG_PENDING && s->parent && frame_shown_state(s->parent) == ENG_SKIPPED)
		return ENG_SKIPPED;
	return s->state;
}

/* The glyph of the state shown. */
const char *frame_glyph(const struct eng_step *s)
{
	switch (frame_shown_state(s)) {
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
const char *frame_state_word(const struct eng_step *s)
{
	enum eng_state st = frame_shown_state(s);
	if (st == ENG_DONE)
		return verdict_name(s->verdict);
	if (st == ENG_WAITING)
		return s->wait == ENG_WAIT_CONFIRM ? "CONFIRM?" : "WAITING";
	static const char *const words[] = {"PENDING", "RUNNING", "WAITING", "WATCHING", "DONE",
	                                    "SKIPPED", "CANCELLED"};
	return words[st];
}

/* The theme element of the state shown. */
enum theme_element frame_state_element(const struct eng_step *s)
{
	switch (frame_shown_state(s)) {
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

/* A group, or a runbook's row. */
bool frame_is_group(const struct eng_step *s)
{
	return !s->def || s->def->action == RB_GROUP;
}

/* Finished / total leaf steps below a group (on-demand ones not run left out). */
void frame_group_counts(const struct eng_step *s, size_t *done, size_t *total)
{
	for (size_t i = 0; i < s->nchildren; i++) {
		const struct eng_step *c = s->children[i];
		if (frame_is_group(c)) {
			if (c->def && c->def->on_demand && c->state == ENG_PENDING)
				continue;
			frame_group_counts(c, done, total);
			continue;
		}
		if (c->def->on_demand && c->state == ENG_PENDING)
			continue;
		(*total)++;
		enum eng_state st = frame_shown_state(c);
		if (st == ENG_DONE || st == ENG_SKIPPED || st == ENG_CANCELLED)
			(*done)++;
	}
}

/* A step's number, or its runbook's id for a runbook's row. */
const char *frame_step_label(const struct eng_step *s)
{
	return s->def ? s->def->number : s->rb->id;
}

/* The runbook (phase) node a step belongs to. */
const struct eng_step *frame_phase_of(const struct eng_step *s)
{
	while (s->parent)
		s = s->parent;
	return s;
}

/* How deep in the tree a step is (a runbook's row: 0). */
int frame_depth_of(const struct eng_step *s)
{
	int d = 0;
	for (const struct eng_step *p = s->parent; p; p = p->parent)
		d++;
	return d;
}

/* A step (not a group) runs or watches, as shown, at or below s. */
static bool any_running(const struct eng_step *s)
{
	enum eng_state st = frame_shown_state(s);
	if (st == ENG_RUNNING || st == ENG_WATCHING)
		return !frame_is_group(s);
	for (size_t i = 0; i < s->nchildren; i++)
		if (any_running(s->children[i]))
			return true;
	return false;
}

/* Idle: no job runs, and everything that happened is on the screen (and in
   the journal). A step waiting for the operator is not a job. */
bool frame_idle(struct console *c)
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

/* ---- the tree's rows and the selection --------------------------------------- */

/* The severity procedure a node is (the engine's "L2-procedure" group),
   or SIZE_MAX. */
size_t frame_procedure_level(const struct console *c, const struct eng_step *s)
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
	size_t lv = frame_procedure_level(c, s);
	if (lv == SIZE_MAX)
		return true;
	for (size_t i = 0; i < c->inc->nspans; i++)
		if (c->inc->spans[i].severity == lv)
			return true;
	return false;
}

/* s as a row, then its children unless it is folded. */
static void vis_add(struct console *c, struct eng_step *s)
{
	if (!procedure_shown(c, s))
		return;
	xgrow(&c->vis, &c->capvis, c->nvis + 1, sizeof *c->vis);
	c->vis[c->nvis++] = s;
	if (frame_is_group(s) && !(s->ui && ((struct ui *)s->ui)->collapsed))
		for (size_t i = 0; i < s->nchildren; i++)
			vis_add(c, s->children[i]);
}

/* The tree's visible rows again, the selection kept on its step. */
void frame_rows_build(struct console *c)
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

/* The selected step (NULL: no rows). */
struct eng_step *frame_selected(struct console *c)
{
	return c->nvis ? c->vis[c->sel] : NULL;
}

/* Puts the selection on s (expanding its groups). */
void frame_select_step(struct console *c, struct eng_step *s)
{
	for (struct eng_step *p = s->parent; p; p = p->parent)
		if (p->ui)
			((struct ui *)p->ui)->collapsed = false;
	frame_rows_build(c);
	for (size_t i = 0; i < c->nvis; i++)
		if (c->vis[i] == s && c->sel != i) {
			c->sel = i;
			c->out_back = 0;
		}
}

/* Opens the confirmation s asks for, unless a prompt is open. */
void frame_confirm_open(struct console *c, struct eng_step *s)
{
	if (c->prompt != PROMPT_NONE)
		return;
	c->prompt = PROMPT_CONFIRM;
	c->prompt_step = s;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
	frame_select_step(c, s); /* show the step that asks */
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

/* A prompt closed: another confirmation may be waiting. */
void frame_confirm_next(struct console *c)
{
	if (c->prompt != PROMPT_NONE)
		return;
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++) {
		struct eng_step *w = find_confirm(tops[i]);
		if (w) {
			frame_confirm_open(c, w);
			break;
		}
	}
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
bool frame_turn_selected(struct console *c)
{
	const struct eng_step *s = frame_selected(c);
	return s && s->state == ENG_WAITING;
}

/* An answer was given (a manual step, a confirmation) while other branches
   still wait: the cursor goes to the first of them, the next to answer. */
void frame_next_wait(struct console *c)
{
	if (!c->follow || frame_turn_selected(c))
		return;
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	struct eng_step *w = NULL;
	for (size_t i = 0; i < n && !w; i++)
		w = find_manual_wait(tops[i]);
	if (w)
		frame_select_step(c, w);
}

/* ---- layout ------------------------------------------------------------------- */

/* Where every pane goes on a screen of c->rows × c->cols. */
struct layout frame_layout(const struct console *c)
{
	struct layout L = {0};
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
	int out_y = L.top + L.detail_h + L.timeline_h;
	L.pane[PANE_HEADER] = (struct rect){0, 0, 1, c->cols};
	L.pane[PANE_INCIDENT] = (struct rect){1, 0, c->inc ? 2 : 0, c->cols};
	L.pane[PANE_TREE] = (struct rect){L.top, 0, h, L.tree_w};
	L.pane[PANE_DETAIL] = (struct rect){L.top, L.right_x, L.detail_h, L.right_w};
	L.pane[PANE_TIMELINE] = (struct rect){L.top + L.detail_h, L.right_x, L.timeline_h, L.right_w};
	L.pane[PANE_OUTPUT] = (struct rect){out_y, L.right_x, L.bottom - out_y + 1, L.right_w};
	L.pane[PANE_STATUS] = (struct rect){c->rows - 1, 0, 1, c->cols};
	return L;
}

/* ---- prompts ------------------------------------------------------------------- */

/* An incident declared and not resolved yet. */
bool frame_incident_open(const struct console *c)
{
	return c->inc && c->inc->severity != SIZE_MAX && c->inc->status != INC_RESOLVED;
}

/* Opens prompt p about s (may be NULL) with an empty line. */
void frame_prompt_start(struct console *c, enum prompt p, struct eng_step *s)
{
	c->prompt = p;
	c->prompt_step = s;
	c->input_text.len = 0;
	if (c->input_text.s)
		c->input_text.s[0] = '\0';
}

/* A key on the prompt's line: Enter accepts, Esc or Ctrl-G cancels,
   Backspace drops a character, others are typed; one_letter: a letter
   replaces the line, y or n accepts it. */
enum frame_edit frame_prompt_edit(struct console *c, wint_t ch, bool is_key, bool one_letter)
{
	if (!is_key && (ch == '\n' || ch == '\r'))
		return FRAME_EDIT_ACCEPT;
	if ((!is_key && ch == 27) || (!is_key && ch == 7)) /* Esc, Ctrl-G */
		return FRAME_EDIT_CANCEL;
	if ((is_key && (ch == KEY_BACKSPACE || ch == KEY_DC)) || (!is_key && (ch == 127 || ch == 8))) {
		/* drop the last character */
		while (c->input_text.len &&
		       ((unsigned char)c->input_text.s[c->input_text.len - 1] & 0xc0) == 0x80)
			c->input_text.len--;
		if (c->input_text.len)
			c->input_text.len--;
		if (c->input_text.s)
			c->input_text.s[c->input_text.len] = '\0';
		return FRAME_EDIT_TYPING;
	}
	if (is_key && ch == KEY_ENTER)
		return FRAME_EDIT_ACCEPT;
	if (is_key || ch < 0x20 || c->input_text.len > 1000)
		return FRAME_EDIT_TYPING;
	if (one_letter) {
		c->input_text.len = 0;
		char b[8];
		int l = wctomb(b, (wchar_t)ch);
		if (l > 0)
			sb_add(&c->input_text, b, (size_t)l);
		return ch == 'y' || ch == 'Y' || ch == 'n' || ch == 'N' ? FRAME_EDIT_ACCEPT : FRAME_EDIT_TYPING;
	}
	char b[MB_LEN_MAX];
	int l = wctomb(b, (wchar_t)ch);
	if (l > 0)
		sb_add(&c->input_text, b, (size_t)l);
	return FRAME_EDIT_TYPING;
}

/* The prompt's row: the question, the line typed so far, the cursor after it. */
void frame_prompt_draw(struct console *c, const struct rect *r, const char *question)
{
	draw_fill(r->y, r->x, r->w, c->attr[THEME_STATUS]);
	int used = draw_str(r->y, r->x, r->w, question, c->attr[THEME_PROMPT]);
	used += draw_str(r->y, r->x + used, r->w - used, sb_borrow(&c->input_text), c->attr[THEME_PROMPT]);
	move(r->y, used < r->w ? r->x + used : r->x + r->w - 1);
	curs_set(1);
}

/* q said yes, or a signal: the run stops, and the console leaves once
   what the stop started has ended. */
void frame_quit(struct console *c)
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

/* ---- the export ------------------------------------------------------------------ */

/* In the thread pool: the run's record as JSON and Markdown, into its directory. */
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

/* Back on the loop: the export's outcome on the message line. */
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
void frame_export_start(struct console *c)
{
	if (!c->cfg->run_path) {
		frame_message(c, "export: this run has no directory");
		return;
	}
	if (c->exporting) {
		frame_message(c, "export: already under way");
		return;
	}
	free(c->export_path);
	c->export_path = xasprintf("%s/export.json", c->cfg->run_path);
	c->exporting = true;
	c->export_work.data = c;
	if (uv_queue_work(c->loop, &c->export_work, export_work_cb, export_after_cb) != 0) {
		c->exporting = false;
		frame_message(c, "export: the thread pool refused the work");
		return;
	}
	frame_message(c, "exporting…");
}

/*
 * internal.h — what the files of the console share, and nothing else sees.
 *
 * The console is layered, downward only:
 *   console.c   the entry: the loop's callbacks, the engine's events, the
 *               screen's composition and the frame's own requests; it calls
 *               the panes and overlays through their ops tables only;
 *   pane_*.c, bars.c, overlay_*.c
 *               one pane, bar or overlay each: it draws into the rectangle
 *               it is given and handles the requests it knows, saying which
 *               it did not (PANE_IGNORED) so the frame gets them;
 *   frame.c     the frame's state: per-step UI state, the tree's rows and
 *               the selection, the layout, the message line, the prompt's
 *               line, the export; no pane is called from it;
 *   draw.c      drawing primitives on curses, knowing no console.
 * What the lower files need from the entry (recording an incident action)
 * they reach through the hooks the entry sets (struct console_hooks), never
 * by name; the clock, the incident's questions and its timeline's words
 * come from below the view (session.h, desk.h, incident.h).
 */
#ifndef RBC_TUI_INTERNAL_H
#define RBC_TUI_INTERNAL_H

#include <curses.h>
#include <stdbool.h>
#include <stdint.h>
#include <wchar.h>

#include <cjson/cJSON.h>

#include "rbc/console.h"
#include "rbc/desk.h"
#include "rbc/engine.h"
#include "rbc/incident.h"
#include "rbc/outbuf.h"
#include "rbc/theme.h"
#include "rbc/util.h"
#include "keys.h"

/* ---- draw.c: drawing primitives ---------------------------------------------- */

/* A rectangle of the screen: top row, left column, rows, columns. */
struct rect {
	int y, x, h, w;
};

int draw_text(int y, int x, int cols, const char *s, size_t n, attr_t a);
int draw_str(int y, int x, int cols, const char *s, attr_t a);
void draw_fill(int y, int x, int cols, attr_t a);
int draw_width(const char *s);
void draw_box(const struct rect *r, const char *title, attr_t border, attr_t title_attr);
int draw_wrap(const char *text, int w, int max_lines,
              void (*fn)(void *ud, const char *s, size_t n, int i), void *ud);
void draw_colours(struct theme *theme, attr_t attr[THEME_COUNT], bool colour);

/* ---- the console's state --------------------------------------------------------- */

/* Per-step state of the console (eng_step.ui), made by frame_ui. */
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
	          PROMPT_CONFIRM, PROMPT_QUIT, PROMPT_INCIDENT, PROMPT_ASK, PROMPT_APPROVE,
	          PROMPT_UNFINISHED, PROMPT_UNFINISHED_REASON };

/* What an incident prompt asks, in the order of its flows. */
enum inc_ask { ASK_NONE, ASK_SEVERITY, ASK_TITLE, ASK_IMPACT, ASK_NEW_SEVERITY, ASK_SEV_REASON,
	           ASK_ROLE, ASK_NOTE, ASK_DECISION, ASK_TODO, ASK_STATUS, ASK_UPDATE, ASK_RESOLVE,
	           ASK_CRITERION };

/* The panes and bars; the frame keeps an ops table per entry and the focus
   names one of them (the tree first: a console starts zeroed, focused there). */
enum pane_id { PANE_TREE, PANE_DETAIL, PANE_TIMELINE, PANE_OUTPUT, PANE_HEADER, PANE_INCIDENT,
	           PANE_STATUS, PANE_COUNT };

struct console;

/* What the lower files reach the entry (console.c) through; set by it
   before the first key, draw or question. */
struct console_hooks {
	/* Journals an incident action's event (taken) through the incident
	   desk, or says why it was refused. */
	bool (*record)(struct console *c, cJSON *ev, struct rbc_error *err);
};

struct console {
	uv_loop_t *loop;
	struct session *s;        /* the run this console observes (session.h) */
	struct engine *e;         /* the session's */
	const struct console_cfg *cfg; /* &cfg_copy */
	struct console_cfg cfg_copy; /* the caller's, with the session's journal */
	const char *operator;
	const struct console_hooks *hooks;
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
	enum pane_id focus;       /* the pane that sees a request first */
	size_t out_back;          /* output: lines scrolled back from the newest */
	char *search;
	size_t search_hit;        /* lines back of the last match shown */

	enum prompt prompt;
	struct strbuf input_text;
	struct eng_step *prompt_step;
	bool help;
	char *ask_error;          /* PROMPT_ASK: the rule the last answer broke */
	char *message;            /* one line under the panes until the next key */

	struct eng_step **kept;   /* steps with output in memory, oldest first */
	size_t nkept;

	bool follow;              /* the selection follows the run (after a, Enter on a group) */
	struct eng_step *declined; /* a confirmation declined: its skip is said once recorded */
	const struct eng_step *phase; /* the runbook the run is in (NULL: the first) */
	bool dirty, bg_dirty, quitting, quit_when_done;
	char *taken_by;           /* the run was taken over by (docs/team.md) */
	unsigned decision_notes;  /* unfinished steps' notes to come: said by their prompt */
	size_t unsent_shown;      /* rbc join: the actions not sent, as last drawn (acts.c) */
	bool unsent_stuck_shown;
	bool lent;                   /* a command has the terminal (terminal.h): no
	                                key is read, nothing drawn */
	bool started, finished;
	int64_t t_start, t_end;
	enum rbc_verdict verdict;

	/* e: the export, made in the thread pool (it reads the journal and
	   syncs a file: never on the loop thread). */
	uv_work_t export_work;
	bool exporting;
	char *export_path, *export_error;

	/* Incident mode: the session's incident desk and its incident (NULL
	   when the runbook is no incident runbook), kept from its journaled
	   events only. */
	struct incident_desk *desk;
	const struct incident *inc;
	enum inc_ask ask;         /* PROMPT_INCIDENT: the question */
	char *ask_q;              /* …as shown */
	char *ask_sev, *ask_title, *ask_summary; /* answers gathered so far */
	char **ask_reasons;       /* R: one per exit criterion, NULL: met */
	size_t ask_crit;
};

/* ---- panes and overlays ------------------------------------------------------------ */

/* What a handler did, as htop's HandlerResult: IGNORED passes the request on
   (focused pane → incident mode → frame); REDRAW asks for the screen again. */
enum { PANE_IGNORED = 0, PANE_HANDLED = 1 << 0, PANE_REDRAW = 1 << 1 };

/* A pane or a bar, as tig's view_ops. */
struct pane_ops {
	const char *name;
	/* Draws into r (its frame included); focused: the requests come here first. */
	void (*draw)(struct console *c, const struct rect *r, bool focused);
	/* A request while focused (the tree also gets fold and unfold from the
	   frame wherever the focus is); NULL: never focused. PANE_* flags. */
	unsigned (*request)(struct console *c, enum request r);
};

/* A mode over the panes with a key handler of its own, as tmux's window
   modes: while open (the frame's prompt or help says which) it gets every
   key, raw; request is what it does with the requests of its mode while
   closed (NULL: none). */
struct overlay_ops {
	const char *name;
	/* Draws over the screen: r is the status row for a prompt, the screen
	   for the help. */
	void (*draw)(struct console *c, const struct rect *r);
	unsigned (*key)(struct console *c, wint_t ch, bool is_key);
	unsigned (*request)(struct console *c, enum request r);
};

extern const struct pane_ops pane_tree_ops, pane_detail_ops, pane_output_ops, pane_timeline_ops;
extern const struct pane_ops bars_header_ops, bars_incident_ops, bars_status_ops;
extern const struct overlay_ops overlay_prompt_ops, overlay_incident_ops, bars_help_ops, overlay_ask_ops;
extern const struct overlay_ops overlay_unfinished_ops;
/* overlay_unfinished.c: a resumed run's unfinished steps, decided one by
   one before it goes on; false when none is left (opened unless a prompt
   is open). */
bool overlay_unfinished_open(struct console *c);

/* overlay_ask.c: opens the question of ask step s, waiting, unless a
   prompt is open. */
void overlay_ask_open(struct console *c, struct eng_step *s);

/* The answering actions (acts.c): to the engine, or to the driver for rbc
   join (console.h, struct console_acts). acts_incident: false when the
   console drives (the desk records ev); true, ev taken, when joined. */
bool acts_answer(struct console *c, struct eng_step *s, enum eng_answer a, const char *note, const char *by);
bool acts_ask(struct console *c, struct eng_step *s, const char *value, char **why);
bool acts_note(struct console *c, struct eng_step *s, const char *text);
bool acts_incident(struct console *c, cJSON *ev);
/* rbc join: the actions not stored yet and what keeps them (NULL while
   they are going); 0 when the console drives. */
size_t acts_unsent(struct console *c, const char **why);
/* True once when acts_unsent changed since it was last drawn. */
bool acts_unsent_changed(struct console *c);

/* detail_prose.c: the selected step's (or its runbook's) description and links,
   and a terminal command's remark, from row y down to ymax in w columns
   from x; returns the next free row. */
int prose_draw(struct console *c, const struct eng_step *s, int y, int x, int w, int ymax);

/* links.c: OSC 8 hyperlinks (docs/console.md, "Links"). Whether they are
   written (RBC_HYPERLINKS, else the terminal); links_draw draws text at
   (y, x) in at most cols columns, as a link to url when they are and the
   url is http(s), else in plain (returns the columns used); links_forget
   drops the links of the last screen, links_emit writes them again once
   curses has refreshed it. */
bool links_enabled(void);
int links_draw(int y, int x, int cols, const char *text, const char *url, attr_t plain);
void links_forget(void);
void links_emit(void);

/* pane_output.c: the next match of c->search, going back from the last one
   shown; false when there is none. */
bool pane_output_find_next(struct console *c);

/* overlay_incident.c: S's questions declaring the incident; frees what
   its questions gathered. */
void overlay_incident_declare(struct console *c);
void overlay_incident_free(struct console *c);

/* ---- frame.c: the frame's state ----------------------------------------------------- */

/* The layout of the screen: the tree on the left, detail, timeline
   (incident mode) and output on the right, one header row (three in
   incident mode) and the status row. */
struct layout {
	int tree_w, right_x, right_w, top, bottom, detail_h;
	int timeline_h;           /* incident mode: the timeline, above the output */
	struct rect pane[PANE_COUNT]; /* h == 0: not shown */
};

extern const struct frame_key {
	enum request req;
	int k1, k2;
	const char *shown, *help;
} frame_keys[];
extern const size_t frame_nkeys;
enum request frame_request_of(wint_t ch, bool is_key);

int64_t frame_now(const struct console *c);
struct layout frame_layout(const struct console *c);
void frame_message(struct console *c, const char *fmt, ...) RBC_PRINTF(2, 3);
void frame_message_clear(struct console *c);

struct ui *frame_ui(struct eng_step *s);
void frame_output_add(struct console *c, struct eng_step *s, enum probe_stream st, const char *data, size_t len);
void frame_ui_free(struct eng_step *s);
void frame_mark_shown(struct eng_step *s);

enum eng_state frame_shown_state(const struct eng_step *s);
const char *frame_glyph(const struct eng_step *s);
const char *frame_state_word(const struct eng_step *s);
enum theme_element frame_state_element(const struct eng_step *s);
bool frame_is_group(const struct eng_step *s);
void frame_group_counts(const struct eng_step *s, size_t *done, size_t *total);
const char *frame_step_label(const struct eng_step *s);
const struct eng_step *frame_phase_of(const struct eng_step *s);
int frame_depth_of(const struct eng_step *s);
bool frame_idle(struct console *c);

size_t frame_procedure_level(const struct console *c, const struct eng_step *s);
void frame_rows_build(struct console *c);
struct eng_step *frame_selected(struct console *c);
void frame_select_step(struct console *c, struct eng_step *s);
bool frame_turn_selected(struct console *c);
void frame_next_wait(struct console *c);
void frame_confirm_open(struct console *c, struct eng_step *s);
void frame_confirm_next(struct console *c);
/* No prompt open: the question box opens on the first ask waiting, if any. */
void overlay_ask_next(struct console *c);

bool frame_incident_open(const struct console *c);
void frame_prompt_start(struct console *c, enum prompt p, struct eng_step *s);
/* A key on the prompt's line: the text edited, or the prompt ended. */
enum frame_edit { FRAME_EDIT_TYPING, FRAME_EDIT_ACCEPT, FRAME_EDIT_CANCEL };
enum frame_edit frame_prompt_edit(struct console *c, wint_t ch, bool is_key, bool one_letter);
void frame_prompt_draw(struct console *c, const struct rect *r, const char *question);
void frame_quit(struct console *c);

/* frame_budget.c: time budgets, owners, approvals (docs/runbook-format.md) */
/* A running group's or phase's time left, "12m left" or "+3m over"; false
   when s shows none. *alert: under a minute left, or past. */
bool frame_budget_left(const struct console *c, const struct eng_step *s, char *buf, size_t n, bool *alert);
/* The owner's role id (the tree's tag), or NULL. */
const char *frame_owner_tag(const struct eng_step *s);
/* "dba (Database admin)", or NULL: new strings, as the two below. */
char *frame_owner_text(const struct eng_step *s);
/* "30m · on_deadline fail · 12m left", or NULL. */
char *frame_deadline_text(const struct console *c, const struct eng_step *s, bool *alert);
/* "approved by bob", or who may approve it, or NULL: no approval. */
char *frame_approval_text(const struct console *c, const struct eng_step *s);
void frame_export_start(struct console *c);

#endif

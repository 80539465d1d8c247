/*
 * console.c — the console's entry: the run on the screen, the libuv loop's
 * callbacks, the session's events (the incident desk has seen them first),
 * and the frame that composes the panes and routes the keys.
 *
 * The screen is a function of the run's state: engine events only record
 * what they carry (output lines, captures) and mark the screen dirty; the
 * loop's prepare hook redraws at most once per turn, and output-only changes
 * at most every CONSOLE_THROTTLE_MS, so a step printing as fast as it can
 * never starves the keys. Keys are read from a uv_poll on stdin and
 * dispatched through one table (CONSOLE_KEYS, keys.h), which also writes
 * the help: an open overlay (the help, a prompt, an incident question) gets
 * the key raw; else its request goes to the focused pane, then to incident
 * mode, then to the frame (console_request). The panes, bars and overlays are
 * called through their ops tables only (internal.h says how the files layer).
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

#include "internal.h"
#include "rbc/console.h"
#include "rbc/desk.h"
#include "rbc/export.h"
#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/outbuf.h"
#include "rbc/session.h"
#include "rbc/terminal.h"
#include "rbc/text.h"
#include "rbc/theme.h"
#include "rbc/units.h"

#define CONSOLE_THROTTLE_MS 40      /* output-only redraws, at most this often */

/* The panes and bars by id; draw_order: the panes drawn first, the status
   row last (an open prompt draws its own there). */
static const struct pane_ops *const panes[PANE_COUNT] = {
	[PANE_TREE] = &pane_tree_ops,         [PANE_DETAIL] = &pane_detail_ops,
	[PANE_TIMELINE] = &pane_timeline_ops, [PANE_OUTPUT] = &pane_output_ops,
	[PANE_HEADER] = &bars_header_ops,     [PANE_INCIDENT] = &bars_incident_ops,
	[PANE_STATUS] = &bars_status_ops,
};
static const enum pane_id draw_order[] = {PANE_HEADER, PANE_INCIDENT, PANE_TREE, PANE_DETAIL, PANE_TIMELINE,
                                          PANE_OUTPUT};

static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err);

/* ---- time ---------------------------------------------------------------- */

/* ---- the screen ------------------------------------------------------------------ */

/* The prompt overlay holding the status row, if any. */
static const struct overlay_ops *prompt_overlay(const struct console *c)
{
	if (c->prompt == PROMPT_INCIDENT)
		return &overlay_incident_ops;
	if (c->prompt == PROMPT_ASK)
		return &overlay_ask_ops;
	if (c->prompt == PROMPT_UNFINISHED || c->prompt == PROMPT_UNFINISHED_REASON)
		return &overlay_unfinished_ops;
	return c->prompt != PROMPT_NONE ? &overlay_prompt_ops : NULL;
}

/* The whole screen: every pane into its rectangle, the help over them, the
   status row (or the open prompt's) last. */
static void draw(struct console *c)
{
	if (c->lent)
		return; /* drawn whole once the terminal is back */
	c->dirty = c->bg_dirty = false;
	getmaxyx(stdscr, c->rows, c->cols);
	links_forget();
	erase();
	if (c->rows < 10 || c->cols < 40) {
		draw_str(0, 0, c->cols, "rbc: the terminal is too small (80×24 or more)", c->attr[THEME_ERROR]);
		refresh();
		return;
	}
	frame_rows_build(c);
	struct layout L = frame_layout(c);
	for (size_t i = 0; i < RBC_ARRAY_LEN(draw_order); i++) {
		enum pane_id id = draw_order[i];
		if (L.pane[id].h > 0)
			panes[id]->draw(c, &L.pane[id], c->focus == id);
	}
	if (c->help) {
		bars_help_ops.draw(c, &(struct rect){0, 0, c->rows, c->cols});
		links_forget(); /* the help covers them */
	}
	const struct overlay_ops *prompt = prompt_overlay(c);
	if (prompt)
		prompt->draw(c, &L.pane[PANE_STATUS]);
	else
		panes[PANE_STATUS]->draw(c, &L.pane[PANE_STATUS], false);
	refresh();
	links_emit(); /* over what curses drew (links.c) */
}

/* ---- redraw scheduling --------------------------------------------------------- */

/* The throttle's wait is over: what changed meanwhile is drawn. */
static void throttle_cb(uv_timer_t *t)
{
	struct console *c = t->data;
	c->throttling = false;
	if (c->bg_dirty || c->dirty)
		draw(c);
}

/* Before the loop waits: a redraw if something changed (output-only
   changes at most every CONSOLE_THROTTLE_MS). */
static void prepare_cb(uv_prepare_t *p)
{
	struct console *c = p->data;
	if (acts_unsent_changed(c)) /* rbc join: the actions waiting for the database */
		c->dirty = true;
	if (c->dirty) {
		draw(c);
	} else if (c->bg_dirty && !c->throttling) {
		draw(c);
		c->throttling = true;
		uv_timer_start(&c->throttle, throttle_cb, CONSOLE_THROTTLE_MS, 0);
	}
}

/* Every second of a run: the clocks on screen move. */
static void tick_cb(uv_timer_t *t)
{
	struct console *c = t->data;
	c->bg_dirty = true;
}

/* ---- engine events --------------------------------------------------------------- */

static void on_event(void *ud, const struct eng_event *ev)
{
	struct console *c = ud;
	switch (ev->type) {
	case ENG_EV_OUTPUT:
		frame_output_add(c, ev->step, ev->stream, ev->data, ev->len);
		c->bg_dirty = true;
		return;
	case ENG_EV_SAMPLE:
		c->bg_dirty = true;
		return;
	case ENG_EV_CAPTURE:
		if (ev->value) {
			struct ui *u = frame_ui(ev->step);
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
			c->phase = frame_phase_of(ev->step);
		if (c->follow && ev->step->def && !frame_is_group(ev->step) && !frame_turn_selected(c))
			frame_select_step(c, ev->step);
		frame_ui(ev->step)->shown_done = false;
		frame_ui(ev->step)->asked = false;
		if (ev->step->def && !frame_is_group(ev->step)) {
			/* A new attempt's output starts afresh on screen (the spool keeps all). */
			struct ui *u = frame_ui(ev->step);
			outbuf_clear(&u->out);
			for (size_t i = 0; i < u->ncaps; i++)
				free(u->caps[i]);
			u->ncaps = 0;
		}
		break;
	case ENG_EV_STEP_FINISHED:
		frame_ui(ev->step)->shown_done = true;
		frame_ui(ev->step)->asked = false;
		if (ev->step == c->declined) {
			c->declined = NULL;
			frame_message(c, "%s %s %s: %s", frame_step_label(ev->step), ev->step->title ? ev->step->title : "",
			            ev->step->state == ENG_SKIPPED ? "SKIPPED" : verdict_name(ev->verdict),
			            ev->text ? ev->text : "");
		}
		/* A manual step answered, a confirmation declined. */
		if (ev->step->def && (ev->step->def->action == RB_MANUAL || ev->step->state == ENG_SKIPPED))
			frame_next_wait(c);
		/* A last line without a newline is still a line. */
		if (ev->step->ui)
			outbuf_flush(&((struct ui *)ev->step->ui)->out);
		break;
	case ENG_EV_CONFIRMED:
		frame_next_wait(c); /* a confirmation said yes: the step runs on */
		break;
	case ENG_EV_EXPANDED:
		frame_rows_build(c); /* a loop's iterations are in the tree now */
		break;
	case ENG_EV_NOTE:
		/* Passed on once its line is on disk; after a lost record, never. */
		if (journal_error(c->cfg->journal))
			frame_message(c, "the note is not in the record: %s", journal_error(c->cfg->journal));
		else if (c->decision_notes)
			c->decision_notes--; /* overlay_unfinished.c said it */
		else
			frame_message(c, "note added");
		break;
	case ENG_EV_WAITING:
		frame_ui(ev->step)->asked = true;
		if (c->cfg->following) { /* nothing to answer here: shown only */
			if (c->follow && !frame_turn_selected(c))
				frame_select_step(c, ev->step);
		} else if (ev->step->wait == ENG_WAIT_CONFIRM)
			frame_confirm_open(c, ev->step);
		else if (ev->step->wait == ENG_WAIT_ASK)
			overlay_ask_open(c, ev->step);
		else if (c->follow && !frame_turn_selected(c))
			frame_select_step(c, ev->step); /* the operator's turn: show what to do */
		break;
	case ENG_EV_COMMAND:
		/* A joiner's command: who acted, or why it was refused. */
		frame_message(c, "%s", ev->text ? ev->text : "a joiner's command");
		break;
	case ENG_EV_DEADLINE:
		/* Said once on disk, as batch says it: "2 Roll out: deadline 30m passed". */
		frame_message(c, "%s %s: %s", frame_step_label(ev->step), ev->step->title ? ev->step->title : "",
		              ev->text ? ev->text : "deadline passed");
		break;
	case ENG_EV_INCIDENT:
		/* The desk has applied it (and told the channels) before. */
		if (c->inc && c->inc->nentries) {
			const struct inc_entry *last = &c->inc->entries[c->inc->nentries - 1];
			/* A level reached: its procedure is in the tree now, selected
			   (Enter runs it). */
			if (last->kind == INC_EV_DECLARED || last->kind == INC_EV_SEVERITY) {
				char *id = xasprintf("%s-procedure", last->to);
				struct eng_step *p = engine_find(c->e, id);
				free(id);
				if (p) {
					frame_rows_build(c);
					frame_select_step(c, p);
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

/* ---- incident mode: its record and notifications ------------------------------- */

/* Journals what an action returned (the screen shows it once it is on
   disk), or says why it was refused. */
static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err)
{
	if (acts_incident(c, ev) || desk_record(c->desk, ev, err))
		return true;
	frame_message(c, "%s", err->msg ? err->msg : "refused");
	rbc_error_clear(err);
	return false;
}

/* What the lower files call back into this file through (internal.h). */
static const struct console_hooks hooks = {
	.record = inc_record,
};

/* S on an incident not declared: its three questions. */
static void start_declare(struct console *c)
{
	overlay_incident_declare(c);
}

/* ---- keys ------------------------------------------------------------------------ */

/* A manual step that can still be answered (failed, skipped). */
static bool manual_open(const struct eng_step *s)
{
	return s && s->def && s->def->action == RB_MANUAL &&
	       (s->state == ENG_WAITING || s->state == ENG_PENDING);
}

/* What neither the focused pane nor incident mode took: the requests on the
   selected step, the prompts, the export, the focus, the help and quitting. */
static unsigned console_request(struct console *c, enum request r)
{
	struct eng_step *s = frame_selected(c);
	switch (r) {
	case REQ_COLLAPSE:
	case REQ_EXPAND:
		/* Folding acts on the selection wherever the focus is. */
		return panes[PANE_TREE]->request(c, r);
	case REQ_RUN:
		if (!s)
			break;
		if (s->def && s->def->action == RB_MANUAL && s->state != ENG_DONE) {
			frame_message(c, "a manual step: Space marks it done, f failed, s skipped");
		} else if (s->state == ENG_WAITING && s->wait == ENG_WAIT_ASK) {
			overlay_ask_open(c, s);
		} else if (s->state == ENG_RUNNING || s->state == ENG_WAITING || s->state == ENG_WATCHING) {
			frame_message(c, "already running");
		} else if (!s->def) {
			if (overlay_unfinished_open(c))
				break; /* decided first (docs/console.md) */
			c->follow = true;
			engine_start(c->e);
		} else if (overlay_unfinished_open(c)) {
			break; /* nothing runs before the unfinished steps are decided (docs/console.md) */
		} else {
			c->follow = frame_is_group(s);
			/* A procedure run only when sent there (a rollback), started by
			   hand in an incident: the timeline says who and what. */
			if (s->def->on_demand && frame_incident_open(c)) {
				char *id = journal_step_id(s);
				char *why = xasprintf("%s %s started by hand", id, s->title ? s->title : "");
				struct rbc_error err = {0};
				inc_record(c, incident_trigger(c->inc, why, false, frame_now(c), c->operator, &err), &err);
				free(why);
				free(id);
			}
			engine_run_step(c->e, s);
		}
		break;
	case REQ_RERUN:
		if (s && s->def && s->def->action != RB_MANUAL && !overlay_unfinished_open(c))
			engine_run_step(c->e, s);
		break;
	case REQ_RUN_ALL:
		if (overlay_unfinished_open(c))
			break; /* decided first (docs/console.md) */
		c->follow = true;
		engine_start(c->e);
		break;
	case REQ_DONE:
		if (manual_open(s) && s->def->approval && !c->cfg->acts)
			frame_prompt_start(c, PROMPT_APPROVE, s); /* the approver's name */
		else if (s && !acts_answer(c, s, ENG_ANSWER_DONE, NULL, c->operator))
			frame_message(c, "Space marks a manual step done");
		break;
	case REQ_FAIL:
		if (manual_open(s))
			frame_prompt_start(c, PROMPT_FAIL, s);
		else
			frame_message(c, "f marks a manual step failed");
		break;
	case REQ_SKIP:
		/* A running wait is ended early the same way, with a reason. */
		if (manual_open(s) || (s && engine_time_left(c->e, s) >= 0))
			frame_prompt_start(c, PROMPT_SKIP, s);
		else
			frame_message(c, "s skips a manual step or ends a wait early");
		break;
	case REQ_NOTE: /* incident mode takes it once the incident is declared */
		if (s)
			frame_prompt_start(c, PROMPT_NOTE, s);
		break;
	case REQ_EXPORT:
		frame_export_start(c);
		break;
	case REQ_SEARCH:
		frame_prompt_start(c, PROMPT_SEARCH, s);
		break;
	case REQ_FOCUS: /* the next pane that takes requests */
		do
			c->focus = (c->focus + 1) % PANE_COUNT;
		while (!panes[c->focus]->request);
		break;
	case REQ_HELP:
		c->help = true;
		break;
	case REQ_REDRAW:
		clearok(stdscr, TRUE);
		break;
	case REQ_QUIT:
		if (engine_busy(c->e) && !c->finished && engine_jobs(c->e))
			frame_prompt_start(c, PROMPT_QUIT, NULL);
		else
			frame_quit(c);
		break;
	default:
		return PANE_IGNORED;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/* rbc follow: the keys that act are refused, q quits at once (nothing to
   stop); true when r is taken here. */
static bool follow_refused(struct console *c, enum request r)
{
	struct eng_step *s = frame_selected(c);
	if (c->cfg->acts) { /* rbc join: answers go to the driver, running stays its */
		switch (r) {
		case REQ_RUN:
			if (s && s->state == ENG_WAITING && s->wait == ENG_WAIT_ASK && s->def && s->def->ask &&
			    !s->def->ask->secret)
				return false;
			frame_message(c, s && s->state == ENG_WAITING && s->wait == ENG_WAIT_ASK
			                     ? "joined: a secret is answered at the driver's console"
			                     : s && s->state == ENG_WAITING && s->wait == ENG_WAIT_CONFIRM
			                     ? "joined: only the driver confirms (it starts a command on its machine)"
			                     : "joined: only the driver runs steps");
			c->dirty = true;
			return true;
		case REQ_RUN_ALL: case REQ_RERUN: case REQ_SEVERITY: case REQ_RESOLVE:
			frame_message(c, "joined: only the driver runs steps");
			c->dirty = true;
			return true;
		case REQ_DONE: case REQ_FAIL: case REQ_SKIP: case REQ_NOTE: case REQ_ROLE: case REQ_DECISION:
		case REQ_TODO: case REQ_UPDATE:
			return false;
		default:
			break;
		}
	}
	switch (r) {
	case REQ_RUN: case REQ_RUN_ALL: case REQ_DONE: case REQ_FAIL: case REQ_SKIP: case REQ_RERUN:
	case REQ_NOTE: case REQ_SEVERITY: case REQ_ROLE: case REQ_DECISION: case REQ_TODO: case REQ_UPDATE:
	case REQ_RESOLVE:
		frame_message(c, "following: read-only");
		c->dirty = true;
		return true;
	case REQ_QUIT: {
		const char *why;
		if (acts_unsent(c, &why)) /* rbc join: asked before they are dropped */
			frame_prompt_start(c, PROMPT_QUIT, NULL);
		else
			c->quitting = true;
		c->dirty = true;
		return true;
	}
	case REQ_EXPORT:
		if (c->cfg->run_path)
			return false;
		frame_message(c, "following from the database: rbc export needs the run directory");
		c->dirty = true;
		return true;
	default:
		return false;
	}
}

/* A request: to the focused pane first, then to incident mode, then to
   the frame; moving by hand stops following the run. */
static void handle_request(struct console *c, enum request r)
{
	const struct pane_ops *focused = panes[c->focus];
	frame_message_clear(c);
	if (c->cfg->following && follow_refused(c, r))
		return;
	if (r == REQ_DOWN || r == REQ_UP || r == REQ_PAGE_DOWN || r == REQ_PAGE_UP ||
	    r == REQ_TOP || r == REQ_BOTTOM || r == REQ_COLLAPSE)
		c->follow = false;
	unsigned did = focused->request ? focused->request(c, r) : PANE_IGNORED;
	if (!(did & PANE_HANDLED))
		did = overlay_incident_ops.request(c, r);
	if (!(did & PANE_HANDLED))
		did = console_request(c, r);
	if (did & PANE_REDRAW)
		c->dirty = true;
}

/* A key: to the open overlay (the help, a prompt), else as a request. */
static void handle_key(struct console *c, wint_t ch, bool is_key)
{
	if (is_key && ch == KEY_RESIZE)
		return;
	const struct overlay_ops *o = c->help ? &bars_help_ops : prompt_overlay(c);
	if (o)
		o->key(c, ch, is_key);
	else
		handle_request(c, frame_request_of(ch, is_key));
}

/* stdin is readable: every key waiting is handled, then the screen redrawn. */
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

/* SIGWINCH: curses takes the terminal's new size. */
static void resize(struct console *c)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	c->dirty = true;
}

/* SIGWINCH resizes, SIGINT is q, SIGTERM and SIGHUP stop the run and leave. */
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
	frame_quit(c);
	c->quit_when_done = true;
	if (c->quitting)
		uv_stop(c->loop);
}

/* ---- a command with the terminal ---------------------------------------------- */

/* A "tty" step's command is about to get the terminal: keys and drawing
   stop, the terminal goes back to its normal mode (docs/console.md). */
static void console_lend(void *ud)
{
	struct console *c = ud;
	c->lent = true;
	uv_poll_stop(&c->input);
	def_prog_mode();
	endwin();
}

/* It exited and the terminal is rbc's again: curses' mode, the size it may
   have changed meanwhile, everything drawn anew. */
static void console_reclaim(void *ud)
{
	struct console *c = ud;
	c->lent = false;
	reset_prog_mode();
	resize(c);
	clearok(curscr, TRUE);
	uv_poll_start(&c->input, UV_READABLE, input_cb);
	c->dirty = true;
}

/* ---- colours --------------------------------------------------------------- */

/* The screen's colours, as it is set up. */
static void setup_colours(struct console *c, bool colour)
{
	draw_colours(&c->theme, c->attr, colour);
}

/* ---- running it ------------------------------------------------------------------------ */

/* A handle closed: nothing to free (they live in struct console). */
static void close_cb(uv_handle_t *h)
{
	(void)h;
}

/* A resumed run: what the record restored is shown, the selection where
   the run goes on. */
static void show_restored(struct console *c)
{
	size_t n;
	struct eng_step *const *nodes = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		frame_mark_shown(nodes[i]);
	c->started = true;
	c->t_start = session_started(c->s) ? session_started(c->s) : frame_now(c);
	uv_timer_start(&c->tick, tick_cb, 1000, 1000);
	bool after = false;
	struct eng_step *at = engine_resume_point(c->e, &after);
	const char *lost = session_resume_warning(c->s);
	if (at) {
		c->phase = frame_phase_of(at);
		frame_select_step(c, at);
		frame_message(c, "resumed from the journal: a goes on %s %s %s%s%s", after ? "after" : "at",
		              at->def ? at->def->number : "", at->title ? at->title : "", lost ? " · " : "",
		              lost ? lost : "");
	} else {
		frame_message(c, "resumed from the journal: a runs what is left%s%s", lost ? " · " : "",
		              lost ? lost : "");
	}
}

/* What the session has to say while the console runs: the message line. */
static void console_say(void *ud, const char *text)
{
	struct console *c = ud;
	frame_message(c, "%s", text);
	c->dirty = true;
}

/* The run was taken over (docs/team.md, "Handover"): nothing acts here
   any more; the console closes and the command follows the run. */
static void console_taken_over(void *ud, const char *who)
{
	struct console *c = ud;
	free(c->taken_by);
	c->taken_by = xstrdup(who);
	frame_message(c, "taken over by %s: following now", who);
	c->quitting = true;
	uv_stop(c->loop);
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
	c->hooks = &hooks;
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
	c->operator = cfg->acts ? cfg->acts->by : engine_operator(c->e);

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
	if (resumed && !cfg->following)
		overlay_unfinished_open(c);
	char *warn = engine_secret_warning(c->e);
	if (warn && !resumed)
		frame_message(c, "warning: %s", warn);
	free(warn);
	/* An incident not declared, nor being declared (--severity): its questions. */
	if (c->inc && !desk_declared(c->desk) && !cfg->following)
		start_declare(c);
	terminal_set_lender(&(struct terminal_lender){.lend = console_lend, .reclaim = console_reclaim, .ud = c});
	struct session_view view = {.on_event = on_event, .say = console_say, .taken_over = console_taken_over,
	                            .ud = c};
	session_attach(s, &view);

	while (!c->quitting) {
		uv_run(c->loop, UV_RUN_DEFAULT);
		/* uv_stop from a key: let the engine finish what the stop started. */
		if (c->quitting && engine_busy(c->e) && !c->taken_by) {
			c->quitting = false;
			c->quit_when_done = true;
		}
	}
	/* What a stop started (killing process groups) completes before exit. */
	uv_poll_stop(&c->input);
	for (int spins = 0; (engine_busy(c->e) || journal_busy(c->cfg->journal)) && spins < 1000; spins++)
		uv_run(c->loop, UV_RUN_ONCE);

	terminal_set_lender(NULL);
	links_forget();
	endwin();
	enum rbc_verdict v = engine_verdict(c->e);
	struct eng_counts k;
	engine_counts(c->e, &k);
	/* A run left before its end has no verdict to pass on: what it found so
	   far is said, and the exit status is at least UNKNOWN's. */
	bool complete = c->finished && k.pending == 0 && k.running == 0 && k.cancelled == 0;
	if (c->taken_by) {
		text_printf("rbc: taken over by %s: following now; what this driver did after is only in its local journal",
		            c->taken_by);
	} else if (complete) {
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
		frame_ui_free(tops[i]);
	uv_close((uv_handle_t *)&c->input, close_cb);
	uv_close((uv_handle_t *)&c->prep, close_cb);
	uv_close((uv_handle_t *)&c->tick, close_cb);
	uv_close((uv_handle_t *)&c->throttle, close_cb);
	for (size_t i = 0; i < RBC_ARRAY_LEN(c->sig); i++)
		uv_close((uv_handle_t *)&c->sig[i], close_cb);
	while (c->exporting) /* an export in the thread pool writes into c */
		uv_run(c->loop, UV_RUN_ONCE);
	uv_run(c->loop, UV_RUN_NOWAIT); /* their close callbacks */
	int rc = c->taken_by ? RBC_EXIT_TAKEN_OVER
	       : journal_error(c->cfg->journal) ? RBC_EXIT_IOERR : verdict_exit_code(v);
	free(c->taken_by);
	free(c->vis);
	free(c->kept);
	free(c->search);
	free(c->message);
	free(c->ask_error);
	free(c->export_path);
	if (c->inc)
		overlay_incident_free(c);
	free(c->ask_q);
	sb_free(&c->input_text);
	free(c);
	return rc;
}

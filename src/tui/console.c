/*
 * console.c — the console's entry: the run on the screen, the libuv loop's
 * callbacks, the engine's events, the incident's record and notifications,
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
#include "rbc/export.h"
#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/notify.h"
#include "rbc/outbuf.h"
#include "rbc/text.h"
#include "rbc/theme.h"
#include "rbc/units.h"

#define CONSOLE_THROTTLE_MS 40      /* output-only redraws, at most this often */

/* The names the engine's events and the run were written with (on_event,
   console_run and the incident's functions leave this file as they are):
   the frame's functions, under their old names. */
#define set_message frame_message
#define ui_of frame_ui
#define out_add frame_output_add
#define phase_of frame_phase_of
#define is_group frame_is_group
#define step_label frame_step_label
#define select_step frame_select_step
#define build_rows frame_rows_build
#define turn_selected frame_turn_selected
#define to_next_wait frame_next_wait
#define open_confirm frame_confirm_open
#define incident_open frame_incident_open
#define free_ui frame_ui_free
#define ask_free overlay_incident_free

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

static struct console *the_console; /* for the engine clock hook */

static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err);
static void notify_entry(struct console *c, const struct inc_entry *e);

/* ---- time ---------------------------------------------------------------- */

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t console_clock(void)
{
	return the_console && the_console->fixed_now ? the_console->fixed_now : real_ms();
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

/* One timeline entry as a line: "02:20:00 severity L2 → L3 — the region is down (alice)". */
static char *timeline_line(const struct incident *in, const struct inc_entry *e)
{
	char t[40];
	iso_ms_format(t, sizeof t, e->t);
	struct strbuf sb = {0};
	sb_addf(&sb, "%.8s %s", t + 11, incident_kind_name(e->kind));
	switch (e->kind) {
	case INC_EV_DECLARED: {
		size_t sv = incident_severity_find(in->rb, e->to);
		char *l = incident_severity_label(in->rb, sv);
		sb_addf(&sb, " %s", l);
		free(l);
		break;
	}
	case INC_EV_SEVERITY:
	case INC_EV_STATUS:
		sb_addf(&sb, " %s → %s", e->from ? e->from : "", e->to ? e->to : "");
		break;
	case INC_EV_ROLE:
		sb_addf(&sb, " %s: %s → %s", e->role, e->from ? e->from : "(unassigned)", e->to ? e->to : "(unassigned)");
		break;
	case INC_EV_TODO:
		sb_adds(&sb, e->done ? " [x]" : " [ ]");
		break;
	case INC_EV_TRIGGER:
		sb_adds(&sb, e->automatic ? " (automatic)" : " (by hand)");
		break;
	case INC_EV_NOTIFICATION:
		sb_addf(&sb, " %s %s %s", e->from ? e->from : "", e->role ? e->role : "", e->to ? e->to : "");
		if (e->text)
			sb_addf(&sb, " — %s", e->text);
		return sb_take(&sb); /* by rbc: no actor to name */
	default:
		break;
	}
	if (e->text)
		sb_addf(&sb, " — %s", e->text);
	if (e->actor)
		sb_addf(&sb, " (%s)", e->actor);
	return sb_take(&sb);
}

/* ---- the screen ------------------------------------------------------------------ */

/* The prompt overlay holding the status row, if any. */
static const struct overlay_ops *prompt_overlay(const struct console *c)
{
	if (c->prompt == PROMPT_INCIDENT)
		return &overlay_incident_ops;
	return c->prompt != PROMPT_NONE ? &overlay_prompt_ops : NULL;
}

/* The whole screen: every pane into its rectangle, the help over them, the
   status row (or the open prompt's) last. */
static void draw(struct console *c)
{
	c->dirty = c->bg_dirty = false;
	getmaxyx(stdscr, c->rows, c->cols);
	erase();
	if (c->rows < 10 || c->cols < 40) {
		draw_str(0, 0, c->cols, "rbc: the terminal is too small (80×24 or more)", c->attr[THEME_ERROR]);
		refresh();
		return;
	}
	build_rows(c);
	struct layout L = frame_layout(c);
	for (size_t i = 0; i < RBC_ARRAY_LEN(draw_order); i++) {
		enum pane_id id = draw_order[i];
		if (L.pane[id].h > 0)
			panes[id]->draw(c, &L.pane[id], c->focus == id);
	}
	if (c->help)
		bars_help_ops.draw(c, &(struct rect){0, 0, c->rows, c->cols});
	const struct overlay_ops *prompt = prompt_overlay(c);
	if (prompt)
		prompt->draw(c, &L.pane[PANE_STATUS]);
	else
		panes[PANE_STATUS]->draw(c, &L.pane[PANE_STATUS], false);
	refresh();
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
		if (c->notify && incident_open(c) && ev->verdict == RBC_VERDICT_FAIL && ev->step->def &&
		    !is_group(ev->step)) {
			const struct rb_severity *sv = &c->inc->rb->severities[c->inc->severity];
			char t[40];
			iso_ms_format(t, sizeof t, ev->time);
			char *what = xasprintf("%s %s: %s", ev->step->def->number, ev->step->title ? ev->step->title : "",
			                       ev->text ? ev->text : "");
			struct notify_event ne = {.kind = NOTIFY_STEP_FAILED, .incident = c->inc->id, .title = c->inc->title,
			                          .severity = sv->id, .severity_name = sv->name,
			                          .status = incident_status_name(c->inc->status), .summary = what,
			                          .actor = "rbc", .time = t};
			struct rbc_error err = {0};
			notify_send(c->notify, &ne, &err);
			rbc_error_clear(&err);
			free(what);
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
	case ENG_EV_WATCH_FIRED:
		/* In an incident: the timeline says what fired, verbatim, and that
		   no one chose it. */
		if (incident_open(c)) {
			char *id = journal_step_id(ev->step), *to = ev->target ? journal_step_id(ev->target) : NULL;
			char *why = xasprintf("%s → %s: %s", id, to ? to : "continue", ev->text ? ev->text : "");
			struct rbc_error err = {0};
			inc_record(c, incident_trigger(c->inc, why, true, ev->time, "rbc", &err), &err);
			free(why);
			free(to);
			free(id);
		}
		break;
	case ENG_EV_INCIDENT:
		if (c->inc && ev->detail) {
			struct rbc_error err = {0};
			if (!incident_apply(c->inc, ev->detail, &err)) {
				set_message(c, "incident: %s", err.msg);
				rbc_error_clear(&err);
			} else {
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
				if (c->notify)
					notify_entry(c, last);
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

/* Wakes the loop when the wait for notifications is over. */
static void guard_cb(uv_timer_t *t)
{
	(void)t;
}

/* A delivery changed: the ends and the retries go in the timeline (and the
   journal); queued and sending only pass. */
static void notify_state_cb(void *ud, const struct notify_delivery *d)
{
	struct console *c = ud;
	if (d->state != NOTIFY_RETRYING && d->state != NOTIFY_DELIVERED && d->state != NOTIFY_FAILED)
		return;
	struct rbc_error err = {0};
	cJSON *ev = incident_notification(c->inc, d->target, notify_kind_name(d->kind), notify_state_name(d->state),
	                                  d->text, console_clock(), &err);
	if (ev) {
		engine_incident(c->e, ev);
		cJSON_Delete(ev);
	}
	rbc_error_clear(&err);
}

/* The notifier of the incident, from the run's secrets and variables:
   SLACK_WEBHOOK_URL, PAGERDUTY_KEY (PAGERDUTY_EVENTS_URL: where). */
static void notify_setup(struct console *c)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	char *slack = engine_var(c->e, tops[0], "SLACK_WEBHOOK_URL");
	char *key = engine_var(c->e, tops[0], "PAGERDUTY_KEY");
	char *url = engine_var(c->e, tops[0], "PAGERDUTY_EVENTS_URL");
	if ((slack && *slack) || (key && *key)) {
		struct notify_config cfg = {.slack_url = slack, .pagerduty_key = key, .pagerduty_url = url,
		                            .source = "rbc", .on_state = notify_state_cb, .ud = c};
		struct rbc_error err = {0};
		c->notify = notify_new(c->loop, &cfg, &err);
		if (!c->notify)
			set_message(c, "notifications: %s", err.msg);
		rbc_error_clear(&err);
	}
	free(slack);
	free(key);
	free(url);
}

/* What a journaled incident action tells the channels. */
static void notify_entry(struct console *c, const struct inc_entry *e)
{
	enum notify_kind k;
	switch (e->kind) {
	case INC_EV_DECLARED: k = NOTIFY_DECLARE; break;
	case INC_EV_SEVERITY: k = NOTIFY_SEVERITY; break;
	case INC_EV_UPDATE: k = NOTIFY_STATUS_UPDATE; break;
	case INC_EV_TRIGGER: k = NOTIFY_ROLLBACK; break;
	case INC_EV_RESOLVED: k = NOTIFY_RESOLVE; break;
	default: return;
	}
	const struct incident *in = c->inc;
	const struct rb_severity *sv = &in->rb->severities[in->severity];
	char t[40];
	iso_ms_format(t, sizeof t, e->t);
	struct notify_event ev = {.kind = k, .incident = in->id, .title = in->title, .severity = sv->id,
	                          .severity_name = sv->name, .status = incident_status_name(in->status),
	                          .summary = e->kind == INC_EV_DECLARED ? NULL : e->text, .actor = e->actor,
	                          .time = t};
	struct rbc_error err = {0};
	if (notify_send(c->notify, &ev, &err) < 0)
		set_message(c, "notifications: %s", err.msg);
	rbc_error_clear(&err);
}

/* Journals what an action returned (the screen shows it once it is on
   disk), or says why it was refused. */
static bool inc_record(struct console *c, cJSON *ev, struct rbc_error *err)
{
	if (!ev) {
		set_message(c, "%s", err->msg ? err->msg : "refused");
		rbc_error_clear(err);
		return false;
	}
	engine_incident(c->e, ev);
	cJSON_Delete(ev);
	return true;
}

/* "LEAD (L1 Minor, L2 Major, …): " */
static char *levels_q(const struct runbook *rb, const char *lead)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%s (", lead);
	for (size_t i = 0; i < rb->nseverities; i++) {
		char *l = incident_severity_label(rb, i);
		sb_addf(&sb, "%s%s", i ? ", " : "", l);
		free(l);
	}
	sb_adds(&sb, "): ");
	return sb_take(&sb);
}

/* The id of the level an answer names: its id or its name, in any case. */
static const char *level_of(const struct runbook *rb, const char *a)
{
	for (size_t i = 0; a && i < rb->nseverities; i++)
		if (strcasecmp(a, rb->severities[i].id) == 0 ||
		    (rb->severities[i].name && strcasecmp(a, rb->severities[i].name) == 0))
			return rb->severities[i].id;
	return a;
}

/* When the impact started: "" (now), HH:MM[:SS] today (UTC), a duration
   ago ("15m"), or a full ISO time. 0: not understood. */
static int64_t impact_of(const char *a, int64_t now)
{
	while (*a == ' ')
		a++;
	if (!*a)
		return now;
	int h, m, s = 0;
	char end;
	if ((sscanf(a, "%d:%d:%d%c", &h, &m, &s, &end) == 3 || sscanf(a, "%d:%d%c", &h, &m, &end) == 2) &&
	    h >= 0 && h < 24 && m >= 0 && m < 60 && s >= 0 && s < 60) {
		int64_t day = now - now % (24 * 3600 * 1000LL);
		return day + ((int64_t)h * 3600 + m * 60 + s) * 1000;
	}
	int64_t ms;
	const char *why;
	if (units_parse_duration(a, &ms, &why))
		return now - ms;
	return iso_ms_parse(a);
}

/* A resumed incident: its journaled events applied again, in order. */
static void incident_replay(struct console *c, const char *run_path)
{
	char *path = xasprintf("%s/" JOURNAL_FILE, run_path);
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, "\"ev\":\"incident\""))
			continue;
		cJSON *o = cJSON_Parse(line);
		struct rbc_error err = {0};
		if (o && !incident_apply(c->inc, o, &err))
			set_message(c, "incident: %s", err.msg);
		rbc_error_clear(&err);
		cJSON_Delete(o);
	}
	free(line);
	fclose(f);
}

/* What the lower files call back into this file through (internal.h). */
static const struct console_hooks hooks = {
	.clock = console_clock,
	.record = inc_record,
	.levels_question = levels_q,
	.level_of = level_of,
	.impact_of = impact_of,
	.timeline_line = timeline_line,
};

/* S on an incident not declared: its three questions (console_run may ask
   them before the screen is set up: the hooks are given first). */
static void start_declare(struct console *c)
{
	c->hooks = &hooks;
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
		} else if (s->state == ENG_RUNNING || s->state == ENG_WAITING || s->state == ENG_WATCHING) {
			frame_message(c, "already running");
		} else if (!s->def) {
			c->follow = true;
			engine_start(c->e);
		} else {
			c->follow = frame_is_group(s);
			/* A procedure run only when sent there (a rollback), started by
			   hand in an incident: the timeline says who and what. */
			if (s->def->on_demand && frame_incident_open(c)) {
				char *id = journal_step_id(s);
				char *why = xasprintf("%s %s started by hand", id, s->title ? s->title : "");
				struct rbc_error err = {0};
				inc_record(c, incident_trigger(c->inc, why, false, console_clock(), c->operator, &err), &err);
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
			frame_message(c, "Space marks a manual step done");
		break;
	case REQ_FAIL:
		if (manual_open(s))
			frame_prompt_start(c, PROMPT_FAIL, s);
		else
			frame_message(c, "f marks a manual step failed");
		break;
	case REQ_SKIP:
		if (manual_open(s))
			frame_prompt_start(c, PROMPT_SKIP, s);
		else
			frame_message(c, "s skips a manual step");
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

/* A request: to the focused pane first, then to incident mode, then to
   the frame; moving by hand stops following the run. */
static void handle_request(struct console *c, enum request r)
{
	const struct pane_ops *focused = panes[c->focus];
	frame_message_clear(c);
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

/* ---- colours --------------------------------------------------------------- */

/* The screen's colours, as it is set up; with it the hooks the panes and
   overlays reach this file through (before the first draw or key). */
static void setup_colours(struct console *c, bool colour)
{
	c->hooks = &hooks;
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
static void show_restored(struct console *c, const struct console_cfg *cfg)
{
	size_t n;
	struct eng_step *const *nodes = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		frame_mark_shown(nodes[i]);
	c->started = true;
	c->t_start = cfg->t_start ? cfg->t_start : console_clock();
	uv_timer_start(&c->tick, tick_cb, 1000, 1000);
	bool after = false;
	struct eng_step *at = engine_resume_point(c->e, &after);
	const char *lost = cfg->resume_warning ? *cfg->resume_warning : NULL;
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

int console_run(struct engine_opts *opts, const struct console_cfg *cfg)
{
	struct console *c = xcalloc(1, sizeof *c);
	c->loop = opts->loop;
	c->cfg = cfg;
	c->fixed_now = parse_test_now(getenv("RBC_TEST_NOW"));
	c->search_hit = (size_t)-1;
	the_console = c;

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
		the_console = NULL;
		return RBC_EXIT_USAGE;
	}
	diags_print(&d, stderr); /* warnings */
	diags_free(&d);
	free(from);
	const char *no_color = getenv("NO_COLOR");
	bool colour = !(no_color && *no_color) || (cfg->theme && *cfg->theme);

	opts->interactive = true;
	if (cfg->journal) {
		opts->on_event = journal_on_event;
		opts->ud = cfg->journal;
		journal_set_observer(cfg->journal, on_event, c);
	} else {
		opts->on_event = on_event;
		opts->ud = c;
	}
	if (c->fixed_now)
		opts->clock = console_clock;
	struct rbc_error err = {0};
	c->e = engine_new(opts, &err);
	if (!c->e) {
		text_fprintf(stderr, "rbc: %s\n", err.msg);
		rbc_error_clear(&err);
		free(c);
		the_console = NULL;
		return RBC_EXIT_SOFTWARE;
	}
	c->operator = engine_operator(c->e);
	if (cfg->journal)
		journal_attach(cfg->journal, c->e); /* write-ahead; a lost record stops the run */
	if (cfg->started && !cfg->started(cfg->started_ud, c->e)) {
		engine_free(c->e);
		probe_shutdown(c->loop);
		uv_run(c->loop, UV_RUN_DEFAULT);
		free(c);
		the_console = NULL;
		return RBC_EXIT_SOFTWARE;
	}
	/* An incident runbook: its incident, as its journal left it (a resume),
	   declared now when --severity and --title say how. */
	if (opts->nrunbooks && opts->runbooks[0]->kind == RB_KIND_INCIDENT && opts->runbooks[0]->nseverities) {
		c->inc = incident_new(opts->runbooks[0]);
		if (cfg->resumed && cfg->run_path)
			incident_replay(c, cfg->run_path);
		notify_setup(c);
		if (c->inc->severity == SIZE_MAX && cfg->severity) {
			int64_t now = console_clock();
			int64_t start = cfg->impact_start ? impact_of(cfg->impact_start, now) : now;
			cJSON *ev = start ? incident_declare(c->inc, level_of(c->inc->rb, cfg->severity), cfg->incident_title,
			                                     start, now, c->operator, &err)
			                  : NULL;
			if (!ev) {
				if (!start)
					text_fprintf(stderr, "rbc: --impact-start: \"%s\" is no time (HH:MM, 15m, or an ISO time)\n",
					        cfg->impact_start);
				else
					text_fprintf(stderr, "rbc: %s\n", err.msg);
				rbc_error_clear(&err);
				incident_free(c->inc);
				engine_free(c->e);
				probe_shutdown(c->loop);
				uv_run(c->loop, UV_RUN_DEFAULT);
				free(c);
				the_console = NULL;
				return RBC_EXIT_USAGE;
			}
			engine_incident(c->e, ev);
			cJSON_Delete(ev);
		} else if (c->inc->severity == SIZE_MAX) {
			start_declare(c);
		}
	}

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
	if (cfg->resumed)
		show_restored(c, cfg);
	char *warn = engine_secret_warning(c->e);
	if (warn && !cfg->resumed)
		set_message(c, "warning: %s", warn);
	free(warn);

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
	for (int spins = 0; (engine_busy(c->e) || journal_busy(cfg->journal)) && spins < 1000; spins++)
		uv_run(c->loop, UV_RUN_ONCE);
	/* Notifications still on their way get a few seconds (their states are
	   journaled as they end); then they are given up. */
	if (c->notify) {
		uint64_t until = uv_now(c->loop) + 5000;
		uv_timer_init(c->loop, &c->notify_guard);
		uv_timer_start(&c->notify_guard, guard_cb, 5000, 0);
		while ((notify_pending(c->notify) || journal_busy(cfg->journal)) && uv_now(c->loop) < until)
			uv_run(c->loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&c->notify_guard, NULL);
		notify_free(c->notify);
		c->notify = NULL;
	}

	endwin();
	enum rbc_verdict v = engine_verdict(c->e);
	struct eng_counts k;
	engine_counts(c->e, &k);
	/* A run left before its end has no verdict to pass on: what it found so
	   far is said, and the exit status is at least UNKNOWN's. */
	bool complete = c->finished && k.pending == 0 && k.running == 0 && k.cancelled == 0;
	if (complete) {
		printf("rbc: %s%s — %zu of %zu steps finished", verdict_name(v),
		       journal_error(cfg->journal) ? " (not in the record)" : "", k.done + k.skipped, k.total);
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
	if (journal_error(cfg->journal)) {
		text_printf("rbc: RECORD LOST: %s; nothing started after it, and what ended after it is not in the record\n",
		       journal_error(cfg->journal));
	}

	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	for (size_t i = 0; i < n; i++)
		free_ui(tops[i]);
	engine_free(c->e);
	uv_close((uv_handle_t *)&c->input, close_cb);
	uv_close((uv_handle_t *)&c->prep, close_cb);
	uv_close((uv_handle_t *)&c->tick, close_cb);
	uv_close((uv_handle_t *)&c->throttle, close_cb);
	for (size_t i = 0; i < RBC_ARRAY_LEN(c->sig); i++)
		uv_close((uv_handle_t *)&c->sig[i], close_cb);
	probe_shutdown(c->loop);
	uv_run(c->loop, UV_RUN_DEFAULT);
	free(c->vis);
	free(c->kept);
	free(c->search);
	free(c->message);
	free(c->export_path);
	if (c->inc)
		ask_free(c);
	free(c->ask_q);
	incident_free(c->inc);
	sb_free(&c->input_text);
	free(c);
	the_console = NULL;
	return journal_error(cfg->journal) ? RBC_EXIT_IOERR : verdict_exit_code(v);
}

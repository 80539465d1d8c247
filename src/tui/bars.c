/*
 * bars.c — the bars round the panes: the header (the run, its phase and
 * environment, what it is doing, the elapsed time), incident mode's two
 * lines under it (level, clocks, roles), the status row (progress, counts,
 * the message, key hints, the idle marker) and the help overlay, written
 * from the key table. They draw only; the help closes on any key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rbc/units.h"
#include "rbc/journal.h"
#include "rbc/runlog.h"

/* A step at or below s waits for the operator. */
static bool any_waiting(const struct eng_step *s)
{
	if (s->state == ENG_WAITING)
		return true;
	for (size_t i = 0; i < s->nchildren; i++)
		if (any_waiting(s->children[i]))
			return true;
	return false;
}

/* Production is said loudly: a runbook of the run whose "log" says it
   changes production turns the header to header.alert. */
static bool changes_production(struct eng_step *const *tops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tops[i]->rb->log_production)
			return true;
	return false;
}

/* The header row: the run's phase, environment (production said loudly),
   operator, what it does now and the time since it started. */
static void draw_header(struct console *c)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(c->e, &n);
	/* The phase the run is in, and its environment as its runbook's "log"
	   declares it, else as the first runbook's does. */
	const struct eng_step *ph = c->phase ? c->phase : tops[0];
	char *env = runlog_environment(c->e, ph);
	if (!env && ph != tops[0])
		env = runlog_environment(c->e, tops[0]);
	/* A record that cannot be written is said as loudly as production. */
	const char *lost = journal_error(c->cfg->journal);
	attr_t a = c->attr[lost || changes_production(tops, n) ? THEME_HEADER_ALERT : THEME_HEADER];
	draw_fill(0, 0, c->cols, a);
	struct strbuf sb = {0};
	sb_addf(&sb, " rbc · %s", ph->rb->id);
	if (env) {
		char *m = engine_mask(c->e, env);
		sb_addf(&sb, " · env %s", m);
		free(m);
		free(env);
	}
	if (c->cfg->following)
		sb_addf(&sb, " · %s", c->cfg->following(c->cfg->following_ud)); /* sanitized as it is drawn */
	else
		sb_addf(&sb, " · operator %s", c->operator);
	draw_str(0, 0, c->cols, sb_borrow(&sb), a);
	sb_free(&sb);

	size_t jobs = engine_jobs(c->e);
	bool waiting = false;
	for (size_t i = 0; i < n && !waiting; i++)
		waiting = any_waiting(tops[i]);
	int64_t end = c->finished ? c->t_end : frame_now(c);
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
	int w = draw_width(right);
	if (w < c->cols)
		draw_str(0, c->cols - w, w, right, a);
	/* The phase's time budget, left of that: alert under a minute or past. */
	char left[48], shown[64];
	bool alert = false;
	if (frame_budget_left(c, ph, left, sizeof left, &alert)) {
		snprintf(shown, sizeof shown, "⏱ %s · ", left);
		int lw = draw_width(shown);
		if (w + lw < c->cols)
			draw_str(0, c->cols - w - lw, lw, shown, alert ? c->attr[THEME_HEADER_ALERT] : a);
	}
}

/* The header into its row. */
static void header_draw(struct console *c, const struct rect *r, bool focused)
{
	(void)r;
	(void)focused;
	draw_header(c);
}

const struct pane_ops bars_header_ops = {
	.name = "header",
	.draw = header_draw,
};

/* "L2 Major · investigating · impact 30m00s ago · …", coloured by the restore
   target: 50 % and 75 % of it gone, then BREACHED. */
static void incident_draw(struct console *c, const struct rect *rc, bool focused)
{
	(void)focused;
	const struct incident *in = c->inc;
	const struct runbook *rb = in->rb;
	attr_t a = c->attr[THEME_HEADER];
	draw_fill(rc->y, 0, c->cols, a);
	draw_fill(rc->y + 1, 0, c->cols, c->attr[THEME_NORMAL]);
	if (in->severity == SIZE_MAX) {
		draw_str(rc->y, 0, c->cols, " incident not declared yet: S declares it (severity, title, impact start)",
		         c->attr[THEME_HEADER_ALERT]);
		return;
	}
	int64_t now = frame_now(c);
	struct inc_clock k;
	incident_clock(in, now, &k);
	struct strbuf sb = {0};
	char *label = incident_severity_label(rb, in->severity);
	char *imp = incident_duration(k.since_impact), *dec = incident_duration(k.since_declared);
	sb_addf(&sb, " %s · %s · impact %s · declared %s", label, incident_status_name(in->status), imp, dec);
	int x = draw_str(rc->y, 0, c->cols, sb_borrow(&sb), c->attr[THEME_HEADER_ALERT]);
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
		draw_str(rc->y, x, c->cols - x, t, c->attr[k.target == INC_TARGET_BREACHED ? THEME_STEP_FAIL : THEME_STEP_PASS]);
		free(took);
		free(target);
	} else if (k.restore_ms > 0 && x < c->cols) {
		static const enum theme_element el[] = {THEME_HEADER, THEME_HEADER, THEME_STEP_WARN, THEME_STEP_FAIL,
		                                        THEME_HEADER_ALERT};
		attr_t ta = c->attr[el[k.target]];
		x += draw_str(rc->y, x, c->cols - x, " · restore ", a);
		int filled = (int)(k.fraction >= 1.0 ? 10 : k.fraction * 10);
		for (int i = 0; i < 10 && x < c->cols; i++)
			x += draw_str(rc->y, x, 1, i < filled ? "█" : "░", ta);
		char *left = incident_duration(k.restore_left < 0 ? -k.restore_left : k.restore_left);
		char t[96];
		if (k.target == INC_TARGET_BREACHED)
			snprintf(t, sizeof t, " BREACHED %s%s", left, k.restore_left ? " ago" : "");
		else
			snprintf(t, sizeof t, " %d%% %s left", (int)(k.fraction * 100), left);
		free(left);
		x += draw_str(rc->y, x, c->cols - x, t, ta);
	}
	if (k.update_due && x < c->cols) {
		char *d = incident_duration(k.update_due - now < 0 ? now - k.update_due : k.update_due - now);
		char t[64];
		snprintf(t, sizeof t, k.update_overdue ? " · update OVERDUE %s" : " · update in %s", d);
		free(d);
		draw_str(rc->y, x, c->cols - x, t, c->attr[k.update_overdue ? THEME_STEP_FAIL : THEME_HEADER]);
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
	draw_str(rc->y + 1, 0, c->cols, sb_borrow(&r), c->attr[THEME_NORMAL]);
	sb_free(&r);
}

const struct pane_ops bars_incident_ops = {
	.name = "incident",
	.draw = incident_draw,
};

/* A wait counting down, the selected step first, else the first one shown. */
static const struct eng_step *status_wait(struct console *c, int64_t *left)
{
	const struct eng_step *s = frame_selected(c);
	if (s && (*left = engine_time_left(c->e, s)) >= 0)
		return s;
	for (size_t i = 0; i < c->nvis; i++)
		if ((*left = engine_time_left(c->e, c->vis[i])) >= 0)
			return c->vis[i];
	return NULL;
}

/* The status row: progress, counts, a wait's time left, the message, a lost record, the key
   hints that fit and the idle marker (a prompt's overlay draws over it). */
static void status_draw(struct console *c, const struct rect *rc, bool focused)
{
	(void)focused;
	int y = rc->y;
	attr_t a = c->attr[THEME_STATUS];
	draw_fill(y, 0, c->cols, a);
	curs_set(0);
	struct eng_counts k;
	engine_counts_as(c->e, frame_shown_state, &k);
	size_t fin = k.done + k.skipped + k.cancelled;
	int barw = c->cols >= 100 ? 20 : 10;
	int filled = k.total ? (int)((size_t)barw * fin / k.total) : 0;
	int x = 1;
	for (int i = 0; i < barw; i++)
		x += draw_str(y, x, 1, i < filled ? "█" : "░", c->attr[i < filled ? THEME_PROGRESS_DONE : THEME_PROGRESS_TODO]);
	struct strbuf sb = {0};
	sb_addf(&sb, " %zu/%zu", fin, k.total);
	static const char *const words[] = {"passed", "warn", "failed", "unknown", "error"};
	for (int v = 1; v < 5; v++)
		if (k.by_verdict[v])
			sb_addf(&sb, " · %zu %s", k.by_verdict[v], words[v]);
	int64_t left;
	const struct eng_step *w = status_wait(c, &left);
	if (w) {
		char d[32];
		units_format_duration((left + 999) / 1000 * 1000, d, sizeof d);
		sb_addf(&sb, " · %s %s: %s left (s ends it)", frame_step_label(w), w->title ? w->title : "", d);
	}
	/* rbc join: actions the database has not taken yet, said until it does. */
	const char *why;
	size_t unsent = acts_unsent(c, &why);
	if (unsent && why)
		sb_addf(&sb, " · %zu action%s not sent yet: the database is unreachable", unsent, unsent == 1 ? "" : "s");
	if (c->message)
		sb_addf(&sb, " · %s", c->message);
	x += draw_str(y, x, c->cols - x - 6, sb_borrow(&sb), a); /* 6: room for " idle" */
	sb_free(&sb);
	/* A journal that cannot be written is said until the end: the run goes
	   on, its record does not. */
	const char *jerr = journal_error(c->cfg->journal);
	if (jerr) {
		x += draw_str(y, x, c->cols - x - 6, " · RECORD LOST: ", c->attr[THEME_ERROR]);
		x += draw_str(y, x, c->cols - x - 6, jerr, c->attr[THEME_ERROR]);
	}
	/* The idle marker always has its place at the right end; the key hints
	   take what room is left, the longest set that fits. */
	static const char *const hints[] = {
		"  Enter run  a all  Space done  n note  ? help  q quit",
		"  Enter run  Space done  ? help  q quit",
		"  ? help  q quit",
	};
	/* rbc follow: nothing to run or answer here. */
	static const char *const follow_hints[] = {
		"  read-only  j/k move  Tab output  ? help  q quit",
		"  read-only  ? help  q quit",
		"  ? help  q quit",
	};
	/* rbc join: the answers go to the driver. */
	static const char *const join_hints[] = {
		"  joined  Space done  Enter answer  n note  ? help  q quit",
		"  joined  Space done  ? help  q quit",
		"  ? help  q quit",
	};
	const char *const *shown = c->cfg->acts ? join_hints : c->cfg->following ? follow_hints : hints;
	bool idle = frame_idle(c);
	const char *mark = idle ? " idle" : "     ";
	int mw = draw_width(mark) + 1;
	int room = c->cols - mw - x;
	for (size_t i = 0; i < RBC_ARRAY_LEN(hints); i++) {
		int hw = draw_width(shown[i]);
		if (hw <= room) {
			draw_str(y, c->cols - mw - hw, hw, shown[i], c->attr[THEME_KEY_HINT]);
			break;
		}
	}
	if (idle)
		draw_str(y, c->cols - mw, mw, mark, c->attr[THEME_IDLE]);
}

const struct pane_ops bars_status_ops = {
	.name = "status",
	.draw = status_draw,
};

/* The help, written from the key table: one column when it fits, else two. */
static void help_draw(struct console *c, const struct rect *rc)
{
	(void)rc;
	int n = (int)frame_nkeys;
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
		draw_fill(y + r, x, w, c->attr[THEME_HELP]);
	draw_box(&(struct rect){y, x, h, w}, "Keys", c->attr[THEME_BORDER_FOCUS], c->attr[THEME_PANE_TITLE]);
	for (int i = 0; i < n; i++) {
		int row = i % per, col = i / per;
		if (row >= h - 4)
			continue;
		int kx = x + 2 + col * colw;
		draw_str(y + 1 + row, kx, 9, frame_keys[i].shown, c->attr[THEME_HELP_KEY]);
		draw_str(y + 1 + row, kx + 10, colw - 11, frame_keys[i].help, c->attr[THEME_HELP]);
	}
	char foot[256];
	snprintf(foot, sizeof foot, "any key closes · run %s", c->cfg->run_id ? c->cfg->run_id : "");
	draw_str(y + h - 2, x + 2, w - 4, foot, c->attr[THEME_HELP]);
}

/* Any key closes the help. */
static unsigned help_key(struct console *c, wint_t ch, bool is_key)
{
	(void)ch;
	(void)is_key;
	c->help = false;
	return PANE_HANDLED | PANE_REDRAW;
}

const struct overlay_ops bars_help_ops = {
	.name = "help",
	.draw = help_draw,
	.key = help_key,
};

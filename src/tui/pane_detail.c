/*
 * pane_detail.c — the detail pane: what the selected step does (its
 * variables expanded, secrets masked), its threshold, its verdict with the
 * why, captures, who answered it, its timing, and the prose of a runbook or
 * a severity. It draws only: every request passes it by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rbc/markdown.h"
#include "rbc/units.h"

/* Where the next line of the pane goes, and in what. */
struct detail_ctx {
	struct console *c;
	int y, x, w, ymax;
	attr_t a;
};

/* One wrapped line, while the pane has room. */
static void detail_line(void *ud, const char *s, size_t n, int i)
{
	(void)i;
	struct detail_ctx *d = ud;
	if (d->y > d->ymax)
		return;
	draw_text(d->y++, d->x, d->w, s, n, d->a);
}

/* A label (in la) and its text (in a), wrapped under the label's end. */
static void detail_text2(struct detail_ctx *d, const char *label, attr_t la, const char *text, attr_t a)
{
	if (d->y > d->ymax || !text)
		return;
	int lw = 0;
	if (label) {
		lw = draw_str(d->y, d->x, d->w, label, la);
		lw += draw_str(d->y, d->x + lw, d->w - lw, " ", la);
	}
	struct detail_ctx in = *d;
	in.x = d->x + lw;
	in.w = d->w - lw;
	in.a = a;
	draw_wrap(text, in.w, d->ymax - d->y + 1, detail_line, &in);
	d->y = in.y;
}

/* A label in the label's colour, and its text. */
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
	const struct probe_ops *kind = probe_ops_for(d->action);
	if (kind && kind->describe) {
		kind->describe(d, &sb);
	} else if (d->call) { /* a call: its callee, its with as bound */
		sb_addf(&sb, "call %s: %zu step%s", d->call->target, d->nchildren, d->nchildren == 1 ? "" : "s");
		for (size_t i = 0; i < d->call->with.n; i++)
			sb_addf(&sb, "%s%s=${%s}", i ? ", " : ", with ", d->call->with.keys[i], d->call->with.keys[i]);
	} else if (d->foreach) {
		sb_addf(&sb, "loop over %s: %zu iteration%s", d->foreach->in ? d->foreach->in : "a list written out",
		        s->nchildren, s->nchildren == 1 ? "" : "s");
		if (d->parallel && d->parallel_max)
			sb_addf(&sb, ", %ld at once", d->parallel_max);
		else if (d->parallel)
			sb_adds(&sb, ", all at once");
	} else if (d->action == RB_GROUP)
		sb_addf(&sb, "group of %zu%s", d->nchildren, d->parallel ? ", in parallel" : "");
	else if (d->action == RB_MANUAL)
		sb_addf(&sb, "manual: %s", s->wait_text ? s->wait_text : d->manual);
	else if (d->action == RB_ASK && d->ask) {
		char *rule = rb_ask_rule(d->ask);
		sb_addf(&sb, "ask %s (%s)%s: %s", d->ask->decl.name, rule, d->ask->secret ? ", secret" : "",
		        s->wait_text ? s->wait_text : d->ask->prompt ? d->ask->prompt : d->title);
		free(rule);
	}
	/* ${NAME} as far as known now, masked. */
	char *shown = NULL;
	struct strbuf out = {0};
	const char *t = sb_borrow(&sb);
	for (const char *p = t; *p;) {
		const char *dl = strstr(p, "${");
		const char *end = dl ? strchr(dl + 2, '}') : NULL;
		if (!dl || !end || (kind && kind->describe_verbatim)) {
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


/* The selected step's details, from the top of r down while they fit. */
static void detail_draw(struct console *c, const struct rect *r, bool focused)
{
	(void)focused;
	struct eng_step *s = frame_selected(c);
	char title[512];
	snprintf(title, sizeof title, "%s %s", s ? frame_step_label(s) : "", s && s->title ? s->title : "");
	draw_box(r, title, c->attr[THEME_BORDER], c->attr[THEME_PANE_TITLE]);
	if (!s)
		return;
	struct detail_ctx d = {.c = c, .y = r->y + 1, .x = r->x + 2, .w = r->w - 4,
	                       .ymax = r->y + r->h - 2, .a = c->attr[THEME_DETAIL_VALUE]};
	char *act = action_text(c, s);
	detail_text(&d, NULL, act, c->attr[THEME_DETAIL_VALUE]);
	free(act);
	const struct rb_step *def = s->def;
	const struct probe_ops *kind = def ? probe_ops_for(def->action) : NULL;
	if (kind && kind->shell_text) {
		char *vars = command_vars(c, s, kind->shell_text(def));
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
	char *owner = frame_owner_text(s), *approval = frame_approval_text(c, s);
	bool alert = false;
	char *budget = frame_deadline_text(c, s, &alert);
	detail_text(&d, "owner", owner, c->attr[THEME_DETAIL_VALUE]);
	detail_text(&d, "deadline", budget, c->attr[alert ? THEME_STEP_FAIL : THEME_DETAIL_VALUE]);
	detail_text(&d, "approval", approval, c->attr[THEME_DETAIL_VALUE]);
	free(owner);
	free(budget);
	free(approval);
	/* The verdict, in words and glyph, and why. */
	struct strbuf v = {0};
	sb_addf(&v, "%s %s ", frame_glyph(s), frame_state_word(s));
	/* The explanation is part of the result: shown with it, once on disk. */
	const char *why = frame_shown_state(s) == s->state && s->explain ? s->explain : "";
	detail_text2(&d, sb_borrow(&v), c->attr[frame_state_element(s)], why, c->attr[THEME_EXPLAIN]);
	sb_free(&v);
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_MANUAL)
		detail_text(&d, NULL, "Space done · f failed · s skip · n note", c->attr[THEME_KEY_HINT]);
	int64_t left = engine_time_left(c->e, s);
	if (left >= 0) {
		char dl[32], line[64];
		units_format_duration((left + 999) / 1000 * 1000, dl, sizeof dl);
		snprintf(line, sizeof line, "%s left · s ends it early", dl);
		detail_text(&d, "wait", line, c->attr[THEME_KEY_HINT]);
	}
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
		int64_t end = s->finished ? s->finished : frame_now(c);
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
	/* A step read from Markdown names its place there (docs/markdown-runbooks.md). */
	if (def && def->runbook && md_is_markdown(def->runbook->file)) {
		char *from = xasprintf("%s:%u", def->runbook->file, def->line);
		detail_text(&d, "from", from, c->attr[THEME_DETAIL_LABEL]);
		free(from);
	}
	/* The prose of the step, its runbook or its severity, and its links
	   (prose.c); draw_text shows their controls, never obeys them. */
	prose_draw(c, s, d.y, d.x, d.w, d.ymax);
}

const struct pane_ops pane_detail_ops = {
	.name = "detail",
	.draw = detail_draw,
};

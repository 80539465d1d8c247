/*
 * pane_timeline.c — incident mode's timeline, above the output: its
 * entries newest first, or, while R asks them, the exit criteria and how
 * each was answered. The entries' words are the incident's own
 * (incident_entry_line, as in the exported timeline). It draws only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* The timeline, newest first; while resolving, the exit criteria. */
static void timeline_draw(struct console *c, const struct rect *rc, bool focused)
{
	(void)focused;
	int y0 = rc->y, h = rc->h;
	if (h < 3)
		return;
	const struct incident *in = c->inc;
	bool criteria = c->prompt == PROMPT_INCIDENT && (c->ask == ASK_RESOLVE || c->ask == ASK_CRITERION);
	char title[64];
	snprintf(title, sizeof title, criteria ? "exit criteria" : "timeline · %zu, newest first", in->nentries);
	draw_box(rc, title, c->attr[THEME_BORDER], c->attr[THEME_PANE_TITLE]);
	int rows = h - 2, w = rc->w - 4, x = rc->x + 2;
	if (criteria) {
		for (size_t i = 0; i < in->rb->nexit_criteria && (int)i < rows; i++) {
			char *l = xasprintf("%s %zu. %s", i < c->ask_crit ? (c->ask_reasons[i] ? "✘" : "✔") : "○", i + 1,
			                    in->rb->exit_criteria[i]);
			draw_str(y0 + 1 + (int)i, x, w, l, c->attr[i == c->ask_crit ? THEME_STEP_WAITING : THEME_NORMAL]);
			free(l);
		}
		return;
	}
	for (int r = 0; r < rows && (size_t)r < in->nentries; r++) {
		const struct inc_entry *e = &in->entries[in->nentries - 1 - (size_t)r];
		char *l = incident_entry_line(in->rb, e);
		draw_str(y0 + 1 + r, x, w, l, c->attr[e->kind == INC_EV_SEVERITY || e->kind == INC_EV_TRIGGER ? THEME_STEP_WARN
		                                      : e->kind == INC_EV_RESOLVED                          ? THEME_STEP_PASS
		                                                                                             : THEME_NORMAL]);
		free(l);
	}
}

const struct pane_ops pane_timeline_ops = {
	.name = "timeline",
	.draw = timeline_draw,
};

/*
 * detail_prose.c — the detail pane's prose (docs/console.md, "The detail pane"):
 * the description and links of the selected step, or of its runbook on the
 * runbook's row (a severity's description on its procedure), the runbook's
 * links under a step's own, and what a command with the terminal does with
 * its output. Variables known now are expanded, secrets masked; a
 * description longer than the room left is cut with "…" on its last line,
 * never silently; links keep a line each (hyperlinks, links.c, where the
 * terminal shows them).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/probe.h"

/* The lines of one wrapped text, as spans of it. */
struct prose_lines {
	const char *s[64];
	size_t n[64];
	int count;
};

/* draw_wrap's callback: keeps the span. */
static void prose_line(void *ud, const char *s, size_t n, int i)
{
	struct prose_lines *pl = ud;
	if (i < 64) {
		pl->s[i] = s;
		pl->n[i] = n;
		pl->count = i + 1;
	}
}

/* text wrapped from (y, x) in w columns, on at most max lines: cut with "…"
   when it needs more. Returns the next free row. */
static int prose_text(int y, int x, int w, int max, const char *text, attr_t a)
{
	if (max <= 0 || w <= 1)
		return y;
	if (max > 63)
		max = 63;
	struct prose_lines pl = {.count = 0};
	draw_wrap(text, w, max + 1, prose_line, &pl);
	bool cut = pl.count > max;
	int lines = cut ? max : pl.count;
	for (int i = 0; i < lines; i++) {
		if (cut && i == lines - 1) {
			size_t fit = utf8_fit(pl.s[i], pl.n[i], (size_t)w - 1, NULL);
			int used = draw_text(y + i, x, w - 1, pl.s[i], fit, a);
			draw_str(y + i, x + used, 1, "…", a);
		} else {
			draw_text(y + i, x, w, pl.s[i], pl.n[i], a);
		}
	}
	return y + lines;
}

/* One link: "link TITLE <URL>", or the title alone as a hyperlink. */
static int prose_link(struct console *c, const struct eng_step *s, const struct rb_link *l, int y, int x,
                      int w, const char *label)
{
	char *title = engine_text_shown(c->e, s, l->title);
	char *url = engine_text_shown(c->e, s, l->url);
	int lw = draw_str(y, x, w, label, c->attr[THEME_DETAIL_LABEL]);
	lw += draw_str(y, x + lw, w - lw, " ", c->attr[THEME_DETAIL_LABEL]);
	if (links_enabled() && prose_url_scheme_ok(url)) {
		links_draw(y, x + lw, w - lw, title, url, c->attr[THEME_DETAIL_VALUE]);
	} else {
		/* One line; what does not fit is cut with "…", never silently. */
		char *plain = xasprintf("%s <%s>", title, url);
		prose_text(y, x + lw, w - lw, 1, plain, c->attr[THEME_DETAIL_VALUE]);
		free(plain);
	}
	free(title);
	free(url);
	return y + 1;
}

int prose_draw(struct console *c, const struct eng_step *s, int y, int x, int w, int ymax)
{
	const struct rb_step *def = s->def;
	const struct probe_ops *kind = def ? probe_ops_for(def->action) : NULL;
	if (kind && kind->needs_terminal && kind->needs_terminal(def) && y <= ymax) {
		int lw = draw_str(y, x, w, "tty ", c->attr[THEME_DETAIL_LABEL]);
		draw_str(y, x + lw, w - lw, "the command gets the terminal; output not captured",
		         c->attr[THEME_KEY_HINT]);
		y++;
	}
	size_t lv = frame_procedure_level(c, s);
	const char *desc = def ? def->description : s->rb->description;
	if (!desc && lv != SIZE_MAX)
		desc = c->inc->rb->severities[lv].description;
	const struct rb_link *own = def ? def->links : s->rb->links;
	size_t nown = def ? def->nlinks : s->rb->nlinks;
	size_t nrb = def ? s->rb->nlinks : 0;
	int room = ymax - y + 1;
	if (desc && room > 0) {
		/* The links keep their lines; the description gets the rest, one at least. */
		int want = room - (int)(nown + nrb);
		char *shown = engine_text_shown(c->e, s, desc);
		y = prose_text(y, x, w, want > 0 ? want : 1, shown, c->attr[THEME_NOTE]);
		free(shown);
	}
	for (size_t i = 0; i < nown && y <= ymax; i++)
		y = prose_link(c, s, &own[i], y, x, w, "link");
	for (size_t i = 0; i < nrb && y <= ymax; i++)
		y = prose_link(c, s, &s->rb->links[i], y, x, w, "runbook link");
	return y;
}

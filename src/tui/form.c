/*
 * form.c — the form for required variables (docs/console.md, "Required
 * variables"): when the console is asked to run runbooks whose required
 * variables were given no value (--var, --vars), it opens on this form
 * before the run exists. Each variable is listed with its description, its
 * rule and its choices; the operator types a value (or picks a choice by
 * its key), which is checked by the variable's rule and refused with it.
 * Once every one has a value the run starts with them; Esc (or q on an
 * empty line) leaves without running anything. The form has a loop of its
 * own, as the console does: the keyboard is a poll handle, nothing waits.
 */
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <uv.h>

#include "internal.h"
#include "rbc/text.h"
#include "rbc/theme.h"

/* The form's state: the variables without a value, the values given. */
struct form {
	uv_loop_t loop;
	uv_poll_t input;
	uv_signal_t sig[2];
	attr_t attr[THEME_COUNT];
	const struct rb_vardecl **decls;
	char **values;            /* NULL: not given yet */
	size_t n, sel;
	struct strbuf line;       /* what is typed for decls[sel] */
	char *error;              /* the rule the last value broke */
	bool done, quit;
};

/* Collects the required variables of rb that vars gives no value. */
static void form_collect(struct form *f, const struct runbook *rb, const struct rb_kv *vars)
{
	for (size_t i = 0; i < rb->nvardecls; i++) {
		const struct rb_vardecl *d = &rb->vardecls[i];
		if (!d->required || rb_kv_get(vars, d->name))
			continue;
		bool seen = false;
		for (size_t k = 0; k < f->n && !seen; k++)
			seen = strcmp(f->decls[k]->name, d->name) == 0;
		if (seen)
			continue;
		f->decls = xrealloc(f->decls, (f->n + 1) * sizeof *f->decls);
		f->decls[f->n++] = d;
	}
}

/* The line typed holds text: it is the value of the selected variable. */
static void form_load_line(struct form *f)
{
	f->line.len = 0;
	sb_adds(&f->line, f->sel < f->n && f->values[f->sel] ? f->values[f->sel] : "");
}

/* The key of choice i: 1–9, then a–z; 0 when it has none. */
static int form_choice_key(size_t i)
{
	return i < 9 ? '1' + (int)i : i < 9 + 26 ? 'a' + (int)(i - 9) : 0;
}

/* Sets the selected variable to value when its rule keeps it, and moves
   to the next one without a value (the form is done when none is left). */
static void form_set(struct form *f, const char *value)
{
	const struct rb_vardecl *d = f->decls[f->sel];
	char *why = rb_var_check(d, value);
	free(f->error);
	f->error = NULL;
	if (why) {
		f->error = xasprintf("%s: %s", d->name, why);
		free(why);
		return;
	}
	free(f->values[f->sel]);
	f->values[f->sel] = xstrdup(value);
	for (size_t k = 1; k <= f->n; k++) {
		size_t i = (f->sel + k) % f->n;
		if (!f->values[i]) {
			f->sel = i;
			form_load_line(f);
			return;
		}
	}
	f->done = true;
}

/* A key on the form. */
static void form_key(struct form *f, wint_t ch, bool is_key)
{
	const struct rb_vardecl *d = f->decls[f->sel];
	if (!is_key && (ch == 27 || (ch == 'q' && f->line.len == 0 && !d->nchoices))) {
		f->quit = true;
		return;
	}
	if (is_key && (ch == KEY_UP || ch == KEY_DOWN)) {
		f->sel = ch == KEY_UP ? (f->sel + f->n - 1) % f->n : (f->sel + 1) % f->n;
		form_load_line(f);
		return;
	}
	if (!is_key && d->nchoices && f->line.len == 0) {
		for (size_t i = 0; i < d->nchoices; i++)
			if (form_choice_key(i) && (wint_t)form_choice_key(i) == ch) {
				form_set(f, d->choices[i]);
				return;
			}
	}
	if ((!is_key && (ch == '\r' || ch == '\n')) || (is_key && ch == KEY_ENTER)) {
		char *v = xstrdup(sb_borrow(&f->line));
		form_set(f, v);
		free(v);
		return;
	}
	if ((is_key && (ch == KEY_BACKSPACE || ch == KEY_DC)) || (!is_key && (ch == 127 || ch == 8))) {
		while (f->line.len && ((unsigned char)f->line.s[f->line.len - 1] & 0xc0) == 0x80)
			f->line.len--;
		if (f->line.len)
			f->line.len--;
		if (f->line.s)
			f->line.s[f->line.len] = '\0';
		return;
	}
	if (is_key || ch < 0x20 || f->line.len > 1000)
		return;
	char b[MB_LEN_MAX];
	int l = wctomb(b, (wchar_t)ch);
	if (l > 0)
		sb_add(&f->line, b, (size_t)l);
}

/* The form over the whole screen; every text from the runbook is drawn as
   data (draw.c). */
static void form_draw(struct form *f)
{
	int rows, cols;
	getmaxyx(stdscr, rows, cols);
	erase();
	const attr_t *A = f->attr;
	draw_fill(0, 0, cols, A[THEME_HEADER]);
	draw_str(0, 1, cols - 2, "rbc · required variables: nothing runs until each has a value", A[THEME_HEADER]);
	struct rect box = {1, 0, rows - 2, cols};
	draw_box(&box, "Required variables", A[THEME_BORDER_FOCUS], A[THEME_PANE_TITLE]);
	int y = 2, x = 2, w = cols - 4, last = rows - 5;
	for (size_t i = 0; i < f->n && y < last; i++) {
		const struct rb_vardecl *d = f->decls[i];
		bool sel = i == f->sel;
		attr_t a = sel ? A[THEME_SELECTION] : A[THEME_NORMAL];
		if (sel)
			draw_fill(y, x - 1, w + 2, a);
		int used = draw_str(y, x, w, sel ? "▸ " : "  ", a);
		used += draw_str(y, x + used, w - used, d->name, a);
		used += draw_str(y, x + used, w - used, "  = ", a);
		draw_str(y, x + used, w - used, f->values[i] ? f->values[i] : "(no value)", a);
		y++;
		char *rule = rb_var_rule(d);
		used = draw_str(y, x + 4, w - 4, rule, A[THEME_DETAIL_LABEL]);
		free(rule);
		if (d->description) {
			used += draw_str(y, x + 4 + used, w - 4 - used, " · ", A[THEME_DETAIL_LABEL]);
			draw_str(y, x + 4 + used, w - 4 - used, d->description, A[THEME_DETAIL_VALUE]);
		}
		y++;
		for (size_t k = 0; sel && k < d->nchoices && y < last; k++, y++) {
			char key[4] = {(char)form_choice_key(k), 0};
			draw_str(y, x + 4, 3, key, A[THEME_HELP_KEY]);
			draw_str(y, x + 7, w - 7, d->choices[k], A[THEME_NORMAL]);
		}
	}
	if (f->error)
		draw_str(rows - 4, x, w, f->error, A[THEME_ERROR]);
	draw_str(rows - 1, x, w,
	         "Enter sets the value · ↑↓ another variable · a choice's key picks it · Esc quits without running",
	         A[THEME_KEY_HINT]);
	draw_fill(rows - 3, x, w, A[THEME_PROMPT]);
	int used = draw_str(rows - 3, x, w, f->decls[f->sel]->name, A[THEME_PROMPT]);
	used += draw_str(rows - 3, x + used, w - used, " > ", A[THEME_PROMPT]);
	used += draw_str(rows - 3, x + used, w - used, sb_borrow(&f->line), A[THEME_PROMPT]);
	move(rows - 3, x + (used < w ? used : w - 1));
	curs_set(1);
	refresh();
}

/* Keys on the form, read as the loop finds them readable. */
static void form_input_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct form *f = h->data;
	if (status < 0)
		return;
	wint_t ch;
	int r;
	while (!f->done && !f->quit && (r = get_wch(&ch)) != ERR)
		form_key(f, ch, r == KEY_CODE_YES);
	if (f->done || f->quit)
		uv_stop(&f->loop);
	else
		form_draw(f);
}

/* SIGWINCH draws the form at the new size; SIGINT quits it. */
static void form_signal_cb(uv_signal_t *h, int signum)
{
	struct form *f = h->data;
	if (signum == SIGINT) {
		f->quit = true;
		uv_stop(&f->loop);
		return;
	}
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	form_draw(f);
}

/* The form, when a required variable has no value (console.h). */
int console_form(struct runbook *const *rbs, size_t nrbs, struct rb_kv *vars, const char *theme)
{
	struct form f = {0};
	for (size_t i = 0; i < nrbs; i++) {
		form_collect(&f, rbs[i], vars);
		for (size_t k = 0; k < rbs[i]->nincludes; k++)
			form_collect(&f, rbs[i]->includes[k], vars);
	}
	if (!f.n)
		return 0;
	int rc = 0;
	struct theme t;
	struct rbc_diags d = {0};
	char *from = NULL;
	setlocale(LC_ALL, "");
	const char *ctype = setlocale(LC_CTYPE, NULL);
	if (!ctype || (!strstr(ctype, "UTF-8") && !strstr(ctype, "utf8") && !strstr(ctype, "UTF8")))
		setlocale(LC_CTYPE, "C.UTF-8");
	setlocale(LC_NUMERIC, "C");
	if (!theme_select(theme, &t, &d, &from)) {
		diags_print(&d, stderr);
		rc = RBC_EXIT_USAGE;
		goto out;
	}
	f.values = xcalloc(f.n, sizeof *f.values);
	uv_loop_init(&f.loop);
	static const int sigs[] = {SIGWINCH, SIGINT};
	for (size_t i = 0; i < RBC_ARRAY_LEN(sigs); i++) {
		uv_signal_init(&f.loop, &f.sig[i]);
		f.sig[i].data = &f;
		uv_signal_start(&f.sig[i], form_signal_cb, sigs[i]);
	}
	initscr();
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	const char *no_color = getenv("NO_COLOR");
	draw_colours(&t, f.attr, !(no_color && *no_color) || (theme && *theme));
	sb_adds(&f.line, "");
	form_draw(&f);
	uv_poll_init(&f.loop, &f.input, STDIN_FILENO);
	f.input.data = &f;
	uv_poll_start(&f.input, UV_READABLE, form_input_cb);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&f.input, NULL);
	for (size_t i = 0; i < RBC_ARRAY_LEN(sigs); i++)
		uv_close((uv_handle_t *)&f.sig[i], NULL);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	uv_loop_close(&f.loop);
	erase();
	refresh();
	endwin();
	if (f.done) {
		for (size_t i = 0; i < f.n; i++)
			rb_kv_set(vars, f.decls[i]->name, f.values[i]);
	} else {
		struct strbuf names = {0};
		for (size_t i = 0; i < f.n; i++)
			if (!f.values[i])
				sb_addf(&names, "%s%s", names.len ? ", " : "", f.decls[i]->name);
		text_fprintf(stderr, "rbc: run: quit at the form for required variables (%s without a value); "
		             "nothing was run\n", sb_borrow(&names));
		sb_free(&names);
		rc = RBC_EXIT_USAGE;
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.values[i]);
out:
	diags_free(&d);
	free(from);
	free(f.values);
	free(f.decls);
	free(f.error);
	sb_free(&f.line);
	return rc;
}

/*
 * test_theme.c — colour themes: the shipped files, the parser's messages,
 * finding a theme by name or path, NO_COLOR and fitting to small palettes.
 *
 * Runs from the source root (tests/run does), where themes/ is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rbc/error.h"
#include "rbc/theme.h"
#include "rbc/util.h"

static const char *const shipped[] = {"default", "light", "high-contrast", "monochrome"};

/* A theme no parse result can equal: every field out of range. */
static void poison(struct theme *t)
{
	for (int i = 0; i < THEME_COUNT; i++)
		t->el[i] = (struct theme_style){-7, -7, 0x8000};
}

/* Fails naming the first element where a and b differ. */
static void assert_theme_equal(const struct theme *a, const struct theme *b, const char *what)
{
	for (int i = 0; i < THEME_COUNT; i++) {
		const struct theme_style *x = &a->el[i], *y = &b->el[i];
		if (x->fg != y->fg || x->bg != y->bg || x->attrs != y->attrs)
			fail_msg("%s: element %s differs: %d/%d/%#x vs %d/%d/%#x", what,
			         theme_element_name((enum theme_element)i), x->fg, x->bg,
			         x->attrs, y->fg, y->bg, y->attrs);
	}
}

/* Every problem in d, formatted, one per line. */
static char *diags_text(const struct rbc_diags *d)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < d->n; i++) {
		char *s = rbc_error_format(&d->v[i]);
		sb_addf(&sb, "%s\n", s);
		free(s);
	}
	return sb_take(&sb);
}

/* Parses text over the default theme; returns the formatted problems. */
static char *parse_msgs(const char *text, struct theme *t, bool *ok)
{
	struct rbc_diags d = {0};
	theme_default(t);
	bool r = theme_parse(text, strlen(text), "t.theme", t, &d);
	if (ok)
		*ok = r;
	char *s = diags_text(&d);
	diags_free(&d);
	return s;
}

static char *read_theme_file(const char *name, size_t *len)
{
	char *path = xasprintf("themes/%s.theme", name);
	char *text = read_file(path, 1 << 20, len);
	if (!text)
		fail_msg("cannot read %s (run from the source root)", path);
	free(path);
	return text;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void test_element_names(void **state)
{
	(void)state;
	assert_int_equal(THEME_COUNT, 38);
	for (int i = 0; i < THEME_COUNT; i++) {
		const char *n = theme_element_name((enum theme_element)i);
		assert_non_null(n);
		assert_int_equal(theme_element_find(n), i);
		/* dotted lower case: drawing code and files agree on one spelling */
		assert_int_equal(strspn(n, "abcdefghijklmnopqrstuvwxyz."), strlen(n));
		assert_true(n[0] != '.' && n[strlen(n) - 1] != '.');
	}
	assert_string_equal(theme_element_name(THEME_STEP_FAIL), "step.fail");
	assert_string_equal(theme_element_name(THEME_SELECTION_UNFOCUSED), "selection.unfocused");
	assert_null(theme_element_name(THEME_COUNT));
	assert_int_equal(theme_element_find("Step.Fail"), -1);
	assert_int_equal(theme_element_find("step"), -1);
	assert_int_equal(theme_element_find(""), -1);
	assert_string_equal(theme_attr_name(THEME_ATTR_BOLD), "bold");
	assert_string_equal(theme_attr_name(THEME_ATTR_STANDOUT), "standout");
	assert_null(theme_attr_name(THEME_ATTR_BOLD | THEME_ATTR_DIM));
	assert_null(theme_attr_name(0));
}

static void test_color_words(void **state)
{
	(void)state;
	int c = 99;
	assert_true(theme_color_parse("default", &c));
	assert_int_equal(c, THEME_COLOR_DEFAULT);
	assert_true(theme_color_parse("black", &c));
	assert_int_equal(c, 0);
	assert_true(theme_color_parse("white", &c));
	assert_int_equal(c, 7);
	assert_true(theme_color_parse("bright-black", &c));
	assert_int_equal(c, 8);
	assert_true(theme_color_parse("bright-red", &c));
	assert_int_equal(c, 9);
	assert_true(theme_color_parse("bright-white", &c));
	assert_int_equal(c, 15);
	assert_true(theme_color_parse("color0", &c));
	assert_int_equal(c, 0);
	assert_true(theme_color_parse("color255", &c));
	assert_int_equal(c, 255);
	assert_true(theme_color_parse("color196", &c));
	assert_int_equal(c, 196);
	c = 42;
	const char *bad[] = {"color256", "color", "color-1", "color1x", "Red", "bright-",
	                     "bright-default", "bright-color9", "", "color99999999999999999"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(bad); i++) {
		assert_false(theme_color_parse(bad[i], &c));
		assert_int_equal(c, 42);
	}
	/* Every colour has one canonical word that parses back to it. */
	char buf[THEME_COLOR_NAME_MAX];
	for (int i = -1; i <= THEME_COLOR_MAX; i++) {
		assert_true(theme_color_parse(theme_color_name(i, buf), &c));
		assert_int_equal(c, i);
	}
	assert_string_equal(theme_color_name(13, buf), "bright-magenta");
	assert_string_equal(theme_color_name(-1, buf), "default");
	assert_string_equal(theme_color_name(16, buf), "color16");
}

/* Each shipped file parses without a word of complaint and sets every
   element itself (parsed over a poisoned theme, nothing stays poisoned). */
static void test_shipped_themes_clean_and_complete(void **state)
{
	(void)state;
	for (size_t f = 0; f < RBC_ARRAY_LEN(shipped); f++) {
		size_t len;
		char *text = read_theme_file(shipped[f], &len);
		assert_true(len > 0);
		assert_int_equal(text[0], '#');  /* starts by saying what it is for */
		struct theme t;
		poison(&t);
		struct rbc_diags d = {0};
		bool ok = theme_parse(text, len, shipped[f], &t, &d);
		char *msgs = diags_text(&d);
		if (d.n)
			fail_msg("%s.theme: %s", shipped[f], msgs);
		assert_true(ok);
		free(msgs);
		diags_free(&d);
		for (int i = 0; i < THEME_COUNT; i++) {
			const char *name = theme_element_name((enum theme_element)i);
			if (t.el[i].attrs == 0x8000)
				fail_msg("%s.theme does not set %s", shipped[f], name);
			/* exactly one line names it, written out in full */
			char *needle = xasprintf("\ncolor %s ", name);
			char *hit = strstr(text, needle);
			if (!hit)
				fail_msg("%s.theme has no line \"color %s\"", shipped[f], name);
			assert_null(strstr(hit + 1, needle));
			free(needle);
		}
		free(text);
	}
}

static void test_builtins_equal_files(void **state)
{
	(void)state;
	struct {
		const char *file;
		void (*builtin)(struct theme *);
	} pairs[] = {{"default", theme_default}, {"monochrome", theme_monochrome}};
	for (size_t i = 0; i < RBC_ARRAY_LEN(pairs); i++) {
		size_t len;
		char *text = read_theme_file(pairs[i].file, &len);
		struct theme parsed, built;
		poison(&parsed);
		struct rbc_diags d = {0};
		assert_true(theme_parse(text, len, pairs[i].file, &parsed, &d));
		assert_int_equal(d.n, 0);
		pairs[i].builtin(&built);
		assert_theme_equal(&parsed, &built, pairs[i].file);
		free(text);
	}
	/* The shipped themes differ from one another. */
	struct theme a, b;
	struct rbc_diags d = {0};
	assert_true(theme_load("themes/light.theme", &a, &d, NULL));
	assert_true(theme_load("themes/high-contrast.theme", &b, &d, NULL));
	assert_int_equal(d.n, 0);
	assert_int_not_equal(a.el[THEME_STEP_PASS].fg, b.el[THEME_STEP_PASS].fg);
	theme_default(&b);
	assert_int_not_equal(a.el[THEME_STEP_WARN].fg, b.el[THEME_STEP_WARN].fg);
}

/* Without colour, state still shows: the cursor, failures and anything
   that needs attention stand out by attributes alone. */
static void test_monochrome_has_no_colour(void **state)
{
	(void)state;
	struct theme t;
	theme_monochrome(&t);
	for (int i = 0; i < THEME_COUNT; i++) {
		assert_int_equal(t.el[i].fg, THEME_COLOR_DEFAULT);
		assert_int_equal(t.el[i].bg, THEME_COLOR_DEFAULT);
	}
	assert_true(t.el[THEME_SELECTION].attrs & THEME_ATTR_REVERSE);
	assert_true(t.el[THEME_STEP_FAIL].attrs & THEME_ATTR_BOLD);
	assert_int_equal(t.el[THEME_NORMAL].attrs, 0);
	const enum theme_element loud[] = {
		THEME_HEADER, THEME_SELECTION, THEME_SELECTION_UNFOCUSED, THEME_BORDER_FOCUS,
		THEME_STEP_RUNNING, THEME_STEP_WAITING, THEME_STEP_WARN, THEME_STEP_FAIL,
		THEME_STEP_UNKNOWN, THEME_STEP_ERROR, THEME_SEARCH_MATCH, THEME_SEARCH_CURRENT,
		THEME_ERROR,
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(loud); i++)
		assert_int_not_equal(t.el[loud[i]].attrs, 0);
	/* the focused cursor, the other pane's cursor and a search hit differ */
	assert_int_not_equal(t.el[THEME_SELECTION].attrs, t.el[THEME_SELECTION_UNFOCUSED].attrs);
	assert_int_not_equal(t.el[THEME_SEARCH_MATCH].attrs, t.el[THEME_SEARCH_CURRENT].attrs);
}

/* One file, many mistakes: every one reported, exactly, in line order, and
   only the good line applied. */
static void test_errors_all_reported(void **state)
{
	(void)state;
	const char *text =
		"# a theme with mistakes\n"
		"color step.fial red default\n"
		"color step.pass grean default bold\n"
		"colour header blue default\n"
		"color border.focus cyan\n"
		"color step.warn yellow default bold blod\n"
		"\tcolor search.match color256 default\n"
		"color normal white black   # the one good line\n"
		"step.fail red default\n"
		"color step.fail orange black blink\n"
		"color output #ff0000 default\n"
		"palette 1 2\n"
		"color\n";
	struct theme t;
	bool ok = true;
	char *msgs = parse_msgs(text, &t, &ok);
	assert_false(ok);
	assert_string_equal(msgs,
		"t.theme:2:7: unknown element \"step.fial\" (did you mean \"step.fail\"?)\n"
		"t.theme:3:17: unknown color \"grean\" (did you mean \"green\"?)\n"
		"t.theme:4:1: unknown directive \"colour\" (did you mean \"color\"?)\n"
		"t.theme:5:1: \"color\" needs an element, a foreground and a background: "
		"color <element> <fg> <bg> [attribute...]\n"
		"t.theme:6:37: unknown attribute \"blod\" (did you mean \"bold\"?)\n"
		"t.theme:7:21: color \"color256\" is out of range (color0 to color255)\n"
		"t.theme:9:1: unknown directive \"step.fail\" (a line starts with \"color\": "
		"color step.fail <fg> <bg> [attribute...])\n"
		"t.theme:10:17: unknown color \"orange\" (did you mean \"color208\"?)\n"
		"t.theme:10:30: unknown attribute \"blink\" (attributes are bold, dim, "
		"underline, reverse, italic, standout)\n"
		"t.theme:11:14: hex colors are not supported: \"#ff0000\" (use a color name "
		"or color0 to color255)\n"
		"t.theme:12:1: unknown directive \"palette\" (lines look like: "
		"color <element> <fg> <bg> [attribute...])\n"
		"t.theme:13:1: \"color\" needs an element, a foreground and a background: "
		"color <element> <fg> <bg> [attribute...]\n");
	free(msgs);
	struct theme def;
	theme_default(&def);
	/* the good line took effect; no bad line changed anything */
	assert_int_equal(t.el[THEME_NORMAL].fg, 7);
	assert_int_equal(t.el[THEME_NORMAL].bg, 0);
	def.el[THEME_NORMAL] = t.el[THEME_NORMAL];
	assert_theme_equal(&t, &def, "after errors");
}

static void test_did_you_mean(void **state)
{
	(void)state;
	struct {
		const char *line, *msg;
	} cases[] = {
		{"color stepfail red default", "unknown element \"stepfail\" (did you mean \"step.fail\"?)"},
		{"color step_warn red default", "unknown element \"step_warn\" (did you mean \"step.warn\"?)"},
		{"color fail red default", "unknown element \"fail\" (did you mean \"step.fail\"?)"},
		{"color unfocused red default",
		 "unknown element \"unfocused\" (did you mean \"selection.unfocused\"?)"},
		{"color title red default", "unknown element \"title\" (did you mean \"pane.title\"?)"},
		{"color sidebar red default", "unknown element \"sidebar\""},
		{"color normal yelow default", "unknown color \"yelow\" (did you mean \"yellow\"?)"},
		{"color normal brightred default",
		 "unknown color \"brightred\" (did you mean \"bright-red\"?)"},
		{"color normal colour12 default", "unknown color \"colour12\" (did you mean \"color12\"?)"},
		{"color normal default grey", "unknown color \"grey\" (did you mean \"bright-black\"?)"},
		{"color normal default none", "unknown color \"none\" (did you mean \"default\"?)"},
		{"color normal default default inverse",
		 "unknown attribute \"inverse\" (did you mean \"reverse\"?)"},
		{"color normal default default underlined",
		 "unknown attribute \"underlined\" (did you mean \"underline\"?)"},
		{"colr normal default default", "unknown directive \"colr\" (did you mean \"color\"?)"},
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(cases); i++) {
		struct theme t;
		char *msgs = parse_msgs(cases[i].line, &t, NULL);
		char *colon = strstr(msgs, ": ");
		assert_non_null(colon);
		char *want = xasprintf("%s\n", cases[i].msg);
		assert_string_equal(colon + 2, want);
		free(want);
		free(msgs);
	}
}

static void test_color_numbers(void **state)
{
	(void)state;
	struct theme t;
	bool ok;
	char *msgs = parse_msgs("color normal color0 color255\ncolor idle color007 default", &t, &ok);
	assert_true(ok);
	assert_string_equal(msgs, "");
	free(msgs);
	assert_int_equal(t.el[THEME_NORMAL].fg, 0);
	assert_int_equal(t.el[THEME_NORMAL].bg, 255);
	assert_int_equal(t.el[THEME_IDLE].fg, 7);
	msgs = parse_msgs("color normal color256 color1000000000000000000000\n"
	                  "color normal color-1 color\ncolor normal color-2 default\n", &t, &ok);
	assert_false(ok);
	assert_string_equal(msgs,
		"t.theme:1:14: color \"color256\" is out of range (color0 to color255)\n"
		"t.theme:1:23: color \"color1000000000000000000000\" is out of range "
		"(color0 to color255)\n"
		"t.theme:2:14: unknown color \"color-1\" (did you mean \"default\"?)\n"
		"t.theme:2:22: unknown color \"color\" (colors are default, black, red, "
		"green, yellow, blue, magenta, cyan, white, bright-<color> and color0 to "
		"color255)\n"
		"t.theme:3:14: unknown color \"color-2\" (colors are default, black, red, "
		"green, yellow, blue, magenta, cyan, white, bright-<color> and color0 to "
		"color255)\n");
	free(msgs);
}

/* A file may name only what it changes; the rest is the built-in default. */
static void test_unmentioned_keep_default(void **state)
{
	(void)state;
	struct theme t, def;
	bool ok;
	char *msgs = parse_msgs("color step.fail color196 default bold underline\n", &t, &ok);
	assert_true(ok);
	assert_string_equal(msgs, "");
	free(msgs);
	theme_default(&def);
	assert_int_equal(t.el[THEME_STEP_FAIL].fg, 196);
	assert_int_equal(t.el[THEME_STEP_FAIL].attrs, THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE);
	def.el[THEME_STEP_FAIL] = t.el[THEME_STEP_FAIL];
	assert_theme_equal(&t, &def, "one line");

	/* a line replaces the element whole: no attribute survives from before */
	msgs = parse_msgs("color step.fail red default\n", &t, &ok);
	free(msgs);
	assert_int_equal(t.el[THEME_STEP_FAIL].attrs, 0);

	/* warnings do not fail the parse, and are applied */
	msgs = parse_msgs("color step.pass green default\ncolor step.pass red red\n", &t, &ok);
	assert_true(ok);
	assert_string_equal(msgs,
		"t.theme:2:7: warning: element \"step.pass\" is already set on line 1; this "
		"line replaces it\n"
		"t.theme:2:17: warning: \"step.pass\" has the same foreground and background "
		"(red): its text is invisible\n");
	free(msgs);
	assert_int_equal(t.el[THEME_STEP_PASS].fg, 1);
}

/* What editors and people write: CRLF, a BOM, tabs, trailing comments. And
   what they should not: NUL bytes and broken UTF-8, reported by column. */
static void test_file_shapes(void **state)
{
	(void)state;
	struct theme t;
	bool ok;
	char *msgs = parse_msgs("\xef\xbb\xbf# bom\r\n\r\n  \t\r\ncolor\tnormal  red\tblue bold # x\r\n"
	                        "# color normal green green\n", &t, &ok);
	assert_true(ok);
	assert_string_equal(msgs, "");
	free(msgs);
	assert_int_equal(t.el[THEME_NORMAL].fg, 1);
	assert_int_equal(t.el[THEME_NORMAL].bg, 4);
	assert_int_equal(t.el[THEME_NORMAL].attrs, THEME_ATTR_BOLD);

	msgs = parse_msgs("color normal rød default\ncolor idle \xff default\n", &t, &ok);
	assert_false(ok);
	assert_string_equal(msgs,
		"t.theme:1:14: unknown color \"rød\" (did you mean \"red\"?)\n"
		"t.theme:2:12: invalid UTF-8\n");
	free(msgs);

	struct rbc_diags d = {0};
	theme_default(&t);
	static const char nul[] = "color x\0y\ncolor normal red default\n";
	assert_false(theme_parse(nul, sizeof nul - 1, "n", &t, &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, "NUL byte in a theme file");
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 8);
	assert_int_equal(t.el[THEME_NORMAL].fg, 1);
	diags_free(&d);
}

struct tmpdir {
	char path[64];
};

static void tmp_make(struct tmpdir *td)
{
	snprintf(td->path, sizeof td->path, "/tmp/rbc-theme.XXXXXX");
	assert_non_null(mkdtemp(td->path));
}

static void tmp_remove(struct tmpdir *td, const char *const *files)
{
	for (; *files; files++) {
		char *p = xasprintf("%s/%s", td->path, *files);
		unlink(p);
		free(p);
	}
	assert_int_equal(rmdir(td->path), 0);
}

static void test_load_by_name(void **state)
{
	(void)state;
	struct tmpdir a, b;
	tmp_make(&a);
	tmp_make(&b);
	char *p = xasprintf("%s/mine.theme", a.path);
	write_file(p, "color step.fail bright-white red bold\n");
	free(p);
	p = xasprintf("%s/mine.theme", b.path);
	write_file(p, "color step.fail green default\n");
	free(p);
	p = xasprintf("%s/other.theme", b.path);
	write_file(p, "color step.fail blue default\n");
	free(p);
	char *env = xasprintf("%s::%s", a.path, b.path);
	setenv("RBC_THEMES_DIR", env, 1);
	free(env);

	/* the search path starts with $RBC_THEMES_DIR, in order */
	char **dirs = theme_search_path();
	assert_string_equal(dirs[0], a.path);
	assert_string_equal(dirs[1], b.path);
	size_t n = 0;
	while (dirs[n])
		n++;
	assert_int_equal(n, 6);
	assert_non_null(strstr(dirs[2], "/../share/rbc/themes"));
	theme_strv_free(dirs);

	struct theme t;
	struct rbc_diags d = {0};
	char *from = NULL;
	assert_true(theme_load("mine", &t, &d, &from));
	assert_int_equal(d.n, 0);
	/* the first directory wins */
	char *want = xasprintf("%s/mine.theme", a.path);
	assert_string_equal(from, want);
	free(want);
	free(from);
	assert_int_equal(t.el[THEME_STEP_FAIL].bg, 1);
	assert_int_equal(t.el[THEME_STEP_FAIL].fg, 15);
	/* and the rest is the default */
	struct theme def;
	theme_default(&def);
	assert_int_equal(t.el[THEME_STEP_PASS].fg, def.el[THEME_STEP_PASS].fg);

	assert_true(theme_load("other", &t, &d, NULL));
	assert_int_equal(t.el[THEME_STEP_FAIL].fg, 4);

	/* the built-in names work without any file */
	assert_true(theme_load("monochrome", &t, &d, &from));
	assert_null(from);
	struct theme mono;
	theme_monochrome(&mono);
	assert_theme_equal(&t, &mono, "built-in monochrome");
	assert_true(theme_load("default", &t, &d, &from));
	assert_null(from);
	assert_theme_equal(&t, &def, "built-in default");
	assert_int_equal(d.n, 0);

	/* an unknown name lists what there is */
	assert_false(theme_load("mien", &t, &d, &from));
	assert_null(from);
	assert_false(theme_load("solarized", &t, &d, NULL));
	assert_false(theme_load("my theme", &t, &d, NULL));
	char *msgs = diags_text(&d);
	assert_string_equal(msgs,
		"unknown theme \"mien\" (did you mean \"mine\"?); available: default, mine, "
		"monochrome, other\n"
		"unknown theme \"solarized\"; available: default, mine, monochrome, other\n"
		"invalid theme name \"my theme\" (a name is letters, digits, '.', '_' and '-'; "
		"a path contains '/')\n");
	free(msgs);
	diags_free(&d);

	char **names = theme_list();
	assert_string_equal(names[0], "default");
	assert_string_equal(names[1], "mine");
	assert_string_equal(names[2], "monochrome");
	assert_string_equal(names[3], "other");
	assert_null(names[4]);
	theme_strv_free(names);

	/* a file with errors: reported with its full path, load fails */
	p = xasprintf("%s/broken.theme", b.path);
	write_file(p, "color normal red default\ncolor idle purple default\n");
	free(p);
	assert_false(theme_load("broken", &t, &d, &from));
	assert_int_equal(d.n, 1);
	want = xasprintf("%s/broken.theme", b.path);
	assert_string_equal(from, want);
	assert_string_equal(d.v[0].file, want);
	assert_int_equal(d.v[0].line, 2);
	assert_string_equal(d.v[0].msg, "unknown color \"purple\" (did you mean \"magenta\"?)");
	free(want);
	free(from);
	diags_free(&d);

	unsetenv("RBC_THEMES_DIR");
	const char *fa[] = {"mine.theme", NULL}, *fb[] = {"mine.theme", "other.theme", "broken.theme", NULL};
	tmp_remove(&a, fa);
	tmp_remove(&b, fb);
}

/* The shipped themes, found by name the way ./rbc --theme light finds them
   in a checkout (here through RBC_THEMES_DIR, the binary being elsewhere). */
static void test_load_shipped_by_name(void **state)
{
	(void)state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	char *dir = xasprintf("%s/themes", cwd);
	setenv("RBC_THEMES_DIR", dir, 1);
	char **names = theme_list();
	size_t n = 0;
	while (names[n])
		n++;
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "default");
	assert_string_equal(names[1], "high-contrast");
	assert_string_equal(names[2], "light");
	assert_string_equal(names[3], "monochrome");
	theme_strv_free(names);
	for (size_t i = 0; i < RBC_ARRAY_LEN(shipped); i++) {
		struct theme t;
		struct rbc_diags d = {0};
		char *from = NULL;
		assert_true(theme_load(shipped[i], &t, &d, &from));
		assert_int_equal(d.n, 0);
		char *want = xasprintf("%s/%s.theme", dir, shipped[i]);
		assert_string_equal(from, want);
		free(want);
		free(from);
	}
	struct theme t;
	struct rbc_diags d = {0};
	assert_false(theme_load("ligth", &t, &d, NULL));
	assert_string_equal(d.v[0].msg, "unknown theme \"ligth\" (did you mean \"light\"?); "
	                    "available: default, high-contrast, light, monochrome");
	diags_free(&d);
	unsetenv("RBC_THEMES_DIR");
	free(dir);
}

static void test_load_by_path(void **state)
{
	(void)state;
	struct theme t;
	struct rbc_diags d = {0};
	char *from = NULL;
	/* a '/' makes a path, relative to the working directory */
	assert_true(theme_load("./themes/high-contrast.theme", &t, &d, &from));
	assert_string_equal(from, "./themes/high-contrast.theme");
	free(from);
	assert_int_equal(t.el[THEME_NORMAL].bg, 0);
	assert_int_equal(t.el[THEME_STEP_FAIL].bg, 1);

	/* so does the .theme suffix, even without a '/' */
	struct tmpdir td;
	tmp_make(&td);
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(td.path), 0);
	write_file("x.theme", "color idle color33 default italic\n");
	assert_true(theme_load("x.theme", &t, &d, &from));
	assert_string_equal(from, "x.theme");
	free(from);
	assert_int_equal(t.el[THEME_IDLE].fg, 33);
	assert_int_equal(t.el[THEME_IDLE].attrs, THEME_ATTR_ITALIC);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(d.n, 0);

	/* a missing file, a directory */
	assert_false(theme_load("/nonexistent/dir/a.theme", &t, &d, NULL));
	assert_false(theme_load(td.path, &t, &d, NULL));
	assert_int_equal(d.n, 2);
	char *msgs = diags_text(&d);
	char *want = xasprintf("/nonexistent/dir/a.theme: cannot read theme: No such file or "
	                       "directory\n%s: cannot read theme: it is a directory\n", td.path);
	assert_string_equal(msgs, want);
	free(want);
	free(msgs);
	diags_free(&d);
	const char *files[] = {"x.theme", NULL};
	tmp_remove(&td, files);
}

/* NO_COLOR (not empty) picks monochrome, but an explicit --theme wins. */
static void test_select_no_color(void **state)
{
	(void)state;
	struct theme t, want;
	struct rbc_diags d = {0};
	char junk[] = "junk";
	char *from = junk;
	unsetenv("NO_COLOR");
	assert_true(theme_select(NULL, &t, &d, &from));
	assert_null(from);
	theme_default(&want);
	assert_theme_equal(&t, &want, "no NO_COLOR");

	setenv("NO_COLOR", "", 1);
	assert_true(theme_select("", &t, &d, NULL));
	assert_theme_equal(&t, &want, "empty NO_COLOR");

	setenv("NO_COLOR", "1", 1);
	assert_true(theme_select(NULL, &t, &d, &from));
	assert_null(from);
	theme_monochrome(&want);
	assert_theme_equal(&t, &want, "NO_COLOR=1");

	assert_true(theme_select("themes/light.theme", &t, &d, &from));
	assert_string_equal(from, "themes/light.theme");
	free(from);
	assert_int_equal(t.el[THEME_STEP_PASS].fg, 28);
	unsetenv("NO_COLOR");
	assert_int_equal(d.n, 0);
}

static void test_fit(void **state)
{
	(void)state;
	struct theme light, t;
	struct rbc_diags d = {0};
	assert_true(theme_load("themes/light.theme", &light, &d, NULL));

	t = light;
	theme_fit(&t, 256);
	assert_theme_equal(&t, &light, "256 colours");

	t = light;
	theme_fit(&t, 16);
	for (int i = 0; i < THEME_COUNT; i++) {
		assert_true(t.el[i].fg < 16 && t.el[i].bg < 16);
		assert_true(t.el[i].fg == THEME_COLOR_DEFAULT || t.el[i].fg != t.el[i].bg);
	}
	assert_int_equal(t.el[THEME_STEP_PASS].fg, 2);  /* color28, dark green */

	for (size_t f = 0; f < RBC_ARRAY_LEN(shipped); f++) {
		char *path = xasprintf("themes/%s.theme", shipped[f]);
		assert_true(theme_load(path, &t, &d, NULL));
		free(path);
		theme_fit(&t, 8);
		for (int i = 0; i < THEME_COUNT; i++) {
			assert_true(t.el[i].fg < 8 && t.el[i].bg < 8);
			/* nothing becomes invisible on the way down */
			assert_true(t.el[i].fg == THEME_COLOR_DEFAULT || t.el[i].fg != t.el[i].bg);
		}
	}
	assert_int_equal(d.n, 0);

	/* bright becomes bold; grey text becomes the terminal's own, dimmed */
	theme_default(&t);
	t.el[THEME_NORMAL] = (struct theme_style){9, THEME_COLOR_DEFAULT, 0};
	t.el[THEME_IDLE] = (struct theme_style){244, 15, 0};
	t.el[THEME_HELP] = (struct theme_style){15, 231, 0};
	theme_fit(&t, 8);
	assert_int_equal(t.el[THEME_NORMAL].fg, 1);
	assert_int_equal(t.el[THEME_NORMAL].attrs, THEME_ATTR_BOLD);
	assert_int_equal(t.el[THEME_IDLE].fg, THEME_COLOR_DEFAULT);
	assert_int_equal(t.el[THEME_IDLE].bg, 7);
	assert_int_equal(t.el[THEME_IDLE].attrs, THEME_ATTR_DIM);
	/* white on white would vanish: black instead */
	assert_int_equal(t.el[THEME_HELP].fg, 0);
	assert_int_equal(t.el[THEME_HELP].bg, 7);

	/* no colours at all: monochrome */
	t = light;
	theme_fit(&t, 2);
	theme_monochrome(&light);
	assert_theme_equal(&t, &light, "2 colours");
}

static void test_format_round_trip(void **state)
{
	(void)state;
	for (size_t f = 0; f < RBC_ARRAY_LEN(shipped); f++) {
		struct theme t, back;
		struct rbc_diags d = {0};
		char *path = xasprintf("themes/%s.theme", shipped[f]);
		assert_true(theme_load(path, &t, &d, NULL));
		free(path);
		char *text = theme_format(&t);
		poison(&back);
		assert_true(theme_parse(text, strlen(text), "formatted", &back, &d));
		assert_int_equal(d.n, 0);
		assert_theme_equal(&back, &t, shipped[f]);
		free(text);
	}
	struct theme t;
	theme_default(&t);
	char *text = theme_format(&t);
	assert_non_null(strstr(text, "\ncolor step.fail           bright-red     default        bold\n"));
	assert_non_null(strstr(text, "\ncolor step.pass           green          default\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_element_names),
		cmocka_unit_test(test_color_words),
		cmocka_unit_test(test_shipped_themes_clean_and_complete),
		cmocka_unit_test(test_builtins_equal_files),
		cmocka_unit_test(test_monochrome_has_no_colour),
		cmocka_unit_test(test_errors_all_reported),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_color_numbers),
		cmocka_unit_test(test_unmentioned_keep_default),
		cmocka_unit_test(test_file_shapes),
		cmocka_unit_test(test_load_by_name),
		cmocka_unit_test(test_load_shipped_by_name),
		cmocka_unit_test(test_load_by_path),
		cmocka_unit_test(test_select_no_color),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_format_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

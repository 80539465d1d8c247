/*
 * theme.c — semantic colour elements, the built-in themes, the theme-file
 * parser and the search for a theme by name.
 *
 * No curses here: the console turns a struct theme into colour pairs, after
 * theme_fit() has adapted it to what the terminal can show. Themes inherit
 * from nothing but the built-in default: theme_load starts from it, and each
 * "color" line of the file replaces one element whole (fg, bg and attributes).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbc/theme.h"

/* A theme file larger than this is a mistake, not a theme. */
#define THEME_FILE_MAX (1024 * 1024)
/* Greatest edit distance of a "did you mean" suggestion. */
#define SUGGEST_DISTANCE 2

static const char *const element_names[THEME_COUNT] = {
#define X(e, name) name,
	THEME_ELEMENTS(X)
#undef X
};

static const char *const attr_names[THEME_ATTR_NBITS] = {
#define X(e, name) name,
	THEME_ATTRS(X)
#undef X
};

static const char *const base_colors[8] = {
	"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
};

/* Names for the palettes below. */
enum {
	DEF = THEME_COLOR_DEFAULT,
	BLACK = 0, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE,
	BR_BLACK, BR_RED, BR_GREEN, BR_YELLOW, BR_BLUE, BR_MAGENTA, BR_CYAN, BR_WHITE,
};
enum {
	BOLD = THEME_ATTR_BOLD, DIM = THEME_ATTR_DIM, UNDERLINE = THEME_ATTR_UNDERLINE,
	REVERSE = THEME_ATTR_REVERSE, ITALIC = THEME_ATTR_ITALIC,
	STANDOUT = THEME_ATTR_STANDOUT,
};

/* The built-in default, for dark terminals. Only the 16 basic colours, and
   no bright-black: some palettes (Solarized) draw it as the background. */
static const struct theme theme_builtin_default = {{
	[THEME_NORMAL]              = {DEF, DEF, 0},
	[THEME_HEADER]              = {BR_WHITE, BLUE, BOLD},
	[THEME_HEADER_ALERT]        = {BR_WHITE, RED, BOLD},
	[THEME_STATUS]              = {DEF, DEF, 0},
	[THEME_BORDER]              = {DEF, DEF, 0},
	[THEME_BORDER_FOCUS]        = {CYAN, DEF, BOLD},
	[THEME_PANE_TITLE]          = {DEF, DEF, BOLD},
	[THEME_SELECTION]           = {BLACK, CYAN, 0},
	[THEME_SELECTION_UNFOCUSED] = {DEF, DEF, BOLD | UNDERLINE},
	[THEME_STEP_PENDING]        = {DEF, DEF, 0},
	[THEME_STEP_RUNNING]        = {BR_CYAN, DEF, BOLD},
	[THEME_STEP_WAITING]        = {BR_MAGENTA, DEF, BOLD},
	[THEME_STEP_WATCHING]       = {BR_BLUE, DEF, BOLD},
	[THEME_STEP_PASS]           = {GREEN, DEF, 0},
	[THEME_STEP_WARN]           = {YELLOW, DEF, BOLD},
	[THEME_STEP_FAIL]           = {BR_RED, DEF, BOLD},
	[THEME_STEP_UNKNOWN]        = {MAGENTA, DEF, 0},
	[THEME_STEP_ERROR]          = {RED, DEF, BOLD | UNDERLINE},
	[THEME_STEP_SKIPPED]        = {DEF, DEF, DIM},
	[THEME_STEP_CANCELLED]      = {DEF, DEF, DIM},
	[THEME_GROUP]               = {DEF, DEF, BOLD},
	[THEME_DETAIL_LABEL]        = {CYAN, DEF, 0},
	[THEME_DETAIL_VALUE]        = {DEF, DEF, 0},
	[THEME_EXPLAIN]             = {DEF, DEF, 0},
	[THEME_NOTE]                = {BR_GREEN, DEF, 0},
	[THEME_OUTPUT]              = {DEF, DEF, 0},
	[THEME_OUTPUT_STDERR]       = {YELLOW, DEF, 0},
	[THEME_OUTPUT_MARKER]       = {BR_BLUE, DEF, 0},
	[THEME_SEARCH_MATCH]        = {BLACK, YELLOW, 0},
	[THEME_SEARCH_CURRENT]      = {BLACK, BR_YELLOW, BOLD | UNDERLINE},
	[THEME_PROMPT]              = {BR_WHITE, DEF, BOLD},
	[THEME_HELP]                = {DEF, DEF, 0},
	[THEME_HELP_KEY]            = {CYAN, DEF, BOLD},
	[THEME_PROGRESS_DONE]       = {GREEN, DEF, 0},
	[THEME_PROGRESS_TODO]       = {DEF, DEF, DIM},
	[THEME_KEY_HINT]            = {CYAN, DEF, 0},
	[THEME_IDLE]                = {DEF, DEF, DIM},
	[THEME_ERROR]               = {BR_WHITE, RED, BOLD},
}};

/* No colour at all: the state must still read (glyphs and words carry it;
   attributes only emphasise). */
static const struct theme theme_builtin_monochrome = {{
	[THEME_NORMAL]              = {DEF, DEF, 0},
	[THEME_HEADER]              = {DEF, DEF, REVERSE | BOLD},
	[THEME_HEADER_ALERT]        = {DEF, DEF, REVERSE | BOLD | UNDERLINE},
	[THEME_STATUS]              = {DEF, DEF, 0},
	[THEME_BORDER]              = {DEF, DEF, 0},
	[THEME_BORDER_FOCUS]        = {DEF, DEF, BOLD},
	[THEME_PANE_TITLE]          = {DEF, DEF, BOLD},
	[THEME_SELECTION]           = {DEF, DEF, REVERSE},
	[THEME_SELECTION_UNFOCUSED] = {DEF, DEF, UNDERLINE},
	[THEME_STEP_PENDING]        = {DEF, DEF, 0},
	[THEME_STEP_RUNNING]        = {DEF, DEF, BOLD},
	[THEME_STEP_WAITING]        = {DEF, DEF, BOLD | UNDERLINE},
	[THEME_STEP_WATCHING]       = {DEF, DEF, BOLD},
	[THEME_STEP_PASS]           = {DEF, DEF, 0},
	[THEME_STEP_WARN]           = {DEF, DEF, UNDERLINE},
	[THEME_STEP_FAIL]           = {DEF, DEF, BOLD},
	[THEME_STEP_UNKNOWN]        = {DEF, DEF, UNDERLINE},
	[THEME_STEP_ERROR]          = {DEF, DEF, BOLD | UNDERLINE},
	[THEME_STEP_SKIPPED]        = {DEF, DEF, DIM},
	[THEME_STEP_CANCELLED]      = {DEF, DEF, DIM},
	[THEME_GROUP]               = {DEF, DEF, BOLD},
	[THEME_DETAIL_LABEL]        = {DEF, DEF, BOLD},
	[THEME_DETAIL_VALUE]        = {DEF, DEF, 0},
	[THEME_EXPLAIN]             = {DEF, DEF, 0},
	[THEME_NOTE]                = {DEF, DEF, ITALIC},
	[THEME_OUTPUT]              = {DEF, DEF, 0},
	[THEME_OUTPUT_STDERR]       = {DEF, DEF, BOLD},
	[THEME_OUTPUT_MARKER]       = {DEF, DEF, DIM},
	[THEME_SEARCH_MATCH]        = {DEF, DEF, REVERSE},
	[THEME_SEARCH_CURRENT]      = {DEF, DEF, REVERSE | BOLD | UNDERLINE},
	[THEME_PROMPT]              = {DEF, DEF, BOLD},
	[THEME_HELP]                = {DEF, DEF, 0},
	[THEME_HELP_KEY]            = {DEF, DEF, BOLD},
	[THEME_PROGRESS_DONE]       = {DEF, DEF, BOLD},
	[THEME_PROGRESS_TODO]       = {DEF, DEF, DIM},
	[THEME_KEY_HINT]            = {DEF, DEF, BOLD},
	[THEME_IDLE]                = {DEF, DEF, DIM},
	[THEME_ERROR]               = {DEF, DEF, REVERSE | BOLD},
}};

const char *theme_element_name(enum theme_element e)
{
	return (unsigned)e < THEME_COUNT ? element_names[e] : NULL;
}

int theme_element_find(const char *name)
{
	for (int i = 0; i < THEME_COUNT; i++)
		if (strcmp(element_names[i], name) == 0)
			return i;
	return -1;
}

const char *theme_attr_name(unsigned flag)
{
	for (int i = 0; i < THEME_ATTR_NBITS; i++)
		if (flag == 1u << i)
			return attr_names[i];
	return NULL;
}

/* The attribute bit called name, or 0. */
static unsigned attr_find(const char *name)
{
	for (int i = 0; i < THEME_ATTR_NBITS; i++)
		if (strcmp(attr_names[i], name) == 0)
			return 1u << i;
	return 0;
}

/* "color" followed only by digits: their value (capped at 256), else -1. */
static int color_number(const char *word)
{
	if (strncmp(word, "color", 5) != 0 || !word[5])
		return -1;
	int v = 0;
	for (const char *p = word + 5; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v <= THEME_COLOR_MAX)
			v = v * 10 + (*p - '0');
	}
	return v > THEME_COLOR_MAX ? THEME_COLOR_MAX + 1 : v;
}

bool theme_color_parse(const char *word, int *color)
{
	if (strcmp(word, "default") == 0) {
		*color = THEME_COLOR_DEFAULT;
		return true;
	}
	const char *base = word;
	int bright = 0;
	if (strncmp(word, "bright-", 7) == 0) {
		base = word + 7;
		bright = 8;
	}
	for (int i = 0; i < 8; i++) {
		if (strcmp(base, base_colors[i]) == 0) {
			*color = bright + i;
			return true;
		}
	}
	int n = color_number(word);
	if (n >= 0 && n <= THEME_COLOR_MAX) {
		*color = n;
		return true;
	}
	return false;
}

const char *theme_color_name(int color, char buf[THEME_COLOR_NAME_MAX])
{
	if (color < 0 || color > THEME_COLOR_MAX)
		snprintf(buf, THEME_COLOR_NAME_MAX, "default");
	else if (color < 8)
		snprintf(buf, THEME_COLOR_NAME_MAX, "%s", base_colors[color]);
	else if (color < 16)
		snprintf(buf, THEME_COLOR_NAME_MAX, "bright-%s", base_colors[color - 8]);
	else
		snprintf(buf, THEME_COLOR_NAME_MAX, "color%d", color);
	return buf;
}

void theme_default(struct theme *t)
{
	*t = theme_builtin_default;
}

void theme_monochrome(struct theme *t)
{
	*t = theme_builtin_monochrome;
}

/* ---- parsing -------------------------------------------------------------- */

/* The candidate closest to word within SUGGEST_DISTANCE (and closer than
   word is long, so "x" suggests nothing), or NULL. */
static const char *closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = SUGGEST_DISTANCE + 1, len = strlen(word);
	for (size_t i = 0; i < n; i++) {
		size_t d = str_distance(word, cands[i]);
		if (d < bestd && d < len) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

/* Words people reach for that rbc spells differently. */
static const char *const color_hints[][2] = {
	{"grey", "bright-black"}, {"gray", "bright-black"}, {"none", "default"},
	{"transparent", "default"}, {"purple", "magenta"}, {"orange", "color208"},
	{"pink", "color211"}, {"brown", "color130"}, {"color-1", "default"},
};
static const char *const attr_hints[][2] = {
	{"inverse", "reverse"}, {"underscore", "underline"}, {"faint", "dim"},
	{"bright", "bold"},
};

/* A suggestion for an unknown colour word, written into buf; NULL if none. */
static const char *suggest_color(const char *word, char *buf, size_t size)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(color_hints); i++)
		if (strcmp(word, color_hints[i][0]) == 0)
			return color_hints[i][1];
	/* colour12, col12, colr12: the number was right, the word was not. */
	size_t len = strlen(word), digits = 0;
	while (digits < len && word[len - 1 - digits] >= '0' && word[len - 1 - digits] <= '9')
		digits++;
	if (digits && digits < len && digits <= 3 && word[len - digits - 1] != '-') {
		char prefix[32];
		if (len - digits < sizeof prefix) {
			memcpy(prefix, word, len - digits);
			prefix[len - digits] = '\0';
			int v = atoi(word + len - digits);
			if (v <= THEME_COLOR_MAX && str_distance(prefix, "color") <= SUGGEST_DISTANCE) {
				snprintf(buf, size, "color%d", v);
				return buf;
			}
		}
	}
	const char *names[17];
	char bright[8][THEME_COLOR_NAME_MAX];
	names[0] = "default";
	for (int i = 0; i < 8; i++) {
		names[1 + i] = base_colors[i];
		names[9 + i] = theme_color_name(8 + i, bright[i]);
	}
	const char *s = closest(word, names, RBC_ARRAY_LEN(names));
	if (!s)
		return NULL;
	snprintf(buf, size, "%s", s);
	return buf;
}

/* A suggestion for an unknown element: the one element whose last dotted
   part is word ("fail" → "step.fail"), else a close spelling. */
static const char *suggest_element(const char *word)
{
	const char *only = NULL;
	int nsuffix = 0;
	for (int i = 0; i < THEME_COUNT; i++) {
		const char *dot = strrchr(element_names[i], '.');
		if (dot && strcmp(dot + 1, word) == 0) {
			only = element_names[i];
			nsuffix++;
		}
	}
	if (nsuffix == 1)
		return only;
	return closest(word, element_names, THEME_COUNT);
}

static const char *suggest_attr(const char *word)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(attr_hints); i++)
		if (strcmp(word, attr_hints[i][0]) == 0)
			return attr_hints[i][1];
	return closest(word, attr_names, THEME_ATTR_NBITS);
}

/* True for "#rgb" and "#rrggbb". */
static bool is_hex_color(const char *w)
{
	size_t n = strlen(w);
	if (w[0] != '#' || (n != 4 && n != 7))
		return false;
	for (size_t i = 1; i < n; i++)
		if (hex_value(w[i]) < 0)
			return false;
	return true;
}

struct word {
	char *s;        /* NUL-terminated inside the parser's copy of the text */
	unsigned col;   /* 1-based, in characters */
};

struct parser {
	const char *file;
	struct rbc_diags *d;
	unsigned line;
	unsigned set_on[THEME_COUNT];   /* line that last set each element */
	struct word *w;
	size_t nw, capw;
};

#define SYNOPSIS "color <element> <fg> <bg> [attribute...]"

/* Parses one colour word; reports and returns false when it is none. */
static bool parse_color_word(struct parser *p, const struct word *w, int *color)
{
	if (theme_color_parse(w->s, color))
		return true;
	int n = color_number(w->s);
	if (n > THEME_COLOR_MAX) {
		diags_add(p->d, false, p->file, p->line, w->col, NULL,
		          "color \"%s\" is out of range (color0 to color255)", w->s);
		return false;
	}
	char buf[32];
	const char *s = suggest_color(w->s, buf, sizeof buf);
	if (s)
		diags_add(p->d, false, p->file, p->line, w->col, NULL,
		          "unknown color \"%s\" (did you mean \"%s\"?)", w->s, s);
	else
		diags_add(p->d, false, p->file, p->line, w->col, NULL,
		          "unknown color \"%s\" (colors are default, black, red, green, "
		          "yellow, blue, magenta, cyan, white, bright-<color> and color0 "
		          "to color255)", w->s);
	return false;
}

/* A "color" line, words already split. */
static void parse_color_line(struct parser *p, struct theme *t)
{
	struct word *w = p->w;
	if (p->nw < 4) {
		diags_add(p->d, false, p->file, p->line, w[0].col, NULL,
		          "\"color\" needs an element, a foreground and a background: " SYNOPSIS);
		return;
	}
	bool ok = true;
	int el = theme_element_find(w[1].s);
	if (el < 0) {
		const char *s = suggest_element(w[1].s);
		if (s)
			diags_add(p->d, false, p->file, p->line, w[1].col, NULL,
			          "unknown element \"%s\" (did you mean \"%s\"?)", w[1].s, s);
		else
			diags_add(p->d, false, p->file, p->line, w[1].col, NULL,
			          "unknown element \"%s\"", w[1].s);
		ok = false;
	}
	struct theme_style st = {DEF, DEF, 0};
	ok &= parse_color_word(p, &w[2], &st.fg);
	ok &= parse_color_word(p, &w[3], &st.bg);
	for (size_t i = 4; i < p->nw; i++) {
		unsigned a = attr_find(w[i].s);
		if (a) {
			st.attrs |= a;
			continue;
		}
		const char *s = suggest_attr(w[i].s);
		if (s)
			diags_add(p->d, false, p->file, p->line, w[i].col, NULL,
			          "unknown attribute \"%s\" (did you mean \"%s\"?)", w[i].s, s);
		else
			diags_add(p->d, false, p->file, p->line, w[i].col, NULL,
			          "unknown attribute \"%s\" (attributes are bold, dim, underline, "
			          "reverse, italic, standout)", w[i].s);
		ok = false;
	}
	if (!ok)
		return;
	if (p->set_on[el])
		diags_add(p->d, true, p->file, p->line, w[1].col, NULL,
		          "element \"%s\" is already set on line %u; this line replaces it",
		          w[1].s, p->set_on[el]);
	if (st.fg == st.bg && st.fg != DEF) {
		char buf[THEME_COLOR_NAME_MAX];
		diags_add(p->d, true, p->file, p->line, w[2].col, NULL,
		          "\"%s\" has the same foreground and background (%s): its text is invisible",
		          w[1].s, theme_color_name(st.fg, buf));
	}
	p->set_on[el] = p->line;
	t->el[el] = st;
}

/* Any line but a comment or a blank one. */
static void parse_directive(struct parser *p, struct theme *t)
{
	const char *dir = p->w[0].s;
	if (strcmp(dir, "color") == 0) {
		parse_color_line(p, t);
		return;
	}
	static const char *const directives[] = {"color"};
	unsigned col = p->w[0].col;
	if (closest(dir, directives, 1))
		diags_add(p->d, false, p->file, p->line, col, NULL,
		          "unknown directive \"%s\" (did you mean \"color\"?)", dir);
	else if (theme_element_find(dir) >= 0)
		diags_add(p->d, false, p->file, p->line, col, NULL,
		          "unknown directive \"%s\" (a line starts with \"color\": color %s "
		          "<fg> <bg> [attribute...])", dir, dir);
	else
		diags_add(p->d, false, p->file, p->line, col, NULL,
		          "unknown directive \"%s\" (lines look like: " SYNOPSIS ")", dir);
}

/* Splits the NUL-terminated line s into p->w; a word starting with '#'
   ends it. Returns false (having reported it) for a hex colour there. */
static bool split_words(struct parser *p, char *s)
{
	p->nw = 0;
	char *start = s;
	while (*s) {
		if (*s == ' ' || *s == '\t') {
			s++;
			continue;
		}
		char *end = s + strcspn(s, " \t");
		char save = *end;
		*end = '\0';
		unsigned col = (unsigned)utf8_count(start, (size_t)(s - start)) + 1;
		if (*s == '#') {
			/* "color x #ff0000 default": a comment in the place of a colour
			   would only give a puzzling "needs an element…". */
			if (is_hex_color(s) && p->nw >= 2 && p->nw <= 3 &&
			    strcmp(p->w[0].s, "color") == 0) {
				diags_add(p->d, false, p->file, p->line, col, NULL,
				          "hex colors are not supported: \"%s\" (use a color name "
				          "or color0 to color255)", s);
				return false;
			}
			*end = save;
			return true;
		}
		xgrow(&p->w, &p->capw, p->nw + 1, sizeof *p->w);
		p->w[p->nw].s = s;
		p->w[p->nw].col = col;
		p->nw++;
		if (!save)
			break;
		s = end + 1;
	}
	return true;
}

bool theme_parse(const char *text, size_t len, const char *file, struct theme *t,
                 struct rbc_diags *d)
{
	size_t errors0 = d->nerrors;
	struct parser p = {.file = file, .d = d};
	char *buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	size_t pos = 0;
	/* A byte-order mark some editors write is not part of the first word. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		p.line++;
		char *ls = buf + pos;
		char *nl = memchr(ls, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - ls) : len - pos;
		pos += n + 1;
		if (n && ls[n - 1] == '\r')
			n--;
		ls[n] = '\0';
		if (strlen(ls) != n) {
			diags_add(d, false, file, p.line, (unsigned)utf8_count(ls, strlen(ls)) + 1,
			          NULL, "NUL byte in a theme file");
			continue;
		}
		size_t bad;
		if (!utf8_valid(ls, n, &bad)) {
			diags_add(d, false, file, p.line, (unsigned)utf8_count(ls, bad) + 1, NULL,
			          "invalid UTF-8");
			continue;
		}
		if (!split_words(&p, ls) || p.nw == 0)
			continue;
		parse_directive(&p, t);
	}
	free(p.w);
	free(buf);
	return d->nerrors == errors0;
}

/* ---- finding a theme ------------------------------------------------------ */

void theme_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

struct strv {
	char **v;
	size_t n, cap;
};

/* Appends s (taken), keeping v NULL-terminated. */
static void strv_push_take(struct strv *v, char *s)
{
	xgrow(&v->v, &v->cap, v->n + 2, sizeof *v->v);
	v->v[v->n++] = s;
	v->v[v->n] = NULL;
}

/* The directory of the running executable (caller frees), or NULL. */
static char *exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	if (slash == buf)
		slash++;
	*slash = '\0';
	return xstrdup(buf);
}

char **theme_search_path(void)
{
	struct strv v = {0};
	const char *env = getenv("RBC_THEMES_DIR");
	while (env && *env) {
		size_t n = strcspn(env, ":");
		if (n)
			strv_push_take(&v, xstrndup(env, n));
		env += n + (env[n] == ':');
	}
	char *exe = exe_dir();
	if (exe) {
		static const char *const rel[] = {
			"../share/rbc/themes", "themes", "../themes", "../../themes",
		};
		for (size_t i = 0; i < RBC_ARRAY_LEN(rel); i++)
			strv_push_take(&v, xasprintf("%s/%s", strcmp(exe, "/") ? exe : "", rel[i]));
		free(exe);
	}
	if (!v.v)
		strv_push_take(&v, NULL);
	return v.v;
}

/* Letters, digits, '.', '_' and '-', not starting with '.'. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **theme_list(void)
{
	struct strv v = {0};
	strv_push_take(&v, xstrdup("default"));
	strv_push_take(&v, xstrdup("monochrome"));
	char **dirs = theme_search_path();
	for (char **dir = dirs; *dir; dir++) {
		DIR *dp = opendir(*dir);
		if (!dp)
			continue;
		struct dirent *de;
		while ((de = readdir(dp))) {
			size_t n = strlen(de->d_name);
			if (n > 6 && strcmp(de->d_name + n - 6, ".theme") == 0 &&
			    name_ok(de->d_name, n - 6))
				strv_push_take(&v, xstrndup(de->d_name, n - 6));
		}
		closedir(dp);
	}
	theme_strv_free(dirs);
	qsort(v.v, v.n, sizeof *v.v, cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < v.n; i++) {
		if (k && strcmp(v.v[k - 1], v.v[i]) == 0)
			free(v.v[i]);
		else
			v.v[k++] = v.v[i];
	}
	v.v[k] = NULL;
	return v.v;
}

/* Reads and parses the theme file at path over *t. */
static bool load_file(const char *path, struct theme *t, struct rbc_diags *d)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		diags_add(d, false, path, 0, 0, NULL, "cannot read theme: it is a directory");
		return false;
	}
	size_t len;
	char *text = read_file(path, THEME_FILE_MAX, &len);
	if (!text) {
		if (errno == EFBIG)
			diags_add(d, false, path, 0, 0, NULL,
			          "cannot read theme: larger than %d bytes", THEME_FILE_MAX);
		else
			diags_add(d, false, path, 0, 0, NULL, "cannot read theme: %s",
			          strerror(errno));
		return false;
	}
	bool ok = theme_parse(text, len, path, t, d);
	free(text);
	return ok;
}

/* The unknown-name error: a suggestion and every theme there is. */
static void unknown_theme(const char *name, struct rbc_diags *d)
{
	char **names = theme_list();
	size_t n = 0;
	while (names[n])
		n++;
	struct strbuf sb = {0};
	sb_addf(&sb, "unknown theme \"%s\"", name);
	const char *s = closest(name, (const char *const *)names, n);
	if (s)
		sb_addf(&sb, " (did you mean \"%s\"?)", s);
	sb_adds(&sb, "; available:");
	for (size_t i = 0; i < n; i++)
		sb_addf(&sb, "%s %s", i ? "," : "", names[i]);
	diags_add(d, false, NULL, 0, 0, NULL, "%s", sb_borrow(&sb));
	sb_free(&sb);
	theme_strv_free(names);
}

bool theme_load(const char *name_or_path, struct theme *t, struct rbc_diags *d,
                char **loaded_from)
{
	theme_default(t);
	if (loaded_from)
		*loaded_from = NULL;
	const char *arg = name_or_path;
	size_t n = strlen(arg);
	if (strchr(arg, '/') || (n >= 6 && strcmp(arg + n - 6, ".theme") == 0)) {
		if (loaded_from)
			*loaded_from = xstrdup(arg);
		return load_file(arg, t, d);
	}
	if (!name_ok(arg, n)) {
		diags_add(d, false, NULL, 0, 0, NULL,
		          "invalid theme name \"%s\" (a name is letters, digits, '.', '_' and "
		          "'-'; a path contains '/')", arg);
		return false;
	}
	char **dirs = theme_search_path();
	char *found = NULL;
	for (char **dir = dirs; *dir && !found; dir++) {
		char *path = xasprintf("%s/%s.theme", *dir, arg);
		if (access(path, F_OK) == 0) {
			char *real = realpath(path, NULL);
			found = real ? real : xstrdup(path);
		}
		free(path);
	}
	theme_strv_free(dirs);
	if (found) {
		bool ok = load_file(found, t, d);
		if (loaded_from)
			*loaded_from = found;
		else
			free(found);
		return ok;
	}
	if (strcmp(arg, "default") == 0)
		return true;
	if (strcmp(arg, "monochrome") == 0) {
		theme_monochrome(t);
		return true;
	}
	unknown_theme(arg, d);
	return false;
}

bool theme_select(const char *arg, struct theme *t, struct rbc_diags *d,
                  char **loaded_from)
{
	if (arg && *arg)
		return theme_load(arg, t, d, loaded_from);
	if (loaded_from)
		*loaded_from = NULL;
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		theme_monochrome(t);
	else
		theme_default(t);
	return true;
}

/* ---- fitting to the terminal ---------------------------------------------- */

/* The xterm palette, for finding the nearest colour. */
static void color_rgb(int c, int rgb[3])
{
	static const unsigned char ansi[16][3] = {
		{0, 0, 0}, {205, 0, 0}, {0, 205, 0}, {205, 205, 0},
		{0, 0, 238}, {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
		{127, 127, 127}, {255, 0, 0}, {0, 255, 0}, {255, 255, 0},
		{92, 92, 255}, {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
	};
	static const int level[6] = {0, 95, 135, 175, 215, 255};
	if (c < 16) {
		for (int i = 0; i < 3; i++)
			rgb[i] = ansi[c][i];
	} else if (c < 232) {
		c -= 16;
		rgb[0] = level[c / 36];
		rgb[1] = level[c / 6 % 6];
		rgb[2] = level[c % 6];
	} else {
		rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (c - 232);
	}
}

/* The colour among 0..n-1 nearest to c (by squared RGB distance). */
static int nearest(int c, int n)
{
	if (c < n)
		return c;
	int rgb[3], best = 0;
	long bestd = -1;
	color_rgb(c, rgb);
	for (int i = 0; i < n; i++) {
		int o[3];
		color_rgb(i, o);
		long dd = 0;
		for (int k = 0; k < 3; k++)
			dd += (long)(rgb[k] - o[k]) * (rgb[k] - o[k]);
		if (bestd < 0 || dd < bestd) {
			bestd = dd;
			best = i;
		}
	}
	return best;
}

/* True for a grey between black and white (bright-black, color244…). */
static bool mid_grey(int c)
{
	int rgb[3];
	color_rgb(c, rgb);
	return rgb[0] == rgb[1] && rgb[1] == rgb[2] && rgb[0] >= 64 && rgb[0] <= 192;
}

/* Adapts one style to n (8 or 16) colours. */
static void fit_style(struct theme_style *s, int n)
{
	int fg = s->fg, bg = s->bg;
	if (bg != DEF)
		bg = nearest(bg, n);
	if (fg != DEF) {
		if (n == 8 && mid_grey(fg)) {
			/* Grey text would become white or black, either of which may
			   be the background: the terminal's own colour, dimmed. */
			fg = DEF;
			s->attrs |= DIM;
		} else {
			fg = nearest(fg, n);
			if (n == 8 && s->fg >= 8 && s->fg < 16)
				s->attrs |= BOLD;
		}
	}
	if (fg != DEF && fg == bg) {
		int rgb[3];
		color_rgb(bg, rgb);
		bool light = rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114 > 128 * 1000;
		fg = light ? BLACK : (n == 8 ? WHITE : BR_WHITE);
	}
	s->fg = fg;
	s->bg = bg;
}

void theme_fit(struct theme *t, int colors)
{
	if (colors >= 256)
		return;
	if (colors < 8) {
		theme_monochrome(t);
		return;
	}
	int n = colors >= 16 ? 16 : 8;
	for (int i = 0; i < THEME_COUNT; i++)
		fit_style(&t->el[i], n);
}

char *theme_format(const struct theme *t)
{
	int w = 0;
	for (int i = 0; i < THEME_COUNT; i++) {
		int l = (int)strlen(element_names[i]);
		if (l > w)
			w = l;
	}
	struct strbuf sb = {0};
	for (int i = 0; i < THEME_COUNT; i++) {
		const struct theme_style *s = &t->el[i];
		char fg[THEME_COLOR_NAME_MAX], bg[THEME_COLOR_NAME_MAX];
		theme_color_name(s->fg, fg);
		theme_color_name(s->bg, bg);
		struct strbuf line = {0};
		sb_addf(&line, "color %-*s %-14s %-14s", w, element_names[i], fg, bg);
		for (int b = 0; b < THEME_ATTR_NBITS; b++)
			if (s->attrs & (1u << b))
				sb_addf(&line, " %s", attr_names[b]);
		/* No trailing blanks on lines without attributes. */
		while (line.len && line.s[line.len - 1] == ' ')
			line.s[--line.len] = '\0';
		sb_adds(&sb, sb_borrow(&line));
		sb_addc(&sb, '\n');
		sb_free(&line);
	}
	return sb_take(&sb);
}

/*
 * theme.h — the console's colours, by meaning rather than by colour.
 *
 * Drawing code asks for a semantic element (THEME_STEP_FAIL, THEME_BORDER_FOCUS),
 * never for "red"; a struct theme says how each element looks: a foreground,
 * a background and attributes. Themes are text files (docs/themes.md):
 *
 *     # comment
 *     color step.fail bright-red default bold
 *
 * This module knows nothing of curses; the console maps a struct theme to
 * colour pairs. Colours are ints: THEME_COLOR_DEFAULT (-1) is the terminal's
 * own colour, 0..7 the ANSI colours, 8..15 their bright variants, 16..255
 * the rest of the xterm palette.
 */
#ifndef RBC_THEME_H
#define RBC_THEME_H

#include <stdbool.h>
#include <stddef.h>

#include "rbc/error.h"

/* Elements: X(ENUM, name in theme files). Adding one touches this list, the
   built-in tables in src/tui/theme.c, every file in themes/ and docs/themes.md
   (the tests check all of them). */
#define THEME_ELEMENTS(X)                               \
	X(NORMAL, "normal")                             \
	X(HEADER, "header")                             \
	X(HEADER_ALERT, "header.alert")                 \
	X(STATUS, "status")                             \
	X(BORDER, "border")                             \
	X(BORDER_FOCUS, "border.focus")                 \
	X(PANE_TITLE, "pane.title")                     \
	X(SELECTION, "selection")                       \
	X(SELECTION_UNFOCUSED, "selection.unfocused")   \
	X(STEP_PENDING, "step.pending")                 \
	X(STEP_RUNNING, "step.running")                 \
	X(STEP_WAITING, "step.waiting")                 \
	X(STEP_WATCHING, "step.watching")               \
	X(STEP_PASS, "step.pass")                       \
	X(STEP_WARN, "step.warn")                       \
	X(STEP_FAIL, "step.fail")                       \
	X(STEP_UNKNOWN, "step.unknown")                 \
	X(STEP_ERROR, "step.error")                     \
	X(STEP_SKIPPED, "step.skipped")                 \
	X(STEP_CANCELLED, "step.cancelled")             \
	X(GROUP, "group")                               \
	X(DETAIL_LABEL, "detail.label")                 \
	X(DETAIL_VALUE, "detail.value")                 \
	X(EXPLAIN, "explain")                           \
	X(NOTE, "note")                                 \
	X(OUTPUT, "output")                             \
	X(OUTPUT_STDERR, "output.stderr")               \
	X(OUTPUT_MARKER, "output.marker")               \
	X(SEARCH_MATCH, "search.match")                 \
	X(SEARCH_CURRENT, "search.current")             \
	X(PROMPT, "prompt")                             \
	X(HELP, "help")                                 \
	X(HELP_KEY, "help.key")                         \
	X(PROGRESS_DONE, "progress.done")               \
	X(PROGRESS_TODO, "progress.todo")               \
	X(KEY_HINT, "key.hint")                         \
	X(IDLE, "idle")                                 \
	X(ERROR, "error")

enum theme_element {
#define X(e, name) THEME_##e,
	THEME_ELEMENTS(X)
#undef X
	THEME_COUNT
};

/* Attributes: X(ENUM, name in theme files). Each is one bit, THEME_ATTR_BOLD… */
#define THEME_ATTRS(X)               \
	X(BOLD, "bold")              \
	X(DIM, "dim")                \
	X(UNDERLINE, "underline")    \
	X(REVERSE, "reverse")        \
	X(ITALIC, "italic")          \
	X(STANDOUT, "standout")

enum {
#define X(e, name) THEME_ATTR_BIT_##e,
	THEME_ATTRS(X)
#undef X
	THEME_ATTR_NBITS
};

enum theme_attr {
#define X(e, name) THEME_ATTR_##e = 1u << THEME_ATTR_BIT_##e,
	THEME_ATTRS(X)
#undef X
};

#define THEME_COLOR_DEFAULT (-1)
#define THEME_COLOR_MAX 255
/* Room for the longest colour name ("bright-magenta", "color255") and NUL. */
#define THEME_COLOR_NAME_MAX 16

struct theme_style {
	int fg, bg;          /* THEME_COLOR_DEFAULT or 0..255 */
	unsigned attrs;      /* THEME_ATTR_* bits */
};

struct theme {
	struct theme_style el[THEME_COUNT];
};

/* "step.fail" for THEME_STEP_FAIL; NULL when e is out of range. */
const char *theme_element_name(enum theme_element e);
/* The element called name, or -1. Names are case-sensitive. */
int theme_element_find(const char *name);
/* "bold" for THEME_ATTR_BOLD; NULL unless flag is exactly one known bit. */
const char *theme_attr_name(unsigned flag);

/*
 * Parses a colour word: "default", "red", "bright-red", "color196". Returns
 * false (and leaves *color alone) for anything else, including color256.
 */
bool theme_color_parse(const char *word, int *color);
/* The canonical word for color, written into buf: "default", "bright-red",
   "color196". Returns buf. */
const char *theme_color_name(int color, char buf[THEME_COLOR_NAME_MAX]);

/* The built-in default theme (dark terminals); equal to themes/default.theme. */
void theme_default(struct theme *t);
/* The built-in theme without colour: every colour THEME_COLOR_DEFAULT, state
   shown by attributes (selection reverse, fail bold…); equal to
   themes/monochrome.theme. NO_COLOR selects it. */
void theme_monochrome(struct theme *t);

/*
 * Parses theme text (len bytes, need not be NUL-terminated) and applies each
 * valid "color" line to *t, over whatever *t already holds: an element the
 * text does not mention keeps its value, so callers start from
 * theme_default() (theme_load does) and a file may name only what it
 * changes. A line with any problem changes nothing. Every problem goes into
 * d as "file:line:col: message" (file is only a name for messages); an
 * element set twice or drawn in its own background colour is a warning.
 * Returns true when the text has no error (warnings allowed).
 */
bool theme_parse(const char *text, size_t len, const char *file, struct theme *t,
                 struct rbc_diags *d);

/*
 * Loads a theme into *t (first reset to theme_default()). name_or_path is a
 * path when it contains '/' or ends in ".theme"; otherwise a name looked up
 * as DIR/NAME.theme in each directory of theme_search_path(), first found
 * wins; "default" and "monochrome" fall back to the built-in themes when no
 * file has that name. An unknown name is an error listing the available
 * themes. *loaded_from (when loaded_from is not NULL) gets the file read
 * (caller frees), or NULL for a built-in theme or when nothing was read.
 * Returns false on any error; *t then holds the default with the file's valid
 * lines applied, and the caller should not use it.
 */
bool theme_load(const char *name_or_path, struct theme *t, struct rbc_diags *d,
                char **loaded_from);

/*
 * The console's choice: arg (--theme NAME|PATH) when given and not empty;
 * otherwise the built-in monochrome theme when $NO_COLOR is set and not
 * empty (https://no-color.org: an explicit option wins over NO_COLOR);
 * otherwise the built-in default. Arguments and result as theme_load.
 */
bool theme_select(const char *arg, struct theme *t, struct rbc_diags *d,
                  char **loaded_from);

/*
 * The directories searched for a theme name, in order, as a NULL-terminated
 * array the caller frees with theme_strv_free: each entry of $RBC_THEMES_DIR
 * (':'-separated), then, from the directory EXE of the running executable,
 * EXE/../share/rbc/themes (installed), EXE/themes, EXE/../themes and
 * EXE/../../themes (a source checkout, binary in ./ or build/x/). Directories
 * need not exist.
 */
char **theme_search_path(void);
/* The theme names found on the search path plus the built-in "default" and
   "monochrome", sorted, without duplicates; free with theme_strv_free. */
char **theme_list(void);
void theme_strv_free(char **v);

/*
 * Adapts t to a terminal with colors colours (curses COLORS): at 256 or more
 * nothing changes; at 16 each colour above 15 becomes the nearest of the 16;
 * at 8 every colour becomes the nearest of the 8, a bright foreground adds
 * bold (bright-black adds dim) and a foreground that would equal its
 * background is replaced by black or white; below 8 the theme becomes
 * theme_monochrome().
 */
void theme_fit(struct theme *t, int colors);

/* t as theme-file text, one "color" line per element in list order; caller
   frees. theme_parse of the result gives t back. */
char *theme_format(const struct theme *t);

#endif

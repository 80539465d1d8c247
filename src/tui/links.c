/*
 * links.c — terminal hyperlinks (OSC 8) on a curses screen
 * (docs/console.md, "Links").
 *
 * curses keeps a screen of cells and writes only what changed; an escape
 * sequence handed to it is drawn as text or breaks its idea of the screen,
 * and it has no attribute for a hyperlink. So a link is drawn by curses
 * like any text (underlined, in the terminal's default colours), and once
 * curses has refreshed the screen the same cells are written again inside
 * an OSC 8 pair: ESC 7 saves the cursor and attributes, each link is
 * written at its place (ESC [ row ; col H, ESC [ 0 ; 4 m, ESC ] 8 ; ; url
 * ESC \, the very characters curses drew, ESC ] 8 ; ; ESC \), and ESC 8
 * restores what curses left, so its picture of the screen stays true (the
 * cells hold what it believes, in the attributes it believes).
 *
 * Whether to do so: RBC_HYPERLINKS=always|never|auto (auto, the default:
 * only on terminals known to support OSC 8 — see console.md — and never
 * inside tmux or screen, which may not pass it on, nor on TERM=dumb or
 * linux). The url written is the one shown (variables expanded, secrets
 * masked), http(s) only, with every byte outside printable ASCII
 * percent-encoded: no byte of it can end the sequence or start another.
 * The text is the drawn text, controls already replaced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "rbc/runbook.h"

#define LINKS_MAX 64

struct link_pos {
	int y, x;
	char *text;   /* what was drawn, as drawn */
	char *url;    /* encoded */
};

static struct link_pos shown[LINKS_MAX];
static size_t nshown;
static int enabled = -1; /* -1: not decided yet */

/* Whether the environment names a terminal known to show OSC 8 links. */
static bool links_terminal_supports(void)
{
	const char *term = getenv("TERM");
	if (!term || !*term || strcmp(term, "dumb") == 0 || strcmp(term, "linux") == 0)
		return false;
	if (getenv("TMUX") || strncmp(term, "screen", 6) == 0 || strncmp(term, "tmux", 4) == 0)
		return false; /* the multiplexer's outer terminal is unknown */
	const char *tp = getenv("TERM_PROGRAM");
	static const char *const programs[] = {"iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper", "rio"};
	for (size_t i = 0; tp && i < RBC_ARRAY_LEN(programs); i++)
		if (strcmp(tp, programs[i]) == 0)
			return true;
	const char *vte = getenv("VTE_VERSION");
	if (vte && atoi(vte) >= 5000)
		return true; /* GNOME Terminal, Tilix, … */
	static const char *const markers[] = {"KONSOLE_VERSION", "KITTY_WINDOW_ID", "WT_SESSION",
	                                      "ALACRITTY_WINDOW_ID", "WEZTERM_PANE"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(markers); i++)
		if (getenv(markers[i]))
			return true;
	return strcmp(term, "xterm-kitty") == 0 || strncmp(term, "foot", 4) == 0 ||
	       strcmp(term, "xterm-ghostty") == 0 || strcmp(term, "wezterm") == 0;
}

bool links_enabled(void)
{
	if (enabled < 0) {
		const char *v = getenv("RBC_HYPERLINKS");
		if (v && strcmp(v, "always") == 0)
			enabled = 1;
		else if (v && strcmp(v, "never") == 0)
			enabled = 0;
		else
			enabled = links_terminal_supports() && isatty(STDOUT_FILENO);
	}
	return enabled == 1;
}

void links_forget(void)
{
	for (size_t i = 0; i < nshown; i++) {
		free(shown[i].text);
		free(shown[i].url);
	}
	nshown = 0;
}

/* url for the sequence: printable ASCII kept, every other byte %XX. */
static char *links_encode(const char *url)
{
	struct strbuf sb = {0};
	for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
		if (*p > 0x20 && *p < 0x7f)
			sb_addc(&sb, (char)*p);
		else
			sb_addf(&sb, "%%%02X", *p);
	}
	return sb_take(&sb);
}

/* text as draw_text shows it: controls and invalid bytes as U+FFFD, a tab
   as a space, cut to cols columns (a new string). */
static char *links_as_drawn(const char *s, int cols)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	int used = 0;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		uint32_t cp = (unsigned char)s[i];
		size_t l = cp < 0x80 ? 1 : utf8_decode(s + i, n - i, &cp);
		bool bad = !l || utf8_is_control(cp);
		if (!l)
			l = 1;
		int w = bad ? 1 : (int)utf8_cp_width(cp);
		if (used + w > cols)
			break;
		if (bad)
			sb_adds(&sb, cp == '\t' ? " " : "\xef\xbf\xbd");
		else if (!(w == 0 && used == 0))
			sb_add(&sb, s + i, l);
		used += w;
		i += l;
	}
	return sb_take(&sb);
}

int links_draw(int y, int x, int cols, const char *text, const char *url, attr_t plain)
{
	if (cols <= 0)
		return 0;
	bool link = links_enabled() && url && prose_url_scheme_ok(url) && prose_url_chars_ok(url) &&
	            !strstr(url, "\xe2\x80\xa2") /* a masked secret: no working link */;
	if (!link)
		return draw_str(y, x, cols, text, plain);
	char *drawn = links_as_drawn(text, cols);
	int used = draw_str(y, x, cols, drawn, A_UNDERLINE);
	if (nshown < LINKS_MAX && *drawn) {
		shown[nshown++] = (struct link_pos){y, x, drawn, links_encode(url)};
		return used;
	}
	free(drawn);
	return used;
}

void links_emit(void)
{
	if (!nshown)
		return;
	struct strbuf sb = {0};
	sb_adds(&sb, "\0337");
	for (size_t i = 0; i < nshown; i++)
		sb_addf(&sb, "\033[%d;%dH\033[0;4m\033]8;;%s\033\\%s\033]8;;\033\\", shown[i].y + 1, shown[i].x + 1,
		        shown[i].url, shown[i].text);
	sb_adds(&sb, "\0338");
	const char *p = sb.s;
	size_t left = sb.len;
	while (left > 0) {
		ssize_t w = write(STDOUT_FILENO, p, left);
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	sb_free(&sb);
}

/*
 * keys.h — the console's key table: one X-macro list gives the requests'
 * enum, the keys that send them and the help overlay's lines (and
 * docs/console.md is checked against it). A key is read once, turned into a
 * request (frame_request_of), and the request goes to the focused pane
 * first, then to incident mode, then to the frame.
 */
#ifndef RBC_TUI_KEYS_H
#define RBC_TUI_KEYS_H

/* X(request, key, second key (0: none), keys as shown, what it does) */
#define CONSOLE_KEYS(X)                                                     \
	X(DOWN, 'j', KEY_DOWN, "j ↓", "next step / scroll down")              \
	X(UP, 'k', KEY_UP, "k ↑", "previous step / scroll up")                \
	X(PAGE_DOWN, KEY_NPAGE, 0, "PgDn", "a page down")                     \
	X(PAGE_UP, KEY_PPAGE, 0, "PgUp", "a page up")                         \
	X(TOP, 'g', KEY_HOME, "g Home", "first step / oldest line")           \
	X(BOTTOM, 'G', KEY_END, "G End", "last step / newest line")           \
	X(COLLAPSE, 'h', KEY_LEFT, "h ←", "fold group / go to group")         \
	X(EXPAND, 'l', KEY_RIGHT, "l →", "unfold the group")                  \
	X(RUN, '\r', KEY_ENTER, "Enter", "run the step or group")             \
	X(RUN_ALL, 'a', 0, "a", "run every remaining step")                   \
	X(DONE, ' ', 0, "Space", "manual step: done")                         \
	X(FAIL, 'f', 0, "f", "manual step: failed (why?)")                    \
	X(SKIP, 's', 0, "s", "skip or end a wait (why)")                      \
	X(RERUN, 'r', 0, "r", "run the step again")                           \
	X(NOTE, 'n', 0, "n", "add a note (incident: to the timeline)")        \
	X(SEVERITY, 'S', 0, "S", "incident: declare / change severity")       \
	X(ROLE, 'o', 0, "o", "incident: assign a role")                       \
	X(DECISION, 'd', 0, "d", "incident: record a decision")               \
	X(TODO, 't', 0, "t", "incident: add a todo")                          \
	X(UPDATE, 'u', 0, "u", "incident: status and update")                 \
	X(RESOLVE, 'R', 0, "R", "incident: resolve (exit criteria)")          \
	X(EXPORT, 'e', 0, "e", "export the deployment log")                   \
	X(SEARCH, '/', 0, "/", "search (again: next match)")                  \
	X(FOCUS, '\t', 0, "Tab", "steps ⇄ output")                            \
	X(HELP, '?', KEY_F(1), "? F1", "this help")                           \
	X(REDRAW, 12, 0, "Ctrl-L", "redraw the screen")                       \
	X(QUIT, 'q', 3, "q Ctrl-C", "quit (asks if running)")

enum request {
	REQ_NONE,
#define X(r, k1, k2, shown, help) REQ_##r,
	CONSOLE_KEYS(X)
#undef X
};

#endif

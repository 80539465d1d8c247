/*
 * terminal.h — lending the terminal to a command that needs it (a run step
 * with "tty": true; docs/runbook-format.md, "Commands that need a terminal").
 *
 * The view that holds the terminal (the console) registers a lender: lend
 * is called on the loop thread just before such a command starts (the view
 * stops reading keys and drawing and puts the terminal back in its normal
 * mode, as curses' endwin does), reclaim just after it exited and the
 * terminal is rbc's again (the view restores its mode and redraws all). In
 * between, the command's process group is the terminal's foreground group
 * and rbc is a background process: the loop keeps running (other steps go
 * on, their results are journaled and shown once the view is back), but
 * nothing reads or draws on the terminal.
 *
 * Without a lender (batch), a command may still have the terminal when
 * standard input is one; otherwise the step ends UNKNOWN "needs a
 * terminal". One command holds the terminal at a time (the command probe
 * queues the others until it is back).
 */
#ifndef RBC_TERMINAL_H
#define RBC_TERMINAL_H

#include <stdbool.h>

struct terminal_lender {
	void (*lend)(void *ud);
	void (*reclaim)(void *ud);
	void *ud;
};

/* Registers l (copied; NULL: none). */
void terminal_set_lender(const struct terminal_lender *l);
/* Whether a command can have the terminal: a lender is registered, or
   standard input is a terminal. */
bool terminal_available(void);
/* Whether a command holds the terminal now. */
bool terminal_lent(void);

/*
 * For the command probe. terminal_prepare readies the terminal for a
 * command about to start (the lender's lend, the terminal's modes saved);
 * false with *why (static text) when it cannot be had. terminal_take makes
 * process group pgid the foreground group (and continues it, in case it
 * stopped on a read before). terminal_give_back returns the terminal:
 * rbc's group in the foreground, the modes restored, then reclaim.
 */
bool terminal_prepare(const char **why);
void terminal_take(int pgid);
void terminal_give_back(void);

#endif

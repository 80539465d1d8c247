/*
 * terminal.c — the terminal lent to a command (include/rbc/terminal.h):
 * the lender the view registers, the terminal's modes saved and restored
 * around the command, and its foreground process group moved to the
 * command's and back, as a shell's job control does (tcsetpgrp with
 * SIGTTOU blocked, which a background process needs to take it back);
 * the descriptors' O_NONBLOCK (the loop's) cleared while it is lent.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <termios.h>
#include <unistd.h>

#include "rbc/terminal.h"

static struct terminal_lender lender;
static bool have_lender, lent, saved_ok;
static struct termios saved;
static int saved_fl[3] = {-1, -1, -1};

void terminal_set_lender(const struct terminal_lender *l)
{
	have_lender = l != NULL;
	if (l)
		lender = *l;
}

bool terminal_available(void)
{
	return have_lender || isatty(STDIN_FILENO);
}

bool terminal_lent(void)
{
	return lent;
}

bool terminal_prepare(const char **why)
{
	if (lent) {
		*why = "the terminal is held by another step's command";
		return false;
	}
	if (!terminal_available()) {
		*why = "needs a terminal";
		return false;
	}
	if (have_lender && lender.lend)
		lender.lend(lender.ud);
	saved_ok = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	/* The loop's poll set the terminal non-blocking; a shell's read on a
	   non-blocking terminal fails at once (EAGAIN): blocking while lent. */
	for (int fd = 0; fd < 3; fd++) {
		saved_fl[fd] = fcntl(fd, F_GETFL);
		if (saved_fl[fd] >= 0 && (saved_fl[fd] & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, saved_fl[fd] & ~O_NONBLOCK);
	}
	lent = true;
	return true;
}

/* Moves the terminal's foreground group to pgid, allowed from the background. */
static void terminal_foreground(int pgid)
{
	if (!isatty(STDIN_FILENO))
		return;
	sigset_t ttou, old;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	(void)tcsetpgrp(STDIN_FILENO, (pid_t)pgid);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void terminal_take(int pgid)
{
	terminal_foreground(pgid);
	/* Stopped by SIGTTIN/SIGTTOU if it touched the terminal first: go on. */
	(void)kill(-(pid_t)pgid, SIGCONT);
}

void terminal_give_back(void)
{
	if (!lent)
		return;
	terminal_foreground((int)getpgrp());
	if (saved_ok) {
		sigset_t ttou, old;
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		sigprocmask(SIG_BLOCK, &ttou, &old);
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	for (int fd = 0; fd < 3; fd++)
		if (saved_fl[fd] >= 0 && (saved_fl[fd] & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, saved_fl[fd]);
	lent = false;
	if (have_lender && lender.reclaim)
		lender.reclaim(lender.ud);
}

/*
 * proc.c — the command probe's process machinery (see proc.h): /bin/sh
 * started with posix_spawn into a session and process group of its own
 * (or with uv_spawn where pidfd_open is missing), its stdout and stderr on
 * pipes made here, its exit seen through a pidfd polled on the loop (or
 * libuv's process handle) and reported to the job; and the hunt, in the
 * pool, for what left the group and still holds the output once the group
 * is killed. Why each is done so is told in cmd.c's head comment.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

/* 1: pidfd_open works here, 0: it does not (ENOSYS, or EPERM from a
   seccomp filter), -1: not tried yet. */
static atomic_int cmd_pidfd_works = -1;

/* ---- what outlives the group and holds the output --------------------------- */

/*
 * A hunt for processes outside the command's group that still hold its
 * output once the group is killed: everything in /proc holding a pipe of
 * the command's (by the pipes' inode), started at or after the command's
 * shell (so none of the operator's own, older processes that got the pipe
 * handed over), is killed with SIGKILL. Runs in the pool: a walk over
 * /proc has no place on the loop. Only the fields below are touched there.
 */
struct cmd_hunt {
	uv_work_t work;
	struct probe *p;             /* loop side only */
	ino_t ino[2];
	pid_t self, pgid;
	uint64_t since;              /* clock ticks since boot: older is not ours */
	bool pidfd;                  /* signal through a pidfd (no pid reuse race) */
	size_t nkilled, nleft;
	pid_t killed[CMD_HUNT_SHOWN], left[CMD_HUNT_SHOWN];
};

/* Clock ticks since boot, as /proc/PID/stat counts a process's start. */
static uint64_t cmd_boot_ticks(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0 || hz <= 0)
		return 0;
	return (uint64_t)ts.tv_sec * (uint64_t)hz + (uint64_t)ts.tv_nsec / (1000000000ull / (uint64_t)hz);
}

/* Whether process pid has a descriptor on one of h's pipes. */
static bool cmd_hunt_holds(const struct cmd_hunt *h, pid_t pid)
{
	char path[64], link[64], want[2][40];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	for (int i = 0; i < 2; i++)
		snprintf(want[i], sizeof want[i], "pipe:[%llu]", (unsigned long long)h->ino[i]);
	DIR *d = opendir(path);
	if (!d)
		return false; /* gone, or not ours to look at */
	bool holds = false;
	for (struct dirent *e; !holds && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		holds = strcmp(link, want[0]) == 0 || strcmp(link, want[1]) == 0;
	}
	closedir(d);
	return holds;
}

/* When process pid started, in clock ticks since boot (0: unknown). */
static uint64_t cmd_hunt_started(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "pid (comm)": state is field 3, starttime field 22. */
	const char *s = strrchr(buf, ')');
	for (int field = 2; s && field < 22; field++)
		s = strchr(s + 1, ' ');
	return s ? strtoull(s + 1, NULL, 10) : 0;
}

/* Kills pid if it still holds the output; false if it could not. */
static bool cmd_hunt_kill(const struct cmd_hunt *h, pid_t pid)
{
	if (!h->pidfd)
		return kill(pid, SIGKILL) == 0 || errno == ESRCH;
	/* Through a pidfd, checked again: the id cannot be another's by now. */
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH;
	bool ok = !cmd_hunt_holds(h, pid) || syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0 ||
	          errno == ESRCH;
	close(fd);
	return ok;
}

/* In a pool thread: finds and kills. */
static void cmd_hunt_work(uv_work_t *w)
{
	struct cmd_hunt *h = (struct cmd_hunt *)w;
	/* A /proc of another pid namespace would name other processes. */
	char self[32], want[32];
	ssize_t n = readlink("/proc/self", self, sizeof self - 1);
	snprintf(want, sizeof want, "%d", (int)h->self);
	if (n <= 0)
		return;
	self[n] = '\0';
	if (strcmp(self, want) != 0)
		return;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == h->self || !cmd_hunt_holds(h, (pid_t)pid))
			continue;
		if (getpgid((pid_t)pid) == h->pgid)
			continue; /* in the group: already killed, still going */
		uint64_t started = cmd_hunt_started((pid_t)pid);
		bool ours = started && started >= h->since;
		if (ours && cmd_hunt_kill(h, (pid_t)pid)) {
			if (h->nkilled < CMD_HUNT_SHOWN)
				h->killed[h->nkilled] = (pid_t)pid;
			h->nkilled++;
		} else {
			if (h->nleft < CMD_HUNT_SHOWN)
				h->left[h->nleft] = (pid_t)pid;
			h->nleft++;
		}
	}
	closedir(d);
}

/* Back on the loop: what was found is noted, the pipes let go of. */
static void cmd_hunt_done(uv_work_t *w, int status)
{
	struct cmd_hunt *h = (struct cmd_hunt *)w;
	struct probe *p = h->p;
	(void)status;
	p->hunt = NULL;
	for (size_t i = 0; i < h->nkilled && p->nkilled < CMD_HUNT_SHOWN; i++)
		p->killed[p->nkilled++] = h->killed[i];
	for (size_t i = 0; i < h->nleft && p->nleft < CMD_HUNT_SHOWN; i++)
		p->left[p->nleft++] = h->left[i];
	/* counts past what is shown */
	p->nkilled += h->nkilled > CMD_HUNT_SHOWN ? h->nkilled - CMD_HUNT_SHOWN : 0;
	p->nleft += h->nleft > CMD_HUNT_SHOWN ? h->nleft - CMD_HUNT_SHOWN : 0;
	free(h);
	p->on_hunted(p);
}

/*
 * Starts a hunt if a pipe is still open and none is running; false when
 * none was started (the pipes are closed, they are socketpairs of the
 * uv_spawn fallback, or the pool refused): go on without.
 */
bool proc_hunt(struct probe *p)
{
	if (p->hunt)
		return true;
	if ((p->eof[0] && p->eof[1]) || !p->pipes_ours || p->pgid <= 0)
		return false;
	struct cmd_hunt *h = xcalloc(1, sizeof *h);
	for (int i = 0; i < 2; i++) {
		uv_os_fd_t fd;
		struct stat st;
		if (uv_fileno((uv_handle_t *)&p->pipe[i], &fd) != 0 || fstat(fd, &st) != 0) {
			free(h);
			return false;
		}
		h->ino[i] = st.st_ino;
	}
	h->p = p;
	h->self = getpid();
	h->pgid = p->pgid;
	h->since = p->spawned_at > 0 ? p->spawned_at - 1 : 0; /* a tick's rounding */
	h->pidfd = atomic_load(&cmd_pidfd_works) == 1;
	if (uv_queue_work(p->loop, &h->work, cmd_hunt_work, cmd_hunt_done) != 0) {
		free(h);
		return false;
	}
	p->hunt = h;
	return true;
}

/* ---- starting the shell and seeing it exit ------------------------------------ */

/* uv_spawn's exit callback (the fallback). */
static void cmd_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct probe *p = proc->data;
	p->on_exited(p, exit_status, term_signal);
}

/* The pidfd is readable: the shell exited. Reaps it and tells the job. */
static void cmd_pidfd_cb(uv_poll_t *h, int status, int events)
{
	struct probe *p = h->data;
	int st = 0;
	pid_t r;
	(void)status;
	(void)events;
	do
		r = waitpid(p->pgid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return; /* still running: a readable pidfd says otherwise, wait on */
	/* The job's on_exited closes h (the pidfd goes with it). */
	if (r < 0) {
		/* ECHILD: someone else reaped it (SIGCHLD ignored, a stray
		   waitpid(-1)); it is gone, its status with it. */
		p->status_lost = true;
		p->on_exited(p, 0, 0);
	} else if (WIFSIGNALED(st)) {
		p->on_exited(p, 0, WTERMSIG(st));
	} else {
		p->on_exited(p, WEXITSTATUS(st), 0);
	}
}

/*
 * The parent's environment with env's entries added (replacing same names),
 * without rbc's own settings: RBC_DATABASE_URL holds a password, and no
 * RBC_* variable is the step's business unless its runbook gives it.
 */
static char **cmd_environ(const struct rb_kv *env)
{
	size_t n = 0, k = 0;
	while (environ && environ[n])
		n++;
	size_t extra = env ? env->n : 0;
	char **out = xcalloc(n + extra + 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool replaced = strncmp(environ[i], "RBC_", 4) == 0;
		for (size_t j = 0; j < extra && !replaced; j++)
			replaced = strlen(env->keys[j]) == nl && !memcmp(env->keys[j], environ[i], nl);
		if (!replaced)
			out[k++] = xstrdup(environ[i]);
	}
	for (size_t j = 0; j < extra; j++) {
		if (!env->keys[j][0] || strchr(env->keys[j], '='))
			continue; /* not a variable name: the runbook check rejects these */
		out[k++] = xasprintf("%s=%s", env->keys[j], env->vals[j] ? env->vals[j] : "");
	}
	return out;
}

/* True to start commands with posix_spawn and watch them with a pidfd;
   false for the uv_spawn fallback (also forced by RBC_TEST_UV_SPAWN=1). */
static bool cmd_use_pidfd(void)
{
	const char *force = getenv("RBC_TEST_UV_SPAWN");
	if (force && *force && strcmp(force, "0") != 0)
		return false;
	if (atomic_load(&cmd_pidfd_works) < 0) {
		int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (fd >= 0) {
			close(fd);
			atomic_store(&cmd_pidfd_works, 1);
		} else if (errno == ENOSYS || errno == EPERM) {
			atomic_store(&cmd_pidfd_works, 0);
		} else {
			return false; /* out of descriptors or memory: ask again next time */
		}
	}
	return atomic_load(&cmd_pidfd_works) == 1;
}

/* Why a spawn failed: the working directory when it is the culprit (the
   child's chdir reports only an errno), else /bin/sh. Only on failure, so
   the stat may run on the loop thread (the spawn's chdir did too). */
static char *cmd_spawn_error(const char *cwd, int uverr)
{
	if (cwd) {
		struct stat st;
		int why = 0;
		if (stat(cwd, &st) != 0)
			why = -errno;
		else if (!S_ISDIR(st.st_mode))
			why = UV_ENOTDIR;
		else if (access(cwd, X_OK) != 0)
			why = -errno;
		if (why)
			return xasprintf("cannot run in %s: %s", cwd, uv_strerror(why));
		return xasprintf("cannot run /bin/sh in %s: %s", cwd, uv_strerror(uverr));
	}
	return xasprintf("cannot run /bin/sh: %s", uv_strerror(uverr));
}

/* A child that cannot be watched, killed: reaped in the pool (a blocking
   waitpid has no place on the loop), then forgotten. */
struct cmd_reap {
	uv_work_t work;
	pid_t pid;
};

/* In a pool thread: waits for the killed child. */
static void cmd_reap_work(uv_work_t *w)
{
	struct cmd_reap *r = (struct cmd_reap *)w;
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Back on the loop: the child is reaped. */
static void cmd_reap_done(uv_work_t *w, int status)
{
	(void)status;
	free(w);
}

/* Moves a pipe's end above 2: with a standard descriptor closed in rbc,
   pipe2 hands it out; the child's dup2s would then clobber a write end,
   and libuv refuses to close a handle's descriptor below 3. */
static int cmd_fd_above_stdio(int fd)
{
	if (fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return nfd;
}

/*
 * Makes the stdout and stderr pipes (pipes, not socketpairs: a hunt finds
 * their holders by the inode both ends share): p->pipe[] own the read ends,
 * out[] gets the write ends (close-on-exec, above 2) for the child. Returns
 * 0, or a uv error with p->spawn_error set.
 */
static int cmd_pipes(struct probe *p, int out[2])
{
	int fds[2][2] = {{-1, -1}, {-1, -1}}; /* [stdout, stderr][read, write] */
	int r = 0;
	for (int i = 0; i < 2 && r == 0; i++) {
		if (pipe2(fds[i], O_CLOEXEC) != 0 || (fds[i][0] = cmd_fd_above_stdio(fds[i][0])) < 0 ||
		    (fds[i][1] = cmd_fd_above_stdio(fds[i][1])) < 0)
			r = -errno;
		else if ((r = uv_pipe_open(&p->pipe[i], fds[i][0])) == 0)
			fds[i][0] = -1; /* the handle owns it: closed with it */
	}
	if (r != 0) {
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < 2; k++)
				if (fds[i][k] >= 0)
					close(fds[i][k]);
		p->spawn_error = xasprintf("cannot run /bin/sh: cannot create a pipe: %s", uv_strerror(r));
		return r;
	}
	out[0] = fds[0][1];
	out[1] = fds[1][1];
	p->pipes_ours = true;
	return 0;
}

/* stdin's pipe, as proc.h says. */
int proc_stdin_pipe(struct probe *p)
{
	int fds[2];
	int r = 0;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	if ((fds[0] = cmd_fd_above_stdio(fds[0])) < 0 || (fds[1] = cmd_fd_above_stdio(fds[1])) < 0)
		r = -errno;
	else if ((r = uv_pipe_open(&p->inpipe, fds[1])) == 0)
		fds[1] = -1; /* the handle owns it */
	if (r != 0) {
		for (int k = 0; k < 2; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		p->spawn_error = xasprintf("cannot run /bin/sh: cannot create a pipe: %s", uv_strerror(r));
		return r;
	}
	p->in_fd = fds[0];
	return 0;
}

/*
 * Starts /bin/sh with posix_spawn: its own session (so its own process
 * group), every signal at its default and none blocked, stdin from
 * /dev/null, stdout and stderr on pipes whose read ends p->pipe own, and a
 * pidfd to see it exit. Returns 0, or a uv error with p->spawn_error set.
 */
static int cmd_spawn_posix(struct probe *p, const char *cwd, char *const args[], char *const envp[])
{
	int out[2] = {-1, -1}; /* the write ends of stdout and stderr */
	int r = p->tty ? 0 : cmd_pipes(p, out);
	if (r != 0)
		return r;
	int fds[2][2] = {{-1, out[0]}, {-1, out[1]}}; /* [stdout, stderr][-, write] */

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	pid_t pid = 0;
	int e = posix_spawn_file_actions_init(&fa);
	if (e == 0) {
		e = posix_spawnattr_init(&at);
		if (e != 0)
			posix_spawn_file_actions_destroy(&fa);
	}
	if (e == 0) {
		if (cwd)
			e = posix_spawn_file_actions_addchdir_np(&fa, cwd);
		if (e == 0 && p->in_fd >= 0)
			e = posix_spawn_file_actions_adddup2(&fa, p->in_fd, 0);
		else if (e == 0 && !p->tty)
			e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		for (int i = 0; i < 2 && e == 0 && !p->tty; i++)
			e = posix_spawn_file_actions_adddup2(&fa, fds[i][1], i + 1);
		/* A terminal's command stays in rbc's session (the terminal is its
		   controlling one) in a group of its own, made the foreground one. */
		if (e == 0)
			e = posix_spawnattr_setflags(&at, (p->tty ? POSIX_SPAWN_SETPGROUP : POSIX_SPAWN_SETSID) |
			                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
		if (e == 0 && p->tty)
			e = posix_spawnattr_setpgroup(&at, 0);
		if (e == 0)
			e = posix_spawnattr_setsigdefault(&at, &all);
		if (e == 0)
			e = posix_spawnattr_setsigmask(&at, &none);
		if (e == 0)
			e = posix_spawn(&pid, "/bin/sh", &fa, &at, args, envp);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i][1] >= 0)
			close(fds[i][1]);
	if (e != 0) {
		p->spawn_error = cmd_spawn_error(cwd, -e);
		return -e;
	}

	/* CLONE_VFORK: the child has exec'd (so is in its own session) by now. */
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	r = p->pidfd < 0 ? -errno : uv_poll_init(p->loop, &p->pidpoll, p->pidfd);
	if (r == 0) {
		p->pidpoll.data = p;
		p->watch = WATCH_PIDFD;
		p->nhandles++;
		r = uv_poll_start(&p->pidpoll, UV_READABLE, cmd_pidfd_cb);
	}
	if (r != 0) {
		/* Unwatchable: kill it rather than lose track of it. */
		(void)kill(-pid, SIGKILL);
		struct cmd_reap *reap = xcalloc(1, sizeof *reap);
		reap->pid = pid;
		if (uv_queue_work(p->loop, &reap->work, cmd_reap_work, cmd_reap_done) != 0)
			free(reap);
		if (p->watch == WATCH_NONE && p->pidfd >= 0) {
			close(p->pidfd);
			p->pidfd = -1;
		}
		p->spawn_error = xasprintf("cannot watch /bin/sh (killed it): %s", uv_strerror(r));
		return r;
	}
	p->pgid = pid;
	return 0;
}

/* Starts /bin/sh with uv_spawn (fork): the fallback without pidfd_open.
   Returns 0, or a uv error with p->spawn_error set. */
static int cmd_spawn_uv(struct probe *p, const char *cwd, char *args[], char *envp[])
{
	if (p->tty) {
		/* uv_spawn cannot put the child in a group of its own in rbc's session. */
		p->spawn_error = xstrdup("a command that needs a terminal needs pidfd_open (Linux 5.3 or later)");
		return UV_ENOSYS;
	}
	int out[2];
	int r = cmd_pipes(p, out);
	if (r != 0)
		return r;
	uv_stdio_container_t stdio[3] = {
		p->in_fd >= 0 ? (uv_stdio_container_t){.flags = UV_INHERIT_FD, .data.fd = p->in_fd}
		              : (uv_stdio_container_t){.flags = UV_IGNORE}, /* /dev/null */
		{.flags = UV_INHERIT_FD, .data.fd = out[0]},
		{.flags = UV_INHERIT_FD, .data.fd = out[1]},
	};
	uv_process_options_t opt = {
		.exit_cb = cmd_exit_cb,
		.file = "/bin/sh",
		.args = args,
		.env = envp,
		.cwd = cwd,
		/* setsid(): a process group of its own, and no controlling terminal. */
		.flags = UV_PROCESS_DETACHED,
		.stdio_count = 3,
		.stdio = stdio,
	};
	p->proc.data = p;
	r = uv_spawn(p->loop, &p->proc, &opt);
	close(out[0]);
	close(out[1]);
	p->watch = WATCH_PROC;
	p->nhandles++; /* the process handle is initialised even on failure */
	if (r != 0) {
		p->spawn_error = cmd_spawn_error(cwd, r);
		return r;
	}
	p->pgid = p->proc.pid;
	return 0;
}

/* The shell started as proc.h says, on rbc's environment with env added. */
int proc_spawn(struct probe *p, const char *command, const char *cwd, const struct rb_kv *env)
{
	char *args[] = {(char *)"sh", (char *)"-c", (char *)command, NULL};
	char **envp = cmd_environ(env);
	p->spawned_at = cmd_boot_ticks(); /* what starts from here on may be the command's */
	int r = cmd_use_pidfd() ? cmd_spawn_posix(p, cwd, args, envp) : cmd_spawn_uv(p, cwd, args, envp);
	for (size_t i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
	if (p->in_fd >= 0) {
		close(p->in_fd); /* the child has its copy */
		p->in_fd = -1;
	}
	return r;
}

/*
 * proc.h — what the command probe's files share, and nothing else sees:
 * the job (struct probe of run and nagios) and the process machinery.
 *
 * Layered downward only: cmd.c, the kinds and the job (output, spool,
 * timers, the sample), calls proc.c, which spawns the shell into a process
 * group of its own on pipes made for it, watches for its exit and hunts the
 * processes outside the group that still hold its output. proc.c reaches
 * the job only through the hooks cmd.c sets in struct probe (on_exited,
 * on_hunted), never by name.
 */
#ifndef RBC_PROBE_PROC_H
#define RBC_PROBE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "rbc/mask.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

#define CMD_HUNT_SHOWN 8       /* process ids named in the explanation */

/* The last cap bytes of a stream; total counts every byte seen. */
struct ring {
	char *buf;
	size_t cap, alloc, len, pos; /* pos: oldest byte once len == cap */
	uint64_t total;
};

/* Masked bytes waiting to be appended to the spool file. */
struct spool_chunk {
	struct spool_chunk *next;
	char *data;                  /* owned */
	size_t len, off;             /* off: already written */
};

enum cmd_stop { STOP_NONE, STOP_TIMEOUT, STOP_CANCEL };
enum cmd_timer {
	TIMER_IDLE, TIMER_TIMEOUT, TIMER_TERM, TIMER_DRAIN, TIMER_SPAWN_FAILED, TIMER_SPOOL,
	TIMER_LINGER
};
/* The spool file's life; every step after WAITING is one request on
   spool_req. WAITING: a path is set but no byte came yet (no file). */
enum cmd_spool { SPOOL_NONE, SPOOL_WAITING, SPOOL_OPENING, SPOOL_OPEN, SPOOL_CLOSING };
/* What tells the shell's exit: nothing yet, libuv's process handle (the
   uv_spawn fallback), or the pidfd poll handle. */
enum cmd_watch { WATCH_NONE, WATCH_PROC, WATCH_PIDFD };

struct probe {
	const struct probe_ops *ops;
	uv_loop_t *loop;
	enum cmd_watch watch;
	uv_process_t proc;           /* WATCH_PROC */
	uv_poll_t pidpoll;           /* WATCH_PIDFD: readable once the shell exited */
	int pidfd;                   /* closed once pidpoll is (-1: none) */
	uv_pipe_t pipe[2];           /* stdout, stderr */
	uv_pipe_t inpipe;            /* stdin's write end, while it is fed */
	uv_write_t inreq;
	char *in_text;               /* what stdin is fed (owned; NULL: /dev/null) */
	size_t in_len;
	int in_fd;                   /* stdin's read end, for the child (-1: none) */
	bool tty_waiting;            /* tty: queued until the terminal is free */
	struct probe *tty_next;      /* …after this one */
	char *w_command, *w_cwd;     /* …with copies of what it runs */
	struct rb_kv w_env;
	bool tty;                    /* the command has the terminal (terminal.h):
	                                stdin, stdout and stderr are rbc's, and its
	                                group becomes the foreground group */
	uv_timer_t timer;
	enum cmd_timer timer_phase;
	int nhandles;                /* handles not yet closed */

	struct ring ring[2];         /* raw */
	struct mask_stream ms[2];    /* for on_output and the spool */
	struct strbuf obuf;          /* masked bytes of the current read */
	bool eof[2];
	bool spawned, exited, finished;
	bool status_lost;            /* reaped by someone else: no exit status */
	bool lingered;               /* the pipes outlived the shell by linger_ms */
	uint64_t linger_ms;
	struct cmd_hunt *hunt;       /* in the pool: p must outlive it */
	uint64_t spawned_at;         /* clock ticks since boot, at the spawn */
	bool pipes_ours;             /* pipe[] are pipes (not socketpairs): hunts can find them */
	size_t nkilled, nleft;       /* outside the group, holding the output: killed, left */
	pid_t killed[CMD_HUNT_SHOWN], left[CMD_HUNT_SHOWN];
	int64_t exit_status;
	int term_signal;
	int pgid;                    /* 0 until spawned */

	enum cmd_spool spool_state;  /* SPOOL_NONE: no spool, failed or closed */
	bool spool_busy;             /* spool_req in flight: p must outlive it */
	uv_file spool_fd;            /* valid in SPOOL_OPEN */
	bool spool_again;            /* it exists (an earlier attempt's): appended to */
	char *spool_path;            /* for messages */
	int spool_dir;               /* a copy of req->spool_dir (-1: none) */
	int spool_opened;            /* the open's descriptor or error (UV_E*) */
	char *spool_error;           /* first spool problem */
	struct spool_chunk *sq_head, *sq_tail;
	struct spool_chunk *sq_writing; /* the chunk spool_req is writing */
	size_t sq_bytes;             /* queued, including the one being written */
	bool paused;                 /* reading stopped for the spool */
	uv_fs_t spool_req;
	uv_work_t spool_work;        /* the open: openat in spool_dir, on a pool thread */

	enum cmd_stop stop;
	int64_t timeout_ms;
	uint64_t t0;                 /* uv_hrtime at start */
	char *spawn_error;

	void (*on_output)(void *ud, enum probe_stream stream, const char *data, size_t len);
	void (*on_done)(void *ud, struct rbc_value *sample, const char *error);
	void *ud;

	/* What proc.c calls back into the job with (set by cmd_start, never
	   named there): the shell was reaped (status_lost set first when
	   another reaped it), and a hunt is back (p->hunt cleared). */
	void (*on_exited)(struct probe *p, int64_t exit_status, int term_signal);
	void (*on_hunted)(struct probe *p);

	char rbuf[64 * 1024];        /* one read at a time, shared by both pipes */
};

/*
 * Starts /bin/sh -c command in cwd (NULL: rbc's) with env added to the
 * environment, in its own session and process group, stdout and stderr on
 * p->pipe (initialised, not yet read), stdin from p->in_fd (closed here)
 * or /dev/null, its exit watched (p->watch) and reported through
 * p->on_exited; sets p->pgid and p->spawned_at. With p->tty: in a process
 * group of its own in rbc's session, on rbc's stdin, stdout and stderr
 * (p->pipe left unopened). Returns 0, or a uv error with p->spawn_error set.
 */
int proc_spawn(struct probe *p, const char *command, const char *cwd, const struct rb_kv *env);

/*
 * Makes stdin's pipe for the command to be spawned: p->inpipe (initialised)
 * opened on the write end, p->in_fd the read end. Returns 0, or a uv error
 * with p->spawn_error set.
 */
int proc_stdin_pipe(struct probe *p);

/*
 * Starts a hunt if a pipe is still open and none is running: in the pool,
 * every process outside p's group that holds its output and started with
 * the command or after is killed; p->on_hunted follows on the loop. false
 * when none was started: go on without.
 */
bool proc_hunt(struct probe *p);

#endif

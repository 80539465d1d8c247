/*
 * probe.h — one attempt of a probe: started on the event loop, it ends by
 * delivering exactly one sample.
 *
 * Every probe kind is a struct probe_ops (one per file in src/probe/): how
 * the loader reads its step (its key table and load), how a request is built
 * from the step (build), how the console describes it (describe), and the
 * attempt itself (start, cancel). The engine expands variables, decides
 * timeouts, retries and repeats, and calls ops->start once per attempt; the probe never blocks, never sleeps, and
 * reports back only through the callbacks in its struct probe_req, always
 * from the loop thread and never from inside ops->start.
 *
 * Contract:
 * - ops->start returns a running probe, or NULL with err->msg set when the
 *   request cannot even be started (then no callback is ever called).
 * - on_output (optional) may be called any number of times while it runs.
 * - on_done is called exactly once, with the sample (ownership passes to the
 *   callee) and, when the probe could not run (timeout, refused, SQL error,
 *   spawn failure, cancelled), error text; the sample then still carries
 *   `time` and `error`. After on_done the probe has freed itself: the
 *   struct probe pointer must not be used again.
 * - ops->cancel may be called at any time before on_done; on_done follows
 *   (asynchronously) with error "cancelled".
 * - A sample is a value_obj_new(false) object with the fields RB_FIELDS
 *   (rbc/runbook.h) lists for the kind and no other, `time` (ms,
 *   RBC_DIM_TIME) always and `error` (text) when the probe could not run.
 *   Headers are a case-insensitive object.
 */
#ifndef RBC_PROBE_H
#define RBC_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/error.h"
#include "rbc/keys.h"
#include "rbc/mask.h"
#include "rbc/runbook.h"
#include "rbc/value.h"

struct probe;

enum probe_stream { PROBE_STDOUT = 1, PROBE_STDERR = 2 };

/*
 * One attempt, fully resolved by the engine: every ${NAME} already expanded
 * in the strings below (secrets included: the probe must never print them).
 * All pointers are borrowed for the duration of ops->start only; a probe that
 * needs them later copies them.
 */
struct probe_req {
	uv_loop_t *loop;
	enum rb_action action;
	int64_t timeout_ms;          /* 0: none */
	const char *cwd;             /* run/nagios: working directory (NULL: inherit) */

	/* run, nagios */
	const char *command;         /* passed to /bin/sh -c, never spliced */
	const struct rb_kv *env;     /* added to the environment: variables, step env */
	const char *spool_path;      /* full stdout+stderr copy, appended; created
	                                with the first byte (NULL: none) */
	int spool_dir;               /* with spool_path: the open directory it is
	                                in (borrowed; the probe keeps a copy). The
	                                file is opened in it by spool_path's last
	                                name, never by the path, so nothing above
	                                it is followed (-1: none, the spool fails) */
	size_t keep_bytes;           /* in-memory tail kept per stream (0: default 64 KiB) */
	const char *stdin_text;      /* fed to the command's standard input, then
	                                closed (NULL: /dev/null); stdin_len bytes */
	size_t stdin_len;
	int tty;                     /* run: the command gets the terminal
	                                (probe_terminal.h); no output captured */
	/* Secrets masked in what leaves the probe as text: the spool file and
	   on_output (NULL: none). Borrowed for the whole attempt; values added
	   to it meanwhile apply from then on. The sample keeps the raw output,
	   so thresholds judge what the command really printed. */
	const struct mask *mask;

	/* http (prometheus is http underneath) */
	const char *method, *url, *body;
	const struct rb_kv *headers;
	int json_body;               /* body is JSON: send Content-Type: application/json */
	int insecure, follow;
	int64_t max_body;            /* bytes kept (0: default 1 MiB) */

	/* sql */
	const char *conn;
	const char *query;
	const char *const *params;   /* NULL entries are SQL NULL */
	size_t nparams;
	int write;
	long max_rows;               /* 0: default 1000 */

	/* dns, tcp */
	const char *host;            /* dns name or tcp host */
	const char *dns_type;        /* "A", "AAAA", "any" */
	int port;

	/* prometheus */
	const char *prom_url, *prom_query;

	/* wait: how long the attempt lasts (its timeout does not apply); the
	   engine counts it down for the console (engine_time_left) */
	int64_t wait_ms;

	/* callbacks, all on the loop thread */
	void (*on_output)(void *ud, enum probe_stream stream, const char *data, size_t len);
	void (*on_done)(void *ud, struct rbc_value *sample, const char *error);
	void *ud;
};

/* How ${NAME} in a step's text is expanded, for where the text goes. */
enum probe_quote {
	PROBE_QUOTE_PLAIN,   /* as it is: paths, host names, text bodies */
	PROBE_QUOTE_JSON,    /* inside a JSON string: escaped as JSON text */
	PROBE_QUOTE_CONN,    /* a libpq connection string */
	PROBE_QUOTE_URL,     /* a URL: percent-encoded */
	PROBE_QUOTE_PROMQL,  /* a PromQL query */
};

struct probe_build_kept;

/*
 * What a kind's build reads a step's values through. The engine fills the
 * callbacks and ud; everything they hand out, and whatever the kind gives
 * probe_build_keep, lives until probe_build_release, which the engine calls
 * once ops->start has returned (the request only borrows it).
 */
struct probe_build {
	/* text with ${NAME} expanded for quote (NULL text: NULL); false with
	   *error (caller frees) when a variable cannot be expanded. */
	bool (*expand)(struct probe_build *b, const char *text, enum probe_quote quote,
	               const char **out, char **error);
	/* run, nagios: fills env with the variables, then the step's env. */
	bool (*environ)(struct probe_build *b, struct rb_kv *env, char **error);
	/* run, nagios: where the full output is copied; *path stays NULL when
	   the run keeps no files. */
	void (*spool)(struct probe_build *b, const char **path, int *dir);
	const char *dir;                 /* the runbook's directory */
	void *ud;                        /* the engine's */
	struct probe_build_kept *kept;   /* owned until probe_build_release */
	size_t nkept, capkept;
};

/* Hands p to b, freed with free_fn by probe_build_release. */
void probe_build_keep(struct probe_build *b, void *p, void (*free_fn)(void *));
/* An empty name → text list owned by b. */
struct rb_kv *probe_build_kv(struct probe_build *b);
/* Frees what b keeps; b can be used again. */
void probe_build_release(struct probe_build *b);

struct probe_ops {
	enum rb_action action;
	const char *name;

	/* The keys the object under the step's action key accepts. */
	const struct keys_member *keys;
	size_t nkeys;
	/* Reads m, the value of the step's action key, into s->action_data
	   (run and nagios: into s->cmd); problems go to r, against keys and
	   the shorthands the kind takes. */
	void (*load)(struct keys_reader *r, const cJSON *m, struct rb_step *s);
	/* Frees what load hung on s->action_data (NULL: nothing). */
	void (*free_data)(void *data);
	/* Fills the kind's part of q from step s, expanding through b (q's
	   common part, loop, action, timeout_ms and mask, is set already);
	   false with *error (caller frees). */
	bool (*build)(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
	              char **error);
	/* Appends what s does, as written ("GET ${BASE_URL}/health"), to sb. */
	void (*describe)(const struct rb_step *s, struct strbuf *sb);
	/* describe's ${NAME} are the shell's to expand, not rbc's: show them as
	   written. */
	bool describe_verbatim;
	/* A remark every verdict of s carries ("TLS not verified (insecure:
	   true)"), or NULL (also when the op is NULL). */
	const char *(*verdict_note)(const struct rb_step *s);
	/* A command's kinds: the step's own environment variables ("env", on
	   top of the run's; values unexpanded) and the shell text whose $NAME
	   the detail pane lists. NULL ops: the kind runs no shell. */
	const struct rb_kv *(*step_env)(const struct rb_step *s);
	const char *(*shell_text)(const struct rb_step *s);
	/* A step-level key the kind owns ("tty", "stdin"): reads m (its key on
	   r's path) into s's kind data; false when the kind has no such key. */
	bool (*step_key)(struct keys_reader *r, const cJSON *m, struct rb_step *s);
	/* Whether s runs with the terminal ("tty": true): no output is
	   captured, and a run without a terminal cannot do it. */
	bool (*needs_terminal)(const struct rb_step *s);

	struct probe *(*start)(const struct probe_req *req, struct rbc_error *err);
	void (*cancel)(struct probe *p);
};

/* The ops of one kind, or NULL for groups and manual steps. */
const struct probe_ops *probe_ops_for(enum rb_action action);

/*
 * Frees what the probes keep per loop (HTTP's connection cache). Call it
 * before uv_loop_close, when no probe runs, then run the loop until it
 * returns so closing handles finish.
 */
void probe_shutdown(uv_loop_t *loop);

#endif

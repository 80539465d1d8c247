/*
 * internal.h — what the engine's files share: the node behind each public
 * struct eng_step, flows, and the engine itself.
 *
 * A flow is one thread of control walking the tree: the main flow (the
 * normal order), one per branch of a running parallel group, one per step
 * started by hand. Flows never recurse into each other: every move is
 * queued (flow_move) and done by engine_pump, so a 100,000-step runbook of
 * steps that finish at once does not grow the C stack.
 *
 * The files import downward only: engine.c (the scheduler) uses flow.c,
 * tree.c, step.c, ask.c, callee.c, budget.c, vars.c and emit.c; flow.c
 * (flows, finishing nodes, groups and their branches) uses tree.c, step.c,
 * callee.c, iterate.c, budget.c and emit.c, never engine.c; restore.c uses
 * flow.c, tree.c, step.c, callee.c, iterate.c and vars.c; iterate.c uses
 * callee.c, tree.c, vars.c and emit.c; tree.c uses step.c, callee.c,
 * budget.c and vars.c; ask.c uses tree.c, vars.c and emit.c; step.c uses
 * sample.c, vars.c and emit.c; callee.c uses vars.c and emit.c; budget.c
 * (time budgets) uses emit.c only. Each has a small header of its own
 * (emit.h, flow.h, step.h, tree.h, ask.h, callee.h, iterate.h);
 * the declarations below are the rest.
 */
#ifndef RBC_ENGINE_INTERNAL_H
#define RBC_ENGINE_INTERNAL_H

#include "rbc/engine.h"

struct flow;
struct engine;
struct engine_step_outcome;

/* A timer that belongs to one node; freed through uv_close. */
struct etimer {
	uv_timer_t t;
	struct node *node;
};

struct node {
	struct eng_step s;            /* first: a node is its public step */
	struct flow *flow;            /* the flow running it, while it runs */
	unsigned gen;                 /* bumped on cancel and reset: late probe
	                                 results of an older generation are dropped */
	struct probe *probe;          /* the attempt's probe in flight */
	const struct probe_ops *ops;
	struct etimer *timer;         /* next sample, retry delay */
	struct etimer *deadline;      /* the end of a repeat's for or within (wall
	                                 time): cuts the sample running then */
	struct etimer *budget;        /* a group's deadline (docs/runbook-format.md,
	                                 "Time budgets"): budget.c arms it */
	bool budget_passed;           /* … it passed while the group ran */
	struct rbc_value *deferred;   /* a sample made on the spot (the probe could
	                                 not start), handed over on the next turn */
	uint64_t t0;                  /* uv_now when the attempt started */
	uint64_t wait_end;            /* a wait's probe: uv_now when it is over; 0: none */
	long streak;                  /* consecutive: passes in a row */
	long longest;                 /* consecutive: the longest run so far */
	bool child_stopped;           /* a group ended by a child's stop */
	bool endpoint;                /* reached by a jump: the flow ends after it */
	bool restored;                /* finished before a resume: never reopened */
	bool rewatch;                 /* a watch cut short: samples again on resume */
	bool hand;                    /* its last start was by hand, not the run's flow */
	bool redo;                    /* a resume runs it again by hand: a hand run of it
	                                 was cut short (a crash, a stop) */
	bool in_window;               /* ended since the run last moved (restore) */
	bool gated;                   /* its action waits for its start to be recorded */
	bool gate_watch;              /* … a watch's first sample (else an attempt) */
	uint64_t gate_mark;           /* … the record's mark it waits for */
	/* watches */
	bool watch_live;
	int64_t watch_deadline;       /* uv_now ms; 0: until the run ends */
	uint64_t violated_since;      /* uv_now of the first violated sample in a row */
	long violated;                /* violated samples in a row */
	size_t watch_total;           /* samples taken */
	size_t watch_judged;          /* of them, PASS or WARN */
	char *last_explain;           /* the latest sample's explanation (masked) */
	enum rbc_verdict last_verdict;
	struct rbc_value *last_record; /* the record of samples[nsamples - 1], which
	                                  it replaces when the next sample comes */
	/* loops (iterate.c), calls (call.c) and groups run in branches */
	bool id_scope;                /* an iteration or a call: the ids below it carry its own */
	struct capture *scope;        /* a call: the callee's variables (with, its
	                                 defaults) and what its steps capture */
	size_t nscope, capscope;
	const char *loop_var;         /* an iteration: the variable it binds (borrowed) */
	char *loop_item;              /* … and its item */
	bool expanded;                /* a loop: its iterations are made */
	bool halted;                  /* no more of its children start */
	size_t next_child;            /* branches: the next child to start */
	size_t failures;              /* a loop: iterations failed so far */
};

static inline struct node *node_of(struct eng_step *s)
{
	return (struct node *)s;
}

/* ENTER: run the node; AFTER: it finished, apply its on_fail and go on;
   PASS: go on past a node finished earlier (its on_fail acted then). */
enum flow_act { FLOW_WAIT, FLOW_ENTER, FLOW_AFTER, FLOW_PASS };

struct flow {
	struct engine *e;
	struct flow *parent;          /* a branch: the flow waiting for it */
	struct node *root;            /* runs only inside this subtree (NULL: all) */
	struct node *cur;
	enum flow_act act;
	size_t pending;               /* branches still running */
	struct node *jump;            /* a branch's jump, done by its parent */
	struct node *jump_from;
	char *jump_why;
	bool stopped;                 /* a branch ended by a stop */
	bool main;
	bool queued;
	struct flow *next_ready;
	struct flow *prev_all, *next_all;
};

struct capture {
	char *name;
	struct rbc_value *value;
	char *text;
};

struct engine {
	struct engine_opts o;
	struct rb_step **procs;       /* incident runbooks: a group per severity's
	                                 procedure (its steps borrowed), on demand */
	size_t nprocs, capprocs;
	struct rb_step **loopdefs;    /* the iterations' steps made by loops (iterate.c) */
	size_t nloopdefs, caploopdefs;
	uv_loop_t *loop;
	char *operator;
	char *out_dir;
	int out_fd;                   /* out_dir, opened once at the start (-1:
	                                 none): step outputs are made in it by
	                                 name, whatever its path names later */
	struct rb_kv vars;            /* --var / --vars, copied */
	struct rb_kv secrets;         /* name → value, from the environment */
	struct mask *mask;
	struct expr *run_expect;      /* "exit == 0": commands without expect */

	struct eng_step **nodes;      /* top: the runbooks, then the includes */
	size_t nnodes;
	size_t nsteps;                /* every node below the top ones */

	struct capture *caps;
	size_t ncaps, capcaps;
	struct rbc_value **scratch;   /* vars.NAME values lent to one evaluation */
	size_t nscratch, capscratch;
	const struct eng_step *expr_step; /* whose vars an evaluation reads */

	struct flow *all_flows;
	struct flow *ready_head, *ready_tail;
	struct flow *main;
	bool pumping;
	bool started;                 /* RUN_STARTED emitted */
	bool main_running;            /* a main flow was started and has not finished */
	bool main_over;               /* it finished: RUN_FINISHED once all lets go */
	bool stopping;                /* engine_stop / an interrupting watch */
	bool stop_ends;               /* the stop is a watch's: over once the run has ended */
	bool dirty;                   /* something ran since the last RUN_FINISHED */
	bool run_error;               /* the run could not go on: its verdict is ERROR */
	size_t inflight;              /* probes started, not yet delivered */
	size_t watches;               /* watches sampling */
	size_t watches_for;           /* of them, with a repeat.for of their own */
	size_t timers;                /* sample / retry timers armed */
	size_t remasking;             /* output files being masked again */
	size_t jumps;
	char *stop_reason;
	struct flow *acting;          /* the flow engine_pump is moving */
	struct node *resume_at;       /* engine_start continues here (a resume) */
	enum flow_act resume_act;
	bool resume_reopen;           /* a stop closed the groups around it */
	bool resume_pending;          /* restored: the next engine_start goes on */
	struct node **window;         /* restore: steps ended since the run last moved
	                                 (what a stop that follows cut short) */
	size_t nwindow, capwindow;
	bool ended;                   /* RUN_FINISHED was emitted: a step run by hand
	                                 after it ends the run again */
	/* write-ahead (engine_set_record) */
	uint64_t (*record_mark)(void *ud);
	void *record_ud;
	uint64_t recorded;            /* the record's mark reached so far */
	bool record_lost;             /* nothing more can be recorded: nothing starts */
	struct node **gated;          /* steps whose action waits for the record */
	size_t ngated, capgated;
	/* How step.c hands the scheduler what a step's callback (a probe's
	   result, a timer, an output masked again: n NULL) came to, once at
	   its end (step.h): engine.c installs it, applies the outcome and
	   moves the flows on. A pointer, so the worker never imports the
	   scheduler. */
	void (*step_report)(struct engine *e, struct node *n, struct engine_step_outcome *o);
};

/* flow.c: what a restore does to the tree as the scheduler does it */
/* Back to pending, with everything below it (a step run again). */
void node_reset(struct engine *e, struct node *n);
/* A backwards jump: what lies between runs again, the failed step included. */
void reset_between(struct engine *e, struct node *target, struct node *from);

/* budget.c: a group's time budget, its timer and its judgment */
/* Arms n's deadline timer from n's start (a group that runs, with a budget). */
void budget_arm(struct engine *e, struct node *n);
/* Stops n's deadline timer (n ended or was reset). */
void budget_disarm(struct node *n);
/* Closes n's deadline timer (freeing the node). */
void budget_close(struct node *n);
/* A resume: the groups below s that still run arm their timers again, from
   their original start. */
void budget_resume(struct engine *e, struct eng_step *s);
/* Group g closes with *v and *explain: past its deadline it is at least
   WARN (FAIL for on_deadline fail), "took 34m, deadline 30m (…)". */
void budget_judge(struct engine *e, const struct node *g, enum rbc_verdict *v, char **explain);
/* "deadline 30m passed" (a new string). */
char *budget_text(const struct node *n);

/* vars.c */
char *vars_get(struct engine *e, const struct eng_step *s, const char *name);
char *vars_shown(struct engine *e, const struct eng_step *s, const char *name);
/*
 * How a value is spliced into the structured text around it, so that it
 * fills its slot and nothing more. A variable that starts the text is the
 * structure itself (a whole connection string, a base URL) and goes in as
 * it is; any other is quoted for where it stands (docs/runbook-format.md).
 */
enum vars_quote {
	VARS_PLAIN,  /* as it is: titles, paths, host names, text bodies */
	VARS_JSON,   /* inside a JSON string: escaped as JSON text */
	VARS_CONN,   /* a libpq connection string: a value quoted, a URI part percent-encoded */
	VARS_URL,    /* a URL: percent-encoded (all but RFC 3986 unreserved) */
	VARS_PROMQL, /* a PromQL query: escaped inside a string literal, a name or number outside */
};
bool vars_expand(struct engine *e, const struct eng_step *s, const char *text, enum vars_quote quote,
                 char **out, char **error);
char *vars_display(struct engine *e, const struct eng_step *s, const char *text);
void vars_env(struct engine *e, const struct eng_step *s, struct rb_kv *env);
bool vars_env_add_step(struct engine *e, const struct eng_step *s, struct rb_kv *env,
                       char **error);
void vars_capture(struct engine *e, const char *name, struct rbc_value *take);
/* A capture made by step s: kept inside the call around it (docs/runbook-format.md,
   "Calls"), else the run's. */
void vars_capture_in(struct engine *e, const struct eng_step *s, const char *name, struct rbc_value *take);
/* Sets name in call node n's own variables (a with value, a default). */
void vars_scope_set(struct node *n, const char *name, struct rbc_value *take);
/* The value of name in n's own variables (borrowed), or NULL. */
const struct capture *vars_scope_get(const struct node *n, const char *name);
/* Frees n's own variables. */
void vars_scope_free(struct node *n);
/* SEVERITY and SEVERITY_NAME from an incident event that sets the level. */
void vars_severity(struct engine *e, const struct cJSON *detail);
void vars_env_for_expr(struct engine *e, const struct eng_step *s, struct expr_env *env);
void vars_scratch_release(struct engine *e);
bool vars_is_secret(const struct engine *e, const struct eng_step *s, const char *name);

/*
 * sample.c: what the record keeps of a sample of step s — the fields its
 * expressions read, short texts, a bounded excerpt and digest of long ones
 * (masked), what was left out under "elided" — a new value, bounded
 * whatever the sample holds. The journal writes it; a watch keeps it for
 * its older samples.
 */
struct rbc_value *sample_record(struct engine *e, const struct eng_step *s,
                                const struct rbc_value *sample);

#endif

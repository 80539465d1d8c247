/*
 * engine.h — a run: walks step trees on the event loop and judges them.
 *
 * The engine owns the run state of every step (the loaded runbooks stay
 * immutable), schedules probes through probe/, applies repeat, retry,
 * timeout, when, confirm, capture, on_fail and watches, and reports what
 * happens as events. It knows nothing about screens: batch mode and the
 * console observe the same events and drive the same calls.
 *
 * Flow (docs/runbook-format.md, "How a run proceeds", is the user's view):
 * - engine_start runs every remaining step in document order; a group runs
 *   its children in order, or all at once when parallel (at most
 *   parallel_max at a time when set); on_demand steps are passed by. A step
 *   already finished (ticked ahead, an earlier pass) is not run again.
 * - The tree grows as the run goes: a loop (a group with foreach) has no
 *   children until it is reached, then one iteration per item (EXPANDED:
 *   observers see the new nodes from that event on; nodes are never freed
 *   before the engine). Its iterations run as branches, parallel at once,
 *   until more than max_failures failed: the rest end skipped. A call step
 *   is a group of its callee's steps from the start; its variables live on
 *   its node, its captures stay there but its exports (docs/runbook-format.md,
 *   "Loops", "Calls").
 * - A failure is a FAIL or ERROR verdict (UNKNOWN is not: nothing was
 *   disproved). Its on_fail decides: continue; stop ends the enclosing
 *   group, which then counts as failed and applies its own on_fail (at the
 *   top the run stops); goto:<id> continues at that step; run:<file> runs
 *   the included runbook. A jump to an on_demand step or an included
 *   runbook ends the run when that procedure finishes: there is no "after"
 *   of a procedure outside the normal flow.
 * - A group's verdict is the worst of its children's; a child cancelled (a
 *   stop, a watch that fired) makes it at least UNKNOWN: cut short is not
 *   passed. A cancelled step's own verdict is UNKNOWN.
 * - A watch starts when the flow reaches it and samples in the background;
 *   its on_fail fires when the violation has lasted fail_after, interrupting
 *   whatever runs for goto, run and stop. Watches end with the run (or after
 *   their repeat.for).
 * - Manual steps and confirmations wait for engine_answer when the engine is
 *   interactive (asks for engine_answer_ask, unless an option answered
 *   them: --var, --vars, --answers; a default under --assume done); otherwise they are answered by the assume / yes options or
 *   end UNKNOWN "needs operator". Nothing passes silently. A declined
 *   confirmation skips its step ("declined by NAME") and the flow that
 *   asked goes on after it, as after any skip.
 *
 * Threading: everything happens on the loop thread. Observers must not call
 * engine functions that change state from inside on_event (queue the work
 * instead); accessors and engine_mask are fine.
 */
#ifndef RBC_ENGINE_H
#define RBC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/error.h"
#include "rbc/expr.h"
#include "rbc/mask.h"
#include "rbc/probe.h"
#include "rbc/runbook.h"
#include "rbc/value.h"

/* Step states: X(ENUM, name). */
#define ENG_STATES(X)            \
	X(PENDING, "pending")    \
	X(RUNNING, "running")    \
	X(WAITING, "waiting")    \
	X(WATCHING, "watching")  \
	X(DONE, "done")          \
	X(SKIPPED, "skipped")    \
	X(CANCELLED, "cancelled")

enum eng_state {
#define X(e, name) ENG_##e,
	ENG_STATES(X)
#undef X
};
const char *eng_state_name(enum eng_state s);

/* What a WAITING step waits for. */
enum eng_wait { ENG_WAIT_NONE, ENG_WAIT_MANUAL, ENG_WAIT_CONFIRM, ENG_WAIT_ASK };

/* Events: X(ENUM, name). */
#define ENG_EVENTS(X)                      \
	X(RUN_STARTED, "run_started")      \
	X(STEP_STARTED, "step_started")    \
	X(RETRY, "retry")                  \
	X(SAMPLE, "sample")                \
	X(OUTPUT, "output")                \
	X(WAITING, "waiting")              \
	X(CONFIRMED, "confirmed")          \
	X(CAPTURE, "capture")              \
	X(STEP_FINISHED, "step_finished")  \
	X(WATCH_FIRED, "watch_fired")      \
	X(DEADLINE, "deadline")            \
	X(JUMP, "jump")                    \
	X(NOTE, "note")                    \
	X(INCIDENT, "incident")            \
	X(EXPANDED, "expanded")            \
	X(COMMAND, "command")              \
	X(RUN_FINISHED, "run_finished")

enum eng_event_type {
#define X(e, name) ENG_EV_##e,
	ENG_EVENTS(X)
#undef X
};
const char *eng_event_name(enum eng_event_type t);

/*
 * The run state of one node. Nodes mirror the runbooks: one node per
 * runbook given (a phase, def NULL), its steps below; included runbooks
 * (run:) follow as on-demand phases. Observers read, never write.
 */
struct eng_step {
	const struct rb_step *def;    /* NULL for a runbook (phase) node */
	const struct runbook *rb;     /* the runbook it belongs to */
	struct eng_step *parent;      /* NULL at the top */
	struct eng_step **children;
	size_t nchildren;
	size_t index;                 /* position among its parent's children */
	bool include;                 /* a phase for a runbook named by run: */

	enum eng_state state;
	enum eng_wait wait;           /* WAITING: for what */
	enum rbc_verdict verdict;     /* DONE */
	char *title;                  /* expanded and masked once reached */
	char *explain;                /* why the verdict / skip / cancel (masked) */
	char *wait_text;              /* WAITING: the manual instruction or the
	                                 confirm question (expanded, masked) */
	char *operator, *note;        /* manual answers */
	unsigned attempt;             /* 1-based; 0 before the first */
	struct rbc_value **samples;   /* the samples of the latest attempt (raw:
	                                 mask before showing, engine_mask); a
	                                 watch keeps its older ones as their
	                                 record (see SAMPLE below) */
	size_t nsamples, capsamples;
	size_t samples_dropped;       /* watches keep only the newest */
	char *spool_path;             /* full output of run/nagios steps */
	int64_t started, finished;    /* wall clock, ms since the epoch; 0: not yet */
	bool confirmed;
	void *ui;                     /* the observer's own (the console's per-step
	                                 state); the engine never touches it */
};

/* One event. Text fields are masked; pointers are borrowed for the call. */
struct eng_event {
	enum eng_event_type type;
	int64_t time;                 /* wall clock, ms since the epoch */
	struct eng_step *step;        /* NULL for run events */
	enum rbc_verdict verdict;     /* STEP_FINISHED, RETRY (the failed attempt),
	                                 SAMPLE (the sample's own), RUN_FINISHED */
	const char *text;             /* explanation, reason, note, wait text */
	const struct rbc_value *sample; /* SAMPLE: its record, what the journal keeps
	                                   of it (the fields the step's expressions
	                                   read, long texts cut with their size and
	                                   sha256, "elided"; docs/journal.md):
	                                   bounded, but mask before writing;
	                                   CAPTURE: the value, unless it is a secret */
	enum probe_stream stream;     /* OUTPUT */
	const char *data;             /* OUTPUT: masked bytes */
	size_t len;
	const char *name;             /* CAPTURE: variable name */
	const char *value;            /* CAPTURE: its text, masked */
	struct eng_step *target;      /* JUMP, WATCH_FIRED: where the flow goes (NULL
	                                 for stop and continue) */
	const char *by;               /* CONFIRMED, STEP_FINISHED of manual steps,
	                                 NOTE: the operator, or "--yes"/"--assume" */
	bool automatic;               /* CONFIRMED / answers given by options;
	                                 CAPTURE: a variable the run sets itself */
	bool stopped;                 /* STEP_FINISHED of a group: a child's on_fail
	                                 stop ended it; RUN_FINISHED: engine_stop did */
	/* DEADLINE: a group's or runbook's time budget ran out (text says it;
	   target: where on_deadline goto: sends the flow, else NULL) */
	const struct cJSON *detail;   /* INCIDENT, COMMAND: the event's fields
	                                 (rbc/incident.h), masked when written */
	bool run;                     /* the run's own flow moved (engine_start and the
	                                 branches of its parallel groups), not a step run
	                                 by hand or an answer given ahead */
	const char *const *items;     /* EXPANDED: a loop's items (raw: mask before
	                                 writing), one iteration each, the step's
	                                 children now */
	size_t nitems;
};

enum eng_assume { ENG_ASSUME_NONE, ENG_ASSUME_DONE, ENG_ASSUME_SKIP };

struct engine_opts {
	uv_loop_t *loop;
	struct runbook *const *runbooks; /* run in this order; borrowed */
	size_t nrunbooks;
	const struct rb_kv *vars;     /* --var / --vars: override runbook vars */
	const char *out_dir;          /* where step output is spooled (NULL: nowhere) */
	const char *operator;         /* who answers (default: the login name) */
	const char *approver;         /* --approver: answers approvals with --assume
	                                 done (must differ from the operator) */
	bool interactive;             /* an operator can answer waits */
	enum eng_assume assume;       /* answers manual steps when set */
	bool yes;                     /* answers confirmations yes */
	int64_t (*clock)(void *clock_ud); /* wall clock in ms (NULL: the real one) */
	void *clock_ud;               /* given back to clock */
	void (*on_event)(void *ud, const struct eng_event *ev);
	void *ud;
};

enum eng_answer { ENG_ANSWER_DONE, ENG_ANSWER_FAIL, ENG_ANSWER_SKIP, ENG_ANSWER_YES,
	              ENG_ANSWER_NO };

struct engine;

/*
 * A new engine over the runbooks (which must outlive it). Fails, filling
 * err, only on option problems (an unknown --var name is not one).
 */
struct engine *engine_new(const struct engine_opts *o, struct rbc_error *err);

/*
 * Frees the engine. Nothing may be running (engine_busy false: wait for
 * RUN_FINISHED, after engine_stop if need be). Timers are closed through
 * the loop: run it (UV_RUN_DEFAULT) afterwards until it has nothing left.
 */
void engine_free(struct engine *e);

/* The top nodes: the runbooks, then the included ones. */
struct eng_step *const *engine_nodes(const struct engine *e, size_t *n);
/* Finds a node by step id ("1.2" derived ids too), in the given runbooks first. */
struct eng_step *engine_find(const struct engine *e, const char *id);

/* Runs every remaining step (the console's `a`, batch mode). No-op while it runs. */
void engine_start(struct engine *e);
/* Runs one step or group by hand (Enter / r): again if it already ran. */
void engine_run_step(struct engine *e, struct eng_step *s);
/*
 * Answers a waiting step, or marks a manual step that has not been reached
 * (DONE, FAIL, SKIP). note (the skip reason, a remark) may be NULL. False
 * when the answer does not apply to the step in its state. A running wait
 * (docs/runbook-format.md, "Waiting") takes SKIP: it ends early, DONE PASS
 * "ended early by NAME: REASON", by and note recorded.
 */
bool engine_answer(struct engine *e, struct eng_step *s, enum eng_answer a,
                   const char *note, const char *by);
/*
 * Answers a waiting ask step (docs/runbook-format.md, "Decisions") with
 * value. An answer that breaks the ask's rule is refused: false, *why the
 * rule (caller frees; the answer masked when secret), and the step keeps
 * waiting. Accepted: the ask's variable is set for the rest of the run, a
 * CAPTURE records who answered what (masked when secret), the step ends
 * DONE PASS "answered VALUE by NAME", and a choice's goto is followed (a
 * JUMP). False with *why NULL when s is not an ask waiting.
 */
bool engine_answer_ask(struct engine *e, struct eng_step *s, const char *value, const char *by,
                       char **why);
/* A running wait's time left in ms (the loop's clock, not RBC_TEST_NOW);
   -1 when s is not a wait counting down. */
int64_t engine_time_left(const struct engine *e, const struct eng_step *s);
/* Records a note on a step (NULL: on the run); a manual step not answered
   yet also keeps it as the note of its answer. False, and nothing recorded,
   once the record is lost (engine_record_lost). */
bool engine_note(struct engine *e, struct eng_step *s, const char *text, const char *by);
/* Records an incident event (rbc/incident.h: what an action returned;
   borrowed): journaled like every event, then passed to the observer. */
void engine_incident(struct engine *e, const struct cJSON *detail);
/* Records a joiner's command and what became of it (docs/team.md,
   "Joining a run": the fields of the command event; borrowed): journaled
   like every event, then passed to the observer. Changes nothing. */
void engine_command(struct engine *e, const struct cJSON *detail);
/*
 * Stops the run: cancels every probe and wait, ends watches. RUN_FINISHED
 * follows once everything has let go (after the probes' cancellation), with
 * stopped set; its verdict is at least UNKNOWN when steps were cut short or
 * not reached: a run stopped before its end passed nothing.
 */
void engine_stop(struct engine *e, const char *reason);

/*
 * Write-ahead. With a record set (the journal sets one: journal_attach), a
 * step's action — its probe or command, a watch's sampling — starts only
 * once every event reported before it is in the record, so nothing runs
 * that the record does not say started. mark(ud) names what has been
 * reported so far (0: all of it is recorded already); the record calls
 * engine_recorded as its lines are written, with the mark reached, and
 * engine_record_lost when a line cannot be: nothing waiting starts, nothing
 * new starts (steps, answers), and the run stops with why as its reason.
 * Neither may be called from on_event.
 */
void engine_set_record(struct engine *e, uint64_t (*mark)(void *ud), void *ud);
void engine_recorded(struct engine *e, uint64_t mark);
void engine_record_lost(struct engine *e, const char *why);

/* True while anything runs or waits to be delivered (probes, timers, flows). */
bool engine_busy(const struct engine *e);
/* Probes running right now. */
size_t engine_jobs(const struct engine *e);
/* The run's verdict so far: the worst of the finished steps (PASS when none). */
enum rbc_verdict engine_verdict(const struct engine *e);
/* Counts finished steps by verdict (probe and manual steps, not groups). */
struct eng_counts {
	size_t total, pending, running, done, skipped, cancelled;
	size_t by_verdict[5];
};
void engine_counts(const struct engine *e, struct eng_counts *c);
/* The same, each step counted in the state view(step) says (an observer's
   view of it, e.g. the console's: an end not yet on disk is not shown). */
void engine_counts_as(const struct engine *e, enum eng_state (*view)(const struct eng_step *),
                      struct eng_counts *c);

/*
 * Resuming a run from its record. Before anything runs, each event of the
 * journal is given back in order to engine_restore, which puts the steps in
 * the state that event left them in (verdicts, samples, captures, answers,
 * notes, jumps) without running anything or reporting events. Then
 * engine_restore_end settles what was cut short: a step that was running or
 * waiting goes back to pending, and the next engine_start continues where
 * the run's flow was — the step it was in runs again, or the on_fail of the
 * step that had just finished acts — instead of at the top. Watches that
 * were sampling start again with it.
 */
struct eng_restore {
	enum eng_event_type type;
	struct eng_step *step, *target; /* target: JUMP, WATCH_FIRED */
	int64_t time;                 /* the event's, ms since the epoch */
	int64_t started;              /* STEP_FINISHED: the step's start (0: time) */
	enum eng_state state;         /* STEP_FINISHED */
	enum rbc_verdict verdict;
	enum eng_wait wait;           /* WAITING */
	unsigned attempt;
	const char *title, *text, *by, *note, *output, *name;
	struct rbc_value *value;      /* SAMPLE, CAPTURE: taken (NULL: none) */
	const struct cJSON *detail;   /* INCIDENT, EXPANDED: the journal's line (borrowed) */
	bool stopped, run;
};
/* False when the event cannot be applied as recorded: a CAPTURE of a secret
   (its value is never written; the step that captured it must run again). */
bool engine_restore(struct engine *e, const struct eng_restore *r);
void engine_restore_end(struct engine *e);
/* Where engine_start will continue (NULL: at the top); *after: the step
   finished and its on_fail acts next, else it runs again. */
struct eng_step *engine_resume_point(const struct engine *e, bool *after);
/* A resumed step whose end the record lacks, settled without running it
   (engine/unfinished.c): DONE or SKIPPED, PASS, explain and note recorded
   with by; the run goes on after it. False when s is not pending. */
bool engine_settle_unfinished(struct engine *e, struct eng_step *s, enum eng_state st, int64_t started,
                              const char *explain, const char *note, const char *by);

/*
 * Time budgets (docs/runbook-format.md, "Time budgets"). The budget of s (a
 * group's or, for a phase, its runbook's), or NULL when it has none.
 */
const struct rb_budget *engine_budget(const struct eng_step *s);
/* Whether s has a budget and runs: *left_ms is the time left by the run's
   clock (negative: over), 0 or less once the deadline has passed. */
bool engine_budget_left(const struct engine *e, const struct eng_step *s, int64_t *left_ms);
/* Whether the deadline of s passed while it ran (DEADLINE was reported). */
bool engine_budget_passed(const struct eng_step *s);

/*
 * Approvals (docs/runbook-format.md, "Owners and approvals"): a manual step
 * with "approval" is answered DONE only by someone other than the run's
 * driver. engine_answer refuses the driver's own name for it; this says
 * why (a static string) or NULL when by may approve s.
 */
const char *engine_approval_refused(const struct engine *e, const struct eng_step *s, const char *by);

/* Who answers: --operator, else the login name. */
const char *engine_operator(const struct engine *e);

/* The run's secret values; text to show goes through engine_mask. */
const struct mask *engine_secrets(const struct engine *e);
/* A masked copy of s (NULL gives NULL). */
char *engine_mask(const struct engine *e, const char *s);

/* Secrets shorter than this many characters are warned about at start. */
#define ENGINE_SECRET_MIN 4
/*
 * What an operator must be told before the run starts (a new string), or
 * NULL: the secrets shorter than ENGINE_SECRET_MIN characters, by name.
 * Masking one hides those characters wherever they stand in outputs and
 * explanations, and it is easy to guess.
 */
char *engine_secret_warning(const struct engine *e);

/*
 * The text of a variable as the step would see it (captures, --var, the
 * runbook's vars, secrets from the environment): a new string, NULL when
 * unset. Secrets come back raw: mask before showing.
 */
char *engine_var(const struct engine *e, const struct eng_step *s, const char *name);
/* The same as it may be shown: secrets masked (a captured window of output
   at its cut ends too). NULL when unset. */
char *engine_var_shown(const struct engine *e, const struct eng_step *s, const char *name);
/* text with the ${NAME} known now expanded (the others left as written),
   secrets masked: a new string (NULL text: NULL). */
char *engine_text_shown(const struct engine *e, const struct eng_step *s, const char *text);

#endif

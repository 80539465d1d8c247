/*
 * runbook.h — the step tree, and loading it from a runbook file.
 *
 * runbook_load reads, parses and validates a runbook completely before
 * anything can run: it reports every problem it finds (errors and warnings)
 * into a struct rbc_diags and returns a runbook only when there is no error.
 * A loaded runbook is immutable; the engine keeps run state elsewhere.
 */
#ifndef RBC_RUNBOOK_H
#define RBC_RUNBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rbc/error.h"
#include "rbc/expr.h"

/* Step actions: X(ENUM, json key, description for summaries). */
#define RB_ACTIONS(X)                                  \
	X(GROUP, "steps", "group")                     \
	X(MANUAL, "manual", "manual")                  \
	X(RUN, "run", "command")                       \
	X(HTTP, "http", "http")                        \
	X(SQL, "sql", "sql")                           \
	X(DNS, "dns", "dns")                           \
	X(TCP, "tcp", "tcp")                           \
	X(PROMETHEUS, "prometheus", "prometheus")      \
	X(NAGIOS, "nagios", "nagios")                  \
	X(WAIT, "wait", "wait")                        \
	X(ASK, "ask", "question")                        \
	X(CALL, "call", "call")

enum rb_action {
#define X(e, key, desc) RB_##e,
	RB_ACTIONS(X)
#undef X
	RB_ACTION_COUNT
};

/* Runbook kinds: X(ENUM, json value). */
#define RB_KINDS(X)                  \
	X(PRE_DEPLOY, "pre-deploy")  \
	X(DEPLOY, "deploy")          \
	X(POST_DEPLOY, "post-deploy") \
	X(INCIDENT, "incident")      \
	X(OTHER, "other")

enum rb_kind {
#define X(e, name) RB_KIND_##e,
	RB_KINDS(X)
#undef X
	RB_KIND_COUNT
};

const char *rb_action_key(enum rb_action a);   /* "http" */
const char *rb_action_desc(enum rb_action a);  /* "http", "command", … */
const char *rb_kind_name(enum rb_kind k);      /* "post-deploy" */

/*
 * The fields of a probe's sample, per action: what expect, warn, capture and
 * repeat.until can read. X(name, actions), actions a mask of RB_FIELD_OF()
 * bits. This is the one list: the probes fill exactly these fields (a sample
 * that ran, without `error`, has nothing else; test_sample_fields.c holds
 * every probe to it), and the loader refuses an expression that reads any
 * other. Kind-specific fields first, in the order messages list them.
 */
#define RB_FIELD_OF(a) (1u << RB_##a)
#define RB_FIELDS_CMD (RB_FIELD_OF(RUN) | RB_FIELD_OF(NAGIOS))
#define RB_FIELDS_PROBE (RB_FIELDS_CMD | RB_FIELD_OF(HTTP) | RB_FIELD_OF(SQL) | RB_FIELD_OF(DNS) | \
                         RB_FIELD_OF(TCP) | RB_FIELD_OF(PROMETHEUS))
#define RB_FIELDS(X)                                              \
	X("exit", RB_FIELDS_CMD)                                  \
	X("stdout", RB_FIELDS_CMD)                                \
	X("stderr", RB_FIELDS_CMD)                                \
	X("signal", RB_FIELDS_CMD)                                \
	X("stdout_bytes", RB_FIELDS_CMD)                          \
	X("stderr_bytes", RB_FIELDS_CMD)                          \
	X("stdout_truncated", RB_FIELDS_CMD)                      \
	X("stderr_truncated", RB_FIELDS_CMD)                      \
	X("spool_error", RB_FIELDS_CMD)                           \
	X("background", RB_FIELDS_CMD)                            \
	X("state", RB_FIELD_OF(NAGIOS))                           \
	X("state_name", RB_FIELD_OF(NAGIOS))                      \
	X("output", RB_FIELD_OF(NAGIOS))                          \
	X("perf", RB_FIELD_OF(NAGIOS))                            \
	X("perf_warn", RB_FIELD_OF(NAGIOS))                       \
	X("perf_crit", RB_FIELD_OF(NAGIOS))                       \
	X("status", RB_FIELD_OF(HTTP))                            \
	X("body", RB_FIELD_OF(HTTP))                              \
	X("json", RB_FIELD_OF(HTTP))                              \
	X("header", RB_FIELD_OF(HTTP))                            \
	X("size", RB_FIELD_OF(HTTP))                              \
	X("url", RB_FIELD_OF(HTTP))                               \
	X("rows", RB_FIELD_OF(SQL))                               \
	X("value", RB_FIELD_OF(SQL) | RB_FIELD_OF(PROMETHEUS))    \
	X("row", RB_FIELD_OF(SQL))                                \
	X("rows_data", RB_FIELD_OF(SQL))                          \
	X("columns", RB_FIELD_OF(SQL))                            \
	X("values", RB_FIELD_OF(PROMETHEUS))                      \
	X("series", RB_FIELD_OF(PROMETHEUS))                      \
	X("resultType", RB_FIELD_OF(PROMETHEUS))                  \
	X("addrs", RB_FIELD_OF(DNS))                              \
	X("addr", RB_FIELD_OF(TCP))                               \
	X("connected", RB_FIELD_OF(TCP))                          \
	X("truncated", RB_FIELD_OF(HTTP) | RB_FIELD_OF(SQL))      \
	X("time", RB_FIELDS_PROBE | RB_FIELD_OF(WAIT))            \
	X("error", RB_FIELDS_PROBE | RB_FIELD_OF(WAIT))

/*
 * Variables the run sets itself (docs/runbook-format.md, "Variables the run
 * sets"): the failed step's in a procedure reached by on_fail or a watch, the
 * severity in a declared incident. Undefined until then, never warned about
 * as undefined by rbc check.
 */
#define RB_RUN_VARS(X)   \
	X("FAILED_STEP")   \
	X("FAILED_TITLE")  \
	X("FAILED_REASON") \
	X("SEVERITY")      \
	X("SEVERITY_NAME")

/* True when a's samples have the field name (false for groups and manual steps). */
bool rb_field_known(enum rb_action a, const char *name);
/* The field of a's samples nearest to name, for "did you mean", or NULL. */
const char *rb_field_suggest(enum rb_action a, const char *name);
/* a's fields as "exit, stdout, …, time, error" (caller frees). */
char *rb_field_list(enum rb_action a);

/* Limits a hostile file cannot get past. */
#define RB_MAX_STEPS 1000000
#define RB_MAX_DEPTH 60
#define RB_MAX_ID 64

/* An ordered list of name → text pairs (vars, headers, env). */
struct rb_kv {
	char **keys;
	char **vals;
	size_t n;
};
const char *rb_kv_get(const struct rb_kv *kv, const char *key);
/* True when s[0..n) is a variable name: [A-Za-z_][A-Za-z0-9_]*, 128 at most. */
bool rb_var_name_ok(const char *s, size_t n);
/* Sets key to a copy of val: replaces its value, or appends the pair. */
void rb_kv_set(struct rb_kv *kv, const char *key, const char *val);
/* Frees the pairs and zeroes kv. */
void rb_kv_free(struct rb_kv *kv);

/* The types a declared variable may have (docs/runbook-format.md, "Typed
   variables"): X(ENUM, name in "type"). */
#define RB_VAR_TYPES(X)            \
	X(TEXT, "text")            \
	X(NUMBER, "number")        \
	X(DURATION, "duration")    \
	X(YESNO, "yesno")          \
	X(LIST, "list")

enum rb_var_type {
#define X(e, name) RB_VAR_##e,
	RB_VAR_TYPES(X)
#undef X
	RB_VAR_TYPE_COUNT
};

/* A `vars` entry written as an object: the rules its value must keep. Its
   default, when it has one, is in the runbook's vars like any other. */
struct rb_vardecl {
	char *name;
	enum rb_var_type type;
	char **choices;          /* as text; nchoices 0: any value */
	size_t nchoices;
	bool required;           /* a run needs a value given (no default) */
	char *pattern;           /* NULL: none; a list's items each match it */
	void *re;                /* pattern compiled (PCRE2) */
	char *min, *max;         /* as written ("1", "30s"); NULL: no bound */
	double min_v, max_v;     /* number: the value; duration: milliseconds */
	char *description;
	char *path;              /* "vars.REPLICAS", for messages */
	unsigned line, col;      /* where the declaration starts */
};

const char *rb_var_type_name(enum rb_var_type t);  /* "number" */
/* The type named name ("number"); false when there is none. */
bool rb_var_type_parse(const char *name, enum rb_var_type *t);
/* The known type name nearest to name, for "did you mean", or NULL. */
const char *rb_var_type_suggest(const char *name);
/* The choice of decl nearest to value, for "did you mean", or NULL. */
const char *rb_var_choice_suggest(const struct rb_vardecl *decl, const char *value);
/* Compiles decl->pattern into decl->re; false with *why (caller frees). */
bool rb_var_compile(struct rb_vardecl *decl, char **why);
/* Frees what decl holds (not decl itself). */
void rb_vardecl_free(struct rb_vardecl *decl);

/*
 * Checks value against decl's type, choices, pattern, min and max. Returns
 * NULL when it keeps them, else the rule it breaks, said in full ("not one of
 * the choices blue-green, rolling (did you mean \"blue-green\"?)"; caller
 * frees).
 */
char *rb_var_check(const struct rb_vardecl *decl, const char *value);

/* A choice of an ask: its value, the label shown for it (NULL: the value),
   the step a choice sends the run to (NULL: on, in order). */
struct rb_ask_choice {
	char *value, *label, *go;
};

/*
 * An ask step (docs/runbook-format.md, "Decisions"): the operator answers,
 * the answer is the variable decl.name for the rest of the run. decl holds
 * the rule the answer keeps (its choices are the choices' values, in order).
 */
struct rb_ask {
	struct rb_vardecl decl;
	char *prompt;            /* NULL: the step's title */
	char *dflt;              /* the default answer (NULL: none) */
	bool secret;             /* typed without echo, masked everywhere */
	struct rb_ask_choice *choices; /* decl.nchoices of them */
	size_t choices_len;      /* allocated (the choices written) */
};

struct runbook;

/* Frees an ask and what it holds (NULL is fine). */
void rb_ask_free(struct rb_ask *a);
/* The choice of a whose value is value, or NULL. */
const struct rb_ask_choice *rb_ask_choice_of(const struct rb_ask *a, const char *value);
/* Checks an answer against a's rule: NULL when it keeps it, else the rule
   it breaks in full, the answer masked when a is secret (caller frees). */
char *rb_ask_check(const struct rb_ask *a, const char *value);
/* a's rule in words for a prompt: "a number, at least 1" (caller frees). */
char *rb_ask_rule(const struct rb_ask *a);
/* The same for a declared variable's rule. */
char *rb_var_rule(const struct rb_vardecl *d);
/* True when a step of rb (or of its includes) asks for name with secret set. */
bool runbook_ask_secret(const struct runbook *rb, const char *name);

/* The most of a response body any step keeps in memory (max_body above it
   is refused when the runbook loads). */
#define RB_MAX_BODY ((int64_t)64 << 20)

enum rb_repeat_mode { RB_REPEAT_NONE, RB_REPEAT_COUNT, RB_REPEAT_FOR, RB_REPEAT_UNTIL,
	                  RB_REPEAT_CONSECUTIVE, RB_REPEAT_WATCH };

struct rb_repeat {
	enum rb_repeat_mode mode;
	long count;              /* COUNT: samples; CONSECUTIVE: passes needed */
	int64_t every_ms;
	int64_t for_ms;          /* FOR */
	int64_t within_ms;       /* UNTIL, CONSECUTIVE */
	struct expr *until;      /* UNTIL */
	int64_t fail_after_ms;   /* watches: 0 when not by duration */
	long fail_after_count;   /* watches: 0 when not by count */
};

enum rb_on_fail { RB_ON_FAIL_STOP, RB_ON_FAIL_CONTINUE, RB_ON_FAIL_GOTO, RB_ON_FAIL_RUN };
/* What a declined confirmation does: the step is skipped, then the run goes
   on (SKIP), stops (STOP) or goes to a step (GOTO). */
enum rb_on_decline { RB_ON_DECLINE_SKIP, RB_ON_DECLINE_STOP, RB_ON_DECLINE_GOTO };

/* What a passed deadline does (docs/runbook-format.md, "Time budgets"): the
   group or runbook is at least WARN when it ends (WARN), its running steps
   are cancelled and it FAILs (FAIL), or the flow goes to a step (GOTO). */
enum rb_on_deadline { RB_ON_DEADLINE_WARN, RB_ON_DEADLINE_FAIL, RB_ON_DEADLINE_GOTO };
const char *rb_on_deadline_name(enum rb_on_deadline d); /* "warn" */

/* A time budget, counted from the first step's start: a group's or a runbook's. */
struct rb_budget {
	int64_t deadline_ms;     /* 0: none */
	enum rb_on_deadline on_deadline;
	char *target;            /* GOTO: step id */
};

/* The keys a step sets itself, which a group's defaults do not override. */
enum { RB_OWN_ON_FAIL = 1, RB_OWN_TIMEOUT = 2, RB_OWN_RETRY = 4, RB_OWN_OWNER = 8 };

struct rb_capture {
	char *name;
	struct expr *expr;
};

/* The most iterations a loop has (docs/runbook-format.md, "Loops"). */
#define RB_MAX_ITERATIONS 10000

/* A group's foreach (docs/runbook-format.md, "Loops"): its steps run once
   per item, the item in var. */
struct rb_foreach {
	char *var;
	char **items;            /* a list written in the runbook, as text */
	size_t nitems;
	char *in;                /* else the text giving it ("${NODES}") */
	unsigned line, col;      /* where "in" is */
};
/* Frees f and what it holds. */
void rb_foreach_free(struct rb_foreach *f);

/* A call step (docs/runbook-format.md, "Calls"): a runbook file, or an
   on-demand group of the same runbook, run under the step. */
struct rb_call {
	char *target;            /* as written: "rollback-db.json" or "#group-id" */
	struct runbook *runbook; /* a file: loaded (borrowed from the top runbook's
	                            includes) */
	struct rb_step *group;   /* "#id": the group */
	struct rb_kv with;       /* the callee's variables: NAME → text with ${VARS} */
	char **exports;          /* captures of the callee kept after it */
	size_t nexports;
	const cJSON *node;       /* the step's object while the runbook loads */
};
/* Frees c and what it holds. */
void rb_call_free(struct rb_call *c);
/* The steps a call runs: the file's, or the group's. */
struct rb_step *const *rb_call_steps(const struct rb_call *c, size_t *n);
/*
 * The items of a list given as text: a JSON array (of texts and numbers),
 * else comma-separated when there is a comma, else whitespace-separated;
 * empty items left out. Returns the count (*items the caller's, each
 * freed), or -1 with *why (caller frees) for a JSON array that holds
 * something else.
 */
long rb_list_split(const char *text, char ***items, char **why);

/* A link of a runbook or a step (docs/runbook-format.md, "Descriptions and
   links"): as written, ${NAME} unexpanded; a literal url is http(s). */
struct rb_link {
	char *title, *url;
};
/* Frees one link's text, or n links and the array. */
void rb_links_free_one(struct rb_link *l);
void rb_links_free(struct rb_link *links, size_t n);
/* Whether url starts with http:// or https:// (any case). */
bool prose_url_scheme_ok(const char *url);
/* Whether url has no blank, control character or DEL. */
bool prose_url_chars_ok(const char *url);

struct rb_step {
	char *id;                /* explicit, or derived from the position ("1.2") */
	bool id_derived;
	const char *base_id;     /* a copy the run made (a loop's iteration, a
	                            call's callee): the id as written; else NULL */
	char *number;            /* display number, "1.2" */
	char *title;             /* unexpanded; ${NAME} still in it */
	char *note;
	char *description;       /* shown in the detail pane; ${NAME} unexpanded */
	struct rb_link *links;
	size_t nlinks;
	char *path;              /* JSON path, "steps[0].steps[1]" */
	unsigned line, col;      /* where the step object starts */
	enum rb_action action;

	struct rb_step **children; /* GROUP */
	size_t nchildren;
	bool parallel;           /* children (a loop's iterations) at once */
	long parallel_max;       /* parallel: how many at once (0: all) */
	struct rb_foreach *foreach; /* GROUP: repeated per item (NULL: not a loop) */
	struct rb_call *call;    /* CALL: what it runs */
	long max_failures;       /* foreach: failed iterations tolerated */
	char *manual;            /* MANUAL: the instruction */
	struct rb_ask *ask;      /* ASK: the question and its rule */
	void *action_data;       /* a probe kind's own (its probe_ops load and
	                            free_data, probe.h) */

	/* Probe steps carry their effective values (defaults applied); 0 on
	   groups and manual steps. timeout_ms 0: no timeout. */
	int64_t timeout_ms;
	int retry_attempts;      /* total tries, ≥ 1 */
	int64_t retry_delay_ms;  /* between tries, 1 s unless given */
	struct rb_repeat repeat;
	struct expr *expect, *warn, *when;
	struct rb_capture *captures;
	size_t ncaptures;
	char *confirm;
	enum rb_on_fail on_fail;
	char *on_fail_target;    /* GOTO: step id; RUN: path as written */
	enum rb_on_decline on_decline;
	char *on_decline_target; /* GOTO: step id */
	struct runbook *on_fail_runbook; /* RUN: the loaded runbook (borrowed from
	                                    the top runbook's includes) */
	bool watch, on_demand;
	struct rb_budget budget; /* groups: "deadline", "on_deadline" */
	char *owner;             /* a role id of its runbook (NULL: none) */
	unsigned owner_line, owner_col; /* where the owner is written */
	bool approval;           /* manual: answered by someone other than the run's driver */
	struct rb_step *defaults; /* groups: a step of the "defaults" keys alone, which
	                             its descendants take unless they set their own */
	unsigned own_keys;       /* RB_OWN_*: what the step sets itself */

	struct rb_step *parent;  /* NULL for top-level steps */
	struct runbook *runbook; /* the runbook it belongs to */
};

struct rb_severity {
	char *id, *name, *description;
	char *pagerduty_severity; /* critical, error, warning or info; NULL: by position */
	int64_t restore_ms, rpo_ms, update_every_ms; /* 0: not given */
	char **contacts;
	size_t ncontacts;
	struct rb_step **steps;
	size_t nsteps;
};

struct rb_role {
	char *id, *name, *description;
};

/* A repeat duration written with ${NAME}: resolved from the variables when
   the runbook loads (its own vars) and again when a run starts (--var). */
struct rb_vduration {
	int64_t *ms;             /* the field it sets */
	char *text;              /* as written, "${WATCH_WINDOW}" */
	char *path;              /* JSON path, for messages */
	unsigned line, col;      /* where the value is */
	bool positive;           /* must be greater than 0 (every duration here is) */
};

struct runbook {
	char *file;              /* as given */
	char *dir;               /* its directory, for run: and cwd */
	char *id, *title, *description;
	struct rb_link *links;   /* shown with the description */
	size_t nlinks;
	char *log_version;       /* "log": what fills the deployment log's Version */
	char *log_environment;   /* …and Environment (${NAME} unexpanded; NULL: not given) */
	bool log_production;     /* "log": the run changes production (the console says so loudly) */
	enum rb_kind kind;
	struct rb_kv vars;
	struct rb_vardecl *vardecls; /* the vars written as objects, in order */
	size_t nvardecls;
	char **secrets;
	size_t nsecrets;
	int64_t default_timeout_ms;
	int default_retry_attempts;
	int64_t default_retry_delay_ms;
	struct rb_step **steps;  /* top level */
	size_t nsteps;
	size_t total_steps;      /* every step, groups and severity procedures included */
	struct rb_severity *severities;
	size_t nseverities;
	struct rb_role *roles;
	size_t nroles;
	int64_t update_every_ms;
	char **exit_criteria;
	size_t nexit_criteria;
	/* Runbooks named by run: anywhere below this one, each loaded once; owned
	   by the runbook runbook_load returned, empty in the others. */
	struct runbook **includes;
	size_t nincludes;
	bool run_target;         /* named by a run: (not only by a call) */
	struct rb_vduration *vdurations;
	size_t nvdurations;
	struct rb_budget budget; /* the runbook's own "deadline" */
};

/*
 * Loads and validates the runbook at path, and the runbooks its on_fail
 * "run:" steps name (recursively, refusing cycles). Problems go to d, all of
 * them; returns NULL when there is any error (warnings alone do not stop it).
 */
struct runbook *runbook_load(const char *path, struct rbc_diags *d);

/* The same from a buffer; file names it in messages and anchors run: paths. */
struct runbook *runbook_load_buffer(const char *file, const char *buf, size_t len,
                                    struct rbc_diags *d);
void runbook_free(struct runbook *rb);

/*
 * Resolves the repeat durations written with ${NAME} in rb and its includes:
 * a name is looked up in given first (the run's --var / --vars), then in the
 * runbook's own vars. Problems go to d as FILE:LINE:COL errors; returns false
 * when there is any.
 */
bool runbook_resolve_durations(struct runbook *rb, const struct rb_kv *given,
                               struct rbc_diags *d);

/*
 * Checks the values a run of rb (and its includes) would have against their
 * declarations: given (--var, --vars) first, else the default. A value that
 * breaks its rule, or a required variable without one, goes to d as an error
 * at the declaration, naming the variable and the rule; returns false when
 * there is any. Nothing has run yet when this is called.
 */
bool runbook_check_values(const struct runbook *rb, const struct rb_kv *given,
                          struct rbc_diags *d);

/* The same for the answers given to rb's (and its includes') ask steps
   alone (docs/runbook-format.md, "Decisions"). */
bool runbook_check_answers(const struct runbook *rb, const struct rb_kv *given, struct rbc_diags *d);

/* The declaration of name in rb, or NULL (not declared as an object). */
const struct rb_vardecl *runbook_vardecl(const struct runbook *rb, const char *name);

/* Finds a step by id anywhere in rb (severity procedures included). */
struct rb_step *runbook_find(const struct runbook *rb, const char *id);

/* The role id in rb's roles, or NULL. */
const struct rb_role *runbook_role(const struct runbook *rb, const char *id);

/* Counts steps by action (groups included), for summaries. */
void runbook_count(const struct runbook *rb, size_t counts[RB_ACTION_COUNT]);

#endif

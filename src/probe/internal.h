/*
 * internal.h — the probe kinds, one struct probe_ops each, for the table in
 * probe.c (and for the probes' own tests).
 */
#ifndef RBC_PROBE_INTERNAL_H
#define RBC_PROBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbc/probe.h"

extern const struct probe_ops probe_run_ops;        /* RB_RUN, cmd.c */
extern const struct probe_ops probe_nagios_ops;     /* RB_NAGIOS, cmd.c */
extern const struct probe_ops probe_http_ops;       /* RB_HTTP, http.c */
extern const struct probe_ops probe_prometheus_ops; /* RB_PROMETHEUS, prom.c */
extern const struct probe_ops probe_dns_ops;        /* RB_DNS, net.c */
extern const struct probe_ops probe_tcp_ops;        /* RB_TCP, net.c */
extern const struct probe_ops probe_sql_ops;        /* RB_SQL, sql.c */
extern const struct probe_ops probe_wait_ops;       /* RB_WAIT, wait.c */

/* What a step of each kind holds (rb_step.action_data), as its load read it. */

struct probe_sql_step {
	char *conn;          /* NULL: libpq's environment defaults */
	char *query;
	char **params;       /* NULL entries are SQL NULL */
	size_t nparams;
	bool write;
	long max_rows;       /* 0: the default */
};

struct probe_cmd_step {  /* run and nagios */
	char *command;
	char *cwd;           /* NULL: the runbook's directory */
	struct rb_kv env;    /* the step's own variables, on top of the run's */
	char *stdin_text;    /* "stdin": fed to the command (${NAME} unexpanded; NULL: none) */
	bool tty;            /* "tty": run with the terminal (run only) */
};

struct probe_dns_step {
	char *name;
	char *type;          /* "A", "AAAA" or "any" */
};

struct probe_tcp_step {
	char *host;
	int port;
};

struct probe_wait_step {
	char *text;          /* as written: "10m" or "${PAUSE}" */
	int64_t ms;          /* a literal duration; 0: text has ${NAME} */
};

struct probe_prom_step {
	char *url;
	char *query;
};

#endif

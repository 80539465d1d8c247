/*
 * runlog.c — the deployment log's Version and Environment as the runbooks'
 * "log" key declares them (runlog.h): the template filling shared by the
 * exports, which read the variables from the record, and by a live view of
 * the run, which reads them from the engine.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/engine.h"
#include "rbc/runbook.h"
#include "rbc/runlog.h"
#include "rbc/util.h"

/* How deep a value built from others is filled in (a loop stops there). */
#define RUNLOG_DEPTH 8

/* tmpl with every ${NAME} filled in from runbook i's variables (a new
   string), NULL when one has no value; a value that is built from others
   in turn (a runbook's "VERSION": "${BUILD}" and a capture of BUILD) is
   filled in too, down to RUNLOG_DEPTH. */
static char *runlog_fill(const char *tmpl, size_t i, runlog_var_fn *var, void *ud, int depth)
{
	struct strbuf sb = {0};
	const char *p = tmpl, *d;
	while ((d = strstr(p, "${"))) {
		const char *end = strchr(d + 2, '}');
		if (!end)
			break;
		sb_add(&sb, p, (size_t)(d - p));
		char *name = xstrndup(d + 2, (size_t)(end - d - 2));
		char *v = var(ud, i, name);
		free(name);
		bool built = v && strstr(v, "${");
		char *inner = built && depth < RUNLOG_DEPTH ? runlog_fill(v, i, var, ud, depth + 1) : NULL;
		if (!v || (built && !inner)) {
			free(v);
			free(inner);
			sb_free(&sb);
			return NULL;
		}
		sb_adds(&sb, inner ? inner : v);
		free(inner);
		free(v);
		p = end + 1;
	}
	sb_adds(&sb, p);
	return sb_take(&sb);
}

/* The last declared template that fills in whole and not empty (runlog.h). */
char *runlog_field(const char *const *tmpls, size_t n, runlog_var_fn *var, void *ud)
{
	char *last = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!tmpls[i])
			continue;
		char *v = runlog_fill(tmpls[i], i, var, ud, 0);
		if (v && *v) {
			free(last);
			last = v;
		} else {
			free(v);
		}
	}
	return last;
}

/* A variable as the top node of runbook i sees it (runlog_var_fn over an
   engine's top nodes). */
static char *runlog_engine_var(void *ud, size_t i, const char *name)
{
	const struct engine *e = ud;
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	return i < n ? engine_var(e, tops[i], name) : NULL;
}

/* runlog_field over the engine's runbooks' "log" environments (runlog.h). */
char *runlog_environment(const struct engine *e, const struct eng_step *only)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	const char **tmpls = xcalloc(n ? n : 1, sizeof *tmpls);
	for (size_t i = 0; i < n; i++)
		if (!only || tops[i] == only)
			tmpls[i] = tops[i]->rb ? tops[i]->rb->log_environment : NULL;
	char *env = runlog_field(tmpls, n, runlog_engine_var, (void *)e);
	free(tmpls);
	return env;
}

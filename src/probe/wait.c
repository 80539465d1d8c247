/*
 * wait.c — the wait action: the step lasts a given time, then passes
 * (docs/runbook-format.md, "Waiting").
 *
 * The duration is a string ("10m"), or ${NAME} text expanded when the step
 * runs. A uv timer counts it; nothing blocks the loop. The step's timeout
 * does not apply: the duration is the wait's own bound. The sample is
 * core.h's (time, and error when cancelled); the operator ending a wait
 * early is the engine's (engine_answer), which cancels the probe.
 */
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core.h"
#include "internal.h"
#include "rbc/probe.h"
#include "rbc/units.h"
#include "rbc/util.h"

struct probe {
	struct probe_core core;       /* first: the shared life cycle */
	uv_timer_t wait;              /* the duration */
	bool wait_open;               /* a hold on the core */
};

/* Frees a wait probe, once the core is done with it. */
static void wait_release(struct probe_core *c)
{
	free(c);
}

/* The duration timer is closed: its hold goes. */
static void on_wait_closed(uv_handle_t *h)
{
	struct probe *p = h->data;
	p->wait_open = false;
	probe_core_drop(&p->core);
}

/* Ends the attempt (error NULL: the time is up): stops the timer, delivers. */
static void wait_finish(struct probe_core *c, const char *error)
{
	struct probe *p = (struct probe *)c;
	if (!probe_core_finishing(c))
		return;
	if (p->wait_open && !uv_is_closing((uv_handle_t *)&p->wait))
		uv_close((uv_handle_t *)&p->wait, on_wait_closed);
	probe_core_deliver(c, error);
}

/* The time is up: the step passes. */
static void on_wait_over(uv_timer_t *t)
{
	struct probe *p = t->data;
	wait_finish(&p->core, NULL);
}

/* The wait op's start: a timer of req->wait_ms; the timeout is not armed. */
static struct probe *wait_start(const struct probe_req *req, struct rbc_error *err)
{
	if (req->wait_ms <= 0) {
		rbc_error_set(err, "wait: no duration");
		return NULL;
	}
	struct probe_req q = *req;
	q.timeout_ms = 0;
	struct probe *p = xcalloc(1, sizeof *p);
	probe_core_start(&p->core, &q, wait_finish, wait_release);
	uv_timer_init(p->core.loop, &p->wait);
	p->wait.data = p;
	p->wait_open = true;
	probe_core_hold(&p->core);
	uv_timer_start(&p->wait, on_wait_over, (uint64_t)req->wait_ms, 0);
	return p;
}

/* ------------------------------------------------------- the step */

/* The wait op's load: a duration such as "10m", or text with ${NAME}
   checked when the step runs. */
static void wait_load(struct keys_reader *r, const cJSON *m, struct rb_step *s)
{
	struct probe_wait_step *w = xcalloc(1, sizeof *w);
	s->action_data = w;
	if (!cJSON_IsString(m)) {
		keys_err(r, m, "expected a duration such as \"10m\" or \"${PAUSE}\"");
		return;
	}
	if (strstr(m->valuestring, "${")) {
		keys_scan_refs(r, m);
	} else if (!keys_duration(r, m, &w->ms)) {
		return;
	}
	w->text = xstrdup(m->valuestring);
}

/* The wait op's free_data. */
static void wait_free_data(void *data)
{
	struct probe_wait_step *w = data;
	if (!w)
		return;
	free(w->text);
	free(w);
}

/* The wait op's build: the duration, expanded and read now. */
static bool wait_build(const struct rb_step *s, struct probe_build *b, struct probe_req *q,
                       char **error)
{
	const struct probe_wait_step *w = s->action_data;
	if (w->ms > 0) {
		q->wait_ms = w->ms;
		return true;
	}
	const char *text = NULL, *why = NULL;
	if (!b->expand(b, w->text, PROBE_QUOTE_PLAIN, &text, error))
		return false;
	int64_t ms = 0;
	if (!text || !units_parse_duration(text, &ms, &why) || ms <= 0) {
		*error = xasprintf("wait: bad duration \"%s\" (from \"%s\"): %s", text ? text : "",
		                   w->text, why ? why : "must be greater than 0");
		return false;
	}
	q->wait_ms = ms;
	return true;
}

/* The wait op's describe: "wait 10m". */
static void wait_describe(const struct rb_step *s, struct strbuf *sb)
{
	const struct probe_wait_step *w = s->action_data;
	sb_addf(sb, "wait %s", w->text ? w->text : "");
}

const struct probe_ops probe_wait_ops = {
	.action = RB_WAIT,
	.name = "wait",
	.load = wait_load,
	.free_data = wait_free_data,
	.build = wait_build,
	.describe = wait_describe,
	.start = wait_start,
	.cancel = probe_core_cancel,
};

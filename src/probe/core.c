/*
 * core.c — the attempt life cycle shared by the dns, tcp and sql probes
 * (see core.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/units.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "core.h"

static void on_timeout(uv_timer_t *t)
{
	struct probe_core *c = t->data;
	char d[32];
	units_format_duration(c->timeout_ms, d, sizeof d);
	char *msg = xasprintf("timed out after %s", d);
	c->finish(c, msg);
	free(msg);
}

void probe_core_start(struct probe_core *c, const struct probe_req *req,
                      void (*finish)(struct probe_core *, const char *),
                      void (*release)(struct probe_core *))
{
	c->loop = req->loop;
	c->on_done = req->on_done;
	c->ud = req->ud;
	c->timeout_ms = req->timeout_ms;
	c->finish = finish;
	c->release = release;
	c->sample = value_obj_new(false);
	uv_timer_init(c->loop, &c->timer);
	c->timer.data = c;
	c->holds = 1;
	/* the loop's clock may be stale when start runs late in an iteration */
	uv_update_time(c->loop);
	c->t0 = uv_hrtime();
	if (c->timeout_ms > 0)
		uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
}

double probe_core_elapsed_ms(const struct probe_core *c)
{
	return (double)(uv_hrtime() - c->t0) / 1e6;
}

bool probe_core_finishing(struct probe_core *c)
{
	if (c->finished)
		return false;
	c->finished = true;
	return true;
}

static void on_timer_closed(uv_handle_t *h)
{
	probe_core_drop(h->data);
}

static void on_deliver(uv_timer_t *t)
{
	struct probe_core *c = t->data;
	struct rbc_value *sample = c->sample;
	c->sample = NULL;
	c->delivered = true;
	c->on_done(c->ud, sample, c->error);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

void probe_core_deliver(struct probe_core *c, const char *error)
{
	value_obj_set_take(c->sample, "time", value_num_new(probe_core_elapsed_ms(c), RBC_DIM_TIME));
	if (error) {
		c->error = xstrdup(error);
		value_obj_set_take(c->sample, "error", value_strz_new(error));
	}
	uv_timer_stop(&c->timer);
	uv_timer_start(&c->timer, on_deliver, 0, 0);
}

void probe_core_hold(struct probe_core *c)
{
	c->holds++;
}

void probe_core_drop(struct probe_core *c)
{
	if (--c->holds > 0 || !c->delivered)
		return;
	free(c->error);
	c->error = NULL;
	c->release(c);
}

/*
 * Before the attempt finished, the kind stops its work and ends it with
 * "cancelled". After it finished but before the deferred delivery, the
 * result is already built; probe.h still promises "cancelled", so it is
 * replaced by a bare cancelled sample (time until the cancel, error), the
 * same as a cancel that came a moment earlier would have produced.
 */
void probe_core_cancel(struct probe *p)
{
	struct probe_core *c = (struct probe_core *)p;
	if (!c->finished) {
		c->finish(c, "cancelled");
		return;
	}
	if (c->delivered || (c->error && strcmp(c->error, "cancelled") == 0))
		return;
	value_free(c->sample);
	c->sample = value_obj_new(false);
	free(c->error);
	c->error = NULL;
	probe_core_deliver(c, "cancelled");
}

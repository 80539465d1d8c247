/*
 * probe.c — the table of probe kinds. A kind is one file in src/probe/ with
 * its struct probe_ops (probe.h): the keys the loader accepts and how it
 * reads them, how a request is built from a step, how the console describes
 * the step, and the probe itself. Adding one is that file, its line here
 * (and its extern in internal.h), its action in RB_ACTIONS and its sample's
 * fields in RB_FIELDS (rbc/runbook.h).
 */
#include "rbc/probe.h"

#include "internal.h"
#include "http_internal.h"

static const struct probe_ops *const table[RB_ACTION_COUNT] = {
	[RB_RUN] = &probe_run_ops,
	[RB_NAGIOS] = &probe_nagios_ops,
	[RB_HTTP] = &probe_http_ops,
	[RB_PROMETHEUS] = &probe_prometheus_ops,
	[RB_DNS] = &probe_dns_ops,
	[RB_TCP] = &probe_tcp_ops,
	[RB_SQL] = &probe_sql_ops,
	[RB_WAIT] = &probe_wait_ops,
};

const struct probe_ops *probe_ops_for(enum rb_action action)
{
	return (unsigned)action < RB_ACTION_COUNT ? table[action] : NULL;
}

void probe_shutdown(uv_loop_t *loop)
{
	probe_http_shutdown(loop);
}

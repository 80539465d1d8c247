/*
 * probe.c — the table of probe kinds: adding a kind is one file and one
 * line here.
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
};

const struct probe_ops *probe_ops_for(enum rb_action action)
{
	return (unsigned)action < RB_ACTION_COUNT ? table[action] : NULL;
}

void probe_shutdown(uv_loop_t *loop)
{
	probe_http_shutdown(loop);
}

/*
 * clock.c — the wall clock in expressions: now(), hour(t [, zone]) and
 * weekday(t [, zone]) (docs/thresholds.md, Time of day), so that a
 * maintenance window can be written in `when` and `expect`.
 *
 * now() reads RBC_TEST_NOW when set, as the session's clock does, so tests
 * and replays see a fixed time. Zones come from zone.c, never from TZ: a
 * literal zone is loaded once, when the expression is parsed (rbc check
 * names an unknown one); a zone from a variable is loaded per evaluation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* now(): ms since the epoch, by RBC_TEST_NOW (seconds, or 2026-12-06T11:00:00Z) when set. */
static int64_t clock_now_ms(void)
{
	const char *v = getenv("RBC_TEST_NOW");
	if (v && *v) {
		char *end;
		long long secs = strtoll(v, &end, 10);
		if (*end == '\0' && secs > 0)
			return secs * 1000;
		int64_t ms = iso_ms_parse(v);
		if (ms)
			return ms;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* now(): the current time, a time in ms since 1970-01-01 UTC. */
static struct rbc_value *fn_now(struct ectx *c, const struct node *call)
{
	(void)c;
	(void)call;
	return value_num_new((double)clock_now_ms(), RBC_DIM_TIME);
}

/* Reads n digits at *p into *v. */
static bool digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

/* Parses RFC 3339 text, "2026-12-06T11:00:00Z" or "…+09:00", into seconds since the epoch. */
static bool rfc3339(const char *s, size_t n, int64_t *secs)
{
	char buf[64];
	if (n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	const char *p = buf;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !(p++, digits(&p, 2, &h)) ||
	    *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &se))
		return false;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p);)
			p++;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 ||
	    oh > 23 || om > 59)
		return false;
	*secs = expr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
	        sign * (oh * 3600 + om * 60);
	return true;
}

/*
 * The time argument of call as seconds since the epoch: a time (now(),
 * ms), a plain number (a Unix timestamp in seconds) or RFC 3339 text.
 * Returns NULL, or the unknown.
 */
static struct rbc_value *time_arg(struct ectx *c, const struct node *call, int64_t *secs)
{
	struct rbc_value *v = expr_eval_node(c, call->args[0]);
	if (v->type == VALUE_MISSING)
		return v;
	bool ok = false;
	if (v->type == VALUE_NUM && (v->u.num.dim == RBC_DIM_TIME || v->u.num.dim == RBC_DIM_NONE)) {
		double s = v->u.num.dim == RBC_DIM_TIME ? v->u.num.v / 1000 : v->u.num.v;
		if (s > -1e13 && s < 1e13) {
			*secs = (int64_t)(s < 0 && s != (double)(int64_t)s ? s - 1 : s);
			ok = true;
		}
	} else if (v->type == VALUE_STR) {
		ok = rfc3339(v->u.str.s, v->u.str.len, secs);
	}
	if (ok) {
		value_free(v);
		return NULL;
	}
	char *d = expr_describe(c, v);
	struct rbc_value *r = value_missing_new("%s() needs a time (now(), seconds since 1970, or "
	                                        "text such as \"2026-12-06T11:00:00Z\"), not %s",
	                                        call->fn->name, d);
	free(d);
	value_free(v);
	return r;
}

/*
 * The local time of call's time argument, seconds since the epoch shifted
 * by the zone's offset (literal, from a variable, or UTC without one).
 * Returns NULL, or the unknown.
 */
static struct rbc_value *local_time(struct ectx *c, const struct node *call, int64_t *local)
{
	int64_t t;
	struct rbc_value *r = time_arg(c, call, &t);
	if (r)
		return r;
	if (call->nargs < 2 || call->zone) {
		*local = t + expr_zone_offset(call->zone, t);
		return NULL;
	}
	struct rbc_value *name = expr_eval_node(c, call->args[1]);
	if (name->type == VALUE_MISSING)
		return name;
	if (name->type != VALUE_STR) {
		char *d = expr_describe(c, name);
		r = value_missing_new("%s() needs a zone name such as \"Asia/Tokyo\", not %s",
		                      call->fn->name, d);
		free(d);
		value_free(name);
		return r;
	}
	char *why = NULL;
	struct zone *z = expr_zone_load(name->u.str.s, name->u.str.len, &why);
	value_free(name);
	if (!z) {
		r = value_missing_new("%s", why);
		free(why);
		return r;
	}
	*local = t + expr_zone_offset(z, t);
	expr_zone_free(z);
	return NULL;
}

/* hour(t [, zone]): the hour of the day, 0 to 23, in the zone (UTC without one). */
static struct rbc_value *fn_hour(struct ectx *c, const struct node *call)
{
	int64_t local;
	struct rbc_value *r = local_time(c, call, &local);
	if (r)
		return r;
	int64_t s = local % 86400;
	return value_num_new((double)((s < 0 ? s + 86400 : s) / 3600), RBC_DIM_NONE);
}

/* weekday(t [, zone]): the day of the week, 1 (Monday) to 7 (Sunday), in the zone. */
static struct rbc_value *fn_weekday(struct ectx *c, const struct node *call)
{
	int64_t local;
	struct rbc_value *r = local_time(c, call, &local);
	if (r)
		return r;
	int64_t days = local / 86400 - (local % 86400 < 0);
	/* 1970-01-01 was a Thursday, day 4. */
	return value_num_new((double)((days % 7 + 7 + 3) % 7 + 1), RBC_DIM_NONE);
}

/* hour() and weekday() at parse time: a literal zone is loaded and kept, a literal time read. */
static char *check_zone(struct node *call, size_t *at)
{
	const struct node *t = call->args[0];
	int64_t secs;
	if (t->kind == N_LIT && t->lit->type == VALUE_STR &&
	    !rfc3339(t->lit->u.str.s, t->lit->u.str.len, &secs)) {
		*at = t->start;
		return xasprintf("%s() needs a time such as \"2026-12-06T11:00:00Z\" (RFC 3339, "
		                 "with Z or an offset)", call->fn->name);
	}
	if (t->kind == N_LIST || (t->kind == N_LIT && t->lit->type != VALUE_STR &&
	                          t->lit->type != VALUE_NUM)) {
		*at = t->start;
		return xasprintf("%s() needs a time such as now()", call->fn->name);
	}
	if (call->nargs < 2)
		return NULL;
	const struct node *z = call->args[1];
	if (z->kind == N_LIST || (z->kind == N_LIT && z->lit->type != VALUE_STR)) {
		*at = z->start;
		return xasprintf("%s() needs a zone name such as \"Asia/Tokyo\"", call->fn->name);
	}
	if (z->kind != N_LIT)
		return NULL;
	char *why = NULL;
	call->zone = expr_zone_load(z->lit->u.str.s, z->lit->u.str.len, &why);
	if (!call->zone)
		*at = z->start;
	return why;
}

const struct builtin expr_clock_functions[] = {
	{"now", 0, 0, false, 0, fn_now, NULL, NULL},
	{"hour", 1, 2, false, 0, fn_hour, check_zone, NULL},
	{"weekday", 1, 2, false, 0, fn_weekday, check_zone, NULL},
};
const size_t expr_nclock_functions = RBC_ARRAY_LEN(expr_clock_functions);

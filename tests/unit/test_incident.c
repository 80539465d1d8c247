/*
 * test_incident.c — an incident's state from its events: each action is
 * checked and refused with a reason, the state is what the applied events
 * say (rebuilding from them gives the same incident), the clocks read the
 * restore target at 0 %, 50 %, 75 % and past 100 %, and nothing assumes
 * which end of a ladder is worst.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/mask.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

#define MINUTE (60 * 1000LL)
/* 2026-12-04T02:00:00Z */
#define T0 1796349600000LL

static struct runbook *load(const char *path)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load(path, &d);
	if (!rb || d.nerrors) {
		diags_print(&d, stderr);
		fail_msg("%s did not load", path);
	}
	diags_free(&d);
	return rb;
}

/* Applies ev (taking it), which must fit. */
static void apply(struct incident *in, cJSON *ev)
{
	assert_non_null(ev);
	struct rbc_error err = {0};
	if (!incident_apply(in, ev, &err))
		fail_msg("apply: %s", err.msg);
	cJSON_Delete(ev);
}

/* The action's refusal message (the action must refuse). */
static char *refused(cJSON *ev, struct rbc_error *err)
{
	assert_null(ev);
	assert_non_null(err->msg);
	char *m = xstrdup(err->msg);
	rbc_error_clear(err);
	return m;
}

static void test_declare(void **state)
{
	(void)state;
	struct runbook *rb = load("runbooks/incident.json");
	struct incident *in = incident_new(rb);
	struct rbc_error err = {0};
	char *m;

	m = refused(incident_add(in, INC_EV_NOTE, "too early", T0, "alice", &err), &err);
	assert_string_equal(m, "no incident has been declared yet");
	free(m);
	m = refused(incident_declare(in, "L9", "Checkout down", 0, T0, "alice", &err), &err);
	assert_string_equal(m, "no severity \"L9\" (the levels: L1 Minor, L2 Major, L3 Critical, L4 Catastrophic)");
	free(m);
	m = refused(incident_declare(in, "L2", "  ", 0, T0, "alice", &err), &err);
	assert_string_equal(m, "an incident needs a title");
	free(m);
	m = refused(incident_declare(in, "L2", "Checkout down", T0 + 1000, T0, "alice", &err), &err);
	assert_string_equal(m, "the impact cannot start in the future (2026-12-04T02:00:01.000Z is after now, "
	                       "2026-12-04T02:00:00.000Z)");
	free(m);

	/* backfilled: the impact began 10 minutes before the declaration */
	cJSON *ev = incident_declare(in, "L2", "Checkout down", T0 - 10 * MINUTE, T0, "alice", &err);
	assert_non_null(ev);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "what")), "declared");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "id")), "INC-20261204T020000Z");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "impact_start")),
	                    "2026-12-04T01:50:00.000Z");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "by")), "alice");
	apply(in, ev);
	assert_int_equal(in->declared, T0);
	assert_int_equal(in->impact_start, T0 - 10 * MINUTE);
	assert_int_equal(in->status, INC_INVESTIGATING);
	char *l = incident_severity_label(rb, in->severity);
	assert_string_equal(l, "L2 Major");
	free(l);

	m = refused(incident_declare(in, "L1", "Again", 0, T0, "alice", &err), &err);
	assert_string_equal(m, "the incident is already declared (INC-20261204T020000Z)");
	free(m);
	incident_free(in);
	runbook_free(rb);
}

static void test_severity_roles_timeline(void **state)
{
	(void)state;
	struct runbook *rb = load("runbooks/incident.json");
	struct incident *in = incident_new(rb);
	struct rbc_error err = {0};
	char *m;
	apply(in, incident_declare(in, "L2", "Checkout down", 0, T0, "alice", &err));

	m = refused(incident_change_severity(in, "L3", "", T0 + MINUTE, "alice", &err), &err);
	assert_string_equal(m, "a change of severity needs a reason");
	free(m);
	m = refused(incident_change_severity(in, "L2", "same", T0 + MINUTE, "alice", &err), &err);
	assert_string_equal(m, "the incident is already L2 Major");
	free(m);
	apply(in, incident_change_severity(in, "L3", "the region is down", T0 + 20 * MINUTE, "alice", &err));
	assert_string_equal(rb->severities[in->severity].id, "L3");
	assert_int_equal(in->nspans, 2);
	assert_int_equal(in->spans[0].from, T0);
	assert_int_equal(in->spans[0].to, T0 + 20 * MINUTE);
	assert_int_equal(in->spans[1].to, 0);

	/* roles: assigned, handed over, unassigned */
	m = refused(incident_assign(in, "pilot", "bob", T0, "alice", &err), &err);
	assert_true(strncmp(m, "no role \"pilot\" (the roles: incident-commander, devops,", 52) == 0);
	free(m);
	apply(in, incident_assign(in, "incident-commander", "alice", T0 + 21 * MINUTE, "alice", &err));
	cJSON *ev = incident_assign(in, "incident-commander", "carol", T0 + 40 * MINUTE, "alice", &err);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "from")), "alice");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "to")), "carol");
	apply(in, ev);
	m = refused(incident_assign(in, "incident-commander", "carol", T0 + 41 * MINUTE, "carol", &err), &err);
	assert_string_equal(m, "Incident commander is already carol");
	free(m);
	m = refused(incident_assign(in, "qa", NULL, T0 + 41 * MINUTE, "carol", &err), &err);
	assert_string_equal(m, "QA engineer is already unassigned");
	free(m);
	assert_string_equal(in->holders[0], "carol");
	assert_null(in->holders[1]);

	/* notes, decisions, todos, updates, status */
	apply(in, incident_add(in, INC_EV_NOTE, "5xx at 60 % since 01:58", T0 + 42 * MINUTE, "carol", &err));
	apply(in, incident_add(in, INC_EV_DECISION, "roll back to 1.4.2", T0 + 43 * MINUTE, "carol", &err));
	apply(in, incident_add(in, INC_EV_TODO, "check the payment queue", T0 + 44 * MINUTE, "carol", &err));
	size_t todo = in->nentries - 1;
	m = refused(incident_add(in, INC_EV_ROLE, "x", T0, "carol", &err), &err);
	assert_string_equal(m, "incident_add takes a note, a decision, a todo or an update");
	free(m);
	apply(in, incident_todo_done(in, todo, T0 + 50 * MINUTE, "bob", &err));
	assert_true(in->entries[todo].done);
	m = refused(incident_todo_done(in, todo, T0 + 51 * MINUTE, "bob", &err), &err);
	assert_string_equal(m, "the todo \"check the payment queue\" is already done");
	free(m);
	apply(in, incident_trigger(in, "deploy/watch-5xx: value = 0.229 > 0.05; violated for 16s", true,
	                           T0 + 45 * MINUTE, "rbc", &err));
	apply(in, incident_set_status(in, INC_FIXING, T0 + 46 * MINUTE, "carol", &err));
	apply(in, incident_add(in, INC_EV_UPDATE, "Rolled back; watching", T0 + 55 * MINUTE, "carol", &err));
	assert_int_equal(in->last_update, T0 + 55 * MINUTE);
	apply(in, incident_set_status(in, INC_MONITORING, T0 + 56 * MINUTE, "carol", &err));
	assert_int_equal(in->mitigated, T0 + 56 * MINUTE);
	m = refused(incident_set_status(in, INC_MONITORING, T0 + 57 * MINUTE, "carol", &err), &err);
	assert_string_equal(m, "the status is already monitoring");
	free(m);

	/* resolve: each unmet exit criterion needs its reason */
	assert_int_equal(rb->nexit_criteria, 5);
	const char *bad[5] = {NULL, NULL, NULL, " ", NULL};
	m = refused(incident_resolve(in, bad, 5, "fixed", T0 + 60 * MINUTE, "carol", &err), &err);
	assert_true(strstr(m, "is not met: say why the incident is resolved anyway") != NULL);
	free(m);
	const char *ok[5] = {NULL, NULL, NULL, NULL, "the post-mortem date is set tomorrow"};
	ev = incident_resolve(in, ok, 5, "1.4.2 serves again", T0 + 60 * MINUTE, "carol", &err);
	cJSON *crit = cJSON_GetObjectItem(ev, "criteria");
	assert_int_equal(cJSON_GetArraySize(crit), 5);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(crit, 4), "met")));
	apply(in, ev);
	assert_int_equal(in->status, INC_RESOLVED);
	assert_int_equal(in->resolved, T0 + 60 * MINUTE);
	assert_int_equal(in->spans[1].to, T0 + 60 * MINUTE);
	m = refused(incident_add(in, INC_EV_NOTE, "after", T0 + 61 * MINUTE, "carol", &err), &err);
	assert_string_equal(m, "the incident is resolved");
	free(m);

	/* the timeline in order, with its actors */
	static const enum inc_kind want[] = {INC_EV_DECLARED, INC_EV_SEVERITY, INC_EV_ROLE,     INC_EV_ROLE,
	                                     INC_EV_NOTE,     INC_EV_DECISION, INC_EV_TODO,     INC_EV_TODO_DONE,
	                                     INC_EV_TRIGGER,  INC_EV_STATUS,   INC_EV_UPDATE,   INC_EV_STATUS,
	                                     INC_EV_RESOLVED};
	assert_int_equal(in->nentries, RBC_ARRAY_LEN(want));
	for (size_t i = 0; i < RBC_ARRAY_LEN(want); i++)
		assert_int_equal(in->entries[i].kind, want[i]);
	assert_string_equal(in->entries[1].from, "L2");
	assert_string_equal(in->entries[1].to, "L3");
	assert_string_equal(in->entries[1].text, "the region is down");
	assert_true(in->entries[8].automatic);
	assert_string_equal(in->entries[7].actor, "bob");
	incident_free(in);
	runbook_free(rb);
}

/* Every event, printed and parsed back (as the journal keeps it), rebuilds
   the same incident. */
static void test_rebuild(void **state)
{
	(void)state;
	struct runbook *rb = load("runbooks/incident.json");
	struct incident *in = incident_new(rb), *again = incident_new(rb);
	struct rbc_error err = {0};
	cJSON *evs[6];
	evs[0] = incident_declare(in, "L1", "Bad release", T0 - 2 * MINUTE, T0, "alice", &err);
	apply(in, cJSON_Duplicate(evs[0], true));
	evs[1] = incident_assign(in, "devops", "dave", T0 + MINUTE, "alice", &err);
	apply(in, cJSON_Duplicate(evs[1], true));
	evs[2] = incident_change_severity(in, "L2", "payments fail too", T0 + 2 * MINUTE, "alice", &err);
	apply(in, cJSON_Duplicate(evs[2], true));
	evs[3] = incident_add(in, INC_EV_UPDATE, "rolling back", T0 + 3 * MINUTE, "alice", &err);
	apply(in, cJSON_Duplicate(evs[3], true));
	evs[4] = incident_set_status(in, INC_MONITORING, T0 + 4 * MINUTE, "alice", &err);
	apply(in, cJSON_Duplicate(evs[4], true));
	const char *met[5] = {0};
	evs[5] = incident_resolve(in, met, 5, NULL, T0 + 5 * MINUTE, "alice", &err);
	apply(in, cJSON_Duplicate(evs[5], true));
	for (size_t i = 0; i < RBC_ARRAY_LEN(evs); i++) {
		char *line = cJSON_PrintUnformatted(evs[i]);
		apply(again, cJSON_Parse(line));
		free(line);
		cJSON_Delete(evs[i]);
	}
	assert_string_equal(again->id, in->id);
	assert_string_equal(again->title, "Bad release");
	assert_int_equal(again->severity, in->severity);
	assert_int_equal(again->status, INC_RESOLVED);
	assert_int_equal(again->impact_start, T0 - 2 * MINUTE);
	assert_int_equal(again->mitigated, T0 + 4 * MINUTE);
	assert_int_equal(again->resolved, T0 + 5 * MINUTE);
	assert_int_equal(again->last_update, T0 + 3 * MINUTE);
	assert_int_equal(again->nentries, in->nentries);
	assert_int_equal(again->nspans, 2);
	assert_string_equal(again->holders[1], "dave");

	/* events that do not fit are refused, not guessed at */
	struct incident *fresh = incident_new(rb);
	cJSON *note = cJSON_Parse("{\"t\":\"2026-12-04T02:00:00Z\",\"what\":\"note\",\"text\":\"x\"}");
	assert_false(incident_apply(fresh, note, &err));
	assert_string_equal(err.msg, "a note event before the incident was declared");
	rbc_error_clear(&err);
	cJSON_Delete(note);
	cJSON *odd = cJSON_Parse("{\"t\":\"2026-12-04T02:00:00Z\",\"what\":\"coffee\"}");
	assert_false(incident_apply(fresh, odd, &err));
	rbc_error_clear(&err);
	cJSON_Delete(odd);
	incident_free(fresh);
	incident_free(in);
	incident_free(again);
	runbook_free(rb);
}

/* The restore target at 0 %, 50 %, 75 %, 100 % and past it; the update due. */
static void test_clock(void **state)
{
	(void)state;
	struct runbook *rb = load("runbooks/incident.json");
	struct incident *in = incident_new(rb);
	struct rbc_error err = {0};
	struct inc_clock c;
	incident_clock(in, T0, &c);
	assert_int_equal(c.target, INC_TARGET_NONE);
	/* L1: restore within 15 minutes; updates every 30 minutes (the runbook's) */
	apply(in, incident_declare(in, "L1", "Bad release", T0, T0, "alice", &err));
	static const struct {
		int64_t at;
		enum inc_target target;
		const char *left;
	} cases[] = {
		{0, INC_TARGET_OK, "15m00s"},
		{7 * MINUTE + 29 * 1000, INC_TARGET_OK, "7m31s"},
		{7 * MINUTE + 30 * 1000, INC_TARGET_HALF, "7m30s"},
		{11 * MINUTE + 15 * 1000, INC_TARGET_THREE_QUARTERS, "3m45s"},
		{15 * MINUTE, INC_TARGET_BREACHED, "0s"},
		{18 * MINUTE, INC_TARGET_BREACHED, "-3m00s"},
	};
	for (size_t i = 0; i < RBC_ARRAY_LEN(cases); i++) {
		incident_clock(in, T0 + cases[i].at, &c);
		assert_int_equal(c.target, cases[i].target);
		assert_int_equal(c.restore_ms, 15 * MINUTE);
		char *left = incident_duration(c.restore_left);
		assert_string_equal(left, cases[i].left);
		free(left);
	}
	incident_clock(in, T0 + 18 * MINUTE, &c);
	assert_int_equal(c.update_due, T0 + 30 * MINUTE);
	assert_false(c.update_overdue);
	incident_clock(in, T0 + 31 * MINUTE, &c);
	assert_true(c.update_overdue);
	apply(in, incident_add(in, INC_EV_UPDATE, "still down", T0 + 31 * MINUTE, "alice", &err));
	incident_clock(in, T0 + 32 * MINUTE, &c);
	assert_int_equal(c.update_due, T0 + 61 * MINUTE);
	assert_false(c.update_overdue);
	/* a change of level changes the target: L2 has an hour */
	apply(in, incident_change_severity(in, "L2", "wider", T0 + 33 * MINUTE, "alice", &err));
	incident_clock(in, T0 + 33 * MINUTE, &c);
	assert_int_equal(c.target, INC_TARGET_HALF);
	char *s = incident_duration(c.since_impact);
	assert_string_equal(s, "33m00s");
	free(s);
	s = incident_duration(2 * 3600 * 1000LL + 5 * MINUTE);
	assert_string_equal(s, "2h05m");
	free(s);
	/* resolved: the clocks stop there */
	const char *met[5] = {0};
	apply(in, incident_resolve(in, met, 5, NULL, T0 + 40 * MINUTE, "alice", &err));
	incident_clock(in, T0 + 500 * MINUTE, &c);
	assert_int_equal(c.since_impact, 40 * MINUTE);
	assert_int_equal(c.update_due, 0);
	incident_free(in);
	runbook_free(rb);
}

/* A ladder numbered the other way (level-1 is the worst), roles written as
   bare ids, a level's own update interval: nothing is assumed. */
static void test_other_ladder(void **state)
{
	(void)state;
	struct runbook *rb = load("docs/examples/incident-three-levels.json");
	struct incident *in = incident_new(rb);
	struct rbc_error err = {0};
	apply(in, incident_declare(in, "level-3", "Slow search", 0, T0, "erin", &err));
	char *l = incident_severity_label(rb, in->severity);
	assert_string_equal(l, "level-3 Minor issue");
	free(l);
	apply(in, incident_change_severity(in, "level-1", "search is down", T0 + MINUTE, "erin", &err));
	struct inc_clock c;
	incident_clock(in, T0 + 16 * MINUTE, &c);
	assert_int_equal(c.restore_ms, 30 * MINUTE);
	assert_int_equal(c.target, INC_TARGET_HALF);
	/* level-1's own interval: 15 minutes, from the declaration */
	assert_int_equal(c.update_due, T0 + 15 * MINUTE);
	assert_true(c.update_overdue);
	apply(in, incident_assign(in, "on-call", "erin", T0 + 2 * MINUTE, "erin", &err));
	assert_string_equal(in->holders[0], "erin");
	incident_free(in);
	runbook_free(rb);
}

struct seen {
	int n;
	char *text, *what;
};

static void on_event(void *ud, const struct eng_event *ev)
{
	struct seen *w = ud;
	if (ev->type != ENG_EV_INCIDENT)
		return;
	w->n++;
	free(w->text);
	free(w->what);
	w->text = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(ev->detail, "text")));
	w->what = xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(ev->detail, "what")));
}

/* An incident event goes through the journal like any other: one line with
   its fields, masked, then to the observer, masked too. */
static void test_journaled(void **state)
{
	(void)state;
	struct runbook *rb = load("runbooks/incident.json");
	struct incident *in = incident_new(rb);
	struct rbc_error err = {0};
	char dir[] = "/tmp/rbc-incident-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct journal *j = journal_create(&loop, dir, &err);
	assert_non_null(j);
	struct mask *m = mask_new();
	mask_add(m, "hunter2-token");
	journal_set_mask(j, m);
	assert_true(journal_header(j, cJSON_CreateObject(), &err));
	struct seen w = {0};
	journal_set_observer(j, on_event, &w);

	apply(in, incident_declare(in, "L2", "Checkout down", 0, T0, "alice", &err));
	cJSON *ev = incident_add(in, INC_EV_NOTE, "the key hunter2-token leaked in a log", T0 + MINUTE, "alice", &err);
	struct eng_event e = {.type = ENG_EV_INCIDENT, .time = T0 + MINUTE, .detail = ev, .by = "alice"};
	journal_on_event(j, &e);
	cJSON_Delete(ev);
	while (journal_busy(j))
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.what, "note");
	assert_string_equal(w.text, "the key " MASK_TEXT " leaked in a log");
	journal_free(j);

	char *path = xasprintf("%s/journal.jsonl", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	assert_non_null(fgets(line, sizeof line, f)); /* the header */
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	cJSON *o = cJSON_Parse(line);
	assert_non_null(o);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "ev")), "incident");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "what")), "note");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "t")), "2026-12-04T02:01:00.000Z");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "by")), "alice");
	assert_null(strstr(line, "hunter2"));
	/* and the line, read back, is an event the incident takes */
	struct incident *again = incident_new(rb);
	apply(again, incident_declare(again, "L2", "Checkout down", 0, T0, "alice", &err));
	assert_true(incident_apply(again, o, &err));
	assert_string_equal(again->entries[1].text, "the key " MASK_TEXT " leaked in a log");
	cJSON_Delete(o);
	unlink(path);
	rmdir(dir);
	free(path);
	free(w.text);
	free(w.what);
	mask_free(m);
	uv_loop_close(&loop);
	incident_free(again);
	incident_free(in);
	runbook_free(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_declare),      cmocka_unit_test(test_severity_roles_timeline),
		cmocka_unit_test(test_rebuild),      cmocka_unit_test(test_clock),
		cmocka_unit_test(test_other_ladder), cmocka_unit_test(test_journaled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

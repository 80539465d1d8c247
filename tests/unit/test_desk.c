/*
 * test_desk.c — the incident desk's reading of what an incident commander
 * types (desk.h): a level by id or name, when the impact started, the
 * question naming the levels, PagerDuty's word for a level; and no desk for
 * a runbook that is no incident runbook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/desk.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

static const char LADDER[] =
	"{\"runbook\": \"inc\", \"title\": \"Incident\", \"kind\": \"incident\",\n"
	" \"severities\": [\n"
	"   {\"id\": \"L1\", \"name\": \"Minor\", \"restore\": \"24h\"},\n"
	"   {\"id\": \"L2\", \"name\": \"Major\", \"restore\": \"4h\"},\n"
	"   {\"id\": \"L3\", \"name\": \"Critical\", \"restore\": \"1h\", \"pagerduty_severity\": \"error\"},\n"
	"   {\"id\": \"L4\", \"name\": \"Catastrophic\", \"restore\": \"30m\"},\n"
	"   {\"id\": \"L5\", \"name\": \"Beyond\", \"restore\": \"15m\"}],\n"
	" \"steps\": [{\"id\": \"look\", \"title\": \"Look\", \"manual\": \"Look at it.\"}]}";

static struct runbook *ladder(void)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("/tmp/inc.json", LADDER, strlen(LADDER), &d);
	assert_non_null(rb);
	assert_int_equal(d.nerrors, 0);
	diags_free(&d);
	return rb;
}

/* 2026-12-06T00:10:00Z and 2026-12-06T14:00:00Z, in ms. */
#define JUST_AFTER_MIDNIGHT 1796515800000LL
#define AFTERNOON 1796565600000LL
#define MINUTE (60 * 1000LL)
#define HOUR (60 * MINUTE)

static void test_level_of(void **state)
{
	(void)state;
	struct runbook *rb = ladder();
	assert_string_equal(desk_level_of(rb, "L2"), "L2");
	assert_string_equal(desk_level_of(rb, "l3"), "L3");
	assert_string_equal(desk_level_of(rb, "major"), "L2");
	assert_string_equal(desk_level_of(rb, "CATASTROPHIC"), "L4");
	/* Not a level: the answer itself, for the caller to refuse by name. */
	assert_string_equal(desk_level_of(rb, "L9"), "L9");
	assert_null(desk_level_of(rb, NULL));
	runbook_free(rb);
}

static void test_impact_of(void **state)
{
	(void)state;
	assert_int_equal(desk_impact_of("", AFTERNOON), AFTERNOON);
	assert_int_equal(desk_impact_of("   ", AFTERNOON), AFTERNOON);
	assert_int_equal(desk_impact_of("13:20", AFTERNOON), AFTERNOON - 40 * MINUTE);
	assert_int_equal(desk_impact_of("13:20:30", AFTERNOON), AFTERNOON - 40 * MINUTE + 30 * 1000);
	assert_int_equal(desk_impact_of("14:00", AFTERNOON), AFTERNOON);
	/* A clock time still to come today is yesterday's when that is less
	   than 12 hours ago; else it stays ahead, for the caller to refuse. */
	assert_int_equal(desk_impact_of("23:50", JUST_AFTER_MIDNIGHT), JUST_AFTER_MIDNIGHT - 20 * MINUTE);
	assert_int_equal(desk_impact_of("12:15", JUST_AFTER_MIDNIGHT), JUST_AFTER_MIDNIGHT - 11 * HOUR - 55 * MINUTE);
	assert_int_equal(desk_impact_of("12:05", JUST_AFTER_MIDNIGHT), JUST_AFTER_MIDNIGHT + 11 * HOUR + 55 * MINUTE);
	assert_int_equal(desk_impact_of("14:01", AFTERNOON), AFTERNOON + MINUTE);
	assert_int_equal(desk_impact_of("15m", AFTERNOON), AFTERNOON - 15 * MINUTE);
	assert_int_equal(desk_impact_of("2h", AFTERNOON), AFTERNOON - 2 * HOUR);
	assert_int_equal(desk_impact_of("2026-12-06T13:50:00Z", AFTERNOON), AFTERNOON - 10 * MINUTE);
	/* Not a time. */
	assert_int_equal(desk_impact_of("24:00", AFTERNOON), 0);
	assert_int_equal(desk_impact_of("12:60", AFTERNOON), 0);
	assert_int_equal(desk_impact_of("soon", AFTERNOON), 0);
	assert_int_equal(desk_impact_of("13:20x", AFTERNOON), 0);
}

static void test_levels_question(void **state)
{
	(void)state;
	struct runbook *rb = ladder();
	char *q = desk_levels_question(rb, "Severity");
	assert_string_equal(q, "Severity (L1 Minor, L2 Major, L3 Critical, L4 Catastrophic, L5 Beyond): ");
	free(q);
	runbook_free(rb);
}

static void test_pagerduty_severity(void **state)
{
	(void)state;
	struct runbook *rb = ladder();
	assert_string_equal(desk_pagerduty_severity(rb, 0), "critical");
	assert_string_equal(desk_pagerduty_severity(rb, 1), "error");
	assert_string_equal(desk_pagerduty_severity(rb, 2), "error"); /* its own word */
	assert_string_equal(desk_pagerduty_severity(rb, 3), "info"); /* by position: the fourth */
	assert_string_equal(desk_pagerduty_severity(rb, 4), "info");
	assert_null(desk_pagerduty_severity(rb, 5));
	runbook_free(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_of),
		cmocka_unit_test(test_impact_of),
		cmocka_unit_test(test_levels_question),
		cmocka_unit_test(test_pagerduty_severity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

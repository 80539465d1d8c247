/*
 * test_probe_table.c — every probe action has its ops, and only those (a
 * group, a manual step and a call have none).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/probe.h"

static void test_table(void **state)
{
	(void)state;
	for (int a = 0; a < RB_ACTION_COUNT; a++) {
		const struct probe_ops *ops = probe_ops_for((enum rb_action)a);
		if (a == RB_GROUP || a == RB_MANUAL || a == RB_ASK || a == RB_CALL) {
			assert_null(ops);
			continue;
		}
		assert_non_null(ops);
		assert_int_equal(ops->action, a);
		assert_string_equal(ops->name, rb_action_key((enum rb_action)a));
		assert_non_null(ops->start);
		assert_non_null(ops->cancel);
	}
	assert_null(probe_ops_for(RB_ACTION_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

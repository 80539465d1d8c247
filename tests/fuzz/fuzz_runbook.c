/*
 * fuzz_runbook.c — libFuzzer harness for the runbook loader.
 *
 * Every input is loaded as the text of a runbook file named "fuzz.json":
 * comment blanking, the strict JSON scanner, position mapping, validation,
 * expressions and the cross-reference checks all see hostile bytes. Every
 * problem reported is formatted, since positions and JSON paths derived from
 * the input end up in those messages. Everything is freed, so LeakSanitizer
 * turns a leak on any error path into a finding.
 *
 * Relative run: targets resolve against the current directory; tests/fuzz/run
 * starts the harness in a scratch directory holding a few small runbooks, so
 * a finding does not depend on what happens to lie in the tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/error.h"
#include "rbc/runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a finding too: abort so libFuzzer keeps the input. */
static void expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_runbook: contract broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("fuzz.json", (const char *)data, size, &d);

	/* runbook.h: NULL exactly when some error was reported. */
	expect(rb ? d.nerrors == 0 : d.nerrors > 0, "runbook returned iff no error");
	expect(d.nerrors + d.nwarnings == d.n, "diagnostic counts add up");

	diags_sort(&d);
	for (size_t i = 0; i < d.n; i++) {
		expect(d.v[i].msg != NULL, "every problem has a message");
		char *s = rbc_error_format(&d.v[i]);
		expect(s != NULL && *s != '\0', "a formatted problem is not empty");
		free(s);
	}

	if (rb) {
		size_t counts[RB_ACTION_COUNT], total = 0;
		runbook_count(rb, counts);
		for (size_t a = 0; a < RB_ACTION_COUNT; a++)
			total += counts[a];
		expect(total == rb->total_steps, "runbook_count agrees with total_steps");
		expect(total <= RB_MAX_STEPS, "step count within the limit");
		expect(rb->nsteps > 0, "a valid runbook has steps");
		expect(runbook_find(rb, rb->steps[0]->id) == rb->steps[0], "first step found by id");
	}

	runbook_free(rb);
	diags_free(&d);
	return 0;
}

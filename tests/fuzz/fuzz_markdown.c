/*
 * fuzz_markdown.c — libFuzzer harness for Markdown runbooks.
 *
 * Every input is loaded as the text of a runbook file named "fuzz.md": the
 * cmark-gfm parse, the walk that maps blocks to steps, {…} attributes, rbc
 * comments parsed at their place, the position map and the loader's
 * validation all see hostile bytes; every problem is formatted, since its
 * position comes from the map. A valid input is also written back as
 * Markdown (docs/markdown-runbooks.md, "Converting") and read again: it
 * must give the same document. Everything is freed, so LeakSanitizer turns
 * a leak on any error path into a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/error.h"
#include "rbc/json.h"
#include "rbc/markdown.h"
#include "rbc/runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a finding too: abort so libFuzzer keeps the input. */
static void expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_markdown: contract broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load_buffer("fuzz.md", (const char *)data, size, &d);

	/* runbook.h: NULL exactly when some error was reported. */
	expect(rb ? d.nerrors == 0 : d.nerrors > 0, "runbook returned iff no error");
	expect(d.nerrors + d.nwarnings == d.n, "diagnostic counts add up");
	diags_sort(&d);
	for (size_t i = 0; i < d.n; i++) {
		expect(d.v[i].msg != NULL, "every problem has a message");
		expect(d.v[i].line <= size + 1, "a problem's line lies in the text");
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
		expect(rb->nsteps > 0, "a valid runbook has steps");

		/* Written back as Markdown, it reads as the same document. */
		struct rbc_diags d1 = {0}, d2 = {0};
		struct json_doc *doc = md_doc_parse("fuzz.md", (const char *)data, size, &d1);
		expect(doc != NULL, "a valid runbook parses again");
		char *md = md_write(json_doc_root(doc));
		struct json_doc *again = md_doc_parse("fuzz.md", md, strlen(md), &d2);
		if (!again) {
			diags_print(&d2, stderr);
			fprintf(stderr, "--- written:\n%s\n", md);
		}
		expect(again != NULL, "the Markdown written reads back");
		if (!cJSON_Compare(json_doc_root(doc), json_doc_root(again), true)) {
			char *a = cJSON_PrintUnformatted(json_doc_root(doc));
			char *b = cJSON_PrintUnformatted(json_doc_root(again));
			fprintf(stderr, "--- read:\n%s\n--- written:\n%s\n--- read back:\n%s\n", a, md, b);
			free(a);
			free(b);
			expect(0, "the Markdown written reads back to the same document");
		}
		json_doc_free(again);
		json_doc_free(doc);
		free(md);
		diags_free(&d1);
		diags_free(&d2);
	}
	runbook_free(rb);
	diags_free(&d);
	return 0;
}

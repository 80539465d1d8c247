/*
 * convert.c — `rbc convert FILE [--to json|md] [-o OUT]`: a Markdown runbook
 * written as the equivalent JSON, or a JSON runbook as Markdown that reads
 * back to the same document (docs/markdown-runbooks.md, "Converting").
 *
 * The runbook is validated first: only a valid runbook is converted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/cmd.h"
#include "rbc/export.h"
#include "rbc/json.h"
#include "rbc/markdown.h"
#include "rbc/runbook.h"
#include "rbc/util.h"

/* The command's help. */
static void convert_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc convert FILE.md [-o FILE.json]\n"
	        "       rbc convert FILE.json --to md [-o FILE.md]\n"
	        "\n"
	        "Writes a Markdown runbook as the equivalent JSON runbook (prose as\n"
	        "descriptions, the implicit confirmation of unannotated commands kept), or a\n"
	        "JSON runbook as Markdown: groups as headings, commands as ```sh blocks with\n"
	        "{…} attributes, other steps as task items, and every key without a Markdown\n"
	        "form in an <!-- rbc {…} --> comment, so it reads back to the same runbook.\n"
	        "--to json|md (default: the other format of FILE); -o writes to a file, else\n"
	        "standard output. The runbook is checked first, as rbc check does.\n"
	        "exit: 0 converted, 65 invalid runbook, 66 unreadable, 64 usage, 74 unwritable.\n");
}

/* Checks FILE, then writes it in the other format. */
int cmd_convert(int argc, char **argv)
{
	const char *file = NULL, *out = NULL, *to = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			convert_usage(stdout);
			return RBC_EXIT_PASS;
		} else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(a, "--to") == 0 && i + 1 < argc) {
			to = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "rbc convert: unknown option %s\n", a);
			convert_usage(stderr);
			return RBC_EXIT_USAGE;
		} else if (!file) {
			file = a;
		} else {
			fprintf(stderr, "rbc convert: one FILE at a time\n");
			return RBC_EXIT_USAGE;
		}
	}
	if (!file) {
		convert_usage(stderr);
		return RBC_EXIT_USAGE;
	}
	bool from_md = md_is_markdown(file);
	if (!to)
		to = from_md ? "json" : "md";
	if (strcmp(to, "json") != 0 && strcmp(to, "md") != 0 && strcmp(to, "markdown") != 0) {
		fprintf(stderr, "rbc convert: --to takes json or md, not %s\n", to);
		return RBC_EXIT_USAGE;
	}
	bool to_md = strcmp(to, "json") != 0;
	struct rbc_diags d = {0};
	struct runbook *rb = runbook_load(file, &d);
	diags_sort(&d);
	diags_print(&d, stderr);
	if (!rb) {
		int st = d.n && d.v[0].line == 0 && !d.v[0].path ? RBC_EXIT_NOINPUT : RBC_EXIT_DATAERR;
		diags_free(&d);
		return st;
	}
	runbook_free(rb);
	diags_free(&d);
	size_t len = 0;
	char *buf = read_file(file, JSON_MAX_BYTES, &len);
	if (!buf) {
		fprintf(stderr, "rbc convert: cannot read %s: %s\n", file, strerror(errno));
		return RBC_EXIT_NOINPUT;
	}
	struct rbc_diags d2 = {0};
	struct json_doc *doc = from_md ? md_doc_parse(file, buf, len, &d2) : json_doc_parse(file, buf, len, &d2);
	free(buf);
	diags_free(&d2);
	if (!doc)
		return RBC_EXIT_DATAERR;
	char *text;
	if (to_md) {
		text = md_write(json_doc_root(doc));
	} else {
		char *json = cJSON_Print(json_doc_root(doc));
		text = xasprintf("%s\n", json);
		free(json);
	}
	json_doc_free(doc);
	int status = RBC_EXIT_PASS;
	if (out) {
		struct rbc_error err = {0};
		if (!export_write_to(out, text, &err)) {
			char *msg = rbc_error_format(&err);
			fprintf(stderr, "rbc convert: %s\n", msg);
			free(msg);
			rbc_error_clear(&err);
			status = RBC_EXIT_IOERR;
		}
	} else {
		fputs(text, stdout);
		if (fflush(stdout) != 0)
			status = RBC_EXIT_IOERR;
	}
	free(text);
	return status;
}

/*
 * eval.c — `rbc eval`: tries a threshold against values given on the
 * command line, so runbook authors can check an expect before a run.
 *
 * Samples come from NAME=VALUE arguments (a comma list gives one sample
 * per item), whole --sample JSON objects and a --json body; a list of
 * length 1 (or a single --sample) is copied into every sample. The verdict
 * word goes to the first line of stdout, its explanation to the second;
 * the exit code is the verdict's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/cmd.h"
#include "rbc/error.h"
#include "rbc/expr.h"
#include "rbc/text.h"
#include "rbc/value.h"

/* Largest --json file read. */
#define EVAL_MAX_JSON (64u * 1024 * 1024)

static const char usage_line[] =
	"usage: rbc eval EXPR [NAME=VALUE...] [--sample JSON]... [--json FILE] "
	"[--warn EXPR] [--var NAME=VALUE]... [--error TEXT]";

static const char help_text[] =
	"\n"
	"Evaluates the threshold EXPR against the given samples and prints the\n"
	"verdict (PASS, WARN, FAIL, UNKNOWN or ERROR) on the first line and its\n"
	"explanation on the second. Exit status: 0 PASS, 1 WARN, 2 FAIL,\n"
	"3 UNKNOWN or ERROR, 64 usage or syntax error.\n"
	"\n"
	"  NAME=VALUE        a field of every sample: a number with an optional unit\n"
	"                    (120, 500ms, 0.1%), true, false, null, or text; a comma\n"
	"                    list (time=120,340,612) gives one sample per item.\n"
	"                    Lists must have equal lengths; a single value is copied\n"
	"                    into every sample. NAME may be a path: perf.load=2.\n"
	"  --sample JSON     one whole sample, e.g. '{\"status\":200,\"time\":12}'\n"
	"                    (repeatable; NAME=VALUE fields are merged into them)\n"
	"  --json FILE       FILE is the body of every sample: json and body\n"
	"  --warn EXPR       the warn threshold\n"
	"  --var NAME=VALUE  sets vars.NAME (repeatable)\n"
	"  --error TEXT      judge as if the probe had failed to run with TEXT\n"
	"\n"
	"The language is described in docs/thresholds.md.\n";

/* One NAME=VALUE argument: its path and one value per sample (or one for all). */
struct field_arg {
	char *name;
	struct rbc_value **vals;
	size_t n, cap;
};

struct var_arg {
	char *name;
	struct rbc_value *val;
};

struct eval_args {
	const char *expect, *warn, *json_file, *probe_error;
	struct field_arg *fields;
	size_t nfields, capfields;
	cJSON **samples; /* --sample objects */
	size_t nsamples, capsamples;
	struct var_arg *vars;
	size_t nvars, capvars;
};

/* Prints "rbc: eval: MESSAGE" and the usage line; returns the usage exit code. */
static int usage_error(const char *fmt, ...) RBC_PRINTF(1, 2);
/* (the declaration above carries the format check) */
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("rbc: eval: ", stderr);
	char *m = xvasprintf(fmt, ap); /* it quotes arguments */
	text_fputs(m, stderr);
	free(m);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage_line);
	return RBC_EXIT_USAGE;
}

/* True for NAME or a dotted path of names (header.Content-Type). */
static bool valid_path(const char *s, size_t n)
{
	bool seg_start = true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		bool digit = c >= '0' && c <= '9';
		if (c == '.') {
			if (seg_start)
				return false;
			seg_start = true;
			continue;
		}
		if (i == 0 && !letter)
			return false;
		if (!letter && !digit && c != '-')
			return false;
		seg_start = false;
	}
	return n > 0 && !seg_start;
}

/* NAME=VALUE with VALUE split at commas into one value per sample. */
static bool add_field(struct eval_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || !valid_path(arg, (size_t)(eq - arg)))
		return false;
	xgrow(&a->fields, &a->capfields, a->nfields + 1, sizeof *a->fields);
	struct field_arg *f = &a->fields[a->nfields++];
	memset(f, 0, sizeof *f);
	f->name = xstrndup(arg, (size_t)(eq - arg));
	const char *dim_field = strchr(f->name, '.') ? NULL : f->name;
	const char *p = eq + 1;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		xgrow(&f->vals, &f->cap, f->n + 1, sizeof *f->vals);
		f->vals[f->n++] = value_parse_scalar(p, len, dim_field);
		if (!comma)
			break;
		p = comma + 1;
	}
	return true;
}

/* --var NAME=VALUE */
static bool add_var(struct eval_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || !valid_path(arg, (size_t)(eq - arg)) || memchr(arg, '.', (size_t)(eq - arg)) ||
	    memchr(arg, '-', (size_t)(eq - arg)))
		return false;
	xgrow(&a->vars, &a->capvars, a->nvars + 1, sizeof *a->vars);
	a->vars[a->nvars].name = xstrndup(arg, (size_t)(eq - arg));
	a->vars[a->nvars].val = value_parse_scalar(eq + 1, strlen(eq + 1), NULL);
	a->nvars++;
	return true;
}

/* --sample JSON: must be an object. */
static bool add_sample(struct eval_args *a, const char *arg)
{
	cJSON *j = cJSON_Parse(arg);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return false;
	}
	xgrow(&a->samples, &a->capsamples, a->nsamples + 1, sizeof *a->samples);
	a->samples[a->nsamples++] = j;
	return true;
}

/* Frees what parse_args collected. */
static void args_free(struct eval_args *a)
{
	for (size_t i = 0; i < a->nfields; i++) {
		for (size_t k = 0; k < a->fields[i].n; k++)
			value_free(a->fields[i].vals[k]);
		free(a->fields[i].vals);
		free(a->fields[i].name);
	}
	free(a->fields);
	for (size_t i = 0; i < a->nsamples; i++)
		cJSON_Delete(a->samples[i]);
	free(a->samples);
	for (size_t i = 0; i < a->nvars; i++) {
		free(a->vars[i].name);
		value_free(a->vars[i].val);
	}
	free(a->vars);
}

/* The option names that take a value, and where it goes. */
enum opt { OPT_WARN, OPT_SAMPLE, OPT_JSON, OPT_VAR, OPT_ERROR };
static const struct {
	const char *name;
	enum opt opt;
} options[] = {
	{"--warn", OPT_WARN}, {"--sample", OPT_SAMPLE}, {"--json", OPT_JSON},
	{"--var", OPT_VAR}, {"--error", OPT_ERROR},
};

/* Applies option opt with value v; returns 0 or an exit code. */
static int apply_option(struct eval_args *a, enum opt opt, const char *v)
{
	switch (opt) {
	case OPT_WARN:
		a->warn = v;
		return 0;
	case OPT_JSON:
		a->json_file = v;
		return 0;
	case OPT_ERROR:
		a->probe_error = v;
		return 0;
	case OPT_SAMPLE:
		return add_sample(a, v) ? 0 : usage_error("--sample needs a JSON object, not '%s'", v);
	case OPT_VAR:
		return add_var(a, v) ? 0 : usage_error("--var needs NAME=VALUE, not '%s'", v);
	}
	return 0;
}

/* Parses argv into a; returns -1 to go on, or an exit code (--help: 0). */
static int parse_args(struct eval_args *a, int argc, char **argv)
{
	bool dashdash = false;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		/* Only --options and -h: an expression may start with '-' ("-x < 0"). */
		if (!dashdash && ((s[0] == '-' && s[1] == '-') || strcmp(s, "-h") == 0)) {
			if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
				printf("%s\n%s", usage_line, help_text);
				return 0;
			}
			if (strcmp(s, "--") == 0) {
				dashdash = true;
				continue;
			}
			size_t k = 0, n = 0;
			for (; k < RBC_ARRAY_LEN(options); k++) {
				n = strlen(options[k].name);
				if (strncmp(s, options[k].name, n) == 0 && (s[n] == '\0' || s[n] == '='))
					break;
			}
			if (k == RBC_ARRAY_LEN(options))
				return usage_error("unknown option '%s'", s);
			const char *v = s[n] == '=' ? s + n + 1 : NULL;
			if (!v && i + 1 >= argc)
				return usage_error("%s needs a value", options[k].name);
			int rc = apply_option(a, options[k].opt, v ? v : argv[++i]);
			if (rc)
				return rc;
		} else if (!a->expect) {
			a->expect = s;
		} else if (!add_field(a, s)) {
			return usage_error("expected NAME=VALUE, not '%s'", s);
		}
	}
	if (!a->expect)
		return usage_error("missing the expression");
	return -1;
}

/* Prints a syntax error of src with a caret under its column. */
static int syntax_error(const char *what, const char *src, const struct rbc_error *err)
{
	text_fprintf(stderr, "rbc: eval: syntax error%s at column %u: %s\n", what, err->col, err->msg);
	/* The expression, a control character (C1 too) or a byte that is not
	   UTF-8 as one blank: the caret below stays under its column. */
	for (size_t i = 0, n = strlen(src); i < n;) {
		uint32_t cp = (unsigned char)src[i];
		size_t l = cp < 0x80 ? 1 : utf8_decode(src + i, n - i, &cp);
		bool bad = !l || utf8_is_control(cp);
		if (bad)
			fputc(' ', stderr);
		else
			fwrite(src + i, 1, l, stderr);
		i += l ? l : 1;
	}
	fputc('\n', stderr);
	fprintf(stderr, "%*s^\n", (int)(err->col > 0 ? err->col - 1 : 0), "");
	return RBC_EXIT_USAGE;
}

/* Parses src; on error prints it and sets *rc. */
static struct expr *parse_or_report(const char *what, const char *src, int *rc)
{
	struct rbc_error err = {0};
	struct expr *e = expr_parse(src, &err);
	if (!e)
		*rc = syntax_error(what, src, &err);
	rbc_error_clear(&err);
	return e;
}

/* Sets the field at dotted path in sample to v (taken), making objects on the way. */
static void set_path(struct rbc_value *sample, const char *path, struct rbc_value *v)
{
	struct rbc_value *obj = sample;
	const char *p = path;
	for (const char *dot; (dot = strchr(p, '.')); p = dot + 1) {
		char *seg = xstrndup(p, (size_t)(dot - p));
		const struct rbc_value *next = value_obj_get(obj, seg);
		if (!next || next->type != VALUE_OBJ || next->refs > 1) {
			struct rbc_value *o = value_obj_new(obj == sample && strcmp(seg, "header") == 0);
			value_obj_set_take(obj, seg, o);
			next = o;
		}
		free(seg);
		/* next was made or taken over by this sample alone: changing it is fine. */
		obj = (struct rbc_value *)next;
	}
	value_obj_set_take(obj, p, v);
}


/* How many samples the arguments make; 0 with *bad set when lengths disagree. */
static size_t count_samples(const struct eval_args *a, const char **bad)
{
	size_t n = a->nsamples;
	*bad = NULL;
	for (size_t i = 0; i < a->nfields; i++)
		if (a->fields[i].n > n)
			n = a->fields[i].n;
	if (a->nsamples > 1 && a->nsamples != n)
		*bad = "--sample";
	for (size_t i = 0; i < a->nfields; i++)
		if (a->fields[i].n != 1 && a->fields[i].n != n)
			*bad = a->fields[i].name;
	if (n == 0 && a->json_file)
		n = 1;
	return n;
}

/* Builds the samples; returns 0 or an exit code. */
static int build_samples(const struct eval_args *a, struct rbc_value ***out, size_t *nout)
{
	const char *bad;
	size_t n = count_samples(a, &bad);
	if (bad) {
		text_fprintf(stderr, "rbc: eval: %s gives a different number of samples than the others "
		        "(lists must have equal lengths, or length 1)\n", bad);
		fprintf(stderr, "%s\n", usage_line);
		return RBC_EXIT_USAGE;
	}
	char *body = NULL;
	size_t bodylen = 0;
	cJSON *json = NULL;
	if (a->json_file) {
		body = read_file(a->json_file, EVAL_MAX_JSON, &bodylen);
		if (!body) {
			text_fprintf(stderr, "rbc: eval: cannot read %s: %s\n", a->json_file, strerror(errno));
			return RBC_EXIT_NOINPUT;
		}
		json = cJSON_ParseWithLength(body, bodylen);
		if (!json) {
			text_fprintf(stderr, "rbc: eval: %s is not valid JSON\n", a->json_file);
			free(body);
			return RBC_EXIT_DATAERR;
		}
	}
	struct rbc_value **s = n ? xcalloc(n, sizeof *s) : NULL;
	for (size_t i = 0; i < n; i++) {
		s[i] = a->nsamples ? value_sample_from_json(a->samples[a->nsamples == 1 ? 0 : i])
		                   : value_obj_new(false);
		if (json) {
			value_obj_set_take(s[i], "json", value_from_json(json));
			value_obj_set_take(s[i], "body", value_str_new(body, bodylen));
		}
		for (size_t k = 0; k < a->nfields; k++) {
			const struct field_arg *f = &a->fields[k];
			set_path(s[i], f->name, value_ref(f->vals[f->n == 1 ? 0 : i]));
		}
	}
	cJSON_Delete(json);
	free(body);
	*out = s;
	*nout = n;
	return 0;
}

/* Sets *ud when an expression reads the field error. */
static void note_error_field(const char *name, unsigned col, void *ud)
{
	(void)col;
	if (strcmp(name, "error") == 0)
		*(bool *)ud = true;
}

/*
 * A --error read by expect or warn is a sample to judge, as in a run
 * (docs/thresholds.md): it goes into every sample and is no ERROR; true then.
 */
static bool error_judged(const struct eval_args *a, const struct expr *expect,
                         const struct expr *warn, struct rbc_value ***samples, size_t *n)
{
	bool reads = false;
	if (!a->probe_error)
		return false;
	expr_foreach_field(expect, note_error_field, &reads);
	if (warn)
		expr_foreach_field(warn, note_error_field, &reads);
	if (reads && *n == 0) {
		*samples = xrealloc(*samples, sizeof **samples);
		(*samples)[(*n)++] = value_obj_new(false);
	}
	for (size_t i = 0; reads && i < *n; i++)
		value_obj_set_take((*samples)[i], "error", value_strz_new(a->probe_error));
	return reads;
}

/* vars.NAME from --var. */
static const struct rbc_value *lookup_var(const char *name, void *ud)
{
	const struct eval_args *a = ud;
	for (size_t i = a->nvars; i-- > 0;)
		if (strcmp(a->vars[i].name, name) == 0)
			return a->vars[i].val;
	return NULL;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_args a = {0};
	int rc = parse_args(&a, argc, argv);
	struct expr *expect = NULL, *warn = NULL;
	struct rbc_value **samples = NULL;
	size_t n = 0;
	if (rc >= 0)
		goto out;
	rc = 0;
	expect = parse_or_report("", a.expect, &rc);
	if (expect && a.warn)
		warn = parse_or_report(" in --warn", a.warn, &rc);
	if (rc || (rc = build_samples(&a, &samples, &n)) != 0)
		goto out;
	bool judged = error_judged(&a, expect, warn, &samples, &n);
	struct expr_env env = {samples, n, lookup_var, &a, NULL};
	char *explain;
	enum rbc_verdict v = expr_judge(expect, warn, &env, judged ? NULL : a.probe_error, &explain);
	printf("%s\n", verdict_name(v));
	text_printf("%s\n", explain); /* it quotes the values given */
	free(explain);
	rc = verdict_exit_code(v);
out:
	for (size_t i = 0; i < n; i++)
		value_free(samples[i]);
	free(samples);
	expr_free(expect);
	expr_free(warn);
	args_free(&a);
	return rc;
}

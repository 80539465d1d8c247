/*
 * fuzz_expr.c — libFuzzer harness for the threshold language.
 *
 * Every input is parsed as an expression. When it parses it is judged,
 * evaluated and tested for truth against fixed environments — no sample,
 * one sample, three samples with a hole, invalid UTF-8 and a NUL in the
 * text fields — and its variables are listed, so the lexer, the parser,
 * regex compilation and matching, every builtin and every explanation see
 * hostile input. Everything is freed: LeakSanitizer reports a leak on any
 * path as a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/expr.h"
#include "rbc/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a finding too: abort so libFuzzer keeps the input. */
static void expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_expr: contract broken: %s\n", what);
		abort();
	}
}

/* The samples every parsed input is judged against. */
static const char *const sample_json[] = {
	("{\"status\":200,\"time\":120,\"size\":2048,\"body\":\"{\\\"ok\\\":true}\","
	 "\"json\":{\"ok\":true,\"data\":{\"id\":7,\"items\":[1,2,{\"x\":null}]}},"
	 "\"header\":{\"Content-Type\":\"application/json\"},\"addrs\":[\"10.0.0.1\"],"
	 "\"perf\":{\"load\":1.5,\"time\":0.3},\"row\":{\"name\":\"alice\"},\"value\":0.001}"),
	("{\"status\":503,\"time\":612,\"exit\":1,\"stdout\":\"3 errors in 12.5 ms\","
	 "\"stderr\":\"\",\"state\":2,\"error\":\"timeout\"}"),
	"{\"status\":200,\"rows\":3}",
};

static struct rbc_value *samples[4];
static struct rbc_value *vars;

static const struct rbc_value *lookup_var(const char *name, void *ud)
{
	(void)ud;
	return value_obj_get(vars, name);
}

/* Builds the samples once; they are never freed (the process ends). */
static void init(void)
{
	if (vars)
		return;
	for (size_t i = 0; i < 3; i++) {
		cJSON *j = cJSON_Parse(sample_json[i]);
		samples[i] = value_sample_from_json(j);
		cJSON_Delete(j);
	}
	samples[3] = value_obj_new(false);
	value_obj_set_take(samples[3], "stdout", value_str_new("\xff\xfe" "a\0b\xc3", 6));
	value_obj_set_take(samples[3], "body", value_str_new("\xc0\x80 1e999 -", 10));
	vars = value_obj_new(false);
	value_obj_set_take(vars, "ENV", value_strz_new("blue"));
	value_obj_set_take(vars, "LIMIT", value_num_new(500, RBC_DIM_TIME));
	value_obj_set_take(vars, "R", value_strz_new("@10:20"));
}

static void count_var(const char *name, unsigned col, void *ud)
{
	expect(name && *name && col >= 1, "a variable has a name and a column");
	(*(size_t *)ud)++;
}

/* Judges, evaluates and tests e against samples [from, from + n). */
static void exercise(const struct expr *e, size_t from, size_t n)
{
	struct expr_env env = {n ? samples + from : NULL, n, lookup_var, NULL};
	char *explain = NULL;
	enum rbc_verdict v = expr_judge(e, e, &env, NULL, &explain);
	expect(explain != NULL, "a verdict is explained");
	expect(v != RBC_VERDICT_ERROR, "ERROR only from the probe");
	expect(strchr(explain, '\n') == NULL, "an explanation is one line");
	free(explain);

	struct rbc_value *val = expr_eval(e, &env, &explain);
	expect(val && explain, "eval gives a value and its explanation");
	char *f = value_format(val, 40), *t = value_to_text(val);
	cJSON *j = value_to_json(val);
	char *printed = cJSON_PrintUnformatted(j);
	expect(printed != NULL, "a value prints as JSON");
	cJSON_free(printed);
	cJSON_Delete(j);
	free(f);
	free(t);
	free(explain);
	value_free(val);

	int truth = expr_truth(e, &env, NULL);
	expect(truth >= -1 && truth <= 1, "truth is tri-state");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size > EXPR_MAX_LEN + 64)
		size = EXPR_MAX_LEN + 64;
	char *src = malloc(size + 1);
	memcpy(src, data, size);
	src[size] = '\0';

	struct rbc_error err = {0};
	struct expr *e = expr_parse(src, &err);
	expect(e ? err.msg == NULL : err.msg != NULL && err.col >= 1,
	       "an expression or an error with a column");
	if (e) {
		expect(strcmp(expr_source(e), src) == 0, "the source is kept");
		size_t nvars = 0;
		expr_foreach_var(e, count_var, &nvars);
		exercise(e, 0, 0);
		exercise(e, 0, 1);
		exercise(e, 0, 3);
		exercise(e, 1, 3);
		expr_free(e);
	} else {
		expect(err.col <= strlen(src) + 1, "the error column is inside the expression");
	}
	rbc_error_clear(&err);
	free(src);
	return 0;
}

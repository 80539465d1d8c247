/*
 * test_sample_record.c — what the journal keeps of a sample: the paths an
 * expression reads (expr_foreach_path), and the record the engine makes of
 * a sample (sample_record): the fields read and nothing else of a big JSON
 * body, long texts as a masked excerpt with their size and digest (a secret
 * at the cut is masked, never half kept), a bounded size whatever the
 * sample holds, and "elided" saying what was left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/engine.h"
#include "rbc/expr.h"
#include "rbc/mask.h"
#include "rbc/runbook.h"
#include "rbc/sha256.h"
#include "rbc/value.h"

#include "../../src/engine/internal.h"

#define SECRET "s3cr3t-token-value-1234567890"

/* expr_foreach_path callback: appends "path;" to a strbuf. */
static void add_path(const struct expr_path_step *steps, size_t n, void *ud)
{
	struct strbuf *sb = ud;
	for (size_t i = 0; i < n; i++) {
		if (!steps[i].name)
			sb_addf(sb, "[%ld]", steps[i].index);
		else
			sb_addf(sb, "%s%.*s", i ? "." : "", (int)steps[i].len, steps[i].name);
	}
	sb_addc(sb, ';');
}

static char *paths_of(const char *src)
{
	struct rbc_error err = {0};
	struct expr *e = expr_parse(src, &err);
	assert_non_null(e);
	struct strbuf sb = {0};
	expr_foreach_path(e, add_path, &sb);
	expr_free(e);
	return sb_take(&sb);
}

static void test_paths(void **state)
{
	(void)state;
	static const struct {
		const char *src, *want;
	} cases[] = {
		{"status == 200", "status;"},
		{"json.data.items[0].id == 1", "json.data.items[0].id;"},
		{"header[\"Content-Type\"] =~ /json/", "header.Content-Type;"},
		{"p95(time) < 500ms && all(status == 200)", "time;status;"},
		/* A computed index: the list is read whole; the index's own fields too. */
		{"json.items[len(json.items) - 1].id > 0", "json.items;json.items;"},
		{"json.items[-1].id > 0", "json.items;"},
		{"len(json(body).x) > 0", "body;"},
		{"vars.X == 1 && exists(row.count)", "row.count;"},
		{"1 + 2 == 3", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got = paths_of(cases[i].src);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: paths %s, want %s", cases[i].src, got, cases[i].want);
		free(got);
	}
}

struct fixture {
	uv_loop_t loop;
	struct runbook *rb;
	struct engine *e;
};

static void on_event(void *ud, const struct eng_event *ev)
{
	(void)ud;
	(void)ev;
}

static void fx_open(struct fixture *f, const char *expect)
{
	memset(f, 0, sizeof *f);
	uv_loop_init(&f->loop);
	char *json = xasprintf("{\"runbook\":\"r\",\"title\":\"R\",\"secrets\":[\"TOKEN\"],\"steps\":["
	                       "{\"id\":\"s\",\"title\":\"S\",\"http\":{\"url\":\"http://127.0.0.1:1/\"},"
	                       "\"expect\":\"%s\"}]}",
	                       expect);
	struct rbc_diags d = {0};
	f->rb = runbook_load_buffer("/tmp/test.json", json, strlen(json), &d);
	if (!f->rb)
		diags_print(&d, stderr);
	diags_free(&d);
	free(json);
	assert_non_null(f->rb);
	setenv("TOKEN", SECRET, 1);
	struct engine_opts o = {.loop = &f->loop, .runbooks = &f->rb, .nrunbooks = 1,
	                        .operator = "tester", .on_event = on_event};
	struct rbc_error err = {0};
	f->e = engine_new(&o, &err);
	assert_non_null(f->e);
}

static void fx_close(struct fixture *f)
{
	engine_free(f->e);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	runbook_free(f->rb);
	unsetenv("TOKEN");
}

/* A body of n bytes: "ab…" with the secret starting at byte at. */
static char *body_with_secret(size_t n, size_t at)
{
	char *b = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + i % 26);
	memcpy(b + at, SECRET, strlen(SECRET));
	b[n] = '\0';
	return b;
}

/* An HTTP-like sample: a body, its JSON (status, items × nitems, extra), a header. */
static struct rbc_value *sample_new(const char *body, size_t nitems)
{
	struct rbc_value *s = value_obj_new(false);
	value_obj_set_take(s, "status", value_num_new(200, RBC_DIM_NONE));
	value_obj_set_take(s, "time", value_num_new(12, RBC_DIM_TIME));
	value_obj_set_take(s, "size", value_num_new((double)strlen(body), RBC_DIM_SIZE));
	struct rbc_value *j = value_obj_new(false);
	value_obj_set_take(j, "status", value_strz_new("ok"));
	struct rbc_value *items = value_list_new();
	for (size_t i = 0; i < nitems; i++) {
		struct rbc_value *it = value_obj_new(false);
		value_obj_set_take(it, "id", value_num_new((double)i, RBC_DIM_NONE));
		value_obj_set_take(it, "name", value_strz_new("an item with a name of some length"));
		value_list_push_take(items, it);
	}
	value_obj_set_take(j, "items", items);
	value_obj_set_take(j, "extra", value_strz_new("x"));
	value_obj_set_take(s, "json", j);
	value_obj_set_take(s, "body", value_strz_new(body));
	struct rbc_value *h = value_obj_new(true);
	value_obj_set_take(h, "Content-Type", value_strz_new("application/json"));
	value_obj_set_take(s, "header", h);
	return s;
}

static const struct rbc_value *at(const struct rbc_value *v, const char *k1, const char *k2)
{
	const struct rbc_value *x = value_obj_get(v, k1);
	return x && k2 ? value_obj_get(x, k2) : x;
}

static size_t encoded_len(const struct rbc_value *v)
{
	cJSON *j = value_to_json(v);
	char *s = cJSON_PrintUnformatted(j);
	size_t n = strlen(s);
	cJSON_free(s);
	cJSON_Delete(j);
	return n;
}

static void test_record_keeps_what_was_read(void **state)
{
	(void)state;
	struct fixture f;
	fx_open(&f, "status == 200 && json.status == \\\"ok\\\"");
	struct eng_step *s = engine_find(f.e, "s");
	assert_non_null(s);
	/* The secret straddles the excerpt's end (256 bytes). */
	char *body = body_with_secret(600, 250);
	struct rbc_value *sample = sample_new(body, 1000);
	struct rbc_value *rec = sample_record(f.e, s, sample);

	assert_int_equal((int)at(rec, "status", NULL)->u.num.v, 200);
	assert_int_equal((int)at(rec, "size", NULL)->u.num.v, 600);
	const struct rbc_value *j = at(rec, "json", NULL);
	assert_int_equal(j->type, VALUE_OBJ);
	assert_int_equal(j->u.obj.n, 1); /* json.status alone */
	assert_string_equal(at(j, "status", NULL)->u.str.s, "ok");
	assert_int_equal((int)at(rec, "elided", "json")->type, VALUE_OBJ);
	assert_int_equal((int)at(at(rec, "elided", "json"), "keys", NULL)->u.num.v, 3);
	assert_int_equal((int)at(at(rec, "elided", "json"), "kept", NULL)->u.num.v, 1);

	/* The body: its first bytes, masked before the cut, never half a secret. */
	const struct rbc_value *b = at(rec, "body", NULL);
	assert_true(b->u.str.len <= 256);
	assert_memory_equal(b->u.str.s, body, 250);
	assert_null(strstr(b->u.str.s, "s3c"));
	assert_non_null(strstr(b->u.str.s, "\xe2\x80\xa2")); /* the mask begins there */
	assert_true(utf8_valid(b->u.str.s, b->u.str.len, NULL));
	/* Its size and the digest of the masked whole. */
	assert_int_equal((int)at(at(rec, "elided", "body"), "bytes", NULL)->u.num.v, 600);
	char *masked = mask_text(engine_secrets(f.e), body);
	struct sha256 sha;
	char hex[65];
	sha256_init(&sha);
	sha256_update(&sha, masked, strlen(masked));
	sha256_hex(&sha, hex);
	assert_string_equal(at(at(rec, "elided", "body"), "sha256", NULL)->u.str.s, hex);
	/* A small header nobody read is kept. */
	assert_string_equal(at(rec, "header", "content-type")->u.str.s, "application/json");

	free(masked);
	value_free(rec);
	value_free(sample);
	free(body);
	fx_close(&f);
}

static void test_record_is_bounded(void **state)
{
	(void)state;
	struct fixture f;
	/* json.items read whole, at an index and at a computed index. */
	fx_open(&f, "len(json.items) > 0 && json.items[3].id == 3 && json.items[len(json.items) - 1].id > 0");
	struct eng_step *s = engine_find(f.e, "s");
	char *body = body_with_secret(4 << 20, 1000);
	struct rbc_value *sample = sample_new(body, 100000);
	struct rbc_value *rec = sample_record(f.e, s, sample);
	size_t n = encoded_len(rec);
	if (n > 4096)
		fail_msg("the record of a 4 MiB body and 100,000 items takes %zu bytes", n);
	const struct rbc_value *items = at(rec, "json", "items");
	assert_int_equal(items->type, VALUE_LIST);
	assert_true(items->u.list.n > 3 && items->u.list.n < 100000);
	assert_int_equal((int)at(items->u.list.v[3], "id", NULL)->u.num.v, 3);
	const struct rbc_value *el = at(rec, "elided", NULL);
	assert_int_equal((int)at(value_obj_get(el, "json.items"), "items", NULL)->u.num.v, 100000);
	assert_int_equal((int)at(value_obj_get(el, "json.items"), "kept", NULL)->u.num.v,
	                 (int)items->u.list.n);
	assert_int_equal((int)at(value_obj_get(el, "body"), "bytes", NULL)->u.num.v, 4 << 20);
	value_free(rec);
	value_free(sample);
	free(body);

	/* Nobody reads json: a big one is left out, its size noted. */
	fx_close(&f);
	fx_open(&f, "status == 200");
	s = engine_find(f.e, "s");
	sample = sample_new("{}", 1000);
	rec = sample_record(f.e, s, sample);
	assert_null(at(rec, "json", NULL));
	assert_int_equal((int)at(at(rec, "elided", "json"), "keys", NULL)->u.num.v, 3);
	assert_int_equal((int)at(at(rec, "elided", "json"), "kept", NULL)->u.num.v, 0);
	assert_string_equal(at(rec, "body", NULL)->u.str.s, "{}");
	value_free(rec);
	value_free(sample);
	fx_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_record_keeps_what_was_read),
		cmocka_unit_test(test_record_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_outbuf.c — the console's bounded output: lines from any chunking,
 * two streams, the limits on lines, bytes and line length, the ring's wrap,
 * carriage returns, and the count of lines that are only on disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbc/outbuf.h"

static void add_s(struct outbuf *o, int stream, const char *s)
{
	outbuf_add(o, stream, s, strlen(s));
}

static void lines_from_any_chunking(void **state)
{
	(void)state;
	const char *text = "alpha\nbeta\n\ngamma delta\nlast";
	/* The same text cut at every possible pair of places gives the same lines. */
	for (size_t i = 0; i <= strlen(text); i++)
		for (size_t j = i; j <= strlen(text); j++) {
			struct outbuf o = {0};
			outbuf_add(&o, 1, text, i);
			outbuf_add(&o, 1, text + i, j - i);
			outbuf_add(&o, 1, text + j, strlen(text) - j);
			assert_int_equal(o.n, 4);
			assert_string_equal(outbuf_line(&o, 0, NULL), "gamma delta");
			assert_string_equal(outbuf_line(&o, 1, NULL), "");
			assert_string_equal(outbuf_line(&o, 3, NULL), "alpha");
			assert_null(outbuf_line(&o, 4, NULL));
			outbuf_flush(&o);
			assert_int_equal(o.n, 5);
			assert_int_equal(o.total, 5);
			assert_string_equal(outbuf_line(&o, 0, NULL), "last");
			outbuf_clear(&o);
		}
}

static void two_streams_keep_their_lines_apart(void **state)
{
	(void)state;
	struct outbuf o = {0};
	add_s(&o, 1, "out one ");
	add_s(&o, 2, "err one\n");
	add_s(&o, 1, "continued\n");
	int st = 0;
	assert_string_equal(outbuf_line(&o, 0, &st), "out one continued");
	assert_int_equal(st, 1);
	assert_string_equal(outbuf_line(&o, 1, &st), "err one");
	assert_int_equal(st, 2);
	add_s(&o, 2, "no newline");
	add_s(&o, 1, "neither");
	outbuf_flush(&o);
	assert_int_equal(o.n, 4);
	assert_string_equal(outbuf_line(&o, 1, &st), "neither");
	assert_int_equal(st, 1);
	assert_string_equal(outbuf_line(&o, 0, &st), "no newline");
	assert_int_equal(st, 2);
	outbuf_clear(&o);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.total, 0);
}

static void at_most_the_line_limit(void **state)
{
	(void)state;
	struct outbuf o = {0};
	char line[32];
	for (int i = 0; i < 3 * OUTBUF_LINES + 7; i++) {
		int n = snprintf(line, sizeof line, "line %d\n", i);
		outbuf_add(&o, 1, line, (size_t)n);
	}
	assert_int_equal(o.n, OUTBUF_LINES);
	assert_int_equal(o.total, 3 * OUTBUF_LINES + 7);
	snprintf(line, sizeof line, "line %d", 3 * OUTBUF_LINES + 6);
	assert_string_equal(outbuf_line(&o, 0, NULL), line);
	snprintf(line, sizeof line, "line %d", 2 * OUTBUF_LINES + 7);
	assert_string_equal(outbuf_line(&o, OUTBUF_LINES - 1, NULL), line);
	outbuf_clear(&o);
}

static void at_most_the_byte_limit_across_the_wrap(void **state)
{
	(void)state;
	struct outbuf o = {0};
	/* Lines of varying length, so the ring wraps at uneven places. */
	char line[1500];
	unsigned long long n = 0;
	for (int i = 0; i < 5000; i++) {
		size_t len = 300 + (size_t)(i * 37) % 1100;
		int h = snprintf(line, sizeof line, "%d:", i);
		memset(line + h, 'a' + i % 26, len - (size_t)h);
		line[len] = '\n';
		outbuf_add(&o, 1 + i % 2, line, len + 1);
		n++;
		/* Everything kept fits, and every kept line is the one pushed. */
		size_t bytes = 0;
		for (size_t b = 0; b < o.n; b++) {
			int st;
			const char *l = outbuf_line(&o, b, &st);
			int id = atoi(l);
			assert_int_equal(id, i - (int)b);
			assert_int_equal(st, 1 + id % 2);
			assert_int_equal(strlen(l), 300 + (size_t)(id * 37) % 1100);
			assert_int_equal(l[strlen(l) - 1], 'a' + id % 26);
			bytes += strlen(l) + 1;
		}
		assert_true(bytes <= OUTBUF_BYTES);
	}
	assert_int_equal(o.total, n);
	assert_true(o.n > 300); /* the bytes, not the line count, bound it here */
	assert_true(o.n < OUTBUF_LINES);
	outbuf_clear(&o);
}

static void a_long_line_is_cut(void **state)
{
	(void)state;
	struct outbuf o = {0};
	size_t big = 10 * OUTBUF_LINE;
	char *s = malloc(big + 1);
	memset(s, 'x', big);
	s[big] = '\n';
	outbuf_add(&o, 1, s, big + 1);            /* in one piece */
	for (size_t i = 0; i < big; i += 100)     /* and in many */
		outbuf_add(&o, 1, s, 100);
	add_s(&o, 1, "\n");
	assert_int_equal(o.n, 2);
	assert_int_equal(strlen(outbuf_line(&o, 0, NULL)), OUTBUF_LINE);
	assert_int_equal(strlen(outbuf_line(&o, 1, NULL)), OUTBUF_LINE);
	free(s);
	outbuf_clear(&o);
}

static void carriage_returns_as_a_terminal_shows_them(void **state)
{
	(void)state;
	struct outbuf o = {0};
	add_s(&o, 1, "10%\r50%\r100%\n");
	assert_string_equal(outbuf_line(&o, 0, NULL), "100%");
	add_s(&o, 1, "windows line\r\n");
	assert_string_equal(outbuf_line(&o, 0, NULL), "windows line");
	/* A progress bar in pieces, the CR at the end of a piece. */
	add_s(&o, 1, "downloading 1%\r");
	add_s(&o, 1, "downloading 2%\r");
	add_s(&o, 1, "done\n");
	assert_string_equal(outbuf_line(&o, 0, NULL), "done");
	/* Thousands of updates never grow the unfinished line. */
	for (int i = 0; i < 5000; i++)
		add_s(&o, 1, "\rprogress 99.9%");
	assert_true(o.part[0].len <= OUTBUF_LINE);
	add_s(&o, 1, " ok\n");
	assert_string_equal(outbuf_line(&o, 0, NULL), "progress 99.9% ok");
	assert_int_equal(o.total, 4);
	outbuf_clear(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_from_any_chunking),
		cmocka_unit_test(two_streams_keep_their_lines_apart),
		cmocka_unit_test(at_most_the_line_limit),
		cmocka_unit_test(at_most_the_byte_limit_across_the_wrap),
		cmocka_unit_test(a_long_line_is_cut),
		cmocka_unit_test(carriage_returns_as_a_terminal_shows_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

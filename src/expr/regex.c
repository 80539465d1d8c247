/*
 * regex.c — regex literals on PCRE2.
 *
 * A pattern is compiled once, when the expression is parsed, in UTF mode
 * that tolerates invalid UTF-8 in the subject (probe output is any bytes).
 * Matching runs under match, depth and heap limits, so a catastrophic
 * pattern gives an unknown result instead of hanging the console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "internal.h"

/* Limits of one match: backtracking steps, nesting, and heap in KiB. */
#define REGEX_MATCH_LIMIT 1000000
#define REGEX_DEPTH_LIMIT 10000
#define REGEX_HEAP_LIMIT (32 * 1024)

static const struct {
	char flag;
	uint32_t option;
} flag_options[] = {
	{'i', PCRE2_CASELESS},
	{'m', PCRE2_MULTILINE},
	{'s', PCRE2_DOTALL},
	{'x', PCRE2_EXTENDED},
};

struct regex {
	pcre2_code *code;
	pcre2_match_context *mctx;
};

/* PCRE2's message for error code rc (caller frees). */
static char *pcre_message(int rc)
{
	PCRE2_UCHAR buf[256];
	if (pcre2_get_error_message(rc, buf, sizeof buf) < 0)
		return xasprintf("error %d", rc);
	return xstrdup((const char *)buf);
}

struct regex *expr_regex_new(const char *pattern, size_t n, const char *flags, size_t nflags,
                             size_t *erroff, char **msg)
{
	uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	for (size_t i = 0; i < nflags; i++) {
		size_t k = 0;
		while (k < RBC_ARRAY_LEN(flag_options) && flag_options[k].flag != flags[i])
			k++;
		if (k == RBC_ARRAY_LEN(flag_options)) {
			*erroff = n + 2 + i;
			*msg = xasprintf("unknown regex flag '%c' (use i, m, s or x)", flags[i]);
			return NULL;
		}
		options |= flag_options[k].option;
	}
	int rc;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, n, options, &rc, &off, NULL);
	if (!code) {
		char *m = pcre_message(rc);
		*erroff = 1 + (off > n ? n : off);
		*msg = xasprintf("bad regex: %s", m);
		free(m);
		return NULL;
	}
	struct regex *re = xcalloc(1, sizeof *re);
	re->code = code;
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->mctx) {
		fprintf(stderr, "rbc: out of memory\n");
		abort();
	}
	pcre2_set_match_limit(re->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, REGEX_HEAP_LIMIT);
	return re;
}

void expr_regex_free(struct regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	pcre2_match_context_free(re->mctx);
	free(re);
}

int expr_regex_match(const struct regex *re, const char *s, size_t n,
                     struct rbc_value **group, size_t *group_at, char **why)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!md) {
		fprintf(stderr, "rbc: out of memory\n");
		abort();
	}
	int rc = pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), n, 0, 0, md, re->mctx);
	if (rc == PCRE2_ERROR_NOMATCH) {
		pcre2_match_data_free(md);
		return 0;
	}
	if (rc < 0) {
		*why = pcre_message(rc);
		pcre2_match_data_free(md);
		return -1;
	}
	if (group) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		uint32_t g = pcre2_get_ovector_count(md) > 1 && rc > 1 ? 1 : 0;
		bool has_groups = pcre2_get_ovector_count(md) > 1;
		if (has_groups && g == 0) {
			*group = NULL; /* group 1 did not take part */
		} else if (ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] < ov[2 * g]) {
			*group = NULL;
		} else {
			*group = value_str_new(s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
			if (group_at)
				*group_at = ov[2 * g];
			/* Which ends of the subject it reaches, for the caller to
			   keep a window's cut (value_str_cut) where it touches one. */
			(*group)->u.str.cut = (ov[2 * g] == 0 ? MASK_CUT_HEAD : 0u) |
			                      (ov[2 * g + 1] == n ? MASK_CUT_TAIL : 0u);
		}
	}
	pcre2_match_data_free(md);
	return 1;
}

const struct regex *expr_regex_of(struct ectx *c, const struct node *n, const struct rbc_value *v,
                                  struct regex **owned, struct rbc_value **why)
{
	*owned = NULL;
	if (n->kind == N_REGEX)
		return n->re;
	if (v->type != VALUE_STR) {
		/* re() has said why already: an unknown, or not text. */
		*why = value_ref(v);
		return NULL;
	}
	size_t off = 0;
	char *msg = NULL;
	*owned = expr_regex_new(v->u.str.s, v->u.str.len, "", 0, &off, &msg);
	if (!*owned) {
		struct strbuf sb = {0};
		expr_explain_operand(c, n, v, NULL, &sb);
		/* msg is "bad regex: …", as for a literal. */
		*why = value_missing_new("%s is not a regex: %s", sb_borrow(&sb),
		                         strncmp(msg, "bad regex: ", 11) == 0 ? msg + 11 : msg);
		sb_free(&sb);
		free(msg);
	}
	return *owned;
}

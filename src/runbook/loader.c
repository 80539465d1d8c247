/*
 * loader.c — what the files of the loader share (loader.h): ids, the
 * uniqueness check of names, lists of strings.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/json.h"
#include "loader.h"

/* An id (loader.h). */
bool loader_is_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RB_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return false;
	}
	return true;
}

/* The id string n (loader.h). */
char *loader_get_id(struct loader *L, const cJSON *n)
{
	if (!keys_want_string(&L->r, n))
		return NULL;
	if (!loader_is_id(n->valuestring)) {
		keys_err(&L->r, n, "invalid id \"%s\": use letters, digits, '_', '.', '-' (first a letter or digit), at most %d characters",
		    n->valuestring, RB_MAX_ID);
		return NULL;
	}
	return xstrdup(n->valuestring);
}

/* Orders names, then by place. */
static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Adds a name to the list (loader.h). */
void loader_named_add(struct loader *L, struct named **v, size_t *n, size_t *cap,
                      const char *name, const cJSON *node)
{
	xgrow(v, cap, *n + 1, sizeof **v);
	(*v)[*n] = (struct named){name, *n, node, xstrdup(L->r.path.len ? L->r.path.s : "(root)")};
	(*n)++;
}

/*
 * Reports every repeated name in v as "<what> "<name>" … (first at L:C)"
 * at the later occurrence, in n log n; frees v.
 */
void loader_check_unique(struct loader *L, struct named *v, size_t n, const char *what)
{
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_named);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(v[i].name, v[first].name) != 0) {
			first = i;
			continue;
		}
		unsigned fl = 0, fc = 0, line = 0, col = 0;
		json_doc_pos(L->r.doc, v[first].node, false, &fl, &fc);
		json_doc_pos(L->r.doc, v[i].node, false, &line, &col);
		diags_add(L->r.d, false, L->r.file, line, col, v[i].path, "%s \"%s\" is given twice (first at %u:%u)",
		          what, v[i].name, fl, fc);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* An array of non-empty strings. */
void loader_strings(struct loader *L, const cJSON *m, char ***out, size_t *n)
{
	if (!keys_want_array(&L->r, m, false))
		return;
	*out = xcalloc((size_t)cJSON_GetArraySize(m), sizeof **out);
	size_t i = 0;
	for (const cJSON *c = m->child; c; c = c->next, i++) {
		size_t old = keys_push_index(&L->r, i);
		char *s = keys_xtext(&L->r, c);
		if (s)
			(*out)[(*n)++] = s;
		keys_pop(&L->r, old);
	}
}

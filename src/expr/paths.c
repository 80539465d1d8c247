/*
 * paths.c — which sample fields an expression reads, as paths
 * (expr_foreach_path): what the journal keeps of a sample is what the
 * judgement read.
 *
 * A path is a field, then the .name steps and the [index] steps with a
 * literal index that follow it. A computed index ends the path before it:
 * which item is read is known only when the expression runs, so the value
 * there counts as read whole (and the fields of the index expression are
 * paths of their own).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rbc/expr.h"

struct path_walk {
	void (*fn)(const struct expr_path_step *steps, size_t n, void *ud);
	void *ud;
};

static void walk(struct path_walk *w, const struct node *n);

/* A literal index as a path step; false when the index is computed (or a
   negative number, which counts from the end). */
static bool literal_step(const struct node *b, struct expr_path_step *st)
{
	if (b->kind != N_LIT)
		return false;
	if (b->lit->type == VALUE_STR) {
		*st = (struct expr_path_step){.name = b->lit->u.str.s, .len = b->lit->u.str.len};
		return true;
	}
	double v = b->lit->type == VALUE_NUM ? b->lit->u.num.v : -1;
	if (v < 0 || v > 1e9 || floor(v) != v)
		return false;
	*st = (struct expr_path_step){.index = (long)v};
	return true;
}

/* n is a .name or [index] step, or a field: reports the path it ends (if
   it starts at a field) and walks what else it holds. */
static void walk_path(struct path_walk *w, const struct node *n)
{
	size_t depth = 0;
	const struct node *base = n;
	while (base->kind == N_MEMBER || base->kind == N_INDEX) {
		depth++;
		base = base->a;
	}
	if (base->kind != N_FIELD)
		walk(w, base); /* json(body).x: body is read whole */
	/* Each path its own steps: index expressions hold paths of their own. */
	struct expr_path_step *steps = xcalloc(depth + 1, sizeof *steps);
	/* Steps from the field outwards; the path ends at the first computed index. */
	size_t len = depth + 1;
	const struct node *at = n;
	for (size_t i = depth; i > 0; i--, at = at->a) {
		struct expr_path_step st = {0};
		if (at->kind == N_MEMBER) {
			st.name = at->name;
			st.len = strlen(at->name);
		} else {
			walk(w, at->b);
			if (!literal_step(at->b, &st))
				len = i;
		}
		steps[i] = st;
	}
	if (base->kind == N_FIELD) {
		steps[0] = (struct expr_path_step){.name = base->name, .len = strlen(base->name)};
		w->fn(steps, len, w->ud);
	}
	free(steps);
}

static void walk(struct path_walk *w, const struct node *n)
{
	if (!n)
		return;
	if (n->kind == N_FIELD || n->kind == N_MEMBER || n->kind == N_INDEX) {
		walk_path(w, n);
		return;
	}
	walk(w, n->a);
	walk(w, n->b);
	for (size_t i = 0; i < n->nargs; i++)
		walk(w, n->args[i]);
}

void expr_foreach_path(const struct expr *e,
                       void (*fn)(const struct expr_path_step *steps, size_t n, void *ud), void *ud)
{
	if (!e)
		return;
	struct path_walk w = {.fn = fn, .ud = ud};
	walk(&w, e->root);
}

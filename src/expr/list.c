/*
 * list.c — functions over a list value whose last argument is read once
 * per element as `it`: count(list, cond), any(list, cond), all(list, cond),
 * filter(list, cond) and map(list, expr) (docs/thresholds.md, Lists).
 *
 * Conditions follow the aggregates' three-valued logic: any() is true as
 * soon as one element holds and unknown only when none holds but some are
 * unknown; all() mirrors it; count() and filter() need every element known;
 * map() needs every value known. An empty list is no unknown: count 0,
 * any false, all true.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The condition or expression read per element. */
static const struct node *per_item(const struct node *call)
{
	return call->args[1];
}

/*
 * Evaluates the list argument of call: the list (new reference), or NULL
 * with *r set to the unknown or to "NAME() needs a list".
 */
static struct rbc_value *list_of(struct ectx *c, const struct node *call, struct rbc_value **r)
{
	struct rbc_value *l = expr_eval_node(c, call->args[0]);
	if (l->type == VALUE_LIST)
		return l;
	if (l->type == VALUE_MISSING) {
		*r = l;
		return NULL;
	}
	char *d = expr_describe(c, l);
	*r = value_missing_new("%s() needs a list as argument 1, not %s", call->fn->name, d);
	free(d);
	value_free(l);
	return NULL;
}

/* Evaluates the per-element argument with `it` bound to item; pred: as a truth. */
static struct rbc_value *with_it(struct ectx *c, const struct node *call,
                                 const struct rbc_value *item, bool pred)
{
	const struct rbc_value *outer = c->it;
	c->it = item;
	struct rbc_value *v = pred ? expr_eval_pred(c, per_item(call))
	                           : expr_eval_node(c, per_item(call));
	c->it = outer;
	return v;
}

/* MISSING "CALL: item K: WHY" for the element at index i whose value v is unknown. */
static struct rbc_value *item_unknown(struct ectx *c, const struct node *call, size_t i,
                                      const struct rbc_value *v)
{
	return value_missing_new("%.*s: item %zu: %s", expr_node_len(c->e, call),
	                         expr_node_src(c->e, call), i + 1, v->u.why);
}

/* The condition of call over every element of l, as the tally of a predicate. */
struct list_tally {
	size_t n, hold, fail, unknown;
	long first_hold, first_fail, first_unknown;
	struct rbc_value *unknown_why; /* owned */
};

/* Tallies the condition of call over l. */
static void tally_items(struct ectx *c, const struct node *call, const struct rbc_value *l,
                        struct list_tally *t)
{
	memset(t, 0, sizeof *t);
	t->n = l->u.list.n;
	t->first_hold = t->first_fail = t->first_unknown = -1;
	for (size_t i = 0; i < l->u.list.n; i++) {
		struct rbc_value *v = with_it(c, call, l->u.list.v[i], true);
		if (v->type == VALUE_MISSING) {
			if (t->unknown++ == 0) {
				t->first_unknown = (long)i;
				t->unknown_why = value_ref(v);
			}
		} else if (v->u.b) {
			if (t->hold++ == 0)
				t->first_hold = (long)i;
		} else if (t->fail++ == 0) {
			t->first_fail = (long)i;
		}
		value_free(v);
	}
}

/*
 * A predicate over the list: all (holds when none fails) or any (holds
 * when one holds); unknown when undecided and some element is unknown.
 */
static struct rbc_value *quantify(struct ectx *c, const struct node *call, bool every)
{
	struct rbc_value *r;
	struct rbc_value *l = list_of(c, call, &r);
	if (!l)
		return r;
	struct list_tally t;
	tally_items(c, call, l, &t);
	bool decided = every ? t.fail > 0 : t.hold > 0;
	if (!decided && t.unknown)
		r = item_unknown(c, call, (size_t)t.first_unknown, t.unknown_why);
	else
		r = value_bool_new(every ? !decided : decided);
	value_free(t.unknown_why);
	value_free(l);
	return r;
}

/* all(list, cond): whether cond holds for every element. */
static struct rbc_value *fn_all_items(struct ectx *c, const struct node *call)
{
	return quantify(c, call, true);
}

/* any(list, cond): whether cond holds for some element. */
static struct rbc_value *fn_any_items(struct ectx *c, const struct node *call)
{
	return quantify(c, call, false);
}

/*
 * Keeps the elements of the list where cond holds: into a new list when
 * keep is not NULL, else only counted. Returns NULL, or the unknown.
 */
static struct rbc_value *select_items(struct ectx *c, const struct node *call, size_t *count,
                                      struct rbc_value *keep)
{
	struct rbc_value *r;
	struct rbc_value *l = list_of(c, call, &r);
	if (!l)
		return r;
	*count = 0;
	r = NULL;
	for (size_t i = 0; !r && i < l->u.list.n; i++) {
		struct rbc_value *v = with_it(c, call, l->u.list.v[i], true);
		if (v->type == VALUE_MISSING) {
			r = item_unknown(c, call, i, v);
		} else if (v->u.b) {
			(*count)++;
			if (keep)
				value_list_push_take(keep, value_ref(l->u.list.v[i]));
		}
		value_free(v);
	}
	value_free(l);
	return r;
}

/* count(list, cond): the number of elements where cond holds. */
static struct rbc_value *fn_count_items(struct ectx *c, const struct node *call)
{
	size_t n = 0;
	struct rbc_value *r = select_items(c, call, &n, NULL);
	return r ? r : value_num_new((double)n, RBC_DIM_NONE);
}

/* filter(list, cond): the elements where cond holds, in order. */
static struct rbc_value *fn_filter(struct ectx *c, const struct node *call)
{
	size_t n = 0;
	struct rbc_value *keep = value_list_new();
	struct rbc_value *r = select_items(c, call, &n, keep);
	if (r) {
		value_free(keep);
		return r;
	}
	return keep;
}

/* map(list, expr): the value of expr for each element, in order. */
static struct rbc_value *fn_map(struct ectx *c, const struct node *call)
{
	struct rbc_value *r;
	struct rbc_value *l = list_of(c, call, &r);
	if (!l)
		return r;
	r = value_list_new();
	for (size_t i = 0; i < l->u.list.n; i++) {
		struct rbc_value *v = with_it(c, call, l->u.list.v[i], false);
		if (v->type == VALUE_MISSING) {
			value_free(r);
			r = item_unknown(c, call, i, v);
			value_free(v);
			break;
		}
		value_list_push_take(r, v);
	}
	value_free(l);
	return r;
}

/*
 * Explains any() and all(): "all(list, cond) = false: 2/3 items hold; first
 * failure item 2: it.role = \"Replica\" != \"Leader\"" (the first match for
 * a true any()).
 */
static void explain_quantify(struct ectx *c, const struct node *call, const struct rbc_value *v,
                             struct strbuf *sb)
{
	struct rbc_value *r;
	struct rbc_value *l = list_of(c, call, &r);
	sb_add(sb, expr_node_src(c->e, call), (size_t)expr_node_len(c->e, call));
	sb_adds(sb, v->u.b ? " = true" : " = false");
	if (!l) {
		value_free(r);
		return;
	}
	struct list_tally t;
	tally_items(c, call, l, &t);
	sb_addf(sb, ": %zu/%zu items hold", t.hold, t.n);
	bool every = strcmp(call->fn->name, "all") == 0;
	long shown = every ? t.first_fail : t.first_hold;
	if (shown >= 0) {
		struct rbc_value *item = with_it(c, call, l->u.list.v[shown], true);
		const struct rbc_value *outer = c->it;
		sb_addf(sb, "; first %s item %ld: ", every ? "failure" : "match", shown + 1);
		c->it = l->u.list.v[shown];
		expr_explain_node(c, per_item(call), item, sb);
		c->it = outer;
		value_free(item);
	}
	value_free(t.unknown_why);
	value_free(l);
}

/* At parse time: a literal first argument must be a list. */
static char *check_list(struct node *call, size_t *at)
{
	const struct node *l = call->args[0];
	if (!(l->kind == N_LIT && l->lit->type != VALUE_LIST) && l->kind != N_REGEX)
		return NULL;
	*at = l->start;
	return xasprintf("%s(list, …) needs a list as argument 1, such as json.items or [1, 2]",
	                 call->fn->name);
}

const struct builtin expr_list_functions[] = {
	{"count", 2, 2, false, 0, fn_count_items, check_list, NULL},
	{"any", 2, 2, false, 0, fn_any_items, check_list, explain_quantify},
	{"all", 2, 2, false, 0, fn_all_items, check_list, explain_quantify},
	{"filter", 2, 2, false, 0, fn_filter, check_list, NULL},
	{"map", 2, 2, false, 0, fn_map, check_list, NULL},
};
const size_t expr_nlist_functions = RBC_ARRAY_LEN(expr_list_functions);

bool expr_builtin_binds_it(const struct builtin *fn)
{
	return fn >= expr_list_functions && fn < expr_list_functions + expr_nlist_functions;
}

/*
 * iterate.c — loops (docs/runbook-format.md, "Loops"): when the run reaches a
 * group with foreach, its list is read (written out, or a variable's text:
 * a JSON array, comma- or whitespace-separated) and the group grows one
 * child group per item, `patch[db-01]` (the item, else its 1-based index
 * when the item is no id), its steps copies of the group's whose ids carry
 * the iteration's (`patch[db-01].restart`, callee.c makes them), the item
 * bound to the loop's variable for them alone.
 *
 * The scheduler runs the iterations as branches (flow.c), as many at
 * once as parallel says; here they are only made.
 */
#include <stdlib.h>
#include <string.h>

#include "callee.h"
#include "emit.h"
#include "iterate.h"
#include "rbc/strmap.h"
#include "tree.h"

/* True when item may stand in an id: letters, digits, '_', '.', '-', first a
   letter or digit, 40 characters at most. */
static bool id_safe(const char *item)
{
	size_t n = strlen(item);
	if (!n || n > 40 || !((item[0] >= 'a' && item[0] <= 'z') || (item[0] >= 'A' && item[0] <= 'Z') ||
	                      (item[0] >= '0' && item[0] <= '9')))
		return false;
	return strspn(item, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Builds g's iterations over items (n of them) and their nodes. */
static void build(struct engine *e, struct node *g, char *const *items, size_t n)
{
	const struct rb_step *gd = g->s.def;
	struct strmap seen = {0};
	g->s.children = n ? xcalloc(n, sizeof *g->s.children) : NULL;
	g->s.nchildren = 0;
	for (size_t i = 0; i < n; i++) {
		char idx[24];
		snprintf(idx, sizeof idx, "%zu", i + 1);
		const char *label = id_safe(items[i]) && !strmap_get(&seen, items[i]) ? items[i] : idx;
		strmap_set(&seen, label, (void *)gd);
		struct rb_step *it = xcalloc(1, sizeof *it);
		it->id = xasprintf("%s[%s]", gd->id, label);
		it->number = xasprintf("%s.%zu", gd->number, i + 1);
		it->title = gd->title;
		it->path = xasprintf("%s[%s]", gd->path, label);
		it->line = gd->line;
		it->col = gd->col;
		it->action = RB_GROUP;
		it->on_fail = RB_ON_FAIL_CONTINUE; /* max_failures decides, not a stop */
		it->parent = (struct rb_step *)gd;
		it->runbook = gd->runbook;
		it->nchildren = gd->nchildren;
		it->children = gd->nchildren ? xcalloc(gd->nchildren, sizeof *it->children) : NULL;
		callee_keep(e, it);
		for (size_t k = 0; k < gd->nchildren; k++) {
			char *num = xasprintf("%s.%zu", it->number, k + 1);
			it->children[k] = callee_copy(e, gd->children[k], it, it->id, num);
			free(num);
		}
		struct node *c = tree_node_new(e, it, g->s.rb, g, i);
		c->id_scope = true;
		c->loop_var = gd->foreach->var;
		c->loop_item = xstrdup(items[i]);
		g->s.children[g->s.nchildren++] = &c->s;
		engine_titles_init(e, &c->s);
	}
	strmap_free(&seen);
	vars_scratch_release(e);
	g->expanded = true;
	char *t = engine_loop_title(e, g);
	if (t) {
		free(g->s.title);
		g->s.title = t;
	}
}

/* Expands loop g when the run reaches it (iterate.h). */
char *iterate_expand(struct engine *e, struct node *g)
{
	const struct rb_foreach *fe = g->s.def->foreach;
	char **items = fe->items;
	long n = (long)fe->nitems;
	char *text = NULL, *why = NULL;
	if (fe->in) {
		if (!vars_expand(e, &g->s, fe->in, VARS_PLAIN, &text, &why)) {
			char *m = engine_mask(e, why);
			free(why);
			why = xasprintf("foreach \"in\" %s: %s", fe->in, m);
			free(m);
			return why;
		}
		n = rb_list_split(text, &items, &why);
		free(text);
		if (n < 0) {
			char *m = engine_mask(e, why);
			free(why);
			why = xasprintf("foreach \"in\" %s: %s", fe->in, m);
			free(m);
			return why;
		}
	}
	if (n > RB_MAX_ITERATIONS) {
		why = xasprintf("foreach \"in\" %s: %ld items: at most %d iterations",
		                fe->in ? fe->in : "(the list written)", n, RB_MAX_ITERATIONS);
	} else {
		build(e, g, items, (size_t)n);
		struct strbuf sb = {0};
		sb_addf(&sb, "%ld item%s", n, n == 1 ? "" : "s");
		for (long i = 0; i < n && i < 10; i++)
			sb_addf(&sb, "%s%s", i ? ", " : ": ", items[i]);
		if (n > 10)
			sb_addf(&sb, ", … %ld more", n - 10);
		char *m = engine_mask(e, sb.s ? sb.s : "");
		sb_free(&sb);
		struct eng_event ev = {.type = ENG_EV_EXPANDED, .step = &g->s, .text = m,
		                       .items = (const char *const *)items, .nitems = (size_t)n};
		engine_emit(e, &ev);
		free(m);
	}
	if (items != fe->items) {
		for (long i = 0; i < n && items; i++)
			free(items[i]);
		free(items);
	}
	return why;
}

/* Expands loop g again from its journal line (a resume). */
void iterate_restore(struct engine *e, struct node *g, const cJSON *line)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(line, "items");
	if (g->expanded || !g->s.def || !g->s.def->foreach || !cJSON_IsArray(a))
		return;
	size_t n = 0;
	char **items = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *items);
	for (const cJSON *c = a->child; c && n < RB_MAX_ITERATIONS; c = c->next)
		if (cJSON_IsString(c))
			items[n++] = c->valuestring;
	build(e, g, items, n);
	free(items);
}

/* True for an iteration that failed: FAIL or ERROR. */
static bool failed_iteration(const struct eng_step *s)
{
	return s->state == ENG_DONE && (s->verdict == RBC_VERDICT_FAIL || s->verdict == RBC_VERDICT_ERROR);
}

/* Enters loop g: expands it once, counts its failed iterations (iterate.h). */
char *iterate_begin(struct engine *e, struct node *g, enum rbc_verdict *v)
{
	*v = RBC_VERDICT_ERROR;
	if (!g->expanded) {
		char *why = iterate_expand(e, g);
		if (why)
			return why;
	}
	const struct rb_foreach *fe = g->s.def->foreach;
	if (!g->s.nchildren) {
		*v = RBC_VERDICT_PASS;
		return xasprintf("no items: %s is empty", fe->in ? fe->in : "the list");
	}
	g->failures = 0;
	for (size_t i = 0; i < g->s.nchildren; i++)
		g->failures += failed_iteration(g->s.children[i]);
	g->halted = g->failures > (size_t)g->s.def->max_failures;
	return NULL;
}

/* An iteration of g ended: past max_failures, g halts as stopped. */
void iterate_ended(struct node *g, const struct node *root)
{
	if (!root || !failed_iteration(&root->s) || ++g->failures <= (size_t)g->s.def->max_failures || g->halted)
		return;
	g->halted = true;
	g->child_stopped = true;
}

/* Why g's iterations not started end skipped. */
char *iterate_halt_reason(const struct node *g)
{
	if (!g->child_stopped)
		return xstrdup("not started: the run left the loop");
	return xasprintf("not started: %zu iteration%s failed (max_failures %ld)", g->failures,
	                 g->failures == 1 ? "" : "s", g->s.def->max_failures);
}

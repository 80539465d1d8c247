/*
 * build.c — what a request borrows while a kind's build fills it: strings
 * and lists kept in the struct probe_build until the engine releases it,
 * once ops->start has copied what the probe needs (probe.h).
 */
#include <stdlib.h>

#include "rbc/probe.h"
#include "rbc/util.h"

/* One thing kept, with the function that frees it. */
struct probe_build_kept {
	void *p;
	void (*free_fn)(void *);
};

/* Keeps p until probe_build_release, which frees it with free_fn. */
void probe_build_keep(struct probe_build *b, void *p, void (*free_fn)(void *))
{
	xgrow(&b->kept, &b->capkept, b->nkept + 1, sizeof *b->kept);
	b->kept[b->nkept++] = (struct probe_build_kept){p, free_fn};
}

/* Frees a list probe_build_kv made. */
static void kv_free(void *p)
{
	rb_kv_free(p);
	free(p);
}

/* A new empty list, kept by b. */
struct rb_kv *probe_build_kv(struct probe_build *b)
{
	struct rb_kv *kv = xcalloc(1, sizeof *kv);
	probe_build_keep(b, kv, kv_free);
	return kv;
}

/* Frees everything kept, in the order it was kept. */
void probe_build_release(struct probe_build *b)
{
	for (size_t i = 0; i < b->nkept; i++)
		b->kept[i].free_fn(b->kept[i].p);
	free(b->kept);
	b->kept = NULL;
	b->nkept = b->capkept = 0;
}

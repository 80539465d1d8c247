/*
 * kv.c — name → text lists (vars, headers, env) and variable names: the
 * pieces of the step tree the loader, the probe kinds and the engine share.
 */
#include <stdlib.h>
#include <string.h>

#include "rbc/runbook.h"
#include "rbc/util.h"

/* The value of key, or NULL. */
const char *rb_kv_get(const struct rb_kv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->keys[i], key) == 0)
			return kv->vals[i];
	return NULL;
}

/* Replaces key's value with a copy of val, or appends the pair. */
void rb_kv_set(struct rb_kv *kv, const char *key, const char *val)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->keys[i], key) == 0) {
			free(kv->vals[i]);
			kv->vals[i] = xstrdup(val);
			return;
		}
	kv->keys = xrealloc(kv->keys, (kv->n + 1) * sizeof *kv->keys);
	kv->vals = xrealloc(kv->vals, (kv->n + 1) * sizeof *kv->vals);
	kv->keys[kv->n] = xstrdup(key);
	kv->vals[kv->n] = xstrdup(val);
	kv->n++;
}

/* Frees the pairs and zeroes kv. */
void rb_kv_free(struct rb_kv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->vals[i]);
	}
	free(kv->keys);
	free(kv->vals);
	memset(kv, 0, sizeof *kv);
}

/* True for [A-Za-z_][A-Za-z0-9_]*, 128 characters at most. */
bool rb_var_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 128 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

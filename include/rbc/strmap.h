/*
 * strmap.h — a table from strings to pointers (open addressing, FNV-1a).
 *
 * Keys are copied; values are borrowed. Used where a record names steps by
 * id and a linear search would make reading it quadratic.
 */
#ifndef RBC_STRMAP_H
#define RBC_STRMAP_H

#include <stddef.h>

struct strmap {
	char **keys;
	void **vals;
	size_t cap, n;
};

/* The value of key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to val (replacing what it had). */
void strmap_set(struct strmap *m, const char *key, void *val);
void strmap_free(struct strmap *m);

#endif

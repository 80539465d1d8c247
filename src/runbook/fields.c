/*
 * fields.c — which fields the samples of each action have (RB_FIELDS in
 * runbook.h): the loader asks here before it accepts an expression that
 * reads one, and suggests the nearest when it does not.
 */
#include <string.h>
#include <strings.h>

#include "rbc/runbook.h"

static const struct {
	const char *name;
	unsigned actions;
} fields[] = {
#define X(name, actions) {name, actions},
	RB_FIELDS(X)
#undef X
};

static bool has(enum rb_action a, size_t i)
{
	return (unsigned)a < RB_ACTION_COUNT && (fields[i].actions & (1u << a));
}

bool rb_field_known(enum rb_action a, const char *name)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(fields); i++)
		if (has(a, i) && strcmp(fields[i].name, name) == 0)
			return true;
	return false;
}

/* True when a and b differ by two neighbouring characters swapped ("tiem"). */
static bool swapped(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n != strlen(b))
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (a[i] != b[i])
			return a[i] == b[i + 1] && a[i + 1] == b[i] && strcmp(a + i + 2, b + i + 2) == 0;
	return false;
}

const char *rb_field_suggest(enum rb_action a, const char *name)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(name);
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	for (size_t i = 0; i < RBC_ARRAY_LEN(fields); i++) {
		if (!has(a, i))
			continue;
		/* "Status" for "status": a case slip is always worth a hint. */
		if (strcasecmp(fields[i].name, name) == 0)
			return fields[i].name;
		size_t d = swapped(name, fields[i].name) ? 1 : str_distance(name, fields[i].name);
		if (d < bestd) {
			bestd = d;
			best = fields[i].name;
		}
	}
	return bestd <= limit ? best : NULL;
}

char *rb_field_list(enum rb_action a)
{
	struct strbuf sb = {0};
	for (size_t i = 0; i < RBC_ARRAY_LEN(fields); i++)
		if (has(a, i))
			sb_addf(&sb, "%s%s", sb.len ? ", " : "", fields[i].name);
	return sb_take(&sb);
}

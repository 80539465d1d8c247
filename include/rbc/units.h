/*
 * units.h — the units of the runbook format and the threshold language.
 *
 * Durations are kept in milliseconds, sizes in bytes, percentages as fractions
 * (0.1% is 0.001). The same table serves runbook durations ("30s") and
 * expression literals (500ms, 10KB, 0.1%).
 */
#ifndef RBC_UNITS_H
#define RBC_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rbc_dim {
	RBC_DIM_NONE,
	RBC_DIM_TIME,    /* milliseconds */
	RBC_DIM_SIZE,    /* bytes */
	RBC_DIM_PERCENT, /* fraction: 1.0 is 100 % */
};

/*
 * Looks up a unit suffix (ms s m h d, B KB MB GB TB KiB MiB GiB TiB, %).
 * Returns false for an unknown suffix. *factor converts to the base unit.
 */
bool units_lookup(const char *unit, size_t len, double *factor, enum rbc_dim *dim);

/*
 * Parses a duration such as "500ms", "30s", "1m30s", "14d". A unit is
 * required. On failure returns false and sets *why (static string).
 */
bool units_parse_duration(const char *s, int64_t *ms, const char **why);

/* Parses a size such as "1MiB", "10KB" or "512B"; on failure sets *why. */
bool units_parse_size(const char *s, int64_t *bytes, const char **why);

/*
 * Formats v of dimension dim for people: "612 ms", "2.5 s", "1.5 min",
 * "10 KB", "0.1 %", "42". Writes at most n bytes into buf; returns buf.
 */
char *units_format(double v, enum rbc_dim dim, char *buf, size_t n);

/* Formats a duration in ms compactly: "30s", "5m", "1h30m", "250ms". */
char *units_format_duration(int64_t ms, char *buf, size_t n);

#endif

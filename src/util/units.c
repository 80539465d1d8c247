/*
 * units.c — one table of units for runbook durations, sizes and the
 * threshold language's literals.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/units.h"
#include "rbc/util.h"

static const struct unit {
	const char *name;
	double factor;
	enum rbc_dim dim;
} units[] = {
	{"ms", 1, RBC_DIM_TIME},
	{"s", 1000, RBC_DIM_TIME},
	{"m", 60e3, RBC_DIM_TIME},
	{"min", 60e3, RBC_DIM_TIME},
	{"h", 3600e3, RBC_DIM_TIME},
	{"d", 86400e3, RBC_DIM_TIME},
	{"B", 1, RBC_DIM_SIZE},
	{"KB", 1e3, RBC_DIM_SIZE},
	{"MB", 1e6, RBC_DIM_SIZE},
	{"GB", 1e9, RBC_DIM_SIZE},
	{"TB", 1e12, RBC_DIM_SIZE},
	{"KiB", 1024.0, RBC_DIM_SIZE},
	{"MiB", 1024.0 * 1024, RBC_DIM_SIZE},
	{"GiB", 1024.0 * 1024 * 1024, RBC_DIM_SIZE},
	{"TiB", 1024.0 * 1024 * 1024 * 1024, RBC_DIM_SIZE},
	{"%", 0.01, RBC_DIM_PERCENT},
};

bool units_lookup(const char *unit, size_t len, double *factor, enum rbc_dim *dim)
{
	for (size_t i = 0; i < RBC_ARRAY_LEN(units); i++) {
		if (strlen(units[i].name) == len && memcmp(units[i].name, unit, len) == 0) {
			*factor = units[i].factor;
			*dim = units[i].dim;
			return true;
		}
	}
	return false;
}

/*
 * Parses "<number><unit>" repeated, all units of dimension want. A bare
 * number is accepted only when bare_ok (sizes in bytes).
 */
static bool parse_quantity(const char *s, enum rbc_dim want, bool compound,
                           int64_t *out, const char **why)
{
	double total = 0;
	const char *p = s;
	if (!*p) {
		*why = "empty";
		return false;
	}
	while (*p) {
		/* Plain decimals only: no sign, exponent or hex. */
		const char *num = p;
		size_t dots = 0;
		while ((*p >= '0' && *p <= '9') || *p == '.')
			dots += *p++ == '.';
		if (p == num || dots > 1 || p[-1] == '.' || *num == '.') {
			*why = "expected a number such as 30 or 1.5";
			return false;
		}
		char digits[64];
		if ((size_t)(p - num) >= sizeof digits) {
			*why = "number too long";
			return false;
		}
		memcpy(digits, num, (size_t)(p - num));
		digits[p - num] = '\0';
		double v = strtod(digits, NULL);
		const char *u = p;
		while (*p && !((*p >= '0' && *p <= '9') || *p == '.'))
			p++;
		double f;
		enum rbc_dim dim;
		if (u == p) {
			if (want == RBC_DIM_SIZE && num == s && dots == 0) {
				f = 1; /* a bare integer is bytes */
			} else {
				*why = want == RBC_DIM_TIME ? "missing unit (use ms, s, m, h or d)"
				                           : "missing unit (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
				return false;
			}
		} else if (!units_lookup(u, (size_t)(p - u), &f, &dim) || dim != want) {
			*why = want == RBC_DIM_TIME ? "unknown unit (use ms, s, m, h or d)"
			                           : "unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
			return false;
		}
		total += v * f;
		if (*p && !compound) {
			*why = "one number and one unit, such as 10MiB";
			return false;
		}
	}
	if (total > 9.0e15) {
		*why = "too large";
		return false;
	}
	*out = (int64_t)llround(total);
	return true;
}

bool units_parse_duration(const char *s, int64_t *ms, const char **why)
{
	return parse_quantity(s, RBC_DIM_TIME, true, ms, why);
}

bool units_parse_size(const char *s, int64_t *bytes, const char **why)
{
	return parse_quantity(s, RBC_DIM_SIZE, false, bytes, why);
}

/* Prints v with up to 3 significant decimals and no trailing zeros. */
static void fmt_num(double v, char *buf, size_t n)
{
	if (fabs(v) < 1e15 && v == (double)(long long)v)
		snprintf(buf, n, "%lld", (long long)v);
	else if (fabs(v) >= 100 && fabs(v) < 1e15)
		snprintf(buf, n, "%.1f", v);
	else
		snprintf(buf, n, "%.3g", v);
	char *dot = strchr(buf, '.');
	if (dot && !strchr(buf, 'e')) {
		char *end = buf + strlen(buf) - 1;
		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*end = '\0';
	}
}

char *units_format(double v, enum rbc_dim dim, char *buf, size_t n)
{
	char num[64];
	if (isnan(v)) {
		snprintf(buf, n, "NaN");
		return buf;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "inf" : "-inf");
		return buf;
	}
	switch (dim) {
	case RBC_DIM_TIME:
		if (fabs(v) < 1000) {
			fmt_num(v, num, sizeof num);
			snprintf(buf, n, "%s ms", num);
		} else if (fabs(v) < 60e3) {
			fmt_num(v / 1e3, num, sizeof num);
			snprintf(buf, n, "%s s", num);
		} else if (fabs(v) < 3600e3) {
			fmt_num(v / 60e3, num, sizeof num);
			snprintf(buf, n, "%s min", num);
		} else if (fabs(v) < 86400e3) {
			fmt_num(v / 3600e3, num, sizeof num);
			snprintf(buf, n, "%s h", num);
		} else {
			fmt_num(v / 86400e3, num, sizeof num);
			snprintf(buf, n, "%s d", num);
		}
		break;
	case RBC_DIM_SIZE: {
		static const char *const names[] = {"B", "KB", "MB", "GB", "TB"};
		size_t i = 0;
		while (fabs(v) >= 1000 && i + 1 < RBC_ARRAY_LEN(names)) {
			v /= 1000;
			i++;
		}
		fmt_num(v, num, sizeof num);
		snprintf(buf, n, "%s %s", num, names[i]);
		break;
	}
	case RBC_DIM_PERCENT:
		fmt_num(v * 100, num, sizeof num);
		snprintf(buf, n, "%s %%", num);
		break;
	case RBC_DIM_NONE:
	default:
		fmt_num(v, buf, n);
		break;
	}
	return buf;
}

char *units_format_duration(int64_t ms, char *buf, size_t n)
{
	static const struct { const char *u; int64_t f; } parts[] = {
		{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	size_t off = 0;
	if (ms == 0) {
		snprintf(buf, n, "0s");
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < RBC_ARRAY_LEN(parts) && ms > 0; i++) {
		if (ms >= parts[i].f) {
			int w = snprintf(buf + off, off < n ? n - off : 0, "%lld%s",
			                 (long long)(ms / parts[i].f), parts[i].u);
			if (w > 0)
				off += (size_t)w;
			ms %= parts[i].f;
		}
	}
	return buf;
}

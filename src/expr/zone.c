/*
 * zone.c — IANA time zones for hour() and weekday(), read from the
 * system's TZif files (RFC 8536) without the C library's local time: no
 * TZ, no tzset, so no shared state and nothing that races between threads.
 *
 * A zone is the table of its transitions and, past the last one, the
 * POSIX TZ rule of the file's footer ("CET-1CEST,M3.5.0,M10.5.0/3").
 * Zone files live in $TZDIR, else /usr/share/zoneinfo (docs/thresholds.md,
 * Time of day).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Largest zone file read; the biggest shipped ones are a few KiB. */
#define ZONE_MAX_FILE (256 * 1024)

/* A rule date of the POSIX TZ footer: month, week (5: last), weekday (0: Sunday), time. */
struct zone_date {
	int month, week, wday;
	long secs; /* local time of day of the change, may be negative or past 24 h */
};

struct zone {
	size_t n;              /* transitions */
	int64_t *at;           /* transition times, seconds since the epoch, ascending */
	long *off;             /* UTC offset in seconds from each transition on */
	long first_off;        /* before the first transition */
	bool has_rule;         /* the footer's rule applies after the last transition */
	long std_off, dst_off; /* the rule's offsets east of UTC */
	bool dst;              /* the rule has daylight saving time */
	struct zone_date start, end;
};

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
int64_t expr_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The year of the day days since 1970-01-01. */
static int64_t year_of_days(int64_t days)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

/* Floor division of a by b (b > 0). */
static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && a < 0);
}

/* Seconds since the epoch, in UTC, of the rule date r of year y in local time off. */
static int64_t rule_time(const struct zone_date *r, int64_t y, long off)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t first = expr_days_from_civil(y, r->month, 1);
	int wday1 = (int)((first % 7 + 11) % 7); /* 0: Sunday; 1970-01-01 was a Thursday */
	int day = 1 + (r->wday - wday1 + 7) % 7 + 7 * (r->week - 1);
	int len = mdays[r->month - 1] + (r->month == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	while (day > len)
		day -= 7;
	return (first + day - 1) * 86400 + r->secs - off;
}

/* Reads a POSIX TZ name: letters, or anything between < and >. */
static bool tz_name(const char **p)
{
	const char *s = *p;
	if (*s == '<') {
		const char *e = strchr(s, '>');
		if (!e)
			return false;
		*p = e + 1;
		return true;
	}
	while (isalpha((unsigned char)**p))
		(*p)++;
	return *p - s >= 3;
}

/* Reads [+-]hh[:mm[:ss]] into *secs; hours up to max. */
static bool tz_hms(const char **p, long *secs, long max)
{
	int sign = 1;
	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)**p))
		return false;
	long v = strtol(*p, (char **)p, 10);
	if (v > max)
		return false;
	long t = v * 3600;
	for (long unit = 60; unit >= 1 && **p == ':'; unit /= 60) {
		(*p)++;
		if (!isdigit((unsigned char)**p))
			return false;
		v = strtol(*p, (char **)p, 10);
		if (v > 59)
			return false;
		t += v * unit;
	}
	*secs = sign * t;
	return true;
}

/* Reads ",Mm.w.d[/time]". Julian-day forms (Jn, n) are not read. */
static bool tz_date(const char **p, struct zone_date *r)
{
	if (**p != ',' || (*p)[1] != 'M')
		return false;
	*p += 2;
	char *e;
	r->month = (int)strtol(*p, &e, 10);
	if (*e != '.' || r->month < 1 || r->month > 12)
		return false;
	r->week = (int)strtol(e + 1, &e, 10);
	if (*e != '.' || r->week < 1 || r->week > 5)
		return false;
	r->wday = (int)strtol(e + 1, &e, 10);
	if (r->wday < 0 || r->wday > 6)
		return false;
	*p = e;
	r->secs = 2 * 3600;
	if (**p == '/') {
		(*p)++;
		return tz_hms(p, &r->secs, 167);
	}
	return true;
}

/* Parses the footer's POSIX TZ rule into z; false when it cannot be read. */
static bool tz_rule(struct zone *z, const char *s)
{
	long off;
	if (!tz_name(&s) || !tz_hms(&s, &off, 24))
		return false;
	z->std_off = -off;
	if (*s == '\0')
		return true;
	if (!tz_name(&s))
		return false;
	z->dst = true;
	z->dst_off = z->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (!tz_hms(&s, &off, 24))
			return false;
		z->dst_off = -off;
	}
	if (*s == '\0') /* no rule: the US rule by POSIX; no shipped zone relies on it */
		return false;
	return tz_date(&s, &z->start) && tz_date(&s, &z->end) && *s == '\0';
}

/* Big-endian integers of a TZif file. */
static int64_t be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	if (bytes == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* Parses a TZif file of n bytes into z; false when it is not one. */
static bool tzif_parse(struct zone *z, const unsigned char *b, size_t n)
{
	if (n < 44 || memcmp(b, "TZif", 4) != 0)
		return false;
	int tb = 4; /* version 1: 32-bit times; a later version's second block has 64-bit ones */
	size_t at = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (at + 44 > n || memcmp(b + at, "TZif", 4) != 0)
			return false;
		size_t isut = (size_t)be(b + at + 20, 4), isstd = (size_t)be(b + at + 24, 4);
		size_t leap = (size_t)be(b + at + 28, 4), timecnt = (size_t)be(b + at + 32, 4);
		size_t typecnt = (size_t)be(b + at + 36, 4), charcnt = (size_t)be(b + at + 40, 4);
		if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 65536 ||
		    leap > 100000 || isut > typecnt || isstd > typecnt)
			return false;
		size_t data = at + 44;
		size_t len = timecnt * (size_t)tb + timecnt + typecnt * 6 + charcnt +
		             leap * (size_t)(tb + 4) + isstd + isut;
		if (data + len > n)
			return false;
		if (pass == 0 && b[4] >= '2') {
			at = data + len;
			tb = 8;
			continue;
		}
		const unsigned char *times = b + data, *idx = times + timecnt * (size_t)tb;
		const unsigned char *types = idx + timecnt;
		z->n = timecnt;
		z->at = xcalloc(timecnt ? timecnt : 1, sizeof *z->at);
		z->off = xcalloc(timecnt ? timecnt : 1, sizeof *z->off);
		for (size_t i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt)
				return false;
			z->at[i] = be(times + i * (size_t)tb, tb);
			z->off[i] = (long)be(types + idx[i] * 6, 4);
		}
		z->first_off = (long)be(types, 4);
		size_t end = data + len;
		if (tb == 8 && end < n && b[end] == '\n') {
			const char *foot = (const char *)b + end + 1;
			const char *nl = memchr(foot, '\n', n - end - 1);
			if (nl && nl > foot) {
				char *rule = xstrndup(foot, (size_t)(nl - foot));
				z->has_rule = tz_rule(z, rule);
				free(rule);
			}
		}
		return true;
	}
	return false;
}

/* A zone name as IANA writes them: "Asia/Tokyo", "UTC", "Etc/GMT+9"; no "..". */
static bool zone_name_ok(const char *name, size_t n)
{
	if (n == 0 || n > 255 || name[0] == '/' || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '/' && ch != '_' && ch != '-' && ch != '+' && ch != '.')
			return false;
		if (ch == '.' && i + 1 < n && name[i + 1] == '.')
			return false;
	}
	return true;
}

struct zone *expr_zone_load(const char *name, size_t n, char **why)
{
	if (!zone_name_ok(name, n)) {
		*why = xasprintf("\"%.*s\" is not a time zone name such as \"Asia/Tokyo\"",
		                 (int)(n > 64 ? 64 : n), name);
		return NULL;
	}
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	char *path = xasprintf("%s/%.*s", dir, (int)n, name);
	FILE *f = fopen(path, "rb");
	free(path);
	unsigned char *buf = NULL;
	size_t len = 0;
	if (f) {
		buf = xmalloc(ZONE_MAX_FILE);
		len = fread(buf, 1, ZONE_MAX_FILE, f);
		fclose(f);
	}
	struct zone *z = xcalloc(1, sizeof *z);
	if (!f || !tzif_parse(z, buf, len)) {
		*why = xasprintf("unknown time zone \"%.*s\" (no such zone in %s)", (int)n, name, dir);
		free(buf);
		expr_zone_free(z);
		return NULL;
	}
	free(buf);
	return z;
}

void expr_zone_free(struct zone *z)
{
	if (!z)
		return;
	free(z->at);
	free(z->off);
	free(z);
}

long expr_zone_offset(const struct zone *z, int64_t t)
{
	if (!z)
		return 0;
	if (z->n == 0 || t < z->at[0])
		return z->n == 0 && z->has_rule && !z->dst ? z->std_off : z->first_off;
	if (t >= z->at[z->n - 1] && z->has_rule) {
		if (!z->dst)
			return z->std_off;
		int64_t y = year_of_days(floor_div(t + z->std_off, 86400));
		int64_t on = rule_time(&z->start, y, z->std_off);
		int64_t off = rule_time(&z->end, y, z->dst_off);
		bool in_dst = on < off ? (t >= on && t < off) : !(t >= off && t < on);
		return in_dst ? z->dst_off : z->std_off;
	}
	size_t lo = 0, hi = z->n; /* the last transition at or before t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

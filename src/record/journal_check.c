/*
 * journal_check.c — the check of a line read back from a journal (see
 * journal_internal.h): the rules of its fields, the event's and each
 * field's, its text as rbc writes it, and an incident's lines as the
 * incident takes them. It judges; it neither reads nor writes a file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rbc/engine.h"
#include "rbc/incident.h"
#include "rbc/util.h"
#include "rbc/value.h"

#include "journal_internal.h"

/*
 * What a line read back may hold. A journal is text on disk that anyone
 * with access could have changed: every field a reader uses is checked here,
 * once, so that readers (exports, resume, the listing, the history) can
 * trust the types they get. Fields not listed are left alone.
 */
enum field_kind {
	FIELD_STR,         /* a string */
	FIELD_STR_NULL,    /* a string or null */
	FIELD_BOOL,
	FIELD_NUM,         /* a finite number */
	FIELD_COUNT,       /* a whole number, 0 … 2^31 - 1, written as one */
	FIELD_SEQ,         /* a whole number, 0 … 2^53, written as one */
	FIELD_OBJ,         /* an object */
	FIELD_STRS,        /* an array of strings */
	FIELD_VARS,        /* an object of strings */
	FIELD_RUNBOOKS,    /* the header's runbooks */
	FIELD_LINKS,       /* an array of { "title", "url" } strings */
	FIELD_CRITERIA,    /* a resolution's exit criteria */
	FIELD_TIME,        /* a UTC time as rbc writes it: 2026-12-04T01:52:40(.366)Z */
	FIELD_VERDICT,     /* PASS, WARN, FAIL, UNKNOWN, ERROR */
	FIELD_EV,          /* an event rbc writes */
	FIELD_STEPS,       /* a list of steps, as the header's runbooks have them */
};

static const struct field_rule {
	const char *name;
	enum field_kind kind;
} field_rules[] = { /* sorted by name (strcmp): found by bsearch */
	{"about", FIELD_STR}, {"action", FIELD_STR}, {"after", FIELD_BOOL}, {"argv", FIELD_STRS}, {"at", FIELD_STR},
	{"attempt", FIELD_COUNT}, {"automatic", FIELD_BOOL}, {"by", FIELD_STR}, {"command", FIELD_SEQ}, {"criteria", FIELD_CRITERIA},
	{"cut", FIELD_BOOL}, {"deadline_ms", FIELD_SEQ}, {"dropped_last", FIELD_BOOL}, {"duration_ms", FIELD_NUM}, {"ev", FIELD_EV}, {"events", FIELD_SEQ},
	{"for", FIELD_STR}, {"forced", FIELD_BOOL}, {"from", FIELD_STR_NULL}, {"group", FIELD_BOOL},
	{"host", FIELD_STR}, {"id", FIELD_STR}, {"impact_start", FIELD_TIME}, {"items", FIELD_STRS}, {"lost_captures", FIELD_STRS},
	{"main", FIELD_BOOL}, {"name", FIELD_STR}, {"note", FIELD_STR}, {"number", FIELD_STR},
	{"on", FIELD_STR}, {"on_deadline", FIELD_STR}, {"operator", FIELD_STR}, {"output", FIELD_STR}, {"pid", FIELD_COUNT}, {"rbc", FIELD_STR},
	{"result", FIELD_STR}, {"role", FIELD_STR}, {"run", FIELD_STR}, {"runbooks", FIELD_RUNBOOKS}, {"sample", FIELD_OBJ},
	{"schema", FIELD_COUNT}, {"seq", FIELD_SEQ}, {"started", FIELD_TIME}, {"state", FIELD_STR},
	{"step", FIELD_STR}, {"steps", FIELD_STEPS}, {"stopped", FIELD_BOOL}, {"t", FIELD_TIME}, {"target", FIELD_STR},
	{"text", FIELD_STR}, {"title", FIELD_STR}, {"to", FIELD_STR_NULL}, {"todo", FIELD_COUNT},
	{"value", FIELD_STR_NULL}, {"value_bytes", FIELD_COUNT}, {"value_sha256", FIELD_STR},
	{"var", FIELD_STR}, {"vars", FIELD_VARS}, {"verdict", FIELD_VERDICT}, {"what", FIELD_STR},
	{"why", FIELD_STR},
};

static int by_rule_name(const void *a, const void *b)
{
	return strcmp(((const struct field_rule *)a)->name, ((const struct field_rule *)b)->name);
}

static bool whole_number(const cJSON *c, double max)
{
	return cJSON_IsNumber(c) && isfinite(c->valuedouble) && c->valuedouble >= 0 && c->valuedouble <= max &&
	       c->valuedouble == floor(c->valuedouble);
}

static bool all_strings(const cJSON *c)
{
	for (const cJSON *e = c->child; e; e = e->next)
		if (!cJSON_IsString(e) || !e->valuestring)
			return false;
	return true;
}

/* Checks the keys of o listed in rules (n of them); why names the first bad one. */
struct key_rule {
	const char *name;
	enum field_kind kind;
	bool required;
};
static bool check_keys(const cJSON *o, const char *where, const struct key_rule *rules, size_t n, char **why);

/* Whether s is a UTC time as rbc writes it, "2026-12-04T01:52:40Z" or with
   milliseconds, ".366Z", and a real one (a database takes it as it is). */
static bool time_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);
	if (n != 20 && n != 24)
		return false;
	for (size_t i = 0; i < 19; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return false;
	if (n == 24 && (s[19] != '.' || s[20] < '0' || s[20] > '9' || s[21] < '0' || s[21] > '9' || s[22] < '0' ||
	                s[22] > '9'))
		return false;
	if (s[n - 1] != 'Z')
		return false;
#define DIGITS2(p) (((p)[0] - '0') * 10 + (p)[1] - '0')
	int year = DIGITS2(s) * 100 + DIGITS2(s + 2), month = DIGITS2(s + 5), day = DIGITS2(s + 8);
	int hour = DIGITS2(s + 11), min = DIGITS2(s + 14), sec = DIGITS2(s + 17);
#undef DIGITS2
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 &&
	       day <= (month == 2 && !leap ? 28 : mdays[month - 1]) && hour <= 23 && min <= 59 && sec <= 59;
}

/* The events rbc writes: the engine's, the header and a resume's line. */
static bool event_name_ok(const char *s)
{
#define X(e, name) if (strcmp(s, name) == 0) return true;
	ENG_EVENTS(X)
#undef X
	return strcmp(s, "run_header") == 0 || strcmp(s, "run_resumed") == 0;
}

/* What the header and a loop's expansion say of a step. */
static const struct key_rule step_rules[] = {
	{"id", FIELD_STR, true},       {"number", FIELD_STR, false}, {"title", FIELD_STR, false},
	{"group", FIELD_BOOL, false},  {"on_demand", FIELD_BOOL, false},
	{"description", FIELD_STR, false}, {"links", FIELD_LINKS, false},
	{"owner", FIELD_STR, false},   {"approval", FIELD_BOOL, false}, {"deadline_ms", FIELD_SEQ, false},
};

/* Whether c is what a field of that kind holds. */
static bool field_ok(const cJSON *c, enum field_kind kind, const char *name, char **why)
{
	switch (kind) {
	case FIELD_TIME:
		return cJSON_IsString(c) && c->valuestring && time_ok(c->valuestring);
	case FIELD_VERDICT: {
		enum rbc_verdict v;
		return cJSON_IsString(c) && c->valuestring && verdict_parse(c->valuestring, &v);
	}
	case FIELD_EV:
		return cJSON_IsString(c) && c->valuestring && event_name_ok(c->valuestring);
	case FIELD_STR:
		return cJSON_IsString(c) && c->valuestring;
	case FIELD_STR_NULL:
		return cJSON_IsNull(c) || (cJSON_IsString(c) && c->valuestring);
	case FIELD_BOOL:
		return cJSON_IsBool(c);
	case FIELD_NUM:
		return cJSON_IsNumber(c) && isfinite(c->valuedouble);
	case FIELD_COUNT:
		return whole_number(c, 2147483647.0);
	case FIELD_SEQ:
		return whole_number(c, 9007199254740992.0);
	case FIELD_OBJ:
		return cJSON_IsObject(c);
	case FIELD_STRS:
		return cJSON_IsArray(c) && all_strings(c);
	case FIELD_VARS:
		return cJSON_IsObject(c) && all_strings(c);
	case FIELD_STEPS:
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *st = c->child; st; st = st->next)
			if (!cJSON_IsObject(st) || !check_keys(st, "a loop's step", step_rules, RBC_ARRAY_LEN(step_rules), why))
				return false;
		return true;
	case FIELD_LINKS: {
		static const struct key_rule link_rules[] = {{"title", FIELD_STR, true}, {"url", FIELD_STR, true}};
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *l = c->child; l; l = l->next)
			if (!cJSON_IsObject(l) || !check_keys(l, "a link", link_rules, RBC_ARRAY_LEN(link_rules), why))
				return false;
		return true;
	}
	case FIELD_RUNBOOKS: {
		static const struct key_rule rb_rules[] = {
			{"id", FIELD_STR, true},       {"file", FIELD_STR, false},  {"kind", FIELD_STR, false},
			{"title", FIELD_STR, false},   {"sha256", FIELD_STR_NULL, false},
			{"included", FIELD_BOOL, false}, {"levels", FIELD_STRS, false}, {"roles", FIELD_STRS, false},
			{"description", FIELD_STR, false}, {"links", FIELD_LINKS, false},
			{"deadline_ms", FIELD_SEQ, false},
		};
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *rb = c->child; rb; rb = rb->next) {
			if (!cJSON_IsObject(rb)) {
				*why = xasprintf("\"%s\" holds something that is not a runbook", name);
				return false;
			}
			if (!check_keys(rb, "a runbook", rb_rules, RBC_ARRAY_LEN(rb_rules), why))
				return false;
			/* An incident's lines name its levels and roles: the record keeps them. */
			const char *rk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "kind"));
			const char *missing = !rk || strcmp(rk, "incident") != 0                    ? NULL
			                    : !cJSON_GetObjectItemCaseSensitive(rb, "levels") ? "levels"
			                    : !cJSON_GetObjectItemCaseSensitive(rb, "roles")  ? "roles"
			                                                                      : NULL;
			if (missing) {
				*why = xasprintf("an incident runbook has no \"%s\"", missing);
				return false;
			}
			const cJSON *steps = cJSON_GetObjectItemCaseSensitive(rb, "steps");
			if (!steps)
				continue;
			if (!cJSON_IsArray(steps)) {
				*why = xstrdup("a runbook's \"steps\" is not a list");
				return false;
			}
			for (const cJSON *st = steps->child; st; st = st->next) {
				if (!cJSON_IsObject(st)) {
					*why = xstrdup("a runbook's \"steps\" holds something that is not a step");
					return false;
				}
				if (!check_keys(st, "a runbook's step", step_rules, RBC_ARRAY_LEN(step_rules), why))
					return false;
			}
		}
		return true;
	}
	case FIELD_CRITERIA: {
		static const struct key_rule rules[] = {
			{"criterion", FIELD_STR, false}, {"met", FIELD_BOOL, false}, {"reason", FIELD_STR, false},
		};
		if (!cJSON_IsArray(c))
			return false;
		for (const cJSON *e = c->child; e; e = e->next)
			if (!cJSON_IsObject(e) || !check_keys(e, "an exit criterion", rules, RBC_ARRAY_LEN(rules), why))
				return false;
		return true;
	}
	}
	return false;
}

static bool check_keys(const cJSON *o, const char *where, const struct key_rule *rules, size_t n, char **why)
{
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (const cJSON *c = o->child; c; c = c->next) {
			if (!c->string || strcmp(c->string, rules[i].name) != 0)
				continue;
			seen = true;
			if (!field_ok(c, rules[i].kind, rules[i].name, why)) {
				if (!*why)
					*why = xasprintf("%s's \"%s\" is not what rbc writes there", where, rules[i].name);
				return false;
			}
		}
		if (rules[i].required && !seen) {
			*why = xasprintf("%s has no \"%s\"", where, rules[i].name);
			return false;
		}
	}
	return true;
}

/* Ready to judge the lines of the journal of dir, from its first. */
void journal_check_init(struct journal_check *k, const char *dir)
{
	*k = (struct journal_check){0};
	/* The directory's own name, however dir was written (a trailing
	   slash, ".", a relative path). */
	char *real = realpath(dir, NULL);
	const char *d = real ? real : dir;
	size_t n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		n--;
	size_t b = n;
	while (b && d[b - 1] != '/')
		b--;
	k->dir_name = xstrndup(d + b, n - b);
	free(real);
}

/* Frees what k holds (not k). */
void journal_check_free(struct journal_check *k)
{
	free(k->dir_name);
	cJSON_Delete(k->incident);
	free(k->todo);
}

/* The runbooks of a tree (the header's, a forced resume's): its first is
   the incident's when it is an incident runbook. */
static void line_check_tree(struct journal_check *k, const cJSON *rbs)
{
	const cJSON *first = cJSON_GetArrayItem(rbs, 0);
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "kind"));
	cJSON_Delete(k->incident);
	k->incident = kind && strcmp(kind, "incident") == 0 ? cJSON_Duplicate(first, true) : NULL;
}

static bool listed(const cJSON *list, const char *s)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		const char *v = cJSON_GetStringValue(c);
		if (v && s && strcmp(v, s) == 0)
			return true;
	}
	return false;
}

/*
 * An incident line as the incident takes it (incident_apply): declared
 * once and first, at one of its levels; a level, a status and a role it
 * has; a todo_done naming a todo; a notification's end. NULL, or why not.
 */
static char *check_incident(const cJSON *o, struct journal_check *k)
{
	const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "what"));
	const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "to"));
	if (!k->incident)
		return xstrdup("an incident line in a run whose first runbook is no incident runbook");
	int kind = -1, i = 0;
#define X(e, w) if (kind < 0 && what && strcmp(what, w) == 0) kind = i; i++;
	INC_KINDS(X)
#undef X
	if (kind < 0)
		return xasprintf("an incident line with an unknown \"what\" \"%s\"", what ? what : "");
	if (kind != INC_EV_DECLARED && !k->declared)
		return xasprintf("a %s line before the incident was declared", what);
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(k->incident, "levels");
	enum inc_status st;
	switch ((enum inc_kind)kind) {
	case INC_EV_DECLARED:
		if (k->declared)
			return xstrdup("a second declaration of the incident");
		if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id")) ||
		    !cJSON_GetObjectItemCaseSensitive(o, "impact_start"))
			return xstrdup("a declaration without its \"id\" or \"impact_start\"");
		if (!listed(levels, to))
			return xasprintf("a declaration at an unknown level \"%s\"", to ? to : "");
		k->declared = true;
		break;
	case INC_EV_SEVERITY:
		if (!listed(levels, to))
			return xasprintf("a change to an unknown level \"%s\"", to ? to : "");
		break;
	case INC_EV_STATUS:
		if (!to || !incident_status_parse(to, &st))
			return xasprintf("a change to an unknown status \"%s\"", to ? to : "");
		break;
	case INC_EV_ROLE: {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "role"));
		if (!listed(cJSON_GetObjectItemCaseSensitive(k->incident, "roles"), role))
			return xasprintf("an unknown role \"%s\"", role ? role : "");
		break;
	}
	case INC_EV_TODO_DONE: {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "todo");
		if (!n || (size_t)n->valuedouble >= k->entries || !k->todo[(size_t)n->valuedouble])
			return xstrdup("a todo_done that names no todo");
		break;
	}
	case INC_EV_NOTIFICATION: {
		/* The ends of a delivery are journaled: retried, delivered, failed. */
		static const char *const ends[] = {"retrying", "delivered", "failed"};
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
		bool known = false;
		for (size_t e = 0; state && e < RBC_ARRAY_LEN(ends); e++)
			known = known || strcmp(state, ends[e]) == 0;
		if (!known)
			return xasprintf("a notification in an unknown state \"%s\"", state ? state : "");
		break;
	}
	default:
		break;
	}
	xgrow(&k->todo, &k->captodo, k->entries + 1, sizeof *k->todo);
	k->todo[k->entries++] = kind == INC_EV_TODO;
	return NULL;
}

/* A deadline line as the engine writes it: its step, its budget and what
   its end does (a target only for goto). NULL, or why not. */
/* A joiner's command (docs/journal.md, "command"): its number, who and
   from where, what it asked, and applied or refused with why. */
static char *check_command(const cJSON *o)
{
	static const char *const need[] = {"command", "by", "host", "action", "result"};
	for (size_t i = 0; i < RBC_ARRAY_LEN(need); i++)
		if (!cJSON_GetObjectItemCaseSensitive(o, need[i]))
			return xasprintf("a command has no \"%s\"", need[i]);
	static const char *const actions[] = {"done", "fail", "skip", "answer", "note", "incident"};
	const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "action"));
	bool known = false;
	for (size_t i = 0; i < RBC_ARRAY_LEN(actions) && !known; i++)
		known = strcmp(a, actions[i]) == 0;
	const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "result"));
	bool refused = strcmp(r, "refused") == 0;
	if (!refused && strcmp(r, "applied") != 0)
		return xasprintf("a command's result is \"%s\", not applied or refused", r);
	if (!known && !refused)
		return xasprintf("a command \"%s\" was applied: rbc has no such command", a);
	if (refused != (cJSON_GetObjectItemCaseSensitive(o, "why") != NULL))
		return xstrdup(refused ? "a refused command does not say why" : "an applied command has a \"why\"");
	return NULL;
}

static char *check_deadline(const cJSON *o)
{
	const char *od = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "on_deadline"));
	if (!cJSON_GetObjectItemCaseSensitive(o, "step") || !cJSON_GetObjectItemCaseSensitive(o, "deadline_ms") || !od)
		return xstrdup("a deadline line without its \"step\", \"deadline_ms\" and \"on_deadline\"");
	if (strcmp(od, "warn") != 0 && strcmp(od, "fail") != 0 && strcmp(od, "goto") != 0)
		return xasprintf("a deadline with an unknown \"on_deadline\" \"%s\"", od);
	if (strcmp(od, "goto") != 0 && cJSON_GetObjectItemCaseSensitive(o, "target"))
		return xstrdup("a deadline with a \"target\" whose on_deadline is not goto");
	return NULL;
}

/*
 * The first key that o, or an object anywhere inside it, has twice, or
 * NULL. A reader that takes the first of two and one that takes the last
 * (a database's jsonb) would disagree on what the line says.
 */
static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *twice(const cJSON *o)
{
	if (!o)
		return NULL;
	if (cJSON_IsObject(o)) {
		size_t n = 0;
		for (const cJSON *c = o->child; c; c = c->next)
			n++;
		if (n > 1) {
			const char **keys = xmalloc(n * sizeof *keys);
			size_t i = 0;
			for (const cJSON *c = o->child; c; c = c->next)
				keys[i++] = c->string ? c->string : "";
			qsort(keys, n, sizeof *keys, by_key);
			const char *dup = NULL;
			for (i = 1; i < n && !dup; i++)
				if (strcmp(keys[i - 1], keys[i]) == 0)
					dup = keys[i];
			free(keys);
			if (dup)
				return dup;
		}
	}
	for (const cJSON *c = o->child; c; c = c->next) {
		const char *d = twice(c);
		if (d)
			return d;
	}
	return NULL;
}

/* Whether the number written at s (n bytes) is one JSON allows. */
static bool json_number_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static const struct field_rule *rule_of(const char *name)
{
	const struct field_rule key = {.name = name};
	return bsearch(&key, field_rules, RBC_ARRAY_LEN(field_rules), sizeof key, by_rule_name);
}

/*
 * The line's text as rbc writes it, beyond what the JSON parser checks:
 * UTF-8 without a NUL (raw or as \u0000) and without a raw control
 * character in a string, numbers as JSON writes them and whole numbers
 * (seq, attempt, …) without a fraction or an exponent, the line's keys
 * written plainly, and nothing after the object. What a database refuses
 * or reads otherwise, the reader refuses. NULL, or why not.
 */
static char *check_text(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (memchr(s, '\0', n))
		return xstrdup("a NUL byte in the line");
	size_t bad = 0;
	if (!utf8_valid(s, n, &bad))
		return xasprintf("bytes that are not UTF-8 (at byte %zu)", bad + 1);
	int depth = 0;
	bool closed = false, want_key = false;
	char key[64] = "";
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == ' ' || ch == '\t')
			continue;
		if (closed)
			return xstrdup("more after the event's object");
		if (ch == '"') {
			size_t from = ++i;
			bool escaped = false;
			for (; i < n && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return xstrdup("a control character written raw in a string");
				if (s[i] == '\\') {
					if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0)
						return xstrdup("a NUL character (\\u0000) in a string");
					escaped = true;
					i++;
				}
			}
			if (depth == 1 && want_key) {
				if (escaped)
					return xstrdup("a key of the line written with an escape");
				size_t kl = i - from < sizeof key - 1 ? i - from : sizeof key - 1;
				memcpy(key, s + from, kl);
				key[kl] = '\0';
				want_key = false;
			}
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
			want_key = depth == 1 && ch == '{';
			continue;
		}
		if (ch == '}' || ch == ']') {
			closed = --depth == 0;
			continue;
		}
		if (ch == ',') {
			want_key = depth == 1;
			continue;
		}
		if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t from = i;
			while (i + 1 < n && strchr("+-.eE0123456789", s[i + 1]))
				i++;
			size_t len = i - from + 1;
			if (!json_number_ok(s + from, len))
				return xasprintf("a number written as %.*s", (int)(len < 40 ? len : 40), s + from);
			const struct field_rule *r = depth == 1 ? rule_of(key) : NULL;
			if (r && (r->kind == FIELD_COUNT || r->kind == FIELD_SEQ) && strcspn(s + from, "-.eE") < len)
				return xasprintf("\"%s\" is not written as a whole number", key);
		}
	}
	return NULL;
}

/*
 * Whether o, read from raw (len bytes), may be line `line` of a journal:
 * written as rbc writes a line, its fields of the types rbc writes and its
 * words (events, verdicts, states, an incident's levels and roles) ones rbc
 * writes, the header first and only first, naming the run of its
 * directory, and its seq the line's place (from 0, without a gap: a line
 * deleted, repeated or moved shows here). NULL when it may, else why not
 * (a new string).
 */
char *journal_check_line(const cJSON *o, const char *raw, size_t len, unsigned long line,
                         struct journal_check *k)
{
	char *why = NULL;
	const char *dup = twice(o);
	if (dup)
		return xasprintf("\"%s\" twice in one object", dup);
	for (const cJSON *c = o->child; c; c = c->next) {
		const struct field_rule *rule = c->string ? rule_of(c->string) : NULL;
		if (rule && !field_ok(c, rule->kind, c->string, &why))
			return why ? why : xasprintf("\"%s\" is not what rbc writes there", c->string);
	}
	if ((why = check_text(raw, len)))
		return why;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
	if (!seq || !ev)
		return xasprintf("not an event: no \"%s\"", seq ? "ev" : "seq");
	bool header = strcmp(ev, "run_header") == 0;
	if (line == 1 && !header)
		return xstrdup("no run header on the first line");
	if (line > 1 && header)
		return xstrdup("a second run header: lines of another journal are in this one");
	if (header && (!cJSON_GetObjectItemCaseSensitive(o, "run") || !cJSON_GetObjectItemCaseSensitive(o, "runbooks")))
		return xasprintf("the run header has no \"%s\"", cJSON_GetObjectItemCaseSensitive(o, "run") ? "runbooks" : "run");
	double want = (double)(line - 1), got = seq->valuedouble;
	if (got > want)
		return xasprintf("seq %.0f where %.0f was expected: %.0f line%s before it %s missing (deleted or moved)",
		                 got, want, got - want, got - want == 1 ? "" : "s", got - want == 1 ? "is" : "are");
	if (got < want)
		return xasprintf("seq %.0f where %.0f was expected: the line with seq %.0f is repeated or moved", got, want,
		                 got);
	if (header) {
		const char *run = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "run"));
		if (strcmp(run, k->dir_name) != 0)
			return xasprintf("the run header names the run \"%s\", not its directory's \"%s\"", run, k->dir_name);
		line_check_tree(k, cJSON_GetObjectItemCaseSensitive(o, "runbooks"));
		return NULL;
	}
	if (!cJSON_GetObjectItemCaseSensitive(o, "t"))
		return xstrdup("not an event: no \"t\"");
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
	if (strcmp(ev, "step_finished") == 0 && state && strcmp(state, "done") != 0 &&
	    strcmp(state, "skipped") != 0 && strcmp(state, "cancelled") != 0)
		return xasprintf("a step ended in an unknown state \"%s\"", state);
	if (strcmp(ev, "run_resumed") == 0 && cJSON_GetObjectItemCaseSensitive(o, "runbooks"))
		line_check_tree(k, cJSON_GetObjectItemCaseSensitive(o, "runbooks"));
	if (strcmp(ev, "incident") == 0)
		return check_incident(o, k);
	if (strcmp(ev, "deadline") == 0)
		return check_deadline(o);
	if (strcmp(ev, "command") == 0)
		return check_command(o);
	return NULL;
}

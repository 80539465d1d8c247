/*
 * joined.c — a joiner's command judged and applied by the driver
 * (docs/team.md, "Joining a run"). Nothing of a row is trusted: its
 * fields are bounded and free of control bytes, the step must exist and
 * wait for that kind of answer, an ask's answer obeys its rule, an
 * approval comes from someone other than the run's driver, and what only
 * the driver may do (a confirmation, which starts a command on its
 * machine; running, stopping, a secret answer) is refused. An accepted one
 * goes through the same engine and desk calls as the console's keys, by
 * the joiner's name; every one, applied or refused, is journaled as a
 * command event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joined.h"
#include "rbc/incident.h"
#include "rbc/journal.h"
#include "rbc/util.h"

#define NAME_MAX_CHARS 64
#define HOST_MAX_CHARS 255
#define STEP_MAX_CHARS 200
#define VALUE_MAX_CHARS 1024
#define NOTE_MAX_CHARS 2000
#define DETAIL_MAX_CHARS 4000
#define SHOWN_MAX 200

/* The length of the well-formed UTF-8 character at p, 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 2 : (*p & 0xF0) == 0xE0 ? 3
	        : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 4 : 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Why text may not be taken as a field of max characters (NULL: it may):
   valid UTF-8, no control character (C0, DEL, C1: ESC, CSI, OSC among them). */
static const char *field_refused(const char *text, long long len, long long max)
{
	if (!text)
		return "missing";
	if (len > max)
		return "too long";
	for (const unsigned char *p = (const unsigned char *)text; *p;) {
		int n = utf8_len(p);
		if (!n)
			return "not UTF-8";
		if ((n == 1 && (*p < 0x20 || *p == 0x7f)) || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0))
			return "a control character in it";
		p += n;
	}
	return NULL;
}

/* text as the record may show it: control characters (C0, DEL, C1) and
   bytes that are not UTF-8 as U+FFFD, cut at about SHOWN_MAX bytes on a
   character boundary with "…" (a new string). */
static char *shown(const char *text)
{
	struct strbuf sb = {0};
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	while (*p && sb.len < SHOWN_MAX) {
		int n = utf8_len(p);
		bool control = (n == 1 && (*p < 0x20 || *p == 0x7f)) || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0);
		if (n && !control)
			sb_add(&sb, (const char *)p, (size_t)n);
		else
			sb_adds(&sb, "\xEF\xBF\xBD");
		p += n ? n : 1;
	}
	if (*p)
		sb_adds(&sb, "\xE2\x80\xA6");
	return sb_take(&sb);
}

/* The step's name on screen: its number, else its id. */
static const char *label(const struct eng_step *s, const char *given)
{
	return s && s->def && s->def->number ? s->def->number : given;
}

/* Refuses with why (formatted): false. */
static bool refuse(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool refuse(char **why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	*why = xvasprintf(fmt, ap);
	va_end(ap);
	return false;
}

/* done, fail, skip on a manual step. */
static bool answer_manual(const struct joined *j, const struct command *c, struct eng_step *s, char **why,
                          char **said)
{
	enum eng_answer a = strcmp(c->kind, "done") == 0 ? ENG_ANSWER_DONE
	                    : strcmp(c->kind, "fail") == 0 ? ENG_ANSWER_FAIL : ENG_ANSWER_SKIP;
	if (s->state == ENG_WAITING && s->wait == ENG_WAIT_CONFIRM)
		return refuse(why, "a confirmation starts a command on the driver's machine: only the driver answers it");
	if (!s->def || s->def->action != RB_MANUAL)
		return refuse(why, "only the driver runs, stops or ends steps; a joiner answers manual steps");
	if (s->state != ENG_WAITING && s->state != ENG_PENDING)
		return refuse(why, "step %s is %s, not waiting for an answer", label(s, c->step), eng_state_name(s->state));
	const char *no = a == ENG_ANSWER_SKIP || a == ENG_ANSWER_DONE ? engine_approval_refused(j->e, s, c->operator) : NULL;
	if (no)
		return refuse(why, "%s", no);
	if (c->note && field_refused(c->note, c->len_note, NOTE_MAX_CHARS))
		return refuse(why, "the note: %s", field_refused(c->note, c->len_note, NOTE_MAX_CHARS));
	if (!engine_answer(j->e, s, a, c->note && *c->note ? c->note : NULL, c->operator))
		return refuse(why, "step %s does not take %s now", label(s, c->step), c->kind);
	*said = xasprintf("%s %s: %s", s->def->approval && a == ENG_ANSWER_DONE ? "approved" : "answered",
	                  label(s, c->step), c->kind);
	return true;
}

/* An ask's answer, by its rule. */
static bool answer_ask(const struct joined *j, const struct command *c, struct eng_step *s, char **why, char **said)
{
	if (s->state != ENG_WAITING || s->wait != ENG_WAIT_ASK || !s->def || !s->def->ask)
		return refuse(why, "step %s is not waiting for an answer", label(s, c->step));
	if (s->def->ask->secret)
		return refuse(why, "a secret is answered at the driver's console: its answer would sit in the database");
	const char *bad = field_refused(c->value, c->len_value, VALUE_MAX_CHARS);
	if (bad)
		return refuse(why, "the answer: %s", bad);
	char *rule = NULL;
	if (!engine_answer_ask(j->e, s, c->value, c->operator, &rule)) {
		if (rule) {
			*why = rule;
			return false;
		}
		return refuse(why, "step %s is not waiting for an answer", label(s, c->step));
	}
	*said = xasprintf("answered %s: %s", label(s, c->step), c->value);
	return true;
}

/* An incident action, made again here with the joiner as its actor. */
static bool incident_action(const struct joined *j, const struct command *c, char **why, char **said)
{
	if (!j->desk || !desk_incident(j->desk))
		return refuse(why, "this run is no incident");
	const struct incident *in = desk_incident(j->desk);
	const char *bad = field_refused(c->detail, c->len_detail, DETAIL_MAX_CHARS);
	if (bad)
		return refuse(why, "the action: %s", bad);
	cJSON *d = cJSON_Parse(c->detail);
	const char *what = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "what"));
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "text"));
	const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "role"));
	const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "to"));
	struct rbc_error err = {0};
	cJSON *ev = NULL;
	bool known = true;
	int64_t now = j->now(j->now_ud);
	if (!what) {
		known = false;
	} else if (strcmp(what, "note") == 0 || strcmp(what, "decision") == 0 || strcmp(what, "todo") == 0 ||
	           strcmp(what, "update") == 0) {
		enum inc_kind k = what[0] == 'n' ? INC_EV_NOTE : what[0] == 'd' ? INC_EV_DECISION
		                  : what[0] == 't' ? INC_EV_TODO : INC_EV_UPDATE;
		ev = text && text[0] && strlen(text) <= NOTE_MAX_CHARS ? incident_add(in, k, text, now, c->operator, &err)
		                                                       : NULL;
		if (!ev && !err.msg)
			rbc_error_set(&err, "a %s needs a text of at most %d characters", what, NOTE_MAX_CHARS);
	} else if (strcmp(what, "role") == 0) {
		ev = incident_assign(in, role, to, now, c->operator, &err);
	} else if (strcmp(what, "status") == 0) {
		enum inc_status st;
		if (to && incident_status_parse(to, &st))
			ev = incident_set_status(in, st, now, c->operator, &err);
		else
			rbc_error_set(&err, "no status \"%s\"", to ? to : "");
	} else {
		known = false;
	}
	if (!known) {
		cJSON_Delete(d);
		return refuse(why, "a joiner may take roles and add notes, decisions, todos, status updates and "
		                   "statuses; declaring, changing the severity and resolving are the driver's");
	}
	char *w = what ? xstrdup(what) : NULL;
	cJSON_Delete(d);
	if (!ev || !desk_record(j->desk, ev, &err)) {
		*why = xstrdup(err.msg ? err.msg : "refused");
		rbc_error_clear(&err);
		free(w);
		return false;
	}
	*said = xasprintf("added to the incident: %s", w);
	free(w);
	return true;
}

/* Judges and applies c; the command event says what became of it. */
static bool judge(const struct joined *j, const struct command *c, char **why, char **said)
{
	static const char *const kinds[] = {"done", "fail", "skip", "answer", "note", "incident"};
	const char *bad;
	if ((bad = field_refused(c->operator, c->len_operator, NAME_MAX_CHARS)))
		return refuse(why, "the operator's name: %s", bad);
	if ((bad = field_refused(c->host, c->len_host, HOST_MAX_CHARS)))
		return refuse(why, "the host: %s", bad);
	bool known = false;
	for (size_t i = 0; c->kind && i < RBC_ARRAY_LEN(kinds) && !known; i++)
		known = strcmp(c->kind, kinds[i]) == 0;
	if (!known)
		return refuse(why, "no command \"%s\" (a joiner may: done, fail, skip, answer, note, incident)",
		              c->kind ? c->kind : "");
	if (strcmp(c->kind, "incident") == 0)
		return incident_action(j, c, why, said);
	struct eng_step *s = NULL;
	if (c->step && *c->step) {
		if ((bad = field_refused(c->step, c->len_step, STEP_MAX_CHARS)))
			return refuse(why, "the step: %s", bad);
		const char *slash = strchr(c->step, '/'); /* the journal's RUNBOOK/STEP */
		if (!(s = engine_find(j->e, c->step)) && !(slash && (s = engine_find(j->e, slash + 1))))
			return refuse(why, "no step \"%s\" in this run", c->step);
	} else if (strcmp(c->kind, "note") != 0) {
		return refuse(why, "which step? (%s needs one)", c->kind);
	}
	if (strcmp(c->kind, "note") == 0) {
		const char *text = c->note ? c->note : c->value;
		long long len = c->note ? c->len_note : c->len_value;
		if ((bad = field_refused(text, len, NOTE_MAX_CHARS)) || !*text)
			return refuse(why, "the note: %s", bad ? bad : "empty");
		if (!engine_note(j->e, s, text, c->operator))
			return refuse(why, "the record is lost: nothing more is recorded");
		*said = s ? xasprintf("added a note on %s", label(s, c->step)) : xstrdup("added a note");
		return true;
	}
	if (strcmp(c->kind, "answer") == 0)
		return answer_ask(j, c, s, why, said);
	return answer_manual(j, c, s, why, said);
}

/* Whether c names a step whose ask is secret: its value is never kept. */
static bool secret_step(const struct joined *j, const struct command *c)
{
	if (!c->step || field_refused(c->step, c->len_step, STEP_MAX_CHARS))
		return false;
	const char *slash = strchr(c->step, '/');
	const struct eng_step *s = engine_find(j->e, c->step);
	if (!s && slash)
		s = engine_find(j->e, slash + 1);
	return s && s->def && s->def->ask && s->def->ask->secret;
}

/* Orders seen commands by id. */
static int cmp_seen(const void *a, const void *b)
{
	const struct joined_seen *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The commands the journal at path judged (joined.h). */
void joined_seen_from(struct joined *j, const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	while ((n = getline(&line, &lcap, fp)) > 0) {
		if (!strstr(line, "command")) /* cheap: most lines are not (a rebuilt line may be spaced) */
			continue;
		cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "command");
		const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ev"));
		const char *res = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "result"));
		if (ev && strcmp(ev, "command") == 0 && cJSON_IsNumber(id) && res) {
			xgrow(&j->seen, &cap, j->nseen + 1, sizeof *j->seen);
			const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "why"));
			j->seen[j->nseen++] = (struct joined_seen){(long long)id->valuedouble, strcmp(res, "applied") == 0,
			                                           why ? xstrdup(why) : NULL};
		}
		cJSON_Delete(o);
	}
	free(line);
	fclose(fp);
	if (j->nseen > 1)
		qsort(j->seen, j->nseen, sizeof *j->seen, cmp_seen);
}

/* Frees what joined_seen_from read. */
void joined_free(struct joined *j)
{
	for (size_t i = 0; i < j->nseen; i++)
		free(j->seen[i].why);
	free(j->seen);
	j->seen = NULL;
	j->nseen = 0;
}

void joined_take(const struct joined *j, const struct command *c, bool *applied, char **why, bool *forget)
{
	char *said = NULL;
	*why = NULL;
	/* Judged before this driver took the run: its recorded verdict. */
	struct joined_seen key = {.id = c->id};
	const struct joined_seen *seen = j->nseen ? bsearch(&key, j->seen, j->nseen, sizeof *j->seen, cmp_seen) : NULL;
	if (seen) {
		*applied = seen->applied;
		*why = seen->why ? xstrdup(seen->why) : NULL;
		*forget = c->value && secret_step(j, c);
		return;
	}
	*forget = c->value && secret_step(j, c);
	*applied = judge(j, c, why, &said);
	char *op = shown(c->operator), *host = shown(c->host), *kind = shown(c->kind);
	char *who = xasprintf("%s@%s", op, host);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "command", (double)c->id);
	cJSON_AddStringToObject(d, "by", op);
	cJSON_AddStringToObject(d, "host", host);
	cJSON_AddStringToObject(d, "action", kind);
	if (c->step && *c->step) {
		char *st = shown(c->step);
		cJSON_AddStringToObject(d, "on", st);
		free(st);
	}
	if (c->value && !*forget) {
		char *v = shown(c->value);
		cJSON_AddStringToObject(d, "value", v);
		free(v);
	}
	if (c->note) {
		char *v = shown(c->note);
		cJSON_AddStringToObject(d, "note", v);
		free(v);
	}
	cJSON_AddStringToObject(d, "result", *applied ? "applied" : "refused");
	char *text;
	if (*applied) {
		text = xasprintf("%s %s", who, said);
	} else {
		char *w = shown(*why);
		cJSON_AddStringToObject(d, "why", w);
		free(*why);
		*why = w;
		char *st = c->step && *c->step ? shown(c->step) : NULL;
		text = xasprintf("%s: %s%s%s refused: %s", who, kind, st ? " on " : "", st ? st : "", w);
		free(st);
	}
	cJSON_AddStringToObject(d, "text", text);
	engine_command(j->e, d);
	cJSON_Delete(d);
	free(text);
	free(said);
	free(who);
	free(op);
	free(host);
	free(kind);
}

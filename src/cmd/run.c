/*
 * run.c — `rbc run --batch FILE…`: the engine without a screen.
 *
 * Loads and validates every runbook first (any error: exit 65, nothing
 * runs), then runs them in order as the phases of one run, printing one line
 * per finished step — VERDICT, id, title, explanation — plus lines for
 * retries, captures, jumps and watches that fire, and a summary. Exit code
 * from the run's verdict: 0 pass, 1 warn, 2 fail, 3 unknown or error; 64
 * usage, 65 invalid runbook or vars file, 66 unreadable file, 130 when
 * interrupted by a signal.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "rbc/cmd.h"
#include "rbc/console.h"
#include "rbc/engine.h"
#include "rbc/history.h"
#include "rbc/journal.h"
#include "rbc/json.h"
#include "rbc/resume.h"
#include "rbc/sha256.h"
#include "rbc/rundir.h"
#include "rbc/runbook.h"
#include "rbc/text.h"

static void run_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc [run] [OPTIONS] FILE…          the console\n"
	        "       rbc run --batch [OPTIONS] FILE…    without a screen\n"
	        "\n"
	        "Runs the runbooks in order as one run. The console walks it live (keys:\n"
	        "? in the console, docs/console.md); --batch prints one line per step\n"
	        "(verdict, id, title, explanation) and a summary.\n"
	        "\n"
	        "  --var NAME=VALUE     sets a variable (repeatable; overrides the runbook's vars)\n"
	        "  --vars FILE          variables from a file: a JSON object, or NAME=VALUE lines\n"
	        "  --assume done|skip   answers every manual step so\n"
	        "  --yes                confirms every step that asks for confirmation\n"
	        "  --operator NAME      who answers (default: the login name)\n"
	        "  --theme NAME|FILE    the console's colours (default, light, high-contrast,\n"
	        "                       monochrome, or a file); NO_COLOR selects monochrome\n"
	        "  --db URL             also store every journal event in PostgreSQL (default:\n"
	        "                       RBC_DATABASE_URL); the run never waits for it\n"
	        "  --severity LEVEL     an incident runbook: declare at this level (its id or\n"
	        "                       name) instead of asking; needs --title\n"
	        "  --title TEXT         …the incident's title\n"
	        "  --impact-start WHEN  …when the impact began: HH:MM (UTC, today), 15m (ago)\n"
	        "                       or an ISO time; never in the future (default: now)\n"
	        "\n"
	        "Manual steps without --assume and confirmations without --yes end as\n"
	        "UNKNOWN \"needs operator\": nothing passes silently. Secrets are read\n"
	        "from the environment (or --vars), never from --var.\n"
	        "Step outputs are kept in the run directory ($RBC_RUNS_DIR, else\n"
	        "$XDG_STATE_HOME/rbc/runs, else ~/.local/state/rbc/runs).\n"
	        "A journal line that cannot be written (a full disk) stops the run: nothing\n"
	        "new starts, RECORD LOST is said, and the exit status is 74.\n"
	        "exit: 0 pass, 1 warn, 2 fail, 3 unknown/error, 64 usage, 65 invalid\n"
	        "runbook, 66 unreadable file, 74 record lost, 130 interrupted.\n");
}

/* Sets the variable named by the first klen bytes of k. */
static void kv_set(struct rb_kv *kv, const char *k, size_t klen, const char *v)
{
	char *name = xstrndup(k, klen);
	rb_kv_set(kv, name, v);
	free(name);
}

/* The 1-based line of byte off in buf: LF, CR LF and a lone CR end a line. */
static unsigned line_of(const char *buf, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		line += buf[i] == '\n' || (buf[i] == '\r' && buf[i + 1] != '\n');
	return line;
}

/*
 * --vars FILE: a JSON object of scalars, or NAME=VALUE lines (# comments),
 * in UTF-8, with or without a byte-order mark; lines end in LF, CR LF or
 * a lone CR (an old Mac editor's). Anything that would change a value
 * silently is refused with its line: a NUL byte (a value would end there),
 * bytes that are not UTF-8, a file in UTF-16 or UTF-32.
 */
static int read_vars_file(const char *path, struct rb_kv *kv)
{
	size_t len = 0;
	char *buf = read_file(path, 16u << 20, &len);
	if (!buf) {
		text_fprintf(stderr, "rbc: --vars %s: cannot read: %s\n", path, strerror(errno));
		return RBC_EXIT_NOINPUT;
	}
	/* UTF-32's marks first: FF FE 00 00 starts with UTF-16's FF FE. */
	static const struct {
		const char *mark;
		size_t n;
		const char *name;
	} boms[] = {
		{"\xFF\xFE\x00\x00", 4, "UTF-32"}, {"\x00\x00\xFE\xFF", 4, "UTF-32"},
		{"\xFF\xFE", 2, "UTF-16"}, {"\xFE\xFF", 2, "UTF-16"},
	};
	for (size_t k = 0; k < RBC_ARRAY_LEN(boms); k++) {
		if (len < boms[k].n || memcmp(buf, boms[k].mark, boms[k].n) != 0)
			continue;
		struct strbuf hex = {0};
		for (size_t i = 0; i < boms[k].n; i++)
			sb_addf(&hex, "%s%02X", i ? " " : "", (unsigned char)buf[i]);
		text_fprintf(stderr, "%s:1: the file is %s (it starts with a byte-order mark %s): save it as UTF-8\n",
		             path, boms[k].name, sb_borrow(&hex));
		sb_free(&hex);
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	const char *nul = memchr(buf, '\0', len);
	size_t bad = len;
	bool invalid = !utf8_valid(buf, len, &bad);
	if (nul && (size_t)(nul - buf) < bad) {
		text_fprintf(stderr, "%s:%u: a NUL byte: a value cannot hold one (it would end there)\n", path,
		        line_of(buf, (size_t)(nul - buf)));
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	if (invalid) {
		text_fprintf(stderr, "%s:%u: bytes that are not UTF-8: a --vars file is UTF-8 text\n", path,
		        line_of(buf, bad));
		free(buf);
		return RBC_EXIT_DATAERR;
	}
	/* A byte-order mark (an editor on Windows writes one) is no part of the first line. */
	size_t bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	const char *p = buf + bom;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '{') {
		/* The runbooks' reader: positions, comments, and no \u0000 escape. */
		struct rbc_diags d = {0};
		struct json_doc *doc = json_doc_parse(path, buf, len, &d);
		const cJSON *j = doc ? json_doc_root(doc) : NULL;
		if (!cJSON_IsObject(j)) {
			diags_print(&d, stderr);
			if (doc)
				text_fprintf(stderr, "rbc: --vars %s: not a valid JSON object of NAME: value\n", path);
			diags_free(&d);
			json_doc_free(doc);
			free(buf);
			return RBC_EXIT_DATAERR;
		}
		diags_free(&d);
		const cJSON *it;
		cJSON_ArrayForEach(it, j)
		{
			char num[64];
			const char *v = NULL;
			if (cJSON_IsString(it))
				v = it->valuestring;
			else if (cJSON_IsNumber(it)) {
				snprintf(num, sizeof num, "%.17g", it->valuedouble);
				v = num;
			} else if (cJSON_IsBool(it))
				v = cJSON_IsTrue(it) ? "true" : "false";
			if (!v || !rb_var_name_ok(it->string, strlen(it->string))) {
				text_fprintf(stderr, "rbc: --vars %s: \"%s\": %s\n", path, it->string,
				        v ? "not a variable name (letters, digits and '_')"
				          : "expected a string, number or boolean");
				json_doc_free(doc);
				free(buf);
				return RBC_EXIT_DATAERR;
			}
			kv_set(kv, it->string, strlen(it->string), v);
		}
		json_doc_free(doc);
		free(buf);
		return 0;
	}
	unsigned line = 0;
	for (char *s = buf + bom; s && *s;) {
		line++;
		char *nl = s + strcspn(s, "\r\n"), *next = NULL;
		if (*nl) {
			next = nl + (nl[0] == '\r' && nl[1] == '\n' ? 2 : 1);
			*nl = '\0';
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#') {
			if (strncmp(s, "export ", 7) == 0)
				s += 7;
			char *eq = strchr(s, '=');
			if (!eq || !rb_var_name_ok(s, (size_t)(eq - s))) {
				text_fprintf(stderr, "%s:%u: expected NAME=VALUE\n", path, line);
				free(buf);
				return RBC_EXIT_DATAERR;
			}
			char *v = eq + 1;
			size_t vl = strlen(v);
			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
				v[vl - 1] = '\0';
				v++;
			}
			kv_set(kv, s, (size_t)(eq - s), v);
		}
		s = next;
	}
	free(buf);
	return 0;
}

/*
 * Text for one line: control characters (C1 too) and bytes that are not
 * UTF-8 shown escaped, never raw (text_term in text.h) — a command's output
 * must not drive the terminal nor garble the log.
 */
static void put_clean(FILE *fp, const char *s)
{
	text_fputs(s ? s : "", fp);
}

/* Lines of a failed command's output shown under its line, per stream. */
#define OUTPUT_TAIL_LINES 5
#define CAPTURE_SHOWN 400      /* bytes of a captured value on its CAPTURE line */

struct batch {
	struct engine *e;
	uv_signal_t sig[3];
	bool finished;
	bool interrupted;
	enum rbc_verdict verdict;
	char *stopped;            /* why a stop ended the run before its end, or NULL */
	struct journal *j;
	bool lost_said;           /* RECORD LOST was printed */
	uint64_t t0;
	uv_loop_t *loop;
};

static const char *step_id(const struct eng_step *s)
{
	return s->def ? s->def->id : s->rb->id;
}

static void line(const char *word, const struct eng_step *s, const char *text)
{
	text_printf("%-9s %s  ", word, step_id(s));
	put_clean(stdout, s->title);
	if (text && *text) {
		fputs(" — ", stdout);
		put_clean(stdout, text);
	}
	fputc('\n', stdout);
}

/*
 * The last lines a failed command printed, masked, under its line: what an
 * operator needs first when a step fails at 2 a.m.
 */
static void output_tail(struct batch *b, const struct eng_step *s)
{
	if (!s->def || (s->def->action != RB_RUN && s->def->action != RB_NAGIOS) || !s->nsamples)
		return;
	const struct rbc_value *last = s->samples[s->nsamples - 1];
	static const char *const streams[] = {"stdout", "stderr"};
	for (int k = 0; k < 2; k++) {
		const struct rbc_value *v = value_obj_get(last, streams[k]);
		if (!v || v->type != VALUE_STR || !v->u.str.len)
			continue;
		/* Masked as a whole, the window's cut included, before lines are cut. */
		struct rbc_value *mv = value_masked(v, engine_secrets(b->e));
		/* The bytes as they are: a NUL is shown (\x00), the lines after it too. */
		size_t len = mv->u.str.len;
		char *m = xstrndup(mv->u.str.s, len);
		value_free(mv);
		/* The last OUTPUT_TAIL_LINES lines. */
		while (len && m[len - 1] == '\n')
			m[--len] = '\0';
		const char *start = m + len, *end = m + len;
		int lines = 0;
		while (start > m && lines < OUTPUT_TAIL_LINES) {
			start--;
			if (*start == '\n' && ++lines == OUTPUT_TAIL_LINES) {
				start++;
				break;
			}
		}
		for (const char *p = start; p && p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			struct strbuf one = {0};
			sb_adds(&one, "");
			text_term(&one, p, nl ? (size_t)(nl - p) : (size_t)(end - p));
			printf("%-9s %s| %s\n", "", streams[k], sb_borrow(&one));
			sb_free(&one);
			p = nl ? nl + 1 : NULL;
		}
		free(m);
	}
}

static void on_event(void *ud, const struct eng_event *ev)
{
	struct batch *b = ud;
	const struct eng_step *s = ev->step;
	if (!b->lost_said && journal_error(b->j)) {
		/* Said where it happens, before the lines it makes unrecorded. */
		b->lost_said = true;
		fputs("RECORD LOST  ", stdout);
		put_clean(stdout, journal_error(b->j));
		fputs(" — nothing new starts, the run stops\n", stdout);
	}
	switch (ev->type) {
	case ENG_EV_STEP_FINISHED: {
		/* An end the record lost is shown as such. */
		char *t = b->lost_said ? xasprintf("%s%s(not in the record)", ev->text ? ev->text : "",
		                                   ev->text ? " " : "")
		                       : NULL;
		const char *text = t ? t : ev->text;
		if (s->state == ENG_SKIPPED)
			line("SKIPPED", s, text);
		else if (s->state == ENG_CANCELLED)
			line("CANCELLED", s, text);
		else
			line(verdict_name(ev->verdict), s, text);
		free(t);
		if (s->state == ENG_DONE &&
		    (ev->verdict == RBC_VERDICT_FAIL || ev->verdict == RBC_VERDICT_ERROR))
			output_tail(b, s);
		break;
	}
	case ENG_EV_RETRY: {
		char *t = xasprintf("attempt %u of %d: %s %s", s->attempt, s->def->retry_attempts,
		                    verdict_name(ev->verdict), ev->text ? ev->text : "");
		line("RETRY", s, t);
		free(t);
		break;
	}
	case ENG_EV_CAPTURE: {
		text_printf("%-9s %s  %s = ", "CAPTURE", step_id(s), ev->name);
		/* A line, not a megabyte: the head of a long value and its size. */
		const char *v = ev->value ? ev->value : ev->text;
		size_t n = v ? strlen(v) : 0, keep = n > CAPTURE_SHOWN ? CAPTURE_SHOWN : n;
		while (keep < n && keep > 0 && ((unsigned char)v[keep] & 0xC0) == 0x80)
			keep--;
		char *head = xstrndup(v ? v : "", keep);
		put_clean(stdout, head);
		free(head);
		if (keep < n)
			printf("… (%zu bytes)", n);
		fputc('\n', stdout);
		break;
	}
	case ENG_EV_JUMP:
		text_printf("%-9s %s → %s  ", "JUMP", step_id(s), step_id(ev->target));
		put_clean(stdout, ev->text);
		fputc('\n', stdout);
		break;
	case ENG_EV_WATCH_FIRED:
		text_printf("%-9s %s%s%s  ", "FIRED", step_id(s), ev->target ? " → " : "",
		       ev->target ? step_id(ev->target) : "");
		put_clean(stdout, ev->text);
		fputc('\n', stdout);
		break;
	case ENG_EV_CONFIRMED:
		if (ev->automatic)
			line("CONFIRMED", s, "--yes");
		break;
	case ENG_EV_RUN_FINISHED:
		b->finished = true;
		b->verdict = ev->verdict;
		if (ev->stopped) {
			free(b->stopped);
			b->stopped = xstrdup(ev->text ? ev->text : "stopped");
		}
		if (ev->text && !b->interrupted) {
			printf("%-9s ", "STOPPED");
			put_clean(stdout, ev->text);
			fputc('\n', stdout);
		}
		for (size_t i = 0; i < RBC_ARRAY_LEN(b->sig); i++)
			uv_close((uv_handle_t *)&b->sig[i], NULL);
		break;
	default:
		break;
	}
	fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct batch *b = h->data;
	if (b->interrupted || b->finished)
		return;
	b->interrupted = true;
	const char *name = sigabbrev_np(signum);
	char *why = xasprintf("interrupted by SIG%s", name ? name : "?");
	fprintf(stderr, "rbc: %s: stopping\n", why);
	engine_stop(b->e, why);
	free(why);
}

static void summary(struct batch *b, const struct rundir *rd)
{
	struct eng_counts c;
	engine_counts(b->e, &c);
	static const char *const words[] = {"passed", "warn", "failed", "unknown", "error"};
	/* A lost record has not kept the run's end: what is shown is not its record. */
	printf("summary: %s%s — ", verdict_name(b->verdict), journal_error(b->j) ? " (not in the record)" : "");
	if (b->stopped) {
		/* Not a verdict on the whole run: it did not get to its end. */
		fputs("stopped: ", stdout);
		put_clean(stdout, b->stopped);
		fputs(" — ", stdout);
	}
	printf("%zu step%s", c.total, c.total == 1 ? "" : "s");
	const char *sep = ": ";
	for (int k = 0; k < 5; k++)
		if (c.by_verdict[k]) {
			printf("%s%zu %s", sep, c.by_verdict[k], words[k]);
			sep = ", ";
		}
	if (c.skipped) {
		printf("%s%zu skipped", sep, c.skipped);
		sep = ", ";
	}
	if (c.cancelled) {
		printf("%s%zu cancelled", sep, c.cancelled);
		sep = ", ";
	}
	if (c.pending)
		printf("%s%zu not run", sep, c.pending);
	double secs = (double)(uv_hrtime() - b->t0) / 1e9;
	printf(" — %.1f s\n", secs);
	text_printf("run: %s (%s)\n", rd->id, rd->path);
	fflush(stdout);
}

/* ---- the journal's header ------------------------------------------------ */

struct run_record {
	struct journal *j;
	struct runbook **rbs;
	size_t nrbs;
	const struct rb_kv *vars;
	const struct rundir *rd;
	int argc;
	char **argv;
	struct rbc_error err;
	int rc;                   /* when preparing failed: the exit code (else 70) */
	struct history *hist;     /* --db: the journal's lines also go there */
	/* a resume */
	bool resume, forced;
	struct resume_state rs;
	char *resumed_at;         /* the step the run goes on at, for the operator */
	char *warning;            /* what the record could not give back, for the console */
};

/* The step tree, flat, in order: what the run could go through. */
static void header_steps(cJSON *arr, const struct runbook *rb, struct rb_step *const *steps, size_t n,
                         bool on_demand)
{
	for (size_t i = 0; i < n; i++) {
		const struct rb_step *st = steps[i];
		cJSON *o = cJSON_CreateObject();
		char *id = xasprintf("%s/%s", rb->id, st->id);
		cJSON_AddStringToObject(o, "id", id);
		free(id);
		cJSON_AddStringToObject(o, "number", st->number);
		cJSON_AddStringToObject(o, "title", st->title ? st->title : "");
		if (st->action == RB_GROUP)
			cJSON_AddBoolToObject(o, "group", true);
		if (on_demand || st->on_demand)
			cJSON_AddBoolToObject(o, "on_demand", true);
		cJSON_AddItemToArray(arr, o);
		if (st->action == RB_GROUP)
			header_steps(arr, rb, st->children, st->nchildren, on_demand || st->on_demand);
	}
}

static void header_runbook(cJSON *arr, const struct runbook *rb, bool included)
{
	for (cJSON *c = arr->child; c; c = c->next)
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "id")), rb->id) == 0)
			return; /* included twice */
	cJSON *o = cJSON_CreateObject();
	char real[PATH_MAX];
	cJSON_AddStringToObject(o, "file", realpath(rb->file, real) ? real : rb->file);
	cJSON_AddStringToObject(o, "id", rb->id);
	cJSON_AddStringToObject(o, "kind", rb_kind_name(rb->kind));
	if (rb->title)
		cJSON_AddStringToObject(o, "title", rb->title);
	char hex[65];
	if (sha256_file(rb->file, hex))
		cJSON_AddStringToObject(o, "sha256", hex);
	else
		cJSON_AddNullToObject(o, "sha256");
	cJSON_AddBoolToObject(o, "included", included);
	if (rb->kind == RB_KIND_INCIDENT) {
		/* The ids its incident lines may name: readers check them. */
		cJSON *levels = cJSON_AddArrayToObject(o, "levels"), *roles = cJSON_AddArrayToObject(o, "roles");
		for (size_t i = 0; i < rb->nseverities; i++)
			cJSON_AddItemToArray(levels, cJSON_CreateString(rb->severities[i].id));
		for (size_t i = 0; i < rb->nroles; i++)
			cJSON_AddItemToArray(roles, cJSON_CreateString(rb->roles[i].id));
	}
	header_steps(cJSON_AddArrayToObject(o, "steps"), rb, rb->steps, rb->nsteps, included);
	cJSON_AddItemToArray(arr, o);
	for (size_t i = 0; i < rb->nincludes; i++)
		header_runbook(arr, rb->includes[i], true);
}

/* The command line as it may be written down: a --db URL without its password. */
/*
 * The command line as it may be written down: a --db URL without its
 * password, and every option's value (a --var, a --title, an --operator)
 * with the run's secrets masked; option names and runbook files as given.
 */
static void add_argv(cJSON *o, int argc, char **argv, const struct mask *m)
{
	static const char *const valued[] = {"--var", "--vars", "--operator", "--theme", "--db",
	                                      "--assume", "--severity", "--title", "--impact-start"};
	cJSON *args = cJSON_AddArrayToObject(o, "argv");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq = a[0] == '-' ? strchr(a, '=') : NULL;
		bool value = false;
		for (size_t k = 0; i > 0 && k < RBC_ARRAY_LEN(valued) && !value; k++)
			value = strcmp(argv[i - 1], valued[k]) == 0;
		bool url = (value && strcmp(argv[i - 1], "--db") == 0) || strncmp(a, "--db=", 5) == 0;
		char *w;
		if (url) {
			char *r = history_url_redacted(value ? a : a + 5);
			w = value ? xstrdup(r) : xasprintf("--db=%s", r);
			free(r);
		} else if (value || eq) {
			char *v = mask_text(m, value ? a : eq + 1);
			w = value ? xstrdup(v) : xasprintf("%.*s%s", (int)(eq + 1 - a), a, v);
			free(v);
		} else {
			w = xstrdup(a);
		}
		char *valid = utf8_copy_valid(w, strlen(w));
		cJSON_AddItemToArray(args, cJSON_CreateString(valid));
		free(valid);
		free(w);
	}
}

/*
 * Each runbook's variables as the run starts with them (given, else its own
 * default, expanded; masked) and its "log": the exports fill the deployment
 * log's Version and Environment from these and the captures that follow.
 */
static void header_values(cJSON *rbs, struct engine *e)
{
	size_t n;
	struct eng_step *const *tops = engine_nodes(e, &n);
	cJSON *o;
	cJSON_ArrayForEach(o, rbs)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
		struct eng_step *node = NULL;
		for (size_t i = 0; id && i < n && !node; i++)
			if (tops[i]->rb && strcmp(tops[i]->rb->id, id) == 0)
				node = tops[i];
		if (!node)
			continue;
		const struct runbook *rb = node->rb;
		cJSON *vars = rb->vars.n ? cJSON_AddObjectToObject(o, "vars") : NULL;
		for (size_t i = 0; i < rb->vars.n; i++) {
			char *v = engine_var(e, node, rb->vars.keys[i]);
			char *m = engine_mask(e, v ? v : "");
			cJSON_AddStringToObject(vars, rb->vars.keys[i], m);
			free(m);
			free(v);
		}
		if (rb->log_version || rb->log_environment) {
			cJSON *log = cJSON_AddObjectToObject(o, "log");
			if (rb->log_version)
				cJSON_AddStringToObject(log, "version", rb->log_version);
			if (rb->log_environment)
				cJSON_AddStringToObject(log, "environment", rb->log_environment);
		}
	}
}

/* The header: what a resume needs to rebuild the run, and an auditor to trust it. */
static bool write_header(struct run_record *r, struct engine *e)
{
	journal_set_mask(r->j, engine_secrets(e));
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "run", r->rd->id);
	cJSON_AddStringToObject(h, "rbc", RBC_VERSION);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char t[40];
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(h, "started", t);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	cJSON_AddStringToObject(h, "host", host);
	cJSON_AddStringToObject(h, "operator", engine_operator(e));
	cJSON_AddNumberToObject(h, "pid", (double)getpid());
	cJSON *rbs = cJSON_AddArrayToObject(h, "runbooks");
	for (size_t i = 0; i < r->nrbs; i++)
		header_runbook(rbs, r->rbs[i], false);
	header_values(rbs, e);
	cJSON *vars = cJSON_AddObjectToObject(h, "vars");
	for (size_t i = 0; r->vars && i < r->vars->n; i++)
		cJSON_AddStringToObject(vars, r->vars->keys[i], r->vars->vals[i]);
	add_argv(h, r->argc, r->argv, engine_secrets(e));
	if (journal_header(r->j, h, &r->err))
		return true;
	r->rc = RBC_EXIT_IOERR; /* no record: nothing may run */
	/* Nor is a torn header left behind as a run. */
	if (rundir_discard(r->rd)) {
		char *why = xasprintf("%s; nothing ran, and the run's directory is removed", r->err.msg);
		rbc_error_set(&r->err, "%s", why);
		free(why);
	}
	return false;
}

static bool resume_apply(struct run_record *r, struct engine *e);

/* Before anything runs: a new run's header, or a resumed run's record. */
static bool prepare(void *ud, struct engine *e)
{
	struct run_record *r = ud;
	if (!(r->resume ? resume_apply(r, e) : write_header(r, e)))
		return false;
	char *warn = engine_secret_warning(e);
	if (warn)
		text_fprintf(stderr, "rbc: warning: %s\n", warn);
	free(warn);
	return true;
}

/* The name of a secret of rb given with --var on the command line, or NULL. */
static const char *cli_secret(const struct runbook *rb, const struct rb_kv *vars, int argc,
                              char **argv)
{
	for (size_t k = 0; k < rb->nsecrets; k++) {
		const char *name = rb->secrets[k];
		if (!rb_kv_get(vars, name))
			continue;
		size_t kl = strlen(name);
		for (int a = 1; a < argc; a++) {
			const char *x = argv[a];
			if (strncmp(x, "--var=", 6) == 0)
				x += 6;
			else if (a == 1 || strcmp(argv[a - 1], "--var") != 0)
				continue;
			if (strncmp(x, name, kl) == 0 && x[kl] == '=')
				return name;
		}
	}
	return NULL;
}

/* Frees what cmd_run loaded and returns rc. */
static int run_done(int rc, struct runbook **rbs, size_t n, const char **files, struct rb_kv *vars,
                    struct rundir *rd)
{
	for (size_t i = 0; i < n; i++)
		runbook_free(rbs[i]);
	free(rbs);
	free(files);
	rb_kv_free(vars);
	rundir_free(rd);
	return rc;
}

/* Loads and validates every runbook, diagnostics on stderr; *status set on failure. */
/* Loads and validates every file; given (--var, --vars) resolves the
   durations written with ${NAME}. */
static struct runbook **load_runbooks(const char *const *files, size_t nfiles,
                                      const struct rb_kv *given, int *status)
{
	struct runbook **rbs = xcalloc(nfiles ? nfiles : 1, sizeof *rbs);
	for (size_t i = 0; i < nfiles; i++) {
		struct stat st;
		bool missing = stat(files[i], &st) != 0;
		if (missing || S_ISDIR(st.st_mode)) {
			text_fprintf(stderr, "%s: cannot read: %s\n", files[i],
			        missing ? strerror(errno) : "is a directory");
			if (!*status)
				*status = RBC_EXIT_NOINPUT;
			continue;
		}
		struct rbc_diags d = {0};
		rbs[i] = runbook_load(files[i], &d);
		if (rbs[i] && !runbook_resolve_durations(rbs[i], given, &d)) {
			runbook_free(rbs[i]);
			rbs[i] = NULL;
		}
		diags_sort(&d);
		diags_print(&d, stderr); /* warnings too: an operator should see them */
		if (!rbs[i]) {
			text_fprintf(stderr, "%s: %zu error%s, %zu warning%s\n", files[i], d.nerrors,
			        d.nerrors == 1 ? "" : "s", d.nwarnings, d.nwarnings == 1 ? "" : "s");
			*status = *status ? *status : RBC_EXIT_DATAERR;
		}
		diags_free(&d);
	}
	return rbs;
}

struct run_opts {
	bool batch, yes;
	const char *op, *theme;
	const char *severity, *title, *impact; /* incident: --severity, --title, --impact-start */
	const char *db;           /* --db, else RBC_DATABASE_URL (NULL: none) */
	enum eng_assume assume;
	int64_t t_start;          /* a resumed run: when it started (ms) */
};

static void to_history(void *ud, const char *line, size_t len)
{
	history_add(ud, line, len);
}

static void history_drained(void *ud)
{
	(void)ud;
}

/* The run is over: what the database has not stored yet gets a few seconds. */
static void history_end(uv_loop_t *loop, struct run_record *rec, const char *cmd)
{
	if (!rec->hist)
		return;
	history_finish(rec->hist, 5000, history_drained, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	size_t left = history_pending(rec->hist);
	if (left)
		text_fprintf(stderr,
		        "rbc: %s: history: %zu events not stored in the database (%s); they are in the journal: rbc history push %s\n",
		        cmd, left, history_state(rec->hist), rec->rd->id);
	else
		fprintf(stderr, "rbc: %s: history: %llu events stored in the database\n", cmd,
		        (unsigned long long)history_stored(rec->hist));
	history_free(rec->hist);
	rec->hist = NULL;
	uv_run(loop, UV_RUN_DEFAULT); /* its handles close */
}

/*
 * Runs rec's runbooks on loop — in the console, or in batch mode — with its
 * journal open: prepares the engine (header or resume), runs to the end,
 * frees the engine, the journal and the loop. Returns the exit code.
 */
static int execute(uv_loop_t *loop, struct run_record *rec, const struct run_opts *ro, const char *cmd)
{
	const struct rundir *rd = rec->rd;
	struct rbc_error err = {0};
	if (ro->db && *ro->db) {
		rec->hist = history_start(loop, ro->db, rd->id);
		journal_set_line_sink(rec->j, to_history, rec->hist);
	}
	if (!ro->batch) {
		struct engine_opts co = {.loop = loop, .runbooks = rec->rbs, .nrunbooks = rec->nrbs,
		                         .vars = rec->vars, .out_dir = rd->out, .operator = ro->op,
		                         .assume = ro->assume, .yes = ro->yes};
		struct console_cfg cfg = {.theme = ro->theme, .run_id = rd->id, .run_path = rd->path,
		                          .journal = rec->j, .started = prepare, .started_ud = rec,
		                          .resumed = rec->resume, .t_start = ro->t_start,
		                          .resume_warning = &rec->warning, .severity = ro->severity,
		                          .incident_title = ro->title, .impact_start = ro->impact};
		int rc = console_run(&co, &cfg);
		history_end(loop, rec, cmd);
		if (rec->err.msg) {
			text_fprintf(stderr, "rbc: %s: %s\n", cmd, rec->err.msg);
			rbc_error_clear(&rec->err);
			rc = rec->rc ? rec->rc : RBC_EXIT_SOFTWARE;
		} else if (journal_error(rec->j)) {
			text_fprintf(stderr, "rbc: %s: RECORD LOST: %s; what ran after it is not in the record\n", cmd,
			             journal_error(rec->j));
			rc = RBC_EXIT_IOERR;
		}
		journal_free(rec->j);
		uv_loop_close(loop);
		return rc;
	}
	struct batch b = {.loop = loop, .t0 = uv_hrtime()};
	struct engine_opts o = {
		.loop = loop,
		.runbooks = rec->rbs,
		.nrunbooks = rec->nrbs,
		.vars = rec->vars,
		.out_dir = rd->out,
		.operator = ro->op,
		.interactive = false,
		.assume = ro->assume,
		.yes = ro->yes,
		.on_event = journal_on_event,
		.ud = rec->j,
	};
	journal_set_observer(rec->j, on_event, &b);
	b.j = rec->j;
	b.e = engine_new(&o, &err);
	journal_attach(rec->j, b.e);
	if (!prepare(rec, b.e)) {
		text_fprintf(stderr, "rbc: %s: %s\n", cmd, rec->err.msg);
		rbc_error_clear(&rec->err);
		engine_free(b.e);
		history_end(loop, rec, cmd);
		journal_free(rec->j);
		probe_shutdown(loop);
		uv_run(loop, UV_RUN_DEFAULT);
		uv_loop_close(loop);
		return rec->rc ? rec->rc : RBC_EXIT_SOFTWARE;
	}
	if (rec->resume) {
		text_printf("%-9s %s — %zu events; %s\n", "RESUMED", rd->id, rec->rs.events,
		       rec->resumed_at ? rec->resumed_at : "from the start");
		for (size_t i = 0; i < rec->rs.ncut; i++) {
			char when[40], *t;
			iso_ms_format(when, sizeof when, rec->rs.cut[i].started);
			t = xasprintf("started at %s, its end is not in the record: it runs again", when);
			line("AGAIN", rec->rs.cut[i].step, t);
			free(t);
		}
		fflush(stdout);
	}
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < RBC_ARRAY_LEN(sigs); i++) {
		uv_signal_init(loop, &b.sig[i]);
		b.sig[i].data = &b;
		uv_signal_start(&b.sig[i], on_signal, sigs[i]);
		uv_unref((uv_handle_t *)&b.sig[i]); /* the run, not these, keeps the loop going */
	}
	engine_start(b.e);
	uv_run(loop, UV_RUN_DEFAULT);
	bool stalled = !b.finished;
	if (stalled) {
		/* Nothing left to wait for, yet no end: say so rather than hang. */
		fprintf(stderr, "rbc: %s: the run stalled (a bug in rbc): stopping\n", cmd);
		engine_stop(b.e, "the run stalled");
		uv_run(loop, UV_RUN_DEFAULT);
		b.verdict = RBC_VERDICT_ERROR;
	}
	history_end(loop, rec, cmd);
	summary(&b, rd);
	int rc = b.interrupted ? 130 : verdict_exit_code(b.verdict);
	if (journal_error(rec->j)) {
		text_fprintf(stderr, "rbc: %s: RECORD LOST: %s; what ran after it is not in the record\n", cmd,
		        journal_error(rec->j));
		rc = RBC_EXIT_IOERR;
	}
	engine_free(b.e);
	journal_free(rec->j);
	probe_shutdown(loop);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	free(b.stopped);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	bool batch = false, yes = false;
	enum eng_assume assume = ENG_ASSUME_NONE;
	const char *op = NULL, *theme = NULL, *db = getenv("RBC_DATABASE_URL");
	const char *severity = NULL, *title = NULL, *impact = NULL;
	struct rb_kv vars = {0};
	const char **files = xcalloc((size_t)argc + 1, sizeof *files);
	size_t nfiles = 0;
	int status = 0;
	bool opts_done = false;
	for (int i = 1; i < argc && !status; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		if (opts_done || a[0] != '-' || !a[1]) {
			files[nfiles++] = a;
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			run_usage(stdout);
			free(files);
			rb_kv_free(&vars);
			return 0;
		} else if (strcmp(a, "--batch") == 0) {
			batch = true;
		} else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
			yes = true;
		} else if (strcmp(a, "--severity") == 0 || strcmp(a, "--title") == 0 || strcmp(a, "--impact-start") == 0) {
			if (i + 1 >= argc) {
				text_fprintf(stderr, "rbc: run: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
				break;
			}
			const char **to = a[2] == 's' ? &severity : a[2] == 't' ? &title : &impact;
			*to = argv[++i];
		} else if (strcmp(a, "--var") == 0 || strncmp(a, "--var=", 6) == 0 ||
		           strcmp(a, "--vars") == 0 || strncmp(a, "--vars=", 7) == 0 ||
		           strcmp(a, "--assume") == 0 || strncmp(a, "--assume=", 9) == 0 ||
		           strcmp(a, "--operator") == 0 || strncmp(a, "--operator=", 11) == 0 ||
		           strcmp(a, "--theme") == 0 || strncmp(a, "--theme=", 8) == 0 ||
		           strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
			const char *eq = strchr(a, '=');
			size_t nl = eq ? (size_t)(eq - a) : strlen(a);
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else {
				text_fprintf(stderr, "rbc: run: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
				break;
			}
			if (nl == 5 && strncmp(a, "--var", 5) == 0) {
				const char *e = strchr(v, '=');
				if (!e || !rb_var_name_ok(v, (size_t)(e - v))) {
					text_fprintf(stderr, "rbc: run: --var needs NAME=VALUE, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				} else {
					kv_set(&vars, v, (size_t)(e - v), e + 1);
				}
			} else if (nl == 6 && strncmp(a, "--vars", 6) == 0) {
				status = read_vars_file(v, &vars);
			} else if (nl == 8) {
				if (strcmp(v, "done") == 0)
					assume = ENG_ASSUME_DONE;
				else if (strcmp(v, "skip") == 0)
					assume = ENG_ASSUME_SKIP;
				else {
					text_fprintf(stderr, "rbc: run: --assume takes done or skip, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				}
			} else if (nl == 7) {
				theme = v;
			} else if (nl == 4) {
				db = v;
			} else {
				op = v;
			}
		} else {
			text_fprintf(stderr, "rbc: run: unknown option %s\n", a);
			run_usage(stderr);
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status && !nfiles) {
		fprintf(stderr, "rbc: run: no runbook given\n");
		run_usage(stderr);
		status = RBC_EXIT_USAGE;
	}
	if (!status && !batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "rbc: the console needs a terminal; without one use rbc run --batch\n");
		status = RBC_EXIT_USAGE;
	}
	if (status) {
		free(files);
		rb_kv_free(&vars);
		return status;
	}

	/* Everything is validated before anything runs. */
	struct runbook **rbs = load_runbooks(files, nfiles, &vars, &status);
	/* A secret on the command line would show in ps and shell history. */
	for (size_t i = 0; !status && i < nfiles; i++) {
		const char *bad = cli_secret(rbs[i], &vars, argc, argv);
		for (size_t k = 0; !bad && k < rbs[i]->nincludes; k++)
			bad = cli_secret(rbs[i]->includes[k], &vars, argc, argv);
		if (bad) {
			text_fprintf(stderr, "rbc: run: %s is a secret: give it in the environment or a --vars file, not with --var\n",
			        bad);
			status = RBC_EXIT_USAGE;
		}
	}
	struct rundir rd = {0};
	struct rbc_error err = {0};
	if (!status && !rundir_create(rbs[0]->id, &rd, &err)) {
		text_fprintf(stderr, "rbc: run: %s\n", err.msg);
		/* A runs directory we may not trust is refused as rbc runs and
		   rbc resume refuse it; anything else is a failure to create. */
		struct rbc_error why = {0};
		char *base = rundir_base(&why);
		status = base && access(base, F_OK) == 0 && !rundir_base_trusted(base, &why) ? RBC_EXIT_NOPERM
		                                                                             : RBC_EXIT_SOFTWARE;
		free(base);
		rbc_error_clear(&why);
	}
	if (status) {
		rbc_error_clear(&err);
		return run_done(status, rbs, nfiles, files, &vars, &rd);
	}
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct run_record rec = {.rbs = rbs, .nrbs = nfiles, .vars = &vars, .rd = &rd,
	                         .argc = argc, .argv = argv};
	rec.j = journal_create(&loop, rd.path, &err);
	if (!rec.j) {
		text_fprintf(stderr, "rbc: run: %s\n", err.msg);
		rbc_error_clear(&err);
		uv_loop_close(&loop);
		return run_done(RBC_EXIT_SOFTWARE, rbs, nfiles, files, &vars, &rd);
	}
	struct run_opts ro = {.batch = batch, .op = op, .theme = theme, .db = db, .assume = assume, .yes = yes,
	                      .severity = severity, .title = title, .impact = impact};
	int rc = execute(&loop, &rec, &ro, "run");
	return run_done(rc, rbs, nfiles, files, &vars, &rd);
}

/* ---- rbc resume ---------------------------------------------------------- */

static void resume_usage(FILE *fp)
{
	fprintf(fp,
	        "usage: rbc resume [OPTIONS] RUN\n"
	        "\n"
	        "Rebuilds a run that did not finish (its process died, or it was stopped)\n"
	        "from its journal — verdicts, samples, captures, answers and notes — and\n"
	        "goes on where it was: in the console (a continues), or with --batch.\n"
	        "RUN is a run id (rbc runs lists them) or the run's directory. The\n"
	        "runbooks are read again from their files, and must be the bytes the run\n"
	        "started with (their sha256 is in the journal).\n"
	        "\n"
	        "  --batch              without a screen, as rbc run --batch\n"
	        "  --force              resume although a runbook changed since the start;\n"
	        "                       the run's record then follows the changed runbooks\n"
	        "  --operator NAME      who answers from now on (default: the run's operator)\n"
	        "  --assume done|skip   answers manual steps so from now on\n"
	        "  --yes                confirms every step that asks, from now on\n"
	        "  --var NAME=VALUE     a variable the run did not have (repeatable)\n"
	        "  --vars FILE          variables from a file: secrets (never written) and\n"
	        "                       variables the run did not have\n"
	        "  --theme NAME|FILE    the console's colours\n"
	        "  --db URL             store the journal in PostgreSQL too (RBC_DATABASE_URL)\n"
	        "\n"
	        "The run's own options may be given again, as rbc run took them: the\n"
	        "same value is fine, and a different one is said on stderr with the one\n"
	        "that wins. Without them, --assume and --yes act as when the run started;\n"
	        "given, they act from now on. A variable keeps the value the run had\n"
	        "(given at the start, or its runbook's own): a run keeps its variables.\n"
	        "--severity, --title and --impact-start are the incident's declaration,\n"
	        "which its record keeps.\n"
	        "exit: as rbc run; 64 when the run is finished or still running, 65 when\n"
	        "a runbook changed (without --force) or the journal is damaged, 66 when a\n"
	        "runbook file is gone, 77 when the run's directory or journal is not the\n"
	        "current user's (root too), the journal is a link or has other names (a\n"
	        "hard link), or the run was found by its id in a runs directory others\n"
	        "may change.\n");
}

static bool backfill(void *ud, const cJSON *o, const char *raw, unsigned long line)
{
	(void)o;
	(void)line;
	size_t n = strlen(raw);
	while (n && raw[n - 1] == '\n')
		n--;
	history_add(ud, raw, n);
	return true;
}

static bool resume_apply(struct run_record *r, struct engine *e)
{
	journal_set_mask(r->j, engine_secrets(e));
	if (!resume_replay(r->rd->path, e, &r->rs, &r->err)) {
		r->rc = RBC_EXIT_DATAERR;
		return false;
	}
	if (r->rs.finished && !r->rs.stopped) {
		rbc_error_set(&r->err, "run %s finished: there is nothing to resume (rbc export %s writes its record)",
		              r->rd->id, r->rd->id);
		r->rc = RBC_EXIT_USAGE;
		return false;
	}
	if (!journal_continue(r->j, r->rs.last_seq, r->rs.good_len, &r->err)) {
		r->rc = RBC_EXIT_IOERR;
		return false;
	}
	if (r->hist && !journal_replay(r->rd->path, backfill, r->hist, NULL, &r->err))
		return false; /* what came before: the database may not have it all */
	bool after = false;
	struct eng_step *at = engine_resume_point(e, &after);
	char *id = at ? journal_step_id(at) : NULL;
	if (at)
		r->resumed_at = xasprintf("%s %s", after ? "going on after" : "going on at", id);
	cJSON *o = cJSON_CreateObject();
	char t[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	iso_ms_format(t, sizeof t, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	cJSON_AddStringToObject(o, "t", t);
	cJSON_AddStringToObject(o, "ev", "run_resumed");
	cJSON_AddStringToObject(o, "rbc", RBC_VERSION);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddStringToObject(o, "operator", engine_operator(e));
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	add_argv(o, r->argc, r->argv, engine_secrets(e));
	cJSON_AddNumberToObject(o, "events", (double)r->rs.events);
	if (id) {
		cJSON_AddStringToObject(o, "at", id);
		cJSON_AddBoolToObject(o, "after", after);
	}
	if (r->rs.dropped_last)
		cJSON_AddBoolToObject(o, "dropped_last", true);
	if (r->forced) {
		/* The runbooks may have changed: the tree the run goes on with, so
		   that its record is the one it used. */
		cJSON_AddBoolToObject(o, "forced", true);
		cJSON *rbs = cJSON_AddArrayToObject(o, "runbooks");
		for (size_t i = 0; i < r->nrbs; i++)
			header_runbook(rbs, r->rbs[i], false);
	}
	if (r->rs.nlost) {
		cJSON *lost = cJSON_AddArrayToObject(o, "lost_captures");
		for (size_t i = 0; i < r->rs.nlost; i++)
			cJSON_AddItemToArray(lost, cJSON_CreateString(r->rs.lost[i]));
	}
	free(id);
	bool ok = journal_append_sync(r->j, o, &r->err);
	if (!ok)
		r->rc = RBC_EXIT_IOERR;
	for (size_t i = 0; i < r->rs.nlost; i++)
		text_fprintf(stderr,
		        "rbc: resume: the secret %s was captured before and is never written: run that step again (r) before the steps that use it\n",
		        r->rs.lost[i]);
	if (r->rs.nlost)
		r->warning = xasprintf("not in the record (a secret): %s%s — run %s again (r)", r->rs.lost[0],
		                       r->rs.nlost > 1 ? " and more" : "", r->rs.nlost > 1 ? "those steps" : "that step");
	if (r->rs.unknown)
		fprintf(stderr, "rbc: resume: %zu recorded events name steps the runbooks no longer have: left out\n",
		        r->rs.unknown);
	/* A step whose start is recorded and not its end may have done its
	   work: it runs again, never without saying so. */
	for (size_t i = 0; i < r->rs.ncut; i++) {
		const struct eng_step *s = r->rs.cut[i].step;
		char *sid = journal_step_id(s);
		char when[40];
		iso_ms_format(when, sizeof when, r->rs.cut[i].started);
		text_fprintf(stderr, "rbc: resume: %s started at %s and its end is not in the record: what it does may be done already; it runs again\n",
		        sid, when);
		free(sid);
	}
	if (r->rs.ncut) {
		const struct eng_step *s = r->rs.cut[0].step;
		char *w = xasprintf("%s%sstarted, its end not recorded: %s %s%s — it runs again", r->warning ? r->warning : "",
		                    r->warning ? " · " : "", s->def->number, s->title ? s->title : s->def->id,
		                    r->rs.ncut > 1 ? " and more" : "");
		free(r->warning);
		r->warning = w;
	}
	return ok;
}

/* The run's options that shape how it answers: --assume, --yes. */
static void original_options(const cJSON *argv, enum eng_assume *assume, bool *yes)
{
	const char *prev = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, argv)
	{
		const char *s = cJSON_GetStringValue(a);
		if (!s)
			continue;
		const char *v = strncmp(s, "--assume=", 9) == 0 ? s + 9
		              : prev && strcmp(prev, "--assume") == 0 ? s : NULL;
		if (v && strcmp(v, "done") == 0)
			*assume = ENG_ASSUME_DONE;
		else if (v && strcmp(v, "skip") == 0)
			*assume = ENG_ASSUME_SKIP;
		if (strcmp(s, "--yes") == 0 || strcmp(s, "-y") == 0)
			*yes = true;
		if (strcmp(s, "--") == 0)
			break;
		prev = s;
	}
}

/* The options rbc resume takes with a value; the incident's three come last. */
static const char *const resume_valued[] = {"--operator", "--theme", "--db", "--vars", "--var",
                                            "--assume", "--severity", "--title", "--impact-start"};
#define RESUME_INCIDENT_FIRST 6

/* What the resume was given of the run's own options. */
struct resume_opts {
	enum eng_assume assume;   /* NONE: not given */
	bool yes;
	const char *incident[3];  /* --severity, --title, --impact-start (NULL: not given) */
};

static const char *assume_name(enum eng_assume a)
{
	return a == ENG_ASSUME_DONE ? "done" : a == ENG_ASSUME_SKIP ? "skip" : NULL;
}

/* Says on stderr what a resume makes of an option; values shown clean (put_clean). */
static void resume_say(const char *fmt, ...) RBC_PRINTF(1, 2);
static void resume_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	fputs("rbc: resume: ", stderr);
	put_clean(stderr, msg);
	fputc('\n', stderr);
	free(msg);
}

/* The value the recorded command line gave option name (--name V, --name=V), or NULL. */
static const char *recorded_option(const cJSON *argv, const char *name)
{
	const char *prev = NULL, *found = NULL;
	size_t n = strlen(name);
	const cJSON *a;
	cJSON_ArrayForEach(a, argv)
	{
		const char *s = cJSON_GetStringValue(a);
		if (!s || strcmp(s, "--") == 0)
			break;
		if (strncmp(s, name, n) == 0 && s[n] == '=')
			found = s + n + 1;
		else if (prev && strcmp(prev, name) == 0)
			found = s;
		prev = s;
	}
	return found;
}

/*
 * The run's own options given again: the same value is fine; a different
 * one is said on stderr with the one that wins. --assume and --yes given
 * now act from now on (the journal's run_resumed line keeps the command
 * line); --operator answers from now on; the incident's declaration
 * (--severity, --title, --impact-start) is the record's and stays.
 */
static void resume_given_options(const cJSON *h, const struct resume_opts *want, const char *op,
                                 const char *hop, struct run_opts *ro)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(h, "argv");
	if (want->assume != ENG_ASSUME_NONE && want->assume != ro->assume) {
		if (ro->assume != ENG_ASSUME_NONE)
			resume_say("--assume %s from now on (the run started with --assume %s)",
			           assume_name(want->assume), assume_name(ro->assume));
		else
			resume_say("--assume %s from now on (the run started without --assume)",
			           assume_name(want->assume));
		ro->assume = want->assume;
	}
	if (want->yes && !ro->yes) {
		resume_say("--yes from now on (the run started without it)");
		ro->yes = true;
	}
	if (op && hop && strcmp(op, hop) != 0)
		resume_say("%s answers from now on (the run was started by %s)", op, hop);
	bool incident = false;
	const cJSON *rb;
	cJSON_ArrayForEach(rb, cJSON_GetObjectItemCaseSensitive(h, "runbooks"))
	{
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "kind"));
		incident |= kind && strcmp(kind, "incident") == 0;
	}
	for (int k = 0; k < 3; k++) {
		const char *name = resume_valued[RESUME_INCIDENT_FIRST + k];
		const char *was = recorded_option(argv, name);
		if (!want->incident[k] || (was && strcmp(was, want->incident[k]) == 0))
			continue;
		if (!incident)
			resume_say("%s %s is not taken: the run has no incident runbook", name,
			           want->incident[k]);
		else if (was)
			resume_say("%s %s is not taken: the incident was declared with %s %s "
			           "when the run started, and its record keeps it", name, want->incident[k], name, was);
		else
			resume_say("%s %s is not taken: the incident was declared when the run "
			           "started, and its record keeps it", name, want->incident[k]);
	}
}

/*
 * Variables given to a resume (--var, --vars) join vars, the run's: a name
 * the run had a value for keeps it — given at the start (recorded), or a
 * runbook's own — and a different value given now is said and left out;
 * the run's values are what its steps so far used and its record says.
 * Secrets (never recorded) and names the run did not have are taken.
 */
static void resume_given_vars(const cJSON *h, const struct rb_kv *given, struct rb_kv *vars)
{
	const cJSON *hv = cJSON_GetObjectItemCaseSensitive(h, "vars");
	for (size_t i = 0; i < given->n; i++) {
		const char *name = given->keys[i], *val = given->vals[i];
		const char *was = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hv, name));
		const cJSON *rb;
		cJSON_ArrayForEach(rb, cJSON_GetObjectItemCaseSensitive(h, "runbooks"))
		{
			if (was)
				break;
			was = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(rb, "vars"), name));
		}
		bool secret = was && strstr(was, MASK_TEXT) && cJSON_GetObjectItemCaseSensitive(hv, name);
		if (!was || secret) {
			rb_kv_set(vars, name, val);
		} else if (strcmp(was, val) != 0) {
			resume_say("%s stays %s, the run's value; the %s given now is not taken "
			           "(a run keeps its variables: a new run changes them)",
			           name, strstr(was, MASK_TEXT) ? "as it was" : was, val);
		}
	}
}

/* The runbooks to load again — rbs, the tree the run goes on with —
   checked against their sha256; *status on trouble. */
static const char **resume_files(const cJSON *rbs, bool force, size_t *n, int *status)
{
	const char **files = xcalloc((size_t)cJSON_GetArraySize(rbs) + 1, sizeof *files);
	*n = 0;
	const cJSON *rb;
	cJSON_ArrayForEach(rb, rbs)
	{
		const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "file"));
		const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "sha256"));
		if (!file)
			continue;
		char hex[65];
		if (!sha256_file(file, hex)) {
			text_fprintf(stderr, "%s: cannot read: %s (the run's runbook)\n", file, strerror(errno));
			*status = RBC_EXIT_NOINPUT;
		} else if (!want || strcmp(want, hex) != 0) {
			text_fprintf(stderr, "%s%s: changed since the run started (sha256 %.12s… then, %.12s… now)%s\n",
			        force ? "warning: " : "", file, want ? want : "?", hex,
			        force ? ": resuming anyway (--force)"
			              : ": the recorded results belong to the old steps; --force resumes anyway");
			if (!force && !*status)
				*status = RBC_EXIT_DATAERR;
		}
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb, "included")))
			files[(*n)++] = file;
	}
	return files;
}

int cmd_resume(int argc, char **argv)
{
	bool batch = false, force = false;
	const char *op = NULL, *theme = NULL, *run = NULL, *db = getenv("RBC_DATABASE_URL");
	struct rb_kv vars = {0}, given = {0};
	struct resume_opts want = {.assume = ENG_ASSUME_NONE};
	int status = 0;
	for (int i = 1; i < argc && !status; i++) {
		const char *a = argv[i];
		/* --NAME VALUE or --NAME=VALUE, as rbc run takes them */
		const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		int k = -1;
		for (size_t o = 0; o < RBC_ARRAY_LEN(resume_valued); o++)
			if (strlen(resume_valued[o]) == nl && strncmp(a, resume_valued[o], nl) == 0)
				k = (int)o;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			resume_usage(stdout);
			rb_kv_free(&given);
			return 0;
		} else if (strcmp(a, "--batch") == 0) {
			batch = true;
		} else if (strcmp(a, "--force") == 0) {
			force = true;
		} else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) {
			want.yes = true;
		} else if (k >= 0) {
			const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				text_fprintf(stderr, "rbc: resume: %s needs a value\n", a);
				status = RBC_EXIT_USAGE;
			} else if (strcmp(resume_valued[k], "--operator") == 0) {
				op = v;
			} else if (strcmp(resume_valued[k], "--theme") == 0) {
				theme = v;
			} else if (strcmp(resume_valued[k], "--db") == 0) {
				db = v;
			} else if (strcmp(resume_valued[k], "--vars") == 0) {
				status = read_vars_file(v, &given);
			} else if (strcmp(resume_valued[k], "--var") == 0) {
				const char *e = strchr(v, '=');
				if (!e || !rb_var_name_ok(v, (size_t)(e - v))) {
					text_fprintf(stderr, "rbc: resume: --var needs NAME=VALUE, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				} else {
					kv_set(&given, v, (size_t)(e - v), e + 1);
				}
			} else if (strcmp(resume_valued[k], "--assume") == 0) {
				want.assume = strcmp(v, "done") == 0 ? ENG_ASSUME_DONE
				            : strcmp(v, "skip") == 0 ? ENG_ASSUME_SKIP : ENG_ASSUME_NONE;
				if (want.assume == ENG_ASSUME_NONE) {
					text_fprintf(stderr, "rbc: resume: --assume takes done or skip, not '%s'\n", v);
					status = RBC_EXIT_USAGE;
				}
			} else {
				want.incident[k - RESUME_INCIDENT_FIRST] = v;
			}
		} else if (a[0] == '-' && a[1]) {
			text_fprintf(stderr, "rbc: resume: unknown option %s\n", a);
			resume_usage(stderr);
			status = RBC_EXIT_USAGE;
		} else if (!run) {
			run = a;
		} else {
			fprintf(stderr, "rbc: resume: one run at a time\n");
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status && !run) {
		fprintf(stderr, "rbc: resume: which run? (rbc runs lists them)\n");
		resume_usage(stderr);
		status = RBC_EXIT_USAGE;
	}
	if (!status && !batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "rbc: the console needs a terminal; without one use rbc resume --batch\n");
		status = RBC_EXIT_USAGE;
	}
	struct rundir rd = {0};
	struct rbc_error err = {0};
	if (!status && !rundir_open(run, &rd, &err)) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		status = rd.refused ? RBC_EXIT_NOPERM : RBC_EXIT_NOINPUT;
	}
	/* Before anything it names is read: a run of someone else's would have
	   us run their runbooks, as us. */
	if (!status && !rundir_owned(rd.path, &err)) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		status = RBC_EXIT_NOPERM;
	}
	cJSON *h = status ? NULL : resume_header(rd.path, &err);
	if (!status && !h) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		status = RBC_EXIT_DATAERR;
	}
	if (status) {
		rbc_error_clear(&err);
		rb_kv_free(&given);
		return run_done(status, NULL, 0, NULL, &vars, &rd);
	}

	/* The run's variables: as recorded, but for secrets (never written),
	   which come from the environment or --vars again. */
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(h, "vars"))
	{
		const char *val = cJSON_GetStringValue(v);
		if (val && !strstr(val, MASK_TEXT))
			rb_kv_set(&vars, v->string, val);
	}
	resume_given_vars(h, &given, &vars);
	rb_kv_free(&given);
	struct run_opts ro = {.batch = batch, .theme = theme, .db = db};
	original_options(cJSON_GetObjectItemCaseSensitive(h, "argv"), &ro.assume, &ro.yes);
	const char *hop = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "operator"));
	resume_given_options(h, &want, op, hop, &ro);
	ro.op = op ? op : hop;
	ro.t_start = iso_ms_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "started")));

	/* The tree the run used last (a resume with --force changes it): the
	   files as they are now are compared with it, not with the header's. */
	cJSON *tree = resume_runbooks(rd.path, &err);
	if (!tree) {
		text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
		rbc_error_clear(&err);
		status = RBC_EXIT_DATAERR;
	}
	size_t nfiles = 0;
	const char **files = tree ? resume_files(tree, force, &nfiles, &status) : NULL;
	struct runbook **rbs = status ? NULL : load_runbooks(files, nfiles, &vars, &status);
	for (size_t i = 0; !status && i < nfiles; i++) {
		const char *bad = cli_secret(rbs[i], &vars, argc, argv);
		for (size_t k = 0; !bad && k < rbs[i]->nincludes; k++)
			bad = cli_secret(rbs[i]->includes[k], &vars, argc, argv);
		if (bad) {
			text_fprintf(stderr, "rbc: resume: %s is a secret: give it in the environment or a --vars file, not with --var\n",
			        bad);
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status && !nfiles) {
		fprintf(stderr, "rbc: resume: the run's header names no runbook\n");
		status = RBC_EXIT_DATAERR;
	}
	uv_loop_t loop;
	struct run_record rec = {.rbs = rbs, .nrbs = nfiles, .vars = &vars, .rd = &rd, .argc = argc,
	                         .argv = argv, .resume = true, .forced = force};
	if (!status) {
		uv_loop_init(&loop);
		rec.j = journal_reopen(&loop, rd.path, &err);
		if (!rec.j) {
			text_fprintf(stderr, "rbc: resume: %s\n", err.msg);
			rbc_error_clear(&err);
			uv_loop_close(&loop);
			status = RBC_EXIT_USAGE;
		}
	}
	if (!status)
		status = execute(&loop, &rec, &ro, "resume");
	resume_state_free(&rec.rs);
	free(rec.resumed_at);
	free(rec.warning);
	int rc = run_done(status, rbs, rbs ? nfiles : 0, files, &vars, &rd);
	cJSON_Delete(tree);
	cJSON_Delete(h);
	return rc;
}

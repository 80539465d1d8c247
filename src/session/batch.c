/*
 * batch.c — the batch printer: a session observed without a screen
 * (`rbc run --batch`, `rbc resume --batch`).
 *
 * One line per finished step — VERDICT, id, title, explanation — plus
 * lines for retries, captures, jumps and watches that fire, and a summary;
 * what the incident desk has to say goes to stderr. It drives the engine
 * as the console does (engine_start, engine_stop on a signal) and never
 * creates one: the session does.
 */
#include "rbc/batch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "rbc/engine.h"
#include "rbc/journal.h"
#include "rbc/resume.h"
#include "rbc/text.h"
#include "rbc/util.h"

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
	struct session *s;
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

/* The id a line names a step by. */
static const char *step_id(const struct eng_step *s)
{
	return s->def ? s->def->id : s->rb->id;
}

/* "VERDICT  ID  TITLE — TEXT" */
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

/* The session's events, once on disk: a line for what an operator reads. */
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
		/* What the run sets itself (FAILED_*) the JUMP line says already. */
		if (ev->automatic)
			break;
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
	case ENG_EV_EXPANDED: /* a loop reached: its iterations, one per item */
		line("EXPANDED", s, ev->text);
		break;
	case ENG_EV_DEADLINE:
		/* "DEADLINE  deploy  deadline 30m passed: on_deadline fail". */
		text_printf("%-9s %s%s%s  ", "DEADLINE", step_id(s), ev->target ? " → " : "",
		            ev->target ? step_id(ev->target) : "");
		put_clean(stdout, ev->text);
		printf(": on_deadline %s\n", engine_budget(s) ? rb_on_deadline_name(engine_budget(s)->on_deadline) : "warn");
		break;
	case ENG_EV_COMMAND: /* a joiner's, applied or refused (docs/team.md) */
		printf("%-9s ", "COMMAND");
		put_clean(stdout, ev->text);
		fputc('\n', stdout);
		fflush(stdout);
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

/* SIGINT, SIGTERM, SIGHUP: the run stops, and says why. */
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

/* The last line: the verdict, the counts, the time, the run. */
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

/* What the session has to say while the run goes: on stderr. */
static void say(void *ud, const char *text)
{
	(void)ud;
	text_fprintf(stderr, "rbc: %s\n", text);
}

/* The run was taken over (docs/team.md): this driver stops here. */
static void taken_over(void *ud, const char *who)
{
	struct batch *b = ud;
	text_fprintf(stderr, "rbc: taken over by %s: this driver stops; what it did after is only in its local "
	             "journal (exit %d)\n", who, RBC_EXIT_TAKEN_OVER);
	for (size_t i = 0; i < RBC_ARRAY_LEN(b->sig); i++)
		if (!uv_is_closing((uv_handle_t *)&b->sig[i]))
			uv_close((uv_handle_t *)&b->sig[i], NULL);
}

/* Runs the session to its end without a screen (batch.h). */
int batch_run(struct session *s, const char *cmd)
{
	uv_loop_t *loop = session_loop(s);
	const struct rundir *rd = session_rundir(s);
	struct batch b = {.s = s, .e = session_engine(s), .j = session_journal(s), .loop = loop, .t0 = uv_hrtime()};
	struct session_view v = {.on_event = on_event, .say = say, .taken_over = taken_over, .ud = &b};
	session_attach(s, &v);
	const struct resume_state *rs = session_resumed(s);
	if (rs) {
		text_printf("%-9s %s — %zu events; %s\n", "RESUMED", rd->id, rs->events,
		       session_resumed_at(s) ? session_resumed_at(s) : "from the start");
		for (size_t i = 0; i < rs->ncut; i++) {
			char when[40], *t;
			iso_ms_format(when, sizeof when, rs->cut[i].started);
			enum eng_state st = rs->cut[i].step->state;
			t = xasprintf("started at %s, its end is not in the record: %s", when,
			              st == ENG_DONE ? "marked done" : st == ENG_SKIPPED ? "skipped" : "it runs again");
			line(st == ENG_DONE || st == ENG_SKIPPED ? "SETTLED" : "AGAIN", rs->cut[i].step, t);
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
	if (session_taken_over(s)) {
		session_drain(s);
		session_attach(s, NULL);
		free(b.stopped);
		return RBC_EXIT_TAKEN_OVER;
	}
	if (!b.finished) {
		/* Nothing left to wait for, yet no end: say so rather than hang. */
		fprintf(stderr, "rbc: %s: the run stalled (a bug in rbc): stopping\n", cmd);
		engine_stop(b.e, "the run stalled");
		uv_run(loop, UV_RUN_DEFAULT);
		b.verdict = RBC_VERDICT_ERROR;
	}
	session_drain(s);
	summary(&b, rd);
	session_attach(s, NULL);
	free(b.stopped);
	return b.interrupted ? 130 : verdict_exit_code(b.verdict);
}

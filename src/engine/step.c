/*
 * step.c — a probe step's life: attempts, the samples of a repeat, the
 * verdict, captures, retries, and watches sampling in the background.
 *
 * One attempt is a full round of sampling: one sample without repeat, or
 * the samples of the repeat mode (docs/runbook-format.md, "Repeat modes").
 * Samples are started start-to-start `every` apart (at once when the
 * previous one took longer). `for` and `within` are wall time: a deadline
 * timer ends the attempt, cutting the sample running then. A probe result
 * whose node has moved on (a cancel, a reset) carries an older generation
 * and is dropped. What is reported of a sample is its record (sample.c).
 *
 * A step decides nothing beyond itself: each callback here ends by
 * reporting an outcome (step.h) to the scheduler, which finishes the step,
 * moves its flow, or acts on a fired watch's on_fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "rbc/units.h"
#include "step.h"

/* Samples a watch keeps (it may sample for hours). */
#define WATCH_KEEP 100

struct pctx {
	struct engine *e;
	struct node *n;
	unsigned gen;
};

static void sample_start(struct engine *e, struct node *n);
static void attempt_start(struct engine *e, struct node *n);
static bool gate(struct engine *e, struct node *n, bool watch);

/* Hands a callback's outcome to the scheduler, which applies it and pumps. */
static void report(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	e->step_report(e, n, out);
}

/* Fills *out: the step ended with state st, verdict v, explanation (taken). */
static void step_finished(struct engine_step_outcome *out, enum eng_state st, enum rbc_verdict v,
                          char *explain_take)
{
	out->result = ENGINE_STEP_FINISHED;
	out->state = st;
	out->verdict = v;
	out->explain = explain_take;
}

/* ---- timers ------------------------------------------------------------ */

struct etimer_ext {
	struct etimer et;
	struct engine *e;
	void (*fire)(struct engine *, struct node *, struct engine_step_outcome *);
};

static void etimer_freed(uv_handle_t *h)
{
	free(h->data);
}

static void etimer_close_one(struct etimer **t)
{
	if (!*t)
		return;
	uv_timer_stop(&(*t)->t);
	(*t)->t.data = *t;
	uv_close((uv_handle_t *)&(*t)->t, etimer_freed);
	*t = NULL;
}

void etimer_close(struct node *n)
{
	etimer_close_one(&n->timer);
	etimer_close_one(&n->deadline);
}

static void etimer_cb(uv_timer_t *t)
{
	struct etimer_ext *x = t->data;
	struct engine *e = x->e;
	struct node *n = x->et.node;
	struct engine_step_outcome out = {.result = ENGINE_STEP_MORE};
	x->fire(e, n, &out);
	report(e, n, &out);
}

/* Starts the node's timer in *t (made on first use) to call fire after delay ms. */
static void etimer_arm(struct engine *e, struct node *n, struct etimer **t, uint64_t delay,
                       void (*fire)(struct engine *, struct node *, struct engine_step_outcome *))
{
	if (!*t) {
		struct etimer_ext *x = xcalloc(1, sizeof *x);
		uv_timer_init(e->loop, &x->et.t);
		x->et.t.data = x;
		x->et.node = n;
		x->e = e;
		*t = &x->et;
	}
	struct etimer_ext *x = (struct etimer_ext *)*t;
	x->fire = fire;
	uv_timer_start(&(*t)->t, etimer_cb, delay, 0);
}

static void timer_arm(struct engine *e, struct node *n, uint64_t delay,
                      void (*fire)(struct engine *, struct node *, struct engine_step_outcome *))
{
	etimer_arm(e, n, &n->timer, delay, fire);
}

static void timer_stop(struct node *n)
{
	if (n->timer)
		uv_timer_stop(&n->timer->t);
}

/* Lets go of the attempt's probe and its sample made on the spot; a late
   result of theirs carries an older generation and is dropped. */
static void attempt_drop(struct node *n)
{
	n->wait_end = 0;
	if (n->probe) {
		n->ops->cancel(n->probe);
		n->probe = NULL;
	}
	value_free(n->deferred);
	n->deferred = NULL;
	n->gen++;
}

static void deadline_stop(struct node *n)
{
	if (n->deadline)
		uv_timer_stop(&n->deadline->t);
}

/* ---- samples ----------------------------------------------------------- */

void step_free_samples(struct eng_step *s)
{
	for (size_t i = 0; i < s->nsamples; i++)
		value_free(s->samples[i]);
	s->nsamples = 0;
	s->samples_dropped = 0;
	value_free(node_of(s)->last_record);
	node_of(s)->last_record = NULL;
}

static void samples_push(struct eng_step *s, struct rbc_value *v, size_t keep)
{
	if (keep && s->nsamples >= keep) {
		value_free(s->samples[0]);
		memmove(s->samples, s->samples + 1, (s->nsamples - 1) * sizeof *s->samples);
		s->nsamples--;
		s->samples_dropped++;
	}
	xgrow(&s->samples, &s->capsamples, s->nsamples + 1, sizeof *s->samples);
	s->samples[s->nsamples++] = v;
}

void step_restore_sample(struct node *n, struct rbc_value *take)
{
	samples_push(&n->s, take, n->s.def && n->s.def->watch ? WATCH_KEEP : 0);
}

static const char *sample_error(const struct rbc_value *v)
{
	const struct rbc_value *err = value_obj_get(v, "error");
	return err && err->type == VALUE_STR ? err->u.str.s : NULL;
}

/* Which of a step's expressions' fields make a failed attempt a sample to judge. */
struct reads {
	bool error, connected;
};

/* Notes the fields error and connected when an expression reads them. */
static void reads_field(const char *name, unsigned col, void *ud)
{
	struct reads *r = ud;
	(void)col;
	if (strcmp(name, "error") == 0)
		r->error = true;
	else if (strcmp(name, "connected") == 0)
		r->connected = true;
}

/*
 * The error of sample v that makes it no sample to judge, or NULL. An
 * expect or warn that reads `error` judges every failed attempt; one that
 * reads `connected` judges a tcp attempt that has it (docs/thresholds.md).
 */
static const char *sample_unjudged(const struct rb_step *d, const struct rbc_value *v)
{
	const char *er = sample_error(v);
	if (!er)
		return NULL;
	struct reads r = {0};
	if (d->expect)
		expr_foreach_field(d->expect, reads_field, &r);
	if (d->warn)
		expr_foreach_field(d->warn, reads_field, &r);
	if (r.error || (r.connected && value_obj_get(v, "connected")))
		return NULL;
	return er;
}

/*
 * A monitoring plugin's own verdict, its worst exit over the samples: 0 1 2
 * 3 are PASS WARN FAIL UNKNOWN. With an expect or warn as well, the worse of
 * the two counts; without, the plugin's alone, explained by its output.
 */
static enum rbc_verdict nagios_state(struct rbc_value *const *samples, size_t count,
                                     bool has_expr, enum rbc_verdict v, char **x)
{
	static const enum rbc_verdict map[] = {RBC_VERDICT_PASS, RBC_VERDICT_WARN,
	                                       RBC_VERDICT_FAIL, RBC_VERDICT_UNKNOWN};
	int worst = -1;
	const struct rbc_value *out = NULL, *name = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct rbc_value *st = value_obj_get(samples[i], "state");
		if (!st || st->type != VALUE_NUM)
			continue;
		int k = (int)st->u.num.v;
		if (k < 0 || k > 3)
			k = 3;
		if (worst < 0 || verdict_worst(map[k], map[worst]) == map[k]) {
			worst = k;
			out = value_obj_get(samples[i], "output");
			name = value_obj_get(samples[i], "state_name");
		}
	}
	if (worst < 0)
		return v;
	char *said = xasprintf("%s: %s", name && name->type == VALUE_STR ? name->u.str.s : "?",
	                       out && out->type == VALUE_STR ? out->u.str.s : "");
	if (!has_expr) {
		free(*x);
		*x = said;
		return map[worst];
	}
	char *both = xasprintf("%s; %s", said, *x);
	free(said);
	free(*x);
	*x = both;
	return verdict_worst(v, map[worst]);
}

/* A wait's explanation without expect: "waited 10m" (takes and frees x). */
static char *waited(const struct rbc_value *sample, char *x)
{
	const struct rbc_value *t = value_obj_get(sample, "time");
	if (!t || t->type != VALUE_NUM)
		return x;
	char d[32];
	int64_t ms = (int64_t)(t->u.num.v + 0.5);
	/* to the second, as a duration is written: a timer fires a little late */
	units_format_duration(ms >= 1000 ? (ms + 500) / 1000 * 1000 : ms, d, sizeof d);
	free(x);
	return xasprintf("waited %s", d);
}

/*
 * Judges samples[0..count) with the step's expect and warn; explanation
 * masked. Samples that could not run make it an ERROR when all of them
 * failed so, at least a FAIL when some did.
 */
static enum rbc_verdict judge(struct engine *e, struct node *n, struct rbc_value *const *samples,
                              size_t count, char **explain)
{
	const struct rb_step *d = n->s.def;
	size_t errors = 0;
	const char *last_error = NULL;
	for (size_t i = 0; i < count; i++) {
		const char *er = sample_unjudged(d, samples[i]);
		if (er) {
			errors++;
			last_error = er;
		}
	}
	struct expr_env env = {0};
	vars_env_for_expr(e, &n->s, &env);
	char *x = NULL;
	enum rbc_verdict v;
	/* A command without expect must exit 0; a plugin's exit is its verdict. */
	const struct expr *expect = d->expect;
	if (!expect && !d->warn && d->action == RB_RUN)
		expect = e->run_expect;
	if (errors && errors == count) {
		v = expr_judge(expect, d->warn, &env, last_error, &x);
		if (count > 1) {
			char *y = xasprintf("%s (all %zu samples)", x, count);
			free(x);
			x = y;
		}
	} else if (errors) {
		struct rbc_value **ok = xmalloc((count - errors) * sizeof *ok);
		size_t k = 0;
		for (size_t i = 0; i < count; i++)
			if (!sample_unjudged(d, samples[i]))
				ok[k++] = samples[i];
		env.samples = ok;
		env.nsamples = k;
		v = expr_judge(expect, d->warn, &env, NULL, &x);
		free(ok);
		v = verdict_worst(v, RBC_VERDICT_FAIL);
		char *y = xasprintf("%s; %zu of %zu samples could not run: %s", x, errors, count, last_error);
		free(x);
		x = y;
	} else {
		env.samples = samples;
		env.nsamples = count;
		v = expr_judge(expect, d->warn, &env, NULL, &x);
		if (d->action == RB_NAGIOS)
			v = nagios_state(samples, count, expect || d->warn, v, &x);
		if (d->action == RB_WAIT && !expect && !d->warn)
			x = waited(samples[count - 1], x);
	}
	vars_scratch_release(e);
	const struct probe_ops *kind = probe_ops_for(d->action);
	const char *note = kind && kind->verdict_note ? kind->verdict_note(d) : NULL;
	if (note) {
		char *y = xasprintf("%s; %s", x, note);
		free(x);
		x = y;
	}
	/* A command that left something holding its output: how it was ended. */
	const char *bg = NULL;
	for (size_t i = 0; i < count; i++) {
		const struct rbc_value *b = value_obj_get(samples[i], "background");
		if (b && b->type == VALUE_STR)
			bg = b->u.str.s;
	}
	if (bg) {
		char *y = xasprintf("%s; %s", x, bg);
		free(x);
		x = y;
	}
	*explain = engine_mask(e, x);
	free(x);
	return v;
}

/* ---- finishing an attempt ---------------------------------------------- */

/*
 * Makes v a secret of the run: its text, and for a list or an object each
 * leaf of MASK_NUMBER_MIN bytes or more (a field may be shown alone).
 */
static void mask_add_value(struct mask *m, const struct rbc_value *v, bool top)
{
	if (v->type == VALUE_LIST || v->type == VALUE_OBJ) {
		size_t n = v->type == VALUE_LIST ? v->u.list.n : v->u.obj.n;
		for (size_t i = 0; i < n; i++)
			mask_add_value(m, v->type == VALUE_LIST ? v->u.list.v[i] : v->u.obj.vals[i], false);
	} else if (v->type != VALUE_STR && v->type != VALUE_NUM && !top) {
		return;
	}
	char *t = value_to_text(v);
	if (top || strlen(t) >= MASK_NUMBER_MIN)
		mask_add(m, t);
	free(t);
}

/* An output file masked again, in the thread pool. */
struct remask {
	uv_work_t w;
	struct engine *e;
	int dir;                      /* a copy of the engine's out_fd */
	char *path;                   /* its last name is the file's in dir */
	struct mask *mask;            /* a copy: the run's goes on growing */
};

static void remask_emit(void *ud, const char *data, size_t len)
{
	int *fd = ud;
	int err = 0;
	if (*fd >= 0 && !fd_write_all(*fd, data, len, &err)) {
		close(*fd);
		*fd = -1;
	}
}

/* Rewrites the file masked: temp file beside it, fsync, rename, all in the
   run's out/ held open (never by path: nothing above it is followed, nor a
   link in its place); on any failure the file stays as it was. */
static void remask_work(uv_work_t *w)
{
	struct remask *r = w->data;
	const char *slash = strrchr(r->path, '/');
	const char *name = slash ? slash + 1 : r->path;
	int in = openat(r->dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return;
	char *tmp = xasprintf("%s.mask", name);
	int out = openat(r->dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct mask_stream ms;
	mask_stream_init(&ms, r->mask);
	char buf[64 * 1024];
	ssize_t n;
	while (out >= 0 && ((n = read(in, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			mask_stream_feed(&ms, buf, (size_t)n, remask_emit, &out);
	mask_stream_flush(&ms, remask_emit, &out);
	mask_stream_free(&ms);
	close(in);
	if (out >= 0 && fsync(out) == 0 && close(out) == 0) {
		if (renameat(r->dir, tmp, r->dir, name) != 0)
			unlinkat(r->dir, tmp, 0);
	} else {
		if (out >= 0)
			close(out);
		unlinkat(r->dir, tmp, 0);
	}
	free(tmp);
}

static void remask_done(uv_work_t *w, int status)
{
	(void)status;
	struct remask *r = w->data;
	struct engine *e = r->e;
	e->remasking--;
	close(r->dir);
	mask_free(r->mask);
	free(r->path);
	free(r);
	struct engine_step_outcome out = {.result = ENGINE_STEP_MORE};
	report(e, NULL, &out);
}

/* A secret found in a step's output after it was written (a token the
   command printed and a capture took): the output file is masked again. */
static void spool_remask(struct engine *e, const struct node *n)
{
	int dir = n->s.spool_path && e->out_fd >= 0 ? fcntl(e->out_fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (dir < 0)
		return;
	struct remask *r = xcalloc(1, sizeof *r);
	r->e = e;
	r->dir = dir;
	r->path = xstrdup(n->s.spool_path);
	r->mask = mask_copy(e->mask);
	r->w.data = r;
	e->remasking++;
	if (uv_queue_work(e->loop, &r->w, remask_work, remask_done) != 0) {
		e->remasking--;
		close(r->dir);
		mask_free(r->mask);
		free(r->path);
		free(r);
	}
}

/*
 * Before a sample is shown or journaled: what the step's captures named in
 * secrets will take from it is a secret from now on, so the sample, its
 * explanation and its record never show it (a login step's token).
 */
static void mask_secret_captures(struct engine *e, struct node *n)
{
	const struct rb_step *d = n->s.def;
	for (size_t i = 0; i < d->ncaptures; i++) {
		if (!vars_is_secret(e, &n->s, d->captures[i].name))
			continue;
		struct expr_env env = {.samples = n->s.samples, .nsamples = n->s.nsamples};
		vars_env_for_expr(e, &n->s, &env);
		struct rbc_value *v = expr_eval(d->captures[i].expr, &env, NULL);
		vars_scratch_release(e);
		if (v->type != VALUE_MISSING)
			mask_add_value(e->mask, v, true);
		value_free(v);
	}
}

static void captures(struct engine *e, struct node *n)
{
	const struct rb_step *d = n->s.def;
	for (size_t i = 0; i < d->ncaptures; i++) {
		struct expr_env env = {.samples = n->s.samples, .nsamples = n->s.nsamples};
		vars_env_for_expr(e, &n->s, &env);
		char *why = NULL;
		struct rbc_value *v = expr_eval(d->captures[i].expr, &env, &why);
		vars_scratch_release(e);
		const char *name = d->captures[i].name;
		if (v->type == VALUE_MISSING) {
			char *m = engine_mask(e, why);
			char *x = xasprintf("not captured: %s", m);
			struct eng_event ev = {.type = ENG_EV_CAPTURE, .step = &n->s, .name = name, .text = x};
			engine_emit(e, &ev);
			free(x);
			free(m);
			value_free(v);
		} else {
			/* Named in secrets, or taken out of one (a piece a regex
			   took, a number read out of it): a secret from now on. */
			bool secret = vars_is_secret(e, &n->s, name);
			bool taken = !secret && v->secret;
			if (taken) {
				char *t = value_to_text(v);
				taken = strlen(t) >= MASK_NUMBER_MIN;
				free(t);
			}
			if (secret || taken) {
				mask_add_value(e->mask, v, true);
				spool_remask(e, n);
				/* The explanation shows the value cut short: made again
				   now that the value is a secret, it is masked before
				   it is cut. */
				free(why);
				why = NULL;
				vars_env_for_expr(e, &n->s, &env);
				value_free(expr_eval(d->captures[i].expr, &env, &why));
				vars_scratch_release(e);
			}
			vars_capture_in(e, &n->s, name, v); /* inside a call: the call's */
			struct rbc_value *mv = value_masked(v, e->mask);
			char *shown = value_to_text(mv);
			value_free(mv);
			char *mw = engine_mask(e, why);
			struct eng_event ev = {.type = ENG_EV_CAPTURE, .step = &n->s, .name = name,
			                       .value = shown, .text = mw, .sample = secret || taken ? NULL : v};
			engine_emit(e, &ev);
			free(mw);
			free(shown);
		}
		free(why);
	}
}

static void retry_fire(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	(void)out;
	attempt_start(e, n);
}

/* The attempt has a verdict: retry, or finish the step. */
static void attempt_end(struct engine *e, struct node *n, enum rbc_verdict v, char *explain,
                        struct engine_step_outcome *out)
{
	const struct rb_step *d = n->s.def;
	deadline_stop(n);
	bool bad = v == RBC_VERDICT_FAIL || v == RBC_VERDICT_ERROR;
	if (bad && (int)n->s.attempt < d->retry_attempts && !e->stopping) {
		struct eng_event ev = {.type = ENG_EV_RETRY, .step = &n->s, .verdict = v,
		                       .text = explain};
		engine_emit(e, &ev);
		free(explain);
		timer_arm(e, n, (uint64_t)d->retry_delay_ms, retry_fire);
		return;
	}
	if (v != RBC_VERDICT_ERROR && n->s.nsamples)
		captures(e, n);
	step_finished(out, ENG_DONE, v, explain);
}

/* ---- repeat modes ------------------------------------------------------ */

static void next_fire(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	(void)out;
	sample_start(e, n);
}

/* Start time of sample k (0-based) of this attempt, in loop ms. */
static uint64_t slot(const struct node *n, size_t k)
{
	return n->t0 + (uint64_t)k * (uint64_t)n->s.def->repeat.every_ms;
}

/* When sample k would start: its slot, or now when the previous one ran late. */
static uint64_t next_start(struct engine *e, const struct node *n, size_t k)
{
	uint64_t now = uv_now(e->loop), at = slot(n, k);
	return at > now ? at : now;
}

static void schedule_next(struct engine *e, struct node *n, size_t k)
{
	uint64_t now = uv_now(e->loop), at = slot(n, k);
	timer_arm(e, n, at > now ? at - now : 0, next_fire);
}

static char *fmt_ms(int64_t ms)
{
	char buf[64];
	units_format_duration(ms, buf, sizeof buf);
	return xstrdup(buf);
}

/* The end of the attempt's `for` or `within` (a watch's `for`), in loop ms
   from its start; 0 when the mode has none. */
static uint64_t repeat_deadline(const struct node *n)
{
	const struct rb_repeat *r = &n->s.def->repeat;
	switch (r->mode) {
	case RB_REPEAT_FOR:
	case RB_REPEAT_WATCH:
		return r->for_ms ? n->t0 + (uint64_t)r->for_ms : 0;
	case RB_REPEAT_UNTIL:
	case RB_REPEAT_CONSECUTIVE:
		return n->t0 + (uint64_t)r->within_ms;
	default:
		return 0;
	}
}

static void deadline_fire(struct engine *e, struct node *n, struct engine_step_outcome *out);

/* Arms the deadline of the attempt (or watch) that starts at n->t0. */
static void deadline_arm(struct engine *e, struct node *n)
{
	uint64_t at = repeat_deadline(n), now = uv_now(e->loop);
	if (at)
		etimer_arm(e, n, &n->deadline, at > now ? at - now : 0, deadline_fire);
}

static const char cut_note[] = "; the sample running at the deadline was cut";

/* until gave up: not true within its time (cut: a sample was cut at the end). */
static void until_gave_up(struct engine *e, struct node *n, bool cut,
                          struct engine_step_outcome *out)
{
	const struct rb_repeat *r = &n->s.def->repeat;
	size_t k = n->s.nsamples;
	char *last = NULL;
	if (k) {
		const struct rbc_value *sample = n->s.samples[k - 1];
		const char *er = sample_error(sample);
		char *why = NULL;
		if (!er) {
			struct expr_env env = {.samples = n->s.samples, .nsamples = k};
			vars_env_for_expr(e, &n->s, &env);
			expr_truth(r->until, &env, &why);
			vars_scratch_release(e);
		}
		last = engine_mask(e, er ? er : why ? why : "");
		free(why);
	}
	char *w = fmt_ms(r->within_ms);
	char *x = xasprintf("until %s not true within %s (%zu sample%s); last: %s%s",
	                    expr_source(r->until), w, k, k == 1 ? "" : "s",
	                    last ? last : "none finished", cut ? cut_note : "");
	free(last);
	free(w);
	attempt_end(e, n, RBC_VERDICT_FAIL, x, out);
}

/* consecutive gave up: no run of N passes within its time. */
static void consecutive_gave_up(struct engine *e, struct node *n, bool cut,
                                struct engine_step_outcome *out)
{
	const struct rb_repeat *r = &n->s.def->repeat;
	size_t k = n->s.nsamples;
	char *last = NULL;
	if (k)
		judge(e, n, &n->s.samples[k - 1], 1, &last);
	char *w = fmt_ms(r->within_ms);
	char *x = xasprintf("no %ld passes in a row within %s: longest run %ld of %zu samples; last: %s%s",
	                    r->count, w, n->longest, k, last ? last : "none finished",
	                    cut ? cut_note : "");
	free(last);
	free(w);
	attempt_end(e, n, RBC_VERDICT_FAIL, x, out);
}

/* for is over: judged over the samples that finished in it. */
static void for_over(struct engine *e, struct node *n, bool cut, struct engine_step_outcome *out)
{
	const struct rb_repeat *r = &n->s.def->repeat;
	char *x = NULL;
	enum rbc_verdict v;
	if (!n->s.nsamples) {
		/* Not one sample finished in time: the probe could not run. */
		char *f = fmt_ms(r->for_ms);
		char *why = xasprintf("no sample finished within for %s: the one running at its end was cut", f);
		free(f);
		v = expr_judge(NULL, NULL, NULL, why, &x);
		free(why);
		char *m = engine_mask(e, x);
		free(x);
		x = m;
	} else {
		v = judge(e, n, n->s.samples, n->s.nsamples, &x);
		if (cut) {
			char *y = xasprintf("%s%s", x, cut_note);
			free(x);
			x = y;
		}
	}
	attempt_end(e, n, v, x, out);
}

/* Reports a sample as the record keeps it; returns that record. */
static struct rbc_value *emit_sample(struct engine *e, struct node *n,
                                     const struct rbc_value *sample, enum rbc_verdict sv,
                                     const char *sx)
{
	struct rbc_value *rec = sample_record(e, &n->s, sample);
	struct eng_event ev = {.type = ENG_EV_SAMPLE, .step = &n->s, .verdict = sv, .text = sx,
	                       .sample = rec};
	engine_emit(e, &ev);
	return rec;
}

/* A sample arrived for an ordinary (not watch) step. */
static void sample_done(struct engine *e, struct node *n, struct rbc_value *sample,
                        struct engine_step_outcome *out)
{
	const struct rb_step *d = n->s.def;
	const struct rb_repeat *r = &d->repeat;
	samples_push(&n->s, sample, 0);
	size_t k = n->s.nsamples;
	mask_secret_captures(e, n);

	/* The sample's own verdict, for whoever shows samples. */
	char *sx = NULL;
	enum rbc_verdict sv;
	if (r->mode == RB_REPEAT_NONE) {
		sv = judge(e, n, &sample, 1, &sx);
		value_free(emit_sample(e, n, sample, sv, sx));
		attempt_end(e, n, sv, sx, out);
		return;
	}
	sv = judge(e, n, &sample, 1, &sx);
	value_free(emit_sample(e, n, sample, sv, sx));
	free(sx);
	/* No sample starts that could not start before the deadline. */
	uint64_t deadline = repeat_deadline(n);
	bool over = deadline && next_start(e, n, k) >= deadline;

	switch (r->mode) {
	case RB_REPEAT_COUNT:
	case RB_REPEAT_FOR: {
		bool more = r->mode == RB_REPEAT_COUNT ? (long)k < r->count : !over;
		if (more) {
			schedule_next(e, n, k);
		} else if (r->mode == RB_REPEAT_FOR) {
			for_over(e, n, false, out);
		} else {
			char *x;
			enum rbc_verdict v = judge(e, n, n->s.samples, k, &x);
			attempt_end(e, n, v, x, out);
		}
		return;
	}
	case RB_REPEAT_UNTIL: {
		struct expr_env env = {.samples = n->s.samples, .nsamples = k};
		vars_env_for_expr(e, &n->s, &env);
		char *why = NULL;
		int t = expr_truth(r->until, &env, &why);
		vars_scratch_release(e);
		if (t == 1) {
			char *mwhy = engine_mask(e, why);
			char *el = fmt_ms((int64_t)(uv_now(e->loop) - n->t0));
			char *x;
			enum rbc_verdict v;
			if (d->expect || d->warn) {
				char *jx;
				v = judge(e, n, &sample, 1, &jx);
				x = xasprintf("%s after %zu sample%s (%s); %s", mwhy, k, k == 1 ? "" : "s", el, jx);
				free(jx);
			} else {
				v = RBC_VERDICT_PASS;
				x = xasprintf("%s after %zu sample%s (%s)", mwhy, k, k == 1 ? "" : "s", el);
			}
			free(mwhy);
			free(el);
			free(why);
			attempt_end(e, n, v, x, out);
			return;
		}
		free(why);
		if (over)
			until_gave_up(e, n, false, out);
		else
			schedule_next(e, n, k);
		return;
	}
	case RB_REPEAT_CONSECUTIVE: {
		bool ok = sv == RBC_VERDICT_PASS || sv == RBC_VERDICT_WARN;
		n->streak = ok ? n->streak + 1 : 0;
		if (n->streak > n->longest)
			n->longest = n->streak;
		if (n->streak >= r->count) {
			char *jx;
			size_t c = (size_t)r->count;
			enum rbc_verdict v = judge(e, n, n->s.samples + (k - c), c, &jx);
			char *x = xasprintf("%ld in a row after %zu sample%s: %s", r->count, k,
			                    k == 1 ? "" : "s", jx);
			free(jx);
			attempt_end(e, n, v, x, out);
			return;
		}
		if (over)
			consecutive_gave_up(e, n, false, out);
		else
			schedule_next(e, n, k);
		return;
	}
	default:
		return;
	}
}

/*
 * The attempt's `for` or `within` (a watch's `for`) is over, in wall time:
 * the sample running now is cut (its late result is dropped) and the
 * attempt ends on what finished before.
 */
static void deadline_fire(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	bool cut = n->probe || n->deferred;
	if (n->s.state == ENG_WATCHING) {
		step_watch_end(e, n, cut ? "its repeat.for ended; the sample running then was cut"
		                         : "its repeat.for ended", out);
		return;
	}
	timer_stop(n);
	attempt_drop(n);
	switch (n->s.def->repeat.mode) {
	case RB_REPEAT_FOR:
		for_over(e, n, cut, out);
		break;
	case RB_REPEAT_UNTIL:
		until_gave_up(e, n, cut, out);
		break;
	case RB_REPEAT_CONSECUTIVE:
		consecutive_gave_up(e, n, cut, out);
		break;
	default:
		break;
	}
}

/* ---- watches ------------------------------------------------------------ */

/* A live watch ends: its verdict over what it saw, in *out. */
bool step_watch_end(struct engine *e, struct node *n, const char *why,
                    struct engine_step_outcome *out)
{
	if (!n->watch_live)
		return false;
	step_cancel(e, n);
	const struct rb_repeat *r = &n->s.def->repeat;
	enum rbc_verdict v = RBC_VERDICT_PASS;
	struct strbuf sb = {0};
	if (!n->watch_judged) {
		/* Nothing it saw held: it watched nothing, which is no pass. */
		v = RBC_VERDICT_UNKNOWN;
		sb_addf(&sb, "%zu sample%s, none judged as holding", n->watch_total,
		        n->watch_total == 1 ? "" : "s");
	} else {
		sb_addf(&sb, "%zu sample%s, no sustained violation", n->watch_total,
		        n->watch_total == 1 ? "" : "s");
	}
	if (n->violated && n->watch_judged) {
		v = RBC_VERDICT_WARN;
		sb_addf(&sb, "; violated for the last %ld (fail_after %s)", n->violated,
		        r->fail_after_count ? "count" : "duration");
	}
	if (n->last_explain)
		sb_addf(&sb, "; last: %s", n->last_explain);
	sb_addf(&sb, " (%s)", why);
	step_finished(out, ENG_DONE, v, sb_take(&sb));
	return true;
}

/* A live watch cut short by a stop: cancelled, in *out. */
bool step_watch_cut(struct engine *e, struct node *n, const char *why,
                    struct engine_step_outcome *out)
{
	if (!n->watch_live)
		return false;
	step_cancel(e, n);
	/* What it saw until then is said, but a watch stopped before its end
	   watched nothing to its end: cancelled, not passed. */
	char *x = xasprintf("%s (%zu sample%s before it was cut short%s%s)", why, n->watch_total,
	                    n->watch_total == 1 ? "" : "s", n->last_explain ? "; last: " : "",
	                    n->last_explain ? n->last_explain : "");
	step_finished(out, ENG_CANCELLED, RBC_VERDICT_UNKNOWN, x);
	return true;
}

/* The watch's violation lasted: *out FIRED, saying how long and how often. */
static void watch_fire(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	const struct rb_step *d = n->s.def;
	const struct rb_repeat *r = &d->repeat;
	step_cancel(e, n);
	struct strbuf sb = {0};
	sb_adds(&sb, n->last_explain ? n->last_explain : "violated");
	if (r->fail_after_count) {
		sb_addf(&sb, "; violated %ld samples in a row (fail_after %ld)", n->violated,
		        r->fail_after_count);
	} else if (r->fail_after_ms) {
		char *lasted = fmt_ms((int64_t)(uv_now(e->loop) - n->violated_since));
		char *fa = fmt_ms(r->fail_after_ms);
		sb_addf(&sb, "; violated for %s, %ld samples (fail_after %s)", lasted, n->violated, fa);
		free(lasted);
		free(fa);
	} else {
		sb_adds(&sb, "; violated (no fail_after: the first violation fires)");
	}
	/* Where its on_fail sends the run is the scheduler's to decide. */
	out->result = ENGINE_STEP_FIRED;
	out->state = ENG_DONE;
	out->verdict = RBC_VERDICT_FAIL;
	out->explain = sb_take(&sb);
}

static void watch_sample(struct engine *e, struct node *n, struct rbc_value *sample,
                         struct engine_step_outcome *out)
{
	const struct rb_repeat *r = &n->s.def->repeat;
	/* The newest sample stays whole (what a failure shows); the older ones
	   are kept as their record: a watch may sample for hours. */
	if (n->last_record && n->s.nsamples) {
		value_free(n->s.samples[n->s.nsamples - 1]);
		n->s.samples[n->s.nsamples - 1] = n->last_record;
		n->last_record = NULL;
	}
	samples_push(&n->s, sample, WATCH_KEEP);
	mask_secret_captures(e, n);
	n->watch_total++;
	char *sx;
	enum rbc_verdict sv = judge(e, n, &sample, 1, &sx);
	value_free(n->last_record);
	n->last_record = emit_sample(e, n, sample, sv, sx);
	free(n->last_explain);
	n->last_explain = sx;
	n->last_verdict = sv;
	if (sv == RBC_VERDICT_PASS || sv == RBC_VERDICT_WARN)
		n->watch_judged++;
	uint64_t now = uv_now(e->loop);
	if (sv == RBC_VERDICT_FAIL || sv == RBC_VERDICT_ERROR) {
		if (!n->violated)
			n->violated_since = now;
		n->violated++;
	} else if (sv != RBC_VERDICT_UNKNOWN) {
		n->violated = 0;
	}
	bool fire = false;
	if (n->violated) {
		if (r->fail_after_count)
			fire = n->violated >= r->fail_after_count;
		else if (r->fail_after_ms)
			fire = now - n->violated_since >= (uint64_t)r->fail_after_ms;
		else
			fire = true;
	}
	if (fire) {
		watch_fire(e, n, out);
		return;
	}
	size_t k = n->watch_total;
	if (n->watch_deadline && next_start(e, n, k) >= (uint64_t)n->watch_deadline) {
		step_watch_end(e, n, "its repeat.for ended", out);
		return;
	}
	schedule_next(e, n, k);
}

void step_watch_start(struct engine *e, struct node *n)
{
	n->s.state = ENG_WATCHING;
	n->watch_live = true;
	n->violated = 0;
	n->watch_total = 0;
	n->s.attempt = 1;
	e->watches++;
	n->t0 = uv_now(e->loop);
	n->watch_deadline = 0;
	if (n->s.def->repeat.for_ms) {
		n->watch_deadline = (int64_t)(n->t0 + (uint64_t)n->s.def->repeat.for_ms);
		e->watches_for++;
		deadline_arm(e, n);
	}
	n->watch_judged = 0;
	free(n->last_explain);
	n->last_explain = NULL;
	if (!gate(e, n, true))
		timer_arm(e, n, 0, next_fire);
}

/* ---- probes ------------------------------------------------------------ */

static void on_output(void *ud, enum probe_stream stream, const char *data, size_t len)
{
	struct pctx *c = ud;
	if (c->gen != c->n->gen)
		return;
	struct eng_event ev = {.type = ENG_EV_OUTPUT, .step = &c->n->s, .stream = stream,
	                       .data = data, .len = len};
	engine_emit(c->e, &ev);
}

static void on_done(void *ud, struct rbc_value *sample, const char *error)
{
	struct pctx *c = ud;
	struct engine *e = c->e;
	struct node *n = c->n;
	(void)error; /* the sample carries it as `error` */
	e->inflight--;
	bool stale = c->gen != n->gen;
	free(c);
	struct engine_step_outcome out = {.result = ENGINE_STEP_MORE};
	if (stale) {
		value_free(sample);
		report(e, n, &out);
		return;
	}
	n->probe = NULL;
	n->wait_end = 0;
	if (n->s.state == ENG_WATCHING)
		watch_sample(e, n, sample, &out);
	else
		sample_done(e, n, sample, &out);
	report(e, n, &out);
}

/* What a request borrows, owned here until the probe has started. */
struct req_store {
	struct probe_build b;    /* first: the build's callbacks get &st->b */
	struct engine *e;
	struct node *n;
};

/* Frees what the request borrowed, once the probe has started (or could not). */
static void store_free(struct req_store *st)
{
	probe_build_release(&st->b);
}

/* The build's expand: ${NAME} into the store; false with *error on an unset variable. */
static bool store_expand(struct probe_build *b, const char *text, enum probe_quote quote,
                         const char **out, char **error)
{
	static const enum vars_quote quotes[] = {
		[PROBE_QUOTE_PLAIN] = VARS_PLAIN, [PROBE_QUOTE_JSON] = VARS_JSON,
		[PROBE_QUOTE_CONN] = VARS_CONN, [PROBE_QUOTE_URL] = VARS_URL,
		[PROBE_QUOTE_PROMQL] = VARS_PROMQL,
	};
	struct req_store *st = (struct req_store *)b;
	char *v = NULL;
	if (!vars_expand(st->e, &st->n->s, text, quotes[quote], &v, error))
		return false;
	if (v)
		probe_build_keep(b, v, free);
	*out = v;
	return true;
}

/* The build's environ: the variables, then the step's env. */
static bool store_environ(struct probe_build *b, struct rb_kv *env, char **error)
{
	struct req_store *st = (struct req_store *)b;
	vars_env(st->e, &st->n->s, env);
	return vars_env_add_step(st->e, &st->n->s, env, error);
}

static char *spool_name(struct engine *e, struct node *n)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%s/", e->out_dir);
	const char *parts[2] = {n->s.rb->id, n->s.def->id};
	for (int i = 0; i < 2; i++) {
		for (const char *p = parts[i]; *p; p++) {
			char ch = *p;
			bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
			sb_addc(&sb, ok ? ch : '_');
		}
		sb_adds(&sb, i == 0 ? "." : ".out");
	}
	return sb_take(&sb);
}

/* The build's spool: the step's output file in the run's directory, if it keeps one. */
static void store_spool(struct probe_build *b, const char **path, int *dir)
{
	struct req_store *st = (struct req_store *)b;
	if (!st->e->out_dir)
		return;
	if (!st->n->s.spool_path)
		st->n->s.spool_path = spool_name(st->e, st->n);
	*path = st->n->s.spool_path;
	*dir = st->e->out_fd;
}

/* Fills q for the step's next attempt through its kind's build; false with *error. */
static bool build_req(struct engine *e, struct node *n, struct probe_req *q, struct req_store *st,
                      char **error)
{
	const struct rb_step *d = n->s.def;
	memset(q, 0, sizeof *q);
	q->loop = e->loop;
	q->action = d->action;
	q->timeout_ms = d->timeout_ms;
	q->mask = e->mask;
	const struct probe_ops *ops = probe_ops_for(d->action);
	if (!ops || !ops->build) {
		*error = xasprintf("%s steps have no probe", rb_action_desc(d->action));
		return false;
	}
	st->e = e;
	st->n = n;
	st->b.expand = store_expand;
	st->b.environ = store_environ;
	st->b.spool = store_spool;
	st->b.dir = n->s.def->runbook ? n->s.def->runbook->dir : n->s.rb->dir; /* a callee's own */
	return ops->build(d, &st->b, q, error);
}

/* Hands over a sample made on the spot, on a later turn, as a probe would. */
static void deferred_fire(struct engine *e, struct node *n, struct engine_step_outcome *out)
{
	struct rbc_value *v = n->deferred;
	n->deferred = NULL;
	if (!v)
		return;
	if (n->s.state == ENG_WATCHING)
		watch_sample(e, n, v, out);
	else
		sample_done(e, n, v, out);
}

static void defer_sample(struct engine *e, struct node *n, struct rbc_value *v)
{
	value_free(n->deferred);
	n->deferred = v;
	timer_arm(e, n, 0, deferred_fire);
}

/* A sample for a probe that could not even start. */
static struct rbc_value *error_sample(const char *msg)
{
	struct rbc_value *v = value_obj_new(false);
	value_obj_set_take(v, "time", value_num_new(0, RBC_DIM_TIME));
	value_obj_set_take(v, "error", value_strz_new(msg));
	return v;
}

static void sample_start(struct engine *e, struct node *n)
{
	struct probe_req q;
	struct req_store st = {0};
	char *error = NULL;
	n->ops = probe_ops_for(n->s.def->action);
	if (!build_req(e, n, &q, &st, &error) || !n->ops) {
		store_free(&st);
		char *m = engine_mask(e, error ? error : "no probe for this step");
		free(error);
		defer_sample(e, n, error_sample(m));
		free(m);
		return;
	}
	struct pctx *c = xmalloc(sizeof *c);
	c->e = e;
	c->n = n;
	c->gen = n->gen;
	q.on_output = on_output;
	q.on_done = on_done;
	q.ud = c;
	struct rbc_error err = {0};
	struct probe *p = n->ops->start(&q, &err);
	store_free(&st);
	if (!p) {
		free(c);
		char *m = engine_mask(e, err.msg ? err.msg : "could not start");
		rbc_error_clear(&err);
		defer_sample(e, n, error_sample(m));
		free(m);
		return;
	}
	n->probe = p;
	n->wait_end = q.wait_ms > 0 ? uv_now(e->loop) + (uint64_t)q.wait_ms : 0;
	e->inflight++;
}

/*
 * Write-ahead: holds the step's action until its start is in the record
 * (true), unless there is no record or it holds everything already.
 */
static bool gate(struct engine *e, struct node *n, bool watch)
{
	if (!e->record_mark)
		return false;
	uint64_t m = e->record_mark(e->record_ud);
	if (!e->record_lost && (!m || m <= e->recorded))
		return false;
	n->gated = true;
	n->gate_watch = watch;
	n->gate_mark = m;
	xgrow(&e->gated, &e->capgated, e->ngated + 1, sizeof *e->gated);
	e->gated[e->ngated++] = n;
	return true;
}

static void ungate(struct engine *e, struct node *n)
{
	if (!n->gated)
		return;
	n->gated = false;
	for (size_t i = 0; i < e->ngated; i++)
		if (e->gated[i] == n) {
			memmove(e->gated + i, e->gated + i + 1, (e->ngated - i - 1) * sizeof *e->gated);
			e->ngated--;
			break;
		}
}

/* The record holds the step's start: its action begins. */
void step_gate_open(struct engine *e, struct node *n)
{
	bool watch = n->gate_watch;
	ungate(e, n);
	if (watch)
		timer_arm(e, n, 0, next_fire);
	else
		attempt_start(e, n);
}

static void attempt_start(struct engine *e, struct node *n)
{
	n->s.attempt++;
	step_free_samples(&n->s);
	n->streak = n->longest = 0;
	n->t0 = uv_now(e->loop);
	deadline_arm(e, n);
	sample_start(e, n);
}

void step_probe_start(struct engine *e, struct node *n)
{
	n->s.attempt = 0;
	if (!gate(e, n, false))
		attempt_start(e, n);
}

/* Stops whatever the step has going (probe, timer, a watch's sampling);
   a result still on its way will be dropped. */
void step_cancel(struct engine *e, struct node *n)
{
	ungate(e, n);
	if (n->watch_live) {
		n->watch_live = false;
		e->watches--;
		if (n->watch_deadline)
			e->watches_for--;
	}
	timer_stop(n);
	deadline_stop(n);
	attempt_drop(n);
}

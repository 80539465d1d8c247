/*
 * resume.h — a run rebuilt from its journal (docs/journal.md, "Resuming").
 *
 * record/ reads the journal and gives every event back to the engine
 * (engine_restore): the steps end up as the run left them, and the engine
 * knows where its flow was. The caller checks the runbooks first (their
 * sha256 against the header's) and reopens the journal afterwards.
 */
#ifndef RBC_RESUME_H
#define RBC_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rbc/engine.h"
#include "rbc/error.h"

/* The run header (line 0 of dir's journal), or NULL with err set. */
cJSON *resume_header(const char *dir, struct rbc_error *err);
/*
 * The runbooks the run goes on with, as its record has them: those of its
 * last resume with --force (the run_resumed line names the tree it used),
 * else the header's — their files and sha256. A new array, or NULL with err
 * (a damaged journal).
 */
cJSON *resume_runbooks(const char *dir, struct rbc_error *err);

/* A step whose start the record has, and not its end. */
struct resume_cut {
	struct eng_step *step;
	int64_t started;          /* when it started, ms since the epoch */
	bool decided;             /* the operator decided what it is (unfinished.h) */
};

struct resume_state {
	uint64_t last_seq;        /* the last whole event's seq */
	long long good_len;       /* bytes up to the end of that line */
	size_t events;            /* events applied (the header not counted) */
	bool dropped_last;        /* a torn or garbage last line was left out */
	bool finished;            /* the record ends with the run's end */
	bool stopped;             /* … and a stop ended it (a quit, a signal) */
	char **lost;              /* secret captures not in the record: "NAME (RB/STEP)" */
	size_t nlost;
	size_t unknown;           /* events of steps the runbooks no longer have */
	struct resume_cut *cut;   /* steps recorded started, not ended: the operator decides (unfinished.h) */
	size_t ncut;
};

/*
 * Applies every event of dir's journal to e (engine_restore, then
 * engine_restore_end). False with err on a damaged journal (FILE:LINE).
 */
bool resume_replay(const char *dir, struct engine *e, struct resume_state *st, struct rbc_error *err);
void resume_state_free(struct resume_state *st);

/* The same, one checked line at a time, as a journal grows (rbc follow):
   nothing is settled at the end (engine_restore_end is not called). */
struct resume_feed;
struct resume_feed *resume_feed_new(const char *dir, struct engine *e, struct resume_state *st);
void resume_feed_line(struct resume_feed *f, const cJSON *o, const char *raw, unsigned long line);
struct eng_step *resume_feed_step(struct resume_feed *f, const char *id);
void resume_feed_free(struct resume_feed *f);

#endif

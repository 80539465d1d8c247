/*
 * journal.h — the run's journal: <run dir>/journal.jsonl, one JSON line per
 * engine event, the source of truth of a run (docs/journal.md).
 *
 * The journal sits between the engine and whoever shows the run: the engine
 * calls journal_on_event; the journal writes the event's line and, once the
 * line is on disk (written and fdatasync'ed in the libuv thread pool, never
 * on the loop thread), passes the event on to the observer. So nothing is
 * shown that a crash could lose. Lines that arrive while a write and its
 * sync are under way are written together by the next one (group commit).
 * Output bytes are not journaled (the step's spool file holds them) and are
 * passed on at once.
 *
 * Write-ahead (journal_attach): the engine starts a step's action only once
 * the line saying the step started is synced. When a line cannot be written
 * or synced (a full disk, a file-size limit, an I/O error), the record is
 * lost: what the failed write or sync left after the last synced line is
 * cut off (the file ends on the last line the record holds; a line written
 * and not synced is not recorded), nothing more is written, the engine
 * stops (engine_record_lost: nothing new starts), and the events still held
 * are passed on with journal_error set.
 *
 * The journal file is locked (flock) for as long as it is open: a second
 * process can never write the same run. Every line is masked with the run's
 * secrets before it is written.
 */
#ifndef RBC_JOURNAL_H
#define RBC_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "rbc/engine.h"
#include "rbc/error.h"
#include "rbc/mask.h"

#define JOURNAL_SCHEMA 1
/* A captured value longer than this is journaled as its first bytes, its
   size and the sha256 of its masked whole ("cut": true); a resume then
   takes the capture for lost and its step runs again. */
#define JOURNAL_VALUE_MAX (64 * 1024)
#define JOURNAL_FILE "journal.jsonl"

struct journal;

/* Creates <dir>/journal.jsonl (it must not exist) and locks it. */
struct journal *journal_create(uv_loop_t *loop, const char *dir, struct rbc_error *err);

/*
 * Writes the header line, synchronously (before the loop runs): header is a
 * JSON object (consumed) to which "seq": 0, "ev": "run_header" and "schema"
 * are added. Set the mask first.
 */
bool journal_header(struct journal *j, cJSON *header, struct rbc_error *err);

/* Where events go once their line is on disk. */
void journal_set_observer(struct journal *j, void (*on_event)(void *ud, const struct eng_event *ev),
                          void *ud);

/* The run's secrets, masked in every line written from now on (borrowed). */
void journal_set_mask(struct journal *j, const struct mask *m);

/* Each line (without its newline), in order, once it is on disk: the
   database history's feed. */
void journal_set_line_sink(struct journal *j, void (*on_line)(void *ud, const char *line, size_t len),
                           void *ud);

/* The engine's event callback (ud: the journal). */
void journal_on_event(void *ud, const struct eng_event *ev);
/* Write-ahead for e, whose on_event is this journal's: its steps' actions
   wait for their start to be written, and a lost record stops it. */
void journal_attach(struct journal *j, struct engine *e);
/* The engine's record mark (engine_set_record; ud: the journal). */
uint64_t journal_mark(void *ud);

/* True while lines wait to be written or events to be passed on. */
bool journal_busy(const struct journal *j);
/* Lines written and synced so far (the header included). */
uint64_t journal_durable(const struct journal *j);
/* Why the record is lost (a line could not be written or synced), or NULL.
   Once set, nothing more is written and the attached engine has stopped. */
const char *journal_error(const struct journal *j);

/*
 * Opens the journal of dir again to go on writing it (a resume), locked:
 * fails when a live rbc holds it. journal_continue then cuts what follows
 * the last whole event (good_len bytes: a torn line goes) and numbers the
 * next line last_seq + 1.
 */
struct journal *journal_reopen(uv_loop_t *loop, const char *dir, struct rbc_error *err);
bool journal_continue(struct journal *j, uint64_t last_seq, long long good_len, struct rbc_error *err);
/* Appends one event written by rbc itself (not the engine: "run_resumed")
   and syncs it, on the calling thread, before anything runs. Takes event. */
bool journal_append_sync(struct journal *j, cJSON *event, struct rbc_error *err);

/* Closes the file (and its lock). Call once journal_busy is false. */
void journal_free(struct journal *j);
/* The run was taken over by another driver (docs/team.md): lines not on
   disk yet are dropped, and nothing is written or shown any more. */
void journal_seal(struct journal *j);

/* The id of a step in the journal: "RUNBOOK" for a phase, "RUNBOOK/STEP". */
char *journal_step_id(const struct eng_step *s);

/*
 * Whether a run is running: its journal is locked by a live process.
 * Returns 1 locked, 0 not, -1 no journal.
 */
int journal_locked(const char *dir);

/* What `rbc runs` says of one run, read from its journal. */
/* stopped: ended by a stop (a quit, a signal) before its end: resumable too. */
enum journal_run_state { JOURNAL_RUNNING, JOURNAL_INTERRUPTED, JOURNAL_STOPPED, JOURNAL_FINISHED };
struct journal_summary {
	char *id;                 /* the run id (the header's) */
	char *runbooks;           /* the given runbooks' ids, comma-separated */
	char *started;            /* UTC, as the header has it */
	char *operator;
	char *verdict;            /* the run_finished event's, or NULL */
	bool stopped;             /* … and a stop ended it */
	enum journal_run_state state;
	unsigned long long events; /* lines after the header */
	bool dropped_last;        /* a torn last line was left out */
};
const char *journal_state_name(enum journal_run_state s);

/*
 * Reads dir/journal.jsonl line by line and calls fn with each event (the
 * header first), the line's text and its number; fn returning false stops it (false).
 * A last line that is torn (no newline: the process died writing it) or
 * does not parse is not an event: it is left out and *dropped_last set. A
 * line before the last that does not parse is damage: false, with err
 * naming FILE:LINE. So is any line not as rbc writes it — fields not of the
 * types and words rbc writes (every field a reader uses is checked before fn
 * sees it), a key twice, text that is not UTF-8 or holds a NUL, a whole
 * number written 3.0, more after the object — a header that is not the
 * first line or names another run than dir's name, incident lines the
 * incident would not take (docs/journal.md), and a `seq` that is not the
 * line's place (a line deleted, repeated or moved). Every reader goes
 * through here, so all of them take the same lines. The journal must be a
 * regular file: a link is not followed, a FIFO or a device is refused, never
 * waited on.
 */
bool journal_replay(const char *dir,
                    bool (*fn)(void *ud, const cJSON *ev, const char *raw, unsigned long line),
                    void *ud, bool *dropped_last, struct rbc_error *err);
/* The header (line 1) of dir's journal, checked as journal_replay checks
   it (a new object), or NULL with err. */
cJSON *journal_read_header(const char *dir, struct rbc_error *err);
/* Reads dir/journal.jsonl; false, with err, when it has no valid header. */
bool journal_summary(const char *dir, struct journal_summary *s, struct rbc_error *err);
void journal_summary_free(struct journal_summary *s);

#endif

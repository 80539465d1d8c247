/*
 * commands.h — joiners' commands to a run's driver through PostgreSQL
 * (docs/team.md, "Joining a run").
 *
 * A joiner (rbc join) inserts one row of rbc_commands per action — who,
 * from which host, what of which step — and NOTIFYs rbc_commands with the
 * run id in the same statement. The driver LISTENs on its loop, reads the
 * run's pending rows in id order, hands each to the session (which
 * validates, applies and journals it) and sets the row's state, applied or
 * refused, and why. Both sides use non-blocking libpq connections polled
 * by the loop (pgwait.h); a lost connection is tried again with backoff.
 * Nothing here trusts a row: its fields are passed on as text, bounded.
 */
#ifndef RBC_COMMANDS_H
#define RBC_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

/* The most of a field read from a row: a longer one is cut here, its
   length (in characters) kept to refuse it. */
#define COMMAND_FIELD_MAX 4096

/* One row, as read (NULL: SQL NULL); len: the field's whole length. */
struct command {
	long long id;
	const char *operator, *host, *kind, *step, *value, *note, *detail;
	long long len_operator, len_host, len_kind, len_step, len_value, len_note, len_detail;
};

/* The driver's verdict on a row: *applied, why when refused (a new
   string, or NULL), and *forget when the row's value must not stay in the
   table (an answer to a secret: set NULL with the state). */
typedef void command_take_cb(void *ud, const struct command *c, bool *applied, char **why, bool *forget);

struct cmd_listen;
/* Takes run's commands from url on loop (see above). keep: its handles
   keep the loop going (cmd_listen_keep changes it). Never blocks. */
struct cmd_listen *cmd_listen_start(uv_loop_t *loop, const char *url, const char *run, bool keep,
                                    command_take_cb *take, void *ud);
/* Whether the listener keeps the loop going (a batch run waiting for a
   joiner: docs/team.md). */
void cmd_listen_keep(struct cmd_listen *l, bool keep);
/* Verdicts taken and not yet stored in the table while the connection is
   up (what the run's end waits a moment for). */
bool cmd_listen_pending(const struct cmd_listen *l);
/* Stops and frees it (its handles close on the loop); NULL is fine. */
void cmd_listen_stop(struct cmd_listen *l);

struct cmd_sender;
/* A joiner's sender of commands for run at url, as operator from host;
   say tells the operator a command's trouble (a refused insert). */
struct cmd_sender *cmd_sender_start(uv_loop_t *loop, const char *url, const char *run, const char *operator,
                                    const char *host, void (*say)(void *ud, const char *text), void *ud);
/* Queues one command (kind done, fail, skip, answer, note, incident; the
   others may be NULL; detail is JSON text). */
void cmd_send(struct cmd_sender *s, const char *kind, const char *step, const char *value, const char *note,
              const char *detail);
/* Commands queued and not yet stored. */
size_t cmd_sender_pending(const struct cmd_sender *s);
/* The i-th command queued (from 0): its kind, *step (NULL: none), and
   *under_way when its insert is on the wire (it may be stored); NULL past
   the last. */
const char *cmd_sender_queued(const struct cmd_sender *s, size_t i, const char **step, bool *under_way);
/* The connection's trouble in words ("db lost, retrying"), NULL while up. */
const char *cmd_sender_state(const struct cmd_sender *s);
void cmd_sender_stop(struct cmd_sender *s);

#endif

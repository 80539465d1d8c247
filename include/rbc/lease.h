/*
 * lease.h — the driver's lease on a run in PostgreSQL (--db URL,
 * docs/team.md): a row of rbc_leases (run, holder operator@host, pid, beat,
 * expires) claimed when the run starts, renewed by a heartbeat on the loop
 * and deleted at the run's end. A driver whose machine or terminal is lost
 * stops beating: its lease expires LEASE_MISSED beats later, and others see
 * it so (rbc history).
 *
 * The heartbeat is a libuv timer; the statements go over a non-blocking
 * libpq connection polled by the loop, as the history's do (history.h). The
 * beat's interval is RBC_LEASE_INTERVAL_MS milliseconds (default 5000).
 */
#ifndef RBC_LEASE_H
#define RBC_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#define LEASE_INTERVAL_MS 5000
#define LEASE_MISSED 3

struct lease;

/* Starts claiming the lease on run_id for holder (operator@host). */
struct lease *lease_start(uv_loop_t *loop, const char *url, const char *run_id, const char *holder);

/* cb(ud, true, NULL) when the lease is first held; cb(ud, false, who) when
   it is found another's (who: its holder, NULL when the row is gone) —
   taken over: the lease stops beating and never claims again. */
void lease_on_change(struct lease *l, void (*cb)(void *ud, bool held, const char *who), void *ud);

/* The lease's state in words: "connecting", "held", "down: why". */
const char *lease_state(const struct lease *l);
/* Beats the server confirmed (the claim included). */
uint64_t lease_beats(const struct lease *l);

/* The run is over: stops beating and releases the lease within grace_ms,
   then calls done (on the loop). Free it afterwards. */
void lease_finish(struct lease *l, uint64_t grace_ms, void (*done)(void *ud), void *ud);
void lease_free(struct lease *l);

/* The beat's interval: RBC_LEASE_INTERVAL_MS, else LEASE_INTERVAL_MS. */
uint64_t lease_interval_ms(void);

#endif

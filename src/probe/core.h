/*
 * core.h — the life of one probe attempt that ends on a later loop turn,
 * shared by the probes built on it (dns, tcp, sql).
 *
 * A probe embeds struct probe_core as its FIRST member. probe_core_start
 * arms the timeout; the kind's finish callback runs once (on completion,
 * error, timeout or cancel), stops the kind's work and calls
 * probe_core_deliver, which records `time` and `error` in the sample and
 * hands it to on_done from a zero-delay timer, never from inside start or
 * cancel. Every open handle or pending request is a hold; the timer is one.
 * When the sample is delivered and the last hold is dropped, the kind's
 * release callback frees the probe.
 */
#ifndef RBC_PROBE_CORE_H
#define RBC_PROBE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/probe.h"

struct probe_core {
	uv_loop_t *loop;
	void (*on_done)(void *ud, struct rbc_value *sample, const char *error);
	void *ud;
	int64_t timeout_ms;          /* 0: none */
	uint64_t t0;                 /* uv_hrtime at start */
	uv_timer_t timer;            /* the timeout; then the deferred delivery */
	int holds;                   /* open handles and pending requests */
	bool finished, delivered;
	struct rbc_value *sample;    /* built up until delivery, then handed over */
	char *error;
	/* The kind's: stop its work, add its fields, call probe_core_deliver. */
	void (*finish)(struct probe_core *c, const char *error);
	/* The kind's: free what it owns, and the probe itself. */
	void (*release)(struct probe_core *c);
};

/* Fills c from req, starts the clock and arms the timeout. */
void probe_core_start(struct probe_core *c, const struct probe_req *req,
                      void (*finish)(struct probe_core *, const char *),
                      void (*release)(struct probe_core *));

/* Milliseconds since the attempt started. */
double probe_core_elapsed_ms(const struct probe_core *c);

/* True the first time only: the attempt is now finished. */
bool probe_core_finishing(struct probe_core *c);

/* Records `time` and error (copied; NULL on success), delivers next turn. */
void probe_core_deliver(struct probe_core *c, const char *error);

/* Takes and drops a hold; dropping the last one after delivery releases. */
void probe_core_hold(struct probe_core *c);
void probe_core_drop(struct probe_core *c);

/*
 * The probe_ops cancel of these kinds: the attempt ends with "cancelled",
 * also when it had already finished and only its delivery was pending (the
 * sample built meanwhile is dropped for a bare time + error one).
 */
void probe_core_cancel(struct probe *p);

#endif

/*
 * http_internal.h — the HTTP machinery shared by the http and prometheus
 * probes: libcurl's multi interface driven by the libuv loop.
 *
 * One multi handle per uv_loop_t, created by the first transfer on that loop
 * and kept (with its connection cache) until probe_http_shutdown. Everything
 * runs on the loop thread; nothing here blocks.
 */
#ifndef RBC_PROBE_HTTP_INTERNAL_H
#define RBC_PROBE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "rbc/error.h"
#include "rbc/runbook.h"
#include "internal.h"
#include "rbc/value.h"

/* What an http step holds (rb_step.action_data), as the loader read it. */
struct probe_http_step {
	char *method;        /* upper case, default GET */
	char *url;
	struct rb_kv headers;
	char *body;          /* NULL when none; the serialised json when json_body */
	bool json_body;
	int64_t timeout_ms;  /* 0: the step's timeout */
	bool insecure, follow;
	int64_t max_body;    /* bytes; 0: the default; at most RB_MAX_BODY */
};

struct http_xfer;

/*
 * Called exactly once per transfer, on the loop thread and never from inside
 * http_xfer_start: the http sample (ownership passes to the callee) and,
 * when the request could not be made, error text. After it returns the
 * transfer is gone.
 */
typedef void http_done_fn(void *ud, struct rbc_value *sample, const char *error);

/*
 * Starts the request req describes (method, url, headers, body, json_body,
 * timeout_ms, insecure, follow, max_body; the callbacks in req are ignored),
 * with url replacing req->url when not NULL. Everything is copied. Returns
 * NULL with err->msg set when it cannot even start; done is then never called.
 */
struct http_xfer *http_xfer_start(const struct probe_req *req, const char *url,
                                  http_done_fn *done, void *ud, struct rbc_error *err);

/* Stops a running transfer; its done follows asynchronously with "cancelled". */
void http_xfer_cancel(struct http_xfer *x);

/*
 * Frees the multi handle of loop and the libcurl global state it took (each
 * multi handle holds one curl_global_init reference). Call it before
 * uv_loop_close, never from inside a done callback.
 * Transfers still running are cancelled: their done callbacks are called
 * (error "cancelled") from inside this call. Run the loop afterwards until
 * uv_run returns so the handles' close callbacks free the rest. A loop
 * without HTTP transfers is fine.
 */
void probe_http_shutdown(uv_loop_t *loop);


#endif

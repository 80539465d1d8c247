/*
 * curluv.h — a libcurl multi handle driven by a libuv loop.
 *
 * The sockets libcurl names (CURLMOPT_SOCKETFUNCTION) are watched by
 * uv_poll handles and its timeout (CURLMOPT_TIMERFUNCTION) by a uv_timer;
 * libcurl is only ever told "this socket is ready" or "the timer fired", so
 * nothing blocks the loop. After each of those actions on_progress(ud) runs:
 * the owner collects its finished transfers there (curl_multi_info_read).
 *
 * The owner embeds the struct, adds and removes its easy handles on multi,
 * and at the end calls curluv_cleanup, then closes `timer` itself (its data
 * field is the owner's, for its close callback).
 */
#ifndef RBC_CURLUV_H
#define RBC_CURLUV_H

#include <stdbool.h>

#include <curl/curl.h>
#include <uv.h>

struct curluv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;          /* libcurl's timeout */
	void (*on_progress)(void *ud);
	void *ud;
};

/* Creates the multi handle and the timer on loop; false when libcurl
   cannot be initialised (nothing is left to clean up then). */
bool curluv_init(struct curluv *cu, uv_loop_t *loop, void (*on_progress)(void *ud), void *ud);

/* Stops the timer and cleans the multi handle up (the cached connections'
   sockets stop being watched through the socket callback). */
void curluv_cleanup(struct curluv *cu);

/* The CA certificates of an easy handle, from the environment the way the
   curl tool reads them (CURL_CA_BUNDLE, else SSL_CERT_DIR and SSL_CERT_FILE;
   none: libcurl's built-in bundle). */
void curluv_ca_from_env(CURL *e);

#endif

/*
 * curluv.c — libcurl's multi socket interface on a libuv loop (curluv.h):
 * one uv_poll per socket libcurl asks to watch, one uv_timer for its
 * timeout.
 */
#include "rbc/curluv.h"

#include <stddef.h>
#include <stdlib.h>

#include "rbc/util.h"

/* A socket libcurl asked us to watch. Freed by its close callback. */
struct curluv_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct curluv *cu;
};

static void sock_closed(uv_handle_t *h)
{
	free(h->data);
}

/* uv_poll callback: tell libcurl which way the socket is ready. */
static void on_poll(uv_poll_t *h, int status, int events)
{
	struct curluv_sock *s = h->data;
	struct curluv *cu = s->cu;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(cu->multi, s->fd, flags, &running);
	cu->on_progress(cu->ud);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curluv *cu = userp;
	struct curluv_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(cu->multi, fd, NULL);
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, sock_closed);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof *s);
		s->fd = fd;
		s->cu = cu;
		if (uv_poll_init_socket(cu->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		curl_multi_assign(cu->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* libcurl's timeout expired: let it act. The timer's data is the owner's. */
static void on_timer(uv_timer_t *t)
{
	struct curluv *cu = (struct curluv *)(void *)((char *)t - offsetof(struct curluv, timer));
	int running;

	curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	cu->on_progress(cu->ud);
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after timeout_ms. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curluv *cu = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&cu->timer);
	else
		uv_timer_start(&cu->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

bool curluv_init(struct curluv *cu, uv_loop_t *loop, void (*on_progress)(void *ud), void *ud)
{
	*cu = (struct curluv){.loop = loop, .on_progress = on_progress, .ud = ud};
	cu->multi = curl_multi_init();
	if (!cu->multi)
		return false;
	uv_timer_init(loop, &cu->timer);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
	return true;
}

void curluv_cleanup(struct curluv *cu)
{
	uv_timer_stop(&cu->timer);
	if (cu->multi)
		curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
}

/*
 * The CA certificates to trust, from the environment the way the curl tool
 * reads it (libcurl itself does not): CURL_CA_BUNDLE, or else SSL_CERT_DIR
 * and SSL_CERT_FILE; none set: libcurl's built-in bundle. Proxies need
 * nothing here: libcurl itself honours http_proxy, https_proxy, all_proxy
 * and no_proxy.
 */
void curluv_ca_from_env(CURL *e)
{
	const char *bundle = getenv("CURL_CA_BUNDLE");
	const char *dir = getenv("SSL_CERT_DIR"), *file = getenv("SSL_CERT_FILE");

	if (bundle && *bundle) {
		curl_easy_setopt(e, CURLOPT_CAINFO, bundle);
		return;
	}
	if (dir && *dir)
		curl_easy_setopt(e, CURLOPT_CAPATH, dir);
	if (file && *file)
		curl_easy_setopt(e, CURLOPT_CAINFO, file);
}

/*
 * Websocket connections: the opening handshake (rpcd/http.c), then
 * wslay's framing on a libevent bufferevent. wslay reads from the
 * bufferevent's input and writes to its output, so all socket I/O stays
 * with libevent. Messages are assembled here rather than by wslay, so
 * that one too large is skipped and answered instead of ending the
 * connection.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include <wslay/wslay.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "rpcd/api.h"
#include "rpcd/http.h"
#include "rpcd/queue.h"
#include "rpcd/rpcd.h"
#include "rpcd/watch.h"
#include "rpcd/websocket.h"
#include "rpcd/wsjson.h"
#include "types.pb-c.h"

/* Read no further ahead than this while a message is being answered. */
#define WS_READ_HIGH_BYTES	(256 * 1024)

enum ws_state {
	WS_HANDSHAKE,
	WS_OPEN,
	WS_LINGER,	/* said why or said goodbye: flush, then close */
};

struct ws_conn {
	struct websocket_server	*srv;
	struct bufferevent	*bev;
	struct ws_conn		*next;
	struct ws_conn		*prev;
	enum ws_state		 state;
	wslay_event_context_ptr	 ctx;
	struct event		*ping;
	int			 heard;		/* bytes came since the last ping */
	uint64_t		 last_active_ms;	/* last request, or accept */
	int			 failed;	/* out of memory inside a callback */
	int			 peer_closed;	/* EOF: free once the output is sent */
	int			 in_ctrl;	/* the frame being read is a control frame */
	int			 oversize;	/* the message being read is skipped */
	struct evbuffer		*msg;		/* the message being read */
	/* watch: status changes are pushed (from watch_ev, so after the
	 * answers being made), in the kind of the watch request: JSON or
	 * binary, while the output is below its bound. */
	struct watcher		*watcher;
	struct event		*watch_ev;
	int			 watch_text;
	int			 changes_held;	/* until the output drains */
};

struct websocket_server {
	struct event_base	*base;
	const struct rpcd_state	*state;
	char			*origins;	/* websocket_allowed_origins */
	struct ws_conn		*conns;
	size_t			 n_conns;
};

static void ws_on_read(struct bufferevent *, void *);

static void
ws_free(struct ws_conn *c)
{
	struct websocket_server *srv = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_conns--;
	watcher_remove(c->watcher);
	if (c->watch_ev != NULL)
		event_free(c->watch_ev);
	if (c->ping != NULL)
		event_free(c->ping);
	if (c->ctx != NULL)
		wslay_event_context_free(c->ctx);
	if (c->msg != NULL)
		evbuffer_free(c->msg);
	bufferevent_free(c->bev);
	free(c);
}

/*
 * Whatever was to be said is in the output: send it, half-close, and
 * discard input until the peer closes or a timeout, since closing with
 * unread input would reset the connection and could destroy the answer.
 */
static void
ws_linger(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct timeval tv = { WEBSOCKET_LINGER_SECONDS, 0 };

	c->state = WS_LINGER;
	if (c->ping != NULL)
		event_del(c->ping);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
}

/* wslay's I/O: the bufferevent's buffers. */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct ws_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	int n;

	/* Back-pressure: a client that does not read stops being read. */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    WEBSOCKET_MAX_PENDING_OUT_BYTES) {
		bufferevent_disable(c->bev, EV_READ);
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = evbuffer_remove(in, buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	c->heard = 1;
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws_conn *c = arg;

	if (evbuffer_add(bufferevent_get_output(c->bev), data, len) == -1) {
		c->failed = 1;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void
ws_queue(struct ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
	struct wslay_event_msg m = { .opcode = opcode, .msg = data, .msg_length = len };
	int rc = wslay_event_queue_msg(c->ctx, &m);

	/* After a close was queued nothing more is said: not an error. */
	if (rc != 0 && rc != WSLAY_ERR_NO_MORE_MSG)
		c->failed = 1;
}

/* Answers a packed Response in the request's kind: binary or JSON. */
static void
ws_reply(struct ws_conn *c, int text, const uint8_t *res, size_t len)
{
	char *json;
	size_t json_len;
	int rc;

	if (!text) {
		ws_queue(c, WSLAY_BINARY_FRAME, res, len);
		return;
	}
	rc = wsjson_response(res, len, &json, &json_len);
	if (rc == WSJSON_ERR_INVALID) {
		/* Our own response: a bug, or a string from the topology. */
		static const char fallback[] = "{\"exception\":{\"error\":"
		    "\"internal error: the response cannot be written as JSON\"}}";
		log_warnx("a response cannot be written as JSON");
		ws_queue(c, WSLAY_TEXT_FRAME, (const uint8_t *)fallback,
		    sizeof(fallback) - 1);
		return;
	}
	if (rc != WSJSON_OK) {
		c->failed = 1;
		return;
	}
	ws_queue(c, WSLAY_TEXT_FRAME, (const uint8_t *)json, json_len);
	free(json);
}

static void
ws_exception(struct ws_conn *c, int text, const char *why)
{
	uint8_t *res;
	size_t len;

	log_debug("websocket request refused: %s", why);
	api_exception(why, &res, &len);
	ws_reply(c, text, res, len);
	free(res);
}

static int ws_flush_out(struct ws_conn *);

/* Bytes said and not yet written: wslay's queue and the output. */
static size_t
ws_pending_out(const struct ws_conn *c)
{
	return wslay_event_get_queued_msg_length(c->ctx) +
	    evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* The status changes held for c, until none is left or its output is over
 * the bound (then ws_on_write() comes back once it drained). 0, or -1 if
 * c was freed. */
static int
ws_push_changes(struct ws_conn *c)
{
	struct queue_status st;
	uint8_t *res;
	size_t len;

	c->changes_held = 0;
	if (c->state != WS_OPEN)
		return 0;
	for (;;) {
		if (ws_pending_out(c) > WEBSOCKET_MAX_PENDING_OUT_BYTES) {
			c->changes_held = 1;
			break;
		}
		if (!watcher_next(c->watcher, &st))
			break;
		api_changed(&st, &res, &len);
		ws_reply(c, c->watch_text, res, len);
		free(res);
	}
	return ws_flush_out(c);
}

static void
ws_on_watch_ev(evutil_socket_t fd, short what, void *arg)
{
	ws_push_changes(arg);
}

/* Changes are held for c: written from the event loop, never before the
 * answer being made when they happened. */
static void
ws_watch_ready(void *arg)
{
	struct ws_conn *c = arg;

	event_active(c->watch_ev, EV_TIMEOUT, 0);
}

/* watch: from now on, every status change is pushed here, as JSON when
 * the (latest) watch request was. */
static void
ws_watch(struct ws_conn *c, int text)
{
	uint8_t *res;
	size_t len;

	if (c->watcher == NULL) {
		c->watch_ev = xevtimer_new(c->srv->base, ws_on_watch_ev, c);
		c->watcher = watcher_add(c->srv->state->watchers, ws_watch_ready, c);
	}
	c->watch_text = text;
	api_watching(&res, &len);
	ws_reply(c, text, res, len);
	free(res);
}

/* One packed request, from either kind of message. */
static void
ws_request(struct ws_conn *c, int text, const uint8_t *req, size_t len)
{
	uint8_t *res;
	size_t res_len;
	char why[96];

	c->last_active_ms = clock_monotonic_ms();
	if (len > c->srv->state->max_request_bytes) {
		snprintf(why, sizeof(why), "message too large: the request is %zu "
		    "bytes, the limit is %zu", len, c->srv->state->max_request_bytes);
		ws_exception(c, text, why);
		return;
	}
	switch (api_peek(req, len)) {
	case API_PEEK_FLUSH:
		ws_exception(c, text, API_INVALID_REQUEST ": flush does not "
		    "exist on the websocket: "
		    "every response is sent as soon as it is ready");
		return;
	case API_PEEK_WATCH:
		ws_watch(c, text);
		return;
	default:
		break;
	}
	api_handle(c->srv->state, req, len, &res, &res_len);
	ws_reply(c, text, res, res_len);
	free(res);
}

static void
ws_message(struct ws_conn *c, int text, const uint8_t *msg, size_t len)
{
	uint8_t *req;
	size_t req_len;
	char err[WSJSON_ERROR_BYTES];
	int rc;

	if (!text) {
		ws_request(c, 0, msg, len);
		return;
	}
	rc = wsjson_request((const char *)msg, len, &req, &req_len, err, sizeof(err));
	if (rc == WSJSON_ERR_INVALID) {
		ws_exception(c, 1, err);
		return;
	}
	if (rc != WSJSON_OK) {
		c->failed = 1;
		return;
	}
	ws_request(c, 1, req, req_len);
	free(req);
}

static void
ws_on_frame_start(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
	struct ws_conn *c = user;

	/* Control frames may come between the fragments of a message;
	 * wslay buffers and answers them itself. */
	c->in_ctrl = (arg->opcode & 0x8) != 0;
	if (c->in_ctrl || c->oversize)
		return;
	if (arg->payload_length > c->srv->state->max_websocket_bytes -
	    evbuffer_get_length(c->msg)) {
		c->oversize = 1;
		evbuffer_drain(c->msg, evbuffer_get_length(c->msg));
	}
}

static void
ws_on_frame_chunk(wslay_event_context_ptr ctx,
    const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
	struct ws_conn *c = user;

	if (c->in_ctrl || c->oversize || arg->data_length == 0)
		return;
	if (evbuffer_add(c->msg, arg->data, arg->data_length) == -1)
		c->failed = 1;
}

static void
ws_on_msg(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct ws_conn *c = user;
	int text = arg->opcode == WSLAY_TEXT_FRAME;
	char why[128];

	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return;		/* ping, pong and close: wslay's business */
	if (c->oversize) {
		snprintf(why, sizeof(why), "message too large: the limit is %zu "
		    "bytes per websocket message", c->srv->state->max_websocket_bytes);
		ws_exception(c, text, why);
	} else {
		size_t len = evbuffer_get_length(c->msg);
		const uint8_t *msg = evbuffer_pullup(c->msg, -1);
		if (msg == NULL && len > 0)
			c->failed = 1;
		else
			ws_message(c, text, msg != NULL ? msg : (const uint8_t *)"", len);
	}
	c->oversize = 0;
	evbuffer_drain(c->msg, evbuffer_get_length(c->msg));
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_frame_recv_start_callback = ws_on_frame_start,
	.on_frame_recv_chunk_callback = ws_on_frame_chunk,
	.on_msg_recv_callback = ws_on_msg,
};

/* Lets wslay write what it queued; closes when the session has ended.
 * 0, or -1 if c was freed. */
static int
ws_flush_out(struct ws_conn *c)
{
	if (wslay_event_send(c->ctx) != 0 || c->failed) {
		log_warnx("websocket connection closed: out of memory");
		ws_free(c);
		return -1;
	}
	if (wslay_event_get_close_sent(c->ctx)) {
		log_debug("websocket connection closing (status %u)",
		    wslay_event_get_status_code_sent(c->ctx));
		ws_linger(c);
	}
	return 0;
}

static void
ws_on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;
	static const uint8_t payload[] = "nymd";

	if (!c->heard) {
		log_debug("websocket peer silent for %d s: closing the connection",
		    2 * WEBSOCKET_PING_SECONDS);
		ws_free(c);
		return;
	}
	c->heard = 0;
	ws_queue(c, WSLAY_PING, payload, sizeof(payload) - 1);
	ws_flush_out(c);
}

static void
ws_handshake(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t have = evbuffer_get_length(in);
	struct http_upgrade u;
	char res[HTTP_MAX_RESPONSE_BYTES];
	long n;
	int len;

	if (have > HTTP_MAX_HEAD_BYTES)
		have = HTTP_MAX_HEAD_BYTES;
	n = http_parse_upgrade(evbuffer_pullup(in, (ev_ssize_t)have), have,
	    WEBSOCKET_PATH, c->srv->origins, &u);
	if (n == HTTP_NEED_MORE)
		return;
	len = http_response(&u, res, sizeof(res));
	if (len < 0 || evbuffer_add(bufferevent_get_output(c->bev), res,
	    (size_t)len) == -1) {
		ws_free(c);
		return;
	}
	if (n == HTTP_REFUSED) {
		/* A page the user opened, not a fault of nymd's. */
		if (u.status == 403)
			log_info("websocket handshake refused (403): %s", u.why);
		else
			log_warnx("websocket handshake refused (%d): %s", u.status, u.why);
		ws_linger(c);
		return;
	}
	evbuffer_drain(in, (size_t)n);
	if (wslay_event_context_server_init(&c->ctx, &ws_callbacks, c) != 0)
		fatalx("out of memory: cannot set up a websocket session");
	c->msg = xevbuffer_new();
	c->ping = xevent_new(c->srv->base, -1, EV_PERSIST, ws_on_ping, c);
	/* Frames are assembled in ws_on_frame_chunk, which enforces the
	 * message limit; wslay still buffers control frames (<= 125 bytes). */
	wslay_event_config_set_no_buffering(c->ctx, 1);
	wslay_event_config_set_max_recv_msg_length(c->ctx, UINT64_MAX >> 1);
	struct timeval tv = { WEBSOCKET_PING_SECONDS, 0 };
	event_add(c->ping, &tv);
	c->heard = 1;
	c->state = WS_OPEN;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setwatermark(c->bev, EV_READ, 0, WS_READ_HIGH_BYTES);
	log_debug("websocket connection open");
	/* Frames may have come with the request. */
	if (evbuffer_get_length(in) > 0)
		ws_on_read(c->bev, c);
}

static void
ws_on_read(struct bufferevent *bev, void *arg)
{
	struct ws_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	switch (c->state) {
	case WS_HANDSHAKE:
		ws_handshake(c);
		return;
	case WS_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	case WS_OPEN:
		break;
	}
	int rc = wslay_event_recv(c->ctx);
	if (rc == WSLAY_ERR_NOMEM || c->failed) {
		log_warnx("websocket connection closed: out of memory");
		ws_free(c);
		return;
	}
	/* Any other error is a protocol violation: wslay queued a close. */
	ws_flush_out(c);
}

static void
ws_on_write(struct bufferevent *bev, void *arg)
{
	struct ws_conn *c = arg;

	/* Called when the output drained (the low-water mark is 0). */
	if (c->state == WS_LINGER) {
		if (c->peer_closed)
			ws_free(c);
		else
			shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (c->state == WS_OPEN && c->changes_held && ws_push_changes(c) == -1)
		return;
	if (c->state == WS_OPEN && !(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		ws_on_read(bev, c);
	}
}

static void
ws_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ws_conn *c = arg;

	if (what & BEV_EVENT_ERROR)
		log_debug("websocket connection error: %s",
		    strerror(EVUTIL_SOCKET_ERROR()));
	else if ((what & BEV_EVENT_TIMEOUT) && c->state == WS_HANDSHAKE)
		log_debug("websocket handshake not completed in %d s",
		    WEBSOCKET_HANDSHAKE_SECONDS);
	/* A peer that stopped sending may still read what it is owed. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		if (c->state != WS_LINGER)
			ws_linger(c);
		c->peer_closed = 1;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		ws_free(c);
}

/*
 * At the limit, the connection without a request for the longest time
 * (at least WEBSOCKET_EVICT_IDLE_SECONDS) makes room for a new one, so that
 * clients that connect and say nothing cannot lock applications out.
 */
static int
ws_evict_idle(struct websocket_server *srv)
{
	struct ws_conn *idlest = NULL;
	uint64_t now = clock_monotonic_ms();

	for (struct ws_conn *c = srv->conns; c != NULL; c = c->next)
		if (idlest == NULL || c->last_active_ms < idlest->last_active_ms)
			idlest = c;
	if (idlest == NULL ||
	    now - idlest->last_active_ms < WEBSOCKET_EVICT_IDLE_SECONDS * 1000u)
		return -1;
	log_warnx("%d websocket connections open: closing the one idle the "
	    "longest (%llu s) for a new one", WEBSOCKET_MAX_CONNS,
	    (unsigned long long)((now - idlest->last_active_ms) / 1000));
	ws_free(idlest);
	return 0;
}

void
websocket_accept(struct websocket_server *srv, int fd, const char *refusal)
{
	struct http_upgrade u = { .status = 403, .why = refusal };
	struct ws_conn *c;

	/* Beyond the limit a few more are told why; beyond that, closed. A
	 * refused peer never makes room by closing another connection. */
	if (srv->n_conns >= WEBSOCKET_MAX_CONNS &&
	    (refusal != NULL || ws_evict_idle(srv) == -1)) {
		if (srv->n_conns >= WEBSOCKET_MAX_CONNS + WEBSOCKET_MAX_CONNS / 8) {
			close(fd);
			return;
		}
		if (refusal == NULL) {
			log_warnx("refused a websocket connection: %d connections "
			    "already open", WEBSOCKET_MAX_CONNS);
			u.status = 503;
			u.why = "too many websocket connections: close one and retry";
		}
	} else if (refusal == NULL) {
		u.status = 0;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->last_active_ms = clock_monotonic_ms();
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	bufferevent_setcb(c->bev, ws_on_read, ws_on_write, ws_on_event, c);
	/* A request head larger than this is refused anyway. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_MAX_HEAD_BYTES + 1);
	struct timeval tv = { WEBSOCKET_HANDSHAKE_SECONDS, 0 };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (u.status != 0) {
		char res[HTTP_MAX_RESPONSE_BYTES];
		int len = http_response(&u, res, sizeof(res));
		if (len > 0)
			evbuffer_add(bufferevent_get_output(c->bev), res, (size_t)len);
		ws_linger(c);
	}
}

struct websocket_server *
websocket_server_new(struct event_base *base, const struct rpcd_state *state,
    const char *origins)
{
	struct websocket_server *srv = xcalloc(1, sizeof(*srv));

	srv->origins = xstrdup(origins != NULL ? origins : "");
	/* jansson seeds its hash tables from /dev/urandom on first use,
	 * which the sandbox forbids: seed now, before it is installed. */
	json_object_seed(0);
	srv->base = base;
	srv->state = state;
	return srv;
}

void
websocket_server_free(struct websocket_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		ws_free(srv->conns);
	free(srv->origins);
	free(srv);
}

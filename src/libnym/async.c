/*
 * The asynchronous API: requests are written to an output buffer, answers
 * are parsed from an input buffer, and each answer goes to the oldest
 * pending request (nymd answers in order). Writes use send(MSG_NOSIGNAL)
 * so that a closed nymd is an error, not a SIGPIPE for the application.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/frame.h"
#include "libnym/private.h"

#define ASYNC_READ_BYTES	65536

/* The subscription of a handle (nym_async_subscribe()). */
enum async_sub {
	SUB_NONE = 0,
	SUB_ASKED,	/* its request is pending */
	SUB_ACTIVE,	/* nymd pushes messages */
};

struct async_req {
	struct async_req	*next;
	enum wire_kind		 kind;
	union {
		nym_done_cb	*done;
		nym_fetch_cb	*fetch;
		nym_clients_cb	*clients;
		nym_details_cb	*details;
		nym_message_cb	*message;
		nym_sent_cb	*sent;
		nym_status_cb	*status;
	} cb;
	void			*arg;
	unsigned long		 id;
	long			 deadline_ms;	/* monotonic; 0: none */
	unsigned int		 timeout_ms;	/* what the deadline was made of */
	int			 finished;	/* timed out or canceled: its answer is dropped */
};

struct nym_async {
	struct nym_client	*c;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;	/* the earliest deadline */
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct async_req	*head;
	struct async_req	**tailp;
	nym_done_cb		*error_cb;
	void			*error_arg;
	unsigned int		 timeout_ms;
	unsigned long		 last_id;
	enum async_sub		 sub;
	nym_message_cb		*sub_cb;
	void			*sub_arg;
	enum async_sub		 watch;		/* nym_async_watch(), as sub */
	nym_status_cb		*watch_cb;
	void			*watch_arg;
	int			 failed;
	int			 dying;		/* nym_async_free() was called */
	int			 depth;		/* user callbacks running */
};

static long
async_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request's callback with err and no data; it is finished. */
static void
async_call_error(struct nym_async *a, struct async_req *r, int err)
{
	r->finished = 1;
	if (r->kind == WIRE_SUBSCRIBE)
		a->sub = SUB_NONE;
	if (r->kind == WIRE_WATCH)
		a->watch = SUB_NONE;
	a->depth++;
	switch (r->kind) {
	case WIRE_FETCH:	r->cb.fetch(a, err, NULL, 0, r->arg); break;
	case WIRE_CLIENTS:	r->cb.clients(a, err, NULL, 0, r->arg); break;
	case WIRE_DETAILS:	r->cb.details(a, err, NULL, r->arg); break;
	case WIRE_SUBSCRIBE:	r->cb.message(a, err, NULL, r->arg); break;
	case WIRE_SEND_ID:	r->cb.sent(a, err, NULL, r->arg); break;
	case WIRE_STATUS:
	case WIRE_WATCH:	r->cb.status(a, err, NULL, r->arg); break;
	default:		r->cb.done(a, err, r->arg); break;
	}
	a->depth--;
}

/* An active subscription and watch end: their callbacks' last calls. */
static void
async_end_subscription(struct nym_async *a, int err)
{
	if (a->sub == SUB_ACTIVE) {
		a->sub = SUB_NONE;
		a->depth++;
		a->sub_cb(a, err, NULL, a->sub_arg);
		a->depth--;
	}
	if (a->watch == SUB_ACTIVE) {
		a->watch = SUB_NONE;
		a->depth++;
		a->watch_cb(a, err, NULL, a->watch_arg);
		a->depth--;
	}
}

static struct async_req *
async_pop(struct nym_async *a)
{
	struct async_req *r = a->head;

	if (r != NULL) {
		a->head = r->next;
		if (a->head == NULL)
			a->tailp = &a->head;
	}
	return r;
}

/* Every pending request that is not finished gets err. */
static void
async_drain(struct nym_async *a, int err)
{
	struct async_req *r;

	while ((r = async_pop(a)) != NULL) {
		if (!r->finished)
			async_call_error(a, r, err);
		free(r);
	}
}

static void
async_destroy(struct nym_async *a)
{
	async_drain(a, NYM_ERR_CANCELED);
	async_end_subscription(a, NYM_ERR_CANCELED);
	event_free(a->ev_read);
	event_free(a->ev_write);
	event_free(a->ev_timer);
	evbuffer_free(a->in);
	evbuffer_free(a->out);
	nym_close(a->c);
	free(a);
}

/* At the end of each entry from libevent: free if a callback asked to. */
static int
async_release(struct nym_async *a)
{
	if (a->dying && a->depth == 0) {
		async_destroy(a);
		return 1;
	}
	return 0;
}

/* The timer for the earliest deadline of the requests not finished. */
static void
async_schedule(struct nym_async *a)
{
	long first = 0, wait;
	struct async_req *r;

	for (r = a->head; r != NULL; r = r->next)
		if (!r->finished && r->deadline_ms != 0 &&
		    (first == 0 || r->deadline_ms < first))
			first = r->deadline_ms;
	if (first == 0 || a->failed || a->dying) {
		evtimer_del(a->ev_timer);
		return;
	}
	wait = first - async_now_ms();
	if (wait < 0)
		wait = 0;
	struct timeval tv = { .tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000 };
	evtimer_add(a->ev_timer, &tv);
}

/* The connection is lost: every pending request fails with err. */
static void
async_fail(struct nym_async *a, int err)
{
	if (a->failed)
		return;
	a->failed = 1;
	a->c->broken = 1;
	event_del(a->ev_read);
	event_del(a->ev_write);
	evtimer_del(a->ev_timer);
	async_drain(a, err);
	async_end_subscription(a, err);
	if (a->error_cb != NULL && !a->dying) {
		a->depth++;
		a->error_cb(a, err, a->error_arg);
		a->depth--;
	}
}

/* Requests past their deadline get NYM_ERR_TIMEOUT; they stay in the
 * queue, finished, so that their late answers are recognised and dropped. */
static void
async_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct nym_async *a = arg;
	long now = async_now_ms();
	struct async_req *r;

	/* Callbacks may append requests (seen here, not yet due) or
	 * finish others; none is freed before async_release(). */
	for (r = a->head; r != NULL && !a->failed; r = r->next) {
		if (r->finished || r->deadline_ms == 0 || r->deadline_ms > now)
			continue;
		wire_error(a->c->err, NYM_ERR_TIMEOUT,
		    "request %lu: nymd did not answer within %u ms", r->id, r->timeout_ms);
		async_call_error(a, r, NYM_ERR_TIMEOUT);
	}
	if (!async_release(a))
		async_schedule(a);
}

/* Hands each pushed message to the subscription's callback. */
static void
async_pushed(struct nym_async *a, const Types__Response *res)
{
	struct nym_message **list;
	size_t n, i;
	int rc;

	if (a->sub != SUB_ACTIVE) {
		wire_error(a->c->err, NYM_ERR_PROTOCOL,
		    "nymd pushed messages to a connection that did not subscribe");
		async_fail(a, NYM_ERR_PROTOCOL);
		return;
	}
	if ((rc = wire_pushed(a->c->err, res->pushed, &list, &n)) != 0) {
		async_fail(a, rc);
		return;
	}
	/* Once the handle is freed, the rest are lost with the connection. */
	for (i = 0; i < n && a->sub == SUB_ACTIVE && !a->dying; i++) {
		a->depth++;
		a->sub_cb(a, 0, list[i], a->sub_arg);
		a->depth--;
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Hands a pushed status change to the watch's callback. */
static void
async_changed(struct nym_async *a, const Types__Response *res)
{
	struct nym_message_status st;
	int rc;

	if (a->watch != SUB_ACTIVE) {
		wire_error(a->c->err, NYM_ERR_PROTOCOL,
		    "nymd pushed a status change to a connection that did not watch");
		async_fail(a, NYM_ERR_PROTOCOL);
		return;
	}
	if ((rc = wire_status(a->c->err, res->changed, &st)) != 0) {
		async_fail(a, rc);
		return;
	}
	if (a->dying)
		return;
	a->depth++;
	a->watch_cb(a, 0, &st, a->watch_arg);
	a->depth--;
}

static const uint8_t no_id[NYM_MESSAGE_ID_BYTES];

/* Calls r's callback with the answer in res (rc 0) or the error rc. */
static void
async_deliver(struct nym_async *a, struct async_req *r, int rc, Types__Response *res)
{
	struct nym_message *msgs = NULL;
	struct nym_client_config *list = NULL, details;
	struct nym_message_status st;
	uint8_t id[NYM_MESSAGE_ID_BYTES];
	size_t n = 0;

	if (rc != 0) {
		async_call_error(a, r, rc);
		return;
	}
	r->finished = 1;
	a->depth++;
	switch (r->kind) {
	case WIRE_FETCH:
		rc = wire_messages(a->c->err, res->fetch, &msgs, &n);
		r->cb.fetch(a, rc, msgs, n, r->arg);
		break;
	case WIRE_CLIENTS:
		rc = wire_clients(a->c->err, res->clients, &list, &n);
		r->cb.clients(a, rc, list, n, r->arg);
		break;
	case WIRE_DETAILS:
		rc = wire_details(a->c->err, res->details, &details);
		r->cb.details(a, rc, rc == 0 ? &details : NULL, r->arg);
		break;
	case WIRE_SUBSCRIBE:
		/* Silent: the callback hears of messages, or of the end. */
		a->sub = SUB_ACTIVE;
		break;
	case WIRE_SEND_ID:
		/* An older nymd gives no id: NULL, as on an error. */
		rc = wire_message_id(a->c->err, res->send, id);
		r->cb.sent(a, rc, rc == 0 && memcmp(id, no_id, sizeof(id)) != 0 ?
		    id : NULL, r->arg);
		break;
	case WIRE_STATUS:
		rc = wire_status(a->c->err, res->status, &st);
		r->cb.status(a, rc, rc == 0 ? &st : NULL, r->arg);
		break;
	case WIRE_WATCH:
		/* Silent: the callback hears of changes, or of the end. */
		a->watch = SUB_ACTIVE;
		break;
	default:
		r->cb.done(a, rc, r->arg);
		break;
	}
	a->depth--;
	free(msgs);
	free(list);
}

/*
 * One frame from nymd: a pushed message, or the answer to the oldest
 * pending request (dropped if that one is finished already).
 */
static void
async_answer(struct nym_async *a, const uint8_t *body, size_t len)
{
	struct async_req *r = a->head;
	Types__Response *res = NULL;
	int rc;

	/* With nothing pending, only a push may come. */
	rc = wire_unpack(a->c->err, r != NULL ? r->kind : WIRE_SUBSCRIBE, body, len, &res);
	if (rc == WIRE_PUSHED || rc == WIRE_CHANGED) {
		if (rc == WIRE_PUSHED)
			async_pushed(a, res);
		else
			async_changed(a, res);
		types__response__free_unpacked(res, NULL);
		return;
	}
	if (r == NULL) {
		if (res != NULL)
			types__response__free_unpacked(res, NULL);
		wire_error(a->c->err, NYM_ERR_PROTOCOL, "nymd answered a request never made");
		async_fail(a, NYM_ERR_PROTOCOL);
		return;
	}
	async_pop(a);
	if (!r->finished)
		async_deliver(a, r, rc, res);
	free(r);
	if (res != NULL)
		types__response__free_unpacked(res, NULL);
}

/* Answers every complete frame in the input buffer. */
static void
async_parse(struct nym_async *a)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	size_t body_len;

	while (!a->failed && !a->dying) {
		ev_ssize_t have = evbuffer_copyout(a->in, hdr, sizeof(hdr));
		if (have <= 0)
			return;
		int n = frame_parse_length(hdr, (size_t)have, NYM_MAX_RESPONSE_BYTES, &body_len);
		if (n == FRAME_NEED_MORE)
			return;
		if (n < 0) {
			wire_error(a->c->err, NYM_ERR_PROTOCOL, "bad frame from nymd: %s",
			    frame_strerror(n));
			async_fail(a, NYM_ERR_PROTOCOL);
			return;
		}
		if (evbuffer_get_length(a->in) < (size_t)n + body_len)
			return;
		evbuffer_drain(a->in, (size_t)n);
		/* A copy: a callback may free a, and a->in with it. */
		uint8_t *body = malloc(body_len ? body_len : 1);
		if (body == NULL) {
			wire_error(a->c->err, NYM_ERR_NOMEM, "out of memory");
			async_fail(a, NYM_ERR_NOMEM);
			return;
		}
		evbuffer_remove(a->in, body, body_len);
		async_answer(a, body, body_len);
		free(body);
	}
}

static void
async_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct nym_async *a = arg;
	int n = evbuffer_read(a->in, fd, ASYNC_READ_BYTES);

	if (n == 0) {
		wire_error(a->c->err, NYM_ERR_IO, "read: nymd closed the connection");
		async_fail(a, NYM_ERR_IO);
	} else if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		wire_error(a->c->err, NYM_ERR_IO, "read: %s", strerror(errno));
		async_fail(a, NYM_ERR_IO);
	} else
		async_parse(a);
	async_release(a);
}

static void
async_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct nym_async *a = arg;
	struct evbuffer_iovec v;

	while (evbuffer_peek(a->out, -1, NULL, &v, 1) > 0) {
		ssize_t n = send(fd, v.iov_base, v.iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			wire_error(a->c->err, NYM_ERR_IO, "write: %s", strerror(errno));
			async_fail(a, NYM_ERR_IO);
			async_release(a);
			return;
		}
		evbuffer_drain(a->out, (size_t)n);
	}
	event_del(a->ev_write);
}

int
nym_async_new(struct nym_async **out, struct event_base *base, struct nym_client *c)
{
	struct nym_async *a;

	/* A connection nym_wait_message() subscribed has its pushes to itself. */
	if (out == NULL || base == NULL || c == NULL || c->fd < 0 || c->broken ||
	    c->subscribed)
		return NYM_ERR_INVALID;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NYM_ERR_NOMEM;
	a->tailp = &a->head;
	a->in = evbuffer_new();
	a->out = evbuffer_new();
	a->ev_read = event_new(base, c->fd, EV_READ | EV_PERSIST, async_on_read, a);
	a->ev_write = event_new(base, c->fd, EV_WRITE | EV_PERSIST, async_on_write, a);
	a->ev_timer = evtimer_new(base, async_on_timer, a);
	if (a->in == NULL || a->out == NULL || a->ev_read == NULL || a->ev_write == NULL ||
	    a->ev_timer == NULL || evutil_make_socket_nonblocking(c->fd) == -1 ||
	    event_add(a->ev_read, NULL) == -1) {
		if (a->ev_read != NULL)
			event_free(a->ev_read);
		if (a->ev_write != NULL)
			event_free(a->ev_write);
		if (a->ev_timer != NULL)
			event_free(a->ev_timer);
		if (a->in != NULL)
			evbuffer_free(a->in);
		if (a->out != NULL)
			evbuffer_free(a->out);
		free(a);
		return NYM_ERR_NOMEM;
	}
	a->c = c;
	a->timeout_ms = c->timeout_ms;
	*out = a;
	return 0;
}

void
nym_async_free(struct nym_async *a)
{
	if (a == NULL || a->dying)
		return;
	a->dying = 1;
	async_release(a);
}

void
nym_async_set_error_cb(struct nym_async *a, nym_done_cb *cb, void *arg)
{
	if (a == NULL)
		return;
	a->error_cb = cb;
	a->error_arg = arg;
}

const char *
nym_async_last_error(const struct nym_async *a)
{
	return a != NULL ? nym_last_error(a->c) : nym_last_error(NULL);
}

static int
async_request(struct nym_async *a, enum wire_kind kind,
    const struct nym_client_config *rcpt, const void *msg, size_t len,
    void (*cb)(void), void *arg)
{
	struct async_req *r;
	uint8_t *frame;
	size_t frame_len;
	int rc;

	if (a == NULL || cb == NULL)
		return NYM_ERR_INVALID;
	if (a->dying)
		return wire_error(a->c->err, NYM_ERR_CANCELED, "the handle is being freed");
	if (a->failed)
		return wire_error(a->c->err, NYM_ERR_IO,
		    "the connection was lost after an earlier error");
	if ((rc = wire_pack(a->c->err, kind, rcpt, msg, len, &frame, &frame_len)) != 0)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		free(frame);
		return wire_error(a->c->err, NYM_ERR_NOMEM, "out of memory");
	}
	rc = evbuffer_add(a->out, frame, frame_len);
	free(frame);
	if (rc == -1) {
		free(r);
		return wire_error(a->c->err, NYM_ERR_NOMEM, "out of memory");
	}
	r->kind = kind;
	switch (kind) {
	case WIRE_FETCH:	r->cb.fetch = (nym_fetch_cb *)cb; break;
	case WIRE_CLIENTS:	r->cb.clients = (nym_clients_cb *)cb; break;
	case WIRE_DETAILS:	r->cb.details = (nym_details_cb *)cb; break;
	case WIRE_SUBSCRIBE:	r->cb.message = (nym_message_cb *)cb; break;
	case WIRE_SEND_ID:	r->cb.sent = (nym_sent_cb *)cb; break;
	case WIRE_STATUS:
	case WIRE_WATCH:	r->cb.status = (nym_status_cb *)cb; break;
	default:		r->cb.done = (nym_done_cb *)cb; break;
	}
	r->arg = arg;
	r->id = ++a->last_id;
	/* A subscription or a watch is not timed: its pushes may be long in
	 * coming, and those pushed after a give-up would be lost. */
	if (a->timeout_ms > 0 && kind != WIRE_SUBSCRIBE && kind != WIRE_WATCH) {
		r->timeout_ms = a->timeout_ms;
		r->deadline_ms = async_now_ms() + (long)a->timeout_ms;
	}
	*a->tailp = r;
	a->tailp = &r->next;
	event_add(a->ev_write, NULL);
	if (r->deadline_ms != 0)
		async_schedule(a);
	return 0;
}

int
nym_async_send(struct nym_async *a, const struct nym_client_config *rcpt,
    const void *msg, size_t len, nym_done_cb *cb, void *arg)
{
	return async_request(a, WIRE_SEND, rcpt, msg, len, (void (*)(void))cb, arg);
}

int
nym_async_fetch(struct nym_async *a, nym_fetch_cb *cb, void *arg)
{
	return async_request(a, WIRE_FETCH, NULL, NULL, 0, (void (*)(void))cb, arg);
}

int
nym_async_clients(struct nym_async *a, nym_clients_cb *cb, void *arg)
{
	return async_request(a, WIRE_CLIENTS, NULL, NULL, 0, (void (*)(void))cb, arg);
}

int
nym_async_details(struct nym_async *a, nym_details_cb *cb, void *arg)
{
	return async_request(a, WIRE_DETAILS, NULL, NULL, 0, (void (*)(void))cb, arg);
}

int
nym_async_subscribe(struct nym_async *a, nym_message_cb *cb, void *arg)
{
	int rc;

	if (a == NULL || cb == NULL)
		return NYM_ERR_INVALID;
	if (a->sub != SUB_NONE)
		return wire_error(a->c->err, NYM_ERR_INVALID,
		    "this connection is subscribed already");
	rc = async_request(a, WIRE_SUBSCRIBE, NULL, NULL, 0, (void (*)(void))cb, arg);
	if (rc != 0)
		return rc;
	a->sub = SUB_ASKED;
	a->sub_cb = cb;
	a->sub_arg = arg;
	return 0;
}

int
nym_async_send_message(struct nym_async *a, const struct nym_client_config *rcpt,
    const void *msg, size_t len, nym_sent_cb *cb, void *arg)
{
	return async_request(a, WIRE_SEND_ID, rcpt, msg, len, (void (*)(void))cb, arg);
}

int
nym_async_status(struct nym_async *a, const uint8_t id[NYM_MESSAGE_ID_BYTES],
    nym_status_cb *cb, void *arg)
{
	if (id == NULL)
		return NYM_ERR_INVALID;
	return async_request(a, WIRE_STATUS, NULL, id, NYM_MESSAGE_ID_BYTES,
	    (void (*)(void))cb, arg);
}

int
nym_async_watch(struct nym_async *a, nym_status_cb *cb, void *arg)
{
	int rc;

	if (a == NULL || cb == NULL)
		return NYM_ERR_INVALID;
	if (a->watch != SUB_NONE)
		return wire_error(a->c->err, NYM_ERR_INVALID,
		    "this connection watches already");
	rc = async_request(a, WIRE_WATCH, NULL, NULL, 0, (void (*)(void))cb, arg);
	if (rc != 0)
		return rc;
	a->watch = SUB_ASKED;
	a->watch_cb = cb;
	a->watch_arg = arg;
	return 0;
}

int
nym_async_set_timeout(struct nym_async *a, unsigned int ms)
{
	if (a == NULL)
		return NYM_ERR_INVALID;
	a->timeout_ms = ms;
	return 0;
}

unsigned long
nym_async_last_request(const struct nym_async *a)
{
	return a != NULL ? a->last_id : 0;
}

int
nym_cancel(struct nym_async *a, unsigned long id)
{
	struct async_req *r;

	if (a == NULL || id == 0)
		return NYM_ERR_INVALID;
	for (r = a->head; r != NULL && r->id != id; r = r->next)
		;
	if (r == NULL || r->finished)
		return wire_error(a->c->err, NYM_ERR_NOT_FOUND,
		    "request %lu is not pending", id);
	if (r->kind == WIRE_SUBSCRIBE || r->kind == WIRE_WATCH)
		return wire_error(a->c->err, NYM_ERR_INVALID,
		    "a subscription or a watch ends with nym_async_free(), not "
		    "nym_cancel()");
	wire_error(a->c->err, NYM_ERR_CANCELED, "request %lu was canceled", id);
	async_call_error(a, r, NYM_ERR_CANCELED);
	/* Freed from that callback, outside any other: now. */
	if (!async_release(a))
		async_schedule(a);
	return 0;
}

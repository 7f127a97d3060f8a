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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common/frame.h"
#include "libnym/private.h"

#define ASYNC_READ_BYTES	65536

struct async_req {
	struct async_req	*next;
	enum wire_kind		 kind;
	union {
		nym_done_cb	*done;
		nym_fetch_cb	*fetch;
		nym_clients_cb	*clients;
		nym_details_cb	*details;
	} cb;
	void			*arg;
};

struct nym_async {
	struct nym_client	*c;
	struct event		*ev_read;
	struct event		*ev_write;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct async_req	*head;
	struct async_req	**tailp;
	nym_done_cb		*error_cb;
	void			*error_arg;
	int			 failed;
	int			 dying;		/* nym_async_free() was called */
	int			 depth;		/* user callbacks running */
};

static void
async_call_error(struct nym_async *a, struct async_req *r, int err)
{
	a->depth++;
	switch (r->kind) {
	case WIRE_FETCH:	r->cb.fetch(a, err, NULL, 0, r->arg); break;
	case WIRE_CLIENTS:	r->cb.clients(a, err, NULL, 0, r->arg); break;
	case WIRE_DETAILS:	r->cb.details(a, err, NULL, r->arg); break;
	default:		r->cb.done(a, err, r->arg); break;
	}
	a->depth--;
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

static void
async_destroy(struct nym_async *a)
{
	struct async_req *r;

	while ((r = async_pop(a)) != NULL) {
		async_call_error(a, r, NYM_ERR_CANCELED);
		free(r);
	}
	event_free(a->ev_read);
	event_free(a->ev_write);
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

/* The connection is lost: every pending request fails with err. */
static void
async_fail(struct nym_async *a, int err)
{
	struct async_req *r;

	if (a->failed)
		return;
	a->failed = 1;
	a->c->broken = 1;
	event_del(a->ev_read);
	event_del(a->ev_write);
	while ((r = async_pop(a)) != NULL) {
		async_call_error(a, r, err);
		free(r);
	}
	if (a->error_cb != NULL && !a->dying) {
		a->depth++;
		a->error_cb(a, err, a->error_arg);
		a->depth--;
	}
}

/* Hands one answer to the oldest pending request. */
static void
async_answer(struct nym_async *a, const uint8_t *body, size_t len)
{
	struct async_req *r = async_pop(a);
	Types__Response *res = NULL;
	struct nym_message *msgs = NULL;
	struct nym_client_config *list = NULL, details;
	size_t n = 0;
	int rc;

	if (r == NULL) {
		wire_error(a->c->err, NYM_ERR_PROTOCOL, "nymd answered a request never made");
		async_fail(a, NYM_ERR_PROTOCOL);
		return;
	}
	rc = wire_unpack(a->c->err, r->kind, body, len, &res);
	a->depth++;
	switch (r->kind) {
	case WIRE_FETCH:
		if (rc == 0)
			rc = wire_messages(a->c->err, res->fetch, &msgs, &n);
		r->cb.fetch(a, rc, msgs, n, r->arg);
		break;
	case WIRE_CLIENTS:
		if (rc == 0)
			rc = wire_clients(a->c->err, res->clients, &list, &n);
		r->cb.clients(a, rc, list, n, r->arg);
		break;
	case WIRE_DETAILS:
		if (rc == 0)
			rc = wire_details(a->c->err, res->details, &details);
		r->cb.details(a, rc, rc == 0 ? &details : NULL, r->arg);
		break;
	default:
		r->cb.done(a, rc, r->arg);
		break;
	}
	a->depth--;
	free(msgs);
	free(list);
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

	if (out == NULL || base == NULL || c == NULL || c->fd < 0 || c->broken)
		return NYM_ERR_INVALID;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NYM_ERR_NOMEM;
	a->tailp = &a->head;
	a->in = evbuffer_new();
	a->out = evbuffer_new();
	a->ev_read = event_new(base, c->fd, EV_READ | EV_PERSIST, async_on_read, a);
	a->ev_write = event_new(base, c->fd, EV_WRITE | EV_PERSIST, async_on_write, a);
	if (a->in == NULL || a->out == NULL || a->ev_read == NULL || a->ev_write == NULL ||
	    evutil_make_socket_nonblocking(c->fd) == -1 || event_add(a->ev_read, NULL) == -1) {
		if (a->ev_read != NULL)
			event_free(a->ev_read);
		if (a->ev_write != NULL)
			event_free(a->ev_write);
		if (a->in != NULL)
			evbuffer_free(a->in);
		if (a->out != NULL)
			evbuffer_free(a->out);
		free(a);
		return NYM_ERR_NOMEM;
	}
	a->c = c;
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
	default:		r->cb.done = (nym_done_cb *)cb; break;
	}
	r->arg = arg;
	*a->tailp = r;
	a->tailp = &r->next;
	event_add(a->ev_write, NULL);
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

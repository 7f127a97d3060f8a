#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/frame.h"
#include "libnym/private.h"

/* Connections that fail have no handle to keep their error in. */
static _Thread_local char client_connect_err[NYM_ERROR_BYTES];

int
client_fail(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(client_connect_err, sizeof(client_connect_err), fmt, ap);
	va_end(ap);
	errno = saved;
	return code;
}

static int
client_new(struct nym_client **out, int fd)
{
	struct nym_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return client_fail(NYM_ERR_NOMEM, "out of memory");
	c->fd = fd;
	c->pushed_tail = &c->pushed;
	*out = c;
	return 0;
}

/* A stream socket, or NYM_ERR_INVALID saying what fd is instead. */
static int
client_check_fd(int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) == -1)
		return client_fail(NYM_ERR_INVALID, "descriptor %d: %s", fd, strerror(errno));
	if (!S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return client_fail(NYM_ERR_INVALID, "descriptor %d is not a socket", fd);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return client_fail(NYM_ERR_INVALID, "descriptor %d: %s", fd, strerror(errno));
	if (type != SOCK_STREAM) {
		errno = EPROTOTYPE;
		return client_fail(NYM_ERR_INVALID,
		    "descriptor %d is not a stream socket (nymd speaks over a stream)", fd);
	}
	return 0;
}

int
nym_connect_fd(struct nym_client **out, int fd)
{
	int rc;

	if (out == NULL || fd < 0)
		return client_fail(NYM_ERR_INVALID, "no socket to use");
	if ((rc = client_check_fd(fd)) != 0)
		return rc;
	return client_new(out, fd);
}

int
nym_connect_unix(struct nym_client **out, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (out == NULL || path == NULL || path[0] == '\0')
		return client_fail(NYM_ERR_INVALID, "no socket path");
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return client_fail(NYM_ERR_INVALID, "%s: the path is too long for a unix socket",
		    path);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return client_fail(NYM_ERR_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return client_fail(NYM_ERR_CONNECT, "connect %s: %s", path, strerror(saved));
	}
	if ((rc = client_new(out, fd)) != 0)
		close(fd);
	return rc;
}

int
nym_connect_tcp(struct nym_client **out, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1, rc, saved = ECONNREFUSED;

	if (out == NULL || host == NULL || port == NULL)
		return client_fail(NYM_ERR_INVALID, "no host or port");
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		errno = EHOSTUNREACH;
		return client_fail(NYM_ERR_CONNECT, "%s port %s: %s", host, port,
		    gai_strerror(rc));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		errno = saved;
		return client_fail(NYM_ERR_CONNECT, "connect %s port %s: %s", host, port,
		    strerror(saved));
	}
	if ((rc = client_new(out, fd)) != 0)
		close(fd);
	return rc;
}

void
nym_close(struct nym_client *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	client_pushed_free(c);
	free(c);
}

int
nym_daemon_pid(const struct nym_client *c, long *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c == NULL || pid == NULL)
		return NYM_ERR_INVALID;
	*pid = 0;
	/* Of the process that called listen(): nymd's master (master/listen.c). */
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred) || cred.pid <= 0)
		return NYM_ERR_NOT_FOUND;
	*pid = (long)cred.pid;
	return 0;
}

int
nym_set_timeout(struct nym_client *c, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (c == NULL)
		return NYM_ERR_INVALID;
	c->timeout_ms = ms;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		return wire_error(c->err, NYM_ERR_IO, "setsockopt: %s", strerror(errno));
	return 0;
}

/* An I/O failure leaves half a frame behind: the connection is unusable. */
static int
client_io_error(struct nym_client *c, const char *what, int saved)
{
	c->broken = 1;
	if (saved == EAGAIN || saved == EWOULDBLOCK)
		return wire_error(c->err, NYM_ERR_TIMEOUT, "%s: nymd did not answer in time", what);
	if (saved == 0)
		return wire_error(c->err, NYM_ERR_IO, "%s: nymd closed the connection", what);
	return wire_error(c->err, NYM_ERR_IO, "%s: %s", what, strerror(saved));
}

static int
client_write(struct nym_client *c, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		/* MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE. */
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return client_io_error(c, "write", n == 0 ? EPIPE : errno);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
client_read(struct nym_client *c, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return client_io_error(c, "read", n == 0 ? 0 : errno);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one frame's body into *body (malloc'd, to free). */
static int
client_read_frame(struct nym_client *c, uint8_t **body, size_t *body_len)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	size_t have = 0;
	int rc, n;

	for (;;) {
		/* Byte by byte: the prefix is at most 10 bytes, and not one more is read. */
		if ((rc = client_read(c, hdr + have, 1)) != 0)
			return rc;
		have++;
		n = frame_parse_length(hdr, have, NYM_MAX_RESPONSE_BYTES, body_len);
		if (n > 0)
			break;
		if (n < 0) {
			c->broken = 1;
			return wire_error(c->err, NYM_ERR_PROTOCOL, "bad frame from nymd: %s",
			    frame_strerror(n));
		}
	}
	if ((*body = malloc(*body_len ? *body_len : 1)) == NULL) {
		c->broken = 1;
		return wire_error(c->err, NYM_ERR_NOMEM, "out of memory");
	}
	if ((rc = client_read(c, *body, *body_len)) != 0) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

/* Keeps the messages of a push for nym_wait_message(). */
static int
client_stash(struct nym_client *c, const Types__Response *res)
{
	struct nym_message **list;
	size_t n;
	int rc;

	if (!c->subscribed) {
		c->broken = 1;
		return wire_error(c->err, NYM_ERR_PROTOCOL,
		    "nymd pushed messages to a connection that did not subscribe");
	}
	if ((rc = wire_pushed(c->err, res->pushed, &list, &n)) != 0) {
		c->broken = 1;
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct client_pushed *p = malloc(sizeof(*p));
		if (p == NULL) {
			for (size_t k = i; k < n; k++)
				free(list[k]);
			free(list);
			c->broken = 1;
			return wire_error(c->err, NYM_ERR_NOMEM, "out of memory");
		}
		p->next = NULL;
		p->msg = list[i];
		*c->pushed_tail = p;
		c->pushed_tail = &p->next;
	}
	free(list);
	return 0;
}

void
client_pushed_free(struct nym_client *c)
{
	struct client_pushed *p, *next;

	for (p = c->pushed; p != NULL; p = next) {
		next = p->next;
		free(p->msg);
		free(p);
	}
	c->pushed = NULL;
	c->pushed_tail = &c->pushed;
}

/*
 * Reads frames until the answer to kind: pushed messages met on the way
 * are kept for nym_wait_message().
 */
static int
client_answer(struct nym_client *c, enum wire_kind kind, Types__Response **res)
{
	uint8_t *body;
	size_t body_len;
	int rc;

	for (;;) {
		if ((rc = client_read_frame(c, &body, &body_len)) != 0)
			return rc;
		rc = wire_unpack(c->err, kind, body, body_len, res);
		free(body);
		if (rc == WIRE_CHANGED) {
			/* Blocking connections never ask to watch. */
			types__response__free_unpacked(*res, NULL);
			*res = NULL;
			c->broken = 1;
			return wire_error(c->err, NYM_ERR_PROTOCOL, "nymd pushed a "
			    "status change to a connection that did not watch");
		}
		if (rc != WIRE_PUSHED)
			return rc;
		rc = client_stash(c, *res);
		types__response__free_unpacked(*res, NULL);
		*res = NULL;
		if (rc != 0)
			return rc;
	}
}

/* One request, one answer: the answer is checked against the request. */
static int
client_call(struct nym_client *c, enum wire_kind kind,
    const struct nym_client_config *rcpt, const void *msg, size_t len,
    Types__Response **res)
{
	uint8_t *frame;
	size_t frame_len;
	int rc;

	if (c->broken)
		return wire_error(c->err, NYM_ERR_IO,
		    "the connection was lost after an earlier error");
	if ((rc = wire_pack(c->err, kind, rcpt, msg, len, &frame, &frame_len)) != 0)
		return rc;
	rc = client_write(c, frame, frame_len);
	free(frame);
	if (rc != 0)
		return rc;
	return client_answer(c, kind, res);
}

static int client_call_request(struct nym_client *, const Types__Request *, int,
    Types__Response **);

/*
 * A send to rcpt, with reply_surbs reply blocks; the message id nymd gave
 * it into id (all zero if none), unless id is NULL.
 */
static int
client_send(struct nym_client *c, const struct nym_client_config *rcpt,
    const void *msg, size_t len, unsigned int reply_surbs,
    uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	Types__Request *req;
	Types__Response *res;
	uint8_t *frame;
	size_t frame_len, n;
	int64_t body;
	int rc;

	if (c == NULL)
		return NYM_ERR_INVALID;
	if (reply_surbs > NYM_MAX_REPLY_SURBS)
		return wire_error(c->err, NYM_ERR_INVALID, "send: too many reply blocks: "
		    "%u, the maximum is %d", reply_surbs, NYM_MAX_REPLY_SURBS);
	if (reply_surbs == 0) {
		rc = client_call(c, WIRE_SEND, rcpt, msg, len, &res);
	} else {
		/* The send request as nym_send() makes it, with reply_surbs. */
		if ((rc = wire_pack(c->err, WIRE_SEND, rcpt, msg, len, &frame,
		    &frame_len)) != 0)
			return rc;
		rc = frame_get_varint(frame, frame_len, &body);
		n = rc > 0 ? (size_t)rc : frame_len;
		req = types__request__unpack(NULL, frame_len - n, frame + n);
		free(frame);
		if (req == NULL || req->send == NULL) {
			if (req != NULL)
				types__request__free_unpacked(req, NULL);
			return wire_error(c->err, NYM_ERR_NOMEM, "out of memory");
		}
		req->send->reply_surbs = reply_surbs;
		rc = client_call_request(c, req, WIRE_SEND, &res);
		types__request__free_unpacked(req, NULL);
	}
	if (rc != 0)
		return rc;
	if (id != NULL)
		rc = wire_message_id(c->err, res->send, id);
	types__response__free_unpacked(res, NULL);
	return rc;
}

int
nym_send(struct nym_client *c, const struct nym_client_config *rcpt,
    const void *msg, size_t len)
{
	return client_send(c, rcpt, msg, len, 0, NULL);
}

/* The clients nymd's topology lists; refresh: fetched from the directory
 * first (nymd waits a few seconds at most). */
static int
client_list(struct nym_client *c, int refresh, struct nym_client_config **list,
    size_t *n)
{
	Types__Response *res;
	int rc;

	*list = NULL;
	*n = 0;
	if ((rc = client_call(c, refresh ? WIRE_CLIENTS_REFRESH : WIRE_CLIENTS,
	    NULL, NULL, 0, &res)) != 0)
		return rc;
	rc = wire_clients(c->err, res->clients, list, n);
	types__response__free_unpacked(res, NULL);
	return rc;
}

/*
 * A recipient the topology does not list may have registered since nymd
 * last fetched it: nymd is asked to fetch it now, and the send goes ahead
 * if the fresh one lists the recipient.
 */
static int
client_send_id(struct nym_client *c, const char *id, const void *msg, size_t len,
    unsigned int reply_surbs, uint8_t msgid[NYM_MESSAGE_ID_BYTES])
{
	struct nym_client_config *list;
	uint8_t key[NYM_KEY_BYTES];
	size_t n;
	int rc;

	if (c == NULL)
		return NYM_ERR_INVALID;
	if (id == NULL || nym_key_from_id(key, id) != 0)
		return wire_error(c->err, NYM_ERR_INVALID,
		    "recipient '%s' is not a client id (44 characters of URL-safe base64)",
		    id != NULL ? id : "");
	for (int refresh = 0; refresh < 2; refresh++) {
		if ((rc = client_list(c, refresh, &list, &n)) != 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(list[i].id, id) == 0 || (list[i].has_pubkey &&
			    memcmp(list[i].pubkey, key, sizeof(key)) == 0)) {
				rc = client_send(c, &list[i], msg, len, reply_surbs, msgid);
				free(list);
				return rc;
			}
		}
		free(list);
	}
	return wire_error(c->err, NYM_ERR_NOT_FOUND,
	    "recipient %s is not a registered client in nymd's topology", id);
}

int
nym_send_id(struct nym_client *c, const char *id, const void *msg, size_t len)
{
	return client_send_id(c, id, msg, len, 0, NULL);
}

int
nym_fetch(struct nym_client *c, struct nym_message **msgs, size_t *n)
{
	Types__Response *res;
	int rc;

	if (c == NULL || msgs == NULL || n == NULL)
		return NYM_ERR_INVALID;
	*msgs = NULL;
	*n = 0;
	if ((rc = client_call(c, WIRE_FETCH, NULL, NULL, 0, &res)) != 0)
		return rc;
	rc = wire_messages(c->err, res->fetch, msgs, n);
	types__response__free_unpacked(res, NULL);
	return rc;
}

void
nym_messages_free(struct nym_message *msgs)
{
	free(msgs);
}

int
nym_clients(struct nym_client *c, struct nym_client_config **list, size_t *n)
{
	Types__Response *res;
	int rc;

	if (c == NULL || list == NULL || n == NULL)
		return NYM_ERR_INVALID;
	*list = NULL;
	*n = 0;
	if ((rc = client_call(c, WIRE_CLIENTS, NULL, NULL, 0, &res)) != 0)
		return rc;
	rc = wire_clients(c->err, res->clients, list, n);
	types__response__free_unpacked(res, NULL);
	return rc;
}

void
nym_clients_free(struct nym_client_config *list)
{
	free(list);
}

int
nym_details(struct nym_client *c, struct nym_client_config *out)
{
	Types__Response *res;
	int rc;

	if (c == NULL || out == NULL)
		return NYM_ERR_INVALID;
	if ((rc = client_call(c, WIRE_DETAILS, NULL, NULL, 0, &res)) != 0)
		return rc;
	rc = wire_details(c->err, res->details, out);
	types__response__free_unpacked(res, NULL);
	return rc;
}

int
nym_flush(struct nym_client *c)
{
	Types__Response *res;
	int rc;

	if (c == NULL)
		return NYM_ERR_INVALID;
	if ((rc = client_call(c, WIRE_FLUSH, NULL, NULL, 0, &res)) != 0)
		return rc;
	types__response__free_unpacked(res, NULL);
	return 0;
}

int
nym_max_message_size(struct nym_client *c, size_t *bytes)
{
	Types__Response *res;
	int rc;

	if (c == NULL || bytes == NULL)
		return NYM_ERR_INVALID;
	*bytes = 0;
	if ((rc = client_call(c, WIRE_LIMITS, NULL, NULL, 0, &res)) != 0)
		return rc;
	if (res->limits == NULL || res->limits->max_message_bytes == 0 ||
	    res->limits->max_message_bytes > NYM_MAX_REQUEST_BYTES)
		rc = wire_error(c->err, NYM_ERR_PROTOCOL,
		    "nymd's limits name no usable message size");
	else
		*bytes = (size_t)res->limits->max_message_bytes;
	types__response__free_unpacked(res, NULL);
	return rc;
}

static int
client_subscribe(struct nym_client *c)
{
	Types__Response *res;
	int rc;

	if (c->subscribed)
		return 0;
	if ((rc = client_call(c, WIRE_SUBSCRIBE, NULL, NULL, 0, &res)) != 0)
		return rc;
	types__response__free_unpacked(res, NULL);
	c->subscribed = 1;
	return 0;
}

static long
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 once a frame starts to arrive, 0 at the deadline, or an error. */
static int
client_readable(struct nym_client *c, int timeout_ms, long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int wait, n;

	for (;;) {
		wait = timeout_ms < 0 ? -1 : (int)(deadline - client_now_ms());
		if (timeout_ms >= 0 && wait < 0)
			wait = 0;
		if ((n = poll(&pfd, 1, wait)) > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return client_io_error(c, "poll", errno);
	}
}

/* Pushes only: nothing was asked, so an answer is a protocol error. */
static int
client_read_push(struct nym_client *c)
{
	Types__Response *res = NULL;
	uint8_t *body;
	size_t body_len;
	int rc;

	if ((rc = client_read_frame(c, &body, &body_len)) != 0)
		return rc;
	rc = wire_unpack(c->err, WIRE_SUBSCRIBE, body, body_len, &res);
	free(body);
	if (rc == WIRE_PUSHED) {
		rc = client_stash(c, res);
		types__response__free_unpacked(res, NULL);
		return rc;
	}
	if (res != NULL)
		types__response__free_unpacked(res, NULL);
	c->broken = 1;
	return wire_error(c->err, NYM_ERR_PROTOCOL, "nymd answered a request never made");
}

int
nym_wait_message(struct nym_client *c, int timeout_ms, struct nym_message **msg)
{
	long deadline = client_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	if (c == NULL || msg == NULL)
		return NYM_ERR_INVALID;
	*msg = NULL;
	if ((rc = client_subscribe(c)) != 0)
		return rc;
	while (c->pushed == NULL) {
		if (c->broken)
			return wire_error(c->err, NYM_ERR_IO,
			    "the connection was lost after an earlier error");
		if ((rc = client_readable(c, timeout_ms, deadline)) < 0)
			return rc;
		if (rc == 0)
			return wire_error(c->err, NYM_ERR_TIMEOUT,
			    "no message within %d ms", timeout_ms);
		if ((rc = client_read_push(c)) != 0)
			return rc;
	}
	struct client_pushed *p = c->pushed;
	if ((c->pushed = p->next) == NULL)
		c->pushed_tail = &c->pushed;
	*msg = p->msg;
	free(p);
	return 0;
}

const char *
nym_last_error(const struct nym_client *c)
{
	const char *e = c != NULL ? c->err : client_connect_err;

	return e[0] != '\0' ? e : "no error";
}

const char *
nym_version(void)
{
	return PACKAGE_VERSION;
}

const char *
nym_strerror(int err)
{
	switch (err) {
	case NYM_OK:		return "success";
	case NYM_ERR_IO:	return "input/output error on the connection to nymd";
	case NYM_ERR_CONNECT:	return "cannot connect to nymd";
	case NYM_ERR_PROTOCOL:	return "nymd's answer breaks the protocol";
	case NYM_ERR_REMOTE:	return "nymd answered with an exception";
	case NYM_ERR_NOMEM:	return "out of memory";
	case NYM_ERR_INVALID:	return "invalid argument";
	case NYM_ERR_NOT_FOUND:	return "no such client";
	case NYM_ERR_START:	return "nymd could not be started";
	case NYM_ERR_TIMEOUT:	return "nymd did not answer in time";
	case NYM_ERR_CANCELED:	return "request canceled";
	default:		return "unknown libnym error";
	}
}

void
nym_id_from_key(char *out, const uint8_t key[NYM_KEY_BYTES])
{
	b64_encode(out, key, NYM_KEY_BYTES, B64_URLSAFE);
}

int
nym_key_from_id(uint8_t key[NYM_KEY_BYTES], const char *id)
{
	if (id == NULL || strlen(id) != NYM_ID_CHARS ||
	    b64_decode_key(key, id, B64_URLSAFE) != 0)
		return NYM_ERR_INVALID;
	return 0;
}

/*
 * Reply blocks (docs/replies.md): requests libnym's wire kinds do not
 * have. client_call_request() is client_call() for a Request made here.
 */
static int
client_call_request(struct nym_client *c, const Types__Request *req, int kind,
    Types__Response **res)
{
	uint8_t *frame;
	size_t len = types__request__get_packed_size(req);
	int rc, n;

	if (c->broken)
		return wire_error(c->err, NYM_ERR_IO,
		    "the connection was lost after an earlier error");
	if (len > NYM_MAX_REQUEST_BYTES)
		return wire_error(c->err, NYM_ERR_INVALID,
		    "request of %zu bytes is larger than nymd's limit of %d bytes",
		    len, NYM_MAX_REQUEST_BYTES);
	if ((frame = malloc(FRAME_VARINT_MAX_BYTES + len)) == NULL)
		return wire_error(c->err, NYM_ERR_NOMEM, "out of memory");
	n = (int)frame_put_varint(frame, (int64_t)len);
	types__request__pack(req, frame + n);
	rc = client_write(c, frame, (size_t)n + len);
	free(frame);
	if (rc != 0)
		return rc;
	/* Pushed messages met on the way are kept, as for every request. */
	return client_answer(c, (enum wire_kind)kind, res);
}

int
nym_send_with_replies(struct nym_client *c, const struct nym_client_config *rcpt,
    const void *msg, size_t len, unsigned int reply_surbs)
{
	return client_send(c, rcpt, msg, len, reply_surbs, NULL);
}

int
nym_send_id_with_replies(struct nym_client *c, const char *id, const void *msg,
    size_t len, unsigned int reply_surbs)
{
	return client_send_id(c, id, msg, len, reply_surbs, NULL);
}

int
nym_reply_message(struct nym_client *c, const uint8_t tag[NYM_TAG_BYTES],
    const void *msg, size_t len, uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	Types__Request req = TYPES__REQUEST__INIT;
	Types__RequestReply rr = TYPES__REQUEST_REPLY__INIT;
	Types__Response *res;
	int rc;

	if (c == NULL || tag == NULL || (msg == NULL && len > 0))
		return NYM_ERR_INVALID;
	rr.sender_tag.data = (uint8_t *)(uintptr_t)tag;
	rr.sender_tag.len = NYM_TAG_BYTES;
	rr.message.data = (uint8_t *)(uintptr_t)msg;
	rr.message.len = len;
	req.value_case = TYPES__REQUEST__VALUE_REPLY;
	req.reply = &rr;
	if ((rc = client_call_request(c, &req, WIRE_REPLY, &res)) != 0)
		return rc;
	if (id != NULL)
		rc = wire_message_id(c->err, res->reply, id);
	types__response__free_unpacked(res, NULL);
	return rc;
}

int
nym_reply(struct nym_client *c, const uint8_t tag[NYM_TAG_BYTES], const void *msg,
    size_t len)
{
	return nym_reply_message(c, tag, msg, len, NULL);
}

/* The received list, or the messages list of an older nymd. */
static int
client_received(struct nym_client *c, const Types__ResponseFetchMessages *fm,
    struct nym_received **out, size_t *n)
{
	size_t count = fm == NULL ? 0 : fm->n_received ? fm->n_received : fm->n_messages;
	size_t total = 0;

	for (size_t i = 0; i < count; i++) {
		size_t len = fm->n_received ? fm->received[i]->message.len :
		    fm->messages[i].len;
		if (len > NYM_MAX_RESPONSE_BYTES)
			return wire_error(c->err, NYM_ERR_PROTOCOL, "message too large");
		total += len + 1;
	}
	if (count == 0)
		return 0;
	struct nym_received *m = calloc(1, count * sizeof(*m) + total);
	if (m == NULL)
		return wire_error(c->err, NYM_ERR_NOMEM, "out of memory");
	uint8_t *p = (uint8_t *)(m + count);
	for (size_t i = 0; i < count; i++) {
		const ProtobufCBinaryData *b = fm->n_received ?
		    &fm->received[i]->message : &fm->messages[i];
		m[i].data = p;
		m[i].len = b->len;
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		p[b->len] = '\0';
		p += b->len + 1;
		if (fm->n_received == 0)
			continue;
		if ((m[i].has_tag = fm->received[i]->sender_tag.len == NYM_TAG_BYTES))
			memcpy(m[i].tag, fm->received[i]->sender_tag.data, NYM_TAG_BYTES);
		if ((m[i].has_id = fm->received[i]->message_id.len == NYM_MESSAGE_ID_BYTES))
			memcpy(m[i].id, fm->received[i]->message_id.data, NYM_MESSAGE_ID_BYTES);
	}
	*out = m;
	*n = count;
	return 0;
}

int
nym_fetch_received(struct nym_client *c, struct nym_received **msgs, size_t *n)
{
	Types__Response *res;
	int rc;

	if (c == NULL || msgs == NULL || n == NULL)
		return NYM_ERR_INVALID;
	*msgs = NULL;
	*n = 0;
	if ((rc = client_call(c, WIRE_FETCH, NULL, NULL, 0, &res)) != 0)
		return rc;
	rc = client_received(c, res->fetch, msgs, n);
	types__response__free_unpacked(res, NULL);
	return rc;
}

void
nym_received_free(struct nym_received *msgs)
{
	free(msgs);
}

int
nym_send_message(struct nym_client *c, const struct nym_client_config *rcpt,
    const char *rcpt_id, const void *msg, size_t len, unsigned int reply_surbs,
    uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	if (c == NULL)
		return NYM_ERR_INVALID;
	if (id != NULL)
		memset(id, 0, NYM_MESSAGE_ID_BYTES);
	if (rcpt != NULL)
		return client_send(c, rcpt, msg, len, reply_surbs, id);
	if (rcpt_id == NULL)
		return wire_error(c->err, NYM_ERR_INVALID, "send: no recipient");
	return client_send_id(c, rcpt_id, msg, len, reply_surbs, id);
}

int
nym_status(struct nym_client *c, const uint8_t id[NYM_MESSAGE_ID_BYTES],
    struct nym_message_status *out)
{
	Types__Response *res;
	int rc;

	if (c == NULL || id == NULL || out == NULL)
		return NYM_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if ((rc = client_call(c, WIRE_STATUS, NULL, id, NYM_MESSAGE_ID_BYTES, &res)) != 0)
		return rc;
	rc = wire_status(c->err, res->status, out);
	types__response__free_unpacked(res, NULL);
	return rc;
}

const char *
nym_message_state_name(int state)
{
	switch (state) {
	case NYM_MESSAGE_QUEUED:	return "queued";
	case NYM_MESSAGE_SENDING:	return "sending";
	case NYM_MESSAGE_DELIVERED:	return "delivered";
	case NYM_MESSAGE_FAILED:	return "failed";
	case NYM_MESSAGE_SENT:		return "sent";
	default:			return "unknown";
	}
}

/*
 * nymd links (docs/link.md): the Noise IK handshake of noise.c and the
 * frame format below, over a bufferevent on a connected TCP socket.
 *
 * Re-entrancy: every libevent callback of a link counts itself in `depth`;
 * link_free() inside a user callback only tears the I/O down and marks the
 * link dead, and the outermost callback frees it on the way out. Errors
 * found inside a link_send_*() call are reported from the event loop
 * through the work event, so that no user callback runs inside a link_*()
 * call.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <sodium.h>

#include "common/link.h"
#include "common/regstmt.h"
#include "common/secret.h"

enum link_state {
	LINK_S_START,		/* initiator: message 1 still to write */
	LINK_S_WRITE_DH,	/* initiator: writing message 1, DH pending */
	LINK_S_READ,		/* waiting for the peer's handshake message */
	LINK_S_READ_DH,		/* reading it, DH pending */
	LINK_S_ACCEPT_WAIT,	/* responder: message 1 read, accept_peer() pending */
	LINK_S_OPEN,		/* established */
	LINK_S_CLOSED
};

/* Everything secret, in sodium_malloc'ed memory (guarded, locked). */
struct link_secrets {
	struct noise_hs		hs;
	struct noise_cipher	tx;
	struct noise_cipher	rx;
	uint8_t			dh_result[LINK_KEY_BYTES];
	uint8_t			msg[LINK_MSG1_BYTES];
	size_t			msg_len;
};

struct link {
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*ev_work;
	struct event		*ev_timeout;
	struct link_callbacks	 cb;
	void			*arg;
	struct link_secrets	*sec;
	uint8_t			*rxbuf;
	int			 fd;
	size_t			 packet_bytes;
	size_t			 max_msg;
	size_t			 out_max;
	uint64_t		 rekey_interval;
	unsigned		 timeout_ms;
	enum noise_role		 role;
	enum link_state		 state;
	uint8_t			 peer[LINK_KEY_BYTES];
	uint8_t			 hash[NOISE_HASH_BYTES];
	int			 dh_outstanding;
	int			 dh_answer;	/* 0 none, 1 in sec, -1 failed */
	int			 accept_answer;	/* 0 none, 1 accepted, -1 refused */
	int			 blocked;	/* a send got LINK_ERR_BUSY */
	int			 shutting_down;
	int			 paused;
	int			 pending_reason;
	int			 saved_errno;
	int			 depth;
	int			 dead;
};

static void	link_input(struct link *);

/* ---- the wire format, pure functions ---- */

size_t
link_max_message(size_t packet_bytes)
{
	size_t data = LINK_TYPE_BYTES + LINK_ID_BYTES + packet_bytes;
	size_t ctl = LINK_TYPE_BYTES + LINK_MAX_CONTROL_BYTES;

	return (data > ctl ? data : ctl) + NOISE_TAG_BYTES;
}

int
link_message_length(const uint8_t hdr[LINK_LEN_BYTES], size_t min, size_t max,
    size_t *len)
{
	size_t n = ((size_t)hdr[0] << 8) | hdr[1];

	if (n < min || n > max)
		return LINK_ERR_FRAME_SIZE;
	*len = n;
	return LINK_OK;
}

static uint64_t
link_interval(uint64_t interval)
{
	return interval == 0 ? LINK_REKEY_INTERVAL_MSGS : interval;
}

/* Both ends rekey a direction before its message number n, n % interval == 0. */
static int
link_rekey_due(const struct noise_cipher *cs, uint64_t interval)
{
	return cs->n > 0 && cs->n % link_interval(interval) == 0;
}

int
link_open(struct noise_cipher *cs, uint64_t rekey_interval, uint8_t *msg,
    size_t len, size_t *plain_len)
{
	struct noise_cipher c;
	int r;

	if (len < NOISE_TAG_BYTES || len > LINK_MAX_WIRE_BYTES)
		return LINK_ERR_FRAME_SIZE;
	/* Work on a copy: a forged frame must not advance the key. */
	c = *cs;
	if (link_rekey_due(&c, rekey_interval))
		noise_cipher_rekey(&c);
	r = noise_cipher_decrypt(&c, NULL, 0, msg, len, msg);
	if (r == NOISE_OK) {
		*cs = c;
		*plain_len = len - NOISE_TAG_BYTES;
	}
	noise_cipher_wipe(&c);
	if (r == NOISE_ERR_NONCE)
		return LINK_ERR_NONCE;
	return r == NOISE_OK ? LINK_OK : LINK_ERR_DECRYPT;
}

int
link_seal(struct noise_cipher *cs, uint64_t rekey_interval, uint8_t *buf,
    size_t plain_len)
{
	if (plain_len > LINK_MAX_WIRE_BYTES - NOISE_TAG_BYTES)
		return LINK_ERR_FRAME_SIZE;
	if (cs->n == UINT64_MAX)
		return LINK_ERR_NONCE;
	if (link_rekey_due(cs, rekey_interval))
		noise_cipher_rekey(cs);
	if (noise_cipher_encrypt(cs, NULL, 0, buf, plain_len, buf) != NOISE_OK)
		return LINK_ERR_NONCE;
	return LINK_OK;
}

/* No control characters: the text is meant for logs. */
static int
link_text_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 1;
	n = strlen(s);
	if (n > LINK_MAX_ERROR_TEXT_BYTES)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int
link_token_ok(const ProtobufCBinaryData *t)
{
	return t->len >= 1 && t->len <= LINK_MAX_TOKEN_BYTES && t->data != NULL;
}

int
link_control_check(const Link__Control *c)
{
	int ok = 0;

	if (c == NULL)
		return LINK_ERR_CONTROL;
	switch (c->msg_case) {
	case LINK__CONTROL__MSG_REGISTER:
		ok = c->register_ != NULL &&
		    c->register_->registered_ms <= INT64_MAX &&
		    (c->register_->signature.len == 0 ||
		    c->register_->signature.len == REGSTMT_SIG_BYTES);
		break;
	case LINK__CONTROL__MSG_REGISTER_OK:
		ok = c->register_ok != NULL && link_token_ok(&c->register_ok->token);
		break;
	case LINK__CONTROL__MSG_PULL:
		ok = c->pull != NULL && link_token_ok(&c->pull->token) &&
		    c->pull->max >= 1 && c->pull->max <= LINK_MAX_PULL;
		break;
	case LINK__CONTROL__MSG_PULL_REPLY:
		ok = c->pull_reply != NULL &&
		    c->pull_reply->count <= LINK_MAX_PULL;
		break;
	case LINK__CONTROL__MSG_ACK:
		/* 1..256 ids in all, deleted or released. */
		ok = c->ack != NULL &&
		    c->ack->n_ids + c->ack->n_release >= 1 &&
		    c->ack->n_ids + c->ack->n_release <= LINK_MAX_ACK_IDS &&
		    (c->ack->n_ids == 0 || c->ack->ids != NULL) &&
		    (c->ack->n_release == 0 || c->ack->release != NULL);
		break;
	case LINK__CONTROL__MSG_ACK_OK:
		ok = c->ack_ok != NULL && c->ack_ok->count <= LINK_MAX_ACK_IDS;
		break;
	case LINK__CONTROL__MSG_ERROR:
		ok = c->error != NULL && link_text_ok(c->error->text);
		break;
	case LINK__CONTROL__MSG_PING:
		ok = c->ping != NULL;
		break;
	case LINK__CONTROL__MSG_PONG:
		ok = c->pong != NULL;
		break;
	default:
		ok = 0;
		break;
	}
	return ok ? LINK_OK : LINK_ERR_CONTROL;
}

int
link_frame_parse(const uint8_t *plain, size_t len, size_t packet_bytes,
    struct link_frame *f)
{
	const uint8_t *body;
	size_t body_len;
	Link__Control *c;

	memset(f, 0, sizeof(*f));
	if (plain == NULL || len < LINK_TYPE_BYTES)
		return LINK_ERR_FRAME_SIZE;
	body = plain + LINK_TYPE_BYTES;
	body_len = len - LINK_TYPE_BYTES;
	switch (plain[0]) {
	case LINK_FRAME_PACKET:
		if (body_len != packet_bytes)
			return LINK_ERR_PACKET_SIZE;
		f->type = LINK_FRAME_PACKET;
		f->packet = body;
		f->packet_len = body_len;
		return LINK_OK;
	case LINK_FRAME_DELIVERY:
		if (body_len != LINK_ID_BYTES + packet_bytes)
			return LINK_ERR_PACKET_SIZE;
		f->type = LINK_FRAME_DELIVERY;
		for (int i = 0; i < LINK_ID_BYTES; i++)
			f->id = (f->id << 8) | body[i];
		f->packet = body + LINK_ID_BYTES;
		f->packet_len = packet_bytes;
		return LINK_OK;
	case LINK_FRAME_CONTROL:
		if (body_len == 0 || body_len > LINK_MAX_CONTROL_BYTES)
			return LINK_ERR_CONTROL;
		c = link__control__unpack(NULL, body_len, body);
		if (c == NULL)
			return LINK_ERR_CONTROL;
		if (link_control_check(c) != LINK_OK) {
			link__control__free_unpacked(c, NULL);
			return LINK_ERR_CONTROL;
		}
		f->type = LINK_FRAME_CONTROL;
		f->control = c;
		return LINK_OK;
	default:
		return LINK_ERR_FRAME_TYPE;
	}
}

void
link_frame_clear(struct link_frame *f)
{
	if (f->control != NULL)
		link__control__free_unpacked(f->control, NULL);
	memset(f, 0, sizeof(*f));
}

void
link_hello_write(uint8_t out[LINK_HELLO_BYTES], size_t packet_bytes)
{
	uint32_t v = (uint32_t)packet_bytes;

	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

int
link_hello_check(const uint8_t *hello, size_t len, size_t packet_bytes)
{
	uint8_t ours[LINK_HELLO_BYTES];

	if (hello == NULL || len != LINK_HELLO_BYTES)
		return LINK_ERR_GEOMETRY;
	link_hello_write(ours, packet_bytes);
	return memcmp(hello, ours, sizeof(ours)) == 0 ? LINK_OK :
	    LINK_ERR_GEOMETRY;
}

const char *
link_strerror(int e)
{
	switch (e) {
	case LINK_OK:			return "no error";
	case LINK_ERR_ARG:		return "invalid argument";
	case LINK_ERR_STATE:		return "link not open";
	case LINK_ERR_BUSY:		return "output buffer full";
	case LINK_ERR_NOMEM:		return "out of memory";
	case LINK_ERR_IO:		return "socket error";
	case LINK_ERR_EOF:		return "peer closed the connection";
	case LINK_ERR_TRUNCATED:	return "peer closed inside a message";
	case LINK_ERR_TIMEOUT:		return "handshake timed out";
	case LINK_ERR_HANDSHAKE:	return "handshake failed";
	case LINK_ERR_DH:		return "key agreement failed";
	case LINK_ERR_PEER_REJECTED:	return "peer key not accepted";
	case LINK_ERR_GEOMETRY:		return "peer uses another packet size";
	case LINK_ERR_FRAME_SIZE:	return "frame length out of bounds";
	case LINK_ERR_DECRYPT:		return "frame failed authentication";
	case LINK_ERR_FRAME_TYPE:	return "unknown frame type";
	case LINK_ERR_PACKET_SIZE:	return "packet of the wrong size";
	case LINK_ERR_CONTROL:		return "malformed control message";
	case LINK_ERR_NONCE:		return "nonces exhausted";
	case LINK_ERR_CLOSED:		return "closed locally";
	default:			return "unknown link error";
	}
}

/* ---- the link ---- */

static void
link_teardown(struct link *l)
{
	if (l->bev != NULL) {
		bufferevent_free(l->bev);
		l->bev = NULL;
		close(l->fd);
		l->fd = -1;
	}
	if (l->ev_timeout != NULL)
		event_del(l->ev_timeout);
	if (l->ev_work != NULL)
		event_del(l->ev_work);
	l->state = LINK_S_CLOSED;
}

static void
link_destroy(struct link *l)
{
	link_teardown(l);
	if (l->ev_work != NULL)
		event_free(l->ev_work);
	if (l->ev_timeout != NULL)
		event_free(l->ev_timeout);
	if (l->sec != NULL)
		sodium_free(l->sec);	/* wipes */
	free(l->rxbuf);
	sodium_memzero(l, sizeof(*l));
	free(l);
}

/* Entering and leaving a libevent callback. */
static void
link_enter(struct link *l)
{
	l->depth++;
}

static void
link_leave(struct link *l)
{
	if (--l->depth == 0 && l->dead)
		link_destroy(l);
}

static int
link_gone(const struct link *l)
{
	return l->dead || l->state == LINK_S_CLOSED;
}

static void
link_fail(struct link *l, int reason)
{
	if (link_gone(l))
		return;
	link_teardown(l);
	noise_hs_wipe(&l->sec->hs);
	noise_cipher_wipe(&l->sec->tx);
	noise_cipher_wipe(&l->sec->rx);
	if (l->cb.closed != NULL)
		l->cb.closed(l, l->arg, reason);
}

/* Errors noticed outside a callback are delivered from the work event. */
static void
link_defer_fail(struct link *l, int reason)
{
	if (l->pending_reason == 0)
		l->pending_reason = reason;
	event_active(l->ev_work, EV_TIMEOUT, 0);
}

static int
link_noise_dh(void *arg, uint8_t out[LINK_KEY_BYTES],
    const uint8_t peer[LINK_KEY_BYTES])
{
	struct link *l = arg;
	int r;

	l->dh_outstanding = 1;
	l->dh_answer = 0;
	r = l->cb.dh(l, l->arg, out, peer);
	if (link_gone(l))
		return -1;
	if (r == LINK_DH_PENDING)
		return NOISE_DH_PENDING;
	l->dh_outstanding = 0;
	return r == 0 ? 0 : -1;
}

static int
link_noise_reason(int r)
{
	return r == NOISE_ERR_DH ? LINK_ERR_DH : LINK_ERR_HANDSHAKE;
}

static void
link_write_handshake(struct link *l, const uint8_t *msg, size_t len)
{
	uint8_t hdr[LINK_LEN_BYTES] = { (uint8_t)(len >> 8), (uint8_t)len };

	if (bufferevent_write(l->bev, hdr, sizeof(hdr)) != 0 ||
	    bufferevent_write(l->bev, msg, len) != 0)
		link_fail(l, LINK_ERR_NOMEM);
}

static void
link_hs_write1(struct link *l)
{
	uint8_t hello[LINK_HELLO_BYTES];
	size_t n;
	int r;

	link_hello_write(hello, l->packet_bytes);
	r = noise_hs_write(&l->sec->hs, hello, sizeof(hello), l->sec->msg,
	    sizeof(l->sec->msg), &n);
	if (link_gone(l))
		return;
	if (r == NOISE_WANT_DH) {
		l->state = LINK_S_WRITE_DH;
		return;
	}
	if (r != NOISE_OK) {
		link_fail(l, link_noise_reason(r));
		return;
	}
	l->state = LINK_S_READ;
	link_write_handshake(l, l->sec->msg, n);
}

static void
link_established(struct link *l)
{
	if (noise_hs_split(&l->sec->hs, &l->sec->tx, &l->sec->rx,
	    l->hash) != NOISE_OK) {
		link_fail(l, LINK_ERR_HANDSHAKE);
		return;
	}
	l->state = LINK_S_OPEN;
	event_del(l->ev_timeout);
	if (l->cb.established != NULL)
		l->cb.established(l, l->arg, l->peer);
}

/* Responder, the initiator accepted: message 2, and the link is up. */
static void
link_hs_respond(struct link *l)
{
	uint8_t hello[LINK_HELLO_BYTES];
	size_t n;
	int r;

	link_hello_write(hello, l->packet_bytes);
	/* Message 2 uses only our ephemeral key: it never waits. */
	r = noise_hs_write(&l->sec->hs, hello, sizeof(hello), l->sec->msg,
	    sizeof(l->sec->msg), &n);
	if (r != NOISE_OK) {
		link_fail(l, link_noise_reason(r));
		return;
	}
	l->state = LINK_S_READ;
	link_write_handshake(l, l->sec->msg, n);
	if (link_gone(l))
		return;
	link_established(l);
}

/* The peer's handshake message is in sec->msg. */
static void
link_hs_read(struct link *l)
{
	uint8_t hello[LINK_HELLO_BYTES];
	const uint8_t *rs;
	size_t hlen;
	int r;

	r = noise_hs_read(&l->sec->hs, l->sec->msg, l->sec->msg_len, hello,
	    sizeof(hello), &hlen);
	if (link_gone(l))
		return;
	if (r == NOISE_WANT_DH) {
		l->state = LINK_S_READ_DH;
		return;
	}
	if (r != NOISE_OK) {
		link_fail(l, link_noise_reason(r));
		return;
	}
	l->state = LINK_S_READ;
	if (link_hello_check(hello, hlen, l->packet_bytes) != LINK_OK) {
		link_fail(l, LINK_ERR_GEOMETRY);
		return;
	}
	if ((rs = noise_hs_remote_static(&l->sec->hs)) == NULL) {
		link_fail(l, LINK_ERR_HANDSHAKE);
		return;
	}
	memcpy(l->peer, rs, LINK_KEY_BYTES);
	if (l->role == NOISE_INITIATOR) {
		link_established(l);
		return;
	}
	/* The initiator's key is authenticated once message 1 is read. */
	r = l->cb.accept_peer != NULL ? l->cb.accept_peer(l, l->arg, l->peer) : 0;
	if (link_gone(l))
		return;
	if (r == LINK_ACCEPT_PENDING) {
		/* Nothing more is read until link_accept_result(); the
		 * handshake timeout still runs. */
		l->state = LINK_S_ACCEPT_WAIT;
		return;
	}
	if (r != 0) {
		link_fail(l, LINK_ERR_PEER_REJECTED);
		return;
	}
	link_hs_respond(l);
}

/* Takes the answer to a pending accept_peer(). */
static void
link_take_accept(struct link *l)
{
	if (l->accept_answer == 0)
		return;
	if (l->accept_answer < 0) {
		link_fail(l, LINK_ERR_PEER_REJECTED);
		return;
	}
	link_hs_respond(l);
}

/* Takes the answer to a pending DH: 1 to continue. */
static int
link_take_dh(struct link *l)
{
	int r;

	if (l->dh_answer == 0)
		return 0;
	if (l->dh_answer < 0) {
		link_fail(l, LINK_ERR_DH);
		return 0;
	}
	r = noise_hs_dh_result(&l->sec->hs, l->sec->dh_result);
	sodium_memzero(l->sec->dh_result, sizeof(l->sec->dh_result));
	l->dh_answer = 0;
	l->dh_outstanding = 0;
	if (r != NOISE_OK) {
		link_fail(l, link_noise_reason(r));
		return 0;
	}
	return 1;
}

static void
link_pong(struct link *l, uint64_t nonce)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Pong p = LINK__PONG__INIT;

	p.nonce = nonce;
	c.msg_case = LINK__CONTROL__MSG_PONG;
	c.pong = &p;
	/* Best effort: a full output buffer drops the pong. */
	(void)link_send_control(l, &c);
}

static void
link_frame_in(struct link *l, uint8_t *msg, size_t len)
{
	struct link_frame f;
	size_t plain_len;
	int r;

	r = link_open(&l->sec->rx, l->rekey_interval, msg, len, &plain_len);
	if (r != LINK_OK) {
		link_fail(l, r);
		return;
	}
	r = link_frame_parse(msg, plain_len, l->packet_bytes, &f);
	if (r != LINK_OK) {
		link_fail(l, r);
		return;
	}
	switch (f.type) {
	case LINK_FRAME_PACKET:
		if (l->cb.packet != NULL)
			l->cb.packet(l, l->arg, f.packet, f.packet_len);
		break;
	case LINK_FRAME_DELIVERY:
		if (l->cb.delivery != NULL)
			l->cb.delivery(l, l->arg, f.id, f.packet, f.packet_len);
		break;
	case LINK_FRAME_CONTROL:
		if (f.control->msg_case == LINK__CONTROL__MSG_PING)
			link_pong(l, f.control->ping->nonce);
		else if (l->cb.control != NULL)
			l->cb.control(l, l->arg, f.control);
		break;
	}
	link_frame_clear(&f);
}

/* Processes every complete message in the input buffer. */
static void
link_input(struct link *l)
{
	struct evbuffer *in;
	uint8_t hdr[LINK_LEN_BYTES];
	size_t len, min, max;
	int r;

	while ((l->state == LINK_S_READ || l->state == LINK_S_OPEN) &&
	    !l->dead && !l->shutting_down && !l->paused) {
		in = bufferevent_get_input(l->bev);
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
			return;
		if (l->state == LINK_S_READ) {
			/* Handshake messages have exactly one size each. */
			min = max = l->role == NOISE_RESPONDER ?
			    LINK_MSG1_BYTES : LINK_MSG2_BYTES;
		} else {
			min = NOISE_TAG_BYTES + LINK_TYPE_BYTES;
			max = l->max_msg;
		}
		r = link_message_length(hdr, min, max, &len);
		if (r != LINK_OK) {
			link_fail(l, l->state == LINK_S_READ ?
			    LINK_ERR_HANDSHAKE : LINK_ERR_FRAME_SIZE);
			return;
		}
		if (evbuffer_get_length(in) < sizeof(hdr) + len)
			return;
		evbuffer_drain(in, sizeof(hdr));
		if (l->state == LINK_S_READ) {
			if (evbuffer_remove(in, l->sec->msg, len) != (int)len) {
				link_fail(l, LINK_ERR_NOMEM);
				return;
			}
			l->sec->msg_len = len;
			link_hs_read(l);
		} else {
			if (evbuffer_remove(in, l->rxbuf, len) != (int)len) {
				link_fail(l, LINK_ERR_NOMEM);
				return;
			}
			link_frame_in(l, l->rxbuf, len);
		}
	}
}

static void
link_check_flushed(struct link *l)
{
	if (l->shutting_down && !link_gone(l) &&
	    evbuffer_get_length(bufferevent_get_output(l->bev)) == 0)
		link_fail(l, LINK_ERR_CLOSED);
}

static void
link_work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	link_enter(l);
	if (link_gone(l))
		goto out;
	if (l->pending_reason != 0) {
		link_fail(l, l->pending_reason);
		goto out;
	}
	switch (l->state) {
	case LINK_S_START:
		link_hs_write1(l);
		break;
	case LINK_S_WRITE_DH:
		if (link_take_dh(l))
			link_hs_write1(l);
		break;
	case LINK_S_READ_DH:
		if (link_take_dh(l))
			link_hs_read(l);
		break;
	case LINK_S_ACCEPT_WAIT:
		link_take_accept(l);
		break;
	default:
		break;
	}
	link_check_flushed(l);
	/* Messages that arrived while the handshake waited. */
	if (!link_gone(l))
		link_input(l);
out:
	link_leave(l);
}

static void
link_read_cb(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	link_enter(l);
	link_input(l);
	link_leave(l);
}

static void
link_write_cb(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	link_enter(l);
	link_check_flushed(l);
	if (!link_gone(l) && l->blocked && l->state == LINK_S_OPEN) {
		l->blocked = 0;
		if (l->cb.drained != NULL)
			l->cb.drained(l, l->arg);
	}
	link_leave(l);
}

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct link *l = arg;
	size_t left;

	link_enter(l);
	if (what & BEV_EVENT_ERROR) {
		l->saved_errno = EVUTIL_SOCKET_ERROR();
		link_fail(l, LINK_ERR_IO);
	} else if (what & BEV_EVENT_EOF) {
		/* Whatever is left is an incomplete message. */
		left = evbuffer_get_length(bufferevent_get_input(bev));
		if (left > 0 && (l->state == LINK_S_READ ||
		    l->state == LINK_S_OPEN) && !l->shutting_down)
			link_fail(l, LINK_ERR_TRUNCATED);
		else
			link_fail(l, LINK_ERR_EOF);
	}
	link_leave(l);
}

static void
link_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	link_enter(l);
	if (!link_gone(l) && l->state != LINK_S_OPEN)
		link_fail(l, LINK_ERR_TIMEOUT);
	link_leave(l);
}

static int
link_new(struct link **out, struct event_base *base, int fd,
    const struct link_config *cfg, enum noise_role role,
    const uint8_t *peer_pub, const struct link_callbacks *cb, void *arg)
{
	struct noise_keys keys;
	struct link *l;
	struct timeval tv;
	int one = 1;

	if (out == NULL || base == NULL || fd < 0 || cfg == NULL || cb == NULL ||
	    cfg->our_pub == NULL || cfg->packet_bytes == 0 ||
	    cfg->packet_bytes > LINK_MAX_PACKET_BYTES ||
	    (cfg->our_priv == NULL && cb->dh == NULL))
		return LINK_ERR_ARG;
	*out = NULL;
	if (sodium_init() < 0)
		return LINK_ERR_NOMEM;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return LINK_ERR_NOMEM;
	l->base = base;
	l->fd = fd;
	l->cb = *cb;
	l->arg = arg;
	l->role = role;
	l->packet_bytes = cfg->packet_bytes;
	l->max_msg = link_max_message(cfg->packet_bytes);
	l->out_max = cfg->out_max_bytes ? cfg->out_max_bytes : LINK_OUT_MAX_BYTES;
	/* Room for at least one message, or every send would be refused. */
	if (l->out_max < LINK_LEN_BYTES + l->max_msg)
		l->out_max = LINK_LEN_BYTES + l->max_msg;
	l->rekey_interval = link_interval(cfg->rekey_interval);
	l->timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms :
	    LINK_HANDSHAKE_TIMEOUT_MS;
	l->state = role == NOISE_INITIATOR ? LINK_S_START : LINK_S_READ;

	if ((l->sec = secret_alloc(sizeof(*l->sec))) == NULL ||
	    (l->rxbuf = malloc(l->max_msg)) == NULL ||
	    (l->ev_work = event_new(base, -1, 0, link_work_cb, l)) == NULL ||
	    (l->ev_timeout = evtimer_new(base, link_timeout_cb, l)) == NULL)
		goto fail;
	memset(l->sec, 0, sizeof(*l->sec));

	memset(&keys, 0, sizeof(keys));
	keys.s_pub = cfg->our_pub;
	keys.s_priv = cfg->our_priv;
	keys.dh = link_noise_dh;
	keys.dh_arg = l;
	keys.rs = peer_pub;
	if (noise_hs_init(&l->sec->hs, role, (const uint8_t *)LINK_PROLOGUE,
	    sizeof(LINK_PROLOGUE) - 1, &keys) != NOISE_OK) {
		link_destroy(l);
		return LINK_ERR_ARG;
	}
	if (role == NOISE_INITIATOR)
		memcpy(l->peer, peer_pub, LINK_KEY_BYTES);

	if (evutil_make_socket_nonblocking(fd) != 0)
		goto fail;
	/* Packets are small and latency matters; harmless on non-TCP sockets. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((l->bev = bufferevent_socket_new(base, fd, 0)) == NULL)
		goto fail;
	bufferevent_setcb(l->bev, link_read_cb, link_write_cb, link_event_cb, l);
	/* Never buffer more input than one message (plus its length). */
	bufferevent_setwatermark(l->bev, EV_READ, 0, LINK_LEN_BYTES + l->max_msg);
	bufferevent_setwatermark(l->bev, EV_WRITE, l->out_max / 2, 0);
	if (bufferevent_enable(l->bev, EV_READ | EV_WRITE) != 0)
		goto fail;

	tv.tv_sec = l->timeout_ms / 1000;
	tv.tv_usec = (l->timeout_ms % 1000) * 1000;
	evtimer_add(l->ev_timeout, &tv);
	/* The handshake starts from the loop, never inside this call. */
	if (role == NOISE_INITIATOR)
		event_active(l->ev_work, EV_TIMEOUT, 0);
	*out = l;
	return LINK_OK;

fail:
	/* The caller keeps the socket on failure. */
	if (l->bev != NULL) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	link_destroy(l);
	return LINK_ERR_NOMEM;
}

int
link_new_initiator(struct link **out, struct event_base *base, int fd,
    const struct link_config *cfg, const uint8_t peer_pub[LINK_KEY_BYTES],
    const struct link_callbacks *cb, void *arg)
{
	if (peer_pub == NULL)
		return LINK_ERR_ARG;
	return link_new(out, base, fd, cfg, NOISE_INITIATOR, peer_pub, cb, arg);
}

int
link_new_responder(struct link **out, struct event_base *base, int fd,
    const struct link_config *cfg, const struct link_callbacks *cb, void *arg)
{
	return link_new(out, base, fd, cfg, NOISE_RESPONDER, NULL, cb, arg);
}

int
link_dh_result(struct link *l, const uint8_t *shared)
{
	if (l == NULL)
		return LINK_ERR_ARG;
	if (link_gone(l) || !l->dh_outstanding || l->dh_answer != 0)
		return LINK_ERR_STATE;
	if (shared != NULL) {
		memcpy(l->sec->dh_result, shared, LINK_KEY_BYTES);
		l->dh_answer = 1;
	} else
		l->dh_answer = -1;
	event_active(l->ev_work, EV_TIMEOUT, 0);
	return LINK_OK;
}

/* Seals one frame straight into the output buffer. */
int
link_accept_result(struct link *l, int accept)
{
	if (l == NULL)
		return LINK_ERR_ARG;
	if (link_gone(l) || l->state != LINK_S_ACCEPT_WAIT ||
	    l->accept_answer != 0)
		return LINK_ERR_STATE;
	l->accept_answer = accept ? 1 : -1;
	event_active(l->ev_work, EV_TIMEOUT, 0);
	return LINK_OK;
}

static int
link_send_frame(struct link *l, enum link_frame_type type, uint64_t id,
    const uint8_t *body, size_t body_len, const Link__Control *ctl)
{
	struct evbuffer *out;
	struct evbuffer_iovec v;
	size_t plain, total;
	uint8_t *p, *q;
	int r;

	if (link_gone(l) || l->state != LINK_S_OPEN || l->shutting_down ||
	    l->pending_reason != 0)
		return LINK_ERR_STATE;
	plain = LINK_TYPE_BYTES + (type == LINK_FRAME_DELIVERY ?
	    LINK_ID_BYTES : 0) + body_len;
	total = LINK_LEN_BYTES + plain + NOISE_TAG_BYTES;
	out = bufferevent_get_output(l->bev);
	if (evbuffer_get_length(out) + total > l->out_max) {
		l->blocked = 1;
		return LINK_ERR_BUSY;
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) < 1 ||
	    v.iov_len < total)
		return LINK_ERR_NOMEM;
	p = v.iov_base;
	p[0] = (uint8_t)((plain + NOISE_TAG_BYTES) >> 8);
	p[1] = (uint8_t)(plain + NOISE_TAG_BYTES);
	p[2] = (uint8_t)type;
	q = p + LINK_LEN_BYTES + LINK_TYPE_BYTES;
	if (type == LINK_FRAME_DELIVERY) {
		for (int i = 0; i < LINK_ID_BYTES; i++)
			q[i] = (uint8_t)(id >> (8 * (LINK_ID_BYTES - 1 - i)));
		q += LINK_ID_BYTES;
	}
	if (ctl != NULL)
		link__control__pack(ctl, q);
	else
		memcpy(q, body, body_len);
	r = link_seal(&l->sec->tx, l->rekey_interval, p + LINK_LEN_BYTES, plain);
	if (r != LINK_OK) {
		/* Not committed: nothing of it is sent. */
		link_defer_fail(l, r);
		return r;
	}
	v.iov_len = total;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return LINK_ERR_NOMEM;
	return LINK_OK;
}

int
link_send_packet(struct link *l, const uint8_t *packet, size_t len)
{
	if (l == NULL || packet == NULL || len != l->packet_bytes)
		return LINK_ERR_ARG;
	return link_send_frame(l, LINK_FRAME_PACKET, 0, packet, len, NULL);
}

int
link_send_delivery(struct link *l, uint64_t id, const uint8_t *packet,
    size_t len)
{
	if (l == NULL || packet == NULL || len != l->packet_bytes)
		return LINK_ERR_ARG;
	return link_send_frame(l, LINK_FRAME_DELIVERY, id, packet, len, NULL);
}

int
link_send_control(struct link *l, const Link__Control *c)
{
	size_t len;

	if (l == NULL || link_control_check(c) != LINK_OK)
		return LINK_ERR_ARG;
	len = link__control__get_packed_size(c);
	/* What we would refuse from the peer, we do not send. */
	if (len == 0 || len > LINK_MAX_CONTROL_BYTES)
		return LINK_ERR_ARG;
	return link_send_frame(l, LINK_FRAME_CONTROL, 0, NULL, len, c);
}

void
link_pause(struct link *l, int paused)
{
	if (l == NULL || link_gone(l) || l->shutting_down)
		return;
	l->paused = paused != 0;
	if (l->paused) {
		bufferevent_disable(l->bev, EV_READ);
		return;
	}
	bufferevent_enable(l->bev, EV_READ);
	/* Messages already buffered get no new read event. */
	event_active(l->ev_work, EV_TIMEOUT, 0);
}

void
link_shutdown(struct link *l)
{
	if (l == NULL || link_gone(l) || l->shutting_down)
		return;
	l->shutting_down = 1;
	bufferevent_disable(l->bev, EV_READ);
	bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
	event_active(l->ev_work, EV_TIMEOUT, 0);
}

void
link_free(struct link *l)
{
	if (l == NULL)
		return;
	if (l->depth > 0) {
		/* Inside our own callback: the outermost one frees it. */
		l->dead = 1;
		link_teardown(l);
		return;
	}
	link_destroy(l);
}

int
link_is_established(const struct link *l)
{
	return l != NULL && l->state == LINK_S_OPEN && !l->dead;
}

const uint8_t *
link_peer_key(const struct link *l)
{
	return link_is_established(l) ? l->peer : NULL;
}

const uint8_t *
link_handshake_hash(const struct link *l)
{
	return link_is_established(l) ? l->hash : NULL;
}

size_t
link_output_bytes(const struct link *l)
{
	if (l == NULL || l->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(l->bev));
}

int
link_errno(const struct link *l)
{
	return l != NULL ? l->saved_errno : 0;
}

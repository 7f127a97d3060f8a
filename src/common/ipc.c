#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/message.h"
#include "common/payload.h"
#include "common/regstmt.h"
#include "common/sphinx.h"

#define IPC_READ_CHUNK_BYTES	65536

struct ipc_pending_fd {
	size_t	offset;		/* byte in the output queue the fd rides on */
	int	fd;
};

struct ipc_chan {
	int			 fd;
	char			 name[32];
	struct event		*ev_read;
	struct event		*ev_write;
	struct evbuffer		*in;
	struct evbuffer		*out;
	const struct ipc_dispatch *dispatch;
	void			*arg;
	/* fds to send, in output order; offsets are relative to `out`. */
	struct ipc_pending_fd	 out_fds[IPC_MAX_PENDING_FDS];
	size_t			 n_out_fds;
	/* fds received, FIFO, consumed by IPC_PEER messages in order. */
	int			 in_fds[IPC_MAX_PENDING_FDS];
	size_t			 n_in_fds;
	int			 dead;
};

/* Frames this process sent and received, by type (ipc_log_counts). */
static uint64_t ipc_sent_frames[IPC_TYPE_LAST + 1];
static uint64_t ipc_received_frames[IPC_TYPE_LAST + 1];

static void ipc_on_read(evutil_socket_t, short, void *);
static void ipc_on_write(evutil_socket_t, short, void *);

const char *
ipc_type_name(Nymipc__IpcType type)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&nymipc__ipc_type__descriptor, (int)type);
	return v != NULL ? v->name : "IPC_UNKNOWN";
}

struct ipc_chan *
ipc_chan_new(struct event_base *base, int fd, const char *peer_name,
    const struct ipc_dispatch *dispatch, void *arg)
{
	struct ipc_chan *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", peer_name);
	c->dispatch = dispatch;
	c->arg = arg;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ipc_on_read, c);
	c->ev_write = event_new(base, fd, EV_WRITE, ipc_on_write, c);
	if (c->in == NULL || c->out == NULL || c->ev_read == NULL ||
	    c->ev_write == NULL || evutil_make_socket_nonblocking(fd) == -1 ||
	    event_add(c->ev_read, NULL) == -1) {
		c->fd = -1;	/* the caller still owns fd on failure */
		ipc_chan_free(c);
		return NULL;
	}
	return c;
}

void
ipc_chan_free(struct ipc_chan *c)
{
	if (c == NULL)
		return;
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	for (size_t i = 0; i < c->n_out_fds; i++)
		close(c->out_fds[i].fd);
	for (size_t i = 0; i < c->n_in_fds; i++)
		close(c->in_fds[i]);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

const char *
ipc_chan_name(const struct ipc_chan *c)
{
	return c->name;
}

int
ipc_chan_fd(const struct ipc_chan *c)
{
	return c->fd;
}

size_t
ipc_pending_bytes(const struct ipc_chan *c)
{
	return evbuffer_get_length(c->out);
}

int
ipc_frame_parse(const uint8_t *buf, size_t len, size_t *msg_len)
{
	if (len < IPC_HEADER_BYTES)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (n > IPC_MAX_FRAME_BYTES)
		return -1;
	*msg_len = n;
	return len - IPC_HEADER_BYTES >= n ? 1 : 0;
}

/* Reports the failure once; the closed callback owns the channel after. */
static void
ipc_fail(struct ipc_chan *c, enum ipc_close_reason reason, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->ev_read);
	event_del(c->ev_write);
	if (c->dispatch->closed != NULL)
		c->dispatch->closed(c, reason, why, c->arg);
}

int
ipc_send(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd)
{
	size_t len = nymipc__ipc__get_packed_size(msg);
	uint8_t hdr[IPC_HEADER_BYTES];

	if (c->dead || len > IPC_MAX_FRAME_BYTES) {
		errno = c->dead ? EPIPE : EMSGSIZE;
		return -1;
	}
	if (fd != -1 && c->n_out_fds == IPC_MAX_PENDING_FDS) {
		errno = EAGAIN;
		return -1;
	}
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		return -1;
	nymipc__ipc__pack(msg, buf);
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	size_t offset = evbuffer_get_length(c->out);
	int rc = 0;
	if (evbuffer_add(c->out, hdr, sizeof(hdr)) == -1 ||
	    evbuffer_add(c->out, buf, len) == -1)
		rc = -1;
	free(buf);
	/* Only a frame that is queued whole may carry the descriptor. */
	if (rc == 0 && fd != -1) {
		c->out_fds[c->n_out_fds].offset = offset;
		c->out_fds[c->n_out_fds].fd = fd;
		c->n_out_fds++;
	}
	if (rc == 0 && event_add(c->ev_write, NULL) == -1)
		rc = -1;
	if (rc == 0 && (size_t)msg->type <= IPC_TYPE_LAST)
		ipc_sent_frames[msg->type]++;
	return rc;
}

static size_t
ipc_counts_text(char *out, size_t len, const uint64_t *counts)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t t = 1; t <= IPC_TYPE_LAST && n < len; t++)
		if (counts[t] > 0)
			n += (size_t)snprintf(out + n, len - n, " %s=%llu",
			    ipc_type_name((Nymipc__IpcType)t) + 4, (unsigned long long)counts[t]);
	return n;
}

void
ipc_log_counts(void)
{
	char sent[1024], received[1024];

	ipc_counts_text(sent, sizeof(sent), ipc_sent_frames);
	ipc_counts_text(received, sizeof(received), ipc_received_frames);
	log_info("ipc frames sent:%s; received:%s", sent[0] ? sent : " none",
	    received[0] ? received : " none");
}

int
ipc_send_type(struct ipc_chan *c, Nymipc__IpcType type, uint64_t seq)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	msg.type = type;
	msg.seq = seq;
	return ipc_send(c, &msg, -1);
}

int
ipc_send_id(struct ipc_chan *c, Nymipc__IpcType type, uint64_t id)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	msg.type = type;
	msg.body_case = NYMIPC__IPC__BODY_ID;
	msg.id = id;
	return ipc_send(c, &msg, -1);
}

/* The body each type carries (proto/ipc.proto); NOT_SET: none. */
static const Nymipc__Ipc__BodyCase ipc_body_of[IPC_TYPE_LAST + 1] = {
	[IPC_CONFIG] = NYMIPC__IPC__BODY_CONFIG,
	[IPC_READY] = NYMIPC__IPC__BODY_READY,
	[IPC_PEER] = NYMIPC__IPC__BODY_PEER,
	[IPC_SHUTDOWN] = NYMIPC__IPC__BODY__NOT_SET,
	[IPC_RELOAD] = NYMIPC__IPC__BODY_CONFIG,
	[IPC_FATAL] = NYMIPC__IPC__BODY_TEXT,
	[IPC_PROVIDER_CHOSEN] = NYMIPC__IPC__BODY_TEXT,
	[IPC_PUBKEY_REQUEST] = NYMIPC__IPC__BODY__NOT_SET,
	[IPC_PUBKEY_REPLY] = NYMIPC__IPC__BODY_PUBKEY,
	[IPC_TOPOLOGY] = NYMIPC__IPC__BODY_TOPOLOGY,
	[IPC_TOPOLOGY_REFRESH] = NYMIPC__IPC__BODY__NOT_SET,
	[IPC_BUILD] = NYMIPC__IPC__BODY_OUTGOING,
	[IPC_BUILD_FAILED] = NYMIPC__IPC__BODY_FAILURE,
	[IPC_PACKET] = NYMIPC__IPC__BODY_PACKET,
	[IPC_EXPIRED] = NYMIPC__IPC__BODY_ID,
	[IPC_SENT] = NYMIPC__IPC__BODY_ID,
	[IPC_NETD_UP] = NYMIPC__IPC__BODY__NOT_SET,
	[IPC_COVER_REQUEST] = NYMIPC__IPC__BODY_KIND,
	[IPC_COVER] = NYMIPC__IPC__BODY_COVER,
	[IPC_UNWRAP] = NYMIPC__IPC__BODY_PACKET,
	[IPC_UNWRAPPED] = NYMIPC__IPC__BODY_UNWRAPPED,
	[IPC_RECEIVED] = NYMIPC__IPC__BODY_RECEIVED,
	[IPC_STORED] = NYMIPC__IPC__BODY_ID,
	[IPC_NOT_STORED] = NYMIPC__IPC__BODY_ID,
	[IPC_DH_REQUEST] = NYMIPC__IPC__BODY_PUBKEY,
	[IPC_DH_REPLY] = NYMIPC__IPC__BODY_SECRET,
	[IPC_REGISTER_SIGN] = NYMIPC__IPC__BODY_PUBKEY,
	[IPC_REGISTER_SIGNED] = NYMIPC__IPC__BODY_REGISTRATION,
	[IPC_TRAFFIC_STATS] = NYMIPC__IPC__BODY_TRAFFIC_STATS,
	[IPC_BUILT] = NYMIPC__IPC__BODY_BUILT,
	[IPC_REPLY_ARRIVED] = NYMIPC__IPC__BODY_REPLY_IN,
	[IPC_REPLY_OPEN] = NYMIPC__IPC__BODY_REPLY_IN,
	[IPC_REPLY_FAILED] = NYMIPC__IPC__BODY_FAILURE,
	[IPC_ACK_TIMER] = NYMIPC__IPC__BODY_ACK_TIMER,
	[IPC_ACKED] = NYMIPC__IPC__BODY_ACKED,
};

/* What a message with reply blocks, or a reply, must hold. */

/* A FRAGMENT's part as common/payload.h lays it out: bounds and size. */
static int
ipc_fragment_fits(uint32_t index, uint32_t count, size_t len)
{
	if (count < 2 || count > PAYLOAD_MAX_FRAGMENTS || index >= count)
		return 0;
	return index + 1 < count ? len == PAYLOAD_FRAGMENT_BYTES :
	    len >= 1 && len <= PAYLOAD_FRAGMENT_BYTES;
}

static const char *
ipc_outgoing_problem(const Nymipc__Outgoing *o)
{
	int tagged = o->sender_tag.len != 0;

	/* A fragment is nothing else: no blocks, not a reply. */
	if (o->fragment_count != 0)
		return !tagged && o->surb.len == 0 && o->surbs == 0 &&
		    !o->surbs_only && ipc_fragment_fits(o->fragment_index,
		    o->fragment_count, o->message.len) ? NULL :
		    "a fragment out of range, of the wrong size or with reply blocks";
	if (o->fragment_index != 0)
		return "a fragment index without a count";
	if (o->sender_tag.len != 0 && o->sender_tag.len != PAYLOAD_TAG_BYTES)
		return "a sender tag that is not 16 bytes";
	if (o->surb.len != 0 && o->surb.len != SURB_BYTES)
		return "a reply block of the wrong size";
	if (o->surb.len != 0 && tagged)
		return "a reply that carries reply blocks";
	if (o->surb.len != 0 && o->surbs != 0)	/* asks for more: MORE */
		return o->surbs <= PAYLOAD_MAX_MORE && o->message.len == 0 ? NULL :
		    "a request for more reply blocks out of range or with a message";
	if (!tagged && (o->surbs != 0 || o->surbs_only))
		return "reply blocks without a sender tag";
	if (o->surbs > PAYLOAD_MAX_SURBS)
		return "more reply blocks than a packet holds";
	if (o->surbs_only)
		return o->surbs > 0 && o->message.len == 0 ? NULL :
		    "a packet of reply blocks only with a message or no block";
	if (tagged && (long)o->message.len > payload_tagged_room(o->surbs))
		return "a message over the limit with its reply blocks";
	/* A forward packet's message is beside its ack block; a reply's not. */
	return o->message.len <= (o->surb.len != 0 ? MESSAGE_MAX_BYTES :
	    MESSAGE_MAX_ACKED_BYTES) ? NULL : "a message over the limit";
}

static const char *
ipc_built_problem(const Nymipc__Built *b)
{
	if (b->data.len != SPHINX_PACKET_BYTES)
		return "a packet of the wrong size";
	if (b->n_keys > PAYLOAD_MAX_SURBS)
		return "more reply blocks than a packet holds";
	for (size_t i = 0; i < b->n_keys; i++)
		if (b->keys[i]->surb_id.len != SURB_ID_BYTES ||
		    b->keys[i]->sealed.len != MESSAGE_SEALED_KEYS_BYTES)
			return "sealed keys of the wrong size";
	return NULL;
}

static const char *
ipc_received_problem(const Nymipc__Received *r)
{
	if (r->msgid.len != MESSAGE_ID_BYTES)
		return "a message id of the wrong size";
	if (r->message.len > MESSAGE_MAX_BYTES)
		return "a message over the limit";
	if (r->fragment_count != 0)
		return r->sender_tag.len == 0 && r->surb_id.len == 0 &&
		    r->n_surbs == 0 && !r->surbs_only &&
		    ipc_fragment_fits(r->fragment_index, r->fragment_count,
		    r->message.len) ? NULL :
		    "a fragment out of range, of the wrong size or with reply blocks";
	if (r->fragment_index != 0)
		return "a fragment index without a count";
	if (r->sender_tag.len != 0 && r->sender_tag.len != PAYLOAD_TAG_BYTES)
		return "a sender tag that is not 16 bytes";
	if (r->surb_id.len != 0 && r->surb_id.len != SURB_ID_BYTES)
		return "a reply block id that is not 16 bytes";
	if (r->more_surbs > PAYLOAD_MAX_MORE || (r->more_surbs > 0 && r->surb_id.len == 0))
		return "a request for more reply blocks out of range or not in a reply";
	if (r->n_surbs > PAYLOAD_MAX_SURBS ||
	    (r->n_surbs > 0 && r->sender_tag.len == 0))
		return "reply blocks without a sender tag, or too many";
	for (size_t i = 0; i < r->n_surbs; i++)
		if (r->surbs[i]->surb.len != SURB_BYTES)
			return "a reply block of the wrong size";
	return NULL;
}

static int
ipc_cover_kind(Nymipc__PacketKind k)
{
	return k == KIND_LOOP || k == KIND_DROP;
}

/* The sizes and values inside a body of the right case. */
static const char *
ipc_body_problem(const Nymipc__Ipc *m)
{
	switch (m->body_case) {
	case NYMIPC__IPC__BODY_READY:
		if (m->ready->pubkey.len != 0 && m->ready->pubkey.len != 32)
			return "a public key that is not 32 bytes";
		return NULL;
	case NYMIPC__IPC__BODY_PEER:
		return m->peer == ROLE_KEYD || m->peer == ROLE_NETD ||
		    m->peer == ROLE_RPCD ? NULL : "no such peer role";
	case NYMIPC__IPC__BODY_PUBKEY:
		return m->pubkey.len == 32 ? NULL : "a public key that is not 32 bytes";
	case NYMIPC__IPC__BODY_SECRET:
		return m->secret.len == 0 || m->secret.len == 32 ? NULL :
		    "a shared secret that is not 32 bytes";
	case NYMIPC__IPC__BODY_OUTGOING: {
		const Nymipc__Outgoing *o = m->outgoing;
		if (o->recipient.len != 32 || o->recipient_provider.len != 32)
			return "a recipient key that is not 32 bytes";
		if (o->msgid.len != MESSAGE_ID_BYTES)
			return "a message id of the wrong size";
		/* Every forward packet is acknowledged; a reply is not
		 * (docs/acks.md). */
		if (o->surb.len == 0 ? o->ack_id.len != ACK_ID_BYTES : o->ack_id.len != 0)
			return "a forward message without a 16-byte acknowledgement id, or a reply with one";
		return ipc_outgoing_problem(o);
	}
	case NYMIPC__IPC__BODY_BUILT:
		return ipc_built_problem(m->built);
	case NYMIPC__IPC__BODY_REPLY_IN:
		if (m->reply_in->data.len != SPHINX_PACKET_BYTES)
			return "a packet of the wrong size";
		if (m->reply_in->surb_id.len != SURB_ID_BYTES)
			return "a reply block id that is not 16 bytes";
		return m->reply_in->sealed.len == 0 ||
		    m->reply_in->sealed.len == MESSAGE_SEALED_KEYS_BYTES ? NULL :
		    "sealed keys of the wrong size";
	case NYMIPC__IPC__BODY_PACKET:
		return m->packet->data.len == SPHINX_PACKET_BYTES ? NULL :
		    "a packet of the wrong size";
	case NYMIPC__IPC__BODY_KIND:
		return ipc_cover_kind(m->kind) ? NULL : "not a cover kind";
	case NYMIPC__IPC__BODY_COVER:
		if (!ipc_cover_kind(m->cover->kind))
			return "not a cover kind";
		return m->cover->data.len == 0 || m->cover->data.len == SPHINX_PACKET_BYTES ?
		    NULL : "a packet of the wrong size";
	case NYMIPC__IPC__BODY_UNWRAPPED:
		return m->unwrapped->kind == KIND_DROP ? "a delivery of kind drop" : NULL;
	case NYMIPC__IPC__BODY_RECEIVED:
		return ipc_received_problem(m->received);
	case NYMIPC__IPC__BODY_ACKED:
		return m->acked->ack_id.len == ACK_ID_BYTES ? NULL :
		    "an acknowledgement id that is not 16 bytes";
	case NYMIPC__IPC__BODY_REGISTRATION:
		if (m->registration->provider.len != 32)
			return "a provider key that is not 32 bytes";
		if (m->registration->registered_ms > INT64_MAX)
			return "a registration time out of range";
		return m->registration->signature.len == 0 ||
		    m->registration->signature.len == REGSTMT_SIG_BYTES ? NULL :
		    "a statement signature that is not 64 bytes";
	default:
		return NULL;
	}
}

int
ipc_check(const struct ipc_dispatch *d, const Nymipc__Ipc *m, char *why, size_t len)
{
	size_t t = (size_t)m->type;
	const char *problem;

	if (t == 0 || t > IPC_TYPE_LAST || d->handlers[t] == NULL) {
		snprintf(why, len, "unexpected message %s", ipc_type_name(m->type));
		return -1;
	}
	if (m->base.n_unknown_fields != 0) {
		snprintf(why, len, "%s with unknown fields", ipc_type_name(m->type));
		return -1;
	}
	if (m->body_case != ipc_body_of[t]) {
		snprintf(why, len, "%s with the wrong body (%d)", ipc_type_name(m->type),
		    (int)m->body_case);
		return -1;
	}
	if ((problem = ipc_body_problem(m)) != NULL) {
		snprintf(why, len, "%s with %s", ipc_type_name(m->type), problem);
		return -1;
	}
	return 0;
}

/*
 * Writes as much as the socket takes. An fd is sent with the first byte
 * of its frame, and a write never runs past the next fd's frame, so the
 * receiver sees each fd no later than the frame that names it.
 */
static int
ipc_write_some(struct ipc_chan *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		size_t avail = evbuffer_get_length(c->out);
		size_t limit = avail;
		int send_fd = -1;

		if (c->n_out_fds > 0) {
			if (c->out_fds[0].offset == 0) {
				send_fd = c->out_fds[0].fd;
				if (c->n_out_fds > 1)
					limit = c->out_fds[1].offset;
			} else {
				limit = c->out_fds[0].offset;
			}
		}
		if (limit > IPC_READ_CHUNK_BYTES)
			limit = IPC_READ_CHUNK_BYTES;

		struct iovec iov;
		iov.iov_base = evbuffer_pullup(c->out, (ev_ssize_t)limit);
		iov.iov_len = limit;
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		union {
			struct cmsghdr hdr;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		if (send_fd != -1) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(h), &send_fd, sizeof(int));
		}
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		evbuffer_drain(c->out, (size_t)n);
		if (send_fd != -1) {
			close(send_fd);
			memmove(&c->out_fds[0], &c->out_fds[1],
			    (c->n_out_fds - 1) * sizeof(c->out_fds[0]));
			c->n_out_fds--;
		}
		for (size_t i = 0; i < c->n_out_fds; i++)
			c->out_fds[i].offset -= (size_t)n;
	}
	return 0;
}

static void
ipc_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_chan *c = arg;

	if (ipc_write_some(c) == -1) {
		ipc_fail(c, IPC_CLOSED_IO, strerror(errno));
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		event_add(c->ev_write, NULL);
}

int
ipc_flush(struct ipc_chan *c)
{
	while (!c->dead && evbuffer_get_length(c->out) > 0) {
		if (ipc_write_some(c) == -1)
			return -1;
		if (evbuffer_get_length(c->out) > 0) {
			fd_set wfds;
			FD_ZERO(&wfds);
			FD_SET(c->fd, &wfds);
			struct timeval tv = { 1, 0 };
			if (select(c->fd + 1, NULL, &wfds, NULL, &tv) <= 0)
				return -1;
		}
	}
	return 0;
}

static int
ipc_read_some(struct ipc_chan *c)
{
	uint8_t buf[IPC_READ_CHUNK_BYTES];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_PENDING_FDS)];
	} cm;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == -1)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 1 : -1;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->n_in_fds == IPC_MAX_PENDING_FDS) {
				close(fd);
				errno = EPROTO;
				return -2;
			}
			c->in_fds[c->n_in_fds++] = fd;
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		errno = EPROTO;
		return -2;
	}
	if (n == 0)
		return 0;
	if (evbuffer_add(c->in, buf, (size_t)n) == -1)
		return -1;
	return 1;
}

static int
ipc_take_fd(struct ipc_chan *c)
{
	if (c->n_in_fds == 0)
		return -1;
	int fd = c->in_fds[0];
	memmove(&c->in_fds[0], &c->in_fds[1], (c->n_in_fds - 1) * sizeof(int));
	c->n_in_fds--;
	return fd;
}

/*
 * Dispatches every complete frame; returns -1 after a protocol error, when
 * the channel may already be freed by its closed callback.
 */
static int
ipc_dispatch_frames(struct ipc_chan *c)
{
	for (;;) {
		uint8_t hdr[IPC_HEADER_BYTES];
		size_t have = evbuffer_get_length(c->in);
		size_t msg_len;

		if (evbuffer_copyout(c->in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
			return 0;
		if (ipc_frame_parse(hdr, sizeof(hdr), &msg_len) == -1) {
			ipc_fail(c, IPC_CLOSED_PROTOCOL, "oversize frame");
			return -1;
		}
		if (have - IPC_HEADER_BYTES < msg_len)
			return 0;
		uint8_t *p = evbuffer_pullup(c->in, (ev_ssize_t)(IPC_HEADER_BYTES + msg_len));
		Nymipc__Ipc *msg = nymipc__ipc__unpack(NULL, msg_len, p + IPC_HEADER_BYTES);
		evbuffer_drain(c->in, IPC_HEADER_BYTES + msg_len);
		if (msg == NULL) {
			ipc_fail(c, IPC_CLOSED_PROTOCOL, "message does not unpack");
			return -1;
		}
		char why[128];
		if (ipc_check(c->dispatch, msg, why, sizeof(why)) == -1) {
			nymipc__ipc__free_unpacked(msg, NULL);
			ipc_fail(c, IPC_CLOSED_PROTOCOL, why);
			return -1;
		}
		ipc_handler h = c->dispatch->handlers[msg->type];
		ipc_received_frames[msg->type]++;
		int fd = -1;
		if (msg->type == IPC_PEER) {
			fd = ipc_take_fd(c);
			if (fd == -1) {
				nymipc__ipc__free_unpacked(msg, NULL);
				ipc_fail(c, IPC_CLOSED_PROTOCOL, "IPC_PEER without a descriptor");
				return -1;
			}
		}
		/* Handlers must not free the channel they are called for. */
		h(c, msg, fd, c->arg);
		nymipc__ipc__free_unpacked(msg, NULL);
	}
}

static void
ipc_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_chan *c = arg;
	int r = ipc_read_some(c);

	if (r == -2) {
		ipc_fail(c, IPC_CLOSED_PROTOCOL, "unexpected descriptors");
		return;
	}
	if (r == -1) {
		ipc_fail(c, IPC_CLOSED_IO, strerror(errno));
		return;
	}
	if (ipc_dispatch_frames(c) == -1)
		return;
	if (r == 0) {
		if (evbuffer_get_length(c->in) > 0)
			ipc_fail(c, IPC_CLOSED_PROTOCOL, "truncated frame at end of stream");
		else
			ipc_fail(c, IPC_CLOSED_EOF, "peer closed the channel");
	}
}

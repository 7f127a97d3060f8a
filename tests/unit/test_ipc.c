/*
 * Unit tests of the IPC channel on libevent over a socketpair: frames
 * split across reads or packed into one, oversize, unexpected and
 * garbage frames, a descriptor passed with IPC_PEER, and end of stream;
 * and the contract (ipc_check): a type from the wrong peer, a body that
 * is not the type's, unknown fields and bad sizes are refused.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/ipc.h"
#include "common/message.h"
#include "common/payload.h"
#include "common/sphinx.h"

#define MAX_SEEN	64

struct seen_msg {
	Nymipc__IpcType	type;
	uint64_t	seq;
	char		text[64];
	size_t		data_len;
	int		fd;
};

struct ipc_fixture {
	struct event_base	*base;
	int			 sv[2];		/* sv[0] is the channel's, sv[1] the test's */
	struct ipc_chan		*chan;
	struct ipc_dispatch	 dispatch;
	struct seen_msg		 seen[MAX_SEEN];
	size_t			 n_seen;
	int			 closed;
	enum ipc_close_reason	 reason;
	char			 why[128];
};

static void
on_msg(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct ipc_fixture *f = arg;

	assert_ptr_equal(c, f->chan);
	assert_true(f->n_seen < MAX_SEEN);
	struct seen_msg *s = &f->seen[f->n_seen++];
	s->type = msg->type;
	s->seq = msg->seq;
	if (msg->body_case == NYMIPC__IPC__BODY_TEXT) {
		snprintf(s->text, sizeof(s->text), "%s", msg->text);
		s->data_len = strlen(msg->text);
	}
	s->fd = fd;
}

static void
on_closed(struct ipc_chan *c, enum ipc_close_reason reason, const char *why, void *arg)
{
	struct ipc_fixture *f = arg;

	assert_ptr_equal(c, f->chan);
	assert_int_equal(f->closed, 0);
	f->closed = 1;
	f->reason = reason;
	snprintf(f->why, sizeof(f->why), "%s", why != NULL ? why : "");
	ipc_chan_free(c);
	f->chan = NULL;
}

static int
setup(void **state)
{
	struct ipc_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->base = event_base_new();
	if (f->base == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv) == -1)
		return -1;
	/* The test expects FATAL, SENT and PEER; nothing else. */
	f->dispatch.handlers[IPC_FATAL] = on_msg;
	f->dispatch.handlers[IPC_SENT] = on_msg;
	f->dispatch.handlers[IPC_PEER] = on_msg;
	f->dispatch.closed = on_closed;
	f->chan = ipc_chan_new(f->base, f->sv[0], "test", &f->dispatch, f);
	if (f->chan == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct ipc_fixture *f = *state;

	for (size_t i = 0; i < f->n_seen; i++)
		if (f->seen[i].fd != -1)
			close(f->seen[i].fd);
	ipc_chan_free(f->chan);	/* closes sv[0] */
	if (f->sv[1] != -1)
		close(f->sv[1]);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Runs the loop without blocking until nothing more happens. */
static void
pump(struct ipc_fixture *f)
{
	for (int i = 0; i < 8; i++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void
send_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

static size_t
frame_packed(uint8_t *out, const Nymipc__Ipc *msg)
{
	size_t len = nymipc__ipc__get_packed_size(msg);

	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	assert_int_equal(nymipc__ipc__pack(msg, out + 4), len);
	return len + 4;
}

/*
 * Appends a framed message to out with the body its type carries: FATAL
 * its text, followed by pad_len bytes of padding; SENT an id; PEER a role;
 * READY an empty Ready. Returns its total size.
 */
static size_t
frame_msg(uint8_t *out, Nymipc__IpcType type, uint64_t seq, const char *text,
    size_t pad_len)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__Ready ready = NYMIPC__READY__INIT;
	static char buf[4096];

	msg.type = type;
	msg.seq = seq;
	switch (type) {
	case IPC_FATAL:
		snprintf(buf, sizeof(buf), "%s", text != NULL ? text : "");
		memset(buf + strlen(buf), 'x', pad_len);
		buf[strlen(text != NULL ? text : "") + pad_len] = '\0';
		msg.body_case = NYMIPC__IPC__BODY_TEXT;
		msg.text = buf;
		break;
	case IPC_SENT:
		msg.body_case = NYMIPC__IPC__BODY_ID;
		msg.id = seq;
		break;
	case IPC_PEER:
		msg.body_case = NYMIPC__IPC__BODY_PEER;
		msg.peer = ROLE_NETD;
		break;
	case IPC_READY:
		msg.body_case = NYMIPC__IPC__BODY_READY;
		msg.ready = &ready;
		break;
	default:
		break;
	}
	size_t len = nymipc__ipc__get_packed_size(&msg);
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	assert_int_equal(nymipc__ipc__pack(&msg, out + 4), len);
	return len + 4;
}

static void
test_frame_parse(void **state)
{
	uint8_t buf[8] = { 0, 0, 0, 3, 1, 2, 3, 4 };
	size_t len = 999;

	assert_int_equal(ipc_frame_parse(buf, 0, &len), 0);
	assert_int_equal(ipc_frame_parse(buf, 3, &len), 0);
	assert_int_equal(len, 999);
	assert_int_equal(ipc_frame_parse(buf, 4, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(ipc_frame_parse(buf, 6, &len), 0);
	assert_int_equal(ipc_frame_parse(buf, 7, &len), 1);
	assert_int_equal(ipc_frame_parse(buf, 8, &len), 1);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(ipc_frame_parse(buf, 4, &len), 1);	/* empty message */
	assert_int_equal(len, 0);

	uint32_t max = IPC_MAX_FRAME_BYTES;
	buf[0] = (uint8_t)(max >> 24);
	buf[1] = (uint8_t)(max >> 16);
	buf[2] = (uint8_t)(max >> 8);
	buf[3] = (uint8_t)max;
	assert_int_equal(ipc_frame_parse(buf, 8, &len), 0);
	assert_int_equal(len, IPC_MAX_FRAME_BYTES);
	buf[3]++;
	assert_int_equal(ipc_frame_parse(buf, 8, &len), -1);
	memset(buf, 0xff, 4);
	assert_int_equal(ipc_frame_parse(buf, 8, &len), -1);
}

static void
test_split_one_byte_at_a_time(void **state)
{
	struct ipc_fixture *f = *state;
	static uint8_t buf[8192];
	size_t len1 = frame_msg(buf, IPC_FATAL, 7, "hello", 300);
	size_t len2 = frame_msg(buf + len1, IPC_SENT, UINT64_MAX, NULL, 0);

	for (size_t i = 0; i < len1 + len2; i++) {
		send_all(f->sv[1], buf + i, 1);
		pump(f);
		size_t want = i + 1 < len1 ? 0 : i + 1 < len1 + len2 ? 1 : 2;
		if (f->n_seen != want)
			fail_msg("after byte %zu: %zu messages, want %zu", i, f->n_seen, want);
	}
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->seen[0].type, IPC_FATAL);
	assert_int_equal(f->seen[0].seq, 7);
	assert_memory_equal(f->seen[0].text, "hello", 5);
	assert_int_equal(f->seen[0].data_len, 305);
	assert_int_equal(f->seen[0].fd, -1);
	assert_int_equal(f->seen[1].type, IPC_SENT);
	assert_true(f->seen[1].seq == UINT64_MAX);
}

static void
test_several_frames_in_one_read(void **state)
{
	struct ipc_fixture *f = *state;
	static uint8_t buf[16384];
	size_t len = 0;

	for (uint64_t i = 0; i < 10; i++)
		len += frame_msg(buf + len, i % 2 ? IPC_FATAL : IPC_SENT, i, "x",
		    (size_t)i * 100);
	/* And the first half of an eleventh. */
	size_t last = frame_msg(buf + len, IPC_FATAL, 10, "tail", 50);
	send_all(f->sv[1], buf, len + last / 2);
	pump(f);
	assert_int_equal(f->n_seen, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(f->seen[i].seq, i);
		if (i % 2)
			assert_int_equal(f->seen[i].data_len, 1 + i * 100);
	}
	send_all(f->sv[1], buf + len + last / 2, last - last / 2);
	pump(f);
	assert_int_equal(f->n_seen, 11);
	assert_memory_equal(f->seen[10].text, "tail", 4);
	assert_int_equal(f->closed, 0);
}

static void
test_oversize_refused(void **state)
{
	struct ipc_fixture *f = *state;
	uint32_t n = IPC_MAX_FRAME_BYTES + 1;
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };

	send_all(f->sv[1], hdr, sizeof(hdr));
	pump(f);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
	assert_null(f->chan);
	assert_int_equal(f->n_seen, 0);
}

static void
test_max_frame_header_waits(void **state)
{
	struct ipc_fixture *f = *state;
	uint32_t n = IPC_MAX_FRAME_BYTES;
	uint8_t hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };

	/* The largest allowed frame is not an error; it waits for its body. */
	send_all(f->sv[1], hdr, sizeof(hdr));
	pump(f);
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->n_seen, 0);
	/* The stream ends inside it: a truncated frame, not a clean EOF. */
	close(f->sv[1]);
	f->sv[1] = -1;
	pump(f);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
}

static void
test_unexpected_type_refused(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[256];
	size_t len = frame_msg(buf, IPC_SENT, 1, NULL, 0);

	/* A valid message of a type this peer may not send. */
	len += frame_msg(buf + len, IPC_READY, 2, NULL, 0);
	len += frame_msg(buf + len, IPC_SENT, 3, NULL, 0);
	send_all(f->sv[1], buf, len);
	pump(f);
	/* The first frame is handled, the second closes, the third is never seen. */
	assert_int_equal(f->n_seen, 1);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
	assert_non_null(strstr(f->why, "unexpected message IPC_READY"));
}

/* A type this peer may send, with another type's body: refused before
 * its handler runs. */
static void
test_wrong_body_refused(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[256];
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	msg.type = IPC_SENT;
	msg.body_case = NYMIPC__IPC__BODY_TEXT;
	msg.text = "not an id";
	size_t len = frame_packed(buf, &msg);
	send_all(f->sv[1], buf, len);
	pump(f);
	assert_int_equal(f->n_seen, 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
	assert_non_null(strstr(f->why, "wrong body"));
}

/* A field this build does not know (field 99, varint): refused. */
static void
test_unknown_field_refused(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[256];
	size_t len = frame_msg(buf, IPC_SENT, 5, NULL, 0);
	/* field 99, wire type 0: tag varint 0x98 0x06, value 1 */
	static const uint8_t extra[] = { 0x98, 0x06, 0x01 };

	memcpy(buf + len, extra, sizeof(extra));
	len += sizeof(extra);
	uint32_t body = (uint32_t)(len - 4);
	buf[0] = (uint8_t)(body >> 24);
	buf[1] = (uint8_t)(body >> 16);
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
	send_all(f->sv[1], buf, len);
	pump(f);
	assert_int_equal(f->n_seen, 0);
	assert_int_equal(f->closed, 1);
	assert_non_null(strstr(f->why, "unknown fields"));
}

/*
 * Acknowledgement ids (docs/acks.md): every forward message has one of 16
 * bytes, a reply none; an acknowledgement names one of 16 bytes.
 */
static void
test_check_ack_ids(void **state)
{
	struct ipc_dispatch d = { .handlers = {
		[IPC_BUILD] = on_msg, [IPC_ACKED] = on_msg, [IPC_ACK_TIMER] = on_msg,
	} };
	Nymipc__Ipc m = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	Nymipc__Acked a = NYMIPC__ACKED__INIT;
	Nymipc__AckTimer t = NYMIPC__ACK_TIMER__INIT;
	static uint8_t bytes[SURB_BYTES];
	char why[128];

	m.type = IPC_BUILD;
	m.body_case = NYMIPC__IPC__BODY_OUTGOING;
	m.outgoing = &o;
	o.recipient.data = o.recipient_provider.data = o.msgid.data = bytes;
	o.ack_id.data = o.surb.data = bytes;
	o.recipient.len = o.recipient_provider.len = 32;
	o.msgid.len = MESSAGE_ID_BYTES;
	o.ack_id.len = ACK_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.ack_id.len = 0;		/* a forward message without one */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "acknowledgement id"));
	o.ack_id.len = ACK_ID_BYTES - 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.surb.len = SURB_BYTES;	/* a reply: none */
	o.ack_id.len = ACK_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.ack_id.len = 0;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);

	m.type = IPC_ACKED;
	m.body_case = NYMIPC__IPC__BODY_ACKED;
	m.acked = &a;
	a.ack_id.data = bytes;
	a.ack_id.len = ACK_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	a.ack_id.len = ACK_ID_BYTES + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	m.type = IPC_ACK_TIMER;		/* the wrong body for its type */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	m.body_case = NYMIPC__IPC__BODY_ACK_TIMER;
	m.ack_timer = &t;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
}

/* Every body's sizes are checked in one place. */
static void
test_check_sizes(void **state)
{
	struct ipc_dispatch d = { .handlers = {
		[IPC_DH_REQUEST] = on_msg, [IPC_PACKET] = on_msg, [IPC_BUILD] = on_msg,
		[IPC_COVER_REQUEST] = on_msg, [IPC_PEER] = on_msg, [IPC_RECEIVED] = on_msg,
	} };
	Nymipc__Ipc m = NYMIPC__IPC__INIT;
	Nymipc__Packet pk = NYMIPC__PACKET__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	Nymipc__Received r = NYMIPC__RECEIVED__INIT;
	static uint8_t bytes[8192];
	char why[128];

	m.type = IPC_DH_REQUEST;
	m.body_case = NYMIPC__IPC__BODY_PUBKEY;
	m.pubkey.data = bytes;
	m.pubkey.len = 32;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	m.pubkey.len = 31;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_PACKET;
	m.body_case = NYMIPC__IPC__BODY_PACKET;
	m.packet = &pk;
	pk.data.data = bytes;
	pk.data.len = SPHINX_PACKET_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	pk.data.len = SPHINX_PACKET_BYTES - 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_BUILD;
	m.body_case = NYMIPC__IPC__BODY_OUTGOING;
	m.outgoing = &o;
	o.recipient.data = o.recipient_provider.data = o.msgid.data = o.message.data = bytes;
	o.ack_id.data = bytes;
	o.ack_id.len = ACK_ID_BYTES;
	o.recipient.len = o.recipient_provider.len = 32;
	o.msgid.len = MESSAGE_ID_BYTES;
	/* beside its acknowledgement block (a reply has none: MESSAGE_MAX_BYTES) */
	o.message.len = MESSAGE_MAX_ACKED_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.message.len = MESSAGE_MAX_ACKED_BYTES + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.message.len = 0;
	o.msgid.len = 15;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_RECEIVED;
	m.body_case = NYMIPC__IPC__BODY_RECEIVED;
	m.received = &r;
	r.msgid.data = bytes;
	r.msgid.len = MESSAGE_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	r.msgid.len = 0;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_COVER_REQUEST;
	m.body_case = NYMIPC__IPC__BODY_KIND;
	m.kind = KIND_LOOP;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	m.kind = KIND_REAL;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_PEER;
	m.body_case = NYMIPC__IPC__BODY_PEER;
	m.peer = ROLE_RPCD;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	m.peer = ROLE_MASTER;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	/* The right body for another type, the wrong one for this. */
	m.body_case = NYMIPC__IPC__BODY_ID;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	/* IPC_NONE (an empty message) is never a request, whatever the table says. */
	struct ipc_dispatch every = d;
	every.handlers[NYMIPC__IPC_TYPE__IPC_NONE] = on_msg;
	m.type = NYMIPC__IPC_TYPE__IPC_NONE;
	m.body_case = NYMIPC__IPC__BODY__NOT_SET;
	assert_int_equal(ipc_check(&every, &m, why, sizeof(why)), -1);
	assert_true(why[0] != '\0');
}

/* Fragments (docs/replies.md section 12): bounds, sizes, and never with
 * reply blocks, both ways. */
static void
test_check_fragments(void **state)
{
	struct ipc_dispatch d = { .handlers = {
		[IPC_BUILD] = on_msg, [IPC_RECEIVED] = on_msg,
	} };
	Nymipc__Ipc m = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	Nymipc__Received r = NYMIPC__RECEIVED__INIT;
	static uint8_t bytes[8192];
	char why[128];

	m.type = IPC_BUILD;
	m.body_case = NYMIPC__IPC__BODY_OUTGOING;
	m.outgoing = &o;
	o.recipient.data = o.recipient_provider.data = o.msgid.data = o.message.data = bytes;
	o.sender_tag.data = o.surb.data = o.ack_id.data = bytes;
	o.ack_id.len = ACK_ID_BYTES;
	o.recipient.len = o.recipient_provider.len = 32;
	o.msgid.len = MESSAGE_ID_BYTES;
	o.fragment_index = 0;
	o.fragment_count = PAYLOAD_MAX_FRAGMENTS;
	o.message.len = PAYLOAD_FRAGMENT_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.message.len--;		/* not the last: full */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.fragment_index = PAYLOAD_MAX_FRAGMENTS - 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.message.len = 0;		/* the last: not empty */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.message.len = 1;
	o.fragment_index = o.fragment_count;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.fragment_index = 0;
	o.fragment_count = PAYLOAD_MAX_FRAGMENTS + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.fragment_count = 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.fragment_count = 0;
	o.fragment_index = 1;		/* an index without a count */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.fragment_index = 1;
	o.fragment_count = 2;
	o.sender_tag.len = PAYLOAD_TAG_BYTES;	/* with reply blocks */
	o.surbs = 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.sender_tag.len = 0;
	o.surbs = 0;
	o.ack_id.len = 0;
	o.surb.len = SURB_BYTES;	/* as a reply */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.surbs = 1;			/* as a reply asking for more blocks */
	o.message.len = 0;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_RECEIVED;
	m.body_case = NYMIPC__IPC__BODY_RECEIVED;
	m.received = &r;
	r.msgid.data = r.message.data = r.sender_tag.data = r.surb_id.data = bytes;
	r.msgid.len = MESSAGE_ID_BYTES;
	r.fragment_index = 3;
	r.fragment_count = 4;
	r.message.len = PAYLOAD_FRAGMENT_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	r.fragment_index = 2;
	r.message.len = 5;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.fragment_index = 4;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.fragment_index = 3;
	r.surb_id.len = SURB_ID_BYTES;	/* a reply in fragments */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.surb_id.len = 0;
	r.sender_tag.len = PAYLOAD_TAG_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.sender_tag.len = 0;
	r.fragment_count = 0;		/* an index without a count */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
}

/* Reply blocks (docs/replies.md): every size and count the contract says. */
static void
test_check_reply_blocks(void **state)
{
	struct ipc_dispatch d = { .handlers = {
		[IPC_BUILD] = on_msg, [IPC_BUILT] = on_msg, [IPC_RECEIVED] = on_msg,
		[IPC_REPLY_ARRIVED] = on_msg, [IPC_REPLY_OPEN] = on_msg,
	} };
	Nymipc__Ipc m = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	Nymipc__Built b = NYMIPC__BUILT__INIT;
	Nymipc__SealedKeys k = NYMIPC__SEALED_KEYS__INIT;
	Nymipc__SealedKeys *kp[PAYLOAD_MAX_SURBS + 1] = { &k, &k, &k, &k };
	Nymipc__ReplyIn ri = NYMIPC__REPLY_IN__INIT;
	Nymipc__Received r = NYMIPC__RECEIVED__INIT;
	Nymipc__ReceivedSurb rs = NYMIPC__RECEIVED_SURB__INIT;
	Nymipc__ReceivedSurb *rsp[PAYLOAD_MAX_SURBS + 1] = { &rs, &rs, &rs, &rs };
	static uint8_t bytes[8192];
	char why[128];

	/* a message with 4 blocks and the most that fits beside them */
	m.type = IPC_BUILD;
	m.body_case = NYMIPC__IPC__BODY_OUTGOING;
	m.outgoing = &o;
	o.recipient.data = o.recipient_provider.data = o.msgid.data = o.message.data = bytes;
	o.sender_tag.data = o.surb.data = o.ack_id.data = bytes;
	o.ack_id.len = ACK_ID_BYTES;
	o.recipient.len = o.recipient_provider.len = 32;
	o.msgid.len = MESSAGE_ID_BYTES;
	o.sender_tag.len = PAYLOAD_TAG_BYTES;
	o.surbs = PAYLOAD_MAX_SURBS;
	o.message.len = (size_t)payload_tagged_room(PAYLOAD_MAX_SURBS);
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.message.len++;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.message.len = 0;
	o.surbs = PAYLOAD_MAX_SURBS + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.surbs = 1;
	o.sender_tag.len = 15;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.sender_tag.len = 0;		/* blocks without a tag */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	/* blocks only: no message, at least one block */
	o.sender_tag.len = PAYLOAD_TAG_BYTES;
	o.surbs_only = 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.message.len = 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.message.len = 0;
	o.surbs = 0;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	/* a reply: a whole block, and no blocks of its own */
	o.surbs_only = 0;
	o.sender_tag.len = 0;
	o.ack_id.len = 0;
	o.surb.len = SURB_BYTES;
	o.message.len = MESSAGE_MAX_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.surb.len = SURB_BYTES - 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.surb.len = SURB_BYTES;
	o.sender_tag.len = PAYLOAD_TAG_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	/* a request for more blocks through a block: no message, 1 to 16 */
	o.sender_tag.len = 0;
	o.surbs = PAYLOAD_MAX_MORE;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);	/* a message */
	o.message.len = 0;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	o.surbs = PAYLOAD_MAX_MORE + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	o.surbs = 0;

	m.type = IPC_BUILT;
	m.body_case = NYMIPC__IPC__BODY_BUILT;
	m.built = &b;
	b.data.data = bytes;
	b.data.len = SPHINX_PACKET_BYTES;
	b.keys = kp;
	b.n_keys = PAYLOAD_MAX_SURBS;
	k.surb_id.data = k.sealed.data = bytes;
	k.surb_id.len = SURB_ID_BYTES;
	k.sealed.len = MESSAGE_SEALED_KEYS_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	b.n_keys = PAYLOAD_MAX_SURBS + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	b.n_keys = 1;
	k.sealed.len--;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	k.sealed.len++;
	b.data.len--;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_REPLY_OPEN;
	m.body_case = NYMIPC__IPC__BODY_REPLY_IN;
	m.reply_in = &ri;
	ri.data.data = ri.surb_id.data = ri.sealed.data = bytes;
	ri.data.len = SPHINX_PACKET_BYTES;
	ri.surb_id.len = SURB_ID_BYTES;
	ri.sealed.len = MESSAGE_SEALED_KEYS_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	ri.sealed.len = 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	ri.sealed.len = 0;
	ri.surb_id.len = 17;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	/* the wrong body for the type */
	m.type = IPC_BUILT;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	m.type = IPC_RECEIVED;
	m.body_case = NYMIPC__IPC__BODY_RECEIVED;
	m.received = &r;
	r.msgid.data = r.sender_tag.data = r.surb_id.data = bytes;
	r.msgid.len = MESSAGE_ID_BYTES;
	r.sender_tag.len = PAYLOAD_TAG_BYTES;
	r.surbs = rsp;
	r.n_surbs = PAYLOAD_MAX_SURBS;
	rs.surb.data = bytes;
	rs.surb.len = SURB_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	r.n_surbs = PAYLOAD_MAX_SURBS + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.n_surbs = 1;
	rs.surb.len--;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	rs.surb.len++;
	r.sender_tag.len = 0;		/* blocks without a tag */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.n_surbs = 0;
	r.surb_id.len = SURB_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	r.more_surbs = PAYLOAD_MAX_MORE;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	r.more_surbs = PAYLOAD_MAX_MORE + 1;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.more_surbs = 1;
	r.surb_id.len = 0;		/* asking for blocks outside a reply */
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);
	r.more_surbs = 0;
	r.surb_id.len = 8;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), -1);

	/* from a peer whose table lacks them: refused */
	struct ipc_dispatch none = { .handlers = { [IPC_BUILD] = on_msg } };
	m.type = IPC_REPLY_ARRIVED;
	m.body_case = NYMIPC__IPC__BODY_REPLY_IN;
	m.reply_in = &ri;
	ri.surb_id.len = SURB_ID_BYTES;
	assert_int_equal(ipc_check(&d, &m, why, sizeof(why)), 0);
	assert_int_equal(ipc_check(&none, &m, why, sizeof(why)), -1);
}

static void
test_unknown_type_refused(void **state)
{
	struct ipc_fixture *f = *state;
	/* type = 99 (field 1, varint), beyond every handler slot. */
	uint8_t buf[] = { 0, 0, 0, 2, 0x08, 99 };

	send_all(f->sv[1], buf, sizeof(buf));
	pump(f);
	assert_int_equal(f->n_seen, 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
}

static void
test_none_type_refused(void **state)
{
	struct ipc_fixture *f = *state;
	/* An empty message has type IPC_NONE, which has no handler. */
	uint8_t buf[] = { 0, 0, 0, 0 };

	send_all(f->sv[1], buf, sizeof(buf));
	pump(f);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
}

static void
test_garbage_refused(void **state)
{
	struct ipc_fixture *f = *state;
	/* A truncated varint, then a length-delimited field running past the end. */
	static const uint8_t bodies[][6] = {
		{ 0, 0, 0, 2, 0x08, 0xff },
		{ 0, 0, 0, 2, 0x3a, 0x7f },
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		if (i > 0) {
			/* A fresh channel for each case. */
			teardown(state);
			assert_int_equal(setup(state), 0);
			f = *state;
		}
		send_all(f->sv[1], bodies[i], sizeof(bodies[i]));
		pump(f);
		assert_int_equal(f->n_seen, 0);
		assert_int_equal(f->closed, 1);
		assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
		assert_non_null(strstr(f->why, "unpack"));
	}
}

static void
test_eof(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[64];
	size_t len = frame_msg(buf, IPC_SENT, 5, NULL, 0);

	/* A complete frame right before EOF is still delivered. */
	send_all(f->sv[1], buf, len);
	close(f->sv[1]);
	f->sv[1] = -1;
	pump(f);
	assert_int_equal(f->n_seen, 1);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_EOF);
}

static void
test_truncated_at_eof(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[64];
	size_t len = frame_msg(buf, IPC_FATAL, 5, "abc", 0);

	send_all(f->sv[1], buf, len - 1);
	shutdown(f->sv[1], SHUT_WR);
	pump(f);
	assert_int_equal(f->n_seen, 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
}

/* A second channel on the test's end, sending through ipc_send. */
struct sender {
	struct ipc_dispatch	 dispatch;
	int			 closed;
};

static void
sender_closed(struct ipc_chan *c, enum ipc_close_reason reason, const char *why, void *arg)
{
	struct sender *s = arg;

	s->closed = 1;
}

static void
test_fd_passing(void **state)
{
	struct ipc_fixture *f = *state;
	struct sender s;
	int p[2];
	char got[16];

	memset(&s, 0, sizeof(s));
	s.dispatch.closed = sender_closed;
	struct ipc_chan *tx = ipc_chan_new(f->base, f->sv[1], "tx", &s.dispatch, &s);
	assert_non_null(tx);
	f->sv[1] = -1;	/* owned by tx now */
	assert_int_equal(pipe(p), 0);

	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	msg.type = IPC_PEER;
	msg.seq = 42;
	msg.body_case = NYMIPC__IPC__BODY_PEER;
	msg.peer = ROLE_NETD;
	/* A message before and after the one carrying the descriptor. */
	assert_int_equal(ipc_send_id(tx, IPC_SENT, 41), 0);
	assert_int_equal(ipc_send(tx, &msg, p[1]), 0);	/* p[1] now belongs to tx */
	assert_int_equal(ipc_send_id(tx, IPC_SENT, 43), 0);
	assert_true(ipc_pending_bytes(tx) > 0);
	pump(f);
	assert_int_equal(ipc_pending_bytes(tx), 0);
	assert_int_equal(s.closed, 0);
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->n_seen, 3);
	assert_int_equal(f->seen[0].seq, 0);
	assert_int_equal(f->seen[0].fd, -1);
	assert_int_equal(f->seen[1].type, IPC_PEER);
	assert_int_equal(f->seen[1].seq, 42);
	assert_int_equal(f->seen[2].fd, -1);

	/* The received descriptor is the pipe's write end, and works. */
	int fd = f->seen[1].fd;
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "peer", 4), 4);
	close(fd);
	f->seen[1].fd = -1;
	/* The sender closed its copy once sent: the pipe is now at EOF. */
	assert_int_equal(read(p[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "peer", 4);
	assert_int_equal(read(p[0], got, sizeof(got)), 0);
	close(p[0]);

	/* Flushing an empty queue is a no-op; closing tx ends the channel. */
	assert_int_equal(ipc_flush(tx), 0);
	ipc_chan_free(tx);
	pump(f);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_EOF);
}

static void
test_peer_without_fd_refused(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[64];
	size_t len = frame_msg(buf, IPC_PEER, 1, NULL, 0);

	send_all(f->sv[1], buf, len);
	pump(f);
	assert_int_equal(f->n_seen, 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
}

static void
test_send_after_close_and_flush(void **state)
{
	struct ipc_fixture *f = *state;
	uint8_t buf[64];

	/* ipc_flush writes synchronously; the peer reads the exact frame. */
	assert_int_equal(ipc_send_type(f->chan, IPC_SHUTDOWN, 9), 0);
	assert_int_equal(ipc_flush(f->chan), 0);
	assert_int_equal(ipc_pending_bytes(f->chan), 0);
	size_t want = frame_msg(buf + 32, IPC_SHUTDOWN, 9, NULL, 0);
	assert_int_equal(recv(f->sv[1], buf, 32, 0), (ssize_t)want);
	assert_memory_equal(buf, buf + 32, want);

	assert_string_equal(ipc_chan_name(f->chan), "test");
	assert_int_equal(ipc_chan_fd(f->chan), f->sv[0]);
	assert_string_equal(ipc_type_name(IPC_PEER), "IPC_PEER");
	assert_string_equal(ipc_type_name((Nymipc__IpcType)1000), "IPC_UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_parse),
		cmocka_unit_test_setup_teardown(test_split_one_byte_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_frames_in_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_frame_header_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unexpected_type_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_body_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_field_refused, setup, teardown),
		cmocka_unit_test(test_check_sizes),
		cmocka_unit_test(test_check_ack_ids),
		cmocka_unit_test(test_check_reply_blocks),
		cmocka_unit_test(test_check_fragments),
		cmocka_unit_test_setup_teardown(test_none_type_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_at_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_without_fd_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_after_close_and_flush, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

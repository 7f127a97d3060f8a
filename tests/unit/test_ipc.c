/*
 * Unit tests of the IPC channel on libevent over a socketpair: frames
 * split across reads or packed into one, oversize, unexpected and
 * garbage frames, a descriptor passed with IPC_PEER, and end of stream.
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
	snprintf(s->text, sizeof(s->text), "%s", msg->text != NULL ? msg->text : "");
	s->data_len = msg->data.len;
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
	/* The test expects READY, STATUS_REQUEST and PEER; nothing else. */
	f->dispatch.handlers[NYMIPC__IPC_TYPE__IPC_READY] = on_msg;
	f->dispatch.handlers[NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST] = on_msg;
	f->dispatch.handlers[NYMIPC__IPC_TYPE__IPC_PEER] = on_msg;
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

/* Appends a framed message to out; returns its total size. */
static size_t
frame_msg(uint8_t *out, Nymipc__IpcType type, uint64_t seq, const char *text,
    size_t data_len)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	static uint8_t data[4096];

	msg.type = type;
	msg.seq = seq;
	if (text != NULL)
		msg.text = (char *)text;
	memset(data, 0x42, sizeof(data));
	msg.data.data = data;
	msg.data.len = data_len;
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
	size_t len1 = frame_msg(buf, NYMIPC__IPC_TYPE__IPC_READY, 7, "hello", 300);
	size_t len2 = frame_msg(buf + len1, NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST,
	    UINT64_MAX, NULL, 0);

	for (size_t i = 0; i < len1 + len2; i++) {
		send_all(f->sv[1], buf + i, 1);
		pump(f);
		size_t want = i + 1 < len1 ? 0 : i + 1 < len1 + len2 ? 1 : 2;
		if (f->n_seen != want)
			fail_msg("after byte %zu: %zu messages, want %zu", i, f->n_seen, want);
	}
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->seen[0].type, NYMIPC__IPC_TYPE__IPC_READY);
	assert_int_equal(f->seen[0].seq, 7);
	assert_string_equal(f->seen[0].text, "hello");
	assert_int_equal(f->seen[0].data_len, 300);
	assert_int_equal(f->seen[0].fd, -1);
	assert_int_equal(f->seen[1].type, NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST);
	assert_true(f->seen[1].seq == UINT64_MAX);
}

static void
test_several_frames_in_one_read(void **state)
{
	struct ipc_fixture *f = *state;
	static uint8_t buf[16384];
	size_t len = 0;

	for (uint64_t i = 0; i < 10; i++)
		len += frame_msg(buf + len, i % 2 ? NYMIPC__IPC_TYPE__IPC_READY :
		    NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST, i, "x", (size_t)i * 100);
	/* And the first half of an eleventh. */
	size_t last = frame_msg(buf + len, NYMIPC__IPC_TYPE__IPC_READY, 10, "tail", 50);
	send_all(f->sv[1], buf, len + last / 2);
	pump(f);
	assert_int_equal(f->n_seen, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(f->seen[i].seq, i);
		assert_int_equal(f->seen[i].data_len, i * 100);
	}
	send_all(f->sv[1], buf + len + last / 2, last - last / 2);
	pump(f);
	assert_int_equal(f->n_seen, 11);
	assert_string_equal(f->seen[10].text, "tail");
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
	size_t len = frame_msg(buf, NYMIPC__IPC_TYPE__IPC_READY, 1, NULL, 0);

	len += frame_msg(buf + len, NYMIPC__IPC_TYPE__IPC_FATAL, 2, "boom", 0);
	len += frame_msg(buf + len, NYMIPC__IPC_TYPE__IPC_READY, 3, NULL, 0);
	send_all(f->sv[1], buf, len);
	pump(f);
	/* The first frame is handled, the second closes, the third is never seen. */
	assert_int_equal(f->n_seen, 1);
	assert_int_equal(f->closed, 1);
	assert_int_equal(f->reason, IPC_CLOSED_PROTOCOL);
	assert_non_null(strstr(f->why, "IPC_FATAL"));
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
	size_t len = frame_msg(buf, NYMIPC__IPC_TYPE__IPC_READY, 5, NULL, 0);

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
	size_t len = frame_msg(buf, NYMIPC__IPC_TYPE__IPC_READY, 5, "abc", 0);

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
	msg.type = NYMIPC__IPC_TYPE__IPC_PEER;
	msg.seq = 42;
	msg.peer = NYMIPC__ROLE__ROLE_NETD;
	/* A message before and after the one carrying the descriptor. */
	assert_int_equal(ipc_send_type(tx, NYMIPC__IPC_TYPE__IPC_READY, 41), 0);
	assert_int_equal(ipc_send(tx, &msg, p[1]), 0);	/* p[1] now belongs to tx */
	assert_int_equal(ipc_send_type(tx, NYMIPC__IPC_TYPE__IPC_READY, 43), 0);
	assert_true(ipc_pending_bytes(tx) > 0);
	pump(f);
	assert_int_equal(ipc_pending_bytes(tx), 0);
	assert_int_equal(s.closed, 0);
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->n_seen, 3);
	assert_int_equal(f->seen[0].seq, 41);
	assert_int_equal(f->seen[0].fd, -1);
	assert_int_equal(f->seen[1].type, NYMIPC__IPC_TYPE__IPC_PEER);
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
	size_t len = frame_msg(buf, NYMIPC__IPC_TYPE__IPC_PEER, 1, NULL, 0);

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
	assert_int_equal(ipc_send_type(f->chan, NYMIPC__IPC_TYPE__IPC_SHUTDOWN, 9), 0);
	assert_int_equal(ipc_flush(f->chan), 0);
	assert_int_equal(ipc_pending_bytes(f->chan), 0);
	size_t want = frame_msg(buf + 32, NYMIPC__IPC_TYPE__IPC_SHUTDOWN, 9, NULL, 0);
	assert_int_equal(recv(f->sv[1], buf, 32, 0), (ssize_t)want);
	assert_memory_equal(buf, buf + 32, want);

	assert_string_equal(ipc_chan_name(f->chan), "test");
	assert_int_equal(ipc_chan_fd(f->chan), f->sv[0]);
	assert_string_equal(ipc_type_name(NYMIPC__IPC_TYPE__IPC_PEER), "IPC_PEER");
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

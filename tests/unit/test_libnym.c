/*
 * Unit tests of libnym against a fake nymd on the other end of a
 * socketpair. The fake speaks the real framing: a test writes nymd's
 * answers first (the socket buffers them), makes the call, then reads
 * back and checks the exact Request the library sent.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/frame.h"
#include "libnym/nym.h"
#include "types.pb-c.h"

#define KEY_A	"z-OQECd8VgC1BeVi6HsHMUbn3REnqZq1uXcyy9j7Hxc="
#define KEY_B	"R_rGKmwelVAVRpicMwMIJwsHvdYHMNfcItPwNipu5GQ="
#define KEY_P	"XiVE6xA10xFkAwfIQuBDc_JRXWerL0Pcqi7DipEUeTE="
#define NOT_AVAILABLE \
	"send: not available in this version of nymd: the message transport is not built yet"

struct fixture {
	struct nym_client	*c;
	int			 srv;	/* the fake nymd's end */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(nym_connect_fd(&f->c, sv[0]), 0);
	/* A test that goes wrong fails instead of hanging. */
	assert_int_equal(nym_set_timeout(f->c, 2000), 0);
	f->srv = sv[1];
	struct timeval tv = { .tv_sec = 2 };
	assert_int_equal(setsockopt(f->srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nym_close(f->c);
	if (f->srv != -1)
		close(f->srv);
	free(f);
	return 0;
}

static void
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Writes one framed Response as nymd does. */
static void
srv_respond(int fd, const Types__Response *res)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	size_t len = types__response__get_packed_size(res);
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	types__response__pack(res, buf);
	write_all(fd, hdr, frame_put_varint(hdr, (int64_t)len));
	write_all(fd, buf, len);
	free(buf);
}

/* Reads one framed Request as nymd does; free with types__request__free_unpacked. */
static Types__Request *
srv_request(int fd)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES], *buf;
	size_t have = 0, len = 0;
	int n;

	do {
		assert_int_equal(read(fd, hdr + have, 1), 1);
		have++;
		n = frame_parse_length(hdr, have, FRAME_MAX_MESSAGE_BYTES, &len);
		assert_true(n >= 0);
	} while (n == 0);
	assert_non_null(buf = malloc(len ? len : 1));
	for (size_t got = 0; got < len; ) {
		ssize_t r = read(fd, buf + got, len - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	Types__Request *req = types__request__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(req);
	return req;
}

static void
srv_expect(int fd, Types__Request__ValueCase what)
{
	Types__Request *req = srv_request(fd);

	assert_int_equal(req->value_case, what);
	types__request__free_unpacked(req, NULL);
}

static void
key_of(uint8_t key[NYM_KEY_BYTES], const char *id)
{
	assert_int_equal(nym_key_from_id(key, id), 0);
}

/* A ClientConfig as nymd's api.c builds it: its provider in full. */
struct pb_client {
	Config__ClientConfig	c;
	Config__MixConfig	p;
	uint8_t			key[NYM_KEY_BYTES];
	uint8_t			pkey[NYM_KEY_BYTES];
};

static void
pb_client_init(struct pb_client *pc, const char *id)
{
	config__client_config__init(&pc->c);
	config__mix_config__init(&pc->p);
	key_of(pc->key, id);
	key_of(pc->pkey, KEY_P);
	pc->c.id = (char *)(uintptr_t)id;
	pc->c.pubkey.data = pc->key;
	pc->c.pubkey.len = NYM_KEY_BYTES;
	pc->p.id = KEY_P;
	pc->p.host = "127.0.0.1";
	pc->p.port = "9200";
	pc->p.pubkey.data = pc->pkey;
	pc->p.pubkey.len = NYM_KEY_BYTES;
	pc->p.layer = 1000000;
	pc->c.provider = &pc->p;
}

static void
srv_details(int fd, const char *id)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseOwnDetails d = TYPES__RESPONSE_OWN_DETAILS__INIT;
	struct pb_client pc;

	pb_client_init(&pc, id);
	d.details = &pc.c;
	res.value_case = TYPES__RESPONSE__VALUE_DETAILS;
	res.details = &d;
	srv_respond(fd, &res);
}

/* A clients answer listing the n ids (at most 3). */
static void
srv_clients_of(int fd, const char *const *ids, size_t n)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseGetClients cl = TYPES__RESPONSE_GET_CLIENTS__INIT;
	struct pb_client pc[3];
	Config__ClientConfig *list[3];

	assert_true(n <= 3);
	for (size_t i = 0; i < n; i++) {
		pb_client_init(&pc[i], ids[i]);
		list[i] = &pc[i].c;
	}
	cl.clients = list;
	cl.n_clients = n;
	res.value_case = TYPES__RESPONSE__VALUE_CLIENTS;
	res.clients = &cl;
	srv_respond(fd, &res);
}

static void
srv_clients(int fd)
{
	static const char *const ab[] = { KEY_A, KEY_B };

	srv_clients_of(fd, ab, 2);
}

/* The next request is clients, with refresh as given. */
static void
srv_expect_clients(int fd, int refresh)
{
	Types__Request *req = srv_request(fd);

	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_CLIENTS);
	assert_non_null(req->clients);
	assert_int_equal(req->clients->refresh, refresh);
	types__request__free_unpacked(req, NULL);
}

static void
srv_exception(int fd, const char *text)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseException ex = TYPES__RESPONSE_EXCEPTION__INIT;

	ex.error = (char *)(uintptr_t)text;
	res.value_case = TYPES__RESPONSE__VALUE_EXCEPTION;
	res.exception = &ex;
	srv_respond(fd, &res);
}

static void
srv_empty(int fd, Types__Response__ValueCase what)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage s = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	Types__ResponseFlush fl = TYPES__RESPONSE_FLUSH__INIT;

	res.value_case = what;
	if (what == TYPES__RESPONSE__VALUE_SEND)
		res.send = &s;
	else
		res.flush = &fl;
	srv_respond(fd, &res);
}

static void
srv_fetch(int fd, const char *const *msgs, const size_t *lens, size_t n)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseFetchMessages fm = TYPES__RESPONSE_FETCH_MESSAGES__INIT;
	ProtobufCBinaryData b[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		b[i].data = (uint8_t *)(uintptr_t)msgs[i];
		b[i].len = lens[i];
	}
	fm.messages = b;
	fm.n_messages = n;
	res.value_case = TYPES__RESPONSE__VALUE_FETCH;
	res.fetch = &fm;
	srv_respond(fd, &res);
}

static void
check_client(const struct nym_client_config *c, const char *id)
{
	uint8_t key[NYM_KEY_BYTES], pkey[NYM_KEY_BYTES];

	key_of(key, id);
	key_of(pkey, KEY_P);
	assert_string_equal(c->id, id);
	assert_true(c->has_pubkey);
	assert_memory_equal(c->pubkey, key, NYM_KEY_BYTES);
	assert_true(c->has_provider);
	assert_string_equal(c->provider.id, KEY_P);
	assert_string_equal(c->provider.host, "127.0.0.1");
	assert_string_equal(c->provider.port, "9200");
	assert_true(c->provider.has_pubkey);
	assert_memory_equal(c->provider.pubkey, pkey, NYM_KEY_BYTES);
	assert_int_equal(c->provider.layer, 1000000);
}

static void
test_details(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;

	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), 0);
	check_client(&d, KEY_A);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
}

/* The exact bytes of a details request: length 2, field 5, empty message. */
static void
test_request_bytes(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;
	uint8_t got[3];

	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), 0);
	assert_int_equal(read(f->srv, got, sizeof(got)), 3);
	assert_memory_equal(got, "\x04\x2a\x00", 3);
}

static void
test_clients(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config *list;
	size_t n;

	srv_clients(f->srv);
	assert_int_equal(nym_clients(f->c, &list, &n), 0);
	assert_int_equal(n, 2);
	check_client(&list[0], KEY_A);
	check_client(&list[1], KEY_B);
	nym_clients_free(list);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_CLIENTS);
}

static void
test_fetch(void **state)
{
	struct fixture *f = *state;
	const char *msgs[] = { "hello", "", "a\0b" };
	const size_t lens[] = { 5, 0, 3 };
	struct nym_message *m;
	size_t n;

	srv_fetch(f->srv, msgs, lens, 3);
	assert_int_equal(nym_fetch(f->c, &m, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m[i].len, lens[i]);
		assert_memory_equal(m[i].data, msgs[i], lens[i]);
		assert_int_equal(m[i].data[m[i].len], '\0');
	}
	nym_messages_free(m);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_FETCH);

	/* Nothing received: no array. */
	srv_fetch(f->srv, NULL, NULL, 0);
	assert_int_equal(nym_fetch(f->c, &m, &n), 0);
	assert_int_equal(n, 0);
	assert_null(m);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_FETCH);
}

static void
test_send(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config to;
	uint8_t key[NYM_KEY_BYTES];

	memset(&to, 0, sizeof(to));
	snprintf(to.id, sizeof(to.id), "%s", KEY_B);
	key_of(to.pubkey, KEY_B);
	to.has_pubkey = 1;
	to.has_provider = 1;
	snprintf(to.provider.id, sizeof(to.provider.id), "%s", KEY_P);
	snprintf(to.provider.host, sizeof(to.provider.host), "127.0.0.1");
	snprintf(to.provider.port, sizeof(to.provider.port), "9200");
	key_of(to.provider.pubkey, KEY_P);
	to.provider.has_pubkey = 1;
	to.provider.layer = 1000000;

	srv_empty(f->srv, TYPES__RESPONSE__VALUE_SEND);
	assert_int_equal(nym_send(f->c, &to, "hi\0there", 8), 0);
	Types__Request *req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_int_equal(req->send->message.len, 8);
	assert_memory_equal(req->send->message.data, "hi\0there", 8);
	Config__ClientConfig *r = req->send->recipient;
	assert_non_null(r);
	assert_string_equal(r->id, KEY_B);
	key_of(key, KEY_B);
	assert_int_equal(r->pubkey.len, NYM_KEY_BYTES);
	assert_memory_equal(r->pubkey.data, key, NYM_KEY_BYTES);
	assert_non_null(r->provider);
	assert_string_equal(r->provider->id, KEY_P);
	assert_string_equal(r->provider->host, "127.0.0.1");
	assert_string_equal(r->provider->port, "9200");
	assert_int_equal(r->provider->layer, 1000000);
	types__request__free_unpacked(req, NULL);

	/* Only an id: the key is taken from it, there is no provider. */
	memset(&to, 0, sizeof(to));
	snprintf(to.id, sizeof(to.id), "%s", KEY_A);
	srv_empty(f->srv, TYPES__RESPONSE__VALUE_SEND);
	assert_int_equal(nym_send(f->c, &to, "", 0), 0);
	req = srv_request(f->srv);
	key_of(key, KEY_A);
	assert_int_equal(req->send->recipient->pubkey.len, NYM_KEY_BYTES);
	assert_memory_equal(req->send->recipient->pubkey.data, key, NYM_KEY_BYTES);
	assert_null(req->send->recipient->provider);
	assert_int_equal(req->send->message.len, 0);
	types__request__free_unpacked(req, NULL);
}

static void
test_send_id(void **state)
{
	struct fixture *f = *state;

	srv_clients(f->srv);
	srv_empty(f->srv, TYPES__RESPONSE__VALUE_SEND);
	assert_int_equal(nym_send_id(f->c, KEY_B, "m", 1), 0);
	srv_expect_clients(f->srv, 0);
	Types__Request *req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_string_equal(req->send->recipient->id, KEY_B);
	assert_string_equal(req->send->recipient->provider->host, "127.0.0.1");
	types__request__free_unpacked(req, NULL);

	/* Not in the list, but in the one fetched afresh (it registered
	 * since nymd last fetched the topology): sent. */
	static const char *const abp[] = { KEY_A, KEY_B, KEY_P };
	srv_clients(f->srv);
	srv_clients_of(f->srv, abp, 3);
	srv_empty(f->srv, TYPES__RESPONSE__VALUE_SEND);
	assert_int_equal(nym_send_id(f->c, KEY_P, "m", 1), 0);
	srv_expect_clients(f->srv, 0);
	srv_expect_clients(f->srv, 1);
	req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_string_equal(req->send->recipient->id, KEY_P);
	types__request__free_unpacked(req, NULL);

	/* Not registered, even afresh: no send goes out. */
	srv_clients(f->srv);
	srv_clients(f->srv);
	assert_int_equal(nym_send_id(f->c, KEY_P, "m", 1), NYM_ERR_NOT_FOUND);
	assert_non_null(strstr(nym_last_error(f->c), "not a registered client"));
	srv_expect_clients(f->srv, 0);
	srv_expect_clients(f->srv, 1);

	/* Not an id: nothing goes out at all. */
	assert_int_equal(nym_send_id(f->c, "alice", "m", 1), NYM_ERR_INVALID);
	assert_int_equal(nym_send_id(f->c, KEY_A "x", "m", 1), NYM_ERR_INVALID);
	srv_details(f->srv, KEY_A);
	struct nym_client_config d;
	assert_int_equal(nym_details(f->c, &d), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
}

static void
test_exception(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config to = { .id = KEY_B };
	struct nym_client_config d;

	srv_exception(f->srv, NOT_AVAILABLE);
	assert_int_equal(nym_send(f->c, &to, "x", 1), NYM_ERR_REMOTE);
	assert_string_equal(nym_last_error(f->c), NOT_AVAILABLE);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	/* An exception leaves the connection usable. */
	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
}

static void
test_wrong_answer(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;
	struct nym_message *m;
	size_t n;

	/* A clients answer to a details request. */
	srv_clients(f->srv);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "details request with a clients response"));
	/* A body that is not a Response. */
	write_all(f->srv, "\x04\xff\xff", 3);
	assert_int_equal(nym_fetch(f->c, &m, &n), NYM_ERR_PROTOCOL);
	/* An empty Response. */
	write_all(f->srv, "\x00", 1);
	assert_int_equal(nym_flush(f->c), NYM_ERR_PROTOCOL);
	/* Framing held: the connection still works. */
	srv_empty(f->srv, TYPES__RESPONSE__VALUE_FLUSH);
	assert_int_equal(nym_flush(f->c), 0);
}

static void
test_bad_fields(void **state)
{
	struct fixture *f = *state;
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseOwnDetails od = TYPES__RESPONSE_OWN_DETAILS__INIT;
	struct nym_client_config d;
	struct pb_client pc;
	char host[NYM_HOST_BYTES + 1];

	res.value_case = TYPES__RESPONSE__VALUE_DETAILS;
	res.details = &od;
	od.details = &pc.c;

	pb_client_init(&pc, KEY_A);
	pc.c.pubkey.len = 31;
	srv_respond(f->srv, &res);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "PubKey is 31 bytes"));

	pb_client_init(&pc, KEY_A);
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	pc.p.host = host;
	srv_respond(f->srv, &res);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "provider Host"));

	/* No ClientConfig in a details response. */
	od.details = NULL;
	srv_respond(f->srv, &res);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
}

static void
test_bad_frame(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;

	/* A negative length: the stream cannot be trusted any more. */
	write_all(f->srv, "\x01", 1);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "negative frame length"));
	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_IO);
}

static void
test_huge_frame(void **state)
{
	struct fixture *f = *state;
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	struct nym_client_config d;

	write_all(f->srv, hdr, frame_put_varint(hdr, (int64_t)NYM_MAX_RESPONSE_BYTES + 1));
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	write_all(f->srv, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_IO);
}

static void
test_closed(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;

	/* Half an answer, then nymd stops writing. */
	write_all(f->srv, "\x10\x2a", 2);
	shutdown(f->srv, SHUT_WR);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_IO);
	assert_non_null(strstr(nym_last_error(f->c), "closed the connection"));
	/* Writing to a closed peer is an error, not a SIGPIPE. */
	assert_int_equal(nym_flush(f->c), NYM_ERR_IO);
}

static void
test_write_to_closed(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;

	close(f->srv);
	f->srv = -1;
	int rc = nym_details(f->c, &d);
	assert_int_equal(rc, NYM_ERR_IO);
}

static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config d;

	assert_int_equal(nym_set_timeout(f->c, 100), 0);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_TIMEOUT);
	/* A late answer would be taken for the next request's: refuse. */
	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_IO);
}

static void
test_too_large(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config to = { .id = KEY_B };
	char *big = calloc(1, NYM_MAX_REQUEST_BYTES);
	uint8_t b;

	assert_non_null(big);
	assert_int_equal(nym_send(f->c, &to, big, NYM_MAX_REQUEST_BYTES), NYM_ERR_INVALID);
	assert_non_null(strstr(nym_last_error(f->c), "larger than nymd's limit"));
	free(big);
	/* Nothing was written. */
	assert_int_equal(recv(f->srv, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* An unterminated string in the recipient. */
	memset(to.port, 'p', sizeof(to.port));
	assert_int_equal(nym_send(f->c, &to, "x", 1), NYM_ERR_INVALID);
}

static void
test_ids(void **state)
{
	uint8_t key[NYM_KEY_BYTES];
	char id[NYM_ID_CHARS + 1];

	assert_int_equal(nym_key_from_id(key, KEY_A), 0);
	nym_id_from_key(id, key);
	assert_string_equal(id, KEY_A);
	assert_int_equal(nym_key_from_id(key, "z+OQECd8VgC1BeVi6HsHMUbn3REnqZq1uXcyy9j7Hxc="),
	    NYM_ERR_INVALID);
	assert_int_equal(nym_key_from_id(key, "z-OQECd8VgC1BeVi6HsHMUbn3REnqZq1uXcyy9j7Hxc"),
	    NYM_ERR_INVALID);
	assert_int_equal(nym_key_from_id(key, ""), NYM_ERR_INVALID);
	assert_int_equal(nym_key_from_id(key, NULL), NYM_ERR_INVALID);
}

static void
test_paths(void **state)
{
	char buf[256], long_home[200], long_id[66];

	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "alice", "/srv/n"), 0);
	assert_string_equal(buf, "/srv/n/clients/alice/nymd.sock");
	setenv("NYMD_HOME", "/var/lib/nymd", 1);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "a.b_c-9", NULL), 0);
	assert_string_equal(buf, "/var/lib/nymd/clients/a.b_c-9/nymd.sock");
	setenv("NYMD_HOME", "", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "alice", NULL), 0);
	assert_string_equal(buf, "/home/u/.loopix/clients/alice/nymd.sock");
	unsetenv("NYMD_HOME");

	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "..", "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "a/b", "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "", "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), NULL, "/x"), NYM_ERR_INVALID);
	/* nymd's own --id rule: no leading '-' or '.', at most 64 characters. */
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "-x", "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), ".x", "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "x.-_9", "/x"), 0);
	memset(long_id, 'i', 64);
	long_id[64] = '\0';
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), long_id, "/x"), 0);
	long_id[64] = 'i';
	long_id[65] = '\0';
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), long_id, "/x"), NYM_ERR_INVALID);
	assert_int_equal(nym_default_socket_path(buf, 10, "alice", "/x"), NYM_ERR_INVALID);
	/* Longer than a unix socket path can be. */
	memset(long_home, 'd', sizeof(long_home) - 1);
	long_home[0] = '/';
	long_home[sizeof(long_home) - 1] = '\0';
	assert_int_equal(nym_default_socket_path(buf, sizeof(buf), "alice", long_home),
	    NYM_ERR_INVALID);
}

static void
test_strerror(void **state)
{
	for (int e = NYM_OK; e >= NYM_ERR_CANCELED; e--)
		assert_string_not_equal(nym_strerror(e), "unknown libnym error");
	assert_string_equal(nym_strerror(-100), "unknown libnym error");
}

static void
test_connect(void **state)
{
	char dir[] = "/tmp/test_libnym.XXXXXX", path[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct nym_client *c;
	char port[16];
	int l;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nymd.sock", dir);
	assert_int_equal(nym_connect_unix(&c, path), NYM_ERR_CONNECT);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(nym_last_error(NULL), path));

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_true((l = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(nym_connect_unix(&c, path), 0);
	nym_close(c);
	close(l);
	unlink(path);
	rmdir(dir);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &slen), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	assert_int_equal(nym_connect_tcp(&c, "127.0.0.1", port), 0);
	nym_close(c);
	close(l);
	assert_int_equal(nym_connect_tcp(&c, "127.0.0.1", port), NYM_ERR_CONNECT);
	assert_int_equal(nym_connect_tcp(&c, "127.0.0.1", "http"), NYM_ERR_CONNECT);
	assert_int_equal(nym_connect_unix(&c, ""), NYM_ERR_INVALID);
}

/* nym_client_start's failures, with a fake nymd that cannot serve. */
static void
test_start_errors(void **state)
{
	char home[] = "/tmp/test_libnym.XXXXXX", cfg[256];
	struct nym_client *c;
	FILE *fp;

	assert_non_null(mkdtemp(home));
	assert_int_equal(nym_client_start(&c, "../x", home), NYM_ERR_INVALID);
	assert_int_equal(nym_client_start(&c, "alice", home), NYM_ERR_NOT_FOUND);
	assert_non_null(strstr(nym_last_error(NULL), "nymd init --id alice"));

	snprintf(cfg, sizeof(cfg), "%s/clients", home);
	assert_int_equal(mkdir(cfg, 0700), 0);
	snprintf(cfg, sizeof(cfg), "%s/clients/alice", home);
	assert_int_equal(mkdir(cfg, 0700), 0);
	snprintf(cfg, sizeof(cfg), "%s/clients/alice/config", home);
	assert_int_equal(mkdir(cfg, 0700), 0);
	snprintf(cfg, sizeof(cfg), "%s/clients/alice/config/config.toml", home);
	assert_non_null(fp = fopen(cfg, "w"));
	fclose(fp);

	setenv("NYMD_BINARY", "/nonexistent/nymd", 1);
	assert_int_equal(nym_client_start(&c, "alice", home), NYM_ERR_START);
	assert_non_null(strstr(nym_last_error(NULL), "NYMD_BINARY"));
	/* A "nymd" that exits at once. */
	setenv("NYMD_BINARY", "/bin/false", 1);
	assert_int_equal(nym_client_start(&c, "alice", home), NYM_ERR_START);
	assert_non_null(strstr(nym_last_error(NULL), "exited before its socket was ready"));
	/* The same, in an application that ignores its children: no wait for the timeout. */
	time_t t0 = time(NULL);
	signal(SIGCHLD, SIG_IGN);
	assert_int_equal(nym_client_start(&c, "alice", home), NYM_ERR_START);
	signal(SIGCHLD, SIG_DFL);
	assert_non_null(strstr(nym_last_error(NULL), "exited before its socket was ready"));
	assert_true(time(NULL) - t0 < NYM_START_TIMEOUT_MS / 1000 / 2);
	unsetenv("NYMD_BINARY");

	unlink(cfg);
	snprintf(cfg, sizeof(cfg), "%s/clients/alice/config", home);
	rmdir(cfg);
	snprintf(cfg, sizeof(cfg), "%s/clients/alice", home);
	rmdir(cfg);
	snprintf(cfg, sizeof(cfg), "%s/clients", home);
	rmdir(cfg);
	rmdir(home);
}

/* The asynchronous API. */
struct async_log {
	int			 calls;
	int			 order[8];
	int			 errs[8];
	char			 text[8][128];
	int			 lost;
	struct event_base	*base;
	int			 free_in_cb;
};

static void
log_call(struct async_log *l, int what, int err, const char *text)
{
	assert_true(l->calls < 8);
	l->order[l->calls] = what;
	l->errs[l->calls] = err;
	snprintf(l->text[l->calls], sizeof(l->text[0]), "%s", text != NULL ? text : "");
	l->calls++;
}

static void
on_details(struct nym_async *a, int err, const struct nym_client_config *d, void *arg)
{
	struct async_log *l = arg;

	log_call(l, 1, err, err == 0 ? d->id : NULL);
	if (l->free_in_cb)
		nym_async_free(a);
}

static void
on_clients(struct nym_async *a, int err, const struct nym_client_config *list,
    size_t n, void *arg)
{
	log_call(arg, 2, err, err == 0 && n == 2 ? list[1].id : NULL);
}

static void
on_fetch(struct nym_async *a, int err, const struct nym_message *m, size_t n, void *arg)
{
	log_call(arg, 3, err, err == 0 && n == 1 ? (const char *)m[0].data : NULL);
}

static void
on_send(struct nym_async *a, int err, void *arg)
{
	log_call(arg, 4, err, err == NYM_ERR_REMOTE ? nym_async_last_error(a) : NULL);
}

static void
on_lost(struct nym_async *a, int err, void *arg)
{
	struct async_log *l = arg;

	l->lost++;
	event_base_loopbreak(l->base);
}

static void
run_until(struct event_base *base, const struct async_log *l, int calls)
{
	for (int i = 0; i < 200 && l->calls < calls; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* Runs the loop, blocking, until calls callbacks or ms have passed. */
static void
run_until_ms(struct event_base *base, const struct async_log *l, int calls, int ms)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 10000 };

	for (int waited = 0; waited < ms && l->calls < calls; waited += 10) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* Runs the loop without blocking, so that queued requests are written. */
static void
pump(struct event_base *base)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static struct nym_async *
async_open(struct fixture *f, struct event_base *base, struct async_log *l)
{
	struct nym_async *a;

	assert_int_equal(nym_async_new(&a, base, f->c), 0);
	f->c = NULL;	/* the async handle owns it now */
	nym_async_set_error_cb(a, on_lost, l);
	l->base = base;
	return a;
}

static void
test_async_in_order(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };
	struct nym_client_config to = { .id = KEY_B };
	const char *msgs[] = { "incoming" };
	const size_t lens[] = { 8 };

	assert_non_null(base);
	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	assert_int_equal(nym_async_clients(a, on_clients, &l), 0);
	assert_int_equal(nym_async_fetch(a, on_fetch, &l), 0);
	assert_int_equal(nym_async_send(a, &to, "x", 1, on_send, &l), 0);
	pump(base);
	/* nymd reads them in order ... */
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_CLIENTS);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_FETCH);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	/* ... and answers in order, the first answer arriving byte by byte. */
	int p[2];
	uint8_t buf[512];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	srv_details(p[1], KEY_A);
	ssize_t dlen = read(p[0], buf, sizeof(buf));
	assert_true(dlen > 2);
	close(p[0]);
	close(p[1]);
	for (ssize_t i = 0; i < dlen; i++) {
		write_all(f->srv, buf + i, 1);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		assert_int_equal(l.calls, i == dlen - 1 ? 1 : 0);
	}
	srv_clients(f->srv);
	srv_fetch(f->srv, msgs, lens, 1);
	srv_exception(f->srv, NOT_AVAILABLE);
	run_until(base, &l, 4);
	assert_int_equal(l.calls, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(l.order[i], i + 1);
	assert_int_equal(l.errs[0], 0);
	assert_string_equal(l.text[0], KEY_A);
	assert_int_equal(l.errs[1], 0);
	assert_string_equal(l.text[1], KEY_B);
	assert_int_equal(l.errs[2], 0);
	assert_string_equal(l.text[2], "incoming");
	assert_int_equal(l.errs[3], NYM_ERR_REMOTE);
	assert_string_equal(l.text[3], NOT_AVAILABLE);
	assert_int_equal(l.lost, 0);
	nym_async_free(a);
	event_base_free(base);
}

static void
test_async_lost(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	assert_int_equal(nym_async_fetch(a, on_fetch, &l), 0);
	pump(base);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_FETCH);
	close(f->srv);
	f->srv = -1;
	event_base_dispatch(base);
	assert_int_equal(l.calls, 2);
	assert_int_equal(l.errs[0], NYM_ERR_IO);
	assert_int_equal(l.errs[1], NYM_ERR_IO);
	assert_int_equal(l.lost, 1);
	assert_non_null(strstr(nym_async_last_error(a), "closed the connection"));
	/* After a failure, requests are refused at once. */
	assert_int_equal(nym_async_details(a, on_details, &l), NYM_ERR_IO);
	nym_async_free(a);
	event_base_free(base);
}

static void
test_async_unasked(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	struct nym_async *a = async_open(f, base, &l);
	srv_details(f->srv, KEY_A);
	event_base_dispatch(base);
	assert_int_equal(l.lost, 1);
	assert_non_null(strstr(nym_async_last_error(a), "never made"));
	nym_async_free(a);
	event_base_free(base);
}

static void
test_async_free(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { .free_in_cb = 1 };

	/* Freed from the first callback: the rest are canceled, nothing leaks. */
	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	assert_int_equal(nym_async_clients(a, on_clients, &l), 0);
	assert_int_equal(nym_async_fetch(a, on_fetch, &l), 0);
	srv_details(f->srv, KEY_A);
	srv_clients(f->srv);
	run_until(base, &l, 3);
	assert_int_equal(l.calls, 3);
	assert_int_equal(l.errs[0], 0);
	assert_int_equal(l.errs[1], NYM_ERR_CANCELED);
	assert_int_equal(l.errs[2], NYM_ERR_CANCELED);
	assert_int_equal(l.lost, 0);
	event_base_free(base);
}

static void
test_async_free_outside(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_fetch(a, on_fetch, &l), 0);
	nym_async_free(a);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.errs[0], NYM_ERR_CANCELED);
	event_base_free(base);
}

/* nymd's subscribe answer, and a push of n messages. */
static void
srv_subscribed(int fd)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSubscribe su = TYPES__RESPONSE_SUBSCRIBE__INIT;

	res.value_case = TYPES__RESPONSE__VALUE_SUBSCRIBE;
	res.subscribe = &su;
	srv_respond(fd, &res);
}

static void
srv_push(int fd, const char *const *msgs, size_t n)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponsePushed pu = TYPES__RESPONSE_PUSHED__INIT;
	ProtobufCBinaryData b[4];

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++) {
		b[i].data = (uint8_t *)(uintptr_t)msgs[i];
		b[i].len = strlen(msgs[i]);
	}
	pu.messages = b;
	pu.n_messages = n;
	res.value_case = TYPES__RESPONSE__VALUE_PUSHED;
	res.pushed = &pu;
	srv_respond(fd, &res);
}

static void
srv_limits(int fd, uint64_t max_message)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseLimits li = TYPES__RESPONSE_LIMITS__INIT;

	li.max_message_bytes = max_message;
	li.max_request_bytes = 1048576;
	res.value_case = TYPES__RESPONSE__VALUE_LIMITS;
	res.limits = &li;
	srv_respond(fd, &res);
}

static void
test_connect_fd_not_socket(void **state)
{
	struct nym_client *c = NULL;
	int p[2], sv[2];

	/* A pipe, a file, a datagram socket: refused, and left open. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(nym_connect_fd(&c, p[0]), NYM_ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(nym_last_error(NULL), "is not a socket"));
	assert_int_equal(fcntl(p[0], F_GETFD), 0);
	close(p[0]);
	close(p[1]);
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(nym_connect_fd(&c, fd), NYM_ERR_INVALID);
	close(fd);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	assert_int_equal(nym_connect_fd(&c, sv[0]), NYM_ERR_INVALID);
	assert_non_null(strstr(nym_last_error(NULL), "not a stream socket"));
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(nym_connect_fd(&c, 999), NYM_ERR_INVALID);
	assert_null(c);
}

static void
test_version_and_pid(void **state)
{
	struct fixture *f = *state;
	char want[32];
	long pid = 0;

	snprintf(want, sizeof(want), "%d.%d.%d", NYM_VERSION_MAJOR, NYM_VERSION_MINOR,
	    NYM_VERSION_PATCH);
	assert_string_equal(nym_version(), want);
	assert_string_equal(nym_version(), PACKAGE_VERSION);
	/* The peer of a socketpair is this process. */
	assert_int_equal(nym_daemon_pid(f->c, &pid), 0);
	assert_int_equal(pid, (long)getpid());
	assert_int_equal(nym_daemon_pid(NULL, &pid), NYM_ERR_INVALID);
}

static void
test_max_message_size(void **state)
{
	struct fixture *f = *state;
	size_t max = 0;

	srv_limits(f->srv, 2031);
	assert_int_equal(nym_max_message_size(f->c, &max), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_LIMITS);
	assert_int_equal(max, 2031);
	/* An answer naming no size is nymd's error, not a size of 0. */
	srv_limits(f->srv, 0);
	assert_int_equal(nym_max_message_size(f->c, &max), NYM_ERR_PROTOCOL);
	assert_int_equal(max, 0);
}

static void
test_wait_message(void **state)
{
	struct fixture *f = *state;
	const char *first[] = { "one", "two" };
	const char *later[] = { "three" };
	struct nym_message *m;
	struct nym_client_config d;

	/* Subscribes once, gets what was pushed, one message per call. */
	srv_subscribed(f->srv);
	srv_push(f->srv, first, 2);
	assert_int_equal(nym_wait_message(f->c, 1000, &m), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SUBSCRIBE);
	assert_int_equal(m->len, 3);
	assert_string_equal((const char *)m->data, "one");
	nym_messages_free(m);
	/* A push that comes before another request's answer is kept. */
	srv_push(f->srv, later, 1);
	srv_details(f->srv, KEY_A);
	assert_int_equal(nym_details(f->c, &d), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
	assert_string_equal(d.id, KEY_A);
	assert_int_equal(nym_wait_message(f->c, 0, &m), 0);
	assert_string_equal((const char *)m->data, "two");
	nym_messages_free(m);
	assert_int_equal(nym_wait_message(f->c, 0, &m), 0);
	assert_string_equal((const char *)m->data, "three");
	nym_messages_free(m);
	/* Nothing more: a timeout, and the connection stays usable. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nym_wait_message(f->c, 150, &m), NYM_ERR_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 140 && ms < 1500);
	assert_null(m);
	srv_details(f->srv, KEY_B);
	assert_int_equal(nym_details(f->c, &d), 0);
	assert_string_equal(d.id, KEY_B);
	/* No second subscribe request was sent: the next is details. */
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
}

static void
test_wait_refused(void **state)
{
	struct fixture *f = *state;
	struct nym_message *m;

	srv_exception(f->srv, "subscribe: another connection is subscribed");
	assert_int_equal(nym_wait_message(f->c, 100, &m), NYM_ERR_REMOTE);
	assert_string_equal(nym_last_error(f->c), "subscribe: another connection is subscribed");
	/* A push to a connection that never subscribed breaks the protocol. */
	const char *one[] = { "x" };
	struct nym_client_config d;
	srv_push(f->srv, one, 1);
	assert_int_equal(nym_details(f->c, &d), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "did not subscribe"));
}

static void
test_async_timeout(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	/* nym_set_timeout() (2 s, setup) carries over; 100 ms from here on. */
	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_set_timeout(a, 100), 0);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	assert_int_equal(nym_async_set_timeout(a, 0), 0);
	assert_int_equal(nym_async_clients(a, on_clients, &l), 0);
	run_until_ms(base, &l, 1, 2000);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.order[0], 1);
	assert_int_equal(l.errs[0], NYM_ERR_TIMEOUT);
	assert_non_null(strstr(nym_async_last_error(a), "did not answer within 100 ms"));
	/* The late answer is dropped; the next goes to clients; still usable. */
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_CLIENTS);
	srv_details(f->srv, KEY_A);
	srv_clients(f->srv);
	run_until_ms(base, &l, 2, 2000);
	assert_int_equal(l.calls, 2);
	assert_int_equal(l.order[1], 2);
	assert_int_equal(l.errs[1], 0);
	assert_string_equal(l.text[1], KEY_B);
	assert_int_equal(l.lost, 0);
	nym_async_free(a);
	event_base_free(base);
}

static void
test_async_cancel(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_last_request(a), 0);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	unsigned long first = nym_async_last_request(a);
	assert_int_equal(nym_async_fetch(a, on_fetch, &l), 0);
	unsigned long second = nym_async_last_request(a);
	assert_true(first != 0 && second != first);
	/* Canceled: its callback at once, with NYM_ERR_CANCELED. */
	assert_int_equal(nym_cancel(a, first), 0);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.order[0], 1);
	assert_int_equal(l.errs[0], NYM_ERR_CANCELED);
	assert_int_equal(nym_cancel(a, first), NYM_ERR_NOT_FOUND);
	assert_int_equal(nym_cancel(a, 12345), NYM_ERR_NOT_FOUND);
	/* Both answers come; the canceled one's is dropped. */
	const char *msgs[] = { "kept" };
	const size_t lens[] = { 4 };
	srv_details(f->srv, KEY_A);
	srv_fetch(f->srv, msgs, lens, 1);
	run_until(base, &l, 2);
	assert_int_equal(l.calls, 2);
	assert_int_equal(l.order[1], 3);
	assert_int_equal(l.errs[1], 0);
	assert_string_equal(l.text[1], "kept");
	assert_int_equal(nym_cancel(a, second), NYM_ERR_NOT_FOUND);
	assert_int_equal(l.lost, 0);
	nym_async_free(a);
	event_base_free(base);
}

struct push_log {
	int	n;
	int	err;
	int	ended;
	char	text[4][16];
};

static void
on_message(struct nym_async *a, int err, const struct nym_message *m, void *arg)
{
	struct push_log *p = arg;

	if (err != 0) {
		p->ended++;
		p->err = err;
		return;
	}
	assert_true(p->n < 4);
	snprintf(p->text[p->n++], sizeof(p->text[0]), "%s", (const char *)m->data);
}

static void
test_async_subscribe(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };
	struct push_log p = { 0 };
	const char *two[] = { "hello", "world" };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_set_timeout(a, 50), 0);
	assert_int_equal(nym_async_subscribe(a, on_message, &p), 0);
	assert_int_equal(nym_async_subscribe(a, on_message, &p), NYM_ERR_INVALID);
	assert_int_equal(nym_cancel(a, nym_async_last_request(a)), NYM_ERR_INVALID);
	assert_int_equal(nym_async_details(a, on_details, &l), 0);
	pump(base);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SUBSCRIBE);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_DETAILS);
	/* Pushes between the answers, and after them; the subscription
	 * has no deadline (50 ms pass before its answer). */
	usleep(120 * 1000);
	pump(base);
	assert_int_equal(l.calls, 1);	/* details timed out */
	assert_int_equal(l.errs[0], NYM_ERR_TIMEOUT);
	srv_subscribed(f->srv);
	srv_push(f->srv, two, 2);
	srv_details(f->srv, KEY_A);
	srv_push(f->srv, two + 1, 1);
	for (int i = 0; i < 200 && p.n < 3; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.text[0], "hello");
	assert_string_equal(p.text[1], "world");
	assert_string_equal(p.text[2], "world");
	assert_int_equal(p.ended, 0);
	assert_int_equal(l.calls, 1);	/* the late details answer was dropped */
	assert_int_equal(l.lost, 0);
	/* Freeing the handle ends the subscription, once. */
	nym_async_free(a);
	assert_int_equal(p.ended, 1);
	assert_int_equal(p.err, NYM_ERR_CANCELED);
	event_base_free(base);
}

static void
test_async_subscribe_refused(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };
	struct push_log p = { 0 };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_subscribe(a, on_message, &p), 0);
	srv_exception(f->srv, "subscribe: another connection is subscribed");
	for (int i = 0; i < 200 && p.ended == 0; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(p.ended, 1);
	assert_int_equal(p.err, NYM_ERR_REMOTE);
	/* May subscribe again; a lost connection ends it with NYM_ERR_IO. */
	assert_int_equal(nym_async_subscribe(a, on_message, &p), 0);
	srv_subscribed(f->srv);
	pump(base);
	close(f->srv);
	f->srv = -1;
	event_base_dispatch(base);
	assert_int_equal(p.ended, 2);
	assert_int_equal(p.err, NYM_ERR_IO);
	assert_int_equal(l.lost, 1);
	nym_async_free(a);
	assert_int_equal(p.ended, 2);
	event_base_free(base);
}

/* Delivery status (docs/acks.md): send's message id, status, watch. */

static const uint8_t MID[NYM_MESSAGE_ID_BYTES] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* A send (or reply) answer carrying id, of len bytes (0: none). */
static void
srv_sent(int fd, Types__Response__ValueCase what, const uint8_t *id, size_t len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage s = TYPES__RESPONSE_SEND_MESSAGE__INIT;

	s.message_id.data = (uint8_t *)(uintptr_t)id;
	s.message_id.len = len;
	res.value_case = what;
	if (what == TYPES__RESPONSE__VALUE_SEND)
		res.send = &s;
	else
		res.reply = &s;
	srv_respond(fd, &res);
}

/* A status answer, or a changed push. */
static void
srv_status(int fd, Types__Response__ValueCase what, const uint8_t *id,
    Types__MessageStatus__State state, uint32_t packets, uint32_t acked,
    const char *reason)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__MessageStatus ms = TYPES__MESSAGE_STATUS__INIT;

	ms.message_id.data = (uint8_t *)(uintptr_t)id;
	ms.message_id.len = NYM_MESSAGE_ID_BYTES;
	ms.state = state;
	ms.packets = packets;
	ms.acknowledged = acked;
	if (reason != NULL)
		ms.reason = (char *)(uintptr_t)reason;
	res.value_case = what;
	if (what == TYPES__RESPONSE__VALUE_STATUS)
		res.status = &ms;
	else
		res.changed = &ms;
	srv_respond(fd, &res);
}

static void
test_send_message(void **state)
{
	struct fixture *f = *state;
	struct nym_client_config to = { .id = KEY_B };
	static const uint8_t zero[NYM_MESSAGE_ID_BYTES];
	uint8_t id[NYM_MESSAGE_ID_BYTES], tag[NYM_TAG_BYTES] = { 7 };
	Types__Request *req;

	/* To a recipient: the id nymd gave. */
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, sizeof(MID));
	assert_int_equal(nym_send_message(f->c, &to, NULL, "hi", 2, 0, id), 0);
	assert_memory_equal(id, MID, sizeof(MID));
	req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_int_equal(req->send->reply_surbs, 0);
	types__request__free_unpacked(req, NULL);
	/* With reply blocks, the id too. */
	memset(id, 0xff, sizeof(id));
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, sizeof(MID));
	assert_int_equal(nym_send_message(f->c, &to, NULL, "hi", 2, 3, id), 0);
	assert_memory_equal(id, MID, sizeof(MID));
	req = srv_request(f->srv);
	assert_int_equal(req->send->reply_surbs, 3);
	types__request__free_unpacked(req, NULL);
	/* To a client id, looked up as nym_send_id() does. */
	srv_clients(f->srv);
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, sizeof(MID));
	assert_int_equal(nym_send_message(f->c, NULL, KEY_A, "m", 1, 0, id), 0);
	assert_memory_equal(id, MID, sizeof(MID));
	srv_expect_clients(f->srv, 0);
	req = srv_request(f->srv);
	assert_string_equal(req->send->recipient->id, KEY_A);
	types__request__free_unpacked(req, NULL);
	/* An older nymd gives no id: all zero. NULL takes none. */
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, NULL, 0);
	assert_int_equal(nym_send_message(f->c, &to, NULL, "m", 1, 0, id), 0);
	assert_memory_equal(id, zero, sizeof(zero));
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, sizeof(MID));
	assert_int_equal(nym_send_message(f->c, &to, NULL, "m", 1, 0, NULL), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	/* An id that is not 16 bytes breaks the protocol. */
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, 15);
	assert_int_equal(nym_send_message(f->c, &to, NULL, "m", 1, 0, id),
	    NYM_ERR_PROTOCOL);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	/* No recipient at all, too many blocks: nothing goes out. */
	assert_int_equal(nym_send_message(f->c, NULL, NULL, "m", 1, 0, id),
	    NYM_ERR_INVALID);
	assert_int_equal(nym_send_message(f->c, &to, NULL, "m", 1, 17, id),
	    NYM_ERR_INVALID);
	/* A reply's id. */
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_REPLY, MID, sizeof(MID));
	assert_int_equal(nym_reply_message(f->c, tag, "re", 2, id), 0);
	assert_memory_equal(id, MID, sizeof(MID));
	req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_REPLY);
	assert_int_equal(req->reply->sender_tag.data[0], 7);
	types__request__free_unpacked(req, NULL);
}

static void
test_status(void **state)
{
	struct fixture *f = *state;
	struct nym_message_status st;
	Types__Request *req;

	srv_status(f->srv, TYPES__RESPONSE__VALUE_STATUS, MID,
	    TYPES__MESSAGE_STATUS__STATE__SENDING, 3, 1, NULL);
	assert_int_equal(nym_status(f->c, MID, &st), 0);
	req = srv_request(f->srv);
	assert_int_equal(req->value_case, TYPES__REQUEST__VALUE_STATUS);
	assert_int_equal(req->status->message_id.len, NYM_MESSAGE_ID_BYTES);
	assert_memory_equal(req->status->message_id.data, MID, sizeof(MID));
	types__request__free_unpacked(req, NULL);
	assert_memory_equal(st.id, MID, sizeof(MID));
	assert_int_equal(st.state, NYM_MESSAGE_SENDING);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.acknowledged, 1);
	assert_string_equal(st.reason, "");
	assert_string_equal(nym_message_state_name(st.state), "sending");

	srv_status(f->srv, TYPES__RESPONSE__VALUE_STATUS, MID,
	    TYPES__MESSAGE_STATUS__STATE__FAILED, 2, 1, "expired unacknowledged");
	assert_int_equal(nym_status(f->c, MID, &st), 0);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_STATUS);
	assert_int_equal(st.state, NYM_MESSAGE_FAILED);
	assert_string_equal(st.reason, "expired unacknowledged");

	srv_exception(f->srv, "status: no message with id 0102");
	assert_int_equal(nym_status(f->c, MID, &st), NYM_ERR_REMOTE);
	assert_string_equal(nym_last_error(f->c), "status: no message with id 0102");
	srv_expect(f->srv, TYPES__REQUEST__VALUE_STATUS);
	assert_int_equal(nym_status(f->c, NULL, &st), NYM_ERR_INVALID);

	assert_string_equal(nym_message_state_name(NYM_MESSAGE_QUEUED), "queued");
	assert_string_equal(nym_message_state_name(NYM_MESSAGE_DELIVERED), "delivered");
	assert_string_equal(nym_message_state_name(NYM_MESSAGE_SENT), "sent");
	assert_string_equal(nym_message_state_name(9), "unknown");

	/* A blocking connection never watches: a change pushed to it is a
	 * protocol error. */
	srv_status(f->srv, TYPES__RESPONSE__VALUE_CHANGED, MID,
	    TYPES__MESSAGE_STATUS__STATE__QUEUED, 1, 0, NULL);
	srv_status(f->srv, TYPES__RESPONSE__VALUE_STATUS, MID,
	    TYPES__MESSAGE_STATUS__STATE__QUEUED, 1, 0, NULL);
	assert_int_equal(nym_status(f->c, MID, &st), NYM_ERR_PROTOCOL);
	assert_non_null(strstr(nym_last_error(f->c), "did not watch"));
}

struct watch_log {
	int			 changes;
	int			 ended;
	int			 end_err;
	struct nym_message_status last;
	int			 sent;
	uint8_t			 sent_id[NYM_MESSAGE_ID_BYTES];
	int			 statuses;
	int			 status_state;
	int			 order[8];	/* 1 change, 2 sent, 3 status */
	int			 n;
};

static void
on_changed(struct nym_async *a, int err, const struct nym_message_status *st, void *arg)
{
	struct watch_log *w = arg;

	if (err != 0) {
		w->ended++;
		w->end_err = err;
		return;
	}
	w->changes++;
	w->last = *st;
	if (w->n < 8)
		w->order[w->n++] = 1;
}

static void
on_sent_id(struct nym_async *a, int err, const uint8_t *id, void *arg)
{
	struct watch_log *w = arg;

	assert_int_equal(err, 0);
	assert_non_null(id);
	memcpy(w->sent_id, id, NYM_MESSAGE_ID_BYTES);
	w->sent++;
	if (w->n < 8)
		w->order[w->n++] = 2;
}

static void
on_status(struct nym_async *a, int err, const struct nym_message_status *st, void *arg)
{
	struct watch_log *w = arg;

	assert_int_equal(err, 0);
	w->statuses++;
	w->status_state = st->state;
	if (w->n < 8)
		w->order[w->n++] = 3;
}

static void
test_async_watch(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };
	struct watch_log w = { 0 };
	struct nym_client_config to = { .id = KEY_B };

	struct nym_async *a = async_open(f, base, &l);
	assert_int_equal(nym_async_watch(a, on_changed, &w), 0);
	assert_int_equal(nym_async_watch(a, on_changed, &w), NYM_ERR_INVALID);
	/* A watch is not canceled: its changes would be lost. */
	assert_int_equal(nym_cancel(a, nym_async_last_request(a)), NYM_ERR_INVALID);
	assert_int_equal(nym_async_send_message(a, &to, "x", 1, on_sent_id, &w), 0);
	assert_int_equal(nym_async_status(a, MID, on_status, &w), 0);
	pump(base);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_WATCH);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_SEND);
	srv_expect(f->srv, TYPES__REQUEST__VALUE_STATUS);
	/* watch answered; the send's answer; its change pushed; status. */
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseWatch rw = TYPES__RESPONSE_WATCH__INIT;
	res.value_case = TYPES__RESPONSE__VALUE_WATCH;
	res.watch = &rw;
	srv_respond(f->srv, &res);
	srv_sent(f->srv, TYPES__RESPONSE__VALUE_SEND, MID, sizeof(MID));
	srv_status(f->srv, TYPES__RESPONSE__VALUE_CHANGED, MID,
	    TYPES__MESSAGE_STATUS__STATE__QUEUED, 1, 0, NULL);
	srv_status(f->srv, TYPES__RESPONSE__VALUE_STATUS, MID,
	    TYPES__MESSAGE_STATUS__STATE__QUEUED, 1, 0, NULL);
	srv_status(f->srv, TYPES__RESPONSE__VALUE_CHANGED, MID,
	    TYPES__MESSAGE_STATUS__STATE__DELIVERED, 1, 1, NULL);
	for (int i = 0; i < 200 && w.changes < 2; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(w.sent, 1);
	assert_memory_equal(w.sent_id, MID, sizeof(MID));
	assert_int_equal(w.statuses, 1);
	assert_int_equal(w.status_state, NYM_MESSAGE_QUEUED);
	assert_int_equal(w.changes, 2);
	assert_int_equal(w.n, 4);
	assert_int_equal(w.order[0], 2);
	assert_int_equal(w.order[1], 1);
	assert_int_equal(w.order[2], 3);
	assert_int_equal(w.order[3], 1);
	assert_int_equal(w.last.state, NYM_MESSAGE_DELIVERED);
	assert_int_equal(w.last.acknowledged, 1);
	assert_int_equal(w.ended, 0);
	assert_int_equal(l.lost, 0);
	/* Freeing the handle ends the watch, once. */
	nym_async_free(a);
	assert_int_equal(w.ended, 1);
	assert_int_equal(w.end_err, NYM_ERR_CANCELED);
	event_base_free(base);
}

static void
test_async_changed_unasked(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct async_log l = { 0 };

	/* A change pushed to a handle that did not watch breaks it. */
	struct nym_async *a = async_open(f, base, &l);
	srv_status(f->srv, TYPES__RESPONSE__VALUE_CHANGED, MID,
	    TYPES__MESSAGE_STATUS__STATE__QUEUED, 1, 0, NULL);
	event_base_dispatch(base);
	assert_int_equal(l.lost, 1);
	assert_non_null(strstr(nym_async_last_error(a), "did not watch"));
	nym_async_free(a);
	event_base_free(base);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_details),
		T(test_request_bytes),
		T(test_clients),
		T(test_fetch),
		T(test_send),
		T(test_send_id),
		T(test_exception),
		T(test_wrong_answer),
		T(test_bad_fields),
		T(test_bad_frame),
		T(test_huge_frame),
		T(test_closed),
		T(test_write_to_closed),
		T(test_timeout),
		T(test_too_large),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_start_errors),
		T(test_async_in_order),
		T(test_async_lost),
		T(test_async_unasked),
		T(test_async_free),
		T(test_async_free_outside),
		cmocka_unit_test(test_connect_fd_not_socket),
		T(test_version_and_pid),
		T(test_max_message_size),
		T(test_wait_message),
		T(test_wait_refused),
		T(test_async_timeout),
		T(test_async_cancel),
		T(test_async_subscribe),
		T(test_async_subscribe_refused),
		T(test_send_message),
		T(test_status),
		T(test_async_watch),
		T(test_async_changed_unasked),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

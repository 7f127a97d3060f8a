/*
 * The link: its wire format against tests/vectors/noise/nymd-link.json (an
 * independent derivation), the pure parsers, and real links over loopback
 * TCP with libevent: asynchronous DH, both frame types, rekeying, wrong
 * keys, bad frames from a hand-driven peer, back-pressure and shutdown.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "common/link.h"
#include "common/noise.h"

#define PACKET_BYTES	64

static const uint8_t zero_packet[PACKET_BYTES];

/* ---- helpers ---- */

static size_t
unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n;

	assert_non_null(hex);
	assert_int_equal(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &n,
	    NULL), 0);
	return n;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	return json_string_value(v);
}

static json_t *
load_vectors(void)
{
	char path[1024];
	const char *top = getenv("top_srcdir");
	json_error_t err;
	json_t *j;

	snprintf(path, sizeof(path), "%s/tests/vectors/noise/nymd-link.json",
	    top ? top : ".");
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("%s: %s", path, err.text);
	return j;
}

static void
keypair(uint8_t pub[32], uint8_t priv[32])
{
	randombytes_buf(priv, 32);
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int ls;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*a >= 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(ls, NULL, NULL);
	assert_true(*b >= 0);
	close(ls);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *flag becomes non-zero; fails after ms. */
static void
pump_until(struct event_base *base, const int *flag, int ms)
{
	struct timeval tv = { 0, 5000 }, start, now;
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);

	event_add(tick, &tv);
	gettimeofday(&start, NULL);
	while (*flag == 0) {
		gettimeofday(&now, NULL);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_usec - start.tv_usec) / 1000 > ms)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(tick);
	assert_true(*flag != 0);
}

static void
pump_ms(struct event_base *base, int ms)
{
	int never = 0;
	struct timeval tv = { 0, 5000 }, start, now;
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);

	event_add(tick, &tv);
	gettimeofday(&start, NULL);
	while (never == 0) {
		gettimeofday(&now, NULL);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_usec - start.tv_usec) / 1000 > ms)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(tick);
}

/* ---- pure wire format ---- */

static void
test_vectors(void **state)
{
	json_t *root = load_vectors(), *hsj, *frames, *f;
	uint8_t is[32], ie[32], rs[32], re[32], ispub[32], rspub[32], want_pub[32];
	uint8_t msg[4200], wire[4200], plain[4200], hello[4], out[64], h[64], hh[64];
	struct noise_hs i, r;
	struct noise_keys ik, rk;
	struct noise_cipher isend, irecv, rsend, rrecv;
	size_t n, m, wl, pl, idx;
	struct link_frame fr;

	hsj = json_object_get(root, "handshake");
	assert_string_equal(jstr(hsj, "prologue"), "6e796d642d6c696e6b2d7631");
	assert_int_equal(json_integer_value(json_object_get(hsj,
	    "packet_bytes")), PACKET_BYTES);
	unhex(is, 32, jstr(hsj, "init_static"));
	unhex(ie, 32, jstr(hsj, "init_ephemeral"));
	unhex(rs, 32, jstr(hsj, "resp_static"));
	unhex(re, 32, jstr(hsj, "resp_ephemeral"));
	assert_int_equal(crypto_scalarmult_base(ispub, is), 0);
	assert_int_equal(crypto_scalarmult_base(rspub, rs), 0);
	unhex(want_pub, 32, jstr(hsj, "resp_static_public"));
	assert_memory_equal(rspub, want_pub, 32);

	memset(&ik, 0, sizeof(ik));
	ik.s_pub = ispub;
	ik.s_priv = is;
	ik.rs = rspub;
	ik.e_priv = ie;
	memset(&rk, 0, sizeof(rk));
	rk.s_pub = rspub;
	rk.s_priv = rs;
	rk.e_priv = re;
	assert_int_equal(noise_hs_init(&i, NOISE_INITIATOR,
	    (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE), &ik), 0);
	assert_int_equal(noise_hs_init(&r, NOISE_RESPONDER,
	    (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE), &rk), 0);
	link_hello_write(hello, PACKET_BYTES);

	/* Message 1 on the wire: 2-byte length, then the Noise message. */
	assert_int_equal(noise_hs_write(&i, hello, 4, msg + 2, sizeof(msg) - 2,
	    &n), 0);
	assert_int_equal(n, LINK_MSG1_BYTES);
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	wl = unhex(wire, sizeof(wire), jstr(hsj, "msg1_wire"));
	assert_int_equal(wl, n + 2);
	assert_memory_equal(msg, wire, wl);
	assert_int_equal(noise_hs_read(&r, msg + 2, n, out, sizeof(out), &m), 0);
	assert_int_equal(link_hello_check(out, m, PACKET_BYTES), LINK_OK);

	assert_int_equal(noise_hs_write(&r, hello, 4, msg + 2, sizeof(msg) - 2,
	    &n), 0);
	assert_int_equal(n, LINK_MSG2_BYTES);
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	wl = unhex(wire, sizeof(wire), jstr(hsj, "msg2_wire"));
	assert_memory_equal(msg, wire, wl);
	assert_int_equal(noise_hs_read(&i, msg + 2, n, out, sizeof(out), &m), 0);
	assert_int_equal(link_hello_check(out, m, PACKET_BYTES), LINK_OK);
	assert_int_equal(noise_hs_split(&i, &isend, &irecv, h), 0);
	assert_int_equal(noise_hs_split(&r, &rsend, &rrecv, hh), 0);
	unhex(wire, sizeof(wire), jstr(hsj, "handshake_hash"));
	assert_memory_equal(h, wire, 64);
	assert_memory_equal(hh, wire, 64);

	/* Transport frames, rekeying every 4 messages per direction. */
	frames = json_object_get(json_object_get(root, "transport"), "frames");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    root, "transport"), "rekey_interval")), 4);
	assert_true(json_array_size(frames) >= 20);
	json_array_foreach(frames, idx, f) {
		int i2r = strcmp(jstr(f, "dir"), "i2r") == 0;
		struct noise_cipher *tx = i2r ? &isend : &rsend;
		struct noise_cipher *rx = i2r ? &rrecv : &irecv;

		pl = unhex(plain, sizeof(plain), jstr(f, "plaintext"));
		wl = unhex(wire, sizeof(wire), jstr(f, "wire"));
		assert_int_equal((uint64_t)json_integer_value(json_object_get(f,
		    "nonce")), tx->n);
		memcpy(msg + 2, plain, pl);
		assert_int_equal(link_seal(tx, 4, msg + 2, pl), LINK_OK);
		msg[0] = (uint8_t)((pl + 16) >> 8);
		msg[1] = (uint8_t)(pl + 16);
		assert_int_equal(wl, pl + 18);
		assert_memory_equal(msg, wire, wl);
		assert_int_equal(link_message_length(wire, 17,
		    link_max_message(PACKET_BYTES), &n), LINK_OK);
		assert_int_equal(link_open(rx, 4, wire + 2, n, &m), LINK_OK);
		assert_int_equal(m, pl);
		assert_memory_equal(wire + 2, plain, pl);
		assert_int_equal(link_frame_parse(wire + 2, m, PACKET_BYTES, &fr),
		    LINK_OK);
		assert_int_equal(fr.type, plain[0]);
		if (fr.type == LINK_FRAME_CONTROL) {
			assert_int_equal(fr.control->msg_case,
			    LINK__CONTROL__MSG_PING);
			assert_int_equal(fr.control->ping->nonce, 7);
		} else if (fr.type == LINK_FRAME_DELIVERY) {
			assert_int_equal(fr.id, 1000 + idx / 2);
			assert_memory_equal(fr.packet, plain + 9, PACKET_BYTES);
		} else
			assert_memory_equal(fr.packet, plain + 1, PACKET_BYTES);
		link_frame_clear(&fr);
	}

	/* Around the protocol's own boundary, 2^16 messages. */
	f = json_object_get(root, "rekey_boundary");
	{
		/* A fresh session with the same keys, nonces moved ahead. */
		struct noise_hs i2, r2;

		ik.e_priv = ie;
		rk.e_priv = re;
		assert_int_equal(noise_hs_init(&i2, NOISE_INITIATOR,
		    (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE), &ik), 0);
		assert_int_equal(noise_hs_init(&r2, NOISE_RESPONDER,
		    (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE), &rk), 0);
		assert_int_equal(noise_hs_write(&i2, hello, 4, msg, sizeof(msg),
		    &n), 0);
		assert_int_equal(noise_hs_read(&r2, msg, n, out, sizeof(out), &m),
		    0);
		assert_int_equal(noise_hs_write(&r2, hello, 4, msg, sizeof(msg),
		    &n), 0);
		assert_int_equal(noise_hs_read(&i2, msg, n, out, sizeof(out), &m),
		    0);
		assert_int_equal(noise_hs_split(&i2, &isend, &irecv, NULL), 0);
		assert_int_equal(noise_hs_split(&r2, &rsend, &rrecv, NULL), 0);
	}
	noise_cipher_set_nonce(&isend, 65534);
	noise_cipher_set_nonce(&rrecv, 65534);
	frames = json_object_get(f, "frames");
	assert_int_equal(json_array_size(frames), 4);
	json_array_foreach(frames, idx, f) {
		pl = unhex(plain, sizeof(plain), jstr(f, "plaintext"));
		wl = unhex(wire, sizeof(wire), jstr(f, "wire"));
		memcpy(msg, plain, pl);
		/* 0 means the protocol's interval. */
		assert_int_equal(link_seal(&isend, 0, msg, pl), LINK_OK);
		assert_memory_equal(msg, wire + 2, wl - 2);
		assert_int_equal(link_open(&rrecv, LINK_REKEY_INTERVAL_MSGS,
		    wire + 2, wl - 2, &m), LINK_OK);
		assert_memory_equal(wire + 2, plain, pl);
	}
	json_decref(root);
}

static size_t
pack(const Link__Control *c, uint8_t *out)
{
	out[0] = LINK_FRAME_CONTROL;
	return 1 + link__control__pack(c, out + 1);
}

static int
parse_control(const Link__Control *c)
{
	uint8_t buf[8192];
	struct link_frame f;
	size_t n = pack(c, buf);
	int r = link_frame_parse(buf, n, PACKET_BYTES, &f);

	link_frame_clear(&f);
	return r;
}

static void
test_frame_parse(void **state)
{
	uint8_t buf[8192];
	struct link_frame f;
	Link__Control c = LINK__CONTROL__INIT;
	Link__Register reg = LINK__REGISTER__INIT;
	Link__RegisterOk rok = LINK__REGISTER_OK__INIT;
	Link__Pull pull = LINK__PULL__INIT;
	Link__PullReply prep = LINK__PULL_REPLY__INIT;
	Link__Ack ack = LINK__ACK__INIT;
	Link__AckOk aok = LINK__ACK_OK__INIT;
	Link__Error err = LINK__ERROR__INIT;
	Link__Pong pong = LINK__PONG__INIT;
	uint64_t ids[LINK_MAX_ACK_IDS + 1];
	char text[LINK_MAX_ERROR_TEXT_BYTES + 2];

	memset(buf, 0xab, sizeof(buf));
	/* Empty; unknown types */
	assert_int_equal(link_frame_parse(buf, 0, PACKET_BYTES, &f),
	    LINK_ERR_FRAME_SIZE);
	for (int t = 0; t < 256; t++) {
		if (t >= 1 && t <= 3)
			continue;
		buf[0] = (uint8_t)t;
		assert_int_equal(link_frame_parse(buf, 1 + PACKET_BYTES,
		    PACKET_BYTES, &f), LINK_ERR_FRAME_TYPE);
	}
	/* Packets: exactly the link's size */
	buf[0] = LINK_FRAME_PACKET;
	assert_int_equal(link_frame_parse(buf, 1 + PACKET_BYTES, PACKET_BYTES,
	    &f), LINK_OK);
	assert_ptr_equal(f.packet, buf + 1);
	assert_int_equal(f.packet_len, PACKET_BYTES);
	assert_int_equal(link_frame_parse(buf, PACKET_BYTES, PACKET_BYTES, &f),
	    LINK_ERR_PACKET_SIZE);
	assert_int_equal(link_frame_parse(buf, 2 + PACKET_BYTES, PACKET_BYTES,
	    &f), LINK_ERR_PACKET_SIZE);
	buf[0] = LINK_FRAME_DELIVERY;
	for (int i = 0; i < 8; i++)
		buf[1 + i] = (uint8_t)(i + 1);
	assert_int_equal(link_frame_parse(buf, 9 + PACKET_BYTES, PACKET_BYTES,
	    &f), LINK_OK);
	assert_int_equal(f.id, 0x0102030405060708ULL);
	assert_ptr_equal(f.packet, buf + 9);
	assert_int_equal(link_frame_parse(buf, 1 + PACKET_BYTES, PACKET_BYTES,
	    &f), LINK_ERR_PACKET_SIZE);
	assert_int_equal(link_frame_parse(buf, 8, PACKET_BYTES, &f),
	    LINK_ERR_PACKET_SIZE);

	/* Control: empty, garbage, too long, nothing set */
	buf[0] = LINK_FRAME_CONTROL;
	assert_int_equal(link_frame_parse(buf, 1, PACKET_BYTES, &f),
	    LINK_ERR_CONTROL);
	memset(buf + 1, 0xff, 20);
	assert_int_equal(link_frame_parse(buf, 21, PACKET_BYTES, &f),
	    LINK_ERR_CONTROL);
	assert_int_equal(link_frame_parse(buf, 2 + LINK_MAX_CONTROL_BYTES,
	    PACKET_BYTES, &f), LINK_ERR_CONTROL);
	buf[1] = 0x50;	/* field 10, varint: unknown, nothing in the oneof */
	buf[2] = 0x01;
	assert_int_equal(link_frame_parse(buf, 3, PACKET_BYTES, &f),
	    LINK_ERR_CONTROL);

	/* Each message inside and outside its limits */
	c.msg_case = LINK__CONTROL__MSG_REGISTER;
	c.register_ = &reg;
	assert_int_equal(parse_control(&c), LINK_OK);

	c.msg_case = LINK__CONTROL__MSG_REGISTER_OK;
	c.register_ok = &rok;
	assert_int_equal(link_control_check(&c), LINK_ERR_CONTROL);
	rok.token.data = (uint8_t *)text;
	rok.token.len = LINK_MAX_TOKEN_BYTES;
	assert_int_equal(parse_control(&c), LINK_OK);
	rok.token.len = LINK_MAX_TOKEN_BYTES + 1;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);

	c.msg_case = LINK__CONTROL__MSG_PULL;
	c.pull = &pull;
	pull.token = rok.token;
	pull.token.len = 8;
	pull.max = LINK_MAX_PULL;
	assert_int_equal(parse_control(&c), LINK_OK);
	pull.max = 0;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);
	pull.max = LINK_MAX_PULL + 1;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);
	pull.max = 1;
	pull.token.len = 0;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);

	c.msg_case = LINK__CONTROL__MSG_PULL_REPLY;
	c.pull_reply = &prep;
	prep.count = LINK_MAX_PULL;
	prep.remaining = 1000000;
	assert_int_equal(parse_control(&c), LINK_OK);
	prep.count = LINK_MAX_PULL + 1;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);

	c.msg_case = LINK__CONTROL__MSG_ACK;
	c.ack = &ack;
	for (size_t i = 0; i < LINK_MAX_ACK_IDS + 1; i++)
		ids[i] = UINT64_MAX - i;
	ack.ids = ids;
	ack.n_ids = LINK_MAX_ACK_IDS;
	/* The largest ack fits in a control frame. */
	assert_true(link__control__get_packed_size(&c) <= LINK_MAX_CONTROL_BYTES);
	assert_int_equal(parse_control(&c), LINK_OK);
	ack.n_ids = LINK_MAX_ACK_IDS + 1;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);
	ack.n_ids = 0;
	assert_int_equal(link_control_check(&c), LINK_ERR_CONTROL);
	/* Released ids count with the deleted ones: 1 .. 256 in all. */
	ack.release = ids;
	ack.n_release = 1;
	assert_int_equal(parse_control(&c), LINK_OK);
	ack.n_ids = LINK_MAX_ACK_IDS / 2;
	ack.n_release = LINK_MAX_ACK_IDS - ack.n_ids;
	assert_true(link__control__get_packed_size(&c) <= LINK_MAX_CONTROL_BYTES);
	assert_int_equal(parse_control(&c), LINK_OK);
	ack.n_release++;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);
	ack.n_ids = 0;
	ack.n_release = 0;
	ack.release = NULL;

	c.msg_case = LINK__CONTROL__MSG_ACK_OK;
	c.ack_ok = &aok;
	aok.count = 3;
	assert_int_equal(parse_control(&c), LINK_OK);
	aok.count = LINK_MAX_ACK_IDS + 1;
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);

	c.msg_case = LINK__CONTROL__MSG_ERROR;
	c.error = &err;
	err.code = LINK__ERROR_CODE__ERROR_BAD_TOKEN;
	memset(text, 'a', sizeof(text));
	text[LINK_MAX_ERROR_TEXT_BYTES] = '\0';
	err.text = text;
	assert_int_equal(parse_control(&c), LINK_OK);
	text[LINK_MAX_ERROR_TEXT_BYTES] = 'a';
	text[LINK_MAX_ERROR_TEXT_BYTES + 1] = '\0';
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);
	strcpy(text, "line\nbreak");
	assert_int_equal(parse_control(&c), LINK_ERR_CONTROL);

	c.msg_case = LINK__CONTROL__MSG_PONG;
	c.pong = &pong;
	pong.nonce = 42;
	assert_int_equal(parse_control(&c), LINK_OK);
	c.pong = NULL;
	assert_int_equal(link_control_check(&c), LINK_ERR_CONTROL);
	assert_int_equal(link_control_check(NULL), LINK_ERR_CONTROL);
	c.msg_case = LINK__CONTROL__MSG__NOT_SET;
	assert_int_equal(link_control_check(&c), LINK_ERR_CONTROL);
}

static void
test_lengths_and_hello(void **state)
{
	uint8_t h[2], hello[4];
	size_t n = 0;

	h[0] = 0;
	h[1] = 17;
	assert_int_equal(link_message_length(h, 17, 100, &n), LINK_OK);
	assert_int_equal(n, 17);
	h[1] = 16;
	assert_int_equal(link_message_length(h, 17, 100, &n),
	    LINK_ERR_FRAME_SIZE);
	h[0] = 0xff;
	h[1] = 0xff;
	assert_int_equal(link_message_length(h, 17, 65535, &n), LINK_OK);
	assert_int_equal(link_message_length(h, 17, 65534, &n),
	    LINK_ERR_FRAME_SIZE);
	assert_int_equal(link_max_message(8192), 1 + 8 + 8192 + 16);
	/* With 2 KiB packets, the largest message is a control message. */
	assert_int_equal(link_max_message(2048), 1 + LINK_MAX_CONTROL_BYTES + 16);
	assert_int_equal(link_max_message(16), 1 + LINK_MAX_CONTROL_BYTES + 16);
	assert_int_equal(link_max_message(LINK_MAX_PACKET_BYTES), 65535);

	link_hello_write(hello, 2048);
	assert_memory_equal(hello, "\x00\x00\x08\x00", 4);
	assert_int_equal(link_hello_check(hello, 4, 2048), LINK_OK);
	assert_int_equal(link_hello_check(hello, 4, 2049), LINK_ERR_GEOMETRY);
	assert_int_equal(link_hello_check(hello, 3, 2048), LINK_ERR_GEOMETRY);
	assert_int_equal(link_hello_check(NULL, 0, 2048), LINK_ERR_GEOMETRY);
	for (int e = 0; e >= -20; e--)
		assert_non_null(link_strerror(e));
}

/* A forged frame changes nothing, even where a rekey is due. */
static void
test_open_forgery(void **state)
{
	struct noise_cipher tx, rx, saved;
	uint8_t buf[100], copy[100];
	size_t m;

	memset(&tx, 0, sizeof(tx));
	randombytes_buf(tx.k, 32);
	tx.has_key = 1;
	rx = tx;
	for (int k = 0; k < 12; k++) {
		memset(buf, k, 40);
		assert_int_equal(link_seal(&tx, 4, buf, 40), LINK_OK);
		saved = rx;
		memcpy(copy, buf, 56);
		buf[k] ^= 0x80;
		assert_int_equal(link_open(&rx, 4, buf, 56, &m),
		    LINK_ERR_DECRYPT);
		assert_memory_equal(&rx, &saved, sizeof(rx));
		/* (libsodium zeroes the buffer of a failed decryption) */
		memcpy(buf, copy, 56);
		assert_int_equal(link_open(&rx, 4, buf, 56, &m), LINK_OK);
		assert_int_equal(m, 40);
	}
	assert_int_equal(link_open(&rx, 4, buf, 15, &m), LINK_ERR_FRAME_SIZE);
	/* Mismatched intervals disagree at the first boundary. */
	memset(&tx, 0, sizeof(tx));
	tx.has_key = 1;
	rx = tx;
	for (int k = 0; k < 8; k++) {
		assert_int_equal(link_seal(&tx, 8, buf, 10), LINK_OK);
		assert_int_equal(link_open(&rx, 4, buf, 26, &m),
		    k < 4 ? LINK_OK : LINK_ERR_DECRYPT);
		if (k >= 4)
			break;
	}
	/* Nonce exhaustion */
	noise_cipher_set_nonce(&tx, UINT64_MAX - 1);
	assert_int_equal(link_seal(&tx, 4, buf, 10), LINK_OK);
	assert_int_equal(link_seal(&tx, 4, buf, 10), LINK_ERR_NONCE);
	assert_int_equal(link_seal(&tx, 4, buf, 65535 - 15), LINK_ERR_FRAME_SIZE);
	noise_cipher_set_nonce(&rx, UINT64_MAX);
	assert_int_equal(link_open(&rx, 4, buf, 26, &m), LINK_ERR_NONCE);
}

/* ---- real links over loopback TCP ---- */

enum dh_mode { DH_LOCAL, DH_SYNC, DH_ASYNC, DH_NEVER, DH_FAIL };

struct end {
	struct event_base *base;
	struct link	*link;
	const char	*name;
	uint8_t		 pub[32], priv[32];
	enum dh_mode	 dh_mode;
	uint8_t		 dh_peer[32];
	struct event	*dh_timer;
	int		 dh_calls;
	int		 reject;
	int		 defer;		/* accept_peer() answers later */
	int		 accept_calls;
	int		 established;
	uint8_t		 peer[32];
	int		 closed;
	int		 reason;
	int		 packets;
	uint32_t	 next_seq;
	int		 order_ok;
	int		 deliveries;
	uint64_t	 ids[LINK_MAX_PULL];
	int		 expect_deliveries;
	int		 controls;
	int		 got_register_ok, got_pull_reply, got_ack_ok, got_pong;
	uint64_t	 pong_nonce;
	int		 drained;
	int		 provider;	/* answer register, pull, ack */
	int		 free_on_packet;
};

static void
dh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct end *e = arg;
	uint8_t out[32];

	if (e->dh_mode == DH_FAIL) {
		assert_int_equal(link_dh_result(e->link, NULL), LINK_OK);
		return;
	}
	assert_int_equal(crypto_scalarmult(out, e->priv, e->dh_peer), 0);
	assert_int_equal(link_dh_result(e->link, out), LINK_OK);
	/* Only one answer per request */
	assert_int_equal(link_dh_result(e->link, out), LINK_ERR_STATE);
}

/* keyd's side: answers a few milliseconds later, from the loop. */
static int
end_dh(struct link *l, void *arg, uint8_t out[32], const uint8_t peer[32])
{
	struct end *e = arg;
	struct timeval tv = { 0, 2000 };

	e->dh_calls++;
	e->link = l;
	switch (e->dh_mode) {
	case DH_SYNC:
		return crypto_scalarmult(out, e->priv, peer) == 0 ? 0 : -1;
	case DH_NEVER:
		return LINK_DH_PENDING;
	case DH_ASYNC:
	case DH_FAIL:
		memcpy(e->dh_peer, peer, 32);
		if (e->dh_timer == NULL)
			e->dh_timer = evtimer_new(e->base, dh_timer_cb, e);
		evtimer_add(e->dh_timer, &tv);
		return LINK_DH_PENDING;
	default:
		return -1;
	}
}

static void
end_established(struct link *l, void *arg, const uint8_t peer[32])
{
	struct end *e = arg;

	e->established = 1;
	memcpy(e->peer, peer, 32);
	assert_memory_equal(link_peer_key(l), peer, 32);
	assert_non_null(link_handshake_hash(l));
	assert_true(link_is_established(l));
}

static void
end_packet(struct link *l, void *arg, const uint8_t *p, size_t len)
{
	struct end *e = arg;
	uint32_t seq;

	assert_int_equal(len, PACKET_BYTES);
	seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	if (seq != e->next_seq || p[len - 1] != (uint8_t)seq)
		e->order_ok = 0;
	e->next_seq = seq + 1;
	e->packets++;
	if (e->free_on_packet) {
		link_free(l);
		e->link = NULL;
		e->closed = 1;
	}
}

static void
send_control(struct link *l, Link__Control *c)
{
	assert_int_equal(link_send_control(l, c), LINK_OK);
}

static void
end_delivery(struct link *l, void *arg, uint64_t id, const uint8_t *p,
    size_t len)
{
	struct end *e = arg;
	Link__Control c = LINK__CONTROL__INIT;
	Link__Ack ack = LINK__ACK__INIT;

	assert_int_equal(len, PACKET_BYTES);
	assert_int_equal(p[0], (uint8_t)id);
	e->ids[e->deliveries++] = id;
	/* All announced packets are here: the client acks them. */
	if (e->deliveries == e->expect_deliveries) {
		ack.ids = e->ids;
		ack.n_ids = (size_t)e->deliveries;
		c.msg_case = LINK__CONTROL__MSG_ACK;
		c.ack = &ack;
		send_control(l, &c);
	}
}

static void
provider_control(struct end *e, struct link *l, const Link__Control *m)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__RegisterOk rok = LINK__REGISTER_OK__INIT;
	Link__PullReply pr = LINK__PULL_REPLY__INIT;
	Link__AckOk aok = LINK__ACK_OK__INIT;
	uint8_t pkt[PACKET_BYTES];

	switch (m->msg_case) {
	case LINK__CONTROL__MSG_REGISTER:
		rok.token.data = (uint8_t *)"token-1";
		rok.token.len = 7;
		c.msg_case = LINK__CONTROL__MSG_REGISTER_OK;
		c.register_ok = &rok;
		send_control(l, &c);
		break;
	case LINK__CONTROL__MSG_PULL:
		assert_int_equal(m->pull->token.len, 7);
		assert_memory_equal(m->pull->token.data, "token-1", 7);
		pr.count = 3;
		pr.remaining = 0;
		c.msg_case = LINK__CONTROL__MSG_PULL_REPLY;
		c.pull_reply = &pr;
		send_control(l, &c);
		for (uint64_t id = 100; id < 103; id++) {
			memset(pkt, (int)id, sizeof(pkt));
			assert_int_equal(link_send_delivery(l, id, pkt,
			    sizeof(pkt)), LINK_OK);
		}
		break;
	case LINK__CONTROL__MSG_ACK:
		assert_int_equal(m->ack->n_ids, 3);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(m->ack->ids[i], 100 + i);
		aok.count = (uint32_t)m->ack->n_ids;
		c.msg_case = LINK__CONTROL__MSG_ACK_OK;
		c.ack_ok = &aok;
		send_control(l, &c);
		break;
	default:
		fail_msg("provider got control %d", m->msg_case);
	}
}

static void
end_control(struct link *l, void *arg, const Link__Control *m)
{
	struct end *e = arg;
	Link__Control c = LINK__CONTROL__INIT;
	Link__Pull pull = LINK__PULL__INIT;

	e->controls++;
	assert_int_not_equal(m->msg_case, LINK__CONTROL__MSG_PING);
	if (e->provider) {
		provider_control(e, l, m);
		return;
	}
	switch (m->msg_case) {
	case LINK__CONTROL__MSG_REGISTER_OK:
		e->got_register_ok = 1;
		pull.token = m->register_ok->token;
		pull.max = 10;
		c.msg_case = LINK__CONTROL__MSG_PULL;
		c.pull = &pull;
		send_control(l, &c);
		break;
	case LINK__CONTROL__MSG_PULL_REPLY:
		e->got_pull_reply = 1;
		e->expect_deliveries = (int)m->pull_reply->count;
		break;
	case LINK__CONTROL__MSG_ACK_OK:
		assert_int_equal(m->ack_ok->count, 3);
		e->got_ack_ok = 1;
		break;
	case LINK__CONTROL__MSG_PONG:
		e->got_pong = 1;
		e->pong_nonce = m->pong->nonce;
		break;
	default:
		fail_msg("client got control %d", m->msg_case);
	}
}

static void
end_drained(struct link *l, void *arg)
{
	((struct end *)arg)->drained = 1;
}

static void
end_closed(struct link *l, void *arg, int reason)
{
	struct end *e = arg;

	e->closed = 1;
	e->reason = reason;
	assert_false(link_is_established(l));
	{
		Link__Control c = LINK__CONTROL__INIT;
		Link__Ping ping = LINK__PING__INIT;

		c.msg_case = LINK__CONTROL__MSG_PING;
		c.ping = &ping;
		assert_int_equal(link_send_control(l, &c), LINK_ERR_STATE);
	}
}

static int
end_accept(struct link *l, void *arg, const uint8_t peer[32])
{
	struct end *e = arg;

	e->accept_calls++;
	memcpy(e->peer, peer, 32);
	if (e->defer)
		return LINK_ACCEPT_PENDING;
	return e->reject ? -1 : 0;
}

static const struct link_callbacks end_cb = {
	.established = end_established,
	.packet = end_packet,
	.delivery = end_delivery,
	.control = end_control,
	.drained = end_drained,
	.closed = end_closed,
	.accept_peer = end_accept,
	.dh = end_dh,
};

static void
end_init(struct end *e, struct event_base *base, const char *name,
    enum dh_mode mode)
{
	memset(e, 0, sizeof(*e));
	e->base = base;
	e->name = name;
	e->dh_mode = mode;
	e->order_ok = 1;
	keypair(e->pub, e->priv);
}

static void
end_free(struct end *e)
{
	if (e->link != NULL)
		link_free(e->link);
	if (e->dh_timer != NULL)
		event_free(e->dh_timer);
	e->link = NULL;
	e->dh_timer = NULL;
}

static struct link_config
end_config(const struct end *e)
{
	struct link_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.packet_bytes = PACKET_BYTES;
	cfg.our_pub = e->pub;
	cfg.our_priv = e->dh_mode == DH_LOCAL ? e->priv : NULL;
	return cfg;
}

/* Two links on a fresh loopback connection; peer_key: what i believes. */
static void
connect_ends(struct end *i, struct link_config *icfg, const uint8_t *peer_key,
    struct end *r, struct link_config *rcfg)
{
	int a, b;

	tcp_pair(&a, &b);
	assert_int_equal(link_new_initiator(&i->link, i->base, a, icfg,
	    peer_key, &end_cb, i), LINK_OK);
	assert_int_equal(link_new_responder(&r->link, r->base, b, rcfg,
	    &end_cb, r), LINK_OK);
	/* Nothing happens inside the constructors. */
	assert_false(i->established || r->established || i->dh_calls ||
	    r->dh_calls);
}

static void
packet_fill(uint8_t *p, uint32_t seq)
{
	memset(p, 0x5a, PACKET_BYTES);
	p[0] = (uint8_t)(seq >> 24);
	p[1] = (uint8_t)(seq >> 16);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[PACKET_BYTES - 1] = (uint8_t)seq;
}

/* Sends n numbered packets, waiting for drained() whenever output is full. */
static void
send_packets(struct end *from, struct end *to, uint32_t n)
{
	uint8_t p[PACKET_BYTES];
	uint32_t seq = 0;
	int r, busy = 0;

	while (seq < n) {
		packet_fill(p, seq);
		r = link_send_packet(from->link, p, sizeof(p));
		if (r == LINK_ERR_BUSY) {
			busy++;
			from->drained = 0;
			pump_until(from->base, &from->drained, 10000);
			continue;
		}
		assert_int_equal(r, LINK_OK);
		seq++;
	}
	(void)busy;
}

static void
wait_packets(struct end *e, int n)
{
	struct timeval tv = { 0, 5000 }, start, now;
	struct event *tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);

	event_add(tick, &tv);
	gettimeofday(&start, NULL);
	while (e->packets < n && !e->closed) {
		gettimeofday(&now, NULL);
		assert_true(now.tv_sec - start.tv_sec < 120);
		event_base_loop(e->base, EVLOOP_ONCE);
	}
	event_free(tick);
	assert_int_equal(e->packets, n);
	assert_true(e->order_ok);
}

static void
test_loopback_async_dh(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;
	Link__Control c = LINK__CONTROL__INIT;
	Link__Register reg = LINK__REGISTER__INIT;
	Link__Ping ping = LINK__PING__INIT;

	end_init(&i, base, "client", DH_ASYNC);
	end_init(&r, base, "provider", DH_ASYNC);
	r.provider = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	/* Rekey every 8 messages so that the traffic crosses many rekeys. */
	icfg.rekey_interval = rcfg.rekey_interval = 8;
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	assert_int_equal(link_send_packet(i.link, zero_packet, PACKET_BYTES),
	    LINK_ERR_STATE);
	pump_until(base, &i.established, 5000);
	pump_until(base, &r.established, 5000);
	/* Each side did two DHs with its static key, through keyd. */
	assert_int_equal(i.dh_calls, 2);
	assert_int_equal(r.dh_calls, 2);
	assert_memory_equal(i.peer, r.pub, 32);
	assert_memory_equal(r.peer, i.pub, 32);
	assert_memory_equal(link_handshake_hash(i.link),
	    link_handshake_hash(r.link), 64);

	/* register -> register_ok -> pull -> pull_reply + 3 deliveries -> ack */
	c.msg_case = LINK__CONTROL__MSG_REGISTER;
	c.register_ = &reg;
	send_control(i.link, &c);
	ping.nonce = 0xfeedULL;
	c.msg_case = LINK__CONTROL__MSG_PING;
	c.ping = &ping;
	send_control(i.link, &c);
	pump_until(base, &i.got_ack_ok, 5000);
	assert_true(i.got_register_ok && i.got_pull_reply && i.got_pong);
	assert_int_equal(i.pong_nonce, 0xfeedULL);
	assert_int_equal(i.deliveries, 3);

	/* Packets both ways across rekeys (every 8 messages). */
	send_packets(&i, &r, 100);
	send_packets(&r, &i, 100);
	wait_packets(&r, 100);
	wait_packets(&i, 100);
	assert_false(i.closed || r.closed);

	/* A clean close at a frame boundary is EOF for the peer. */
	link_free(i.link);
	i.link = NULL;
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_EOF);
	assert_false(i.closed);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_loopback_sync_dh_and_local(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	end_init(&i, base, "i", DH_SYNC);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.established, 5000);
	pump_until(base, &i.established, 5000);
	assert_int_equal(i.dh_calls, 2);
	assert_int_equal(r.dh_calls, 0);
	send_packets(&r, &i, 10);
	wait_packets(&i, 10);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

/* 2^16 + 100 messages: the protocol's own rekey interval is crossed. */
static void
test_rekey_protocol_interval(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;
	uint32_t n = LINK_REKEY_INTERVAL_MSGS + 100;

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &i.established, 5000);
	send_packets(&i, &r, n);
	wait_packets(&r, (int)n);
	assert_false(r.closed);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

/* Ends that rekey at different intervals part at the first boundary. */
static void
test_rekey_mismatch(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	icfg.rekey_interval = 8;
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &i.established, 5000);
	send_packets(&i, &r, 20);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_DECRYPT);
	assert_int_equal(r.packets, 8);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_wrong_responder_key(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;
	uint8_t other_pub[32], other_priv[32];

	end_init(&i, base, "i", DH_ASYNC);
	end_init(&r, base, "r", DH_LOCAL);
	keypair(other_pub, other_priv);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, other_pub, &r, &rcfg);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_HANDSHAKE);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_EOF);
	assert_false(i.established || r.established);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_rejected_and_geometry(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_ASYNC);
	r.reject = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_PEER_REJECTED);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_EOF);
	end_free(&i);
	end_free(&r);

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	rcfg.packet_bytes = PACKET_BYTES + 1;
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_GEOMETRY);
	pump_until(base, &i.closed, 5000);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

/*
 * accept_peer() answers later (a node fetching its topology): message 2
 * waits, so the initiator cannot send yet, and the answer, an acceptance
 * or a refusal, comes through link_accept_result() and takes effect from
 * the loop; without an answer the handshake times out.
 */
static void
test_deferred_accept(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	/* accepted later: then the link carries packets */
	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_ASYNC);
	r.defer = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.accept_calls, 5000);
	assert_memory_equal(r.peer, i.pub, 32);
	pump_ms(base, 100);
	assert_false(i.established || r.established || i.closed || r.closed);
	/* No answer twice, and none to a link that asked nothing. */
	assert_int_equal(link_accept_result(i.link, 1), LINK_ERR_STATE);
	assert_int_equal(link_accept_result(NULL, 1), LINK_ERR_ARG);
	assert_int_equal(link_accept_result(r.link, 1), LINK_OK);
	assert_int_equal(link_accept_result(r.link, 1), LINK_ERR_STATE);
	assert_false(r.established);	/* never inside the call */
	pump_until(base, &i.established, 5000);
	pump_until(base, &r.established, 5000);
	assert_int_equal(r.accept_calls, 1);
	send_packets(&i, &r, 20);
	wait_packets(&r, 20);
	end_free(&i);
	end_free(&r);

	/* refused later */
	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	r.defer = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.accept_calls, 5000);
	assert_int_equal(link_accept_result(r.link, 0), LINK_OK);
	assert_false(r.closed);		/* never inside the call */
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_PEER_REJECTED);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_EOF);
	assert_false(i.established || r.established);
	end_free(&i);
	end_free(&r);

	/* never answered: the handshake timeout still holds */
	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	r.defer = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	icfg.handshake_timeout_ms = 1000;
	rcfg.handshake_timeout_ms = 100;
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_TIMEOUT);
	assert_int_equal(link_accept_result(r.link, 1), LINK_ERR_STATE);
	pump_until(base, &i.closed, 5000);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_dh_failure_and_timeout(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	/* keyd reports failure */
	end_init(&i, base, "i", DH_FAIL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_DH);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_EOF);
	end_free(&i);
	end_free(&r);

	/* keyd never answers: the handshake times out on both sides */
	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_NEVER);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	icfg.handshake_timeout_ms = 300;
	rcfg.handshake_timeout_ms = 100;
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_TIMEOUT);
	assert_int_equal(r.dh_calls, 1);
	/* An answer after the close is refused. */
	assert_int_equal(link_dh_result(r.link, r.pub), LINK_ERR_STATE);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_EOF);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

/* A peer paused by its owner pushes back until the sender is refused. */
static void
test_back_pressure(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;
	uint8_t p[PACKET_BYTES];
	uint32_t seq = 0;
	int r_, a, b, small = 4096;

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	icfg.out_max_bytes = 8192;
	/* Small kernel buffers, so that the link's own buffer fills soon. */
	tcp_pair(&a, &b);
	assert_int_equal(setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(link_new_initiator(&i.link, base, a, &icfg, r.pub,
	    &end_cb, &i), LINK_OK);
	assert_int_equal(link_new_responder(&r.link, base, b, &rcfg, &end_cb,
	    &r), LINK_OK);
	pump_until(base, &i.established, 5000);
	pump_until(base, &r.established, 5000);
	link_pause(r.link, 1);
	/* Socket buffers fill, then the link's own buffer, then BUSY. */
	for (;;) {
		packet_fill(p, seq);
		r_ = link_send_packet(i.link, p, sizeof(p));
		if (r_ == LINK_ERR_BUSY) {
			pump_ms(base, 10);
			packet_fill(p, seq);
			if ((r_ = link_send_packet(i.link, p, sizeof(p))) ==
			    LINK_ERR_BUSY)
				break;
		}
		assert_int_equal(r_, LINK_OK);
		seq++;
		assert_true(seq < 10000000);
	}
	assert_true(link_output_bytes(i.link) <= 8192);
	assert_true(link_output_bytes(i.link) + 2 + 1 + PACKET_BYTES + 16 > 8192);
	assert_int_equal(r.packets, 0);
	i.drained = 0;
	link_pause(r.link, 0);
	pump_until(base, &i.drained, 5000);
	wait_packets(&r, (int)seq);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_shutdown_and_free_in_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct end i, r;
	struct link_config icfg, rcfg;

	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &i.established, 5000);
	send_packets(&i, &r, 50);
	link_shutdown(i.link);
	assert_int_equal(link_send_packet(i.link, zero_packet, PACKET_BYTES),
	    LINK_ERR_STATE);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_CLOSED);
	/* Everything sent before the shutdown arrives, then EOF. */
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.packets, 50);
	assert_int_equal(r.reason, LINK_ERR_EOF);
	end_free(&i);
	end_free(&r);

	/* The receiver frees its link from inside the packet callback. */
	end_init(&i, base, "i", DH_LOCAL);
	end_init(&r, base, "r", DH_LOCAL);
	r.free_on_packet = 1;
	icfg = end_config(&i);
	rcfg = end_config(&r);
	connect_ends(&i, &icfg, r.pub, &r, &rcfg);
	pump_until(base, &i.established, 5000);
	send_packets(&i, &r, 5);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(r.packets, 1);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

static void
test_bad_arguments(void **state)
{
	struct event_base *base = event_base_new();
	struct end e;
	struct link_config cfg;
	struct link *l = NULL;
	int a, b;

	end_init(&e, base, "e", DH_LOCAL);
	cfg = end_config(&e);
	tcp_pair(&a, &b);
	assert_int_equal(link_new_initiator(&l, base, a, &cfg, NULL, &end_cb, &e),
	    LINK_ERR_ARG);
	cfg.packet_bytes = 0;
	assert_int_equal(link_new_responder(&l, base, b, &cfg, &end_cb, &e),
	    LINK_ERR_ARG);
	cfg.packet_bytes = LINK_MAX_PACKET_BYTES + 1;
	assert_int_equal(link_new_responder(&l, base, b, &cfg, &end_cb, &e),
	    LINK_ERR_ARG);
	cfg = end_config(&e);
	cfg.our_priv = NULL;
	{
		struct link_callbacks nodh = end_cb;

		nodh.dh = NULL;
		assert_int_equal(link_new_responder(&l, base, b, &cfg, &nodh,
		    &e), LINK_ERR_ARG);
	}
	assert_int_equal(link_new_responder(&l, base, -1, &cfg, &end_cb, &e),
	    LINK_ERR_ARG);
	/* The sockets are still ours after a failure. */
	assert_int_equal(write(a, "x", 1), 1);
	close(a);
	close(b);
	assert_int_equal(link_dh_result(NULL, NULL), LINK_ERR_ARG);
	assert_int_equal(link_send_packet(NULL, e.pub, 32), LINK_ERR_ARG);
	link_free(NULL);
	event_base_free(base);
}

/* ---- a hand-driven peer that speaks the wire format directly ---- */

struct raw {
	int			 fd;
	struct noise_cipher	 tx, rx;
	uint64_t		 interval;
};

static void
raw_send(struct raw *w, const void *p, size_t n)
{
	assert_int_equal(send(w->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
raw_recv(struct raw *w, struct event_base *base, uint8_t *p, size_t n)
{
	size_t got = 0;
	struct timeval start, now;

	gettimeofday(&start, NULL);
	while (got < n) {
		ssize_t k = recv(w->fd, p + got, n - got, MSG_DONTWAIT);

		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		assert_true(k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		event_base_loop(base, EVLOOP_NONBLOCK);
		gettimeofday(&now, NULL);
		assert_true(now.tv_sec - start.tv_sec < 5);
	}
}

/* Seals one frame: returns its wire length in out. */
static size_t
raw_frame(struct raw *w, const uint8_t *plain, size_t len, uint8_t *out)
{
	memcpy(out + 2, plain, len);
	assert_int_equal(link_seal(&w->tx, w->interval, out + 2, len), LINK_OK);
	out[0] = (uint8_t)((len + 16) >> 8);
	out[1] = (uint8_t)(len + 16);
	return len + 18;
}

/* A raw initiator completes the handshake with the responder link r. */
static void
raw_connect(struct raw *w, struct end *r, struct link_config *rcfg)
{
	uint8_t ipub[32], ipriv[32], msg[200], hello[4], out[16];
	struct noise_hs hs;
	struct noise_keys k;
	size_t n, m;
	int b, one = 1;

	memset(w, 0, sizeof(*w));
	tcp_pair(&w->fd, &b);
	/* Each of our small writes goes out at once (no Nagle). */
	assert_int_equal(setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)), 0);
	assert_int_equal(link_new_responder(&r->link, r->base, b, rcfg, &end_cb,
	    r), LINK_OK);
	keypair(ipub, ipriv);
	memset(&k, 0, sizeof(k));
	k.s_pub = ipub;
	k.s_priv = ipriv;
	k.rs = r->pub;
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR,
	    (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE), &k), 0);
	link_hello_write(hello, PACKET_BYTES);
	assert_int_equal(noise_hs_write(&hs, hello, 4, msg + 2, sizeof(msg) - 2,
	    &n), 0);
	msg[0] = 0;
	msg[1] = (uint8_t)n;
	raw_send(w, msg, n + 2);
	raw_recv(w, r->base, msg, 2 + LINK_MSG2_BYTES);
	assert_int_equal(msg[1], LINK_MSG2_BYTES);
	assert_int_equal(noise_hs_read(&hs, msg + 2, LINK_MSG2_BYTES, out,
	    sizeof(out), &m), 0);
	assert_int_equal(noise_hs_split(&hs, &w->tx, &w->rx, NULL), 0);
	assert_true(r->established);
	assert_memory_equal(r->peer, ipub, 32);
}

static void
raw_packet(uint8_t *plain, uint32_t seq)
{
	plain[0] = LINK_FRAME_PACKET;
	packet_fill(plain + 1, seq);
}

/* Sends bad bytes after a good handshake; expects the given reason. */
static void
raw_bad(struct event_base *base, const uint8_t *bytes, size_t n, int close_fd,
    int reason, int packets_before)
{
	struct end r;
	struct link_config rcfg;
	struct raw w;
	uint8_t plain[PACKET_BYTES + 1], buf[200];
	size_t k;

	end_init(&r, base, "r", DH_LOCAL);
	rcfg = end_config(&r);
	raw_connect(&w, &r, &rcfg);
	for (int s = 0; s < packets_before; s++) {
		raw_packet(plain, (uint32_t)s);
		k = raw_frame(&w, plain, sizeof(plain), buf);
		raw_send(&w, buf, k);
	}
	if (bytes != NULL)
		raw_send(&w, bytes, n);
	if (close_fd)
		close(w.fd);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, reason);
	assert_int_equal(r.packets, packets_before);
	if (!close_fd)
		close(w.fd);
	end_free(&r);
}

static void
test_bad_frames(void **state)
{
	struct event_base *base = event_base_new();
	struct end r;
	struct link_config rcfg;
	struct raw w;
	uint8_t plain[PACKET_BYTES + 10], buf[4096], frame[200];
	size_t k;

	/* Oversized: a length above the link's maximum closes at once. */
	buf[0] = 0xff;
	buf[1] = 0xff;
	raw_bad(base, buf, 2, 0, LINK_ERR_FRAME_SIZE, 2);
	buf[0] = (uint8_t)((link_max_message(PACKET_BYTES) + 1) >> 8);
	buf[1] = (uint8_t)(link_max_message(PACKET_BYTES) + 1);
	raw_bad(base, buf, 2, 0, LINK_ERR_FRAME_SIZE, 0);
	/* Undersized: shorter than a tag and a type byte */
	buf[0] = 0;
	buf[1] = 16;
	raw_bad(base, buf, 2, 0, LINK_ERR_FRAME_SIZE, 1);
	/* Truncated: half a frame, then the peer closes */
	memset(frame, 0, sizeof(frame));
	frame[1] = 1 + PACKET_BYTES + 16;
	raw_bad(base, frame, 40, 1, LINK_ERR_TRUNCATED, 3);
	/* At a frame boundary the close is EOF. */
	raw_bad(base, NULL, 0, 1, LINK_ERR_EOF, 3);

	/* Garbled ciphertext */
	end_init(&r, base, "r", DH_LOCAL);
	rcfg = end_config(&r);
	raw_connect(&w, &r, &rcfg);
	raw_packet(plain, 0);
	k = raw_frame(&w, plain, PACKET_BYTES + 1, frame);
	frame[20] ^= 4;
	raw_send(&w, frame, k);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_DECRYPT);
	close(w.fd);
	end_free(&r);

	/* Well encrypted, but: unknown type, wrong size, bad control */
	{
		struct { uint8_t type; size_t len; int reason; } cases[] = {
			{ 7, PACKET_BYTES + 1, LINK_ERR_FRAME_TYPE },
			{ 0, 1, LINK_ERR_FRAME_TYPE },
			{ LINK_FRAME_PACKET, PACKET_BYTES, LINK_ERR_PACKET_SIZE },
			{ LINK_FRAME_PACKET, PACKET_BYTES + 2, LINK_ERR_PACKET_SIZE },
			{ LINK_FRAME_DELIVERY, PACKET_BYTES + 1, LINK_ERR_PACKET_SIZE },
			{ LINK_FRAME_CONTROL, 9, LINK_ERR_CONTROL },
			{ LINK_FRAME_CONTROL, 1, LINK_ERR_CONTROL },
		};

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			end_init(&r, base, "r", DH_LOCAL);
			rcfg = end_config(&r);
			raw_connect(&w, &r, &rcfg);
			memset(plain, 0xee, sizeof(plain));
			plain[0] = cases[c].type;
			k = raw_frame(&w, plain, cases[c].len, frame);
			raw_send(&w, frame, k);
			pump_until(base, &r.closed, 5000);
			assert_int_equal(r.reason, cases[c].reason);
			close(w.fd);
			end_free(&r);
		}
	}

	/* One frame split across many reads, and many frames in one read. */
	end_init(&r, base, "r", DH_LOCAL);
	rcfg = end_config(&r);
	raw_connect(&w, &r, &rcfg);
	raw_packet(plain, 0);
	k = raw_frame(&w, plain, PACKET_BYTES + 1, frame);
	for (size_t b = 0; b < k; b++) {
		raw_send(&w, frame + b, 1);
		for (int spin = 0; spin < 5; spin++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		if (b + 1 < k)
			assert_int_equal(r.packets, 0);
	}
	pump_until(base, &r.packets, 5000);
	{
		size_t off = 0;

		for (uint32_t s = 1; s <= 40; s++) {
			raw_packet(plain, s);
			off += raw_frame(&w, plain, PACKET_BYTES + 1, buf + off);
		}
		raw_send(&w, buf, off);
	}
	wait_packets(&r, 41);
	/* The link answers a ping by itself. */
	{
		uint8_t ping[] = { LINK_FRAME_CONTROL, 0x42, 0x02, 0x08, 0x2a };
		uint8_t in[64];
		size_t m;
		struct link_frame f;

		k = raw_frame(&w, ping, sizeof(ping), frame);
		raw_send(&w, frame, k);
		raw_recv(&w, base, in, 2);
		assert_int_equal(link_message_length(in, 17, 64, &m), LINK_OK);
		raw_recv(&w, base, in + 2, m);
		assert_int_equal(link_open(&w.rx, 0, in + 2, m, &m), LINK_OK);
		assert_int_equal(link_frame_parse(in + 2, m, PACKET_BYTES, &f),
		    LINK_OK);
		assert_int_equal(f.control->msg_case, LINK__CONTROL__MSG_PONG);
		assert_int_equal(f.control->pong->nonce, 42);
		link_frame_clear(&f);
		assert_int_equal(r.controls, 0);
	}
	assert_false(r.closed);
	close(w.fd);
	end_free(&r);
	event_base_free(base);
}

/* Garbage where a handshake message should be. */
static void
test_bad_handshakes(void **state)
{
	struct event_base *base = event_base_new();
	struct end r, i;
	struct link_config cfg;
	uint8_t junk[2 + LINK_MSG1_BYTES];
	int a, b;

	/* wrong length for message 1 */
	end_init(&r, base, "r", DH_LOCAL);
	cfg = end_config(&r);
	tcp_pair(&a, &b);
	assert_int_equal(link_new_responder(&r.link, base, b, &cfg, &end_cb,
	    &r), LINK_OK);
	junk[0] = 0;
	junk[1] = LINK_MSG1_BYTES + 1;
	assert_int_equal(write(a, junk, 2), 2);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_HANDSHAKE);
	close(a);
	end_free(&r);

	/* right length, random bytes */
	end_init(&r, base, "r", DH_ASYNC);
	cfg = end_config(&r);
	tcp_pair(&a, &b);
	assert_int_equal(link_new_responder(&r.link, base, b, &cfg, &end_cb,
	    &r), LINK_OK);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 0;
	junk[1] = LINK_MSG1_BYTES;
	assert_int_equal(write(a, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_HANDSHAKE);
	close(a);
	end_free(&r);

	/* nothing at all: timeout */
	end_init(&r, base, "r", DH_LOCAL);
	cfg = end_config(&r);
	cfg.handshake_timeout_ms = 50;
	tcp_pair(&a, &b);
	assert_int_equal(link_new_responder(&r.link, base, b, &cfg, &end_cb,
	    &r), LINK_OK);
	pump_until(base, &r.closed, 5000);
	assert_int_equal(r.reason, LINK_ERR_TIMEOUT);
	close(a);
	end_free(&r);

	/* a responder that answers with garbage */
	end_init(&i, base, "i", DH_ASYNC);
	end_init(&r, base, "r", DH_LOCAL);
	cfg = end_config(&i);
	tcp_pair(&a, &b);
	assert_int_equal(link_new_initiator(&i.link, base, a, &cfg, r.pub,
	    &end_cb, &i), LINK_OK);
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 0;
	junk[1] = LINK_MSG2_BYTES;
	assert_int_equal(write(b, junk, 2 + LINK_MSG2_BYTES),
	    2 + LINK_MSG2_BYTES);
	pump_until(base, &i.closed, 5000);
	assert_int_equal(i.reason, LINK_ERR_HANDSHAKE);
	close(b);
	end_free(&i);
	end_free(&r);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_frame_parse),
		cmocka_unit_test(test_lengths_and_hello),
		cmocka_unit_test(test_open_forgery),
		cmocka_unit_test(test_loopback_async_dh),
		cmocka_unit_test(test_loopback_sync_dh_and_local),
		cmocka_unit_test(test_rekey_protocol_interval),
		cmocka_unit_test(test_rekey_mismatch),
		cmocka_unit_test(test_wrong_responder_key),
		cmocka_unit_test(test_rejected_and_geometry),
		cmocka_unit_test(test_deferred_accept),
		cmocka_unit_test(test_dh_failure_and_timeout),
		cmocka_unit_test(test_back_pressure),
		cmocka_unit_test(test_shutdown_and_free_in_callback),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_bad_handshakes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Noise_IK_25519_ChaChaPoly_BLAKE2b against the published vectors
 * (cacophony, snow) and an independent derivation (gen-nymd-link.py), in
 * tests/vectors/noise/; plus the asynchronous DH path and the failures.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/noise.h"

#define MAX_BYTES 4096

struct blob {
	uint8_t	b[MAX_BYTES];
	size_t	len;
};

static void
unhex(struct blob *out, const char *hex)
{
	size_t n;

	assert_non_null(hex);
	assert_int_equal(sodium_hex2bin(out->b, sizeof(out->b), hex,
	    strlen(hex), NULL, &n, NULL), 0);
	out->len = n;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_t *
load_json(const char *name)
{
	char path[1024];
	const char *top = getenv("top_srcdir");
	json_error_t err;
	json_t *j;

	snprintf(path, sizeof(path), "%s/tests/vectors/noise/%s",
	    top ? top : ".", name);
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("%s: %s (line %d)", path, err.text, err.line);
	return j;
}

static void
pubkey(uint8_t pub[32], const uint8_t priv[32])
{
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

/* A DH callback holding the private key, as keyd would. */
struct dh_ctx {
	uint8_t	priv[32];
	uint8_t	peer[32];
	int	mode;	/* 0 answer, 1 pending, 2 fail, 3 answer inside, pending */
	int	calls;
	struct noise_hs *hs;
};

static int
dh_cb(void *arg, uint8_t out[32], const uint8_t peer[32])
{
	struct dh_ctx *c = arg;

	c->calls++;
	memcpy(c->peer, peer, 32);
	switch (c->mode) {
	case 0:
		return crypto_scalarmult(out, c->priv, peer) == 0 ? 0 : -1;
	case 1:
		return NOISE_DH_PENDING;
	case 3: {
		uint8_t s[32];

		assert_int_equal(crypto_scalarmult(s, c->priv, peer), 0);
		assert_int_equal(noise_hs_dh_result(c->hs, s), NOISE_OK);
		return NOISE_DH_PENDING;
	}
	default:
		return -1;
	}
}

/* Answers a pending DH the way link.c does when keyd's reply arrives. */
static void
answer(struct dh_ctx *c, struct noise_hs *hs)
{
	uint8_t s[32];

	assert_int_equal(crypto_scalarmult(s, c->priv, c->peer), 0);
	assert_int_equal(noise_hs_dh_result(hs, s), NOISE_OK);
}

/*
 * Runs one published vector. dh_mode < 0: both sides hold their static
 * private keys; otherwise both go through the callback in that mode.
 */
static void
run_vector(const char *file, int dh_mode)
{
	json_t *root = load_json(file);
	json_t *v = json_array_get(json_object_get(root, "vectors"), 0);
	json_t *msgs = json_object_get(v, "messages");
	struct blob ipro, rpro, is, ie, irs, rs, re, hash, pl, ct;
	struct noise_hs ihs, rhs;
	struct noise_keys ik, rk;
	struct dh_ctx idh, rdh;
	struct noise_cipher isend, irecv, rsend, rrecv;
	uint8_t ispub[32], rspub[32], msg[MAX_BYTES], out[MAX_BYTES];
	uint8_t ih[64], rh[64];
	size_t n, m;
	int r;

	assert_non_null(v);
	assert_string_equal(jstr(v, "protocol_name"), NOISE_PROTOCOL_NAME);
	unhex(&ipro, jstr(v, "init_prologue"));
	unhex(&rpro, jstr(v, "resp_prologue"));
	unhex(&is, jstr(v, "init_static"));
	unhex(&ie, jstr(v, "init_ephemeral"));
	unhex(&irs, jstr(v, "init_remote_static"));
	unhex(&rs, jstr(v, "resp_static"));
	unhex(&re, jstr(v, "resp_ephemeral"));
	pubkey(ispub, is.b);
	pubkey(rspub, rs.b);
	assert_memory_equal(irs.b, rspub, 32);

	memset(&idh, 0, sizeof(idh));
	memset(&rdh, 0, sizeof(rdh));
	memcpy(idh.priv, is.b, 32);
	memcpy(rdh.priv, rs.b, 32);
	idh.mode = rdh.mode = dh_mode;
	idh.hs = &ihs;
	rdh.hs = &rhs;
	memset(&ik, 0, sizeof(ik));
	ik.s_pub = ispub;
	ik.s_priv = dh_mode < 0 ? is.b : NULL;
	ik.dh = dh_cb;
	ik.dh_arg = &idh;
	ik.rs = irs.b;
	ik.e_priv = ie.b;
	memset(&rk, 0, sizeof(rk));
	rk.s_pub = rspub;
	rk.s_priv = dh_mode < 0 ? rs.b : NULL;
	rk.dh = dh_cb;
	rk.dh_arg = &rdh;
	rk.e_priv = re.b;
	assert_int_equal(noise_hs_init(&ihs, NOISE_INITIATOR, ipro.b, ipro.len,
	    &ik), NOISE_OK);
	assert_int_equal(noise_hs_init(&rhs, NOISE_RESPONDER, rpro.b, rpro.len,
	    &rk), NOISE_OK);
	assert_null(noise_hs_remote_static(&rhs));

	/* -> e, es, s, ss: "ss" needs the initiator's static key */
	unhex(&pl, jstr(json_array_get(msgs, 0), "payload"));
	unhex(&ct, jstr(json_array_get(msgs, 0), "ciphertext"));
	while ((r = noise_hs_write(&ihs, pl.b, pl.len, msg, sizeof(msg), &n)) ==
	    NOISE_WANT_DH) {
		assert_true(dh_mode == 1 || dh_mode == 3);
		assert_memory_equal(idh.peer, rspub, 32);
		if (dh_mode == 1)
			answer(&idh, &ihs);
	}
	assert_int_equal(r, NOISE_OK);
	assert_int_equal(n, ct.len);
	assert_memory_equal(msg, ct.b, n);
	/* The responder's "es" and "ss" both need its static key. */
	while ((r = noise_hs_read(&rhs, msg, n, out, sizeof(out), &m)) ==
	    NOISE_WANT_DH) {
		assert_true(dh_mode == 1 || dh_mode == 3);
		if (dh_mode == 1)
			answer(&rdh, &rhs);
	}
	assert_int_equal(r, NOISE_OK);
	assert_int_equal(m, pl.len);
	assert_memory_equal(out, pl.b, m);
	assert_memory_equal(noise_hs_remote_static(&rhs), ispub, 32);

	/* <- e, ee, se: "se" needs the initiator's static key again */
	unhex(&pl, jstr(json_array_get(msgs, 1), "payload"));
	unhex(&ct, jstr(json_array_get(msgs, 1), "ciphertext"));
	assert_int_equal(noise_hs_write(&rhs, pl.b, pl.len, msg, sizeof(msg),
	    &n), NOISE_OK);
	assert_int_equal(n, ct.len);
	assert_memory_equal(msg, ct.b, n);
	while ((r = noise_hs_read(&ihs, msg, n, out, sizeof(out), &m)) ==
	    NOISE_WANT_DH) {
		assert_true(dh_mode == 1 || dh_mode == 3);
		if (dh_mode == 1)
			answer(&idh, &ihs);
	}
	assert_int_equal(r, NOISE_OK);
	assert_memory_equal(out, pl.b, m);
	if (dh_mode >= 0)
		assert_int_equal(idh.calls + rdh.calls, 4);

	assert_true(noise_hs_done(&ihs));
	assert_int_equal(noise_hs_split(&ihs, &isend, &irecv, ih), NOISE_OK);
	assert_int_equal(noise_hs_split(&rhs, &rsend, &rrecv, rh), NOISE_OK);
	assert_memory_equal(ih, rh, 64);
	if (json_object_get(v, "handshake_hash") != NULL) {
		unhex(&hash, jstr(v, "handshake_hash"));
		assert_memory_equal(ih, hash.b, 64);
	}

	/* Transport messages alternate, the initiator first. */
	for (size_t k = 2; k < json_array_size(msgs); k++) {
		struct noise_cipher *tx = k % 2 == 0 ? &isend : &rsend;
		struct noise_cipher *rx = k % 2 == 0 ? &rrecv : &irecv;

		unhex(&pl, jstr(json_array_get(msgs, k), "payload"));
		unhex(&ct, jstr(json_array_get(msgs, k), "ciphertext"));
		assert_int_equal(noise_cipher_encrypt(tx, NULL, 0, pl.b, pl.len,
		    msg), NOISE_OK);
		assert_memory_equal(msg, ct.b, ct.len);
		assert_int_equal(noise_cipher_decrypt(rx, NULL, 0, msg, ct.len,
		    msg), NOISE_OK);
		assert_memory_equal(msg, pl.b, pl.len);
	}
	json_decref(root);
}

static void
test_cacophony(void **state)
{
	run_vector("cacophony-IK_25519_ChaChaPoly_BLAKE2b.json", -1);
}

static void
test_snow(void **state)
{
	run_vector("snow-IK_25519_ChaChaPoly_BLAKE2b.json", -1);
}

static void
test_dh_callback_sync(void **state)
{
	run_vector("cacophony-IK_25519_ChaChaPoly_BLAKE2b.json", 0);
	run_vector("snow-IK_25519_ChaChaPoly_BLAKE2b.json", 0);
}

static void
test_dh_callback_async(void **state)
{
	run_vector("cacophony-IK_25519_ChaChaPoly_BLAKE2b.json", 1);
	run_vector("snow-IK_25519_ChaChaPoly_BLAKE2b.json", 1);
}

/* The callback answers through noise_hs_dh_result() before returning. */
static void
test_dh_callback_answers_inside(void **state)
{
	run_vector("cacophony-IK_25519_ChaChaPoly_BLAKE2b.json", 3);
}

static void
test_hmac_hkdf_rekey(void **state)
{
	json_t *root = load_json("nymd-link.json");
	json_t *a, *o;
	struct blob key, data, want, ck, ikm, w1, w2, w3;
	uint8_t out[64], o1[64], o2[64], o3[64];
	struct noise_cipher c;
	size_t i;

	a = json_object_get(root, "hmac");
	assert_true(json_array_size(a) >= 4);
	json_array_foreach(a, i, o) {
		unhex(&key, jstr(o, "key"));
		unhex(&data, jstr(o, "data"));
		unhex(&want, jstr(o, "hmac"));
		noise_hmac(out, key.b, key.len, data.b, data.len);
		assert_memory_equal(out, want.b, 64);
	}
	a = json_object_get(root, "hkdf");
	json_array_foreach(a, i, o) {
		unhex(&ck, jstr(o, "ck"));
		unhex(&ikm, jstr(o, "ikm"));
		unhex(&w1, jstr(o, "out1"));
		unhex(&w2, jstr(o, "out2"));
		noise_hkdf(ck.b, ikm.b, ikm.len, o1, o2,
		    json_object_get(o, "out3") ? o3 : NULL);
		assert_memory_equal(o1, w1.b, 64);
		assert_memory_equal(o2, w2.b, 64);
		if (json_object_get(o, "out3")) {
			unhex(&w3, jstr(o, "out3"));
			assert_memory_equal(o3, w3.b, 64);
		}
	}
	o = json_array_get(json_object_get(root, "rekey"), 0);
	unhex(&key, jstr(o, "k"));
	unhex(&want, jstr(o, "rekeyed"));
	memset(&c, 0, sizeof(c));
	memcpy(c.k, key.b, 32);
	c.has_key = 1;
	c.n = 77;
	noise_cipher_rekey(&c);
	assert_memory_equal(c.k, want.b, 32);
	/* Rekey changes k only (section 11.3). */
	assert_int_equal(c.n, 77);
	json_decref(root);
}

static void
keypair(uint8_t pub[32], uint8_t priv[32])
{
	randombytes_buf(priv, 32);
	pubkey(pub, priv);
}

struct pair {
	uint8_t			ipub[32], ipriv[32], rpub[32], rpriv[32];
	struct noise_hs		i, r;
	struct noise_keys	ik, rk;
};

static void
pair_init(struct pair *p, const char *iprologue, const char *rprologue)
{
	keypair(p->ipub, p->ipriv);
	keypair(p->rpub, p->rpriv);
	memset(&p->ik, 0, sizeof(p->ik));
	p->ik.s_pub = p->ipub;
	p->ik.s_priv = p->ipriv;
	p->ik.rs = p->rpub;
	memset(&p->rk, 0, sizeof(p->rk));
	p->rk.s_pub = p->rpub;
	p->rk.s_priv = p->rpriv;
	assert_int_equal(noise_hs_init(&p->i, NOISE_INITIATOR,
	    (const uint8_t *)iprologue, strlen(iprologue), &p->ik), NOISE_OK);
	assert_int_equal(noise_hs_init(&p->r, NOISE_RESPONDER,
	    (const uint8_t *)rprologue, strlen(rprologue), &p->rk), NOISE_OK);
}

/* Every single-bit change of either message is detected. */
static void
test_tampering(void **state)
{
	uint8_t msg1[200], msg2[200], out[64];
	size_t n1, n2, m;
	struct pair p;

	for (size_t bit = 0; bit < 8 * (NOISE_MSG1_OVERHEAD_BYTES + 3); bit++) {
		pair_init(&p, "x", "x");
		assert_int_equal(noise_hs_write(&p.i, (const uint8_t *)"abc", 3,
		    msg1, sizeof(msg1), &n1), NOISE_OK);
		msg1[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int r = noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m);
		assert_true(r == NOISE_ERR_DECRYPT || r == NOISE_ERR_DH);
		/* A failed handshake stays failed. */
		assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out),
		    &m), NOISE_ERR_FAILED);
		assert_null(noise_hs_remote_static(&p.r));
	}
	for (size_t bit = 0; bit < 8 * (NOISE_MSG2_OVERHEAD_BYTES + 3); bit++) {
		pair_init(&p, "x", "x");
		assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1,
		    sizeof(msg1), &n1), NOISE_OK);
		assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out),
		    &m), NOISE_OK);
		assert_int_equal(noise_hs_write(&p.r, (const uint8_t *)"xyz", 3,
		    msg2, sizeof(msg2), &n2), NOISE_OK);
		msg2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int r = noise_hs_read(&p.i, msg2, n2, out, sizeof(out), &m);
		assert_true(r == NOISE_ERR_DECRYPT || r == NOISE_ERR_DH);
	}
}

static void
test_wrong_keys_and_prologue(void **state)
{
	uint8_t msg1[200], out[64], other_pub[32], other_priv[32];
	size_t n1, m;
	struct pair p;

	/* The initiator has the wrong key for the responder. */
	pair_init(&p, "v1", "v1");
	keypair(other_pub, other_priv);
	p.ik.rs = other_pub;
	assert_int_equal(noise_hs_init(&p.i, NOISE_INITIATOR,
	    (const uint8_t *)"v1", 2, &p.ik), NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_OK);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_ERR_DECRYPT);

	/* Different prologues (protocol versions) do not agree. */
	pair_init(&p, "nymd-link-v1", "nymd-link-v2");
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_OK);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_ERR_DECRYPT);
}

static void
test_low_order_keys(void **state)
{
	/* Order-1 and order-8 points give an all-zero X25519 output. */
	static const uint8_t zero[32] = { 0 };
	static const uint8_t order8[32] = {
		0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56,
		0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb,
		0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
		0xb8, 0x00 };
	const uint8_t *bad[] = { zero, order8 };
	uint8_t msg1[200], out[64];
	size_t n1, m;
	struct pair p;

	for (size_t k = 0; k < 2; k++) {
		/* As the responder's key ("es" fails for the initiator). */
		pair_init(&p, "", "");
		p.ik.rs = bad[k];
		assert_int_equal(noise_hs_init(&p.i, NOISE_INITIATOR, NULL, 0,
		    &p.ik), NOISE_OK);
		assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1,
		    sizeof(msg1), &n1), NOISE_ERR_DH);
		/* As the initiator's ephemeral ("es" fails for the responder). */
		pair_init(&p, "", "");
		assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1,
		    sizeof(msg1), &n1), NOISE_OK);
		memcpy(msg1, bad[k], 32);
		assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out),
		    &m), NOISE_ERR_DH);
	}
}

static void
test_callback_failure(void **state)
{
	uint8_t msg1[200];
	size_t n1;
	struct dh_ctx c;
	struct pair p;

	pair_init(&p, "", "");
	memset(&c, 0, sizeof(c));
	c.mode = 2;
	p.ik.s_priv = NULL;
	p.ik.dh = dh_cb;
	p.ik.dh_arg = &c;
	assert_int_equal(noise_hs_init(&p.i, NOISE_INITIATOR, NULL, 0, &p.ik),
	    NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_ERR_DH);

	/* keyd answers "failed" asynchronously */
	c.mode = 1;
	assert_int_equal(noise_hs_init(&p.i, NOISE_INITIATOR, NULL, 0, &p.ik),
	    NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_WANT_DH);
	/* Calling again without an answer keeps waiting. */
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_WANT_DH);
	assert_int_equal(noise_hs_dh_result(&p.i, NULL), NOISE_ERR_DH);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_ERR_FAILED);

	/* An all-zero answer is refused like a low-order point. */
	assert_int_equal(noise_hs_init(&p.i, NOISE_INITIATOR, NULL, 0, &p.ik),
	    NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_WANT_DH);
	memset(msg1 + 150, 0, 32);
	assert_int_equal(noise_hs_dh_result(&p.i, msg1 + 150), NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_ERR_DH);

	/* A result nobody asked for is refused. */
	pair_init(&p, "", "");
	assert_int_equal(noise_hs_dh_result(&p.i, msg1), NOISE_ERR_ARG);
}

static void
test_sizes_and_order(void **state)
{
	uint8_t msg1[200], msg2[200], out[64], big[NOISE_MAX_MSG_BYTES + 1];
	size_t n1, n2, m;
	struct pair p;

	pair_init(&p, "", "");
	/* Out of turn */
	assert_int_equal(noise_hs_read(&p.i, msg1, 100, out, sizeof(out), &m),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_write(&p.r, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_ERR_ARG);
	/* Output buffer too small; message over 65535 bytes */
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1,
	    NOISE_MSG1_OVERHEAD_BYTES - 1, &n1), NOISE_ERR_SIZE);
	memset(big, 0, sizeof(big));
	assert_int_equal(noise_hs_write(&p.i, big,
	    NOISE_MAX_MSG_BYTES - NOISE_MSG1_OVERHEAD_BYTES + 1, big,
	    sizeof(big), &n1), NOISE_ERR_SIZE);
	assert_int_equal(noise_hs_write(&p.i, (const uint8_t *)"0123456789", 10,
	    msg1, sizeof(msg1), &n1), NOISE_OK);
	assert_int_equal(n1, NOISE_MSG1_OVERHEAD_BYTES + 10);
	/* Payload larger than the caller's buffer */
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, 9, &m),
	    NOISE_ERR_SIZE);

	pair_init(&p, "", "");
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_OK);
	/* Too short */
	assert_int_equal(noise_hs_read(&p.r, msg1, n1 - 1, out, sizeof(out),
	    &m), NOISE_ERR_SIZE);
	pair_init(&p, "", "");
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_OK);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_OK);
	assert_int_equal(m, 0);
	assert_int_equal(noise_hs_write(&p.r, NULL, 0, msg2, sizeof(msg2), &n2),
	    NOISE_OK);
	assert_int_equal(n2, NOISE_MSG2_OVERHEAD_BYTES);
	assert_int_equal(noise_hs_read(&p.i, msg2, n2, out, sizeof(out), &m),
	    NOISE_OK);
	/* Nothing after the second message */
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_read(&p.i, msg2, n2, out, sizeof(out), &m),
	    NOISE_ERR_ARG);
	/* Split before the end is refused. */
	{
		struct noise_cipher a, b;

		pair_init(&p, "", "");
		assert_int_equal(noise_hs_split(&p.i, &a, &b, NULL),
		    NOISE_ERR_ARG);
	}
}

/* A resumed read must be given the same message. */
static void
test_resume_same_message(void **state)
{
	uint8_t msg1[200], out[64];
	size_t n1, m;
	struct dh_ctx c;
	struct pair p;

	pair_init(&p, "", "");
	memset(&c, 0, sizeof(c));
	memcpy(c.priv, p.rpriv, 32);
	c.mode = 1;
	p.rk.s_priv = NULL;
	p.rk.dh = dh_cb;
	p.rk.dh_arg = &c;
	assert_int_equal(noise_hs_init(&p.r, NOISE_RESPONDER, NULL, 0, &p.rk),
	    NOISE_OK);
	assert_int_equal(noise_hs_write(&p.i, NULL, 0, msg1, sizeof(msg1), &n1),
	    NOISE_OK);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_WANT_DH);
	answer(&c, &p.r);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1 - 1, out, sizeof(out),
	    &m), NOISE_ERR_ARG);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_WANT_DH);
	answer(&c, &p.r);
	assert_int_equal(noise_hs_read(&p.r, msg1, n1, out, sizeof(out), &m),
	    NOISE_OK);
	assert_int_equal(c.calls, 2);
}

static void
test_nonces(void **state)
{
	struct noise_cipher a, b;
	uint8_t buf[64];

	memset(&a, 0, sizeof(a));
	randombytes_buf(a.k, 32);
	a.has_key = 1;
	b = a;
	noise_cipher_set_nonce(&a, UINT64_MAX - 1);
	noise_cipher_set_nonce(&b, UINT64_MAX - 1);
	memcpy(buf, "hello", 5);
	/* 2^64-2 is the last usable nonce; 2^64-1 belongs to REKEY. */
	assert_int_equal(noise_cipher_encrypt(&a, NULL, 0, buf, 5, buf),
	    NOISE_OK);
	assert_int_equal(noise_cipher_encrypt(&a, NULL, 0, buf, 5, buf + 32),
	    NOISE_ERR_NONCE);
	/* A forged message does not advance the receiver's nonce. */
	buf[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(&b, NULL, 0, buf, 21, buf + 32),
	    NOISE_ERR_DECRYPT);
	assert_int_equal(b.n, UINT64_MAX - 1);
	buf[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(&b, NULL, 0, buf, 21, buf + 32),
	    NOISE_OK);
	assert_memory_equal(buf + 32, "hello", 5);
	assert_int_equal(noise_cipher_decrypt(&b, NULL, 0, buf, 21, buf + 32),
	    NOISE_ERR_NONCE);
	assert_int_equal(noise_cipher_decrypt(&b, NULL, 0, buf, 15, buf + 32),
	    NOISE_ERR_SIZE);
}

static void
test_init_args(void **state)
{
	struct noise_hs hs;
	struct noise_keys k;
	uint8_t key[32] = { 9 };

	memset(&k, 0, sizeof(k));
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, NULL, 0, NULL),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_init(&hs, NOISE_RESPONDER, NULL, 0, &k),
	    NOISE_ERR_ARG);
	k.s_pub = key;
	/* Neither a private key nor a callback */
	assert_int_equal(noise_hs_init(&hs, NOISE_RESPONDER, NULL, 0, &k),
	    NOISE_ERR_ARG);
	k.s_priv = key;
	/* An initiator must know the responder's key. */
	assert_int_equal(noise_hs_init(&hs, NOISE_INITIATOR, NULL, 0, &k),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_init(&hs, NOISE_RESPONDER, NULL, 3, &k),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_init(&hs, (enum noise_role)7, NULL, 0, &k),
	    NOISE_ERR_ARG);
	assert_int_equal(noise_hs_init(&hs, NOISE_RESPONDER, NULL, 0, &k),
	    NOISE_OK);
	noise_hs_wipe(&hs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cacophony),
		cmocka_unit_test(test_snow),
		cmocka_unit_test(test_dh_callback_sync),
		cmocka_unit_test(test_dh_callback_async),
		cmocka_unit_test(test_dh_callback_answers_inside),
		cmocka_unit_test(test_hmac_hkdf_rekey),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_wrong_keys_and_prologue),
		cmocka_unit_test(test_low_order_keys),
		cmocka_unit_test(test_callback_failure),
		cmocka_unit_test(test_sizes_and_order),
		cmocka_unit_test(test_resume_same_message),
		cmocka_unit_test(test_nonces),
		cmocka_unit_test(test_init_args),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

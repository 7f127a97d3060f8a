/*
 * Fuzzes what a link peer controls (docs/link.md). The first input byte
 * picks the surface:
 *   0  plaintext frames (what an authenticated peer can send): lengths,
 *      frame types, packet sizes, control protobufs and their limits;
 *   1  a raw handshake message 1 to a responder (local key or DH callback);
 *   2  a well-formed message 1 whose initiator static key and hello payload
 *      come from the input, then the responder's message 2;
 *   3  an established session: the input's chunks are sealed as transport
 *      messages (with rekeying every 3), optionally corrupted or given a
 *      false length, and fed through the receiving path: length check,
 *      decryption, frame parsing.
 * Keys and ephemerals are fixed, so every input is reproducible.
 * -DFUZZ_LINK_FRAMES_ONLY (surfaces 0, 3) or -DFUZZ_LINK_HANDSHAKE_ONLY
 * (1, 2) spends a whole run on one side.
 */
#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/link.h"
#include "common/noise.h"

#define FUZZ_PACKET_BYTES	64
#define FUZZ_REKEY_INTERVAL	3

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	int			ready;
	uint8_t			ipriv[32], ipub[32], iepriv[32];
	uint8_t			rpriv[32], rpub[32], repriv[32];
	struct noise_cipher	isend, rrecv;
} fz;

static uint8_t wire[2 * 65536 + 64];

static int
fuzz_dh(void *arg, uint8_t out[32], const uint8_t peer[32])
{
	return crypto_scalarmult(out, arg, peer) == 0 ? 0 : -1;
}

/* The initiator's DH(s, rs) for an s without a private half: DH(r, s). */
static int
fuzz_dh_mirror(void *arg, uint8_t out[32], const uint8_t rs[32])
{
	return crypto_scalarmult(out, fz.rpriv, arg) == 0 ? 0 : -1;
}

static void
fuzz_keys(uint8_t priv[32], uint8_t pub[32], uint8_t fill)
{
	memset(priv, fill, 32);
	crypto_scalarmult_base(pub, priv);
}

static int
fuzz_hs_init(struct noise_hs *hs, enum noise_role role, int via_callback)
{
	struct noise_keys k;

	memset(&k, 0, sizeof(k));
	if (role == NOISE_INITIATOR) {
		k.s_pub = fz.ipub;
		k.s_priv = fz.ipriv;
		k.rs = fz.rpub;
		k.e_priv = fz.iepriv;
	} else {
		k.s_pub = fz.rpub;
		k.s_priv = via_callback ? NULL : fz.rpriv;
		k.dh = fuzz_dh;
		k.dh_arg = fz.rpriv;
		k.e_priv = fz.repriv;
	}
	return noise_hs_init(hs, role, (const uint8_t *)LINK_PROLOGUE,
	    sizeof(LINK_PROLOGUE) - 1, &k);
}

static void
fuzz_setup(void)
{
	struct noise_hs i, r;
	struct noise_cipher irecv, rsend;
	uint8_t hello[LINK_HELLO_BYTES], msg[256], out[16];
	size_t n, m;

	if (sodium_init() < 0)
		__builtin_trap();
	fuzz_keys(fz.ipriv, fz.ipub, 0x11);
	fuzz_keys(fz.rpriv, fz.rpub, 0x22);
	memset(fz.iepriv, 0x33, 32);
	memset(fz.repriv, 0x44, 32);
	link_hello_write(hello, FUZZ_PACKET_BYTES);
	if (fuzz_hs_init(&i, NOISE_INITIATOR, 0) != 0 ||
	    fuzz_hs_init(&r, NOISE_RESPONDER, 0) != 0 ||
	    noise_hs_write(&i, hello, 4, msg, sizeof(msg), &n) != 0 ||
	    noise_hs_read(&r, msg, n, out, sizeof(out), &m) != 0 ||
	    noise_hs_write(&r, hello, 4, msg, sizeof(msg), &n) != 0 ||
	    noise_hs_read(&i, msg, n, out, sizeof(out), &m) != 0 ||
	    noise_hs_split(&i, &fz.isend, &irecv, NULL) != 0 ||
	    noise_hs_split(&r, &rsend, &fz.rrecv, NULL) != 0)
		__builtin_trap();
	fz.ready = 1;
}

/* Parses one decrypted frame the way the link does, then frees it. */
static int
fuzz_parse(const uint8_t *plain, size_t len, size_t packet_bytes)
{
	struct link_frame f;
	int r;

	r = link_frame_parse(plain, len, packet_bytes, &f);
	if (r == LINK_OK) {
		if (f.type == LINK_FRAME_CONTROL &&
		    link_control_check(f.control) != LINK_OK)
			__builtin_trap();
		if (f.type != LINK_FRAME_CONTROL && f.packet_len != packet_bytes)
			__builtin_trap();
	}
	link_frame_clear(&f);
	return r;
}

/* 0: [packet size byte] then [2-byte length][plaintext] ... */
static void
fuzz_plain(const uint8_t *d, size_t n)
{
	size_t packet_bytes, len;

	if (n < 1)
		return;
	packet_bytes = 1 + d[0];
	d++;
	n--;
	while (n >= LINK_LEN_BYTES) {
		if (link_message_length(d, 0, LINK_MAX_WIRE_BYTES, &len) !=
		    LINK_OK)
			__builtin_trap();
		d += LINK_LEN_BYTES;
		n -= LINK_LEN_BYTES;
		if (len > n)
			len = n;
		(void)fuzz_parse(d, len, packet_bytes);
		d += len;
		n -= len;
	}
}

/* 1: [mode byte] then message 1 as it came off the wire */
static void
fuzz_msg1(const uint8_t *d, size_t n)
{
	struct noise_hs r;
	uint8_t hello[64], msg2[128];
	size_t m, n2;

	if (n < 1)
		return;
	if (fuzz_hs_init(&r, NOISE_RESPONDER, d[0] & 1) != NOISE_OK)
		__builtin_trap();
	if (noise_hs_read(&r, d + 1, n - 1, hello, sizeof(hello), &m) !=
	    NOISE_OK)
		return;
	(void)link_hello_check(hello, m, FUZZ_PACKET_BYTES);
	if (noise_hs_write(&r, hello, m > 4 ? 4 : m, msg2, sizeof(msg2),
	    &n2) != NOISE_OK)
		__builtin_trap();
}

/* 2: [initiator static public key: 32][hello payload] */
static void
fuzz_crafted_msg1(const uint8_t *d, size_t n)
{
	struct noise_hs i, r;
	struct noise_keys k;
	struct noise_cipher a, b;
	uint8_t spub[32], msg[600], out[512], msg2[128];
	size_t mlen, olen, n2;

	if (n < 32 || n - 32 > 256)
		return;
	memset(&k, 0, sizeof(k));
	memcpy(spub, d, sizeof(spub));
	k.s_pub = spub;
	k.dh = fuzz_dh_mirror;
	k.dh_arg = spub;
	k.rs = fz.rpub;
	k.e_priv = fz.iepriv;
	if (noise_hs_init(&i, NOISE_INITIATOR, (const uint8_t *)LINK_PROLOGUE,
	    sizeof(LINK_PROLOGUE) - 1, &k) != NOISE_OK)
		__builtin_trap();
	if (noise_hs_write(&i, d + 32, n - 32, msg, sizeof(msg), &mlen) !=
	    NOISE_OK)
		return;		/* a low-order static key */
	if (fuzz_hs_init(&r, NOISE_RESPONDER, 1) != NOISE_OK)
		__builtin_trap();
	if (noise_hs_read(&r, msg, mlen, out, sizeof(out), &olen) != NOISE_OK)
		__builtin_trap();	/* a valid message must be accepted */
	if (olen != n - 32 || memcmp(out, d + 32, olen) != 0 ||
	    memcmp(noise_hs_remote_static(&r), d, 32) != 0)
		__builtin_trap();
	if (link_hello_check(out, olen, FUZZ_PACKET_BYTES) != LINK_OK)
		return;
	if (noise_hs_write(&r, out, olen, msg2, sizeof(msg2), &n2) != NOISE_OK ||
	    noise_hs_split(&r, &a, &b, NULL) != NOISE_OK)
		__builtin_trap();
}

/* 3: chunks of [flags][len lo][len hi][plaintext] sealed into a stream */
static void
fuzz_session(const uint8_t *d, size_t n)
{
	struct noise_cipher tx = fz.isend, rx = fz.rrecv;
	size_t w = 0, len, pos, max = link_max_message(FUZZ_PACKET_BYTES);
	uint8_t flags;

	while (n >= 3 && w + LINK_LEN_BYTES + 65535 <= sizeof(wire)) {
		flags = d[0];
		len = (size_t)d[1] | (size_t)d[2] << 8;
		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		if (len > max - NOISE_TAG_BYTES)
			len = max - NOISE_TAG_BYTES;
		memcpy(wire + w + LINK_LEN_BYTES, d, len);
		d += len;
		n -= len;
		if (link_seal(&tx, FUZZ_REKEY_INTERVAL, wire + w + LINK_LEN_BYTES,
		    len) != LINK_OK)
			__builtin_trap();
		len += NOISE_TAG_BYTES;
		wire[w] = (uint8_t)(len >> 8);
		wire[w + 1] = (uint8_t)len;
		if (flags & 0x01)	/* flip one bit of the ciphertext */
			wire[w + LINK_LEN_BYTES + (flags >> 1) % len] ^=
			    (uint8_t)(1u << (flags & 7));
		if ((flags & 0x06) == 0x06)	/* a false length */
			wire[w + 1] ^= flags;
		w += LINK_LEN_BYTES + len;
	}

	/* The receiving side, as link_input() runs it. */
	pos = 0;
	while (w - pos >= LINK_LEN_BYTES) {
		if (link_message_length(wire + pos, NOISE_TAG_BYTES +
		    LINK_TYPE_BYTES, max, &len) != LINK_OK)
			break;
		if (w - pos - LINK_LEN_BYTES < len)
			break;		/* truncated */
		pos += LINK_LEN_BYTES;
		if (link_open(&rx, FUZZ_REKEY_INTERVAL, wire + pos, len,
		    &len) != LINK_OK)
			break;
		if (fuzz_parse(wire + pos, len, FUZZ_PACKET_BYTES) != LINK_OK)
			break;
		pos += len + NOISE_TAG_BYTES;
	}
	noise_cipher_wipe(&tx);
	noise_cipher_wipe(&rx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode;

	if (!fz.ready)
		fuzz_setup();
	if (size < 1)
		return 0;
	mode = data[0] & 3;
#if defined(FUZZ_LINK_FRAMES_ONLY)
	mode = mode & 1 ? 3 : 0;
#elif defined(FUZZ_LINK_HANDSHAKE_ONLY)
	mode = mode & 1 ? 1 : 2;
#endif
	switch (mode) {
	case 0:
		fuzz_plain(data + 1, size - 1);
		break;
	case 1:
		fuzz_msg1(data + 1, size - 1);
		break;
	case 2:
		fuzz_crafted_msg1(data + 1, size - 1);
		break;
	default:
		fuzz_session(data + 1, size - 1);
		break;
	}
	return 0;
}

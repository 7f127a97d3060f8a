/*
 * Link benchmark: Noise IK handshakes per second, as a ratio to one X25519
 * operation (crypto_scalarmult) measured in the same run. Also the link
 * set-up over loopback TCP and the transport frame rate. Prints figures;
 * never fails on time.
 *
 * Usage: link-bench [seconds per measurement, default 1]
 */
#include <config.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/link.h"
#include "common/noise.h"

#define BENCH_PACKET_BYTES 2048

static struct {
	uint8_t	ipriv[32], ipub[32], rpriv[32], rpub[32];
	uint8_t	iepriv[32], repriv[32];
	uint8_t	msg1[256], msg2[256];
	size_t	msg1_len, msg2_len;
	uint8_t	scratch[32];
} b;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs fn in growing batches for at least `seconds`: operations per second. */
static double
rate(void (*fn)(void), double seconds)
{
	double start = now_s(), t;
	unsigned long n = 0, batch = 1;

	for (;;) {
		for (unsigned long k = 0; k < batch; k++)
			fn();
		n += batch;
		t = now_s() - start;
		if (t >= seconds)
			return (double)n / t;
		if (t < seconds / 10)
			batch *= 2;
	}
}

static void
die(const char *what)
{
	fprintf(stderr, "link-bench: %s failed\n", what);
	exit(1);
}

static void
x25519(void)
{
	if (crypto_scalarmult(b.scratch, b.ipriv, b.rpub) != 0)
		die("crypto_scalarmult");
}

static void
hs_init(struct noise_hs *hs, enum noise_role role, int fixed_e)
{
	struct noise_keys k;

	memset(&k, 0, sizeof(k));
	if (role == NOISE_INITIATOR) {
		k.s_pub = b.ipub;
		k.s_priv = b.ipriv;
		k.rs = b.rpub;
		k.e_priv = fixed_e ? b.iepriv : NULL;
	} else {
		k.s_pub = b.rpub;
		k.s_priv = b.rpriv;
		k.e_priv = fixed_e ? b.repriv : NULL;
	}
	if (noise_hs_init(hs, role, (const uint8_t *)LINK_PROLOGUE,
	    sizeof(LINK_PROLOGUE) - 1, &k) != NOISE_OK)
		die("noise_hs_init");
}

/* One whole handshake, both sides, as two links do it. */
static void
handshake_both(void)
{
	struct noise_hs i, r;
	struct noise_cipher a, c, d, e;
	uint8_t hello[LINK_HELLO_BYTES], m1[128], m2[128], out[16];
	size_t n1, n2, m;

	link_hello_write(hello, BENCH_PACKET_BYTES);
	hs_init(&i, NOISE_INITIATOR, 0);
	hs_init(&r, NOISE_RESPONDER, 0);
	if (noise_hs_write(&i, hello, 4, m1, sizeof(m1), &n1) != NOISE_OK ||
	    noise_hs_read(&r, m1, n1, out, sizeof(out), &m) != NOISE_OK ||
	    noise_hs_write(&r, hello, 4, m2, sizeof(m2), &n2) != NOISE_OK ||
	    noise_hs_read(&i, m2, n2, out, sizeof(out), &m) != NOISE_OK ||
	    noise_hs_split(&i, &a, &c, NULL) != NOISE_OK ||
	    noise_hs_split(&r, &d, &e, NULL) != NOISE_OK)
		die("handshake");
}

/* The initiator's half, against a recorded message 2 (fixed ephemerals). */
static void
handshake_initiator(void)
{
	struct noise_hs i;
	struct noise_cipher a, c;
	uint8_t hello[LINK_HELLO_BYTES], m1[128], out[16];
	size_t n1, m;

	link_hello_write(hello, BENCH_PACKET_BYTES);
	hs_init(&i, NOISE_INITIATOR, 1);
	if (noise_hs_write(&i, hello, 4, m1, sizeof(m1), &n1) != NOISE_OK ||
	    noise_hs_read(&i, b.msg2, b.msg2_len, out, sizeof(out), &m) !=
	    NOISE_OK || noise_hs_split(&i, &a, &c, NULL) != NOISE_OK)
		die("initiator");
}

static void
handshake_responder(void)
{
	struct noise_hs r;
	struct noise_cipher a, c;
	uint8_t hello[LINK_HELLO_BYTES], m2[128], out[16];
	size_t n2, m;

	link_hello_write(hello, BENCH_PACKET_BYTES);
	hs_init(&r, NOISE_RESPONDER, 1);
	if (noise_hs_read(&r, b.msg1, b.msg1_len, out, sizeof(out), &m) !=
	    NOISE_OK ||
	    noise_hs_write(&r, hello, 4, m2, sizeof(m2), &n2) != NOISE_OK ||
	    noise_hs_split(&r, &a, &c, NULL) != NOISE_OK)
		die("responder");
}

static void
record_messages(void)
{
	struct noise_hs i, r;
	uint8_t hello[LINK_HELLO_BYTES], out[16];
	size_t m;

	link_hello_write(hello, BENCH_PACKET_BYTES);
	hs_init(&i, NOISE_INITIATOR, 1);
	hs_init(&r, NOISE_RESPONDER, 1);
	if (noise_hs_write(&i, hello, 4, b.msg1, sizeof(b.msg1),
	    &b.msg1_len) != NOISE_OK ||
	    noise_hs_read(&r, b.msg1, b.msg1_len, out, sizeof(out), &m) !=
	    NOISE_OK ||
	    noise_hs_write(&r, hello, 4, b.msg2, sizeof(b.msg2),
	    &b.msg2_len) != NOISE_OK)
		die("record");
	noise_hs_wipe(&i);
	noise_hs_wipe(&r);
}

/* A packet frame sealed by one end and opened by the other. */
static struct noise_cipher frame_tx, frame_rx;
static uint8_t frame_buf[1 + BENCH_PACKET_BYTES + NOISE_TAG_BYTES];

static void
frame_round(void)
{
	size_t plain;

	frame_buf[0] = LINK_FRAME_PACKET;
	if (link_seal(&frame_tx, 0, frame_buf, 1 + BENCH_PACKET_BYTES) !=
	    LINK_OK ||
	    link_open(&frame_rx, 0, frame_buf, sizeof(frame_buf), &plain) !=
	    LINK_OK)
		die("frame");
}

/* ---- whole links over loopback TCP ---- */

static struct event_base *base;
static int established;

static void
on_established(struct link *l, void *arg, const uint8_t peer[32])
{
	established++;
}

static void
on_closed(struct link *l, void *arg, int reason)
{
	die(link_strerror(reason));
}

static const struct link_callbacks bench_cb = {
	.established = on_established,
	.closed = on_closed,
};

static void
tcp_pair(int *a, int *c)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	static int ls = -1;

	if (ls < 0) {
		ls = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    listen(ls, 16) != 0)
			die("listen");
	}
	if (getsockname(ls, (struct sockaddr *)&sa, &len) != 0)
		die("getsockname");
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	if ((*c = accept(ls, NULL, NULL)) < 0)
		die("accept");
}

static void
link_setup(void)
{
	struct link_config icfg, rcfg;
	struct link *i, *r;
	int a, c;

	memset(&icfg, 0, sizeof(icfg));
	icfg.packet_bytes = BENCH_PACKET_BYTES;
	icfg.our_pub = b.ipub;
	icfg.our_priv = b.ipriv;
	rcfg = icfg;
	rcfg.our_pub = b.rpub;
	rcfg.our_priv = b.rpriv;
	tcp_pair(&a, &c);
	established = 0;
	if (link_new_initiator(&i, base, a, &icfg, b.rpub, &bench_cb, NULL) !=
	    LINK_OK ||
	    link_new_responder(&r, base, c, &rcfg, &bench_cb, NULL) != LINK_OK)
		die("link_new");
	while (established < 2)
		event_base_loop(base, EVLOOP_ONCE);
	link_free(i);
	link_free(r);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	double x1, x2, x, hs, hi, hr, ln, fr;

	if (secs <= 0)
		secs = 1.0;
	if (sodium_init() < 0)
		die("sodium_init");
	randombytes_buf(b.ipriv, 32);
	randombytes_buf(b.rpriv, 32);
	randombytes_buf(b.iepriv, 32);
	randombytes_buf(b.repriv, 32);
	crypto_scalarmult_base(b.ipub, b.ipriv);
	crypto_scalarmult_base(b.rpub, b.rpriv);
	record_messages();
	memset(&frame_tx, 0, sizeof(frame_tx));
	randombytes_buf(frame_tx.k, 32);
	frame_tx.has_key = 1;
	frame_rx = frame_tx;
	if ((base = event_base_new()) == NULL)
		die("event_base_new");

	/* The baseline before and after, so that drift shows. */
	x1 = rate(x25519, secs);
	hs = rate(handshake_both, secs);
	hi = rate(handshake_initiator, secs);
	hr = rate(handshake_responder, secs);
	ln = rate(link_setup, secs);
	fr = rate(frame_round, secs);
	x2 = rate(x25519, secs);
	x = (x1 + x2) / 2;

	printf("link-bench: baseline X25519 (crypto_scalarmult): %.0f/s "
	    "(%.0f before, %.0f after)\n", x, x1, x2);
	printf("link-bench: Noise IK handshake, both ends in memory: %.0f/s = "
	    "%.4f x X25519 (%.1f X25519-times per handshake)\n",
	    hs, hs / x, x / hs);
	printf("link-bench:   initiator's half: %.0f/s = %.4f x X25519 "
	    "(%.1f X25519-times)\n", hi, hi / x, x / hi);
	printf("link-bench:   responder's half: %.0f/s = %.4f x X25519 "
	    "(%.1f X25519-times)\n", hr, hr / x, x / hr);
	printf("link-bench: link set-up over loopback TCP, both ends "
	    "(connect, handshake, established): %.0f/s = %.4f x X25519\n",
	    ln, ln / x);
	printf("link-bench: %d-byte packet frame sealed and opened: %.0f/s = "
	    "%.2f x X25519\n", BENCH_PACKET_BYTES, fr, fr / x);
	event_base_free(base);
	return 0;
}

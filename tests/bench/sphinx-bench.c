/*
 * Sphinx benchmark: prints, as a markdown table, the cost of creating a
 * 6-hop packet, processing it at a hop and unwrapping it at the recipient,
 * and creating, using and opening a 6-hop reply block (section 17),
 * each as a ratio to one bare X25519 scalar multiplication measured in the
 * same run (DESIGN.md section 8: ratios against a baseline, never absolute
 * pass/fail times).  docs/sphinx.md section 14 discusses the figures.
 *
 *   sphinx-bench [-t SECONDS] [-r ROUNDS]
 *
 * Every row is measured ROUNDS times (default 3), interleaved with the
 * others, and the median is printed, so that a burst of load on the
 * machine moves one sample rather than a row.  Times are the process's
 * CPU time, which other processes on a busy machine disturb far less than
 * wall-clock time.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"

#define POOL_PACKETS	1024
#define POOL_REPLIES	16
#define MAX_ROUNDS	15
/* A mixnode's store for one hour at 500 packets per second. */
#define STORE_RATE	500.0
#define STORE_EPOCH_S	3600

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
die(const char *what)
{
	fprintf(stderr, "sphinx-bench: %s\n", what);
	exit(1);
}

struct bench {
	uint8_t			 priv[SPHINX_MAX_HOPS][32];
	struct sphinx_hop	 hops[SPHINX_MAX_HOPS];
	uint8_t			 msg[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t			 (*pool)[SPHINX_PACKET_BYTES];	/* 6-hop, for hop 0 */
	size_t			 pool_next;
	uint8_t			 (*final)[SPHINX_PACKET_BYTES];	/* 1-hop, for hop 5 */
	struct replay_store	*store;
	uint8_t			 scalar[32];
	uint8_t			 point[32];
	uint8_t			 buf[2048];
	uint8_t			 surb[SURB_BYTES];
	uint8_t			 surb_keys[SURB_KEYS_BYTES];
	uint8_t			 (*replies)[SPHINX_PACKET_BYTES]; /* at the creator */
	uint8_t			 (*reply_keys)[SURB_KEYS_BYTES];
	uint64_t		 tag_state;
	double			 excluded_s;	/* time spent outside the operation */
};

/* One operation each; they return non-zero on failure. */
typedef int (*bench_fn)(struct bench *, size_t i);

static int
op_x25519(struct bench *b, size_t i)
{
	uint8_t q[32];
	b->scalar[0] ^= (uint8_t)i;
	return crypto_scalarmult(q, b->scalar, b->point);
}

static int
op_x25519_base(struct bench *b, size_t i)
{
	uint8_t q[32];
	b->scalar[0] ^= (uint8_t)i;
	return crypto_scalarmult_base(q, b->scalar);
}

static int
op_chacha20(struct bench *b, size_t i)
{
	static const uint8_t nonce[12];
	return crypto_stream_chacha20_ietf_xor(b->buf, b->buf, sizeof(b->buf),
	    nonce, b->scalar);
}

static int
op_blake2b(struct bench *b, size_t i)
{
	uint8_t h[32];
	return crypto_generichash(h, sizeof(h), b->buf, sizeof(b->buf),
	    b->scalar, 32);
}

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int
op_replay(struct bench *b, size_t i)
{
	/* Fresh uniformly spread tags, as BLAKE2b outputs would be. */
	uint8_t tag[32] = { 0 };
	uint64_t h1 = splitmix64(&b->tag_state), h2 = splitmix64(&b->tag_state);

	if (replay_count(b->store) >= replay_capacity(b->store)) {
		double t = now_s();
		replay_reset(b->store, b->hops[0].node_pub);
		b->excluded_s += now_s() - t;
	}
	memcpy(tag, &h1, sizeof(h1));
	memcpy(tag + 8, &h2, sizeof(h2));
	return replay_check_and_insert(b->store, tag) < 0;
}

static int
op_create(struct bench *b, size_t i)
{
	uint8_t pkt[SPHINX_PACKET_BYTES];
	return sphinx_create(pkt, b->hops, SPHINX_MAX_HOPS, b->msg,
	    sizeof(b->msg), NULL);
}

static int
op_process(struct bench *b, size_t i)
{
	uint8_t out[SPHINX_PACKET_BYTES];
	struct sphinx_hop_result res;

	if (b->pool_next == POOL_PACKETS) {
		/* Every packet once per key epoch: start a new epoch. */
		double t = now_s();
		replay_reset(b->store, b->hops[0].node_pub);
		b->pool_next = 0;
		b->excluded_s += now_s() - t;
	}
	return sphinx_process(b->priv[0], b->store, b->pool[b->pool_next++],
	    out, &res);
}

static int
op_unwrap(struct bench *b, size_t i)
{
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;
	return sphinx_unwrap(b->priv[SPHINX_MAX_HOPS - 1],
	    b->final[i % POOL_PACKETS], msg, &len, NULL);
}

static int
op_surb_create(struct bench *b, size_t i)
{
	uint8_t surb[SURB_BYTES], keys[SURB_KEYS_BYTES], id[SURB_ID_BYTES];
	return surb_create(surb, keys, id, b->hops[0].node_pub, b->hops,
	    SPHINX_MAX_HOPS, 0, NULL);
}

static int
op_surb_use(struct bench *b, size_t i)
{
	uint8_t pkt[SPHINX_PACKET_BYTES];
	return surb_use(pkt, NULL, b->surb, sizeof(b->surb), b->msg,
	    sizeof(b->msg));
}

static int
op_surb_open(struct bench *b, size_t i)
{
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	size_t len, k = i % POOL_REPLIES;
	return surb_open(b->priv[SPHINX_MAX_HOPS - 1], b->reply_keys[k],
	    SURB_KEYS_BYTES, b->replies[k], msg, &len);
}

/* Replies as their creator receives them: made, then processed by hops. */
static void
setup_replies(struct bench *b)
{
	uint8_t id[SURB_ID_BYTES], surb[SURB_BYTES];
	struct sphinx_hop_result res;

	if (surb_create(b->surb, b->surb_keys, id, b->hops[0].node_pub, b->hops,
	    SPHINX_MAX_HOPS, 0, NULL) != SPHINX_OK)
		die("surb_create failed");
	b->replies = malloc(POOL_REPLIES * sizeof(*b->replies));
	b->reply_keys = malloc(POOL_REPLIES * sizeof(*b->reply_keys));
	if (b->replies == NULL || b->reply_keys == NULL)
		die("out of memory");
	for (size_t k = 0; k < POOL_REPLIES; k++) {
		if (surb_create(surb, b->reply_keys[k], id, b->hops[0].node_pub,
		    b->hops, SPHINX_MAX_HOPS, 0, NULL) != SPHINX_OK ||
		    surb_use(b->replies[k], NULL, surb, sizeof(surb), b->msg,
		    sizeof(b->msg)) != SPHINX_OK)
			die("surb_use failed");
		for (int h = 0; h + 1 < SPHINX_MAX_HOPS; h++) {
			replay_reset(b->store, b->hops[h].node_pub);
			if (sphinx_process(b->priv[h], b->store, b->replies[k],
			    b->replies[k], &res) != SPHINX_OK)
				die("a hop refused a reply");
		}
	}
	replay_reset(b->store, b->hops[0].node_pub);
}

/* Operations per second over at least `seconds`. */
static double
rate(struct bench *b, bench_fn fn, double seconds)
{
	size_t done = 0, batch = 8;
	b->excluded_s = 0;
	double start = now_s(), elapsed;

	do {
		for (size_t k = 0; k < batch; k++)
			if (fn(b, done + k) != 0)
				die("operation failed");
		done += batch;
		elapsed = now_s() - start - b->excluded_s;
		if (batch < 1024)
			batch *= 2;
	} while (elapsed < seconds);
	return (double)done / elapsed;
}

static void
setup(struct bench *b)
{
	uint8_t pub[SPHINX_MAX_HOPS][32];

	memset(b, 0, sizeof(*b));
	for (int i = 0; i < SPHINX_MAX_HOPS; i++)
		crypto_box_keypair(pub[i], b->priv[i]);
	for (int i = 0; i < SPHINX_MAX_HOPS; i++) {
		memcpy(b->hops[i].node_pub, pub[i], 32);
		if (i + 1 == SPHINX_MAX_HOPS) {
			b->hops[i].command = SPHINX_CMD_FINAL;
			break;
		}
		b->hops[i].command = i + 2 == SPHINX_MAX_HOPS ?
		    SPHINX_CMD_DELIVER : SPHINX_CMD_RELAY;
		memcpy(b->hops[i].next_id, pub[i + 1], 32);
		b->hops[i].delay_ms = 100u * (uint32_t)(i + 1);
	}
	randombytes_buf(b->msg, sizeof(b->msg));
	randombytes_buf(b->scalar, sizeof(b->scalar));
	randombytes_buf(b->buf, sizeof(b->buf));
	b->tag_state = randombytes_random();
	if (crypto_scalarmult_base(b->point, b->scalar) != 0)
		die("X25519 failed");

	b->pool = malloc(POOL_PACKETS * sizeof(*b->pool));
	b->final = malloc(POOL_PACKETS * sizeof(*b->final));
	if (b->pool == NULL || b->final == NULL)
		die("out of memory");
	for (size_t i = 0; i < POOL_PACKETS; i++) {
		if (sphinx_create(b->pool[i], b->hops, SPHINX_MAX_HOPS, b->msg,
		    sizeof(b->msg), NULL) != SPHINX_OK ||
		    sphinx_create(b->final[i], &b->hops[SPHINX_MAX_HOPS - 1], 1,
		    b->msg, sizeof(b->msg), NULL) != SPHINX_OK)
			die("sphinx_create failed");
	}
	b->pool_next = 0;

	struct replay_params params = {
		.packets_per_second = STORE_RATE, .epoch_seconds = STORE_EPOCH_S,
		.false_positive_rate = REPLAY_DEFAULT_FALSE_POSITIVE_RATE,
	};
	memcpy(params.key_id, pub[0], 32);
	if (replay_new(&b->store, &params) != REPLAY_OK)
		die("cannot create the replay store");
	setup_replies(b);
}

struct row {
	const char	*label;
	bench_fn	 fn;
	int		 headline;
	double		 samples[MAX_ROUNDS];
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

int
main(int argc, char **argv)
{
	double seconds = 1.0;
	int rounds = 3, ch;

	while ((ch = getopt(argc, argv, "t:r:")) != -1) {
		switch (ch) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: sphinx-bench [-t seconds] "
			    "[-r rounds]\n");
			return 2;
		}
	}
	if (seconds <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "sphinx-bench: bad -t or -r\n");
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init failed");

	static struct bench b;
	setup(&b);

	char store_label[128];
	snprintf(store_label, sizeof(store_label), "replay store check-and-insert "
	    "(%.0f tags, %.1f MiB)", STORE_RATE * STORE_EPOCH_S,
	    (double)replay_filter_bits(b.store) / 8.0 / 1048576.0);

	struct row rows[] = {
		{ "X25519 scalar multiplication (baseline)", op_x25519, 0, { 0 } },
		{ "X25519 base-point multiplication", op_x25519_base, 0, { 0 } },
		{ "ChaCha20 over 2 KiB", op_chacha20, 0, { 0 } },
		{ "keyed BLAKE2b-256 over 2 KiB", op_blake2b, 0, { 0 } },
		{ store_label, op_replay, 0, { 0 } },
		{ "6-hop packet creation (2048-byte message)", op_create, 1, { 0 } },
		{ "processing at a hop (with replay check)", op_process, 1, { 0 } },
		{ "recipient unwrap (2048-byte message)", op_unwrap, 1, { 0 } },
		{ "6-hop reply block creation", op_surb_create, 1, { 0 } },
		{ "reply packet creation (2048-byte message)", op_surb_use, 1,
		    { 0 } },
		{ "reply opening at its creator (2048-byte message)",
		    op_surb_open, 1, { 0 } },
		/*
		 * Noise IK handshakes would go here; they are measured by the
		 * link module's own benchmark (mk/link.am), not by this one.
		 */
	};
	size_t nrows = sizeof(rows) / sizeof(rows[0]);
	double baseline_first = 0, baseline_last = 0;

	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < nrows; i++)
			rows[i].samples[r] = rate(&b, rows[i].fn, seconds);
		if (r == 0)
			baseline_first = rows[0].samples[0];
	}
	baseline_last = rate(&b, op_x25519, seconds);
	double x25519 = median(rows[0].samples, rounds);

	printf("Sphinx benchmark: libsodium %s, median of %d rounds of %.1f s "
	    "of CPU time per row\n\n", sodium_version_string(), rounds,
	    seconds);
	printf("| operation | per second | µs each | X25519-equivalents |\n");
	printf("|---|---:|---:|---:|\n");
	for (size_t i = 0; i < nrows; i++) {
		double ops = median(rows[i].samples, rounds);
		const char *em = rows[i].headline ? "**" : "";
		printf("| %s%s%s | %.0f | %.2f | %s%.2f%s |\n", em,
		    rows[i].label, em, ops, 1e6 / ops, em, x25519 / ops, em);
	}
	printf("\nTargets (docs/sphinx.md): processing at most 2.3 and 6-hop "
	    "creation at most 28 X25519-equivalents.\n");
	printf("Baseline drift from first to last measurement: %+.1f %%\n",
	    100.0 * (baseline_last - baseline_first) / baseline_first);

	replay_free(b.store);
	free(b.pool);
	free(b.final);
	sodium_memzero(b.reply_keys, POOL_REPLIES * sizeof(*b.reply_keys));
	free(b.replies);
	free(b.reply_keys);
	return 0;
}

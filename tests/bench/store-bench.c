/*
 * Provider store benchmark: committed puts per second and pulled+acked
 * packets per second, with synchronous=FULL (what nym-provider uses) and
 * with NORMAL, as ratios to the rate of the file system's bare
 * write+fdatasync measured in the same run and directory.  Also the time
 * store_open() takes on the filled file (its integrity check).  Prints
 * figures; never fails on time.
 *
 * Usage: store-bench [seconds per measurement, default 1]
 *     [directory, default .]
 */
#include <config.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/sphinx.h"
#include "provider/store.h"

#define BENCH_PACKET_BYTES	SPHINX_PACKET_BYTES
#define BENCH_CLIENTS		64
#define BENCH_PULL_MAX		256	/* docs/link.md: at most 256 per pull */
#define BENCH_BATCH		64	/* puts per store_put_many() */
#define BENCH_OPEN_PACKETS	20000	/* in the file store_open() checks */

static struct {
	char			 dir[512], path[600], raw[600];
	struct store		*store;
	uint8_t			 clients[BENCH_CLIENTS][STORE_CLIENT_BYTES];
	uint8_t			 packet[BENCH_PACKET_BYTES];
	struct store_item	*items;
	unsigned long		 next, pulled;
	int			 raw_fd;
} b;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, int error)
{
	fprintf(stderr, "store-bench: %s failed: %s\n", what,
	    error != 0 ? store_strerror(error) : "system error");
	exit(1);
}

/* Runs fn until `seconds` pass (or fn says it is done): calls per second. */
static double
rate(int (*fn)(void), double seconds, unsigned long *calls)
{
	double start = now_s(), t;
	unsigned long n = 0;

	for (;;) {
		if (fn() != 0)
			break;
		n++;
		if ((n & 7) == 0 && now_s() - start >= seconds)
			break;
	}
	t = now_s() - start;
	if (calls != NULL)
		*calls = n;
	return (double)n / t;
}

/* The baseline: what one durable append costs on this file system. */
static int
raw_append(void)
{
	if (write(b.raw_fd, b.packet, sizeof(b.packet)) !=
	    (ssize_t)sizeof(b.packet) || fdatasync(b.raw_fd) != 0)
		die("write+fdatasync", 0);
	return 0;
}

static int
put_one(void)
{
	int error;

	b.packet[0] = (uint8_t)b.next;
	error = store_put(b.store, b.clients[b.next % BENCH_CLIENTS], b.packet,
	    sizeof(b.packet));
	if (error != STORE_OK)
		die("store_put", error);
	b.next++;
	return 0;
}

/* A batch of 64 puts in one transaction (store_put_many). */
static int
put_batch(void)
{
	struct store_put puts[BENCH_BATCH];
	int error;

	for (size_t i = 0; i < BENCH_BATCH; i++) {
		puts[i] = (struct store_put){
			.client = b.clients[b.next++ % BENCH_CLIENTS],
			.packet = b.packet, .len = sizeof(b.packet),
		};
	}
	if ((error = store_put_many(b.store, puts, BENCH_BATCH)) != STORE_OK)
		die("store_put_many", error);
	for (size_t i = 0; i < BENCH_BATCH; i++)
		if (puts[i].result != STORE_OK)
			die("store_put_many", puts[i].result);
	return 0;
}

/* One pull of up to 256 packets and the ack of all of them. */
static int
pull_ack_one(void)
{
	uint64_t ids[BENCH_PULL_MAX];
	size_t n, remaining;
	int error;

	for (int tries = 0; tries < BENCH_CLIENTS; tries++) {
		const uint8_t *c = b.clients[b.next++ % BENCH_CLIENTS];

		if ((error = store_pull(b.store, c, BENCH_PULL_MAX, b.items, &n,
		    &remaining)) != STORE_OK)
			die("store_pull", error);
		if (n == 0)
			continue;
		for (size_t i = 0; i < n; i++)
			ids[i] = b.items[i].id;
		if ((error = store_ack(b.store, c, ids, n)) != STORE_OK)
			die("store_ack", error);
		b.pulled += n;
		return 0;
	}
	return 1;
}

static void
open_store(void)
{
	struct store_limits limits = {
		.max_packets_per_client = 1000000, .max_clients = BENCH_CLIENTS,
	};
	uint8_t token[STORE_TOKEN_BYTES];
	int error;

	if ((error = store_open(&b.store, b.path, &limits)) != STORE_OK)
		die("store_open", error);
	for (size_t i = 0; i < BENCH_CLIENTS; i++)
		if ((error = store_register(b.store, b.clients[i], token)) !=
		    STORE_OK)
			die("store_register", error);
}

static void
set_full(int full)
{
	int error;

	if ((error = store_set_synchronous_full(b.store, full)) != STORE_OK)
		die("store_set_synchronous_full", error);
}

/* Empties every mailbox, unmeasured. */
static void
drain(void)
{
	set_full(0);
	while (pull_ack_one() == 0)
		;
}

/* Fills the mailboxes quickly (NORMAL), then measures pull+ack. */
static double
pull_ack_rate(int full, unsigned long packets, double seconds,
    unsigned long *pulled)
{
	unsigned long rounds;
	double r;

	drain();
	for (unsigned long i = 0; i < packets; i++)
		put_one();
	set_full(full);
	b.pulled = 0;
	r = rate(pull_ack_one, seconds, &rounds);
	*pulled = b.pulled;
	return r * (double)b.pulled / (double)(rounds == 0 ? 1 : rounds);
}

static void
cleanup(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char name[700];

	store_close(b.store);
	b.store = NULL;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", b.path, suffix[i]);
		unlink(name);
	}
	unlink(b.raw);
	rmdir(b.dir);
}

int
main(int argc, char *argv[])
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	const char *where = argc > 2 ? argv[2] : ".";
	double fsync_rate, put_full, put_normal, batch_full, pa_full, pa_normal;
	double t;
	unsigned long pulled_full, pulled_normal, fill;
	struct stat sb;

	if (seconds <= 0 || sodium_init() < 0)
		return 2;
	snprintf(b.dir, sizeof(b.dir), "%s/store-bench.XXXXXX", where);
	if (mkdtemp(b.dir) == NULL)
		die("mkdtemp", 0);
	snprintf(b.path, sizeof(b.path), "%s/provider.db", b.dir);
	snprintf(b.raw, sizeof(b.raw), "%s/raw", b.dir);
	randombytes_buf(b.packet, sizeof(b.packet));
	for (size_t i = 0; i < BENCH_CLIENTS; i++)
		randombytes_buf(b.clients[i], STORE_CLIENT_BYTES);
	if ((b.items = calloc(BENCH_PULL_MAX, sizeof(*b.items))) == NULL)
		die("calloc", 0);

	if ((b.raw_fd = open(b.raw, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		die("open", 0);
	fsync_rate = rate(raw_append, seconds, NULL);
	close(b.raw_fd);

	open_store();
	put_full = rate(put_one, seconds, NULL);
	batch_full = BENCH_BATCH * rate(put_batch, seconds, NULL);
	set_full(0);
	put_normal = rate(put_one, seconds, NULL);

	/* More packets than a measurement can move at either setting. */
	fill = (unsigned long)(seconds * 30000);
	pa_full = pull_ack_rate(1, fill, seconds, &pulled_full);
	pa_normal = pull_ack_rate(0, fill, seconds, &pulled_normal);

	/* Opening runs the integrity check over the whole file. */
	drain();
	for (unsigned long i = 0; i < BENCH_OPEN_PACKETS; i++)
		put_one();
	store_close(b.store);
	b.store = NULL;
	if (stat(b.path, &sb) != 0)
		die("stat", 0);
	t = now_s();
	open_store();
	t = now_s() - t;

	printf("store-bench: %d-byte packets, %d clients, %s\n",
	    BENCH_PACKET_BYTES, BENCH_CLIENTS, where);
	printf("  write+fdatasync (baseline) %10.0f /s\n", fsync_rate);
	printf("  put, synchronous=FULL      %10.0f /s  = %.2f x baseline\n",
	    put_full, put_full / fsync_rate);
	printf("  put, synchronous=NORMAL    %10.0f /s  = %.2f x baseline,"
	    " FULL costs %.1f x\n", put_normal, put_normal / fsync_rate,
	    put_normal / put_full);
	printf("  put_many(%d), FULL         %10.0f packets/s = %.2f x"
	    " baseline\n", BENCH_BATCH, batch_full, batch_full / fsync_rate);
	printf("  pull+ack 256, FULL         %10.0f packets/s = %.2f x baseline"
	    " (%lu packets)\n", pa_full, pa_full / fsync_rate, pulled_full);
	printf("  pull+ack 256, NORMAL       %10.0f packets/s = %.2f x baseline"
	    " (%lu packets)\n", pa_normal, pa_normal / fsync_rate,
	    pulled_normal);
	printf("  store_open, %d packets (%.0f MB) in a %.0f MB file:"
	    " %.3f s\n", BENCH_OPEN_PACKETS,
	    BENCH_OPEN_PACKETS * (double)BENCH_PACKET_BYTES / 1e6,
	    (double)sb.st_size / 1e6, t);
	cleanup();
	free(b.items);
	return 0;
}

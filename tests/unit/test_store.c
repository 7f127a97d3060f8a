/*
 * Unit tests of src/provider/store.c: registration and tokens, pull order
 * and remaining counts, acks of unknown ids, quotas, persistence across
 * reopening, refusal of corrupt and foreign files, and a crash test that
 * kills a writer with SIGKILL at random moments and checks that no
 * committed put is lost and no acked packet comes back.
 *
 * STORE_CRASH_ROUNDS (environment) sets the crash test's rounds.
 */
#include <config.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "provider/store.h"

struct fixture {
	char	dir[256];
	char	path[300];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/store-test.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/provider.db", f->dir);
	*state = f;
	return 0;
}

static void
remove_db(const struct fixture *f)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal",
	    "-reserve" };
	char name[320];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", f->path, suffix[i]);
		unlink(name);
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char mnt[320];

	/* test_full_disk's tmpfs, if a failed assertion left it */
	snprintf(mnt, sizeof(mnt), "%s/small", f->dir);
	(void)umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	remove_db(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
client_key(uint8_t client[STORE_CLIENT_BYTES], uint8_t n)
{
	memset(client, 0, STORE_CLIENT_BYTES);
	client[0] = n;
	client[31] = (uint8_t)(0xa5 ^ n);
}

static struct store *
open_store(const struct fixture *f, size_t max_packets, size_t max_clients)
{
	struct store_limits limits = {
		.max_packets_per_client = max_packets,
		.max_clients = max_clients,
	};
	struct store *s = NULL;

	assert_int_equal(store_open(&s, f->path, &limits), STORE_OK);
	assert_non_null(s);
	return s;
}

static void
fill_packet(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* Collects store_clients() output. */
struct client_list {
	uint8_t	keys[8][STORE_CLIENT_BYTES];
	size_t	n;
};

static void
collect_client(void *arg, const uint8_t client[STORE_CLIENT_BYTES])
{
	struct client_list *l = arg;

	if (l->n < 8)
		memcpy(l->keys[l->n], client, STORE_CLIENT_BYTES);
	l->n++;
}

static void
test_register(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 0);
	uint8_t a[32], b[32], c[32], ta[32], ta2[32], tb[32];
	struct client_list list = { .n = 0 };

	client_key(a, 2);
	client_key(b, 1);
	client_key(c, 3);
	assert_int_equal(store_register(s, a, ta), STORE_OK);
	assert_int_equal(store_register(s, a, ta2), STORE_OK);
	assert_memory_equal(ta, ta2, STORE_TOKEN_BYTES);
	assert_int_equal(store_register(s, b, tb), STORE_OK);
	assert_memory_not_equal(ta, tb, STORE_TOKEN_BYTES);

	assert_int_equal(store_check_token(s, a, ta, sizeof(ta)), STORE_OK);
	assert_int_equal(store_check_token(s, b, tb, sizeof(tb)), STORE_OK);
	assert_int_equal(store_check_token(s, a, tb, sizeof(tb)),
	    STORE_ERR_BAD_TOKEN);
	assert_int_equal(store_check_token(s, a, ta, 31), STORE_ERR_BAD_TOKEN);
	assert_int_equal(store_check_token(s, a, ta, 0), STORE_ERR_BAD_TOKEN);
	assert_int_equal(store_check_token(s, a, NULL, 0), STORE_ERR_BAD_TOKEN);
	ta2[31] ^= 1;
	assert_int_equal(store_check_token(s, a, ta2, sizeof(ta2)),
	    STORE_ERR_BAD_TOKEN);
	assert_int_equal(store_check_token(s, c, ta, sizeof(ta)),
	    STORE_ERR_NOT_REGISTERED);
	assert_int_equal(store_count(s, c), 0);
	assert_int_equal(store_count(s, a), 0);

	/* In key order, whatever the registration order. */
	assert_int_equal(store_clients(s, collect_client, &list), STORE_OK);
	assert_int_equal(list.n, 2);
	assert_memory_equal(list.keys[0], b, 32);
	assert_memory_equal(list.keys[1], a, 32);
	store_close(s);
}

static void
test_max_clients(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 2);
	uint8_t k[3][32], t[3][32], again[32];

	for (uint8_t i = 0; i < 3; i++)
		client_key(k[i], i);
	assert_int_equal(store_register(s, k[0], t[0]), STORE_OK);
	assert_int_equal(store_register(s, k[1], t[1]), STORE_OK);
	assert_int_equal(store_register(s, k[2], t[2]), STORE_ERR_FULL);
	assert_int_equal(store_check_token(s, k[2], t[2], 32),
	    STORE_ERR_NOT_REGISTERED);
	/* A registered client still gets its token when the store is full. */
	assert_int_equal(store_register(s, k[0], again), STORE_OK);
	assert_memory_equal(again, t[0], 32);
	store_close(s);

	/* Raising the limit on reopening lets the third one in. */
	s = open_store(f, 0, 3);
	assert_int_equal(store_register(s, k[2], t[2]), STORE_OK);
	store_close(s);
}

static void
test_pull_order(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 0);
	struct store_item *items = calloc(16, sizeof(*items));
	uint8_t a[32], b[32], tok[32], pkt[STORE_MAX_PACKET_BYTES];
	uint64_t ids[10], acks[3];
	size_t lens[10], n, remaining;

	assert_non_null(items);
	client_key(a, 1);
	client_key(b, 2);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	assert_int_equal(store_register(s, b, tok), STORE_OK);
	for (uint32_t i = 0; i < 10; i++) {
		lens[i] = i == 0 ? 1 : i == 1 ? STORE_MAX_PACKET_BYTES :
		    100 + 37 * i;
		fill_packet(pkt, lens[i], i);
		assert_int_equal(store_put_id(s, a, pkt, lens[i], &ids[i]),
		    STORE_OK);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
	}
	assert_int_equal(store_count(s, a), 10);
	assert_int_equal(store_count(s, b), 0);

	/* Oldest first; a pull deletes nothing. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_pull(s, a, 3, items, &n, &remaining),
		    STORE_OK);
		assert_int_equal(n, 3);
		assert_int_equal(remaining, 7);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(items[i].id, ids[i]);
			assert_int_equal(items[i].len, lens[i]);
			fill_packet(pkt, lens[i], (uint32_t)i);
			assert_memory_equal(items[i].packet, pkt, lens[i]);
		}
	}
	for (size_t i = 0; i < 3; i++)
		acks[i] = items[i].id;
	assert_int_equal(store_ack(s, a, acks, 3), STORE_OK);
	assert_int_equal(store_count(s, a), 7);

	assert_int_equal(store_pull(s, a, 16, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 7);
	assert_int_equal(remaining, 0);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(items[i].id, ids[i + 3]);
		fill_packet(pkt, lens[i + 3], (uint32_t)(i + 3));
		assert_int_equal(items[i].len, lens[i + 3]);
		assert_memory_equal(items[i].packet, pkt, lens[i + 3]);
	}
	/* max 0 only counts; remaining may be NULL. */
	assert_int_equal(store_pull(s, a, 0, NULL, &n, &remaining), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(remaining, 7);
	assert_int_equal(store_pull(s, a, 2, items, &n, NULL), STORE_OK);
	assert_int_equal(n, 2);
	/* Another client's mailbox is separate. */
	assert_int_equal(store_pull(s, b, 16, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(remaining, 0);

	/* Refusals. */
	client_key(b, 9);
	assert_int_equal(store_put(s, b, pkt, 10), STORE_ERR_NOT_REGISTERED);
	assert_int_equal(store_pull(s, b, 16, items, &n, &remaining),
	    STORE_ERR_NOT_REGISTERED);
	assert_int_equal(store_put(s, a, pkt, 0), STORE_ERR_INVALID);
	assert_int_equal(store_put(s, a, pkt, STORE_MAX_PACKET_BYTES + 1),
	    STORE_ERR_INVALID);
	assert_int_equal(store_put(s, a, NULL, 10), STORE_ERR_INVALID);
	assert_int_equal(store_pull(s, a, 1, NULL, &n, &remaining),
	    STORE_ERR_INVALID);
	assert_int_equal(store_pull(s, a, 1, items, NULL, &remaining),
	    STORE_ERR_INVALID);
	assert_int_equal(store_count(s, a), 7);
	free(items);
	store_close(s);
}

/* store_pull_skip(): what a link holds unacknowledged is passed over. */
static void
test_pull_skip(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 0);
	struct store_item *items = calloc(16, sizeof(*items));
	uint8_t a[32], tok[32], pkt[64];
	uint64_t ids[10], skip[4], gone = 0, bad[2];
	size_t n, remaining;

	assert_non_null(items);
	client_key(a, 1);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	for (uint32_t i = 0; i < 10; i++) {
		fill_packet(pkt, sizeof(pkt), i);
		assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &ids[i]),
		    STORE_OK);
	}
	/* Held: 0, 1, 4 (and an id that is gone, counted as there). */
	skip[0] = ids[0];
	skip[1] = ids[1];
	skip[2] = ids[4];
	assert_int_equal(store_pull_skip(s, a, skip, 3, 3, items, &n,
	    &remaining), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].id, ids[2]);
	assert_int_equal(items[1].id, ids[3]);
	assert_int_equal(items[2].id, ids[5]);
	fill_packet(pkt, sizeof(pkt), 5);
	assert_memory_equal(items[2].packet, pkt, sizeof(pkt));
	assert_int_equal(remaining, 4);
	/* Everything held: nothing handed out, nothing deleted. */
	assert_int_equal(store_pull_skip(s, a, ids, 10, 16, items, &n,
	    &remaining), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(remaining, 0);
	assert_int_equal(store_count(s, a), 10);
	/* A skipped id that was acked meanwhile is an upper bound. */
	gone = ids[9];
	assert_int_equal(store_ack(s, a, &gone, 1), STORE_OK);
	skip[3] = ids[9];
	assert_int_equal(store_pull_skip(s, a, skip, 4, 1, items, &n,
	    &remaining), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].id, ids[2]);
	assert_int_equal(remaining, 9 - 1 - 4);
	/* Not ascending, or NULL with a count: refused. */
	bad[0] = ids[3];
	bad[1] = ids[2];
	assert_int_equal(store_pull_skip(s, a, bad, 2, 1, items, &n, NULL),
	    STORE_ERR_INVALID);
	bad[1] = ids[3];
	assert_int_equal(store_pull_skip(s, a, bad, 2, 1, items, &n, NULL),
	    STORE_ERR_INVALID);
	assert_int_equal(store_pull_skip(s, a, NULL, 1, 1, items, &n, NULL),
	    STORE_ERR_INVALID);
	free(items);
	store_close(s);
}

static void
test_ack_unknown(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 0);
	uint8_t a[32], b[32], c[32], tok[32], pkt[64];
	uint64_t ida[3], idb, ids[8];
	struct store_item *items = calloc(4, sizeof(*items));
	size_t n, remaining;

	assert_non_null(items);
	client_key(a, 1);
	client_key(b, 2);
	client_key(c, 3);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	assert_int_equal(store_register(s, b, tok), STORE_OK);
	fill_packet(pkt, sizeof(pkt), 1);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &ida[i]),
		    STORE_OK);
	assert_int_equal(store_put_id(s, b, pkt, sizeof(pkt), &idb), STORE_OK);

	/* Unknown, zero, huge, another client's, and a duplicate id. */
	ids[0] = ida[1];
	ids[1] = 0;
	ids[2] = UINT64_MAX;
	ids[3] = (uint64_t)INT64_MAX;
	ids[4] = idb;
	ids[5] = ida[1];
	ids[6] = idb + 1000;
	ids[7] = (uint64_t)INT64_MAX + 1;
	assert_int_equal(store_ack(s, a, ids, 8), STORE_OK);
	assert_int_equal(store_count(s, a), 2);
	assert_int_equal(store_count(s, b), 1);
	/* Acking again is harmless. */
	assert_int_equal(store_ack(s, a, ids, 8), STORE_OK);
	assert_int_equal(store_count(s, a), 2);
	assert_int_equal(store_ack(s, a, NULL, 0), STORE_OK);
	assert_int_equal(store_ack(s, a, NULL, 1), STORE_ERR_INVALID);
	assert_int_equal(store_ack(s, c, ids, 1), STORE_ERR_NOT_REGISTERED);

	assert_int_equal(store_pull(s, a, 4, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].id, ida[0]);
	assert_int_equal(items[1].id, ida[2]);
	assert_int_equal(store_pull(s, b, 4, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].id, idb);
	free(items);
	store_close(s);
}

static void
test_quota(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 5, 0);
	uint8_t a[32], b[32], tok[32], pkt[100];
	uint64_t first, id;

	client_key(a, 1);
	client_key(b, 2);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	assert_int_equal(store_register(s, b, tok), STORE_OK);
	fill_packet(pkt, sizeof(pkt), 3);
	assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &first),
	    STORE_OK);
	for (int i = 1; i < 5; i++)
		assert_int_equal(store_put(s, a, pkt, sizeof(pkt)), STORE_OK);
	assert_int_equal(store_put(s, a, pkt, sizeof(pkt)), STORE_ERR_QUOTA);
	assert_int_equal(store_count(s, a), 5);
	/* The quota is per client. */
	assert_int_equal(store_put(s, b, pkt, sizeof(pkt)), STORE_OK);
	/* An ack makes room. */
	assert_int_equal(store_ack(s, a, &first, 1), STORE_OK);
	assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &id), STORE_OK);
	assert_true(id > first);
	assert_int_equal(store_put(s, a, pkt, sizeof(pkt)), STORE_ERR_QUOTA);
	store_close(s);

	/* A lower limit on reopening deletes nothing but refuses puts. */
	s = open_store(f, 3, 0);
	assert_int_equal(store_count(s, a), 5);
	assert_int_equal(store_put(s, a, pkt, sizeof(pkt)), STORE_ERR_QUOTA);
	store_close(s);
}

static void
test_put_many(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 3, 0);
	struct store_item *items = calloc(8, sizeof(*items));
	uint8_t a[32], b[32], c[32], tok[32], pkt[8][64];
	struct store_put puts[8];
	size_t n, remaining;

	assert_non_null(items);
	client_key(a, 1);
	client_key(b, 2);
	client_key(c, 3);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	assert_int_equal(store_register(s, b, tok), STORE_OK);
	for (uint32_t i = 0; i < 8; i++) {
		fill_packet(pkt[i], sizeof(pkt[i]), i);
		puts[i] = (struct store_put){ .client = a, .packet = pkt[i],
		    .len = sizeof(pkt[i]), .result = 99, .id = 99 };
	}
	puts[1].client = c;		/* not registered */
	puts[2].len = 0;		/* invalid */
	puts[3].client = b;
	/* a gets puts 0, 4, 5; 6 and 7 are over its quota of 3. */
	assert_int_equal(store_put_many(s, puts, 8), STORE_OK);
	assert_int_equal(puts[0].result, STORE_OK);
	assert_int_equal(puts[1].result, STORE_ERR_NOT_REGISTERED);
	assert_int_equal(puts[2].result, STORE_ERR_INVALID);
	assert_int_equal(puts[3].result, STORE_OK);
	assert_int_equal(puts[4].result, STORE_OK);
	assert_int_equal(puts[5].result, STORE_OK);
	assert_int_equal(puts[6].result, STORE_ERR_QUOTA);
	assert_int_equal(puts[7].result, STORE_ERR_QUOTA);
	assert_int_equal(puts[1].id, 0);
	assert_true(puts[0].id < puts[3].id && puts[3].id < puts[4].id &&
	    puts[4].id < puts[5].id);

	assert_int_equal(store_pull(s, a, 8, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].id, puts[0].id);
	assert_int_equal(items[1].id, puts[4].id);
	assert_int_equal(items[2].id, puts[5].id);
	assert_memory_equal(items[2].packet, pkt[5], sizeof(pkt[5]));
	assert_int_equal(store_count(s, b), 1);
	assert_int_equal(store_put_many(s, NULL, 0), STORE_OK);
	assert_int_equal(store_put_many(s, NULL, 1), STORE_ERR_INVALID);
	free(items);
	store_close(s);
}

static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	struct store *s = open_store(f, 0, 0);
	struct store_item *items = calloc(8, sizeof(*items));
	uint8_t a[32], ta[32], again[32], pkt[500];
	uint64_t ids[4], id;
	size_t n, remaining;
	struct stat sb;

	assert_non_null(items);
	client_key(a, 7);
	assert_int_equal(store_register(s, a, ta), STORE_OK);
	for (uint32_t i = 0; i < 4; i++) {
		fill_packet(pkt, sizeof(pkt), i);
		assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &ids[i]),
		    STORE_OK);
	}
	store_close(s);
	/* The file holds tokens: owner only. */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	s = open_store(f, 0, 0);
	assert_int_equal(store_register(s, a, again), STORE_OK);
	assert_memory_equal(again, ta, 32);
	assert_int_equal(store_check_token(s, a, ta, 32), STORE_OK);
	assert_int_equal(store_pull(s, a, 8, items, &n, &remaining), STORE_OK);
	assert_int_equal(n, 4);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(items[i].id, ids[i]);
		fill_packet(pkt, sizeof(pkt), i);
		assert_memory_equal(items[i].packet, pkt, sizeof(pkt));
	}
	/* Ack the newest packet: its id must never come back. */
	assert_int_equal(store_ack(s, a, &ids[3], 1), STORE_OK);
	store_close(s);

	s = open_store(f, 0, 0);
	assert_int_equal(store_count(s, a), 3);
	assert_int_equal(store_put_id(s, a, pkt, sizeof(pkt), &id), STORE_OK);
	assert_true(id > ids[3]);
	free(items);
	store_close(s);
}

static void
write_file(const char *path, const void *data, size_t len, off_t offset)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd != -1);
	assert_int_equal(pwrite(fd, data, len, offset), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
sql(const char *path, const char *statements)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, statements, NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_refused_files(void **state)
{
	struct fixture *f = *state;
	struct store *s = (struct store *)f;
	uint8_t junk[8192], a[32], tok[32], pkt[4000];
	struct stat sb;

	/* Not a database at all. */
	randombytes_buf(junk, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 0);
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_CORRUPT);
	assert_null(s);
	remove_db(f);
	write_file(f->path, "hello\n", 6, 0);
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_CORRUPT);
	remove_db(f);

	/* A store with damaged pages in the middle. */
	s = open_store(f, 0, 0);
	client_key(a, 1);
	assert_int_equal(store_register(s, a, tok), STORE_OK);
	for (uint32_t i = 0; i < 64; i++) {
		fill_packet(pkt, sizeof(pkt), i);
		assert_int_equal(store_put(s, a, pkt, sizeof(pkt)), STORE_OK);
	}
	store_close(s);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size >= 40 * 4096);
	memset(junk, 0x5a, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 20 * 4096);
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_CORRUPT);
	assert_null(s);
	remove_db(f);

	/* Written by a newer version. */
	s = open_store(f, 0, 0);
	store_close(s);
	sql(f->path, "UPDATE schema_version SET version = 2");
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_SCHEMA_NEWER);
	assert_null(s);
	/* Broken version table. */
	sql(f->path, "UPDATE schema_version SET version = 'one'");
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_SCHEMA);
	sql(f->path, "INSERT INTO schema_version VALUES (1)");
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_SCHEMA);
	remove_db(f);

	/* Version 1 claimed, table missing. */
	sql(f->path, "CREATE TABLE schema_version (version INTEGER);"
	    "INSERT INTO schema_version VALUES (1)");
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_SCHEMA);
	remove_db(f);

	/* Somebody else's database is left alone. */
	sql(f->path, "CREATE TABLE t (x INTEGER)");
	assert_int_equal(store_open(&s, f->path, NULL), STORE_ERR_SCHEMA);
	remove_db(f);

	/* Unusable paths and arguments. */
	assert_int_equal(store_open(&s, f->dir, NULL), STORE_ERR_IO);
	assert_int_equal(store_open(&s, "/nonexistent/dir/provider.db", NULL),
	    STORE_ERR_IO);
	assert_int_equal(store_open(&s, NULL, NULL), STORE_ERR_INVALID);
	assert_int_equal(store_open(&s, "", NULL), STORE_ERR_INVALID);
	assert_int_equal(store_open(NULL, f->path, NULL), STORE_ERR_INVALID);

	/* Every error has its own text. */
	for (int e = STORE_ERR_NOMEM; e <= STORE_OK; e++) {
		assert_non_null(store_strerror(e));
		for (int g = e + 1; g <= STORE_OK; g++)
			assert_string_not_equal(store_strerror(e),
			    store_strerror(g));
	}
	assert_string_equal(store_strerror(12345), "unknown store error");
	store_close(NULL);
}

/*
 * Crash test.  A child puts packets and pulls and acks them in a loop,
 * reporting each step on a pipe only after the call returned; the parent
 * kills it with SIGKILL at a random moment, reopens the store and checks
 * it against the reports.  Then again, on the same file.
 */
#define CRASH_CLIENTS		2
#define CRASH_QUOTA		150
#define CRASH_ACK_MAX		16
#define CRASH_DEFAULT_ROUNDS	12

enum crash_record_type {
	REC_READY = 1,		/* store opened, clients registered */
	REC_PUT,		/* committed: id is in the mailbox */
	REC_ACK_BEGIN,		/* about to ack id */
	REC_ACK_DONE,		/* acked: id is gone for good */
};

struct crash_record {
	uint32_t	type;
	uint32_t	client;
	uint64_t	id;
};

enum crash_state {
	ID_UNKNOWN = 0,
	ID_PRESENT,		/* reported put, not acked */
	ID_ACKING,		/* in the ack that may have been cut */
	ID_ACKED,
};

struct crash_model {
	uint8_t		*state;		/* enum crash_state by id */
	uint8_t		*client;	/* by id */
	size_t		 size;
	uint64_t	 max_id;
	unsigned long	 puts, acks, rounds_with_ops;
};

/* Packet contents checkable on their own: a tag, then bytes from it. */
static void
crash_packet(uint8_t *p, size_t len, uint64_t tag)
{
	memcpy(p, &tag, sizeof(tag));
	for (size_t i = sizeof(tag); i < len; i++)
		p[i] = (uint8_t)((tag >> ((i % 8) * 8)) ^ i ^ (i >> 8));
}

static int
crash_packet_ok(const uint8_t *p, size_t len)
{
	uint8_t expect[STORE_MAX_PACKET_BYTES];
	uint64_t tag;

	if (len < sizeof(tag) || len > STORE_MAX_PACKET_BYTES)
		return 0;
	memcpy(&tag, p, sizeof(tag));
	crash_packet(expect, len, tag);
	return memcmp(expect, p, len) == 0;
}

static void
crash_write(int fd, const struct crash_record *r, size_t n)
{
	const uint8_t *p = (const uint8_t *)r;
	size_t left = n * sizeof(*r);
	ssize_t w;

	while (left > 0) {
		if ((w = write(fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(10);
		}
		p += w;
		left -= (size_t)w;
	}
}

static void
crash_child(const char *path, int fd)
{
	struct store_limits limits = {
		.max_packets_per_client = CRASH_QUOTA, .max_clients = 16,
	};
	static struct store_item items[CRASH_ACK_MAX];
	struct crash_record recs[CRASH_ACK_MAX + 1];
	uint8_t keys[CRASH_CLIENTS][32], tok[32], pkt[STORE_MAX_PACKET_BYTES];
	uint64_t ids[CRASH_ACK_MAX + 1], tag, gone[CRASH_CLIENTS] = { 0 };
	struct store *s;
	size_t len, n, remaining;
	uint32_t c;
	int error;

	if (store_open(&s, path, &limits) != STORE_OK)
		_exit(2);
	for (c = 0; c < CRASH_CLIENTS; c++) {
		client_key(keys[c], (uint8_t)c);
		if (store_register(s, keys[c], tok) != STORE_OK)
			_exit(3);
	}
	recs[0] = (struct crash_record){ .type = REC_READY };
	crash_write(fd, recs, 1);
	for (;;) {
		c = randombytes_uniform(CRASH_CLIENTS);
		if (randombytes_uniform(3) != 0) {
			randombytes_buf(&tag, sizeof(tag));
			len = 8 +
			    randombytes_uniform(STORE_MAX_PACKET_BYTES - 7);
			crash_packet(pkt, len, tag);
			error = store_put_id(s, keys[c], pkt, len, &ids[0]);
			if (error == STORE_ERR_QUOTA)
				continue;
			if (error != STORE_OK)
				_exit(4);
			recs[0] = (struct crash_record){ REC_PUT, c, ids[0] };
			crash_write(fd, recs, 1);
			continue;
		}
		if (store_pull(s, keys[c],
		    1 + randombytes_uniform(CRASH_ACK_MAX), items, &n,
		    &remaining) != STORE_OK)
			_exit(5);
		for (size_t i = 0; i < n; i++) {
			ids[i] = items[i].id;
			recs[i] = (struct crash_record){ REC_ACK_BEGIN, c,
			    ids[i] };
		}
		if (n > 0)
			crash_write(fd, recs, n);
		/* An id acked before (or 0, none) rides along: harmless. */
		ids[n] = gone[c];
		if (store_ack(s, keys[c], ids, n + 1) != STORE_OK)
			_exit(6);
		if (n > 0)
			gone[c] = ids[n - 1];
		for (size_t i = 0; i < n; i++)
			recs[i].type = REC_ACK_DONE;
		if (n > 0)
			crash_write(fd, recs, n);
	}
}

static void
crash_grow(struct crash_model *m, uint64_t id)
{
	size_t size = m->size;

	assert_true(id < 100000000);
	if (id < size)
		return;
	while (size <= id)
		size = size == 0 ? 4096 : size * 2;
	m->state = realloc(m->state, size);
	m->client = realloc(m->client, size);
	assert_non_null(m->state);
	assert_non_null(m->client);
	memset(m->state + m->size, 0, size - m->size);
	memset(m->client + m->size, 0, size - m->size);
	m->size = size;
}

static void
crash_apply(struct crash_model *m, const struct crash_record *r, int *ready)
{
	switch (r->type) {
	case REC_READY:
		*ready = 1;
		return;
	case REC_PUT:
		/* Ids only grow, and are never handed out twice. */
		assert_true(r->id > m->max_id);
		crash_grow(m, r->id);
		m->max_id = r->id;
		m->state[r->id] = ID_PRESENT;
		m->client[r->id] = (uint8_t)r->client;
		m->puts++;
		return;
	case REC_ACK_BEGIN:
		assert_true(r->id < m->size);
		assert_int_equal(m->state[r->id], ID_PRESENT);
		assert_int_equal(m->client[r->id], r->client);
		m->state[r->id] = ID_ACKING;
		return;
	case REC_ACK_DONE:
		assert_true(r->id < m->size);
		assert_int_equal(m->state[r->id], ID_ACKING);
		m->state[r->id] = ID_ACKED;
		m->acks++;
		return;
	default:
		fail_msg("bad record type %u", r->type);
	}
}

/* Reads records until the deadline (or EOF if deadline_ms < 0): 1 at EOF. */
static int
crash_read(struct crash_model *m, int fd, long deadline_ms, int *ready)
{
	static struct crash_record buf[256];
	static size_t have;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec start, now;
	long elapsed = 0;
	ssize_t r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (deadline_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			elapsed = (now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000;
			if (elapsed >= deadline_ms)
				return 0;
			if (poll(&pfd, 1, (int)(deadline_ms - elapsed)) <= 0)
				continue;
		}
		r = read(fd, (uint8_t *)buf + have, sizeof(buf) - have);
		if (r == -1 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0) {
			/* Records are written whole (< PIPE_BUF). */
			assert_int_equal(have, 0);
			return 1;
		}
		have += (size_t)r;
		for (size_t i = 0; i < have / sizeof(buf[0]); i++)
			crash_apply(m, &buf[i], ready);
		memmove(buf, (uint8_t *)buf + have - have % sizeof(buf[0]),
		    have % sizeof(buf[0]));
		have %= sizeof(buf[0]);
	}
}

/* Compares the reopened store with the reports, then adopts its state. */
static void
crash_verify(struct crash_model *m, const struct fixture *f)
{
	static struct store_item items[CRASH_QUOTA + 1];
	struct store *s = open_store(f, CRASH_QUOTA, 16);
	uint8_t key[32];
	size_t n, remaining, acking_seen = 0, acking_total = 0, unreported = 0;
	uint64_t id;
	int error;

	for (size_t i = 0; i < m->size; i++)
		if (m->state[i] == ID_ACKING)
			acking_total++;
	for (uint32_t c = 0; c < CRASH_CLIENTS; c++) {
		client_key(key, (uint8_t)c);
		error = store_pull(s, key, CRASH_QUOTA + 1, items, &n,
		    &remaining);
		/* Killed before registering: then it never put anything. */
		if (error == STORE_ERR_NOT_REGISTERED && m->max_id == 0)
			continue;
		assert_int_equal(error, STORE_OK);
		assert_int_equal(remaining, 0);
		assert_int_equal(store_count(s, key), n);
		assert_true(n <= CRASH_QUOTA);
		for (size_t i = 0; i < n; i++) {
			id = items[i].id;
			assert_true(crash_packet_ok(items[i].packet,
			    items[i].len));
			if (i > 0)
				assert_true(id > items[i - 1].id);
			if (id > m->max_id) {
				/* Committed, killed before reporting it. */
				unreported++;
				crash_grow(m, id);
				m->max_id = id;
				m->state[id] = ID_PRESENT + 100;
				m->client[id] = (uint8_t)c;
				continue;
			}
			assert_true(m->state[id] == ID_PRESENT ||
			    m->state[id] == ID_ACKING);
			assert_int_equal(m->client[id], c);
			if (m->state[id] == ID_ACKING)
				acking_seen++;
			m->state[id] += 100;	/* mark as found */
		}
	}
	/* At most the one put in flight was not reported. */
	assert_true(unreported <= 1);
	/* The ack in flight happened entirely or not at all. */
	assert_true(acking_seen == 0 || acking_seen == acking_total);
	for (size_t i = 0; i < m->size; i++) {
		if (m->state[i] >= 100)
			m->state[i] -= 100;
		else if (m->state[i] == ID_PRESENT)
			fail_msg("committed put %zu lost", i);
		else if (m->state[i] == ID_ACKING)
			m->state[i] = ID_ACKED;
		if (m->state[i] == ID_ACKING)
			m->state[i] = ID_PRESENT;
	}
	store_close(s);
}

static void
test_crash(void **state)
{
	struct fixture *f = *state;
	struct crash_model m = { .state = NULL };
	const char *env = getenv("STORE_CRASH_ROUNDS");
	long rounds = env != NULL ? atol(env) : CRASH_DEFAULT_ROUNDS;
	unsigned long before;
	int fds[2], status, ready, eof;
	pid_t pid;

	for (long round = 0; round < rounds; round++) {
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			close(fds[0]);
			crash_child(f->path, fds[1]);
			_exit(9);
		}
		close(fds[1]);
		before = m.puts + m.acks;
		ready = 0;
		/* Every third round the kill may land while the child opens
		 * and recovers the store; otherwise once it runs. */
		eof = 0;
		if (round % 3 != 0)
			while (!ready && !eof)
				eof = crash_read(&m, fds[0], 10, &ready);
		if (!eof)
			(void)crash_read(&m, fds[0],
			    (long)randombytes_uniform(150), &ready);
		usleep(randombytes_uniform(1000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("child ended on its own, status %d", status);
		(void)crash_read(&m, fds[0], -1, &ready);
		close(fds[0]);
		crash_verify(&m, f);
		if (m.puts + m.acks > before)
			m.rounds_with_ops++;
	}
	fprintf(stderr, "# crash test: %ld kills, %lu committed puts, "
	    "%lu acks, %lu rounds killed mid-work\n", rounds, m.puts, m.acks,
	    m.rounds_with_ops);
	if (rounds >= CRASH_DEFAULT_ROUNDS) {
		assert_true(m.puts > 0);
		assert_true(m.acks > 0);
	}
	free(m.state);
	free(m.client);
}

/*
 * A full disk (docs/provider-store.md section 7), on a 3 MiB tmpfs of
 * its own (root only, skipped otherwise): puts until the disk is full
 * are refused with STORE_ERR_NOSPACE, the rest of the disk is filled by
 * another file, and every packet can still be pulled and acked (acks
 * release the reserve); with room again, puts work without reopening.
 */
static void
test_full_disk(void **state)
{
	struct fixture *f = *state;
	struct store_limits limits = { .max_packets_per_client = 100000 };
	struct store_item *items;
	uint8_t client[STORE_CLIENT_BYTES], token[STORE_TOKEN_BYTES];
	uint8_t packet[STORE_MAX_PACKET_BYTES];
	uint64_t ids[256];
	char mnt[320], path[360], filler[400];
	struct store *s = NULL;
	size_t n, remaining, stored = 0, acked = 0;
	int rc, fd;

	snprintf(mnt, sizeof(mnt), "%s/small", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=3m") == -1) {
		rmdir(mnt);
		skip();
	}
	snprintf(path, sizeof(path), "%s/provider.db", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	assert_int_equal(store_open(&s, path, &limits), STORE_OK);
	client_key(client, 1);
	assert_int_equal(store_register(s, client, token), STORE_OK);
	fill_packet(packet, sizeof(packet), 7);
	while ((rc = store_put(s, client, packet, sizeof(packet))) == STORE_OK)
		stored++;
	assert_int_equal(rc, STORE_ERR_NOSPACE);
	assert_true(stored > 50);
	/* not one byte left */
	assert_true((fd = open(filler, O_WRONLY | O_CREAT, 0600)) != -1);
	while (write(fd, packet, 512) > 0)
		;
	close(fd);

	assert_non_null(items = calloc(256, sizeof(*items)));
	do {
		assert_int_equal(store_pull(s, client, 256, items, &n,
		    &remaining), STORE_OK);
		for (size_t i = 0; i < n; i++)
			ids[i] = items[i].id;
		assert_int_equal(store_ack(s, client, ids, n), STORE_OK);
		acked += n;
	} while (n > 0);
	free(items);
	assert_int_equal(acked, stored);
	assert_int_equal(store_count(s, client), 0);

	unlink(filler);
	assert_int_equal(store_put(s, client, packet, sizeof(packet)), STORE_OK);
	store_close(s);
	snprintf(filler, sizeof(filler), "%s-wal", path);
	unlink(filler);
	snprintf(filler, sizeof(filler), "%s-shm", path);
	unlink(filler);
	snprintf(filler, sizeof(filler), "%s-reserve", path);
	unlink(filler);
	unlink(path);
	assert_int_equal(umount(mnt), 0);
	rmdir(mnt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_clients, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pull_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pull_skip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ack_unknown, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

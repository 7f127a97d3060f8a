/*
 * Unit tests of rpcd's message store (src/rpcd/queue.c):
 *  - durability: every commit of `send` (queue_enqueue) and of a received
 *    message reaches the disk before the call returns: SQLite's fsync or
 *    fdatasync, counted here by interposing them (the system libsqlite3
 *    calls them through the dynamic linker), is called during each one,
 *    which synchronous=OFF or NORMAL would not do in WAL mode; and the
 *    file's journal mode, read back by a second connection, is WAL;
 *  - duplicate suppression at the recipient: a second copy of a received
 *    message id is dropped, before and after the first was fetched;
 *  - a delivered message whose delete failed (another connection holds
 *    the write lock) is never handed out again, also after a restart (the
 *    durable record), and is deleted once it can be.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "rpcd/queue.h"

static unsigned long syncs;

/* SQLite's unix VFS calls these directly: these definitions take them. */
int
fsync(int fd)
{
	syncs++;
	return (int)syscall(SYS_fsync, fd);
}

int
fdatasync(int fd)
{
	syncs++;
	return (int)syscall(SYS_fdatasync, fd);
}

struct fixture {
	char		 dir[64];
	char		 path[96];
	struct queue	*q;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_queue.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/queue.db", f->dir);
	if (queue_open(&f->q, f->path, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "queue_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	queue_close(f->q);
	unlink(f->path);
	snprintf(path, sizeof(path), "%s-wal", f->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", f->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-reserve", f->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-retired", f->path);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
test_enqueue_reaches_disk(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	uint64_t id;

	memset(key, 7, sizeof(key));
	for (int i = 0; i < 3; i++) {
		unsigned long before = syncs;

		memset(msgid, i + 1, sizeof(msgid));
		assert_int_equal(queue_enqueue(f->q, msgid, key, key,
		    (const uint8_t *)"hello", 5, &id), 0);
		/* the commit was synced before queue_enqueue returned */
		assert_true(syncs > before);
	}
	assert_int_equal(queue_outgoing_count(f->q), 3);
}

static void
test_receive_reaches_disk(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES];

	for (int i = 0; i < 3; i++) {
		unsigned long before = syncs;

		memset(msgid, i + 1, sizeof(msgid));
		assert_int_equal(queue_receive(f->q, msgid,
		    (const uint8_t *)"m", 1), 0);
		assert_true(syncs > before);
	}
}

static void
test_journal_mode_is_wal(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

struct got {
	int	n;
	char	last[16];
};

static int
got_one(void *arg, const uint8_t *msg, size_t len)
{
	struct got *g = arg;

	g->n++;
	snprintf(g->last, sizeof(g->last), "%.*s", (int)len, (const char *)msg);
	return 0;
}

static int
got_done(void *arg)
{
	return 0;
}

static void
test_duplicate_is_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t a[QUEUE_MSGID_BYTES], b[QUEUE_MSGID_BYTES];
	struct got g = { 0 };

	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"first", 5), 0);
	/* the same id again, even with other bytes: a duplicate */
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"first", 5), 1);
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"other", 5), 1);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.last, "first");

	/* after the fetch, the id is still remembered */
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"first", 5), 1);
	assert_int_equal(queue_receive(f->q, b, (const uint8_t *)"second", 6), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	assert_string_equal(g.last, "second");
	memset(&g, 0, sizeof(g));
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 0);
}

static void
test_duplicate_survives_reopen(void **state)
{
	struct fixture *f = *state;
	uint8_t a[QUEUE_MSGID_BYTES];
	struct got g = { 0 };
	char err[256];

	memset(a, 3, sizeof(a));
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"x", 1), 0);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_receive(f->q, a, (const uint8_t *)"x", 1), 1);
	memset(&g, 0, sizeof(g));
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 0);
}

static void
count_outgoing(void *arg, const struct queue_outgoing *o)
{
	uint64_t *ids = arg;

	ids[ids[0] < 7 ? ++ids[0] : 0] = o->id;
}

static void
test_delivered_not_resent_after_restart(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES] = { 9 }, key[QUEUE_KEY_BYTES] = { 7 };
	uint64_t id1, id2, ids[8];
	sqlite3 *other;
	char err[256];

	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"a", 1, &id1), 0);
	msgid[0] = 10;
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"b", 1, &id2), 0);
	/* another writer: the delete of the delivered message fails */
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(queue_sent(f->q, id1), -1);
	assert_int_equal(queue_retired_count(f->q), 1);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_each_outgoing(f->q, count_outgoing, ids), 0);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], id2);

	/* nymd stops (or dies) before the delete succeeded */
	queue_close(f->q);
	f->q = NULL;
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(queue_each_outgoing(f->q, count_outgoing, ids), 0);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], id2);
	/* and it was deleted at the open, the record cleared */
	assert_int_equal(queue_retired_count(f->q), 0);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_retired_count(f->q), 0);
}

/* A store of the release before the record (no -retired file) opens
 * with nothing lost, and gets its record. */
static void
test_store_without_record_opens(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES] = { 11 }, key[QUEUE_KEY_BYTES] = { 7 };
	uint64_t id;
	char err[256], path[128];
	struct stat sb;

	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"c", 1, &id), 0);
	queue_close(f->q);
	snprintf(path, sizeof(path), "%s-retired", f->path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 512 * 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enqueue_reaches_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_reaches_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_mode_is_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivered_not_resent_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_without_record_opens, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

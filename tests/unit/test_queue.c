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
 *    durable record), and is deleted once it can be;
 *  - the duplicate window (docs/ipc.md, "Duplicates"), on a clock of the
 *    test's: an id is remembered for its window, however many others came
 *    after it (more than the 100 000 of the count it replaces), and then
 *    forgotten; never sooner when the clock is set back; never while its
 *    message is unfetched; at most max_ids of them, the oldest forgotten
 *    first; and the bytes one id takes on disk;
 *  - the stores of the releases before (tests/fixtures/rpcd-store-v1.db
 *    to -v4.db, schema versions 1 to 4) are migrated with nothing lost,
 *    and a store of a newer schema is refused and left as it is, as is
 *    one whose migration fails; what a packet beside an acknowledgement
 *    block no longer carries is cut again (a whole message of 2031
 *    bytes, a message in fragments of 2027, a packet of 4 reply blocks,
 *    a message whose blocks no longer fit beside it), each row of it
 *    what keyd takes (the IPC contract's check), each message made whole
 *    by a recipient into its own bytes; a message partly sent in the old
 *    cut, or too large for its sender tag, fails with its reason; a
 *    recipient's parts held in the old cut neither block nor mix with
 *    the new cut's (also of the same count), and still expire;
 *  - reply blocks (docs/replies.md): a message's packets with blocks are
 *    queued together; received blocks are kept by sender tag, used once
 *    each, oldest first, and a reply queued in the transaction that takes
 *    its block (also across a reopen); expired blocks and keys are not
 *    used; a reply through our block stores its message and deletes the
 *    block's keys together, and a second one through it is dropped;
 *  - fragments (docs/replies.md, "Fragments"): a large message is queued
 *    as its parts in one transaction; received parts make the message
 *    whole once, the last one's transaction storing it and deleting them;
 *    copies of a part or of a whole message are dropped; parts survive a
 *    reopen; a partial message expires; a part out of bounds is refused;
 *    parts of one message id with different counts are held apart, and
 *    the first made whole is delivered and drops the others.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/ipc.h"
#include "common/message.h"
#include "common/payload.h"
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

/* The queue's clock, in the tests of the duplicate window. */
static time_t fake_now;

static time_t
fake_clock(void)
{
	return fake_now;
}

#define WINDOW	3600u
/* A part of a fragment as the release before (schema 4) cut them. */
#define QUEUE_V4_PART	2027
#define STEP	(WINDOW / 64)	/* the marks' spacing: an id may stay this much longer */

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
	int	tagged;			/* how many came with a sender tag */
	uint8_t	tag[QUEUE_TAG_BYTES];	/* the last one's */
	int	ids;			/* how many carried their message id */
};

static int
got_one(void *arg, const struct queue_received *r)
{
	struct got *g = arg;

	g->n++;
	snprintf(g->last, sizeof(g->last), "%.*s", (int)r->len, (const char *)r->message);
	g->ids += r->msgid != NULL;
	if (r->tag != NULL) {
		g->tagged++;
		memcpy(g->tag, r->tag, sizeof(g->tag));
	}
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


static void
id_of(uint8_t msgid[QUEUE_MSGID_BYTES], unsigned int n)
{
	memset(msgid, 0, QUEUE_MSGID_BYTES);
	for (int b = 0; b < 4; b++)
		msgid[b] = (uint8_t)(n >> (8 * b));
	msgid[15] = 0xee;
}

/* 1 if id n is taken for a duplicate (a receive of it stores nothing). */
static int
seen(struct queue *q, unsigned int n)
{
	uint8_t msgid[QUEUE_MSGID_BYTES];

	id_of(msgid, n);
	return queue_receive(q, msgid, (const uint8_t *)"again", 5);
}

static void
receive_and_fetch(struct queue *q, unsigned int n)
{
	uint8_t msgid[QUEUE_MSGID_BYTES];
	struct got g = { 0 };

	id_of(msgid, n);
	assert_int_equal(queue_receive(q, msgid, (const uint8_t *)"m", 1), 0);
	assert_true(queue_fetch(q, got_one, got_done, &g) >= 1);
}

static void
test_window_keeps_then_forgets(void **state)
{
	struct fixture *f = *state;
	time_t t0 = time(NULL);

	fake_now = t0;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	receive_and_fetch(f->q, 1);
	/* a second short of the window, after a prune: still a duplicate */
	fake_now = t0 + WINDOW - 1;
	receive_and_fetch(f->q, 2);
	assert_int_equal(seen(f->q, 1), 1);
	/* its window (and a mark's spacing) over: forgotten at the next
	 * prune, and a copy delivered now would be stored again */
	fake_now = t0 + WINDOW + STEP + 1;
	receive_and_fetch(f->q, 3);
	assert_int_equal(seen(f->q, 1), 0);
	assert_int_equal(seen(f->q, 2), 1);
	assert_int_equal(seen(f->q, 3), 1);
}

/*
 * The recipient used to remember the last 100 000 ids: one received
 * before 100 001 others was forgotten and shown again. Now it stays for
 * its window. (The others are written straight into the store, as the
 * queue would have, to keep the test fast.)
 */
static void
test_window_outlives_old_count(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	receive_and_fetch(f->q, 1);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
	    "SELECT x + 1 FROM c WHERE x < 100001) INSERT INTO received (msgid, fetched) "
	    "SELECT randomblob(16), 1 FROM c", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	receive_and_fetch(f->q, 2);	/* a fetch prunes */
	assert_int_equal(seen(f->q, 1), 1);
}

/* A clock set back keeps ids longer, never shorter. */
static void
test_window_clock_set_back(void **state)
{
	struct fixture *f = *state;
	time_t t0 = time(NULL);

	fake_now = t0;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	receive_and_fetch(f->q, 1);
	fake_now = t0 - 10 * 24 * 3600;
	receive_and_fetch(f->q, 2);
	fake_now = t0 + WINDOW / 2;
	receive_and_fetch(f->q, 3);
	assert_int_equal(seen(f->q, 1), 1);
	assert_int_equal(seen(f->q, 2), 1);
	fake_now = t0 + WINDOW + STEP + 1;
	receive_and_fetch(f->q, 4);
	assert_int_equal(seen(f->q, 1), 0);
	/* 2 arrived (by the clock) before 1, but is kept as if after it */
	assert_int_equal(seen(f->q, 2), 1);
}

static int
take_one(void *arg, const struct queue_received *r)
{
	struct got *g = arg;

	if (g->n == 1)
		return 1;	/* the response is full */
	return got_one(arg, r);
}

/* A message not yet fetched is kept, and its id with it, however old. */
static void
test_window_spares_unfetched(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	struct got g = { 0 };
	time_t t0 = time(NULL);

	fake_now = t0;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	id_of(msgid, 1);
	assert_int_equal(queue_receive(f->q, msgid, (const uint8_t *)"one", 3), 0);
	id_of(msgid, 2);
	assert_int_equal(queue_receive(f->q, msgid, (const uint8_t *)"two", 3), 0);
	fake_now = t0 + 2 * WINDOW;
	/* one fetched (and its id forgotten by the prune), two left */
	assert_int_equal(queue_fetch(f->q, take_one, got_done, &g), 1);
	assert_string_equal(g.last, "one");
	assert_int_equal(seen(f->q, 2), 1);
	memset(&g, 0, sizeof(g));
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	assert_string_equal(g.last, "two");
	assert_int_equal(seen(f->q, 1), 0);
}

/* At most max_ids: the oldest go first, within their window. */
static void
test_window_cap(void **state)
{
	struct fixture *f = *state;

	fake_now = time(NULL);
	queue_set_window(f->q, WINDOW, 100, fake_clock);
	for (unsigned int i = 1; i <= 150; i++)
		receive_and_fetch(f->q, i);
	assert_int_equal(seen(f->q, 50), 0);
	assert_int_equal(seen(f->q, 51), 1);
	assert_int_equal(seen(f->q, 150), 1);
}

/* The window's marks survive a restart: the window goes on. */
static void
test_window_survives_reopen(void **state)
{
	struct fixture *f = *state;
	time_t t0 = time(NULL);
	char err[256];

	fake_now = t0;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	receive_and_fetch(f->q, 1);
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	fake_now = t0 + WINDOW - 1;
	receive_and_fetch(f->q, 2);
	assert_int_equal(seen(f->q, 1), 1);
	fake_now = t0 + WINDOW + STEP + 1;
	receive_and_fetch(f->q, 3);
	assert_int_equal(seen(f->q, 1), 0);
}

/*
 * What one remembered id costs on disk: N fetched ids, as rpcd leaves
 * them (a row of received without its message, its msgid in the unique
 * index and in received_unfetched), written straight into the store.
 */
#define BYTES_IDS	200000
static void
test_window_bytes_per_id(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;
	long long pages, free_pages, page_size;
	char sql[256];
	double per_id;

	queue_close(f->q);
	f->q = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
	    "SELECT x + 1 FROM c WHERE x < %d) INSERT INTO received (msgid, fetched) "
	    "SELECT randomblob(16), 1 FROM c", BYTES_IDS);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT page_count FROM "
	    "pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count), "
	    "(SELECT page_size FROM pragma_page_size)", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pages = sqlite3_column_int64(st, 0);
	free_pages = sqlite3_column_int64(st, 1);
	page_size = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
	per_id = (double)((pages - free_pages) * page_size) / BYTES_IDS;
	printf("# duplicate window: %.1f bytes per remembered id (%d ids in %lld "
	    "pages of %lld bytes); 7 days at 10 messages/s (6 048 000 ids): "
	    "%.0f MiB; the cap (%u ids): %.0f MiB\n", per_id, BYTES_IDS,
	    pages - free_pages, page_size, per_id * 6048000 / 1048576,
	    QUEUE_SEEN_MAX, per_id * QUEUE_SEEN_MAX / 1048576);
	/* 16 bytes of id, the row and two index entries: what
	 * docs/ipc.md says, within its rounding */
	assert_true(per_id > 40 && per_id < 90);
	assert_int_equal(queue_open(&f->q, f->path, NULL, sql, sizeof(sql)), 0);
}

static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	size_t n;
	FILE *in = fopen(from, "rb"), *out;

	if (in == NULL)
		return -1;
	if ((out = fopen(to, "wb")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			break;
	fclose(in);
	return fclose(out) == 0 && n == 0 ? 0 : -1;
}

static int
schema_of(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'",
	    -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A copy of every queued row (queue_each_outgoing()), for the tests of
 * the stores of earlier releases. */
struct row {
	uint64_t	 id;
	uint8_t		 msgid[QUEUE_MSGID_BYTES];
	uint8_t		 rcpt[QUEUE_KEY_BYTES];
	uint8_t		 prov[QUEUE_KEY_BYTES];
	uint8_t		 tag[QUEUE_TAG_BYTES];
	int		 tagged;
	uint8_t		 surb[QUEUE_SURB_BYTES];
	int		 reply;
	uint8_t		 ack[ACK_ID_BYTES];
	int		 has_ack;
	unsigned	 surbs;
	int		 surbs_only;
	unsigned	 frag_index;
	unsigned	 frag_count;
	uint8_t		*message;
	size_t		 len;
};

struct snap {
	size_t		 n;
	struct row	 r[32];
};

static void
take_row(void *arg, const struct queue_outgoing *o)
{
	struct snap *s = arg;
	struct row *r;

	assert_true(s->n < sizeof(s->r) / sizeof(s->r[0]));
	r = &s->r[s->n++];
	memset(r, 0, sizeof(*r));
	r->id = o->id;
	memcpy(r->msgid, o->msgid, QUEUE_MSGID_BYTES);
	memcpy(r->rcpt, o->recipient, QUEUE_KEY_BYTES);
	memcpy(r->prov, o->provider, QUEUE_KEY_BYTES);
	if ((r->tagged = o->tag != NULL))
		memcpy(r->tag, o->tag, QUEUE_TAG_BYTES);
	if ((r->reply = o->surb != NULL))
		memcpy(r->surb, o->surb, QUEUE_SURB_BYTES);
	if ((r->has_ack = o->ack_id != NULL))
		memcpy(r->ack, o->ack_id, ACK_ID_BYTES);
	r->surbs = o->surbs;
	r->surbs_only = o->surbs_only;
	r->frag_index = o->frag_index;
	r->frag_count = o->frag_count;
	r->len = o->len;
	r->message = malloc(o->len + 1);
	assert_non_null(r->message);
	if (o->len > 0)
		memcpy(r->message, o->message, o->len);
}

static void
snap_take(struct queue *q, struct snap *s)
{
	s->n = 0;
	assert_int_equal(queue_each_outgoing(q, take_row, s), 0);
}

static void
snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->r[i].message);
	s->n = 0;
}

static const struct row *
snap_id(const struct snap *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->r[i].id == id)
			return &s->r[i];
	return NULL;
}

/* How many rows have message id byte b (16 of it), and where the first is. */
static size_t
snap_msgid(const struct snap *s, uint8_t b, size_t *first)
{
	uint8_t msgid[QUEUE_MSGID_BYTES];
	size_t n = 0;

	memset(msgid, b, sizeof(msgid));
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->r[i].msgid, msgid, sizeof(msgid)) == 0 && n++ == 0 &&
		    first != NULL)
			*first = i;
	return n;
}

static void
ipc_nothing(struct ipc_chan *c, const Nymipc__Ipc *m, int fd, void *arg)
{
}

/*
 * Whether keyd would take row r to build (the IPC contract's check, which
 * keyd applies to every IPC_BUILD before its handler: a row it refuses is
 * a protocol error): the body rpcd_build() makes of it.
 */
static int
row_builds(const struct row *r)
{
	static const struct ipc_dispatch keyd_from_rpcd = {
		.handlers = { [IPC_BUILD] = ipc_nothing },
	};
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	char why[128];

	o.id = r->id;
	o.message.data = r->message;
	o.message.len = r->len;
	o.recipient.data = (uint8_t *)r->rcpt;
	o.recipient.len = QUEUE_KEY_BYTES;
	o.recipient_provider.data = (uint8_t *)r->prov;
	o.recipient_provider.len = QUEUE_KEY_BYTES;
	o.msgid.data = (uint8_t *)r->msgid;
	o.msgid.len = QUEUE_MSGID_BYTES;
	o.surbs = r->surbs;
	o.surbs_only = r->surbs_only;
	o.fragment_index = r->frag_index;
	o.fragment_count = r->frag_count;
	if (r->tagged) {
		o.sender_tag.data = (uint8_t *)r->tag;
		o.sender_tag.len = QUEUE_TAG_BYTES;
	}
	if (r->reply) {
		o.surb.data = (uint8_t *)r->surb;
		o.surb.len = QUEUE_SURB_BYTES;
	}
	if (r->has_ack) {
		o.ack_id.data = (uint8_t *)r->ack;
		o.ack_id.len = ACK_ID_BYTES;
	}
	msg.type = IPC_BUILD;
	msg.body_case = NYMIPC__IPC__BODY_OUTGOING;
	msg.outgoing = &o;
	if (ipc_check(&keyd_from_rpcd, &msg, why, sizeof(why)) == -1) {
		print_message("row %llu: %s\n", (unsigned long long)r->id, why);
		return 0;
	}
	return 1;
}

/* Every row keyd takes, and no two rows with one ack id. */
static void
snap_all_build(const struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		assert_true(row_builds(&s->r[i]));
		for (size_t j = i + 1; j < s->n && s->r[i].has_ack; j++)
			assert_false(s->r[j].has_ack &&
			    memcmp(s->r[i].ack, s->r[j].ack, ACK_ID_BYTES) == 0);
	}
}

static void
store_remove(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-reserve", "-retired" };
	char p[160];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

struct fetched {
	int	 n;
	size_t	 len;
	uint8_t	*copy;
};

static int
fetched_one(void *arg, const struct queue_received *r)
{
	struct fetched *g = arg;

	g->n++;
	free(g->copy);
	g->len = r->len;
	g->copy = malloc(r->len + 1);
	assert_non_null(g->copy);
	if (r->len > 0)
		memcpy(g->copy, r->message, r->len);
	return 0;
}

static int
fetched_done(void *arg)
{
	return 0;
}

/*
 * The rows of message id b, in their order, received as their packets
 * bring them by a recipient's new store: every fragment stored, the last
 * one making it whole, fetched once. Its bytes (free them), in *len.
 */
static uint8_t *
snap_deliver(struct fixture *f, const struct snap *s, uint8_t b, size_t *len)
{
	struct queue *bob;
	struct fetched g = { 0 };
	char path[128], err[256];
	size_t n = 0, parts = 0, held = 0;

	snprintf(path, sizeof(path), "%s/bob.db", f->dir);
	assert_int_equal(queue_open(&bob, path, NULL, err, sizeof(err)), 0);
	for (size_t i = 0; i < s->n; i++) {
		const struct row *r = &s->r[i];
		uint8_t msgid[QUEUE_MSGID_BYTES];
		memset(msgid, b, sizeof(msgid));
		if (memcmp(r->msgid, msgid, sizeof(msgid)) != 0)
			continue;
		struct queue_fragment fr = { .msgid = r->msgid, .index = r->frag_index,
		    .count = r->frag_count, .bytes = r->message, .len = r->len };
		assert_true(r->frag_count >= 2);
		assert_int_equal(r->frag_index, n);
		n++;
		assert_int_equal(queue_receive_fragment(bob, &fr),
		    n < r->frag_count ? 2 : 0);
	}
	assert_true(n >= 2);
	assert_int_equal(queue_fetch(bob, fetched_one, fetched_done, &g), 1);
	assert_int_equal(queue_partial(bob, &parts, &held), 0);
	assert_int_equal(parts, 0);
	queue_close(bob);
	store_remove(path);
	*len = g.len;
	return g.copy;
}

/*
 * rpcd-store-v1.c's queued messages in a store migrated to schema 5
 * (from 1, 2, 3 or 4): rows 1 and 2 as they were; row 3, a whole message
 * of 2031 bytes, more than a packet carries beside an acknowledgement
 * block, cut again into 2 fragments (1611 and 420 bytes) of its message
 * id, with ids after every row of the old store (at most last_old), that
 * a recipient makes whole into the same bytes.
 */
static void
check_v1_queued(struct fixture *f, const struct snap *s, uint64_t last_old)
{
	uint8_t msgid[QUEUE_MSGID_BYTES], rcpt[QUEUE_KEY_BYTES], prov[QUEUE_KEY_BYTES];
	uint8_t *whole;
	char text[32];
	size_t first = 0, len;
	const struct row *r;

	for (int i = 1; i <= 2; i++) {
		memset(msgid, 0x11 + i, sizeof(msgid));
		memset(rcpt, 0xa0 + i, sizeof(rcpt));
		memset(prov, 0xb0 + i, sizeof(prov));
		snprintf(text, sizeof(text), "outgoing-%d", i);
		assert_non_null(r = snap_id(s, (uint64_t)i));
		assert_memory_equal(r->msgid, msgid, sizeof(msgid));
		assert_memory_equal(r->rcpt, rcpt, sizeof(rcpt));
		assert_memory_equal(r->prov, prov, sizeof(prov));
		assert_int_equal(r->len, strlen(text));
		assert_memory_equal(r->message, text, r->len);
		assert_int_equal(r->frag_count, 0);
		assert_true(r->has_ack);
	}
	assert_null(snap_id(s, 3));
	memset(rcpt, 0xa3, sizeof(rcpt));
	memset(prov, 0xb3, sizeof(prov));
	assert_int_equal(snap_msgid(s, 0x14, &first), 2);
	for (size_t i = 0; i < 2; i++) {
		r = &s->r[first + i];
		assert_true(r->id > last_old);
		assert_int_equal(r->frag_index, i);
		assert_int_equal(r->frag_count, 2);
		assert_int_equal(r->len, i == 0 ? PAYLOAD_FRAGMENT_BYTES :
		    2031 - PAYLOAD_FRAGMENT_BYTES);
		assert_memory_equal(r->rcpt, rcpt, sizeof(rcpt));
		assert_memory_equal(r->prov, prov, sizeof(prov));
		assert_true(r->has_ack);
		assert_false(r->tagged || r->reply || r->surbs != 0);
	}
	whole = snap_deliver(f, s, 0x14, &len);
	assert_int_equal(len, 2031);
	for (size_t j = 0; j < len; j++)
		assert_int_equal(whole[j], (uint8_t)(j * 7));
	free(whole);
	snap_all_build(s);
}

static int
fixture_received(struct queue *q, int i)
{
	uint8_t msgid[QUEUE_MSGID_BYTES];

	memset(msgid, 0x20 + i, sizeof(msgid));
	return queue_receive(q, msgid, (const uint8_t *)"copy", 4);
}

/*
 * The previous release's store (schema 1: its README says what it
 * holds) opens with nothing lost: the queued messages as they were (the
 * one too large for a packet beside its acknowledgement block in
 * fragments), the unfetched messages fetched once, every remembered id a
 * duplicate, for a whole window from the upgrade.
 */
static void
test_store_v1_migrates(void **state)
{
	struct fixture *f = *state;
	struct snap s;
	struct got g = { 0 };
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];
	time_t t0 = time(NULL);

	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v1.db", top ? top : ".");
	/* the copy only: even a read-only open of the fixture, in WAL
	 * mode, would leave files beside it */
	assert_int_equal(copy_file(from, f->path), 0);
	assert_int_equal(schema_of(f->path), 1);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);

	snap_take(f->q, &s);
	assert_int_equal(s.n, 4);
	check_v1_queued(f, &s, 3);
	snap_free(&s);
	assert_int_equal(queue_outgoing_count(f->q), 4);

	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 2);
	assert_string_equal(g.last, "received-5");
	for (int i = 1; i <= 5; i++)
		assert_int_equal(fixture_received(f->q, i), 1);

	/* a whole window from the upgrade (whatever the ids' age) */
	fake_now = t0 + WINDOW - 1;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	receive_and_fetch(f->q, 1);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(fixture_received(f->q, i), 1);

	/* opened again: schema 5 as it is, nothing migrated twice */
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
	assert_int_equal(queue_outgoing_count(f->q), 4);
	assert_int_equal(fixture_received(f->q, 3), 1);
}

/* A store of a newer schema is refused, and left as it is. */
static void
test_store_newer_refused(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	char err[256];

	queue_close(f->q);
	f->q = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 6 WHERE key = 'schema';"
	    "DROP TABLE received_marks", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "schema version 6, newer than this nymd's 5"));
	assert_int_equal(schema_of(f->path), 6);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM received_marks",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/*
 * The store of the release before reply blocks (schema 2, the same
 * contents as v1: tests/fixtures/rpcd-store-v2.c) opens as schema 5 with
 * nothing lost: the queued messages plain as v1's are, the unfetched
 * ones fetched once without a sender tag, every remembered id a
 * duplicate; and reply blocks work in it.
 */
static void
test_store_v2_migrates(void **state)
{
	struct fixture *f = *state;
	struct snap s;
	struct got g = { 0 };
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];
	uint8_t tag[QUEUE_TAG_BYTES], msgid[QUEUE_MSGID_BYTES], surb[QUEUE_SURB_BYTES];
	int64_t far = (int64_t)time(NULL) + 3600;
	struct queue_in in = { .msgid = msgid, .message = (const uint8_t *)"m", .len = 1,
	    .tag = tag, .surbs = surb, .n_surbs = 1, .expires = &far };
	uint64_t id;

	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v2.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	assert_int_equal(schema_of(f->path), 2);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
	snap_take(f->q, &s);
	assert_int_equal(s.n, 4);
	check_v1_queued(f, &s, 3);
	snap_free(&s);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 2);
	assert_string_equal(g.last, "received-5");
	assert_int_equal(g.tagged, 0);
	assert_int_equal(g.ids, 2);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(fixture_received(f->q, i), 1);
	memset(tag, 7, sizeof(tag));
	memset(msgid, 0x77, sizeof(msgid));
	memset(surb, 0x55, sizeof(surb));
	assert_int_equal(queue_receive_in(f->q, &in), 0);
	assert_int_equal(queue_blocks_left(f->q, tag), 1);
	memset(msgid, 0x78, sizeof(msgid));
	assert_int_equal(queue_reply(f->q, tag, msgid, (const uint8_t *)"r", 1, &id), 0);
	assert_int_equal(id, 6);	/* after the 2 fragments, 4 and 5 */
	assert_int_equal(queue_outgoing_count(f->q), 5);
}

struct row_seen {
	int		 n;
	unsigned	 surbs[8];
	int		 only[8];
	int		 tagged[8];
	int		 reply[8];
	uint8_t		 surb[QUEUE_SURB_BYTES];
};

static void
see_row(void *arg, const struct queue_outgoing *o)
{
	struct row_seen *s = arg;
	static const uint8_t zero[QUEUE_KEY_BYTES];

	if (s->n >= 8)
		return;
	s->surbs[s->n] = o->surbs;
	s->only[s->n] = o->surbs_only;
	s->tagged[s->n] = o->tag != NULL;
	s->reply[s->n] = o->surb != NULL && memcmp(o->recipient, zero, sizeof(zero)) == 0;
	if (o->surb != NULL)
		memcpy(s->surb, o->surb, sizeof(s->surb));
	s->n++;
}

/* A message with reply blocks: its packets are queued together, with
 * the tag, the counts and which ones carry only blocks. */
static void
test_enqueue_rows(void **state)
{
	struct fixture *f = *state;
	uint8_t rcpt[QUEUE_KEY_BYTES], prov[QUEUE_KEY_BYTES], tag[QUEUE_TAG_BYTES];
	uint8_t ids[3][QUEUE_MSGID_BYTES];
	struct queue_row rows[3] = {
		{ .msgid = ids[0], .message = (const uint8_t *)"hello", .len = 5, .surbs = 3 },
		{ .msgid = ids[1], .surbs = 4, .surbs_only = 1 },
		{ .msgid = ids[2], .surbs = 1, .surbs_only = 1 },
	};
	struct row_seen s = { 0 };
	uint64_t first;

	memset(rcpt, 1, sizeof(rcpt));
	memset(prov, 2, sizeof(prov));
	memset(tag, 3, sizeof(tag));
	memset(ids, 4, sizeof(ids));
	ids[1][0] = 5;
	ids[2][0] = 6;
	assert_int_equal(queue_enqueue_rows(f->q, rcpt, prov, tag, rows, 3, &first), 0);
	assert_int_equal(first, 1);
	assert_int_equal(queue_outgoing_count(f->q), 3);
	assert_int_equal(queue_each_outgoing(f->q, see_row, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.surbs[0], 3);
	assert_int_equal(s.only[0], 0);
	assert_int_equal(s.surbs[1], 4);
	assert_int_equal(s.only[1], 1);
	assert_int_equal(s.surbs[2], 1);
	assert_int_equal(s.tagged[0] + s.tagged[1] + s.tagged[2], 3);
	assert_int_equal(s.reply[0] + s.reply[1] + s.reply[2], 0);
	/* nothing to queue: refused */
	assert_int_equal(queue_enqueue_rows(f->q, rcpt, prov, tag, rows, 0, &first), -1);
	assert_int_equal(queue_outgoing_count(f->q), 3);
	/* after a message in 2 fragments (rows 4 and 5): its first row's id */
	uint8_t big[MESSAGE_MAX_ACKED_BYTES + 1] = { 0 };
	assert_int_equal(queue_enqueue(f->q, ids[0], rcpt, prov, big, sizeof(big),
	    &first), 0);
	assert_int_equal(first, 4);
	ids[0][1] = ids[1][1] = ids[2][1] = 7;
	assert_int_equal(queue_enqueue_rows(f->q, rcpt, prov, tag, rows, 3, &first), 0);
	assert_int_equal(first, 6);
}

static void
blocks_in(struct queue *q, uint8_t id, const uint8_t tag[QUEUE_TAG_BYTES],
    size_t n, int surbs_only, int64_t expires, int want)
{
	uint8_t msgid[QUEUE_MSGID_BYTES], surbs[4 * QUEUE_SURB_BYTES];
	int64_t exp[4] = { expires, expires, expires, expires };
	struct queue_in in = { .msgid = msgid, .message = (const uint8_t *)"with blocks",
	    .len = surbs_only ? 0 : 11, .tag = tag, .surbs_only = surbs_only,
	    .surbs = surbs, .n_surbs = n, .expires = exp };

	memset(msgid, id, sizeof(msgid));
	for (size_t i = 0; i < n; i++)
		memset(surbs + i * QUEUE_SURB_BYTES, id * 8 + (int)i, QUEUE_SURB_BYTES);
	assert_int_equal(queue_receive_in(q, &in), want);
}

/*
 * Received blocks: kept by tag, shown nowhere; a message of blocks only
 * is not fetched; each block is used once, oldest first, by the reply
 * queued with it, and after a reopen the count is what it was; then none
 * is left. An expired block is never used.
 */
static void
test_reply_blocks(void **state)
{
	struct fixture *f = *state;
	uint8_t tag[QUEUE_TAG_BYTES], other[QUEUE_TAG_BYTES], msgid[QUEUE_MSGID_BYTES];
	struct got g = { 0 };
	struct row_seen s = { 0 };
	char err[256];
	uint64_t id;

	fake_now = 1000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	memset(tag, 0xaa, sizeof(tag));
	memset(other, 0xbb, sizeof(other));
	blocks_in(f->q, 1, tag, 1, 0, fake_now + 100, 0);
	blocks_in(f->q, 2, tag, 4, 1, fake_now + 100, 0);
	/* the same packet again: a duplicate, its blocks not stored twice */
	blocks_in(f->q, 2, tag, 4, 1, fake_now + 100, 1);
	assert_int_equal(queue_blocks_left(f->q, tag), 5);
	assert_int_equal(queue_blocks_left(f->q, other), 0);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	assert_int_equal(g.tagged, 1);
	assert_memory_equal(g.tag, tag, sizeof(tag));
	assert_string_equal(g.last, "with blocks");

	/* the third leaves QUEUE_MORE_AT: one more block asks for more */
	static const long left[4] = { 4, 3, 1, 0 };
	for (int i = 0; i < 4; i++) {
		memset(msgid, 0x30 + i, sizeof(msgid));
		assert_int_equal(queue_reply(f->q, tag, msgid, (const uint8_t *)"re", 2, &id), 0);
		if (i == 1) {	/* a restart between replies changes nothing */
			queue_close(f->q);
			assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
			queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
		}
		assert_int_equal(queue_blocks_left(f->q, tag), left[i]);
	}
	memset(msgid, 0x40, sizeof(msgid));
	assert_int_equal(queue_reply(f->q, tag, msgid, (const uint8_t *)"re", 2, &id), 1);
	assert_int_equal(queue_reply(f->q, other, msgid, (const uint8_t *)"re", 2, &id), 1);
	/* four replies and the request queued, each through another block,
	 * oldest first; the request asks for QUEUE_MORE_ASK, with no message */
	assert_int_equal(queue_each_outgoing(f->q, see_row, &s), 0);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.reply[i], 1);
	assert_int_equal(s.surbs[2], 0);
	assert_int_equal(s.surbs[3], QUEUE_MORE_ASK);
	assert_int_equal(s.surbs[4], 0);
	uint8_t last[QUEUE_SURB_BYTES];
	memset(last, 2 * 8 + 3, sizeof(last));
	assert_memory_equal(s.surb, last, sizeof(last));

	/* expired blocks are not used */
	blocks_in(f->q, 3, other, 2, 1, fake_now + 10, 0);
	assert_int_equal(queue_blocks_left(f->q, other), 2);
	fake_now += 10;
	assert_int_equal(queue_blocks_left(f->q, other), 0);
	assert_int_equal(queue_reply(f->q, other, msgid, (const uint8_t *)"re", 2, &id), 1);
	assert_int_equal(queue_outgoing_count(f->q), 5);
}

/*
 * Our blocks' sealed keys: found by id until they expire; a reply through
 * the block is stored and the keys deleted in one transaction; a second
 * reply through it is dropped, and nothing of it stored.
 */
static void
test_surb_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t id1[QUEUE_SURB_ID_BYTES], id2[QUEUE_SURB_ID_BYTES], sealed[QUEUE_SEALED_BYTES];
	uint8_t s1[QUEUE_SEALED_BYTES], s2[QUEUE_SEALED_BYTES], msgid[QUEUE_MSGID_BYTES];
	struct queue_keys keys[2] = {
		{ .id = id1, .sealed = s1 }, { .id = id2, .sealed = s2 },
	};
	struct queue_in in = { .msgid = msgid, .message = (const uint8_t *)"a reply",
	    .len = 7, .surb_id = id1 };
	struct got g = { 0 };

	fake_now = 2000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	memset(id1, 1, sizeof(id1));
	memset(id2, 2, sizeof(id2));
	memset(s1, 0x11, sizeof(s1));
	memset(s2, 0x22, sizeof(s2));
	keys[0].expires = fake_now + 100;
	keys[1].expires = fake_now + 5;
	assert_int_equal(queue_put_keys(f->q, 0, keys, 2), 0);
	assert_int_equal(queue_get_keys(f->q, id1, sealed), 0);
	assert_memory_equal(sealed, s1, sizeof(s1));
	assert_int_equal(queue_get_keys(f->q, id2, sealed), 0);
	assert_memory_equal(sealed, s2, sizeof(s2));

	memset(msgid, 0x50, sizeof(msgid));
	assert_int_equal(queue_receive_in(f->q, &in), 0);
	assert_int_equal(queue_get_keys(f->q, id1, sealed), 1);
	/* a second reply through the same block: dropped, nothing stored */
	memset(msgid, 0x51, sizeof(msgid));
	assert_int_equal(queue_receive_in(f->q, &in), 1);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 1);
	assert_string_equal(g.last, "a reply");
	assert_int_equal(g.tagged, 0);
	/* expired keys: not found, and a reply through them dropped */
	fake_now += 5;
	assert_int_equal(queue_get_keys(f->q, id2, sealed), 1);
	in.surb_id = id2;
	memset(msgid, 0x52, sizeof(msgid));
	assert_int_equal(queue_receive_in(f->q, &in), 1);
	/* and the next put deletes them */
	assert_int_equal(queue_put_keys(f->q, 0, keys, 0), 0);
	fake_now -= 5;
	assert_int_equal(queue_get_keys(f->q, id2, sealed), 1);
}

/*
 * The creator's side of "more blocks": a request through one of our
 * blocks queues packets of blocks to the tag's recipient with its tag, in
 * the transaction that uses the block; a second request through it
 * queues nothing; a tag gets at most QUEUE_MAX_GRANT blocks in all.
 */
static void
test_more_blocks(void **state)
{
	struct fixture *f = *state;
	uint8_t rcpt[QUEUE_KEY_BYTES], prov[QUEUE_KEY_BYTES], tag[QUEUE_TAG_BYTES];
	uint8_t ids[20][QUEUE_SURB_ID_BYTES], sealed[QUEUE_SEALED_BYTES];
	uint8_t msgid[QUEUE_MSGID_BYTES];
	struct queue_row row = { .msgid = msgid, .message = (const uint8_t *)"m", .len = 1,
	    .surbs = 2 };
	struct queue_keys keys[20];
	struct queue_in in = { .msgid = msgid, .more = QUEUE_SURBS_PER_PACKET };
	uint64_t first;

	fake_now = 3000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	memset(rcpt, 1, sizeof(rcpt));
	memset(prov, 2, sizeof(prov));
	memset(tag, 3, sizeof(tag));
	memset(msgid, 4, sizeof(msgid));
	memset(sealed, 5, sizeof(sealed));
	assert_int_equal(queue_enqueue_rows(f->q, rcpt, prov, tag, &row, 1, &first), 0);
	for (int i = 0; i < 20; i++) {
		memset(ids[i], 0x40 + i, sizeof(ids[i]));
		keys[i] = (struct queue_keys){ .id = ids[i], .sealed = sealed,
		    .expires = fake_now + 100 };
	}
	assert_int_equal(queue_put_keys(f->q, first, keys, 20), 0);
	assert_int_equal(queue_sent(f->q, first), 0);

	in.surb_id = ids[0];
	assert_int_equal(queue_receive_in(f->q, &in), 0);
	assert_int_equal(queue_get_keys(f->q, ids[0], sealed), 1);
	struct row_seen s = { 0 };
	assert_int_equal(queue_each_outgoing(f->q, see_row, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.surbs[0], QUEUE_SURBS_PER_PACKET);
	assert_int_equal(s.only[0], 1);
	assert_int_equal(s.tagged[0], 1);
	assert_int_equal(s.reply[0], 0);
	/* again through the same block: nothing more */
	assert_int_equal(queue_receive_in(f->q, &in), 1);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	/* 2 with the message, 3 now: 59 more at most, whatever is asked */
	in.more = 16;
	for (int i = 1; i < 20; i++) {
		in.surb_id = ids[i];
		assert_int_equal(queue_receive_in(f->q, &in), 0);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(queue_each_outgoing(f->q, see_row, &s), 0);
	unsigned total = 0;
	for (int i = 0; i < s.n; i++)
		total += s.surbs[i];
	assert_int_equal(s.n, 8);	/* see_row keeps 8 */
	/* grants of 16, 16, 16 and 11, each in packets of
	 * QUEUE_SURBS_PER_PACKET (3) blocks: 6, 6, 6 and 4 packets */
	assert_int_equal(queue_outgoing_count(f->q), 1 + 3 * 6 + 4);
	assert_true(total <= 3 + 7 * 3);
}

/* Every message handed out by a fetch, whole (the fragment tests). */
struct whole_got {
	int	 n;
	size_t	 len;
	uint8_t	*copy;		/* the last one's bytes */
	uint8_t	 msgid[QUEUE_MSGID_BYTES];
};

static int
whole_one(void *arg, const struct queue_received *r)
{
	struct whole_got *g = arg;

	g->n++;
	free(g->copy);
	g->len = r->len;
	g->copy = malloc(r->len ? r->len : 1);
	assert_non_null(g->copy);
	if (r->len > 0)
		memcpy(g->copy, r->message, r->len);
	if (r->msgid != NULL)
		memcpy(g->msgid, r->msgid, QUEUE_MSGID_BYTES);
	return 0;
}

struct frag_rows {
	int		 n;
	size_t		 len;		/* of all rows' messages */
	uint8_t		*joined;
	unsigned	 index[8];
	unsigned	 count[8];
	size_t		 part[8];
	int		 same_msgid;
	uint8_t		 msgid[QUEUE_MSGID_BYTES];
};

static void
see_fragment(void *arg, const struct queue_outgoing *o)
{
	struct frag_rows *s = arg;

	if (s->n == 0)
		memcpy(s->msgid, o->msgid, QUEUE_MSGID_BYTES);
	s->same_msgid += memcmp(s->msgid, o->msgid, QUEUE_MSGID_BYTES) == 0;
	if (s->n < 8) {
		s->index[s->n] = o->frag_index;
		s->count[s->n] = o->frag_count;
		s->part[s->n] = o->len;
	}
	s->joined = realloc(s->joined, s->len + o->len + 1);
	assert_non_null(s->joined);
	memcpy(s->joined + s->len, o->message, o->len);
	s->len += o->len;
	s->n++;
}

static void
fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(j * 31 + seed + (j >> 11));
}

/*
 * A message over one packet is queued as its fragments, in one
 * transaction: full parts of 1611 bytes but the last, all with the
 * message's id; one that fits a packet is one row as before; one over
 * what fragments carry is refused.
 */
static void
test_fragments_enqueued(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], rcpt[QUEUE_KEY_BYTES], prov[QUEUE_KEY_BYTES];
	size_t len = 2 * PAYLOAD_FRAGMENT_BYTES + 946;
	uint8_t *msg = malloc(PAYLOAD_MAX_FRAGMENTED_BYTES + 1);
	struct frag_rows s = { 0 };
	uint64_t id;

	assert_non_null(msg);
	memset(msgid, 0x31, sizeof(msgid));
	memset(rcpt, 0x32, sizeof(rcpt));
	memset(prov, 0x33, sizeof(prov));
	fill_pattern(msg, len, 1);
	assert_int_equal(queue_enqueue(f->q, msgid, rcpt, prov, msg, MESSAGE_MAX_ACKED_BYTES, &id), 0);
	assert_int_equal(queue_enqueue(f->q, msgid, rcpt, prov, msg, len, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(queue_outgoing_count(f->q), 4);
	assert_int_equal(queue_each_outgoing(f->q, see_fragment, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.same_msgid, 4);
	assert_int_equal(s.count[0], 0);
	assert_int_equal(s.part[0], MESSAGE_MAX_ACKED_BYTES);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(s.index[1 + i], i);
		assert_int_equal(s.count[1 + i], 3);
	}
	assert_int_equal(s.part[1], PAYLOAD_FRAGMENT_BYTES);
	assert_int_equal(s.part[2], PAYLOAD_FRAGMENT_BYTES);
	assert_int_equal(s.part[3], 946);
	assert_int_equal(s.len, MESSAGE_MAX_ACKED_BYTES + len);
	assert_memory_equal(s.joined + MESSAGE_MAX_ACKED_BYTES, msg, len);
	free(s.joined);
	assert_int_equal(queue_enqueue(f->q, msgid, rcpt, prov, msg,
	    PAYLOAD_MAX_FRAGMENTED_BYTES + 1, &id), -1);
	assert_int_equal(queue_outgoing_count(f->q), 4);
	/* another message: its first row's id (the second message) */
	msgid[0] ^= 1;
	assert_int_equal(queue_enqueue(f->q, msgid, rcpt, prov, msg, len, &id), 0);
	assert_int_equal(id, 5);
	free(msg);
}

/* Fragment i of a message of count parts cut from msg. */
static int
fragment_in(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t *msg, size_t len, unsigned i)
{
	unsigned count = (unsigned)payload_fragment_count(len);
	size_t off = (size_t)i * PAYLOAD_FRAGMENT_BYTES;
	struct queue_fragment fr = { .msgid = msgid, .index = i, .count = count,
	    .bytes = msg + off, .len = len - off < PAYLOAD_FRAGMENT_BYTES ?
	    len - off : PAYLOAD_FRAGMENT_BYTES };

	return queue_receive_fragment(q, &fr);
}

/*
 * Fragments in any order: nothing to fetch until the last, which makes
 * the message whole, fetched once; a copy of a part, before or after,
 * changes nothing; nothing of its fragments stays.
 */
static void
test_fragments_assembled(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], msg[3 * PAYLOAD_FRAGMENT_BYTES];
	size_t len = sizeof(msg) - 5, parts, frags;
	struct whole_got g = { 0 };

	memset(msgid, 0x41, sizeof(msgid));
	fill_pattern(msg, len, 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, len, 2), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, len, 2), 1);	/* a copy */
	assert_int_equal(fragment_in(f->q, msgid, msg, len, 0), 2);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 1);
	assert_int_equal(frags, 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, len, 1), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 0);
	assert_int_equal(frags, 0);
	/* every part again: the message is here, nothing is kept of them */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(fragment_in(f->q, msgid, msg, len, i), 1);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(frags, 0);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 1);
	assert_int_equal(g.len, len);
	assert_memory_equal(g.copy, msg, len);
	assert_memory_equal(g.msgid, msgid, sizeof(msgid));
	/* and after it was fetched */
	assert_int_equal(fragment_in(f->q, msgid, msg, len, 1), 1);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 0);
	assert_int_equal(queue_counts(f->q)->received, 1);
	free(g.copy);
}

/* A part out of bounds, or of a message over the maximum, is dropped;
 * the parts held stay as they were. */
static void
test_fragments_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], msg[4 * PAYLOAD_FRAGMENT_BYTES];
	size_t parts, frags;
	struct queue_fragment fr = { .msgid = msgid, .index = 1, .count = 1,
	    .bytes = msg, .len = PAYLOAD_FRAGMENT_BYTES };

	memset(msgid, 0x42, sizeof(msgid));
	fill_pattern(msg, sizeof(msg), 3);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 0), 2);
	assert_int_equal(queue_receive_fragment(f->q, &fr), -1);
	fr.count = 4;
	fr.len = 0;
	assert_int_equal(queue_receive_fragment(f->q, &fr), -1);
	fr.len = PAYLOAD_FRAGMENT_BYTES + 1;
	assert_int_equal(queue_receive_fragment(f->q, &fr), -1);
	fr.index = 4;
	fr.len = 1;
	assert_int_equal(queue_receive_fragment(f->q, &fr), -1);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(frags, 1);
	/* our maximum: 3 parts of a 4-part message would already be over */
	queue_set_max_message(f->q, 3 * PAYLOAD_FRAGMENT_BYTES);
	memset(msgid, 0x43, sizeof(msgid));
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 0), 1);
	assert_int_equal(fragment_in(f->q, msgid, msg, 3 * PAYLOAD_FRAGMENT_BYTES, 0), 2);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 2);
	assert_int_equal(frags, 2);
}

/*
 * Parts of one message id with different counts (a sender that cut it
 * again: docs/replies.md, "Fragments") are held apart, each count its
 * own partial message: none is taken for another's. The first made
 * whole is delivered, the other's parts go with it, and any part after
 * that, of either count, is a copy.
 */
static void
test_fragments_other_count(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], msg[4 * PAYLOAD_FRAGMENT_BYTES];
	size_t three = 3 * PAYLOAD_FRAGMENT_BYTES, parts, frags;
	struct whole_got g = { 0 };

	memset(msgid, 0x47, sizeof(msgid));
	fill_pattern(msg, sizeof(msg), 7);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 0), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 1), 2);
	/* 3 parts: index 0 and 1 are held again, apart */
	assert_int_equal(fragment_in(f->q, msgid, msg, three, 0), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, three, 1), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, three, 1), 1);	/* a copy */
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 2);
	assert_int_equal(frags, 4);
	assert_int_equal(fragment_in(f->q, msgid, msg, three, 2), 0);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 1);
	assert_int_equal(g.len, three);
	assert_memory_equal(g.copy, msg, three);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 0);
	assert_int_equal(frags, 0);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 2), 1);
	assert_int_equal(fragment_in(f->q, msgid, msg, three, 0), 1);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(frags, 0);
	assert_int_equal(queue_counts(f->q)->received, 1);
	free(g.copy);
}

/* A store closed between fragments (rpcd killed) resumes: the parts
 * held then and the rest make the message, once. */
static void
test_fragments_survive_reopen(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], msg[5 * PAYLOAD_FRAGMENT_BYTES];
	struct whole_got g = { 0 };
	char err[256];

	memset(msgid, 0x44, sizeof(msgid));
	fill_pattern(msg, sizeof(msg), 4);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), i), 2);
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_expire_fragments(f->q), 0);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 2), 1);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 3), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 4), 0);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 1);
	assert_int_equal(g.len, sizeof(msg));
	assert_memory_equal(g.copy, msg, sizeof(msg));
	free(g.copy);
}

/*
 * A partial message is dropped QUEUE_FRAGMENT_EXPIRY_SECONDS after its
 * first part arrived: when a part arrives, and at start; not sooner.
 */
static void
test_fragments_expire(void **state)
{
	struct fixture *f = *state;
	uint8_t a[QUEUE_MSGID_BYTES], b[QUEUE_MSGID_BYTES], msg[2 * PAYLOAD_FRAGMENT_BYTES];
	struct whole_got g = { 0 };
	size_t parts, frags;
	char err[256];

	fake_now = 5000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	memset(a, 0x45, sizeof(a));
	memset(b, 0x46, sizeof(b));
	fill_pattern(msg, sizeof(msg), 5);
	assert_int_equal(fragment_in(f->q, a, msg, sizeof(msg), 0), 2);
	fake_now += QUEUE_FRAGMENT_EXPIRY_SECONDS - 1;
	assert_int_equal(fragment_in(f->q, b, msg, sizeof(msg), 0), 2);
	assert_int_equal(queue_expire_fragments(f->q), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 2);
	/* a's last part one second too late: a is gone, the part starts anew */
	fake_now += 1;
	assert_int_equal(fragment_in(f->q, a, msg, sizeof(msg), 1), 2);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 2);
	assert_int_equal(frags, 2);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 0);
	/* at start: b's time is up too, and a's new one not yet */
	fake_now += QUEUE_FRAGMENT_EXPIRY_SECONDS - 1;
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	assert_int_equal(queue_expire_fragments(f->q), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 1);
	assert_int_equal(frags, 1);
	assert_int_equal(fragment_in(f->q, a, msg, sizeof(msg), 0), 0);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &g), 1);
	assert_memory_equal(g.copy, msg, sizeof(msg));
	free(g.copy);
}

/*
 * rpcd-store-v3.c's queued messages in a store migrated to schema 5 (from
 * 3 or 4): v1's (check_v1_queued()); row 4, "tagged" with 2 reply blocks
 * (tag 16 bytes of 0x44), as it was; row 5, a packet of 4 blocks only,
 * more than one carries beside an acknowledgement block, now of 3, and
 * its fourth block in a new packet of blocks only to the same tag and
 * recipient, of a message id of its own, after the fragments of row 3
 * and every row of the old store (at most last_old). Its index in s.
 */
static size_t
check_v3_queued(struct fixture *f, const struct snap *s, uint64_t last_old)
{
	uint8_t tag[QUEUE_TAG_BYTES], msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	const struct row *r;
	size_t first = 0, split = s->n;
	unsigned blocks = 0;

	check_v1_queued(f, s, last_old);
	memset(tag, 0x44, sizeof(tag));
	assert_non_null(r = snap_id(s, 4));
	memset(msgid, 0x54, sizeof(msgid));
	assert_memory_equal(r->msgid, msgid, sizeof(msgid));
	assert_true(r->tagged && !r->reply && r->has_ack);
	assert_memory_equal(r->tag, tag, sizeof(tag));
	assert_int_equal(r->surbs, 2);
	assert_false(r->surbs_only);
	assert_int_equal(r->len, 6);
	assert_memory_equal(r->message, "tagged", 6);
	assert_non_null(r = snap_id(s, 5));
	memset(msgid, 0x55, sizeof(msgid));
	assert_memory_equal(r->msgid, msgid, sizeof(msgid));
	assert_true(r->tagged && r->surbs_only && r->has_ack);
	assert_memory_equal(r->tag, tag, sizeof(tag));
	assert_int_equal(r->surbs, PAYLOAD_MAX_SURBS);
	assert_int_equal(r->len, 0);
	for (size_t i = 0; i < s->n; i++) {
		r = &s->r[i];
		if (!r->tagged || memcmp(r->tag, tag, sizeof(tag)) != 0)
			continue;
		blocks += r->surbs;
		if (r->id <= last_old)
			continue;
		assert_int_equal(split, s->n);	/* one new row */
		split = i;
	}
	assert_int_equal(blocks, 2 + 4);	/* none lost, none made up */
	assert_true(split < s->n);
	r = &s->r[split];
	assert_true(r->surbs_only && r->has_ack && !r->reply);
	assert_int_equal(r->surbs, 1);
	assert_int_equal(r->len, 0);
	for (size_t i = 0; i < s->n; i++)	/* a message id of its own */
		assert_true(i == split || memcmp(s->r[i].msgid, r->msgid,
		    QUEUE_MSGID_BYTES) != 0);
	memset(key, 0xa4, sizeof(key));
	assert_memory_equal(r->rcpt, key, sizeof(key));
	memset(key, 0xb4, sizeof(key));
	assert_memory_equal(r->prov, key, sizeof(key));
	assert_int_equal(snap_msgid(s, 0x14, &first), 2);
	assert_true(split > first + 1);
	return split;
}

/*
 * The store of the release before fragments (schema 3:
 * tests/fixtures/rpcd-store-v3.c) opens as schema 5 with nothing lost:
 * the queued messages (plain, and with reply blocks) as they were, but
 * what no longer fits one packet beside an acknowledgement block (a
 * message of 2031 bytes, a packet of 4 blocks) cut again; the unfetched
 * messages fetched once, every remembered id a duplicate, the received
 * block there; and fragments work in it.
 */
static void
test_store_v3_migrates(void **state)
{
	struct fixture *f = *state;
	struct snap s;
	struct got g = { 0 };
	struct whole_got w = { 0 };
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];
	uint8_t tag[QUEUE_TAG_BYTES], msgid[QUEUE_MSGID_BYTES], msg[3000];
	uint8_t key[QUEUE_KEY_BYTES];
	uint64_t id;

	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v3.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	assert_int_equal(schema_of(f->path), 3);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
	snap_take(f->q, &s);
	assert_int_equal(s.n, 2 + 2 + 2 + 1);
	check_v3_queued(f, &s, 5);
	snap_free(&s);
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 3);
	assert_string_equal(g.last, "with a block");
	assert_int_equal(g.tagged, 1);
	memset(tag, 0x67, sizeof(tag));
	assert_memory_equal(g.tag, tag, sizeof(tag));
	for (int i = 1; i <= 5; i++)
		assert_int_equal(fixture_received(f->q, i), 1);
	assert_int_equal(queue_blocks_left(f->q, tag), 1);
	/* fragments, both ways */
	memset(msgid, 0x79, sizeof(msgid));
	fill_pattern(msg, sizeof(msg), 6);
	memset(key, 0x7a, sizeof(key));
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, msg, sizeof(msg), &id), 0);
	assert_int_equal(id, 9);	/* after the 3 rows the migration added */
	assert_int_equal(queue_outgoing_count(f->q), 9);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 1), 2);
	assert_int_equal(fragment_in(f->q, msgid, msg, sizeof(msg), 0), 0);
	assert_int_equal(queue_fetch(f->q, whole_one, got_done, &w), 1);
	assert_int_equal(w.len, sizeof(msg));
	assert_memory_equal(w.copy, msg, sizeof(msg));
	free(w.copy);
}

/* The status hook: every message it heard of, and the last status. */
struct heard {
	int			n;
	struct queue_status	last;
};

static void
hear_status(void *arg, const struct queue_status *st)
{
	struct heard *h = arg;

	h->n++;
	h->last = *st;
}

/* The ack ids of the rows of msgid (NULL: all), from a second connection:
 * how many rows, and how many of them have a 16-byte id. */
static void
ack_ids_of(const char *path, const uint8_t *msgid, int *rows, int *with_id)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	*rows = *with_id = 0;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, msgid != NULL ?
	    "SELECT ack_id FROM outgoing WHERE msgid = ?" :
	    "SELECT ack_id FROM outgoing", -1, &st, NULL), SQLITE_OK);
	if (msgid != NULL)
		sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		(*rows)++;
		*with_id += sqlite3_column_bytes(st, 0) == ACK_ID_BYTES;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * Every message queued has a status, QUEUED with its packets (a large
 * one: its fragments) and none acknowledged, told to the hook after the
 * commit, kept across a reopen; an unknown id has none. Each forward row
 * has its own ack id; a reply none.
 */
static void
test_status(void **state)
{
	struct fixture *f = *state;
	uint8_t a[QUEUE_MSGID_BYTES], b[QUEUE_MSGID_BYTES], c[QUEUE_MSGID_BYTES];
	uint8_t key[QUEUE_KEY_BYTES], tag[QUEUE_TAG_BYTES], msg[4500];
	struct queue_status st;
	struct heard h = { 0 };
	char err[256];
	uint64_t id;
	int rows, with_id;

	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb1, sizeof(b));
	memset(c, 0xc1, sizeof(c));
	memset(key, 9, sizeof(key));
	fill_pattern(msg, sizeof(msg), 3);
	fake_now = 1700000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	queue_on_status(f->q, hear_status, &h);

	assert_int_equal(queue_status(f->q, a, &st), 1);
	assert_int_equal(queue_enqueue(f->q, a, key, key, (const uint8_t *)"hi", 2, &id), 0);
	assert_int_equal(h.n, 1);
	assert_memory_equal(h.last.msgid, a, sizeof(a));
	assert_int_equal(h.last.state, QUEUE_QUEUED);
	assert_int_equal(h.last.packets, 1);
	assert_int_equal(queue_status(f->q, a, &st), 0);
	assert_int_equal(st.state, QUEUE_QUEUED);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.acked, 0);
	assert_int_equal(st.changed, fake_now);
	assert_string_equal(st.reason, "");

	/* 4500 bytes: 3 fragments, one message, one change heard */
	assert_int_equal(queue_enqueue(f->q, b, key, key, msg, sizeof(msg), &id), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.last.packets, 3);
	assert_int_equal(queue_status(f->q, b, &st), 0);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.state, QUEUE_QUEUED);
	ack_ids_of(f->path, b, &rows, &with_id);
	assert_int_equal(rows, 3);
	assert_int_equal(with_id, 3);

	/* a reply: QUEUED, and no ack id */
	memset(tag, 0x7a, sizeof(tag));
	blocks_in(f->q, 0x33, tag, 1, 1, fake_now + 3600, 0);
	assert_int_equal(queue_reply(f->q, tag, c, (const uint8_t *)"re", 2, &id), 0);
	assert_int_equal(queue_status(f->q, c, &st), 0);
	assert_int_equal(st.state, QUEUE_QUEUED);
	assert_int_equal(st.packets, 1);
	ack_ids_of(f->path, c, &rows, &with_id);
	assert_int_equal(rows, 1);
	assert_int_equal(with_id, 0);
	ack_ids_of(f->path, NULL, &rows, &with_id);
	assert_int_equal(rows, 5);
	assert_int_equal(with_id, 4);

	/* the hook removed: nothing heard */
	queue_on_status(f->q, NULL, NULL);
	c[0] ^= 1;
	assert_int_equal(queue_enqueue(f->q, c, key, key, (const uint8_t *)"x", 1, &id), 0);
	assert_int_equal(h.n, 3);

	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	assert_int_equal(queue_status(f->q, b, &st), 0);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.state, QUEUE_QUEUED);
	memset(a, 0xee, sizeof(a));
	assert_int_equal(queue_status(f->q, a, &st), 1);
}

/* The rows of the queue as queue_each_outgoing() gives them. */
struct rows_got {
	size_t		n;
	uint64_t	id[16];
	uint8_t		ack[16][ACK_ID_BYTES];
	int		has_ack[16];
	unsigned	attempts[16];
	int		with_provider[16];
	unsigned	frag_index[16];
};

static void
got_row(void *arg, const struct queue_outgoing *o)
{
	struct rows_got *r = arg;

	if (r->n >= 16)
		return;
	r->id[r->n] = o->id;
	r->has_ack[r->n] = o->ack_id != NULL;
	if (o->ack_id != NULL)
		memcpy(r->ack[r->n], o->ack_id, ACK_ID_BYTES);
	r->attempts[r->n] = o->attempts;
	r->with_provider[r->n] = o->with_provider;
	r->frag_index[r->n] = o->frag_index;
	r->n++;
}

static void
rows_of(struct queue *q, struct rows_got *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(queue_each_outgoing(q, got_row, r), 0);
}

/* The store's deadline of row id, read by a second connection. */
static int64_t
deadline_of(const char *path, uint64_t id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT deadline_ms FROM outgoing "
	    "WHERE id = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
status_is(struct queue *q, const uint8_t *msgid, enum queue_state state,
    uint32_t packets, uint32_t acked)
{
	struct queue_status st;

	assert_int_equal(queue_status(q, msgid, &st), 0);
	assert_int_equal(st.state, state);
	assert_int_equal(st.packets, packets);
	assert_int_equal(st.acked, acked);
}

/* A queue on the test's clock, with a status hook. */
static void
ack_clock(struct fixture *f, struct heard *h)
{
	fake_now = 1700000000;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	if (h != NULL)
		queue_on_status(f->q, hear_status, h);
}

/*
 * A message of one packet: the provider's confirmation makes it SENDING
 * and its row waits (with its deadline) instead of going; its
 * acknowledgement deletes the row and makes it DELIVERED, counted, each
 * change heard after its commit. A second copy of the ack is dropped.
 */
static void
test_ack_deletes_row(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	struct heard h = { 0 };
	struct rows_got r;
	uint64_t id, acked_id = 0;
	int64_t deadline;

	ack_clock(f, &h);
	memset(msgid, 0x31, sizeof(msgid));
	memset(key, 3, sizeof(key));
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"m", 1, &id), 0);
	rows_of(f->q, &r);
	assert_int_equal(r.n, 1);
	assert_true(r.has_ack[0]);
	assert_false(r.with_provider[0]);

	deadline = queue_now_ms(f->q) + 5000;
	assert_int_equal(queue_handed(f->q, id, deadline), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.last.state, QUEUE_SENDING);
	status_is(f->q, msgid, QUEUE_SENDING, 1, 0);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	assert_int_equal(deadline_of(f->path, id), deadline);
	rows_of(f->q, &r);
	assert_true(r.with_provider[0]);
	/* not pending: not in the window's reading */
	uint64_t ids[4];
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 4), 0);
	assert_int_equal(queue_counts(f->q)->sent, 1);

	assert_int_equal(queue_acked(f->q, r.ack[0], &acked_id), 0);
	assert_int_equal(acked_id, id);
	assert_int_equal(queue_outgoing_count(f->q), 0);
	status_is(f->q, msgid, QUEUE_DELIVERED, 1, 1);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.last.state, QUEUE_DELIVERED);
	assert_int_equal(h.last.acked, 1);
	assert_int_equal(queue_counts(f->q)->acks, 1);
	assert_int_equal(queue_counts(f->q)->delivered, 1);

	/* the same acknowledgement again: no row has it */
	assert_int_equal(queue_acked(f->q, r.ack[0], &acked_id), 1);
	assert_int_equal(queue_counts(f->q)->acks, 1);
	assert_int_equal(queue_counts(f->q)->acks_unknown, 1);
	assert_int_equal(h.n, 3);
	/* IPC_SENT after the row went: nothing there */
	assert_int_equal(queue_handed(f->q, id, deadline), 2);
}

/* A message in fragments is DELIVERED only with its last acknowledgement,
 * in any order, and SENDING (acked counting up) before. */
static void
test_all_acked_delivered(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES], msg[4500];
	struct heard h = { 0 };
	struct rows_got r;
	uint64_t id;

	ack_clock(f, &h);
	memset(msgid, 0x32, sizeof(msgid));
	memset(key, 3, sizeof(key));
	fill_pattern(msg, sizeof(msg), 9);
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, msg, sizeof(msg), &id), 0);
	rows_of(f->q, &r);
	assert_int_equal(r.n, 3);
	assert_memory_not_equal(r.ack[0], r.ack[1], ACK_ID_BYTES);
	assert_memory_not_equal(r.ack[1], r.ack[2], ACK_ID_BYTES);
	/* an ack before IPC_SENT (that report lost) counts all the same */
	assert_int_equal(queue_acked(f->q, r.ack[2], NULL), 0);
	status_is(f->q, msgid, QUEUE_SENDING, 3, 1);
	assert_int_equal(queue_handed(f->q, r.id[0], queue_now_ms(f->q) + 1000), 0);
	assert_int_equal(queue_acked(f->q, r.ack[0], NULL), 0);
	status_is(f->q, msgid, QUEUE_SENDING, 3, 2);
	assert_int_equal(queue_counts(f->q)->delivered, 0);
	assert_int_equal(queue_acked(f->q, r.ack[1], NULL), 0);
	status_is(f->q, msgid, QUEUE_DELIVERED, 3, 3);
	assert_int_equal(h.last.state, QUEUE_DELIVERED);
	assert_int_equal(queue_counts(f->q)->delivered, 1);
	assert_int_equal(queue_outgoing_count(f->q), 0);
}

/* An ack id no row has (a stranger's, or forged) deletes nothing. */
static void
test_unknown_ack_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES], ack[ACK_ID_BYTES];
	struct heard h = { 0 };
	uint64_t id, got = 77;

	ack_clock(f, &h);
	memset(msgid, 0x33, sizeof(msgid));
	memset(key, 3, sizeof(key));
	memset(ack, 0, sizeof(ack));	/* what an unset id would be */
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"m", 1, &id), 0);
	assert_int_equal(queue_acked(f->q, ack, &got), 1);
	assert_int_equal(got, 77);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	status_is(f->q, msgid, QUEUE_QUEUED, 1, 0);
	assert_int_equal(queue_counts(f->q)->acks_unknown, 1);
	assert_int_equal(queue_counts(f->q)->acks, 0);
	assert_int_equal(h.n, 1);
}

/*
 * A row with the provider whose deadline passed is pending again, one
 * attempt more, with the same ack id; before it, nothing; and the
 * deadlines and states are the store's, kept across a reopen.
 */
static void
test_deadline_resends(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	struct rows_got r, r2;
	uint64_t id, ids[4];
	int64_t now, deadline;
	char err[256];

	ack_clock(f, NULL);
	memset(msgid, 0x34, sizeof(msgid));
	memset(key, 3, sizeof(key));
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"m", 1, &id), 0);
	rows_of(f->q, &r);
	now = queue_now_ms(f->q);
	deadline = now + 30000;
	assert_int_equal(queue_handed(f->q, id, deadline), 0);
	assert_int_equal(queue_next_due_ms(f->q), deadline);

	/* a restart: the row is with the provider, its deadline kept */
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	ack_clock(f, NULL);
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 4), 0);
	assert_int_equal(queue_next_due_ms(f->q), deadline);
	status_is(f->q, msgid, QUEUE_SENDING, 1, 0);

	assert_int_equal(queue_resend_due(f->q, deadline - 1), 0);
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 4), 0);
	assert_int_equal(queue_resend_due(f->q, deadline), 1);
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 4), 1);
	assert_int_equal(ids[0], id);
	rows_of(f->q, &r2);
	assert_int_equal(r2.attempts[0], 1);
	assert_false(r2.with_provider[0]);
	assert_memory_equal(r2.ack[0], r.ack[0], ACK_ID_BYTES);
	assert_int_equal(queue_counts(f->q)->retransmissions, 1);
	status_is(f->q, msgid, QUEUE_SENDING, 1, 0);
	/* none due now but the expiry */
	assert_int_equal(queue_next_due_ms(f->q), (fake_now + QUEUE_DEFAULT_EXPIRY_SECONDS) * 1000);

	/* a restart: pending, to be sent */
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	ack_clock(f, NULL);
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 4), 1);
	/* handed again, and a later round trip moves the deadline */
	assert_int_equal(queue_handed(f->q, id, now + 1000), 0);
	assert_int_equal(queue_set_deadline(f->q, id, now + 9000), 0);
	assert_int_equal(deadline_of(f->path, id), now + 9000);
	assert_int_equal(queue_resend_due(f->q, now + 8999), 0);
	assert_int_equal(queue_resend_due(f->q, now + 9000), 1);
	rows_of(f->q, &r2);
	assert_int_equal(r2.attempts[0], 2);
	/* a pending row's deadline is not moved */
	assert_int_equal(queue_set_deadline(f->q, id, now + 1), 1);
}

/*
 * At its expiry a message not delivered is FAILED, its rows deleted in
 * the same transaction, with a reason: how many packets were
 * acknowledged, or why keyd could not build them. Then a late ack is
 * dropped. Expired messages are found again after a reopen.
 */
static void
test_expiry_fails(void **state)
{
	struct fixture *f = *state;
	uint8_t a[QUEUE_MSGID_BYTES], b[QUEUE_MSGID_BYTES], c[QUEUE_MSGID_BYTES];
	uint8_t key[QUEUE_KEY_BYTES], msg[4500];
	struct queue_status st;
	struct heard h = { 0 };
	struct rows_got r;
	uint64_t id, idb, idc;
	char err[256];

	ack_clock(f, &h);
	queue_set_expiry(f->q, 60);
	memset(a, 0x35, sizeof(a));
	memset(b, 0x36, sizeof(b));
	memset(c, 0x37, sizeof(c));
	memset(key, 3, sizeof(key));
	fill_pattern(msg, sizeof(msg), 4);
	assert_int_equal(queue_enqueue(f->q, a, key, key, msg, sizeof(msg), &id), 0);
	assert_int_equal(queue_enqueue(f->q, b, key, key, (const uint8_t *)"b", 1, &idb), 0);
	rows_of(f->q, &r);
	assert_int_equal(r.n, 4);
	assert_int_equal(queue_handed(f->q, r.id[1], queue_now_ms(f->q) + 1000), 0);
	assert_int_equal(queue_acked(f->q, r.ack[1], NULL), 0);
	/* b could not be built: why is kept */
	assert_int_equal(queue_build_failed(f->q, idb, "no provider abc in the topology"), 0);
	/* c is queued later: it expires later */
	fake_now += 30;
	assert_int_equal(queue_enqueue(f->q, c, key, key, (const uint8_t *)"c", 1, &idc), 0);
	assert_int_equal(queue_build_failed(f->q, idc, "no path"), 0);
	assert_int_equal(queue_handed(f->q, idc, queue_now_ms(f->q) + 1000), 0);
	assert_int_equal(queue_next_due_ms(f->q), queue_now_ms(f->q) + 1000);

	fake_now += 29;		/* 59 s after a and b */
	assert_int_equal(queue_expire_messages(f->q), 0);
	status_is(f->q, a, QUEUE_SENDING, 3, 1);
	/* c's deadline (passed) comes before a's and b's expiry */
	assert_int_equal(queue_next_due_ms(f->q), (fake_now - 29 + 1) * 1000);
	assert_int_equal(queue_resend_due(f->q, queue_now_ms(f->q)), 1);
	assert_int_equal(queue_next_due_ms(f->q), (fake_now + 1) * 1000);

	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	ack_clock(f, &h);
	fake_now = 1700000000 + 60;
	h.n = 0;
	assert_int_equal(queue_expire_messages(f->q), 2);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.last.state, QUEUE_FAILED);
	assert_int_equal(queue_status(f->q, a, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.acked, 1);
	assert_int_equal(st.changed, fake_now);
	assert_string_equal(st.reason, "not acknowledged within 60 s: 1 of 3 packets "
	    "acknowledged");
	assert_int_equal(queue_status(f->q, b, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_string_equal(st.reason, "its packets could not be built: no provider "
	    "abc in the topology");
	/* c's why was cleared when its packet reached the provider */
	status_is(f->q, c, QUEUE_SENDING, 1, 0);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	assert_int_equal(queue_counts(f->q)->failed, 2);
	/* a's rows went with it: their acks are dropped, the state stays */
	assert_int_equal(queue_acked(f->q, r.ack[2], NULL), 1);
	assert_int_equal(queue_status(f->q, a, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_int_equal(st.acked, 1);
	assert_int_equal(queue_expire_messages(f->q), 0);

	fake_now += 30;
	assert_int_equal(queue_expire_messages(f->q), 1);
	assert_int_equal(queue_status(f->q, c, &st), 0);
	assert_string_equal(st.reason, "not acknowledged within 60 s: 0 of 1 packets "
	    "acknowledged");
	assert_int_equal(queue_outgoing_count(f->q), 0);
	assert_int_equal(queue_next_due_ms(f->q), 0);
}

/* A reply is not acknowledged: the provider's confirmation deletes it and
 * its message is SENT; an unsent one expires as not sent. */
static void
test_reply_sent(void **state)
{
	struct fixture *f = *state;
	uint8_t tag[QUEUE_TAG_BYTES], m1[QUEUE_MSGID_BYTES], m2[QUEUE_MSGID_BYTES];
	struct queue_status st;
	struct heard h = { 0 };
	uint64_t id1, id2;

	ack_clock(f, &h);
	queue_set_expiry(f->q, 10);
	memset(tag, 0x38, sizeof(tag));
	memset(m1, 0x39, sizeof(m1));
	memset(m2, 0x3a, sizeof(m2));
	blocks_in(f->q, 0x3b, tag, 2, 1, fake_now + 3600, 0);
	assert_int_equal(queue_reply(f->q, tag, m1, (const uint8_t *)"r1", 2, &id1), 0);
	assert_int_equal(queue_reply(f->q, tag, m2, (const uint8_t *)"r2", 2, &id2), 0);
	assert_int_equal(queue_handed(f->q, id1, queue_now_ms(f->q) + 1000), 1);
	status_is(f->q, m1, QUEUE_SENT, 1, 0);
	assert_int_equal(h.last.state, QUEUE_SENT);
	assert_int_equal(queue_outgoing_count(f->q), 1);
	assert_int_equal(queue_counts(f->q)->sent, 1);
	fake_now += 10;
	assert_int_equal(queue_expire_messages(f->q), 1);
	assert_int_equal(queue_status(f->q, m2, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_string_equal(st.reason, "not sent within 10 s");
	status_is(f->q, m1, QUEUE_SENT, 1, 0);
}

/* The status of a message that ended is kept QUEUE_STATUS_KEEP_SECONDS,
 * then forgotten (and pruned from the store). */
static void
test_status_kept_then_forgotten(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES], other[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	struct queue_status st;
	struct rows_got r;
	uint64_t id;
	sqlite3 *db;
	sqlite3_stmt *s;
	int left = -1;

	ack_clock(f, NULL);
	queue_set_expiry(f->q, 2592000);
	memset(msgid, 0x3c, sizeof(msgid));
	memset(other, 0x3d, sizeof(other));
	memset(key, 3, sizeof(key));
	assert_int_equal(queue_enqueue(f->q, msgid, key, key, (const uint8_t *)"m", 1, &id), 0);
	assert_int_equal(queue_enqueue(f->q, other, key, key, (const uint8_t *)"o", 1, &id), 0);
	rows_of(f->q, &r);
	assert_int_equal(queue_acked(f->q, r.ack[0], NULL), 0);
	fake_now += QUEUE_STATUS_KEEP_SECONDS;
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_DELIVERED);
	fake_now += 1;
	assert_int_equal(queue_status(f->q, msgid, &st), 1);
	/* a message still being sent is never forgotten */
	status_is(f->q, other, QUEUE_QUEUED, 1, 0);
	assert_int_equal(queue_expire_messages(f->q), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM messages", -1,
	    &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		left = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_int_equal(left, 1);
}

/* A statement run on the store at path (an earlier release's, before it
 * is opened), with blob as ?1 if not NULL. */
static void
store_sql(const char *path, const char *sql, const uint8_t *blob, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* A queued row as schema 4 has them: message id 16 bytes of id, the
 * recipient and its provider 32 of key, the sender tag 16 of tag. */
static void
v4_row(const char *path, uint8_t id, uint8_t key, uint8_t tag,
    const uint8_t *msg, size_t len, unsigned surbs, int surbs_only)
{
	uint8_t msgid[QUEUE_MSGID_BYTES], k[QUEUE_KEY_BYTES], t[QUEUE_TAG_BYTES];
	sqlite3 *db;
	sqlite3_stmt *st;

	memset(msgid, id, sizeof(msgid));
	memset(k, key, sizeof(k));
	memset(t, tag, sizeof(t));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO outgoing (msgid, "
	    "recipient, provider, message, surbs, surbs_only, tag) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, msgid, sizeof(msgid), SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, k, sizeof(k), SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, k, sizeof(k), SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)surbs);
	sqlite3_bind_int(st, 6, surbs_only);
	sqlite3_bind_blob(st, 7, t, sizeof(t), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The v4 fixture, copied; changed by sql (as its release could have
 * left it) if not NULL, then opened (migrated to schema 5). */
static void
open_v4(struct fixture *f, const char *sql)
{
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];

	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v4.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	if (sql != NULL)
		store_sql(f->path, sql, NULL, 0);
	assert_int_equal(schema_of(f->path), 4);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
}

/*
 * The store of the release before acknowledgements (schema 4:
 * tests/fixtures/rpcd-store-v4.c) opens as schema 5 with nothing lost:
 * v3's queued rows (check_v3_queued(): the one of 2031 bytes in 2
 * fragments, the packet of 4 blocks split); the reply as it was, without
 * an ack id; the message of 5000 bytes in 3 fragments of 2027 bytes cut
 * again into 4 of 1611 (the last 167) after the others, which a
 * recipient makes whole into the same bytes; every row pending, a
 * forward one with an ack id of its own, and each one what keyd takes;
 * each message QUEUED with its packets; the received messages, the
 * block and the partial message there; and acknowledgements work in it.
 */
static void
test_store_v4_migrates(void **state)
{
	struct fixture *f = *state;
	struct snap s;
	struct got g = { 0 };
	uint8_t tag[QUEUE_TAG_BYTES], msgid[QUEUE_MSGID_BYTES], key[QUEUE_KEY_BYTES];
	uint8_t *whole;
	uint64_t ids[16], first_id;
	size_t partial_msgs = 0, partial_frags = 0, split, first = 0, len;
	time_t t0 = time(NULL);
	const struct row *r;
	struct queue_status st;

	open_v4(f, NULL);
	snap_take(f->q, &s);
	assert_int_equal(s.n, 4 + 2 + 1 + 1 + 4);
	split = check_v3_queued(f, &s, 9);
	assert_non_null(r = snap_id(&s, 9));
	memset(msgid, 0x7b, sizeof(msgid));
	assert_memory_equal(r->msgid, msgid, sizeof(msgid));
	assert_true(r->reply && !r->has_ack);
	assert_int_equal(r->len, 7);
	assert_memory_equal(r->message, "a reply", 7);
	for (uint64_t id = 6; id <= 8; id++)
		assert_null(snap_id(&s, id));
	assert_int_equal(snap_msgid(&s, 0x79, &first), 4);
	assert_true(first > split);	/* in the order of the rows they replace */
	memset(key, 0xa9, sizeof(key));
	for (size_t i = 0; i < 4; i++) {
		r = &s.r[first + i];
		assert_true(r->id > 9);
		assert_int_equal(r->frag_index, i);
		assert_int_equal(r->frag_count, 4);
		assert_int_equal(r->len, i < 3 ? PAYLOAD_FRAGMENT_BYTES :
		    5000 - 3 * PAYLOAD_FRAGMENT_BYTES);
		assert_memory_equal(r->rcpt, key, sizeof(key));
		assert_true(r->has_ack);
	}
	whole = snap_deliver(f, &s, 0x79, &len);
	assert_int_equal(len, 5000);
	for (size_t j = 0; j < len; j++)
		assert_int_equal(whole[j], (uint8_t)(j * 13 + 1));
	free(whole);
	assert_int_equal(queue_pending_ids(f->q, 0, ids, 16), 12);
	/* statuses */
	memset(msgid, 0x79, sizeof(msgid));
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_QUEUED);
	assert_int_equal(st.packets, 4);
	assert_true(st.changed >= t0);
	memset(msgid, 0x14, sizeof(msgid));
	status_is(f->q, msgid, QUEUE_QUEUED, 2, 0);
	for (int i = 1; i <= 2; i++) {
		memset(msgid, 0x11 + i, sizeof(msgid));
		status_is(f->q, msgid, QUEUE_QUEUED, 1, 0);
	}
	memset(msgid, 0x55, sizeof(msgid));
	status_is(f->q, msgid, QUEUE_QUEUED, 1, 0);
	status_is(f->q, s.r[split].msgid, QUEUE_QUEUED, 1, 0);
	memset(msgid, 0x7b, sizeof(msgid));
	status_is(f->q, msgid, QUEUE_QUEUED, 1, 0);
	assert_int_equal(queue_counts(f->q)->failed, 0);
	/* a default expiry from the upgrade */
	assert_true(queue_next_due_ms(f->q) >= ((int64_t)t0 + 86400) * 1000);
	assert_true(queue_next_due_ms(f->q) <= ((int64_t)time(NULL) + 86400) * 1000);
	/* received: as v3's, and the part */
	assert_int_equal(queue_fetch(f->q, got_one, got_done, &g), 3);
	assert_string_equal(g.last, "with a block");
	for (int i = 1; i <= 5; i++)
		assert_int_equal(fixture_received(f->q, i), 1);
	memset(tag, 0x67, sizeof(tag));
	assert_int_equal(queue_blocks_left(f->q, tag), 0);	/* the reply took it */
	assert_int_equal(queue_partial(f->q, &partial_msgs, &partial_frags), 0);
	assert_int_equal(partial_msgs, 1);
	assert_int_equal(partial_frags, 1);
	/* acknowledgements */
	first_id = s.r[first].id;
	assert_int_equal(queue_handed(f->q, first_id, queue_now_ms(f->q) + 1000), 0);
	assert_int_equal(queue_acked(f->q, s.r[first].ack, NULL), 0);
	memset(msgid, 0x79, sizeof(msgid));
	status_is(f->q, msgid, QUEUE_SENDING, 4, 1);
	assert_int_equal(queue_handed(f->q, 9, queue_now_ms(f->q) + 1000), 1);
	memset(msgid, 0x7b, sizeof(msgid));
	status_is(f->q, msgid, QUEUE_SENT, 1, 0);
	assert_int_equal(queue_outgoing_count(f->q), 10);
	snap_free(&s);
}

/*
 * A message the release before had sent in part (row 7, its second
 * fragment of 2027 bytes, gone from the v4 store: its packet was out)
 * cannot be completed in fragments of 1611: its rows go, and it is
 * FAILED with the reason, counted once, also after a reopen; the other
 * messages are migrated as ever.
 */
static void
test_store_v4_partly_sent(void **state)
{
	struct fixture *f = *state;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	struct queue_status st;
	struct snap s;
	char err[256];

	open_v4(f, "DELETE FROM outgoing WHERE id = 7");
	assert_int_equal(queue_counts(f->q)->failed, 1);
	snap_take(f->q, &s);
	assert_int_equal(s.n, 4 + 2 + 1 + 1);
	assert_int_equal(snap_msgid(&s, 0x79, NULL), 0);
	(void)check_v3_queued(f, &s, 9);
	snap_free(&s);
	memset(msgid, 0x79, sizeof(msgid));
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_int_equal(st.packets, 3);
	assert_int_equal(st.acked, 0);
	assert_string_equal(st.reason, "queued in fragments of 2027 bytes by an "
	    "earlier nymd, and partly sent: it cannot be completed; send it again");
	/* the others' expiry, not its own */
	assert_true(queue_next_due_ms(f->q) >= ((int64_t)time(NULL) + 86000) * 1000);
	queue_close(f->q);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_counts(f->q)->failed, 0);
	assert_int_equal(queue_outgoing_count(f->q), 8);
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_int_equal(queue_expire_messages(f->q), 0);
}

/*
 * Messages with reply blocks queued by the release before, which no
 * longer fit beside an acknowledgement block: 1200 bytes with a block
 * (1558 fitted, 1142 do) keeps its bytes and tag and goes without it,
 * the block in a packet of its own to the same tag; 1700 bytes (2014
 * fitted with no block, 1598 do) cannot carry its tag: FAILED, its
 * packet of blocks gone too.
 */
static void
test_store_v4_blocks_refit(void **state)
{
	struct fixture *f = *state;
	uint8_t msg[1700], msgid[QUEUE_MSGID_BYTES], tag[QUEUE_TAG_BYTES];
	struct queue_status st;
	struct snap s;
	size_t at = 0, blocks = 0;
	const struct row *r;
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];

	fill_pattern(msg, sizeof(msg), 9);
	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v4.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	v4_row(f->path, 0x92, 0x93, 0x91, msg, 1200, 1, 0);
	v4_row(f->path, 0x95, 0x93, 0x94, msg, 1700, 0, 0);
	v4_row(f->path, 0x96, 0x93, 0x94, NULL, 0, 2, 1);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
	snap_take(f->q, &s);
	snap_all_build(&s);
	assert_int_equal(snap_msgid(&s, 0x92, &at), 1);
	r = &s.r[at];
	assert_int_equal(r->id, 10);
	assert_int_equal(r->surbs, 0);
	assert_int_equal(r->len, 1200);
	assert_memory_equal(r->message, msg, 1200);
	memset(tag, 0x91, sizeof(tag));
	assert_true(r->tagged);
	assert_memory_equal(r->tag, tag, sizeof(tag));
	for (size_t i = 0; i < s.n; i++)
		if (s.r[i].tagged && memcmp(s.r[i].tag, tag, sizeof(tag)) == 0) {
			blocks += s.r[i].surbs;
			assert_true(s.r[i].id == 10 || (s.r[i].surbs_only &&
			    s.r[i].id > 12));
		}
	assert_int_equal(blocks, 1);
	assert_int_equal(snap_msgid(&s, 0x95, NULL), 0);
	assert_int_equal(snap_msgid(&s, 0x96, NULL), 0);
	memset(tag, 0x94, sizeof(tag));
	for (size_t i = 0; i < s.n; i++)
		assert_false(s.r[i].tagged && memcmp(s.r[i].tag, tag, sizeof(tag)) == 0);
	snap_free(&s);
	memset(msgid, 0x95, sizeof(msgid));
	assert_int_equal(queue_status(f->q, msgid, &st), 0);
	assert_int_equal(st.state, QUEUE_FAILED);
	assert_string_equal(st.reason, "queued with reply blocks by an earlier nymd: "
	    "1700 bytes, more than the 1598 a message with reply blocks may have "
	    "now; send it again");
	memset(msgid, 0x96, sizeof(msgid));
	assert_int_equal(queue_status(f->q, msgid, &st), 1);
	assert_int_equal(queue_counts(f->q)->failed, 1);
}

/*
 * A recipient upgraded with parts of messages held in the old cut (the
 * v4 fixture's part 1 of 2 of 0x7c, and a part 0 of 2 of 0x7f added
 * here, 2027 bytes each, both just arrived) whose senders cut them again
 * after their own upgrade: the parts of the new cut are held apart from
 * the old ones, also when the count is the same (0x7f: 3000 bytes are 2
 * parts in either cut), and make each message whole, with its own bytes;
 * that drops the old parts; copies of any part are then dropped.
 */
static void
test_store_v4_partial_recut(void **state)
{
	struct fixture *f = *state;
	uint8_t m[2 * QUEUE_V4_PART], n[3000], x[QUEUE_MSGID_BYTES], y[QUEUE_MSGID_BYTES];
	struct fetched g = { 0 };
	size_t parts, frags;
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];

	memset(m, 0x7c, QUEUE_V4_PART);
	memset(m + QUEUE_V4_PART, 0x7d, QUEUE_V4_PART);	/* the fixture's part */
	memset(n, 0x70, QUEUE_V4_PART);
	memset(n + QUEUE_V4_PART, 0x71, sizeof(n) - QUEUE_V4_PART);
	memset(x, 0x7c, sizeof(x));
	memset(y, 0x7f, sizeof(y));
	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v4.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	store_sql(f->path, "UPDATE partial SET first = CAST(strftime('%s', 'now') "
	    "AS INTEGER)", NULL, 0);
	store_sql(f->path, "INSERT INTO partial (msgid, count, held, first) VALUES "
	    "(?1, 2, 1, CAST(strftime('%s', 'now') AS INTEGER))", y, sizeof(y));
	store_sql(f->path, "INSERT INTO fragments (msgid, idx, bytes) VALUES "
	    "(X'7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f', 0, ?1)", n, QUEUE_V4_PART);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(queue_expire_fragments(f->q), 0);	/* as rpcd starts */
	assert_int_equal(queue_fetch(f->q, fetched_one, fetched_done, &g), 3);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 2);
	assert_int_equal(frags, 2);

	/* the same count: 2 parts of 1611 and 1389 bytes */
	assert_int_equal(payload_fragment_count(sizeof(n)), 2);
	assert_int_equal(fragment_in(f->q, y, n, sizeof(n), 0), 2);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 3);
	assert_int_equal(frags, 3);
	assert_int_equal(fragment_in(f->q, y, n, sizeof(n), 1), 0);
	assert_int_equal(queue_fetch(f->q, fetched_one, fetched_done, &g), 1);
	assert_int_equal(g.len, sizeof(n));
	assert_memory_equal(g.copy, n, sizeof(n));
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 1);	/* 0x7f's old part went with it */
	assert_int_equal(frags, 1);

	/* another count: 3 parts, in any order */
	assert_int_equal(payload_fragment_count(sizeof(m)), 3);
	assert_int_equal(fragment_in(f->q, x, m, sizeof(m), 2), 2);
	assert_int_equal(fragment_in(f->q, x, m, sizeof(m), 0), 2);
	assert_int_equal(fragment_in(f->q, x, m, sizeof(m), 0), 1);	/* a copy */
	assert_int_equal(fragment_in(f->q, x, m, sizeof(m), 1), 0);
	assert_int_equal(queue_fetch(f->q, fetched_one, fetched_done, &g), 1);
	assert_int_equal(g.len, sizeof(m));
	assert_memory_equal(g.copy, m, sizeof(m));
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 0);
	assert_int_equal(frags, 0);
	assert_int_equal(fragment_in(f->q, x, m, sizeof(m), 1), 1);
	assert_int_equal(fragment_in(f->q, y, n, sizeof(n), 0), 1);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(frags, 0);
	assert_int_equal(queue_counts(f->q)->received, 2);
	free(g.copy);
}

/* A migration that fails (here: a table in its way) leaves the store as
 * it was, and says why. */
static void
test_store_v4_upgrade_fails(void **state)
{
	struct fixture *f = *state;
	const char *top = getenv("top_srcdir");
	char from[1024], err[256];

	queue_close(f->q);
	f->q = NULL;
	snprintf(from, sizeof(from), "%s/tests/fixtures/rpcd-store-v4.db", top ? top : ".");
	assert_int_equal(copy_file(from, f->path), 0);
	store_sql(f->path, "CREATE TABLE fragments5 (x)", NULL, 0);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), -1);
	assert_null(f->q);
	assert_non_null(strstr(err, "cannot upgrade the message store from schema "
	    "version 4 (left as it is): table fragments5 already exists"));
	assert_int_equal(schema_of(f->path), 4);
	store_sql(f->path, "DROP TABLE fragments5", NULL, 0);
	assert_int_equal(queue_open(&f->q, f->path, NULL, err, sizeof(err)), 0);
	assert_int_equal(schema_of(f->path), 5);
	assert_int_equal(queue_outgoing_count(f->q), 12);
}

/* A part held in the old cut still goes QUEUE_FRAGMENT_EXPIRY_SECONDS
 * after it arrived, not sooner. */
static void
test_store_v4_partial_expires(void **state)
{
	struct fixture *f = *state;
	size_t parts, frags;

	open_v4(f, "UPDATE partial SET first = 1700000000");
	fake_now = 1700000000 + QUEUE_FRAGMENT_EXPIRY_SECONDS - 1;
	queue_set_window(f->q, WINDOW, QUEUE_SEEN_MAX, fake_clock);
	assert_int_equal(queue_expire_fragments(f->q), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 1);
	assert_int_equal(frags, 1);
	fake_now += 1;
	assert_int_equal(queue_expire_fragments(f->q), 0);
	assert_int_equal(queue_partial(f->q, &parts, &frags), 0);
	assert_int_equal(parts, 0);
	assert_int_equal(frags, 0);
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
		cmocka_unit_test_setup_teardown(test_window_keeps_then_forgets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_outlives_old_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_clock_set_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_spares_unfetched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_bytes_per_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v1_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_newer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v2_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_enqueued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_assembled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_other_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_survive_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v3_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_surb_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_deletes_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_acked_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ack_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_resends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_kept_then_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_partly_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_blocks_refit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_partial_recut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_partial_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_v4_upgrade_fails, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/message.h"
#include "common/payload.h"
#include "common/surb.h"
#include "common/xalloc.h"
#include "rpcd/queue.h"

/*
 * 2: received_marks (the duplicate window); 3: reply blocks
 * (docs/replies.md); 4: fragments (docs/replies.md, "Fragments"); 5:
 * acknowledgements and delivery status (docs/acks.md), and partial
 * messages held per cut; 1 to 4 are migrated at open.
 */
#define QUEUE_SCHEMA_VERSION	5
/*
 * The fragments of schema 4 and before, without an acknowledgement block
 * beside them: what the parts of a message queued or held by an earlier
 * nymd carry (every one but the last). docs/acks.md, "Upgrading".
 */
#define QUEUE_V4_FRAGMENT_BYTES	2027
#define QUEUE_STR(x)		QUEUE_STR_(x)
#define QUEUE_STR_(x)		#x
#define QUEUE_BUSY_TIMEOUT_MS	5000
/*
 * Space (docs/ipc.md, "A full disk"): the WAL is checkpointed every
 * QUEUE_CHECKPOINT_PAGES pages and cut back to QUEUE_WAL_LIMIT_BYTES after
 * a checkpoint, so it stays below about twice that; the reserve file
 * holds QUEUE_RESERVE_BYTES, more than a checkpoint of a WAL that size
 * can add to the database, and is given back when retiring a delivered
 * message meets a full disk.
 */
#define QUEUE_CHECKPOINT_PAGES	64
#define QUEUE_WAL_LIMIT_BYTES	(QUEUE_CHECKPOINT_PAGES * 4096 + 64 * 1024)
#define QUEUE_RESERVE_BYTES	(1024 * 1024)
#define QUEUE_RESERVE_SUFFIX	"-reserve"
/* Never released: queue_cause() writes into it in place to ask the file
 * system why a write failed. */
#define QUEUE_PROBE_BYTES	4096
/*
 * The durable record of delivered messages whose delete failed: a file
 * of QUEUE_RETIRED_SLOTS little-endian 64-bit queue ids (0: a free slot),
 * written whole when created so that recording an id later overwrites
 * blocks the file already has and needs no new space. Read at open: a
 * message it names is never handed out again, only deleted.
 */
#define QUEUE_RETIRED_SUFFIX	"-retired"
#define QUEUE_RETIRED_SLOTS	512
/*
 * The duplicate window (docs/ipc.md, "Duplicates"): a row of
 * received_marks (seq, at) says that every received message up to seq
 * arrived at or before the Unix second at. A mark is added at a receive
 * when the last is older than the window / QUEUE_MARKS_PER_WINDOW, so an
 * id is kept at least its window (and, while messages keep arriving, at
 * most 1/64 more), and no row of received carries a time of its own.
 */
#define QUEUE_MARKS_PER_WINDOW	64

enum queue_stmt {
	Q_ENQUEUE,
	Q_OUTGOING,
	Q_OUTGOING_ONE,
	Q_SENT,
	Q_RECEIVE,
	Q_FETCH,
	Q_MARK,
	Q_PRUNE_OLD,
	Q_PRUNE_MARKS,
	Q_PRUNE_CAP,
	Q_ADD_MARK,
	Q_COUNT,
	Q_ENQUEUE_ROW,
	Q_RECEIVE_TAGGED,
	Q_PUT_BLOCK,
	Q_PUT_KEYS,
	Q_GET_KEYS,
	Q_USE_KEYS,
	Q_EXPIRE_KEYS,
	Q_EXPIRE_BLOCKS,
	Q_NEXT_BLOCK,
	Q_USE_BLOCK,
	Q_ENQUEUE_REPLY,
	Q_COUNT_BLOCKS,
	Q_PUT_TAG,
	Q_KEYS_TAG,
	Q_GRANTED,
	Q_ENQUEUE_MORE,
	Q_ADD_GRANTED,
	Q_ENQUEUE_ASK,
	Q_EXPIRE_TAGS,
	Q_ENQUEUE_FRAGMENT,
	Q_EXPIRE_FRAGMENTS,
	Q_EXPIRE_PARTIAL,
	Q_RECEIVED_ID,
	Q_PARTIAL_ADD,
	Q_PARTIAL_OF,
	Q_PUT_FRAGMENT,
	Q_HOLD_FRAGMENT,
	Q_FRAGMENTS,
	Q_DELETE_FRAGMENTS,
	Q_DELETE_PARTIAL,
	Q_PARTIAL,
	Q_MESSAGE_ADD,
	Q_STATUS,
	Q_PENDING_IDS,
	Q_ROW_OF,
	Q_HAND,
	Q_MESSAGE_STATE,
	Q_MESSAGE_SENDING,
	Q_MESSAGE_SENT,
	Q_ACK_ROW,
	Q_MESSAGE_ACKED,
	Q_RESEND_DUE,
	Q_NEXT_DEADLINE,
	Q_NEXT_EXPIRY,
	Q_SET_DEADLINE,
	Q_BUILD_FAILED,
	Q_EXPIRED,
	Q_MESSAGE_REPLIES,
	Q_DELETE_ROWS,
	Q_MESSAGE_FAIL,
	Q_PRUNE_STATUS,
	Q_NSTMTS,
};

#define Q_OUTGOING_COLUMNS \
	"SELECT id, msgid, recipient, provider, message, surbs, surbs_only, tag, surb, " \
	"frag_index, frag_count, ack_id, attempts, state FROM outgoing "


static const char *const queue_sql[Q_NSTMTS] = {
	[Q_ENQUEUE] = "INSERT INTO outgoing (msgid, recipient, provider, message, ack_id) "
	    "VALUES (?, ?, ?, ?, ?)",
	[Q_OUTGOING] = Q_OUTGOING_COLUMNS "ORDER BY id",
	[Q_OUTGOING_ONE] = Q_OUTGOING_COLUMNS "WHERE id = ?",
	[Q_SENT] = "DELETE FROM outgoing WHERE id = ?",
	[Q_RECEIVE] = "INSERT OR IGNORE INTO received (msgid, message) VALUES (?, ?)",
	[Q_FETCH] = "SELECT seq, message, msgid, tag FROM received WHERE fetched = 0 ORDER BY seq",
	[Q_MARK] = "UPDATE received SET fetched = 1, message = NULL WHERE fetched = 0 AND seq <= ?",
	[Q_PRUNE_OLD] = "DELETE FROM received WHERE fetched = 1 AND seq <= "
	    "(SELECT MAX(seq) FROM received_marks WHERE at <= ?)",
	[Q_PRUNE_MARKS] = "DELETE FROM received_marks WHERE seq < "
	    "(SELECT MAX(seq) FROM received_marks WHERE at <= ?)",
	[Q_PRUNE_CAP] = "DELETE FROM received WHERE fetched = 1 AND seq <= "
	    "(SELECT MAX(seq) FROM received) - ?",
	[Q_ADD_MARK] = "INSERT OR REPLACE INTO received_marks (seq, at) VALUES (?, ?)",
	[Q_COUNT] = "SELECT COUNT(*) FROM outgoing",
	[Q_ENQUEUE_ROW] = "INSERT INTO outgoing (msgid, recipient, provider, message, "
	    "surbs, surbs_only, tag, ack_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[Q_RECEIVE_TAGGED] = "INSERT OR IGNORE INTO received (msgid, message, tag, fetched) "
	    "VALUES (?, ?, ?, ?)",
	[Q_PUT_BLOCK] = "INSERT INTO reply_blocks (tag, surb, expires) VALUES (?, ?, ?)",
	[Q_PUT_KEYS] = "INSERT OR REPLACE INTO surb_keys (id, sealed, expires, tag) "
	    "VALUES (?, ?, ?, (SELECT tag FROM outgoing WHERE id = ?))",
	[Q_GET_KEYS] = "SELECT sealed FROM surb_keys WHERE id = ? AND expires > ?",
	[Q_USE_KEYS] = "DELETE FROM surb_keys WHERE id = ? AND expires > ?",
	[Q_EXPIRE_KEYS] = "DELETE FROM surb_keys WHERE expires <= ?",
	[Q_EXPIRE_BLOCKS] = "DELETE FROM reply_blocks WHERE expires <= ?",
	[Q_NEXT_BLOCK] = "SELECT seq, surb FROM reply_blocks WHERE tag = ? AND expires > ? "
	    "ORDER BY seq LIMIT 1",
	[Q_USE_BLOCK] = "DELETE FROM reply_blocks WHERE seq = ?",
	[Q_ENQUEUE_REPLY] = "INSERT INTO outgoing (msgid, recipient, provider, message, surb) "
	    "VALUES (?, zeroblob(32), zeroblob(32), ?, ?)",
	[Q_COUNT_BLOCKS] = "SELECT COUNT(*) FROM reply_blocks WHERE tag = ? AND expires > ?",
	[Q_PUT_TAG] = "INSERT OR IGNORE INTO tags (tag, recipient, provider, granted, created) "
	    "VALUES (?, ?, ?, ?, ?)",
	[Q_KEYS_TAG] = "SELECT tag FROM surb_keys WHERE id = ? AND expires > ?",
	[Q_GRANTED] = "SELECT granted FROM tags WHERE tag = ?",
	[Q_ENQUEUE_MORE] = "INSERT INTO outgoing (msgid, recipient, provider, message, surbs, "
	    "surbs_only, tag, ack_id) SELECT ?1, recipient, provider, X'', ?2, 1, tag, ?4 "
	    "FROM tags WHERE tag = ?3",
	[Q_ADD_GRANTED] = "UPDATE tags SET granted = granted + ? WHERE tag = ?",
	[Q_ENQUEUE_ASK] = "INSERT INTO outgoing (msgid, recipient, provider, message, surbs, surb) "
	    "VALUES (?, zeroblob(32), zeroblob(32), X'', ?, ?)",
	[Q_EXPIRE_TAGS] = "DELETE FROM tags WHERE created <= ?",
	[Q_ENQUEUE_FRAGMENT] = "INSERT INTO outgoing (msgid, recipient, provider, message, "
	    "frag_index, frag_count, ack_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
	/* A partial message goes whole, by its first fragment's arrival;
	 * every statement here is by index, never a scan of the parts. A
	 * message is held per cut (its count of parts and their size): the
	 * parts of one cut never make up another's. */
	[Q_EXPIRE_FRAGMENTS] = "DELETE FROM fragments WHERE partial_id IN (SELECT id "
	    "FROM partial WHERE first <= ?)",
	[Q_EXPIRE_PARTIAL] = "DELETE FROM partial WHERE first <= ?",
	[Q_RECEIVED_ID] = "SELECT 1 FROM received WHERE msgid = ?",
	[Q_PARTIAL_ADD] = "INSERT INTO partial (msgid, count, part_bytes, held, first) "
	    "VALUES (?, ?, ?, 0, ?) ON CONFLICT (msgid, count, part_bytes) DO NOTHING",
	[Q_PARTIAL_OF] = "SELECT id, held FROM partial WHERE msgid = ? AND count = ? "
	    "AND part_bytes = ?",
	[Q_PUT_FRAGMENT] = "INSERT OR IGNORE INTO fragments (partial_id, idx, bytes) "
	    "VALUES (?, ?, ?)",
	[Q_HOLD_FRAGMENT] = "UPDATE partial SET held = held + 1 WHERE id = ?",
	[Q_FRAGMENTS] = "SELECT idx, bytes FROM fragments WHERE partial_id = ? ORDER BY idx",
	/* Every cut of the message: the one made whole, and any other. */
	[Q_DELETE_FRAGMENTS] = "DELETE FROM fragments WHERE partial_id IN (SELECT id "
	    "FROM partial WHERE msgid = ?)",
	[Q_DELETE_PARTIAL] = "DELETE FROM partial WHERE msgid = ?",
	[Q_PARTIAL] = "SELECT COUNT(*), COALESCE(SUM(held), 0) FROM partial",
	/* One more packet of a message: new, it is QUEUED until its expiry. */
	[Q_MESSAGE_ADD] = "INSERT INTO messages (msgid, created, expires, packets, changed) "
	    "VALUES (?1, ?2, ?2 + ?3, 1, ?2) "
	    "ON CONFLICT (msgid) DO UPDATE SET packets = packets + 1",
	/* An ended message is forgotten QUEUE_STATUS_KEEP_SECONDS later,
	 * whenever the prune runs. */
	[Q_STATUS] = "SELECT state, packets, acked, reason, changed FROM messages "
	    "WHERE msgid = ?1 AND NOT (state >= 2 AND changed < ?2)",
	/* Acknowledgements (docs/acks.md): a row is pending (state 0) or
	 * with the provider (1) until deadline_ms. */
	[Q_PENDING_IDS] = "SELECT id FROM outgoing WHERE state = 0 AND id > ? "
	    "ORDER BY id LIMIT ?",
	[Q_ROW_OF] = "SELECT msgid, ack_id IS NOT NULL, state = 0 AND attempts = 0 "
	    "FROM outgoing WHERE id = ?",
	[Q_HAND] = "UPDATE outgoing SET state = 1, deadline_ms = ?2 WHERE id = ?1",
	[Q_MESSAGE_STATE] = "SELECT state FROM messages WHERE msgid = ?",
	[Q_MESSAGE_SENDING] = "UPDATE messages SET reason = NULL, "
	    "changed = CASE state WHEN 0 THEN ?2 ELSE changed END, "
	    "state = CASE state WHEN 0 THEN 1 ELSE state END "
	    "WHERE msgid = ?1 AND state < 2",
	[Q_MESSAGE_SENT] = "UPDATE messages SET state = 4, changed = ?2 "
	    "WHERE msgid = ?1 AND state < 2",
	[Q_ACK_ROW] = "SELECT id, msgid FROM outgoing WHERE ack_id = ?",
	[Q_MESSAGE_ACKED] = "UPDATE messages SET acked = acked + 1, "
	    "state = CASE WHEN acked + 1 >= packets THEN 2 ELSE 1 END, changed = ?2 "
	    "WHERE msgid = ?1 AND state < 2",
	[Q_RESEND_DUE] = "UPDATE outgoing SET state = 0, attempts = attempts + 1 "
	    "WHERE state = 1 AND deadline_ms <= ?",
	[Q_NEXT_DEADLINE] = "SELECT MIN(deadline_ms) FROM outgoing WHERE state = 1",
	[Q_NEXT_EXPIRY] = "SELECT MIN(expires) FROM messages WHERE state < 2",
	[Q_SET_DEADLINE] = "UPDATE outgoing SET deadline_ms = ?2 WHERE id = ?1 AND state = 1",
	[Q_BUILD_FAILED] = "UPDATE messages SET reason = ?2 WHERE msgid = "
	    "(SELECT msgid FROM outgoing WHERE id = ?1) AND state < 2 AND reason IS NOT ?2",
	[Q_EXPIRED] = "SELECT msgid, created, expires, packets, acked, reason FROM messages "
	    "WHERE state < 2 AND expires <= ? ORDER BY expires LIMIT ?",
	[Q_MESSAGE_REPLIES] = "SELECT COUNT(*) FROM outgoing WHERE msgid = ? AND ack_id IS NULL",
	[Q_DELETE_ROWS] = "DELETE FROM outgoing WHERE msgid = ?",
	[Q_MESSAGE_FAIL] = "UPDATE messages SET state = 3, reason = ?2, changed = ?3 "
	    "WHERE msgid = ?1",
	[Q_PRUNE_STATUS] = "DELETE FROM messages WHERE state >= 2 AND changed < ?",
};

struct queue {
	sqlite3		*db;
	sqlite3_stmt	*stmt[Q_NSTMTS];
	char		 path[PATH_MAX];	/* as opened */
	char		 shown[PATH_MAX];	/* as said in errors */
	int		 reserve_fd;
	off_t		 reserve_size;		/* QUEUE_RESERVE_BYTES when whole */
	uint64_t	*retired;		/* delivered, not yet deleted */
	size_t		 n_retired;
	size_t		 cap_retired;
	int		 record_fd;		/* QUEUE_RETIRED_SUFFIX, or -1 */
	uint64_t	 record[QUEUE_RETIRED_SLOTS];	/* as on disk */
	int		 record_full;		/* said once */
	int		 failing;		/* a write failed; said once */
	uint32_t	 window;		/* seconds an id is remembered */
	uint32_t	 seen_max;		/* ids remembered at most */
	time_t		 (*now)(void);
	int64_t		 last_mark;		/* at of the newest mark */
	int		 capped;		/* at seen_max; said once */
	char		 error[PATH_MAX + 256];	/* why the last write failed */
	struct queue_counts counts;		/* since it was opened */
	size_t		 max_message;		/* a whole received message at most */
	uint32_t	 expiry;		/* s a sent message is tried at most */
	void		(*status_cb)(void *, const struct queue_status *);
	void		*status_arg;
	uint8_t		(*changed)[QUEUE_MSGID_BYTES];	/* by the open transaction */
	size_t		 n_changed;
	size_t		 cap_changed;
};

/* A new store (then migrated to 5); version 1 is its first four statements. */
static const char queue_schema[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE outgoing ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, msgid BLOB NOT NULL,"
    " recipient BLOB NOT NULL, provider BLOB NOT NULL, message BLOB NOT NULL);"
    "CREATE TABLE received ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, msgid BLOB NOT NULL UNIQUE,"
    " message BLOB, fetched INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX received_unfetched ON received (fetched, seq);"
    "CREATE TABLE received_marks (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('schema', 2);";

/*
 * Version 1 to 2: its received messages are taken to have arrived now (a
 * mark at the newest), so that every id it remembers is kept a whole
 * window from the upgrade. Nothing else changes.
 */
static const char queue_migrate_1[] =
    "CREATE TABLE received_marks (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL);"
    "INSERT INTO received_marks (seq, at)"
    " SELECT MAX(seq), CAST(strftime('%s', 'now') AS INTEGER)"
    " FROM received HAVING MAX(seq) IS NOT NULL;"
    "UPDATE meta SET value = 2 WHERE key = 'schema';";

/*
 * Version 2 to 3 (docs/replies.md): queued messages gain their reply
 * blocks' count, sender tag and, for a reply, the block it goes through;
 * received messages their sender tag; the kept keys of our blocks
 * (sealed by keyd, with their tag), the tags we sent (to whom, and how
 * many blocks in all) and the blocks others gave us get tables of their
 * own. Every row of 2 stays as it was: a plain message.
 */
static const char queue_migrate_2[] =
    "ALTER TABLE outgoing ADD COLUMN surbs INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing ADD COLUMN surbs_only INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing ADD COLUMN tag BLOB;"
    "ALTER TABLE outgoing ADD COLUMN surb BLOB;"
    "ALTER TABLE received ADD COLUMN tag BLOB;"
    "CREATE TABLE surb_keys (id BLOB PRIMARY KEY, sealed BLOB NOT NULL,"
    " expires INTEGER NOT NULL, tag BLOB);"
    "CREATE TABLE tags (tag BLOB PRIMARY KEY, recipient BLOB NOT NULL,"
    " provider BLOB NOT NULL, granted INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE reply_blocks (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tag BLOB NOT NULL, surb BLOB NOT NULL, expires INTEGER NOT NULL);"
    "CREATE INDEX reply_blocks_tag ON reply_blocks (tag, seq);"
    "UPDATE meta SET value = 3 WHERE key = 'schema';";

/*
 * Version 3 to 4 (docs/replies.md, "Fragments"): a queued row may be one
 * fragment of a larger message (frag_count parts, this one frag_index;
 * 0 parts: a whole message, as every row of 3), and the fragments of
 * received messages not yet whole are kept apart until the last arrives:
 * their bytes in fragments, and per message (partial) its count of
 * parts, how many are held and when the first arrived (Unix s).
 */
static const char queue_migrate_3[] =
    "ALTER TABLE outgoing ADD COLUMN frag_index INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing ADD COLUMN frag_count INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE partial (msgid BLOB PRIMARY KEY, count INTEGER NOT NULL,"
    " held INTEGER NOT NULL, first INTEGER NOT NULL);"
    "CREATE INDEX partial_first ON partial (first);"
    "CREATE TABLE fragments (msgid BLOB NOT NULL, idx INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, PRIMARY KEY (msgid, idx));"
    "UPDATE meta SET value = 4 WHERE key = 'schema';";

/*
 * Version 4 to 5 (docs/acks.md): every queued row of a forward message
 * gets an ack id (16 random bytes from libsodium, nymd_randomblob(); a
 * reply, sent through a block, none: it is not acknowledged), its state
 * (0 pending: to be built and sent; 1 with_provider: the provider took
 * its packet, the acknowledgement is awaited until deadline_ms, Unix ms)
 * and how often it was sent again. Each message (its message id, shared
 * by its fragments) gets a row in messages: when it was queued and
 * expires (Unix s), its rows in all and acknowledged, its state (enum
 * queue_state), why it failed, and when that last changed.
 *
 * A partial message received is held per cut (docs/replies.md,
 * "Fragments"): a row of partial per message id, count of parts and size
 * of every part but the last (part_bytes), and its parts in fragments by
 * that row's id; what 4 held was cut at QUEUE_V4_FRAGMENT_BYTES.
 *
 * In between (queue_migrate_rows(), the same transaction): what a packet
 * beside an acknowledgement block can no longer carry is cut again, or
 * failed. Then the rows left are pending, their messages queued now and
 * expiring a default expiry (QUEUE_DEFAULT_EXPIRY_SECONDS) from now.
 */
static const char queue_migrate_4[] =
    "ALTER TABLE outgoing ADD COLUMN ack_id BLOB;"
    "ALTER TABLE outgoing ADD COLUMN state INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing ADD COLUMN deadline_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE outgoing ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "UPDATE outgoing SET ack_id = nymd_randomblob(16) WHERE surb IS NULL;"
    "CREATE UNIQUE INDEX outgoing_ack ON outgoing (ack_id);"
    "CREATE INDEX outgoing_state ON outgoing (state);"
    "CREATE INDEX outgoing_due ON outgoing (deadline_ms) WHERE state = 1;"
    "CREATE INDEX outgoing_msgid ON outgoing (msgid);"
    "CREATE TABLE messages (msgid BLOB PRIMARY KEY, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, packets INTEGER NOT NULL,"
    " acked INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT, changed INTEGER NOT NULL);"
    "CREATE INDEX messages_open ON messages (expires) WHERE state < 2;"
    "CREATE INDEX messages_ended ON messages (changed) WHERE state >= 2;"
    "CREATE TABLE partial5 (id INTEGER PRIMARY KEY, msgid BLOB NOT NULL,"
    " count INTEGER NOT NULL, part_bytes INTEGER NOT NULL,"
    " held INTEGER NOT NULL, first INTEGER NOT NULL);"
    "INSERT INTO partial5 (msgid, count, part_bytes, held, first)"
    " SELECT msgid, count, " QUEUE_STR(QUEUE_V4_FRAGMENT_BYTES) ", held, first"
    " FROM partial ORDER BY first;"
    "CREATE TABLE fragments5 (partial_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, PRIMARY KEY (partial_id, idx));"
    "INSERT INTO fragments5 (partial_id, idx, bytes)"
    " SELECT p.id, f.idx, f.bytes FROM fragments f JOIN partial5 p"
    " ON p.msgid = f.msgid;"
    "DROP TABLE fragments;"
    "DROP TABLE partial;"
    "ALTER TABLE partial5 RENAME TO partial;"
    "ALTER TABLE fragments5 RENAME TO fragments;"
    "CREATE UNIQUE INDEX partial_cut ON partial (msgid, count, part_bytes);"
    "CREATE INDEX partial_first ON partial (first);";
static const char queue_migrate_4_end[] =
    "INSERT INTO messages (msgid, created, expires, packets, changed)"
    " SELECT msgid, CAST(strftime('%s', 'now') AS INTEGER),"
    " CAST(strftime('%s', 'now') AS INTEGER) + 86400, COUNT(*),"
    " CAST(strftime('%s', 'now') AS INTEGER) FROM outgoing GROUP BY msgid;"
    "UPDATE meta SET value = 5 WHERE key = 'schema';";
_Static_assert(QUEUE_DEFAULT_EXPIRY_SECONDS == 86400, "queue_migrate_4's expiry");

static int
queue_exec(struct queue *q, const char *sql)
{
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The directory of the store, for the space left on its file system. */
static long long
queue_space_left(const struct queue *q)
{
	char dir[PATH_MAX];
	struct statvfs sv;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", q->path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (statvfs(dir, &sv) == -1)
		return -1;
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

/*
 * The errno of the last failed call on the WAL (or on the database file):
 * sqlite3_system_errno() is errno as it is when the statement ends, and
 * that of a failed fsync is gone by then; the unix VFS keeps each file's.
 */
static int
queue_file_errno(struct queue *q)
{
	sqlite3_file *f = NULL;
	int e = 0;

	if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f) == SQLITE_OK && f != NULL && f->pMethods != NULL)
		(void)f->pMethods->xFileControl(f, SQLITE_FCNTL_LAST_ERRNO, &e);
	if (e == 0)
		(void)sqlite3_file_control(q->db, "main", SQLITE_FCNTL_LAST_ERRNO, &e);
	return e;
}

/* Why the last statement failed, in words a user can act on. */
static void
queue_cause(struct queue *q, int rc, char *out, size_t len)
{
	int e = sqlite3_system_errno(q->db);
	uint8_t zero = 0;

	if (e == 0 && (rc & 0xff) == SQLITE_IOERR)
		e = queue_file_errno(q);

	/* SQLite does not always keep the errno, or keeps that of another
	 * call (a file system turned read-only after an error fails some
	 * calls with EIO): a one-byte write in place into the reserve, which
	 * needs no new space, asks the file system. */
	if ((rc & 0xff) != SQLITE_FULL && e != ENOSPC && e != EROFS &&
	    q->reserve_fd != -1 && q->reserve_size > 0 &&
	    pwrite(q->reserve_fd, &zero, 1, 0) == -1 &&
	    (e == 0 || e == EBADF || errno == EROFS))
		e = errno;

	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC || e == EDQUOT)
		snprintf(out, len, "no space left on device");
	else if (e == EROFS)
		snprintf(out, len, "read-only file system");
	else if ((rc & 0xff) == SQLITE_READONLY)
		snprintf(out, len, "the store is read-only");
	else if (e != 0 && ((rc & 0xff) == SQLITE_IOERR ||
	    (rc & 0xff) == SQLITE_CANTOPEN)) {
		snprintf(out, len, "%s", strerror(e));
		out[0] = (char)tolower((unsigned char)out[0]);
	} else
		snprintf(out, len, "%s", sqlite3_errstr(rc));
}

/*
 * A commit whose sync failed (EIO) is not seen by this connection, but
 * its frames may all be in the WAL, and the recovery after a crash would
 * take it: a refused message would be sent all the same, fetched messages
 * marked although the client was told they stay. A commit of our own,
 * written over the first of those frames, cuts them off (a frame counts
 * only while the checksums of every frame before it hold); recovered
 * instead, it changes only the header's user_version, which nymd does
 * not use. A failed write leaves no whole commit, and a cut that fails
 * is not tried again: the next write overwrites the same frames.
 */
static void
queue_cut_failed_commit(struct queue *q)
{
	sqlite3_stmt *st;
	char sql[64];
	int v = 0;

	if (!sqlite3_get_autocommit(q->db) || sqlite3_prepare_v2(q->db,
	    "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", (v + 1) & 0xffff);
	(void)queue_exec(q, sql);
}

/*
 * A write failed: remember why (queue_error()), and say it once per
 * episode; the first message stored again (sent or received) ends it.
 */
static void
queue_failed(struct queue *q, int rc)
{
	char cause[128];
	long long left = queue_space_left(q);

	queue_cause(q, rc, cause, sizeof(cause));
	if (left >= 0)
		snprintf(q->error, sizeof(q->error), "%s (%s, %lld KiB left)",
		    cause, q->shown, left / 1024);
	else
		snprintf(q->error, sizeof(q->error), "%s (%s)", cause, q->shown);
	if (!q->failing)
		log_warnx("message store: cannot write: %s; until it can, "
		    "new messages are refused, received ones left at the "
		    "provider", q->error);
	q->failing = 1;
	if ((rc & 0xff) == SQLITE_IOERR)
		queue_cut_failed_commit(q);
}

static void
queue_succeeded(struct queue *q)
{
	if (q->failing)
		log_info("message store %s: writable again", q->shown);
	q->failing = 0;
}

const char *
queue_error(const struct queue *q)
{
	return q->error[0] ? q->error : "unknown error";
}

/*
 * The reserve: a file next to the store, written (not sparse) so that its
 * blocks are really taken, grown to target bytes as space allows; 0 when
 * it holds target, -1 when not (yet).
 */
static int
queue_reserve(struct queue *q, off_t target)
{
	static const uint8_t zero[64 * 1024];
	ssize_t n;

	if (q->reserve_fd == -1)
		return -1;
	if (q->reserve_size >= target)
		return 0;
	while (q->reserve_size < target) {
		size_t want = sizeof(zero);
		if (want > (size_t)(target - q->reserve_size))
			want = (size_t)(target - q->reserve_size);
		n = pwrite(q->reserve_fd, zero, want, q->reserve_size);
		if (n <= 0) {
			(void)fdatasync(q->reserve_fd);
			return -1;
		}
		q->reserve_size += n;
	}
	if (fdatasync(q->reserve_fd) == -1)
		return -1;
	return 0;
}

/*
 * May a send be stored? Only while the reserve and the database's free
 * pages (left by delivered messages) together hold QUEUE_RESERVE_BYTES:
 * the reserve is grown to what the free pages do not cover. New messages
 * fill free pages first, so those do not grow the file at a checkpoint,
 * and retiring on a full disk needs only the reserve and the WAL that a
 * TRUNCATE checkpoint frees. 0 or -1.
 */
static int
queue_room(struct queue *q)
{
	sqlite3_stmt *st;
	long long free_pages = 0;
	off_t target = QUEUE_RESERVE_BYTES;

	if (q->reserve_size < QUEUE_RESERVE_BYTES && sqlite3_prepare_v2(q->db,
	    "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			free_pages = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		/* 4096: SQLite's default page size, which the store keeps */
		target -= free_pages >= QUEUE_RESERVE_BYTES / 4096 ?
		    QUEUE_RESERVE_BYTES : (off_t)free_pages * 4096;
		if (target < QUEUE_PROBE_BYTES)
			target = QUEUE_PROBE_BYTES;
	}
	return queue_reserve(q, target);
}

/* Gives the reserve's space back to the file system. */
static void
queue_release_reserve(struct queue *q)
{
	if (q->reserve_fd == -1 || q->reserve_size <= QUEUE_PROBE_BYTES)
		return;
	if (ftruncate(q->reserve_fd, QUEUE_PROBE_BYTES) == -1) {
		log_warn("message store: cannot release %s%s", q->shown,
		    QUEUE_RESERVE_SUFFIX);
		return;
	}
	q->reserve_size = QUEUE_PROBE_BYTES;
	log_info("message store: disk full; reserve released to retire "
	    "delivered messages");
}

static int
queue_open_reserve(struct queue *q)
{
	char rpath[PATH_MAX + 16];
	struct stat sb;

	snprintf(rpath, sizeof(rpath), "%s%s", q->path, QUEUE_RESERVE_SUFFIX);
	q->reserve_fd = open(rpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->reserve_fd == -1 || fstat(q->reserve_fd, &sb) == -1)
		return -1;
	q->reserve_size = sb.st_size;
	(void)queue_room(q);		/* or not: refused sends say so */
	return 0;
}

static int
queue_is_retired(const struct queue *q, uint64_t id)
{
	for (size_t i = 0; i < q->n_retired; i++)
		if (q->retired[i] == id)
			return 1;
	return 0;
}

/* Writes slot i of the record in place; with sync, durably. 0 or -1. */
static int
queue_record_write(struct queue *q, size_t i, uint64_t id, int sync)
{
	uint8_t le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t)(id >> (8 * b));
	if (pwrite(q->record_fd, le, sizeof(le), (off_t)(i * sizeof(le))) !=
	    (ssize_t)sizeof(le) || (sync && fdatasync(q->record_fd) == -1))
		return -1;
	q->record[i] = id;
	return 0;
}

/* Records id as delivered, durably if the record can be written. */
static void
queue_record_add(struct queue *q, uint64_t id)
{
	size_t i;

	if (q->record_fd == -1)
		return;
	for (i = 0; i < QUEUE_RETIRED_SLOTS; i++)
		if (q->record[i] == id)
			return;
	for (i = 0; i < QUEUE_RETIRED_SLOTS && q->record[i] != 0; i++)
		;
	if (i == QUEUE_RETIRED_SLOTS) {
		if (!q->record_full)
			log_warnx("message store: more than %d delivered messages "
			    "cannot be deleted; the others are kept apart in "
			    "memory only", QUEUE_RETIRED_SLOTS);
		q->record_full = 1;
		return;
	}
	if (queue_record_write(q, i, id, 1) == -1)
		log_warn("message store: cannot record delivered message %llu "
		    "in %s%s", (unsigned long long)id, q->shown,
		    QUEUE_RETIRED_SUFFIX);
}

/* The message is deleted: its slot is free again (a slot left behind
 * names a message that no longer exists, which deleting again skips). */
static void
queue_record_forget(struct queue *q, uint64_t id)
{
	if (q->record_fd == -1)
		return;
	for (size_t i = 0; i < QUEUE_RETIRED_SLOTS; i++)
		if (q->record[i] == id)
			(void)queue_record_write(q, i, 0, 0);
	q->record_full = 0;
}

static void
queue_forget_retired(struct queue *q, uint64_t id)
{
	for (size_t i = 0; i < q->n_retired; i++)
		if (q->retired[i] == id) {
			q->retired[i] = q->retired[--q->n_retired];
			queue_record_forget(q, id);
			return;
		}
}

/* Keeps id apart in memory: never handed out again. */
static void
queue_keep_apart(struct queue *q, uint64_t id)
{
	if (queue_is_retired(q, id))
		return;
	if (q->n_retired == q->cap_retired) {
		size_t cap = q->cap_retired ? q->cap_retired * 2 : 64;
		q->retired = xreallocarray(q->retired, cap, sizeof(*q->retired));
		q->cap_retired = cap;
	}
	q->retired[q->n_retired++] = id;
}

/* Delivered, but not deleted: kept apart, and recorded on disk. */
static void
queue_add_retired(struct queue *q, uint64_t id)
{
	queue_keep_apart(q, id);
	queue_record_add(q, id);
}

/*
 * Opens (creating it whole) the record of delivered messages and keeps
 * apart every message it names. Without it (it cannot be created: a full
 * disk at the first start of this version) they are kept in memory only,
 * as said in the log. 0 or -1 (a record that exists but is unreadable).
 */
static int
queue_open_record(struct queue *q)
{
	static const uint8_t zero[QUEUE_RETIRED_SLOTS * 8];
	uint8_t buf[QUEUE_RETIRED_SLOTS * 8];
	char rpath[PATH_MAX + 16];
	ssize_t n;

	snprintf(rpath, sizeof(rpath), "%s%s", q->path, QUEUE_RETIRED_SUFFIX);
	q->record_fd = open(rpath, O_RDWR | O_CLOEXEC);
	if (q->record_fd == -1 && errno != ENOENT)
		return -1;
	if (q->record_fd == -1) {
		q->record_fd = open(rpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (q->record_fd == -1 || pwrite(q->record_fd, zero, sizeof(zero), 0) !=
		    (ssize_t)sizeof(zero) || fdatasync(q->record_fd) == -1) {
			log_warn("message store: cannot create %s%s; delivered "
			    "messages that cannot be deleted are kept apart in "
			    "memory only", q->shown, QUEUE_RETIRED_SUFFIX);
			if (q->record_fd != -1) {
				close(q->record_fd);
				(void)unlink(rpath);
			}
			q->record_fd = -1;
			return 0;
		}
		return 0;
	}
	if ((n = pread(q->record_fd, buf, sizeof(buf), 0)) == -1)
		return -1;
	for (size_t i = 0; (i + 1) * 8 <= (size_t)n; i++) {
		uint64_t id = 0;
		for (int b = 7; b >= 0; b--)
			id = id << 8 | buf[i * 8 + (size_t)b];
		q->record[i] = id;
		if (id != 0)
			queue_keep_apart(q, id);
	}
	if (q->n_retired > 0)
		log_info("message store: %zu delivered messages are still to be "
		    "deleted; they are not sent again", q->n_retired);
	return 0;
}

/* nymd_randomblob(n): n bytes from libsodium's generator (the ack ids
 * of rows migrated to schema 5), not SQLite's own. */
static void
queue_sql_random(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int n = sqlite3_value_int(argv[0]);
	uint8_t *b;

	if (argc != 1 || n < 1 || n > 64) {
		sqlite3_result_error(ctx, "nymd_randomblob: 1 to 64 bytes", -1);
		return;
	}
	b = xmalloc((size_t)n);
	randombytes_buf(b, (size_t)n);
	sqlite3_result_blob(ctx, b, n, free);
}

static sqlite3_stmt *queue_stmt(struct queue *, enum queue_stmt);
static void queue_notify(struct queue *);
static int64_t queue_now(const struct queue *);

/* The schema version; 0 for a file without tables, -1 if unreadable. */
static int
queue_schema_version(struct queue *q)
{
	sqlite3_stmt *st;
	int version = -1;

	if (sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key = 'schema'",
	    -1, &st, NULL) != SQLITE_OK) {
		/* no meta table: a new file, or another program's */
		if (sqlite3_prepare_v2(q->db, "SELECT COUNT(*) FROM sqlite_master",
		    -1, &st, NULL) != SQLITE_OK)
			return -1;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0)
			version = 0;
		sqlite3_finalize(st);
		return version;
	}
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return version;
}

/*
 * Rows of schema 4 and before that a packet beside an acknowledgement
 * block (docs/acks.md) cannot carry. The IPC contract's sizes refuse
 * them, and keyd takes an IPC_BUILD it refuses for a protocol error of
 * rpcd's: it would exit at each, until master gave up. So the
 * migration's transaction makes them fit (docs/acks.md, "Upgrading"):
 *  - a whole message over MESSAGE_MAX_ACKED_BYTES is cut into fragments
 *    of PAYLOAD_FRAGMENT_BYTES, as queue_enqueue() cuts one now (the same
 *    message id, each part a row with a fresh ack id);
 *  - a message in fragments of QUEUE_V4_FRAGMENT_BYTES whose rows are
 *    all still here is joined and cut again the same way; one with rows
 *    missing (sent before the upgrade: the recipient holds them in the
 *    old cut, and no upgraded nymd sends or reads that cut) cannot be
 *    completed: its rows go, and it fails with QUEUE_MIG_PARTLY_SENT;
 *  - a packet of blocks only with more than PAYLOAD_MAX_SURBS, or a
 *    message whose blocks no longer fit beside it, keeps what fits, and
 *    the rest go in packets of blocks only to the same tag (as
 *    api_split() sends them); a message too large for a sender tag
 *    beside an acknowledgement block fails, and its tag's packets of
 *    blocks go with it.
 * Replies go through a reply block, without an acknowledgement block:
 * they are left as they are.
 *
 * Order: new rows take new ids, after every existing one, as any insert
 * (AUTOINCREMENT); the rows kept keep theirs. Renumbering the queue to
 * put the new rows where the old ones were is not an option: an id also
 * names a row outside the store (nymd.db-retired, a delivered row whose
 * delete failed), so ids are never changed nor used twice. The outbox
 * sends the oldest id first, so a message cut again goes after those
 * queued after it: the mixnet keeps no order between messages anyway
 * (every packet's delays are its own), and the wait is at most the
 * queue of the upgrade. Messages cut again keep their order among
 * themselves (by their first row), and each one's parts are in order.
 */
#define QUEUE_MIG_PARTLY_SENT	"queued in fragments of " \
	QUEUE_STR(QUEUE_V4_FRAGMENT_BYTES) " bytes by an earlier nymd, and partly " \
	"sent: it cannot be completed; send it again"

enum queue_mig_stmt {
	M_LIST,
	M_ROWS,
	M_DELETE,
	M_WHOLE,
	M_PART,
	M_BLOCKS,
	M_SET_SURBS,
	M_DROP_BLOCKS,
	M_FAIL,
	M_NSTMTS,
};

static const char *const queue_mig_sql[M_NSTMTS] = {
	/* Each message to look at, by its first row: every forward one in
	 * fragments, and every one over what its packet carries now. */
	[M_LIST] = "SELECT MIN(id), msgid FROM outgoing WHERE surb IS NULL AND "
	    "(frag_count > 0 OR surbs > ?1 OR (tag IS NULL AND length(message) > ?2) "
	    "OR (tag IS NOT NULL AND surbs_only = 0 AND "
	    "length(message) + ?3 * surbs > ?4)) GROUP BY msgid ORDER BY MIN(id)",
	[M_ROWS] = "SELECT id, recipient, provider, message, frag_index, frag_count, "
	    "tag, surbs, surbs_only FROM outgoing WHERE msgid = ? AND surb IS NULL "
	    "ORDER BY frag_index, id",
	[M_DELETE] = "DELETE FROM outgoing WHERE msgid = ? AND surb IS NULL",
	[M_WHOLE] = "INSERT INTO outgoing (msgid, recipient, provider, message, ack_id) "
	    "VALUES (?, ?, ?, ?, ?)",
	[M_PART] = "INSERT INTO outgoing (msgid, recipient, provider, message, "
	    "frag_index, frag_count, ack_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[M_BLOCKS] = "INSERT INTO outgoing (msgid, recipient, provider, message, surbs, "
	    "surbs_only, tag, ack_id) VALUES (?, ?, ?, X'', ?, 1, ?, ?)",
	[M_SET_SURBS] = "UPDATE outgoing SET surbs = ? WHERE id = ?",
	[M_DROP_BLOCKS] = "DELETE FROM outgoing WHERE tag = ? AND surbs_only = 1 "
	    "AND surb IS NULL",
	[M_FAIL] = "INSERT INTO messages (msgid, created, expires, packets, state, "
	    "reason, changed) VALUES (?1, ?2, ?2, ?3, 3, ?4, ?2)",
};

/* What the migration did, said in the log once it is committed. */
struct queue_mig {
	sqlite3_stmt	*st[M_NSTMTS];
	size_t		 recut;		/* messages cut again */
	size_t		 split;		/* packets whose blocks were split */
	size_t		 n_failed;
	size_t		 cap_failed;
	struct queue_mig_failed {
		uint8_t	 msgid[QUEUE_MSGID_BYTES];
		char	 reason[sizeof(((struct queue_status *)0)->reason)];
	}		*failed;
};

static sqlite3_stmt *
queue_mig_stmt(struct queue_mig *m, enum queue_mig_stmt s)
{
	sqlite3_reset(m->st[s]);
	sqlite3_clear_bindings(m->st[s]);
	return m->st[s];
}

/* Runs a write of the migration: 0 or -1. */
static int
queue_mig_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
queue_mig_bind_random(sqlite3_stmt *st, int col, size_t n)
{
	uint8_t b[QUEUE_MSGID_BYTES];

	randombytes_buf(b, n);
	sqlite3_bind_blob(st, col, b, (int)n, SQLITE_TRANSIENT);
}

/* Queues msg anew as message msgid, cut as queue_enqueue() cuts it
 * (len at most PAYLOAD_MAX_FRAGMENTED_BYTES). 0 or -1. */
static int
queue_mig_cut(struct queue_mig *m, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t *rcpt, const uint8_t *prov, const uint8_t *msg, size_t len)
{
	size_t count = payload_fragment_count(len);
	sqlite3_stmt *st;

	_Static_assert(ACK_ID_BYTES <= QUEUE_MSGID_BYTES, "queue_mig_bind_random()");
	if (count == 0) {	/* it fits one packet */
		st = queue_mig_stmt(m, M_WHOLE);
		sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, rcpt, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, prov, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, len ? msg : (const uint8_t *)"", (int)len,
		    SQLITE_STATIC);
		queue_mig_bind_random(st, 5, ACK_ID_BYTES);
		return queue_mig_step(st);
	}
	for (size_t i = 0; i < count; i++) {
		size_t off = i * PAYLOAD_FRAGMENT_BYTES;
		size_t n = len - off < PAYLOAD_FRAGMENT_BYTES ? len - off :
		    PAYLOAD_FRAGMENT_BYTES;
		st = queue_mig_stmt(m, M_PART);
		sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, rcpt, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, prov, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, msg + off, (int)n, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (int)i);
		sqlite3_bind_int(st, 6, (int)count);
		queue_mig_bind_random(st, 7, ACK_ID_BYTES);
		if (queue_mig_step(st) == -1)
			return -1;
	}
	return 0;
}

/* n reply blocks of tag in new packets of blocks only, each its own
 * message (a fresh id, as api_split() gives them). 0 or -1. */
static int
queue_mig_blocks(struct queue_mig *m, const uint8_t *rcpt, const uint8_t *prov,
    const uint8_t tag[QUEUE_TAG_BYTES], unsigned n)
{
	while (n > 0) {
		unsigned take = n > PAYLOAD_MAX_SURBS ? PAYLOAD_MAX_SURBS : n;
		sqlite3_stmt *st = queue_mig_stmt(m, M_BLOCKS);
		queue_mig_bind_random(st, 1, QUEUE_MSGID_BYTES);
		sqlite3_bind_blob(st, 2, rcpt, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, prov, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, (int)take);
		sqlite3_bind_blob(st, 5, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
		queue_mig_bind_random(st, 6, ACK_ID_BYTES);
		if (queue_mig_step(st) == -1)
			return -1;
		n -= take;
	}
	return 0;
}

static int
queue_mig_set_surbs(struct queue_mig *m, sqlite3_int64 id, unsigned surbs)
{
	sqlite3_stmt *st = queue_mig_stmt(m, M_SET_SURBS);

	sqlite3_bind_int(st, 1, (int)surbs);
	sqlite3_bind_int64(st, 2, id);
	return queue_mig_step(st);
}

/* Message msgid (its rows deleted) is FAILED, of packets, saying why. */
static int
queue_mig_fail(struct queue *q, struct queue_mig *m,
    const uint8_t msgid[QUEUE_MSGID_BYTES], unsigned packets, const char *why)
{
	sqlite3_stmt *st = queue_mig_stmt(m, M_FAIL);
	struct queue_mig_failed *f;

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	sqlite3_bind_int(st, 3, (int)packets);
	sqlite3_bind_text(st, 4, why, -1, SQLITE_STATIC);
	if (queue_mig_step(st) == -1)
		return -1;
	if (m->n_failed == m->cap_failed) {
		m->cap_failed = m->cap_failed ? m->cap_failed * 2 : 8;
		m->failed = xreallocarray(m->failed, m->cap_failed, sizeof(*m->failed));
	}
	f = &m->failed[m->n_failed++];
	memcpy(f->msgid, msgid, QUEUE_MSGID_BYTES);
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	return 0;
}

static int
queue_mig_delete(struct queue_mig *m, const uint8_t msgid[QUEUE_MSGID_BYTES])
{
	sqlite3_stmt *st = queue_mig_stmt(m, M_DELETE);

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	return queue_mig_step(st);
}

/* One queued message as it was (its forward rows, in index order). */
struct queue_mig_msg {
	sqlite3_int64	 id;		/* its first row */
	uint8_t		 rcpt[QUEUE_KEY_BYTES];
	uint8_t		 prov[QUEUE_KEY_BYTES];
	uint8_t		 tag[QUEUE_TAG_BYTES];
	int		 tagged;
	unsigned	 surbs;
	int		 surbs_only;
	unsigned	 count;		/* frag_count: 0 for a whole one */
	unsigned	 rows;
	int		 complete;	/* fragments: every index, once */
	uint8_t		*bytes;		/* its rows' messages joined */
	size_t		 len;
};

/* Reads message msgid: 1 with *g, 0 if it has no row (or a damaged one,
 * which the outbox skips too), -1. */
static int
queue_mig_read(struct queue_mig *m, const uint8_t msgid[QUEUE_MSGID_BYTES],
    struct queue_mig_msg *g)
{
	sqlite3_stmt *st = queue_mig_stmt(m, M_ROWS);
	size_t cap = 0;
	int rc, ok = 1;

	memset(g, 0, sizeof(*g));
	g->complete = 1;
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 3);
		if (g->rows == 0) {
			g->id = sqlite3_column_int64(st, 0);
			g->count = (unsigned)sqlite3_column_int(st, 5);
			g->surbs = (unsigned)sqlite3_column_int(st, 7);
			g->surbs_only = sqlite3_column_int(st, 8) != 0;
			g->tagged = sqlite3_column_type(st, 6) != SQLITE_NULL;
			if ((size_t)sqlite3_column_bytes(st, 1) != QUEUE_KEY_BYTES ||
			    (size_t)sqlite3_column_bytes(st, 2) != QUEUE_KEY_BYTES ||
			    (g->tagged && (size_t)sqlite3_column_bytes(st, 6) !=
			    QUEUE_TAG_BYTES))
				ok = 0;
			else {
				memcpy(g->rcpt, sqlite3_column_blob(st, 1), QUEUE_KEY_BYTES);
				memcpy(g->prov, sqlite3_column_blob(st, 2), QUEUE_KEY_BYTES);
				if (g->tagged)
					memcpy(g->tag, sqlite3_column_blob(st, 6),
					    QUEUE_TAG_BYTES);
			}
		}
		if ((unsigned)sqlite3_column_int(st, 5) != g->count ||
		    (unsigned)sqlite3_column_int(st, 4) != g->rows)
			g->complete = 0;
		if (n > cap - g->len) {
			cap = (g->len + n) * 2;
			g->bytes = xrealloc(g->bytes, cap);
		}
		if (n > 0)
			memcpy(g->bytes + g->len, sqlite3_column_blob(st, 3), n);
		g->len += n;
		g->rows++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (g->rows != (g->count > 0 ? g->count : 1))
		g->complete = 0;
	return ok && g->rows > 0 ? 1 : 0;
}

/* Makes message msgid (a row of M_LIST) fit, or fails it. 0 or -1. */
static int
queue_mig_message(struct queue *q, struct queue_mig *m,
    const uint8_t msgid[QUEUE_MSGID_BYTES])
{
	struct queue_mig_msg g;
	char why[sizeof(((struct queue_status *)0)->reason)];
	int rc;

	if ((rc = queue_mig_read(m, msgid, &g)) != 1) {
		free(g.bytes);
		return rc;
	}
	rc = -1;
	if (g.count > 0 || !g.tagged) {
		/* in fragments, or whole and too large: cut again */
		if (queue_mig_delete(m, msgid) == -1)
			goto out;
		if (g.count > 0 && !g.complete)
			rc = queue_mig_fail(q, m, msgid, g.count, QUEUE_MIG_PARTLY_SENT);
		else if (!g.complete)	/* rows of one id that no nymd wrote */
			rc = queue_mig_fail(q, m, msgid, g.rows, "queued by an earlier "
			    "nymd in rows that do not make one message; send it again");
		else if (g.len > PAYLOAD_MAX_FRAGMENTED_BYTES) {
			snprintf(why, sizeof(why), "queued by an earlier nymd: %zu "
			    "bytes, more than the %zu that fragments carry now; send "
			    "it again in parts", g.len, PAYLOAD_MAX_FRAGMENTED_BYTES);
			rc = queue_mig_fail(q, m, msgid, g.count > 0 ? g.count : 1, why);
		} else if ((rc = queue_mig_cut(m, msgid, g.rcpt, g.prov, g.bytes,
		    g.len)) == 0)
			m->recut++;
	} else if (g.surbs_only) {
		/* blocks only: PAYLOAD_MAX_SURBS here, the rest in new packets */
		if (g.surbs <= PAYLOAD_MAX_SURBS)
			rc = 0;
		else if ((rc = queue_mig_set_surbs(m, g.id, PAYLOAD_MAX_SURBS)) == 0 &&
		    (rc = queue_mig_blocks(m, g.rcpt, g.prov, g.tag,
		    g.surbs - PAYLOAD_MAX_SURBS)) == 0)
			m->split++;
	} else if ((long)g.len > payload_tagged_room(0)) {
		/* no room for its tag: its blocks would be for nothing */
		sqlite3_stmt *st = queue_mig_stmt(m, M_DROP_BLOCKS);
		sqlite3_bind_blob(st, 1, g.tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
		snprintf(why, sizeof(why), "queued with reply blocks by an earlier "
		    "nymd: %zu bytes, more than the %ld a message with reply "
		    "blocks may have now; send it again", g.len,
		    payload_tagged_room(0));
		if (queue_mig_delete(m, msgid) == 0 && queue_mig_step(st) == 0)
			rc = queue_mig_fail(q, m, msgid, 1, why);
	} else {
		/* with blocks: as many as fit beside it, the rest apart */
		unsigned k = g.surbs < PAYLOAD_MAX_SURBS ? g.surbs : PAYLOAD_MAX_SURBS;
		while (k > 0 && payload_tagged_room(k) < (long)g.len)
			k--;
		if (k == g.surbs)
			rc = 0;
		else if ((rc = queue_mig_set_surbs(m, g.id, k)) == 0 &&
		    (rc = queue_mig_blocks(m, g.rcpt, g.prov, g.tag, g.surbs - k)) == 0)
			m->split++;
	}
out:
	free(g.bytes);
	return rc;
}

/* In the migration's transaction, after queue_migrate_4: every message
 * of M_LIST made to fit (or failed). 0 or -1. */
static int
queue_migrate_rows(struct queue *q, struct queue_mig *m)
{
	uint8_t (*ids)[QUEUE_MSGID_BYTES] = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	for (int i = 0; i < M_NSTMTS; i++)
		if (sqlite3_prepare_v2(q->db, queue_mig_sql[i], -1, &m->st[i],
		    NULL) != SQLITE_OK)
			return -1;
	/* The list first: the table changes under it. */
	st = queue_mig_stmt(m, M_LIST);
	sqlite3_bind_int(st, 1, PAYLOAD_MAX_SURBS);
	sqlite3_bind_int(st, 2, MESSAGE_MAX_ACKED_BYTES);
	sqlite3_bind_int(st, 3, SURB_BYTES);
	sqlite3_bind_int64(st, 4, payload_tagged_room(0));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(st, 1) != QUEUE_MSGID_BYTES)
			continue;	/* damaged: the outbox skips it too */
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		memcpy(ids[n++], sqlite3_column_blob(st, 1), QUEUE_MSGID_BYTES);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return -1;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = queue_mig_message(q, m, ids[i]);
	free(ids);
	return rc;
}

/* After the commit: each message failed, once; what was cut again. */
static void
queue_migrated(struct queue *q, const struct queue_mig *m)
{
	char hex[QUEUE_MSGID_BYTES * 2 + 1];

	for (size_t i = 0; i < m->n_failed; i++) {
		sodium_bin2hex(hex, sizeof(hex), m->failed[i].msgid, QUEUE_MSGID_BYTES);
		log_warnx("message %s failed: %s", hex, m->failed[i].reason);
	}
	q->counts.failed += m->n_failed;
	if (m->recut > 0 || m->split > 0)
		log_info("message store %s: to fit beside acknowledgement blocks, "
		    "queued messages cut again into fragments of %d bytes: %zu; "
		    "packets of reply blocks split: %zu", q->shown,
		    PAYLOAD_FRAGMENT_BYTES, m->recut, m->split);
}

static void
queue_mig_free(struct queue_mig *m)
{
	for (int i = 0; i < M_NSTMTS; i++)
		sqlite3_finalize(m->st[i]);
	free(m->failed);
}

/*
 * Creates the schema in a new file, migrates an older one in place (in
 * one transaction: a crash leaves it as it was), and refuses a newer one
 * or one that is not a store, which it leaves untouched: -2 with err, as
 * for a migration that failed (rolled back: left as it was).
 */
static int
queue_setup_schema(struct queue *q, char *err, size_t errlen)
{
	int version = queue_schema_version(q);

	if (version == QUEUE_SCHEMA_VERSION)
		return 0;
	if (version >= 0 && version < QUEUE_SCHEMA_VERSION) {
		char sql[sizeof(queue_schema) + sizeof(queue_migrate_1) +
		    sizeof(queue_migrate_2) + sizeof(queue_migrate_3) +
		    sizeof(queue_migrate_4)];
		struct queue_mig m = { 0 };
		int rc = -1;
		snprintf(sql, sizeof(sql), "%s%s%s%s%s", version == 0 ? queue_schema : "",
		    version == 1 ? queue_migrate_1 : "",
		    version <= 2 ? queue_migrate_2 : "",
		    version <= 3 ? queue_migrate_3 : "", queue_migrate_4);
		if (queue_exec(q, "BEGIN IMMEDIATE") == -1)
			return -1;
		if (queue_exec(q, sql) == 0 && queue_migrate_rows(q, &m) == 0 &&
		    queue_exec(q, queue_migrate_4_end) == 0 &&
		    queue_exec(q, "COMMIT") == 0)
			rc = 0;
		else {
			/* why, before the rollback says "not an error" */
			snprintf(err, errlen, "%s: cannot upgrade the message store "
			    "from schema version %d (left as it is): %s", q->path,
			    version, sqlite3_errmsg(q->db));
			queue_exec(q, "ROLLBACK");
			rc = -2;
		}
		if (rc == 0 && version > 0)
			log_info("message store %s: upgraded from schema version %d to %d",
			    q->shown, version, QUEUE_SCHEMA_VERSION);
		if (rc == 0)
			queue_migrated(q, &m);
		queue_mig_free(&m);
		return rc;
	}
	if (version > QUEUE_SCHEMA_VERSION)
		snprintf(err, errlen, "message store has schema version %d, newer "
		    "than this nymd's %d: left as it is", version, QUEUE_SCHEMA_VERSION);
	else
		snprintf(err, errlen, "not a message store of nymd (no schema "
		    "version): left as it is");
	return -2;
}

/*
 * rpcd works in its data directory, which its user may not be able to
 * reach from / (nymd started as root, a home in root's 0700 directories:
 * proc_home_path()). SQLite's unix VFS makes every name absolute from
 * getcwd() and follows symbolic links, which would lead it through those
 * directories: this VFS is the unix one but keeps a relative name
 * relative. It still names one file only (SQLite tells files apart by
 * device and inode), as rpcd never changes directory afterwards.
 */
#define QUEUE_VFS	"nymd-relative"

static sqlite3_vfs queue_vfs;
static sqlite3_vfs *queue_unix_vfs;

static int
queue_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	size_t len = strlen(name);

	if (name[0] == '/')
		return queue_unix_vfs->xFullPathname(queue_unix_vfs, name, n, out);
	if (n < 0 || len + 1 > (size_t)n)
		return SQLITE_CANTOPEN;
	memcpy(out, name, len + 1);
	return SQLITE_OK;
}

static int
queue_register_vfs(void)
{
	if (queue_unix_vfs != NULL)
		return 0;
	if ((queue_unix_vfs = sqlite3_vfs_find(NULL)) == NULL)
		return -1;
	queue_vfs = *queue_unix_vfs;
	queue_vfs.zName = QUEUE_VFS;
	queue_vfs.pNext = NULL;
	queue_vfs.xFullPathname = queue_full_pathname;
	if (sqlite3_vfs_register(&queue_vfs, 0) != SQLITE_OK) {
		queue_unix_vfs = NULL;
		return -1;
	}
	return 0;
}

void
queue_set_window(struct queue *q, uint32_t seconds, uint32_t max_ids,
    time_t (*now)(void))
{
	q->window = seconds > 0 ? seconds : 1;
	q->seen_max = max_ids > 0 ? max_ids : 1;
	q->now = now;
}

static int64_t
queue_now(const struct queue *q)
{
	return (int64_t)(q->now != NULL ? q->now() : time(NULL));
}

/* The time of the newest mark, which later marks never go below. */
static int
queue_load_last_mark(struct queue *q)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(at), 0) FROM received_marks",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		q->last_mark = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int
queue_open(struct queue **out, const char *path, const char *shown, char *err,
    size_t errlen)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	*out = NULL;
	q->reserve_fd = -1;
	q->record_fd = -1;
	q->max_message = QUEUE_DEFAULT_MAX_MESSAGE_BYTES;
	q->expiry = QUEUE_DEFAULT_EXPIRY_SECONDS;
	snprintf(q->path, sizeof(q->path), "%s", path);
	snprintf(q->shown, sizeof(q->shown), "%s", shown ? shown : path);
	if (queue_register_vfs() == -1 ||
	    sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, QUEUE_VFS) != SQLITE_OK)
		goto fail;
	/* SQLite opens the store read-only when it cannot open it for
	 * writing (EIO, EROFS): said with the reason, not as a failed write
	 * later. */
	if (sqlite3_db_readonly(q->db, "main") == 1) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		char why[128];
		snprintf(why, sizeof(why), "%s", fd == -1 ? strerror(errno) :
		    "SQLite opened it read-only");
		why[0] = (char)tolower((unsigned char)why[0]);
		if (fd != -1)
			close(fd);
		snprintf(err, errlen, "%s: cannot be opened for writing: %s", path, why);
		queue_close(q);
		return -1;
	}
	sqlite3_busy_timeout(q->db, QUEUE_BUSY_TIMEOUT_MS);
	/* WAL with synchronous=FULL: a commit is on disk before `send` is
	 * answered or a delivery acknowledged. */
	/* temp_store=MEMORY: rpcd may open files in its data directory
	 * only (Landlock), so no temporary files in /var/tmp. */
	sqlite3_extended_result_codes(q->db, 1);
	if (queue_exec(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;") == -1)
		goto fail;
	/* The WAL's size stays bounded (see QUEUE_RESERVE_BYTES). */
	sqlite3_wal_autocheckpoint(q->db, QUEUE_CHECKPOINT_PAGES);
	char pragma[64];
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_size_limit=%d",
	    QUEUE_WAL_LIMIT_BYTES);
	if (queue_exec(q, pragma) == -1 ||
	    sqlite3_create_function(q->db, "nymd_randomblob", 1, SQLITE_UTF8, NULL,
	    queue_sql_random, NULL, NULL) != SQLITE_OK)
		goto fail;
	switch (queue_setup_schema(q, err, errlen)) {
	case -1:
		goto fail;
	case -2:
		queue_close(q);
		return -1;
	}
	queue_set_window(q, QUEUE_DEFAULT_WINDOW_SECONDS, QUEUE_SEEN_MAX, NULL);
	if (queue_load_last_mark(q) == -1)
		goto fail;
	for (int i = 0; i < Q_NSTMTS; i++)
		if (sqlite3_prepare_v3(q->db, queue_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &q->stmt[i], NULL) != SQLITE_OK)
			goto fail;
	if (queue_open_reserve(q) == -1) {
		snprintf(err, errlen, "%s%s: %s", path, QUEUE_RESERVE_SUFFIX,
		    strerror(errno));
		queue_close(q);
		return -1;
	}
	if (queue_open_record(q) == -1) {
		snprintf(err, errlen, "%s%s: %s", path, QUEUE_RETIRED_SUFFIX,
		    strerror(errno));
		queue_close(q);
		return -1;
	}
	/* Statuses of messages ended long ago (and at each expiry check). */
	sqlite3_stmt *prune = queue_stmt(q, Q_PRUNE_STATUS);
	sqlite3_bind_int64(prune, 1, queue_now(q) - (int64_t)QUEUE_STATUS_KEEP_SECONDS);
	if (sqlite3_step(prune) != SQLITE_DONE)
		log_warnx("message store: cannot forget old statuses: %s",
		    sqlite3_errmsg(q->db));
	sqlite3_reset(prune);
	/* What an earlier run could not delete, deleted now if it can be. */
	(void)queue_retry(q);
	*out = q;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, q->db ? sqlite3_errmsg(q->db) : "cannot open");
	queue_close(q);
	return -1;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < Q_NSTMTS; i++)
		sqlite3_finalize(q->stmt[i]);
	sqlite3_close(q->db);
	if (q->reserve_fd != -1)
		close(q->reserve_fd);
	if (q->record_fd != -1)
		close(q->record_fd);
	free(q->retired);
	free(q->changed);
	free(q);
}

static sqlite3_stmt *
queue_stmt(struct queue *q, enum queue_stmt s)
{
	sqlite3_reset(q->stmt[s]);
	sqlite3_clear_bindings(q->stmt[s]);
	return q->stmt[s];
}

/* Runs a write; its result code, SQLITE_DONE when it worked. */
static int
queue_step(struct queue *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		queue_failed(q, rc);
	return rc;
}

static int
queue_done(struct queue *q, sqlite3_stmt *st)
{
	return queue_step(q, st) == SQLITE_DONE ? 0 : -1;
}

static int queue_begin(struct queue *);
static void queue_rollback(struct queue *);
static int queue_commit(struct queue *);

/* A fresh ack id (docs/acks.md) for a forward row, bound at col. */
static void
queue_bind_ack(sqlite3_stmt *st, int col)
{
	uint8_t ack[ACK_ID_BYTES];

	randombytes_buf(ack, sizeof(ack));
	sqlite3_bind_blob(st, col, ack, sizeof(ack), SQLITE_TRANSIENT);
}

/* Message msgid will be told to the status hook after the commit. */
static void
queue_changed(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES])
{
	for (size_t i = 0; i < q->n_changed; i++)
		if (memcmp(q->changed[i], msgid, QUEUE_MSGID_BYTES) == 0)
			return;
	if (q->n_changed == q->cap_changed) {
		size_t cap = q->cap_changed ? q->cap_changed * 2 : 16;
		q->changed = xreallocarray(q->changed, cap, sizeof(*q->changed));
		q->cap_changed = cap;
	}
	memcpy(q->changed[q->n_changed++], msgid, QUEUE_MSGID_BYTES);
}

/* In the open transaction: message msgid has one more row (a new one is
 * QUEUED, and expires q->expiry seconds from now). 0 or -1. */
static int
queue_message_add(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_MESSAGE_ADD);

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	sqlite3_bind_int64(st, 3, q->expiry);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	queue_changed(q, msgid);
	return 0;
}

/* The fragments of a message, each a row, in one transaction. */
static int
queue_enqueue_fragments(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t recipient[QUEUE_KEY_BYTES], const uint8_t provider[QUEUE_KEY_BYTES],
    const uint8_t *msg, size_t len, size_t count, uint64_t *first)
{
	if (queue_begin(q) == -1)
		return -1;
	for (size_t i = 0; i < count; i++) {
		size_t off = i * PAYLOAD_FRAGMENT_BYTES;
		size_t n = len - off < PAYLOAD_FRAGMENT_BYTES ? len - off :
		    PAYLOAD_FRAGMENT_BYTES;
		sqlite3_stmt *st = queue_stmt(q, Q_ENQUEUE_FRAGMENT);
		sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, recipient, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, provider, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, msg + off, (int)n, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (int)i);
		sqlite3_bind_int(st, 6, (int)count);
		queue_bind_ack(st, 7);
		if (queue_step(q, st) != SQLITE_DONE) {
			queue_rollback(q);
			return -1;
		}
		/* the row's id, before the upsert into messages */
		if (i == 0)
			*first = (uint64_t)sqlite3_last_insert_rowid(q->db);
		if (queue_message_add(q, msgid) == -1) {
			queue_rollback(q);
			return -1;
		}
	}
	if (queue_commit(q) == -1)
		return -1;
	q->counts.enqueued++;
	return 0;
}

int
queue_enqueue(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t recipient[QUEUE_KEY_BYTES], const uint8_t provider[QUEUE_KEY_BYTES],
    const uint8_t *msg, size_t len, uint64_t *id)
{
	sqlite3_stmt *st;
	size_t count = payload_fragment_count(len);

	if (len > MESSAGE_MAX_BYTES && count == 0)
		return -1;	/* over PAYLOAD_MAX_FRAGMENTED_BYTES */
	/* Without the whole reserve, a message accepted now might not be
	 * retired once delivered: refused until there is room again. */
	if (queue_room(q) == -1) {
		queue_failed(q, SQLITE_FULL);
		return -1;
	}
	if (count > 0)
		return queue_enqueue_fragments(q, msgid, recipient, provider, msg,
		    len, count, id);
	if (queue_begin(q) == -1)
		return -1;
	st = queue_stmt(q, Q_ENQUEUE);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, recipient, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, provider, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	queue_bind_ack(st, 5);
	if (queue_step(q, st) != SQLITE_DONE) {
		queue_rollback(q);
		return -1;
	}
	*id = (uint64_t)sqlite3_last_insert_rowid(q->db);
	if (queue_message_add(q, msgid) == -1) {
		queue_rollback(q);
		return -1;
	}
	if (queue_commit(q) == -1)
		return -1;
	q->counts.enqueued++;
	return 0;
}

static int
queue_blob(sqlite3_stmt *st, int col, const uint8_t **p, size_t want)
{
	*p = sqlite3_column_blob(st, col);
	return (size_t)sqlite3_column_bytes(st, col) == want ? 0 : -1;
}

/* cb for each row of st, but those delivered and kept apart; the count. */
static long
queue_outgoing_rows(struct queue *q, sqlite3_stmt *st,
    void (*cb)(void *, const struct queue_outgoing *), void *arg)
{
	long n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct queue_outgoing o;
		o.id = (uint64_t)sqlite3_column_int64(st, 0);
		if (queue_is_retired(q, o.id))
			continue;	/* delivered: never sent again */
		if (queue_blob(st, 1, &o.msgid, QUEUE_MSGID_BYTES) == -1 ||
		    queue_blob(st, 2, &o.recipient, QUEUE_KEY_BYTES) == -1 ||
		    queue_blob(st, 3, &o.provider, QUEUE_KEY_BYTES) == -1) {
			log_warnx("message store: queued message %llu is corrupt; skipped",
			    (unsigned long long)o.id);
			continue;
		}
		o.message = sqlite3_column_blob(st, 4);
		o.len = (size_t)sqlite3_column_bytes(st, 4);
		o.surbs = (unsigned)sqlite3_column_int(st, 5);
		o.surbs_only = sqlite3_column_int(st, 6) != 0;
		o.frag_index = (unsigned)sqlite3_column_int(st, 9);
		o.frag_count = (unsigned)sqlite3_column_int(st, 10);
		o.attempts = (unsigned)sqlite3_column_int(st, 12);
		o.with_provider = sqlite3_column_int(st, 13) == 1;
		o.tag = NULL;
		o.surb = NULL;
		o.ack_id = NULL;
		if ((sqlite3_column_type(st, 7) != SQLITE_NULL &&
		    queue_blob(st, 7, &o.tag, QUEUE_TAG_BYTES) == -1) ||
		    (sqlite3_column_type(st, 8) != SQLITE_NULL &&
		    queue_blob(st, 8, &o.surb, QUEUE_SURB_BYTES) == -1) ||
		    (sqlite3_column_type(st, 11) != SQLITE_NULL &&
		    queue_blob(st, 11, &o.ack_id, ACK_ID_BYTES) == -1)) {
			log_warnx("message store: queued message %llu is corrupt; skipped",
			    (unsigned long long)o.id);
			continue;
		}
		cb(arg, &o);
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : -1;
}

int
queue_each_outgoing(struct queue *q, void (*cb)(void *, const struct queue_outgoing *),
    void *arg)
{
	return queue_outgoing_rows(q, queue_stmt(q, Q_OUTGOING), cb, arg) == -1 ? -1 : 0;
}

long
queue_outgoing_one(struct queue *q, uint64_t id,
    void (*cb)(void *, const struct queue_outgoing *), void *arg)
{
	sqlite3_stmt *st = queue_stmt(q, Q_OUTGOING_ONE);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return queue_outgoing_rows(q, st, cb, arg);
}

/*
 * Runs fn, a change, in one transaction, committed if fn returns
 * SQLITE_DONE; the status hook hears after the commit. The result code:
 * SQLITE_DONE, or the failure (rolled back).
 */
static int
queue_txn(struct queue *q, int (*fn)(struct queue *, void *), void *arg)
{
	int rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		queue_failed(q, rc);
		return rc;
	}
	if ((rc = fn(q, arg)) == SQLITE_DONE) {
		if ((rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK) {
			queue_succeeded(q);
			queue_notify(q);
			return SQLITE_DONE;
		}
		queue_failed(q, rc);
	}
	queue_rollback(q);
	return rc;
}

/*
 * queue_txn() for a change that retires what was delivered (a reply
 * sent, a row acknowledged): in WAL mode even a delete needs room in the
 * WAL (and the checkpoint before it may grow the database), so on a full
 * disk the reserve is given back, the WAL checkpointed and cut to
 * nothing, and the change tried once more (docs/ipc.md, "A full disk").
 * The reserve grows back once the queue has drained (or when a send asks
 * for it), not at once: the next deletes need the room.
 */
static int
queue_retiring(struct queue *q, int (*fn)(struct queue *, void *), void *arg)
{
	int rc = queue_txn(q, fn, arg);

	if ((rc & 0xff) == SQLITE_FULL) {
		queue_release_reserve(q);
		(void)sqlite3_wal_checkpoint_v2(q->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		rc = queue_txn(q, fn, arg);
	}
	return rc;
}

/* In the open transaction: the message id of row id, and whether it is
 * acknowledged (a forward row: 1) or not (a reply: 0); 1 if there is no
 * such row, 0, or the failure. */
static int
queue_row_of(struct queue *q, uint64_t id, uint8_t msgid[QUEUE_MSGID_BYTES],
    int *forward, int *first)
{
	sqlite3_stmt *st = queue_stmt(q, Q_ROW_OF);
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == QUEUE_MSGID_BYTES) {
		memcpy(msgid, sqlite3_column_blob(st, 0), QUEUE_MSGID_BYTES);
		*forward = sqlite3_column_int(st, 1);
		if (first != NULL)
			*first = sqlite3_column_int(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 1 : rc;
}

struct queue_delete_arg {
	uint64_t	 id;
};

/* Deletes row id; a reply's message is SENT in the same transaction. */
static int
queue_delete_fn(struct queue *q, void *arg)
{
	const struct queue_delete_arg *a = arg;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	sqlite3_stmt *st;
	int forward = 1, rc;

	if ((rc = queue_row_of(q, a->id, msgid, &forward, NULL)) == 1)
		return SQLITE_DONE;	/* gone already */
	if (rc != 0)
		return rc;
	st = queue_stmt(q, Q_SENT);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a->id);
	if ((rc = queue_step(q, st)) != SQLITE_DONE || forward)
		return rc;
	st = queue_stmt(q, Q_MESSAGE_SENT);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	if ((rc = queue_step(q, st)) == SQLITE_DONE && sqlite3_changes(q->db) > 0)
		queue_changed(q, msgid);
	return rc;
}

/* The queue is empty: the WAL is given back to the file system. */
static void
queue_drained(struct queue *q)
{
	if (q->n_retired > 0 || queue_outgoing_count(q) > 0)
		return;
	if (sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL) != SQLITE_OK)
		log_debug("message store: checkpoint: %s", sqlite3_errmsg(q->db));
	(void)queue_room(q);
}

/*
 * Retires a delivered message. A delete in WAL mode needs room in the WAL
 * (and the checkpoint before it may grow the database): on a full disk
 * the reserve is given back, the WAL checkpointed and cut to nothing, and
 * the delete tried again. If it still fails, the message is kept apart in
 * memory (never handed to netd again) and queue_retry() deletes it later.
 */
int
queue_sent(struct queue *q, uint64_t id)
{
	struct queue_delete_arg a = { id };
	int rc = queue_retiring(q, queue_delete_fn, &a);

	if (rc != SQLITE_DONE) {
		queue_add_retired(q, id);
		return -1;
	}
	queue_forget_retired(q, id);
	queue_drained(q);
	q->counts.sent++;
	return 0;
}

size_t
queue_retry(struct queue *q)
{
	uint64_t id;

	for (size_t i = q->n_retired; i > 0; i--) {
		id = q->retired[i - 1];
		if (queue_sent(q, id) == -1)
			break;
	}
	if (q->n_retired == 0)
		(void)queue_room(q);
	return q->n_retired;
}

size_t
queue_retired_count(const struct queue *q)
{
	return q->n_retired;
}

/*
 * Message seq arrived now: a mark, if the last is older than a
 * QUEUE_MARKS_PER_WINDOW-th of the window. Its time never goes below the
 * last mark's (a clock set back keeps ids longer, never shorter). Without
 * it (a failed write) the next mark covers seq: kept longer, not lost.
 */
static void
queue_add_mark(struct queue *q, sqlite3_int64 seq)
{
	int64_t now = queue_now(q), step = q->window / QUEUE_MARKS_PER_WINDOW;
	sqlite3_stmt *st;

	if (step < 1)
		step = 1;
	if (q->last_mark != 0 && now < q->last_mark + step)
		return;
	if (now < q->last_mark)
		now = q->last_mark;
	st = queue_stmt(q, Q_ADD_MARK);
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_debug("message store: cannot add a mark: %s", sqlite3_errmsg(q->db));
		sqlite3_reset(st);
		return;
	}
	sqlite3_reset(st);
	q->last_mark = now;
}

int
queue_receive(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t *msg, size_t len)
{
	sqlite3_stmt *st = queue_stmt(q, Q_RECEIVE);

	/* a plain message: one statement, its own transaction */

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	if (queue_done(q, st) == -1)
		return -1;
	queue_succeeded(q);
	if (sqlite3_changes(q->db) == 0) {
		q->counts.duplicates++;
		return 1;
	}
	queue_add_mark(q, sqlite3_last_insert_rowid(q->db));
	q->counts.received++;
	return 0;
}

/*
 * Forgets, in the open transaction, the ids of fetched messages that
 * arrived more than the window ago, then the oldest beyond seen_max
 * (said once, until the window alone keeps them under it again: the
 * window forgets ids and the cap none).
 * Unfetched messages are never forgotten. SQLITE_DONE or the error.
 */
static int
queue_prune(struct queue *q)
{
	int64_t cutoff = queue_now(q) - (int64_t)q->window;
	sqlite3_stmt *st;
	int rc, expired, capped;

	st = queue_stmt(q, Q_PRUNE_OLD);
	sqlite3_bind_int64(st, 1, cutoff);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	expired = sqlite3_changes(q->db) > 0;
	st = queue_stmt(q, Q_PRUNE_MARKS);
	sqlite3_bind_int64(st, 1, cutoff);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	st = queue_stmt(q, Q_PRUNE_CAP);
	sqlite3_bind_int64(st, 1, q->seen_max);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	capped = sqlite3_changes(q->db) > 0;
	if (capped && !q->capped) {
		log_warnx("message store: %u message ids remembered, the most it "
		    "keeps; the oldest are forgotten before their %u s window "
		    "ends, and a provider could deliver those messages again",
		    q->seen_max, q->window);
		q->capped = 1;
	} else if (!capped && expired && q->capped) {
		log_info("message store: message ids are kept for their whole "
		    "%u s window again", q->window);
		q->capped = 0;
	}
	return SQLITE_DONE;
}

/* Marks the messages up to seq last fetched, in the open transaction. */
static int
queue_mark(struct queue *q, sqlite3_int64 last)
{
	sqlite3_stmt *st = queue_stmt(q, Q_MARK);
	int rc;

	sqlite3_bind_int64(st, 1, last);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	if ((rc = queue_prune(q)) != SQLITE_DONE)
		return rc;
	if ((rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		queue_failed(q, rc);
	return rc == SQLITE_OK ? SQLITE_DONE : rc;
}

long
queue_fetch(struct queue *q, int (*cb)(void *, const struct queue_received *),
    int (*done)(void *), void *arg)
{
	sqlite3_stmt *st;
	sqlite3_int64 last = 0;
	long n = 0;
	int rc;

	if (queue_exec(q, "BEGIN IMMEDIATE") == -1)
		return -1;
	st = queue_stmt(q, Q_FETCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct queue_received r;
		r.message = sqlite3_column_blob(st, 1);
		r.len = (size_t)sqlite3_column_bytes(st, 1);
		r.msgid = sqlite3_column_blob(st, 2);
		if ((size_t)sqlite3_column_bytes(st, 2) != QUEUE_MSGID_BYTES)
			r.msgid = NULL;
		r.tag = sqlite3_column_blob(st, 3);
		if ((size_t)sqlite3_column_bytes(st, 3) != QUEUE_TAG_BYTES)
			r.tag = NULL;
		int taken = cb(arg, &r);
		if (taken == 1) {	/* the response is full: the rest later */
			rc = SQLITE_DONE;
			break;
		}
		if (taken == -1)
			break;
		last = sqlite3_column_int64(st, 0);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (rc == SQLITE_ROW || done(arg) == -1) {
		/* the caller's failure, said by the caller */
		queue_exec(q, "ROLLBACK");
		return -1;
	}
	if (n == 0) {
		queue_exec(q, "ROLLBACK");
		return 0;
	}
	/* Marking needs room in the WAL: on a full disk, once more after
	 * giving the reserve back (the rows up to last are the same: this
	 * connection is the only writer). */
	rc = queue_mark(q, last);
	if ((rc & 0xff) == SQLITE_FULL) {
		if (!sqlite3_get_autocommit(q->db))
			queue_exec(q, "ROLLBACK");
		queue_release_reserve(q);
		(void)sqlite3_wal_checkpoint_v2(q->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		rc = queue_exec(q, "BEGIN IMMEDIATE") == -1 ? SQLITE_ERROR :
		    queue_mark(q, last);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	q->counts.fetched += (uint64_t)n;
	return n;
fail:
	log_warnx("message store: fetch failed: %s", sqlite3_errmsg(q->db));
	if (!sqlite3_get_autocommit(q->db))
		queue_exec(q, "ROLLBACK");
	return -1;
}

size_t
queue_outgoing_count(struct queue *q)
{
	sqlite3_stmt *st = queue_stmt(q, Q_COUNT);
	size_t n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

const struct queue_counts *
queue_counts(const struct queue *q)
{
	return &q->counts;
}

/*
 * Reply blocks (docs/replies.md). Each change below is one transaction:
 * a message and its packets of blocks are queued together, a received
 * message and its blocks stored together, a block taken and its reply
 * queued together, a reply stored and its block's keys deleted together,
 * so that a crash at any point uses no block twice and loses none.
 */
_Static_assert(QUEUE_SURB_BYTES == SURB_BYTES, "a reply block's size");
_Static_assert(QUEUE_ACK_ID_BYTES == ACK_ID_BYTES, "an ack id's size");
_Static_assert(QUEUE_SEALED_BYTES == MESSAGE_SEALED_KEYS_BYTES, "sealed keys' size");

static int
queue_begin(struct queue *q)
{
	int rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		queue_failed(q, rc);
		return -1;
	}
	return 0;
}

static void
queue_rollback(struct queue *q)
{
	if (!sqlite3_get_autocommit(q->db))
		(void)queue_exec(q, "ROLLBACK");
	q->n_changed = 0;
}

/* The status hook hears of every message the commit changed. */
static void
queue_notify(struct queue *q)
{
	struct queue_status st;
	size_t n = q->n_changed;

	q->n_changed = 0;
	for (size_t i = 0; i < n && q->status_cb != NULL; i++)
		if (queue_status(q, q->changed[i], &st) == 0)
			q->status_cb(q->status_arg, &st);
}

static int
queue_commit(struct queue *q)
{
	int rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		queue_failed(q, rc);
		queue_rollback(q);
		return -1;
	}
	queue_succeeded(q);
	queue_notify(q);
	return 0;
}

/* Deletes, in the open transaction, what expired by now. */
static int
queue_expire(struct queue *q, enum queue_stmt which)
{
	sqlite3_stmt *st = queue_stmt(q, which);

	sqlite3_bind_int64(st, 1, queue_now(q));
	return queue_step(q, st) == SQLITE_DONE ? 0 : -1;
}

int
queue_enqueue_rows(struct queue *q, const uint8_t recipient[QUEUE_KEY_BYTES],
    const uint8_t provider[QUEUE_KEY_BYTES], const uint8_t tag[QUEUE_TAG_BYTES],
    const struct queue_row *rows, size_t n, uint64_t *first)
{
	if (n == 0)
		return -1;
	if (queue_room(q) == -1) {
		queue_failed(q, SQLITE_FULL);
		return -1;
	}
	if (queue_begin(q) == -1)
		return -1;
	unsigned total = 0;
	for (size_t i = 0; i < n; i++)
		total += rows[i].surbs;
	sqlite3_stmt *tst = queue_stmt(q, Q_PUT_TAG);
	sqlite3_bind_blob(tst, 1, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(tst, 2, recipient, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(tst, 3, provider, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(tst, 4, (int)total);
	sqlite3_bind_int64(tst, 5, queue_now(q));
	if (queue_step(q, tst) != SQLITE_DONE) {
		queue_rollback(q);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = queue_stmt(q, Q_ENQUEUE_ROW);
		sqlite3_bind_blob(st, 1, rows[i].msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, recipient, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, provider, QUEUE_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, rows[i].len ? rows[i].message : (const uint8_t *)"",
		    (int)rows[i].len, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (int)rows[i].surbs);
		sqlite3_bind_int(st, 6, rows[i].surbs_only ? 1 : 0);
		sqlite3_bind_blob(st, 7, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
		queue_bind_ack(st, 8);
		if (queue_step(q, st) != SQLITE_DONE) {
			queue_rollback(q);
			return -1;
		}
		/* the row's id, before the upsert into messages */
		if (i == 0)
			*first = (uint64_t)sqlite3_last_insert_rowid(q->db);
		if (queue_message_add(q, rows[i].msgid) == -1) {
			queue_rollback(q);
			return -1;
		}
	}
	if (queue_commit(q) == -1)
		return -1;
	q->counts.enqueued++;
	return 0;
}

int
queue_put_keys(struct queue *q, uint64_t id, const struct queue_keys *keys, size_t n)
{
	sqlite3_stmt *st;

	if (queue_begin(q) == -1)
		return -1;
	if (queue_expire(q, Q_EXPIRE_KEYS) == -1)
		goto fail;
	st = queue_stmt(q, Q_EXPIRE_TAGS);
	sqlite3_bind_int64(st, 1, queue_now(q) - QUEUE_TAG_KEEP_SECONDS);
	if (queue_step(q, st) != SQLITE_DONE)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		st = queue_stmt(q, Q_PUT_KEYS);
		sqlite3_bind_blob(st, 1, keys[i].id, QUEUE_SURB_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, keys[i].sealed, QUEUE_SEALED_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, keys[i].expires);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)id);
		if (queue_step(q, st) != SQLITE_DONE)
			goto fail;
	}
	return queue_commit(q);
fail:
	queue_rollback(q);
	return -1;
}

int
queue_get_keys(struct queue *q, const uint8_t id[QUEUE_SURB_ID_BYTES],
    uint8_t sealed[QUEUE_SEALED_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_GET_KEYS);
	int rc, found = 1;

	sqlite3_bind_blob(st, 1, id, QUEUE_SURB_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == QUEUE_SEALED_BYTES) {
		memcpy(sealed, sqlite3_column_blob(st, 0), QUEUE_SEALED_BYTES);
		found = 0;
	} else if (rc == SQLITE_ROW)
		log_warnx("message store: the kept keys of a reply block are corrupt");
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : -1;
}

/* A reply through our block id: its keys go (1 if they were not there). */
static int
queue_use_keys(struct queue *q, const uint8_t id[QUEUE_SURB_ID_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_USE_KEYS);

	sqlite3_bind_blob(st, 1, id, QUEUE_SURB_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	return sqlite3_changes(q->db) == 0 ? 1 : 0;
}

static int
queue_put_blocks(struct queue *q, const struct queue_in *in)
{
	for (size_t i = 0; i < in->n_surbs; i++) {
		sqlite3_stmt *st = queue_stmt(q, Q_PUT_BLOCK);
		sqlite3_bind_blob(st, 1, in->tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, in->surbs + i * QUEUE_SURB_BYTES, QUEUE_SURB_BYTES,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, in->expires[i]);
		if (queue_step(q, st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/*
 * In the open transaction: the tag of our block id (which a reply came
 * through), into tag; 0, 1 if the block is unknown, used or expired, -1.
 */
static int
queue_keys_tag(struct queue *q, const uint8_t id[QUEUE_SURB_ID_BYTES],
    uint8_t tag[QUEUE_TAG_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_KEYS_TAG);
	int rc, found = 1;

	sqlite3_bind_blob(st, 1, id, QUEUE_SURB_ID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == QUEUE_TAG_BYTES) {
		memcpy(tag, sqlite3_column_blob(st, 0), QUEUE_TAG_BYTES);
		found = 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : -1;
}

/*
 * In the open transaction: queues up to more blocks for tag's recipient,
 * in packets of blocks only, as long as the tag has had fewer than
 * QUEUE_MAX_GRANT in all. The count queued, or -1.
 */
static long
queue_grant(struct queue *q, const uint8_t tag[QUEUE_TAG_BYTES], unsigned more)
{
	sqlite3_stmt *st = queue_stmt(q, Q_GRANTED);
	long granted = -1, n;
	int rc;

	sqlite3_bind_blob(st, 1, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		granted = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;	/* a tag we no longer know */
	n = granted >= QUEUE_MAX_GRANT ? 0 : QUEUE_MAX_GRANT - granted;
	if (n > (long)more)
		n = more;
	for (long left = n; left > 0; left -= QUEUE_SURBS_PER_PACKET) {
		uint8_t msgid[QUEUE_MSGID_BYTES];
		randombytes_buf(msgid, sizeof(msgid));
		st = queue_stmt(q, Q_ENQUEUE_MORE);
		sqlite3_bind_blob(st, 1, msgid, sizeof(msgid), SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, left > QUEUE_SURBS_PER_PACKET ?
		    QUEUE_SURBS_PER_PACKET : (int)left);
		sqlite3_bind_blob(st, 3, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
		queue_bind_ack(st, 4);
		if (queue_step(q, st) != SQLITE_DONE ||
		    (sqlite3_changes(q->db) > 0 && queue_message_add(q, msgid) == -1))
			return -1;
	}
	st = queue_stmt(q, Q_ADD_GRANTED);
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_blob(st, 2, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	return queue_step(q, st) == SQLITE_DONE ? n : -1;
}

/*
 * A replier asks, through our block in->surb_id, for more blocks (in the
 * open transaction, which this ends): the block's keys go, and the blocks
 * are queued to the tag's recipient, in one commit. 0, 1 (the block is
 * unknown, used or expired: nothing is sent), -1.
 */
static int
queue_answer_more(struct queue *q, const struct queue_in *in)
{
	uint8_t tag[QUEUE_TAG_BYTES];
	long n = 0;
	int rc;

	if ((rc = queue_keys_tag(q, in->surb_id, tag)) == 0 &&
	    (rc = queue_use_keys(q, in->surb_id)) == 0 &&
	    (n = queue_grant(q, tag, in->more)) >= 0 && queue_commit(q) == 0) {
		if (n < (long)in->more)
			log_info("a replier asked for %u more reply blocks, %ld sent: "
			    "the tag has had its %d", in->more, n, QUEUE_MAX_GRANT);
		return 0;
	}
	queue_rollback(q);
	return rc == 1 ? 1 : -1;
}

int
queue_receive_in(struct queue *q, const struct queue_in *in)
{
	sqlite3_stmt *st;
	sqlite3_int64 seq;
	int rc;

	if ((in->n_surbs > 0 || in->surbs_only) && in->tag == NULL)
		return -1;
	if (queue_begin(q) == -1)
		return -1;
	if (in->surb_id != NULL && in->more > 0)
		return queue_answer_more(q, in);
	if (in->surb_id != NULL && (rc = queue_use_keys(q, in->surb_id)) != 0)
		goto out;	/* 1: used or expired, or -1 */
	st = queue_stmt(q, Q_RECEIVE_TAGGED);
	sqlite3_bind_blob(st, 1, in->msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if (in->surbs_only)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_blob(st, 2, in->len ? in->message : (const uint8_t *)"",
		    (int)in->len, SQLITE_STATIC);
	if (in->tag != NULL)
		sqlite3_bind_blob(st, 3, in->tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, in->surbs_only ? 1 : 0);
	rc = -1;
	if (queue_step(q, st) != SQLITE_DONE)
		goto out;
	if (sqlite3_changes(q->db) == 0) {
		rc = 1;		/* a duplicate: its blocks are stored already */
		goto out;
	}
	seq = sqlite3_last_insert_rowid(q->db);
	if (queue_put_blocks(q, in) == -1 || queue_commit(q) == -1)
		goto out;
	queue_add_mark(q, seq);
	if (!in->surbs_only)
		q->counts.received++;
	return 0;
out:
	queue_rollback(q);
	if (rc == 1) {
		queue_succeeded(q);
		q->counts.duplicates++;
	}
	return rc;
}

/*
 * In the open transaction: takes tag's oldest unexpired block into surb
 * and deletes it. 0, 1 if there is none, -1.
 */
static int
queue_take_block(struct queue *q, const uint8_t tag[QUEUE_TAG_BYTES],
    uint8_t surb[QUEUE_SURB_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_NEXT_BLOCK);
	sqlite3_int64 seq;
	int rc;

	sqlite3_bind_blob(st, 1, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || (size_t)sqlite3_column_bytes(st, 1) != QUEUE_SURB_BYTES) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 1 : -1;
	}
	seq = sqlite3_column_int64(st, 0);
	memcpy(surb, sqlite3_column_blob(st, 1), QUEUE_SURB_BYTES);
	sqlite3_reset(st);
	st = queue_stmt(q, Q_USE_BLOCK);
	sqlite3_bind_int64(st, 1, seq);
	return queue_step(q, st) == SQLITE_DONE ? 0 : -1;
}

/*
 * In the open transaction, after a reply: when it left the tag exactly
 * QUEUE_MORE_AT blocks, one of them asks the creator for QUEUE_MORE_ASK
 * more (docs/replies.md, "More blocks"). 0 or -1.
 */
static int
queue_ask_more(struct queue *q, const uint8_t tag[QUEUE_TAG_BYTES])
{
	uint8_t surb[QUEUE_SURB_BYTES], msgid[QUEUE_MSGID_BYTES];
	sqlite3_stmt *st;

	if (queue_blocks_left(q, tag) != QUEUE_MORE_AT)
		return 0;
	if (queue_take_block(q, tag, surb) != 0)
		return -1;
	randombytes_buf(msgid, sizeof(msgid));
	st = queue_stmt(q, Q_ENQUEUE_ASK);
	sqlite3_bind_blob(st, 1, msgid, sizeof(msgid), SQLITE_STATIC);
	sqlite3_bind_int(st, 2, QUEUE_MORE_ASK);
	sqlite3_bind_blob(st, 3, surb, sizeof(surb), SQLITE_STATIC);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	return queue_message_add(q, msgid);
}

int
queue_reply(struct queue *q, const uint8_t tag[QUEUE_TAG_BYTES],
    const uint8_t msgid[QUEUE_MSGID_BYTES], const uint8_t *msg, size_t len,
    uint64_t *id)
{
	uint8_t surb[QUEUE_SURB_BYTES];
	sqlite3_stmt *st;
	int rc;

	if (queue_room(q) == -1) {
		queue_failed(q, SQLITE_FULL);
		return -1;
	}
	if (queue_begin(q) == -1)
		return -1;
	if (queue_expire(q, Q_EXPIRE_BLOCKS) == -1 ||
	    (rc = queue_take_block(q, tag, surb)) == -1)
		goto fail;
	if (rc == 1) {
		queue_rollback(q);
		return 1;
	}
	st = queue_stmt(q, Q_ENQUEUE_REPLY);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, surb, sizeof(surb), SQLITE_STATIC);
	if (queue_step(q, st) != SQLITE_DONE)
		goto fail;
	*id = (uint64_t)sqlite3_last_insert_rowid(q->db);
	if (queue_message_add(q, msgid) == -1 || queue_ask_more(q, tag) == -1)
		goto fail;
	if (queue_commit(q) == -1)
		return -1;
	q->counts.enqueued++;
	return 0;
fail:
	queue_rollback(q);
	return -1;
}

long
queue_blocks_left(struct queue *q, const uint8_t tag[QUEUE_TAG_BYTES])
{
	sqlite3_stmt *st = queue_stmt(q, Q_COUNT_BLOCKS);
	long n = -1;

	sqlite3_bind_blob(st, 1, tag, QUEUE_TAG_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/*
 * Fragments (docs/replies.md, "Fragments"): each arrives in its own
 * transaction; the last one's also inserts the whole message into
 * received and deletes its fragments, so that fetch shows a message only
 * whole, and once (received's unique msgid keeps out a copy that arrives
 * after it was assembled, the fragments' primary key a copy of a part).
 */
void
queue_set_max_message(struct queue *q, size_t bytes)
{
	q->max_message = bytes;
}

/* In the open transaction: deletes partial messages older than
 * QUEUE_FRAGMENT_EXPIRY_SECONDS; how many fragments went, or -1. */
static int
queue_expire_partial(struct queue *q)
{
	int64_t cutoff = queue_now(q) - QUEUE_FRAGMENT_EXPIRY_SECONDS;
	sqlite3_stmt *st = queue_stmt(q, Q_EXPIRE_FRAGMENTS);
	int n;

	sqlite3_bind_int64(st, 1, cutoff);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	n = sqlite3_changes(q->db);
	st = queue_stmt(q, Q_EXPIRE_PARTIAL);
	sqlite3_bind_int64(st, 1, cutoff);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	if (n > 0)
		log_info("message store: %d fragments of messages still partial "
		    "after %d s dropped", n, QUEUE_FRAGMENT_EXPIRY_SECONDS);
	return n;
}

int
queue_expire_fragments(struct queue *q)
{
	if (queue_begin(q) == -1)
		return -1;
	if (queue_expire_partial(q) == -1) {
		queue_rollback(q);
		return -1;
	}
	return queue_commit(q);
}

/* 1 if a step of st gives a row, 0 if none, -1; st is reset after. */
static int
queue_has_row(sqlite3_stmt *st, sqlite3_int64 *col0)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW && col0 != NULL)
		*col0 = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * In the open transaction: the parts of partial message pid (msgid, all
 * count of them, every one but the last part_bytes long) joined into a
 * new message in received (its seq in *seq); then the parts of every cut
 * of msgid are deleted: the one made whole, and any other (a sender that
 * cut the message again after its upgrade: docs/replies.md, "Fragments"),
 * whose parts would now be duplicates. 0, or -1 (rolled back by the
 * caller).
 */
static int
queue_assemble(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    sqlite3_int64 pid, unsigned count, size_t part_bytes, sqlite3_int64 *seq)
{
	size_t cap = (size_t)count * part_bytes, len = 0;
	uint8_t *whole = xmalloc(cap);
	sqlite3_stmt *st = queue_stmt(q, Q_FRAGMENTS);
	unsigned next = 0;
	int rc, ok = 1, others;

	sqlite3_bind_int64(st, 1, pid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		/* payload_decode() checked each part; the store is checked
		 * again for order and size, as any file may be damaged. */
		if (sqlite3_column_int64(st, 0) != next || n > cap - len ||
		    (next + 1 < count && n != part_bytes)) {
			ok = 0;
			break;
		}
		memcpy(whole + len, sqlite3_column_blob(st, 1), n);
		len += n;
		next++;
	}
	sqlite3_reset(st);
	if (!ok || next != count || (rc != SQLITE_DONE && rc != SQLITE_ROW)) {
		log_warnx("message store: the fragments of a message are damaged");
		free(whole);
		return -1;
	}
	st = queue_stmt(q, Q_RECEIVE_TAGGED);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, whole, (int)len, SQLITE_STATIC);
	sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, 0);
	rc = queue_step(q, st);
	free(whole);
	if (rc != SQLITE_DONE || sqlite3_changes(q->db) != 1)
		return -1;
	*seq = sqlite3_last_insert_rowid(q->db);
	st = queue_stmt(q, Q_DELETE_FRAGMENTS);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	others = sqlite3_changes(q->db) - (int)count;
	st = queue_stmt(q, Q_DELETE_PARTIAL);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if (queue_step(q, st) != SQLITE_DONE)
		return -1;
	if (others > 0)
		log_info("message store: a message made whole in %u parts; the %d "
		    "parts held of it cut otherwise (by an earlier nymd) dropped",
		    count, others);
	return 0;
}

int
queue_receive_fragment(struct queue *q, const struct queue_fragment *f)
{
	sqlite3_stmt *st;
	sqlite3_int64 pid = 0, held = 0, seq = 0;
	int rc;

	if (f->count < 2 || f->count > PAYLOAD_MAX_FRAGMENTS || f->index >= f->count ||
	    f->len == 0 || f->len > PAYLOAD_FRAGMENT_BYTES)
		return -1;
	/* A message larger than ours could be is never kept (nor could a
	 * fetch response carry it): dropped, and the sender's problem. */
	if ((size_t)(f->count - 1) * PAYLOAD_FRAGMENT_BYTES + 1 > q->max_message) {
		log_warnx("message store: a message of %u fragments is over "
		    "max_message_bytes (%zu): dropped", f->count, q->max_message);
		return 1;
	}
	if (queue_begin(q) == -1)
		return -1;
	rc = -1;
	if (queue_expire_partial(q) == -1)
		goto out;
	/* assembled already (1), or -1 */
	st = queue_stmt(q, Q_RECEIVED_ID);
	sqlite3_bind_blob(st, 1, f->msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if ((rc = queue_has_row(st, NULL)) != 0)
		goto out;
	rc = -1;
	/* Its cut: this count of parts of PAYLOAD_FRAGMENT_BYTES (what
	 * payload_decode() lets through), held apart from any other. */
	st = queue_stmt(q, Q_PARTIAL_ADD);
	sqlite3_bind_blob(st, 1, f->msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)f->count);
	sqlite3_bind_int(st, 3, PAYLOAD_FRAGMENT_BYTES);
	sqlite3_bind_int64(st, 4, queue_now(q));
	if (queue_step(q, st) != SQLITE_DONE)
		goto out;
	st = queue_stmt(q, Q_PARTIAL_OF);
	sqlite3_bind_blob(st, 1, f->msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)f->count);
	sqlite3_bind_int(st, 3, PAYLOAD_FRAGMENT_BYTES);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pid = sqlite3_column_int64(st, 0);
		held = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (pid == 0)
		goto out;
	st = queue_stmt(q, Q_PUT_FRAGMENT);
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int(st, 2, (int)f->index);
	sqlite3_bind_blob(st, 3, f->bytes, (int)f->len, SQLITE_STATIC);
	if (queue_step(q, st) != SQLITE_DONE)
		goto out;
	if (sqlite3_changes(q->db) == 0) {
		rc = 1;		/* this part is here already */
		goto out;
	}
	st = queue_stmt(q, Q_HOLD_FRAGMENT);
	sqlite3_bind_int64(st, 1, pid);
	if (queue_step(q, st) != SQLITE_DONE)
		goto out;
	held++;
	if (held == f->count && queue_assemble(q, f->msgid, pid, f->count,
	    PAYLOAD_FRAGMENT_BYTES, &seq) == -1)
		goto out;
	if (queue_commit(q) == -1)
		return -1;
	if (held < f->count)
		return 2;
	queue_add_mark(q, seq);
	q->counts.received++;
	return 0;
out:
	queue_rollback(q);
	if (rc == 1) {
		queue_succeeded(q);
		q->counts.duplicates++;
	}
	return rc;
}

int
queue_partial(struct queue *q, size_t *messages, size_t *fragments)
{
	sqlite3_stmt *st = queue_stmt(q, Q_PARTIAL);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*messages = (size_t)sqlite3_column_int64(st, 0);
		*fragments = (size_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Delivery status (docs/acks.md). A message's row in messages is written
 * in the transaction that changes it; the hook hears of it after the
 * commit (queue_commit()).
 */
void
queue_set_expiry(struct queue *q, uint32_t seconds)
{
	q->expiry = seconds > 0 ? seconds : 1;
}

int
queue_status(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    struct queue_status *out)
{
	sqlite3_stmt *st = queue_stmt(q, Q_STATUS);
	const unsigned char *reason;
	int rc;

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q) - (int64_t)QUEUE_STATUS_KEEP_SECONDS);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		memcpy(out->msgid, msgid, QUEUE_MSGID_BYTES);
		out->state = (enum queue_state)sqlite3_column_int(st, 0);
		out->packets = (uint32_t)sqlite3_column_int64(st, 1);
		out->acked = (uint32_t)sqlite3_column_int64(st, 2);
		if ((reason = sqlite3_column_text(st, 3)) != NULL &&
		    out->state == QUEUE_FAILED)
			snprintf(out->reason, sizeof(out->reason), "%s", reason);
		out->changed = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

void
queue_on_status(struct queue *q, void (*cb)(void *, const struct queue_status *),
    void *arg)
{
	q->status_cb = cb;
	q->status_arg = cb != NULL ? arg : NULL;
}

/*
 * A row's state and deadline are written without an fsync of their own
 * (synchronous=NORMAL for that commit; the next FULL one syncs it): a
 * process that dies loses nothing written, and what a power cut loses is
 * only that the row is with the provider, so it is sent once more. Acks,
 * sends and receipts stay synchronous=FULL.
 */
static void
queue_light(struct queue *q, int light)
{
	(void)queue_exec(q, light ? "PRAGMA synchronous=NORMAL" :
	    "PRAGMA synchronous=FULL");
}

int64_t
queue_now_ms(const struct queue *q)
{
	struct timespec ts;

	if (q->now != NULL)
		return (int64_t)q->now() * 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long
queue_pending_ids(struct queue *q, uint64_t after, uint64_t *ids, size_t max)
{
	sqlite3_stmt *st = queue_stmt(q, Q_PENDING_IDS);
	long n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : -1;
}

struct queue_hand_arg {
	uint64_t	id;
	int64_t		deadline_ms;
	int		result;		/* queue_handed()'s 0, 1 (a reply) or 2 */
	int		first;		/* its first time with the provider */
};

static int
queue_hand_fn(struct queue *q, void *arg)
{
	struct queue_hand_arg *a = arg;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	sqlite3_stmt *st;
	int forward = 0, rc, was = -1;

	if ((rc = queue_row_of(q, a->id, msgid, &forward, &a->first)) == 1) {
		a->result = 2;
		return SQLITE_DONE;
	}
	if (rc != 0)
		return rc;
	if (!forward) {
		a->result = 1;	/* deleted by queue_sent() */
		return SQLITE_DONE;
	}
	a->result = 0;
	st = queue_stmt(q, Q_HAND);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a->id);
	sqlite3_bind_int64(st, 2, a->deadline_ms);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	st = queue_stmt(q, Q_MESSAGE_STATE);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		was = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	st = queue_stmt(q, Q_MESSAGE_SENDING);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	if ((rc = queue_step(q, st)) == SQLITE_DONE && was == QUEUE_QUEUED)
		queue_changed(q, msgid);
	return rc;
}

int
queue_handed(struct queue *q, uint64_t id, int64_t deadline_ms)
{
	struct queue_hand_arg a = { id, deadline_ms, 0, 0 };

	int rc;

	if (queue_is_retired(q, id))
		return 1;
	queue_light(q, 1);
	rc = queue_txn(q, queue_hand_fn, &a);
	queue_light(q, 0);
	if (rc != SQLITE_DONE)
		return -2;
	if (a.result == 1)
		return queue_sent(q, id) == 0 ? 1 : -1;
	if (a.result == 0 && a.first)
		q->counts.sent++;	/* not again when sent again */
	return a.result;
}

struct queue_ack_arg {
	const uint8_t	*ack_id;
	uint64_t	 id;
	int		 result;	/* 0: acknowledged, 1: no such row */
	int		 delivered;	/* the message's last row */
};

static int
queue_ack_fn(struct queue *q, void *arg)
{
	struct queue_ack_arg *a = arg;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	sqlite3_stmt *st = queue_stmt(q, Q_ACK_ROW);
	int rc;

	a->result = 1;
	a->delivered = 0;
	sqlite3_bind_blob(st, 1, a->ack_id, ACK_ID_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 1) == QUEUE_MSGID_BYTES) {
		a->id = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(msgid, sqlite3_column_blob(st, 1), QUEUE_MSGID_BYTES);
		a->result = 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? SQLITE_DONE : rc;
	if (a->result == 1)
		return SQLITE_DONE;	/* a damaged row: as unknown */
	st = queue_stmt(q, Q_SENT);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a->id);
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	st = queue_stmt(q, Q_MESSAGE_ACKED);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, queue_now(q));
	if ((rc = queue_step(q, st)) != SQLITE_DONE)
		return rc;
	if (sqlite3_changes(q->db) == 0)
		return SQLITE_DONE;	/* its message ended already */
	queue_changed(q, msgid);
	st = queue_stmt(q, Q_MESSAGE_STATE);
	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		a->delivered = sqlite3_column_int(st, 0) == QUEUE_DELIVERED;
	sqlite3_reset(st);
	return SQLITE_DONE;
}

int
queue_acked(struct queue *q, const uint8_t ack_id[ACK_ID_BYTES], uint64_t *id)
{
	struct queue_ack_arg a = { ack_id, 0, 1, 0 };

	if (queue_retiring(q, queue_ack_fn, &a) != SQLITE_DONE)
		return -1;
	if (a.result == 1) {
		q->counts.acks_unknown++;
		return 1;
	}
	q->counts.acks++;
	if (a.delivered)
		q->counts.delivered++;
	if (id != NULL)
		*id = a.id;
	queue_drained(q);
	return 0;
}

long
queue_resend_due(struct queue *q, int64_t now_ms)
{
	sqlite3_stmt *st = queue_stmt(q, Q_RESEND_DUE);
	long n;
	int rc;

	sqlite3_bind_int64(st, 1, now_ms);
	queue_light(q, 1);
	rc = queue_step(q, st);
	queue_light(q, 0);
	if (rc != SQLITE_DONE)
		return -1;
	queue_succeeded(q);
	n = (long)sqlite3_changes(q->db);
	q->counts.retransmissions += (uint64_t)n;
	return n;
}

/* The first column of a one-row statement st, or 0 for NULL or none. */
static int64_t
queue_min_of(struct queue *q, enum queue_stmt which)
{
	sqlite3_stmt *st = queue_stmt(q, which);
	int64_t v = 0;

	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

int64_t
queue_next_due_ms(struct queue *q)
{
	int64_t deadline = queue_min_of(q, Q_NEXT_DEADLINE);
	int64_t expires = queue_min_of(q, Q_NEXT_EXPIRY);

	if (expires > 0 && (deadline == 0 || expires * 1000 < deadline))
		return expires * 1000;
	return deadline;
}

int
queue_set_deadline(struct queue *q, uint64_t id, int64_t deadline_ms)
{
	sqlite3_stmt *st = queue_stmt(q, Q_SET_DEADLINE);
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, deadline_ms);
	queue_light(q, 1);
	rc = queue_step(q, st);
	queue_light(q, 0);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(q->db) > 0 ? 0 : 1;
}

int
queue_build_failed(struct queue *q, uint64_t id, const char *why)
{
	sqlite3_stmt *st = queue_stmt(q, Q_BUILD_FAILED);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	return queue_step(q, st) == SQLITE_DONE ? 0 : -1;
}

/* Expired messages are failed this many to a transaction. */
#define QUEUE_EXPIRE_BATCH	64

struct queue_expire_arg {
	size_t		n;
	struct {
		uint8_t	msgid[QUEUE_MSGID_BYTES];
		char	reason[sizeof(((struct queue_status *)0)->reason)];
	}		failed[QUEUE_EXPIRE_BATCH];
};

/* In the open transaction: why message msgid failed, from its row in
 * messages as st has it. */
static int
queue_fail_reason(struct queue *q, sqlite3_stmt *st, const uint8_t *msgid,
    char *out, size_t len)
{
	sqlite3_stmt *rs;
	const unsigned char *why = sqlite3_column_text(st, 5);
	long long lifetime = sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1);
	long long packets = sqlite3_column_int64(st, 3);
	long long acked = sqlite3_column_int64(st, 4);
	int replies = 0, rc;

	if (why != NULL) {
		snprintf(out, len, "its packets could not be built: %s", why);
		return 0;
	}
	rs = queue_stmt(q, Q_MESSAGE_REPLIES);
	sqlite3_bind_blob(rs, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	if ((rc = sqlite3_step(rs)) == SQLITE_ROW)
		replies = sqlite3_column_int(rs, 0);
	sqlite3_reset(rs);
	if (rc != SQLITE_ROW)
		return -1;
	if (replies > 0)
		snprintf(out, len, "not sent within %lld s", lifetime);
	else
		snprintf(out, len, "not acknowledged within %lld s: %lld of %lld "
		    "packets acknowledged", lifetime, acked, packets);
	return 0;
}

static int
queue_expire_fn(struct queue *q, void *arg)
{
	struct queue_expire_arg *a = arg;
	int64_t now = queue_now(q);
	sqlite3_stmt *st = queue_stmt(q, Q_EXPIRED);
	int rc;

	a->n = 0;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, QUEUE_EXPIRE_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(st, 0) != QUEUE_MSGID_BYTES)
			continue;
		memcpy(a->failed[a->n].msgid, sqlite3_column_blob(st, 0), QUEUE_MSGID_BYTES);
		if (queue_fail_reason(q, st, a->failed[a->n].msgid, a->failed[a->n].reason,
		    sizeof(a->failed[a->n].reason)) == -1) {
			rc = SQLITE_ERROR;
			break;
		}
		a->n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	for (size_t i = 0; i < a->n; i++) {
		st = queue_stmt(q, Q_DELETE_ROWS);
		sqlite3_bind_blob(st, 1, a->failed[i].msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		if ((rc = queue_step(q, st)) != SQLITE_DONE)
			return rc;
		st = queue_stmt(q, Q_MESSAGE_FAIL);
		sqlite3_bind_blob(st, 1, a->failed[i].msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->failed[i].reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		if ((rc = queue_step(q, st)) != SQLITE_DONE)
			return rc;
		queue_changed(q, a->failed[i].msgid);
	}
	st = queue_stmt(q, Q_PRUNE_STATUS);
	sqlite3_bind_int64(st, 1, now - (int64_t)QUEUE_STATUS_KEEP_SECONDS);
	return queue_step(q, st);
}

long
queue_expire_messages(struct queue *q)
{
	struct queue_expire_arg *a = xcalloc(1, sizeof(*a));
	long failed = 0;
	char hex[QUEUE_MSGID_BYTES * 2 + 1];

	do {
		/* Deleting frees pages: with the reserve's help on a full
		 * disk, as any retiring. */
		if (queue_retiring(q, queue_expire_fn, a) != SQLITE_DONE) {
			free(a);
			return -1;
		}
		for (size_t i = 0; i < a->n; i++) {
			sodium_bin2hex(hex, sizeof(hex), a->failed[i].msgid,
			    QUEUE_MSGID_BYTES);
			log_warnx("message %s failed: %s", hex, a->failed[i].reason);
		}
		failed += (long)a->n;
		q->counts.failed += a->n;
	} while (a->n == QUEUE_EXPIRE_BATCH);
	free(a);
	if (failed > 0)
		queue_drained(q);
	return failed;
}

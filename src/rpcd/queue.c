#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "rpcd/queue.h"

#define QUEUE_SCHEMA_VERSION	1
#define QUEUE_BUSY_TIMEOUT_MS	5000

enum queue_stmt {
	Q_ENQUEUE,
	Q_OUTGOING,
	Q_SENT,
	Q_RECEIVE,
	Q_FETCH,
	Q_MARK,
	Q_PRUNE,
	Q_COUNT,
	Q_NSTMTS,
};

static const char *const queue_sql[Q_NSTMTS] = {
	[Q_ENQUEUE] = "INSERT INTO outgoing (msgid, recipient, provider, message) VALUES (?, ?, ?, ?)",
	[Q_OUTGOING] = "SELECT id, msgid, recipient, provider, message FROM outgoing ORDER BY id",
	[Q_SENT] = "DELETE FROM outgoing WHERE id = ?",
	[Q_RECEIVE] = "INSERT OR IGNORE INTO received (msgid, message) VALUES (?, ?)",
	[Q_FETCH] = "SELECT seq, message FROM received WHERE fetched = 0 ORDER BY seq",
	[Q_MARK] = "UPDATE received SET fetched = 1, message = NULL WHERE fetched = 0 AND seq <= ?",
	[Q_PRUNE] = "DELETE FROM received WHERE fetched = 1 AND seq <= (SELECT MAX(seq) FROM received) - ?",
	[Q_COUNT] = "SELECT COUNT(*) FROM outgoing",
};

struct queue {
	sqlite3		*db;
	sqlite3_stmt	*stmt[Q_NSTMTS];
};

static const char queue_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outgoing ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, msgid BLOB NOT NULL,"
    " recipient BLOB NOT NULL, provider BLOB NOT NULL, message BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS received ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, msgid BLOB NOT NULL UNIQUE,"
    " message BLOB, fetched INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS received_unfetched ON received (fetched, seq);"
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1);";

static int
queue_exec(struct queue *q, const char *sql)
{
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int
queue_check_schema(struct queue *q, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = -1;

	if (sqlite3_prepare_v2(q->db, "SELECT value FROM meta WHERE key = 'schema'", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version != QUEUE_SCHEMA_VERSION) {
		snprintf(err, errlen, "message store has schema version %d; this nymd "
		    "knows version %d", version, QUEUE_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

int
queue_open(struct queue **out, const char *path, char *err, size_t errlen)
{
	struct queue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (q == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(q->db, QUEUE_BUSY_TIMEOUT_MS);
	/* WAL with synchronous=FULL: a commit is on disk before `send` is
	 * answered or a delivery acknowledged. */
	/* temp_store=MEMORY: rpcd may open files in its data directory
	 * only (chroot, Landlock), so no temporary files in /var/tmp. */
	if (queue_exec(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;") == -1 ||
	    queue_exec(q, queue_schema) == -1)
		goto fail;
	if (queue_check_schema(q, err, errlen) == -1) {
		queue_close(q);
		return -1;
	}
	for (int i = 0; i < Q_NSTMTS; i++)
		if (sqlite3_prepare_v3(q->db, queue_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &q->stmt[i], NULL) != SQLITE_OK)
			goto fail;
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
	free(q);
}

static sqlite3_stmt *
queue_stmt(struct queue *q, enum queue_stmt s)
{
	sqlite3_reset(q->stmt[s]);
	sqlite3_clear_bindings(q->stmt[s]);
	return q->stmt[s];
}

static int
queue_done(struct queue *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("message store: %s", sqlite3_errmsg(q->db));
		return -1;
	}
	return 0;
}

int
queue_enqueue(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t recipient[QUEUE_KEY_BYTES], const uint8_t provider[QUEUE_KEY_BYTES],
    const uint8_t *msg, size_t len, uint64_t *id)
{
	sqlite3_stmt *st = queue_stmt(q, Q_ENQUEUE);

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, recipient, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, provider, QUEUE_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	if (queue_done(q, st) == -1)
		return -1;
	*id = (uint64_t)sqlite3_last_insert_rowid(q->db);
	return 0;
}

static int
queue_blob(sqlite3_stmt *st, int col, const uint8_t **p, size_t want)
{
	*p = sqlite3_column_blob(st, col);
	return (size_t)sqlite3_column_bytes(st, col) == want ? 0 : -1;
}

int
queue_each_outgoing(struct queue *q, void (*cb)(void *, const struct queue_outgoing *),
    void *arg)
{
	sqlite3_stmt *st = queue_stmt(q, Q_OUTGOING);
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct queue_outgoing o;
		o.id = (uint64_t)sqlite3_column_int64(st, 0);
		if (queue_blob(st, 1, &o.msgid, QUEUE_MSGID_BYTES) == -1 ||
		    queue_blob(st, 2, &o.recipient, QUEUE_KEY_BYTES) == -1 ||
		    queue_blob(st, 3, &o.provider, QUEUE_KEY_BYTES) == -1) {
			log_warnx("message store: queued message %llu is corrupt; skipped",
			    (unsigned long long)o.id);
			continue;
		}
		o.message = sqlite3_column_blob(st, 4);
		o.len = (size_t)sqlite3_column_bytes(st, 4);
		cb(arg, &o);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
queue_sent(struct queue *q, uint64_t id)
{
	sqlite3_stmt *st = queue_stmt(q, Q_SENT);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return queue_done(q, st);
}

int
queue_receive(struct queue *q, const uint8_t msgid[QUEUE_MSGID_BYTES],
    const uint8_t *msg, size_t len)
{
	sqlite3_stmt *st = queue_stmt(q, Q_RECEIVE);

	sqlite3_bind_blob(st, 1, msgid, QUEUE_MSGID_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, len ? msg : (const uint8_t *)"", (int)len, SQLITE_STATIC);
	if (queue_done(q, st) == -1)
		return -1;
	return sqlite3_changes(q->db) == 0 ? 1 : 0;
}

long
queue_fetch(struct queue *q, int (*cb)(void *, const uint8_t *msg, size_t len),
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
		last = sqlite3_column_int64(st, 0);
		if (cb(arg, sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1)) == -1)
			break;
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
	if (n > 0) {
		st = queue_stmt(q, Q_MARK);
		sqlite3_bind_int64(st, 1, last);
		if (queue_done(q, st) == -1)
			goto fail;
		st = queue_stmt(q, Q_PRUNE);
		sqlite3_bind_int64(st, 1, QUEUE_SEEN_KEEP);
		if (queue_done(q, st) == -1)
			goto fail;
	}
	if (queue_exec(q, "COMMIT") == -1)
		goto fail;
	return n;
fail:
	log_warnx("message store: fetch failed: %s", sqlite3_errmsg(q->db));
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

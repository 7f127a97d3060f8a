/*
 * Provider mailbox store on SQLite (docs/provider-store.md).
 *
 * Every change is one IMMEDIATE transaction on a WAL database with
 * synchronous=FULL, so it is on disk when the call returns.  Each client's
 * row keeps the number of packets in its mailbox, updated in the same
 * transaction as the packets, so quotas and "remaining" cost no scan.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "provider/store.h"

/*
 * Schema version 1.  The index on packets(client) holds the rowid (= id)
 * as its last column, so it serves "this client's packets by id" as is.
 * AUTOINCREMENT keeps the largest id ever used in sqlite_sequence: an id
 * is never handed out twice, even after the newest packet was acked.
 */
static const char store_schema_v1[] =
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"INSERT INTO schema_version (version) VALUES (1);"
	"CREATE TABLE clients ("
	" client BLOB NOT NULL PRIMARY KEY CHECK (length(client) = 32),"
	" token BLOB NOT NULL CHECK (length(token) = 32),"
	" packets INTEGER NOT NULL DEFAULT 0 CHECK (packets >= 0)"
	") WITHOUT ROWID;"
	"CREATE TABLE packets ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" client BLOB NOT NULL,"
	" packet BLOB NOT NULL CHECK (length(packet) BETWEEN 1 AND 4096)"
	");"
	"CREATE INDEX packets_client ON packets (client);";

enum store_stmt {
	ST_BEGIN_WRITE,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_CLIENT_GET,
	ST_CLIENT_NUMBER,
	ST_CLIENT_INSERT,
	ST_CLIENT_ADD,
	ST_CLIENT_LIST,
	ST_PACKET_INSERT,
	ST_PACKET_SELECT,
	ST_PACKET_DELETE,
	ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
	/* IMMEDIATE takes the write lock at once, so a transaction that
	 * reads and then writes can never fail half-way with SQLITE_BUSY. */
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_CLIENT_GET] =
	    "SELECT token, packets FROM clients WHERE client = ?1",
	[ST_CLIENT_NUMBER] = "SELECT count(*) FROM clients",
	[ST_CLIENT_INSERT] =
	    "INSERT INTO clients (client, token, packets) VALUES (?1, ?2, 0)",
	[ST_CLIENT_ADD] =
	    "UPDATE clients SET packets = packets + ?2 WHERE client = ?1",
	[ST_CLIENT_LIST] = "SELECT client FROM clients ORDER BY client",
	[ST_PACKET_INSERT] =
	    "INSERT INTO packets (client, packet) VALUES (?1, ?2)",
	/* Parenthesised: one literal in two parts, not two elements. */
	[ST_PACKET_SELECT] = ("SELECT id, packet FROM packets WHERE client = ?1"
	    " ORDER BY id LIMIT ?2"),
	[ST_PACKET_DELETE] =
	    "DELETE FROM packets WHERE id = ?1 AND client = ?2",
};

struct store {
	sqlite3			*db;
	struct store_limits	 limits;
	sqlite3_stmt		*st[ST_COUNT];
	int			 reserve_fd;
	off_t			 reserve_size;	/* STORE_RESERVE_BYTES when whole */
};

/* A client's row, as read inside a transaction. */
struct store_client {
	uint8_t		token[STORE_TOKEN_BYTES];
	uint64_t	packets;
};

const char *
store_strerror(int error)
{
	switch (error) {
	case STORE_OK:
		return "success";
	case STORE_ERR_IO:
		return "database I/O error";
	case STORE_ERR_QUOTA:
		return "mailbox full (per-client quota reached)";
	case STORE_ERR_NOT_REGISTERED:
		return "client not registered";
	case STORE_ERR_BAD_TOKEN:
		return "bad token";
	case STORE_ERR_INVALID:
		return "invalid argument";
	case STORE_ERR_FULL:
		return "too many clients registered";
	case STORE_ERR_CORRUPT:
		return "database file is corrupt or not an SQLite database";
	case STORE_ERR_SCHEMA_NEWER:
		return "database schema is newer than this program supports";
	case STORE_ERR_SCHEMA:
		return "database is not a provider store (unknown schema)";
	case STORE_ERR_NOMEM:
		return "out of memory";
	case STORE_ERR_NOSPACE:
		return "no space left on device";
	case STORE_ERR_READONLY:
		return "read-only file system";
	default:
		return "unknown store error";
	}
}

/* Maps an SQLite result code to a store error. */
static int
store_error_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return STORE_OK;
	case SQLITE_NOMEM:
		return STORE_ERR_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return STORE_ERR_CORRUPT;
	case SQLITE_FULL:
		return STORE_ERR_NOSPACE;
	case SQLITE_READONLY:
		return STORE_ERR_READONLY;
	default:
		return STORE_ERR_IO;
	}
}

/* store_error_of(), with the errno behind an I/O error (ENOSPC, EROFS). */
static int
store_error_db(sqlite3 *db, int rc)
{
	int error = store_error_of(rc);

	if (error == STORE_ERR_IO) {
		int e = sqlite3_system_errno(db);
		if (e == ENOSPC || e == EDQUOT)
			return STORE_ERR_NOSPACE;
		if (e == EROFS)
			return STORE_ERR_READONLY;
	}
	return error;
}

/* Makes a statement ready for its next use and drops its bound values. */
static void
store_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
static int
store_run(struct store *s, enum store_stmt which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);

	store_reset(st);
	return rc == SQLITE_DONE ? STORE_OK : store_error_db(s->db, rc);
}

static int
store_begin(struct store *s, enum store_stmt which)
{
	return store_run(s, which);
}

/* Ends the transaction if SQLite has not already rolled it back. */
static void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)store_run(s, ST_ROLLBACK);
}

/* Commits, or rolls back and reports the error: then nothing happened. */
static int
store_commit(struct store *s)
{
	int error = store_run(s, ST_COMMIT);

	if (error != STORE_OK)
		store_rollback(s);
	return error;
}

/* Ends a transaction: commits on success, rolls back otherwise. */
static int
store_finish(struct store *s, int error)
{
	if (error != STORE_OK) {
		store_rollback(s);
		return error;
	}
	return store_commit(s);
}

/* Reads a client's row: STORE_OK, STORE_ERR_NOT_REGISTERED or an error. */
static int
store_client_get(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    struct store_client *c)
{
	sqlite3_stmt *st = s->st[ST_CLIENT_GET];
	const void *token;
	sqlite3_int64 packets;
	int rc, error = STORE_OK;

	if ((rc = sqlite3_bind_blob(st, 1, client, STORE_CLIENT_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK) {
		store_reset(st);
		return store_error_of(rc);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		error = STORE_ERR_NOT_REGISTERED;
	else if (rc != SQLITE_ROW)
		error = store_error_of(rc);
	else {
		token = sqlite3_column_blob(st, 0);
		packets = sqlite3_column_int64(st, 1);
		/* The schema's CHECKs make these impossible unless the file
		 * was changed behind our back. */
		if (token == NULL ||
		    sqlite3_column_bytes(st, 0) != STORE_TOKEN_BYTES ||
		    packets < 0)
			error = STORE_ERR_CORRUPT;
		else if (c != NULL) {
			memcpy(c->token, token, STORE_TOKEN_BYTES);
			c->packets = (uint64_t)packets;
		}
	}
	store_reset(st);
	return error;
}

/* Adds delta to a client's packet count. */
static int
store_client_add(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    sqlite3_int64 delta)
{
	sqlite3_stmt *st = s->st[ST_CLIENT_ADD];
	int rc;

	if ((rc = sqlite3_bind_blob(st, 1, client, STORE_CLIENT_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, delta)) != SQLITE_OK) {
		store_reset(st);
		return store_error_of(rc);
	}
	return store_run(s, ST_CLIENT_ADD);
}

/* Runs a statement that must return exactly one integer. */
static int
store_integer(sqlite3 *db, const char *sql, sqlite3_int64 *value)
{
	sqlite3_stmt *st;
	int rc, error;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return store_error_of(rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
		*value = sqlite3_column_int64(st, 0);
		error = STORE_OK;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		error = STORE_ERR_SCHEMA;
	else
		error = store_error_of(rc);
	sqlite3_finalize(st);
	return error;
}

/* Runs a statement that must return one row with one text, copied out. */
static int
store_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st;
	const unsigned char *text;
	int rc, error = STORE_OK;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return store_error_of(rc);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		error = rc == SQLITE_DONE ? STORE_ERR_IO : store_error_of(rc);
	else if ((text = sqlite3_column_text(st, 0)) == NULL)
		error = STORE_ERR_IO;
	else {
		strncpy(out, (const char *)text, size - 1);
		out[size - 1] = '\0';
	}
	sqlite3_finalize(st);
	return error;
}

/*
 * Reads the whole file once: a damaged page is found now rather than by
 * a pull hours later, and the provider refuses to start on it.
 */
static int
store_check_integrity(sqlite3 *db)
{
	char result[16];
	int error;

	error = store_text(db, "PRAGMA quick_check(1)", result, sizeof(result));
	if (error != STORE_OK)
		return error;
	return strcmp(result, "ok") == 0 ? STORE_OK : STORE_ERR_CORRUPT;
}

/*
 * Creates the schema in an empty database, or checks the version of an
 * existing one; inside one transaction so that two processes opening a
 * new file at once do not both create it.
 */
static int
store_schema(sqlite3 *db)
{
	sqlite3_int64 n = 0, version = 0;
	int rc, error;

	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return store_error_of(rc);
	error = store_integer(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'schema_version'", &n);
	if (error == STORE_OK && n == 1) {
		error = store_integer(db, "SELECT count(*), max(version)"
		    " FROM schema_version", &n);
		if (error == STORE_OK && n != 1)
			error = STORE_ERR_SCHEMA;
		if (error == STORE_OK)
			error = store_integer(db,
			    "SELECT version FROM schema_version", &version);
		if (error == STORE_OK && version > STORE_SCHEMA_VERSION)
			error = STORE_ERR_SCHEMA_NEWER;
		else if (error == STORE_OK && version != STORE_SCHEMA_VERSION)
			error = STORE_ERR_SCHEMA;
	} else if (error == STORE_OK) {
		error = store_integer(db, "SELECT count(*) FROM sqlite_master",
		    &n);
		/* Another program's database: leave it alone. */
		if (error == STORE_OK && n != 0)
			error = STORE_ERR_SCHEMA;
		if (error == STORE_OK && (rc = sqlite3_exec(db, store_schema_v1,
		    NULL, NULL, NULL)) != SQLITE_OK)
			error = store_error_of(rc);
	}
	if (error != STORE_OK) {
		if (!sqlite3_get_autocommit(db))
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return error;
	}
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		if (!sqlite3_get_autocommit(db))
			(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return store_error_of(rc);
	}
	return STORE_OK;
}

static int
store_configure(sqlite3 *db)
{
	char mode[16];
	int rc, error;

	sqlite3_extended_result_codes(db, 1);
	if ((rc = sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS)) !=
	    SQLITE_OK)
		return store_error_of(rc);
	/* Our SQL is fixed; these only take tools away from a hostile file. */
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	(void)sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
	/* The first statement that reads the file: a file that is not a
	 * database fails here with SQLITE_NOTADB. */
	error = store_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (error != STORE_OK)
		return error;
	if (strcmp(mode, "wal") != 0)
		return STORE_ERR_IO;
	/* FULL: a commit returns after the WAL is fsync'd, so a put that
	 * returned survives a power failure too (docs/provider-store.md). */
	if ((rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL)) != SQLITE_OK)
		return store_error_of(rc);
	/* Temporary tables and statement journals in memory, not in
	 * /var/tmp: once sandboxed, the provider may create files only in
	 * its data directory (src/node/sandbox.c). */
	if ((rc = sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL,
	    NULL)) != SQLITE_OK)
		return store_error_of(rc);
	/* A bounded WAL: what the reserve must cover (store.h). */
	char pragma[64];
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_size_limit = %d",
	    STORE_WAL_LIMIT_BYTES);
	if ((rc = sqlite3_wal_autocheckpoint(db, STORE_CHECKPOINT_PAGES)) !=
	    SQLITE_OK || (rc = sqlite3_exec(db, pragma, NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return store_error_of(rc);
	return store_check_integrity(db);
}

static int
store_prepare(struct store *s)
{
	int rc;

	for (size_t i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
		if (rc != SQLITE_OK) {
			/* Version 1 but missing tables or columns. */
			if ((rc & 0xff) == SQLITE_ERROR)
				return STORE_ERR_SCHEMA;
			return store_error_of(rc);
		}
	}
	return STORE_OK;
}

/*
 * Grows the reserve back to target bytes (at most STORE_RESERVE_BYTES), as
 * far as space allows (written, not sparse, so that its blocks are taken).
 * STORE_OK when it holds target.
 */
static int
store_reserve(struct store *s, off_t target)
{
	static const uint8_t zero[64 * 1024];
	ssize_t n;

	if (s->reserve_fd == -1)
		return STORE_ERR_IO;
	if (s->reserve_size >= target)
		return STORE_OK;
	while (s->reserve_size < target) {
		size_t want = sizeof(zero);
		if (want > (size_t)(target - s->reserve_size))
			want = (size_t)(target - s->reserve_size);
		n = pwrite(s->reserve_fd, zero, want, s->reserve_size);
		if (n <= 0) {
			int e = errno;
			(void)fdatasync(s->reserve_fd);
			return e == EROFS ? STORE_ERR_READONLY :
			    e == ENOSPC || e == EDQUOT ? STORE_ERR_NOSPACE :
			    STORE_ERR_IO;
		}
		s->reserve_size += n;
	}
	return fdatasync(s->reserve_fd) == 0 ? STORE_OK : STORE_ERR_IO;
}

/*
 * May puts go on? Only while the reserve and the database's free pages
 * (left by acks) together hold STORE_RESERVE_BYTES: the reserve is grown
 * to what the free pages do not cover. Puts fill free pages first, so
 * those do not grow the file at a checkpoint, and an ack on a full disk
 * needs only the reserve and the WAL that a TRUNCATE checkpoint frees.
 * Without counting free pages, the space of a drained episode would stay
 * in the file and puts would be refused until an operator made room.
 */
static int
store_room(struct store *s)
{
	sqlite3_int64 free_pages = 0;
	off_t target = STORE_RESERVE_BYTES;

	if (s->reserve_size < STORE_RESERVE_BYTES &&
	    store_integer(s->db, "PRAGMA freelist_count", &free_pages) ==
	    STORE_OK && free_pages > 0) {
		/* 4096: SQLite's default page size, which the store keeps */
		target -= free_pages >= STORE_RESERVE_BYTES / 4096 ?
		    STORE_RESERVE_BYTES : (off_t)free_pages * 4096;
	}
	return store_reserve(s, target);
}

/* A full disk met an ack: the reserve's space goes back to the file
 * system and the WAL is checkpointed and cut to nothing. */
static void
store_release_reserve(struct store *s)
{
	if (s->reserve_fd != -1 && s->reserve_size > 0 &&
	    ftruncate(s->reserve_fd, 0) == 0)
		s->reserve_size = 0;
	(void)sqlite3_wal_checkpoint_v2(s->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

static int
store_open_reserve(struct store *s, const char *path)
{
	char rpath[PATH_MAX];
	struct stat sb;

	if ((size_t)snprintf(rpath, sizeof(rpath), "%s%s", path,
	    STORE_RESERVE_SUFFIX) >= sizeof(rpath))
		return STORE_ERR_INVALID;
	s->reserve_fd = open(rpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->reserve_fd == -1)
		return errno == EROFS ? STORE_ERR_READONLY : STORE_ERR_IO;
	if (fstat(s->reserve_fd, &sb) == -1)
		return STORE_ERR_IO;
	s->reserve_size = sb.st_size;
	(void)store_room(s);	/* whole or not: puts say so */
	return STORE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->reserve_fd != -1)
		close(s->reserve_fd);
	for (size_t i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	/* The last connection checkpoints the WAL into the file. */
	sqlite3_close(s->db);
	free(s);
}

int
store_open(struct store **out, const char *path,
    const struct store_limits *limits)
{
	struct store *s;
	int fd, rc, error;

	if (out == NULL)
		return STORE_ERR_INVALID;
	*out = NULL;
	if (path == NULL || *path == '\0')
		return STORE_ERR_INVALID;
	if (sodium_init() < 0)
		return STORE_ERR_IO;
	/* Create the file ourselves: it holds the clients' tokens, so 0600;
	 * SQLite gives its -wal and -shm files the same mode. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return STORE_ERR_IO;
	close(fd);

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return STORE_ERR_NOMEM;
	s->reserve_fd = -1;
	s->limits.max_packets_per_client = STORE_DEFAULT_MAX_PACKETS_PER_CLIENT;
	s->limits.max_clients = STORE_DEFAULT_MAX_CLIENTS;
	if (limits != NULL && limits->max_packets_per_client != 0)
		s->limits.max_packets_per_client =
		    limits->max_packets_per_client;
	if (limits != NULL && limits->max_clients != 0)
		s->limits.max_clients = limits->max_clients;

	rc = sqlite3_open_v2(path, &s->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		error = s->db == NULL ? STORE_ERR_NOMEM : store_error_of(rc);
		store_close(s);
		return error;
	}
	if ((error = store_configure(s->db)) != STORE_OK ||
	    (error = store_schema(s->db)) != STORE_OK ||
	    (error = store_prepare(s)) != STORE_OK ||
	    (error = store_open_reserve(s, path)) != STORE_OK) {
		store_close(s);
		return error;
	}
	*out = s;
	return STORE_OK;
}

int
store_set_synchronous_full(struct store *s, int full)
{
	int rc;

	if (s == NULL)
		return STORE_ERR_INVALID;
	rc = sqlite3_exec(s->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	return store_error_of(rc);
}

/* Inserts a new client with a fresh random token, into c->token. */
static int
store_client_insert(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    struct store_client *c)
{
	sqlite3_stmt *st = s->st[ST_CLIENT_NUMBER];
	sqlite3_int64 n;
	int rc;

	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	store_reset(st);
	if (rc != SQLITE_ROW)
		return store_error_of(rc);
	if (n < 0 || (uint64_t)n >= s->limits.max_clients)
		return STORE_ERR_FULL;

	randombytes_buf(c->token, STORE_TOKEN_BYTES);
	c->packets = 0;
	st = s->st[ST_CLIENT_INSERT];
	if ((rc = sqlite3_bind_blob(st, 1, client, STORE_CLIENT_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 2, c->token, STORE_TOKEN_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK) {
		store_reset(st);
		return store_error_of(rc);
	}
	return store_run(s, ST_CLIENT_INSERT);
}

int
store_register(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    uint8_t token[STORE_TOKEN_BYTES])
{
	struct store_client c;
	int error;

	if (s == NULL || client == NULL || token == NULL)
		return STORE_ERR_INVALID;
	if ((error = store_begin(s, ST_BEGIN_WRITE)) != STORE_OK)
		return error;
	error = store_client_get(s, client, &c);
	if (error == STORE_ERR_NOT_REGISTERED)
		error = store_client_insert(s, client, &c);
	error = store_finish(s, error);
	if (error == STORE_OK)
		memcpy(token, c.token, STORE_TOKEN_BYTES);
	sodium_memzero(&c, sizeof(c));
	return error;
}

int
store_check_token(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint8_t *token, size_t len)
{
	struct store_client c;
	int error;

	if (s == NULL || client == NULL || (token == NULL && len != 0))
		return STORE_ERR_INVALID;
	if ((error = store_client_get(s, client, &c)) != STORE_OK)
		return error;
	/* The length is not secret: every token has STORE_TOKEN_BYTES. */
	if (len != STORE_TOKEN_BYTES ||
	    sodium_memcmp(c.token, token, STORE_TOKEN_BYTES) != 0)
		error = STORE_ERR_BAD_TOKEN;
	sodium_memzero(&c, sizeof(c));
	return error;
}

/* Inside a write transaction: quota check, insert, count. */
static int
store_put_locked(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint8_t *packet, size_t len, uint64_t *id)
{
	sqlite3_stmt *st = s->st[ST_PACKET_INSERT];
	struct store_client c;
	int rc, error;

	if ((error = store_client_get(s, client, &c)) != STORE_OK)
		return error;
	sodium_memzero(c.token, sizeof(c.token));
	if (c.packets >= s->limits.max_packets_per_client)
		return STORE_ERR_QUOTA;
	if ((rc = sqlite3_bind_blob(st, 1, client, STORE_CLIENT_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 2, packet, (int)len,
	    SQLITE_STATIC)) != SQLITE_OK) {
		store_reset(st);
		return store_error_of(rc);
	}
	if ((error = store_run(s, ST_PACKET_INSERT)) != STORE_OK)
		return error;
	*id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return store_client_add(s, client, 1);
}

int
store_put_many(struct store *s, struct store_put *puts, size_t n)
{
	struct store_put *p;
	int error;

	if (s == NULL || (puts == NULL && n != 0))
		return STORE_ERR_INVALID;
	/* Without the whole reserve an ack might not find room: no puts. */
	if ((error = store_room(s)) != STORE_OK)
		goto fail;
	if ((error = store_begin(s, ST_BEGIN_WRITE)) != STORE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		p = &puts[i];
		p->id = 0;
		if (p->client == NULL || p->packet == NULL || p->len == 0 ||
		    p->len > STORE_MAX_PACKET_BYTES) {
			p->result = STORE_ERR_INVALID;
			continue;
		}
		p->result = store_put_locked(s, p->client, p->packet, p->len,
		    &p->id);
		if (p->result != STORE_OK && p->result != STORE_ERR_QUOTA &&
		    p->result != STORE_ERR_NOT_REGISTERED) {
			error = p->result;
			store_rollback(s);
			goto fail;
		}
	}
	if ((error = store_commit(s)) == STORE_OK)
		return STORE_OK;
 fail:
	for (size_t i = 0; i < n; i++) {
		puts[i].result = error;
		puts[i].id = 0;
	}
	return error;
}

int
store_put_id(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint8_t *packet, size_t len, uint64_t *id)
{
	struct store_put p = { .client = client, .packet = packet, .len = len };
	int error;

	if (s == NULL || client == NULL || packet == NULL || len == 0 ||
	    len > STORE_MAX_PACKET_BYTES)
		return STORE_ERR_INVALID;
	if ((error = store_put_many(s, &p, 1)) != STORE_OK)
		return error;
	if (p.result == STORE_OK && id != NULL)
		*id = p.id;
	return p.result;
}

int
store_put(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint8_t *packet, size_t len)
{
	return store_put_id(s, client, packet, len, NULL);
}

/* For bsearch() over a skip list: id is an sqlite3_int64 > 0. */
static int
store_id_cmp(const void *a, const void *b)
{
	uint64_t x = (uint64_t)*(const sqlite3_int64 *)a;
	uint64_t y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Inside a read transaction: copies up to max packets whose ids are not
 * in skip (sorted) into items. */
static int
store_pull_locked(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint64_t *skip, size_t n_skip, size_t max, struct store_item *items,
    size_t *n, size_t *remaining)
{
	sqlite3_stmt *st = s->st[ST_PACKET_SELECT];
	struct store_client c;
	const void *blob;
	size_t got = 0, skipped = 0;
	sqlite3_int64 id;
	int rc = SQLITE_DONE, len, error;

	if ((error = store_client_get(s, client, &c)) != STORE_OK)
		return error;
	sodium_memzero(c.token, sizeof(c.token));
	if (max > (size_t)INT64_MAX / 2)
		max = (size_t)INT64_MAX / 2;
	if (n_skip > (size_t)INT64_MAX / 2)
		return STORE_ERR_INVALID;
	/* The skipped ids are among the first max + n_skip rows, if there. */
	if ((rc = sqlite3_bind_blob(st, 1, client, STORE_CLIENT_BYTES,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)(max + n_skip))) !=
	    SQLITE_OK) {
		store_reset(st);
		return store_error_of(rc);
	}
	while (got < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		blob = sqlite3_column_blob(st, 1);
		len = sqlite3_column_bytes(st, 1);
		if (id <= 0 || blob == NULL || len <= 0 ||
		    len > STORE_MAX_PACKET_BYTES) {
			error = STORE_ERR_CORRUPT;
			break;
		}
		if (n_skip > 0 && bsearch(&id, skip, n_skip, sizeof(*skip),
		    store_id_cmp) != NULL) {
			skipped++;
			continue;
		}
		items[got].id = (uint64_t)id;
		memcpy(items[got].packet, blob, (size_t)len);
		items[got].len = (size_t)len;
		got++;
	}
	if (error == STORE_OK && got < max && rc != SQLITE_DONE)
		error = store_error_of(rc);
	store_reset(st);
	if (error != STORE_OK)
		return error;
	/* The count and the rows come from the same snapshot. */
	if (c.packets < got + skipped)
		return STORE_ERR_CORRUPT;
	*n = got;
	if (remaining != NULL) {
		/* Skipped ids not met are counted as there: an upper bound. */
		uint64_t left = (uint64_t)c.packets - got - skipped;
		uint64_t unseen = n_skip - skipped;
		*remaining = (size_t)(left > unseen ? left - unseen : 0);
	}
	return STORE_OK;
}

int
store_pull(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    size_t max, struct store_item *items, size_t *n, size_t *remaining)
{
	return store_pull_skip(s, client, NULL, 0, max, items, n, remaining);
}

int
store_pull_skip(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint64_t *skip, size_t n_skip, size_t max, struct store_item *items,
    size_t *n, size_t *remaining)
{
	int error;

	if (n != NULL)
		*n = 0;
	if (s == NULL || client == NULL || n == NULL ||
	    (items == NULL && max != 0) || (skip == NULL && n_skip != 0))
		return STORE_ERR_INVALID;
	for (size_t i = 1; i < n_skip; i++)
		if (skip[i - 1] >= skip[i])
			return STORE_ERR_INVALID;
	if ((error = store_begin(s, ST_BEGIN_READ)) != STORE_OK)
		return error;
	error = store_finish(s, store_pull_locked(s, client, skip, n_skip, max,
	    items, n, remaining));
	if (error != STORE_OK)
		*n = 0;
	return error;
}

/* Inside a write transaction: deletes the ids, fixes the count. */
static int
store_ack_locked(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint64_t *ids, size_t n)
{
	sqlite3_stmt *st = s->st[ST_PACKET_DELETE];
	sqlite3_int64 deleted = 0;
	int rc, error;

	if ((error = store_client_get(s, client, NULL)) != STORE_OK)
		return error;
	for (size_t i = 0; i < n; i++) {
		/* Ids are positive int64s; anything else names no packet. */
		if (ids[i] == 0 || ids[i] > (uint64_t)INT64_MAX)
			continue;
		if ((rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)ids[i])) !=
		    SQLITE_OK ||
		    (rc = sqlite3_bind_blob(st, 2, client, STORE_CLIENT_BYTES,
		    SQLITE_STATIC)) != SQLITE_OK) {
			store_reset(st);
			return store_error_of(rc);
		}
		if ((error = store_run(s, ST_PACKET_DELETE)) != STORE_OK)
			return error;
		deleted += sqlite3_changes(s->db);
	}
	if (deleted == 0)
		return STORE_OK;
	return store_client_add(s, client, -deleted);
}

int
store_ack(struct store *s, const uint8_t client[STORE_CLIENT_BYTES],
    const uint64_t *ids, size_t n)
{
	int error;

	if (s == NULL || client == NULL || (ids == NULL && n != 0))
		return STORE_ERR_INVALID;
	if ((error = store_begin(s, ST_BEGIN_WRITE)) == STORE_OK)
		error = store_finish(s, store_ack_locked(s, client, ids, n));
	if (error == STORE_ERR_NOSPACE) {
		store_release_reserve(s);
		if ((error = store_begin(s, ST_BEGIN_WRITE)) == STORE_OK)
			error = store_finish(s, store_ack_locked(s, client,
			    ids, n));
	}
	return error;
}

size_t
store_count(struct store *s, const uint8_t client[STORE_CLIENT_BYTES])
{
	struct store_client c;

	if (s == NULL || client == NULL ||
	    store_client_get(s, client, &c) != STORE_OK)
		return 0;
	sodium_memzero(c.token, sizeof(c.token));
	return c.packets > SIZE_MAX ? SIZE_MAX : (size_t)c.packets;
}

int
store_clients(struct store *s,
    void (*cb)(void *arg, const uint8_t client[STORE_CLIENT_BYTES]),
    void *arg)
{
	sqlite3_stmt *st;
	uint8_t *list = NULL, *grown;
	size_t n = 0, cap = 0;
	const void *blob;
	int rc, error = STORE_OK;

	if (s == NULL || cb == NULL)
		return STORE_ERR_INVALID;
	st = s->st[ST_CLIENT_LIST];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		blob = sqlite3_column_blob(st, 0);
		if (blob == NULL ||
		    sqlite3_column_bytes(st, 0) != STORE_CLIENT_BYTES) {
			error = STORE_ERR_CORRUPT;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((grown = reallocarray(list, cap,
			    STORE_CLIENT_BYTES)) == NULL) {
				error = STORE_ERR_NOMEM;
				break;
			}
			list = grown;
		}
		memcpy(list + n * STORE_CLIENT_BYTES, blob, STORE_CLIENT_BYTES);
		n++;
	}
	if (error == STORE_OK && rc != SQLITE_DONE)
		error = store_error_of(rc);
	store_reset(st);
	/* Called after the statement is reset: cb may use the store. */
	for (size_t i = 0; error == STORE_OK && i < n; i++)
		cb(arg, list + i * STORE_CLIENT_BYTES);
	free(list);
	return error;
}

/*
 * Replay store persistence: snapshot + append-only log of alphas.
 *
 * Why alphas and not tags: sphinx_process() derives the tag inside and
 * does not return it, and alpha determines it (docs/sphinx.md section 12).
 * Re-deriving costs one X25519 per record, paid only at start-up, and the
 * snapshot interval bounds the log.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fsutil.h"
#include "common/sphinx.h"
#include "node/replaydb.h"

#define REPLAYDB_READ_RECORDS	4096

struct replaydb {
	struct replay_store	*store;
	uint8_t			*priv;		/* sodium_malloc'd copy */
	uint8_t			 pub[32];
	char			 snap_path[PATH_MAX];
	char			 log_path[PATH_MAX];
	int			 log_fd;
	uint64_t		 log_records;
	int			 dirty;		/* appended since the last sync */
};

int
replaydb_tag(const uint8_t priv[32], const uint8_t alpha[32],
    uint8_t tag[REPLAY_TAG_BYTES])
{
	/* Exactly the tag sphinx_process() records (docs/sphinx.md, 5). */
	return sphinx_replay_tag(priv, alpha, tag) == SPHINX_OK ? 0 : -1;
}

static int
replaydb_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
replaydb_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Loads our key's snapshot if there is one. */
static int
replaydb_load_snapshot(struct replaydb *db, struct replaydb_info *info,
    char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, rc;

	if ((fd = open(db->snap_path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return REPLAYDB_OK;
		return replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s",
		    db->snap_path, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > REPLAY_SERIAL_HEADER_BYTES +
	    REPLAY_MAX_FILTER_BYTES + REPLAY_SERIAL_CHECKSUM_BYTES) {
		close(fd);
		return replaydb_fail(err, errlen, REPLAYDB_ERR_CORRUPT,
		    "%s: %s", db->snap_path, "not a replay store snapshot");
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return replaydb_fail(err, errlen, REPLAYDB_ERR_NOMEM, "%s: %s",
		    db->snap_path, "out of memory");
	}
	n = fs_read_all(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s",
		    db->snap_path, n == -1 ? strerror(errno) : "changed while read");
	}
	rc = replay_load(&db->store, buf, (size_t)n);
	free(buf);
	if (rc != REPLAY_OK)
		return replaydb_fail(err, errlen, REPLAYDB_ERR_CORRUPT,
		    "%s: %s; refusing to start without the tags of this key "
		    "(restore the file, or make a new key with init --force)",
		    db->snap_path, replay_strerror(rc));
	if (sodium_memcmp(replay_key_id(db->store), db->pub, 32) != 0) {
		/* Left by an earlier key: its tags mean nothing to ours. */
		replay_free(db->store);
		db->store = NULL;
		info->discarded = 1;
		return REPLAYDB_OK;
	}
	info->loaded = 1;
	return REPLAYDB_OK;
}

static int
replaydb_write_log_header(struct replaydb *db)
{
	uint8_t hdr[REPLAYDB_LOG_HEADER_BYTES];

	memcpy(hdr, REPLAYDB_LOG_MAGIC, 8);
	memcpy(hdr + 8, db->pub, 32);
	if (ftruncate(db->log_fd, 0) == -1 ||
	    fs_write_all(db->log_fd, hdr, sizeof(hdr)) == -1 ||
	    fdatasync(db->log_fd) == -1)
		return -1;
	db->log_records = 0;
	db->dirty = 0;
	return 0;
}

/* Replays the log into the store; a log of another key is ignored. */
static int
replaydb_replay_log(struct replaydb *db, struct replaydb_info *info,
    char *err, size_t errlen)
{
	uint8_t hdr[REPLAYDB_LOG_HEADER_BYTES];
	uint8_t *buf, tag[REPLAY_TAG_BYTES];
	size_t have = 0;
	ssize_t n;

	if (lseek(db->log_fd, 0, SEEK_SET) == -1)
		goto io;
	n = fs_read_all(db->log_fd, hdr, sizeof(hdr));
	if (n == -1)
		goto io;
	if ((size_t)n < sizeof(hdr) || memcmp(hdr, REPLAYDB_LOG_MAGIC, 8) != 0 ||
	    memcmp(hdr + 8, db->pub, 32) != 0) {
		if (n > 0)
			info->discarded = 1;
		return REPLAYDB_OK;
	}
	if ((buf = malloc(REPLAYDB_READ_RECORDS * REPLAYDB_RECORD_BYTES)) == NULL)
		return replaydb_fail(err, errlen, REPLAYDB_ERR_NOMEM, "%s: %s",
		    db->log_path, "out of memory");
	for (;;) {
		n = read(db->log_fd, buf + have,
		    REPLAYDB_READ_RECORDS * REPLAYDB_RECORD_BYTES - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			goto io;
		}
		have += (size_t)n;
		size_t whole = have / REPLAYDB_RECORD_BYTES;
		for (size_t i = 0; i < whole; i++) {
			/* A small-order alpha was never accepted: skip it. */
			if (replaydb_tag(db->priv, buf + i * REPLAYDB_RECORD_BYTES,
			    tag) == 0) {
				replay_check_and_insert(db->store, tag);
				info->recovered++;
			}
		}
		memmove(buf, buf + whole * REPLAYDB_RECORD_BYTES,
		    have - whole * REPLAYDB_RECORD_BYTES);
		have -= whole * REPLAYDB_RECORD_BYTES;
		if (n == 0)
			break;
	}
	info->torn_bytes = have;
	sodium_memzero(tag, sizeof(tag));
	free(buf);
	return REPLAYDB_OK;
io:
	return replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s",
	    db->log_path, strerror(errno));
}

int
replaydb_open(struct replaydb **out, const char *dir, const uint8_t priv[32],
    const uint8_t pub[32], const struct replay_params *params,
    struct replaydb_info *info, char *err, size_t errlen)
{
	struct replay_params p = *params;
	struct replaydb *db;
	int rc;

	*out = NULL;
	memset(info, 0, sizeof(*info));
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return replaydb_fail(err, errlen, REPLAYDB_ERR_NOMEM, "%s%s",
		    "out of memory", "");
	db->log_fd = -1;
	memcpy(db->pub, pub, 32);
	if ((db->priv = sodium_malloc(32)) == NULL) {
		replaydb_close(db);
		return replaydb_fail(err, errlen, REPLAYDB_ERR_NOMEM, "%s%s",
		    "out of memory", "");
	}
	memcpy(db->priv, priv, 32);
	if ((size_t)snprintf(db->snap_path, sizeof(db->snap_path), "%s/%s", dir,
	    REPLAYDB_SNAPSHOT_FILE) >= sizeof(db->snap_path) ||
	    (size_t)snprintf(db->log_path, sizeof(db->log_path), "%s/%s", dir,
	    REPLAYDB_LOG_FILE) >= sizeof(db->log_path)) {
		replaydb_close(db);
		return replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s", dir,
		    "path too long");
	}
	if ((rc = replaydb_load_snapshot(db, info, err, errlen)) != REPLAYDB_OK) {
		replaydb_close(db);
		return rc;
	}
	if (db->store == NULL) {
		memcpy(p.key_id, pub, REPLAY_KEY_ID_BYTES);
		if ((rc = replay_new(&db->store, &p)) != REPLAY_OK) {
			replaydb_close(db);
			return replaydb_fail(err, errlen, REPLAYDB_ERR_STORE,
			    "replay store: %s%s", replay_strerror(rc), "");
		}
	}
	db->log_fd = open(db->log_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (db->log_fd == -1) {
		rc = replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s",
		    db->log_path, strerror(errno));
		replaydb_close(db);
		return rc;
	}
	if ((rc = replaydb_replay_log(db, info, err, errlen)) != REPLAYDB_OK) {
		replaydb_close(db);
		return rc;
	}
	/* Fold what the log held into a snapshot, and start a fresh log. */
	if (info->recovered > 0 || info->discarded || info->torn_bytes > 0) {
		if (replaydb_snapshot(db) == -1) {
			rc = replaydb_fail(err, errlen, REPLAYDB_ERR_IO,
			    "%s: %s", db->snap_path, strerror(errno));
			replaydb_close(db);
			return rc;
		}
	} else if (lseek(db->log_fd, 0, SEEK_END) <
	    (off_t)REPLAYDB_LOG_HEADER_BYTES && replaydb_write_log_header(db) == -1) {
		rc = replaydb_fail(err, errlen, REPLAYDB_ERR_IO, "%s: %s",
		    db->log_path, strerror(errno));
		replaydb_close(db);
		return rc;
	}
	*out = db;
	return REPLAYDB_OK;
}

void
replaydb_close(struct replaydb *db)
{
	if (db == NULL)
		return;
	if (db->log_fd != -1) {
		if (db->dirty)
			(void)fdatasync(db->log_fd);
		close(db->log_fd);
	}
	replay_free(db->store);
	sodium_free(db->priv);
	free(db);
}

struct replay_store *
replaydb_store(struct replaydb *db)
{
	return db->store;
}

int
replaydb_append(struct replaydb *db, const uint8_t alpha[REPLAYDB_RECORD_BYTES])
{
	if (fs_write_all(db->log_fd, alpha, REPLAYDB_RECORD_BYTES) == -1)
		return -1;
	db->log_records++;
	db->dirty = 1;
	return 0;
}

int
replaydb_sync(struct replaydb *db)
{
	if (!db->dirty)
		return 0;
	if (fdatasync(db->log_fd) == -1)
		return -1;
	db->dirty = 0;
	return 0;
}

int
replaydb_snapshot(struct replaydb *db)
{
	size_t len = replay_serialized_bytes(db->store);
	uint8_t *buf = malloc(len);
	int rc;

	if (buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (replay_serialize(db->store, buf, len) != REPLAY_OK) {
		free(buf);
		errno = EINVAL;
		return -1;
	}
	rc = fs_write_atomic(db->snap_path, buf, len, 0600);
	free(buf);
	if (rc == -1)
		return -1;
	/*
	 * The snapshot holds every logged tag now.  A crash before the log is
	 * emptied only replays those records again, which changes nothing.
	 */
	return replaydb_write_log_header(db);
}

uint64_t
replaydb_log_records(const struct replaydb *db)
{
	return db->log_records;
}

/*
 * The node's replay store on disk (docs/mixnode.md, "Replay protection
 * across restarts"): the in-memory Bloom filter of src/common/replay.h,
 * a snapshot of it in the data directory, and a log of the packets
 * accepted since that snapshot.
 *
 * The log holds each accepted packet's alpha (its first 32 bytes), which
 * is written with write(2) before the packet can be forwarded; a restart
 * re-derives the replay tags of the logged alphas with the node's key and
 * inserts them.  So a kill -9 loses no tag: what write(2) returned is in
 * the kernel.  A power failure can lose the log's last
 * REPLAYDB_SYNC_INTERVAL of writes (fdatasync runs that often).
 */
#ifndef NYMD_NODE_REPLAYDB_H
#define NYMD_NODE_REPLAYDB_H

#include <stddef.h>
#include <stdint.h>

#include "common/replay.h"

#define REPLAYDB_SNAPSHOT_FILE	"replay.bin"
#define REPLAYDB_LOG_FILE	"replay.log"
#define REPLAYDB_LOG_MAGIC	"NYMRLOG1"
#define REPLAYDB_LOG_HEADER_BYTES	(8 + REPLAY_KEY_ID_BYTES)
#define REPLAYDB_RECORD_BYTES	32	/* a packet's alpha */
#define REPLAYDB_ERR_BYTES	256

enum replaydb_error {
	REPLAYDB_OK = 0,
	REPLAYDB_ERR_IO = -1,		/* errno is set */
	REPLAYDB_ERR_CORRUPT = -2,	/* the snapshot of our key is damaged */
	REPLAYDB_ERR_STORE = -3,	/* replay_new()/replay_load() failed */
	REPLAYDB_ERR_NOMEM = -4,
};

struct replaydb;

struct replaydb_info {
	int		 loaded;	/* a snapshot of our key was read */
	int		 discarded;	/* a snapshot or log of another key was ignored */
	uint64_t	 recovered;	/* log records replayed into the store */
	uint64_t	 torn_bytes;	/* an incomplete last record, ignored */
};

/*
 * Opens (or creates) the store of key pub/priv in directory dir: loads the
 * snapshot, replays the log, and if the log held anything writes a new
 * snapshot and empties the log.  params sizes a new store (its key_id is
 * set to pub here).  On error err says why.
 */
int	 replaydb_open(struct replaydb **, const char *dir,
	    const uint8_t priv[32], const uint8_t pub[32],
	    const struct replay_params *params, struct replaydb_info *info,
	    char *err, size_t errlen);
/* Does not snapshot: call replaydb_snapshot() first for a clean stop. */
void	 replaydb_close(struct replaydb *);

struct replay_store *replaydb_store(struct replaydb *);

/* Logs the alpha of a packet sphinx_process() accepted; 0 or -1 (errno). */
int	 replaydb_append(struct replaydb *, const uint8_t alpha[REPLAYDB_RECORD_BYTES]);
/* fdatasync of the log if anything was appended since the last; 0 or -1. */
int	 replaydb_sync(struct replaydb *);
/* Writes the store atomically, then empties the log; 0 or -1 (errno). */
int	 replaydb_snapshot(struct replaydb *);
/* Records in the log since the last snapshot. */
uint64_t replaydb_log_records(const struct replaydb *);

/*
 * The replay tag of a packet whose alpha was accepted by the key priv, as
 * docs/sphinx.md defines it (sphinx_replay_tag()).  0, or -1 for a
 * small-order or non-canonical alpha.
 */
int	 replaydb_tag(const uint8_t priv[32], const uint8_t alpha[32],
	    uint8_t tag[REPLAY_TAG_BYTES]);

#endif /* NYMD_NODE_REPLAYDB_H */

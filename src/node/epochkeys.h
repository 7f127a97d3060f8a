/*
 * A node's Sphinx keys, one per key epoch (docs/epochs.md), each with its
 * own replay store.  The node's long-term key stays its identity and link
 * key; packets are built for these.
 *
 * On disk, under DATA_DIR/epochs/, one directory per epoch E:
 *     E/key          the private key and the epoch length (mode 0600)
 *     E/replay.bin   E/replay.log   the key's replay store (replaydb.h)
 * A key and its replay store are deleted together when the key expires,
 * so the replay state stays bounded by three epochs' worth of packets,
 * and an expired key is gone from the disk (forward secrecy per epoch).
 */
#ifndef NYMD_NODE_EPOCHKEYS_H
#define NYMD_NODE_EPOCHKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/replay.h"

#define EPOCHKEYS_DIR		"epochs"
#define EPOCHKEYS_KEY_FILE	"key"
#define EPOCHKEYS_KEY_MAGIC	"NYMEKEY1"
/* magic, epoch (BE64), seconds (BE32), reserved (4), private key (32) */
#define EPOCHKEYS_KEY_FILE_BYTES	(8 + 8 + 4 + 4 + 32)
/* The previous, current and next epoch's keys. */
#define EPOCHKEYS_MAX		3
#define EPOCHKEYS_ERR_BYTES	256

struct replaydb;

struct epochkey {
	uint64_t		 epoch;
	uint8_t			*priv;		/* sodium_malloc'd */
	uint8_t			 pub[32];
	/*
	 * Opened when the key can first be used: at once for the current
	 * epoch, from the middle of the epoch before for the next one (so a
	 * node holds two replay stores, not three); NULL until then.
	 */
	struct replaydb		*rdb;
	uint64_t		 snapshot_count;	/* tags at the last snapshot */
	char			 dir[4096];
};

struct epochkeys;

/*
 * Opens DATA_DIR/epochs and loads every key there that has not expired
 * at now_ms (deleting the others); params sizes each new replay store.
 */
int	epochkeys_open(struct epochkeys **, const char *data_dir,
	    const struct replay_params *params, uint64_t now_ms,
	    char *err, size_t errlen);
void	epochkeys_close(struct epochkeys *);

/*
 * Makes the keys match epochs of the given length at now_ms: deletes
 * expired keys (and every key, if the length changed), and creates the
 * current and the next epoch's keys if missing.  *changed is set to 1 if
 * the published keys changed.  0, or -1 with err (the keys that exist
 * stay usable).
 */
int	epochkeys_update(struct epochkeys *, uint32_t seconds, uint64_t now_ms,
	    int *changed, char *err, size_t errlen);

/* The epoch length in use; 0 before one is known. */
uint32_t epochkeys_seconds(const struct epochkeys *);
/* The key for a packet of this key phase arriving at now_ms, or NULL. */
struct epochkey *epochkeys_for_phase(struct epochkeys *, unsigned int phase,
	    uint64_t now_ms);
/* The keys held, oldest first; *n is set to their count. */
struct epochkey *epochkeys_all(struct epochkeys *, size_t *n);
/*
 * When epochkeys_update() next has something to do: the next epoch's
 * start or the oldest key's expiry, whichever comes first; 0 if unknown.
 */
uint64_t epochkeys_next_event_ms(const struct epochkeys *, uint64_t now_ms);

#endif /* NYMD_NODE_EPOCHKEYS_H */

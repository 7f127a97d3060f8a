/*
 * Provider mailbox store: the durable, per-client queues of packets a
 * provider keeps for its registered clients (DESIGN.md section 6,
 * docs/provider-store.md).  One SQLite database in WAL mode with
 * synchronous=FULL; this module is the only code that knows its schema.
 *
 * Guarantees: a put, a registration and an ack have been committed to
 * disk (fsync'd) when they return STORE_OK; a crash at any moment loses no
 * committed put and brings back no acked packet.  Packet ids are never
 * reused, even after the packet with the largest id was acked and the
 * store reopened, so a client that acks late can never delete a newer
 * packet.
 *
 * Not thread safe: one store is used by one thread at a time.  Nothing is
 * logged; every function returns STORE_OK or a negative enum store_error
 * (store_strerror() names it) and the caller decides.
 */
#ifndef NYMD_PROVIDER_STORE_H
#define NYMD_PROVIDER_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_CLIENT_BYTES		32	/* a client's X25519 key */
#define STORE_TOKEN_BYTES		32
#define STORE_MAX_PACKET_BYTES		4096
/* Used for a limit left at 0 (or a NULL limits pointer) in store_open(). */
#define STORE_DEFAULT_MAX_PACKETS_PER_CLIENT	10000
#define STORE_DEFAULT_MAX_CLIENTS		10000
/* How long a call waits for another connection's lock before STORE_ERR_IO. */
#define STORE_BUSY_TIMEOUT_MS		5000
/*
 * A full disk (docs/provider-store.md section 8): a file of
 * STORE_RESERVE_BYTES beside the database is given back when an ack meets
 * a full disk, and puts are refused (STORE_ERR_NOSPACE) until it is whole
 * again; the WAL is checkpointed every STORE_CHECKPOINT_PAGES pages and
 * cut back to STORE_WAL_LIMIT_BYTES, which bounds what the reserve must
 * cover.
 */
#define STORE_RESERVE_SUFFIX		"-reserve"
#define STORE_RESERVE_BYTES		(2 * 1024 * 1024)
#define STORE_CHECKPOINT_PAGES		128
#define STORE_WAL_LIMIT_BYTES		(STORE_CHECKPOINT_PAGES * 4096 + 64 * 1024)
/* The schema this code writes; a database with a higher one is refused. */
#define STORE_SCHEMA_VERSION		1

struct store;

struct store_limits {
	size_t	max_packets_per_client;	/* then STORE_ERR_QUOTA */
	size_t	max_clients;		/* then STORE_ERR_FULL */
};

struct store_item {
	uint64_t	id;		/* for store_ack(); never reused */
	uint8_t		packet[STORE_MAX_PACKET_BYTES];
	size_t		len;
};

enum store_error {
	STORE_OK = 0,
	STORE_ERR_IO = -1,		/* SQLite or the file system failed */
	STORE_ERR_QUOTA = -2,		/* the client's mailbox is full */
	STORE_ERR_NOT_REGISTERED = -3,	/* no such client */
	STORE_ERR_BAD_TOKEN = -4,
	STORE_ERR_INVALID = -5,		/* bad arguments */
	STORE_ERR_FULL = -6,		/* max_clients reached */
	STORE_ERR_CORRUPT = -7,		/* not an SQLite database, or damaged */
	STORE_ERR_SCHEMA_NEWER = -8,	/* written by a newer nymd: refused */
	STORE_ERR_SCHEMA = -9,		/* SQLite, but not a store */
	STORE_ERR_NOMEM = -10,
	STORE_ERR_NOSPACE = -11,	/* the disk is full: puts refused */
	STORE_ERR_READONLY = -12,	/* read-only file system */
};

/* A constant, human-readable text for an enum store_error value. */
const char	*store_strerror(int error);

/*
 * Opens the store at path, creating the file (mode 0600) and the schema if
 * the file does not exist or is empty.  Refuses a file that is not a
 * store database or is damaged (STORE_ERR_CORRUPT, after an integrity
 * check: opening costs a read of the whole file), one whose schema is
 * newer than STORE_SCHEMA_VERSION (STORE_ERR_SCHEMA_NEWER) or another
 * SQLite database (STORE_ERR_SCHEMA).  limits may be NULL; a limit of 0
 * takes its default.  Lowering a limit below what the file already holds
 * is allowed: nothing is deleted, new puts or registrations are refused.
 * On error *store is NULL.
 */
int	 store_open(struct store **store, const char *path,
	    const struct store_limits *limits);
/* Closes the store (NULL is fine).  Everything returned STORE_OK is on disk. */
void	 store_close(struct store *store);

/*
 * Registers client, or finds it registered, and copies its token to token.
 * Idempotent: a registered client gets the token it was first given.
 * STORE_ERR_FULL if max_clients are registered already.  The token is a
 * secret: the caller wipes its copy when done.
 */
int	 store_register(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES],
	    uint8_t token[STORE_TOKEN_BYTES]);
/*
 * STORE_OK if token (len bytes, untrusted) is client's token, compared in
 * constant time; STORE_ERR_BAD_TOKEN if not, STORE_ERR_NOT_REGISTERED.
 */
int	 store_check_token(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], const uint8_t *token,
	    size_t len);

/*
 * Appends a packet (1..STORE_MAX_PACKET_BYTES bytes) to client's mailbox
 * and returns once it is committed.  STORE_ERR_QUOTA if the mailbox holds
 * max_packets_per_client packets, STORE_ERR_NOT_REGISTERED.
 */
int	 store_put(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], const uint8_t *packet,
	    size_t len);
/* store_put() that also gives the new packet's id (id may be NULL). */
int	 store_put_id(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], const uint8_t *packet,
	    size_t len, uint64_t *id);

/* One packet of store_put_many(). */
struct store_put {
	const uint8_t	*client;	/* STORE_CLIENT_BYTES */
	const uint8_t	*packet;
	size_t		 len;
	int		 result;	/* out: as store_put() would return */
	uint64_t	 id;		/* out: the new id, if STORE_OK */
};

/*
 * Puts n packets in one transaction, so one fsync covers them all: with
 * synchronous=FULL a commit costs about one disk flush, and a provider
 * that batches the packets it has at hand (say, per event-loop turn)
 * multiplies its put rate (docs/provider-store.md).  Returns STORE_OK once
 * the batch is committed; then each put's result tells whether it was
 * stored (STORE_OK) or refused on its own (STORE_ERR_QUOTA,
 * STORE_ERR_NOT_REGISTERED, STORE_ERR_INVALID).  On any other error
 * nothing was stored and every result is that error.
 */
int	 store_put_many(struct store *store, struct store_put *puts, size_t n);

/*
 * Copies up to max of client's packets, oldest (lowest id) first, to
 * items[0 .. *n - 1]; *remaining is how many are left after them.  Deletes
 * nothing: a packet stays until store_ack() names its id, so pulling twice
 * without an ack returns the same packets with the same ids.  max may be 0
 * (items may then be NULL) to learn the count; remaining may be NULL.
 */
int	 store_pull(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], size_t max, struct store_item *items, size_t *n, size_t *remaining);
/*
 * store_pull() that passes over the packets whose ids are in
 * skip[0 .. n_skip - 1] (strictly ascending, else STORE_ERR_INVALID):
 * those a link was handed and has not acknowledged yet.  *remaining then
 * counts neither the items nor the skipped ids (an upper bound, should a
 * skipped id be gone).
 */
int	 store_pull_skip(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], const uint64_t *skip,
	    size_t n_skip, size_t max, struct store_item *items, size_t *n,
	    size_t *remaining);
/*
 * Deletes the packets of client's mailbox whose ids are in ids[0 .. n-1],
 * in one transaction.  Ids that are not there (acked already, never
 * existed, another client's) are skipped: a repeated ack is harmless.
 * On a full disk it gives the reserve back and tries once more, so acks
 * (and the fetching they allow) go on when puts are refused.
 */
int	 store_ack(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES], const uint64_t *ids,
	    size_t n);

/*
 * Calls cb once per registered client, in the order of their keys.  The
 * list is read first, so cb may call any store function.
 */
int	 store_clients(struct store *store,
	    void (*cb)(void *arg, const uint8_t client[STORE_CLIENT_BYTES]),
	    void *arg);
/* The number of packets in client's mailbox; 0 if unknown or on error. */
size_t	 store_count(struct store *store,
	    const uint8_t client[STORE_CLIENT_BYTES]);

/*
 * For measurements only (tests/bench/store-bench.c): full = 0 switches the
 * connection to synchronous=NORMAL, which survives a crash of the process
 * but may lose the last commits on a power failure.  nym-provider never
 * calls it.
 */
int	 store_set_synchronous_full(struct store *store, int full);

#endif /* NYMD_PROVIDER_STORE_H */

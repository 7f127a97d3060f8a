/*
 * Replay store: remembers the Sphinx replay tags a key has seen during one
 * key epoch, in memory bounded from the expected packet rate and the epoch
 * length.  It is a Bloom filter: a tag that was inserted is always found
 * (no false negatives); a fresh tag is wrongly reported as seen with a
 * probability that stays at or below the configured false-positive rate
 * as long as no more than the configured capacity of tags is inserted.
 * The format, sizing and the false-positive bound are specified in
 * docs/sphinx.md, section "Replay protection".
 *
 * A store belongs to exactly one private key: tags of different keys must
 * never share a store (a key rotation starts a new store, or calls
 * replay_reset()).  The store can be written to and read back from a
 * byte buffer so that a mixnode keeps its tags across restarts.
 *
 * Not thread safe: one store is used by one thread at a time.
 */
#ifndef NYMD_COMMON_REPLAY_H
#define NYMD_COMMON_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_TAG_BYTES		32
#define REPLAY_KEY_ID_BYTES		32
#define REPLAY_MAX_HASHES		64	/* k, bit positions per tag */
/* Upper bound on the filter's memory (and its serialised size). */
#define REPLAY_MAX_FILTER_BYTES		(1024UL * 1024 * 1024)
/* Bounds on the target false-positive rate a store may be sized for. */
#define REPLAY_MIN_FALSE_POSITIVE_RATE	1e-12
#define REPLAY_MAX_FALSE_POSITIVE_RATE	0.5
#define REPLAY_DEFAULT_FALSE_POSITIVE_RATE 1e-6
/* Bytes of a serialised store around the filter itself. */
#define REPLAY_SERIAL_HEADER_BYTES	72
#define REPLAY_SERIAL_CHECKSUM_BYTES	32

enum replay_error {
	REPLAY_OK = 0,
	REPLAY_ERR_INVALID = -1,	/* bad parameters or arguments */
	REPLAY_ERR_TOO_LARGE = -2,	/* would exceed REPLAY_MAX_FILTER_BYTES */
	REPLAY_ERR_NOMEM = -3,		/* allocation failed */
	REPLAY_ERR_FORMAT = -4,		/* serialised store malformed or corrupt */
	REPLAY_ERR_SPACE = -5,		/* output buffer too small */
};

struct replay_params {
	/* Highest sustained rate of packets the key is expected to process. */
	double		packets_per_second;
	/* How long the key (and so the store) is in use. */
	uint64_t	epoch_seconds;
	/* Target false-positive rate once capacity tags are inserted. */
	double		false_positive_rate;
	/* Identifies the key epoch, e.g. the key's public key; kept with the
	 * serialised store so that a node never loads another key's tags. */
	uint8_t		key_id[REPLAY_KEY_ID_BYTES];
};

struct replay_store;

/*
 * Creates an empty store sized for packets_per_second * epoch_seconds tags
 * (rounded up) at the target false-positive rate.
 */
int	 replay_new(struct replay_store **out, const struct replay_params *params);
void	 replay_free(struct replay_store *store);

/*
 * Returns 1 if the tag was (probably) seen before, otherwise records it and
 * returns 0.  Never allocates.
 */
int	 replay_check_and_insert(struct replay_store *store,
	    const uint8_t tag[REPLAY_TAG_BYTES]);
/*
 * The same in two steps, so that the filter's cache misses overlap with
 * other work: replay_prepare() computes the tag's bit positions and starts
 * fetching them; replay_check_and_insert_prepared() then checks and
 * records them in the same store, returning 1, 0, or REPLAY_ERR_INVALID
 * if the probe was prepared for a store of another size.  The probe is
 * derived from the tag: wipe it if the tag is secret.
 */
struct replay_probe {
	uint64_t	bits;
	unsigned	hashes;
	uint64_t	pos[REPLAY_MAX_HASHES];
};
void	 replay_prepare(const struct replay_store *store,
	    const uint8_t tag[REPLAY_TAG_BYTES], struct replay_probe *probe);
int	 replay_check_and_insert_prepared(struct replay_store *store,
	    const struct replay_probe *probe);
/* Returns 1 if the tag is (probably) in the store, 0 if not; no change. */
int	 replay_contains(const struct replay_store *store,
	    const uint8_t tag[REPLAY_TAG_BYTES]);

/* Empties the store for a new key epoch, keeping its size. */
void	 replay_reset(struct replay_store *store,
	    const uint8_t key_id[REPLAY_KEY_ID_BYTES]);

/* Number of distinct tags inserted so far. */
uint64_t replay_count(const struct replay_store *store);
/* Number of tags the store was sized for. */
uint64_t replay_capacity(const struct replay_store *store);
/*
 * The false-positive bound (1 - e^(-k n / m))^k of a Bloom filter of m
 * bits and k hash functions holding n tags, evaluated at n = capacity: the
 * documented bound, which is at most the target the store was sized for.
 */
double	 replay_false_positive_bound(const struct replay_store *store);
/* The same, evaluated at the current count. */
double	 replay_false_positive_rate(const struct replay_store *store);
uint64_t replay_filter_bits(const struct replay_store *store);
unsigned replay_hash_count(const struct replay_store *store);
const uint8_t *replay_key_id(const struct replay_store *store);

/* Exact size of the serialised form of this store. */
size_t	 replay_serialized_bytes(const struct replay_store *store);
/* Writes replay_serialized_bytes() bytes to buf (len must be at least that). */
int	 replay_serialize(const struct replay_store *store, uint8_t *buf,
	    size_t len);
/* Parses and checks a serialised store of exactly len bytes. */
int	 replay_load(struct replay_store **out, const uint8_t *buf, size_t len);

const char *replay_strerror(int err);

#endif /* NYMD_COMMON_REPLAY_H */

/*
 * Replay store for Sphinx replay tags: a Bloom filter sized from the
 * expected packet rate and the key epoch (docs/sphinx.md, "Replay
 * protection").
 *
 * The k bit positions of a tag are k independent 64-bit words of a
 * ChaCha20 keystream keyed by the tag, reduced mod m.  They are computed
 * and their cache lines prefetched first (replay_prepare()), then visited:
 * in a filter of megabytes each position is a cache miss, and fetching
 * them together, or while the caller works, hides most of that latency.  Double hashing (two
 * words, positions x + i*y) would be cheaper, but two tags that agree on
 * (x, y) then agree on every position: that adds about n / m^2 to the
 * false-positive rate, far above the target in small filters (fuzzing
 * found such a pair in a 2816-bit filter).
 */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/replay.h"

#define REPLAY_MAGIC		"NYMRPLY1"
#define REPLAY_MAGIC_BYTES	8
#define REPLAY_FAST_CHUNK	256	/* bytes of keystream; see replay_prepare() */
/* Capacities beyond this would not fit REPLAY_MAX_FILTER_BYTES anyway. */
#define REPLAY_MAX_CAPACITY	(UINT64_C(1) << 40)
#define REPLAY_LN2		0.69314718055994530942

struct replay_store {
	uint64_t	 capacity;	/* tags the filter is sized for */
	uint64_t	 bits;		/* m: filter size, a multiple of 64 */
	uint64_t	 count;		/* distinct tags inserted */
	unsigned	 hashes;	/* k: bit positions per tag */
	uint8_t		 key_id[REPLAY_KEY_ID_BYTES];
	uint8_t		*filter;	/* bits / 8 bytes; bit j is byte j/8, bit j%8 */
};

static double
replay_bound(uint64_t bits, unsigned hashes, uint64_t n)
{
	if (n == 0)
		return 0.0;
	double fill = 1.0 - exp(-(double)hashes * (double)n / (double)bits);
	return pow(fill, (double)hashes);
}

/*
 * Chooses m (bits) and k (hashes) for n tags so that the bound at n tags
 * is at most p.  Starts from the textbook optimum m = n ln(1/p) / ln(2)^2,
 * k = (m/n) ln 2, and grows m a little when rounding k pushed the bound
 * above p.
 */
static int
replay_size(uint64_t n, double p, uint64_t *bits_out, unsigned *hashes_out)
{
	double m = ceil((double)n * -log(p) / (REPLAY_LN2 * REPLAY_LN2));

	for (;;) {
		double words = ceil(m / 64.0);
		if (words < 1.0)
			words = 1.0;
		if (words * 8.0 > (double)REPLAY_MAX_FILTER_BYTES)
			return REPLAY_ERR_TOO_LARGE;
		uint64_t bits = (uint64_t)words * 64;

		double k_real = (double)bits / (double)n * REPLAY_LN2;
		unsigned best_k = 0;
		double best = 2.0;
		for (int d = 0; d <= 1; d++) {
			double kk = (d == 0) ? floor(k_real) : ceil(k_real);
			if (kk < 1.0)
				kk = 1.0;
			if (kk > REPLAY_MAX_HASHES)
				kk = REPLAY_MAX_HASHES;
			double b = replay_bound(bits, (unsigned)kk, n);
			if (b < best) {
				best = b;
				best_k = (unsigned)kk;
			}
		}
		if (best <= p) {
			*bits_out = bits;
			*hashes_out = best_k;
			return REPLAY_OK;
		}
		m = (double)bits + fmax(64.0, (double)bits / 100.0);
	}
}

static int
replay_alloc(struct replay_store **out, uint64_t capacity, uint64_t bits,
    unsigned hashes, const uint8_t key_id[REPLAY_KEY_ID_BYTES])
{
	struct replay_store *store = calloc(1, sizeof(*store));
	if (store == NULL)
		return REPLAY_ERR_NOMEM;
	store->filter = calloc(1, (size_t)(bits / 8));
	if (store->filter == NULL) {
		free(store);
		return REPLAY_ERR_NOMEM;
	}
	store->capacity = capacity;
	store->bits = bits;
	store->hashes = hashes;
	memcpy(store->key_id, key_id, REPLAY_KEY_ID_BYTES);
	*out = store;
	return REPLAY_OK;
}

int
replay_new(struct replay_store **out, const struct replay_params *params)
{
	if (out == NULL)
		return REPLAY_ERR_INVALID;
	*out = NULL;
	if (params == NULL)
		return REPLAY_ERR_INVALID;

	double rate = params->packets_per_second;
	double p = params->false_positive_rate;
	if (!isfinite(rate) || rate <= 0.0 || params->epoch_seconds == 0)
		return REPLAY_ERR_INVALID;
	if (!(p >= REPLAY_MIN_FALSE_POSITIVE_RATE &&
	    p <= REPLAY_MAX_FALSE_POSITIVE_RATE))
		return REPLAY_ERR_INVALID;

	double n = ceil(rate * (double)params->epoch_seconds);
	if (n > (double)REPLAY_MAX_CAPACITY)
		return REPLAY_ERR_TOO_LARGE;
	uint64_t capacity = n < 1.0 ? 1 : (uint64_t)n;

	uint64_t bits;
	unsigned hashes;
	int rc = replay_size(capacity, p, &bits, &hashes);
	if (rc != REPLAY_OK)
		return rc;
	return replay_alloc(out, capacity, bits, hashes, params->key_id);
}

void
replay_free(struct replay_store *store)
{
	if (store == NULL)
		return;
	free(store->filter);
	free(store);
}

static uint64_t
load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void
replay_prepare(const struct replay_store *store,
    const uint8_t tag[REPLAY_TAG_BYTES], struct replay_probe *probe)
{
	static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint8_t words[REPLAY_MAX_HASHES * 8];
	unsigned hashes = store->hashes;

	_Static_assert(sizeof(words) == 2 * REPLAY_FAST_CHUNK,
	    "keystream chunks");
	/*
	 * Only the first 8k bytes are used, but libsodium's ChaCha20 makes
	 * whole 256- and 512-byte chunks much faster than a few 64-byte
	 * blocks: 160 bytes (k = 20) would cost twice what 256 do.
	 */
	crypto_stream_chacha20_ietf(words, hashes * 8 <= REPLAY_FAST_CHUNK ?
	    REPLAY_FAST_CHUNK : sizeof(words), nonce, tag);
	probe->bits = store->bits;
	probe->hashes = hashes;
	for (unsigned i = 0; i < hashes; i++) {
		uint64_t x = load_le64(words + 8 * i) % store->bits;
		probe->pos[i] = x;
		/* k independent cache misses: start them all now. */
		__builtin_prefetch(store->filter + (x >> 3), 1, 3);
	}
	sodium_memzero(words, sizeof(words));
}

/* Returns 1 if all the probe's bits were set; with set != 0 sets them. */
static int
replay_visit(uint8_t *filter, const struct replay_probe *probe, int set)
{
	int all = 1;

	for (unsigned i = 0; i < probe->hashes; i++) {
		uint64_t x = probe->pos[i];
		uint8_t mask = (uint8_t)(1u << (x & 7));
		all &= (filter[x >> 3] & mask) != 0;
		if (set)
			filter[x >> 3] |= mask;
	}
	return all;
}

int
replay_check_and_insert_prepared(struct replay_store *store,
    const struct replay_probe *probe)
{
	if (probe->bits != store->bits || probe->hashes != store->hashes)
		return REPLAY_ERR_INVALID;
	if (replay_visit(store->filter, probe, 1))
		return 1;
	store->count++;
	return 0;
}

int
replay_check_and_insert(struct replay_store *store,
    const uint8_t tag[REPLAY_TAG_BYTES])
{
	struct replay_probe probe;
	int rc;

	replay_prepare(store, tag, &probe);
	rc = replay_check_and_insert_prepared(store, &probe);
	sodium_memzero(&probe, sizeof(probe));
	return rc;
}

int
replay_contains(const struct replay_store *store,
    const uint8_t tag[REPLAY_TAG_BYTES])
{
	struct replay_probe probe;
	int rc;

	replay_prepare(store, tag, &probe);
	rc = replay_visit(store->filter, &probe, 0);
	sodium_memzero(&probe, sizeof(probe));
	return rc;
}

void
replay_reset(struct replay_store *store,
    const uint8_t key_id[REPLAY_KEY_ID_BYTES])
{
	memset(store->filter, 0, (size_t)(store->bits / 8));
	store->count = 0;
	memcpy(store->key_id, key_id, REPLAY_KEY_ID_BYTES);
}

uint64_t
replay_count(const struct replay_store *store)
{
	return store->count;
}

uint64_t
replay_capacity(const struct replay_store *store)
{
	return store->capacity;
}

double
replay_false_positive_bound(const struct replay_store *store)
{
	return replay_bound(store->bits, store->hashes, store->capacity);
}

double
replay_false_positive_rate(const struct replay_store *store)
{
	return replay_bound(store->bits, store->hashes, store->count);
}

uint64_t
replay_filter_bits(const struct replay_store *store)
{
	return store->bits;
}

unsigned
replay_hash_count(const struct replay_store *store)
{
	return store->hashes;
}

const uint8_t *
replay_key_id(const struct replay_store *store)
{
	return store->key_id;
}

static void
store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void
store_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
load_be32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = (v << 8) | p[i];
	return v;
}

size_t
replay_serialized_bytes(const struct replay_store *store)
{
	return REPLAY_SERIAL_HEADER_BYTES + (size_t)(store->bits / 8) +
	    REPLAY_SERIAL_CHECKSUM_BYTES;
}

/*
 * Layout (big-endian integers): magic "NYMRPLY1" (8), key id (32),
 * capacity (8), filter bits m (8), hashes k (4), reserved zero (4),
 * count (8), filter (m/8), BLAKE2b-256 of everything before (32).
 */
int
replay_serialize(const struct replay_store *store, uint8_t *buf, size_t len)
{
	size_t need = replay_serialized_bytes(store);
	size_t filter_bytes = (size_t)(store->bits / 8);

	if (buf == NULL || len < need)
		return REPLAY_ERR_SPACE;
	memcpy(buf, REPLAY_MAGIC, REPLAY_MAGIC_BYTES);
	memcpy(buf + 8, store->key_id, REPLAY_KEY_ID_BYTES);
	store_be64(buf + 40, store->capacity);
	store_be64(buf + 48, store->bits);
	store_be32(buf + 56, store->hashes);
	store_be32(buf + 60, 0);
	store_be64(buf + 64, store->count);
	memcpy(buf + REPLAY_SERIAL_HEADER_BYTES, store->filter, filter_bytes);
	crypto_generichash(buf + REPLAY_SERIAL_HEADER_BYTES + filter_bytes,
	    REPLAY_SERIAL_CHECKSUM_BYTES, buf,
	    REPLAY_SERIAL_HEADER_BYTES + filter_bytes, NULL, 0);
	return REPLAY_OK;
}

int
replay_load(struct replay_store **out, const uint8_t *buf, size_t len)
{
	uint8_t sum[REPLAY_SERIAL_CHECKSUM_BYTES];

	if (out == NULL)
		return REPLAY_ERR_INVALID;
	*out = NULL;
	if (buf == NULL ||
	    len < REPLAY_SERIAL_HEADER_BYTES + REPLAY_SERIAL_CHECKSUM_BYTES)
		return REPLAY_ERR_FORMAT;
	if (memcmp(buf, REPLAY_MAGIC, REPLAY_MAGIC_BYTES) != 0)
		return REPLAY_ERR_FORMAT;

	uint64_t capacity = load_be64(buf + 40);
	uint64_t bits = load_be64(buf + 48);
	uint32_t hashes = load_be32(buf + 56);
	uint32_t reserved = load_be32(buf + 60);
	uint64_t count = load_be64(buf + 64);

	if (reserved != 0 || hashes < 1 || hashes > REPLAY_MAX_HASHES)
		return REPLAY_ERR_FORMAT;
	if (capacity < 1 || capacity > REPLAY_MAX_CAPACITY)
		return REPLAY_ERR_FORMAT;
	if (bits == 0 || bits % 64 != 0 || bits / 8 > REPLAY_MAX_FILTER_BYTES)
		return REPLAY_ERR_FORMAT;
	/* Each counted insertion set at least one bit. */
	if (count > bits)
		return REPLAY_ERR_FORMAT;
	size_t filter_bytes = (size_t)(bits / 8);
	if (len != REPLAY_SERIAL_HEADER_BYTES + filter_bytes +
	    REPLAY_SERIAL_CHECKSUM_BYTES)
		return REPLAY_ERR_FORMAT;

	crypto_generichash(sum, sizeof(sum), buf,
	    REPLAY_SERIAL_HEADER_BYTES + filter_bytes, NULL, 0);
	if (memcmp(sum, buf + REPLAY_SERIAL_HEADER_BYTES + filter_bytes,
	    sizeof(sum)) != 0)
		return REPLAY_ERR_FORMAT;

	struct replay_store *store;
	int rc = replay_alloc(&store, capacity, bits, hashes, buf + 8);
	if (rc != REPLAY_OK)
		return rc;
	memcpy(store->filter, buf + REPLAY_SERIAL_HEADER_BYTES, filter_bytes);
	store->count = count;
	*out = store;
	return REPLAY_OK;
}

const char *
replay_strerror(int err)
{
	switch (err) {
	case REPLAY_OK:
		return "success";
	case REPLAY_ERR_INVALID:
		return "invalid replay store parameters";
	case REPLAY_ERR_TOO_LARGE:
		return "replay store would exceed its memory limit";
	case REPLAY_ERR_NOMEM:
		return "out of memory for the replay store";
	case REPLAY_ERR_FORMAT:
		return "malformed or corrupt serialised replay store";
	case REPLAY_ERR_SPACE:
		return "buffer too small for the serialised replay store";
	default:
		return "unknown replay store error";
	}
}

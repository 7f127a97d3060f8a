/*
 * Unit tests of src/common/replay.c: sizing from rate and epoch, no false
 * negatives, the measured false-positive rate against the documented
 * bound, and the serialised form (round trip and every rejection).
 */
#include <config.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/replay.h"

/* Seeded tag source: tag i of stream s is ChaCha20(key_s, nonce i). */
static void
tag_of(uint8_t tag[REPLAY_TAG_BYTES], uint32_t stream, uint64_t i)
{
	uint8_t key[32] = { 0 }, nonce[12] = { 0 };
	memcpy(key, &stream, sizeof(stream));
	memcpy(nonce, &i, sizeof(i));
	crypto_stream_chacha20_ietf(tag, REPLAY_TAG_BYTES, nonce, key);
}

static struct replay_store *
store_for(double rate, uint64_t epoch, double p)
{
	struct replay_params params = {
		.packets_per_second = rate, .epoch_seconds = epoch,
		.false_positive_rate = p,
	};
	struct replay_store *store;
	assert_int_equal(replay_new(&store, &params), REPLAY_OK);
	assert_non_null(store);
	return store;
}

static void
test_sizing(void **state)
{
	(void)state;
	struct replay_store *s = store_for(500, 3600, 1e-6);
	assert_int_equal(replay_capacity(s), 1800000);
	assert_int_equal(replay_count(s), 0);
	assert_true(replay_false_positive_bound(s) <= 1e-6);
	assert_true(replay_false_positive_bound(s) > 1e-7);
	assert_true(replay_false_positive_rate(s) == 0.0);
	/* Close to the optimum: 28.76 bits and 20 hashes per tag. */
	double bits_per_tag = (double)replay_filter_bits(s) / 1800000.0;
	assert_true(bits_per_tag >= 28.7 && bits_per_tag <= 29.5);
	assert_int_equal(replay_hash_count(s), 20);
	assert_int_equal(replay_filter_bits(s) % 64, 0);
	replay_free(s);

	/* Fractional rates round the capacity up. */
	s = store_for(0.5, 3, 0.01);
	assert_int_equal(replay_capacity(s), 2);
	assert_true(replay_false_positive_bound(s) <= 0.01);
	replay_free(s);

	/* Every admissible target is met. */
	static const double targets[] = { 0.5, 0.1, 0.01, 1e-3, 1e-4, 1e-6,
	    1e-9, 1e-12 };
	static const double rates[] = { 1, 7, 100, 12345 };
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
			s = store_for(rates[r], 10, targets[t]);
			assert_true(replay_false_positive_bound(s) <= targets[t]);
			replay_free(s);
		}
	}
}

static void
test_invalid_params(void **state)
{
	(void)state;
	struct replay_store *s = (struct replay_store *)&s;
	struct replay_params ok = {
		.packets_per_second = 10, .epoch_seconds = 10,
		.false_positive_rate = 1e-6,
	};
	struct replay_params p;

	assert_int_equal(replay_new(NULL, &ok), REPLAY_ERR_INVALID);
	assert_int_equal(replay_new(&s, NULL), REPLAY_ERR_INVALID);
	assert_null(s);

	static const double bad_rates[] = { 0.0, -1.0, NAN, INFINITY };
	for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
		p = ok;
		p.packets_per_second = bad_rates[i];
		assert_int_equal(replay_new(&s, &p), REPLAY_ERR_INVALID);
	}
	p = ok;
	p.epoch_seconds = 0;
	assert_int_equal(replay_new(&s, &p), REPLAY_ERR_INVALID);
	static const double bad_p[] = { 0.0, 1e-13, 0.51, 1.0, -0.1, NAN };
	for (size_t i = 0; i < sizeof(bad_p) / sizeof(bad_p[0]); i++) {
		p = ok;
		p.false_positive_rate = bad_p[i];
		assert_int_equal(replay_new(&s, &p), REPLAY_ERR_INVALID);
	}
	/* 1e9 tags at 1e-9 need about 5.6 GB: refused, not attempted. */
	p = ok;
	p.packets_per_second = 1e6;
	p.epoch_seconds = 1000;
	p.false_positive_rate = 1e-9;
	assert_int_equal(replay_new(&s, &p), REPLAY_ERR_TOO_LARGE);
	p.packets_per_second = 1e12;
	p.epoch_seconds = UINT64_MAX;
	assert_int_equal(replay_new(&s, &p), REPLAY_ERR_TOO_LARGE);
	assert_null(s);
}

static void
test_no_false_negatives(void **state)
{
	(void)state;
	struct replay_store *s = store_for(1000, 10, 1e-6);
	uint8_t tag[REPLAY_TAG_BYTES];

	for (uint64_t i = 0; i < 10000; i++) {
		tag_of(tag, 1, i);
		assert_int_equal(replay_check_and_insert(s, tag), 0);
	}
	assert_int_equal(replay_count(s), 10000);
	for (uint64_t i = 0; i < 10000; i++) {
		tag_of(tag, 1, i);
		assert_int_equal(replay_contains(s, tag), 1);
		assert_int_equal(replay_check_and_insert(s, tag), 1);
	}
	assert_int_equal(replay_count(s), 10000);
	assert_true(fabs(replay_false_positive_rate(s) -
	    replay_false_positive_bound(s)) < 1e-15);
	replay_free(s);
}

/*
 * Fills a store to capacity with one tag stream and queries a disjoint
 * stream.  The count of false positives is binomial with mean at most
 * bound * queries; allow five standard deviations above it.
 */
static void
measure(double p, uint64_t capacity, uint64_t queries)
{
	struct replay_store *s = store_for((double)capacity, 1, p);
	uint8_t tag[REPLAY_TAG_BYTES];
	uint64_t fp = 0;

	for (uint64_t i = 0; i < capacity; i++) {
		tag_of(tag, 2, i);
		replay_check_and_insert(s, tag);
	}
	double bound = replay_false_positive_bound(s);
	double rate_now = replay_false_positive_rate(s);
	for (uint64_t i = 0; i < queries; i++) {
		tag_of(tag, 3, i);
		fp += (uint64_t)replay_contains(s, tag);
	}
	double mean = bound * (double)queries;
	double limit = mean + 5.0 * sqrt(mean) + 1.0;
	print_message("target %g: %llu tags, m=%llu bits, k=%u, bound %.3g "
	    "(at count %.3g), measured %.3g (%llu of %llu)\n", p,
	    (unsigned long long)capacity,
	    (unsigned long long)replay_filter_bits(s), replay_hash_count(s),
	    bound, rate_now, (double)fp / (double)queries,
	    (unsigned long long)fp, (unsigned long long)queries);
	assert_true(bound <= p);
	assert_true((double)fp <= limit);
	/* A gross underestimate would also mean the formula is misapplied. */
	assert_true((double)fp >= mean - 5.0 * sqrt(mean) - 1.0);
	replay_free(s);
}

static void
test_false_positive_rate(void **state)
{
	(void)state;
	measure(0.1, 20000, 200000);
	measure(0.01, 50000, 500000);
	measure(1e-3, 100000, 1000000);
}

/*
 * Regression: positions used to come from tag[0, 16) by double hashing, so
 * tags agreeing there (or on those words mod m) collided on every bit.
 */
static void
test_positions_use_whole_tag(void **state)
{
	(void)state;
	struct replay_store *s = store_for(64, 1, 1e-9);
	uint8_t a[REPLAY_TAG_BYTES], b[REPLAY_TAG_BYTES];

	for (uint64_t i = 0; i < 64; i++) {
		tag_of(a, 8, i);
		memcpy(b, a, sizeof(b));
		b[16 + i % 16] ^= 1;
		replay_reset(s, a);
		assert_int_equal(replay_check_and_insert(s, a), 0);
		assert_int_equal(replay_contains(s, b), 0);
	}
	replay_free(s);
}

/*
 * docs/sphinx.md section 12: position j is LE64(S(tag)[8j, 8j + 8)) mod m.
 * replay.c computes more keystream than it uses (whole chunks); check
 * both of its chunk sizes (k <= 32 and k > 32) against the definition.
 */
static void
test_positions_match_spec(void **state)
{
	(void)state;
	static const uint8_t nonce[12];
	const double rates[] = { 0.1, 1e-6, 1e-12 };

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		struct replay_store *s = store_for(1000, 10, rates[r]);
		unsigned k = replay_hash_count(s);
		uint64_t m = replay_filter_bits(s);
		uint8_t tag[REPLAY_TAG_BYTES], z[REPLAY_MAX_HASHES * 8];
		struct replay_probe probe;

		if (r == 2)
			assert_true(k > 32);
		for (uint64_t i = 0; i < 16; i++) {
			tag_of(tag, 11, i);
			crypto_stream_chacha20_ietf(z, 8 * k, nonce, tag);
			replay_prepare(s, tag, &probe);
			assert_int_equal(probe.hashes, k);
			assert_true(probe.bits == m);
			for (unsigned j = 0; j < k; j++) {
				uint64_t x = 0;
				for (int b = 7; b >= 0; b--)
					x = x << 8 | z[8 * j + (unsigned)b];
				assert_true(probe.pos[j] == x % m);
			}
		}
		replay_free(s);
	}
}

/* The two-step check agrees with the one-step one. */
static void
test_prepared(void **state)
{
	(void)state;
	struct replay_store *s = store_for(100, 10, 1e-6);
	struct replay_store *other = store_for(1000, 10, 1e-6);
	uint8_t tag[REPLAY_TAG_BYTES];
	struct replay_probe probe;

	tag_of(tag, 12, 0);
	replay_prepare(s, tag, &probe);
	assert_int_equal(replay_check_and_insert_prepared(other, &probe),
	    REPLAY_ERR_INVALID);
	assert_int_equal(replay_count(other), 0);
	assert_int_equal(replay_check_and_insert_prepared(s, &probe), 0);
	assert_int_equal(replay_count(s), 1);
	assert_int_equal(replay_contains(s, tag), 1);
	assert_int_equal(replay_check_and_insert(s, tag), 1);
	assert_int_equal(replay_check_and_insert_prepared(s, &probe), 1);
	assert_int_equal(replay_count(s), 1);
	tag_of(tag, 12, 1);
	assert_int_equal(replay_check_and_insert(s, tag), 0);
	replay_prepare(s, tag, &probe);
	assert_int_equal(replay_check_and_insert_prepared(s, &probe), 1);
	replay_free(s);
	replay_free(other);
}

static void
test_reset(void **state)
{
	(void)state;
	struct replay_store *s = store_for(10, 10, 1e-6);
	uint8_t tag[REPLAY_TAG_BYTES], id[REPLAY_KEY_ID_BYTES];

	tag_of(tag, 4, 0);
	replay_check_and_insert(s, tag);
	memset(id, 0x42, sizeof(id));
	replay_reset(s, id);
	assert_int_equal(replay_count(s), 0);
	assert_int_equal(replay_contains(s, tag), 0);
	assert_memory_equal(replay_key_id(s), id, sizeof(id));
	replay_free(s);
	replay_free(NULL);
}

static uint8_t *
serialize(struct replay_store *s, size_t *len)
{
	*len = replay_serialized_bytes(s);
	uint8_t *buf = malloc(*len);
	assert_non_null(buf);
	assert_int_equal(replay_serialize(s, buf, *len), REPLAY_OK);
	return buf;
}

static void
test_serialize_roundtrip(void **state)
{
	(void)state;
	struct replay_params params = {
		.packets_per_second = 100, .epoch_seconds = 60,
		.false_positive_rate = 1e-4,
	};
	memset(params.key_id, 0x17, sizeof(params.key_id));
	struct replay_store *s, *t;
	uint8_t tag[REPLAY_TAG_BYTES];
	size_t len;

	assert_int_equal(replay_new(&s, &params), REPLAY_OK);
	for (uint64_t i = 0; i < 3000; i++) {
		tag_of(tag, 5, i);
		replay_check_and_insert(s, tag);
	}
	uint8_t *buf = serialize(s, &len);
	assert_int_equal(len, REPLAY_SERIAL_HEADER_BYTES +
	    replay_filter_bits(s) / 8 + REPLAY_SERIAL_CHECKSUM_BYTES);
	assert_memory_equal(buf, "NYMRPLY1", 8);
	assert_int_equal(replay_serialize(s, buf, len - 1), REPLAY_ERR_SPACE);
	assert_int_equal(replay_serialize(s, NULL, len), REPLAY_ERR_SPACE);

	assert_int_equal(replay_load(&t, buf, len), REPLAY_OK);
	assert_int_equal(replay_count(t), replay_count(s));
	assert_int_equal(replay_capacity(t), replay_capacity(s));
	assert_int_equal(replay_filter_bits(t), replay_filter_bits(s));
	assert_int_equal(replay_hash_count(t), replay_hash_count(s));
	assert_memory_equal(replay_key_id(t), params.key_id, REPLAY_KEY_ID_BYTES);
	for (uint64_t i = 0; i < 3000; i++) {
		tag_of(tag, 5, i);
		assert_int_equal(replay_check_and_insert(t, tag), 1);
	}
	for (uint64_t i = 0; i < 1000; i++) {
		tag_of(tag, 6, i);
		assert_int_equal(replay_contains(t, tag), replay_contains(s, tag));
	}
	/* Same state, same bytes. */
	size_t len2;
	uint8_t *buf2 = serialize(t, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(buf, buf2, len);
	free(buf2);
	free(buf);
	replay_free(t);
	replay_free(s);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Recomputes the checksum so that only the structural check can fail. */
static void
reseal(uint8_t *buf, size_t len)
{
	crypto_generichash(buf + len - REPLAY_SERIAL_CHECKSUM_BYTES,
	    REPLAY_SERIAL_CHECKSUM_BYTES, buf, len - REPLAY_SERIAL_CHECKSUM_BYTES,
	    NULL, 0);
}

static void
expect_format(const uint8_t *buf, size_t len)
{
	struct replay_store *t = (struct replay_store *)&t;
	assert_int_equal(replay_load(&t, buf, len), REPLAY_ERR_FORMAT);
	assert_null(t);
}

static void
test_load_rejects(void **state)
{
	(void)state;
	struct replay_store *s = store_for(10, 10, 0.01), *t;
	uint8_t tag[REPLAY_TAG_BYTES];
	size_t len;

	tag_of(tag, 7, 0);
	replay_check_and_insert(s, tag);
	uint8_t *good = serialize(s, &len);
	uint8_t *buf = malloc(len + 64);
	assert_non_null(buf);

	assert_int_equal(replay_load(NULL, good, len), REPLAY_ERR_INVALID);
	expect_format(NULL, len);
	for (size_t l = 0; l < len; l += 7)
		expect_format(good, l);
	expect_format(good, len - 1);

	/* Trailing bytes */
	memcpy(buf, good, len);
	buf[len] = 0;
	expect_format(buf, len + 1);

	/* Any flipped bit breaks the checksum. */
	for (size_t bit = 0; bit < len * 8; bit += 13) {
		memcpy(buf, good, len);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_format(buf, len);
	}

	/* Structural errors under a valid checksum. */
	memcpy(buf, good, len);
	buf[0] = 'X';
	reseal(buf, len);
	expect_format(buf, len);

	memcpy(buf, good, len);
	put_be32(buf + 60, 1);			/* reserved */
	reseal(buf, len);
	expect_format(buf, len);

	static const uint32_t bad_k[] = { 0, 65, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad_k) / sizeof(bad_k[0]); i++) {
		memcpy(buf, good, len);
		put_be32(buf + 56, bad_k[i]);
		reseal(buf, len);
		expect_format(buf, len);
	}

	static const uint64_t bad_cap[] = { 0, (UINT64_C(1) << 40) + 1 };
	for (size_t i = 0; i < sizeof(bad_cap) / sizeof(bad_cap[0]); i++) {
		memcpy(buf, good, len);
		put_be64(buf + 40, bad_cap[i]);
		reseal(buf, len);
		expect_format(buf, len);
	}

	uint64_t bits = replay_filter_bits(s);
	const uint64_t bad_bits[] = { 0, bits - 8, bits + 64, bits * 2,
	    UINT64_MAX - 63 };
	for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++) {
		memcpy(buf, good, len);
		put_be64(buf + 48, bad_bits[i]);
		reseal(buf, len);
		expect_format(buf, len);
	}

	memcpy(buf, good, len);
	put_be64(buf + 64, bits + 1);		/* count */
	reseal(buf, len);
	expect_format(buf, len);

	/* The resealed original is still fine. */
	memcpy(buf, good, len);
	reseal(buf, len);
	assert_int_equal(replay_load(&t, buf, len), REPLAY_OK);
	assert_int_equal(replay_contains(t, tag), 1);
	replay_free(t);

	free(buf);
	free(good);
	replay_free(s);
}

static void
test_strerror(void **state)
{
	(void)state;
	for (int e = REPLAY_OK; e >= REPLAY_ERR_SPACE; e--)
		assert_string_not_equal(replay_strerror(e),
		    "unknown replay store error");
	assert_string_equal(replay_strerror(1), "unknown replay store error");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizing),
		cmocka_unit_test(test_invalid_params),
		cmocka_unit_test(test_no_false_negatives),
		cmocka_unit_test(test_false_positive_rate),
		cmocka_unit_test(test_positions_use_whole_tag),
		cmocka_unit_test(test_positions_match_spec),
		cmocka_unit_test(test_prepared),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_serialize_roundtrip),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the socket API's length framing: the exact bytes Go's
 * binary.PutVarint writes, round trips over the whole int64 range, and
 * refusal of over-long, negative and oversize length prefixes.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/frame.h"

struct varint_vector {
	int64_t		value;
	size_t		len;
	uint8_t		bytes[FRAME_VARINT_MAX_BYTES];
};

/* Worked by hand from Go: zig-zag (v<<1, inverted if negative), then uvarint. */
static const struct varint_vector go_vectors[] = {
	{ 0, 1, { 0x00 } },
	{ 1, 1, { 0x02 } },
	{ 63, 1, { 0x7e } },
	{ 64, 2, { 0x80, 0x01 } },
	{ 127, 2, { 0xfe, 0x01 } },
	{ 128, 2, { 0x80, 0x02 } },
	{ 300, 2, { 0xd8, 0x04 } },
	{ 1048576, 4, { 0x80, 0x80, 0x80, 0x01 } },
	{ -1, 1, { 0x01 } },
	{ -64, 1, { 0x7f } },
	{ -65, 2, { 0x81, 0x01 } },
	{ INT64_MAX, 10, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
	{ INT64_MIN, 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
};

static void
test_go_putvarint_bytes(void **state)
{
	for (size_t i = 0; i < sizeof(go_vectors) / sizeof(go_vectors[0]); i++) {
		const struct varint_vector *t = &go_vectors[i];
		uint8_t out[FRAME_VARINT_MAX_BYTES];
		int64_t v = 12345;

		memset(out, 0xee, sizeof(out));
		assert_int_equal(frame_put_varint(out, t->value), t->len);
		assert_memory_equal(out, t->bytes, t->len);
		assert_int_equal(frame_get_varint(t->bytes, t->len, &v), (int)t->len);
		assert_true(v == t->value);
	}
}

static void
test_round_trip(void **state)
{
	static const int64_t edges[] = {
		0, 1, -1, 2, -2, 63, -63, 64, -64, 65, -65, 127, 128, 8191, 8192,
		-8192, -8193, 1048576, INT32_MAX, INT32_MIN, (int64_t)1 << 62,
		-((int64_t)1 << 62), INT64_MAX, INT64_MAX - 1, INT64_MIN,
		INT64_MIN + 1,
	};
	uint8_t buf[FRAME_VARINT_MAX_BYTES + 4];
	int64_t v;

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		size_t n = frame_put_varint(buf, edges[i]);
		assert_true(n >= 1 && n <= FRAME_VARINT_MAX_BYTES);
		assert_int_equal(frame_get_varint(buf, n, &v), (int)n);
		assert_true(v == edges[i]);
	}
	/* Every power of two and its neighbours, both signs. */
	for (int s = 0; s < 63; s++) {
		for (int d = -1; d <= 1; d++) {
			int64_t x = (int64_t)((uint64_t)1 << s) + d;
			for (int sign = 0; sign < 2; sign++) {
				int64_t want = sign ? -x : x;
				size_t n = frame_put_varint(buf, want);
				/* Trailing bytes are not part of the varint. */
				memset(buf + n, 0x80, sizeof(buf) - n);
				assert_int_equal(frame_get_varint(buf, sizeof(buf), &v), (int)n);
				assert_true(v == want);
				/* Every strict prefix is incomplete. */
				for (size_t k = 0; k < n; k++)
					assert_int_equal(frame_get_varint(buf, k, &v),
					    FRAME_NEED_MORE);
			}
		}
	}
	/* A cheap LCG over the whole range. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 100000; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		int64_t want = (int64_t)(x >> (x & 63));
		if (x & 0x100)
			want = ~want;
		size_t n = frame_put_varint(buf, want);
		assert_int_equal(frame_get_varint(buf, n, &v), (int)n);
		assert_true(v == want);
	}
}

static void
test_overlong_rejected(void **state)
{
	/* Eleven bytes: ten continuation bytes, then a terminator. */
	static const uint8_t eleven[] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
	};
	/* Ten bytes whose last carries more than the 64th bit. */
	static const uint8_t tenth_big[] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
	};
	static const uint8_t tenth_7f[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
	};
	/* The tenth byte may be 1. */
	static const uint8_t tenth_one[] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
	};
	int64_t v;
	size_t len = 777;

	assert_int_equal(frame_get_varint(eleven, sizeof(eleven), &v), FRAME_ERR_OVERFLOW);
	assert_int_equal(frame_get_varint(eleven, 10, &v), FRAME_ERR_OVERFLOW);
	assert_int_equal(frame_get_varint(eleven, 9, &v), FRAME_NEED_MORE);
	assert_int_equal(frame_get_varint(tenth_big, sizeof(tenth_big), &v),
	    FRAME_ERR_OVERFLOW);
	assert_int_equal(frame_get_varint(tenth_7f, sizeof(tenth_7f), &v),
	    FRAME_ERR_OVERFLOW);
	assert_int_equal(frame_get_varint(tenth_one, sizeof(tenth_one), &v), 10);
	assert_true(v == (int64_t)1 << 62);	/* zig-zag of 1 << 63 */

	assert_int_equal(frame_parse_length(eleven, sizeof(eleven), SIZE_MAX, &len),
	    FRAME_ERR_OVERFLOW);
	assert_int_equal(frame_parse_length(tenth_big, sizeof(tenth_big), SIZE_MAX, &len),
	    FRAME_ERR_OVERFLOW);
	assert_int_equal(len, 777);
}

static void
test_parse_length(void **state)
{
	uint8_t buf[FRAME_VARINT_MAX_BYTES] = { 0 };
	size_t len = 777;
	size_t n;

	assert_int_equal(frame_parse_length(buf, 0, FRAME_MAX_MESSAGE_BYTES, &len),
	    FRAME_NEED_MORE);

	n = frame_put_varint(buf, 0);
	assert_int_equal(frame_parse_length(buf, n, FRAME_MAX_MESSAGE_BYTES, &len), 1);
	assert_int_equal(len, 0);

	n = frame_put_varint(buf, 300);
	assert_int_equal(frame_parse_length(buf, 1, FRAME_MAX_MESSAGE_BYTES, &len),
	    FRAME_NEED_MORE);
	assert_int_equal(frame_parse_length(buf, n, FRAME_MAX_MESSAGE_BYTES, &len), 2);
	assert_int_equal(len, 300);

	/* Exactly the maximum is accepted, one more is not. */
	n = frame_put_varint(buf, FRAME_MAX_MESSAGE_BYTES);
	assert_int_equal(frame_parse_length(buf, n, FRAME_MAX_MESSAGE_BYTES, &len), 4);
	assert_int_equal(len, FRAME_MAX_MESSAGE_BYTES);
	len = 777;
	n = frame_put_varint(buf, FRAME_MAX_MESSAGE_BYTES + 1);
	assert_int_equal(frame_parse_length(buf, n, FRAME_MAX_MESSAGE_BYTES, &len),
	    FRAME_ERR_TOO_LARGE);
	n = frame_put_varint(buf, INT64_MAX);
	assert_int_equal(frame_parse_length(buf, n, FRAME_MAX_MESSAGE_BYTES, &len),
	    FRAME_ERR_TOO_LARGE);
	n = frame_put_varint(buf, 301);
	assert_int_equal(frame_parse_length(buf, n, 300, &len), FRAME_ERR_TOO_LARGE);
	assert_int_equal(len, 777);

	/* Negative lengths, small and huge. */
	static const int64_t negs[] = { -1, -2, -300, INT64_MIN };
	for (size_t i = 0; i < sizeof(negs) / sizeof(negs[0]); i++) {
		n = frame_put_varint(buf, negs[i]);
		assert_int_equal(frame_parse_length(buf, n, SIZE_MAX, &len),
		    FRAME_ERR_NEGATIVE);
	}
	assert_int_equal(len, 777);
}

static void
test_strerror(void **state)
{
	static const int codes[] = {
		FRAME_NEED_MORE, FRAME_ERR_OVERFLOW, FRAME_ERR_NEGATIVE,
		FRAME_ERR_TOO_LARGE, -99, 5,
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = frame_strerror(codes[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
	assert_string_not_equal(frame_strerror(FRAME_ERR_NEGATIVE),
	    frame_strerror(FRAME_ERR_TOO_LARGE));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_putvarint_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_overlong_rejected),
		cmocka_unit_test(test_parse_length),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

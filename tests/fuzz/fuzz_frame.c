/*
 * Fuzz target: frame_get_varint() and frame_parse_length() on arbitrary
 * bytes. A successful decode re-encodes (canonically, never longer) to
 * the same value, the two parsers agree, and the first 8 input bytes as
 * an int64 survive an encode/decode round trip.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t enc[FRAME_VARINT_MAX_BYTES];
	int64_t v = 0, w = 0;
	size_t msg_len = 0;

	int n = frame_get_varint(data, size, &v);
	CHECK(n == FRAME_NEED_MORE || n == FRAME_ERR_OVERFLOW ||
	    (n > 0 && n <= FRAME_VARINT_MAX_BYTES && (size_t)n <= size));
	if (n > 0) {
		size_t m = frame_put_varint(enc, v);
		CHECK(m >= 1 && m <= (size_t)n);
		CHECK(frame_get_varint(enc, m, &w) == (int)m && w == v);
		/* A canonical input is reproduced byte for byte. */
		if (data[n - 1] != 0 || n == 1)
			CHECK(m == (size_t)n && memcmp(enc, data, m) == 0);
	}

	int r = frame_parse_length(data, size, FRAME_MAX_MESSAGE_BYTES, &msg_len);
	if (n <= 0)
		CHECK(r == n);
	else if (v < 0)
		CHECK(r == FRAME_ERR_NEGATIVE);
	else if (v > FRAME_MAX_MESSAGE_BYTES)
		CHECK(r == FRAME_ERR_TOO_LARGE);
	else
		CHECK(r == n && msg_len == (size_t)v);
	CHECK(frame_strerror(r) != NULL);

	if (size >= 8) {
		uint64_t u = 0;
		for (int i = 0; i < 8; i++)
			u = u << 8 | data[i];
		v = (int64_t)u;
		size_t m = frame_put_varint(enc, v);
		CHECK(m >= 1 && m <= FRAME_VARINT_MAX_BYTES);
		CHECK(frame_get_varint(enc, m, &w) == (int)m && w == v);
		CHECK(frame_get_varint(enc, m - 1, &w) == FRAME_NEED_MORE);
	}
	return 0;
}

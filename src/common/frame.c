#include <config.h>

#include "common/frame.h"

size_t
frame_put_varint(uint8_t out[FRAME_VARINT_MAX_BYTES], int64_t v)
{
	/* Zig-zag: small magnitudes of either sign get short encodings. */
	uint64_t ux = (uint64_t)v << 1;
	size_t n = 0;

	if (v < 0)
		ux = ~ux;
	while (ux >= 0x80) {
		out[n++] = (uint8_t)(ux | 0x80);
		ux >>= 7;
	}
	out[n++] = (uint8_t)ux;
	return n;
}

int
frame_get_varint(const uint8_t *buf, size_t len, int64_t *v)
{
	uint64_t ux = 0;
	unsigned shift = 0;

	for (size_t i = 0; i < FRAME_VARINT_MAX_BYTES; i++) {
		if (i >= len)
			return FRAME_NEED_MORE;
		uint8_t b = buf[i];
		if (b < 0x80) {
			/* As Go: the 10th byte may only carry the top bit. */
			if (i == FRAME_VARINT_MAX_BYTES - 1 && b > 1)
				return FRAME_ERR_OVERFLOW;
			ux |= (uint64_t)b << shift;
			int64_t x = (int64_t)(ux >> 1);
			if (ux & 1)
				x = ~x;
			*v = x;
			return (int)i + 1;
		}
		ux |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	return FRAME_ERR_OVERFLOW;
}

int
frame_parse_length(const uint8_t *buf, size_t len, size_t max_msg, size_t *msg_len)
{
	int64_t v;
	int n = frame_get_varint(buf, len, &v);

	if (n <= 0)
		return n;
	if (v < 0)
		return FRAME_ERR_NEGATIVE;
	if ((uint64_t)v > max_msg)
		return FRAME_ERR_TOO_LARGE;
	*msg_len = (size_t)v;
	return n;
}

const char *
frame_strerror(int status)
{
	switch (status) {
	case FRAME_NEED_MORE:		return "incomplete length prefix";
	case FRAME_ERR_OVERFLOW:	return "length prefix is not a valid varint";
	case FRAME_ERR_NEGATIVE:	return "negative frame length";
	case FRAME_ERR_TOO_LARGE:	return "frame larger than the limit";
	default:			return "unknown framing error";
	}
}

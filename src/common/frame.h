/*
 * Length framing of the local socket API: each message is preceded by its
 * length as a signed zig-zag varint, exactly as Go's binary.PutVarint writes
 * it (at most 10 bytes). Parsing here is the single place that reads the
 * prefix of an untrusted frame.
 */
#ifndef NYMD_FRAME_H
#define NYMD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_VARINT_MAX_BYTES	10
/* The seed refused TCP requests larger than 1 MiB. */
#define FRAME_MAX_MESSAGE_BYTES	(1024 * 1024)

enum frame_status {
	FRAME_NEED_MORE = 0,	/* prefix incomplete */
	FRAME_ERR_OVERFLOW = -1,	/* more than 10 bytes or over 64 bits */
	FRAME_ERR_NEGATIVE = -2,	/* a negative length */
	FRAME_ERR_TOO_LARGE = -3,	/* length over the caller's maximum */
};

/* Encodes v as Go's PutVarint does; returns the byte count (1..10). */
size_t	frame_put_varint(uint8_t out[FRAME_VARINT_MAX_BYTES], int64_t v);
/*
 * Decodes a varint from buf. Returns the number of bytes consumed (> 0),
 * FRAME_NEED_MORE when buf ends inside it, or FRAME_ERR_OVERFLOW.
 */
int	frame_get_varint(const uint8_t *buf, size_t len, int64_t *v);
/*
 * Reads a frame's length prefix: returns the prefix size (> 0) and sets
 * *msg_len, FRAME_NEED_MORE, or a negative frame_status.
 */
int	frame_parse_length(const uint8_t *buf, size_t len, size_t max_msg,
	    size_t *msg_len);
const char *frame_strerror(int status);

#endif

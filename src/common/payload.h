/*
 * The end-to-end payload of a real message (docs/replies.md): what the
 * recipient reads out of a Sphinx message, and what keyd puts in one.
 *
 *   PLAIN  (1): type || message id (16) || message
 *   TAGGED (3): type || message id || sender tag (16) || k (1) ||
 *               k reply blocks (SURB_BYTES each) || message,
 *               0 <= k <= PAYLOAD_MAX_SURBS
 *   SURBS  (4): type || message id || sender tag || k || k reply blocks,
 *               1 <= k <= PAYLOAD_MAX_SURBS, nothing after them
 *   MORE   (5): type || message id || n (1): a replier asks the creator,
 *               through one of its blocks, for n more (1 <= n <=
 *               PAYLOAD_MAX_MORE); only ever inside a reply
 *   FRAGMENT (6): type || message id || index (2, big-endian) ||
 *               count (2, big-endian) || bytes: part index of count of a
 *               message too large for one PLAIN payload, 2 <= count <=
 *               PAYLOAD_MAX_FRAGMENTS, index < count; every part but the
 *               last carries PAYLOAD_FRAGMENT_BYTES, the last 1 to
 *               PAYLOAD_FRAGMENT_BYTES. All parts share the message id.
 *
 * Type 2 is the loop cover (keyd/packet.h), which is not a message.  A
 * PLAIN payload is exactly what nymd sent before reply blocks existed.
 * payload_decode() is the one parser of these bytes from the network.
 */
#ifndef NYMD_COMMON_PAYLOAD_H
#define NYMD_COMMON_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/message.h"
#include "common/sphinx.h"
#include "common/surb.h"

#define PAYLOAD_TAG_BYTES	16
/* The bytes before the reply blocks of TAGGED and SURBS: 34. */
#define PAYLOAD_TAGGED_HEAD_BYTES \
	(1 + MESSAGE_ID_BYTES + PAYLOAD_TAG_BYTES + 1)
/*
 * A forward packet's message is beside its acknowledgement block
 * (docs/acks.md): SPHINX_MAX_ACKED_MESSAGE_BYTES = 1632. Reply blocks in
 * one packet at most: 3 (1368 bytes of 1598).
 */
#define PAYLOAD_MAX_SURBS \
	((SPHINX_MAX_ACKED_MESSAGE_BYTES - PAYLOAD_TAGGED_HEAD_BYTES) / SURB_BYTES)

/* Blocks one MORE payload asks for at most. */
#define PAYLOAD_MAX_MORE	16

/* The bytes before a FRAGMENT's part: 21. */
#define PAYLOAD_FRAGMENT_HEAD_BYTES	(1 + MESSAGE_ID_BYTES + 2 + 2)
/* The message bytes one FRAGMENT carries: 1611. */
#define PAYLOAD_FRAGMENT_BYTES \
	(SPHINX_MAX_ACKED_MESSAGE_BYTES - PAYLOAD_FRAGMENT_HEAD_BYTES)
/*
 * Parts of one message at most, and so the largest message fragments
 * carry: 8192 * 1611 = 13 197 312 bytes. A bound for what a recipient
 * keeps of a partial message, not a property of the 16-bit fields.
 */
#define PAYLOAD_MAX_FRAGMENTS		8192
#define PAYLOAD_MAX_FRAGMENTED_BYTES \
	((size_t)PAYLOAD_MAX_FRAGMENTS * PAYLOAD_FRAGMENT_BYTES)

enum payload_type {
	PAYLOAD_PLAIN = 1,
	PAYLOAD_TAGGED = 3,
	PAYLOAD_SURBS = 4,
	PAYLOAD_MORE = 5,
	PAYLOAD_FRAGMENT = 6,
};

struct payload {
	enum payload_type	 type;
	uint8_t			 msgid[MESSAGE_ID_BYTES];
	uint8_t			 tag[PAYLOAD_TAG_BYTES];	/* TAGGED, SURBS */
	size_t			 n_surbs;
	const uint8_t		*surbs;		/* n_surbs * SURB_BYTES */
	const uint8_t		*message;	/* PLAIN, TAGGED, FRAGMENT; may be NULL if 0 */
	size_t			 message_len;
	unsigned int		 more;		/* MORE: blocks asked for */
	unsigned int		 index;		/* FRAGMENT: this part, from 0 */
	unsigned int		 count;		/* FRAGMENT: parts in all */
};

/*
 * The largest message a TAGGED payload with k reply blocks carries:
 * 1598 - 456 k (1142, 686, 230 for k = 1..3); -1 for k over
 * PAYLOAD_MAX_SURBS.
 */
long	payload_tagged_room(size_t k);
/*
 * The FRAGMENT parts a message of len bytes is cut into: 0 if it fits one
 * PLAIN payload beside an acknowledgement block (len <=
 * MESSAGE_MAX_ACKED_BYTES: it is sent as one), or if it
 * needs more than PAYLOAD_MAX_FRAGMENTS parts.
 */
size_t	payload_fragment_count(size_t len);
/*
 * Writes p to out (at most SPHINX_MAX_MESSAGE_BYTES) and its length to
 * *len. -1 if p does not fit or is not a valid payload (a count out of
 * range, a SURBS payload with a message).
 */
int	payload_encode(uint8_t out[SPHINX_MAX_MESSAGE_BYTES], size_t *len,
	    const struct payload *p);
/*
 * Reads len bytes of a delivered message into *p, whose pointers then
 * point into in. Every reply block is checked with surb_parse(). 0, or
 * -1 for anything else (*p is then zeroed).
 */
int	payload_decode(const uint8_t *in, size_t len, struct payload *p);

#endif

/* The end-to-end payload of a real message: common/payload.h. */
#include <config.h>

#include <string.h>

#include "common/config.h"
#include "common/payload.h"

_Static_assert(CONFIG_MIN_MAX_MESSAGE_BYTES == MESSAGE_MAX_BYTES,
    "max_message_bytes admits what one packet carries");
_Static_assert(CONFIG_MAX_MAX_MESSAGE_BYTES == PAYLOAD_MAX_FRAGMENTED_BYTES,
    "max_message_bytes is at most what fragments carry");

long
payload_tagged_room(size_t k)
{
	if (k > PAYLOAD_MAX_SURBS)
		return -1;
	return (long)(SPHINX_MAX_ACKED_MESSAGE_BYTES - PAYLOAD_TAGGED_HEAD_BYTES -
	    k * SURB_BYTES);
}

size_t
payload_fragment_count(size_t len)
{
	if (len <= MESSAGE_MAX_ACKED_BYTES || len > PAYLOAD_MAX_FRAGMENTED_BYTES)
		return 0;
	return (len + PAYLOAD_FRAGMENT_BYTES - 1) / PAYLOAD_FRAGMENT_BYTES;
}

/* Every part but the last is full; the last is not empty. */
static int
payload_fragment_valid(unsigned int index, unsigned int count, size_t len)
{
	if (count < 2 || count > PAYLOAD_MAX_FRAGMENTS || index >= count)
		return 0;
	if (index + 1 < count)
		return len == PAYLOAD_FRAGMENT_BYTES;
	return len >= 1 && len <= PAYLOAD_FRAGMENT_BYTES;
}

static int
payload_valid(const struct payload *p)
{
	switch (p->type) {
	case PAYLOAD_PLAIN:
		return p->n_surbs == 0 && p->message_len <= MESSAGE_MAX_BYTES;
	case PAYLOAD_TAGGED:
		return payload_tagged_room(p->n_surbs) >= (long)p->message_len;
	case PAYLOAD_SURBS:
		return p->n_surbs >= 1 && p->n_surbs <= PAYLOAD_MAX_SURBS &&
		    p->message_len == 0;
	case PAYLOAD_MORE:
		return p->n_surbs == 0 && p->message_len == 0 && p->more >= 1 &&
		    p->more <= PAYLOAD_MAX_MORE;
	case PAYLOAD_FRAGMENT:
		return p->n_surbs == 0 &&
		    payload_fragment_valid(p->index, p->count, p->message_len);
	default:
		return 0;
	}
}

int
payload_encode(uint8_t out[SPHINX_MAX_MESSAGE_BYTES], size_t *len,
    const struct payload *p)
{
	size_t n = 0;

	*len = 0;
	if (!payload_valid(p) || (p->n_surbs > 0 && p->surbs == NULL) ||
	    (p->message_len > 0 && p->message == NULL))
		return -1;
	out[n++] = (uint8_t)p->type;
	memcpy(out + n, p->msgid, MESSAGE_ID_BYTES);
	n += MESSAGE_ID_BYTES;
	if (p->type == PAYLOAD_MORE) {
		out[n++] = (uint8_t)p->more;
		*len = n;
		return 0;
	}
	if (p->type == PAYLOAD_FRAGMENT) {
		out[n++] = (uint8_t)(p->index >> 8);
		out[n++] = (uint8_t)p->index;
		out[n++] = (uint8_t)(p->count >> 8);
		out[n++] = (uint8_t)p->count;
	} else if (p->type != PAYLOAD_PLAIN) {
		memcpy(out + n, p->tag, PAYLOAD_TAG_BYTES);
		n += PAYLOAD_TAG_BYTES;
		out[n++] = (uint8_t)p->n_surbs;
		if (p->n_surbs > 0)
			memcpy(out + n, p->surbs, p->n_surbs * SURB_BYTES);
		n += p->n_surbs * SURB_BYTES;
	}
	if (p->message_len > 0)
		memcpy(out + n, p->message, p->message_len);
	*len = n + p->message_len;
	return 0;
}

/* The reply blocks and what follows them, of TAGGED or SURBS. */
static int
payload_decode_tagged(const uint8_t *in, size_t len, struct payload *p)
{
	size_t n = 1 + MESSAGE_ID_BYTES, k;

	if (len < PAYLOAD_TAGGED_HEAD_BYTES)
		return -1;
	memcpy(p->tag, in + n, PAYLOAD_TAG_BYTES);
	n += PAYLOAD_TAG_BYTES;
	k = in[n++];
	if (k > PAYLOAD_MAX_SURBS || (p->type == PAYLOAD_SURBS && k == 0))
		return -1;
	if (len - n < k * SURB_BYTES)
		return -1;
	for (size_t i = 0; i < k; i++)
		if (surb_parse(in + n + i * SURB_BYTES, SURB_BYTES, NULL) != 0)
			return -1;
	p->n_surbs = k;
	p->surbs = k > 0 ? in + n : NULL;
	n += k * SURB_BYTES;
	if (p->type == PAYLOAD_SURBS && n != len)
		return -1;
	p->message = len > n ? in + n : NULL;
	p->message_len = len - n;
	/* A TAGGED payload travels beside an acknowledgement block: what
	 * payload_encode() takes, no more (one encoding per payload). */
	if ((long)p->message_len > payload_tagged_room(k))
		return -1;
	return 0;
}

static int
payload_decode_fragment(const uint8_t *in, size_t len, struct payload *p)
{
	size_t n = 1 + MESSAGE_ID_BYTES;

	if (len < PAYLOAD_FRAGMENT_HEAD_BYTES)
		return -1;
	p->index = (unsigned int)in[n] << 8 | in[n + 1];
	p->count = (unsigned int)in[n + 2] << 8 | in[n + 3];
	n += 4;
	p->message_len = len - n;
	p->message = p->message_len > 0 ? in + n : NULL;
	return payload_fragment_valid(p->index, p->count, p->message_len) ? 0 : -1;
}

int
payload_decode(const uint8_t *in, size_t len, struct payload *p)
{
	memset(p, 0, sizeof(*p));
	if (in == NULL || len < 1 + MESSAGE_ID_BYTES || len > SPHINX_MAX_MESSAGE_BYTES)
		goto bad;
	p->type = (enum payload_type)in[0];
	memcpy(p->msgid, in + 1, MESSAGE_ID_BYTES);
	switch (in[0]) {
	case PAYLOAD_PLAIN:
		p->message_len = len - 1 - MESSAGE_ID_BYTES;
		p->message = p->message_len > 0 ? in + 1 + MESSAGE_ID_BYTES : NULL;
		return 0;
	case PAYLOAD_TAGGED:
	case PAYLOAD_SURBS:
		if (payload_decode_tagged(in, len, p) == 0)
			return 0;
		break;
	case PAYLOAD_MORE:
		p->more = len == 2 + MESSAGE_ID_BYTES ? in[1 + MESSAGE_ID_BYTES] : 0;
		if (p->more >= 1 && p->more <= PAYLOAD_MAX_MORE)
			return 0;
		break;
	case PAYLOAD_FRAGMENT:
		if (payload_decode_fragment(in, len, p) == 0)
			return 0;
		break;
	}
bad:
	memset(p, 0, sizeof(*p));
	return -1;
}

/*
 * The end-to-end payload of a real message (common/payload.h,
 * docs/replies.md): a PLAIN payload is byte for byte what nymd sent before
 * reply blocks; TAGGED and SURBS round-trip; every length, count and reply
 * block from outside is checked, and what does not fit is refused.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/payload.h"

static uint8_t surbs[PAYLOAD_MAX_SURBS + 1][SURB_BYTES];
static uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];

static int
setup(void **state)
{
	assert_true(sodium_init() >= 0);
	/* Random bytes: their alpha is canonical but with negligible
	 * probability, which is all surb_parse() can check. */
	randombytes_buf(surbs, sizeof(surbs));
	for (size_t i = 0; i < sizeof(surbs) / SURB_BYTES; i++)
		surbs[i][40 + 31] &= 0x3f;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 13 + 1);
	return 0;
}

static void
test_sizes(void **state)
{
	assert_int_equal(PAYLOAD_TAGGED_HEAD_BYTES, 34);
	/* beside the 416-byte acknowledgement block (docs/acks.md) */
	assert_int_equal(PAYLOAD_MAX_SURBS, 3);
	assert_int_equal(payload_tagged_room(0), 1598);
	assert_int_equal(payload_tagged_room(1), 1142);
	assert_int_equal(payload_tagged_room(3), 230);
	assert_int_equal(payload_tagged_room(4), -1);
}

/* PLAIN is the format of before: type 1, the id, the message. */
static void
test_plain_unchanged(void **state)
{
	struct payload p = { .type = PAYLOAD_PLAIN, .message = msg,
	    .message_len = MESSAGE_MAX_BYTES }, q;
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;

	memset(p.msgid, 0x42, sizeof(p.msgid));
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(len, SPHINX_MAX_MESSAGE_BYTES);
	assert_int_equal(out[0], 1);
	assert_memory_equal(out + 1, p.msgid, 16);
	assert_memory_equal(out + 17, msg, MESSAGE_MAX_BYTES);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.type, PAYLOAD_PLAIN);
	assert_int_equal(q.n_surbs, 0);
	assert_int_equal(q.message_len, MESSAGE_MAX_BYTES);
	assert_memory_equal(q.message, msg, MESSAGE_MAX_BYTES);
	/* an empty message */
	p.message_len = 0;
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(len, 17);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.message_len, 0);
	/* one byte over */
	p.message_len = MESSAGE_MAX_BYTES + 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	assert_int_equal(len, 0);
}

static void
test_tagged_round_trip(void **state)
{
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES];
	struct payload q;
	size_t len;

	for (size_t k = 0; k <= PAYLOAD_MAX_SURBS; k++) {
		struct payload p = { .type = PAYLOAD_TAGGED, .n_surbs = k,
		    .surbs = surbs[0], .message = msg,
		    .message_len = (size_t)payload_tagged_room(k) };
		memset(p.msgid, 0x10 + (int)k, sizeof(p.msgid));
		memset(p.tag, 0x70 + (int)k, sizeof(p.tag));
		assert_int_equal(payload_encode(out, &len, &p), 0);
		assert_int_equal(len, SPHINX_MAX_ACKED_MESSAGE_BYTES);
		assert_int_equal(out[0], 3);
		assert_int_equal(out[33], k);
		assert_int_equal(payload_decode(out, len, &q), 0);
		assert_int_equal(q.type, PAYLOAD_TAGGED);
		assert_memory_equal(q.msgid, p.msgid, 16);
		assert_memory_equal(q.tag, p.tag, 16);
		assert_int_equal(q.n_surbs, k);
		if (k > 0)
			assert_memory_equal(q.surbs, surbs[0], k * SURB_BYTES);
		assert_int_equal(q.message_len, p.message_len);
		assert_memory_equal(q.message, msg, p.message_len);
		/* a message one byte longer does not fit, either way (the
		 * fuzz target found decode taking what encode refused) */
		out[len] = 0x55;
		assert_int_equal(payload_decode(out, len + 1, &q), -1);
		p.message_len++;
		assert_int_equal(payload_encode(out, &len, &p), -1);
	}
}

static void
test_surbs_only(void **state)
{
	struct payload p = { .type = PAYLOAD_SURBS, .n_surbs = 3, .surbs = surbs[0] }, q;
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;

	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(len, 34 + 3 * SURB_BYTES);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.type, PAYLOAD_SURBS);
	assert_int_equal(q.n_surbs, 3);
	assert_int_equal(q.message_len, 0);
	assert_null(q.message);
	/* trailing bytes, no block, five blocks, a message: refused */
	assert_int_equal(payload_decode(out, len + 1, &q), -1);
	assert_int_equal(q.n_surbs, 0);
	p.n_surbs = 0;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.n_surbs = 5;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.n_surbs = 1;
	p.message = msg;
	p.message_len = 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
}

static void
test_decode_refuses(void **state)
{
	struct payload p = { .type = PAYLOAD_TAGGED, .n_surbs = 2,
	    .surbs = surbs[0], .message = msg, .message_len = 5 }, q;
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES], bad[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;

	assert_int_equal(payload_encode(out, &len, &p), 0);
	/* truncated inside the blocks, or inside the head */
	assert_int_equal(payload_decode(out, 34 + SURB_BYTES, &q), -1);
	assert_int_equal(payload_decode(out, 33, &q), -1);
	assert_int_equal(payload_decode(out, 16, &q), -1);
	assert_int_equal(payload_decode(NULL, 0, &q), -1);
	/* a count over the maximum */
	memcpy(bad, out, len);
	bad[33] = PAYLOAD_MAX_SURBS + 1;
	assert_int_equal(payload_decode(bad, len, &q), -1);
	/* a reply block whose alpha is not canonical (>= p) */
	memcpy(bad, out, len);
	memset(bad + 34 + SURB_BYTES + 40, 0xff, 32);
	assert_int_equal(payload_decode(bad, len, &q), -1);
	/* unknown types, and the loop cover's, are not messages */
	memcpy(bad, out, len);
	for (int t = 0; t < 256; t++) {
		if (t == 1 || t == 3 || t == 6)
			continue;
		bad[0] = (uint8_t)t;
		assert_int_equal(payload_decode(bad, len, &q), -1);
	}
	/* too long for a Sphinx message */
	assert_int_equal(payload_decode(msg, SPHINX_MAX_MESSAGE_BYTES + 1, &q), -1);
	/* and the original still decodes */
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.message_len, 5);
}

/* MORE: a replier asks for 1 to 16 more blocks, in 18 bytes exactly. */
static void
test_more(void **state)
{
	struct payload p = { .type = PAYLOAD_MORE, .more = PAYLOAD_MAX_MORE }, q;
	uint8_t out[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;

	memset(p.msgid, 9, sizeof(p.msgid));
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(len, 18);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[17], 16);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.type, PAYLOAD_MORE);
	assert_int_equal(q.more, 16);
	assert_int_equal(q.message_len, 0);
	assert_int_equal(q.n_surbs, 0);
	assert_int_equal(payload_decode(out, len + 1, &q), -1);
	assert_int_equal(payload_decode(out, len - 1, &q), -1);
	out[17] = 0;
	assert_int_equal(payload_decode(out, len, &q), -1);
	out[17] = PAYLOAD_MAX_MORE + 1;
	assert_int_equal(payload_decode(out, len, &q), -1);
	assert_int_equal(q.more, 0);
	p.more = 0;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.more = PAYLOAD_MAX_MORE + 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.more = 1;
	p.message_len = 1;
	p.message = out;
	assert_int_equal(payload_encode(out, &len, &p), -1);
}

/* FRAGMENT: 21 bytes of head, full parts but the last, counts bounded. */
static void
test_fragment(void **state)
{
	uint8_t part[PAYLOAD_FRAGMENT_BYTES + 1], out[SPHINX_MAX_MESSAGE_BYTES];
	struct payload p = { .type = PAYLOAD_FRAGMENT, .index = 0x0102,
	    .count = 0x0203, .message = part, .message_len = PAYLOAD_FRAGMENT_BYTES }, q;
	size_t len;

	(void)state;
	assert_int_equal(PAYLOAD_FRAGMENT_BYTES, 1611);
	assert_int_equal(payload_fragment_count(0), 0);
	assert_int_equal(payload_fragment_count(MESSAGE_MAX_ACKED_BYTES), 0);
	assert_int_equal(payload_fragment_count(MESSAGE_MAX_ACKED_BYTES + 1), 2);
	assert_int_equal(payload_fragment_count(2 * 1611), 2);
	assert_int_equal(payload_fragment_count(2 * 1611 + 1), 3);
	assert_int_equal(payload_fragment_count(1048576), 651);
	assert_int_equal(payload_fragment_count(PAYLOAD_MAX_FRAGMENTED_BYTES),
	    PAYLOAD_MAX_FRAGMENTS);
	assert_int_equal(payload_fragment_count(PAYLOAD_MAX_FRAGMENTED_BYTES + 1), 0);

	randombytes_buf(part, sizeof(part));
	memset(p.msgid, 7, sizeof(p.msgid));
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(len, SPHINX_MAX_ACKED_MESSAGE_BYTES);
	assert_int_equal(out[0], 6);
	assert_int_equal(out[17], 1);
	assert_int_equal(out[18], 2);
	assert_int_equal(out[19], 2);
	assert_int_equal(out[20], 3);
	assert_memory_equal(out + 21, part, PAYLOAD_FRAGMENT_BYTES);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.type, PAYLOAD_FRAGMENT);
	assert_int_equal(q.index, 0x0102);
	assert_int_equal(q.count, 0x0203);
	assert_memory_equal(q.msgid, p.msgid, MESSAGE_ID_BYTES);
	assert_ptr_equal(q.message, out + 21);
	assert_int_equal(q.message_len, PAYLOAD_FRAGMENT_BYTES);
	/* a part before the last must be full */
	assert_int_equal(payload_decode(out, len - 1, &q), -1);
	p.message_len--;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	/* the last may be short, not empty */
	p.index = p.count - 1;
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.message_len, PAYLOAD_FRAGMENT_BYTES - 1);
	assert_int_equal(payload_decode(out, 21, &q), -1);
	assert_int_equal(payload_decode(out, 20, &q), -1);
	p.message_len = 0;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.message_len = PAYLOAD_FRAGMENT_BYTES + 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	/* index < count, 2 <= count <= PAYLOAD_MAX_FRAGMENTS */
	p.message_len = 10;
	p.index = 1;
	p.count = 2;
	assert_int_equal(payload_encode(out, &len, &p), 0);
	assert_int_equal(payload_decode(out, len, &q), 0);
	out[17] = 0;
	out[18] = 2;
	assert_int_equal(payload_decode(out, len, &q), -1);
	out[18] = 0;
	out[19] = 0;
	out[20] = 1;
	assert_int_equal(payload_decode(out, len, &q), -1);
	out[19] = (PAYLOAD_MAX_FRAGMENTS + 1) >> 8;
	out[20] = (PAYLOAD_MAX_FRAGMENTS + 1) & 0xff;
	out[17] = PAYLOAD_MAX_FRAGMENTS >> 8;
	out[18] = PAYLOAD_MAX_FRAGMENTS & 0xff;
	assert_int_equal(payload_decode(out, len, &q), -1);
	/* the last of PAYLOAD_MAX_FRAGMENTS */
	out[17] = (PAYLOAD_MAX_FRAGMENTS - 1) >> 8;
	out[18] = (PAYLOAD_MAX_FRAGMENTS - 1) & 0xff;
	out[19] = PAYLOAD_MAX_FRAGMENTS >> 8;
	out[20] = PAYLOAD_MAX_FRAGMENTS & 0xff;
	assert_int_equal(payload_decode(out, len, &q), 0);
	assert_int_equal(q.count, PAYLOAD_MAX_FRAGMENTS);
	p.count = 1;
	p.index = 0;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.count = PAYLOAD_MAX_FRAGMENTS + 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.count = 2;
	p.index = 2;
	assert_int_equal(payload_encode(out, &len, &p), -1);
	p.index = 1;
	p.n_surbs = 1;
	assert_int_equal(payload_encode(out, &len, &p), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_plain_unchanged),
		cmocka_unit_test(test_tagged_round_trip),
		cmocka_unit_test(test_surbs_only),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_more),
		cmocka_unit_test(test_fragment),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

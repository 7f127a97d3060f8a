/*
 * The parts of src/common/sphinx.c that src/common/surb.c builds reply
 * blocks from (docs/sphinx.md, section 17): header construction that hands
 * back every hop's payload keys, the payload cipher and encoding, and the
 * recipient's header check.  Only sphinx.c and surb.c include this header;
 * everybody else uses sphinx.h and surb.h.
 */
#ifndef NYMD_COMMON_SPHINX_IMPL_H
#define NYMD_COMMON_SPHINX_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "common/sphinx.h"

/* LIONESS keys K1 .. K4 of one layer (docs/sphinx.md, section 6). */
#define SPHINX_LIONESS_KEYS_BYTES	128

/*
 * Builds alpha_0 || beta_0 || gamma_0 (docs/sphinx.md, section 8, steps
 * 1-8) for a path whose last command may also be REPLY (with the SURB id
 * in next_id[0, 16), zeros after it), drawing the same randomness as
 * sphinx_create().  payload_keys[i] receives hop i's LIONESS keys.  On
 * error header and payload_keys are zeroed.
 */
int	sphinx_header_create(uint8_t header[SPHINX_HEADER_BYTES],
	    uint8_t payload_keys[SPHINX_MAX_HOPS][SPHINX_LIONESS_KEYS_BYTES],
	    const struct sphinx_hop *hops, size_t nhops,
	    const struct sphinx_rng *rng);

/* LIONESS over a whole payload; decryption may run in place (dst == src). */
void	sphinx_lioness_encrypt(uint8_t block[SPHINX_PAYLOAD_BYTES],
	    const uint8_t keys[SPHINX_LIONESS_KEYS_BYTES]);
void	sphinx_lioness_decrypt(uint8_t dst[SPHINX_PAYLOAD_BYTES],
	    const uint8_t src[SPHINX_PAYLOAD_BYTES],
	    const uint8_t keys[SPHINX_LIONESS_KEYS_BYTES]);

/* encode(m) of section 6; msg_len <= SPHINX_MAX_MESSAGE_BYTES. */
void	sphinx_payload_encode(uint8_t payload[SPHINX_PAYLOAD_BYTES],
	    const uint8_t *msg, size_t msg_len);
/*
 * Steps 5-7 of section 11 on a decrypted payload: SPHINX_ERR_PAYLOAD if
 * the zero tag is not zero, SPHINX_ERR_MALFORMED for a bad encoding.  On
 * error *msg_len is 0 and msg is untouched.
 */
int	sphinx_payload_decode(const uint8_t payload[SPHINX_PAYLOAD_BYTES],
	    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len);

/*
 * Steps 1-4 of section 11 at the last hop of a path: the header is
 * authentic for priv and its routing block well formed.  res gets the
 * block (command FINAL, REPLY, or another the caller refuses);
 * payload_keys the hop's LIONESS keys and replay_tag its replay tag (both
 * may be NULL).  On error res, payload_keys and replay_tag are zeroed.
 */
int	sphinx_recipient_header(const uint8_t priv[SPHINX_KEY_BYTES],
	    const uint8_t in[SPHINX_PACKET_BYTES], struct sphinx_hop_result *res,
	    uint8_t payload_keys[SPHINX_LIONESS_KEYS_BYTES],
	    uint8_t replay_tag[SPHINX_REPLAY_TAG_BYTES]);

/*
 * 1 if alpha (with its key phase bit ignored) is a canonical encoding,
 * below p; 0 otherwise.  What a hop checks first (section 10, step 1).
 */
int	sphinx_alpha_canonical(const uint8_t alpha[SPHINX_KEY_BYTES]);

#endif /* NYMD_COMMON_SPHINX_IMPL_H */

/*
 * Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise Protocol Framework, revision 34),
 * on libsodium only. A pure state machine: no I/O, no allocation, no logging.
 *
 * IK:   <- s
 *       ...
 *       -> e, es, s, ss
 *       <- e, ee, se
 *
 * Every DH with our static private key ("ss" and "se" for the initiator,
 * "es" and "ss" for the responder) can go through a callback, so that the
 * private key may live in another process. The callback may answer later:
 * it returns NOISE_DH_PENDING, the write or read returns NOISE_WANT_DH, the
 * caller hands the answer to noise_hs_dh_result() and calls the same write
 * or read again with the same arguments; processing resumes where it paused.
 *
 * Unlike the specification's default, a DH whose output is all zeros (a
 * low-order public key) is an error (NOISE_ERR_DH), as section 12.1 allows.
 */
#ifndef NYMD_COMMON_NOISE_H
#define NYMD_COMMON_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define NOISE_PROTOCOL_NAME	"Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define NOISE_KEY_BYTES		32	/* DHLEN, and the cipher key length */
#define NOISE_HASH_BYTES	64	/* HASHLEN of BLAKE2b */
#define NOISE_BLOCK_BYTES	128	/* BLOCKLEN of BLAKE2b, for HMAC */
#define NOISE_TAG_BYTES		16
#define NOISE_MAX_MSG_BYTES	65535
/* Handshake message size = overhead + payload length. */
#define NOISE_MSG1_OVERHEAD_BYTES \
	(NOISE_KEY_BYTES + NOISE_KEY_BYTES + NOISE_TAG_BYTES + NOISE_TAG_BYTES)
#define NOISE_MSG2_OVERHEAD_BYTES	(NOISE_KEY_BYTES + NOISE_TAG_BYTES)

/* A dh callback's answer when the result will come via noise_hs_dh_result() */
#define NOISE_DH_PENDING	1

enum noise_role {
	NOISE_INITIATOR = 0,
	NOISE_RESPONDER = 1
};

enum noise_status {
	NOISE_OK = 0,
	NOISE_WANT_DH = 1,	/* paused: noise_hs_dh_result(), then call again */
	NOISE_ERR_ARG = -1,	/* bad argument, or call out of order */
	NOISE_ERR_SIZE = -2,	/* message too short or too long, buffer too small */
	NOISE_ERR_DECRYPT = -3,	/* authentication failed */
	NOISE_ERR_DH = -4,	/* low-order public key, or the callback failed */
	NOISE_ERR_NONCE = -5,	/* nonce space exhausted: end the session */
	NOISE_ERR_FAILED = -6	/* the handshake already failed */
};

/* A CipherState. has_key == 0 is the specification's empty k. */
struct noise_cipher {
	uint8_t		k[NOISE_KEY_BYTES];
	uint64_t	n;
	int		has_key;
};

struct noise_keys {
	const uint8_t	*s_pub;		/* our static public key (required) */
	const uint8_t	*s_priv;	/* our static private key, or NULL: dh */
	/* DH(s, peer_pub) into out; 0, NOISE_DH_PENDING or negative */
	int		(*dh)(void *arg, uint8_t out[NOISE_KEY_BYTES],
			    const uint8_t peer_pub[NOISE_KEY_BYTES]);
	void		*dh_arg;
	const uint8_t	*rs;		/* initiator: responder's static key */
	const uint8_t	*e_priv;	/* test vectors only; NULL: random */
};

/* The HandshakeState. Callers own the memory; fields are private. */
struct noise_hs {
	struct noise_cipher cs;
	uint8_t		ck[NOISE_HASH_BYTES];
	uint8_t		h[NOISE_HASH_BYTES];
	uint8_t		s_pub[NOISE_KEY_BYTES];
	uint8_t		s_priv[NOISE_KEY_BYTES];
	uint8_t		e_pub[NOISE_KEY_BYTES];
	uint8_t		e_priv[NOISE_KEY_BYTES];
	uint8_t		rs[NOISE_KEY_BYTES];
	uint8_t		re[NOISE_KEY_BYTES];
	uint8_t		dh_out[NOISE_KEY_BYTES];
	int		(*dh)(void *, uint8_t *, const uint8_t *);
	void		*dh_arg;
	size_t		pos;		/* bytes of the current message done */
	size_t		msg_len;	/* length of the message being read */
	int		role;
	int		has_s_priv;
	int		fixed_e;
	int		msg;		/* 0, 1: next message; 2: done */
	int		token;		/* next token within that message */
	int		dh_state;	/* none, waiting, result ready */
	int		failed;
};

/* Prologue may be empty. Returns NOISE_OK or NOISE_ERR_ARG. */
int	noise_hs_init(struct noise_hs *, enum noise_role, const uint8_t *prologue,
	    size_t prologue_len, const struct noise_keys *);
/* Writes the next handshake message: NOISE_OK, NOISE_WANT_DH or an error. */
int	noise_hs_write(struct noise_hs *, const uint8_t *payload,
	    size_t payload_len, uint8_t *msg, size_t msg_max, size_t *msg_len);
/* Reads the next handshake message: NOISE_OK, NOISE_WANT_DH or an error. */
int	noise_hs_read(struct noise_hs *, const uint8_t *msg, size_t msg_len,
	    uint8_t *payload, size_t payload_max, size_t *payload_len);
/* The answer to a NOISE_DH_PENDING callback; shared == NULL: it failed. */
int	noise_hs_dh_result(struct noise_hs *, const uint8_t *shared);
int	noise_hs_done(const struct noise_hs *);
/* The peer's static key: known from the start (initiator) or after msg 1. */
const uint8_t *noise_hs_remote_static(const struct noise_hs *);
/*
 * After the last message: our sending and receiving CipherStates and the
 * handshake hash (may be NULL). Wipes the HandshakeState.
 */
int	noise_hs_split(struct noise_hs *, struct noise_cipher *send,
	    struct noise_cipher *recv, uint8_t hash[NOISE_HASH_BYTES]);
void	noise_hs_wipe(struct noise_hs *);

/* EncryptWithAd: out has room for len + NOISE_TAG_BYTES; in == out is fine. */
int	noise_cipher_encrypt(struct noise_cipher *, const uint8_t *ad,
	    size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);
/* DecryptWithAd: len >= NOISE_TAG_BYTES; out gets len - 16; in == out is fine. */
int	noise_cipher_decrypt(struct noise_cipher *, const uint8_t *ad,
	    size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);
void	noise_cipher_rekey(struct noise_cipher *);
void	noise_cipher_set_nonce(struct noise_cipher *, uint64_t);
void	noise_cipher_wipe(struct noise_cipher *);

/* The specification's HMAC-HASH and HKDF, exposed for the tests. */
void	noise_hmac(uint8_t out[NOISE_HASH_BYTES], const uint8_t *key,
	    size_t key_len, const uint8_t *data, size_t data_len);
void	noise_hkdf(const uint8_t ck[NOISE_HASH_BYTES], const uint8_t *ikm,
	    size_t ikm_len, uint8_t out1[NOISE_HASH_BYTES],
	    uint8_t out2[NOISE_HASH_BYTES], uint8_t *out3);

#endif /* NYMD_COMMON_NOISE_H */

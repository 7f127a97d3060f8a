/*
 * Registration statements (docs/directory.md, "Registration
 * statements"): a client's word that it registered with a provider, at a
 * time, signed with the client's own X25519 key by XEdDSA (xeddsa.h), so
 * that no provider can list a client that did not register with it.
 *
 * The signed message is fixed-size binary:
 *
 *     "nymd registration v1\n" || client (32) || provider (32)
 *         || registered (8, big-endian Unix milliseconds)
 *
 * It travels as its fields: on the link (proto/link.proto, Register) and
 * as an entry of a provider's registeredClients in JSON,
 * {"pubKey": KEY, "registered": MS, "signature": SIG}, whose one parser
 * is regstmt_from_json().
 */
#ifndef NYMD_COMMON_REGSTMT_H
#define NYMD_COMMON_REGSTMT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/xeddsa.h"

#define REGSTMT_CONTEXT		"nymd registration v1\n"
#define REGSTMT_CONTEXT_BYTES	(sizeof(REGSTMT_CONTEXT) - 1)
#define REGSTMT_MSG_BYTES	(REGSTMT_CONTEXT_BYTES + 32 + 32 + 8)
#define REGSTMT_SIG_BYTES	XEDDSA_SIG_BYTES
/* How far in the future a statement's time may be (directory, provider). */
#define REGSTMT_MAX_SKEW_MS	120000
#define REGSTMT_ERR_BYTES	128

struct regstmt {
	uint8_t		 client[32];	/* X25519: the client's key and address */
	uint8_t		 provider[32];	/* X25519: the provider's key */
	uint64_t	 registered_ms;	/* Unix time, at most INT64_MAX */
	uint8_t		 sig[REGSTMT_SIG_BYTES];
};

/* The signed message of s (its fields other than sig). */
void	regstmt_message(uint8_t out[REGSTMT_MSG_BYTES], const struct regstmt *s);
/*
 * Signs s (client, provider and registered_ms set) with the client's
 * X25519 secret key sk, which must be the secret of s->client.  0 or -1.
 */
int	regstmt_sign(struct regstmt *s, const uint8_t sk[32]);
/* 0 if s->sig verifies with s->client's key, -1 if not. */
int	regstmt_verify(const struct regstmt *s);
/*
 * Parses and verifies one registeredClients entry of provider's list:
 * an object with pubKey, registered and signature (other members are
 * ignored).  0, or -1 with a printable reason in err; with missing = 1
 * when the entry has a pubKey but no statement at all.
 */
int	regstmt_from_json(json_t *entry, const uint8_t provider[32],
	    struct regstmt *out, int *missing, char *err, size_t errlen);
/* The entry {"pubKey", "registered", "signature"} of s; NULL out of memory. */
json_t	*regstmt_to_json(const struct regstmt *s);

#endif /* NYMD_COMMON_REGSTMT_H */

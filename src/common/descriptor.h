/*
 * Node descriptors (docs/directory.md, "Signed descriptors"): what a
 * mixnode or provider says about itself — address, long-term key, layer,
 * Sphinx keys of the current and next epochs, when it said it — signed
 * with its Ed25519 identity key.  The descriptor is a JSON text that
 * travels as a string, so the signed bytes are exactly the bytes that
 * arrive; descriptor_verify() is the one parser of it.
 */
#ifndef NYMD_COMMON_DESCRIPTOR_H
#define NYMD_COMMON_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/topology.h"

#define DESCRIPTOR_VERSION		1
#define DESCRIPTOR_MAX_BYTES		2048
#define DESCRIPTOR_SIG_BYTES		64
#define DESCRIPTOR_IDENTITY_BYTES	32
/* Ed25519 secret key: the 32-byte seed and the public key. */
#define DESCRIPTOR_SECRET_BYTES		64
/* What the signature covers: this context, then the descriptor text. */
#define DESCRIPTOR_SIG_CONTEXT		"nymd descriptor v1\n"
#define DESCRIPTOR_ERR_BYTES		160
#define DESCRIPTOR_HOSTPORT_BYTES	(TOPOLOGY_HOST_BYTES + 16)

/* A node's identity key files, in its home (src/node/identity.h). */
#define IDENTITY_PRIVATE_FILE		"identity_key.pem"
#define IDENTITY_PUBLIC_FILE		"identity_public_key.pem"
/* PEM block types of the identity key files (body: 32 raw bytes). */
#define PEM_TYPE_IDENTITY_PRIVATE	"NYM ED25519 IDENTITY PRIVATE KEY"
#define PEM_TYPE_IDENTITY_PUBLIC	"NYM ED25519 IDENTITY PUBLIC KEY"

enum descriptor_role {
	DESCRIPTOR_MIXNODE = 1,
	DESCRIPTOR_PROVIDER = 2,
};

struct descriptor {
	enum descriptor_role	 role;
	char			 host[DESCRIPTOR_HOSTPORT_BYTES];	/* "ip:port" */
	uint8_t			 pub[32];	/* X25519: link key, node id */
	uint8_t			 identity[DESCRIPTOR_IDENTITY_BYTES];
	uint32_t		 layer;		/* mixnodes 1..3; providers 0 */
	uint64_t		 published_ms;	/* Unix time */
	struct topology_epoch_key keys[TOPOLOGY_EPOCH_KEYS];	/* sphinxKeys */
	size_t			 n_keys;
};

/*
 * The descriptor text of d (NUL-terminated, to free()) and its signature
 * under the identity secret key sk; d->identity must be sk's public key.
 * 0, or -1 (out of memory, or a field out of range).
 */
int	descriptor_sign(const struct descriptor *d,
	    const uint8_t sk[DESCRIPTOR_SECRET_BYTES], char **text,
	    uint8_t sig[DESCRIPTOR_SIG_BYTES]);
/*
 * Checks sig over the len bytes of text with the identity key the text
 * names, then parses it into out: every field present, of its type and
 * range, nothing else.  0, or -1 with a printable reason in err.
 */
int	descriptor_verify(const char *text, size_t len,
	    const uint8_t sig[DESCRIPTOR_SIG_BYTES], struct descriptor *out,
	    char *err, size_t errlen);
/* "mixnode" or "provider". */
const char *descriptor_role_name(enum descriptor_role);

#endif /* NYMD_COMMON_DESCRIPTOR_H */

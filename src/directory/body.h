/*
 * The bodies nodes POST to nym-directory: a mixnode's presence, a
 * provider's presence and a mixnode's traffic report. Each has exactly one
 * parser here; it validates everything, so that a body it accepts can go
 * into the registry as it is.
 */
#ifndef NYMD_DIRECTORY_BODY_H
#define NYMD_DIRECTORY_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "common/descriptor.h"
#include "common/regstmt.h"
#include "common/topology.h"

/*
 * Largest request body the API reads: a provider's presence with
 * BODY_MAX_CLIENTS clients and their statements (about 200 bytes each)
 * and a descriptor.
 */
#define BODY_MAX_BYTES		(256u * 1024)
/* "[" host "]" ":" port, with a host the client's parser accepts. */
#define BODY_HOSTPORT_MAX_CHARS	(TOPOLOGY_HOST_BYTES - 1 + 2 + 1 + 5)
/*
 * registeredClients of one provider: what a provider may hold
 * (nym-provider's max_clients); with REGISTRY_MAX_MIXNODES and
 * REGISTRY_MAX_PROVIDERS it bounds the topology (registry.h).
 */
#define BODY_MAX_CLIENTS	1024
#define BODY_MAX_SENT_PEERS	1024	/* entries of one report's "sent" */
#define BODY_MAX_COUNT		INT64_MAX	/* a packet count */
#define BODY_ERR_BYTES		160

enum body_error {
	BODY_OK = 0,
	BODY_ERR_TOO_LARGE = -1,	/* over BODY_MAX_BYTES */
	BODY_ERR_JSON = -2,		/* not JSON, or not an object */
	BODY_ERR_FIELD = -3,		/* missing field or wrong type */
	BODY_ERR_KEY = -4,		/* not a 32-byte URL-safe base64 key */
	BODY_ERR_HOST = -5,		/* not "ip:port" / "name:port" */
	BODY_ERR_LAYER = -6,		/* layer not 1..3 */
	BODY_ERR_TOO_MANY = -7,		/* over a list limit */
	BODY_ERR_DUPLICATE = -8,	/* the same key twice in a list */
	BODY_ERR_NOMEM = -9,
	BODY_ERR_SIGNATURE = -10,	/* no signed descriptor, or a bad one */
	BODY_ERR_STATEMENT = -11,	/* a client without a valid statement */
};

/*
 * The signed descriptor a presence carries (docs/directory.md): its text
 * as signed, the signature, and what it says, checked against the
 * presence's own fields.
 */
struct body_signed {
	struct descriptor desc;
	char		 text[DESCRIPTOR_MAX_BYTES + 1];
	size_t		 text_len;
	uint8_t		 sig[DESCRIPTOR_SIG_BYTES];
};

struct body_mixnode {
	char		 host[BODY_HOSTPORT_MAX_CHARS + 1];
	uint8_t		 pub[32];
	uint32_t	 layer;
	struct body_signed signed_desc;
};

struct body_provider {
	char		 host[BODY_HOSTPORT_MAX_CHARS + 1];
	uint8_t		 pub[32];
	struct body_signed signed_desc;
	/* Each verified: the client's key signed that it registered here. */
	struct regstmt	*clients;
	size_t		 n_clients;
};

struct body_sent {
	uint8_t		 pub[32];
	int64_t		 count;
};

struct body_metric {
	uint8_t		 pub[32];
	int64_t		 received;
	struct body_sent *sent;
	size_t		 n_sent;
};

/*
 * Each parses one body of len bytes (not NUL-terminated). On error, out
 * holds nothing to free and err says why in printable ASCII.
 */
int	body_parse_mixnode(const char *buf, size_t len, struct body_mixnode *out,
	    char *err, size_t errlen);
int	body_parse_provider(const char *buf, size_t len,
	    struct body_provider *out, char *err, size_t errlen);
int	body_parse_metric(const char *buf, size_t len, struct body_metric *out,
	    char *err, size_t errlen);
void	body_provider_clear(struct body_provider *);
void	body_metric_clear(struct body_metric *);

/* 0 if hostport is "IPv4:port", "[IPv6]:port" or "hostname:port". */
int	body_host_valid(const char *hostport);

#endif

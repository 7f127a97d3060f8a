/*
 * Single-use reply blocks as specified in docs/sphinx.md, section 17:
 * creation (the creator), use (the replier), recognising and opening a
 * reply (the creator again).  The Sphinx header is made by sphinx.c, and
 * hops process a reply with sphinx_process() like any other packet.
 *
 * Each format from outside is parsed in one function: a reply block in
 * surb_parse(), kept keys in keys_parse().  Secrets on the stack are
 * wiped before returning.
 */
#include <config.h>

#include <string.h>

#include <sodium.h>

#include "common/sphinx.h"
#include "common/sphinx_impl.h"
#include "common/surb.h"

/* Offsets into a reply block. */
#define SURB_EPOCH_OFF		0
#define SURB_FIRST_HOP_OFF	(SURB_EPOCH_OFF + SURB_EPOCH_BYTES)
#define SURB_HEADER_OFF		(SURB_FIRST_HOP_OFF + SPHINX_NODE_ID_BYTES)
#define SURB_PAYLOAD_KEY_OFF	(SURB_HEADER_OFF + SPHINX_HEADER_BYTES)
_Static_assert(SURB_PAYLOAD_KEY_OFF + SURB_PAYLOAD_KEY_BYTES == SURB_BYTES,
    "reply block layout");

/* Offsets into the kept keys. */
#define KEYS_ID_OFF		0
#define KEYS_EPOCH_OFF		(KEYS_ID_OFF + SURB_ID_BYTES)
#define KEYS_NHOPS_OFF		(KEYS_EPOCH_OFF + SURB_EPOCH_BYTES)
#define KEYS_RESERVED_OFF	(KEYS_NHOPS_OFF + 1)
#define KEYS_RESERVED_BYTES	7
#define KEYS_PAYLOAD_KEY_OFF	(KEYS_RESERVED_OFF + KEYS_RESERVED_BYTES)
#define KEYS_HOPS_OFF		(KEYS_PAYLOAD_KEY_OFF + SURB_PAYLOAD_KEY_BYTES)
_Static_assert(KEYS_HOPS_OFF + (SPHINX_MAX_HOPS - 1) * SURB_HOP_KEYS_BYTES ==
    SURB_KEYS_BYTES, "kept keys layout");
_Static_assert(SURB_HOP_KEYS_BYTES == SPHINX_LIONESS_KEYS_BYTES,
    "hop keys are LIONESS keys");

/* The replier's payload layer: K~ = S(H_32(label || k~), 128). */
static const char LABEL_SURB_PAYLOAD[] = "nymd-sphinx-v3/surb-payload";

static const uint8_t zero_nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

/* Kept keys, parsed: secret. */
struct surb_keys {
	uint8_t		id[SURB_ID_BYTES];
	uint64_t	epoch;
	size_t		nhops;
	uint8_t		payload_key[SURB_PAYLOAD_KEY_BYTES];
	uint8_t		hop[SPHINX_MAX_HOPS - 1][SURB_HOP_KEYS_BYTES];
};

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
rng_fill(const struct sphinx_rng *rng, uint8_t *buf, size_t len)
{
	if (rng == NULL) {
		randombytes_buf(buf, len);
		return SPHINX_OK;
	}
	return rng->fill(rng->ctx, buf, len) == 0 ? SPHINX_OK : SPHINX_ERR_RNG;
}

/* The replier's LIONESS keys from the block's payload key. */
static void
payload_layer_keys(uint8_t keys[SPHINX_LIONESS_KEYS_BYTES],
    const uint8_t payload_key[SURB_PAYLOAD_KEY_BYTES])
{
	uint8_t in[sizeof(LABEL_SURB_PAYLOAD) - 1 + SURB_PAYLOAD_KEY_BYTES];
	uint8_t k[32];

	memcpy(in, LABEL_SURB_PAYLOAD, sizeof(LABEL_SURB_PAYLOAD) - 1);
	memcpy(in + sizeof(LABEL_SURB_PAYLOAD) - 1, payload_key,
	    SURB_PAYLOAD_KEY_BYTES);
	crypto_generichash(k, sizeof(k), in, sizeof(in), NULL, 0);
	crypto_stream_chacha20_ietf(keys, SPHINX_LIONESS_KEYS_BYTES,
	    zero_nonce, k);
	sodium_memzero(in, sizeof(in));
	sodium_memzero(k, sizeof(k));
}

/*
 * A reply block's path: the forward path to the creator, every node's key
 * of the block's epoch.  The creator's key does not rotate: phase 0.
 */
static int
surb_path_valid(const struct sphinx_hop *hops, size_t nhops, uint64_t epoch)
{
	if (hops == NULL || nhops < SURB_MIN_HOPS || nhops > SPHINX_MAX_HOPS)
		return 0;
	for (size_t i = 0; i + 1 < nhops; i++)
		if (hops[i].key_phase != (epoch & 1))
			return 0;
	return hops[nhops - 1].command == SPHINX_CMD_FINAL &&
	    hops[nhops - 1].key_phase == 0;
}

/* The kept keys' bytes (section 17) from what creation produced. */
static void
keys_encode(uint8_t keys[SURB_KEYS_BYTES], const uint8_t id[SURB_ID_BYTES],
    uint64_t epoch, size_t nhops,
    const uint8_t payload_key[SURB_PAYLOAD_KEY_BYTES],
    uint8_t hop_keys[SPHINX_MAX_HOPS][SPHINX_LIONESS_KEYS_BYTES])
{
	memset(keys, 0, SURB_KEYS_BYTES);
	memcpy(keys + KEYS_ID_OFF, id, SURB_ID_BYTES);
	put_be64(keys + KEYS_EPOCH_OFF, epoch);
	keys[KEYS_NHOPS_OFF] = (uint8_t)nhops;
	memcpy(keys + KEYS_PAYLOAD_KEY_OFF, payload_key, SURB_PAYLOAD_KEY_BYTES);
	/* The creator's own layer (hop n-1) adds nothing to a reply. */
	for (size_t i = 0; i + 1 < nhops; i++)
		memcpy(keys + KEYS_HOPS_OFF + i * SURB_HOP_KEYS_BYTES,
		    hop_keys[i], SURB_HOP_KEYS_BYTES);
}

int
surb_create(uint8_t surb[SURB_BYTES], uint8_t keys[SURB_KEYS_BYTES],
    uint8_t id[SURB_ID_BYTES], const uint8_t first_hop[SPHINX_NODE_ID_BYTES],
    const struct sphinx_hop *hops, size_t nhops, uint64_t epoch,
    const struct sphinx_rng *rng)
{
	struct sphinx_hop path[SPHINX_MAX_HOPS];
	uint8_t hop_keys[SPHINX_MAX_HOPS][SPHINX_LIONESS_KEYS_BYTES];
	uint8_t payload_key[SURB_PAYLOAD_KEY_BYTES];
	int rc;

	if (surb == NULL || keys == NULL || id == NULL)
		return SPHINX_ERR_INVALID;
	if (first_hop == NULL || !surb_path_valid(hops, nhops, epoch) ||
	    (rng != NULL && rng->fill == NULL)) {
		rc = SPHINX_ERR_INVALID;
		goto fail;
	}

	/* Randomness in this order: id, then the header's, then k~. */
	if ((rc = rng_fill(rng, id, SURB_ID_BYTES)) != SPHINX_OK)
		goto fail;
	memcpy(path, hops, nhops * sizeof(*path));
	path[nhops - 1].command = SPHINX_CMD_REPLY;
	memcpy(path[nhops - 1].next_id, id, SURB_ID_BYTES);
	rc = sphinx_header_create(surb + SURB_HEADER_OFF, hop_keys, path,
	    nhops, rng);
	if (rc == SPHINX_OK)
		rc = rng_fill(rng, payload_key, sizeof(payload_key));
	if (rc != SPHINX_OK)
		goto done;

	put_be64(surb + SURB_EPOCH_OFF, epoch);
	memcpy(surb + SURB_FIRST_HOP_OFF, first_hop, SPHINX_NODE_ID_BYTES);
	memcpy(surb + SURB_PAYLOAD_KEY_OFF, payload_key, sizeof(payload_key));
	keys_encode(keys, id, epoch, nhops, payload_key, hop_keys);

done:
	sodium_memzero(path, sizeof(path));
	sodium_memzero(hop_keys, sizeof(hop_keys));
	sodium_memzero(payload_key, sizeof(payload_key));
	if (rc == SPHINX_OK)
		return rc;
fail:
	sodium_memzero(surb, SURB_BYTES);
	sodium_memzero(keys, SURB_KEYS_BYTES);
	sodium_memzero(id, SURB_ID_BYTES);
	return rc;
}

int
surb_parse(const uint8_t *surb, size_t len, struct surb_info *info)
{
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (surb == NULL || len != SURB_BYTES ||
	    !sphinx_alpha_canonical(surb + SURB_HEADER_OFF))
		return SPHINX_ERR_MALFORMED;
	if (info != NULL) {
		info->epoch = get_be64(surb + SURB_EPOCH_OFF);
		memcpy(info->first_hop, surb + SURB_FIRST_HOP_OFF,
		    SPHINX_NODE_ID_BYTES);
	}
	return SPHINX_OK;
}

int
surb_use(uint8_t out[SPHINX_PACKET_BYTES], struct surb_info *info,
    const uint8_t *surb, size_t surb_len, const uint8_t *msg, size_t msg_len)
{
	uint8_t layer[SPHINX_LIONESS_KEYS_BYTES];
	uint8_t *payload;
	int rc;

	if (out == NULL)
		return SPHINX_ERR_INVALID;
	payload = out + SPHINX_HEADER_BYTES;
	if (msg_len > SPHINX_MAX_MESSAGE_BYTES || (msg == NULL && msg_len > 0)) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		if (info != NULL)
			memset(info, 0, sizeof(*info));
		return SPHINX_ERR_INVALID;
	}
	if ((rc = surb_parse(surb, surb_len, info)) != SPHINX_OK) {
		sodium_memzero(out, SPHINX_PACKET_BYTES);
		return rc;
	}

	/* header || LIONESS-Encrypt(K~, encode(m)) */
	memcpy(out, surb + SURB_HEADER_OFF, SPHINX_HEADER_BYTES);
	sphinx_payload_encode(payload, msg, msg_len);
	payload_layer_keys(layer, surb + SURB_PAYLOAD_KEY_OFF);
	sphinx_lioness_encrypt(payload, layer);
	sodium_memzero(layer, sizeof(layer));
	return SPHINX_OK;
}

/* The reply block's header at its creator: a REPLY block, its id and
 * whether it is an acknowledgement's (*ack, if not NULL). */
static int
reply_header(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES], int *ack)
{
	struct sphinx_hop_result r;
	int rc;

	rc = sphinx_recipient_header(priv, in, &r, NULL, NULL);
	if (rc == SPHINX_OK && r.command != SPHINX_CMD_REPLY)
		rc = SPHINX_ERR_COMMAND;
	if (rc == SPHINX_OK)
		memcpy(id, r.next_id, SURB_ID_BYTES);
	else
		memset(id, 0, SURB_ID_BYTES);
	if (ack != NULL)
		*ack = rc == SPHINX_OK && (r.flags & SPHINX_FLAG_ACK);
	sodium_memzero(&r, sizeof(r));
	return rc;
}

int
surb_reply_id(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES])
{
	if (id == NULL)
		return SPHINX_ERR_INVALID;
	return reply_header(priv, in, id, NULL);
}

int
surb_reply_kind(const uint8_t priv[SPHINX_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], uint8_t id[SURB_ID_BYTES], int *ack)
{
	if (id == NULL || ack == NULL)
		return SPHINX_ERR_INVALID;
	return reply_header(priv, in, id, ack);
}

/* Offsets into an acknowledgement block (section 18). */
#define ACK_FIRST_HOP_OFF	0
#define ACK_HEADER_OFF		SPHINX_NODE_ID_BYTES
_Static_assert(ACK_HEADER_OFF + SPHINX_HEADER_BYTES == SPHINX_ACK_BYTES,
    "acknowledgement block layout");

int
surb_ack_create(uint8_t ack[SPHINX_ACK_BYTES], const uint8_t id[SURB_ID_BYTES],
    const uint8_t first_hop[SPHINX_NODE_ID_BYTES],
    const struct sphinx_hop *hops, size_t nhops, const struct sphinx_rng *rng)
{
	struct sphinx_hop path[SPHINX_MAX_HOPS];
	uint8_t hop_keys[SPHINX_MAX_HOPS][SPHINX_LIONESS_KEYS_BYTES];
	int rc = SPHINX_ERR_INVALID;

	if (ack == NULL)
		return SPHINX_ERR_INVALID;
	if (id == NULL || first_hop == NULL || hops == NULL || nhops < SURB_MIN_HOPS ||
	    nhops > SPHINX_MAX_HOPS || hops[nhops - 1].command != SPHINX_CMD_FINAL ||
	    hops[nhops - 1].key_phase != 0 || hops[nhops - 1].flags != 0 ||
	    (rng != NULL && rng->fill == NULL))
		goto done;
	memcpy(path, hops, nhops * sizeof(*path));
	path[nhops - 1].command = SPHINX_CMD_REPLY;
	path[nhops - 1].flags = SPHINX_FLAG_ACK;
	memcpy(path[nhops - 1].next_id, id, SURB_ID_BYTES);
	/* Nobody encrypts under these: the acknowledgement's payload is
	 * random bytes, and its id is all it says. */
	rc = sphinx_header_create(ack + ACK_HEADER_OFF, hop_keys, path, nhops, rng);
	if (rc == SPHINX_OK)
		memcpy(ack + ACK_FIRST_HOP_OFF, first_hop, SPHINX_NODE_ID_BYTES);
done:
	sodium_memzero(path, sizeof(path));
	sodium_memzero(hop_keys, sizeof(hop_keys));
	if (rc != SPHINX_OK)
		sodium_memzero(ack, SPHINX_ACK_BYTES);
	return rc;
}

/* The one parser of kept keys: length, hop count, zero padding. */
static int
keys_parse(const uint8_t *keys, size_t len, struct surb_keys *k)
{
	size_t n, used;

	if (keys == NULL || len != SURB_KEYS_BYTES)
		return SPHINX_ERR_MALFORMED;
	n = keys[KEYS_NHOPS_OFF];
	if (n < SURB_MIN_HOPS || n > SPHINX_MAX_HOPS ||
	    !sodium_is_zero(keys + KEYS_RESERVED_OFF, KEYS_RESERVED_BYTES))
		return SPHINX_ERR_MALFORMED;
	used = KEYS_HOPS_OFF + (n - 1) * SURB_HOP_KEYS_BYTES;
	if (!sodium_is_zero(keys + used, SURB_KEYS_BYTES - used))
		return SPHINX_ERR_MALFORMED;
	if (k == NULL)
		return SPHINX_OK;
	memcpy(k->id, keys + KEYS_ID_OFF, SURB_ID_BYTES);
	k->epoch = get_be64(keys + KEYS_EPOCH_OFF);
	k->nhops = n;
	memcpy(k->payload_key, keys + KEYS_PAYLOAD_KEY_OFF,
	    SURB_PAYLOAD_KEY_BYTES);
	memcpy(k->hop, keys + KEYS_HOPS_OFF, (n - 1) * SURB_HOP_KEYS_BYTES);
	return SPHINX_OK;
}

int
surb_keys_parse(const uint8_t *keys, size_t keys_len,
    uint8_t id[SURB_ID_BYTES], uint64_t *epoch)
{
	int rc = keys_parse(keys, keys_len, NULL);

	if (id != NULL) {
		memset(id, 0, SURB_ID_BYTES);
		if (rc == SPHINX_OK)
			memcpy(id, keys + KEYS_ID_OFF, SURB_ID_BYTES);
	}
	if (epoch != NULL)
		*epoch = rc == SPHINX_OK ? get_be64(keys + KEYS_EPOCH_OFF) : 0;
	return rc;
}

/*
 * Undoes the layers: each node i < n-1 applied LIONESS-Decrypt(K_i), so
 * the creator applies LIONESS-Encrypt(K_i) for i = n-2 down to 0, and
 * then removes the replier's layer with LIONESS-Decrypt(K~).
 */
static void
reply_payload(uint8_t payload[SPHINX_PAYLOAD_BYTES], const struct surb_keys *k)
{
	uint8_t layer[SPHINX_LIONESS_KEYS_BYTES];

	for (size_t i = k->nhops - 1; i-- > 0;)
		sphinx_lioness_encrypt(payload, k->hop[i]);
	payload_layer_keys(layer, k->payload_key);
	sphinx_lioness_decrypt(payload, payload, layer);
	sodium_memzero(layer, sizeof(layer));
}

int
surb_open(const uint8_t priv[SPHINX_KEY_BYTES], const uint8_t *keys,
    size_t keys_len, const uint8_t in[SPHINX_PACKET_BYTES],
    uint8_t msg[SPHINX_MAX_MESSAGE_BYTES], size_t *msg_len)
{
	struct surb_keys k;
	uint8_t id[SURB_ID_BYTES];
	uint8_t payload[SPHINX_PAYLOAD_BYTES];
	int rc, ack;

	if (msg == NULL || msg_len == NULL)
		return SPHINX_ERR_INVALID;
	*msg_len = 0;
	if (in == NULL) {
		rc = SPHINX_ERR_INVALID;
		goto fail;
	}
	if ((rc = keys_parse(keys, keys_len, &k)) != SPHINX_OK)
		goto done;
	if ((rc = reply_header(priv, in, id, &ack)) != SPHINX_OK)
		goto done;
	/* An acknowledgement carries no message to open. */
	if (ack) {
		rc = SPHINX_ERR_COMMAND;
		goto done;
	}
	/* Ids are not secret; the keys are another block's. */
	if (sodium_memcmp(id, k.id, SURB_ID_BYTES) != 0) {
		rc = SPHINX_ERR_INVALID;
		goto done;
	}
	memcpy(payload, in + SPHINX_HEADER_BYTES, sizeof(payload));
	reply_payload(payload, &k);
	rc = sphinx_payload_decode(payload, msg, msg_len);

done:
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(payload, sizeof(payload));
	if (rc == SPHINX_OK)
		return rc;
fail:
	*msg_len = 0;
	sodium_memzero(msg, SPHINX_MAX_MESSAGE_BYTES);
	return rc;
}

int
surb_ack_take(uint8_t packet[SPHINX_PACKET_BYTES], uint8_t ack[SPHINX_PACKET_BYTES],
    uint8_t first_hop[SPHINX_NODE_ID_BYTES])
{
	uint8_t *block;
	int rc = SPHINX_OK;

	if (packet == NULL || ack == NULL || first_hop == NULL)
		return SPHINX_ERR_INVALID;
	block = packet + SPHINX_HEADER_BYTES;
	/* Only its sender could have made the block: anything but a
	 * canonical alpha is junk (a payload changed on the way). */
	if (!sphinx_alpha_canonical(block + ACK_HEADER_OFF)) {
		rc = SPHINX_ERR_MALFORMED;
		sodium_memzero(ack, SPHINX_PACKET_BYTES);
		memset(first_hop, 0, SPHINX_NODE_ID_BYTES);
	} else {
		memcpy(first_hop, block + ACK_FIRST_HOP_OFF, SPHINX_NODE_ID_BYTES);
		memcpy(ack, block + ACK_HEADER_OFF, SPHINX_HEADER_BYTES);
		/* Random, as every payload looks to a hop that cannot
		 * decrypt it. */
		randombytes_buf(ack + SPHINX_HEADER_BYTES, SPHINX_PAYLOAD_BYTES);
	}
	/* The recipient never sees the block: it is not its business. */
	sodium_memzero(block, SPHINX_ACK_BYTES);
	return rc;
}

#include <config.h>

#include <math.h>
#include <string.h>

#include <sodium.h>

#include "common/epoch.h"
#include "common/rand.h"
#include "common/topology.h"
#include "keyd/packet.h"

#define LOOP_BODY_BYTES	(8 + 8 + 16)
/* A loop cover's ack id is a nonce and a MAC under this label. */
#define LOOP_ACK_LABEL	"nymd-loop-ack"
#define LOOP_KEY_LABEL	"nymd loop cover key v1"

const char *
packet_strerror(int err)
{
	switch (err) {
	case PACKET_ERR_TOPOLOGY:	return "the topology lacks a mixnode layer or a provider, or their epoch keys";
	case PACKET_ERR_TOO_LARGE:	return "message too large for one packet";
	case PACKET_ERR_FOREIGN:	return "loop cover with a foreign MAC";
	case PACKET_ERR_TYPE:		return "unknown payload type";
	case PACKET_ERR_EPOCH:		return "no key epoch for which every hop of a reply block has a key";
	case PACKET_ERR_PROVIDER:	return "the recipient's provider is not in the topology";
	default:			return sphinx_strerror(err);
	}
}

void
packet_loop_key(uint8_t key[PACKET_LOOP_KEY_BYTES], const uint8_t priv[32])
{
	crypto_generichash(key, PACKET_LOOP_KEY_BYTES, (const uint8_t *)LOOP_KEY_LABEL,
	    sizeof(LOOP_KEY_LABEL) - 1, priv, 32);
}

static uint32_t
packet_delay(double mean_ms)
{
	if (mean_ms <= 0)
		return 0;
	double d = rand_exponential(1.0 / mean_ms);
	return d >= PACKET_MAX_DELAY_MS ? PACKET_MAX_DELAY_MS : (uint32_t)lround(d);
}

/* A random mixnode of layer that has epoch keys, or NULL. */
static const struct topology_node *
packet_random_mix(const struct topology *t, uint32_t layer)
{
	const struct topology_node *nodes[TOPOLOGY_MAX_NODES];
	size_t n = topology_layer(t, layer, nodes, TOPOLOGY_MAX_NODES), usable = 0;

	for (size_t i = 0; i < n; i++)
		if (topology_node_usable(t, nodes[i]))
			nodes[usable++] = nodes[i];
	return usable == 0 ? NULL : nodes[rand_index((uint32_t)usable)];
}

static const struct topology_node *
packet_provider(const struct topology *t, const uint8_t pub[32])
{
	for (size_t i = 0; i < t->n_providers; i++)
		if (memcmp(t->providers[i].pub, pub, 32) == 0)
			return &t->providers[i];
	return NULL;
}

/*
 * Hop i of the path goes to node: its epoch key for when the packet will
 * get there (at_ms, the sum of the delays before it), docs/epochs.md.
 */
static int
packet_hop_to(struct sphinx_hop *h, const struct topology *t,
    const struct topology_node *node, uint64_t at_ms)
{
	if (node == NULL ||
	    topology_hop_key(t, node, at_ms, h->node_pub, &h->key_phase) == -1)
		return PACKET_ERR_TOPOLOGY;
	return PACKET_OK;
}

/*
 * hops[0..4]: own provider, a mixnode of each layer, the egress provider.
 * The caller sets the egress hop's command and what follows. *at_ms, if
 * not NULL, gets when the packet reaches the egress provider.
 */
static int
packet_path(struct sphinx_hop hops[SPHINX_MAX_HOPS], const struct packet_route *r,
    const struct topology_node *egress, uint64_t *reach_ms)
{
	const struct topology_node *node[TOPOLOGY_MIX_LAYERS + 2];
	const struct topology *t = r->topology;
	uint64_t at_ms = epoch_now_ms();
	int rc;

	if (t == NULL || egress == NULL)
		return PACKET_ERR_TOPOLOGY;
	node[0] = packet_provider(t, r->own_provider);
	for (uint32_t l = 0; l < TOPOLOGY_MIX_LAYERS; l++)
		if ((node[l + 1] = packet_random_mix(t, l + 1)) == NULL)
			return PACKET_ERR_TOPOLOGY;
	node[TOPOLOGY_MIX_LAYERS + 1] = egress;
	memset(hops, 0, sizeof(struct sphinx_hop) * SPHINX_MAX_HOPS);
	for (int i = 0; i <= TOPOLOGY_MIX_LAYERS + 1; i++) {
		if ((rc = packet_hop_to(&hops[i], t, node[i], at_ms)) != PACKET_OK)
			return rc;
		if (i == TOPOLOGY_MIX_LAYERS + 1)
			break;
		hops[i].command = SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, node[i + 1]->pub, 32);
		hops[i].delay_ms = packet_delay(r->mean_delay_ms);
		at_ms += hops[i].delay_ms;
	}
	if (reach_ms != NULL)
		*reach_ms = at_ms;
	return PACKET_OK;
}

/*
 * The acknowledgement block of a packet the egress provider has at at_ms
 * (docs/acks.md): a reply block's header over a mixnode of each layer, our
 * provider (DELIVER to us) and us, naming ack_id. *delay_ms gets the sum
 * of its delays.
 */
static int
packet_ack_block(uint8_t ack[SPHINX_ACK_BYTES], const struct packet_route *r,
    const uint8_t ack_id[ACK_ID_BYTES], uint64_t at_ms, uint32_t *delay_ms)
{
	const struct topology_node *node[TOPOLOGY_MIX_LAYERS + 1];
	struct sphinx_hop hops[TOPOLOGY_MIX_LAYERS + 2];
	const struct topology *t = r->topology;
	const size_t own = TOPOLOGY_MIX_LAYERS;
	int rc;

	*delay_ms = 0;
	for (uint32_t l = 0; l < TOPOLOGY_MIX_LAYERS; l++)
		if ((node[l] = packet_random_mix(t, l + 1)) == NULL)
			return PACKET_ERR_TOPOLOGY;
	node[own] = packet_provider(t, r->own_provider);
	memset(hops, 0, sizeof(hops));
	for (size_t i = 0; i <= own; i++) {
		if ((rc = packet_hop_to(&hops[i], t, node[i], at_ms)) != PACKET_OK)
			return rc;
		hops[i].command = i == own ? SPHINX_CMD_DELIVER : SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, i == own ? r->own_pub : node[i + 1]->pub, 32);
		hops[i].delay_ms = packet_delay(r->mean_delay_ms);
		at_ms += hops[i].delay_ms;
		*delay_ms += hops[i].delay_ms;
	}
	memcpy(hops[own + 1].node_pub, r->own_pub, 32);
	hops[own + 1].command = SPHINX_CMD_FINAL;
	rc = surb_ack_create(ack, ack_id, node[0]->pub, hops, own + 2, NULL);
	sodium_memzero(hops, sizeof(hops));
	return rc;
}

/*
 * A delivered packet: egress DELIVERs to recipient, who unwraps it, and
 * sends the acknowledgement block back to us (docs/acks.md).
 */
int
packet_build_payload(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *r,
    const uint8_t recipient[32], const uint8_t provider[32],
    const uint8_t *payload, size_t len, const uint8_t ack_id[ACK_ID_BYTES],
    uint32_t *round_trip_ms)
{
	const struct topology_node *egress;
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	uint8_t ack[SPHINX_ACK_BYTES];
	uint64_t at_ms;
	uint32_t back_ms, forward_ms = 0;
	int rc;

	if (r->topology == NULL)
		return PACKET_ERR_TOPOLOGY;
	if (len > SPHINX_MAX_ACKED_MESSAGE_BYTES)
		return PACKET_ERR_TOO_LARGE;
	if ((egress = packet_provider(r->topology, provider)) == NULL)
		return PACKET_ERR_PROVIDER;
	rc = packet_path(hops, r, egress, &at_ms);
	if (rc != PACKET_OK)
		return rc;
	hops[4].command = SPHINX_CMD_DELIVER;
	hops[4].flags = SPHINX_FLAG_ACK;
	memcpy(hops[4].next_id, recipient, 32);
	hops[4].delay_ms = packet_delay(r->mean_delay_ms);
	at_ms += hops[4].delay_ms;
	/* A client's key does not rotate: phase 0. */
	memcpy(hops[5].node_pub, recipient, 32);
	hops[5].command = SPHINX_CMD_FINAL;
	hops[5].flags = SPHINX_FLAG_ACK;
	for (int i = 0; i < 5; i++)
		forward_ms += hops[i].delay_ms;
	rc = packet_ack_block(ack, r, ack_id, at_ms, &back_ms);
	if (rc == PACKET_OK)
		rc = sphinx_create_acked(out, hops, SPHINX_MAX_HOPS, ack, payload,
		    len, NULL);
	if (rc == PACKET_OK && round_trip_ms != NULL)
		*round_trip_ms = forward_ms + back_ms;
	sodium_memzero(ack, sizeof(ack));
	sodium_memzero(hops, sizeof(hops));
	return rc;
}

int
packet_build_real(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *r,
    const uint8_t recipient[32], const uint8_t recipient_provider[32],
    const uint8_t msgid[PACKET_MSGID_BYTES], const uint8_t *msg, size_t len,
    const uint8_t ack_id[ACK_ID_BYTES], uint32_t *round_trip_ms)
{
	uint8_t payload[SPHINX_MAX_MESSAGE_BYTES];

	if (len > MESSAGE_MAX_ACKED_BYTES)
		return PACKET_ERR_TOO_LARGE;
	payload[0] = PACKET_REAL;
	memcpy(payload + 1, msgid, PACKET_MSGID_BYTES);
	if (len > 0)
		memcpy(payload + 1 + PACKET_MSGID_BYTES, msg, len);
	int rc = packet_build_payload(out, r, recipient, recipient_provider, payload,
	    1 + PACKET_MSGID_BYTES + len, ack_id, round_trip_ms);
	sodium_memzero(payload, sizeof(payload));
	return rc;
}

int
packet_build_fragment(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *r,
    const uint8_t recipient[32], const uint8_t recipient_provider[32],
    const uint8_t msgid[PACKET_MSGID_BYTES], unsigned int index,
    unsigned int count, const uint8_t *part, size_t len,
    const uint8_t ack_id[ACK_ID_BYTES], uint32_t *round_trip_ms)
{
	uint8_t payload[SPHINX_MAX_MESSAGE_BYTES];
	struct payload p = { .type = PAYLOAD_FRAGMENT, .index = index,
	    .count = count, .message = part, .message_len = len };
	size_t plen;
	int rc;

	memcpy(p.msgid, msgid, PACKET_MSGID_BYTES);
	if (payload_encode(payload, &plen, &p) != 0)
		return PACKET_ERR_TOO_LARGE;
	rc = packet_build_payload(out, r, recipient, recipient_provider, payload,
	    plen, ack_id, round_trip_ms);
	sodium_memzero(payload, sizeof(payload));
	return rc;
}

static void
packet_loop_mac(uint8_t mac[16], const uint8_t key[PACKET_LOOP_KEY_BYTES],
    const uint8_t *body, size_t len)
{
	crypto_generichash(mac, 16, body, len, key, PACKET_LOOP_KEY_BYTES);
}

int
packet_build_loop(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *r,
    const uint8_t loop_key[PACKET_LOOP_KEY_BYTES], uint64_t now_ns)
{
	uint8_t payload[1 + LOOP_BODY_BYTES];
	uint8_t ack_id[ACK_ID_BYTES];

	payload[0] = PACKET_LOOP;
	for (int i = 0; i < 8; i++)
		payload[1 + i] = (uint8_t)(now_ns >> (56 - 8 * i));
	randombytes_buf(payload + 9, 8);
	packet_loop_mac(payload + 17, loop_key, payload, 17);
	packet_loop_ack_id(ack_id, loop_key);
	return packet_build_payload(out, r, r->own_pub, r->own_provider, payload,
	    sizeof(payload), ack_id, NULL);
}

/* nonce (8) || the first 8 bytes of a MAC of it under the loop key. */
static void
packet_loop_ack_mac(uint8_t mac[8], const uint8_t key[PACKET_LOOP_KEY_BYTES],
    const uint8_t nonce[8])
{
	uint8_t in[sizeof(LOOP_ACK_LABEL) - 1 + 8], full[16];

	memcpy(in, LOOP_ACK_LABEL, sizeof(LOOP_ACK_LABEL) - 1);
	memcpy(in + sizeof(LOOP_ACK_LABEL) - 1, nonce, 8);
	crypto_generichash(full, sizeof(full), in, sizeof(in), key,
	    PACKET_LOOP_KEY_BYTES);
	memcpy(mac, full, 8);
}

void
packet_loop_ack_id(uint8_t id[ACK_ID_BYTES], const uint8_t key[PACKET_LOOP_KEY_BYTES])
{
	randombytes_buf(id, 8);
	packet_loop_ack_mac(id + 8, key, id);
}

int
packet_is_loop_ack(const uint8_t id[ACK_ID_BYTES], const uint8_t key[PACKET_LOOP_KEY_BYTES])
{
	uint8_t mac[8];

	packet_loop_ack_mac(mac, key, id);
	return sodium_memcmp(mac, id + 8, 8) == 0;
}

int
packet_build_drop(uint8_t out[SPHINX_PACKET_BYTES], const struct packet_route *r)
{
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	const struct topology *t = r->topology;
	const struct topology_node *usable[TOPOLOGY_MAX_NODES];
	size_t n = 0;

	if (t == NULL)
		return PACKET_ERR_TOPOLOGY;
	for (size_t i = 0; i < t->n_providers && n < TOPOLOGY_MAX_NODES; i++)
		if (topology_node_usable(t, &t->providers[i]))
			usable[n++] = &t->providers[i];
	if (n == 0)
		return PACKET_ERR_TOPOLOGY;
	int rc = packet_path(hops, r, usable[rand_index((uint32_t)n)], NULL);
	if (rc != PACKET_OK)
		return rc;
	hops[4].command = SPHINX_CMD_DROP;
	/* The payload is never read: SPHINX pads it with random bytes. */
	return sphinx_create(out, hops, 5, NULL, 0, NULL);
}

int
packet_open(const uint8_t priv[32], const uint8_t loop_key[PACKET_LOOP_KEY_BYTES],
    const uint8_t in[SPHINX_PACKET_BYTES], struct packet_contents *out)
{
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t tag[SPHINX_REPLAY_TAG_BYTES];
	size_t len;
	int rc;

	rc = sphinx_unwrap(priv, in, msg, &len, tag);
	if (rc != SPHINX_OK)
		goto out;
	rc = PACKET_ERR_TYPE;
	if (len >= 1 && msg[0] != PACKET_LOOP) {
		rc = packet_read_message(msg, len, out);
	} else if (len == 1 + LOOP_BODY_BYTES && msg[0] == PACKET_LOOP) {
		uint8_t mac[16];
		packet_loop_mac(mac, loop_key, msg, 17);
		if (sodium_memcmp(mac, msg + 17, 16) != 0) {
			rc = PACKET_ERR_FOREIGN;
			goto out;
		}
		out->type = PACKET_LOOP;
		out->sent_ns = 0;
		for (int i = 0; i < 8; i++)
			out->sent_ns = out->sent_ns << 8 | msg[1 + i];
		rc = PACKET_OK;
	}
out:
	sodium_memzero(msg, sizeof(msg));
	return rc;
}

int
packet_read_message(const uint8_t *msg, size_t len, struct packet_contents *out)
{
	struct payload p;

	if (payload_decode(msg, len, &p) != 0)
		return PACKET_ERR_TYPE;
	out->type = PACKET_REAL;
	memcpy(out->msgid, p.msgid, PACKET_MSGID_BYTES);
	out->message_len = p.message_len;
	if (p.message_len > 0)
		memcpy(out->message, p.message, p.message_len);
	out->tagged = p.type == PAYLOAD_TAGGED || p.type == PAYLOAD_SURBS;
	out->surbs_only = p.type == PAYLOAD_SURBS;
	memcpy(out->tag, p.tag, sizeof(out->tag));
	out->n_surbs = p.n_surbs;
	if (p.n_surbs > 0)
		memcpy(out->surbs, p.surbs, p.n_surbs * SURB_BYTES);
	out->more = p.type == PAYLOAD_MORE ? p.more : 0;
	out->frag_index = p.type == PAYLOAD_FRAGMENT ? p.index : 0;
	out->frag_count = p.type == PAYLOAD_FRAGMENT ? p.count : 0;
	return PACKET_OK;
}

/* node's key of epoch e exactly (a reply block is of one epoch). */
static int
packet_epoch_key(struct sphinx_hop *h, const struct topology *t,
    const struct topology_node *node, uint64_t e)
{
	if (node == NULL || !topology_node_usable(t, node))
		return PACKET_ERR_TOPOLOGY;
	for (size_t i = 0; i < node->n_keys; i++)
		if (node->keys[i].epoch == e) {
			memcpy(h->node_pub, node->keys[i].key, 32);
			h->key_phase = (uint8_t)epoch_phase(e);
			return PACKET_OK;
		}
	return PACKET_ERR_EPOCH;
}

/* The path of a reply block of epoch e: replier's provider, 3 mixes,
 * our provider, us. */
static int
packet_surb_path(struct sphinx_hop hops[SPHINX_MAX_HOPS],
    const struct topology_node *node[SPHINX_MAX_HOPS - 1],
    const struct packet_route *r, uint64_t e)
{
	int rc;

	memset(hops, 0, sizeof(struct sphinx_hop) * SPHINX_MAX_HOPS);
	for (int i = 0; i < SPHINX_MAX_HOPS - 1; i++) {
		if ((rc = packet_epoch_key(&hops[i], r->topology, node[i], e)) != PACKET_OK)
			return rc;
		hops[i].command = i == SPHINX_MAX_HOPS - 2 ? SPHINX_CMD_DELIVER :
		    SPHINX_CMD_RELAY;
		memcpy(hops[i].next_id, i == SPHINX_MAX_HOPS - 2 ? r->own_pub :
		    node[i + 1]->pub, 32);
		hops[i].delay_ms = packet_delay(r->mean_delay_ms);
	}
	memcpy(hops[SPHINX_MAX_HOPS - 1].node_pub, r->own_pub, 32);
	hops[SPHINX_MAX_HOPS - 1].command = SPHINX_CMD_FINAL;
	return PACKET_OK;
}

int
packet_build_surb(struct packet_surb *s, uint8_t keys[SURB_KEYS_BYTES],
    const struct packet_route *r, const uint8_t replier_provider[32])
{
	const struct topology_node *node[SPHINX_MAX_HOPS - 1];
	struct sphinx_hop hops[SPHINX_MAX_HOPS];
	const struct topology *t = r->topology;
	uint64_t now = epoch_now_ms(), e[2];
	int rc = PACKET_ERR_TOPOLOGY;

	memset(s, 0, sizeof(*s));
	if (t == NULL || t->epoch_seconds == 0)
		return PACKET_ERR_TOPOLOGY;
	node[0] = packet_provider(t, replier_provider);
	for (uint32_t l = 0; l < TOPOLOGY_MIX_LAYERS; l++)
		if ((node[l + 1] = packet_random_mix(t, l + 1)) == NULL)
			return PACKET_ERR_TOPOLOGY;
	node[TOPOLOGY_MIX_LAYERS + 1] = packet_provider(t, r->own_provider);
	/* In the second half of an epoch, the next one's keys (published by
	 * then) give the block a longer life; otherwise the current one's. */
	e[0] = e[1] = epoch_at(now, t->epoch_seconds);
	if (now - epoch_start_ms(e[0], t->epoch_seconds) >= t->epoch_seconds * 500ull)
		e[0]++;
	else
		e[1]++;
	for (int i = 0; i < 2; i++) {
		rc = packet_surb_path(hops, node, r, e[i]);
		if (rc == PACKET_ERR_EPOCH)
			continue;
		if (rc != PACKET_OK)
			return rc;
		rc = surb_create(s->surb, keys, s->id, node[0]->pub, hops,
		    SPHINX_MAX_HOPS, e[i], NULL);
		if (rc != SPHINX_OK)
			return rc;
		s->epoch = e[i];
		s->expires_ms = epoch_key_expiry_ms(e[i], t->epoch_seconds);
		return PACKET_OK;
	}
	return rc;
}

int
packet_build_reply(uint8_t out[SPHINX_PACKET_BYTES], const uint8_t surb[SURB_BYTES],
    const uint8_t msgid[PACKET_MSGID_BYTES], const uint8_t *msg, size_t len,
    unsigned int more)
{
	uint8_t payload[SPHINX_MAX_MESSAGE_BYTES];
	struct payload p = { .type = more > 0 ? PAYLOAD_MORE : PAYLOAD_PLAIN,
	    .message = msg, .message_len = len, .more = more };
	size_t plen;
	int rc;

	memcpy(p.msgid, msgid, PACKET_MSGID_BYTES);
	if (payload_encode(payload, &plen, &p) != 0)
		return PACKET_ERR_TOO_LARGE;
	rc = surb_use(out, NULL, surb, SURB_BYTES, payload, plen);
	sodium_memzero(payload, sizeof(payload));
	return rc;
}

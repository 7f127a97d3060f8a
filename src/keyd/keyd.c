/*
 * keyd: the only process that holds the client's long-term private key.
 * It loads the key, locks itself down and then only answers requests over
 * its channels. The key lives in guarded, mlocked memory and is wiped on
 * exit.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/epoch.h"
#include "common/log.h"
#include "common/pem.h"
#include "common/regstmt.h"
#include "common/sandbox.h"
#include "common/secret.h"
#include "common/topology.h"
#include "common/topology_ipc.h"
#include "common/xalloc.h"
#include "keyd/keyd.h"
#include "keyd/packet.h"
#include "keyd/seal.h"

struct keyd {
	uint8_t		*priv;		/* sodium_malloc: guarded, mlocked */
	uint8_t		*loop_key;	/* likewise */
	uint8_t		*seal_key;	/* likewise: seals our reply blocks' keys */
	uint8_t		*surb_keys;	/* likewise: one block's kept keys, scratch */
	uint8_t		 pub[32];
	uint8_t		 provider[32];
	int		 have_provider;
	double		 mean_delay_ms;
	struct topology	*topology;
	uint64_t	 built;
	uint64_t	 opened;
	uint64_t	 malformed;
	struct proc	*proc;
	struct event	*cover_ev;	/* builds the next deferred cover */
	struct cover_req *covers;	/* ring of deferred cover builds */
	size_t		 covers_head;
	size_t		 n_covers;
};

/*
 * Cover builds are deferred, so that a real packet or an unwrap never
 * waits behind a row of them: netd keeps a pool of covers ahead of its
 * Poisson ticks and asks for many at once, while a real message and a
 * pulled packet are on a user's latency path. keyd answers everything
 * else as it reads it and builds one deferred cover per pass of its event
 * loop, after the pass's reads. netd asks for at most a pool's worth of
 * each kind (netd/traffic.c), which bounds the ring.
 */
#define KEYD_MAX_COVERS	1024

struct cover_req {
	struct ipc_chan		*chan;
	Nymipc__PacketKind	 kind;
};

static struct keyd keyd;

static void
keyd_apply_config(const Nymipc__ChildConfig *cfg)
{
	keyd.mean_delay_ms = cfg->average_delay_ms;
	keyd.have_provider = cfg->provider_id[0] != '\0' &&
	    b64_decode_key(keyd.provider, cfg->provider_id, B64_URLSAFE) == 0;
}

static void
keyd_reload(struct proc *p)
{
	keyd_apply_config(p->config);
}

static int
keyd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;
	int rc;

	if (sodium_init() < 0)
		return -1;
	keyd.priv = secret_alloc(PEM_KEY_BYTES);
	if (keyd.priv == NULL)
		fatal("cannot allocate locked memory for the key");
	/* The file master opened (PROC_ROLE_FD): keyd opens nothing. */
	rc = pem_read_key_fd(PROC_ROLE_FD, PEM_TYPE_PRIVATE, 1, keyd.priv);
	(void)close(PROC_ROLE_FD);
	if (rc != PEM_OK)
		fatalx("%s: %s", cfg->priv_key_file, pem_strerror(rc));
	if (crypto_scalarmult_base(keyd.pub, keyd.priv) != 0)
		fatalx("%s: not a usable Curve25519 private key", cfg->priv_key_file);
	keyd.loop_key = secret_alloc(PACKET_LOOP_KEY_BYTES);
	if (keyd.loop_key == NULL)
		fatal("cannot allocate locked memory for the key");
	packet_loop_key(keyd.loop_key, keyd.priv);
	keyd.seal_key = secret_alloc(SEAL_KEY_BYTES);
	keyd.surb_keys = secret_alloc(SURB_KEYS_BYTES);
	if (keyd.seal_key == NULL || keyd.surb_keys == NULL)
		fatal("cannot allocate locked memory for the key");
	seal_key(keyd.seal_key, keyd.priv);
	sodium_mprotect_readonly(keyd.priv);
	sodium_mprotect_readonly(keyd.loop_key);
	sodium_mprotect_readonly(keyd.seal_key);
	keyd_apply_config(cfg);
	keyd.proc = p;
	return 0;
}

static int
keyd_start(struct proc *p)
{
	log_info("key loaded and sandboxed");
	return 0;
}

static void
keyd_ready(struct proc *p, Nymipc__Ready *ready)
{
	ready->pubkey.data = keyd.pub;
	ready->pubkey.len = sizeof(keyd.pub);
}

static void
keyd_shutdown(struct proc *p)
{
	if (keyd.cover_ev != NULL)
		event_free(keyd.cover_ev);
	keyd.cover_ev = NULL;
	free(keyd.covers);
	keyd.covers = NULL;
	keyd.n_covers = 0;
	/* sodium_free wipes the pages before releasing them. */
	sodium_free(keyd.priv);
	sodium_free(keyd.loop_key);
	sodium_free(keyd.seal_key);
	sodium_free(keyd.surb_keys);
	keyd.priv = NULL;
	keyd.loop_key = NULL;
	keyd.seal_key = NULL;
	keyd.surb_keys = NULL;
	topology_free(keyd.topology);
	keyd.topology = NULL;
}

static void
keyd_send(struct ipc_chan *c, Nymipc__Ipc *msg)
{
	if (c != NULL && ipc_send(c, msg, -1) == -1)
		log_warn("cannot send %s to %s", ipc_type_name(msg->type), ipc_chan_name(c));
}

static void
on_pubkey_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;

	reply.type = IPC_PUBKEY_REPLY;
	reply.seq = msg->seq;
	reply.body_case = NYMIPC__IPC__BODY_PUBKEY;
	reply.pubkey.data = keyd.pub;
	reply.pubkey.len = sizeof(keyd.pub);
	keyd_send(c, &reply);
}

/* netd parsed and checked the directory's JSON; keyd reads the typed
 * form only. */
static void
on_topology(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct topology *t;
	char err[256];

	if (topology_from_ipc(msg->topology, &t, err, sizeof(err)) == -1)
		fatalx("netd sent a topology with %s", err);
	topology_free(keyd.topology);
	keyd.topology = t;
}

static struct packet_route
keyd_route(void)
{
	struct packet_route route = {
		.topology = keyd.topology,
		.own_pub = keyd.pub,
		.own_provider = keyd.provider,
		.mean_delay_ms = keyd.mean_delay_ms,
	};
	return route;
}

static void
keyd_build_failed(struct ipc_chan *rpcd, uint64_t id, const char *why)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__Failure f = NYMIPC__FAILURE__INIT;

	f.id = id;
	f.text = (char *)why;
	reply.type = IPC_BUILD_FAILED;
	reply.body_case = NYMIPC__IPC__BODY_FAILURE;
	reply.failure = &f;
	keyd_send(rpcd, &reply);
}

/* The ack id rpcd chose for the row (ipc.c checked that a forward
 * message has one; a reply has none and needs none). */
static void
keyd_ack_id(uint8_t id[ACK_ID_BYTES], const Nymipc__Outgoing *o)
{
	memset(id, 0, ACK_ID_BYTES);
	if (o->ack_id.len == ACK_ID_BYTES)
		memcpy(id, o->ack_id.data, ACK_ID_BYTES);
}

/* rpcd learns when the acknowledgement of queue row id is due. */
static void
keyd_ack_timer(struct ipc_chan *rpcd, uint64_t id, uint32_t round_trip_ms)
{
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__AckTimer t = NYMIPC__ACK_TIMER__INIT;

	t.id = id;
	t.round_trip_ms = round_trip_ms;
	out.type = IPC_ACK_TIMER;
	out.body_case = NYMIPC__IPC__BODY_ACK_TIMER;
	out.ack_timer = &t;
	keyd_send(rpcd, &out);
}

/*
 * A message with reply blocks (docs/replies.md): the blocks are made over
 * paths from the recipient's provider back to us, their kept keys sealed,
 * and the packet goes back to rpcd with the sealed keys, which it stores
 * before it hands the packet to netd: no reply can come back through a
 * block whose keys are not durable.
 */
struct keyd_tagged {
	struct packet_surb	 surbs[PAYLOAD_MAX_SURBS];
	uint8_t			 blocks[PAYLOAD_MAX_SURBS][SURB_BYTES];
	uint8_t			 sealed[PAYLOAD_MAX_SURBS][MESSAGE_SEALED_KEYS_BYTES];
	Nymipc__SealedKeys	 keys[PAYLOAD_MAX_SURBS];
	Nymipc__SealedKeys	*keyp[PAYLOAD_MAX_SURBS];
	uint8_t			 payload[SPHINX_MAX_MESSAGE_BYTES];
	uint8_t			 packet[SPHINX_PACKET_BYTES];
};

static int
keyd_make_surbs(struct keyd_tagged *t, const Nymipc__Outgoing *o)
{
	struct packet_route route = keyd_route();
	int rc;

	for (size_t i = 0; i < o->surbs; i++) {
		rc = packet_build_surb(&t->surbs[i], keyd.surb_keys, &route,
		    o->recipient_provider.data);
		if (rc == PACKET_OK)
			seal_keys(t->sealed[i], keyd.seal_key, keyd.surb_keys);
		sodium_memzero(keyd.surb_keys, SURB_KEYS_BYTES);
		if (rc != PACKET_OK)
			return rc;
		memcpy(t->blocks[i], t->surbs[i].surb, SURB_BYTES);
		nymipc__sealed_keys__init(&t->keys[i]);
		t->keys[i].surb_id.data = t->surbs[i].id;
		t->keys[i].surb_id.len = SURB_ID_BYTES;
		t->keys[i].sealed.data = t->sealed[i];
		t->keys[i].sealed.len = MESSAGE_SEALED_KEYS_BYTES;
		t->keys[i].expires_ms = t->surbs[i].expires_ms;
		t->keyp[i] = &t->keys[i];
	}
	return PACKET_OK;
}

static void
keyd_build_tagged(struct ipc_chan *c, const Nymipc__Outgoing *o)
{
	static struct keyd_tagged t;	/* large: not on the stack */
	struct packet_route route = keyd_route();
	struct payload p = {
		.type = o->surbs_only ? PAYLOAD_SURBS : PAYLOAD_TAGGED,
		.n_surbs = o->surbs, .surbs = t.blocks[0],
		.message = o->message.data, .message_len = o->message.len,
	};
	size_t len;
	uint8_t ack_id[ACK_ID_BYTES];
	uint32_t round_trip_ms = 0;
	int rc = keyd.have_provider ? keyd_make_surbs(&t, o) : PACKET_ERR_TOPOLOGY;

	memcpy(p.msgid, o->msgid.data, MESSAGE_ID_BYTES);
	memcpy(p.tag, o->sender_tag.data, PAYLOAD_TAG_BYTES);
	keyd_ack_id(ack_id, o);
	if (rc == PACKET_OK)
		rc = payload_encode(t.payload, &len, &p) == 0 ? PACKET_OK :
		    PACKET_ERR_TOO_LARGE;
	if (rc == PACKET_OK)
		rc = packet_build_payload(t.packet, &route, o->recipient.data,
		    o->recipient_provider.data, t.payload, len, ack_id,
		    &round_trip_ms);
	if (rc != PACKET_OK) {
		keyd_build_failed(c, o->id, packet_strerror(rc));
	} else {
		Nymipc__Ipc out = NYMIPC__IPC__INIT;
		Nymipc__Built b = NYMIPC__BUILT__INIT;
		b.id = o->id;
		b.data.data = t.packet;
		b.data.len = sizeof(t.packet);
		b.n_keys = o->surbs;
		b.keys = t.keyp;
		out.type = IPC_BUILT;
		out.body_case = NYMIPC__IPC__BODY_BUILT;
		out.built = &b;
		keyd.built++;
		if (ipc_send(c, &out, -1) == -1)
			log_warn("cannot hand message %llu's packet to rpcd",
			    (unsigned long long)o->id);
		else
			keyd_ack_timer(c, o->id, round_trip_ms);
	}
	sodium_memzero(&t, sizeof(t));
}

/*
 * rpcd's committed message: its packet goes to netd with rpcd's queue id
 * only, so that the process facing the network never sees the message or
 * its recipient. What cannot be built or handed over goes back to rpcd,
 * which tries again later.
 */
static void
on_build(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Outgoing *o = msg->outgoing;
	struct ipc_chan *netd = proc_peer(arg, ROLE_NETD);
	uint8_t packet[SPHINX_PACKET_BYTES];
	uint8_t ack_id[ACK_ID_BYTES];
	struct packet_route route = keyd_route();
	uint32_t round_trip_ms = 0;
	int rc;

	if (netd == NULL) {
		keyd_build_failed(c, o->id, "netd is not running");
		return;
	}
	if (o->sender_tag.len != 0) {
		keyd_build_tagged(c, o);
		return;
	}
	keyd_ack_id(ack_id, o);
	if (o->surb.len != 0)
		rc = packet_build_reply(packet, o->surb.data, o->msgid.data,
		    o->message.data, o->message.len, o->surbs);
	else if (o->fragment_count != 0)
		rc = keyd.have_provider ? packet_build_fragment(packet, &route,
		    o->recipient.data, o->recipient_provider.data, o->msgid.data,
		    o->fragment_index, o->fragment_count, o->message.data,
		    o->message.len, ack_id, &round_trip_ms) : PACKET_ERR_TOPOLOGY;
	else
		rc = keyd.have_provider ? packet_build_real(packet, &route,
		    o->recipient.data, o->recipient_provider.data, o->msgid.data,
		    o->message.data, o->message.len, ack_id, &round_trip_ms) :
		    PACKET_ERR_TOPOLOGY;
	if (rc != PACKET_OK) {
		keyd_build_failed(c, o->id, packet_strerror(rc));
		return;
	}
	keyd.built++;
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__Packet pk = NYMIPC__PACKET__INIT;
	pk.id = o->id;
	pk.data.data = packet;
	pk.data.len = sizeof(packet);
	out.type = IPC_PACKET;
	out.body_case = NYMIPC__IPC__BODY_PACKET;
	out.packet = &pk;
	if (ipc_send(netd, &out, -1) == -1)
		keyd_build_failed(c, o->id, "cannot hand the packet to netd");
	else if (o->surb.len == 0)
		keyd_ack_timer(c, o->id, round_trip_ms);
	sodium_memzero(packet, sizeof(packet));
}

static void
keyd_build_cover(struct ipc_chan *c, Nymipc__PacketKind kind)
{
	uint8_t packet[SPHINX_PACKET_BYTES];
	struct packet_route route = keyd_route();
	struct timespec ts;
	int rc;

	if (!keyd.have_provider)
		rc = PACKET_ERR_TOPOLOGY;
	else if (kind == KIND_LOOP) {
		clock_gettime(CLOCK_REALTIME, &ts);
		rc = packet_build_loop(packet, &route, keyd.loop_key,
		    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	} else
		rc = packet_build_drop(packet, &route);
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__Cover cover = NYMIPC__COVER__INIT;
	cover.kind = kind;
	if (rc == PACKET_OK) {
		keyd.built++;
		cover.data.data = packet;
		cover.data.len = sizeof(packet);
	} else
		cover.text = (char *)packet_strerror(rc);
	reply.type = IPC_COVER;
	reply.body_case = NYMIPC__IPC__BODY_COVER;
	reply.cover = &cover;
	keyd_send(c, &reply);
	sodium_memzero(packet, sizeof(packet));
}

static void
keyd_cover_schedule(void)
{
	static const struct timeval now = { 0, 0 };

	/* A timeout rather than event_active(): it runs after the next
	 * poll, so requests that arrived meanwhile are answered first. */
	if (keyd.n_covers > 0 && !evtimer_pending(keyd.cover_ev, NULL))
		evtimer_add(keyd.cover_ev, &now);
}

static void
on_cover_work(evutil_socket_t fd, short what, void *arg)
{
	if (keyd.n_covers == 0)
		return;
	struct cover_req r = keyd.covers[keyd.covers_head];
	keyd.covers_head = (keyd.covers_head + 1) % KEYD_MAX_COVERS;
	keyd.n_covers--;
	/* A request from a netd whose channel has since closed is void. */
	if (r.chan == proc_peer(keyd.proc, ROLE_NETD))
		keyd_build_cover(r.chan, r.kind);
	keyd_cover_schedule();
}

static int
keyd_defer_cover(struct proc *p, struct ipc_chan *c, Nymipc__PacketKind kind)
{
	if (keyd.cover_ev == NULL) {
		keyd.covers = xcalloc(KEYD_MAX_COVERS, sizeof(*keyd.covers));
		keyd.cover_ev = xevtimer_new(p->base, on_cover_work, NULL);
	}
	if (keyd.n_covers == KEYD_MAX_COVERS)
		return -1;
	keyd.covers[(keyd.covers_head + keyd.n_covers) % KEYD_MAX_COVERS] =
	    (struct cover_req){ .chan = c, .kind = kind };
	keyd.n_covers++;
	keyd_cover_schedule();
	return 0;
}

static void
on_cover_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (keyd_defer_cover(arg, c, msg->kind) == -1)
		keyd_build_cover(c, msg->kind);
}

static void
keyd_unwrapped(struct ipc_chan *netd, uint64_t id, Nymipc__PacketKind kind,
    uint64_t sent_ns, const char *why)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__Unwrapped u = NYMIPC__UNWRAPPED__INIT;

	u.id = id;
	u.kind = kind;
	u.sent_ns = sent_ns;
	u.text = (char *)(why ? why : "");
	reply.type = IPC_UNWRAPPED;
	reply.body_case = NYMIPC__IPC__BODY_UNWRAPPED;
	reply.unwrapped = &u;
	keyd_send(netd, &reply);
}

/*
 * When a block we received stops working: when its first hop drops its
 * key of the block's epoch (docs/epochs.md), and never later than two
 * epochs from now, whatever epoch a sender wrote in it.
 */
static uint64_t
keyd_block_expiry(const uint8_t surb[SURB_BYTES])
{
	uint32_t secs = keyd.topology != NULL && keyd.topology->epoch_seconds > 0 ?
	    keyd.topology->epoch_seconds : EPOCH_DEFAULT_SECONDS;
	uint64_t now = epoch_now_ms(), cap = now + 2ull * secs * 1000;
	struct surb_info info;

	if (surb_parse(surb, SURB_BYTES, &info) != SPHINX_OK || info.epoch > cap / 1000)
		return now;
	uint64_t at = epoch_key_expiry_ms(info.epoch, secs);
	return at > cap ? cap : at;
}

/* A real message to rpcd: 0, or -1 if rpcd is not there to take it. */
static int
keyd_send_received(struct ipc_chan *rpcd, uint64_t id, const struct packet_contents *pc,
    const uint8_t *surb_id)
{
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__Received rec = NYMIPC__RECEIVED__INIT;
	Nymipc__ReceivedSurb rs[PAYLOAD_MAX_SURBS], *rsp[PAYLOAD_MAX_SURBS];

	rec.id = id;
	rec.msgid.data = (uint8_t *)pc->msgid;
	rec.msgid.len = sizeof(pc->msgid);
	rec.message.data = (uint8_t *)pc->message;
	rec.message.len = pc->message_len;
	rec.fragment_index = pc->frag_index;
	rec.fragment_count = pc->frag_count;
	if (pc->tagged) {
		rec.sender_tag.data = (uint8_t *)pc->tag;
		rec.sender_tag.len = sizeof(pc->tag);
		rec.surbs_only = pc->surbs_only;
		for (size_t i = 0; i < pc->n_surbs; i++) {
			nymipc__received_surb__init(&rs[i]);
			rs[i].surb.data = (uint8_t *)pc->surbs[i];
			rs[i].surb.len = SURB_BYTES;
			rs[i].expires_ms = keyd_block_expiry(pc->surbs[i]);
			rsp[i] = &rs[i];
		}
		rec.n_surbs = pc->n_surbs;
		rec.surbs = rsp;
	}
	if (surb_id != NULL) {
		rec.surb_id.data = (uint8_t *)surb_id;
		rec.surb_id.len = SURB_ID_BYTES;
		rec.more_surbs = pc->more;
	}
	out.type = IPC_RECEIVED;
	out.body_case = NYMIPC__IPC__BODY_RECEIVED;
	out.received = &rec;
	return rpcd != NULL && ipc_send(rpcd, &out, -1) == 0 ? 0 : -1;
}

/*
 * An acknowledgement (docs/acks.md): a loop cover's is ours to recognise
 * and ends here; any other ack id is rpcd's, which commits it before netd
 * may acknowledge the delivery.
 */
static void
keyd_ack_arrived(struct ipc_chan *netd, struct ipc_chan *rpcd, uint64_t id,
    const uint8_t ack_id[ACK_ID_BYTES])
{
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__Acked a = NYMIPC__ACKED__INIT;

	if (packet_is_loop_ack(ack_id, keyd.loop_key)) {
		keyd_unwrapped(netd, id, KIND_LOOP_ACK, 0, NULL);
		return;
	}
	a.id = id;
	a.ack_id.data = (uint8_t *)ack_id;
	a.ack_id.len = ACK_ID_BYTES;
	out.type = IPC_ACKED;
	out.body_case = NYMIPC__IPC__BODY_ACKED;
	out.acked = &a;
	if (rpcd != NULL && ipc_send(rpcd, &out, -1) == 0)
		keyd_unwrapped(netd, id, KIND_ACK, 0, NULL);
	else
		keyd_unwrapped(netd, id, KIND_NONE, 0, "rpcd is not running");
}

/*
 * A reply through one of our blocks: rpcd holds the block's sealed keys
 * and sends them back with it (IPC_REPLY_OPEN). -1 if the packet is not a
 * reply to us.
 */
static int
keyd_reply_arrived(struct ipc_chan *netd, struct ipc_chan *rpcd, uint64_t id,
    const uint8_t *packet)
{
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__ReplyIn r = NYMIPC__REPLY_IN__INIT;
	uint8_t sid[SURB_ID_BYTES];
	int ack;

	if (surb_reply_kind(keyd.priv, packet, sid, &ack) != SPHINX_OK)
		return -1;
	if (ack) {
		keyd_ack_arrived(netd, rpcd, id, sid);
		return 0;
	}
	r.id = id;
	r.surb_id.data = sid;
	r.surb_id.len = sizeof(sid);
	r.data.data = (uint8_t *)packet;
	r.data.len = SPHINX_PACKET_BYTES;
	out.type = IPC_REPLY_ARRIVED;
	out.body_case = NYMIPC__IPC__BODY_REPLY_IN;
	out.reply_in = &r;
	if (rpcd != NULL && ipc_send(rpcd, &out, -1) == 0)
		keyd_unwrapped(netd, id, KIND_REAL, 0, NULL);
	else
		keyd_unwrapped(netd, id, KIND_NONE, 0, "rpcd is not running");
	return 0;
}

/*
 * A pulled packet: a real message goes to rpcd directly, and netd learns
 * only what kind of delivery it was, so that it can count it and, once
 * rpcd says it is stored, acknowledge it.
 */
static void
on_unwrap(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	static struct packet_contents pc;	/* large: not on the stack */
	struct ipc_chan *rpcd = proc_peer(arg, ROLE_RPCD);
	uint64_t id = msg->packet->id;
	int rc;

	rc = packet_open(keyd.priv, keyd.loop_key, msg->packet->data.data, &pc);
	if (rc == PACKET_OK && pc.more > 0)
		rc = PACKET_ERR_TYPE;	/* asking for blocks: only in a reply */
	if (rc == SPHINX_ERR_COMMAND &&
	    keyd_reply_arrived(c, rpcd, id, msg->packet->data.data) == 0) {
		keyd.opened++;
	} else if (rc != PACKET_OK) {
		keyd.malformed++;
		log_debug("delivery %llu rejected: %s", (unsigned long long)id,
		    packet_strerror(rc));
		keyd_unwrapped(c, id, KIND_MALFORMED, 0, packet_strerror(rc));
	} else if (pc.type == PACKET_LOOP) {
		keyd_unwrapped(c, id, KIND_LOOP, pc.sent_ns, NULL);
	} else {
		keyd.opened++;
		/* Without rpcd it stays at the provider for a later pull. */
		if (keyd_send_received(rpcd, id, &pc, NULL) == 0)
			keyd_unwrapped(c, id, KIND_REAL, 0, NULL);
		else
			keyd_unwrapped(c, id, KIND_NONE, 0, "rpcd is not running");
	}
	sodium_memzero(&pc, sizeof(pc));
}

/* A reply that does not open: rpcd acknowledges it, and it is dropped. */
static void
keyd_reply_failed(struct ipc_chan *rpcd, uint64_t id, const char *why)
{
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__Failure f = NYMIPC__FAILURE__INIT;

	log_debug("reply in delivery %llu dropped: %s", (unsigned long long)id, why);
	f.id = id;
	f.text = (char *)why;
	out.type = IPC_REPLY_FAILED;
	out.body_case = NYMIPC__IPC__BODY_FAILURE;
	out.failure = &f;
	keyd_send(rpcd, &out);
}

/*
 * rpcd found the sealed keys of the block a reply came through: opened
 * here, the only place they are ever in clear, and wiped at once. The
 * message goes back to rpcd, which deletes the keys as it stores it.
 */
static void
on_reply_open(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	static struct packet_contents pc;	/* large: not on the stack */
	static uint8_t m[SPHINX_MAX_MESSAGE_BYTES];
	const Nymipc__ReplyIn *r = msg->reply_in;
	size_t len = 0;
	int rc = -1;

	if (seal_open(keyd.surb_keys, keyd.seal_key, r->sealed.data, r->sealed.len) == 0)
		rc = surb_open(keyd.priv, keyd.surb_keys, SURB_KEYS_BYTES, r->data.data,
		    m, &len);
	sodium_memzero(keyd.surb_keys, SURB_KEYS_BYTES);
	if (rc == SPHINX_OK)
		rc = packet_read_message(m, len, &pc);
	if (rc != PACKET_OK || pc.tagged || pc.frag_count != 0)
		keyd_reply_failed(c, r->id, rc == -1 ? "its block's keys do not unseal" :
		    rc != PACKET_OK ? packet_strerror(rc) : pc.tagged ?
		    "a reply with reply blocks" : "a reply in fragments (not supported)");
	else if (keyd_send_received(c, r->id, &pc, r->surb_id.data) == -1)
		log_warn("cannot hand the reply in delivery %llu to rpcd",
		    (unsigned long long)r->id);
	sodium_memzero(m, sizeof(m));
	sodium_memzero(&pc, sizeof(pc));
}

/*
 * The link handshake's DH with our static key. netd learns the result,
 * not the key; see docs/link.md on what a compromised netd can do.
 */
static void
on_dh_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	uint8_t shared[32];

	reply.type = IPC_DH_REPLY;
	reply.seq = msg->seq;
	reply.body_case = NYMIPC__IPC__BODY_SECRET;
	if (crypto_scalarmult(shared, keyd.priv, msg->pubkey.data) == 0) {
		reply.secret.data = shared;
		reply.secret.len = sizeof(shared);
	}
	keyd_send(c, &reply);
	sodium_memzero(shared, sizeof(shared));
}

/*
 * A registration statement for the provider netd is about to register
 * with (docs/directory.md): signed here, since the key never leaves
 * keyd.  keyd writes the whole statement itself, its own key and its
 * own clock, so netd cannot have it sign anything else.
 */
static void
on_register_sign(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__Registration reg = NYMIPC__REGISTRATION__INIT;
	struct regstmt s;

	memset(&s, 0, sizeof(s));
	memcpy(s.client, keyd.pub, 32);
	memcpy(s.provider, msg->pubkey.data, 32);
	s.registered_ms = epoch_now_ms();
	reply.type = IPC_REGISTER_SIGNED;
	reply.seq = msg->seq;
	reply.body_case = NYMIPC__IPC__BODY_REGISTRATION;
	reply.registration = &reg;
	reg.provider.data = s.provider;
	reg.provider.len = 32;
	reg.registered_ms = s.registered_ms;
	if (regstmt_sign(&s, keyd.priv) == 0) {
		reg.signature.data = s.sig;
		reg.signature.len = sizeof(s.sig);
	} else {
		log_warnx("cannot sign the registration statement");
	}
	keyd_send(c, &reply);
}

static const struct ipc_dispatch keyd_from_netd = {
	.handlers = {
		[IPC_PUBKEY_REQUEST] = on_pubkey_request,
		[IPC_TOPOLOGY] = on_topology,
		[IPC_COVER_REQUEST] = on_cover_request,
		[IPC_UNWRAP] = on_unwrap,
		[IPC_DH_REQUEST] = on_dh_request,
		[IPC_REGISTER_SIGN] = on_register_sign,
	},
	.closed = proc_peer_closed,
};

static const struct ipc_dispatch keyd_from_rpcd = {
	.handlers = {
		[IPC_PUBKEY_REQUEST] = on_pubkey_request,
		[IPC_BUILD] = on_build,
		[IPC_REPLY_OPEN] = on_reply_open,
	},
	.closed = proc_peer_closed,
};

/*
 * A new netd: the covers its predecessor asked for are void (its channel
 * may even be at the same address as the new one's), and the packets
 * handed to it are gone with it, so rpcd has them built again.
 */
static void
keyd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role != ROLE_NETD)
		return;
	keyd.n_covers = 0;
	struct ipc_chan *rpcd = proc_peer(p, ROLE_RPCD);
	if (rpcd != NULL && ipc_send_type(rpcd, IPC_NETD_UP, 0) == -1)
		log_warn("cannot tell rpcd of the new netd");
}

const struct proc_role keyd_role = {
	.role = ROLE_KEYD,
	.sandbox = &keyd_policy,
	.configure = keyd_configure,
	.start = keyd_start,
	.reload = keyd_reload,
	.peer_up = keyd_peer_up,
	.ready = keyd_ready,
	.shutdown = keyd_shutdown,
	.from = {
		[ROLE_NETD] = &keyd_from_netd,
		[ROLE_RPCD] = &keyd_from_rpcd,
	},
};

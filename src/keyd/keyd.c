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
#include "common/log.h"
#include "common/pem.h"
#include "common/sandbox.h"
#include "common/secret.h"
#include "common/topology.h"
#include "keyd/keyd.h"
#include "keyd/packet.h"

struct keyd {
	uint8_t		*priv;		/* sodium_malloc: guarded, mlocked */
	uint8_t		*loop_key;	/* likewise */
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
	uint64_t		 seq;
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
	sodium_mprotect_readonly(keyd.priv);
	sodium_mprotect_readonly(keyd.loop_key);
	keyd_apply_config(cfg);
	topology_init();
	return 0;
}

static int
keyd_start(struct proc *p)
{
	log_info("key loaded and sandboxed");
	return 0;
}

static void
keyd_ready(struct proc *p, Nymipc__Ipc *msg)
{
	msg->pubkey.data = keyd.pub;
	msg->pubkey.len = sizeof(keyd.pub);
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
	keyd.priv = NULL;
	keyd.loop_key = NULL;
	topology_free(keyd.topology);
	keyd.topology = NULL;
}

static void
on_pubkey_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;

	reply.type = NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY;
	reply.seq = msg->seq;
	reply.pubkey.data = keyd.pub;
	reply.pubkey.len = sizeof(keyd.pub);
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
}

static void
on_topology(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	struct topology *t;
	char err[256];

	if (topology_parse((const char *)msg->data.data, msg->data.len, &t,
	    err, sizeof(err)) == -1)
		fatalx("netd sent a topology that does not parse: %s", err);
	topology_free(keyd.topology);
	keyd.topology = t;
}

static void
keyd_reply_error(struct ipc_chan *c, const Nymipc__Ipc *msg, int err)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;

	reply.type = NYMIPC__IPC_TYPE__IPC_BUILD_REPLY;
	reply.seq = msg->seq;
	reply.packet_kind = msg->packet_kind;
	reply.id = msg->outgoing ? msg->outgoing->id : 0;
	reply.text = (char *)packet_strerror(err);
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
}

static int
keyd_key32(const ProtobufCBinaryData *b)
{
	return b->len == 32 ? 0 : -1;
}

static void
keyd_build(struct ipc_chan *c, const Nymipc__Ipc *msg)
{
	uint8_t packet[SPHINX_PACKET_BYTES];
	struct packet_route route = {
		.topology = keyd.topology,
		.own_pub = keyd.pub,
		.own_provider = keyd.provider,
		.mean_delay_ms = keyd.mean_delay_ms,
	};
	struct timespec ts;
	int rc;

	if (!keyd.have_provider) {
		keyd_reply_error(c, msg, PACKET_ERR_TOPOLOGY);
		return;
	}
	switch (msg->packet_kind) {
	case NYMIPC__PACKET_KIND__PACKET_REAL: {
		const Nymipc__Outgoing *o = msg->outgoing;

		if (o == NULL || keyd_key32(&o->recipient) == -1 ||
		    keyd_key32(&o->recipient_provider) == -1 || o->msgid.len != PACKET_MSGID_BYTES)
			fatalx("netd sent a malformed build request");
		rc = packet_build_real(packet, &route, o->recipient.data,
		    o->recipient_provider.data, o->msgid.data, o->message.data, o->message.len);
		break;
	}
	case NYMIPC__PACKET_KIND__PACKET_LOOP:
		clock_gettime(CLOCK_REALTIME, &ts);
		rc = packet_build_loop(packet, &route, keyd.loop_key,
		    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
		break;
	case NYMIPC__PACKET_KIND__PACKET_DROP:
		rc = packet_build_drop(packet, &route);
		break;
	default:
		fatalx("netd asked for a packet of kind %d", (int)msg->packet_kind);
	}
	if (rc != PACKET_OK) {
		keyd_reply_error(c, msg, rc);
		return;
	}
	keyd.built++;
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	reply.type = NYMIPC__IPC_TYPE__IPC_BUILD_REPLY;
	reply.seq = msg->seq;
	reply.packet_kind = msg->packet_kind;
	reply.id = msg->outgoing ? msg->outgoing->id : 0;
	reply.data.data = packet;
	reply.data.len = sizeof(packet);
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
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
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	if (keyd.n_covers == 0)
		return;
	struct cover_req r = keyd.covers[keyd.covers_head];
	keyd.covers_head = (keyd.covers_head + 1) % KEYD_MAX_COVERS;
	keyd.n_covers--;
	/* A request from a netd whose channel has since closed is void. */
	if (r.chan == proc_peer(keyd.proc, NYMIPC__ROLE__ROLE_NETD)) {
		msg.type = NYMIPC__IPC_TYPE__IPC_BUILD_REQUEST;
		msg.seq = r.seq;
		msg.packet_kind = r.kind;
		keyd_build(r.chan, &msg);
	}
	keyd_cover_schedule();
}

static int
keyd_defer_cover(struct proc *p, struct ipc_chan *c, const Nymipc__Ipc *msg)
{
	if (keyd.cover_ev == NULL) {
		keyd.proc = p;
		keyd.covers = calloc(KEYD_MAX_COVERS, sizeof(*keyd.covers));
		keyd.cover_ev = evtimer_new(p->base, on_cover_work, NULL);
		if (keyd.covers == NULL || keyd.cover_ev == NULL)
			fatal("cannot allocate the cover queue");
	}
	if (keyd.n_covers == KEYD_MAX_COVERS)
		return -1;
	keyd.covers[(keyd.covers_head + keyd.n_covers) % KEYD_MAX_COVERS] =
	    (struct cover_req){ .chan = c, .seq = msg->seq, .kind = msg->packet_kind };
	keyd.n_covers++;
	keyd_cover_schedule();
	return 0;
}

static void
on_build_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	if ((msg->packet_kind == NYMIPC__PACKET_KIND__PACKET_LOOP ||
	    msg->packet_kind == NYMIPC__PACKET_KIND__PACKET_DROP) &&
	    keyd_defer_cover(arg, c, msg) == 0)
		return;
	keyd_build(c, msg);
}

static void
on_unwrap_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__Received rec = NYMIPC__RECEIVED__INIT;
	static struct packet_contents pc;	/* large: not on the stack */
	int rc;

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	reply.type = NYMIPC__IPC_TYPE__IPC_UNWRAP_REPLY;
	reply.seq = msg->seq;
	reply.id = msg->id;
	if (msg->data.len != SPHINX_PACKET_BYTES)
		rc = SPHINX_ERR_MALFORMED;
	else
		rc = packet_open(keyd.priv, keyd.loop_key, msg->data.data, &pc);
	if (rc != PACKET_OK) {
		keyd.malformed++;
		log_debug("delivery %llu rejected: %s", (unsigned long long)msg->id,
		    packet_strerror(rc));
		reply.packet_kind = NYMIPC__PACKET_KIND__PACKET_MALFORMED;
		reply.text = (char *)packet_strerror(rc);
	} else if (pc.type == PACKET_LOOP) {
		reply.packet_kind = NYMIPC__PACKET_KIND__PACKET_LOOP;
		reply.sent_ns = pc.sent_ns;
	} else {
		keyd.opened++;
		reply.packet_kind = NYMIPC__PACKET_KIND__PACKET_REAL;
		rec.msgid.data = pc.msgid;
		rec.msgid.len = sizeof(pc.msgid);
		rec.message.data = pc.message;
		rec.message.len = pc.message_len;
		reply.received = &rec;
	}
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
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

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	reply.type = NYMIPC__IPC_TYPE__IPC_DH_REPLY;
	reply.seq = msg->seq;
	if (keyd_key32(&msg->pubkey) == 0 &&
	    crypto_scalarmult(shared, keyd.priv, msg->pubkey.data) == 0) {
		reply.data.data = shared;
		reply.data.len = sizeof(shared);
	}
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
	sodium_memzero(shared, sizeof(shared));
}

static const struct ipc_dispatch keyd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST] = on_pubkey_request,
		[NYMIPC__IPC_TYPE__IPC_TOPOLOGY] = on_topology,
		[NYMIPC__IPC_TYPE__IPC_BUILD_REQUEST] = on_build_request,
		[NYMIPC__IPC_TYPE__IPC_UNWRAP_REQUEST] = on_unwrap_request,
		[NYMIPC__IPC_TYPE__IPC_DH_REQUEST] = on_dh_request,
	},
	.closed = proc_peer_closed,
};

/* A new netd: the covers its predecessor asked for are void (its channel
 * may even be at the same address as the new one's). */
static void
keyd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == NYMIPC__ROLE__ROLE_NETD)
		keyd.n_covers = 0;
}

const struct proc_role keyd_role = {
	.role = NYMIPC__ROLE__ROLE_KEYD,
	.sandbox = &keyd_policy,
	.configure = keyd_configure,
	.start = keyd_start,
	.reload = keyd_reload,
	.peer_up = keyd_peer_up,
	.ready = keyd_ready,
	.shutdown = keyd_shutdown,
	.peer_dispatch = &keyd_peer_dispatch,
};

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
	keyd.priv = NULL;
	keyd.loop_key = NULL;
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
	struct packet_route route = keyd_route();
	int rc;

	if (netd == NULL) {
		keyd_build_failed(c, o->id, "netd is not running");
		return;
	}
	rc = keyd.have_provider ? packet_build_real(packet, &route, o->recipient.data,
	    o->recipient_provider.data, o->msgid.data, o->message.data, o->message.len) :
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
 * A pulled packet: a real message goes to rpcd directly, and netd learns
 * only what kind of delivery it was, so that it can count it and, once
 * rpcd says it is stored, acknowledge it.
 */
static void
on_unwrap(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	static struct packet_contents pc;	/* large: not on the stack */
	uint64_t id = msg->packet->id;
	int rc;

	rc = packet_open(keyd.priv, keyd.loop_key, msg->packet->data.data, &pc);
	if (rc != PACKET_OK) {
		keyd.malformed++;
		log_debug("delivery %llu rejected: %s", (unsigned long long)id,
		    packet_strerror(rc));
		keyd_unwrapped(c, id, KIND_MALFORMED, 0, packet_strerror(rc));
	} else if (pc.type == PACKET_LOOP) {
		keyd_unwrapped(c, id, KIND_LOOP, pc.sent_ns, NULL);
	} else {
		struct ipc_chan *rpcd = proc_peer(arg, ROLE_RPCD);
		Nymipc__Ipc out = NYMIPC__IPC__INIT;
		Nymipc__Received rec = NYMIPC__RECEIVED__INIT;
		keyd.opened++;
		rec.id = id;
		rec.msgid.data = pc.msgid;
		rec.msgid.len = sizeof(pc.msgid);
		rec.message.data = pc.message;
		rec.message.len = pc.message_len;
		out.type = IPC_RECEIVED;
		out.body_case = NYMIPC__IPC__BODY_RECEIVED;
		out.received = &rec;
		/* Without rpcd it stays at the provider for a later pull. */
		if (rpcd != NULL && ipc_send(rpcd, &out, -1) == 0)
			keyd_unwrapped(c, id, KIND_REAL, 0, NULL);
		else
			keyd_unwrapped(c, id, KIND_NONE, 0, "rpcd is not running");
	}
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

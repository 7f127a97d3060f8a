/*
 * netd: the only process that talks to the network. It keeps the topology
 * from the directory, chooses and links to the client's provider, and runs
 * the Loopix streams; keyd builds and opens the packets, rpcd keeps the
 * messages durable.
 */
#include <config.h>

#include <string.h>

#include "common/b64.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/sandbox.h"
#include "common/sphinx.h"
#include "common/topology.h"
#include "netd/directory.h"
#include "netd/netd.h"
#include "netd/provider.h"
#include "netd/traffic.h"

static struct {
	struct proc		*proc;
	struct directory	*dir;
	struct provider_link	*provider;
	struct traffic		*traffic;
	uint8_t			 pub[32];
	int			 have_pub;
	char			 provider_id[B64_KEY_CHARS + 1];
	int			 provider_missing_logged;
	int			 queue_wanted;	/* rpcd's queue came before traffic */
	uint64_t		 seq;
	uint64_t		 dh_seq;
} netd;

static struct ipc_chan *
netd_keyd(void)
{
	return proc_peer(netd.proc, NYMIPC__ROLE__ROLE_KEYD);
}

static struct ipc_chan *
netd_rpcd(void)
{
	return proc_peer(netd.proc, NYMIPC__ROLE__ROLE_RPCD);
}

static void
netd_send_topology(struct ipc_chan *c)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	const char *json;
	size_t len;

	if (c == NULL || directory_topology(netd.dir, &json, &len) == NULL)
		return;
	msg.type = NYMIPC__IPC_TYPE__IPC_TOPOLOGY;
	msg.data.data = (uint8_t *)json;
	msg.data.len = len;
	if (ipc_send(c, &msg, -1) == -1)
		log_warn("cannot send the topology to %s", ipc_chan_name(c));
}

/* The seed picks a provider at random when none is configured, and
 * records it; master writes it into config.toml for us. */
static void
netd_choose_provider(const struct topology *t)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;

	if (t->n_providers == 0)
		return;
	const struct topology_node *p = &t->providers[rand_index((uint32_t)t->n_providers)];
	snprintf(netd.provider_id, sizeof(netd.provider_id), "%s", p->id);
	log_info("provider %s chosen at random from the topology", p->id);
	msg.type = NYMIPC__IPC_TYPE__IPC_PROVIDER_CHOSEN;
	msg.text = netd.provider_id;
	if (ipc_send(netd.proc->master, &msg, -1) == -1)
		log_warn("cannot tell master the chosen provider");
}

static void
netd_link_provider(void)
{
	const struct topology *t = directory_topology(netd.dir, NULL, NULL);

	if (t == NULL || !netd.have_pub || netd.provider == NULL)
		return;
	if (netd.provider_id[0] == '\0')
		netd_choose_provider(t);
	if (netd.provider_id[0] == '\0')
		return;
	const struct topology_node *p = topology_find_provider(t, netd.provider_id);
	if (p == NULL) {
		if (!netd.provider_missing_logged)
			log_warnx("provider %s is not in the topology; waiting for it",
			    netd.provider_id);
		netd.provider_missing_logged = 1;
		return;
	}
	netd.provider_missing_logged = 0;
	provider_connect(netd.provider, p->pub, p->host, p->port);
}

static void
netd_on_topology(const struct topology *t, const char *json, size_t len, void *arg)
{
	if (netd.traffic != NULL)
		traffic_set_epoch_seconds(netd.traffic, t->epoch_seconds);
	netd_send_topology(netd_rpcd());
	netd_send_topology(netd_keyd());
	netd_link_provider();
}

/* Hooks for the provider link and the streams. */

static int
netd_dh_request(void *arg, const uint8_t peer[32])
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = NYMIPC__IPC_TYPE__IPC_DH_REQUEST;
	msg.seq = netd.dh_seq = ++netd.seq;
	msg.pubkey.data = (uint8_t *)peer;
	msg.pubkey.len = 32;
	return ipc_send(k, &msg, -1);
}

static void
netd_registered(void *arg)
{
	traffic_link_up(netd.traffic);
}

static void
netd_down(void *arg)
{
	traffic_link_down(netd.traffic);
}

static void
netd_delivery(void *arg, uint64_t id, const uint8_t *packet, size_t len)
{
	traffic_delivery(netd.traffic, id, packet, len);
}

static void
netd_control(void *arg, const Link__Control *msg)
{
	traffic_control(netd.traffic, msg);
}

static const struct provider_callbacks netd_provider_cb = {
	.dh_request = netd_dh_request,
	.registered = netd_registered,
	.down = netd_down,
	.delivery = netd_delivery,
	.control = netd_control,
};

static int
netd_build(void *arg, Nymipc__PacketKind kind, const Nymipc__Outgoing *o)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = NYMIPC__IPC_TYPE__IPC_BUILD_REQUEST;
	msg.seq = ++netd.seq;
	msg.packet_kind = kind;
	msg.outgoing = (Nymipc__Outgoing *)o;
	return ipc_send(k, &msg, -1);
}

static int
netd_unwrap(void *arg, uint64_t id, const uint8_t *packet, size_t len)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = NYMIPC__IPC_TYPE__IPC_UNWRAP_REQUEST;
	msg.seq = ++netd.seq;
	msg.id = id;
	msg.data.data = (uint8_t *)packet;
	msg.data.len = len;
	return ipc_send(k, &msg, -1);
}

static int
netd_received(void *arg, uint64_t id, const Nymipc__Received *r)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *c = netd_rpcd();

	if (c == NULL)
		return -1;
	msg.type = NYMIPC__IPC_TYPE__IPC_RECEIVED;
	msg.id = id;
	msg.received = (Nymipc__Received *)r;
	return ipc_send(c, &msg, -1);
}

static int
netd_sent(void *arg, uint64_t outgoing_id)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *c = netd_rpcd();

	if (c == NULL)
		return -1;
	msg.type = NYMIPC__IPC_TYPE__IPC_SENT;
	msg.id = outgoing_id;
	return ipc_send(c, &msg, -1);
}

/* rpcd pushes its queue when its channel to netd comes up, which may be
 * before netd can take it (no traffic yet: keyd has not told the public
 * key); netd asks again once it can. */
static void
netd_want_queue(void *arg)
{
	struct ipc_chan *rpcd = proc_peer(netd.proc, NYMIPC__ROLE__ROLE_RPCD);

	netd.queue_wanted = 1;
	if (rpcd == NULL || netd.traffic == NULL)
		return;	/* rpcd's own push on its (re)start brings it */
	if (ipc_send_type(rpcd, NYMIPC__IPC_TYPE__IPC_QUEUE_REQUEST, ++netd.seq) == -1) {
		log_warn("cannot ask rpcd for its queue");
		return;
	}
	netd.queue_wanted = 0;
}

static const struct traffic_hooks netd_traffic_hooks = {
	.build = netd_build,
	.unwrap = netd_unwrap,
	.received = netd_received,
	.sent = netd_sent,
	.want_queue = netd_want_queue,
};

static void
netd_apply_config(const Nymipc__ChildConfig *cfg)
{
	struct traffic_rates r = {
		.send = cfg->send_rate,
		.loop = cfg->loop_cover_rate,
		.fetch = cfg->fetch_rate,
		.cover_disabled = cfg->cover_disabled,
	};

	if (cfg->provider_id[0] != '\0' && strcmp(cfg->provider_id, netd.provider_id) != 0)
		snprintf(netd.provider_id, sizeof(netd.provider_id), "%s", cfg->provider_id);
	traffic_set_rates(netd.traffic, &r);
}

static int
netd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;

	netd.proc = p;
	topology_init();
	if (directory_global_init() == -1)
		fatalx("cannot initialise libcurl");
	netd.dir = directory_new(p->base, cfg->directory_url,
	    cfg->topology_refresh_seconds, netd_on_topology, NULL);
	if (netd.dir == NULL || directory_set_proxy(netd.dir, cfg->directory_proxy) == -1)
		fatalx("cannot set up the directory client");
	netd_check_home(cfg->home);
	return 0;
}

static int
netd_start(struct proc *p)
{
	directory_start(netd.dir);
	return 0;
}

static void
netd_reload(struct proc *p)
{
	if (directory_set_url(netd.dir, p->config->directory_url,
	    p->config->topology_refresh_seconds) == -1)
		log_warnx("out of memory: keeping the old directory URL");
	if (directory_set_proxy(netd.dir, p->config->directory_proxy) == -1)
		log_warnx("out of memory: keeping the old directory proxy");
	if (netd.traffic != NULL)
		netd_apply_config(p->config);
	netd_link_provider();
}

static void
netd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == NYMIPC__ROLE__ROLE_RPCD) {
		netd_send_topology(proc_peer(p, role));
		if (netd.traffic != NULL)
			traffic_rpcd_up(netd.traffic);
	}
	if (role == NYMIPC__ROLE__ROLE_KEYD) {
		netd_send_topology(proc_peer(p, role));
		if (ipc_send_type(proc_peer(p, role), NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST,
		    ++netd.seq) == -1)
			log_warn("cannot ask keyd for the public key");
		if (netd.traffic != NULL)
			traffic_keyd_up(netd.traffic);
	}
}

static void
netd_shutdown(struct proc *p)
{
	traffic_free(netd.traffic);
	provider_free(netd.provider);
	directory_free(netd.dir);
	netd.traffic = NULL;
	netd.provider = NULL;
	netd.dir = NULL;
	directory_global_cleanup();
}

static void
on_pubkey_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_KEYD);
	if (msg->pubkey.len != 32)
		fatalx("keyd sent a public key of %zu bytes", msg->pubkey.len);
	if (netd.have_pub) {
		if (memcmp(netd.pub, msg->pubkey.data, 32) != 0)
			fatalx("keyd's public key changed");
		return;
	}
	memcpy(netd.pub, msg->pubkey.data, 32);
	netd.have_pub = 1;
	netd.provider = provider_new(netd.proc->base, netd.pub, SPHINX_PACKET_BYTES,
	    &netd_provider_cb, NULL);
	netd.traffic = netd.provider ? traffic_new(netd.proc->base, netd.provider,
	    &netd_traffic_hooks, NULL) : NULL;
	if (netd.traffic == NULL)
		fatalx("cannot set up the provider link");
	netd_apply_config(netd.proc->config);
	if (netd.queue_wanted)
		netd_want_queue(NULL);
	netd_link_provider();
}

static void
on_dh_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_KEYD);
	if (msg->seq != netd.dh_seq || netd.provider == NULL)
		return;	/* for a handshake that is gone */
	provider_dh_result(netd.provider, msg->data.len == 32 ? msg->data.data : NULL);
}

static void
on_build_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_KEYD);
	if (netd.traffic != NULL)
		traffic_built(netd.traffic, msg);
}

static void
on_unwrap_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_KEYD);
	if (netd.traffic != NULL)
		traffic_unwrapped(netd.traffic, msg);
}

static void
on_outgoing(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Outgoing *o = msg->outgoing;

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_RPCD);
	if (o == NULL || o->recipient.len != 32 || o->recipient_provider.len != 32 ||
	    o->msgid.len != 16)
		fatalx("rpcd sent a malformed outgoing message");
	if (netd.traffic == NULL) {
		netd.queue_wanted = 1;
		return;
	}
	traffic_outgoing(netd.traffic, o);
}

static void
on_stored(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_RPCD);
	if (netd.traffic != NULL)
		traffic_stored(netd.traffic, msg->id);
}

static void
on_not_stored(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_RPCD);
	if (netd.traffic != NULL)
		traffic_not_stored(netd.traffic, msg->id);
}

/* rpcd: an application named a recipient the topology does not list. */
static void
on_topology_refresh(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_RPCD);
	directory_refresh(netd.dir);
}

static void
on_status_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	Nymipc__NetStatus st = NYMIPC__NET_STATUS__INIT;
	const struct topology *t = directory_topology(netd.dir, NULL, NULL);

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_RPCD);
	st.topology_loaded = t != NULL;
	st.mixnodes = t ? (uint32_t)t->n_mixnodes : 0;
	st.providers = t ? (uint32_t)t->n_providers : 0;
	st.topology_fetches = directory_fetches(netd.dir);
	st.topology_failures = directory_failures(netd.dir);
	if (netd.traffic != NULL)
		traffic_status(netd.traffic, &st);
	reply.type = NYMIPC__IPC_TYPE__IPC_STATUS_REPLY;
	reply.seq = msg->seq;
	reply.status = &st;
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot answer %s", ipc_chan_name(c));
}

static const struct ipc_dispatch netd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_STATUS_REQUEST] = on_status_request,
		[NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY] = on_pubkey_reply,
		[NYMIPC__IPC_TYPE__IPC_DH_REPLY] = on_dh_reply,
		[NYMIPC__IPC_TYPE__IPC_BUILD_REPLY] = on_build_reply,
		[NYMIPC__IPC_TYPE__IPC_UNWRAP_REPLY] = on_unwrap_reply,
		[NYMIPC__IPC_TYPE__IPC_OUTGOING] = on_outgoing,
		[NYMIPC__IPC_TYPE__IPC_STORED] = on_stored,
		[NYMIPC__IPC_TYPE__IPC_NOT_STORED] = on_not_stored,
		[NYMIPC__IPC_TYPE__IPC_TOPOLOGY_REFRESH] = on_topology_refresh,
	},
	.closed = proc_peer_closed,
};

const struct proc_role netd_role = {
	.role = NYMIPC__ROLE__ROLE_NETD,
	.sandbox = &netd_policy,
	.configure = netd_configure,
	.start = netd_start,
	.reload = netd_reload,
	.peer_up = netd_peer_up,
	.shutdown = netd_shutdown,
	.peer_dispatch = &netd_peer_dispatch,
};

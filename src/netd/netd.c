/*
 * netd: the only process that talks to the network. It keeps the topology
 * from the directory, chooses and links to the client's provider, and runs
 * the Loopix streams; keyd builds and opens the packets, rpcd keeps the
 * messages durable.
 */
#include <config.h>

#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/regstmt.h"
#include "common/sandbox.h"
#include "common/sphinx.h"
#include "common/topology.h"
#include "common/topology_ipc.h"
#include "common/xalloc.h"
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
	uint64_t		 seq;
	uint64_t		 dh_seq;
	uint64_t		 sign_seq;
	struct event		*stats_ev;	/* NULL: no metrics_listen */
} netd;

/* How often netd tells rpcd its counters, with metrics_listen set. */
#define NETD_STATS_MS	1000

static struct ipc_chan *
netd_keyd(void)
{
	return proc_peer(netd.proc, ROLE_KEYD);
}

static struct ipc_chan *
netd_rpcd(void)
{
	return proc_peer(netd.proc, ROLE_RPCD);
}

/* The topology as netd parsed and checked it, in its typed form: keyd
 * and rpcd parse no JSON. */
static void
netd_send_topology(struct ipc_chan *c)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	const struct topology *t = directory_topology(netd.dir, NULL, NULL);
	struct topology_ipc *ti;

	if (c == NULL || t == NULL)
		return;
	if ((ti = topology_ipc_new(t)) == NULL)
		fatalx("out of memory");
	msg.type = IPC_TOPOLOGY;
	msg.body_case = NYMIPC__IPC__BODY_TOPOLOGY;
	msg.topology = topology_ipc_msg(ti);
	if (ipc_send(c, &msg, -1) == -1)
		log_warn("cannot send the topology to %s", ipc_chan_name(c));
	topology_ipc_free(ti);
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
	msg.type = IPC_PROVIDER_CHOSEN;
	msg.body_case = NYMIPC__IPC__BODY_TEXT;
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

/* Hooks for the provider link (keyd's DH) and the streams. */

static int
netd_dh_request(void *arg, const uint8_t peer[32])
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = IPC_DH_REQUEST;
	msg.seq = netd.dh_seq = ++netd.seq;
	msg.body_case = NYMIPC__IPC__BODY_PUBKEY;
	msg.pubkey.data = (uint8_t *)peer;
	msg.pubkey.len = 32;
	return ipc_send(k, &msg, -1);
}

static int
netd_sign_request(void *arg, const uint8_t provider[32])
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = IPC_REGISTER_SIGN;
	msg.seq = netd.sign_seq = ++netd.seq;
	msg.body_case = NYMIPC__IPC__BODY_PUBKEY;
	msg.pubkey.data = (uint8_t *)provider;
	msg.pubkey.len = 32;
	return ipc_send(k, &msg, -1);
}

static const struct provider_keyd netd_provider_keyd = {
	.dh_request = netd_dh_request,
	.sign_request = netd_sign_request,
};

static int
netd_cover(void *arg, Nymipc__PacketKind kind)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	msg.type = IPC_COVER_REQUEST;
	msg.body_case = NYMIPC__IPC__BODY_KIND;
	msg.kind = kind;
	return ipc_send(k, &msg, -1);
}

static int
netd_unwrap(void *arg, uint64_t id, const uint8_t *packet, size_t len)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__Packet pk = NYMIPC__PACKET__INIT;
	struct ipc_chan *k = netd_keyd();

	if (k == NULL)
		return -1;
	pk.id = id;
	pk.data.data = (uint8_t *)packet;
	pk.data.len = len;
	msg.type = IPC_UNWRAP;
	msg.body_case = NYMIPC__IPC__BODY_PACKET;
	msg.packet = &pk;
	return ipc_send(k, &msg, -1);
}

static int
netd_sent(void *arg, uint64_t id)
{
	struct ipc_chan *c = netd_rpcd();

	return c == NULL ? -1 : ipc_send_id(c, IPC_SENT, id);
}

static int
netd_expired(void *arg, uint64_t id)
{
	struct ipc_chan *c = netd_rpcd();

	return c == NULL ? -1 : ipc_send_id(c, IPC_EXPIRED, id);
}

static const struct traffic_hooks netd_traffic_hooks = {
	.cover = netd_cover,
	.unwrap = netd_unwrap,
	.sent = netd_sent,
	.expired = netd_expired,
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

/* netd's counters and state, for rpcd's metrics endpoint (nymd(8),
 * METRICS); scrapes read the latest. */
static void
netd_on_stats(evutil_socket_t fd, short what, void *arg)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__TrafficStats ts = NYMIPC__TRAFFIC_STATS__INIT;
	const struct topology *t = directory_topology(netd.dir, NULL, NULL);
	struct ipc_chan *c = netd_rpcd();
	struct timeval tv = { NETD_STATS_MS / 1000, (NETD_STATS_MS % 1000) * 1000 };

	evtimer_add(netd.stats_ev, &tv);
	if (c == NULL)
		return;
	if (netd.traffic != NULL) {
		const struct traffic_stats *st = traffic_stats(netd.traffic);
		ts.real_sent = st->real_sent;
		ts.real_resent = st->real_resent;
		ts.cover_sent = st->cover_sent;
		ts.loops_returned = st->loops_returned;
		ts.loop_rtt_ms_sum = st->loop_rtt_ms_sum;
		ts.received = st->received;
		ts.dropped = st->dropped;
	}
	ts.provider_registered = netd.provider != NULL &&
	    provider_registered(netd.provider);
	if (t != NULL) {
		ts.topology_mixnodes = (uint32_t)t->n_mixnodes;
		ts.topology_providers = (uint32_t)t->n_providers;
		struct timespec now;
		if (t->epoch_seconds > 0 && clock_gettime(CLOCK_REALTIME, &now) == 0)
			ts.key_epoch = (uint64_t)now.tv_sec / t->epoch_seconds;
	}
	msg.type = IPC_TRAFFIC_STATS;
	msg.body_case = NYMIPC__IPC__BODY_TRAFFIC_STATS;
	msg.traffic_stats = &ts;
	if (ipc_send(c, &msg, -1) == -1)
		log_warn("cannot send the traffic counters to rpcd");
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
	if (cfg->metrics_listen[0] != '\0')
		netd.stats_ev = xevtimer_new(p->base, netd_on_stats, NULL);
	return 0;
}

static int
netd_start(struct proc *p)
{
	directory_start(netd.dir);
	if (netd.stats_ev != NULL)
		netd_on_stats(-1, 0, NULL);
	return 0;
}

static void
netd_reload(struct proc *p)
{
	directory_set_url(netd.dir, p->config->directory_url,
	    p->config->topology_refresh_seconds);
	if (directory_set_proxy(netd.dir, p->config->directory_proxy) == -1)
		log_warnx("out of memory: keeping the old directory proxy");
	if (netd.traffic != NULL)
		netd_apply_config(p->config);
	netd_link_provider();
}

static void
netd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == ROLE_RPCD) {
		netd_send_topology(proc_peer(p, role));
		if (netd.traffic != NULL)
			traffic_rpcd_up(netd.traffic);
	}
	if (role == ROLE_KEYD) {
		netd_send_topology(proc_peer(p, role));
		if (ipc_send_type(proc_peer(p, role), IPC_PUBKEY_REQUEST, ++netd.seq) == -1)
			log_warn("cannot ask keyd for the public key");
		if (netd.traffic != NULL)
			traffic_keyd_up(netd.traffic);
	}
}

static void
netd_shutdown(struct proc *p)
{
	if (netd.traffic != NULL) {
		const struct traffic_stats *st = traffic_stats(netd.traffic);
		log_info("traffic: %llu real packets sent (%llu again after a link "
		    "loss), %llu covers sent, %llu loops returned, %llu messages "
		    "received, %llu deliveries dropped",
		    (unsigned long long)st->real_sent, (unsigned long long)st->real_resent,
		    (unsigned long long)st->cover_sent, (unsigned long long)st->loops_returned,
		    (unsigned long long)st->received, (unsigned long long)st->dropped);
	}
	if (netd.stats_ev != NULL)
		event_free(netd.stats_ev);
	netd.stats_ev = NULL;
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
	if (netd.have_pub) {
		if (memcmp(netd.pub, msg->pubkey.data, 32) != 0)
			fatalx("keyd's public key changed");
		return;
	}
	memcpy(netd.pub, msg->pubkey.data, 32);
	netd.have_pub = 1;
	netd.provider = provider_new(netd.proc->base, netd.pub, SPHINX_PACKET_BYTES,
	    &netd_provider_keyd, NULL);
	netd.traffic = traffic_new(netd.proc->base, netd.provider,
	    &netd_traffic_hooks, NULL);
	if (netd.traffic == NULL)
		fatalx("cannot set up the provider link");
	netd_apply_config(netd.proc->config);
	netd_link_provider();
}

static void
on_dh_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (msg->seq != netd.dh_seq || netd.provider == NULL)
		return;	/* for a handshake that is gone */
	provider_dh_result(netd.provider, msg->secret.len == 32 ? msg->secret.data : NULL);
}

static void
on_register_signed(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Registration *r = msg->registration;

	if (msg->seq != netd.sign_seq || netd.provider == NULL)
		return;	/* for a link that is gone */
	provider_statement_result(netd.provider, r->provider.data, r->registered_ms,
	    r->signature.len == REGSTMT_SIG_BYTES ? r->signature.data : NULL);
}

/* keyd built a committed message's packet (rpcd hands on those that
 * carry reply blocks once their keys are stored): netd sees the packet
 * and rpcd's queue id, nothing of the message. */
static void
on_packet(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (netd.traffic == NULL) {
		if (netd_expired(NULL, msg->packet->id) == -1)
			log_debug("packet of message %llu dropped before the link",
			    (unsigned long long)msg->packet->id);
		return;
	}
	traffic_packet(netd.traffic, msg->packet->id, msg->packet->data.data);
}

static void
on_cover(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (netd.traffic != NULL)
		traffic_cover(netd.traffic, msg->cover);
}

static void
on_unwrapped(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (netd.traffic != NULL)
		traffic_unwrapped(netd.traffic, msg->unwrapped);
}

static void
on_stored(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (netd.traffic != NULL)
		traffic_stored(netd.traffic, msg->id);
}

static void
on_not_stored(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (netd.traffic != NULL)
		traffic_not_stored(netd.traffic, msg->id);
}

/* rpcd: an application named a recipient the topology does not list. */
static void
on_topology_refresh(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	directory_refresh(netd.dir);
}

static const struct ipc_dispatch netd_from_keyd = {
	.handlers = {
		[IPC_PUBKEY_REPLY] = on_pubkey_reply,
		[IPC_DH_REPLY] = on_dh_reply,
		[IPC_REGISTER_SIGNED] = on_register_signed,
		[IPC_PACKET] = on_packet,
		[IPC_COVER] = on_cover,
		[IPC_UNWRAPPED] = on_unwrapped,
	},
	.closed = proc_peer_closed,
};

static const struct ipc_dispatch netd_from_rpcd = {
	.handlers = {
		[IPC_STORED] = on_stored,
		[IPC_NOT_STORED] = on_not_stored,
		[IPC_TOPOLOGY_REFRESH] = on_topology_refresh,
		[IPC_PACKET] = on_packet,
	},
	.closed = proc_peer_closed,
};

const struct proc_role netd_role = {
	.role = ROLE_NETD,
	.sandbox = &netd_policy,
	.configure = netd_configure,
	.start = netd_start,
	.reload = netd_reload,
	.peer_up = netd_peer_up,
	.shutdown = netd_shutdown,
	.from = {
		[ROLE_KEYD] = &netd_from_keyd,
		[ROLE_RPCD] = &netd_from_rpcd,
	},
};

/*
 * rpcd: serves applications on the local socket. It holds no key and
 * opens no outbound connection; what it knows of the world comes from
 * keyd (the public key) and netd (the topology).
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/payload.h"
#include "common/sandbox.h"
#include "common/topology.h"
#include "common/topology_ipc.h"
#include "common/xalloc.h"
#include "rpcd/api.h"
#include "rpcd/listener.h"
#include "rpcd/metrics.h"
#include "rpcd/outbox.h"
#include "rpcd/queue.h"
#include "rpcd/rpcd.h"
#include "rpcd/watch.h"

static struct {
	struct proc		*proc;
	struct rpcd_state	 state;
	struct listener		*listener;
	struct outbox		*outbox;	/* the messages in flight */
	struct event		*retry;		/* deletes kept-apart messages */
	uint64_t		 seq;
	uint32_t		 surb_lifetime;	/* s, our blocks' keys at most; 0: epochs */
	int			 confined;	/* rpcd_start() ran */
	int			 serving;	/* accepting connections */
	struct metrics_endpoint	*metrics;	/* NULL: no metrics_listen */
	Nymipc__TrafficStats	 netd_stats;	/* netd's last report */
	int			 have_netd_stats;	/* from the netd running now */
} rpcd;

#define RPCD_RETRY_MS	1000

/* keyd builds the packet and hands it to netd; without both, nothing
 * is asked (the window is asked again when they are back). */
static int
rpcd_build(void *arg, const struct queue_outgoing *q)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	struct ipc_chan *keyd = proc_peer(rpcd.proc, ROLE_KEYD);

	if (keyd == NULL || proc_peer(rpcd.proc, ROLE_NETD) == NULL)
		return -1;
	o.id = q->id;
	o.message.data = (uint8_t *)q->message;
	o.message.len = q->len;
	o.recipient.data = (uint8_t *)q->recipient;
	o.recipient.len = QUEUE_KEY_BYTES;
	o.recipient_provider.data = (uint8_t *)q->provider;
	o.recipient_provider.len = QUEUE_KEY_BYTES;
	o.msgid.data = (uint8_t *)q->msgid;
	o.msgid.len = QUEUE_MSGID_BYTES;
	o.surbs = q->surbs;
	o.surbs_only = q->surbs_only;
	o.fragment_index = q->frag_index;
	o.fragment_count = q->frag_count;
	if (q->tag != NULL) {
		o.sender_tag.data = (uint8_t *)q->tag;
		o.sender_tag.len = QUEUE_TAG_BYTES;
	}
	if (q->surb != NULL) {
		o.surb.data = (uint8_t *)q->surb;
		o.surb.len = QUEUE_SURB_BYTES;
	}
	/* docs/acks.md: the same id for every build of the row; a reply
	 * has none (it is not acknowledged). */
	if (q->ack_id != NULL) {
		o.ack_id.data = (uint8_t *)q->ack_id;
		o.ack_id.len = QUEUE_ACK_ID_BYTES;
	}
	msg.type = IPC_BUILD;
	msg.body_case = NYMIPC__IPC__BODY_OUTGOING;
	msg.outgoing = &o;
	if (ipc_send(keyd, &msg, -1) == -1) {
		log_warn("cannot hand message %llu to keyd", (unsigned long long)q->id);
		return -1;
	}
	return 0;
}

/* A message was committed: it joins the window if there is room. */
static void
rpcd_queued(const struct queue_outgoing *q)
{
	outbox_fill(rpcd.outbox);
}

/* An application names a recipient the topology does not list: netd
 * fetches the topology now (or soon: it rate-limits), and sends it. */
static int
rpcd_refresh_topology(void)
{
	struct ipc_chan *netd = proc_peer(rpcd.proc, NYMIPC__ROLE__ROLE_NETD);

	if (netd == NULL || ipc_send_type(netd, IPC_TOPOLOGY_REFRESH, 0) == -1)
		return -1;
	log_debug("asked netd for a fresh topology");
	return 0;
}

/* A sent message's state changed (committed): every watching
 * connection hears of it. */
static void
rpcd_status_changed(void *arg, const struct queue_status *st)
{
	watch_changed(rpcd.state.watchers, st);
}

/* How long received ids are remembered: duplicate_window_seconds, or
 * the default where master sent none. */
static void
rpcd_set_window(const Nymipc__ChildConfig *cfg)
{
	uint32_t seconds = cfg->duplicate_window_seconds;

	queue_set_window(rpcd.state.queue, seconds ? seconds :
	    QUEUE_DEFAULT_WINDOW_SECONDS, QUEUE_SEEN_MAX, NULL);
}

/* message_expiry_seconds (for messages queued from now on), and the
 * timing the deadlines of packets with the provider follow. */
static void
rpcd_set_expiry(const Nymipc__ChildConfig *cfg)
{
	queue_set_expiry(rpcd.state.queue, cfg->message_expiry_seconds ?
	    cfg->message_expiry_seconds : QUEUE_DEFAULT_EXPIRY_SECONDS);
	if (rpcd.outbox != NULL)
		outbox_set_timing(rpcd.outbox, cfg->average_delay_ms, cfg->fetch_rate);
}

/* The store lives in HOME/data, entered relative to the home (rpcd's
 * working directory, proc_home_path()), and opened by a relative name. */
static void
rpcd_open_queue(const Nymipc__ChildConfig *cfg)
{
	char dir[PATH_MAX], err[512];

	if (snprintf(dir, sizeof(dir), "%s/data", cfg->home) >= (int)sizeof(dir))
		fatalx("%s/data: path too long", cfg->home);
	/* A store that cannot be opened is a storage failure: master does
	 * not restart rpcd into the same failure. */
	if (chdir(proc_home_path(cfg->home, dir)) == -1)
		fatalx_storage("%s: %s", dir, strerror(errno));
	char shown[PATH_MAX + 16];
	snprintf(shown, sizeof(shown), "%s/nymd.db", dir);
	if (queue_open(&rpcd.state.queue, "nymd.db", shown, err, sizeof(err)) == -1)
		fatalx_storage("%s/%s", dir, err);
	rpcd_set_window(cfg);
	rpcd_set_expiry(cfg);
	queue_set_max_message(rpcd.state.queue, rpcd.state.max_message_bytes);
	/* Partial messages whose time ran out while nymd was down. */
	if (queue_expire_fragments(rpcd.state.queue) == -1)
		log_warnx("message store: cannot drop expired fragments: %s",
		    queue_error(rpcd.state.queue));
	rpcd.state.queued = rpcd_queued;
	queue_on_status(rpcd.state.queue, rpcd_status_changed, NULL);
}

/* max_message_bytes and the request limits that follow from it; master
 * always sends it (0 only from a master older than it: the default). */
static void
rpcd_set_limits(const Nymipc__ChildConfig *cfg)
{
	size_t max = cfg->max_message_bytes ? cfg->max_message_bytes :
	    QUEUE_DEFAULT_MAX_MESSAGE_BYTES;

	rpcd.state.max_message_bytes = max;
	rpcd.state.max_request_bytes = api_max_request_bytes(max);
	rpcd.state.max_websocket_bytes =
	    api_max_websocket_bytes(rpcd.state.max_request_bytes);
	if (rpcd.state.queue != NULL)
		queue_set_max_message(rpcd.state.queue, max);
}

/* Delivered messages that could not be deleted: once a second until they
 * are (they are never handed to netd again meanwhile). */
static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	size_t left = queue_retry(rpcd.state.queue);

	if (left > 0) {
		struct timeval tv = { RPCD_RETRY_MS / 1000, (RPCD_RETRY_MS % 1000) * 1000 };
		evtimer_add(rpcd.retry, &tv);
	} else
		log_info("message store: every delivered message is deleted");
}

static void
rpcd_metrics_fill(void *arg, struct strbuf *out)
{
	struct rpcd_metrics_view v = {
		.store = queue_counts(rpcd.state.queue),
		.queued = queue_outgoing_count(rpcd.state.queue),
		.in_flight = outbox_in_flight(rpcd.outbox),
		.netd = rpcd.have_netd_stats ? &rpcd.netd_stats : NULL,
	};

	rpcd_metrics_text(out, &v);
}

/* The endpoint is bound here, before the sandbox (which creates no
 * socket); changing metrics_listen needs a restart of nymd. */
static void
rpcd_metrics_open(struct proc *p, const char *listen)
{
	char err[256];

	if (listen[0] == '\0')
		return;
	if (metrics_endpoint_start(&rpcd.metrics, p->base, listen,
	    rpcd_metrics_fill, NULL, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("metrics on http://%s/metrics", listen);
}

static int
rpcd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;

	rpcd.proc = p;
	rpcd_set_limits(cfg);
	rpcd.state.watchers = watch_list_new();
	/* The listener (master's unix socket, or a TCP one bound here). */
	rpcd.listener = listener_open(p->base, cfg, &rpcd.state);
	rpcd_open_queue(cfg);
	rpcd.outbox = outbox_new(p->base, rpcd.state.queue, rpcd_build, NULL);
	outbox_set_timing(rpcd.outbox, cfg->average_delay_ms, cfg->fetch_rate);
	/* Messages that expired and packets whose deadline passed while
	 * nymd was down; then whenever the next is due. */
	outbox_check(rpcd.outbox);
	rpcd.retry = xevtimer_new(p->base, on_retry, NULL);
	/* Delivered in an earlier run and not deleted yet (the store's
	 * record): deleted as soon as it can be, never sent again. */
	if (queue_retired_count(rpcd.state.queue) > 0) {
		struct timeval tv = { RPCD_RETRY_MS / 1000, (RPCD_RETRY_MS % 1000) * 1000 };
		evtimer_add(rpcd.retry, &tv);
	}
	rpcd.state.provider_id = cfg->provider_id;
	rpcd.state.refresh_topology = rpcd_refresh_topology;
	rpcd_metrics_open(p, cfg->metrics_listen);
	rpcd.surb_lifetime = cfg->reply_surb_lifetime_seconds;
	return 0;
}

/*
 * Connections are accepted once rpcd is confined and knows the client's
 * key (keyd's answer): master binds the unix socket before any child
 * starts, so an application that connects early waits in the backlog
 * for a daemon that can answer, rather than hearing it is starting.
 */
static void
rpcd_serve(void)
{
	const Nymipc__ChildConfig *cfg = rpcd.proc->config;

	if (rpcd.serving || !rpcd.confined || !rpcd.state.have_pubkey)
		return;
	if (listener_start(rpcd.listener) == -1)
		fatalx("cannot start accepting connections");
	rpcd.serving = 1;
	if (cfg->socket_kind == NYMIPC__SOCKET_KIND__SOCKET_UNIX)
		log_info("listening on %s", cfg->socket_path);
	else
		log_info("listening on %s port %u", cfg->listen_address, cfg->port);
}

static int
rpcd_start(struct proc *p)
{
	rpcd.confined = 1;
	rpcd_serve();
	return 0;
}

static void
rpcd_reload(struct proc *p)
{
	rpcd.state.provider_id = p->config->provider_id;
	rpcd.surb_lifetime = p->config->reply_surb_lifetime_seconds;
	rpcd_set_window(p->config);
	rpcd_set_expiry(p->config);
	rpcd_set_limits(p->config);
}

/* A (new) keyd or netd: what was in flight through the old one is gone,
 * so the window is asked for again (netd ignores a packet it holds). */
static void
rpcd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == ROLE_KEYD &&
	    ipc_send_type(proc_peer(p, role), IPC_PUBKEY_REQUEST, ++rpcd.seq) == -1)
		log_warn("cannot ask keyd for the public key");
	if (role == ROLE_NETD)
		rpcd.have_netd_stats = 0;	/* a new netd counts from 0 */
	outbox_reset(rpcd.outbox);
}

static void
rpcd_shutdown(struct proc *p)
{
	metrics_endpoint_free(rpcd.metrics);
	rpcd.metrics = NULL;
	listener_free(rpcd.listener);
	rpcd.listener = NULL;
	watch_list_free(rpcd.state.watchers);
	rpcd.state.watchers = NULL;
	if (rpcd.retry != NULL)
		event_free(rpcd.retry);
	rpcd.retry = NULL;
	outbox_free(rpcd.outbox);
	rpcd.outbox = NULL;
	topology_free(rpcd.state.topology);
	rpcd.state.topology = NULL;
	queue_close(rpcd.state.queue);
	rpcd.state.queue = NULL;
}

/* The provider has a packet: a forward one awaits its acknowledgement
 * (docs/acks.md), a reply is deleted. */
static void
on_sent(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	if (outbox_sent(rpcd.outbox, msg->id) == -1) {
		/* A reply kept apart, never sent again; said once per
		 * episode by the store, retried until it is deleted (or a
		 * forward row held until its deadline). */
		log_debug("message %llu with the provider, not recorded: %s",
		    (unsigned long long)msg->id, queue_error(rpcd.state.queue));
		if (queue_retired_count(rpcd.state.queue) > 0 &&
		    !evtimer_pending(rpcd.retry, NULL)) {
			struct timeval tv = { RPCD_RETRY_MS / 1000,
			    (RPCD_RETRY_MS % 1000) * 1000 };
			evtimer_add(rpcd.retry, &tv);
		}
	} else
		log_debug("message %llu handed to the provider", (unsigned long long)msg->id);
}

/* keyd handed netd a packet with an acknowledgement: the delays it drew
 * for both ways, for the packet's deadline. */
static void
on_ack_timer(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	outbox_round_trip(rpcd.outbox, msg->ack_timer->id, msg->ack_timer->round_trip_ms);
}

static void
on_expired(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	outbox_expired(rpcd.outbox, msg->id);
}

/* Kept by value (the message is freed after this handler); ipc_check
 * refused unknown fields, the only pointer a copy could keep. */
static void
on_traffic_stats(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	rpcd.netd_stats = *msg->traffic_stats;
	rpcd.netd_stats.base.n_unknown_fields = 0;
	rpcd.netd_stats.base.unknown_fields = NULL;
	rpcd.have_netd_stats = 1;
}

static void
on_build_failed(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	outbox_failed(rpcd.outbox, msg->failure->id, msg->failure->text);
}

static void
on_netd_up(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	outbox_reset(rpcd.outbox);
}

/* Tells netd whether a delivery is durable (or dropped for good). */
static void
rpcd_confirm(uint64_t id, int stored)
{
	struct ipc_chan *netd = proc_peer(rpcd.proc, ROLE_NETD);

	/* Not stored: not acknowledged, the provider keeps it for a later
	 * pull, and netd, told so, pulls again. Without netd, the provider
	 * delivers it again to the next one. */
	if (netd != NULL && ipc_send_id(netd, stored ? IPC_STORED : IPC_NOT_STORED,
	    id) == -1)
		log_warn("cannot confirm delivery %llu", (unsigned long long)id);
}

/*
 * An acknowledgement pulled from our mailbox: committed (its row
 * deleted, its message counted) before netd is told IPC_STORED, so that
 * the provider deletes it only once it is durable; one of no row
 * (acknowledged already, expired, not ours) is dropped, acknowledged
 * all the same. A store that cannot commit it (a full disk) leaves it
 * at the provider: IPC_NOT_STORED.
 */
static void
on_acked(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Acked *a = msg->acked;
	int rc = outbox_acked(rpcd.outbox, a->ack_id.data);

	if (rc == -1)
		log_debug("delivery %llu: an acknowledgement not stored: %s",
		    (unsigned long long)a->id, queue_error(rpcd.state.queue));
	else
		log_debug("delivery %llu: an acknowledgement %s",
		    (unsigned long long)a->id, rc == 0 ? "stored" :
		    "of no queued packet: dropped");
	rpcd_confirm(a->id, rc != -1);
}

/* A received block's expiry in the store: Unix seconds. */
static int64_t
rpcd_expires_s(uint64_t ms)
{
	return ms / 1000 > INT64_MAX ? INT64_MAX : (int64_t)(ms / 1000);
}

/*
 * A fragment of a larger message (docs/replies.md, "Fragments"): stored
 * durably, then acknowledged like any delivery; the last one's commit
 * makes the message whole, and only then is it pushed.
 */
static void
rpcd_receive_fragment(const Nymipc__Received *r)
{
	struct queue_fragment f = {
		.msgid = r->msgid.data, .index = r->fragment_index,
		.count = r->fragment_count, .bytes = r->message.data,
		.len = r->message.len,
	};
	int rc = queue_receive_fragment(rpcd.state.queue, &f);

	if (rc != -1)
		log_debug("delivery %llu: fragment %u of %u %s",
		    (unsigned long long)r->id, f.index + 1, f.count,
		    rc == 0 ? "stored, the message is whole" : rc == 2 ? "stored" :
		    "dropped (a copy, or not its message's)");
	rpcd_confirm(r->id, rc != -1);
	if (rc == 0)
		listener_delivered(rpcd.listener);
}

/* keyd unwrapped a real message (or opened a reply through one of our
 * blocks); netd acknowledges it to the provider once told it is stored. */
static void
on_received(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Received *r = msg->received;

	if (r->fragment_count != 0) {
		rpcd_receive_fragment(r);
		return;
	}
	uint8_t surbs[PAYLOAD_MAX_SURBS * QUEUE_SURB_BYTES];
	int64_t expires[PAYLOAD_MAX_SURBS];
	struct queue_in in = {
		.msgid = r->msgid.data, .message = r->message.data,
		.len = r->message.len, .surbs_only = r->surbs_only,
		.tag = r->sender_tag.len ? r->sender_tag.data : NULL,
		.surb_id = r->surb_id.len ? r->surb_id.data : NULL,
		.surbs = surbs, .n_surbs = r->n_surbs, .expires = expires,
		.more = r->more_surbs,
	};

	for (size_t i = 0; i < r->n_surbs; i++) {
		memcpy(surbs + i * QUEUE_SURB_BYTES, r->surbs[i]->surb.data, QUEUE_SURB_BYTES);
		expires[i] = rpcd_expires_s(r->surbs[i]->expires_ms);
	}
	int rc = in.tag == NULL && in.surb_id == NULL ?
	    queue_receive(rpcd.state.queue, r->msgid.data, r->message.data, r->message.len) :
	    queue_receive_in(rpcd.state.queue, &in);
	if (rc != -1)
		log_debug("delivery %llu %s", (unsigned long long)r->id,
		    rc == 0 ? (in.more > 0 ? "asked for more reply blocks" : "stored") :
		    in.surb_id != NULL ?
		    "was a reply through a used or expired block: dropped" :
		    "was a duplicate");
	rpcd_confirm(r->id, rc != -1);
	if (rc == 0 && in.more > 0)
		outbox_fill(rpcd.outbox);	/* the blocks asked for */
	/* Stored first, then pushed: a push that is not read loses nothing
	 * the provider could deliver again. */
	if (rc == 0)
		listener_delivered(rpcd.listener);
}

/* keyd built a packet with reply blocks: their sealed keys are durable
 * before the packet goes to netd, so every reply finds its keys. */
static void
on_built(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Built *b = msg->built;
	struct queue_keys keys[PAYLOAD_MAX_SURBS];
	struct ipc_chan *netd = proc_peer(rpcd.proc, ROLE_NETD);
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__Packet pk = NYMIPC__PACKET__INIT;
	int64_t cap = (int64_t)time(NULL) + (int64_t)rpcd.surb_lifetime;

	for (size_t i = 0; i < b->n_keys; i++) {
		keys[i].id = b->keys[i]->surb_id.data;
		keys[i].sealed = b->keys[i]->sealed.data;
		keys[i].expires = rpcd_expires_s(b->keys[i]->expires_ms);
		if (rpcd.surb_lifetime > 0 && keys[i].expires > cap)
			keys[i].expires = cap;
	}
	if (queue_put_keys(rpcd.state.queue, b->id, keys, b->n_keys) == -1) {
		outbox_failed(rpcd.outbox, b->id, "its reply blocks' keys could not be stored");
		return;
	}
	pk.id = b->id;
	pk.data = b->data;
	out.type = IPC_PACKET;
	out.body_case = NYMIPC__IPC__BODY_PACKET;
	out.packet = &pk;
	if (netd == NULL || ipc_send(netd, &out, -1) == -1)
		outbox_failed(rpcd.outbox, b->id, "cannot hand the packet to netd");
}

/* A reply through one of our blocks: keyd opens it with the block's
 * sealed keys; a block we do not know (used, expired, never ours) drops
 * it, acknowledged so that the provider deletes it. */
static void
on_reply_arrived(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__ReplyIn *r = msg->reply_in;
	uint8_t sealed[QUEUE_SEALED_BYTES];
	Nymipc__Ipc out = NYMIPC__IPC__INIT;
	Nymipc__ReplyIn req = NYMIPC__REPLY_IN__INIT;

	switch (queue_get_keys(rpcd.state.queue, r->surb_id.data, sealed)) {
	case 1:
		log_debug("delivery %llu: a reply through a used, expired or "
		    "unknown block: dropped", (unsigned long long)r->id);
		rpcd_confirm(r->id, 1);
		return;
	case -1:
		rpcd_confirm(r->id, 0);
		return;
	}
	req = *r;
	req.sealed.data = sealed;
	req.sealed.len = sizeof(sealed);
	out.type = IPC_REPLY_OPEN;
	out.body_case = NYMIPC__IPC__BODY_REPLY_IN;
	out.reply_in = &req;
	if (ipc_send(c, &out, -1) == -1)
		rpcd_confirm(r->id, 0);
}

static void
on_reply_failed(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	log_info("a reply (delivery %llu) was dropped: %s",
	    (unsigned long long)msg->failure->id, msg->failure->text);
	rpcd_confirm(msg->failure->id, 1);
}

static void
on_pubkey_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	memcpy(rpcd.state.pubkey, msg->pubkey.data, sizeof(rpcd.state.pubkey));
	rpcd.state.have_pubkey = 1;
	rpcd_serve();
}

/* netd parsed and checked the directory's JSON; rpcd reads the typed
 * form only. */
static void
on_topology(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct topology *t;
	char err[256];

	if (topology_from_ipc(msg->topology, &t, err, sizeof(err)) == -1)
		fatalx("netd sent a topology with %s", err);
	topology_free(rpcd.state.topology);
	rpcd.state.topology = t;
	log_debug("topology updated: %zu mixnodes, %zu providers",
	    t->n_mixnodes, t->n_providers);
	listener_topology_changed(rpcd.listener);
}

static const struct ipc_dispatch rpcd_from_keyd = {
	.handlers = {
		[IPC_PUBKEY_REPLY] = on_pubkey_reply,
		[IPC_BUILD_FAILED] = on_build_failed,
		[IPC_NETD_UP] = on_netd_up,
		[IPC_RECEIVED] = on_received,
		[IPC_BUILT] = on_built,
		[IPC_REPLY_ARRIVED] = on_reply_arrived,
		[IPC_REPLY_FAILED] = on_reply_failed,
		[IPC_ACK_TIMER] = on_ack_timer,
		[IPC_ACKED] = on_acked,
	},
	.closed = proc_peer_closed,
};

static const struct ipc_dispatch rpcd_from_netd = {
	.handlers = {
		[IPC_TOPOLOGY] = on_topology,
		[IPC_SENT] = on_sent,
		[IPC_EXPIRED] = on_expired,
		[IPC_TRAFFIC_STATS] = on_traffic_stats,
	},
	.closed = proc_peer_closed,
};

const struct proc_role rpcd_role = {
	.role = ROLE_RPCD,
	.sandbox = &rpcd_policy,
	.configure = rpcd_configure,
	.start = rpcd_start,
	.reload = rpcd_reload,
	.peer_up = rpcd_peer_up,
	.shutdown = rpcd_shutdown,
	.from = {
		[ROLE_KEYD] = &rpcd_from_keyd,
		[ROLE_NETD] = &rpcd_from_netd,
	},
};

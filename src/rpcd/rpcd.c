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
#include <unistd.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "common/topology.h"
#include "rpcd/listener.h"
#include "rpcd/queue.h"
#include "rpcd/rpcd.h"

static struct {
	struct proc		*proc;
	struct rpcd_state	 state;
	struct listener		*listener;
	struct event		*retry;		/* deletes kept-apart messages */
	uint64_t		 seq;
	int			 confined;	/* rpcd_start() ran */
	int			 serving;	/* accepting connections */
} rpcd;

#define RPCD_RETRY_MS	1000

static void
rpcd_push(void *arg, const struct queue_outgoing *q)
{
	Nymipc__Ipc msg = NYMIPC__IPC__INIT;
	Nymipc__Outgoing o = NYMIPC__OUTGOING__INIT;
	struct ipc_chan *netd = arg;

	o.id = q->id;
	o.message.data = (uint8_t *)q->message;
	o.message.len = q->len;
	o.recipient.data = (uint8_t *)q->recipient;
	o.recipient.len = QUEUE_KEY_BYTES;
	o.recipient_provider.data = (uint8_t *)q->provider;
	o.recipient_provider.len = QUEUE_KEY_BYTES;
	o.msgid.data = (uint8_t *)q->msgid;
	o.msgid.len = QUEUE_MSGID_BYTES;
	msg.type = NYMIPC__IPC_TYPE__IPC_OUTGOING;
	msg.outgoing = &o;
	if (ipc_send(netd, &msg, -1) == -1)
		log_warn("cannot hand message %llu to netd", (unsigned long long)q->id);
}

/* A message was committed: netd sends it (if netd is down, it gets the
 * whole queue when it is back). */
static void
rpcd_queued(const struct queue_outgoing *q)
{
	struct ipc_chan *netd = proc_peer(rpcd.proc, NYMIPC__ROLE__ROLE_NETD);

	if (netd != NULL)
		rpcd_push(netd, q);
}

/* An application names a recipient the topology does not list: netd
 * fetches the topology now (or soon: it rate-limits), and sends it. */
static int
rpcd_refresh_topology(void)
{
	struct ipc_chan *netd = proc_peer(rpcd.proc, NYMIPC__ROLE__ROLE_NETD);

	if (netd == NULL ||
	    ipc_send_type(netd, NYMIPC__IPC_TYPE__IPC_TOPOLOGY_REFRESH, 0) == -1)
		return -1;
	log_debug("asked netd for a fresh topology");
	return 0;
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
	rpcd.state.queued = rpcd_queued;
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

static int
rpcd_configure(struct proc *p)
{
	const Nymipc__ChildConfig *cfg = p->config;

	rpcd.proc = p;
	/* The listener (master's unix socket, or a TCP one bound here). */
	rpcd.listener = listener_open(p->base, cfg, &rpcd.state);
	if (rpcd.listener == NULL)
		return -1;
	rpcd_open_queue(cfg);
	if ((rpcd.retry = evtimer_new(p->base, on_retry, NULL)) == NULL)
		fatalx("out of memory");
	/* Delivered in an earlier run and not deleted yet (the store's
	 * record): deleted as soon as it can be, never sent again. */
	if (queue_retired_count(rpcd.state.queue) > 0) {
		struct timeval tv = { RPCD_RETRY_MS / 1000, (RPCD_RETRY_MS % 1000) * 1000 };
		evtimer_add(rpcd.retry, &tv);
	}
	rpcd.state.provider_id = cfg->provider_id;
	rpcd.state.refresh_topology = rpcd_refresh_topology;
	topology_init();
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
}

static void
rpcd_peer_up(struct proc *p, Nymipc__Role role)
{
	if (role == NYMIPC__ROLE__ROLE_NETD) {
		/* A (new) netd knows nothing of what is queued. */
		if (queue_each_outgoing(rpcd.state.queue, rpcd_push, proc_peer(p, role)) == -1)
			log_warnx("cannot read the outgoing queue");
		return;
	}
	if (role != NYMIPC__ROLE__ROLE_KEYD)
		return;
	if (ipc_send_type(proc_peer(p, role), NYMIPC__IPC_TYPE__IPC_PUBKEY_REQUEST,
	    ++rpcd.seq) == -1)
		log_warn("cannot ask keyd for the public key");
}

static void
rpcd_shutdown(struct proc *p)
{
	listener_free(rpcd.listener);
	rpcd.listener = NULL;
	if (rpcd.retry != NULL)
		event_free(rpcd.retry);
	rpcd.retry = NULL;
	topology_free(rpcd.state.topology);
	rpcd.state.topology = NULL;
	queue_close(rpcd.state.queue);
	rpcd.state.queue = NULL;
}

/* netd could not take (all of) the queue when it came: push it again. */
static void
on_queue_request(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	if (queue_each_outgoing(rpcd.state.queue, rpcd_push, c) == -1)
		log_warnx("cannot read the outgoing queue");
}

static void
on_sent(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	if (queue_sent(rpcd.state.queue, msg->id) == -1) {
		/* Kept apart, never sent again; said once per episode by
		 * the store, retried until it is deleted. */
		log_debug("message %llu delivered, kept apart: %s",
		    (unsigned long long)msg->id, queue_error(rpcd.state.queue));
		if (!evtimer_pending(rpcd.retry, NULL)) {
			struct timeval tv = { RPCD_RETRY_MS / 1000,
			    (RPCD_RETRY_MS % 1000) * 1000 };
			evtimer_add(rpcd.retry, &tv);
		}
	} else
		log_debug("message %llu handed to the provider", (unsigned long long)msg->id);
}

static void
on_received(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	const Nymipc__Received *r = msg->received;

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	if (r == NULL || r->msgid.len != QUEUE_MSGID_BYTES)
		fatalx("netd sent a malformed received message");
	int rc = queue_receive(rpcd.state.queue, r->msgid.data, r->message.data, r->message.len);
	if (rc != -1)
		log_debug("delivery %llu %s", (unsigned long long)msg->id,
		    rc == 1 ? "was a duplicate" : "stored");
	/* Not stored: not acknowledged, the provider keeps it for a later
	 * pull, and netd, told so, pulls again. */
	Nymipc__Ipc reply = NYMIPC__IPC__INIT;
	reply.type = rc == -1 ? NYMIPC__IPC_TYPE__IPC_NOT_STORED :
	    NYMIPC__IPC_TYPE__IPC_STORED;
	reply.id = msg->id;
	if (ipc_send(c, &reply, -1) == -1)
		log_warn("cannot confirm delivery %llu", (unsigned long long)msg->id);
}

static void
on_pubkey_reply(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_KEYD);
	if (msg->pubkey.len != sizeof(rpcd.state.pubkey))
		fatalx("keyd sent a public key of %zu bytes", msg->pubkey.len);
	memcpy(rpcd.state.pubkey, msg->pubkey.data, sizeof(rpcd.state.pubkey));
	rpcd.state.have_pubkey = 1;
	rpcd_serve();
}

static void
on_topology(struct ipc_chan *c, const Nymipc__Ipc *msg, int fd, void *arg)
{
	struct topology *t;
	char err[256];

	proc_require(arg, c, msg, NYMIPC__ROLE__ROLE_NETD);
	if (topology_parse((const char *)msg->data.data, msg->data.len, &t,
	    err, sizeof(err)) == -1)
		fatalx("netd sent a topology that does not parse: %s", err);
	topology_free(rpcd.state.topology);
	rpcd.state.topology = t;
	log_debug("topology updated: %zu mixnodes, %zu providers",
	    t->n_mixnodes, t->n_providers);
	listener_topology_changed(rpcd.listener);
}

static const struct ipc_dispatch rpcd_peer_dispatch = {
	.handlers = {
		[NYMIPC__IPC_TYPE__IPC_PUBKEY_REPLY] = on_pubkey_reply,
		[NYMIPC__IPC_TYPE__IPC_TOPOLOGY] = on_topology,
		[NYMIPC__IPC_TYPE__IPC_SENT] = on_sent,
		[NYMIPC__IPC_TYPE__IPC_QUEUE_REQUEST] = on_queue_request,
		[NYMIPC__IPC_TYPE__IPC_RECEIVED] = on_received,
	},
	.closed = proc_peer_closed,
};

const struct proc_role rpcd_role = {
	.role = NYMIPC__ROLE__ROLE_RPCD,
	.sandbox = &rpcd_policy,
	.configure = rpcd_configure,
	.start = rpcd_start,
	.reload = rpcd_reload,
	.peer_up = rpcd_peer_up,
	.shutdown = rpcd_shutdown,
	.peer_dispatch = &rpcd_peer_dispatch,
};

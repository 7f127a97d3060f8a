/*
 * Outgoing links.  Each peer is a small state machine:
 *
 *   UNRESOLVED --topology lists it--> IDLE --connect--> CONNECTING
 *   CONNECTING --established--> OPEN --closed--> BACKOFF --timer--> CONNECTING
 *
 * A host name (not an IP address) is looked up first (RESOLVING), by
 * common/resolve.c, never by NSS: the node runs in its sandbox.
 *
 * A peer is made by the first packet for it and lives while the topology
 * lists it, so a link, once needed, stays up (and keeps being retried).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "common/addr.h"
#include "common/b64.h"
#include "common/log.h"
#include "common/number.h"
#include "common/rand.h"
#include "common/resolve.h"
#include "common/topology.h"
#include "node/pool.h"

enum pool_state {
	POOL_S_UNRESOLVED,
	POOL_S_IDLE,
	POOL_S_RESOLVING,
	POOL_S_CONNECTING,
	POOL_S_OPEN,
	POOL_S_BACKOFF,
};

struct pool_peer {
	struct pool		*pool;
	struct pool_peer	*next;
	uint8_t			 pub[32];
	char			 id[B64_KEY_CHARS + 1];
	char			 host[TOPOLOGY_HOST_BYTES];
	char			 port[TOPOLOGY_PORT_BYTES];
	enum pool_state		 state;
	struct link		*link;
	struct resolve		*resolving;
	struct event		*retry;
	unsigned		 backoff_ms;
	int			 listed;	/* seen in the last topology */
	uint8_t			**queue;	/* ring of packets */
	size_t			 qhead;
	size_t			 qlen;
	uint64_t		 sent;		/* since the last pool_take_sent() */
	int			 warned;	/* one warning per outage */
	uint64_t		 dropped_full;	/* in this episode of a full queue */
};

struct pool {
	struct event_base	*base;
	struct link_config	 link;
	size_t			 queue_packets;
	unsigned		 backoff_min_ms;
	unsigned		 backoff_max_ms;
	void			(*need_topology)(void *);
	void			*arg;
	struct pool_peer	*peers;
	const struct topology	*topo;	/* the caller's; NULL before the first */
	struct pool_counters	 c;
};

static void pool_connect(struct pool_peer *);

struct pool *
pool_new(struct event_base *base, const struct pool_params *p)
{
	struct pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->base = base;
	pool->link = *p->link;
	pool->queue_packets = p->queue_packets ? p->queue_packets :
	    POOL_DEFAULT_QUEUE_PACKETS;
	pool->backoff_min_ms = p->backoff_min_ms ? p->backoff_min_ms :
	    POOL_BACKOFF_MIN_MS;
	pool->backoff_max_ms = p->backoff_max_ms ? p->backoff_max_ms :
	    POOL_BACKOFF_MAX_MS;
	pool->need_topology = p->need_topology;
	pool->arg = p->arg;
	return pool;
}

static void
pool_drop_queue(struct pool_peer *pp, uint64_t *counter)
{
	while (pp->qlen > 0) {
		free(pp->queue[pp->qhead]);
		pp->qhead = (pp->qhead + 1) % pp->pool->queue_packets;
		pp->qlen--;
		(*counter)++;
	}
}

static void
pool_peer_free(struct pool_peer *pp, uint64_t *counter)
{
	struct pool_peer **p;

	for (p = &pp->pool->peers; *p != NULL; p = &(*p)->next)
		if (*p == pp) {
			*p = pp->next;
			break;
		}
	link_free(pp->link);
	resolve_cancel(pp->resolving);
	if (pp->retry != NULL)
		event_free(pp->retry);
	pool_drop_queue(pp, counter);
	free(pp->queue);
	free(pp);
}

void
pool_free(struct pool *pool)
{
	uint64_t dropped = 0;

	if (pool == NULL)
		return;
	while (pool->peers != NULL)
		pool_peer_free(pool->peers, &dropped);
	free(pool);
}

static struct pool_peer *
pool_find(const struct pool *pool, const uint8_t pub[32])
{
	struct pool_peer *pp;

	for (pp = pool->peers; pp != NULL; pp = pp->next)
		if (memcmp(pp->pub, pub, 32) == 0)
			return pp;
	return NULL;
}

static void
pool_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_connect(arg);
}

static void
pool_schedule_retry(struct pool_peer *pp)
{
	struct pool *pool = pp->pool;
	unsigned ms;
	struct timeval tv;

	/* Jitter, so that peers restarted together do not retry together. */
	ms = pp->backoff_ms / 2 + (unsigned)(rand_uniform() * pp->backoff_ms / 2);
	pp->state = POOL_S_BACKOFF;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(pp->retry, &tv);
	pp->backoff_ms = pp->backoff_ms * 2 > pool->backoff_max_ms ?
	    pool->backoff_max_ms : pp->backoff_ms * 2;
}

/* Hands queued packets to the link until it is full. */
static void
pool_flush(struct pool_peer *pp)
{
	struct pool *pool = pp->pool;

	while (pp->qlen > 0 && pp->state == POOL_S_OPEN) {
		uint8_t *pkt = pp->queue[pp->qhead];
		int rc = link_send_packet(pp->link, pkt, pool->link.packet_bytes);

		if (rc == LINK_ERR_BUSY)
			return;
		if (rc != LINK_OK)
			return;		/* closed() follows and reconnects */
		free(pkt);
		pp->qhead = (pp->qhead + 1) % pool->queue_packets;
		pp->qlen--;
		pp->sent++;
		pool->c.sent++;
	}
	if (pp->qlen == 0 && pp->dropped_full > 0) {
		log_info("link to %s: its queue drained; %llu packets were dropped "
		    "while it was full", pp->id, (unsigned long long)pp->dropped_full);
		pp->dropped_full = 0;
	}
}

/* The peer's "host:port" for the log, an IPv6 host in brackets. */
static const char *
pool_hostport(const struct pool_peer *pp, char buf[ADDR_HOSTPORT_BYTES])
{
	if (addr_format_hostport(buf, ADDR_HOSTPORT_BYTES, pp->host, pp->port) == -1)
		snprintf(buf, ADDR_HOSTPORT_BYTES, "%s", pp->host);
	return buf;
}

static void
pool_established(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	struct pool_peer *pp = arg;
	char hp[ADDR_HOSTPORT_BYTES];

	pp->state = POOL_S_OPEN;
	pp->backoff_ms = pp->pool->backoff_min_ms;
	if (pp->warned)
		log_info("link to %s (%s) is up again", pp->id,
		    pool_hostport(pp, hp));
	else
		log_debug("link to %s (%s) is up", pp->id, pool_hostport(pp, hp));
	pp->warned = 0;
	pool_flush(pp);
}

static void
pool_drained(struct link *l, void *arg)
{
	pool_flush(arg);
}

static void
pool_closed(struct link *l, void *arg, int reason)
{
	struct pool_peer *pp = arg;
	char hp[ADDR_HOSTPORT_BYTES];

	if (pp->state == POOL_S_CONNECTING)
		pp->pool->c.connect_failures++;
	/* One warning per outage; the retries are logged at debug level. */
	if (!pp->warned)
		log_warnx("link to %s (%s) closed: %s%s%s; reconnecting with "
		    "back-off", pp->id, pool_hostport(pp, hp), link_strerror(reason),
		    reason == LINK_ERR_IO ? ": " : "",
		    reason == LINK_ERR_IO ? strerror(link_errno(l)) : "");
	else
		log_debug("link to %s: %s", pp->id, link_strerror(reason));
	pp->warned = 1;
	link_free(pp->link);
	pp->link = NULL;
	pool_schedule_retry(pp);
}

/* Packets or controls on a link we initiated are not expected: ignored. */
static void
pool_packet(struct link *l, void *arg, const uint8_t *packet, size_t len)
{
}

static void
pool_control(struct link *l, void *arg, const Link__Control *msg)
{
}

static const struct link_callbacks pool_link_cb = {
	.established = pool_established,
	.packet = pool_packet,
	.control = pool_control,
	.drained = pool_drained,
	.closed = pool_closed,
};

/* A non-blocking TCP connect to the first of addrs that takes one; -1 if none. */
static int
pool_socket(struct pool_peer *pp, const struct resolve_result *addrs)
{
	uint64_t port;

	if (number_parse(pp->port, 1, 65535, &port) == -1)
		return -1;
	for (size_t i = 0; i < addrs->n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = resolve_sockaddr(&addrs->a[i], (uint16_t)port, &ss);
		int fd = socket(addrs->a[i].family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);

		if (fd == -1)
			continue;
		/* The link's bufferevent sends once the connect completes. */
		if (connect(fd, (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS)
			return fd;
		close(fd);
	}
	return -1;
}

static void
pool_connect_to(struct pool_peer *pp, const struct resolve_result *addrs)
{
	struct pool *pool = pp->pool;
	int fd, rc;

	if ((fd = pool_socket(pp, addrs)) == -1) {
		pool->c.connect_failures++;
		pool_schedule_retry(pp);
		return;
	}
	rc = link_new_initiator(&pp->link, pool->base, fd, &pool->link, pp->pub,
	    &pool_link_cb, pp);
	if (rc != LINK_OK) {
		close(fd);
		pool->c.connect_failures++;
		log_warnx("link to %s: %s", pp->id, link_strerror(rc));
		pool_schedule_retry(pp);
		return;
	}
	pp->state = POOL_S_CONNECTING;
}

static void
pool_on_resolved(void *arg, int error, const struct resolve_result *res)
{
	struct pool_peer *pp = arg;

	pp->resolving = NULL;
	if (error != RESOLVE_OK) {
		if (!pp->warned)
			log_warnx("next hop %s: cannot resolve %s: %s", pp->id,
			    pp->host, resolve_strerror(error));
		pp->warned = 1;
		pp->pool->c.connect_failures++;
		pool_schedule_retry(pp);
		return;
	}
	pool_connect_to(pp, res);
}

static void
pool_connect(struct pool_peer *pp)
{
	struct resolve_result lit;

	pp->pool->c.connects++;
	memset(&lit, 0, sizeof(lit));
	if (resolve_literal(pp->host, &lit.a[0])) {
		lit.n = 1;
		pool_connect_to(pp, &lit);
		return;
	}
	pp->state = POOL_S_RESOLVING;
	if ((pp->resolving = resolve_start(pp->pool->base, pp->host, pool_on_resolved,
	    pp)) == NULL) {
		pp->pool->c.connect_failures++;
		pool_schedule_retry(pp);
	}
}

static struct pool_peer *
pool_peer_new(struct pool *pool, const uint8_t pub[32])
{
	struct pool_peer *pp = calloc(1, sizeof(*pp));

	if (pp == NULL)
		return NULL;
	if ((pp->queue = calloc(pool->queue_packets, sizeof(*pp->queue))) == NULL ||
	    (pp->retry = evtimer_new(pool->base, pool_retry_cb, pp)) == NULL) {
		free(pp->queue);
		free(pp);
		return NULL;
	}
	pp->pool = pool;
	memcpy(pp->pub, pub, 32);
	b64_encode(pp->id, pub, 32, B64_URLSAFE);
	pp->state = POOL_S_UNRESOLVED;
	pp->backoff_ms = pool->backoff_min_ms;
	pp->next = pool->peers;
	pool->peers = pp;
	return pp;
}

static int
pool_enqueue(struct pool_peer *pp, uint8_t *packet)
{
	struct pool *pool = pp->pool;

	if (pp->qlen >= pool->queue_packets) {
		free(packet);
		pool->c.dropped_full++;
		/* Said once an episode: the next hop reads slower than
		 * packets come (overload), and the loss is otherwise silent. */
		if (pp->dropped_full++ == 0)
			log_warnx("link to %s: its queue of %zu packets is full (the "
			    "next hop reads slower than packets arrive): packets "
			    "dropped until it drains", pp->id, pool->queue_packets);
		return POOL_ERR_FULL;
	}
	pp->queue[(pp->qhead + pp->qlen) % pool->queue_packets] = packet;
	pp->qlen++;
	return POOL_QUEUED;
}

/* The topology's entry of a node, or NULL. */
static const struct topology_node *
pool_listed(const struct pool *pool, const uint8_t pub[32])
{
	const struct topology *t = pool->topo;

	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < t->n_mixnodes; i++)
		if (memcmp(t->mixnodes[i].pub, pub, 32) == 0)
			return &t->mixnodes[i];
	for (size_t i = 0; i < t->n_providers; i++)
		if (memcmp(t->providers[i].pub, pub, 32) == 0)
			return &t->providers[i];
	return NULL;
}

int
pool_send(struct pool *pool, const uint8_t peer[32], uint8_t *packet)
{
	struct pool_peer *pp = pool_find(pool, peer);
	int rc;

	if (pp == NULL) {
		const struct topology_node *node = pool_listed(pool, peer);

		if (node == NULL) {
			free(packet);
			pool->c.dropped_no_route++;
			if (pool->need_topology != NULL)
				pool->need_topology(pool->arg);
			return POOL_ERR_NO_ROUTE;
		}
		if ((pp = pool_peer_new(pool, peer)) == NULL) {
			free(packet);
			return POOL_ERR_NOMEM;
		}
		pp->listed = 1;
		snprintf(pp->host, sizeof(pp->host), "%s", node->host);
		snprintf(pp->port, sizeof(pp->port), "%s", node->port);
		pool_connect(pp);
	}
	/* Keep order: only send directly when nothing waits before us. */
	if (pp->state == POOL_S_OPEN && pp->qlen == 0) {
		rc = link_send_packet(pp->link, packet, pool->link.packet_bytes);
		if (rc == LINK_OK) {
			free(packet);
			pp->sent++;
			pool->c.sent++;
			return POOL_SENT;
		}
	}
	return pool_enqueue(pp, packet);
}

void
pool_set_topology(struct pool *pool, const struct topology *t)
{
	struct pool_peer *pp, *next;

	pool->topo = t;
	for (pp = pool->peers; pp != NULL; pp = pp->next)
		pp->listed = 0;
	for (int kind = 0; kind < 2; kind++) {
		const struct topology_node *nodes = kind ? t->providers : t->mixnodes;
		size_t n = kind ? t->n_providers : t->n_mixnodes;

		for (size_t i = 0; i < n; i++) {
			if ((pp = pool_find(pool, nodes[i].pub)) == NULL)
				continue;
			pp->listed = 1;
			if (strcmp(pp->host, nodes[i].host) != 0 ||
			    strcmp(pp->port, nodes[i].port) != 0) {
				/* Moved: reconnect to the new address. */
				snprintf(pp->host, sizeof(pp->host), "%s",
				    nodes[i].host);
				snprintf(pp->port, sizeof(pp->port), "%s",
				    nodes[i].port);
				if (pp->state != POOL_S_UNRESOLVED) {
					link_free(pp->link);
					pp->link = NULL;
					resolve_cancel(pp->resolving);
					pp->resolving = NULL;
					evtimer_del(pp->retry);
					pp->state = POOL_S_IDLE;
				}
			}
			if (pp->state == POOL_S_UNRESOLVED ||
			    pp->state == POOL_S_IDLE)
				pool_connect(pp);
		}
	}
	for (pp = pool->peers; pp != NULL; pp = next) {
		next = pp->next;
		if (pp->listed)
			continue;
		if (pp->state == POOL_S_UNRESOLVED)
			log_warnx("next hop %s is not in the topology: %zu "
			    "packets dropped", pp->id, pp->qlen);
		else
			log_info("next hop %s left the topology: link closed, "
			    "%zu packets dropped", pp->id, pp->qlen);
		pool_peer_free(pp, pp->state == POOL_S_UNRESOLVED ?
		    &pool->c.dropped_no_route : &pool->c.dropped_gone);
	}
}

const struct pool_counters *
pool_counters(const struct pool *pool)
{
	return &pool->c;
}

void
pool_take_sent(struct pool *pool,
    void (*cb)(void *, const uint8_t[32], uint64_t), void *arg)
{
	for (struct pool_peer *pp = pool->peers; pp != NULL; pp = pp->next) {
		if (pp->sent == 0)
			continue;
		cb(arg, pp->pub, pp->sent);
		pp->sent = 0;
	}
}

size_t
pool_peers(const struct pool *pool)
{
	size_t n = 0;

	for (struct pool_peer *pp = pool->peers; pp != NULL; pp = pp->next)
		n++;
	return n;
}

size_t
pool_open_links(const struct pool *pool)
{
	size_t n = 0;

	for (struct pool_peer *pp = pool->peers; pp != NULL; pp = pp->next)
		n += pp->state == POOL_S_OPEN;
	return n;
}

size_t
pool_queued(const struct pool *pool)
{
	size_t n = 0;

	for (struct pool_peer *pp = pool->peers; pp != NULL; pp = pp->next)
		n += pp->qlen;
	return n;
}

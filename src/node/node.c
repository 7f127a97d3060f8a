/*
 * The node core: one libevent loop does the I/O, worker threads the
 * Sphinx work (work.h).
 *
 *   listener -> incoming link -> worker: sphinx_process_unchecked
 *            -> loop: replay store, replay log
 *            -> delay queue (one timer) -> pool (RELAY) or role (DELIVER)
 *
 * plus timers for the topology, presence, metrics, the replay log's
 * fdatasync and the replay snapshot.  Nothing on the packet path blocks
 * except the replay log's write(2) and, at a provider, the mailbox commit.
 * The replay store stays the loop's alone, so a packet and its replay
 * are checked in one order whatever thread decrypted them.
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <sodium.h>

#include "common/b64.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/replay.h"
#include "common/sphinx.h"
#include "common/surb.h"
#include "common/xalloc.h"
#include "common/topology.h"
#include "node/delayq.h"
#include "common/http.h"
#include "node/node.h"

/* How long nodes may be missing before a smaller topology is believed. */
#define NODE_TOPOLOGY_SHRINK_GRACE_MS	15000
#include "node/pool.h"
#include "node/epochkeys.h"
#include "node/identity.h"
#include "common/metrics.h"
#include "common/strbuf.h"
#include "common/descriptor.h"
#include "node/replaydb.h"
#include "node/sandbox.h"
#include "node/work.h"
#include "common/epoch.h"

/* A packet held in the delay queue; data first so that pool can free it. */
struct node_pkt {
	uint8_t		data[SPHINX_PACKET_BYTES];
	uint8_t		command;
	uint8_t		flags;		/* SPHINX_FLAG_ACK: DELIVER with an ack block */
	uint8_t		next[SPHINX_NODE_ID_BYTES];
};
_Static_assert(offsetof(struct node_pkt, data) == 0,
    "the pool frees a packet by its data pointer");

/* A packet at a worker: what the loop needs when it comes back. */
struct node_job {
	struct work_job	 job;		/* first: work hands it back */
	struct node_pkt	*p;		/* job.out is p->data */
	struct epochkey	*key;		/* valid: keys change only drained */
	uint8_t		 peer[32];
};
/*
 * Packets at the workers at once, per worker: about 10 ms of work. At
 * the limit the node stops reading its incoming links (back-pressure:
 * TCP makes the senders wait) until half of them are back; nothing is
 * dropped for it. More would only add latency: a long queue here is a
 * long pause of every link, which a busy upstream node's queue for us
 * does not outlast.
 */
#define NODE_WORK_JOBS_PER_WORKER	128

struct node_in {
	struct node	*node;
	struct node_in	*prev, *next;
	struct link	*link;
	uint8_t		 peer[32];
	int		 is_node;	/* a mixnode or provider of the topology */
	int		 is_client;	/* accepted by the role's accept_client() */
	int		 handshaking;	/* counted in node.n_handshaking */
	int		 pending;	/* unknown key: waits for a topology fetch */
	uint64_t	 pending_fetch;	/* the fetch it waits for (its number) */
	uint64_t	 pending_since_ms;
	uint8_t		 addr[16];	/* the source address, for its budget */
};

struct node {
	struct node_config	 cfg;
	const struct node_ops	*ops;
	void			*role;
	struct event_base	*base;
	uint8_t			*priv;		/* sodium_malloc'd */
	uint8_t			 pub[32];
	uint8_t			*identity_sk;	/* Ed25519, sodium_malloc'd */
	uint8_t			 identity_pk[32];
	char			 pub_b64[B64_KEY_CHARS + 1];
	char			 hostport[NODE_HOST_BYTES + 8];
	struct link_config	 in_cfg;
	struct link_config	 out_cfg;

	struct evconnlistener	*listener;	/* disabled until accepting */
	int			 accepting;
	struct event		*accept_timer;
	struct node_in		*in_links;
	size_t			 n_in;
	size_t			 n_handshaking;
	uint64_t		 refused_handshakes;	/* over a budget */
	size_t			 out_bytes;	/* queued on incoming links, cached */
	uint64_t		 out_bytes_ms;	/* when out_bytes was summed */

	struct epochkeys	*ek;		/* Sphinx keys, one per epoch */
	struct event		*epoch_timer;
	int			 epoch_failing;
	int			 no_epochs_warned;
	struct work		*work;		/* the Sphinx workers */
	size_t			 work_max;	/* jobs in flight at most */
	int			 work_paused;	/* incoming links not read */
	struct delayq		*dq;
	struct event		*dq_timer;
	uint64_t		 dq_armed_ms;	/* 0: not armed */
	struct pool		*pool;
	struct http		*http;
	struct metrics_endpoint	*metrics;	/* NULL: metrics_listen is "" */

	struct topology		*topo;
	uint64_t		 topo_started;	/* fetches started (numbers them) */
	uint64_t		 topo_ended;	/* the number of the last that ended */
	int			 topo_inflight;
	int			 topo_again;
	uint64_t		 topo_last_ms;
	int			 topo_failing;
	uint64_t		 topo_shrink_since_ms;	/* 0: not shrinking */
	int			 presence_failing;
	int			 metrics_failing;
	uint64_t		 replay_warned_epoch;	/* +1; 0: none */

	struct event		*topo_timer;
	struct event		*presence_timer;
	struct event		*metrics_timer;
	struct event		*sync_timer;
	struct event		*snapshot_timer;
	struct event		*grace_timer;
	struct event		*pending_timer;	/* unknown keys' links */
	size_t			 n_pending;
	struct event		*sig_term, *sig_int;
	int			 stopping;

	struct node_counters	 c;
	uint64_t		 interval_received;
};

static void	node_start_accepting(struct node *);

static void
node_timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };

	evtimer_add(ev, &tv);
}

const struct node_config *
node_config(const struct node *n)
{
	return &n->cfg;
}

struct event_base *
node_base(const struct node *n)
{
	return n->base;
}

const uint8_t *
node_public_key(const struct node *n)
{
	return n->pub;
}

struct node_counters *
node_counters(struct node *n)
{
	return &n->c;
}

int
node_send_error(struct link *l, Link__ErrorCode code, const char *text)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Error e = LINK__ERROR__INIT;

	e.code = code;
	e.text = (char *)text;
	c.msg_case = LINK__CONTROL__MSG_ERROR;
	c.error = &e;
	return link_send_control(l, &c);
}

static int
node_lists(const struct topology *t, const uint8_t key[32])
{
	if (t == NULL)
		return 0;
	for (size_t i = 0; i < t->n_mixnodes; i++)
		if (memcmp(t->mixnodes[i].pub, key, 32) == 0)
			return 1;
	for (size_t i = 0; i < t->n_providers; i++)
		if (memcmp(t->providers[i].pub, key, 32) == 0)
			return 1;
	return 0;
}

static int
node_topology_lists(const struct node *n, const uint8_t key[32])
{
	return node_lists(n->topo, key);
}

/* ---- key epochs (docs/epochs.md) ---- */

/*
 * Brings the epoch keys up to date: the length the directory announces
 * (or, before a topology, the one the keys on disk were made for), a key
 * for the current and the next epoch, expired keys deleted.  Announces a
 * change at once, and comes back at the next boundary or expiry.
 */
static void
node_epoch_update(struct node *n)
{
	char err[EPOCHKEYS_ERR_BYTES];
	uint32_t seconds = epochkeys_seconds(n->ek);
	uint64_t now, next;
	int changed = 0;

	if (n->topo != NULL && n->topo->epoch_seconds != 0)
		seconds = n->topo->epoch_seconds;
	if (seconds == 0 || n->stopping)
		return;
	now = epoch_now_ms();
	/* The workers read the keys that this may delete. */
	work_drain(n->work);
	if (epochkeys_update(n->ek, seconds, now, &changed, err,
	    sizeof(err)) == -1) {
		if (!n->epoch_failing)
			log_warnx("epoch keys: %s; trying again every second",
			    err);
		n->epoch_failing = 1;
		node_timer_ms(n->epoch_timer, 1000);
	} else {
		if (n->epoch_failing)
			log_info("epoch keys: up to date again");
		n->epoch_failing = 0;
		next = epochkeys_next_event_ms(n->ek, now);
		node_timer_ms(n->epoch_timer, next > now ? next - now + 1 : 1);
	}
	if (changed)
		node_presence_now(n);
}

static void
node_epoch_timer(evutil_socket_t fd, short what, void *arg)
{
	node_epoch_update(arg);
}

/* ---- topology ---- */

static void node_fetch_topology(struct node *);

static int node_topology_shrink_wait(struct node *);
static void node_want_topology(void *);
static void node_decide_pending(struct node *, const struct topology *);

static void
node_topology_done(void *arg, long status, const char *body, size_t len,
    const char *error)
{
	struct node *n = arg;
	struct topology *t, *unbelieved = NULL;
	char why[256];

	n->topo_inflight = 0;
	n->topo_ended = n->topo_started;
	if (error != NULL || status != 200) {
		if (error == NULL)
			snprintf(why, sizeof(why), "HTTP status %ld", status);
		if (!n->topo_failing)
			log_warnx("directory %s: cannot fetch the topology: %s%s",
			    n->cfg.directory, error ? error : why,
			    n->topo ? "; keeping the last one" : "");
		n->topo_failing = 1;
	} else if (topology_parse(body, len, &t, why, sizeof(why)) == -1) {
		if (!n->topo_failing)
			log_warnx("directory %s: bad topology: %s",
			    n->cfg.directory, why);
		n->topo_failing = 1;
	} else if (n->topo != NULL && !topology_covers(t, n->topo) &&
	    node_topology_shrink_wait(n)) {
		/* A restarted directory fills up again as nodes re-announce:
		 * forgetting peers now would drop the packets queued for them
		 * (a waiting link's key listed in it is a node all the same). */
		unbelieved = t;
	} else {
		n->topo_shrink_since_ms = 0;
		if (n->topo_failing || n->topo == NULL ||
		    n->topo->n_mixnodes != t->n_mixnodes ||
		    n->topo->n_providers != t->n_providers)
			log_info("topology: %zu mixnodes, %zu providers",
			    t->n_mixnodes, t->n_providers);
		n->topo_failing = 0;
		topology_free(n->topo);
		n->topo = t;
		pool_set_topology(n->pool, t);
		/* A node that linked to us before our topology listed it was
		 * taken for a client: it is a node now. */
		for (struct node_in *ni = n->in_links; ni != NULL; ni = ni->next)
			if (!ni->is_node && !ni->handshaking &&
			    node_topology_lists(n, ni->peer))
				ni->is_node = 1;
		if (t->epoch_seconds == 0 && !n->no_epochs_warned++)
			log_warnx("directory %s announces no key epochs "
			    "(epochSeconds): packets need epoch keys",
			    n->cfg.directory);
		node_epoch_update(n);
	}
	node_decide_pending(n, unbelieved);
	topology_free(unbelieved);
	node_start_accepting(n);
	if (n->topo_again) {
		/* Asked for while this one ran: again, at the on-demand rate. */
		n->topo_again = 0;
		node_want_topology(n);
	}
}

/* 1 while a topology that lost nodes should not yet be believed. */
static int
node_topology_shrink_wait(struct node *n)
{
	uint64_t now = clock_monotonic_ms();

	if (n->topo_shrink_since_ms == 0) {
		n->topo_shrink_since_ms = now;
		log_info("the directory lists fewer nodes than before; keeping the "
		    "last topology for up to %d s", NODE_TOPOLOGY_SHRINK_GRACE_MS / 1000);
	}
	return now - n->topo_shrink_since_ms < NODE_TOPOLOGY_SHRINK_GRACE_MS;
}

static void
node_fetch_topology(struct node *n)
{
	char url[NODE_URL_BYTES + 64];

	if (n->topo_inflight) {
		n->topo_again = 1;
		return;
	}
	snprintf(url, sizeof(url), "%s/api/presence/topology", n->cfg.directory);
	n->topo_last_ms = clock_monotonic_ms();
	n->topo_started++;
	if (http_get(n->http, url, node_topology_done, n) == 0)
		n->topo_inflight = 1;
	else {
		/* Ended before it began: the links that wait are decided
		 * from the loop (this may run inside their accept_peer()). */
		n->topo_ended = n->topo_started;
		if (n->n_pending > 0)
			node_timer_ms(n->pending_timer, 0);
	}
}

static void
node_topology_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	node_fetch_topology(n);
	node_timer_ms(n->topo_timer, n->cfg.topology_interval_s * 1000ull);
}

/* An unknown next hop or peer: fetch again soon, but not in a storm. */
static void
node_want_topology(void *arg)
{
	struct node *n = arg;
	uint64_t since = clock_monotonic_ms() - n->topo_last_ms;

	if (n->stopping)
		return;
	if (since >= NODE_TOPOLOGY_MIN_GAP_MS)
		node_fetch_topology(n);
	else	/* the periodic timer, brought forward; it re-arms itself */
		node_timer_ms(n->topo_timer, NODE_TOPOLOGY_MIN_GAP_MS - since);
}

/* ---- presence and metrics ---- */

static void
node_post_done(void *arg, long status, const char *body, size_t len,
    const char *error, int *failing, const char *what)
{
	struct node *n = arg;

	if (error == NULL && status >= 200 && status < 300) {
		if (*failing)
			log_info("%s: directory %s reachable again", what,
			    n->cfg.directory);
		*failing = 0;
		return;
	}
	if (!*failing) {
		if (error != NULL)
			log_warnx("%s: directory %s: %s", what, n->cfg.directory,
			    error);
		else
			log_warnx("%s: directory %s: HTTP status %ld: %.*s", what,
			    n->cfg.directory, status, (int)(len > 200 ? 200 : len),
			    body);
	}
	*failing = 1;
}

static void
node_presence_done(void *arg, long status, const char *body, size_t len,
    const char *error)
{
	struct node *n = arg;

	node_post_done(arg, status, body, len, error, &n->presence_failing,
	    "presence");
}

static void
node_metrics_done(void *arg, long status, const char *body, size_t len,
    const char *error)
{
	struct node *n = arg;

	node_post_done(arg, status, body, len, error, &n->metrics_failing,
	    "metrics");
}

static json_t *
node_mixnode_presence(struct node *n, const char **path)
{
	*path = "/api/presence/mixnodes";
	return json_pack("{s:s, s:s, s:I}", "host", n->hostport,
	    "pubKey", n->pub_b64, "layer", (json_int_t)n->cfg.layer);
}

/*
 * The presence's signed descriptor (docs/directory.md): address, keys,
 * layer, and the epoch keys the node holds for now and later, signed
 * with the identity key.
 */
static int
node_presence_sign(struct node *n, json_t *o)
{
	uint64_t now = epoch_now_ms();
	uint64_t cur = epoch_at(now, epochkeys_seconds(n->ek));
	char sigb64[B64_ENCODED_LEN(DESCRIPTOR_SIG_BYTES) + 1];
	uint8_t sig[DESCRIPTOR_SIG_BYTES];
	struct descriptor d;
	struct epochkey *k;
	char *text;
	size_t nk;
	int rc;

	memset(&d, 0, sizeof(d));
	d.role = n->cfg.role == NODE_ROLE_PROVIDER ? DESCRIPTOR_PROVIDER :
	    DESCRIPTOR_MIXNODE;
	snprintf(d.host, sizeof(d.host), "%s", n->hostport);
	memcpy(d.pub, n->pub, 32);
	memcpy(d.identity, n->identity_pk, 32);
	d.layer = d.role == DESCRIPTOR_MIXNODE ? n->cfg.layer : 0;
	d.published_ms = now;
	k = epochkeys_all(n->ek, &nk);
	for (size_t i = 0; i < nk && d.n_keys < TOPOLOGY_EPOCH_KEYS; i++) {
		if (k[i].epoch < cur)
			continue;	/* still accepted, but built for no more */
		d.keys[d.n_keys].epoch = k[i].epoch;
		memcpy(d.keys[d.n_keys].key, k[i].pub, 32);
		d.n_keys++;
	}
	if (descriptor_sign(&d, n->identity_sk, &text, sig) == -1)
		return -1;
	b64_encode(sigb64, sig, sizeof(sig), B64_URLSAFE);
	rc = json_object_set_new(o, "descriptor", json_string(text)) == 0 &&
	    json_object_set_new(o, "signature", json_string(sigb64)) == 0 ?
	    0 : -1;
	free(text);
	return rc;
}

static void
node_post(struct node *n, const char *path, char *body, http_cb cb)
{
	char url[NODE_URL_BYTES + 64];

	snprintf(url, sizeof(url), "%s%s", n->cfg.directory, path);
	if (http_post_json(n->http, url, body, strlen(body), cb, n) == -1)
		log_warnx("cannot start a request to %s", url);
}

void
node_presence_now(struct node *n)
{
	const char *path = NULL;
	char *body = NULL;
	json_t *o;

	/* Until it has keys, the node has nothing to announce. */
	if (n->stopping || epochkeys_seconds(n->ek) == 0)
		return;
	o = n->ops->presence != NULL ?
	    n->ops->presence(n->role, n->hostport, n->pub_b64, &path) :
	    node_mixnode_presence(n, &path);
	if (o != NULL && node_presence_sign(n, o) == 0)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (body == NULL) {
		log_warnx("presence: cannot build the request");
		return;
	}
	node_post(n, path, body, node_presence_done);
	free(body);
}

static void
node_presence_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	node_presence_now(n);
	node_timer_ms(n->presence_timer, n->cfg.presence_interval_s * 1000ull);
}

static void
node_metrics_sent(void *arg, const uint8_t peer[32], uint64_t count)
{
	char id[B64_KEY_CHARS + 1];

	b64_encode(id, peer, 32, B64_URLSAFE);
	json_object_set_new(arg, id, json_integer((json_int_t)count));
}

static void
node_log_stats(struct node *n, const char *when)
{
	size_t nk;
	const struct pool_counters *pc = pool_counters(n->pool);
	const struct node_counters *c = &n->c;
	uint64_t tags = 0, capacity = 0;
	struct epochkey *k = epochkeys_all(n->ek, &nk);

	for (size_t i = 0; i < nk; i++) {
		if (k[i].rdb == NULL)
			continue;
		tags += replay_count(replaydb_store(k[i].rdb));
		capacity += replay_capacity(replaydb_store(k[i].rdb));
	}

	log_info("stats%s: received=%llu relayed=%llu delivered=%llu "
	    "cover=%llu replay=%llu bad_mac=%llu no_key=%llu malformed=%llu "
	    "bad_command=%llu not_allowed=%llu delay_too_long=%llu "
	    "queue_full=%llu deliver_failed=%llu persist_failed=%llu "
	    "refused_links=%llu "
	    "sent=%llu link_full=%llu no_route=%llu in_flight=%zu "
	    "links_out=%zu/%zu links_in=%zu replay_tags=%llu/%llu "
	    "epoch_keys=%zu", when,
	    (unsigned long long)c->received, (unsigned long long)c->relayed,
	    (unsigned long long)c->delivered, (unsigned long long)c->cover,
	    (unsigned long long)c->replay, (unsigned long long)c->bad_mac,
	    (unsigned long long)c->no_key,
	    (unsigned long long)c->malformed,
	    (unsigned long long)c->bad_command,
	    (unsigned long long)c->not_allowed,
	    (unsigned long long)c->delay_too_long,
	    (unsigned long long)c->queue_full,
	    (unsigned long long)c->deliver_failed,
	    (unsigned long long)c->persist_failed,
	    (unsigned long long)c->refused_links,
	    (unsigned long long)pc->sent, (unsigned long long)pc->dropped_full,
	    (unsigned long long)pc->dropped_no_route, delayq_len(n->dq),
	    pool_open_links(n->pool), pool_peers(n->pool), n->n_in,
	    (unsigned long long)tags, (unsigned long long)capacity, nk);
}

/* One "dropped" sample with its reason label. */
static void
node_metrics_drop(struct strbuf *b, const char *reason, uint64_t v)
{
	strbuf_printf(b, "nym_node_packets_dropped_total{reason=\"%s\"} %llu\n",
	    reason, (unsigned long long)v);
}

/* The Prometheus exposition (docs/mixnode.md, "Metrics"). */
static void
node_metrics_text(void *arg, struct strbuf *b)
{
	struct node *n = arg;
	const struct node_counters *c = &n->c;
	const struct pool_counters *pc = pool_counters(n->pool);
	uint64_t tags = 0, capacity = 0;
	size_t nk;
	struct epochkey *k = epochkeys_all(n->ek, &nk);
	uint32_t seconds = epochkeys_seconds(n->ek);

	for (size_t i = 0; i < nk; i++) {
		if (k[i].rdb == NULL)
			continue;
		tags += replay_count(replaydb_store(k[i].rdb));
		capacity += replay_capacity(replaydb_store(k[i].rdb));
	}
	metrics_counter(b, "nym_node_packets_received_total",
	    "Sphinx packets received on incoming links.", c->received);
	metrics_counter(b, "nym_node_packets_relayed_total",
	    "Packets processed and handed on towards their next hop.",
	    c->relayed);
	metrics_counter(b, "nym_node_packets_delivered_total",
	    "Packets stored in a client's mailbox (providers).", c->delivered);
	metrics_counter(b, "nym_node_acks_sent_total",
	    "Acknowledgements sent for packets stored in a mailbox (providers).",
	    c->acks_sent);
	metrics_counter(b, "nym_node_packets_sent_total",
	    "Packets written to outgoing links.", pc->sent);
	strbuf_printf(b, "# HELP nym_node_packets_dropped_total Packets "
	    "dropped, by reason.\n# TYPE nym_node_packets_dropped_total "
	    "counter\n");
	node_metrics_drop(b, "drop_cover", c->cover);
	node_metrics_drop(b, "replay", c->replay);
	node_metrics_drop(b, "bad_mac", c->bad_mac);
	node_metrics_drop(b, "no_key", c->no_key);
	node_metrics_drop(b, "malformed", c->malformed);
	node_metrics_drop(b, "bad_command", c->bad_command);
	node_metrics_drop(b, "not_allowed", c->not_allowed);
	node_metrics_drop(b, "delay_too_long", c->delay_too_long);
	node_metrics_drop(b, "queue_full", c->queue_full);
	node_metrics_drop(b, "persist_failed", c->persist_failed);
	node_metrics_drop(b, "deliver_failed", c->deliver_failed);
	node_metrics_drop(b, "link_full", pc->dropped_full);
	node_metrics_drop(b, "no_route", pc->dropped_no_route);
	node_metrics_drop(b, "peer_gone", pc->dropped_gone);
	metrics_gauge(b, "nym_node_sphinx_workers",
	    "Sphinx worker threads.", work_threads(n->work));
	metrics_gauge(b, "nym_node_sphinx_jobs",
	    "Packets at the Sphinx workers.", work_in_flight(n->work));
	metrics_counter(b, "nym_node_backpressure_total", "Times the "
	    "incoming links stopped being read: the Sphinx workers were full.",
	    n->c.work_paused);
	metrics_gauge(b, "nym_node_delay_queue_packets",
	    "Packets waiting for their delay.", delayq_len(n->dq));
	metrics_gauge(b, "nym_node_link_queue_packets",
	    "Packets waiting for an outgoing link.", pool_queued(n->pool));
	metrics_gauge(b, "nym_node_links_in", "Incoming links, handshaking "
	    "included.", n->n_in);
	metrics_gauge(b, "nym_node_links_handshaking",
	    "Incoming links still in their handshake.", n->n_handshaking);
	metrics_counter(b, "nym_node_topology_fetches_total", "Topology "
	    "fetches started, periodic and on demand.", n->topo_started);
	metrics_gauge(b, "nym_node_links_waiting", "Incoming links from keys "
	    "the topology does not list, waiting for a topology fetch.",
	    n->n_pending);
	metrics_counter(b, "nym_node_links_refused_total",
	    "Connections and links refused for a budget.",
	    n->refused_handshakes);
	metrics_gauge(b, "nym_node_links_out_open", "Outgoing links open.",
	    pool_open_links(n->pool));
	metrics_gauge(b, "nym_node_replay_tags",
	    "Replay tags held, all epoch keys together.", tags);
	metrics_gauge(b, "nym_node_replay_capacity",
	    "Replay tags the open stores are sized for.", capacity);
	metrics_gauge(b, "nym_node_epoch_keys", "Sphinx epoch keys held.", nk);
	metrics_gauge(b, "nym_node_epoch",
	    "The current key epoch (0 before the epoch length is known).",
	    seconds ? epoch_at(epoch_now_ms(), seconds) : 0);
	metrics_gauge(b, "nym_node_epoch_seconds", "The key epoch length.",
	    seconds);
	if (n->ops->metrics != NULL)
		n->ops->metrics(n->role, b);
}

static void
node_metrics_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	json_t *o, *sent;
	char *body;

	node_timer_ms(n->metrics_timer, n->cfg.metrics_interval_s * 1000ull);
	node_log_stats(n, "");
	if ((sent = json_object()) == NULL)
		return;
	/* Counts per interval, as the seed's mixnodes reported them. */
	pool_take_sent(n->pool, node_metrics_sent, sent);
	o = json_pack("{s:s, s:I, s:o}", "pubKey", n->pub_b64, "received",
	    (json_int_t)n->interval_received, "sent", sent);
	n->interval_received = 0;
	if (o == NULL)
		return;
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (body != NULL)
		node_post(n, "/api/metrics/mixes", body, node_metrics_done);
	free(body);
}

/* ---- replay persistence ---- */

static void
node_sync_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	size_t nk;
	struct epochkey *k = epochkeys_all(n->ek, &nk);

	for (size_t i = 0; i < nk; i++)
		if (k[i].rdb != NULL && replaydb_sync(k[i].rdb) == -1)
			log_warn("replay log of epoch %llu: fdatasync",
			    (unsigned long long)k[i].epoch);
	node_timer_ms(n->sync_timer, NODE_REPLAY_SYNC_MS);
}

static void
node_snapshot_key(struct node *n, struct epochkey *k)
{
	struct replay_store *rs = replaydb_store(k->rdb);
	uint64_t count = replay_count(rs);

	if (count == k->snapshot_count && replaydb_log_records(k->rdb) == 0)
		return;
	if (replaydb_snapshot(k->rdb) == -1) {
		log_warn("replay store of epoch %llu: cannot write the "
		    "snapshot; the log keeps the tags meanwhile",
		    (unsigned long long)k->epoch);
		return;
	}
	k->snapshot_count = count;
	log_debug("replay store of epoch %llu: snapshot of %llu tags written",
	    (unsigned long long)k->epoch, (unsigned long long)count);
	if (n->replay_warned_epoch != k->epoch + 1 &&
	    count >= replay_capacity(rs) / 10 * 9) {
		log_warnx("replay store of epoch %llu: %llu of %llu tags used; "
		    "its false positive rate grows past the capacity: raise "
		    "replay_capacity or shorten the directory's epochs",
		    (unsigned long long)k->epoch, (unsigned long long)count,
		    (unsigned long long)replay_capacity(rs));
		n->replay_warned_epoch = k->epoch + 1;
	}
}

static void
node_snapshot(struct node *n)
{
	size_t nk;
	struct epochkey *k = epochkeys_all(n->ek, &nk);

	for (size_t i = 0; i < nk; i++)
		if (k[i].rdb != NULL)
			node_snapshot_key(n, &k[i]);
}

static void
node_snapshot_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	node_snapshot(n);
	node_timer_ms(n->snapshot_timer,
	    n->cfg.replay_snapshot_interval_s * 1000ull);
}

/* ---- the delay queue ---- */

static void
node_arm(struct node *n)
{
	uint64_t next, now;

	if (delayq_next(n->dq, &next) != DELAYQ_OK) {
		evtimer_del(n->dq_timer);
		n->dq_armed_ms = 0;
		return;
	}
	if (n->dq_armed_ms != 0 && n->dq_armed_ms <= next)
		return;
	now = clock_monotonic_ms();
	node_timer_ms(n->dq_timer, next > now ? next - now : 0);
	n->dq_armed_ms = next;
}

static void
node_maybe_done(struct node *n)
{
	if (n->stopping && delayq_len(n->dq) == 0 && pool_queued(n->pool) == 0 &&
	    work_in_flight(n->work) == 0)
		event_base_loopexit(n->base, NULL);
}

static void
node_release(struct node *n, struct node_pkt *p)
{
	if (p->command == SPHINX_CMD_RELAY) {
		int rc = pool_send(n->pool, p->next, (uint8_t *)p);
		if (rc >= 0)
			n->c.relayed++;
		return;
	}
	/* DELIVER: only a role with a deliver hook queues it. */
	uint8_t *ack = NULL, first_hop[SPHINX_NODE_ID_BYTES];
	if ((p->flags & SPHINX_FLAG_ACK) &&
	    surb_ack_take(p->data, ack = xmalloc(SPHINX_PACKET_BYTES),
	    first_hop) != SPHINX_OK) {
		n->c.acks_bad++;
		free(ack);
		ack = NULL;
	}
	if (n->ops->deliver(n->role, p->next, p->data, sizeof(p->data)) == 0) {
		n->c.delivered++;
		/* Stored (committed): now the sender may know it. */
		if (ack != NULL && pool_send(n->pool, first_hop, ack) >= 0)
			n->c.acks_sent++;
		ack = NULL;
	} else
		n->c.deliver_failed++;
	free(ack);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

static void
node_dq_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	uint64_t now = clock_monotonic_ms();
	struct node_pkt *p;

	n->dq_armed_ms = 0;
	while ((p = delayq_pop_due(n->dq, now)) != NULL)
		node_release(n, p);
	node_arm(n);
	node_maybe_done(n);
}

/* ---- incoming links ---- */

static const char *
node_error_reason(int rc)
{
	switch (rc) {
	case SPHINX_ERR_MAC:	return "bad MAC";
	case SPHINX_ERR_REPLAY:	return "replay";
	case SPHINX_ERR_COMMAND: return "not for a node";
	default:		return "malformed";
	}
}

static void
node_drop(struct node *n, const uint8_t peer[32], uint64_t *counter,
    const char *why)
{
	char id[B64_KEY_CHARS + 1];

	(*counter)++;
	b64_encode(id, peer, 32, B64_URLSAFE);
	log_debug("dropped a packet from %s: %s", id, why);
}

/* Stops (1) or resumes (0) reading every incoming link. */
static void
node_work_pause(struct node *n, int paused)
{
	n->work_paused = paused;
	for (struct node_in *ni = n->in_links; ni != NULL; ni = ni->next)
		link_pause(ni->link, paused);
	if (paused)
		n->c.work_paused++;
}

/* A packet back from a worker: replay check and log, then on its way. */
static void
node_work_done(void *arg, struct work_job *j)
{
	struct node *n = arg;
	struct node_job *nj = (struct node_job *)j;
	struct node_pkt *p = nj->p;
	struct epochkey *k = nj->key;
	const struct sphinx_hop_result *res = &j->res;
	int rc = j->rc;

	if (n->work_paused && work_in_flight(n->work) <= n->work_max / 2)
		node_work_pause(n, 0);

	if (j->authentic &&
	    replay_check_and_insert(replaydb_store(k->rdb), j->tag) != 0)
		rc = SPHINX_ERR_REPLAY;
	sodium_memzero(j->tag, sizeof(j->tag));
	if (rc != SPHINX_OK) {
		node_drop(n, nj->peer, rc == SPHINX_ERR_MAC ? &n->c.bad_mac :
		    rc == SPHINX_ERR_REPLAY ? &n->c.replay :
		    rc == SPHINX_ERR_COMMAND ? &n->c.bad_command :
		    &n->c.malformed, node_error_reason(rc));
		goto drop;
	}
	/* Persist the tag's source before the packet can leave. */
	if (replaydb_append(k->rdb, j->in) == -1) {
		if (n->c.persist_failed++ == 0)
			log_warn("replay log: write failed; dropping packets "
			    "until it works again");
		goto drop;
	}
	if (res->command == SPHINX_CMD_DROP) {
		node_drop(n, nj->peer, &n->c.cover, "drop cover");
		goto drop;
	}
	if (res->command == SPHINX_CMD_DELIVER && n->ops->deliver == NULL) {
		node_drop(n, nj->peer, &n->c.bad_command, "DELIVER at a mixnode");
		goto drop;
	}
	if (res->delay_ms > n->cfg.max_delay_ms) {
		node_drop(n, nj->peer, &n->c.delay_too_long,
		    "delay over max_delay_ms");
		goto drop;
	}
	p->command = res->command;
	p->flags = res->flags;
	memcpy(p->next, res->next_id, sizeof(p->next));
	if (delayq_push(n->dq, clock_monotonic_ms() + res->delay_ms, p) !=
	    DELAYQ_OK) {
		node_drop(n, nj->peer, &n->c.queue_full, "delay queue full");
		goto drop;
	}
	free(nj);
	node_arm(n);
	return;
drop:
	sodium_memzero(p, sizeof(*p));
	free(p);
	free(nj);
	node_maybe_done(n);
}

static void
node_in_packet(struct link *l, void *arg, const uint8_t *in, size_t len)
{
	struct node_in *ni = arg;
	struct node *n = ni->node;
	struct node_job *nj;
	struct epochkey *k;

	n->c.received++;
	n->interval_received++;
	if (!ni->is_node && !(ni->is_client && n->ops->client_may_send != NULL &&
	    n->ops->client_may_send(n->role, ni->peer))) {
		node_drop(n, ni->peer, &n->c.not_allowed,
		    "peer may not send packets");
		return;
	}
	/* The key the packet's phase names now (docs/epochs.md). */
	k = epochkeys_for_phase(n->ek, sphinx_key_phase(in), epoch_now_ms());
	if (k == NULL) {
		node_drop(n, ni->peer, &n->c.no_key, "no key of that phase now");
		return;
	}
	if ((nj = malloc(sizeof(*nj))) == NULL ||
	    (nj->p = malloc(sizeof(*nj->p))) == NULL) {
		free(nj);
		node_drop(n, ni->peer, &n->c.queue_full, "out of memory");
		return;
	}
	memcpy(nj->job.in, in, SPHINX_PACKET_BYTES);
	nj->job.priv = k->priv;
	nj->job.out = nj->p->data;
	nj->key = k;
	memcpy(nj->peer, ni->peer, sizeof(nj->peer));
	if (work_submit(n->work, &nj->job) == -1) {
		free(nj->p);
		free(nj);
		node_drop(n, ni->peer, &n->c.queue_full, "workers busy");
	}
	if (work_in_flight(n->work) >= n->work_max)
		node_work_pause(n, 1);
	else if (n->work_paused)
		link_pause(l, 1);	/* a link made since the others paused */
}

static void
node_in_control(struct link *l, void *arg, const Link__Control *msg)
{
	struct node_in *ni = arg;
	struct node *n = ni->node;

	if (msg->msg_case == LINK__CONTROL__MSG_PONG)
		return;
	if (n->ops->control != NULL)
		n->ops->control(n->role, l, ni->peer, msg);
	else if (msg->msg_case != LINK__CONTROL__MSG_ERROR)
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_BAD_REQUEST,
		    "a mixnode answers no control messages");
}

static void
node_in_free(struct node_in *ni)
{
	struct node *n = ni->node;

	if (ni->prev != NULL)
		ni->prev->next = ni->next;
	else
		n->in_links = ni->next;
	if (ni->next != NULL)
		ni->next->prev = ni->prev;
	n->n_in--;
	if (ni->handshaking)
		n->n_handshaking--;
	if (ni->pending)
		n->n_pending--;
	if (n->role != NULL && n->ops->link_closed != NULL)
		n->ops->link_closed(n->role, ni->link);
	link_free(ni->link);
	free(ni);
}

static void
node_in_closed(struct link *l, void *arg, int reason)
{
	struct node_in *ni = arg;
	char id[B64_KEY_CHARS + 1];

	if (link_peer_key(l) != NULL || ni->is_node || ni->is_client) {
		b64_encode(id, ni->peer, 32, B64_URLSAFE);
		log_debug("link from %s closed: %s", id, link_strerror(reason));
	} else
		log_debug("incoming link closed: %s", link_strerror(reason));
	node_in_free(ni);
}

/* Established links of one key. */
static size_t
node_links_of(const struct node *n, const uint8_t peer[32])
{
	size_t count = 0;

	for (const struct node_in *ni = n->in_links; ni != NULL; ni = ni->next)
		if (!ni->handshaking && memcmp(ni->peer, peer, 32) == 0)
			count++;
	return count;
}

size_t
node_output_room(struct node *n)
{
	uint64_t now = clock_monotonic_ms();

	/* Summed at most every 50 ms: pulls come often, links are many. */
	if (now - n->out_bytes_ms >= 50 || n->out_bytes_ms == 0) {
		n->out_bytes = 0;
		for (const struct node_in *ni = n->in_links; ni != NULL;
		    ni = ni->next)
			n->out_bytes += link_output_bytes(ni->link);
		n->out_bytes_ms = now;
	}
	return n->out_bytes >= NODE_OUTPUT_BUDGET_BYTES ? 0 :
	    NODE_OUTPUT_BUDGET_BYTES - n->out_bytes;
}

void
node_output_spent(struct node *n, size_t len)
{
	n->out_bytes += len;
}

/* A waiting link's answer, from the topology now (or also from also). */
static void
node_in_decide(struct node_in *ni, const struct topology *also)
{
	struct node *n = ni->node;
	char id[B64_KEY_CHARS + 1];
	int accept = 1;

	ni->pending = 0;
	n->n_pending--;
	b64_encode(id, ni->peer, 32, B64_URLSAFE);
	if (node_topology_lists(n, ni->peer) || node_lists(also, ni->peer))
		ni->is_node = 1;
	else if (n->ops->accept_client != NULL &&
	    n->ops->accept_client(n->role, ni->peer))
		ni->is_client = 1;
	else {
		n->c.refused_links++;
		log_debug("refused a link from %s: not in the topology", id);
		accept = 0;
	}
	if (accept)
		log_debug("link from %s: a %s", id, ni->is_node ? "node" :
		    "client");
	/* Takes effect from the loop: the list stays as it is meanwhile. */
	(void)link_accept_result(ni->link, accept);
}

static int
node_in_accept(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	struct node_in *ni = arg;
	struct node *n = ni->node;
	char id[B64_KEY_CHARS + 1];

	memcpy(ni->peer, peer, 32);
	if (node_links_of(n, peer) >= NODE_MAX_LINKS_PER_KEY) {
		b64_encode(id, peer, 32, B64_URLSAFE);
		log_debug("refused a link from %s: it holds %d already", id,
		    NODE_MAX_LINKS_PER_KEY);
		n->refused_handshakes++;
		return -1;
	}
	if (node_topology_lists(n, peer)) {
		ni->is_node = 1;
		return 0;
	}
	/* A provider's registered client: nothing to wait for. */
	if (n->ops->accept_client != NULL && n->ops->client_may_send != NULL &&
	    n->ops->client_may_send(n->role, peer) &&
	    n->ops->accept_client(n->role, peer)) {
		ni->is_client = 1;
		return 0;
	}
	/*
	 * It may be a node that joined since our last fetch: taken for a
	 * client (or refused) now, everything it relays would be lost. So
	 * the answer waits for a fetch that starts after this moment (at
	 * the on-demand rate); until then the peer cannot send, and the link
	 * keeps its handshake slot and timeout.
	 */
	ni->pending = 1;
	ni->pending_fetch = n->topo_started + 1;
	ni->pending_since_ms = clock_monotonic_ms();
	if (n->n_pending++ == 0)
		node_timer_ms(n->pending_timer, NODE_UNKNOWN_PEER_WAIT_MS);
	b64_encode(id, peer, 32, B64_URLSAFE);
	log_debug("link from %s: not in the topology; fetching it before "
	    "the answer", id);
	node_want_topology(n);
	return LINK_ACCEPT_PENDING;
}

/*
 * Decides the links whose fetch has ended, and those that waited
 * NODE_UNKNOWN_PEER_WAIT_MS (a directory that does not answer costs no
 * more than that); the timer comes back for the oldest left.
 */
static void
node_decide_pending(struct node *n, const struct topology *also)
{
	uint64_t now = clock_monotonic_ms(), oldest = 0;

	if (n->n_pending == 0)
		return;
	for (struct node_in *ni = n->in_links; ni != NULL; ni = ni->next) {
		if (!ni->pending)
			continue;
		if (ni->pending_fetch <= n->topo_ended ||
		    now - ni->pending_since_ms >= NODE_UNKNOWN_PEER_WAIT_MS)
			node_in_decide(ni, also);
		else if (oldest == 0 || ni->pending_since_ms < oldest)
			oldest = ni->pending_since_ms;
	}
	if (oldest != 0)
		node_timer_ms(n->pending_timer,
		    oldest + NODE_UNKNOWN_PEER_WAIT_MS - now);
	else
		evtimer_del(n->pending_timer);
}

static void
node_pending_timer(evutil_socket_t fd, short what, void *arg)
{
	node_decide_pending(arg, NULL);
}

static void
node_in_established(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	struct node_in *ni = arg;
	char id[B64_KEY_CHARS + 1];

	if (ni->handshaking) {
		ni->handshaking = 0;
		ni->node->n_handshaking--;
	}
	b64_encode(id, peer, 32, B64_URLSAFE);
	log_debug("link from %s (%s) is up", id, ni->is_node ? "node" : "client");
}

static const struct link_callbacks node_in_cb = {
	.established = node_in_established,
	.packet = node_in_packet,
	.control = node_in_control,
	.closed = node_in_closed,
	.accept_peer = node_in_accept,
};

/* The source address as 16 bytes (IPv4 mapped into IPv6). */
static void
node_addr_of(const struct sockaddr *sa, int salen, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET && salen >= (int)sizeof(struct sockaddr_in)) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    salen >= (int)sizeof(struct sockaddr_in6)) {
		memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

/*
 * A connection that has not finished its handshake holds a slot of a small
 * budget, and one source address only part of it: connections that never
 * finish cannot keep honest peers from completing theirs.
 */
static int
node_may_handshake(struct node *n, const uint8_t addr[16])
{
	size_t same = 0;

	if (n->n_handshaking >= NODE_MAX_HANDSHAKING) {
		if (n->refused_handshakes++ == 0)
			log_warnx("refusing connections: %d handshakes in progress",
			    NODE_MAX_HANDSHAKING);
		return 0;
	}
	for (const struct node_in *ni = n->in_links; ni != NULL; ni = ni->next)
		if (ni->handshaking && memcmp(ni->addr, addr, 16) == 0)
			same++;
	if (same >= NODE_MAX_HANDSHAKING_PER_ADDR) {
		if (n->refused_handshakes++ == 0)
			log_warnx("refusing connections: %d handshakes in progress "
			    "from one address", NODE_MAX_HANDSHAKING_PER_ADDR);
		return 0;
	}
	return 1;
}

static void
node_accept(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct node *n = arg;
	struct node_in *ni;
	uint8_t addr[16];
	int rc;

	node_addr_of(sa, salen, addr);
	if (n->stopping || n->n_in >= NODE_MAX_INCOMING_LINKS ||
	    !node_may_handshake(n, addr) ||
	    (ni = calloc(1, sizeof(*ni))) == NULL) {
		close(fd);
		return;
	}
	ni->node = n;
	ni->handshaking = 1;
	memcpy(ni->addr, addr, sizeof(addr));
	rc = link_new_responder(&ni->link, n->base, fd, &n->in_cfg, &node_in_cb, ni);
	if (rc != LINK_OK) {
		log_warnx("incoming link: %s", link_strerror(rc));
		close(fd);
		free(ni);
		return;
	}
	ni->next = n->in_links;
	if (ni->next != NULL)
		ni->next->prev = ni;
	n->in_links = ni;
	n->n_in++;
	n->n_handshaking++;
}

/*
 * A restarted node knows no peer until its first topology arrives; links
 * accepted before would be refused and their peers would back off. So the
 * socket listens at once (connections wait in its backlog) and accepting
 * starts when the first fetch has ended, or after NODE_FIRST_TOPOLOGY_WAIT_MS.
 */
static void
node_start_accepting(struct node *n)
{
	if (n->accepting || n->listener == NULL)
		return;
	n->accepting = 1;
	evtimer_del(n->accept_timer);
	if (evconnlistener_enable(n->listener) == -1)
		log_warnx("cannot accept links on %s", n->hostport);
}

static void
node_accept_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	log_info("no topology after %d ms: accepting links without one",
	    NODE_FIRST_TOPOLOGY_WAIT_MS);
	node_start_accepting(n);
}

static void
node_accept_error(struct evconnlistener *lst, void *arg)
{
	/* EMFILE and friends: the listener retries on the next connection. */
	log_warn("accept");
}

static int
node_listen(struct node *n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, n->cfg.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)n->cfg.port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, n->cfg.host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)n->cfg.port);
		len = sizeof(*sin6);
	} else {
		log_warnx("host '%s' is not an IP address", n->cfg.host);
		return -1;
	}
	n->listener = evconnlistener_new_bind(n->base, node_accept, n,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_DISABLED,
	    128, (struct sockaddr *)&ss, (int)len);
	if (n->listener == NULL) {
		log_warn("cannot listen on %s", n->hostport);
		return -1;
	}
	evconnlistener_set_error_cb(n->listener, node_accept_error);
	return 0;
}

/* ---- start and stop ---- */

static void
node_grace_timer(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	if (delayq_len(n->dq) > 0 || pool_queued(n->pool) > 0)
		log_info("stopping: %zu packets still delayed and %zu queued "
		    "are dropped", delayq_len(n->dq), pool_queued(n->pool));
	event_base_loopexit(n->base, NULL);
}

static void
node_signal(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;

	if (n->stopping) {
		event_base_loopexit(n->base, NULL);
		return;
	}
	log_info("signal %d: stopping (draining for up to %d ms)", (int)sig,
	    NODE_STOP_GRACE_MS);
	n->stopping = 1;
	/* No new packets; held ones may still leave within the grace time. */
	if (n->listener != NULL) {
		evconnlistener_free(n->listener);
		n->listener = NULL;
	}
	while (n->in_links != NULL)
		node_in_free(n->in_links);
	evtimer_del(n->accept_timer);
	evtimer_del(n->pending_timer);
	evtimer_del(n->presence_timer);
	evtimer_del(n->metrics_timer);
	node_timer_ms(n->grace_timer, NODE_STOP_GRACE_MS);
	/* What the workers hold joins the delay queue, to leave in time. */
	work_drain(n->work);
	node_maybe_done(n);
}

static void
node_free_pkt(void *p)
{
	free(p);
}

static void
node_cleanup(struct node *n)
{
	struct event **evs[] = { &n->dq_timer, &n->topo_timer, &n->epoch_timer,
	    &n->presence_timer, &n->metrics_timer, &n->sync_timer,
	    &n->snapshot_timer, &n->grace_timer, &n->accept_timer,
	    &n->pending_timer, &n->sig_term, &n->sig_int };

	/* First: what comes back from the workers still has its queue. */
	work_free(n->work);
	n->work = NULL;
	if (n->listener != NULL)
		evconnlistener_free(n->listener);
	while (n->in_links != NULL)
		node_in_free(n->in_links);
	metrics_endpoint_free(n->metrics);
	pool_free(n->pool);
	delayq_free(n->dq, node_free_pkt);
	http_free(n->http);
	topology_free(n->topo);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i] != NULL)
			event_free(*evs[i]);
	epochkeys_close(n->ek);
	if (n->base != NULL)
		event_base_free(n->base);
	sodium_free(n->priv);
	sodium_free(n->identity_sk);
}

static int
node_make_base(struct node *n)
{
	struct event_config *ec = event_config_new();

	if (ec == NULL)
		return -1;
	/* Delays of a few milliseconds need a timer finer than the coarse clock. */
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	n->base = event_base_new_with_config(ec);
	event_config_free(ec);
	return n->base != NULL ? 0 : -1;
}

static int
node_open_replay(struct node *n)
{
	struct replay_params rp;
	char err[EPOCHKEYS_ERR_BYTES];
	struct epochkey *k;
	size_t nk;

	memset(&rp, 0, sizeof(rp));
	/* Sized by count: capacity tags over one "second", per epoch key. */
	rp.packets_per_second = (double)n->cfg.replay_capacity;
	rp.epoch_seconds = 1;
	rp.false_positive_rate = REPLAY_DEFAULT_FALSE_POSITIVE_RATE;
	if (epochkeys_open(&n->ek, n->cfg.data_dir, &rp, epoch_now_ms(), err,
	    sizeof(err)) == -1) {
		log_warnx("epoch keys: %s", err);
		return -1;
	}
	k = epochkeys_all(n->ek, &nk);
	for (size_t i = 0; i < nk; i++)
		if (k[i].rdb != NULL)
			log_info("epoch key %llu: replay store of %llu tags, "
			    "capacity %llu, %llu KiB", (unsigned long long)k[i].epoch,
			    (unsigned long long)replay_count(replaydb_store(k[i].rdb)),
			    (unsigned long long)replay_capacity(
			    replaydb_store(k[i].rdb)),
			    (unsigned long long)(replay_filter_bits(
			    replaydb_store(k[i].rdb)) / 8 / 1024));
	if (nk == 0)
		log_info("epoch keys: none yet; made when the directory "
		    "announces the epoch length");
	return 0;
}

static int
node_load_identity(struct node *n)
{
	char err[IDENTITY_ERR_BYTES], id[B64_KEY_CHARS + 1];
	int created;

	if ((n->identity_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	if (identity_load(&n->cfg, n->identity_sk, n->identity_pk, &created,
	    err, sizeof(err)) == -1) {
		log_warnx("identity key: %s", err);
		return -1;
	}
	b64_encode(id, n->identity_pk, 32, B64_URLSAFE);
	if (created)
		log_info("made an identity key for this node, which had none: "
		    "%s/%s", n->cfg.home, IDENTITY_PUBLIC_FILE);
	log_info("identity key %s", id);
	return 0;
}

static int
node_setup(struct node *n)
{
	struct pool_params pp;

	if (strchr(n->cfg.host, ':') != NULL)
		snprintf(n->hostport, sizeof(n->hostport), "[%s]:%u", n->cfg.host,
		    n->cfg.port);
	else
		snprintf(n->hostport, sizeof(n->hostport), "%s:%u", n->cfg.host,
		    n->cfg.port);
	n->in_cfg.packet_bytes = SPHINX_PACKET_BYTES;
	n->in_cfg.our_pub = n->pub;
	n->in_cfg.our_priv = n->priv;
	/* Room for a whole pull reply (256 deliveries) on a client link. */
	n->in_cfg.out_max_bytes = NODE_IN_LINK_OUT_MAX_BYTES;
	n->in_cfg.handshake_timeout_ms = NODE_HANDSHAKE_TIMEOUT_MS;
	n->out_cfg = n->in_cfg;
	n->out_cfg.out_max_bytes = 0;

	memset(&pp, 0, sizeof(pp));
	pp.link = &n->out_cfg;
	pp.queue_packets = (size_t)n->cfg.link_queue_packets;
	pp.need_topology = node_want_topology;
	pp.arg = n;
	if (n->cfg.workers == 0)
		n->cfg.workers = work_default_threads();
	n->work_max = (size_t)n->cfg.workers * NODE_WORK_JOBS_PER_WORKER;
	if (node_make_base(n) == -1 ||
	    (n->work = work_new(n->base, n->cfg.workers, n->work_max,
	    node_work_done, n)) == NULL ||
	    (n->dq = delayq_new((size_t)n->cfg.delay_queue_packets)) == NULL ||
	    (n->pool = pool_new(n->base, &pp)) == NULL ||
	    (n->http = http_new(n->base)) == NULL ||
	    (n->dq_timer = evtimer_new(n->base, node_dq_timer, n)) == NULL ||
	    (n->topo_timer = evtimer_new(n->base, node_topology_timer, n)) == NULL ||
	    (n->epoch_timer = evtimer_new(n->base, node_epoch_timer, n)) == NULL ||
	    (n->presence_timer = evtimer_new(n->base, node_presence_timer, n)) == NULL ||
	    (n->metrics_timer = evtimer_new(n->base, node_metrics_timer, n)) == NULL ||
	    (n->sync_timer = evtimer_new(n->base, node_sync_timer, n)) == NULL ||
	    (n->snapshot_timer = evtimer_new(n->base, node_snapshot_timer, n)) == NULL ||
	    (n->grace_timer = evtimer_new(n->base, node_grace_timer, n)) == NULL ||
	    (n->accept_timer = evtimer_new(n->base, node_accept_timer, n)) == NULL ||
	    (n->pending_timer = evtimer_new(n->base, node_pending_timer, n)) == NULL ||
	    (n->sig_term = evsignal_new(n->base, SIGTERM, node_signal, n)) == NULL ||
	    (n->sig_int = evsignal_new(n->base, SIGINT, node_signal, n)) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	/* Names are resolved without NSS: the node runs in its sandbox. */
	http_own_resolver(n->http);
	evsignal_add(n->sig_term, NULL);
	evsignal_add(n->sig_int, NULL);
	return 0;
}

/* The sandbox is installed (it stays until exit). */
static int node_confined;

int
node_run(const struct node_config *cfg, const uint8_t priv[32],
    const uint8_t pub[32], const struct node_ops *ops)
{
	struct node n;
	int status = NODE_RUN_STARTUP;

	memset(&n, 0, sizeof(n));
	n.cfg = *cfg;
	n.ops = ops;
	memcpy(n.pub, pub, 32);
	b64_encode(n.pub_b64, pub, 32, B64_URLSAFE);
	if ((n.priv = sodium_malloc(32)) == NULL) {
		log_warnx("out of memory");
		return NODE_RUN_FAILED;
	}
	memcpy(n.priv, priv, 32);
	signal(SIGPIPE, SIG_IGN);
	if (node_load_identity(&n) == -1 || node_setup(&n) == -1 ||
	    node_open_replay(&n) == -1)
		goto out;
	if (ops->start != NULL && ops->start(&n, &n.role) == -1)
		goto out;
	if (node_listen(&n) == -1)
		goto stop;
	if (cfg->metrics_listen[0] != '\0') {
		char err[256];
		if (metrics_endpoint_start(&n.metrics, n.base, cfg->metrics_listen,
		    node_metrics_text, &n, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			goto stop;
		}
		log_info("metrics on http://%s/metrics", cfg->metrics_listen);
	}
	log_info("%s %s listening on %s (directory %s)",
	    node_role_program(cfg->role), cfg->id, n.hostport, cfg->directory);
	/* Keys read, stores open, ports bound: nothing more to acquire
	 * before the first byte from a peer. */
	if (node_sandbox(node_role_program(cfg->role), cfg->data_dir,
	    ops->sandbox_calls) == -1)
		goto stop;
	node_confined = 1;
	/* After the sandbox: a thread started before would escape Landlock. */
	if (work_start(n.work) == -1)
		goto stop;
	log_info("Sphinx workers: %u threads", work_threads(n.work));

	node_timer_ms(n.accept_timer, NODE_FIRST_TOPOLOGY_WAIT_MS);
	node_epoch_update(&n);
	node_fetch_topology(&n);
	node_timer_ms(n.topo_timer, cfg->topology_interval_s * 1000ull);
	node_presence_now(&n);
	node_timer_ms(n.presence_timer, cfg->presence_interval_s * 1000ull);
	node_timer_ms(n.metrics_timer, cfg->metrics_interval_s * 1000ull);
	node_timer_ms(n.sync_timer, NODE_REPLAY_SYNC_MS);
	node_timer_ms(n.snapshot_timer, cfg->replay_snapshot_interval_s * 1000ull);

	if (event_base_dispatch(n.base) == -1) {
		log_warnx("event loop failed");
		status = NODE_RUN_FAILED;
	} else
		status = 0;
	node_log_stats(&n, " at stop");
	node_snapshot(&n);
stop:
	if (ops->stop != NULL && n.role != NULL)
		ops->stop(n.role);
	n.role = NULL;		/* links freed from here on tell no role */
out:
	node_cleanup(&n);
	if (status == 0)
		log_info("stopped");
	return status;
}

int
node_sandboxed(void)
{
	return node_confined;
}

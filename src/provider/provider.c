/*
 * nym-provider: a Loopix provider.  The node core does the mixing work
 * (first hop for its clients' packets, last hop for theirs); this file
 * adds what only a provider does:
 *
 * - a client is whoever opens a link with a key that is no node of the
 *   topology; its identity is that static key;
 * - register{statement} -> store_register() -> register_ok{token}; a
 *   registered client is listed in the provider's presence with its
 *   signed registration statement, and only registered clients may send
 *   packets (the provider is their first hop);
 * - DELIVER, after its delay -> store_put() in the client's mailbox,
 *   committed before the packet counts as delivered;
 * - pull{token, max} -> pull_reply{count, remaining} + count DELIVERY
 *   frames; ack{ids, release} -> store_ack(ids) -> ack_ok{count}: a
 *   packet is deleted only by an ack;
 * - a pull hands out each packet once per link: what a link was handed
 *   and has neither acknowledged nor released is its lease, passed over
 *   by its later pulls and handed out again once the link is gone.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/b64.h"
#include "common/clock.h"
#include "common/epoch.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/regstmt.h"
#include "common/sphinx.h"
#include "node/cli.h"
#include "provider/provider.h"
#include "provider/store.h"

/*
 * A registered client and its latest registration statement (docs/
 * directory.md), kept in memory: a client loaded from the store after a
 * restart is listed again once it registers anew (it does at every link).
 */
struct provider_client {
	uint8_t			 key[32];	/* first: the sort key */
	int			 stated;	/* stmt is a verified statement */
	struct regstmt		 stmt;
};

/* A delivery a link was handed and has not acknowledged. */
struct provider_out {
	uint64_t	id;
	uint64_t	since_ms;	/* handed out (monotonic) */
};

/*
 * What one client link holds: its later pulls pass over these ids, which
 * are handed out again once released or once the link is gone. Only a
 * link with deliveries out has one; at most PROVIDER_MAX_UNACKED.
 */
struct provider_lease {
	struct provider_lease	*next;
	struct link		*link;
	struct provider_out	*out;		/* ascending ids */
	size_t			 n;
	size_t			 cap;
};

struct provider {
	struct node		*node;
	struct store		*store;
	struct provider_client	*clients;	/* registered, sorted by key */
	size_t			 n_clients;
	size_t			 cap_clients;
	struct store_item	*items;		/* LINK_MAX_PULL of them */
	uint64_t		 skip[PROVIDER_MAX_UNACKED];
	struct provider_lease	*leases;
	size_t			 n_leases;
	time_t			 quota_warned;
	uint64_t		 quota_dropped;
	int			 store_failing;	/* puts refused: said once */
	uint64_t		 store_refused;	/* in this episode */
};

static int
provider_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static struct provider_client *
provider_find_client(const struct provider *p, const uint8_t client[32])
{
	return p->n_clients == 0 ? NULL : bsearch(client, p->clients,
	    p->n_clients, sizeof(*p->clients), provider_cmp);
}

static int
provider_is_registered(const struct provider *p, const uint8_t client[32])
{
	return provider_find_client(p, client) != NULL;
}

/* Adds a client to the sorted set; 1 if new, 0 if known, -1 on error. */
static int
provider_add_client(struct provider *p, const uint8_t client[32])
{
	size_t i;

	if (provider_is_registered(p, client))
		return 0;
	if (p->n_clients == p->cap_clients) {
		size_t cap = p->cap_clients ? p->cap_clients * 2 : 64;
		void *c = realloc(p->clients, cap * sizeof(*p->clients));
		if (c == NULL)
			return -1;
		p->clients = c;
		p->cap_clients = cap;
	}
	for (i = p->n_clients; i > 0 &&
	    memcmp(p->clients[i - 1].key, client, 32) > 0; i--)
		p->clients[i] = p->clients[i - 1];
	memset(&p->clients[i], 0, sizeof(p->clients[i]));
	memcpy(p->clients[i].key, client, 32);
	p->n_clients++;
	return 1;
}

/*
 * Keeps s as the client's statement unless it has a newer one; 1 if the
 * presence changes.
 */
static int
provider_set_statement(struct provider *p, const struct regstmt *s)
{
	struct provider_client *c = provider_find_client(p, s->client);

	if (c == NULL || (c->stated &&
	    c->stmt.registered_ms >= s->registered_ms))
		return 0;
	c->stmt = *s;
	c->stated = 1;
	return 1;
}

static void
provider_load_client(void *arg, const uint8_t client[STORE_CLIENT_BYTES])
{
	(void)provider_add_client(arg, client);
}

static int
provider_start(struct node *node, void **rolep)
{
	const struct node_config *cfg = node_config(node);
	struct store_limits limits;
	struct provider *p;
	char path[PATH_MAX];
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->data_dir,
	    PROVIDER_DB_FILE) >= sizeof(path)) {
		log_warnx("%s: path too long", cfg->data_dir);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->items = calloc(LINK_MAX_PULL, sizeof(*p->items))) == NULL) {
		free(p);
		log_warnx("out of memory");
		return -1;
	}
	p->node = node;
	limits.max_packets_per_client = (size_t)cfg->mailbox_packets;
	limits.max_clients = (size_t)cfg->max_clients;
	if ((rc = store_open(&p->store, path, &limits)) != STORE_OK) {
		log_warnx("mailbox store %s: %s", path, store_strerror(rc));
		free(p->items);
		free(p);
		return -1;
	}
	if ((rc = store_clients(p->store, provider_load_client, p)) != STORE_OK) {
		log_warnx("mailbox store %s: %s", path, store_strerror(rc));
		store_close(p->store);
		free(p->items);
		free(p);
		return -1;
	}
	log_info("mailbox store %s: %zu registered clients", path, p->n_clients);
	*rolep = p;
	return 0;
}

static void
provider_lease_free(struct provider *p, struct provider_lease *lease)
{
	struct provider_lease **pp;

	for (pp = &p->leases; *pp != NULL; pp = &(*pp)->next)
		if (*pp == lease) {
			*pp = lease->next;
			p->n_leases--;
			break;
		}
	free(lease->out);
	free(lease);
}

static void
provider_stop(void *role)
{
	struct provider *p = role;

	while (p->leases != NULL)
		provider_lease_free(p, p->leases);
	store_close(p->store);
	sodium_memzero(p->items, LINK_MAX_PULL * sizeof(*p->items));
	free(p->items);
	free(p->clients);
	free(p);
}

static int
provider_deliver(void *role, const uint8_t client[32], const uint8_t *packet,
    size_t len)
{
	struct provider *p = role;
	char id[B64_KEY_CHARS + 1];
	time_t now;
	int rc;

	if ((rc = store_put(p->store, client, packet, len)) == STORE_OK) {
		if (p->store_failing)
			log_info("mailbox store writable again: %llu packets "
			    "were refused meanwhile", (unsigned long long)
			    p->store_refused);
		p->store_failing = 0;
		return 0;
	}
	b64_encode(id, client, 32, B64_URLSAFE);
	if (rc == STORE_ERR_QUOTA) {
		/* One line per second at most: a full mailbox fills again fast. */
		p->quota_dropped++;
		now = time(NULL);
		if (now != p->quota_warned)
			log_warnx("mailbox of client %s is full (quota of %llu "
			    "packets): packet dropped (%llu so far); the client "
			    "must pull and ack", id, (unsigned long long)
			    node_config(p->node)->mailbox_packets,
			    (unsigned long long)p->quota_dropped);
		p->quota_warned = now;
	} else if (rc == STORE_ERR_NOT_REGISTERED)
		log_debug("packet for %s dropped: not a registered client", id);
	else {
		/* Full, read-only or failing disk: every delivery is refused
		 * (the sender's retransmission recovers them); pulls and acks
		 * go on. Said once per episode, counted in deliver_failed. */
		if (!p->store_failing) {
			log_warnx("mailbox store: %s: deliveries refused until "
			    "it can be written again; pulls and acks go on",
			    store_strerror(rc));
			p->store_refused = 0;
		}
		p->store_failing = 1;
		p->store_refused++;
	}
	return -1;
}

static int
provider_accept_client(void *role, const uint8_t peer[32])
{
	/* Anyone may connect to register; only registered clients send. */
	return 1;
}

static int
provider_client_may_send(void *role, const uint8_t peer[32])
{
	return provider_is_registered(role, peer);
}

static Link__ErrorCode
provider_error_code(int rc)
{
	switch (rc) {
	case STORE_ERR_NOT_REGISTERED:	return LINK__ERROR_CODE__ERROR_NOT_REGISTERED;
	case STORE_ERR_BAD_TOKEN:	return LINK__ERROR_CODE__ERROR_BAD_TOKEN;
	case STORE_ERR_FULL:
	case STORE_ERR_QUOTA:		return LINK__ERROR_CODE__ERROR_LIMIT;
	case STORE_ERR_INVALID:		return LINK__ERROR_CODE__ERROR_BAD_REQUEST;
	default:			return LINK__ERROR_CODE__ERROR_INTERNAL;
	}
}

/*
 * The registration statement of a Register from client (docs/link.md):
 * signed by the client's key, naming this provider, not from the future.
 * 0, or -1 with the reason in why.
 */
static int
provider_check_statement(struct provider *p, const uint8_t client[32],
    const Link__Register *req, struct regstmt *s, const char **why)
{
	memset(s, 0, sizeof(*s));
	if (req->signature.len != REGSTMT_SIG_BYTES) {
		*why = "a registration carries the client's signed statement "
		    "(registered_ms, signature)";
		return -1;
	}
	memcpy(s->client, client, 32);
	memcpy(s->provider, node_public_key(p->node), 32);
	s->registered_ms = req->registered_ms;
	memcpy(s->sig, req->signature.data, REGSTMT_SIG_BYTES);
	if (regstmt_verify(s) == -1) {
		*why = "the registration statement does not verify for this "
		    "client and this provider";
		return -1;
	}
	if (s->registered_ms > epoch_now_ms() + REGSTMT_MAX_SKEW_MS) {
		*why = "the registration statement is dated in the future (is "
		    "the client's clock right?)";
		return -1;
	}
	return 0;
}

static void
provider_register(struct provider *p, struct link *l, const uint8_t client[32],
    const Link__Register *req)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__RegisterOk ok = LINK__REGISTER_OK__INIT;
	uint8_t token[STORE_TOKEN_BYTES];
	char id[B64_KEY_CHARS + 1];
	struct regstmt stmt;
	const char *why;
	int rc, changed;

	b64_encode(id, client, 32, B64_URLSAFE);
	if (provider_check_statement(p, client, req, &stmt, &why) == -1) {
		log_info("registration of %s refused: %s", id, why);
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_BAD_REQUEST, why);
		return;
	}
	if ((rc = store_register(p->store, client, token)) != STORE_OK) {
		log_warnx("registration of %s refused: %s", id, store_strerror(rc));
		(void)node_send_error(l, provider_error_code(rc),
		    rc == STORE_ERR_FULL ? "the provider has all the clients "
		    "it may have" : store_strerror(rc));
		return;
	}
	if ((rc = provider_add_client(p, client)) == 1)
		log_info("client %s registered", id);
	else if (rc == -1)
		log_warnx("client %s: out of memory", id);
	changed = provider_set_statement(p, &stmt);
	/* So that senders find the client in the topology soon. */
	if (rc == 1 || changed)
		node_presence_now(p->node);
	ok.token.data = token;
	ok.token.len = sizeof(token);
	c.msg_case = LINK__CONTROL__MSG_REGISTER_OK;
	c.register_ok = &ok;
	(void)link_send_control(l, &c);
	sodium_memzero(token, sizeof(token));
}

static struct provider_lease *
provider_lease_of(struct provider *p, const struct link *l)
{
	for (struct provider_lease *lease = p->leases; lease != NULL;
	    lease = lease->next)
		if (lease->link == l)
			return lease;
	return NULL;
}

static int
provider_out_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct provider_out *)a)->id;
	uint64_t y = ((const struct provider_out *)b)->id;

	return x < y ? -1 : x > y;
}

/* Records that l was handed items[0 .. n-1]; -1 if out of memory. */
static int
provider_lease_add(struct provider *p, struct link *l, size_t n)
{
	struct provider_lease *lease = provider_lease_of(p, l);
	uint64_t now = clock_monotonic_ms();
	void *out;

	if (n == 0)
		return 0;
	if (lease == NULL) {
		if ((lease = calloc(1, sizeof(*lease))) == NULL)
			return -1;
		lease->link = l;
		lease->next = p->leases;
		p->leases = lease;
		p->n_leases++;
	}
	if (lease->n + n > lease->cap) {
		if ((out = reallocarray(lease->out, lease->n + n,
		    sizeof(*lease->out))) == NULL)
			return -1;
		lease->out = out;
		lease->cap = lease->n + n;
	}
	for (size_t i = 0; i < n; i++) {
		lease->out[lease->n].id = p->items[i].id;
		lease->out[lease->n++].since_ms = now;
	}
	qsort(lease->out, lease->n, sizeof(*lease->out), provider_out_cmp);
	return 0;
}

/*
 * Takes id out of a lease; how long it was out in *held_ms. 0 if it was
 * there, -1 if not (acked already, or never handed out on this link).
 */
static int
provider_lease_take(struct provider_lease *lease, uint64_t id,
    uint64_t *held_ms)
{
	struct provider_out key = { .id = id }, *o;
	size_t i;

	if (lease == NULL || (o = bsearch(&key, lease->out, lease->n,
	    sizeof(*lease->out), provider_out_cmp)) == NULL)
		return -1;
	*held_ms = clock_monotonic_ms() - o->since_ms;
	i = (size_t)(o - lease->out);
	memmove(o, o + 1, (lease->n - i - 1) * sizeof(*o));
	lease->n--;
	return 0;
}

/* A link goes: what it held is handed out again by the next pull. */
static void
provider_link_closed(void *role, struct link *l)
{
	struct provider *p = role;
	struct provider_lease *lease = provider_lease_of(p, l);

	if (lease == NULL)
		return;
	log_debug("client link closed with %zu deliveries unacknowledged: "
	    "they are handed out again", lease->n);
	provider_lease_free(p, lease);
}

/*
 * How many packets a pull on l may hand out: no more than asked, than
 * the link's lease has room for, than the link's output can take now,
 * nor than the node's output budget has left.
 */
static size_t
provider_pull_max(struct provider *p, struct link *l, size_t max,
    size_t leased)
{
	size_t room;

	room = NODE_IN_LINK_OUT_MAX_BYTES - link_output_bytes(l);
	if (room > node_output_room(p->node))
		room = node_output_room(p->node);
	if (max > LINK_MAX_PULL)
		max = LINK_MAX_PULL;
	if (max > PROVIDER_MAX_UNACKED - leased)
		max = PROVIDER_MAX_UNACKED - leased;
	if (room < 1024 + max * PROVIDER_DELIVERY_WIRE_BYTES)
		max = room > 1024 ? (room - 1024) / PROVIDER_DELIVERY_WIRE_BYTES : 0;
	return max;
}

static void
provider_pull(struct provider *p, struct link *l, const uint8_t client[32],
    const Link__Pull *req)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__PullReply reply = LINK__PULL_REPLY__INIT;
	struct provider_lease *lease = provider_lease_of(p, l);
	size_t max, n = 0, remaining = 0, leased = lease ? lease->n : 0;
	int rc;

	rc = store_check_token(p->store, client, req->token.data, req->token.len);
	if (rc != STORE_OK) {
		(void)node_send_error(l, provider_error_code(rc),
		    store_strerror(rc));
		return;
	}
	if (leased == PROVIDER_MAX_UNACKED) {
		log_debug("pull refused: the link holds %zu unacknowledged "
		    "deliveries", leased);
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_BUSY,
		    "acknowledge or release what you were handed first");
		return;
	}
	/* The reply goes out whole. */
	if ((max = provider_pull_max(p, l, req->max, leased)) == 0) {
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_BUSY,
		    "the link's output is full; pull again later");
		return;
	}
	for (size_t i = 0; i < leased; i++)
		p->skip[i] = lease->out[i].id;
	rc = store_pull_skip(p->store, client, p->skip, leased, max, p->items,
	    &n, &remaining);
	if (rc != STORE_OK) {
		log_warnx("pull: %s", store_strerror(rc));
		(void)node_send_error(l, provider_error_code(rc),
		    store_strerror(rc));
		return;
	}
	reply.count = (uint32_t)n;
	reply.remaining = remaining > UINT32_MAX ? UINT32_MAX : (uint32_t)remaining;
	c.msg_case = LINK__CONTROL__MSG_PULL_REPLY;
	c.pull_reply = &reply;
	if (link_send_control(l, &c) != LINK_OK)
		return;
	node_output_spent(p->node, n * PROVIDER_DELIVERY_WIRE_BYTES);
	for (size_t i = 0; i < n; i++) {
		rc = link_send_delivery(l, p->items[i].id, p->items[i].packet,
		    p->items[i].len);
		if (rc != LINK_OK) {
			/* The client sees a short reply; what was not sent
			 * is not leased and comes with a later pull. */
			log_warnx("pull: delivery %zu of %zu not sent: %s", i + 1,
			    n, link_strerror(rc));
			n = i;
			break;
		}
	}
	if (provider_lease_add(p, l, n) == -1) {
		/* Without a record of what it holds, the link must go: its
		 * deliveries come again on the next one. */
		log_warnx("pull: out of memory; closing the client's link");
		link_shutdown(l);
	}
}

/*
 * Ends the lease of what an ack names: deleted ids leave it, released
 * ones are handed out again by the next pull. The debug line per id is
 * what tests/integration/ack-timing.sh measures: how long after it was
 * handed out each delivery was answered.
 */
static void
provider_lease_end(struct provider *p, struct link *l, const Link__Ack *req)
{
	struct provider_lease *lease = provider_lease_of(p, l);
	uint64_t held_ms;

	if (lease == NULL)
		return;
	for (size_t i = 0; i < req->n_ids; i++)
		if (provider_lease_take(lease, req->ids[i], &held_ms) == 0)
			log_debug("delivery %llu acknowledged %llu ms after it "
			    "was handed out", (unsigned long long)req->ids[i],
			    (unsigned long long)held_ms);
	for (size_t i = 0; i < req->n_release; i++)
		if (provider_lease_take(lease, req->release[i], &held_ms) == 0)
			log_debug("delivery %llu released %llu ms after it was "
			    "handed out", (unsigned long long)req->release[i],
			    (unsigned long long)held_ms);
	if (lease->n == 0)
		provider_lease_free(p, lease);
}

static void
provider_ack(struct provider *p, struct link *l, const uint8_t client[32],
    const Link__Ack *req)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__AckOk ok = LINK__ACK_OK__INIT;
	int rc;

	if (!provider_is_registered(p, client)) {
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_NOT_REGISTERED,
		    "register first");
		return;
	}
	provider_lease_end(p, l, req);
	if (req->n_ids > 0 && (rc = store_ack(p->store, client, req->ids,
	    req->n_ids)) != STORE_OK) {
		/* Out of the lease all the same: they come again, and the
		 * client knows their ids. */
		log_warnx("ack: %s", store_strerror(rc));
		(void)node_send_error(l, provider_error_code(rc),
		    store_strerror(rc));
		return;
	}
	ok.count = (uint32_t)req->n_ids;
	c.msg_case = LINK__CONTROL__MSG_ACK_OK;
	c.ack_ok = &ok;
	(void)link_send_control(l, &c);
}

static void
provider_control(void *role, struct link *l, const uint8_t peer[32],
    const Link__Control *msg)
{
	struct provider *p = role;

	switch (msg->msg_case) {
	case LINK__CONTROL__MSG_REGISTER:
		provider_register(p, l, peer, msg->register_);
		break;
	case LINK__CONTROL__MSG_PULL:
		provider_pull(p, l, peer, msg->pull);
		break;
	case LINK__CONTROL__MSG_ACK:
		provider_ack(p, l, peer, msg->ack);
		break;
	case LINK__CONTROL__MSG_ERROR:
		break;		/* never answer an error with an error */
	default:
		(void)node_send_error(l, LINK__ERROR_CODE__ERROR_BAD_REQUEST,
		    "a provider answers register, pull and ack");
		break;
	}
}

static json_t *
provider_presence(void *role, const char *hostport, const char *pub,
    const char **path)
{
	struct provider *p = role;
	json_t *clients;

	if ((clients = json_array()) == NULL)
		return NULL;
	/* Only clients whose statement we hold: the directory and every
	 * reader refuse a client without one. */
	for (size_t i = 0; i < p->n_clients; i++) {
		if (!p->clients[i].stated)
			continue;
		if (json_array_append_new(clients,
		    regstmt_to_json(&p->clients[i].stmt)) == -1) {
			json_decref(clients);
			return NULL;
		}
	}
	*path = "/api/presence/mixproviders";
	return json_pack("{s:s, s:s, s:o}", "host", hostport, "pubKey", pub,
	    "registeredClients", clients);
}

static void
provider_metrics(void *role, struct strbuf *out)
{
	struct provider *p = role;

	metrics_gauge(out, "nym_provider_clients",
	    "Clients registered with this provider.", p->n_clients);
	metrics_gauge(out, "nym_provider_leasing_links",
	    "Client links holding deliveries they have not acknowledged.",
	    p->n_leases);
}

const struct node_ops provider_ops = {
	.start = provider_start,
	.stop = provider_stop,
	.deliver = provider_deliver,
	.accept_client = provider_accept_client,
	.client_may_send = provider_client_may_send,
	.control = provider_control,
	.link_closed = provider_link_closed,
	.presence = provider_presence,
	.metrics = provider_metrics,
	.sandbox_calls = provider_sandbox_calls,
};

int
main(int argc, char **argv)
{
	return node_main(argc, argv, NODE_ROLE_PROVIDER, &provider_ops);
}

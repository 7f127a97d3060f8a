#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/link.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/sphinx.h"
#include "netd/provider.h"
#include "netd/traffic.h"

#define TRAFFIC_POOL		4	/* ready covers of each kind */
#define TRAFFIC_BUILDING_REAL	2	/* real packets being built at once */
#define TRAFFIC_PULL_MAX	32
#define TRAFFIC_MAX_PENDING	LINK_MAX_PULL
#define TRAFFIC_MAX_QUEUED	65536
#define TRAFFIC_RETRY_MS	1000

enum out_state {
	OUT_QUEUED,
	OUT_BUILDING,
	OUT_READY,
	OUT_SENT,	/* waiting for the pong of `nonce` */
};

struct out_msg {
	uint64_t	 id;
	enum out_state	 state;
	uint64_t	 nonce;
	uint8_t		*packed;	/* the Outgoing as rpcd sent it */
	size_t		 packed_len;
	uint8_t		*packet;	/* READY/SENT: SPHINX_PACKET_BYTES */
};

enum pending_state {
	PENDING_UNWRAPPING,
	PENDING_STORING,
};

struct pending {
	uint64_t		id;
	enum pending_state	state;
};

struct cover_pool {
	uint8_t		 packets[TRAFFIC_POOL][SPHINX_PACKET_BYTES];
	size_t		 n;
	size_t		 building;
};

struct traffic {
	struct event_base	*base;
	struct provider_link	*provider;
	struct traffic_hooks	 hooks;
	void			*arg;
	struct traffic_rates	 rates;
	struct event		*send_ev;
	struct event		*loop_ev;
	struct event		*fetch_ev;
	struct event		*retry_ev;
	int			 up;
	struct out_msg		*out;		/* ordered by id */
	size_t			 n_out;
	size_t			 cap_out;
	size_t			 building_real;
	struct cover_pool	 drop;
	struct cover_pool	 loop;
	struct pending		 pending[TRAFFIC_MAX_PENDING];
	size_t			 n_pending;
	int			 pull_in_flight;
	uint64_t		 nonce;
	Nymipc__NetStatus	 stats;
};

static void traffic_fill(struct traffic *);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
traffic_schedule(struct event *ev, double rate)
{
	if (rate <= 0)
		return;
	double s = rand_exponential(rate);
	struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
	evtimer_add(ev, &tv);
}

static struct link *
traffic_link(struct traffic *t)
{
	return t->up ? provider_get_link(t->provider) : NULL;
}

/*
 * Every packet is followed by a ping, real or cover alike, so the frames
 * an observer sees do not depend on what the packet carries; the pong
 * tells us the provider has taken every packet before it.
 */
static int
traffic_send_packet(struct traffic *t, const uint8_t *packet)
{
	struct link *l = traffic_link(t);
	Link__Control c = LINK__CONTROL__INIT;
	Link__Ping ping = LINK__PING__INIT;

	if (l == NULL || link_send_packet(l, packet, SPHINX_PACKET_BYTES) != LINK_OK)
		return -1;
	ping.nonce = ++t->nonce;
	c.msg_case = LINK__CONTROL__MSG_PING;
	c.ping = &ping;
	if (link_send_control(l, &c) != LINK_OK)
		log_debug("ping after a packet not sent: link busy");
	return 0;
}

static struct out_msg *
traffic_find(struct traffic *t, uint64_t id)
{
	size_t lo = 0, hi = t->n_out;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->out[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n_out && t->out[lo].id == id ? &t->out[lo] : NULL;
}

static void
traffic_out_reset(struct out_msg *m)
{
	free(m->packet);
	m->packet = NULL;
	m->state = OUT_QUEUED;
}

static void
traffic_remove(struct traffic *t, struct out_msg *m)
{
	free(m->packet);
	free(m->packed);
	size_t i = (size_t)(m - t->out);
	memmove(&t->out[i], &t->out[i + 1], (t->n_out - i - 1) * sizeof(*m));
	t->n_out--;
}

static void
traffic_build_real(struct traffic *t)
{
	for (size_t i = 0; i < t->n_out && t->building_real < TRAFFIC_BUILDING_REAL; i++) {
		struct out_msg *m = &t->out[i];
		if (m->state != OUT_QUEUED)
			continue;
		Nymipc__Outgoing *o = nymipc__outgoing__unpack(NULL, m->packed_len, m->packed);
		if (o == NULL)
			fatalx("cannot unpack a queued message");
		int rc = t->hooks.build(t->arg, NYMIPC__PACKET_KIND__PACKET_REAL, o);
		nymipc__outgoing__free_unpacked(o, NULL);
		if (rc == -1)
			return;	/* keyd is down: traffic_keyd_up() resumes */
		m->state = OUT_BUILDING;
		t->building_real++;
	}
}

static void
traffic_build_covers(struct traffic *t, struct cover_pool *pool, Nymipc__PacketKind kind)
{
	while (pool->n + pool->building < TRAFFIC_POOL) {
		if (t->hooks.build(t->arg, kind, NULL) == -1)
			return;
		pool->building++;
	}
}

static void
traffic_fill(struct traffic *t)
{
	traffic_build_real(t);
	if (t->rates.send > 0 && !t->rates.cover_disabled)
		traffic_build_covers(t, &t->drop, NYMIPC__PACKET_KIND__PACKET_DROP);
	if (t->rates.loop > 0)
		traffic_build_covers(t, &t->loop, NYMIPC__PACKET_KIND__PACKET_LOOP);
}

static int
traffic_pop_cover(struct cover_pool *pool, uint8_t out[SPHINX_PACKET_BYTES])
{
	if (pool->n == 0)
		return -1;
	pool->n--;
	memcpy(out, pool->packets[pool->n], SPHINX_PACKET_BYTES);
	return 0;
}

static void
on_send_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	uint8_t cover[SPHINX_PACKET_BYTES];

	traffic_schedule(t->send_ev, t->rates.send);
	if (traffic_link(t) == NULL)
		return;
	for (size_t i = 0; i < t->n_out; i++) {
		struct out_msg *m = &t->out[i];
		if (m->state != OUT_READY)
			continue;
		if (traffic_send_packet(t, m->packet) == -1)
			return;
		m->state = OUT_SENT;
		m->nonce = t->nonce;
		t->stats.real_sent++;
		log_debug("sent queued message %llu", (unsigned long long)m->id);
		return;
	}
	if (t->rates.cover_disabled)
		return;
	if (traffic_pop_cover(&t->drop, cover) == 0 && traffic_send_packet(t, cover) == 0)
		t->stats.cover_sent++;
	traffic_fill(t);
}

static void
on_loop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	uint8_t cover[SPHINX_PACKET_BYTES];

	traffic_schedule(t->loop_ev, t->rates.loop);
	if (traffic_link(t) == NULL)
		return;
	if (traffic_pop_cover(&t->loop, cover) == 0 && traffic_send_packet(t, cover) == 0)
		t->stats.cover_sent++;
	traffic_fill(t);
}

static void
on_fetch_tick(evutil_socket_t fd, short what, void *arg)
{
	struct traffic *t = arg;
	struct link *l = traffic_link(t);
	Link__Control c = LINK__CONTROL__INIT;
	Link__Pull pull = LINK__PULL__INIT;
	size_t token_len;

	traffic_schedule(t->fetch_ev, t->rates.fetch);
	/* Until every pulled packet is stored and acknowledged, a new pull
	 * would only bring the same packets again. */
	if (l == NULL || t->pull_in_flight || t->n_pending > 0)
		return;
	pull.token.data = (uint8_t *)provider_token(t->provider, &token_len);
	pull.token.len = token_len;
	pull.max = TRAFFIC_PULL_MAX;
	c.msg_case = LINK__CONTROL__MSG_PULL;
	c.pull = &pull;
	if (link_send_control(l, &c) == LINK_OK)
		t->pull_in_flight = 1;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	traffic_fill(arg);
}

struct traffic *
traffic_new(struct event_base *base, struct provider_link *provider,
    const struct traffic_hooks *hooks, void *arg)
{
	struct traffic *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->base = base;
	t->provider = provider;
	t->hooks = *hooks;
	t->arg = arg;
	nymipc__net_status__init(&t->stats);
	t->send_ev = evtimer_new(base, on_send_tick, t);
	t->loop_ev = evtimer_new(base, on_loop_tick, t);
	t->fetch_ev = evtimer_new(base, on_fetch_tick, t);
	t->retry_ev = evtimer_new(base, on_retry, t);
	if (t->send_ev == NULL || t->loop_ev == NULL || t->fetch_ev == NULL ||
	    t->retry_ev == NULL) {
		traffic_free(t);
		return NULL;
	}
	return t;
}

void
traffic_free(struct traffic *t)
{
	if (t == NULL)
		return;
	while (t->n_out > 0)
		traffic_remove(t, &t->out[t->n_out - 1]);
	free(t->out);
	struct event *evs[] = { t->send_ev, t->loop_ev, t->fetch_ev, t->retry_ev };
	for (size_t i = 0; i < 4; i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	sodium_memzero(t, sizeof(*t));
	free(t);
}

void
traffic_set_rates(struct traffic *t, const struct traffic_rates *r)
{
	t->rates = *r;
	evtimer_del(t->send_ev);
	evtimer_del(t->loop_ev);
	evtimer_del(t->fetch_ev);
	if (!t->up)
		return;
	traffic_schedule(t->send_ev, r->send);
	traffic_schedule(t->loop_ev, r->loop);
	traffic_schedule(t->fetch_ev, r->fetch);
	traffic_fill(t);
}

void
traffic_link_up(struct traffic *t)
{
	t->up = 1;
	t->stats.registered = 1;
	traffic_set_rates(t, &t->rates);
}

void
traffic_link_down(struct traffic *t)
{
	t->up = 0;
	t->stats.registered = 0;
	t->pull_in_flight = 0;
	/* Unconfirmed packets may be lost: rebuild and send them again (the
	 * recipient drops a duplicate by its message id). */
	for (size_t i = 0; i < t->n_out; i++)
		if (t->out[i].state == OUT_SENT || t->out[i].state == OUT_READY)
			traffic_out_reset(&t->out[i]);
	/* Deliveries not yet acknowledged come again with the next pull. */
	t->n_pending = 0;
	traffic_set_rates(t, &t->rates);
}

static struct pending *
traffic_pending(struct traffic *t, uint64_t id)
{
	for (size_t i = 0; i < t->n_pending; i++)
		if (t->pending[i].id == id)
			return &t->pending[i];
	return NULL;
}

static void
traffic_ack(struct traffic *t, uint64_t id)
{
	struct pending *p = traffic_pending(t, id);
	struct link *l = traffic_link(t);
	Link__Control c = LINK__CONTROL__INIT;
	Link__Ack ack = LINK__ACK__INIT;

	if (p != NULL) {
		*p = t->pending[--t->n_pending];
	}
	if (l == NULL)
		return;
	ack.n_ids = 1;
	ack.ids = &id;
	c.msg_case = LINK__CONTROL__MSG_ACK;
	c.ack = &ack;
	if (link_send_control(l, &c) != LINK_OK)
		log_debug("ack of %llu not sent: link busy", (unsigned long long)id);
}

void
traffic_delivery(struct traffic *t, uint64_t id, const uint8_t *packet, size_t len)
{
	if (traffic_pending(t, id) != NULL)
		return;
	if (t->n_pending == TRAFFIC_MAX_PENDING) {
		log_warnx("more deliveries than pulled; ignoring %llu", (unsigned long long)id);
		return;
	}
	if (t->hooks.unwrap(t->arg, id, packet, len) == -1)
		return;	/* keyd is down: it comes again with a later pull */
	t->pending[t->n_pending].id = id;
	t->pending[t->n_pending].state = PENDING_UNWRAPPING;
	t->n_pending++;
}

static void
traffic_pong(struct traffic *t, uint64_t nonce)
{
	for (size_t i = 0; i < t->n_out; ) {
		struct out_msg *m = &t->out[i];
		if (m->state == OUT_SENT && m->nonce <= nonce) {
			if (t->hooks.sent(t->arg, m->id) == -1) {
				i++;	/* rpcd is down: tell it when it is back */
				continue;
			}
			traffic_remove(t, m);
			continue;
		}
		i++;
	}
}

void
traffic_control(struct traffic *t, const Link__Control *msg)
{
	switch (msg->msg_case) {
	case LINK__CONTROL__MSG_PULL_REPLY:
		t->pull_in_flight = 0;
		break;
	case LINK__CONTROL__MSG_PONG:
		traffic_pong(t, msg->pong->nonce);
		break;
	case LINK__CONTROL__MSG_ACK_OK:
		break;
	case LINK__CONTROL__MSG_ERROR:
		log_warnx("provider error %d: %s", (int)msg->error->code,
		    msg->error->text ? msg->error->text : "");
		t->pull_in_flight = 0;
		break;
	default:
		log_warnx("unexpected control message %d from the provider", (int)msg->msg_case);
		break;
	}
}

void
traffic_keyd_up(struct traffic *t)
{
	/* What keyd was building when it went is lost with it. */
	for (size_t i = 0; i < t->n_out; i++)
		if (t->out[i].state == OUT_BUILDING)
			t->out[i].state = OUT_QUEUED;
	t->building_real = 0;
	t->drop.building = 0;
	t->loop.building = 0;
	for (size_t i = 0; i < t->n_pending; )
		if (t->pending[i].state == PENDING_UNWRAPPING)
			t->pending[i] = t->pending[--t->n_pending];
		else
			i++;
	traffic_fill(t);
}

void
traffic_built(struct traffic *t, const Nymipc__Ipc *reply)
{
	struct cover_pool *pool = NULL;

	if (reply->packet_kind == NYMIPC__PACKET_KIND__PACKET_DROP)
		pool = &t->drop;
	else if (reply->packet_kind == NYMIPC__PACKET_KIND__PACKET_LOOP)
		pool = &t->loop;
	if (reply->data.len != SPHINX_PACKET_BYTES) {
		/* Usually an incomplete topology: try again a bit later. */
		log_debug("keyd could not build a packet: %s", reply->text ? reply->text : "?");
		struct timeval tv = { 0, TRAFFIC_RETRY_MS * 1000 };
		evtimer_add(t->retry_ev, &tv);
	}
	if (pool != NULL) {
		if (pool->building > 0)
			pool->building--;
		if (reply->data.len == SPHINX_PACKET_BYTES && pool->n < TRAFFIC_POOL)
			memcpy(pool->packets[pool->n++], reply->data.data, SPHINX_PACKET_BYTES);
		return;
	}
	if (reply->packet_kind != NYMIPC__PACKET_KIND__PACKET_REAL)
		fatalx("keyd answered a build of kind %d", (int)reply->packet_kind);
	struct out_msg *m = traffic_find(t, reply->id);
	if (t->building_real > 0)
		t->building_real--;
	if (m == NULL || m->state != OUT_BUILDING)
		return;
	if (reply->data.len != SPHINX_PACKET_BYTES) {
		m->state = OUT_QUEUED;	/* the retry timer builds it again */
		return;
	}
	m->packet = malloc(SPHINX_PACKET_BYTES);
	if (m->packet == NULL) {
		m->state = OUT_QUEUED;
		return;
	}
	memcpy(m->packet, reply->data.data, SPHINX_PACKET_BYTES);
	m->state = OUT_READY;
	traffic_build_real(t);
}

void
traffic_unwrapped(struct traffic *t, const Nymipc__Ipc *reply)
{
	struct pending *p = traffic_pending(t, reply->id);

	if (p == NULL || p->state != PENDING_UNWRAPPING)
		return;
	switch (reply->packet_kind) {
	case NYMIPC__PACKET_KIND__PACKET_LOOP: {
		uint64_t now = now_ns();
		t->stats.loops_returned++;
		t->stats.loop_rtt_ms_last = now > reply->sent_ns ? (now - reply->sent_ns) / 1000000u : 0;
		log_debug("loop cover back after %llu ms",
		    (unsigned long long)t->stats.loop_rtt_ms_last);
		traffic_ack(t, reply->id);
		break;
	}
	case NYMIPC__PACKET_KIND__PACKET_REAL:
		if (reply->received == NULL)
			fatalx("keyd sent a real message without content");
		if (t->hooks.received(t->arg, reply->id, reply->received) == -1) {
			/* rpcd is down: leave it at the provider for a later pull */
			*p = t->pending[--t->n_pending];
			return;
		}
		p->state = PENDING_STORING;
		break;
	default:
		t->stats.dropped++;
		log_debug("delivery %llu dropped: %s", (unsigned long long)reply->id,
		    reply->text ? reply->text : "malformed");
		traffic_ack(t, reply->id);
		break;
	}
}

void
traffic_rpcd_up(struct traffic *t)
{
	/* Stores in flight died with rpcd; the provider still has them. */
	for (size_t i = 0; i < t->n_pending; )
		if (t->pending[i].state == PENDING_STORING)
			t->pending[i] = t->pending[--t->n_pending];
		else
			i++;
}

void
traffic_outgoing(struct traffic *t, const Nymipc__Outgoing *o)
{
	if (traffic_find(t, o->id) != NULL)
		return;	/* rpcd sends its whole queue again after a restart */
	if (t->n_out == TRAFFIC_MAX_QUEUED) {
		log_warnx("outgoing queue full; message %llu waits in rpcd",
		    (unsigned long long)o->id);
		return;
	}
	if (t->n_out == t->cap_out) {
		size_t cap = t->cap_out ? t->cap_out * 2 : 64;
		struct out_msg *n = realloc(t->out, cap * sizeof(*n));
		if (n == NULL)
			return;
		t->out = n;
		t->cap_out = cap;
	}
	struct out_msg m = { .id = o->id, .state = OUT_QUEUED };
	m.packed_len = nymipc__outgoing__get_packed_size(o);
	m.packed = malloc(m.packed_len ? m.packed_len : 1);
	if (m.packed == NULL)
		return;
	nymipc__outgoing__pack(o, m.packed);
	/* Keep the array ordered by id: rpcd sends in order, but a resend
	 * after its restart may interleave. */
	size_t i = t->n_out;
	while (i > 0 && t->out[i - 1].id > o->id)
		i--;
	memmove(&t->out[i + 1], &t->out[i], (t->n_out - i) * sizeof(m));
	t->out[i] = m;
	t->n_out++;
	traffic_build_real(t);
}

void
traffic_stored(struct traffic *t, uint64_t delivery_id)
{
	struct pending *p = traffic_pending(t, delivery_id);

	if (p == NULL || p->state != PENDING_STORING)
		return;
	t->stats.received++;
	traffic_ack(t, delivery_id);
}

void
traffic_status(const struct traffic *t, Nymipc__NetStatus *st)
{
	st->registered = t->stats.registered;
	st->real_sent = t->stats.real_sent;
	st->cover_sent = t->stats.cover_sent;
	st->loops_returned = t->stats.loops_returned;
	st->loop_rtt_ms_last = t->stats.loop_rtt_ms_last;
	st->received = t->stats.received;
	st->dropped = t->stats.dropped;
}

/*
 * The outgoing link pool (src/node/pool.c): a packet for a next hop that
 * the topology does not list is dropped at once, counted, and costs no
 * peer or queue (anybody who can build a packet can name any key); a
 * packet for a listed node makes its peer and waits for the link. A next
 * hop listed by name is resolved by common/resolve.c (no NSS) and reached.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/link.h"
#include "common/sphinx.h"
#include "common/topology.h"
#include "node/pool.h"

static int topology_wanted;

static void
want(void *arg)
{
	(void)arg;
	topology_wanted++;
}

static uint8_t *
packet(void)
{
	uint8_t *p = calloc(1, SPHINX_PACKET_BYTES);

	assert_non_null(p);
	return p;
}

/* The node's own key and link settings, which the pool keeps pointers to. */
struct pool_keys {
	uint8_t			priv[32], pub[32];
	struct link_config	lc;
};

static struct pool *
pool_make(struct event_base *base, struct pool_keys *k)
{
	struct pool_params pp;

	randombytes_buf(k->priv, 32);
	crypto_scalarmult_base(k->pub, k->priv);
	memset(&k->lc, 0, sizeof(k->lc));
	k->lc.packet_bytes = SPHINX_PACKET_BYTES;
	k->lc.our_pub = k->pub;
	k->lc.our_priv = k->priv;
	memset(&pp, 0, sizeof(pp));
	pp.link = &k->lc;
	pp.need_topology = want;
	return pool_new(base, &pp);
}

static void
test_unknown_next_hop(void **state)
{
	struct event_base *base = event_base_new();
	uint8_t listed[32], stranger[32];
	struct topology_node node;
	struct topology t;
	struct pool_keys k;
	struct pool *pool;

	(void)state;
	assert_non_null(base);
	assert_non_null(pool = pool_make(base, &k));

	/* Before any topology, nothing is routable. */
	randombytes_buf(stranger, 32);
	assert_int_equal(pool_send(pool, stranger, packet()), POOL_ERR_NO_ROUTE);
	assert_int_equal(pool_peers(pool), 0);

	memset(&node, 0, sizeof(node));
	randombytes_buf(listed, 32);
	memcpy(node.pub, listed, 32);
	strcpy(node.host, "127.0.0.1");
	strcpy(node.port, "9");		/* discard: nothing listens */
	node.layer = 2;
	memset(&t, 0, sizeof(t));
	t.mixnodes = &node;
	t.n_mixnodes = 1;
	pool_set_topology(pool, &t);

	/* A thousand keys nobody lists: each dropped, no peer made. */
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(stranger, 32);
		assert_int_equal(pool_send(pool, stranger, packet()),
		    POOL_ERR_NO_ROUTE);
	}
	assert_int_equal(pool_peers(pool), 0);
	assert_int_equal(pool_queued(pool), 0);
	assert_int_equal(pool_counters(pool)->dropped_no_route, 1001);
	assert_true(topology_wanted >= 1001);

	/* The listed node: a peer, and the packet waits for its link. */
	assert_int_equal(pool_send(pool, listed, packet()), POOL_QUEUED);
	assert_int_equal(pool_peers(pool), 1);
	assert_int_equal(pool_queued(pool), 1);
	pool_free(pool);
	event_base_free(base);
}

static int accepted;

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;
	int c = accept(fd, NULL, NULL);

	if (c != -1) {
		accepted++;
		close(c);
	}
	event_base_loopbreak(base);
}

static void
test_next_hop_by_name(void **state)
{
	struct event_base *base = event_base_new();
	uint8_t listed[32];
	struct topology_node node;
	struct topology t;
	struct pool_keys k;
	struct pool *pool;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct timeval limit = { 10, 0 };
	int lfd;

	(void)state;
	assert_non_null(base);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	struct event *ev = event_new(base, lfd, EV_READ, on_accept, base);
	event_add(ev, NULL);

	assert_non_null(pool = pool_make(base, &k));

	memset(&node, 0, sizeof(node));
	randombytes_buf(listed, 32);
	memcpy(node.pub, listed, 32);
	/* "localhost" is loopback without NSS, whatever /etc/hosts says */
	strcpy(node.host, "localhost");
	snprintf(node.port, sizeof(node.port), "%u", ntohs(sin.sin_port));
	node.layer = 2;
	memset(&t, 0, sizeof(t));
	t.mixnodes = &node;
	t.n_mixnodes = 1;
	pool_set_topology(pool, &t);
	assert_int_equal(pool_send(pool, listed, packet()), POOL_QUEUED);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(accepted, 1);
	assert_true(pool_counters(pool)->connects >= 1);

	pool_free(pool);
	event_free(ev);
	close(lfd);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_next_hop),
		cmocka_unit_test(test_next_hop_by_name),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

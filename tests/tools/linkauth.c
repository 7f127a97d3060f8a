/*
 * linkauth: whether a real node refuses a link from a static key that is
 * not in the topology (tests/integration/node-peers.sh).  Through
 * tests/tools/mixpeer it opens --tries links to the node with a fresh key
 * that no topology lists; each must be closed by the node before the
 * handshake completes.  Then, as the positive control, it announces the
 * key to the directory as a provider and opens links until the node,
 * having fetched the topology that lists it, accepts one.
 *
 *   linkauth --directory URL --node PUBKEY [--tries N]
 *
 * Prints "unlisted refused=R accepted=A timeout=T" and "listed accepted"
 * (or "listed refused"); exits 0 only if every unlisted link was refused
 * and the listed key's link was accepted.
 *
 *   linkauth --directory URL --node PUBKEY --packets N
 *
 * For a provider, which takes any key's link as a client's (to
 * register): sends N random packets on a link from the unlisted key, then
 * announces the key as a provider, waits until the directory lists it
 * and 3 s more for the node's next topology fetch, and sends N more on a
 * new link. The node's counters tell what it did with them: the first N
 * must be dropped as from a peer that may not send (not_allowed), the
 * second N processed as a node's (bad_mac or malformed: they are random,
 * but name the current key phase). Prints "unlisted sent=N" and "listed sent=N".
 *
 *   linkauth --directory URL --node PUBKEY --flood N [--over MS]
 *
 * A flood: N links, each from a fresh key that no topology lists, opened
 * evenly over MS milliseconds (default 2000), all left to the node's
 * answer. Prints "flood links=N refused=R accepted=A timeout=T ms=M"
 * (M: from the first link to the last answer); exits 0 if every link got
 * an answer.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/epoch.h"
#include "common/link.h"
#include "common/sphinx.h"
#include "mixpeer.h"

static const struct topology_node *
find_node(const struct topology *t, const char *id)
{
	for (size_t i = 0; i < t->n_mixnodes; i++)
		if (strcmp(t->mixnodes[i].id, id) == 0)
			return &t->mixnodes[i];
	for (size_t i = 0; i < t->n_providers; i++)
		if (strcmp(t->providers[i].id, id) == 0)
			return &t->providers[i];
	return NULL;
}

/* One link, n random packets on it, closed after they have left. Each
 * names the current epoch's key phase, so that the node tries its key on
 * it (a random phase may name a key the node does not hold yet: no_key). */
static void
send_random(struct mixpeer *p, const struct topology_node *node,
    uint32_t epoch_seconds, int n)
{
	uint8_t pkt[SPHINX_PACKET_BYTES];
	unsigned int phase = epoch_phase(epoch_at(epoch_now_ms(),
	    epoch_seconds ? epoch_seconds : EPOCH_DEFAULT_SECONDS));

	mixpeer_connect(p, node, 1, 5000);
	for (int i = 0; i < n; i++) {
		randombytes_buf(pkt, sizeof(pkt));
		pkt[SPHINX_KEY_BYTES - 1] = (uint8_t)((pkt[SPHINX_KEY_BYTES - 1] & 0x7f) |
		    (phase << 7));
		mixpeer_send(p, 0, pkt);
	}
	mixpeer_run(p, 500, NULL);
	link_free(p->out[0]);
	p->n_out = 0;
}

/* Waits (up to 15 s) until the directory lists our key. */
static void
wait_listed(struct mixpeer *p, const char *directory)
{
	double deadline = mixpeer_now_ms() + 15000;

	while (mixpeer_now_ms() < deadline) {
		struct topology *t = mixpeer_topology(directory);
		int found = 0;

		for (size_t i = 0; i < t->n_providers; i++)
			found |= memcmp(t->providers[i].pub, p->pub, 32) == 0;
		topology_free(t);
		if (found)
			return;
		mixpeer_run(p, 200, NULL);
	}
	mixpeer_die("the directory does not list our key");
}

static int
send_packets(struct mixpeer *p, const struct topology_node *node,
    const char *directory, uint32_t epoch_seconds, int n)
{
	send_random(p, node, epoch_seconds, n);
	printf("unlisted sent=%d\n", n);
	fflush(stdout);
	mixpeer_announce(p, directory);
	wait_listed(p, directory);
	mixpeer_run(p, 3000, NULL);
	send_random(p, node, epoch_seconds, n);
	printf("listed sent=%d\n", n);
	fflush(stdout);
	return 0;
}

/* ---- the flood ---- */

#define FLOOD_MAX	4096

struct flood_link {
	struct link	*link;
	uint8_t		 priv[32], pub[32];
	int		 up, closed;
};

static struct {
	struct event_base		*base;
	const struct topology_node	*node;
	struct flood_link		*links;
	int				 n, opened, answered;
	struct event			*tick;
} fl;

static void
flood_established(struct link *l, void *arg, const uint8_t peer[32])
{
	struct flood_link *f = arg;

	f->up = 1;
	fl.answered++;
}

static void
flood_closed(struct link *l, void *arg, int reason)
{
	struct flood_link *f = arg;

	if (!f->up && !f->closed)
		fl.answered++;
	f->closed = 1;
}

static const struct link_callbacks flood_cb = {
	.established = flood_established,
	.closed = flood_closed,
};

static void
flood_open(struct flood_link *f)
{
	struct addrinfo hints, *res;
	struct link_config cfg;
	int fd;

	randombytes_buf(f->priv, sizeof(f->priv));
	crypto_scalarmult_base(f->pub, f->priv);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(fl.node->host, fl.node->port, &hints, &res) != 0)
		mixpeer_die("cannot resolve %s", fl.node->host);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		mixpeer_die("connect %s:%s: %s", fl.node->host, fl.node->port,
		    strerror(errno));
	freeaddrinfo(res);
	memset(&cfg, 0, sizeof(cfg));
	cfg.packet_bytes = SPHINX_PACKET_BYTES;
	cfg.our_pub = f->pub;
	cfg.our_priv = f->priv;
	if (link_new_initiator(&f->link, fl.base, fd, &cfg, fl.node->pub,
	    &flood_cb, f) != LINK_OK)
		mixpeer_die("link_new_initiator");
}

static void
flood_tick(evutil_socket_t fd, short what, void *arg)
{
	if (fl.opened < fl.n)
		flood_open(&fl.links[fl.opened++]);
	if (fl.opened == fl.n)
		event_del(fl.tick);
}

static int
flood(struct event_base *base, const struct topology_node *node, int n,
    int over_ms)
{
	struct timeval tv;
	double start, deadline;
	int refused = 0, accepted = 0, timeout = 0;

	fl.base = base;
	fl.node = node;
	fl.n = n;
	if ((fl.links = calloc((size_t)n, sizeof(*fl.links))) == NULL ||
	    (fl.tick = event_new(base, -1, EV_PERSIST, flood_tick, NULL)) == NULL)
		mixpeer_die("out of memory");
	tv.tv_sec = over_ms / n / 1000;
	tv.tv_usec = (over_ms / n % 1000) * 1000;
	start = mixpeer_now_ms();
	event_add(fl.tick, &tv);
	flood_tick(-1, 0, NULL);
	/* Every link is answered within the node's handshake timeout. */
	deadline = start + over_ms + 10000;
	while ((fl.opened < n || fl.answered < n) && mixpeer_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	for (int i = 0; i < fl.opened; i++) {
		if (fl.links[i].up)
			accepted++;
		else if (fl.links[i].closed)
			refused++;
		else
			timeout++;
		link_free(fl.links[i].link);
	}
	printf("flood links=%d refused=%d accepted=%d timeout=%d ms=%.0f\n", n,
	    refused, accepted, timeout + n - fl.opened, mixpeer_now_ms() - start);
	fflush(stdout);
	event_free(fl.tick);
	free(fl.links);
	return fl.answered == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'd' },
		{ "node", required_argument, NULL, 'n' },
		{ "tries", required_argument, NULL, 't' },
		{ "packets", required_argument, NULL, 'p' },
		{ "flood", required_argument, NULL, 'f' },
		{ "over", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *directory = NULL, *id = NULL;
	const struct topology_node *node;
	struct topology *t;
	struct event_base *base;
	struct mixpeer peer;
	int c, tries = 3, refused = 0, accepted = 0, timeout = 0, listed = 0;
	int packets = 0, flood_n = 0, over_ms = 2000;
	double deadline;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': directory = optarg; break;
		case 'n': id = optarg; break;
		case 't': tries = atoi(optarg); break;
		case 'p': packets = atoi(optarg); break;
		case 'f': flood_n = atoi(optarg); break;
		case 'o': over_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (directory == NULL || id == NULL || tries < 1 || flood_n < 0 ||
	    flood_n > FLOOD_MAX || over_ms < 1) {
		fprintf(stderr, "usage: linkauth --directory URL --node PUBKEY "
		    "[--tries N | --packets N | --flood N [--over MS]]\n");
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (base = event_base_new()) == NULL)
		mixpeer_die("cannot initialise");
	t = mixpeer_topology(directory);
	if ((node = find_node(t, id)) == NULL)
		mixpeer_die("%s is not in the topology", id);
	if (flood_n > 0) {
		int rc = flood(base, node, flood_n, over_ms);
		topology_free(t);
		event_base_free(base);
		curl_global_cleanup();
		return rc;
	}
	mixpeer_open(&peer, base, NULL, NULL);
	if (packets > 0) {
		int rc = send_packets(&peer, node, directory, t->epoch_seconds, packets);
		mixpeer_close(&peer);
		topology_free(t);
		event_base_free(base);
		curl_global_cleanup();
		return rc;
	}

	for (int i = 0; i < tries; i++) {
		switch (mixpeer_try(&peer, node, 5000)) {
		case 1: accepted++; break;
		case 0: refused++; break;
		default: timeout++; break;
		}
	}
	printf("unlisted refused=%d accepted=%d timeout=%d\n", refused,
	    accepted, timeout);

	/* The positive control: the same key, once listed, is accepted. */
	mixpeer_announce(&peer, directory);
	deadline = mixpeer_now_ms() + 15000;
	while (!listed && mixpeer_now_ms() < deadline) {
		listed = mixpeer_try(&peer, node, 5000) == 1;
		if (!listed)
			mixpeer_run(&peer, 200, NULL);
	}
	printf("listed %s\n", listed ? "accepted" : "refused");
	fflush(stdout);

	mixpeer_close(&peer);
	topology_free(t);
	event_base_free(base);
	curl_global_cleanup();
	return refused == tries && listed ? 0 : 1;
}

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
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "directory", required_argument, NULL, 'd' },
		{ "node", required_argument, NULL, 'n' },
		{ "tries", required_argument, NULL, 't' },
		{ "packets", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	const char *directory = NULL, *id = NULL;
	const struct topology_node *node;
	struct topology *t;
	struct event_base *base;
	struct mixpeer peer;
	int c, tries = 3, refused = 0, accepted = 0, timeout = 0, listed = 0;
	int packets = 0;
	double deadline;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': directory = optarg; break;
		case 'n': id = optarg; break;
		case 't': tries = atoi(optarg); break;
		case 'p': packets = atoi(optarg); break;
		default: return 2;
		}
	}
	if (directory == NULL || id == NULL || tries < 1) {
		fprintf(stderr, "usage: linkauth --directory URL --node PUBKEY "
		    "[--tries N | --packets N]\n");
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (base = event_base_new()) == NULL)
		mixpeer_die("cannot initialise");
	t = mixpeer_topology(directory);
	if ((node = find_node(t, id)) == NULL)
		mixpeer_die("%s is not in the topology", id);
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

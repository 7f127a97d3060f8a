/*
 * mixsend: the integration test's mixnet client (tests/integration/mixnet.sh).
 * It builds Sphinx packets for provider -> L1 -> L2 -> L3 -> provider ->
 * client, talks to a node over a Noise link as an initiator, registers
 * with the provider, sends, pulls, acks and unwraps.  Nothing on the path
 * is mocked: it uses the same sphinx and link code as nymd.
 *
 *   mixsend [options] register
 *   mixsend [options] send   < messages        (one message per line)
 *   mixsend [options] resend FILE              (raw packets saved by --save)
 *   mixsend [options] pull                     (prints "ID<TAB>MESSAGE")
 *   mixsend [options] ack ID...
 *   mixsend [options] hoard N                  (N pulls, no ack)
 *
 * Options: --directory URL (base), --key FILE (client private key PEM,
 * created if missing), --link-key FILE (authenticate the link with this
 * key instead, e.g. a provider's, to reach a mixnode directly), --entry
 * ID (connect to this node; default the provider; a mixnode's path starts
 * at its layer), --via ID (up to 3 times: the path's mixnode in ID's layer
 * is ID; default a random one of each layer), --unknown-next (the entry relays to a fresh key that no
 * topology lists), --delay MS (per hop, uniform in [0, MS]), --replay (send
 * every packet twice), --flip-header / --flip-payload (flip one bit after
 * building), --cover (drop cover: ends at the provider with DROP), --save
 * FILE, --ack (pull: ack what was pulled), --expect N and --timeout S
 * (pull: poll until N packets are in the mailbox), --bad-statement
 * flip|other-provider|future|none (register with a statement the provider
 * must refuse: a flipped signature bit, one naming another provider, one
 * dated 10 minutes ahead, or none).
 *
 * hoard pulls N times on one link without acking anything (a client that
 * makes its provider send what it already sent, tests/integration/
 * pull-once.sh) and prints "pulls=N deliveries=D distinct=U busy=B":
 * the deliveries in all, their distinct ids, and the pulls refused busy.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/b64.h"
#include "common/link.h"
#include "common/pem.h"
#include "common/regstmt.h"
#include "common/sphinx.h"
#include "common/epoch.h"
#include "common/topology.h"

#define MS_MAX_DELIVERIES	(LINK_MAX_PULL * 64)

struct ms_delivery {
	uint64_t	id;
	uint8_t		packet[SPHINX_PACKET_BYTES];
};

static struct {
	const char	*directory;
	const char	*key_file;
	const char	*link_key_file;
	const char	*entry;
	const char	*via[3];	/* --via: these mixnodes, by layer */
	size_t		 n_via;
	const char	*save;
	unsigned	 delay_ms;
	int		 replay, flip_header, flip_payload, cover, ack;
	const char	*bad_statement;	/* register with a statement that must fail */
	int		 unknown_next;	/* the entry relays to a key nobody has */
	unsigned	 expect, timeout_s;

	uint8_t		 priv[32], pub[32];		/* the client */
	uint8_t		 link_priv[32], link_pub[32];
	struct topology	*topo;
	const struct topology_node *provider;
	const struct topology_node *entry_node;

	struct event_base *base;
	struct link	*link;
	int		 established, closed, close_reason, drained;
	/* the last control message */
	int		 got_control;
	Link__Control__MsgCase ctl_case;
	uint8_t		 token[LINK_MAX_TOKEN_BYTES];
	size_t		 token_len;
	uint32_t	 reply_count, reply_remaining, ack_count;
	int		 error_code;
	char		 error_text[LINK_MAX_ERROR_TEXT_BYTES + 1];
	struct ms_delivery *deliveries;
	size_t		 n_deliveries;
	size_t		 want_deliveries;
	int		 have_deliveries;
} ms;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mixsend: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- keys and topology ---- */

static void
load_or_make_key(const char *path, uint8_t priv[32], uint8_t pub[32])
{
	int rc = pem_read_key(path, PEM_TYPE_PRIVATE, 1, priv);

	if (rc == PEM_ERR_IO && errno == ENOENT) {
		randombytes_buf(priv, 32);
		if ((rc = pem_write_key(path, PEM_TYPE_PRIVATE, priv, 0600)) !=
		    PEM_OK)
			die("%s: %s", path, pem_strerror(rc));
	} else if (rc != PEM_OK)
		die("%s: %s", path, pem_strerror(rc));
	crypto_scalarmult_base(pub, priv);
}

struct body {
	char	*p;
	size_t	 len;
};

static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *q = realloc(b->p, b->len + n + 1);

	if (q == NULL)
		return 0;
	memcpy(q + b->len, data, n);
	b->p = q;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static void fetch_topology_once(void);

/* Until every node has announced its epoch keys (up to 10 s). */
static void
fetch_topology(void)
{
	for (int tries = 0;; tries++) {
		int ready = 1;

		fetch_topology_once();
		for (size_t i = 0; i < ms.topo->n_mixnodes; i++)
			ready &= topology_node_usable(ms.topo, &ms.topo->mixnodes[i]);
		for (size_t i = 0; i < ms.topo->n_providers; i++)
			ready &= topology_node_usable(ms.topo, &ms.topo->providers[i]);
		if (ready || tries == 100)
			return;
		topology_free(ms.topo);
		ms.topo = NULL;
		usleep(100000);
	}
}

static void
fetch_topology_once(void)
{
	struct body b = { NULL, 0 };
	char url[1024], err[256];
	long status = 0;
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "%s/api/presence/topology", ms.directory);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) != CURLE_OK)
		die("%s: cannot fetch", url);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (status != 200)
		die("%s: HTTP status %ld", url, status);
	if (topology_parse(b.p ? b.p : "", b.len, &ms.topo, err, sizeof(err)) == -1)
		die("topology: %s", err);
	free(b.p);
	if (ms.topo->n_providers == 0)
		die("the topology lists no provider");
	ms.provider = &ms.topo->providers[0];
	ms.entry_node = ms.provider;
	if (ms.entry != NULL) {
		ms.entry_node = NULL;
		for (size_t i = 0; i < ms.topo->n_mixnodes; i++)
			if (strcmp(ms.topo->mixnodes[i].id, ms.entry) == 0)
				ms.entry_node = &ms.topo->mixnodes[i];
		for (size_t i = 0; i < ms.topo->n_providers; i++)
			if (strcmp(ms.topo->providers[i].id, ms.entry) == 0)
				ms.entry_node = &ms.topo->providers[i];
		if (ms.entry_node == NULL)
			die("--entry %s is not in the topology", ms.entry);
	}
}

static const struct topology_node *
pick_layer(uint32_t layer)
{
	const struct topology_node *nodes[64];
	size_t n = topology_layer(ms.topo, layer, nodes, 64);

	if (n == 0)
		die("the topology has no mixnode in layer %u", layer);
	for (size_t v = 0; v < ms.n_via; v++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(nodes[i]->id, ms.via[v]) == 0)
				return nodes[i];
	return nodes[randombytes_uniform((uint32_t)n)];
}

/* ---- the link ---- */

static void
on_established(struct link *l, void *arg, const uint8_t peer[LINK_KEY_BYTES])
{
	ms.established = 1;
}

static void
on_packet(struct link *l, void *arg, const uint8_t *p, size_t len)
{
}

static void
on_delivery(struct link *l, void *arg, uint64_t id, const uint8_t *p,
    size_t len)
{
	if (ms.n_deliveries >= MS_MAX_DELIVERIES)
		die("too many deliveries");
	ms.deliveries[ms.n_deliveries].id = id;
	memcpy(ms.deliveries[ms.n_deliveries].packet, p, SPHINX_PACKET_BYTES);
	ms.n_deliveries++;
	ms.have_deliveries = ms.n_deliveries >= ms.want_deliveries;
}

static void
on_control(struct link *l, void *arg, const Link__Control *c)
{
	ms.got_control = 1;
	ms.ctl_case = c->msg_case;
	switch (c->msg_case) {
	case LINK__CONTROL__MSG_REGISTER_OK:
		ms.token_len = c->register_ok->token.len;
		memcpy(ms.token, c->register_ok->token.data, ms.token_len);
		break;
	case LINK__CONTROL__MSG_PULL_REPLY:
		ms.reply_count = c->pull_reply->count;
		ms.reply_remaining = c->pull_reply->remaining;
		break;
	case LINK__CONTROL__MSG_ACK_OK:
		ms.ack_count = c->ack_ok->count;
		break;
	case LINK__CONTROL__MSG_ERROR:
		ms.error_code = c->error->code;
		snprintf(ms.error_text, sizeof(ms.error_text), "%s",
		    c->error->text);
		break;
	default:
		break;
	}
}

static void
on_drained(struct link *l, void *arg)
{
	ms.drained = 1;
}

static void
on_closed(struct link *l, void *arg, int reason)
{
	ms.closed = 1;
	ms.close_reason = reason;
}

static const struct link_callbacks callbacks = {
	.established = on_established,
	.packet = on_packet,
	.delivery = on_delivery,
	.control = on_control,
	.drained = on_drained,
	.closed = on_closed,
};

/* Runs the loop until *flag or the link closes; dies after timeout_ms. */
static void
wait_for(const int *flag, unsigned timeout_ms, const char *what)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!*flag) {
		if (ms.closed)
			die("%s: the link closed: %s", what,
			    link_strerror(ms.close_reason));
		event_base_loop(ms.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > timeout_ms)
			die("%s: timed out", what);
		if (!*flag)
			usleep(1000);
	}
}

static void
connect_entry(void)
{
	struct addrinfo hints, *res;
	struct link_config cfg;
	int fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(ms.entry_node->host, ms.entry_node->port, &hints,
	    &res) != 0)
		die("cannot resolve %s", ms.entry_node->host);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		die("connect %s:%s: %s", ms.entry_node->host, ms.entry_node->port,
		    strerror(errno));
	freeaddrinfo(res);
	memset(&cfg, 0, sizeof(cfg));
	cfg.packet_bytes = SPHINX_PACKET_BYTES;
	cfg.our_pub = ms.link_pub;
	cfg.our_priv = ms.link_priv;
	cfg.out_max_bytes = 4 * 1024 * 1024;
	if ((rc = link_new_initiator(&ms.link, ms.base, fd, &cfg,
	    ms.entry_node->pub, &callbacks, NULL)) != LINK_OK)
		die("link: %s", link_strerror(rc));
	wait_for(&ms.established, 10000, "handshake");
}

static void
control_roundtrip(Link__Control *c, Link__Control__MsgCase want,
    const char *what)
{
	int rc;

	ms.got_control = 0;
	if ((rc = link_send_control(ms.link, c)) != LINK_OK)
		die("%s: %s", what, link_strerror(rc));
	wait_for(&ms.got_control, 10000, what);
	if (ms.ctl_case == LINK__CONTROL__MSG_ERROR)
		die("%s: error %d: %s", what, ms.error_code, ms.error_text);
	if (ms.ctl_case != want)
		die("%s: unexpected answer %d", what, ms.ctl_case);
}

static void
do_register(void)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Register r = LINK__REGISTER__INIT;
	struct regstmt stmt;

	/* The link's key is the client the provider sees: it signs. */
	memset(&stmt, 0, sizeof(stmt));
	memcpy(stmt.client, ms.link_pub, 32);
	memcpy(stmt.provider, ms.entry_node->pub, 32);
	stmt.registered_ms = epoch_now_ms();
	if (ms.bad_statement != NULL && strcmp(ms.bad_statement, "other-provider") == 0)
		randombytes_buf(stmt.provider, 32);
	if (ms.bad_statement != NULL && strcmp(ms.bad_statement, "future") == 0)
		stmt.registered_ms += 600000;
	if (regstmt_sign(&stmt, ms.link_priv) == -1)
		die("cannot sign the registration statement");
	if (ms.bad_statement != NULL && strcmp(ms.bad_statement, "flip") == 0)
		stmt.sig[7] ^= 0x10;
	r.registered_ms = stmt.registered_ms;
	r.signature.data = stmt.sig;
	r.signature.len = sizeof(stmt.sig);
	if (ms.bad_statement != NULL && strcmp(ms.bad_statement, "none") == 0)
		r.signature.len = 0;
	c.msg_case = LINK__CONTROL__MSG_REGISTER;
	c.register_ = &r;
	control_roundtrip(&c, LINK__CONTROL__MSG_REGISTER_OK, "register");
}

static void
send_packet(const uint8_t *pkt)
{
	int rc;

	while ((rc = link_send_packet(ms.link, pkt, SPHINX_PACKET_BYTES)) ==
	    LINK_ERR_BUSY) {
		ms.drained = 0;
		wait_for(&ms.drained, 10000, "send");
	}
	if (rc != LINK_OK)
		die("send: %s", link_strerror(rc));
}

/* Sends what is queued, then closes. */
static void
finish_link(void)
{
	link_shutdown(ms.link);
	while (!ms.closed)
		event_base_loop(ms.base, EVLOOP_ONCE);
	link_free(ms.link);
	ms.link = NULL;
}

/* ---- commands ---- */

/*
 * One hop to node (its epoch key for when the packet gets there: *at_ms,
 * which the hop's delay then advances), or to the recipient key final.
 */
static void
hop(struct sphinx_hop *h, const struct topology_node *node,
    const uint8_t *final, uint8_t cmd, const uint8_t *next, uint64_t *at_ms)
{
	memset(h, 0, sizeof(*h));
	if (node != NULL) {
		if (topology_hop_key(ms.topo, node, *at_ms, h->node_pub,
		    &h->key_phase) == -1)
			die("node %s has no epoch key in the topology", node->id);
	} else {
		memcpy(h->node_pub, final, 32);
	}
	h->command = cmd;
	if (next != NULL)
		memcpy(h->next_id, next, 32);
	if (cmd == SPHINX_CMD_RELAY || cmd == SPHINX_CMD_DELIVER)
		h->delay_ms = ms.delay_ms ? randombytes_uniform(ms.delay_ms + 1) : 0;
	*at_ms += h->delay_ms;
}

static void
build(uint8_t out[SPHINX_PACKET_BYTES], const char *msg, size_t len)
{
	const struct topology_node *l1 = pick_layer(1), *l2 = pick_layer(2),
	    *l3 = pick_layer(3), *p = ms.provider;
	struct sphinx_hop hops[SPHINX_MAX_HOPS], *h = hops;
	uint64_t at = epoch_now_ms();
	int rc;

	if (ms.unknown_next) {
		/* [entry RELAY -> a fresh key, that key FINAL]: the entry
		 * accepts it, and has nowhere to send it. */
		uint8_t stranger[32], spriv[32];
		randombytes_buf(spriv, sizeof(spriv));
		crypto_scalarmult_base(stranger, spriv);
		hop(h++, ms.entry_node, NULL, SPHINX_CMD_RELAY, stranger, &at);
		hop(h++, NULL, stranger, SPHINX_CMD_FINAL, NULL, &at);
		rc = sphinx_create(out, hops, (size_t)(h - hops),
		    (const uint8_t *)msg, len, NULL);
		if (rc != SPHINX_OK)
			die("sphinx_create: %s", sphinx_strerror(rc));
		return;
	}
	const struct topology_node *mix[3] = { l1, l2, l3 };
	size_t first = 0;

	/* From the provider, unless we enter at a mixnode directly: then
	 * the path starts at its layer. */
	if (ms.entry_node == ms.provider)
		hop(h++, p, NULL, SPHINX_CMD_RELAY, l1->pub, &at);
	else {
		if (ms.entry_node->layer >= 1 && ms.entry_node->layer <= 3)
			first = ms.entry_node->layer - 1;
		mix[first] = ms.entry_node;
	}
	for (size_t k = first; k < 3; k++)
		hop(h++, mix[k], NULL, SPHINX_CMD_RELAY,
		    k < 2 ? mix[k + 1]->pub : p->pub, &at);
	if (ms.cover)
		hop(h++, p, NULL, SPHINX_CMD_DROP, NULL, &at);
	else {
		hop(h++, p, NULL, SPHINX_CMD_DELIVER, ms.pub, &at);
		hop(h++, NULL, ms.pub, SPHINX_CMD_FINAL, NULL, &at);
	}
	rc = sphinx_create(out, hops, (size_t)(h - hops),
	    ms.cover ? NULL : (const uint8_t *)msg, ms.cover ? 0 : len, NULL);
	if (rc != SPHINX_OK)
		die("sphinx_create: %s", sphinx_strerror(rc));
	if (ms.flip_header)
		out[32 + randombytes_uniform(SPHINX_HEADER_BYTES - 32)] ^=
		    (uint8_t)(1u << randombytes_uniform(8));
	if (ms.flip_payload)
		out[SPHINX_HEADER_BYTES + randombytes_uniform(SPHINX_PAYLOAD_BYTES)]
		    ^= (uint8_t)(1u << randombytes_uniform(8));
}

static void
cmd_send(void)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	char line[SPHINX_MAX_MESSAGE_BYTES + 2];
	FILE *save = NULL;
	unsigned sent = 0;

	if (ms.save != NULL && (save = fopen(ms.save, "ab")) == NULL)
		die("%s: %s", ms.save, strerror(errno));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = strcspn(line, "\n");
		if (line[len] != '\n' && !feof(stdin))
			die("a message is longer than %d bytes",
			    SPHINX_MAX_MESSAGE_BYTES);
		build(pkt, line, len);
		if (save != NULL && fwrite(pkt, 1, sizeof(pkt), save) != sizeof(pkt))
			die("%s: write failed", ms.save);
		send_packet(pkt);
		if (ms.replay)
			send_packet(pkt);
		sent++;
	}
	if (save != NULL && fclose(save) != 0)
		die("%s: write failed", ms.save);
	finish_link();
	fprintf(stderr, "mixsend: sent %u packets%s\n", sent,
	    ms.replay ? " twice each" : "");
}

static void
cmd_resend(const char *path)
{
	static uint8_t pkt[SPHINX_PACKET_BYTES];
	FILE *f = fopen(path, "rb");
	unsigned sent = 0;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fread(pkt, 1, sizeof(pkt), f) == sizeof(pkt)) {
		send_packet(pkt);
		sent++;
	}
	fclose(f);
	finish_link();
	fprintf(stderr, "mixsend: resent %u packets\n", sent);
}

static void
pull_once(size_t max)
{
	Link__Control c = LINK__CONTROL__INIT;
	Link__Pull p = LINK__PULL__INIT;
	size_t before = ms.n_deliveries;

	p.token.data = ms.token;
	p.token.len = ms.token_len;
	p.max = (uint32_t)max;
	c.msg_case = LINK__CONTROL__MSG_PULL;
	c.pull = &p;
	control_roundtrip(&c, LINK__CONTROL__MSG_PULL_REPLY, "pull");
	ms.want_deliveries = before + ms.reply_count;
	ms.have_deliveries = ms.n_deliveries >= ms.want_deliveries;
	wait_for(&ms.have_deliveries, 10000, "deliveries");
}

static void
send_ack(const uint64_t *ids, size_t n)
{
	while (n > 0) {
		Link__Control c = LINK__CONTROL__INIT;
		Link__Ack a = LINK__ACK__INIT;
		size_t k = n > LINK_MAX_ACK_IDS ? LINK_MAX_ACK_IDS : n;

		a.ids = (uint64_t *)ids;
		a.n_ids = k;
		c.msg_case = LINK__CONTROL__MSG_ACK;
		c.ack = &a;
		control_roundtrip(&c, LINK__CONTROL__MSG_ACK_OK, "ack");
		if (ms.ack_count != k)
			die("ack: %u acknowledged, %zu sent", ms.ack_count, k);
		ids += k;
		n -= k;
	}
}

static void
cmd_pull(void)
{
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	uint64_t *ids;
	size_t len, bad = 0;
	time_t deadline = time(NULL) + (time_t)ms.timeout_s;

	/* A link is handed each packet once, later rounds bring new ones,
	 * and it holds at most 256 unacknowledged (a provider's lease). */
	ms.n_deliveries = 0;
	for (;;) {
		do
			pull_once(LINK_MAX_PULL - ms.n_deliveries);
		while (ms.reply_remaining > 0 && ms.reply_count > 0 &&
		    ms.n_deliveries < LINK_MAX_PULL);
		if (ms.n_deliveries >= ms.expect || time(NULL) >= deadline ||
		    ms.n_deliveries >= LINK_MAX_PULL)
			break;
		usleep(200000);
	}
	if ((ids = calloc(ms.n_deliveries + 1, sizeof(*ids))) == NULL)
		die("out of memory");
	for (size_t i = 0; i < ms.n_deliveries; i++) {
		int rc = sphinx_unwrap(ms.priv, ms.deliveries[i].packet, msg, &len,
		    NULL);
		ids[i] = ms.deliveries[i].id;
		if (rc != SPHINX_OK) {
			fprintf(stderr, "mixsend: delivery %llu: %s\n",
			    (unsigned long long)ms.deliveries[i].id,
			    sphinx_strerror(rc));
			bad++;
			continue;
		}
		printf("%llu\t%.*s\n", (unsigned long long)ms.deliveries[i].id,
		    (int)len, msg);
	}
	/* Ack only what is safely written out, as a real client would. */
	if (fflush(stdout) != 0)
		die("stdout: %s", strerror(errno));
	if (ms.ack && ms.n_deliveries > 0)
		send_ack(ids, ms.n_deliveries);
	free(ids);
	finish_link();
	fprintf(stderr, "mixsend: pulled %zu packets, %zu failed to unwrap%s\n",
	    ms.n_deliveries, bad, ms.ack ? ", acked all" : "");
}

static int
id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
cmd_hoard(const char *arg)
{
	unsigned long pulls = strtoul(arg, NULL, 10), busy = 0;
	size_t total = 0, n_ids = 0, distinct = 0;
	uint64_t *ids = calloc(MS_MAX_DELIVERIES, sizeof(*ids));

	if (ids == NULL)
		die("out of memory");
	for (unsigned long i = 0; i < pulls; i++) {
		Link__Control c = LINK__CONTROL__INIT;
		Link__Pull p = LINK__PULL__INIT;

		ms.n_deliveries = 0;
		p.token.data = ms.token;
		p.token.len = ms.token_len;
		p.max = LINK_MAX_PULL;
		c.msg_case = LINK__CONTROL__MSG_PULL;
		c.pull = &p;
		if (link_send_control(ms.link, &c) != LINK_OK)
			die("pull not sent");
		ms.got_control = 0;
		wait_for(&ms.got_control, 10000, "pull reply");
		if (ms.ctl_case == LINK__CONTROL__MSG_ERROR) {
			busy++;
			continue;
		}
		if (ms.ctl_case != LINK__CONTROL__MSG_PULL_REPLY)
			die("pull: unexpected answer %d", (int)ms.ctl_case);
		ms.want_deliveries = ms.reply_count;
		ms.have_deliveries = ms.n_deliveries >= ms.want_deliveries;
		wait_for(&ms.have_deliveries, 10000, "deliveries");
		total += ms.n_deliveries;
		for (size_t k = 0; k < ms.n_deliveries && n_ids < MS_MAX_DELIVERIES;
		    k++)
			ids[n_ids++] = ms.deliveries[k].id;
	}
	qsort(ids, n_ids, sizeof(*ids), id_cmp);
	for (size_t k = 0; k < n_ids; k++)
		if (k == 0 || ids[k] != ids[k - 1])
			distinct++;
	printf("pulls=%lu deliveries=%zu distinct=%zu busy=%lu\n", pulls, total,
	    distinct, busy);
	free(ids);
	finish_link();
}

static void
cmd_ack(int argc, char **argv)
{
	uint64_t *ids = calloc((size_t)argc + 1, sizeof(*ids));

	if (ids == NULL)
		die("out of memory");
	for (int i = 0; i < argc; i++)
		ids[i] = strtoull(argv[i], NULL, 10);
	if (argc > 0)
		send_ack(ids, (size_t)argc);
	free(ids);
	finish_link();
}

static void
usage(void)
{
	fprintf(stderr, "usage: mixsend --directory URL --key FILE [options] "
	    "register|send|resend FILE|pull|ack ID...|hoard N\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "directory", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "link-key", required_argument, NULL, 'l' },
		{ "entry", required_argument, NULL, 'e' },
		{ "delay", required_argument, NULL, 'D' },
		{ "replay", no_argument, NULL, 'r' },
		{ "flip-header", no_argument, NULL, 'H' },
		{ "flip-payload", no_argument, NULL, 'P' },
		{ "cover", no_argument, NULL, 'c' },
		{ "bad-statement", required_argument, NULL, 'B' },
		{ "unknown-next", no_argument, NULL, 'u' },
		{ "via", required_argument, NULL, 'v' },
		{ "save", required_argument, NULL, 's' },
		{ "ack", no_argument, NULL, 'a' },
		{ "expect", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int ch;

	ms.timeout_s = 10;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': ms.directory = optarg; break;
		case 'k': ms.key_file = optarg; break;
		case 'l': ms.link_key_file = optarg; break;
		case 'e': ms.entry = optarg; break;
		case 'D': ms.delay_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': ms.replay = 1; break;
		case 'H': ms.flip_header = 1; break;
		case 'P': ms.flip_payload = 1; break;
		case 'c': ms.cover = 1; break;
		case 'B':
			if (strcmp(optarg, "flip") != 0 && strcmp(optarg, "other-provider") != 0 &&
			    strcmp(optarg, "future") != 0 && strcmp(optarg, "none") != 0)
				die("--bad-statement: flip, other-provider, future or none");
			ms.bad_statement = optarg;
			break;
		case 'u': ms.unknown_next = 1; break;
		case 'v':
			if (ms.n_via == 3)
				die("at most 3 --via");
			ms.via[ms.n_via++] = optarg;
			break;
		case 's': ms.save = optarg; break;
		case 'a': ms.ack = 1; break;
		case 'x': ms.expect = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': ms.timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind >= argc || ms.directory == NULL || ms.key_file == NULL)
		usage();
	cmd = argv[optind++];
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		die("cannot initialise libsodium or libcurl");
	if ((ms.deliveries = calloc(MS_MAX_DELIVERIES, sizeof(*ms.deliveries))) ==
	    NULL || (ms.base = event_base_new()) == NULL)
		die("out of memory");
	load_or_make_key(ms.key_file, ms.priv, ms.pub);
	if (ms.link_key_file != NULL)
		load_or_make_key(ms.link_key_file, ms.link_priv, ms.link_pub);
	else {
		memcpy(ms.link_priv, ms.priv, 32);
		memcpy(ms.link_pub, ms.pub, 32);
	}
	fetch_topology();
	connect_entry();
	/* The provider knows us once we registered; a node needs nothing. */
	if (ms.entry_node == ms.provider && ms.link_key_file == NULL)
		do_register();
	if (strcmp(cmd, "register") == 0) {
		char id[B64_KEY_CHARS + 1];
		b64_encode(id, ms.pub, 32, B64_URLSAFE);
		printf("%s\n", id);
		finish_link();
	} else if (strcmp(cmd, "send") == 0)
		cmd_send();
	else if (strcmp(cmd, "resend") == 0 && optind < argc)
		cmd_resend(argv[optind]);
	else if (strcmp(cmd, "pull") == 0)
		cmd_pull();
	else if (strcmp(cmd, "ack") == 0)
		cmd_ack(argc - optind, argv + optind);
	else if (strcmp(cmd, "hoard") == 0 && optind < argc)
		cmd_hoard(argv[optind]);
	else
		usage();
	link_free(ms.link);
	topology_free(ms.topo);
	free(ms.deliveries);
	event_base_free(ms.base);
	curl_global_cleanup();
	return 0;
}

/*
 * mixdelay: measures how long a real nym-mixnode holds packets
 * (tests/integration/delays.sh).  Through tests/tools/mixpeer it sends
 * packets [mixnode RELAY d -> us, us FINAL] at a steady rate and times
 * each one until the mixnode relays it back to us.
 *
 * --count packets with d drawn as the Loopix sender draws it (exponential
 * with mean --mean ms, rounded to whole milliseconds, the unit the packet
 * carries) and, spread evenly among them, --probe packets with d = 0 whose
 * median round trip is the base latency (links, Sphinx processing),
 * measured under the same load as the delayed packets.
 * A packet's observed delay is its round trip minus the base latency.
 * Whether a packet left early is judged against the fastest probe
 * instead: a loaded machine only ever makes a round trip longer, so
 * round trip - delay - fastest probe < 0 means the mixnode held the
 * packet for less than its delay.
 *
 *   mixdelay --directory URL [--mixnode ID] [--count N] [--mean MS]
 *            [--rate PACKETS_PER_S] [--probe N]
 *
 * Prints one line of key=value figures (all times in ms):
 *   sent received mean se drawn_mean base base_min observed_mean
 *   lateness_mean lateness_median lateness_max earliest
 * where se = mean / sqrt(n), the standard error of the mean of n
 * exponential draws, lateness = observed delay - drawn delay, and
 * earliest = the least round trip - drawn delay - base_min.
 */
#include <config.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "mixpeer.h"

struct md_packet {
	double		 sent_ms;
	double		 rtt_ms;	/* < 0: not back yet */
	uint32_t	 delay_ms;
	int		 probe;		/* d = 0, for the base latency */
};

static struct {
	struct mixpeer	 peer;
	struct md_packet *pk;
	size_t		 n;
	size_t		 back;
	int		 all_back;
} md;

static void
on_packet(void *arg, const uint8_t *pkt)
{
	double now = mixpeer_now_ms();
	uint8_t msg[SPHINX_MAX_MESSAGE_BYTES];
	size_t len;
	uint32_t seq;

	if (sphinx_unwrap(md.peer.priv, pkt, msg, &len, NULL) != SPHINX_OK ||
	    len != sizeof(seq))
		mixpeer_die("a relayed packet does not unwrap");
	memcpy(&seq, msg, sizeof(seq));
	if (seq >= md.n || md.pk[seq].rtt_ms >= 0)
		mixpeer_die("unexpected packet %u", seq);
	md.pk[seq].rtt_ms = now - md.pk[seq].sent_ms;
	md.all_back = ++md.back == md.n;
}

/* An exponential draw of the given mean, in whole milliseconds. */
static uint32_t
draw(double mean)
{
	/* u in (0, 1]: never log(0) */
	double u = ((double)randombytes_uniform(UINT32_MAX) + 1.0) /
	    (double)UINT32_MAX;

	return (uint32_t)lround(-mean * log(u));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sends n packets at rate per second, probes of them spread evenly with
 * delay 0 and the others with delays drawn of the given mean; waits for
 * them for up to wait_ms after the last.
 */
static void
round_trip(const struct topology_node *mix, size_t n, size_t probes,
    double mean, double rate, double wait_ms)
{
	uint8_t (*pkts)[SPHINX_PACKET_BYTES] = calloc(n, SPHINX_PACKET_BYTES);
	double start;

	if (pkts == NULL || (md.pk = calloc(n, sizeof(*md.pk))) == NULL)
		mixpeer_die("out of memory");
	md.n = n;
	md.back = 0;
	md.all_back = 0;
	/* Built before sending, so that sending keeps its pace. */
	for (uint32_t i = 0; i < n; i++) {
		/* exactly `probes` of the n indices step floor(i * probes / n) */
		md.pk[i].probe = ((size_t)i + 1) * probes / n != (size_t)i * probes / n;
		md.pk[i].delay_ms = md.pk[i].probe ? 0 : draw(mean);
		md.pk[i].rtt_ms = -1;
		mixpeer_build(&md.peer, mix, md.pk[i].delay_ms, &i, sizeof(i),
		    pkts[i]);
	}
	start = mixpeer_now_ms();
	for (size_t i = 0; i < n; i++) {
		double due = start + (double)i * 1000.0 / rate;
		int never = 0;

		if (mixpeer_now_ms() < due)
			mixpeer_run(&md.peer, due - mixpeer_now_ms(), &never);
		md.pk[i].sent_ms = mixpeer_now_ms();
		mixpeer_send(&md.peer, 0, pkts[i]);
	}
	mixpeer_run(&md.peer, wait_ms, &md.all_back);
	free(pkts);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "directory", required_argument, NULL, 'd' },
		{ "mixnode", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "mean", required_argument, NULL, 'M' },
		{ "rate", required_argument, NULL, 'r' },
		{ "probe", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *directory = NULL, *mix_id = NULL;
	size_t count = 3000, probe = 200;
	double mean = 20, rate = 300, base, base_min, *v;
	double drawn = 0, observed = 0, late = 0, earliest = 1e9, late_max = -1e9;
	size_t nlate = 0, nprobe = 0;
	const struct topology_node *mix = NULL;
	struct event_config *ec;
	struct event_base *evb;
	struct topology *t;
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': directory = optarg; break;
		case 'm': mix_id = optarg; break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'M': mean = strtod(optarg, NULL); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'p': probe = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: mixdelay --directory URL "
			    "[--mixnode ID] [--count N] [--mean MS] [--rate N] "
			    "[--probe N]\n");
			return 2;
		}
	}
	if (directory == NULL || count == 0 || probe == 0 || mean <= 0 ||
	    rate <= 0)
		mixpeer_die("bad arguments");
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		mixpeer_die("cannot initialise libsodium or libcurl");
	/* Arrival times are taken in the loop: a precise clock, as the node's. */
	if ((ec = event_config_new()) == NULL)
		mixpeer_die("out of memory");
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	if ((evb = event_base_new_with_config(ec)) == NULL)
		mixpeer_die("event_base_new");
	event_config_free(ec);

	mixpeer_open(&md.peer, evb, on_packet, NULL);
	mixpeer_announce(&md.peer, directory);
	t = mixpeer_topology(directory);
	md.peer.topology = t;
	for (size_t i = 0; i < t->n_mixnodes; i++)
		if (mix_id == NULL || strcmp(t->mixnodes[i].id, mix_id) == 0)
			mix = &t->mixnodes[i];
	if (mix == NULL)
		mixpeer_die("no such mixnode in the topology");
	mixpeer_connect(&md.peer, mix, 1, 15000);

	round_trip(mix, count + probe, probe, mean, rate, 40 * mean + 5000);
	/* The base latency: the probes' median round trip, and their least. */
	if ((v = calloc(count + probe, sizeof(*v))) == NULL)
		mixpeer_die("out of memory");
	for (size_t i = 0; i < md.n; i++)
		if (md.pk[i].probe && md.pk[i].rtt_ms >= 0)
			v[nprobe++] = md.pk[i].rtt_ms;
	if (nprobe != probe)
		mixpeer_die("%zu of %zu probe packets came back", nprobe, probe);
	qsort(v, nprobe, sizeof(*v), cmp_double);
	base = v[nprobe / 2];
	base_min = v[0];

	for (size_t i = 0; i < md.n; i++) {
		double obs, d = md.pk[i].delay_ms;

		if (md.pk[i].probe)
			continue;
		drawn += d;
		if (md.pk[i].rtt_ms < 0)
			continue;
		obs = md.pk[i].rtt_ms - base;
		observed += obs;
		v[nlate++] = obs - d;
		late += obs - d;
		if (md.pk[i].rtt_ms - d - base_min < earliest)
			earliest = md.pk[i].rtt_ms - d - base_min;
		if (obs - d > late_max)
			late_max = obs - d;
	}
	qsort(v, nlate, sizeof(*v), cmp_double);
	printf("sent=%zu received=%zu mean=%.3f se=%.3f drawn_mean=%.3f "
	    "base=%.3f base_min=%.3f observed_mean=%.3f lateness_mean=%.3f "
	    "lateness_median=%.3f lateness_max=%.3f earliest=%.3f\n",
	    count, nlate, mean, mean / sqrt((double)count),
	    drawn / (double)count, base, base_min,
	    nlate ? observed / (double)nlate : 0,
	    nlate ? late / (double)nlate : 0,
	    nlate ? v[nlate / 2] : 0, late_max, earliest);
	free(v);
	free(md.pk);
	topology_free(t);
	mixpeer_close(&md.peer);
	event_base_free(evb);
	curl_global_cleanup();
	return nlate == count ? 0 : 1;
}

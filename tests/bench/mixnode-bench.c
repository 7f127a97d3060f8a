/*
 * Mixnode benchmark: packets a real nym-mixnode process forwards per
 * second with zero delay, fed over 1, 2, 4 and 8 links, as a ratio to
 * the bare sphinx_process() rate measured in this process in the same run
 * (target: at least 0.8); and the mixnode's resident memory per 10 000
 * packets held in its delay queue.  The rate against the number of links
 * goes to $BENCH_OUT/mixnode-links.dat (the current directory without
 * BENCH_OUT) and, with gnuplot, to the plot mixnode-links.png there.
 *
 * It starts nym-directory and nym-mixnode (found in $top_builddir/src, or
 * beside this program's ../../src) in a temporary directory.  The load
 * generator and the sink are one tests/tools/mixpeer in this process: a
 * provider stand-in that sends precomputed packets [mixnode RELAY 0 ->
 * us, us FINAL] and counts what the mixnode relays back.  The forwarding
 * rate is packets received back over the time from the first send to the
 * last arrival.  Memory: the mixnode's VmRSS with 10 000 packets held
 * (delay 50 s) minus its VmRSS just before they were sent.
 *
 * Usage: mixnode-bench [packets per rate run, default 20000]
 * Prints markdown table rows; never fails on time.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/replay.h"
#include "common/sphinx.h"
#include "mixpeer.h"

#define MB_MEM_PACKETS		10000
#define MB_MEM_DELAY_MS		50000
#define MB_BASELINE_PACKETS	4000

/* The numbers of links the forwarding rate is measured over. */
static const size_t mb_links[] = { 1, 2, 4, 8 };
#define MB_NLINKS	(sizeof(mb_links) / sizeof(mb_links[0]))
#define MB_MAX_LINKS	8

static struct {
	char		 tmp[64];
	char		 src[PATH_MAX + 8];		/* where the programs are */
	pid_t		 dir_pid, mix_pid;
	struct mixpeer	 peer;
	double		 last_arrival_ms;
} mb;

static void
cleanup(void)
{
	char cmd[128];

	if (mb.mix_pid > 0) {
		kill(mb.mix_pid, SIGKILL);
		waitpid(mb.mix_pid, NULL, 0);
	}
	if (mb.dir_pid > 0) {
		kill(mb.dir_pid, SIGKILL);
		waitpid(mb.dir_pid, NULL, 0);
	}
	mb.mix_pid = mb.dir_pid = 0;
	if (mb.tmp[0] != '\0' && getenv("KEEP_WORK") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mb.tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "mixnode-bench: cannot remove %s\n", mb.tmp);
	}
}

static void
find_programs(const char *argv0)
{
	const char *top = getenv("top_builddir");
	char exe[PATH_MAX];
	ssize_t n;

	if (top != NULL) {
		snprintf(mb.src, sizeof(mb.src), "%s/src", top);
		return;
	}
	/* This program is TOP/tests/bench/mixnode-bench. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		mixpeer_die("cannot find %s", argv0);
	exe[n] = '\0';
	for (int i = 0; i < 3; i++)
		*strrchr(exe, '/') = '\0';
	snprintf(mb.src, sizeof(mb.src), "%s/src", exe);
}

static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		mixpeer_die("no free port");
	close(fd);
	return ntohs(sin.sin_port);
}

static int
port_open(unsigned port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ok = fd != -1 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (fd != -1)
		close(fd);
	return ok;
}

/* Starts argv[0] with its output in log; returns its pid. */
static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int fd;

	if (pid == -1)
		mixpeer_die("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1 ||
	    dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0)
		mixpeer_die("failed: %s", cmd);
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		mixpeer_die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The last "in_flight=N" the mixnode's stats lines logged, or -1. */
static long
logged_in_flight(const char *log)
{
	char line[2048];
	const char *p;
	long n = -1;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((p = strstr(line, " in_flight=")) != NULL)
			n = strtol(p + 11, NULL, 10);
	fclose(f);
	return n;
}

static void
on_packet(void *arg, const uint8_t *pkt)
{
	mb.last_arrival_ms = mixpeer_now_ms();
}

/* The bare rate: sphinx_process() of packets for a key of our own. */
static double
sphinx_rate(void)
{
	uint8_t priv[32], pub[32], out[SPHINX_PACKET_BYTES];
	uint8_t (*pkts)[SPHINX_PACKET_BYTES];
	struct replay_params rp;
	struct replay_store *rs;
	struct sphinx_hop_result res;
	double start, t;

	randombytes_buf(priv, 32);
	crypto_scalarmult_base(pub, priv);
	if ((pkts = calloc(MB_BASELINE_PACKETS, SPHINX_PACKET_BYTES)) == NULL)
		mixpeer_die("out of memory");
	for (uint32_t i = 0; i < MB_BASELINE_PACKETS; i++)
		mixpeer_build_key(&mb.peer, pub, 0, 0, &i, sizeof(i), pkts[i]);
	/* Sized as the node sizes its store (replay_capacity default). */
	memset(&rp, 0, sizeof(rp));
	rp.packets_per_second = 2000000;
	rp.epoch_seconds = 1;
	rp.false_positive_rate = REPLAY_DEFAULT_FALSE_POSITIVE_RATE;
	if (replay_new(&rs, &rp) != REPLAY_OK)
		mixpeer_die("replay_new");
	start = mixpeer_now_ms();
	for (size_t i = 0; i < MB_BASELINE_PACKETS; i++)
		if (sphinx_process(priv, rs, pkts[i], out, &res) != SPHINX_OK)
			mixpeer_die("sphinx_process");
	t = mixpeer_now_ms() - start;
	replay_free(rs);
	free(pkts);
	return MB_BASELINE_PACKETS / (t / 1000.0);
}

/* Sends n zero-delay packets over links links; forwarded per second. */
static double
forward_rate(const struct topology_node *mix, size_t links, size_t n,
    uint64_t *got)
{
	uint8_t (*pkts)[SPHINX_PACKET_BYTES] = calloc(n, SPHINX_PACKET_BYTES);
	uint64_t before = mb.peer.received, last;
	double start, idle_since;

	if (pkts == NULL)
		mixpeer_die("out of memory");
	for (uint32_t i = 0; i < n; i++)
		mixpeer_build(&mb.peer, mix, 0, &i, sizeof(i), pkts[i]);
	start = mixpeer_now_ms();
	for (size_t i = 0; i < n; i++)
		mixpeer_send(&mb.peer, i % links, pkts[i]);
	/* Until all are back, or nothing arrived for 3 s. */
	last = mb.peer.received;
	idle_since = mixpeer_now_ms();
	while (mb.peer.received - before < n &&
	    mixpeer_now_ms() - idle_since < 3000) {
		event_base_loop(mb.peer.base, EVLOOP_ONCE);
		if (mb.peer.received != last) {
			last = mb.peer.received;
			idle_since = mixpeer_now_ms();
		}
	}
	free(pkts);
	*got = mb.peer.received - before;
	return (double)*got / ((mb.last_arrival_ms - start) / 1000.0);
}

/*
 * Writes the rate against the number of links to OUT/mixnode-links.dat
 * and plots it with gnuplot; prints the report's plot: or note: line.
 */
static void
plot_links(const double rate[MB_NLINKS], const uint64_t got[MB_NLINKS],
    size_t n, double base_rate)
{
	const char *out = getenv("BENCH_OUT");
	char dat[PATH_MAX + 32], png[PATH_MAX + 32];
	FILE *f, *gp;
	int st;

	if (out == NULL || *out == '\0')
		out = ".";
	snprintf(dat, sizeof(dat), "%s/mixnode-links.dat", out);
	snprintf(png, sizeof(png), "%s/mixnode-links.png", out);
	if ((f = fopen(dat, "w")) == NULL) {
		printf("note: no links plot: %s: %s\n", dat, strerror(errno));
		return;
	}
	fprintf(f, "# mixnode-bench: zero-delay forwarding rate of one "
	    "nym-mixnode against the number of links it is fed over\n"
	    "# links packets_per_s packets_back packets_sent "
	    "sphinx_process_baseline_per_s ratio\n");
	for (size_t i = 0; i < MB_NLINKS; i++)
		fprintf(f, "%zu %.0f %llu %zu %.0f %.3f\n", mb_links[i], rate[i],
		    (unsigned long long)got[i], n, base_rate,
		    rate[i] / base_rate);
	fclose(f);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		printf("note: no links plot (gnuplot, Debian package "
		    "gnuplot-nox, is not installed); data in "
		    "mixnode-links.dat\n");
		return;
	}
	if ((gp = popen("gnuplot 2>&1", "w")) == NULL) {
		printf("note: no links plot: popen gnuplot: %s\n",
		    strerror(errno));
		return;
	}
	fprintf(gp, "set terminal pngcairo size 800,500 noenhanced\n"
	    "set output '%s'\n"
	    "set title 'nym-mixnode forwarding rate, zero delay, vs. links "
	    "(%zu packets a run)'\n"
	    "set xlabel 'links from the sender to the mixnode (log scale)'\n"
	    "set ylabel 'packets forwarded per second'\n"
	    "set logscale x 2\n"
	    "set xtics (1, 2, 4, 8)\n"
	    "set xrange [0.8:10]\n"
	    "set yrange [0:%.0f]\n"
	    "set grid\n"
	    "set key bottom right\n"
	    "plot '%s' using 1:2 with linespoints lw 2 pt 7 "
	    "title 'nym-mixnode (separate process)', "
	    "%.0f with lines dt 2 lw 2 "
	    "title 'baseline: sphinx_process in-process (%.0f/s)', "
	    "%.0f with lines dt 3 lc rgb 'red' "
	    "title 'target: 0.8 x baseline'\n",
	    png, n, base_rate * 1.25, dat, base_rate, base_rate,
	    base_rate * 0.8);
	st = pclose(gp);
	if (st != 0 || access(png, R_OK) != 0) {
		printf("note: links plot failed (gnuplot status %d)\n", st);
		return;
	}
	printf("plot: mixnode-links.png Zero-delay forwarding rate of one "
	    "nym-mixnode against the number of links it is fed over "
	    "(data: mixnode-links.dat), with the in-process sphinx_process "
	    "rate as the baseline and the 0.8 target.\n");
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	char prog_dir[PATH_MAX + 32], prog_mix[PATH_MAX + 32], listen[64];
	char url[64], home[128], cmd[2 * PATH_MAX + 1024], log[128];
	unsigned dport = free_port(), mport = free_port();
	const struct topology_node *mix = NULL;
	struct event_base *evb;
	struct topology *t;
	double base_rate, rate[MB_NLINKS];
	uint64_t got[MB_NLINKS];
	long idle, held, in_flight = -1;
	uint8_t pkt[SPHINX_PACKET_BYTES];

	if (n == 0)
		n = 20000;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		mixpeer_die("cannot initialise libsodium or libcurl");
	signal(SIGPIPE, SIG_IGN);
	find_programs(argv[0]);
	snprintf(mb.tmp, sizeof(mb.tmp), "/tmp/mixnode-bench.XXXXXX");
	if (mkdtemp(mb.tmp) == NULL)
		mixpeer_die("mkdtemp: %s", strerror(errno));
	atexit(cleanup);

	/* The baseline first, on a quiet machine (no mixnode starting). */
	if ((evb = event_base_new()) == NULL)
		mixpeer_die("event_base_new");
	mixpeer_open(&mb.peer, evb, on_packet, NULL);
	base_rate = sphinx_rate();

	snprintf(prog_dir, sizeof(prog_dir), "%s/nym-directory", mb.src);
	snprintf(prog_mix, sizeof(prog_mix), "%s/nym-mixnode", mb.src);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", dport);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", dport);
	snprintf(log, sizeof(log), "%s/directory.log", mb.tmp);
	{
		char *av[] = { prog_dir, "--listen", listen, "--stale-seconds",
		    "3600", NULL };
		mb.dir_pid = spawn(av, log);
	}
	for (int i = 0; i < 100 && !port_open(dport); i++)
		usleep(50000);

	snprintf(home, sizeof(home), "%s/home", mb.tmp);
	snprintf(cmd, sizeof(cmd), "'%s' init --id bench --home '%s' --host "
	    "127.0.0.1 --port %u --layer 1 --directory %s >/dev/null && "
	    "sed -i 's/^topology_interval_seconds = .*/topology_interval_seconds = 1/;"
	    "s/^metrics_interval_seconds = .*/metrics_interval_seconds = 1/;"
	    "s/^link_queue_packets = .*/link_queue_packets = 1000000/' "
	    "'%s/mixnodes/bench/config.toml'", prog_mix, home, mport, url, home);
	run(cmd);
	snprintf(log, sizeof(log), "%s/mixnode.log", mb.tmp);
	{
		char *av[] = { prog_mix, "run", "--id", "bench", "--home", home,
		    NULL };
		mb.mix_pid = spawn(av, log);
	}

	for (int i = 0; i < 100 && !port_open(mport); i++)
		usleep(50000);
	mixpeer_announce(&mb.peer, url);
	t = mixpeer_topology(url);
	mb.peer.topology = t;
	for (size_t i = 0; i < t->n_mixnodes; i++)
		mix = &t->mixnodes[i];
	if (mix == NULL)
		mixpeer_die("the mixnode is not in the topology");
	mixpeer_connect(&mb.peer, mix, MB_MAX_LINKS, 15000);
	/* Warm up: the mixnode's link back to us. */
	mixpeer_build(&mb.peer, mix, 0, "w", 1, pkt);
	mixpeer_send(&mb.peer, 0, pkt);
	for (int i = 0; i < 100 && mb.peer.received == 0; i++)
		mixpeer_run(&mb.peer, 50, NULL);
	if (mb.peer.received == 0)
		mixpeer_die("the mixnode relays nothing back");

	for (size_t i = 0; i < MB_NLINKS; i++)
		rate[i] = forward_rate(mix, mb_links[i], n, &got[i]);

	/* Memory: packets held in the delay queue. */
	mixpeer_run(&mb.peer, 1500, NULL);
	idle = rss_kib(mb.mix_pid);
	for (uint32_t i = 0; i < MB_MEM_PACKETS; i++) {
		mixpeer_build(&mb.peer, mix, MB_MEM_DELAY_MS, &i, sizeof(i),
		    pkt);
		mixpeer_send(&mb.peer, i % 4, pkt);
	}
	for (int i = 0; i < 100; i++) {
		mixpeer_run(&mb.peer, 100, NULL);
		if ((in_flight = logged_in_flight(log)) >= MB_MEM_PACKETS)
			break;
	}
	held = rss_kib(mb.mix_pid);

	printf("| sphinx_process, bare (in-process) | %.0f | packets/s | | |\n",
	    base_rate);
	for (size_t i = 0; i < MB_NLINKS; i++)
		printf("| mixnode forwarding, zero delay, %zu link%s (%llu of %zu "
		    "back) | %.0f | packets/s | %.0f | %.2f |\n", mb_links[i],
		    mb_links[i] == 1 ? "" : "s", (unsigned long long)got[i], n,
		    rate[i], base_rate, rate[i] / base_rate);
	printf("| mixnode RSS per %d packets in flight (in_flight=%ld) | %.1f | "
	    "MiB | %.1f (packet bytes) | %.2f |\n", MB_MEM_PACKETS, in_flight,
	    (double)(held - idle) / 1024.0,
	    (double)MB_MEM_PACKETS * SPHINX_PACKET_BYTES / 1048576.0,
	    (double)(held - idle) * 1024.0 /
	    ((double)MB_MEM_PACKETS * SPHINX_PACKET_BYTES));

	plot_links(rate, got, n, base_rate);
	printf("cmd: cd %s && BENCH_OUT=/tmp/b ./tests/bench/mixnode-bench "
	    "%zu   (writes mixnode-links.dat and .png into BENCH_OUT)\n",
	    getenv("top_builddir") != NULL ? getenv("top_builddir") : "BUILD",
	    n);
	printf("note: forwarding: baseline is sphinx_process() of the same "
	    "packets in this process (one core, no I/O); the mixnode runs as "
	    "its own process on the same %ld CPUs as this sender and sink.\n",
	    sysconf(_SC_NPROCESSORS_ONLN));

	topology_free(t);
	mixpeer_close(&mb.peer);
	event_base_free(evb);
	curl_global_cleanup();
	return 0;
}

/*
 * nym-testnet: the command line (up, status, down) of a local Loopix
 * mixnet on loopback.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/epoch.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/number.h"
#include "testnet/testnet.h"

#define TESTNET_CLIENT_NAME_MAX	32

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
	    "Usage: %s up --dir DIR [--mixes-per-layer K] [--providers P]\n"
	    "           [--clients NAME,...] [--delay-ms MS] [--rate R]\n"
	    "           [--loop-rate R] [--fetch-rate R] [--send-rate R]\n"
	    "           [--timeout SECONDS] [--epoch-seconds N] [--metrics]\n"
	    "           [--netns [--link-delay-ms MS] [--link-jitter-ms MS]\n"
	    "           [--link-loss PERCENT]]\n"
	    "       %s status --dir DIR\n"
	    "       %s partition|heal --dir DIR NAME\n"
	    "       %s down --dir DIR [--grace SECONDS]\n"
	    "       %s --help | --version\n\n"
	    "A local Loopix mixnet on 127.0.0.1, or each process in a network\n"
	    "namespace of its own (--netns): a directory, K mixnodes in each of\n"
	    "layers 1 to 3, P providers and optional nymd clients.\n\n"
	    "Commands:\n"
	    "    up       start the testnet; returns once the topology lists every\n"
	    "             node, with the details in DIR/testnet.env\n"
	    "    status   each process, whether it runs, and the topology counts\n"
	    "    partition  cut the link of process NAME (e.g. mix2_1) (--netns)\n"
	    "    heal     bring back the link of process NAME\n"
	    "    links    (run by up --netns where the kernel lacks netem) delay,\n"
	    "             jitter and loss of every link, in user space\n"
	    "    down     stop every process that up started (SIGTERM, then SIGKILL\n"
	    "             after the grace period) and wait for them\n\n"
	    "Options:\n"
	    "    --dir DIR            the testnet's directory (state, logs, testnet.env)\n"
	    "    --mixes-per-layer K  mixnodes in each layer, 1 to %d (default 1)\n"
	    "    --providers P        providers, 1 to %d (default 1)\n"
	    "    --clients LIST       comma-separated nymd client names to start\n"
	    "                         (letters, digits and '_', at most %d)\n"
	    "    --delay-ms MS        clients' mean per-hop delay (default %g)\n"
	    "    --rate R             clients' Poisson rates per second: loop cover,\n"
	    "                         fetch and send (default %g)\n"
	    "    --loop-rate R, --fetch-rate R, --send-rate R\n"
	    "                         one of those rates (overrides --rate)\n"
	    "    --timeout SECONDS    how long up waits for the topology and for\n"
	    "                         each client (default %d)\n"
	    "    --epoch-seconds N    the directory's key epoch length (default:\n"
	    "                         the directory's, one hour)\n"
	    "    --metrics            every node serves Prometheus metrics on\n"
	    "                         127.0.0.1 (NAME_METRICS in testnet.env)\n"
	    "    --netns              each process in its own network namespace, on\n"
	    "                         a bridge, at an address of 10.77.0.0/16\n"
	    "    --link-delay-ms MS   netem delay of every packet a namespace sends\n"
	    "    --link-jitter-ms MS  netem jitter of that delay (at most the delay)\n"
	    "    --link-loss PERCENT  netem loss of the packets a namespace sends\n"
	    "    --grace SECONDS      time between SIGTERM and SIGKILL (default %d)\n\n"
	    "The servers and nymd are found in NYM_BIN_DIR, else beside %s.\n",
	    prog, prog, prog, prog, prog, TESTNET_MAX_MIXES_PER_LAYER,
	    TESTNET_MAX_PROVIDERS, TESTNET_MAX_CLIENTS, TESTNET_DEFAULT_DELAY_MS,
	    TESTNET_DEFAULT_RATE_PER_SECOND, TESTNET_DEFAULT_TIMEOUT_SECONDS,
	    TESTNET_DEFAULT_GRACE_SECONDS, prog);
}

enum {
	OPT_DIR = 1, OPT_MIXES, OPT_PROVIDERS, OPT_CLIENTS, OPT_DELAY, OPT_RATE,
	OPT_LOOP_RATE, OPT_FETCH_RATE, OPT_SEND_RATE, OPT_TIMEOUT, OPT_GRACE,
	OPT_EPOCH, OPT_NETNS, OPT_LINK_DELAY, OPT_LINK_JITTER, OPT_LINK_LOSS,
	OPT_METRICS, OPT_HELP, OPT_VERSION,
};

struct testnet_cli {
	const char			*prog;
	const char			*command;
	const char			*dir;
	const char			*name;		/* partition, heal */
	int				 link_set;	/* a --link-* option */
	char				*clients;	/* strdup'ed, split in place */
	struct testnet_up_options	 up;
	int				 help;
	int				 version;
};

static int
cli_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (number_parse(s, min, max, &v) == -1)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int
cli_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Client names become shell variable names in testnet.env. */
static int
cli_clients(struct testnet_cli *c, const char *list)
{
	struct testnet_up_options *o = &c->up;
	char *save = NULL;

	free(c->clients);
	o->nclients = 0;
	if ((c->clients = strdup(list)) == NULL)
		return -1;
	for (char *name = strtok_r(c->clients, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(name);
		if (len == 0 || len > TESTNET_CLIENT_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_") != len) {
			fprintf(stderr, "%s: client name '%s': use 1 to %d letters, "
			    "digits or '_'\n", c->prog, name, TESTNET_CLIENT_NAME_MAX);
			return -1;
		}
		for (size_t i = 0; i < o->nclients; i++) {
			if (strcmp(o->clients[i], name) == 0) {
				fprintf(stderr, "%s: client '%s' named twice\n", c->prog, name);
				return -1;
			}
		}
		if (o->nclients == TESTNET_MAX_CLIENTS) {
			fprintf(stderr, "%s: at most %d clients\n", c->prog,
			    TESTNET_MAX_CLIENTS);
			return -1;
		}
		o->clients[o->nclients++] = name;
	}
	if (o->nclients == 0) {
		fprintf(stderr, "%s: --clients: no client names\n", c->prog);
		return -1;
	}
	return 0;
}

static int
cli_bad(const struct testnet_cli *c, const char *opt, const char *arg)
{
	fprintf(stderr, "%s: invalid %s '%s'\n", c->prog, opt, arg);
	return -1;
}

/* One option of the command line; 0 or -1 (message printed). */
static int
cli_option(struct testnet_cli *c, int opt, const char *arg, double *rate,
    double *loop, double *fetch, double *send)
{
	struct testnet_up_options *o = &c->up;
	const int up = strcmp(c->command, "up") == 0;
	const int down = strcmp(c->command, "down") == 0;

	switch (opt) {
	case OPT_DIR:
		c->dir = arg;
		return 0;
	case OPT_GRACE:
		if (!down && !up)
			break;
		return cli_uint(arg, 0, TESTNET_MAX_GRACE_SECONDS, &o->grace_seconds) == 0 ?
		    0 : cli_bad(c, "--grace", arg);
	}
	if (!up) {
		fprintf(stderr, "%s %s: that option is for `up`%s\n", c->prog,
		    c->command, opt == OPT_GRACE ? " and `down`" : "");
		return -1;
	}
	switch (opt) {
	case OPT_MIXES:
		return cli_uint(arg, 1, TESTNET_MAX_MIXES_PER_LAYER,
		    &o->mixes_per_layer) == 0 ? 0 : cli_bad(c, "--mixes-per-layer", arg);
	case OPT_PROVIDERS:
		return cli_uint(arg, 1, TESTNET_MAX_PROVIDERS, &o->providers) == 0 ?
		    0 : cli_bad(c, "--providers", arg);
	case OPT_CLIENTS:
		return cli_clients(c, arg);
	case OPT_DELAY:
		return cli_double(arg, 0, CONFIG_MAX_DELAY_MS, &o->delay_ms) == 0 ?
		    0 : cli_bad(c, "--delay-ms", arg);
	case OPT_TIMEOUT:
		return cli_uint(arg, 1, TESTNET_MAX_TIMEOUT_SECONDS,
		    &o->timeout_seconds) == 0 ? 0 : cli_bad(c, "--timeout", arg);
	case OPT_EPOCH:
		return cli_uint(arg, EPOCH_MIN_SECONDS, EPOCH_MAX_SECONDS,
		    &o->epoch_seconds) == 0 ? 0 : cli_bad(c, "--epoch-seconds", arg);
	case OPT_NETNS:
		o->netns = 1;
		return 0;
	case OPT_METRICS:
		o->metrics = 1;
		return 0;
	case OPT_LINK_DELAY:
		c->link_set = 1;
		return cli_double(arg, 0, TESTNET_MAX_LINK_DELAY_MS,
		    &o->link_delay_ms) == 0 ? 0 : cli_bad(c, "--link-delay-ms", arg);
	case OPT_LINK_JITTER:
		c->link_set = 1;
		return cli_double(arg, 0, TESTNET_MAX_LINK_DELAY_MS,
		    &o->link_jitter_ms) == 0 ? 0 : cli_bad(c, "--link-jitter-ms", arg);
	case OPT_LINK_LOSS:
		c->link_set = 1;
		return cli_double(arg, 0, 100, &o->link_loss) == 0 ?
		    0 : cli_bad(c, "--link-loss", arg);
	}
	/* A negative rate disables that stream, as in nymd.conf(5). */
	double *target = opt == OPT_RATE ? rate : opt == OPT_LOOP_RATE ? loop :
	    opt == OPT_FETCH_RATE ? fetch : send;
	if (cli_double(arg, -CONFIG_MAX_RATE_PER_SECOND, CONFIG_MAX_RATE_PER_SECOND,
	    target) == -1 || *target == 0)
		return cli_bad(c, "rate", arg);
	return 0;
}

static int
cli_parse(int argc, char **argv, struct testnet_cli *c)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "mixes-per-layer", required_argument, NULL, OPT_MIXES },
		{ "providers", required_argument, NULL, OPT_PROVIDERS },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "loop-rate", required_argument, NULL, OPT_LOOP_RATE },
		{ "fetch-rate", required_argument, NULL, OPT_FETCH_RATE },
		{ "send-rate", required_argument, NULL, OPT_SEND_RATE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "epoch-seconds", required_argument, NULL, OPT_EPOCH },
		{ "netns", no_argument, NULL, OPT_NETNS },
		{ "metrics", no_argument, NULL, OPT_METRICS },
		{ "link-delay-ms", required_argument, NULL, OPT_LINK_DELAY },
		{ "link-jitter-ms", required_argument, NULL, OPT_LINK_JITTER },
		{ "link-loss", required_argument, NULL, OPT_LINK_LOSS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	double rate = TESTNET_DEFAULT_RATE_PER_SECOND;
	double loop = NAN, fetch = NAN, send = NAN;
	int opt;

	c->up.mixes_per_layer = 1;
	c->up.providers = 1;
	c->up.delay_ms = TESTNET_DEFAULT_DELAY_MS;
	c->up.timeout_seconds = TESTNET_DEFAULT_TIMEOUT_SECONDS;
	c->up.grace_seconds = TESTNET_DEFAULT_GRACE_SECONDS;
	c->command = "";
	if (argc >= 2 && argv[1][0] != '-') {
		c->command = argv[1];
		argc--;
		argv++;
	}
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			c->help = 1;
			continue;
		case OPT_VERSION:
			c->version = 1;
			continue;
		case ':':
			fprintf(stderr, "%s: %s needs a value\n", c->prog, argv[optind - 1]);
			return -1;
		case '?':
			fprintf(stderr, "%s: unknown option %s\n", c->prog, argv[optind - 1]);
			return -1;
		}
		if (cli_option(c, opt, optarg, &rate, &loop, &fetch, &send) == -1)
			return -1;
	}
	/* partition and heal name one process. */
	if (optind < argc && c->name == NULL && (strcmp(c->command, "partition") == 0 ||
	    strcmp(c->command, "heal") == 0))
		c->name = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", c->prog, argv[optind]);
		return -1;
	}
	if (c->link_set && !c->up.netns) {
		fprintf(stderr, "%s: --link-delay-ms, --link-jitter-ms and --link-loss "
		    "need --netns\n", c->prog);
		return -1;
	}
	if (c->up.link_jitter_ms > c->up.link_delay_ms) {
		fprintf(stderr, "%s: --link-jitter-ms must not exceed --link-delay-ms\n",
		    c->prog);
		return -1;
	}
	c->up.loop_rate = isnan(loop) ? rate : loop;
	c->up.fetch_rate = isnan(fetch) ? rate : fetch;
	c->up.send_rate = isnan(send) ? rate : send;
	return 0;
}

/* Sets t->dir to the absolute path of dir, creating it for `up`. */
static int
cli_dir(const struct testnet_cli *c, struct testnet *t, int create)
{
	if (create && fs_mkdirs(c->dir, 0755) == -1) {
		fprintf(stderr, "%s %s: %s: %s\n", c->prog, c->command, c->dir,
		    strerror(errno));
		return -1;
	}
	if (realpath(c->dir, t->dir) == NULL) {
		fprintf(stderr, "%s %s: %s: %s\n", c->prog, c->command, c->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static const char *
cli_liveness(struct testnet_proc *p)
{
	if (p->pid <= 0)
		return "not started";
	switch (testnet_spawn_check(p)) {
	case TESTNET_RUNNING:
		return "alive";
	case TESTNET_OTHER:
		return "dead (pid reused)";
	case TESTNET_GONE:
		break;
	}
	return "dead";
}

static int
cli_read(const struct testnet_cli *c, struct testnet *t, int *missing)
{
	char err[512];

	*missing = 0;
	if (testnet_env_read(t, err, sizeof(err)) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return -1;
		}
		fprintf(stderr, "%s %s: %s\n", c->prog, c->command, err);
		return -1;
	}
	return 0;
}

/* Prints the topology's counts; returns how many started nodes it lacks,
 * or -1 if it could not be read. */
static long
status_topology(const struct testnet *t)
{
	struct topology *topo = NULL;
	size_t layers[TOPOLOGY_MIX_LAYERS + 1] = { 0 }, clients = 0;
	long missing = 0;
	char err[512];

	if (testnet_probe_topology(t->topology_url, &topo, err, sizeof(err)) == -1) {
		printf("topology: unavailable (%s)\n", err);
		return -1;
	}
	for (size_t i = 0; i < topo->n_mixnodes; i++)
		if (topo->mixnodes[i].layer <= TOPOLOGY_MIX_LAYERS)
			layers[topo->mixnodes[i].layer]++;
	for (size_t i = 0; i < topo->n_providers; i++)
		clients += topo->providers[i].n_clients;
	for (size_t i = 0; i < t->nprocs; i++)
		if ((t->procs[i].kind == TESTNET_MIXNODE ||
		    t->procs[i].kind == TESTNET_PROVIDER) &&
		    testnet_listed(topo, &t->procs[i]) == NULL)
			missing++;
	printf("topology: %zu mixnode%s (layer 1: %zu, layer 2: %zu, layer 3: %zu), "
	    "%zu provider%s, %zu registered client%s\n", topo->n_mixnodes,
	    topo->n_mixnodes == 1 ? "" : "s", layers[1], layers[2], layers[3],
	    topo->n_providers, topo->n_providers == 1 ? "" : "s", clients,
	    clients == 1 ? "" : "s");
	if (missing > 0)
		printf("topology: %ld node%s of this testnet not listed\n", missing,
		    missing == 1 ? " is" : "s are");
	topology_free(topo);
	return missing;
}

static int
cmd_status(const struct testnet_cli *c, struct testnet *t)
{
	int missing, ok = 1;

	if (cli_dir(c, t, 0) == -1)
		return TESTNET_EXIT_FAILURE;
	if (cli_read(c, t, &missing) == -1) {
		if (missing)
			fprintf(stderr, "%s status: no testnet in %s (no %s)\n",
			    c->prog, t->dir, TESTNET_ENV_FILE);
		return TESTNET_EXIT_FAILURE;
	}
	printf("testnet in %s: %s\n", t->dir, t->state);
	printf("directory: %s\n", t->url);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];
		const char *state = cli_liveness(p);

		if (strcmp(state, "alive") != 0)
			ok = 0;
		printf("%-10s %-16s pid %-8ld %s", testnet_kind_name(p->kind),
		    p->id, (long)p->pid, state);
		if (p->kind == TESTNET_CLIENT)
			printf("  socket %s", p->socket);
		else if (p->kind == TESTNET_LINKS)
			printf("  link delay %g ms, jitter %g ms, loss %g%%",
			    t->link_delay_ms, t->link_jitter_ms, t->link_loss);
		else
			printf("  %s:%u", p->host, (unsigned int)p->port);
		if (p->kind == TESTNET_MIXNODE)
			printf(" layer %u", p->layer);
		if (p->netns[0] != '\0')
			printf(" netns %s%s", p->netns, p->partitioned ?
			    " PARTITIONED" : "");
		putchar('\n');
	}
	/* The addresses answer only from the hub. */
	if (t->netns && (!testnet_netns_exists(t->hub) ||
	    testnet_netns_enter(t) == -1)) {
		printf("topology: unavailable (no hub namespace %s)\n", t->hub);
		return TESTNET_EXIT_FAILURE;
	}
	if (status_topology(t) != 0)
		ok = 0;
	return ok ? TESTNET_EXIT_OK : TESTNET_EXIT_FAILURE;
}

static int
cmd_down(const struct testnet_cli *c, struct testnet *t)
{
	int missing;

	if (cli_dir(c, t, 0) == -1)
		return TESTNET_EXIT_FAILURE;
	if (cli_read(c, t, &missing) == -1) {
		if (!missing)
			return TESTNET_EXIT_FAILURE;
		printf("no testnet in %s (no %s): nothing to stop\n", t->dir,
		    TESTNET_ENV_FILE);
		return TESTNET_EXIT_OK;
	}
	size_t left = testnet_stop_all(t, c->up.grace_seconds, 1);
	/* A namespace outlives its removal while a process is in it. */
	if (left == 0)
		left = testnet_netns_remove(t, 1);
	snprintf(t->state, sizeof(t->state), "%s", left == 0 ? "down" : "stopping");
	if (testnet_env_write(t) == -1)
		fprintf(stderr, "%s down: %s/%s: %s\n", c->prog, t->dir,
		    TESTNET_ENV_FILE, strerror(errno));
	if (left > 0) {
		fprintf(stderr, "%s down: %zu process%s or namespace%s left\n",
		    c->prog, left, left == 1 ? "" : "es", left == 1 ? "" : "s");
		return TESTNET_EXIT_FAILURE;
	}
	printf("testnet in %s is down\n", t->dir);
	return TESTNET_EXIT_OK;
}

/* partition NAME (cut = 1) and heal NAME (cut = 0). */
static int
cmd_cut(const struct testnet_cli *c, struct testnet *t, int cut)
{
	struct testnet_proc *p = NULL;
	int missing;

	if (c->name == NULL) {
		fprintf(stderr, "%s %s: name the process, e.g. mix2_1\n", c->prog,
		    c->command);
		return TESTNET_EXIT_USAGE;
	}
	if (cli_dir(c, t, 0) == -1)
		return TESTNET_EXIT_FAILURE;
	if (cli_read(c, t, &missing) == -1) {
		if (missing)
			fprintf(stderr, "%s %s: no testnet in %s (no %s)\n", c->prog,
			    c->command, t->dir, TESTNET_ENV_FILE);
		return TESTNET_EXIT_FAILURE;
	}
	if (!t->netns) {
		fprintf(stderr, "%s %s: the testnet in %s was not started with "
		    "--netns\n", c->prog, c->command, t->dir);
		return TESTNET_EXIT_FAILURE;
	}
	for (size_t i = 0; i < t->nprocs && p == NULL; i++)
		if (strcmp(t->procs[i].id, c->name) == 0)
			p = &t->procs[i];
	if (p == NULL || p->veth[0] == '\0') {
		fprintf(stderr, "%s %s: no process %s in the testnet in %s\n",
		    c->prog, c->command, c->name, t->dir);
		return TESTNET_EXIT_FAILURE;
	}
	if (testnet_netns_cut(t, p, cut) == -1)
		return TESTNET_EXIT_FAILURE;
	if (testnet_env_write(t) == -1) {
		fprintf(stderr, "%s %s: %s/%s: %s\n", c->prog, c->command, t->dir,
		    TESTNET_ENV_FILE, strerror(errno));
		return TESTNET_EXIT_FAILURE;
	}
	printf("%s %s\n", p->id, cut ? "cut off (its link is down)" : "reconnected");
	return TESTNET_EXIT_OK;
}

static void
up_on_signal(int sig)
{
	(void)sig;
	testnet_interrupted = 1;
}

static int
cmd_up(const struct testnet_cli *c, struct testnet *t)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	if (cli_dir(c, t, 1) == -1)
		return TESTNET_EXIT_FAILURE;
	/* No SA_RESTART: a signal ends the current wait and `up` stops
	 * what it started rather than leaving half a testnet behind. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = up_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	return testnet_up(t, &c->up);
}

int
main(int argc, char **argv)
{
	struct testnet_cli c;
	struct testnet *t;
	int rc;

	memset(&c, 0, sizeof(c));
	c.prog = "nym-testnet";
	if (cli_parse(argc, argv, &c) == -1) {
		fprintf(stderr, "Run '%s --help' for usage.\n", c.prog);
		free(c.clients);
		return TESTNET_EXIT_USAGE;
	}
	if (c.help || strcmp(c.command, "help") == 0) {
		usage(stdout, c.prog);
		free(c.clients);
		return TESTNET_EXIT_OK;
	}
	if (c.version) {
		printf("nym-testnet (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		free(c.clients);
		return TESTNET_EXIT_OK;
	}
	if (strcmp(c.command, "up") != 0 && strcmp(c.command, "status") != 0 &&
	    strcmp(c.command, "down") != 0 && strcmp(c.command, "partition") != 0 &&
	    strcmp(c.command, "heal") != 0 && strcmp(c.command, "links") != 0) {
		if (c.command[0] == '\0')
			fprintf(stderr, "%s: no command given\n", c.prog);
		else
			fprintf(stderr, "%s: unknown command '%s'\n", c.prog, c.command);
		usage(stderr, c.prog);
		free(c.clients);
		return TESTNET_EXIT_USAGE;
	}
	if (c.dir == NULL || c.dir[0] == '\0') {
		fprintf(stderr, "%s %s: --dir DIR is required\n", c.prog, c.command);
		free(c.clients);
		return TESTNET_EXIT_USAGE;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", c.prog);
		free(c.clients);
		return TESTNET_EXIT_FAILURE;
	}
	http_global_init();
	topology_init();
	if (strcmp(c.command, "up") == 0)
		rc = cmd_up(&c, t);
	else if (strcmp(c.command, "status") == 0)
		rc = cmd_status(&c, t);
	else if (strcmp(c.command, "partition") == 0)
		rc = cmd_cut(&c, t, 1);
	else if (strcmp(c.command, "heal") == 0)
		rc = cmd_cut(&c, t, 0);
	else if (strcmp(c.command, "links") == 0)
		rc = cli_dir(&c, t, 0) == -1 ? TESTNET_EXIT_FAILURE :
		    testnet_linkemu_main(t);
	else
		rc = cmd_down(&c, t);
	http_global_cleanup();
	free(t);
	free(c.clients);
	return rc;
}

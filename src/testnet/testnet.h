/*
 * nym-testnet: a whole Loopix mixnet on loopback (a directory, three layers
 * of mixnodes, providers and optional nymd clients), started by `up`,
 * inspected by `status` and stopped by `down`. The only state shared
 * between those commands is D/testnet.env, which names every process by
 * pid, executable and start time so that `down` never signals a process
 * it did not start.
 */
#ifndef NYM_TESTNET_H
#define NYM_TESTNET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/b64.h"
#include "common/config.h"
#include "common/topology.h"

#define TESTNET_EXIT_OK			0
#define TESTNET_EXIT_FAILURE		1
#define TESTNET_EXIT_USAGE		2

#define TESTNET_ENV_FILE		"testnet.env"
#define TESTNET_HOST			"127.0.0.1"
#define TESTNET_TOPOLOGY_PATH		"/api/presence/topology"
#define TESTNET_HEALTH_PATH		"/api/healthcheck"

#define TESTNET_MAX_MIXES_PER_LAYER	16
#define TESTNET_MAX_PROVIDERS		16
#define TESTNET_MAX_CLIENTS		16
#define TESTNET_MAX_PROCS \
	(1 + TOPOLOGY_MIX_LAYERS * TESTNET_MAX_MIXES_PER_LAYER + \
	TESTNET_MAX_PROVIDERS + TESTNET_MAX_CLIENTS + 1)

/* A demo should show a message arrive within a second or so. */
#define TESTNET_DEFAULT_DELAY_MS	10.0
#define TESTNET_DEFAULT_RATE_PER_SECOND	5.0
/* Clients see each other's registration this soon after it happens. */
#define TESTNET_TOPOLOGY_REFRESH_SECONDS 1
#define TESTNET_DEFAULT_TIMEOUT_SECONDS	20
#define TESTNET_MAX_TIMEOUT_SECONDS	3600
#define TESTNET_DEFAULT_GRACE_SECONDS	5
#define TESTNET_MAX_GRACE_SECONDS	600
#define TESTNET_KILL_WAIT_MS		2000
#define TESTNET_POLL_MS			50
#define TESTNET_INIT_TIMEOUT_MS		30000
#define TESTNET_HTTP_TIMEOUT_MS		2000

/*
 * --netns: every process in a network namespace of its own, its "eth0"
 * one end of a veth pair whose other end is a port of the bridge br0 in
 * the testnet's hub namespace; TESTNET_NETNS_NET/16 holds every address,
 * the bridge's is .0.1. No link or address is added to the namespace
 * nym-testnet runs in.
 */
#define TESTNET_NETNS_NET		"10.77"
#define TESTNET_NETNS_BRIDGE		"br0"
#define TESTNET_NETNS_IF		"eth0"
#define TESTNET_NETNS_DIRECTORY_PORT	8080
#define TESTNET_NETNS_NODE_PORT		1789
#define TESTNET_NETNS_NAME_BYTES	64
#define TESTNET_IFNAME_BYTES		16
#define TESTNET_HOST_BYTES		48
#define TESTNET_MAX_LINK_DELAY_MS	10000.0
#define TESTNET_IP_TIMEOUT_MS		10000

/* Sizes include the terminating NUL. */
#define TESTNET_KEY_BYTES		80	/* env prefix, e.g. CLIENT_alice */
#define TESTNET_URL_BYTES		128

enum testnet_kind {
	TESTNET_DIRECTORY = 0,
	TESTNET_MIXNODE,
	TESTNET_PROVIDER,
	TESTNET_CLIENT,
	TESTNET_LINKS,		/* --netns without netem: linkemu.c */
};

/* One process that `up` started, as testnet.env records it. */
struct testnet_proc {
	enum testnet_kind	 kind;
	char			 key[TESTNET_KEY_BYTES];	/* MIX1_2 */
	char			 id[CONFIG_ID_BYTES];		/* mix1_2 */
	char			 exe[PATH_MAX];	/* canonical path executed */
	char			 log[PATH_MAX];
	pid_t			 pid;		/* 0: not started */
	/* Field 22 of /proc/PID/stat: with the pid, names one process
	 * for the life of the system, so a recycled pid never matches. */
	unsigned long long	 start_ticks;
	uint16_t		 port;		/* servers */
	/* --metrics: the node's Prometheus endpoint, on 127.0.0.1 (of its
	 * namespace under --netns); 0: none. */
	uint16_t		 metrics_port;
	char			 host[TESTNET_HOST_BYTES];	/* servers */
	/* --netns: its namespace, the hub's end of its veth pair, and
	 * whether `partition` has cut that link. */
	char			 netns[TESTNET_NETNS_NAME_BYTES];
	char			 veth[TESTNET_IFNAME_BYTES];
	char			 addr[TESTNET_HOST_BYTES];
	int			 partitioned;
	unsigned int		 layer;		/* mixnodes */
	char			 pubkey[B64_KEY_CHARS + 1];
	char			 provider[B64_KEY_CHARS + 1];	/* clients */
	char			 socket[CONFIG_UNIX_PATH_BYTES];	/* clients */
	int			 reaped;	/* `up` only: waitpid'ed */
};

struct testnet {
	char			 dir[PATH_MAX];		/* absolute */
	char			 bindir[PATH_MAX];
	char			 state[16];	/* starting, up, failed */
	char			 url[TESTNET_URL_BYTES];	/* http://IP:PORT */
	char			 topology_url[TESTNET_URL_BYTES];
	unsigned int		 mixes_per_layer;
	unsigned int		 providers;
	double			 delay_ms;
	unsigned int		 epoch_seconds;	/* 0: the directory's default */
	double			 loop_rate;
	double			 fetch_rate;
	double			 send_rate;
	struct testnet_proc	 procs[TESTNET_MAX_PROCS];
	size_t			 nprocs;
	/* --netns */
	int			 netns;
	char			 hub[TESTNET_NETNS_NAME_BYTES];
	double			 link_delay_ms;
	double			 link_jitter_ms;
	double			 link_loss;	/* percent */
	/* How the link options are applied: "" (none), "netem" (a qdisc on
	 * each eth0) or "userspace" (`nym-testnet links` in the namespace
	 * links, where the kernel lacks netem). */
	char			 emulation[16];
	char			 links[TESTNET_NETNS_NAME_BYTES];
	/* Every namespace `up` made or was about to make, recorded before
	 * it is made, so that `down` removes them even after a crash. */
	char			 made[TESTNET_MAX_PROCS + 1][TESTNET_NETNS_NAME_BYTES];
	size_t			 nmade;
};

struct testnet_up_options {
	unsigned int	 mixes_per_layer;
	unsigned int	 providers;
	const char	*clients[TESTNET_MAX_CLIENTS];
	size_t		 nclients;
	double		 delay_ms;
	unsigned int	 epoch_seconds;
	double		 loop_rate;
	double		 fetch_rate;
	double		 send_rate;
	unsigned int	 timeout_seconds;
	unsigned int	 grace_seconds;
	int		 netns;
	int		 metrics;	/* every node serves /metrics */
	double		 link_delay_ms;
	double		 link_jitter_ms;
	double		 link_loss;
};

/* up.c */
int	testnet_up(struct testnet *, const struct testnet_up_options *);
/* Stops every process of the testnet, clients first; returns how many
 * could not be stopped. */
size_t	testnet_stop_all(struct testnet *, unsigned int grace_seconds,
	    int verbose);
/* The node of the topology at p's port (and layer), or NULL. */
const struct topology_node *testnet_listed(const struct topology *,
	    const struct testnet_proc *p);
const char *testnet_kind_name(enum testnet_kind);

/* netns.c */
/* The hub and every process's namespace, veth pair, address and netem
 * qdisc; records each namespace in testnet.env before making it. */
int	testnet_netns_plan(struct testnet *);
int	testnet_netns_hub(struct testnet *);
/* Chooses netem or, where the kernel lacks it, the userspace links
 * (and makes their namespace); sets t->emulation. */
int	testnet_netns_emulation(struct testnet *);
/* linkemu.c: `nym-testnet links`, run in t->links. */
int	testnet_linkemu_main(struct testnet *);
int	testnet_netns_link(struct testnet *, struct testnet_proc *);
/* Moves this process into the hub, where every address answers. */
int	testnet_netns_enter(const struct testnet *);
/* Removes every recorded namespace that exists; returns how many
 * could not be removed. */
size_t	testnet_netns_remove(struct testnet *, int verbose);
/* Cuts p's link (its veth down) or brings it back. 0 or -1. */
int	testnet_netns_cut(struct testnet *, struct testnet_proc *, int cut);
/* The argv that runs argv in p's namespace (ip netns exec), in out;
 * out must have room for 4 more pointers. */
int	testnet_netns_wrap(const struct testnet_proc *p, char *const argv[],
	    char **out, size_t outlen, const char **exe);
int	testnet_netns_exists(const char *name);

/* env.c: D/testnet.env, shell-sourceable KEY='VALUE' lines. */
int	testnet_env_write(const struct testnet *);
/* Returns 0, or -1 with a message in err (errno ENOENT: no file). */
int	testnet_env_read(struct testnet *, char *err, size_t errlen);

/* spawn.c */
enum testnet_liveness {
	TESTNET_GONE = 0,	/* no such process, or a zombie */
	TESTNET_RUNNING,	/* the very process that was started */
	TESTNET_OTHER,		/* the pid now belongs to another process */
};
/*
 * Starts exe with argv in a new session, stdin from /dev/null, stdout and
 * stderr appended to log, every signal at its default. Fills p->pid and
 * p->start_ticks. Returns 0, or -1 with errno.
 */
int	testnet_spawn_detached(struct testnet_proc *p, char *const argv[]);
/* The same, executing exe (e.g. ip netns exec ...), which must exec
 * p->exe in the same process. */
int	testnet_spawn_detached_via(struct testnet_proc *p, const char *exe,
	    char *const argv[]);
/*
 * Runs exe with argv to completion (output appended to log) and returns
 * its exit status, or -1 if it could not run, was killed, or outlived
 * timeout_ms (then it is killed).
 */
int	testnet_spawn_run(const char *exe, char *const argv[], const char *log,
	    int timeout_ms);
enum testnet_liveness testnet_spawn_check(struct testnet_proc *p);
/* Reaps p if it is our child and has exited; sets *status, returns 1. */
int	testnet_spawn_reap(struct testnet_proc *p, int *status);
/* SIGTERM, a grace period, then SIGKILL, each only to a verified
 * process. Returns how many are still running. */
size_t	testnet_spawn_stop(struct testnet_proc **procs, size_t n,
	    unsigned int grace_ms, int verbose);
/* Set by the signal handler of `up`: stop waiting and tear down. */
extern volatile int testnet_interrupted;
void	testnet_sleep_ms(unsigned int ms);
/* Milliseconds of CLOCK_MONOTONIC. */
long long testnet_now_ms(void);

/* probe.c */
/* n distinct free TCP ports on TESTNET_HOST (bound to port 0, then
 * released). Returns 0 or -1 with errno. */
int	testnet_probe_ports(uint16_t *ports, size_t n);
/* HTTP GET; *body is malloc'ed and NUL-terminated. 0 or -1 with err. */
int	testnet_probe_get(const char *url, char **body, size_t *len,
	    long *status, char *err, size_t errlen);
/* GET and parse the topology. 0 or -1 with err. */
int	testnet_probe_topology(const char *url, struct topology **out,
	    char *err, size_t errlen);

#endif

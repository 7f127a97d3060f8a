/*
 * nym-testnet --netns: a network namespace for every process of the
 * testnet, each joined by a veth pair to the bridge of the testnet's own
 * hub namespace, with addresses in TESTNET_NETNS_NET/16 and, optionally,
 * a netem qdisc on the egress of every process's link. Everything is
 * made with ip(8) and tc(8) as child processes, and nothing is added to
 * the namespace nym-testnet itself runs in: removing the namespaces
 * removes every link and the bridge with them. Each namespace is
 * recorded in testnet.env before it is made, so `down` finds it even
 * after `up` crashed.
 */
#include <config.h>

#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "testnet/testnet.h"

#define NETNS_RUN_DIR		"/run/netns"
#define NETNS_LOG		"netns.log"
#define NETNS_MAX_ARGS		24
#define NETNS_ARG_BYTES		32

/* Where ip(8) and tc(8) are when PATH does not say. */
static const char *const netns_sbin[] = {
	"/usr/sbin", "/sbin", "/usr/bin", "/bin",
};

/* Set while probing: a failure is an answer, not an error. */
static int netns_quiet;

static void
netns_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
netns_err(const char *fmt, ...)
{
	va_list ap;

	fputs("nym-testnet: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The path of tool (ip or tc) in PATH or the sbin directories; static. */
static const char *
netns_tool(const char *tool)
{
	static char found[2][PATH_MAX];
	char *path = getenv("PATH"), *copy, *save = NULL;
	int slot = strcmp(tool, "ip") == 0 ? 0 : 1;

	if (found[slot][0] != '\0')
		return found[slot];
	if (path != NULL && (copy = strdup(path)) != NULL) {
		for (char *d = strtok_r(copy, ":", &save); d != NULL;
		    d = strtok_r(NULL, ":", &save)) {
			snprintf(found[slot], sizeof(found[slot]), "%s/%s", d, tool);
			if (d[0] == '/' && access(found[slot], X_OK) == 0) {
				free(copy);
				return found[slot];
			}
		}
		free(copy);
	}
	for (size_t i = 0; i < sizeof(netns_sbin) / sizeof(netns_sbin[0]); i++) {
		snprintf(found[slot], sizeof(found[slot]), "%s/%s", netns_sbin[i], tool);
		if (access(found[slot], X_OK) == 0)
			return found[slot];
	}
	found[slot][0] = '\0';
	return NULL;
}

/* The last line of the log, for an error message. */
static void
netns_last_line(const char *log, char *out, size_t outlen)
{
	char buf[1024];
	ssize_t n;
	off_t size;
	int fd;

	out[0] = '\0';
	if ((fd = open(log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0,
	    SEEK_SET);
	n = fs_read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	const char *line = strrchr(buf, '\n') != NULL ? strrchr(buf, '\n') + 1 : buf;
	size_t len = strlen(line) < outlen ? strlen(line) : outlen - 1;
	memcpy(out, line, len);
	out[len] = '\0';
}

/*
 * Runs `tool ARGS...` (NULL-terminated), output appended to
 * D/logs/netns.log; 0, or -1 with one error line naming the command and
 * what it said.
 */
static int
netns_run(const struct testnet *t, const char *tool, ...)
{
	char *argv[NETNS_MAX_ARGS], log[PATH_MAX], cmd[512], said[512];
	const char *exe = netns_tool(tool);
	size_t n = 0, used = 0;
	va_list ap;

	if (exe == NULL) {
		netns_err("no %s(8) in PATH or /usr/sbin, /sbin: install iproute2", tool);
		return -1;
	}
	argv[n++] = (char *)exe;
	va_start(ap, tool);
	for (char *a; n < NETNS_MAX_ARGS - 1 && (a = va_arg(ap, char *)) != NULL; )
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if ((size_t)snprintf(log, sizeof(log), "%s/logs/%s", t->dir, NETNS_LOG) >=
	    sizeof(log)) {
		netns_err("%s: path too long", t->dir);
		return -1;
	}
	cmd[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(cmd); i++) {
		int w = snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "",
		    i ? argv[i] : tool);
		used += w > 0 ? (size_t)w : 0;
	}
	FILE *f = fopen(log, "ae");
	if (f != NULL) {
		fprintf(f, "+ %s\n", cmd);
		fclose(f);
	}
	if (testnet_spawn_run(exe, argv, log, TESTNET_IP_TIMEOUT_MS) == 0)
		return 0;
	if (netns_quiet)
		return -1;
	netns_last_line(log, said, sizeof(said));
	netns_err("`%s` failed%s%s (see %s)", cmd, said[0] ? ": " : "", said, log);
	return -1;
}

int
testnet_netns_exists(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, name);
	return lstat(path, &st) == 0;
}

/* A short name for the testnet in D: "nt" and a hash of D's path, so that
 * testnets in different directories never share a namespace name. */
static void
netns_prefix(const char *dir, char *out, size_t outlen)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	snprintf(out, outlen, "nt%08x", (unsigned int)h);
}

int
testnet_netns_plan(struct testnet *t)
{
	char prefix[16];
	unsigned int mixes[TOPOLOGY_MIX_LAYERS + 1] = { 0 };
	unsigned int providers = 0, clients = 0;

	netns_prefix(t->dir, prefix, sizeof(prefix));
	snprintf(t->hub, sizeof(t->hub), "%s-hub", prefix);
	snprintf(t->links, sizeof(t->links), "%s-links", prefix);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];

		if (p->kind == TESTNET_LINKS)
			continue;
		snprintf(p->veth, sizeof(p->veth), "v%u", (unsigned int)i);
		switch (p->kind) {
		case TESTNET_DIRECTORY:
			snprintf(p->addr, sizeof(p->addr), "%s.0.2", TESTNET_NETNS_NET);
			p->port = TESTNET_NETNS_DIRECTORY_PORT;
			break;
		case TESTNET_MIXNODE:
			snprintf(p->addr, sizeof(p->addr), "%s.%u.%u",
			    TESTNET_NETNS_NET, p->layer, ++mixes[p->layer]);
			p->port = TESTNET_NETNS_NODE_PORT;
			break;
		case TESTNET_PROVIDER:
			snprintf(p->addr, sizeof(p->addr), "%s.%u.%u",
			    TESTNET_NETNS_NET, TOPOLOGY_MIX_LAYERS + 1, ++providers);
			p->port = TESTNET_NETNS_NODE_PORT;
			break;
		case TESTNET_CLIENT:
			snprintf(p->addr, sizeof(p->addr), "%s.%u.%u",
			    TESTNET_NETNS_NET, TOPOLOGY_MIX_LAYERS + 2, ++clients);
			break;
		case TESTNET_LINKS:
			break;
		}
		if (p->kind != TESTNET_CLIENT)
			snprintf(p->host, sizeof(p->host), "%s", p->addr);
		/* Clients apart: a client may be called "directory". */
		if ((size_t)snprintf(p->netns, sizeof(p->netns), "%s-%s%s", prefix,
		    p->kind == TESTNET_CLIENT ? "c-" : "", p->id) >= sizeof(p->netns)) {
			netns_err("namespace name for %s too long", p->id);
			return -1;
		}
	}
	return 0;
}

/* Records name in testnet.env, then makes the namespace, loopback up. */
static int
netns_make(struct testnet *t, const char *name)
{
	if (testnet_netns_exists(name)) {
		netns_err("network namespace %s exists already: a testnet in %s "
		    "was not taken down (nym-testnet down --dir %s), or `ip netns "
		    "del %s` if it is not one", name, t->dir, t->dir, name);
		return -1;
	}
	if (t->nmade >= sizeof(t->made) / sizeof(t->made[0]))
		return -1;
	snprintf(t->made[t->nmade++], sizeof(t->made[0]), "%s", name);
	if (testnet_env_write(t) == -1) {
		netns_err("%s/%s: %s", t->dir, TESTNET_ENV_FILE, strerror(errno));
		return -1;
	}
	if (netns_run(t, "ip", "netns", "add", name, NULL) == -1 ||
	    netns_run(t, "ip", "-n", name, "link", "set", "lo", "up", NULL) == -1)
		return -1;
	return 0;
}

int
testnet_netns_hub(struct testnet *t)
{
	char addr[TESTNET_HOST_BYTES + 8];

	snprintf(addr, sizeof(addr), "%s.0.1/16", TESTNET_NETNS_NET);
	if (netns_make(t, t->hub) == -1 ||
	    netns_run(t, "ip", "-n", t->hub, "link", "add", TESTNET_NETNS_BRIDGE,
	    "type", "bridge", NULL) == -1 ||
	    netns_run(t, "ip", "-n", t->hub, "addr", "add", addr, "dev",
	    TESTNET_NETNS_BRIDGE, NULL) == -1 ||
	    netns_run(t, "ip", "-n", t->hub, "link", "set", TESTNET_NETNS_BRIDGE,
	    "up", NULL) == -1)
		return -1;
	return 0;
}

/* Can tc put a netem qdisc on a veth in the hub? */
static int
netns_has_netem(const struct testnet *t)
{
	int ok;

	netns_quiet = 1;
	ok = netns_run(t, "ip", "-n", t->hub, "link", "add", "netemprobe0", "type",
	    "veth", "peer", "name", "netemprobe1", NULL) == 0 &&
	    netns_run(t, "tc", "-n", t->hub, "qdisc", "add", "dev", "netemprobe0",
	    "root", "netem", "delay", "1ms", NULL) == 0;
	netns_run(t, "ip", "-n", t->hub, "link", "del", "netemprobe0", NULL);
	netns_quiet = 0;
	return ok;
}

int
testnet_netns_emulation(struct testnet *t)
{
	t->emulation[0] = '\0';
	if (t->link_delay_ms == 0 && t->link_jitter_ms == 0 && t->link_loss == 0)
		return 0;
	if (netns_has_netem(t)) {
		snprintf(t->emulation, sizeof(t->emulation), "netem");
		return 0;
	}
	/* Frames then pass through `nym-testnet links` in a namespace of
	 * its own, which has no address that could answer them. */
	snprintf(t->emulation, sizeof(t->emulation), "userspace");
	return netns_make(t, t->links);
}

/* netem on the egress of p's end: every packet p sends is delayed (and
 * maybe lost) once, so a packet between two namespaces sees it once. */
static int
netns_netem(const struct testnet *t, const struct testnet_proc *p)
{
	char delay[NETNS_ARG_BYTES], jitter[NETNS_ARG_BYTES], loss[NETNS_ARG_BYTES];
	char *args[NETNS_MAX_ARGS];
	size_t n = 0;

	if (strcmp(t->emulation, "netem") != 0)
		return 0;
	snprintf(delay, sizeof(delay), "%gms", t->link_delay_ms);
	snprintf(jitter, sizeof(jitter), "%gms", t->link_jitter_ms);
	snprintf(loss, sizeof(loss), "%g%%", t->link_loss);
	args[n++] = "delay";
	args[n++] = delay;
	if (t->link_jitter_ms > 0)
		args[n++] = jitter;
	if (t->link_loss > 0) {
		args[n++] = "loss";
		args[n++] = loss;
	}
	while (n < 5)
		args[n++] = NULL;
	if (netns_run(t, "tc", "-n", p->netns, "qdisc", "add", "dev",
	    TESTNET_NETNS_IF, "root", "netem", args[0], args[1], args[2], args[3],
	    args[4], NULL) == -1) {
		netns_err("--link-delay-ms, --link-jitter-ms and --link-loss need "
		    "the netem qdisc (sch_netem, CONFIG_NET_SCH_NETEM) in the kernel");
		return -1;
	}
	return 0;
}

/*
 * Under userspace emulation, p's eth0 is paired with nK in the links
 * namespace, and hK there with vK, the bridge's port in the hub.
 */
static int
netns_link_userspace(struct testnet *t, struct testnet_proc *p)
{
	char node[TESTNET_IFNAME_BYTES + 1], hub[TESTNET_IFNAME_BYTES + 1];

	snprintf(node, sizeof(node), "n%s", p->veth + 1);
	snprintf(hub, sizeof(hub), "h%s", p->veth + 1);
	if (netns_run(t, "ip", "-n", t->links, "link", "add", node, "type", "veth",
	    "peer", "name", TESTNET_NETNS_IF, "netns", p->netns, NULL) == -1 ||
	    netns_run(t, "ip", "-n", t->links, "link", "add", hub, "type", "veth",
	    "peer", "name", p->veth, "netns", t->hub, NULL) == -1 ||
	    netns_run(t, "ip", "-n", t->links, "link", "set", node, "up", NULL) == -1 ||
	    netns_run(t, "ip", "-n", t->links, "link", "set", hub, "up", NULL) == -1)
		return -1;
	return 0;
}

int
testnet_netns_link(struct testnet *t, struct testnet_proc *p)
{
	char addr[TESTNET_HOST_BYTES + 8];
	int userspace = strcmp(t->emulation, "userspace") == 0;

	snprintf(addr, sizeof(addr), "%s/16", p->addr);
	if (netns_make(t, p->netns) == -1)
		return -1;
	if (userspace ? netns_link_userspace(t, p) == -1 :
	    netns_run(t, "ip", "-n", t->hub, "link", "add", p->veth, "type", "veth",
	    "peer", "name", TESTNET_NETNS_IF, "netns", p->netns, NULL) == -1)
		return -1;
	if (netns_run(t, "ip", "-n", t->hub, "link", "set", p->veth, "master",
	    TESTNET_NETNS_BRIDGE, "up", NULL) == -1 ||
	    netns_run(t, "ip", "-n", p->netns, "addr", "add", addr, "dev",
	    TESTNET_NETNS_IF, NULL) == -1 ||
	    netns_run(t, "ip", "-n", p->netns, "link", "set", TESTNET_NETNS_IF,
	    "up", NULL) == -1)
		return -1;
	return netns_netem(t, p);
}

int
testnet_netns_enter(const struct testnet *t)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, t->hub);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		netns_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) == -1) {
		netns_err("cannot enter the hub namespace %s: %s", t->hub,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

size_t
testnet_netns_remove(struct testnet *t, int verbose)
{
	char prefix[16];
	size_t left = 0, plen;

	netns_prefix(t->dir, prefix, sizeof(prefix));
	plen = strlen(prefix);
	/* The processes' namespaces first, the hub (and bridge) last. */
	for (size_t i = t->nmade; i-- > 0; ) {
		const char *name = t->made[i];

		if (!testnet_netns_exists(name))
			continue;
		/* A hand-edited record must not make down remove others'. */
		if (strncmp(name, prefix, plen) != 0 || name[plen] != '-') {
			netns_err("namespace %s is not named for the testnet in %s "
			    "(%s-*); left alone", name, t->dir, prefix);
			left++;
			continue;
		}
		if (netns_run(t, "ip", "netns", "del", name, NULL) == -1 ||
		    testnet_netns_exists(name)) {
			left++;
			continue;
		}
		if (verbose)
			printf("%-16s namespace removed\n", name);
	}
	return left;
}

int
testnet_netns_cut(struct testnet *t, struct testnet_proc *p, int cut)
{
	if (netns_run(t, "ip", "-n", t->hub, "link", "set", p->veth,
	    cut ? "down" : "up", NULL) == -1)
		return -1;
	p->partitioned = cut;
	return 0;
}

int
testnet_netns_wrap(const struct testnet_proc *p, char *const argv[],
    char **out, size_t outlen, const char **exe)
{
	size_t n = 0;

	if ((*exe = netns_tool("ip")) == NULL) {
		netns_err("no ip(8) in PATH or /usr/sbin, /sbin: install iproute2");
		return -1;
	}
	/* Without -b, ip netns exec execs the program itself: the pid that
	 * was spawned is the node's. */
	out[n++] = (char *)*exe;
	out[n++] = "netns";
	out[n++] = "exec";
	out[n++] = (char *)p->netns;
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (n + 1 >= outlen)
			return -1;
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return 0;
}

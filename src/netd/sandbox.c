#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "netd/netd.h"

/*
 * What netd may still open once confined, all read-only: the files its
 * own resolver reads at each resolution (common/resolve.c: /etc/hosts,
 * /etc/resolv.conf and where resolv.conf links to) and TLS's CA files.
 * Whole directories rather than single files, because resolv.conf and
 * friends are replaced by rename (DHCP clients, NetworkManager,
 * resolvconf) and a rule follows an inode, not a name. No library
 * directory: nothing is loaded once confined (no NSS module, and no
 * PROT_EXEC to map one). Not the client's home: netd runs as the same
 * user as keyd and must not be able to read the private key file.
 */
static const struct sandbox_path netd_paths[] = {
	{ "/etc", 0 },
	{ "/usr", 0 },		/* /etc/ssl/certs links into /usr/share */
	{ "/run/systemd/resolve", 0 },
	{ "/run/resolvconf", 0 },
	{ "/run/NetworkManager", 0 },
	{ "/dev/urandom", 0 },
};
#define NETD_N_PATHS	(sizeof(netd_paths) / sizeof(netd_paths[0]))

/* 1 if path is dir or beneath it (both resolved). */
static int
path_beneath(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	size_t n;

	if (realpath(path, rp) == NULL || realpath(dir, rd) == NULL)
		return 0;
	n = strlen(rd);
	if (n == 1)
		return 1;	/* "/" */
	return strncmp(rp, rd, n) == 0 && (rp[n] == '\0' || rp[n] == '/');
}

void
netd_check_home(const char *home)
{
	for (size_t i = 0; i < NETD_N_PATHS; i++) {
		if (home != NULL && home[0] != '\0' && path_beneath(home, netd_paths[i].path))
			log_warnx("the client home %s lies beneath %s, which netd "
			    "may read: move it to keep the key out of netd's reach",
			    home, netd_paths[i].path);
	}
}

static const struct sandbox_call netd_calls[] = {
	/* TCP to the directory and the provider, UDP to DNS servers: IPv4
	 * and IPv6 only; any other family kills (names are resolved by
	 * common/resolve.c, never by NSS, so nothing tries nscd's unix
	 * socket or netlink). connect() is netd's alone; bind() gives a DNS
	 * query its random source port. */
	SANDBOX_ARG("socket", 0, AF_INET), SANDBOX_ARG("socket", 0, AF_INET6),
	SANDBOX_ANY("connect"), SANDBOX_ANY("getsockopt"), SANDBOX_ANY("setsockopt"),
	SANDBOX_ANY("getsockname"), SANDBOX_ANY("getpeername"), SANDBOX_ANY("sendto"),
	SANDBOX_ANY("recvfrom"), SANDBOX_ANY("shutdown"), SANDBOX_ANY("bind"),
	/* libevent asks how much a socket has to read; curl may set
	 * non-blocking mode this way. No other request (no TIOCSTI). */
	SANDBOX_ARG("ioctl", 1, FIONREAD), SANDBOX_ARG("ioctl", 1, FIONBIO),
	/* the resolver's /etc/hosts and resolv.conf, TLS's CA files
	 * (Landlock keeps it to the paths above) */
	SANDBOX_ANY("openat"), SANDBOX_ANY("stat"), SANDBOX_ANY("access"),
	SANDBOX_ANY("faccessat"), SANDBOX_ANY("faccessat2"),
	SANDBOX_ANY("dup"), SANDBOX_ANY("dup2"), SANDBOX_ANY("dup3"),
	/* libcurl's wake-up pipe and eventfd (socketpair: AF_UNIX, but
	 * always connected to itself) */
	SANDBOX_ANY("pipe2"), SANDBOX_ANY("eventfd2"), SANDBOX_ANY("socketpair"),
	/* the link keeps its keys in sodium_malloc'd, mlocked pages */
	SANDBOX_ANY("mlock"), SANDBOX_ANY("munlock"),
	/* the Poisson streams' precise clocks (traffic.c) */
	SANDBOX_ANY("timerfd_create"), SANDBOX_ANY("timerfd_settime"),
	SANDBOX_END,
};

/* No threads: libcurl's resolver thread never starts, every name it
 * connects by is resolved beforehand (netd/directory.c). */
const struct sandbox_policy netd_policy = {
	.role = "netd",
	.paths = netd_paths,
	.npaths = NETD_N_PATHS,
	.calls = netd_calls,
};

#include <config.h>

#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/sandbox.h"
#include "netd/netd.h"

/*
 * What netd may still open once confined, all read-only: the resolver's
 * and TLS's files and the libraries NSS loads. Whole directories rather
 * than single files, because resolv.conf and friends are replaced by
 * rename (DHCP clients, NetworkManager, resolvconf) and a rule follows an
 * inode, not a name. Not the client's home: netd runs as the same user as
 * keyd and must not be able to read the private key file.
 */
static const struct sandbox_path netd_paths[] = {
	{ "/etc", 0 },
	{ "/usr", 0 },
	{ "/lib", 0 },
	{ "/lib64", 0 },
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

/*
 * Names are resolved by glibc's getaddrinfo (the provider, in provider.c)
 * and in libcurl's resolver thread. Resolve one now, so that the NSS
 * modules nsswitch.conf names are loaded while mmap(PROT_EXEC) is still
 * allowed; afterwards a module that needs a unix socket (nscd,
 * systemd-resolved's varlink) fails with EACCES and glibc moves on to the
 * next source, "dns" (UDP and TCP to the servers in resolv.conf).
 */
static int
netd_prepare(void)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("localhost", "80", &hints, &res) == 0)
		freeaddrinfo(res);
	return 0;
}

static const struct sandbox_call netd_calls[] = {
	/* TCP to the directory and the provider, UDP to DNS servers: IPv4
	 * and IPv6 only. The resolver's tries of a unix socket (nscd) and
	 * netlink (AI_ADDRCONFIG) fail as they do without those; any other
	 * family kills. connect() is netd's alone. */
	SANDBOX_ARG("socket", 0, AF_INET), SANDBOX_ARG("socket", 0, AF_INET6),
	SANDBOX_FAIL("socket", 0, AF_UNIX, EACCES),
	SANDBOX_FAIL("socket", 0, AF_NETLINK, EACCES),
	SANDBOX_ANY("connect"), SANDBOX_ANY("getsockopt"), SANDBOX_ANY("setsockopt"),
	SANDBOX_ANY("getsockname"), SANDBOX_ANY("getpeername"), SANDBOX_ANY("sendto"),
	SANDBOX_ANY("recvfrom"), SANDBOX_ANY("shutdown"), SANDBOX_ANY("bind"),
	SANDBOX_ANY("sendmmsg"), SANDBOX_ANY("recvmmsg"),
	/* libevent asks how much a socket has to read; curl may set
	 * non-blocking mode this way. No other request (no TIOCSTI). */
	SANDBOX_ARG("ioctl", 1, FIONREAD), SANDBOX_ARG("ioctl", 1, FIONBIO),
	/* the resolver: /etc/hosts, resolv.conf, nsswitch.conf (Landlock
	 * keeps it to the paths above) */
	SANDBOX_ANY("openat"), SANDBOX_ANY("stat"), SANDBOX_ANY("access"),
	SANDBOX_ANY("faccessat"), SANDBOX_ANY("faccessat2"), SANDBOX_ANY("uname"),
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

/* Threads: libcurl's resolver. */
const struct sandbox_policy netd_policy = {
	.role = "netd",
	.paths = netd_paths,
	.npaths = NETD_N_PATHS,
	.calls = netd_calls,
	.threads = 1,
	.prepare = netd_prepare,
};

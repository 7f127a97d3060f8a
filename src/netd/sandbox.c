#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

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

int
netd_landlock(const char *home)
{
	for (size_t i = 0; i < NETD_N_PATHS; i++) {
		if (home != NULL && home[0] != '\0' && path_beneath(home, netd_paths[i].path))
			log_warnx("the client home %s lies beneath %s, which netd "
			    "may read: move it to keep the key out of netd's reach",
			    home, netd_paths[i].path);
	}
	return sandbox_landlock_role("netd", netd_paths, NETD_N_PATHS);
}

int
netd_sandbox(void)
{
	static const char *const calls[] = {
		/* TCP connections to the directory (and later the provider) */
		"socket", "connect", "getsockopt", "setsockopt", "getsockname",
		"getpeername", "sendto", "recvfrom", "shutdown", "ioctl",
		/* the resolver: /etc/hosts, resolv.conf, nsswitch and its modules */
		"openat", "stat", "access", "faccessat", "faccessat2", "uname",
		"sendmmsg", "recvmmsg", "bind", "mprotect", "dup", "dup2", "dup3",
		/* libcurl's wake-up pipe and eventfd */
		"pipe2", "eventfd2", "socketpair",
		/* the link keeps its keys in sodium_malloc'd, mlocked pages */
		"mlock", "munlock",
		/* the Poisson streams' precise clocks (traffic.c) */
		"timerfd_create", "timerfd_settime",
		NULL,
	};
	scmp_filter_ctx ctx = sandbox_filter_new();

	if (ctx == NULL)
		return -1;
	/* libcurl resolves names in a helper thread. */
	if (sandbox_allow(ctx, calls) == -1 || sandbox_allow_threads(ctx) == -1) {
		seccomp_release(ctx);
		return -1;
	}
	return sandbox_load(ctx);
}

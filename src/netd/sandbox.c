#include <config.h>

#include "common/sandbox.h"
#include "netd/netd.h"

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

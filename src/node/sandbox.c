/*
 * The node core's sandbox, for nym-mixnode and nym-provider alike; the
 * provider adds its mailbox store's calls (src/provider/sandbox.c).
 */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <jansson.h>

#include "node/sandbox.h"

/*
 * Everything the node core does once running:
 * - links: accept on the listener bound before; outgoing links to the
 *   next hops (TCP over IPv4 or IPv6 only; no listen, no other family);
 * - the directory, through libcurl on the event loop; every name (the
 *   directory's, a next hop's) is resolved by common/resolve.c, never by
 *   NSS, so no module is ever loaded here, and libcurl starts no resolver
 *   thread;
 * - threads: only the Sphinx workers (work.c), started once confined,
 *   which compute and take a lock;
 * - the Prometheus endpoint, bound before;
 * - the epoch keys and replay stores under the data directory: a new
 *   epoch's directory and key file (written beside and renamed), the
 *   replay log's appends and fdatasync, snapshots, and the expired
 *   epoch's files and directory removed.
 */
static const struct sandbox_call node_calls[] = {
	/* sockets: links and the directory over TCP, DNS over UDP, IPv4 and
	 * IPv6 only; any other family kills (nothing tries nscd's unix
	 * socket or netlink: there is no NSS here) */
	SANDBOX_ARG("socket", 0, AF_INET), SANDBOX_ARG("socket", 0, AF_INET6),
	SANDBOX_ANY("connect"), SANDBOX_ANY("accept"), SANDBOX_ANY("accept4"),
	SANDBOX_ANY("getsockopt"), SANDBOX_ANY("setsockopt"),
	SANDBOX_ANY("getsockname"), SANDBOX_ANY("getpeername"),
	SANDBOX_ANY("sendto"), SANDBOX_ANY("recvfrom"), SANDBOX_ANY("shutdown"),
	/* a DNS query's random source port */
	SANDBOX_ANY("bind"),
	/* libevent asks how much a socket has to read; curl may set
	 * non-blocking mode this way. No other request (no TIOCSTI). */
	SANDBOX_ARG("ioctl", 1, FIONREAD), SANDBOX_ARG("ioctl", 1, FIONBIO),
	/* libcurl's wake-up pipe and eventfd (socketpair: AF_UNIX, but
	 * always connected to itself) */
	SANDBOX_ANY("pipe2"), SANDBOX_ANY("eventfd2"), SANDBOX_ANY("socketpair"),
	/* files: Landlock keeps them to the data directory and the
	 * resolver's and TLS's read-only files */
	SANDBOX_ANY("openat"), SANDBOX_ANY("stat"), SANDBOX_ANY("lstat"),
	SANDBOX_ANY("access"), SANDBOX_ANY("faccessat"),
	SANDBOX_ANY("faccessat2"), SANDBOX_ANY("getdents64"),
	SANDBOX_ANY("dup"), SANDBOX_ANY("dup2"),
	SANDBOX_ANY("dup3"),
	/* epoch keys and replay stores */
	SANDBOX_ANY("fsync"), SANDBOX_ANY("fdatasync"), SANDBOX_ANY("ftruncate"),
	SANDBOX_ANY("fallocate"), SANDBOX_ANY("pread64"), SANDBOX_ANY("pwrite64"),
	SANDBOX_ANY("rename"), SANDBOX_ANY("renameat"), SANDBOX_ANY("renameat2"),
	SANDBOX_ANY("unlink"), SANDBOX_ANY("unlinkat"), SANDBOX_ANY("mkdir"),
	SANDBOX_ANY("mkdirat"), SANDBOX_ANY("rmdir"), SANDBOX_ANY("fchmod"),
	/* epoch keys live in sodium_malloc'd, mlocked pages */
	SANDBOX_ANY("mlock"), SANDBOX_ANY("munlock"),
	/* the event base's precise timer (EVENT_BASE_FLAG_PRECISE_TIMER) */
	SANDBOX_ANY("timerfd_create"), SANDBOX_ANY("timerfd_settime"),
#ifdef NYMD_SANITIZERS
	/* LeakSanitizer stops the world at exit: a clone (not a thread)
	 * lists the threads and ptraces them (as master's list) */
	SANDBOX_ANY("clone"), SANDBOX_ANY("ptrace"), SANDBOX_ANY("getdents"),
	SANDBOX_ANY("mincore"), SANDBOX_ANY("rt_sigtimedwait"),
#endif
	SANDBOX_END,
};

/* jansson's hash seed, from /dev/urandom at its first object */
static int
node_sandbox_prepare(void)
{
	json_object_seed(0);
	return 0;
}

int
node_sandbox(const char *program, const char *data_dir,
    const struct sandbox_call *role_calls)
{
	/*
	 * The data directory (epoch keys, replay stores, the provider's
	 * mailbox store) but not the node's home above it, where its private
	 * and identity keys are: they were read before. Read-only: what the
	 * resolver and libcurl read (whole directories, as netd's: files
	 * there are replaced by rename). No library directory: nothing is
	 * loaded once confined.
	 */
	const struct sandbox_path paths[] = {
		{ data_dir, SANDBOX_WRITE_DIRS },
		{ "/etc", SANDBOX_READ },
		{ "/usr", SANDBOX_READ },
		{ "/run/systemd/resolve", SANDBOX_READ },
		{ "/run/resolvconf", SANDBOX_READ },
		{ "/run/NetworkManager", SANDBOX_READ },
		{ "/dev/urandom", SANDBOX_READ },
	};
	const struct sandbox_policy policy = {
		.role = program,
		.paths = paths,
		.npaths = sizeof(paths) / sizeof(paths[0]),
		.calls = node_calls,
		.more_calls = role_calls,
		/* the Sphinx workers (work.h), started once confined */
		.threads = 1,
		.prepare = node_sandbox_prepare,
	};

	return sandbox_confine_self(&policy);
}

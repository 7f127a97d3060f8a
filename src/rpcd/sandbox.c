#include <config.h>

#include "common/sandbox.h"
#include "rpcd/rpcd.h"

/*
 * rpcd parses what any local application sends and runs as the key's
 * owner; without a chroot (not started as root) only this keeps the
 * client's private key file out of its reach. "." is the data directory
 * (rpcd_open_queue), also inside a chroot to it: SQLite's store, -wal and
 * -shm. /dev/urandom, where it exists, for SQLite's randomness.
 */
static const struct sandbox_path rpcd_paths[] = {
	{ ".", 1 },
	{ "/dev/urandom", 0 },
};

int
rpcd_landlock(void)
{
	return sandbox_landlock_role("rpcd", rpcd_paths,
	    sizeof(rpcd_paths) / sizeof(rpcd_paths[0]));
}

int
rpcd_sandbox(void)
{
	static const char *const calls[] = {
		/* serving already-bound listeners: accepting, peer checks */
		"accept", "accept4", "getsockopt", "setsockopt", "getsockname",
		"getpeername", "shutdown", "sendto", "recvfrom", "ioctl",
		/* SQLite's message store, in the (chroot) data directory: its
		 * -wal and -shm files, locks and fsync */
		"openat", "pread64", "pwrite64", "fsync", "fdatasync", "ftruncate",
		"unlink", "stat", "lstat", "access", "faccessat", "fchown", "fchmod",
		"getcwd", "mprotect",
		/* the space left, in the answer to a send that could not be
		 * stored (statvfs) */
		"statfs", "fstatfs",
		NULL,
	};
	scmp_filter_ctx ctx = sandbox_filter_new();

	if (ctx == NULL)
		return -1;
	if (sandbox_allow(ctx, calls) == -1) {
		seccomp_release(ctx);
		return -1;
	}
	return sandbox_load(ctx);
}

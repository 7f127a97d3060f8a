#include <config.h>

#include "common/sandbox.h"
#include "rpcd/rpcd.h"

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

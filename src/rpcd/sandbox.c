#include <config.h>

#include <sys/ioctl.h>

#include "common/sandbox.h"
#include "rpcd/rpcd.h"

/*
 * rpcd parses what any local application sends and runs as the key's
 * owner: this keeps the client's private key file out of its reach. "."
 * is the data directory (rpcd_open_queue): SQLite's store, -wal, -shm,
 * -reserve and -retired. /dev/urandom, where it exists, for SQLite's
 * randomness.
 */
static const struct sandbox_path rpcd_paths[] = {
	{ ".", 1 },
	{ "/dev/urandom", 0 },
};

/*
 * rpcd serves listeners bound before the sandbox and asks the kernel
 * (sock_diag, a socket also opened before) who its TCP peers are: it
 * creates no socket and connects nowhere.
 */
static const struct sandbox_call rpcd_calls[] = {
	/* accepting, peer checks, the sock_diag request and answer */
	SANDBOX_ANY("accept"), SANDBOX_ANY("accept4"), SANDBOX_ANY("getsockopt"),
	SANDBOX_ANY("setsockopt"), SANDBOX_ANY("getsockname"),
	SANDBOX_ANY("getpeername"), SANDBOX_ANY("shutdown"), SANDBOX_ANY("sendto"),
	SANDBOX_ANY("recvfrom"),
	/* libevent asks how much a socket has to read; nothing else */
	SANDBOX_ARG("ioctl", 1, FIONREAD),
	/* SQLite's message store, in the data directory: its -wal
	 * and -shm files, locks and fsync */
	SANDBOX_ANY("openat"), SANDBOX_ANY("pread64"), SANDBOX_ANY("pwrite64"),
	SANDBOX_ANY("fsync"), SANDBOX_ANY("fdatasync"), SANDBOX_ANY("ftruncate"),
	SANDBOX_ANY("unlink"), SANDBOX_ANY("stat"), SANDBOX_ANY("lstat"),
	SANDBOX_ANY("access"), SANDBOX_ANY("faccessat"), SANDBOX_ANY("fchown"),
	SANDBOX_ANY("fchmod"), SANDBOX_ANY("getcwd"),
	/* the space left, in the answer to a send that could not be stored
	 * (statvfs) */
	SANDBOX_ANY("statfs"), SANDBOX_ANY("fstatfs"),
	SANDBOX_END,
};

const struct sandbox_policy rpcd_policy = {
	.role = "rpcd",
	.paths = rpcd_paths,
	.npaths = sizeof(rpcd_paths) / sizeof(rpcd_paths[0]),
	.calls = rpcd_calls,
};

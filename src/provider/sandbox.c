/*
 * What nym-provider adds to the node core's sandbox (src/node/sandbox.c):
 * its mailbox store, SQLite in WAL mode in the data directory (which
 * Landlock already lets it write), and the store's reserve file.
 */
#include <config.h>

#include "provider/provider.h"

const struct sandbox_call provider_sandbox_calls[] = {
	/* SQLite's unix VFS: the database, -wal and -shm (mmap'd shared,
	 * never executable: the base list's rule), their locks (fcntl),
	 * syncs and truncation; it resolves the database's path through
	 * symbolic links and, as root, keeps the -wal owned as the database */
	SANDBOX_ANY("readlink"), SANDBOX_ANY("readlinkat"), SANDBOX_ANY("getcwd"),
	SANDBOX_ANY("fchown"),
	/* the reserve's free space check (statvfs) */
	SANDBOX_ANY("statfs"), SANDBOX_ANY("fstatfs"),
	SANDBOX_END,
};

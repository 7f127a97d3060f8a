/*
 * The sandbox of nym-mixnode and nym-provider (docs/threat-model.md):
 * installed by node_run() once the node has read its keys, opened its
 * epoch keys and stores and bound its ports, before the first byte from a
 * peer is read.
 */
#ifndef NYMD_NODE_SANDBOX_H
#define NYMD_NODE_SANDBOX_H

#include "common/sandbox.h"

/*
 * Confines this process for good: Landlock to data_dir (and the read-only
 * system files the resolver and libcurl read), seccomp to the node core's
 * calls plus role_calls (NULL: none). Returns 0 or -1 (logged).
 */
int	node_sandbox(const char *program, const char *data_dir,
	    const struct sandbox_call *role_calls);

#endif /* NYMD_NODE_SANDBOX_H */

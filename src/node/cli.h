/*
 * The command line shared by nym-mixnode and nym-provider:
 *   PROG init --id NAME [--home DIR] --host IP --port N [--layer L]
 *             --directory URL [--force]
 *   PROG run --id NAME [--home DIR] [--log-level LEVEL]
 */
#ifndef NYMD_NODE_CLI_H
#define NYMD_NODE_CLI_H

#include "node/config.h"
#include "node/node.h"

/* Exit statuses (also in the man pages). */
#define NODE_EXIT_OK		0
#define NODE_EXIT_FAILURE	1	/* the node failed while running */
#define NODE_EXIT_USAGE		2
#define NODE_EXIT_CONFIG	3	/* configuration, keys or data directory */

int	node_main(int argc, char **argv, enum node_role, const struct node_ops *);

#endif /* NYMD_NODE_CLI_H */

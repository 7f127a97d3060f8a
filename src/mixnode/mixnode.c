/*
 * nym-mixnode: a Loopix mix.  Everything it does is the shared node core
 * (src/node/); a mixnode only relays, so it plugs in no hooks: DELIVER
 * packets and control requests are refused by the core.
 */
#include <config.h>

#include "node/cli.h"

static const struct node_ops mixnode_ops;

int
main(int argc, char **argv)
{
	return node_main(argc, argv, NODE_ROLE_MIXNODE, &mixnode_ops);
}

/*
 * The typed topology that netd hands keyd and rpcd (proto/ipc.proto,
 * Topology): made from what topology_parse() read from the directory,
 * and read back with size and bound checks only.
 */
#ifndef NYMD_TOPOLOGY_IPC_H
#define NYMD_TOPOLOGY_IPC_H

#include <stddef.h>

#include "common/topology.h"
#include "ipc.pb-c.h"

struct topology_ipc;

/* The message for t; it points into t, which must outlive it. NULL when
 * out of memory. */
struct topology_ipc *topology_ipc_new(const struct topology *t);
Nymipc__Topology *topology_ipc_msg(struct topology_ipc *);
void	topology_ipc_free(struct topology_ipc *);
/* 0, or -1 with the reason in err (a peer that sends it is broken). */
int	topology_from_ipc(const Nymipc__Topology *, struct topology **out,
	    char *err, size_t errlen);

#endif

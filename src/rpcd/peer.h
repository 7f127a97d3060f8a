/*
 * The uid behind a local TCP peer, from the kernel's socket table
 * (sock_diag), so that rpcd serves only its own user.
 */
#ifndef NYMD_RPCD_PEER_H
#define NYMD_RPCD_PEER_H

#include <sys/types.h>

/* A NETLINK_SOCK_DIAG socket (open it before the sandbox), or -1. */
int	peer_diag_open(void);
/* The uid owning the socket at the other end of the connected TCP socket
 * fd (a loopback peer, in this network namespace): 0, or -1 with errno
 * (ENOENT: no such socket, e.g. it is gone already). */
int	peer_tcp_uid(int diag, int fd, uid_t *uid);

#endif

#ifndef NYMD_NETD_H
#define NYMD_NETD_H

#include "common/proc.h"
#include "common/sandbox.h"

extern const struct proc_role netd_role;
/* Its sandbox (netd/sandbox.c): TCP/UDP over IPv4 and IPv6 and the
 * resolver; read-only access to the resolver's, TLS's and NSS's files,
 * nothing else (Landlock, where the kernel has it). No exec. */
extern const struct sandbox_policy netd_policy;
/* Warns if the client home lies where netd may read. */
void	netd_check_home(const char *home);

#endif

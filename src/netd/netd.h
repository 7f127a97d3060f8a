#ifndef NYMD_NETD_H
#define NYMD_NETD_H

#include "common/proc.h"

extern const struct proc_role netd_role;
/* Networking and the resolver, no exec. */
int	netd_sandbox(void);
/* Read-only access to the resolver's, TLS's and NSS's files, nothing
 * else (Landlock, where the kernel has it); home is only checked. */
int	netd_landlock(const char *home);

#endif

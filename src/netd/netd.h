#ifndef NYMD_NETD_H
#define NYMD_NETD_H

#include "common/proc.h"

extern const struct proc_role netd_role;
/* Networking and the resolver, no exec. */
int	netd_sandbox(void);

#endif

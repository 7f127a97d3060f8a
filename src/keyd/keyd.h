#ifndef NYMD_KEYD_H
#define NYMD_KEYD_H

#include "common/proc.h"

extern const struct proc_role keyd_role;
/* The allow-list: no socket, no open, no exec. */
int	keyd_sandbox(void);

#endif

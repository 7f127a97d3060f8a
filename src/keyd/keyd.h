#ifndef NYMD_KEYD_H
#define NYMD_KEYD_H

#include "common/proc.h"
#include "common/sandbox.h"

extern const struct proc_role keyd_role;
/* Its sandbox (keyd/sandbox.c): no socket, no open, no exec, no ioctl. */
extern const struct sandbox_policy keyd_policy;

#endif

#ifndef NYMD_DIRECTORY_SANDBOX_H
#define NYMD_DIRECTORY_SANDBOX_H

#include "common/sandbox.h"

/* What nym-directory may do once confined (sandbox.c). */
extern const struct sandbox_policy directory_policy;

/* Confines this process for good; 0 or -1 (logged). */
int	directory_sandbox(void);

#endif /* NYMD_DIRECTORY_SANDBOX_H */

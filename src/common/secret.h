/*
 * Memory for secrets: libsodium's guarded pages, locked in RAM so that a
 * key is never written to swap. libsodium ignores a failed mlock; nymd
 * does not: the first failure in a process is a warning naming the limit
 * to raise.
 */
#ifndef NYMD_SECRET_H
#define NYMD_SECRET_H

#include <stddef.h>

/* sodium_malloc(len), and a warning (once per process) when its pages
 * could not be locked. NULL when out of memory. */
void	*secret_alloc(size_t len);
/* 1 if this process may lock memory now (a one-page mlock works), else
 * 0 with errno: what the sandbox's start-up line reports. */
int	 secret_mlock_works(void);

#endif

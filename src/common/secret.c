/*
 * Locked memory for secrets. libsodium's sodium_malloc() calls mlock()
 * and carries on when it fails (a low RLIMIT_MEMLOCK, a seccomp filter
 * that refuses mlock, as systemd-nspawn's does): the key would then be
 * swappable without a word. mlock() of pages already locked costs
 * nothing and fails just as sodium's did, so it tells which happened.
 */
#include <config.h>

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "common/secret.h"

static void
secret_warn_unlocked(void)
{
	static int warned;

	if (warned++)
		return;
	log_warn("cannot lock secret memory in RAM (mlock), so a key may be "
	    "written to swap: raise the limit on locked memory (systemd: "
	    "LimitMEMLOCK= in the unit, which ships 8M; a shell: ulimit -l) "
	    "or allow mlock in the system call filter around nymd");
}

void *
secret_alloc(size_t len)
{
	void *p = sodium_malloc(len);

	if (p != NULL && len > 0 && mlock(p, len) == -1)
		secret_warn_unlocked();
	return p;
}

int
secret_mlock_works(void)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int ok, saved;

	if (page <= 0)
		page = 4096;
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	ok = mlock(p, (size_t)page) == 0;
	saved = errno;
	if (ok)
		munlock(p, (size_t)page);
	munmap(p, (size_t)page);
	errno = saved;
	return ok;
}

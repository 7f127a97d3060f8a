/*
 * An LD_PRELOAD shim for tests/integration/oom.sh: in the nymd child named
 * by FAILALLOC_ROLE (its NYMD_CHILD), calloc() of exactly FAILALLOC_BYTES
 * bytes in all fails with ENOMEM, as when memory has run out. Every other
 * allocation, and every other process, goes to glibc untouched. Built only
 * for the tests, never installed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void	*__libc_calloc(size_t, size_t);

static int		armed = -1;	/* not decided yet */
static unsigned long	fail_bytes;

static int
failalloc_armed(void)
{
	const char *role, *child, *bytes;
	char *end;

	if (armed != -1)
		return armed;
	armed = 0;
	role = getenv("FAILALLOC_ROLE");
	child = getenv("NYMD_CHILD");
	bytes = getenv("FAILALLOC_BYTES");
	if (role == NULL || child == NULL || bytes == NULL || strcmp(role, child) != 0)
		return 0;
	fail_bytes = strtoul(bytes, &end, 10);
	armed = *end == '\0' && fail_bytes > 0;
	return armed;
}

void *
calloc(size_t nmemb, size_t size)
{
	if (failalloc_armed() && size != 0 && nmemb <= (size_t)-1 / size &&
	    nmemb * size == fail_bytes) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(nmemb, size);
}

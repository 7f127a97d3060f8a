/*
 * A host NSS module for tests only (tests/integration/nss.sh), standing
 * for the host's modules that a sandboxed netd must never load
 * (mymachines, systemd, sss, ldap): every host lookup through it first
 * makes calls netd's seccomp filter forbids, prctl(2) as nss-mymachines
 * and nss-systemd do and getppid(2), which no nymd role may make in any
 * build, then says it does not know the name. Outside a sandbox it says
 * on stderr that it was asked. Installed for glibc by a private
 * ld.so.cache and nsswitch.conf ("hosts: nymdtest files dns") in a mount
 * namespace of the test's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct gaih_addrtuple;

enum nss_status _nss_nymdtest_gethostbyname4_r(const char *, struct gaih_addrtuple **,
    char *, size_t, int *, int *, int32_t *);
enum nss_status _nss_nymdtest_gethostbyname3_r(const char *, int, struct hostent *,
    char *, size_t, int *, int *, int32_t *, char **);
enum nss_status _nss_nymdtest_gethostbyname2_r(const char *, int, struct hostent *,
    char *, size_t, int *, int *);
enum nss_status _nss_nymdtest_gethostbyname_r(const char *, struct hostent *, char *,
    size_t, int *, int *);

static enum nss_status
nymdtest_lookup(const char *name, int *errnop, int *herrnop)
{
	char comm[16];

	(void)prctl(PR_GET_NAME, comm, 0, 0, 0);
	(void)syscall(SYS_getppid);
	fprintf(stderr, "libnss_nymdtest: lookup of %s\n", name);
	*errnop = ENOENT;
	*herrnop = HOST_NOT_FOUND;
	return NSS_STATUS_NOTFOUND;
}

enum nss_status
_nss_nymdtest_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat,
    char *buf, size_t buflen, int *errnop, int *herrnop, int32_t *ttlp)
{
	return nymdtest_lookup(name, errnop, herrnop);
}

enum nss_status
_nss_nymdtest_gethostbyname3_r(const char *name, int af, struct hostent *h, char *buf,
    size_t buflen, int *errnop, int *herrnop, int32_t *ttlp, char **canonp)
{
	return nymdtest_lookup(name, errnop, herrnop);
}

enum nss_status
_nss_nymdtest_gethostbyname2_r(const char *name, int af, struct hostent *h, char *buf,
    size_t buflen, int *errnop, int *herrnop)
{
	return nymdtest_lookup(name, errnop, herrnop);
}

enum nss_status
_nss_nymdtest_gethostbyname_r(const char *name, struct hostent *h, char *buf,
    size_t buflen, int *errnop, int *herrnop)
{
	return nymdtest_lookup(name, errnop, herrnop);
}

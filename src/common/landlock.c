/*
 * Landlock (Linux 5.13 and later): which files a process may still open
 * once it is sandboxed. seccomp cannot look at paths, so a role that must
 * keep openat() (netd: the resolver reads /etc/hosts and loads NSS
 * modules) is confined here to the paths it names. On a kernel without
 * Landlock this does nothing and says so; seccomp still applies.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "common/log.h"
#include "common/sandbox.h"

/* The kernel's ABI, stable, defined here for older headers. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset	444
#define __NR_landlock_add_rule		445
#define __NR_landlock_restrict_self	446
#endif
#define LL_FS_TRUNCATE		(UINT64_C(1) << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV		(UINT64_C(1) << 15)	/* ABI 5 */
#define LL_SCOPE_ABSTRACT_UNIX	(UINT64_C(1) << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL		(UINT64_C(1) << 1)	/* ABI 6 */

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

/* The rights that make sense on a file (the others are on directories). */
#define LL_FILE_RIGHTS	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | LL_FS_TRUNCATE | \
			 LL_FS_IOCTL_DEV)
#define LL_READ		(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_WRITE	(LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | LL_FS_TRUNCATE)
#define LL_WRITE_DIRS	(LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR)

/*
 * ENOSYS (not built in) and EOPNOTSUPP (built in, not enabled at boot)
 * are the kernel saying it has no Landlock. Anything else, EPERM above
 * all, is a seccomp filter around nymd (systemd's SystemCallFilter=, a
 * container's) refusing the call on a kernel that may well have it.
 */
int
sandbox_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	if (v >= 0)
		return (int)v;
	if (errno == ENOSYS || errno == EOPNOTSUPP)
		return 0;
	return -1;
}

/* Every filesystem right this ABI knows: all of them are denied unless a
 * rule grants them. */
static uint64_t
ll_handled_fs(int abi)
{
	uint64_t a = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		a |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		a |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a |= LL_FS_IOCTL_DEV;
	return a;
}

static int
ll_add_path(int ruleset, const struct sandbox_path *p, uint64_t handled)
{
	struct landlock_path_beneath_attr rule;
	struct stat st;
	int fd, rc, saved;

	if ((fd = open(p->path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;	/* nothing to allow */
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	memset(&rule, 0, sizeof(rule));
	rule.parent_fd = fd;
	rule.allowed_access = (p->writable >= SANDBOX_WRITE_DIRS ?
	    LL_READ | LL_WRITE | LL_WRITE_DIRS : p->writable ? LL_READ | LL_WRITE :
	    LL_READ) & handled;
	if (!S_ISDIR(st.st_mode))
		rule.allowed_access &= LL_FILE_RIGHTS;
	rc = (int)syscall(__NR_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	saved = errno;
	close(fd);
	errno = saved;
	return rc == 0 ? 0 : -1;
}

int
sandbox_landlock(const struct sandbox_path *paths, size_t n)
{
	struct ll_ruleset_attr attr;
	size_t attr_size;
	int abi = sandbox_landlock_abi(), ruleset, saved;

	if (abi < 1)
		return 1;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = ll_handled_fs(abi);
	attr_size = sizeof(attr.handled_access_fs);
	/* No signals to, and no abstract sockets of, processes outside. */
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ll_add_path(ruleset, &paths[i], attr.handled_access_fs) == -1)
			goto fail;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    syscall(__NR_landlock_restrict_self, ruleset, 0) == -1)
		goto fail;
	close(ruleset);
	return 0;
fail:
	saved = errno;
	close(ruleset);
	errno = saved;
	return -1;
}

int
sandbox_landlock_role(const char *role, const struct sandbox_path *paths, size_t n)
{
	int abi = sandbox_landlock_abi(), rc;

	if (abi == 0) {
		log_info("this kernel has no Landlock: %s may open any file its "
		    "user can (seccomp still applies)", role);
		return 0;
	}
	if (abi < 0) {
		/* Not fatal: seccomp still applies, and nymd worked so before.
		 * But the protection nymd claims is off, so say it loudly. */
		log_warn("Landlock is refused by a system call filter around "
		    "nymd, not missing from the kernel: %s may open any file "
		    "its user can. Allow landlock_create_ruleset, "
		    "landlock_add_rule and landlock_restrict_self (systemd: "
		    "add them to SystemCallFilter= of the unit; a container: "
		    "to its seccomp profile, e.g. systemd-nspawn "
		    "--system-call-filter=)", role);
		return 0;
	}
	if ((rc = sandbox_landlock(paths, n)) == 0)
		log_debug("%s confined by Landlock (ABI %d)", role, abi);
	return rc == -1 ? -1 : 0;
}

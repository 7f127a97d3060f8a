/*
 * Sandbox helpers shared by the roles: a seccomp allow-list whose default
 * action kills the process, no_new_privs, and, when nymd starts as root,
 * the privilege drop (chroot, setgroups, setresgid, setresuid, capabilities).
 * Each role builds its own list in ROLE/sandbox.c from these pieces.
 */
#ifndef NYMD_SANDBOX_H
#define NYMD_SANDBOX_H

#include <sys/types.h>

#include <seccomp.h>

/* A new filter with the calls every role needs (see sandbox.c). */
scmp_filter_ctx sandbox_filter_new(void);
/* Allows the named calls (NULL-terminated); -1 if a name is unknown. */
int	sandbox_allow(scmp_filter_ctx, const char *const *names);
/* Threads only: clone() with CLONE_THREAD; clone3() fails with ENOSYS. */
int	sandbox_allow_threads(scmp_filter_ctx);
/* Sets no_new_privs and loads the filter; the ctx is released. */
int	sandbox_load(scmp_filter_ctx);

/*
 * For children started with the master's capabilities: chroot to dir (if
 * not NULL or empty), switch to uid/gid and give up every capability.
 * Without privileges (uid == getuid() and no capabilities) it does nothing.
 */
int	sandbox_drop_privileges(const char *chroot_dir, uid_t uid, gid_t gid);
/*
 * For the master started as root: become uid/gid but keep, as ambient
 * capabilities passed to re-executed children, only what they need to
 * finish their privileged set-up in a root-owned client home (read the
 * key, bind the socket, chroot, change uid).
 */
int	sandbox_master_become(uid_t uid, gid_t gid);
/* 1 if this process holds any capability in its effective set. */
int	sandbox_privileged(void);

/*
 * Landlock (landlock.c): after sandbox_landlock(), this process and its
 * children may open only what is beneath the paths given (read-only, or
 * also create, write and remove files if writable), and may not signal or
 * reach the abstract unix sockets of processes outside the sandbox.
 * Missing paths are skipped. Returns 0, 1 if the kernel has no Landlock
 * (nothing done), or -1 with errno.
 */
struct sandbox_path {
	const char	*path;
	int		 writable;
};
int	sandbox_landlock(const struct sandbox_path *, size_t);
/* sandbox_landlock() for a role, saying in the log what it did; 0 (also
 * without Landlock) or -1 with errno. */
int	sandbox_landlock_role(const char *role, const struct sandbox_path *, size_t);
/* The kernel's Landlock ABI version, 0 without Landlock. */
int	sandbox_landlock_abi(void);

#endif

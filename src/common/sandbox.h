/*
 * Sandbox helpers shared by the roles: a seccomp allow-list whose default
 * action kills the process, no_new_privs, Landlock, and the privilege drop
 * (setgroups, setresgid, setresuid, every capability) that master makes
 * when started as root, before any child exists.
 * Each role declares its struct sandbox_policy in ROLE/sandbox.c.
 */
#ifndef NYMD_SANDBOX_H
#define NYMD_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include <seccomp.h>

/*
 * One system call a role may make, after OpenSSH's sandbox-seccomp-filter:
 * with any arguments, or only when argument `arg` compares as given (one
 * entry per allowed value). `fail` makes a matching call fail with that
 * errno instead of being allowed (for calls a library makes and copes
 * with failing). A call matching no entry kills the process.
 */
struct sandbox_call {
	const char		*name;
	int			 arg;	/* -1: any arguments */
	enum scmp_compare	 op;
	uint64_t		 a, b;	/* libseccomp's datum_a, datum_b */
	int			 fail;	/* 0: allow; else fail with this errno */
};
#define SANDBOX_ANY(n)			{ (n), -1, SCMP_CMP_EQ, 0, 0, 0 }
/* Allowed when argument i equals v. */
#define SANDBOX_ARG(n, i, v)		{ (n), (i), SCMP_CMP_EQ, (v), 0, 0 }
/* Allowed when argument i has none of the bits in m. */
#define SANDBOX_NOBITS(n, i, m)		{ (n), (i), SCMP_CMP_MASKED_EQ, (m), 0, 0 }
/* Fails with errno e when argument i equals v. */
#define SANDBOX_FAIL(n, i, v, e)	{ (n), (i), SCMP_CMP_EQ, (v), 0, (e) }
#define SANDBOX_END			{ NULL, -1, SCMP_CMP_EQ, 0, 0, 0 }

struct sandbox_path;

/*
 * What a role may do once confined, declared once in ROLE/sandbox.c and
 * applied by sandbox_confine() for every role in the same order.
 */
struct sandbox_policy {
	const char		*role;
	/* Landlock: the only paths the role may open (none if npaths 0). */
	const struct sandbox_path *paths;
	size_t			 npaths;
	/* seccomp: beyond sandbox.c's base list (time, memory without
	 * PROT_EXEC, the event loop, IPC), SANDBOX_END-terminated. */
	const struct sandbox_call *calls;
	/* A second such list, or NULL: what one program adds to a core
	 * it shares with another (nym-provider's to the node core's). */
	const struct sandbox_call *more_calls;
	/* May start threads (clone with CLONE_THREAD). */
	int			 threads;
	/* Run before the filter goes in, e.g. to load what a library
	 * would otherwise load later; NULL if nothing. */
	int			(*prepare)(void);
};

/*
 * Confines this process for good, in one order: prepare, privilege drop
 * (to uid/gid, if it holds any capability: it should not, master has
 * none), PR_SET_DUMPABLE 0, Landlock, seccomp. Returns 0, or -1 (logged).
 */
int	sandbox_confine(const struct sandbox_policy *, uid_t uid, gid_t gid);
/*
 * The same for a program that runs on its own (nym-mixnode, nym-provider,
 * nym-directory) once it has read its keys and bound its ports: prepare,
 * every capability given up (no change of user: it runs as the user it
 * was started as), PR_SET_DUMPABLE 0, Landlock, seccomp. No parent-death
 * signal: it is nobody's child. Returns 0, or -1 (logged).
 */
int	sandbox_confine_self(const struct sandbox_policy *);
/* The seccomp part alone (no_new_privs, then the filter); -1 on failure. */
int	sandbox_seccomp(const struct sandbox_policy *);
/* A filter from call lists (NULL-terminated) alone, without the base
 * list: a call matching no entry kills the process, or fails with
 * fail_errno if it is not 0. Sets no_new_privs. */
int	sandbox_seccomp_lists(const struct sandbox_call *const *lists, int fail_errno);

/*
 * Switches to uid/gid and gives up every capability (permitted,
 * effective, inheritable, ambient) for good, and makes the process
 * undumpable. Without privileges (no effective capability) it does
 * nothing. -1 with errno on failure, or if root could be regained.
 */
int	sandbox_drop_privileges(uid_t uid, gid_t gid);
/* Started as root: 0 if this process has the capabilities master needs
 * to hand the client's home to the service user and switch to it, else
 * -1 with why naming each one missing and what to do. */
int	sandbox_master_check(char *why, size_t whylen);
/* Gives up every capability (permitted, effective, inheritable, ambient)
 * without changing user: root in a user namespace that cannot switch to
 * the service user then runs as an unprivileged start does. 0 or -1. */
int	sandbox_shed_capabilities(void);
/* 1 if this process holds any capability in its effective set. */
int	sandbox_privileged(void);

/*
 * Landlock (landlock.c): after sandbox_landlock(), this process and its
 * children may open only what is beneath the paths given (read-only, or
 * also create, write and remove files if writable), and may not signal or
 * reach the abstract unix sockets of processes outside the sandbox.
 * Missing paths are skipped. Returns 0, 1 if Landlock is unavailable
 * (no kernel support, or refused by a filter: nothing done), or -1 with
 * errno.
 */
struct sandbox_path {
	const char	*path;
	int		 writable;	/* SANDBOX_READ ... SANDBOX_WRITE_DIRS */
};
#define SANDBOX_READ		0	/* read files, list directories */
#define SANDBOX_WRITE		1	/* also create, write and remove files */
#define SANDBOX_WRITE_DIRS	2	/* also make and remove directories */
int	sandbox_landlock(const struct sandbox_path *, size_t);
/* sandbox_landlock() for a role, saying in the log what it did (a warning
 * naming the fix when a filter refuses Landlock); 0 (also without
 * Landlock) or -1 with errno. */
int	sandbox_landlock_role(const char *role, const struct sandbox_path *, size_t);
/* The kernel's Landlock ABI version; 0 when the kernel has none (ENOSYS,
 * EOPNOTSUPP); -1 with errno (EPERM) when a seccomp filter around this
 * process refuses the call. */
int	sandbox_landlock_abi(void);

#endif

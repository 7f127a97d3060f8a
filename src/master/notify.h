/*
 * systemd's readiness protocol (sd_notify(3)), for the master process.
 *
 * libsystemd is loaded with dlopen(), and only when NOTIFY_SOCKET says a
 * service manager listens: linked, it and what it pulls in (libgcrypt,
 * libgpg-error, liblzma, libzstd, liblz4, libcap) cost each of nymd's
 * four processes about 1 MiB of resident memory, for one call in one of
 * them. Built --without-systemd, both functions do nothing.
 */
#ifndef NYMD_MASTER_NOTIFY_H
#define NYMD_MASTER_NOTIFY_H

/* 0: loaded, or no NOTIFY_SOCKET; -1: set but unusable (logged). */
int	notify_init(void);
/* sd_notify(0, state) once notify_init() has loaded it; else nothing. */
void	notify_state(const char *state);

#endif

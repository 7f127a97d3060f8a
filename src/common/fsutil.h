/* Small file helpers shared by the modules that write state. */
#ifndef NYMD_FSUTIL_H
#define NYMD_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Reads until EOF or cap bytes; returns the count or -1 with errno. */
ssize_t	fs_read_all(int fd, void *buf, size_t cap);
/* Writes all bytes, retrying short writes and EINTR; 0 or -1. */
int	fs_write_all(int fd, const void *buf, size_t len);
/*
 * Replaces path with data: a temporary file beside it with the given mode,
 * fsync, rename, then fsync of the directory, so that a reader sees either
 * the old file or the whole new one. 0 or -1 with errno.
 */
int	fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/*
 * Reads a whole regular file of at most max bytes into a new buffer (NUL
 * terminated, owned by the caller) and its permission bits into *modep if
 * not NULL. 0, or -1 with errno (EFBIG: larger than max; EINVAL: not a
 * regular file).
 */
int	fs_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
	    mode_t *modep);
/* mkdir -p with mode for every directory it creates; 0 or -1 with errno. */
int	fs_mkdirs(const char *path, unsigned mode);
/*
 * 1 if s is 1 to max characters of POSIX's portable filename set
 * [A-Za-z0-9._-] and does not start with '-' (an option lookalike), nor
 * with '.' unless dot_first; 0 otherwise. For names that become paths.
 */
int	fs_name_portable(const char *s, size_t max, int dot_first);

#endif

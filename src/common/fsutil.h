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
 * What a command (init) created, to be removed again if it fails half-way,
 * so that a failed init leaves nothing behind. Record a path before
 * creating it; what existed before is never recorded, never removed.
 */
#define FS_UNDO_MAX	16
struct fs_undo {
	char	*paths[FS_UNDO_MAX];	/* owned */
	int	 isdir[FS_UNDO_MAX];
	size_t	 n;
};
/* Records file path if it does not exist yet; 0 or -1 (ENOMEM, full). */
int	fs_undo_file(struct fs_undo *, const char *path);
/* fs_mkdirs(), recording each directory it makes; 0 or -1 with errno. */
int	fs_undo_mkdirs(struct fs_undo *, const char *path, unsigned mode);
/* Removes what was recorded, newest first (directories only if empty). */
void	fs_undo_rollback(struct fs_undo *);
/* Forgets the records (success): frees them, removes nothing. */
void	fs_undo_keep(struct fs_undo *);
/*
 * 1 if s is 1 to max characters of POSIX's portable filename set
 * [A-Za-z0-9._-] and does not start with '-' (an option lookalike), nor
 * with '.' unless dot_first; 0 otherwise. For names that become paths.
 */
int	fs_name_portable(const char *s, size_t max, int dot_first);

#endif

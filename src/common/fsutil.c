#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

ssize_t
fs_read_all(int fd, void *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(fd, (char *)buf + got, cap - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so that a rename into it lasts. */
static int
fs_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	/* Some file systems cannot sync a directory: nothing more to do. */
	int rc = fsync(fd) == -1 && errno != EINVAL ? -1 : 0;
	close(fd);
	return rc;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	int fd, saved;

	/* A random name: a temporary file left by a crash is no obstacle. */
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	/* The umask must not loosen or tighten what the caller asked for. */
	if (fchmod(fd, mode & 07777) == -1 || fs_write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return fs_fsync_dir(path);
}

int
fs_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
    mode_t *modep)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, saved;

	/* O_NONBLOCK: a FIFO in place of the file must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	/* One byte more than allowed, to notice a file that grew. */
	if ((buf = malloc(max + 1)) == NULL)
		goto fail;
	if ((n = fs_read_all(fd, buf, max + 1)) == -1 || (size_t)n > max) {
		saved = n == -1 ? errno : EFBIG;
		free(buf);
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	*bufp = buf;
	*lenp = (size_t)n;
	if (modep != NULL)
		*modep = st.st_mode & 07777;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Calls fn on each leading directory of path and on path itself
 * ("/a", "/a/b", "/a/b/c"), stopping at the first that fails. */
static int
fs_each_prefix(const char *path, int (*fn)(const char *, void *), void *arg)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (fn(buf, arg) == -1)
				return -1;
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

static int
fs_undo_add(struct fs_undo *u, const char *path, int isdir)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 0;
	if (u->n == FS_UNDO_MAX || (u->paths[u->n] = strdup(path)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	u->isdir[u->n++] = isdir;
	return 0;
}

int
fs_undo_file(struct fs_undo *u, const char *path)
{
	return fs_undo_add(u, path, 0);
}

static int
fs_undo_dir(const char *dir, void *arg)
{
	return fs_undo_add(arg, dir, 1);
}

int
fs_undo_mkdirs(struct fs_undo *u, const char *path, unsigned mode)
{
	if (fs_each_prefix(path, fs_undo_dir, u) == -1)
		return -1;
	return fs_mkdirs(path, mode);
}

void
fs_undo_rollback(struct fs_undo *u)
{
	while (u->n > 0) {
		u->n--;
		if (u->isdir[u->n])
			(void)rmdir(u->paths[u->n]);
		else
			(void)unlink(u->paths[u->n]);
		free(u->paths[u->n]);
	}
}

void
fs_undo_keep(struct fs_undo *u)
{
	while (u->n > 0)
		free(u->paths[--u->n]);
}

static int
fs_mkdir_one(const char *dir, void *arg)
{
	if (mkdir(dir, *(const unsigned *)arg) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
fs_mkdirs(const char *path, unsigned mode)
{
	if (fs_each_prefix(path, fs_mkdir_one, &mode) == -1)
		return -1;
	struct stat st;
	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
fs_name_portable(const char *s, size_t max, int dot_first)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || (s[0] == '.' && !dot_first))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * faultfs: a FUSE file system for tests that passes every operation
 * through to a backing directory and makes chosen ones fail on command.
 *
 *	faultfs CONTROL BACKING MOUNTPOINT [FUSE options]
 *
 * BACKING is opened before mounting, so MOUNTPOINT may be BACKING itself.
 * CONTROL, a file outside the mount, holds the faults, one rule a line:
 *
 *	OPS ERRNO GLOB		e.g.	write,fsync EIO nymd.db-wal
 *
 * OPS is a comma-separated list of open (an open for writing, or a
 * create), write (write and fallocate), fsync (fsync and fdatasync of a
 * file; a directory's is never failed) and truncate; ERRNO is EIO, ENOSPC, EROFS or EDQUOT; GLOB
 * (fnmatch(3), no flags) matches the path inside the mount without its
 * leading slash. An operation fails when a rule names it and matches its
 * path. An empty or missing file, or one of comments (#) only, injects
 * nothing. The file is looked at (stat) before every operation that could
 * fail, so a rule holds from the moment its file is written: write a new
 * file and rename it over CONTROL. Every injected fault is said on
 * standard error, one line each.
 *
 * Runs single-threaded. Files and directories created through the mount
 * belong to the caller; mount with -o allow_other,default_permissions when
 * another user uses it. Locks (fcntl and flock) are the kernel's own.
 */
#include <config.h>

#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FAULTFS_MAX_RULES	16
#define FAULTFS_GLOB_BYTES	256

enum faultfs_op {
	OP_OPEN = 1 << 0,
	OP_WRITE = 1 << 1,
	OP_FSYNC = 1 << 2,
	OP_TRUNCATE = 1 << 3,
};

static const struct {
	const char	*name;
	int		 op;
} faultfs_ops[] = {
	{ "open", OP_OPEN }, { "write", OP_WRITE }, { "fsync", OP_FSYNC },
	{ "truncate", OP_TRUNCATE },
};

static const struct {
	const char	*name;
	int		 err;
} faultfs_errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS }, { "EDQUOT", EDQUOT },
};

/* An open file: its descriptor, and its path as opened (paths are not
 * given for operations on open files: nullpath_ok). */
struct faultfs_file {
	int	 fd;
	char	 rel[PATH_MAX];
};

struct faultfs_rule {
	int	 ops;
	int	 err;
	char	 glob[FAULTFS_GLOB_BYTES];
};

static struct {
	const char		*control;
	int			 backing;	/* directory fd */
	struct stat		 seen;		/* of control, as last read */
	struct faultfs_rule	 rules[FAULTFS_MAX_RULES];
	size_t			 n_rules;
} fs;

/* Parses one rule; 0, or -1 (said on standard error). */
static int
faultfs_parse_rule(const char *line, struct faultfs_rule *r)
{
	char ops[128], err[16], *tok, *save = NULL;
	size_t i;

	if (sscanf(line, "%127s %15s %255s", ops, err, r->glob) != 3)
		goto bad;
	r->ops = 0;
	for (tok = strtok_r(ops, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(faultfs_ops) / sizeof(faultfs_ops[0]); i++)
			if (strcmp(tok, faultfs_ops[i].name) == 0)
				break;
		if (i == sizeof(faultfs_ops) / sizeof(faultfs_ops[0]))
			goto bad;
		r->ops |= faultfs_ops[i].op;
	}
	for (i = 0; i < sizeof(faultfs_errnos) / sizeof(faultfs_errnos[0]); i++)
		if (strcmp(err, faultfs_errnos[i].name) == 0)
			break;
	if (i == sizeof(faultfs_errnos) / sizeof(faultfs_errnos[0]))
		goto bad;
	r->err = faultfs_errnos[i].err;
	return 0;
bad:
	fprintf(stderr, "faultfs: %s: bad rule: %s", fs.control, line);
	return -1;
}

/* Reads the control file again if it changed since it was last read. A
 * file with a bad rule injects nothing. */
static void
faultfs_load(void)
{
	struct stat sb;
	char line[512];
	FILE *f;

	if (stat(fs.control, &sb) == -1)
		memset(&sb, 0, sizeof(sb));
	if (sb.st_ino == fs.seen.st_ino && sb.st_size == fs.seen.st_size &&
	    sb.st_mtim.tv_sec == fs.seen.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == fs.seen.st_mtim.tv_nsec)
		return;
	fs.seen = sb;
	fs.n_rules = 0;
	if ((f = fopen(fs.control, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\0')
			continue;
		if (fs.n_rules == FAULTFS_MAX_RULES ||
		    faultfs_parse_rule(p, &fs.rules[fs.n_rules]) == -1) {
			fs.n_rules = 0;
			break;
		}
		fs.n_rules++;
	}
	fclose(f);
}

/* The error to inject into op on rel (a path inside the mount, without
 * its leading slash), or 0. */
static int
faultfs_fault(int op, const char *name, const char *rel)
{
	faultfs_load();
	for (size_t i = 0; i < fs.n_rules; i++) {
		const struct faultfs_rule *r = &fs.rules[i];
		if ((r->ops & op) && fnmatch(r->glob, rel, 0) == 0) {
			fprintf(stderr, "faultfs: %s %s: %s\n", name, rel,
			    strerror(r->err));
			return -r->err;
		}
	}
	return 0;
}

/* The path in the backing directory: relative, "." for the root. */
static const char *
faultfs_rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static struct faultfs_file *
faultfs_file(const struct fuse_file_info *fi)
{
	return (struct faultfs_file *)(uintptr_t)fi->fh;
}

#define FD(fi)	(faultfs_file(fi)->fd)

/* Keeps fd as fi's file; 0 or -errno (fd closed). */
static int
faultfs_keep(struct fuse_file_info *fi, int fd, const char *rel)
{
	struct faultfs_file *f = malloc(sizeof(*f));

	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	fi->fh = (uint64_t)(uintptr_t)f;
	return 0;
}

/* Files made through the mount belong to the caller. */
static int
faultfs_give(int fd, const char *rel)
{
	struct fuse_context *ctx = fuse_get_context();
	int rc;

	if (fd != -1)
		rc = fchown(fd, ctx->uid, ctx->gid);
	else
		rc = fchownat(fs.backing, rel, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW);
	return rc == -1 ? -errno : 0;
}

static void *
faultfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;	/* operations on open files use their fd */
	/* The mount is the only way to the backing files while mounted, so
	 * the kernel's page cache stays valid: kept across opens, never
	 * dropped for a changed mtime (SQLite's -shm is shared through it
	 * by mmap). */
	cfg->kernel_cache = 1;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	return NULL;
}

static int
faultfs_getattr(const char *path, struct stat *sb, struct fuse_file_info *fi)
{
	int rc = fi ? fstat(FD(fi), sb) :
	    fstatat(fs.backing, faultfs_rel(path), sb, AT_SYMLINK_NOFOLLOW);

	return rc == -1 ? -errno : 0;
}

static int
faultfs_readlink(const char *path, char *buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return -EINVAL;
	if ((n = readlinkat(fs.backing, faultfs_rel(path), buf, len - 1)) == -1)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int
faultfs_mkdir(const char *path, mode_t mode)
{
	const char *rel = faultfs_rel(path);

	if (mkdirat(fs.backing, rel, mode) == -1)
		return -errno;
	return faultfs_give(-1, rel);
}

static int
faultfs_unlink(const char *path)
{
	return unlinkat(fs.backing, faultfs_rel(path), 0) == -1 ? -errno : 0;
}

static int
faultfs_rmdir(const char *path)
{
	return unlinkat(fs.backing, faultfs_rel(path), AT_REMOVEDIR) == -1 ? -errno : 0;
}

static int
faultfs_rename(const char *from, const char *to, unsigned int flags)
{
	if (flags != 0)
		return -EINVAL;
	return renameat(fs.backing, faultfs_rel(from), fs.backing,
	    faultfs_rel(to)) == -1 ? -errno : 0;
}

static int
faultfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int rc = fi ? fchmod(FD(fi), mode) :
	    fchmodat(fs.backing, faultfs_rel(path), mode, 0);

	return rc == -1 ? -errno : 0;
}

static int
faultfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int rc = fi ? fchown(FD(fi), uid, gid) :
	    fchownat(fs.backing, faultfs_rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);

	return rc == -1 ? -errno : 0;
}

static int
faultfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, rc;

	if ((rc = faultfs_fault(OP_TRUNCATE, "truncate",
	    fi ? faultfs_file(fi)->rel : faultfs_rel(path))) != 0)
		return rc;
	if (fi)
		return ftruncate(FD(fi), size) == -1 ? -errno : 0;
	if ((fd = openat(fs.backing, faultfs_rel(path), O_WRONLY | O_CLOEXEC)) == -1)
		return -errno;
	rc = ftruncate(fd, size) == -1 ? -errno : 0;
	close(fd);
	return rc;
}

static int
faultfs_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	int rc = fi ? futimens(FD(fi), tv) :
	    utimensat(fs.backing, faultfs_rel(path), tv, AT_SYMLINK_NOFOLLOW);

	return rc == -1 ? -errno : 0;
}

static int
faultfs_open(const char *path, struct fuse_file_info *fi)
{
	const char *rel = faultfs_rel(path);
	int fd, rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY &&
	    (rc = faultfs_fault(OP_OPEN, "open", rel)) != 0)
		return rc;
	if ((fd = openat(fs.backing, rel, fi->flags | O_CLOEXEC)) == -1)
		return -errno;
	return faultfs_keep(fi, fd, rel);
}

static int
faultfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *rel = faultfs_rel(path);
	int fd, rc;

	if ((rc = faultfs_fault(OP_OPEN, "create", rel)) != 0)
		return rc;
	if ((fd = openat(fs.backing, rel, fi->flags | O_CREAT | O_CLOEXEC, mode)) == -1)
		return -errno;
	if ((rc = faultfs_give(fd, rel)) != 0) {
		close(fd);
		return rc;
	}
	return faultfs_keep(fi, fd, rel);
}

static int
faultfs_read(const char *path, char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t n = pread(FD(fi), buf, len, off);

	return n == -1 ? -errno : (int)n;
}

static int
faultfs_write(const char *path, const char *buf, size_t len, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t n;
	int rc;

	if ((rc = faultfs_fault(OP_WRITE, "write", faultfs_file(fi)->rel)) != 0)
		return rc;
	n = pwrite(FD(fi), buf, len, off);
	return n == -1 ? -errno : (int)n;
}

static int
faultfs_statfs(const char *path, struct statvfs *sv)
{
	return fstatvfs(fs.backing, sv) == -1 ? -errno : 0;
}

static int
faultfs_release(const char *path, struct fuse_file_info *fi)
{
	close(FD(fi));
	free(faultfs_file(fi));
	return 0;
}

static int
faultfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int rc;

	if ((rc = faultfs_fault(OP_FSYNC, datasync ? "fdatasync" : "fsync",
	    faultfs_file(fi)->rel)) != 0)
		return rc;
	rc = datasync ? fdatasync(FD(fi)) : fsync(FD(fi));
	return rc == -1 ? -errno : 0;
}

static int
faultfs_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(fs.backing, faultfs_rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		int e = errno;
		close(fd);
		return -e;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int
faultfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	struct dirent *de;

	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (fill(buf, de->d_name, NULL, 0, 0) != 0)
			return -ENOMEM;
	return errno ? -errno : 0;
}

static int
faultfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int
faultfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	return fsync(dirfd((DIR *)(uintptr_t)fi->fh)) == -1 ? -errno : 0;
}

static int
faultfs_fallocate(const char *path, int mode, off_t off, off_t len,
    struct fuse_file_info *fi)
{
	int rc;

	if ((rc = faultfs_fault(OP_WRITE, "fallocate", faultfs_file(fi)->rel)) != 0)
		return rc;
	return fallocate(FD(fi), mode, off, len) == -1 ? -errno : 0;
}

static const struct fuse_operations faultfs_operations = {
	.init = faultfs_init,
	.getattr = faultfs_getattr,
	.readlink = faultfs_readlink,
	.mkdir = faultfs_mkdir,
	.unlink = faultfs_unlink,
	.rmdir = faultfs_rmdir,
	.rename = faultfs_rename,
	.chmod = faultfs_chmod,
	.chown = faultfs_chown,
	.truncate = faultfs_truncate,
	.utimens = faultfs_utimens,
	.open = faultfs_open,
	.create = faultfs_create,
	.read = faultfs_read,
	.write = faultfs_write,
	.statfs = faultfs_statfs,
	.release = faultfs_release,
	.fsync = faultfs_fsync,
	.opendir = faultfs_opendir,
	.readdir = faultfs_readdir,
	.releasedir = faultfs_releasedir,
	.fsyncdir = faultfs_fsyncdir,
	.fallocate = faultfs_fallocate,
};

int
main(int argc, char *argv[])
{
	char *args[64];
	int n = 0;

	if (argc < 4 || argc > 60) {
		fprintf(stderr, "usage: faultfs CONTROL BACKING MOUNTPOINT "
		    "[FUSE options]\n");
		return 2;
	}
	fs.control = argv[1];
	if ((fs.backing = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "faultfs: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	faultfs_load();
	args[n++] = argv[0];
	args[n++] = "-s";	/* one thread: rules need no lock */
	for (int i = 3; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	umask(0);
	return fuse_main(n, args, &faultfs_operations, NULL);
}

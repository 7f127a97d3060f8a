/*
 * One daemon per client: master holds an exclusive flock(2) on
 * DATA_DIR/nymd.lock for its whole life. The kernel releases it when the
 * process goes, however it goes (kill -9 included), so a stale file never
 * blocks a start. The file says who holds it ("PID COMMAND"), for the
 * message a second start prints and for nym_client_start().
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "master/master.h"

#define LOCK_READ_TRIES		20
#define LOCK_READ_WAIT_MS	10

/* What the holder wrote, or "pid unknown" if it has not written it yet. */
static void
lock_describe_holder(int fd, char *out, size_t len)
{
	char buf[128];
	long pid;
	int cmd = 0;

	for (int i = 0; i < LOCK_READ_TRIES; i++) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0 && buf[n - 1] == '\n') {
			buf[n - 1] = '\0';
			if (sscanf(buf, "%ld %n", &pid, &cmd) == 1 && cmd > 0 &&
			    buf[cmd] != '\0') {
				snprintf(out, len, "pid %ld, %s", pid, buf + cmd);
				return;
			}
		}
		struct timespec ts = { 0, LOCK_READ_WAIT_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	snprintf(out, len, "pid unknown");
}

int
master_lock(const char *data_dir, const char *id, const char *command,
    char *why, size_t whylen)
{
	char path[4096], holder[160], line[160];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/" NYMD_LOCK_FILE, data_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(why, whylen, "%s: path too long", data_dir);
		return -1;
	}
	/* Close-on-exec: the children must not hold the lock after master. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			lock_describe_holder(fd, holder, sizeof(holder));
			snprintf(why, whylen, "client '%s' is already running (%s)", id, holder);
		} else
			snprintf(why, whylen, "%s: cannot lock: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), command);
	if (ftruncate(fd, 0) == -1 || n < 0 || (size_t)n >= sizeof(line) ||
	    pwrite(fd, line, (size_t)n, 0) != n) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

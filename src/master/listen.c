/*
 * The unix socket of `nymd run`, bound by master before it gives up its
 * privileges and before any child exists, and handed to every rpcd it
 * starts (PROC_LISTEN_FD): an rpcd restarted after a crash serves the
 * same socket, needs no right to the directory it lies in (nymd started
 * as root, a --path in a directory closed to the user it runs as), and
 * no connection is refused while it restarts.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/master.h"

int
master_listen_unix(const char *path, unsigned mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long for a unix socket");
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket left by an unclean stop is replaced; anything else is not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "exists and is not a socket");
			return -1;
		}
		(void)unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Never reachable by others, even for a moment before chmod. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	/* socket_mode: config.c keeps it within 0600..0777 */
	if (rc == -1 || chmod(path, (mode_t)(mode & 0777)) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

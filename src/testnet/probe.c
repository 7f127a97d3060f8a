/*
 * What nym-testnet asks of the outside: free ports on loopback, and the
 * directory's answers over HTTP (common/http.c), the topology parsed by the one
 * topology parser.
 */
#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/http.h"

#include "testnet/testnet.h"

int
testnet_probe_ports(uint16_t *ports, size_t n)
{
	int *fds, rc = -1, saved = 0;
	size_t i, opened = 0;

	if ((fds = calloc(n ? n : 1, sizeof(*fds))) == NULL)
		return -1;
	/* All bound at once, so that the kernel hands out distinct ports. */
	for (i = 0; i < n; i++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = 0;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			goto out;
		opened++;
		if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fds[i], (struct sockaddr *)&sin, &len) == -1)
			goto out;
		ports[i] = ntohs(sin.sin_port);
	}
	rc = 0;
out:
	saved = errno;
	for (i = 0; i < opened; i++)
		close(fds[i]);
	free(fds);
	errno = saved;
	return rc;
}

int
testnet_probe_get(const char *url, char **body, size_t *len, long *status,
    char *err, size_t errlen)
{
	return http_get_sync(url, NULL, TESTNET_HTTP_TIMEOUT_MS, body, len, status, err, errlen);
}

int
testnet_probe_topology(const char *url, struct topology **out, char *err,
    size_t errlen)
{
	char *body = NULL, why[256];
	size_t len = 0;
	long status;
	int rc;

	if (testnet_probe_get(url, &body, &len, &status, err, errlen) == -1)
		return -1;
	if (status != 200) {
		snprintf(err, errlen, "%s: HTTP status %ld", url, status);
		free(body);
		return -1;
	}
	rc = topology_parse(body, len, out, why, sizeof(why));
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", url, why);
	free(body);
	return rc;
}

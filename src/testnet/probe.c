/*
 * What nym-testnet asks of the outside: free ports on loopback, and the
 * directory's answers over HTTP (libcurl), the topology parsed by the one
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

#include <curl/curl.h>

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

struct probe_body {
	char	*data;
	size_t	 len;
};

static size_t
probe_body_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct probe_body *b = arg;
	size_t n = size * nmemb;

	if (n > TOPOLOGY_MAX_JSON_BYTES - b->len)
		return 0;	/* too large: curl reports a write error */
	char *q = realloc(b->data, b->len + n + 1);
	if (q == NULL)
		return 0;
	memcpy(q + b->len, p, n);
	b->data = q;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

int
testnet_probe_get(const char *url, char **body, size_t *len, long *status,
    char *err, size_t errlen)
{
	struct probe_body b = { NULL, 0 };
	CURLcode res;
	CURL *h;

	*status = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)TESTNET_HTTP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, probe_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	if (res != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(res));
		free(b.data);
		return -1;
	}
	if (b.data == NULL && (b.data = calloc(1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*body = b.data;
	*len = b.len;
	return 0;
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

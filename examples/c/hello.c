/*
 * hello: the smallest useful libnym program. It connects to a running
 * nymd, prints its own id and provider, optionally sends a message to a
 * registered client, and prints whatever messages have arrived.
 *
 *   cc -o hello hello.c $(pkg-config --cflags --libs nym)
 *   ./hello SOCKET [RECIPIENT_ID MESSAGE]
 *
 * SOCKET is nymd's unix socket (~/.loopix/clients/ID/nymd.sock by
 * default) or tcp:HOST:PORT for `nymd socket --socket tcp`.
 */
#include <stdio.h>
#include <string.h>

#include <nym.h>

static int
hello_connect(struct nym_client **c, const char *where)
{
	char host[256];
	const char *port;

	if (strncmp(where, "tcp:", 4) != 0)
		return nym_connect_unix(c, where);
	port = strrchr(where + 4, ':');
	if (port == NULL || (size_t)(port - where - 4) >= sizeof(host))
		return NYM_ERR_INVALID;
	memcpy(host, where + 4, (size_t)(port - where - 4));
	host[port - where - 4] = '\0';
	return nym_connect_tcp(c, host, port + 1);
}

int
main(int argc, char **argv)
{
	struct nym_client *c;
	struct nym_client_config me;
	struct nym_message *msgs;
	size_t n;
	int rc;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: hello SOCKET [RECIPIENT_ID MESSAGE]\n");
		return 2;
	}
	if ((rc = hello_connect(&c, argv[1])) != 0) {
		fprintf(stderr, "hello: %s: %s\n", argv[1], nym_last_error(NULL));
		return 1;
	}
	nym_set_timeout(c, 10000);
	if ((rc = nym_details(c, &me)) != 0)
		goto fail;
	printf("id: %s\n", me.id);
	if (me.has_provider)
		printf("provider: %s\n", me.provider.id);
	if (argc == 4) {
		/* nym_send_id() looks the recipient's provider up in the topology. */
		rc = nym_send_id(c, argv[2], argv[3], strlen(argv[3]));
		if (rc != 0)
			goto fail;
		printf("sent %zu bytes to %s\n", strlen(argv[3]), argv[2]);
	}
	if ((rc = nym_fetch(c, &msgs, &n)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		printf("message: %.*s\n", (int)msgs[i].len, (const char *)msgs[i].data);
	nym_messages_free(msgs);
	nym_close(c);
	return 0;
fail:
	fprintf(stderr, "hello: %s: %s\n", nym_strerror(rc), nym_last_error(c));
	nym_close(c);
	return 1;
}

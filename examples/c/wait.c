/*
 * wait: messages pushed by nymd as they arrive, with nym_wait_message(),
 * instead of polling with nym_fetch(). It prints the daemon's pid and the
 * largest message it takes, optionally sends a message to a recipient
 * named by its key alone (nymd finds its provider in the topology), then
 * prints COUNT messages as they arrive, waiting at most TIMEOUT_MS for
 * each (-1: for ever).
 *
 *   cc -o wait wait.c $(pkg-config --cflags --libs nym)
 *   ./wait SOCKET [--to RECIPIENT_ID MESSAGE] [COUNT [TIMEOUT_MS]]
 *
 * SOCKET is nymd's unix socket (~/.loopix/clients/ID/nymd.sock by
 * default). One connection per client may wait for pushed messages; a
 * message pushed is removed from nymd as by a fetch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nym.h>

static int
wait_send(struct nym_client *c, const char *to, const char *text)
{
	struct nym_client_config rcpt;
	int rc;

	memset(&rcpt, 0, sizeof(rcpt));
	/* The key alone: has_provider stays 0 and nymd fills it in. */
	if ((rc = nym_key_from_id(rcpt.pubkey, to)) != 0)
		return rc;
	rcpt.has_pubkey = 1;
	snprintf(rcpt.id, sizeof(rcpt.id), "%s", to);
	if ((rc = nym_send(c, &rcpt, text, strlen(text))) != 0)
		return rc;
	printf("sent %zu bytes to %s\n", strlen(text), to);
	return 0;
}

int
main(int argc, char **argv)
{
	struct nym_client *c;
	struct nym_message *m;
	size_t max;
	long pid, count = 1, timeout_ms = -1;
	int rc, arg = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* each line as it happens */
	if (argc < 2) {
		fprintf(stderr, "usage: wait SOCKET [--to RECIPIENT_ID MESSAGE] "
		    "[COUNT [TIMEOUT_MS]]\n");
		return 2;
	}
	if ((rc = nym_connect_unix(&c, argv[1])) != 0) {
		fprintf(stderr, "wait: %s: %s\n", argv[1], nym_last_error(NULL));
		return 1;
	}
	nym_set_timeout(c, 10000);
	if (nym_daemon_pid(c, &pid) == 0)
		printf("daemon pid: %ld\n", pid);
	if ((rc = nym_max_message_size(c, &max)) != 0)
		goto fail;
	printf("max message: %zu bytes\n", max);
	if (argc >= 5 && strcmp(argv[2], "--to") == 0) {
		if ((rc = wait_send(c, argv[3], argv[4])) != 0)
			goto fail;
		arg = 5;
	}
	if (argc > arg)
		count = strtol(argv[arg], NULL, 10);
	if (argc > arg + 1)
		timeout_ms = strtol(argv[arg + 1], NULL, 10);
	for (long i = 0; i < count; i++) {
		if ((rc = nym_wait_message(c, (int)timeout_ms, &m)) != 0)
			goto fail;
		printf("message: %.*s\n", (int)m->len, (const char *)m->data);
		nym_messages_free(m);
	}
	nym_close(c);
	return 0;
fail:
	fprintf(stderr, "wait: %s: %s\n", nym_strerror(rc), nym_last_error(c));
	nym_close(c);
	return 1;
}

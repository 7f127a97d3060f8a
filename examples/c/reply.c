/*
 * reply: anonymous replies with libnym (docs/replies.md). Sends a message
 * with reply blocks, or answers, as an answering machine, every message
 * that came with them, without learning who sent it.
 *
 *   cc -o reply reply.c $(pkg-config --cflags --libs nym)
 *   ./reply SOCKET send RECIPIENT_ID BLOCKS MESSAGE
 *   ./reply SOCKET answer TEXT
 *
 * send sends MESSAGE with BLOCKS (1 to 16) reply blocks. answer fetches the
 * messages that arrived and prints each, with its sender tag if it has
 * one; to each one with a tag it replies "TEXT: MESSAGE" through one of its
 * blocks, and a reply arriving here is printed like any message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nym.h>

static int
reply_send(struct nym_client *c, const char *to, const char *blocks, const char *msg)
{
	unsigned long n = strtoul(blocks, NULL, 10);

	if (n < 1 || n > NYM_MAX_REPLY_SURBS) {
		fprintf(stderr, "reply: BLOCKS must be 1 to %d\n", NYM_MAX_REPLY_SURBS);
		return NYM_ERR_INVALID;
	}
	int rc = nym_send_id_with_replies(c, to, msg, strlen(msg), (unsigned int)n);
	if (rc == 0)
		printf("sent with %lu reply blocks\n", n);
	return rc;
}

static int
reply_answer(struct nym_client *c, const char *text)
{
	struct nym_received *msgs;
	char answer[2048];
	size_t n;
	int rc;

	if ((rc = nym_fetch_received(c, &msgs, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		printf("message: %.*s\n", (int)msgs[i].len, (const char *)msgs[i].data);
		if (!msgs[i].has_tag)
			continue;
		printf("tag:");
		for (size_t k = 0; k < NYM_TAG_BYTES; k++)
			printf("%02x", msgs[i].tag[k]);
		printf("\n");
		int len = snprintf(answer, sizeof(answer), "%s: %.*s", text,
		    (int)msgs[i].len, (const char *)msgs[i].data);
		if (len < 0 || (size_t)len >= sizeof(answer))
			len = (int)sizeof(answer) - 1;
		if ((rc = nym_reply(c, msgs[i].tag, answer, (size_t)len)) == 0)
			printf("answered\n");
	}
	nym_received_free(msgs);
	return rc;
}

int
main(int argc, char **argv)
{
	struct nym_client *c;
	int rc;

	if (!(argc == 6 && strcmp(argv[2], "send") == 0) &&
	    !(argc == 4 && strcmp(argv[2], "answer") == 0)) {
		fprintf(stderr, "usage: reply SOCKET send RECIPIENT_ID BLOCKS MESSAGE\n"
		    "       reply SOCKET answer TEXT\n");
		return 2;
	}
	if (nym_connect_unix(&c, argv[1]) != 0) {
		fprintf(stderr, "reply: %s: %s\n", argv[1], nym_last_error(NULL));
		return 1;
	}
	nym_set_timeout(c, 10000);
	rc = argc == 6 ? reply_send(c, argv[3], argv[4], argv[5]) :
	    reply_answer(c, argv[3]);
	if (rc != 0)
		fprintf(stderr, "reply: %s: %s\n", nym_strerror(rc), nym_last_error(c));
	nym_close(c);
	return rc == 0 ? 0 : 1;
}

/*
 * Test client of the seed's socket API: sends one Request over a unix or
 * TCP socket with the varint framing and prints the Response as text.
 * Usage: sockreq (unix:PATH | tcp:HOST:PORT) REQUEST...
 * REQUEST: details | clients | flush | fetch | limits | none | raw:HEX |
 *          send:RECIPIENT_ID:PROVIDER_ID:TEXT | sendlen:RECIPIENT_ID:PROVIDER_ID:N |
 *          sendsurbs:RECIPIENT_ID:PROVIDER_ID:N:TEXT | reply:HEXTAG:TEXT |
 *          status:HEXID
 * (sendlen sends N bytes of a fixed pattern; sendsurbs TEXT with reply_surbs
 * N; reply TEXT through the blocks of a sender tag, of any length; fetch
 * prints each message in hex, then each received entry with its tag;
 * status asks the state of a message id, of any length)
 * Each argument is one request; responses are read after all are sent,
 * so ordering is checked too.
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/frame.h"
#include "common/fsutil.h"
#include "types.pb-c.h"

static int
sock_connect(const char *target)
{
	int fd;

	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", target + 5);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			return -1;
		return fd;
	}
	if (strncmp(target, "tcp:", 4) == 0) {
		char host[64];
		const char *colon = strrchr(target + 4, ':');
		if (colon == NULL)
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - target - 4), target + 4);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			return -1;
		return fd;
	}
	return -1;
}

static int
send_request(int fd, const char *what)
{
	Types__Request req = TYPES__REQUEST__INIT;
	Types__RequestOwnDetails det = TYPES__REQUEST_OWN_DETAILS__INIT;
	Types__RequestGetClients cl = TYPES__REQUEST_GET_CLIENTS__INIT;
	Types__RequestFlush fl = TYPES__REQUEST_FLUSH__INIT;
	Types__RequestFetchMessages fe = TYPES__REQUEST_FETCH_MESSAGES__INIT;
	Types__RequestLimits li = TYPES__REQUEST_LIMITS__INIT;
	uint8_t buf[65536], hdr[FRAME_VARINT_MAX_BYTES];
	size_t len;

	if (strncmp(what, "status:", 7) == 0) {
		Types__RequestStatus rs = TYPES__REQUEST_STATUS__INIT;
		uint8_t id[64];
		size_t il = strlen(what + 7) / 2;
		if (il > sizeof(id))
			return -1;
		for (size_t i = 0; i < il; i++)
			sscanf(what + 7 + 2 * i, "%2hhx", &id[i]);
		rs.message_id.data = id;
		rs.message_id.len = il;
		req.value_case = TYPES__REQUEST__VALUE_STATUS;
		req.status = &rs;
		len = types__request__pack(&req, buf);
		size_t hn = frame_put_varint(hdr, (int64_t)len);
		return fs_write_all(fd, hdr, hn) == -1 || fs_write_all(fd, buf, len) == -1 ? -1 : 0;
	}
	if (strncmp(what, "reply:", 6) == 0) {
		Types__RequestReply rr = TYPES__REQUEST_REPLY__INIT;
		uint8_t tag[64];
		const char *text = strchr(what + 6, ':');
		size_t tl = text != NULL ? (size_t)(text - (what + 6)) / 2 : 0;
		if (text == NULL || tl > sizeof(tag))
			return -1;
		for (size_t i = 0; i < tl; i++)
			sscanf(what + 6 + 2 * i, "%2hhx", &tag[i]);
		rr.sender_tag.data = tag;
		rr.sender_tag.len = tl;
		rr.message.data = (uint8_t *)(uintptr_t)(text + 1);
		rr.message.len = strlen(text + 1);
		req.value_case = TYPES__REQUEST__VALUE_REPLY;
		req.reply = &rr;
		len = types__request__pack(&req, buf);
		size_t hn = frame_put_varint(hdr, (int64_t)len);
		return fs_write_all(fd, hdr, hn) == -1 || fs_write_all(fd, buf, len) == -1 ? -1 : 0;
	}
	if (strncmp(what, "send:", 5) == 0 || strncmp(what, "sendlen:", 8) == 0 ||
	    strncmp(what, "sendsurbs:", 10) == 0) {
		/* a message of nymd's default max_message_bytes (1 MiB), and more */
		static uint8_t body[FRAME_MAX_MESSAGE_BYTES + 4096];
		Types__RequestSendMessage sm = TYPES__REQUEST_SEND_MESSAGE__INIT;
		Config__ClientConfig to = CONFIG__CLIENT_CONFIG__INIT;
		Config__MixConfig prov = CONFIG__MIX_CONFIG__INIT;
		uint8_t rk[32], pk[32];
		char rid[64], pid[64];
		const char *rest = strchr(what, ':') + 1;
		int n = 0;
		if (sscanf(rest, "%63[^:]:%63[^:]:%n", rid, pid, &n) != 2 || n == 0 ||
		    b64_decode_key(rk, rid, B64_URLSAFE) == -1 ||
		    b64_decode_key(pk, pid, B64_URLSAFE) == -1) {
			fprintf(stderr, "sockreq: bad send request %s\n", what);
			return -1;
		}
		if (what[4] == 's') {	/* sendsurbs: N:TEXT */
			char *end;
			sm.reply_surbs = (uint32_t)strtoul(rest + n, &end, 10);
			if (*end != ':')
				return -1;
			len = strlen(end + 1);
			memcpy(body, end + 1, len);
		} else if (what[4] == ':') {
			len = strlen(rest + n);
			memcpy(body, rest + n, len);
		} else {
			len = (size_t)strtoul(rest + n, NULL, 10);
			if (len > sizeof(body))
				return -1;
			for (size_t i = 0; i < len; i++)
				body[i] = (uint8_t)(i * 7 + 1);
		}
		to.id = rid;
		to.pubkey.data = rk;
		to.pubkey.len = 32;
		prov.id = pid;
		prov.pubkey.data = pk;
		prov.pubkey.len = 32;
		to.provider = &prov;
		sm.recipient = &to;
		sm.message.data = body;
		sm.message.len = len;
		req.value_case = TYPES__REQUEST__VALUE_SEND;
		req.send = &sm;
		uint8_t *packed = malloc(types__request__get_packed_size(&req));
		if (packed == NULL)
			return -1;
		len = types__request__pack(&req, packed);
		size_t hn = frame_put_varint(hdr, (int64_t)len);
		int rc = (fs_write_all(fd, hdr, hn) == -1 || fs_write_all(fd, packed, len) == -1) ? -1 : 0;
		free(packed);
		return rc;
	}
	if (strncmp(what, "raw:", 4) == 0) {
		const char *hex = what + 4;
		len = strlen(hex) / 2;
		for (size_t i = 0; i < len && i < sizeof(buf); i++)
			sscanf(hex + 2 * i, "%2hhx", &buf[i]);
		return fs_write_all(fd, buf, len);	/* exactly these bytes, no prefix */
	}
	if (strcmp(what, "details") == 0) {
		req.value_case = TYPES__REQUEST__VALUE_DETAILS;
		req.details = &det;
	} else if (strcmp(what, "clients") == 0) {
		req.value_case = TYPES__REQUEST__VALUE_CLIENTS;
		req.clients = &cl;
	} else if (strcmp(what, "flush") == 0) {
		req.value_case = TYPES__REQUEST__VALUE_FLUSH;
		req.flush = &fl;
	} else if (strcmp(what, "fetch") == 0) {
		req.value_case = TYPES__REQUEST__VALUE_FETCH;
		req.fetch = &fe;
	} else if (strcmp(what, "limits") == 0) {
		req.value_case = TYPES__REQUEST__VALUE_LIMITS;
		req.limits = &li;
	} else if (strcmp(what, "none") != 0) {
		fprintf(stderr, "sockreq: unknown request %s\n", what);
		return -1;
	}
	len = types__request__pack(&req, buf);
	size_t n = frame_put_varint(hdr, (int64_t)len);
	if (fs_write_all(fd, hdr, n) == -1 || fs_write_all(fd, buf, len) == -1)
		return -1;
	return 0;
}

static void
print_client(const char *prefix, const Config__ClientConfig *c)
{
	char key[B64_KEY_CHARS + 1] = "";

	if (c->pubkey.len == 32)
		b64_encode(key, c->pubkey.data, 32, B64_URLSAFE);
	printf("%s id=%s pubkey=%s", prefix, c->id, key);
	if (c->provider != NULL)
		printf(" provider=%s host=%s port=%s layer=%llu", c->provider->id,
		    c->provider->host, c->provider->port,
		    (unsigned long long)c->provider->layer);
	printf("\n");
}

static int
read_response(int fd)
{
	uint8_t hdr[FRAME_VARINT_MAX_BYTES];
	size_t have = 0, msg_len;
	int n;

	for (;;) {
		if (read(fd, hdr + have, 1) != 1)
			return -1;
		have++;
		n = frame_parse_length(hdr, have, FRAME_MAX_MESSAGE_BYTES, &msg_len);
		if (n > 0)
			break;
		if (n < 0)
			return -1;
	}
	uint8_t *buf = malloc(msg_len ? msg_len : 1);
	if (buf == NULL || fs_read_all(fd, buf, msg_len) != (ssize_t)msg_len) {
		free(buf);
		return -1;
	}
	Types__Response *res = types__response__unpack(NULL, msg_len, buf);
	free(buf);
	if (res == NULL)
		return -1;
	switch (res->value_case) {
	case TYPES__RESPONSE__VALUE_EXCEPTION:
		printf("exception: %s\n", res->exception->error);
		break;
	case TYPES__RESPONSE__VALUE_DETAILS:
		print_client("details:", res->details->details);
		break;
	case TYPES__RESPONSE__VALUE_CLIENTS:
		printf("clients: %zu\n", res->clients->n_clients);
		for (size_t i = 0; i < res->clients->n_clients; i++)
			print_client("client:", res->clients->clients[i]);
		break;
	case TYPES__RESPONSE__VALUE_FLUSH:
		printf("flush\n");
		break;
	case TYPES__RESPONSE__VALUE_FETCH:
		printf("fetch: %zu\n", res->fetch->n_messages);
		for (size_t i = 0; i < res->fetch->n_messages; i++) {
			printf("message: %zu ", res->fetch->messages[i].len);
			for (size_t k = 0; k < res->fetch->messages[i].len; k++)
				printf("%02x", res->fetch->messages[i].data[k]);
			printf("\n");
		}
		for (size_t i = 0; i < res->fetch->n_received; i++) {
			const Types__ReceivedMessage *r = res->fetch->received[i];
			printf("received: %zu ", r->message.len);
			for (size_t k = 0; k < r->message.len; k++)
				printf("%02x", r->message.data[k]);
			printf(" tag=");
			for (size_t k = 0; k < r->sender_tag.len; k++)
				printf("%02x", r->sender_tag.data[k]);
			printf(" id=");
			for (size_t k = 0; k < r->message_id.len; k++)
				printf("%02x", r->message_id.data[k]);
			printf("\n");
		}
		break;
	case TYPES__RESPONSE__VALUE_SEND:
		printf("send: ok\n");
		break;
	case TYPES__RESPONSE__VALUE_REPLY:
		printf("reply: ok\n");
		break;
	case TYPES__RESPONSE__VALUE_STATUS:
		printf("status: id=");
		for (size_t k = 0; k < res->status->message_id.len; k++)
			printf("%02x", res->status->message_id.data[k]);
		printf(" state=%d packets=%u acknowledged=%u reason=%s\n",
		    (int)res->status->state, res->status->packets,
		    res->status->acknowledged, res->status->reason);
		break;
	case TYPES__RESPONSE__VALUE_LIMITS:
		printf("limits: max_message_bytes: %llu max_request_bytes: %llu\n",
		    (unsigned long long)res->limits->max_message_bytes,
		    (unsigned long long)res->limits->max_request_bytes);
		break;
	default:
		printf("response: %d\n", (int)res->value_case);
		break;
	}
	types__response__free_unpacked(res, NULL);
	return 0;
}

int
main(int argc, char **argv)
{
	int expect = 0, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: sockreq TARGET REQUEST...\n");
		return 2;
	}
	int fd = sock_connect(argv[1]);
	if (fd == -1) {
		perror("sockreq: connect");
		return 1;
	}
	/* A daemon that dies mid-burst must not take the answers it gave
	 * before with it: stop writing, then print what came back. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 2; i < argc; i++) {
		if (send_request(fd, argv[i]) == -1) {
			perror("sockreq: write");
			status = 1;
			break;
		}
		expect++;
	}
	for (int i = 0; i < expect; i++) {
		if (read_response(fd) == -1) {
			printf("closed\n");
			break;
		}
	}
	fflush(stdout);
	close(fd);
	return status;
}

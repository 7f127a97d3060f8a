#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/frame.h"
#include "libnym/private.h"

int
wire_error(char *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, NYM_ERROR_BYTES, fmt, ap);
	va_end(ap);
	return code;
}

static const char *
wire_response_name(Types__Response__ValueCase c)
{
	switch (c) {
	case TYPES__RESPONSE__VALUE_EXCEPTION:	return "exception";
	case TYPES__RESPONSE__VALUE_SEND:	return "send";
	case TYPES__RESPONSE__VALUE_FETCH:	return "fetch";
	case TYPES__RESPONSE__VALUE_CLIENTS:	return "clients";
	case TYPES__RESPONSE__VALUE_DETAILS:	return "details";
	case TYPES__RESPONSE__VALUE_FLUSH:	return "flush";
	case TYPES__RESPONSE__VALUE_SUBSCRIBE:	return "subscribe";
	case TYPES__RESPONSE__VALUE_LIMITS:	return "limits";
	case TYPES__RESPONSE__VALUE_PUSHED:	return "pushed";
	case TYPES__RESPONSE__VALUE_REPLY:	return "reply";
	case TYPES__RESPONSE__VALUE_STATUS:	return "status";
	case TYPES__RESPONSE__VALUE_WATCH:	return "watch";
	case TYPES__RESPONSE__VALUE_CHANGED:	return "changed";
	default:				return "empty";
	}
}

int
wire_case(enum wire_kind kind)
{
	switch (kind) {
	case WIRE_CLIENTS_REFRESH:	return TYPES__REQUEST__VALUE_CLIENTS;
	case WIRE_SEND_ID:		return TYPES__REQUEST__VALUE_SEND;
	default:			return (int)kind;
	}
}

/* protobuf-c wants non-const strings in messages it only reads from. */
static char *
wire_str(const char *s)
{
	return (char *)(uintptr_t)s;
}

int
wire_pack(char *err, enum wire_kind kind, const struct nym_client_config *rcpt,
    const void *msg, size_t len, uint8_t **out, size_t *out_len)
{
	Types__Request req = TYPES__REQUEST__INIT;
	Types__RequestSendMessage sm = TYPES__REQUEST_SEND_MESSAGE__INIT;
	Types__RequestFetchMessages fe = TYPES__REQUEST_FETCH_MESSAGES__INIT;
	Types__RequestGetClients cl = TYPES__REQUEST_GET_CLIENTS__INIT;
	Types__RequestOwnDetails de = TYPES__REQUEST_OWN_DETAILS__INIT;
	Types__RequestFlush fl = TYPES__REQUEST_FLUSH__INIT;
	Types__RequestSubscribe su = TYPES__REQUEST_SUBSCRIBE__INIT;
	Types__RequestLimits li = TYPES__REQUEST_LIMITS__INIT;
	Types__RequestStatus rs = TYPES__REQUEST_STATUS__INIT;
	Types__RequestWatch wa = TYPES__REQUEST_WATCH__INIT;
	Config__ClientConfig cc = CONFIG__CLIENT_CONFIG__INIT;
	Config__MixConfig mc = CONFIG__MIX_CONFIG__INIT;
	uint8_t key[NYM_KEY_BYTES];

	req.value_case = (Types__Request__ValueCase)wire_case(kind);
	switch (kind) {
	case WIRE_SEND:
	case WIRE_SEND_ID:
		if (rcpt == NULL || (msg == NULL && len > 0))
			return wire_error(err, NYM_ERR_INVALID, "send: no recipient or no message");
		if (memchr(rcpt->id, '\0', sizeof(rcpt->id)) == NULL ||
		    memchr(rcpt->host, '\0', sizeof(rcpt->host)) == NULL ||
		    memchr(rcpt->port, '\0', sizeof(rcpt->port)) == NULL ||
		    memchr(rcpt->provider.id, '\0', sizeof(rcpt->provider.id)) == NULL ||
		    memchr(rcpt->provider.host, '\0', sizeof(rcpt->provider.host)) == NULL ||
		    memchr(rcpt->provider.port, '\0', sizeof(rcpt->provider.port)) == NULL)
			return wire_error(err, NYM_ERR_INVALID,
			    "send: a string of the recipient is not NUL-terminated");
		cc.id = wire_str(rcpt->id);
		cc.host = wire_str(rcpt->host);
		cc.port = wire_str(rcpt->port);
		if (rcpt->has_pubkey) {
			cc.pubkey.data = (uint8_t *)(uintptr_t)rcpt->pubkey;
			cc.pubkey.len = NYM_KEY_BYTES;
		} else if (b64_decode_key(key, rcpt->id, B64_URLSAFE) == 0) {
			/* The id is the key; the seed's nymd reads the key. */
			cc.pubkey.data = key;
			cc.pubkey.len = NYM_KEY_BYTES;
		}
		if (rcpt->has_provider) {
			mc.id = wire_str(rcpt->provider.id);
			mc.host = wire_str(rcpt->provider.host);
			mc.port = wire_str(rcpt->provider.port);
			if (rcpt->provider.has_pubkey) {
				mc.pubkey.data = (uint8_t *)(uintptr_t)rcpt->provider.pubkey;
				mc.pubkey.len = NYM_KEY_BYTES;
			}
			mc.layer = rcpt->provider.layer;
			cc.provider = &mc;
		}
		sm.message.data = (uint8_t *)(uintptr_t)msg;
		sm.message.len = len;
		sm.recipient = &cc;
		req.send = &sm;
		break;
	case WIRE_FETCH:	req.fetch = &fe; break;
	case WIRE_CLIENTS:	req.clients = &cl; break;
	case WIRE_CLIENTS_REFRESH:
		cl.refresh = 1;
		req.clients = &cl;
		break;
	case WIRE_DETAILS:	req.details = &de; break;
	case WIRE_FLUSH:	req.flush = &fl; break;
	case WIRE_SUBSCRIBE:	req.subscribe = &su; break;
	case WIRE_LIMITS:	req.limits = &li; break;
	case WIRE_STATUS:
		if (msg == NULL || len != NYM_MESSAGE_ID_BYTES)
			return wire_error(err, NYM_ERR_INVALID, "status: no message id");
		rs.message_id.data = (uint8_t *)(uintptr_t)msg;
		rs.message_id.len = len;
		req.status = &rs;
		break;
	case WIRE_WATCH:	req.watch = &wa; break;
	default:
		return wire_error(err, NYM_ERR_INVALID, "unknown request %d", (int)kind);
	}

	size_t body = types__request__get_packed_size(&req);
	if (body > NYM_MAX_REQUEST_BYTES)
		return wire_error(err, NYM_ERR_INVALID,
		    "request of %zu bytes is larger than nymd's limit of %d bytes",
		    body, NYM_MAX_REQUEST_BYTES);
	uint8_t *buf = malloc(FRAME_VARINT_MAX_BYTES + body);
	if (buf == NULL)
		return wire_error(err, NYM_ERR_NOMEM, "out of memory");
	size_t n = frame_put_varint(buf, (int64_t)body);
	types__request__pack(&req, buf + n);
	*out = buf;
	*out_len = n + body;
	return 0;
}

int
wire_unpack(char *err, enum wire_kind kind, const uint8_t *body, size_t len,
    Types__Response **out)
{
	Types__Response *res = types__response__unpack(NULL, len, body);

	if (res == NULL)
		return wire_error(err, NYM_ERR_PROTOCOL,
		    "nymd's answer is not a protobuf Response message");
	if (res->value_case == TYPES__RESPONSE__VALUE_EXCEPTION) {
		const char *text = res->exception != NULL && res->exception->error != NULL ?
		    res->exception->error : "";
		wire_error(err, NYM_ERR_REMOTE, "%s", text[0] != '\0' ? text :
		    "nymd answered with an exception without text");
		types__response__free_unpacked(res, NULL);
		return NYM_ERR_REMOTE;
	}
	if (res->value_case == TYPES__RESPONSE__VALUE_PUSHED) {
		*out = res;
		return WIRE_PUSHED;
	}
	if (res->value_case == TYPES__RESPONSE__VALUE_CHANGED) {
		*out = res;
		return WIRE_CHANGED;
	}
	if ((int)res->value_case != wire_case(kind)) {
		wire_error(err, NYM_ERR_PROTOCOL,
		    "nymd answered a %s request with a %s response",
		    wire_response_name((Types__Response__ValueCase)wire_case(kind)),
		    wire_response_name(res->value_case));
		types__response__free_unpacked(res, NULL);
		return NYM_ERR_PROTOCOL;
	}
	*out = res;
	return 0;
}

int
wire_messages(char *err, const Types__ResponseFetchMessages *fm,
    struct nym_message **out, size_t *n)
{
	size_t count = fm != NULL ? fm->n_messages : 0;
	size_t total = 0;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	/* One block: the array, then each message and a NUL after it. */
	for (size_t i = 0; i < count; i++) {
		if (fm->messages[i].len > NYM_MAX_RESPONSE_BYTES)
			return wire_error(err, NYM_ERR_PROTOCOL, "message too large");
		total += fm->messages[i].len + 1;
	}
	struct nym_message *m = malloc(count * sizeof(*m) + total);
	if (m == NULL)
		return wire_error(err, NYM_ERR_NOMEM, "out of memory");
	uint8_t *p = (uint8_t *)(m + count);
	for (size_t i = 0; i < count; i++) {
		m[i].data = p;
		m[i].len = fm->messages[i].len;
		if (m[i].len > 0)
			memcpy(p, fm->messages[i].data, m[i].len);
		p[m[i].len] = '\0';
		p += m[i].len + 1;
	}
	*out = m;
	*n = count;
	return 0;
}

int
wire_pushed(char *err, const Types__ResponsePushed *pu, struct nym_message ***out,
    size_t *n)
{
	size_t count = pu != NULL ? pu->n_messages : 0;
	struct nym_message **list;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	if ((list = calloc(count, sizeof(*list))) == NULL)
		return wire_error(err, NYM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		size_t len = pu->messages[i].len;
		struct nym_message *m;
		if (len > NYM_MAX_RESPONSE_BYTES ||
		    (m = malloc(sizeof(*m) + len + 1)) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(list[k]);
			free(list);
			return len > NYM_MAX_RESPONSE_BYTES ?
			    wire_error(err, NYM_ERR_PROTOCOL, "message too large") :
			    wire_error(err, NYM_ERR_NOMEM, "out of memory");
		}
		m->data = (uint8_t *)(m + 1);
		m->len = len;
		if (len > 0)
			memcpy(m->data, pu->messages[i].data, len);
		m->data[len] = '\0';
		list[i] = m;
	}
	*out = list;
	*n = count;
	return 0;
}

static int
wire_copy_str(char *err, char *dst, size_t cap, const char *src, const char *what)
{
	size_t len = src != NULL ? strlen(src) : 0;

	if (len >= cap)
		return wire_error(err, NYM_ERR_PROTOCOL,
		    "%s of %zu bytes is longer than libnym accepts (%zu)", what, len, cap - 1);
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int
wire_copy_key(char *err, uint8_t key[NYM_KEY_BYTES], int *has,
    const ProtobufCBinaryData *b, const char *what)
{
	*has = 0;
	if (b->len == 0)
		return 0;
	if (b->len != NYM_KEY_BYTES)
		return wire_error(err, NYM_ERR_PROTOCOL,
		    "%s is %zu bytes, not %d", what, b->len, NYM_KEY_BYTES);
	memcpy(key, b->data, NYM_KEY_BYTES);
	*has = 1;
	return 0;
}

static int
wire_client_config(char *err, const Config__ClientConfig *c,
    struct nym_client_config *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return wire_error(err, NYM_ERR_PROTOCOL, "a client configuration is missing");
	if ((rc = wire_copy_str(err, out->id, sizeof(out->id), c->id, "client Id")) != 0 ||
	    (rc = wire_copy_str(err, out->host, sizeof(out->host), c->host, "client Host")) != 0 ||
	    (rc = wire_copy_str(err, out->port, sizeof(out->port), c->port, "client Port")) != 0 ||
	    (rc = wire_copy_key(err, out->pubkey, &out->has_pubkey, &c->pubkey,
	    "client PubKey")) != 0)
		return rc;
	if (c->provider == NULL)
		return 0;
	const Config__MixConfig *m = c->provider;
	struct nym_mix_config *p = &out->provider;
	if ((rc = wire_copy_str(err, p->id, sizeof(p->id), m->id, "provider Id")) != 0 ||
	    (rc = wire_copy_str(err, p->host, sizeof(p->host), m->host, "provider Host")) != 0 ||
	    (rc = wire_copy_str(err, p->port, sizeof(p->port), m->port, "provider Port")) != 0 ||
	    (rc = wire_copy_key(err, p->pubkey, &p->has_pubkey, &m->pubkey,
	    "provider PubKey")) != 0)
		return rc;
	p->layer = m->layer;
	out->has_provider = 1;
	return 0;
}

int
wire_clients(char *err, const Types__ResponseGetClients *gc,
    struct nym_client_config **out, size_t *n)
{
	size_t count = gc != NULL ? gc->n_clients : 0;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	struct nym_client_config *list = calloc(count, sizeof(*list));
	if (list == NULL)
		return wire_error(err, NYM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		int rc = wire_client_config(err, gc->clients[i], &list[i]);
		if (rc != 0) {
			free(list);
			return rc;
		}
	}
	*out = list;
	*n = count;
	return 0;
}

int
wire_details(char *err, const Types__ResponseOwnDetails *od,
    struct nym_client_config *out)
{
	return wire_client_config(err, od != NULL ? od->details : NULL, out);
}

int
wire_status(char *err, const Types__MessageStatus *m, struct nym_message_status *out)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	if (m == NULL || m->message_id.len != NYM_MESSAGE_ID_BYTES)
		return wire_error(err, NYM_ERR_PROTOCOL,
		    "a message status without a %d-byte message id", NYM_MESSAGE_ID_BYTES);
	memcpy(out->id, m->message_id.data, NYM_MESSAGE_ID_BYTES);
	out->state = (int)m->state;
	out->packets = m->packets;
	out->acknowledged = m->acknowledged;
	/* A longer reason from a later nymd is cut, not refused. */
	len = m->reason != NULL ? strlen(m->reason) : 0;
	if (len >= sizeof(out->reason))
		len = sizeof(out->reason) - 1;
	if (len > 0)
		memcpy(out->reason, m->reason, len);
	out->reason[len] = '\0';
	return 0;
}

int
wire_message_id(char *err, const Types__ResponseSendMessage *sm,
    uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	memset(id, 0, NYM_MESSAGE_ID_BYTES);
	if (sm == NULL || sm->message_id.len == 0)
		return 0;
	if (sm->message_id.len != NYM_MESSAGE_ID_BYTES)
		return wire_error(err, NYM_ERR_PROTOCOL, "a message id of %zu bytes, not %d",
		    sm->message_id.len, NYM_MESSAGE_ID_BYTES);
	memcpy(id, sm->message_id.data, NYM_MESSAGE_ID_BYTES);
	return 0;
}

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/b64.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/sphinx.h"
#include "common/topology.h"
#include "common/message.h"
#include "common/payload.h"
#include "common/xalloc.h"
#include "rpcd/api.h"
#include "rpcd/queue.h"
#include "rpcd/rpcd.h"
#include "types.pb-c.h"

/* Owned strings and sub-messages of one response, freed together. */
struct api_arena {
	void	**ptrs;
	size_t	  n;
	size_t	  cap;
};

static void *
arena_alloc(struct api_arena *a, size_t size)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		a->ptrs = xreallocarray(a->ptrs, a->cap, sizeof(*a->ptrs));
	}
	void *p = xcalloc(1, size);
	a->ptrs[a->n++] = p;
	return p;
}

static void
arena_free(struct api_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	free(a->ptrs);
}

static char *
arena_strdup(struct api_arena *a, const char *s)
{
	size_t len = strlen(s);
	return memcpy(arena_alloc(a, len + 1), s, len + 1);
}

static void
api_pack(const Types__Response *res, uint8_t **out, size_t *out_len)
{
	size_t len = types__response__get_packed_size(res);
	uint8_t *buf = xmalloc(len);

	types__response__pack(res, buf);
	*out = buf;
	*out_len = len;
}

void
api_exception(const char *text, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseException ex = TYPES__RESPONSE_EXCEPTION__INIT;

	ex.error = (char *)text;
	res.value_case = TYPES__RESPONSE__VALUE_EXCEPTION;
	res.exception = &ex;
	api_pack(&res, out, out_len);
}

static Config__MixConfig *
api_provider_config(struct api_arena *a, const struct topology_node *n)
{
	Config__MixConfig *m = arena_alloc(a, sizeof(*m));

	config__mix_config__init(m);
	m->id = arena_strdup(a, n->id);
	m->host = arena_strdup(a, n->host);
	m->port = arena_strdup(a, n->port);
	m->pubkey.data = (uint8_t *)n->pub;
	m->pubkey.len = sizeof(n->pub);
	m->layer = n->layer;
	return m;
}

/*
 * The Host and Port the seed's program gives every entry of clients: it
 * does not know where a client is (and nymd does not either), yet wrote
 * these, and applications may expect them there.
 */
#define API_CLIENT_HOST		"0.0.0.0"
#define API_CLIENT_PORT		"42"

static Config__ClientConfig *
api_client_config(struct api_arena *a, const uint8_t pub[32],
    const struct topology_node *provider, const char *provider_id)
{
	Config__ClientConfig *c = arena_alloc(a, sizeof(*c));
	char id[B64_KEY_CHARS + 1];

	config__client_config__init(c);
	b64_encode(id, pub, 32, B64_URLSAFE);
	c->id = arena_strdup(a, id);
	c->pubkey.data = (uint8_t *)pub;
	c->pubkey.len = 32;
	if (provider != NULL) {
		c->provider = api_provider_config(a, provider);
	} else if (provider_id != NULL && provider_id[0] != '\0') {
		/* Chosen but not (yet) in the topology: the id is all we know. */
		c->provider = arena_alloc(a, sizeof(*c->provider));
		config__mix_config__init(c->provider);
		c->provider->id = arena_strdup(a, provider_id);
		c->provider->layer = TOPOLOGY_PROVIDER_LAYER;
	}
	return c;
}

static void
api_details(const struct rpcd_state *st, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseOwnDetails det = TYPES__RESPONSE_OWN_DETAILS__INIT;
	struct api_arena a = { .n = 0 };
	const struct topology_node *prov = NULL;

	if (!st->have_pubkey) {
		api_exception("details: nymd is starting, its key is not loaded yet",
		    out, out_len);
		return;
	}
	if (st->topology != NULL && st->provider_id != NULL)
		prov = topology_find_provider(st->topology, st->provider_id);
	det.details = api_client_config(&a, st->pubkey, prov, st->provider_id);
	res.value_case = TYPES__RESPONSE__VALUE_DETAILS;
	res.details = &det;
	api_pack(&res, out, out_len);
	arena_free(&a);
}

static void
api_clients(const struct rpcd_state *st, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseGetClients cl = TYPES__RESPONSE_GET_CLIENTS__INIT;
	struct api_arena a = { .n = 0 };
	const struct topology *t = st->topology;
	size_t total = 0, n = 0;

	if (t == NULL) {
		api_exception("clients: no topology yet: the directory has not been reached",
		    out, out_len);
		return;
	}
	for (size_t i = 0; i < t->n_providers; i++)
		total += t->providers[i].n_clients;
	cl.clients = arena_alloc(&a, (total ? total : 1) * sizeof(*cl.clients));
	for (size_t i = 0; i < t->n_providers; i++) {
		const struct topology_node *p = &t->providers[i];
		for (size_t k = 0; k < p->n_clients; k++) {
			Config__ClientConfig *c = api_client_config(&a, p->clients[k], p, NULL);
			c->host = (char *)API_CLIENT_HOST;
			c->port = (char *)API_CLIENT_PORT;
			cl.clients[n++] = c;
		}
	}
	cl.n_clients = n;
	res.value_case = TYPES__RESPONSE__VALUE_CLIENTS;
	res.clients = &cl;
	api_pack(&res, out, out_len);
	arena_free(&a);
}

/* No provider, or one with no field set: the application left it to nymd. */
static int
api_provider_empty(const Config__MixConfig *m)
{
	return m == NULL || (m->pubkey.len == 0 && (m->id == NULL || m->id[0] == '\0') &&
	    (m->host == NULL || m->host[0] == '\0') &&
	    (m->port == NULL || m->port[0] == '\0') && m->layer == 0);
}

/* The key of the provider the topology lists the client key at, or NULL. */
static const uint8_t *
api_provider_of(const struct topology *t, const uint8_t key[32])
{
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < t->n_providers; i++)
		for (size_t k = 0; k < t->providers[i].n_clients; k++)
			if (memcmp(t->providers[i].clients[k], key, 32) == 0)
				return t->providers[i].pub;
	return NULL;
}

/*
 * The packets of a message with n reply blocks (docs/replies.md): the
 * message with as many as fit beside it (at most PAYLOAD_MAX_SURBS),
 * then packets of blocks only, PAYLOAD_MAX_SURBS each but the last.
 * The count of packets.
 */
static size_t
api_split(struct queue_row rows[API_MAX_PACKETS],
    uint8_t msgids[API_MAX_PACKETS][QUEUE_MSGID_BYTES],
    const uint8_t *msg, size_t len, unsigned n)
{
	unsigned k = 0, left;
	size_t count = 0;

	while (k < PAYLOAD_MAX_SURBS && k < n && payload_tagged_room(k + 1) >= (long)len)
		k++;
	randombytes_buf(msgids, API_MAX_PACKETS * QUEUE_MSGID_BYTES);
	rows[count++] = (struct queue_row){ .msgid = msgids[0], .message = msg,
	    .len = len, .surbs = k };
	left = n - k;
	while (left > 0) {
		unsigned take = left > PAYLOAD_MAX_SURBS ? PAYLOAD_MAX_SURBS : left;
		rows[count] = (struct queue_row){ .msgid = msgids[count],
		    .surbs = take, .surbs_only = 1 };
		count++;
		left -= take;
	}
	return count;
}

/* A send with reply_surbs (checked): one transaction for all its packets. */
static void
api_send_tagged(const struct rpcd_state *st, const Types__RequestSendMessage *req,
    const uint8_t *provider, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage sent = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	const Config__ClientConfig *to = req->recipient;
	struct queue_row rows[API_MAX_PACKETS];
	uint8_t msgids[API_MAX_PACKETS][QUEUE_MSGID_BYTES], tag[QUEUE_TAG_BYTES];
	char text[768];
	uint64_t id;
	size_t n;

	n = api_split(rows, msgids, req->message.data, req->message.len, req->reply_surbs);
	/* The tag is random: nothing links it to our key. */
	randombytes_buf(tag, sizeof(tag));
	if (queue_enqueue_rows(st->queue, to->pubkey.data, provider,
	    tag, rows, n, &id) == -1) {
		snprintf(text, sizeof(text), "send: the message could not be "
		    "stored: %s", queue_error(st->queue));
		api_exception(text, out, out_len);
		return;
	}
	log_debug("message %llu queued (%zu bytes) with %u reply blocks in %zu packets",
	    (unsigned long long)id, req->message.len, req->reply_surbs, n);
	if (st->queued != NULL)
		st->queued(NULL);
	/* The message's id is its first packet's (docs/acks.md). */
	sent.message_id.data = msgids[0];
	sent.message_id.len = QUEUE_MSGID_BYTES;
	res.value_case = TYPES__RESPONSE__VALUE_SEND;
	res.send = &sent;
	api_pack(&res, out, out_len);
}

static void
api_send(const struct rpcd_state *st, const Types__RequestSendMessage *req,
    uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage sent = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	const Config__ClientConfig *to = req->recipient;
	const uint8_t *provider;
	char text[768];
	uint8_t msgid[QUEUE_MSGID_BYTES];
	uint64_t id;

	if (to == NULL) {
		api_exception("send: missing recipient", out, out_len);
		return;
	}
	if (to->pubkey.len != 32) {
		snprintf(text, sizeof(text), "send: bad recipient public key length: "
		    "%zu bytes, expected 32", to->pubkey.len);
		api_exception(text, out, out_len);
		return;
	}
	/* nymd's addition: the provider from the topology. Seed requests
	 * with a provider are answered exactly as before. */
	if (api_provider_empty(to->provider)) {
		if ((provider = api_provider_of(st->topology, to->pubkey.data)) == NULL) {
			api_exception("send: the recipient has no provider, and the "
			    "topology does not list its key", out, out_len);
			return;
		}
	} else if (to->provider->pubkey.len != 32) {
		snprintf(text, sizeof(text), "send: bad recipient provider public key "
		    "length: %zu bytes, expected 32", to->provider->pubkey.len);
		api_exception(text, out, out_len);
		return;
	} else
		provider = to->provider->pubkey.data;
	if (!sphinx_key_usable(to->pubkey.data)) {
		api_exception("send: the recipient's public key is not a "
		    "usable X25519 key (a point of small order)", out, out_len);
		return;
	}
	if (!sphinx_key_usable(provider)) {
		api_exception("send: the recipient provider's public key is "
		    "not a usable X25519 key (a point of small order)", out, out_len);
		return;
	}
	if (req->message.len > st->max_message_bytes) {
		snprintf(text, sizeof(text), "send: message too large: %zu bytes, the "
		    "maximum is %zu", req->message.len, st->max_message_bytes);
		api_exception(text, out, out_len);
		return;
	}
	if (req->reply_surbs > API_MAX_REPLY_SURBS) {
		snprintf(text, sizeof(text), "send: too many reply blocks: %u, the "
		    "maximum is %d", req->reply_surbs, API_MAX_REPLY_SURBS);
		api_exception(text, out, out_len);
		return;
	}
	if (req->reply_surbs > 0 &&
	    (long)req->message.len > payload_tagged_room(0)) {
		/* docs/replies.md: reply blocks with a message in fragments
		 * are not supported yet. */
		snprintf(text, sizeof(text), "send: message too large to go with "
		    "reply blocks: %zu bytes, the maximum with reply_surbs is %ld "
		    "(a message in fragments cannot carry reply blocks yet)",
		    req->message.len, payload_tagged_room(0));
		api_exception(text, out, out_len);
		return;
	}
	if (st->queue == NULL) {
		api_exception("send: the message store is not open", out, out_len);
		return;
	}
	if (req->reply_surbs > 0) {
		api_send_tagged(st, req, provider, out, out_len);
		return;
	}
	randombytes_buf(msgid, sizeof(msgid));
	/* Answered only once the message is committed to disk. */
	if (queue_enqueue(st->queue, msgid, to->pubkey.data, provider,
	    req->message.data, req->message.len, &id) == -1) {
		/* Nothing of it is stored: the insert is one transaction. */
		snprintf(text, sizeof(text), "send: the message could not be "
		    "stored: %s", queue_error(st->queue));
		api_exception(text, out, out_len);
		return;
	}
	log_debug("message %llu queued (%zu bytes)", (unsigned long long)id, req->message.len);
	if (st->queued != NULL) {
		struct queue_outgoing o = {
			.id = id, .msgid = msgid, .recipient = to->pubkey.data,
			.provider = provider,
			.message = req->message.data, .len = req->message.len,
		};
		st->queued(&o);
	}
	/* nymd's addition: the id status asks by (docs/acks.md). */
	sent.message_id.data = msgid;
	sent.message_id.len = QUEUE_MSGID_BYTES;
	res.value_case = TYPES__RESPONSE__VALUE_SEND;
	res.send = &sent;
	api_pack(&res, out, out_len);
}

/* A reply through one of tag's blocks, taken and queued in one
 * transaction: a block is used once, whatever happens after. */
static void
api_reply(const struct rpcd_state *st, const Types__RequestReply *req,
    uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage sent = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	uint8_t msgid[QUEUE_MSGID_BYTES];
	char text[768];
	uint64_t id;
	int rc;

	if (req->sender_tag.len != QUEUE_TAG_BYTES) {
		snprintf(text, sizeof(text), "reply: bad sender tag length: %zu bytes, "
		    "expected %d", req->sender_tag.len, QUEUE_TAG_BYTES);
		api_exception(text, out, out_len);
		return;
	}
	if (req->message.len == 0) {
		api_exception("reply: empty message", out, out_len);
		return;
	}
	if (req->message.len > MESSAGE_MAX_BYTES) {
		snprintf(text, sizeof(text), "reply: message too large: %zu bytes, the "
		    "maximum is %d", req->message.len, MESSAGE_MAX_BYTES);
		api_exception(text, out, out_len);
		return;
	}
	if (st->queue == NULL) {
		api_exception("reply: the message store is not open", out, out_len);
		return;
	}
	randombytes_buf(msgid, sizeof(msgid));
	rc = queue_reply(st->queue, req->sender_tag.data, msgid, req->message.data,
	    req->message.len, &id);
	if (rc == 1) {
		api_exception("reply: no reply block left for this sender tag (an "
		    "unknown tag, or its blocks are all used or expired)", out, out_len);
		return;
	}
	if (rc == -1) {
		snprintf(text, sizeof(text), "reply: the reply could not be stored: %s",
		    queue_error(st->queue));
		api_exception(text, out, out_len);
		return;
	}
	log_debug("reply %llu queued (%zu bytes)", (unsigned long long)id,
	    req->message.len);
	if (st->queued != NULL)
		st->queued(NULL);
	sent.message_id.data = msgid;
	sent.message_id.len = QUEUE_MSGID_BYTES;
	res.value_case = TYPES__RESPONSE__VALUE_REPLY;
	res.reply = &sent;
	api_pack(&res, out, out_len);
}

struct api_fetched {
	struct api_arena	*arena;
	ProtobufCBinaryData	*msgs;
	Types__ReceivedMessage	**received;
	size_t			 n;
	size_t			 cap;
	size_t			 bytes;		/* of the response, about */
	uint8_t			**out;
	size_t			*out_len;
	int			 pushed;	/* a push, not a fetch's answer */
};

/* The received entry of a message: the same bytes, its ids. */
static Types__ReceivedMessage *
api_received_entry(struct api_arena *a, const struct queue_received *r,
    uint8_t *copy)
{
	Types__ReceivedMessage *e = arena_alloc(a, sizeof(*e));

	types__received_message__init(e);
	e->message.data = copy;
	e->message.len = r->len;
	if (r->msgid != NULL) {
		e->message_id.data = memcpy(arena_alloc(a, QUEUE_MSGID_BYTES), r->msgid,
		    QUEUE_MSGID_BYTES);
		e->message_id.len = QUEUE_MSGID_BYTES;
	}
	if (r->tag != NULL) {
		e->sender_tag.data = memcpy(arena_alloc(a, QUEUE_TAG_BYTES), r->tag,
		    QUEUE_TAG_BYTES);
		e->sender_tag.len = QUEUE_TAG_BYTES;
	}
	return e;
}

static void
api_fetch_grow(struct api_fetched *f)
{
	size_t cap = f->cap ? f->cap * 2 : 16;
	ProtobufCBinaryData *m = arena_alloc(f->arena, cap * sizeof(*m));
	Types__ReceivedMessage **r = arena_alloc(f->arena, cap * sizeof(*r));

	if (f->n > 0) {
		memcpy(m, f->msgs, f->n * sizeof(*m));
		memcpy(r, f->received, f->n * sizeof(*r));
	}
	f->msgs = m;
	f->received = r;
	f->cap = cap;
}

static int
api_fetch_one(void *arg, const struct queue_received *r)
{
	struct api_fetched *f = arg;
	size_t len = r->len;

	/* A response holds messages while it stays within 1 MiB
	 * (FRAME_MAX_MESSAGE_BYTES, the seed's frame limit): the rest wait
	 * for the next fetch. Each message is in it twice (messages and
	 * received); 64 bytes of protobuf and ids per message are more than
	 * enough. The first one always goes: a message of max_message_bytes
	 * makes a response of about twice that (libnym and the Python module
	 * read responses up to 64 MiB: NYM_MAX_RESPONSE_BYTES). */
	if (f->n > 0 && f->bytes + 2 * len + 64 > FRAME_MAX_MESSAGE_BYTES - 64)
		return 1;
	f->bytes += 2 * len + 64;
	if (f->n == f->cap)
		api_fetch_grow(f);
	uint8_t *copy = arena_alloc(f->arena, len ? len : 1);
	if (len > 0)
		memcpy(copy, r->message, len);
	f->msgs[f->n].data = copy;
	f->msgs[f->n].len = len;
	f->received[f->n] = api_received_entry(f->arena, r, copy);
	f->n++;
	return 0;
}

/* The response is made before the messages are marked fetched. */
static int
api_fetch_done(void *arg)
{
	struct api_fetched *f = arg;
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseFetchMessages fe = TYPES__RESPONSE_FETCH_MESSAGES__INIT;
	Types__ResponsePushed pu = TYPES__RESPONSE_PUSHED__INIT;

	if (f->pushed) {
		if (f->n == 0)
			return 0;	/* nothing to push */
		pu.n_messages = f->n;
		pu.messages = f->msgs;
		res.value_case = TYPES__RESPONSE__VALUE_PUSHED;
		res.pushed = &pu;
	} else {
		fe.n_messages = f->n;
		fe.messages = f->msgs;
		fe.n_received = f->n;
		fe.received = f->received;
		res.value_case = TYPES__RESPONSE__VALUE_FETCH;
		res.fetch = &fe;
	}
	api_pack(&res, f->out, f->out_len);
	return 0;
}

static void
api_fetch(const struct rpcd_state *st, uint8_t **out, size_t *out_len)
{
	struct api_arena a = { .n = 0 };
	struct api_fetched f = { .arena = &a, .out = out, .out_len = out_len };

	if (st->queue == NULL) {
		api_exception("fetch: the message store is not open", out, out_len);
		return;
	}
	*out = NULL;
	if (queue_fetch(st->queue, api_fetch_one, api_fetch_done, &f) < 0) {
		arena_free(&a);
		free(*out);	/* made, but the commit failed */
		api_exception("fetch: the messages could not be read; they "
		    "stay stored", out, out_len);
		return;
	}
	arena_free(&a);
}

int
api_push(const struct rpcd_state *st, uint8_t **out, size_t *out_len)
{
	struct api_arena a = { .n = 0 };
	struct api_fetched f = { .arena = &a, .out = out, .out_len = out_len,
	    .pushed = 1 };
	long n;

	*out = NULL;
	if (st->queue == NULL)
		return 0;
	n = queue_fetch(st->queue, api_fetch_one, api_fetch_done, &f);
	arena_free(&a);
	if (n < 0) {
		/* Made, but not marked pushed: they stay for the next push. */
		free(*out);
		*out = NULL;
		return -1;
	}
	return *out != NULL;
}

void
api_subscribed(uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseSubscribe su = TYPES__RESPONSE_SUBSCRIBE__INIT;

	res.value_case = TYPES__RESPONSE__VALUE_SUBSCRIBE;
	res.subscribe = &su;
	api_pack(&res, out, out_len);
}

size_t
api_max_request_bytes(size_t max_message_bytes)
{
	size_t n = max_message_bytes + API_REQUEST_OVERHEAD_BYTES;

	return n > FRAME_MAX_MESSAGE_BYTES ? n : FRAME_MAX_MESSAGE_BYTES;
}

size_t
api_max_websocket_bytes(size_t max_request_bytes)
{
	return (max_request_bytes / 3 + 1) * 4 + 64 * 1024;
}

static void
api_limits(const struct rpcd_state *st, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseLimits li = TYPES__RESPONSE_LIMITS__INIT;

	li.max_message_bytes = st->max_message_bytes;
	li.max_request_bytes = st->max_request_bytes;
	res.value_case = TYPES__RESPONSE__VALUE_LIMITS;
	res.limits = &li;
	api_pack(&res, out, out_len);
}

static void
api_flush(uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseFlush fl = TYPES__RESPONSE_FLUSH__INIT;

	/* Responses are written in request order: everything before this
	 * one is already in the connection's output. */
	res.value_case = TYPES__RESPONSE__VALUE_FLUSH;
	res.flush = &fl;
	api_pack(&res, out, out_len);
}

enum api_peek
api_peek(const uint8_t *req, size_t len)
{
	Types__Request *r = types__request__unpack(NULL, len, req);
	enum api_peek kind = API_PEEK_OTHER;

	if (r == NULL)
		return API_PEEK_OTHER;	/* api_handle() says what is wrong */
	switch (r->value_case) {
	case TYPES__REQUEST__VALUE_CLIENTS:
		if (r->clients != NULL && r->clients->refresh)
			kind = API_PEEK_REFRESH;
		break;
	case TYPES__REQUEST__VALUE_SUBSCRIBE:
		kind = API_PEEK_SUBSCRIBE;
		break;
	case TYPES__REQUEST__VALUE_WATCH:
		kind = API_PEEK_WATCH;
		break;
	case TYPES__REQUEST__VALUE_FLUSH:
		kind = API_PEEK_FLUSH;
		break;
	default:
		break;
	}
	types__request__free_unpacked(r, NULL);
	return kind;
}

/* A message id as the exceptions and nymctl(1) write it: hex. */
static void
api_hex(char out[2 * QUEUE_MSGID_BYTES + 1], const uint8_t *id)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < QUEUE_MSGID_BYTES; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[2 * QUEUE_MSGID_BYTES] = '\0';
}

/* The store's status as the socket API's MessageStatus (its reason and
 * id stay the store's: packed before st goes). */
static void
api_message_status(Types__MessageStatus *m, const struct queue_status *st)
{
	types__message_status__init(m);
	m->message_id.data = (uint8_t *)st->msgid;
	m->message_id.len = QUEUE_MSGID_BYTES;
	switch (st->state) {
	case QUEUE_QUEUED:	m->state = TYPES__MESSAGE_STATUS__STATE__QUEUED; break;
	case QUEUE_SENDING:	m->state = TYPES__MESSAGE_STATUS__STATE__SENDING; break;
	case QUEUE_DELIVERED:	m->state = TYPES__MESSAGE_STATUS__STATE__DELIVERED; break;
	case QUEUE_FAILED:	m->state = TYPES__MESSAGE_STATUS__STATE__FAILED; break;
	case QUEUE_SENT:	m->state = TYPES__MESSAGE_STATUS__STATE__SENT; break;
	}
	m->packets = st->packets;
	m->acknowledged = st->acked;
	if (st->state == QUEUE_FAILED && st->reason[0] != '\0')
		m->reason = (char *)st->reason;
}

/* nymd's addition (docs/acks.md): a sent message's state, by its id. */
static void
api_status(const struct rpcd_state *st, const Types__RequestStatus *req,
    uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__MessageStatus ms;
	struct queue_status qs;
	char text[512], hex[2 * QUEUE_MSGID_BYTES + 1];

	if (req->message_id.len != QUEUE_MSGID_BYTES) {
		snprintf(text, sizeof(text), "status: bad message id length: %zu "
		    "bytes, expected %d", req->message_id.len, QUEUE_MSGID_BYTES);
		api_exception(text, out, out_len);
		return;
	}
	if (st->queue == NULL) {
		api_exception("status: the message store is not open", out, out_len);
		return;
	}
	switch (queue_status(st->queue, req->message_id.data, &qs)) {
	case 0:
		break;
	case 1:
		api_hex(hex, req->message_id.data);
		snprintf(text, sizeof(text), "status: no message with id %s (never "
		    "sent here, or its status was forgotten %u days after it ended)",
		    hex, QUEUE_STATUS_KEEP_SECONDS / (24 * 3600));
		api_exception(text, out, out_len);
		return;
	default:
		snprintf(text, sizeof(text), "status: the message store could not "
		    "be read: %s", queue_error(st->queue));
		api_exception(text, out, out_len);
		return;
	}
	api_message_status(&ms, &qs);
	res.value_case = TYPES__RESPONSE__VALUE_STATUS;
	res.status = &ms;
	api_pack(&res, out, out_len);
}

void
api_watching(uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__ResponseWatch wa = TYPES__RESPONSE_WATCH__INIT;

	res.value_case = TYPES__RESPONSE__VALUE_WATCH;
	res.watch = &wa;
	api_pack(&res, out, out_len);
}

void
api_changed(const struct queue_status *st, uint8_t **out, size_t *out_len)
{
	Types__Response res = TYPES__RESPONSE__INIT;
	Types__MessageStatus ms;

	api_message_status(&ms, st);
	res.value_case = TYPES__RESPONSE__VALUE_CHANGED;
	res.changed = &ms;
	api_pack(&res, out, out_len);
}

void
api_handle(const struct rpcd_state *st, const uint8_t *req, size_t len,
    uint8_t **out, size_t *out_len)
{
	Types__Request *r = types__request__unpack(NULL, len, req);

	if (r == NULL) {
		api_exception("malformed request: not a protobuf Request message",
		    out, out_len);
		return;
	}
	switch (r->value_case) {
	case TYPES__REQUEST__VALUE_DETAILS:
		api_details(st, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_CLIENTS:
		api_clients(st, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_FLUSH:
		api_flush(out, out_len);
		break;
	case TYPES__REQUEST__VALUE_SEND:
		api_send(st, r->send, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_FETCH:
		api_fetch(st, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_LIMITS:
		api_limits(st, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_SUBSCRIBE:
		/* The unix and TCP listener answers it before api_handle(). */
		api_exception("subscribe: not available on the websocket: poll with "
		    "fetch", out, out_len);
		break;
	case TYPES__REQUEST__VALUE_REPLY:
		api_reply(st, r->reply, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_STATUS:
		api_status(st, r->status, out, out_len);
		break;
	case TYPES__REQUEST__VALUE_WATCH:
		/* Every transport answers it before api_handle(). */
		api_exception("watch: not available on this socket", out, out_len);
		break;
	default:
		api_exception(API_INVALID_REQUEST ": unknown request: "
		    "expected one of send, fetch, clients, details, flush, reply",
		    out, out_len);
		break;
	}
	types__request__free_unpacked(r, NULL);
}

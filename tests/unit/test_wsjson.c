/* The protobuf JSON mapping of the websocket's text messages. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpcd/wsjson.h"
#include "types.pb-c.h"

/* 32 bytes 0x00..0x1f in standard base64, and URL-safe without padding */
#define KEY_STD	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_URL	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static Types__Request *
request_ok(const char *json)
{
	uint8_t *pb = NULL;
	size_t len = 0;
	char err[WSJSON_ERROR_BYTES];
	int rc = wsjson_request(json, strlen(json), &pb, &len, err, sizeof(err));

	if (rc != WSJSON_OK)
		fail_msg("%s: %s", json, err);
	Types__Request *r = types__request__unpack(NULL, len, pb);
	free(pb);
	assert_non_null(r);
	return r;
}

/* The request is refused with an error text containing want. */
static void
request_err(const char *json, size_t len, const char *want)
{
	uint8_t *pb = NULL;
	size_t pb_len;
	char err[WSJSON_ERROR_BYTES];
	int rc = wsjson_request(json, len, &pb, &pb_len, err, sizeof(err));

	assert_int_equal(rc, WSJSON_ERR_INVALID);
	assert_null(pb);
	if (strstr(err, want) == NULL)
		fail_msg("%.*s: error '%s' does not say '%s'", (int)len, json, err, want);
	for (const char *p = err; *p != '\0'; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

#define REQ_ERR(json, want) request_err(json, sizeof(json) - 1, want)

static void
test_empty_requests(void **state)
{
	static const struct {
		const char *json;
		Types__Request__ValueCase want;
	} cases[] = {
		{ "{\"fetch\":{}}", TYPES__REQUEST__VALUE_FETCH },
		{ "{\"clients\":{}}", TYPES__REQUEST__VALUE_CLIENTS },
		{ "{\"details\":{}}", TYPES__REQUEST__VALUE_DETAILS },
		{ "{\"flush\":{}}", TYPES__REQUEST__VALUE_FLUSH },
		{ " { \"details\" : { } } \n", TYPES__REQUEST__VALUE_DETAILS },
		/* null still names its request, as jsonpb read it */
		{ "{\"details\":null}", TYPES__REQUEST__VALUE_DETAILS },
		{ "{\"fetch\":null}", TYPES__REQUEST__VALUE_FETCH },
		/* what follows the first JSON value is not read (jsonpb) */
		{ "{\"details\":{}} x", TYPES__REQUEST__VALUE_DETAILS },
		{ "{\"details\":{}}{\"fetch\":{}}", TYPES__REQUEST__VALUE_DETAILS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Types__Request *r = request_ok(cases[i].json);
		assert_int_equal(r->value_case, cases[i].want);
		types__request__free_unpacked(r, NULL);
	}
	Types__Request *r = request_ok("{\"send\":null}");
	assert_int_equal(r->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_null(r->send->recipient);
	types__request__free_unpacked(r, NULL);
}

static void
check_send(const Types__Request *r, int with_provider)
{
	assert_int_equal(r->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_int_equal(r->send->message.len, 5);
	assert_memory_equal(r->send->message.data, "hello", 5);
	const Config__ClientConfig *c = r->send->recipient;
	assert_non_null(c);
	assert_string_equal(c->id, "the-id");
	assert_string_equal(c->host, "127.0.0.1");
	assert_string_equal(c->port, "9001");
	assert_int_equal(c->pubkey.len, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(c->pubkey.data[i], i);
	if (!with_provider) {
		assert_null(c->provider);
		return;
	}
	assert_non_null(c->provider);
	assert_string_equal(c->provider->id, "prov");
	assert_string_equal(c->provider->host, "10.0.0.1");
	assert_string_equal(c->provider->port, "9200");
	assert_int_equal(c->provider->pubkey.len, 32);
	assert_true(c->provider->layer == 1000000);
}

static void
test_send_json_names(void **state)
{
	Types__Request *r = request_ok("{\"send\":{\"message\":\"aGVsbG8=\","
	    "\"recipient\":{\"id\":\"the-id\",\"host\":\"127.0.0.1\",\"port\":\"9001\","
	    "\"pubKey\":\"" KEY_STD "\",\"provider\":{\"id\":\"prov\",\"host\":\"10.0.0.1\","
	    "\"port\":\"9200\",\"pubKey\":\"" KEY_STD "\",\"layer\":\"1000000\"}}}}");
	check_send(r, 1);
	types__request__free_unpacked(r, NULL);
}

static void
test_send_orig_names(void **state)
{
	/* original names, layer as a number, URL-safe unpadded bytes */
	Types__Request *r = request_ok("{\"send\":{\"message\":\"aGVsbG8\","
	    "\"recipient\":{\"Id\":\"the-id\",\"Host\":\"127.0.0.1\",\"Port\":\"9001\","
	    "\"PubKey\":\"" KEY_URL "\",\"Provider\":{\"Id\":\"prov\",\"Host\":\"10.0.0.1\","
	    "\"Port\":\"9200\",\"PubKey\":\"" KEY_STD "\",\"Layer\":1000000}}}}");
	check_send(r, 1);
	types__request__free_unpacked(r, NULL);
	/* mixed, no provider, defaults */
	r = request_ok("{\"send\":{\"message\":\"aGVsbG8=\",\"recipient\":{\"Id\":\"the-id\","
	    "\"host\":\"127.0.0.1\",\"Port\":\"9001\",\"pubKey\":\"" KEY_STD "\",\"provider\":null}}}");
	check_send(r, 0);
	types__request__free_unpacked(r, NULL);
	r = request_ok("{\"send\":{}}");
	assert_int_equal(r->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_int_equal(r->send->message.len, 0);
	assert_null(r->send->recipient);
	types__request__free_unpacked(r, NULL);
	r = request_ok("{\"send\":{\"recipient\":{\"provider\":{\"layer\":\"18446744073709551615\"}}}}");
	assert_true(r->send->recipient->provider->layer == UINT64_MAX);
	types__request__free_unpacked(r, NULL);
}

static void
test_request_errors(void **state)
{
	REQ_ERR("", "malformed JSON");
	REQ_ERR("{", "malformed JSON");
	REQ_ERR("{\"fetch\":{}", "malformed JSON");
	REQ_ERR("nul", "malformed JSON");
	REQ_ERR("{\"fetch\":{},\"fetch\":{}}", "malformed JSON");
	REQ_ERR("{\"message\":\"\\u0000\"}", "malformed JSON");
	REQ_ERR("{\"\xff\":{}}", "malformed JSON");
	REQ_ERR("[]", "must be a JSON object");
	REQ_ERR("\"fetch\"", "must be a JSON object");
	/* the seed's words first, then nymd's */
	REQ_ERR("{}", "Invalid server request: empty request: expected one of");
	REQ_ERR("{\"Fetch\":{}}", "Invalid server request: unknown request \"Fetch\"");
	REQ_ERR("{\"bogus\":{}}", "unknown request \"bogus\": expected one of send, fetch");
	REQ_ERR("{\"fetch\":{},\"details\":{}}", "more than one request");
	REQ_ERR("{\"fetch\":null,\"details\":{}}", "more than one request");
	REQ_ERR("{\"fetch\":1}", "fetch must be a JSON object");
	REQ_ERR("{\"details\":[]}", "details must be a JSON object");
	REQ_ERR("{\"clients\":{\"x\":1}}", "unknown field \"x\" in clients");
	REQ_ERR("{\"send\":{\"msg\":\"\"}}", "unknown field \"msg\" in send");
	REQ_ERR("{\"send\":{\"message\":\"@@@@\"}}", "invalid base64 in send.message");
	REQ_ERR("{\"send\":{\"message\":\"aGVsbG8=x\"}}", "invalid base64 in send.message");
	REQ_ERR("{\"send\":{\"message\":\"aGVsbG8==\"}}", "invalid base64 in send.message");
	REQ_ERR("{\"send\":{\"message\":\"aGV-bG/=\"}}", "invalid base64 in send.message");
	REQ_ERR("{\"send\":{\"message\":12}}", "send.message must be a base64 string");
	REQ_ERR("{\"send\":{\"recipient\":\"alice\"}}", "send.recipient must be a JSON object");
	REQ_ERR("{\"send\":{\"recipient\":{\"pubKey\":\"!\"}}}", "invalid base64 in send.recipient.pubKey");
	REQ_ERR("{\"send\":{\"recipient\":{\"id\":5}}}", "send.recipient.id must be a JSON string");
	REQ_ERR("{\"send\":{\"recipient\":{\"id\":\"a\",\"Id\":\"b\"}}}", "given twice");
	REQ_ERR("{\"send\":{\"recipient\":{\"id\":null,\"Id\":\"b\"}}}", "given twice");
	REQ_ERR("{\"send\":{\"recipient\":{\"ID\":\"a\"}}}", "unknown field \"ID\" in send.recipient");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"layer\":-1}}}}", "must not be negative");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"layer\":1.5}}}}", "unsigned integer");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"layer\":\"1x\"}}}}", "unsigned integer");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"layer\":\"\"}}}}", "unsigned integer");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"layer\":\"18446744073709551616\"}}}}",
	    "larger than 64 bits");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"Layer\":true}}}}", "unsigned integer");
	REQ_ERR("{\"send\":{\"recipient\":{\"provider\":{\"bogus\":1}}}}",
	    "unknown field \"bogus\" in send.recipient.provider");
	/* names from the input are echoed printable and short */
	REQ_ERR("{\"a\\u0001b\":{}}", "unknown request \"a?b\"");
	REQ_ERR("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{}}",
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
	REQ_ERR("{\"\xc3\xa9\":{}}", "unknown request \"??\"");
}

static void
test_deep_nesting(void **state)
{
	size_t n = 100000;
	char *json = malloc(2 * n + 1);

	assert_non_null(json);
	memset(json, '[', n);
	memset(json + n, ']', n);
	request_err(json, 2 * n, "malformed JSON");
	free(json);
}

/* Response -> JSON */

static void
response_is(const Types__Response *r, const char *want)
{
	size_t len = types__response__get_packed_size(r);
	uint8_t *pb = malloc(len ? len : 1);
	char *json = NULL;
	size_t json_len = 0;

	assert_non_null(pb);
	types__response__pack(r, pb);
	assert_int_equal(wsjson_response(pb, len, &json, &json_len), WSJSON_OK);
	free(pb);
	assert_string_equal(json, want);
	assert_int_equal(json_len, strlen(want));
	free(json);
}

static uint8_t key[32];

static void
fill_client(Config__ClientConfig *c, Config__MixConfig *m)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	config__client_config__init(c);
	config__mix_config__init(m);
	c->id = "the-id";
	c->pubkey.data = key;
	c->pubkey.len = sizeof(key);
	m->id = "prov";
	m->host = "10.0.0.1";
	m->port = "9200";
	m->pubkey.data = key;
	m->pubkey.len = sizeof(key);
	m->layer = 1000000;
	c->provider = m;
}

/* jsonpb's text, as the seed's program wrote it (two-space indent) */
#define PROVIDER_JSON(in)						\
	in "\"provider\": {\n"						\
	in "  \"id\": \"prov\",\n"					\
	in "  \"host\": \"10.0.0.1\",\n"				\
	in "  \"port\": \"9200\",\n"					\
	in "  \"pubKey\": \"" KEY_STD "\",\n"				\
	in "  \"layer\": \"1000000\"\n"					\
	in "}"

static void
test_response_simple(void **state)
{
	Types__Response r = TYPES__RESPONSE__INIT;
	Types__ResponseException ex = TYPES__RESPONSE_EXCEPTION__INIT;
	Types__ResponseSendMessage send = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	Types__ResponseFetchMessages fetch = TYPES__RESPONSE_FETCH_MESSAGES__INIT;
	Types__ResponseFlush flush = TYPES__RESPONSE_FLUSH__INIT;
	ProtobufCBinaryData msgs[2] = {
		{ 5, (uint8_t *)"hello" }, { 3, (uint8_t *)"\xff\xfe\xfd" },
	};

	response_is(&r, "{\n\n}");
	r.value_case = TYPES__RESPONSE__VALUE_EXCEPTION;
	r.exception = &ex;
	ex.error = "malformed JSON: \"x\" \\ / \n";
	response_is(&r, "{\n  \"exception\": {\n    \"error\": "
	    "\"malformed JSON: \\\"x\\\" \\\\ / \\n\"\n  }\n}");
	/* escaped as Go's encoding/json does */
	ex.error = "<a & b>\x01\x1f\t\r\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9";
	response_is(&r, "{\n  \"exception\": {\n    \"error\": "
	    "\"\\u003ca \\u0026 b\\u003e\\u0001\\u001f\\t\\r\\u2028\\u2029\xc3\xa9\"\n  }\n}");
	ex.error = "";
	response_is(&r, "{\n  \"exception\": {\n\n  }\n}");
	r.value_case = TYPES__RESPONSE__VALUE_SEND;
	r.send = &send;
	response_is(&r, "{\n  \"send\": {\n\n  }\n}");
	/* the seed always wrote the list, empty too */
	r.value_case = TYPES__RESPONSE__VALUE_FETCH;
	r.fetch = &fetch;
	response_is(&r, "{\n  \"fetch\": {\n    \"messages\": [\n    ]\n  }\n}");
	fetch.n_messages = 2;
	fetch.messages = msgs;
	response_is(&r, "{\n  \"fetch\": {\n    \"messages\": [\n"
	    "      \"aGVsbG8=\",\n      \"//79\"\n    ]\n  }\n}");
	r.value_case = TYPES__RESPONSE__VALUE_FLUSH;
	r.flush = &flush;
	response_is(&r, "{\n  \"flush\": {\n\n  }\n}");
}

static void
test_response_details(void **state)
{
	Types__Response r = TYPES__RESPONSE__INIT;
	Types__ResponseOwnDetails det = TYPES__RESPONSE_OWN_DETAILS__INIT;
	Types__ResponseGetClients cl = TYPES__RESPONSE_GET_CLIENTS__INIT;
	Config__ClientConfig c, c2;
	Config__MixConfig m, m2;
	Config__ClientConfig *list[2] = { &c, &c2 };

	fill_client(&c, &m);
	r.value_case = TYPES__RESPONSE__VALUE_DETAILS;
	r.details = &det;
	response_is(&r, "{\n  \"details\": {\n\n  }\n}");
	det.details = &c;
	response_is(&r, "{\n"
	    "  \"details\": {\n"
	    "    \"details\": {\n"
	    "      \"id\": \"the-id\",\n"
	    "      \"pubKey\": \"" KEY_STD "\",\n"
	    PROVIDER_JSON("      ") "\n"
	    "    }\n"
	    "  }\n"
	    "}");
	r.value_case = TYPES__RESPONSE__VALUE_CLIENTS;
	r.clients = &cl;
	response_is(&r, "{\n  \"clients\": {\n    \"clients\": [\n    ]\n  }\n}");
	fill_client(&c2, &m2);
	c2.provider = NULL;
	c2.host = "h";
	c2.port = "1";
	cl.n_clients = 2;
	cl.clients = list;
	response_is(&r, "{\n"
	    "  \"clients\": {\n"
	    "    \"clients\": [\n"
	    "      {\n"
	    "        \"id\": \"the-id\",\n"
	    "        \"pubKey\": \"" KEY_STD "\",\n"
	    PROVIDER_JSON("        ") "\n"
	    "      },\n"
	    "      {\n"
	    "        \"id\": \"the-id\",\n"
	    "        \"host\": \"h\",\n"
	    "        \"port\": \"1\",\n"
	    "        \"pubKey\": \"" KEY_STD "\"\n"
	    "      }\n"
	    "    ]\n"
	    "  }\n"
	    "}");
	m.layer = UINT64_MAX;
	cl.n_clients = 1;
	response_is(&r, "{\n"
	    "  \"clients\": {\n"
	    "    \"clients\": [\n"
	    "      {\n"
	    "        \"id\": \"the-id\",\n"
	    "        \"pubKey\": \"" KEY_STD "\",\n"
	    "        \"provider\": {\n"
	    "          \"id\": \"prov\",\n"
	    "          \"host\": \"10.0.0.1\",\n"
	    "          \"port\": \"9200\",\n"
	    "          \"pubKey\": \"" KEY_STD "\",\n"
	    "          \"layer\": \"18446744073709551615\"\n"
	    "        }\n"
	    "      }\n"
	    "    ]\n"
	    "  }\n"
	    "}");
}

static void
test_response_errors(void **state)
{
	char *json = NULL;
	size_t len;
	/* field 1 (exception), length 3, then a string that is not UTF-8 */
	static const uint8_t bad_utf8[] = { 0x0a, 0x05, 0x0a, 0x03, 'a', 0xff, 'b' };
	static const uint8_t overlong[] = { 0x0a, 0x04, 0x0a, 0x02, 0xc0, 0xaf };
	static const uint8_t truncated[] = { 0x0a, 0x05, 0x0a, 0x03, 'a' };

	assert_int_equal(wsjson_response(truncated, sizeof(truncated), &json, &len),
	    WSJSON_ERR_INVALID);
	/* protobuf-c may refuse these itself; either way they are not JSON */
	assert_int_equal(wsjson_response(bad_utf8, sizeof(bad_utf8), &json, &len),
	    WSJSON_ERR_INVALID);
	assert_int_equal(wsjson_response(overlong, sizeof(overlong), &json, &len),
	    WSJSON_ERR_INVALID);
	assert_null(json);
}

/* What a text request becomes answers back as the same JSON. */
static void
test_round_trip(void **state)
{
	Types__Request *req = request_ok("{\"send\":{\"message\":\"aGVsbG8=\"}}");
	Types__Response r = TYPES__RESPONSE__INIT;
	Types__ResponseFetchMessages fetch = TYPES__RESPONSE_FETCH_MESSAGES__INIT;

	r.value_case = TYPES__RESPONSE__VALUE_FETCH;
	r.fetch = &fetch;
	fetch.n_messages = 1;
	fetch.messages = &req->send->message;
	response_is(&r, "{\n  \"fetch\": {\n    \"messages\": [\n      \"aGVsbG8=\"\n    ]\n  }\n}");
	types__request__free_unpacked(req, NULL);
}

/* nymd's additions for reply blocks (docs/replies.md), in JSON. */
static void
test_replies(void **state)
{
	Types__Request *q;
	Types__Response r = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage sent = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	Types__ResponseFetchMessages fetch = TYPES__RESPONSE_FETCH_MESSAGES__INIT;
	Types__ReceivedMessage a = TYPES__RECEIVED_MESSAGE__INIT;
	Types__ReceivedMessage b = TYPES__RECEIVED_MESSAGE__INIT;
	Types__ReceivedMessage *rec[2] = { &a, &b };
	ProtobufCBinaryData msgs[2] = {
		{ 5, (uint8_t *)"hello" }, { 2, (uint8_t *)"re" },
	};

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	q = request_ok("{\"send\":{\"message\":\"aGk=\",\"replySurbs\":5}}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_SEND);
	assert_int_equal(q->send->reply_surbs, 5);
	types__request__free_unpacked(q, NULL);
	q = request_ok("{\"send\":{\"reply_surbs\":\"16\"}}");
	assert_int_equal(q->send->reply_surbs, 16);
	types__request__free_unpacked(q, NULL);
	REQ_ERR("{\"send\":{\"replySurbs\":-1}}", "send.replySurbs must not be negative");
	REQ_ERR("{\"send\":{\"replySurbs\":4294967296}}", "larger than 32 bits");

	q = request_ok("{\"reply\":{\"senderTag\":\"AAECAwQFBgcICQoLDA0ODw==\","
	    "\"message\":\"aGk=\"}}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_REPLY);
	assert_int_equal(q->reply->sender_tag.len, 16);
	assert_int_equal(q->reply->sender_tag.data[15], 15);
	assert_int_equal(q->reply->message.len, 2);
	types__request__free_unpacked(q, NULL);
	q = request_ok("{\"reply\":{\"sender_tag\":\"AAEC\"}}");
	assert_int_equal(q->reply->sender_tag.len, 3);
	types__request__free_unpacked(q, NULL);
	REQ_ERR("{\"reply\":{\"tag\":\"AAEC\"}}", "unknown field \"tag\" in reply");
	REQ_ERR("{\"reply\":{\"senderTag\":\"!!\"}}", "invalid base64 in reply.senderTag");
	REQ_ERR("{\"bogus\":{}}", "expected one of send, fetch, clients, details, flush, reply");

	r.value_case = TYPES__RESPONSE__VALUE_REPLY;
	r.reply = &sent;
	response_is(&r, "{\n  \"reply\": {\n\n  }\n}");
	/* received beside messages, each with what is known of it */
	r.value_case = TYPES__RESPONSE__VALUE_FETCH;
	r.fetch = &fetch;
	fetch.n_messages = 2;
	fetch.messages = msgs;
	fetch.n_received = 2;
	fetch.received = rec;
	a.message = msgs[0];
	a.sender_tag.data = key;
	a.sender_tag.len = 16;
	a.message_id.data = key + 16;
	a.message_id.len = 16;
	b.message = msgs[1];
	b.message_id.data = key;
	b.message_id.len = 16;
	response_is(&r, "{\n  \"fetch\": {\n    \"messages\": [\n"
	    "      \"aGVsbG8=\",\n      \"cmU=\"\n    ],\n"
	    "    \"received\": [\n"
	    "      {\n        \"message\": \"aGVsbG8=\",\n"
	    "        \"senderTag\": \"AAECAwQFBgcICQoLDA0ODw==\",\n"
	    "        \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\"\n      },\n"
	    "      {\n        \"message\": \"cmU=\",\n"
	    "        \"messageId\": \"AAECAwQFBgcICQoLDA0ODw==\"\n      }\n"
	    "    ]\n  }\n}");
}

/* nymd's additions for delivery status (docs/acks.md), in JSON. */
static void
test_status(void **state)
{
	Types__Request *q;
	Types__Response r = TYPES__RESPONSE__INIT;
	Types__ResponseSendMessage sent = TYPES__RESPONSE_SEND_MESSAGE__INIT;
	Types__ResponseWatch watch = TYPES__RESPONSE_WATCH__INIT;
	Types__MessageStatus ms = TYPES__MESSAGE_STATUS__INIT;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	q = request_ok("{\"status\":{\"messageId\":\"AAECAwQFBgcICQoLDA0ODw==\"}}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_STATUS);
	assert_int_equal(q->status->message_id.len, 16);
	assert_memory_equal(q->status->message_id.data, key, 16);
	types__request__free_unpacked(q, NULL);
	/* the original name, URL-safe unpadded base64; any length (rpcd
	 * checks it) */
	q = request_ok("{\"status\":{\"message_id\":\"_-8\"}}");
	assert_int_equal(q->status->message_id.len, 2);
	assert_int_equal(q->status->message_id.data[0], 0xff);
	types__request__free_unpacked(q, NULL);
	q = request_ok("{\"status\":{}}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_STATUS);
	assert_int_equal(q->status->message_id.len, 0);
	types__request__free_unpacked(q, NULL);
	q = request_ok("{\"status\":null}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_STATUS);
	types__request__free_unpacked(q, NULL);
	q = request_ok("{\"watch\":{}}");
	assert_int_equal(q->value_case, TYPES__REQUEST__VALUE_WATCH);
	types__request__free_unpacked(q, NULL);
	REQ_ERR("{\"status\":{\"id\":\"AAEC\"}}", "unknown field \"id\" in status");
	REQ_ERR("{\"status\":{\"messageId\":\"!!\"}}", "invalid base64 in status.messageId");
	REQ_ERR("{\"status\":{\"messageId\":7}}", "status.messageId must be a base64 string");
	REQ_ERR("{\"status\":{\"messageId\":\"AAEC\",\"message_id\":\"AAEC\"}}",
	    "field messageId is given twice in status");
	REQ_ERR("{\"watch\":{\"all\":true}}", "unknown field \"all\" in watch");
	REQ_ERR("{\"watch\":{},\"status\":{}}", "more than one request in one message");

	/* send's and reply's answers carry the message id */
	r.value_case = TYPES__RESPONSE__VALUE_SEND;
	r.send = &sent;
	sent.message_id.data = key;
	sent.message_id.len = 16;
	response_is(&r, "{\n  \"send\": {\n"
	    "    \"messageId\": \"AAECAwQFBgcICQoLDA0ODw==\"\n  }\n}");
	r.value_case = TYPES__RESPONSE__VALUE_REPLY;
	r.reply = &sent;
	response_is(&r, "{\n  \"reply\": {\n"
	    "    \"messageId\": \"AAECAwQFBgcICQoLDA0ODw==\"\n  }\n}");
	r.value_case = TYPES__RESPONSE__VALUE_WATCH;
	r.watch = &watch;
	response_is(&r, "{\n  \"watch\": {\n\n  }\n}");

	/* a status: the state by its name, counts as JSON numbers (uint32) */
	r.value_case = TYPES__RESPONSE__VALUE_STATUS;
	r.status = &ms;
	ms.message_id.data = key + 16;
	ms.message_id.len = 16;
	ms.state = TYPES__MESSAGE_STATUS__STATE__SENDING;
	ms.packets = 3;
	ms.acknowledged = 1;
	response_is(&r, "{\n  \"status\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"state\": \"SENDING\",\n"
	    "    \"packets\": 3,\n"
	    "    \"acknowledged\": 1\n  }\n}");
	/* defaults are left out, as jsonpb does: QUEUED (0), 0 acknowledged */
	ms.state = TYPES__MESSAGE_STATUS__STATE__QUEUED;
	ms.acknowledged = 0;
	response_is(&r, "{\n  \"status\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"packets\": 3\n  }\n}");
	/* pushed unasked as changed, the same body; a failure says why */
	r.value_case = TYPES__RESPONSE__VALUE_CHANGED;
	r.changed = &ms;
	ms.state = TYPES__MESSAGE_STATUS__STATE__FAILED;
	ms.packets = 4294967295u;
	ms.acknowledged = 2;
	ms.reason = "expired after 86400 s: 2 of 4294967295 packets \"acked\"";
	response_is(&r, "{\n  \"changed\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"state\": \"FAILED\",\n"
	    "    \"packets\": 4294967295,\n"
	    "    \"acknowledged\": 2,\n"
	    "    \"reason\": \"expired after 86400 s: 2 of 4294967295 packets "
	    "\\\"acked\\\"\"\n  }\n}");
	ms.state = TYPES__MESSAGE_STATUS__STATE__DELIVERED;
	ms.packets = ms.acknowledged = 1;
	ms.reason = "";
	response_is(&r, "{\n  \"changed\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"state\": \"DELIVERED\",\n"
	    "    \"packets\": 1,\n"
	    "    \"acknowledged\": 1\n  }\n}");
	ms.state = TYPES__MESSAGE_STATUS__STATE__SENT;
	ms.acknowledged = 0;
	response_is(&r, "{\n  \"changed\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"state\": \"SENT\",\n"
	    "    \"packets\": 1\n  }\n}");
	/* a state a later nymd may add: its number, as jsonpb writes it */
	ms.state = (Types__MessageStatus__State)9;
	response_is(&r, "{\n  \"changed\": {\n"
	    "    \"messageId\": \"EBESExQVFhcYGRobHB0eHw==\",\n"
	    "    \"state\": 9,\n"
	    "    \"packets\": 1\n  }\n}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_requests),
		cmocka_unit_test(test_send_json_names),
		cmocka_unit_test(test_send_orig_names),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_response_simple),
		cmocka_unit_test(test_response_details),
		cmocka_unit_test(test_response_errors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

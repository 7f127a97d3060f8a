/*
 * JSON <-> protobuf for the websocket's text messages. The field names
 * are spelled here once, in the tables below, as protoc derives them
 * from proto/types.proto and proto/structs.proto.
 */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "rpcd/api.h"
#include "rpcd/wsjson.h"
#include "types.pb-c.h"

#define REQUEST_NAMES	"send, fetch, clients, details, flush, reply"
/* How much of an unknown name an error text repeats. */
#define ECHO_MAX_CHARS	32

/* A field: its json_name and its name in the .proto file. */
struct wsjson_field {
	const char	*json;
	const char	*orig;
};

enum { CC_ID, CC_HOST, CC_PORT, CC_PUBKEY, CC_PROVIDER, CC_FIELDS };
static const struct wsjson_field client_fields[CC_FIELDS] = {
	[CC_ID] = { "id", "Id" },
	[CC_HOST] = { "host", "Host" },
	[CC_PORT] = { "port", "Port" },
	[CC_PUBKEY] = { "pubKey", "PubKey" },
	[CC_PROVIDER] = { "provider", "Provider" },
};

enum { MC_ID, MC_HOST, MC_PORT, MC_PUBKEY, MC_LAYER, MC_FIELDS };
static const struct wsjson_field mix_fields[MC_FIELDS] = {
	[MC_ID] = { "id", "Id" },
	[MC_HOST] = { "host", "Host" },
	[MC_PORT] = { "port", "Port" },
	[MC_PUBKEY] = { "pubKey", "PubKey" },
	[MC_LAYER] = { "layer", "Layer" },
};

enum { SM_MESSAGE, SM_RECIPIENT, SM_REPLY_SURBS, SM_FIELDS };
static const struct wsjson_field send_fields[SM_FIELDS] = {
	[SM_MESSAGE] = { "message", "message" },
	[SM_RECIPIENT] = { "recipient", "recipient" },
	[SM_REPLY_SURBS] = { "replySurbs", "reply_surbs" },	/* nymd's */
};

/* nymd's additions (docs/replies.md). */
enum { RR_SENDER_TAG, RR_MESSAGE, RR_FIELDS };
static const struct wsjson_field reply_fields[RR_FIELDS] = {
	[RR_SENDER_TAG] = { "senderTag", "sender_tag" },
	[RR_MESSAGE] = { "message", "message" },
};

/* nymd's additions (docs/acks.md): a sent message's id and state. */
enum { RS_MESSAGE_ID, RS_FIELDS };
static const struct wsjson_field status_fields[RS_FIELDS] = {
	[RS_MESSAGE_ID] = { "messageId", "message_id" },
};

enum { MS_MESSAGE_ID, MS_STATE, MS_PACKETS, MS_ACKNOWLEDGED, MS_REASON, MS_FIELDS };
static const struct wsjson_field message_status_fields[MS_FIELDS] = {
	[MS_MESSAGE_ID] = { "messageId", "message_id" },
	[MS_STATE] = { "state", "state" },
	[MS_PACKETS] = { "packets", "packets" },
	[MS_ACKNOWLEDGED] = { "acknowledged", "acknowledged" },
	[MS_REASON] = { "reason", "reason" },
};

enum { RM_MESSAGE, RM_SENDER_TAG, RM_MESSAGE_ID, RM_FIELDS };
static const struct wsjson_field received_fields[RM_FIELDS] = {
	[RM_MESSAGE] = { "message", "message" },
	[RM_SENDER_TAG] = { "senderTag", "sender_tag" },
	[RM_MESSAGE_ID] = { "messageId", "message_id" },
};

/* What one request conversion allocated, freed together. */
struct wsjson_in {
	json_t		*root;
	uint8_t		*bufs[3];	/* decoded bytes fields */
	size_t		 n_bufs;
	char		*err;
	size_t		 err_cap;
	int		 nomem;
	Types__Request			 req;
	Types__RequestSendMessage	 send;
	Types__RequestFetchMessages	 fetch;
	Types__RequestGetClients	 clients;
	Types__RequestOwnDetails	 details;
	Types__RequestFlush		 flush;
	Types__RequestReply		 reply;
	Types__RequestStatus		 status;
	Types__RequestWatch		 watch;
	Config__ClientConfig		 recipient;
	Config__MixConfig		 provider;
};

static int
fail(struct wsjson_in *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct wsjson_in *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->err, in->err_cap, fmt, ap);
	va_end(ap);
	return WSJSON_ERR_INVALID;
}

/* A name from the input, made safe to repeat in an error text. */
static void
echo(char out[ECHO_MAX_CHARS + 4], const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < ECHO_MAX_CHARS; i++)
		out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > ECHO_MAX_CHARS) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* A text from a library, made printable, whole. */
static void
echo_printable(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < cap; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = '\0';
}

/*
 * Checks obj's members against fields and returns their values in
 * vals[] (NULL when absent or null, as the JSON mapping says).
 */
static int
object_fields(struct wsjson_in *in, json_t *obj, const char *where,
    const struct wsjson_field *fields, size_t n_fields, json_t **vals)
{
	const char *key;
	size_t key_len;
	json_t *v;
	char name[ECHO_MAX_CHARS + 4];
	unsigned seen = 0;

	if (!json_is_object(obj))
		return fail(in, "%s must be a JSON object", where);
	for (size_t i = 0; i < n_fields; i++)
		vals[i] = NULL;
	json_object_keylen_foreach(obj, key, key_len, v) {
		size_t i;
		for (i = 0; i < n_fields; i++)
			if ((strlen(fields[i].json) == key_len &&
			    memcmp(fields[i].json, key, key_len) == 0) ||
			    (strlen(fields[i].orig) == key_len &&
			    memcmp(fields[i].orig, key, key_len) == 0))
				break;
		echo(name, key, key_len);
		if (i == n_fields)
			return fail(in, "unknown field \"%s\" in %s", name, where);
		if (seen & (1u << i))
			return fail(in, "field %s is given twice in %s (as %s and %s)",
			    fields[i].json, where, fields[i].json, fields[i].orig);
		seen |= 1u << i;
		if (!json_is_null(v))
			vals[i] = v;
	}
	return WSJSON_OK;
}

static int
get_string(struct wsjson_in *in, json_t *v, const char *where,
    const char *name, char **out)
{
	if (v == NULL)
		return WSJSON_OK;
	if (!json_is_string(v))
		return fail(in, "%s.%s must be a JSON string", where, name);
	/* jansson refuses \u0000 in strings: the C string is the whole value. */
	*out = (char *)json_string_value(v);
	return WSJSON_OK;
}

/* bytes: standard base64, or URL-safe, padded or not (as protojson). */
static int
get_bytes(struct wsjson_in *in, json_t *v, const char *where,
    const char *name, ProtobufCBinaryData *out)
{
	const char *s;
	size_t len;
	char *padded = NULL;
	long n = -1;

	if (v == NULL)
		return WSJSON_OK;
	if (!json_is_string(v))
		return fail(in, "%s.%s must be a base64 string", where, name);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return WSJSON_OK;
	if (len % 4 == 1)
		return fail(in, "invalid base64 in %s.%s", where, name);
	if (len % 4 != 0) {
		size_t plen = len + (4 - len % 4);
		padded = malloc(plen);
		if (padded == NULL) {
			in->nomem = 1;
			return WSJSON_ERR_NOMEM;
		}
		memcpy(padded, s, len);
		memset(padded + len, '=', plen - len);
		s = padded;
		len = plen;
	}
	size_t cap = len / 4 * 3;
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		free(padded);
		in->nomem = 1;
		return WSJSON_ERR_NOMEM;
	}
	in->bufs[in->n_bufs++] = buf;
	n = b64_decode(buf, cap, s, len, B64_STANDARD);
	if (n < 0)
		n = b64_decode(buf, cap, s, len, B64_URLSAFE);
	free(padded);
	if (n < 0)
		return fail(in, "invalid base64 in %s.%s", where, name);
	out->data = buf;
	out->len = (size_t)n;
	return WSJSON_OK;
}

/* uint64: a decimal string, or a JSON integer. */
static int
get_uint64(struct wsjson_in *in, json_t *v, const char *where,
    const char *name, uint64_t *out)
{
	if (v == NULL)
		return WSJSON_OK;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return fail(in, "%s.%s must not be negative", where, name);
		*out = (uint64_t)json_integer_value(v);
		return WSJSON_OK;
	}
	if (!json_is_string(v))
		return fail(in, "%s.%s must be an unsigned integer", where, name);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	uint64_t x = 0;
	if (len == 0 || len > 20)
		return fail(in, "%s.%s must be an unsigned integer", where, name);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(in, "%s.%s must be an unsigned integer", where, name);
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return fail(in, "%s.%s is larger than 64 bits", where, name);
		x = x * 10 + d;
	}
	*out = x;
	return WSJSON_OK;
}

static int
parse_provider(struct wsjson_in *in, json_t *obj)
{
	static const char where[] = "send.recipient.provider";
	Config__MixConfig *m = &in->provider;
	json_t *v[MC_FIELDS];
	int rc;

	if ((rc = object_fields(in, obj, where, mix_fields, MC_FIELDS, v)) != 0 ||
	    (rc = get_string(in, v[MC_ID], where, "id", &m->id)) != 0 ||
	    (rc = get_string(in, v[MC_HOST], where, "host", &m->host)) != 0 ||
	    (rc = get_string(in, v[MC_PORT], where, "port", &m->port)) != 0 ||
	    (rc = get_bytes(in, v[MC_PUBKEY], where, "pubKey", &m->pubkey)) != 0 ||
	    (rc = get_uint64(in, v[MC_LAYER], where, "layer", &m->layer)) != 0)
		return rc;
	return WSJSON_OK;
}

static int
parse_recipient(struct wsjson_in *in, json_t *obj)
{
	static const char where[] = "send.recipient";
	Config__ClientConfig *c = &in->recipient;
	json_t *v[CC_FIELDS];
	int rc;

	if ((rc = object_fields(in, obj, where, client_fields, CC_FIELDS, v)) != 0 ||
	    (rc = get_string(in, v[CC_ID], where, "id", &c->id)) != 0 ||
	    (rc = get_string(in, v[CC_HOST], where, "host", &c->host)) != 0 ||
	    (rc = get_string(in, v[CC_PORT], where, "port", &c->port)) != 0 ||
	    (rc = get_bytes(in, v[CC_PUBKEY], where, "pubKey", &c->pubkey)) != 0)
		return rc;
	if (v[CC_PROVIDER] != NULL) {
		if ((rc = parse_provider(in, v[CC_PROVIDER])) != 0)
			return rc;
		c->provider = &in->provider;
	}
	return WSJSON_OK;
}

static int
parse_send(struct wsjson_in *in, json_t *obj)
{
	json_t *v[SM_FIELDS];
	int rc;

	in->req.value_case = TYPES__REQUEST__VALUE_SEND;
	in->req.send = &in->send;
	if (json_is_null(obj))
		return WSJSON_OK;
	uint64_t surbs = 0;
	if ((rc = object_fields(in, obj, "send", send_fields, SM_FIELDS, v)) != 0 ||
	    (rc = get_bytes(in, v[SM_MESSAGE], "send", "message",
	    &in->send.message)) != 0 ||
	    (rc = get_uint64(in, v[SM_REPLY_SURBS], "send", "replySurbs", &surbs)) != 0)
		return rc;
	if (surbs > UINT32_MAX)
		return fail(in, "send.replySurbs is larger than 32 bits");
	in->send.reply_surbs = (uint32_t)surbs;
	if (v[SM_RECIPIENT] != NULL) {
		if ((rc = parse_recipient(in, v[SM_RECIPIENT])) != 0)
			return rc;
		in->send.recipient = &in->recipient;
	}
	return WSJSON_OK;
}

static int
parse_reply(struct wsjson_in *in, json_t *obj)
{
	json_t *v[RR_FIELDS];
	int rc;

	in->req.value_case = TYPES__REQUEST__VALUE_REPLY;
	in->req.reply = &in->reply;
	if (json_is_null(obj))
		return WSJSON_OK;
	if ((rc = object_fields(in, obj, "reply", reply_fields, RR_FIELDS, v)) != 0 ||
	    (rc = get_bytes(in, v[RR_SENDER_TAG], "reply", "senderTag",
	    &in->reply.sender_tag)) != 0 ||
	    (rc = get_bytes(in, v[RR_MESSAGE], "reply", "message",
	    &in->reply.message)) != 0)
		return rc;
	return WSJSON_OK;
}

static int
parse_status(struct wsjson_in *in, json_t *obj)
{
	json_t *v[RS_FIELDS];
	int rc;

	in->req.value_case = TYPES__REQUEST__VALUE_STATUS;
	in->req.status = &in->status;
	if (json_is_null(obj))
		return WSJSON_OK;
	if ((rc = object_fields(in, obj, "status", status_fields, RS_FIELDS, v)) != 0 ||
	    (rc = get_bytes(in, v[RS_MESSAGE_ID], "status", "messageId",
	    &in->status.message_id)) != 0)
		return rc;
	return WSJSON_OK;
}

/* fetch, clients, details, flush and watch carry no field. */
static int
parse_empty(struct wsjson_in *in, json_t *obj, const char *name)
{
	json_t *none;

	if (json_is_null(obj))
		return WSJSON_OK;
	return object_fields(in, obj, name, NULL, 0, &none);
}

static int
parse_request(struct wsjson_in *in, json_t *root)
{
	const char *key, *chosen = NULL;
	size_t key_len;
	json_t *v;
	char name[ECHO_MAX_CHARS + 4];
	int rc;

	if (!json_is_object(root))
		return fail(in, "the request must be a JSON object with one of "
		    REQUEST_NAMES);
	/* A member that is null still names its request: {"details":null}
	 * is details, as jsonpb read it for the seed. */
	json_object_keylen_foreach(root, key, key_len, v) {
		echo(name, key, key_len);
		if (chosen != NULL)
			return fail(in, "more than one request in one message "
			    "(%s and %s)", chosen, name);
		chosen = key;
		if (strcmp(key, "send") == 0) {
			rc = parse_send(in, v);
		} else if (strcmp(key, "fetch") == 0) {
			rc = parse_empty(in, v, "fetch");
			in->req.value_case = TYPES__REQUEST__VALUE_FETCH;
			in->req.fetch = &in->fetch;
		} else if (strcmp(key, "clients") == 0) {
			rc = parse_empty(in, v, "clients");
			in->req.value_case = TYPES__REQUEST__VALUE_CLIENTS;
			in->req.clients = &in->clients;
		} else if (strcmp(key, "details") == 0) {
			rc = parse_empty(in, v, "details");
			in->req.value_case = TYPES__REQUEST__VALUE_DETAILS;
			in->req.details = &in->details;
		} else if (strcmp(key, "flush") == 0) {
			rc = parse_empty(in, v, "flush");
			in->req.value_case = TYPES__REQUEST__VALUE_FLUSH;
			in->req.flush = &in->flush;
		} else if (strcmp(key, "reply") == 0) {
			rc = parse_reply(in, v);
		} else if (strcmp(key, "status") == 0) {
			rc = parse_status(in, v);
		} else if (strcmp(key, "watch") == 0) {
			rc = parse_empty(in, v, "watch");
			in->req.value_case = TYPES__REQUEST__VALUE_WATCH;
			in->req.watch = &in->watch;
		} else {
			return fail(in, API_INVALID_REQUEST ": unknown request "
			    "\"%s\": expected one of " REQUEST_NAMES, name);
		}
		if (rc != 0)
			return rc;
	}
	if (chosen == NULL)
		return fail(in, API_INVALID_REQUEST ": empty request: expected "
		    "one of " REQUEST_NAMES);
	return WSJSON_OK;
}

int
wsjson_request(const char *json, size_t len, uint8_t **out, size_t *out_len,
    char *err, size_t err_cap)
{
	struct wsjson_in in;
	json_error_t jerr;
	int rc;

	memset(&in, 0, sizeof(in));
	in.err = err;
	in.err_cap = err_cap;
	if (err_cap > 0)
		err[0] = '\0';
	types__request__init(&in.req);
	types__request_send_message__init(&in.send);
	types__request_fetch_messages__init(&in.fetch);
	types__request_get_clients__init(&in.clients);
	types__request_own_details__init(&in.details);
	types__request_flush__init(&in.flush);
	types__request_reply__init(&in.reply);
	types__request_status__init(&in.status);
	types__request_watch__init(&in.watch);
	config__client_config__init(&in.recipient);
	config__mix_config__init(&in.provider);

	/* Only the first JSON value is read, what follows it is ignored, as
	 * jsonpb (a json.Decoder) read a message for the seed. */
	in.root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_DISABLE_EOF_CHECK, &jerr);
	if (in.root == NULL) {
		char text[sizeof(jerr.text)];
		/* jansson's text may quote the input: keep it printable. */
		echo_printable(text, sizeof(text), jerr.text);
		rc = fail(&in, "malformed JSON: %s (line %d, column %d)",
		    text, jerr.line, jerr.column);
		goto done;
	}
	rc = parse_request(&in, in.root);
	if (in.nomem)
		rc = WSJSON_ERR_NOMEM;
	if (rc != WSJSON_OK)
		goto done;
	*out_len = types__request__get_packed_size(&in.req);
	*out = malloc(*out_len ? *out_len : 1);
	if (*out == NULL) {
		rc = WSJSON_ERR_NOMEM;
		goto done;
	}
	types__request__pack(&in.req, *out);
done:
	for (size_t i = 0; i < in.n_bufs; i++)
		free(in.bufs[i]);
	json_decref(in.root);
	return rc;
}

/* Response -> JSON */

static int
utf8_valid(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	while (*p != 0) {
		size_t n;
		uint32_t cp;
		if (p[0] < 0x80) {
			p++;
			continue;
		} else if ((p[0] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[0] & 0x1f;
		} else if ((p[0] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[0] & 0x0f;
		} else if ((p[0] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[0] & 0x07;
		} else {
			return 0;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

/*
 * The text is jsonpb's (golang/protobuf 1.3, Marshaler{Indent: "  "}), as
 * the seed's program wrote it: an object is "{\n", its members each on
 * their own line indented one level deeper than the object ("\"name\": "
 * then the value, ",\n" between them), then "\n", the object's indent and
 * "}"; an empty object is therefore "{\n\n  }". A list is "[", each
 * element on a new line two levels deeper than the member holding it,
 * then "\n" and one level deeper than that member's object, "]": an empty
 * list is "[\n    ]". Members holding their default value are left out,
 * except the lists of fetch and clients, which the seed always wrote.
 * Strings are escaped as Go's encoding/json does it.
 */
#define INDENT_CHARS	2

struct wsjson_out {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	int	 rc;	/* first failure */
};

static void
out_fail(struct wsjson_out *o, int rc)
{
	if (o->rc == WSJSON_OK)
		o->rc = rc;
}

static void
out_bytes(struct wsjson_out *o, const char *s, size_t n)
{
	if (o->rc != WSJSON_OK)
		return;
	if (o->cap - o->len <= n) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap - o->len <= n) {
			if (cap > SIZE_MAX / 2) {
				out_fail(o, WSJSON_ERR_NOMEM);
				return;
			}
			cap *= 2;
		}
		char *buf = realloc(o->buf, cap);
		if (buf == NULL) {
			out_fail(o, WSJSON_ERR_NOMEM);
			return;
		}
		o->buf = buf;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
out_str(struct wsjson_out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static void
out_indent(struct wsjson_out *o, int depth)
{
	static const char spaces[] = "                                ";

	for (size_t n = (size_t)depth * INDENT_CHARS; n > 0; ) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		out_bytes(o, spaces, k);
		n -= k;
	}
}

/* A JSON string as Go's encoding/json writes it (HTML-safe escapes). */
static void
out_quoted(struct wsjson_out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	out_bytes(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		char esc[7];
		size_t esc_len = 2;

		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' &&
		    c != '&') {
			/* U+2028 and U+2029 are escaped too */
			if (c == 0xe2 && i + 2 < n && (uint8_t)s[i + 1] == 0x80 &&
			    ((uint8_t)s[i + 2] & 0xfe) == 0xa8) {
				out_bytes(o, s + start, i - start);
				out_str(o, (uint8_t)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
				i += 2;
				start = i + 1;
			}
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"':	esc[1] = '"'; break;
		case '\\':	esc[1] = '\\'; break;
		case '\n':	esc[1] = 'n'; break;
		case '\r':	esc[1] = 'r'; break;
		case '\t':	esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc_len = 6;
			break;
		}
		out_bytes(o, s + start, i - start);
		out_bytes(o, esc, esc_len);
		start = i + 1;
	}
	out_bytes(o, s + start, n - start);
	out_bytes(o, "\"", 1);
}

/* An object being written: its depth and how many members it has. */
struct jobj {
	struct wsjson_out	*o;
	int			 depth;
	int			 members;
};

static void
obj_open(struct wsjson_out *o, struct jobj *j, int depth)
{
	j->o = o;
	j->depth = depth;
	j->members = 0;
	out_str(o, "{\n");
}

static void
obj_close(struct jobj *j)
{
	out_str(j->o, "\n");
	out_indent(j->o, j->depth);
	out_str(j->o, "}");
}

/* Starts a member: the value is to be written next. */
static void
obj_member(struct jobj *j, const char *name)
{
	if (j->members++ > 0)
		out_str(j->o, ",\n");
	out_indent(j->o, j->depth + 1);
	out_str(j->o, "\"");
	out_str(j->o, name);
	out_str(j->o, "\": ");
}

/* A list member: list_item() before each element, list_close() after. */
static void
list_item(struct jobj *j, size_t i)
{
	out_str(j->o, i == 0 ? "\n" : ",\n");
	out_indent(j->o, j->depth + 2);
}

static void
list_close(struct jobj *j)
{
	out_str(j->o, "\n");
	out_indent(j->o, j->depth + 1);
	out_str(j->o, "]");
}

static void
put_string(struct jobj *j, const char *key, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return;
	if (!utf8_valid(s)) {
		out_fail(j->o, WSJSON_ERR_INVALID);
		return;
	}
	obj_member(j, key);
	out_quoted(j->o, s, strlen(s));
}

static void
bytes_value(struct wsjson_out *o, const ProtobufCBinaryData *b)
{
	char *text = malloc(B64_ENCODED_LEN(b->len) + 1);

	if (text == NULL) {
		out_fail(o, WSJSON_ERR_NOMEM);
		return;
	}
	b64_encode(text, b->data, b->len, B64_STANDARD);
	out_quoted(o, text, B64_ENCODED_LEN(b->len));
	free(text);
}

static void
put_bytes(struct jobj *j, const char *key, const ProtobufCBinaryData *b)
{
	if (b->len == 0)
		return;
	obj_member(j, key);
	bytes_value(j->o, b);
}

static void
put_uint64(struct jobj *j, const char *key, uint64_t v)
{
	char text[24];

	if (v == 0)
		return;
	snprintf(text, sizeof(text), "\"%" PRIu64 "\"", v);
	obj_member(j, key);
	out_str(j->o, text);
}

/* uint32: a JSON number (only 64-bit integers are strings in jsonpb). */
static void
put_uint32(struct jobj *j, const char *key, uint32_t v)
{
	char text[12];

	if (v == 0)
		return;
	snprintf(text, sizeof(text), "%" PRIu32, v);
	obj_member(j, key);
	out_str(j->o, text);
}

/* An enum: its value's name, as jsonpb writes it; the default (0) is
 * left out like any other. A value this nymd does not name (none of its
 * own) is written as a number, as jsonpb does. */
static void
put_enum(struct jobj *j, const char *key, int v, const char *const *names,
    size_t n_names)
{
	char text[16];

	if (v == 0)
		return;
	obj_member(j, key);
	if (v > 0 && (size_t)v < n_names && names[v] != NULL) {
		out_str(j->o, "\"");
		out_str(j->o, names[v]);
		out_str(j->o, "\"");
		return;
	}
	snprintf(text, sizeof(text), "%d", v);
	out_str(j->o, text);
}

static const char *const state_names[] = {
	[TYPES__MESSAGE_STATUS__STATE__QUEUED] = "QUEUED",
	[TYPES__MESSAGE_STATUS__STATE__SENDING] = "SENDING",
	[TYPES__MESSAGE_STATUS__STATE__DELIVERED] = "DELIVERED",
	[TYPES__MESSAGE_STATUS__STATE__FAILED] = "FAILED",
	[TYPES__MESSAGE_STATUS__STATE__SENT] = "SENT",
};

/* The members of a MessageStatus (status, changed), in field order. */
static void
message_status_json(struct jobj *j, const Types__MessageStatus *m)
{
	put_bytes(j, message_status_fields[MS_MESSAGE_ID].json, &m->message_id);
	put_enum(j, message_status_fields[MS_STATE].json, (int)m->state, state_names,
	    sizeof(state_names) / sizeof(state_names[0]));
	put_uint32(j, message_status_fields[MS_PACKETS].json, m->packets);
	put_uint32(j, message_status_fields[MS_ACKNOWLEDGED].json, m->acknowledged);
	put_string(j, message_status_fields[MS_REASON].json, m->reason);
}

static void
mix_json(struct wsjson_out *o, int depth, const Config__MixConfig *m)
{
	struct jobj j;

	obj_open(o, &j, depth);
	put_string(&j, mix_fields[MC_ID].json, m->id);
	put_string(&j, mix_fields[MC_HOST].json, m->host);
	put_string(&j, mix_fields[MC_PORT].json, m->port);
	put_bytes(&j, mix_fields[MC_PUBKEY].json, &m->pubkey);
	put_uint64(&j, mix_fields[MC_LAYER].json, m->layer);
	obj_close(&j);
}

static void
client_json(struct wsjson_out *o, int depth, const Config__ClientConfig *c)
{
	struct jobj j;

	obj_open(o, &j, depth);
	put_string(&j, client_fields[CC_ID].json, c->id);
	put_string(&j, client_fields[CC_HOST].json, c->host);
	put_string(&j, client_fields[CC_PORT].json, c->port);
	put_bytes(&j, client_fields[CC_PUBKEY].json, &c->pubkey);
	if (c->provider != NULL) {
		obj_member(&j, client_fields[CC_PROVIDER].json);
		mix_json(o, depth + 1, c->provider);
	}
	obj_close(&j);
}

/* A fetched message with what nymd knows of it (nymd's addition). */
static void
received_json(struct wsjson_out *o, int depth, const Types__ReceivedMessage *r)
{
	struct jobj j;

	obj_open(o, &j, depth);
	put_bytes(&j, received_fields[RM_MESSAGE].json, &r->message);
	put_bytes(&j, received_fields[RM_SENDER_TAG].json, &r->sender_tag);
	put_bytes(&j, received_fields[RM_MESSAGE_ID].json, &r->message_id);
	obj_close(&j);
}

/* The body of one response type, an object at depth 1. */
static void
body_json(struct wsjson_out *o, const Types__Response *r)
{
	struct jobj j;

	obj_open(o, &j, 1);
	switch (r->value_case) {
	case TYPES__RESPONSE__VALUE_EXCEPTION:
		put_string(&j, "error", r->exception->error);
		break;
	case TYPES__RESPONSE__VALUE_FETCH:
		obj_member(&j, "messages");
		out_str(o, "[");
		for (size_t i = 0; i < r->fetch->n_messages; i++) {
			list_item(&j, i);
			bytes_value(o, &r->fetch->messages[i]);
		}
		list_close(&j);
		/* Left out when empty, as jsonpb does: an empty fetch is the
		 * seed's text byte for byte. */
		if (r->fetch->n_received == 0)
			break;
		obj_member(&j, "received");
		out_str(o, "[");
		for (size_t i = 0; i < r->fetch->n_received; i++) {
			list_item(&j, i);
			received_json(o, j.depth + 2, r->fetch->received[i]);
		}
		list_close(&j);
		break;
	case TYPES__RESPONSE__VALUE_CLIENTS:
		obj_member(&j, "clients");
		out_str(o, "[");
		for (size_t i = 0; i < r->clients->n_clients; i++) {
			list_item(&j, i);
			client_json(o, j.depth + 2, r->clients->clients[i]);
		}
		list_close(&j);
		break;
	case TYPES__RESPONSE__VALUE_DETAILS:
		if (r->details->details != NULL) {
			obj_member(&j, "details");
			client_json(o, j.depth + 1, r->details->details);
		}
		break;
	case TYPES__RESPONSE__VALUE_SEND:	/* nymd's addition: the id */
		put_bytes(&j, "messageId", &r->send->message_id);
		break;
	case TYPES__RESPONSE__VALUE_REPLY:
		put_bytes(&j, "messageId", &r->reply->message_id);
		break;
	case TYPES__RESPONSE__VALUE_STATUS:
		message_status_json(&j, r->status);
		break;
	case TYPES__RESPONSE__VALUE_CHANGED:
		message_status_json(&j, r->changed);
		break;
	default:	/* flush and watch have no field */
		break;
	}
	obj_close(&j);
}

static void
response_json(struct wsjson_out *o, const Types__Response *r)
{
	struct jobj root;
	const char *name;

	obj_open(o, &root, 0);
	switch (r->value_case) {
	case TYPES__RESPONSE__VALUE_EXCEPTION:	name = "exception"; break;
	case TYPES__RESPONSE__VALUE_SEND:	name = "send"; break;
	case TYPES__RESPONSE__VALUE_FETCH:	name = "fetch"; break;
	case TYPES__RESPONSE__VALUE_CLIENTS:	name = "clients"; break;
	case TYPES__RESPONSE__VALUE_DETAILS:	name = "details"; break;
	case TYPES__RESPONSE__VALUE_FLUSH:	name = "flush"; break;
	case TYPES__RESPONSE__VALUE_REPLY:	name = "reply"; break;
	case TYPES__RESPONSE__VALUE_STATUS:	name = "status"; break;
	case TYPES__RESPONSE__VALUE_WATCH:	name = "watch"; break;
	case TYPES__RESPONSE__VALUE_CHANGED:	name = "changed"; break;
	default:	/* no member set: the JSON mapping of an empty message */
		name = NULL;
		break;
	}
	if (name != NULL) {
		obj_member(&root, name);
		body_json(o, r);
	}
	obj_close(&root);
}

int
wsjson_response(const uint8_t *pb, size_t len, char **out, size_t *out_len)
{
	Types__Response *r = types__response__unpack(NULL, len, pb);
	struct wsjson_out o = { .rc = WSJSON_OK };

	if (r == NULL)
		return WSJSON_ERR_INVALID;
	response_json(&o, r);
	types__response__free_unpacked(r, NULL);
	if (o.rc != WSJSON_OK) {
		free(o.buf);
		return o.rc;
	}
	*out = o.buf;
	*out_len = o.len;
	return WSJSON_OK;
}

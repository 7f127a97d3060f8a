/*
 * How nymctl writes and reads message ids, and the line a message's
 * delivery status is printed on (status, status --watch): one format for
 * both, so that a script reads either the same way.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "nymctl/nymctl.h"

void
nymctl_hex(char *out, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
nymctl_parse_message_id(const char *s, uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	size_t len = strlen(s);
	uint8_t buf[B64_ENCODED_LEN(NYM_MESSAGE_ID_BYTES)];

	if (len == NYMCTL_ID_HEX_CHARS) {
		for (size_t i = 0; i < NYM_MESSAGE_ID_BYTES; i++) {
			int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			id[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	/* The websocket's JSON writes ids in standard base64; URL-safe too. */
	if (len != B64_ENCODED_LEN(NYM_MESSAGE_ID_BYTES) ||
	    (b64_decode(buf, sizeof(buf), s, len, B64_STANDARD) != NYM_MESSAGE_ID_BYTES &&
	    b64_decode(buf, sizeof(buf), s, len, B64_URLSAFE) != NYM_MESSAGE_ID_BYTES))
		return -1;
	memcpy(id, buf, NYM_MESSAGE_ID_BYTES);
	return 0;
}

int
nymctl_status_line(char *buf, size_t size, const struct nym_message_status *st)
{
	char id[NYMCTL_ID_HEX_CHARS + 1];

	nymctl_hex(id, st->id, NYM_MESSAGE_ID_BYTES);
	switch (st->state) {
	case NYM_MESSAGE_SENDING:
		return snprintf(buf, size, "%s sending %u/%u acknowledged", id,
		    st->acknowledged, st->packets);
	case NYM_MESSAGE_DELIVERED:
		return snprintf(buf, size, "%s delivered %u/%u", id, st->acknowledged,
		    st->packets);
	case NYM_MESSAGE_FAILED:
		return snprintf(buf, size, "%s failed: %s", id,
		    st->reason[0] != '\0' ? st->reason : "no reason given");
	case NYM_MESSAGE_QUEUED:
	case NYM_MESSAGE_SENT:
		return snprintf(buf, size, "%s %s", id, nym_message_state_name(st->state));
	default:	/* a state of a later nymd */
		return snprintf(buf, size, "%s state-%d %u/%u acknowledged", id,
		    st->state, st->acknowledged, st->packets);
	}
}

/* nymctl's message ids and the line of a delivery status (format.c). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nymctl/nymctl.h"

#define HEX	"000102030405060708090a0b0c0d0e0f"

static void
id_fill(uint8_t id[NYM_MESSAGE_ID_BYTES])
{
	for (int i = 0; i < NYM_MESSAGE_ID_BYTES; i++)
		id[i] = (uint8_t)i;
}

static void
line_is(int state, unsigned packets, unsigned acked, const char *reason,
    const char *want)
{
	struct nym_message_status st;
	char line[NYMCTL_STATUS_LINE_BYTES];
	int n;

	memset(&st, 0, sizeof(st));
	id_fill(st.id);
	st.state = state;
	st.packets = packets;
	st.acknowledged = acked;
	snprintf(st.reason, sizeof(st.reason), "%s", reason);
	n = nymctl_status_line(line, sizeof(line), &st);
	assert_string_equal(line, want);
	assert_int_equal(n, (int)strlen(want));
}

static void
test_status_lines(void **state)
{
	line_is(NYM_MESSAGE_QUEUED, 1, 0, "", HEX " queued");
	line_is(NYM_MESSAGE_SENDING, 3, 1, "", HEX " sending 1/3 acknowledged");
	line_is(NYM_MESSAGE_SENDING, 1, 0, "", HEX " sending 0/1 acknowledged");
	line_is(NYM_MESSAGE_DELIVERED, 10, 10, "", HEX " delivered 10/10");
	line_is(NYM_MESSAGE_FAILED, 3, 2, "expired after 24 h, 2 of 3 packets acknowledged",
	    HEX " failed: expired after 24 h, 2 of 3 packets acknowledged");
	line_is(NYM_MESSAGE_FAILED, 1, 0, "", HEX " failed: no reason given");
	line_is(NYM_MESSAGE_SENT, 1, 0, "", HEX " sent");
	/* a state of a later nymd: its number, and the counts */
	line_is(7, 2, 1, "", HEX " state-7 1/2 acknowledged");
}

static void
test_longest_line_fits(void **state)
{
	struct nym_message_status st;
	char line[NYMCTL_STATUS_LINE_BYTES];

	memset(&st, 'x', sizeof(st));
	st.state = NYM_MESSAGE_FAILED;
	st.reason[sizeof(st.reason) - 1] = '\0';
	assert_true(nymctl_status_line(line, sizeof(line), &st) < (int)sizeof(line));
	st.state = 1000000000;
	st.packets = st.acknowledged = 4294967295u;
	assert_true(nymctl_status_line(line, sizeof(line), &st) < (int)sizeof(line));
}

static void
test_ids(void **state)
{
	uint8_t id[NYM_MESSAGE_ID_BYTES], want[NYM_MESSAGE_ID_BYTES];
	char hex[NYMCTL_ID_HEX_CHARS + 1];

	id_fill(want);
	nymctl_hex(hex, want, sizeof(want));
	assert_string_equal(hex, HEX);
	assert_int_equal(nymctl_parse_message_id(HEX, id), 0);
	assert_memory_equal(id, want, sizeof(id));
	memset(id, 0, sizeof(id));
	assert_int_equal(nymctl_parse_message_id("000102030405060708090A0B0C0D0E0F", id), 0);
	assert_memory_equal(id, want, sizeof(id));
	/* base64, as the websocket's JSON writes it, or URL-safe */
	memset(id, 0, sizeof(id));
	assert_int_equal(nymctl_parse_message_id("AAECAwQFBgcICQoLDA0ODw==", id), 0);
	assert_memory_equal(id, want, sizeof(id));
	memset(want, 0xfb, sizeof(want));
	assert_int_equal(nymctl_parse_message_id("+/v7+/v7+/v7+/v7+/v7+w==", id), 0);
	assert_memory_equal(id, want, sizeof(id));
	assert_int_equal(nymctl_parse_message_id("-_v7-_v7-_v7-_v7-_v7-w==", id), 0);
	assert_memory_equal(id, want, sizeof(id));
	/* anything else */
	static const char *const bad[] = {
		"", "0", HEX "0", "000102030405060708090a0b0c0d0e0", "g00102030405060708090a0b0c0d0e0f",
		"00010203 405060708090a0b0c0d0e0f", "AAECAwQFBgcICQoLDA0ODw=", "AAECAwQFBgcICQoLDA0ODw",
		"AAECAwQFBgcICQoLDA0O====", "AAECAwQFBgcICQoLDA0ODxAR",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (nymctl_parse_message_id(bad[i], id) != -1)
			fail_msg("'%s' taken for a message id", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_longest_line_fits),
		cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

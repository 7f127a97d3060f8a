/*
 * Reading the committed Sphinx vectors (tests/vectors/sphinx/NAME.json,
 * docs/sphinx.md section 15) in the cmocka tests that check nymd against
 * them: test_sphinx, test_surb and test_ack. Include after <cmocka.h>,
 * <jansson.h> and <sodium.h>.
 */
#ifndef NYMD_TESTS_UNIT_VECTORS_H
#define NYMD_TESTS_UNIT_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sphinx.h"

/* tests/vectors/sphinx/FILE, from $top_srcdir (or .). */
static json_t *
load_vector(const char *file)
{
	char path[4096];
	const char *top = getenv("top_srcdir");
	json_error_t err;

	snprintf(path, sizeof(path), "%s/tests/vectors/sphinx/%s",
	    top ? top : ".", file);
	json_t *j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("%s: %s (line %d)", path, err.text, err.line);
	return j;
}

/* The hex string obj[key] into out (at most max bytes); its length. */
static size_t
hexfield(json_t *obj, const char *key, uint8_t *out, size_t max)
{
	const char *s = json_string_value(json_object_get(obj, key));
	size_t len;

	if (s == NULL)
		fail_msg("missing field %s", key);
	assert_int_equal(sodium_hex2bin(out, max, s, strlen(s), NULL, &len,
	    NULL), 0);
	assert_int_equal(strlen(s), 2 * len);
	return len;
}

/* The command named name, one of RELAY .. last; fails the test otherwise. */
static int
vector_command(const char *name, int last)
{
	for (int c = SPHINX_CMD_RELAY; c <= last; c++)
		if (name != NULL && strcmp(sphinx_command_name(c), name) == 0)
			return c;
	fail_msg("unknown command %s", name ? name : "(none)");
	return -1;
}

#endif

/*
 * Unit tests of base64: the RFC 4648 section 10 vectors in both
 * alphabets, and strict rejection of every non-canonical spelling.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/b64.h"

struct b64_vector {
	const char	*plain;
	const char	*encoded;
};

/* RFC 4648, section 10. */
static const struct b64_vector rfc_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static long
decode_str(uint8_t *out, size_t cap, const char *s, enum b64_variant v)
{
	return b64_decode(out, cap, s, strlen(s), v);
}

static void
test_rfc4648_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		const struct b64_vector *t = &rfc_vectors[i];
		size_t len = strlen(t->plain);
		/* The vectors use no character that differs between alphabets. */
		for (int v = B64_STANDARD; v <= B64_URLSAFE; v++) {
			char enc[32];
			uint8_t dec[32];

			memset(enc, 'X', sizeof(enc));
			b64_encode(enc, (const uint8_t *)t->plain, len, (enum b64_variant)v);
			assert_string_equal(enc, t->encoded);
			assert_int_equal(strlen(enc), B64_ENCODED_LEN(len));
			long n = decode_str(dec, sizeof(dec), t->encoded, (enum b64_variant)v);
			assert_int_equal(n, (long)len);
			assert_memory_equal(dec, t->plain, len);
		}
	}
}

static void
test_alphabets_differ(void **state)
{
	/* fb ef be is four sextets of 62; fb ff is 62 63 60 and padding. */
	static const uint8_t hi[] = { 0xfb, 0xef, 0xbe, 0xfb, 0xff };
	char enc[16];
	uint8_t dec[8];

	b64_encode(enc, hi, 3, B64_STANDARD);
	assert_string_equal(enc, "++++");
	b64_encode(enc, hi + 3, 2, B64_STANDARD);
	assert_string_equal(enc, "+/8=");
	b64_encode(enc, hi + 3, 2, B64_URLSAFE);
	assert_string_equal(enc, "-_8=");

	assert_int_equal(decode_str(dec, sizeof(dec), "+/8=", B64_STANDARD), 2);
	assert_memory_equal(dec, hi + 3, 2);
	assert_int_equal(decode_str(dec, sizeof(dec), "-_8=", B64_URLSAFE), 2);
	assert_memory_equal(dec, hi + 3, 2);
	/* Each alphabet refuses the other's two characters. */
	assert_int_equal(decode_str(dec, sizeof(dec), "-_8=", B64_STANDARD), -1);
	assert_int_equal(decode_str(dec, sizeof(dec), "+/8=", B64_URLSAFE), -1);
	assert_int_equal(decode_str(dec, sizeof(dec), "ab+c", B64_URLSAFE), -1);
	assert_int_equal(decode_str(dec, sizeof(dec), "ab_c", B64_STANDARD), -1);
}

static void
test_round_trip_all_lengths(void **state)
{
	uint8_t in[100], dec[100];
	char enc[B64_ENCODED_LEN(sizeof(in)) + 1];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 250);
	for (size_t len = 0; len <= sizeof(in); len++) {
		for (int v = B64_STANDARD; v <= B64_URLSAFE; v++) {
			b64_encode(enc, in, len, (enum b64_variant)v);
			assert_int_equal(strlen(enc), B64_ENCODED_LEN(len));
			long n = b64_decode(dec, len, enc, strlen(enc), (enum b64_variant)v);
			assert_int_equal(n, (long)len);
			assert_memory_equal(dec, in, len);
		}
	}
}

static void
test_rejects_noncanonical(void **state)
{
	/* Non-zero bits under the padding: another spelling of a valid value. */
	static const char *bad[] = {
		"Zh==", "Zm9=", "Zm9vYh==", "Zm9vYmF=", "AB==", "AAB=",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_STANDARD), -1);
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_URLSAFE), -1);
	}
	/* The canonical neighbours are fine. */
	assert_int_equal(decode_str(dec, sizeof(dec), "AA==", B64_STANDARD), 1);
	assert_int_equal(decode_str(dec, sizeof(dec), "AAA=", B64_STANDARD), 2);
}

static void
test_rejects_whitespace(void **state)
{
	static const char *bad[] = {
		"Zm9 YmFy", " Zm9vYmF", "Zm9vYmF\n", "Zm9v\nYmFy", "Zm9v\tYmFy",
		"Zm9v\r\nYmFy", "Zm9vYmFy ", "\nZm9vYmFy",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_STANDARD), -1);
}

static void
test_rejects_bad_padding(void **state)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Zm8", "Zm9vYg", "Zm9vYg=",	/* padding missing */
		"Z===", "====", "=Zg=", "Zg=A", "Z=g=",	/* padding misplaced */
		"Zg==Zg==", "Zm8=Zm9v",			/* padding mid-string */
		"Zm9v=", "Zm9v====", "Zg===",		/* excess padding */
		"Zm9vYmFy=",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_STANDARD), -1);
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_URLSAFE), -1);
	}
}

static void
test_rejects_other_bytes(void **state)
{
	static const char *bad[] = { "Zm9*", "Zm.v", "Zm9v\x80mFy", "%%%%" };
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_str(dec, sizeof(dec), bad[i], B64_STANDARD), -1);
	/* An embedded NUL counts: lengths are explicit. */
	assert_int_equal(b64_decode(dec, sizeof(dec), "Zm\0v", 4, B64_STANDARD), -1);
}

static void
test_output_capacity(void **state)
{
	uint8_t dec[8];

	memset(dec, 0xaa, sizeof(dec));
	assert_int_equal(decode_str(dec, 5, "Zm9vYmFy", B64_STANDARD), -1);
	assert_int_equal(decode_str(dec, 6, "Zm9vYmFy", B64_STANDARD), 6);
	assert_int_equal(decode_str(dec, 0, "Zg==", B64_STANDARD), -1);
	assert_int_equal(decode_str(dec, 1, "Zg==", B64_STANDARD), 1);
	assert_int_equal(dec[0], 'f');
	assert_int_equal(dec[1], 'o');	/* from the 6-byte decode, untouched since */
	assert_int_equal(decode_str(dec, 0, "", B64_STANDARD), 0);
}

static void
test_decode_key(void **state)
{
	uint8_t key[32], got[32];
	char enc[B64_KEY_CHARS + 1];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xff - i * 3);
	b64_encode(enc, key, sizeof(key), B64_URLSAFE);
	assert_int_equal(strlen(enc), 44);
	assert_int_equal(b64_decode_key(got, enc, B64_URLSAFE), 0);
	assert_memory_equal(got, key, 32);

	/* A key from the seed's topology document. */
	assert_int_equal(b64_decode_key(got,
	    "_ObRUsYnHDJOPDHXyfq5bnIoSbdn3BsSRcrLl-FCY1c=", B64_URLSAFE), 0);
	assert_int_equal(got[0], 0xfc);
	assert_int_equal(b64_decode_key(got,
	    "_ObRUsYnHDJOPDHXyfq5bnIoSbdn3BsSRcrLl-FCY1c=", B64_STANDARD), -1);

	/* 33 bytes, 31 bytes, and a 44-character string of 31 bytes. */
	assert_int_equal(b64_decode_key(got,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", B64_URLSAFE), -1);
	assert_int_equal(b64_decode_key(got,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", B64_URLSAFE), -1);
	assert_int_equal(b64_decode_key(got,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", B64_URLSAFE), -1);
	assert_int_equal(b64_decode_key(got, "", B64_URLSAFE), -1);
	enc[43] = 'A';	/* last character no longer padding */
	assert_int_equal(b64_decode_key(got, enc, B64_URLSAFE), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabets_differ),
		cmocka_unit_test(test_round_trip_all_lengths),
		cmocka_unit_test(test_rejects_noncanonical),
		cmocka_unit_test(test_rejects_whitespace),
		cmocka_unit_test(test_rejects_bad_padding),
		cmocka_unit_test(test_rejects_other_bytes),
		cmocka_unit_test(test_output_capacity),
		cmocka_unit_test(test_decode_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

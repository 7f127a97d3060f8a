/*
 * Unit tests of the one decimal number parser (common/number.c): digits
 * only, bounds, and overflow.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/number.h"

static void
test_accepts_plain_decimal(void **state)
{
	uint64_t v = 7;

	assert_int_equal(number_parse("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(number_parse("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(number_parse("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(number_parse("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(number_parse_n("123abc", 3, 0, 1000, &v), 0);
	assert_int_equal(v, 123);
}

static void
test_refuses_what_strtoul_would_take(void **state)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "-1", "0x10", "1e3", "1.0", "١", "12a",
		"18446744073709551616", "99999999999999999999999",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (number_parse(bad[i], 0, UINT64_MAX, &v) != -1)
			fail_msg("'%s' was taken", bad[i]);
		assert_int_equal(v, 42);	/* nothing set on failure */
	}
	assert_int_equal(number_parse(NULL, 0, 1, &v), -1);
	assert_int_equal(number_parse_n("5", 0, 0, 9, &v), -1);
}

static void
test_bounds(void **state)
{
	uint64_t v;

	assert_int_equal(number_parse("0", 1, 65535, &v), -1);
	assert_int_equal(number_parse("65536", 1, 65535, &v), -1);
	assert_int_equal(number_parse("1", 1, 65535, &v), 0);
	assert_int_equal(number_parse("4", 1, 3, &v), -1);
	assert_int_equal(number_parse("3", 1, 3, &v), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_plain_decimal),
		cmocka_unit_test(test_refuses_what_strtoul_would_take),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

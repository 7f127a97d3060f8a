/*
 * Unit tests of the strict TOML subset parser: every value type, escapes,
 * whitespace and comment variants, and every class of error with its line.
 */
#include <config.h>

#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/toml.h"

/* cmocka's fail_msg() output is hard to read on TAP; say it on stderr. */
#define FAILF(...) do { fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, "\n"); fail(); } while (0)

static struct toml_doc *
parse_ok(const char *text, size_t len)
{
	struct toml_error err;
	struct toml_doc *doc = NULL;
	int rc;

	rc = toml_parse(text, len, &doc, &err);
	if (rc != TOML_OK)
		FAILF("unexpected error %d at line %lu key '%s': %s", rc,
		    err.line, err.key, err.msg);
	assert_non_null(doc);
	return doc;
}

static const struct toml_kv *
get(const struct toml_doc *doc, const char *table, const char *key,
    enum toml_type type)
{
	const struct toml_table *t = toml_find_table(doc, table);
	const struct toml_kv *kv;

	assert_non_null(t);
	kv = toml_find_key(t, key);
	if (kv == NULL)
		FAILF("key %s.%s not found", table, key);
	assert_int_equal(kv->type, type);
	return kv;
}

static void
test_every_value_type(void **state)
{
	static const char text[] =
	    "# leading comment\n"
	    "\n"
	    "top = 1\n"
	    "[values]\n"
	    "s = \"basic\"\n"
	    "lit = 'C:\\path\\no escapes'\n"
	    "empty = \"\"\n"
	    "empty_lit = ''\n"
	    "zero = 0\n"
	    "plus = +42\n"
	    "minus = -17\n"
	    "under = 1_000_000\n"
	    "big = 9223372036854775807\n"
	    "small = -9223372036854775808\n"
	    "negzero = -0\n"
	    "f1 = 1.0\n"
	    "f2 = -0.5\n"
	    "f3 = 1e3\n"
	    "f4 = 6.02e+23\n"
	    "f5 = 1_000.000_1\n"
	    "f6 = 5E-2\n"
	    "f7 = +3.25\n"
	    "f8 = 0.0\n"
	    "f9 = 1e05\n"
	    "f10 = 3.0e-0_1\n"
	    "t = true\n"
	    "f = false\n"
	    "key-with_dash-9 = 'x'\n"
	    "0123 = 'digits-only key'\n";
	struct toml_doc *doc = parse_ok(text, sizeof(text) - 1);

	assert_int_equal(doc->ntables, 2);
	assert_string_equal(doc->tables[0].name, "");
	assert_int_equal(get(doc, "", "top", TOML_INTEGER)->u.i, 1);
	assert_int_equal(doc->tables[1].line, 4);
	assert_string_equal(get(doc, "values", "s", TOML_STRING)->u.s, "basic");
	assert_string_equal(get(doc, "values", "lit", TOML_STRING)->u.s,
	    "C:\\path\\no escapes");
	assert_string_equal(get(doc, "values", "empty", TOML_STRING)->u.s, "");
	assert_string_equal(get(doc, "values", "empty_lit", TOML_STRING)->u.s,
	    "");
	assert_int_equal(get(doc, "values", "zero", TOML_INTEGER)->u.i, 0);
	assert_int_equal(get(doc, "values", "plus", TOML_INTEGER)->u.i, 42);
	assert_int_equal(get(doc, "values", "minus", TOML_INTEGER)->u.i, -17);
	assert_int_equal(get(doc, "values", "under", TOML_INTEGER)->u.i,
	    1000000);
	assert_true(get(doc, "values", "big", TOML_INTEGER)->u.i == INT64_MAX);
	assert_true(get(doc, "values", "small", TOML_INTEGER)->u.i ==
	    INT64_MIN);
	assert_int_equal(get(doc, "values", "negzero", TOML_INTEGER)->u.i, 0);
	assert_true(get(doc, "values", "f1", TOML_FLOAT)->u.f == 1.0);
	assert_true(get(doc, "values", "f2", TOML_FLOAT)->u.f == -0.5);
	assert_true(get(doc, "values", "f3", TOML_FLOAT)->u.f == 1000.0);
	assert_true(get(doc, "values", "f4", TOML_FLOAT)->u.f == 6.02e23);
	assert_true(get(doc, "values", "f5", TOML_FLOAT)->u.f == 1000.0001);
	assert_true(get(doc, "values", "f6", TOML_FLOAT)->u.f == 0.05);
	assert_true(get(doc, "values", "f7", TOML_FLOAT)->u.f == 3.25);
	assert_true(get(doc, "values", "f8", TOML_FLOAT)->u.f == 0.0);
	assert_true(get(doc, "values", "f9", TOML_FLOAT)->u.f == 1e5);
	assert_true(get(doc, "values", "f10", TOML_FLOAT)->u.f == 0.3);
	assert_true(get(doc, "values", "t", TOML_BOOLEAN)->u.b);
	assert_false(get(doc, "values", "f", TOML_BOOLEAN)->u.b);
	assert_string_equal(get(doc, "values", "key-with_dash-9",
	    TOML_STRING)->u.s, "x");
	assert_string_equal(get(doc, "values", "0123", TOML_STRING)->u.s,
	    "digits-only key");
	assert_int_equal(get(doc, "values", "t", TOML_BOOLEAN)->line, 26);
	toml_free(doc);
}

static void
test_whitespace_and_comments(void **state)
{
	/* BOM, CRLF, tabs, indentation, no spaces round '=', comments after
	 * headers and values, trailing blanks, no final newline. */
	static const char text[] =
	    "\xef\xbb\xbf# bom first\r\n"
	    "\r\n"
	    "  [ spaced ]   # header comment\r\n"
	    "\ta=1\r\n"
	    "   b\t=\t\"two\"   # value comment \"quoted\" # more\n"
	    "c = 'three'#tight\n"
	    "#\n"
	    "   \t  \n"
	    "# comment with UTF-8: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 and\ttab\n"
	    "[other]\n"
	    "d = false";
	struct toml_doc *doc = parse_ok(text, sizeof(text) - 1);

	assert_int_equal(get(doc, "spaced", "a", TOML_INTEGER)->u.i, 1);
	assert_int_equal(get(doc, "spaced", "a", TOML_INTEGER)->line, 4);
	assert_string_equal(get(doc, "spaced", "b", TOML_STRING)->u.s, "two");
	assert_int_equal(get(doc, "spaced", "b", TOML_STRING)->line, 5);
	assert_string_equal(get(doc, "spaced", "c", TOML_STRING)->u.s,
	    "three");
	assert_false(get(doc, "other", "d", TOML_BOOLEAN)->u.b);
	assert_int_equal(get(doc, "other", "d", TOML_BOOLEAN)->line, 11);
	assert_int_equal(toml_find_table(doc, "other")->line, 10);
	toml_free(doc);

	/* empty input, only comments, only blank lines */
	doc = parse_ok("", 0);
	assert_int_equal(doc->ntables, 1);
	assert_int_equal(doc->tables[0].nkvs, 0);
	toml_free(doc);
	doc = parse_ok("# x\n\n  # y", 10);
	assert_int_equal(doc->ntables, 1);
	toml_free(doc);
	doc = parse_ok(NULL, 0);
	toml_free(doc);
}

static void
test_offsets(void **state)
{
	static const char text[] =
	    "[client]\n"
	    "id = \"alice\"   # c\n"
	    "n=  -12\n"
	    "[last]";
	struct toml_doc *doc = parse_ok(text, sizeof(text) - 1);
	const struct toml_kv *kv;

	kv = get(doc, "client", "id", TOML_STRING);
	assert_int_equal(kv->value_len, 7);
	assert_memory_equal(text + kv->value_offset, "\"alice\"", 7);
	kv = get(doc, "client", "n", TOML_INTEGER);
	assert_int_equal(kv->value_len, 3);
	assert_memory_equal(text + kv->value_offset, "-12", 3);
	assert_int_equal(toml_find_table(doc, "client")->body_offset, 9);
	assert_int_equal(toml_find_table(doc, "last")->body_offset,
	    sizeof(text) - 1);
	toml_free(doc);
}

static void
test_escapes(void **state)
{
	static const char text[] =
	    "a = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n"
	    "b = \"caf\\u00e9 \\u20AC \\U0001F600 \\u0041\"\n"
	    "c = \"raw \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\ttab\"\n"
	    "d = 'lit \\n \\u0041 \"q\"'\n"
	    "e = \"\\U0010FFFF\\uFFFD\\u007f\\u0001\"\n"
	    "f = \"#not a comment\"\n";
	struct toml_doc *doc = parse_ok(text, sizeof(text) - 1);

	assert_string_equal(get(doc, "", "a", TOML_STRING)->u.s,
	    "\b\t\n\f\r\"\\");
	assert_string_equal(get(doc, "", "b", TOML_STRING)->u.s,
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 A");
	assert_string_equal(get(doc, "", "c", TOML_STRING)->u.s,
	    "raw \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\ttab");
	assert_string_equal(get(doc, "", "d", TOML_STRING)->u.s,
	    "lit \\n \\u0041 \"q\"");
	assert_string_equal(get(doc, "", "e", TOML_STRING)->u.s,
	    "\xf4\x8f\xbf\xbf\xef\xbf\xbd\x7f\x01");
	assert_string_equal(get(doc, "", "f", TOML_STRING)->u.s,
	    "#not a comment");
	toml_free(doc);
}

struct bad_case {
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	int		 status;
	unsigned long	 line;
	const char	*key;
	const char	*msg;		/* a substring of the message */
};

#define SYN	TOML_ERR_SYNTAX
#define UNS	TOML_ERR_UNSUPPORTED
#define DUP	TOML_ERR_DUPLICATE
#define RNG	TOML_ERR_RANGE

static const struct bad_case bad_cases[] = {
	/* encoding */
	{ "a = 1\nb = \"x\0y\"\n", 15, SYN, 2, "", "NUL byte" },
	{ "a = 1\n\nb = \"\xff\"\n", 0, SYN, 3, "", "invalid UTF-8" },
	{ "# \xc0\x80\n", 0, SYN, 1, "", "invalid UTF-8" },
	{ "a = '\xed\xa0\x80'\n", 0, SYN, 1, "", "invalid UTF-8" },
	{ "a = '\xf4\x90\x80\x80'\n", 0, SYN, 1, "", "invalid UTF-8" },
	{ "a = '\xe0\x80\xaf'\n", 0, SYN, 1, "", "invalid UTF-8" },
	{ "a = '\xe2\x82", 0, SYN, 1, "", "truncated UTF-8" },
	{ "a = '\xe2\x82'", 0, SYN, 1, "", "invalid UTF-8" },
	{ "a = '\x80'", 0, SYN, 1, "", "invalid UTF-8" },
	/* strings */
	{ "\n\nkey = \"\\q\"\n", 0, SYN, 3, "key", "invalid escape '\\q'" },
	{ "k = \"\\x41\"", 0, SYN, 1, "k", "invalid escape" },
	{ "k = \"\\e\"", 0, SYN, 1, "k", "invalid escape" },
	{ "k = \"\\ \"", 0, SYN, 1, "k", "invalid escape" },
	{ "k = \"\\uD800\"", 0, SYN, 1, "k", "surrogate" },
	{ "k = \"\\uDFFF\"", 0, SYN, 1, "k", "surrogate" },
	{ "k = \"\\U0000D800\"", 0, SYN, 1, "k", "surrogate" },
	{ "k = \"\\U00110000\"", 0, SYN, 1, "k", "beyond U+10FFFF" },
	{ "k = \"\\u00e\"", 0, SYN, 1, "k", "4 hexadecimal digits" },
	{ "k = \"\\u12", 0, SYN, 1, "k", "unterminated" },
	{ "k = \"\\U1234567\"", 0, SYN, 1, "k", "8 hexadecimal digits" },
	{ "k = \"\\u0000\"", 0, UNS, 1, "k", "NUL character" },
	{ "k = \"a\x01" "b\"", 0, SYN, 1, "k", "control character 0x01" },
	{ "k = \"a\x7f\"", 0, SYN, 1, "k", "control character 0x7f" },
	{ "k = 'a\x1b'", 0, SYN, 1, "k", "control character 0x1b" },
	{ "# ok\nk = \"open\n", 0, SYN, 2, "k", "unterminated string" },
	{ "k = 'open\n'", 0, SYN, 1, "k", "unterminated string" },
	{ "k = \"open", 0, SYN, 1, "k", "unterminated string" },
	{ "k = \"a\\\nb\"", 0, SYN, 1, "k", "unterminated string" },
	{ "k = \"a\rb\"", 0, SYN, 1, "k", "unterminated string" },
	{ "k = \"\"\"multi\"\"\"", 0, UNS, 1, "k", "multi-line strings" },
	{ "k = '''multi'''", 0, UNS, 1, "k", "multi-line strings" },
	{ "k = \"a\" \"b\"", 0, SYN, 1, "k", "unexpected text after the value" },
	{ "k = hello", 0, SYN, 1, "k", "invalid value 'hello'" },
	{ "k = True", 0, SYN, 1, "k", "invalid value 'True'" },
	{ "k = truex", 0, SYN, 1, "k", "invalid value 'truex'" },
	{ "k = !", 0, SYN, 1, "k", "invalid value" },
	{ "k = \xc3\xa9", 0, SYN, 1, "k", "invalid value" },
	/* integers */
	{ "k = 007", 0, SYN, 1, "k", "leading zeros" },
	{ "k = +01", 0, SYN, 1, "k", "leading zeros" },
	{ "k = -0_1", 0, SYN, 1, "k", "leading zeros" },
	{ "k = 1__0", 0, SYN, 1, "k", "underscore" },
	{ "k = 1_", 0, SYN, 1, "k", "underscore" },
	{ "k = _1", 0, SYN, 1, "k", "invalid value" },
	{ "k = 1_.5", 0, SYN, 1, "k", "underscore" },
	{ "k = 1._5", 0, SYN, 1, "k", "decimal point" },
	{ "k = 1e_5", 0, SYN, 1, "k", "exponent" },
	{ "k = 12a", 0, SYN, 1, "k", "invalid number '12a'" },
	{ "k = 1-2", 0, SYN, 1, "k", "invalid number" },
	{ "k = +", 0, SYN, 1, "k", "invalid value '+'" },
	{ "k = 9223372036854775808", 0, RNG, 1, "k", "64 bits" },
	{ "k = -9223372036854775809", 0, RNG, 1, "k", "64 bits" },
	{ "k = 99999999999999999999999", 0, RNG, 1, "k", "64 bits" },
	{ "k = 0x1F", 0, UNS, 1, "k", "hexadecimal" },
	{ "k = 0o17", 0, UNS, 1, "k", "octal" },
	{ "k = 0b11", 0, UNS, 1, "k", "binary" },
	/* floats */
	{ "k = 1.", 0, SYN, 1, "k", "digit must follow the decimal point" },
	{ "k = .5", 0, SYN, 1, "k", "digit must precede the decimal point" },
	{ "k = -.5", 0, SYN, 1, "k", "digit must precede the decimal point" },
	{ "k = 1e", 0, SYN, 1, "k", "exponent" },
	{ "k = 1e+", 0, SYN, 1, "k", "exponent" },
	{ "k = 1.5.5", 0, SYN, 1, "k", "invalid number" },
	{ "k = 01.5", 0, SYN, 1, "k", "leading zeros" },
	{ "k = 1e400", 0, RNG, 1, "k", "out of range" },
	{ "k = -1e400", 0, RNG, 1, "k", "out of range" },
	{ "k = inf", 0, UNS, 1, "k", "inf and nan" },
	{ "k = -inf", 0, UNS, 1, "k", "inf and nan" },
	{ "k = +nan", 0, UNS, 1, "k", "inf and nan" },
	{ "k = nan", 0, UNS, 1, "k", "inf and nan" },
	/* unsupported types */
	{ "k = 1979-05-27", 0, UNS, 1, "k", "dates and times" },
	{ "k = 1979-05-27T07:32:00Z", 0, UNS, 1, "k", "dates and times" },
	{ "k = 07:32:00", 0, UNS, 1, "k", "dates and times" },
	{ "k = [1, 2]", 0, UNS, 1, "k", "arrays are not supported" },
	{ "k = { a = 1 }", 0, UNS, 1, "k", "inline tables" },
	{ "\n[[servers]]\n", 0, UNS, 2, "", "arrays of tables" },
	{ "[a.b]\n", 0, UNS, 1, "", "dotted" },
	{ "[a . b]\n", 0, UNS, 1, "", "dotted" },
	{ "[\"a\"]\n", 0, UNS, 1, "", "quoted table names" },
	{ "['a']\n", 0, UNS, 1, "", "quoted table names" },
	{ "\"k\" = 1", 0, UNS, 1, "", "quoted keys" },
	{ "'k' = 1", 0, UNS, 1, "", "quoted keys" },
	{ "a.b = 1", 0, UNS, 1, "a", "dotted keys" },
	{ "a .b = 1", 0, UNS, 1, "a", "dotted keys" },
	/* structure */
	{ "[t]\na = 1\nb = 2\na = 3\n", 0, DUP, 4, "a",
	    "duplicate key (first defined on line 2)" },
	{ "a = 1\na = 1\n", 0, DUP, 2, "a", "duplicate key" },
	{ "[t]\n[u]\n[t]\n", 0, DUP, 3, "",
	    "duplicate table [t] (first defined on line 1)" },
	{ "[t]\na = 1\n[u]\na = 1\n[t]\n", 0, DUP, 5, "", "duplicate table" },
	{ "a =\n", 0, SYN, 1, "a", "missing value" },
	{ "a =", 0, SYN, 1, "a", "missing value" },
	{ "a = # nothing\n", 0, SYN, 1, "a", "missing value" },
	{ "a = \r\n", 0, SYN, 1, "a", "missing value" },
	{ "a 1\n", 0, SYN, 1, "a", "expected '='" },
	{ "\n\na\n", 0, SYN, 3, "a", "expected '='" },
	{ "= 1\n", 0, SYN, 1, "", "expected a key" },
	{ "a = 1 2\n", 0, SYN, 1, "a", "unexpected text after the value" },
	{ "a = 1,\n", 0, SYN, 1, "a", "unexpected text after the value" },
	{ "a = true false\n", 0, SYN, 1, "a", "unexpected text" },
	{ "[t] x\n", 0, SYN, 1, "", "unexpected text after the table header" },
	{ "[t\n", 0, SYN, 1, "", "expected ']'" },
	{ "[t x]\n", 0, SYN, 1, "", "expected ']'" },
	{ "[]\n", 0, SYN, 1, "", "expected a table name" },
	{ "[", 0, SYN, 1, "", "expected a table name" },
	{ "a = 1\rb = 2\n", 0, SYN, 1, "a", "carriage return" },
	{ "# c\r# d\n", 0, SYN, 1, "", "carriage return" },
	{ "\r", 0, SYN, 1, "", "carriage return" },
	{ "# bell \x07\n", 0, SYN, 1, "", "control character 0x07 in a comment" },
	{ "a = 1 # del \x7f\n", 0, SYN, 1, "a", "control character 0x7f" },
	{ "\x01", 0, SYN, 1, "", "expected a key" },
};

static void
test_errors(void **state)
{
	const struct bad_case *c;
	struct toml_error err;
	struct toml_doc *doc;
	size_t len;
	char *copy;
	int rc;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		c = &bad_cases[i];
		len = c->len ? c->len : strlen(c->text);
		/* an exact-size heap copy, so ASan catches a read past it */
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, c->text, len);
		doc = (struct toml_doc *)0x1;
		rc = toml_parse(copy, len, &doc, &err);
		free(copy);
		if (rc != c->status || err.line != c->line ||
		    strcmp(err.key, c->key) != 0 ||
		    strstr(err.msg, c->msg) == NULL)
			FAILF("case %zu (%s): got %d line %lu key '%s' "
			    "msg '%s'; want %d line %lu key '%s' msg '%s'", i,
			    c->text, rc, err.line, err.key, err.msg, c->status,
			    c->line, c->key, c->msg);
		assert_null(doc);
	}
}

static void
test_too_many_entries(void **state)
{
	size_t n = TOML_MAX_ENTRIES + 1, len = 0;
	struct toml_error err;
	struct toml_doc *doc;
	char *text = malloc(n * 16);

	assert_non_null(text);
	for (size_t i = 0; i < n - 1; i++)
		len += (size_t)sprintf(text + len, "k%zu = %zu\n", i, i);
	assert_int_equal(toml_parse(text, len, &doc, &err), TOML_OK);
	assert_int_equal(doc->tables[0].nkvs, TOML_MAX_ENTRIES);
	toml_free(doc);
	len += (size_t)sprintf(text + len, "[one_more]\n");
	assert_int_equal(toml_parse(text, len, &doc, &err), TOML_ERR_LIMIT);
	assert_int_equal(err.line, TOML_MAX_ENTRIES + 1);
	assert_null(doc);
	/* without an error structure too */
	assert_int_equal(toml_parse(text, len, &doc, NULL), TOML_ERR_LIMIT);
	free(text);
}

static void
test_error_format(void **state)
{
	struct toml_error err;
	struct toml_doc *doc;
	char out[256];

	assert_int_equal(toml_parse("[t]\nx = \"s\"\nx = 1\n", 18, &doc, &err),
	    TOML_ERR_DUPLICATE);
	toml_error_format(&err, "/etc/a.toml", out, sizeof(out));
	assert_string_equal(out, "/etc/a.toml:3: key 'x': duplicate key "
	    "(first defined on line 2)");

	toml_error_set(&err, 7, NULL, "expected %s", "a boolean");
	toml_error_format(&err, "f", out, sizeof(out));
	assert_string_equal(out, "f:7: expected a boolean");
	toml_error_set(&err, 0, "id", "required");
	toml_error_format(&err, "f", out, sizeof(out));
	assert_string_equal(out, "f: key 'id': required");
	toml_error_set(&err, 0, NULL, "gone");
	toml_error_format(&err, NULL, out, sizeof(out));
	assert_string_equal(out, "<input>: gone");
	/* truncation is safe */
	toml_error_set(&err, 12, "key", "a long message");
	assert_int_equal(toml_error_format(&err, "file", out, 8), 34);
	assert_string_equal(out, "file:12");

	assert_string_equal(toml_type_name(TOML_STRING), "a string");
	assert_string_equal(toml_type_name(TOML_INTEGER), "an integer");
	assert_string_equal(toml_type_name(TOML_FLOAT), "a float");
	assert_string_equal(toml_type_name(TOML_BOOLEAN), "a boolean");
}

static void
test_quote_round_trip(void **state)
{
	static const char *const samples[] = {
		"",
		"plain",
		"quote \" and backslash \\ and 'single'",
		"\b\t\n\f\r",
		"\x01\x02\x1b[31mred\x1f\x7f",
		"UTF-8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		"# not a comment = [not, an, array]",
	};
	char text[512], quoted[256];
	struct toml_doc *doc;
	size_t n;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		n = toml_quote(samples[i], quoted, sizeof(quoted));
		assert_true(n < sizeof(quoted));
		assert_int_equal(n, strlen(quoted));
		assert_int_equal(toml_quote(samples[i], NULL, 0), n);
		snprintf(text, sizeof(text), "v = %s\n", quoted);
		doc = parse_ok(text, strlen(text));
		assert_string_equal(get(doc, "", "v", TOML_STRING)->u.s,
		    samples[i]);
		toml_free(doc);
	}
	assert_string_equal((toml_quote("a\"b", quoted, sizeof(quoted)),
	    quoted), "\"a\\\"b\"");
	assert_string_equal((toml_quote("\x01", quoted, sizeof(quoted)),
	    quoted), "\"\\u0001\"");
	/* a short buffer gets a terminated prefix and the full length */
	assert_int_equal(toml_quote("abcdef", quoted, 4), 8);
	assert_string_equal(quoted, "\"ab");
}

static void
check_float_round_trip(double v)
{
	char num[64], text[128];
	struct toml_doc *doc;
	const struct toml_kv *kv;

	assert_int_equal(toml_format_float(v, num, sizeof(num)), 0);
	snprintf(text, sizeof(text), "v = %s\n", num);
	doc = parse_ok(text, strlen(text));
	kv = get(doc, "", "v", TOML_FLOAT);
	if (kv->u.f != v || signbit(kv->u.f) != signbit(v))
		FAILF("%.17g formatted as %s read back as %.17g", v, num,
		    kv->u.f);
	toml_free(doc);
}

static void
test_format_float(void **state)
{
	static const double values[] = {
		0.0, -0.0, 10.0, -1.0, 0.5, 0.1, 1.0 / 3.0, 1e-7, 6.02e23,
		123456789012.0, 1e300, -2.5e-300, 4.9e-324, 1.7976931348623157e308,
		100000.0, 50.0, 0.001,
	};
	char num[64];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_float_round_trip(values[i]);
	assert_int_equal(toml_format_float(10.0, num, sizeof(num)), 0);
	assert_string_equal(num, "10.00");
	assert_int_equal(toml_format_float(0.1, num, sizeof(num)), 0);
	assert_string_equal(num, "0.10");
	assert_int_equal(toml_format_float(123456789012.0, num, sizeof(num)),
	    0);
	assert_string_equal(num, "123456789012.0");
	assert_int_equal(toml_format_float(NAN, num, sizeof(num)), -1);
	assert_int_equal(toml_format_float(INFINITY, num, sizeof(num)), -1);
	assert_int_equal(toml_format_float(10.0, num, 5), -1);

	/* a locale with a decimal comma changes nothing, if one exists */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL ||
	    setlocale(LC_NUMERIC, "fr_FR.UTF-8") != NULL) {
		check_float_round_trip(0.25);
		assert_int_equal(toml_format_float(2.5, num, sizeof(num)), 0);
		assert_string_equal(num, "2.50");
		setlocale(LC_NUMERIC, "C");
	}
}

static void
test_find(void **state)
{
	static const char text[] = "[a]\nx = 1\n[b]\ny = 2\n";
	struct toml_doc *doc = parse_ok(text, sizeof(text) - 1);

	assert_null(toml_find_table(doc, "c"));
	assert_non_null(toml_find_table(doc, ""));
	assert_null(toml_find_key(toml_find_table(doc, "a"), "y"));
	assert_non_null(toml_find_key(toml_find_table(doc, "b"), "y"));
	toml_free(doc);
	toml_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_value_type),
		cmocka_unit_test(test_whitespace_and_comments),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_entries),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_quote_round_trip),
		cmocka_unit_test(test_format_float),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the shared configuration applier (common/confkeys.c):
 * integers, booleans and strings reach their fields; keys outside a
 * table, unknown tables and keys, keys of another role, wrong types,
 * out-of-range integers and control characters are refused with the
 * configuration's own words, at the key's line.
 */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/confkeys.h"
#include "common/toml.h"

struct obj {
	unsigned	 small;
	uint64_t	 big;
	bool		 flag;
	char		 name[8];
	double		 rate;
};

#define F(f)	offsetof(struct obj, f), sizeof(((struct obj *)0)->f)

static const struct confkey keys[] = {
	{ "a", "small", CONFKEY_INT, 0, F(small), 1, 10, 1, false, NULL },
	{ "a", "big", CONFKEY_INT, 0, F(big), 0, INT64_MAX, 1, false, NULL },
	{ "a", "flag", CONFKEY_BOOL, 0, F(flag), 0, 0, 1, false, NULL },
	{ "b", "name", CONFKEY_STRING, 0, F(name), 0, 0, 1, false, "a name" },
	{ "b", "rate", CONFKEY_NUMBER, 0, F(rate), 0, 0, 1, false, NULL },
	{ "c", "other", CONFKEY_BOOL, 0, F(flag), 0, 0, 2, false, NULL },
};

static char last[600];

static void
on_fail(void *arg, unsigned long line, const char *key, const char *msg)
{
	snprintf(last, sizeof(last), "%lu|%s|%s", line, key ? key : "-", msg);
}

static int
on_set(const struct confkeys_ctx *ctx, const struct confkey *k,
    const struct toml_kv *kv)
{
	struct obj *o = ctx->obj;

	if (k->type == CONFKEY_NUMBER) {
		o->rate = kv->type == TOML_INTEGER ? (double)kv->u.i : kv->u.f;
		return 0;
	}
	if (strlen(kv->u.s) >= sizeof(o->name))
		return confkeys_fail(ctx, kv, "too long: %zu", strlen(kv->u.s));
	strcpy(o->name, kv->u.s);
	return 0;
}

static const struct confkeys schema = {
	.keys = keys, .nkeys = sizeof(keys) / sizeof(keys[0]),
	.root_msg = "keys belong in a table",
	.unknown_table_hint = " (try [a])",
	.range_from = "from", .range_to = "to",
	.control_msg = "no control characters",
	.set = on_set, .fail = on_fail,
};

static int
apply(const char *text, struct obj *o, unsigned long *lines)
{
	struct toml_doc *doc;
	struct confkeys_ctx ctx = {
		.schema = &schema, .role = 1, .obj = o, .lines = lines,
	};
	int rc;

	assert_int_equal(toml_parse(text, strlen(text), &doc, NULL), TOML_OK);
	last[0] = '\0';
	rc = confkeys_apply(&ctx, doc);
	toml_free(doc);
	return rc;
}

static void
test_applies(void **state)
{
	struct obj o = { 0 };
	unsigned long lines[6] = { 9, 9, 9, 9, 9, 9 };

	assert_int_equal(apply("[a]\nsmall = 10\nbig = 5000000000\nflag = true\n"
	    "[b]\nname = \"nymd\"\nrate = 3\n", &o, lines), 0);
	assert_int_equal(o.small, 10);
	assert_true(o.big == 5000000000ull);
	assert_true(o.flag);
	assert_string_equal(o.name, "nymd");
	assert_true(o.rate == 3.0);
	assert_int_equal(lines[0], 2);
	assert_int_equal(lines[4], 7);
	assert_int_equal(lines[5], 0);	/* not set: 0, whatever it was */
	assert_int_equal(apply("[b]\nrate = 0.5\n", &o, NULL), 0);
	assert_true(o.rate == 0.5);
}

static void
test_refuses(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "x = 1\n", "1|x|keys belong in a table" },
		{ "[z]\n", "1|-|unknown table [z] (try [a])" },
		{ "[c]\nother = true\n", "1|-|unknown table [c] (try [a])" },
		{ "[a]\nnope = 1\n", "2|nope|unknown key in [a]" },
		{ "[a]\nname = \"x\"\n", "2|name|unknown key in [a]" },
		{ "[a]\nsmall = \"1\"\n", "2|small|expected an integer, got a string" },
		{ "[a]\nflag = 1\n", "2|flag|expected a boolean (true or false), got an integer" },
		{ "[b]\nname = 1\n", "2|name|expected a name, got an integer" },
		{ "[b]\nrate = true\n", "2|rate|expected a number, got a boolean" },
		{ "[a]\nsmall = 0\n", "2|small|must be from 1 to 10" },
		{ "[a]\nsmall = 11\n", "2|small|must be from 1 to 10" },
		{ "[a]\nbig = -1\n", "2|big|must be from 0 to 9223372036854775807" },
		{ "[b]\nname = \"a\\tb\"\n", "2|name|no control characters" },
		{ "[b]\nname = \"far too long\"\n", "2|name|too long: 12" },
	};
	struct obj o = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(apply(cases[i].text, &o, NULL), -1);
		assert_string_equal(last, cases[i].error);
	}
	assert_int_equal(o.small, 0);
}

static void
test_index_by_role(void **state)
{
	struct confkeys_ctx ctx = { .schema = &schema, .role = 1 };

	assert_int_equal(confkeys_index(&ctx, "b", "rate"), 4);
	assert_int_equal(confkeys_index(&ctx, "c", "other"), -1);
	assert_int_equal(confkeys_index(&ctx, "a", "rate"), -1);
	ctx.role = 2;
	assert_int_equal(confkeys_index(&ctx, "c", "other"), 5);
	assert_int_equal(confkeys_index(&ctx, "a", "small"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_applies),
		cmocka_unit_test(test_refuses),
		cmocka_unit_test(test_index_by_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

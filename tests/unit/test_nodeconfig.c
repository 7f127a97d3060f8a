/* Unit tests of the node configuration (src/node/config.c). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/config.h"

static const char mixnode_conf[] =
    "[node]\n"
    "id = \"mix1\"\n"
    "host = \"127.0.0.1\"\n"
    "port = 1790\n"
    "layer = 2\n"
    "directory = \"http://127.0.0.1:8080/api/presence/topology\"\n"
    "priv_key_file = \"/x/private_key.pem\"\n"
    "pub_key_file = \"/x/public_key.pem\"\n"
    "presence_interval_seconds = 1\n"
    "[logging]\n"
    "file = \"\"\n"
    "level = \"debug\"\n";

static int
parse(enum node_role role, const char *text, char *err, size_t errlen,
    struct node_config *c)
{
	if (node_config_defaults(c, role, "/root", "mix1") == -1)
		return -2;
	return node_config_parse(c, text, strlen(text), "t.toml", err, errlen);
}

static void
test_good(void **state)
{
	struct node_config c;
	char err[NODE_ERR_BYTES];

	assert_int_equal(parse(NODE_ROLE_MIXNODE, mixnode_conf, err, sizeof(err),
	    &c), 0);
	assert_int_equal(c.layer, 2);
	assert_int_equal(c.port, 1790);
	assert_int_equal(c.presence_interval_s, 1);
	assert_int_equal(c.metrics_interval_s, NODE_DEFAULT_METRICS_S);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	/* A topology URL is cut back to the directory's base. */
	assert_string_equal(c.directory, "http://127.0.0.1:8080");
	assert_string_equal(c.home, "/root/mixnodes/mix1");
	assert_string_equal(c.data_dir, "/root/mixnodes/mix1/data");
}

static void
test_errors(void **state)
{
	static const struct {
		enum node_role	 role;
		const char	*from, *to, *msg;
	} cases[] = {
		{ NODE_ROLE_MIXNODE, "layer = 2", "layer = 4", "from 1 to 3" },
		{ NODE_ROLE_MIXNODE, "layer = 2", "layer = \"2\"", "integer" },
		{ NODE_ROLE_MIXNODE, "layer = 2\n", "", "'layer' is missing" },
		{ NODE_ROLE_MIXNODE, "port = 1790", "port = 70000", "65535" },
		{ NODE_ROLE_MIXNODE, "port = 1790", "prot = 1790", "unknown key" },
		{ NODE_ROLE_MIXNODE, "[logging]", "[log]", "unknown table" },
		{ NODE_ROLE_MIXNODE, "\"debug\"", "\"loud\"", "expected one of" },
		{ NODE_ROLE_MIXNODE, "http://127", "ftp://127", "http://" },
		{ NODE_ROLE_MIXNODE, "\"127.0.0.1\"", "\"127.0.0.1:80\"",
		  "without the port" },
		{ NODE_ROLE_MIXNODE, "\"/x/private", "\"x/private", "absolute" },
		/* layer is a mixnode's key, not a provider's */
		{ NODE_ROLE_PROVIDER, "port = 1790", "port = 1790", "unknown key" },
	};
	char err[NODE_ERR_BYTES], text[2048];
	struct node_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(mixnode_conf, cases[i].from);
		assert_non_null(at);
		snprintf(text, sizeof(text), "%.*s%s%s",
		    (int)(at - mixnode_conf), mixnode_conf, cases[i].to,
		    at + strlen(cases[i].from));
		err[0] = '\0';
		assert_int_equal(parse(cases[i].role, text, err, sizeof(err), &c),
		    -1);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
	}
}

static void
test_roundtrip(void **state)
{
	struct node_config c, d;
	char dir[] = "/tmp/test_nodeconfig.XXXXXX", path[128], err[NODE_ERR_BYTES];
	FILE *fp;
	char buf[4096];
	size_t n;

	assert_non_null(mkdtemp(dir));
	for (int role = NODE_ROLE_MIXNODE; role <= NODE_ROLE_PROVIDER; role++) {
		assert_int_equal(node_config_defaults(&c, (enum node_role)role,
		    dir, "n1"), 0);
		c.port = 4242;
		c.layer = 3;
		c.mailbox_packets = 77;
		snprintf(c.log_file, sizeof(c.log_file), "/tmp/a \"quoted\" log");
		snprintf(path, sizeof(path), "%s/c.toml", dir);
		assert_int_equal(node_config_write(path, &c), 0);
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		assert_int_equal(node_config_defaults(&d, (enum node_role)role,
		    dir, "n1"), 0);
		if (node_config_parse(&d, buf, n, path, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		assert_int_equal(d.port, 4242);
		assert_string_equal(d.log_file, c.log_file);
		assert_string_equal(d.priv_key_file, c.priv_key_file);
		if (role == NODE_ROLE_MIXNODE)
			assert_int_equal(d.layer, 3);
		else
			assert_int_equal(d.mailbox_packets, 77);
		unlink(path);
	}
	rmdir(dir);
}

static void
test_directory_base(void **state)
{
	char out[64];

	assert_int_equal(node_directory_base("http://h:1/", out, sizeof(out)), 0);
	assert_string_equal(out, "http://h:1");
	assert_int_equal(node_directory_base("https://h/api/presence/topology",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "https://h");
	assert_int_equal(node_directory_base("http://", out, sizeof(out)), -1);
	assert_int_equal(node_directory_base("http://a b", out, sizeof(out)), -1);
	assert_int_equal(node_directory_base("http://h", out, 5), -1);
	assert_true(node_id_valid("a.b_c-1"));
	assert_false(node_id_valid("-a"));
	assert_false(node_id_valid("a/b"));
	assert_false(node_id_valid(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_directory_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

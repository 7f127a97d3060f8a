/*
 * Unit tests of nymd's client configuration: defaults, every rejection
 * (unknown table or key, wrong type, missing id, bad values) with file and
 * line, the round trip of what `nymd init` writes, and config_set_provider.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

/* cmocka's fail_msg() output is hard to read on TAP; say it on stderr. */
#define FAILF(...) do { fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, "\n"); fail(); } while (0)

#define ROOT		"/home/you/.loopix"
#define PROVIDER_A	"R_rGKmwelVAVRpicMwMIJwsHvdYHMNfcItPwNipu5GQ="
#define PROVIDER_B	"XiVE6xA10xFkAwfIQuBDc_JRXWerL0Pcqi7DipEUeTE="

static char tmpdir[256];

static int
setup(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static const char *
tmp_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *
read_whole(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
load_text(const char *text, struct nymd_config *cfg, char *err,
    size_t errlen)
{
	return config_load_buffer(text, strlen(text), "config.toml", ROOT,
	    cfg, err, errlen);
}

static void
assert_config_equal(const struct nymd_config *a, const struct nymd_config *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->directory_server_topology,
	    b->directory_server_topology);
	assert_string_equal(a->priv_key_file, b->priv_key_file);
	assert_string_equal(a->pub_key_file, b->pub_key_file);
	assert_string_equal(a->provider_id, b->provider_id);
	assert_string_equal(a->mixapps_directory, b->mixapps_directory);
	assert_string_equal(a->loopix_home_directory,
	    b->loopix_home_directory);
	assert_int_equal(a->log_disable, b->log_disable);
	assert_string_equal(a->log_file, b->log_file);
	assert_int_equal(a->log_level, b->log_level);
	assert_true(a->loop_cover_traffic_rate == b->loop_cover_traffic_rate);
	assert_true(a->fetch_message_rate == b->fetch_message_rate);
	assert_true(a->message_sending_rate == b->message_sending_rate);
	assert_int_equal(a->rate_compliant_cover_messages_disabled,
	    b->rate_compliant_cover_messages_disabled);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->socket_path, b->socket_path);
	assert_int_equal(a->socket_mode, b->socket_mode);
	assert_string_equal(a->listen_address, b->listen_address);
	assert_string_equal(a->directory_proxy, b->directory_proxy);
	assert_string_equal(a->websocket_allowed_origins,
	    b->websocket_allowed_origins);
	assert_int_equal(a->allow_other_users, b->allow_other_users);
	assert_true(a->average_delay_ms == b->average_delay_ms);
	assert_int_equal(a->topology_refresh_seconds,
	    b->topology_refresh_seconds);
	assert_int_equal(a->max_restarts, b->max_restarts);
	assert_int_equal(a->restart_window_seconds, b->restart_window_seconds);
	assert_int_equal(a->duplicate_window_seconds, b->duplicate_window_seconds);
	assert_int_equal(a->reply_surb_lifetime_seconds, b->reply_surb_lifetime_seconds);
	assert_int_equal(a->max_message_bytes, b->max_message_bytes);
	assert_int_equal(a->message_expiry_seconds, b->message_expiry_seconds);
	/* the strings are zero-filled, so the whole struct compares too */
	assert_memory_equal(a, b, sizeof(*a));
}

static void
test_defaults(void **state)
{
	struct nymd_config cfg;
	char path[CONFIG_PATH_BYTES];

	assert_int_equal(config_defaults(&cfg, "alice", ROOT), CONFIG_OK);
	assert_string_equal(cfg.id, "alice");
	assert_string_equal(cfg.directory_server_topology,
	    "https://directory.nymtech.net/api/presence/topology");
	assert_string_equal(cfg.priv_key_file, "config/private_key.pem");
	assert_string_equal(cfg.pub_key_file, "config/public_key.pem");
	assert_string_equal(cfg.provider_id, "");
	assert_string_equal(cfg.mixapps_directory, "mixapps");
	assert_string_equal(cfg.loopix_home_directory, ROOT "/clients");
	assert_false(cfg.log_disable);
	assert_string_equal(cfg.log_file, "/tmp/loopix_alice.log");
	assert_int_equal(cfg.log_level, CONFIG_LOG_INFO);
	assert_true(cfg.loop_cover_traffic_rate == 10.0);
	assert_true(cfg.fetch_message_rate == 10.0);
	assert_true(cfg.message_sending_rate == 10.0);
	assert_false(cfg.rate_compliant_cover_messages_disabled);
	assert_string_equal(cfg.user, "nymd");
	assert_string_equal(cfg.socket_path, "nymd.sock");
	assert_int_equal(cfg.socket_mode, 0600);
	assert_string_equal(cfg.listen_address, "127.0.0.1");
	assert_string_equal(cfg.websocket_allowed_origins,
	    "http://localhost http://127.0.0.1 http://[::1]");
	assert_false(cfg.allow_other_users);
	assert_true(cfg.average_delay_ms == 50.0);
	assert_int_equal(cfg.topology_refresh_seconds, 30);
	assert_int_equal(cfg.max_restarts, 5);
	assert_int_equal(cfg.restart_window_seconds, 60);
	assert_int_equal(cfg.duplicate_window_seconds, 604800);
	assert_int_equal(cfg.reply_surb_lifetime_seconds, 0);
	assert_int_equal(cfg.max_message_bytes, 1048576);
	assert_int_equal(cfg.message_expiry_seconds, 86400);

	assert_int_equal(config_client_home(&cfg, path, sizeof(path)),
	    CONFIG_OK);
	assert_string_equal(path, ROOT "/clients/alice");
	assert_int_equal(config_resolve_path(&cfg, cfg.priv_key_file, path,
	    sizeof(path)), CONFIG_OK);
	assert_string_equal(path, ROOT "/clients/alice/config/private_key.pem");
	assert_int_equal(config_resolve_path(&cfg, "/abs/key.pem", path,
	    sizeof(path)), CONFIG_OK);
	assert_string_equal(path, "/abs/key.pem");
	/* the path helpers say -1 when the result does not fit */
	assert_int_equal(config_resolve_path(&cfg, "x", path, 10), -1);
	assert_int_equal(config_resolve_path(&cfg, "/abs", path, 4), -1);
	assert_int_equal(config_client_home(&cfg, path, 10), -1);
	assert_int_equal(config_file_path(ROOT, "alice", path, 10), -1);
	assert_int_equal(config_file_path(ROOT, "alice", path, sizeof(path)),
	    CONFIG_OK);
	assert_string_equal(path, ROOT "/clients/alice/config/config.toml");
	assert_int_equal(config_file_path("/", "bob", path, sizeof(path)),
	    CONFIG_OK);
	assert_string_equal(path, "/clients/bob/config/config.toml");
	assert_int_equal(config_file_path(ROOT, "../x", path, sizeof(path)),
	    -1);

	/* bad ids and roots are refused */
	assert_int_equal(config_defaults(&cfg, "", ROOT), CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "a/b", ROOT),
	    CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "..", ROOT), CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "-rf", ROOT),
	    CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "alice", "relative"),
	    CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "alice", NULL),
	    CONFIG_ERR_INVALID);
	assert_true(config_id_valid("a"));
	assert_true(config_id_valid("Alice_2.0-x"));
	assert_true(config_id_valid(
	    "0123456789012345678901234567890123456789012345678901234567890123"));
	assert_false(config_id_valid(
	    "01234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(config_id_valid("al ice"));
	assert_false(config_id_valid("caf\xc3\xa9"));
	assert_true(config_provider_id_valid(PROVIDER_A));
	assert_false(config_provider_id_valid(""));
	assert_false(config_provider_id_valid(
	    "R_rGKmwelVAVRpicMwMIJwsHvdYHMNfcItPwNipu5GQ"));
	assert_false(config_provider_id_valid(
	    "R+rGKmwelVAVRpicMwMIJwsHvdYHMNfcItPwNipu5GQ="));

	assert_string_equal(config_log_level_name(CONFIG_LOG_WARNING),
	    "warning");
	assert_string_equal(config_log_level_name((enum config_log_level)99),
	    "unknown");
}

/* The exact file `nymd init` writes reads back as the same config. */
static void
test_round_trip_defaults(void **state)
{
	struct nymd_config cfg, back;
	char err[512];
	struct stat st;
	const char *path = tmp_path("config.toml");
	DIR *d;
	struct dirent *de;
	int files = 0;

	assert_int_equal(config_defaults(&cfg, "alice", ROOT), CONFIG_OK);
	assert_int_equal(config_write(path, &cfg), CONFIG_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	memset(&back, 0xa5, sizeof(back));
	if (config_load(path, "/somewhere/else", &back, err, sizeof(err)) !=
	    CONFIG_OK)
		FAILF("%s", err);
	assert_config_equal(&cfg, &back);

	/* no temporary file is left behind */
	assert_non_null(d = opendir(tmpdir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	closedir(d);
	assert_int_equal(files, 1);

	/* the seed's --local URL, and a rewrite over an existing file */
	snprintf(cfg.directory_server_topology,
	    sizeof(cfg.directory_server_topology), "%s",
	    CONFIG_LOCAL_TOPOLOGY_URL);
	assert_int_equal(config_write(path, &cfg), CONFIG_OK);
	assert_int_equal(config_load(path, ROOT, &back, err, sizeof(err)),
	    CONFIG_OK);
	assert_string_equal(back.directory_server_topology,
	    "http://localhost:8080/api/presence/topology");
	unlink(path);
}

static void
set(char *field, size_t size, const char *value)
{
	memset(field, 0, size);
	assert_true(strlen(value) < size);
	memcpy(field, value, strlen(value));
}

#define SET(cfg, f, v)	set((cfg).f, sizeof((cfg).f), (v))

static void
test_round_trip_everything(void **state)
{
	struct nymd_config cfg, back;
	char err[512], *text;
	size_t len;

	assert_int_equal(config_defaults(&cfg, "Bob_2-x.y", "/srv/nym"),
	    CONFIG_OK);
	SET(cfg, directory_server_topology, "http://127.0.0.1:8080/api/x?a=b#f");
	SET(cfg, priv_key_file, "/keys/a \"quoted\" \\ back\\slash.pem");
	SET(cfg, pub_key_file, "caf\xc3\xa9/\xf0\x9f\x98\x80.pem");
	SET(cfg, provider_id, PROVIDER_A);
	SET(cfg, mixapps_directory, "apps # not a comment");
	SET(cfg, loopix_home_directory, "/var/lib/nymd/clients/");
	cfg.log_disable = true;
	SET(cfg, log_file, "");
	cfg.log_level = CONFIG_LOG_FATAL;
	cfg.loop_cover_traffic_rate = -1.0;
	cfg.fetch_message_rate = 0.1;
	cfg.message_sending_rate = 1.0 / 3.0;
	cfg.rate_compliant_cover_messages_disabled = true;
	SET(cfg, user, "_nymd");
	SET(cfg, socket_path, "/run/nymd/bob.sock");
	cfg.socket_mode = 0660;
	SET(cfg, listen_address, "::1");
	SET(cfg, directory_proxy, "socks5h://[::1]:9050");
	SET(cfg, websocket_allowed_origins, "https://app.example:8443, http://[::1]:80");
	cfg.allow_other_users = true;
	cfg.average_delay_ms = 1e-3;
	cfg.topology_refresh_seconds = 86400;
	cfg.max_restarts = 1;
	cfg.restart_window_seconds = 1;
	cfg.duplicate_window_seconds = 60;
	cfg.reply_surb_lifetime_seconds = 604800;
	cfg.max_message_bytes = 13197312;
	cfg.message_expiry_seconds = 2592000;

	assert_int_equal(config_format(&cfg, &text, &len), CONFIG_OK);
	assert_int_equal(len, strlen(text));
	if (config_load_buffer(text, len, "mem", NULL, &back, err,
	    sizeof(err)) != CONFIG_OK)
		FAILF("%s\n%s", err, text);
	assert_config_equal(&cfg, &back);
	assert_non_null(strstr(text, "socket_mode = \"0660\"\n"));
	assert_non_null(strstr(text, "allow_other_users = true\n"));
	assert_non_null(strstr(text, "level = \"fatal\"\n"));
	assert_non_null(strstr(text, "loop_cover_traffic_rate = -1.00\n"));
	free(text);

	/* every level name round-trips */
	for (int l = CONFIG_LOG_TRACE; l <= CONFIG_LOG_FATAL; l++) {
		cfg.log_level = (enum config_log_level)l;
		assert_int_equal(config_format(&cfg, &text, &len), CONFIG_OK);
		assert_int_equal(config_load_buffer(text, len, "mem", NULL,
		    &back, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(back.log_level, l);
		free(text);
	}
}

/* A file as the seed's implementation wrote it (its template's keys,
 * order, and "%.2f" rates) loads, and means the same thing. */
static void
test_seed_file(void **state)
{
	static const char seed[] =
	    "# seed-style file\n"
	    "\n"
	    "##### main base client config options #####\n"
	    "[client]\n"
	    "\n"
	    "id = \"alice\"\n"
	    "directory_server_topology = "
	    "\"https://directory.nymtech.net/api/presence/topology\"\n"
	    "priv_key_file = \"config/private_key.pem\"\n"
	    "pub_key_file = \"config/public_key.pem\"\n"
	    "\n"
	    "##### additional client config options #####\n"
	    "provider_id = \"" PROVIDER_B "\"\n"
	    "mixapps_directory = \"mixapps\"\n"
	    "loopix_home_directory = \"/home/you/.loopix/clients\"\n"
	    "\n"
	    "##### logging configuration options #####\n"
	    "[logging]\n"
	    "disable = false\n"
	    "file = \"/tmp/loopix_alice.log\"\n"
	    "level = \"info\"\n"
	    "\n"
	    "##### debug configuration options #####\n"
	    "[debug]\n"
	    "loop_cover_traffic_rate = 10.00\n"
	    "fetch_message_rate = 10.00\n"
	    "message_sending_rate = 10.00\n"
	    "rate_compliant_cover_messages_disabled = false\n"
	    "\n\n";
	struct nymd_config cfg, want;
	char err[512], path[CONFIG_PATH_BYTES];

	if (load_text(seed, &cfg, err, sizeof(err)) != CONFIG_OK)
		FAILF("%s", err);
	assert_int_equal(config_defaults(&want, "alice", ROOT), CONFIG_OK);
	SET(want, provider_id, PROVIDER_B);
	assert_config_equal(&want, &cfg);
	assert_int_equal(config_resolve_path(&cfg, cfg.pub_key_file, path,
	    sizeof(path)), CONFIG_OK);
	assert_string_equal(path,
	    "/home/you/.loopix/clients/alice/config/public_key.pem");
}

static void
test_minimal_and_empty_values(void **state)
{
	struct nymd_config cfg, want;
	char err[512];

	/* only the id: everything else is the default */
	assert_int_equal(load_text("[client]\nid = \"carol\"\n", &cfg, err,
	    sizeof(err)), CONFIG_OK);
	assert_int_equal(config_defaults(&want, "carol", ROOT), CONFIG_OK);
	assert_config_equal(&want, &cfg);

	/* as in the seed, empty paths and URL mean the default; an empty
	 * log file means stdout, an empty [nymd] table changes nothing */
	assert_int_equal(load_text("[client]\nid = 'carol'\n"
	    "directory_server_topology = ''\npriv_key_file = \"\"\n"
	    "pub_key_file = ''\nmixapps_directory = ''\n"
	    "loopix_home_directory = ''\nprovider_id = ''\n"
	    "[logging]\nfile = ''\n[nymd]\nsocket_path = ''\n", &cfg, err,
	    sizeof(err)), CONFIG_OK);
	SET(want, log_file, "");
	assert_config_equal(&want, &cfg);

	/* without a root, loopix_home_directory must come from the file */
	assert_int_equal(config_load_buffer("[client]\nid='x'\n", 16, "f", NULL,
	    &cfg, err, sizeof(err)), CONFIG_ERR_INVALID);
	assert_string_equal(err, "f:1: key 'loopix_home_directory': not set, "
	    "and no root directory is known");
	assert_int_equal(config_load_buffer("[client]\nid='x'\n", 16, "f",
	    "rel/dir", &cfg, err, sizeof(err)), CONFIG_ERR_INVALID);
	assert_string_equal(err, "f: the root directory must be an absolute "
	    "path");
}

static void
test_numbers(void **state)
{
	struct nymd_config cfg;
	char err[512];

	/* an integer is accepted where a float is expected */
	assert_int_equal(load_text("[client]\nid='a'\n[debug]\n"
	    "loop_cover_traffic_rate = 5\nfetch_message_rate = -1\n"
	    "message_sending_rate = 0\n[nymd]\naverage_delay_ms = 200\n",
	    &cfg, err, sizeof(err)), CONFIG_OK);
	assert_true(cfg.loop_cover_traffic_rate == 5.0);
	assert_true(cfg.fetch_message_rate == -1.0);
	/* 0 means "use the default" */
	assert_true(cfg.message_sending_rate == 10.0);
	assert_true(cfg.average_delay_ms == 200.0);

	assert_int_equal(load_text("[client]\nid='a'\n[debug]\n"
	    "fetch_message_rate = 0.0\nloop_cover_traffic_rate = -0.5\n"
	    "message_sending_rate = 1e5\n", &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_true(cfg.fetch_message_rate == 10.0);
	assert_true(cfg.loop_cover_traffic_rate == -0.5);
	assert_true(cfg.message_sending_rate == 100000.0);

	assert_int_equal(load_text("[client]\nid='a'\n[nymd]\n"
	    "topology_refresh_seconds = 1\nmax_restarts = 1000\n"
	    "restart_window_seconds = 86_400\n"
	    "duplicate_window_seconds = 31_622_400\n", &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_int_equal(cfg.topology_refresh_seconds, 1);
	assert_int_equal(cfg.max_restarts, 1000);
	assert_int_equal(cfg.restart_window_seconds, 86400);
	assert_int_equal(cfg.duplicate_window_seconds, 366 * 24 * 3600);
}

struct bad_config {
	const char	*text;
	int		 status;
	const char	*err;	/* the whole message, file "config.toml" */
};

#define INV	CONFIG_ERR_INVALID
#define PARSE	CONFIG_ERR_PARSE
#define CLIENT	"[client]\nid = \"alice\"\n"

static const struct bad_config bad_configs[] = {
	{ CLIENT "colour = \"blue\"\n", INV,
	    "config.toml:3: key 'colour': unknown key in [client]" },
	{ CLIENT "[logging]\nlevel = 'info'\nfiel = ''\n", INV,
	    "config.toml:5: key 'fiel': unknown key in [logging]" },
	{ CLIENT "\n[extra]\n", INV,
	    "config.toml:4: unknown table [extra]; nymd knows [client], "
	    "[logging], [debug] and [nymd]" },
	{ "[Client]\nid = 'a'\n", INV,
	    "config.toml:1: unknown table [Client]; nymd knows [client], "
	    "[logging], [debug] and [nymd]" },
	{ "id = 'alice'\n" CLIENT, INV,
	    "config.toml:1: key 'id': keys must be inside a table: [client], "
	    "[logging], [debug] or [nymd]" },
	{ CLIENT "[logging]\ndisable = \"false\"\n", INV,
	    "config.toml:4: key 'disable': expected a boolean (true or "
	    "false), got a string" },
	{ CLIENT "[logging]\ndisable = 0\n", INV,
	    "config.toml:4: key 'disable': expected a boolean (true or "
	    "false), got an integer" },
	{ CLIENT "[debug]\nfetch_message_rate = '10'\n", INV,
	    "config.toml:4: key 'fetch_message_rate': expected a number, got "
	    "a string" },
	{ CLIENT "[debug]\nrate_compliant_cover_messages_disabled = 1\n", INV,
	    "config.toml:4: key 'rate_compliant_cover_messages_disabled': "
	    "expected a boolean (true or false), got an integer" },
	{ CLIENT "[nymd]\nmax_restarts = 5.0\n", INV,
	    "config.toml:4: key 'max_restarts': expected an integer, got a "
	    "float" },
	{ "[client]\nid = 1\n", INV,
	    "config.toml:2: key 'id': expected a string, got an integer" },
	{ "[client]\nprovider_id = ''\n", INV,
	    "config.toml:1: key 'id': required key is missing from [client]" },
	{ "[logging]\nlevel = 'info'\n", INV,
	    "config.toml: table [client] is missing (it holds the required "
	    "key 'id')" },
	{ "", INV,
	    "config.toml: table [client] is missing (it holds the required "
	    "key 'id')" },
	{ "[client]\nid = ''\n", INV,
	    "config.toml:2: key 'id': must not be empty" },
	{ "[client]\nid = '../../etc'\n", INV,
	    "config.toml:2: key 'id': invalid id '../../etc': use 1 to 64 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-'" },
	{ CLIENT "[logging]\nlevel = 'verbose'\n", INV,
	    "config.toml:4: key 'level': expected one of trace, debug, info, "
	    "warning, error, panic, fatal; got 'verbose'" },
	{ CLIENT "[logging]\nlevel = \"\\u001b[2J\"\n", INV,
	    "config.toml:4: key 'level': control characters are not allowed "
	    "here" },
	{ CLIENT "[logging]\nlevel = ''\n", INV,
	    "config.toml:4: key 'level': expected one of trace, debug, info, "
	    "warning, error, panic, fatal; got ''" },
	{ CLIENT "directory_server_topology = 'ftp://x/y'\n", INV,
	    "config.toml:3: key 'directory_server_topology': 'ftp://x/y': "
	    "the scheme 'ftp' is not supported; use http:// or https://" },
	{ CLIENT "directory_server_topology = 'http:///x'\n", INV,
	    "config.toml:3: key 'directory_server_topology': 'http:///x': "
	    "the URL has no host" },
	{ CLIENT "provider_id = 'R_rGKmwel'\n", INV,
	    "config.toml:3: key 'provider_id': expected a provider id (44 "
	    "characters of URL-safe base64) or \"\"" },
	{ CLIENT "loopix_home_directory = 'relative/clients'\n", INV,
	    "config.toml:3: key 'loopix_home_directory': must be an absolute "
	    "path" },
	{ CLIENT "priv_key_file = \"a\\nb\"\n", INV,
	    "config.toml:3: key 'priv_key_file': control characters are not "
	    "allowed here" },
	{ CLIENT "[debug]\nloop_cover_traffic_rate = 100000.5\n", INV,
	    "config.toml:4: key 'loop_cover_traffic_rate': rate is too high "
	    "(at most 100000 per second; a negative rate disables the "
	    "stream)" },
	{ CLIENT "[nymd]\naverage_delay_ms = -5.0\n", INV,
	    "config.toml:4: key 'average_delay_ms': expected a mean delay in "
	    "milliseconds, from 0 to 3600000" },
	{ CLIENT "[nymd]\naverage_delay_ms = 3600001\n", INV,
	    "config.toml:4: key 'average_delay_ms': expected a mean delay in "
	    "milliseconds, from 0 to 3600000" },
	{ CLIENT "[nymd]\nmax_restarts = 0\n", INV,
	    "config.toml:4: key 'max_restarts': must be between 1 and 1000" },
	{ CLIENT "[nymd]\nrestart_window_seconds = -1\n", INV,
	    "config.toml:4: key 'restart_window_seconds': must be between 1 "
	    "and 86400" },
	{ CLIENT "[nymd]\nduplicate_window_seconds = 59\n", INV,
	    "config.toml:4: key 'duplicate_window_seconds': must be between 60 "
	    "and 31622400" },
	{ CLIENT "[nymd]\nmax_message_bytes = 2030\n", INV,
	    "config.toml:4: key 'max_message_bytes': must be between 2031 "
	    "and 13197312" },
	{ CLIENT "[nymd]\nmax_message_bytes = 13197313\n", INV,
	    "config.toml:4: key 'max_message_bytes': must be between 2031 "
	    "and 13197312" },
	{ CLIENT "[nymd]\nmessage_expiry_seconds = 9\n", INV,
	    "config.toml:4: key 'message_expiry_seconds': must be between 10 "
	    "and 2592000" },
	{ CLIENT "[nymd]\nmessage_expiry_seconds = 2592001\n", INV,
	    "config.toml:4: key 'message_expiry_seconds': must be between 10 "
	    "and 2592000" },
	{ CLIENT "[nymd]\nduplicate_window_seconds = 31622401\n", INV,
	    "config.toml:4: key 'duplicate_window_seconds': must be between 60 "
	    "and 31622400" },
	{ CLIENT "[nymd]\ntopology_refresh_seconds = 9223372036854775807\n",
	    INV, "config.toml:4: key 'topology_refresh_seconds': must be "
	    "between 1 and 86400" },
	{ CLIENT "[nymd]\nsocket_mode = 384\n", INV,
	    "config.toml:4: key 'socket_mode': expected a string holding an "
	    "octal mode such as \"0600\", got an integer" },
	{ CLIENT "[nymd]\nsocket_mode = 0600\n", PARSE,
	    "config.toml:4: key 'socket_mode': leading zeros are not allowed "
	    "in a number" },
	{ CLIENT "[nymd]\nsocket_mode = '0400'\n", INV,
	    "config.toml:4: key 'socket_mode': expected an octal mode between "
	    "\"0600\" and \"0777\" that lets the owner read and write, got "
	    "'0400'" },
	{ CLIENT "[nymd]\nsocket_mode = '0800'\n", INV,
	    "config.toml:4: key 'socket_mode': expected an octal mode between "
	    "\"0600\" and \"0777\" that lets the owner read and write, got "
	    "'0800'" },
	{ CLIENT "[nymd]\nsocket_mode = '4755'\n", INV,
	    "config.toml:4: key 'socket_mode': expected an octal mode between "
	    "\"0600\" and \"0777\" that lets the owner read and write, got "
	    "'4755'" },
	{ CLIENT "[nymd]\nlisten_address = 'localhost'\n", INV,
	    "config.toml:4: key 'listen_address': expected a numeric IPv4 or "
	    "IPv6 address, got 'localhost': 'localhost' is a host name, not an "
	    "IP address (e.g. 127.0.0.1 or ::1)" },
	{ CLIENT "[nymd]\ndirectory_proxy = '127.0.0.1:9050'\n", INV,
	    "config.toml:4: key 'directory_proxy': '127.0.0.1:9050': expected a "
	    "proxy URL: http://, https://, socks4://, socks4a://, socks5:// or "
	    "socks5h:// HOST:PORT" },
	{ CLIENT "[nymd]\ndirectory_proxy = 'socks5://127.0.0.1'\n", INV,
	    "config.toml:4: key 'directory_proxy': 'socks5://127.0.0.1': the "
	    "proxy's port is missing" },
	{ CLIENT "[nymd]\nlisten_address = '[::1]:80'\n", INV,
	    "config.toml:4: key 'listen_address': expected a numeric IPv4 or "
	    "IPv6 address, got '[::1]:80': '[::1]:80': expected an IP address "
	    "without the port" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'http://localhost null'\n",
	    INV, "config.toml:4: key 'websocket_allowed_origins': \"null\" "
	    "cannot be allowed: any web page can send that origin (a sandboxed "
	    "frame, a data: URL, a downloaded file)" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'file://'\n", INV,
	    "config.toml:4: key 'websocket_allowed_origins': an origin without "
	    "a host (such as file://) cannot be allowed: every local file would "
	    "share it" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'localhost'\n", INV,
	    "config.toml:4: key 'websocket_allowed_origins': expected origins "
	    "such as \"http://localhost\" or \"https://app.example:8443\", "
	    "separated by spaces" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'http://a.example/app'\n",
	    INV, "config.toml:4: key 'websocket_allowed_origins': an origin has "
	    "no path: write scheme://host or scheme://host:port" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'http://a:123456'\n", INV,
	    "config.toml:4: key 'websocket_allowed_origins': an origin's port "
	    "must be 1 to 5 digits" },
	{ CLIENT "[nymd]\nwebsocket_allowed_origins = 'http://[::1'\n", INV,
	    "config.toml:4: key 'websocket_allowed_origins': an IPv6 origin "
	    "host lacks its closing ']'" },
	{ CLIENT "[nymd]\nallow_other_users = 'yes'\n", INV,
	    "config.toml:4: key 'allow_other_users': expected a boolean (true "
	    "or false), got a string" },
	{ CLIENT "[nymd]\nuser = 'no body'\n", INV,
	    "config.toml:4: key 'user': expected a user name of 1 to 32 "
	    "letters, digits, '.', '_' or '-'" },
	{ CLIENT "[nymd]\nuser = ''\n", INV,
	    "config.toml:4: key 'user': expected a user name of 1 to 32 "
	    "letters, digits, '.', '_' or '-'" },
	{ CLIENT "[nymd]\nsocket_path = 'a/very/long/path/that/goes/on/and/on/"
	    "and/on/until/it/no/longer/fits/in/a/sockaddr_un.sock'\n", INV,
	    "config.toml:4: key 'socket_path': the socket's full path is "
	    "longer than 107 bytes, the limit for a unix socket; set a "
	    "shorter (absolute) socket_path" },
	{ CLIENT CLIENT, PARSE,
	    "config.toml:3: duplicate table [client] (first defined on line "
	    "1)" },
	{ CLIENT "id = 'bob'\n", PARSE,
	    "config.toml:3: key 'id': duplicate key (first defined on line "
	    "2)" },
	{ CLIENT "[logging]\nlevel = info\n", PARSE,
	    "config.toml:4: key 'level': invalid value 'info' (strings must "
	    "be quoted)" },
	{ CLIENT "[debug.rates]\n", PARSE,
	    "config.toml:3: dotted (nested) table names are not supported" },
};

static void
test_rejections(void **state)
{
	const struct bad_config *c;
	struct nymd_config cfg, before;
	char err[512];
	int rc;

	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]);
	    i++) {
		c = &bad_configs[i];
		memset(&cfg, 0x5a, sizeof(cfg));
		before = cfg;
		err[0] = '\0';
		rc = load_text(c->text, &cfg, err, sizeof(err));
		if (rc != c->status || strcmp(err, c->err) != 0)
			FAILF("case %zu: got %d '%s'\nwant %d '%s'", i, rc, err,
			    c->status, c->err);
		/* a failed load leaves the caller's config alone */
		assert_memory_equal(&cfg, &before, sizeof(cfg));
	}
}

static void
test_levels(void **state)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "trace", CONFIG_LOG_TRACE }, { "debug", CONFIG_LOG_DEBUG },
		{ "info", CONFIG_LOG_INFO }, { "warning", CONFIG_LOG_WARNING },
		{ "warn", CONFIG_LOG_WARNING }, { "WARN", CONFIG_LOG_WARNING },
		{ "Error", CONFIG_LOG_ERROR }, { "panic", CONFIG_LOG_PANIC },
		{ "FATAL", CONFIG_LOG_FATAL },
	};
	struct nymd_config cfg;
	char text[128], err[512];

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), CLIENT "[logging]\nlevel = '%s'\n",
		    levels[i].name);
		assert_int_equal(load_text(text, &cfg, err, sizeof(err)),
		    CONFIG_OK);
		assert_int_equal(cfg.log_level, levels[i].level);
	}
}

static void
test_load_file_errors(void **state)
{
	struct nymd_config cfg;
	char err[1024], want[1024];
	const char *path = tmp_path("bad.toml");

	/* the message names the real path and line */
	write_file(path, "# comment\n[client]\nid = \"alice\"\n\n[logging]\n"
	    "disable = \"yes\"\n");
	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_ERR_INVALID);
	snprintf(want, sizeof(want), "%s:6: key 'disable': expected a boolean "
	    "(true or false), got a string", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);

	/* a directory is not a config file */
	assert_int_equal(config_load(tmpdir, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);

	/* nor is anything larger than CONFIG_MAX_FILE_BYTES */
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, CONFIG_MAX_FILE_BYTES + 1), 0);
		close(fd);
		assert_int_equal(config_load(path, ROOT, &cfg, err,
		    sizeof(err)), CONFIG_ERR_IO);
		snprintf(want, sizeof(want), "%s: file is too large for a "
		    "configuration", path);
		assert_string_equal(err, want);
		unlink(path);
	}

	/* a NUL byte inside is a parse error with its line */
	{
		static const char nul[] = "[client]\nid = 'a'\0\n";
		assert_int_equal(config_load_buffer(nul, sizeof(nul) - 1, "n",
		    ROOT, &cfg, err, sizeof(err)), CONFIG_ERR_PARSE);
		assert_string_equal(err, "n:2: NUL byte in input");
	}
	/* a NULL or zero-size err buffer is fine */
	assert_int_equal(load_text("x", &cfg, NULL, 0), CONFIG_ERR_PARSE);
	assert_int_equal(load_text("[x]", &cfg, err, 0), CONFIG_ERR_INVALID);
}

static const char provider_file[] =
    "# my own comments stay\n"
    "[client]   # the client\n"
    "id = \"alice\"\n"
    "provider_id   =   \"\"   # chosen at first run\n"
    "\n"
    "[logging]\n"
    "level = 'debug'\n";

static void
test_set_provider(void **state)
{
	const char *path = tmp_path("p.toml");
	struct nymd_config cfg;
	char err[512], want[1024];
	struct stat st;

	write_file(path, provider_file);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(config_set_provider(path, PROVIDER_A), CONFIG_OK);
	snprintf(want, sizeof(want),
	    "# my own comments stay\n"
	    "[client]   # the client\n"
	    "id = \"alice\"\n"
	    "provider_id   =   \"%s\"   # chosen at first run\n"
	    "\n"
	    "[logging]\n"
	    "level = 'debug'\n", PROVIDER_A);
	assert_string_equal(read_whole(path), want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_string_equal(cfg.provider_id, PROVIDER_A);
	assert_int_equal(cfg.log_level, CONFIG_LOG_DEBUG);

	/* again, over a literal string, and back to empty */
	write_file(path, "[client]\nid='a'\nprovider_id='" PROVIDER_B "'\n");
	assert_int_equal(config_set_provider(path, PROVIDER_A), CONFIG_OK);
	assert_string_equal(read_whole(path),
	    "[client]\nid='a'\nprovider_id=\"" PROVIDER_A "\"\n");
	assert_int_equal(config_set_provider(path, ""), CONFIG_OK);
	assert_string_equal(read_whole(path),
	    "[client]\nid='a'\nprovider_id=\"\"\n");

	/* an invalid id is refused and the file is untouched */
	assert_int_equal(config_set_provider(path, "not-an-id"),
	    CONFIG_ERR_INVALID);
	assert_int_equal(config_set_provider(path, NULL), CONFIG_ERR_INVALID);
	assert_string_equal(read_whole(path),
	    "[client]\nid='a'\nprovider_id=\"\"\n");
	unlink(path);
}

static void
test_set_provider_adds_key(void **state)
{
	const char *path = tmp_path("q.toml");
	struct nymd_config cfg, want;
	char err[512], *text;
	size_t len;

	/* the key goes first in [client]; everything else stays */
	write_file(path, "# top\n[logging]\nlevel='info'\n[client] # c\r\n"
	    "id = \"bob\"\n");
	assert_int_equal(config_set_provider(path, PROVIDER_B), CONFIG_OK);
	assert_string_equal(read_whole(path), "# top\n[logging]\n"
	    "level='info'\n[client] # c\r\nprovider_id = \"" PROVIDER_B
	    "\"\nid = \"bob\"\n");
	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_OK);
	assert_string_equal(cfg.provider_id, PROVIDER_B);

	/* a header on the last line, without a newline */
	write_file(path, "[nymd]\n[client]");
	assert_int_equal(config_set_provider(path, PROVIDER_B), CONFIG_OK);
	assert_string_equal(read_whole(path), "[nymd]\n[client]\nprovider_id = \""
	    PROVIDER_B "\"\n");

	/* the file init writes: only the provider changes */
	assert_int_equal(config_defaults(&want, "alice", ROOT), CONFIG_OK);
	assert_int_equal(config_write(path, &want), CONFIG_OK);
	assert_int_equal(config_set_provider(path, PROVIDER_A), CONFIG_OK);
	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_OK);
	SET(want, provider_id, PROVIDER_A);
	assert_config_equal(&want, &cfg);
	assert_int_equal(config_format(&want, &text, &len), CONFIG_OK);
	assert_string_equal(read_whole(path), text);
	free(text);

	/* no [client], not TOML, a provider_id of the wrong type, no file */
	write_file(path, "[logging]\n");
	assert_int_equal(config_set_provider(path, PROVIDER_A),
	    CONFIG_ERR_INVALID);
	write_file(path, "[client\n");
	assert_int_equal(config_set_provider(path, PROVIDER_A),
	    CONFIG_ERR_PARSE);
	write_file(path, "[client]\nprovider_id = 1\n");
	assert_int_equal(config_set_provider(path, PROVIDER_A),
	    CONFIG_ERR_INVALID);
	assert_string_equal(read_whole(path), "[client]\nprovider_id = 1\n");
	unlink(path);
	assert_int_equal(config_set_provider(path, PROVIDER_A), CONFIG_ERR_IO);
	assert_int_equal(errno, ENOENT);
}

static void
test_write_errors(void **state)
{
	struct nymd_config cfg;
	char path[512], err[512];

	assert_int_equal(config_defaults(&cfg, "alice", ROOT), CONFIG_OK);
	assert_int_equal(config_check(&cfg, err, sizeof(err)), CONFIG_OK);
	snprintf(path, sizeof(path), "%s/no/such/dir/config.toml", tmpdir);
	assert_int_equal(config_write(path, &cfg), CONFIG_ERR_IO);
	assert_int_equal(errno, ENOENT);

	/* a config that would not load back is never written */
	snprintf(path, sizeof(path), "%s/invalid.toml", tmpdir);
	SET(cfg, directory_server_topology, "ftp://example.org/");
	assert_int_equal(config_check(&cfg, err, sizeof(err)),
	    CONFIG_ERR_INVALID);
	assert_string_equal(err, "<config>:13: key 'directory_server_topology': "
	    "'ftp://example.org/': the scheme 'ftp' is not supported; use "
	    "http:// or https://");
	errno = 0;
	assert_int_equal(config_write(path, &cfg), CONFIG_ERR_INVALID);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(config_defaults(&cfg, "alice", ROOT), CONFIG_OK);
	cfg.max_restarts = 0;
	assert_int_equal(config_write(path, &cfg), CONFIG_ERR_INVALID);
	assert_int_equal(config_defaults(&cfg, "alice", ROOT), CONFIG_OK);
	SET(cfg, pub_key_file, "bad\xff");
	cfg.pub_key_file[3] = (char)0xff;
	assert_int_equal(config_check(&cfg, err, sizeof(err)),
	    CONFIG_ERR_PARSE);
	assert_int_equal(config_write(path, &cfg), CONFIG_ERR_PARSE);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_fifo_does_not_hang(void **state)
{
	const char *path = tmp_path("fifo.toml");
	struct nymd_config cfg;
	char err[512];

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_load(path, ROOT, &cfg, err, sizeof(err)),
	    CONFIG_ERR_IO);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_round_trip_defaults),
		cmocka_unit_test(test_round_trip_everything),
		cmocka_unit_test(test_seed_file),
		cmocka_unit_test(test_minimal_and_empty_values),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test(test_set_provider),
		cmocka_unit_test(test_set_provider_adds_key),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_fifo_does_not_hang),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

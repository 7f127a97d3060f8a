/*
 * nymd's client configuration: maps a TOML document (toml.c) onto
 * struct nymd_config through one table of known keys, and writes the
 * commented file that `nymd init` creates.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/config.h"
#include "common/confkeys.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/metrics.h"
#include "common/strbuf.h"
#include "common/toml.h"

/* How much of a bad value an error message repeats. */
#define CONFIG_SHOWN_BYTES	40

enum config_kind {
	CK_ID,		/* string: the client id */
	CK_URL,		/* string: http(s) URL; "" = default */
	CK_PROXY,	/* string: proxy URL; "" = none */
	CK_PATH,	/* string: a path; "" = default */
	CK_HOMEDIR,	/* string: an absolute path; "" = default */
	CK_PROVIDER,	/* string: "" or a provider id */
	CK_LOGFILE,	/* string: a path; "" = stdout */
	CK_LEVEL,	/* string: a log level name */
	CK_USER,	/* string: a user name */
	CK_MODE,	/* string: octal permission bits */
	CK_ADDRESS,	/* string: numeric IPv4 or IPv6 address */
	CK_ORIGINS,	/* string: web origins a page may use the websocket from */
	CK_METRICS,	/* string: "" or a loopback ip:port */
	CK_BOOL,
	CK_RATE,	/* float: events per second */
	CK_DELAY,	/* float: milliseconds, > 0 */
	CK_UINT,	/* integer in [min, max] */
};

#define FIELD(f)	offsetof(struct nymd_config, f), \
			sizeof(((struct nymd_config *)0)->f)
#define KEYT(t, n, type, k, f, expects) \
	{ t, n, type, k, FIELD(f), 0, 0, 1, false, expects }
#define KEY(t, n, k)		KEYT(t, #n, CONFKEY_STRING, k, n, NULL)
#define KEYF(t, n, k, f)	KEYT(t, n, CONFKEY_STRING, k, f, NULL)
#define KEYB(t, n, f)		KEYT(t, n, CONFKEY_BOOL, CK_BOOL, f, NULL)
#define KEYN(t, n, k)		KEYT(t, #n, CONFKEY_NUMBER, k, n, NULL)
#define KEYU(t, n, lo, hi) \
	{ t, #n, CONFKEY_INT, CK_UINT, FIELD(n), lo, hi, 1, false, NULL }

static const struct confkey config_keys[] = {
	KEY("client", id, CK_ID),
	KEY("client", directory_server_topology, CK_URL),
	KEY("client", priv_key_file, CK_PATH),
	KEY("client", pub_key_file, CK_PATH),
	KEY("client", provider_id, CK_PROVIDER),
	KEY("client", mixapps_directory, CK_PATH),
	KEY("client", loopix_home_directory, CK_HOMEDIR),
	KEYB("logging", "disable", log_disable),
	KEYF("logging", "file", CK_LOGFILE, log_file),
	KEYF("logging", "level", CK_LEVEL, log_level),
	KEYN("debug", loop_cover_traffic_rate, CK_RATE),
	KEYN("debug", fetch_message_rate, CK_RATE),
	KEYN("debug", message_sending_rate, CK_RATE),
	KEYB("debug", "rate_compliant_cover_messages_disabled",
	    rate_compliant_cover_messages_disabled),
	KEY("nymd", user, CK_USER),
	KEY("nymd", socket_path, CK_PATH),
	KEYT("nymd", "socket_mode", CONFKEY_STRING, CK_MODE, socket_mode,
	    "a string holding an octal mode such as \"0600\""),
	KEY("nymd", listen_address, CK_ADDRESS),
	KEY("nymd", directory_proxy, CK_PROXY),
	KEY("nymd", websocket_allowed_origins, CK_ORIGINS),
	KEYB("nymd", "allow_other_users", allow_other_users),
	KEYN("nymd", average_delay_ms, CK_DELAY),
	KEYU("nymd", topology_refresh_seconds, 1, 86400),
	KEYU("nymd", max_restarts, 1, 1000),
	KEYU("nymd", restart_window_seconds, 1, 86400),
	KEYU("nymd", duplicate_window_seconds, 60, CONFIG_MAX_DUPLICATE_WINDOW_SECONDS),
	KEY("nymd", metrics_listen, CK_METRICS),
	KEYU("nymd", reply_surb_lifetime_seconds, 0, CONFIG_MAX_REPLY_SURB_LIFETIME_SECONDS),
	KEYU("nymd", max_message_bytes, CONFIG_MIN_MAX_MESSAGE_BYTES,
	    CONFIG_MAX_MAX_MESSAGE_BYTES),
	KEYU("nymd", message_expiry_seconds, CONFIG_MIN_MESSAGE_EXPIRY_SECONDS,
	    CONFIG_MAX_MESSAGE_EXPIRY_SECONDS),
};
#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_level_names[] = {
	"trace", "debug", "info", "warning", "error", "panic", "fatal",
};

const char *
config_log_level_name(enum config_log_level level)
{
	if ((size_t)level >= sizeof(config_level_names) /
	    sizeof(config_level_names[0]))
		return "unknown";
	return config_level_names[level];
}

int
config_log_level_parse(const char *name, enum config_log_level *out)
{
	for (size_t i = 0; i < sizeof(config_level_names) /
	    sizeof(config_level_names[0]); i++) {
		if (strcasecmp(name, config_level_names[i]) == 0) {
			*out = (enum config_log_level)i;
			return CONFIG_OK;
		}
	}
	/* logrus, which read the seed's files, also knows "warn" */
	if (strcasecmp(name, "warn") == 0) {
		*out = CONFIG_LOG_WARNING;
		return CONFIG_OK;
	}
	return CONFIG_ERR_INVALID;
}

bool
config_id_valid(const char *id)
{
	/* The id names a directory: no '/', no "..", no option lookalike. */
	return fs_name_portable(id, CONFIG_ID_BYTES - 1, 0);
}

static bool
is_b64url_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool
config_provider_id_valid(const char *provider_id)
{
	if (strlen(provider_id) != CONFIG_PROVIDER_ID_BYTES - 1)
		return false;
	for (size_t i = 0; i < CONFIG_PROVIDER_ID_BYTES - 2; i++)
		if (!is_b64url_char(provider_id[i]))
			return false;
	return provider_id[CONFIG_PROVIDER_ID_BYTES - 2] == '=';
}

static bool
user_valid(const char *user)
{
	return fs_name_portable(user, CONFIG_USER_BYTES - 1, 1);
}

/* "0600", "600", "0750": permission bits only, owner may read and write. */
static int
mode_parse(const char *s, unsigned int *out)
{
	unsigned int mode = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 4)
		return CONFIG_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return CONFIG_ERR_INVALID;
		mode = mode * 8 + (unsigned int)(s[i] - '0');
	}
	if (mode > 0777 || (mode & 0600) != 0600)
		return CONFIG_ERR_INVALID;
	*out = mode;
	return CONFIG_OK;
}

/* A printable excerpt of an untrusted string for an error message. */
static const char *
config_show(const char *s, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	return buf;
}

static int
set_string(char *field, size_t size, const char *value)
{
	size_t n = strlen(value);

	if (n >= size)
		return CONFIG_ERR_INVALID;
	/* zero the rest too, so that equal configs compare equal bytewise */
	memset(field, 0, size);
	memcpy(field, value, n);
	return CONFIG_OK;
}

/* The path helpers return 0 or -1 (too long, or an invalid id). */
static int
join_path(const char *dir, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(dir);
	int len;

	if (n > 0 && dir[n - 1] == '/')
		len = snprintf(out, outlen, "%s%s", dir, name);
	else
		len = snprintf(out, outlen, "%s/%s", dir, name);
	if (len < 0 || (size_t)len >= outlen)
		return -1;
	return 0;
}

int
config_file_path(const char *root, const char *id, char *out, size_t outlen)
{
	char clients[CONFIG_PATH_BYTES];
	int len;

	if (!config_id_valid(id) ||
	    join_path(root, "clients", clients, sizeof(clients)) != 0)
		return -1;
	len = snprintf(out, outlen, "%s/%s/config/config.toml", clients, id);
	if (len < 0 || (size_t)len >= outlen)
		return -1;
	return 0;
}

int
config_client_home(const struct nymd_config *cfg, char *out, size_t outlen)
{
	return join_path(cfg->loopix_home_directory, cfg->id, out, outlen);
}

int
config_resolve_path(const struct nymd_config *cfg, const char *path,
    char *out, size_t outlen)
{
	char home[CONFIG_PATH_BYTES];
	int len;

	if (path[0] == '/') {
		len = snprintf(out, outlen, "%s", path);
		if (len < 0 || (size_t)len >= outlen)
			return -1;
		return 0;
	}
	if (config_client_home(cfg, home, sizeof(home)) != 0)
		return -1;
	return join_path(home, path, out, outlen);
}

/* Everything but the id and the log file, which depend on the id. */
static int
defaults_fill(struct nymd_config *cfg, const char *root)
{
	memset(cfg, 0, sizeof(*cfg));
	if (root != NULL && root[0] != '\0') {
		if (root[0] != '/' || join_path(root, "clients",
		    cfg->loopix_home_directory,
		    sizeof(cfg->loopix_home_directory)) != 0)
			return CONFIG_ERR_INVALID;
	}
	set_string(cfg->directory_server_topology,
	    sizeof(cfg->directory_server_topology),
	    CONFIG_DEFAULT_TOPOLOGY_URL);
	set_string(cfg->priv_key_file, sizeof(cfg->priv_key_file),
	    CONFIG_DEFAULT_PRIV_KEY_FILE);
	set_string(cfg->pub_key_file, sizeof(cfg->pub_key_file),
	    CONFIG_DEFAULT_PUB_KEY_FILE);
	set_string(cfg->mixapps_directory, sizeof(cfg->mixapps_directory),
	    CONFIG_DEFAULT_MIXAPPS_DIR);
	cfg->log_disable = false;
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->loop_cover_traffic_rate = CONFIG_DEFAULT_RATE_PER_SECOND;
	cfg->fetch_message_rate = CONFIG_DEFAULT_RATE_PER_SECOND;
	cfg->message_sending_rate = CONFIG_DEFAULT_RATE_PER_SECOND;
	cfg->rate_compliant_cover_messages_disabled = false;
	set_string(cfg->user, sizeof(cfg->user), CONFIG_DEFAULT_USER);
	set_string(cfg->socket_path, sizeof(cfg->socket_path),
	    CONFIG_DEFAULT_SOCKET_PATH);
	cfg->socket_mode = CONFIG_DEFAULT_SOCKET_MODE;
	set_string(cfg->listen_address, sizeof(cfg->listen_address),
	    CONFIG_DEFAULT_LISTEN_ADDRESS);
	set_string(cfg->websocket_allowed_origins,
	    sizeof(cfg->websocket_allowed_origins),
	    CONFIG_DEFAULT_WEBSOCKET_ORIGINS);
	cfg->allow_other_users = false;
	cfg->average_delay_ms = CONFIG_DEFAULT_DELAY_MS;
	cfg->topology_refresh_seconds = CONFIG_DEFAULT_TOPOLOGY_REFRESH_SECONDS;
	cfg->max_restarts = CONFIG_DEFAULT_MAX_RESTARTS;
	cfg->restart_window_seconds = CONFIG_DEFAULT_RESTART_WINDOW_SECONDS;
	cfg->duplicate_window_seconds = CONFIG_DEFAULT_DUPLICATE_WINDOW_SECONDS;
	cfg->reply_surb_lifetime_seconds = 0;
	cfg->max_message_bytes = CONFIG_DEFAULT_MAX_MESSAGE_BYTES;
	cfg->message_expiry_seconds = CONFIG_DEFAULT_MESSAGE_EXPIRY_SECONDS;
	return CONFIG_OK;
}

static int
default_log_file(struct nymd_config *cfg)
{
	int len;

	len = snprintf(cfg->log_file, sizeof(cfg->log_file),
	    "/tmp/loopix_%s.log", cfg->id);
	if (len < 0 || (size_t)len >= sizeof(cfg->log_file))
		return CONFIG_ERR_INVALID;
	return CONFIG_OK;
}

int
config_defaults(struct nymd_config *cfg, const char *id, const char *root)
{
	struct nymd_config tmp;

	if (id == NULL || root == NULL || root[0] != '/' ||
	    !config_id_valid(id))
		return CONFIG_ERR_INVALID;
	if (defaults_fill(&tmp, root) != CONFIG_OK ||
	    set_string(tmp.id, sizeof(tmp.id), id) != CONFIG_OK ||
	    default_log_file(&tmp) != CONFIG_OK)
		return CONFIG_ERR_INVALID;
	*cfg = tmp;
	return CONFIG_OK;
}

static int
apply_string(const struct confkeys_ctx *ctx, const struct confkey *ck,
    const struct toml_kv *kv)
{
	struct nymd_config *cfg = ctx->obj;
	char *field = (char *)cfg + ck->offset;
	const char *v = kv->u.s;
	char shown[CONFIG_SHOWN_BYTES];
	enum config_log_level level;
	unsigned int mode;

	switch (ck->kind) {
	case CK_ID:
		if (v[0] == '\0')
			return confkeys_fail(ctx, kv, "must not be empty");
		if (!config_id_valid(v))
			return confkeys_fail(ctx, kv, "invalid id '%s': use 1 to "
			    "64 letters, digits, '.', '_' or '-', not starting "
			    "with '.' or '-'", config_show(v, shown,
			    sizeof(shown)));
		break;
	case CK_URL: {
		/* Control characters are refused above: the URL may be shown. */
		char why[160];
		if (v[0] != '\0' && strlen(v) >= ck->size)
			break;	/* "too long", below */
		if (v[0] != '\0' && addr_check_url(v, why, sizeof(why)) == -1)
			return confkeys_fail(ctx, kv, "%s", why);
		break;
	}
	case CK_PROXY: {
		char why[160];
		if (v[0] != '\0' && http_proxy_check(v, why, sizeof(why)) == -1)
			return confkeys_fail(ctx, kv, "%s", why);
		break;
	}
	case CK_HOMEDIR:
		if (v[0] != '\0' && v[0] != '/')
			return confkeys_fail(ctx, kv,
			    "must be an absolute path");
		break;
	case CK_PROVIDER:
		if (v[0] != '\0' && !config_provider_id_valid(v))
			return confkeys_fail(ctx, kv, "expected a provider id (44 "
			    "characters of URL-safe base64) or \"\"");
		break;
	case CK_LEVEL:
		if (config_log_level_parse(v, &level) != CONFIG_OK)
			return confkeys_fail(ctx, kv, "expected one of trace, "
			    "debug, info, warning, error, panic, fatal; got "
			    "'%s'", config_show(v, shown, sizeof(shown)));
		cfg->log_level = level;
		return CONFIG_OK;
	case CK_USER:
		if (!user_valid(v))
			return confkeys_fail(ctx, kv, "expected a user name of 1 "
			    "to 32 letters, digits, '.', '_' or '-'");
		break;
	case CK_MODE:
		if (mode_parse(v, &mode) != CONFIG_OK)
			return confkeys_fail(ctx, kv, "expected an octal mode "
			    "between \"0600\" and \"0777\" that lets the owner "
			    "read and write, got '%s'",
			    config_show(v, shown, sizeof(shown)));
		cfg->socket_mode = mode;
		return CONFIG_OK;
	case CK_ADDRESS: {
		/* The one parser of IP literals (common/addr.c); the value
		 * kept is its bare form, which the listeners bind. */
		char ip[ADDR_IP_BYTES], why[CONFIG_SHOWN_BYTES + 128];
		if (strlen(v) >= CONFIG_SHOWN_BYTES ||
		    addr_parse_ip(v, ip, sizeof(ip), why, sizeof(why)) == -1)
			return confkeys_fail(ctx, kv, "expected a numeric IPv4 or "
			    "IPv6 address, got '%s'%s%s",
			    config_show(v, shown, sizeof(shown)),
			    strlen(v) < CONFIG_SHOWN_BYTES ? ": " : "",
			    strlen(v) < CONFIG_SHOWN_BYTES ? why : "");
		if (set_string(field, ck->size, ip) != CONFIG_OK)
			return confkeys_fail(ctx, kv, "value is too long");
		return CONFIG_OK;
	}
	case CK_METRICS:
		if (v[0] != '\0' && !metrics_listen_valid(v))
			return confkeys_fail(ctx, kv, "expected \"\" or a loopback "
			    "\"127.0.0.1:PORT\" or \"[::1]:PORT\" (the metrics are "
			    "for this host only), got '%s'",
			    config_show(v, shown, sizeof(shown)));
		if (set_string(field, ck->size, v) != CONFIG_OK)
			return confkeys_fail(ctx, kv, "value is too long");
		return CONFIG_OK;
	case CK_ORIGINS: {
		const char *why = config_origins_check(v);
		if (why != NULL)
			return confkeys_fail(ctx, kv, "%s", why);
		break;
	}
	default:
		break;
	}
	/* As in the seed, an empty path or URL stands for the default. */
	if (v[0] == '\0' && (ck->kind == CK_URL || ck->kind == CK_PATH ||
	    ck->kind == CK_HOMEDIR))
		return CONFIG_OK;
	if (set_string(field, ck->size, v) != CONFIG_OK)
		return confkeys_fail(ctx, kv, "value is too long (at most %zu "
		    "bytes)", ck->size - 1);
	return CONFIG_OK;
}

static int
apply_number(const struct confkeys_ctx *ctx, const struct confkey *ck,
    const struct toml_kv *kv)
{
	void *field = (char *)ctx->obj + ck->offset;
	double v;

	v = kv->type == TOML_INTEGER ? (double)kv->u.i : kv->u.f;
	if (ck->kind == CK_DELAY) {
		/* 0 sends without mixing delays: for measurements only. */
		if (!(v >= 0 && v <= CONFIG_MAX_DELAY_MS))
			return confkeys_fail(ctx, kv, "expected a mean delay in "
			    "milliseconds, from 0 to %.0f", CONFIG_MAX_DELAY_MS);
		*(double *)field = v;
		return CONFIG_OK;
	}
	if (v > CONFIG_MAX_RATE_PER_SECOND)
		return confkeys_fail(ctx, kv, "rate is too high (at most %.0f "
		    "per second; a negative rate disables the stream)",
		    CONFIG_MAX_RATE_PER_SECOND);
	/* The seed's rule: 0 means "use the default". */
	*(double *)field = v == 0 ? CONFIG_DEFAULT_RATE_PER_SECOND : v;
	return CONFIG_OK;
}

/* A string or a number, checked for type by confkeys_apply(). */
static int
config_set(const struct confkeys_ctx *ctx, const struct confkey *ck,
    const struct toml_kv *kv)
{
	if (ck->type == CONFKEY_NUMBER)
		return apply_number(ctx, ck, kv);
	return apply_string(ctx, ck, kv);
}

static void
config_fail(void *arg, unsigned long line, const char *key, const char *msg)
{
	toml_error_set(arg, line, key, "%s", msg);
}

static const struct confkeys config_schema = {
	.keys = config_keys,
	.nkeys = CONFIG_NKEYS,
	.root_msg = "keys must be inside a table: [client], [logging], "
	    "[debug] or [nymd]",
	.unknown_table_hint = "; nymd knows [client], [logging], [debug] and "
	    "[nymd]",
	.range_from = "between",
	.range_to = "and",
	.control_msg = "control characters are not allowed here",
	.set = config_set,
	.fail = config_fail,
};

static size_t
key_index(const char *table, const char *name)
{
	const struct confkeys_ctx ctx = { .schema = &config_schema, .role = 1 };
	long i = confkeys_index(&ctx, table, name);

	return i < 0 ? 0 : (size_t)i;
}

/* Checks that need the whole file: required keys and derived paths. */
static int
config_finish(const struct toml_doc *doc, const unsigned long *lines,
    struct nymd_config *cfg, struct toml_error *err)
{
	const struct toml_table *client;
	char path[2 * CONFIG_PATH_BYTES];
	size_t k;

	if ((client = toml_find_table(doc, "client")) == NULL) {
		toml_error_set(err, 0, NULL, "table [client] is missing (it "
		    "holds the required key 'id')");
		return CONFIG_ERR_INVALID;
	}
	if (lines[key_index("client", "id")] == 0) {
		toml_error_set(err, client->line, "id",
		    "required key is missing from [client]");
		return CONFIG_ERR_INVALID;
	}
	if (lines[key_index("logging", "file")] == 0 &&
	    default_log_file(cfg) != CONFIG_OK) {
		toml_error_set(err, 0, "file", "default log file path is too "
		    "long");
		return CONFIG_ERR_INVALID;
	}
	k = key_index("client", "loopix_home_directory");
	if (cfg->loopix_home_directory[0] == '\0') {
		toml_error_set(err, lines[k] ? lines[k] : client->line,
		    "loopix_home_directory",
		    "not set, and no root directory is known");
		return CONFIG_ERR_INVALID;
	}
	if (config_client_home(cfg, path, CONFIG_PATH_BYTES) != 0) {
		toml_error_set(err, lines[k], "loopix_home_directory",
		    "the client's home directory path is too long");
		return CONFIG_ERR_INVALID;
	}
	k = key_index("nymd", "socket_path");
	if (config_resolve_path(cfg, cfg->socket_path, path,
	    sizeof(path)) != 0 ||
	    strlen(path) >= CONFIG_UNIX_PATH_BYTES) {
		toml_error_set(err, lines[k], "socket_path", "the socket's "
		    "full path is longer than %d bytes, the limit for a unix "
		    "socket; set a shorter (absolute) socket_path",
		    CONFIG_UNIX_PATH_BYTES - 1);
		return CONFIG_ERR_INVALID;
	}
	return CONFIG_OK;
}

static int
config_apply(const struct toml_doc *doc, const char *root,
    struct nymd_config *cfg, struct toml_error *err)
{
	unsigned long lines[CONFIG_NKEYS];
	const struct confkeys_ctx ctx = {
		.schema = &config_schema, .role = 1, .obj = cfg,
		.lines = lines, .fail_arg = err,
	};

	if (defaults_fill(cfg, root) != CONFIG_OK) {
		toml_error_set(err, 0, NULL, "the root directory must be an "
		    "absolute path");
		return CONFIG_ERR_INVALID;
	}
	if (confkeys_apply(&ctx, doc) == -1)
		return CONFIG_ERR_INVALID;
	return config_finish(doc, lines, cfg, err);
}

int
config_load_buffer(const char *buf, size_t len, const char *name,
    const char *root, struct nymd_config *cfg, char *err, size_t errlen)
{
	struct nymd_config tmp;
	struct toml_error terr;
	struct toml_doc *doc;
	int rc;

	memset(&terr, 0, sizeof(terr));
	if ((rc = toml_parse(buf, len, &doc, &terr)) != TOML_OK) {
		if (err != NULL && errlen > 0)
			toml_error_format(&terr, name, err, errlen);
		return rc == TOML_ERR_NOMEM ? CONFIG_ERR_NOMEM :
		    CONFIG_ERR_PARSE;
	}
	rc = config_apply(doc, root, &tmp, &terr);
	toml_free(doc);
	if (rc != CONFIG_OK) {
		if (err != NULL && errlen > 0)
			toml_error_format(&terr, name, err, errlen);
		return rc;
	}
	*cfg = tmp;
	return CONFIG_OK;
}

/* A config file's text, or a CONFIG_ERR_* with errno. */
static int
read_file(const char *path, char **bufp, size_t *lenp, mode_t *modep)
{
	if (fs_read_file(path, CONFIG_MAX_FILE_BYTES, bufp, lenp, modep) == -1)
		return errno == ENOMEM ? CONFIG_ERR_NOMEM : CONFIG_ERR_IO;
	return CONFIG_OK;
}

int
config_load(const char *path, const char *root, struct nymd_config *cfg,
    char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if ((rc = read_file(path, &buf, &len, NULL)) != CONFIG_OK) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path,
			    rc == CONFIG_ERR_NOMEM ? "out of memory" :
			    errno == EFBIG ? "file is too large for a "
			    "configuration" : strerror(errno));
		return rc;
	}
	rc = config_load_buffer(buf, len, path, root, cfg, err, errlen);
	free(buf);
	return rc;
}

static void
format_client(struct strbuf *sb, const struct nymd_config *cfg)
{
	strbuf_printf(sb, "[client]\n\n"
	    "# Human-readable id of this client; it names the client's home\n"
	    "# directory, loopix_home_directory/ID. Required.\n");
	strbuf_toml_string(sb, "id", cfg->id);
	strbuf_printf(sb, "\n# URL of the directory server's topology endpoint.\n");
	strbuf_toml_string(sb, "directory_server_topology",
	    cfg->directory_server_topology);
	strbuf_printf(sb, "\n# The client's private key (PEM, mode 0600). A relative "
	    "path is\n# relative to the client's home directory.\n");
	strbuf_toml_string(sb, "priv_key_file", cfg->priv_key_file);
	strbuf_printf(sb, "\n# The client's public key (PEM); relative as above.\n");
	strbuf_toml_string(sb, "pub_key_file", cfg->pub_key_file);
	strbuf_printf(sb, "\n# Id (public key) of the provider that stores this "
	    "client's messages.\n# Empty: nymd picks one from the topology "
	    "at first run and records it\n# here.\n");
	strbuf_toml_string(sb, "provider_id", cfg->provider_id);
	strbuf_printf(sb, "\n# Directory where mix applications (a chat client, "
	    "...) keep their\n# data; relative as above.\n");
	strbuf_toml_string(sb, "mixapps_directory", cfg->mixapps_directory);
	strbuf_printf(sb, "\n# Absolute path of the directory that holds every "
	    "client's home\n# (ROOT/clients).\n");
	strbuf_toml_string(sb, "loopix_home_directory", cfg->loopix_home_directory);
}

static void
format_logging(struct strbuf *sb, const struct nymd_config *cfg)
{
	strbuf_printf(sb, "\n[logging]\n\n"
	    "# true turns logging off entirely.\n"
	    "disable = %s\n", cfg->log_disable ? "true" : "false");
	strbuf_printf(sb, "\n# The log file. Empty: standard output (the journal "
	    "under systemd).\n");
	strbuf_toml_string(sb, "file", cfg->log_file);
	strbuf_printf(sb, "\n# Least severe level logged: trace, debug, info, "
	    "warning, error,\n# panic or fatal. trace and debug reveal too "
	    "much for everyday use.\n");
	strbuf_toml_string(sb, "level", config_log_level_name(cfg->log_level));
}

static void
format_debug(struct strbuf *sb, const struct nymd_config *cfg)
{
	strbuf_printf(sb, "\n[debug]\n\n"
	    "# Rates are in events per second: each stream draws the time "
	    "to its\n# next event from an exponential distribution with "
	    "this rate.\n# A negative rate disables the stream; 0 means the "
	    "default, 10.\n\n"
	    "# Loop cover packets: sent through the mixnet back to this "
	    "client.\n");
	strbuf_toml_float(sb, "loop_cover_traffic_rate", cfg->loop_cover_traffic_rate);
	strbuf_printf(sb, "\n# Fetches of received messages from the provider.\n");
	strbuf_toml_float(sb, "fetch_message_rate", cfg->fetch_message_rate);
	strbuf_printf(sb, "\n# Packets sent to the provider: a real message when "
	    "one is queued,\n# a drop cover packet otherwise, so that the "
	    "rate does not show when\n# the client is talking.\n");
	strbuf_toml_float(sb, "message_sending_rate", cfg->message_sending_rate);
	strbuf_printf(sb, "\n# true: send nothing instead of cover when no real "
	    "message is queued.\n# The sending rate then shows when the "
	    "client talks: less anonymity.\n"
	    "rate_compliant_cover_messages_disabled = %s\n",
	    cfg->rate_compliant_cover_messages_disabled ? "true" : "false");
}

/* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static size_t
origin_scheme_len(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
		return 0;
	while (i < n && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
	    (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '-' || p[i] == '.'))
		i++;
	return i;
}

/* One entry: scheme "://" host [":" port], host a name, an IPv4 address
 * or a bracketed IPv6 address; no path. */
static const char *
origin_entry_check(const char *p, size_t n)
{
	size_t i = origin_scheme_len(p, n), h;

	if (n == 4 && strncasecmp(p, "null", 4) == 0)
		return "\"null\" cannot be allowed: any web page can send that "
		    "origin (a sandboxed frame, a data: URL, a downloaded file)";
	if (i == 0 || n - i < 3 || memcmp(p + i, "://", 3) != 0)
		return "expected origins such as \"http://localhost\" or "
		    "\"https://app.example:8443\", separated by spaces";
	i += 3;
	h = i;
	if (i < n && p[i] == '[') {
		while (i < n && p[i] != ']')
			i++;
		if (i == n)
			return "an IPv6 origin host lacks its closing ']'";
		i++;
	} else {
		while (i < n && p[i] != ':' && p[i] != '/')
			i++;
	}
	if (i == h)
		return "an origin without a host (such as file://) cannot be "
		    "allowed: every local file would share it";
	if (i < n && p[i] == ':') {
		size_t digits = 0;
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 5)
			return "an origin's port must be 1 to 5 digits";
	}
	if (i != n)
		return "an origin has no path: write scheme://host or "
		    "scheme://host:port";
	return NULL;
}

const char *
config_origins_check(const char *list)
{
	const char *p = list, *why;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return NULL;
		size_t n = strcspn(p, " \t,");
		if ((why = origin_entry_check(p, n)) != NULL)
			return why;
		p += n;
	}
}

static void
format_nymd(struct strbuf *sb, const struct nymd_config *cfg)
{
	char mode[8];

	snprintf(mode, sizeof(mode), "%04o", cfg->socket_mode & 0777);
	strbuf_printf(sb, "\n[nymd]\n\n"
	    "# User the daemon switches to when started as root.\n");
	strbuf_toml_string(sb, "user", cfg->user);
	strbuf_printf(sb, "\n# Unix socket that `nymd run` serves for nymctl and "
	    "libnym; relative\n# to the client's home directory.\n");
	strbuf_toml_string(sb, "socket_path", cfg->socket_path);
	strbuf_printf(sb, "\n# Permissions of that socket, in octal.\n");
	strbuf_toml_string(sb, "socket_mode", mode);
	strbuf_printf(sb, "\n# Address the tcp and websocket listeners bind to. "
	    "Whatever it is, only\n# connections from a loopback address, made "
	    "by this user (or root), are\n# served: the socket API has no "
	    "authentication.\n");
	strbuf_toml_string(sb, "listen_address", cfg->listen_address);
	strbuf_printf(sb, "\n# Proxy for the directory requests (e.g. \"socks5h://127.0.0.1:9050\"),\n"
	    "# or \"\" for none. The environment's http_proxy, HTTPS_PROXY, all_proxy\n"
	    "# and their kin are never used: a proxy sees which directory this\n"
	    "# client asks and when. See nymd.conf(5).\n");
	strbuf_toml_string(sb, "directory_proxy", cfg->directory_proxy);
	strbuf_printf(sb, "\n# Web pages that may use the websocket, by origin "
	    "(\"scheme://host\" for\n# any port, or \"scheme://host:port\"), "
	    "separated by spaces. Other pages,\n# file:// and \"null\" among "
	    "them, are refused; programs that send no\n# Origin are served.\n");
	strbuf_toml_string(sb, "websocket_allowed_origins",
	    cfg->websocket_allowed_origins);
	strbuf_printf(sb, "\n# true serves local peers of every user, not only "
	    "this one. Unsafe: any\n# local user could then read, delete and "
	    "send this client's messages.\n"
	    "allow_other_users = %s\n", cfg->allow_other_users ? "true" : "false");
	strbuf_printf(sb, "\n# Mean delay a packet spends in each mix, in "
	    "milliseconds.\n");
	strbuf_toml_float(sb, "average_delay_ms", cfg->average_delay_ms);
	strbuf_printf(sb, "\n# Seconds between fetches of the network topology.\n"
	    "topology_refresh_seconds = %u\n", cfg->topology_refresh_seconds);
	strbuf_printf(sb, "\n# A child process that dies is restarted; more than "
	    "max_restarts deaths\n# within restart_window_seconds stop "
	    "nymd.\n"
	    "max_restarts = %u\n"
	    "restart_window_seconds = %u\n",
	    cfg->max_restarts, cfg->restart_window_seconds);
	strbuf_printf(sb, "\n# Seconds a received message's id is remembered, so "
	    "that a copy the\n# provider delivers again is not shown twice "
	    "(604800: 7 days).\n"
	    "duplicate_window_seconds = %u\n", cfg->duplicate_window_seconds);
	strbuf_printf(sb, "\n# Seconds the keys of our reply blocks are kept at "
	    "most (docs/replies.md);\n# 0: until the nodes drop the keys of "
	    "the blocks' epoch.\n"
	    "reply_surb_lifetime_seconds = %u\n", cfg->reply_surb_lifetime_seconds);
	strbuf_printf(sb, "\n# The largest message a send takes, in bytes (2031 to "
	    "13197312); one over\n# 1615 bytes travels as fragments of 1611 "
	    "bytes, one per packet.\n"
	    "max_message_bytes = %u\n", cfg->max_message_bytes);
	strbuf_printf(sb, "\n# Seconds a message sent is tried (its packets sent "
	    "again until each\n# is acknowledged) before it fails (10 to 2592000; "
	    "86400: a day).\n"
	    "message_expiry_seconds = %u\n", cfg->message_expiry_seconds);
}

int
config_format(const struct nymd_config *cfg, char **outp, size_t *lenp)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_printf(&sb, "# nymd client configuration, written by `nymd init`.\n"
	    "# TOML; nymd.conf(5) describes every key. nymd refuses to "
	    "start on an\n# unknown table or key, a value of the wrong "
	    "type or out of range,\n# and names the line at fault.\n\n");
	format_client(&sb, cfg);
	format_logging(&sb, cfg);
	format_debug(&sb, cfg);
	format_nymd(&sb, cfg);
	if (sb.failed) {
		free(sb.buf);
		return CONFIG_ERR_NOMEM;
	}
	*outp = sb.buf;
	if (lenp != NULL)
		*lenp = sb.len;
	return CONFIG_OK;
}

static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	if (fs_write_atomic(path, data, len, mode) == -1)
		return errno == ENOMEM ? CONFIG_ERR_NOMEM : CONFIG_ERR_IO;
	return CONFIG_OK;
}

int
config_check(const struct nymd_config *cfg, char *err, size_t errlen)
{
	struct nymd_config back;
	char *text;
	size_t len;
	int rc;

	if ((rc = config_format(cfg, &text, &len)) != CONFIG_OK) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return rc;
	}
	rc = config_load_buffer(text, len, "<config>", NULL, &back, err,
	    errlen);
	free(text);
	return rc;
}

int
config_write(const char *path, const struct nymd_config *cfg)
{
	char *text;
	size_t len;
	int rc;

	/* Never write a file that config_load() would refuse. */
	if ((rc = config_check(cfg, NULL, 0)) != CONFIG_OK) {
		errno = rc == CONFIG_ERR_NOMEM ? ENOMEM : EINVAL;
		return rc;
	}
	if ((rc = config_format(cfg, &text, &len)) != CONFIG_OK)
		return rc;
	rc = write_atomic(path, text, len, 0644);
	free(text);
	return rc;
}

/* The file with [offset, offset + removed) replaced by insert. */
static char *
text_splice(const char *buf, size_t len, size_t offset, size_t removed,
    const char *insert, size_t *outlenp)
{
	size_t ilen = strlen(insert), outlen = len - removed + ilen;
	char *out;

	if ((out = malloc(outlen + 1)) == NULL)
		return NULL;
	memcpy(out, buf, offset);
	memcpy(out + offset, insert, ilen);
	memcpy(out + offset + ilen, buf + offset + removed,
	    len - offset - removed);
	out[outlen] = '\0';
	*outlenp = outlen;
	return out;
}

int
config_set_provider(const char *path, const char *provider_id)
{
	char quoted[2 * CONFIG_PROVIDER_ID_BYTES + 32];
	char line[sizeof(quoted) + 32];
	const struct toml_table *client;
	const struct toml_kv *kv;
	struct toml_doc *doc;
	char *buf, *out = NULL;
	size_t len, outlen = 0;
	mode_t mode;
	int rc;

	if (provider_id == NULL || (provider_id[0] != '\0' &&
	    !config_provider_id_valid(provider_id)))
		return CONFIG_ERR_INVALID;
	toml_quote(provider_id, quoted, sizeof(quoted));
	if ((rc = read_file(path, &buf, &len, &mode)) != CONFIG_OK)
		return rc;
	if ((rc = toml_parse(buf, len, &doc, NULL)) != TOML_OK) {
		free(buf);
		return rc == TOML_ERR_NOMEM ? CONFIG_ERR_NOMEM :
		    CONFIG_ERR_PARSE;
	}
	rc = CONFIG_ERR_INVALID;
	if ((client = toml_find_table(doc, "client")) == NULL)
		goto done;
	if ((kv = toml_find_key(client, "provider_id")) != NULL) {
		if (kv->type != TOML_STRING)
			goto done;
		out = text_splice(buf, len, kv->value_offset, kv->value_len,
		    quoted, &outlen);
	} else {
		/* First in the table; a header on the last line has no
		 * newline of its own yet. */
		snprintf(line, sizeof(line), "%sprovider_id = %s\n",
		    client->body_offset > 0 &&
		    buf[client->body_offset - 1] != '\n' ? "\n" : "", quoted);
		out = text_splice(buf, len, client->body_offset, 0, line,
		    &outlen);
	}
	if (out == NULL) {
		rc = CONFIG_ERR_NOMEM;
		goto done;
	}
	rc = write_atomic(path, out, outlen, mode);
done:
	toml_free(doc);
	free(buf);
	free(out);
	return rc;
}

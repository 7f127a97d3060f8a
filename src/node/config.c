/*
 * Node configuration: defaults, the strict TOML reader, the writer.
 * One table of keys drives reading, range checks and writing, so the three
 * cannot disagree.
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/confkeys.h"
#include "common/fsutil.h"
#include "common/metrics.h"
#include "common/strbuf.h"
#include "common/toml.h"
#include "common/topology.h"
#include "node/config.h"

#define NODE_CONFIG_MAX_BYTES	(64 * 1024)
#define NODE_TOPOLOGY_SUFFIX	"/api/presence/topology"

enum node_kind {
	NK_ID,		/* string: node id */
	NK_HOST,	/* string: IP literal or name */
	NK_URL,		/* string: directory URL, normalised to its base */
	NK_LISTEN,	/* string: "" or a loopback "ip:port" */
	NK_PATH,	/* string: absolute path */
	NK_LOGFILE,	/* string: absolute path or "" */
	NK_LEVEL,	/* string: log level name */
	NK_UINT,	/* integer in [min, max], unsigned field */
	NK_U64,		/* integer in [min, max], uint64_t field */
};

#define MIX	(1u << NODE_ROLE_MIXNODE)
#define PROV	(1u << NODE_ROLE_PROVIDER)

#define FIELD(f)	offsetof(struct node_config, f), \
			sizeof(((struct node_config *)0)->f)
#define STR(t, k, kind, f, r, req) \
	{ t, k, CONFKEY_STRING, kind, FIELD(f), 0, 0, r, req, NULL }
#define NUM(t, k, kind, f, lo, hi, r) \
	{ t, k, CONFKEY_INT, kind, FIELD(f), lo, hi, r, false, NULL }
#define NUMR(t, k, kind, f, lo, hi, r) \
	{ t, k, CONFKEY_INT, kind, FIELD(f), lo, hi, r, true, NULL }

static const struct confkey node_keys[] = {
	STR("node", "id", NK_ID, id, MIX | PROV, true),
	STR("node", "host", NK_HOST, host, MIX | PROV, true),
	NUMR("node", "port", NK_UINT, port, 1, 65535, MIX | PROV),
	NUMR("node", "layer", NK_UINT, layer, 1, 3, MIX),
	STR("node", "directory", NK_URL, directory, MIX | PROV, true),
	STR("node", "priv_key_file", NK_PATH, priv_key_file, MIX | PROV, true),
	STR("node", "pub_key_file", NK_PATH, pub_key_file, MIX | PROV, true),
	NUM("node", "presence_interval_seconds", NK_UINT, presence_interval_s,
	    1, 3600, MIX | PROV),
	NUM("node", "metrics_interval_seconds", NK_UINT, metrics_interval_s,
	    1, 3600, MIX | PROV),
	NUM("node", "topology_interval_seconds", NK_UINT, topology_interval_s,
	    1, 3600, MIX | PROV),
	NUM("node", "max_delay_ms", NK_UINT, max_delay_ms, 0, 3600000,
	    MIX | PROV),
	NUM("node", "delay_queue_packets", NK_U64, delay_queue_packets, 1,
	    100000000, MIX | PROV),
	NUM("node", "link_queue_packets", NK_U64, link_queue_packets, 1,
	    1000000, MIX | PROV),
	NUM("node", "workers", NK_UINT, workers, 0, 64, MIX | PROV),
	NUM("node", "replay_capacity", NK_U64, replay_capacity, 1000,
	    2000000000, MIX | PROV),
	NUM("node", "replay_snapshot_interval_seconds", NK_UINT,
	    replay_snapshot_interval_s, 1, 86400, MIX | PROV),
	STR("node", "metrics_listen", NK_LISTEN, metrics_listen, MIX | PROV,
	    false),
	NUM("provider", "mailbox_packets", NK_U64, mailbox_packets, 1,
	    100000000, PROV),
	NUM("provider", "max_clients", NK_U64, max_clients, 1, 1024, PROV),
	STR("logging", "file", NK_LOGFILE, log_file, MIX | PROV, false),
	STR("logging", "level", NK_LEVEL, log_level, MIX | PROV, false),
};
#define NODE_NKEYS	(sizeof(node_keys) / sizeof(node_keys[0]))

const char *
node_role_dir(enum node_role role)
{
	return role == NODE_ROLE_PROVIDER ? "providers" : "mixnodes";
}

const char *
node_role_program(enum node_role role)
{
	return role == NODE_ROLE_PROVIDER ? "nym-provider" : "nym-mixnode";
}

int
node_id_valid(const char *id)
{
	return fs_name_portable(id, NODE_ID_MAX_CHARS, 0);
}

int
node_directory_base(const char *url, char *out, size_t outlen)
{
	size_t n = strlen(url), suffix = strlen(NODE_TOPOLOGY_SUFFIX);
	const char *host;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return -1;
	if (*host == '\0' || *host == '/')
		return -1;
	for (const char *c = url; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return -1;
	if (n >= suffix && strcmp(url + n - suffix, NODE_TOPOLOGY_SUFFIX) == 0)
		n -= suffix;
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n + 1 > outlen)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

int
node_config_path(enum node_role role, const char *root, const char *id,
    char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s/%s/config.toml", root,
	    node_role_dir(role), id);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int
node_config_locate(struct node_config *c, const char *root)
{
	int n = snprintf(c->home, sizeof(c->home), "%s/%s/%s", root,
	    node_role_dir(c->role), c->id);
	if (n < 0 || (size_t)n >= sizeof(c->home))
		return -1;
	n = snprintf(c->data_dir, sizeof(c->data_dir), "%s/data", c->home);
	return n > 0 && (size_t)n < sizeof(c->data_dir) ? 0 : -1;
}

int
node_config_defaults(struct node_config *c, enum node_role role,
    const char *root, const char *id)
{
	memset(c, 0, sizeof(*c));
	c->role = role;
	if (!node_id_valid(id))
		return -1;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = role == NODE_ROLE_PROVIDER ? 1789 : 1790;
	c->layer = 1;
	snprintf(c->directory, sizeof(c->directory), "http://127.0.0.1:8080");
	c->presence_interval_s = NODE_DEFAULT_PRESENCE_S;
	c->metrics_interval_s = NODE_DEFAULT_METRICS_S;
	c->topology_interval_s = NODE_DEFAULT_TOPOLOGY_S;
	c->max_delay_ms = NODE_DEFAULT_MAX_DELAY_MS;
	c->delay_queue_packets = NODE_DEFAULT_DELAY_QUEUE;
	c->link_queue_packets = NODE_DEFAULT_LINK_QUEUE;
	c->replay_capacity = NODE_DEFAULT_REPLAY_CAPACITY;
	c->replay_snapshot_interval_s = NODE_DEFAULT_REPLAY_SNAPSHOT_S;
	c->mailbox_packets = NODE_DEFAULT_MAILBOX_PACKETS;
	c->max_clients = NODE_DEFAULT_MAX_CLIENTS;
	c->log_level = LOG_LEVEL_INFO;
	if (node_config_locate(c, root) == -1)
		return -1;
	if ((size_t)snprintf(c->priv_key_file, sizeof(c->priv_key_file),
	    "%s/private_key.pem", c->home) >= sizeof(c->priv_key_file) ||
	    (size_t)snprintf(c->pub_key_file, sizeof(c->pub_key_file),
	    "%s/public_key.pem", c->home) >= sizeof(c->pub_key_file))
		return -1;
	return 0;
}

static int
node_fail(char *err, size_t errlen, const char *name, unsigned long line,
    const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int
node_fail(char *err, size_t errlen, const char *name, unsigned long line,
    const char *key, const char *fmt, ...)
{
	char msg[NODE_ERR_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0 && key != NULL)
		snprintf(err, errlen, "%s:%lu: key '%s': %s", name, line, key, msg);
	else if (line > 0)
		snprintf(err, errlen, "%s:%lu: %s", name, line, msg);
	else
		snprintf(err, errlen, "%s: %s", name, msg);
	return -1;
}

/* A string key's value, checked for type and control characters. */
static int
node_set(const struct confkeys_ctx *ctx, const struct confkey *nk,
    const struct toml_kv *kv)
{
	struct node_config *c = ctx->obj;
	char *field = (char *)c + nk->offset;
	const char *v = kv->u.s;

	switch (nk->kind) {
	case NK_ID:
		if (!node_id_valid(v))
			return confkeys_fail(ctx, kv,
			    "use 1 to 64 letters, digits, '.', '_' or '-'");
		break;
	case NK_HOST: {
		/* The one parser of IP literals, which init uses too; the
		 * bare form is kept ("[::1]" becomes "::1"). */
		char ip[ADDR_IP_BYTES], why[NODE_ERR_BYTES / 2];
		if (addr_parse_ip(v, ip, sizeof(ip), why, sizeof(why)) == -1)
			return confkeys_fail(ctx, kv, "%s", why);
		if (strlen(ip) >= nk->size)
			return confkeys_fail(ctx, kv, "too long");
		memcpy(field, ip, strlen(ip) + 1);
		return 0;
	}
	case NK_LISTEN:
		if (v[0] != '\0' && !metrics_listen_valid(v))
			return confkeys_fail(ctx, kv,
			    "expected \"\" or a loopback \"127.0.0.1:PORT\" or "
			    "\"[::1]:PORT\": the metrics are for this host only");
		break;
	case NK_URL: {
		char why[NODE_ERR_BYTES / 2];
		if (addr_check_url(v, why, sizeof(why)) == -1)
			return confkeys_fail(ctx, kv, "%s", why);
		if (node_directory_base(v, field, nk->size) == -1)
			return confkeys_fail(ctx, kv,
			    "expected an http:// or https:// URL");
		return 0;
	}
	case NK_PATH:
		if (v[0] != '/')
			return confkeys_fail(ctx, kv,
			    "must be an absolute path");
		break;
	case NK_LOGFILE:
		if (v[0] != '\0' && v[0] != '/')
			return confkeys_fail(ctx, kv,
			    "must be an absolute path, or \"\" for standard "
			    "output");
		break;
	case NK_LEVEL:
		if (log_level_parse(v, &c->log_level) == -1)
			return confkeys_fail(ctx, kv,
			    "expected one of trace, debug, info, warning, "
			    "error, panic, fatal");
		return 0;
	default:
		break;
	}
	if (strlen(v) >= nk->size)
		return confkeys_fail(ctx, kv, "too long");
	memcpy(field, v, strlen(v) + 1);
	return 0;
}

struct node_fail_to {
	char		*err;
	size_t		 errlen;
	const char	*name;
};

static void
node_fail_cb(void *arg, unsigned long line, const char *key, const char *msg)
{
	struct node_fail_to *to = arg;

	node_fail(to->err, to->errlen, to->name, line, key, "%s", msg);
}

static const struct confkeys node_schema = {
	.keys = node_keys,
	.nkeys = NODE_NKEYS,
	.root_msg = "keys must be inside a table such as [node]",
	.unknown_table_hint = "",
	.range_from = "from",
	.range_to = "to",
	.control_msg = "control characters are not allowed",
	.set = node_set,
	.fail = node_fail_cb,
};

int
node_config_parse(struct node_config *c, const char *buf, size_t len,
    const char *name, char *err, size_t errlen)
{
	struct toml_doc *doc;
	struct toml_error terr;
	unsigned long lines[NODE_NKEYS];
	struct node_fail_to to = { err, errlen, name };
	const struct confkeys_ctx ctx = {
		.schema = &node_schema, .role = 1u << c->role, .obj = c,
		.lines = lines, .fail_arg = &to,
	};
	int rc = -1;

	if (toml_parse(buf, len, &doc, &terr) != TOML_OK) {
		char msg[NODE_ERR_BYTES];
		toml_error_format(&terr, name, msg, sizeof(msg));
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	if (confkeys_apply(&ctx, doc) == -1)
		goto out;
	for (size_t i = 0; i < NODE_NKEYS; i++) {
		const struct confkey *nk = &node_keys[i];
		if (nk->required && (nk->roles & ctx.role) && lines[i] == 0) {
			node_fail(err, errlen, name, 0, NULL,
			    "key '%s' is missing from [%s]", nk->name, nk->table);
			goto out;
		}
	}
	rc = 0;
out:
	toml_free(doc);
	return rc;
}

int
node_config_load(struct node_config *c, enum node_role role, const char *root,
    const char *id, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf;
	size_t len;
	int rc;

	if (node_config_defaults(c, role, root, id) == -1 ||
	    node_config_path(role, root, id, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "invalid id or path too long");
		return -1;
	}
	if (fs_read_file(path, NODE_CONFIG_MAX_BYTES, &buf, &len, NULL) == -1) {
		snprintf(err, errlen, "%s: %s%s", path, errno == EFBIG ?
		    "larger than 64 KiB" : strerror(errno),
		    errno == ENOENT ? " (run init first)" : "");
		return -1;
	}
	rc = node_config_parse(c, buf, len, path, err, errlen);
	free(buf);
	if (rc == 0 && strcmp(c->id, id) != 0) {
		snprintf(err, errlen, "%s: key 'id': '%s' is not the id the "
		    "file is filed under ('%s')", path, c->id, id);
		return -1;
	}
	return rc;
}

static void
node_print_key(struct strbuf *b, const struct node_config *c,
    const struct confkey *nk)
{
	const char *field = (const char *)c + nk->offset;

	switch (nk->kind) {
	case NK_UINT:
		strbuf_printf(b, "%s = %u\n", nk->name,
		    *(const unsigned *)(const void *)field);
		return;
	case NK_U64:
		strbuf_printf(b, "%s = %llu\n", nk->name, (unsigned long long)
		    *(const uint64_t *)(const void *)field);
		return;
	case NK_LEVEL:
		strbuf_printf(b, "%s = \"%s\"\n", nk->name,
		    log_level_name(c->log_level));
		return;
	default:
		strbuf_toml_string(b, nk->name, field);
	}
}

int
node_config_write(const char *path, const struct node_config *c)
{
	struct strbuf b = STRBUF_INIT;
	const char *table = "";
	int rc;

	strbuf_printf(&b, "# %s configuration (see %s(8)).\n",
	    node_role_program(c->role), node_role_program(c->role));
	for (size_t i = 0; i < NODE_NKEYS; i++) {
		const struct confkey *nk = &node_keys[i];

		if (!(nk->roles & (1u << c->role)))
			continue;
		if (strcmp(table, nk->table) != 0) {
			strbuf_printf(&b, "%s[%s]\n", b.len > 0 &&
			    strcmp(table, "") != 0 ? "\n" : "", nk->table);
			table = nk->table;
		}
		if (strcmp(nk->name, "file") == 0 && strcmp(nk->table, "logging") == 0)
			strbuf_printf(&b, "# \"\" logs to standard output\n");
		node_print_key(&b, c, nk);
	}
	if (b.failed) {
		free(b.buf);
		errno = ENOMEM;
		return -1;
	}
	rc = fs_write_atomic(path, b.buf, b.len, 0644);
	free(b.buf);
	return rc;
}

/*
 * nymd init: a new client's key pair and configuration, as the seed's
 * loopix-client init writes them.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/addr.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/pem.h"
#include "common/rand.h"
#include "common/topology.h"
#include "master/master.h"

#define INIT_DIRECTORY_TIMEOUT_MS	3000L
#define INIT_RANDOM_ID_CHARS		8

int
nymd_default_root(char *out, size_t len)
{
	const char *home = getenv("HOME");
	int n;

	if (home == NULL || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		if (pw == NULL || pw->pw_dir == NULL)
			return -1;
		home = pw->pw_dir;
	}
	n = snprintf(out, len, "%s/.loopix", home);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static void
init_random_id(char out[INIT_RANDOM_ID_CHARS + 1])
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int i = 0; i < INIT_RANDOM_ID_CHARS; i++)
		out[i] = chars[rand_index(sizeof(chars) - 1)];
	out[INIT_RANDOM_ID_CHARS] = '\0';
}

/* A random provider from the directory, or -1 (and why) if none. */
static int
init_choose_provider(const char *url, const char *proxy, char *out, size_t outlen,
    char *why, size_t whylen)
{
	struct topology *t = NULL;
	char *body = NULL;
	size_t len;
	long status;
	int rc = -1;

	if (http_get_sync(url, proxy, INIT_DIRECTORY_TIMEOUT_MS, &body, &len, &status,
	    why, whylen) == -1)
		return -1;
	if (status != 200)
		snprintf(why, whylen, "HTTP status %ld", status);
	else if (topology_parse(body, len, &t, why, whylen) == 0) {
		if (t->n_providers == 0)
			snprintf(why, whylen, "the topology lists no provider");
		else {
			snprintf(out, outlen, "%s",
			    t->providers[rand_index((uint32_t)t->n_providers)].id);
			rc = 0;
		}
	}
	topology_free(t);
	free(body);
	return rc;
}

static int
init_absolute_root(const char *root, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (root[0] == '/')
		n = snprintf(out, len, "%s", root);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	else
		n = snprintf(out, len, "%s/%s", cwd, root);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int
init_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int
init_write_keys(const char *priv_path, const char *pub_path)
{
	uint8_t pub[PEM_KEY_BYTES];
	uint8_t *priv = sodium_malloc(PEM_KEY_BYTES);
	int rc;

	if (priv == NULL) {
		fprintf(stderr, "nymd init: cannot allocate locked memory for the key\n");
		return -1;
	}
	randombytes_buf(priv, PEM_KEY_BYTES);
	crypto_scalarmult_base(pub, priv);
	rc = pem_write_key(priv_path, PEM_TYPE_PRIVATE, priv, 0600);
	sodium_free(priv);
	if (rc != PEM_OK) {
		fprintf(stderr, "nymd init: %s: %s\n", priv_path, pem_strerror(rc));
		return -1;
	}
	printf("Saved generated private key to %s\n", priv_path);
	rc = pem_write_key(pub_path, PEM_TYPE_PUBLIC, pub, 0644);
	if (rc != PEM_OK) {
		fprintf(stderr, "nymd init: %s: %s\n", pub_path, pem_strerror(rc));
		return -1;
	}
	printf("Saved generated public key to %s\n", pub_path);
	return 0;
}

/* --local and --directory: the URL, checked part by part. */
static int
init_directory(const struct nymd_options *o, struct nymd_config *cfg)
{
	char why[512];

	if (o->local) {
		/* The seed's words, but on their own line (the seed wrote
		 * no newline, running them into the next line). */
		printf("Using the local directory server\n");
		snprintf(cfg->directory_server_topology,
		    sizeof(cfg->directory_server_topology), "%s",
		    CONFIG_LOCAL_TOPOLOGY_URL);
	}
	if (o->directory == NULL)
		return 0;
	if (addr_check_url(o->directory, why, sizeof(why)) == -1) {
		fprintf(stderr, "nymd init: --directory %s\n", why);
		return -1;
	}
	if (strlen(o->directory) >= sizeof(cfg->directory_server_topology)) {
		fprintf(stderr, "nymd init: --directory URL too long (at most %zu bytes)\n",
		    sizeof(cfg->directory_server_topology) - 1);
		return -1;
	}
	snprintf(cfg->directory_server_topology, sizeof(cfg->directory_server_topology),
	    "%s", o->directory);
	return 0;
}

/* The client's unix socket must fit sun_path, or run could never bind it. */
static int
init_socket_fits(const struct nymd_config *cfg, const char *id)
{
	char path[2 * PATH_MAX];

	if (config_resolve_path(cfg, cfg->socket_path, path, sizeof(path)) == -1)
		snprintf(path, sizeof(path), "ROOT/clients/%s/%s", id, cfg->socket_path);
	if (strlen(path) >= CONFIG_UNIX_PATH_BYTES) {
		fprintf(stderr, "nymd init: the socket path %s would be %zu bytes, longer "
		    "than the %d a unix socket path may have; use a shorter --id than "
		    "'%s' or a shorter --home\n", path, strlen(path),
		    CONFIG_UNIX_PATH_BYTES - 1, id);
		return -1;
	}
	return 0;
}

/* Writes the client's files; on failure removes what it made. */
static int
init_write(struct nymd_config *cfg, const char *confdir, const char *priv,
    const char *pub, const char *conffile)
{
	struct fs_undo undo = { .n = 0 };
	char mixapps[PATH_MAX];
	const char *failed = confdir;

	/* Where mix applications keep their data, as the seed makes it. */
	if (config_resolve_path(cfg, cfg->mixapps_directory, mixapps, sizeof(mixapps)) == -1) {
		fprintf(stderr, "nymd init: %s: path too long\n", cfg->mixapps_directory);
		return -1;
	}
	if (fs_undo_mkdirs(&undo, confdir, 0700) == -1 || chmod(confdir, 0700) == -1)
		goto fail;
	if (fs_undo_file(&undo, priv) == -1 || fs_undo_file(&undo, pub) == -1 ||
	    init_write_keys(priv, pub) == -1) {
		failed = NULL;
		goto fail;
	}
	failed = mixapps;
	if (fs_undo_mkdirs(&undo, mixapps, 0700) == -1)
		goto fail;
	failed = conffile;
	if (fs_undo_file(&undo, conffile) == -1 ||
	    config_write(conffile, cfg) != CONFIG_OK)
		goto fail;
	printf("Saved generated config to %s\n", conffile);
	fs_undo_keep(&undo);
	return 0;
fail:
	if (failed != NULL)
		fprintf(stderr, "nymd init: %s: %s\n", failed, strerror(errno));
	fs_undo_rollback(&undo);
	return -1;
}

int
init_main(const struct nymd_options *o)
{
	struct nymd_config cfg;
	char root[PATH_MAX], home[PATH_MAX], confdir[PATH_MAX], conffile[PATH_MAX];
	char priv[PATH_MAX], pub[PATH_MAX], why[1024], random_id[INIT_RANDOM_ID_CHARS + 1];
	const char *id = o->id;

	if (sodium_init() < 0) {
		fprintf(stderr, "nymd init: libsodium failed to initialise\n");
		return NYMD_EXIT_CONFIG;
	}
	if (id == NULL) {
		init_random_id(random_id);
		id = random_id;
		printf("No clientID provided. Random string will be used instead: %s.\n", id);
	}
	if (!config_id_valid(id)) {
		fprintf(stderr, "nymd init: invalid id '%s': use 1 to 64 letters, digits, '.', '_' or '-'\n", id);
		return NYMD_EXIT_USAGE;
	}
	if (o->provider != NULL && !config_provider_id_valid(o->provider)) {
		fprintf(stderr, "nymd init: --provider '%s' is not a provider id (44 characters of URL-safe base64)\n",
		    o->provider);
		return NYMD_EXIT_USAGE;
	}
	if ((o->root != NULL ? init_absolute_root(o->root, root, sizeof(root)) :
	    nymd_default_root(root, sizeof(root))) == -1) {
		fprintf(stderr, "nymd init: cannot determine the root directory; use --home\n");
		return NYMD_EXIT_CONFIG;
	}
	if (config_defaults(&cfg, id, root) != CONFIG_OK ||
	    config_client_home(&cfg, home, sizeof(home)) == -1 ||
	    config_file_path(root, id, conffile, sizeof(conffile)) == -1 ||
	    config_resolve_path(&cfg, cfg.priv_key_file, priv, sizeof(priv)) == -1 ||
	    config_resolve_path(&cfg, cfg.pub_key_file, pub, sizeof(pub)) == -1) {
		fprintf(stderr, "nymd init: the root directory %s is too long\n", root);
		return NYMD_EXIT_CONFIG;
	}
	if (snprintf(confdir, sizeof(confdir), "%s/config", home) >= (int)sizeof(confdir)) {
		fprintf(stderr, "nymd init: %s: path too long\n", home);
		return NYMD_EXIT_CONFIG;
	}
	/* Everything is checked before anything is written. */
	if (init_directory(o, &cfg) == -1)
		return NYMD_EXIT_USAGE;
	if (init_socket_fits(&cfg, id) == -1)
		return NYMD_EXIT_USAGE;
	if (o->provider != NULL)
		snprintf(cfg.provider_id, sizeof(cfg.provider_id), "%s", o->provider);
	if (config_check(&cfg, why, sizeof(why)) != CONFIG_OK) {
		fprintf(stderr, "nymd init: the configuration would not load: %s\n", why);
		return NYMD_EXIT_CONFIG;
	}
	if (!o->force && (init_exists(conffile) || init_exists(priv) || init_exists(pub))) {
		fprintf(stderr, "nymd init: client '%s' already exists in %s; "
		    "use --force to replace its keys and configuration\n", id, home);
		return NYMD_EXIT_CONFIG;
	}
	if (o->provider == NULL && init_choose_provider(cfg.directory_server_topology,
	    cfg.directory_proxy, cfg.provider_id, sizeof(cfg.provider_id), why, sizeof(why)) == -1) {
		cfg.provider_id[0] = '\0';
		fprintf(stderr, "Could not choose a provider now (%s: %s); "
		    "one will be chosen at first run\n", cfg.directory_server_topology, why);
	}
	if (init_write(&cfg, confdir, priv, pub, conffile) == -1)
		return NYMD_EXIT_CONFIG;
	return 0;
}

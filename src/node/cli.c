/*
 * init and run for both node programs.  init writes the key pair and the
 * configuration; run loads them, opens the log and hands over to
 * node_run().
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/addr.h"
#include "common/b64.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/number.h"
#include "common/pem.h"
#include "node/cli.h"
#include "node/identity.h"
#include "common/descriptor.h"
#include "common/http.h"

struct node_opts {
	const char	*id;
	const char	*home;
	const char	*host;
	const char	*port;
	const char	*layer;
	const char	*directory;
	const char	*log_level;
	int		 force;
};

static void
node_usage(FILE *f, const char *prog, enum node_role role)
{
	fprintf(f,
	    "usage: %s init --id NAME [--home DIR] [--host IP] --port N%s\n"
	    "           --directory URL [--force]\n"
	    "       %s run --id NAME [--home DIR] [--log-level LEVEL]\n"
	    "       %s help | --help | -h\n", prog,
	    role == NODE_ROLE_MIXNODE ? " --layer 1|2|3" : "", prog, prog);
}

static int
node_root(const char *opt, char *out, size_t len)
{
	const char *env = getenv("NYMD_HOME"), *home = getenv("HOME");
	char cwd[PATH_MAX];
	int n;

	if (opt != NULL && opt[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		n = snprintf(out, len, "%s/%s", cwd, opt);
	} else if (opt != NULL)
		n = snprintf(out, len, "%s", opt);
	else if (env != NULL && env[0] == '/')
		n = snprintf(out, len, "%s", env);
	else {
		if (home == NULL || home[0] != '/') {
			struct passwd *pw = getpwuid(getuid());
			if (pw == NULL || pw->pw_dir == NULL)
				return -1;
			home = pw->pw_dir;
		}
		n = snprintf(out, len, "%s/.nym", home);
	}
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int
node_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;

	if (number_parse(s, lo, hi, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
node_parse_opts(int argc, char **argv, struct node_opts *o, const char *prog,
    enum node_role role)
{
	enum { O_ID = 1, O_HOME, O_HOST, O_PORT, O_LAYER, O_DIR, O_FORCE,
	    O_LEVEL, O_HELP };
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "home", required_argument, NULL, O_HOME },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "layer", required_argument, NULL, O_LAYER },
		{ "directory", required_argument, NULL, O_DIR },
		{ "force", no_argument, NULL, O_FORCE },
		{ "log-level", required_argument, NULL, O_LEVEL },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long_only(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_ID:	o->id = optarg; break;
		case O_HOME:	o->home = optarg; break;
		case O_HOST:	o->host = optarg; break;
		case O_PORT:	o->port = optarg; break;
		case O_LAYER:	o->layer = optarg; break;
		case O_DIR:	o->directory = optarg; break;
		case O_FORCE:	o->force = 1; break;
		case O_LEVEL:	o->log_level = optarg; break;
		case O_HELP:
			node_usage(stdout, prog, role);
			exit(NODE_EXIT_OK);
		default:
			node_usage(stderr, prog, role);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog,
		    argv[optind]);
		return -1;
	}
	if (o->id == NULL) {
		fprintf(stderr, "%s: --id is required\n", prog);
		return -1;
	}
	if (!node_id_valid(o->id)) {
		fprintf(stderr, "%s: invalid id '%s': use 1 to 64 letters, "
		    "digits, '.', '_' or '-'\n", prog, o->id);
		return -1;
	}
	return 0;
}

static int
node_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* --host, --port, --layer and --directory, checked before anything is
 * written, with the parsers run uses. */
static int
node_init_check(const char *prog, enum node_role role, const struct node_opts *o,
    struct node_config *c)
{
	char why[512];

	if (o->host != NULL) {
		/* The bare form: run listens on it and writes it in brackets. */
		if (addr_parse_ip(o->host, c->host, sizeof(c->host), why,
		    sizeof(why)) == -1) {
			fprintf(stderr, "%s init: --host %s\n", prog, why);
			return -1;
		}
	}
	if (node_parse_uint(o->port, 1, 65535, &c->port) == -1) {
		fprintf(stderr, "%s init: --port must be 1 to 65535\n", prog);
		return -1;
	}
	if (role == NODE_ROLE_MIXNODE &&
	    node_parse_uint(o->layer, 1, 3, &c->layer) == -1) {
		fprintf(stderr, "%s init: --layer must be 1, 2 or 3\n", prog);
		return -1;
	}
	if (addr_check_url(o->directory, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s init: --directory %s\n", prog, why);
		return -1;
	}
	if (node_directory_base(o->directory, c->directory,
	    sizeof(c->directory)) == -1) {
		fprintf(stderr, "%s init: --directory must be an http:// or "
		    "https:// URL\n", prog);
		return -1;
	}
	return 0;
}

/* The keys, the configuration and the identity; on failure, what was
 * made is removed again. 0 or -1 (said). */
static int
node_init_write(const char *prog, const char *path, struct node_config *c,
    uint8_t pub[32], struct fs_undo *undo)
{
	char err[IDENTITY_ERR_BYTES], ident[B64_KEY_CHARS + 1], f[PATH_MAX + 64];
	uint8_t ipk[32], *priv;
	int rc;

	if (fs_undo_mkdirs(undo, c->data_dir, 0700) == -1) {
		fprintf(stderr, "%s init: %s: %s\n", prog, c->data_dir,
		    strerror(errno));
		return -1;
	}
	if ((priv = sodium_malloc(32)) == NULL) {
		fprintf(stderr, "%s init: out of memory\n", prog);
		return -1;
	}
	randombytes_buf(priv, 32);
	crypto_scalarmult_base(pub, priv);
	rc = fs_undo_file(undo, c->priv_key_file) == -1 ? PEM_ERR_IO :
	    pem_write_key(c->priv_key_file, PEM_TYPE_PRIVATE, priv, 0600);
	sodium_free(priv);
	if (rc != PEM_OK) {
		fprintf(stderr, "%s init: %s: %s\n", prog, c->priv_key_file,
		    pem_strerror(rc));
		return -1;
	}
	printf("Saved generated private key to %s\n", c->priv_key_file);
	if (fs_undo_file(undo, c->pub_key_file) == -1 ||
	    (rc = pem_write_key(c->pub_key_file, PEM_TYPE_PUBLIC, pub, 0644)) !=
	    PEM_OK) {
		fprintf(stderr, "%s init: %s: %s\n", prog, c->pub_key_file,
		    pem_strerror(rc));
		return -1;
	}
	printf("Saved generated public key to %s\n", c->pub_key_file);
	if (fs_undo_file(undo, path) == -1 || node_config_write(path, c) == -1) {
		fprintf(stderr, "%s init: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	printf("Saved generated config to %s\n", path);
	snprintf(f, sizeof(f), "%s/%s", c->home, IDENTITY_PRIVATE_FILE);
	rc = fs_undo_file(undo, f);
	snprintf(f, sizeof(f), "%s/%s", c->home, IDENTITY_PUBLIC_FILE);
	if (rc == -1 || fs_undo_file(undo, f) == -1 ||
	    identity_create(c, ipk, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s init: %s\n", prog, rc == -1 ? strerror(errno) : err);
		return -1;
	}
	b64_encode(ident, ipk, 32, B64_URLSAFE);
	printf("Saved generated identity key to %s/%s\n", c->home,
	    IDENTITY_PRIVATE_FILE);
	printf("Our identity key is: %s\n", ident);
	return 0;
}

static int
node_init(const char *prog, enum node_role role, const struct node_opts *o)
{
	struct node_config c;
	struct fs_undo undo = { .n = 0 };
	char root[PATH_MAX], path[PATH_MAX], id[B64_KEY_CHARS + 1];
	uint8_t pub[32];

	if (o->port == NULL || o->directory == NULL ||
	    (role == NODE_ROLE_MIXNODE && o->layer == NULL)) {
		fprintf(stderr, "%s init: --port, --directory%s are required\n",
		    prog, role == NODE_ROLE_MIXNODE ? " and --layer" : "");
		return NODE_EXIT_USAGE;
	}
	if (node_root(o->home, root, sizeof(root)) == -1 ||
	    node_config_defaults(&c, role, root, o->id) == -1 ||
	    node_config_path(role, root, o->id, path, sizeof(path)) == -1) {
		fprintf(stderr, "%s init: cannot determine the home directory "
		    "(or it is too long); use --home\n", prog);
		return NODE_EXIT_CONFIG;
	}
	if (node_init_check(prog, role, o, &c) == -1)
		return NODE_EXIT_USAGE;
	if (!o->force && (node_exists(path) || node_exists(c.priv_key_file) ||
	    node_exists(c.pub_key_file))) {
		fprintf(stderr, "%s init: '%s' already exists in %s; use --force "
		    "to replace its keys and configuration\n", prog, o->id,
		    c.home);
		return NODE_EXIT_CONFIG;
	}
	if (node_init_write(prog, path, &c, pub, &undo) == -1) {
		fs_undo_rollback(&undo);
		return NODE_EXIT_CONFIG;
	}
	fs_undo_keep(&undo);
	b64_encode(id, pub, 32, B64_URLSAFE);
	printf("Our Public Key is: %s\n", id);
	return NODE_EXIT_OK;
}

static int
node_load_keys(const struct node_config *c, uint8_t *priv, uint8_t pub[32],
    const char *prog)
{
	uint8_t derived[32];
	int rc;

	if ((rc = pem_read_key(c->priv_key_file, PEM_TYPE_PRIVATE, 1, priv)) !=
	    PEM_OK) {
		fprintf(stderr, "%s: %s: %s%s\n", prog, c->priv_key_file,
		    pem_strerror(rc), rc == PEM_ERR_IO ? strerror(errno) : "");
		return -1;
	}
	if ((rc = pem_read_key(c->pub_key_file, PEM_TYPE_PUBLIC, 0, pub)) !=
	    PEM_OK) {
		fprintf(stderr, "%s: %s: %s\n", prog, c->pub_key_file,
		    pem_strerror(rc));
		return -1;
	}
	if (crypto_scalarmult_base(derived, priv) != 0 ||
	    sodium_memcmp(derived, pub, 32) != 0) {
		fprintf(stderr, "%s: %s is not the public key of %s\n", prog,
		    c->pub_key_file, c->priv_key_file);
		return -1;
	}
	return 0;
}

static int
node_run_cmd(const char *prog, enum node_role role, const struct node_opts *o,
    const struct node_ops *ops)
{
	struct node_config c;
	char root[PATH_MAX], err[NODE_ERR_BYTES], id[B64_KEY_CHARS + 1];
	uint8_t pub[32], *priv;
	int status;

	if (node_root(o->home, root, sizeof(root)) == -1) {
		fprintf(stderr, "%s: cannot determine the home directory; use "
		    "--home\n", prog);
		return NODE_EXIT_CONFIG;
	}
	if (node_config_load(&c, role, root, o->id, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NODE_EXIT_CONFIG;
	}
	if (o->log_level != NULL && log_level_parse(o->log_level,
	    &c.log_level) == -1) {
		fprintf(stderr, "%s: --log-level: expected trace, debug, info, "
		    "warning, error, panic or fatal\n", prog);
		return NODE_EXIT_USAGE;
	}
	log_init(prog, c.log_level);
	if (log_open(c.log_file[0] ? LOG_DEST_FILE : LOG_DEST_STDOUT,
	    c.log_file[0] ? c.log_file : NULL) == -1) {
		fprintf(stderr, "%s: %s: %s\n", prog, c.log_file, strerror(errno));
		return NODE_EXIT_CONFIG;
	}
	if (fs_mkdirs(c.data_dir, 0700) == -1) {
		fprintf(stderr, "%s: %s: %s\n", prog, c.data_dir, strerror(errno));
		return NODE_EXIT_CONFIG;
	}
	if ((priv = sodium_malloc(32)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return NODE_EXIT_CONFIG;
	}
	if (node_load_keys(&c, priv, pub, prog) == -1) {
		sodium_free(priv);
		return NODE_EXIT_CONFIG;
	}
	b64_encode(id, pub, 32, B64_URLSAFE);
	printf("Our Public Key is: %s\n", id);
	fflush(stdout);
	if (http_global_init() == -1) {
		fprintf(stderr, "%s: libcurl failed to initialise\n", prog);
		sodium_free(priv);
		return NODE_EXIT_FAILURE;
	}
	switch (node_run(&c, priv, pub, ops)) {
	case 0:
		status = NODE_EXIT_OK;
		break;
	case NODE_RUN_STARTUP:
		status = NODE_EXIT_CONFIG;
		break;
	default:
		status = NODE_EXIT_FAILURE;
		break;
	}
	sodium_free(priv);
	http_global_cleanup();
	if (node_sandboxed()) {
		fflush(NULL);
		_exit(status);
	}
	return status;
}

int
node_main(int argc, char **argv, enum node_role role, const struct node_ops *ops)
{
	const char *prog = node_role_program(role);
	struct node_opts o;

	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialise\n", prog);
		return NODE_EXIT_FAILURE;
	}
	if (argc < 2) {
		node_usage(stderr, prog, role);
		return NODE_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		node_usage(stdout, prog, role);
		return NODE_EXIT_OK;
	}
	if (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
		node_usage(stderr, prog, role);
		return NODE_EXIT_USAGE;
	}
	if (node_parse_opts(argc - 1, argv + 1, &o, prog, role) == -1)
		return NODE_EXIT_USAGE;
	if (strcmp(argv[1], "init") == 0) {
		if (o.log_level != NULL) {
			fprintf(stderr, "%s init: --log-level belongs to run "
			    "(or to the configuration's [logging] level)\n", prog);
			return NODE_EXIT_USAGE;
		}
		if (o.layer != NULL && role != NODE_ROLE_MIXNODE) {
			fprintf(stderr, "%s init: --layer is for mixnodes; a "
			    "provider has no layer\n", prog);
			return NODE_EXIT_USAGE;
		}
		return node_init(prog, role, &o);
	}
	if (o.host || o.port || o.layer || o.directory || o.force) {
		fprintf(stderr, "%s run: --host, --port, --layer, --directory "
		    "and --force belong to init\n", prog);
		return NODE_EXIT_USAGE;
	}
	return node_run_cmd(prog, role, &o, ops);
}

/*
 * nym-testnet up: a directory, K mixnodes in each of the three layers and
 * P providers on loopback, then optional nymd clients, each started
 * detached and recorded in testnet.env as soon as it runs, so that `down`
 * can stop a testnet even if `up` itself was interrupted. `up` returns
 * only once the directory's topology lists every node; if it cannot get
 * there in time, it stops what it started.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/config.h"
#include "common/descriptor.h"
#include "common/fsutil.h"
#include "common/pem.h"
#include "common/topology.h"
#include "testnet/testnet.h"

#define UP_DIRECTORY_BIN	"nym-directory"
#define UP_MIXNODE_BIN		"nym-mixnode"
#define UP_PROVIDER_BIN		"nym-provider"
#define UP_NYMD_BIN		"nymd"
#define UP_TOPOLOGY_POLL_MS	200
#define UP_LOG_TAIL_BYTES	2048
#define UP_ERR_BYTES		512
#define UP_ALLOW_FILE		"allow"

static void
up_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
up_err(const char *fmt, ...)
{
	va_list ap;

	fputs("nym-testnet up: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The last lines of a log, so that a failure explains itself. */
static void
up_log_tail(const char *log)
{
	char buf[UP_LOG_TAIL_BYTES + 1], *p;
	ssize_t n;
	off_t size;
	int fd;

	if ((fd = open(log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > UP_LOG_TAIL_BYTES)
		lseek(fd, size - UP_LOG_TAIL_BYTES, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = fs_read_all(fd, buf, UP_LOG_TAIL_BYTES);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Skip a partial first line. */
	p = size > UP_LOG_TAIL_BYTES && strchr(buf, '\n') ? strchr(buf, '\n') + 1 : buf;
	fprintf(stderr, "--- last lines of %s ---\n%s%s", log, p,
	    buf[n - 1] == '\n' ? "" : "\n");
}

/* NYM_BIN_DIR, else the directory of this executable. */
static int
up_bindir(char *out, size_t outlen)
{
	char self[PATH_MAX];
	const char *env = getenv("NYM_BIN_DIR");
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		if (realpath(env, self) == NULL) {
			up_err("NYM_BIN_DIR=%s: %s", env, strerror(errno));
			return -1;
		}
	} else {
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
			up_err("/proc/self/exe: %s", strerror(errno));
			return -1;
		}
		self[n] = '\0';
		/* dirname() may modify its argument in place. */
		char *d = dirname(self);
		memmove(self, d, strlen(d) + 1);
	}
	if (strlen(self) >= outlen) {
		up_err("%s: path too long", self);
		return -1;
	}
	memcpy(out, self, strlen(self) + 1);
	return 0;
}

static int
up_binary(const struct testnet *t, const char *name, char *out)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", t->bindir, name);
	if (realpath(path, out) == NULL || access(out, X_OK) == -1) {
		up_err("%s: %s (set NYM_BIN_DIR to the directory of the nym "
		    "binaries)", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
up_path(char *out, size_t outlen, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
up_path(char *out, size_t outlen, const char *what, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		up_err("the path of %s is too long; use a shorter --dir", what);
		return -1;
	}
	return 0;
}

static struct testnet_proc *
up_add(struct testnet *t, enum testnet_kind kind, const char *exe,
    const char *key, const char *id)
{
	struct testnet_proc *p = &t->procs[t->nprocs];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	snprintf(p->key, sizeof(p->key), "%s", key);
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	if (kind != TESTNET_CLIENT)
		snprintf(p->host, sizeof(p->host), "%s", TESTNET_HOST);
	if (up_path(p->log, sizeof(p->log), id, "%s/logs/%s%s.log", t->dir,
	    kind == TESTNET_CLIENT ? "client-" : "", id) == -1)
		return NULL;
	t->nprocs++;
	return p;
}

/* Records the testnet after each step; a failure to do so is fatal, for
 * `down` could not stop what it does not know. */
static int
up_record(const struct testnet *t)
{
	if (testnet_env_write(t) == -1) {
		up_err("%s/%s: %s", t->dir, TESTNET_ENV_FILE, strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts p, in its namespace under --netns, and records it. */
static int
up_spawn(struct testnet *t, struct testnet_proc *p, char *const argv[])
{
	char *wrapped[32];
	const char *exe = p->exe;
	char *const *args = argv;

	if (p->netns[0] != '\0') {
		if (testnet_netns_wrap(p, argv, wrapped,
		    sizeof(wrapped) / sizeof(wrapped[0]), &exe) == -1)
			return -1;
		args = wrapped;
	}
	if (testnet_spawn_detached_via(p, exe, args) == -1) {
		up_err("cannot start %s: %s", p->exe, strerror(errno));
		return -1;
	}
	return up_record(t);
}

/* Fails if a process `up` started has exited. */
static int
up_check_children(struct testnet *t)
{
	int status;

	for (size_t i = 0; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];

		if (!testnet_spawn_reap(p, &status))
			continue;
		if (WIFEXITED(status))
			up_err("%s %s (pid %ld) exited with status %d",
			    testnet_kind_name(p->kind), p->id, (long)p->pid,
			    WEXITSTATUS(status));
		else
			up_err("%s %s (pid %ld) was killed by signal %d",
			    testnet_kind_name(p->kind), p->id, (long)p->pid,
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		up_log_tail(p->log);
		return -1;
	}
	if (testnet_interrupted) {
		up_err("interrupted");
		return -1;
	}
	return 0;
}

static int
up_init(const struct testnet_proc *p, char *const argv[])
{
	int status = testnet_spawn_run(p->exe, argv, p->log, TESTNET_INIT_TIMEOUT_MS);

	if (status != 0) {
		up_err("%s %s: `%s %s` failed", testnet_kind_name(p->kind), p->id,
		    p->exe, argv[1]);
		up_log_tail(p->log);
		return -1;
	}
	return 0;
}

static int
up_directory(struct testnet *t, struct testnet_proc *p, long long deadline)
{
	char listen[64], health[TESTNET_URL_BYTES + 32], err[UP_ERR_BYTES];
	char *body;
	size_t len;
	long status;

	char epoch[16], allow[PATH_MAX];

	snprintf(listen, sizeof(listen), "%s:%u", p->host, (unsigned int)p->port);
	snprintf(epoch, sizeof(epoch), "%u", t->epoch_seconds);
	if (up_path(allow, sizeof(allow), "the allow-list", "%s/%s", t->dir,
	    UP_ALLOW_FILE) == -1)
		return -1;
	/* A closed network: only the testnet's own nodes are admitted. */
	char *argv[] = { p->exe, "--listen", listen, "--allow", allow,
	    t->epoch_seconds ? "--epoch-seconds" : NULL, epoch, NULL };
	if (up_spawn(t, p, argv) == -1)
		return -1;
	snprintf(health, sizeof(health), "%s%s", t->url, TESTNET_HEALTH_PATH);
	for (;;) {
		if (testnet_probe_get(health, &body, &len, &status, err,
		    sizeof(err)) == 0) {
			free(body);
			if (status == 200)
				return 0;
			snprintf(err, sizeof(err), "%s: HTTP status %ld", health, status);
		}
		if (up_check_children(t) == -1)
			return -1;
		if (testnet_now_ms() > deadline) {
			up_err("the directory does not answer (%s)", err);
			up_log_tail(p->log);
			return -1;
		}
		testnet_sleep_ms(TESTNET_POLL_MS);
	}
}

/* NODES_HOME/{mixnodes,providers}/ID/IDENTITY_PUBLIC_FILE of a node. */
static int
up_identity_path(const struct testnet *t, const struct testnet_proc *p,
    char *path, size_t len)
{
	return up_path(path, len, "an identity key", "%s/nodes/%s/%s/%s", t->dir,
	    p->kind == TESTNET_MIXNODE ? "mixnodes" : "providers", p->id,
	    IDENTITY_PUBLIC_FILE);
}

/* The directory's --allow file: every node's identity key, one a line. */
static int
up_allow_list(const struct testnet *t)
{
	char path[PATH_MAX], key[B64_KEY_CHARS + 1], *buf = NULL;
	size_t len = 0;
	uint8_t pub[32];
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL) {
		up_err("out of memory");
		return -1;
	}
	fprintf(f, "# identity keys of the testnet's nodes (nym-directory --allow)\n");
	for (size_t i = 0; i < t->nprocs; i++) {
		const struct testnet_proc *p = &t->procs[i];
		if (p->kind != TESTNET_MIXNODE && p->kind != TESTNET_PROVIDER)
			continue;
		if (up_identity_path(t, p, path, sizeof(path)) == -1) {
			fclose(f);
			free(buf);
			return -1;
		}
		if ((rc = pem_read_key(path, PEM_TYPE_IDENTITY_PUBLIC, 0, pub)) !=
		    PEM_OK) {
			up_err("%s: %s", path, pem_strerror(rc));
			fclose(f);
			free(buf);
			return -1;
		}
		b64_encode(key, pub, 32, B64_URLSAFE);
		fprintf(f, "%s\n", key);
	}
	fclose(f);
	if (up_path(path, sizeof(path), "the allow-list", "%s/%s", t->dir,
	    UP_ALLOW_FILE) == -1 ||
	    fs_write_atomic(path, buf, len, 0644) == -1) {
		up_err("%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/*
 * Sets one key of a node's config.toml as init wrote it: the line
 * "\nKEY = WAS\n" becomes "\nKEY = VALUE\n". Unless required, a file
 * or line that is not there leaves things as they are (a node program
 * of another version, or a test's stand-in).
 */
static int
up_node_set(const char *home, const struct testnet_proc *p, const char *key,
    const char *was, const char *value, int required)
{
	char file[PATH_MAX], old[128], line[128], *buf = NULL, *at, *out = NULL;
	size_t len, n, o;
	mode_t mode;
	int rc = -1;

	if (up_path(file, sizeof(file), "a node's configuration", "%s/%s/%s/config.toml",
	    home, p->kind == TESTNET_MIXNODE ? "mixnodes" : "providers", p->id) == -1)
		return -1;
	o = (size_t)snprintf(old, sizeof(old), "\n%s = %s\n", key, was);
	n = (size_t)snprintf(line, sizeof(line), "\n%s = %s\n", key, value);
	if (o >= sizeof(old) || n >= sizeof(line)) {
		up_err("%s: %s: value too long", file, key);
		return -1;
	}
	if (fs_read_file(file, 1 << 20, &buf, &len, &mode) == -1) {
		if (!required && errno == ENOENT)
			return 0;
		up_err("%s: %s", file, strerror(errno));
		return -1;
	}
	if ((at = strstr(buf, old)) == NULL) {
		if (!required)
			rc = 0;
		else
			up_err("%s: no %s = %s to set", file, key, was);
		goto out;
	}
	if ((out = malloc(len + n)) == NULL) {
		up_err("out of memory");
		goto out;
	}
	size_t head = (size_t)(at - buf), tail = len - head - o;
	memcpy(out, buf, head);
	memcpy(out + head, line, n);
	memcpy(out + head + n, at + o, tail);
	if (fs_write_atomic(file, out, head + n + tail, mode & 07777) == -1) {
		up_err("%s: %s", file, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(out);
	free(buf);
	return rc;
}

static int
up_node_init(struct testnet *t, struct testnet_proc *p)
{
	char home[PATH_MAX], port[8], layer[8];

	if (up_path(home, sizeof(home), "the nodes' home", "%s/nodes", t->dir) == -1)
		return -1;
	snprintf(port, sizeof(port), "%u", (unsigned int)p->port);
	snprintf(layer, sizeof(layer), "%u", p->layer);
	/* The nodes take the directory's base URL: they post their
	 * presence to {directory}/api/presence/... */
	if (p->kind == TESTNET_MIXNODE) {
		char *init[] = { p->exe, "init", "--id", p->id, "--home", home,
		    "--host", p->host, "--port", port, "--layer", layer,
		    "--directory", t->url, "--force", NULL };
		if (up_init(p, init) == -1)
			return -1;
	} else {
		char *init[] = { p->exe, "init", "--id", p->id, "--home", home,
		    "--host", p->host, "--port", port,
		    "--directory", t->url, "--force", NULL };
		if (up_init(p, init) == -1)
			return -1;
	}
	/* Every node shares this machine's cores: one Sphinx worker each
	 * (as many as the cores each would crowd out the clients). */
	if (up_node_set(home, p, "workers", "0", "1", 0) == -1)
		return -1;
	if (p->metrics_port != 0) {
		char listen[32];
		snprintf(listen, sizeof(listen), "\"127.0.0.1:%u\"",
		    (unsigned int)p->metrics_port);
		if (up_node_set(home, p, "metrics_listen", "\"\"", listen, 1) == -1)
			return -1;
	}
	return 0;
}

static int
up_node_run(struct testnet *t, struct testnet_proc *p)
{
	char home[PATH_MAX];

	if (up_path(home, sizeof(home), "the nodes' home", "%s/nodes", t->dir) == -1)
		return -1;
	char *run[] = { p->exe, "run", "--id", p->id, "--home", home, NULL };
	return up_spawn(t, p, run);
}

const struct topology_node *
testnet_listed(const struct topology *topo, const struct testnet_proc *p)
{
	char port[8];
	const struct topology_node *nodes = p->kind == TESTNET_MIXNODE ?
	    topo->mixnodes : topo->providers;
	size_t n = p->kind == TESTNET_MIXNODE ? topo->n_mixnodes : topo->n_providers;

	snprintf(port, sizeof(port), "%u", (unsigned int)p->port);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(nodes[i].port, port) != 0 ||
		    strcmp(nodes[i].host, p->host) != 0)
			continue;
		if (p->kind == TESTNET_MIXNODE && nodes[i].layer != p->layer)
			continue;
		/* Listed, but of no use to clients until it has epoch keys. */
		if (!topology_node_usable(topo, &nodes[i]))
			continue;
		return &nodes[i];
	}
	return NULL;
}

/* Counts the nodes not yet listed, taking the keys of those that are. */
static size_t
up_unlisted(struct testnet *t, const struct topology *topo)
{
	size_t missing = 0;

	for (size_t i = 0; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];
		const struct topology_node *node;

		if (p->kind != TESTNET_MIXNODE && p->kind != TESTNET_PROVIDER)
			continue;
		if (topo != NULL && (node = testnet_listed(topo, p)) != NULL)
			snprintf(p->pubkey, sizeof(p->pubkey), "%s", node->id);
		else {
			p->pubkey[0] = '\0';
			missing++;
		}
	}
	return missing;
}

static int
up_wait_topology(struct testnet *t, unsigned int timeout_seconds)
{
	long long deadline = testnet_now_ms() + (long long)timeout_seconds * 1000;
	char err[UP_ERR_BYTES] = "";
	struct topology *topo;

	for (;;) {
		topo = NULL;
		if (testnet_probe_topology(t->topology_url, &topo, err,
		    sizeof(err)) == 0)
			err[0] = '\0';
		size_t missing = up_unlisted(t, topo);
		topology_free(topo);
		if (missing == 0)
			return up_record(t);
		if (up_check_children(t) == -1)
			return -1;
		if (testnet_now_ms() > deadline) {
			up_err("after %u s the topology %s still lacks %zu node%s%s%s:",
			    timeout_seconds, t->topology_url, missing,
			    missing == 1 ? "" : "s", err[0] ? "; last error: " : "", err);
			for (size_t i = 0; i < t->nprocs; i++) {
				const struct testnet_proc *p = &t->procs[i];
				if ((p->kind == TESTNET_MIXNODE ||
				    p->kind == TESTNET_PROVIDER) && p->pubkey[0] == '\0')
					fprintf(stderr, "    %s %s (port %u): see %s\n",
					    testnet_kind_name(p->kind), p->id,
					    (unsigned int)p->port, p->log);
			}
			return -1;
		}
		testnet_sleep_ms(UP_TOPOLOGY_POLL_MS);
	}
}

/* Has the node's log said that its own topology lists every node? */
static int
up_node_knows_all(const struct testnet *t, const struct testnet_proc *p)
{
	char want[64], line[512];
	int found = 0;
	FILE *f;

	snprintf(want, sizeof(want), "topology: %u mixnodes, %u providers",
	    TOPOLOGY_MIX_LAYERS * t->mixes_per_layer, t->providers);
	if ((f = fopen(p->log, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/*
 * A provider may fetch its first topology before the last mixnode is
 * listed, and until its next refresh (10 s) it takes that mixnode's link
 * for a client's and drops what it relays: a client's first message
 * would be lost (seen under --netns with link delay, and on loopback
 * under load). So `up` waits until every node's own topology lists every
 * node.
 */
static int
up_wait_nodes_topology(struct testnet *t, unsigned int timeout_seconds)
{
	long long deadline = testnet_now_ms() + (long long)timeout_seconds * 1000;

	for (size_t i = 0; i < t->nprocs; i++) {
		const struct testnet_proc *p = &t->procs[i];

		if (p->kind != TESTNET_MIXNODE && p->kind != TESTNET_PROVIDER)
			continue;
		while (!up_node_knows_all(t, p)) {
			if (up_check_children(t) == -1)
				return -1;
			if (testnet_now_ms() > deadline) {
				up_err("%s %s: its topology does not list every node "
				    "after %u s", testnet_kind_name(p->kind), p->id,
				    timeout_seconds);
				up_log_tail(p->log);
				return -1;
			}
			testnet_sleep_ms(UP_TOPOLOGY_POLL_MS);
		}
	}
	return 0;
}

/* Sets the client's rates and delay, and finds its socket and key. */
static int
up_client_config(struct testnet_proc *p, const char *root,
    const struct testnet_up_options *o)
{
	struct nymd_config cfg;
	char file[PATH_MAX], pub[PATH_MAX], err[UP_ERR_BYTES];
	uint8_t key[PEM_KEY_BYTES];
	int rc;

	if (config_file_path(root, p->id, file, sizeof(file)) == -1) {
		up_err("client %s: the path of its configuration is too long", p->id);
		return -1;
	}
	if (config_load(file, root, &cfg, err, sizeof(err)) != CONFIG_OK) {
		up_err("client %s: %s", p->id, err);
		return -1;
	}
	cfg.loop_cover_traffic_rate = o->loop_rate;
	cfg.fetch_message_rate = o->fetch_rate;
	cfg.message_sending_rate = o->send_rate;
	cfg.average_delay_ms = o->delay_ms;
	cfg.topology_refresh_seconds = TESTNET_TOPOLOGY_REFRESH_SECONDS;
	/* Standard output is the client's log in D/logs. */
	cfg.log_disable = false;
	cfg.log_file[0] = '\0';
	if (config_check(&cfg, err, sizeof(err)) != CONFIG_OK) {
		up_err("client %s: %s", p->id, err);
		return -1;
	}
	if (config_write(file, &cfg) != CONFIG_OK) {
		up_err("%s: %s", file, strerror(errno));
		return -1;
	}
	if (config_resolve_path(&cfg, cfg.socket_path, p->socket,
	    sizeof(p->socket)) == -1) {
		up_err("client %s: its socket path would be longer than %d bytes; "
		    "use a shorter --dir", p->id, CONFIG_UNIX_PATH_BYTES - 1);
		return -1;
	}
	if (config_resolve_path(&cfg, cfg.pub_key_file, pub, sizeof(pub)) == -1) {
		up_err("client %s: the path of its public key is too long", p->id);
		return -1;
	}
	if ((rc = pem_read_key(pub, PEM_TYPE_PUBLIC, 0, key)) != PEM_OK) {
		up_err("client %s: %s: %s", p->id, pub, pem_strerror(rc));
		return -1;
	}
	b64_encode(p->pubkey, key, sizeof(key), B64_URLSAFE);
	return 0;
}

static int
up_client(struct testnet *t, struct testnet_proc *p,
    const struct testnet_up_options *o)
{
	char root[PATH_MAX];
	struct stat st;

	if (up_path(root, sizeof(root), "the clients' home", "%s/clients-home",
	    t->dir) == -1)
		return -1;
	char *init[] = { p->exe, "init", "--id", p->id, "--home", root,
	    "--directory", t->topology_url, "--provider", p->provider, "--force",
	    NULL };
	if (up_init(p, init) == -1 || up_client_config(p, root, o) == -1)
		return -1;
	/* A socket left from an earlier run would look like readiness. */
	if (lstat(p->socket, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(p->socket);
	char *run[] = { p->exe, "run", "--id", p->id, "--home", root, NULL };
	return up_spawn(t, p, run);
}

/* Is the client registered with its provider, as the topology says? */
static int
up_registered(const struct topology *topo, const struct testnet_proc *p)
{
	const struct topology_node *provider;
	uint8_t key[32];

	if (topo == NULL || b64_decode_key(key, p->pubkey, B64_URLSAFE) == -1 ||
	    (provider = topology_find_provider(topo, p->provider)) == NULL)
		return 0;
	for (size_t i = 0; i < provider->n_clients; i++)
		if (memcmp(provider->clients[i], key, sizeof(key)) == 0)
			return 1;
	return 0;
}

/*
 * Waits for each client's socket, then for the topology to list each
 * client with its provider, then for one more topology refresh, so that
 * every client knows every other when `up` returns.
 */
static int
up_wait_clients(struct testnet *t, unsigned int timeout_seconds)
{
	long long deadline = testnet_now_ms() + (long long)timeout_seconds * 1000;
	char err[UP_ERR_BYTES] = "";
	struct topology *topo = NULL;
	struct stat st;
	size_t i = 0, clients = 0;

	while (i < t->nprocs) {
		const struct testnet_proc *p = &t->procs[i];
		int ready = p->kind != TESTNET_CLIENT ||
		    (lstat(p->socket, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    up_registered(topo, p));

		if (ready) {
			clients += p->kind == TESTNET_CLIENT;
			i++;
			continue;
		}
		if (up_check_children(t) == -1)
			goto fail;
		if (testnet_now_ms() > deadline) {
			if (lstat(p->socket, &st) == -1)
				up_err("client %s: no socket %s after %u s", p->id,
				    p->socket, timeout_seconds);
			else
				up_err("client %s: not registered with its provider "
				    "in the topology after %u s%s%s", p->id,
				    timeout_seconds, err[0] ? ": " : "", err);
			up_log_tail(p->log);
			goto fail;
		}
		testnet_sleep_ms(UP_TOPOLOGY_POLL_MS);
		topology_free(topo);
		topo = NULL;
		if (testnet_probe_topology(t->topology_url, &topo, err,
		    sizeof(err)) == 0)
			err[0] = '\0';
	}
	topology_free(topo);
	if (clients > 0)
		testnet_sleep_ms(TESTNET_TOPOLOGY_REFRESH_SECONDS * 1000 + 500);
	return up_check_children(t);
fail:
	topology_free(topo);
	return -1;
}

/* Every process of the testnet, with its port, in testnet.env order. */
static int
up_plan(struct testnet *t, const struct testnet_up_options *o)
{
	char directory[PATH_MAX], mixnode[PATH_MAX], provider[PATH_MAX];
	char nymd[PATH_MAX], key[TESTNET_KEY_BYTES], id[CONFIG_ID_BYTES];
	uint16_t ports[2 * TESTNET_MAX_PROCS] = { 0 };
	size_t nnodes = TOPOLOGY_MIX_LAYERS * o->mixes_per_layer + o->providers;
	size_t nports = 1 + nnodes + (o->metrics ? nnodes : 0);
	struct testnet_proc *p;

	if (up_binary(t, UP_DIRECTORY_BIN, directory) == -1 ||
	    up_binary(t, UP_MIXNODE_BIN, mixnode) == -1 ||
	    up_binary(t, UP_PROVIDER_BIN, provider) == -1 ||
	    (o->nclients > 0 && up_binary(t, UP_NYMD_BIN, nymd) == -1))
		return -1;
	if (!t->netns && testnet_probe_ports(ports, nports) == -1) {
		up_err("cannot find free ports on %s: %s", TESTNET_HOST, strerror(errno));
		return -1;
	}
	size_t next = 0;
	if ((p = up_add(t, TESTNET_DIRECTORY, directory, "DIRECTORY", "directory")) == NULL)
		return -1;
	p->port = ports[next++];
	for (unsigned int layer = 1; layer <= TOPOLOGY_MIX_LAYERS; layer++) {
		for (unsigned int i = 1; i <= o->mixes_per_layer; i++) {
			snprintf(key, sizeof(key), "MIX%u_%u", layer, i);
			snprintf(id, sizeof(id), "mix%u_%u", layer, i);
			if ((p = up_add(t, TESTNET_MIXNODE, mixnode, key, id)) == NULL)
				return -1;
			p->port = ports[next++];
			p->layer = layer;
		}
	}
	for (unsigned int i = 1; i <= o->providers; i++) {
		snprintf(key, sizeof(key), "PROVIDER%u", i);
		snprintf(id, sizeof(id), "provider%u", i);
		if ((p = up_add(t, TESTNET_PROVIDER, provider, key, id)) == NULL)
			return -1;
		p->port = ports[next++];
	}
	for (size_t i = 0; i < o->nclients; i++) {
		snprintf(key, sizeof(key), "CLIENT_%s", o->clients[i]);
		if (up_add(t, TESTNET_CLIENT, nymd, key, o->clients[i]) == NULL)
			return -1;
	}
	/* Under --netns, each process has an address and ports of its own. */
	if (t->netns && testnet_netns_plan(t) == -1)
		return -1;
	/* The nodes' metrics: free ports of their own, or beside the node's
	 * port on the loopback of its namespace. */
	for (size_t i = 0; o->metrics && i < t->nprocs; i++) {
		p = &t->procs[i];
		if (p->kind != TESTNET_MIXNODE && p->kind != TESTNET_PROVIDER)
			continue;
		p->metrics_port = t->netns ? (uint16_t)(p->port + 1) : ports[next++];
	}
	snprintf(t->url, sizeof(t->url), "http://%s:%u", t->procs[0].host,
	    (unsigned int)t->procs[0].port);
	snprintf(t->topology_url, sizeof(t->topology_url), "http://%s:%u%s",
	    t->procs[0].host, (unsigned int)t->procs[0].port, TESTNET_TOPOLOGY_PATH);
	return 0;
}

/* Clients go round the providers, so that a message between two clients
 * crosses two providers when there are two. */
static const char *
up_provider_for(const struct testnet *t, size_t client_index)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].kind == TESTNET_PROVIDER)
			n++;
	size_t want = client_index % n;
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].kind == TESTNET_PROVIDER && want-- == 0)
			return t->procs[i].pubkey;
	return "";
}

/*
 * Where the kernel lacks netem: `nym-testnet links` in the links
 * namespace carries every frame, and up waits until it does.
 */
static int
up_links(struct testnet *t)
{
	char self[PATH_MAX], dir[PATH_MAX];
	struct testnet_proc *p;
	long long deadline = testnet_now_ms() + TESTNET_IP_TIMEOUT_MS;

	if (strcmp(t->emulation, "userspace") != 0)
		return 0;
	if (realpath("/proc/self/exe", self) == NULL) {
		up_err("/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	if ((p = up_add(t, TESTNET_LINKS, self, "LINKS", "links")) == NULL)
		return -1;
	snprintf(p->netns, sizeof(p->netns), "%s", t->links);
	snprintf(dir, sizeof(dir), "%s", t->dir);
	char *run[] = { p->exe, "links", "--dir", dir, NULL };
	if (up_spawn(t, p, run) == -1)
		return -1;
	for (;;) {
		char line[256] = "";
		FILE *f = fopen(p->log, "re");

		if (f != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (strstr(line, " links, delay ") != NULL) {
					fclose(f);
					return 0;
				}
			fclose(f);
		}
		if (up_check_children(t) == -1)
			return -1;
		if (testnet_now_ms() > deadline) {
			up_err("the link emulator did not start");
			up_log_tail(p->log);
			return -1;
		}
		testnet_sleep_ms(TESTNET_POLL_MS);
	}
}

/*
 * Under --netns: the hub and every process's link, then this process
 * moves into the hub, from where it reaches every address. A proxy from
 * the environment would be unreachable from the namespaces.
 */
static int
up_network(struct testnet *t)
{
	static const char *const proxies[] = {
		"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};

	if (!t->netns)
		return 0;
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	if (testnet_netns_hub(t) == -1 || testnet_netns_emulation(t) == -1)
		return -1;
	for (size_t i = 0; i < t->nprocs; i++)
		if (testnet_netns_link(t, &t->procs[i]) == -1)
			return -1;
	if (up_record(t) == -1 || up_links(t) == -1)
		return -1;
	return testnet_netns_enter(t);
}

static int
up_run(struct testnet *t, const struct testnet_up_options *o)
{
	long long deadline = testnet_now_ms() + (long long)o->timeout_seconds * 1000;
	size_t client = 0;

	if (up_plan(t, o) == -1 || up_record(t) == -1 || up_network(t) == -1)
		return -1;
	/* The nodes' identities first: the directory admits only them. */
	for (size_t i = 1; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];
		if ((p->kind == TESTNET_MIXNODE || p->kind == TESTNET_PROVIDER) &&
		    up_node_init(t, p) == -1)
			return -1;
	}
	if (up_allow_list(t) == -1 ||
	    up_directory(t, &t->procs[0], deadline) == -1)
		return -1;
	for (size_t i = 1; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];
		if ((p->kind == TESTNET_MIXNODE || p->kind == TESTNET_PROVIDER) &&
		    (up_node_run(t, p) == -1 || up_check_children(t) == -1))
			return -1;
	}
	if (up_wait_topology(t, o->timeout_seconds) == -1 ||
	    up_wait_nodes_topology(t, o->timeout_seconds) == -1)
		return -1;
	for (size_t i = 0; i < t->nprocs; i++) {
		struct testnet_proc *p = &t->procs[i];
		if (p->kind != TESTNET_CLIENT)
			continue;
		snprintf(p->provider, sizeof(p->provider), "%s",
		    up_provider_for(t, client++));
		if (up_client(t, p, o) == -1)
			return -1;
	}
	return up_wait_clients(t, o->timeout_seconds);
}

/* Refuses to start over a testnet that still runs. */
static int
up_check_previous(const struct testnet *t)
{
	struct testnet *old;
	char err[UP_ERR_BYTES];
	int rc = 0;

	if ((old = calloc(1, sizeof(*old))) == NULL) {
		up_err("out of memory");
		return -1;
	}
	memcpy(old->dir, t->dir, sizeof(old->dir));
	if (testnet_env_read(old, err, sizeof(err)) == -1) {
		if (errno != ENOENT) {
			up_err("%s; remove it if no testnet runs there", err);
			rc = -1;
		}
		free(old);
		return rc;
	}
	for (size_t i = 0; i < old->nprocs; i++) {
		if (testnet_spawn_check(&old->procs[i]) == TESTNET_RUNNING) {
			up_err("a testnet already runs in %s (%s, pid %ld); "
			    "stop it with: nym-testnet down --dir %s", t->dir,
			    old->procs[i].id, (long)old->procs[i].pid, t->dir);
			rc = -1;
			break;
		}
	}
	/* Nothing of it runs: the namespaces it recorded are left over. */
	if (rc == 0 && testnet_netns_remove(old, 0) > 0) {
		up_err("cannot remove the namespaces of the last testnet in %s; "
		    "try: nym-testnet down --dir %s", t->dir, t->dir);
		rc = -1;
	}
	free(old);
	return rc;
}

static void
up_summary(const struct testnet *t)
{
	printf("testnet up in %s\n", t->dir);
	printf("  directory  %s (pid %ld)%s%s\n", t->url, (long)t->procs[0].pid,
	    t->netns ? " netns " : "", t->procs[0].netns);
	for (size_t i = 1; i < t->nprocs; i++) {
		const struct testnet_proc *p = &t->procs[i];

		if (p->kind == TESTNET_CLIENT)
			printf("  client     %-10s pid %-7ld socket %s", p->id,
			    (long)p->pid, p->socket);
		else if (p->kind == TESTNET_LINKS)
			printf("  links      %-10s pid %-7ld user-space link delay, "
			    "jitter and loss (no netem here)", p->id, (long)p->pid);
		else if (p->kind == TESTNET_MIXNODE)
			printf("  mixnode    %-10s pid %-7ld %s:%u layer %u", p->id,
			    (long)p->pid, p->host, (unsigned int)p->port, p->layer);
		else
			printf("  provider   %-10s pid %-7ld %s:%u", p->id,
			    (long)p->pid, p->host, (unsigned int)p->port);
		if (t->netns)
			printf(" netns %s", p->netns);
		putchar('\n');
	}
	if (t->netns)
		printf("Reach the addresses from the hub: ip netns exec %s COMMAND\n",
		    t->hub);
	printf("Details: . %s/%s\nStop it:  nym-testnet down --dir %s\n",
	    t->dir, TESTNET_ENV_FILE, t->dir);
}

int
testnet_up(struct testnet *t, const struct testnet_up_options *o)
{
	char logs[PATH_MAX];

	t->mixes_per_layer = o->mixes_per_layer;
	t->providers = o->providers;
	t->delay_ms = o->delay_ms;
	t->epoch_seconds = o->epoch_seconds;
	t->loop_rate = o->loop_rate;
	t->fetch_rate = o->fetch_rate;
	t->send_rate = o->send_rate;
	t->netns = o->netns;
	t->link_delay_ms = o->link_delay_ms;
	t->link_jitter_ms = o->link_jitter_ms;
	t->link_loss = o->link_loss;
	snprintf(t->state, sizeof(t->state), "starting");
	if (up_path(logs, sizeof(logs), "the log directory", "%s/logs", t->dir) == -1)
		return TESTNET_EXIT_FAILURE;
	if (fs_mkdirs(logs, 0755) == -1) {
		up_err("%s: %s", logs, strerror(errno));
		return TESTNET_EXIT_FAILURE;
	}
	if (up_check_previous(t) == -1 || up_bindir(t->bindir, sizeof(t->bindir)) == -1)
		return TESTNET_EXIT_FAILURE;
	if (up_run(t, o) == 0) {
		snprintf(t->state, sizeof(t->state), "up");
		if (up_record(t) == 0) {
			up_summary(t);
			return TESTNET_EXIT_OK;
		}
	}
	fprintf(stderr, "nym-testnet up: stopping what was started\n");
	if (testnet_stop_all(t, o->grace_seconds, 0) == 0)
		testnet_netns_remove(t, 0);
	snprintf(t->state, sizeof(t->state), "failed");
	if (t->nprocs > 0)
		up_record(t);
	return TESTNET_EXIT_FAILURE;
}

size_t
testnet_stop_all(struct testnet *t, unsigned int grace_seconds, int verbose)
{
	/* Clients first, then the nodes, the directory last. */
	static const enum testnet_kind waves[][2] = {
		{ TESTNET_CLIENT, TESTNET_CLIENT },
		{ TESTNET_MIXNODE, TESTNET_PROVIDER },
		{ TESTNET_DIRECTORY, TESTNET_LINKS },
	};
	struct testnet_proc *procs[TESTNET_MAX_PROCS];
	size_t left = 0;

	for (size_t w = 0; w < sizeof(waves) / sizeof(waves[0]); w++) {
		size_t n = 0;
		for (size_t i = t->nprocs; i-- > 0; )
			if (t->procs[i].kind == waves[w][0] ||
			    t->procs[i].kind == waves[w][1])
				procs[n++] = &t->procs[i];
		left += testnet_spawn_stop(procs, n, grace_seconds * 1000, verbose);
	}
	return left;
}

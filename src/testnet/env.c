/*
 * D/testnet.env: the record of a testnet, written by `up` after every
 * process it starts and read back by `status` and `down`. Each line is
 * KEY='VALUE' (a single quote inside a value is written '\''), so that a
 * shell can source the file and read the same values this parser reads.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/number.h"
#include "testnet/testnet.h"

#define ENV_MAX_FILE_BYTES	(1024 * 1024)
#define ENV_MAX_VARS		4096
#define ENV_NAME_BYTES		128

struct env_var {
	char	*name;
	char	*value;
};

struct env {
	struct env_var	*vars;
	size_t		 n;
};

static const char *const env_kind_names[] = {
	[TESTNET_DIRECTORY] = "directory",
	[TESTNET_MIXNODE] = "mixnode",
	[TESTNET_PROVIDER] = "provider",
	[TESTNET_CLIENT] = "client",
	[TESTNET_LINKS] = "links",
};

const char *
testnet_kind_name(enum testnet_kind kind)
{
	return env_kind_names[kind];
}

static void
env_put(FILE *f, const char *prefix, const char *name, const char *value)
{
	fprintf(f, "%s%s%s='", prefix, prefix[0] ? "_" : "", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else
			fputc(*p, f);
	}
	fputs("'\n", f);
}

static void
env_putf(FILE *f, const char *prefix, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
env_putf(FILE *f, const char *prefix, const char *name, const char *fmt, ...)
{
	char buf[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	env_put(f, prefix, name, buf);
}

static void
env_put_proc(FILE *f, const struct testnet_proc *p)
{
	env_put(f, p->key, "KIND", testnet_kind_name(p->kind));
	env_put(f, p->key, "ID", p->id);
	env_putf(f, p->key, "PID", "%ld", (long)p->pid);
	env_putf(f, p->key, "START", "%llu", p->start_ticks);
	env_put(f, p->key, "EXE", p->exe);
	env_put(f, p->key, "LOG", p->log);
	if (p->port != 0) {
		env_put(f, p->key, "HOST", p->host);
		env_putf(f, p->key, "PORT", "%u", (unsigned int)p->port);
	}
	if (p->kind == TESTNET_MIXNODE)
		env_putf(f, p->key, "LAYER", "%u", p->layer);
	if (p->metrics_port != 0)
		env_putf(f, p->key, "METRICS", "127.0.0.1:%u",
		    (unsigned int)p->metrics_port);
	if (p->pubkey[0] != '\0')
		env_put(f, p->key, "PUBKEY", p->pubkey);
	if (p->kind == TESTNET_CLIENT) {
		env_put(f, p->key, "PROVIDER", p->provider);
		env_put(f, p->key, "SOCKET", p->socket);
	}
	if (p->netns[0] != '\0') {
		env_put(f, p->key, "NETNS", p->netns);
		env_put(f, p->key, "VETH", p->veth);
		env_put(f, p->key, "ADDR", p->addr);
		env_putf(f, p->key, "PARTITIONED", "%d", p->partitioned);
	}
}

/* --netns: the hub, the link options and every namespace made. */
static void
env_put_netns(FILE *f, const struct testnet *t)
{
	env_putf(f, "", "TESTNET_NETNS", "%d", t->netns);
	if (!t->netns)
		return;
	env_put(f, "", "TESTNET_NETNS_HUB", t->hub);
	env_putf(f, "", "TESTNET_LINK_DELAY_MS", "%g", t->link_delay_ms);
	env_putf(f, "", "TESTNET_LINK_JITTER_MS", "%g", t->link_jitter_ms);
	env_putf(f, "", "TESTNET_LINK_LOSS", "%g", t->link_loss);
	env_put(f, "", "TESTNET_LINK_EMULATION", t->emulation);
	env_put(f, "", "TESTNET_NETNS_LINKS", t->links);
	fputs("TESTNET_NAMESPACES='", f);
	for (size_t i = 0; i < t->nmade; i++)
		fprintf(f, "%s%s", i ? " " : "", t->made[i]);
	fputs("'\n", f);
}

int
testnet_env_write(const struct testnet *t)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", t->dir, TESTNET_ENV_FILE) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	fprintf(f, "# The local mixnet started by nym-testnet up; see nym-testnet(1).\n"
	    "# Shell-sourceable: . %s\n", path);
	env_put(f, "", "TESTNET_STATE", t->state);
	env_put(f, "", "TESTNET_DIR", t->dir);
	env_put(f, "", "TESTNET_BIN_DIR", t->bindir);
	env_put(f, "", "DIRECTORY_URL", t->url);
	env_put(f, "", "DIRECTORY_TOPOLOGY_URL", t->topology_url);
	env_putf(f, "", "TESTNET_MIXES_PER_LAYER", "%u", t->mixes_per_layer);
	env_putf(f, "", "TESTNET_PROVIDERS", "%u", t->providers);
	env_putf(f, "", "TESTNET_DELAY_MS", "%g", t->delay_ms);
	env_putf(f, "", "TESTNET_LOOP_RATE", "%g", t->loop_rate);
	env_putf(f, "", "TESTNET_FETCH_RATE", "%g", t->fetch_rate);
	env_putf(f, "", "TESTNET_SEND_RATE", "%g", t->send_rate);
	env_putf(f, "", "TESTNET_CLIENTS_HOME", "%s/clients-home", t->dir);
	env_put_netns(f, t);

	fputs("TESTNET_CLIENTS='", f);
	for (size_t i = 0, first = 1; i < t->nprocs; i++) {
		if (t->procs[i].kind != TESTNET_CLIENT)
			continue;
		fprintf(f, "%s%s", first ? "" : " ", t->procs[i].id);
		first = 0;
	}
	fputs("'\nTESTNET_PROCESSES='", f);
	for (size_t i = 0; i < t->nprocs; i++)
		fprintf(f, "%s%s", i ? " " : "", t->procs[i].key);
	fputs("'\n", f);
	for (size_t i = 0; i < t->nprocs; i++)
		env_put_proc(f, &t->procs[i]);
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	rc = fs_write_atomic(path, buf, len, 0644);
	free(buf);
	return rc;
}

static void
env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->vars[i].name);
		free(e->vars[i].value);
	}
	free(e->vars);
	e->vars = NULL;
	e->n = 0;
}

static int
env_name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= ENV_NAME_BYTES ||
	    !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/*
 * Unquotes a value the way sh would for what env_put() writes: '...'
 * literal, \c is c, anything else itself, up to an unquoted blank. The
 * result is at most as long as the input. Returns 0 or -1.
 */
static int
env_unquote(const char *s, const char *end, char *out)
{
	while (s < end && *s != ' ' && *s != '\t') {
		if (*s == '\'') {
			const char *q = memchr(s + 1, '\'', (size_t)(end - s - 1));
			if (q == NULL)
				return -1;
			memcpy(out, s + 1, (size_t)(q - s - 1));
			out += q - s - 1;
			s = q + 1;
		} else if (*s == '\\') {
			if (s + 1 >= end)
				return -1;
			*out++ = s[1];
			s += 2;
		} else if (*s == '"' || *s == '$' || *s == '`') {
			return -1;	/* never written; not worth expanding */
		} else
			*out++ = *s++;
	}
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < end && *s != '#')
		return -1;
	*out = '\0';
	return 0;
}

static int
env_parse_line(struct env *e, const char *line, const char *end)
{
	const char *eq;
	char *name, *value;

	while (line < end && (*line == ' ' || *line == '\t'))
		line++;
	if (line == end || *line == '#')
		return 0;
	if ((eq = memchr(line, '=', (size_t)(end - line))) == NULL ||
	    !env_name_valid(line, (size_t)(eq - line)) || e->n >= ENV_MAX_VARS)
		return -1;
	name = strndup(line, (size_t)(eq - line));
	value = malloc((size_t)(end - eq));
	if (name == NULL || value == NULL ||
	    env_unquote(eq + 1, end, value) == -1) {
		free(name);
		free(value);
		return -1;
	}
	/* A later assignment wins, as in the shell. */
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->vars[i].name, name) == 0) {
			free(e->vars[i].value);
			e->vars[i].value = value;
			free(name);
			return 0;
		}
	}
	struct env_var *v = realloc(e->vars, (e->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(name);
		free(value);
		return -1;
	}
	e->vars = v;
	e->vars[e->n].name = name;
	e->vars[e->n].value = value;
	e->n++;
	return 0;
}

/* Returns 0, or the failing line number, or -1 for an I/O error. */
static long
env_load(const char *path, struct env *e)
{
	char *buf;
	ssize_t len;
	long lineno = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((buf = malloc(ENV_MAX_FILE_BYTES + 1)) == NULL) {
		close(fd);
		return -1;
	}
	len = fs_read_all(fd, buf, ENV_MAX_FILE_BYTES + 1);
	close(fd);
	if (len < 0 || len > ENV_MAX_FILE_BYTES) {
		if (len > ENV_MAX_FILE_BYTES)
			errno = EFBIG;
		free(buf);
		return -1;
	}
	for (const char *p = buf, *end = buf + len; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		lineno++;
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL ||
		    env_parse_line(e, p, eol) == -1) {
			free(buf);
			env_free(e);
			return lineno;
		}
		p = eol + 1;
	}
	free(buf);
	return 0;
}

static const char *
env_get(const struct env *e, const char *prefix, const char *name)
{
	char full[ENV_NAME_BYTES * 2];

	snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "_" : "", name);
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->vars[i].name, full) == 0)
			return e->vars[i].value;
	return NULL;
}

static int
env_copy(char *out, size_t outlen, const char *value)
{
	if (value == NULL || strlen(value) >= outlen)
		return -1;
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

static int
env_ull(const char *value, unsigned long long max, unsigned long long *out)
{
	uint64_t v;

	if (value == NULL || number_parse(value, 0, max, &v) == -1)
		return -1;
	*out = v;
	return 0;
}

static void
env_double(const char *value, double *out)
{
	char *end;
	double v;

	if (value == NULL)
		return;
	errno = 0;
	v = strtod(value, &end);
	if (errno == 0 && end != value && *end == '\0' && isfinite(v))
		*out = v;
}

static int
env_kind(const char *value, enum testnet_kind *out)
{
	for (size_t i = 0; i < sizeof(env_kind_names) / sizeof(env_kind_names[0]); i++) {
		if (value != NULL && strcmp(value, env_kind_names[i]) == 0) {
			*out = (enum testnet_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Fills p from KEY_*; returns NULL or the name of the bad variable. */
static const char *
env_read_proc(const struct env *e, const char *key, struct testnet_proc *p)
{
	unsigned long long v;
	const char *s;

	memset(p, 0, sizeof(*p));
	if (env_copy(p->key, sizeof(p->key), key) == -1 ||
	    !env_name_valid(key, strlen(key)))
		return "TESTNET_PROCESSES";
	if (env_kind(env_get(e, key, "KIND"), &p->kind) == -1)
		return "KIND";
	if (env_copy(p->id, sizeof(p->id), env_get(e, key, "ID")) == -1)
		return "ID";
	/* 0 is a process that was never started. */
	if (env_ull(env_get(e, key, "PID"), 4194304, &v) == -1)
		return "PID";
	p->pid = (pid_t)v;
	if (env_ull(env_get(e, key, "START"), ~0ULL, &p->start_ticks) == -1)
		return "START";
	if (env_copy(p->exe, sizeof(p->exe), env_get(e, key, "EXE")) == -1 ||
	    p->exe[0] != '/')
		return "EXE";
	if ((s = env_get(e, key, "LOG")) != NULL &&
	    env_copy(p->log, sizeof(p->log), s) == -1)
		return "LOG";
	if ((s = env_get(e, key, "PORT")) != NULL) {
		if (env_ull(s, 65535, &v) == -1)
			return "PORT";
		p->port = (uint16_t)v;
	}
	if ((s = env_get(e, key, "METRICS")) != NULL) {
		if (strncmp(s, "127.0.0.1:", 10) != 0 ||
		    env_ull(s + 10, 65535, &v) == -1 || v == 0)
			return "METRICS";
		p->metrics_port = (uint16_t)v;
	}
	if ((s = env_get(e, key, "LAYER")) != NULL) {
		if (env_ull(s, TOPOLOGY_MIX_LAYERS, &v) == -1)
			return "LAYER";
		p->layer = (unsigned int)v;
	}
	if ((s = env_get(e, key, "PUBKEY")) != NULL &&
	    env_copy(p->pubkey, sizeof(p->pubkey), s) == -1)
		return "PUBKEY";
	if ((s = env_get(e, key, "PROVIDER")) != NULL &&
	    env_copy(p->provider, sizeof(p->provider), s) == -1)
		return "PROVIDER";
	if ((s = env_get(e, key, "SOCKET")) != NULL &&
	    env_copy(p->socket, sizeof(p->socket), s) == -1)
		return "SOCKET";
	if ((s = env_get(e, key, "HOST")) != NULL &&
	    env_copy(p->host, sizeof(p->host), s) == -1)
		return "HOST";
	if ((s = env_get(e, key, "NETNS")) != NULL &&
	    env_copy(p->netns, sizeof(p->netns), s) == -1)
		return "NETNS";
	if ((s = env_get(e, key, "VETH")) != NULL &&
	    env_copy(p->veth, sizeof(p->veth), s) == -1)
		return "VETH";
	if ((s = env_get(e, key, "ADDR")) != NULL &&
	    env_copy(p->addr, sizeof(p->addr), s) == -1)
		return "ADDR";
	if ((s = env_get(e, key, "PARTITIONED")) != NULL) {
		if (env_ull(s, 1, &v) == -1)
			return "PARTITIONED";
		p->partitioned = (int)v;
	}
	return NULL;
}

/* The names of TESTNET_NAMESPACES, each a namespace `up` made. */
static int
env_fill_netns(const struct env *e, struct testnet *t, char *err, size_t errlen)
{
	unsigned long long v;
	const char *list;

	t->netns = env_ull(env_get(e, "", "TESTNET_NETNS"), 1, &v) == 0 && v == 1;
	t->nmade = 0;
	if (!t->netns)
		return 0;
	if (env_copy(t->hub, sizeof(t->hub), env_get(e, "", "TESTNET_NETNS_HUB")) == -1) {
		snprintf(err, errlen, "TESTNET_NETNS_HUB is missing or too long");
		return -1;
	}
	env_double(env_get(e, "", "TESTNET_LINK_DELAY_MS"), &t->link_delay_ms);
	env_double(env_get(e, "", "TESTNET_LINK_JITTER_MS"), &t->link_jitter_ms);
	env_double(env_get(e, "", "TESTNET_LINK_LOSS"), &t->link_loss);
	if ((list = env_get(e, "", "TESTNET_LINK_EMULATION")) != NULL)
		snprintf(t->emulation, sizeof(t->emulation), "%s", list);
	if ((list = env_get(e, "", "TESTNET_NETNS_LINKS")) != NULL &&
	    env_copy(t->links, sizeof(t->links), list) == -1) {
		snprintf(err, errlen, "TESTNET_NETNS_LINKS is too long");
		return -1;
	}
	if ((list = env_get(e, "", "TESTNET_NAMESPACES")) == NULL)
		list = "";
	for (const char *p = list; *p != '\0'; ) {
		size_t n = strcspn(p, " ");

		if (n == 0) {
			p++;
			continue;
		}
		/* Only names `up` gives: what down removes must be ours. */
		if (n >= sizeof(t->made[0]) || t->nmade >= sizeof(t->made) /
		    sizeof(t->made[0]) || memchr(p, '/', n) != NULL || p[0] == '.') {
			snprintf(err, errlen, "TESTNET_NAMESPACES: a bad name or too many");
			return -1;
		}
		memcpy(t->made[t->nmade], p, n);
		t->made[t->nmade++][n] = '\0';
		p += n;
	}
	return 0;
}

static int
env_fill(const struct env *e, struct testnet *t, char *err, size_t errlen)
{
	unsigned long long v;
	const char *list, *bad;

	if (env_copy(t->state, sizeof(t->state), env_get(e, "", "TESTNET_STATE")) == -1 ||
	    env_copy(t->bindir, sizeof(t->bindir), env_get(e, "", "TESTNET_BIN_DIR")) == -1 ||
	    env_copy(t->url, sizeof(t->url), env_get(e, "", "DIRECTORY_URL")) == -1 ||
	    env_copy(t->topology_url, sizeof(t->topology_url),
	    env_get(e, "", "DIRECTORY_TOPOLOGY_URL")) == -1) {
		snprintf(err, errlen, "a TESTNET_STATE, TESTNET_BIN_DIR or "
		    "DIRECTORY_URL line is missing or too long");
		return -1;
	}
	if (env_ull(env_get(e, "", "TESTNET_MIXES_PER_LAYER"),
	    TESTNET_MAX_MIXES_PER_LAYER, &v) == 0)
		t->mixes_per_layer = (unsigned int)v;
	if (env_ull(env_get(e, "", "TESTNET_PROVIDERS"), TESTNET_MAX_PROVIDERS, &v) == 0)
		t->providers = (unsigned int)v;
	/* Kept only to be written back as they were. */
	env_double(env_get(e, "", "TESTNET_DELAY_MS"), &t->delay_ms);
	env_double(env_get(e, "", "TESTNET_LOOP_RATE"), &t->loop_rate);
	env_double(env_get(e, "", "TESTNET_FETCH_RATE"), &t->fetch_rate);
	env_double(env_get(e, "", "TESTNET_SEND_RATE"), &t->send_rate);
	if (env_fill_netns(e, t, err, errlen) == -1)
		return -1;
	if ((list = env_get(e, "", "TESTNET_PROCESSES")) == NULL) {
		snprintf(err, errlen, "no TESTNET_PROCESSES line");
		return -1;
	}
	t->nprocs = 0;
	for (const char *p = list; *p != '\0'; ) {
		char key[TESTNET_KEY_BYTES];
		size_t n = strcspn(p, " ");

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(key) || t->nprocs >= TESTNET_MAX_PROCS) {
			snprintf(err, errlen, "TESTNET_PROCESSES: too many or too long names");
			return -1;
		}
		memcpy(key, p, n);
		key[n] = '\0';
		if ((bad = env_read_proc(e, key, &t->procs[t->nprocs])) != NULL) {
			snprintf(err, errlen, "%s_%s is missing or invalid", key, bad);
			return -1;
		}
		t->nprocs++;
		p += n;
	}
	return 0;
}

int
testnet_env_read(struct testnet *t, char *err, size_t errlen)
{
	struct env e = { NULL, 0 };
	char path[PATH_MAX];
	long line;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", t->dir, TESTNET_ENV_FILE) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", t->dir);
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((line = env_load(path, &e)) == -1) {
		int saved = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (line > 0) {
		snprintf(err, errlen, "%s:%ld: not a line nym-testnet writes", path, line);
		errno = EINVAL;
		return -1;
	}
	char why[256];
	rc = env_fill(&e, t, why, sizeof(why));
	if (rc == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		errno = EINVAL;
	}
	env_free(&e);
	return rc;
}

/*
 * nym-directory: the directory server of the local mixnet. Mixnodes and
 * providers announce themselves over HTTP; clients read the topology in
 * the seed's JSON shape. One process, one libevent loop, state in memory.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/b64.h"
#include "common/epoch.h"
#include "common/log.h"
#include "common/number.h"
#include "common/topology.h"
#include "directory/registry.h"
#include "directory/sandbox.h"
#include "directory/server.h"

#define DIRECTORY_EXIT_FAILURE		1
#define DIRECTORY_EXIT_USAGE		2
#define DIRECTORY_DEFAULT_LISTEN	"127.0.0.1:8080"
#define DIRECTORY_DEFAULT_STALE_SECONDS	30
#define DIRECTORY_MAX_STALE_SECONDS	86400
#define DIRECTORY_SWEEP_SECONDS		1

struct directory {
	struct event_base	*base;
	struct registry		*registry;
	struct server		*server;
	struct event		*sweep;
	struct event		*sigterm;
	struct event		*sigint;
};

struct directory_options {
	const char	*prog;
	char		 host[TOPOLOGY_HOST_BYTES];
	uint16_t	 port;
	long		 stale_seconds;
	long		 epoch_seconds;
	const char	*allow_file;
	long		 post_rate;
	enum log_level	 level;
};

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
	    "Usage: %s [--listen ADDR:PORT] [--stale-seconds N] [--epoch-seconds N]\n"
	    "       [--allow FILE] [--post-rate N] [--log-level LEVEL]\n"
	    "       %s --help | -h | --version\n\n"
	    "The directory server of a local Loopix mixnet.\n\n"
	    "Options:\n"
	    "    --listen ADDR:PORT   address to listen on (default %s;\n"
	    "                         [v6]:port for IPv6, port 0 for any)\n"
	    "    --stale-seconds N    forget a node not renewed for N seconds\n"
	    "                         (1 to %d, default %d)\n"
	    "    --epoch-seconds N    length of a key epoch, announced in the\n"
	    "                         topology (%u to %u, default %u)\n"
	    "    --allow FILE         admit only the nodes whose identity keys\n"
	    "                         FILE lists, one per line (a closed network)\n"
	    "    --post-rate N        writes (POSTs) per second one address may make,\n"
	    "                         in bursts of 3 s worth; 0 for no limit\n"
	    "                         (0 to 100000, default %d)\n"
	    "    --log-level LEVEL    trace, debug, info, warning, error, panic, fatal\n"
	    "                         (default info)\n"
	    "    -h, --help           print this help\n"
	    "    --version            print the version\n",
	    prog, prog, DIRECTORY_DEFAULT_LISTEN, DIRECTORY_MAX_STALE_SECONDS,
	    DIRECTORY_DEFAULT_STALE_SECONDS, EPOCH_MIN_SECONDS, EPOCH_MAX_SECONDS,
	    EPOCH_DEFAULT_SECONDS, SERVER_DEFAULT_POST_RATE);
}

/* "ADDR:PORT" or "[V6]:PORT", port 0..65535. */
static int
parse_listen(const char *s, struct directory_options *o)
{
	char port[TOPOLOGY_PORT_BYTES];
	uint64_t v;

	/* Port 0 is ours to allow; the client-side splitter refuses it. */
	const char *colon = strrchr(s, ':');
	if (colon != NULL && strcmp(colon, ":0") == 0) {
		char tmp[TOPOLOGY_HOST_BYTES + 8];
		if (snprintf(tmp, sizeof(tmp), "%.*s:1", (int)(colon - s), s) >=
		    (int)sizeof(tmp))
			return -1;
		if (topology_split_host(tmp, o->host, sizeof(o->host), port,
		    sizeof(port)) == -1)
			return -1;
		o->port = 0;
		return 0;
	}
	if (topology_split_host(s, o->host, sizeof(o->host), port,
	    sizeof(port)) == -1)
		return -1;
	if (number_parse(port, 1, 65535, &v) == -1)
		return -1;
	o->port = (uint16_t)v;
	return 0;
}

static int
parse_seconds(const char *s, long min, long max, long *out)
{
	uint64_t v;

	if (min < 0 || number_parse(s, (uint64_t)min, (uint64_t)max, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}

enum { OPT_LISTEN = 1, OPT_STALE, OPT_EPOCH, OPT_ALLOW, OPT_POST_RATE, OPT_LOG_LEVEL,
    OPT_HELP, OPT_VERSION };

/* Returns 0 to run, 1 after --help/--version, -1 on a usage error. */
static int
parse_options(int argc, char **argv, struct directory_options *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "stale-seconds", required_argument, NULL, OPT_STALE },
		{ "epoch-seconds", required_argument, NULL, OPT_EPOCH },
		{ "allow", required_argument, NULL, OPT_ALLOW },
		{ "post-rate", required_argument, NULL, OPT_POST_RATE },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			if (parse_listen(optarg, o) == -1) {
				fprintf(stderr, "%s: --listen must be ADDR:PORT, not '%s'\n",
				    o->prog, optarg);
				return -1;
			}
			break;
		case OPT_STALE:
			if (parse_seconds(optarg, 1, DIRECTORY_MAX_STALE_SECONDS,
			    &o->stale_seconds) == -1) {
				fprintf(stderr, "%s: --stale-seconds must be a number "
				    "from 1 to %d\n", o->prog, DIRECTORY_MAX_STALE_SECONDS);
				return -1;
			}
			break;
		case OPT_EPOCH:
			if (parse_seconds(optarg, EPOCH_MIN_SECONDS,
			    EPOCH_MAX_SECONDS, &o->epoch_seconds) == -1) {
				fprintf(stderr, "%s: --epoch-seconds must be a number "
				    "from %u to %u\n", o->prog, EPOCH_MIN_SECONDS,
				    EPOCH_MAX_SECONDS);
				return -1;
			}
			break;
		case OPT_ALLOW:
			o->allow_file = optarg;
			break;
		case OPT_POST_RATE:
			if (parse_seconds(optarg, 0, 100000, &o->post_rate) == -1) {
				fprintf(stderr, "%s: --post-rate must be a number "
				    "from 0 to 100000\n", o->prog);
				return -1;
			}
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &o->level) == -1) {
				fprintf(stderr, "%s: unknown log level '%s'\n", o->prog,
				    optarg);
				return -1;
			}
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout, o->prog);
			return 1;
		case OPT_VERSION:
			printf("nym-directory (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 1;
		default:
			fprintf(stderr, "%s: unknown or incomplete option '%s'\n",
			    o->prog, argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", o->prog,
		    argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * The allow-list: one identity key (URL-safe base64, as in descriptors)
 * per line; blank lines and lines starting with '#' are ignored.
 */
static int
load_allow(const char *path, struct registry *r)
{
	uint8_t (*ids)[32] = NULL;
	size_t n = 0, lineno = 0;
	char line[256];
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		log_warn("--allow %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");
		uint8_t (*grown)[32];

		lineno++;
		line[len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if ((grown = reallocarray(ids, n + 1, sizeof(*ids))) == NULL) {
			log_warnx("out of memory");
			goto out;
		}
		ids = grown;
		if (len != B64_KEY_CHARS ||
		    b64_decode_key(ids[n], line, B64_URLSAFE) == -1) {
			log_warnx("--allow %s, line %zu: not an identity key "
			    "(44 characters of URL-safe base64)", path, lineno);
			goto out;
		}
		n++;
	}
	if (ferror(f)) {
		log_warn("--allow %s", path);
		goto out;
	}
	if (registry_allow(r, (const uint8_t (*)[32])ids, n) == -1) {
		log_warnx("out of memory");
		goto out;
	}
	log_info("admitting only the %zu identity keys of %s", n, path);
	rc = 0;
out:
	fclose(f);
	free(ids);
	return rc;
}

static const char *
kind_name(enum registry_kind kind)
{
	switch (kind) {
	case REGISTRY_MIXNODE:	return "mixnode";
	case REGISTRY_PROVIDER:	return "provider";
	case REGISTRY_METRIC:	return "metrics of mixnode";
	}
	return "entry";
}

static void
on_gone(enum registry_kind kind, const uint8_t pub[32], void *arg)
{
	char id[B64_KEY_CHARS + 1];

	b64_encode(id, pub, 32, B64_URLSAFE);
	if (kind == REGISTRY_METRIC)
		log_debug("%s %s expired", kind_name(kind), id);
	else
		log_info("%s %s went stale", kind_name(kind), id);
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct directory *d = arg;
	struct registry_now now;

	server_now(&now);
	registry_sweep(d->registry, now.mono_ns, on_gone, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct directory *d = arg;

	log_info("stopping on signal %d", (int)sig);
	event_base_loopbreak(d->base);
}

static void
directory_free(struct directory *d)
{
	if (d->sweep != NULL)
		event_free(d->sweep);
	if (d->sigterm != NULL)
		event_free(d->sigterm);
	if (d->sigint != NULL)
		event_free(d->sigint);
	server_free(d->server);
	registry_free(d->registry);
	if (d->base != NULL)
		event_base_free(d->base);
}

static int
directory_run(const struct directory_options *o)
{
	struct timeval sweep_tv = { DIRECTORY_SWEEP_SECONDS, 0 };
	struct directory d;
	char err[256];
	int rc = DIRECTORY_EXIT_FAILURE;
	int sandboxed = 0;

	memset(&d, 0, sizeof(d));
	/* A client that hangs up mid-reply must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	if ((d.base = event_base_new()) == NULL) {
		log_warnx("cannot create the event loop");
		goto out;
	}
	d.registry = registry_new((int64_t)o->stale_seconds * 1000000000,
	    (uint32_t)o->epoch_seconds);
	if (d.registry == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	if (o->allow_file != NULL && load_allow(o->allow_file, d.registry) == -1)
		goto out;
	d.server = server_new(d.base, d.registry, o->host, o->port,
	    (uint32_t)o->post_rate, err, sizeof(err));
	if (d.server == NULL) {
		log_warnx("%s", err);
		goto out;
	}
	d.sweep = event_new(d.base, -1, EV_PERSIST, on_sweep, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (d.sweep == NULL || d.sigterm == NULL || d.sigint == NULL ||
	    event_add(d.sweep, &sweep_tv) == -1 ||
	    event_add(d.sigterm, NULL) == -1 || event_add(d.sigint, NULL) == -1) {
		log_warnx("cannot set up timers and signals");
		goto out;
	}
	log_info("listening on %s%s%s:%u, stale after %ld s, %ld s key epochs",
	    strchr(o->host, ':') ? "[" : "", o->host,
	    strchr(o->host, ':') ? "]" : "", (unsigned)server_port(d.server),
	    o->stale_seconds, o->epoch_seconds);
	/* The allow-list is read and the port bound: the first request
	 * comes from the loop. */
	if (directory_sandbox() == -1)
		goto out;
	sandboxed = 1;
	if (event_base_dispatch(d.base) == -1) {
		log_warnx("event loop failed");
		goto out;
	}
	rc = 0;
out:
	directory_free(&d);
	/* Once sandboxed, _exit: atexit handlers (LeakSanitizer's in the
	 * sanitizer build) need files, which the sandbox forbids; it would
	 * hang at exit instead of stopping. */
	if (sandboxed) {
		fflush(NULL);
		_exit(rc);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct directory_options o;
	const char *slash;
	int rc;

	memset(&o, 0, sizeof(o));
	slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	o.prog = slash ? slash + 1 : argc > 0 ? argv[0] : "nym-directory";
	if (strncmp(o.prog, "lt-", 3) == 0)
		o.prog += 3;
	o.stale_seconds = DIRECTORY_DEFAULT_STALE_SECONDS;
	o.post_rate = SERVER_DEFAULT_POST_RATE;
	o.epoch_seconds = EPOCH_DEFAULT_SECONDS;
	o.level = LOG_LEVEL_INFO;
	if (parse_listen(DIRECTORY_DEFAULT_LISTEN, &o) == -1)
		return DIRECTORY_EXIT_FAILURE;

	rc = parse_options(argc, argv, &o);
	if (rc == 1)
		return 0;
	if (rc == -1) {
		fprintf(stderr, "Try '%s --help'.\n", o.prog);
		return DIRECTORY_EXIT_USAGE;
	}
	log_init("directory", o.level);
	return directory_run(&o);
}

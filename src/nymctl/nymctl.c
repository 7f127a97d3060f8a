/*
 * nymctl [--id ID [--home DIR] [--start] | --socket PATH | --tcp HOST:PORT]
 *     COMMAND [ARGS]: the global options say which nymd to talk to, the
 *     command what to ask it (nymctl(1)).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/number.h"
#include "nymctl/nymctl.h"

#define NYMCTL_DEFAULT_TIMEOUT_MS	30000
#define NYMCTL_MAX_TIMEOUT_MS		3600000UL

static const struct {
	const char	*name;
	int		(*run)(struct nymctl *, int, char **);
} commands[] = {
	{ "send",	cmd_send },
	{ "fetch",	cmd_fetch },
	{ "clients",	cmd_clients },
	{ "details",	cmd_details },
	{ "watch",	cmd_watch },
	{ "reply",	cmd_reply },
	{ "status",	cmd_status },
};

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
	    "usage: %s [--id ID [--home DIR] [--start] | --socket PATH | --tcp HOST:PORT]\n"
	    "              [--timeout MS] COMMAND [ARGS]\n"
	    "\n"
	    "Commands:\n"
	    "    send [--reply-surbs N] --to RECIPIENT (MESSAGE | -)\n"
	    "                                        send a message to a client id, with\n"
	    "                                        N reply blocks (at most %d); print\n"
	    "                                        its message id\n"
	    "    fetch [--json | --tags]             print and remove received messages\n"
	    "    reply --tag TAG (MESSAGE | -)       answer a message through its reply blocks\n"
	    "    clients                             list the registered clients\n"
	    "    details                             print our id and provider\n"
	    "    watch [--interval MS] [--json]      print messages as they arrive\n"
	    "    status ID                           print the delivery state of a message\n"
	    "                                        sent (ID as send printed it)\n"
	    "    status --watch [ID]                 print each change of state, until\n"
	    "                                        interrupted, or until message ID ends\n"
	    "\n"
	    "Options:\n"
	    "    --id ID           the nymd of client ID, on ROOT/clients/ID/nymd.sock\n"
	    "    --home DIR        ROOT for --id (default $NYMD_HOME, else ~/.loopix)\n"
	    "    --start           with --id: start nymd run --id ID if it is not running\n"
	    "    --socket PATH     the nymd listening on this unix socket\n"
	    "    --tcp HOST:PORT   the nymd listening on this TCP address\n"
	    "    --timeout MS      wait at most MS for each answer (default %d, 0: forever)\n"
	    "    -h, --help        this help\n"
	    "    --version         the version\n"
	    "\n"
	    "Exit status: 0 success, 1 the operation failed, 2 usage error,\n"
	    "3 cannot connect to nymd.\n", prog, NYM_MAX_REPLY_SURBS, NYMCTL_DEFAULT_TIMEOUT_MS);
}

int
nymctl_usage_error(struct nymctl *ctl, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s%s", ctl->prog, cmd != NULL ? cmd : "", cmd != NULL ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", ctl->prog);
	return NYMCTL_EXIT_USAGE;
}

int
nymctl_fail(struct nymctl *ctl, const char *cmd, int rc)
{
	if (rc == NYM_ERR_REMOTE)
		fprintf(stderr, "%s: %s: error from nymd: %s\n", ctl->prog, cmd,
		    nym_last_error(ctl->c));
	else
		fprintf(stderr, "%s: %s: %s\n", ctl->prog, cmd, nym_last_error(ctl->c));
	return NYMCTL_EXIT_FAIL;
}

int
nymctl_number(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (number_parse(s, min, max, &v) == -1)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

/* HOST:PORT or [HOST]:PORT into host (size bytes) and port. */
static int
nymctl_split_tcp(const char *arg, char *host, size_t size, const char **port)
{
	const char *colon, *h = arg;
	size_t len;
	unsigned long p;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = arg + 1;
		len = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(arg, ':')) == NULL)
			return -1;
		len = (size_t)(colon - arg);
	}
	if (len == 0 || len >= size || nymctl_number(colon + 1, 1, 65535, &p) != 0)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	*port = colon + 1;
	return 0;
}

void
nymctl_connect(struct nymctl *ctl)
{
	char path[PATH_MAX], host[256];
	const char *port;
	int rc;

	if (ctl->socket_path != NULL)
		rc = nym_connect_unix(&ctl->c, ctl->socket_path);
	else if (ctl->tcp != NULL) {
		/* Checked when parsed. */
		nymctl_split_tcp(ctl->tcp, host, sizeof(host), &port);
		rc = nym_connect_tcp(&ctl->c, host, port);
	} else if (ctl->start)
		rc = nym_client_start(&ctl->c, ctl->id, ctl->home);
	else if ((rc = nym_default_socket_path(path, sizeof(path), ctl->id, ctl->home)) == 0)
		rc = nym_connect_unix(&ctl->c, path);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot connect to nymd: %s\n", ctl->prog, nym_last_error(NULL));
		if (ctl->id != NULL && !ctl->start && rc == NYM_ERR_CONNECT)
			fprintf(stderr, "%s: is 'nymd run --id %s' running? --start starts it\n",
			    ctl->prog, ctl->id);
		exit(NYMCTL_EXIT_CONNECT);
	}
	if (ctl->timeout_ms > 0 && (rc = nym_set_timeout(ctl->c, ctl->timeout_ms)) != 0)
		exit(nymctl_fail(ctl, "connect", rc));
}

enum {
	OPT_ID = 1, OPT_HOME, OPT_START, OPT_SOCKET, OPT_TCP, OPT_TIMEOUT, OPT_HELP,
	OPT_VERSION,
};

static int
parse_global(struct nymctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "home", required_argument, NULL, OPT_HOME },
		{ "start", no_argument, NULL, OPT_START },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "tcp", required_argument, NULL, OPT_TCP },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	char host[256], path[PATH_MAX];
	const char *port;
	unsigned long v;
	int c;

	opterr = 0;
	/* '+': the options after the command are the command's. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ID:		ctl->id = optarg; break;
		case OPT_HOME:		ctl->home = optarg; break;
		case OPT_START:		ctl->start = 1; break;
		case OPT_SOCKET:	ctl->socket_path = optarg; break;
		case OPT_TCP:		ctl->tcp = optarg; break;
		case OPT_TIMEOUT:
			if (nymctl_number(optarg, 0, NYMCTL_MAX_TIMEOUT_MS, &v) != 0)
				return nymctl_usage_error(ctl, NULL,
				    "--timeout must be a number of milliseconds up to %lu",
				    NYMCTL_MAX_TIMEOUT_MS);
			ctl->timeout_ms = (unsigned int)v;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout, ctl->prog);
			exit(NYMCTL_EXIT_OK);
		case OPT_VERSION:
			printf("nymctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(NYMCTL_EXIT_OK);
		default:
			return nymctl_usage_error(ctl, NULL, "unknown or incomplete option '%s'",
			    argv[optind - 1]);
		}
	}
	if ((ctl->id != NULL) + (ctl->socket_path != NULL) + (ctl->tcp != NULL) != 1)
		return nymctl_usage_error(ctl, NULL,
		    "say which nymd to use: exactly one of --id, --socket and --tcp");
	if (ctl->id == NULL && (ctl->home != NULL || ctl->start))
		return nymctl_usage_error(ctl, NULL, "--home and --start go with --id");
	if (ctl->id != NULL &&
	    nym_default_socket_path(path, sizeof(path), ctl->id, ctl->home) != 0)
		return nymctl_usage_error(ctl, NULL, "'%s' is not a client id, or the path of "
		    "its socket is too long", ctl->id);
	if (ctl->tcp != NULL && nymctl_split_tcp(ctl->tcp, host, sizeof(host), &port) != 0)
		return nymctl_usage_error(ctl, NULL, "--tcp wants HOST:PORT, not '%s'", ctl->tcp);
	if (ctl->socket_path != NULL && ctl->socket_path[0] == '\0')
		return nymctl_usage_error(ctl, NULL, "--socket wants a path");
	return 0;
}

int
main(int argc, char **argv)
{
	struct nymctl ctl = { .timeout_ms = NYMCTL_DEFAULT_TIMEOUT_MS };
	const char *slash;
	int rc;

	ctl.prog = argc > 0 && argv[0] != NULL ? argv[0] : "nymctl";
	if ((slash = strrchr(ctl.prog, '/')) != NULL)
		ctl.prog = slash + 1;
	if (strncmp(ctl.prog, "lt-", 3) == 0)
		ctl.prog += 3;
	/* A closed stdout is a write error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr, ctl.prog);
		return NYMCTL_EXIT_USAGE;
	}

	if ((rc = parse_global(&ctl, argc, argv)) != 0)
		return rc;
	if (optind >= argc)
		return nymctl_usage_error(&ctl, NULL, "no command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		rc = commands[i].run(&ctl, argc - optind, argv + optind);
		nym_close(ctl.c);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			fprintf(stderr, "%s: standard output: %s\n", ctl.prog, strerror(errno));
			if (rc == NYMCTL_EXIT_OK)
				rc = NYMCTL_EXIT_FAIL;
		}
		return rc;
	}
	return nymctl_usage_error(&ctl, NULL, "unknown command '%s'", argv[optind]);
}
